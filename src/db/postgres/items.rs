//! A capture's completion in Postgres: its items with their search
//! vectors, its artifacts; and the words search finds, as SQLite's FTS5
//! finds them.
//!
//! Bevara splits text into words itself, the way SQLite's `unicode61`
//! tokenizer does (runs of letters and digits, lower-cased, diacritics kept),
//! and gives Postgres only those words, space-separated, for a `simple`
//! vector. Postgres' own parser would keep `https://www.sala.se/skola`,
//! `anna@sala.se` and `2026-06-01` as single tokens (so `skola`, `anna` and
//! `06` would not find them), and in a database with the C locale lower-cases
//! only ASCII letters (so `åtgärd` would not find `Åtgärd`).

use super::{no_limit_if_negative, q};
use crate::behaviour::items::Item;
use crate::db::rows::{to_json_list, ItemRow, SearchRow};
use crate::db::{ArtifactRecord, CaptureFinish, DbError, SearchHit};
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder};
use std::collections::HashMap;

/// At most this much of an item's words goes into its vector: a `tsvector`
/// is limited to 1 MB, and no post or comment comes near this (Facebook's
/// limit is 63,206 characters).
const WORDS_MAX_BYTES: usize = 200_000;

/// The words of `s` as SQLite's `unicode61` tokenizer sees them.
fn tokens(s: &str) -> impl Iterator<Item = String> + '_ {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(str::to_lowercase)
}

/// What an item's search vector is made from: the words of its text and its author.
fn item_words(text: &str, author: Option<&str>) -> String {
    let mut out = String::new();
    for t in tokens(text).chain(author.into_iter().flat_map(tokens)) {
        if out.len() + t.len() + 1 > WORDS_MAX_BYTES {
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&t);
    }
    out
}

/// The query's words, each as the phrase of its tokens (`sala.se` is
/// `sala se`); words without a letter or digit are left out, as FTS5 leaves
/// out an empty phrase.
fn query_phrases(words: &str) -> Vec<String> {
    words
        .split_whitespace()
        .map(|w| tokens(w).collect::<Vec<_>>().join(" "))
        .filter(|p| !p.is_empty())
        .collect()
}

/// The item columns [`ItemRow`] reads (not the search vector).
const ITEM_COLUMNS: &str = "i.capture_id, i.item_id, i.position, i.kind, i.parent, i.author, \
     i.published_shown, i.published_at, i.text, i.permalink, i.links, i.media";

/// The items of a capture, in page order.
pub(super) async fn items(pool: &PgPool, capture_id: &str) -> Result<Vec<Item>, DbError> {
    let rows: Vec<ItemRow> = sqlx::query_as(&format!(
        "SELECT {ITEM_COLUMNS} FROM items i WHERE i.capture_id = $1 ORDER BY i.position"
    ))
    .bind(capture_id)
    .fetch_all(pool)
    .await
    .map_err(q("read items"))?;
    Ok(rows.into_iter().map(ItemRow::item).collect())
}

/// Items whose text or author has every word, newest capture first.
pub(super) async fn search(
    pool: &PgPool,
    words: &str,
    channel: Option<&str>,
    limit: i64,
) -> Result<Vec<SearchHit>, DbError> {
    let phrases = query_phrases(words);
    if phrases.is_empty() {
        return Ok(Vec::new());
    }
    let mut qb: QueryBuilder<Postgres> = QueryBuilder::new(format!(
        "SELECT {ITEM_COLUMNS}, c.channel_id AS hit_channel, c.requested_at AS hit_requested_at
         FROM items i JOIN captures c ON c.id = i.capture_id
         WHERE c.state = 'complete' AND i.search @@ ("
    ));
    // Every word must match; a word of several tokens (`sala.se`) is a
    // phrase, as a quoted FTS5 string is.
    let mut and = qb.separated(" && ");
    for p in phrases {
        and.push("phraseto_tsquery('simple', ")
            .push_bind_unseparated(p)
            .push_unseparated(")");
    }
    qb.push(")");
    if let Some(ch) = channel {
        qb.push(" AND c.channel_id = ").push_bind(ch.to_string());
    }
    qb.push(" ORDER BY c.requested_at DESC, i.position LIMIT ")
        .push_bind(no_limit_if_negative(limit));
    let rows: Vec<SearchRow> = qb
        .build_query_as()
        .fetch_all(pool)
        .await
        .map_err(q("search items"))?;
    Ok(rows.into_iter().map(SearchHit::from).collect())
}

/// Records one object of a capture, replacing one of the same name.
pub(super) async fn insert_artifact(
    conn: &mut PgConnection,
    id: &str,
    a: &ArtifactRecord,
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO artifacts (capture_id, name, key, media_type, bytes, sha256, width, height, version_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (capture_id, name) DO UPDATE SET key = EXCLUDED.key,
            media_type = EXCLUDED.media_type, bytes = EXCLUDED.bytes, sha256 = EXCLUDED.sha256,
            width = EXCLUDED.width, height = EXCLUDED.height, version_id = EXCLUDED.version_id",
    )
    .bind(id)
    .bind(&a.name)
    .bind(&a.key)
    .bind(&a.media_type)
    .bind(a.bytes)
    .bind(&a.sha256)
    .bind(a.width)
    .bind(a.height)
    .bind(&a.version_id)
    .execute(conn)
    .await
    .map_err(q("record artifact"))?;
    Ok(())
}

/// Marks a running capture complete with its artifacts and items, on the
/// caller's transaction; [`DbError::NotRunning`] if it is no longer running.
pub(super) async fn complete_in(
    conn: &mut PgConnection,
    id: &str,
    finish: &CaptureFinish,
    artifacts: &[ArtifactRecord],
    items: &[Item],
) -> Result<(), DbError> {
    // Locked first: a reaper failing the capture meanwhile waits for this
    // transaction, or has already ended the capture and nothing is written.
    let running: Option<String> = sqlx::query_scalar(
        "SELECT id FROM captures WHERE id = $1 AND state IN ('running', 'upload-pending') FOR UPDATE",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(q("lock capture"))?;
    if running.is_none() {
        return Err(DbError::NotRunning(id.to_string()));
    }
    insert_items(&mut *conn, id, items).await?;
    for a in artifacts {
        insert_artifact(&mut *conn, id, a).await?;
    }
    let done = sqlx::query(
        "UPDATE captures SET state = 'complete', finished_at = $1, final_url = $2, title = $3,
                warnings = $4, truncated = $5, manifest_key = $6, failure = NULL
         WHERE id = $7 AND state IN ('running', 'upload-pending')",
    )
    .bind(Utc::now())
    .bind(&finish.final_url)
    .bind(&finish.title)
    .bind(finish.warnings)
    .bind(finish.truncated)
    .bind(&finish.manifest_key)
    .bind(id)
    .execute(&mut *conn)
    .await
    .map_err(q("complete capture"))?;
    if done.rows_affected() != 1 {
        return Err(DbError::NotRunning(id.to_string()));
    }
    Ok(())
}

/// Records a capture's items in one statement. An id seen twice keeps its
/// last occurrence and position, as SQLite's `INSERT OR REPLACE` does.
async fn insert_items(
    conn: &mut PgConnection,
    capture_id: &str,
    items: &[Item],
) -> Result<(), DbError> {
    let last: HashMap<&str, usize> = items
        .iter()
        .enumerate()
        .map(|(pos, it)| (it.id.as_str(), pos))
        .collect();
    let mut c = Columns::default();
    for (pos, it) in items.iter().enumerate() {
        if last.get(it.id.as_str()) != Some(&pos) {
            continue;
        }
        c.item_id.push(it.id.clone());
        c.position.push(pos as i64);
        c.kind.push(it.kind.clone());
        c.parent.push(it.parent.clone());
        c.author.push(it.author.clone());
        c.published_shown.push(it.published.shown.clone());
        c.published_at.push(it.published.parsed);
        c.text.push(it.text.clone());
        c.permalink.push(it.permalink.clone());
        c.links.push(to_json_list(&it.links));
        c.media.push(to_json_list(&it.media));
        c.words.push(item_words(&it.text, it.author.as_deref()));
    }
    if c.item_id.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO items (capture_id, item_id, position, kind, parent, author, published_shown,
                            published_at, text, permalink, links, media, search)
         SELECT $1, u.item_id, u.position, u.kind, u.parent, u.author, u.published_shown,
                u.published_at, u.text, u.permalink, u.links, u.media, to_tsvector('simple', u.words)
         FROM UNNEST($2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[],
                     $8::timestamptz[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[])
              AS u(item_id, position, kind, parent, author, published_shown, published_at, text,
                   permalink, links, media, words)
         ON CONFLICT (capture_id, item_id) DO UPDATE SET position = EXCLUDED.position,
            kind = EXCLUDED.kind, parent = EXCLUDED.parent, author = EXCLUDED.author,
            published_shown = EXCLUDED.published_shown, published_at = EXCLUDED.published_at,
            text = EXCLUDED.text, permalink = EXCLUDED.permalink, links = EXCLUDED.links,
            media = EXCLUDED.media, search = EXCLUDED.search",
    )
    .bind(capture_id)
    .bind(c.item_id)
    .bind(c.position)
    .bind(c.kind)
    .bind(c.parent)
    .bind(c.author)
    .bind(c.published_shown)
    .bind(c.published_at)
    .bind(c.text)
    .bind(c.permalink)
    .bind(c.links)
    .bind(c.media)
    .bind(c.words)
    .execute(conn)
    .await
    .map_err(q("record items"))?;
    Ok(())
}

/// The items' columns, one array each, for `UNNEST`.
#[derive(Default)]
struct Columns {
    item_id: Vec<String>,
    position: Vec<i64>,
    kind: Vec<String>,
    parent: Vec<Option<String>>,
    author: Vec<Option<String>>,
    published_shown: Vec<Option<String>>,
    published_at: Vec<Option<DateTime<Utc>>>,
    text: Vec<String>,
    permalink: Vec<Option<String>>,
    links: Vec<String>,
    media: Vec<String>,
    words: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_split_as_unicode61_does() {
        assert_eq!(
            item_words(
                "ÅTGÄRDSPLAN: läs https://www.sala.se/förskolor, anna@sala.se 2026-06-01!",
                Some("Björn_Ö")
            ),
            "åtgärdsplan läs https www sala se förskolor anna sala se 2026 06 01 björn ö"
        );
        assert_eq!(
            query_phrases("\"; DROP sala.se — Å"),
            vec!["drop", "sala se", "å"]
        );
        assert!(query_phrases(" -- ").is_empty());
    }

    #[test]
    fn words_are_capped_at_a_word() {
        let long = "ord ".repeat(WORDS_MAX_BYTES);
        let w = item_words(&long, Some("Anna"));
        assert!(
            w.len() <= WORDS_MAX_BYTES && w.ends_with("ord"),
            "{}",
            w.len()
        );
    }
}
