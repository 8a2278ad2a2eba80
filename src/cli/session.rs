//! `bevara session …`: login sessions of channels.

use super::{db_exit, fail};
use bevara::session::{LoginState, SessionKey, MAX_IMPORT_BYTES};
use bevara::{Bevara, ExitCode};
use clap::Subcommand;
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub enum SessionCmd {
    /// Store a channel's login state (cookies JSON or a storage-state file), encrypted.
    Import { channel: String, file: PathBuf },
    /// Show what a stored session holds: counts, domains, expiry (never values).
    Show { channel: String },
    /// Remove a channel's stored session.
    Remove { channel: String },
    /// Print a new random session key (base64) for BEVARA_SESSION_KEY or a key file.
    Keygen,
}

pub async fn run(bevara: &Bevara, cmd: SessionCmd) -> ExitCode {
    if let SessionCmd::Keygen = cmd {
        println!("{}", SessionKey::generate().to_base64());
        return ExitCode::Ok;
    }
    let channel = match &cmd {
        SessionCmd::Import { channel, .. }
        | SessionCmd::Show { channel }
        | SessionCmd::Remove { channel } => channel,
        SessionCmd::Keygen => unreachable!("handled above"),
    };
    if let Err(e) = bevara.db().channel(channel).await {
        return fail(db_exit(&e), e);
    }
    let store = match bevara.settings().session_store() {
        Ok(s) => s,
        Err(e) => return fail(ExitCode::Usage, e),
    };
    match cmd {
        SessionCmd::Import { channel, file } => {
            match std::fs::metadata(&file) {
                Ok(m) if m.len() as usize > MAX_IMPORT_BYTES => {
                    return fail(
                        ExitCode::Usage,
                        format!("{} is larger than a login state can be", file.display()),
                    )
                }
                Ok(_) => {}
                Err(e) => {
                    return fail(
                        ExitCode::Usage,
                        format!("cannot read {}: {e}", file.display()),
                    )
                }
            }
            let bytes = match std::fs::read(&file) {
                Ok(b) => b,
                Err(e) => {
                    return fail(
                        ExitCode::Usage,
                        format!("cannot read {}: {e}", file.display()),
                    )
                }
            };
            let state = match LoginState::parse(&bytes) {
                Ok(s) => s,
                Err(e) => return fail(ExitCode::Usage, e),
            };
            match store.import(&channel, &state) {
                Ok(s) => {
                    bevara::web::audit_cli(
                        bevara,
                        "session.import",
                        Some(&channel),
                        serde_json::json!({"cookies": s.cookies, "domains": s.domains}),
                    )
                    .await;
                    println!(
                        "stored the session of {channel}: {} cookies for {}, {} local-storage items; delete the plain export {}",
                        s.cookies,
                        s.domains.join(", "),
                        s.local_storage_items,
                        file.display()
                    );
                    ExitCode::Ok
                }
                Err(e) => fail(ExitCode::Usage, e),
            }
        }
        SessionCmd::Show { channel } => match store.show(&channel) {
            Ok(Some((s, imported_at))) => {
                println!("channel:        {channel}");
                println!("imported:       {}", imported_at.to_rfc3339());
                println!("cookies:        {} ({} expired)", s.cookies, s.expired);
                println!("domains:        {}", s.domains.join(", "));
                println!("origins:        {}", s.origins.join(", "));
                println!("local storage:  {} items", s.local_storage_items);
                println!(
                    "earliest expiry: {}",
                    s.earliest_expiry
                        .map(|t| t.to_rfc3339())
                        .unwrap_or_else(|| "none (session cookies)".into())
                );
                ExitCode::Ok
            }
            Ok(None) => fail(
                ExitCode::NotFound,
                format!("channel {channel} has no stored session"),
            ),
            Err(e) => fail(ExitCode::Usage, e),
        },
        SessionCmd::Remove { channel } => match store.remove(&channel) {
            Ok(true) => {
                println!("removed the session of {channel}");
                ExitCode::Ok
            }
            Ok(false) => fail(
                ExitCode::NotFound,
                format!("channel {channel} has no stored session"),
            ),
            Err(e) => fail(ExitCode::Usage, e),
        },
        SessionCmd::Keygen => unreachable!("handled above"),
    }
}
