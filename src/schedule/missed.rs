//! Fires that came while no worker was running: the latest one, when recent
//! enough, is still worth a capture; the rest are logged as missed.

use chrono::{DateTime, TimeDelta, Utc};
use std::time::Duration;

/// Splits the fires due by `now` into the one to run now and the missed
/// ones. The latest fire, when at most `grace` before `now`, runs once, even
/// when several fell inside the grace period: one capture shows the channel
/// as it is now, and more would only repeat it. Every other fire at or
/// before `now` is missed, oldest first. Fires after `now` are not due and
/// are left out of both.
pub fn split_missed(
    fires: Vec<DateTime<Utc>>,
    now: DateTime<Utc>,
    grace: Duration,
) -> (Option<DateTime<Utc>>, Vec<DateTime<Utc>>) {
    // A grace too long to represent holds every fire.
    let grace = TimeDelta::from_std(grace).unwrap_or(TimeDelta::MAX);
    let mut due: Vec<_> = fires.into_iter().filter(|fire| *fire <= now).collect();
    due.sort();
    due.dedup();
    let run = due
        .last()
        .copied()
        .filter(|latest| now.signed_duration_since(*latest) <= grace);
    if run.is_some() {
        due.pop();
    }
    (run, due)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 9, 1, h, mi, 0).unwrap()
    }

    const HOUR: Duration = Duration::from_secs(3_600);

    #[test]
    fn nothing_due_is_nothing_to_do() {
        assert_eq!(split_missed(vec![], at(12, 0), HOUR), (None, vec![]));
        assert_eq!(
            split_missed(vec![at(13, 0)], at(12, 0), HOUR),
            (None, vec![])
        );
    }

    #[test]
    fn a_fire_within_grace_runs() {
        assert_eq!(
            split_missed(vec![at(11, 30)], at(12, 0), HOUR),
            (Some(at(11, 30)), vec![])
        );
        // The edge of the grace period is still inside it.
        assert_eq!(
            split_missed(vec![at(11, 0)], at(12, 0), HOUR),
            (Some(at(11, 0)), vec![])
        );
    }

    #[test]
    fn of_several_within_grace_only_the_latest_runs() {
        let fires = vec![at(11, 40), at(11, 10), at(11, 20), at(11, 20)];
        assert_eq!(
            split_missed(fires, at(12, 0), HOUR),
            (Some(at(11, 40)), vec![at(11, 10), at(11, 20)])
        );
    }

    #[test]
    fn fires_older_than_grace_are_missed() {
        let fires = vec![at(3, 0), at(9, 0), at(10, 59), at(12, 30)];
        assert_eq!(
            split_missed(fires, at(12, 0), HOUR),
            (None, vec![at(3, 0), at(9, 0), at(10, 59)])
        );
    }

    #[test]
    fn no_grace_runs_only_a_fire_at_now() {
        let fires = vec![at(11, 59), at(12, 0)];
        assert_eq!(
            split_missed(fires, at(12, 0), Duration::ZERO),
            (Some(at(12, 0)), vec![at(11, 59)])
        );
    }
}
