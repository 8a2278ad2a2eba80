//! `bevara serve`: the HTTP API under `/api/v1` for archivists,
//! administrators and ops, with roles, API tokens and an audit log of every
//! state-changing action.
//!
//! Every request but `/healthz` needs `Authorization: Bearer TOKEN`; a
//! missing or unknown token is 401, a role that may not is 403. Errors are
//! JSON with a stable kebab-case `code` and a message.

use crate::db::{ApiToken, AuditEntry, CaptureFilter, DbError};
use crate::queue::{NewJob, TriggerKind};
use crate::registry::{Channel, ChannelId, Platform};
use crate::Bevara;
use axum::body::Body;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::{header, request::Parts, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest as _, Sha256};

/// Who may do what. `viewer` < `archivist` < `admin` see content; `ops`
/// sees jobs and health, no content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Viewer,
    Archivist,
    Admin,
    Ops,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "viewer" => Some(Role::Viewer),
            "archivist" => Some(Role::Archivist),
            "admin" => Some(Role::Admin),
            "ops" => Some(Role::Ops),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Archivist => "archivist",
            Role::Admin => "admin",
            Role::Ops => "ops",
        }
    }

    /// Whether this role may do what `need` is required for.
    pub fn may(self, need: Role) -> bool {
        let content = |r: Role| match r {
            Role::Viewer => 1,
            Role::Archivist => 2,
            Role::Admin => 3,
            Role::Ops => 0,
        };
        match need {
            // Jobs: ops, and the admins who start captures.
            Role::Ops => matches!(self, Role::Ops | Role::Admin),
            _ => content(self) >= content(need),
        }
    }
}

/// A new token's secret: 32 random bytes, hex, with a prefix that says what it is.
pub fn new_secret() -> String {
    use chacha20poly1305::aead::rand_core::RngCore;
    let mut b = [0u8; 32];
    chacha20poly1305::aead::OsRng.fill_bytes(&mut b);
    format!("bvr_{}", hex::encode(b))
}

/// What the register keeps of a secret.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Creates a token; returns it and its secret, which is shown once.
pub async fn create_token(
    bevara: &Bevara,
    role: Role,
    name: &str,
    by: Option<String>,
) -> Result<(ApiToken, String), DbError> {
    let secret = new_secret();
    let token = ApiToken {
        id: ulid::Ulid::new().to_string(),
        name: name.to_string(),
        role: role.as_str().to_string(),
        created_at: Utc::now(),
        created_by: by.clone(),
        revoked_at: None,
    };
    bevara.db().add_token(&token, &hash_secret(&secret)).await?;
    audit(
        bevara,
        by.as_deref().unwrap_or("cli"),
        "admin",
        "token.create",
        Some(&token.id),
        json!({"name": name, "role": role.as_str()}),
    )
    .await;
    Ok((token, secret))
}

/// Writes one entry of the audit log; a failure is logged, not lost silently.
pub async fn audit(
    bevara: &Bevara,
    actor: &str,
    role: &str,
    action: &str,
    target: Option<&str>,
    detail: serde_json::Value,
) {
    let e = AuditEntry {
        id: ulid::Ulid::new().to_string(),
        at: Utc::now(),
        actor: actor.to_string(),
        role: role.to_string(),
        action: action.to_string(),
        target: target.map(str::to_string),
        detail: Some(detail.to_string()),
    };
    if let Err(err) = bevara.db().add_audit(&e).await {
        tracing::error!(error = %err, action, "cannot write the audit log");
    }
}

/// An API error: HTTP status, stable code, message.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({"code": self.code, "message": self.message})),
        )
            .into_response()
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        let (status, code) = match &e {
            DbError::NoChannel(_) | DbError::NoCapture(_) | DbError::NoJob(_) => {
                (StatusCode::NOT_FOUND, "not-found")
            }
            DbError::ChannelExists(_) => (StatusCode::CONFLICT, "channel-exists"),
            DbError::JobState { .. } => (StatusCode::CONFLICT, "job-state"),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "storage"),
        };
        ApiError::new(status, code, e.to_string())
    }
}

impl From<crate::archive::ArchiveError> for ApiError {
    fn from(e: crate::archive::ArchiveError) -> Self {
        use crate::archive::ArchiveError as A;
        match e {
            A::Db(d) => d.into(),
            A::NotComplete { .. } => {
                ApiError::new(StatusCode::CONFLICT, "not-complete", e.to_string())
            }
            A::Store(crate::store::StoreError::NotFound(_)) => {
                ApiError::new(StatusCode::NOT_FOUND, "not-found", e.to_string())
            }
            other => ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "storage",
                other.to_string(),
            ),
        }
    }
}

/// The caller, from its bearer token.
#[derive(Debug, Clone)]
pub struct Caller {
    pub name: String,
    pub role: Role,
}

impl Caller {
    fn need(&self, role: Role) -> Result<(), ApiError> {
        if self.role.may(role) {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!(
                    "the role {} may not do this (it needs {})",
                    self.role.as_str(),
                    role.as_str()
                ),
            ))
        }
    }
}

impl FromRequestParts<Bevara> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, bevara: &Bevara) -> Result<Self, ApiError> {
        let unauthorized = |m: &str| ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", m);
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                unauthorized("send Authorization: Bearer TOKEN (see `bevara token create`)")
            })?;
        let secret = value
            .strip_prefix("Bearer ")
            .ok_or_else(|| unauthorized("the Authorization header must be Bearer TOKEN"))?
            .trim();
        let token = bevara
            .db()
            .token_by_hash(&hash_secret(secret))
            .await?
            .ok_or_else(|| unauthorized("unknown or revoked token"))?;
        let role = Role::parse(&token.role).ok_or_else(|| unauthorized("the token has no role"))?;
        Ok(Caller {
            name: format!("token:{}", token.name),
            role,
        })
    }
}

/// The API's routes.
pub fn router(bevara: Bevara) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/api/v1/channels", get(list_channels).post(add_channel))
        .route("/api/v1/channels/{id}", get(show_channel))
        .route("/api/v1/channels/{id}/close", post(close_channel))
        .route("/api/v1/channels/{id}/captures", post(request_capture))
        .route("/api/v1/channels/{id}/snapshots", get(channel_snapshots))
        .route("/api/v1/snapshots/{id}", get(show_snapshot))
        .route("/api/v1/snapshots/{id}/artifacts/{name}", get(artifact))
        .route("/api/v1/snapshots/{id}/verify", post(verify))
        .route("/api/v1/search", get(search))
        .route("/api/v1/jobs", get(jobs))
        .route("/api/v1/jobs/{id}/retry", post(retry_job))
        .route("/api/v1/audit", get(audit_log))
        .route("/api/v1/openapi.json", get(openapi))
        .fallback(|| async {
            ApiError::new(StatusCode::NOT_FOUND, "not-found", "no such endpoint")
        })
        .with_state(bevara)
}

/// Serves the API on `web.listen` until the process ends.
pub async fn serve(bevara: Bevara) -> Result<(), std::io::Error> {
    let addr = bevara.settings().web.listen.clone();
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    tracing::info!(%addr, "serving the API under /api/v1");
    eprintln!("serving on http://{}", listener.local_addr()?);
    axum::serve(listener, router(bevara)).await
}

type ApiResult = Result<Response, ApiError>;

/// Every endpoint: method, path, the role it needs, what it does. The
/// OpenAPI document is made from this list.
pub const ENDPOINTS: &[(&str, &str, &str, &str)] = &[
    ("get", "/api/v1/channels", "viewer", "The register"),
    ("post", "/api/v1/channels", "admin", "Register a channel"),
    ("get", "/api/v1/channels/{id}", "viewer", "One channel"),
    ("post", "/api/v1/channels/{id}/close", "admin", "Close a channel; its final capture is queued"),
    ("post", "/api/v1/channels/{id}/captures", "admin", "Request a capture now: {\"reason\": \"…\"}; 202 with the job id, joining a queued or running job"),
    ("get", "/api/v1/channels/{id}/snapshots", "viewer", "The channel's captures"),
    ("get", "/api/v1/snapshots/{id}", "viewer", "A capture and its manifest"),
    ("get", "/api/v1/snapshots/{id}/artifacts/{name}", "archivist", "An artifact's bytes; one byte range is served as 206"),
    ("post", "/api/v1/snapshots/{id}/verify", "archivist", "Read every object back against the manifest"),
    ("get", "/api/v1/search", "viewer", "Items across channels: ?q=WORDS[&channel=ID][&limit=N]"),
    ("get", "/api/v1/jobs", "ops", "The newest jobs"),
    ("post", "/api/v1/jobs/{id}/retry", "ops", "Queue a failed or cancelled job again"),
    ("get", "/api/v1/audit", "archivist", "The audit log, newest first"),
    ("get", "/api/v1/openapi.json", "viewer", "This document"),
];

/// An OpenAPI 3.1 description of [`ENDPOINTS`].
pub fn openapi_document() -> serde_json::Value {
    let mut paths = serde_json::Map::new();
    for (method, path, role, summary) in ENDPOINTS {
        let params: Vec<serde_json::Value> = path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
            .map(|p| json!({"name": p, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        let entry = paths.entry(path.to_string()).or_insert_with(|| json!({}));
        entry[*method] = json!({
            "summary": summary,
            "description": format!("Needs the role {role} (or one that includes it)."),
            "parameters": params,
            "security": [{"bearer": []}],
            "responses": {
                "200": {"description": "done"},
                "401": {"description": "no or unknown token", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                "403": {"description": "the role may not", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
            }
        });
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "Bevara", "version": env!("CARGO_PKG_VERSION")},
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": {"type": "object", "required": ["code", "message"], "properties": {
                "code": {"type": "string", "description": "stable, kebab-case"},
                "message": {"type": "string"}
            }}}
        }
    })
}

async fn openapi(c: Caller) -> ApiResult {
    c.need(Role::Viewer)?;
    Ok(Json(openapi_document()).into_response())
}

async fn list_channels(State(b): State<Bevara>, c: Caller) -> ApiResult {
    c.need(Role::Viewer)?;
    Ok(Json(b.db().list_channels().await?).into_response())
}

async fn show_channel(State(b): State<Bevara>, c: Caller, Path(id): Path<String>) -> ApiResult {
    c.need(Role::Viewer)?;
    Ok(Json(b.db().channel(&id).await?).into_response())
}

#[derive(Deserialize)]
struct NewChannel {
    id: String,
    platform: String,
    url: String,
    name: Option<String>,
    owner: Option<String>,
    #[serde(default)]
    admins: Vec<String>,
    purpose: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default = "yes")]
    recording: bool,
    retain_days: Option<u32>,
}

fn yes() -> bool {
    true
}

fn bad(message: impl std::fmt::Display) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "bad-request", message.to_string())
}

async fn add_channel(State(b): State<Bevara>, c: Caller, Json(n): Json<NewChannel>) -> ApiResult {
    c.need(Role::Admin)?;
    let id: ChannelId = n.id.parse().map_err(bad)?;
    let platform: Platform = n.platform.parse().map_err(bad)?;
    let url = crate::target::parse(&n.url)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid-target", e.to_string()))?;
    let channel = Channel {
        id,
        platform,
        url: url.to_string(),
        name: n.name,
        owner: n.owner,
        admins: n.admins,
        purpose: n.purpose,
        tags: n.tags,
        opened_at: Utc::now(),
        closed_at: None,
        retain_days: n.retain_days,
        recording: n.recording,
    };
    b.db().add_channel(&channel).await?;
    audit(
        &b,
        &c.name,
        c.role.as_str(),
        "channel.add",
        Some(channel.id.as_str()),
        json!({"url": channel.url, "platform": channel.platform.as_str()}),
    )
    .await;
    Ok((StatusCode::CREATED, Json(channel)).into_response())
}

async fn close_channel(State(b): State<Bevara>, c: Caller, Path(id): Path<String>) -> ApiResult {
    c.need(Role::Admin)?;
    let cid: ChannelId = id.parse().map_err(bad)?;
    let job = crate::queue::close_channel(b.db(), &cid, Some(c.name.clone())).await?;
    let closed = job.is_some();
    if closed {
        audit(
            &b,
            &c.name,
            c.role.as_str(),
            "channel.close",
            Some(&id),
            json!({"job": job}),
        )
        .await;
    }
    Ok(Json(json!({"channel": id, "closed": closed, "final_capture_job": job})).into_response())
}

#[derive(Deserialize)]
struct CaptureRequest {
    reason: Option<String>,
}

async fn request_capture(
    State(b): State<Bevara>,
    c: Caller,
    Path(id): Path<String>,
    Json(r): Json<CaptureRequest>,
) -> ApiResult {
    c.need(Role::Admin)?;
    let reason = r
        .reason
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "reason-required",
                "say why the capture is needed: {\"reason\": \"…\"}",
            )
        })?;
    b.db().channel(&id).await?;
    let job = NewJob::new(&id, TriggerKind::AdHoc)
        .reason(Some(reason.clone()))
        .requested_by(Some(c.name.clone()));
    let e = b.db().enqueue(&job, Utc::now()).await?;
    audit(
        &b,
        &c.name,
        c.role.as_str(),
        "capture.request",
        Some(&id),
        json!({"job": e.job_id, "reason": reason, "joined": e.joined}),
    )
    .await;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"job_id": e.job_id, "joined": e.joined})),
    )
        .into_response())
}

async fn channel_snapshots(
    State(b): State<Bevara>,
    c: Caller,
    Path(id): Path<String>,
) -> ApiResult {
    c.need(Role::Viewer)?;
    let channel: ChannelId = id.parse().map_err(bad)?;
    b.db().channel(&id).await?;
    let list = b
        .db()
        .list_captures(&CaptureFilter {
            channel: Some(channel),
            ..Default::default()
        })
        .await?;
    Ok(Json(list).into_response())
}

async fn show_snapshot(State(b): State<Bevara>, c: Caller, Path(id): Path<String>) -> ApiResult {
    c.need(Role::Viewer)?;
    let record = b.db().capture(&id).await?;
    let manifest = match crate::archive::manifest(&b, &id).await {
        Ok((_, m)) => Some(m),
        Err(crate::archive::ArchiveError::NotComplete { .. }) => None,
        Err(e) => return Err(e.into()),
    };
    Ok(Json(json!({"snapshot": record, "manifest": manifest})).into_response())
}

async fn artifact(
    State(b): State<Bevara>,
    c: Caller,
    Path((id, name)): Path<(String, String)>,
    headers: axum::http::HeaderMap,
) -> ApiResult {
    c.need(Role::Archivist)?;
    let (rec, manifest) = crate::archive::manifest(&b, &id).await?;
    let (key, media_type) = if name == "manifest.json" {
        (
            rec.manifest_key.unwrap_or_default(),
            "application/json".to_string(),
        )
    } else {
        let a = manifest
            .artifacts
            .iter()
            .find(|a| a.name == name)
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::NOT_FOUND,
                    "not-found",
                    format!("snapshot {id} has no artifact {name}"),
                )
            })?;
        (a.key.clone(), a.media_type.clone())
    };
    // Through a temporary file, so a large recording is never held in memory.
    let tmp = tempfile::NamedTempFile::new()
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "storage", e.to_string()))?;
    let bytes = b
        .store()
        .get_to_file(&key, tmp.path())
        .await
        .map_err(crate::archive::ArchiveError::from)?;
    let mut file = tokio::fs::File::open(tmp.path())
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "storage", e.to_string()))?;
    drop(tmp);
    // One byte range, for seeking in the video: 206 with the slice.
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map(|v| byte_range(v, bytes));
    let (status, start, len) = match range {
        None => (StatusCode::OK, 0, bytes),
        Some(Some((a, z))) => (StatusCode::PARTIAL_CONTENT, a, z - a + 1),
        Some(None) => {
            return Ok((
                StatusCode::RANGE_NOT_SATISFIABLE,
                [(header::CONTENT_RANGE, format!("bytes */{bytes}"))],
            )
                .into_response())
        }
    };
    if start > 0 {
        use tokio::io::AsyncSeekExt;
        file.seek(std::io::SeekFrom::Start(start))
            .await
            .map_err(|e| {
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "storage", e.to_string())
            })?;
    }
    // The file is already unlinked; the open handle keeps it readable.
    let body = Body::from_stream(tokio_util::io::ReaderStream::with_capacity(
        tokio::io::AsyncReadExt::take(file, len),
        256 * 1024,
    ));
    let mut res = (
        status,
        [
            (header::CONTENT_TYPE, media_type),
            (header::CONTENT_LENGTH, len.to_string()),
            (header::ACCEPT_RANGES, "bytes".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        body,
    )
        .into_response();
    if status == StatusCode::PARTIAL_CONTENT {
        let value = format!("bytes {start}-{}/{bytes}", start + len - 1);
        if let Ok(v) = axum::http::HeaderValue::from_str(&value) {
            res.headers_mut().insert(header::CONTENT_RANGE, v);
        }
    }
    Ok(res)
}

/// The first and last byte of `Range: bytes=…` in an object of `size`
/// bytes; `None` when it cannot be served (several ranges are not offered).
fn byte_range(value: &str, size: u64) -> Option<(u64, u64)> {
    let spec = value.trim().strip_prefix("bytes=")?;
    if spec.contains(',') || size == 0 {
        return None;
    }
    let (a, z) = spec.split_once('-')?;
    let (a, z) = match (a.trim(), z.trim()) {
        ("", suffix) => {
            let n: u64 = suffix.parse().ok()?;
            (size.saturating_sub(n), size - 1)
        }
        (a, "") => (a.parse().ok()?, size - 1),
        (a, z) => (a.parse().ok()?, z.parse::<u64>().ok()?.min(size - 1)),
    };
    (a <= z && a < size).then_some((a, z))
}

async fn verify(State(b): State<Bevara>, c: Caller, Path(id): Path<String>) -> ApiResult {
    c.need(Role::Archivist)?;
    let checks = crate::archive::verify(&b, &id).await?;
    let failed = checks.iter().filter(|c| c.problem.is_some()).count();
    audit(
        &b,
        &c.name,
        c.role.as_str(),
        "snapshot.verify",
        Some(&id),
        json!({"objects": checks.len(), "failed": failed}),
    )
    .await;
    Ok(Json(json!({"snapshot": id, "ok": failed == 0, "objects": checks})).into_response())
}

#[derive(Deserialize)]
struct SearchQuery {
    q: String,
    channel: Option<String>,
    limit: Option<i64>,
}

async fn search(State(b): State<Bevara>, c: Caller, Query(s): Query<SearchQuery>) -> ApiResult {
    c.need(Role::Viewer)?;
    let hits = b
        .db()
        .search(
            &s.q,
            s.channel.as_deref(),
            s.limit.unwrap_or(50).clamp(1, 500),
        )
        .await?;
    Ok(Json(hits).into_response())
}

async fn jobs(State(b): State<Bevara>, c: Caller) -> ApiResult {
    c.need(Role::Ops)?;
    Ok(Json(b.db().list_jobs(None, 200).await?).into_response())
}

async fn retry_job(State(b): State<Bevara>, c: Caller, Path(id): Path<String>) -> ApiResult {
    c.need(Role::Ops)?;
    let job = b.db().retry_job(&id, Utc::now()).await?;
    audit(
        &b,
        &c.name,
        c.role.as_str(),
        "job.retry",
        Some(&id),
        json!({}),
    )
    .await;
    Ok(Json(job).into_response())
}

async fn audit_log(State(b): State<Bevara>, c: Caller) -> ApiResult {
    c.need(Role::Archivist)?;
    Ok(Json(b.db().audit(500).await?).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_least_privilege() {
        use Role::*;
        assert!(Admin.may(Archivist) && Admin.may(Viewer) && Archivist.may(Viewer));
        assert!(!Viewer.may(Archivist) && !Archivist.may(Admin));
        assert!(!Ops.may(Viewer), "ops sees no content");
        assert!(Ops.may(Ops) && Admin.may(Ops) && !Viewer.may(Ops));
        let s = new_secret();
        assert!(s.starts_with("bvr_") && s.len() == 68);
        assert_ne!(new_secret(), s);
        assert_eq!(hash_secret(&s).len(), 64);
        assert_eq!(byte_range("bytes=0-9", 100), Some((0, 9)));
        assert_eq!(byte_range("bytes=90-", 100), Some((90, 99)));
        assert_eq!(byte_range("bytes=-10", 100), Some((90, 99)));
        assert_eq!(byte_range("bytes=95-200", 100), Some((95, 99)));
        for bad in [
            "bytes=100-",
            "bytes=5-1",
            "bytes=0-1,5-6",
            "items=0-1",
            "bytes=x-",
        ] {
            assert_eq!(byte_range(bad, 100), None, "{bad}");
        }
    }
}
