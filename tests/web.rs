//! The HTTP API as `bevara serve` answers it over a real socket: roles and
//! tokens (401 without, 403 for a role that may not), a snapshot's data and
//! artifact bytes, a capture requested with its reason (and joined when
//! asked again), and the audit log of every change.

mod common;

use common::bevara;
use common::http::{call, call_with, token};

const ALLOW: (&str, &str) = ("BEVARA_ALLOW_PRIVATE_ADDRESSES", "1");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_answers_each_role_as_it_may_and_audits_every_change() {
    let site = common::serve().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let url = format!("http://{site}/site/feed.html");
    let r = bevara(
        d,
        &[],
        &[
            "channel",
            "add",
            "flode",
            "--platform",
            "facebook",
            "--url",
            &url,
            "--no-recording",
        ],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = bevara(d, &[ALLOW], &["capture", "flode"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let list = bevara(d, &[], &["snapshots", "list", "--json"]).await;
    let list: serde_json::Value = serde_json::from_str(&list.stdout).unwrap();
    let id = list[0]["id"].as_str().unwrap().to_string();

    let viewer = token(d, "viewer", "läsare").await;
    let archivist = token(d, "archivist", "arkivarie").await;
    let admin = token(d, "admin", "admin").await;
    let ops = token(d, "ops", "drift").await;
    // Only the hash is kept.
    let db = std::fs::read(d.join("data/bevara.sqlite")).unwrap();
    let db = String::from_utf8_lossy(&db);
    assert!(
        !db.contains(&viewer[4..]),
        "a token's secret is in the database"
    );

    let (addr, mut server) = common::http::serve_bevara(d, &[ALLOW]).await;

    // No token: only /healthz answers.
    assert_eq!(call(&addr, "GET", "/healthz", None, None).await.status, 200);
    let a = call(&addr, "GET", "/api/v1/channels", None, None).await;
    assert_eq!(
        (a.status, a.json()["code"].as_str()),
        (401, Some("unauthorized"))
    );
    let a = call(&addr, "GET", "/api/v1/channels", Some("bvr_fel"), None).await;
    assert_eq!(a.status, 401);

    // Viewer: the register and snapshots, not the artifacts.
    let a = call(&addr, "GET", "/api/v1/channels", Some(&viewer), None).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.json()[0]["id"], "flode");
    let a = call(
        &addr,
        "GET",
        "/api/v1/channels/flode/snapshots",
        Some(&viewer),
        None,
    )
    .await;
    assert_eq!(a.json()[0]["id"], id.as_str());
    let a = call(
        &addr,
        "GET",
        &format!("/api/v1/snapshots/{id}"),
        Some(&viewer),
        None,
    )
    .await;
    assert_eq!(a.status, 200);
    let manifest = a.json()["manifest"].clone();
    assert_eq!(manifest["snapshot_id"], id.as_str());
    let items_path = format!("/api/v1/snapshots/{id}/artifacts/items.json");
    let a = call(&addr, "GET", &items_path, Some(&viewer), None).await;
    assert_eq!(
        (a.status, a.json()["code"].as_str()),
        (403, Some("forbidden"))
    );
    let token0 = &common::feed_tokens()[0];
    let a = call(
        &addr,
        "GET",
        &format!("/api/v1/search?q={token0}"),
        Some(&viewer),
        None,
    )
    .await;
    assert_eq!(a.status, 200);
    assert!(String::from_utf8_lossy(&a.body).contains(&id));

    // Archivist: the artifact's bytes are the stored object's.
    let a = call(&addr, "GET", &items_path, Some(&archivist), None).await;
    assert_eq!(a.status, 200);
    let sha = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(&a.body))
    };
    let entry = manifest["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == "items.json")
        .unwrap();
    assert_eq!(sha, entry["sha256"].as_str().unwrap());
    assert!(String::from_utf8_lossy(&a.body).contains(token0.as_str()));
    // A byte range, as a video player seeks.
    let range = [("range", "bytes=10-19")];
    let (part, h) = call_with(&addr, "GET", &items_path, Some(&archivist), None, &range).await;
    assert_eq!(part.status, 206);
    assert_eq!(part.body, a.body[10..20].to_vec());
    assert_eq!(
        h.get("content-range").unwrap().to_str().unwrap(),
        format!("bytes 10-19/{}", a.body.len())
    );
    let past = [("range", "bytes=99999999-")];
    let (past, _) = call_with(&addr, "GET", &items_path, Some(&archivist), None, &past).await;
    assert_eq!(past.status, 416);
    let a = call(
        &addr,
        "POST",
        &format!("/api/v1/snapshots/{id}/verify"),
        Some(&archivist),
        None,
    )
    .await;
    assert_eq!((a.status, a.json()["ok"].as_bool()), (200, Some(true)));

    // The OpenAPI document names every endpoint with its role.
    let doc = call(&addr, "GET", "/api/v1/openapi.json", Some(&viewer), None)
        .await
        .json();
    assert_eq!(doc["openapi"], "3.1.0");
    for e in bevara::web::ENDPOINTS {
        let op = &doc["paths"][e.path][e.method];
        assert!(
            op["description"].as_str().unwrap_or("").contains(e.role),
            "{} {}",
            e.method,
            e.path
        );
        if e.request.is_some() {
            assert!(op["requestBody"].is_object(), "{} {}", e.method, e.path);
        }
    }
    // Every schema named is defined.
    let text = doc.to_string();
    for r in text.split("#/components/schemas/").skip(1) {
        let name = r.split('"').next().unwrap();
        assert!(doc["components"]["schemas"][name].is_object(), "{name}");
    }
    assert!(doc["paths"]["/api/v1/channels"]["post"].is_object());

    // Ops: jobs, no content.
    assert_eq!(
        call(&addr, "GET", "/api/v1/channels", Some(&ops), None)
            .await
            .status,
        403
    );
    assert_eq!(
        call(&addr, "GET", "/api/v1/jobs", Some(&ops), None)
            .await
            .status,
        200
    );

    // Admin: a capture needs a reason; asking again joins the queued job.
    let cap = "/api/v1/channels/flode/captures";
    assert_eq!(
        call(&addr, "POST", cap, Some(&viewer), Some(r#"{"reason":"x"}"#))
            .await
            .status,
        403
    );
    let a = call(&addr, "POST", cap, Some(&admin), Some(r#"{"reason":" "}"#)).await;
    assert_eq!(
        (a.status, a.json()["code"].as_str()),
        (400, Some("reason-required"))
    );
    let a = call(
        &addr,
        "POST",
        cap,
        Some(&admin),
        Some(r#"{"reason":"insändare om skolan"}"#),
    )
    .await;
    assert_eq!(a.status, 202);
    let job = a.json()["job_id"].as_str().unwrap().to_string();
    let a = call(
        &addr,
        "POST",
        cap,
        Some(&admin),
        Some(r#"{"reason":"debatt i fullmäktige"}"#),
    )
    .await;
    assert_eq!(
        (a.json()["job_id"].as_str(), a.json()["joined"].as_bool()),
        (Some(job.as_str()), Some(true))
    );
    let new = format!(
        r#"{{"id":"sala-blogg","platform":"blog","url":"http://{site}/classic/parkeringen/"}}"#
    );
    assert_eq!(
        call(&addr, "POST", "/api/v1/channels", Some(&admin), Some(&new))
            .await
            .status,
        201
    );
    let a = call(&addr, "POST", "/api/v1/channels", Some(&admin), Some(&new)).await;
    assert_eq!(
        (a.status, a.json()["code"].as_str()),
        (409, Some("channel-exists"))
    );

    // The audit log: who did what, with the reason.
    assert_eq!(
        call(&addr, "GET", "/api/v1/audit", Some(&viewer), None)
            .await
            .status,
        403
    );
    let log = call(&addr, "GET", "/api/v1/audit", Some(&archivist), None)
        .await
        .json();
    let actions: Vec<(&str, &str)> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["action"].as_str().unwrap(), e["actor"].as_str().unwrap()))
        .collect();
    assert!(
        actions.contains(&("capture.request", "token:admin")),
        "{actions:?}"
    );
    assert!(
        actions.contains(&("channel.add", "token:admin")),
        "{actions:?}"
    );
    assert!(
        actions.contains(&("snapshot.verify", "token:arkivarie")),
        "{actions:?}"
    );
    assert_eq!(actions.iter().filter(|a| a.0 == "token.create").count(), 4);
    assert!(log.to_string().contains("insändare om skolan"));

    // A revoked token is refused.
    let list = bevara(d, &[], &["token", "list", "--json"]).await;
    let tokens: serde_json::Value = serde_json::from_str(&list.stdout).unwrap();
    assert!(!list.stdout.contains("bvr_"), "token list shows a secret");
    let vid = tokens
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["role"] == "viewer")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(bevara(d, &[], &["token", "revoke", &vid]).await.code, 0);
    assert_eq!(
        call(&addr, "GET", "/api/v1/channels", Some(&viewer), None)
            .await
            .status,
        401
    );
    let _ = server.start_kill();
}

/// `bevara worker --serve` answers the pages and the API in the worker's process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_serves_the_web_too() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let admin = token(d, "admin", "admin").await;
    let (addr, mut worker) = common::http::start_bevara(
        d,
        &["worker", "--serve"],
        &[("BEVARA_WORKER_LISTEN", "127.0.0.1:0")],
    )
    .await;
    let a = call(
        &addr,
        "POST",
        "/api/v1/channels",
        Some(&admin),
        Some(r#"{"id":"sala","platform":"web","url":"https://www.sala.se/"}"#),
    )
    .await;
    assert_eq!(a.status, 201, "{}", String::from_utf8_lossy(&a.body));
    let a = call(&addr, "GET", "/login", None, None).await;
    assert!(String::from_utf8_lossy(&a.body).contains("API-nyckel"));
    let _ = worker.start_kill();
}
