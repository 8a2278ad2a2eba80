//! A directory on local disk as object store: the embedded default.

use super::{sha256_file, validate_key, Digest, ObjectStore, StoreError};
use async_trait::async_trait;
use std::path::{Path, PathBuf};

/// Objects as files under a root directory, one file per key.
#[derive(Debug, Clone)]
pub struct LocalStore {
    root: PathBuf,
}

impl LocalStore {
    pub fn new(root: impl Into<PathBuf>) -> Result<Self, StoreError> {
        let root = root.into();
        std::fs::create_dir_all(&root).map_err(|source| StoreError::Root {
            path: root.clone(),
            source,
        })?;
        Ok(Self { root })
    }

    fn path(&self, key: &str) -> Result<PathBuf, StoreError> {
        validate_key(key)?;
        Ok(self.root.join(key))
    }
}

fn io(key: &str) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            StoreError::NotFound(key.to_string())
        } else {
            StoreError::Io {
                key: key.to_string(),
                source,
            }
        }
    }
}

#[async_trait]
impl ObjectStore for LocalStore {
    fn describe(&self) -> String {
        format!("local directory {}", self.root.display())
    }

    async fn put_file(&self, key: &str, src: &Path, _media_type: &str) -> Result<(), StoreError> {
        let dst = self.path(key)?;
        let src = src.to_path_buf();
        let key_owned = key.to_string();
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            let dir = dst.parent().unwrap_or(Path::new("."));
            std::fs::create_dir_all(dir)?;
            let tmp = dir.join(format!(
                ".{}.partial-{}",
                dst.file_name().and_then(|n| n.to_str()).unwrap_or("object"),
                std::process::id()
            ));
            std::fs::copy(&src, &tmp)?;
            std::fs::File::open(&tmp)?.sync_all()?;
            std::fs::rename(&tmp, &dst)?;
            std::fs::File::open(dir)?.sync_all()?;
            Ok(())
        })
        .await
        .map_err(|e| StoreError::Io {
            key: key_owned.clone(),
            source: std::io::Error::other(e),
        })?
        .map_err(io(key))
    }

    async fn get_to_file(&self, key: &str, dst: &Path) -> Result<u64, StoreError> {
        let src = self.path(key)?;
        tokio::fs::copy(&src, dst).await.map_err(io(key))
    }

    async fn digest(&self, key: &str) -> Result<Digest, StoreError> {
        let path = self.path(key)?;
        tokio::task::spawn_blocking(move || sha256_file(&path))
            .await
            .map_err(|e| StoreError::Io {
                key: key.to_string(),
                source: std::io::Error::other(e),
            })?
            .map_err(io(key))
    }

    async fn get_bytes(&self, key: &str) -> Result<Vec<u8>, StoreError> {
        tokio::fs::read(self.path(key)?).await.map_err(io(key))
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        match tokio::fs::remove_file(self.path(key)?).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io(key)(e)),
        }
    }

    fn local_path(&self, key: &str) -> Option<PathBuf> {
        self.path(key).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn put_digest_get_delete() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path().join("objects")).unwrap();
        let src = dir.path().join("src.txt");
        std::fs::write(&src, b"hej").unwrap();
        store
            .put_file("c/2026/01/02/id/text.txt", &src, "text/plain")
            .await
            .unwrap();
        let d = store.digest("c/2026/01/02/id/text.txt").await.unwrap();
        assert_eq!(d.bytes, 3);
        assert_eq!(
            store.get_bytes("c/2026/01/02/id/text.txt").await.unwrap(),
            b"hej"
        );
        store.delete("c/2026/01/02/id/text.txt").await.unwrap();
        assert!(matches!(
            store.digest("c/2026/01/02/id/text.txt").await,
            Err(StoreError::NotFound(_))
        ));
        assert!(matches!(
            store.put_file("../escape", &src, "x").await,
            Err(StoreError::InvalidKey(_))
        ));
    }
}
