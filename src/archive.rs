//! Retrieval and fixity of snapshots: reading a snapshot's manifest back,
//! copying its artifacts out, and verifying every stored object against the
//! SHA-256 the manifest recorded; and the diff between two snapshots'
//! items, which keeps comments that were deleted between captures.

use crate::behaviour::items::Item;
use crate::capture::manifest::Manifest;
use crate::db::{CaptureRecord, CaptureState, DbError};
use crate::store::StoreError;
use crate::Bevara;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// A retrieval or verification failure.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("snapshot {id} is {state}, not complete: {reason}")]
    NotComplete {
        id: String,
        state: &'static str,
        reason: String,
    },
    #[error("the manifest of snapshot {id} is unreadable: {reason}")]
    BadManifest { id: String, reason: String },
    #[error(
        "snapshots {a} and {b} are of different channels; a diff compares one channel's snapshots"
    )]
    OtherChannels { a: String, b: String },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// One object's verification result.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub snapshot_id: String,
    pub key: String,
    pub problem: Option<String>,
}

/// Reads a complete snapshot's manifest from the store.
pub async fn manifest(
    bevara: &Bevara,
    id: &str,
) -> Result<(CaptureRecord, Manifest), ArchiveError> {
    let rec = bevara.db().capture(id).await?;
    if rec.state != CaptureState::Complete {
        return Err(ArchiveError::NotComplete {
            id: id.to_string(),
            state: rec.state.as_str(),
            reason: rec
                .failure
                .clone()
                .unwrap_or_else(|| "still running".into()),
        });
    }
    let key = rec
        .manifest_key
        .clone()
        .ok_or_else(|| ArchiveError::BadManifest {
            id: id.to_string(),
            reason: "no manifest recorded".into(),
        })?;
    let bytes = bevara.store().get_bytes(&key).await?;
    let manifest = serde_json::from_slice(&bytes).map_err(|e| ArchiveError::BadManifest {
        id: id.to_string(),
        reason: e.to_string(),
    })?;
    Ok((rec, manifest))
}

/// Copies every artifact and `manifest.json` of a snapshot into `out`.
/// Returns the files written.
pub async fn get(bevara: &Bevara, id: &str, out: &Path) -> Result<Vec<PathBuf>, ArchiveError> {
    let (rec, manifest) = manifest(bevara, id).await?;
    std::fs::create_dir_all(out).map_err(|source| ArchiveError::Write {
        path: out.to_path_buf(),
        source,
    })?;
    let mut written = Vec::new();
    for a in &manifest.artifacts {
        let dst = out.join(&a.name);
        bevara.store().get_to_file(&a.key, &dst).await?;
        written.push(dst);
    }
    if let Some(key) = rec.manifest_key {
        let dst = out.join("manifest.json");
        bevara.store().get_to_file(&key, &dst).await?;
        written.push(dst);
    }
    // The manifest's trusted timestamp, for `openssl ts -verify -data manifest.json -in manifest.tsr`.
    if let Some(t) = crate::timestamp::token(bevara, id).await? {
        let dst = out.join(crate::timestamp::TOKEN_NAME);
        bevara.store().get_to_file(&t.key, &dst).await?;
        written.push(dst);
    }
    Ok(written)
}

/// How `verify` checks an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VerifyMode {
    /// Streams every object back and recomputes its SHA-256.
    #[default]
    Full,
    /// Compares the size and SHA-256 the store recorded with the object,
    /// without reading it (a local store reads it anyway).
    Quick,
}

/// Recomputes the checksum of every artifact of a snapshot (and of its
/// manifest, against the database) and reports each object.
pub async fn verify(bevara: &Bevara, id: &str) -> Result<Vec<Check>, ArchiveError> {
    verify_with(bevara, id, VerifyMode::Full).await
}

/// [`verify`], full or quick. Each object is read at the version the
/// manifest (or the database, for the manifest itself) recorded.
pub async fn verify_with(
    bevara: &Bevara,
    id: &str,
    mode: VerifyMode,
) -> Result<Vec<Check>, ArchiveError> {
    let rec = bevara.db().capture(id).await?;
    if rec.state != CaptureState::Complete {
        return Err(ArchiveError::NotComplete {
            id: id.to_string(),
            state: rec.state.as_str(),
            reason: rec
                .failure
                .clone()
                .unwrap_or_else(|| "still running".into()),
        });
    }
    let mut checks = Vec::new();
    let recorded = bevara.db().artifacts(id).await?;
    let check = |key: &str, problem: Option<String>| Check {
        snapshot_id: id.to_string(),
        key: key.to_string(),
        problem,
    };
    // The manifest is checked against the database, the artifacts against the manifest.
    let manifest_rec = recorded.iter().find(|a| a.name == "manifest.json");
    let mut manifest: Option<Manifest> = None;
    if let Some(m) = manifest_rec {
        let problem = compare(
            bevara,
            mode,
            &m.key,
            m.version_id.as_deref(),
            &m.sha256,
            m.bytes as u64,
        )
        .await;
        if problem.is_none() {
            let bytes = bevara.store().get_bytes(&m.key).await?;
            match serde_json::from_slice(&bytes) {
                Ok(parsed) => manifest = Some(parsed),
                Err(e) => {
                    checks.push(check(
                        &m.key,
                        Some(format!("manifest is not valid JSON: {e}")),
                    ));
                    return Ok(checks);
                }
            }
        }
        checks.push(check(&m.key, problem));
    }
    // The manifest's timestamp token: the object, then the token against the
    // manifest's digest and the configured TSA chain.
    if let (Some(m), Some(t)) = (
        manifest_rec,
        recorded
            .iter()
            .find(|a| a.name == crate::timestamp::TOKEN_NAME),
    ) {
        let mut problem = compare(
            bevara,
            mode,
            &t.key,
            t.version_id.as_deref(),
            &t.sha256,
            t.bytes as u64,
        )
        .await;
        if problem.is_none() && manifest.is_some() {
            problem = check_token(bevara, t, &m.sha256).await;
        }
        checks.push(check(&t.key, problem));
    }
    match manifest {
        Some(m) => {
            for a in &m.artifacts {
                let problem = compare(
                    bevara,
                    mode,
                    &a.key,
                    a.version_id.as_deref(),
                    &a.sha256,
                    a.bytes,
                )
                .await;
                checks.push(check(&a.key, problem));
            }
        }
        None => {
            // Without a trustworthy manifest, fall back to the database's record.
            for a in recorded
                .iter()
                .filter(|a| a.name != "manifest.json" && a.name != crate::timestamp::TOKEN_NAME)
            {
                let problem = compare(
                    bevara,
                    mode,
                    &a.key,
                    a.version_id.as_deref(),
                    &a.sha256,
                    a.bytes as u64,
                )
                .await;
                checks.push(check(&a.key, problem));
            }
        }
    }
    Ok(checks)
}

/// Why the timestamp token `token` does not hold for the manifest digest `sha256`.
async fn check_token(
    bevara: &Bevara,
    token: &crate::db::ArtifactRecord,
    sha256: &str,
) -> Option<String> {
    crate::timestamp::check_stored(bevara, token, sha256)
        .await
        .err()
        .map(|e| e.to_string())
}

async fn compare(
    bevara: &Bevara,
    mode: VerifyMode,
    key: &str,
    version: Option<&str>,
    sha256: &str,
    bytes: u64,
) -> Option<String> {
    let found = match mode {
        VerifyMode::Full => bevara.store().digest(key, version).await,
        VerifyMode::Quick => match bevara.store().stat(key, version).await {
            Ok(st) => match st.sha256 {
                Some(sha256) => Ok(crate::store::Digest {
                    bytes: st.bytes,
                    sha256,
                }),
                None => return Some("the store recorded no checksum for it".into()),
            },
            Err(e) => Err(e),
        },
    };
    match found {
        Err(StoreError::NotFound(_)) => Some("missing from the store".into()),
        Err(e) => Some(format!("cannot read: {e}")),
        Ok(d) if d.sha256 != sha256 => Some(format!(
            "checksum mismatch: manifest says sha256 {sha256}, stored object has {} ({} bytes)",
            d.sha256, d.bytes
        )),
        Ok(d) if d.bytes != bytes => Some(format!(
            "size mismatch: {bytes} bytes recorded, {} stored",
            d.bytes
        )),
        Ok(_) => None,
    }
}

/// What changed between two snapshots of a channel, item by item.
#[derive(Debug, Clone, Serialize)]
pub struct Diff {
    pub from: String,
    pub to: String,
    /// In `to`, not in `from`.
    pub new: Vec<Item>,
    /// In `from`, gone from `to`: deleted or hidden comments.
    pub removed: Vec<Item>,
    /// In both, with another text: (before, after).
    pub edited: Vec<(Item, Item)>,
}

/// The diff as the manifest keeps it: counts, and the removed items whole.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DiffSummary {
    pub previous_snapshot: String,
    pub new: usize,
    pub removed: usize,
    pub edited: usize,
    pub new_ids: Vec<String>,
    pub edited_ids: Vec<String>,
    pub removed_items: Vec<Item>,
}

impl DiffSummary {
    pub fn of(d: &Diff) -> Self {
        Self {
            previous_snapshot: d.from.clone(),
            new: d.new.len(),
            removed: d.removed.len(),
            edited: d.edited.len(),
            new_ids: d.new.iter().map(|i| i.id.clone()).collect(),
            edited_ids: d.edited.iter().map(|(_, a)| a.id.clone()).collect(),
            removed_items: d.removed.clone(),
        }
    }
}

/// Compares the items of snapshot `from` with those of `to` by item id.
pub fn diff_items(from: &str, to: &str, before: &[Item], after: &[Item]) -> Diff {
    use std::collections::HashMap;
    let old: HashMap<&str, &Item> = before.iter().map(|i| (i.id.as_str(), i)).collect();
    let new_ids: std::collections::HashSet<&str> = after.iter().map(|i| i.id.as_str()).collect();
    let mut d = Diff {
        from: from.to_string(),
        to: to.to_string(),
        new: Vec::new(),
        removed: Vec::new(),
        edited: Vec::new(),
    };
    for it in after {
        match old.get(it.id.as_str()) {
            None => d.new.push(it.clone()),
            Some(prev) if normalize(&prev.text) != normalize(&it.text) => {
                d.edited.push(((*prev).clone(), it.clone()))
            }
            Some(_) => {}
        }
    }
    d.removed = before
        .iter()
        .filter(|i| !new_ids.contains(i.id.as_str()))
        .cloned()
        .collect();
    d
}

fn normalize(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The diff between two complete snapshots of the same channel, from the database.
pub async fn diff(bevara: &Bevara, a: &str, b: &str) -> Result<Diff, ArchiveError> {
    let (ra, rb) = (bevara.db().capture(a).await?, bevara.db().capture(b).await?);
    for r in [&ra, &rb] {
        if r.state != CaptureState::Complete {
            return Err(ArchiveError::NotComplete {
                id: r.id.clone(),
                state: r.state.as_str(),
                reason: r.failure.clone().unwrap_or_else(|| "still running".into()),
            });
        }
    }
    if ra.channel_id != rb.channel_id {
        return Err(ArchiveError::OtherChannels {
            a: format!("{} ({})", a, ra.channel_id),
            b: format!("{} ({})", b, rb.channel_id),
        });
    }
    // Older first, whichever order they were given in.
    let (ra, rb) = if ra.requested_at <= rb.requested_at {
        (ra, rb)
    } else {
        (rb, ra)
    };
    let before = bevara.db().items(&ra.id).await?;
    let after = bevara.db().items(&rb.id).await?;
    Ok(diff_items(&ra.id, &rb.id, &before, &after))
}
