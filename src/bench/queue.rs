//! `bevara bench queue`: what the job queue costs, on a throw-away database.

use crate::db::Db;
use crate::queue::{JobEnd, NewJob, TriggerKind};
use crate::registry::{Channel, Platform};
use chrono::Utc;
use std::time::Instant;

/// The queue's figures on one backend.
#[derive(Debug, Clone)]
pub struct QueueBench {
    pub backend: &'static str,
    pub channels: usize,
    /// Registering the channels (not part of the queue's cost).
    pub register_ms: f64,
    /// Enqueuing one schedule fire for every channel, in one transaction.
    pub fire_ms: f64,
    pub claimers: usize,
    /// Jobs claimed and ended by the concurrent claimers.
    pub claimed: usize,
    pub claim_secs: f64,
    /// Duplicate claims seen (must be 0).
    pub duplicates: usize,
    /// Enqueue, claim, one heartbeat and end of one job, one after another.
    pub overhead_ms: f64,
}

fn bench_channel(i: usize) -> Channel {
    Channel {
        id: format!("bench-{i:05}").parse().expect("valid id"),
        platform: Platform::Web,
        url: format!("https://example.org/{i}"),
        name: None,
        owner: None,
        admins: vec![],
        purpose: None,
        tags: vec![],
        opened_at: Utc::now(),
        closed_at: None,
        retain_days: None,
        recording: false,
    }
}

/// Measures the queue on `db`, which must be empty.
pub async fn run(
    db: &Db,
    channels: usize,
    claimers: usize,
) -> Result<QueueBench, crate::db::DbError> {
    let t = Instant::now();
    for i in 0..channels {
        db.add_channel(&bench_channel(i)).await?;
    }
    let register_ms = t.elapsed().as_secs_f64() * 1000.0;

    let fire = Utc::now();
    let jobs: Vec<NewJob> = (0..channels)
        .map(|i| {
            let mut j = NewJob::new(&format!("bench-{i:05}"), TriggerKind::Schedule);
            j.trigger.schedule = Some("baseline".into());
            j.trigger.fire_time = Some(fire);
            j
        })
        .collect();
    let t = Instant::now();
    let fired = db.record_fires("baseline", fire, &jobs, Utc::now()).await?;
    let fire_ms = t.elapsed().as_secs_f64() * 1000.0;
    debug_assert_eq!(fired.len(), channels);

    let t = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..claimers {
        let db = db.clone();
        tasks.spawn(async move {
            let owner = format!("bench-claimer-{c}");
            let mut got = Vec::new();
            loop {
                let lease = Utc::now() + chrono::Duration::seconds(120);
                match db.claim(&owner, None, lease, Utc::now()).await? {
                    Some(job) => {
                        let end = JobEnd::Done {
                            snapshot_id: format!("s-{}", job.id),
                        };
                        db.end_job(&job.id, &owner, &end, Utc::now()).await?;
                        got.push(job.id);
                    }
                    None => return Ok::<_, crate::db::DbError>(got),
                }
            }
        });
    }
    let mut all = Vec::new();
    while let Some(r) = tasks.join_next().await {
        all.extend(r.expect("claimer task")?);
    }
    let claim_secs = t.elapsed().as_secs_f64();
    let claimed = all.len();
    all.sort();
    all.dedup();
    let duplicates = claimed - all.len();

    let rounds = 200.min(channels.max(1));
    let t = Instant::now();
    for i in 0..rounds {
        let id = format!("bench-{i:05}");
        let e = db
            .enqueue(&NewJob::new(&id, TriggerKind::AdHoc), Utc::now())
            .await?;
        let lease = Utc::now() + chrono::Duration::seconds(120);
        if let Some(job) = db
            .claim("bench-overhead", Some(&e.job_id), lease, Utc::now())
            .await?
        {
            db.heartbeat(&job.id, "bench-overhead", lease, Utc::now())
                .await?;
            let end = JobEnd::Done {
                snapshot_id: "s".into(),
            };
            db.end_job(&job.id, "bench-overhead", &end, Utc::now())
                .await?;
        }
    }
    let overhead_ms = t.elapsed().as_secs_f64() * 1000.0 / rounds as f64;
    Ok(QueueBench {
        backend: db.backend(),
        channels,
        register_ms,
        fire_ms,
        claimers,
        claimed,
        claim_secs,
        duplicates,
        overhead_ms,
    })
}

pub fn format(rows: &[QueueBench]) -> String {
    let mut s = format!(
        "{:<9} {:>8} {:>12} {:>9} {:>8} {:>9} {:>10} {:>11} {:>12}\n",
        "backend",
        "channels",
        "fire_ms",
        "claimers",
        "claimed",
        "claim_s",
        "claims/s",
        "duplicates",
        "overhead_ms"
    );
    for r in rows {
        s.push_str(&format!(
            "{:<9} {:>8} {:>12.0} {:>9} {:>8} {:>9.2} {:>10.0} {:>11} {:>12.2}\n",
            r.backend,
            r.channels,
            r.fire_ms,
            r.claimers,
            r.claimed,
            r.claim_secs,
            r.claimed as f64 / r.claim_secs.max(1e-9),
            r.duplicates,
            r.overhead_ms
        ));
    }
    s.push_str("fire_ms: one schedule fire enqueued for every channel (one transaction); claims/s: claim + end by the claimers together;\noverhead_ms: enqueue, claim, heartbeat and end of one job in a row, what the queue adds to a capture\n");
    s
}
