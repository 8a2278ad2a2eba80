//! Command-line interface: flag definitions and the commands behind them.

mod channel;
mod commands;
mod profiles;
mod progress;
mod session;
mod snapshots;

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
    /// Capture a channel now.
    Capture(commands::CaptureArgs),
    /// Find, show and retrieve snapshots.
    #[command(subcommand)]
    Snapshots(snapshots::SnapshotsCmd),
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

pub fn init_logging(verbose: u8) {
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
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
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
    if matches!(cli.command, Command::Demo(_)) {
        // The sample site is served on 127.0.0.1.
        settings.allow_private_addresses = true;
    }
    match cli.command {
        Command::Config(a) => commands::config(&settings, a),
        Command::Profiles(p) => profiles::run(&settings, p),
        Command::Bench(b) => commands::bench(&settings, b).await,
        command => {
            let bevara = match bevara::Bevara::open(settings).await {
                Ok(b) => b,
                Err(e) => return fail(ExitCode::Storage, e),
            };
            match command {
                Command::Channel(c) => channel::run(&bevara, c).await,
                Command::Capture(a) => commands::capture(&bevara, a).await,
                Command::Snapshots(s) => snapshots::run(&bevara, s).await,
                Command::Verify(v) => commands::verify(&bevara, v).await,
                Command::Demo(d) => commands::demo(bevara, d).await,
                Command::Search(s) => profiles::search(&bevara, s).await,
                Command::Session(s) => session::run(&bevara, s).await,
                Command::Config(_) | Command::Bench(_) | Command::Profiles(_) => {
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
        DbError::NoChannel(_) | DbError::NoCapture(_) => ExitCode::NotFound,
        DbError::ChannelExists(_) => ExitCode::Usage,
        _ => ExitCode::Storage,
    }
}
