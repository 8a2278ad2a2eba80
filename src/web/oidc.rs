//! Sign-in with OpenID Connect (the authorization code flow with PKCE), for
//! municipalities whose people sign in with Entra ID or another provider.
//!
//! `/login/oidc` sends the visitor to the provider with a fresh state,
//! nonce and PKCE challenge, kept in a short-lived signed cookie;
//! `/login/oidc/callback` checks the state, exchanges the code (with the
//! client secret and the PKCE verifier), verifies the ID token (signature
//! by the provider's keys, issuer, audience, expiry, nonce) and maps the
//! values of `web.oidc.role_claim` to a role. A person whose claim matches
//! no mapping is refused. The session then is the same signed cookie a
//! token sign-in gives.

use super::pages::{problem, Lang};
use super::session::{self, OIDC_COOKIE};
use super::{App, Role};
use crate::config::OidcSettings;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use openidconnect::core::{CoreClient, CoreProviderMetadata, CoreResponseType};
use openidconnect::{
    AuthenticationFlow, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet,
    EndpointNotSet, EndpointSet, IssuerUrl, Nonce, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, Scope,
};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The provider's metadata is looked up again after this long.
const METADATA_TTL: Duration = Duration::from_secs(3600);
/// A sign-in must come back from the provider within this.
const FLOW_SECS: u64 = 600;

type Client = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// What is shared for sign-ins: the HTTP client and the provider's metadata.
#[derive(Clone, Default)]
pub struct Oidc {
    metadata: Arc<tokio::sync::Mutex<Option<(Instant, CoreProviderMetadata)>>>,
}

/// Whether `[web.oidc]` names an issuer.
pub fn configured(s: &OidcSettings) -> bool {
    !s.issuer.is_empty()
}

/// The role a person's claim values give: the highest one mapped by
/// `roles` (`VALUE=ROLE` pairs), or none.
pub fn role_for(settings: &OidcSettings, values: &[String]) -> Option<Role> {
    settings
        .roles
        .iter()
        .filter_map(|pair| pair.split_once('='))
        .filter(|(value, _)| values.iter().any(|v| v == value.trim()))
        .filter_map(|(_, role)| Role::parse(role.trim()))
        .max_by_key(|r| r.rank())
}

/// The values of `claim` in an ID token's payload: a string or a list of them.
fn claim_values(payload: &serde_json::Value, claim: &str) -> Vec<String> {
    match &payload[claim] {
        serde_json::Value::String(s) => vec![s.clone()],
        serde_json::Value::Array(a) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

/// The sign-in under way, in the signed `bevara_oidc` cookie.
#[derive(Serialize, Deserialize)]
struct Flow {
    state: String,
    nonce: String,
    verifier: String,
    next: String,
    exp: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("sign-in is not set up (web.oidc.issuer)")]
    Off,
    #[error("web.oidc: {0}")]
    Config(String),
    #[error("the identity provider: {0}")]
    Provider(String),
    #[error("the sign-in could not be checked: {0}")]
    Refused(String),
}

/// One HTTP exchange with the provider, for openidconnect, through reqwest
/// (redirects not followed, as the OAuth flows require).
async fn http(
    client: reqwest::Client,
    req: openidconnect::HttpRequest,
) -> Result<openidconnect::HttpResponse, std::io::Error> {
    let (parts, body) = req.into_parts();
    let res = client
        .request(parts.method, parts.uri.to_string())
        .headers(parts.headers)
        .body(body)
        .send()
        .await
        .map_err(std::io::Error::other)?;
    let mut out = openidconnect::http::Response::builder().status(res.status());
    for (k, v) in res.headers() {
        out = out.header(k, v);
    }
    let bytes = res.bytes().await.map_err(std::io::Error::other)?;
    out.body(bytes.to_vec()).map_err(std::io::Error::other)
}

fn http_client(s: &OidcSettings) -> Result<reqwest::Client, OidcError> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(s.timeout_secs.max(1)))
        .build()
        .map_err(|e| OidcError::Config(e.to_string()))
}

impl Oidc {
    async fn metadata(
        &self,
        s: &OidcSettings,
        http_client: &reqwest::Client,
    ) -> Result<CoreProviderMetadata, OidcError> {
        let mut cached = self.metadata.lock().await;
        if let Some((at, m)) = cached.as_ref() {
            if at.elapsed() < METADATA_TTL {
                return Ok(m.clone());
            }
        }
        let issuer =
            IssuerUrl::new(s.issuer.clone()).map_err(|e| OidcError::Config(e.to_string()))?;
        let c = http_client.clone();
        let m = CoreProviderMetadata::discover_async(issuer, &move |r| http(c.clone(), r))
            .await
            .map_err(|e| OidcError::Provider(format!("discovery failed: {e}")))?;
        *cached = Some((Instant::now(), m.clone()));
        Ok(m)
    }

    async fn client(&self, app: &App) -> Result<(Client, reqwest::Client), OidcError> {
        let s = &app.bevara.settings().web.oidc;
        if !configured(s) {
            return Err(OidcError::Off);
        }
        let secret = if s.client_secret_file.is_empty() {
            None
        } else {
            let text = std::fs::read_to_string(&s.client_secret_file).map_err(|e| {
                OidcError::Config(format!("client_secret_file {}: {e}", s.client_secret_file))
            })?;
            Some(ClientSecret::new(
                text.lines().next().unwrap_or("").trim().to_string(),
            ))
        };
        let hc = http_client(s)?;
        let meta = self.metadata(s, &hc).await?;
        let redirect = RedirectUrl::new(format!("{}/login/oidc/callback", public_base(app)))
            .map_err(|e| OidcError::Config(e.to_string()))?;
        let client =
            CoreClient::from_provider_metadata(meta, ClientId::new(s.client_id.clone()), secret)
                .set_redirect_uri(redirect);
        Ok((client, hc))
    }
}

/// The address people reach Bevara at, without a trailing slash.
fn public_base(app: &App) -> String {
    let web = &app.bevara.settings().web;
    if web.public_url.is_empty() {
        format!("http://{}", web.listen)
    } else {
        web.public_url.trim_end_matches('/').to_string()
    }
}

#[derive(Deserialize)]
pub(super) struct Start {
    next: Option<String>,
}

/// `/login/oidc`: off to the provider.
pub(super) async fn start(
    State(app): State<App>,
    headers: HeaderMap,
    Query(q): Query<Start>,
) -> Response {
    let lang = Lang::of(&headers, &app.bevara.settings().web.lang);
    let (client, _) = match app.oidc.client(&app).await {
        Ok(c) => c,
        Err(e) => return failed(lang, e),
    };
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut req = client.authorize_url(
        AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
        CsrfToken::new_random,
        Nonce::new_random,
    );
    for scope in &app.bevara.settings().web.oidc.scopes {
        req = req.add_scope(Scope::new(scope.clone()));
    }
    let (url, state, nonce) = req.set_pkce_challenge(challenge).url();
    let flow = Flow {
        state: state.secret().clone(),
        nonce: nonce.secret().clone(),
        verifier: verifier.secret().clone(),
        next: super::pages::safe_next(q.next.as_deref()),
        exp: chrono::Utc::now().timestamp() + FLOW_SECS as i64,
    };
    let cookie = session::cookie_named(
        OIDC_COOKIE,
        Some(&app.key.seal(&flow)),
        app.secure,
        FLOW_SECS,
    );
    ([(header::SET_COOKIE, cookie)], Redirect::to(url.as_str())).into_response()
}

#[derive(Deserialize)]
pub(super) struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// `/login/oidc/callback`: back from the provider.
pub(super) async fn callback(
    State(app): State<App>,
    headers: HeaderMap,
    Query(q): Query<Callback>,
) -> Response {
    let lang = Lang::of(&headers, &app.bevara.settings().web.lang);
    match finish(&app, &headers, q).await {
        Ok((name, role, next)) => {
            let mut res = super::pages::signed_in(&app, name, role, None, &next).await;
            let clear = session::cookie_named(OIDC_COOKIE, None, app.secure, 0);
            if let Ok(v) = header::HeaderValue::from_str(&clear) {
                res.headers_mut().append(header::SET_COOKIE, v);
            }
            res
        }
        Err(e) => failed(lang, e),
    }
}

async fn finish(
    app: &App,
    headers: &HeaderMap,
    q: Callback,
) -> Result<(String, Role, String), OidcError> {
    if let Some(e) = q.error {
        return Err(OidcError::Refused(format!(
            "the provider said {e}: {}",
            q.error_description.unwrap_or_default()
        )));
    }
    let flow: Flow = session::cookie(headers, OIDC_COOKIE)
        .and_then(|v| app.key.open_as(v))
        .filter(|f: &Flow| f.exp > chrono::Utc::now().timestamp())
        .ok_or_else(|| {
            OidcError::Refused("the sign-in was not started here, or took too long".into())
        })?;
    let state = q.state.unwrap_or_default();
    if !session::same_token(&state, &flow.state) {
        return Err(OidcError::Refused("the state does not match (CSRF)".into()));
    }
    let code = q
        .code
        .ok_or_else(|| OidcError::Refused("no authorization code".into()))?;
    let (client, hc) = app.oidc.client(app).await?;
    let call = move |r| http(hc.clone(), r);
    let token = client
        .exchange_code(AuthorizationCode::new(code))
        .map_err(|e| OidcError::Provider(e.to_string()))?
        .set_pkce_verifier(PkceCodeVerifier::new(flow.verifier.clone()))
        .request_async(&call)
        .await
        .map_err(|e| OidcError::Provider(format!("the code exchange failed: {e}")))?;
    use openidconnect::TokenResponse as _;
    let id_token = token
        .id_token()
        .ok_or_else(|| OidcError::Provider("no ID token in the answer".into()))?;
    let verifier = client.id_token_verifier();
    let claims = id_token
        .claims(&verifier, &Nonce::new(flow.nonce.clone()))
        .map_err(|e| OidcError::Refused(format!("the ID token: {e}")))?;
    // The role claim is read from the token just verified: its payload is
    // the part the provider signed.
    let jwt = id_token.to_string();
    let payload = jwt
        .split('.')
        .nth(1)
        .and_then(|p| {
            use base64::Engine as _;
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(p.trim_end_matches('='))
                .ok()
        })
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .unwrap_or_default();
    let s = &app.bevara.settings().web.oidc;
    let values = claim_values(&payload, &s.role_claim);
    let who = claims
        .email()
        .map(|e| e.as_str().to_string())
        .or_else(|| claims.preferred_username().map(|u| u.as_str().to_string()))
        .unwrap_or_else(|| claims.subject().as_str().to_string());
    let role = role_for(s, &values).ok_or_else(|| {
        OidcError::Refused(format!(
            "{who} has no role in Bevara: their {} ({}) matches none of web.oidc.roles",
            s.role_claim,
            values.join(", ")
        ))
    })?;
    Ok((format!("oidc:{who}"), role, flow.next))
}

fn failed(lang: Lang, e: OidcError) -> Response {
    let status = match e {
        OidcError::Off => StatusCode::NOT_FOUND,
        OidcError::Refused(_) => StatusCode::FORBIDDEN,
        OidcError::Config(_) | OidcError::Provider(_) => StatusCode::BAD_GATEWAY,
    };
    tracing::warn!(error = %e, "sign-in failed");
    problem(lang, status, &e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_highest_mapped_role_wins_and_no_match_is_no_role() {
        let s = OidcSettings {
            roles: vec![
                "bevara-läsare=viewer".into(),
                "bevara-arkiv=archivist".into(),
                "bevara-drift = ops".into(),
                "trasig".into(),
            ],
            ..Default::default()
        };
        let v = |xs: &[&str]| xs.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            role_for(&s, &v(&["bevara-läsare", "bevara-arkiv"])),
            Some(Role::Archivist)
        );
        assert_eq!(role_for(&s, &v(&["bevara-drift"])), Some(Role::Ops));
        assert_eq!(role_for(&s, &v(&["andra", "trasig"])), None);
        assert_eq!(role_for(&s, &[]), None);
        let p = serde_json::json!({"roles": ["a", "b"], "grupp": "c", "n": 3});
        assert_eq!(claim_values(&p, "roles"), v(&["a", "b"]));
        assert_eq!(claim_values(&p, "grupp"), v(&["c"]));
        assert!(claim_values(&p, "n").is_empty() && claim_values(&p, "saknas").is_empty());
    }
}
