//! The key that encrypts login sessions at rest.

use super::SessionError;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine as _;
use chacha20poly1305::aead::{KeyInit, OsRng};
use chacha20poly1305::XChaCha20Poly1305;
use std::path::Path;

/// The environment variable holding the key itself.
pub const KEY_ENV: &str = "BEVARA_SESSION_KEY";
/// The environment variable naming a file that holds the key.
pub const KEY_FILE_ENV: &str = "BEVARA_SESSION_KEY_FILE";

/// A 32-byte XChaCha20-Poly1305 key. `Debug` prints `SessionKey(<hidden>)`.
#[derive(Clone)]
pub struct SessionKey([u8; 32]);

impl Drop for SessionKey {
    fn drop(&mut self) {
        // The key does not outlive its use in freed memory.
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

impl std::fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKey(<hidden>)")
    }
}

impl SessionKey {
    /// From base64 (standard or URL-safe, padded or not) or hex text, trimmed,
    /// of exactly 32 bytes.
    pub fn parse(text: &str) -> Result<Self, SessionError> {
        Self::parse_from(text, "the given text")
    }

    fn parse_from(text: &str, from: &str) -> Result<Self, SessionError> {
        let bad = |reason: String| SessionError::BadKey {
            from: from.to_string(),
            reason,
        };
        let text = text.trim();
        if text.is_empty() {
            return Err(bad("it is empty".into()));
        }
        let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            hex::decode(text).ok()
        } else {
            [STANDARD, URL_SAFE, STANDARD_NO_PAD, URL_SAFE_NO_PAD]
                .iter()
                .find_map(|engine| engine.decode(text).ok())
        };
        // The messages give lengths only: the text itself is the secret.
        let bytes = bytes.ok_or_else(|| {
            bad(format!(
                "its {} characters are neither base64 nor hex",
                text.chars().count()
            ))
        })?;
        let key: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
            bad(format!(
                "it decodes to {} bytes, a key has 32 (44 characters of base64 or 64 of hex)",
                bytes.len()
            ))
        })?;
        Ok(Self(key))
    }

    /// The key from `BEVARA_SESSION_KEY` (`value`) or `BEVARA_SESSION_KEY_FILE`
    /// (`file`), as the caller read them from settings or the environment. An
    /// empty value counts as unset; setting both is refused so it is never
    /// unclear which key encrypted a file.
    pub fn load(value: Option<&str>, file: Option<&Path>) -> Result<Self, SessionError> {
        let value = value.filter(|v| !v.trim().is_empty());
        let file = file.filter(|p| !p.as_os_str().is_empty());
        match (value, file) {
            (Some(_), Some(_)) => Err(SessionError::TwoKeys),
            (None, None) => Err(SessionError::NoKey),
            (Some(v), None) => Self::parse_from(v, KEY_ENV),
            (None, Some(path)) => {
                let text = std::fs::read_to_string(path).map_err(|source| SessionError::Io {
                    path: path.to_path_buf(),
                    source,
                })?;
                warn_if_readable_by_others(path);
                Self::parse_from(&text, &format!("{KEY_FILE_ENV} ({})", path.display()))
            }
        }
    }

    /// A new random key from the operating system's generator.
    pub fn generate() -> Self {
        Self(XChaCha20Poly1305::generate_key(&mut OsRng).into())
    }

    /// The key as standard padded base64 (44 characters), the form
    /// `bevara session keygen` prints.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    pub(super) fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(&self.0.into())
    }
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path) {
        if meta.permissions().mode() & 0o077 != 0 {
            tracing::warn!(
                path = %path.display(),
                "the session key file is readable by other users; chmod 600 it"
            );
        }
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_path: &Path) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_base64_and_hex_of_32_bytes() {
        let key = SessionKey::generate();
        let b64 = key.to_base64();
        assert_eq!(b64.len(), 44);
        assert_eq!(SessionKey::parse(&b64).unwrap().0, key.0);
        assert_eq!(
            SessionKey::parse(&format!("  {}\n", hex::encode(key.0)))
                .unwrap()
                .0,
            key.0
        );
        assert_eq!(
            SessionKey::parse(&URL_SAFE_NO_PAD.encode(key.0)).unwrap().0,
            key.0
        );
    }

    #[test]
    fn refuses_wrong_lengths_without_echoing() {
        let short = STANDARD.encode([7u8; 16]);
        let err = SessionKey::parse(&short).unwrap_err().to_string();
        assert!(err.contains("16 bytes"), "{err}");
        assert!(!err.contains(&short), "{err}");
        let junk = "not a key at all!";
        let err = SessionKey::parse(junk).unwrap_err().to_string();
        assert!(!err.contains(junk), "{err}");
        assert!(matches!(
            SessionKey::parse(""),
            Err(SessionError::BadKey { .. })
        ));
    }

    #[test]
    fn load_from_value_or_file_but_not_both() {
        let key = SessionKey::generate().to_base64();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("key");
        std::fs::write(&file, format!("{key}\n")).unwrap();
        assert!(SessionKey::load(Some(&key), None).is_ok());
        assert!(SessionKey::load(None, Some(&file)).is_ok());
        assert!(SessionKey::load(Some(" "), Some(&file)).is_ok());
        assert!(matches!(
            SessionKey::load(Some(&key), Some(&file)),
            Err(SessionError::TwoKeys)
        ));
        let none = SessionKey::load(None, None).unwrap_err().to_string();
        assert!(
            none.contains(KEY_ENV) && none.contains(KEY_FILE_ENV),
            "{none}"
        );
        let missing = dir.path().join("missing");
        assert!(matches!(
            SessionKey::load(None, Some(&missing)),
            Err(SessionError::Io { .. })
        ));
        std::fs::write(&file, "abc").unwrap();
        let bad = SessionKey::load(None, Some(&file)).unwrap_err().to_string();
        assert!(bad.contains(KEY_FILE_ENV), "{bad}");
    }
}
