//! Sign-in with OpenID Connect through a real provider run on 127.0.0.1
//! (npm's oauth2-mock-server, installed by `containers/setup-debian.sh
//! --tests`): the authorization code flow with PKCE, the ID token's role
//! claim mapped to a role, the session cookie's attributes, and a forged
//! state or a missing flow cookie refused.

mod common;

use common::http::{call_with, serve_bevara};
use std::path::Path;
use tokio::io::AsyncBufReadExt;

const MODULES: &str = "/opt/bevara-test/oidc/node_modules";

/// Starts the provider with `claims` in its ID tokens; returns its issuer.
async fn provider(claims: &str) -> (String, tokio::process::Child) {
    let modules = std::env::var("BEVARA_TEST_OIDC_MODULES").unwrap_or_else(|_| MODULES.into());
    assert!(
        Path::new(&modules).join("oauth2-mock-server").is_dir(),
        "oauth2-mock-server is not in {modules}: run `bash containers/setup-debian.sh --tests`"
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/oidc/provider.mjs");
    let mut child = tokio::process::Command::new("node")
        .arg(script)
        .arg(port.to_string())
        .env("OIDC_MODULES", &modules)
        .env("OIDC_CLAIMS", claims)
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node (Node.js 18 or newer) is needed for the OIDC test");
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let ready = tokio::time::timeout(std::time::Duration::from_secs(30), lines.next_line())
        .await
        .expect("the provider did not start within 30 s")
        .unwrap()
        .unwrap_or_default();
    let issuer = ready
        .strip_prefix("READY ")
        .expect(&ready)
        .trim()
        .to_string();
    (issuer, child)
}

fn header<'a>(h: &'a hyper::HeaderMap, name: &str) -> &'a str {
    h.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

/// The `name=value` part of the Set-Cookie for `name`.
fn set_cookie(h: &hyper::HeaderMap, name: &str) -> Option<(String, String)> {
    h.get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| (v.split(';').next().unwrap().to_string(), v.to_string()))
}

/// A GET to an absolute URL on 127.0.0.1 with `cookie`.
async fn get(url: &str, cookie: &str) -> (u16, hyper::HeaderMap, String) {
    let u = url::Url::parse(url).unwrap();
    let addr = format!("{}:{}", u.host_str().unwrap(), u.port().unwrap());
    let path = match u.query() {
        Some(q) => format!("{}?{q}", u.path()),
        None => u.path().to_string(),
    };
    let extra = [("cookie", cookie)];
    let (a, h) = call_with(
        &addr,
        "GET",
        &path,
        None,
        None,
        if cookie.is_empty() { &[] } else { &extra },
    )
    .await;
    (a.status, h, String::from_utf8_lossy(&a.body).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_sign_in_at_their_provider_with_a_role_from_a_claim() {
    let claims = r#"{"sub": "anna-1", "email": "anna.arkivarie@sala.se", "roles": ["Bevara.Arkiv", "Annat"]}"#;
    let (issuer, _provider) = provider(claims).await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let secret = d.join("client-secret");
    std::fs::write(&secret, "hemlig-klientnyckel\n").unwrap();
    let secret = secret.display().to_string();
    let (addr, _server) = serve_bevara(
        d,
        &[
            ("BEVARA_WEB_OIDC_ISSUER", issuer.as_str()),
            ("BEVARA_WEB_OIDC_CLIENT_ID", "bevara"),
            ("BEVARA_WEB_OIDC_CLIENT_SECRET_FILE", secret.as_str()),
            ("BEVARA_WEB_OIDC_ROLE_CLAIM", "roles"),
            (
                "BEVARA_WEB_OIDC_ROLES",
                "Bevara.Läsare=viewer,Bevara.Arkiv=archivist,Bevara.Admin=admin",
            ),
        ],
    )
    .await;
    let base = format!("http://{addr}");

    // The sign-in page offers the organisation account.
    let (s, _, body) = get(&format!("{base}/login"), "").await;
    assert_eq!(s, 200);
    assert!(body.contains("/login/oidc?next="), "{body}");

    // Off to the provider, with state, nonce and a PKCE challenge.
    let (s, h, _) = get(&format!("{base}/login/oidc?next=%2Faudit"), "").await;
    assert_eq!(s, 303, "{h:?}");
    let to = header(&h, "location").to_string();
    assert!(to.starts_with(&format!("{issuer}/authorize?")), "{to}");
    let q: std::collections::HashMap<String, String> = url::Url::parse(&to)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    assert_eq!(q["client_id"], "bevara");
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["redirect_uri"], format!("{base}/login/oidc/callback"));
    assert!(q.contains_key("nonce") && q.contains_key("state"));
    let (flow, attrs) = set_cookie(&h, "bevara_oidc").expect("the flow cookie");
    assert!(
        attrs.contains("HttpOnly") && attrs.contains("SameSite=Lax"),
        "{attrs}"
    );

    // The provider answers with a code for the callback.
    let (s, h, _) = get(&to, "").await;
    assert_eq!(s, 302);
    let back = header(&h, "location").to_string();
    assert!(
        back.starts_with(&format!("{base}/login/oidc/callback?")),
        "{back}"
    );

    // A forged state, or no flow cookie, is refused.
    let forged = back.replace(&format!("state={}", q["state"]), "state=forged");
    assert_ne!(forged, back);
    let (s, _, body) = get(&forged, &flow).await;
    assert_eq!(s, 403, "{body}");
    let (s, _, _) = get(&back, "").await;
    assert_eq!(s, 403);

    // Back with the code: the ID token is verified and its claim gives the role.
    let (s, h, body) = get(&back, &flow).await;
    assert_eq!(s, 303, "{body}");
    assert_eq!(header(&h, "location"), "/audit");
    let (session, attrs) = set_cookie(&h, "bevara_session").expect("a session cookie");
    assert!(
        attrs.contains("HttpOnly") && attrs.contains("SameSite=Lax"),
        "{attrs}"
    );
    assert!(
        !attrs.contains("Secure"),
        "no TLS here, so not Secure: {attrs}"
    );
    let (s, _, body) = get(&format!("{base}/audit"), &session).await;
    assert_eq!(s, 200, "an archivist reads the audit log");
    assert!(
        body.contains("oidc:anna.arkivarie@sala.se (archivist)"),
        "{body}"
    );
    assert!(body.contains("session.sign-in"), "{body}");
    // An archivist is no admin and no ops.
    let (s, _, _) = get(&format!("{base}/jobs"), &session).await;
    assert_eq!(s, 403);
    let (s, _, _) = get(&format!("{base}/api/v1/jobs"), &session).await;
    assert_eq!(s, 403);
    let (s, _, _) = get(&format!("{base}/api/v1/audit"), &session).await;
    assert_eq!(s, 200);
    // A code is used once.
    let (s, _, _) = get(&back, &flow).await;
    assert_ne!(s, 303, "a code used twice gave a session");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_whose_claim_maps_to_no_role_is_refused() {
    let (issuer, _provider) =
        provider(r#"{"email": "ove@sala.se", "roles": ["Kommunen.Alla"]}"#).await;
    let dir = tempfile::tempdir().unwrap();
    let (addr, _server) = serve_bevara(
        dir.path(),
        &[
            ("BEVARA_WEB_OIDC_ISSUER", issuer.as_str()),
            ("BEVARA_WEB_OIDC_CLIENT_ID", "bevara"),
            ("BEVARA_WEB_OIDC_ROLES", "Bevara.Admin=admin"),
        ],
    )
    .await;
    let (_, h, _) = get(&format!("http://{addr}/login/oidc"), "").await;
    let (flow, _) = set_cookie(&h, "bevara_oidc").unwrap();
    let (_, h2, _) = get(header(&h, "location"), "").await;
    let (s, h3, body) = get(header(&h2, "location"), &flow).await;
    assert_eq!(s, 403, "{body}");
    assert!(body.contains("ove@sala.se has no role"), "{body}");
    assert!(set_cookie(&h3, "bevara_session").is_none());
}
