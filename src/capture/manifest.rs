//! The manifest of a snapshot: what was captured, when, how, by whom, and
//! every artifact with its media type, size and SHA-256. Its schema is
//! versioned; the README documents each field.

use crate::behaviour::PassReport;
use crate::db::ArtifactRecord;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Bumped when a field changes meaning or is removed; adding fields keeps it.
pub const MANIFEST_SCHEMA_VERSION: u32 = 1;
/// Names the document type inside the JSON.
pub const MANIFEST_SCHEMA: &str = "bevara.manifest";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub schema: String,
    pub schema_version: u32,
    pub snapshot_id: String,
    pub channel: ManifestChannel,
    pub requested_url: String,
    pub final_url: String,
    pub title: String,
    /// The main document's HTTP status, when Chromium reports it.
    pub http_status: Option<u16>,
    pub requested_at: DateTime<Utc>,
    pub started_at: DateTime<Utc>,
    /// When the last artifact was produced (before upload).
    pub finished_at: DateTime<Utc>,
    pub trigger: ManifestTrigger,
    pub browser: ManifestBrowser,
    pub behaviour: PassReport,
    /// The behaviour profile used.
    #[serde(default)]
    pub profile: String,
    /// Every page captured: the channel's page, then further comment pages.
    #[serde(default)]
    pub pages: Vec<String>,
    /// Items extracted into `items.json`.
    #[serde(default)]
    pub items: crate::behaviour::items::ItemCounts,
    /// Changes since the channel's previous complete snapshot (null for the first).
    #[serde(default)]
    pub diff: Option<crate::archive::DiffSummary>,
    pub screenshot: Option<crate::capture::screenshot::ScreenshotStats>,
    /// The screen recording of the pass, when one was made.
    #[serde(default)]
    pub recording: Option<ManifestRecording>,
    /// The login session the capture used (counts and domains, never values).
    #[serde(default)]
    pub session: Option<ManifestSession>,
    /// True when a budget ended the pass before the end of the page.
    pub truncated: bool,
    pub warnings: Vec<String>,
    /// Object Lock retention of every object of the snapshot, when asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<crate::store::Retention>,
    pub artifacts: Vec<ManifestArtifact>,
    pub generator: String,
}

/// What is known of a login session without revealing it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ManifestSession {
    pub imported_at: DateTime<Utc>,
    pub cookies: usize,
    pub cookies_applied: usize,
    pub local_storage_items: usize,
    pub domains: Vec<String>,
    pub earliest_expiry: Option<DateTime<Utc>>,
}

/// What the screen recording is: enough to play and judge it without opening it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ManifestRecording {
    /// The artifact's name, e.g. `recording.mp4`.
    pub artifact: String,
    pub format: String,
    pub codec: String,
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub duration_secs: f64,
    /// Frames in the file (the title card included).
    pub frames: u64,
    pub title_frames: u64,
    /// Screencast frames Chromium sent during the pass.
    pub frames_received: u64,
    /// CPU seconds ffmpeg used.
    pub encoder_cpu_secs: f64,
    /// The recording stopped at recording.max_duration_secs before the pass ended.
    pub truncated: bool,
    pub encoder: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ManifestChannel {
    pub id: String,
    pub platform: String,
    pub name: Option<String>,
    pub owner: Option<String>,
    pub url: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ManifestTrigger {
    /// `manual` (bevara capture), `ad-hoc` (bevara enqueue, the web),
    /// `schedule`, `debate` or `close` (a closed channel's final capture).
    pub kind: String,
    pub reason: Option<String>,
    pub requested_by: Option<String>,
    /// The queue's job this capture ran for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    /// The schedule that fired, for scheduled captures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// The fire time (UTC) the job was enqueued for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fire_time: Option<chrono::DateTime<chrono::Utc>>,
    /// The debate, for a debate's captures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub debate: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ManifestBrowser {
    pub product: String,
    pub user_agent: String,
    pub viewport: Viewport,
    pub locale: String,
    pub timezone: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Viewport {
    pub width: u32,
    pub height: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManifestArtifact {
    pub name: String,
    pub key: String,
    pub media_type: String,
    pub bytes: u64,
    pub sha256: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// The object version the store wrote, on a versioned bucket; `verify`
    /// reads this version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
}

impl From<&ManifestArtifact> for ArtifactRecord {
    fn from(a: &ManifestArtifact) -> Self {
        ArtifactRecord {
            name: a.name.clone(),
            key: a.key.clone(),
            media_type: a.media_type.clone(),
            bytes: a.bytes as i64,
            sha256: a.sha256.clone(),
            width: a.width.map(i64::from),
            height: a.height.map(i64::from),
            version_id: a.version_id.clone(),
        }
    }
}
