//! The pipeline for one channel: load the page, run the behaviour pass, then
//! write the full-page screenshot, PDF, MHTML and text, describe them in a
//! manifest, store everything and verify it. A capture is marked complete
//! only after every artifact has been stored and read back with the right
//! checksum; any failure marks it failed with a code and a reason.

mod artifacts;
mod deadline;
mod error;
mod finish;
mod job;
mod load;
pub mod manifest;
mod options;
mod pages;
mod pdf;
mod posts;
pub mod recording;
pub mod screenshot;
mod step;
pub mod wacz;

use crate::behaviour::{Pacing, PassBudget, PassReport, Progress};
use crate::browser::guard::{system_resolver, Guard};
use crate::browser::navgate::NavGate;
use crate::browser::{eval, Browser, BrowserContext, BrowserError};
use crate::db::{CaptureRecord, CaptureState};
use crate::exit::ExitCode;
use crate::registry::Channel;
use crate::target;
use crate::Bevara;
use chrono::{DateTime, Datelike, Utc};
use deadline::Deadline;
pub use error::CaptureError;
pub use job::{cancelled, run_job, Cancel, CaptureJob, Failure, Outcome};
use load::{load_session, login_wall, Loaded, LOADED_JS, PAGE_HEIGHT_JS, PAGE_TEXT_JS};
use manifest::{
    Manifest, ManifestBrowser, ManifestChannel, ManifestTrigger, Viewport, MANIFEST_SCHEMA,
    MANIFEST_SCHEMA_VERSION,
};
pub use options::{check_recorder, host_name, os_user, recording_options, CaptureOptions, Trigger};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::watch;
use tracing::Instrument;
use ulid::Ulid;

/// A finished, complete capture.
#[derive(Debug, Clone)]
pub struct CaptureOutcome {
    pub snapshot_id: String,
    pub manifest: Manifest,
    /// Where the artifacts were stored (the store's description).
    pub stored_in: String,
    /// The directory holding the snapshot, for a local store.
    pub local_dir: Option<PathBuf>,
}

impl CaptureOutcome {
    /// Complete, but a budget ended the pass early.
    pub fn truncated(&self) -> bool {
        self.manifest.truncated
    }
}

/// Removes work directories that no running capture owns: those of
/// processes killed in the middle. Returns how many were removed.
pub async fn remove_stale_work(bevara: &Bevara) -> usize {
    let dir = bevara.settings().work_dir();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return 0;
    };
    let mut removed = 0;
    for e in entries.filter_map(Result::ok) {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.parse::<Ulid>().is_err() {
            continue;
        }
        let running = matches!(
            bevara.db().capture(&name).await,
            Ok(c) if c.state == CaptureState::Running
        );
        if !running && std::fs::remove_dir_all(e.path()).is_ok() {
            tracing::info!(dir = %e.path().display(), "removed the work files of an ended capture");
            removed += 1;
        }
    }
    removed
}

/// The Object Lock retention a capture of `channel` at `at` gets: the
/// channel's own days, else `store.object_lock_days`; none at 0.
pub fn retention(
    settings: &crate::config::Settings,
    channel: &Channel,
    at: DateTime<Utc>,
) -> Option<crate::store::Retention> {
    let days = channel
        .retain_days
        .unwrap_or(settings.store.object_lock_days);
    (days > 0).then(|| crate::store::Retention {
        mode: settings.store.object_lock_mode.clone(),
        until: at + chrono::Duration::days(i64::from(days)),
        days,
    })
}

/// The object key prefix of a snapshot.
pub fn snapshot_prefix(channel: &str, at: DateTime<Utc>, snapshot_id: &str) -> String {
    format!(
        "{channel}/{:04}/{:02}/{:02}/{snapshot_id}",
        at.year(),
        at.month(),
        at.day()
    )
}

struct Produced {
    name: String,
    media_type: &'static str,
    path: PathBuf,
    size: Option<(u32, u32)>,
}

impl Produced {
    /// A finished recording as the artifact `name`.
    fn recording(name: String, s: &recording::RecordingStats) -> Self {
        Self {
            name,
            media_type: s.format.media_type(),
            path: s.path.clone(),
            size: Some((s.width, s.height)),
        }
    }
}

/// Captures `channel` now with `browser`. The capture is recorded in the
/// database from the start; on failure it is marked failed with the reason.
pub async fn capture_channel(
    bevara: &Bevara,
    browser: &Browser,
    channel: &Channel,
    trigger: Trigger,
    options: &CaptureOptions,
    progress: Option<&watch::Sender<Progress>>,
) -> Result<CaptureOutcome, CaptureError> {
    let snapshot_id = Ulid::new().to_string();
    capture_with_id(
        bevara,
        browser,
        channel,
        trigger,
        options,
        progress,
        &snapshot_id,
    )
    .await
}

/// [`capture_channel`] with the snapshot id chosen by the caller, who can
/// then record the capture's end even when it drops this future.
pub(crate) async fn capture_with_id(
    bevara: &Bevara,
    browser: &Browser,
    channel: &Channel,
    trigger: Trigger,
    options: &CaptureOptions,
    progress: Option<&watch::Sender<Progress>>,
    snapshot_id: &str,
) -> Result<CaptureOutcome, CaptureError> {
    let snapshot_id = snapshot_id.to_string();
    let span = tracing::info_span!("capture", snapshot = %snapshot_id, channel = %channel.id);
    let requested_at = Utc::now();
    let record = CaptureRecord {
        id: snapshot_id.clone(),
        channel_id: channel.id.to_string(),
        state: CaptureState::Running,
        trigger: trigger.kind.clone(),
        reason: trigger.reason.clone(),
        requested_by: trigger.requested_by.clone(),
        requested_at,
        started_at: Some(requested_at),
        finished_at: None,
        url: channel.url.clone(),
        final_url: None,
        title: None,
        failure_code: None,
        failure: None,
        warnings: 0,
        truncated: false,
        manifest_key: None,
        worker: Some(format!("{}:{}", host_name(), std::process::id())),
        job_id: trigger.job_id.clone(),
    };
    // A full spool refuses new captures rather than push out waiting ones.
    crate::store::spool::check_room(bevara.settings())?;
    bevara.db().insert_capture(&record).await?;
    let work = bevara.settings().work_dir().join(&snapshot_id);
    let result = async {
        std::fs::create_dir_all(&work).map_err(|source| {
            (
                CaptureError::Work {
                    path: work.clone(),
                    source,
                },
                None,
            )
        })?;
        run(
            bevara,
            browser,
            channel,
            &trigger,
            options,
            &snapshot_id,
            requested_at,
            &work,
            progress,
        )
        .await
    }
    .instrument(span.clone())
    .await;
    let _ = std::fs::remove_dir_all(&work);
    match result {
        Ok(outcome) => {
            let _e = span.enter();
            tracing::info!(truncated = outcome.truncated(), "capture complete");
            Ok(outcome)
        }
        Err((err @ CaptureError::UploadPending { .. }, _)) => {
            // Captured and spooled: recorded upload-pending, not failed.
            Err(err)
        }
        Err((mut err, final_url)) => {
            // A failure while Chromium was dying is the browser's failure,
            // whatever step noticed it first. Only failures that talk to the
            // browser can be that; the others need no wait.
            let browser_step = matches!(
                err,
                CaptureError::Browser { .. }
                    | CaptureError::Pass { .. }
                    | CaptureError::Screenshot { .. }
                    | CaptureError::Artifact { .. }
                    | CaptureError::Navigation { .. }
                    | CaptureError::Recording { .. }
            );
            for _ in 0..if browser_step { 10 } else { 0 } {
                if !browser.is_alive() {
                    if err.exit_code() != ExitCode::Browser {
                        err = CaptureError::Browser {
                            url: channel.url.clone(),
                            source: BrowserError::Dead,
                        };
                    }
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            let _e = span.enter();
            tracing::warn!(error = %err, "capture failed");
            bevara
                .db()
                .fail_capture(
                    &snapshot_id,
                    err.exit_code().name(),
                    &err.to_string(),
                    final_url.as_deref(),
                )
                .await?;
            Err(err)
        }
    }
}

type RunResult = Result<CaptureOutcome, (CaptureError, Option<String>)>;

#[allow(clippy::too_many_arguments)]
async fn run(
    bevara: &Bevara,
    browser: &Browser,
    channel: &Channel,
    trigger: &Trigger,
    options: &CaptureOptions,
    snapshot_id: &str,
    requested_at: DateTime<Utc>,
    work: &Path,
    progress: Option<&watch::Sender<Progress>>,
) -> RunResult {
    let settings = bevara.settings();
    let c = &settings.capture;
    let deadline = Deadline::new(
        Duration::from_secs(c.max_duration_secs),
        Duration::from_secs(c.artifact_reserve_secs),
    );
    let phase = |p: &'static str| {
        if let Some(tx) = progress {
            tx.send_modify(|s| s.phase = p);
        }
    };
    let url = target::parse(&channel.url).map_err(|e| (e.into(), None))?;
    let policy = settings.egress_policy();
    target::check_with(&url, &policy)
        .await
        .map_err(|e| (e.into(), None))?;
    // A stored login session is decrypted first, so a wrong key fails fast.
    let session = load_session(settings, channel).map_err(|e| (e, None))?;
    phase("opening browser context");
    let url_s = url.to_string();
    // Every request of the context goes through the egress guard.
    let guard = Guard::start(policy, system_resolver())
        .await
        .map_err(|source| {
            (
                CaptureError::Work {
                    path: "egress guard (127.0.0.1)".into(),
                    source,
                },
                None,
            )
        })?;
    let proxy = (!crate::bench::guard::unguarded()).then(|| guard.proxy_server());
    let ctx = browser
        .new_context_via(proxy.as_deref())
        .await
        .map_err(|source| {
            (
                CaptureError::Browser {
                    url: url_s.clone(),
                    source,
                },
                None,
            )
        })?;
    let result = run_in_context(
        bevara,
        browser,
        &ctx,
        channel,
        trigger,
        options,
        snapshot_id,
        requested_at,
        work,
        &url,
        session.as_ref(),
        progress,
        &guard,
        &deadline,
    )
    .await;
    browser.dispose(ctx).await;
    result
}

#[allow(clippy::too_many_arguments)]
async fn run_in_context(
    bevara: &Bevara,
    browser: &Browser,
    ctx: &BrowserContext,
    channel: &Channel,
    trigger: &Trigger,
    options: &CaptureOptions,
    snapshot_id: &str,
    requested_at: DateTime<Utc>,
    work: &Path,
    url: &url::Url,
    session: Option<&crate::session::StoredSession>,
    progress: Option<&watch::Sender<Progress>>,
    guard: &Guard,
    deadline: &Deadline,
) -> RunResult {
    let settings = bevara.settings();
    let page = &ctx.page;
    let url_s = url.to_string();
    let phase = |p: &'static str| {
        if let Some(tx) = progress {
            tx.send_modify(|s| s.phase = p);
        }
    };
    let browser_err = |source: BrowserError| {
        (
            CaptureError::Browser {
                url: url_s.clone(),
                source,
            },
            None,
        )
    };
    let mut warnings = Vec::new();
    let rec_opts = recording_options(settings);
    let recording_failed = |source: recording::RecordingError| {
        (
            CaptureError::Recording {
                url: url_s.clone(),
                source,
            },
            None,
        )
    };
    let mut title_jpeg = None;
    if options.record && rec_opts.title_seconds > 0.0 {
        let card = recording::TitleCard {
            channel: match &channel.name {
                Some(n) => format!("{n} ({})", channel.id),
                None => channel.id.to_string(),
            },
            url: url_s.clone(),
            captured_at: requested_at,
            snapshot_id: snapshot_id.to_string(),
        };
        // Rendered in the capture's own page before the channel loads.
        match recording::render_title_card(page, &card, rec_opts.width, rec_opts.height).await {
            Ok(jpeg) => title_jpeg = Some(jpeg),
            Err(e) if settings.recording.required => return Err(recording_failed(e)),
            Err(e) => warnings.push(format!("the recording has no title card: {e}")),
        }
    }

    let mut manifest_session = None;
    if let Some(s) = session {
        let (cookies, storage) = crate::session::apply(page, &s.state).await.map_err(|e| {
            (
                CaptureError::Session {
                    channel: channel.id.to_string(),
                    source: e,
                },
                None,
            )
        })?;
        let summary = s.state.summary();
        if cookies < summary.cookies {
            warnings.push(format!(
                "the browser took {cookies} of the session's {} cookies (the others were expired or invalid)",
                summary.cookies
            ));
        }
        manifest_session = Some(manifest::ManifestSession {
            imported_at: s.imported_at,
            cookies: summary.cookies,
            cookies_applied: cookies,
            local_storage_items: storage,
            domains: summary.domains,
            earliest_expiry: summary.earliest_expiry,
        });
    }

    // Only Bevara navigates the page from here on.
    let gate = NavGate::install(page).await.map_err(browser_err)?;
    // The traffic for the WACZ, from before the first request.
    let netlog = if settings.capture.wacz {
        let cap = settings.capture.wacz_max_body_mb.saturating_mul(1 << 20);
        match wacz::NetLog::start(page, &work.join("wacz-bodies"), cap).await {
            Ok(n) => Some(n),
            Err(e) => {
                warnings.push(format!("no WACZ: the traffic could not be recorded: {e}"));
                None
            }
        }
    } else {
        None
    };

    // 1. Load, bounded.
    phase("loading");
    let loaded = load::load(page, &gate, url, settings, deadline, &mut warnings)
        .await
        .map_err(|(e, at)| match guard.blocked().into_iter().next() {
            // The document (or a redirect hop) went where the guard refused:
            // the guard's 403, or the tunnel it would not open.
            Some(b)
                if matches!(
                    e,
                    CaptureError::HttpStatus { status: 403, .. }
                        | CaptureError::Unreachable { .. }
                        | CaptureError::Navigation { .. }
                ) =>
            {
                (
                    CaptureError::Refused {
                        url: url_s.clone(),
                        hop: b.target,
                        reason: b.reason,
                    },
                    at,
                )
            }
            _ => (e, at),
        })?;
    let call = Duration::from_secs(10);

    // 2. Scroll and expand.
    phase("scroll and expand");
    let profile = bevara.profiles().for_channel(channel);
    let c = &settings.capture;
    let budget = PassBudget {
        max_duration: deadline.pass_left(),
        deadline: Some(deadline.total()),
        max_height: c.max_page_height,
        max_clicks: c.max_expander_clicks,
        max_scroll_steps: c.max_scroll_steps,
    };
    let recording_path = work.join(format!("recording.{}", rec_opts.format.extension()));
    let mut recorder = None;
    if options.record {
        phase("recording");
        let mut opts = rec_opts.clone();
        opts.metadata = vec![
            (
                "title".into(),
                format!("Bevara: {} ({})", channel.id, url_s),
            ),
            (
                "comment".into(),
                format!(
                    "snapshot {snapshot_id}, requested {}",
                    requested_at.to_rfc3339()
                ),
            ),
        ];
        match recording::Recorder::start(page, &recording_path, opts, title_jpeg.take()).await {
            Ok(r) => recorder = Some(r),
            Err(e) if settings.recording.required => return Err(recording_failed(e)),
            Err(e) => warnings.push(format!("no screen recording: {e}")),
        }
    }
    let paced = recorder.is_some() || (options.pace && !options.record);
    let pacing = paced.then(|| Pacing {
        step: Duration::from_millis(settings.recording.step_ms),
        dwell: Duration::from_millis(settings.recording.dwell_ms),
    });
    let main_step = step::Step {
        page,
        profile,
        settings,
        work,
        budget: &budget,
        deadline,
        gate: &gate,
        pacing: pacing.as_ref(),
        record: None,
        progress,
        start_url: &loaded.href,
    };
    let pass_result = main_step
        .pass_here(&loaded.href, &budget, pacing.as_ref())
        .await;
    // Items the page itself held, before any post was opened: what tells a
    // virtualized feed from one that keeps its items.
    let page_items = pass_result.as_ref().map(|p| p.collected.len()).unwrap_or(0);
    let mut produced = Vec::new();
    let pass_result = match pass_result {
        Err(e) => Err(e),
        Ok(mut pass) => {
            // A login wall is not the channel: say so instead of archiving
            // it, before any post is opened behind it.
            let redirected = load::redirected(&url_s, &loaded.href);
            match login_wall(page, profile, redirected).await {
                Err(e) => Err(browser_err(e)),
                Ok(Some(what)) => Err((
                    CaptureError::LoginRequired {
                        url: url_s.clone(),
                        channel: channel.id.to_string(),
                        what,
                    },
                    Some(loaded.href.clone()),
                )),
                Ok(None) => {
                    // Posts whose comments open in dialogs, one at a time,
                    // while the recording runs.
                    let after: Result<Loaded, _> = eval(page, LOADED_JS, call).await;
                    let start_url = after.map(|a| a.href).unwrap_or_else(|_| url_s.clone());
                    step::Step {
                        start_url: &start_url,
                        ..main_step
                    }
                    .open_posts(&mut pass, &mut produced)
                    .await
                    .map(|()| pass)
                }
            }
        }
    };
    let mut recording_stats = None;
    if let Some(r) = recorder {
        phase("finishing recording");
        match r.stop().await {
            Ok(stats) => {
                if stats.truncated {
                    warnings.push(format!(
                        "the recording stopped at recording.max_duration_secs = {} s before the pass ended",
                        settings.recording.max_duration_secs
                    ));
                }
                recording_stats = Some(stats);
            }
            Err(e) if settings.recording.required && pass_result.is_ok() => {
                return Err(recording_failed(e))
            }
            Err(e) => warnings.push(format!("the screen recording failed and was left out: {e}")),
        }
    }
    let mut pass: PassReport = pass_result?;
    warnings.extend(pass.warnings.iter().cloned());
    let mut truncated = pass.stopped_by.is_some();
    let after: Loaded = eval(page, LOADED_JS, call).await.map_err(browser_err)?;
    let tz: chrono_tz::Tz = settings
        .browser
        .timezone
        .parse()
        .unwrap_or(chrono_tz::Europe::Stockholm);
    let mut collected = std::mem::take(&mut pass.collected);

    // 3. Artifacts.
    let final_url = Some(after.href.clone());
    let fail = |artifact: &'static str, reason: String| {
        (
            CaptureError::Artifact {
                url: url_s.clone(),
                artifact,
                reason,
            },
            final_url.clone(),
        )
    };
    let mut pages = vec![after.href.clone()];
    let manifest_recording = recording_stats.map(|s| {
        let name = format!("recording.{}", s.format.extension());
        produced.push(Produced::recording(name.clone(), &s));
        manifest::ManifestRecording {
            artifact: name.to_string(),
            format: s.format.name().to_string(),
            codec: s.codec.clone(),
            width: s.width,
            height: s.height,
            fps: s.fps,
            duration_secs: s.duration_secs,
            frames: s.frames_written,
            title_frames: s.title_frames,
            frames_received: s.frames_received,
            encoder_cpu_secs: s.encoder_cpu_secs,
            truncated: s.truncated,
            encoder: s.encoder.clone(),
        }
    });

    let step = step::Step {
        pacing: None,
        record: match (&manifest_recording, &pacing) {
            (Some(_), Some(p)) => Some((&rec_opts, p)),
            _ => None,
        },
        start_url: &after.href,
        ..main_step
    };
    let stats = step
        .page_artifacts(&url_s, page_items, &mut warnings, &mut produced)
        .await?;
    // Further pages of the same content (comment pages of a blog post).
    if let Some(why) = step
        .further_pages(
            url,
            &mut collected,
            &mut produced,
            &mut pages,
            &mut warnings,
        )
        .await?
    {
        truncated = true;
        pass.stopped_by.get_or_insert(why);
    }
    if let Some(n) = netlog {
        phase("wacz");
        let titled: Vec<(String, String)> = pages
            .iter()
            .map(|p| (p.clone(), channel.name.clone().unwrap_or_else(|| p.clone())))
            .collect();
        match n.finish(work, &titled, requested_at).await {
            Ok((path, st)) => {
                if !st.missing.is_empty() {
                    warnings.push(format!(
                        "the WACZ lacks {} response bodies (over capture.wacz_max_body_mb, or unreadable): {}",
                        st.missing.len(),
                        st.missing.join(", ")
                    ));
                }
                produced.push(Produced {
                    name: "capture.wacz".into(),
                    media_type: "application/wacz",
                    path,
                    size: None,
                });
            }
            Err(e) => warnings.push(format!("no WACZ: {e}")),
        }
    }
    // Navigations the page started by itself (a submitted form, a script)
    // were stopped; say where they would have gone.
    let cancelled = gate.cancelled();
    if !cancelled.is_empty() {
        let mut to: Vec<String> = cancelled
            .iter()
            .map(|c| format!("{} {}", c.method, c.url))
            .collect();
        to.dedup();
        warnings.push(format!(
            "{} navigation(s) the page started by itself were stopped so the archived page stayed: {}",
            cancelled.len(),
            to.join(", ")
        ));
    }
    let items_doc = finish::items_document(
        collected.finish(requested_at, tz),
        snapshot_id,
        channel,
        requested_at,
        &profile.name,
    );
    let dom_lacks = finish::whole_text(&produced, &items_doc.items).map_err(|e| fail("text", e))?;
    if settings.capture.pdf && (dom_lacks || settings.capture.pdf_from == "screenshots") {
        // A print of the DOM misses what scrolled away, the dialogs and the
        // further pages: the PDF is made from the screenshots.
        phase("pdf from screenshots");
        let path = work.join("page.pdf");
        pdf_from_screenshots(&produced, &path)
            .await
            .map_err(|e| fail("PDF", e))?;
        if !produced.iter().any(|p| p.name == "page.pdf") {
            produced.push(Produced {
                name: "page.pdf".into(),
                media_type: "application/pdf",
                path,
                size: None,
            });
        }
    }
    let items_artifact =
        finish::write_json(work, "items.json", &items_doc).map_err(|e| fail("items", e))?;
    produced.push(items_artifact);
    let diff = finish::diff_with_previous(
        bevara,
        channel.id.as_str(),
        snapshot_id,
        requested_at,
        &items_doc.items,
        &mut warnings,
    )
    .await;
    let counts = items_doc.counts.clone();

    let blocked = guard.blocked();
    if !blocked.is_empty() {
        let mut targets: Vec<&str> = blocked.iter().map(|b| b.target.as_str()).collect();
        targets.sort_unstable();
        targets.dedup();
        warnings.push(format!(
            "the egress guard refused {} request(s) of the page to non-public addresses: {}",
            blocked.len(),
            targets.join(", ")
        ));
    }
    let finished_at = Utc::now();

    // 4. Manifest, store, verify, record.
    phase("storing");
    let prefix = snapshot_prefix(channel.id.as_str(), requested_at, snapshot_id);
    let artifacts = finish::describe(&produced, &prefix).map_err(|e| fail("artifact", e))?;
    let manifest = Manifest {
        schema: MANIFEST_SCHEMA.into(),
        schema_version: MANIFEST_SCHEMA_VERSION,
        snapshot_id: snapshot_id.to_string(),
        channel: ManifestChannel {
            id: channel.id.to_string(),
            platform: channel.platform.to_string(),
            name: channel.name.clone(),
            owner: channel.owner.clone(),
            url: channel.url.clone(),
        },
        requested_url: url_s.clone(),
        final_url: after.href.clone(),
        title: after.title.clone(),
        http_status: loaded.status,
        requested_at,
        started_at: requested_at,
        finished_at,
        trigger: ManifestTrigger {
            kind: trigger.kind.clone(),
            reason: trigger.reason.clone(),
            requested_by: trigger.requested_by.clone(),
            job_id: trigger.job_id.clone(),
            schedule: trigger.schedule.clone(),
            fire_time: trigger.fire_time,
            debate: trigger.debate.clone(),
        },
        browser: ManifestBrowser {
            product: browser.version().to_string(),
            user_agent: browser.user_agent().to_string(),
            viewport: Viewport {
                width: settings.browser.viewport_width,
                height: settings.browser.viewport_height,
            },
            locale: settings.browser.locale.clone(),
            timezone: settings.browser.timezone.clone(),
        },
        behaviour: pass,
        profile: profile.name.clone(),
        pages,
        items: counts,
        diff: diff.as_ref().map(crate::archive::DiffSummary::of),
        screenshot: Some(stats),
        recording: manifest_recording,
        session: manifest_session,
        truncated,
        warnings: warnings.clone(),
        retention: retention(settings, channel, requested_at),
        artifacts,
        generator: format!("bevara {}", env!("CARGO_PKG_VERSION")),
    };
    let (manifest, stored) =
        finish::store_and_record(bevara, &manifest, &produced, Some(after.title.clone()))
            .await
            .map_err(|e| (e, final_url.clone()))?;
    phase("complete");
    let store = bevara.store();
    Ok(CaptureOutcome {
        snapshot_id: snapshot_id.to_string(),
        manifest,
        stored_in: store.describe(),
        local_dir: store
            .local_path(&stored.key)
            .and_then(|p| p.parent().map(Path::to_path_buf)),
    })
}

/// Writes `out` (`page.pdf`) from the screenshots in page order (the page, its
/// opened posts, its further pages) with `text.txt` as the text layer.
async fn pdf_from_screenshots(produced: &[Produced], out: &Path) -> Result<(), String> {
    let text = produced
        .iter()
        .find(|p| p.name == "text.txt")
        .map(|p| std::fs::read_to_string(&p.path).unwrap_or_default())
        .unwrap_or_default();
    let mut shots: Vec<&Produced> = produced
        .iter()
        .filter(|p| {
            p.name.ends_with(".png")
                && (p.name == "screenshot.png"
                    || p.name.starts_with("post-")
                    || p.name.starts_with("screenshot-p"))
        })
        .collect();
    shots.sort_by_key(|p| {
        (
            if p.name == "screenshot.png" {
                0
            } else if p.name.starts_with("post-") {
                1
            } else {
                2
            },
            finish::page_number(&p.name),
            p.name.clone(),
        )
    });
    let pngs: Vec<PathBuf> = shots.iter().map(|p| p.path.clone()).collect();
    let out = out.to_path_buf();
    let stats = tokio::task::spawn_blocking(move || pdf::from_screenshots(&pngs, &text, &out))
        .await
        .map_err(|e| e.to_string())??;
    tracing::info!(
        pages = stats.pages,
        lines = stats.text_lines,
        "PDF made from the screenshots"
    );
    Ok(())
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    std::fs::write(path, bytes).map_err(|e| format!("{}: {e}", path.display()))
}
