//! Debian's WordPress as a test fixture: a throwaway MariaDB in a temp dir
//! (its own socket, no network), WordPress core linked into a temp docroot
//! that has its own `wp-config.php` and `wp-content`, installed in Swedish by
//! `tests/fixtures/wordpress/install.php` and served by `php -S` on
//! 127.0.0.1. Nothing is written outside the temp dir and no system service
//! is used; everything is killed on drop.
//!
//! Needs the packages `wordpress`, `wordpress-l10n`,
//! `wordpress-theme-twentytwentythree`, `wordpress-theme-twentytwentyone`,
//! `mariadb-server`, `php-cli` and `php-mysql` (containers/setup-debian.sh).

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where Debian's `wordpress` package puts WordPress core and its themes.
const CORE: &str = "/usr/share/wordpress";
/// Debian's `wordpress-l10n` links its translations here.
const LANGUAGES: &str = "/var/lib/wordpress/wp-content/languages";
/// A cold MariaDB and WordPress take a second or two; a loaded machine more.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// The block theme Debian installs as the default, and a classic theme.
pub const BLOCK_THEME: &str = "twentytwentythree";
pub const CLASSIC_THEME: &str = "twentytwentyone";

/// A comment as the install script wrote it.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Comment {
    /// A word found only in this comment's text, e.g. `WPTOKEN0007`.
    pub token: String,
    /// `comment` for a thread's first comment, `reply` for the rest.
    pub kind: String,
    /// The token of the comment this one answers.
    pub parent: Option<String>,
}

#[derive(serde::Deserialize)]
struct Installed {
    post: String,
    comments: Vec<Comment>,
}

/// A running WordPress with one post and its 42 threaded comments.
pub struct WordPress {
    /// The post's address, e.g. `http://127.0.0.1:PORT/2025/03/busslinjerna-i-centrum/`.
    pub post: String,
    pub comments: Vec<Comment>,
    /// From nothing to the first page served.
    pub startup: Duration,
    db: Child,
    php: Child,
    _dir: tempfile::TempDir,
}

/// What of WordPress's packages is missing, if anything.
pub fn missing() -> Option<String> {
    let need = [
        format!("{CORE}/wp-settings.php"),
        format!("{CORE}/wp-content/themes/{BLOCK_THEME}/theme.json"),
        format!("{CORE}/wp-content/themes/{CLASSIC_THEME}/style.css"),
        format!("{LANGUAGES}/sv_SE.mo"),
        "/usr/bin/mariadb-install-db".into(),
        "/usr/sbin/mariadbd".into(),
        "/usr/bin/php".into(),
    ];
    let absent: Vec<&String> = need.iter().filter(|p| !Path::new(p).exists()).collect();
    if !absent.is_empty() {
        return Some(format!("{absent:?} not found"));
    }
    let mysqli = Command::new("php")
        .args(["-r", "exit(extension_loaded('mysqli') ? 0 : 1);"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    (!mysqli).then(|| "php has no mysqli (php-mysql)".into())
}

/// Runs `cmd` to its end; panics with its output when it fails.
fn run(cmd: &mut Command, what: &str) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    let started = Instant::now();
    while !ready() {
        assert!(started.elapsed() < READY_TIMEOUT, "{what} did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Stops a process group started with `process_group(0)`, the server's
/// workers included.
fn kill_group(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", child.id())])
        .status();
    let _ = child.kill();
    let _ = child.wait();
}

impl WordPress {
    /// Starts MariaDB and WordPress with `theme` active. Blocking: a few
    /// seconds.
    pub fn start(theme: &str) -> WordPress {
        use std::os::unix::process::CommandExt;
        let started = Instant::now();
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let socket = d.join("db.sock");
        // Its own temp dir: MariaDB names its temporary tables by pid, and
        // two servers sharing /tmp (tests in parallel, pid namespaces) can
        // delete each other's.
        let tmp = d.join("tmp");
        std::fs::create_dir(&tmp).unwrap();

        run(
            Command::new("mariadb-install-db")
                .arg("--no-defaults")
                .arg(format!("--datadir={}", d.join("db").display()))
                .arg(format!("--tmpdir={}", tmp.display()))
                .args([
                    "--user=root",
                    "--auth-root-authentication-method=normal",
                    "--skip-test-db",
                ]),
            "mariadb-install-db",
        );
        // --user=root: the tests run as root and the temp dir is root's.
        let db = Command::new("mariadbd")
            .arg("--no-defaults")
            .arg(format!("--datadir={}", d.join("db").display()))
            .arg(format!("--tmpdir={}", tmp.display()))
            .arg(format!("--socket={}", socket.display()))
            .arg(format!("--pid-file={}", d.join("db.pid").display()))
            .arg(format!("--log-error={}", d.join("db.err").display()))
            .args([
                "--skip-networking",
                "--user=root",
                "--innodb-buffer-pool-size=32M",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("mariadbd runs");
        let mut guard = Partial { children: vec![db] };
        wait_for("mariadbd", || {
            Command::new("mariadb")
                .arg(format!("--socket={}", socket.display()))
                .args(["-u", "root", "-e", "SELECT 1"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .map(|s| s.success())
                .unwrap_or(false)
        });
        run(
            Command::new("mariadb")
                .arg(format!("--socket={}", socket.display()))
                .args(["-u", "root", "-e", "CREATE DATABASE wordpress"]),
            "CREATE DATABASE",
        );

        let port = super::procs::free_port();
        let home = format!("http://127.0.0.1:{port}");
        let docroot = docroot(d, &socket, &home);
        let installed = run(
            Command::new("php")
                .arg(fixture("install.php"))
                .arg(&docroot)
                .arg(theme),
            "WordPress install.php",
        );
        let installed: Installed = serde_json::from_str(installed.trim()).unwrap();

        // ABSPATH before Debian's core would set it to /usr/share/wordpress
        // (where its wp-config.php looks in /etc/wordpress).
        let prepend = d.join("prepend.php");
        std::fs::write(
            &prepend,
            format!("<?php define('ABSPATH', '{}/');\n", docroot.display()),
        )
        .unwrap();
        let php = Command::new("php")
            .arg("-d")
            .arg(format!("auto_prepend_file={}", prepend.display()))
            .arg("-S")
            .arg(format!("127.0.0.1:{port}"))
            .arg("-t")
            .arg(&docroot)
            .env("PHP_CLI_SERVER_WORKERS", "3")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(d.join("php.log")).unwrap())
            .process_group(0)
            .spawn()
            .expect("php -S runs");
        guard.children.push(php);
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        wait_for("php -S", || {
            TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
        });
        let mut children = std::mem::take(&mut guard.children).into_iter();
        WordPress {
            post: installed.post,
            comments: installed.comments,
            startup: started.elapsed(),
            db: children.next().unwrap(),
            php: children.next().unwrap(),
            _dir: dir,
        }
    }
}

/// Kills what was started when a later step of [`WordPress::start`] panics.
struct Partial {
    children: Vec<Child>,
}

impl Drop for Partial {
    fn drop(&mut self) {
        for c in &mut self.children {
            kill_group(c);
        }
    }
}

impl Drop for WordPress {
    fn drop(&mut self) {
        kill_group(&mut self.php);
        kill_group(&mut self.db);
    }
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/wordpress")
        .join(name)
}

/// A docroot with every entry of WordPress core linked except
/// `wp-config.php` and `wp-content`, which are its own: the config names the
/// database's socket and the address, `wp-content` links the two themes and
/// the translations and has room for uploads.
fn docroot(dir: &Path, socket: &Path, home: &str) -> PathBuf {
    let root = dir.join("docroot");
    let content = root.join("wp-content");
    for sub in ["themes", "plugins", "uploads"] {
        std::fs::create_dir_all(content.join(sub)).unwrap();
    }
    for entry in std::fs::read_dir(CORE).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name != "wp-config.php" && name != "wp-content" {
            std::os::unix::fs::symlink(entry.path(), root.join(&name)).unwrap();
        }
    }
    for theme in [BLOCK_THEME, CLASSIC_THEME] {
        std::os::unix::fs::symlink(
            Path::new(CORE).join("wp-content/themes").join(theme),
            content.join("themes").join(theme),
        )
        .unwrap();
    }
    std::os::unix::fs::symlink(LANGUAGES, content.join("languages")).unwrap();
    let config = std::fs::read_to_string(fixture("wp-config.php"))
        .unwrap()
        .replace("@SOCKET@", &socket.display().to_string())
        .replace("@HOME@", home)
        .replace("@CONTENT@", &content.display().to_string());
    std::fs::write(root.join("wp-config.php"), config).unwrap();
    root
}
