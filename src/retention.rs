//! Disposal by decision, and legal holds.
//!
//! Public records may be disposed of only as a disposal decision
//! (*gallringsbeslut*) allows. A retention rule, per channel or per
//! platform, says how long snapshots are kept and names that decision. A
//! snapshot is due when its rule's period has passed since it was
//! requested; it is kept even then while a legal hold covers it (the
//! snapshot or its channel) or the store's Object Lock still holds its
//! objects. Disposing of it deletes its objects and its rows and writes a
//! disposal record that is itself kept: what, when, by which decision, who.

use crate::db::{CaptureRecord, CaptureState, DbError, Disposal, Hold, RetentionRule};
use crate::Bevara;
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

/// A retention period: `0d`, `90d`, `26w`, `10y` (a year is 365 days).
pub fn parse_keep(s: &str) -> Result<i64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: i64 = n
        .parse()
        .map_err(|_| format!("{s:?} is not a period such as 90d, 26w or 10y"))?;
    let days = match unit {
        "d" => n,
        "w" => n * 7,
        "y" => n * 365,
        _ => {
            return Err(format!(
                "{s:?}: the unit is d (days), w (weeks) or y (years)"
            ))
        }
    };
    Ok(days)
}

#[derive(Debug, thiserror::Error)]
pub enum RetentionError {
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("disposing of {snapshot}: {source}")]
    Store {
        snapshot: String,
        source: crate::store::StoreError,
    },
}

/// Sets the rule of a channel (`target` = its id) or of a platform.
pub async fn set_rule(
    bevara: &Bevara,
    channel: Option<&str>,
    platform: Option<&str>,
    keep: &str,
    decision: &str,
    decision_date: Option<&str>,
    decision_text: Option<&str>,
    by: &str,
) -> Result<RetentionRule, RetentionError> {
    let keep_days = parse_keep(keep).map_err(RetentionError::Usage)?;
    if decision.trim().is_empty() {
        return Err(RetentionError::Usage(
            "name the disposal decision (--decision) that allows it".into(),
        ));
    }
    if let Some(d) = decision_date {
        chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| {
            RetentionError::Usage(format!("--decision-date {d:?} is not YYYY-MM-DD"))
        })?;
    }
    let platform = match (channel, platform) {
        (Some(c), None) => {
            bevara.db().channel(c).await?;
            None
        }
        (None, Some(p)) => Some(
            p.parse::<crate::Platform>()
                .map_err(|e| RetentionError::Usage(e.to_string()))?
                .as_str()
                .to_string(),
        ),
        _ => {
            return Err(RetentionError::Usage(
                "give a channel id or --platform".into(),
            ))
        }
    };
    let rule = RetentionRule {
        id: ulid::Ulid::new().to_string(),
        channel_id: channel.map(str::to_string),
        platform,
        keep_days,
        decision_id: decision.trim().to_string(),
        decision_date: decision_date.map(str::to_string),
        decision_text: decision_text.map(str::to_string),
        set_at: Utc::now(),
        set_by: Some(by.to_string()),
    };
    bevara.db().set_retention(&rule).await?;
    crate::web::audit(
        bevara,
        by,
        "cli",
        "retention.set",
        rule.channel_id.as_deref().or(rule.platform.as_deref()),
        serde_json::json!({"keep_days": keep_days, "decision": rule.decision_id,
            "decision_date": rule.decision_date, "decision_text": rule.decision_text}),
    )
    .await;
    Ok(rule)
}

/// Why a due snapshot is kept.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kept_by", rename_all = "kebab-case")]
pub enum Kept {
    Hold { hold: String, reason: String },
    ObjectLock { until: DateTime<Utc> },
}

/// One snapshot whose period has passed.
#[derive(Debug, Clone, Serialize)]
pub struct Due {
    pub snapshot: String,
    pub channel: String,
    pub requested_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    pub rule: RetentionRule,
    /// `None`: it may be disposed of now.
    pub kept: Option<Kept>,
}

/// Every snapshot whose period has passed at `now`, disposable or kept.
pub async fn due(bevara: &Bevara, now: DateTime<Utc>) -> Result<Vec<Due>, RetentionError> {
    let db = bevara.db();
    let rules = db.retention_rules().await?;
    let holds = db.holds(true).await?;
    let settings = bevara.settings();
    let mut out = Vec::new();
    for channel in db.list_channels().await? {
        let rule = rules
            .iter()
            .find(|r| r.channel_id.as_deref() == Some(channel.id.as_str()))
            .or_else(|| {
                rules
                    .iter()
                    .find(|r| r.platform.as_deref() == Some(channel.platform.as_str()))
            });
        let Some(rule) = rule else { continue };
        let caps = db
            .list_captures(&crate::db::CaptureFilter {
                channel: Some(channel.id.clone()),
                ..Default::default()
            })
            .await?;
        // Object Lock as the capture set it: the channel's days, else the store's.
        let lock_days = channel
            .retain_days
            .map(i64::from)
            .unwrap_or(i64::from(settings.store.object_lock_days));
        for c in caps {
            // A capture still running or waiting for its upload is not a record yet.
            if !matches!(c.state, CaptureState::Complete | CaptureState::Failed) {
                continue;
            }
            let due_at = c.requested_at + Duration::days(rule.keep_days);
            if due_at > now {
                continue;
            }
            let kept = kept_by(&c, &holds, bevara.store().can_lock(), lock_days, now);
            out.push(Due {
                snapshot: c.id.clone(),
                channel: c.channel_id.clone(),
                requested_at: c.requested_at,
                due_at,
                rule: rule.clone(),
                kept,
            });
        }
    }
    out.sort_by(|a, b| {
        a.requested_at
            .cmp(&b.requested_at)
            .then(a.snapshot.cmp(&b.snapshot))
    });
    Ok(out)
}

fn kept_by(
    c: &CaptureRecord,
    holds: &[Hold],
    can_lock: bool,
    lock_days: i64,
    now: DateTime<Utc>,
) -> Option<Kept> {
    if let Some(h) = holds.iter().find(|h| {
        h.snapshot_id.as_deref() == Some(c.id.as_str())
            || h.channel_id.as_deref() == Some(c.channel_id.as_str())
    }) {
        return Some(Kept::Hold {
            hold: h.id.clone(),
            reason: h.reason.clone(),
        });
    }
    let until = c.requested_at + Duration::days(lock_days);
    (can_lock && lock_days > 0 && until > now).then_some(Kept::ObjectLock { until })
}

/// Disposes of every due snapshot not kept: its objects, then its rows and
/// its disposal record. Returns the records written. A store failure stops
/// at that snapshot, its rows kept, so a second run finishes it.
pub async fn dispose(
    bevara: &Bevara,
    due: &[Due],
    by: &str,
) -> Result<Vec<Disposal>, RetentionError> {
    let mut done = Vec::new();
    for d in due.iter().filter(|d| d.kept.is_none()) {
        let artifacts = bevara.db().artifacts(&d.snapshot).await?;
        let record = bevara.db().capture(&d.snapshot).await?;
        let store_err = |source| RetentionError::Store {
            snapshot: d.snapshot.clone(),
            source,
        };
        let mut manifest_sha = None;
        if let Some(key) = &record.manifest_key {
            if let Ok(dg) = bevara.store().digest(key, None).await {
                manifest_sha = Some(dg.sha256);
            }
        }
        let mut bytes = 0i64;
        for a in &artifacts {
            bevara
                .store()
                .delete_version(&a.key, a.version_id.as_deref())
                .await
                .map_err(store_err)?;
            bytes += a.bytes;
        }
        if let Some(key) = &record.manifest_key {
            bevara.store().delete(key).await.map_err(store_err)?;
        }
        let disposal = Disposal {
            id: ulid::Ulid::new().to_string(),
            snapshot_id: d.snapshot.clone(),
            channel_id: d.channel.clone(),
            requested_at: d.requested_at,
            disposed_at: Utc::now(),
            decision_id: d.rule.decision_id.clone(),
            decision_date: d.rule.decision_date.clone(),
            decision_text: d.rule.decision_text.clone(),
            keep_days: d.rule.keep_days,
            disposed_by: Some(by.to_string()),
            objects: artifacts.len() as i64 + i64::from(record.manifest_key.is_some()),
            bytes,
            manifest_sha256: manifest_sha,
        };
        bevara.db().dispose_capture(&disposal).await?;
        // The page's zoom tiles are copies of the screenshot: they go too.
        let _ = std::fs::remove_dir_all(bevara.settings().data_dir.join("tiles").join(&d.snapshot));
        crate::web::audit(
            bevara,
            by,
            "cli",
            "snapshot.dispose",
            Some(&d.snapshot),
            serde_json::json!({"channel": d.channel, "decision": disposal.decision_id,
                "keep_days": disposal.keep_days, "objects": disposal.objects}),
        )
        .await;
        done.push(disposal);
    }
    Ok(done)
}

/// Places a legal hold on a snapshot or a channel; on a store with Object
/// Lock every object it covers gets a legal hold too. Returns the hold and
/// how many objects the store put under a legal hold.
pub async fn add_hold(
    bevara: &Bevara,
    snapshot: Option<&str>,
    channel: Option<&str>,
    reason: &str,
    by: &str,
    role: &str,
) -> Result<(Hold, usize), RetentionError> {
    if reason.trim().is_empty() {
        return Err(RetentionError::Usage("say why (--reason)".into()));
    }
    let captures = match (snapshot, channel) {
        (Some(s), None) => vec![bevara.db().capture(s).await?],
        (None, Some(c)) => {
            bevara.db().channel(c).await?;
            bevara
                .db()
                .list_captures(&crate::db::CaptureFilter {
                    channel: Some(c.parse().map_err(|e: crate::registry::RegistryError| {
                        RetentionError::Usage(e.to_string())
                    })?),
                    ..Default::default()
                })
                .await?
        }
        _ => {
            return Err(RetentionError::Usage(
                "give a snapshot id or --channel".into(),
            ))
        }
    };
    let hold = Hold {
        id: ulid::Ulid::new().to_string(),
        snapshot_id: snapshot.map(str::to_string),
        channel_id: channel.map(str::to_string),
        reason: reason.trim().to_string(),
        placed_at: Utc::now(),
        placed_by: Some(by.to_string()),
        removed_at: None,
        removed_by: None,
    };
    bevara.db().add_hold(&hold).await?;
    let locked = set_store_holds(bevara, &captures, true).await?;
    crate::web::audit(
        bevara,
        by,
        role,
        "hold.add",
        Some(snapshot.or(channel).unwrap_or("")),
        serde_json::json!({"hold": hold.id, "reason": hold.reason, "objects_held": locked}),
    )
    .await;
    Ok((hold, locked))
}

/// Lifts a hold (the store's legal holds with it, unless another hold in
/// force still covers the object).
pub async fn remove_hold(
    bevara: &Bevara,
    id: &str,
    by: &str,
    role: &str,
) -> Result<bool, RetentionError> {
    let all = bevara.db().holds(true).await?;
    let Some(h) = all.iter().find(|h| h.id == id).cloned() else {
        return Ok(false);
    };
    if !bevara.db().remove_hold(id, Utc::now(), Some(by)).await? {
        return Ok(false);
    }
    let others: Vec<&Hold> = all.iter().filter(|o| o.id != id).collect();
    let captures = match (&h.snapshot_id, &h.channel_id) {
        (Some(s), _) => vec![bevara.db().capture(s).await?],
        (None, Some(c)) => {
            bevara
                .db()
                .list_captures(&crate::db::CaptureFilter {
                    channel: c.parse().ok(),
                    ..Default::default()
                })
                .await?
        }
        _ => Vec::new(),
    };
    let free: Vec<CaptureRecord> = captures
        .into_iter()
        .filter(|c| {
            !others.iter().any(|o| {
                o.snapshot_id.as_deref() == Some(c.id.as_str())
                    || o.channel_id.as_deref() == Some(c.channel_id.as_str())
            })
        })
        .collect();
    set_store_holds(bevara, &free, false).await?;
    crate::web::audit(
        bevara,
        by,
        role,
        "hold.remove",
        Some(id),
        serde_json::json!({"reason": h.reason}),
    )
    .await;
    Ok(true)
}

async fn set_store_holds(
    bevara: &Bevara,
    captures: &[CaptureRecord],
    on: bool,
) -> Result<usize, RetentionError> {
    if !bevara.store().can_lock() {
        return Ok(0);
    }
    let mut n = 0;
    for c in captures {
        for a in bevara.db().artifacts(&c.id).await? {
            let held = bevara
                .store()
                .legal_hold(&a.key, a.version_id.as_deref(), on)
                .await
                .map_err(|source| RetentionError::Store {
                    snapshot: c.id.clone(),
                    source,
                })?;
            if !held {
                return Ok(n);
            }
            n += 1;
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods() {
        assert_eq!(parse_keep("0d"), Ok(0));
        assert_eq!(parse_keep("90d"), Ok(90));
        assert_eq!(parse_keep("26w"), Ok(182));
        assert_eq!(parse_keep("10y"), Ok(3650));
        for bad in ["", "d", "10", "5m", "-1d", "1.5y"] {
            assert!(parse_keep(bad).is_err(), "{bad}");
        }
    }
}
