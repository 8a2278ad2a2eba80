//! Encrypted session files, one per channel.
//!
//! `<dir>/<channel>.session` is `MAGIC` (8 bytes, the format version in its
//! last character), a random 24-byte nonce and the XChaCha20-Poly1305
//! ciphertext of a small JSON document (the state and when it was imported).
//! The magic and the channel id are the associated data, so a file copied or
//! renamed to another channel, or with any byte changed, does not decrypt.

use super::state::{LoginState, OriginStorage, SessionCookie, SessionSummary};
use super::{validate_channel, SessionError, SessionKey};
use chacha20poly1305::aead::{Aead, AeadCore, OsRng};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// The first bytes of every session file; the digit is the format version.
pub const MAGIC: &[u8; 8] = b"BEVSESS1";
/// Session files are `<channel>.session`.
pub const FILE_EXTENSION: &str = "session";

const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
/// The version of the JSON inside, independent of the file format.
const CONTENTS_FORMAT: u32 = 1;

/// A decrypted session: the state and when it was imported.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredSession {
    pub state: LoginState,
    pub imported_at: DateTime<Utc>,
}

/// The directory of encrypted session files and the key to them.
#[derive(Debug, Clone)]
pub struct SessionStore {
    dir: PathBuf,
    key: Option<SessionKey>,
}

impl SessionStore {
    /// A store in `dir` (created on the first import, mode 0700).
    pub fn new(dir: impl Into<PathBuf>, key: SessionKey) -> Self {
        Self {
            dir: dir.into(),
            key: Some(key),
        }
    }

    /// A store without a key: [`exists`](Self::exists) and
    /// [`remove`](Self::remove) work, everything else fails with
    /// [`SessionError::NoKey`]. For removing a session whose key is lost.
    pub fn without_key(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            key: None,
        }
    }

    fn key(&self) -> Result<&SessionKey, SessionError> {
        self.key.as_ref().ok_or(SessionError::NoKey)
    }

    /// The directory the session files are in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file that holds `channel`'s session, whether or not it exists.
    pub fn path(&self, channel: &str) -> Result<PathBuf, SessionError> {
        validate_channel(channel)?;
        Ok(self.dir.join(format!("{channel}.{FILE_EXTENSION}")))
    }

    /// Encrypts `state` as `channel`'s session, replacing any earlier one,
    /// and records the time of import.
    pub fn import(
        &self,
        channel: &str,
        state: &LoginState,
    ) -> Result<SessionSummary, SessionError> {
        let path = self.path(channel)?;
        let payload = Contents::from_state(state, Utc::now());
        let plain = serde_json::to_vec(&payload).map_err(|_| SessionError::Encrypt {
            channel: channel.to_string(),
        })?;
        let sealed = self.seal(channel, &plain)?;
        drop(plain);
        create_private_dir(&self.dir)?;
        write_atomically(&self.dir, &path, &sealed)?;
        Ok(state.summary())
    }

    /// The session of `channel` with its import time; `None` if it has none.
    pub fn get(&self, channel: &str) -> Result<Option<StoredSession>, SessionError> {
        let path = self.path(channel)?;
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(SessionError::Io { path, source }),
        };
        let plain = self.open(channel, &path, &bytes)?;
        let payload: Contents =
            serde_json::from_slice(&plain).map_err(|_| SessionError::Format {
                path: path.clone(),
                reason: "it decrypts, but its contents are not a session this version reads".into(),
            })?;
        if payload.format != CONTENTS_FORMAT {
            return Err(SessionError::Format {
                path,
                reason: format!(
                    "its contents have format {}, this version reads {CONTENTS_FORMAT}",
                    payload.format
                ),
            });
        }
        Ok(Some(payload.into_stored()))
    }

    /// The login state of `channel`; `None` if it has no session.
    pub fn load(&self, channel: &str) -> Result<Option<LoginState>, SessionError> {
        Ok(self.get(channel)?.map(|s| s.state))
    }

    /// What `channel`'s session covers and when it was imported; `None` if it has none.
    pub fn show(
        &self,
        channel: &str,
    ) -> Result<Option<(SessionSummary, DateTime<Utc>)>, SessionError> {
        Ok(self
            .get(channel)?
            .map(|s| (s.state.summary(), s.imported_at)))
    }

    /// Deletes `channel`'s session; `false` if it had none.
    pub fn remove(&self, channel: &str) -> Result<bool, SessionError> {
        let path = self.path(channel)?;
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(source) => Err(SessionError::Io { path, source }),
        }
    }

    /// Whether `channel` has a session file (not whether it decrypts).
    pub fn exists(&self, channel: &str) -> bool {
        self.path(channel).is_ok_and(|p| p.is_file())
    }

    fn seal(&self, channel: &str, plain: &[u8]) -> Result<Vec<u8>, SessionError> {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let aad = associated_data(channel);
        let ciphertext = self
            .key()?
            .cipher()
            .encrypt(
                &nonce,
                chacha20poly1305::aead::Payload {
                    msg: plain,
                    aad: &aad,
                },
            )
            .map_err(|_| SessionError::Encrypt {
                channel: channel.to_string(),
            })?;
        let mut out = Vec::with_capacity(MAGIC.len() + NONCE_LEN + ciphertext.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        Ok(out)
    }

    fn open(&self, channel: &str, path: &Path, bytes: &[u8]) -> Result<Vec<u8>, SessionError> {
        let format = |reason: &str| SessionError::Format {
            path: path.to_path_buf(),
            reason: reason.to_string(),
        };
        let Some(rest) = bytes.strip_prefix(MAGIC.as_slice()) else {
            return Err(if bytes.starts_with(&MAGIC[..7]) {
                format("it has a session format this version of Bevara does not read")
            } else {
                format("it does not start with BEVSESS1")
            });
        };
        if rest.len() < NONCE_LEN + TAG_LEN {
            return Err(format("it is too short"));
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let aad = associated_data(channel);
        self.key()?
            .cipher()
            .decrypt(
                XNonce::from_slice(nonce),
                chacha20poly1305::aead::Payload {
                    msg: ciphertext,
                    aad: &aad,
                },
            )
            .map_err(|_| SessionError::DecryptFailed {
                channel: channel.to_string(),
            })
    }
}

/// Binds the header and the channel: a file is only valid as the session of
/// the channel it was imported for.
fn associated_data(channel: &str) -> Vec<u8> {
    let mut aad = MAGIC.to_vec();
    aad.push(0);
    aad.extend_from_slice(channel.as_bytes());
    aad
}

fn create_private_dir(dir: &Path) -> Result<(), SessionError> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(|source| SessionError::Io {
        path: dir.to_path_buf(),
        source,
    })
}

/// Writes to a temporary file (mode 0600) next to `path` and renames it into
/// place, so a crash leaves the old session or the new one, never half.
fn write_atomically(dir: &Path, path: &Path, bytes: &[u8]) -> Result<(), SessionError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| SessionError::Io { path, source }
    };
    // tempfile creates the file with mode 0600 on Unix.
    let mut tmp = tempfile::Builder::new()
        .prefix(".session-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(io(dir))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(io(tmp.path()))?;
    }
    tmp.write_all(bytes).map_err(io(tmp.path()))?;
    tmp.as_file().sync_all().map_err(io(tmp.path()))?;
    tmp.persist(path).map_err(|e| SessionError::Io {
        path: path.to_path_buf(),
        source: e.error,
    })?;
    #[cfg(unix)]
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io(dir))?;
    Ok(())
}

/// The JSON inside the encryption. Kept apart from the public types so that
/// those cannot be serialized into a log or manifest by accident, and so the
/// stored form can change without changing the API.
#[derive(Serialize, Deserialize)]
struct Contents {
    format: u32,
    imported_at: DateTime<Utc>,
    cookies: Vec<StoredCookie>,
    origins: Vec<StoredOrigin>,
}

#[derive(Serialize, Deserialize)]
struct StoredCookie {
    name: String,
    value: String,
    domain: String,
    path: String,
    expires: Option<f64>,
    http_only: bool,
    secure: bool,
    same_site: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct StoredOrigin {
    origin: String,
    items: Vec<(String, String)>,
}

impl Contents {
    fn from_state(state: &LoginState, imported_at: DateTime<Utc>) -> Self {
        Self {
            format: CONTENTS_FORMAT,
            imported_at,
            cookies: state
                .cookies
                .iter()
                .map(|c| StoredCookie {
                    name: c.name.clone(),
                    value: c.value.clone(),
                    domain: c.domain.clone(),
                    path: c.path.clone(),
                    expires: c.expires,
                    http_only: c.http_only,
                    secure: c.secure,
                    same_site: c.same_site.clone(),
                })
                .collect(),
            origins: state
                .local_storage
                .iter()
                .map(|o| StoredOrigin {
                    origin: o.origin.clone(),
                    items: o.items.clone(),
                })
                .collect(),
        }
    }

    fn into_stored(self) -> StoredSession {
        StoredSession {
            imported_at: self.imported_at,
            state: LoginState {
                cookies: self
                    .cookies
                    .into_iter()
                    .map(|c| SessionCookie {
                        name: c.name,
                        value: c.value,
                        domain: c.domain,
                        path: c.path,
                        expires: c.expires,
                        http_only: c.http_only,
                        secure: c.secure,
                        same_site: c.same_site,
                    })
                    .collect(),
                local_storage: self
                    .origins
                    .into_iter()
                    .map(|o| OriginStorage {
                        origin: o.origin,
                        items: o.items,
                    })
                    .collect(),
            },
        }
    }
}
