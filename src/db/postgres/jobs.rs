//! The job queue's transactions in Postgres: enqueue and join, retry, the
//! reaper and the fire log. Each runs on the caller's transaction, which
//! commits or rolls back (see `PgRepo::finish`).

use super::listen::notify;
use super::q;
use crate::db::rows::{to_json_list, JobRow};
use crate::db::{DbError, INTERRUPTED_CAPTURE, LEASE_EXPIRED};
use crate::queue::{Enqueued, Job, JobStatus, NewJob, Reaped, INTERRUPTED};
use chrono::{DateTime, Utc};
use sqlx::{Connection, PgConnection, Row};
use ulid::Ulid;

/// The index that keeps one queued or running job per channel.
const ONE_ACTIVE: &str = "jobs_one_active_per_channel";

/// How often an enqueue that lost a race for a channel's one active job
/// looks again. One retry is enough unless jobs of the channel end and
/// start again within milliseconds; a few more cost nothing.
const ENQUEUE_ATTEMPTS: usize = 5;

fn violates_one_active(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d)
        if d.is_unique_violation() && d.constraint() == Some(ONE_ACTIVE))
}

/// The channel's queued or running job; `lock` holds its row until the
/// transaction ends.
pub(super) async fn active_job_in(
    conn: &mut PgConnection,
    channel: &str,
    lock: bool,
) -> Result<Option<Job>, DbError> {
    let sql = if lock {
        "SELECT * FROM jobs WHERE channel_id = $1 AND status IN ('queued', 'running') FOR UPDATE"
    } else {
        "SELECT * FROM jobs WHERE channel_id = $1 AND status IN ('queued', 'running')"
    };
    let row: Option<JobRow> = sqlx::query_as(sql)
        .bind(channel)
        .fetch_optional(conn)
        .await
        .map_err(q("find active job"))?;
    row.map(Job::try_from).transpose()
}

/// Why one enqueue attempt did not go through.
enum Attempt {
    /// Another transaction inserted the channel's active job first: join it.
    Raced(sqlx::Error),
    Failed(DbError),
}

impl From<DbError> for Attempt {
    fn from(e: DbError) -> Self {
        Attempt::Failed(e)
    }
}

/// Queues `job` or joins the channel's active job, and announces a new job.
///
/// Under READ COMMITTED two enqueues can both see no active job; the
/// partial unique index then rejects the later insert, and that enqueue
/// looks again and joins. Each attempt is a savepoint, so a lost race leaves
/// the caller's transaction (a whole fire of a schedule) usable.
pub(super) async fn enqueue_in(
    conn: &mut PgConnection,
    job: &NewJob,
    now: DateTime<Utc>,
) -> Result<Enqueued, DbError> {
    let mut last = None;
    for _ in 0..ENQUEUE_ATTEMPTS {
        let mut sp = conn.begin().await.map_err(q("savepoint"))?;
        let res = enqueue_once(&mut sp, job, now).await;
        match res {
            Ok(e) => {
                sp.commit().await.map_err(q("release savepoint"))?;
                return Ok(e);
            }
            Err(Attempt::Raced(e)) => {
                sp.rollback().await.map_err(q("roll back to savepoint"))?;
                last = Some(e);
            }
            Err(Attempt::Failed(e)) => {
                sp.rollback().await.map_err(q("roll back to savepoint"))?;
                return Err(e);
            }
        }
    }
    Err(DbError::Query {
        what: "enqueue job (other enqueues for the channel kept winning; try again)",
        source: last.unwrap_or(sqlx::Error::RowNotFound),
    })
}

async fn enqueue_once(
    conn: &mut PgConnection,
    job: &NewJob,
    now: DateTime<Utc>,
) -> Result<Enqueued, Attempt> {
    // Locked, so joins of one job one after another keep every reason.
    if let Some(active) = active_job_in(&mut *conn, &job.channel_id, true).await? {
        let mut reasons = active.reasons.clone();
        if let Some(r) = &job.reason {
            if !reasons.contains(r) {
                reasons.push(r.clone());
            }
        }
        sqlx::query(
            "UPDATE jobs SET reasons = $1, priority = GREATEST(priority, $2), updated_at = $3 WHERE id = $4",
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
    let res = sqlx::query(
        "INSERT INTO jobs (id, channel_id, status, trigger_kind, schedule, fire_time, debate_id, reasons,
                           requested_by, priority, attempts, max_attempts, next_attempt_at, recording,
                           created_at, updated_at)
         VALUES ($1, $2, 'queued', $3, $4, $5, $6, $7, $8, $9, 0, $10, $11, $12, $11, $11)",
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
    .execute(&mut *conn)
    .await;
    match res {
        Ok(_) => {}
        Err(e) if violates_one_active(&e) => return Err(Attempt::Raced(e)),
        Err(sqlx::Error::Database(d)) if d.is_foreign_key_violation() => {
            return Err(DbError::NoChannel(job.channel_id.clone()).into())
        }
        Err(e) => return Err(q("enqueue job")(e).into()),
    }
    notify(conn).await?;
    Ok(Enqueued {
        job_id: id,
        joined: false,
    })
}

/// Queues a failed or cancelled job again, with fresh attempts.
pub(super) async fn retry_in(
    conn: &mut PgConnection,
    id: &str,
    now: DateTime<Utc>,
) -> Result<Job, DbError> {
    let job: Job = sqlx::query_as::<_, JobRow>("SELECT * FROM jobs WHERE id = $1 FOR UPDATE")
        .bind(id)
        .fetch_optional(&mut *conn)
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
    let busy = |other: Job| DbError::ChannelBusy {
        channel: job.channel_id.clone(),
        job: other.id,
    };
    if let Some(other) = active_job_in(&mut *conn, &job.channel_id, false).await? {
        return Err(busy(other));
    }
    let mut sp = conn.begin().await.map_err(q("savepoint"))?;
    let res = sqlx::query_as::<_, JobRow>(
        "UPDATE jobs SET status = 'queued', attempts = 0, next_attempt_at = $1, lease_owner = NULL,
                lease_expires_at = NULL, updated_at = $1
         WHERE id = $2 RETURNING *",
    )
    .bind(now)
    .bind(id)
    .fetch_one(&mut *sp)
    .await;
    let row = match res {
        Ok(row) => row,
        // A job of the channel was queued (and committed) since the look above.
        Err(e) if violates_one_active(&e) => {
            sp.rollback().await.map_err(q("roll back to savepoint"))?;
            return match active_job_in(&mut *conn, &job.channel_id, false).await? {
                Some(other) => Err(busy(other)),
                None => Err(q("retry job")(e)),
            };
        }
        Err(e) => {
            sp.rollback().await.map_err(q("roll back to savepoint"))?;
            return Err(q("retry job")(e));
        }
    };
    sp.commit().await.map_err(q("release savepoint"))?;
    notify(conn).await?;
    row.try_into()
}

/// Puts running jobs whose lease ran out back in the queue (or fails them)
/// and fails their running captures. Two reapers at once: the second waits
/// for the first's row locks, then finds the rows no longer running.
pub(super) async fn reap_in(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
) -> Result<Vec<Reaped>, DbError> {
    // A job whose capture got as far as the spool is done: its upload is
    // the store sync's to finish, and capturing again would make a second
    // snapshot of the same request.
    sqlx::query(
        "UPDATE jobs SET status = 'done', last_error_code = NULL, last_error = NULL,
                lease_expires_at = NULL, updated_at = $1,
                snapshot_id = (SELECT c.id FROM captures c WHERE c.job_id = jobs.id
                                AND c.state = 'upload-pending' ORDER BY c.requested_at DESC LIMIT 1)
         WHERE status = 'running' AND lease_expires_at < $1
           AND EXISTS (SELECT 1 FROM captures c WHERE c.job_id = jobs.id AND c.state = 'upload-pending')",
    )
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(q("end jobs whose capture is spooled"))?;
    let rows = sqlx::query(
        "UPDATE jobs SET status = CASE WHEN attempts < max_attempts THEN 'queued' ELSE 'failed' END,
                next_attempt_at = $1, last_error_code = $2, last_error = $3, lease_expires_at = NULL,
                updated_at = $1
         WHERE status = 'running' AND lease_expires_at < $1
         RETURNING id, channel_id, status",
    )
    .bind(now)
    .bind(INTERRUPTED)
    .bind(LEASE_EXPIRED)
    .fetch_all(&mut *conn)
    .await
    .map_err(q("reap expired jobs"))?;
    let mut reaped = Vec::new();
    for row in rows {
        let job_id: String = row.get("id");
        let captures: Vec<String> = sqlx::query_scalar(
            "UPDATE captures SET state = 'failed', finished_at = $1, failure_code = $2, failure = $3
             WHERE job_id = $4 AND state = 'running' RETURNING id",
        )
        .bind(now)
        .bind(INTERRUPTED)
        .bind(INTERRUPTED_CAPTURE)
        .bind(&job_id)
        .fetch_all(&mut *conn)
        .await
        .map_err(q("fail interrupted captures"))?;
        reaped.push(Reaped {
            channel_id: row.get("channel_id"),
            requeued: row.get::<String, _>("status") == "queued",
            job_id,
            captures,
        });
    }
    if reaped.iter().any(|r| r.requeued) {
        notify(conn).await?;
    }
    Ok(reaped)
}

/// Records one fire of `schedule` for each job's channel and enqueues the
/// jobs of the fires not yet in the log.
pub(super) async fn fires_in(
    conn: &mut PgConnection,
    schedule: &str,
    fire_time: DateTime<Utc>,
    jobs: &[NewJob],
    now: DateTime<Utc>,
) -> Result<Vec<Enqueued>, DbError> {
    // In bulk: a baseline fire covers every channel of a region, and one
    // round trip per channel made 10,000 of them take 20 s. In channel
    // order, so two schedulers firing for the same channels take their
    // locks in the same order and wait for each other, not deadlock.
    let mut order: Vec<(usize, &NewJob)> = jobs.iter().enumerate().collect();
    order.sort_by(|a, b| a.1.channel_id.cmp(&b.1.channel_id));
    let channels: Vec<&str> = order.iter().map(|(_, j)| j.channel_id.as_str()).collect();
    let fresh: Vec<String> = sqlx::query_scalar(
        "INSERT INTO schedule_fires (schedule, channel_id, fire_time, outcome, recorded_at)
         SELECT $1, c, $3, 'enqueued', $4 FROM unnest($2::text[]) AS c ORDER BY c
         ON CONFLICT DO NOTHING RETURNING channel_id",
    )
    .bind(schedule)
    .bind(&channels)
    .bind(fire_time)
    .bind(now)
    .fetch_all(&mut *conn)
    .await
    .map_err(q("record fires"))?;
    let fresh: std::collections::HashSet<String> = fresh.into_iter().collect();
    let todo: Vec<(usize, &NewJob)> = order
        .into_iter()
        .filter(|(_, j)| fresh.contains(&j.channel_id))
        .collect();
    let ids: Vec<String> = todo.iter().map(|_| Ulid::new().to_string()).collect();
    let col = |f: &dyn Fn(&NewJob) -> Option<String>| -> Vec<Option<String>> {
        todo.iter().map(|(_, j)| f(j)).collect()
    };
    let chans = col(&|j| Some(j.channel_id.clone()));
    let kinds = col(&|j| Some(j.trigger.kind.as_str().to_string()));
    let schedules = col(&|j| j.trigger.schedule.clone());
    let debates = col(&|j| j.trigger.debate.clone());
    let reasons = col(&|j| Some(to_json_list(&j.reason.iter().cloned().collect::<Vec<_>>())));
    let by = col(&|j| j.requested_by.clone());
    let fire_times: Vec<Option<DateTime<Utc>>> =
        todo.iter().map(|(_, j)| j.trigger.fire_time).collect();
    let priorities: Vec<i64> = todo.iter().map(|(_, j)| j.priority).collect();
    let attempts: Vec<i64> = todo.iter().map(|(_, j)| j.max_attempts.max(1)).collect();
    let recording: Vec<Option<bool>> = todo.iter().map(|(_, j)| j.recording).collect();
    // A channel that already has a queued or running job is left out here
    // and joins that job below.
    let inserted: Vec<(String, String)> = sqlx::query_as(
        "INSERT INTO jobs (id, channel_id, status, trigger_kind, schedule, fire_time, debate_id, reasons,
                           requested_by, priority, attempts, max_attempts, next_attempt_at, recording,
                           created_at, updated_at)
         SELECT id, ch, 'queued', kind, sched, ft, deb, rs, rb, pr, 0, ma, $11, rec, $11, $11
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::text[],
                     $7::text[], $8::text[], $9::bigint[], $10::bigint[], $12::boolean[])
              AS v(id, ch, kind, sched, ft, deb, rs, rb, pr, ma, rec)
         ORDER BY ch
         ON CONFLICT (channel_id) WHERE status IN ('queued', 'running') DO NOTHING
         RETURNING channel_id, id",
    )
    .bind(&ids)
    .bind(&chans)
    .bind(&kinds)
    .bind(&schedules)
    .bind(&fire_times)
    .bind(&debates)
    .bind(&reasons)
    .bind(&by)
    .bind(&priorities)
    .bind(&attempts)
    .bind(now)
    .bind(&recording)
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| match e {
        sqlx::Error::Database(d) if d.is_foreign_key_violation() => DbError::NoChannel(
            d.message().to_string(),
        ),
        e => q("enqueue fired jobs")(e),
    })?;
    if !inserted.is_empty() {
        notify(&mut *conn).await?;
    }
    let inserted: std::collections::HashMap<String, String> = inserted.into_iter().collect();
    let mut out = Vec::with_capacity(todo.len());
    for (i, job) in &todo {
        let e = match inserted.get(&job.channel_id) {
            Some(id) => Enqueued {
                job_id: id.clone(),
                joined: false,
            },
            None => enqueue_in(&mut *conn, job, now).await?,
        };
        out.push((*i, job.channel_id.clone(), e));
    }
    let (fire_chans, fire_jobs): (Vec<String>, Vec<String>) = out
        .iter()
        .map(|(_, c, e)| (c.clone(), e.job_id.clone()))
        .unzip();
    sqlx::query(
        "UPDATE schedule_fires f SET job_id = v.job
         FROM unnest($3::text[], $4::text[]) AS v(ch, job)
         WHERE f.schedule = $1 AND f.fire_time = $2 AND f.channel_id = v.ch",
    )
    .bind(schedule)
    .bind(fire_time)
    .bind(&fire_chans)
    .bind(&fire_jobs)
    .execute(&mut *conn)
    .await
    .map_err(q("record fires"))?;
    out.sort_by_key(|(i, _, _)| *i);
    Ok(out.into_iter().map(|(_, _, e)| e).collect())
}

/// Logs missed fires; returns how many were new.
pub(super) async fn missed_in(
    conn: &mut PgConnection,
    schedule: &str,
    fire_time: DateTime<Utc>,
    channels: &[String],
    now: DateTime<Utc>,
) -> Result<u64, DbError> {
    let mut channels: Vec<&String> = channels.iter().collect();
    channels.sort();
    let mut n = 0;
    for c in channels {
        n += sqlx::query(
            "INSERT INTO schedule_fires (schedule, channel_id, fire_time, outcome, recorded_at)
             VALUES ($1, $2, $3, 'missed', $4) ON CONFLICT DO NOTHING",
        )
        .bind(schedule)
        .bind(c)
        .bind(fire_time)
        .bind(now)
        .execute(&mut *conn)
        .await
        .map_err(q("record missed fire"))?
        .rows_affected();
    }
    Ok(n)
}
