//! `bevara worker` processes against one database: every job runs exactly
//! once, a killed worker's job is finished by another after its lease runs
//! out, SIGTERM drains, and requests for a busy channel join its job.

mod common;

use common::procs::{descendants, free_port, signal, wait_until};

use bevara::db::{CaptureFilter, CaptureState, Db};
use bevara::queue::{JobStatus, NewJob, TriggerKind};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

/// A database for a group of worker processes, and what keeps it alive.
struct Place {
    _guard: Box<dyn std::any::Any + Send>,
    dir: tempfile::TempDir,
    url: String,
}

fn sqlite_place() -> Place {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("data")).unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("data/bevara.sqlite").display()
    );
    Place {
        _guard: Box::new(()),
        dir,
        url,
    }
}

async fn postgres_place() -> Place {
    let (guard, url) = bevara::db::testing::fresh_postgres()
        .await
        .expect("a Postgres server for the worker tests (see BEVARA_TEST_DATABASE_URL)");
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("data")).unwrap();
    Place {
        _guard: Box::new(guard),
        dir,
        url,
    }
}

impl Place {
    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    async fn db(&self) -> Db {
        Db::open(&self.url).await.unwrap()
    }

    fn command(&self, args: &[&str], env: &[(&str, &str)]) -> Command {
        let schedules = self.dir.path().join("schedules");
        std::fs::create_dir_all(&schedules).unwrap();
        let mut c = Command::new(env!("CARGO_BIN_EXE_bevara"));
        c.args(args)
            .current_dir(self.dir.path())
            .env_remove("BEVARA_CONFIG")
            .env("BEVARA_DATA_DIR", self.data())
            .env("BEVARA_DATABASE_URL", &self.url)
            .env("BEVARA_SCHEDULES_DIR", &schedules)
            .env("BEVARA_ALLOW_PRIVATE_ADDRESSES", "1")
            .env("BEVARA_RECORDING_ENABLED", "0")
            .env("BEVARA_CAPTURE_PDF", "0")
            .env("BEVARA_CAPTURE_MHTML", "0")
            .env("BEVARA_WORKER_LISTEN", "")
            .env("BEVARA_WORKER_POLL_SECS", "1")
            .env("BEVARA_WORKER_LEASE_SECS", "6")
            .env("BEVARA_WORKER_RETRY_BASE_SECS", "1")
            .env("BEVARA_LOG", "bevara=info")
            .envs(env.iter().copied())
            .kill_on_drop(true);
        c
    }

    /// A worker in its own process group, so it can be killed with its Chromium.
    fn worker(&self, env: &[(&str, &str)], log: &Path) -> Child {
        let log = std::fs::File::create(log).unwrap();
        self.command(&["worker"], env)
            .process_group(0)
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap()
    }
}

async fn register(db: &Db, id: &str, url: &str) {
    let mut c = common::channel(id, url);
    c.platform = bevara::Platform::Web;
    db.add_channel(&c).await.unwrap();
}

/// The channel `endless` (a feed that never ends) with a queued job: its id.
async fn endless_job(db: &Db, addr: std::net::SocketAddr) -> String {
    register(db, "endless", &format!("http://{addr}/endless")).await;
    let job = NewJob::new("endless", TriggerKind::AdHoc);
    db.enqueue(&job, chrono::Utc::now()).await.unwrap().job_id
}

/// Waits for a capture to be under way.
async fn capture_running(db: &Db) {
    wait_until(60, "a capture running", || async {
        db.list_captures(&CaptureFilter::default())
            .await
            .unwrap()
            .iter()
            .any(|c| c.state == CaptureState::Running)
    })
    .await;
}

/// `n` channels with a queued job each, on small pages.
async fn queue_jobs(db: &Db, addr: std::net::SocketAddr, n: usize) -> Vec<String> {
    let mut jobs = Vec::new();
    for i in 0..n {
        let id = format!("kanal-{i:02}");
        register(db, &id, &format!("http://{addr}/site/elsewhere.html?n={i}")).await;
        let job = NewJob::new(&id, TriggerKind::AdHoc).reason(Some(format!("test {i}")));
        jobs.push(db.enqueue(&job, chrono::Utc::now()).await.unwrap().job_id);
    }
    jobs
}

/// Every job ran exactly once: done, one complete capture each, no other capture.
async fn assert_each_ran_once(db: &Db, jobs: &[String], objects: &Path) {
    let captures = db.list_captures(&CaptureFilter::default()).await.unwrap();
    for id in jobs {
        let job = db.job(id).await.unwrap();
        assert_eq!(job.status, JobStatus::Done, "{job:?}");
        assert_eq!(job.attempts, 1, "{job:?}");
        let mine: Vec<_> = captures
            .iter()
            .filter(|c| c.job_id.as_deref() == Some(id.as_str()))
            .collect();
        assert_eq!(mine.len(), 1, "job {id}: {mine:?}");
        assert_eq!(mine[0].state, CaptureState::Complete);
        assert_eq!(job.snapshot_id.as_deref(), Some(mine[0].id.as_str()));
        assert_eq!(mine[0].title.as_deref(), Some("Fel sida"));
        // The manifest says which job, trigger and reason the capture ran for.
        let key = mine[0].manifest_key.as_deref().unwrap();
        let manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(objects.join(key)).unwrap()).unwrap();
        let trigger = &manifest["trigger"];
        assert_eq!(trigger["job_id"], id.as_str());
        assert_eq!(trigger["kind"], "ad-hoc");
        assert_eq!(trigger["reason"], job.reasons[0].as_str());
        assert!(job.reasons[0].starts_with("test "));
    }
    assert_eq!(captures.len(), jobs.len(), "no capture outside the jobs");
}

async fn two_workers_run_each_job_once(place: Place, n: usize) {
    let addr = common::serve().await;
    let db = place.db().await;
    let jobs = queue_jobs(&db, addr, n).await;
    let logs = place.dir.path();
    let mut a = place.worker(&[], &logs.join("a.log"));
    let mut b = place.worker(&[], &logs.join("b.log"));
    let started = Instant::now();
    wait_until(60 + 6 * n as u64, "every job done", || async {
        db.list_jobs(Some(JobStatus::Done), 1000)
            .await
            .unwrap()
            .len()
            == n
    })
    .await;
    let took = started.elapsed();
    signal(&a, "TERM", false);
    signal(&b, "TERM", false);
    assert!(a.wait().await.unwrap().success());
    assert!(b.wait().await.unwrap().success());
    assert_each_ran_once(&db, &jobs, &place.data().join("objects")).await;
    let owners: std::collections::HashSet<String> = db
        .list_jobs(None, 1000)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|j| j.lease_owner)
        .collect();
    assert_eq!(owners.len(), 2, "both workers took jobs: {owners:?}");
    eprintln!("{n} jobs on two workers in {:.1} s", took.as_secs_f64());
}

#[tokio::test]
async fn two_workers_on_sqlite_run_each_job_once() {
    two_workers_run_each_job_once(sqlite_place(), 6).await;
}

#[tokio::test]
async fn two_workers_on_postgres_run_each_of_30_jobs_once() {
    two_workers_run_each_job_once(postgres_place().await, 30).await;
}

async fn killed_worker_job_completes_elsewhere(place: Place) {
    let addr = common::serve().await;
    let db = place.db().await;
    let job = endless_job(&db, addr).await;
    let env = [("BEVARA_CAPTURE_MAX_DURATION_SECS", "10")];
    let logs = place.dir.path();
    let mut a = place.worker(&env, &logs.join("a.log"));
    capture_running(&db).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let owner_a = db.job(&job).await.unwrap().lease_owner.unwrap();
    signal(&a, "KILL", true);
    a.wait().await.unwrap();
    let mut b = place.worker(&env, &logs.join("b.log"));
    wait_until(120, "the job done by worker B", || async {
        db.job(&job).await.unwrap().status == JobStatus::Done
    })
    .await;
    signal(&b, "TERM", false);
    assert!(b.wait().await.unwrap().success());
    let j = db.job(&job).await.unwrap();
    assert_ne!(j.lease_owner.as_deref(), Some(owner_a.as_str()));
    assert_eq!(j.attempts, 2);
    let caps = db.list_captures(&CaptureFilter::default()).await.unwrap();
    let complete: Vec<_> = caps
        .iter()
        .filter(|c| c.state == CaptureState::Complete)
        .collect();
    let failed: Vec<_> = caps
        .iter()
        .filter(|c| c.state == CaptureState::Failed)
        .collect();
    assert_eq!(complete.len(), 1, "{caps:?}");
    assert_eq!(failed.len(), 1, "{caps:?}");
    assert_eq!(failed[0].failure_code.as_deref(), Some("interrupted"));
    assert_eq!(j.snapshot_id.as_deref(), Some(complete[0].id.as_str()));
    assert!(
        complete[0].truncated,
        "the endless feed stops at its budget"
    );
    assert!(caps.iter().all(|c| c.state != CaptureState::Running));
    // The killed worker's work files went with its reaped capture.
    let work = place.data().join("work");
    let left: Vec<_> = std::fs::read_dir(&work)
        .map(|d| d.filter_map(Result::ok).map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(
        !left.iter().any(|n| n.to_string_lossy() == failed[0].id),
        "the interrupted capture's work files are left: {left:?}"
    );
}

#[tokio::test]
async fn killed_worker_on_postgres_its_job_completes_on_another() {
    killed_worker_job_completes_elsewhere(postgres_place().await).await;
}

#[tokio::test]
async fn killed_worker_on_sqlite_its_job_completes_on_another() {
    killed_worker_job_completes_elsewhere(sqlite_place()).await;
}

#[tokio::test]
async fn sigterm_drains_then_cancels_at_the_deadline() {
    let place = sqlite_place();
    let addr = common::serve().await;
    let db = place.db().await;
    register(&db, "endless", &format!("http://{addr}/endless")).await;
    register(&db, "kort", &format!("http://{addr}/site/elsewhere.html")).await;
    let logs = place.dir.path();

    // A capture shorter than the drain deadline finishes, then the worker exits 0.
    let short = db
        .enqueue(&NewJob::new("kort", TriggerKind::AdHoc), chrono::Utc::now())
        .await
        .unwrap()
        .job_id;
    let mut w = place.worker(&[("BEVARA_WORKER_DRAIN_SECS", "60")], &logs.join("w1.log"));
    wait_until(60, "the short job running", || async {
        db.job(&short).await.unwrap().status == JobStatus::Running
    })
    .await;
    signal(&w, "TERM", false);
    assert!(w.wait().await.unwrap().success());
    assert_eq!(db.job(&short).await.unwrap().status, JobStatus::Done);

    // One longer than the deadline is cancelled: failed as interrupted, the job queued again.
    let long = db
        .enqueue(
            &NewJob::new("endless", TriggerKind::AdHoc),
            chrono::Utc::now(),
        )
        .await
        .unwrap()
        .job_id;
    let env = [
        ("BEVARA_WORKER_DRAIN_SECS", "2"),
        ("BEVARA_CAPTURE_MAX_DURATION_SECS", "120"),
    ];
    let mut w = place.worker(&env, &logs.join("w2.log"));
    capture_running(&db).await;
    let t = Instant::now();
    signal(&w, "TERM", false);
    assert!(w.wait().await.unwrap().success());
    assert!(t.elapsed() < Duration::from_secs(20), "{:?}", t.elapsed());
    let j = db.job(&long).await.unwrap();
    assert_eq!(j.status, JobStatus::Queued, "{j:?}");
    assert_eq!(j.last_error_code.as_deref(), Some("interrupted"));
    assert!(j.last_error.unwrap().contains("worker.drain_secs"));
    let caps = db.list_captures(&CaptureFilter::default()).await.unwrap();
    assert!(
        caps.iter().all(|c| c.state != CaptureState::Running),
        "{caps:?}"
    );
    let work = place.data().join("work");
    let left = std::fs::read_dir(&work).map(|d| d.count()).unwrap_or(0);
    assert_eq!(left, 0, "work directories left in {}", work.display());
}

#[tokio::test]
async fn enqueue_joins_a_queued_job_and_capture_refuses_a_running_one() {
    let place = sqlite_place();
    let db = place.db().await;
    register(&db, "sala", "https://example.org/").await;
    let run = |args: &'static [&'static str]| {
        let mut c = place.command(args, &[]);
        async move { c.output().await.unwrap() }
    };
    let first = run(&["enqueue", "sala", "--reason", "debatt om skolan"]).await;
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let second = run(&[
        "enqueue",
        "sala",
        "--reason",
        "insändare",
        "--priority",
        "high",
    ])
    .await;
    assert!(second.status.success());
    let id = String::from_utf8_lossy(&first.stdout).trim().to_string();
    assert_eq!(String::from_utf8_lossy(&second.stdout).trim(), id);
    assert!(String::from_utf8_lossy(&second.stderr).contains("joined"));
    let list = run(&["jobs", "list", "--json"]).await;
    let jobs: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(jobs.as_array().unwrap().len(), 1);
    let j = &jobs[0];
    assert_eq!(j["id"], id.as_str());
    assert_eq!(j["channel"], "sala");
    assert_eq!(j["status"], "queued");
    assert_eq!(j["trigger"]["kind"], "ad-hoc");
    assert_eq!(
        j["reasons"],
        serde_json::json!(["debatt om skolan", "insändare"])
    );
    assert_eq!(j["priority"], 200);
    for field in [
        "attempts",
        "lease_owner",
        "lease_expires_at",
        "next_attempt_at",
        "last_error",
        "snapshot_id",
    ] {
        assert!(j.get(field).is_some(), "jobs list --json lacks {field}");
    }
    // A worker holds it: `bevara capture` says which job, and changes nothing.
    db.claim(
        "worker@elsewhere",
        None,
        chrono::Utc::now() + chrono::Duration::seconds(60),
        chrono::Utc::now(),
    )
    .await
    .unwrap()
    .unwrap();
    let busy = run(&["capture", "sala", "--no-recording"]).await;
    assert_eq!(busy.status.code(), Some(14));
    let err = String::from_utf8_lossy(&busy.stderr);
    assert!(
        err.contains(&id) && err.contains("worker@elsewhere"),
        "{err}"
    );
    let cancel = run(&["jobs", "cancel", "nope"]).await;
    assert_eq!(cancel.status.code(), Some(3));
    let unknown = run(&["enqueue", "nope"]).await;
    assert_eq!(unknown.status.code(), Some(3));
}

#[tokio::test]
async fn health_readiness_metrics_and_json_logs() {
    let place = sqlite_place();
    let addr = common::serve().await;
    let db = place.db().await;
    let jobs = queue_jobs(&db, addr, 2).await;
    let listen = format!("127.0.0.1:{}", free_port());
    let log = place.dir.path().join("w.log");
    let env = [
        ("BEVARA_WORKER_LISTEN", listen.as_str()),
        ("BEVARA_LOG_FORMAT", "json"),
    ];
    let mut w = place.worker(&env, &log);
    wait_until(30, "/healthz", || async {
        common::http::get_text(&listen, "/healthz")
            .await
            .map(|r| r.0)
            == Some(200)
    })
    .await;
    wait_until(90, "both jobs done", || async {
        db.list_jobs(Some(JobStatus::Done), 10).await.unwrap().len() == 2
    })
    .await;
    let (status, ready) = common::http::get_text(&listen, "/readyz").await.unwrap();
    assert_eq!(status, 200, "{ready}");
    // The gauges are set each time round the loop, after the last job ended.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (status, metrics) = common::http::get_text(&listen, "/metrics").await.unwrap();
    assert_eq!(status, 200);
    for line in [
        "bevara_captures_total{outcome=\"complete\"} 2",
        "bevara_queue_depth 0",
        "bevara_capture_duration_seconds_count 2",
        "bevara_oldest_queued_job_age_seconds 0",
    ] {
        assert!(metrics.contains(line), "no {line:?} in\n{metrics}");
    }
    signal(&w, "TERM", false);
    assert!(w.wait().await.unwrap().success());
    // JSON lines, each capture's carrying its job's span.
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    for id in &jobs {
        assert!(
            lines
                .iter()
                .any(|l| l["spans"].as_array().is_some_and(|spans| {
                    spans.iter().any(|s| {
                        s["job"] == id.as_str()
                            && s["channel"]
                                .as_str()
                                .is_some_and(|c| c.starts_with("kanal-"))
                    })
                })),
            "no log line in job {id}'s span:\n{text}"
        );
    }
    // A worker that cannot reach its database is not ready.
    let bad = place.dir.path().join("no/such/dir/db.sqlite");
    let listen2 = format!("127.0.0.1:{}", free_port());
    let bad_url = format!("sqlite://{}", bad.display());
    let mut c = place.command(
        &["worker"],
        &[
            ("BEVARA_DATABASE_URL", bad_url.as_str()),
            ("BEVARA_WORKER_LISTEN", listen2.as_str()),
        ],
    );
    let out = c.output().await.unwrap();
    assert_eq!(
        out.status.code(),
        Some(11),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn schedules_debates_and_closing_from_the_command_line() {
    let place = sqlite_place();
    let db = place.db().await;
    register(&db, "sala", "https://example.org/").await;
    let schedules = place.dir.path().join("schedules");
    std::fs::create_dir_all(&schedules).unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("schedules/baseline.toml"),
        schedules.join("baseline.toml"),
    )
    .unwrap();
    std::fs::write(
        schedules.join("trasig.toml"),
        "channels = \"all\"\ncronn = \"* * * * *\"\n",
    )
    .unwrap();
    let run = |args: Vec<&str>| {
        let mut c = place.command(&args, &[]);
        async move {
            let o = c.output().await.unwrap();
            (
                o.status.code().unwrap_or(-1),
                String::from_utf8_lossy(&o.stdout).into_owned(),
                String::from_utf8_lossy(&o.stderr).into_owned(),
            )
        }
    };
    let (code, out, err) = run(vec![
        "schedule",
        "next",
        "baseline",
        "--after",
        "2026-01-01T00:00:00Z",
        "--count",
        "3",
    ])
    .await;
    let listing: Vec<_> = std::fs::read_dir(&schedules)
        .map(|d| d.filter_map(Result::ok).map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert_eq!(code, 0, "{err}; {} holds {listing:?}", schedules.display());
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        vec![
            "2026-01-15T02:15:00+01:00",
            "2026-07-15T02:15:00+02:00",
            "2027-01-15T02:15:00+01:00"
        ]
    );
    let (code, out, err) = run(vec!["schedule", "list"]).await;
    assert_eq!(code, 0);
    assert!(out.contains("baseline") && out.contains("sala"), "{out}");
    assert!(err.contains("trasig.toml:2:1"), "{err}");
    let (code, _, err) = run(vec!["schedule", "next", "nope"]).await;
    assert_eq!(code, 3, "{err}");

    let (code, out, err) = run(vec![
        "debate",
        "start",
        "sala",
        "--every",
        "6h",
        "--until",
        "2099-01-01",
        "--reason",
        "skolnedläggning",
    ])
    .await;
    assert_eq!(code, 0, "{err}");
    let debate = out.trim().to_string();
    let (_, out, _) = run(vec!["debate", "list", "--active", "--json"]).await;
    let list: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(list[0]["id"], debate.as_str());
    assert_eq!(list[0]["every_secs"], 21600);
    assert_eq!(list[0]["reason"], "skolnedläggning");
    let (code, out, _) = run(vec!["debate", "stop", &debate]).await;
    assert_eq!(code, 0);
    assert!(out.contains("stopped"));
    let (_, out, _) = run(vec!["debate", "list", "--active", "--json"]).await;
    assert_eq!(out.trim(), "[]");
    let (code, _, err) = run(vec![
        "debate",
        "start",
        "sala",
        "--every",
        "5s",
        "--until",
        "2099-01-01",
        "--reason",
        "x",
    ])
    .await;
    assert_eq!(code, 2, "{err}");

    let (code, out, err) = run(vec!["channel", "close", "sala"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("final capture"), "{out}");
    let jobs = db.list_jobs(None, 10).await.unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].trigger.kind, TriggerKind::Close);
    assert_eq!(jobs[0].priority, bevara::queue::Priority::HIGH);
}

#[tokio::test]
async fn a_dead_browser_is_restarted_and_the_job_retried() {
    let place = sqlite_place();
    let addr = common::serve().await;
    let db = place.db().await;
    let job = endless_job(&db, addr).await;
    let env = [("BEVARA_CAPTURE_MAX_DURATION_SECS", "8")];
    let mut w = place.worker(&env, &place.dir.path().join("w.log"));
    capture_running(&db).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let pid = w.id().unwrap();
    // Every process the worker started, whichever thread started it.
    let browsers = descendants(pid);
    assert!(!browsers.is_empty(), "the worker has started Chromium");
    for b in browsers {
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &b.to_string()])
            .status();
    }
    wait_until(120, "the job done after a retry", || async {
        db.job(&job).await.unwrap().status == JobStatus::Done
    })
    .await;
    signal(&w, "TERM", false);
    assert!(w.wait().await.unwrap().success());
    let j = db.job(&job).await.unwrap();
    assert_eq!(j.attempts, 2, "{j:?}");
    let caps = db.list_captures(&CaptureFilter::default()).await.unwrap();
    let codes: Vec<_> = caps
        .iter()
        .map(|c| (c.state, c.failure_code.clone()))
        .collect();
    assert_eq!(caps.len(), 2, "{codes:?}");
    assert_eq!(caps[0].state, CaptureState::Failed, "{codes:?}");
    assert_eq!(
        caps[0].failure_code.as_deref(),
        Some("browser"),
        "{codes:?}"
    );
    assert_eq!(caps[1].state, CaptureState::Complete, "{codes:?}");
}

fn environ(pid: u32) -> String {
    String::from_utf8_lossy(&std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default())
        .replace('\0', "\n")
}

#[tokio::test]
async fn no_secret_reaches_chromium_or_ffmpeg() {
    let place = sqlite_place();
    let addr = common::serve().await;
    let db = place.db().await;
    let mut c = common::channel("endless", &format!("http://{addr}/endless"));
    c.recording = true;
    db.add_channel(&c).await.unwrap();
    let mut keygen = place.command(&["session", "keygen"], &[]);
    let key = String::from_utf8(keygen.output().await.unwrap().stdout).unwrap();
    let key = key.trim().to_string();
    assert!(key.len() >= 32, "{key}");
    db.enqueue(
        &NewJob::new("endless", TriggerKind::AdHoc),
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    let aws = "aws-secret-for-the-test-5e1f";
    let env = [
        ("BEVARA_SESSION_KEY", key.as_str()),
        ("AWS_SECRET_ACCESS_KEY", aws),
        ("BEVARA_RECORDING_ENABLED", "1"),
        ("BEVARA_RECORDING_TITLE_SECONDS", "0.5"),
        ("BEVARA_CAPTURE_MAX_DURATION_SECS", "10"),
    ];
    let mut w = place.worker(&env, &place.dir.path().join("w.log"));
    capture_running(&db).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let pid = w.id().unwrap();
    assert!(environ(pid).contains(&key), "the worker itself has the key");
    let mut seen = Vec::new();
    for d in descendants(pid) {
        let comm = std::fs::read_to_string(format!("/proc/{d}/comm")).unwrap_or_default();
        let env = environ(d);
        for secret in [key.as_str(), aws, "BEVARA_", "AWS_"] {
            assert!(
                !env.contains(secret),
                "{} ({d}) has {secret} in its environment",
                comm.trim()
            );
        }
        // Chromium's helper processes write their title over the memory
        // /proc shows as the environment; only a real one counts as seen.
        if env.lines().any(|l| l.starts_with("PATH=")) {
            seen.push(comm.trim().to_string());
        }
    }
    assert!(seen.iter().any(|c| c.contains("chrom")), "{seen:?}");
    assert!(seen.iter().any(|c| c == "ffmpeg"), "{seen:?}");
    signal(&w, "TERM", false);
    assert!(w.wait().await.unwrap().success());
}

#[tokio::test]
async fn a_worker_without_room_on_its_disk_claims_nothing_and_says_why() {
    let place = sqlite_place();
    let addr = common::serve().await;
    let db = place.db().await;
    let jobs = queue_jobs(&db, addr, 1).await;
    let listen = format!("127.0.0.1:{}", free_port());
    // More free space than any disk here has.
    let env = [
        ("BEVARA_WORKER_LISTEN", listen.as_str()),
        ("BEVARA_WORKER_MIN_FREE_MB", "1000000000"),
    ];
    let mut w = place.worker(&env, &place.dir.path().join("w.log"));
    wait_until(30, "/readyz answering 503", || async {
        common::http::get_text(&listen, "/readyz")
            .await
            .is_some_and(|r| r.0 == 503)
    })
    .await;
    let (_, ready) = common::http::get_text(&listen, "/readyz").await.unwrap();
    assert!(ready.contains("worker.min_free_mb"), "{ready}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let job = db.job(&jobs[0]).await.unwrap();
    assert_eq!(job.status, JobStatus::Queued, "{job:?}");
    assert_eq!(job.attempts, 0, "{job:?}");
    let (_, metrics) = common::http::get_text(&listen, "/metrics").await.unwrap();
    let free: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("bevara_data_free_bytes "))
        .unwrap_or_else(|| panic!("no bevara_data_free_bytes in\n{metrics}"))
        .trim()
        .parse()
        .unwrap();
    let actual = bevara::worker::free_bytes(&place.data()).unwrap();
    assert!(
        free > 0 && free.abs_diff(actual) < 1 << 30,
        "{free} vs {actual}"
    );
    signal(&w, "TERM", false);
    assert!(w.wait().await.unwrap().success());
}
