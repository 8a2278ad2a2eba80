//! Proof under faults. The real pieces run here: Postgres, s3s-fs behind a
//! relay that can cut it off, three `bevara worker` processes (one on a
//! small tmpfs data disk), `bevara serve`, and fixture sites on 127.0.0.1.
//! A stream of ad-hoc captures (asked through the web API) and scheduled
//! ones (a schedule firing every minute) runs while, one after another,
//! Chromium is killed mid-capture, a worker is SIGKILLed with its process
//! group and another stopped with SIGTERM, every database connection is
//! killed, the store is unreachable for a while and a worker's data disk is
//! filled. Beside them run a page that hangs, one that never ends, one that
//! answers 500 and a login wall.
//!
//! Then it checks that every job ended as it should (done with exactly one
//! complete snapshot, or failed with the bad page's reason), that `verify
//! --all` passes, that nothing is left running, leased or pending upload,
//! and prints a table of faults, counts and recovery times.
//!
//! CI runs the short form. `BEVARA_FAULTS=full` (see `scripts/faults`) runs
//! the long one: more captures, the store away for three minutes, the disk
//! full for a minute and every fault twice.

mod common;

use bevara::db::{CaptureFilter, CaptureRecord, CaptureState, Db};
use bevara::queue::{Job, JobStatus};
use common::procs::{descendants, free_port, signal, wait_until};
use common::s3::{Relay, Server};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

const BUCKET: &str = "bevara-faults";
/// The `worker.max_attempts` the workers run with.
const MAX_ATTEMPTS: i64 = 4;

struct Scale {
    form: &'static str,
    /// Ad-hoc requests through the API, at least.
    adhoc: usize,
    store_down: Duration,
    disk_full: Duration,
    rounds: usize,
}

fn scale() -> Scale {
    if std::env::var("BEVARA_FAULTS").as_deref() == Ok("full") {
        Scale {
            form: "full",
            adhoc: 80,
            store_down: Duration::from_secs(180),
            disk_full: Duration::from_secs(60),
            rounds: 2,
        }
    } else {
        Scale {
            form: "short",
            adhoc: 24,
            store_down: Duration::from_secs(40),
            disk_full: Duration::from_secs(15),
            rounds: 1,
        }
    }
}

/// The good channels asked for ad hoc, the ones the schedule fires for, and
/// the long ones the process faults are aimed at.
const ADHOC: [&str; 5] = ["kanal-0", "kanal-1", "kanal-2", "kanal-3", "kanal-4"];
const SCHEDULED: [&str; 3] = ["takt-0", "takt-1", "takt-2"];
const LONG: &str = "lang";
/// The bad pages and how their jobs must end: (channel, path, job status, failure code).
const BAD: [(&str, &str, JobStatus, &str); 4] = [
    ("hanger", "/hang", JobStatus::Failed, "timeout"),
    ("oandlig", "/endless", JobStatus::Done, ""),
    ("fel-500", "/status/500", JobStatus::Failed, "http-status"),
    (
        "inloggning",
        "/login-wall",
        JobStatus::Failed,
        "login-required",
    ),
];

/// A tmpfs mounted for the test, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, mib: u64) -> Option<Tmpfs> {
        std::fs::create_dir_all(at).unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m,mode=0755")])
            .arg("bevara-faults")
            .arg(at)
            .stderr(std::process::Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        ok.then(|| Tmpfs(at.to_path_buf()))
    }

    /// Writes zeros until the filesystem is full; returns the file.
    fn fill(&self) -> PathBuf {
        use std::io::Write;
        let path = self.0.join("fill");
        let mut f = std::fs::File::create(&path).unwrap();
        let chunk = vec![0u8; 1 << 20];
        while f.write_all(&chunk).is_ok() {}
        let small = [0u8; 4096];
        while f.write_all(&small).is_ok() {}
        let _ = f.sync_all();
        path
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

/// One `bevara worker` process, restarted with the same data directory as
/// a container would be with its volume.
struct Worker {
    name: &'static str,
    data: PathBuf,
    env: Vec<(String, String)>,
    log: PathBuf,
    child: Option<Child>,
}

impl Worker {
    fn start(&mut self, base: &[(String, String)]) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_bevara"))
            .arg("worker")
            .env_remove("BEVARA_CONFIG")
            .envs(base.iter().map(|(k, v)| (k, v)))
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env("BEVARA_DATA_DIR", &self.data)
            .process_group(0)
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        self.child = Some(child);
    }

    fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(|c| c.id())
    }

    fn child(&self) -> &Child {
        self.child.as_ref().expect("the worker runs")
    }

    /// Waits for the process to end; its exit status.
    async fn wait(&mut self, secs: u64) -> std::process::ExitStatus {
        let child = self.child.as_mut().expect("the worker runs");
        let status = tokio::time::timeout(Duration::from_secs(secs), child.wait())
            .await
            .unwrap_or_else(|_| panic!("worker {} did not stop within {secs} s", self.name))
            .unwrap();
        self.child = None;
        status
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // Chromium too: it is in the worker's process group.
        if let Some(pid) = self.pid() {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .status();
        }
    }
}

/// The pid in a lease owner (`worker@HOST:PID:RANDOM`).
fn owner_pid(owner: &str) -> Option<u32> {
    owner.rsplit(':').nth(1)?.parse().ok()
}

/// The pid in a capture's `worker` (`HOST:PID`).
fn capture_pid(c: &CaptureRecord) -> Option<u32> {
    c.worker.as_deref()?.rsplit(':').next()?.parse().ok()
}

/// The answer of a query of the test's own, asked again while its
/// connections are killed with the workers'.
async fn asked<T, E, F, Fut>(mut query: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
{
    for _ in 0..20 {
        if let Ok(answer) = query().await {
            return answer;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("the database does not answer the test");
}

/// One injected fault: when, and how long until Bevara was whole again.
struct FaultRow {
    fault: String,
    at: Duration,
    recovered: Duration,
    detail: String,
}

struct Rig {
    started: Instant,
    db: Db,
    db_name: String,
    base: Vec<(String, String)>,
    s3: Server,
    web: String,
    token: String,
    workers: Vec<Worker>,
    faults: Vec<FaultRow>,
}

impl Rig {
    async fn jobs(&self) -> Vec<Job> {
        asked(|| self.db.list_jobs(None, 100_000)).await
    }

    async fn captures(&self) -> Vec<CaptureRecord> {
        let all = CaptureFilter::default();
        asked(|| self.db.list_captures(&all)).await
    }

    async fn job(&self, id: &str) -> Job {
        asked(|| self.db.job(id)).await
    }

    /// Asks for a capture of `channel` through the API, as an administrator would.
    async fn request(&self, channel: &str, reason: &str) -> String {
        request(&self.web, &self.token, channel, reason)
            .await
            .unwrap_or_else(|e| panic!("capture request for {channel}: {e}"))
    }

    fn worker_of(&self, owner: &str) -> usize {
        let pid = owner_pid(owner);
        self.workers
            .iter()
            .position(|w| w.pid().is_some() && w.pid() == pid)
            .unwrap_or_else(|| panic!("no live worker holds {owner}"))
    }

    /// Asks for the long channel and waits until a worker runs it (for
    /// `settle` seconds): the job and that worker's index.
    async fn long_capture_running(&self, reason: &str, settle: u64) -> (String, usize) {
        let job = self.request(LONG, reason).await;
        let deadline = Instant::now() + Duration::from_secs(120);
        let owner = loop {
            let j = self.job(&job).await;
            let running = j.status == JobStatus::Running
                && self.captures().await.iter().any(|c| {
                    c.job_id.as_deref() == Some(job.as_str()) && c.state == CaptureState::Running
                });
            if let (true, Some(owner)) = (running, j.lease_owner) {
                break owner;
            }
            assert!(
                Instant::now() < deadline,
                "the long capture {job} never ran"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        tokio::time::sleep(Duration::from_secs(settle)).await;
        let w = self.worker_of(&owner);
        (job, w)
    }

    async fn job_done(&self, job: &str, secs: u64, what: &str) {
        wait_until(secs, what, || async {
            self.job(job).await.status == JobStatus::Done
        })
        .await;
    }

    fn record(&mut self, fault: &str, at: Instant, recovered_from: Instant, detail: String) {
        let row = FaultRow {
            fault: fault.to_string(),
            at: at - self.started,
            recovered: recovered_from.elapsed(),
            detail,
        };
        eprintln!(
            "fault: {} at {:.0} s, recovered in {:.1} s ({})",
            row.fault,
            row.at.as_secs_f64(),
            row.recovered.as_secs_f64(),
            row.detail
        );
        self.faults.push(row);
    }

    /// Chromium of the worker running the long capture killed, by pid.
    async fn kill_chromium(&mut self, round: usize) {
        let (job, w) = self
            .long_capture_running(&format!("fault: Chromium killed ({round})"), 2)
            .await;
        let pid = self.workers[w].pid().unwrap();
        let browsers: Vec<u32> = descendants(pid)
            .into_iter()
            .filter(|p| {
                std::fs::read_to_string(format!("/proc/{p}/comm"))
                    .map(|c| c.contains("chrom"))
                    .unwrap_or(false)
            })
            .collect();
        assert!(
            !browsers.is_empty(),
            "worker {} has a Chromium",
            self.workers[w].name
        );
        let at = Instant::now();
        for b in &browsers {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &b.to_string()])
                .status();
        }
        self.job_done(&job, 180, "the job of the killed Chromium done")
            .await;
        let attempts = self.job(&job).await.attempts;
        assert!(
            attempts >= 2,
            "the killed Chromium's capture was not retried"
        );
        let detail = format!(
            "{} Chromium processes of worker {}; job retried, attempt {attempts}",
            browsers.len(),
            self.workers[w].name,
        );
        self.record("Chromium killed mid-capture", at, at, detail);
    }

    /// A worker SIGKILLed with its process group mid-capture, restarted after a pause.
    async fn sigkill_worker(&mut self, round: usize) {
        let (job, w) = self
            .long_capture_running(&format!("fault: worker SIGKILL ({round})"), 2)
            .await;
        let at = Instant::now();
        signal(self.workers[w].child(), "KILL", true);
        self.workers[w].wait(10).await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        let base = self.base.clone();
        self.workers[w].start(&base);
        self.job_done(
            &job,
            180,
            "the killed worker's job done elsewhere or after restart",
        )
        .await;
        let attempts = self.job(&job).await.attempts;
        assert!(
            attempts >= 2,
            "the killed worker's capture was not run again"
        );
        let detail = format!(
            "worker {} and its Chromium; the job's lease ran out and it ran again (attempt {attempts})",
            self.workers[w].name
        );
        self.record("worker SIGKILL (process group)", at, at, detail);
    }

    /// A worker stopped with SIGTERM mid-capture: it drains, then cancels;
    /// restarted like a rolling update.
    async fn sigterm_worker(&mut self, round: usize) {
        let (job, w) = self
            .long_capture_running(&format!("fault: worker SIGTERM ({round})"), 1)
            .await;
        let at = Instant::now();
        signal(self.workers[w].child(), "TERM", false);
        let status = self.workers[w].wait(60).await;
        assert!(
            status.success(),
            "worker {} after SIGTERM: {status}\n{}",
            self.workers[w].name,
            self.workers[w].log_tail()
        );
        let stopped = at.elapsed();
        let base = self.base.clone();
        self.workers[w].start(&base);
        self.job_done(&job, 180, "the SIGTERMed worker's job done")
            .await;
        let attempts = self.job(&job).await.attempts;
        assert!(
            attempts >= 2,
            "the capture cancelled at the drain deadline was not retried"
        );
        let detail = format!(
            "worker {} exited 0 after {:.1} s of draining; job attempt {attempts}",
            self.workers[w].name,
            stopped.as_secs_f64(),
        );
        self.record("worker SIGTERM", at, at, detail);
    }

    /// Every connection to the database killed, three times a second apart.
    async fn kill_db_connections(&mut self) {
        let at = Instant::now();
        let mut killed = 0;
        for _ in 0..3 {
            killed += terminate_backends(&self.db_name).await;
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        let after = chrono::Utc::now();
        // Whole again: a capture finished and recorded after the last kill.
        wait_until(
            180,
            "a capture complete after the connections were killed",
            || async {
                self.captures().await.iter().any(|c| {
                    c.state == CaptureState::Complete && c.finished_at.is_some_and(|f| f > after)
                })
            },
        )
        .await;
        self.record(
            "Postgres connections killed",
            at,
            at,
            format!("{killed} backends terminated in three rounds"),
        );
    }

    /// The store unreachable for `down`; captures spool, then reach it.
    async fn store_down(&mut self, down: Duration) {
        let at = Instant::now();
        self.s3.set(Relay::Refuse);
        let mut pending = std::collections::BTreeSet::new();
        while at.elapsed() < down {
            for c in self.captures().await {
                if c.state == CaptureState::UploadPending {
                    pending.insert(c.id);
                }
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        assert!(
            !pending.is_empty(),
            "no capture waited for the store during its {} s outage",
            down.as_secs()
        );
        self.s3.set(Relay::Pass);
        let back = Instant::now();
        wait_until(300, "every pending upload stored", || async {
            !self
                .captures()
                .await
                .iter()
                .any(|c| c.state == CaptureState::UploadPending)
        })
        .await;
        let detail = format!(
            "{} s unreachable; {} snapshots spooled, all stored after it came back",
            down.as_secs(),
            pending.len()
        );
        self.record("object store unreachable", at, back, detail);
    }

    /// Worker `w`'s data disk (a tmpfs) filled for `full`, then freed.
    async fn disk_full(&mut self, w: usize, disk: &Tmpfs, full: Duration, listen: &str) {
        let pid = self.workers[w].pid().unwrap();
        // Best aimed mid-capture; fine if the worker is between jobs.
        let _ = tokio::time::timeout(Duration::from_secs(30), async {
            loop {
                if self
                    .captures()
                    .await
                    .iter()
                    .any(|c| c.state == CaptureState::Running && capture_pid(c) == Some(pid))
                {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
        .await;
        let at = Instant::now();
        let fill_at = chrono::Utc::now();
        let fill = disk.fill();
        let mut refused = false;
        while at.elapsed() < full {
            if let Some((503, body)) = common::http::get_text(listen, "/readyz").await {
                refused |= body.contains("data directory");
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        assert!(
            refused,
            "worker {}'s /readyz did not report its full disk",
            self.workers[w].name
        );
        std::fs::remove_file(&fill).unwrap();
        let freed = Instant::now();
        let after = chrono::Utc::now();
        wait_until(
            180,
            "the worker with the freed disk completing a capture",
            || async {
                self.captures().await.iter().any(|c| {
                    c.state == CaptureState::Complete
                        && capture_pid(c) == Some(pid)
                        && c.finished_at.is_some_and(|f| f > after)
                })
            },
        )
        .await;
        let captures = self.captures().await;
        // Claims are checked each time round the worker's loop (a second
        // here): nothing may start on the full disk after that.
        let full_from = fill_at + chrono::Duration::seconds(2);
        let started: Vec<&str> = captures
            .iter()
            .filter(|c| {
                capture_pid(c) == Some(pid)
                    && c.started_at.is_some_and(|t| t > full_from && t < after)
            })
            .map(|c| c.id.as_str())
            .collect();
        assert!(
            started.is_empty(),
            "worker {} claimed jobs on its full disk: {started:?}",
            self.workers[w].name
        );
        let hit: Vec<String> = captures
            .into_iter()
            .filter(|c| {
                c.state == CaptureState::Failed
                    && capture_pid(c) == Some(pid)
                    && c.failure
                        .as_deref()
                        .is_some_and(|f| f.contains("No space left"))
            })
            .filter_map(|c| c.failure_code)
            .collect();
        let detail = format!(
            "worker {}'s disk {} s full: {} capture(s) failed on it ({}) and were retried; it claimed nothing and /readyz said why",
            self.workers[w].name,
            full.as_secs(),
            hit.len(),
            hit.join(", ")
        );
        self.record("data disk full", at, freed, detail);
    }
}

async fn request(web: &str, token: &str, channel: &str, reason: &str) -> Result<String, String> {
    let body = serde_json::json!({ "reason": reason }).to_string();
    let mut last = String::new();
    // Retried like any client would while the database's connections are killed.
    for _ in 0..20 {
        let a = common::http::call(
            web,
            "POST",
            &format!("/api/v1/channels/{channel}/captures"),
            Some(token),
            Some(&body),
        )
        .await;
        if a.status == 202 {
            return Ok(a.json()["job_id"].as_str().unwrap().to_string());
        }
        last = format!("{} {}", a.status, String::from_utf8_lossy(&a.body));
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Err(last)
}

/// Terminates every backend of `db_name` but the caller's; how many.
async fn terminate_backends(db_name: &str) -> u64 {
    use sqlx::Connection;
    let url = bevara::db::testing::postgres_server()
        .await
        .expect("the test Postgres");
    let admin = bevara::db::testing::database_url(&url, "postgres");
    let mut c = sqlx::PgConnection::connect(&admin).await.unwrap();
    let rows: Vec<(bool,)> = sqlx::query_as(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = $1 AND pid <> pg_backend_pid()",
    )
    .bind(db_name)
    .fetch_all(&mut c)
    .await
    .unwrap();
    let _ = c.close().await;
    rows.iter().filter(|r| r.0).count() as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_capture_ends_right_and_nothing_is_lost_under_faults() {
    let scale = scale();
    let (pg_guard, url) = bevara::db::testing::fresh_postgres()
        .await
        .expect("a Postgres server for the fault suite (see BEVARA_TEST_DATABASE_URL)");
    let db_name = url
        .rsplit('/')
        .next()
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .to_string();
    let dir = tempfile::Builder::new()
        .prefix("bevara-faults-")
        .tempdir()
        .unwrap()
        .keep();
    eprintln!("fault suite ({} form) in {}", scale.form, dir.display());
    let site = common::serve().await;
    let s3 = Server::s3s_fs(BUCKET);
    let schedules = dir.join("schedules");
    std::fs::create_dir_all(&schedules).unwrap();
    let mut base: Vec<(String, String)> = vec![
        ("BEVARA_DATABASE_URL".into(), url.clone()),
        (
            "BEVARA_SCHEDULES_DIR".into(),
            schedules.display().to_string(),
        ),
        ("BEVARA_ALLOW_PRIVATE_ADDRESSES".into(), "1".into()),
        ("BEVARA_RECORDING_ENABLED".into(), "0".into()),
        ("BEVARA_CAPTURE_PDF".into(), "0".into()),
        ("BEVARA_CAPTURE_MHTML".into(), "0".into()),
        ("BEVARA_CAPTURE_PAGE_LOAD_TIMEOUT_SECS".into(), "5".into()),
        ("BEVARA_CAPTURE_MAX_DURATION_SECS".into(), "10".into()),
        ("BEVARA_WORKER_LISTEN".into(), "".into()),
        ("BEVARA_WORKER_POLL_SECS".into(), "1".into()),
        ("BEVARA_WORKER_LEASE_SECS".into(), "8".into()),
        ("BEVARA_WORKER_DRAIN_SECS".into(), "4".into()),
        (
            "BEVARA_WORKER_MAX_ATTEMPTS".into(),
            MAX_ATTEMPTS.to_string(),
        ),
        ("BEVARA_WORKER_RETRY_BASE_SECS".into(), "1".into()),
        ("BEVARA_WORKER_RETRY_MAX_SECS".into(), "4".into()),
        ("BEVARA_WORKER_SCHEDULER_TICK_SECS".into(), "1".into()),
        ("BEVARA_WORKER_MIN_FREE_MB".into(), "16".into()),
        ("BEVARA_STORE_SYNC_SECS".into(), "1".into()),
        ("BEVARA_STORE_SYNC_MAX_SECS".into(), "4".into()),
        ("BEVARA_LOG".into(), "bevara=info".into()),
    ];
    base.extend(s3.env(BUCKET, "arkiv"));
    let env_ref: Vec<(&str, &str)> = base.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();

    // The schema, the channels and an administrator's token.
    std::fs::create_dir_all(dir.join("data")).unwrap();
    let migrate = common::bevara(&dir, &env_ref, &["migrate"]).await;
    assert_eq!(migrate.code, 0, "{}", migrate.stderr);
    let db = Db::open(&url).await.unwrap();
    let add = |id: &str, path: String, platform: bevara::Platform| {
        let mut c = common::channel(id, &format!("http://{site}{path}"));
        c.platform = platform;
        c
    };
    for (i, id) in ADHOC.iter().chain(SCHEDULED.iter()).enumerate() {
        db.add_channel(&add(
            id,
            format!("/site/elsewhere.html?n={i}"),
            bevara::Platform::Web,
        ))
        .await
        .unwrap();
    }
    db.add_channel(&add(LONG, "/endless".into(), bevara::Platform::Web))
        .await
        .unwrap();
    for (id, path, _, _) in BAD {
        let platform = if id == "inloggning" {
            bevara::Platform::Facebook
        } else {
            bevara::Platform::Web
        };
        db.add_channel(&add(id, path.into(), platform))
            .await
            .unwrap();
    }
    let t = common::bevara(
        &dir,
        &env_ref,
        &["token", "create", "--role", "admin", "--name", "felprov"],
    )
    .await;
    assert_eq!(t.code, 0, "{}", t.stderr);
    let token = t.stdout.trim().to_string();
    let (web, mut web_child) = common::http::start_bevara(&dir, &["serve"], &env_ref).await;

    // Three workers; C's data directory is a 64 MiB tmpfs when we may mount one.
    let c_data = dir.join("c-data");
    let disk = Tmpfs::mount(&c_data, 64);
    let c_listen = format!("127.0.0.1:{}", free_port());
    let mut workers = Vec::new();
    for (name, data, env) in [
        ("A", dir.join("a-data"), vec![]),
        ("B", dir.join("b-data"), vec![]),
        (
            "C",
            c_data.clone(),
            vec![("BEVARA_WORKER_LISTEN".to_string(), c_listen.clone())],
        ),
    ] {
        let mut w = Worker {
            name,
            log: dir.join(format!("worker-{name}.log")),
            data,
            env,
            child: None,
        };
        w.start(&base);
        workers.push(w);
    }
    let mut rig = Rig {
        started: Instant::now(),
        db,
        db_name,
        base: base.clone(),
        s3,
        web: web.clone(),
        token,
        workers,
        faults: Vec::new(),
    };

    // The bad pages, and the schedule that fires every minute.
    for (id, ..) in BAD {
        rig.request(id, "felprov: dålig sida").await;
    }
    std::fs::write(
        schedules.join("takt.toml"),
        format!(
            "cron = \"* * * * *\"\nchannels = {:?}\nreason = \"felprov: varje minut\"\n",
            SCHEDULED
        ),
    )
    .unwrap();

    // The ad-hoc stream, one request every two seconds until told to stop.
    let stop = Arc::new(AtomicBool::new(false));
    let stream = {
        let (web, token, stop, min) = (web.clone(), rig.token.clone(), stop.clone(), scale.adhoc);
        tokio::spawn(async move {
            let mut asked = Vec::new();
            let mut i = 0usize;
            while !(stop.load(Ordering::SeqCst) && i >= min) {
                let channel = ADHOC[i % ADHOC.len()];
                let job = request(&web, &token, channel, &format!("felprov {i}"))
                    .await
                    .unwrap_or_else(|e| panic!("capture request {i}: {e}"));
                asked.push(job);
                i += 1;
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            asked
        })
    };

    // Running before the first fault.
    wait_until(120, "a first capture complete", || async {
        rig.captures()
            .await
            .iter()
            .any(|c| c.state == CaptureState::Complete)
    })
    .await;
    for round in 1..=scale.rounds {
        rig.kill_chromium(round).await;
        rig.sigkill_worker(round).await;
        rig.sigterm_worker(round).await;
        rig.kill_db_connections().await;
        rig.store_down(scale.store_down).await;
        if let Some(d) = &disk {
            rig.disk_full(2, d, scale.disk_full, &c_listen).await;
        }
    }
    stop.store(true, Ordering::SeqCst);
    let adhoc_jobs = stream.await.unwrap();
    // The schedule stops; what it asked for still runs.
    std::fs::remove_file(schedules.join("takt.toml")).unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;

    // The queue drains: nothing queued, running or waiting for the store.
    let drain = Instant::now();
    wait_until(300, "the queue drained and the spools empty", || async {
        rig.jobs().await.iter().all(|j| !j.status.is_active())
            && rig
                .captures()
                .await
                .iter()
                .all(|c| c.state != CaptureState::Running && c.state != CaptureState::UploadPending)
    })
    .await;
    let drained = drain.elapsed();
    for w in rig.workers.iter_mut() {
        signal(w.child(), "TERM", false);
    }
    for w in rig.workers.iter_mut() {
        let name = w.name;
        let status = w.wait(60).await;
        assert!(status.success(), "worker {name}: {status}");
    }

    // Every job ended as it should.
    let jobs = rig.jobs().await;
    let captures = rig.captures().await;
    let mut lost = Vec::new();
    let mut failed_by: BTreeMap<String, usize> = BTreeMap::new();
    for j in &jobs {
        let mine: Vec<&CaptureRecord> = captures
            .iter()
            .filter(|c| c.job_id.as_deref() == Some(j.id.as_str()))
            .collect();
        let complete: Vec<&&CaptureRecord> = mine
            .iter()
            .filter(|c| c.state == CaptureState::Complete)
            .collect();
        let expect = BAD.iter().find(|b| b.0 == j.channel_id);
        let ok = match expect {
            Some((_, _, JobStatus::Failed, code)) => {
                *failed_by.entry(code.to_string()).or_default() += 1;
                let attempts = if *code == "login-required" {
                    1
                } else {
                    MAX_ATTEMPTS
                };
                j.status == JobStatus::Failed
                    && j.last_error_code.as_deref() == Some(*code)
                    && j.attempts == attempts
                    && complete.is_empty()
            }
            _ => {
                j.status == JobStatus::Done
                    && complete.len() == 1
                    && j.snapshot_id.as_deref() == Some(complete[0].id.as_str())
                    && (j.channel_id != "oandlig" || complete[0].truncated)
            }
        };
        if !ok {
            let states: Vec<_> = mine
                .iter()
                .map(|c| (c.state, c.failure_code.clone(), c.failure.clone()))
                .collect();
            lost.push(format!(
                "{} ({}): {j:?} captures {states:?}",
                j.id, j.channel_id
            ));
        }
    }
    assert!(
        lost.is_empty(),
        "jobs that did not end as they should:\n{}\n\nworker logs:\n{}",
        lost.join("\n"),
        rig.workers
            .iter()
            .map(|w| format!("--- {}\n{}", w.name, w.log_tail()))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        jobs.len() >= 30,
        "only {} captures were requested",
        jobs.len()
    );
    let scheduled = jobs
        .iter()
        .filter(|j| j.trigger.kind.as_str() == "schedule")
        .count();
    assert!(
        scheduled >= 2,
        "the schedule fired {scheduled} jobs in more than two minutes"
    );
    assert!(
        captures
            .iter()
            .all(|c| c.state == CaptureState::Complete || c.state == CaptureState::Failed),
        "captures left running or pending"
    );
    // Each bad page's job was among those checked above.
    for (id, ..) in BAD {
        assert_eq!(
            jobs.iter().filter(|j| j.channel_id == id).count(),
            1,
            "one job for the bad page {id}"
        );
    }
    // Each complete snapshot's objects are in the bucket, as recorded.
    let verify = common::bevara(&dir, &env_ref, &["verify", "--all"]).await;
    assert_eq!(
        verify.code, 0,
        "verify --all:\n{}\n{}",
        verify.stdout, verify.stderr
    );
    let complete = captures
        .iter()
        .filter(|c| c.state == CaptureState::Complete)
        .count();
    for c in captures
        .iter()
        .filter(|c| c.state == CaptureState::Complete)
    {
        let key = c
            .manifest_key
            .as_deref()
            .expect("a complete capture has a manifest");
        let manifest = rig
            .s3
            .client()
            .await
            .get_object()
            .bucket(BUCKET)
            .key(format!("arkiv/{key}"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("manifest {key} of {}: {e:?}", c.id));
        let bytes = manifest.body.collect().await.unwrap().into_bytes();
        let m: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(m["snapshot_id"], c.id.as_str(), "{key}");
    }
    // The web server came through too.
    let ready = common::http::get_text(&web, "/readyz").await;
    assert_eq!(
        ready.map(|r| r.0),
        Some(200),
        "bevara serve is not ready after the faults"
    );
    let _ = web_child.kill().await;

    // The table.
    let retried = jobs.iter().filter(|j| j.attempts > 1).count();
    let mut table = format!(
        "\nFault suite, {} form, {:.0} s: {} jobs requested ({} ad hoc in {} requests, {} scheduled, {} for bad pages), {} captures run\n\n\
         | fault | at (s) | recovered in (s) | what happened |\n|---|---:|---:|---|\n",
        scale.form,
        rig.started.elapsed().as_secs_f64(),
        jobs.len(),
        jobs.len() - scheduled - BAD.len(),
        adhoc_jobs.len(),
        scheduled,
        BAD.len(),
        captures.len(),
    );
    for f in &rig.faults {
        table.push_str(&format!(
            "| {} | {:.0} | {:.1} | {} |\n",
            f.fault,
            f.at.as_secs_f64(),
            f.recovered.as_secs_f64(),
            f.detail
        ));
    }
    if disk.is_none() {
        table.push_str("| data disk full | – | – | skipped: mounting a tmpfs needs root |\n");
    }
    let done = jobs.iter().filter(|j| j.status == JobStatus::Done).count();
    table.push_str(&format!(
        "\n| jobs | done | of them retried | failed, by reason | lost | complete snapshots | queue drained in (s) |\n|---:|---:|---:|---|---:|---:|---:|\n| {} | {} | {} | {} | {} | {} | {:.1} |\n",
        jobs.len(),
        done,
        retried,
        failed_by
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", "),
        lost.len(),
        complete,
        drained.as_secs_f64(),
    ));
    eprintln!("{table}");
    if let Ok(out) = std::env::var("BEVARA_FAULTS_TABLE") {
        std::fs::write(out, &table).unwrap();
    }
    drop(rig);
    drop(disk);
    drop(pg_guard);
    let _ = std::fs::remove_dir_all(&dir);
}
