//! The web pages driven in real Chromium on 127.0.0.1, and every API
//! endpoint asked by every role: a real capture (with its recording) is
//! made first, `bevara serve` runs as its own process, and the browser signs
//! in with API tokens, opens the register, a channel as it looked on a
//! date, the snapshot (zooms the screenshot, plays the video), searches a
//! comment and lands on its snapshot, and asks for a capture as admin; a
//! viewer sees no capture button and is refused by the API.

mod common;

use bevara::browser::{eval, Browser, BrowserContext};
use common::bevara;
use common::http::token;
use std::path::Path;
use std::time::Duration;

const ALLOW: (&str, &str) = ("BEVARA_ALLOW_PRIVATE_ADDRESSES", "1");

async fn call(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> (u16, Vec<u8>) {
    let a = common::http::call(addr, method, path, token, Some(body)).await;
    (a.status, a.body)
}

/// Starts `bevara serve` with a session key, so login sessions can be imported.
async fn serve(d: &Path) -> (String, tokio::process::Child) {
    let key = bevara(d, &[], &["session", "keygen"])
        .await
        .stdout
        .trim()
        .to_string();
    common::http::serve_bevara(d, &[("BEVARA_SESSION_KEY", key.as_str()), ALLOW]).await
}

async fn js<T: serde::de::DeserializeOwned>(ctx: &BrowserContext, expr: &str) -> T {
    eval(&ctx.page, expr, Duration::from_secs(20))
        .await
        .unwrap_or_else(|e| panic!("{expr}: {e}"))
}

/// Waits until `cond` (a JS expression) is true in the page.
async fn until(ctx: &BrowserContext, cond: &str, what: &str) {
    let started = std::time::Instant::now();
    loop {
        let ok: bool = eval(&ctx.page, &format!("!!({cond})"), Duration::from_secs(10))
            .await
            .unwrap_or(false);
        if ok {
            return;
        }
        if started.elapsed() > Duration::from_secs(30) {
            let body: String = js(ctx, "location.href + '\\n' + document.body.innerText").await;
            panic!("{what}: not so after 30 s; the page:\n{body}");
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

async fn goto(ctx: &BrowserContext, url: &str) {
    ctx.page
        .goto(url)
        .await
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    until(ctx, "document.readyState === 'complete'", url).await;
}

/// Signs in on the login page with `secret`.
async fn sign_in(ctx: &BrowserContext, addr: &str, secret: &str) {
    goto(ctx, &format!("http://{addr}/")).await;
    until(
        ctx,
        "location.pathname === '/login'",
        "sent to the sign-in page",
    )
    .await;
    let _: bool = js(
        ctx,
        &format!(
            "document.getElementById('token').value = {secret:?}; document.querySelector('form[action=\"/login\"]').requestSubmit(); true"
        ),
    )
    .await;
    until(
        ctx,
        "location.pathname === '/' && document.querySelector('table')",
        "the register after sign-in",
    )
    .await;
}

/// The answer to `method path` has what its OpenAPI schema says: every
/// required property, each of the type given.
fn conforms(doc: &serde_json::Value, method: &str, path: &str, body: &[u8]) {
    let e = bevara::web::ENDPOINTS
        .iter()
        .find(|e| {
            e.method.eq_ignore_ascii_case(method) && {
                let (a, b): (Vec<_>, Vec<_>) = (
                    e.path.split('/').collect(),
                    path.split('?').next().unwrap().split('/').collect(),
                );
                a.len() == b.len() && a.iter().zip(&b).all(|(x, y)| x.starts_with('{') || x == y)
            }
        })
        .unwrap_or_else(|| panic!("{method} {path} is not in the endpoint list"));
    if e.response == "*" {
        return;
    }
    let v: serde_json::Value = serde_json::from_slice(body).unwrap();
    let (name, list) = match e.response.strip_prefix('[') {
        Some(n) => (n.trim_end_matches(']'), true),
        None => (e.response, false),
    };
    let schema = &doc["components"]["schemas"][name];
    let values: Vec<&serde_json::Value> = if list {
        v.as_array().unwrap().iter().collect()
    } else {
        vec![&v]
    };
    for x in values {
        for r in schema["required"].as_array().unwrap() {
            let r = r.as_str().unwrap();
            assert!(x.get(r).is_some(), "{method} {path}: {name} lacks {r}: {x}");
        }
        for (k, p) in schema["properties"].as_object().unwrap() {
            let Some(val) = x.get(k) else { continue };
            let types: Vec<&str> = match &p["type"] {
                serde_json::Value::String(t) => vec![t.as_str()],
                serde_json::Value::Array(a) => a.iter().filter_map(|t| t.as_str()).collect(),
                _ => continue,
            };
            let is = match val {
                serde_json::Value::Null => "null",
                serde_json::Value::Bool(_) => "boolean",
                serde_json::Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
                serde_json::Value::Number(_) => "number",
                serde_json::Value::String(_) => "string",
                serde_json::Value::Array(_) => "array",
                serde_json::Value::Object(_) => "object",
            };
            assert!(
                types.contains(&is),
                "{method} {path}: {name}.{k} is {is}, the schema says {types:?}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_in_chromium_and_every_endpoint_for_every_role() {
    let site = common::serve().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = d.join("data");
    let url = format!("http://{site}/site/feed.html");
    let id = {
        let b = common::open(&data).await;
        let mut ch = common::channel("flode", &url);
        ch.name = Some("Sala kommun på Facebook".into());
        let out = common::capture_recorded(&b, &ch, true).await;
        out.snapshot_id.clone()
    };
    let admin = token(d, "admin", "admin").await;
    let viewer = token(d, "viewer", "läsare").await;
    let archivist = token(d, "archivist", "arkivarie").await;
    let ops = token(d, "ops", "drift").await;
    let revoked = token(d, "admin", "gammal").await;
    let list = bevara(d, &[], &["token", "list", "--json"]).await;
    let tokens: serde_json::Value = serde_json::from_str(&list.stdout).unwrap();
    let old = tokens
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "gammal")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(bevara(d, &[], &["token", "revoke", &old]).await.code, 0);
    let (addr, mut server) = serve(d).await;

    // ----- every endpoint × every role -----
    // A second channel to close, and a queued job to cancel and retry.
    let (s, _) = call(
        &addr,
        "POST",
        "/api/v1/channels",
        Some(&admin),
        &format!(r#"{{"id":"stang","platform":"web","url":"http://{site}/site/feed.html"}}"#),
    )
    .await;
    assert_eq!(s, 201);
    let (s, body) = call(
        &addr,
        "POST",
        "/api/v1/channels/stang/captures",
        Some(&admin),
        r#"{"reason":"för tabellen"}"#,
    )
    .await;
    assert_eq!(s, 202);
    let job: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let job = job["job_id"].as_str().unwrap().to_string();
    let (s, body) = call(
        &addr,
        "POST",
        "/api/v1/debates",
        Some(&admin),
        r#"{"channels":["flode"],"every":"1d","until":"2099-01-01","reason":"skolnedläggning"}"#,
    )
    .await;
    assert_eq!(s, 201, "{}", String::from_utf8_lossy(&body));
    let debate: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let debate = debate["id"].as_str().unwrap().to_string();
    let session_json = r#"{"cookies":[{"name":"c_user","value":"1","domain":"127.0.0.1","path":"/"}],"origins":[]}"#;
    let hold_body = format!(r#"{{"snapshot":"{id}","reason":"begäran om utlämnande"}}"#);
    let (s, body) = call(&addr, "POST", "/api/v1/holds", Some(&admin), &hold_body).await;
    assert_eq!(s, 201, "{}", String::from_utf8_lossy(&body));
    let hold: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let hold = hold["id"].as_str().unwrap().to_string();
    let export_body = format!(r#"{{"snapshots":["{id}"]}}"#);
    // (method, path, body, the lowest role that may, what it answers then)
    let table: Vec<(&str, String, &str, &str, u16)> = vec![
        ("GET", "/api/v1/channels".into(), "", "viewer", 200),
        ("GET", "/api/v1/channels/flode".into(), "", "viewer", 200),
        (
            "GET",
            "/api/v1/channels/flode/snapshots".into(),
            "",
            "viewer",
            200,
        ),
        ("GET", format!("/api/v1/snapshots/{id}"), "", "viewer", 200),
        ("GET", "/api/v1/search?q=kommun".into(), "", "viewer", 200),
        ("GET", "/api/v1/debates".into(), "", "viewer", 200),
        ("GET", "/api/v1/openapi.json".into(), "", "viewer", 200),
        (
            "GET",
            format!("/api/v1/snapshots/{id}/artifacts/items.json"),
            "",
            "archivist",
            200,
        ),
        (
            "GET",
            format!("/api/v1/snapshots/{id}/zip"),
            "",
            "archivist",
            200,
        ),
        (
            "GET",
            format!("/api/v1/snapshots/{id}/diff"),
            "",
            "archivist",
            200,
        ),
        (
            "POST",
            format!("/api/v1/snapshots/{id}/verify"),
            "",
            "archivist",
            200,
        ),
        ("GET", "/api/v1/audit".into(), "", "archivist", 200),
        (
            "POST",
            "/api/v1/export".into(),
            &export_body,
            "archivist",
            200,
        ),
        ("GET", "/api/v1/holds".into(), "", "archivist", 200),
        ("POST", "/api/v1/holds".into(), &hold_body, "archivist", 201),
        (
            "POST",
            format!("/api/v1/holds/{hold}/remove"),
            "",
            "archivist",
            200,
        ),
        (
            "POST",
            "/api/v1/channels".into(),
            r#"{"id":"ny","platform":"web","url":"http://127.0.0.1:9/x"}"#,
            "admin",
            201,
        ),
        (
            "POST",
            "/api/v1/channels/flode/captures".into(),
            r#"{"reason":"debatt"}"#,
            "admin",
            202,
        ),
        (
            "POST",
            "/api/v1/channels/flode/session".into(),
            session_json,
            "admin",
            200,
        ),
        (
            "POST",
            format!("/api/v1/debates/{debate}/stop"),
            "",
            "admin",
            200,
        ),
        (
            "POST",
            "/api/v1/debates".into(),
            r#"{"tag":"x","every":"1d","until":"2099-01-01","reason":"r"}"#,
            "admin",
            201,
        ),
        (
            "POST",
            "/api/v1/channels/stang/close".into(),
            "",
            "admin",
            200,
        ),
        ("GET", "/api/v1/jobs".into(), "", "ops", 200),
        ("POST", format!("/api/v1/jobs/{job}/cancel"), "", "ops", 200),
        ("POST", format!("/api/v1/jobs/{job}/retry"), "", "ops", 200),
    ];
    let roles = [
        ("viewer", &viewer),
        ("archivist", &archivist),
        ("admin", &admin),
        ("ops", &ops),
    ];
    let may = |role: &str, need: &str| match need {
        "ops" => matches!(role, "ops" | "admin"),
        _ => {
            let rank = |r: &str| match r {
                "viewer" => 1,
                "archivist" => 2,
                "admin" => 3,
                _ => 0,
            };
            rank(role) >= rank(need)
        }
    };
    // The table covers every endpoint of the API.
    let shape = |p: &str| {
        p.split('?')
            .next()
            .unwrap()
            .split('/')
            .map(|seg| {
                if seg.starts_with('{')
                    || seg.chars().any(|c| c.is_ascii_digit())
                    || seg == "flode"
                    || seg == "stang"
                    || seg == "items.json"
                {
                    "*"
                } else {
                    seg
                }
            })
            .collect::<Vec<_>>()
            .join("/")
    };
    for e in bevara::web::ENDPOINTS {
        assert!(
            table
                .iter()
                .any(|(m, p, ..)| m.eq_ignore_ascii_case(e.method) && shape(p) == shape(e.path)),
            "the table lacks {} {}",
            e.method,
            e.path
        );
    }
    let doc = bevara::web::openapi_document();
    for (method, path, body, need, want) in &table {
        let (none, _) = call(&addr, method, path, None, body).await;
        let (old, _) = call(&addr, method, path, Some(&revoked), body).await;
        assert_eq!(
            (none, old),
            (401, 401),
            "{method} {path} without a token, with a revoked one"
        );
        // Refused roles first, so a change is made by the last allowed one.
        let mut order: Vec<_> = roles.iter().collect();
        order.sort_by_key(|(r, _)| may(r, need));
        let mut done = false;
        for (role, secret) in order {
            let (s, b) = call(&addr, method, path, Some(secret), body).await;
            if !may(role, need) {
                assert_eq!(
                    s,
                    403,
                    "{method} {path} as {role}: {}",
                    String::from_utf8_lossy(&b)
                );
            } else if method == &"GET" || !done {
                // A change answers as expected the first time it is made.
                assert_eq!(
                    s,
                    *want,
                    "{method} {path} as {role}: {}",
                    String::from_utf8_lossy(&b)
                );
                done = true;
                conforms(&doc, method, path, &b);
            }
        }
    }

    // The package over the API: a zip of one E-ARK SIP with the snapshot's files.
    let (s, zip) = call(
        &addr,
        "POST",
        "/api/v1/export",
        Some(&archivist),
        &export_body,
    )
    .await;
    assert_eq!(s, 200);
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
    let names: Vec<String> = (0..z.len())
        .map(|i| z.by_index(i).unwrap().name().to_string())
        .collect();
    let pkg = names[0].split('/').next().unwrap().to_string();
    assert!(pkg.starts_with("uuid-"), "{names:?}");
    for want in [
        "METS.xml".to_string(),
        format!("representations/{id}/METS.xml"),
        format!("representations/{id}/data/page.pdf"),
        format!("representations/{id}/metadata/other/manifest.json"),
    ] {
        assert!(
            names.contains(&format!("{pkg}/{want}")),
            "{want} not in {names:?}"
        );
    }
    let (s, held) = call(&addr, "GET", "/api/v1/holds", Some(&archivist), "").await;
    assert_eq!(s, 200);
    let held: serde_json::Value = serde_json::from_slice(&held).unwrap();
    assert!(
        held.as_array()
            .unwrap()
            .iter()
            .all(|h| h["id"] != hold.as_str()),
        "the lifted hold is not in force"
    );
    let (s, _) = call(
        &addr,
        "POST",
        &format!("/api/v1/holds/{hold}/remove"),
        Some(&archivist),
        "",
    )
    .await;
    assert_eq!(s, 404, "a lifted hold cannot be lifted again");

    // ----- the pages in Chromium -----
    let b = common::open(&data).await;
    let browser = Browser::launch(&b.settings().browser).await.unwrap();
    let ctx = browser.new_context().await.unwrap();
    sign_in(&ctx, &addr, &admin).await;
    let lang: String = js(&ctx, "document.documentElement.lang").await;
    assert_eq!(lang, "sv", "Swedish by default");
    let register: String = js(&ctx, "document.querySelector('main').innerText").await;
    assert!(
        register.contains("Sala kommun på Facebook") && register.contains("klar"),
        "{register}"
    );
    // Open the channel from the register, then as it looked today.
    let _: bool = js(
        &ctx,
        "document.querySelector('a[href=\"/channels/flode\"]').click(); true",
    )
    .await;
    until(
        &ctx,
        "location.pathname === '/channels/flode'",
        "the channel page",
    )
    .await;
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let _: bool = js(&ctx, &format!("document.getElementById('date').value = '{today}'; document.getElementById('date').form.requestSubmit(); true")).await;
    until(
        &ctx,
        "document.querySelector('p.asof a')",
        "the snapshot as of today",
    )
    .await;
    let debates: String = js(
        &ctx,
        "document.getElementById('debates').parentElement.innerText",
    )
    .await;
    assert!(
        debates.contains("skolnedläggning"),
        "the debate that applies: {debates}"
    );
    let _: bool = js(&ctx, "document.querySelector('p.asof a').click(); true").await;
    until(
        &ctx,
        &format!("location.pathname === '/snapshots/{id}'"),
        "the snapshot page",
    )
    .await;

    // The screenshot in the zoomable viewer: tiles load, zoom goes in.
    until(
        &ctx,
        "document.querySelector('.viewer[data-ready=\"1\"]')",
        "the viewer opened",
    )
    .await;
    let z0: f64 = js(
        &ctx,
        "window.bevaraViewers['screenshot.png'].viewport.getZoom(true)",
    )
    .await;
    let _: bool = js(
        &ctx,
        "document.querySelector('button[data-zoom=\"in\"]').click(); true",
    )
    .await;
    until(
        &ctx,
        &format!("window.bevaraViewers['screenshot.png'].viewport.getZoom(true) > {z0} * 1.5"),
        "zoomed in",
    )
    .await;
    until(
        &ctx,
        "window.bevaraViewers['screenshot.png'].world.getItemAt(0).getFullyLoaded()",
        "the zoomed tiles loaded",
    )
    .await;
    // A tile is the screenshot's pixels: the top-left tile of the deepest level decodes.
    let dzi: String = js(
        &ctx,
        "fetch(document.querySelector('.viewer').dataset.dzi).then(r => r.text())",
    )
    .await;
    assert!(dzi.contains("TileSize=\"512\""), "{dzi}");

    // The recording plays: its time advances.
    let _: bool = js(
        &ctx,
        "var v = document.querySelector('video'); v.muted = true; v.play(); true",
    )
    .await;
    until(
        &ctx,
        "document.querySelector('video').currentTime > 0.5",
        "the video plays",
    )
    .await;
    // Seeking asks for a range.
    let _: bool = js(
        &ctx,
        "var v = document.querySelector('video'); v.currentTime = v.duration / 2; true",
    )
    .await;
    until(&ctx, "document.querySelector('video').currentTime > 1 && document.querySelector('video').readyState >= 2", "the video seeks").await;

    // The PDF opens in the page's own viewer route (inline, for a viewer too).
    let pdf: String = js(&ctx, "fetch(document.querySelector('a[href$=\".pdf\"]').href).then(r => r.headers.get('content-type') + ' ' + r.headers.get('content-disposition'))").await;
    assert!(pdf.starts_with("application/pdf inline"), "{pdf}");

    // The items as a thread, and the manifest for an admin.
    let items: usize = js(&ctx, "document.querySelectorAll('li.item').length").await;
    assert!(items > 10, "{items} items in the thread");
    let nested: usize = js(
        &ctx,
        "document.querySelectorAll('li.item ol.thread li.item').length",
    )
    .await;
    assert!(nested > 0, "comments under their post");

    // Search a comment's token and land on its snapshot.
    let tok = &common::feed_tokens()[3];
    goto(&ctx, &format!("http://{addr}/search?q={tok}")).await;
    let _: bool = js(&ctx, "document.querySelector('ol.hits a').click(); true").await;
    until(
        &ctx,
        &format!(
            "location.pathname === '/snapshots/{id}' && document.querySelector('li.item.hit')"
        ),
        "the hit in its snapshot",
    )
    .await;
    let hit: String = js(&ctx, "document.querySelector('li.item.hit').innerText").await;
    assert!(hit.contains(tok.as_str()), "{hit}");

    // Capture now as admin: the job appears.
    goto(&ctx, &format!("http://{addr}/channels/flode")).await;
    let _: bool = js(&ctx, "document.getElementById('reason').value = 'insändare i lokaltidningen'; document.getElementById('reason').form.requestSubmit(); true").await;
    until(
        &ctx,
        "location.pathname === '/jobs' && document.querySelector('tr.chosen')",
        "the job",
    )
    .await;
    let row: String = js(&ctx, "document.querySelector('tr.chosen').innerText").await;
    assert!(
        row.contains("flode") && row.contains("insändare i lokaltidningen"),
        "{row}"
    );
    // A form without the session's CSRF token is refused.
    let forged: u16 = js(&ctx, "fetch('/channels/flode/capture', {method: 'POST', headers: {'content-type': 'application/x-www-form-urlencoded'}, body: 'reason=x'}).then(r => r.status)").await;
    assert_eq!(forged, 403);
    // A legal hold placed and lifted from the snapshot page.
    goto(&ctx, &format!("http://{addr}/snapshots/{id}")).await;
    let _: bool = js(&ctx, "document.getElementById('hold-reason').value = 'JO-anmälan 2026'; document.getElementById('hold-reason').form.requestSubmit(); true").await;
    until(
        &ctx,
        "[...document.querySelectorAll('ul.holds li')].some(l => l.innerText.includes('JO-anmälan 2026'))",
        "the hold listed",
    )
    .await;
    let _: bool = js(&ctx, "[...document.querySelectorAll('ul.holds li')].find(l => l.innerText.includes('JO-anmälan 2026')).querySelector('form').requestSubmit(); true").await;
    until(
        &ctx,
        &format!("location.pathname === '/snapshots/{id}' && document.querySelector('#delivery') && ![...document.querySelectorAll('ul.holds li')].some(l => l.innerText.includes('JO-anmälan 2026'))"),
        "the hold lifted",
    )
    .await;
    // The package from the page's form (with its CSRF token): a zip.
    let got: String = js(&ctx, "(() => { const f = document.querySelector('form[action$=\"/export\"]'); return fetch(f.action, {method: 'POST', body: new URLSearchParams(new FormData(f))}).then(r => r.status + ' ' + r.headers.get('content-type') + ' ' + r.headers.get('x-bevara-package-id')); })()").await;
    assert_eq!(got, format!("200 application/zip {pkg}"));
    let log = bevara(d, &[], &["audit", "list", "--json"]).await.stdout;
    for a in ["\"export\"", "hold.add", "hold.remove"] {
        assert!(log.contains(a), "{a} not in the audit log");
    }
    // English on request.
    goto(&ctx, &format!("http://{addr}/jobs")).await;
    let _: bool = js(
        &ctx,
        "document.querySelector('a[href=\"/lang/en\"]').click(); true",
    )
    .await;
    until(&ctx, "document.documentElement.lang === 'en' && document.querySelector('h1').innerText === 'Jobs'", "English").await;
    browser.dispose(ctx).await;

    // A viewer: no capture button, and the API says 403.
    let ctx = browser.new_context().await.unwrap();
    sign_in(&ctx, &addr, &viewer).await;
    goto(&ctx, &format!("http://{addr}/channels/flode")).await;
    let buttons: usize = js(
        &ctx,
        "document.querySelectorAll('form[action$=\"/capture\"]').length",
    )
    .await;
    assert_eq!(buttons, 0, "a viewer sees no capture button");
    let csrf_status: u16 = js(&ctx, "fetch('/api/v1/channels/flode/captures', {method: 'POST', headers: {'content-type': 'application/json'}, body: '{\"reason\":\"x\"}'}).then(r => r.status)").await;
    assert_eq!(csrf_status, 403);
    let (s, _) = call(
        &addr,
        "POST",
        "/api/v1/channels/flode/captures",
        Some(&viewer),
        r#"{"reason":"x"}"#,
    )
    .await;
    assert_eq!(s, 403);
    let files: usize = js(&ctx, "document.querySelectorAll('a[download]').length").await;
    assert_eq!(files, 0);
    // Revoking the token ends the page session signed in with it.
    let list = bevara(d, &[], &["token", "list", "--json"]).await;
    let tokens: serde_json::Value = serde_json::from_str(&list.stdout).unwrap();
    let vid = tokens
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "läsare")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(bevara(d, &[], &["token", "revoke", &vid]).await.code, 0);
    goto(&ctx, &format!("http://{addr}/channels/flode")).await;
    until(
        &ctx,
        "location.pathname === '/login'",
        "signed out by the revocation",
    )
    .await;
    browser.dispose(ctx).await;
    browser.close().await;

    // ----- the audit log: every action, and a changed entry is found -----
    let log = bevara(d, &[], &["audit", "list", "--json"]).await;
    let log: serde_json::Value = serde_json::from_str(&log.stdout).unwrap();
    let actions: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for a in [
        "token.create",
        "token.revoke",
        "channel.add",
        "channel.close",
        "capture.request",
        "debate.start",
        "debate.stop",
        "snapshot.verify",
        "snapshot.download",
        "job.cancel",
        "job.retry",
        "session.sign-in",
        "session.import",
    ] {
        assert!(
            actions.contains(&a),
            "{a} not in the audit log: {actions:?}"
        );
    }
    let ok = bevara(d, &[], &["audit", "verify"]).await;
    assert_eq!(ok.code, 0, "{}{}", ok.stdout, ok.stderr);
    let _ = server.start_kill();
    let pool = sqlx::SqlitePool::connect(&format!(
        "sqlite://{}",
        data.join("bevara.sqlite").display()
    ))
    .await
    .unwrap();
    sqlx::query("UPDATE audit SET detail = '{\"reason\":\"något annat\"}' WHERE seq = 3")
        .execute(&pool)
        .await
        .unwrap();
    let bad = bevara(d, &[], &["audit", "verify"]).await;
    assert_eq!(bad.code, 8, "{}", bad.stdout);
    assert!(
        bad.stdout.contains("number 3") && bad.stdout.contains("changed"),
        "{}",
        bad.stdout
    );
    sqlx::query("DELETE FROM audit WHERE seq = 5")
        .execute(&pool)
        .await
        .unwrap();
    let bad = bevara(d, &[], &["audit", "verify"]).await;
    assert!(bad.stdout.contains("removed"), "{}", bad.stdout);
}
