//! Shared test helpers: a fixture web server on 127.0.0.1 and a Bevara
//! installation in a temporary directory.
#![allow(dead_code)]

pub mod http;
pub mod procs;
pub mod s3;
pub mod wordpress;

use axum::extract::{Path as UrlPath, RawQuery};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use bevara::config::{Layers, Settings};
use bevara::{Bevara, Channel, Platform};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

pub fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/site")
}

/// Every token of the feed fixture, from its expected.json.
pub fn feed_tokens() -> Vec<String> {
    let v: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixture_dir().join("expected.json")).unwrap(),
    )
    .unwrap();
    let mut out = Vec::new();
    for group in ["posts", "more", "comments", "replies"] {
        for t in v[group].as_array().unwrap() {
            out.push(t.as_str().unwrap().to_string());
        }
    }
    assert_eq!(out.len() as u64, v["total"].as_u64().unwrap());
    out
}

async fn static_file(UrlPath(name): UrlPath<String>) -> Response {
    if name.contains("..") || name.contains('/') {
        return StatusCode::BAD_REQUEST.into_response();
    }
    match std::fs::read(fixture_dir().join(&name)) {
        Ok(bytes) => {
            let ct = if name.ends_with(".js") {
                "text/javascript; charset=utf-8"
            } else if name.ends_with(".json") {
                "application/json"
            } else {
                "text/html; charset=utf-8"
            };
            ([(header::CONTENT_TYPE, ct)], bytes).into_response()
        }
        Err(_) => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}

/// Files of the platform fixtures (`tests/fixtures/<platform>/…`).
async fn platform_file(UrlPath((platform, path)): UrlPath<(String, String)>) -> Response {
    if platform.contains("..") || path.contains("..") {
        return StatusCode::BAD_REQUEST.into_response();
    }
    let mut file = fixture_dir().parent().unwrap().join(&platform).join(&path);
    if file.is_dir() || path.is_empty() || path.ends_with('/') {
        file = file.join("index.html");
    }
    match std::fs::read(&file) {
        Ok(bytes) => {
            let ct = match file.extension().and_then(|e| e.to_str()) {
                Some("js") => "text/javascript; charset=utf-8",
                Some("css") => "text/css; charset=utf-8",
                Some("json") => "application/json",
                _ => "text/html; charset=utf-8",
            };
            ([(header::CONTENT_TYPE, ct)], bytes).into_response()
        }
        Err(_) => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}

/// A feed that never ends: 5 more posts whenever the reader nears the bottom.
pub const ENDLESS: &str = r#"<!doctype html><meta charset=utf-8><title>Ändlöst flöde</title>
<style>.p{height:400px;margin:10px;background:#eef}</style><div id=f></div><script>
let n=0;const f=document.getElementById('f');
function more(){for(let i=0;i<5;i++){const d=document.createElement('div');d.className='p';d.textContent='Inlägg '+(++n);f.appendChild(d);}}
more();more();addEventListener('scroll',()=>{if(scrollY+innerHeight>document.body.scrollHeight-800)setTimeout(more,100);});
</script>"#;

/// Which version of the feed `/variable/feed.html` serves (1, or 2 after an
/// edit and a deletion), so one channel URL can change between captures.
pub static FEED_VARIANT: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(1);

async fn variable_file(UrlPath(name): UrlPath<String>) -> Response {
    if name == "feed.html" {
        let html = std::fs::read_to_string(fixture_dir().join("feed.html")).unwrap();
        let v = FEED_VARIANT.load(std::sync::atomic::Ordering::SeqCst);
        let html = html.replacen(
            "<script",
            &format!("<script>window.__variant = {v};</script><script"),
            1,
        );
        return Html(html).into_response();
    }
    static_file(UrlPath(name)).await
}

/// A post of a classic WordPress theme whose 12 comments run over three
/// pages chosen by `?cpage=N` (the newest, 3, at the post's own address),
/// linked only by "«", "»" and page numbers in its comment navigation. The
/// article's own "Nästa" link to `?page=2` is the next page of the article,
/// not of its comments.
fn classic_post(query: Option<String>) -> Html<String> {
    let q = query.unwrap_or_default();
    let arg = |k: &str| {
        q.split('&')
            .find_map(|kv| kv.strip_prefix(k)?.strip_prefix('=')?.parse::<u32>().ok())
    };
    if arg("page").is_some() {
        return Html(
            "<!doctype html><title>Sida 2</title><p>Artikelns andra sida (TKCLART2)</p>".into(),
        );
    }
    let page = arg("cpage").unwrap_or(3).clamp(1, 3);
    let link = |n: u32| {
        if n == 3 {
            "./#comments".to_string()
        } else {
            format!("?cpage={n}#comments")
        }
    };
    let mut nav = String::new();
    if page > 1 {
        nav += &format!(
            "<a class=\"prev page-numbers\" href=\"{}\">«</a> ",
            link(page - 1)
        );
    }
    for n in 1..=3 {
        nav += &if n == page {
            format!("<span aria-current=\"page\" class=\"page-numbers current\">{n}</span> ")
        } else {
            format!("<a class=\"page-numbers\" href=\"{}\">{n}</a> ", link(n))
        };
    }
    if page < 3 {
        nav += &format!(
            "<a class=\"next page-numbers\" href=\"{}\">»</a>",
            link(page + 1)
        );
    }
    let comments: String = (1..=4)
        .map(|i| format!("<li id=\"comment-{page}{i}\" class=\"comment\"><article class=\"comment-body\"><b class=\"fn\">Läsare {i}</b><div class=\"comment-content\"><p>Synpunkt {i} på sidan {page} (TKCL{page}{i})</p></div><div class=\"reply\"><a class=\"comment-reply-link\" href=\"?replytocom={page}{i}#respond\">Svara</a></div></article></li>"))
        .collect();
    Html(format!(
        "<!doctype html><meta charset=utf-8><title>Parkeringen vid torget</title><article class=\"post\"><h1>Parkeringen vid torget</h1><p>Avgifterna ändras. (TKCLPOST)</p><p><a href=\"?page=2\">Nästa</a></p></article><div id=\"comments\" class=\"comments-area\"><h2 class=\"comments-title\">12 svar till ”Parkeringen vid torget”</h2><ol class=\"comment-list\">{comments}</ol><nav class=\"navigation comment-navigation\" aria-label=\"Kommentarer\"><div class=\"nav-links\">{nav}</div></nav></div>"
    ))
}

const POSTER: &str = "<!doctype html><meta charset=utf-8><title>Fråga</title><h1>Fråga</h1><p id=a>…</p><script>fetch('/echo', {method: 'POST', headers: {'content-type': 'application/x-www-form-urlencoded'}, body: 'q=hej'}).then(r => r.text()).then(t => { document.getElementById('a').textContent = t; });</script>";

/// A login wall as Facebook shows it to visitors without a session.
const LOGIN_WALL: &str = "<!doctype html><meta charset=utf-8><title>Facebook</title><h1>Du måste logga in för att fortsätta.</h1><form><input name=email><button>Logga in</button></form>";

/// The fixture site: the feed files plus pages that misbehave on purpose.
pub fn fixture_router() -> Router {
    Router::new()
        .route("/site/{name}", get(static_file))
        .route("/variable/{name}", get(variable_file))
        .route("/login-wall", get(|| async { Html(LOGIN_WALL) }))
        // Shows who is logged in when the session cookie comes along.
        .route(
            "/members",
            get(|headers: axum::http::HeaderMap| async move {
                let cookie = headers.get(header::COOKIE).and_then(|v| v.to_str().ok()).unwrap_or("");
                if cookie.contains("sid=hemligt-varde-123") {
                    Html("<!doctype html><title>Medlemmar</title><p>Inloggad som Anna Admin. MEMBERTOKEN</p>".to_string())
                } else {
                    Html(LOGIN_WALL.to_string())
                }
            }),
        )
        .route("/fixtures/{platform}/{*path}", get(platform_file))
        .route(
            "/classic/parkeringen/",
            get(|RawQuery(q): RawQuery| async move { classic_post(q) }),
        )
        .route("/tall/{h}", get(|UrlPath(h): UrlPath<u64>| async move { Html(bevara::bench::tall_page_html(h)) }))
        .route("/endless", get(|| async { Html(ENDLESS) }))
        // A page that asks its server with a POST and shows the answer.
        .route("/poster", get(|| async { Html(POSTER) }))
        .route(
            "/echo",
            axum::routing::post(|body: String| async move { format!("ECHO:{body}") }),
        )
        // Accepts the connection and never answers.
        .route("/hang", get(std::future::pending::<&'static str>))
        // The document arrives, an image never does: no load event.
        .route(
            "/hanging-image",
            get(|| async { Html("<!doctype html><title>Bild</title><p>Texten HANGTOKEN finns.</p><img src=/hang>") }),
        )
        .route(
            "/status/{code}",
            get(|UrlPath(code): UrlPath<u16>| async move {
                (
                    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                    Html(format!("<h1>Fel {code}</h1>")),
                )
            }),
        )
}

/// Serves the fixture site on 127.0.0.1; the server lives as long as the test's runtime.
pub async fn serve() -> SocketAddr {
    let (addr, _task) = bevara::demo::serve(fixture_router()).await.unwrap();
    addr
}

/// Settings for tests: a temp data dir, private addresses allowed, short budgets.
pub fn settings(dir: &Path) -> Settings {
    Layers::default()
        .flag("data_dir", dir.display().to_string())
        .flag("allow_private_addresses", true)
        .flag("capture.page_load_timeout_secs", 10i64)
        .flag("capture.max_duration_secs", 120i64)
        .resolve()
        .unwrap()
}

pub async fn open(dir: &Path) -> Bevara {
    Bevara::open(settings(dir)).await.unwrap()
}

pub fn channel(id: &str, url: &str) -> Channel {
    Channel {
        id: id.parse().unwrap(),
        platform: Platform::Facebook,
        url: url.to_string(),
        name: Some("Testkanal".into()),
        owner: Some("Kommunikationsenheten".into()),
        admins: vec!["Anna Admin".into()],
        purpose: None,
        tags: vec![],
        opened_at: chrono::Utc::now(),
        closed_at: None,
        retain_days: None,
        recording: false,
    }
}

/// Reads an RGB(A) PNG row by row and calls `f(y, row_bytes, channels)`.
pub fn scan_png(path: &Path, mut f: impl FnMut(u32, &[u8], usize)) -> (u32, u32) {
    let file = std::fs::File::open(path).unwrap();
    let mut reader = png::Decoder::new(std::io::BufReader::new(file))
        .read_info()
        .unwrap();
    let (w, h) = (reader.info().width, reader.info().height);
    let ch = reader.info().color_type.samples();
    let mut y = 0;
    while let Some(row) = reader.next_row().unwrap() {
        f(y, row.data(), ch);
        y += 1;
    }
    (w, h)
}

/// Folds the letters tesseract takes for digits at small sizes (O for 0,
/// l for 1, S for 5) into the digits; applied to what it read and to the
/// token looked for alike.
pub fn ocr_norm(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            'O' | 'o' | 'D' | 'Q' => '0',
            'l' | 'L' | 'I' | 'i' | '|' => '1',
            'S' => '5',
            c => c,
        })
        .collect()
}

/// Text tesseract reads in a tall PNG enlarged `scale` times, cut into
/// pieces it can handle, with [`ocr_norm`] applied. Enlarged, tesseract reads
/// small text (a dialog's 14 px comment column) far better.
pub fn ocr_tall(png: &Path, work: &Path, scale: u32) -> String {
    let img = image::open(png).unwrap().to_rgb8();
    let img = if scale > 1 {
        let (w, h) = img.dimensions();
        image::imageops::resize(
            &img,
            w * scale,
            h * scale,
            image::imageops::FilterType::Triangle,
        )
    } else {
        img
    };
    let (w, h) = img.dimensions();
    let mut text = String::new();
    let mut y = 0;
    while y < h {
        let piece_h = (3000 * scale).min(h - y);
        let piece = image::imageops::crop_imm(&img, 0, y, w, piece_h).to_image();
        let p = work.join(format!("piece-{y}.png"));
        piece.save(&p).unwrap();
        let out = std::process::Command::new("tesseract")
            .arg(&p)
            .arg("-")
            .output()
            .unwrap();
        text.push_str(&ocr_norm(&String::from_utf8_lossy(&out.stdout)));
        // Overlap, so a line cut in two is read whole in one piece.
        y += piece_h.saturating_sub(100 * scale).max(1);
        if piece_h < 3000 * scale {
            break;
        }
    }
    text
}

/// The items of a platform fixture's `expected.json`.
pub fn expected_items(fixture: &str) -> Vec<serde_json::Value> {
    let file = fixture_dir()
        .parent()
        .unwrap()
        .join(fixture)
        .join("expected.json");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    v["items"].as_array().unwrap().clone()
}

/// Registers `channel` and captures it once without a recording, in a
/// browser of its own; panics with the reason when the capture fails.
pub async fn capture_once(bevara: &Bevara, channel: &Channel) -> bevara::capture::CaptureOutcome {
    capture_recorded(bevara, channel, false).await
}

/// [`capture_once`], with the screen recording when `record`.
pub async fn capture_recorded(
    bevara: &Bevara,
    channel: &Channel,
    record: bool,
) -> bevara::capture::CaptureOutcome {
    use bevara::capture::{capture_channel, CaptureOptions, Trigger};
    bevara.db().add_channel(channel).await.unwrap();
    let browser = bevara::browser::Browser::launch(&bevara.settings().browser)
        .await
        .unwrap();
    let options = CaptureOptions {
        record,
        pace: false,
    };
    let outcome = capture_channel(
        bevara,
        &browser,
        channel,
        Trigger::manual(None),
        &options,
        None,
    )
    .await;
    browser.close().await;
    outcome.unwrap_or_else(|e| panic!("{}: {e}", channel.url))
}

/// One frame of `video` at `secs`, written as `frame-SECS.png` in `dir`.
#[allow(dead_code)]
pub fn frame_png(video: &std::path::Path, secs: f64, dir: &std::path::Path) -> std::path::PathBuf {
    let png = dir.join(format!("frame-{secs:.2}.png"));
    let out = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-ss", &format!("{secs:.3}"), "-i"])
        .arg(video)
        .args(["-frames:v", "1", "-f", "image2", "-y"])
        .arg(&png)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    png
}

/// The stored file of the artifact `name` of a capture; panics naming the
/// artifacts there are when it is missing.
pub fn artifact_path(
    bevara: &Bevara,
    outcome: &bevara::capture::CaptureOutcome,
    name: &str,
) -> std::path::PathBuf {
    let a = outcome
        .manifest
        .artifacts
        .iter()
        .find(|a| a.name == name)
        .unwrap_or_else(|| panic!("no {name} in {:?}", outcome.manifest.artifacts));
    bevara.store().local_path(&a.key).unwrap()
}

/// How a run of the `bevara` command ended.
#[allow(dead_code)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub took: std::time::Duration,
}

/// Runs the `bevara` binary in `data` with its data directory `data/data`
/// and `env` on top of the test's environment.
#[allow(dead_code)]
pub async fn bevara(data: &Path, env: &[(&str, &str)], args: &[&str]) -> Run {
    let started = std::time::Instant::now();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_bevara"))
        .args(args)
        .current_dir(data)
        .env_remove("BEVARA_CONFIG")
        .env("BEVARA_DATA_DIR", data.join("data"))
        .envs(env.iter().copied())
        .kill_on_drop(true)
        .output()
        .await
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        took: started.elapsed(),
    }
}

/// Registers the sample feed of `site` as channel `id` (Facebook-like, no
/// recording) through the CLI in `data`; returns the feed's address.
#[allow(dead_code)]
pub async fn add_feed_channel(data: &Path, site: SocketAddr, id: &str) -> String {
    let feed = format!("http://{site}/site/feed.html");
    let r = bevara(
        data,
        &[],
        &[
            "channel",
            "add",
            id,
            "--platform",
            "facebook",
            "--url",
            &feed,
            "--no-recording",
        ],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    feed
}

/// The newest snapshot id `bevara snapshots list` shows in `data`.
#[allow(dead_code)]
pub async fn newest_snapshot(data: &Path) -> String {
    let list = bevara(data, &[], &["snapshots", "list", "--json"]).await;
    let v: serde_json::Value = serde_json::from_str(&list.stdout).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .max()
        .unwrap()
}
