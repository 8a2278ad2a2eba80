//! `bevara capture`, `verify`, `config`, `demo` and `bench`.

use super::{db_exit, fail, progress, snapshots::archive_exit};
use bevara::browser::Browser;
use bevara::capture::{
    capture_channel, check_recorder, host_name, CaptureError, CaptureOptions, CaptureOutcome,
    Trigger,
};
use bevara::config::Settings;
use bevara::db::{CaptureFilter, CaptureState};
use bevara::{Bevara, Channel, ExitCode};
use clap::{Args, Subcommand};
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
    /// The sample channel captured at the same pacing without and with recording.
    Recording,
    /// An Instagram-like grid with every post's dialog opened: time per post, peak memory.
    Posts,
}

fn process_alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

async fn launch(settings: &Settings) -> Result<Browser, ExitCode> {
    Browser::launch(&settings.browser)
        .await
        .map_err(|e| fail(ExitCode::Browser, e))
}

/// Runs one capture with a progress line, failing it cleanly on Ctrl-C or SIGTERM.
async fn capture_with_progress(
    bevara: &Bevara,
    browser: &Browser,
    channel: &Channel,
    trigger: Trigger,
    options: &CaptureOptions,
) -> Result<CaptureOutcome, ExitCode> {
    let (tx, rx) = watch::channel(Default::default());
    let display = progress::spawn(rx);
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| fail(ExitCode::Failure, e))?;
    let result = tokio::select! {
        r = capture_channel(bevara, browser, channel, trigger, options, Some(&tx)) => Some(r),
        _ = tokio::signal::ctrl_c() => None,
        _ = term.recv() => None,
    };
    drop(tx);
    if let Some(d) = display {
        let _ = d.await;
    }
    match result {
        Some(Ok(o)) => Ok(o),
        Some(Err(e)) => Err(report_failure(&e)),
        None => {
            let me = std::process::id();
            let _ = bevara
                .db()
                .fail_abandoned(&host_name(), |pid| pid != me && process_alive(pid))
                .await;
            Err(fail(
                ExitCode::Failure,
                "interrupted; the capture is recorded as failed and can be run again",
            ))
        }
    }
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

fn report_failure(e: &CaptureError) -> ExitCode {
    fail(e.exit_code(), format!("capture failed: {e}"))
}

fn print_outcome(o: &CaptureOutcome) {
    let m = &o.manifest;
    println!("snapshot {} of {} complete", o.snapshot_id, m.channel.id);
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
    match &o.local_dir {
        Some(dir) => println!("  stored in: {}", dir.display()),
        None => println!("  stored in: {}", o.stored_in),
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
    let _ = bevara
        .db()
        .fail_abandoned(&host_name(), process_alive)
        .await;
    let browser = match launch(bevara.settings()).await {
        Ok(b) => b,
        Err(code) => return code,
    };
    let trigger = Trigger::manual(args.reason);
    let result = capture_with_progress(bevara, &browser, &channel, trigger, &options).await;
    browser.close().await;
    match result {
        Ok(o) => {
            print_outcome(&o);
            if o.truncated() {
                eprintln!("note: a budget ended the pass early; the snapshot is complete up to that point");
                ExitCode::Truncated
            } else {
                ExitCode::Ok
            }
        }
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
        match bevara::archive::verify(bevara, id).await {
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
    let browser = match launch(bevara.settings()).await {
        Ok(b) => b,
        Err(code) => {
            server.abort();
            return code;
        }
    };
    let trigger = Trigger::manual(Some("demo".into()));
    let result = capture_with_progress(&bevara, &browser, &channel, trigger, &options).await;
    browser.close().await;
    server.abort();
    match result {
        Ok(o) => {
            print_outcome(&o);
            println!(
                "try: bevara snapshots list; bevara verify {}",
                o.snapshot_id
            );
            ExitCode::Ok
        }
        Err(code) => code,
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
        BenchCmd::Recording => match bevara::bench::recording(settings).await {
            Ok(rows) => {
                print!("{}", bevara::bench::format_recording(&rows));
                ExitCode::Ok
            }
            Err(e) => fail(ExitCode::Failure, e),
        },
        BenchCmd::Posts => match bevara::bench::posts(settings).await {
            Ok(b) => {
                print!("{}", bevara::bench::format_posts(&b));
                ExitCode::Ok
            }
            Err(e) => fail(ExitCode::Failure, e),
        },
    }
}
