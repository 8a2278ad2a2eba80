//! `bevara store …`: the spool and pending uploads.

use super::fail;
use bevara::store::spool;
use bevara::{Bevara, ExitCode};
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum StoreCmd {
    /// Store every upload-pending snapshot of this host's spool now; prints what is left.
    Sync {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// The store, the spool's size and the oldest pending snapshot.
    Status {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(bevara: &Bevara, cmd: StoreCmd) -> ExitCode {
    match cmd {
        StoreCmd::Sync { json } => {
            let r = spool::sync(bevara).await;
            if json {
                println!("{}", serde_json::to_string_pretty(&r).unwrap_or_default());
            } else {
                for id in &r.stored {
                    println!("stored    {id}: complete");
                }
                for (id, why) in &r.left {
                    println!("pending   {id}: {why}");
                }
                for id in &r.busy {
                    println!("busy      {id}: another process is uploading it now");
                }
                for (id, worker) in &r.elsewhere {
                    println!("elsewhere {id}: in the spool of {worker}");
                }
                println!(
                    "{} stored, {} left here, {} being uploaded elsewhere in this host, {} in other hosts' spools",
                    r.stored.len(),
                    r.left.len(),
                    r.busy.len(),
                    r.elsewhere.len()
                );
            }
            if r.left.is_empty() {
                ExitCode::Ok
            } else {
                ExitCode::UploadPending
            }
        }
        StoreCmd::Status { json } => match spool::status(bevara).await {
            Ok(s) if json => {
                println!("{}", serde_json::to_string_pretty(&s).unwrap_or_default());
                ExitCode::Ok
            }
            Ok(s) => {
                let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
                println!("store:    {}", s.store);
                println!("spool:    {}", s.dir.display());
                match s.cap_bytes {
                    Some(cap) => println!(
                        "size:     {:.1} MiB of {:.0} MiB ({:.0} %)",
                        mib(s.bytes),
                        mib(cap),
                        100.0 * s.bytes as f64 / cap as f64
                    ),
                    None => println!("size:     {:.1} MiB (no cap)", mib(s.bytes)),
                }
                println!(
                    "pending:  {} here, {} in the database",
                    s.pending.len(),
                    s.pending_in_db
                );
                if let Some(o) = s.pending.first() {
                    println!(
                        "oldest:   {} of {}, captured {}, spooled {} ({:.1} MiB){}",
                        o.snapshot_id,
                        o.channel,
                        o.requested_at.to_rfc3339(),
                        o.spooled_at.to_rfc3339(),
                        mib(o.bytes),
                        o.reason
                            .as_deref()
                            .map(|r| format!(": {r}"))
                            .unwrap_or_default()
                    );
                }
                ExitCode::Ok
            }
            Err(e) => fail(ExitCode::Storage, e),
        },
    }
}
