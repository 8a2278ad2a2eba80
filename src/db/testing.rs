//! A Postgres for tests, found or started: the server named by
//! `BEVARA_TEST_DATABASE_URL`, else the one on 127.0.0.1:5432 if it answers
//! (user `postgres`, trust), else one this process starts once from Debian's
//! `postgresql` package, else none. Each test gets a fresh database on it.
//!
//! Test support, not part of Bevara's API. Its functions panic when a server
//! was found but cannot be used, as the test should then fail.

use sqlx::{Connection, PgConnection};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tokio::sync::OnceCell;

/// Names the server to test on, e.g. `postgres://postgres@db.example:5432`.
pub const SERVER_ENV: &str = "BEVARA_TEST_DATABASE_URL";

/// Where a developer's or CI's Postgres usually is.
const LOCAL: &str = "postgres://postgres@127.0.0.1:5432";

/// How long a started server may take: initdb and the first start take a
/// few seconds on a 2-core machine, much longer on a loaded one.
const START_TIMEOUT: Duration = Duration::from_secs(120);

static SERVER: OnceCell<Option<Server>> = OnceCell::const_new();

/// The server the tests use, and the one this process started, if it did.
#[derive(Debug)]
struct Server {
    url: String,
    _started: Option<Started>,
}

/// A Postgres this process started. It lives while `child`'s stdin is open:
/// when the process exits (however it exits) the pipe closes, and the shell
/// that started the server stops it and deletes its data directory.
#[derive(Debug)]
pub struct Started {
    pub url: String,
    _child: Child,
}

/// The URL of a Postgres server for tests (no database part), found or
/// started once per process; `None` if there is none and none can be started.
pub async fn postgres_server() -> Option<String> {
    SERVER
        .get_or_init(find_server)
        .await
        .as_ref()
        .map(|s| s.url.clone())
}

async fn find_server() -> Option<Server> {
    if let Some(url) = std::env::var(SERVER_ENV).ok().filter(|u| !u.is_empty()) {
        return Some(Server {
            url: server_url(&url),
            _started: None,
        });
    }
    if answers(LOCAL).await {
        return Some(Server {
            url: LOCAL.to_string(),
            _started: None,
        });
    }
    match start_postgres().await {
        Ok(Some(s)) => {
            eprintln!("note: started a Postgres for the tests at {}", s.url);
            Some(Server {
                url: s.url.clone(),
                _started: Some(s),
            })
        }
        Ok(None) => None,
        Err(e) => {
            eprintln!("cannot start a Postgres for the tests: {e}");
            None
        }
    }
}

/// `url` without its database part.
fn server_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            u.set_path("");
            u.to_string()
        }
        Err(_) => url.trim_end_matches('/').to_string(),
    }
}

/// The URL of database `name` on `server`.
pub fn database_url(server: &str, name: &str) -> String {
    match url::Url::parse(server) {
        Ok(mut u) => {
            u.set_path(&format!("/{name}"));
            u.to_string()
        }
        Err(_) => format!("{}/{name}", server.trim_end_matches('/')),
    }
}

async fn answers(server: &str) -> bool {
    let url = database_url(server, "postgres");
    match tokio::time::timeout(Duration::from_secs(5), PgConnection::connect(&url)).await {
        Ok(Ok(conn)) => {
            if let Err(e) = conn.close().await {
                eprintln!("note: closing the probe connection to {server}: {e}");
            }
            true
        }
        _ => false,
    }
}

/// The newest `/usr/lib/postgresql/<version>/bin` with `initdb` and `pg_ctl`.
fn postgres_bin() -> Option<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            (bin.join("initdb").is_file() && bin.join("pg_ctl").is_file()).then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin)
}

/// Runs as the server's user: creates a data directory under /tmp (a place
/// the `postgres` user may write to; never the work tree), starts a server
/// with trust auth on 127.0.0.1:`$2`, says `ready`, and stops the server and
/// deletes the directory when its stdin closes.
const START_SCRIPT: &str = r#"
set -eu
bin=$1 port=$2
dir=$(mktemp -d /tmp/bevara-pg-XXXXXXXX)
cleanup() {
    "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM
cd "$dir"
"$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-locale --no-sync >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
"$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 100 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
    start >/dev/null 2>&1 || { cat "$dir/log" >&2; exit 1; }
echo ready
read -r _ || true
"#;

/// Starts a Postgres of its own from Debian's `postgresql` package, as the
/// `postgres` user when running as root (initdb refuses root). `Ok(None)`
/// when the package is not installed.
pub async fn start_postgres() -> Result<Option<Started>, String> {
    let Some(bin) = postgres_bin() else {
        return Ok(None);
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("no free port on 127.0.0.1: {e}"))?
        .port();
    let mut cmd = if running_as_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--", "sh"]);
        c
    } else {
        Command::new("sh")
    };
    cmd.arg("-c")
        .arg(START_SCRIPT)
        .arg("sh")
        .arg(&bin)
        .arg(port.to_string())
        .current_dir("/")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", bin.join("initdb").display()))?;
    let stdout = child
        .stdout
        .take()
        .ok_or("the start script has no stdout")?;
    let ready = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .map(|_| line)
    });
    let line = match tokio::time::timeout(START_TIMEOUT, ready).await {
        Ok(Ok(Ok(line))) => line,
        Ok(Ok(Err(e))) => return Err(format!("reading the start script's output: {e}")),
        Ok(Err(e)) => return Err(format!("waiting for the start script: {e}")),
        Err(_) => return Err(format!("Postgres did not start within {START_TIMEOUT:?}")),
    };
    if line.trim() != "ready" {
        // Its stderr (inherited) said why; it has cleaned up after itself.
        let status = child.wait().map_err(|e| e.to_string())?;
        return Err(format!(
            "initdb or pg_ctl from {} failed ({status})",
            bin.display()
        ));
    }
    let url = format!("postgres://postgres@127.0.0.1:{port}");
    if !answers(&url).await {
        return Err(format!(
            "Postgres started on port {port} but does not answer"
        ));
    }
    Ok(Some(Started { url, _child: child }))
}

/// The effective user of a process owns its `/proc/self`.
fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(Path::new("/proc/self")).is_ok_and(|m| m.uid() == 0)
}

/// Drops its database when dropped, as far as it can.
#[derive(Debug)]
pub struct PgGuard {
    server: String,
    name: String,
}

impl PgGuard {
    /// Will drop database `name` on `server`.
    pub fn new(server: &str, name: &str) -> Self {
        Self {
            server: server.to_string(),
            name: name.to_string(),
        }
    }
}

impl Drop for PgGuard {
    fn drop(&mut self) {
        let (server, name) = (self.server.clone(), self.name.clone());
        // Drop may run inside a runtime, which cannot be blocked on: use a
        // thread with a runtime of its own.
        let dropped = std::thread::spawn(move || -> Result<(), String> {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            rt.block_on(async {
                let mut c = PgConnection::connect(&database_url(&server, "postgres"))
                    .await
                    .map_err(|e| e.to_string())?;
                // FORCE: pools and listeners of the test may not be closed yet.
                sqlx::query(&format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#))
                    .execute(&mut c)
                    .await
                    .map_err(|e| e.to_string())?;
                c.close().await.map_err(|e| e.to_string())
            })
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!(
                "note: test database {} left on {}: {e}; drop it with DROP DATABASE",
                self.name, self.server
            ),
            Err(_) => eprintln!("note: dropping test database {} panicked", self.name),
        }
    }
}

/// A fresh name for a test database.
pub fn fresh_name() -> String {
    format!(
        "bevara_t_{}",
        ulid::Ulid::new().to_string().to_ascii_lowercase()
    )
}

/// A fresh, empty database on the test server and its URL; `None` when
/// there is no server. It has the C locale, the strictest: Postgres
/// lower-cases only ASCII letters there and sorts byte by byte, so the tests
/// show that Bevara relies on neither.
pub async fn fresh_postgres() -> Option<(PgGuard, String)> {
    fresh_postgres_on(None).await
}

/// [`fresh_postgres`] on `server` when given (a URL whose database part is
/// ignored), else on the test server.
pub async fn fresh_postgres_on(server: Option<&str>) -> Option<(PgGuard, String)> {
    let server = match server {
        Some(s) => s.to_string(),
        None => postgres_server().await?,
    };
    let name = fresh_name();
    let mut admin = PgConnection::connect(&database_url(&server, "postgres"))
        .await
        .unwrap_or_else(|e| panic!("cannot connect to the test Postgres at {server}: {e}"));
    sqlx::query(&format!(
        r#"CREATE DATABASE "{name}" TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'"#
    ))
    .execute(&mut admin)
    .await
    .unwrap_or_else(|e| panic!("cannot create test database {name} on {server}: {e}"));
    if let Err(e) = admin.close().await {
        eprintln!("note: closing the connection to {server}: {e}");
    }
    Some((PgGuard::new(&server, &name), database_url(&server, &name)))
}
