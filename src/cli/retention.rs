//! `bevara retention …`, `bevara dispose` and `bevara hold …`.

use super::{db_exit, fail};
use bevara::retention::{self, Kept, RetentionError};
use bevara::{Bevara, ExitCode};
use clap::{Args, Subcommand};

#[derive(Debug, Subcommand)]
pub enum RetentionCmd {
    /// Set how long a channel's (or a platform's) snapshots are kept, and the
    /// disposal decision that allows disposing of them after.
    Set {
        /// The channel (or give --platform).
        #[arg(required_unless_present = "platform", conflicts_with = "platform")]
        channel: Option<String>,
        /// Every channel of this platform without a rule of its own.
        #[arg(long)]
        platform: Option<String>,
        /// The period: 0d (due at once), 90d, 26w, 10y.
        #[arg(long)]
        keep: String,
        /// The disposal decision (gallringsbeslut), e.g. its register number.
        #[arg(long)]
        decision: String,
        /// The decision's date (YYYY-MM-DD).
        #[arg(long)]
        decision_date: Option<String>,
        /// What the decision says.
        #[arg(long)]
        decision_text: Option<String>,
    },
    /// The rules.
    Show {
        #[arg(long)]
        json: bool,
    },
    /// The disposal records: every snapshot disposed of, when, by which decision, by whom.
    Disposals {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct DisposeArgs {
    /// List what is due and why, dispose of nothing.
    #[arg(long, conflicts_with = "apply", required_unless_present = "apply")]
    dry_run: bool,
    /// Dispose of what is due and not kept by a hold or Object Lock.
    #[arg(long)]
    apply: bool,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
pub enum HoldCmd {
    /// Put a snapshot, or every snapshot of a channel, under a legal hold.
    Add {
        #[arg(required_unless_present = "channel", conflicts_with = "channel")]
        snapshot: Option<String>,
        #[arg(long)]
        channel: Option<String>,
        #[arg(long)]
        reason: String,
    },
    /// Lift a hold.
    Remove { hold_id: String },
    /// Holds in force (--all: lifted ones too).
    List {
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
    },
}

fn exit(e: &RetentionError) -> ExitCode {
    match e {
        RetentionError::Usage(_) => ExitCode::Usage,
        RetentionError::Db(d) => db_exit(d),
        RetentionError::Store { .. } => ExitCode::Storage,
    }
}

fn json<T: serde::Serialize>(v: &T) {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

pub async fn retention(bevara: &Bevara, cmd: RetentionCmd) -> ExitCode {
    match cmd {
        RetentionCmd::Set {
            channel,
            platform,
            keep,
            decision,
            decision_date,
            decision_text,
        } => match retention::set_rule(
            bevara,
            channel.as_deref(),
            platform.as_deref(),
            &keep,
            &decision,
            decision_date.as_deref(),
            decision_text.as_deref(),
            &bevara::capture::os_user(),
        )
        .await
        {
            Ok(r) => {
                println!(
                    "{}: kept {} days, then disposed of by decision {}",
                    r.channel_id.or(r.platform).unwrap_or_default(),
                    r.keep_days,
                    r.decision_id
                );
                ExitCode::Ok
            }
            Err(e) => fail(exit(&e), e),
        },
        RetentionCmd::Show { json: as_json } => match bevara.db().retention_rules().await {
            Ok(rules) if as_json => {
                json(&rules);
                ExitCode::Ok
            }
            Ok(rules) => {
                for r in rules {
                    let what = match (&r.channel_id, &r.platform) {
                        (Some(c), _) => format!("channel {c}"),
                        (None, Some(p)) => format!("platform {p}"),
                        _ => "-".into(),
                    };
                    println!(
                        "{what:<28} keep {:>6} days  decision {}{}{}",
                        r.keep_days,
                        r.decision_id,
                        r.decision_date
                            .map(|d| format!(" of {d}"))
                            .unwrap_or_default(),
                        r.decision_text
                            .map(|t| format!(": {t}"))
                            .unwrap_or_default()
                    );
                }
                ExitCode::Ok
            }
            Err(e) => fail(db_exit(&e), e),
        },
        RetentionCmd::Disposals { json: as_json } => match bevara.db().disposals().await {
            Ok(list) if as_json => {
                json(&list);
                ExitCode::Ok
            }
            Ok(list) => {
                for d in list {
                    println!(
                        "{}  {}  {}  requested {}  disposed {} by {}  decision {}  ({} objects)",
                        d.id,
                        d.snapshot_id,
                        d.channel_id,
                        d.requested_at.to_rfc3339(),
                        d.disposed_at.to_rfc3339(),
                        d.disposed_by.as_deref().unwrap_or("-"),
                        d.decision_id,
                        d.objects
                    );
                }
                ExitCode::Ok
            }
            Err(e) => fail(db_exit(&e), e),
        },
    }
}

pub async fn dispose(bevara: &Bevara, a: DisposeArgs) -> ExitCode {
    let due = match retention::due(bevara, chrono::Utc::now()).await {
        Ok(d) => d,
        Err(e) => return fail(exit(&e), e),
    };
    if a.dry_run {
        if a.json {
            json(&due);
            return ExitCode::Ok;
        }
        for d in &due {
            let why = match &d.kept {
                None => "due".to_string(),
                Some(Kept::Hold { hold, reason }) => format!("kept: legal hold {hold} ({reason})"),
                Some(Kept::ObjectLock { until }) => {
                    format!("kept: under Object Lock until {}", until.to_rfc3339())
                }
            };
            println!(
                "{}  {}  requested {}  due {}  decision {}  {why}",
                d.snapshot,
                d.channel,
                d.requested_at.to_rfc3339(),
                d.due_at.to_rfc3339(),
                d.rule.decision_id
            );
        }
        let n = due.iter().filter(|d| d.kept.is_none()).count();
        eprintln!("{n} snapshot(s) due; {} kept", due.len() - n);
        return ExitCode::Ok;
    }
    match retention::dispose(bevara, &due, &bevara::capture::os_user()).await {
        Ok(done) if a.json => {
            json(&done);
            ExitCode::Ok
        }
        Ok(done) => {
            for d in &done {
                println!(
                    "disposed {}  {}  requested {}  by decision {}{}  ({} objects, {} bytes)",
                    d.snapshot_id,
                    d.channel_id,
                    d.requested_at.to_rfc3339(),
                    d.decision_id,
                    d.decision_date
                        .as_deref()
                        .map(|x| format!(" of {x}"))
                        .unwrap_or_default(),
                    d.objects,
                    d.bytes
                );
            }
            let kept = due.iter().filter(|d| d.kept.is_some()).count();
            eprintln!(
                "{} disposed of; {kept} kept (bevara dispose --dry-run says why)",
                done.len()
            );
            ExitCode::Ok
        }
        Err(e) => fail(exit(&e), e),
    }
}

pub async fn hold(bevara: &Bevara, cmd: HoldCmd) -> ExitCode {
    let me = bevara::capture::os_user();
    match cmd {
        HoldCmd::Add {
            snapshot,
            channel,
            reason,
        } => match retention::add_hold(
            bevara,
            snapshot.as_deref(),
            channel.as_deref(),
            &reason,
            &me,
            "cli",
        )
        .await
        {
            Ok((h, objects)) => {
                println!("{}", h.id);
                eprintln!(
                    "hold {} on {}{}",
                    h.id,
                    h.snapshot_id.or(h.channel_id).unwrap_or_default(),
                    if objects > 0 {
                        format!("; {objects} objects under an S3 legal hold")
                    } else {
                        String::new()
                    }
                );
                ExitCode::Ok
            }
            Err(e) => fail(exit(&e), e),
        },
        HoldCmd::Remove { hold_id } => {
            match retention::remove_hold(bevara, &hold_id, &me, "cli").await {
                Ok(true) => {
                    println!("lifted {hold_id}");
                    ExitCode::Ok
                }
                Ok(false) => fail(
                    ExitCode::NotFound,
                    format!("no hold {hold_id} in force (see `bevara hold list`)"),
                ),
                Err(e) => fail(exit(&e), e),
            }
        }
        HoldCmd::List { all, json: as_json } => match bevara.db().holds(!all).await {
            Ok(list) if as_json => {
                json(&list);
                ExitCode::Ok
            }
            Ok(list) => {
                for h in list {
                    println!(
                        "{}  {}  {}  placed {} by {}{}",
                        h.id,
                        h.snapshot_id
                            .map(|s| format!("snapshot {s}"))
                            .or(h.channel_id.map(|c| format!("channel {c}")))
                            .unwrap_or_default(),
                        h.reason,
                        h.placed_at.to_rfc3339(),
                        h.placed_by.as_deref().unwrap_or("-"),
                        h.removed_at
                            .map(|t| format!("; lifted {}", t.to_rfc3339()))
                            .unwrap_or_default()
                    );
                }
                ExitCode::Ok
            }
            Err(e) => fail(db_exit(&e), e),
        },
    }
}
