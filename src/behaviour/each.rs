//! Opening posts one at a time.
//!
//! Some platforms show a post's comments only in a dialog opened from a grid
//! of posts (an Instagram profile). After the page's own pass has scrolled
//! the grid to its end, noting every post link it passed, each post is
//! opened in turn the way a person would: its link is clicked, the dialog
//! that appears is found by what changed on the page, its own scroller is
//! scrolled and every expander in it clicked, and it is closed again with
//! its close control, Escape or the browser's back. A link no script takes
//! over is a plain link: the caller loads it as a page instead.

use super::pass::{drive, to_json, Driver, Pacing, PassBudget, PassError, PassReport, Progress};
use super::Profile;
use crate::browser::BrowserError;
use chromiumoxide::Page;
use serde::Deserialize;
use std::time::Duration;
use tokio::sync::watch;

const CALL: Duration = Duration::from_secs(20);
/// How long a close control, Escape or back may take to close a dialog.
const CLOSE_WAIT: Duration = Duration::from_secs(3);

/// What clicking a post's link did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opened {
    /// A dialog opened over the page; it is the scope until [`PostOpener::close`].
    Dialog,
    /// A plain link: nothing took the click over, so the post is a page of its own.
    Page,
    /// The page's script moved to the post's address without a dialog: the
    /// post is shown in place, as a page.
    Route,
    /// The link is no longer on the page.
    Missing,
    /// The click changed nothing that looks like the post.
    Nothing,
}

#[derive(Deserialize)]
struct Clicked {
    found: bool,
    plain: bool,
}

#[derive(Deserialize)]
struct Found {
    dialog: bool,
    url: String,
    moved: bool,
}

/// Opens a profile's posts one at a time on a page whose pass has run.
pub struct PostOpener<'a> {
    driver: Driver<'a>,
    rule: String,
    wait: Duration,
    nag: String,
}

impl<'a> PostOpener<'a> {
    /// The opener for `profile`, or `None` when the profile opens no posts.
    pub fn new(page: &'a Page, profile: &Profile) -> Option<Self> {
        let each = &profile.open_each;
        if !each.enabled() {
            return None;
        }
        // Inside a dialog the end of the comments is a button, not lazy
        // loading, so the wait at the end is the profile's shorter one.
        let mut behaviour = profile.behaviour.clone();
        behaviour.end_wait_ms = each.end_wait_ms;
        Some(Self {
            driver: Driver::with(page, profile, behaviour),
            rule: to_json(each),
            wait: Duration::from_millis(each.open_wait_ms),
            nag: to_json(&profile.behaviour.nag_context),
        })
    }

    /// The post links the pass saw, in page order, as absolute URLs.
    pub async fn targets(&self) -> Result<Vec<String>, BrowserError> {
        self.driver.install().await?;
        let _: u64 = self
            .driver
            .call(&format!("__bevara.noteTargets({})", self.rule), CALL)
            .await?;
        self.driver.call("__bevara.targets()", CALL).await
    }

    /// Clicks the link to `href` and waits for what it opens. A link that has
    /// left the page (a grid that drops far tiles) is looked for from the top.
    pub async fn open(&self, href: &str, report: &mut PassReport) -> Result<Opened, PassError> {
        let d = &self.driver;
        d.install().await?;
        d.clear_dialogs(report).await?;
        let js = format!(
            "__bevara.openTarget({}, {})",
            self.rule,
            to_json(&href.to_string())
        );
        let mut clicked: Clicked = d.call(&js, CALL).await?;
        if !clicked.found {
            let _: serde_json::Value = d.call("__bevara.scrollTo(0)", CALL).await?;
            for _ in 0..200 {
                let before = d.state().await?;
                d.settle(before.mutations, 150, 1500, false).await?;
                clicked = d.call(&js, CALL).await?;
                if clicked.found || before.at_bottom {
                    break;
                }
                let _: serde_json::Value = d
                    .call(
                        &format!("__bevara.scrollBy({})", (before.view * 0.8).max(100.0)),
                        CALL,
                    )
                    .await?;
            }
        }
        if !clicked.found {
            return Ok(Opened::Missing);
        }
        if clicked.plain {
            return Ok(Opened::Page);
        }
        // A page may undo a click with its own late handlers (a dialog
        // closed by the previous one's queued close event): one more click.
        for attempt in 0..2 {
            match self.await_dialog(href).await? {
                Some(opened) => return Ok(opened),
                None if attempt == 0 => {
                    tracing::debug!(post = %href, "no dialog after a post link; clicking again");
                    let again: Clicked = d.call(&js, CALL).await?;
                    if !again.found {
                        return Ok(Opened::Missing);
                    }
                    if again.plain {
                        return Ok(Opened::Page);
                    }
                }
                None => {}
            }
        }
        Ok(Opened::Nothing)
    }

    /// Waits up to `open_wait_ms` for the dialog a click opened: the dialog,
    /// the post shown in place, or `None`.
    async fn await_dialog(&self, href: &str) -> Result<Option<Opened>, PassError> {
        let d = &self.driver;
        let started = std::time::Instant::now();
        let find = format!(
            "__bevara.opened({}, {})",
            to_json(&href.to_string()),
            self.nag
        );
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let found: Found = d.call(&find, CALL).await?;
            if found.dialog {
                // Let the dialog's first content arrive before it is worked on.
                let st = d.state().await?;
                d.settle(
                    st.mutations.saturating_sub(1),
                    d.behaviour.quiet_ms,
                    3000,
                    false,
                )
                .await?;
                return Ok(Some(Opened::Dialog));
            }
            if started.elapsed() >= self.wait {
                let bare = found.url.split('#').next().unwrap_or_default();
                return Ok((found.moved && bare == href).then_some(Opened::Route));
            }
        }
    }

    /// Scrolls and expands the open dialog until nothing more appears;
    /// returns what that did, its items included, leaving it scrolled to its top.
    pub async fn expand(
        &self,
        budget: &PassBudget,
        pacing: Option<&Pacing>,
        progress: Option<&watch::Sender<Progress>>,
    ) -> Result<PassReport, PassError> {
        let mut report = PassReport {
            behaviour: self.driver.behaviour.name.clone(),
            ..Default::default()
        };
        drive(
            &self.driver,
            budget,
            pacing,
            progress,
            "opening posts",
            &mut report,
        )
        .await?;
        Ok(report)
    }

    /// After the channel page was loaded again: the kit back in place and
    /// its dialogs (consent, nags) dismissed again.
    pub async fn returned(&self, report: &mut PassReport) -> Result<(), BrowserError> {
        let d = &self.driver;
        d.install().await?;
        let st = d.state().await?;
        d.settle(st.mutations, d.behaviour.quiet_ms, 3000, false)
            .await?;
        d.clear_dialogs(report).await.map(drop)
    }

    /// The open dialog's visible text.
    pub async fn text(&self) -> Result<String, BrowserError> {
        self.driver
            .call(
                "(__bevara.root && __bevara.root.isConnected ? __bevara.root : document.body).innerText",
                CALL,
            )
            .await
    }

    /// Closes the open dialog: its close control, then Escape, then back.
    /// Returns how it closed, or `None` when it would not.
    pub async fn close(&self) -> Result<Option<&'static str>, BrowserError> {
        let d = &self.driver;
        let cfg = to_json(&d.behaviour);
        let how: String = d.call(&format!("__bevara.closeRoot({cfg})"), CALL).await?;
        if how == "gone" {
            return Ok(Some("already closed"));
        }
        if how == "clicked" && self.gone().await? {
            return Ok(Some("close control"));
        }
        let _: bool = d.call("__bevara.escape()", CALL).await?;
        if self.gone().await? {
            return Ok(Some("Escape"));
        }
        let _: serde_json::Value = d.call("history.back(), null", CALL).await?;
        if self.gone().await? {
            return Ok(Some("back"));
        }
        let _: bool = d.call("__bevara.forgetRoot()", CALL).await?;
        Ok(None)
    }

    async fn gone(&self) -> Result<bool, BrowserError> {
        let started = std::time::Instant::now();
        loop {
            // A back that replaced the document finds a fresh kit: gone too.
            let gone: bool = self.driver.call("__bevara.rootGone()", CALL).await?;
            if gone {
                return Ok(true);
            }
            if started.elapsed() >= CLOSE_WAIT {
                return Ok(false);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
