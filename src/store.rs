//! Object storage for snapshots. Keys look like
//! `<channel>/<YYYY>/<MM>/<DD>/<snapshot-id>/<artifact>` (an S3 store puts
//! its prefix before them).
//!
//! [`ObjectStore`] is the seam; [`LocalStore`] (a directory) is the embedded
//! default and [`S3Store`] any S3-compatible service. A local write goes to a
//! temporary name and is renamed into place, an S3 write is one PUT or a
//! multipart upload completed last, so a killed process never leaves a half
//! object under a real key.
//!
//! Artifacts reach a store through the spool ([`spool`]): a capture's files
//! stay on local disk until every object is stored and read back.

mod local;
mod s3;
pub mod spool;

pub use local::LocalStore;
pub use s3::{S3Location, S3Store};

use async_trait::async_trait;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Size and SHA-256 of a stored object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Digest {
    pub bytes: u64,
    pub sha256: String,
}

/// An object store failure, naming the key.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("object {0} is missing from the store")]
    NotFound(String),
    #[error("invalid object key {0:?}")]
    InvalidKey(String),
    #[error("object store I/O failed on {key}: {source}")]
    Io { key: String, source: std::io::Error },
    #[error("cannot use {path} as object directory: {source}")]
    Root {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The store could not be reached or did not answer in time: a later
    /// attempt may succeed.
    #[error("the object store is unreachable ({op} {key}): {reason}")]
    Unreachable {
        op: &'static str,
        key: String,
        reason: String,
    },
    /// The store answered and refused.
    #[error("the object store refused {op} {key}: {reason}")]
    Refused {
        op: &'static str,
        key: String,
        reason: String,
    },
    #[error("invalid store settings: {0}")]
    Config(String),
    #[error("the spool {dir} holds {used_mb} MiB, at its cap of {cap_mb} MiB (store.spool_max_mb): no new captures until `bevara store sync` empties it")]
    SpoolFull {
        dir: PathBuf,
        used_mb: u64,
        cap_mb: u64,
    },
}

impl StoreError {
    /// Whether trying again later may help (the store was down, not wrong).
    pub fn transient(&self) -> bool {
        matches!(self, StoreError::Unreachable { .. } | StoreError::Io { .. })
    }
}

/// Object Lock retention of a snapshot's objects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Retention {
    /// `compliance` (no one can shorten it) or `governance`.
    pub mode: String,
    pub until: chrono::DateTime<chrono::Utc>,
    /// The days it was computed from (capture time plus these).
    pub days: u32,
}

/// What is stored with an object besides its bytes.
#[derive(Debug, Clone)]
pub struct PutMeta<'a> {
    pub media_type: &'a str,
    /// Hex SHA-256 of the whole file, also kept as object metadata.
    pub sha256: &'a str,
    pub snapshot_id: &'a str,
    pub channel: &'a str,
    pub retention: Option<&'a Retention>,
}

/// What the store says about a stored object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stored {
    /// The object version written, on a versioned bucket.
    pub version_id: Option<String>,
}

/// An object's size and the full-file SHA-256 recorded with it, without
/// reading it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stat {
    pub bytes: u64,
    /// The recorded hex SHA-256, if the store kept one.
    pub sha256: Option<String>,
}

/// Where snapshots' artifacts are kept.
#[async_trait]
pub trait ObjectStore: Send + Sync {
    /// A short description for messages, e.g. `local directory ./bevara-data/objects`.
    fn describe(&self) -> String;
    /// Checks at start-up that the store can do what the settings ask
    /// (an S3 bucket with Object Lock when retention is asked for). A store
    /// that cannot be reached is not an error here: captures spool.
    async fn check(&self, _retention_asked: bool) -> Result<(), StoreError> {
        Ok(())
    }
    /// Stores the file at `src` under `key`, replacing any object there
    /// (a new version, on a versioned bucket).
    async fn put_file(
        &self,
        key: &str,
        src: &Path,
        meta: &PutMeta<'_>,
    ) -> Result<Stored, StoreError>;
    /// Copies the object at `key` into the file `dst`; returns its size.
    async fn get_to_file(&self, key: &str, dst: &Path) -> Result<u64, StoreError>;
    /// Reads the object (the given version, where versions are kept) back,
    /// streaming, and computes its size and SHA-256.
    async fn digest(&self, key: &str, version: Option<&str>) -> Result<Digest, StoreError>;
    /// The object's size and recorded checksum, without reading it (a
    /// store that records none reads it).
    async fn stat(&self, key: &str, version: Option<&str>) -> Result<Stat, StoreError> {
        let d = self.digest(key, version).await?;
        Ok(Stat {
            bytes: d.bytes,
            sha256: Some(d.sha256),
        })
    }
    /// Reads a whole (small) object into memory.
    async fn get_bytes(&self, key: &str) -> Result<Vec<u8>, StoreError>;
    /// Removes the object; a missing object is not an error.
    async fn delete(&self, key: &str) -> Result<(), StoreError>;
    /// Deletes one version of an object (on a versioned bucket the version
    /// itself, not a delete marker over it); stores without versions delete
    /// the object.
    async fn delete_version(&self, key: &str, _version: Option<&str>) -> Result<(), StoreError> {
        self.delete(key).await
    }
    /// Sets or lifts an Object Lock legal hold on one version of an object;
    /// false when the store has no legal holds.
    async fn legal_hold(
        &self,
        _key: &str,
        _version: Option<&str>,
        _on: bool,
    ) -> Result<bool, StoreError> {
        Ok(false)
    }
    /// Where the object can be opened directly, for stores that have such a place.
    fn local_path(&self, _key: &str) -> Option<PathBuf> {
        None
    }
    /// Whether objects can be put under Object Lock retention.
    fn can_lock(&self) -> bool {
        false
    }
}

/// Opens the store `store.url` names: empty for `objects/` in the data
/// directory, a path or `file://…` for a local directory, `s3://BUCKET/PREFIX`
/// for S3.
pub async fn open(settings: &crate::config::Settings) -> Result<Box<dyn ObjectStore>, StoreError> {
    let url = settings.store.url.trim();
    if url.is_empty() {
        return Ok(Box::new(LocalStore::new(settings.objects_dir())?));
    }
    if let Some(rest) = url.strip_prefix("s3://") {
        let location = S3Location::parse(rest)?;
        return Ok(Box::new(S3Store::connect(location, &settings.store).await?));
    }
    if let Some(path) = url.strip_prefix("file://") {
        return Ok(Box::new(LocalStore::new(path)?));
    }
    if url.contains("://") {
        return Err(StoreError::Config(format!(
            "store.url {url:?}: use a directory, file://PATH or s3://BUCKET/PREFIX"
        )));
    }
    Ok(Box::new(LocalStore::new(url)?))
}

/// Checks that a key is relative, has no empty, `.` or `..` segments and only
/// portable characters, so no store can be tricked into writing outside its root.
pub fn validate_key(key: &str) -> Result<(), StoreError> {
    let ok = !key.is_empty()
        && key.len() <= 1024
        && key.split('/').all(|seg| {
            !seg.is_empty()
                && seg != "."
                && seg != ".."
                && seg
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        });
    if ok {
        Ok(())
    } else {
        Err(StoreError::InvalidKey(key.to_string()))
    }
}

/// Hex SHA-256 as S3's checksum headers want it: base64 of the digest's bytes.
pub fn sha256_base64(hex_digest: &str) -> Option<String> {
    use base64::Engine as _;
    let bytes = hex::decode(hex_digest).ok()?;
    Some(base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// Streams a local file through SHA-256.
pub fn sha256_file(path: &Path) -> std::io::Result<Digest> {
    use sha2::{Digest as _, Sha256};
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut bytes = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        bytes += n as u64;
    }
    Ok(Digest {
        bytes,
        sha256: hex::encode(hasher.finalize()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_cannot_escape() {
        assert!(validate_key("sala/2026/11/22/01JX/screenshot.png").is_ok());
        for bad in ["", "/abs", "a//b", "a/../b", "a/./b", "a/b c", "a\\b", "ä"] {
            assert!(validate_key(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn sha256_of_known_content() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"abc").unwrap();
        let d = sha256_file(&p).unwrap();
        assert_eq!(d.bytes, 3);
        assert_eq!(
            d.sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
