//! The spool: where a capture's files wait until every object is in the
//! store and read back. `SPOOL/<snapshot-id>/` holds the artifacts under
//! their names and `pending.json` (the manifest as captured, before version
//! ids); the capture is `upload-pending` in the database meanwhile.
//!
//! A capture spools its files before the first upload, so a store that is
//! down, a refused write or a process killed mid-upload leaves the files
//! here and the snapshot `upload-pending`; `bevara store sync` and the
//! worker push them later. Only when every object is stored and its SHA-256
//! read back is the capture recorded complete and its spool directory
//! removed.

use super::{sha256_file, ObjectStore, PutMeta, StoreError};
use crate::behaviour::items::{Item, ItemsDocument};
use crate::capture::manifest::{Manifest, ManifestArtifact};
use crate::db::{CaptureFinish, CaptureState, DbError};
use crate::Bevara;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The description of a spooled capture, next to its files.
pub const PENDING_FILE: &str = "pending.json";
/// Held (an advisory lock) by the process uploading a spooled capture.
const LOCK_FILE: &str = ".lock";

/// What `pending.json` holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pending {
    /// The manifest as captured; the stored one adds each object's version.
    pub manifest: Manifest,
    pub title: Option<String>,
    pub spooled_at: DateTime<Utc>,
}

/// Why a spooled capture is not stored yet.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("stored object {key} does not match what was captured (expected sha256 {expected}, read back {actual})")]
    Mismatch {
        key: String,
        expected: String,
        actual: String,
    },
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("another process is uploading snapshot {0} now")]
    Busy(String),
    #[error("the spool of snapshot {id} is unusable: {reason}")]
    Spool { id: String, reason: String },
}

/// What a sync did.
#[derive(Debug, Default, Clone, Serialize)]
pub struct SyncReport {
    /// Snapshots now complete.
    pub stored: Vec<String>,
    /// Snapshots still pending here, with why.
    pub left: Vec<(String, String)>,
    /// Snapshots another process is uploading now.
    pub busy: Vec<String>,
    /// Upload-pending snapshots whose files are in another host's spool (the worker named).
    pub elsewhere: Vec<(String, String)>,
}

/// The spool's state, for `bevara store status`.
#[derive(Debug, Clone, Serialize)]
pub struct SpoolStatus {
    pub store: String,
    pub dir: PathBuf,
    pub bytes: u64,
    pub cap_bytes: Option<u64>,
    /// Spooled snapshots, oldest first: id, channel, captured at, spooled at.
    pub pending: Vec<PendingEntry>,
    /// Snapshots the database has as upload-pending, here or elsewhere.
    pub pending_in_db: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct PendingEntry {
    pub snapshot_id: String,
    pub channel: String,
    pub requested_at: DateTime<Utc>,
    pub spooled_at: DateTime<Utc>,
    pub bytes: u64,
    /// Why it is not stored yet, as the database has it.
    pub reason: Option<String>,
}

fn dir_of(bevara: &Bevara, id: &str) -> PathBuf {
    bevara.settings().spool_dir().join(id)
}

/// Bytes under `dir` (0 when it does not exist).
pub fn size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => size(&e.path()),
            Ok(_) => e.metadata().map(|m| m.len()).unwrap_or(0),
            Err(_) => 0,
        })
        .sum()
}

/// Refuses a new capture while the spool is at its cap, so that waiting
/// snapshots are never pushed out by new ones.
pub fn check_room(settings: &crate::config::Settings) -> Result<(), StoreError> {
    let cap = settings.store.spool_max_mb;
    if cap == 0 {
        return Ok(());
    }
    let dir = settings.spool_dir();
    let used = size(&dir);
    if used >= cap * 1024 * 1024 {
        return Err(StoreError::SpoolFull {
            dir,
            used_mb: used / (1024 * 1024),
            cap_mb: cap,
        });
    }
    Ok(())
}

/// Moves a capture's files into the spool and writes `pending.json`.
/// `files` are (artifact name, path now) in the manifest's order.
pub fn enter(
    settings: &crate::config::Settings,
    manifest: &Manifest,
    files: &[(String, PathBuf)],
    title: Option<String>,
) -> std::io::Result<PathBuf> {
    let dir = settings.spool_dir().join(&manifest.snapshot_id);
    std::fs::create_dir_all(&dir)?;
    for (name, path) in files {
        let to = dir.join(name);
        if *path == to {
            continue;
        }
        if std::fs::rename(path, &to).is_err() {
            // Another file system: copy, then drop the original.
            std::fs::copy(path, &to)?;
            std::fs::File::open(&to)?.sync_all()?;
            let _ = std::fs::remove_file(path);
        }
    }
    let pending = Pending {
        manifest: manifest.clone(),
        title,
        spooled_at: Utc::now(),
    };
    let tmp = dir.join(".pending.json.partial");
    std::fs::write(&tmp, serde_json::to_vec_pretty(&pending)?)?;
    std::fs::File::open(&tmp)?.sync_all()?;
    std::fs::rename(&tmp, dir.join(PENDING_FILE))?;
    std::fs::File::open(&dir)?.sync_all()?;
    Ok(dir)
}

fn read_pending(dir: &Path, id: &str) -> Result<Pending, UploadError> {
    let bytes = std::fs::read(dir.join(PENDING_FILE)).map_err(|e| UploadError::Spool {
        id: id.to_string(),
        reason: format!("{}: {e}", dir.join(PENDING_FILE).display()),
    })?;
    serde_json::from_slice(&bytes).map_err(|e| UploadError::Spool {
        id: id.to_string(),
        reason: format!("{PENDING_FILE}: {e}"),
    })
}

/// Stores every object of the spooled capture `id`, reads each back, writes
/// and stores the manifest with the versions written, records the capture
/// complete and empties its spool directory. Returns the manifest as stored
/// and its own entry.
pub async fn upload(
    bevara: &Bevara,
    id: &str,
) -> Result<(Manifest, ManifestArtifact), UploadError> {
    let dir = dir_of(bevara, id);
    let lock = std::fs::File::create(dir.join(LOCK_FILE)).map_err(|e| UploadError::Spool {
        id: id.to_string(),
        reason: e.to_string(),
    })?;
    if lock.try_lock().is_err() {
        return Err(UploadError::Busy(id.to_string()));
    }
    let pending = read_pending(&dir, id)?;
    let mut manifest = pending.manifest;
    let store = bevara.store();
    if manifest.retention.is_some() && !store.can_lock() {
        store.check(true).await?;
    }
    let retention = manifest.retention.clone();
    let channel = manifest.channel.id.clone();
    for a in manifest.artifacts.iter_mut() {
        let meta = PutMeta {
            media_type: &a.media_type,
            sha256: &a.sha256,
            snapshot_id: id,
            channel: &channel,
            retention: retention.as_ref(),
        };
        a.version_id =
            put_checked(store, &a.key, &dir.join(&a.name), &meta, &a.sha256, a.bytes).await?;
    }

    // The manifest, last: it names every object and the version written.
    let path = dir.join("manifest.json");
    let json = serde_json::to_vec_pretty(&manifest).map_err(|e| UploadError::Spool {
        id: id.to_string(),
        reason: e.to_string(),
    })?;
    std::fs::write(&path, &json).map_err(|e| UploadError::Spool {
        id: id.to_string(),
        reason: format!("{}: {e}", path.display()),
    })?;
    let digest = sha256_file(&path).map_err(|e| UploadError::Spool {
        id: id.to_string(),
        reason: e.to_string(),
    })?;
    let prefix = crate::capture::snapshot_prefix(&channel, manifest.requested_at, id);
    let mut entry = ManifestArtifact {
        name: "manifest.json".into(),
        key: format!("{prefix}/manifest.json"),
        media_type: "application/json".into(),
        bytes: digest.bytes,
        sha256: digest.sha256,
        width: None,
        height: None,
        version_id: None,
    };
    let meta = PutMeta {
        media_type: "application/json",
        sha256: &entry.sha256,
        snapshot_id: id,
        channel: &channel,
        retention: retention.as_ref(),
    };
    entry.version_id =
        put_checked(store, &entry.key, &path, &meta, &entry.sha256, entry.bytes).await?;

    let items = read_items(&dir);
    let mut records: Vec<_> = manifest.artifacts.iter().map(Into::into).collect();
    records.push((&entry).into());
    bevara
        .db()
        .complete_capture(
            id,
            &CaptureFinish {
                final_url: Some(manifest.final_url.clone()),
                title: pending.title,
                warnings: manifest.warnings.len() as i64,
                truncated: manifest.truncated,
                manifest_key: Some(entry.key.clone()),
            },
            &records,
            &items,
        )
        .await?;
    // The trusted timestamp of the manifest's exact bytes. The snapshot is
    // complete without it: a TSA that does not answer is tried again later.
    if !bevara.settings().timestamp.tsa_url.is_empty() {
        let rec: crate::db::ArtifactRecord = (&entry).into();
        let scratch = dir.join(crate::timestamp::TOKEN_NAME);
        let stamped = match crate::timestamp::trust_anchors(&bevara.settings().timestamp) {
            Ok(anchors) => {
                crate::timestamp::stamp(
                    bevara,
                    id,
                    &channel,
                    &rec,
                    retention.as_ref(),
                    anchors.as_deref(),
                    &scratch,
                )
                .await
            }
            Err(e) => Err(e),
        };
        if let Err(e) = stamped {
            tracing::warn!(snapshot = id, error = %e, "the snapshot is complete but not timestamped yet; the worker or `bevara timestamp sync` tries again");
        }
    }
    drop(lock);
    if let Err(e) = std::fs::remove_dir_all(&dir) {
        tracing::warn!(dir = %dir.display(), error = %e, "the snapshot is stored, but its spool directory could not be removed");
    }
    Ok((manifest, entry))
}

/// Stores one file and reads it back: the SHA-256 must match.
async fn put_checked(
    store: &dyn ObjectStore,
    key: &str,
    path: &Path,
    meta: &PutMeta<'_>,
    sha256: &str,
    bytes: u64,
) -> Result<Option<String>, UploadError> {
    let stored = store.put_file(key, path, meta).await?;
    let back = store.digest(key, stored.version_id.as_deref()).await?;
    if back.sha256 != sha256 || back.bytes != bytes {
        return Err(UploadError::Mismatch {
            key: key.to_string(),
            expected: sha256.to_string(),
            actual: back.sha256,
        });
    }
    Ok(stored.version_id)
}

fn read_items(dir: &Path) -> Vec<Item> {
    std::fs::read(dir.join("items.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<ItemsDocument>(&b).ok())
        .map(|d| d.items)
        .unwrap_or_default()
}

/// Spooled snapshot ids in this host's spool, oldest first (ids are ULIDs).
fn spooled(bevara: &Bevara) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(bevara.settings().spool_dir()) else {
        return Vec::new();
    };
    let mut ids: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|e| e.path().join(PENDING_FILE).is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.parse::<ulid::Ulid>().is_ok())
        .collect();
    ids.sort();
    ids
}

/// Pushes every upload-pending snapshot of this host's spool to the store.
pub async fn sync(bevara: &Bevara) -> SyncReport {
    let mut report = SyncReport::default();
    for id in spooled(bevara) {
        let state = match bevara.db().capture(&id).await {
            Ok(rec) => rec.state,
            Err(DbError::NoCapture(_)) => {
                report.left.push((
                    id,
                    "the database has no such capture; its files are kept".into(),
                ));
                continue;
            }
            Err(e) => {
                report.left.push((id, e.to_string()));
                continue;
            }
        };
        match state {
            CaptureState::Complete => {
                // Stored and recorded; the process ended before it cleaned up.
                let _ = std::fs::remove_dir_all(dir_of(bevara, &id));
            }
            CaptureState::Running => report.busy.push(id),
            CaptureState::Failed => report.left.push((
                id,
                "the capture is recorded failed; its files are kept for inspection".into(),
            )),
            CaptureState::UploadPending => match upload(bevara, &id).await {
                Ok(_) => {
                    tracing::info!(snapshot = %id, "pending upload stored; the snapshot is complete");
                    report.stored.push(id);
                }
                Err(UploadError::Busy(_)) => report.busy.push(id),
                Err(e) => {
                    let reason = e.to_string();
                    if let Err(e) = bevara.db().pend_capture(&id, &reason).await {
                        tracing::warn!(snapshot = %id, error = %e, "cannot record why the upload is pending");
                    }
                    report.left.push((id, reason));
                }
            },
        }
    }
    let here: std::collections::HashSet<String> = report
        .stored
        .iter()
        .chain(report.busy.iter())
        .chain(report.left.iter().map(|(i, _)| i))
        .cloned()
        .collect();
    if let Ok(all) = bevara
        .db()
        .list_captures(&crate::db::CaptureFilter {
            state: Some(CaptureState::UploadPending),
            ..Default::default()
        })
        .await
    {
        for c in all {
            if !here.contains(&c.id) {
                report
                    .elsewhere
                    .push((c.id, c.worker.unwrap_or_else(|| "an unknown host".into())));
            }
        }
    }
    report
}

/// The spool's size and what waits in it.
pub async fn status(bevara: &Bevara) -> Result<SpoolStatus, DbError> {
    let settings = bevara.settings();
    let dir = settings.spool_dir();
    let mut pending = Vec::new();
    for id in spooled(bevara) {
        let d = dir.join(&id);
        let Ok(p) = read_pending(&d, &id) else {
            continue;
        };
        let reason = bevara.db().capture(&id).await.ok().and_then(|c| c.failure);
        pending.push(PendingEntry {
            snapshot_id: id,
            channel: p.manifest.channel.id.clone(),
            requested_at: p.manifest.requested_at,
            spooled_at: p.spooled_at,
            bytes: size(&d),
            reason,
        });
    }
    pending.sort_by_key(|p| p.requested_at);
    let pending_in_db = bevara
        .db()
        .list_captures(&crate::db::CaptureFilter {
            state: Some(CaptureState::UploadPending),
            ..Default::default()
        })
        .await?
        .len();
    Ok(SpoolStatus {
        store: bevara.store().describe(),
        bytes: size(&dir),
        cap_bytes: (settings.store.spool_max_mb > 0)
            .then(|| settings.store.spool_max_mb * 1024 * 1024),
        dir,
        pending,
        pending_in_db,
    })
}
