//! Reading schedule files: `schedules/<name>.toml`, one schedule each, with
//! every problem reported by file, line and column.

use super::{
    At, Channels, Limit, Schedule, ScheduleError, Selection, DEFAULT_PRIORITY, DEFAULT_TIMEZONE,
    MAX_PRIORITY,
};
use crate::registry::{ChannelId, Platform};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use chrono_tz::Tz;
use croner::parser::{CronParser, Seconds, Year};
use croner::Cron;
use serde::Deserialize;
use std::ops::Range;
use std::path::{Path, PathBuf};
use toml::{Spanned, Value};

/// Files with this ending sit beside the schedules as examples and are not
/// loaded.
const EXAMPLE_SUFFIX: &str = ".example.toml";

/// A schedule file as written, before its values are checked.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSchedule {
    cron: Spanned<String>,
    timezone: Option<Spanned<String>>,
    channels: Option<Spanned<Value>>,
    platforms: Option<Spanned<Vec<String>>>,
    tags: Option<Spanned<Vec<String>>>,
    priority: Option<Spanned<i64>>,
    from: Option<Spanned<Value>>,
    until: Option<Spanned<Value>>,
    recording: Option<bool>,
    reason: Option<String>,
}

/// Loads every schedule in `dir`: each `*.toml` file except `*.example.toml`,
/// in file-name order. A bad file becomes an error and the others still
/// load. A missing directory holds no schedules.
pub fn load_dir(dir: &Path) -> (Vec<Schedule>, Vec<ScheduleError>) {
    let (paths, mut errors) = match schedule_files(dir) {
        Ok(paths) => (paths, Vec::new()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => (Vec::new(), Vec::new()),
        Err(source) => {
            let path = dir.to_path_buf();
            return (Vec::new(), vec![ScheduleError::Read { path, source }]);
        }
    };
    let mut schedules = Vec::new();
    for (name, path) in paths {
        match std::fs::read_to_string(&path) {
            Ok(text) => match parse(&name, &path, &text) {
                Ok(schedule) => schedules.push(schedule),
                Err(e) => errors.push(e),
            },
            Err(source) => errors.push(ScheduleError::Read { path, source }),
        }
    }
    (schedules, errors)
}

/// The schedule files in `dir`, each with its schedule's name, sorted.
fn schedule_files(dir: &Path) -> std::io::Result<Vec<(String, PathBuf)>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let file_name = entry.file_name();
        let Some(file_name) = file_name.to_str() else {
            continue;
        };
        let Some(name) = file_name.strip_suffix(".toml") else {
            continue;
        };
        if name.is_empty() || file_name.ends_with(EXAMPLE_SUFFIX) || !entry.path().is_file() {
            continue;
        }
        files.push((name.to_string(), entry.path()));
    }
    files.sort();
    Ok(files)
}

/// Reads the schedule `name` from the text of its file; `path_for_messages`
/// is the file as errors name it.
pub fn parse(name: &str, path_for_messages: &Path, text: &str) -> Result<Schedule, ScheduleError> {
    let file = SourceFile {
        path: path_for_messages,
        text,
    };
    let raw: RawSchedule = toml::from_str(text).map_err(|e| ScheduleError::Toml {
        at: file.at_opt(e.span()),
        message: e.message().trim().to_string(),
    })?;
    let schedule = Schedule {
        name: name.to_string(),
        cron: raw.cron.get_ref().clone(),
        pattern: file.cron(&raw.cron)?,
        timezone: file.timezone(raw.timezone.as_ref())?,
        selection: file.selection(&raw)?,
        priority: file.priority(raw.priority.as_ref())?,
        from: file.limit("from", raw.from.as_ref())?,
        until: file.limit("until", raw.until.as_ref())?,
        recording: raw.recording,
        reason: raw
            .reason
            .clone()
            .unwrap_or_else(|| format!("schedule {name}")),
    };
    file.check_window(&schedule, raw.until.as_ref())?;
    Ok(schedule)
}

/// A schedule file being read: what errors need to say where they are.
struct SourceFile<'a> {
    path: &'a Path,
    text: &'a str,
}

impl SourceFile<'_> {
    fn at(&self, span: Range<usize>) -> At {
        self.at_opt(Some(span))
    }

    fn at_opt(&self, span: Option<Range<usize>>) -> At {
        At {
            path: self.path.to_path_buf(),
            line_col: span.map(|span| line_col(self.text, span.start)),
        }
    }

    fn value_error(&self, span: Range<usize>, key: &'static str, message: String) -> ScheduleError {
        ScheduleError::Value {
            at: self.at(span),
            key,
            message,
        }
    }

    fn timezone(&self, name: Option<&Spanned<String>>) -> Result<Tz, ScheduleError> {
        let Some(name) = name else {
            return Ok(DEFAULT_TIMEZONE);
        };
        name.get_ref()
            .parse::<Tz>()
            .map_err(|_| ScheduleError::TimeZone {
                at: self.at(name.span()),
                name: name.get_ref().clone(),
            })
    }

    fn cron(&self, expr: &Spanned<String>) -> Result<Cron, ScheduleError> {
        let error = |reason: String| ScheduleError::Cron {
            at: self.at(expr.span()),
            expr: expr.get_ref().clone(),
            reason,
        };
        let fields = expr.get_ref().split_whitespace().count();
        if !expr.get_ref().trim_start().starts_with('@') && !(5..=6).contains(&fields) {
            return Err(error(format!("it has {fields} fields")));
        }
        let pattern = CronParser::builder()
            .seconds(Seconds::Optional)
            .year(Year::Disallowed)
            .build()
            .parse(expr.get_ref())
            .map_err(|e| error(e.to_string().trim_end_matches('.').to_string()))?;
        // A pattern such as 30 February parses but never matches; it is
        // refused here rather than silently never firing.
        let origin = NaiveDateTime::default();
        if pattern.find_next_occurrence(&origin, false).is_err() {
            return Err(error("it matches no date".to_string()));
        }
        Ok(pattern)
    }

    fn priority(&self, priority: Option<&Spanned<i64>>) -> Result<u8, ScheduleError> {
        let Some(priority) = priority else {
            return Ok(DEFAULT_PRIORITY);
        };
        u8::try_from(*priority.get_ref())
            .ok()
            .filter(|p| *p <= MAX_PRIORITY)
            .ok_or_else(|| {
                let message = format!(
                    "{} is out of range; write 0 to {MAX_PRIORITY} (debate jobs run at 50 and \
                     ad-hoc jobs at 100 and 200, before every schedule)",
                    priority.get_ref()
                );
                self.value_error(priority.span(), "priority", message)
            })
    }

    fn limit(
        &self,
        key: &'static str,
        value: Option<&Spanned<Value>>,
    ) -> Result<Option<Limit>, ScheduleError> {
        let Some(value) = value else {
            return Ok(None);
        };
        let parsed = match value.get_ref() {
            Value::String(s) => parse_limit(s),
            Value::Datetime(dt) => parse_limit(&dt.to_string()),
            _ => None,
        };
        parsed
            .ok_or_else(|| {
                let message = format!(
                    "{} is neither a date nor a time; write a date such as 2025-09-01 (in the \
                 schedule's time zone) or an RFC 3339 time such as 2025-09-01T06:00:00+02:00",
                    value.get_ref()
                );
                self.value_error(value.span(), key, message)
            })
            .map(Some)
    }

    /// Refuses an `until` that leaves no instant to fire at.
    fn check_window(
        &self,
        schedule: &Schedule,
        until: Option<&Spanned<Value>>,
    ) -> Result<(), ScheduleError> {
        if let (Some(until), (Some(start), Some(end))) = (until, schedule.window()) {
            if end <= start {
                let message = "ends before from; the schedule would never fire".to_string();
                return Err(self.value_error(until.span(), "until", message));
            }
        }
        Ok(())
    }

    fn selection(&self, raw: &RawSchedule) -> Result<Selection, ScheduleError> {
        let platforms = match &raw.platforms {
            Some(list) => self.platforms(list)?,
            None => Vec::new(),
        };
        let tags = match &raw.tags {
            Some(list) => self.tags(list)?,
            None => Vec::new(),
        };
        let channels = match &raw.channels {
            Some(value) => self.channels(value)?,
            None if platforms.is_empty() && tags.is_empty() => {
                return Err(ScheduleError::NoChannels {
                    path: self.path.to_path_buf(),
                })
            }
            None => Channels::All,
        };
        Ok(Selection {
            channels,
            platforms,
            tags,
        })
    }

    fn channels(&self, value: &Spanned<Value>) -> Result<Channels, ScheduleError> {
        let error = |message: String| self.value_error(value.span(), "channels", message);
        match value.get_ref() {
            Value::String(word) if word == "all" => Ok(Channels::All),
            Value::Array(items) if items.is_empty() => Err(error(
                "an empty list chooses no channel; name some, or write \"all\"".to_string(),
            )),
            Value::Array(items) => items
                .iter()
                .map(|item| {
                    item.as_str()
                        .and_then(|id| id.parse::<ChannelId>().ok())
                        .ok_or_else(|| error(format!("{item} is not a channel id")))
                })
                .collect::<Result<_, _>>()
                .map(Channels::Only),
            other => Err(error(format!(
                "{other} is neither \"all\" nor a list of channel ids such as [\"sala-fb\"]"
            ))),
        }
    }

    fn platforms(&self, list: &Spanned<Vec<String>>) -> Result<Vec<Platform>, ScheduleError> {
        let error = |message: String| self.value_error(list.span(), "platforms", message);
        if list.get_ref().is_empty() {
            return Err(error(
                "an empty list chooses no channel; name platforms or remove the key".to_string(),
            ));
        }
        list.get_ref()
            .iter()
            .map(|name| {
                name.parse::<Platform>().map_err(|_| {
                    let known: Vec<_> = Platform::ALL.iter().map(|p| p.as_str()).collect();
                    error(format!(
                        "unknown platform {name:?}; known: {}",
                        known.join(", ")
                    ))
                })
            })
            .collect()
    }

    fn tags(&self, list: &Spanned<Vec<String>>) -> Result<Vec<String>, ScheduleError> {
        if list.get_ref().is_empty() {
            let message = "an empty list chooses no channel; name tags or remove the key";
            return Err(self.value_error(list.span(), "tags", message.to_string()));
        }
        Ok(list.get_ref().clone())
    }
}

/// A `from`/`until` text: a date, or an RFC 3339 time with its offset.
fn parse_limit(text: &str) -> Option<Limit> {
    if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Some(Limit::Date(day));
    }
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| Limit::Time(t.with_timezone(&Utc)))
}

/// The line and column, both from 1, of byte `offset` in `text`; the column
/// counts characters.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut end = offset.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let before = &text[..end];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn parse_text(text: &str) -> Result<Schedule, ScheduleError> {
        parse("debate", Path::new("schedules/debate.toml"), text)
    }

    fn message(text: &str) -> String {
        match parse_text(text) {
            Ok(s) => panic!("parsed: {s:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn a_minimal_file_takes_the_defaults() {
        let s = parse_text("cron = \"0 3 * * *\"\nchannels = \"all\"\n").unwrap();
        assert_eq!(s.name, "debate");
        assert_eq!(s.cron, "0 3 * * *");
        assert_eq!(s.timezone, chrono_tz::Europe::Stockholm);
        assert_eq!(s.selection.channels, Channels::All);
        assert_eq!(s.priority, DEFAULT_PRIORITY);
        assert_eq!((s.from, s.until, s.recording), (None, None, None));
        assert_eq!(s.reason, "schedule debate");
    }

    #[test]
    fn every_key_is_read() {
        let text = r#"
cron = "0 0 */6 * * *"
timezone = "Europe/Helsinki"
channels = ["sala-fb", "sala-ig"]
platforms = ["facebook", "Instagram"]
tags = ["debatt"]
priority = 0
from = 2025-09-01
until = "2025-09-30T18:00:00+02:00"
recording = false
reason = "debate on the school closure"
"#;
        let s = parse_text(text).unwrap();
        assert_eq!(s.timezone, chrono_tz::Europe::Helsinki);
        let ids: Vec<ChannelId> = vec!["sala-fb".parse().unwrap(), "sala-ig".parse().unwrap()];
        assert_eq!(s.selection.channels, Channels::Only(ids));
        assert_eq!(
            s.selection.platforms,
            [Platform::Facebook, Platform::Instagram]
        );
        assert_eq!(s.selection.tags, ["debatt"]);
        assert_eq!(s.priority, 0);
        let day = NaiveDate::from_ymd_opt(2025, 9, 1).unwrap();
        assert_eq!(s.from, Some(Limit::Date(day)));
        let end = Utc.with_ymd_and_hms(2025, 9, 30, 16, 0, 0).unwrap();
        assert_eq!(s.until, Some(Limit::Time(end)));
        assert_eq!(s.recording, Some(false));
        assert_eq!(s.reason, "debate on the school closure");
    }

    #[test]
    fn limits_are_read_quoted_or_bare() {
        let text = "cron = \"0 3 * * *\"\nchannels = \"all\"\nfrom = \"2025-09-01\"\n\
                    until = 2025-09-02T10:00:00Z\n";
        let s = parse_text(text).unwrap();
        let day = NaiveDate::from_ymd_opt(2025, 9, 1).unwrap();
        assert_eq!(s.from, Some(Limit::Date(day)));
        let end = Utc.with_ymd_and_hms(2025, 9, 2, 10, 0, 0).unwrap();
        assert_eq!(s.until, Some(Limit::Time(end)));
    }

    #[test]
    fn an_unknown_key_is_named_with_its_line_and_column() {
        let text = "# debate\nchannels = \"all\"\n  cronn = \"0 3 * * *\"\n";
        let m = message(text);
        assert!(
            m.starts_with("schedules/debate.toml:3:3: unknown field `cronn`"),
            "{m}"
        );
    }

    #[test]
    fn a_missing_cron_is_an_error() {
        let m = message("channels = \"all\"\n");
        assert!(m.starts_with("schedules/debate.toml"), "{m}");
        assert!(m.contains("missing field `cron`"), "{m}");
    }

    #[test]
    fn a_bad_cron_names_its_line() {
        let m = message("channels = \"all\"\ncron = \"0 3 * *\"\n");
        assert!(
            m.starts_with(
                "schedules/debate.toml:2:8: cron \"0 3 * *\" is not valid: it has 4 fields"
            ),
            "{m}"
        );
        let m = message("channels = \"all\"\ncron = \"0 0 3 * * * 2025\"\n");
        assert!(m.contains("it has 7 fields"), "{m}");
        let m = message("channels = \"all\"\ncron = \"0 3 * * 8\"\n");
        assert!(
            m.starts_with("schedules/debate.toml:2:8: cron \"0 3 * * 8\""),
            "{m}"
        );
        assert!(parse_text("channels = \"all\"\ncron = \"@daily\"\n").is_ok());
        let m = message("channels = \"all\"\ncron = \"0 3 30 2 *\"\n");
        assert!(m.contains("matches no date"), "{m}");
    }

    #[test]
    fn a_bad_time_zone_names_its_line() {
        let m = message("cron = \"0 3 * * *\"\nchannels = \"all\"\ntimezone = \"Europe/Sala\"\n");
        assert!(
            m.starts_with("schedules/debate.toml:3:12: unknown time zone \"Europe/Sala\""),
            "{m}"
        );
    }

    #[test]
    fn priority_must_come_after_debate_and_ad_hoc_jobs() {
        let base = "cron = \"0 3 * * *\"\nchannels = \"all\"\n";
        assert_eq!(
            parse_text(&format!("{base}priority = 49"))
                .unwrap()
                .priority,
            49
        );
        for bad in ["50", "100", "-1"] {
            let m = message(&format!("{base}priority = {bad}"));
            assert!(
                m.starts_with("schedules/debate.toml:3:12: priority:"),
                "{m}"
            );
        }
    }

    #[test]
    fn no_channels_says_what_to_write() {
        let m = message("cron = \"0 3 * * *\"\n");
        assert!(m.contains("channels = \"all\""), "{m}");
        let m = message("cron = \"0 3 * * *\"\nchannels = []\n");
        assert!(m.contains("chooses no channel"), "{m}");
        let m = message("cron = \"0 3 * * *\"\nchannels = \"some\"\n");
        assert!(
            m.starts_with("schedules/debate.toml:2:12: channels:"),
            "{m}"
        );
    }

    #[test]
    fn a_filter_alone_selects_among_all_channels() {
        let s = parse_text("cron = \"0 3 * * *\"\ntags = [\"kommun\"]\n").unwrap();
        assert_eq!(s.selection.channels, Channels::All);
        let m = message("cron = \"0 3 * * *\"\nplatforms = [\"myspace\"]\n");
        assert!(m.contains("unknown platform \"myspace\""), "{m}");
    }

    #[test]
    fn bad_limits_are_refused() {
        let base = "cron = \"0 3 * * *\"\nchannels = \"all\"\n";
        let m = message(&format!("{base}from = \"1 September\""));
        assert!(m.starts_with("schedules/debate.toml:3:8: from:"), "{m}");
        let m = message(&format!("{base}from = 2025-09-01T06:00:00"));
        assert!(m.contains("RFC 3339"), "{m}");
        let m = message(&format!("{base}from = 2025-09-02\nuntil = 2025-09-01"));
        assert!(m.contains("ends before from"), "{m}");
        let same_day = format!("{base}from = 2025-09-01\nuntil = 2025-09-01");
        assert!(parse_text(&same_day).is_ok());
    }

    #[test]
    fn line_col_counts_characters() {
        let text = "a = 1\nö = \"x\"\n";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 6), (2, 1));
        assert_eq!(line_col(text, text.find('"').unwrap()), (2, 5));
        assert_eq!(line_col(text, 999), (3, 1));
    }

    #[test]
    fn load_dir_loads_the_good_and_reports_the_bad() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
        write("weekly.toml", "cron = \"0 4 * * 1\"\nchannels = \"all\"\n");
        write(
            "nightly.toml",
            "cron = \"0 3 * * *\"\ntags = [\"kommun\"]\n",
        );
        write(
            "broken.toml",
            "cron = \"0 3 * * *\"\nchannels = \"all\"\ncronn = 1\n",
        );
        write("debate.example.toml", "this is not toml");
        write("notes.txt", "this is not toml");
        write("weekly.toml.bak", "this is not toml");
        let (schedules, errors) = load_dir(dir.path());
        let names: Vec<_> = schedules.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["nightly", "weekly"]);
        assert_eq!(errors.len(), 1, "{errors:?}");
        let m = errors[0].to_string();
        assert!(m.contains("broken.toml:3:1: unknown field `cronn`"), "{m}");
    }

    #[test]
    fn a_missing_directory_holds_no_schedules() {
        let dir = tempfile::tempdir().unwrap();
        let (schedules, errors) = load_dir(&dir.path().join("schedules"));
        assert!(schedules.is_empty() && errors.is_empty());
    }

    #[test]
    fn the_shipped_files_parse() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("schedules");
        let (schedules, errors) = load_dir(&root);
        assert!(errors.is_empty(), "{errors:?}");
        let baseline = schedules.iter().find(|s| s.name == "baseline").unwrap();
        assert_eq!(baseline.selection.channels, Channels::All);
        assert_eq!(baseline.priority, 10);
        assert_eq!(baseline.timezone, chrono_tz::Europe::Stockholm);

        let path = root.join("debate.example.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        let example = parse("debate", &path, &text).unwrap();
        assert!(!example.selection.tags.is_empty());
        assert!(example.from.is_some() && example.until.is_some());
        assert!(example.priority > baseline.priority);
    }
}
