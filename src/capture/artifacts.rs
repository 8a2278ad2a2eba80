//! The channel page's own artifacts after its pass: the full-page
//! screenshot (taken scrolling when the feed is virtualized), the text, the
//! PDF and the MHTML.

use super::screenshot::{self, ScreenshotStats};
use super::step::{Failed, Step};
use super::{write, CaptureError, Produced, PAGE_HEIGHT_JS, PAGE_TEXT_JS};
use crate::browser::eval;
use base64::Engine as _;
use chromiumoxide::cdp::browser_protocol::page::{
    CaptureSnapshotFormat, CaptureSnapshotParams, PrintToPdfParams,
};
use std::time::Duration;

impl Step<'_> {
    /// Produces the page's artifacts; `page_items` is how many items the
    /// page's own pass collected (more than the page still holds means a
    /// virtualized feed). Errors name `url_s`, the channel's URL.
    pub async fn page_artifacts(
        &self,
        url_s: &str,
        page_items: usize,
        warnings: &mut Vec<String>,
        produced: &mut Vec<Produced>,
    ) -> Result<ScreenshotStats, Failed> {
        let page = self.page;
        let work = self.work;
        let profile = self.profile;
        let c = &self.settings.capture;
        let call = Duration::from_secs(10);
        // Each artifact gets its bound, or what is left of the deadline.
        let art_bound = || {
            self.deadline
                .bound(Duration::from_secs(c.artifact_timeout_secs))
        };
        let fail = |artifact: &'static str, reason: String| {
            (
                CaptureError::Artifact {
                    url: url_s.to_string(),
                    artifact,
                    reason,
                },
                Some(self.start_url.to_string()),
            )
        };
        self.phase("screenshot");
        let height: u64 = eval(page, PAGE_HEIGHT_JS, call)
            .await
            .map_err(self.browser_failed())?;
        let shot_height = if height > c.max_page_height {
            warnings.push(format!(
                "the page is {height} px tall; the screenshot stops at capture.max_page_height = {} px",
                c.max_page_height
            ));
            c.max_page_height
        } else {
            height
        };
        let shot_path = work.join("screenshot.png");
        let width = self.settings.browser.viewport_width;
        // A virtualized feed keeps only what is near the viewport in the DOM:
        // its screenshot is taken scrolling, a viewport at a time.
        let present: u64 = eval(
            page,
            &format!(
                "__bevara.present({})",
                serde_json::to_string(&profile.items).unwrap_or_else(|_| "{}".into())
            ),
            call,
        )
        .await
        .map_err(self.browser_failed())?;
        let virtualized = page_items as u64 > present + 2;
        let tiling = if virtualized {
            warnings.push(format!(
                "the feed is virtualized ({page_items} items seen, {present} in the page at the end); the screenshot was taken scrolling"
            ));
            screenshot::Tiling::Scroll {
                viewport_height: self.settings.browser.viewport_height,
            }
        } else {
            screenshot::Tiling::Clip
        };
        let stats = screenshot::full_page_with(
            page,
            &shot_path,
            width,
            shot_height,
            c.tile_height,
            tiling,
            art_bound(),
        )
        .await
        .map_err(|source| {
            (
                CaptureError::Screenshot {
                    url: url_s.to_string(),
                    source,
                },
                Some(self.start_url.to_string()),
            )
        })?;
        produced.push(Produced {
            name: "screenshot.png".into(),
            media_type: "image/png",
            path: shot_path,
            size: Some((stats.width, stats.height)),
        });

        self.phase("text");
        let text: String = eval(page, PAGE_TEXT_JS, art_bound())
            .await
            .map_err(|e| fail("text", e.to_string()))?;
        let text_path = work.join("text.txt");
        write(&text_path, text.as_bytes()).map_err(|e| fail("text", e))?;
        produced.push(Produced {
            name: "text.txt".into(),
            media_type: "text/plain; charset=utf-8",
            path: text_path,
            size: None,
        });

        // Printed only when asked for; by default the PDF is made from the
        // screenshots once they are all taken.
        if c.pdf && c.pdf_from == "print" {
            self.phase("pdf");
            let params = PrintToPdfParams {
                print_background: Some(true),
                ..Default::default()
            };
            let bound = art_bound();
            let pdf = tokio::time::timeout(bound, page.execute(params))
                .await
                .map_err(|_| fail("PDF", format!("no answer within {} s", bound.as_secs())))?
                .map_err(|e| fail("PDF", e.to_string()))?;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(AsRef::<str>::as_ref(&pdf.result.data))
                .map_err(|e| fail("PDF", e.to_string()))?;
            let path = work.join("page.pdf");
            write(&path, &bytes).map_err(|e| fail("PDF", e))?;
            produced.push(Produced {
                name: "page.pdf".into(),
                media_type: "application/pdf",
                path,
                size: None,
            });
        }

        if c.mhtml {
            self.phase("mhtml");
            let params = CaptureSnapshotParams {
                format: Some(CaptureSnapshotFormat::Mhtml),
            };
            let bound = art_bound();
            let snap = tokio::time::timeout(bound, page.execute(params))
                .await
                .map_err(|_| fail("MHTML", format!("no answer within {} s", bound.as_secs())))?
                .map_err(|e| fail("MHTML", e.to_string()))?;
            let path = work.join("page.mhtml");
            write(&path, snap.result.data.as_bytes()).map_err(|e| fail("MHTML", e))?;
            produced.push(Produced {
                name: "page.mhtml".into(),
                media_type: "multipart/related",
                path,
                size: None,
            });
        }
        Ok(stats)
    }

    fn phase(&self, p: &'static str) {
        if let Some(tx) = self.progress {
            tx.send_modify(|s| s.phase = p);
        }
    }
}
