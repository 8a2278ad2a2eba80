//! What the steps after the page's own pass share: loading another page of
//! the same channel (a post, a comment page) and capturing it, or an open
//! dialog, as a screenshot and a text artifact.

use super::{screenshot, write, CaptureError, Produced};
use crate::behaviour::{Pacing, PassBudget, Profile, Progress};
use crate::browser::{eval, BrowserError};
use chromiumoxide::Page;
use std::path::Path;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Where the steps after the page's pass work, and with what.
pub(super) struct Step<'a> {
    pub page: &'a Page,
    pub profile: &'a Profile,
    pub settings: &'a crate::Settings,
    pub work: &'a Path,
    pub budget: &'a PassBudget,
    /// When the page's pass began: the duration budget covers both.
    pub started: Instant,
    pub pacing: Option<&'a Pacing>,
    pub progress: Option<&'a watch::Sender<Progress>>,
    /// The channel page the step starts from.
    pub start_url: &'a str,
}

pub(super) type Failed = (CaptureError, Option<String>);

impl Step<'_> {
    pub fn pass_failed(&self, url: &str) -> impl Fn(crate::behaviour::PassError) -> Failed + '_ {
        let url = url.to_string();
        move |source| {
            (
                CaptureError::Pass {
                    url: url.clone(),
                    source,
                },
                Some(self.start_url.to_string()),
            )
        }
    }

    pub fn browser_failed(&self) -> impl Fn(BrowserError) -> Failed + '_ {
        move |source| {
            (
                CaptureError::Browser {
                    url: self.start_url.to_string(),
                    source,
                },
                Some(self.start_url.to_string()),
            )
        }
    }

    /// `PNG` (the open dialog unrolled, or the whole page) and `TXT` (the
    /// URL, then the text).
    pub async fn shoot(
        &self,
        (png, txt): (&str, &str),
        href: &str,
        text: &str,
        dialog: bool,
        produced: &mut Vec<Produced>,
    ) -> Result<(), Failed> {
        let b = &self.settings.browser;
        let c = &self.settings.capture;
        let path = self.work.join(png);
        let bound = Duration::from_secs(c.artifact_timeout_secs);
        let shot = if dialog {
            let (w, h) = (b.viewport_width, b.viewport_height);
            screenshot::dialog(self.page, &path, w, h, c.max_page_height, bound).await
        } else {
            let height: u64 = eval(self.page, super::PAGE_HEIGHT_JS, Duration::from_secs(10))
                .await
                .map_err(self.browser_failed())?;
            let height = height.min(c.max_page_height);
            screenshot::full_page(
                self.page,
                &path,
                b.viewport_width,
                height,
                c.tile_height,
                bound,
            )
            .await
        };
        let stats = shot.map_err(|source| {
            (
                CaptureError::Screenshot {
                    url: href.to_string(),
                    source,
                },
                Some(self.start_url.to_string()),
            )
        })?;
        produced.push(Produced {
            name: png.to_string(),
            media_type: "image/png",
            path,
            size: Some((stats.width, stats.height)),
        });
        let path = self.work.join(txt);
        write(&path, format!("{href}\n\n{text}").as_bytes()).map_err(|reason| {
            (
                CaptureError::Artifact {
                    url: href.to_string(),
                    artifact: "text",
                    reason,
                },
                Some(self.start_url.to_string()),
            )
        })?;
        produced.push(Produced {
            name: txt.to_string(),
            media_type: "text/plain; charset=utf-8",
            path,
            size: None,
        });
        Ok(())
    }

    /// Loads `url` in the page, bounded by `capture.page_load_timeout_secs`.
    pub async fn goto(&self, url: &str) -> Result<(), Failed> {
        let secs = self.settings.capture.page_load_timeout_secs;
        match tokio::time::timeout(Duration::from_secs(secs), self.page.goto(url)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err((
                CaptureError::Navigation {
                    url: url.to_string(),
                    reason: e.to_string(),
                },
                Some(self.start_url.to_string()),
            )),
            Err(_) => Err((
                CaptureError::Timeout {
                    url: url.to_string(),
                    secs,
                    detail: "a further page of the channel".into(),
                },
                Some(self.start_url.to_string()),
            )),
        }
    }
}
