//! One attempt at a claimed job: the capture under a lease kept alive by a
//! heartbeat, then the job ended as done, retried with backoff, or failed.

use crate::behaviour::Progress;
use crate::browser::Browser;
use crate::capture::{run_job, CaptureJob, Outcome};
use crate::queue::{backoff, Job, JobEnd};
use crate::Bevara;
use chrono::Utc;
use std::time::Duration;
use tokio::sync::watch;
use tracing::Instrument;

/// The lease a claimer holds jobs with.
#[derive(Debug, Clone)]
pub struct Lease {
    /// Who holds it: unique per process (host, pid and a random part).
    pub owner: String,
    pub duration: Duration,
}

impl Lease {
    pub fn new(owner: String, duration: Duration) -> Self {
        Self { owner, duration }
    }

    /// When a lease taken or renewed now runs out.
    pub fn until(&self) -> chrono::DateTime<Utc> {
        Utc::now() + chrono::Duration::from_std(self.duration).unwrap_or(chrono::Duration::MAX)
    }
}

/// A claimer's name: host, process and a random part, so two processes
/// with the same pid in different containers differ too.
pub fn owner_name(role: &str) -> String {
    let random = ulid::Ulid::new().to_string();
    format!(
        "{role}@{}:{}:{}",
        crate::capture::host_name(),
        std::process::id(),
        &random[random.len() - 6..]
    )
}

/// Runs `job`, claimed by `lease.owner`, to its end. `cancel` stops it
/// (shutdown, Ctrl-C); so does losing the lease (the job was cancelled, or
/// another process reaped it after a stall).
pub async fn run_claimed(
    bevara: &Bevara,
    browser: &Browser,
    job: &Job,
    lease: &Lease,
    mut cancel: watch::Receiver<Option<String>>,
    progress: Option<&watch::Sender<Progress>>,
) -> Outcome {
    let span = tracing::info_span!("job", job = %job.id, channel = %job.channel_id, attempt = job.attempts);
    async {
        let (stop_tx, stop_rx) = watch::channel(None::<String>);
        let heartbeat = heartbeat(bevara, job, lease, stop_tx.clone());
        let forward = async {
            let _ = stop_tx.send(Some(crate::capture::cancelled(&mut cancel).await));
        };
        let request = CaptureJob::from_job(job);
        let capture = run_job(bevara, browser, &request, stop_rx, progress);
        let outcome = tokio::select! {
            o = capture => o,
            _ = async { tokio::join!(heartbeat, forward) } => unreachable!("both run until cancelled"),
        };
        end(bevara, job, lease, &outcome).await;
        outcome
    }
    .instrument(span)
    .await
}

/// Renews the lease every third of its length; sends a stop when renewal
/// says the job is no longer ours. Database errors are retried until the
/// lease would have run out anyway.
async fn heartbeat(
    bevara: &Bevara,
    job: &Job,
    lease: &Lease,
    stop: watch::Sender<Option<String>>,
) -> std::convert::Infallible {
    let every = lease.duration / 3;
    let mut last_ok = std::time::Instant::now();
    loop {
        tokio::time::sleep(every).await;
        match bevara
            .db()
            .heartbeat(&job.id, &lease.owner, lease.until(), Utc::now())
            .await
        {
            Ok(true) => last_ok = std::time::Instant::now(),
            Ok(false) => {
                let _ = stop.send(Some(
                    "the job was cancelled, or its lease was lost to another worker".into(),
                ));
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot renew the job's lease");
                if last_ok.elapsed() >= lease.duration {
                    let _ = stop.send(Some(format!("the job's lease could not be renewed: {e}")));
                }
            }
        }
    }
}

/// Records how the attempt ended on the job.
async fn end(bevara: &Bevara, job: &Job, lease: &Lease, outcome: &Outcome) {
    let w = &bevara.settings().worker;
    let end = match outcome {
        Outcome::Complete(o) => JobEnd::Done {
            snapshot_id: o.snapshot_id.clone(),
        },
        // Captured and spooled: the job is done; the worker's sync stores it.
        Outcome::Failed(f) if f.code == crate::exit::ExitCode::UploadPending => JobEnd::Done {
            snapshot_id: f.snapshot_id.clone().unwrap_or_default(),
        },
        Outcome::Failed(f) if f.retryable => {
            let wait = backoff(job.attempts, w.retry_base_secs, w.retry_max_secs);
            JobEnd::Retry {
                code: f.failure_code.clone(),
                error: f.message.clone(),
                at: Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default(),
                snapshot_id: f.snapshot_id.clone(),
            }
        }
        Outcome::Failed(f) => JobEnd::Failed {
            code: f.failure_code.clone(),
            error: f.message.clone(),
            snapshot_id: f.snapshot_id.clone(),
        },
    };
    // The end must reach the database, or the job would wait out its lease
    // and run again: retry a few times over a store hiccup.
    for attempt in 0..5u32 {
        match bevara
            .db()
            .end_job(&job.id, &lease.owner, &end, Utc::now())
            .await
        {
            Ok(true) => return,
            Ok(false) => {
                tracing::info!("the job was no longer ours to end (cancelled or reaped)");
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, attempt, "cannot record the job's end");
                tokio::time::sleep(Duration::from_millis(500 << attempt)).await;
            }
        }
    }
}
