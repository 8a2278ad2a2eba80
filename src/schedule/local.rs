//! Placing a wall-clock time of a time zone on the time line, including the
//! times a daylight-saving change skips or repeats.

use chrono::{DateTime, LocalResult, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

/// Further than any UTC offset a time zone has had (they stay within ±16
/// hours), so the search for the end of a gap starts and ends outside it.
const OFFSET_BOUND_HOURS: i64 = 26;

/// The instant a schedule fires for wall-clock time `wall` in `tz`: the one
/// instant it names; the earlier of two when a change repeats it; and the
/// first instant after the gap when a change skips it (02:30 on the spring
/// change day in Stockholm is 03:00 summer time, 01:00 UTC).
pub(super) fn instant_of(tz: Tz, wall: NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&wall) {
        LocalResult::Single(t) => t.to_utc(),
        LocalResult::Ambiguous(earlier, _) => earlier.to_utc(),
        LocalResult::None => end_of_gap(tz, wall),
    }
}

/// The first instant whose wall clock in `tz` is at or past `wall`, for a
/// `wall` inside a gap: the instant the clocks jump, where no wall-clock time
/// at or past `wall` has come before.
fn end_of_gap(tz: Tz, wall: NaiveDateTime) -> DateTime<Utc> {
    let reached = |second: i64| {
        DateTime::from_timestamp(second, 0)
            .is_some_and(|t| t.with_timezone(&tz).naive_local() >= wall)
    };
    // The wall clock is before `wall` at `low` and at or past it at `high`;
    // halve the span down to a second, the unit time zone changes come in.
    let as_utc = wall.and_utc().timestamp();
    let bound = OFFSET_BOUND_HOURS * 3_600;
    let (mut low, mut high) = (as_utc - bound, as_utc + bound);
    while high - low > 1 {
        let mid = low + (high - low) / 2;
        if reached(mid) {
            high = mid;
        } else {
            low = mid;
        }
    }
    DateTime::from_timestamp(high, 0).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use chrono_tz::Europe::Stockholm;

    fn wall(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, mo, d)
            .unwrap()
            .and_hms_opt(h, mi, 0)
            .unwrap()
    }

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        wall(y, mo, d, h, mi).and_utc()
    }

    #[test]
    fn a_skipped_time_is_placed_at_the_end_of_the_gap() {
        for minute in [0, 1, 30, 59] {
            let at = instant_of(Stockholm, wall(2025, 3, 30, 2, minute));
            assert_eq!(at, utc(2025, 3, 30, 1, 0), "02:{minute:02}");
        }
        assert_eq!(
            instant_of(Stockholm, wall(2025, 3, 30, 3, 0)),
            utc(2025, 3, 30, 1, 0)
        );
    }

    #[test]
    fn a_repeated_time_is_placed_at_its_first_instant() {
        let at = instant_of(Stockholm, wall(2025, 10, 26, 2, 30));
        assert_eq!(at, utc(2025, 10, 26, 0, 30));
    }

    #[test]
    fn a_gap_of_half_an_hour_ends_where_it_ends() {
        // Lord Howe Island moves its clocks by 30 minutes, from 02:00 to 02:30.
        let tz = chrono_tz::Australia::Lord_Howe;
        let at = instant_of(tz, wall(2025, 10, 5, 2, 10));
        assert_eq!(
            at.with_timezone(&tz).naive_local(),
            wall(2025, 10, 5, 2, 30)
        );
    }
}
