//! The database behind the register and the record of captures.
//!
//! All SQL lives here. The embedded default is a SQLite file in the data
//! directory (`sqlite.rs`, migrations in `migrations/sqlite/`); queries are
//! built at run time with `FromRow`, so no database is needed to build.

mod sqlite;

pub use sqlite::Db;

use crate::registry::{Channel, ChannelId};
use chrono::{DateTime, Utc};
use serde::Serialize;

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
    #[error("corrupt row in {table}: {detail}")]
    Corrupt { table: &'static str, detail: String },
}

/// Where a capture stands. Only `Complete` captures are snapshots an archivist can rely on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CaptureState {
    Running,
    Complete,
    Failed,
}

impl CaptureState {
    pub fn as_str(self) -> &'static str {
        match self {
            CaptureState::Running => "running",
            CaptureState::Complete => "complete",
            CaptureState::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "running" => Some(Self::Running),
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
    })
}
