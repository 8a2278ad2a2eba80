//! The sample channel Bevara ships: a small Facebook-like municipal page
//! served on 127.0.0.1, so `bevara demo` shows a whole capture on a machine
//! with no network. The same page is the fixture of the capture tests.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::net::SocketAddr;

/// The sample page and its script (Swedish labels, consent dialog, a feed
/// that loads on scroll, comments and replies behind expanders).
pub const FEED_HTML: &str = include_str!("../tests/fixtures/site/feed.html");
pub const FEED_JS: &str = include_str!("../tests/fixtures/site/feed.js");
const ELSEWHERE_HTML: &str = include_str!("../tests/fixtures/site/elsewhere.html");

fn page(ct: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, ct)], body).into_response()
}

/// The sample site's routes, mounted at `/`.
pub fn router() -> Router {
    Router::new()
        .route(
            "/",
            get(|| async { page("text/html; charset=utf-8", FEED_HTML) }),
        )
        .route(
            "/feed.html",
            get(|| async { page("text/html; charset=utf-8", FEED_HTML) }),
        )
        .route(
            "/feed.js",
            get(|| async { page("text/javascript; charset=utf-8", FEED_JS) }),
        )
        .route(
            "/elsewhere.html",
            get(|| async { page("text/html; charset=utf-8", ELSEWHERE_HTML) }),
        )
        .route(
            "/login.html",
            get(|| async { page("text/html; charset=utf-8", ELSEWHERE_HTML) }),
        )
        .fallback(|| async { (StatusCode::NOT_FOUND, "not found") })
}

/// Serves `router` on 127.0.0.1 at an ephemeral port until the returned task is aborted.
pub async fn serve(router: Router) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            tracing::warn!(error = %e, "sample site server stopped");
        }
    });
    Ok((addr, task))
}
