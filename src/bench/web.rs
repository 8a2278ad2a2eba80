//! `bevara bench web`: the API and the pages under load, in a throw-away
//! data directory: capture requests for many channels at once (they must
//! end as one job per channel), then a snapshot's page, the register and
//! Deep Zoom tiles of a 150,000 px screenshot, each with p50 and p99.

use super::{peak_rss, reset_peak_rss};
use crate::config::Settings;
use crate::web::{self, App, Role};
use http_body_util::{BodyExt, Full};
use std::time::{Duration, Instant};

/// Latencies of one kind of request.
#[derive(Debug, Clone)]
pub struct Latency {
    pub what: String,
    pub requests: usize,
    pub failed: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// What one run measured.
#[derive(Debug, Clone)]
pub struct WebBench {
    pub channels: usize,
    pub capture_requests: usize,
    pub over_secs: f64,
    /// Jobs queued for the channels afterwards: must equal `channels`.
    pub jobs: usize,
    pub latencies: Vec<Latency>,
    pub shot_height: u32,
    /// Cutting the screenshot's pyramid: time, tiles, peak memory.
    pub tiles_secs: f64,
    pub tiles: usize,
    pub tiles_rss_peak: u64,
    pub rss_before: u64,
}

async fn request(
    addr: &str,
    method: &str,
    path: &str,
    token: &str,
    body: &str,
) -> Result<(u16, usize), String> {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| e.to_string())?;
    let (mut send, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let req = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("host", addr)
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {token}"))
        .body(Full::new(bytes::Bytes::from(body.to_string())))
        .map_err(|e| e.to_string())?;
    let res = send.send_request(req).await.map_err(|e| e.to_string())?;
    let status = res.status().as_u16();
    let body = res
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok((status, body.len()))
}

fn summarize(what: &str, mut ms: Vec<f64>, failed: usize) -> Latency {
    ms.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    let at = |q: f64| {
        if ms.is_empty() {
            0.0
        } else {
            ms[((ms.len() as f64 * q).ceil() as usize).clamp(1, ms.len()) - 1]
        }
    };
    Latency {
        what: what.to_string(),
        requests: ms.len() + failed,
        failed,
        p50_ms: at(0.50),
        p99_ms: at(0.99),
        max_ms: ms.last().copied().unwrap_or(0.0),
    }
}

/// Times `paths` one after another (as one person clicks).
async fn sequential(addr: &str, token: &str, what: &str, paths: &[String]) -> Latency {
    let (mut ms, mut failed) = (Vec::new(), 0);
    for p in paths {
        let t = Instant::now();
        match request(addr, "GET", p, token, "").await {
            Ok((200, _)) => ms.push(t.elapsed().as_secs_f64() * 1000.0),
            _ => failed += 1,
        }
    }
    summarize(what, ms, failed)
}

/// Writes a `width` × `height` RGB PNG of bands and text-like stripes, row
/// by row.
fn tall_png(path: &std::path::Path, width: u32, height: u32) -> Result<(), String> {
    let f = std::fs::File::create(path).map_err(|e| e.to_string())?;
    let mut enc = png::Encoder::new(std::io::BufWriter::new(f), width, height);
    enc.set_color(png::ColorType::Rgb);
    enc.set_compression(png::Compression::Fast);
    let mut w = enc.write_header().map_err(|e| e.to_string())?;
    let mut stream = w.stream_writer().map_err(|e| e.to_string())?;
    let mut row = vec![0u8; width as usize * 3];
    use std::io::Write;
    for y in 0..height {
        let band = super::marker_color(u64::from(y / 2000));
        for x in 0..width as usize {
            // Lines of "text": dark strokes on the band's colour.
            let ink = (y % 24) < 14 && (x / 7 + y as usize / 24) % 5 != 0 && (x % 7) < 4;
            let px = if ink { [30, 30, 30] } else { band };
            row[x * 3..x * 3 + 3].copy_from_slice(&px);
        }
        stream.write_all(&row).map_err(|e| e.to_string())?;
    }
    stream.finish().map_err(|e| e.to_string())?;
    Ok(())
}

/// Runs the benchmark: `requests` capture requests for `channels` channels
/// spread over `secs` seconds, then the pages and tiles.
pub async fn run(
    settings: &Settings,
    channels: usize,
    requests: usize,
    secs: f64,
    shot_height: u32,
) -> Result<WebBench, Box<dyn std::error::Error>> {
    let (site, _demo) = crate::demo::serve(crate::demo::router()).await?;
    let url = format!("http://{site}/feed.html");
    let (dir, bevara, channel) =
        super::bench_channel(settings, crate::Platform::Facebook, &url, false).await?;
    // One real snapshot for the pages.
    let browser = crate::browser::Browser::launch(&settings.browser).await?;
    let options = crate::capture::CaptureOptions {
        record: false,
        pace: false,
    };
    let out = crate::capture::capture_channel(
        &bevara,
        &browser,
        &channel,
        crate::capture::Trigger::manual(Some("bench".into())),
        &options,
        None,
    )
    .await?;
    browser.close().await;
    let snapshot = out.snapshot_id;
    for i in 0..channels {
        let mut c = channel.clone();
        c.id = format!("kanal-{i:03}").parse()?;
        bevara.db().add_channel(&c).await?;
    }
    let (_, admin) = web::create_token(&bevara, Role::Admin, "bench", None).await?;
    let app = App::new(bevara.clone())?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?.to_string();
    let router = web::router(app.clone());
    let server = tokio::spawn(async move { axum::serve(listener, router).await });

    // Capture requests, evenly spread, each on its own connection.
    let gap = Duration::from_secs_f64(secs / requests.max(1) as f64);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..requests {
        let at = started + gap * i as u32;
        let (addr, admin) = (addr.clone(), admin.clone());
        let path = format!("/api/v1/channels/kanal-{:03}/captures", i % channels);
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep_until(at.into()).await;
            let t = Instant::now();
            let r = request(&addr, "POST", &path, &admin, r#"{"reason":"debatt"}"#).await;
            (r, t.elapsed().as_secs_f64() * 1000.0)
        }));
    }
    let (mut ms, mut failed) = (Vec::new(), 0);
    for t in tasks {
        match t.await? {
            (Ok((202, _)), took) => ms.push(took),
            _ => failed += 1,
        }
    }
    let over_secs = started.elapsed().as_secs_f64();
    let mut latencies = vec![summarize("POST capture request", ms, failed)];
    let jobs = bevara
        .db()
        .list_jobs(Some(crate::queue::JobStatus::Queued), 100_000)
        .await?
        .into_iter()
        .filter(|j| j.channel_id.starts_with("kanal-"))
        .count();

    // Pages.
    let repeat = |p: String, n: usize| vec![p; n];
    latencies.push(sequential(&addr, &admin, "GET / (register)", &repeat("/".into(), 100)).await);
    latencies.push(
        sequential(
            &addr,
            &admin,
            "GET /snapshots/{id}",
            &repeat(format!("/snapshots/{snapshot}"), 200),
        )
        .await,
    );
    latencies.push(
        sequential(
            &addr,
            &admin,
            "GET /api/v1/snapshots/{id}",
            &repeat(format!("/api/v1/snapshots/{snapshot}"), 200),
        )
        .await,
    );

    // A 150,000 px screenshot's pyramid, put where the snapshot's tiles go.
    let png = dir.path().join("tall.png");
    tall_png(&png, 1280, shot_height)?;
    let target = app.tiles.dir_of(&snapshot, "screenshot.png");
    let _ = std::fs::remove_dir_all(&target);
    let rss_before = peak_rss();
    reset_peak_rss();
    let t = Instant::now();
    let work = dir.path().join("pyramid");
    let pyramid =
        tokio::task::spawn_blocking(move || web::tiles::build(&png, &work).map(|p| (p, work)))
            .await??;
    let tiles_secs = t.elapsed().as_secs_f64();
    let tiles_rss_peak = peak_rss();
    let (pyramid, work) = pyramid;
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::rename(&work, &target)?;
    let mut tiles = 0;
    let mut paths = Vec::new();
    for level in 0..=pyramid.max_level {
        let names: Vec<String> = std::fs::read_dir(target.join(level.to_string()))?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        tiles += names.len();
        // What a viewer asks for: mostly the deepest levels, anywhere on the page.
        if level + 3 >= pyramid.max_level {
            for n in &names {
                paths.push(format!(
                    "/snapshots/{snapshot}/tiles/screenshot.png_files/{level}/{n}"
                ));
            }
        }
    }
    // In an order that jumps about the page, as zooming and panning do.
    let n = paths.len().max(1);
    let paths: Vec<String> = (0..1000.min(n))
        .map(|i| paths[(i * 7919) % n].clone())
        .collect();
    latencies.push(sequential(&addr, &admin, "GET tile (150,000 px shot)", &paths).await);
    server.abort();
    Ok(WebBench {
        channels,
        capture_requests: requests,
        over_secs,
        jobs,
        latencies,
        shot_height,
        tiles_secs,
        tiles,
        tiles_rss_peak,
        rss_before,
    })
}

pub fn format(b: &WebBench) -> String {
    let mut s = format!(
        "{} capture requests for {} channels over {:.1} s: {} jobs queued ({})\n\n",
        b.capture_requests,
        b.channels,
        b.over_secs,
        b.jobs,
        if b.jobs == b.channels {
            "one per channel, as it must be"
        } else {
            "WRONG: there must be one per channel"
        }
    );
    s.push_str(&format!(
        "{:<32} {:>8} {:>7} {:>9} {:>9} {:>9}\n",
        "request", "count", "failed", "p50 ms", "p99 ms", "max ms"
    ));
    for l in &b.latencies {
        s.push_str(&format!(
            "{:<32} {:>8} {:>7} {:>9.2} {:>9.2} {:>9.2}\n",
            l.what, l.requests, l.failed, l.p50_ms, l.p99_ms, l.max_ms
        ));
    }
    s.push_str(&format!(
        "\nDeep Zoom pyramid of a 1280 x {} px screenshot: {} tiles in {:.1} s; the process's peak RSS while cutting it {:.0} MiB (its peak before {:.0} MiB)\n",
        b.shot_height,
        b.tiles,
        b.tiles_secs,
        b.tiles_rss_peak as f64 / 1048576.0,
        b.rss_before as f64 / 1048576.0
    ));
    s
}
