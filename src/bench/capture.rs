//! `bevara bench capture`: one page captured through the normal capture path
//! ([`run_job`], as the CLI, the worker and the web run it) in a throw-away
//! data directory, timed phase by phase from the capture's progress, with
//! what the pass did and, on the big feed, how many of its tokens every
//! artifact kept.

use super::bigfeed::coverage::{items_coverage, text_coverage, Coverage};
use super::bigfeed::{self, ExpectedToken, Traffic};
use crate::behaviour::items::{ItemCounts, ItemsDocument};
use crate::behaviour::Progress;
use crate::capture::{check_recorder, run_job, CaptureJob, Outcome, Trigger};
use crate::config::Settings;
use crate::Platform;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// What to capture and how.
#[derive(Debug, Clone)]
pub struct CaptureBench {
    /// The page; `None` serves the big feed on 127.0.0.1.
    pub url: Option<String>,
    /// The channel's platform, which picks the profile.
    pub platform: Platform,
    pub record: bool,
    pub runs: usize,
    /// The big feed's latency on every fetch.
    pub latency: Duration,
    /// When set, the big feed changes its DOM this often, all the time.
    pub tick: Option<Duration>,
}

/// One capture's figures.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CaptureRun {
    pub record: bool,
    pub wall_secs: f64,
    /// Seconds per phase of the capture's progress, in the order they came.
    pub phases: Vec<(&'static str, f64)>,
    pub turns: PassTurns,
    /// The pass's own time (the manifest's `behaviour.duration_ms`).
    pub pass_secs: f64,
    pub scroll_steps: u64,
    pub expanders: u64,
    /// Clicks per expander label, digits as `N` ("visa N svar").
    pub expander_kinds: BTreeMap<String, u64>,
    pub items: ItemCounts,
    pub coverage: Vec<Coverage>,
    /// The big feed's requests, and the time at least one was in flight.
    pub server_requests: Option<u64>,
    pub server_busy_secs: Option<f64>,
    pub bevara_peak_rss: u64,
    pub chromium_peak_rss: u64,
    /// CPU time used during the capture by Bevara (all its threads), by
    /// Chromium's processes, and by the video encoder.
    pub bevara_cpu_secs: f64,
    pub chromium_cpu_secs: f64,
    pub encoder_cpu_secs: Option<f64>,
    /// What the snapshot's artifacts take in the store.
    pub artifact_bytes: u64,
    pub warnings: Vec<String>,
}

/// The figures of every run, with what the page should hold.
#[derive(Debug, Clone)]
pub struct CaptureBenchReport {
    pub url: String,
    pub fixture: Option<bigfeed::FeedCounts>,
    pub latency: Duration,
    pub tick: Option<Duration>,
    pub runs: Vec<CaptureRun>,
}

/// Names for the progress phases in the report.
fn phase_name(p: &'static str) -> &'static str {
    match p {
        "" => "setup",
        "recording" => "starting recording",
        "expanded" => "after the pass",
        "complete" => "after storing",
        other => other,
    }
}

/// One progress report as it came.
#[derive(Debug, Clone, Copy)]
struct Sample {
    at: Instant,
    phase: &'static str,
    steps: u64,
    expanders: u64,
}

/// Records every progress report with the time it came: the pass sends one
/// at the top of each turn of its loop.
fn watch_progress(mut rx: watch::Receiver<Progress>) -> tokio::task::JoinHandle<Vec<Sample>> {
    tokio::spawn(async move {
        let mut seen = vec![Sample {
            at: Instant::now(),
            phase: "",
            steps: 0,
            expanders: 0,
        }];
        loop {
            let p = rx.borrow_and_update().clone();
            seen.push(Sample {
                at: Instant::now(),
                phase: p.phase,
                steps: p.steps,
                expanders: p.expanders,
            });
            if rx.changed().await.is_err() {
                return seen;
            }
        }
    })
}

/// The phase changes among the samples.
fn phase_marks(samples: &[Sample]) -> Vec<(&'static str, Instant)> {
    let mut marks: Vec<(&'static str, Instant)> = Vec::new();
    for s in samples {
        if marks.last().map(|(p, _)| *p) != Some(s.phase) {
            marks.push((s.phase, s.at));
        }
    }
    marks
}

/// Where the pass's turns went: each turn either clicked expanders (and
/// waited for what they loaded), scrolled a step, or waited at the bottom
/// for more to load.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct PassTurns {
    pub expand_rounds: u64,
    pub expand_secs: f64,
    pub scroll_turns: u64,
    pub scroll_secs: f64,
    pub bottom_turns: u64,
    pub bottom_secs: f64,
}

/// Classifies each turn of the pass by what changed by the next report.
fn pass_turns(samples: &[Sample]) -> PassTurns {
    let mut t = PassTurns::default();
    for w in samples.windows(2) {
        let (a, b) = (w[0], w[1]);
        if a.phase != "scroll and expand" {
            continue;
        }
        let secs = b.at.saturating_duration_since(a.at).as_secs_f64();
        if b.expanders > a.expanders {
            t.expand_rounds += 1;
            t.expand_secs += secs;
        } else if b.steps > a.steps {
            t.scroll_turns += 1;
            t.scroll_secs += secs;
        } else {
            t.bottom_turns += 1;
            t.bottom_secs += secs;
        }
    }
    t
}

/// Seconds per phase name, summed over its spells, in first-seen order.
fn phase_times(marks: &[(&'static str, Instant)], end: Instant) -> Vec<(&'static str, f64)> {
    let mut out: Vec<(&'static str, f64)> = Vec::new();
    for (i, (p, at)) in marks.iter().enumerate() {
        let until = marks.get(i + 1).map_or(end, |(_, t)| *t);
        let secs = until.saturating_duration_since(*at).as_secs_f64();
        let name = phase_name(p);
        match out.iter_mut().find(|(n, _)| *n == name) {
            Some((_, s)) => *s += secs,
            None => out.push((name, secs)),
        }
    }
    out
}

/// Clicks per label with digits as `N`, so "visa 2 svar" and "visa 3 svar" add up.
fn expander_kinds(labels: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for (label, n) in labels {
        let mut kind = String::new();
        for ch in label.chars() {
            if ch.is_ascii_digit() {
                if !kind.ends_with('N') {
                    kind.push('N');
                }
            } else {
                kind.push(ch);
            }
        }
        *out.entry(kind).or_default() += n;
    }
    out
}

/// The text of a PDF by `pdftotext` (poppler-utils), if it is installed.
fn pdf_text(pdf: &[u8], dir: &std::path::Path) -> Result<String, String> {
    let path = dir.join("bench-page.pdf");
    std::fs::write(&path, pdf).map_err(|e| format!("{}: {e}", path.display()))?;
    let out = std::process::Command::new("pdftotext")
        .args(["-enc", "UTF-8"])
        .arg(&path)
        .arg("-")
        .output()
        .map_err(|e| format!("pdftotext (poppler-utils): {e}"))?;
    let _ = std::fs::remove_file(&path);
    if !out.status.success() {
        return Err(format!(
            "pdftotext failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// MHTML's HTML parts are quoted-printable: joins its soft line breaks so
/// tokens read whole.
fn mhtml_text(mhtml: &[u8]) -> String {
    String::from_utf8_lossy(mhtml)
        .replace("=\r\n", "")
        .replace("=\n", "")
}

/// Samples Chromium's process tree every 100 ms until told to stop: its
/// peak resident memory (summed) and the CPU time its processes used since
/// the first sample.
fn spawn_tree_sampler(
    root: u32,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<(u64, f64)>,
) {
    let (tx, mut rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::task::spawn_blocking(move || {
        let mut peak = 0;
        let mut first: HashMap<u32, f64> = HashMap::new();
        let mut last: HashMap<u32, f64> = HashMap::new();
        let mut sampled = false;
        loop {
            let pids = super::tree_pids(root);
            let rss: u64 = pids
                .iter()
                .map(|p| super::status_kb(&format!("/proc/{p}/status"), "VmRSS:") * 1024)
                .sum();
            peak = peak.max(rss);
            for p in pids {
                let cpu = super::cpu_secs(&p.to_string());
                if !sampled {
                    first.insert(p, cpu);
                }
                let seen = last.entry(p).or_insert(cpu);
                *seen = seen.max(cpu);
            }
            sampled = true;
            if rx.try_recv().is_ok() {
                let cpu = last
                    .iter()
                    .map(|(p, c)| c - first.get(p).copied().unwrap_or(0.0))
                    .sum();
                return (peak, cpu);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    (tx, task)
}

/// Captures the page `bench.runs` times and measures each capture.
pub async fn run(
    settings: &Settings,
    bench: &CaptureBench,
) -> Result<CaptureBenchReport, Box<dyn std::error::Error>> {
    if bench.record {
        if !settings.recording.enabled {
            return Err("--record needs recording.enabled = true".into());
        }
        check_recorder(settings)?;
    }
    let traffic = Arc::new(Traffic::default());
    let mut server = None;
    let (url, fixture) = match &bench.url {
        Some(u) => (u.clone(), None),
        None => {
            let router = bigfeed::bigfeed_router_counted(bench.latency, traffic.clone());
            let (addr, task) = crate::demo::serve(router).await?;
            server = Some(task);
            let query = bench
                .tick
                .map(|t| format!("?tick={}", t.as_millis()))
                .unwrap_or_default();
            (
                format!("http://{addr}{}{query}", bigfeed::PATH),
                Some(bigfeed::counts()),
            )
        }
    };
    let tokens = if fixture.is_some() {
        bigfeed::expected_tokens()
    } else {
        Vec::new()
    };
    let (dir, bevara, channel) =
        super::bench_channel(settings, bench.platform, &url, bench.record).await?;
    let mut browser = crate::browser::Browser::launch(&settings.browser).await?;
    let chromium_pid = browser.pid();
    let mut runs = Vec::new();
    for _ in 0..bench.runs.max(1) {
        traffic.reset();
        let r = one(
            &bevara,
            &browser,
            chromium_pid,
            &channel,
            bench.record,
            &tokens,
            dir.path(),
        )
        .await;
        let r = match r {
            Ok(mut r) => {
                if fixture.is_some() {
                    r.server_requests = Some(traffic.requests());
                    r.server_busy_secs = Some(traffic.busy().as_secs_f64());
                }
                r
            }
            Err(e) => {
                browser.close().await;
                return Err(e);
            }
        };
        runs.push(r);
    }
    browser.close().await;
    if let Some(s) = server {
        s.abort();
    }
    Ok(CaptureBenchReport {
        url,
        fixture,
        latency: bench.latency,
        tick: bench.tick,
        runs,
    })
}

async fn one(
    bevara: &crate::Bevara,
    browser: &crate::browser::Browser,
    chromium_pid: Option<u32>,
    channel: &crate::Channel,
    record: bool,
    tokens: &[ExpectedToken],
    dir: &std::path::Path,
) -> Result<CaptureRun, Box<dyn std::error::Error>> {
    let job = CaptureJob {
        channel: channel.id.to_string(),
        trigger: Trigger::manual(Some("bench".into())),
        recording: Some(record),
    };
    let (_cancel_tx, cancel) = watch::channel(None);
    let (tx, rx) = watch::channel(Progress::default());
    let progress = watch_progress(rx);
    let sampler = chromium_pid.map(spawn_tree_sampler);
    super::reset_peak_rss();
    let cpu_before = super::cpu_secs("self");
    let started = Instant::now();
    let outcome = run_job(bevara, browser, &job, cancel, Some(&tx)).await;
    let end = Instant::now();
    let bevara_cpu_secs = super::cpu_secs("self") - cpu_before;
    let bevara_peak_rss = super::peak_rss();
    drop(tx);
    let samples = progress.await?;
    let (chromium_peak_rss, chromium_cpu_secs) = match sampler {
        Some((stop, task)) => {
            let _ = stop.send(());
            task.await.unwrap_or((0, 0.0))
        }
        None => (0, 0.0),
    };
    let o = match outcome {
        Outcome::Complete(o) => o,
        Outcome::Failed(f) => return Err(format!("the capture failed: {}", f.message).into()),
    };
    let m = &o.manifest;
    let mut coverage = Vec::new();
    if !tokens.is_empty() {
        let artifact = |name: &str| m.artifacts.iter().find(|a| a.name == name);
        let store = bevara.store();
        if let Some(a) = artifact("items.json") {
            let doc: ItemsDocument = serde_json::from_slice(&store.get_bytes(&a.key).await?)?;
            coverage.push(items_coverage(tokens, &doc));
        }
        if let Some(a) = artifact("text.txt") {
            let text = String::from_utf8(store.get_bytes(&a.key).await?)?;
            coverage.push(text_coverage("text.txt", tokens, &text));
        }
        if let Some(a) = artifact("page.pdf") {
            match pdf_text(&store.get_bytes(&a.key).await?, dir) {
                Ok(text) => coverage.push(text_coverage("page.pdf", tokens, &text)),
                Err(e) => eprintln!("note: no PDF coverage: {e}"),
            }
        }
        if let Some(a) = artifact("page.mhtml") {
            let text = mhtml_text(&store.get_bytes(&a.key).await?);
            coverage.push(text_coverage("page.mhtml", tokens, &text));
        }
    }
    Ok(CaptureRun {
        record,
        wall_secs: end.duration_since(started).as_secs_f64(),
        phases: phase_times(&phase_marks(&samples), end),
        turns: pass_turns(&samples),
        pass_secs: m.behaviour.duration_ms as f64 / 1000.0,
        scroll_steps: m.behaviour.scroll_steps,
        expanders: m.behaviour.expanders_clicked,
        expander_kinds: expander_kinds(&m.behaviour.expander_labels),
        items: m.items.clone(),
        coverage,
        server_requests: None,
        server_busy_secs: None,
        bevara_peak_rss,
        chromium_peak_rss,
        bevara_cpu_secs,
        chromium_cpu_secs,
        encoder_cpu_secs: m.recording.as_ref().map(|r| r.encoder_cpu_secs),
        artifact_bytes: m.artifacts.iter().map(|a| a.bytes).sum(),
        warnings: m.warnings.clone(),
    })
}

/// The report as `bevara bench capture` prints it.
pub fn format(r: &CaptureBenchReport) -> String {
    let mut out = String::new();
    match &r.fixture {
        Some(k) => out.push_str(&format!(
            "big feed at {}: {} posts, {} comments, {} replies ({} items) behind {} expanders \
             ({} visa mer, {} visa fler kommentarer, {} visa N svar); {} ms latency on every fetch{}\n",
            r.url,
            k.posts,
            k.comments,
            k.replies,
            k.items(),
            k.expanders(),
            k.see_more,
            k.more_comments,
            k.reply_threads,
            r.latency.as_millis(),
            match r.tick {
                Some(t) => format!("; the page changes every {} ms", t.as_millis()),
                None => String::new(),
            }
        )),
        None => out.push_str(&format!("{}\n", r.url)),
    }
    for (i, run) in r.runs.iter().enumerate() {
        out.push_str(&format_run(i + 1, run));
    }
    if r.runs.len() > 1 {
        let mut walls: Vec<f64> = r.runs.iter().map(|x| x.wall_secs).collect();
        walls.sort_by(f64::total_cmp);
        out.push_str(&format!(
            "{} runs: wall min {:.1} s, median {:.1} s, max {:.1} s\n",
            walls.len(),
            walls[0],
            walls[walls.len() / 2],
            walls[walls.len() - 1]
        ));
    }
    out
}

fn format_run(i: usize, r: &CaptureRun) -> String {
    let mut out = format!(
        "\nrun {i} ({}): wall {:.1} s\n",
        if r.record {
            "recording"
        } else {
            "no recording"
        },
        r.wall_secs
    );
    out.push_str("  phase                        s       %\n");
    for (p, s) in &r.phases {
        out.push_str(&format!(
            "  {:<24} {:>7.1} {:>7.1}\n",
            p,
            s,
            s * 100.0 / r.wall_secs.max(1e-9)
        ));
    }
    let per = |n: u64| {
        if n == 0 {
            0.0
        } else {
            r.pass_secs / n as f64
        }
    };
    out.push_str(&format!(
        "  pass {:.1} s: {} scroll steps ({:.2} s of pass each), {} expander clicks ({:.2} s of pass each)\n",
        r.pass_secs,
        r.scroll_steps,
        per(r.scroll_steps),
        r.expanders,
        per(r.expanders)
    ));
    let t = &r.turns;
    let avg = |s: f64, n: u64| if n == 0 { 0.0 } else { s / n as f64 };
    out.push_str(&format!(
        "  turns: {} expander rounds {:.1} s ({:.2} s each, {:.1} clicks each), {} scroll steps {:.1} s ({:.2} s each), {} waits at the bottom {:.1} s\n",
        t.expand_rounds,
        t.expand_secs,
        avg(t.expand_secs, t.expand_rounds),
        avg(r.expanders as f64, t.expand_rounds),
        t.scroll_turns,
        t.scroll_secs,
        avg(t.scroll_secs, t.scroll_turns),
        t.bottom_turns,
        t.bottom_secs
    ));
    let kinds: Vec<String> = r
        .expander_kinds
        .iter()
        .map(|(k, n)| format!("{n} {k}"))
        .collect();
    out.push_str(&format!("  clicks: {}\n", kinds.join(", ")));
    out.push_str(&format!(
        "  items: {} posts, {} comments, {} replies\n",
        r.items.posts, r.items.comments, r.items.replies
    ));
    if !r.coverage.is_empty() {
        out.push_str("  tokens      found  expected       %\n");
        for c in &r.coverage {
            let found = c.placed.unwrap_or(c.found);
            out.push_str(&format!(
                "  {:<10} {:>6} {:>9} {:>7.1}",
                c.artifact,
                found,
                c.expected,
                c.percent()
            ));
            if let Some(p) = c.placed {
                if p != c.found {
                    out.push_str(&format!("  ({} in some item, {} placed right)", c.found, p));
                } else {
                    out.push_str("  (with kind and parent)");
                }
            }
            if !c.missing.is_empty() {
                let shown: Vec<&str> = c.missing.iter().take(8).map(String::as_str).collect();
                out.push_str(&format!(
                    "  missing: {}{}",
                    shown.join(" "),
                    if c.missing.len() > 8 { " …" } else { "" }
                ));
            }
            out.push('\n');
        }
    }
    if let (Some(n), Some(busy)) = (r.server_requests, r.server_busy_secs) {
        out.push_str(&format!(
            "  server: {n} requests, at least one in flight {:.1} s ({:.0} % of the wall)\n",
            busy,
            busy * 100.0 / r.wall_secs.max(1e-9)
        ));
    }
    let cores = |s: f64| s / r.wall_secs.max(1e-9);
    out.push_str(&format!(
        "  cpu: bevara {:.1} s ({:.2} of a core), chromium {:.1} s ({:.2} cores)",
        r.bevara_cpu_secs,
        cores(r.bevara_cpu_secs),
        r.chromium_cpu_secs,
        cores(r.chromium_cpu_secs)
    ));
    if let Some(e) = r.encoder_cpu_secs {
        out.push_str(&format!(", encoder {e:.1} s ({:.2} cores)", cores(e)));
    }
    out.push('\n');
    out.push_str(&format!(
        "  peak memory: bevara {:.1} MB, chromium {:.0} MB\n",
        r.bevara_peak_rss as f64 / 1e6,
        r.chromium_peak_rss as f64 / 1e6
    ));
    for w in &r.warnings {
        out.push_str(&format!("  warning: {w}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_add_up_by_name_in_order() {
        let t = Instant::now();
        let s = Duration::from_secs;
        let marks = [
            ("", t),
            ("loading", t + s(1)),
            ("scroll and expand", t + s(2)),
            ("recording", t + s(3)),
            ("scroll and expand", t + s(4)),
            ("expanded", t + s(9)),
        ];
        let p = phase_times(&marks, t + s(10));
        assert_eq!(
            p,
            vec![
                ("setup", 1.0),
                ("loading", 1.0),
                ("scroll and expand", 6.0),
                ("starting recording", 1.0),
                ("after the pass", 1.0),
            ]
        );
    }

    #[test]
    fn pass_turns_are_told_apart_by_what_changed() {
        let t = Instant::now();
        let ms = Duration::from_millis;
        let at = |m: u64, phase, steps, expanders| Sample {
            at: t + ms(m),
            phase,
            steps,
            expanders,
        };
        let p = "scroll and expand";
        let samples = [
            at(0, "loading", 0, 0),
            at(100, p, 0, 0),
            at(700, p, 0, 3),
            at(900, p, 1, 3),
            at(3400, p, 1, 3),
            at(3500, "expanded", 1, 3),
        ];
        let turns = pass_turns(&samples);
        assert_eq!(
            (turns.expand_rounds, turns.scroll_turns, turns.bottom_turns),
            (1, 1, 2)
        );
        assert!((turns.expand_secs - 0.6).abs() < 1e-9);
        assert!((turns.bottom_secs - 2.6).abs() < 1e-9);
    }

    #[test]
    fn expander_labels_group_by_kind() {
        let labels: BTreeMap<String, u64> =
            [("visa 2 svar", 3), ("visa 13 svar", 1), ("visa mer", 2)]
                .into_iter()
                .map(|(l, n)| (l.to_string(), n))
                .collect();
        let k = expander_kinds(&labels);
        assert_eq!(k["visa N svar"], 4);
        assert_eq!(k["visa mer"], 2);
    }
}
