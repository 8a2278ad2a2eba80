//! Serving the big feed: the page, its script and the JSON its script
//! fetches, every answer after the same latency, with the traffic counted.

use super::content::{base36, comment, fnv, post, reply};
use super::{comment_count, reply_count, COMMENT_BATCH, PATH, POSTS, POST_BATCH};
use axum::extract::{Path as UrlPath, Request};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Serialize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SCRIPT: &str = include_str!("feed.js");
/// The style sheet, with `${role}` for each role's generated class.
const STYLE: &str = include_str!("page.css");

/// Requests served and how long at least one was in flight, for telling
/// time spent waiting on the server from time spent working.
#[derive(Debug, Default)]
pub struct Traffic {
    inner: Mutex<TrafficInner>,
}

#[derive(Debug, Default)]
struct TrafficInner {
    requests: u64,
    in_flight: u32,
    busy_since: Option<Instant>,
    busy: Duration,
}

impl Traffic {
    /// Requests answered or in flight so far.
    pub fn requests(&self) -> u64 {
        self.lock().requests
    }

    /// Time at least one request was in flight.
    pub fn busy(&self) -> Duration {
        let t = self.lock();
        t.busy + t.busy_since.map_or(Duration::ZERO, |s| s.elapsed())
    }

    /// Starts counting afresh.
    pub fn reset(&self) {
        let mut t = self.lock();
        let in_flight = t.in_flight;
        *t = TrafficInner {
            in_flight,
            busy_since: (in_flight > 0).then(Instant::now),
            ..Default::default()
        };
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, TrafficInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn begin(&self) {
        let mut t = self.lock();
        t.requests += 1;
        t.in_flight += 1;
        if t.in_flight == 1 {
            t.busy_since = Some(Instant::now());
        }
    }

    fn end(&self) {
        let mut t = self.lock();
        t.in_flight = t.in_flight.saturating_sub(1);
        if t.in_flight == 0 {
            if let Some(s) = t.busy_since.take() {
                t.busy += s.elapsed();
            }
        }
    }
}

/// The big feed's routes, under [`PATH`], each answer delayed by `latency`.
pub fn bigfeed_router(latency: Duration) -> Router {
    bigfeed_router_counted(latency, Arc::new(Traffic::default()))
}

/// [`bigfeed_router`], counting its requests in `traffic`.
pub fn bigfeed_router_counted(latency: Duration, traffic: Arc<Traffic>) -> Router {
    Router::new()
        .route("/bigfeed/", get(|| async { html(page_html()) }))
        .route("/bigfeed/feed.js", get(|| async { script() }))
        .route("/bigfeed/api/posts/{from}", get(posts_after))
        .route("/bigfeed/api/comments/{post}/{shown}", get(comments_after))
        .route("/bigfeed/api/replies/{comment}", get(replies_of))
        .route("/bigfeed/api/more/{id}", get(more_of))
        .fallback(|| async { (StatusCode::NOT_FOUND, "hittades inte") })
        .layer(axum::middleware::from_fn(
            move |req: Request, next: Next| {
                let traffic = traffic.clone();
                async move {
                    traffic.begin();
                    tokio::time::sleep(latency).await;
                    let res = next.run(req).await;
                    traffic.end();
                    res
                }
            },
        ))
}

fn html(body: String) -> Response {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response()
}

fn script() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        SCRIPT,
    )
        .into_response()
}

fn json<T: Serialize>(v: &T) -> Response {
    match serde_json::to_string(v) {
        Ok(s) => ([(header::CONTENT_TYPE, "application/json")], s).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "hittades inte").into_response()
}

/// Numbers out of an id such as `c01_03`, after its letter.
fn parse_id(id: &str, letter: char, parts: usize) -> Option<Vec<u32>> {
    let rest = id.strip_prefix(letter)?;
    let v: Vec<u32> = rest
        .split('_')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    (v.len() == parts && v.iter().all(|&x| x > 0)).then_some(v)
}

async fn posts_after(UrlPath(from): UrlPath<u32>) -> Response {
    let from = from.max(1);
    let to = (from + POST_BATCH - 1).min(POSTS);
    json(&(from..=to).map(post).collect::<Vec<_>>())
}

async fn comments_after(UrlPath((post_id, shown)): UrlPath<(String, u32)>) -> Response {
    let Some([n]) = parse_id(&post_id, 'p', 1).as_deref().map(|v| [v[0]]) else {
        return not_found();
    };
    if n > POSTS {
        return not_found();
    }
    let to = (shown + COMMENT_BATCH).min(comment_count(n));
    json(&(shown + 1..=to).map(|c| comment(n, c)).collect::<Vec<_>>())
}

async fn replies_of(UrlPath(id): UrlPath<String>) -> Response {
    let Some(v) = parse_id(&id, 'c', 2) else {
        return not_found();
    };
    let (n, c) = (v[0], v[1]);
    if n > POSTS || c > comment_count(n) {
        return not_found();
    }
    json(
        &(1..=reply_count(n, c))
            .map(|r| reply(n, c, r))
            .collect::<Vec<_>>(),
    )
}

async fn more_of(UrlPath(id): UrlPath<String>) -> Response {
    let node = if let Some(v) = parse_id(&id, 'p', 1) {
        (v[0] <= POSTS).then(|| post(v[0]))
    } else if let Some(v) = parse_id(&id, 'c', 2) {
        (v[0] <= POSTS && v[1] <= comment_count(v[0])).then(|| comment(v[0], v[1]))
    } else if let Some(v) = parse_id(&id, 'r', 3) {
        (v[0] <= POSTS && v[1] <= comment_count(v[0]) && v[2] <= reply_count(v[0], v[1]))
            .then(|| reply(v[0], v[1], v[2]))
    } else {
        None
    };
    match node {
        Some(x) if x.more => json(&serde_json::json!({ "text": format!("{}{}", x.head, x.tail) })),
        _ => not_found(),
    }
}

/// Generated class names, as a site built with atomic CSS has them: two or
/// three random-looking names per role, never a semantic one.
fn class(role: &str) -> String {
    let parts = 2 + (fnv(role) % 2) as usize;
    (0..parts)
        .map(|i| format!("x{}", base36(fnv(&format!("{role}#{i}")), 7)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The first class of a role's names, for the style sheet.
fn sel(role: &str) -> String {
    format!(".{}", class(role).split(' ').next().unwrap_or_default())
}

const ROLES: &[&str] = &[
    "header",
    "page",
    "feedColumn",
    "feedTitle",
    "post",
    "postHead",
    "postAuthor",
    "postMeta",
    "postMenu",
    "postText",
    "avatar",
    "avatarSmall",
    "stats",
    "actions",
    "action",
    "comments",
    "commentList",
    "comment",
    "reply",
    "commentBody",
    "bubble",
    "name",
    "commentText",
    "meta",
    "metaButton",
    "time",
    "replies",
    "loadMore",
    "seeMore",
    "label",
    "spinner",
    "consentBack",
    "consent",
    "consentButtons",
    "consentPrimary",
    "consentSecondary",
    "badge",
];

/// The style sheet with each `${role}` replaced by that role's first class.
fn style() -> String {
    let mut css = STYLE.to_string();
    for r in ROLES {
        css = css.replace(&format!("${{{r}}}"), &sel(r));
    }
    css
}

/// The page itself: the header, an empty feed, the class names and the script.
fn page_html() -> String {
    let classes: serde_json::Map<String, serde_json::Value> = ROLES
        .iter()
        .map(|r| (r.to_string(), class(r).into()))
        .collect();
    let config = serde_json::json!({
        "api": format!("{PATH}api/"),
        "total": POSTS,
        "nearBottom": 1200,
    });
    format!(
        "<!DOCTYPE html><html lang=\"sv\" dir=\"ltr\"><head><meta charset=\"utf-8\">\
         <link rel=\"icon\" href=\"data:,\"><title>Sala kommun | Facebook</title>\
         <style>{css}</style></head><body>\
         <div class=\"{header}\" role=\"banner\">Sala kommun</div>\
         <div class=\"{page}\" role=\"main\"><div class=\"{column}\">\
         <h2 class=\"{title}\">Inlägg</h2><div role=\"feed\"></div></div></div>\
         <script>window.__bigfeedClasses={classes};window.__bigfeedConfig={config};</script>\
         <script src=\"{PATH}feed.js\"></script></body></html>",
        css = style(),
        header = class("header"),
        page = class("page"),
        column = class("feedColumn"),
        title = class("feedTitle"),
        classes = serde_json::Value::Object(classes),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_names_look_generated() {
        for r in ROLES {
            let c = class(r);
            assert!(
                c.split(' ').all(|x| x.len() == 8 && x.starts_with('x')),
                "{c}"
            );
            assert!(!c.contains(&r.to_lowercase()));
        }
        assert!(
            !style().contains('$'),
            "every role in the style sheet has a class"
        );
    }
}
