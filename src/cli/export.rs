//! `bevara export`: snapshots as one E-ARK SIP (FGS Paketstruktur 2.0) for the e-archive.

use super::fail;
use super::snapshots::archive_exit;
use bevara::export::ExportError;
use bevara::{Bevara, ExitCode};
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Snapshots to deliver (or give --channel).
    #[arg(required_unless_present = "channel", conflicts_with = "channel")]
    snapshots: Vec<String>,
    /// Every complete snapshot of this channel (narrowed by --from and --to).
    #[arg(long)]
    channel: Option<String>,
    /// From this date (YYYY-MM-DD) or time.
    #[arg(long, value_parser = super::snapshots::parse_from)]
    from: Option<chrono::DateTime<chrono::Utc>>,
    /// To the end of this date, or this time.
    #[arg(long, value_parser = super::snapshots::parse_to)]
    to: Option<chrono::DateTime<chrono::Utc>>,
    /// The folder the package is written into (as PACKAGE-ID/ or PACKAGE-ID.zip).
    #[arg(long)]
    out: PathBuf,
    /// Write the package as one zip.
    #[arg(long)]
    zip: bool,
    /// Add preservation renditions: the PDF as PDF/A-2b (Ghostscript), the
    /// recording as FFV1 in Matroska (ffmpeg).
    #[arg(long)]
    renditions: bool,
    /// Print what was written as JSON.
    #[arg(long)]
    json: bool,
}

pub async fn export(bevara: &Bevara, a: ExportArgs) -> ExitCode {
    let ids = match &a.channel {
        None => a.snapshots.clone(),
        Some(c) => match bevara::export::select(bevara, c, a.from, a.to).await {
            Ok(ids) => ids,
            Err(ExportError::Usage(m)) => return fail(ExitCode::NotFound, m),
            Err(ExportError::Db(e)) => return fail(super::db_exit(&e), e),
            Err(e) => return fail(ExitCode::Failure, e),
        },
    };
    if ids.is_empty() {
        return fail(ExitCode::NotFound, "no complete snapshot to export");
    }
    let started = std::time::Instant::now();
    let opts = bevara::export::ExportOptions {
        zip: a.zip,
        renditions: a.renditions,
    };
    match bevara::export::export(bevara, &ids, &a.out, opts).await {
        Ok(e) => {
            if a.json {
                println!("{}", serde_json::to_string_pretty(&e).unwrap_or_default());
            } else {
                println!("{}", e.path.display());
            }
            eprintln!(
                "package {}: {} snapshots, {} renditions, {} disposal records, {} files, {} bytes in {:.1} s",
                e.package_id,
                e.snapshots.len(),
                e.renditions.len(),
                e.disposals,
                e.files,
                e.bytes,
                started.elapsed().as_secs_f64()
            );
            ExitCode::Ok
        }
        Err(ExportError::Usage(m)) => fail(ExitCode::Usage, m),
        Err(ExportError::Archive(e)) => fail(archive_exit(&e), e),
        Err(ExportError::Db(e)) => fail(super::db_exit(&e), e),
        Err(e @ ExportError::Mismatch { .. }) => fail(ExitCode::VerifyFailed, e),
        Err(e @ ExportError::Io { .. }) => fail(ExitCode::Storage, e),
        Err(ExportError::Rendition(e)) if e.tool == "ffmpeg" => fail(ExitCode::Recorder, e),
        Err(e @ ExportError::Rendition(_)) => fail(ExitCode::Failure, e),
    }
}
