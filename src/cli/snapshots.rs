//! `bevara snapshots …`: finding, showing and retrieving snapshots.

use super::{db_exit, fail};
use bevara::archive::{self, ArchiveError};
use bevara::db::CaptureFilter;
use bevara::{Bevara, ExitCode};
use chrono::{DateTime, Utc};
use clap::Subcommand;
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub enum SnapshotsCmd {
    /// List captures, oldest first (failed ones too, with why).
    List {
        /// Only this channel.
        channel: Option<String>,
        /// From this date (YYYY-MM-DD, UTC) or time (RFC 3339).
        #[arg(long, value_parser = parse_from)]
        from: Option<DateTime<Utc>>,
        /// Up to and including this date (YYYY-MM-DD, UTC) or up to this time (RFC 3339).
        #[arg(long, value_parser = parse_to)]
        to: Option<DateTime<Utc>>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show a snapshot's manifest.
    Show { snapshot_id: String },
    /// New, removed and edited items between two snapshots of a channel.
    Diff {
        a: String,
        b: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Write every artifact and manifest.json of a snapshot into a directory.
    Get {
        snapshot_id: String,
        #[arg(long)]
        out: PathBuf,
    },
}

pub(super) fn parse_date(s: &str, end: bool) -> Result<DateTime<Utc>, String> {
    bevara::queue::parse_time(s, end)
}

pub(super) fn parse_from(s: &str) -> Result<DateTime<Utc>, String> {
    parse_date(s, false)
}

pub(super) fn parse_to(s: &str) -> Result<DateTime<Utc>, String> {
    parse_date(s, true)
}

pub fn archive_exit(e: &ArchiveError) -> ExitCode {
    match e {
        ArchiveError::Db(d) => db_exit(d),
        ArchiveError::NotComplete { .. } => ExitCode::NotFound,
        ArchiveError::Store(bevara::store::StoreError::NotFound(_)) => ExitCode::VerifyFailed,
        _ => ExitCode::Storage,
    }
}

pub async fn run(bevara: &Bevara, cmd: SnapshotsCmd) -> ExitCode {
    match cmd {
        SnapshotsCmd::List {
            channel,
            from,
            to,
            json,
        } => {
            let channel = match channel {
                Some(c) => match bevara.db().channel(&c).await {
                    Ok(ch) => Some(ch.id),
                    Err(e) => return fail(db_exit(&e), e),
                },
                None => None,
            };
            let filter = CaptureFilter {
                channel,
                from,
                to,
                state: None,
            };
            match bevara.db().list_captures(&filter).await {
                Ok(list) if json => {
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&list).unwrap_or_default()
                    );
                    ExitCode::Ok
                }
                Ok(list) => {
                    println!(
                        "{:<26} {:<20} {:<9} {:<20} NOTE",
                        "SNAPSHOT", "CHANNEL", "STATE", "REQUESTED (UTC)"
                    );
                    for c in list {
                        let note = match (&c.failure, c.truncated, c.warnings) {
                            (Some(f), _, _) => {
                                format!("{}: {f}", c.failure_code.as_deref().unwrap_or("failed"))
                            }
                            (None, true, _) => "truncated by a budget".into(),
                            (None, false, w) if w > 0 => format!("{w} warning(s)"),
                            _ => String::new(),
                        };
                        println!(
                            "{:<26} {:<20} {:<9} {:<20} {}",
                            c.id,
                            c.channel_id,
                            c.state.as_str(),
                            c.requested_at.format("%Y-%m-%d %H:%M:%S"),
                            note
                        );
                    }
                    ExitCode::Ok
                }
                Err(e) => fail(db_exit(&e), e),
            }
        }
        SnapshotsCmd::Show { snapshot_id } => {
            let rec = match bevara.db().capture(&snapshot_id).await {
                Ok(r) => r,
                Err(e) => return fail(db_exit(&e), e),
            };
            if rec.state != bevara::db::CaptureState::Complete {
                println!("{}", serde_json::to_string_pretty(&rec).unwrap_or_default());
                return ExitCode::Ok;
            }
            match archive::manifest(bevara, &snapshot_id).await {
                Ok((_, m)) => {
                    println!("{}", serde_json::to_string_pretty(&m).unwrap_or_default());
                    ExitCode::Ok
                }
                Err(e) => fail(archive_exit(&e), e),
            }
        }
        SnapshotsCmd::Diff { a, b, json } => match archive::diff(bevara, &a, &b).await {
            Ok(d) if json => {
                println!("{}", serde_json::to_string_pretty(&d).unwrap_or_default());
                ExitCode::Ok
            }
            Ok(d) => {
                let line = |i: &bevara::behaviour::items::Item| {
                    let text: String = i.text.replace('\n', " ").chars().take(200).collect();
                    format!(
                        "{} {} [{}] {}",
                        i.kind,
                        i.author.as_deref().unwrap_or("?"),
                        i.id,
                        text
                    )
                };
                println!("diff {} → {}", d.from, d.to);
                for i in &d.removed {
                    let to_at = bevara.db().capture(&d.to).await.map(|c| c.requested_at);
                    let channel = bevara
                        .db()
                        .capture(&d.from)
                        .await
                        .map(|c| c.channel_id)
                        .unwrap_or_default();
                    let seen = match to_at {
                        Ok(at) => bevara
                            .db()
                            .last_seen(&channel, &i.id, at)
                            .await
                            .ok()
                            .flatten(),
                        Err(_) => None,
                    };
                    let seen = seen
                        .map(|(id, at)| {
                            format!(" (last seen in {id}, {})", at.format("%Y-%m-%d %H:%M"))
                        })
                        .unwrap_or_default();
                    println!("- removed {}{seen}", line(i));
                }
                for (before, after) in &d.edited {
                    println!("~ edited  {}", line(after));
                    println!(
                        "          was: {}",
                        before
                            .text
                            .replace('\n', " ")
                            .chars()
                            .take(200)
                            .collect::<String>()
                    );
                }
                for i in &d.new {
                    println!("+ new     {}", line(i));
                }
                println!(
                    "{} new, {} removed, {} edited",
                    d.new.len(),
                    d.removed.len(),
                    d.edited.len()
                );
                ExitCode::Ok
            }
            Err(e) => fail(archive_exit(&e), e),
        },
        SnapshotsCmd::Get { snapshot_id, out } => {
            match archive::get(bevara, &snapshot_id, &out).await {
                Ok(files) => {
                    for f in files {
                        println!("{}", f.display());
                    }
                    ExitCode::Ok
                }
                Err(e) => fail(archive_exit(&e), e),
            }
        }
    }
}
