//! The scheduler: turns schedule files and debates into jobs. It only
//! enqueues, keyed by (schedule, channel, fire time) in the fire log, so
//! every worker may run one and a fire is still enqueued once.
//!
//! Each fire is computed from the schedule's cron in its own time zone
//! (see [`crate::schedule`]) and the scheduler wakes every tick to enqueue
//! what fell due. It does not hand the schedules to tokio-cron-scheduler:
//! that crate keeps a fixed UTC offset once a job is created, so after a
//! daylight-saving change its time-zone jobs fire an hour off; a tick that
//! asks "which fires are due now" from the cron itself cannot drift.

use super::metrics::Metrics;
use crate::db::{Db, DbError};
use crate::queue::{NewJob, Priority, TriggerKind};
use crate::registry::Channel;
use crate::schedule::{self, Schedule};
use chrono::{DateTime, Utc};
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// What one tick did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TickReport {
    /// Jobs queued or joined by fires recorded in this tick.
    pub enqueued: usize,
    /// Fires logged as missed (older than the grace period).
    pub missed: usize,
}

/// Turns due fires into jobs. Keeps, per schedule, the instant up to which
/// it has looked.
pub struct Scheduler {
    db: Db,
    dir: PathBuf,
    grace: Duration,
    max_attempts: i64,
    checked: HashMap<String, DateTime<Utc>>,
    reported: HashSet<String>,
    metrics: Option<Arc<Metrics>>,
}

impl Scheduler {
    pub fn new(db: Db, dir: PathBuf, grace: Duration, max_attempts: u32) -> Self {
        Self {
            db,
            dir,
            grace,
            max_attempts: max_attempts.max(1) as i64,
            checked: HashMap::new(),
            reported: HashSet::new(),
            metrics: None,
        }
    }

    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// The schedules of the directory; bad files are logged once each and skipped.
    fn schedules(&mut self) -> Vec<Schedule> {
        let (good, bad) = schedule::load_dir(&self.dir);
        for e in bad {
            let msg = e.to_string();
            if self.reported.insert(msg.clone()) {
                tracing::error!(error = %msg, "schedule file skipped; the others still run");
            }
        }
        good
    }

    /// Enqueues every fire due at `now` since the last tick. The first tick
    /// of a schedule looks back to its last logged fire: fires since then
    /// within the grace period run once, older ones are logged as missed.
    pub async fn tick(&mut self, now: DateTime<Utc>) -> Result<TickReport, DbError> {
        let channels = self.db.list_channels().await?;
        let mut report = TickReport::default();
        for s in self.schedules() {
            let since = self.since(&s.name, now).await?;
            let fires = s.fires_between(since, now);
            let selected: Vec<&Channel> = channels.iter().filter(|c| s.selects(c)).collect();
            let jobs = |fire: DateTime<Utc>| -> Vec<NewJob> {
                selected
                    .iter()
                    .map(|c| {
                        let mut j = NewJob::new(c.id.as_str(), TriggerKind::Schedule);
                        j.trigger.schedule = Some(s.name.clone());
                        j.trigger.fire_time = Some(fire);
                        j.reason = Some(s.reason.clone());
                        j.priority = i64::from(s.priority);
                        j.recording = s.recording;
                        j.max_attempts = self.max_attempts;
                        j
                    })
                    .collect()
            };
            report += self.enqueue(&s.name, fires, now, &jobs).await?;
            self.checked.insert(s.name.clone(), now);
        }
        for d in self.db.debates(Some(now)).await? {
            let name = d.schedule_name();
            let since = self.since(&name, now).await?;
            let every = Duration::from_secs(d.every_secs.max(60) as u64);
            let fires = schedule::every_fires(d.starts_at, every, d.until, since, now);
            let selected: Vec<&Channel> = channels.iter().filter(|c| d.selects(c)).collect();
            let jobs = |fire: DateTime<Utc>| -> Vec<NewJob> {
                selected
                    .iter()
                    .map(|c| {
                        let mut j = NewJob::new(c.id.as_str(), TriggerKind::Debate);
                        j.trigger.debate = Some(d.id.clone());
                        j.trigger.fire_time = Some(fire);
                        j.reason = Some(d.reason.clone());
                        j.requested_by = d.started_by.clone();
                        j.priority = Priority::DEBATE;
                        j.max_attempts = self.max_attempts;
                        j
                    })
                    .collect()
            };
            report += self.enqueue(&name, fires, now, &jobs).await?;
            self.checked.insert(name, now);
        }
        Ok(report)
    }

    /// Where a schedule's look starts: the last tick, else its last logged
    /// fire, else one grace period back.
    async fn since(&self, name: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, DbError> {
        if let Some(t) = self.checked.get(name) {
            return Ok(*t);
        }
        let grace = chrono::Duration::from_std(self.grace).unwrap_or(chrono::Duration::MAX);
        let floor = now - grace;
        Ok(match self.db.last_fire(name).await? {
            Some(last) if last < floor => last,
            _ => floor,
        })
    }

    async fn enqueue(
        &self,
        name: &str,
        fires: Vec<DateTime<Utc>>,
        now: DateTime<Utc>,
        jobs: &(dyn Fn(DateTime<Utc>) -> Vec<NewJob> + Sync),
    ) -> Result<TickReport, DbError> {
        let mut report = TickReport::default();
        let (run, missed) = schedule::split_missed(fires, now, self.grace);
        for m in missed {
            let channels: Vec<String> = jobs(m).into_iter().map(|j| j.channel_id).collect();
            let n = self.db.record_missed(name, m, &channels, now).await?;
            if n > 0 {
                tracing::warn!(schedule = name, fire_time = %m, channels = n, "fire missed (the scheduler was not running); not run");
                report.missed += n as usize;
            }
        }
        if let Some(fire) = run {
            let done = self.db.record_fires(name, fire, &jobs(fire), now).await?;
            if !done.is_empty() {
                tracing::info!(schedule = name, fire_time = %fire, jobs = done.len(), "schedule fired");
                if let Some(m) = &self.metrics {
                    m.fired(fire, now);
                }
            }
            report.enqueued += done.len();
        }
        Ok(report)
    }
}

impl std::ops::AddAssign for TickReport {
    fn add_assign(&mut self, o: Self) {
        self.enqueued += o.enqueued;
        self.missed += o.missed;
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::db::contract::channel;
    use crate::db::Debate;
    use crate::queue::JobEnd;
    use chrono::TimeZone;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(d.path().join(name), text).unwrap();
        }
        d
    }

    /// Ends every queued job, so the next fire makes a job of its own.
    async fn run_all(db: &Db, now: DateTime<Utc>) {
        while let Some(j) = db
            .claim("t", None, now + chrono::Duration::seconds(60), now)
            .await
            .unwrap()
        {
            let end = JobEnd::Done {
                snapshot_id: "s".into(),
            };
            db.end_job(&j.id, "t", &end, now).await.unwrap();
        }
    }

    async fn fire_times(db: &Db) -> Vec<DateTime<Utc>> {
        let mut t: Vec<_> = db
            .list_jobs(None, 10_000)
            .await
            .unwrap()
            .into_iter()
            .filter_map(|j| j.trigger.fire_time)
            .collect();
        t.sort();
        t
    }

    /// Ticks hourly from `from` for `hours`, running what fired.
    async fn tick_hourly(s: &mut Scheduler, db: &Db, from: DateTime<Utc>, hours: i64) {
        for h in 0..hours {
            let now = from + chrono::Duration::hours(h);
            s.tick(now).await.unwrap();
            run_all(db, now).await;
        }
    }

    pub async fn daily_fires_follow_local_time_across_dst(db: &Db) {
        db.add_channel(&channel("a")).await.unwrap();
        let dir = dir_with(&[(
            "daily.toml",
            "cron = \"0 30 3 * * *\"\ntimezone = \"Europe/Stockholm\"\nchannels = \"all\"\n",
        )]);
        let mut s = Scheduler::new(db.clone(), dir.path().into(), Duration::from_secs(3600), 3);
        tick_hourly(&mut s, db, at("2026-03-27T00:00:00Z"), 96).await;
        tick_hourly(&mut s, db, at("2026-10-24T00:00:00Z"), 72).await;
        let expected: Vec<DateTime<Utc>> = [
            "2026-03-27T02:30:00Z",
            "2026-03-28T02:30:00Z",
            "2026-03-29T01:30:00Z", // the day summer time starts
            "2026-03-30T01:30:00Z",
            "2026-10-24T01:30:00Z",
            "2026-10-25T02:30:00Z", // the day it ends
            "2026-10-26T02:30:00Z",
        ]
        .iter()
        .map(|t| at(t))
        .collect();
        assert_eq!(fire_times(db).await, expected);
        let j = &db.list_jobs(None, 1).await.unwrap()[0];
        assert_eq!(j.trigger.schedule.as_deref(), Some("daily"));
        assert_eq!(j.reasons, vec!["schedule daily".to_string()]);
    }

    pub async fn a_debate_window_starts_and_ends(db: &Db) {
        db.add_channel(&channel("a")).await.unwrap();
        let mut other = channel("b");
        other.tags = vec!["annat".into()];
        db.add_channel(&other).await.unwrap();
        let t0 = Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0).unwrap();
        db.add_debate(&Debate {
            id: "01DEB".into(),
            channels: vec![],
            tag: Some("kommun".into()),
            every_secs: 3600,
            starts_at: t0,
            until: t0 + chrono::Duration::hours(3),
            reason: "skolnedläggning".into(),
            started_by: Some("anna".into()),
            stopped_at: None,
            stopped_by: None,
        })
        .await
        .unwrap();
        let empty = tempfile::tempdir().unwrap();
        let mut s = Scheduler::new(db.clone(), empty.path().into(), Duration::from_secs(600), 3);
        for half in -2..12 {
            let now = t0 + chrono::Duration::minutes(30 * half);
            s.tick(now).await.unwrap();
            run_all(db, now).await;
        }
        let expected: Vec<_> = (0..4).map(|h| t0 + chrono::Duration::hours(h)).collect();
        assert_eq!(fire_times(db).await, expected);
        let jobs = db.list_jobs(None, 100).await.unwrap();
        assert!(
            jobs.iter().all(|j| j.channel_id == "a"),
            "only the tagged channel"
        );
        assert!(jobs
            .iter()
            .all(|j| j.trigger.debate.as_deref() == Some("01DEB")));
        assert!(jobs.iter().all(|j| j.priority == Priority::DEBATE));
        assert!(jobs
            .iter()
            .all(|j| j.reasons == vec!["skolnedläggning".to_string()]));
    }

    pub async fn missed_fires_within_grace_run_once(db: &Db) {
        db.add_channel(&channel("a")).await.unwrap();
        let dir = dir_with(&[("hourly.toml", "cron = \"0 * * * *\"\nchannels = [\"a\"]\n")]);
        let now = at("2026-11-02T12:05:00Z");
        // The last fire logged before the downtime: ten hours ago.
        let last = at("2026-11-02T02:00:00Z");
        let mut j = NewJob::new("a", TriggerKind::Schedule);
        j.trigger.fire_time = Some(last);
        db.record_fires("hourly", last, &[j], last).await.unwrap();
        run_all(db, last).await;
        let mut s = Scheduler::new(
            db.clone(),
            dir.path().into(),
            Duration::from_secs(3 * 3600),
            3,
        );
        let r = s.tick(now).await.unwrap();
        assert_eq!(
            r,
            TickReport {
                enqueued: 1,
                missed: 9
            }
        );
        assert_eq!(fire_times(db).await, vec![last, at("2026-11-02T12:00:00Z")]);
        // A restart does not run or log them again.
        let mut again = Scheduler::new(
            db.clone(),
            dir.path().into(),
            Duration::from_secs(3 * 3600),
            3,
        );
        assert_eq!(again.tick(now).await.unwrap(), TickReport::default());
    }

    pub async fn two_schedulers_enqueue_once(db: &Db) {
        for c in ["a", "b"] {
            db.add_channel(&channel(c)).await.unwrap();
        }
        let dir = dir_with(&[
            (
                "baseline.toml",
                "cron = \"15 2 15 1,7 *\"\nchannels = \"all\"\n",
            ),
            ("broken.toml", "cron = \"not a cron\"\nchannels = \"all\"\n"),
        ]);
        let grace = Duration::from_secs(3600);
        let mut one = Scheduler::new(db.clone(), dir.path().into(), grace, 3);
        let mut two = Scheduler::new(db.clone(), dir.path().into(), grace, 3);
        let now = at("2026-07-15T00:20:00Z"); // 02:20 summer time
        let (r1, r2) = tokio::join!(one.tick(now), two.tick(now));
        assert_eq!(r1.unwrap().enqueued + r2.unwrap().enqueued, 2);
        let jobs = db.list_jobs(None, 10).await.unwrap();
        assert_eq!(jobs.len(), 2);
        assert!(jobs
            .iter()
            .all(|j| j.trigger.fire_time == Some(at("2026-07-15T00:15:00Z"))));
    }

    async fn sqlite() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("t.sqlite").display()
        );
        (dir, Db::open(&url).await.unwrap())
    }

    /// Each schedule test once more, on Postgres.
    #[tokio::test]
    async fn postgres_schedule_maths() {
        let Some((_g, db)) = crate::db::postgres::tests::fresh().await else {
            return;
        };
        daily_fires_follow_local_time_across_dst(&db).await;
        for test in 0..3 {
            let Some((_g, db)) = crate::db::postgres::tests::fresh().await else {
                return;
            };
            match test {
                0 => a_debate_window_starts_and_ends(&db).await,
                1 => missed_fires_within_grace_run_once(&db).await,
                _ => two_schedulers_enqueue_once(&db).await,
            }
        }
    }

    #[tokio::test]
    async fn sqlite_daily_fires_follow_local_time_across_dst() {
        let (_d, db) = sqlite().await;
        daily_fires_follow_local_time_across_dst(&db).await;
    }

    #[tokio::test]
    async fn sqlite_a_debate_window_starts_and_ends() {
        let (_d, db) = sqlite().await;
        a_debate_window_starts_and_ends(&db).await;
    }

    #[tokio::test]
    async fn sqlite_missed_fires_within_grace_run_once() {
        let (_d, db) = sqlite().await;
        missed_fires_within_grace_run_once(&db).await;
    }

    #[tokio::test]
    async fn sqlite_two_schedulers_enqueue_once() {
        let (_d, db) = sqlite().await;
        two_schedulers_enqueue_once(&db).await;
    }
}
