//! The one entry into a capture for the CLI, the worker and the web: a job
//! in, an [`Outcome`] out. Around the pipeline it looks up the channel,
//! picks the recording, stops cleanly when cancelled (a signal, a drain
//! deadline, a cancelled job) and says whether a retry can help.

use super::{capture_with_id, CaptureError, CaptureOptions, CaptureOutcome, Trigger};
use crate::behaviour::Progress;
use crate::browser::Browser;
use crate::db::DbError;
use crate::exit::ExitCode;
use crate::queue::{Job, INTERRUPTED};
use crate::Bevara;
use tokio::sync::watch;
use ulid::Ulid;

/// A request for one capture: which channel, who or what asked, and the
/// queue's job when it came through the queue.
#[derive(Debug, Clone)]
pub struct CaptureJob {
    pub channel: String,
    pub trigger: Trigger,
    /// Overrides the channel's recording choice when set.
    pub recording: Option<bool>,
}

impl CaptureJob {
    /// The capture a queued job asks for.
    pub fn from_job(job: &Job) -> Self {
        Self {
            channel: job.channel_id.clone(),
            trigger: Trigger {
                kind: job.trigger.kind.as_str().to_string(),
                reason: job.reason(),
                requested_by: job.requested_by.clone(),
                job_id: Some(job.id.clone()),
                schedule: job.trigger.schedule.clone(),
                fire_time: job.trigger.fire_time,
                debate: job.trigger.debate.clone(),
            },
            recording: job.recording,
        }
    }
}

/// Why a capture did not complete, and whether trying again may help.
#[derive(Debug, Clone)]
pub struct Failure {
    /// The failed capture's snapshot id, when one was recorded.
    pub snapshot_id: Option<String>,
    pub code: ExitCode,
    /// The recorded failure code (kebab-case, stable).
    pub failure_code: String,
    pub message: String,
    /// Timeouts, a dead browser, an unreachable store: a later attempt may
    /// succeed. A refused target, a login wall, an unknown channel: it will not.
    pub retryable: bool,
}

/// How one capture ended.
#[derive(Debug)]
pub enum Outcome {
    Complete(Box<CaptureOutcome>),
    Failed(Failure),
}

impl Outcome {
    /// The process exit code for this outcome, at the CLI's edge.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Outcome::Complete(o) if o.truncated() => ExitCode::Truncated,
            Outcome::Complete(_) => ExitCode::Ok,
            Outcome::Failed(f) => f.code,
        }
    }
}

/// Cancels a running capture: set a reason and the capture stops, is
/// recorded as failed (`interrupted`) with that reason, and may be retried.
pub type Cancel = watch::Receiver<Option<String>>;

impl CaptureError {
    /// Whether a later attempt at the same capture may succeed.
    pub fn retryable(&self) -> bool {
        match self {
            CaptureError::Target(crate::target::TargetError::Unresolvable { .. }) => true,
            CaptureError::Target(_)
            | CaptureError::Refused { .. }
            | CaptureError::LoginRequired { .. }
            | CaptureError::Session { .. } => false,
            // Captured: the upload is retried from the spool, not the capture.
            CaptureError::UploadPending { .. } => false,
            CaptureError::Db(DbError::NoChannel(_)) => false,
            CaptureError::HttpStatus { status, .. } => *status >= 500 || *status == 429,
            _ => true,
        }
    }

    fn failure(&self, snapshot_id: Option<String>) -> Failure {
        Failure {
            snapshot_id,
            code: self.exit_code(),
            failure_code: self.exit_code().name().to_string(),
            message: self.to_string(),
            retryable: self.retryable(),
        }
    }
}

/// Runs one capture of `job.channel` with `browser`, until it ends or
/// `cancel` says stop.
pub async fn run_job(
    bevara: &Bevara,
    browser: &Browser,
    job: &CaptureJob,
    mut cancel: Cancel,
    progress: Option<&watch::Sender<Progress>>,
) -> Outcome {
    let channel = match bevara.db().channel(&job.channel).await {
        Ok(c) => c,
        Err(e) => return Outcome::Failed(CaptureError::Db(e).failure(None)),
    };
    let no_recording = job.recording == Some(false);
    let mut options = CaptureOptions::for_channel(bevara.settings(), &channel, no_recording);
    if job.recording == Some(true) && bevara.settings().recording.enabled {
        options.record = true;
        options.pace = true;
    }
    let snapshot_id = Ulid::new().to_string();
    let capture = capture_with_id(
        bevara,
        browser,
        &channel,
        job.trigger.clone(),
        &options,
        progress,
        &snapshot_id,
    );
    let result = tokio::select! {
        r = capture => Ok(r),
        reason = cancelled(&mut cancel) => Err(reason),
    };
    match result {
        Ok(Ok(o)) => Outcome::Complete(Box::new(o)),
        Ok(Err(e)) => Outcome::Failed(e.failure(Some(snapshot_id))),
        Err(reason) => {
            // The pipeline was dropped mid-step: record why, and leave no
            // work files behind.
            let message = format!("the capture was stopped: {reason}; it can be run again");
            let _ = std::fs::remove_dir_all(bevara.settings().work_dir().join(&snapshot_id));
            if let Err(e) = bevara
                .db()
                .fail_capture(&snapshot_id, INTERRUPTED, &message, None)
                .await
            {
                tracing::warn!(error = %e, snapshot = %snapshot_id, "cannot record the stopped capture");
            }
            Outcome::Failed(Failure {
                snapshot_id: Some(snapshot_id),
                code: ExitCode::Failure,
                failure_code: INTERRUPTED.into(),
                message,
                retryable: true,
            })
        }
    }
}

/// Resolves with the reason once `cancel` holds one (never, if its sender is gone
/// without one).
pub async fn cancelled(cancel: &mut Cancel) -> String {
    loop {
        if let Some(r) = cancel.borrow_and_update().clone() {
            return r;
        }
        if cancel.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}
