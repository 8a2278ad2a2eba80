//! `bevara worker`, `enqueue`, `jobs …`, `debate …` and `schedule …`.

use super::snapshots::parse_date as parse_time;
use super::{db_exit, fail};
use bevara::capture::os_user;
use bevara::queue::{Job, JobStatus, NewJob, Priority, TriggerKind};
use bevara::schedule::{self, Schedule};
use bevara::{Bevara, ExitCode};
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand, ValueEnum};

#[derive(Debug, Args)]
pub struct EnqueueArgs {
    /// The channel to capture.
    pub channel: String,
    /// Why (kept with the job and put in the manifest).
    #[arg(long)]
    pub reason: Option<String>,
    /// `high` comes before every other job.
    #[arg(long, value_enum, default_value_t = EnqueuePriority::Normal)]
    pub priority: EnqueuePriority,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum EnqueuePriority {
    High,
    Normal,
}

#[derive(Debug, Subcommand)]
pub enum JobsCmd {
    /// Jobs, newest first.
    List {
        #[arg(long)]
        status: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: i64,
        #[arg(long)]
        json: bool,
    },
    /// Queue a failed or cancelled job again.
    Retry { job_id: String },
    /// Cancel a queued or running job (a running capture stops at its next heartbeat).
    Cancel { job_id: String },
}

#[derive(Debug, Subcommand)]
pub enum DebateCmd {
    /// Capture channels more often while a matter is debated.
    Start {
        /// Channels by id.
        #[arg(required_unless_present = "tag")]
        channels: Vec<String>,
        /// Every open channel with this tag.
        #[arg(long)]
        tag: Option<String>,
        /// How often, e.g. 6h, 30m, 1d.
        #[arg(long)]
        every: String,
        /// Last day (YYYY-MM-DD, the whole day) or an RFC 3339 time.
        #[arg(long)]
        until: String,
        /// The matter debated (put in each manifest).
        #[arg(long)]
        reason: String,
    },
    /// Debates, newest first.
    List {
        /// Only those still running.
        #[arg(long)]
        active: bool,
        #[arg(long)]
        json: bool,
    },
    /// Stop a debate early.
    Stop { debate_id: String },
}

#[derive(Debug, Subcommand)]
pub enum ScheduleCmd {
    /// Every schedule, the channels it selects and its next fire.
    List {
        #[arg(long)]
        json: bool,
    },
    /// The next fire times of a schedule, RFC 3339 with the local offset.
    Next {
        name: String,
        /// Start after this time [default: now].
        #[arg(long)]
        after: Option<String>,
        #[arg(long, default_value_t = 5)]
        count: usize,
        #[arg(long)]
        json: bool,
    },
}

pub async fn enqueue(bevara: &Bevara, args: EnqueueArgs) -> ExitCode {
    let mut job = NewJob::new(&args.channel, TriggerKind::AdHoc)
        .reason(args.reason)
        .requested_by(Some(os_user()))
        .attempts_from(&bevara.settings().worker);
    if matches!(args.priority, EnqueuePriority::High) {
        job.priority = Priority::HIGH;
    }
    if let Err(e) = bevara.db().channel(&args.channel).await {
        return fail(db_exit(&e), e);
    }
    match bevara.db().enqueue(&job, Utc::now()).await {
        Ok(e) => {
            bevara::web::audit_cli(
                bevara,
                "capture.request",
                Some(&args.channel),
                serde_json::json!({"job": e.job_id, "reason": job.reason, "joined": e.joined}),
            )
            .await;
            println!("{}", e.job_id);
            if e.joined {
                eprintln!(
                    "note: joined job {} already queued or running for {}",
                    e.job_id, args.channel
                );
            }
            ExitCode::Ok
        }
        Err(e) => fail(db_exit(&e), e),
    }
}

pub async fn jobs(bevara: &Bevara, cmd: JobsCmd) -> ExitCode {
    let db = bevara.db();
    match cmd {
        JobsCmd::List {
            status,
            limit,
            json,
        } => {
            let status = match status.map(|s| s.parse::<JobStatus>()).transpose() {
                Ok(s) => s,
                Err(e) => return fail(ExitCode::Usage, e),
            };
            let jobs = match db.list_jobs(status, limit).await {
                Ok(j) => j,
                Err(e) => return fail(db_exit(&e), e),
            };
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&jobs).unwrap_or_default()
                );
            } else {
                print_jobs(&jobs);
            }
            ExitCode::Ok
        }
        JobsCmd::Retry { job_id } => match db.retry_job(&job_id, Utc::now()).await {
            Ok(j) => {
                println!("job {} queued again for {}", j.id, j.channel_id);
                ExitCode::Ok
            }
            Err(e) => fail(job_exit(&e), e),
        },
        JobsCmd::Cancel { job_id } => match db.cancel_job(&job_id, Utc::now()).await {
            Ok(j) => {
                println!("job {} cancelled", j.id);
                ExitCode::Ok
            }
            Err(e) => fail(job_exit(&e), e),
        },
    }
}

fn job_exit(e: &bevara::db::DbError) -> ExitCode {
    match e {
        bevara::db::DbError::JobState { .. } | bevara::db::DbError::ChannelBusy { .. } => {
            ExitCode::Usage
        }
        e => db_exit(e),
    }
}

fn print_jobs(jobs: &[Job]) {
    println!(
        "{:<26}  {:<20} {:<9} {:<9} {:>3}  {:<20} last error / snapshot",
        "id", "channel", "status", "trigger", "try", "next attempt"
    );
    for j in jobs {
        let tail = match (&j.last_error, &j.snapshot_id) {
            (_, Some(s)) if j.status == JobStatus::Done => s.clone(),
            (Some(e), _) => e.chars().take(80).collect(),
            (None, Some(s)) => s.clone(),
            (None, None) => "-".into(),
        };
        println!(
            "{:<26}  {:<20} {:<9} {:<9} {:>3}  {:<20} {}",
            j.id,
            j.channel_id,
            j.status.as_str(),
            j.trigger.kind.as_str(),
            j.attempts,
            j.next_attempt_at.format("%Y-%m-%dT%H:%M:%SZ"),
            tail
        );
    }
}

pub async fn debate(bevara: &Bevara, cmd: DebateCmd) -> ExitCode {
    let db = bevara.db();
    match cmd {
        DebateCmd::Start {
            channels,
            tag,
            every,
            until,
            reason,
        } => match bevara::queue::start_debate(
            db,
            channels,
            tag,
            &every,
            &until,
            reason,
            Some(os_user()),
        )
        .await
        {
            Ok(d) => {
                bevara::web::audit_cli(
                    bevara,
                    "debate.start",
                    Some(&d.id),
                    serde_json::json!({"channels": d.channels, "tag": d.tag, "every_secs": d.every_secs, "until": d.until, "reason": d.reason}),
                )
                .await;
                println!("{}", d.id);
                eprintln!(
                    "debate {} started: every {} s until {}; the first captures are queued at the next scheduler tick",
                    d.id,
                    d.every_secs,
                    d.until.to_rfc3339()
                );
                ExitCode::Ok
            }
            Err(bevara::queue::DebateError::Usage(e)) => fail(ExitCode::Usage, e),
            Err(bevara::queue::DebateError::Db(e)) => fail(db_exit(&e), e),
        },
        DebateCmd::List { active, json } => {
            let list = match db.debates(active.then(Utc::now)).await {
                Ok(l) => l,
                Err(e) => return fail(db_exit(&e), e),
            };
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&list).unwrap_or_default()
                );
                return ExitCode::Ok;
            }
            for d in list {
                let who: Vec<String> = d
                    .channels
                    .iter()
                    .cloned()
                    .chain(d.tag.iter().map(|t| format!("tag:{t}")))
                    .collect();
                let state = match d.stopped_at {
                    Some(t) => format!("stopped {}", t.to_rfc3339()),
                    None if d.until < Utc::now() => "ended".into(),
                    None => "active".into(),
                };
                println!(
                    "{}  {}  every {} s until {}  {}  {:?} by {}",
                    d.id,
                    who.join(","),
                    d.every_secs,
                    d.until.to_rfc3339(),
                    state,
                    d.reason,
                    d.started_by.as_deref().unwrap_or("-")
                );
            }
            ExitCode::Ok
        }
        DebateCmd::Stop { debate_id } => {
            match db
                .stop_debate(&debate_id, Utc::now(), Some(&os_user()))
                .await
            {
                Ok(true) => {
                    bevara::web::audit_cli(
                        bevara,
                        "debate.stop",
                        Some(&debate_id),
                        serde_json::json!({}),
                    )
                    .await;
                    println!("debate {debate_id} stopped");
                    ExitCode::Ok
                }
                Ok(false) => {
                    println!("debate {debate_id} was already stopped");
                    ExitCode::Ok
                }
                Err(e) => fail(db_exit(&e), e),
            }
        }
    }
}

/// The schedules directory's good files; bad ones are printed and skipped.
fn load_schedules(bevara: &Bevara) -> Vec<Schedule> {
    let (good, bad) = schedule::load_dir(&bevara.settings().schedules_dir);
    for e in bad {
        eprintln!("error: {e}");
    }
    good
}

fn local(s: &Schedule, t: DateTime<Utc>) -> String {
    t.with_timezone(&s.timezone).to_rfc3339()
}

pub async fn schedules(bevara: &Bevara, cmd: ScheduleCmd) -> ExitCode {
    match cmd {
        ScheduleCmd::List { json } => {
            let channels = match bevara.db().list_channels().await {
                Ok(c) => c,
                Err(e) => return fail(db_exit(&e), e),
            };
            let now = Utc::now();
            let rows: Vec<serde_json::Value> = load_schedules(bevara)
                .iter()
                .map(|s| {
                    let selected: Vec<&str> = channels
                        .iter()
                        .filter(|c| s.selects(c))
                        .map(|c| c.id.as_str())
                        .collect();
                    serde_json::json!({
                        "name": s.name,
                        "cron": s.cron,
                        "timezone": s.timezone.name(),
                        "priority": s.priority,
                        "channels": selected,
                        "next": s.next_after(now).map(|t| local(s, t)),
                    })
                })
                .collect();
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&rows).unwrap_or_default()
                );
            } else {
                for r in rows {
                    let chans: Vec<&str> = r["channels"]
                        .as_array()
                        .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
                        .unwrap_or_default();
                    println!(
                        "{}  cron {:?} {}  next {}  channels ({}): {}",
                        r["name"].as_str().unwrap_or(""),
                        r["cron"].as_str().unwrap_or(""),
                        r["timezone"].as_str().unwrap_or(""),
                        r["next"].as_str().unwrap_or("never"),
                        chans.len(),
                        chans.join(", ")
                    );
                }
            }
            ExitCode::Ok
        }
        ScheduleCmd::Next {
            name,
            after,
            count,
            json,
        } => {
            let Some(s) = load_schedules(bevara).into_iter().find(|s| s.name == name) else {
                return fail(
                    ExitCode::NotFound,
                    format!(
                        "no schedule {name} in {} (see `bevara schedule list`)",
                        bevara.settings().schedules_dir.display()
                    ),
                );
            };
            let mut t = match after.as_deref().map(|a| parse_time(a, false)).transpose() {
                Ok(t) => t.unwrap_or_else(Utc::now),
                Err(e) => return fail(ExitCode::Usage, e),
            };
            let mut fires = Vec::new();
            while fires.len() < count {
                match s.next_after(t) {
                    Some(n) => {
                        fires.push(local(&s, n));
                        t = n;
                    }
                    None => break,
                }
            }
            if json {
                println!("{}", serde_json::to_string(&fires).unwrap_or_default());
            } else {
                for f in fires {
                    println!("{f}");
                }
            }
            ExitCode::Ok
        }
    }
}

/// `bevara worker`: runs until SIGTERM or Ctrl-C, then drains.
pub async fn worker(bevara: bevara::Bevara, serve: bool) -> ExitCode {
    let settings = bevara.settings();
    let options = bevara::capture::CaptureOptions {
        record: settings.recording.enabled,
        pace: false,
    };
    if options.record {
        if let Err(e) = bevara::capture::check_recorder(settings) {
            return fail(
                ExitCode::Recorder,
                format!("{e}\n(or run without recordings: recording.enabled = false)"),
            );
        }
    }
    let signals = match super::commands::signals() {
        Ok(s) => s,
        Err(code) => return code,
    };
    let shutdown = super::commands::shutdown_on(signals);
    let _web = if serve {
        match bevara::web::bind(bevara.clone()).await {
            Ok((listener, app)) => Some(tokio::spawn(async move {
                if let Err(e) = bevara::web::serve_on(listener, app).await {
                    tracing::error!(error = %e, "the web server stopped");
                }
            })),
            Err(e) => return fail(ExitCode::Failure, e),
        }
    } else {
        None
    };
    match bevara::worker::run(bevara, shutdown, bevara::worker::StopWhen::Shutdown).await {
        Ok(_) => ExitCode::Ok,
        Err(e) => fail(ExitCode::Failure, e),
    }
}
