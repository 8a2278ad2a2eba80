//! `bevara profiles …` and `bevara search`.

use super::{db_exit, fail};
use bevara::behaviour::{Profile, Profiles};
use bevara::{Bevara, ExitCode, Settings};
use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub enum ProfilesCmd {
    /// List the profiles (built-in and from profiles_dir) and what they match.
    List,
    /// Print a profile as merged over the generic one.
    Show { name: String },
    /// Check a profile file: TOML, known keys, valid patterns.
    Check { file: PathBuf },
}

#[derive(Debug, Args)]
pub struct SearchArgs {
    /// Words that must all occur in an item's text or author.
    pub words: String,
    /// Only this channel.
    #[arg(long)]
    pub channel: Option<String>,
    /// At most this many hits.
    #[arg(long, default_value_t = 50)]
    pub limit: i64,
    /// Print JSON instead of lines.
    #[arg(long)]
    pub json: bool,
}

pub fn run(settings: &Settings, cmd: ProfilesCmd) -> ExitCode {
    let dir =
        (!settings.profiles_dir.is_empty()).then(|| std::path::Path::new(&settings.profiles_dir));
    match cmd {
        ProfilesCmd::Check { file } => {
            let text = match std::fs::read_to_string(&file) {
                Ok(t) => t,
                Err(e) => {
                    return fail(
                        ExitCode::Usage,
                        format!("cannot read {}: {e}", file.display()),
                    )
                }
            };
            match Profile::parse(&file.display().to_string(), &text) {
                Ok(p) => {
                    println!(
                        "ok: profile {} for platforms [{}], {} expander patterns, {} URL patterns",
                        p.name,
                        p.platforms
                            .iter()
                            .map(|p| p.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                        p.behaviour.expanders.len(),
                        p.url_patterns.len()
                    );
                    ExitCode::Ok
                }
                Err(e) => fail(ExitCode::Usage, e),
            }
        }
        cmd => {
            let profiles = match Profiles::load(dir) {
                Ok(p) => p,
                Err(e) => return fail(ExitCode::Usage, e),
            };
            match cmd {
                ProfilesCmd::List => {
                    println!(
                        "{:<12} {:<22} {:<12} DESCRIPTION",
                        "NAME", "PLATFORMS", "FROM"
                    );
                    for (p, origin) in profiles.all() {
                        let platforms: Vec<_> = p.platforms.iter().map(|p| p.as_str()).collect();
                        println!(
                            "{:<12} {:<22} {:<12} {}",
                            p.name,
                            platforms.join(","),
                            origin,
                            p.description
                        );
                    }
                    ExitCode::Ok
                }
                ProfilesCmd::Show { name } => match profiles.get(&name) {
                    Ok(p) => {
                        print!("{}", toml::to_string_pretty(p).unwrap_or_default());
                        ExitCode::Ok
                    }
                    Err(e) => fail(ExitCode::NotFound, e),
                },
                ProfilesCmd::Check { .. } => unreachable!("handled above"),
            }
        }
    }
}

pub async fn search(bevara: &Bevara, args: SearchArgs) -> ExitCode {
    if let Some(c) = &args.channel {
        if let Err(e) = bevara.db().channel(c).await {
            return fail(db_exit(&e), e);
        }
    }
    match bevara
        .db()
        .search(&args.words, args.channel.as_deref(), args.limit)
        .await
    {
        Ok(hits) if args.json => {
            println!(
                "{}",
                serde_json::to_string_pretty(&hits).unwrap_or_default()
            );
            ExitCode::Ok
        }
        Ok(hits) => {
            for h in &hits {
                let text: String = h.item.text.replace('\n', " ").chars().take(160).collect();
                println!(
                    "{}  {}  {}  {:<7} {}: {}",
                    h.captured_at.format("%Y-%m-%d %H:%M"),
                    h.channel,
                    h.snapshot_id,
                    h.item.kind,
                    h.item.author.as_deref().unwrap_or("?"),
                    text
                );
            }
            println!("{} hit(s)", hits.len());
            ExitCode::Ok
        }
        Err(e) => fail(db_exit(&e), e),
    }
}
