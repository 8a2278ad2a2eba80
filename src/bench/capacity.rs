//! `bevara bench capacity`: what one capture costs on each platform's
//! profile (wall time, CPU seconds of Bevara, Chromium and the encoder,
//! Chromium's and Bevara's peak memory, the bytes stored), measured on the
//! platform imitations of `tests/fixtures/` with and without the recording,
//! and from those costs how many 2-core worker pods N channels need at a
//! given frequency, and what they store per year.
//!
//! The model: a pod runs one capture at a time (`worker.concurrency = 1` on
//! 2 cores) and is planned busy at most 75 % of the day, leaving room for
//! retries and slow days; it is bound by wall time, or by CPU where a
//! capture would use more than both cores. Channels are mixed as a
//! municipality's usually are (see [`MIX`]).

use crate::config::Settings;
use crate::Platform;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The share of each platform among a municipality's channels (an
/// assumption; Facebook pages are the most common, then Instagram).
pub const MIX: [(Platform, &str, f64); 6] = [
    (Platform::Facebook, "facebook", 0.35),
    (Platform::Instagram, "instagram", 0.20),
    (Platform::X, "x", 0.10),
    (Platform::Youtube, "youtube", 0.10),
    (Platform::Blog, "blog", 0.15),
    (Platform::Linkedin, "linkedin", 0.10),
];

/// How busy a pod is planned to be.
const BUSY: f64 = 0.75;
const CORES: f64 = 2.0;
const DAY: f64 = 86_400.0;

/// One platform's measured cost per capture.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Cost {
    pub platform: String,
    pub record: bool,
    pub wall_secs: f64,
    pub cpu_secs: f64,
    pub chromium_peak_bytes: u64,
    pub bevara_peak_bytes: u64,
    pub bytes: u64,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct CapacityBench {
    pub costs: Vec<Cost>,
}

/// Serves `dir` under `/fixtures/`, and the sample feed at `/feed.html`.
fn router(dir: PathBuf) -> axum::Router {
    use axum::extract::Path as UrlPath;
    use axum::http::{header, StatusCode};
    use axum::response::IntoResponse;
    let files = move |UrlPath(path): UrlPath<String>| {
        let dir = dir.clone();
        async move {
            if path.split('/').any(|s| s == ".." || s.is_empty()) {
                return StatusCode::NOT_FOUND.into_response();
            }
            let p = dir.join(&path);
            let mime = match p.extension().and_then(|e| e.to_str()) {
                Some("html") => "text/html; charset=utf-8",
                Some("js") => "text/javascript; charset=utf-8",
                Some("css") => "text/css; charset=utf-8",
                Some("json") => "application/json",
                Some("png") => "image/png",
                Some("jpg" | "jpeg") => "image/jpeg",
                Some("svg") => "image/svg+xml",
                _ => "application/octet-stream",
            };
            match tokio::fs::read(&p).await {
                Ok(b) => ([(header::CONTENT_TYPE, mime)], b).into_response(),
                Err(_) => StatusCode::NOT_FOUND.into_response(),
            }
        }
    };
    crate::demo::router().route("/fixtures/{*path}", axum::routing::get(files))
}

/// Measures every platform of [`MIX`], without and with the recording.
pub async fn run(
    settings: &Settings,
    fixtures: &Path,
) -> Result<CapacityBench, Box<dyn std::error::Error>> {
    if !fixtures.join("instagram/index.html").is_file() {
        return Err(format!(
            "{} does not hold the platform imitations (run from the repository, or give --fixtures)",
            fixtures.display()
        )
        .into());
    }
    let (addr, _server) = crate::demo::serve(router(fixtures.to_path_buf())).await?;
    let mut costs = Vec::new();
    for record in [false, true] {
        for (platform, name, _) in MIX {
            let url = match platform {
                Platform::Facebook => format!("http://{addr}/feed.html"),
                _ => format!("http://{addr}/fixtures/{name}/index.html"),
            };
            let bench = super::capture::CaptureBench {
                url: Some(url),
                platform,
                record,
                runs: 1,
                latency: Duration::ZERO,
                tick: None,
            };
            let report = super::capture::run(settings, &bench).await?;
            let r = report.runs.first().ok_or("no run")?;
            eprintln!(
                "{name:<10} {}: {:.1} s",
                if record { "recorded" } else { "no video" },
                r.wall_secs
            );
            costs.push(Cost {
                platform: name.to_string(),
                record,
                wall_secs: r.wall_secs,
                cpu_secs: r.bevara_cpu_secs
                    + r.chromium_cpu_secs
                    + r.encoder_cpu_secs.unwrap_or(0.0),
                chromium_peak_bytes: r.chromium_peak_rss,
                bevara_peak_bytes: r.bevara_peak_rss,
                bytes: r.artifact_bytes,
            });
        }
    }
    Ok(CapacityBench { costs })
}

/// A capture's cost averaged over the mix: (wall s, CPU s, bytes).
pub fn mixed(costs: &[Cost], record: bool) -> (f64, f64, f64) {
    let mut out = (0.0, 0.0, 0.0);
    for (_, name, share) in MIX {
        if let Some(c) = costs
            .iter()
            .find(|c| c.platform == name && c.record == record)
        {
            out.0 += share * c.wall_secs;
            out.1 += share * c.cpu_secs;
            out.2 += share * c.bytes as f64;
        }
    }
    out
}

/// Pods of 2 cores for `channels` captured `per_year` times a year each.
pub fn pods(channels: u64, per_year: f64, wall: f64, cpu: f64) -> u64 {
    let per_day = channels as f64 * per_year / 365.0;
    let by_wall = per_day * wall / (DAY * BUSY);
    let by_cpu = per_day * cpu / (DAY * BUSY * CORES);
    (by_wall.max(by_cpu).ceil() as u64).max(1)
}

/// The frequencies of the table.
pub const FREQUENCIES: [(&str, f64); 3] =
    [("twice a year", 2.0), ("daily", 365.0), ("hourly", 8_760.0)];

fn human(bytes: f64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = bytes;
    let mut u = 0;
    while v >= 1024.0 && u < units.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    format!("{v:.1} {}", units[u])
}

pub fn format(b: &CapacityBench) -> String {
    let mib = |x: u64| x as f64 / 1_048_576.0;
    let mut s = format!(
        "per capture, measured on the platform imitations ({} build of Bevara):\n\
         platform    video  wall s   CPU s  Chromium peak  Bevara peak  stored\n",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );
    for c in &b.costs {
        s.push_str(&format!(
            "{:<10}  {:<5}  {:>6.1}  {:>6.1}  {:>9.0} MiB  {:>7.0} MiB  {:>6.1} MiB\n",
            c.platform,
            if c.record { "yes" } else { "no" },
            c.wall_secs,
            c.cpu_secs,
            mib(c.chromium_peak_bytes),
            mib(c.bevara_peak_bytes),
            mib(c.bytes)
        ));
    }
    let peak = b
        .costs
        .iter()
        .map(|c| c.chromium_peak_bytes + c.bevara_peak_bytes)
        .max()
        .unwrap_or(0);
    s.push_str(&format!(
        "largest peak (Chromium + Bevara): {:.0} MiB\n\n",
        mib(peak)
    ));
    for record in [false, true] {
        let (wall, cpu, bytes) = mixed(&b.costs, record);
        s.push_str(&format!(
            "{} (mixed capture: {wall:.1} s wall, {cpu:.1} s CPU, {} stored):\n\
             channels  frequency     2-core pods  stored per channel-year  stored per year\n",
            if record {
                "with recording"
            } else {
                "without recording"
            },
            human(bytes)
        ));
        for n in [100u64, 1_000, 10_000] {
            for (name, per_year) in FREQUENCIES {
                s.push_str(&format!(
                    "{n:>8}  {name:<12}  {:>11}  {:>23}  {:>15}\n",
                    pods(n, per_year, wall, cpu),
                    human(bytes * per_year),
                    human(bytes * per_year * n as f64)
                ));
            }
        }
        // The baseline fires every channel at once: how long the round takes.
        for n in [100u64, 1_000, 10_000] {
            let p = pods(n, 2.0, wall, cpu).max(2);
            s.push_str(&format!(
                "a baseline round of {n} channels (all due at once) drains in {:.1} h on {p} pods\n",
                n as f64 * wall / p as f64 / 3600.0
            ));
        }
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pods_follow_wall_time_or_cpu() {
        // 100 channels daily at 60 s each: 6,000 s a day, one pod.
        assert_eq!(pods(100, 365.0, 60.0, 60.0), 1);
        // 10,000 channels daily at 60 s: 600,000 s a day over 64,800 s per pod.
        assert_eq!(pods(10_000, 365.0, 60.0, 60.0), 10);
        // A capture that uses three cores' worth is bound by CPU.
        assert_eq!(pods(10_000, 365.0, 60.0, 180.0), 14);
    }

    #[test]
    fn the_mix_adds_up() {
        let total: f64 = MIX.iter().map(|(_, _, s)| s).sum();
        assert!((total - 1.0).abs() < 1e-9);
    }
}
