//! Schedules: the files in `schedules/` that say which channels are captured
//! when, and the fire times they give.
//!
//! This module owns reading a schedule file (cron expression, time zone,
//! channel selection, priority, date limits), the fire times of a schedule
//! in its local time and right across daylight-saving changes, the fixed
//! intervals of debate windows, and the split of fires a worker missed into
//! the one to run now and the ones to log. It does no I/O beyond reading the
//! schedule directory; making jobs from the fires belongs to the queue.
//!
//! ```
//! use bevara::schedule;
//! use chrono::{DateTime, Utc};
//! use std::path::Path;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let text = "cron = \"15 2 15 1,7 *\"\nchannels = \"all\"\n";
//! let baseline = schedule::parse("baseline", Path::new("schedules/baseline.toml"), text)?;
//! let after: DateTime<Utc> = "2025-03-01T00:00:00Z".parse()?;
//! // 02:15 in Stockholm's summer time is 00:15 UTC.
//! let july: DateTime<Utc> = "2025-07-15T00:15:00Z".parse()?;
//! assert_eq!(baseline.next_after(after), Some(july));
//! # Ok(()) }
//! ```

mod every;
mod file;
mod fires;
mod local;
mod missed;

pub use every::{every_fires, parse_duration, MIN_EVERY};
pub use file::{load_dir, parse};
pub use missed::split_missed;

use crate::registry::{Channel, ChannelId, Platform};
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use croner::Cron;
use std::fmt;
use std::path::PathBuf;

/// The time zone of a schedule file that names none.
pub const DEFAULT_TIMEZONE: Tz = chrono_tz::Europe::Stockholm;

/// The priority of a schedule's jobs when its file names none.
pub const DEFAULT_PRIORITY: u8 = crate::queue::Priority::SCHEDULE as u8;

/// The highest priority a schedule may give: debate jobs run at 50 and
/// ad-hoc jobs at 100 and 200, and those must always go before schedules.
pub const MAX_PRIORITY: u8 = crate::queue::Priority::SCHEDULE_MAX as u8;

/// The most fire times one call returns, so a dense schedule over a long
/// window cannot exhaust memory.
pub const MAX_FIRES: usize = 10_000;

/// One schedule file, checked: when it fires and which channels it captures.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    /// The file name without `.toml`.
    pub name: String,
    /// The cron expression as written: 5 fields, or 6 with seconds first.
    pub cron: String,
    /// The time zone the cron expression and date limits are read in.
    pub timezone: Tz,
    /// Which channels each fire captures.
    pub selection: Selection,
    /// The priority of the jobs it makes, 0–[`MAX_PRIORITY`].
    pub priority: u8,
    /// No fires before this.
    pub from: Option<Limit>,
    /// No fires after this.
    pub until: Option<Limit>,
    /// Whether captures record the screen; `None` leaves it to the channel.
    pub recording: Option<bool>,
    /// The reason written on the jobs.
    pub reason: String,
    /// `cron`, parsed.
    pattern: Cron,
}

/// Which channels a schedule captures: the named ones or all, narrowed by
/// every filter that is not empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    pub channels: Channels,
    /// Only channels on one of these platforms (empty: any platform).
    pub platforms: Vec<Platform>,
    /// Only channels with at least one of these tags (empty: any tags).
    pub tags: Vec<String>,
}

/// The `channels` key of a schedule file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Channels {
    /// `channels = "all"`, or no `channels` key beside a filter.
    All,
    /// `channels = ["sala-fb", …]`.
    Only(Vec<ChannelId>),
}

/// A `from` or `until` limit as the file gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// A whole day in the schedule's time zone: `from` starts at its first
    /// instant, `until` includes all of it.
    Date(NaiveDate),
    /// An exact instant, included.
    Time(DateTime<Utc>),
}

/// Where in a schedule file a problem is: the file, and the line and column
/// (both from 1) when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct At {
    pub path: PathBuf,
    pub line_col: Option<(usize, usize)>,
}

impl fmt::Display for At {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some((line, col)) = self.line_col {
            write!(f, ":{line}:{col}")?;
        }
        Ok(())
    }
}

/// What reading a schedule file or a duration can refuse.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error("cannot read {}: {source}; check that it exists and Bevara may read it", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The file is not TOML, or a key is unknown, missing or of the wrong type.
    #[error("{at}: {message}")]
    Toml { at: At, message: String },
    #[error(
        "{at}: cron {expr:?} is not valid: {reason}; write 5 fields (minute hour \
         day-of-month month day-of-week) or 6 with seconds first, e.g. \"15 2 15 1,7 *\""
    )]
    Cron {
        at: At,
        expr: String,
        reason: String,
    },
    #[error("{at}: unknown time zone {name:?}; write an IANA name such as \"Europe/Stockholm\"")]
    TimeZone { at: At, name: String },
    /// A key has a value of the right type that means nothing.
    #[error("{at}: {key}: {message}")]
    Value {
        at: At,
        key: &'static str,
        message: String,
    },
    #[error(
        "{}: the schedule chooses no channels; write channels = \"all\", \
         channels = [\"sala-fb\", …], or a filter such as tags = [\"kommun\"]",
        path.display()
    )]
    NoChannels { path: PathBuf },
    #[error("duration {text:?}: {reason}; write e.g. 30m, 6h, 1d, 2h30m, 90s or 1w (at least 1m)")]
    Duration { text: String, reason: String },
}

impl Schedule {
    /// Whether a fire of this schedule captures `channel`. Closed channels
    /// are never selected: their final capture is made when they close.
    pub fn selects(&self, channel: &Channel) -> bool {
        !channel.is_closed() && self.selection.includes(channel)
    }
}

impl Selection {
    fn includes(&self, channel: &Channel) -> bool {
        let named = match &self.channels {
            Channels::All => true,
            Channels::Only(ids) => ids.contains(&channel.id),
        };
        named
            && (self.platforms.is_empty() || self.platforms.contains(&channel.platform))
            && (self.tags.is_empty() || self.tags.iter().any(|t| channel.tags.contains(t)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::tests_support::channel;
    use std::path::Path;

    fn selecting(keys: &str) -> Schedule {
        let text = format!("cron = \"0 3 * * *\"\n{keys}");
        parse("test", Path::new("schedules/test.toml"), &text).unwrap()
    }

    fn tagged(id: &str, platform: Platform, tags: &[&str]) -> Channel {
        let mut c = channel(id, platform, "https://example.org/");
        c.tags = tags.iter().map(|t| t.to_string()).collect();
        c
    }

    #[test]
    fn all_selects_every_open_channel() {
        let s = selecting("channels = \"all\"");
        let mut c = tagged("sala-fb", Platform::Facebook, &[]);
        assert!(s.selects(&c));
        c.closed_at = Some(chrono::Utc::now());
        assert!(!s.selects(&c));
    }

    #[test]
    fn a_list_selects_the_named_channels() {
        let s = selecting("channels = [\"sala-fb\"]");
        assert!(s.selects(&tagged("sala-fb", Platform::Facebook, &[])));
        assert!(!s.selects(&tagged("sala-ig", Platform::Instagram, &[])));
    }

    #[test]
    fn a_channel_must_pass_every_filter() {
        let s = selecting("platforms = [\"facebook\", \"x\"]\ntags = [\"kommun\", \"skola\"]");
        assert!(s.selects(&tagged("a", Platform::Facebook, &["skola"])));
        assert!(s.selects(&tagged("b", Platform::X, &["kommun", "kultur"])));
        assert!(!s.selects(&tagged("c", Platform::Instagram, &["kommun"])));
        assert!(!s.selects(&tagged("d", Platform::Facebook, &["kultur"])));
        assert!(!s.selects(&tagged("e", Platform::Facebook, &[])));
        let named = selecting("channels = [\"a\"]\ntags = [\"skola\"]");
        assert!(named.selects(&tagged("a", Platform::Facebook, &["skola"])));
        assert!(!named.selects(&tagged("a", Platform::Facebook, &[])));
        assert!(!named.selects(&tagged("f", Platform::Facebook, &["skola"])));
    }
}
