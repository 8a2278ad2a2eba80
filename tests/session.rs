//! Login sessions: reading exports, the encrypted store, and putting a state
//! into a real Chromium page served on 127.0.0.1.

use bevara::browser::{eval, Browser};
use bevara::session::{apply, LoginState, SessionError, SessionKey, SessionStore, KEY_ENV, MAGIC};
use chrono::{TimeZone, Utc};
use std::path::Path;
use std::time::Duration;

/// Looks like a credential so a leak is easy to spot in a failure.
const SECRET: &str = "EAAGsecretTOKEN0123456789abcdef";

/// As the Cookie-Editor / EditThisCookie extensions export them.
const EXTENSION_EXPORT: &str = r#"[
  {"domain": ".facebook.com", "expirationDate": 1893456000.25, "hostOnly": false,
   "httpOnly": true, "name": "xs", "path": "/", "sameSite": "no_restriction",
   "secure": true, "session": false, "storeId": "0", "value": "EAAGsecretTOKEN0123456789abcdef", "id": 1},
  {"domain": "www.facebook.com", "hostOnly": true, "httpOnly": false, "name": "wd",
   "path": "/", "sameSite": "lax", "secure": true, "session": true, "storeId": "0", "value": "1280x900", "id": 2},
  {"domain": ".facebook.com", "expirationDate": 1000000000, "hostOnly": false, "httpOnly": false,
   "name": "old", "path": "/", "sameSite": "unspecified", "secure": false, "session": false, "value": "x"}
]"#;

/// As DevTools (`Network.getAllCookies`) and Puppeteer's `page.cookies()` give them.
const DEVTOOLS_EXPORT: &str = r#"[
  {"name": "sessionid", "value": "abc123", "domain": ".instagram.com", "path": "/",
   "expires": 1924992000, "size": 15, "httpOnly": true, "secure": true, "session": false,
   "sameSite": "Strict", "priority": "Medium", "sameParty": false, "sourceScheme": "Secure"},
  {"name": "ig_nrcb", "value": "1", "domain": "www.instagram.com", "path": "/",
   "expires": -1, "size": 8, "httpOnly": false, "secure": true, "session": true, "priority": "Medium"}
]"#;

/// Playwright's `context.storageState()`.
const STORAGE_STATE: &str = r#"{
  "cookies": [
    {"name": "auth_token", "value": "EAAGsecretTOKEN0123456789abcdef", "domain": ".x.com", "path": "/",
     "expires": 1924992000.5, "httpOnly": true, "secure": true, "sameSite": "None"},
    {"name": "lang", "value": "sv", "domain": "x.com", "path": "/", "expires": -1,
     "httpOnly": false, "secure": false, "sameSite": "Lax"}
  ],
  "origins": [
    {"origin": "https://x.com", "localStorage": [{"name": "token", "value": "EAAGsecretTOKEN0123456789abcdef"}, {"name": "theme", "value": "dark"}]},
    {"origin": "https://abs.twimg.com", "localStorage": []}
  ]
}"#;

fn key() -> SessionKey {
    SessionKey::generate()
}

fn session_file(dir: &Path, channel: &str) -> std::path::PathBuf {
    dir.join(format!("{channel}.session"))
}

#[test]
fn parses_a_browser_extension_cookie_export() {
    let state = LoginState::parse(EXTENSION_EXPORT.as_bytes()).unwrap();
    assert_eq!(state.cookies.len(), 3);
    assert!(state.local_storage.is_empty());
    let xs = &state.cookies[0];
    assert_eq!(
        (xs.name.as_str(), xs.value.as_str(), xs.domain.as_str()),
        ("xs", SECRET, ".facebook.com")
    );
    assert_eq!(xs.expires, Some(1893456000.25));
    assert!(xs.http_only && xs.secure);
    assert_eq!(xs.same_site.as_deref(), Some("None"));
    let wd = &state.cookies[1];
    assert_eq!(wd.domain, "www.facebook.com");
    assert_eq!(wd.expires, None, "a session cookie");
    assert_eq!(wd.same_site.as_deref(), Some("Lax"));
    assert_eq!(state.cookies[2].same_site, None, "unspecified");

    let now = Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap();
    let summary = state.summary_at(now);
    assert_eq!(summary.cookies, 3);
    assert_eq!(summary.domains, ["facebook.com", "www.facebook.com"]);
    assert_eq!(summary.expired, 1);
    assert_eq!(
        summary.earliest_expiry,
        Some(Utc.timestamp_opt(1_000_000_000, 0).unwrap())
    );
    assert!(summary.origins.is_empty());
}

#[test]
fn parses_a_devtools_cookie_export() {
    let state = LoginState::parse(DEVTOOLS_EXPORT.as_bytes()).unwrap();
    assert_eq!(state.cookies.len(), 2);
    assert_eq!(state.cookies[0].same_site.as_deref(), Some("Strict"));
    assert_eq!(state.cookies[0].expires, Some(1924992000.0));
    assert_eq!(
        state.cookies[1].expires, None,
        "expires -1 is a session cookie"
    );
    assert_eq!(state.cookies[1].same_site, None);
}

#[test]
fn parses_a_playwright_storage_state() {
    let state = LoginState::parse(STORAGE_STATE.as_bytes()).unwrap();
    assert_eq!(state.cookies.len(), 2);
    assert_eq!(state.cookies[0].same_site.as_deref(), Some("None"));
    assert_eq!(state.cookies[1].domain, "x.com");
    assert_eq!(
        state.local_storage.len(),
        1,
        "origins without items are dropped"
    );
    assert_eq!(state.local_storage[0].origin, "https://x.com");
    assert_eq!(
        state.local_storage[0].items,
        [
            ("token".to_string(), SECRET.to_string()),
            ("theme".to_string(), "dark".to_string())
        ]
    );
    let summary = state.summary();
    assert_eq!(summary.origins, ["https://x.com"]);
    assert_eq!(summary.local_storage_items, 2);
    assert_eq!(summary.domains, ["x.com"]);
    let json = serde_json::to_string(&summary).unwrap();
    assert!(!json.contains(SECRET), "{json}");
}

#[test]
fn refuses_junk_without_echoing_it() {
    let junk = [
        SECRET.to_string(),
        format!("# Netscape HTTP Cookie File\n.x.com\tTRUE\t/\tTRUE\t0\tauth\t{SECRET}\n"),
        format!("\"{SECRET}\""),
        format!("{{\"{SECRET}\": 1}}"),
        format!("{{\"cookies\": \"{SECRET}\"}}"),
        format!("[\"{SECRET}\"]"),
        format!("[{{\"name\": \"a\", \"value\": \"{SECRET}\"}}]"),
        format!("[{{\"name\": \"a\", \"value\": 1, \"domain\": \"{SECRET}\"}}]"),
        format!("[{{\"name\": \"a\", \"value\": \"{SECRET}\", \"domain\": \"x.org\", \"sameSite\": \"{SECRET}\"}}]"),
        format!("[{{\"name\": \"a\", \"value\": \"v\", \"domain\": \"x.org\", \"expires\": \"{SECRET}\"}}]"),
        format!("[{{\"name\": \"a\", \"value\": \"{SECRET}"),
        format!("{{\"origins\": [{{\"origin\": \"{SECRET}\", \"localStorage\": [{{\"name\": \"t\", \"value\": \"v\"}}]}}]}}"),
        format!("{{\"origins\": [{{\"origin\": \"https://x.com\", \"localStorage\": [{{\"name\": \"t\", \"value\": {{\"{SECRET}\": 1}}}}]}}]}}"),
        "[]".to_string(),
        "{\"cookies\": [], \"origins\": []}".to_string(),
    ];
    for input in &junk {
        let err = LoginState::parse(input.as_bytes()).expect_err(input);
        assert!(matches!(err, SessionError::Parse { .. }), "{err:?}");
        let text = err.to_string();
        let debug = format!("{err:?}");
        assert!(
            !text.contains("EAAG") && !debug.contains("EAAG"),
            "the error quotes the input: {text}"
        );
    }
    let err = LoginState::parse(junk[0].as_bytes())
        .unwrap_err()
        .to_string();
    assert!(err.contains("not JSON"), "{err}");
    assert!(
        err.contains("array of cookies"),
        "says what is expected: {err}"
    );
    let err = LoginState::parse(junk[8].as_bytes())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("cookie 1") && err.contains("sameSite"),
        "{err}"
    );
}

#[test]
fn debug_output_hides_values_and_keys() {
    let state = LoginState::parse(STORAGE_STATE.as_bytes()).unwrap();
    let debug = format!("{state:?} {state:#?}");
    assert!(!debug.contains(SECRET), "{debug}");
    assert!(debug.contains("auth_token"), "names are shown: {debug}");
    let key = key();
    let b64 = key.to_base64();
    assert_eq!(format!("{key:?}"), "SessionKey(<hidden>)");
    let store = SessionStore::new("/nonexistent", key);
    let debug = format!("{store:?}");
    assert!(!debug.contains(&b64), "{debug}");
}

#[test]
fn import_and_load_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let sessions = dir.path().join("sessions");
    let store = SessionStore::new(&sessions, key());
    let state = LoginState::parse(STORAGE_STATE.as_bytes()).unwrap();
    assert!(!store.exists("sala-x"));
    assert_eq!(store.load("sala-x").unwrap(), None);
    assert_eq!(store.show("sala-x").unwrap(), None);

    let before = Utc::now();
    let summary = store.import("sala-x", &state).unwrap();
    assert_eq!(summary, state.summary());
    assert!(store.exists("sala-x"));
    assert_eq!(store.load("sala-x").unwrap(), Some(state.clone()));
    let (shown, imported_at) = store.show("sala-x").unwrap().unwrap();
    assert_eq!(shown, summary);
    assert!(imported_at >= before && imported_at <= Utc::now());

    // The file holds ciphertext only, and nothing else is left in the directory.
    let bytes = std::fs::read(session_file(&sessions, "sala-x")).unwrap();
    assert!(bytes.starts_with(MAGIC));
    assert!(!String::from_utf8_lossy(&bytes).contains(SECRET));
    assert!(!String::from_utf8_lossy(&bytes).contains("auth_token"));
    let names: Vec<_> = std::fs::read_dir(&sessions)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, ["sala-x.session"]);

    // A new import replaces the old one.
    let other = LoginState::parse(DEVTOOLS_EXPORT.as_bytes()).unwrap();
    store.import("sala-x", &other).unwrap();
    assert_eq!(store.load("sala-x").unwrap(), Some(other));

    // Removing needs no key: a session whose key is lost can still go.
    let keyless = SessionStore::without_key(&sessions);
    assert!(keyless.exists("sala-x"));
    assert!(matches!(keyless.load("sala-x"), Err(SessionError::NoKey)));
    assert!(keyless.remove("sala-x").unwrap());
    assert!(!store.remove("sala-x").unwrap());
    assert!(!store.exists("sala-x"));
    assert_eq!(store.load("sala-x").unwrap(), None);
}

#[cfg(unix)]
#[test]
fn session_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let sessions = dir.path().join("sessions");
    let store = SessionStore::new(&sessions, key());
    let state = LoginState::parse(EXTENSION_EXPORT.as_bytes()).unwrap();
    store.import("sala-fb", &state).unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&session_file(&sessions, "sala-fb")), 0o600);
    assert_eq!(mode(&sessions), 0o700);
    // Replacing keeps the mode.
    store.import("sala-fb", &state).unwrap();
    assert_eq!(mode(&session_file(&sessions, "sala-fb")), 0o600);
}

#[test]
fn a_wrong_key_does_not_decrypt() {
    let dir = tempfile::tempdir().unwrap();
    let state = LoginState::parse(EXTENSION_EXPORT.as_bytes()).unwrap();
    SessionStore::new(dir.path(), key())
        .import("sala-fb", &state)
        .unwrap();
    let other = SessionStore::new(dir.path(), key());
    let err = other.load("sala-fb").unwrap_err();
    assert!(
        matches!(&err, SessionError::DecryptFailed { channel } if channel == "sala-fb"),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains("cannot decrypt the session of sala-fb")
            && text.contains(KEY_ENV)
            && text.contains("altered"),
        "{text}"
    );
    assert!(matches!(
        other.show("sala-fb"),
        Err(SessionError::DecryptFailed { .. })
    ));
}

#[test]
fn a_file_moved_to_another_channel_does_not_decrypt() {
    let dir = tempfile::tempdir().unwrap();
    let store = SessionStore::new(dir.path(), key());
    let state = LoginState::parse(EXTENSION_EXPORT.as_bytes()).unwrap();
    store.import("sala-fb", &state).unwrap();
    std::fs::copy(
        session_file(dir.path(), "sala-fb"),
        session_file(dir.path(), "sala-ig"),
    )
    .unwrap();
    assert!(store.exists("sala-ig"));
    let err = store.load("sala-ig").unwrap_err();
    assert!(
        matches!(&err, SessionError::DecryptFailed { channel } if channel == "sala-ig"),
        "{err:?}"
    );
    assert!(store.load("sala-fb").unwrap().is_some());
}

#[test]
fn a_changed_byte_does_not_decrypt() {
    let dir = tempfile::tempdir().unwrap();
    let store = SessionStore::new(dir.path(), key());
    let state = LoginState::parse(STORAGE_STATE.as_bytes()).unwrap();
    store.import("sala-x", &state).unwrap();
    let path = session_file(dir.path(), "sala-x");
    let original = std::fs::read(&path).unwrap();
    // In the nonce, the ciphertext and the tag.
    for at in [MAGIC.len() + 3, MAGIC.len() + 24 + 5, original.len() - 1] {
        let mut bytes = original.clone();
        bytes[at] ^= 0x01;
        std::fs::write(&path, &bytes).unwrap();
        let err = store.load("sala-x").unwrap_err();
        assert!(
            matches!(err, SessionError::DecryptFailed { .. }),
            "byte {at}: {err:?}"
        );
    }
    // A changed header or a cut file is not a session file at all.
    let mut bytes = original.clone();
    bytes[0] = b'X';
    std::fs::write(&path, &bytes).unwrap();
    assert!(matches!(
        store.load("sala-x"),
        Err(SessionError::Format { .. })
    ));
    std::fs::write(&path, &original[..MAGIC.len() + 10]).unwrap();
    assert!(matches!(
        store.load("sala-x"),
        Err(SessionError::Format { .. })
    ));
    std::fs::write(&path, &original).unwrap();
    assert_eq!(store.load("sala-x").unwrap(), Some(state));
}

#[test]
fn channel_ids_that_could_escape_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = SessionStore::new(dir.path().join("sessions"), key());
    let state = LoginState::parse(DEVTOOLS_EXPORT.as_bytes()).unwrap();
    for bad in ["../escape", "a/b", "..", "", "/abs"] {
        assert!(
            matches!(
                store.import(bad, &state),
                Err(SessionError::InvalidChannel(_))
            ),
            "{bad:?}"
        );
        assert!(matches!(
            store.load(bad),
            Err(SessionError::InvalidChannel(_))
        ));
        assert!(!store.exists(bad));
    }
    assert!(!dir.path().join("escape.session").exists());
}

/// Shows what the page sees: the Cookie header the server got, and
/// `document.cookie` and localStorage as the page's script reads them.
async fn echo(headers: axum::http::HeaderMap) -> axum::response::Html<String> {
    let sent = headers
        .get(axum::http::header::COOKIE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .replace(['<', '&'], "_");
    axum::response::Html(format!(
        "<!doctype html><meta charset=utf-8><title>Inloggad</title>\
         <p>server: [{sent}]</p><p id=page></p><script>\
         document.getElementById('page').textContent = \
         'cookie: [' + document.cookie + '] storage: [' + localStorage.getItem('k') + \
         '] items: [' + localStorage.length + ']';</script>"
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_session_reaches_the_page_and_only_its_own_context() {
    let router = axum::Router::new().route("/", axum::routing::get(echo));
    let (addr, _server) = bevara::demo::serve(router).await.unwrap();
    let url = format!("http://{addr}/");
    let state = LoginState::parse(
        format!(
            r#"{{"cookies": [
                {{"name": "sid", "value": "COOKIETOKEN4711", "domain": "127.0.0.1", "path": "/",
                  "expires": -1, "httpOnly": false, "secure": false, "sameSite": "Lax"}},
                {{"name": "hid", "value": "HTTPONLYTOKEN0815", "domain": "127.0.0.1", "path": "/",
                  "expires": {}, "httpOnly": true, "secure": false, "sameSite": "Lax"}}],
              "origins": [
                {{"origin": "http://{addr}", "localStorage": [{{"name": "k", "value": "STORAGETOKEN42"}}]}},
                {{"origin": "http://127.0.0.1:1", "localStorage": [{{"name": "other", "value": "ELSEWHERE"}}]}}]}}"#,
            Utc::now().timestamp() + 3600
        )
        .as_bytes(),
    )
    .unwrap();

    // Through the store, as a capture would get it.
    let dir = tempfile::tempdir().unwrap();
    let store = SessionStore::new(dir.path().join("sessions"), key());
    store.import("lokal", &state).unwrap();
    let loaded = store.load("lokal").unwrap().unwrap();

    let browser = Browser::launch(&bevara::Settings::default().browser)
        .await
        .expect("Chromium starts");
    let ctx = browser.new_context().await.unwrap();
    let applied = apply(&ctx.page, &loaded).await.unwrap();
    assert_eq!(applied, (2, 2));
    ctx.page.goto(url.as_str()).await.unwrap();
    let text: String = eval(&ctx.page, "document.body.innerText", Duration::from_secs(5))
        .await
        .unwrap();
    assert!(text.contains("COOKIETOKEN4711"), "{text}");
    assert!(text.contains("storage: [STORAGETOKEN42]"), "{text}");
    assert!(
        text.contains("items: [1]"),
        "only this origin's items: {text}"
    );
    let server_line = text.lines().find(|l| l.starts_with("server:")).unwrap();
    assert!(
        server_line.contains("sid=COOKIETOKEN4711")
            && server_line.contains("hid=HTTPONLYTOKEN0815"),
        "both cookies are sent: {text}"
    );
    let page_line = text.lines().find(|l| l.starts_with("cookie:")).unwrap();
    assert!(
        !page_line.contains("HTTPONLYTOKEN0815"),
        "the httpOnly cookie stays httpOnly: {text}"
    );

    // A second fresh context has none of it.
    let fresh = browser.new_context().await.unwrap();
    fresh.page.goto(url.as_str()).await.unwrap();
    let text: String = eval(
        &fresh.page,
        "document.body.innerText",
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    assert!(text.contains("server: []"), "{text}");
    assert!(text.contains("cookie: [] storage: [null]"), "{text}");
    for token in ["COOKIETOKEN4711", "HTTPONLYTOKEN0815", "STORAGETOKEN42"] {
        assert!(!text.contains(token), "{text}");
    }

    browser.dispose(fresh).await;
    browser.dispose(ctx).await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_counts_only_cookies_the_browser_keeps() {
    let state = LoginState::parse(
        br#"[{"name": "ok", "value": "1", "domain": ".example.org", "path": "/", "expires": 4102444800},
             {"name": "nosecure", "value": "2", "domain": "example.org", "sameSite": "None", "secure": false},
             {"name": "old", "value": "3", "domain": "example.org", "expires": 1000000000}]"#,
    )
    .unwrap();
    let expired = LoginState::parse(
        br#"[{"name": "old", "value": "3", "domain": "example.org", "expires": 1000000000}]"#,
    )
    .unwrap();
    let browser = Browser::launch(&bevara::Settings::default().browser)
        .await
        .expect("Chromium starts");
    let ctx = browser.new_context().await.unwrap();
    assert_eq!(apply(&ctx.page, &state).await.unwrap(), (1, 0));
    let err = apply(&ctx.page, &expired).await.unwrap_err();
    assert!(
        matches!(err, SessionError::Apply { .. }) && err.to_string().contains("expired"),
        "{err}"
    );
    browser.dispose(ctx).await;
    browser.close().await;
}
