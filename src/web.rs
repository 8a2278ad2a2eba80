//! `bevara serve`: the HTTP API under `/api/v1` for archivists,
//! administrators and ops, with roles, API tokens and an audit log of every
//! state-changing action.
//!
//! Every request but `/healthz` needs `Authorization: Bearer TOKEN`; a
//! missing or unknown token is 401, a role that may not is 403. Errors are
//! JSON with a stable kebab-case `code` and a message.

mod delivery;
pub mod oidc;
mod pages;
pub mod session;
pub mod tiles;

use crate::db::{ApiToken, AuditEntry, CaptureFilter, DbError};
use crate::queue::{NewJob, TriggerKind};
use crate::registry::{Channel, ChannelId, Platform};
use crate::Bevara;
use axum::body::Body;
use axum::extract::{FromRef, FromRequestParts, Path, Query, State};
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

    /// How much content the role sees: ops none, then viewer < archivist < admin.
    pub fn rank(self) -> u8 {
        match self {
            Role::Ops => 0,
            Role::Viewer => 1,
            Role::Archivist => 2,
            Role::Admin => 3,
        }
    }

    /// Whether this role may do what `need` is required for.
    pub fn may(self, need: Role) -> bool {
        match need {
            // Jobs: ops, and the admins who start captures.
            Role::Ops => matches!(self, Role::Ops | Role::Admin),
            _ => self.rank() >= need.rank(),
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
    let e = AuditEntry::new(actor, role, action, target, Some(detail.to_string()));
    if let Err(err) = bevara.db().add_audit(&e).await {
        tracing::error!(error = %err, action, "cannot write the audit log");
    }
}

/// An entry for an action taken on the command line, by the OS user.
pub async fn audit_cli(
    bevara: &Bevara,
    action: &str,
    target: Option<&str>,
    detail: serde_json::Value,
) {
    audit(
        bevara,
        &crate::capture::os_user(),
        "cli",
        action,
        target,
        detail,
    )
    .await
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
            DbError::NoChannel(_)
            | DbError::NoCapture(_)
            | DbError::NoJob(_)
            | DbError::NoDebate(_) => (StatusCode::NOT_FOUND, "not-found"),
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
            A::OtherChannels { .. } => {
                ApiError::new(StatusCode::BAD_REQUEST, "bad-request", e.to_string())
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

/// What every handler shares: Bevara, the key that signs session cookies,
/// and the deep-zoom tiles made so far.
#[derive(Clone)]
pub struct App {
    pub bevara: Bevara,
    pub key: session::CookieKey,
    pub tiles: tiles::Tiles,
    pub oidc: oidc::Oidc,
    /// Session cookies get `Secure` (the public address is https).
    pub secure: bool,
}

impl App {
    pub fn new(bevara: Bevara) -> std::io::Result<Self> {
        let web = &bevara.settings().web;
        let key = session::CookieKey::load(
            (!web.session_key_file.is_empty()).then(|| std::path::Path::new(&web.session_key_file)),
        )?;
        let secure = web.public_url.starts_with("https://");
        let tiles = tiles::Tiles::new(bevara.settings().data_dir.join("tiles"));
        Ok(Self {
            bevara,
            key,
            tiles,
            oidc: oidc::Oidc::default(),
            secure,
        })
    }
}

impl FromRef<App> for Bevara {
    fn from_ref(app: &App) -> Bevara {
        app.bevara.clone()
    }
}

/// The caller, from its bearer token or its session cookie.
#[derive(Debug, Clone)]
pub struct Caller {
    pub name: String,
    pub role: Role,
    /// The session's CSRF nonce, when the caller came with a cookie.
    pub csrf: Option<String>,
    /// The API token the caller came with, or signed in with.
    pub token: Option<String>,
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

/// The caller whose API token has `secret`.
pub async fn caller_by_token(bevara: &Bevara, secret: &str) -> Result<Caller, ApiError> {
    let unauthorized = |m: &str| ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", m);
    let token = bevara
        .db()
        .token_by_hash(&hash_secret(secret.trim()))
        .await?
        .ok_or_else(|| unauthorized("unknown or revoked token"))?;
    let role = Role::parse(&token.role).ok_or_else(|| unauthorized("the token has no role"))?;
    Ok(Caller {
        name: format!("token:{}", token.name),
        role,
        csrf: None,
        token: Some(token.id),
    })
}

impl FromRequestParts<App> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, ApiError> {
        let unauthorized = |m: &str| ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", m);
        if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
            let secret = value
                .to_str()
                .ok()
                .and_then(|v| v.strip_prefix("Bearer "))
                .ok_or_else(|| unauthorized("the Authorization header must be Bearer TOKEN"))?;
            return caller_by_token(&app.bevara, secret).await;
        }
        let s = session::cookie(&parts.headers, session::COOKIE)
            .and_then(|v| app.key.open(v))
            .ok_or_else(|| {
                unauthorized(
                    "sign in, or send Authorization: Bearer TOKEN (see `bevara token create`)",
                )
            })?;
        let role = Role::parse(&s.role).ok_or_else(|| unauthorized("the session has no role"))?;
        // A session signed in with a token ends when the token is revoked.
        if let Some(tid) = &s.token {
            let active = app
                .bevara
                .db()
                .list_tokens()
                .await?
                .into_iter()
                .any(|t| &t.id == tid && t.revoked_at.is_none());
            if !active {
                return Err(unauthorized(
                    "the token this session signed in with was revoked",
                ));
            }
        }
        // A script that changes something with the cookie proves it read a
        // page of ours; the pages' own forms are checked by their handlers.
        let safe = matches!(
            parts.method,
            axum::http::Method::GET | axum::http::Method::HEAD
        );
        if !safe && parts.uri.path().starts_with("/api/") {
            let sent = parts
                .headers
                .get("x-csrf-token")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if !session::same_token(sent, &s.csrf) {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "csrf",
                    "a change made with the session cookie needs the X-CSRF-Token header",
                ));
            }
        }
        Ok(Caller {
            name: s.name,
            role,
            csrf: Some(s.csrf),
            token: s.token,
        })
    }
}

/// The API's and the pages' routes.
pub fn router(app: App) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
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
        .route("/api/v1/snapshots/{id}/diff", get(snapshot_diff))
        .route("/api/v1/debates", get(list_debates).post(start_debate))
        .route("/api/v1/debates/{id}/stop", post(stop_debate))
        .route("/api/v1/jobs/{id}/cancel", post(cancel_job))
        .route("/api/v1/channels/{id}/session", post(import_session))
        .route("/api/v1/snapshots/{id}/zip", get(snapshot_zip))
        .route("/api/v1/export", post(delivery::export))
        .route(
            "/api/v1/holds",
            get(delivery::list_holds).post(delivery::add_hold),
        )
        .route("/api/v1/holds/{id}/remove", post(delivery::remove_hold))
        .route("/api/v1/openapi.json", get(openapi))
        .merge(pages::routes())
        .fallback(|| async {
            ApiError::new(StatusCode::NOT_FOUND, "not-found", "no such endpoint")
        })
        .with_state(app)
}

/// Ready when the database answers (a load balancer sends nobody here before).
async fn readyz(State(b): State<Bevara>) -> Response {
    match b.db().ping().await {
        Ok(()) => (StatusCode::OK, "ready\n").into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the database does not answer: {e}\n"),
        )
            .into_response(),
    }
}

/// Binds `web.listen`, so a port already taken is an error at start.
pub async fn bind(bevara: Bevara) -> Result<(tokio::net::TcpListener, App), std::io::Error> {
    let addr = bevara.settings().web.listen.clone();
    let app = App::new(bevara)?;
    let listener = tokio::net::TcpListener::bind(&addr).await.map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!("cannot listen on {addr} (web.listen): {e}"),
        )
    })?;
    tracing::info!(%addr, "serving the pages and the API under /api/v1");
    eprintln!("serving on http://{}", listener.local_addr()?);
    Ok((listener, app))
}

/// Serves the pages and the API on a bound listener until the process ends.
pub async fn serve_on(listener: tokio::net::TcpListener, app: App) -> Result<(), std::io::Error> {
    axum::serve(listener, router(app)).await
}

/// Serves the API and the pages on `web.listen` until the process ends.
pub async fn serve(bevara: Bevara) -> Result<(), std::io::Error> {
    let (listener, app) = bind(bevara).await?;
    serve_on(listener, app).await
}

type ApiResult = Result<Response, ApiError>;

/// One endpoint of the API, as the OpenAPI document describes it.
pub struct Endpoint {
    pub method: &'static str,
    pub path: &'static str,
    /// The lowest role that may.
    pub role: &'static str,
    pub summary: &'static str,
    /// The request body's schema (a name in `components.schemas`).
    pub request: Option<&'static str>,
    /// The success status and the body's schema; `[Name]` is a list of Name,
    /// `*` any bytes.
    pub status: u16,
    pub response: &'static str,
}

const fn ep(
    method: &'static str,
    path: &'static str,
    role: &'static str,
    summary: &'static str,
    request: Option<&'static str>,
    status: u16,
    response: &'static str,
) -> Endpoint {
    Endpoint {
        method,
        path,
        role,
        summary,
        request,
        status,
        response,
    }
}

/// Every endpoint. The OpenAPI document and the README's table are made
/// from, or checked against, this list.
pub const ENDPOINTS: &[Endpoint] = &[
    ep("get", "/api/v1/channels", "viewer", "The register", None, 200, "[Channel]"),
    ep("post", "/api/v1/channels", "admin", "Register a channel", Some("NewChannel"), 201, "Channel"),
    ep("get", "/api/v1/channels/{id}", "viewer", "One channel", None, 200, "Channel"),
    ep("post", "/api/v1/channels/{id}/close", "admin", "Close a channel; its final capture is queued", None, 200, "Closed"),
    ep("post", "/api/v1/channels/{id}/session", "admin", "Import the channel's login session: the JSON a browser exports (cookies and local storage), stored encrypted", Some("LoginState"), 200, "Imported"),
    ep("post", "/api/v1/channels/{id}/captures", "admin", "Request a capture now; 202 with the job id, joining a queued or running job", Some("CaptureRequest"), 202, "Enqueued"),
    ep("get", "/api/v1/channels/{id}/snapshots", "viewer", "The channel's captures", None, 200, "[Snapshot]"),
    ep("get", "/api/v1/snapshots/{id}", "viewer", "A capture and its manifest", None, 200, "SnapshotWithManifest"),
    ep("get", "/api/v1/snapshots/{id}/artifacts/{name}", "archivist", "An artifact's bytes; one byte range is served as 206", None, 200, "*"),
    ep("get", "/api/v1/snapshots/{id}/zip", "archivist", "The whole snapshot as one zip: every artifact and the manifest", None, 200, "*"),
    ep("get", "/api/v1/snapshots/{id}/diff", "archivist", "Changes since the channel's previous complete snapshot (or ?with=ID): new, edited and removed items, each removed one with where it was last seen", None, 200, "Diff"),
    ep("post", "/api/v1/snapshots/{id}/verify", "archivist", "Read every object back against the manifest", None, 200, "Verified"),
    ep("get", "/api/v1/search", "viewer", "Items across channels: ?q=WORDS[&channel=ID][&limit=N]", None, 200, "[SearchHit]"),
    ep("get", "/api/v1/debates", "viewer", "Debates, newest first; ?active=true for those running", None, 200, "[Debate]"),
    ep("post", "/api/v1/debates", "admin", "Start a debate", Some("NewDebate"), 201, "Debate"),
    ep("post", "/api/v1/debates/{id}/stop", "admin", "Stop a debate", None, 200, "Stopped"),
    ep("get", "/api/v1/jobs", "ops", "The newest jobs", None, 200, "[Job]"),
    ep("post", "/api/v1/jobs/{id}/retry", "ops", "Queue a failed or cancelled job again", None, 200, "Job"),
    ep("post", "/api/v1/jobs/{id}/cancel", "ops", "Cancel a queued job", None, 200, "Job"),
    ep("get", "/api/v1/audit", "archivist", "The audit log, newest first", None, 200, "[AuditEntry]"),
    ep("post", "/api/v1/export", "archivist", "The e-archive package (E-ARK SIP, FGS Paketstruktur 2.0) of snapshots or of a channel's period, as a zip", Some("ExportRequest"), 200, "*"),
    ep("get", "/api/v1/holds", "archivist", "Legal holds in force; ?all=true for lifted ones too", None, 200, "[Hold]"),
    ep("post", "/api/v1/holds", "archivist", "Place a legal hold on a snapshot or a channel: nothing under it is disposed of", Some("HoldRequest"), 201, "Hold"),
    ep("post", "/api/v1/holds/{id}/remove", "archivist", "Lift a legal hold", None, 200, "Lifted"),
    ep("get", "/api/v1/openapi.json", "viewer", "This document", None, 200, "*"),
];

/// The schemas of the request and response bodies: each an object with its
/// properties' types, `required` naming what is always there.
fn schemas() -> serde_json::Value {
    fn obj(required: &[&str], props: serde_json::Value) -> serde_json::Value {
        json!({"type": "object", "required": required, "properties": props})
    }
    let s = json!({"type": "string"});
    let sn = json!({"type": ["string", "null"]});
    let t = json!({"type": "string", "format": "date-time"});
    let tn = json!({"type": ["string", "null"], "format": "date-time"});
    let ss = json!({"type": "array", "items": {"type": "string"}});
    let int = json!({"type": "integer"});
    let b = json!({"type": "boolean"});
    let item = |name: &str| json!({"$ref": format!("#/components/schemas/{name}")});
    json!({
        "Error": obj(&["code", "message"], json!({"code": {"type": "string", "description": "stable, kebab-case"}, "message": s})),
        "Channel": obj(&["id", "platform", "url", "admins", "tags", "opened_at", "recording"], json!({
            "id": s, "platform": {"type": "string", "enum": crate::registry::Platform::ALL.iter().map(|p| p.as_str()).collect::<Vec<_>>()},
            "url": s, "name": sn, "owner": sn, "admins": ss, "purpose": sn, "tags": ss,
            "opened_at": t, "closed_at": tn, "retain_days": {"type": ["integer", "null"]}, "recording": b})),
        "NewChannel": obj(&["id", "platform", "url"], json!({
            "id": s, "platform": s, "url": s, "name": s, "owner": s, "admins": ss, "purpose": s, "tags": ss,
            "recording": b, "retain_days": int})),
        "Closed": obj(&["channel", "closed"], json!({"channel": s, "closed": b, "final_capture_job": sn})),
        "LoginState": obj(&[], json!({"cookies": {"type": "array", "items": {"type": "object"}}, "origins": {"type": "array", "items": {"type": "object"}}})),
        "Imported": obj(&["channel", "imported"], json!({"channel": s, "imported": b})),
        "CaptureRequest": obj(&["reason"], json!({"reason": {"type": "string", "minLength": 1, "description": "why the capture is needed; recorded in the manifest and the audit log"}})),
        "Enqueued": obj(&["job_id", "joined"], json!({"job_id": s, "joined": b})),
        "Snapshot": obj(&["id", "channel_id", "state", "trigger", "requested_at", "url", "warnings", "truncated"], json!({
            "id": s, "channel_id": s,
            "state": {"type": "string", "enum": ["running", "upload-pending", "complete", "failed"]},
            "trigger": s, "reason": sn, "requested_by": sn, "requested_at": t, "started_at": tn, "finished_at": tn,
            "url": s, "final_url": sn, "title": sn, "failure_code": sn, "failure": sn, "warnings": int,
            "truncated": b, "manifest_key": sn, "worker": sn, "job_id": sn})),
        "SnapshotWithManifest": obj(&["snapshot", "manifest"], json!({"snapshot": item("Snapshot"),
            "manifest": {"type": ["object", "null"], "description": "the manifest (schema bevara.manifest, see the README) when complete"}})),
        "Item": obj(&["id", "kind", "text"], json!({"id": s, "kind": {"type": "string", "enum": ["post", "comment", "reply"]},
            "parent": sn, "author": sn, "published": {"type": "object"}, "text": s, "permalink": sn, "links": ss, "media": ss})),
        "Diff": obj(&["to", "new", "removed", "edited"], json!({"from": sn, "to": s,
            "new": {"type": "array", "items": item("Item")},
            "removed": {"type": "array", "items": obj(&["item"], json!({"item": item("Item"), "last_seen": {"type": ["object", "null"]}}))},
            "edited": {"type": "array", "items": obj(&["before", "after"], json!({"before": item("Item"), "after": item("Item")}))}})),
        "Verified": obj(&["snapshot", "ok", "objects"], json!({"snapshot": s, "ok": b, "objects": {"type": "array", "items": {"type": "object"}}})),
        "SearchHit": obj(&["snapshot_id", "channel", "captured_at", "item"], json!({"snapshot_id": s, "channel": s, "captured_at": t, "item": item("Item")})),
        "Debate": obj(&["id", "channels", "every_secs", "starts_at", "until", "reason"], json!({"id": s, "channels": ss, "tag": sn,
            "every_secs": int, "starts_at": t, "until": t, "reason": s, "started_by": sn, "stopped_at": tn, "stopped_by": sn})),
        "NewDebate": obj(&["every", "until", "reason"], json!({"channels": ss, "tag": s,
            "every": {"type": "string", "description": "e.g. 30m, 6h, 1d"},
            "until": {"type": "string", "description": "a date (the whole day) or an RFC 3339 time"}, "reason": s})),
        "Stopped": obj(&["debate", "stopped"], json!({"debate": s, "stopped": b})),
        "Job": obj(&["id", "channel", "status", "trigger", "reasons", "priority", "attempts", "max_attempts", "next_attempt_at", "created_at", "updated_at"], json!({
            "id": s, "channel": s, "status": {"type": "string", "enum": ["queued", "running", "done", "failed", "cancelled"]},
            "trigger": {"type": "object"}, "reasons": ss, "requested_by": sn, "priority": int, "attempts": int, "max_attempts": int,
            "lease_owner": sn, "lease_expires_at": tn, "heartbeat_at": tn, "next_attempt_at": t, "last_error_code": sn,
            "last_error": sn, "snapshot_id": sn, "recording": {"type": ["boolean", "null"]}, "created_at": t, "updated_at": t})),
        "ExportRequest": obj(&[], json!({"snapshots": ss, "channel": s,
            "from": {"type": "string", "description": "a date (its start) or an RFC 3339 time"},
            "to": {"type": "string", "description": "a date (to its end) or an RFC 3339 time"},
            "renditions": {"type": "boolean", "description": "add PDF/A-2b and FFV1/MKV renditions"}})),
        "Hold": obj(&["id", "reason", "placed_at"], json!({"id": s, "snapshot_id": sn, "channel_id": sn, "reason": s,
            "placed_at": t, "placed_by": sn, "removed_at": tn, "removed_by": sn, "objects_held": int})),
        "HoldRequest": obj(&["reason"], json!({"snapshot": s, "channel": s, "reason": {"type": "string", "minLength": 1}})),
        "Lifted": obj(&["hold", "removed"], json!({"hold": s, "removed": b})),
        "AuditEntry": obj(&["id", "at", "actor", "role", "action"], json!({"id": s, "at": t, "actor": s, "role": s, "action": s,
            "target": sn, "detail": {"type": ["string", "null"], "description": "JSON"}, "seq": {"type": ["integer", "null"]},
            "prev_hash": sn, "hash": sn})),
    })
}

/// The body schema of `name` (`[Name]`: a list of them).
fn schema_ref(name: &str) -> serde_json::Value {
    match name.strip_prefix('[').and_then(|n| n.strip_suffix(']')) {
        Some(inner) => {
            json!({"type": "array", "items": {"$ref": format!("#/components/schemas/{inner}")}})
        }
        None => json!({"$ref": format!("#/components/schemas/{name}")}),
    }
}

/// An OpenAPI 3.1 description of [`ENDPOINTS`].
pub fn openapi_document() -> serde_json::Value {
    let mut paths = serde_json::Map::new();
    let error = json!({"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}});
    for e in ENDPOINTS {
        let params: Vec<serde_json::Value> = e
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
            .map(|p| json!({"name": p, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        let body = if e.response == "*" {
            json!({"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}})
        } else {
            json!({"application/json": {"schema": schema_ref(e.response)}})
        };
        let mut op = json!({
            "summary": e.summary,
            "description": format!("Needs the role {} (or one that includes it).", e.role),
            "parameters": params,
            "security": [{"bearer": []}, {"session": []}],
            "responses": {
                e.status.to_string(): {"description": "done", "content": body},
                "400": {"description": "a bad request", "content": error},
                "401": {"description": "no or unknown token", "content": error},
                "403": {"description": "the role may not (or a cookie without X-CSRF-Token)", "content": error},
                "404": {"description": "no such channel, snapshot, job or debate", "content": error}
            }
        });
        if let Some(r) = e.request {
            op["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": schema_ref(r)}}});
        }
        let entry = paths.entry(e.path.to_string()).or_insert_with(|| json!({}));
        entry[e.method] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "Bevara", "version": env!("CARGO_PKG_VERSION")},
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "a token from `bevara token create`"},
                "session": {"type": "apiKey", "in": "cookie", "name": "bevara_session", "description": "a signed-in person's session; changes need the X-CSRF-Token header"}
            },
            "schemas": schemas()
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
pub(crate) struct NewChannel {
    pub id: String,
    pub platform: String,
    pub url: String,
    pub name: Option<String>,
    pub owner: Option<String>,
    #[serde(default)]
    pub admins: Vec<String>,
    pub purpose: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default = "yes")]
    pub recording: bool,
    pub retain_days: Option<u32>,
}

fn yes() -> bool {
    true
}

fn bad(message: impl std::fmt::Display) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "bad-request", message.to_string())
}

/// Registers a channel for the API and the pages, with its audit entry.
pub(crate) async fn add_channel_for(
    b: &Bevara,
    c: &Caller,
    n: NewChannel,
) -> Result<Channel, ApiError> {
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
        b,
        &c.name,
        c.role.as_str(),
        "channel.add",
        Some(channel.id.as_str()),
        json!({"url": channel.url, "platform": channel.platform.as_str()}),
    )
    .await;
    Ok(channel)
}

async fn add_channel(State(b): State<Bevara>, c: Caller, Json(n): Json<NewChannel>) -> ApiResult {
    c.need(Role::Admin)?;
    let channel = add_channel_for(&b, &c, n).await?;
    Ok((StatusCode::CREATED, Json(channel)).into_response())
}

/// Closes a channel and queues its final capture, with its audit entry.
pub(crate) async fn close_channel_for(
    b: &Bevara,
    c: &Caller,
    id: &str,
) -> Result<Option<String>, ApiError> {
    let cid: ChannelId = id.parse().map_err(bad)?;
    let job = crate::queue::close_channel(b, &cid, Some(c.name.clone())).await?;
    if job.is_some() {
        audit(
            b,
            &c.name,
            c.role.as_str(),
            "channel.close",
            Some(id),
            json!({"job": job}),
        )
        .await;
    }
    Ok(job)
}

async fn close_channel(State(b): State<Bevara>, c: Caller, Path(id): Path<String>) -> ApiResult {
    c.need(Role::Admin)?;
    let job = close_channel_for(&b, &c, &id).await?;
    Ok(
        Json(json!({"channel": id, "closed": job.is_some(), "final_capture_job": job}))
            .into_response(),
    )
}

#[derive(Deserialize)]
struct CaptureRequest {
    reason: Option<String>,
}

/// Queues a capture (or joins the channel's queued or running job) with
/// its reason, for the API and the pages, with its audit entry.
pub(crate) async fn request_capture_for(
    b: &Bevara,
    c: &Caller,
    id: &str,
    reason: Option<String>,
) -> Result<crate::queue::Enqueued, ApiError> {
    let reason = reason
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "reason-required",
                "say why the capture is needed: {\"reason\": \"…\"}",
            )
        })?;
    b.db().channel(id).await?;
    let job = NewJob::new(id, TriggerKind::AdHoc)
        .reason(Some(reason.clone()))
        .requested_by(Some(c.name.clone()))
        .attempts_from(&b.settings().worker);
    let e = b.db().enqueue(&job, Utc::now()).await?;
    audit(
        b,
        &c.name,
        c.role.as_str(),
        "capture.request",
        Some(id),
        json!({"job": e.job_id, "reason": reason, "joined": e.joined}),
    )
    .await;
    Ok(e)
}

async fn request_capture(
    State(b): State<Bevara>,
    c: Caller,
    Path(id): Path<String>,
    Json(r): Json<CaptureRequest>,
) -> ApiResult {
    c.need(Role::Admin)?;
    let e = request_capture_for(&b, &c, &id, r.reason).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"job_id": e.job_id, "joined": e.joined})),
    )
        .into_response())
}

/// Imports a channel's login session (the JSON a browser exports), with
/// its audit entry.
pub(crate) async fn import_session_for(
    b: &Bevara,
    c: &Caller,
    id: &str,
    state: &[u8],
) -> Result<(), ApiError> {
    b.db().channel(id).await?;
    let store = b.settings().session_store().map_err(bad)?;
    let parsed = crate::session::LoginState::parse(state).map_err(bad)?;
    let s = store.import(id, &parsed).map_err(bad)?;
    audit(
        b,
        &c.name,
        c.role.as_str(),
        "session.import",
        Some(id),
        json!({"cookies": s.cookies, "domains": s.domains}),
    )
    .await;
    Ok(())
}

async fn import_session(
    State(b): State<Bevara>,
    c: Caller,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult {
    c.need(Role::Admin)?;
    import_session_for(&b, &c, &id, &body).await?;
    Ok(Json(json!({"channel": id, "imported": true})).into_response())
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

/// An artifact's bytes (or one range of them), streamed from the store;
/// `disposition` is `attachment` for downloads, `inline` for the pages.
pub(crate) async fn serve_artifact(
    b: &Bevara,
    id: &str,
    name: &str,
    headers: &axum::http::HeaderMap,
    disposition: &str,
) -> ApiResult {
    let (rec, manifest) = crate::archive::manifest(b, id).await?;
    let (key, media_type) = if name == "manifest.json" {
        (
            rec.manifest_key.unwrap_or_default(),
            "application/json".to_string(),
        )
    } else if name == crate::timestamp::TOKEN_NAME {
        let t = crate::timestamp::token(b, id).await?.ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "not-found",
                format!("snapshot {id} has no timestamp token"),
            )
        })?;
        (t.key, t.media_type)
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
                format!("{disposition}; filename=\"{name}\""),
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

async fn artifact(
    State(b): State<Bevara>,
    c: Caller,
    Path((id, name)): Path<(String, String)>,
    headers: axum::http::HeaderMap,
) -> ApiResult {
    c.need(Role::Archivist)?;
    let res = serve_artifact(&b, &id, &name, &headers, "attachment").await?;
    // A download is recorded; the further ranges of one video are not.
    let first = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|r| r.starts_with("bytes=0-"));
    if first {
        audit(
            &b,
            &c.name,
            c.role.as_str(),
            "snapshot.download",
            Some(&id),
            json!({"artifact": name}),
        )
        .await;
    }
    Ok(res)
}

/// An open zip file as a download named `name`, streamed; `package` sets
/// the `X-Bevara-Package-Id` header.
pub(crate) async fn zip_download(
    file: tokio::fs::File,
    name: &str,
    package: Option<&str>,
) -> ApiResult {
    let len = file
        .metadata()
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "storage", e.to_string()))?
        .len();
    let body = Body::from_stream(tokio_util::io::ReaderStream::with_capacity(
        file,
        256 * 1024,
    ));
    let mut r = (
        [
            (header::CONTENT_TYPE, "application/zip".to_string()),
            (header::CONTENT_LENGTH, len.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        body,
    )
        .into_response();
    if let Some(p) = package.and_then(|p| p.parse().ok()) {
        r.headers_mut()
            .insert(header::HeaderName::from_static("x-bevara-package-id"), p);
    }
    Ok(r)
}

/// The whole snapshot as one zip (stored, not compressed again): every
/// artifact under its name, `manifest.json` and its `manifest.tsr`, made in
/// a temporary file.
async fn snapshot_zip(State(b): State<Bevara>, c: Caller, Path(id): Path<String>) -> ApiResult {
    c.need(Role::Archivist)?;
    let storage = |e: std::io::Error| {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "storage", e.to_string())
    };
    let (rec, manifest) = crate::archive::manifest(&b, &id).await?;
    let token = crate::timestamp::token(&b, &id).await?;
    let work = tempfile::tempdir().map_err(storage)?;
    let mut files = Vec::new();
    let keys = manifest
        .artifacts
        .iter()
        .map(|a| (a.name.clone(), a.key.clone()))
        .chain(
            rec.manifest_key
                .clone()
                .map(|k| ("manifest.json".to_string(), k)),
        )
        .chain(token.map(|t| (t.name, t.key)));
    for (i, (name, key)) in keys.enumerate() {
        let path = work.path().join(i.to_string());
        b.store()
            .get_to_file(&key, &path)
            .await
            .map_err(crate::archive::ArchiveError::from)?;
        files.push((name, path));
    }
    let zip_path = work.path().join("snapshot.zip");
    let zp = zip_path.clone();
    let prefix = id.clone();
    tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        let mut z = zip::ZipWriter::new(std::io::BufWriter::new(std::fs::File::create(&zp)?));
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored)
            .large_file(true);
        for (name, path) in files {
            z.start_file(format!("{prefix}/{name}"), opts)
                .map_err(std::io::Error::other)?;
            std::io::copy(&mut std::fs::File::open(&path)?, &mut z)?;
        }
        z.finish().map_err(std::io::Error::other)?;
        Ok(())
    })
    .await
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "storage", e.to_string()))?
    .map_err(storage)?;
    let file = tokio::fs::File::open(&zip_path).await.map_err(storage)?;
    audit(
        &b,
        &c.name,
        c.role.as_str(),
        "snapshot.download",
        Some(&id),
        json!({"zip": true}),
    )
    .await;
    // The open file keeps the bytes readable after the directory is removed.
    drop(work);
    zip_download(file, &format!("{id}.zip"), None).await
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

/// Reads every object of a snapshot back; true when all match. Audited.
pub(crate) async fn verify_for(b: &Bevara, c: &Caller, id: &str) -> Result<bool, ApiError> {
    Ok(verify_checks(b, c, id).await?.0)
}

async fn verify_checks(
    b: &Bevara,
    c: &Caller,
    id: &str,
) -> Result<(bool, Vec<crate::archive::Check>), ApiError> {
    let checks = crate::archive::verify(b, id).await?;
    let failed = checks.iter().filter(|c| c.problem.is_some()).count();
    audit(
        b,
        &c.name,
        c.role.as_str(),
        "snapshot.verify",
        Some(id),
        json!({"objects": checks.len(), "failed": failed}),
    )
    .await;
    Ok((failed == 0, checks))
}

async fn verify(State(b): State<Bevara>, c: Caller, Path(id): Path<String>) -> ApiResult {
    c.need(Role::Archivist)?;
    let (ok, checks) = verify_checks(&b, &c, &id).await?;
    Ok(Json(json!({"snapshot": id, "ok": ok, "objects": checks})).into_response())
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

/// Retries (`retry`) or cancels a job, with its audit entry.
pub(crate) async fn job_action(
    b: &Bevara,
    c: &Caller,
    id: &str,
    retry: bool,
) -> Result<crate::queue::Job, ApiError> {
    let job = if retry {
        b.db().retry_job(id, Utc::now()).await?
    } else {
        b.db().cancel_job(id, Utc::now()).await?
    };
    let action = if retry { "job.retry" } else { "job.cancel" };
    audit(b, &c.name, c.role.as_str(), action, Some(id), json!({})).await;
    Ok(job)
}

async fn retry_job(State(b): State<Bevara>, c: Caller, Path(id): Path<String>) -> ApiResult {
    c.need(Role::Ops)?;
    Ok(Json(job_action(&b, &c, &id, true).await?).into_response())
}

#[derive(Deserialize)]
struct DiffQuery {
    with: Option<String>,
}

/// The diff of a snapshot with the channel's previous complete one (or
/// `with`), each removed item with the last snapshot that held it.
pub async fn diff_report(
    b: &Bevara,
    id: &str,
    with: Option<&str>,
) -> Result<serde_json::Value, ApiError> {
    let rec = b.db().capture(id).await?;
    let other = match with {
        Some(w) => Some(w.to_string()),
        None => {
            b.db()
                .previous_complete(&rec.channel_id, rec.requested_at)
                .await?
        }
    };
    let Some(other) = other else {
        return Ok(json!({"from": null, "to": id, "new": [], "removed": [], "edited": []}));
    };
    let d = crate::archive::diff(b, &other, id).await?;
    // The diff puts the newer snapshot last; with `with` that may be the other.
    let newest_at = if d.to == rec.id {
        rec.requested_at
    } else {
        b.db().capture(&d.to).await?.requested_at
    };
    let mut removed = Vec::new();
    for item in &d.removed {
        let seen = b
            .db()
            .last_seen(&rec.channel_id, &item.id, newest_at)
            .await?;
        removed.push(json!({
            "item": item,
            "last_seen": seen.map(|(s, at)| json!({"snapshot": s, "at": at})),
        }));
    }
    let edited: Vec<_> = d
        .edited
        .iter()
        .map(|(before, after)| json!({"before": before, "after": after}))
        .collect();
    Ok(json!({"from": d.from, "to": d.to, "new": d.new, "removed": removed, "edited": edited}))
}

async fn snapshot_diff(
    State(b): State<Bevara>,
    c: Caller,
    Path(id): Path<String>,
    Query(q): Query<DiffQuery>,
) -> ApiResult {
    c.need(Role::Archivist)?;
    Ok(Json(diff_report(&b, &id, q.with.as_deref()).await?).into_response())
}

#[derive(Deserialize)]
struct DebateQuery {
    active: Option<bool>,
}

async fn list_debates(
    State(b): State<Bevara>,
    c: Caller,
    Query(q): Query<DebateQuery>,
) -> ApiResult {
    c.need(Role::Viewer)?;
    let at = q.active.unwrap_or(false).then(Utc::now);
    Ok(Json(b.db().debates(at).await?).into_response())
}

#[derive(Deserialize)]
pub struct NewDebate {
    #[serde(default)]
    pub channels: Vec<String>,
    pub tag: Option<String>,
    pub every: String,
    pub until: String,
    #[serde(default)]
    pub reason: String,
}

/// Starts a debate for the API and the pages, with its audit entry.
pub async fn begin_debate(
    b: &Bevara,
    c: &Caller,
    n: NewDebate,
) -> Result<crate::db::Debate, ApiError> {
    let tag = n.tag.filter(|t| !t.trim().is_empty());
    let d = crate::queue::start_debate(
        b.db(),
        n.channels,
        tag,
        &n.every,
        &n.until,
        n.reason,
        Some(c.name.clone()),
    )
    .await
    .map_err(|e| match e {
        crate::queue::DebateError::Usage(m) => bad(m),
        crate::queue::DebateError::Db(d) => d.into(),
    })?;
    audit(
        b,
        &c.name,
        c.role.as_str(),
        "debate.start",
        Some(&d.id),
        json!({"channels": d.channels, "tag": d.tag, "every_secs": d.every_secs, "until": d.until, "reason": d.reason}),
    )
    .await;
    Ok(d)
}

/// Stops a debate for the API and the pages, with its audit entry.
pub async fn end_debate(b: &Bevara, c: &Caller, id: &str) -> Result<bool, ApiError> {
    let stopped = b.db().stop_debate(id, Utc::now(), Some(&c.name)).await?;
    if stopped {
        audit(
            b,
            &c.name,
            c.role.as_str(),
            "debate.stop",
            Some(id),
            json!({}),
        )
        .await;
    }
    Ok(stopped)
}

async fn start_debate(State(b): State<Bevara>, c: Caller, Json(n): Json<NewDebate>) -> ApiResult {
    c.need(Role::Admin)?;
    let d = begin_debate(&b, &c, n).await?;
    Ok((StatusCode::CREATED, Json(d)).into_response())
}

async fn stop_debate(State(b): State<Bevara>, c: Caller, Path(id): Path<String>) -> ApiResult {
    c.need(Role::Admin)?;
    let stopped = end_debate(&b, &c, &id).await?;
    Ok(Json(json!({"debate": id, "stopped": stopped})).into_response())
}

async fn cancel_job(State(b): State<Bevara>, c: Caller, Path(id): Path<String>) -> ApiResult {
    c.need(Role::Ops)?;
    Ok(Json(job_action(&b, &c, &id, false).await?).into_response())
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
