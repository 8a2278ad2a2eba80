//! Capture jobs: what a job is, its trigger and status, priorities, leases
//! and the retry backoff. The SQL lives behind [`crate::db::Repository`]; the
//! worker that claims jobs is [`crate::worker`].
//!
//! A job is a queued request for a capture of one channel. Workers claim the
//! most urgent job whose next attempt is due and hold it with a lease they
//! renew by heartbeat. A job whose lease runs out (its worker was killed) is
//! put back in the queue by whichever process notices first, and its half
//! capture is marked failed (`interrupted`), never complete.
//!
//! ```
//! use bevara::queue::{backoff, Priority};
//! assert!(Priority::HIGH > Priority::ADHOC && Priority::ADHOC > Priority::DEBATE);
//! assert_eq!(backoff(1, 60, 3600).as_secs(), 60);
//! assert_eq!(backoff(3, 60, 3600).as_secs(), 240);
//! ```

use chrono::{DateTime, Utc};
use serde::Serialize;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// Where a job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    Queued,
    Running,
    Done,
    Failed,
    Cancelled,
}

impl JobStatus {
    pub const ALL: [JobStatus; 5] = [
        JobStatus::Queued,
        JobStatus::Running,
        JobStatus::Done,
        JobStatus::Failed,
        JobStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Running => "running",
            JobStatus::Done => "done",
            JobStatus::Failed => "failed",
            JobStatus::Cancelled => "cancelled",
        }
    }

    /// Queued or running: a new request for the channel joins this job.
    pub fn is_active(self) -> bool {
        matches!(self, JobStatus::Queued | JobStatus::Running)
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JobStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                format!("unknown job status {s:?}: use queued, running, done, failed or cancelled")
            })
    }
}

/// What made a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TriggerKind {
    /// `bevara capture`, run at once by the process that asked.
    Manual,
    /// `bevara enqueue` or the web's "capture now", run by a worker.
    AdHoc,
    /// A schedule file fired.
    Schedule,
    /// A debate's denser schedule fired.
    Debate,
    /// The final capture of a channel being closed.
    Close,
}

impl TriggerKind {
    pub const ALL: [TriggerKind; 5] = [
        TriggerKind::Manual,
        TriggerKind::AdHoc,
        TriggerKind::Schedule,
        TriggerKind::Debate,
        TriggerKind::Close,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TriggerKind::Manual => "manual",
            TriggerKind::AdHoc => "ad-hoc",
            TriggerKind::Schedule => "schedule",
            TriggerKind::Debate => "debate",
            TriggerKind::Close => "close",
        }
    }
}

impl FromStr for TriggerKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown trigger kind {s:?}"))
    }
}

/// What made a job, with the schedule's fire or the debate it belongs to.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobTrigger {
    pub kind: TriggerKind,
    /// The schedule's name, for scheduled jobs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// The fire time the job was enqueued for (schedule and debate jobs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fire_time: Option<DateTime<Utc>>,
    /// The debate, for debate jobs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub debate: Option<String>,
}

impl JobTrigger {
    pub fn of(kind: TriggerKind) -> Self {
        Self {
            kind,
            schedule: None,
            fire_time: None,
            debate: None,
        }
    }
}

/// Job priorities: a higher number is claimed first. Ad-hoc captures come
/// before debates, debates before the baseline schedules (0–49).
pub struct Priority;

impl Priority {
    /// `bevara enqueue --priority high`, and a channel's final capture.
    pub const HIGH: i64 = 200;
    /// `bevara enqueue`, the web's "capture now", `bevara capture`.
    pub const ADHOC: i64 = 100;
    /// A debate's captures.
    pub const DEBATE: i64 = 50;
    /// A schedule file's default `priority`.
    pub const SCHEDULE: i64 = 10;
    /// The highest priority a schedule file may give: below every debate.
    pub const SCHEDULE_MAX: i64 = Self::DEBATE - 1;
}

/// A request for a capture, before it is queued.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    pub channel_id: String,
    pub trigger: JobTrigger,
    pub reason: Option<String>,
    pub requested_by: Option<String>,
    pub priority: i64,
    /// Attempts before a retryable failure becomes final.
    pub max_attempts: i64,
    /// Overrides the channel's recording choice when set.
    pub recording: Option<bool>,
}

impl NewJob {
    /// A job of `kind` for `channel` with the default priority of that kind.
    pub fn new(channel: &str, kind: TriggerKind) -> Self {
        let priority = match kind {
            TriggerKind::Close => Priority::HIGH,
            TriggerKind::Manual | TriggerKind::AdHoc => Priority::ADHOC,
            TriggerKind::Debate => Priority::DEBATE,
            TriggerKind::Schedule => Priority::SCHEDULE,
        };
        Self {
            channel_id: channel.to_string(),
            trigger: JobTrigger::of(kind),
            reason: None,
            requested_by: None,
            priority,
            // A manual capture is run by the process that asked; if that
            // process dies nobody is waiting for a retry.
            max_attempts: if kind == TriggerKind::Manual { 1 } else { 3 },
            recording: None,
        }
    }

    pub fn reason(mut self, reason: Option<String>) -> Self {
        self.reason = reason;
        self
    }

    pub fn requested_by(mut self, who: Option<String>) -> Self {
        self.requested_by = who;
        self
    }

    /// The attempts `worker.max_attempts` allows (a manual capture keeps its one).
    pub fn attempts_from(mut self, w: &crate::config::WorkerSettings) -> Self {
        if self.trigger.kind != TriggerKind::Manual {
            self.max_attempts = w.max_attempts.max(1) as i64;
        }
        self
    }
}

/// A job as the queue holds it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Job {
    pub id: String,
    #[serde(rename = "channel")]
    pub channel_id: String,
    pub status: JobStatus,
    pub trigger: JobTrigger,
    /// Every reason given for this job: requests that joined it add theirs.
    pub reasons: Vec<String>,
    pub requested_by: Option<String>,
    pub priority: i64,
    pub attempts: i64,
    pub max_attempts: i64,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<DateTime<Utc>>,
    pub heartbeat_at: Option<DateTime<Utc>>,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error_code: Option<String>,
    pub last_error: Option<String>,
    pub snapshot_id: Option<String>,
    pub recording: Option<bool>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Job {
    /// The reasons joined into one line, for the manifest's trigger.
    pub fn reason(&self) -> Option<String> {
        (!self.reasons.is_empty()).then(|| self.reasons.join("; "))
    }
}

/// The answer to an enqueue: the job, and whether the request joined one
/// that was already queued or running for the channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Enqueued {
    pub job_id: String,
    pub joined: bool,
}

/// How a claimed job ended.
#[derive(Debug, Clone, PartialEq)]
pub enum JobEnd {
    /// The capture is complete.
    Done { snapshot_id: String },
    /// It failed in a way a later attempt may not: try again at `at`
    /// (or fail for good when the attempts are used up).
    Retry {
        code: String,
        error: String,
        at: DateTime<Utc>,
        snapshot_id: Option<String>,
    },
    /// It failed for good.
    Failed {
        code: String,
        error: String,
        snapshot_id: Option<String>,
    },
}

/// A job whose worker stopped renewing its lease.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reaped {
    pub job_id: String,
    pub channel_id: String,
    /// Back in the queue (else failed: its attempts are used up).
    pub requeued: bool,
    /// Its running captures, now failed as `interrupted`.
    pub captures: Vec<String>,
}

/// Depth and age of the queue, for metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueStats {
    pub queued: i64,
    pub running: i64,
    /// When the longest-waiting queued job became due.
    pub oldest_due: Option<DateTime<Utc>>,
}

/// Delay before attempt `attempt + 1` after `attempt` failed: doubling from
/// `base_secs`, at most `max_secs`.
pub fn backoff(attempt: i64, base_secs: u64, max_secs: u64) -> Duration {
    let exp = attempt.clamp(1, 30) as u32 - 1;
    let secs = base_secs.saturating_mul(1u64 << exp.min(20));
    Duration::from_secs(secs.min(max_secs))
}

/// The failure code of a capture its worker never finished.
pub const INTERRUPTED: &str = "interrupted";

/// A date (`YYYY-MM-DD`: its start, or with `end` the start of the next
/// day) or an RFC 3339 time.
pub fn parse_time(s: &str, end: bool) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    let d = chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|_| format!("{s:?} is not a date (YYYY-MM-DD) or RFC 3339 time"))?;
    let d = if end { d.succ_opt().unwrap_or(d) } else { d };
    Ok(d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc())
}

/// Why a debate could not be started.
#[derive(Debug, thiserror::Error)]
pub enum DebateError {
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Db(#[from] crate::db::DbError),
}

/// Starts a debate: the channels (or every open channel with `tag`)
/// captured `every` (e.g. `6h`) until `until` (a date, the whole day, or an
/// RFC 3339 time). The CLI and the API both start debates here.
pub async fn start_debate(
    db: &crate::db::Db,
    channels: Vec<String>,
    tag: Option<String>,
    every: &str,
    until: &str,
    reason: String,
    by: Option<String>,
) -> Result<crate::db::Debate, DebateError> {
    let every =
        crate::schedule::parse_duration(every).map_err(|e| DebateError::Usage(e.to_string()))?;
    let until = parse_time(until, true).map_err(DebateError::Usage)?;
    let now = Utc::now();
    if until <= now {
        return Err(DebateError::Usage("until must be in the future".into()));
    }
    if channels.is_empty() && tag.is_none() {
        return Err(DebateError::Usage("name channels or a tag".into()));
    }
    if reason.trim().is_empty() {
        return Err(DebateError::Usage(
            "say what is debated (the reason)".into(),
        ));
    }
    for c in &channels {
        db.channel(c).await?;
    }
    let d = crate::db::Debate {
        id: ulid::Ulid::new().to_string(),
        channels,
        tag,
        every_secs: every.as_secs() as i64,
        starts_at: now,
        until,
        reason,
        started_by: by,
        stopped_at: None,
        stopped_by: None,
    };
    db.add_debate(&d).await?;
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let s: Vec<u64> = (1..=8).map(|a| backoff(a, 30, 600).as_secs()).collect();
        assert_eq!(s, vec![30, 60, 120, 240, 480, 600, 600, 600]);
        assert_eq!(backoff(0, 30, 600).as_secs(), 30);
        assert_eq!(backoff(i64::MAX, 30, u64::MAX).as_secs(), 30 << 20);
    }

    #[test]
    fn names_round_trip() {
        for s in JobStatus::ALL {
            assert_eq!(s.as_str().parse::<JobStatus>().unwrap(), s);
        }
        for k in TriggerKind::ALL {
            assert_eq!(k.as_str().parse::<TriggerKind>().unwrap(), k);
        }
        assert!("sleeping".parse::<JobStatus>().is_err());
    }

    #[test]
    fn requested_jobs_get_the_configured_attempts_but_manual_keeps_one() {
        let w = crate::config::WorkerSettings {
            max_attempts: 7,
            ..Default::default()
        };
        let n = |k| NewJob::new("c", k).attempts_from(&w).max_attempts;
        assert_eq!(n(TriggerKind::AdHoc), 7);
        assert_eq!(n(TriggerKind::Close), 7);
        assert_eq!(n(TriggerKind::Manual), 1);
    }

    #[test]
    fn default_priorities_order_the_kinds() {
        let p = |k| NewJob::new("c", k).priority;
        assert!(p(TriggerKind::Close) > p(TriggerKind::AdHoc));
        assert!(p(TriggerKind::AdHoc) > p(TriggerKind::Debate));
        assert!(p(TriggerKind::Debate) > p(TriggerKind::Schedule));
    }
}

/// Closes a channel and queues its final capture: "vid avslut … bevaras",
/// one last capture of what the channel holds and how it looks. Returns the
/// final capture's job, or `None` when the channel was already closed.
pub async fn close_channel(
    bevara: &crate::Bevara,
    id: &crate::registry::ChannelId,
    requested_by: Option<String>,
) -> Result<Option<String>, crate::db::DbError> {
    let db = bevara.db();
    if !db.close_channel(id, Utc::now()).await? {
        return Ok(None);
    }
    let job = NewJob::new(id.as_str(), TriggerKind::Close)
        .reason(Some("final capture at closing".into()))
        .requested_by(requested_by)
        .attempts_from(&bevara.settings().worker);
    Ok(Some(db.enqueue(&job, Utc::now()).await?.job_id))
}
