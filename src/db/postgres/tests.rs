use crate::db::testing::{self, fresh_postgres, PgGuard};
use crate::db::Db;
use crate::queue::{NewJob, TriggerKind};
use chrono::{Duration as Span, Utc};
use sqlx::Connection;
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

/// Says why a test does nothing here; fails it under CI, where a Postgres
/// must be found.
fn no_postgres() {
    let how = format!(
        "set {} to a server URL, run one on 127.0.0.1:5432 (user postgres, trust auth), \
         or install Debian's postgresql package so the tests start one",
        testing::SERVER_ENV
    );
    if std::env::var_os("CI").is_some() {
        panic!("no Postgres for the Postgres tests: {how}");
    }
    eprintln!("skipped: no Postgres here; {how}");
}

/// A fresh database's guard and URL, or `None` when there is no Postgres.
async fn fresh_url() -> Option<(PgGuard, String)> {
    let found = fresh_postgres().await;
    if found.is_none() {
        no_postgres();
    }
    found
}

pub(crate) async fn fresh() -> Option<(PgGuard, Db)> {
    let (guard, url) = fresh_url().await?;
    let db = Db::open(&url).await.unwrap();
    assert_eq!(db.backend(), "postgres");
    Some((guard, db))
}

crate::repository_contract!(fresh);

async fn add_channels(db: &Db, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let id = format!("c{i:03}");
        db.add_channel(&crate::db::contract::channel(&id))
            .await
            .unwrap();
        ids.push(id);
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_claimers_each_get_distinct_jobs() {
    let Some((_g, url)) = fresh_url().await else {
        return;
    };
    let db = Db::open(&url).await.unwrap();
    let now = Utc::now();
    for c in add_channels(&db, 200).await {
        db.enqueue(&NewJob::new(&c, TriggerKind::AdHoc), now)
            .await
            .unwrap();
    }
    // Eight claimers, each with its own connections, as eight workers.
    let mut claimers = Vec::new();
    for w in 0..8 {
        let db = Db::open(&url).await.unwrap();
        claimers.push(tokio::spawn(async move {
            let owner = format!("w{w}");
            let mut got = Vec::new();
            while let Some(job) = db
                .claim(&owner, None, now + Span::seconds(600), now)
                .await
                .unwrap()
            {
                assert_eq!(job.lease_owner.as_deref(), Some(owner.as_str()));
                got.push(job.id);
            }
            got
        }));
    }
    let mut all = Vec::new();
    let mut busy = 0;
    for c in claimers {
        let got = c.await.unwrap();
        busy += usize::from(!got.is_empty());
        all.extend(got);
    }
    let distinct: HashSet<&String> = all.iter().collect();
    assert_eq!((all.len(), distinct.len()), (200, 200));
    assert!(busy > 1, "only one claimer got jobs; the race was not run");
    let stats = db.queue_stats(now).await.unwrap();
    assert_eq!((stats.queued, stats.running), (0, 200));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_enqueues_join_one_job() {
    let Some((_g, url)) = fresh_url().await else {
        return;
    };
    let db = Db::open(&url).await.unwrap();
    let channels = add_channels(&db, 20).await;
    let now = Utc::now();
    let mut tasks = Vec::new();
    for w in 0..8 {
        let db = Db::open(&url).await.unwrap();
        let channels = channels.clone();
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::new();
            for c in &channels {
                let job = NewJob::new(c, TriggerKind::AdHoc).reason(Some(format!("r{w}")));
                out.push((c.clone(), db.enqueue(&job, now).await.unwrap()));
            }
            out
        }));
    }
    let mut by_channel: HashMap<String, Vec<crate::queue::Enqueued>> = HashMap::new();
    for t in tasks {
        for (c, e) in t.await.unwrap() {
            by_channel.entry(c).or_default().push(e);
        }
    }
    for (c, es) in by_channel {
        let ids: HashSet<&String> = es.iter().map(|e| &e.job_id).collect();
        assert_eq!(ids.len(), 1, "{c}: {es:?}");
        assert_eq!(es.iter().filter(|e| !e.joined).count(), 1, "{c}: {es:?}");
        let job = db.active_job(&c).await.unwrap().unwrap();
        let mut reasons = job.reasons.clone();
        reasons.sort();
        assert_eq!(reasons, (0..8).map(|w| format!("r{w}")).collect::<Vec<_>>());
    }
    assert_eq!(db.list_jobs(None, 100).await.unwrap().len(), 20);
}

#[tokio::test]
async fn claiming_one_job_waits_for_a_join_holding_it() {
    let Some((_g, url)) = fresh_url().await else {
        return;
    };
    let db = Db::open(&url).await.unwrap();
    add_channels(&db, 1).await;
    let now = Utc::now();
    let id = db
        .enqueue(&NewJob::new("c000", TriggerKind::Manual), now)
        .await
        .unwrap()
        .job_id;
    // Another process joins the job and has not committed yet.
    let mut other = sqlx::PgConnection::connect(&url).await.unwrap();
    let mut tx = other.begin().await.unwrap();
    sqlx::query("SELECT id FROM jobs WHERE id = $1 FOR UPDATE")
        .bind(&id)
        .execute(&mut *tx)
        .await
        .unwrap();
    let claim = {
        let (db, id) = (db.clone(), id.clone());
        tokio::spawn(async move {
            db.claim("cli", Some(&id), now + Span::seconds(60), now)
                .await
                .unwrap()
        })
    };
    // A worker looking for any job passes it by meanwhile.
    assert!(db
        .claim("w1", None, now + Span::seconds(60), now)
        .await
        .unwrap()
        .is_none());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!claim.is_finished());
    tx.commit().await.unwrap();
    let job = claim
        .await
        .unwrap()
        .expect("the job, once the join committed");
    assert_eq!(job.lease_owner.as_deref(), Some("cli"));
}

#[tokio::test]
async fn a_new_job_wakes_a_waiting_worker() {
    let Some((_g, url)) = fresh_url().await else {
        return;
    };
    let worker = Db::open(&url).await.unwrap();
    let waiter = tokio::spawn(async move {
        let started = Instant::now();
        worker.wait_for_jobs(Duration::from_secs(60)).await;
        started.elapsed()
    });
    // Another process enqueues. The waiter sets up its listener itself, so
    // enqueue until it has heard one.
    let other = Db::open(&url).await.unwrap();
    let channels = add_channels(&other, 50).await;
    for c in &channels {
        if waiter.is_finished() {
            break;
        }
        other
            .enqueue(&NewJob::new(c, TriggerKind::AdHoc), Utc::now())
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let waited = waiter.await.unwrap();
    assert!(waited < Duration::from_secs(10), "woken after {waited:?}");
}

#[tokio::test]
async fn waiting_without_jobs_lasts_the_timeout() {
    let Some((_g, db)) = fresh().await else {
        return;
    };
    for _ in 0..2 {
        let started = Instant::now();
        db.wait_for_jobs(Duration::from_millis(300)).await;
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(300) && waited < Duration::from_secs(5),
            "{waited:?}"
        );
    }
}

#[tokio::test]
async fn open_creates_a_missing_database() {
    let Some(server) = testing::postgres_server().await else {
        no_postgres();
        return;
    };
    let name = testing::fresh_name();
    let _g = PgGuard::new(&server, &name);
    let db = Db::open(&testing::database_url(&server, &name))
        .await
        .unwrap();
    db.ping().await.unwrap();
    assert!(db.list_channels().await.unwrap().is_empty());
}

/// The start path on its own, even where a server already answers:
/// `cargo test --lib db::postgres -- --ignored`.
#[tokio::test]
#[ignore = "starts a Postgres of its own from Debian's postgresql package"]
async fn starts_a_postgres_of_its_own() {
    let started = Instant::now();
    let Some(pg) = testing::start_postgres().await.unwrap() else {
        panic!("Debian's postgresql package is not installed (/usr/lib/postgresql/*/bin)");
    };
    eprintln!("started {} in {:?}", pg.url, started.elapsed());
    let name = testing::fresh_name();
    let db = Db::open(&testing::database_url(&pg.url, &name))
        .await
        .unwrap();
    crate::db::contract::search_words(&db).await;
}

#[test]
fn errors_do_not_show_the_password() {
    use super::without_password;
    assert_eq!(
        without_password("postgres://bevara:hemligt@db.sala.se:5432/bevara"),
        "postgres://bevara:***@db.sala.se:5432/bevara"
    );
    assert_eq!(
        without_password("postgres://db/bevara?user=bevara&password=hemligt"),
        "postgres://db/bevara?user=bevara&password=***"
    );
    assert_eq!(
        without_password("postgres://bevara@db/bevara"),
        "postgres://bevara@db/bevara"
    );
}
