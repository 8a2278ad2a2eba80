//! What the steps after the page's own pass share: loading another page of
//! the same channel (a post, a comment page) and capturing it, or an open
//! dialog, as a screenshot and a text artifact.

use super::deadline::Deadline;
use super::load::{self, Loaded};
use super::{screenshot, write, CaptureError, Produced};
use crate::behaviour::{
    run_pass_into, Pacing, PassBudget, PassError, PassReport, Profile, Progress,
};
use crate::browser::navgate::NavGate;
use crate::browser::{eval, BrowserError};
use chromiumoxide::Page;
use std::path::Path;
use std::time::Duration;
use tokio::sync::watch;

/// Where the steps after the page's pass work, and with what.
pub(super) struct Step<'a> {
    pub page: &'a Page,
    pub profile: &'a Profile,
    pub settings: &'a crate::Settings,
    pub work: &'a Path,
    /// Limits other than time; time is the deadline's.
    pub budget: &'a PassBudget,
    /// The whole capture's deadline, which every step shares.
    pub deadline: &'a Deadline,
    /// Stops navigations Bevara did not start.
    pub gate: &'a NavGate,
    pub pacing: Option<&'a Pacing>,
    /// Recording on: further pages are recorded too, each as its own video
    /// paced as the channel page's.
    pub record: Option<(&'a super::recording::RecordingOptions, &'a Pacing)>,
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
        let bound = self
            .deadline
            .bound(Duration::from_secs(c.artifact_timeout_secs));
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

    /// Loads `url` in the page through the one checked page path: bounded
    /// by `capture.page_load_timeout_secs` and the deadline, its HTTP status
    /// (4xx and 5xx are not content) and redirect target checked.
    pub async fn open_page(&self, url: &str) -> Result<Loaded, Failed> {
        let parsed = url::Url::parse(url).map_err(|e| {
            (
                CaptureError::Navigation {
                    url: url.to_string(),
                    reason: e.to_string(),
                },
                Some(self.start_url.to_string()),
            )
        })?;
        let mut warnings = Vec::new();
        let loaded = load::load(
            self.page,
            self.gate,
            &parsed,
            self.settings,
            self.deadline,
            &mut warnings,
        )
        .await?;
        for w in warnings {
            tracing::info!(page = %url, "{w}");
        }
        Ok(loaded)
    }

    /// Loads `url` and checks it is a page of content: as [`Self::open_page`]
    /// plus the login wall. `what` names the page for errors.
    pub async fn open_content(&self, url: &str) -> Result<Loaded, Failed> {
        let loaded = self.open_page(url).await?;
        let redirected = load::redirected(url, &loaded.href);
        match load::login_wall(self.page, self.profile, redirected).await {
            Err(e) => Err(self.browser_failed()(e)),
            Ok(Some(what)) => Err((
                CaptureError::LoginRequired {
                    url: url.to_string(),
                    channel: String::new(),
                    what,
                },
                Some(loaded.href),
            )),
            Ok(None) => Ok(loaded),
        }
    }
}

impl Step<'_> {
    /// Runs the pass on the page now loaded (`url`), within what is left of
    /// the deadline. A document that changes under the pass anyway (the
    /// gate stops navigations, but a page can replace itself by script) is
    /// handled: what was collected is kept, `url` is loaded again through
    /// the checked path and the pass goes on, at most twice.
    pub async fn pass_here(
        &self,
        url: &str,
        limits: &PassBudget,
        pacing: Option<&Pacing>,
    ) -> Result<PassReport, Failed> {
        const RETURNS: usize = 2;
        const INTERRUPTIONS: usize = 50;
        let mut interrupted = 0;
        let mut returned = 0;
        let mut report = PassReport {
            behaviour: self.profile.behaviour.name.clone(),
            ..Default::default()
        };
        loop {
            let result = run_pass_into(
                self.page,
                self.profile,
                &PassBudget {
                    max_duration: self.deadline.pass_left(),
                    ..limits.clone()
                },
                pacing,
                self.progress,
                &mut report,
            )
            .await;
            let changed = match result {
                Ok(()) => return Ok(report),
                Err(PassError::NavigatedAway { to, .. }) => to,
                Err(PassError::Browser(BrowserError::DocumentChanged(m))) => {
                    // A navigation that started and was stopped interrupts
                    // the call in flight but leaves the document: go on.
                    if interrupted < INTERRUPTIONS && self.still_here(url).await {
                        interrupted += 1;
                        tracing::debug!(page = %url, "a call was interrupted by a stopped navigation; the pass goes on");
                        continue;
                    }
                    m
                }
                Err(e) => return Err(self.pass_failed(url)(e)),
            };
            if returned == RETURNS {
                return Err(self.pass_failed(url)(PassError::NavigatedAway {
                    from: url.to_string(),
                    to: changed,
                }));
            }
            tracing::warn!(page = %url, %changed, "the document changed under the pass; loading the page again");
            report.warnings.push(format!(
                "the page's document changed during the pass ({changed}); {url} was loaded again and the pass went on"
            ));
            self.open_page(url).await?;
            returned += 1;
        }
    }

    /// Whether the page still holds the document the pass works in: the
    /// kit is installed and the URL is `url`'s.
    async fn still_here(&self, url: &str) -> bool {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let here: Result<Option<String>, _> = eval(
            self.page,
            "window.__bevara ? location.href : null",
            Duration::from_secs(5),
        )
        .await;
        matches!(here, Ok(Some(h)) if crate::behaviour::same_document(&h, url))
    }
}
