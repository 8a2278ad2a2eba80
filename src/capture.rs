//! The pipeline for one channel: load the page, run the behaviour pass, then
//! write the full-page screenshot, PDF, MHTML and text, describe them in a
//! manifest, store everything and verify it. A capture is marked complete
//! only after every artifact has been stored and read back with the right
//! checksum; any failure marks it failed with a code and a reason.

pub mod manifest;
mod posts;
pub mod recording;
pub mod screenshot;

use crate::behaviour::items::{ItemCounts, ItemsDocument, ITEMS_SCHEMA_VERSION};
use crate::behaviour::{run_pass, Pacing, PassBudget, PassError, PassReport, Progress};
use crate::browser::{eval, Browser, BrowserContext, BrowserError};
use crate::db::{CaptureFinish, CaptureRecord, CaptureState, DbError};
use crate::exit::ExitCode;
use crate::registry::Channel;
use crate::store::{sha256_file, StoreError};
use crate::target::{self, TargetError};
use crate::Bevara;
use base64::Engine as _;
use chromiumoxide::cdp::browser_protocol::page::{
    CaptureSnapshotFormat, CaptureSnapshotParams, PrintToPdfParams,
};
use chrono::{DateTime, Datelike, Utc};
use manifest::{
    Manifest, ManifestArtifact, ManifestBrowser, ManifestChannel, ManifestTrigger, Viewport,
    MANIFEST_SCHEMA, MANIFEST_SCHEMA_VERSION,
};
use screenshot::ScreenshotError;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::watch;
use tracing::Instrument;
use ulid::Ulid;

/// Who or what asked for a capture.
#[derive(Debug, Clone)]
pub struct Trigger {
    /// `manual` or `schedule`.
    pub kind: String,
    pub reason: Option<String>,
    pub requested_by: Option<String>,
}

impl Trigger {
    /// A capture asked for on the command line by the current OS user.
    pub fn manual(reason: Option<String>) -> Self {
        Self {
            kind: "manual".into(),
            reason,
            requested_by: Some(os_user()),
        }
    }
}

/// The name of the user running this process.
pub fn os_user() -> String {
    for var in ["USER", "LOGNAME"] {
        if let Ok(u) = std::env::var(var) {
            if !u.is_empty() {
                return u;
            }
        }
    }
    // SAFETY-free fallback: the numeric uid from /proc.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(|uid| format!("uid {uid}")))
        })
        .unwrap_or_else(|| "unknown".into())
}

/// This host's name, for the worker column of captures.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "localhost".into())
}

/// Choices for one capture beyond the settings.
#[derive(Debug, Clone)]
pub struct CaptureOptions {
    /// Make a screen recording of the pass.
    pub record: bool,
    /// Pace the pass for a viewer (recording.step_ms, recording.dwell_ms).
    /// Recording implies it; alone it lets a benchmark compare like with like.
    pub pace: bool,
}

impl CaptureOptions {
    /// Records when the settings, the channel and the caller all want it.
    pub fn for_channel(settings: &crate::Settings, channel: &Channel, no_recording: bool) -> Self {
        let record = settings.recording.enabled && channel.recording && !no_recording;
        Self {
            record,
            pace: record,
        }
    }
}

/// The recording options the settings describe, for a page of the configured viewport.
pub fn recording_options(settings: &crate::Settings) -> recording::RecordingOptions {
    let r = &settings.recording;
    recording::RecordingOptions {
        ffmpeg: r.ffmpeg_path.clone(),
        fps: r.fps,
        format: if r.format == "mkv-ffv1" {
            recording::RecordingFormat::MkvFfv1
        } else {
            recording::RecordingFormat::Mp4H264
        },
        width: settings.browser.viewport_width,
        height: settings.browser.viewport_height,
        jpeg_quality: r.jpeg_quality,
        title_seconds: r.title_seconds,
        max_duration: Duration::from_secs(r.max_duration_secs),
        ..Default::default()
    }
}

/// Checks that ffmpeg is there and can encode the configured format; run at
/// start-up when captures will record.
pub fn check_recorder(settings: &crate::Settings) -> Result<String, recording::RecordingError> {
    let opts = recording_options(settings);
    let version = recording::check_ffmpeg(&opts.ffmpeg)?;
    recording::check_encoder(&opts.ffmpeg, opts.format)?;
    Ok(version)
}

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

/// Why a capture failed. Each kind has its own exit code and recorded failure code.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error(transparent)]
    Target(#[from] TargetError),
    #[error("{url} is unreachable: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("{url} did not load within {secs} s ({detail}); the page may hang or the server be overloaded; try again later or raise capture.page_load_timeout_secs")]
    Timeout {
        url: String,
        secs: u64,
        detail: String,
    },
    #[error("{url} answered HTTP {status}; nothing was archived")]
    HttpStatus { url: String, status: u16 },
    #[error("navigation to {url} failed: {reason}")]
    Navigation { url: String, reason: String },
    #[error("browser failure on {url}: {source}")]
    Browser { url: String, source: BrowserError },
    #[error("the behaviour pass on {url} failed: {source}")]
    Pass { url: String, source: PassError },
    #[error("the screenshot of {url} failed: {source}")]
    Screenshot {
        url: String,
        source: ScreenshotError,
    },
    #[error("cannot produce the {artifact} of {url}: {reason}")]
    Artifact {
        url: String,
        artifact: &'static str,
        reason: String,
    },
    #[error("storing the snapshot failed: {0}")]
    Store(#[from] StoreError),
    #[error("stored object {key} does not match what was captured (expected sha256 {expected}, read back {actual})")]
    StoredMismatch {
        key: String,
        expected: String,
        actual: String,
    },
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("{url} shows a login wall ({what}), not the channel; import a login session with `bevara session import {channel} FILE`")]
    LoginRequired {
        url: String,
        channel: String,
        what: String,
    },
    #[error("the login session of {channel} cannot be used: {source}")]
    Session {
        channel: String,
        source: crate::session::SessionError,
    },
    #[error("the screen recording of {url} failed: {source}")]
    Recording {
        url: String,
        source: recording::RecordingError,
    },
    #[error("cannot write work files in {path}: {source}")]
    Work {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl CaptureError {
    /// The exit code (and recorded failure code) of this failure.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            CaptureError::Target(TargetError::Unresolvable { .. }) => ExitCode::Unreachable,
            CaptureError::Target(_) => ExitCode::InvalidTarget,
            CaptureError::Unreachable { .. } => ExitCode::Unreachable,
            CaptureError::Timeout { .. } => ExitCode::Timeout,
            CaptureError::HttpStatus { .. } => ExitCode::HttpStatus,
            CaptureError::Browser { .. } => ExitCode::Browser,
            CaptureError::Pass {
                source: PassError::Browser(BrowserError::Dead),
                ..
            }
            | CaptureError::Screenshot {
                source: ScreenshotError::Browser(BrowserError::Dead),
                ..
            } => ExitCode::Browser,
            CaptureError::Store(_) | CaptureError::StoredMismatch { .. } | CaptureError::Db(_) => {
                ExitCode::Storage
            }
            CaptureError::Work { .. } => ExitCode::Storage,
            CaptureError::Recording { .. } => ExitCode::Recorder,
            CaptureError::LoginRequired { .. } | CaptureError::Session { .. } => {
                ExitCode::LoginRequired
            }
            _ => ExitCode::Failure,
        }
    }
}

/// Net errors that mean the host could not be reached at all.
fn is_unreachable(net_error: &str) -> bool {
    [
        "ERR_NAME_NOT_RESOLVED",
        "ERR_NAME_RESOLUTION_FAILED",
        "ERR_CONNECTION_REFUSED",
        "ERR_CONNECTION_RESET",
        "ERR_CONNECTION_CLOSED",
        "ERR_CONNECTION_FAILED",
        "ERR_CONNECTION_TIMED_OUT",
        "ERR_ADDRESS_UNREACHABLE",
        "ERR_ADDRESS_INVALID",
        "ERR_INTERNET_DISCONNECTED",
        "ERR_EMPTY_RESPONSE",
        "ERR_TIMED_OUT",
        "ERR_SSL_PROTOCOL_ERROR",
        "ERR_CERT_",
        "ERR_TUNNEL_CONNECTION_FAILED",
        "ERR_PROXY_CONNECTION_FAILED",
    ]
    .iter()
    .any(|e| net_error.contains(e))
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
    };
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
    let phase = |p: &'static str| {
        if let Some(tx) = progress {
            tx.send_modify(|s| s.phase = p);
        }
    };
    let url = target::parse(&channel.url).map_err(|e| (e.into(), None))?;
    target::check(&url, settings.allow_private_addresses)
        .await
        .map_err(|e| (e.into(), None))?;
    // A stored login session is decrypted first, so a wrong key fails fast.
    let session = load_session(settings, channel).map_err(|e| (e, None))?;
    phase("opening browser context");
    let url_s = url.to_string();
    let ctx = browser.new_context().await.map_err(|source| {
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
    )
    .await;
    browser.dispose(ctx).await;
    result
}

#[derive(serde::Deserialize)]
struct Loaded {
    href: String,
    ready: String,
    status: Option<u16>,
    title: String,
}

/// The page's full height in CSS px.
const PAGE_HEIGHT_JS: &str =
    "Math.max(document.documentElement.scrollHeight, document.body ? document.body.scrollHeight : 0)";
/// The page's visible text.
const PAGE_TEXT_JS: &str = "document.body ? document.body.innerText : ''";

const LOADED_JS: &str =
    "({ href: location.href, ready: document.readyState, title: document.title, \
    status: (performance.getEntriesByType('navigation')[0] || {}).responseStatus || null })";

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

    // 1. Load, bounded.
    phase("loading");
    let load_secs = settings.capture.page_load_timeout_secs;
    let nav = tokio::time::timeout(Duration::from_secs(load_secs), page.goto(url_s.as_str())).await;
    let call = Duration::from_secs(10);
    match nav {
        Ok(Ok(_)) => {}
        Ok(Err(chromiumoxide::error::CdpError::ChromeMessage(text))) => {
            let err = if is_unreachable(&text) {
                CaptureError::Unreachable {
                    url: url_s.clone(),
                    reason: text,
                }
            } else {
                CaptureError::Navigation {
                    url: url_s.clone(),
                    reason: text,
                }
            };
            return Err((err, None));
        }
        Ok(Err(e)) if !ctx.browser_alive() => {
            return Err(browser_err(BrowserError::Cdp {
                what: "Page.navigate",
                source: e,
            }))
        }
        Ok(Err(_)) | Err(_) => {
            // No load event in time. If the document itself arrived, capture
            // it as it is (a hanging image or tracker); if not, give up.
            let state: Option<Loaded> = eval(page, LOADED_JS, call).await.ok();
            match state {
                Some(s) if s.href != "about:blank" && s.ready != "loading" => {
                    warnings.push(format!(
                    "the page's load event did not fire within {load_secs} s; captured it as it was"
                ))
                }
                Some(s) => {
                    return Err((
                        CaptureError::Timeout {
                            url: url_s.clone(),
                            secs: load_secs,
                            detail: if s.href == "about:blank" {
                                "no response".into()
                            } else {
                                "the document never finished arriving".into()
                            },
                        },
                        None,
                    ))
                }
                None => {
                    return Err((
                        CaptureError::Timeout {
                            url: url_s.clone(),
                            secs: load_secs,
                            detail: "the page does not answer".into(),
                        },
                        None,
                    ))
                }
            }
        }
    }
    let loaded: Loaded = eval(page, LOADED_JS, call).await.map_err(browser_err)?;
    if let Some(status) = loaded.status.filter(|s| *s >= 400) {
        return Err((
            CaptureError::HttpStatus {
                url: url_s.clone(),
                status,
            },
            Some(loaded.href),
        ));
    }
    // A redirect may lead somewhere the channel's URL did not.
    if let Ok(final_url) = url::Url::parse(&loaded.href) {
        if final_url.host_str() != url.host_str() {
            target::check(&final_url, settings.allow_private_addresses)
                .await
                .map_err(|e| (e.into(), Some(loaded.href.clone())))?;
        }
    }

    // 2. Scroll and expand.
    phase("scroll and expand");
    let profile = bevara.profiles().for_channel(channel);
    let c = &settings.capture;
    let budget = PassBudget {
        max_duration: Duration::from_secs(c.max_duration_secs),
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
    let pass_started = std::time::Instant::now();
    let pass_result = run_pass(page, profile, &budget, pacing.as_ref(), progress).await;
    // Items the page itself held, before any post was opened: what tells a
    // virtualized feed from one that keeps its items.
    let page_items = pass_result.as_ref().map(|p| p.collected.len()).unwrap_or(0);
    let mut produced = Vec::new();
    let pass_result = match pass_result {
        Err(source) => Err((
            CaptureError::Pass {
                url: url_s.clone(),
                source,
            },
            Some(loaded.href.clone()),
        )),
        Ok(mut pass) => {
            // A login wall is not the channel: say so instead of archiving
            // it, before any post is opened behind it.
            match login_wall(page, profile).await {
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
                    posts::PostRun {
                        page,
                        profile,
                        settings,
                        work,
                        budget: &budget,
                        started: pass_started,
                        pacing: pacing.as_ref(),
                        progress,
                        start_url: &start_url,
                    }
                    .run(&mut pass, &mut produced)
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
    let truncated = pass.stopped_by.is_some();
    let after: Loaded = eval(page, LOADED_JS, call).await.map_err(browser_err)?;
    let tz: chrono_tz::Tz = settings
        .browser
        .timezone
        .parse()
        .unwrap_or(chrono_tz::Europe::Stockholm);
    let mut collected = std::mem::take(&mut pass.collected);

    // 3. Artifacts.
    let art_bound = Duration::from_secs(c.artifact_timeout_secs);
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
        let name = if s.format == recording::RecordingFormat::MkvFfv1 {
            "recording.mkv"
        } else {
            "recording.mp4"
        };
        produced.push(Produced {
            name: name.into(),
            media_type: s.format.media_type(),
            path: s.path.clone(),
            size: Some((s.width, s.height)),
        });
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

    phase("screenshot");
    let height: u64 = eval(page, PAGE_HEIGHT_JS, call)
        .await
        .map_err(browser_err)?;
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
    let width = settings.browser.viewport_width;
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
    .map_err(browser_err)?;
    let virtualized = page_items as u64 > present + 2;
    let tiling = if virtualized {
        warnings.push(format!(
            "the feed is virtualized ({page_items} items seen, {present} in the page at the end); the screenshot was taken scrolling"
        ));
        screenshot::Tiling::Scroll {
            viewport_height: settings.browser.viewport_height,
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
        art_bound,
    )
    .await
    .map_err(|source| {
        (
            CaptureError::Screenshot {
                url: url_s.clone(),
                source,
            },
            final_url.clone(),
        )
    })?;
    produced.push(Produced {
        name: "screenshot.png".into(),
        media_type: "image/png",
        path: shot_path,
        size: Some((stats.width, stats.height)),
    });

    phase("text");
    let text: String = eval(page, PAGE_TEXT_JS, art_bound)
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

    if c.pdf {
        phase("pdf");
        let params = PrintToPdfParams {
            print_background: Some(true),
            ..Default::default()
        };
        let pdf = tokio::time::timeout(art_bound, page.execute(params))
            .await
            .map_err(|_| fail("PDF", format!("no answer within {} s", art_bound.as_secs())))?
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
        phase("mhtml");
        let params = CaptureSnapshotParams {
            format: Some(CaptureSnapshotFormat::Mhtml),
        };
        let snap = tokio::time::timeout(art_bound, page.execute(params))
            .await
            .map_err(|_| {
                fail(
                    "MHTML",
                    format!("no answer within {} s", art_bound.as_secs()),
                )
            })?
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
    // Further pages of the same content (comment pages of a blog post).
    if !profile.pagination.next.is_empty() && profile.pagination.max_pages > 1 {
        let mut visited = vec![after.href.clone()];
        let mut queue: std::collections::VecDeque<String> =
            next_links(page, &profile.pagination.next, url)
                .await
                .map_err(browser_err)?
                .into();
        while let Some(href) = queue.pop_front() {
            if visited.contains(&href) {
                continue;
            }
            if visited.len() >= profile.pagination.max_pages as usize {
                warnings.push(format!(
                    "stopped at pagination.max_pages = {}; {href} and later pages were not captured",
                    profile.pagination.max_pages
                ));
                break;
            }
            visited.push(href.clone());
            let n = visited.len();
            phase("next page");
            match tokio::time::timeout(Duration::from_secs(load_secs), page.goto(href.as_str()))
                .await
            {
                Ok(Ok(_)) => {}
                _ => {
                    warnings.push(format!(
                        "page {n} ({href}) did not load; it is missing from this snapshot"
                    ));
                    continue;
                }
            }
            let mut more = run_pass(page, profile, &budget, None, progress)
                .await
                .map_err(|source| {
                    (
                        CaptureError::Pass {
                            url: href.clone(),
                            source,
                        },
                        final_url.clone(),
                    )
                })?;
            warnings.extend(more.warnings.iter().map(|w| format!("page {n}: {w}")));
            collected.merge(std::mem::take(&mut more.collected));
            let height: u64 = eval(page, PAGE_HEIGHT_JS, call)
                .await
                .map_err(browser_err)?;
            let shot = work.join(format!("screenshot-p{n}.png"));
            let st = screenshot::full_page(
                page,
                &shot,
                width,
                height.min(c.max_page_height),
                c.tile_height,
                art_bound,
            )
            .await
            .map_err(|source| {
                (
                    CaptureError::Screenshot {
                        url: href.clone(),
                        source,
                    },
                    final_url.clone(),
                )
            })?;
            produced.push(Produced {
                name: format!("screenshot-p{n}.png"),
                media_type: "image/png",
                path: shot,
                size: Some((st.width, st.height)),
            });
            let text: String = eval(page, PAGE_TEXT_JS, art_bound)
                .await
                .map_err(|e| fail("text", e.to_string()))?;
            let text_path = work.join(format!("text-p{n}.txt"));
            write(&text_path, format!("{href}\n\n{text}").as_bytes())
                .map_err(|e| fail("text", e))?;
            produced.push(Produced {
                name: format!("text-p{n}.txt"),
                media_type: "text/plain; charset=utf-8",
                path: text_path,
                size: None,
            });
            pages.push(href.clone());
            for link in next_links(page, &profile.pagination.next, url)
                .await
                .map_err(browser_err)?
            {
                if !visited.contains(&link) && !queue.contains(&link) {
                    queue.push_back(link);
                }
            }
        }
    }
    let items = collected.finish(requested_at, tz);
    let counts = ItemCounts::of(&items);
    let items_doc = ItemsDocument {
        schema: "bevara.items".into(),
        schema_version: ITEMS_SCHEMA_VERSION,
        snapshot_id: snapshot_id.to_string(),
        channel: channel.id.to_string(),
        captured_at: requested_at,
        profile: profile.name.clone(),
        counts: counts.clone(),
        items,
    };
    let items_path = work.join("items.json");
    let json = serde_json::to_vec_pretty(&items_doc).map_err(|e| fail("items", e.to_string()))?;
    write(&items_path, &json).map_err(|e| fail("items", e))?;
    produced.push(Produced {
        name: "items.json".into(),
        media_type: "application/json",
        path: items_path,
        size: None,
    });
    // What changed since the channel's previous complete snapshot.
    let diff = match bevara
        .db()
        .previous_complete(channel.id.as_str(), requested_at)
        .await
    {
        Ok(Some(prev)) => match bevara.db().items(&prev).await {
            Ok(before) => Some(crate::archive::diff_items(
                &prev,
                snapshot_id,
                &before,
                &items_doc.items,
            )),
            Err(e) => {
                warnings.push(format!("no diff with the previous snapshot {prev}: {e}"));
                None
            }
        },
        Ok(None) => None,
        Err(e) => {
            warnings.push(format!("no diff with the previous snapshot: {e}"));
            None
        }
    };

    let finished_at = Utc::now();

    // 4. Manifest, store, verify, record.
    phase("storing");
    let prefix = snapshot_prefix(channel.id.as_str(), requested_at, snapshot_id);
    let mut artifacts = Vec::new();
    for p in &produced {
        let digest =
            sha256_file(&p.path).map_err(|e| fail("artifact", format!("{}: {e}", p.name)))?;
        artifacts.push(ManifestArtifact {
            name: p.name.clone(),
            key: format!("{prefix}/{}", p.name),
            media_type: p.media_type.to_string(),
            bytes: digest.bytes,
            sha256: digest.sha256,
            width: p.size.map(|s| s.0),
            height: p.size.map(|s| s.1),
        });
    }
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
        artifacts: artifacts.clone(),
        generator: format!("bevara {}", env!("CARGO_PKG_VERSION")),
    };
    let manifest_path = work.join("manifest.json");
    let json = serde_json::to_vec_pretty(&manifest).map_err(|e| fail("manifest", e.to_string()))?;
    write(&manifest_path, &json).map_err(|e| fail("manifest", e))?;
    let manifest_digest =
        sha256_file(&manifest_path).map_err(|e| fail("manifest", e.to_string()))?;
    let mut to_store: Vec<(ManifestArtifact, PathBuf)> = artifacts
        .iter()
        .cloned()
        .zip(produced.iter().map(|p| p.path.clone()))
        .collect();
    let manifest_artifact = ManifestArtifact {
        name: "manifest.json".into(),
        key: format!("{prefix}/manifest.json"),
        media_type: "application/json".into(),
        bytes: manifest_digest.bytes,
        sha256: manifest_digest.sha256,
        width: None,
        height: None,
    };
    to_store.push((manifest_artifact.clone(), manifest_path));

    let store = bevara.store();
    let stored = store_all(store, &to_store).await;
    if let Err(e) = stored {
        for (a, _) in &to_store {
            let _ = store.delete(&a.key).await;
        }
        return Err((e, final_url));
    }
    let records: Vec<_> = to_store.iter().map(|(a, _)| a.into()).collect();
    bevara
        .db()
        .complete_capture(
            snapshot_id,
            &CaptureFinish {
                final_url: final_url.clone(),
                title: Some(after.title.clone()),
                warnings: warnings.len() as i64,
                truncated,
                manifest_key: Some(manifest_artifact.key.clone()),
            },
            &records,
            &items_doc.items,
        )
        .await
        .map_err(|e| (e.into(), final_url.clone()))?;
    phase("complete");
    Ok(CaptureOutcome {
        snapshot_id: snapshot_id.to_string(),
        manifest,
        stored_in: store.describe(),
        local_dir: store
            .local_path(&manifest_artifact.key)
            .and_then(|p| p.parent().map(Path::to_path_buf)),
    })
}

/// Links to further pages of the same content, same host only, absolute.
async fn next_links(
    page: &chromiumoxide::Page,
    selector: &str,
    base: &url::Url,
) -> Result<Vec<String>, BrowserError> {
    let js = format!(
        "(() => {{ try {{ return [...document.querySelectorAll({})].map(a => a.href).filter(Boolean); }} catch (e) {{ return []; }} }})()",
        serde_json::to_string(selector).unwrap_or_else(|_| "''".into())
    );
    let links: Vec<String> = eval(page, &js, Duration::from_secs(10)).await?;
    Ok(links
        .into_iter()
        .filter_map(|l| url::Url::parse(&l).ok())
        .filter(|u| u.host_str() == base.host_str() && matches!(u.scheme(), "http" | "https"))
        .map(|mut u| {
            u.set_fragment(None);
            u.to_string()
        })
        .collect())
}

/// The channel's stored login session, if it has one.
fn load_session(
    settings: &crate::Settings,
    channel: &Channel,
) -> Result<Option<crate::session::StoredSession>, CaptureError> {
    let err = |source| CaptureError::Session {
        channel: channel.id.to_string(),
        source,
    };
    let store = settings.session_store().map_err(err)?;
    if !store.exists(channel.id.as_str()) {
        return Ok(None);
    }
    store.get(channel.id.as_str()).map_err(err)
}

/// Whether the page matches the profile's logged-out rule; says what matched.
async fn login_wall(
    page: &chromiumoxide::Page,
    profile: &crate::behaviour::Profile,
) -> Result<Option<String>, BrowserError> {
    let rule = &profile.logged_out;
    if rule.texts.is_empty() && rule.selectors.is_empty() {
        return Ok(None);
    }
    let js = format!(
        "(() => {{ const r = {}; const text = (document.body ? document.body.innerText : '').slice(0, 20000);
          for (const t of r.texts) {{ const m = new RegExp(t, 'imu').exec(text); if (m) return 'text ' + JSON.stringify(m[0].slice(0, 80)); }}
          for (const s of r.selectors) {{ try {{ const el = document.querySelector(s);
            if (el && el.getClientRects().length) return 'element ' + s; }} catch (e) {{}} }}
          return null; }})()",
        serde_json::to_string(rule).unwrap_or_else(|_| "{\"texts\":[],\"selectors\":[]}".into())
    );
    eval(page, &js, Duration::from_secs(10)).await
}

/// Stores each file and reads it back: the stored checksum must match.
async fn store_all(
    store: &dyn crate::store::ObjectStore,
    items: &[(ManifestArtifact, PathBuf)],
) -> Result<(), CaptureError> {
    for (a, path) in items {
        store.put_file(&a.key, path, &a.media_type).await?;
        let back = store.digest(&a.key).await?;
        if back.sha256 != a.sha256 || back.bytes != a.bytes {
            return Err(CaptureError::StoredMismatch {
                key: a.key.clone(),
                expected: a.sha256.clone(),
                actual: back.sha256,
            });
        }
    }
    Ok(())
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    std::fs::write(path, bytes).map_err(|e| format!("{}: {e}", path.display()))
}
