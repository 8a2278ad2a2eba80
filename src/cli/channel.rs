//! `bevara channel …`: the register.

use super::{db_exit, fail};
use bevara::{Bevara, Channel, ChannelId, ExitCode, Platform};
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum ChannelCmd {
    /// Register a channel.
    Add {
        /// Channel id: lower-case letters, digits, '-', '_' and '.'.
        id: String,
        /// facebook, instagram, x, youtube, linkedin, blog or web.
        #[arg(long)]
        platform: String,
        /// The channel's page (http or https).
        #[arg(long)]
        url: String,
        /// Display name.
        #[arg(long)]
        name: Option<String>,
        /// The department or unit that owns the account.
        #[arg(long)]
        owner: Option<String>,
        /// A person who administers the account (repeatable).
        #[arg(long = "admin")]
        admins: Vec<String>,
        /// Why the authority has the channel.
        #[arg(long)]
        purpose: Option<String>,
        /// A free-form tag (repeatable).
        #[arg(long = "tag")]
        tags: Vec<String>,
        /// Captures of this channel skip the screen recording.
        #[arg(long)]
        no_recording: bool,
        /// Keep this channel's snapshots under S3 Object Lock for N days
        /// (instead of store.object_lock_days; 0 = none).
        #[arg(long, value_name = "N")]
        retain_days: Option<u32>,
    },
    /// Change a registered channel.
    Update {
        id: String,
        /// Keep this channel's snapshots under S3 Object Lock for N days
        /// (instead of store.object_lock_days; 0 = none).
        #[arg(long, value_name = "N", conflicts_with = "default_retention")]
        retain_days: Option<u32>,
        /// Use store.object_lock_days again.
        #[arg(long)]
        default_retention: bool,
    },
    /// List the register.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one channel.
    Show { id: String },
    /// Close a channel: one final capture is queued, then it gets no scheduled ones.
    Close { id: String },
}

pub async fn run(bevara: &Bevara, cmd: ChannelCmd) -> ExitCode {
    match cmd {
        ChannelCmd::Add {
            id,
            platform,
            url,
            name,
            owner,
            admins,
            purpose,
            tags,
            no_recording,
            retain_days,
        } => {
            let id: ChannelId = match id.parse() {
                Ok(id) => id,
                Err(e) => return fail(ExitCode::Usage, e),
            };
            let platform: Platform = match platform.parse() {
                Ok(p) => p,
                Err(e) => return fail(ExitCode::Usage, e),
            };
            let parsed = match bevara::target::parse(&url) {
                Ok(u) => u,
                Err(e) => return fail(ExitCode::InvalidTarget, e),
            };
            let channel = Channel {
                id,
                platform,
                url: parsed.to_string(),
                name,
                owner,
                admins,
                purpose,
                tags,
                opened_at: chrono::Utc::now(),
                closed_at: None,
                retain_days,
                recording: !no_recording,
            };
            match bevara.db().add_channel(&channel).await {
                Ok(()) => {
                    bevara::web::audit_cli(
                        bevara,
                        "channel.add",
                        Some(channel.id.as_str()),
                        serde_json::json!({"url": channel.url, "platform": channel.platform.as_str()}),
                    )
                    .await;
                    println!(
                        "registered {} ({}) {}",
                        channel.id, channel.platform, channel.url
                    );
                    ExitCode::Ok
                }
                Err(e) => fail(db_exit(&e), e),
            }
        }
        ChannelCmd::List { json } => match bevara.db().list_channels().await {
            Ok(list) if json => {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&list).unwrap_or_default()
                );
                ExitCode::Ok
            }
            Ok(list) => {
                println!(
                    "{:<24} {:<10} {:<8} {:<28} URL",
                    "ID", "PLATFORM", "STATE", "OWNER"
                );
                for c in list {
                    println!(
                        "{:<24} {:<10} {:<8} {:<28} {}",
                        c.id,
                        c.platform,
                        if c.is_closed() { "closed" } else { "open" },
                        c.owner.as_deref().unwrap_or("-"),
                        c.url
                    );
                }
                ExitCode::Ok
            }
            Err(e) => fail(db_exit(&e), e),
        },
        ChannelCmd::Update {
            id,
            retain_days,
            default_retention,
        } => {
            if retain_days.is_none() && !default_retention {
                return fail(
                    ExitCode::Usage,
                    "nothing to change: give --retain-days N or --default-retention",
                );
            }
            match bevara.db().set_retain_days(&id, retain_days).await {
                Ok(()) => {
                    match retain_days {
                        Some(d) => println!("{id}: snapshots kept under Object Lock for {d} days"),
                        None => println!("{id}: snapshots follow store.object_lock_days"),
                    }
                    ExitCode::Ok
                }
                Err(e) => fail(super::db_exit(&e), e),
            }
        }
        ChannelCmd::Show { id } => match bevara.db().channel(&id).await {
            Ok(c) => {
                print_channel(&c);
                ExitCode::Ok
            }
            Err(e) => fail(db_exit(&e), e),
        },
        ChannelCmd::Close { id } => {
            let id: ChannelId = match id.parse() {
                Ok(id) => id,
                Err(e) => return fail(ExitCode::NotFound, e),
            };
            match bevara::queue::close_channel(bevara, &id, Some(bevara::capture::os_user())).await
            {
                Ok(Some(job)) => {
                    bevara::web::audit_cli(
                        bevara,
                        "channel.close",
                        Some(id.as_str()),
                        serde_json::json!({"job": job}),
                    )
                    .await;
                    println!("closed {id}; its snapshots are kept");
                    println!("queued the final capture as job {job}");
                    ExitCode::Ok
                }
                Ok(None) => {
                    println!("{id} was already closed");
                    ExitCode::Ok
                }
                Err(e) => fail(db_exit(&e), e),
            }
        }
    }
}

fn print_channel(c: &Channel) {
    let opt = |o: &Option<String>| o.clone().unwrap_or_else(|| "-".into());
    println!("id:        {}", c.id);
    println!("platform:  {}", c.platform);
    println!("url:       {}", c.url);
    println!("name:      {}", opt(&c.name));
    println!("owner:     {}", opt(&c.owner));
    println!(
        "admins:    {}",
        if c.admins.is_empty() {
            "-".into()
        } else {
            c.admins.join(", ")
        }
    );
    println!("purpose:   {}", opt(&c.purpose));
    println!(
        "tags:      {}",
        if c.tags.is_empty() {
            "-".into()
        } else {
            c.tags.join(", ")
        }
    );
    println!("recording: {}", if c.recording { "yes" } else { "no" });
    println!(
        "retention: {}",
        c.retain_days
            .map(|d| format!("{d} days under Object Lock"))
            .unwrap_or_else(|| "store.object_lock_days".into())
    );
    println!("opened:    {}", c.opened_at.to_rfc3339());
    println!(
        "closed:    {}",
        c.closed_at
            .map(|t| t.to_rfc3339())
            .unwrap_or_else(|| "- (open)".into())
    );
}
