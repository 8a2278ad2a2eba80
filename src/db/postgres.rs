//! The Postgres implementation of the [`Repository`], for several workers on
//! several machines sharing one queue.
//!
//! It behaves as the SQLite one does (both pass `contract.rs`); what differs
//! is how it stays right under concurrency. Workers claim with
//! `FOR UPDATE SKIP LOCKED`, so claimers pass each other instead of queueing
//! on one row. Two enqueues for one channel can both see no active job under
//! READ COMMITTED; the partial unique index rejects the second insert, which
//! then joins the first job. New work is announced with `NOTIFY bevara_jobs`
//! and [`Repository::wait_for_jobs`] listens for it, polling when it cannot.
//! Search uses Postgres' full text search over words Bevara splits itself,
//! so it finds what SQLite's FTS5 finds (`items.rs`).

mod items;
mod jobs;
mod listen;

use super::rows::{convert, to_json_list, CaptureRow, ChannelRow, DebateRow, JobRow};
use super::{
    q, ApiToken, ArtifactRecord, AuditEntry, CaptureFilter, CaptureFinish, CaptureRecord, DbError,
    Debate, Disposal, Hold, Repository, RetentionRule, SearchHit,
};
use crate::behaviour::items::Item;
use crate::queue::{Enqueued, Job, JobEnd, JobStatus, NewJob, QueueStats, Reaped};
use crate::registry::{Channel, ChannelId};
use chrono::{DateTime, Utc};
use listen::JobListener;
use sqlx::migrate::MigrateDatabase;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres, QueryBuilder, Row, Transaction};
use std::str::FromStr;
use std::time::Duration;

/// Connections per process: a worker's captures each hold one briefly, the
/// listener holds one for good.
const POOL_SIZE: u32 = 10;

/// The Postgres database.
#[derive(Debug)]
pub struct PgRepo {
    pool: PgPool,
    listener: JobListener,
}

impl PgRepo {
    /// Connects to the database at `url` (creating it when it does not exist
    /// and the user may) and applies migrations.
    pub async fn open(url: &str) -> Result<Self, DbError> {
        let open_err = |source| DbError::Open {
            url: without_password(url),
            source,
        };
        let options = PgConnectOptions::from_str(url)
            .map_err(open_err)?
            .application_name("bevara");
        let connect = || {
            PgPoolOptions::new()
                .max_connections(POOL_SIZE)
                .acquire_timeout(Duration::from_secs(15))
                .connect_with(options.clone())
        };
        let pool = match connect().await {
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some(INVALID_CATALOG_NAME) => {
                Postgres::create_database(url).await.map_err(open_err)?;
                connect().await
            }
            other => other,
        }
        .map_err(open_err)?;
        sqlx::migrate!("src/db/migrations/postgres")
            .run(&pool)
            .await?;
        Ok(Self {
            pool,
            listener: JobListener::default(),
        })
    }

    async fn begin(&self) -> Result<Transaction<'static, Postgres>, DbError> {
        self.pool.begin().await.map_err(q("begin"))
    }
}

/// `url` fit for an error message: its password, if any, hidden (in the
/// user part or as the `password` parameter).
fn without_password(url: &str) -> String {
    let Ok(mut u) = url::Url::parse(url) else {
        return "(a Postgres URL that does not parse)".to_string();
    };
    if u.password().is_some() && u.set_password(Some("***")).is_err() {
        return "(a Postgres URL)".to_string();
    }
    if u.query_pairs().any(|(k, _)| k == "password") {
        let pairs: Vec<(String, String)> = u
            .query_pairs()
            .map(|(k, v)| {
                let v = if k == "password" {
                    "***".into()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        u.query_pairs_mut().clear().extend_pairs(pairs);
    }
    u.to_string()
}

/// A `LIMIT` as SQLite reads it: a negative one is no limit (Postgres
/// rejects it; `LIMIT NULL` is none).
pub(super) fn no_limit_if_negative(limit: i64) -> Option<i64> {
    (limit >= 0).then_some(limit)
}

/// SQLSTATE of "database does not exist".
const INVALID_CATALOG_NAME: &str = "3D000";

/// Commits `tx` if `res` is a success, else rolls it back at once: a
/// dropped transaction is rolled back only when its connection is next
/// used, and until then its row locks make claims skip the rows it read.
async fn finish_tx<T>(
    tx: Transaction<'static, Postgres>,
    res: Result<T, DbError>,
) -> Result<T, DbError> {
    match res {
        Ok(v) => {
            tx.commit().await.map_err(q("commit"))?;
            Ok(v)
        }
        Err(e) => {
            if let Err(r) = tx.rollback().await {
                tracing::warn!(error = %r, "cannot roll back a failed transaction");
            }
            Err(e)
        }
    }
}

#[async_trait::async_trait]
impl Repository for PgRepo {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn ping(&self) -> Result<(), DbError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(q("ping"))?;
        Ok(())
    }

    async fn wait_for_jobs(&self, max: Duration) {
        self.listener.wait(&self.pool, max).await;
    }

    // ----- channels -----

    async fn add_channel(&self, c: &Channel) -> Result<(), DbError> {
        let res = sqlx::query(
            "INSERT INTO channels (id, platform, url, name, owner, admins, purpose, tags, opened_at, closed_at, recording, retain_days)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(c.id.as_str())
        .bind(c.platform.as_str())
        .bind(&c.url)
        .bind(&c.name)
        .bind(&c.owner)
        .bind(to_json_list(&c.admins))
        .bind(&c.purpose)
        .bind(to_json_list(&c.tags))
        .bind(c.opened_at)
        .bind(c.closed_at)
        .bind(c.recording)
        .bind(c.retain_days.map(i64::from))
        .execute(&self.pool)
        .await;
        match res {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Err(DbError::ChannelExists(c.id.clone()))
            }
            Err(e) => Err(q("add channel")(e)),
        }
    }

    async fn channel(&self, id: &str) -> Result<Channel, DbError> {
        let row: Option<ChannelRow> = sqlx::query_as("SELECT * FROM channels WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(q("read channel"))?;
        row.ok_or_else(|| DbError::NoChannel(id.to_string()))?
            .try_into()
    }

    async fn list_channels(&self) -> Result<Vec<Channel>, DbError> {
        let rows: Vec<ChannelRow> = sqlx::query_as("SELECT * FROM channels ORDER BY id")
            .fetch_all(&self.pool)
            .await
            .map_err(q("list channels"))?;
        convert(rows)
    }

    async fn close_channel(&self, id: &ChannelId, at: DateTime<Utc>) -> Result<bool, DbError> {
        self.channel(id.as_str()).await?;
        let res =
            sqlx::query("UPDATE channels SET closed_at = $1 WHERE id = $2 AND closed_at IS NULL")
                .bind(at)
                .bind(id.as_str())
                .execute(&self.pool)
                .await
                .map_err(q("close channel"))?;
        Ok(res.rows_affected() == 1)
    }

    // ----- captures -----

    async fn insert_capture(&self, c: &CaptureRecord) -> Result<(), DbError> {
        let res = sqlx::query(
            "INSERT INTO captures (id, channel_id, state, trigger_kind, reason, requested_by, requested_at,
                                   started_at, url, worker, job_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&c.id)
        .bind(&c.channel_id)
        .bind(c.state.as_str())
        .bind(&c.trigger)
        .bind(&c.reason)
        .bind(&c.requested_by)
        .bind(c.requested_at)
        .bind(c.started_at)
        .bind(&c.url)
        .bind(&c.worker)
        .bind(&c.job_id)
        .execute(&self.pool)
        .await;
        match res {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                let holder: Option<(String, Option<String>)> = sqlx::query_as(
                    "SELECT id, worker FROM captures WHERE channel_id = $1 AND state = 'running'",
                )
                .bind(&c.channel_id)
                .fetch_optional(&self.pool)
                .await
                .map_err(q("find running capture"))?;
                let (capture, worker) = holder.unwrap_or_default();
                Err(DbError::CaptureRunning {
                    channel: c.channel_id.clone(),
                    capture,
                    worker: worker.unwrap_or_else(|| "another process".into()),
                })
            }
            Err(e) => Err(q("insert capture")(e)),
        }
    }

    async fn complete_capture(
        &self,
        id: &str,
        finish: &CaptureFinish,
        artifacts: &[ArtifactRecord],
        items: &[Item],
    ) -> Result<(), DbError> {
        let mut tx = self.begin().await?;
        let res = items::complete_in(&mut tx, id, finish, artifacts, items).await;
        finish_tx(tx, res).await
    }

    async fn pend_capture(&self, id: &str, reason: &str) -> Result<(), DbError> {
        let res = sqlx::query(
            "UPDATE captures SET state = 'upload-pending', failure = $1
             WHERE id = $2 AND state IN ('running', 'upload-pending')",
        )
        .bind(reason)
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(q("mark capture upload-pending"))?;
        if res.rows_affected() != 1 {
            return Err(DbError::NotRunning(id.to_string()));
        }
        Ok(())
    }

    async fn set_retain_days(&self, id: &str, days: Option<u32>) -> Result<(), DbError> {
        let res = sqlx::query("UPDATE channels SET retain_days = $1 WHERE id = $2")
            .bind(days.map(i64::from))
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(q("set retention"))?;
        if res.rows_affected() != 1 {
            return Err(DbError::NoChannel(id.to_string()));
        }
        Ok(())
    }

    async fn fail_capture(
        &self,
        id: &str,
        code: &str,
        message: &str,
        final_url: Option<&str>,
    ) -> Result<(), DbError> {
        sqlx::query(
            "UPDATE captures SET state = 'failed', finished_at = $1, failure_code = $2, failure = $3,
                    final_url = COALESCE($4, final_url)
             WHERE id = $5 AND state = 'running'",
        )
        .bind(Utc::now())
        .bind(code)
        .bind(message)
        .bind(final_url)
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(q("fail capture"))?;
        Ok(())
    }

    async fn capture(&self, id: &str) -> Result<CaptureRecord, DbError> {
        let row: Option<CaptureRow> = sqlx::query_as("SELECT * FROM captures WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(q("read capture"))?;
        row.ok_or_else(|| DbError::NoCapture(id.to_string()))?
            .try_into()
    }

    async fn list_captures(&self, f: &CaptureFilter) -> Result<Vec<CaptureRecord>, DbError> {
        let mut qb: QueryBuilder<Postgres> = QueryBuilder::new("SELECT * FROM captures WHERE TRUE");
        if let Some(c) = &f.channel {
            qb.push(" AND channel_id = ")
                .push_bind(c.as_str().to_string());
        }
        if let Some(from) = f.from {
            qb.push(" AND requested_at >= ").push_bind(from);
        }
        if let Some(to) = f.to {
            qb.push(" AND requested_at < ").push_bind(to);
        }
        if let Some(s) = f.state {
            qb.push(" AND state = ").push_bind(s.as_str());
        }
        qb.push(" ORDER BY requested_at, id");
        let rows: Vec<CaptureRow> = qb
            .build_query_as()
            .fetch_all(&self.pool)
            .await
            .map_err(q("list captures"))?;
        convert(rows)
    }

    async fn previous_complete(
        &self,
        channel: &str,
        before: DateTime<Utc>,
    ) -> Result<Option<String>, DbError> {
        sqlx::query_scalar(
            "SELECT id FROM captures WHERE channel_id = $1 AND state = 'complete' AND requested_at < $2
             ORDER BY requested_at DESC, id DESC LIMIT 1",
        )
        .bind(channel)
        .bind(before)
        .fetch_optional(&self.pool)
        .await
        .map_err(q("find previous capture"))
    }

    async fn items(&self, capture_id: &str) -> Result<Vec<Item>, DbError> {
        items::items(&self.pool, capture_id).await
    }

    async fn search(
        &self,
        words: &str,
        channel: Option<&str>,
        limit: i64,
    ) -> Result<Vec<SearchHit>, DbError> {
        items::search(&self.pool, words, channel, limit).await
    }

    async fn last_seen(
        &self,
        channel: &str,
        item_id: &str,
        before: DateTime<Utc>,
    ) -> Result<Option<(String, DateTime<Utc>)>, DbError> {
        let row = sqlx::query(
            "SELECT c.id, c.requested_at FROM items i JOIN captures c ON c.id = i.capture_id
             WHERE c.channel_id = $1 AND i.item_id = $2 AND c.state = 'complete' AND c.requested_at < $3
             ORDER BY c.requested_at DESC LIMIT 1",
        )
        .bind(channel)
        .bind(item_id)
        .bind(before)
        .fetch_optional(&self.pool)
        .await
        .map_err(q("find item"))?;
        Ok(row.map(|r| (r.get("id"), r.get("requested_at"))))
    }

    async fn artifacts(&self, capture_id: &str) -> Result<Vec<ArtifactRecord>, DbError> {
        sqlx::query_as(
            "SELECT name, key, media_type, bytes, sha256, width, height, version_id FROM artifacts
             WHERE capture_id = $1 ORDER BY name",
        )
        .bind(capture_id)
        .fetch_all(&self.pool)
        .await
        .map_err(q("list artifacts"))
    }

    async fn add_artifact(&self, capture_id: &str, a: &ArtifactRecord) -> Result<(), DbError> {
        let mut tx = self.begin().await?;
        let complete: Option<String> = sqlx::query_scalar(
            "SELECT id FROM captures WHERE id = $1 AND state = 'complete' FOR SHARE",
        )
        .bind(capture_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(q("lock capture"))?;
        if complete.is_none() {
            return Err(DbError::NoCapture(capture_id.to_string()));
        }
        items::insert_artifact(&mut tx, capture_id, a).await?;
        tx.commit().await.map_err(q("commit"))
    }

    async fn untimestamped(&self, after: &str, limit: i64) -> Result<Vec<String>, DbError> {
        sqlx::query_scalar(
            "SELECT c.id FROM captures c
             WHERE c.state = 'complete'
               AND EXISTS (SELECT 1 FROM artifacts a WHERE a.capture_id = c.id AND a.name = 'manifest.json')
               AND NOT EXISTS (SELECT 1 FROM artifacts a WHERE a.capture_id = c.id AND a.name = 'manifest.tsr')
               AND c.id > $1
             ORDER BY c.id LIMIT $2",
        )
        .bind(after)
        .bind(limit.max(0))
        .fetch_all(&self.pool)
        .await
        .map_err(q("list untimestamped"))
    }

    // ----- jobs -----

    async fn enqueue(&self, job: &NewJob, now: DateTime<Utc>) -> Result<Enqueued, DbError> {
        let mut tx = self.begin().await?;
        let res = jobs::enqueue_in(&mut tx, job, now).await;
        finish_tx(tx, res).await
    }

    async fn job(&self, id: &str) -> Result<Job, DbError> {
        let row: Option<JobRow> = sqlx::query_as("SELECT * FROM jobs WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(q("read job"))?;
        row.ok_or_else(|| DbError::NoJob(id.to_string()))?
            .try_into()
    }

    async fn list_jobs(&self, status: Option<JobStatus>, limit: i64) -> Result<Vec<Job>, DbError> {
        let mut qb: QueryBuilder<Postgres> = QueryBuilder::new("SELECT * FROM jobs WHERE TRUE");
        if let Some(s) = status {
            qb.push(" AND status = ").push_bind(s.as_str());
        }
        qb.push(" ORDER BY created_at DESC, id DESC LIMIT ")
            .push_bind(no_limit_if_negative(limit));
        let rows: Vec<JobRow> = qb
            .build_query_as()
            .fetch_all(&self.pool)
            .await
            .map_err(q("list jobs"))?;
        convert(rows)
    }

    async fn active_job(&self, channel: &str) -> Result<Option<Job>, DbError> {
        let mut conn = self.pool.acquire().await.map_err(q("connect"))?;
        jobs::active_job_in(&mut conn, channel, false).await
    }

    async fn claim(
        &self,
        owner: &str,
        only: Option<&str>,
        lease_until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Option<Job>, DbError> {
        // Any due job: the sub-select locks it, and a job another claimer
        // (or a join) holds is skipped, not waited for, so racing claimers
        // each get a different one. The job `only`: waited for, so a join
        // holding it for a moment does not make it look taken; if a worker
        // claimed it meanwhile, it is no longer queued when the wait ends.
        let pick = if only.is_some() {
            "id = $4 AND status = 'queued'"
        } else {
            "id = (SELECT id FROM jobs WHERE status = 'queued' AND next_attempt_at <= $4
                   ORDER BY priority DESC, next_attempt_at, id FOR UPDATE SKIP LOCKED LIMIT 1)"
        };
        let sql = format!(
            "UPDATE jobs SET status = 'running', attempts = attempts + 1, lease_owner = $1,
                    lease_expires_at = $2, heartbeat_at = $3, updated_at = $3
             WHERE {pick} RETURNING *"
        );
        let query = sqlx::query_as(&sql).bind(owner).bind(lease_until).bind(now);
        let query = match only {
            Some(id) => query.bind(id),
            None => query.bind(now),
        };
        let row: Option<JobRow> = query
            .fetch_optional(&self.pool)
            .await
            .map_err(q("claim job"))?;
        row.map(Job::try_from).transpose()
    }

    async fn heartbeat(
        &self,
        id: &str,
        owner: &str,
        lease_until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, DbError> {
        let res = sqlx::query(
            "UPDATE jobs SET lease_expires_at = $1, heartbeat_at = $2
             WHERE id = $3 AND status = 'running' AND lease_owner = $4",
        )
        .bind(lease_until)
        .bind(now)
        .bind(id)
        .bind(owner)
        .execute(&self.pool)
        .await
        .map_err(q("renew lease"))?;
        Ok(res.rows_affected() == 1)
    }

    async fn end_job(
        &self,
        id: &str,
        owner: &str,
        end: &JobEnd,
        now: DateTime<Utc>,
    ) -> Result<bool, DbError> {
        let (status, code, error, at, snapshot) = match end {
            JobEnd::Done { snapshot_id } => ("'done'", None, None, now, Some(snapshot_id)),
            JobEnd::Retry {
                code,
                error,
                at,
                snapshot_id,
            } => (
                "CASE WHEN attempts < max_attempts THEN 'queued' ELSE 'failed' END",
                Some(code),
                Some(error),
                *at,
                snapshot_id.as_ref(),
            ),
            JobEnd::Failed {
                code,
                error,
                snapshot_id,
            } => (
                "'failed'",
                Some(code),
                Some(error),
                now,
                snapshot_id.as_ref(),
            ),
        };
        let sql = format!(
            "UPDATE jobs SET status = {status}, last_error_code = $1, last_error = $2, next_attempt_at = $3,
                    snapshot_id = COALESCE($4, snapshot_id), lease_expires_at = NULL, updated_at = $5
             WHERE id = $6 AND status = 'running' AND lease_owner = $7"
        );
        let res = sqlx::query(&sql)
            .bind(code)
            .bind(error)
            .bind(at)
            .bind(snapshot)
            .bind(now)
            .bind(id)
            .bind(owner)
            .execute(&self.pool)
            .await
            .map_err(q("end job"))?;
        Ok(res.rows_affected() == 1)
    }

    async fn reap_expired(&self, now: DateTime<Utc>) -> Result<Vec<Reaped>, DbError> {
        let mut tx = self.begin().await?;
        let res = jobs::reap_in(&mut tx, now).await;
        finish_tx(tx, res).await
    }

    async fn retry_job(&self, id: &str, now: DateTime<Utc>) -> Result<Job, DbError> {
        let mut tx = self.begin().await?;
        let res = jobs::retry_in(&mut tx, id, now).await;
        finish_tx(tx, res).await
    }

    async fn cancel_job(&self, id: &str, now: DateTime<Utc>) -> Result<Job, DbError> {
        let row: Option<JobRow> = sqlx::query_as(
            "UPDATE jobs SET status = 'cancelled', lease_expires_at = NULL, updated_at = $1
             WHERE id = $2 AND status IN ('queued', 'running') RETURNING *",
        )
        .bind(now)
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(q("cancel job"))?;
        match row {
            Some(r) => r.try_into(),
            None => {
                let job = self.job(id).await?;
                Err(DbError::JobState {
                    id: id.to_string(),
                    status: job.status,
                    what: "only queued or running jobs can be cancelled",
                })
            }
        }
    }

    async fn queue_stats(&self, now: DateTime<Utc>) -> Result<QueueStats, DbError> {
        let row = sqlx::query(
            "SELECT COUNT(*) FILTER (WHERE status = 'queued') AS queued,
                    COUNT(*) FILTER (WHERE status = 'running') AS running,
                    MIN(next_attempt_at) FILTER (WHERE status = 'queued' AND next_attempt_at <= $1) AS oldest
             FROM jobs WHERE status IN ('queued', 'running')",
        )
        .bind(now)
        .fetch_one(&self.pool)
        .await
        .map_err(q("queue depth"))?;
        Ok(QueueStats {
            queued: row.get("queued"),
            running: row.get("running"),
            oldest_due: row.get("oldest"),
        })
    }

    // ----- the schedules' fire log -----

    async fn record_fires(
        &self,
        schedule: &str,
        fire_time: DateTime<Utc>,
        jobs: &[NewJob],
        now: DateTime<Utc>,
    ) -> Result<Vec<Enqueued>, DbError> {
        let mut tx = self.begin().await?;
        let res = jobs::fires_in(&mut tx, schedule, fire_time, jobs, now).await;
        finish_tx(tx, res).await
    }

    async fn record_missed(
        &self,
        schedule: &str,
        fire_time: DateTime<Utc>,
        channels: &[String],
        now: DateTime<Utc>,
    ) -> Result<u64, DbError> {
        let mut tx = self.begin().await?;
        let res = jobs::missed_in(&mut tx, schedule, fire_time, channels, now).await;
        finish_tx(tx, res).await
    }

    async fn last_fire(&self, schedule: &str) -> Result<Option<DateTime<Utc>>, DbError> {
        sqlx::query_scalar(
            "SELECT fire_time FROM schedule_fires WHERE schedule = $1 ORDER BY fire_time DESC LIMIT 1",
        )
        .bind(schedule)
        .fetch_optional(&self.pool)
        .await
        .map_err(q("last fire"))
    }

    // ----- debates -----

    async fn add_token(&self, t: &ApiToken, hash: &str) -> Result<(), DbError> {
        sqlx::query(
            "INSERT INTO tokens (id, name, role, hash, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&t.id)
        .bind(&t.name)
        .bind(&t.role)
        .bind(hash)
        .bind(t.created_at)
        .bind(&t.created_by)
        .execute(&self.pool)
        .await
        .map_err(q("add token"))?;
        Ok(())
    }

    async fn list_tokens(&self) -> Result<Vec<ApiToken>, DbError> {
        sqlx::query_as(
            "SELECT id, name, role, created_at, created_by, revoked_at FROM tokens ORDER BY created_at, id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(q("list tokens"))
    }

    async fn revoke_token(&self, id: &str, at: DateTime<Utc>) -> Result<bool, DbError> {
        let res =
            sqlx::query("UPDATE tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(at)
                .bind(id)
                .execute(&self.pool)
                .await
                .map_err(q("revoke token"))?;
        Ok(res.rows_affected() == 1)
    }

    async fn token_by_hash(&self, hash: &str) -> Result<Option<ApiToken>, DbError> {
        sqlx::query_as(
            "SELECT id, name, role, created_at, created_by, revoked_at FROM tokens WHERE hash = $1 AND revoked_at IS NULL",
        )
        .bind(hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(q("find token"))
    }

    async fn audit_head(&self) -> Result<Option<(i64, String)>, DbError> {
        sqlx::query_as(
            "SELECT seq, hash FROM audit WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(q("read the audit log's head"))
    }

    async fn insert_audit(&self, e: &AuditEntry) -> Result<bool, DbError> {
        let r = sqlx::query(
            "INSERT INTO audit (id, at, actor, role, action, target, detail, seq, prev_hash, hash)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&e.id)
        .bind(e.at)
        .bind(&e.actor)
        .bind(&e.role)
        .bind(&e.action)
        .bind(&e.target)
        .bind(&e.detail)
        .bind(e.seq)
        .bind(&e.prev_hash)
        .bind(&e.hash)
        .execute(&self.pool)
        .await;
        match r {
            Ok(_) => Ok(true),
            Err(sqlx::Error::Database(d))
                if d.is_unique_violation() && d.message().contains("seq") =>
            {
                Ok(false)
            }
            Err(e) => Err(q("write audit log")(e)),
        }
    }

    async fn audit_all(&self) -> Result<Vec<AuditEntry>, DbError> {
        sqlx::query_as("SELECT * FROM audit ORDER BY seq IS NOT NULL, seq, at, id")
            .fetch_all(&self.pool)
            .await
            .map_err(q("read audit log"))
    }

    async fn audit(&self, limit: i64) -> Result<Vec<AuditEntry>, DbError> {
        sqlx::query_as("SELECT * FROM audit ORDER BY at DESC, id DESC LIMIT $1")
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .map_err(q("read audit log"))
    }

    async fn set_retention(&self, r: &RetentionRule) -> Result<(), DbError> {
        let mut tx = self.pool.begin().await.map_err(q("set retention"))?;
        match (&r.channel_id, &r.platform) {
            (Some(c), _) => {
                sqlx::query("DELETE FROM retention_rules WHERE channel_id = $1").bind(c)
            }
            (None, p) => sqlx::query("DELETE FROM retention_rules WHERE platform = $1").bind(p),
        }
        .execute(&mut *tx)
        .await
        .map_err(q("set retention"))?;
        sqlx::query(
            "INSERT INTO retention_rules (id, channel_id, platform, keep_days, decision_id, decision_date, decision_text, set_at, set_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&r.id)
        .bind(&r.channel_id)
        .bind(&r.platform)
        .bind(r.keep_days)
        .bind(&r.decision_id)
        .bind(&r.decision_date)
        .bind(&r.decision_text)
        .bind(r.set_at)
        .bind(&r.set_by)
        .execute(&mut *tx)
        .await
        .map_err(q("set retention"))?;
        tx.commit().await.map_err(q("set retention"))
    }

    async fn retention_rules(&self) -> Result<Vec<RetentionRule>, DbError> {
        sqlx::query_as("SELECT * FROM retention_rules ORDER BY channel_id, platform")
            .fetch_all(&self.pool)
            .await
            .map_err(q("read retention rules"))
    }

    async fn add_hold(&self, h: &Hold) -> Result<(), DbError> {
        sqlx::query(
            "INSERT INTO holds (id, snapshot_id, channel_id, reason, placed_at, placed_by) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&h.id)
        .bind(&h.snapshot_id)
        .bind(&h.channel_id)
        .bind(&h.reason)
        .bind(h.placed_at)
        .bind(&h.placed_by)
        .execute(&self.pool)
        .await
        .map_err(q("add hold"))?;
        Ok(())
    }

    async fn remove_hold(
        &self,
        id: &str,
        at: DateTime<Utc>,
        by: Option<&str>,
    ) -> Result<bool, DbError> {
        let r = sqlx::query(
            "UPDATE holds SET removed_at = $1, removed_by = $2 WHERE id = $3 AND removed_at IS NULL",
        )
        .bind(at)
        .bind(by)
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(q("remove hold"))?;
        Ok(r.rows_affected() == 1)
    }

    async fn holds(&self, active: bool) -> Result<Vec<Hold>, DbError> {
        let sql = if active {
            "SELECT * FROM holds WHERE removed_at IS NULL ORDER BY placed_at DESC, id DESC"
        } else {
            "SELECT * FROM holds ORDER BY placed_at DESC, id DESC"
        };
        sqlx::query_as(sql)
            .fetch_all(&self.pool)
            .await
            .map_err(q("read holds"))
    }

    async fn dispose_capture(&self, d: &Disposal) -> Result<(), DbError> {
        let mut tx = self.pool.begin().await.map_err(q("dispose"))?;
        for table in ["items", "artifacts"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE capture_id = $1"))
                .bind(&d.snapshot_id)
                .execute(&mut *tx)
                .await
                .map_err(q("dispose"))?;
        }
        let gone = sqlx::query("DELETE FROM captures WHERE id = $1")
            .bind(&d.snapshot_id)
            .execute(&mut *tx)
            .await
            .map_err(q("dispose"))?;
        if gone.rows_affected() == 0 {
            return Err(DbError::NoCapture(d.snapshot_id.clone()));
        }
        sqlx::query(
            "INSERT INTO disposals (id, snapshot_id, channel_id, requested_at, disposed_at, decision_id, decision_date,
                 decision_text, keep_days, disposed_by, objects, bytes, manifest_sha256)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(&d.id)
        .bind(&d.snapshot_id)
        .bind(&d.channel_id)
        .bind(d.requested_at)
        .bind(d.disposed_at)
        .bind(&d.decision_id)
        .bind(&d.decision_date)
        .bind(&d.decision_text)
        .bind(d.keep_days)
        .bind(&d.disposed_by)
        .bind(d.objects)
        .bind(d.bytes)
        .bind(&d.manifest_sha256)
        .execute(&mut *tx)
        .await
        .map_err(q("record disposal"))?;
        tx.commit().await.map_err(q("dispose"))
    }

    async fn disposals(&self) -> Result<Vec<Disposal>, DbError> {
        sqlx::query_as("SELECT * FROM disposals ORDER BY disposed_at DESC, id DESC")
            .fetch_all(&self.pool)
            .await
            .map_err(q("read disposals"))
    }

    async fn add_debate(&self, d: &Debate) -> Result<(), DbError> {
        sqlx::query(
            "INSERT INTO debates (id, channels, tag, every_secs, starts_at, until, reason, started_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&d.id)
        .bind(to_json_list(&d.channels))
        .bind(&d.tag)
        .bind(d.every_secs)
        .bind(d.starts_at)
        .bind(d.until)
        .bind(&d.reason)
        .bind(&d.started_by)
        .execute(&self.pool)
        .await
        .map_err(q("add debate"))?;
        Ok(())
    }

    async fn debates(&self, active_at: Option<DateTime<Utc>>) -> Result<Vec<Debate>, DbError> {
        let rows: Vec<DebateRow> = match active_at {
            Some(at) => sqlx::query_as(
                "SELECT * FROM debates WHERE stopped_at IS NULL AND until >= $1 ORDER BY starts_at DESC, id DESC",
            )
            .bind(at),
            None => sqlx::query_as("SELECT * FROM debates ORDER BY starts_at DESC, id DESC"),
        }
        .fetch_all(&self.pool)
        .await
        .map_err(q("list debates"))?;
        convert(rows)
    }

    async fn stop_debate(
        &self,
        id: &str,
        at: DateTime<Utc>,
        by: Option<&str>,
    ) -> Result<bool, DbError> {
        let res = sqlx::query(
            "UPDATE debates SET stopped_at = $1, stopped_by = $2 WHERE id = $3 AND stopped_at IS NULL",
        )
        .bind(at)
        .bind(by)
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(q("stop debate"))?;
        if res.rows_affected() == 0 {
            let exists: Option<String> = sqlx::query_scalar("SELECT id FROM debates WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err(q("read debate"))?;
            if exists.is_none() {
                return Err(DbError::NoDebate(id.to_string()));
            }
        }
        Ok(res.rows_affected() == 1)
    }
}

#[cfg(test)]
pub(crate) mod tests;
