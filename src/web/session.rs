//! Sign-in sessions for the pages: a signed cookie, and the CSRF token that
//! every form carries.
//!
//! The cookie holds who signed in, their role, when it ends and a random
//! CSRF nonce, signed with HMAC-SHA-256 under the server's key. Nothing is
//! kept on the server, so several web servers that share
//! `web.session_key_file` accept each other's sessions. A form posts the
//! nonce back as `_csrf`; a script using the cookie sends `X-CSRF-Token`.
//! The cookie is `HttpOnly` and `SameSite=Lax`, and `Secure` when
//! `web.public_url` is `https`.
//!
//! Written here rather than with a cookie-session crate: what is needed is
//! one HMAC over a small JSON value, which the `hmac` crate does; the
//! session crates bring a server-side store this design does not want.

use super::Role;
use base64::Engine as _;
use chrono::Utc;
use hmac::{Hmac, Mac};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

pub const COOKIE: &str = "bevara_session";
pub const LANG_COOKIE: &str = "bevara_lang";
/// The sign-in under way at the identity provider (state, nonce, PKCE verifier).
pub const OIDC_COOKIE: &str = "bevara_oidc";

/// The key that signs session cookies.
#[derive(Clone)]
pub struct CookieKey([u8; 32]);

impl CookieKey {
    /// The SHA-256 of the file's content, or a random key when there is no file.
    pub fn load(file: Option<&std::path::Path>) -> std::io::Result<Self> {
        match file {
            Some(p) => {
                let text = std::fs::read(p)?;
                let trimmed = String::from_utf8_lossy(&text).trim().to_string();
                if trimmed.len() < 32 {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!(
                            "{} must hold at least 32 characters (e.g. `openssl rand -hex 32`)",
                            p.display()
                        ),
                    ));
                }
                Ok(Self(Sha256::digest(trimmed.as_bytes()).into()))
            }
            None => Ok(Self::random()),
        }
    }

    pub fn random() -> Self {
        use chacha20poly1305::aead::rand_core::RngCore;
        let mut k = [0u8; 32];
        chacha20poly1305::aead::OsRng.fill_bytes(&mut k);
        Self(k)
    }

    fn mac(&self, data: &[u8]) -> Vec<u8> {
        let mut m = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        m.update(data);
        m.finalize().into_bytes().to_vec()
    }

    /// A signed cookie value holding `v`.
    pub fn seal<T: Serialize>(&self, v: &T) -> String {
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let body = b64.encode(serde_json::to_vec(v).unwrap_or_default());
        let sig = b64.encode(self.mac(body.as_bytes()));
        format!("{body}.{sig}")
    }

    /// What a signed cookie value holds, if its signature holds.
    pub fn open_as<T: DeserializeOwned>(&self, value: &str) -> Option<T> {
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let (body, sig) = value.split_once('.')?;
        let sig = b64.decode(sig).ok()?;
        let mut m = Hmac::<Sha256>::new_from_slice(&self.0).ok()?;
        m.update(body.as_bytes());
        m.verify_slice(&sig).ok()?;
        serde_json::from_slice(&b64.decode(body).ok()?).ok()
    }

    /// The session in a cookie value, if its signature holds and it has not ended.
    pub fn open(&self, value: &str) -> Option<Session> {
        let s: Session = self.open_as(value)?;
        (s.exp > Utc::now().timestamp()).then_some(s)
    }
}

/// One sign-in.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    /// Who: `token:NAME` or `oidc:SUBJECT (email)`.
    pub name: String,
    pub role: String,
    /// Ends at (Unix seconds).
    pub exp: i64,
    /// The CSRF nonce forms must post back.
    pub csrf: String,
    /// The API token signed in with (its id): revoking it ends the session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

impl Session {
    pub fn new(name: String, role: Role, hours: u32, token: Option<String>) -> Self {
        let mut n = [0u8; 16];
        use chacha20poly1305::aead::rand_core::RngCore;
        chacha20poly1305::aead::OsRng.fill_bytes(&mut n);
        Self {
            name,
            role: role.as_str().to_string(),
            exp: Utc::now().timestamp() + i64::from(hours.max(1)) * 3600,
            csrf: hex::encode(n),
            token,
        }
    }
}

/// The value of one cookie in a `Cookie` header (parsed here: a header of
/// `name=value` pairs split on `;` needs no crate).
pub fn cookie<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// `Set-Cookie` for a session (or, with `None`, one that clears it).
pub fn set_cookie(value: Option<&str>, secure: bool, hours: u32) -> String {
    cookie_named(COOKIE, value, secure, u64::from(hours.max(1)) * 3600)
}

/// `Set-Cookie` for the cookie `name`, lasting `secs` (or cleared).
pub fn cookie_named(name: &str, value: Option<&str>, secure: bool, secs: u64) -> String {
    let secure = if secure { "; Secure" } else { "" };
    match value {
        Some(v) => format!("{name}={v}; Path=/; HttpOnly; SameSite=Lax; Max-Age={secs}{secure}"),
        None => format!("{name}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}"),
    }
}

/// Whether two CSRF tokens are equal, in time that does not depend on where they differ.
pub fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_sessions_open_only_unchanged_and_unexpired() {
        let k = CookieKey::random();
        let s = Session::new("token:anna".into(), Role::Archivist, 8, None);
        let v = k.seal(&s);
        let back = k.open(&v).expect("opens");
        assert_eq!(
            (back.name.as_str(), back.role.as_str()),
            ("token:anna", "archivist")
        );
        assert!(CookieKey::random().open(&v).is_none(), "another key");
        // A changed role with the old signature.
        let (body, sig) = v.split_once('.').unwrap();
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mut j: serde_json::Value = serde_json::from_slice(&b64.decode(body).unwrap()).unwrap();
        j["role"] = "admin".into();
        let forged = format!("{}.{sig}", b64.encode(j.to_string()));
        assert!(k.open(&forged).is_none(), "a changed cookie is refused");
        let mut old = s.clone();
        old.exp = Utc::now().timestamp() - 1;
        assert!(
            k.open(&k.seal(&old)).is_none(),
            "an ended session is refused"
        );
        assert!(same_token("abc", "abc") && !same_token("abc", "abd") && !same_token("a", "ab"));
        let mut h = axum::http::HeaderMap::new();
        h.insert("cookie", "a=1; bevara_session=xyz; b=2".parse().unwrap());
        assert_eq!(cookie(&h, COOKIE), Some("xyz"));
        assert!(set_cookie(Some("v"), true, 8)
            .contains("HttpOnly; SameSite=Lax; Max-Age=28800; Secure"));
    }
}
