//! Deep-zoom tiles of a stored screenshot, for the zoomable viewer.
//!
//! A screenshot may be 150,000 px tall; no browser shows that as one image.
//! On the first request for a screenshot's `.dzi`, its PNG is read row by
//! row once and every level of a Deep Zoom pyramid is cut from it (512 px
//! JPEG tiles, each level half the one above), so memory stays at one band
//! of 512 rows per level. The tiles are kept under `data_dir/tiles/`, made
//! once per snapshot (two requests at once wait for one build), and served
//! as files after that.
//!
//! The pyramid is built here because the crates that make Deep Zoom tiles
//! decode the whole image first, which a 150,000 px page does not allow.

use std::collections::HashMap;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

pub const TILE: u32 = 512;
const QUALITY: u8 = 85;

/// The tiles made so far, and the builds under way.
#[derive(Clone)]
pub struct Tiles {
    dir: PathBuf,
    building: Arc<Mutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>>,
}

/// A built pyramid's size.
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
pub struct Pyramid {
    pub width: u32,
    pub height: u32,
    /// The deepest level (full size); level 0 is one pixel.
    pub max_level: u32,
}

impl Pyramid {
    /// The Deep Zoom descriptor OpenSeadragon reads.
    pub fn dzi(&self) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Image xmlns=\"http://schemas.microsoft.com/deepzoom/2008\" Format=\"jpg\" Overlap=\"0\" TileSize=\"{TILE}\"><Size Width=\"{}\" Height=\"{}\"/></Image>\n",
            self.width, self.height
        )
    }
}

impl Tiles {
    pub fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            building: Arc::default(),
        }
    }

    /// Where the tiles of one screenshot go.
    pub fn dir_of(&self, snapshot: &str, artifact: &str) -> PathBuf {
        self.dir.join(snapshot).join(artifact)
    }

    /// The pyramid of `artifact` of `snapshot`, built from the object at
    /// `key` when it is not there yet.
    pub async fn ensure(
        &self,
        store: &dyn crate::store::ObjectStore,
        snapshot: &str,
        artifact: &str,
        key: &str,
    ) -> Result<Pyramid, String> {
        let dir = self.dir_of(snapshot, artifact);
        if let Some(p) = read_info(&dir) {
            return Ok(p);
        }
        let lock = {
            let mut map = self.building.lock().unwrap_or_else(|p| p.into_inner());
            map.entry(dir.clone()).or_default().clone()
        };
        let _guard = lock.lock().await;
        if let Some(p) = read_info(&dir) {
            return Ok(p);
        }
        std::fs::create_dir_all(&self.dir).map_err(|e| format!("{}: {e}", self.dir.display()))?;
        let work = tempfile::Builder::new()
            .prefix(".build-")
            .tempdir_in(&self.dir)
            .map_err(|e| format!("{}: {e}", self.dir.display()))?;
        let png = work.path().join("source.png");
        store
            .get_to_file(key, &png)
            .await
            .map_err(|e| format!("cannot read {key}: {e}"))?;
        let out = work.path().join("tiles");
        let started = std::time::Instant::now();
        let (png2, out2) = (png.clone(), out.clone());
        let pyramid = tokio::task::spawn_blocking(move || build(&png2, &out2))
            .await
            .map_err(|e| format!("tile build stopped: {e}"))??;
        tracing::info!(
            snapshot,
            artifact,
            width = pyramid.width,
            height = pyramid.height,
            ms = started.elapsed().as_millis() as u64,
            "deep-zoom tiles made"
        );
        if let Some(parent) = dir.parent() {
            std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
        }
        // Into place in one rename: a reader sees all of it or none.
        std::fs::rename(&out, &dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        self.building
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&dir);
        Ok(pyramid)
    }

    /// The file of one tile, if the pyramid is built and has it.
    pub fn tile(&self, snapshot: &str, artifact: &str, level: u32, tile: &str) -> Option<PathBuf> {
        let (c, r) = tile.strip_suffix(".jpg")?.split_once('_')?;
        let (c, r): (u32, u32) = (c.parse().ok()?, r.parse().ok()?);
        let p = self
            .dir_of(snapshot, artifact)
            .join(level.to_string())
            .join(format!("{c}_{r}.jpg"));
        p.is_file().then_some(p)
    }
}

fn read_info(dir: &Path) -> Option<Pyramid> {
    serde_json::from_slice(&std::fs::read(dir.join("pyramid.json")).ok()?).ok()
}

/// One level being cut: the rows of its current band, and the row waiting
/// for its pair to make a row of the level below.
struct Level {
    level: u32,
    width: u32,
    band: Vec<u8>,
    band_rows: u32,
    tile_row: u32,
    pending: Option<Vec<u8>>,
}

/// Reads `png` row by row and writes every level's tiles under `out`.
pub fn build(png: &Path, out: &Path) -> Result<Pyramid, String> {
    let file = std::fs::File::open(png).map_err(|e| format!("{}: {e}", png.display()))?;
    let mut decoder = png::Decoder::new(BufReader::with_capacity(1 << 20, file));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    decoder.set_ignore_text_chunk(true);
    // A stitched page is one long image; the default limit is for photos.
    decoder.set_limits(png::Limits { bytes: usize::MAX });
    let mut reader = decoder.read_info().map_err(|e| format!("not a PNG: {e}"))?;
    let (width, height) = (reader.info().width, reader.info().height);
    let channels = match reader.output_color_type().0 {
        png::ColorType::Grayscale => 1,
        png::ColorType::GrayscaleAlpha => 2,
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        png::ColorType::Indexed => return Err("an indexed PNG that was not expanded".into()),
    };
    let max_level = 32 - (width.max(height).max(1) - 1).leading_zeros();
    let mut levels: Vec<Level> = (0..=max_level)
        .rev()
        .map(|l| Level {
            level: l,
            width: width.div_ceil(1 << (max_level - l)).max(1),
            band: Vec::new(),
            band_rows: 0,
            tile_row: 0,
            pending: None,
        })
        .collect();
    for l in &levels {
        std::fs::create_dir_all(out.join(l.level.to_string())).map_err(|e| e.to_string())?;
    }
    let mut rgb = vec![0u8; width as usize * 3];
    while let Some(row) = reader
        .next_row()
        .map_err(|e| format!("the PNG is damaged: {e}"))?
    {
        let data = row.data();
        for x in 0..width as usize {
            let px = &data[x * channels..x * channels + channels];
            let (r, g, b) = match channels {
                1 | 2 => (px[0], px[0], px[0]),
                _ => (px[0], px[1], px[2]),
            };
            rgb[x * 3..x * 3 + 3].copy_from_slice(&[r, g, b]);
        }
        push_row(&mut levels, 0, rgb.clone(), out)?;
    }
    // The last odd row of each level makes a row below on its own, then
    // what is left of each band is cut.
    for i in 0..levels.len() {
        if let Some(row) = levels[i].pending.take() {
            if i + 1 < levels.len() {
                let half = halve(&row, &row, levels[i].width, levels[i + 1].width);
                push_row(&mut levels, i + 1, half, out)?;
            }
        }
        flush(&mut levels[i], out)?;
    }
    let p = Pyramid {
        width,
        height,
        max_level,
    };
    std::fs::write(
        out.join("pyramid.json"),
        serde_json::to_vec(&p).unwrap_or_default(),
    )
    .map_err(|e| e.to_string())?;
    Ok(p)
}

fn push_row(levels: &mut [Level], i: usize, row: Vec<u8>, out: &Path) -> Result<(), String> {
    let lvl = &mut levels[i];
    lvl.band.extend_from_slice(&row);
    lvl.band_rows += 1;
    if lvl.band_rows == TILE {
        flush(lvl, out)?;
    }
    if i + 1 == levels.len() {
        return Ok(());
    }
    match levels[i].pending.take() {
        None => levels[i].pending = Some(row),
        Some(first) => {
            let half = halve(&first, &row, levels[i].width, levels[i + 1].width);
            push_row(levels, i + 1, half, out)?;
        }
    }
    Ok(())
}

/// One row of the level below from two rows of this one: each pixel the
/// mean of a 2×2 square (the last column alone when the width is odd).
fn halve(a: &[u8], b: &[u8], width: u32, half: u32) -> Vec<u8> {
    let mut out = vec![0u8; half as usize * 3];
    let w = width as usize;
    for x in 0..half as usize {
        let (x0, x1) = (2 * x, (2 * x + 1).min(w - 1));
        for c in 0..3 {
            let s = u32::from(a[x0 * 3 + c])
                + u32::from(a[x1 * 3 + c])
                + u32::from(b[x0 * 3 + c])
                + u32::from(b[x1 * 3 + c]);
            out[x * 3 + c] = ((s + 2) / 4) as u8;
        }
    }
    out
}

/// Cuts the band's rows into tiles of the band's tile row.
fn flush(lvl: &mut Level, out: &Path) -> Result<(), String> {
    if lvl.band_rows == 0 {
        return Ok(());
    }
    let (w, h) = (lvl.width, lvl.band_rows);
    let cols = w.div_ceil(TILE);
    let mut tile = Vec::with_capacity((TILE * TILE * 3) as usize);
    for col in 0..cols {
        let x0 = col * TILE;
        let tw = TILE.min(w - x0);
        tile.clear();
        for y in 0..h {
            let start = ((y * w + x0) * 3) as usize;
            tile.extend_from_slice(&lvl.band[start..start + (tw * 3) as usize]);
        }
        let path = out
            .join(lvl.level.to_string())
            .join(format!("{col}_{}.jpg", lvl.tile_row));
        let f = std::fs::File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut enc =
            image::codecs::jpeg::JpegEncoder::new_with_quality(BufWriter::new(f), QUALITY);
        enc.encode(&tile, tw, h, image::ExtendedColorType::Rgb8)
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    lvl.band.clear();
    lvl.band_rows = 0;
    lvl.tile_row += 1;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 1,300 × 1,100 PNG, red above row 600 and blue below, cut into a
    /// pyramid: the levels' sizes, the tiles' count, and the colours at
    /// full size and at the smallest level.
    #[test]
    fn a_pyramid_of_a_tall_png() {
        let dir = tempfile::tempdir().unwrap();
        let (w, h) = (1300u32, 1100u32);
        let png_path = dir.path().join("s.png");
        let mut enc = png::Encoder::new(std::fs::File::create(&png_path).unwrap(), w, h);
        enc.set_color(png::ColorType::Rgb);
        let mut wr = enc.write_header().unwrap();
        let mut data = Vec::new();
        for y in 0..h {
            for _ in 0..w {
                data.extend_from_slice(if y < 600 { &[200, 0, 0] } else { &[0, 0, 200] });
            }
        }
        wr.write_image_data(&data).unwrap();
        wr.finish().unwrap();
        let out = dir.path().join("t");
        let p = build(&png_path, &out).unwrap();
        assert_eq!((p.width, p.height, p.max_level), (1300, 1100, 11));
        // Full size: 3 × 3 tiles, the last column 276 px wide, the last row 76 px.
        let count = std::fs::read_dir(out.join("11")).unwrap().count();
        assert_eq!(count, 9);
        let last = image::open(out.join("11/2_2.jpg")).unwrap().to_rgb8();
        assert_eq!(last.dimensions(), (276, 76));
        let px = last.get_pixel(10, 10).0;
        assert!(px[2] > 150 && px[0] < 50, "blue below row 600: {px:?}");
        let top = image::open(out.join("11/0_0.jpg")).unwrap().to_rgb8();
        let px = top.get_pixel(100, 100).0;
        assert!(px[0] > 150 && px[2] < 50, "red above: {px:?}");
        // Level 10 is 650 × 550; level 0 one pixel.
        let l10 = image::open(out.join("10/1_1.jpg")).unwrap().to_rgb8();
        assert_eq!(l10.dimensions(), (650 - 512, 550 - 512));
        assert_eq!(
            image::open(out.join("0/0_0.jpg"))
                .unwrap()
                .to_rgb8()
                .dimensions(),
            (1, 1)
        );
        assert!(p.dzi().contains("Width=\"1300\" Height=\"1100\""));
    }
}
