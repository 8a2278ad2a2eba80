//! The SQLite implementation of the database, the embedded default.

use super::{
    channel_from_parts, ArtifactRecord, CaptureFilter, CaptureFinish, CaptureRecord, CaptureState,
    DbError, SearchHit,
};
use crate::behaviour::items::{Item, Published};
use crate::registry::{Channel, ChannelId};
use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::{QueryBuilder, Row, Sqlite, SqlitePool};
use std::str::FromStr;
use std::time::Duration;

/// The database handle. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Db {
    pool: SqlitePool,
}

fn q(what: &'static str) -> impl FnOnce(sqlx::Error) -> DbError {
    move |source| DbError::Query { what, source }
}

#[derive(sqlx::FromRow)]
struct ChannelRow {
    id: String,
    platform: String,
    url: String,
    name: Option<String>,
    owner: Option<String>,
    admins: String,
    purpose: Option<String>,
    tags: String,
    opened_at: DateTime<Utc>,
    closed_at: Option<DateTime<Utc>>,
    recording: bool,
}

impl TryFrom<ChannelRow> for Channel {
    type Error = DbError;
    fn try_from(r: ChannelRow) -> Result<Self, DbError> {
        channel_from_parts(
            r.id,
            r.platform,
            r.url,
            r.name,
            r.owner,
            r.admins,
            r.purpose,
            r.tags,
            r.opened_at,
            r.closed_at,
            r.recording,
        )
    }
}

#[derive(sqlx::FromRow)]
struct CaptureRow {
    id: String,
    channel_id: String,
    state: String,
    trigger_kind: String,
    reason: Option<String>,
    requested_by: Option<String>,
    requested_at: DateTime<Utc>,
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
    url: String,
    final_url: Option<String>,
    title: Option<String>,
    failure_code: Option<String>,
    failure: Option<String>,
    warnings: i64,
    truncated: bool,
    manifest_key: Option<String>,
    worker: Option<String>,
}

impl TryFrom<CaptureRow> for CaptureRecord {
    type Error = DbError;
    fn try_from(r: CaptureRow) -> Result<Self, DbError> {
        let state = CaptureState::parse(&r.state).ok_or_else(|| DbError::Corrupt {
            table: "captures",
            detail: format!("state {:?}", r.state),
        })?;
        Ok(CaptureRecord {
            id: r.id,
            channel_id: r.channel_id,
            state,
            trigger: r.trigger_kind,
            reason: r.reason,
            requested_by: r.requested_by,
            requested_at: r.requested_at,
            started_at: r.started_at,
            finished_at: r.finished_at,
            url: r.url,
            final_url: r.final_url,
            title: r.title,
            failure_code: r.failure_code,
            failure: r.failure,
            warnings: r.warnings,
            truncated: r.truncated,
            manifest_key: r.manifest_key,
            worker: r.worker,
        })
    }
}

/// An item row: the capture it belongs to and the item.
struct ItemRow {
    capture_id: String,
    item: Item,
}

impl<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow> for ItemRow {
    fn from_row(r: &'r sqlx::sqlite::SqliteRow) -> Result<Self, sqlx::Error> {
        let json = |col: &str| -> Result<Vec<String>, sqlx::Error> {
            let s: String = r.try_get(col)?;
            Ok(serde_json::from_str(&s).unwrap_or_default())
        };
        Ok(ItemRow {
            capture_id: r.try_get("capture_id")?,
            item: Item {
                id: r.try_get("item_id")?,
                kind: r.try_get("kind")?,
                parent: r.try_get("parent")?,
                author: r.try_get("author")?,
                published: Published {
                    shown: r.try_get("published_shown")?,
                    parsed: r.try_get("published_at")?,
                },
                text: r.try_get("text")?,
                permalink: r.try_get("permalink")?,
                links: json("links")?,
                media: json("media")?,
            },
        })
    }
}

struct SearchRow {
    row: ItemRow,
    hit_channel: String,
    hit_requested_at: DateTime<Utc>,
}

impl<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow> for SearchRow {
    fn from_row(r: &'r sqlx::sqlite::SqliteRow) -> Result<Self, sqlx::Error> {
        Ok(SearchRow {
            row: ItemRow::from_row(r)?,
            hit_channel: r.try_get("hit_channel")?,
            hit_requested_at: r.try_get("hit_requested_at")?,
        })
    }
}

impl Db {
    /// Opens (creating if needed) the database at `url` and applies migrations.
    pub async fn open(url: &str) -> Result<Self, DbError> {
        let open_err = |source| DbError::Open {
            url: url.to_string(),
            source,
        };
        let options = SqliteConnectOptions::from_str(url)
            .map_err(open_err)?
            .create_if_missing(true)
            .foreign_keys(true)
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
            // Several `bevara` processes may share one file; wait rather than fail.
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(open_err)?;
        sqlx::migrate!("src/db/migrations/sqlite")
            .run(&pool)
            .await?;
        Ok(Self { pool })
    }

    // ----- channels -----

    pub async fn add_channel(&self, c: &Channel) -> Result<(), DbError> {
        let res = sqlx::query(
            "INSERT INTO channels (id, platform, url, name, owner, admins, purpose, tags, opened_at, closed_at, recording)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(c.id.as_str())
        .bind(c.platform.as_str())
        .bind(&c.url)
        .bind(&c.name)
        .bind(&c.owner)
        .bind(serde_json::to_string(&c.admins).unwrap_or_else(|_| "[]".into()))
        .bind(&c.purpose)
        .bind(serde_json::to_string(&c.tags).unwrap_or_else(|_| "[]".into()))
        .bind(c.opened_at)
        .bind(c.closed_at)
        .bind(c.recording)
        .execute(&self.pool)
        .await;
        match res {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Err(DbError::ChannelExists(c.id.clone()))
            }
            Err(e) => Err(q("add channel")(e)),
        }
    }

    pub async fn channel(&self, id: &str) -> Result<Channel, DbError> {
        let row: Option<ChannelRow> = sqlx::query_as("SELECT * FROM channels WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(q("read channel"))?;
        row.ok_or_else(|| DbError::NoChannel(id.to_string()))?
            .try_into()
    }

    pub async fn list_channels(&self) -> Result<Vec<Channel>, DbError> {
        let rows: Vec<ChannelRow> = sqlx::query_as("SELECT * FROM channels ORDER BY id")
            .fetch_all(&self.pool)
            .await
            .map_err(q("list channels"))?;
        rows.into_iter().map(TryInto::try_into).collect()
    }

    /// Closes a channel; returns false if it was already closed.
    pub async fn close_channel(&self, id: &ChannelId, at: DateTime<Utc>) -> Result<bool, DbError> {
        self.channel(id.as_str()).await?;
        let res =
            sqlx::query("UPDATE channels SET closed_at = ? WHERE id = ? AND closed_at IS NULL")
                .bind(at)
                .bind(id.as_str())
                .execute(&self.pool)
                .await
                .map_err(q("close channel"))?;
        Ok(res.rows_affected() == 1)
    }

    // ----- captures -----

    /// Records a capture as running.
    pub async fn insert_capture(&self, c: &CaptureRecord) -> Result<(), DbError> {
        sqlx::query(
            "INSERT INTO captures (id, channel_id, state, trigger_kind, reason, requested_by, requested_at,
                                   started_at, url, worker)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&c.id)
        .bind(&c.channel_id)
        .bind(c.state.as_str())
        .bind(&c.trigger)
        .bind(&c.reason)
        .bind(&c.requested_by)
        .bind(c.requested_at)
        .bind(c.started_at)
        .bind(&c.url)
        .bind(&c.worker)
        .execute(&self.pool)
        .await
        .map_err(q("insert capture"))?;
        Ok(())
    }

    /// Marks a capture complete and records its artifacts and items, in one transaction.
    pub async fn complete_capture(
        &self,
        id: &str,
        finish: &CaptureFinish,
        artifacts: &[ArtifactRecord],
        items: &[Item],
    ) -> Result<(), DbError> {
        let mut tx = self.pool.begin().await.map_err(q("begin"))?;
        for (pos, it) in items.iter().enumerate() {
            sqlx::query(
                "INSERT OR REPLACE INTO items (capture_id, item_id, position, kind, parent, author, published_shown,
                                               published_at, text, permalink, links, media)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(id)
            .bind(&it.id)
            .bind(pos as i64)
            .bind(&it.kind)
            .bind(&it.parent)
            .bind(&it.author)
            .bind(&it.published.shown)
            .bind(it.published.parsed)
            .bind(&it.text)
            .bind(&it.permalink)
            .bind(serde_json::to_string(&it.links).unwrap_or_else(|_| "[]".into()))
            .bind(serde_json::to_string(&it.media).unwrap_or_else(|_| "[]".into()))
            .execute(&mut *tx)
            .await
            .map_err(q("record item"))?;
        }
        for a in artifacts {
            sqlx::query(
                "INSERT OR REPLACE INTO artifacts (capture_id, name, key, media_type, bytes, sha256, width, height)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(id)
            .bind(&a.name)
            .bind(&a.key)
            .bind(&a.media_type)
            .bind(a.bytes)
            .bind(&a.sha256)
            .bind(a.width)
            .bind(a.height)
            .execute(&mut *tx)
            .await
            .map_err(q("record artifact"))?;
        }
        sqlx::query(
            "UPDATE captures SET state = 'complete', finished_at = ?, final_url = ?, title = ?,
                    warnings = ?, truncated = ?, manifest_key = ?
             WHERE id = ? AND state = 'running'",
        )
        .bind(Utc::now())
        .bind(&finish.final_url)
        .bind(&finish.title)
        .bind(finish.warnings)
        .bind(finish.truncated)
        .bind(&finish.manifest_key)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(q("complete capture"))?;
        tx.commit().await.map_err(q("commit"))?;
        Ok(())
    }

    /// Marks a capture failed with a stable code and a message saying why.
    pub async fn fail_capture(
        &self,
        id: &str,
        code: &str,
        message: &str,
        final_url: Option<&str>,
    ) -> Result<(), DbError> {
        sqlx::query(
            "UPDATE captures SET state = 'failed', finished_at = ?, failure_code = ?, failure = ?,
                    final_url = COALESCE(?, final_url)
             WHERE id = ? AND state = 'running'",
        )
        .bind(Utc::now())
        .bind(code)
        .bind(message)
        .bind(final_url)
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(q("fail capture"))?;
        Ok(())
    }

    /// Fails running captures of this host whose process is gone (a killed
    /// worker), so they are not mistaken for captures in progress.
    pub async fn fail_abandoned(
        &self,
        host: &str,
        alive: impl Fn(u32) -> bool,
    ) -> Result<u64, DbError> {
        let rows = sqlx::query("SELECT id, worker FROM captures WHERE state = 'running'")
            .fetch_all(&self.pool)
            .await
            .map_err(q("list running captures"))?;
        let mut n = 0;
        for row in rows {
            let id: String = row.get("id");
            let worker: Option<String> = row.get("worker");
            let Some((h, pid)) = worker.as_deref().and_then(|w| w.rsplit_once(':')) else {
                continue;
            };
            let Ok(pid) = pid.parse::<u32>() else {
                continue;
            };
            if h == host && !alive(pid) {
                self.fail_capture(
                    &id,
                    "interrupted",
                    "the capturing process ended before the capture finished; capture the channel again",
                    None,
                )
                .await?;
                n += 1;
            }
        }
        Ok(n)
    }

    pub async fn capture(&self, id: &str) -> Result<CaptureRecord, DbError> {
        let row: Option<CaptureRow> = sqlx::query_as("SELECT * FROM captures WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(q("read capture"))?;
        row.ok_or_else(|| DbError::NoCapture(id.to_string()))?
            .try_into()
    }

    pub async fn list_captures(&self, f: &CaptureFilter) -> Result<Vec<CaptureRecord>, DbError> {
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new("SELECT * FROM captures WHERE 1 = 1");
        if let Some(c) = &f.channel {
            qb.push(" AND channel_id = ")
                .push_bind(c.as_str().to_string());
        }
        if let Some(from) = f.from {
            qb.push(" AND requested_at >= ").push_bind(from);
        }
        if let Some(to) = f.to {
            qb.push(" AND requested_at < ").push_bind(to);
        }
        if let Some(s) = f.state {
            qb.push(" AND state = ").push_bind(s.as_str());
        }
        qb.push(" ORDER BY requested_at, id");
        let rows: Vec<CaptureRow> = qb
            .build_query_as()
            .fetch_all(&self.pool)
            .await
            .map_err(q("list captures"))?;
        rows.into_iter().map(TryInto::try_into).collect()
    }

    /// The channel's latest complete capture requested before `before`.
    pub async fn previous_complete(
        &self,
        channel: &str,
        before: DateTime<Utc>,
    ) -> Result<Option<String>, DbError> {
        sqlx::query_scalar(
            "SELECT id FROM captures WHERE channel_id = ? AND state = 'complete' AND requested_at < ?
             ORDER BY requested_at DESC, id DESC LIMIT 1",
        )
        .bind(channel)
        .bind(before)
        .fetch_optional(&self.pool)
        .await
        .map_err(q("find previous capture"))
    }

    /// The items of a capture, in page order.
    pub async fn items(&self, capture_id: &str) -> Result<Vec<Item>, DbError> {
        let rows: Vec<ItemRow> =
            sqlx::query_as("SELECT * FROM items WHERE capture_id = ? ORDER BY position")
                .bind(capture_id)
                .fetch_all(&self.pool)
                .await
                .map_err(q("read items"))?;
        Ok(rows.into_iter().map(|r| r.item).collect())
    }

    /// Items whose text or author contains every word, newest capture first.
    pub async fn search(
        &self,
        words: &str,
        channel: Option<&str>,
        limit: i64,
    ) -> Result<Vec<SearchHit>, DbError> {
        // Each word quoted, so FTS syntax in the input is only text.
        let query = words
            .split_whitespace()
            .map(|w| format!("\"{}\"", w.replace('"', "\"\"")))
            .collect::<Vec<_>>()
            .join(" ");
        if query.is_empty() {
            return Ok(Vec::new());
        }
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
            "SELECT i.*, c.channel_id AS hit_channel, c.requested_at AS hit_requested_at
             FROM items_fts f JOIN items i ON i.rowid = f.rowid JOIN captures c ON c.id = i.capture_id
             WHERE c.state = 'complete' AND items_fts MATCH ",
        );
        qb.push_bind(query);
        if let Some(ch) = channel {
            qb.push(" AND c.channel_id = ").push_bind(ch.to_string());
        }
        qb.push(" ORDER BY c.requested_at DESC, i.position LIMIT ")
            .push_bind(limit);
        let rows: Vec<SearchRow> = qb
            .build_query_as()
            .fetch_all(&self.pool)
            .await
            .map_err(q("search items"))?;
        Ok(rows
            .into_iter()
            .map(|r| SearchHit {
                snapshot_id: r.row.capture_id,
                channel: r.hit_channel,
                captured_at: r.hit_requested_at,
                item: r.row.item,
            })
            .collect())
    }

    /// The latest complete capture of `channel` before `before` that holds `item_id`.
    pub async fn last_seen(
        &self,
        channel: &str,
        item_id: &str,
        before: DateTime<Utc>,
    ) -> Result<Option<(String, DateTime<Utc>)>, DbError> {
        let row = sqlx::query(
            "SELECT c.id, c.requested_at FROM items i JOIN captures c ON c.id = i.capture_id
             WHERE c.channel_id = ? AND i.item_id = ? AND c.state = 'complete' AND c.requested_at < ?
             ORDER BY c.requested_at DESC LIMIT 1",
        )
        .bind(channel)
        .bind(item_id)
        .bind(before)
        .fetch_optional(&self.pool)
        .await
        .map_err(q("find item"))?;
        Ok(row.map(|r| (r.get("id"), r.get("requested_at"))))
    }

    pub async fn artifacts(&self, capture_id: &str) -> Result<Vec<ArtifactRecord>, DbError> {
        sqlx::query_as(
            "SELECT name, key, media_type, bytes, sha256, width, height FROM artifacts
             WHERE capture_id = ? ORDER BY name",
        )
        .bind(capture_id)
        .fetch_all(&self.pool)
        .await
        .map_err(q("list artifacts"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Platform;

    async fn temp_db() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("t.sqlite").display()
        );
        (dir, Db::open(&url).await.unwrap())
    }

    fn channel(id: &str) -> Channel {
        Channel {
            id: id.parse().unwrap(),
            platform: Platform::Facebook,
            url: "https://example.org/sala".into(),
            name: Some("Sala kommun".into()),
            owner: Some("Kommunikationsenheten".into()),
            admins: vec!["Anna".into(), "Björn".into()],
            purpose: None,
            tags: vec!["kommun".into()],
            opened_at: Utc::now(),
            closed_at: None,
            recording: true,
        }
    }

    #[tokio::test]
    async fn register_round_trip_and_close() {
        let (_d, db) = temp_db().await;
        let c = channel("sala");
        db.add_channel(&c).await.unwrap();
        assert!(matches!(
            db.add_channel(&c).await,
            Err(DbError::ChannelExists(_))
        ));
        let back = db.channel("sala").await.unwrap();
        assert_eq!(back.admins, c.admins);
        assert_eq!(back.owner, c.owner);
        assert!(db.close_channel(&c.id, Utc::now()).await.unwrap());
        assert!(!db.close_channel(&c.id, Utc::now()).await.unwrap());
        assert!(db.channel("sala").await.unwrap().is_closed());
        assert!(matches!(
            db.channel("nope").await,
            Err(DbError::NoChannel(_))
        ));
    }

    #[tokio::test]
    async fn abandoned_captures_fail() {
        let (_d, db) = temp_db().await;
        db.add_channel(&channel("sala")).await.unwrap();
        let rec = CaptureRecord {
            id: "01J".into(),
            channel_id: "sala".into(),
            state: CaptureState::Running,
            trigger: "manual".into(),
            reason: None,
            requested_by: None,
            requested_at: Utc::now(),
            started_at: None,
            finished_at: None,
            url: "https://example.org".into(),
            final_url: None,
            title: None,
            failure_code: None,
            failure: None,
            warnings: 0,
            truncated: false,
            manifest_key: None,
            worker: Some("host-a:4242".into()),
        };
        db.insert_capture(&rec).await.unwrap();
        assert_eq!(db.fail_abandoned("host-b", |_| false).await.unwrap(), 0);
        assert_eq!(db.fail_abandoned("host-a", |_| true).await.unwrap(), 0);
        assert_eq!(db.fail_abandoned("host-a", |_| false).await.unwrap(), 1);
        let back = db.capture("01J").await.unwrap();
        assert_eq!(back.state, CaptureState::Failed);
        assert_eq!(back.failure_code.as_deref(), Some("interrupted"));
    }
}
