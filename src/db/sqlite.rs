//! The SQLite implementation of the [`Repository`], the embedded default.
//!
//! Writes that read first take the write lock at the start
//! (`BEGIN IMMEDIATE`), so several `bevara` processes on one file queue up
//! behind the busy timeout instead of failing on a lock upgrade.

use super::rows::{
    convert, to_json_list, CaptureRow, ChannelRow, DebateRow, ItemRow, JobRow, SearchRow,
};
use super::{
    q, ApiToken, ArtifactRecord, AuditEntry, CaptureFilter, CaptureFinish, CaptureRecord, DbError,
    Debate, Disposal, Hold, Repository, RetentionRule, SearchHit, LEASE_EXPIRED,
};
use crate::behaviour::items::Item;
use crate::queue::{Enqueued, Job, JobEnd, JobStatus, NewJob, QueueStats, Reaped, INTERRUPTED};
use crate::registry::{Channel, ChannelId};
use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection, SqlitePool};
use std::str::FromStr;
use std::time::Duration;
use ulid::Ulid;

/// The SQLite database. Cheap to clone.
#[derive(Clone, Debug)]
pub struct SqliteRepo {
    pool: SqlitePool,
}

/// Records one object of a capture, replacing one of the same name.
async fn insert_artifact(
    conn: &mut SqliteConnection,
    id: &str,
    a: &ArtifactRecord,
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT OR REPLACE INTO artifacts (capture_id, name, key, media_type, bytes, sha256, width, height, version_id)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(id)
    .bind(&a.name)
    .bind(&a.key)
    .bind(&a.media_type)
    .bind(a.bytes)
    .bind(&a.sha256)
    .bind(a.width)
    .bind(a.height)
    .bind(&a.version_id)
    .execute(conn)
    .await
    .map_err(q("record artifact"))?;
    Ok(())
}

impl SqliteRepo {
    /// Opens (creating if needed) the database at `url` and applies migrations.
    pub async fn open(url: &str) -> Result<Self, DbError> {
        let open_err = |source| DbError::Open {
            url: url.to_string(),
            source,
        };
        let options = SqliteConnectOptions::from_str(url)
            .map_err(open_err)?
            .create_if_missing(true)
            .foreign_keys(true)
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
            // Several `bevara` processes may share one file; wait rather than fail.
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(open_err)?;
        sqlx::migrate!("src/db/migrations/sqlite")
            .run(&pool)
            .await?;
        Ok(Self { pool })
    }

    async fn begin_write(&self) -> Result<sqlx::Transaction<'_, Sqlite>, DbError> {
        self.pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(q("begin"))
    }
}

async fn active_job_in(conn: &mut SqliteConnection, channel: &str) -> Result<Option<Job>, DbError> {
    let row: Option<JobRow> = sqlx::query_as(
        "SELECT * FROM jobs WHERE channel_id = ? AND status IN ('queued', 'running')",
    )
    .bind(channel)
    .fetch_optional(conn)
    .await
    .map_err(q("find active job"))?;
    row.map(Job::try_from).transpose()
}

/// Queues `job` or joins the channel's active job, inside the caller's
/// write transaction.
async fn enqueue_in(
    conn: &mut SqliteConnection,
    job: &NewJob,
    now: DateTime<Utc>,
) -> Result<Enqueued, DbError> {
    if let Some(active) = active_job_in(&mut *conn, &job.channel_id).await? {
        let mut reasons = active.reasons.clone();
        if let Some(r) = &job.reason {
            if !reasons.contains(r) {
                reasons.push(r.clone());
            }
        }
        sqlx::query(
            "UPDATE jobs SET reasons = ?, priority = MAX(priority, ?), updated_at = ? WHERE id = ?",
        )
        .bind(to_json_list(&reasons))
        .bind(job.priority)
        .bind(now)
        .bind(&active.id)
        .execute(&mut *conn)
        .await
        .map_err(q("join job"))?;
        return Ok(Enqueued {
            job_id: active.id,
            joined: true,
        });
    }
    let id = Ulid::new().to_string();
    let reasons: Vec<String> = job.reason.iter().cloned().collect();
    sqlx::query(
        "INSERT INTO jobs (id, channel_id, status, trigger_kind, schedule, fire_time, debate_id, reasons,
                           requested_by, priority, attempts, max_attempts, next_attempt_at, recording,
                           created_at, updated_at)
         VALUES (?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?)",
    )
    .bind(&id)
    .bind(&job.channel_id)
    .bind(job.trigger.kind.as_str())
    .bind(&job.trigger.schedule)
    .bind(job.trigger.fire_time)
    .bind(&job.trigger.debate)
    .bind(to_json_list(&reasons))
    .bind(&job.requested_by)
    .bind(job.priority)
    .bind(job.max_attempts.max(1))
    .bind(now)
    .bind(job.recording)
    .bind(now)
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(|e| match e {
        sqlx::Error::Database(d) if d.is_foreign_key_violation() => {
            DbError::NoChannel(job.channel_id.clone())
        }
        e => q("enqueue job")(e),
    })?;
    Ok(Enqueued {
        job_id: id,
        joined: false,
    })
}

#[async_trait::async_trait]
impl Repository for SqliteRepo {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn ping(&self) -> Result<(), DbError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(q("ping"))?;
        Ok(())
    }

    // ----- channels -----

    async fn add_channel(&self, c: &Channel) -> Result<(), DbError> {
        let res = sqlx::query(
            "INSERT INTO channels (id, platform, url, name, owner, admins, purpose, tags, opened_at, closed_at, recording, retain_days)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
        let row: Option<ChannelRow> = sqlx::query_as("SELECT * FROM channels WHERE id = ?")
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

    /// Closes a channel; returns false if it was already closed.
    async fn close_channel(&self, id: &ChannelId, at: DateTime<Utc>) -> Result<bool, DbError> {
        self.channel(id.as_str()).await?;
        let res =
            sqlx::query("UPDATE channels SET closed_at = ? WHERE id = ? AND closed_at IS NULL")
                .bind(at)
                .bind(id.as_str())
                .execute(&self.pool)
                .await
                .map_err(q("close channel"))?;
        Ok(res.rows_affected() == 1)
    }

    // ----- captures -----

    /// Records a capture as running.
    async fn insert_capture(&self, c: &CaptureRecord) -> Result<(), DbError> {
        let res = sqlx::query(
            "INSERT INTO captures (id, channel_id, state, trigger_kind, reason, requested_by, requested_at,
                                   started_at, url, worker, job_id)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
                    "SELECT id, worker FROM captures WHERE channel_id = ? AND state = 'running'",
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

    /// Marks a capture complete and records its artifacts and items, in one transaction.
    async fn complete_capture(
        &self,
        id: &str,
        finish: &CaptureFinish,
        artifacts: &[ArtifactRecord],
        items: &[Item],
    ) -> Result<(), DbError> {
        let mut tx = self.begin_write().await?;
        for (pos, it) in items.iter().enumerate() {
            sqlx::query(
                "INSERT OR REPLACE INTO items (capture_id, item_id, position, kind, parent, author, published_shown,
                                               published_at, text, permalink, links, media)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(id)
            .bind(&it.id)
            .bind(pos as i64)
            .bind(&it.kind)
            .bind(&it.parent)
            .bind(&it.author)
            .bind(&it.published.shown)
            .bind(it.published.parsed)
            .bind(&it.text)
            .bind(&it.permalink)
            .bind(to_json_list(&it.links))
            .bind(to_json_list(&it.media))
            .execute(&mut *tx)
            .await
            .map_err(q("record item"))?;
        }
        for a in artifacts {
            insert_artifact(&mut tx, id, a).await?;
        }
        let done = sqlx::query(
            "UPDATE captures SET state = 'complete', finished_at = ?, final_url = ?, title = ?,
                    warnings = ?, truncated = ?, manifest_key = ?, failure = NULL
             WHERE id = ? AND state IN ('running', 'upload-pending')",
        )
        .bind(Utc::now())
        .bind(&finish.final_url)
        .bind(&finish.title)
        .bind(finish.warnings)
        .bind(finish.truncated)
        .bind(&finish.manifest_key)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(q("complete capture"))?;
        if done.rows_affected() != 1 {
            // Someone else ended it (a reaper after a lost lease): the rollback
            // drops the artifacts and items recorded above.
            return Err(DbError::NotRunning(id.to_string()));
        }
        tx.commit().await.map_err(q("commit"))?;
        Ok(())
    }

    async fn pend_capture(&self, id: &str, reason: &str) -> Result<(), DbError> {
        let res = sqlx::query(
            "UPDATE captures SET state = 'upload-pending', failure = ?
             WHERE id = ? AND state IN ('running', 'upload-pending')",
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
        let res = sqlx::query("UPDATE channels SET retain_days = ? WHERE id = ?")
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

    /// Marks a capture failed with a stable code and a message saying why.
    async fn fail_capture(
        &self,
        id: &str,
        code: &str,
        message: &str,
        final_url: Option<&str>,
    ) -> Result<(), DbError> {
        sqlx::query(
            "UPDATE captures SET state = 'failed', finished_at = ?, failure_code = ?, failure = ?,
                    final_url = COALESCE(?, final_url)
             WHERE id = ? AND state = 'running'",
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
        let row: Option<CaptureRow> = sqlx::query_as("SELECT * FROM captures WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(q("read capture"))?;
        row.ok_or_else(|| DbError::NoCapture(id.to_string()))?
            .try_into()
    }

    async fn list_captures(&self, f: &CaptureFilter) -> Result<Vec<CaptureRecord>, DbError> {
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new("SELECT * FROM captures WHERE 1 = 1");
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

    /// The channel's latest complete capture requested before `before`.
    async fn previous_complete(
        &self,
        channel: &str,
        before: DateTime<Utc>,
    ) -> Result<Option<String>, DbError> {
        sqlx::query_scalar(
            "SELECT id FROM captures WHERE channel_id = ? AND state = 'complete' AND requested_at < ?
             ORDER BY requested_at DESC, id DESC LIMIT 1",
        )
        .bind(channel)
        .bind(before)
        .fetch_optional(&self.pool)
        .await
        .map_err(q("find previous capture"))
    }

    /// The items of a capture, in page order.
    async fn items(&self, capture_id: &str) -> Result<Vec<Item>, DbError> {
        let rows: Vec<ItemRow> =
            sqlx::query_as("SELECT * FROM items WHERE capture_id = ? ORDER BY position")
                .bind(capture_id)
                .fetch_all(&self.pool)
                .await
                .map_err(q("read items"))?;
        Ok(rows.into_iter().map(ItemRow::item).collect())
    }

    /// Items whose text or author contains every word, newest capture first.
    async fn search(
        &self,
        words: &str,
        channel: Option<&str>,
        limit: i64,
    ) -> Result<Vec<SearchHit>, DbError> {
        // Each word quoted, so FTS syntax in the input is only text.
        let query = words
            .split_whitespace()
            .map(|w| format!("\"{}\"", w.replace('"', "\"\"")))
            .collect::<Vec<_>>()
            .join(" ");
        if query.is_empty() {
            return Ok(Vec::new());
        }
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
            "SELECT i.*, c.channel_id AS hit_channel, c.requested_at AS hit_requested_at
             FROM items_fts f JOIN items i ON i.rowid = f.rowid JOIN captures c ON c.id = i.capture_id
             WHERE c.state = 'complete' AND items_fts MATCH ",
        );
        qb.push_bind(query);
        if let Some(ch) = channel {
            qb.push(" AND c.channel_id = ").push_bind(ch.to_string());
        }
        qb.push(" ORDER BY c.requested_at DESC, i.position LIMIT ")
            .push_bind(limit);
        let rows: Vec<SearchRow> = qb
            .build_query_as()
            .fetch_all(&self.pool)
            .await
            .map_err(q("search items"))?;
        Ok(rows.into_iter().map(SearchHit::from).collect())
    }

    /// The latest complete capture of `channel` before `before` that holds `item_id`.
    async fn last_seen(
        &self,
        channel: &str,
        item_id: &str,
        before: DateTime<Utc>,
    ) -> Result<Option<(String, DateTime<Utc>)>, DbError> {
        let row = sqlx::query(
            "SELECT c.id, c.requested_at FROM items i JOIN captures c ON c.id = i.capture_id
             WHERE c.channel_id = ? AND i.item_id = ? AND c.state = 'complete' AND c.requested_at < ?
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
             WHERE capture_id = ? ORDER BY name",
        )
        .bind(capture_id)
        .fetch_all(&self.pool)
        .await
        .map_err(q("list artifacts"))
    }

    async fn add_artifact(&self, capture_id: &str, a: &ArtifactRecord) -> Result<(), DbError> {
        let mut tx = self.begin_write().await?;
        let complete: Option<String> =
            sqlx::query_scalar("SELECT id FROM captures WHERE id = ? AND state = 'complete'")
                .bind(capture_id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(q("read capture"))?;
        if complete.is_none() {
            return Err(DbError::NoCapture(capture_id.to_string()));
        }
        insert_artifact(&mut tx, capture_id, a).await?;
        tx.commit().await.map_err(q("commit"))
    }

    async fn untimestamped(&self, after: &str, limit: i64) -> Result<Vec<String>, DbError> {
        sqlx::query_scalar(
            "SELECT c.id FROM captures c
             WHERE c.state = 'complete'
               AND EXISTS (SELECT 1 FROM artifacts a WHERE a.capture_id = c.id AND a.name = 'manifest.json')
               AND NOT EXISTS (SELECT 1 FROM artifacts a WHERE a.capture_id = c.id AND a.name = 'manifest.tsr')
               AND c.id > ?
             ORDER BY c.id LIMIT ?",
        )
        .bind(after)
        .bind(limit.max(0))
        .fetch_all(&self.pool)
        .await
        .map_err(q("list untimestamped"))
    }

    // ----- jobs -----

    async fn enqueue(&self, job: &NewJob, now: DateTime<Utc>) -> Result<Enqueued, DbError> {
        let mut tx = self.begin_write().await?;
        let e = enqueue_in(&mut tx, job, now).await?;
        tx.commit().await.map_err(q("commit"))?;
        Ok(e)
    }

    async fn job(&self, id: &str) -> Result<Job, DbError> {
        let row: Option<JobRow> = sqlx::query_as("SELECT * FROM jobs WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(q("read job"))?;
        row.ok_or_else(|| DbError::NoJob(id.to_string()))?
            .try_into()
    }

    async fn list_jobs(&self, status: Option<JobStatus>, limit: i64) -> Result<Vec<Job>, DbError> {
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new("SELECT * FROM jobs WHERE 1 = 1");
        if let Some(s) = status {
            qb.push(" AND status = ").push_bind(s.as_str());
        }
        qb.push(" ORDER BY created_at DESC, id DESC LIMIT ")
            .push_bind(limit);
        let rows: Vec<JobRow> = qb
            .build_query_as()
            .fetch_all(&self.pool)
            .await
            .map_err(q("list jobs"))?;
        convert(rows)
    }

    async fn active_job(&self, channel: &str) -> Result<Option<Job>, DbError> {
        let mut conn = self.pool.acquire().await.map_err(q("connect"))?;
        active_job_in(&mut conn, channel).await
    }

    async fn claim(
        &self,
        owner: &str,
        only: Option<&str>,
        lease_until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Option<Job>, DbError> {
        // One statement: SQLite runs it under its single write lock, so two
        // claimers never get the same job.
        let pick = if only.is_some() {
            "SELECT id FROM jobs WHERE status = 'queued' AND id = ?"
        } else {
            "SELECT id FROM jobs WHERE status = 'queued' AND next_attempt_at <= ?
             ORDER BY priority DESC, next_attempt_at, id LIMIT 1"
        };
        let sql = format!(
            "UPDATE jobs SET status = 'running', attempts = attempts + 1, lease_owner = ?,
                    lease_expires_at = ?, heartbeat_at = ?, updated_at = ?
             WHERE id = ({pick}) RETURNING *"
        );
        let query = sqlx::query_as(&sql)
            .bind(owner)
            .bind(lease_until)
            .bind(now)
            .bind(now);
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
            "UPDATE jobs SET lease_expires_at = ?, heartbeat_at = ?
             WHERE id = ? AND status = 'running' AND lease_owner = ?",
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
            "UPDATE jobs SET status = {status}, last_error_code = ?, last_error = ?, next_attempt_at = ?,
                    snapshot_id = COALESCE(?, snapshot_id), lease_expires_at = NULL, updated_at = ?
             WHERE id = ? AND status = 'running' AND lease_owner = ?"
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
        let mut tx = self.begin_write().await?;
        // A job whose capture got as far as the spool is done: its upload is
        // the store sync's to finish, and capturing again would make a second
        // snapshot of the same request.
        sqlx::query(
            "UPDATE jobs SET status = 'done', last_error_code = NULL, last_error = NULL,
                    lease_expires_at = NULL, updated_at = ?1,
                    snapshot_id = (SELECT c.id FROM captures c WHERE c.job_id = jobs.id
                                    AND c.state = 'upload-pending' ORDER BY c.requested_at DESC LIMIT 1)
             WHERE status = 'running' AND lease_expires_at < ?1
               AND EXISTS (SELECT 1 FROM captures c WHERE c.job_id = jobs.id AND c.state = 'upload-pending')",
        )
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(q("end jobs whose capture is spooled"))?;
        let rows = sqlx::query(
            "UPDATE jobs SET status = CASE WHEN attempts < max_attempts THEN 'queued' ELSE 'failed' END,
                    next_attempt_at = ?, last_error_code = ?, last_error = ?, lease_expires_at = NULL,
                    updated_at = ?
             WHERE status = 'running' AND lease_expires_at < ?
             RETURNING id, channel_id, status",
        )
        .bind(now)
        .bind(INTERRUPTED)
        .bind(LEASE_EXPIRED)
        .bind(now)
        .bind(now)
        .fetch_all(&mut *tx)
        .await
        .map_err(q("reap expired jobs"))?;
        let mut reaped = Vec::new();
        for row in rows {
            let job_id: String = row.get("id");
            let captures: Vec<String> = sqlx::query_scalar(
                "UPDATE captures SET state = 'failed', finished_at = ?, failure_code = ?, failure = ?
                 WHERE job_id = ? AND state = 'running' RETURNING id",
            )
            .bind(now)
            .bind(INTERRUPTED)
            .bind(super::INTERRUPTED_CAPTURE)
            .bind(&job_id)
            .fetch_all(&mut *tx)
            .await
            .map_err(q("fail interrupted captures"))?;
            reaped.push(Reaped {
                channel_id: row.get("channel_id"),
                requeued: row.get::<String, _>("status") == "queued",
                job_id,
                captures,
            });
        }
        tx.commit().await.map_err(q("commit"))?;
        Ok(reaped)
    }

    async fn retry_job(&self, id: &str, now: DateTime<Utc>) -> Result<Job, DbError> {
        let mut tx = self.begin_write().await?;
        let job: Job = sqlx::query_as::<_, JobRow>("SELECT * FROM jobs WHERE id = ?")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(q("read job"))?
            .ok_or_else(|| DbError::NoJob(id.to_string()))?
            .try_into()?;
        if !matches!(job.status, JobStatus::Failed | JobStatus::Cancelled) {
            return Err(DbError::JobState {
                id: id.to_string(),
                status: job.status,
                what: "only failed or cancelled jobs can be retried",
            });
        }
        if let Some(other) = active_job_in(&mut tx, &job.channel_id).await? {
            return Err(DbError::ChannelBusy {
                channel: job.channel_id,
                job: other.id,
            });
        }
        let row: JobRow = sqlx::query_as(
            "UPDATE jobs SET status = 'queued', attempts = 0, next_attempt_at = ?, lease_owner = NULL,
                    lease_expires_at = NULL, updated_at = ?
             WHERE id = ? RETURNING *",
        )
        .bind(now)
        .bind(now)
        .bind(id)
        .fetch_one(&mut *tx)
        .await
        .map_err(q("retry job"))?;
        tx.commit().await.map_err(q("commit"))?;
        row.try_into()
    }

    async fn cancel_job(&self, id: &str, now: DateTime<Utc>) -> Result<Job, DbError> {
        let row: Option<JobRow> = sqlx::query_as(
            "UPDATE jobs SET status = 'cancelled', lease_expires_at = NULL, updated_at = ?
             WHERE id = ? AND status IN ('queued', 'running') RETURNING *",
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
            "SELECT COALESCE(SUM(status = 'queued'), 0) AS queued, COALESCE(SUM(status = 'running'), 0) AS running,
                    MIN(CASE WHEN status = 'queued' AND next_attempt_at <= ? THEN next_attempt_at END) AS oldest
             FROM jobs WHERE status IN ('queued', 'running')",
        )
        .bind(now)
        .fetch_one(&self.pool)
        .await
        .map_err(q("queue depth"))?;
        Ok(QueueStats {
            queued: row.get("queued"),
            running: row.get("running"),
            oldest_due: row
                .get::<Option<String>, _>("oldest")
                .and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
                .map(|d| d.with_timezone(&Utc)),
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
        let mut tx = self.begin_write().await?;
        let mut out = Vec::new();
        for job in jobs {
            let res = sqlx::query(
                "INSERT INTO schedule_fires (schedule, channel_id, fire_time, outcome, recorded_at)
                 VALUES (?, ?, ?, 'enqueued', ?) ON CONFLICT DO NOTHING",
            )
            .bind(schedule)
            .bind(&job.channel_id)
            .bind(fire_time)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(q("record fire"))?;
            if res.rows_affected() == 0 {
                continue;
            }
            let e = enqueue_in(&mut tx, job, now).await?;
            sqlx::query(
                "UPDATE schedule_fires SET job_id = ? WHERE schedule = ? AND channel_id = ? AND fire_time = ?",
            )
            .bind(&e.job_id)
            .bind(schedule)
            .bind(&job.channel_id)
            .bind(fire_time)
            .execute(&mut *tx)
            .await
            .map_err(q("record fire"))?;
            out.push(e);
        }
        tx.commit().await.map_err(q("commit"))?;
        Ok(out)
    }

    async fn record_missed(
        &self,
        schedule: &str,
        fire_time: DateTime<Utc>,
        channels: &[String],
        now: DateTime<Utc>,
    ) -> Result<u64, DbError> {
        let mut tx = self.begin_write().await?;
        let mut n = 0;
        for c in channels {
            n += sqlx::query(
                "INSERT INTO schedule_fires (schedule, channel_id, fire_time, outcome, recorded_at)
                 VALUES (?, ?, ?, 'missed', ?) ON CONFLICT DO NOTHING",
            )
            .bind(schedule)
            .bind(c)
            .bind(fire_time)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(q("record missed fire"))?
            .rows_affected();
        }
        tx.commit().await.map_err(q("commit"))?;
        Ok(n)
    }

    async fn last_fire(&self, schedule: &str) -> Result<Option<DateTime<Utc>>, DbError> {
        sqlx::query_scalar(
            "SELECT fire_time FROM schedule_fires WHERE schedule = ? ORDER BY fire_time DESC LIMIT 1",
        )
        .bind(schedule)
        .fetch_optional(&self.pool)
        .await
        .map_err(q("last fire"))
    }

    // ----- debates -----

    async fn add_token(&self, t: &ApiToken, hash: &str) -> Result<(), DbError> {
        sqlx::query(
            "INSERT INTO tokens (id, name, role, hash, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?)",
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
            sqlx::query("UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL")
                .bind(at)
                .bind(id)
                .execute(&self.pool)
                .await
                .map_err(q("revoke token"))?;
        Ok(res.rows_affected() == 1)
    }

    async fn token_by_hash(&self, hash: &str) -> Result<Option<ApiToken>, DbError> {
        sqlx::query_as(
            "SELECT id, name, role, created_at, created_by, revoked_at FROM tokens WHERE hash = ? AND revoked_at IS NULL",
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
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
        sqlx::query_as("SELECT * FROM audit ORDER BY at DESC, id DESC LIMIT ?")
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .map_err(q("read audit log"))
    }

    async fn set_retention(&self, r: &RetentionRule) -> Result<(), DbError> {
        let mut tx = self.pool.begin().await.map_err(q("set retention"))?;
        match (&r.channel_id, &r.platform) {
            (Some(c), _) => sqlx::query("DELETE FROM retention_rules WHERE channel_id = ?").bind(c),
            (None, p) => sqlx::query("DELETE FROM retention_rules WHERE platform = ?").bind(p),
        }
        .execute(&mut *tx)
        .await
        .map_err(q("set retention"))?;
        sqlx::query(
            "INSERT INTO retention_rules (id, channel_id, platform, keep_days, decision_id, decision_date, decision_text, set_at, set_by)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
            "INSERT INTO holds (id, snapshot_id, channel_id, reason, placed_at, placed_by) VALUES (?, ?, ?, ?, ?, ?)",
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
            "UPDATE holds SET removed_at = ?, removed_by = ? WHERE id = ? AND removed_at IS NULL",
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
            sqlx::query(&format!("DELETE FROM {table} WHERE capture_id = ?"))
                .bind(&d.snapshot_id)
                .execute(&mut *tx)
                .await
                .map_err(q("dispose"))?;
        }
        let gone = sqlx::query("DELETE FROM captures WHERE id = ?")
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
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
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
                "SELECT * FROM debates WHERE stopped_at IS NULL AND until >= ? ORDER BY starts_at DESC, id DESC",
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
            "UPDATE debates SET stopped_at = ?, stopped_by = ? WHERE id = ? AND stopped_at IS NULL",
        )
        .bind(at)
        .bind(by)
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(q("stop debate"))?;
        if res.rows_affected() == 0 {
            let exists: Option<String> = sqlx::query_scalar("SELECT id FROM debates WHERE id = ?")
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
mod tests {
    use crate::db::Db;

    async fn fresh() -> Option<(tempfile::TempDir, Db)> {
        let dir = tempfile::tempdir().unwrap();
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("t.sqlite").display()
        );
        let db = Db::open(&url).await.unwrap();
        assert_eq!(db.backend(), "sqlite");
        Some((dir, db))
    }

    crate::repository_contract!(fresh);
}
