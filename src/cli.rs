//! Command-line interface: flag definitions and the commands behind them.

mod channel;
mod commands;
mod export;
mod profiles;
mod progress;
mod queue;
mod retention;
mod session;
mod snapshots;
mod store;
mod timestamp;
mod web;

use bevara::config::{Layers, Settings};
use bevara::ExitCode;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// Bevara keeps public authorities' social-media channels as archival records.
#[derive(Debug, Parser)]
#[command(name = "bevara", version, about, after_help = ExitCode::help_table())]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    /// More log output on stderr (-v info, -vv debug).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

/// Settings flags, applied over `bevara.toml` and `BEVARA_*`.
#[derive(Debug, Args)]
pub struct Global {
    /// Config file [default: ./bevara.toml if present]
    #[arg(long, global = true, env = "BEVARA_CONFIG")]
    pub config: Option<PathBuf>,
    /// Where the SQLite file and object directory live [default: ./bevara-data]
    #[arg(long, global = true)]
    pub data_dir: Option<PathBuf>,
    /// Permit loopback, private and link-local targets.
    #[arg(long, global = true)]
    pub allow_private_addresses: bool,
    /// Path of the Chromium binary [default: /usr/bin/chromium]
    #[arg(long, global = true)]
    pub chromium: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The register of channels (förteckning).
    #[command(subcommand)]
    Channel(channel::ChannelCmd),
    /// Capture a channel now, in this process.
    Capture(commands::CaptureArgs),
    /// Run the worker: the scheduler and queued captures, until SIGTERM.
    Worker {
        /// Serve the web pages and the API (web.listen) in the same process.
        #[arg(long)]
        serve: bool,
    },
    /// Queue a capture of a channel for a worker; prints the job id.
    Enqueue(queue::EnqueueArgs),
    /// The job queue.
    #[command(subcommand)]
    Jobs(queue::JobsCmd),
    /// Denser captures of channels while a matter is debated.
    #[command(subcommand)]
    Debate(queue::DebateCmd),
    /// The schedules in `schedules_dir`.
    #[command(subcommand)]
    Schedule(queue::ScheduleCmd),
    /// Find, show and retrieve snapshots.
    #[command(subcommand)]
    Snapshots(snapshots::SnapshotsCmd),
    /// Serve the HTTP API under /api/v1 on web.listen, until stopped.
    Serve,
    /// API tokens for the HTTP API.
    #[command(subcommand)]
    Token(web::TokenCmd),
    /// Deliver snapshots to the e-archive as one E-ARK SIP (FGS Paketstruktur 2.0).
    Export(export::ExportArgs),
    /// Retention rules: how long snapshots are kept, by which disposal decision.
    #[command(subcommand)]
    Retention(retention::RetentionCmd),
    /// Dispose of the snapshots whose retention has passed (--dry-run first).
    Dispose(retention::DisposeArgs),
    /// Legal holds: nothing under one is disposed of.
    #[command(subcommand)]
    Hold(retention::HoldCmd),
    /// The audit log: list it, verify its hash chain.
    #[command(subcommand)]
    Audit(web::AuditCmd),
    /// The object store's spool: pending uploads.
    #[command(subcommand)]
    Store(store::StoreCmd),
    /// Trusted timestamps (RFC 3161) of stored manifests.
    #[command(subcommand)]
    Timestamp(timestamp::TimestampCmd),
    /// Recompute every artifact's SHA-256 against its manifest.
    Verify(commands::VerifyArgs),
    /// Login sessions of channels, encrypted at rest.
    #[command(subcommand)]
    Session(session::SessionCmd),
    /// Search the text of extracted posts, comments and replies.
    Search(profiles::SearchArgs),
    /// Behaviour profiles of the platforms.
    #[command(subcommand)]
    Profiles(profiles::ProfilesCmd),
    /// Print the merged settings (secrets hidden).
    Config(commands::ConfigArgs),
    /// Apply the database's migrations and exit: run once, as a job, before
    /// the workers and web servers of a new version start.
    Migrate,
    /// Serve the bundled sample channel on 127.0.0.1 and capture it.
    Demo(commands::DemoArgs),
    /// Measure screenshot speed and memory on generated tall pages.
    #[command(subcommand)]
    Bench(commands::BenchCmd),
}

/// Merges defaults < file < env < flags.
pub fn settings(g: &Global) -> Result<Settings, bevara::config::ConfigError> {
    let mut layers = Layers::default()
        .with_file(g.config.as_deref())?
        .env(std::env::vars());
    if let Some(d) = &g.data_dir {
        layers = layers.flag("data_dir", d.display().to_string());
    }
    if g.allow_private_addresses {
        layers = layers.flag("allow_private_addresses", true);
    }
    if let Some(c) = &g.chromium {
        layers = layers.flag("browser.chromium_path", c.display().to_string());
    }
    layers.resolve()
}

/// Logs to stderr: text, or JSON lines (`log.format = "json"`) for collectors.
pub fn init_logging(verbose: u8, json: bool) {
    use tracing_subscriber::EnvFilter;
    let default = match verbose {
        // chromiumoxide warns about every DevTools event it cannot parse
        // (newer Chromium fields); those are harmless.
        0 => "warn,chromiumoxide=error",
        1 => "info,chromiumoxide=error",
        _ => "debug,chromiumoxide=info",
    };
    let filter = std::env::var("BEVARA_LOG")
        .ok()
        .and_then(|f| EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| EnvFilter::new(default));
    // chromiumoxide's connection logs raw DevTools messages at debug level,
    // cookies of login sessions included: never let a log filter show them.
    let filter = match "chromiumoxide::conn=info".parse() {
        Ok(d) => filter.add_directive(d),
        Err(_) => filter,
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().with_current_span(true).try_init()
    } else {
        builder.try_init()
    };
}

/// Prints an error and returns its exit code.
pub fn fail(code: ExitCode, message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    code
}

pub async fn run(cli: Cli) -> ExitCode {
    let mut settings = match settings(&cli.global) {
        Ok(s) => s,
        Err(e) => return fail(ExitCode::Usage, e),
    };
    init_logging(cli.verbose, settings.log.format == "json");
    if matches!(cli.command, Command::Demo(_)) {
        // The sample site is served on 127.0.0.1.
        settings.allow_private_addresses = true;
    }
    match cli.command {
        Command::Config(a) => commands::config(&settings, a),
        Command::Profiles(p) => profiles::run(&settings, p),
        Command::Bench(b) => commands::bench(&settings, b).await,
        Command::Migrate => match bevara::db::Db::open(&settings.database_url()).await {
            Ok(db) => {
                println!("the {} database is migrated", db.backend());
                ExitCode::Ok
            }
            Err(e) => fail(db_exit(&e), e),
        },
        command => {
            let bevara = match bevara::Bevara::open(settings).await {
                Ok(b) => b,
                Err(e) => return fail(ExitCode::Storage, e),
            };
            match command {
                Command::Channel(c) => channel::run(&bevara, c).await,
                Command::Capture(a) => commands::capture(&bevara, a).await,
                Command::Worker { serve } => queue::worker(bevara, serve).await,
                Command::Enqueue(a) => queue::enqueue(&bevara, a).await,
                Command::Jobs(j) => queue::jobs(&bevara, j).await,
                Command::Debate(d) => queue::debate(&bevara, d).await,
                Command::Schedule(s) => queue::schedules(&bevara, s).await,
                Command::Snapshots(s) => snapshots::run(&bevara, s).await,
                Command::Verify(v) => commands::verify(&bevara, v).await,
                Command::Store(s) => store::run(&bevara, s).await,
                Command::Timestamp(t) => timestamp::run(&bevara, t).await,
                Command::Serve => web::serve(bevara).await,
                Command::Token(t) => web::token(&bevara, t).await,
                Command::Audit(a) => web::audit(&bevara, a).await,
                Command::Export(e) => export::export(&bevara, e).await,
                Command::Retention(r) => retention::retention(&bevara, r).await,
                Command::Dispose(d) => retention::dispose(&bevara, d).await,
                Command::Hold(h) => retention::hold(&bevara, h).await,
                Command::Demo(d) => commands::demo(bevara, d).await,
                Command::Search(s) => profiles::search(&bevara, s).await,
                Command::Session(s) => session::run(&bevara, s).await,
                Command::Config(_)
                | Command::Bench(_)
                | Command::Profiles(_)
                | Command::Migrate => {
                    unreachable!("handled above")
                }
            }
        }
    }
}

/// Maps a database error to its exit code.
pub fn db_exit(e: &bevara::db::DbError) -> ExitCode {
    use bevara::db::DbError;
    match e {
        DbError::NoChannel(_)
        | DbError::NoCapture(_)
        | DbError::NoJob(_)
        | DbError::NoDebate(_) => ExitCode::NotFound,
        DbError::ChannelExists(_) => ExitCode::Usage,
        _ => ExitCode::Storage,
    }
}
