//! The title card that opens every recording, so the file describes itself
//! when found alone.

use super::RecordingError;
use crate::browser::{cdp_error, eval, BrowserError};
use base64::Engine as _;
use chromiumoxide::cdp::browser_protocol::page::{
    CaptureScreenshotFormat, CaptureScreenshotParams, Viewport as Clip,
};
use chromiumoxide::Page;
use chrono::{DateTime, Utc};
use std::time::Duration;

/// The title card's background colour (a dark blue no page section is likely to share).
pub const TITLE_BACKGROUND: (u8, u8, u8) = (0x10, 0x22, 0x44);

/// What the title card says.
#[derive(Debug, Clone, PartialEq)]
pub struct TitleCard {
    /// The channel's name and id, e.g. "Sala kommun (sala-fb)".
    pub channel: String,
    pub url: String,
    pub captured_at: DateTime<Utc>,
    pub snapshot_id: String,
}

impl TitleCard {
    /// The same facts as container metadata (for [`super::RecordingOptions::metadata`]).
    pub fn metadata(&self) -> Vec<(String, String)> {
        vec![
            (
                "title".into(),
                format!("Bevara – skärminspelning: {}", self.channel),
            ),
            (
                "comment".into(),
                format!(
                    "{} captured {} (snapshot {})",
                    self.url,
                    self.captured_at
                        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    self.snapshot_id
                ),
            ),
            ("creation_time".into(), self.captured_at.to_rfc3339()),
            (
                "encoder".into(),
                format!("bevara {}", env!("CARGO_PKG_VERSION")),
            ),
        ]
    }
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// The title card as a self-contained HTML page (no scripts, no network).
pub fn title_card_html(card: &TitleCard, width: u32, height: u32) -> String {
    let (r, g, b) = TITLE_BACKGROUND;
    let when = card.captured_at.format("%Y-%m-%d %H:%M:%S").to_string();
    let rows = [
        ("Kanal", escape(&card.channel)),
        ("Adress", escape(&card.url)),
        ("Tid (UTC)", escape(&when)),
        ("Ögonblicksbild", escape(&card.snapshot_id)),
    ]
    .iter()
    .map(|(k, v)| format!("<tr><th>{k}</th><td>{v}</td></tr>"))
    .collect::<String>();
    let version = env!("CARGO_PKG_VERSION");
    format!(
        r#"<!doctype html><html lang="sv"><head><meta charset="utf-8"><title>Bevara – skärminspelning</title>
<style>
html,body{{margin:0;width:{width}px;height:{height}px;overflow:hidden;background:rgb({r},{g},{b});color:#fff;
font-family:"DejaVu Sans","Noto Sans",Arial,sans-serif}}
main{{box-sizing:border-box;width:100%;height:100%;padding:7% 8%;display:flex;flex-direction:column;justify-content:center}}
h1{{font-size:{h1}px;margin:0 0 1.2em;font-weight:700}}
table{{border-collapse:collapse;font-size:{fs}px;table-layout:fixed;width:100%}}
th{{text-align:left;vertical-align:top;color:#9fb6dd;font-weight:400;width:30%;padding:.35em 1em .35em 0}}
td{{padding:.35em 0;overflow-wrap:anywhere;word-break:break-all}}
footer{{margin-top:2em;font-size:{small}px;color:#9fb6dd}}
</style></head><body><main><h1>Bevara – skärminspelning</h1><table>{rows}</table>
<footer>Inspelningen börjar efter detta kort. bevara {version}</footer></main></body></html>"#,
        h1 = (width / 28).max(14),
        fs = (width / 48).max(10),
        small = (width / 70).max(8),
    )
}

/// Renders the title card in `page` (replacing its document: call it before
/// the channel is loaded) and returns a `width`×`height` JPEG of it.
pub async fn render_title_card(
    page: &Page,
    card: &TitleCard,
    width: u32,
    height: u32,
) -> Result<Vec<u8>, RecordingError> {
    let bound = Duration::from_secs(15);
    let html = serde_json::to_string(&title_card_html(card, width, height))
        .map_err(|e| RecordingError::TitleCard(e.to_string()))?;
    // Written into the current document (about:blank): no navigation, no
    // network. Waits for fonts and two frames so the text is painted.
    let script = format!(
        "(() => {{ document.open(); document.write({html}); document.close(); \
         return document.fonts.ready.then(() => new Promise(r => \
         requestAnimationFrame(() => requestAnimationFrame(() => r(true))))); }})()"
    );
    let _: bool = eval(page, &script, bound).await?;
    let params = CaptureScreenshotParams::builder()
        .format(CaptureScreenshotFormat::Jpeg)
        .quality(90)
        .clip(Clip {
            x: 0.0,
            y: 0.0,
            width: width as f64,
            height: height as f64,
            scale: 1.0,
        })
        .from_surface(true)
        .build();
    let shot = tokio::time::timeout(bound, page.execute(params))
        .await
        .map_err(|_| BrowserError::Timeout {
            what: "Page.captureScreenshot (title card)",
            secs: bound.as_secs(),
        })?
        .map_err(|e| cdp_error("Page.captureScreenshot", e))?;
    let jpeg = base64::engine::general_purpose::STANDARD
        .decode(AsRef::<str>::as_ref(&shot.result.data).as_bytes())
        .map_err(|e| RecordingError::TitleCard(format!("undecodable screenshot: {e}")))?;
    let size =
        image::ImageReader::with_format(std::io::Cursor::new(&jpeg), image::ImageFormat::Jpeg)
            .into_dimensions()
            .map_err(|e| RecordingError::TitleCard(format!("not a JPEG: {e}")))?;
    if size != (width, height) {
        return Err(RecordingError::TitleCard(format!(
            "the card came out {}×{} px instead of {width}×{height}",
            size.0, size.1
        )));
    }
    Ok(jpeg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_text_is_escaped() {
        let card = TitleCard {
            channel: "Sala <script>alert(1)</script> & \"co\"".into(),
            url: "https://example.org/?a=1&b=<2>".into(),
            captured_at: DateTime::parse_from_rfc3339("2026-11-22T10:00:05Z")
                .unwrap()
                .with_timezone(&Utc),
            snapshot_id: "01M81GD0D3ZBMKAT28878NZ41B".into(),
        };
        let html = title_card_html(&card, 1280, 900);
        assert!(!html.contains("<script>"));
        assert!(html.contains("Sala &lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;co&quot;"));
        assert!(html.contains("a=1&amp;b=&lt;2&gt;"));
        assert!(html.contains("2026-11-22 10:00:05"));
        assert!(html.contains("Ögonblicksbild"));
        let meta = card.metadata();
        assert!(meta
            .iter()
            .any(|(k, v)| k == "comment" && v.contains("01M81GD0D3ZBMKAT28878NZ41B")));
    }
}
