//! `bevara timestamp …`: RFC 3161 tokens of stored manifests.

use super::fail;
use bevara::timestamp::{self, TimestampError};
use bevara::{Bevara, ExitCode};
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum TimestampCmd {
    /// Timestamp the complete snapshots whose manifest has no token yet.
    Sync {
        /// At most this many snapshots.
        #[arg(long, default_value_t = 100)]
        limit: i64,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Check a snapshot's token and print what it says.
    Show {
        snapshot: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

fn exit_of(e: &TimestampError) -> ExitCode {
    match e {
        TimestampError::Unreachable { .. } => ExitCode::Unreachable,
        TimestampError::Refused(_) | TimestampError::Invalid(_) => ExitCode::VerifyFailed,
        TimestampError::Ca { .. } => ExitCode::Usage,
        TimestampError::Store(_) => ExitCode::Storage,
        TimestampError::Db(e) => super::db_exit(e),
    }
}

pub async fn run(bevara: &Bevara, cmd: TimestampCmd) -> ExitCode {
    match cmd {
        TimestampCmd::Sync { limit, json } => {
            if bevara.settings().timestamp.tsa_url.is_empty() {
                return fail(
                    ExitCode::Usage,
                    "no time-stamping authority: set timestamp.tsa_url (BEVARA_TIMESTAMP_TSA_URL)",
                );
            }
            match timestamp::catch_up(bevara, limit, 0).await {
                Ok(r) => {
                    if json {
                        println!("{}", serde_json::to_string_pretty(&r).unwrap_or_default());
                    } else {
                        for id in &r.stamped {
                            println!("stamped {id}");
                        }
                        for (id, why) in &r.left {
                            println!("left    {id}: {why}");
                        }
                        println!("{} stamped, {} left", r.stamped.len(), r.left.len());
                    }
                    if r.left.is_empty() {
                        ExitCode::Ok
                    } else {
                        ExitCode::Unreachable
                    }
                }
                Err(e) => fail(exit_of(&e), e),
            }
        }
        TimestampCmd::Show { snapshot, json } => {
            let arts = match bevara.db().artifacts(&snapshot).await {
                Ok(a) => a,
                Err(e) => return fail(super::db_exit(&e), e),
            };
            let (Some(m), Some(t)) = (
                arts.iter().find(|a| a.name == "manifest.json"),
                arts.iter().find(|a| a.name == timestamp::TOKEN_NAME),
            ) else {
                return fail(
                    ExitCode::NotFound,
                    format!("snapshot {snapshot} has no timestamp token"),
                );
            };
            let checked = timestamp::check_stored(bevara, t, &m.sha256).await;
            match checked {
                Ok(v) if json => {
                    println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
                    ExitCode::Ok
                }
                Ok(v) => {
                    println!("manifest: {} (sha256 {})", m.key, m.sha256);
                    println!("time:     {}", v.gen_time.to_rfc3339());
                    println!("serial:   {}", v.serial);
                    println!("signer:   {}", v.signer);
                    println!("policy:   {}", v.policy);
                    println!(
                        "chain:    {}",
                        if v.chain_checked {
                            "checked against timestamp.ca_file"
                        } else {
                            "not checked (no timestamp.ca_file)"
                        }
                    );
                    ExitCode::Ok
                }
                Err(e) => fail(exit_of(&e), e),
            }
        }
    }
}
