//! Row types shared by both backends: each derives `FromRow` for any
//! database whose column types decode into it, and converts into the
//! model type with its checks.

use super::{channel_from_parts, CaptureRecord, CaptureState, DbError, Debate, SearchHit};
use crate::behaviour::items::{Item, Published};
use crate::queue::{Job, JobStatus, JobTrigger};
use crate::registry::Channel;
use chrono::{DateTime, Utc};

fn corrupt(table: &'static str) -> impl Fn(String) -> DbError {
    move |detail| DbError::Corrupt { table, detail }
}

fn json_list(table: &'static str, s: &str) -> Result<Vec<String>, DbError> {
    serde_json::from_str(s).map_err(|e| corrupt(table)(e.to_string()))
}

/// A list stored as a JSON array.
pub(super) fn to_json_list(v: &[String]) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

#[derive(sqlx::FromRow)]
pub(super) struct ChannelRow {
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
}

impl TryFrom<ChannelRow> for Channel {
    type Error = DbError;
    fn try_from(r: ChannelRow) -> Result<Self, DbError> {
        channel_from_parts(
            r.id,
            r.platform,
            r.url,
            r.name,
            r.owner,
            r.admins,
            r.purpose,
            r.tags,
            r.opened_at,
            r.closed_at,
            r.recording,
            r.retain_days,
        )
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct CaptureRow {
    id: String,
    channel_id: String,
    state: String,
    trigger_kind: String,
    reason: Option<String>,
    requested_by: Option<String>,
    requested_at: DateTime<Utc>,
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
    url: String,
    final_url: Option<String>,
    title: Option<String>,
    failure_code: Option<String>,
    failure: Option<String>,
    warnings: i64,
    truncated: bool,
    manifest_key: Option<String>,
    worker: Option<String>,
    job_id: Option<String>,
}

impl TryFrom<CaptureRow> for CaptureRecord {
    type Error = DbError;
    fn try_from(r: CaptureRow) -> Result<Self, DbError> {
        let state = CaptureState::parse(&r.state)
            .ok_or_else(|| corrupt("captures")(format!("state {:?}", r.state)))?;
        Ok(CaptureRecord {
            id: r.id,
            channel_id: r.channel_id,
            state,
            trigger: r.trigger_kind,
            reason: r.reason,
            requested_by: r.requested_by,
            requested_at: r.requested_at,
            started_at: r.started_at,
            finished_at: r.finished_at,
            url: r.url,
            final_url: r.final_url,
            title: r.title,
            failure_code: r.failure_code,
            failure: r.failure,
            warnings: r.warnings,
            truncated: r.truncated,
            manifest_key: r.manifest_key,
            worker: r.worker,
            job_id: r.job_id,
        })
    }
}

/// An item row: the capture it belongs to and the item's columns.
#[derive(sqlx::FromRow)]
pub(super) struct ItemRow {
    pub capture_id: String,
    item_id: String,
    kind: String,
    parent: Option<String>,
    author: Option<String>,
    published_shown: Option<String>,
    published_at: Option<DateTime<Utc>>,
    text: String,
    permalink: Option<String>,
    links: String,
    media: String,
}

impl ItemRow {
    pub fn item(self) -> Item {
        Item {
            id: self.item_id,
            kind: self.kind,
            parent: self.parent,
            author: self.author,
            published: Published {
                shown: self.published_shown,
                parsed: self.published_at,
            },
            text: self.text,
            permalink: self.permalink,
            links: serde_json::from_str(&self.links).unwrap_or_default(),
            media: serde_json::from_str(&self.media).unwrap_or_default(),
        }
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct SearchRow {
    #[sqlx(flatten)]
    row: ItemRow,
    hit_channel: String,
    hit_requested_at: DateTime<Utc>,
}

impl From<SearchRow> for SearchHit {
    fn from(r: SearchRow) -> Self {
        SearchHit {
            snapshot_id: r.row.capture_id.clone(),
            channel: r.hit_channel,
            captured_at: r.hit_requested_at,
            item: r.row.item(),
        }
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct JobRow {
    id: String,
    channel_id: String,
    status: String,
    trigger_kind: String,
    schedule: Option<String>,
    fire_time: Option<DateTime<Utc>>,
    debate_id: Option<String>,
    reasons: String,
    requested_by: Option<String>,
    priority: i64,
    attempts: i64,
    max_attempts: i64,
    lease_owner: Option<String>,
    lease_expires_at: Option<DateTime<Utc>>,
    heartbeat_at: Option<DateTime<Utc>>,
    next_attempt_at: DateTime<Utc>,
    last_error_code: Option<String>,
    last_error: Option<String>,
    snapshot_id: Option<String>,
    recording: Option<bool>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<JobRow> for Job {
    type Error = DbError;
    fn try_from(r: JobRow) -> Result<Self, DbError> {
        let bad = corrupt("jobs");
        Ok(Job {
            status: r.status.parse::<JobStatus>().map_err(&bad)?,
            trigger: JobTrigger {
                kind: r.trigger_kind.parse().map_err(&bad)?,
                schedule: r.schedule,
                fire_time: r.fire_time,
                debate: r.debate_id,
            },
            reasons: json_list("jobs", &r.reasons)?,
            id: r.id,
            channel_id: r.channel_id,
            requested_by: r.requested_by,
            priority: r.priority,
            attempts: r.attempts,
            max_attempts: r.max_attempts,
            lease_owner: r.lease_owner,
            lease_expires_at: r.lease_expires_at,
            heartbeat_at: r.heartbeat_at,
            next_attempt_at: r.next_attempt_at,
            last_error_code: r.last_error_code,
            last_error: r.last_error,
            snapshot_id: r.snapshot_id,
            recording: r.recording,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct DebateRow {
    id: String,
    channels: String,
    tag: Option<String>,
    every_secs: i64,
    starts_at: DateTime<Utc>,
    until: DateTime<Utc>,
    reason: String,
    started_by: Option<String>,
    stopped_at: Option<DateTime<Utc>>,
    stopped_by: Option<String>,
}

impl TryFrom<DebateRow> for Debate {
    type Error = DbError;
    fn try_from(r: DebateRow) -> Result<Self, DbError> {
        Ok(Debate {
            channels: json_list("debates", &r.channels)?,
            id: r.id,
            tag: r.tag,
            every_secs: r.every_secs,
            starts_at: r.starts_at,
            until: r.until,
            reason: r.reason,
            started_by: r.started_by,
            stopped_at: r.stopped_at,
            stopped_by: r.stopped_by,
        })
    }
}

/// Converts every row, failing on the first corrupt one.
pub(super) fn convert<R, T: TryFrom<R, Error = DbError>>(rows: Vec<R>) -> Result<Vec<T>, DbError> {
    rows.into_iter().map(T::try_from).collect()
}
