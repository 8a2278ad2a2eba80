//! A PDF made from the stitched screenshots, for captures whose final DOM
//! does not hold what the screenshots hold (a virtualized feed, posts opened
//! in dialogs, several comment pages): Chromium's print of the DOM would
//! leave those out. Each screenshot is cut into A4-proportioned slices, one
//! page each, read row by row so memory stays at one slice; the capture's
//! whole text lies over the pages as an invisible, selectable and
//! searchable text layer, in page order.
//!
//! Written with `pdf-writer`; the slicing and the text placement are ours
//! since no crate turns a tall PNG into paged JPEGs with a text layer.

use image::codecs::jpeg::JpegEncoder;
use image::ExtendedColorType;
use pdf_writer::types::TextRenderingMode;
use pdf_writer::{Content, Filter, Finish, Name, Pdf, Rect, Ref, Str};
use std::io::BufReader;
use std::path::{Path, PathBuf};

/// A4 in PDF points.
const PAGE_W: f32 = 595.0;
const PAGE_H: f32 = 842.0;
const JPEG_QUALITY: u8 = 82;
/// Text layer font size and leading, in points; smaller when a page has
/// more lines than fit, never overlapping (text extractors would mix them).
const FONT_SIZE: f32 = 5.0;
/// Characters per text line at `FONT_SIZE`: Helvetica averages about half
/// an em, and text past the page's edge is lost to text extractors.
const MAX_CHARS: usize = 180;

/// `text`'s non-empty lines, wrapped at spaces to at most `max` characters.
fn wrap(text: &str, max: usize) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut cur = String::new();
        for word in line.split_whitespace() {
            if !cur.is_empty() && cur.chars().count() + 1 + word.chars().count() > max {
                out.push(std::mem::take(&mut cur));
            }
            if !cur.is_empty() {
                cur.push(' ');
            }
            cur.push_str(word);
        }
        if !cur.is_empty() {
            out.push(cur);
        }
    }
    out
}

/// What went into the PDF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PdfStats {
    pub pages: usize,
    pub text_lines: usize,
}

/// One slice of a screenshot, as JPEG.
struct Slice {
    jpeg: Vec<u8>,
    width: u32,
    height: u32,
}

/// Cuts `png` into slices `slice_h` px tall (the last may be shorter).
fn slices(png: &Path, mut each: impl FnMut(Slice) -> Result<(), String>) -> Result<(), String> {
    let err = |e: &dyn std::fmt::Display| format!("{}: {e}", png.display());
    let file = std::fs::File::open(png).map_err(|e| err(&e))?;
    let mut decoder = png::Decoder::new(BufReader::new(file));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().map_err(|e| err(&e))?;
    let width = reader.info().width;
    let (color, _) = reader.output_color_type();
    let channels = color.samples();
    let slice_h = ((PAGE_H / PAGE_W) * width as f32).round().max(1.0) as u32;
    let mut rgb: Vec<u8> = Vec::with_capacity((width * slice_h * 3) as usize);
    let mut rows = 0u32;
    let mut flush = |rgb: &mut Vec<u8>, rows: &mut u32| -> Result<(), String> {
        if *rows == 0 {
            return Ok(());
        }
        let mut jpeg = Vec::new();
        JpegEncoder::new_with_quality(&mut jpeg, JPEG_QUALITY)
            .encode(rgb, width, *rows, ExtendedColorType::Rgb8)
            .map_err(|e| err(&e))?;
        each(Slice {
            jpeg,
            width,
            height: *rows,
        })?;
        rgb.clear();
        *rows = 0;
        Ok(())
    };
    while let Some(row) = reader.next_row().map_err(|e| err(&e))? {
        let data = row.data();
        match channels {
            3 => rgb.extend_from_slice(data),
            4 => data
                .chunks_exact(4)
                .for_each(|p| rgb.extend_from_slice(&p[..3])),
            1 => data
                .iter()
                .for_each(|g| rgb.extend_from_slice(&[*g, *g, *g])),
            2 => data
                .chunks_exact(2)
                .for_each(|p| rgb.extend_from_slice(&[p[0], p[0], p[0]])),
            n => return Err(err(&format!("{n} channels per pixel"))),
        }
        rows += 1;
        if rows == slice_h {
            flush(&mut rgb, &mut rows)?;
        }
    }
    flush(&mut rgb, &mut rows)
}

/// The text as WinAnsi bytes for the standard Helvetica font: Latin-1
/// letters (å, ä, ö, é, …) as they are, anything else as `?`.
fn win_ansi(line: &str) -> Vec<u8> {
    line.chars()
        .map(|c| match c as u32 {
            0x20..=0x7e | 0xa0..=0xff => c as u32 as u8,
            0x2013 => 0x96,
            0x2014 => 0x97,
            0x2018 => 0x91,
            0x2019 => 0x92,
            0x201c => 0x93,
            0x201d => 0x94,
            0x2026 => 0x85,
            0x20ac => 0x80,
            _ => b'?',
        })
        .collect()
}

/// Writes `out` from `pngs` (in order) with `text` as the text layer.
pub fn from_screenshots(pngs: &[PathBuf], text: &str, out: &Path) -> Result<PdfStats, String> {
    let lines = wrap(text, MAX_CHARS);
    let mut pdf = Pdf::new();
    let catalog = Ref::new(1);
    let tree = Ref::new(2);
    let font = Ref::new(3);
    let mut next = 4;
    let mut alloc = || {
        let r = Ref::new(next);
        next += 1;
        r
    };
    // The images first; pages are written once the count is known, so the
    // text can be spread over them.
    let mut images = Vec::new();
    for png in pngs {
        slices(png, |s| {
            let id = alloc();
            let mut img = pdf.image_xobject(id, &s.jpeg);
            img.filter(Filter::DctDecode);
            img.width(s.width as i32);
            img.height(s.height as i32);
            img.color_space().device_rgb();
            img.bits_per_component(8);
            img.finish();
            images.push((id, s.width, s.height));
            Ok(())
        })?;
    }
    if images.is_empty() {
        return Err("no screenshot to make the PDF from".into());
    }
    pdf.type1_font(font)
        .base_font(Name(b"Helvetica"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));
    let per_page = lines.len().div_ceil(images.len()).max(1);
    let mut page_ids = Vec::new();
    for (i, (image, w, h)) in images.iter().enumerate() {
        let page_id = alloc();
        let content_id = alloc();
        let scale = PAGE_W / *w as f32;
        let shown_h = *h as f32 * scale;
        let mut c = Content::new();
        c.save_state();
        c.transform([PAGE_W, 0.0, 0.0, shown_h, 0.0, PAGE_H - shown_h]);
        c.x_object(Name(b"Im"));
        c.restore_state();
        let from = (i * per_page).min(lines.len());
        let to = ((i + 1) * per_page).min(lines.len());
        if from < to {
            // Spread over the page so a selection lands near its place;
            // more lines than fit get a smaller font, never overlap.
            let leading = ((PAGE_H - 20.0) / (to - from) as f32).min(FONT_SIZE * 1.4);
            let size = (leading / 1.2).min(FONT_SIZE);
            c.begin_text();
            c.set_text_rendering_mode(TextRenderingMode::Invisible);
            c.set_font(Name(b"F"), size);
            c.set_leading(leading);
            c.next_line(10.0, PAGE_H - 10.0 - size);
            for line in &lines[from..to] {
                c.show(Str(&win_ansi(line)));
                c.next_line_using_leading();
            }
            c.end_text();
        }
        let data = c.finish();
        pdf.stream(content_id, &data);
        let mut page = pdf.page(page_id);
        page.media_box(Rect::new(0.0, 0.0, PAGE_W, PAGE_H));
        page.parent(tree);
        page.contents(content_id);
        let mut res = page.resources();
        res.x_objects().pair(Name(b"Im"), *image);
        res.fonts().pair(Name(b"F"), font);
        res.finish();
        page.finish();
        page_ids.push(page_id);
    }
    pdf.pages(tree)
        .kids(page_ids.iter().copied())
        .count(page_ids.len() as i32);
    pdf.catalog(catalog).pages(tree);
    let info = alloc();
    pdf.document_info(info)
        .producer(pdf_writer::TextStr(concat!(
            "Bevara ",
            env!("CARGO_PKG_VERSION")
        )));
    std::fs::write(out, pdf.finish()).map_err(|e| format!("{}: {e}", out.display()))?;
    Ok(PdfStats {
        pages: page_ids.len(),
        text_lines: lines.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tall_png_becomes_pages_with_the_text_layer() {
        let dir = tempfile::tempdir().unwrap();
        let png_path = dir.path().join("tall.png");
        // 100 px wide, 400 px tall: A4 slices of 141 px, so 3 pages.
        let img = image::RgbImage::from_fn(100, 400, |_, y| image::Rgb([(y % 256) as u8, 40, 90]));
        img.save(&png_path).unwrap();
        let out = dir.path().join("out.pdf");
        let stats =
            from_screenshots(&[png_path], "Första raden åäö\nandra\ntredje TOKEN42", &out).unwrap();
        assert_eq!(
            stats,
            PdfStats {
                pages: 3,
                text_lines: 3
            }
        );
        let bytes = std::fs::read(&out).unwrap();
        assert!(bytes.starts_with(b"%PDF-"));
        assert_eq!(win_ansi("åäö…"), vec![0xe5, 0xe4, 0xf6, 0x85]);
        // The text is in the content streams (uncompressed), in order.
        let s = String::from_utf8_lossy(&bytes);
        assert!(s.contains("(tredje TOKEN42) Tj"), "{s}");
        let long = "ord ".repeat(100);
        assert!(wrap(&long, 180).iter().all(|l| l.len() <= 180));
        assert_eq!(wrap(&long, 180).join(" "), long.trim());
    }
}
