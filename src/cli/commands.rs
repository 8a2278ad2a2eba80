//! `bevara capture`, `verify`, `config`, `demo` and `bench`.

use super::{db_exit, fail, progress, snapshots::archive_exit};
use bevara::browser::Browser;
use bevara::capture::manifest::Manifest;
use bevara::capture::{check_recorder, os_user, CaptureOptions, CaptureOutcome, Outcome};
use bevara::config::Settings;
use bevara::db::{CaptureFilter, CaptureState};
use bevara::queue::{JobEnd, JobStatus, NewJob, TriggerKind, INTERRUPTED};
use bevara::worker::{owner_name, run_claimed, Lease};
use bevara::{Bevara, Channel, ExitCode};
use chrono::Utc;
use clap::{Args, Subcommand};
use std::time::Duration;
use tokio::sync::watch;

#[derive(Debug, Args)]
pub struct CaptureArgs {
    /// The channel to capture.
    pub channel: String,
    /// Why this capture is made (recorded in the manifest).
    #[arg(long)]
    pub reason: Option<String>,
    /// Skip the screen recording of the pass.
    #[arg(long)]
    pub no_recording: bool,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("which").required(true).args(["snapshot_id", "all"])))]
pub struct VerifyArgs {
    /// The snapshot to verify.
    pub snapshot_id: Option<String>,
    /// Verify every complete snapshot.
    #[arg(long)]
    pub all: bool,
    /// Compare the checksums the store recorded instead of reading every
    /// object back (on a local store every object is read anyway).
    #[arg(long)]
    pub quick: bool,
}

#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// Print a commented example bevara.toml with every key and its variable.
    #[arg(long)]
    pub example: bool,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Port for the sample site on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 8719)]
    pub port: u16,
}

#[derive(Debug, Subcommand)]
pub enum BenchCmd {
    /// Full-page screenshots of generated pages: time per phase and peak memory.
    Screenshot {
        /// Page heights in px, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "10000,50000,150000")]
        heights: Vec<u64>,
        /// Tile height in px [default: capture.tile_height]
        #[arg(long)]
        tile_height: Option<u32>,
    },
    /// One capture through the normal path: time per phase, per scroll step and
    /// per expander, items, and (on the big feed) the tokens every artifact kept.
    Capture {
        /// The page to capture [default: the big feed, served on 127.0.0.1].
        #[arg(conflicts_with = "fixture")]
        url: Option<String>,
        /// The generated page to serve when no URL is given.
        #[arg(long, value_enum, default_value_t = Fixture::Bigfeed)]
        fixture: Fixture,
        /// Record the pass (paced for a viewer), as a channel with recording does.
        #[arg(long)]
        record: bool,
        /// Captures to make, one after another.
        #[arg(long, default_value_t = 1)]
        runs: usize,
        /// The big feed's latency on every fetch, in ms.
        #[arg(long, default_value_t = 250)]
        latency_ms: u64,
        /// Make the big feed change its DOM every MS ms (a notification count),
        /// as a live platform's page does [default: never].
        #[arg(long, value_name = "MS")]
        tick_ms: Option<u64>,
        /// The channel's platform, which picks the profile [default: facebook
        /// for the big feed, web (by URL) for a URL].
        #[arg(long)]
        platform: Option<bevara::Platform>,
    },
    /// The sample channel captured at the same pacing without and with recording.
    Recording,
    /// An Instagram-like grid with every post's dialog opened: time per post, peak memory.
    Posts,
    /// The egress guard: added latency per request, a capture without and with it.
    Guard {
        /// Requests timed each way.
        #[arg(long, default_value_t = 300)]
        requests: usize,
    },
    /// A recording-sized file into the configured store (store.url) against a
    /// copy on disk; the upload's peak memory and verify's read-back rate.
    Upload {
        /// Size of the file in MiB.
        #[arg(long, default_value_t = 500)]
        mb: u64,
    },
    /// Per-capture costs of every platform's profile, with and without the
    /// recording, and the worker pods and storage N channels need.
    Capacity {
        /// The platform imitations (the repository's tests/fixtures).
        #[arg(long, default_value = "tests/fixtures")]
        fixtures: std::path::PathBuf,
    },
    /// The e-archive package of one channel with many snapshots: export time,
    /// size, and the E-ARK validator's time.
    Export {
        /// Snapshots captured and exported.
        #[arg(long, default_value_t = 20)]
        snapshots: usize,
    },
    /// The web server under load: many capture requests at once (one job per
    /// channel must come of them), pages and Deep Zoom tiles of a tall screenshot.
    Web {
        /// Channels the requests are for.
        #[arg(long, default_value_t = 50)]
        channels: usize,
        /// Capture requests in all.
        #[arg(long, default_value_t = 1000)]
        requests: usize,
        /// Seconds they are spread over.
        #[arg(long, default_value_t = 10.0)]
        secs: f64,
        /// Height of the screenshot cut into tiles, in px.
        #[arg(long, default_value_t = 150_000)]
        shot_height: u32,
    },
    /// The job queue: one schedule fire for many channels, concurrent claims, overhead per job.
    Queue {
        /// Channels registered and fired.
        #[arg(long, default_value_t = 10_000)]
        channels: usize,
        /// Concurrent claimers.
        #[arg(long, default_value_t = 8)]
        claimers: usize,
        /// A Postgres server to measure too (a throw-away database is made on it)
        /// [default: database.url when it is Postgres, else the one tests use].
        #[arg(long)]
        postgres: Option<String>,
    },
}

/// Generated pages `bench capture` can serve.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Fixture {
    /// 25 Facebook-like posts, 327 items behind 159 expanders, 250 ms per fetch.
    Bigfeed,
}

async fn launch(settings: &Settings) -> Result<Browser, ExitCode> {
    Browser::launch(&settings.browser)
        .await
        .map_err(|e| fail(ExitCode::Browser, e))
}

/// Start-up checks: a capture that will record needs a working ffmpeg.
fn preflight(settings: &Settings, options: &CaptureOptions) -> Result<(), ExitCode> {
    if options.record {
        check_recorder(settings).map_err(|e| {
            fail(
                ExitCode::Recorder,
                format!("{e}\n(or capture without a recording: --no-recording, or recording.enabled = false)"),
            )
        })?;
    }
    Ok(())
}

/// A watch that gets a reason on Ctrl-C or SIGTERM.
pub(super) fn signals() -> Result<watch::Receiver<Option<String>>, ExitCode> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| fail(ExitCode::Failure, e))?;
    let (tx, rx) = watch::channel(None);
    tokio::spawn(async move {
        let why = tokio::select! {
            _ = tokio::signal::ctrl_c() => "interrupted (Ctrl-C)",
            _ = term.recv() => "interrupted (SIGTERM)",
        };
        let _ = tx.send(Some(why.to_string()));
        // Keep the sender so the receiver keeps the reason.
        std::future::pending::<()>().await;
    });
    Ok(rx)
}

/// A shutdown flag for the worker that turns true once `signals` gives a reason.
pub(super) fn shutdown_on(mut signals: watch::Receiver<Option<String>>) -> watch::Receiver<bool> {
    let (tx, shutdown) = watch::channel(false);
    tokio::spawn(async move {
        let why = bevara::capture::cancelled(&mut signals).await;
        tracing::info!(%why, "shutdown requested: draining");
        let _ = tx.send(true);
    });
    shutdown
}

/// Queues a manual capture of `channel` (or takes over its queued job) and
/// runs it here, now, under a lease: the same path a worker takes.
async fn capture_now(
    bevara: &Bevara,
    channel: &Channel,
    reason: Option<String>,
    no_recording: bool,
) -> Result<Outcome, ExitCode> {
    let db = bevara.db();
    let w = &bevara.settings().worker;
    if let Err(e) = db.reap_expired(Utc::now()).await {
        return Err(fail(db_exit(&e), e));
    }
    bevara::capture::remove_stale_work(bevara).await;
    let mut new = NewJob::new(channel.id.as_str(), TriggerKind::Manual)
        .reason(reason)
        .requested_by(Some(os_user()));
    if no_recording {
        new.recording = Some(false);
    }
    let enq = db
        .enqueue(&new, Utc::now())
        .await
        .map_err(|e| fail(db_exit(&e), e))?;
    let lease = Lease::new(owner_name("cli"), Duration::from_secs(w.lease_secs));
    let claimed = db
        .claim(&lease.owner, Some(&enq.job_id), lease.until(), Utc::now())
        .await
        .map_err(|e| fail(db_exit(&e), e))?;
    let Some(mut job) = claimed else {
        let holder = db.job(&enq.job_id).await.ok();
        let by = holder
            .and_then(|j| j.lease_owner)
            .unwrap_or_else(|| "another process".into());
        return Err(fail(
            ExitCode::Busy,
            format!(
                "channel {} is being captured by job {} ({by}); wait for it, or stop it with `bevara jobs cancel {}`",
                channel.id, enq.job_id, enq.job_id
            ),
        ));
    };
    if no_recording {
        job.recording = Some(false);
    }
    let browser = match launch(bevara.settings()).await {
        Ok(b) => b,
        Err(code) => {
            let end = JobEnd::Failed {
                code: code.name().into(),
                error: "Chromium could not be started".into(),
                snapshot_id: None,
            };
            let _ = db.end_job(&job.id, &lease.owner, &end, Utc::now()).await;
            return Err(code);
        }
    };
    let cancel = signals()?;
    let (tx, rx) = watch::channel(Default::default());
    let display = progress::spawn(rx);
    let outcome = run_claimed(bevara, &browser, &job, &lease, cancel, Some(&tx)).await;
    drop(tx);
    if let Some(d) = display {
        let _ = d.await;
    }
    browser.close().await;
    Ok(outcome)
}

/// Prints how a capture ended and returns its exit code.
fn report(outcome: &Outcome) -> ExitCode {
    match outcome {
        Outcome::Complete(o) => {
            print_outcome(o);
            if o.truncated() {
                eprintln!("note: a budget ended the pass early; the snapshot is complete up to that point");
            }
        }
        Outcome::Failed(f) if f.code == ExitCode::UploadPending => {
            if let Some(id) = &f.snapshot_id {
                println!("snapshot {id} captured, upload pending");
            }
            eprintln!("warning: {}", f.message);
        }
        Outcome::Failed(f) if f.failure_code == INTERRUPTED => {
            eprintln!(
                "error: {}; the capture is recorded as failed and can be run again",
                f.message
            );
        }
        Outcome::Failed(f) => {
            eprintln!("error: capture failed: {}", f.message);
        }
    }
    outcome.exit_code()
}

fn print_outcome(o: &CaptureOutcome) {
    print_manifest(&o.manifest, o.local_dir.as_deref(), &o.stored_in);
}

fn print_manifest(m: &Manifest, local_dir: Option<&std::path::Path>, stored_in: &str) {
    println!("snapshot {} of {} complete", m.snapshot_id, m.channel.id);
    println!("  page:      {} ({})", m.final_url, m.title);
    println!(
        "  behaviour: {} scroll steps, {} expanders clicked, {} dialogs dismissed, final height {} px, {:.1} s",
        m.behaviour.scroll_steps,
        m.behaviour.expanders_clicked,
        m.behaviour.dialogs_dismissed.len(),
        m.behaviour.final_height,
        m.behaviour.duration_ms as f64 / 1000.0
    );
    if let Some(r) = &m.recording {
        println!(
            "  recording: {:.1} s, {} frames at {} fps, {}×{} {}, encoder {:.1} CPU s",
            r.duration_secs, r.frames, r.fps, r.width, r.height, r.codec, r.encoder_cpu_secs
        );
    }
    match local_dir {
        Some(dir) => println!("  stored in: {}", dir.display()),
        None => println!("  stored in: {stored_in}"),
    }
    for a in &m.artifacts {
        let dims = match (a.width, a.height) {
            (Some(w), Some(h)) => format!(" {w}×{h} px"),
            _ => String::new(),
        };
        println!(
            "    {:<16} {:>12} bytes{dims}  sha256 {}",
            a.name, a.bytes, a.sha256
        );
    }
    for w in &m.warnings {
        println!("  warning: {w}");
    }
}

pub async fn capture(bevara: &Bevara, args: CaptureArgs) -> ExitCode {
    let channel = match bevara.db().channel(&args.channel).await {
        Ok(c) => c,
        Err(e) => return fail(db_exit(&e), e),
    };
    if channel.is_closed() {
        eprintln!(
            "note: channel {} is closed; capturing it on request anyway",
            channel.id
        );
    }
    let options = CaptureOptions::for_channel(bevara.settings(), &channel, args.no_recording);
    if let Err(code) = preflight(bevara.settings(), &options) {
        return code;
    }
    if let Err(e) = bevara.check_store().await {
        return fail(ExitCode::Storage, e);
    }
    match capture_now(bevara, &channel, args.reason, args.no_recording).await {
        Ok(outcome) => report(&outcome),
        Err(code) => code,
    }
}

pub async fn verify(bevara: &Bevara, args: VerifyArgs) -> ExitCode {
    let ids: Vec<String> = if args.all {
        let filter = CaptureFilter {
            state: Some(CaptureState::Complete),
            ..Default::default()
        };
        match bevara.db().list_captures(&filter).await {
            Ok(list) => list.into_iter().map(|c| c.id).collect(),
            Err(e) => return fail(db_exit(&e), e),
        }
    } else {
        args.snapshot_id.into_iter().collect()
    };
    let (mut objects, mut problems) = (0usize, 0usize);
    for id in &ids {
        let mode = if args.quick {
            bevara::archive::VerifyMode::Quick
        } else {
            bevara::archive::VerifyMode::Full
        };
        match bevara::archive::verify_with(bevara, id, mode).await {
            Ok(checks) => {
                for c in checks {
                    objects += 1;
                    match c.problem {
                        None => println!("ok        {}", c.key),
                        Some(p) => {
                            problems += 1;
                            println!("FAILED    {}: {p}", c.key);
                        }
                    }
                }
            }
            Err(e) => {
                problems += 1;
                let code = archive_exit(&e);
                if !args.all {
                    return fail(code, e);
                }
                println!("FAILED    snapshot {id}: {e}");
            }
        }
    }
    println!(
        "{} snapshot(s), {objects} object(s) verified, {problems} problem(s)",
        ids.len()
    );
    if problems > 0 {
        ExitCode::VerifyFailed
    } else {
        ExitCode::Ok
    }
}

pub fn config(settings: &Settings, args: ConfigArgs) -> ExitCode {
    if args.example {
        print!("{}", bevara::config::example_toml());
    } else {
        print!("{}", settings.to_redacted_toml());
    }
    ExitCode::Ok
}

/// The sample channel's id in the register.
pub const DEMO_CHANNEL: &str = "exempel-sala";

pub async fn demo(bevara: Bevara, args: DemoArgs) -> ExitCode {
    let listener = match tokio::net::TcpListener::bind(("127.0.0.1", args.port)).await {
        Ok(l) => l,
        Err(e) => {
            return fail(
                ExitCode::Failure,
                format!(
                    "cannot serve the sample site on 127.0.0.1:{}: {e} (try --port 0)",
                    args.port
                ),
            )
        }
    };
    let addr = match listener.local_addr() {
        Ok(a) => a,
        Err(e) => return fail(ExitCode::Failure, e),
    };
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, bevara::demo::router()).await;
    });
    let url = format!("http://{addr}/feed.html");
    println!("sample channel served at {url}");
    let channel = match bevara.db().channel(DEMO_CHANNEL).await {
        Ok(c) if c.url == url => c,
        Ok(c) => {
            server.abort();
            return fail(ExitCode::Usage, format!("channel {DEMO_CHANNEL} is registered with {}; run the demo with a matching --port or another --data-dir", c.url));
        }
        Err(bevara::db::DbError::NoChannel(_)) => {
            let c = Channel {
                id: DEMO_CHANNEL.parse().expect("valid id"),
                platform: bevara::Platform::Facebook,
                url: url.clone(),
                name: Some("Sala kommun (exempel)".into()),
                owner: Some("Kommunikationsenheten".into()),
                admins: vec!["Exempel Exempelsson".into()],
                purpose: Some("Bevaras exempelkanal".into()),
                tags: vec!["exempel".into()],
                opened_at: chrono::Utc::now(),
                closed_at: None,
                retain_days: None,
                recording: true,
            };
            if let Err(e) = bevara.db().add_channel(&c).await {
                server.abort();
                return fail(db_exit(&e), e);
            }
            println!("registered channel {DEMO_CHANNEL}");
            c
        }
        Err(e) => {
            server.abort();
            return fail(db_exit(&e), e);
        }
    };
    let options = CaptureOptions::for_channel(bevara.settings(), &channel, false);
    if let Err(code) = preflight(bevara.settings(), &options) {
        server.abort();
        return code;
    }
    let code = demo_through_queue(&bevara, &channel).await;
    server.abort();
    code
}

/// Queues the sample channel's capture and runs the worker until that job ends.
async fn demo_through_queue(bevara: &Bevara, channel: &Channel) -> ExitCode {
    let job = NewJob::new(channel.id.as_str(), TriggerKind::AdHoc)
        .reason(Some("demo".into()))
        .requested_by(Some(os_user()))
        .attempts_from(&bevara.settings().worker);
    let enq = match bevara.db().enqueue(&job, Utc::now()).await {
        Ok(e) => e,
        Err(e) => return fail(db_exit(&e), e),
    };
    println!(
        "queued job {}; running the worker until it is done",
        enq.job_id
    );
    let mut worker_bevara = bevara.clone();
    // The demo's worker needs no HTTP port (one may be in use by a real worker).
    worker_bevara.settings_mut().worker.listen.clear();
    let cancel = match signals() {
        Ok(c) => c,
        Err(code) => return code,
    };
    let shutdown = shutdown_on(cancel);
    let stop = bevara::worker::StopWhen::JobEnded(enq.job_id.clone());
    if let Err(e) = bevara::worker::run(worker_bevara, shutdown, stop).await {
        return fail(ExitCode::Failure, e);
    }
    let job = match bevara.db().job(&enq.job_id).await {
        Ok(j) => j,
        Err(e) => return fail(db_exit(&e), e),
    };
    match (job.status, &job.snapshot_id) {
        (JobStatus::Done, Some(id)) => match bevara::archive::manifest(bevara, id).await {
            Ok((rec, m)) => {
                let dir = rec
                    .manifest_key
                    .as_deref()
                    .and_then(|k| bevara.store().local_path(k))
                    .and_then(|p| p.parent().map(std::path::Path::to_path_buf));
                print_manifest(&m, dir.as_deref(), &bevara.store().describe());
                println!("try: bevara snapshots list; bevara verify {id}");
                ExitCode::Ok
            }
            Err(e) => fail(archive_exit(&e), e),
        },
        (status, _) => fail(
            ExitCode::Failure,
            format!(
                "job {} ended {status}: {}",
                job.id,
                job.last_error.as_deref().unwrap_or("no reason recorded")
            ),
        ),
    }
}

pub async fn bench(settings: &Settings, cmd: BenchCmd) -> ExitCode {
    match cmd {
        BenchCmd::Screenshot {
            heights,
            tile_height,
        } => {
            let tile = tile_height.unwrap_or(settings.capture.tile_height);
            match bevara::bench::screenshot(settings, &heights, tile).await {
                Ok(rows) => {
                    print!("{}", bevara::bench::format_table(&rows));
                    ExitCode::Ok
                }
                Err(e) => fail(ExitCode::Failure, e),
            }
        }
        BenchCmd::Capture {
            url,
            fixture: Fixture::Bigfeed,
            record,
            runs,
            latency_ms,
            tick_ms,
            platform,
        } => {
            let platform = platform.unwrap_or(if url.is_some() {
                bevara::Platform::Web
            } else {
                bevara::Platform::Facebook
            });
            let bench = bevara::bench::capture::CaptureBench {
                url,
                platform,
                record,
                runs,
                latency: Duration::from_millis(latency_ms),
                tick: tick_ms.filter(|&t| t > 0).map(Duration::from_millis),
            };
            match bevara::bench::capture::run(settings, &bench).await {
                Ok(r) => {
                    print!("{}", bevara::bench::capture::format(&r));
                    ExitCode::Ok
                }
                Err(e) => fail(ExitCode::Failure, e),
            }
        }
        BenchCmd::Recording => match bevara::bench::recording(settings).await {
            Ok(rows) => {
                print!("{}", bevara::bench::format_recording(&rows));
                ExitCode::Ok
            }
            Err(e) => fail(ExitCode::Failure, e),
        },
        BenchCmd::Guard { requests } => match bevara::bench::guard::run(settings, requests).await {
            Ok(b) => {
                print!("{}", bevara::bench::guard::format(&b));
                ExitCode::Ok
            }
            Err(e) => fail(ExitCode::Failure, e),
        },
        BenchCmd::Upload { mb } => match bevara::bench::upload::run(settings, mb).await {
            Ok(b) => {
                print!("{}", bevara::bench::upload::format(&b));
                ExitCode::Ok
            }
            Err(e) => fail(ExitCode::Storage, e),
        },
        BenchCmd::Capacity { fixtures } => {
            match bevara::bench::capacity::run(settings, &fixtures).await {
                Ok(b) => {
                    print!("{}", bevara::bench::capacity::format(&b));
                    ExitCode::Ok
                }
                Err(e) => fail(ExitCode::Failure, e),
            }
        }
        BenchCmd::Export { snapshots } => {
            match bevara::bench::export::run(settings, snapshots).await {
                Ok(b) => {
                    print!("{}", bevara::bench::export::format(&b));
                    ExitCode::Ok
                }
                Err(e) => fail(ExitCode::Failure, e),
            }
        }
        BenchCmd::Web {
            channels,
            requests,
            secs,
            shot_height,
        } => match bevara::bench::web::run(settings, channels, requests, secs, shot_height).await {
            Ok(b) => {
                print!("{}", bevara::bench::web::format(&b));
                if b.jobs == b.channels {
                    ExitCode::Ok
                } else {
                    ExitCode::Failure
                }
            }
            Err(e) => fail(ExitCode::Failure, e),
        },
        BenchCmd::Queue {
            channels,
            claimers,
            postgres,
        } => bench_queue(settings, channels, claimers, postgres).await,
        BenchCmd::Posts => match bevara::bench::posts(settings).await {
            Ok(b) => {
                print!("{}", bevara::bench::format_posts(&b));
                ExitCode::Ok
            }
            Err(e) => fail(ExitCode::Failure, e),
        },
    }
}

async fn bench_queue(
    settings: &Settings,
    channels: usize,
    claimers: usize,
    postgres: Option<String>,
) -> ExitCode {
    let mut rows = Vec::new();
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => return fail(ExitCode::Failure, e),
    };
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("bench.sqlite").display()
    );
    let sqlite = match bevara::Db::open(&url).await {
        Ok(db) => db,
        Err(e) => return fail(ExitCode::Storage, e),
    };
    match bevara::bench::queue::run(&sqlite, channels, claimers).await {
        Ok(r) => rows.push(r),
        Err(e) => return fail(ExitCode::Storage, e),
    }
    let server = postgres.or_else(|| {
        bevara::db::is_postgres_url(&settings.database.url).then(|| settings.database.url.clone())
    });
    match bevara::db::testing::fresh_postgres_on(server.as_deref()).await {
        Some((_guard, url)) => {
            let db = match bevara::Db::open(&url).await {
                Ok(db) => db,
                Err(e) => return fail(ExitCode::Storage, e),
            };
            match bevara::bench::queue::run(&db, channels, claimers).await {
                Ok(r) => rows.push(r),
                Err(e) => return fail(ExitCode::Storage, e),
            }
        }
        None => eprintln!("note: no Postgres found (give --postgres URL); measured SQLite only"),
    }
    print!("{}", bevara::bench::queue::format(&rows));
    ExitCode::Ok
}
