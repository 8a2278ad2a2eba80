//! Benchmarks printed by `bevara bench`: wall time per phase and peak memory
//! for full-page screenshots of tall generated pages, whole captures
//! ([`capture`] on the [`bigfeed`]), the recording, opened posts, the egress
//! guard and the queue.

pub mod bigfeed;
pub mod capacity;
pub mod capture;
pub mod export;
pub mod guard;
pub mod queue;
pub mod upload;
pub mod web;

/// A page `height` px tall with a coloured marker band every 1,000 px and a
/// sticky header: the test and benchmark page for tiled screenshots.
/// Band `i` (at y = i × 1000 + 100, 200 px tall) has the colour [`marker_color`]`(i)`.
pub fn tall_page_html(height: u64) -> String {
    let bands = height / 1000;
    let mut body = String::with_capacity(bands as usize * 120);
    for i in 0..bands {
        let [r, g, b] = marker_color(i);
        body.push_str(&format!(
            "<div class=m style=\"top:{}px;background:rgb({r},{g},{b})\">{i}</div>",
            i * 1000 + 100
        ));
    }
    format!(
        "<!doctype html><html><head><meta charset=utf-8><title>Hög sida {height}</title><style>\
         html,body{{margin:0;background:#fff}}\
         #top{{position:sticky;top:0;height:50px;background:rgb(10,20,30);color:#fff;z-index:9}}\
         #page{{position:relative;height:{}px}}\
         .m{{position:absolute;left:0;width:100%;height:200px;font:40px sans-serif}}\
         </style></head><body><div id=top>Bevara testsida</div><div id=page>{body}</div></body></html>",
        height - 50
    )
}

/// The colour of marker band `i`: distinct for neighbours, never white or the header's.
pub fn marker_color(i: u64) -> [u8; 3] {
    let r = (40 + (i * 67) % 200) as u8;
    let g = (40 + (i * 131) % 200) as u8;
    let b = (40 + (i * 29) % 200) as u8;
    [r, g, b]
}

use crate::browser::{Browser, BrowserError};
use crate::capture::screenshot::{full_page, ScreenshotError, ScreenshotStats};
use crate::config::Settings;
use std::time::{Duration, Instant};

/// One benchmark row.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ShotRow {
    pub height: u64,
    pub load_ms: u64,
    pub stats: ScreenshotStats,
    pub png_bytes: u64,
    /// Peak resident memory of this process during the screenshot.
    pub bevara_peak_rss: u64,
    /// Peak resident memory of Chromium's processes, summed, sampled every 100 ms.
    pub chromium_peak_rss: u64,
    /// Every marker band has its colour at its place in the stitched PNG.
    pub markers_ok: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error(transparent)]
    Browser(#[from] BrowserError),
    #[error(transparent)]
    Screenshot(#[from] ScreenshotError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// The document y of marker band `i` on [`tall_page_html`] (below the 50 px header).
pub fn marker_top(i: u64) -> u64 {
    50 + i * 1000 + 100
}

/// Screenshots generated pages of the given heights and measures each.
pub async fn screenshot(
    settings: &Settings,
    heights: &[u64],
    tile_height: u32,
) -> Result<Vec<ShotRow>, BenchError> {
    use axum::extract::Path as UrlPath;
    let router = axum::Router::new().route(
        "/tall/{h}",
        axum::routing::get(|UrlPath(h): UrlPath<u64>| async move {
            axum::response::Html(tall_page_html(h))
        }),
    );
    let (addr, server) = crate::demo::serve(router).await?;
    let mut browser = Browser::launch(&settings.browser).await?;
    let chromium_pid = browser.pid();
    let dir = tempfile::tempdir()?;
    let mut rows = Vec::new();
    for &height in heights {
        let ctx = browser.new_context().await?;
        let t = Instant::now();
        ctx.page
            .goto(format!("http://{addr}/tall/{height}"))
            .await
            .map_err(|source| BrowserError::Cdp {
                what: "Page.navigate",
                source,
            })?;
        let load_ms = t.elapsed().as_millis() as u64;
        let out = dir.path().join(format!("tall-{height}.png"));
        reset_peak_rss();
        let sampler = chromium_pid.map(spawn_rss_sampler);
        let stats = full_page(
            &ctx.page,
            &out,
            settings.browser.viewport_width,
            height,
            tile_height,
            Duration::from_secs(settings.capture.artifact_timeout_secs),
        )
        .await?;
        let bevara_peak_rss = peak_rss();
        let chromium_peak_rss = match sampler {
            Some((stop, task)) => {
                let _ = stop.send(());
                task.await.unwrap_or(0)
            }
            None => 0,
        };
        browser.dispose(ctx).await;
        let png_bytes = std::fs::metadata(&out)?.len();
        let markers_ok = check_markers(&out, height).unwrap_or(false);
        std::fs::remove_file(&out)?;
        rows.push(ShotRow {
            height,
            load_ms,
            stats,
            png_bytes,
            bevara_peak_rss,
            chromium_peak_rss,
            markers_ok,
        });
    }
    browser.close().await;
    server.abort();
    Ok(rows)
}

/// Checks every marker band's colour in a stitched PNG, streaming its rows.
pub fn check_markers(path: &std::path::Path, height: u64) -> Result<bool, String> {
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut reader = png::Decoder::new(std::io::BufReader::new(file))
        .read_info()
        .map_err(|e| e.to_string())?;
    let (w, h) = (reader.info().width as usize, reader.info().height as u64);
    if h != height {
        return Ok(false);
    }
    let channels = reader.info().color_type.samples();
    let mut y = 0u64;
    let mut ok = true;
    while let Some(row) = reader.next_row().map_err(|e| e.to_string())? {
        // Sample the middle row of each band, and the row just above each band (white).
        if y >= 150 && (y - 150) % 1000 == 100 {
            let i = (y - 250) / 1000;
            let px = &row.data()[(w / 2) * channels..(w / 2) * channels + 3];
            ok &= px == marker_color(i);
        }
        if y >= 150 && (y - 150) % 1000 == 999 && y + 1 < h {
            let px = &row.data()[(w / 2) * channels..(w / 2) * channels + 3];
            ok &= px == [255, 255, 255];
        }
        y += 1;
    }
    Ok(ok)
}

/// Formats benchmark rows as a table with the figures the targets speak of.
pub fn format_table(rows: &[ShotRow]) -> String {
    let mut out = String::from(
        "height_px  tiles  load_ms  chromium_ms  stitch_ms  total_ms  stitch/chromium  png_MB  bevara_peak_MB  chromium_peak_MB  markers\n",
    );
    for r in rows {
        let s = &r.stats;
        out.push_str(&format!(
            "{:>9}  {:>5}  {:>7}  {:>11}  {:>9}  {:>8}  {:>15.2}  {:>6.1}  {:>14.1}  {:>16.1}  {}\n",
            r.height,
            s.tiles,
            r.load_ms,
            s.chromium_ms,
            s.stitch_ms,
            s.total_ms,
            s.stitch_ms as f64 / s.chromium_ms.max(1) as f64,
            r.png_bytes as f64 / 1e6,
            r.bevara_peak_rss as f64 / 1048576.0,
            r.chromium_peak_rss as f64 / 1048576.0,
            if r.markers_ok { "ok" } else { "WRONG" }
        ));
    }
    out
}

/// Resets this process's peak RSS counter (Linux `clear_refs` 5).
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// This process's peak RSS in bytes since the last reset.
pub fn peak_rss() -> u64 {
    status_kb("/proc/self/status", "VmHWM:") * 1024
}

fn status_kb(path: &str, field: &str) -> u64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// Sum of the RSS of `root` and all its descendants, in bytes.
fn tree_rss(root: u32) -> u64 {
    tree_pids(root)
        .iter()
        .map(|p| status_kb(&format!("/proc/{p}/status"), "VmRSS:") * 1024)
        .sum()
}

/// `root` and all its descendants.
fn tree_pids(root: u32) -> Vec<u32> {
    let mut parents: Vec<(u32, u32)> = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            // The command may contain spaces: fields after the last ')'.
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|p| p.parse().ok())
                .unwrap_or(0);
            parents.push((pid, ppid));
        }
    }
    let mut tree = vec![root];
    let mut i = 0;
    while i < tree.len() {
        let p = tree[i];
        tree.extend(parents.iter().filter(|(_, pp)| *pp == p).map(|(c, _)| *c));
        i += 1;
    }
    tree
}

/// CPU time (user + system) a process has used, in seconds; 0 when it is gone.
fn cpu_secs(pid: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            // utime and stime: fields 14 and 15, the 12th and 13th after the command.
            let rest = stat.rsplit_once(')')?.1;
            let mut f = rest.split_whitespace().skip(11);
            let u: f64 = f.next()?.parse().ok()?;
            let s: f64 = f.next()?.parse().ok()?;
            // /proc counts in USER_HZ, 100 a second on Linux.
            Some((u + s) / 100.0)
        })
        .unwrap_or(0.0)
}

fn spawn_rss_sampler(
    root: u32,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<u64>,
) {
    let (tx, mut rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::task::spawn_blocking(move || {
        let mut peak = 0;
        loop {
            peak = peak.max(tree_rss(root));
            if rx.try_recv().is_ok() {
                return peak;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    (tx, task)
}

/// One run of the recording benchmark.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RecordingRow {
    pub mode: &'static str,
    pub wall_secs: f64,
    pub pass_secs: f64,
    pub video_secs: f64,
    pub video_bytes: u64,
    pub encoder_cpu_secs: f64,
    pub frames_received: u64,
}

/// A throw-away installation with one channel registered, for a benchmark
/// that captures a page served on 127.0.0.1.
async fn bench_channel(
    settings: &Settings,
    platform: crate::Platform,
    url: &str,
    recording: bool,
) -> Result<(tempfile::TempDir, crate::Bevara, crate::Channel), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let mut s = settings.clone();
    s.data_dir = dir.path().to_path_buf();
    s.allow_private_addresses = true;
    let bevara = crate::Bevara::open(s).await?;
    let channel = crate::Channel {
        id: "bench".parse()?,
        platform,
        url: url.to_string(),
        name: Some("Benchmark".into()),
        owner: None,
        admins: vec![],
        purpose: None,
        tags: vec![],
        opened_at: chrono::Utc::now(),
        closed_at: None,
        retain_days: None,
        recording,
    };
    bevara.db().add_channel(&channel).await?;
    Ok((dir, bevara, channel))
}

/// Captures the sample channel twice at the same pacing, without and with the
/// screen recording, in a throw-away data directory.
pub async fn recording(
    settings: &Settings,
) -> Result<Vec<RecordingRow>, Box<dyn std::error::Error>> {
    use crate::capture::{capture_channel, CaptureOptions, Trigger};
    let (addr, server) = crate::demo::serve(crate::demo::router()).await?;
    let (_dir, bevara, channel) = bench_channel(
        settings,
        crate::Platform::Facebook,
        &format!("http://{addr}/feed.html"),
        true,
    )
    .await?;
    let browser = Browser::launch(&settings.browser).await?;
    let mut rows = Vec::new();
    for (mode, record) in [("paced, no recording", false), ("paced, recording", true)] {
        let options = CaptureOptions { record, pace: true };
        let t = Instant::now();
        let outcome = capture_channel(
            &bevara,
            &browser,
            &channel,
            Trigger::manual(Some("bench".into())),
            &options,
            None,
        )
        .await?;
        let wall_secs = t.elapsed().as_secs_f64();
        let m = &outcome.manifest;
        let video = m
            .artifacts
            .iter()
            .find(|a| a.name.starts_with("recording."));
        rows.push(RecordingRow {
            mode,
            wall_secs,
            pass_secs: m.behaviour.duration_ms as f64 / 1000.0,
            video_secs: m.recording.as_ref().map_or(0.0, |r| r.duration_secs),
            video_bytes: video.map_or(0, |v| v.bytes),
            encoder_cpu_secs: m.recording.as_ref().map_or(0.0, |r| r.encoder_cpu_secs),
            frames_received: m.recording.as_ref().map_or(0, |r| r.frames_received),
        });
    }
    browser.close().await;
    server.abort();
    Ok(rows)
}

/// Formats the recording benchmark with the figures its targets speak of.
pub fn format_recording(rows: &[RecordingRow]) -> String {
    let mut out = String::from(
        "mode                  wall_s  pass_s  video_s  video_MB  MB_per_min  encoder_cpu_s  encoder_cores  frames_in\n",
    );
    for r in rows {
        let per_min = if r.video_secs > 0.0 {
            r.video_bytes as f64 / 1e6 / (r.video_secs / 60.0)
        } else {
            0.0
        };
        let cores = if r.video_secs > 0.0 {
            r.encoder_cpu_secs / r.video_secs
        } else {
            0.0
        };
        out.push_str(&format!(
            "{:<20}  {:>6.1}  {:>6.1}  {:>7.1}  {:>8.2}  {:>10.2}  {:>13.1}  {:>13.2}  {:>9}\n",
            r.mode,
            r.wall_secs,
            r.pass_secs,
            r.video_secs,
            r.video_bytes as f64 / 1e6,
            per_min,
            r.encoder_cpu_secs,
            cores,
            r.frames_received
        ));
    }
    if let [a, b] = rows {
        out.push_str(&format!(
            "recording adds {:.1} % to wall time\n",
            (b.wall_secs / a.wall_secs - 1.0) * 100.0
        ));
    }
    out
}

/// The Instagram-like fixture, served by `bench posts`.
const IG_FILES: &[(&str, &str, &str)] = &[
    (
        "index.html",
        "text/html; charset=utf-8",
        include_str!("../tests/fixtures/instagram/index.html"),
    ),
    (
        "index.js",
        "text/javascript; charset=utf-8",
        include_str!("../tests/fixtures/instagram/index.js"),
    ),
    (
        "ig.css",
        "text/css; charset=utf-8",
        include_str!("../tests/fixtures/instagram/ig.css"),
    ),
    (
        "elsewhere.html",
        "text/html; charset=utf-8",
        include_str!("../tests/fixtures/instagram/elsewhere.html"),
    ),
];

/// One post of the posts benchmark, with the capture's totals.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PostsBench {
    pub posts: Vec<crate::behaviour::PostReport>,
    /// Heights of the `post-NNN.png` images, in post order.
    pub heights: Vec<u32>,
    pub page_pass_ms: u64,
    pub wall_secs: f64,
    pub items: usize,
    pub bevara_peak_rss: u64,
    pub chromium_peak_rss: u64,
}

/// Captures the Instagram-like grid (9 posts, 159 items) once, opening every
/// post's dialog, and reports the time per post and the peak memory.
pub async fn posts(settings: &Settings) -> Result<PostsBench, Box<dyn std::error::Error>> {
    use crate::capture::{capture_channel, CaptureOptions, Trigger};
    use axum::extract::Path as UrlPath;
    use axum::response::IntoResponse;
    let router = axum::Router::new().route(
        "/instagram/{file}",
        axum::routing::get(|UrlPath(file): UrlPath<String>| async move {
            match IG_FILES.iter().find(|(name, _, _)| *name == file) {
                Some((_, ct, body)) => {
                    ([(axum::http::header::CONTENT_TYPE, *ct)], *body).into_response()
                }
                None => axum::http::StatusCode::NOT_FOUND.into_response(),
            }
        }),
    );
    let (addr, server) = crate::demo::serve(router).await?;
    let (_dir, bevara, channel) = bench_channel(
        settings,
        crate::Platform::Instagram,
        &format!("http://{addr}/instagram/index.html"),
        false,
    )
    .await?;
    let mut browser = Browser::launch(&settings.browser).await?;
    let sampler = browser.pid().map(spawn_rss_sampler);
    reset_peak_rss();
    let t = Instant::now();
    let options = CaptureOptions {
        record: false,
        pace: false,
    };
    let outcome = capture_channel(
        &bevara,
        &browser,
        &channel,
        Trigger::manual(Some("bench".into())),
        &options,
        None,
    )
    .await;
    let wall_secs = t.elapsed().as_secs_f64();
    let bevara_peak_rss = peak_rss();
    let chromium_peak_rss = match sampler {
        Some((stop, task)) => {
            let _ = stop.send(());
            task.await.unwrap_or(0)
        }
        None => 0,
    };
    browser.close().await;
    server.abort();
    let m = outcome?.manifest;
    let heights = m
        .artifacts
        .iter()
        .filter(|a| a.name.starts_with("post-") && a.name.ends_with(".png"))
        .map(|a| a.height.unwrap_or(0))
        .collect();
    Ok(PostsBench {
        items: m.behaviour.items_collected,
        page_pass_ms: m.behaviour.duration_ms,
        posts: m.behaviour.posts,
        heights,
        wall_secs,
        bevara_peak_rss,
        chromium_peak_rss,
    })
}

/// Formats the posts benchmark: a row per post, then the totals.
pub fn format_posts(b: &PostsBench) -> String {
    let mut out = String::from("post  opened_as  items  expanders  scroll_steps  png_height  ms\n");
    for (p, h) in b
        .posts
        .iter()
        .zip(b.heights.iter().chain(std::iter::repeat(&0)))
    {
        out.push_str(&format!(
            "{:>4}  {:<9}  {:>5}  {:>9}  {:>12}  {:>10}  {:>5}\n",
            p.index, p.opened_as, p.items, p.expanders_clicked, p.scroll_steps, h, p.duration_ms
        ));
    }
    let n = b.posts.len().max(1) as f64;
    let posts_ms: u64 = b.posts.iter().map(|p| p.duration_ms).sum();
    out.push_str(&format!(
        "{} posts, {} items in {:.1} s (page pass {:.1} s, {:.1} s per post); bevara peak {:.1} MB, chromium peak {:.0} MB\n",
        b.posts.len(),
        b.items,
        b.wall_secs,
        b.page_pass_ms as f64 / 1000.0,
        posts_ms as f64 / 1000.0 / n,
        b.bevara_peak_rss as f64 / 1e6,
        b.chromium_peak_rss as f64 / 1e6,
    ));
    out
}
