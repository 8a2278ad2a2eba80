//! Login sessions of channels, encrypted at rest.
//!
//! Some channels show their feed, or its comments, only to a logged-in
//! visitor. The authority exports the login state of its own account from a
//! browser (cookies as JSON, or a Playwright/Puppeteer storage-state file),
//! `bevara session import` keeps it for the channel, and each capture of that
//! channel puts it into its fresh browser context before navigating.
//!
//! This module owns:
//!
//! * [`SessionKey`]: the 32-byte key, from `BEVARA_SESSION_KEY` or
//!   `BEVARA_SESSION_KEY_FILE`;
//! * [`LoginState`]: what an export holds, parsed from the usual formats;
//! * [`SessionStore`]: one encrypted file per channel,
//!   `<dir>/<channel>.session` (XChaCha20-Poly1305, the channel id bound as
//!   associated data, mode 0600, written atomically);
//! * [`apply`]: puts a state into a page before its first navigation.
//!
//! Session contents never leave this module in readable form except through
//! [`LoginState`]'s public fields: `Debug` hides every value, errors name the
//! channel, file, or cookie position but never quote the content, and
//! [`SessionSummary`] holds only counts, domains, origins and expiry times,
//! so it is what logs and manifests may show.
//!
//! ```
//! use bevara::session::{LoginState, SessionKey, SessionStore};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let key = SessionKey::parse(&SessionKey::generate().to_base64())?;
//! let store = SessionStore::new(dir.path(), key);
//! let state = LoginState::parse(
//!     br#"[{"name": "sid", "value": "s3cret", "domain": ".example.org", "path": "/"}]"#,
//! )?;
//! let summary = store.import("sala-fb", &state)?;
//! assert_eq!(summary.cookies, 1);
//! assert!(!format!("{state:?}").contains("s3cret"));
//! assert_eq!(store.load("sala-fb")?, Some(state));
//! # Ok(()) }
//! ```

mod apply;
mod key;
mod state;
mod store;

pub use apply::{apply, APPLY_STEP_TIMEOUT};
pub use key::{SessionKey, KEY_ENV, KEY_FILE_ENV};
pub use state::{LoginState, OriginStorage, SessionCookie, SessionSummary, MAX_IMPORT_BYTES};
pub use store::{SessionStore, StoredSession, FILE_EXTENSION, MAGIC};

use std::path::PathBuf;

/// A session failure. No variant carries session contents.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("no session key: set {KEY_ENV} to a key (32 bytes as base64 or hex) or {KEY_FILE_ENV} to a file holding one; `bevara session keygen` makes a key")]
    NoKey,
    #[error("both {KEY_ENV} and {KEY_FILE_ENV} are set: set only one of them")]
    TwoKeys,
    #[error("the session key from {from} is not usable: {reason}; `bevara session keygen` makes a valid key")]
    BadKey { from: String, reason: String },
    #[error("cannot read the login state: {reason}")]
    Parse { reason: String },
    #[error("{0:?} cannot hold a session: a channel id has only lower-case letters, digits, '-', '_' and '.', and no '..'")]
    InvalidChannel(String),
    #[error("session file I/O failed on {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot decrypt the session of {channel}: wrong {KEY_ENV} or the file was altered; use the key it was imported with, or import the session again")]
    DecryptFailed { channel: String },
    #[error("{path} is not a Bevara session file: {reason}; remove it with `bevara session remove` and import the session again")]
    Format { path: PathBuf, reason: String },
    #[error("cannot encrypt the session of {channel}")]
    Encrypt { channel: String },
    #[error("cannot put the login state into the browser: {reason}")]
    Apply { reason: String },
}

/// Channel ids are validated by the register; this refuses anything that
/// could leave the session directory, in case an unchecked id gets here.
fn validate_channel(channel: &str) -> Result<(), SessionError> {
    let ok = !channel.is_empty()
        && channel.len() <= 64
        && !channel.contains("..")
        && channel
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && channel
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(SessionError::InvalidChannel(channel.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_ids_cannot_escape() {
        for ok in ["sala-fb", "a", "kommun_1.x"] {
            assert!(validate_channel(ok).is_ok(), "{ok}");
        }
        for bad in [
            "", "../x", "a/b", "a..b", ".hidden", "A", "a\\b", "a\0b", "ä",
        ] {
            assert!(validate_channel(bad).is_err(), "{bad:?}");
        }
    }
}
