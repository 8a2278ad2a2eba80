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
struct Tile {
    y: u64,
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

    let (tx, rx) = mpsc::sync_channel::<Tile>(1);
    let path = out.to_path_buf();
    let stitcher = std::thread::Builder::new()
        .name("bevara-stitch".into())
        .spawn(move || stitch(rx, &path, width, total))
        .map_err(|e| ScreenshotError::Write {
            path: out.to_path_buf(),
            reason: e.to_string(),
        })?;

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
            let params = CaptureScreenshotParams::builder()
                .format(CaptureScreenshotFormat::Png)
                .clip(Clip {
                    x: 0.0,
                    y: y as f64,
                    width: width as f64,
                    height: h as f64,
                    scale: 1.0,
                })
                .capture_beyond_viewport(true)
                .from_surface(true)
                .optimize_for_speed(true)
                .build();
            let t = Instant::now();
            let shot = page
                .execute(params)
                .await
                .map_err(|source| crate::browser::cdp_error("Page.captureScreenshot", source))?;
            stats.chromium_ms += t.elapsed().as_millis() as u64;
            stats.tiles += 1;
            let base64: String = AsRef::<str>::as_ref(&shot.result.data).to_string();
            drop(shot);
            if tx
                .send(Tile {
                    y,
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
    let stitched = tokio::task::spawn_blocking(move || stitcher.join())
        .await
        .ok()
        .and_then(Result::ok);
    match captured {
        Err(_) => return Err(ScreenshotError::Timeout(bound.as_secs())),
        Ok(Err(e)) => return Err(e),
        Ok(Ok(())) => {}
    }
    stats.stitch_ms = match stitched {
        Some(Ok(ms)) => ms,
        Some(Err(e)) => return Err(e),
        None => {
            return Err(ScreenshotError::Write {
                path: out.to_path_buf(),
                reason: "the stitching thread panicked".into(),
            })
        }
    };
    restore?;
    stats.total_ms = started.elapsed().as_millis() as u64;
    Ok(stats)
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
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(tile.base64.as_bytes())
            .map_err(|e| derr(e.to_string()))?;
        drop(tile.base64);
        let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
        let mut reader = decoder.read_info().map_err(|e| derr(e.to_string()))?;
        let info = reader.info();
        if info.width != width || info.height != tile.height {
            return Err(ScreenshotError::TileSize {
                y,
                got_w: info.width,
                got_h: info.height,
                want_w: width,
                want_h: tile.height,
            });
        }
        let (color, _) = reader.output_color_type();
        let channels = match color {
            png::ColorType::Rgb => 3,
            png::ColorType::Rgba => 4,
            png::ColorType::Grayscale => 1,
            png::ColorType::GrayscaleAlpha => 2,
            png::ColorType::Indexed => return Err(derr("indexed colour after expansion".into())),
        };
        while let Some(row) = reader.next_row().map_err(|e| derr(e.to_string()))? {
            let data = row.data();
            match channels {
                3 => {
                    let n = rgb.len();
                    rgb.copy_from_slice(&data[..n])
                }
                _ => {
                    for (x, px) in rgb.chunks_exact_mut(3).enumerate() {
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
