//! A directory on local disk as object store: the embedded default.

use super::{sha256_file, validate_key, Digest, ObjectStore, PutMeta, StoreError, Stored};
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

/// Creates `dir` and its missing parents, syncing each parent after a new
/// entry appears in it, so a crash cannot lose a directory an object was
/// renamed into.
fn create_dirs_synced(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        create_dirs_synced(parent)?;
    }
    match std::fs::create_dir(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(()),
        Err(e) => return Err(e),
    }
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::File::open(parent)?.sync_all()?;
    }
    Ok(())
}

#[async_trait]
impl ObjectStore for LocalStore {
    fn describe(&self) -> String {
        format!("local directory {}", self.root.display())
    }

    async fn check(&self, retention_asked: bool) -> Result<(), StoreError> {
        if retention_asked {
            return Err(StoreError::Config(format!(
                "Object Lock retention (store.object_lock_days or a channel's --retain-days) needs an S3 bucket with Object Lock; {} cannot lock objects",
                self.describe()
            )));
        }
        Ok(())
    }

    async fn put_file(
        &self,
        key: &str,
        src: &Path,
        _meta: &PutMeta<'_>,
    ) -> Result<Stored, StoreError> {
        let dst = self.path(key)?;
        let src = src.to_path_buf();
        let key_owned = key.to_string();
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            let dir = dst.parent().unwrap_or(Path::new("."));
            create_dirs_synced(dir)?;
            let tmp = dir.join(format!(
                ".{}.partial-{}",
                dst.file_name().and_then(|n| n.to_str()).unwrap_or("object"),
                std::process::id()
            ));
            let written = (|| {
                std::fs::copy(&src, &tmp)?;
                std::fs::File::open(&tmp)?.sync_all()?;
                std::fs::rename(&tmp, &dst)?;
                std::fs::File::open(dir)?.sync_all()
            })();
            if written.is_err() {
                // A full disk or a failed rename leaves no partial file behind.
                let _ = std::fs::remove_file(&tmp);
            }
            written
        })
        .await
        .map_err(|e| StoreError::Io {
            key: key_owned.clone(),
            source: std::io::Error::other(e),
        })?
        .map_err(io(key))?;
        Ok(Stored::default())
    }

    async fn get_to_file(&self, key: &str, dst: &Path) -> Result<u64, StoreError> {
        let src = self.path(key)?;
        tokio::fs::copy(&src, dst).await.map_err(io(key))
    }

    async fn digest(&self, key: &str, _version: Option<&str>) -> Result<Digest, StoreError> {
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

    fn meta() -> PutMeta<'static> {
        PutMeta {
            media_type: "text/plain",
            sha256: "",
            snapshot_id: "id",
            channel: "c",
            retention: None,
        }
    }

    #[tokio::test]
    async fn put_digest_get_delete() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path().join("objects")).unwrap();
        let src = dir.path().join("src.txt");
        std::fs::write(&src, b"hej").unwrap();
        store
            .put_file("c/2026/01/02/id/text.txt", &src, &meta())
            .await
            .unwrap();
        let d = store
            .digest("c/2026/01/02/id/text.txt", None)
            .await
            .unwrap();
        assert_eq!(d.bytes, 3);
        assert_eq!(
            store.get_bytes("c/2026/01/02/id/text.txt").await.unwrap(),
            b"hej"
        );
        store.delete("c/2026/01/02/id/text.txt").await.unwrap();
        assert!(matches!(
            store.digest("c/2026/01/02/id/text.txt", None).await,
            Err(StoreError::NotFound(_))
        ));
        assert!(matches!(
            store.put_file("../escape", &src, &meta()).await,
            Err(StoreError::InvalidKey(_))
        ));
    }

    #[tokio::test]
    async fn a_failed_write_leaves_no_partial_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path().join("objects")).unwrap();
        let src = dir.path().join("src.txt");
        std::fs::write(&src, b"hej").unwrap();
        // The object's name is taken by a directory: the rename fails after
        // the partial file was written.
        let blocked = dir.path().join("objects/c/2026/01/02/id/page.pdf");
        std::fs::create_dir_all(blocked.join("inside")).unwrap();
        assert!(store
            .put_file("c/2026/01/02/id/page.pdf", &src, &meta())
            .await
            .is_err());
        let left: Vec<_> = std::fs::read_dir(blocked.parent().unwrap())
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            left,
            vec!["page.pdf".to_string()],
            "only the blocking directory"
        );
    }
}
