//! Capture integrity with real Chromium on 127.0.0.1: a click never makes
//! the archived page leave, a document that changes anyway is handled, one
//! deadline bounds the whole capture, every page loaded is checked (status,
//! login wall) and a failed further page marks the snapshot truncated.

mod common;

use axum::extract::{Path as UrlPath, State};
use axum::http::{header, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use bevara::capture::{capture_channel, CaptureError, CaptureOptions, Trigger};
use bevara::config::Layers;
use bevara::exit::ExitCode;
use bevara::{Bevara, Channel, Platform};
use std::sync::{Arc, Mutex};

type Log = Arc<Mutex<Vec<String>>>;

/// Expanders that would leave the page: a submit button labelled like an
/// expander, one that assigns `location`, one that reloads; and one real
/// expander that adds a comment in place.
const LEAVING: &str = r##"<!doctype html><meta charset=utf-8><title>Formulär</title>
<main><article><p>Inlägget LEAVEPOST01 om badplatsen.</p>
<section aria-label="Kommentarer">
<div role="article"><p>Kommentaren LEAVECOM01.</p></div>
<form method="post" action="/submitted"><input type="hidden" name="x" value="1">
<button type="submit">Visa fler kommentarer</button></form>
<div id="more"></div>
<button type="button" id="real">Visa 1 svar</button>
<button type="button" onclick="location.href='/left'">Visa fler svar</button>
<a href="#" onclick="setTimeout(() => location.reload(), 10); return false;">Visa tidigare kommentarer</a>
</section></article></main>
<script>
document.getElementById('real').addEventListener('click', (e) => {
  e.target.remove();
  fetch('/reply').then(r => r.text()).then(t => {
    const d = document.createElement('div'); d.setAttribute('role', 'article');
    d.innerHTML = '<p>' + t + '</p>'; document.getElementById('more').appendChild(d); });
});
</script>"##;

/// An expander whose first click replaces the view by `history.pushState`
/// (a script-driven "navigation" no request stops); after the page is
/// loaded again the same expander adds the comment in place.
const PUSHING: &str = r#"<!doctype html><meta charset=utf-8><title>Vy</title>
<main><p>Inlägget PUSHPOST01.</p><div id="c"></div>
<button type="button" id="b">Visa fler kommentarer</button></main>
<script>
document.getElementById('b').addEventListener('click', () => {
  if (!sessionStorage.getItem('pushed')) {
    sessionStorage.setItem('pushed', '1');
    history.pushState({}, '', '/pushing/annan-vy');
    document.querySelector('main').innerHTML = '<p>Annan vy OTHERVIEW01</p>';
    return;
  }
  document.getElementById('b').remove();
  document.getElementById('c').innerHTML = '<div role="article"><p>Kommentaren PUSHCOM01.</p></div>';
});
</script>"#;

/// A submit button labelled like an expander, alone on its page.
const POSTING: &str = r#"<!doctype html><meta charset=utf-8><title>Formulär</title>
<main><p>Inlägget POSTPOST01.</p><section aria-label="Kommentarer">
<div role="article"><p>Kommentaren POSTCOM01.</p></div>
<form method="post" action="/submitted"><input type="hidden" name="x" value="1">
<button type="submit">Visa fler kommentarer</button></form></section></main>"#;

const LOGIN_FORM: &str = r#"<!doctype html><meta charset=utf-8><title>Logga in</title>
<main><h1>Logga in</h1><form method="post" action="/session">
<label>E-post <input name="email" type="email"></label>
<label>Lösenord <input name="password" type="password"></label>
<button>Logga in</button></form></main>"#;

async fn blog_file(UrlPath(path): UrlPath<String>) -> Response {
    // The third comment page is broken on the server.
    if path == "comment-page-3.html" {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            Html("<h1>Serverfel</h1>"),
        )
            .into_response();
    }
    let file = common::fixture_dir()
        .parent()
        .unwrap()
        .join("blog")
        .join(if path.is_empty() { "index.html" } else { &path });
    match std::fs::read(file) {
        Ok(b) => ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], b).into_response(),
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}

fn logged(log: &Log, uri: &Uri, method: &str) {
    log.lock().unwrap().push(format!("{method} {}", uri.path()));
}

async fn serve(log: Log) -> std::net::SocketAddr {
    let app = Router::new()
        .route("/leaving", get(|| async { Html(LEAVING) }))
        .route("/posting", get(|| async { Html(POSTING) }))
        .route("/reply", get(|| async { "Svaret LEAVEREPLY01." }))
        .route(
            "/submitted",
            get(|State(l): State<Log>, uri: Uri| async move {
                logged(&l, &uri, "GET");
                Html("<p>LEFTPAGE01</p>")
            })
            .post(|State(l): State<Log>, uri: Uri| async move {
                logged(&l, &uri, "POST");
                Html("<p>LEFTPAGE01</p>")
            }),
        )
        .route(
            "/left",
            get(|State(l): State<Log>, uri: Uri| async move {
                logged(&l, &uri, "GET");
                Html("<p>LEFTPAGE02</p>")
            }),
        )
        .route("/pushing", get(|| async { Html(PUSHING) }))
        .route(
            "/old-channel",
            get(|| async { Redirect::to("/accounts/login/?next=/old-channel") }),
        )
        .route("/accounts/login/", get(|| async { Html(LOGIN_FORM) }))
        .route("/fixtures/blog/{*path}", get(blog_file))
        .route("/endless", get(|| async { Html(common::ENDLESS) }))
        .with_state(log);
    let (addr, _task) = bevara::demo::serve(app).await.unwrap();
    addr
}

/// Bevara in `dir` with a capture deadline of `secs`.
async fn with_deadline(dir: &std::path::Path, secs: i64) -> Bevara {
    let settings = Layers::default()
        .flag("data_dir", dir.display().to_string())
        .flag("allow_private_addresses", true)
        .flag("capture.max_duration_secs", secs)
        .resolve()
        .unwrap();
    Bevara::open(settings).await.unwrap()
}

fn channel(id: &str, platform: Platform, url: String) -> Channel {
    Channel {
        platform,
        ..common::channel(id, &url)
    }
}

async fn capture(
    bevara: &Bevara,
    ch: &Channel,
    record: bool,
) -> Result<bevara::capture::CaptureOutcome, CaptureError> {
    bevara.db().add_channel(ch).await.unwrap();
    let browser = bevara::browser::Browser::launch(&bevara.settings().browser)
        .await
        .unwrap();
    let options = CaptureOptions {
        record,
        pace: false,
    };
    let out = capture_channel(bevara, &browser, ch, Trigger::manual(None), &options, None).await;
    browser.close().await;
    out
}

fn read(outcome: &bevara::capture::CaptureOutcome, name: &str) -> String {
    std::fs::read_to_string(outcome.local_dir.as_ref().unwrap().join(name)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clicks_never_submit_a_form_or_leave_the_page() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::default();
    let addr = serve(log.clone()).await;
    let bevara = common::open(dir.path()).await;
    let ch = channel("formular", Platform::Web, format!("http://{addr}/leaving"));
    let out = capture(&bevara, &ch, false)
        .await
        .unwrap_or_else(|e| panic!("the capture failed: {e}"));
    let text = read(&out, "text.txt");
    for token in ["LEAVEPOST01", "LEAVECOM01", "LEAVEREPLY01"] {
        assert!(
            text.contains(token),
            "{token} missing from text.txt:\n{text}"
        );
    }
    assert!(!text.contains("LEFTPAGE"), "the page left:\n{text}");
    assert_eq!(
        log.lock().unwrap().as_slice(),
        &[] as &[String],
        "a click's navigation reached the server"
    );
    assert_eq!(out.manifest.final_url, ch.url);
    let stopped = out
        .manifest
        .warnings
        .iter()
        .find(|w| w.contains("navigation(s) the page started by itself were stopped"))
        .unwrap_or_else(|| panic!("no warning: {:?}", out.manifest.warnings));
    assert!(stopped.contains("GET http://"), "{stopped}");
    assert!(stopped.contains("/left"), "{stopped}");

    let ch = channel("post", Platform::Web, format!("http://{addr}/posting"));
    let out = capture(&bevara, &ch, false)
        .await
        .unwrap_or_else(|e| panic!("the capture failed: {e}"));
    let text = read(&out, "text.txt");
    assert!(
        text.contains("POSTCOM01") && !text.contains("LEFTPAGE"),
        "{text}"
    );
    assert_eq!(out.manifest.final_url, ch.url);
    assert!(log.lock().unwrap().is_empty(), "{:?}", log.lock().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_that_changes_under_the_pass_is_loaded_again() {
    let dir = tempfile::tempdir().unwrap();
    let addr = serve(Log::default()).await;
    let bevara = common::open(dir.path()).await;
    let ch = channel("vy", Platform::Web, format!("http://{addr}/pushing"));
    let out = capture(&bevara, &ch, false)
        .await
        .unwrap_or_else(|e| panic!("the capture failed: {e}"));
    let text = read(&out, "text.txt");
    assert!(text.contains("PUSHPOST01"), "{text}");
    assert!(text.contains("PUSHCOM01"), "{text}");
    assert!(!text.contains("OTHERVIEW01"), "{text}");
    assert!(
        out.manifest
            .warnings
            .iter()
            .any(|w| w.contains("document changed during the pass")),
        "{:?}",
        out.manifest.warnings
    );
    assert_eq!(out.manifest.final_url, ch.url);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_to_a_sign_in_form_is_login_required_not_a_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let addr = serve(Log::default()).await;
    let bevara = common::open(dir.path()).await;
    // The generic profile has no logged-out rule: what is seen decides.
    let ch = channel(
        "stangd",
        Platform::Web,
        format!("http://{addr}/old-channel"),
    );
    let err = capture(&bevara, &ch, false).await.unwrap_err();
    assert_eq!(err.exit_code(), ExitCode::LoginRequired, "{err}");
    assert!(err.to_string().contains("password"), "{err}");
    let caps = bevara
        .db()
        .list_captures(&bevara::db::CaptureFilter {
            channel: Some(ch.id.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(caps.len(), 1);
    assert_eq!(caps[0].failure_code.as_deref(), Some("login-required"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_further_page_that_fails_is_a_warning_and_marks_the_snapshot_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let addr = serve(Log::default()).await;
    let bevara = common::open(dir.path()).await;
    let ch = channel(
        "blogg",
        Platform::Blog,
        format!("http://{addr}/fixtures/blog/index.html"),
    );
    let out = capture(&bevara, &ch, false)
        .await
        .unwrap_or_else(|e| panic!("the capture failed: {e}"));
    assert!(out.truncated(), "a missing comment page must truncate");
    assert!(
        out.manifest
            .warnings
            .iter()
            .any(|w| w.contains("comment-page-3.html") && w.contains("500")),
        "{:?}",
        out.manifest.warnings
    );
    // Page 2 is there, page 3's error page is not archived as content.
    let p2 = read(&out, "text-p2.txt");
    assert!(p2.contains("comment-page-2.html"));
    assert!(out
        .manifest
        .artifacts
        .iter()
        .all(|a| !a.name.contains("p3")));
    let items = read(&out, "items.json");
    assert!(
        !items.contains("TKBC13"),
        "page 3's comments cannot be there"
    );
    assert!(!items.contains("Serverfel"));
    let rec = bevara.db().capture(&out.snapshot_id).await.unwrap();
    assert!(rec.truncated);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_deadline_ends_an_endless_recorded_capture_within_it() {
    let dir = tempfile::tempdir().unwrap();
    let addr = serve(Log::default()).await;
    // 36 s: the artifacts' reserve is then 12 s, time for the recording to
    // finish and the screenshot to be taken on a loaded 2-core machine.
    let bevara = with_deadline(dir.path(), 36).await;
    let ch = channel("andlost", Platform::Web, format!("http://{addr}/endless"));
    let out = capture(&bevara, &ch, true)
        .await
        .unwrap_or_else(|e| panic!("the capture failed: {e}"));
    assert!(out.truncated());
    let m = &out.manifest;
    assert!(
        m.behaviour
            .stopped_by
            .as_deref()
            .unwrap_or("")
            .contains("duration"),
        "{:?}",
        m.behaviour.stopped_by
    );
    let took = (m.finished_at - m.requested_at).num_milliseconds();
    assert!(
        took <= 36_000,
        "the capture took {took} ms against a 36 s deadline"
    );
    assert!(m.recording.is_some(), "the recording was kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capture_ended_by_someone_else_is_not_completed_and_leaves_no_objects() {
    let dir = tempfile::tempdir().unwrap();
    let addr = serve(Log::default()).await;
    let bevara = with_deadline(dir.path(), 12).await;
    let ch = channel("reaped", Platform::Web, format!("http://{addr}/endless"));
    let reaper = {
        let bevara = bevara.clone();
        tokio::spawn(async move {
            // A reaper (another worker, a lease that ran out) ends the
            // capture while it still runs.
            for _ in 0..200 {
                let running = bevara
                    .db()
                    .list_captures(&bevara::db::CaptureFilter {
                        state: Some(bevara::db::CaptureState::Running),
                        ..Default::default()
                    })
                    .await
                    .unwrap();
                if let Some(c) = running.first() {
                    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
                    bevara
                        .db()
                        .fail_capture(&c.id, "interrupted", "reaped by the test", None)
                        .await
                        .unwrap();
                    return c.id.clone();
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            panic!("the capture never ran");
        })
    };
    let err = capture(&bevara, &ch, false).await.unwrap_err();
    let id = reaper.await.unwrap();
    assert!(
        err.to_string().contains("not running") || err.to_string().contains("running"),
        "{err}"
    );
    let rec = bevara.db().capture(&id).await.unwrap();
    assert_eq!(rec.state, bevara::db::CaptureState::Failed);
    // Nothing of it stayed in the store.
    let objects = dir.path().join("objects");
    let files: Vec<_> = walk(&objects);
    assert!(files.iter().all(|f| !f.contains(&id)), "{files:?}");
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.filter_map(Result::ok) {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p.display().to_string());
            }
        }
    }
    out
}
