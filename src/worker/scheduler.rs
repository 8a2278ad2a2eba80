//! The scheduler: turns schedule files and debates into jobs. It only
//! enqueues, keyed by (schedule, channel, fire time) in the fire log, so
//! every worker may run one and a fire is still enqueued once.
//!
//! Each fire is computed from the schedule's cron in its own time zone
//! (see [`crate::schedule`]) and the scheduler wakes every tick to enqueue
//! what fell due. It does not hand the schedules to tokio-cron-scheduler:
//! that crate keeps a fixed UTC offset once a job is created, so after a
//! daylight-saving change its time-zone jobs fire an hour off; a tick that
//! asks "which fires are due now" from the cron itself cannot drift.

use super::metrics::Metrics;
use crate::db::{Db, DbError};
use crate::queue::{NewJob, Priority, TriggerKind};
use crate::registry::Channel;
use crate::schedule::{self, Schedule};
use chrono::{DateTime, Utc};
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// What one tick did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TickReport {
    /// Jobs queued or joined by fires recorded in this tick.
    pub enqueued: usize,
    /// Fires logged as missed (older than the grace period).
    pub missed: usize,
}

/// Turns due fires into jobs. Keeps, per schedule, the instant up to which
/// it has looked.
pub struct Scheduler {
    db: Db,
    dir: PathBuf,
    grace: Duration,
    max_attempts: i64,
    checked: HashMap<String, DateTime<Utc>>,
    reported: HashSet<String>,
    metrics: Option<Arc<Metrics>>,
}

impl Scheduler {
    pub fn new(db: Db, dir: PathBuf, grace: Duration, max_attempts: u32) -> Self {
        Self {
            db,
            dir,
            grace,
            max_attempts: max_attempts.max(1) as i64,
            checked: HashMap::new(),
            reported: HashSet::new(),
            metrics: None,
        }
    }

    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// The schedules of the directory; bad files are logged once each and skipped.
    fn schedules(&mut self) -> Vec<Schedule> {
        let (good, bad) = schedule::load_dir(&self.dir);
        for e in bad {
            let msg = e.to_string();
            if self.reported.insert(msg.clone()) {
                tracing::error!(error = %msg, "schedule file skipped; the others still run");
            }
        }
        good
    }

    /// Enqueues every fire due at `now` since the last tick. The first tick
    /// of a schedule looks back to its last logged fire: fires since then
    /// within the grace period run once, older ones are logged as missed.
    pub async fn tick(&mut self, now: DateTime<Utc>) -> Result<TickReport, DbError> {
        let channels = self.db.list_channels().await?;
        let mut report = TickReport::default();
        for s in self.schedules() {
            let since = self.since(&s.name, now).await?;
            let fires = s.fires_between(since, now);
            let selected: Vec<&Channel> = channels.iter().filter(|c| s.selects(c)).collect();
            let jobs = |fire: DateTime<Utc>| -> Vec<NewJob> {
                selected
                    .iter()
                    .map(|c| {
                        let mut j = NewJob::new(c.id.as_str(), TriggerKind::Schedule);
                        j.trigger.schedule = Some(s.name.clone());
                        j.trigger.fire_time = Some(fire);
                        j.reason = Some(
                            s.reason
                                .clone()
                                .unwrap_or_else(|| format!("schedule {}", s.name)),
                        );
                        j.priority = s.priority;
                        j.recording = s.recording;
                        j.max_attempts = self.max_attempts;
                        j
                    })
                    .collect()
            };
            report += self.enqueue(&s.name, fires, now, &jobs).await?;
            self.checked.insert(s.name.clone(), now);
        }
        for d in self.db.debates(Some(now)).await? {
            let name = d.schedule_name();
            let since = self.since(&name, now).await?;
            let every = Duration::from_secs(d.every_secs.max(60) as u64);
            let fires = schedule::every_fires(d.starts_at, every, d.until, since, now);
            let selected: Vec<&Channel> = channels.iter().filter(|c| d.selects(c)).collect();
            let jobs = |fire: DateTime<Utc>| -> Vec<NewJob> {
                selected
                    .iter()
                    .map(|c| {
                        let mut j = NewJob::new(c.id.as_str(), TriggerKind::Debate);
                        j.trigger.debate = Some(d.id.clone());
                        j.trigger.fire_time = Some(fire);
                        j.reason = Some(d.reason.clone());
                        j.requested_by = d.started_by.clone();
                        j.priority = Priority::DEBATE;
                        j.max_attempts = self.max_attempts;
                        j
                    })
                    .collect()
            };
            report += self.enqueue(&name, fires, now, &jobs).await?;
            self.checked.insert(name, now);
        }
        Ok(report)
    }

    /// Where a schedule's look starts: the last tick, else its last logged
    /// fire, else one grace period back.
    async fn since(&self, name: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, DbError> {
        if let Some(t) = self.checked.get(name) {
            return Ok(*t);
        }
        let grace = chrono::Duration::from_std(self.grace).unwrap_or(chrono::Duration::MAX);
        let floor = now - grace;
        Ok(match self.db.last_fire(name).await? {
            Some(last) if last < floor => last,
            _ => floor,
        })
    }

    async fn enqueue(
        &self,
        name: &str,
        fires: Vec<DateTime<Utc>>,
        now: DateTime<Utc>,
        jobs: &(dyn Fn(DateTime<Utc>) -> Vec<NewJob> + Sync),
    ) -> Result<TickReport, DbError> {
        let mut report = TickReport::default();
        let (run, missed) = schedule::split_missed(fires, now, self.grace);
        for m in missed {
            let channels: Vec<String> = jobs(m).into_iter().map(|j| j.channel_id).collect();
            let n = self.db.record_missed(name, m, &channels, now).await?;
            if n > 0 {
                tracing::warn!(schedule = name, fire_time = %m, channels = n, "fire missed (the scheduler was not running); not run");
                report.missed += n as usize;
            }
        }
        if let Some(fire) = run {
            let done = self.db.record_fires(name, fire, &jobs(fire), now).await?;
            if !done.is_empty() {
                tracing::info!(schedule = name, fire_time = %fire, jobs = done.len(), "schedule fired");
                if let Some(m) = &self.metrics {
                    m.fired(fire, now);
                }
            }
            report.enqueued += done.len();
        }
        Ok(report)
    }
}

impl std::ops::AddAssign for TickReport {
    fn add_assign(&mut self, o: Self) {
        self.enqueued += o.enqueued;
        self.missed += o.missed;
    }
}
