//! Fire times of a schedule: its cron expression read on the wall clock of
//! its time zone, placed on the time line by the rules of `local`, and kept
//! within `from`/`until`.

use super::{local, Limit, Schedule, MAX_FIRES};
use chrono::{DateTime, NaiveDate, NaiveTime, TimeDelta, Utc};

/// Bounds skipping wall-clock times that come out at or before the instant
/// searched from: only those of a repeated hour already passed on its first
/// pass do, so this is enough for a once-a-second expression across a
/// day-long repeat.
const MAX_SKIPPED: usize = 86_400;

impl Schedule {
    /// The first fire strictly after `after`, within `from`/`until`; `None`
    /// when the schedule fires no more.
    ///
    /// The cron expression is matched against the wall clock of
    /// [`Schedule::timezone`], so `30 3 * * *` in Stockholm is 02:30 UTC in
    /// winter and 01:30 UTC in summer. A wall-clock time that a spring change
    /// skips fires at the first instant after the gap (02:30 becomes 03:00);
    /// one that an autumn change repeats fires once, the first time.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let (start, end) = self.window();
        if end.is_some_and(|end| after >= end) {
            return None;
        }
        let after = match start {
            Some(start) if start > after => start - TimeDelta::nanoseconds(1),
            _ => after,
        };
        let next = self.next_wall_clock_fire(after)?;
        end.is_none_or(|end| next < end).then_some(next)
    }

    /// Every fire in `(after_exclusive, until_inclusive]`, in order, at most
    /// [`MAX_FIRES`] of them.
    pub fn fires_between(
        &self,
        after_exclusive: DateTime<Utc>,
        until_inclusive: DateTime<Utc>,
    ) -> Vec<DateTime<Utc>> {
        let mut fires = Vec::new();
        let mut last = after_exclusive;
        while fires.len() < MAX_FIRES {
            match self.next_after(last) {
                Some(next) if next <= until_inclusive => {
                    fires.push(next);
                    last = next;
                }
                _ => break,
            }
        }
        fires
    }

    /// The first instant allowed and the first one past the end, from
    /// `from` and `until`.
    pub(super) fn window(&self) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
        let start = self.from.map(|limit| match limit {
            Limit::Date(day) => self.start_of_day(day),
            Limit::Time(t) => t,
        });
        let end = self.until.and_then(|limit| match limit {
            Limit::Date(day) => day.succ_opt().map(|next| self.start_of_day(next)),
            Limit::Time(t) => t.checked_add_signed(TimeDelta::nanoseconds(1)),
        });
        (start, end)
    }

    fn start_of_day(&self, day: NaiveDate) -> DateTime<Utc> {
        local::instant_of(self.timezone, day.and_time(NaiveTime::MIN))
    }

    /// The next fire after `after`, ignoring `from`/`until`.
    fn next_wall_clock_fire(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        // The pattern is matched on the naive wall clock and each match is
        // placed on the time line by `local::instant_of`, one rule for every
        // kind of expression. croner 4 can search zoned times itself, but
        // there it fires an expression with a wildcard, step, list or range
        // in its seconds, minutes or hours on both instants of a repeated
        // hour (`0 * * * *` fires at 02:00 summer time and again at 02:00
        // winter time), and drops such a time when a spring change skips it
        // (`*/20 2 * * *` does not fire at all that day). A schedule names
        // wall-clock times, and each one is one capture.
        let mut wall = after.with_timezone(&self.timezone).naive_local();
        for _ in 0..MAX_SKIPPED {
            wall = self.pattern.find_next_occurrence(&wall, false).ok()?;
            let at = local::instant_of(self.timezone, wall);
            if at > after {
                return Some(at);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::parse;
    use chrono::TimeZone;
    use chrono_tz::Europe::Stockholm;
    use std::path::Path;

    fn schedule(cron: &str, extra: &str) -> Schedule {
        let text = format!("cron = {cron:?}\nchannels = \"all\"\n{extra}");
        parse("test", Path::new("schedules/test.toml"), &text).unwrap()
    }

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    /// The fires as Stockholm wall-clock times, "MM-DD HH:MM±offset".
    fn local(fires: &[DateTime<Utc>]) -> Vec<String> {
        fires
            .iter()
            .map(|t| {
                t.with_timezone(&Stockholm)
                    .format("%m-%d %H:%M%:z")
                    .to_string()
            })
            .collect()
    }

    #[test]
    fn winter_and_summer_offsets() {
        let s = schedule("0 30 3 * * *", "");
        assert_eq!(
            s.next_after(utc(2025, 1, 15, 0, 0)),
            Some(utc(2025, 1, 15, 2, 30))
        );
        assert_eq!(
            s.next_after(utc(2025, 7, 15, 0, 0)),
            Some(utc(2025, 7, 15, 1, 30))
        );
    }

    #[test]
    fn a_daily_time_outside_the_change_fires_every_day_across_both_changes() {
        let s = schedule("30 3 * * *", "");
        let spring = s.fires_between(utc(2025, 3, 28, 12, 0), utc(2025, 3, 31, 12, 0));
        assert_eq!(
            spring,
            [
                utc(2025, 3, 29, 2, 30),
                utc(2025, 3, 30, 1, 30),
                utc(2025, 3, 31, 1, 30)
            ]
        );
        let autumn = s.fires_between(utc(2025, 10, 25, 0, 0), utc(2025, 10, 27, 12, 0));
        assert_eq!(
            autumn,
            [
                utc(2025, 10, 25, 1, 30),
                utc(2025, 10, 26, 2, 30),
                utc(2025, 10, 27, 2, 30)
            ]
        );
    }

    #[test]
    fn a_time_in_the_spring_gap_fires_once_when_the_gap_ends() {
        let s = schedule("30 2 * * *", "");
        let fires = s.fires_between(utc(2025, 3, 29, 0, 0), utc(2025, 3, 31, 12, 0));
        assert_eq!(
            local(&fires),
            [
                "03-29 02:30+01:00",
                "03-30 03:00+02:00",
                "03-31 02:30+02:00"
            ]
        );
        assert_eq!(fires[1], utc(2025, 3, 30, 1, 0));
    }

    #[test]
    fn a_time_in_the_autumn_overlap_fires_once_the_first_time() {
        let s = schedule("30 2 * * *", "");
        let fires = s.fires_between(utc(2025, 10, 25, 0, 0), utc(2025, 10, 27, 12, 0));
        assert_eq!(
            local(&fires),
            [
                "10-25 02:30+02:00",
                "10-26 02:30+02:00",
                "10-27 02:30+01:00"
            ]
        );
        assert_eq!(fires[1], utc(2025, 10, 26, 0, 30));
        // Asked from between the two 02:30s, the repeat does not fire.
        let between = utc(2025, 10, 26, 1, 0);
        assert_eq!(s.next_after(between), Some(utc(2025, 10, 27, 1, 30)));
    }

    #[test]
    fn hourly_across_spring_skips_only_the_hour_that_does_not_exist() {
        let s = schedule("0 * * * *", "");
        let fires = s.fires_between(utc(2025, 3, 29, 21, 30), utc(2025, 3, 30, 3, 30));
        assert_eq!(
            local(&fires),
            [
                "03-29 23:00+01:00",
                "03-30 00:00+01:00",
                "03-30 01:00+01:00",
                "03-30 03:00+02:00",
                "03-30 04:00+02:00",
                "03-30 05:00+02:00",
            ]
        );
        // Every fire an hour after the one before: none missing, none twice.
        assert!(fires.windows(2).all(|w| w[1] - w[0] == TimeDelta::hours(1)));
    }

    #[test]
    fn hourly_across_autumn_fires_each_wall_clock_hour_once() {
        let s = schedule("0 * * * *", "");
        let fires = s.fires_between(utc(2025, 10, 25, 21, 30), utc(2025, 10, 26, 3, 30));
        assert_eq!(
            local(&fires),
            [
                "10-26 00:00+02:00",
                "10-26 01:00+02:00",
                "10-26 02:00+02:00",
                "10-26 03:00+01:00",
                "10-26 04:00+01:00",
            ]
        );
    }

    #[test]
    fn an_interval_in_the_spring_gap_still_fires_that_day() {
        let s = schedule("*/20 2 * * *", "");
        let fires = s.fires_between(utc(2025, 3, 29, 12, 0), utc(2025, 3, 30, 12, 0));
        assert_eq!(local(&fires), ["03-30 03:00+02:00"]);
    }

    #[test]
    fn asked_from_the_repeated_hour_the_next_fire_is_after_it() {
        // 01:15 UTC is 02:15 winter time, the second pass of 02:00–03:00.
        let repeat = utc(2025, 10, 26, 1, 15);
        let s = schedule("*/15 * * * *", "");
        assert_eq!(s.next_after(repeat), Some(utc(2025, 10, 26, 2, 0)));
        let s = schedule("0 0 * * * *", "");
        assert_eq!(s.next_after(repeat), Some(utc(2025, 10, 26, 2, 0)));
    }

    #[test]
    fn five_and_six_fields_are_both_read() {
        let after = utc(2025, 1, 15, 0, 0);
        let five = schedule("30 3 * * *", "");
        let six = schedule("0 30 3 * * *", "");
        assert_eq!(five.next_after(after), six.next_after(after));
        let with_seconds = schedule("15 30 3 * * *", "");
        let expected = Utc.with_ymd_and_hms(2025, 1, 15, 2, 30, 15).unwrap();
        assert_eq!(with_seconds.next_after(after), Some(expected));
    }

    #[test]
    fn date_limits_cover_whole_local_days() {
        let s = schedule("0 0 * * *", "from = 2025-09-02\nuntil = 2025-09-03\n");
        let fires = s.fires_between(utc(2025, 8, 1, 0, 0), utc(2025, 10, 1, 0, 0));
        // Midnight in Stockholm is 22:00 UTC the day before.
        assert_eq!(fires, [utc(2025, 9, 1, 22, 0), utc(2025, 9, 2, 22, 0)]);
        assert_eq!(s.next_after(utc(2025, 9, 2, 22, 0)), None);
    }

    #[test]
    fn time_limits_are_included() {
        let extra = "from = \"2025-09-01T08:00:00Z\"\nuntil = \"2025-09-01T10:00:00Z\"\n";
        let s = schedule("0 * * * *", &format!("timezone = \"UTC\"\n{extra}"));
        let fires = s.fires_between(utc(2025, 9, 1, 0, 0), utc(2025, 9, 2, 0, 0));
        assert_eq!(
            fires,
            [
                utc(2025, 9, 1, 8, 0),
                utc(2025, 9, 1, 9, 0),
                utc(2025, 9, 1, 10, 0)
            ]
        );
    }

    #[test]
    fn twice_a_year_next_after() {
        let s = schedule("15 2 15 1,7 *", "");
        let july = utc(2025, 7, 15, 0, 15);
        assert_eq!(s.next_after(utc(2025, 3, 1, 0, 0)), Some(july));
        assert_eq!(s.next_after(july), Some(utc(2026, 1, 15, 1, 15)));
        assert_eq!(s.next_after(july - TimeDelta::seconds(1)), Some(july));
    }

    #[test]
    fn fires_between_is_bounded() {
        let s = schedule("* * * * * *", "");
        let fires = s.fires_between(utc(2025, 9, 1, 0, 0), utc(2025, 9, 2, 0, 0));
        assert_eq!(fires.len(), MAX_FIRES);
    }
}
