//! Why a capture failed, and the exit code each failure has.

use super::recording;
use super::screenshot::ScreenshotError;
use crate::behaviour::PassError;
use crate::browser::BrowserError;
use crate::db::DbError;
use crate::exit::ExitCode;
use crate::store::StoreError;
use crate::target::TargetError;
use std::path::PathBuf;

/// Why a capture failed. Each kind has its own exit code and recorded failure code.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error(transparent)]
    Target(#[from] TargetError),
    #[error("{url} was refused: the browser was sent to {hop}, and {reason}; nothing was archived (allow it with network.allow if it is the authority's own)")]
    Refused {
        url: String,
        hop: String,
        reason: String,
    },
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
    #[error("snapshot {snapshot_id} is captured but not yet in the object store ({reason}); its files wait in the spool and `bevara store sync` (or the worker) stores them")]
    UploadPending { snapshot_id: String, reason: String },
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
            CaptureError::Target(_) | CaptureError::Refused { .. } => ExitCode::InvalidTarget,
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
            // The work files could not be written: a full or failing disk.
            CaptureError::Screenshot {
                source: ScreenshotError::Write { .. },
                ..
            } => ExitCode::Storage,
            CaptureError::Db(DbError::CaptureRunning { .. }) => ExitCode::Busy,
            CaptureError::Store(_) | CaptureError::StoredMismatch { .. } | CaptureError::Db(_) => {
                ExitCode::Storage
            }
            CaptureError::Work { .. } => ExitCode::Storage,
            CaptureError::UploadPending { .. } => ExitCode::UploadPending,
            CaptureError::Recording { .. } => ExitCode::Recorder,
            CaptureError::LoginRequired { .. } | CaptureError::Session { .. } => {
                ExitCode::LoginRequired
            }
            _ => ExitCode::Failure,
        }
    }
}

/// Net errors that mean the host could not be reached at all.
pub(super) fn is_unreachable(net_error: &str) -> bool {
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
