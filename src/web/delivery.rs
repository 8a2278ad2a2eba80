//! Delivery and holds over the API and the pages: an E-ARK package of
//! snapshots as a zip download, and legal holds placed and lifted. The
//! pages' forms and the API share these functions, and each action goes
//! into the audit log with the caller's name and role.

use super::{audit, bad, ApiError, ApiResult, Caller, Role};
use crate::db::Hold;
use crate::export::{ExportError, ExportOptions};
use crate::retention::RetentionError;
use crate::Bevara;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;
use serde_json::json;

/// What to deliver: snapshot ids, or a channel's complete snapshots in a
/// period.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ExportRequest {
    #[serde(default)]
    pub snapshots: Vec<String>,
    pub channel: Option<String>,
    /// A date (its start) or an RFC 3339 time.
    pub from: Option<String>,
    /// A date (to its end) or an RFC 3339 time.
    pub to: Option<String>,
    #[serde(default)]
    pub renditions: bool,
}

impl From<ExportError> for ApiError {
    fn from(e: ExportError) -> Self {
        match e {
            ExportError::Usage(m) => bad(m),
            ExportError::Archive(a) => a.into(),
            ExportError::Db(d) => d.into(),
            other => ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "export-failed",
                other.to_string(),
            ),
        }
    }
}

impl From<RetentionError> for ApiError {
    fn from(e: RetentionError) -> Self {
        match e {
            RetentionError::Usage(m) => bad(m),
            RetentionError::Db(d) => d.into(),
            other => ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "storage",
                other.to_string(),
            ),
        }
    }
}

fn time(s: &Option<String>, end: bool) -> Result<Option<chrono::DateTime<chrono::Utc>>, ApiError> {
    s.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|d| crate::queue::parse_time(d, end).map_err(bad))
        .transpose()
}

/// The package of what `r` selects, as a zip download. Audited.
pub(crate) async fn export_for(b: &Bevara, c: &Caller, r: &ExportRequest) -> ApiResult {
    let ids = if !r.snapshots.is_empty() {
        r.snapshots.clone()
    } else if let Some(ch) = r.channel.as_deref().filter(|c| !c.is_empty()) {
        b.db().channel(ch).await?;
        crate::export::select(b, ch, time(&r.from, false)?, time(&r.to, true)?).await?
    } else {
        return Err(bad("give snapshots or a channel"));
    };
    if ids.is_empty() {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "no complete snapshot to export",
        ));
    }
    let work = tempfile::tempdir()
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "storage", e.to_string()))?;
    let opts = ExportOptions {
        zip: true,
        renditions: r.renditions,
    };
    let e = crate::export::export(b, &ids, work.path(), opts).await?;
    audit(
        b,
        &c.name,
        c.role.as_str(),
        "export",
        Some(r.channel.as_deref().unwrap_or(&ids[0])),
        json!({"package": e.package_id, "snapshots": e.snapshots, "renditions": e.renditions.len(), "bytes": e.bytes}),
    )
    .await;
    let file = tokio::fs::File::open(&e.path)
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "storage", e.to_string()))?;
    // The open file keeps the bytes readable after the directory is removed.
    drop(work);
    super::zip_download(file, &format!("{}.zip", e.package_id), Some(&e.package_id)).await
}

pub(super) async fn export(
    State(b): State<Bevara>,
    c: Caller,
    Json(r): Json<ExportRequest>,
) -> ApiResult {
    c.need(Role::Archivist)?;
    export_for(&b, &c, &r).await
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct HoldRequest {
    pub snapshot: Option<String>,
    pub channel: Option<String>,
    #[serde(default)]
    pub reason: String,
}

/// Places a legal hold. Audited.
pub(crate) async fn hold_for(
    b: &Bevara,
    c: &Caller,
    r: &HoldRequest,
) -> Result<(Hold, usize), ApiError> {
    let nonempty = |s: &Option<String>| s.clone().filter(|s| !s.trim().is_empty());
    Ok(crate::retention::add_hold(
        b,
        nonempty(&r.snapshot).as_deref(),
        nonempty(&r.channel).as_deref(),
        &r.reason,
        &c.name,
        c.role.as_str(),
    )
    .await?)
}

/// Lifts a legal hold. Audited.
pub(crate) async fn lift_for(b: &Bevara, c: &Caller, id: &str) -> Result<(), ApiError> {
    if crate::retention::remove_hold(b, id, &c.name, c.role.as_str()).await? {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not-found",
            format!("no hold {id} in force"),
        ))
    }
}

pub(super) async fn add_hold(
    State(b): State<Bevara>,
    c: Caller,
    Json(r): Json<HoldRequest>,
) -> ApiResult {
    c.need(Role::Archivist)?;
    let (h, objects) = hold_for(&b, &c, &r).await?;
    let mut v = serde_json::to_value(&h).unwrap_or_default();
    v["objects_held"] = json!(objects);
    Ok((StatusCode::CREATED, Json(v)).into_response())
}

pub(super) async fn remove_hold(
    State(b): State<Bevara>,
    c: Caller,
    Path(id): Path<String>,
) -> ApiResult {
    c.need(Role::Archivist)?;
    lift_for(&b, &c, &id).await?;
    Ok(Json(json!({"hold": id, "removed": true})).into_response())
}

#[derive(Debug, Deserialize)]
pub(super) struct HoldsQuery {
    #[serde(default)]
    all: bool,
}

pub(super) async fn list_holds(
    State(b): State<Bevara>,
    c: Caller,
    Query(q): Query<HoldsQuery>,
) -> ApiResult {
    c.need(Role::Archivist)?;
    Ok(Json(b.db().holds(!q.all).await?).into_response())
}

/// The holds in force that cover a snapshot of `channel` (`snapshot`), or
/// the channel itself.
pub(crate) async fn holds_covering(
    b: &Bevara,
    channel: &str,
    snapshot: Option<&str>,
) -> Result<Vec<Hold>, ApiError> {
    Ok(b.db()
        .holds(true)
        .await?
        .into_iter()
        .filter(|h| {
            h.channel_id.as_deref() == Some(channel)
                || (snapshot.is_some() && h.snapshot_id.as_deref() == snapshot)
        })
        .collect())
}
