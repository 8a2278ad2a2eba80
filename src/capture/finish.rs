//! The end of a capture: `items.json`, the diff with the channel's previous
//! snapshot, the artifacts' checksums, and storing everything with the
//! manifest, each object read back and checked, before the capture is
//! recorded complete.

use super::manifest::{Manifest, ManifestArtifact};
use super::{write, CaptureError, Produced};
use crate::archive::{diff_items, Diff};
use crate::behaviour::items::{Item, ItemCounts, ItemsDocument, ITEMS_SCHEMA_VERSION};
use crate::registry::Channel;
use crate::store::sha256_file;
use crate::Bevara;
use chrono::{DateTime, Utc};
use std::path::{Path, PathBuf};

/// `items.json` for the snapshot.
pub(super) fn items_document(
    items: Vec<Item>,
    snapshot_id: &str,
    channel: &Channel,
    captured_at: DateTime<Utc>,
    profile: &str,
) -> ItemsDocument {
    ItemsDocument {
        schema: "bevara.items".into(),
        schema_version: ITEMS_SCHEMA_VERSION,
        snapshot_id: snapshot_id.to_string(),
        channel: channel.id.to_string(),
        captured_at,
        profile: profile.to_string(),
        counts: ItemCounts::of(&items),
        items,
    }
}

/// Writes `value` as pretty JSON to `work/name`.
pub(super) fn write_json<T: serde::Serialize>(
    work: &Path,
    name: &str,
    value: &T,
) -> Result<Produced, String> {
    let path = work.join(name);
    let json = serde_json::to_vec_pretty(value).map_err(|e| e.to_string())?;
    write(&path, &json)?;
    Ok(Produced {
        name: name.to_string(),
        media_type: "application/json",
        path,
        size: None,
    })
}

/// What changed since the channel's previous complete snapshot; `None` for
/// its first, or with a warning when the previous items cannot be read.
pub(super) async fn diff_with_previous(
    bevara: &Bevara,
    channel: &str,
    snapshot_id: &str,
    requested_at: DateTime<Utc>,
    items: &[Item],
    warnings: &mut Vec<String>,
) -> Option<Diff> {
    match bevara.db().previous_complete(channel, requested_at).await {
        Ok(Some(prev)) => match bevara.db().items(&prev).await {
            Ok(before) => Some(diff_items(&prev, snapshot_id, &before, items)),
            Err(e) => {
                warnings.push(format!("no diff with the previous snapshot {prev}: {e}"));
                None
            }
        },
        Ok(None) => None,
        Err(e) => {
            warnings.push(format!("no diff with the previous snapshot: {e}"));
            None
        }
    }
}

/// Each produced file as a manifest entry: its key, size and SHA-256.
pub(super) fn describe(
    produced: &[Produced],
    prefix: &str,
) -> Result<Vec<ManifestArtifact>, String> {
    produced
        .iter()
        .map(|p| {
            let digest = sha256_file(&p.path).map_err(|e| format!("{}: {e}", p.name))?;
            Ok(ManifestArtifact {
                name: p.name.clone(),
                key: format!("{prefix}/{}", p.name),
                media_type: p.media_type.to_string(),
                bytes: digest.bytes,
                sha256: digest.sha256,
                width: p.size.map(|s| s.0),
                height: p.size.map(|s| s.1),
                version_id: None,
            })
        })
        .collect()
}

/// Spools the artifacts with the manifest as captured, marks the capture
/// upload-pending, then stores every object, reads each back and records the
/// capture complete (see [`crate::store::spool`]). When the store cannot take
/// them the files stay in the spool and the capture stays upload-pending.
/// Returns the manifest as stored (with the versions written) and its own
/// entry.
pub(super) async fn store_and_record(
    bevara: &Bevara,
    manifest: &Manifest,
    produced: &[Produced],
    title: Option<String>,
) -> Result<(Manifest, ManifestArtifact), CaptureError> {
    use crate::store::spool::{self, UploadError};
    let id = manifest.snapshot_id.clone();
    let files: Vec<(String, PathBuf)> = produced
        .iter()
        .map(|p| (p.name.clone(), p.path.clone()))
        .collect();
    let dir = spool::enter(bevara.settings(), manifest, &files, title).map_err(|source| {
        CaptureError::Work {
            path: bevara.settings().spool_dir().join(&id),
            source,
        }
    })?;
    if let Err(e) = bevara
        .db()
        .pend_capture(&id, &format!("uploading to {}", bevara.store().describe()))
        .await
    {
        // Reaped meanwhile, or the database is gone: the capture cannot stand.
        let _ = std::fs::remove_dir_all(&dir);
        return Err(e.into());
    }
    match spool::upload(bevara, &id).await {
        Ok(stored) => Ok(stored),
        Err(UploadError::Db(e)) => Err(e.into()),
        Err(e) => {
            let reason = e.to_string();
            tracing::warn!(snapshot = %id, error = %reason, spool = %dir.display(),
                "the snapshot is captured but not stored; its files wait in the spool");
            if let Err(db) = bevara.db().pend_capture(&id, &reason).await {
                tracing::warn!(snapshot = %id, error = %db, "cannot record why the upload is pending");
            }
            Err(CaptureError::UploadPending {
                snapshot_id: id,
                reason,
            })
        }
    }
}

/// Makes `text.txt` the text of everything the capture passed, in page
/// order: the page's text at the end, then the items seen during the pass
/// that the page no longer held (a virtualized feed drops what scrolled
/// away), then each opened post and each further page, under its URL.
///
/// Returns whether the page's final DOM lacked some of it: then a print of
/// the DOM would too.
pub(super) fn whole_text(produced: &[Produced], items: &[Item]) -> Result<bool, String> {
    let Some(main) = produced.iter().find(|p| p.name == "text.txt") else {
        return Ok(false);
    };
    let read = |p: &Path| std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()));
    let mut text = read(&main.path)?;
    let squash = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let further: Vec<&Produced> = produced
        .iter()
        .filter(|p| p.name.ends_with(".txt") && p.name != "text.txt")
        .collect();
    let mut further: Vec<(&Produced, String)> = further
        .into_iter()
        .map(|p| Ok((p, read(&p.path)?)))
        .collect::<Result<_, String>>()?;
    let mut shown = squash(&text);
    for (_, t) in &further {
        shown.push(' ');
        shown.push_str(&squash(t));
    }
    let gone: Vec<&Item> = items
        .iter()
        .filter(|i| !i.text.trim().is_empty() && !shown.contains(&squash(&i.text)))
        .collect();
    if gone.is_empty() && further.is_empty() {
        return Ok(false);
    }
    if !gone.is_empty() {
        text.push_str(&format!(
            "\n\n--- {} item(s) seen during the pass that the page no longer held at the end ---\n",
            gone.len()
        ));
        for i in gone {
            let who = i.author.as_deref().unwrap_or("");
            text.push_str(&format!("\n[{}] {who}\n{}\n", i.kind, i.text.trim()));
        }
    }
    // Posts (post-NNN.txt) come before further pages (text-pN.txt): both
    // were written in page order, and each starts with its URL.
    further.sort_by_key(|(p, _)| {
        (
            !p.name.starts_with("post-"),
            page_number(&p.name),
            p.name.clone(),
        )
    });
    for (p, t) in further {
        text.push_str(&format!("\n\n--- {} ---\n", p.name));
        text.push_str(&t);
    }
    std::fs::write(&main.path, text).map_err(|e| format!("{}: {e}", main.path.display()))?;
    Ok(true)
}

/// N of `text-pN.txt` or `screenshot-pN.png`, for ordering pages 2, 3,
/// … 10 by number (0 for other names).
pub(super) fn page_number(name: &str) -> u32 {
    let stem = name.rsplit_once('.').map_or(name, |(s, _)| s);
    stem.rsplit_once("-p")
        .and_then(|(_, n)| n.parse().ok())
        .unwrap_or(0)
}
