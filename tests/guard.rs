//! The egress guard with real Chromium: with only 127.0.0.1/32 allowed, a
//! page that tries every kind of request towards a second host on 127.0.0.2
//! is captured with its own content while that host sees no connection; a
//! redirect there fails the capture as refused; a name that rebinds to
//! loopback never reaches it.

mod common;

use axum::response::{Html, Redirect};
use axum::routing::get;
use axum::Router;
use bevara::browser::guard::{Guard, Policy, Resolver};
use bevara::capture::{capture_channel, CaptureError, CaptureOptions, Trigger};
use bevara::config::Layers;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A host on 127.0.0.2 that counts every connection made to it.
async fn watched_host(port: u16) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind(("127.0.0.2", port))
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            let _ = s
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nno")
                .await;
        }
    });
    (addr, seen)
}

/// Every kind of request a page can make, towards `other`.
fn every_kind(other: SocketAddr) -> String {
    let o = format!("http://{other}");
    format!(
        r#"<!doctype html><meta charset=utf-8><title>Vaktad sida</title>
<link rel=stylesheet href="{o}/style.css"><link rel=prefetch href="{o}/prefetch">
<script src="{o}/script.js"></script>
<h1>GUARDTOKEN finns här</h1>
<img src="{o}/bild.png"><iframe src="{o}/ram"></iframe>
<iframe name=sink></iframe>
<form id=f action="{o}/post" method=post target=sink><input name=a value=1></form>
<video src="{o}/video.mp4"></video>
<script>
fetch("{o}/fetch").catch(() => {{}});
const x = new XMLHttpRequest(); x.open("GET", "{o}/xhr"); x.send();
try {{ new WebSocket("ws://{other}/ws"); }} catch (e) {{}}
try {{ new EventSource("{o}/events"); }} catch (e) {{}}
navigator.sendBeacon("{o}/beacon", "x");
document.getElementById("f").submit();
const w = new Worker(URL.createObjectURL(new Blob(['fetch("{o}/worker")'])));
window.open("{o}/popup");

</script>"#
    )
}

async fn site(other: SocketAddr) -> SocketAddr {
    let page = every_kind(other);
    let app = Router::new()
        .route("/alla", get(move || async move { Html(page) }))
        .route(
            "/vidare",
            get(move || async move { Redirect::temporary(&format!("http://{other}/landning")) }),
        );
    let (addr, _task) = bevara::demo::serve(app).await.unwrap();
    addr
}

fn guarded_settings(dir: &std::path::Path) -> bevara::Settings {
    Layers::default()
        .flag("data_dir", dir.display().to_string())
        .flag("network.allow", vec!["127.0.0.1/32".to_string()])
        .flag("capture.page_load_timeout_secs", 10i64)
        .flag("capture.max_duration_secs", 30i64)
        .resolve()
        .unwrap()
}

#[tokio::test]
async fn only_allowed_addresses_are_reached() {
    let (other, seen) = watched_host(0).await;
    let addr = site(other).await;
    let dir = tempfile::tempdir().unwrap();
    let bevara = bevara::Bevara::open(guarded_settings(dir.path()))
        .await
        .unwrap();
    let browser = bevara::browser::Browser::launch(&bevara.settings().browser)
        .await
        .unwrap();
    let options = CaptureOptions {
        record: false,
        pace: false,
    };

    let page = common::channel("vaktad", &format!("http://{addr}/alla"));
    bevara.db().add_channel(&page).await.unwrap();
    let o = capture_channel(
        &bevara,
        &browser,
        &page,
        Trigger::manual(None),
        &options,
        None,
    )
    .await
    .unwrap();
    let text = std::fs::read_to_string(o.local_dir.as_ref().unwrap().join("text.txt")).unwrap();
    assert!(text.contains("GUARDTOKEN"), "{text}");
    let warning = o
        .manifest
        .warnings
        .iter()
        .find(|w| w.contains("egress guard"))
        .unwrap_or_else(|| panic!("no guard warning in {:?}", o.manifest.warnings));
    assert!(warning.contains(&other.to_string()), "{warning}");

    let redirect = common::channel("vidare", &format!("http://{addr}/vidare"));
    bevara.db().add_channel(&redirect).await.unwrap();
    let e = capture_channel(
        &bevara,
        &browser,
        &redirect,
        Trigger::manual(None),
        &options,
        None,
    )
    .await
    .unwrap_err();
    assert!(matches!(e, CaptureError::Refused { .. }), "{e}");
    assert!(e.to_string().contains(&other.to_string()), "{e}");
    assert_eq!(e.exit_code(), bevara::ExitCode::InvalidTarget);
    browser.close().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(seen.load(Ordering::SeqCst), 0, "127.0.0.2 was reached");
}

/// A GET through the proxy at `proxy` for `url`: the status.
async fn get_via(proxy: &str, url: &str, host: &str) -> u16 {
    let mut s = tokio::net::TcpStream::connect(proxy.trim_start_matches("http://"))
        .await
        .unwrap();
    let req = format!("GET {url} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    String::from_utf8_lossy(&buf)
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn a_rebinding_name_never_connects_to_loopback() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let app = Router::new().route("/", get(|| async { "ja" }));
    let allowed = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    tokio::spawn(async move { axum::serve(allowed, app).await.unwrap() });
    let (_, seen) = watched_host(port).await;
    // Answers the allowed address first, then the internal one.
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let resolver: Resolver = Arc::new(move |_host, _port| {
        let n = c.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            let ip: IpAddr = if n == 0 { "127.0.0.1" } else { "127.0.0.2" }
                .parse()
                .unwrap();
            Ok(vec![ip])
        })
    });
    let policy = Policy::new(false, &["127.0.0.1/32".into()]).unwrap();
    let guard = Guard::start(policy, resolver).await.unwrap();
    let host = format!("rebind.test:{port}");
    let url = format!("http://{host}/");
    assert_eq!(get_via(&guard.proxy_server(), &url, &host).await, 200);
    assert_eq!(get_via(&guard.proxy_server(), &url, &host).await, 403);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(
        seen.load(Ordering::SeqCst),
        0,
        "the rebound address was reached"
    );
    let blocked = guard.blocked();
    assert_eq!(blocked.len(), 1);
    assert!(blocked[0].reason.contains("127.0.0.2"), "{blocked:?}");
    // A CONNECT tunnel is checked the same way.
    let mut s = tokio::net::TcpStream::connect(guard.proxy_server().trim_start_matches("http://"))
        .await
        .unwrap();
    s.write_all(
        format!("CONNECT 127.0.0.2:{port} HTTP/1.1\r\nHost: 127.0.0.2:{port}\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 403"));
    assert_eq!(seen.load(Ordering::SeqCst), 0);
}
