//! `bevara serve`, `bevara token …` and `bevara audit …`.

use super::{db_exit, fail};
use bevara::web::{self, Role};
use bevara::{Bevara, ExitCode};
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum TokenCmd {
    /// Create an API token; its secret is printed once and only its hash is kept.
    Create {
        /// viewer, archivist, admin or ops.
        #[arg(long)]
        role: String,
        /// Who or what uses it, e.g. "utlämnande-skript".
        #[arg(long)]
        name: String,
    },
    /// List tokens (never their secrets).
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token: it is refused from then on.
    Revoke { id: String },
}

#[derive(Debug, Subcommand)]
pub enum AuditCmd {
    /// The audit log, newest first.
    List {
        /// How many entries.
        #[arg(long, default_value_t = 100)]
        limit: i64,
        /// Print JSON instead of lines.
        #[arg(long)]
        json: bool,
    },
    /// Check the log's hash chain: a removed or edited entry is reported
    /// (exit 8). Prints the head hash; keep it to detect a cut-off tail.
    Verify {
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
}

pub async fn audit(bevara: &Bevara, cmd: AuditCmd) -> ExitCode {
    match cmd {
        AuditCmd::List { limit, json } => match bevara.db().audit(limit.max(1)).await {
            Ok(list) if json => {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&list).unwrap_or_default()
                );
                ExitCode::Ok
            }
            Ok(list) => {
                for e in list {
                    println!(
                        "{:>5} {}  {} ({})  {}  {}  {}",
                        e.seq.map(|s| s.to_string()).unwrap_or_else(|| "-".into()),
                        e.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                        e.actor,
                        e.role,
                        e.action,
                        e.target.as_deref().unwrap_or("-"),
                        e.detail.as_deref().unwrap_or("")
                    );
                }
                ExitCode::Ok
            }
            Err(e) => fail(db_exit(&e), e),
        },
        AuditCmd::Verify { json } => match bevara::db::verify_audit(bevara.db()).await {
            Ok(check) => {
                if json {
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&check).unwrap_or_default()
                    );
                } else {
                    for p in &check.problems {
                        println!("BROKEN  {p}");
                    }
                    println!(
                        "{} entries chained{}; head {}",
                        check.chained,
                        if check.unchained > 0 {
                            format!(", {} from before the chain", check.unchained)
                        } else {
                            String::new()
                        },
                        check.head.as_deref().unwrap_or("-")
                    );
                }
                if check.problems.is_empty() {
                    ExitCode::Ok
                } else {
                    eprintln!(
                        "error: the audit log was changed: {} problem(s)",
                        check.problems.len()
                    );
                    ExitCode::VerifyFailed
                }
            }
            Err(e) => fail(db_exit(&e), e),
        },
    }
}

pub async fn serve(bevara: Bevara) -> ExitCode {
    match web::serve(bevara).await {
        Ok(()) => ExitCode::Ok,
        Err(e) => fail(
            ExitCode::Failure,
            format!("cannot serve on web.listen: {e}"),
        ),
    }
}

pub async fn token(bevara: &Bevara, cmd: TokenCmd) -> ExitCode {
    match cmd {
        TokenCmd::Create { role, name } => {
            let Some(r) = Role::parse(&role) else {
                return fail(
                    ExitCode::Usage,
                    format!("unknown role {role:?}: use viewer, archivist, admin or ops"),
                );
            };
            match web::create_token(bevara, r, &name, Some(bevara::capture::os_user())).await {
                Ok((t, secret)) => {
                    eprintln!(
                        "token {} ({}, {}); the secret below is shown once:",
                        t.id, t.name, t.role
                    );
                    println!("{secret}");
                    ExitCode::Ok
                }
                Err(e) => fail(db_exit(&e), e),
            }
        }
        TokenCmd::List { json } => match bevara.db().list_tokens().await {
            Ok(list) if json => {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&list).unwrap_or_default()
                );
                ExitCode::Ok
            }
            Ok(list) => {
                println!(
                    "{:<28} {:<10} {:<8} {:<26} NAME",
                    "ID", "ROLE", "STATE", "CREATED"
                );
                for t in list {
                    println!(
                        "{:<28} {:<10} {:<8} {:<26} {}",
                        t.id,
                        t.role,
                        if t.revoked_at.is_some() {
                            "revoked"
                        } else {
                            "active"
                        },
                        t.created_at.to_rfc3339(),
                        t.name
                    );
                }
                ExitCode::Ok
            }
            Err(e) => fail(db_exit(&e), e),
        },
        TokenCmd::Revoke { id } => match bevara.db().revoke_token(&id, chrono::Utc::now()).await {
            Ok(true) => {
                web::audit(
                    bevara,
                    &bevara::capture::os_user(),
                    "admin",
                    "token.revoke",
                    Some(&id),
                    serde_json::json!({}),
                )
                .await;
                println!("revoked {id}");
                ExitCode::Ok
            }
            Ok(false) => fail(
                ExitCode::NotFound,
                format!("no active token {id} (see `bevara token list`)"),
            ),
            Err(e) => fail(db_exit(&e), e),
        },
    }
}
