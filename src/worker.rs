//! `bevara worker`: the scheduler and the capture loop, Bevara's main job.
//!
//! A worker claims the most urgent due job with a lease, runs its capture in
//! a fresh browser context of its one Chromium, renews the lease by
//! heartbeat and ends the job as done, retried with backoff, or failed. It
//! reaps jobs whose worker stopped renewing (killed), restarts Chromium when
//! it dies or after `worker.browser_recycle_after` captures, and on SIGTERM
//! stops claiming, lets running captures finish within `worker.drain_secs`,
//! then cancels them (failed, retryable) and returns.

mod attempt;
mod http;
pub mod metrics;
pub mod scheduler;

pub use attempt::{owner_name, run_claimed, Lease};
pub use metrics::Metrics;
pub use scheduler::{Scheduler, TickReport};

use crate::browser::{Browser, BrowserError};
use crate::capture::Outcome;
use crate::db::DbError;
use crate::queue::Job;
use crate::Bevara;
use chrono::Utc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinSet;

/// Why the worker could not run.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("cannot listen on worker.listen = {addr}: {source}")]
    Listen {
        addr: String,
        source: std::io::Error,
    },
    #[error("Chromium cannot be started: {0}")]
    Browser(#[from] BrowserError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// What a worker run did.
#[derive(Debug, Default, Clone)]
pub struct WorkerReport {
    pub completed: u64,
    pub failed: u64,
    /// Captures cancelled at the drain deadline.
    pub cancelled: u64,
}

/// When the worker should return by itself.
#[derive(Debug, Clone, Default)]
pub enum StopWhen {
    /// On shutdown only.
    #[default]
    Shutdown,
    /// Once this job is done, failed or cancelled (the demo).
    JobEnded(String),
}

/// The shared state of a running worker: what readiness and metrics read.
#[derive(Debug)]
pub struct WorkerState {
    pub bevara: Bevara,
    pub metrics: Arc<Metrics>,
    pub owner: String,
    browser_ok: AtomicBool,
    /// The data directory had `worker.min_free_mb` free at the last look.
    disk_ok: AtomicBool,
}

impl WorkerState {
    fn set_browser_ok(&self, ok: bool) {
        self.browser_ok.store(ok, Ordering::SeqCst);
    }

    pub fn browser_ok(&self) -> bool {
        self.browser_ok.load(Ordering::SeqCst)
    }

    pub fn disk_ok(&self) -> bool {
        self.disk_ok.load(Ordering::SeqCst)
    }

    /// Looks at the data directory's free space; false while it is under
    /// `worker.min_free_mb`, logged once each time it turns.
    fn check_disk(&self) -> bool {
        let data = &self.bevara.settings().data_dir;
        let min = self
            .bevara
            .settings()
            .worker
            .min_free_mb
            .saturating_mul(1 << 20);
        let Some(free) = free_bytes(data) else {
            return true;
        };
        self.metrics.data_free(free);
        let ok = free >= min;
        let was = self.disk_ok.swap(ok, Ordering::SeqCst);
        if was && !ok {
            tracing::error!(free_mb = free >> 20, min_free_mb = min >> 20, dir = %data.display(), "the data directory is almost full; no job is claimed until space is freed");
        } else if !was && ok {
            tracing::info!(
                free_mb = free >> 20,
                "the data directory has space again; claiming jobs"
            );
        }
        ok
    }
}

/// Free bytes for unprivileged writers on the filesystem holding `dir` (or
/// its nearest existing parent); `None` when it cannot be told.
pub fn free_bytes(dir: &std::path::Path) -> Option<u64> {
    let mut at = Some(dir);
    while let Some(d) = at {
        if let Ok(st) = rustix::fs::statvfs(d) {
            return Some(st.f_bavail.saturating_mul(st.f_frsize));
        }
        at = d.parent();
    }
    None
}

/// One browser for the worker, restarted when it dies or has served its captures.
struct BrowserSlot {
    browser: Option<Arc<Browser>>,
    served: u32,
    recycle_after: u32,
}

impl BrowserSlot {
    /// A live browser, (re)launched if needed. Recycling waits until no
    /// capture uses the current one.
    async fn get(&mut self, bevara: &Bevara, busy: bool) -> Result<Arc<Browser>, BrowserError> {
        let stale = match &self.browser {
            None => true,
            Some(b) if !b.is_alive() => true,
            Some(_) => !busy && self.recycle_after > 0 && self.served >= self.recycle_after,
        };
        if stale {
            if let Some(old) = self.browser.take() {
                if let Ok(b) = Arc::try_unwrap(old) {
                    b.close().await;
                }
            }
            tracing::info!("starting Chromium");
            self.browser = Some(Arc::new(Browser::launch(&bevara.settings().browser).await?));
            self.served = 0;
        }
        self.served += 1;
        Ok(self.browser.clone().expect("launched above"))
    }

    async fn close(&mut self) {
        if let Some(b) = self.browser.take() {
            if let Ok(b) = Arc::try_unwrap(b) {
                b.close().await;
            }
        }
    }
}

struct Running {
    cancel: watch::Sender<Option<String>>,
}

/// Runs the worker until `shutdown` turns true (SIGTERM) or `stop` says so.
pub async fn run(
    bevara: Bevara,
    mut shutdown: watch::Receiver<bool>,
    stop: StopWhen,
) -> Result<WorkerReport, WorkerError> {
    let settings = bevara.settings().clone();
    let w = &settings.worker;
    bevara.check_store().await?;
    let state = Arc::new(WorkerState {
        bevara: bevara.clone(),
        metrics: Arc::new(Metrics::new()),
        owner: owner_name("worker"),
        browser_ok: AtomicBool::new(true),
        disk_ok: AtomicBool::new(true),
    });
    let server = if w.listen.is_empty() {
        None
    } else {
        Some(http::serve(&w.listen, state.clone()).await?)
    };
    let scheduler = w.scheduler.then(|| {
        let sched = Scheduler::new(
            bevara.db().clone(),
            settings.schedules_dir.clone(),
            Duration::from_secs(w.missed_grace_secs),
            w.max_attempts,
        )
        .with_metrics(state.metrics.clone());
        let tick = Duration::from_secs(w.scheduler_tick_secs);
        tokio::spawn(tracing::Instrument::instrument(
            scheduler_loop(sched, tick),
            tracing::info_span!("scheduler"),
        ))
    });
    crate::capture::remove_stale_work(&bevara).await;
    let syncer = tokio::spawn(tracing::Instrument::instrument(
        sync_loop(
            bevara.clone(),
            state.metrics.clone(),
            Duration::from_secs(settings.store.sync_secs.max(1)),
            Duration::from_secs(
                settings
                    .store
                    .sync_max_secs
                    .max(settings.store.sync_secs)
                    .max(1),
            ),
        ),
        tracing::info_span!("store-sync"),
    ));
    let lease = Lease::new(state.owner.clone(), Duration::from_secs(w.lease_secs));
    tracing::info!(owner = %state.owner, backend = bevara.db().backend(), concurrency = w.concurrency, "worker started");
    let mut slot = BrowserSlot {
        browser: None,
        served: 0,
        recycle_after: w.browser_recycle_after,
    };
    let mut tasks: JoinSet<(String, Outcome, f64)> = JoinSet::new();
    let mut running: std::collections::HashMap<String, Running> = Default::default();
    let mut report = WorkerReport::default();
    let poll = Duration::from_secs(w.poll_secs);
    let mut browser_backoff = Duration::from_secs(1);
    loop {
        if *shutdown.borrow() || stop_reached(&bevara, &stop).await {
            break;
        }
        let now = Utc::now();
        match bevara.db().reap_expired(now).await {
            Ok(reaped) if !reaped.is_empty() => {
                for r in &reaped {
                    tracing::warn!(job = %r.job_id, channel = %r.channel_id, requeued = r.requeued, captures = ?r.captures, "job's lease ran out; its capture is marked interrupted");
                    // A dead worker on this host leaves its work files behind.
                    for c in &r.captures {
                        let _ = std::fs::remove_dir_all(settings.work_dir().join(c));
                    }
                }
                state.metrics.reaped(reaped.len());
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "cannot reap expired jobs"),
        }
        let mut wait = poll;
        // A full disk would fail every capture claimed now: leave the jobs
        // to workers that have room.
        let room = state.check_disk();
        while room && tasks.len() < w.concurrency as usize {
            let browser = match slot.get(&bevara, !tasks.is_empty()).await {
                Ok(b) => {
                    state.set_browser_ok(true);
                    browser_backoff = Duration::from_secs(1);
                    b
                }
                Err(e) => {
                    state.set_browser_ok(false);
                    tracing::error!(error = %e, "Chromium cannot be started; no job is claimed until it can");
                    wait = browser_backoff;
                    browser_backoff = (browser_backoff * 2).min(Duration::from_secs(60));
                    break;
                }
            };
            let job = match bevara
                .db()
                .claim(&lease.owner, None, lease.until(), Utc::now())
                .await
            {
                Ok(Some(j)) => j,
                Ok(None) => {
                    slot.served = slot.served.saturating_sub(1);
                    break;
                }
                Err(e) => {
                    slot.served = slot.served.saturating_sub(1);
                    tracing::warn!(error = %e, "cannot claim a job");
                    break;
                }
            };
            let (cancel_tx, cancel_rx) = watch::channel(None);
            running.insert(job.id.clone(), Running { cancel: cancel_tx });
            spawn_attempt(&mut tasks, &bevara, browser, job, &lease, cancel_rx);
        }
        if let Ok(stats) = bevara.db().queue_stats(Utc::now()).await {
            state.metrics.queue(&stats, Utc::now());
        }
        tokio::select! {
            Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                finished(done, &mut running, &state, &mut report);
            }
            _ = bevara.db().wait_for_jobs(wait) => {}
            _ = shutdown.changed() => {}
        }
    }
    drain(&mut tasks, &mut running, &state, &mut report, w.drain_secs).await;
    slot.close().await;
    syncer.abort();
    if let Some(s) = scheduler {
        s.abort();
    }
    if let Some(s) = server {
        s.abort();
    }
    tracing::info!(
        completed = report.completed,
        failed = report.failed,
        cancelled = report.cancelled,
        "worker stopped"
    );
    Ok(report)
}

fn spawn_attempt(
    tasks: &mut JoinSet<(String, Outcome, f64)>,
    bevara: &Bevara,
    browser: Arc<Browser>,
    job: Job,
    lease: &Lease,
    cancel: watch::Receiver<Option<String>>,
) {
    let (bevara, lease) = (bevara.clone(), lease.clone());
    tasks.spawn(async move {
        let started = Instant::now();
        let outcome = run_claimed(&bevara, &browser, &job, &lease, cancel, None).await;
        (job.id, outcome, started.elapsed().as_secs_f64())
    });
}

fn finished(
    done: Result<(String, Outcome, f64), tokio::task::JoinError>,
    running: &mut std::collections::HashMap<String, Running>,
    state: &WorkerState,
    report: &mut WorkerReport,
) {
    match done {
        Ok((job, outcome, secs)) => {
            running.remove(&job);
            let label = match &outcome {
                Outcome::Complete(o) if o.truncated() => "truncated".to_string(),
                Outcome::Complete(_) => "complete".to_string(),
                Outcome::Failed(f) => f.failure_code.clone(),
            };
            match &outcome {
                Outcome::Complete(o) => {
                    report.completed += 1;
                    tracing::info!(job = %job, snapshot = %o.snapshot_id, secs, "capture complete");
                }
                Outcome::Failed(f) => {
                    report.failed += 1;
                    tracing::warn!(job = %job, code = %f.failure_code, retryable = f.retryable, error = %f.message, "capture failed");
                }
            }
            state.metrics.capture_finished(&label, secs);
        }
        Err(e) => {
            tracing::error!(error = %e, "a capture task panicked; its job is retried when its lease runs out")
        }
    }
}

/// Waits up to `drain_secs` for running captures, then cancels the rest and
/// waits for them to record their end.
async fn drain(
    tasks: &mut JoinSet<(String, Outcome, f64)>,
    running: &mut std::collections::HashMap<String, Running>,
    state: &WorkerState,
    report: &mut WorkerReport,
    drain_secs: u64,
) {
    if tasks.is_empty() {
        return;
    }
    tracing::info!(
        running = tasks.len(),
        drain_secs,
        "draining: no new jobs, waiting for running captures"
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(drain_secs);
    while !tasks.is_empty() {
        tokio::select! {
            Some(done) = tasks.join_next() => finished(done, running, state, report),
            _ = tokio::time::sleep_until(deadline) => break,
        }
    }
    if tasks.is_empty() {
        return;
    }
    for r in running.values() {
        let _ = r.cancel.send(Some(format!(
            "the worker shut down and the capture did not finish within worker.drain_secs = {drain_secs} s"
        )));
    }
    while let Ok(Some(done)) =
        tokio::time::timeout(Duration::from_secs(30), tasks.join_next()).await
    {
        report.cancelled += 1;
        finished(done, running, state, report);
    }
}

async fn stop_reached(bevara: &Bevara, stop: &StopWhen) -> bool {
    match stop {
        StopWhen::Shutdown => false,
        StopWhen::JobEnded(id) => bevara
            .db()
            .job(id)
            .await
            .map(|j| !j.status.is_active())
            .unwrap_or(true),
    }
}

/// Stores what waits in the spool: at start (a killed run's uploads), then
/// every `base`, backing off (doubling, at most `max`) while the store
/// refuses; and timestamps the manifests a TSA did not stamp in time.
async fn sync_loop(bevara: Bevara, metrics: Arc<Metrics>, base: Duration, max: Duration) {
    let mut wait = base;
    loop {
        let r = crate::store::spool::sync(&bevara).await;
        let spool = bevara.settings().spool_dir();
        metrics.spool(
            r.left.len() + r.busy.len(),
            crate::store::spool::size(&spool),
        );
        if !r.stored.is_empty() || !r.left.is_empty() {
            tracing::info!(
                stored = r.stored.len(),
                left = r.left.len(),
                "pending uploads: stored {}, left {}",
                r.stored.len(),
                r.left.len()
            );
        }
        for (id, why) in &r.left {
            tracing::warn!(snapshot = %id, reason = %why, next_try_secs = wait.as_secs(), "upload still pending");
        }
        // Manifests the TSA did not stamp at completion, a few per round
        // (they do not slow the uploads' retries).
        match crate::timestamp::catch_up(&bevara, 20, 120).await {
            Ok(t) => {
                if !t.stamped.is_empty() {
                    tracing::info!(stamped = t.stamped.len(), "late timestamps stored");
                }
                for (id, why) in &t.left {
                    tracing::warn!(snapshot = %id, reason = %why, "not timestamped yet");
                }
            }
            Err(e) => tracing::warn!(error = %e, "timestamp catch-up failed"),
        }
        wait = if r.left.is_empty() {
            base
        } else {
            (wait * 2).min(max)
        };
        tokio::time::sleep(wait).await;
    }
}

async fn scheduler_loop(mut sched: Scheduler, tick: Duration) {
    loop {
        match sched.tick(Utc::now()).await {
            Ok(r) if r.enqueued > 0 || r.missed > 0 => {
                tracing::info!(enqueued = r.enqueued, missed = r.missed, "scheduler tick")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "scheduler tick failed; next tick tries again"),
        }
        tokio::time::sleep(tick).await;
    }
}
