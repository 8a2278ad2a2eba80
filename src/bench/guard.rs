//! `bevara bench guard`: what the egress guard costs, per request and per capture.

use crate::browser::guard::{system_resolver, Guard, Policy};
use crate::config::Settings;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Captures skip the guard while this is set: for this benchmark's
/// comparison only, never set by any setting.
static UNGUARDED: AtomicBool = AtomicBool::new(false);

/// Whether captures skip the egress guard (only inside this benchmark).
pub(crate) fn unguarded() -> bool {
    UNGUARDED.load(Ordering::SeqCst)
}

/// The guard's figures.
#[derive(Debug, Clone)]
pub struct GuardBench {
    pub requests: usize,
    /// Mean time of one GET on a fresh connection, straight to the server.
    pub direct_ms: f64,
    /// The same through the guard.
    pub guarded_ms: f64,
    /// The sample channel captured without and with the guard.
    pub capture_direct_s: f64,
    pub capture_guarded_s: f64,
}

async fn get(connect: &str, request: &str) -> std::io::Result<usize> {
    let mut s = tokio::net::TcpStream::connect(connect).await?;
    s.write_all(request.as_bytes()).await?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await?;
    Ok(buf.len())
}

/// Times `n` GETs direct and through a guard, then two captures of the
/// sample channel.
pub async fn run(settings: &Settings, n: usize) -> Result<GuardBench, Box<dyn std::error::Error>> {
    let body = "x".repeat(4096);
    let app = axum::Router::new().route("/", axum::routing::get(move || async move { body }));
    let (addr, _server) = crate::demo::serve(app).await?;
    let request = format!("GET / HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    let t = Instant::now();
    for _ in 0..n {
        get(&addr.to_string(), &request).await?;
    }
    let direct_ms = t.elapsed().as_secs_f64() * 1000.0 / n as f64;
    let policy = Policy::new(false, &["127.0.0.1/32".into()])?;
    let guard = Guard::start(policy, system_resolver()).await?;
    let proxy = guard
        .proxy_server()
        .trim_start_matches("http://")
        .to_string();
    let proxied =
        format!("GET http://{addr}/ HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    let t = Instant::now();
    for _ in 0..n {
        get(&proxy, &proxied).await?;
    }
    let guarded_ms = t.elapsed().as_secs_f64() * 1000.0 / n as f64;

    let (site, _demo) = crate::demo::serve(crate::demo::router()).await?;
    let (_dir, bevara, channel) = super::bench_channel(
        settings,
        crate::Platform::Facebook,
        &format!("http://{site}/feed.html"),
        false,
    )
    .await?;
    let browser = crate::browser::Browser::launch(&settings.browser).await?;
    let options = crate::capture::CaptureOptions {
        record: false,
        pace: false,
    };
    let mut secs = [0.0; 2];
    for (i, direct) in [true, false].into_iter().enumerate() {
        UNGUARDED.store(direct, Ordering::SeqCst);
        let t = Instant::now();
        let r = crate::capture::capture_channel(
            &bevara,
            &browser,
            &channel,
            crate::capture::Trigger::manual(Some("bench".into())),
            &options,
            None,
        )
        .await;
        UNGUARDED.store(false, Ordering::SeqCst);
        r?;
        secs[i] = t.elapsed().as_secs_f64();
    }
    browser.close().await;
    Ok(GuardBench {
        requests: n,
        direct_ms,
        guarded_ms,
        capture_direct_s: secs[0],
        capture_guarded_s: secs[1],
    })
}

pub fn format(b: &GuardBench) -> String {
    format!(
        "{} GETs of 4 KB on fresh connections: direct {:.2} ms, through the guard {:.2} ms (+{:.2} ms a request)\n\
         sample channel captured without the guard {:.1} s, with it {:.1} s ({:+.1} %)\n",
        b.requests,
        b.direct_ms,
        b.guarded_ms,
        b.guarded_ms - b.direct_ms,
        b.capture_direct_s,
        b.capture_guarded_s,
        (b.capture_guarded_s / b.capture_direct_s.max(1e-9) - 1.0) * 100.0
    )
}
