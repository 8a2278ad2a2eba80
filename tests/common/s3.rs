//! Real S3-compatible servers for the store's tests, on 127.0.0.1: `s3s-fs`
//! (objects as files in a temp dir, for the byte path and checksums) and
//! `moto_server` (versioning and Object Lock, in memory), each behind a TCP
//! relay the test can cut to make the store unreachable and restore.
//!
//! `containers/setup-debian.sh` installs both; a test fails, never skips,
//! when one is missing. `BEVARA_TEST_S3S_FS` and `BEVARA_TEST_MOTO_SERVER`
//! name the binaries where they are not on the PATH.

use std::net::{SocketAddr, TcpListener as StdListener, TcpStream as StdStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const ACCESS_KEY: &str = "bevara-test";
pub const SECRET_KEY: &str = "bevara-test-secret";

/// Where a binary is: the env var, the PATH, or the places setup installs it.
fn find(var: &str, name: &str, also: &[&str]) -> PathBuf {
    if let Ok(p) = std::env::var(var) {
        return PathBuf::from(p);
    }
    let path = std::env::var("PATH").unwrap_or_default();
    let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
    let cargo_bin = format!("{home}/.cargo/bin");
    std::env::split_paths(&path)
        .chain(std::iter::once(PathBuf::from(cargo_bin)))
        .chain(also.iter().map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("{name} not found (set {var}, or run containers/setup-debian.sh)")
        })
}

fn wait_for_port(addr: SocketAddr, what: &str, child: &mut Child) {
    let started = Instant::now();
    while StdStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited at start: {status}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{what} did not start on {addr}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// What the relay does with connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Relay {
    /// Forwards to the server.
    Pass = 0,
    /// Closes each connection at once (and those open): the store is down.
    Refuse = 1,
    /// Accepts and never answers: a store that hangs.
    Stall = 2,
}

/// A running S3 server with a relay in front of it.
pub struct Server {
    /// The relay's address, which Bevara is given.
    pub endpoint: String,
    /// s3s-fs's root directory: `ROOT/BUCKET/KEY` are the objects' files.
    pub root: Option<PathBuf>,
    mode: Arc<AtomicU8>,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Server {
    /// s3s-fs with the bucket `bucket` created.
    pub fn s3s_fs(bucket: &str) -> Server {
        let bin = find("BEVARA_TEST_S3S_FS", "s3s-fs", &[]);
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir_all(root.join(bucket)).unwrap();
        let port = super::procs::free_port();
        let mut child = Command::new(bin)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
            .arg(&root)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("s3s-fs.log")).unwrap())
            .spawn()
            .expect("s3s-fs runs");
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        wait_for_port(addr, "s3s-fs", &mut child);
        Self::relayed(addr, child, Some(root), dir)
    }

    /// moto_server, empty (tests create their buckets through the SDK).
    pub fn moto() -> Server {
        let bin = find(
            "BEVARA_TEST_MOTO_SERVER",
            "moto_server",
            &["/opt/bevara-test/venv/bin"],
        );
        let dir = tempfile::tempdir().unwrap();
        let port = super::procs::free_port();
        let mut child = Command::new(bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("moto.log")).unwrap())
            .spawn()
            .expect("moto_server runs");
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        wait_for_port(addr, "moto_server", &mut child);
        Self::relayed(addr, child, None, dir)
    }

    fn relayed(
        upstream: SocketAddr,
        child: Child,
        root: Option<PathBuf>,
        dir: tempfile::TempDir,
    ) -> Server {
        let mode = Arc::new(AtomicU8::new(Relay::Pass as u8));
        let listener = StdListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let m = mode.clone();
        // Its own thread and runtime: the relay outlives any test runtime.
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(relay(listener, upstream, m));
        });
        Server {
            endpoint: format!("http://{addr}"),
            root,
            mode,
            child,
            _dir: dir,
        }
    }

    pub fn set(&self, mode: Relay) {
        self.mode.store(mode as u8, Ordering::SeqCst);
    }

    /// The file s3s-fs keeps the object `key` of `bucket` in.
    pub fn object_file(&self, bucket: &str, key: &str) -> PathBuf {
        self.root
            .as_ref()
            .expect("an s3s-fs server")
            .join(bucket)
            .join(key)
    }

    /// An SDK client for the server (through the relay), to look at buckets directly.
    pub async fn client(&self) -> aws_sdk_s3::Client {
        let conf = aws_sdk_s3::config::Builder::new()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .endpoint_url(&self.endpoint)
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                ACCESS_KEY, SECRET_KEY, None, None, "test",
            ))
            .force_path_style(true)
            .request_checksum_calculation(
                aws_sdk_s3::config::RequestChecksumCalculation::WhenRequired,
            )
            .response_checksum_validation(
                aws_sdk_s3::config::ResponseChecksumValidation::WhenRequired,
            )
            .build();
        aws_sdk_s3::Client::from_conf(conf)
    }

    /// The `BEVARA_STORE_*` settings that point Bevara at `s3://bucket/prefix` here.
    pub fn env(&self, bucket: &str, prefix: &str) -> Vec<(String, String)> {
        vec![
            ("BEVARA_STORE_URL".into(), format!("s3://{bucket}/{prefix}")),
            ("BEVARA_STORE_ENDPOINT".into(), self.endpoint.clone()),
            ("BEVARA_STORE_REGION".into(), "us-east-1".into()),
            ("BEVARA_STORE_PATH_STYLE".into(), "true".into()),
            ("BEVARA_STORE_ACCESS_KEY_ID".into(), ACCESS_KEY.into()),
            ("BEVARA_STORE_SECRET_ACCESS_KEY".into(), SECRET_KEY.into()),
            ("BEVARA_STORE_CONNECT_TIMEOUT_SECS".into(), "2".into()),
            ("BEVARA_STORE_REQUEST_TIMEOUT_SECS".into(), "10".into()),
        ]
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn relay(listener: StdListener, upstream: SocketAddr, mode: Arc<AtomicU8>) {
    listener.set_nonblocking(true).unwrap();
    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
    loop {
        let Ok((mut inbound, _)) = listener.accept().await else {
            continue;
        };
        let mode = mode.clone();
        tokio::spawn(async move {
            match mode.load(Ordering::SeqCst) {
                m if m == Relay::Refuse as u8 => drop(inbound),
                m if m == Relay::Stall as u8 => {
                    // Hold the connection, say nothing.
                    let mut sink = tokio::io::sink();
                    let _ = tokio::io::copy(&mut inbound, &mut sink).await;
                }
                _ => {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(upstream).await else {
                        return;
                    };
                    // Forward until either side closes or the relay is cut.
                    let copy = tokio::io::copy_bidirectional(&mut inbound, &mut outbound);
                    let cut = async {
                        while mode.load(Ordering::SeqCst) == Relay::Pass as u8 {
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    };
                    tokio::select! {
                        _ = copy => {}
                        _ = cut => {}
                    }
                }
            }
        });
    }
}

/// Reads a file, for comparing an object's bytes with what was captured.
pub fn bytes(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}
