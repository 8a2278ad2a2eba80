//! Posts, comments and replies as structured items.
//!
//! The in-page kit reads items by the profile's rules at every scroll step
//! and returns only new or changed ones; [`Collector`] merges them by id, so
//! items that a virtualized feed drops from the DOM are kept, and a text that
//! grew after "Visa mer" replaces its shorter version.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Bumped when a field of `items.json` changes meaning or is removed.
pub const ITEMS_SCHEMA_VERSION: u32 = 1;

/// An item as the kit reports it.
#[derive(Debug, Clone, Deserialize)]
pub struct RawItem {
    pub key: String,
    pub platform_id: Option<String>,
    pub kind: String,
    pub parent_key: Option<String>,
    pub author: Option<String>,
    pub shown_time: Option<String>,
    pub datetime: Option<String>,
    pub text: String,
    pub permalink: Option<String>,
    #[serde(default)]
    pub links: Vec<String>,
    #[serde(default)]
    pub media: Vec<String>,
}

/// When an item says it was published.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Published {
    /// As the page shows it, e.g. "3 november kl. 14:05" or "2 d".
    pub shown: Option<String>,
    /// Parsed to UTC where possible (relative times against the capture time).
    pub parsed: Option<DateTime<Utc>>,
}

/// A post, comment or reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    /// The platform's id, else the permalink, else `h-` and a hash of kind,
    /// author, time and the start of the text.
    pub id: String,
    /// `post`, `comment` or `reply`.
    pub kind: String,
    pub parent: Option<String>,
    pub author: Option<String>,
    pub published: Published,
    pub text: String,
    pub permalink: Option<String>,
    pub links: Vec<String>,
    /// Descriptions of images and videos (alt texts, labels).
    pub media: Vec<String>,
}

/// `items.json`: every item of a snapshot.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ItemsDocument {
    pub schema: String,
    pub schema_version: u32,
    pub snapshot_id: String,
    pub channel: String,
    pub captured_at: DateTime<Utc>,
    pub profile: String,
    pub counts: ItemCounts,
    pub items: Vec<Item>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ItemCounts {
    pub posts: usize,
    pub comments: usize,
    pub replies: usize,
}

impl ItemCounts {
    pub fn of(items: &[Item]) -> Self {
        let n = |k: &str| items.iter().filter(|i| i.kind == k).count();
        Self {
            posts: n("post"),
            comments: n("comment"),
            replies: n("reply"),
        }
    }
}

/// Merges the kit's reports into one list, in the order items were first seen.
#[derive(Debug, Clone, Default)]
pub struct Collector {
    order: Vec<String>,
    items: HashMap<String, RawItem>,
}

impl Collector {
    pub fn add(&mut self, batch: Vec<RawItem>) {
        for it in batch {
            match self.items.get_mut(&it.key) {
                Some(old) => {
                    // Keep the fullest text: a virtualized or re-rendered item
                    // may come back truncated.
                    let text = if it.text.len() >= old.text.len() {
                        it.text.clone()
                    } else {
                        old.text.clone()
                    };
                    // A parent not rendered now is still the parent, unless
                    // the item changed kind: a block found by structure
                    // before its thread was whole may be a comment after all.
                    let parent = if it.kind == old.kind {
                        it.parent_key.clone().or(old.parent_key.take())
                    } else {
                        it.parent_key.clone()
                    };
                    *old = RawItem {
                        text,
                        parent_key: parent,
                        ..it
                    };
                }
                None => {
                    self.order.push(it.key.clone());
                    self.items.insert(it.key.clone(), it);
                }
            }
        }
    }

    /// Adds another collector's items (another page of the same content).
    pub fn merge(&mut self, other: Collector) {
        let Collector { order, mut items } = other;
        self.add(order.into_iter().filter_map(|k| items.remove(&k)).collect());
    }

    /// Whether any of these items is missing from `other`.
    pub fn has_new_for(&self, other: &Collector) -> bool {
        self.order.iter().any(|k| !other.items.contains_key(k))
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// The items, with times parsed against `captured_at` in `tz`.
    pub fn finish(&self, captured_at: DateTime<Utc>, tz: chrono_tz::Tz) -> Vec<Item> {
        self.order
            .iter()
            .filter_map(|k| self.items.get(k))
            .filter(|r| !r.text.is_empty() || r.permalink.is_some())
            .map(|r| Item {
                id: r.key.clone(),
                kind: r.kind.clone(),
                parent: r.parent_key.clone().filter(|p| self.items.contains_key(p)),
                author: r.author.clone(),
                published: Published {
                    shown: r.shown_time.clone(),
                    parsed: r
                        .datetime
                        .as_deref()
                        .and_then(|d| DateTime::parse_from_rfc3339(d).ok())
                        .map(|d| d.with_timezone(&Utc))
                        .or_else(|| {
                            r.shown_time
                                .as_deref()
                                .and_then(|s| parse_shown_time(s, captured_at, tz))
                        }),
                },
                text: r.text.clone(),
                permalink: r.permalink.clone(),
                links: r.links.clone(),
                media: r.media.clone(),
            })
            .collect()
    }
}

const MONTHS: [(&str, u32); 24] = [
    ("januari", 1),
    ("februari", 2),
    ("mars", 3),
    ("april", 4),
    ("maj", 5),
    ("juni", 6),
    ("juli", 7),
    ("augusti", 8),
    ("september", 9),
    ("oktober", 10),
    ("november", 11),
    ("december", 12),
    ("january", 1),
    ("february", 2),
    ("march", 3),
    ("may", 5),
    ("june", 6),
    ("july", 7),
    ("august", 8),
    ("october", 10),
    ("jan", 1),
    ("feb", 2),
    ("okt", 10),
    ("dec", 12),
];

/// Parses the times platforms show: "3 november kl. 14:05", "3 nov. 2025",
/// "2025-11-03 14:05", and relative ones ("2 d", "5 tim", "3 min", "1 v",
/// "2 days ago", "för 3 veckor sedan") counted back from `now`. Local times
/// are in `tz`.
pub fn parse_shown_time(
    shown: &str,
    now: DateTime<Utc>,
    tz: chrono_tz::Tz,
) -> Option<DateTime<Utc>> {
    let s = shown.trim().to_lowercase().replace(['.', ','], " ");
    let words: Vec<&str> = s.split_whitespace().collect();
    // Relative: a number and a unit.
    if let Some(pos) = words.iter().position(|w| w.parse::<i64>().is_ok()) {
        let n: i64 = words[pos].parse().ok()?;
        if let Some(unit) = words.get(pos + 1) {
            let d = match *unit {
                "s" | "sek" | "sekunder" | "seconds" | "second" => Some(Duration::seconds(n)),
                "m" | "min" | "minuter" | "minut" | "minutes" | "minute" => {
                    Some(Duration::minutes(n))
                }
                "h" | "t" | "tim" | "timmar" | "timme" | "hours" | "hour" => {
                    Some(Duration::hours(n))
                }
                "d" | "dag" | "dagar" | "days" | "day" => Some(Duration::days(n)),
                "v" | "w" | "vecka" | "veckor" | "weeks" | "week" => Some(Duration::weeks(n)),
                "år" | "y" | "years" | "year" => Some(Duration::days(365 * n)),
                _ => None,
            };
            if let Some(d) = d {
                return Some(now - d);
            }
        }
    }
    let local_now = now.with_timezone(&tz);
    let time_of = |ws: &[&str]| -> (u32, u32) {
        ws.iter()
            .find_map(|w| {
                let (h, m) = w.split_once(':')?;
                Some((h.parse().ok()?, m.parse().ok()?))
            })
            .unwrap_or((0, 0))
    };
    // ISO date.
    if let Some(date) = words
        .iter()
        .find_map(|w| NaiveDate::parse_from_str(w, "%Y-%m-%d").ok())
    {
        let (h, m) = time_of(&words);
        return tz
            .from_local_datetime(&date.and_hms_opt(h, m, 0)?)
            .earliest()
            .map(|d| d.with_timezone(&Utc));
    }
    // "3 november [2025] [kl 14:05]".
    for (i, w) in words.iter().enumerate() {
        let Some(month) = MONTHS.iter().find(|(name, _)| w == name).map(|(_, m)| *m) else {
            continue;
        };
        let day: u32 = words.get(i.wrapping_sub(1)).and_then(|d| d.parse().ok())?;
        let year: i32 = words
            .get(i + 1)
            .and_then(|y| y.parse().ok())
            .filter(|y: &i32| *y > 1990)
            .unwrap_or(local_now.year());
        let (h, m) = time_of(&words);
        let mut at = tz
            .from_local_datetime(&NaiveDate::from_ymd_opt(year, month, day)?.and_hms_opt(h, m, 0)?)
            .earliest()?;
        // A date without a year shown in January for December is last year's.
        if at > local_now + Duration::days(1)
            && words
                .get(i + 1)
                .and_then(|y| y.parse::<i32>().ok())
                .is_none()
        {
            at = tz
                .from_local_datetime(
                    &NaiveDate::from_ymd_opt(year - 1, month, day)?.and_hms_opt(h, m, 0)?,
                )
                .earliest()?;
        }
        return Some(at.with_timezone(&Utc));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap()
    }

    #[test]
    fn shown_times() {
        let tz = chrono_tz::Europe::Stockholm;
        let p = |s| parse_shown_time(s, now(), tz);
        assert_eq!(
            p("3 november kl. 14:05"),
            Some(Utc.with_ymd_and_hms(2026, 11, 3, 13, 5, 0).unwrap())
        );
        assert_eq!(
            p("3 juli 2025"),
            Some(Utc.with_ymd_and_hms(2025, 7, 2, 22, 0, 0).unwrap())
        );
        assert_eq!(p("2 d"), Some(now() - Duration::days(2)));
        assert_eq!(p("5 tim"), Some(now() - Duration::hours(5)));
        assert_eq!(p("för 3 veckor sedan"), Some(now() - Duration::weeks(3)));
        assert_eq!(p("2 days ago"), Some(now() - Duration::days(2)));
        assert_eq!(
            p("28 december"),
            Some(Utc.with_ymd_and_hms(2025, 12, 27, 23, 0, 0).unwrap())
        );
        assert_eq!(p("Offentligt"), None);
    }

    fn raw(key: &str, text: &str, parent: Option<&str>) -> RawItem {
        RawItem {
            key: key.into(),
            platform_id: None,
            kind: if parent.is_some() { "comment" } else { "post" }.into(),
            parent_key: parent.map(Into::into),
            author: Some("Anna".into()),
            shown_time: Some("2 d".into()),
            datetime: None,
            text: text.into(),
            permalink: None,
            links: vec![],
            media: vec![],
        }
    }

    #[test]
    fn a_changed_kind_brings_its_own_parent() {
        let mut c = Collector::default();
        let mut reply = raw("b", "svar", Some("a"));
        reply.kind = "reply".into();
        c.add(vec![raw("a", "först", None), reply]);
        let mut comment = raw("b", "svar", None);
        comment.kind = "comment".into();
        c.add(vec![comment]);
        let items = c.finish(now(), chrono_tz::Europe::Stockholm);
        assert_eq!(
            (items[1].kind.as_str(), items[1].parent.as_deref()),
            ("comment", None)
        );
    }

    #[test]
    fn collector_keeps_first_order_and_fullest_text() {
        let mut c = Collector::default();
        c.add(vec![
            raw("a", "kort … Visa mer", None),
            raw("b", "svar", Some("a")),
        ]);
        c.add(vec![raw("a", "kort och sedan hela texten", None)]);
        c.add(vec![raw("a", "kort", None), raw("c", "x", Some("gone"))]);
        let items = c.finish(now(), chrono_tz::Europe::Stockholm);
        assert_eq!(
            items.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(),
            ["a", "b", "c"]
        );
        assert_eq!(items[0].text, "kort och sedan hela texten");
        assert_eq!(items[1].parent.as_deref(), Some("a"));
        assert_eq!(
            items[2].parent, None,
            "a parent never seen is not referenced"
        );
        assert_eq!(
            ItemCounts::of(&items),
            ItemCounts {
                posts: 1,
                comments: 2,
                replies: 0
            }
        );
    }
}
