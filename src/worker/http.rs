//! The worker's HTTP port: `/healthz` (the process answers), `/readyz` (the
//! database answers, Chromium can be started and the data directory has room) and Prometheus `/metrics`.

use super::{WorkerError, WorkerState};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use std::sync::Arc;
use tokio::task::JoinHandle;

/// Binds `addr` and serves the worker's endpoints until the handle is aborted.
pub async fn serve(addr: &str, state: Arc<WorkerState>) -> Result<JoinHandle<()>, WorkerError> {
    let listen_err = |source| WorkerError::Listen {
        addr: addr.to_string(),
        source,
    };
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(listen_err)?;
    let app = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(state);
    tracing::info!(addr, "worker endpoints: /healthz /readyz /metrics");
    Ok(tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "the worker's HTTP server stopped");
        }
    }))
}

async fn readyz(State(state): State<Arc<WorkerState>>) -> impl IntoResponse {
    let mut problems = Vec::new();
    if let Err(e) = state.bevara.db().ping().await {
        problems.push(format!("database: {e}"));
    }
    let chromium = &state.bevara.settings().browser.chromium_path;
    if !chromium.exists() {
        problems.push(format!("Chromium not found at {}", chromium.display()));
    } else if !state.browser_ok() {
        problems.push("Chromium failed to start at the last try".to_string());
    }
    if !state.disk_ok() {
        problems.push(format!(
            "the data directory has less than worker.min_free_mb = {} MiB free",
            state.bevara.settings().worker.min_free_mb
        ));
    }
    if problems.is_empty() {
        (StatusCode::OK, "ready\n".to_string())
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {}\n", problems.join("; ")),
        )
    }
}

async fn metrics(State(state): State<Arc<WorkerState>>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
}
