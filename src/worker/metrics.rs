//! The worker's Prometheus metrics, in one explicit registry.

use crate::queue::QueueStats;
use chrono::{DateTime, Utc};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

type Labels = Vec<(&'static str, String)>;

/// Counters and gauges a worker keeps, and the registry that prints them.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    captures: Family<Labels, Counter>,
    duration: Histogram,
    queue_depth: Gauge,
    running: Gauge,
    oldest_age: Gauge<f64, AtomicU64>,
    scheduler_lag: Gauge<f64, AtomicU64>,
    reaped: Counter,
    uploads_pending: Gauge,
    spool_bytes: Gauge,
    data_free_bytes: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("bevara");
        let captures = Family::<Labels, Counter>::default();
        registry.register(
            "captures",
            "Captures finished, by outcome (complete, truncated, or the failure code)",
            captures.clone(),
        );
        // 5 s to about 3 h.
        let duration = Histogram::new(exponential_buckets(5.0, 2.0, 12));
        registry.register(
            "capture_duration_seconds",
            "Wall time of one capture",
            duration.clone(),
        );
        let queue_depth = Gauge::default();
        registry.register("queue_depth", "Jobs queued", queue_depth.clone());
        let running = Gauge::default();
        registry.register(
            "jobs_running",
            "Jobs running on any worker",
            running.clone(),
        );
        let oldest_age = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "oldest_queued_job_age_seconds",
            "How long the longest-waiting due job has waited",
            oldest_age.clone(),
        );
        let scheduler_lag = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "scheduler_lag_seconds",
            "Delay between a schedule's fire time and its enqueue, at the last fire",
            scheduler_lag.clone(),
        );
        let reaped = Counter::default();
        registry.register(
            "jobs_reaped",
            "Jobs taken back after their worker's lease ran out",
            reaped.clone(),
        );
        let uploads_pending = Gauge::default();
        registry.register(
            "uploads_pending",
            "Snapshots in this worker's spool, captured but not yet in the object store",
            uploads_pending.clone(),
        );
        let spool_bytes = Gauge::default();
        registry.register(
            "spool_bytes",
            "Bytes in this worker's spool",
            spool_bytes.clone(),
        );
        let data_free_bytes = Gauge::default();
        registry.register(
            "data_free_bytes",
            "Free bytes on the filesystem of this worker's data directory (work files and spool)",
            data_free_bytes.clone(),
        );
        Self {
            registry,
            data_free_bytes,
            uploads_pending,
            spool_bytes,
            captures,
            duration,
            queue_depth,
            running,
            oldest_age,
            scheduler_lag,
            reaped,
        }
    }

    pub fn capture_finished(&self, outcome: &str, secs: f64) {
        self.captures
            .get_or_create(&vec![("outcome", outcome.to_string())])
            .inc();
        self.duration.observe(secs);
    }

    pub fn queue(&self, stats: &QueueStats, now: DateTime<Utc>) {
        self.queue_depth.set(stats.queued);
        self.running.set(stats.running);
        let age = stats
            .oldest_due
            .map(|t| (now - t).num_milliseconds().max(0) as f64 / 1000.0)
            .unwrap_or(0.0);
        self.oldest_age.set(age);
    }

    pub fn fired(&self, fire_time: DateTime<Utc>, now: DateTime<Utc>) {
        let lag = (now - fire_time).num_milliseconds().max(0) as f64 / 1000.0;
        self.scheduler_lag.set(lag);
    }

    /// After a store sync: what still waits in the spool.
    pub fn spool(&self, pending: usize, bytes: u64) {
        self.uploads_pending.set(pending as i64);
        self.spool_bytes.set(bytes.min(i64::MAX as u64) as i64);
    }

    /// Free space of the data directory, at the last look before a claim.
    pub fn data_free(&self, bytes: u64) {
        self.data_free_bytes.set(bytes.min(i64::MAX as u64) as i64);
    }

    pub fn reaped(&self, n: usize) {
        self.reaped.inc_by(n as u64);
    }

    /// The metrics in the Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_what_was_counted() {
        let m = Metrics::new();
        m.capture_finished("complete", 12.0);
        m.capture_finished("complete", 30.0);
        m.capture_finished("timeout", 31.0);
        m.spool(2, 5_000_000);
        let now = Utc::now();
        m.queue(
            &QueueStats {
                queued: 7,
                running: 2,
                oldest_due: Some(now - chrono::Duration::seconds(90)),
            },
            now,
        );
        let text = m.render();
        assert!(
            text.contains("bevara_captures_total{outcome=\"complete\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("bevara_captures_total{outcome=\"timeout\"} 1"),
            "{text}"
        );
        assert!(text.contains("bevara_queue_depth 7"), "{text}");
        assert!(text.contains("bevara_uploads_pending 2"), "{text}");
        assert!(text.contains("bevara_spool_bytes 5000000"), "{text}");
        assert!(
            text.contains("bevara_oldest_queued_job_age_seconds 90"),
            "{text}"
        );
        assert!(
            text.contains("bevara_capture_duration_seconds_count 3"),
            "{text}"
        );
        assert!(text.contains("bevara_scheduler_lag_seconds"), "{text}");
    }
}
