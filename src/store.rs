//! Object storage for snapshots. Keys look like
//! `<channel>/<YYYY>/<MM>/<DD>/<snapshot-id>/<artifact>`.
//!
//! [`ObjectStore`] is the seam; [`LocalStore`] (a directory) is the embedded
//! default. Every write goes to a temporary name and is renamed into place, so
//! a killed process never leaves a half object under a real key.

mod local;

pub use local::LocalStore;

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
}

/// Where snapshots' artifacts are kept.
#[async_trait]
pub trait ObjectStore: Send + Sync {
    /// A short description for messages, e.g. `local directory ./bevara-data/objects`.
    fn describe(&self) -> String;
    /// Stores the file at `src` under `key`, replacing any object there.
    async fn put_file(&self, key: &str, src: &Path, media_type: &str) -> Result<(), StoreError>;
    /// Copies the object at `key` into the file `dst`; returns its size.
    async fn get_to_file(&self, key: &str, dst: &Path) -> Result<u64, StoreError>;
    /// Reads the object back and computes its size and SHA-256.
    async fn digest(&self, key: &str) -> Result<Digest, StoreError>;
    /// Reads a whole (small) object into memory.
    async fn get_bytes(&self, key: &str) -> Result<Vec<u8>, StoreError>;
    /// Removes the object; a missing object is not an error.
    async fn delete(&self, key: &str) -> Result<(), StoreError>;
    /// Where the object can be opened directly, for stores that have such a place.
    fn local_path(&self, _key: &str) -> Option<PathBuf> {
        None
    }
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
