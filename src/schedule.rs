//! TEMPORARY stub, replaced by the schedule module.
use chrono::{DateTime, Utc};
use std::path::Path;
use std::time::Duration;
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ScheduleError(String);
#[derive(Debug, Clone)]
pub struct Schedule {
    pub name: String,
    pub cron: String,
    pub timezone: chrono_tz::Tz,
    pub priority: i64,
    pub recording: Option<bool>,
    pub reason: Option<String>,
}
impl Schedule {
    pub fn selects(&self, _c: &crate::registry::Channel) -> bool {
        false
    }
    pub fn next_after(&self, _a: DateTime<Utc>) -> Option<DateTime<Utc>> {
        None
    }
    pub fn fires_between(&self, _a: DateTime<Utc>, _b: DateTime<Utc>) -> Vec<DateTime<Utc>> {
        vec![]
    }
}
pub fn load_dir(_d: &Path) -> (Vec<Schedule>, Vec<ScheduleError>) {
    (vec![], vec![])
}
pub fn parse_duration(_s: &str) -> Result<Duration, ScheduleError> {
    Ok(Duration::from_secs(60))
}
pub fn every_fires(
    _s: DateTime<Utc>,
    _e: Duration,
    _u: DateTime<Utc>,
    _a: DateTime<Utc>,
    _b: DateTime<Utc>,
) -> Vec<DateTime<Utc>> {
    vec![]
}
pub fn split_missed(
    f: Vec<DateTime<Utc>>,
    _n: DateTime<Utc>,
    _g: Duration,
) -> (Option<DateTime<Utc>>, Vec<DateTime<Utc>>) {
    (f.last().copied(), vec![])
}
