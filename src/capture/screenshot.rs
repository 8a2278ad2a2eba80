//! Full-page screenshots of any height.
//!
//! Chromium's one-shot full-page screenshot comes out blank below about
//! 86,000 px, so the page is captured as clipped tiles
//! (`captureBeyondViewport`) and stitched into one PNG. Fixed and sticky
//! elements are hidden after the first tile so headers do not repeat. Memory
//! stays bounded: each tile is decoded row by row straight into a streaming
//! PNG encoder on its own thread, while Chromium renders the next tile.

use crate::browser::{eval, BrowserError};
use base64::Engine as _;
use chromiumoxide::cdp::browser_protocol::page::{
    CaptureScreenshotFormat, CaptureScreenshotParams, Viewport as Clip,
};
use chromiumoxide::Page;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Why the screenshot failed.
#[derive(Debug, thiserror::Error)]
pub enum ScreenshotError {
    #[error(transparent)]
    Browser(#[from] BrowserError),
    #[error("tile at y={y} is {got_w}×{got_h} px, expected {want_w}×{want_h}")]
    TileSize {
        y: u64,
        got_w: u32,
        got_h: u32,
        want_w: u32,
        want_h: u32,
    },
    #[error("cannot decode the tile at y={y}: {reason}")]
    Decode { y: u64, reason: String },
    #[error("cannot write {path}: {reason}")]
    Write { path: PathBuf, reason: String },
    #[error("the screenshot took longer than {0} s")]
    Timeout(u64),
}

/// The stitched image and how long each side took.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct ScreenshotStats {
    pub width: u32,
    pub height: u32,
    pub tiles: u32,
    /// Time waiting for Chromium to render and send tiles.
    pub chromium_ms: u64,
    /// Time spent decoding tiles and encoding the PNG (on its own thread).
    pub stitch_ms: u64,
    pub total_ms: u64,
    /// Fixed or sticky elements hidden after the first tile.
    pub hidden_fixed: u32,
}

/// What the stitcher thread receives: one tile's base64 PNG and its place.
/// A tile narrower than the image is placed at `x` on white; an empty one
/// is white rows.
struct Tile {
    x: u32,
    y: u64,
    width: u32,
    height: u32,
    base64: String,
}

/// How tiles are taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tiling {
    /// Clipped tiles of `tile_height` with `captureBeyondViewport`, the page
    /// left at the top: fast, for pages that keep their content in the DOM.
    Clip,
    /// The page scrolled to each viewport-high tile before it is taken: for
    /// virtualized feeds, which render only what is near the viewport.
    Scroll { viewport_height: u32 },
}

/// Takes a full-page screenshot of `height` CSS px (the page at device scale 1)
/// into a PNG file at `out`.
pub async fn full_page(
    page: &Page,
    out: &Path,
    width: u32,
    height: u64,
    tile_height: u32,
    bound: Duration,
) -> Result<ScreenshotStats, ScreenshotError> {
    full_page_with(page, out, width, height, tile_height, Tiling::Clip, bound).await
}

/// [`full_page`] with a choice of [`Tiling`].
pub async fn full_page_with(
    page: &Page,
    out: &Path,
    width: u32,
    height: u64,
    tile_height: u32,
    tiling: Tiling,
    bound: Duration,
) -> Result<ScreenshotStats, ScreenshotError> {
    let tile_height = match tiling {
        Tiling::Clip => tile_height,
        Tiling::Scroll { viewport_height } => viewport_height.max(100),
    };
    let started = Instant::now();
    let height = height.max(1);
    let total = u32::try_from(height).unwrap_or(u32::MAX);
    let call = Duration::from_secs(30);
    let _: String = eval(page, crate::behaviour::KIT_JS, call).await?;
    let _: serde_json::Value = eval(page, "window.scrollTo(0, 0), __bevara.state()", call).await?;

    let (tx, stitcher) = spawn_stitcher(out, width, total)?;

    let mut stats = ScreenshotStats {
        width,
        height: total,
        ..Default::default()
    };
    let capture = async {
        let mut y = 0u64;
        while y < height {
            let h = (height - y).min(tile_height as u64) as u32;
            if let Tiling::Scroll { .. } = tiling {
                // Bring the tile into the viewport and let the feed render it.
                let _: serde_json::Value = eval(
                    page,
                    &format!("window.scrollTo(0, {y}), __bevara.settle(__bevara.mutations, 150, 1500, false)"),
                    call,
                )
                .await?;
            }
            let t = Instant::now();
            let base64 = grab(page, 0.0, y as f64, width, h, true).await?;
            stats.chromium_ms += t.elapsed().as_millis() as u64;
            stats.tiles += 1;
            if tx
                .send(Tile {
                    x: 0,
                    y,
                    width,
                    height: h,
                    base64,
                })
                .is_err()
            {
                break; // the stitcher failed; its error is reported below
            }
            if y == 0 {
                stats.hidden_fixed = eval(page, "__bevara.hideFixed()", call).await?;
            }
            y += h as u64;
        }
        Ok::<(), ScreenshotError>(())
    };
    let captured = tokio::time::timeout(bound, capture).await;
    drop(tx);
    let restore: Result<serde_json::Value, _> = eval(page, "__bevara.restoreFixed()", call).await;
    stats.stitch_ms = join_stitcher(captured, stitcher, out, bound).await?;
    restore?;
    stats.total_ms = started.elapsed().as_millis() as u64;
    Ok(stats)
}

#[derive(serde::Deserialize)]
struct RootView {
    scrolls: bool,
    x: f64,
    y: f64,
    width: f64,
    height: f64,
    scroll_height: f64,
    scroll_x: f64,
    scroll_y: f64,
}

/// One clipped screenshot in document coordinates, as base64 PNG; beyond
/// the viewport, or of what the viewport shows.
async fn grab(
    page: &Page,
    x: f64,
    y: f64,
    w: u32,
    h: u32,
    beyond_viewport: bool,
) -> Result<String, ScreenshotError> {
    let params = CaptureScreenshotParams::builder()
        .format(CaptureScreenshotFormat::Png)
        .clip(Clip {
            x,
            y,
            width: w as f64,
            height: h as f64,
            scale: 1.0,
        })
        .capture_beyond_viewport(beyond_viewport)
        .from_surface(true)
        .optimize_for_speed(true)
        .build();
    let shot = page
        .execute(params)
        .await
        .map_err(|source| crate::browser::cdp_error("Page.captureScreenshot", source))?;
    Ok(AsRef::<str>::as_ref(&shot.result.data).to_string())
}

/// A screenshot of the open post dialog: the viewport as it shows the
/// dialog, then the rest of the dialog's own scroller, scrolled a view at a
/// time, each part placed where the scroller sits, so its column continues
/// below the first view. The image is `width` wide and at most `max_height`.
pub async fn dialog(
    page: &Page,
    out: &Path,
    width: u32,
    viewport_height: u32,
    max_height: u64,
    bound: Duration,
) -> Result<ScreenshotStats, ScreenshotError> {
    let started = Instant::now();
    let call = Duration::from_secs(30);
    // Settled, then two frames painted: a screenshot right after a scroll
    // can otherwise show the scroller where it was before.
    let settle = "__bevara.settle(__bevara.mutations, 150, 1000, false)\
        .then(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))))";
    let v: RootView = eval(
        page,
        &format!("(__bevara.rootScrollTo(0), {settle}).then(() => __bevara.rootView())"),
        call,
    )
    .await?;
    let vh = viewport_height.max(1);
    let rest = if v.scrolls && v.height >= 1.0 {
        (v.scroll_height - v.height).max(0.0) as u64
    } else {
        0
    };
    let total = (vh as u64 + rest).min(max_height.max(vh as u64));
    let total = u32::try_from(total).unwrap_or(u32::MAX);
    let (tx, stitcher) = spawn_stitcher(out, width, total)?;
    let mut stats = ScreenshotStats {
        width,
        height: total,
        ..Default::default()
    };
    let capture = async {
        let t = Instant::now();
        let first = grab(page, v.scroll_x, v.scroll_y, width, vh, false).await?;
        stats.chromium_ms += t.elapsed().as_millis() as u64;
        stats.tiles += 1;
        let mut sent = tx.send(Tile {
            x: 0,
            y: 0,
            width,
            height: vh,
            base64: first,
        });
        let view_h = v.height.floor() as u64;
        let col_x = (v.x - v.scroll_x).max(0.0) as u32;
        let col_w = (v.width.floor() as u32)
            .min(width.saturating_sub(col_x))
            .max(1);
        let mut covered = view_h;
        let mut out_y = vh as u64;
        while sent.is_ok() && out_y < total as u64 {
            let actual: f64 = eval(
                page,
                &format!("(__bevara.rootScrollTo({covered}), {settle}).then(() => __bevara.rootScrollTo({covered}))"),
                call,
            )
            .await?;
            let actual = actual.max(0.0) as u64;
            let shown_to = (actual + view_h).min(v.scroll_height as u64);
            let rows = shown_to.saturating_sub(covered).min(total as u64 - out_y) as u32;
            if rows == 0 || actual > covered {
                // The scroller shrank or would not move: the rest stays white.
                let _ = tx.send(Tile {
                    x: 0,
                    y: out_y,
                    width,
                    height: (total as u64 - out_y) as u32,
                    base64: String::new(),
                });
                break;
            }
            let t = Instant::now();
            let base64 = grab(
                page,
                v.x,
                v.y + (covered - actual) as f64,
                col_w,
                rows,
                false,
            )
            .await?;
            stats.chromium_ms += t.elapsed().as_millis() as u64;
            stats.tiles += 1;
            sent = tx.send(Tile {
                x: col_x,
                y: out_y,
                width: col_w,
                height: rows,
                base64,
            });
            covered += rows as u64;
            out_y += rows as u64;
        }
        Ok::<(), ScreenshotError>(())
    };
    let captured = tokio::time::timeout(bound, capture).await;
    drop(tx);
    let _: Result<serde_json::Value, _> = eval(page, "__bevara.rootScrollTo(0)", call).await;
    stats.stitch_ms = join_stitcher(captured, stitcher, out, bound).await?;
    stats.total_ms = started.elapsed().as_millis() as u64;
    Ok(stats)
}

type Stitcher = std::thread::JoinHandle<Result<u64, ScreenshotError>>;

/// Starts the stitching thread for a `width`×`height` PNG at `out`.
fn spawn_stitcher(
    out: &Path,
    width: u32,
    height: u32,
) -> Result<(mpsc::SyncSender<Tile>, Stitcher), ScreenshotError> {
    let (tx, rx) = mpsc::sync_channel::<Tile>(1);
    let path = out.to_path_buf();
    let stitcher = std::thread::Builder::new()
        .name("bevara-stitch".into())
        .spawn(move || stitch(rx, &path, width, height))
        .map_err(|e| ScreenshotError::Write {
            path: out.to_path_buf(),
            reason: e.to_string(),
        })?;
    Ok((tx, stitcher))
}

/// Waits for the stitcher once the tiles are sent (or the capture failed or
/// ran out of time); returns its working milliseconds.
async fn join_stitcher(
    captured: Result<Result<(), ScreenshotError>, tokio::time::error::Elapsed>,
    stitcher: Stitcher,
    out: &Path,
    bound: Duration,
) -> Result<u64, ScreenshotError> {
    let stitched = tokio::task::spawn_blocking(move || stitcher.join())
        .await
        .ok()
        .and_then(Result::ok);
    match captured {
        Err(_) => return Err(ScreenshotError::Timeout(bound.as_secs())),
        Ok(Err(e)) => return Err(e),
        Ok(Ok(())) => {}
    }
    match stitched {
        Some(r) => r,
        None => Err(ScreenshotError::Write {
            path: out.to_path_buf(),
            reason: "the stitching thread panicked".into(),
        }),
    }
}

/// Receives tiles in order and streams their rows into one RGB PNG.
/// Returns the milliseconds spent working (not waiting).
fn stitch(
    rx: mpsc::Receiver<Tile>,
    path: &Path,
    width: u32,
    height: u32,
) -> Result<u64, ScreenshotError> {
    let werr = |reason: String| ScreenshotError::Write {
        path: path.to_path_buf(),
        reason,
    };
    let file = std::fs::File::create(path).map_err(|e| werr(e.to_string()))?;
    let mut encoder = png::Encoder::new(BufWriter::with_capacity(1 << 20, file), width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Fast);
    let mut writer = encoder.write_header().map_err(|e| werr(e.to_string()))?;
    let mut stream = writer
        .stream_writer_with_size(1 << 20)
        .map_err(|e| werr(e.to_string()))?;
    let mut busy = Duration::ZERO;
    let mut written: u64 = 0;
    let mut rgb = vec![0u8; width as usize * 3];
    for tile in rx {
        let t = Instant::now();
        let y = tile.y;
        let derr = |reason: String| ScreenshotError::Decode { y, reason };
        if tile.base64.is_empty() {
            rgb.fill(255);
            for _ in 0..tile.height {
                stream.write_all(&rgb).map_err(|e| werr(e.to_string()))?;
                written += 1;
            }
            continue;
        }
        let x0 = tile.x.min(width) as usize * 3;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(tile.base64.as_bytes())
            .map_err(|e| derr(e.to_string()))?;
        drop(tile.base64);
        let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
        let mut reader = decoder.read_info().map_err(|e| derr(e.to_string()))?;
        let info = reader.info();
        // A full-width tile must be exactly what was asked for. A part of
        // the page placed on white (a dialog's scroller) may be a pixel off
        // where its box has fractional edges: it is cut or padded to size.
        let partial = tile.width < width;
        if !partial && (info.width != tile.width || info.height != tile.height) {
            return Err(ScreenshotError::TileSize {
                y,
                got_w: info.width,
                got_h: info.height,
                want_w: tile.width,
                want_h: tile.height,
            });
        }
        if partial {
            rgb.fill(255);
        }
        let span = (info.width.min(tile.width).min(width - tile.x.min(width)) as usize) * 3;
        let mut rows = 0u32;
        let (color, _) = reader.output_color_type();
        let channels = match color {
            png::ColorType::Rgb => 3,
            png::ColorType::Rgba => 4,
            png::ColorType::Grayscale => 1,
            png::ColorType::GrayscaleAlpha => 2,
            png::ColorType::Indexed => return Err(derr("indexed colour after expansion".into())),
        };
        while let Some(row) = reader.next_row().map_err(|e| derr(e.to_string()))? {
            if rows == tile.height {
                break;
            }
            rows += 1;
            let data = row.data();
            let out = &mut rgb[x0..x0 + span];
            match channels {
                3 => out.copy_from_slice(&data[..span]),
                _ => {
                    for (x, px) in out.chunks_exact_mut(3).enumerate() {
                        let s = &data[x * channels..];
                        if channels >= 3 {
                            px.copy_from_slice(&s[..3]);
                        } else {
                            px.fill(s[0]);
                        }
                    }
                }
            }
            stream.write_all(&rgb).map_err(|e| werr(e.to_string()))?;
            written += 1;
        }
        rgb.fill(255);
        for _ in rows..tile.height {
            stream.write_all(&rgb).map_err(|e| werr(e.to_string()))?;
            written += 1;
        }
        busy += t.elapsed();
    }
    if written != height as u64 {
        return Err(werr(format!(
            "only {written} of {height} rows were captured"
        )));
    }
    let t = Instant::now();
    stream.finish().map_err(|e| werr(e.to_string()))?;
    writer.finish().map_err(|e| werr(e.to_string()))?;
    busy += t.elapsed();
    Ok(busy.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A base64 PNG of `w`×`h` filled with one colour.
    fn tile_png(w: u32, h: u32, rgb: [u8; 3]) -> String {
        let mut out = Vec::new();
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut wr = enc.write_header().unwrap();
        let data: Vec<u8> = (0..w * h).flat_map(|_| rgb).collect();
        wr.write_image_data(&data).unwrap();
        wr.finish().unwrap();
        base64::engine::general_purpose::STANDARD.encode(out)
    }

    #[test]
    fn partial_tiles_are_placed_on_white_and_padded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.png");
        let (tx, rx) = mpsc::sync_channel::<Tile>(4);
        let p = path.clone();
        let t = std::thread::spawn(move || stitch(rx, &p, 40, 30));
        let red = [200, 0, 0];
        let blue = [0, 0, 200];
        // A full-width first view, a column part at x=10 that came out one
        // row short, and white rows for the rest.
        tx.send(Tile {
            x: 0,
            y: 0,
            width: 40,
            height: 10,
            base64: tile_png(40, 10, red),
        })
        .unwrap();
        tx.send(Tile {
            x: 10,
            y: 10,
            width: 20,
            height: 12,
            base64: tile_png(20, 11, blue),
        })
        .unwrap();
        tx.send(Tile {
            x: 0,
            y: 22,
            width: 40,
            height: 8,
            base64: String::new(),
        })
        .unwrap();
        drop(tx);
        t.join().unwrap().unwrap();
        let img = image::open(&path).unwrap().to_rgb8();
        assert_eq!(img.dimensions(), (40, 30));
        let px = |x, y| img.get_pixel(x, y).0;
        assert_eq!(px(0, 0), red);
        assert_eq!(px(39, 9), red);
        assert_eq!(px(9, 15), [255; 3], "left of the column is white");
        assert_eq!(px(10, 15), blue);
        assert_eq!(px(29, 20), blue);
        assert_eq!(px(30, 15), [255; 3], "right of the column is white");
        assert_eq!(px(15, 21), [255; 3], "the missing row is padded white");
        assert_eq!(px(20, 29), [255; 3]);
    }

    #[test]
    fn a_full_width_tile_of_the_wrong_size_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.png");
        let (tx, rx) = mpsc::sync_channel::<Tile>(2);
        let p = path.clone();
        let t = std::thread::spawn(move || stitch(rx, &p, 40, 10));
        tx.send(Tile {
            x: 0,
            y: 0,
            width: 40,
            height: 10,
            base64: tile_png(40, 9, [0; 3]),
        })
        .unwrap();
        drop(tx);
        assert!(matches!(
            t.join().unwrap(),
            Err(ScreenshotError::TileSize { .. })
        ));
    }
}
