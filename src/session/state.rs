//! What a login state holds, read from the formats browsers and automation
//! tools export, and a summary of it that is safe to show.

use super::SessionError;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::BTreeSet;

/// The largest export `LoginState::parse` reads. Real exports are a few
/// kilobytes; the bound keeps a wrong file (a video, a dump) from being read
/// into memory whole.
pub const MAX_IMPORT_BYTES: usize = 8 * 1024 * 1024;

/// A login state: the cookies and localStorage items a logged-in browser
/// holds. `Debug` shows names, domains and origins, never values.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoginState {
    pub cookies: Vec<SessionCookie>,
    pub local_storage: Vec<OriginStorage>,
}

/// One cookie. `domain` follows the cookie convention: a leading dot makes
/// it apply to subdomains too, none makes it host-only.
#[derive(Clone, PartialEq)]
pub struct SessionCookie {
    pub name: String,
    pub value: String,
    pub domain: String,
    pub path: String,
    /// Seconds since the Unix epoch; `None` for a cookie that ends with the browser session.
    pub expires: Option<f64>,
    pub http_only: bool,
    pub secure: bool,
    /// `"Strict"`, `"Lax"` or `"None"`; `None` when unspecified.
    pub same_site: Option<String>,
}

impl std::fmt::Debug for SessionCookie {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionCookie")
            .field("name", &self.name)
            .field("value", &"<hidden>")
            .field("domain", &self.domain)
            .field("path", &self.path)
            .field("expires", &self.expires)
            .field("http_only", &self.http_only)
            .field("secure", &self.secure)
            .field("same_site", &self.same_site)
            .finish()
    }
}

/// The localStorage items of one origin (`https://www.example.org`).
#[derive(Clone, PartialEq)]
pub struct OriginStorage {
    pub origin: String,
    /// `(key, value)` pairs in the order of the export.
    pub items: Vec<(String, String)>,
}

impl std::fmt::Debug for OriginStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys: Vec<&str> = self.items.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("OriginStorage")
            .field("origin", &self.origin)
            .field("keys", &keys)
            .field("values", &"<hidden>")
            .finish()
    }
}

/// What a login state covers, without any value: for `bevara session show`,
/// logs and manifests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionSummary {
    pub cookies: usize,
    /// The cookies' domains without a leading dot, sorted, each once.
    pub domains: Vec<String>,
    /// The origins that have localStorage items, sorted.
    pub origins: Vec<String>,
    /// localStorage items over all origins.
    pub local_storage_items: usize,
    /// The earliest expiry of a cookie that has one (expired cookies included).
    pub earliest_expiry: Option<DateTime<Utc>>,
    /// Cookies whose expiry has passed.
    pub expired: usize,
}

impl LoginState {
    /// Reads an export: a JSON array of cookies as browser extensions and
    /// DevTools write them (`name`, `value`, `domain`, `path`, `expires`,
    /// `expirationDate` or `expiry`, `httpOnly`, `secure`, `sameSite` as
    /// `no_restriction`/`None`, `lax`/`Lax`, `strict`/`Strict` or
    /// `unspecified`, and `hostOnly`/`session` where present), or a
    /// Playwright/Puppeteer storage state
    /// `{"cookies": […], "origins": [{"origin", "localStorage": [{"name", "value"}]}]}`.
    ///
    /// Anything else is refused with a reason that names positions and
    /// fields but never quotes the content.
    pub fn parse(json: &[u8]) -> Result<Self, SessionError> {
        if json.len() > MAX_IMPORT_BYTES {
            return Err(parse_err(format!(
                "it has {} bytes, more than the {MAX_IMPORT_BYTES} a login state may have; \
                 is it the right file?",
                json.len()
            )));
        }
        let json = json.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(json);
        let value: Value = serde_json::from_slice(json).map_err(|e| {
            // Syntax errors only: serde_json's syntax messages quote no input.
            parse_err(format!(
                "it is not JSON ({} at line {}, column {}); {EXPECTED}",
                syntax_kind(&e),
                e.line(),
                e.column()
            ))
        })?;
        let state = match &value {
            Value::Array(cookies) => Self {
                cookies: parse_cookies(cookies, "")?,
                local_storage: Vec::new(),
            },
            Value::Object(map) => {
                let cookies = field(map, &["cookies"]);
                let origins = field(map, &["origins"]);
                if cookies.is_none() && origins.is_none() {
                    return Err(parse_err(format!(
                        "it is a JSON object without \"cookies\" or \"origins\"; {EXPECTED}"
                    )));
                }
                Self {
                    cookies: match cookies {
                        None | Some(Value::Null) => Vec::new(),
                        Some(Value::Array(list)) => parse_cookies(list, "\"cookies\": ")?,
                        Some(other) => {
                            return Err(parse_err(format!(
                                "\"cookies\" is {}, not an array",
                                kind(other)
                            )))
                        }
                    },
                    local_storage: match origins {
                        None | Some(Value::Null) => Vec::new(),
                        Some(Value::Array(list)) => parse_origins(list)?,
                        Some(other) => {
                            return Err(parse_err(format!(
                                "\"origins\" is {}, not an array",
                                kind(other)
                            )))
                        }
                    },
                }
            }
            other => {
                return Err(parse_err(format!(
                    "it is {} at the top level; {EXPECTED}",
                    kind(other)
                )))
            }
        };
        if state.cookies.is_empty() && state.local_storage.is_empty() {
            return Err(parse_err(
                "it holds no cookies and no localStorage items; export the state while logged in"
                    .into(),
            ));
        }
        Ok(state)
    }

    /// Counts, domains, origins and expiry as of now.
    pub fn summary(&self) -> SessionSummary {
        self.summary_at(Utc::now())
    }

    /// Counts, domains, origins and expiry as of `now`.
    pub fn summary_at(&self, now: DateTime<Utc>) -> SessionSummary {
        let domains: BTreeSet<String> = self
            .cookies
            .iter()
            .map(|c| c.domain.trim_start_matches('.').to_string())
            .collect();
        let origins: BTreeSet<String> = self
            .local_storage
            .iter()
            .filter(|o| !o.items.is_empty())
            .map(|o| o.origin.clone())
            .collect();
        let expiries: Vec<DateTime<Utc>> = self
            .cookies
            .iter()
            .filter_map(|c| c.expires.and_then(to_time))
            .collect();
        SessionSummary {
            cookies: self.cookies.len(),
            domains: domains.into_iter().collect(),
            origins: origins.into_iter().collect(),
            local_storage_items: self.local_storage.iter().map(|o| o.items.len()).sum(),
            earliest_expiry: expiries.iter().min().copied(),
            expired: expiries.iter().filter(|t| **t <= now).count(),
        }
    }
}

const EXPECTED: &str = "expected a JSON array of cookies or a storage-state object \
    {\"cookies\": [...], \"origins\": [...]} as browser extensions, DevTools or Playwright export them";

fn parse_err(reason: String) -> SessionError {
    SessionError::Parse { reason }
}

fn syntax_kind(e: &serde_json::Error) -> &'static str {
    use serde_json::error::Category;
    match e.classify() {
        Category::Eof => "it ends too early",
        Category::Syntax => "syntax error",
        Category::Data => "invalid data",
        Category::Io => "read error",
    }
}

/// The JSON type of a value, for messages that must not show the value.
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The first of `names` present in `map`, compared without case: exports
/// differ in `httpOnly`/`httponly`, `sameSite`/`samesite`.
fn field<'a>(map: &'a Map<String, Value>, names: &[&str]) -> Option<&'a Value> {
    names.iter().find_map(|name| {
        map.get(*name).or_else(|| {
            map.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
        })
    })
}

fn parse_cookies(list: &[Value], at: &str) -> Result<Vec<SessionCookie>, SessionError> {
    list.iter()
        .enumerate()
        .map(|(i, v)| {
            let what = format!("{at}cookie {}", i + 1);
            match v {
                Value::Object(map) => parse_cookie(map, &what),
                other => Err(parse_err(format!(
                    "{what} is {}, not an object",
                    kind(other)
                ))),
            }
        })
        .collect()
}

fn string<'a>(
    map: &'a Map<String, Value>,
    names: &[&str],
    what: &str,
) -> Result<Option<&'a str>, SessionError> {
    match field(map, names) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(parse_err(format!(
            "{what}: \"{}\" is {}, not a string",
            names[0],
            kind(other)
        ))),
    }
}

fn boolean(map: &Map<String, Value>, name: &str, what: &str) -> Result<Option<bool>, SessionError> {
    match field(map, &[name]) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(other) => Err(parse_err(format!(
            "{what}: \"{name}\" is {}, not true or false",
            kind(other)
        ))),
    }
}

fn parse_cookie(map: &Map<String, Value>, what: &str) -> Result<SessionCookie, SessionError> {
    let name = string(map, &["name"], what)?
        .ok_or_else(|| parse_err(format!("{what} has no \"name\"")))?;
    let value = string(map, &["value"], what)?
        .ok_or_else(|| parse_err(format!("{what} has no \"value\"")))?;
    // Chromium refuses these characters; say so at import, not at capture.
    if name.is_empty()
        || name
            .chars()
            .any(|c| c.is_control() || c == ';' || c == '=' || c == ' ')
    {
        return Err(parse_err(format!(
            "{what}: \"name\" is empty or has characters a cookie name cannot have"
        )));
    }
    if value.chars().any(|c| c.is_control() || c == ';') {
        return Err(parse_err(format!(
            "{what}: \"value\" has characters a cookie value cannot have"
        )));
    }
    let mut secure = boolean(map, "secure", what)?;
    let mut path = string(map, &["path"], what)?.map(str::to_string);
    let domain = match string(map, &["domain"], what)? {
        Some(d) if !d.trim().is_empty() => {
            let d = d.trim().to_ascii_lowercase();
            // Extensions mark host-only cookies explicitly; in the cookie
            // convention that is a domain without the leading dot.
            if boolean(map, "hostOnly", what)? == Some(true) {
                d.trim_start_matches('.').to_string()
            } else {
                d
            }
        }
        _ => {
            // Playwright's addCookies form: a URL instead of domain and path.
            let url = string(map, &["url"], what)?
                .ok_or_else(|| parse_err(format!("{what} has no \"domain\" (nor \"url\")")))?;
            let url = url::Url::parse(url)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https"))
                .ok_or_else(|| parse_err(format!("{what}: \"url\" is not an http(s) URL")))?;
            let host = url
                .host_str()
                .ok_or_else(|| parse_err(format!("{what}: \"url\" has no host")))?;
            secure = secure.or(Some(url.scheme() == "https"));
            if path.is_none() {
                path = Some("/".into());
            }
            host.to_ascii_lowercase()
        }
    };
    let bare = domain.strip_prefix('.').unwrap_or(&domain);
    if bare.is_empty()
        || !bare
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._".contains(c))
    {
        return Err(parse_err(format!("{what}: \"domain\" is not a host name")));
    }
    let path = path.filter(|p| !p.is_empty()).unwrap_or_else(|| "/".into());
    if !path.starts_with('/') || path.chars().any(|c| c.is_control() || c == ';') {
        return Err(parse_err(format!("{what}: \"path\" must start with '/'")));
    }
    let session = boolean(map, "session", what)? == Some(true);
    let expires = if session {
        None
    } else {
        expiry(field(map, &["expires", "expirationDate", "expiry"]), what)?
    };
    let same_site = match string(map, &["sameSite"], what)? {
        None => None,
        Some(s) => match s.to_ascii_lowercase().as_str() {
            "" | "unspecified" => None,
            "no_restriction" | "none" => Some("None".to_string()),
            "lax" => Some("Lax".to_string()),
            "strict" => Some("Strict".to_string()),
            _ => {
                return Err(parse_err(format!(
                    "{what}: \"sameSite\" is none of no_restriction/None, lax/Lax, strict/Strict, unspecified"
                )))
            }
        },
    };
    Ok(SessionCookie {
        name: name.to_string(),
        value: value.to_string(),
        domain,
        path,
        expires,
        http_only: boolean(map, "httpOnly", what)?.unwrap_or(false),
        secure: secure.unwrap_or(false),
        same_site,
    })
}

/// Seconds since the epoch from a number, or from an RFC 3339 string as some
/// DevTools copies have it. Zero, negative (`-1` in CDP) and "Session" mean
/// a session cookie.
fn expiry(v: Option<&Value>, what: &str) -> Result<Option<f64>, SessionError> {
    let secs = match v {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) if s.is_empty() || s.eq_ignore_ascii_case("session") => {
            return Ok(None)
        }
        Some(Value::String(s)) => DateTime::parse_from_rfc3339(s.trim())
            .ok()
            .map(|t| t.timestamp_millis() as f64 / 1000.0),
        Some(_) => None,
    };
    match secs {
        Some(s) if s.is_finite() && s > 0.0 => Ok(Some(s)),
        Some(s) if s.is_finite() => Ok(None),
        _ => Err(parse_err(format!(
            "{what}: the expiry is neither seconds since 1970 nor an RFC 3339 time"
        ))),
    }
}

fn to_time(secs: f64) -> Option<DateTime<Utc>> {
    if !secs.is_finite() {
        return None;
    }
    let whole = secs.floor();
    let nanos = ((secs - whole) * 1e9) as u32;
    DateTime::from_timestamp(whole as i64, nanos.min(999_999_999))
}

fn parse_origins(list: &[Value]) -> Result<Vec<OriginStorage>, SessionError> {
    let mut out: Vec<OriginStorage> = Vec::new();
    for (i, v) in list.iter().enumerate() {
        let what = format!("\"origins\": entry {}", i + 1);
        let Value::Object(map) = v else {
            return Err(parse_err(format!("{what} is {}, not an object", kind(v))));
        };
        let origin = string(map, &["origin"], &what)?
            .ok_or_else(|| parse_err(format!("{what} has no \"origin\"")))?;
        let origin = normalize_origin(origin).ok_or_else(|| {
            parse_err(format!(
                "{what}: \"origin\" is not an http(s) origin such as https://www.example.org"
            ))
        })?;
        let items = match field(map, &["localStorage"]) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(j, item)| {
                    let what = format!("{what}, localStorage item {}", j + 1);
                    let Value::Object(m) = item else {
                        return Err(parse_err(format!(
                            "{what} is {}, not an object",
                            kind(item)
                        )));
                    };
                    let name = string(m, &["name"], &what)?
                        .ok_or_else(|| parse_err(format!("{what} has no \"name\"")))?;
                    let value = string(m, &["value"], &what)?
                        .ok_or_else(|| parse_err(format!("{what} has no \"value\"")))?;
                    Ok((name.to_string(), value.to_string()))
                })
                .collect::<Result<Vec<_>, _>>()?,
            Some(other) => {
                return Err(parse_err(format!(
                    "{what}: \"localStorage\" is {}, not an array",
                    kind(other)
                )))
            }
        };
        // Storage states list every visited origin, most with nothing stored.
        if items.is_empty() {
            continue;
        }
        match out.iter_mut().find(|o| o.origin == origin) {
            Some(existing) => existing.items.extend(items),
            None => out.push(OriginStorage { origin, items }),
        }
    }
    Ok(out)
}

/// `https://Example.org:443/` → `https://example.org`; `None` unless the text
/// is an http(s) origin (no path beyond `/`, no query or fragment).
fn normalize_origin(text: &str) -> Option<String> {
    let url = url::Url::parse(text.trim()).ok()?;
    if !matches!(url.scheme(), "http" | "https")
        || url.host_str().is_none()
        || url.path() != "/"
        || url.query().is_some()
        || url.fragment().is_some()
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return None;
    }
    Some(url.origin().ascii_serialization())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_normalized() {
        assert_eq!(
            normalize_origin("https://Example.org:443/").as_deref(),
            Some("https://example.org")
        );
        assert_eq!(
            normalize_origin("http://127.0.0.1:8080").as_deref(),
            Some("http://127.0.0.1:8080")
        );
        for bad in [
            "file:///x",
            "https://a.org/path",
            "https://a.org/?q",
            "nope",
        ] {
            assert_eq!(normalize_origin(bad), None, "{bad}");
        }
    }

    #[test]
    fn expiry_forms() {
        assert_eq!(expiry(Some(&Value::from(-1)), "c").unwrap(), None);
        assert_eq!(
            expiry(Some(&Value::from(1_900_000_000.5)), "c").unwrap(),
            Some(1_900_000_000.5)
        );
        assert_eq!(
            expiry(Some(&Value::from("2030-01-01T00:00:00Z")), "c").unwrap(),
            Some(1_893_456_000.0)
        );
        assert_eq!(expiry(Some(&Value::from("Session")), "c").unwrap(), None);
        assert!(expiry(Some(&Value::from("tomorrow")), "c").is_err());
        assert!(to_time(1_893_456_000.0).is_some());
    }

    #[test]
    fn host_only_cookies_lose_the_dot() {
        let s = LoginState::parse(
            br#"[{"name":"a","value":"1","domain":".x.org","hostOnly":true,"session":true,"expirationDate":5}]"#,
        )
        .unwrap();
        assert_eq!(s.cookies[0].domain, "x.org");
        assert_eq!(s.cookies[0].expires, None);
    }
}
