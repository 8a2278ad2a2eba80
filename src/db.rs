//! The database behind the register, the record of captures, the job queue,
//! the schedules' fire log and the debates.
//!
//! All SQL lives here, behind one [`Repository`] trait with one
//! implementation per database, each with its own migrations: SQLite, the
//! embedded default (`sqlite.rs`, `migrations/sqlite/`), and Postgres for many
//! workers (`postgres.rs`, `migrations/postgres/`). [`Db::open`] picks one by
//! URL. Queries are built at run time with `FromRow`, so no database is needed
//! to build.

#[cfg(test)]
pub(crate) mod contract;
pub(crate) mod postgres;
mod rows;
mod sqlite;
#[doc(hidden)]
pub mod testing;

pub use postgres::PgRepo;
pub use sqlite::SqliteRepo;

use crate::behaviour::items::Item;
use crate::queue::{Enqueued, Job, JobEnd, JobStatus, NewJob, QueueStats, Reaped};
use crate::registry::{Channel, ChannelId};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::sync::Arc;

/// The database: one [`Repository`] behind a cheap, cloneable handle.
#[derive(Clone, Debug)]
pub struct Db(Arc<dyn Repository>);

impl std::ops::Deref for Db {
    type Target = dyn Repository;
    fn deref(&self) -> &Self::Target {
        self.0.as_ref()
    }
}

impl Db {
    /// Opens the database at `url`, creating it and applying migrations:
    /// `postgres://…` or `postgresql://…` is Postgres, anything else SQLite.
    pub async fn open(url: &str) -> Result<Self, DbError> {
        if is_postgres_url(url) {
            Ok(Self(Arc::new(PgRepo::open(url).await?)))
        } else {
            Ok(Self(Arc::new(SqliteRepo::open(url).await?)))
        }
    }
}

/// Whether `url` names a Postgres database.
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// Everything Bevara keeps in its database. One implementation per backend;
/// both pass the same tests.
#[async_trait::async_trait]
pub trait Repository: Send + Sync + std::fmt::Debug {
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;
    /// A round trip to the database, for readiness checks.
    async fn ping(&self) -> Result<(), DbError>;
    /// Returns when a job may have been queued, or after `max`. Polling is
    /// the fallback everywhere; a backend that can be woken (Postgres'
    /// LISTEN/NOTIFY) returns earlier.
    async fn wait_for_jobs(&self, max: std::time::Duration) {
        tokio::time::sleep(max).await;
    }

    // ----- the register -----
    async fn add_channel(&self, c: &Channel) -> Result<(), DbError>;
    async fn channel(&self, id: &str) -> Result<Channel, DbError>;
    async fn list_channels(&self) -> Result<Vec<Channel>, DbError>;
    /// Closes a channel; returns false if it was already closed.
    async fn close_channel(&self, id: &ChannelId, at: DateTime<Utc>) -> Result<bool, DbError>;

    // ----- captures, artifacts, items -----
    /// Records a capture as running.
    async fn insert_capture(&self, c: &CaptureRecord) -> Result<(), DbError>;
    /// Marks a running or upload-pending capture complete and records its
    /// artifacts and items, in one transaction.
    async fn complete_capture(
        &self,
        id: &str,
        finish: &CaptureFinish,
        artifacts: &[ArtifactRecord],
        items: &[Item],
    ) -> Result<(), DbError>;
    /// Marks a running (or already pending) capture `upload-pending`: its
    /// files are in the spool and `reason` says why they are not all stored.
    async fn pend_capture(&self, id: &str, reason: &str) -> Result<(), DbError>;
    /// Sets (or with `None` clears) a channel's own Object Lock days.
    async fn set_retain_days(&self, id: &str, days: Option<u32>) -> Result<(), DbError>;
    /// Marks a running capture failed with a stable code and a message saying why.
    async fn fail_capture(
        &self,
        id: &str,
        code: &str,
        message: &str,
        final_url: Option<&str>,
    ) -> Result<(), DbError>;
    async fn capture(&self, id: &str) -> Result<CaptureRecord, DbError>;
    async fn list_captures(&self, f: &CaptureFilter) -> Result<Vec<CaptureRecord>, DbError>;
    /// The channel's latest complete capture requested before `before`.
    async fn previous_complete(
        &self,
        channel: &str,
        before: DateTime<Utc>,
    ) -> Result<Option<String>, DbError>;
    /// The items of a capture, in page order.
    async fn items(&self, capture_id: &str) -> Result<Vec<Item>, DbError>;
    /// Items whose text or author contains every word, newest capture first.
    async fn search(
        &self,
        words: &str,
        channel: Option<&str>,
        limit: i64,
    ) -> Result<Vec<SearchHit>, DbError>;
    /// The latest complete capture of `channel` before `before` that holds `item_id`.
    async fn last_seen(
        &self,
        channel: &str,
        item_id: &str,
        before: DateTime<Utc>,
    ) -> Result<Option<(String, DateTime<Utc>)>, DbError>;
    async fn artifacts(&self, capture_id: &str) -> Result<Vec<ArtifactRecord>, DbError>;
    /// Records one more object of a complete snapshot (its timestamp token),
    /// replacing one of the same name.
    async fn add_artifact(&self, capture_id: &str, a: &ArtifactRecord) -> Result<(), DbError>;
    /// Complete snapshots with a stored manifest but no `manifest.tsr`, in
    /// id order (oldest first) from after the id `after` (`""`: the first).
    async fn untimestamped(&self, after: &str, limit: i64) -> Result<Vec<String>, DbError>;

    // ----- jobs -----
    /// Queues a job, or joins the channel's queued or running job (its
    /// reasons kept, the higher priority taken).
    async fn enqueue(&self, job: &NewJob, now: DateTime<Utc>) -> Result<Enqueued, DbError>;
    async fn job(&self, id: &str) -> Result<Job, DbError>;
    /// Jobs, newest first.
    async fn list_jobs(&self, status: Option<JobStatus>, limit: i64) -> Result<Vec<Job>, DbError>;
    /// The channel's queued or running job.
    async fn active_job(&self, channel: &str) -> Result<Option<Job>, DbError>;
    /// Claims the most urgent due job (or the job `only`, if it is queued)
    /// for `owner` until `lease_until`.
    async fn claim(
        &self,
        owner: &str,
        only: Option<&str>,
        lease_until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Option<Job>, DbError>;
    /// Renews a lease. False when the job is no longer `owner`'s to run
    /// (cancelled, or reaped after its lease ran out).
    async fn heartbeat(
        &self,
        id: &str,
        owner: &str,
        lease_until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, DbError>;
    /// Ends `owner`'s attempt at a running job. False when it was no longer theirs.
    async fn end_job(
        &self,
        id: &str,
        owner: &str,
        end: &JobEnd,
        now: DateTime<Utc>,
    ) -> Result<bool, DbError>;
    /// Puts running jobs whose lease ran out back in the queue (or fails
    /// them when their attempts are used up) and fails their running captures.
    async fn reap_expired(&self, now: DateTime<Utc>) -> Result<Vec<Reaped>, DbError>;
    /// Queues a failed or cancelled job again, with fresh attempts.
    async fn retry_job(&self, id: &str, now: DateTime<Utc>) -> Result<Job, DbError>;
    /// Cancels a queued or running job; a running capture stops at its next heartbeat.
    async fn cancel_job(&self, id: &str, now: DateTime<Utc>) -> Result<Job, DbError>;
    async fn queue_stats(&self, now: DateTime<Utc>) -> Result<QueueStats, DbError>;

    // ----- the schedules' fire log -----
    /// Enqueues one fire of `schedule` at `fire_time` for each job's channel,
    /// once: a fire already in the log is skipped, so any number of
    /// schedulers may record the same fire. Returns the jobs of the fires
    /// recorded now, in one transaction.
    async fn record_fires(
        &self,
        schedule: &str,
        fire_time: DateTime<Utc>,
        jobs: &[NewJob],
        now: DateTime<Utc>,
    ) -> Result<Vec<Enqueued>, DbError>;
    /// Logs fires that were missed (too long ago to run); returns how many were new.
    async fn record_missed(
        &self,
        schedule: &str,
        fire_time: DateTime<Utc>,
        channels: &[String],
        now: DateTime<Utc>,
    ) -> Result<u64, DbError>;
    /// The latest fire time in the log for `schedule`.
    async fn last_fire(&self, schedule: &str) -> Result<Option<DateTime<Utc>>, DbError>;

    // ----- the web: API tokens and the audit log -----
    /// Stores a token by the SHA-256 of its secret (never the secret).
    async fn add_token(&self, t: &ApiToken, hash: &str) -> Result<(), DbError>;
    async fn list_tokens(&self) -> Result<Vec<ApiToken>, DbError>;
    /// Revokes a token; false if it was already revoked or unknown.
    async fn revoke_token(&self, id: &str, at: DateTime<Utc>) -> Result<bool, DbError>;
    /// The unrevoked token whose secret hashes to `hash`.
    async fn token_by_hash(&self, hash: &str) -> Result<Option<ApiToken>, DbError>;
    /// Appends one entry to the audit log, chained to the one before it:
    /// its `seq` is the head's plus one and its `hash` covers the head's
    /// hash, so a removed or edited entry breaks the chain. Returns the
    /// entry as written.
    async fn add_audit(&self, e: &AuditEntry) -> Result<AuditEntry, DbError> {
        // Two writers may read the same head; the unique `seq` lets one of
        // them in and the other reads the new head and tries again.
        for _ in 0..50 {
            let head = self.audit_head().await?;
            let chained = e.chained(head.as_ref());
            if self.insert_audit(&chained).await? {
                return Ok(chained);
            }
        }
        Err(DbError::Corrupt {
            table: "audit",
            detail: "the log's head kept moving; the entry was not written".into(),
        })
    }
    /// The newest chained entry's `seq` and `hash`.
    async fn audit_head(&self) -> Result<Option<(i64, String)>, DbError>;
    /// Inserts an entry; false when its `seq` is taken (another writer won).
    async fn insert_audit(&self, e: &AuditEntry) -> Result<bool, DbError>;
    /// The audit log, newest first.
    async fn audit(&self, limit: i64) -> Result<Vec<AuditEntry>, DbError>;
    /// The whole audit log, oldest first (entries from before the chain first).
    async fn audit_all(&self) -> Result<Vec<AuditEntry>, DbError>;

    // ----- retention, holds, disposals -----
    /// Sets the rule of its channel or platform, replacing the one before.
    async fn set_retention(&self, r: &RetentionRule) -> Result<(), DbError>;
    async fn retention_rules(&self) -> Result<Vec<RetentionRule>, DbError>;
    async fn add_hold(&self, h: &Hold) -> Result<(), DbError>;
    /// Lifts a hold; false if it was lifted already or is unknown.
    async fn remove_hold(
        &self,
        id: &str,
        at: DateTime<Utc>,
        by: Option<&str>,
    ) -> Result<bool, DbError>;
    /// Holds, newest first; only those in force when `active`.
    async fn holds(&self, active: bool) -> Result<Vec<Hold>, DbError>;
    /// Removes a snapshot's rows (items, artifacts, the capture) and writes
    /// its disposal record, in one transaction.
    async fn dispose_capture(&self, d: &Disposal) -> Result<(), DbError>;
    /// Every disposal record, newest first.
    async fn disposals(&self) -> Result<Vec<Disposal>, DbError>;

    // ----- debates -----
    async fn add_debate(&self, d: &Debate) -> Result<(), DbError>;
    /// Debates, newest first; only those not stopped and not past `until` when `active_at` is given.
    async fn debates(&self, active_at: Option<DateTime<Utc>>) -> Result<Vec<Debate>, DbError>;
    /// Stops a debate; false if it was already stopped.
    async fn stop_debate(
        &self,
        id: &str,
        at: DateTime<Utc>,
        by: Option<&str>,
    ) -> Result<bool, DbError>;
}

/// An API token as the register keeps it (its secret is not kept).
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct ApiToken {
    pub id: String,
    pub name: String,
    /// `viewer`, `archivist`, `admin` or `ops`.
    pub role: String,
    pub created_at: DateTime<Utc>,
    pub created_by: Option<String>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// One state-changing action: who, in which role, did what to what, when.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct AuditEntry {
    pub id: String,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub role: String,
    /// e.g. `channel.add`, `capture.request`, `token.create`.
    pub action: String,
    pub target: Option<String>,
    /// JSON with the action's details (a capture's reason, a job id).
    pub detail: Option<String>,
    /// Position in the chain, from 1; `None` for entries written before the
    /// log was chained.
    #[sqlx(default)]
    pub seq: Option<i64>,
    /// The hash of the entry before (empty for the first).
    #[sqlx(default)]
    pub prev_hash: Option<String>,
    /// SHA-256 over this entry's fields and `prev_hash`.
    #[sqlx(default)]
    pub hash: Option<String>,
}

impl AuditEntry {
    /// A new entry, not yet chained (`add_audit` chains it).
    pub fn new(
        actor: &str,
        role: &str,
        action: &str,
        target: Option<&str>,
        detail: Option<String>,
    ) -> Self {
        Self {
            id: ulid::Ulid::new().to_string(),
            at: Utc::now(),
            actor: actor.to_string(),
            role: role.to_string(),
            action: action.to_string(),
            target: target.map(str::to_string),
            detail,
            seq: None,
            prev_hash: None,
            hash: None,
        }
    }

    /// This entry placed after `head` (`None`: the first), its time cut to
    /// microseconds as both databases keep it.
    pub fn chained(&self, head: Option<&(i64, String)>) -> AuditEntry {
        use chrono::SubsecRound;
        let mut e = self.clone();
        e.at = e.at.trunc_subsecs(6);
        e.seq = Some(head.map_or(1, |(s, _)| s + 1));
        e.prev_hash = Some(head.map(|(_, h)| h.clone()).unwrap_or_default());
        e.hash = Some(e.computed_hash());
        e
    }

    /// SHA-256 of the entry's fields in a fixed order, as a JSON array so no
    /// field's text can pass for another's.
    pub fn computed_hash(&self) -> String {
        use sha2::{Digest, Sha256};
        let fields = serde_json::json!([
            self.seq,
            self.prev_hash,
            self.id,
            self.at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            self.actor,
            self.role,
            self.action,
            self.target,
            self.detail
        ]);
        hex::encode(Sha256::digest(fields.to_string().as_bytes()))
    }
}

/// How long a channel's (or a platform's) snapshots are kept, and the
/// disposal decision (gallringsbeslut) that allows disposing of them after.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct RetentionRule {
    pub id: String,
    pub channel_id: Option<String>,
    pub platform: Option<String>,
    pub keep_days: i64,
    pub decision_id: String,
    pub decision_date: Option<String>,
    pub decision_text: Option<String>,
    pub set_at: DateTime<Utc>,
    pub set_by: Option<String>,
}

/// A legal hold on a snapshot or on all of a channel's: nothing under it is disposed of.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Hold {
    pub id: String,
    pub snapshot_id: Option<String>,
    pub channel_id: Option<String>,
    pub reason: String,
    pub placed_at: DateTime<Utc>,
    pub placed_by: Option<String>,
    pub removed_at: Option<DateTime<Utc>>,
    pub removed_by: Option<String>,
}

/// The record kept of a disposed snapshot: what, when, by which decision, who.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Disposal {
    pub id: String,
    pub snapshot_id: String,
    pub channel_id: String,
    pub requested_at: DateTime<Utc>,
    pub disposed_at: DateTime<Utc>,
    pub decision_id: String,
    pub decision_date: Option<String>,
    pub decision_text: Option<String>,
    pub keep_days: i64,
    pub disposed_by: Option<String>,
    pub objects: i64,
    pub bytes: i64,
    pub manifest_sha256: Option<String>,
}

/// What `bevara audit verify` found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AuditCheck {
    /// Entries in the chain.
    pub chained: usize,
    /// Entries from before the log was chained (not covered).
    pub unchained: usize,
    /// The newest entry's hash: note it down to detect a cut-off tail later.
    pub head: Option<String>,
    /// Each break: the entry and what is wrong.
    pub problems: Vec<String>,
}

/// Walks the audit log from its first chained entry and reports every entry
/// whose hash does not match its fields, whose link does not match the hash
/// before it, or whose number skips (an entry removed).
pub async fn verify_audit(db: &Db) -> Result<AuditCheck, DbError> {
    let all = db.audit_all().await?;
    let mut check = AuditCheck::default();
    let mut prev: Option<(i64, String)> = None;
    for e in &all {
        let Some(seq) = e.seq else {
            check.unchained += 1;
            continue;
        };
        check.chained += 1;
        let want_seq = prev.as_ref().map_or(1, |(s, _)| s + 1);
        if seq != want_seq {
            check.problems.push(format!(
                "entry {} is number {seq}, expected {want_seq}: {} removed before it",
                e.id,
                if seq > want_seq {
                    "entries were"
                } else {
                    "an entry was duplicated or"
                }
            ));
        }
        let want_prev = prev.as_ref().map(|(_, h)| h.as_str()).unwrap_or("");
        if e.prev_hash.as_deref() != Some(want_prev) {
            check.problems.push(format!(
                "entry {} (number {seq}) does not follow the entry before it",
                e.id
            ));
        }
        let h = e.computed_hash();
        if e.hash.as_deref() != Some(h.as_str()) {
            check.problems.push(format!(
                "entry {} (number {seq}, {} by {}) was changed after it was written",
                e.id, e.action, e.actor
            ));
        }
        prev = Some((seq, e.hash.clone().unwrap_or_default()));
    }
    check.head = prev.map(|(_, h)| h);
    Ok(check)
}

/// A database failure, with what was being done.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("cannot open database {url}: {source}")]
    Open { url: String, source: sqlx::Error },
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database query failed ({what}): {source}")]
    Query {
        what: &'static str,
        source: sqlx::Error,
    },
    #[error("channel {0} is already registered")]
    ChannelExists(ChannelId),
    #[error("no channel {0} in the register (see `bevara channel list`)")]
    NoChannel(String),
    #[error("no snapshot {0} (see `bevara snapshots list`)")]
    NoCapture(String),
    #[error(
        "capture {0} is no longer running (another process ended it); it is not marked complete"
    )]
    NotRunning(String),
    #[error("channel {channel} is being captured: capture {capture} by {worker} is running; wait for it")]
    CaptureRunning {
        channel: String,
        capture: String,
        worker: String,
    },
    #[error("channel {channel} already has job {job} queued or running")]
    ChannelBusy { channel: String, job: String },
    #[error("no job {0} (see `bevara jobs list`)")]
    NoJob(String),
    #[error("no debate {0} (see `bevara debate list`)")]
    NoDebate(String),
    #[error("job {id} is {status}; {what}")]
    JobState {
        id: String,
        status: JobStatus,
        what: &'static str,
    },
    #[error("corrupt row in {table}: {detail}")]
    Corrupt { table: &'static str, detail: String },
}

/// Maps a query's failure to a [`DbError`] saying what was being done.
pub(crate) fn q(what: &'static str) -> impl FnOnce(sqlx::Error) -> DbError {
    move |source| DbError::Query { what, source }
}

/// Why a job's lease ran out, as its last error says.
pub(crate) const LEASE_EXPIRED: &str =
    "its worker stopped renewing the lease (killed or cut off) before the capture finished";

/// The failure message of a capture whose job's lease ran out.
pub const INTERRUPTED_CAPTURE: &str =
    "the capturing process ended before the capture finished; the job is retried or can be run again";

/// Where a capture stands. Only `Complete` captures are snapshots an archivist can rely on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CaptureState {
    Running,
    /// Captured, its files in the spool, not yet all in the object store.
    UploadPending,
    Complete,
    Failed,
}

impl CaptureState {
    pub fn as_str(self) -> &'static str {
        match self {
            CaptureState::Running => "running",
            CaptureState::UploadPending => "upload-pending",
            CaptureState::Complete => "complete",
            CaptureState::Failed => "failed",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s {
            "running" => Some(Self::Running),
            "upload-pending" => Some(Self::UploadPending),
            "complete" => Some(Self::Complete),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

/// One capture as recorded in the database.
#[derive(Debug, Clone, Serialize)]
pub struct CaptureRecord {
    pub id: String,
    pub channel_id: String,
    pub state: CaptureState,
    pub trigger: String,
    pub reason: Option<String>,
    pub requested_by: Option<String>,
    pub requested_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub url: String,
    pub final_url: Option<String>,
    pub title: Option<String>,
    pub failure_code: Option<String>,
    pub failure: Option<String>,
    pub warnings: i64,
    pub truncated: bool,
    pub manifest_key: Option<String>,
    pub worker: Option<String>,
    /// The job this capture is an attempt at.
    pub job_id: Option<String>,
}

/// A stored artifact of a capture.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct ArtifactRecord {
    pub name: String,
    pub key: String,
    pub media_type: String,
    pub bytes: i64,
    pub sha256: String,
    pub width: Option<i64>,
    pub height: Option<i64>,
    /// The object version the store wrote, on a versioned bucket.
    pub version_id: Option<String>,
}

/// An item found by [`Db::search`], with the snapshot it is in.
#[derive(Debug, Clone, Serialize)]
pub struct SearchHit {
    pub snapshot_id: String,
    pub channel: String,
    pub captured_at: DateTime<Utc>,
    pub item: crate::behaviour::items::Item,
}

/// Which captures to list.
#[derive(Debug, Clone, Default)]
pub struct CaptureFilter {
    pub channel: Option<ChannelId>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub state: Option<CaptureState>,
}

/// The fields a finished capture records.
#[derive(Debug, Clone, Default)]
pub struct CaptureFinish {
    pub final_url: Option<String>,
    pub title: Option<String>,
    pub warnings: i64,
    pub truncated: bool,
    pub manifest_key: Option<String>,
}

/// A debate: a denser schedule for a set of channels for a period,
/// started by an administrator when a matter is debated.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Debate {
    pub id: String,
    /// The channels by id (empty when chosen by tag).
    pub channels: Vec<String>,
    /// Every open channel with this tag.
    pub tag: Option<String>,
    pub every_secs: i64,
    pub starts_at: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub reason: String,
    pub started_by: Option<String>,
    pub stopped_at: Option<DateTime<Utc>>,
    pub stopped_by: Option<String>,
}

impl Debate {
    /// Whether the debate covers `channel`.
    pub fn selects(&self, channel: &Channel) -> bool {
        !channel.is_closed()
            && (self.channels.iter().any(|c| c == channel.id.as_str())
                || self.tag.as_ref().is_some_and(|t| channel.tags.contains(t)))
    }

    /// The name its fires have in the fire log.
    pub fn schedule_name(&self) -> String {
        format!("debate:{}", self.id)
    }
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn channel_from_parts(
    id: String,
    platform: String,
    url: String,
    name: Option<String>,
    owner: Option<String>,
    admins: String,
    purpose: Option<String>,
    tags: String,
    opened_at: DateTime<Utc>,
    closed_at: Option<DateTime<Utc>>,
    recording: bool,
    retain_days: Option<i64>,
) -> Result<Channel, DbError> {
    let corrupt = |detail: String| DbError::Corrupt {
        table: "channels",
        detail,
    };
    Ok(Channel {
        id: id.parse().map_err(|e| corrupt(format!("{e}")))?,
        platform: platform.parse().map_err(|e| corrupt(format!("{e}")))?,
        url,
        name,
        owner,
        admins: serde_json::from_str(&admins).map_err(|e| corrupt(e.to_string()))?,
        purpose,
        tags: serde_json::from_str(&tags).map_err(|e| corrupt(e.to_string()))?,
        opened_at,
        closed_at,
        recording,
        retain_days: retain_days.map(|d| d.clamp(0, u32::MAX as i64) as u32),
    })
}
