//! The scroll-and-expand pass: the loop that drives the in-page kit and keeps
//! the budgets.

use super::items::{Collector, RawItem};
use super::{Behaviour, Profile, KIT_JS};
use crate::browser::{eval, BrowserError};
use chromiumoxide::Page;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Limits of one pass. Reaching one ends the pass with a warning, never silently.
#[derive(Debug, Clone)]
pub struct PassBudget {
    pub max_duration: Duration,
    /// The whole capture's deadline the duration is a share of, named in
    /// warnings (`None`: the duration itself).
    pub deadline: Option<Duration>,
    pub max_height: u64,
    pub max_clicks: u64,
    pub max_scroll_steps: u64,
}

/// Pixels of page height the artifacts are made of per second, at the
/// least: a tiled screenshot, its PNG and the PDF from it, in a dev build on
/// a loaded 2-core machine (`bevara bench screenshot` gives about 34,000 in a
/// release build).
const SHOT_PX_PER_SEC: f64 = 10_000.0;

impl PassBudget {
    /// The budget a pass has reached, if any, named for its warning.
    pub fn reached(
        &self,
        elapsed: Duration,
        height: u64,
        clicks: u64,
        steps: u64,
    ) -> Option<String> {
        // The artifacts of a tall page take longer than the time kept for
        // them (the deadline less the pass's share): the pass ends sooner
        // by what they need beyond it, so the screenshot is not cut off.
        let shoot = Duration::from_secs_f64(height as f64 / SHOT_PX_PER_SEC);
        let kept = self
            .deadline
            .map(|d| d.saturating_sub(self.max_duration))
            .unwrap_or_default();
        if elapsed + shoot.saturating_sub(kept) >= self.max_duration {
            Some(format!(
                "duration ({} s)",
                self.deadline.unwrap_or(self.max_duration).as_secs()
            ))
        } else if height >= self.max_height {
            Some(format!("page height ({} px)", self.max_height))
        } else if clicks >= self.max_clicks {
            Some(format!("expander clicks ({})", self.max_clicks))
        } else if steps >= self.max_scroll_steps {
            Some(format!("scroll steps ({})", self.max_scroll_steps))
        } else {
            None
        }
    }
}

/// A pace a person can follow in the screen recording. Without it the pass
/// goes as fast as the page allows.
#[derive(Debug, Clone)]
pub struct Pacing {
    /// Least time per scroll step.
    pub step: Duration,
    /// Time to dwell after expanders opened, so the video shows them.
    pub dwell: Duration,
}

/// What the pass is doing, for a progress display.
#[derive(Debug, Clone, Default)]
pub struct Progress {
    pub phase: &'static str,
    pub scroll_y: u64,
    pub height: u64,
    pub expanders: u64,
    pub steps: u64,
    pub elapsed: Duration,
}

/// What the pass did: counts go into the manifest.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PassReport {
    pub behaviour: String,
    pub scroll_steps: u64,
    pub expanders_clicked: u64,
    /// Clicks per expander label, e.g. `"visa 2 svar": 4`.
    pub expander_labels: BTreeMap<String, u64>,
    /// Dialogs dismissed, as `kind: label`.
    pub dialogs_dismissed: Vec<String>,
    pub final_height: u64,
    pub duration_ms: u64,
    /// The page scrolls inside an element rather than the window.
    pub inner_scroller: bool,
    /// The budget that ended the pass early, if any.
    pub stopped_by: Option<String>,
    /// Menus set before expanding (e.g. comment order), by the chosen label.
    #[serde(default)]
    pub menus_set: Vec<String>,
    /// Items collected during the pass (posts, comments, replies).
    #[serde(default)]
    pub items_collected: usize,
    pub warnings: Vec<String>,
    /// Posts opened one by one (profiles with `[open_each]`), in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub posts: Vec<PostReport>,
    /// The items themselves; they go to `items.json`, not the manifest.
    #[serde(skip)]
    pub collected: Collector,
}

/// One post opened on its own: where, how, and what it held.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PostReport {
    /// 1-based, in the order the posts appear on the page.
    pub index: usize,
    pub url: String,
    /// `dialog` (opened over the page), `page` (a plain link, loaded), or
    /// `missing` / `no-dialog` when it could not be opened.
    pub opened_as: String,
    pub expanders_clicked: u64,
    pub scroll_steps: u64,
    /// Items seen in it (the post, its comments and replies).
    pub items: usize,
    /// The artifacts showing it.
    #[serde(default)]
    pub artifacts: Vec<String>,
    pub duration_ms: u64,
}

impl PassReport {
    /// Adds what a pass over one opened post did to this report; its items
    /// join the collected ones.
    pub fn absorb(&mut self, other: PassReport) {
        self.scroll_steps += other.scroll_steps;
        self.expanders_clicked += other.expanders_clicked;
        for (label, n) in other.expander_labels {
            *self.expander_labels.entry(label).or_default() += n;
        }
        self.dialogs_dismissed.extend(other.dialogs_dismissed);
        self.menus_set.extend(other.menus_set);
        self.warnings.extend(other.warnings);
        if self.stopped_by.is_none() {
            self.stopped_by = other.stopped_by;
        }
        self.collected.merge(other.collected);
        self.items_collected = self.collected.len();
    }
}

/// The pass could not go on.
#[derive(Debug, thiserror::Error)]
pub enum PassError {
    #[error(transparent)]
    Browser(#[from] BrowserError),
    #[error("the page navigated away from {from} to {to} during the pass")]
    NavigatedAway { from: String, to: String },
}

#[derive(Debug, Deserialize)]
pub(super) struct PageState {
    pub(super) mutations: u64,
    pub(super) scroll_y: f64,
    pub(super) height: f64,
    pub(super) view: f64,
    pub(super) at_bottom: bool,
    pub(super) inner_scroller: bool,
    pub(super) url: String,
}

#[derive(Debug, Deserialize)]
struct Done {
    kind: String,
    label: String,
}

/// A kit call's answer: its value, or that the kit is not installed.
#[derive(Debug, Deserialize)]
struct Called {
    #[serde(default)]
    missing: bool,
    #[serde(default)]
    value: serde_json::Value,
}

#[derive(Debug, Deserialize)]
struct Settled {
    changed: bool,
}

const CALL: Duration = Duration::from_secs(20);
/// After clicks that changed nothing and started no request, how long to
/// wait before taking it that nothing is coming.
const CLICK_IDLE_MS: u64 = 1200;
/// Small moves per paced scroll step.
const SMOOTH_MOVES: u32 = 8;

/// Drives the in-page kit with one profile's behaviour.
pub(super) struct Driver<'a> {
    pub(super) page: &'a Page,
    cfg: String,
    rules: String,
    /// The profile's post links, when it opens posts one by one.
    targets: Option<String>,
    pub(super) behaviour: Behaviour,
}

impl<'a> Driver<'a> {
    pub(super) fn new(page: &'a Page, profile: &Profile) -> Self {
        Self::with(page, profile, profile.behaviour.clone())
    }

    pub(super) fn with(page: &'a Page, profile: &Profile, behaviour: Behaviour) -> Self {
        Self {
            page,
            cfg: to_json(&behaviour),
            rules: to_json(&profile.items),
            targets: profile
                .open_each
                .enabled()
                .then(|| to_json(&profile.open_each)),
            behaviour,
        }
    }

    pub(super) async fn install(&self) -> Result<(), BrowserError> {
        let _: String = eval(self.page, KIT_JS, CALL).await?;
        Ok(())
    }

    pub(super) async fn call<T: serde::de::DeserializeOwned>(
        &self,
        js: &str,
        bound: Duration,
    ) -> Result<T, BrowserError> {
        // The kit's source goes once per document, not with every call: a
        // call finds it missing only when the document was replaced, and
        // then installs it and runs again.
        let expr = format!(
            "(async () => {{ if (!window.__bevara) return {{ missing: true }}; return {{ value: await ({js}) }}; }})()"
        );
        for _ in 0..2 {
            let r: Called = eval(self.page, &expr, bound).await?;
            if !r.missing {
                return serde_json::from_value(r.value).map_err(|e| BrowserError::Cdp {
                    what: "Runtime.evaluate (kit result)",
                    source: chromiumoxide::error::CdpError::Serde(e),
                });
            }
            self.install().await?;
        }
        Err(BrowserError::DocumentChanged(
            "the behaviour kit was gone again right after it was installed".into(),
        ))
    }

    pub(super) async fn state(&self) -> Result<PageState, BrowserError> {
        self.call("__bevara.state()", CALL).await
    }

    pub(super) async fn settle(
        &self,
        since: u64,
        quiet: u64,
        max: u64,
        need_change: bool,
    ) -> Result<bool, BrowserError> {
        self.settle_idle(since, quiet, max, need_change, 0).await
    }

    /// The wait after clicks: it ends after `CLICK_IDLE_MS` when nothing
    /// moved and the page asked nothing of its server.
    async fn settle_after_clicks(
        &self,
        since: u64,
        quiet: u64,
        max: u64,
    ) -> Result<bool, BrowserError> {
        self.settle_idle(since, quiet, max, true, CLICK_IDLE_MS)
            .await
    }

    async fn settle_idle(
        &self,
        since: u64,
        quiet: u64,
        max: u64,
        need_change: bool,
        idle: u64,
    ) -> Result<bool, BrowserError> {
        let s: Settled = self
            .call(
                &format!("__bevara.settle({since}, {quiet}, {max}, {need_change}, {idle})"),
                Duration::from_millis(max) + CALL,
            )
            .await?;
        Ok(s.changed)
    }

    pub(super) async fn dismiss(&self, report: &mut PassReport) -> Result<usize, BrowserError> {
        let done: Vec<Done> = self
            .call(&format!("__bevara.dismiss({})", self.cfg), CALL)
            .await?;
        let n = done.len();
        for d in done {
            report
                .dialogs_dismissed
                .push(format!("{}: {}", d.kind, d.label));
        }
        Ok(n)
    }

    async fn unblock(&self, report: &mut PassReport) -> Result<usize, BrowserError> {
        let done: Vec<Done> = self
            .call(&format!("__bevara.unblock({})", self.cfg), CALL)
            .await?;
        let n = done.len();
        for d in done {
            if d.kind == "removed-overlay" {
                report.warnings.push(format!(
                    "removed a blocking overlay that had no close control: {:?}",
                    d.label
                ));
            }
            report
                .dialogs_dismissed
                .push(format!("{}: {}", d.kind, d.label));
        }
        Ok(n)
    }

    async fn expand(
        &self,
        sweep: bool,
        limit: u64,
        report: &mut PassReport,
    ) -> Result<u64, BrowserError> {
        let labels: Vec<String> = self
            .call(
                // Every visible expander of the page in each round: chains
                // (more comments, then their replies) take one round per
                // link of the chain, not one per link and viewport.
                &format!("__bevara.expand({}, {sweep}, {limit}, true)", self.cfg),
                CALL,
            )
            .await?;
        for l in &labels {
            *report.expander_labels.entry(l.clone()).or_default() += 1;
        }
        report.expanders_clicked += labels.len() as u64;
        Ok(labels.len() as u64)
    }

    pub(super) async fn collect(&self, report: &mut PassReport) -> Result<(), BrowserError> {
        let batch: Vec<RawItem> = self
            .call(&format!("__bevara.items({})", self.rules), CALL)
            .await?;
        if let Some(t) = &self.targets {
            let _: u64 = self
                .call(&format!("__bevara.noteTargets({t})"), CALL)
                .await?;
        }
        report.collected.add(batch);
        report.items_collected = report.collected.len();
        Ok(())
    }

    pub(super) async fn menus(&self, report: &mut PassReport) -> Result<(), BrowserError> {
        if self.behaviour.menu_choices.is_empty() {
            return Ok(());
        }
        let before = self.state().await?.mutations;
        let set: Vec<String> = self
            .call(&format!("__bevara.menus({})", self.cfg), CALL)
            .await?;
        if !set.is_empty() {
            self.settle(
                before,
                self.behaviour.quiet_ms,
                self.behaviour.expander_wait_ms,
                true,
            )
            .await?;
            report.menus_set.extend(set);
        }
        Ok(())
    }

    /// Removes, dismisses and unblocks what covers the page; says how many
    /// dialogs it dismissed or unblocked.
    pub(super) async fn clear_dialogs(
        &self,
        report: &mut PassReport,
    ) -> Result<usize, BrowserError> {
        let _removed: u64 = self
            .call(&format!("__bevara.remove({})", self.cfg), CALL)
            .await?;
        let before = self.state().await?.mutations;
        let mut n = self.dismiss(report).await?;
        if n > 0 {
            self.settle(before, self.behaviour.quiet_ms, 3000, true)
                .await?;
            // A dismissed dialog may reveal or open another (consent, then a nag).
            n += self.dismiss(report).await?;
        }
        n += self.unblock(report).await?;
        Ok(n)
    }
}

/// A value as a JavaScript literal for the kit.
pub(super) fn to_json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "{}".into())
}

/// Whether two URLs name the same document (the fragment aside).
pub fn same_document(a: &str, b: &str) -> bool {
    let strip = |u: &str| u.split('#').next().unwrap_or(u).to_string();
    strip(a) == strip(b)
}

/// Runs the pass on a loaded page with a profile's behaviour, collects its
/// items as they pass, and leaves it scrolled to the top.
pub async fn run_pass(
    page: &Page,
    profile: &Profile,
    budget: &PassBudget,
    pacing: Option<&Pacing>,
    progress: Option<&watch::Sender<Progress>>,
) -> Result<PassReport, PassError> {
    let mut report = PassReport {
        behaviour: profile.behaviour.name.clone(),
        ..Default::default()
    };
    run_pass_into(page, profile, budget, pacing, progress, &mut report).await?;
    Ok(report)
}

/// [`run_pass`] adding to `report`, which keeps what was collected when the
/// pass fails part way.
pub async fn run_pass_into(
    page: &Page,
    profile: &Profile,
    budget: &PassBudget,
    pacing: Option<&Pacing>,
    progress: Option<&watch::Sender<Progress>>,
    report: &mut PassReport,
) -> Result<(), PassError> {
    let driver = Driver::new(page, profile);
    driver.install().await?;
    drive(
        &driver,
        budget,
        pacing,
        progress,
        "scroll and expand",
        report,
    )
    .await
}

/// The scroll-and-expand loop over whatever scrolls now: the page, or the
/// open post's dialog.
pub(super) async fn drive(
    driver: &Driver<'_>,
    budget: &PassBudget,
    pacing: Option<&Pacing>,
    progress: Option<&watch::Sender<Progress>>,
    phase: &'static str,
    report: &mut PassReport,
) -> Result<(), PassError> {
    let started = Instant::now();
    let behaviour = &driver.behaviour;
    let start_url = driver.state().await?.url;
    driver.clear_dialogs(report).await?;
    driver.menus(report).await?;
    driver.collect(report).await?;

    let mut at_end_checks = 0u32;
    let mut last_dwell_y: Option<f64> = None;
    // A page that puts a dialog back every time cannot keep the pass going.
    const MAX_DIALOG_RESETS: u32 = 5;
    let mut dialog_resets = 0u32;
    let quiet = behaviour.quiet_ms;
    // No wait runs past the pass's time: a turn that starts just before it
    // ends must not eat the time kept for the artifacts.
    let wait = |ms: u64| {
        let left = budget.max_duration.saturating_sub(started.elapsed());
        ms.min(left.as_millis() as u64).max(100)
    };
    loop {
        let st = driver.state().await?;
        if !same_document(&st.url, &start_url) {
            return Err(PassError::NavigatedAway {
                from: start_url,
                to: st.url,
            });
        }
        report.inner_scroller |= st.inner_scroller;
        report.final_height = st.height as u64;
        if let Some(tx) = progress {
            tx.send_replace(Progress {
                phase,
                scroll_y: st.scroll_y as u64,
                height: st.height as u64,
                expanders: report.expanders_clicked,
                steps: report.scroll_steps,
                elapsed: started.elapsed(),
            });
        }
        let stop = budget.reached(
            started.elapsed(),
            st.height as u64,
            report.expanders_clicked,
            report.scroll_steps,
        );
        if let Some(what) = stop {
            report.warnings.push(format!(
                "the pass stopped at its {what} budget before the end of the page; content below {} px may be missing",
                st.height as u64
            ));
            report.stopped_by = Some(what);
            break;
        }

        let left = budget.max_clicks - report.expanders_clicked;
        if driver.expand(false, left, report).await? > 0 {
            driver
                .settle_after_clicks(st.mutations, quiet, wait(behaviour.expander_wait_ms))
                .await?;
            // A viewer is shown what opened once per place on the page,
            // not after every round of clicks.
            if let (Some(p), true) = (pacing, last_dwell_y != Some(st.scroll_y)) {
                tokio::time::sleep(p.dwell).await;
                last_dwell_y = Some(st.scroll_y);
            }
            driver.clear_dialogs(report).await?;
            driver.menus(report).await?;
            driver.collect(report).await?;
            at_end_checks = 0;
            continue;
        }
        if !st.at_bottom {
            let step_started = Instant::now();
            let dy = (st.view * behaviour.scroll_step).max(100.0);
            // Paced for a viewer, the step is a glide of small moves over half
            // the step's time, so the recording shows where the page went.
            let moves = if pacing.is_some() { SMOOTH_MOVES } else { 1 };
            for i in 0..moves {
                driver
                    .call::<serde_json::Value>(
                        &format!("__bevara.scrollBy({})", dy / moves as f64),
                        CALL,
                    )
                    .await?;
                if let (Some(p), true) = (pacing, i + 1 < moves) {
                    tokio::time::sleep(p.step / (2 * moves)).await;
                }
            }
            report.scroll_steps += 1;
            driver.settle(st.mutations, 150, wait(1500), false).await?;
            if let Some(p) = pacing {
                tokio::time::sleep(p.step.saturating_sub(step_started.elapsed())).await;
            }
            driver.clear_dialogs(report).await?;
            driver.menus(report).await?;
            driver.collect(report).await?;
            continue;
        }
        // At the bottom: give lazy loading time to add more.
        if driver
            .settle(st.mutations, quiet, wait(behaviour.end_wait_ms), true)
            .await?
        {
            let after = driver.state().await?;
            if after.height > st.height + 1.0 {
                at_end_checks = 0;
                continue;
            }
        }
        // A dialog that came up while the feed seemed to end (a login nag
        // holding back the next batch) is no end: go on once it is gone.
        if driver.clear_dialogs(report).await? > 0 && dialog_resets < MAX_DIALOG_RESETS {
            dialog_resets += 1;
            at_end_checks = 0;
            continue;
        }
        at_end_checks += 1;
        if at_end_checks < behaviour.end_checks {
            continue;
        }
        // The end of the feed: sweep the whole page for expanders that
        // appeared after they were scrolled past.
        let before = driver.state().await?.mutations;
        let left = budget.max_clicks - report.expanders_clicked;
        if driver.expand(true, left, report).await? > 0 {
            driver
                .settle_after_clicks(before, quiet, wait(behaviour.expander_wait_ms))
                .await?;
            at_end_checks = 0;
            continue;
        }
        // The last look: a dialog opened by the sweep's scrolling.
        if driver.clear_dialogs(report).await? > 0 && dialog_resets < MAX_DIALOG_RESETS {
            dialog_resets += 1;
            at_end_checks = 0;
            continue;
        }
        break;
    }
    driver.collect(report).await?;
    let st = driver.state().await?;
    report.final_height = st.height as u64;
    driver
        .call::<serde_json::Value>("__bevara.scrollTo(0)", CALL)
        .await?;
    driver.settle(0, 200, 1500, false).await?;
    report.duration_ms += started.elapsed().as_millis() as u64;
    if let Some(tx) = progress {
        tx.send_replace(Progress {
            phase: "expanded",
            scroll_y: 0,
            height: report.final_height,
            expanders: report.expanders_clicked,
            steps: report.scroll_steps,
            elapsed: started.elapsed(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tall_page_ends_the_pass_early_enough_for_its_screenshot() {
        let b = PassBudget {
            max_duration: Duration::from_secs(10),
            deadline: Some(Duration::from_secs(15)),
            max_height: 300_000,
            max_clicks: 1000,
            max_scroll_steps: 1000,
        };
        // 5 s are kept for the artifacts: 40,000 px need 4 s of them.
        assert_eq!(b.reached(Duration::from_secs(9), 40_000, 0, 0), None);
        // 80,000 px need 8 s, 3 s more than kept: the pass ends at 7 s.
        assert_eq!(b.reached(Duration::from_secs(6), 80_000, 0, 0), None);
        assert_eq!(
            b.reached(Duration::from_secs(7), 80_000, 0, 0).as_deref(),
            Some("duration (15 s)")
        );
    }
}
