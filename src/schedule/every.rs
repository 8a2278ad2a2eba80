//! Debate windows: a channel captured at a fixed interval for a period while
//! a matter is debated, and the durations (`6h`, `2h30m`) that set them.

use super::{ScheduleError, MAX_FIRES};
use chrono::{DateTime, TimeDelta, Utc};
use std::time::Duration;

/// The shortest interval a debate window may have: a capture takes minutes,
/// so a shorter one would only pile up jobs.
pub const MIN_EVERY: Duration = Duration::from_secs(60);

/// The units a duration is written in, largest first, with their seconds.
const UNITS: [(char, u64); 5] = [
    ('w', 7 * 86_400),
    ('d', 86_400),
    ('h', 3_600),
    ('m', 60),
    ('s', 1),
];

/// Reads a duration such as `30m`, `6h`, `1d`, `2h30m`, `90s` or `1w`:
/// numbers each followed by a unit (`w`, `d`, `h`, `m`, `s`), largest unit
/// first and each at most once, adding up to at least [`MIN_EVERY`].
pub fn parse_duration(s: &str) -> Result<Duration, ScheduleError> {
    let error = |reason: &str| ScheduleError::Duration {
        text: s.to_string(),
        reason: reason.to_string(),
    };
    let text = s.trim().to_ascii_lowercase();
    if text.is_empty() {
        return Err(error("it is empty"));
    }
    let mut seconds: u64 = 0;
    let mut units_left = &UNITS[..];
    let mut rest = text.as_str();
    while !rest.is_empty() {
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits == 0 {
            return Err(error("each part must start with a number"));
        }
        let number: u64 = rest[..digits]
            .parse()
            .map_err(|_| error("it is too long"))?;
        let unit = rest[digits..]
            .chars()
            .next()
            .ok_or_else(|| error("a number needs a unit (w, d, h, m or s)"))?;
        if !UNITS.iter().any(|(u, _)| *u == unit) {
            return Err(error("the units are w, d, h, m and s"));
        }
        let at = units_left
            .iter()
            .position(|(u, _)| *u == unit)
            .ok_or_else(|| error("the units must go from largest to smallest, each once"))?;
        let unit_seconds = units_left[at].1;
        units_left = &units_left[at + 1..];
        seconds = number
            .checked_mul(unit_seconds)
            .and_then(|part| seconds.checked_add(part))
            .ok_or_else(|| error("it is too long"))?;
        rest = &rest[digits + unit.len_utf8()..];
    }
    let duration = Duration::from_secs(seconds);
    if duration < MIN_EVERY {
        return Err(error("it is shorter than one minute"));
    }
    Ok(duration)
}

/// The fires of a debate window that starts at `start` and fires every
/// `every` up to `until` (`start`, `start + every`, … while ≤ `until`),
/// those in `(after_exclusive, until_inclusive]`, in order, at most
/// [`MAX_FIRES`]. An `every` of zero, or one too long to add to a time,
/// fires at `start` only.
pub fn every_fires(
    start: DateTime<Utc>,
    every: Duration,
    until: DateTime<Utc>,
    after_exclusive: DateTime<Utc>,
    until_inclusive: DateTime<Utc>,
) -> Vec<DateTime<Utc>> {
    let last = until.min(until_inclusive);
    let step = TimeDelta::from_std(every)
        .ok()
        .filter(|step| *step > TimeDelta::zero());
    let mut next = match step {
        Some(step) => first_after(start, step, after_exclusive),
        None => (start > after_exclusive).then_some(start),
    };
    let mut fires = Vec::new();
    while let Some(fire) = next.filter(|fire| *fire <= last && fires.len() < MAX_FIRES) {
        fires.push(fire);
        next = step.and_then(|step| fire.checked_add_signed(step));
    }
    fires
}

/// The first of `start + k·step` (k ≥ 0) strictly after `after`, reached
/// by arithmetic rather than by stepping, so a window opened long ago costs
/// nothing.
fn first_after(
    start: DateTime<Utc>,
    step: TimeDelta,
    after: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    if after < start {
        return Some(start);
    }
    let step_nanos = nanos(step);
    let steps = nanos(after - start) / step_nanos + 1;
    add_nanos(start, steps * step_nanos)
}

fn nanos(delta: TimeDelta) -> i128 {
    i128::from(delta.num_seconds()) * 1_000_000_000 + i128::from(delta.subsec_nanos())
}

fn add_nanos(t: DateTime<Utc>, nanos: i128) -> Option<DateTime<Utc>> {
    let seconds = i64::try_from(nanos.div_euclid(1_000_000_000)).ok()?;
    let rest = i64::try_from(nanos.rem_euclid(1_000_000_000)).ok()?;
    let delta = TimeDelta::try_seconds(seconds)? + TimeDelta::nanoseconds(rest);
    t.checked_add_signed(delta)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn utc(d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 9, d, h, mi, 0).unwrap()
    }

    const HOUR: u64 = 3_600;

    #[test]
    fn durations_are_read() {
        let cases = [
            ("30m", 30 * 60),
            ("6h", 6 * HOUR),
            ("1d", 24 * HOUR),
            ("2h30m", 2 * HOUR + 30 * 60),
            ("90s", 90),
            ("1w", 7 * 24 * HOUR),
            (" 1D12H ", 36 * HOUR),
            ("1w2d3h4m5s", 9 * 24 * HOUR + 3 * HOUR + 4 * 60 + 5),
        ];
        for (text, seconds) in cases {
            assert_eq!(
                parse_duration(text).unwrap(),
                Duration::from_secs(seconds),
                "{text}"
            );
        }
    }

    #[test]
    fn bad_durations_say_why() {
        let cases = [
            ("", "empty"),
            ("30", "needs a unit"),
            ("h", "start with a number"),
            ("5y", "units are"),
            ("30m2h", "largest to smallest"),
            ("1h1h", "largest to smallest"),
            ("2 h", "units are"),
            ("59s", "shorter than one minute"),
            ("0m", "shorter than one minute"),
            ("99999999999999999999w", "too long"),
            ("9999999999999999w", "too long"),
        ];
        for (text, why) in cases {
            let m = parse_duration(text).unwrap_err().to_string();
            assert!(m.contains(why), "{text}: {m}");
            assert!(m.contains("2h30m"), "{text}: {m}");
        }
    }

    #[test]
    fn a_window_fires_from_start_to_until() {
        let six_hours = Duration::from_secs(6 * HOUR);
        let fires = every_fires(
            utc(1, 8, 0),
            six_hours,
            utc(2, 8, 0),
            utc(1, 0, 0),
            utc(30, 0, 0),
        );
        let hours: Vec<_> = fires
            .iter()
            .map(|t| t.format("%d %H").to_string())
            .collect();
        assert_eq!(hours, ["01 08", "01 14", "01 20", "02 02", "02 08"]);
    }

    #[test]
    fn only_the_fires_inside_the_asked_span_are_returned() {
        let six_hours = Duration::from_secs(6 * HOUR);
        let (start, until) = (utc(1, 8, 0), utc(3, 8, 0));
        // The span starts on a fire (excluded) and ends on one (included).
        let fires = every_fires(start, six_hours, until, utc(1, 14, 0), utc(2, 8, 0));
        assert_eq!(fires, [utc(1, 20, 0), utc(2, 2, 0), utc(2, 8, 0)]);
        // The span starts between fires.
        let fires = every_fires(start, six_hours, until, utc(2, 3, 0), utc(2, 9, 0));
        assert_eq!(fires, [utc(2, 8, 0)]);
        // The span lies before the window, or after it.
        assert!(every_fires(start, six_hours, until, utc(1, 0, 0), utc(1, 7, 59)).is_empty());
        assert!(every_fires(start, six_hours, until, utc(3, 8, 0), utc(9, 0, 0)).is_empty());
        // The start itself fires when the span reaches back before it.
        let fires = every_fires(start, six_hours, until, utc(1, 7, 59), utc(1, 8, 0));
        assert_eq!(fires, [start]);
    }

    #[test]
    fn a_window_gives_at_most_max_fires() {
        let minute = Duration::from_secs(60);
        let fires = every_fires(
            utc(1, 0, 0),
            minute,
            utc(30, 0, 0),
            utc(1, 0, 0),
            utc(30, 0, 0),
        );
        assert_eq!(fires.len(), MAX_FIRES);
        assert_eq!(fires[0], utc(1, 0, 1));
    }

    #[test]
    fn a_zero_interval_fires_once_at_start() {
        let fires = every_fires(
            utc(1, 8, 0),
            Duration::ZERO,
            utc(2, 0, 0),
            utc(1, 0, 0),
            utc(2, 0, 0),
        );
        assert_eq!(fires, [utc(1, 8, 0)]);
    }
}
