//! The S3 store against real S3-compatible servers on 127.0.0.1: a capture's
//! round trip byte for byte, multipart uploads, a corrupted object found by
//! `verify`, Object Lock retention that stops a delete, and a store that is
//! down during a capture (or hangs until the capture is killed): the
//! snapshot waits `upload-pending` in the spool and is complete after
//! `bevara store sync`, every object verified.

mod common;

use common::s3::{bytes, Relay, Server};
use common::{bevara, Run};
use std::path::Path;

const ALLOW: (&str, &str) = ("BEVARA_ALLOW_PRIVATE_ADDRESSES", "1");

fn env<'a>(owned: &'a [(String, String)], extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut v: Vec<(&str, &str)> = owned
        .iter()
        .map(|(k, s)| (k.as_str(), s.as_str()))
        .collect();
    v.push(ALLOW);
    v.extend_from_slice(extra);
    v
}

async fn ok(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Run {
    let r = bevara(dir, env, args).await;
    assert_eq!(r.code, 0, "bevara {args:?}:\n{}\n{}", r.stdout, r.stderr);
    r
}

async fn add_feed(dir: &Path, env: &[(&str, &str)], id: &str, extra: &[&str]) {
    let addr = common::serve().await;
    let url = format!("http://{addr}/site/feed.html");
    let mut args = vec![
        "channel",
        "add",
        id,
        "--platform",
        "facebook",
        "--url",
        &url,
        "--no-recording",
    ];
    args.extend_from_slice(extra);
    ok(dir, env, &args).await;
}

fn snapshots(r: &Run) -> Vec<serde_json::Value> {
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stdout))
}

/// `snapshots get` into `DIR/out`: the directory and the manifest there.
async fn get(
    dir: &Path,
    env: &[(&str, &str)],
    id: &str,
) -> (std::path::PathBuf, serde_json::Value) {
    let out = dir.join("out");
    ok(
        dir,
        env,
        &["snapshots", "get", id, "--out", out.to_str().unwrap()],
    )
    .await;
    let manifest = serde_json::from_slice(&bytes(&out.join("manifest.json"))).unwrap();
    (out, manifest)
}

fn sha256_hex(b: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(b))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capture_round_trips_through_s3_and_verify_finds_a_corrupted_object() {
    let s3 = Server::s3s_fs("arkiv");
    let dir = tempfile::tempdir().unwrap();
    let owned = s3.env("arkiv", "bevara/sala");
    let env = env(&owned, &[]);
    add_feed(dir.path(), &env, "flode", &[]).await;
    let r = ok(dir.path(), &env, &["capture", "flode"]).await;
    assert!(r.stdout.contains("complete"), "{}", r.stdout);
    let list = snapshots(&ok(dir.path(), &env, &["snapshots", "list", "--json"]).await);
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["state"], "complete", "{list:?}");
    let id = list[0]["id"].as_str().unwrap().to_string();

    // What `snapshots get` brings back is what the bucket holds, byte for
    // byte, under <prefix>/<channel>/<YYYY>/<MM>/<DD>/<id>/<artifact>.
    let (out, manifest) = get(dir.path(), &env, &id).await;
    let artifacts = manifest["artifacts"].as_array().unwrap();
    assert!(artifacts.len() >= 5, "{artifacts:?}");
    let client = s3.client().await;
    for a in artifacts {
        let (name, key) = (a["name"].as_str().unwrap(), a["key"].as_str().unwrap());
        assert!(
            key.starts_with("flode/") && key.contains(&format!("/{id}/")),
            "{key}"
        );
        let got = bytes(&out.join(name));
        let in_bucket = bytes(&s3.object_file("arkiv", &format!("bevara/sala/{key}")));
        assert!(
            got == in_bucket,
            "{name}: retrieved bytes differ from the bucket's"
        );
        assert_eq!(sha256_hex(&got), a["sha256"].as_str().unwrap(), "{name}");
        let head = client
            .head_object()
            .bucket("arkiv")
            .key(format!("bevara/sala/{key}"))
            .send()
            .await
            .unwrap();
        let meta = head.metadata().unwrap();
        assert_eq!(
            meta.get("bevara-sha256").map(String::as_str),
            a["sha256"].as_str(),
            "{name}"
        );
        assert_eq!(meta.get("bevara-snapshot"), Some(&id), "{name}");
        assert_eq!(
            meta.get("bevara-channel").map(String::as_str),
            Some("flode")
        );
    }
    let items = String::from_utf8(bytes(&out.join("items.json"))).unwrap();
    for t in common::feed_tokens() {
        assert!(
            items.contains(&t),
            "{t} missing from items.json stored in S3"
        );
    }
    let r = ok(dir.path(), &env, &["verify", &id]).await;
    assert_eq!(
        r.stdout.matches("ok ").count(),
        artifacts.len() + 1,
        "{}",
        r.stdout
    );

    // Flip bytes of text.txt in the server's own file: same size, other content.
    let text = artifacts.iter().find(|a| a["name"] == "text.txt").unwrap();
    let key = text["key"].as_str().unwrap();
    let file = s3.object_file("arkiv", &format!("bevara/sala/{key}"));
    let mut b = bytes(&file);
    for x in b.iter_mut().take(16) {
        *x = b'#';
    }
    std::fs::write(&file, &b).unwrap();
    let r = bevara(dir.path(), &env, &["verify", &id]).await;
    assert_eq!(r.code, 8, "{}\n{}", r.stdout, r.stderr);
    let failed: Vec<&str> = r
        .stdout
        .lines()
        .filter(|l| l.starts_with("FAILED"))
        .collect();
    assert_eq!(failed.len(), 1, "{}", r.stdout);
    assert!(
        failed[0].contains(key) && failed[0].contains("checksum mismatch"),
        "{}",
        failed[0]
    );
    // --quick trusts the checksums the store recorded: it cannot see this.
    let r = ok(dir.path(), &env, &["verify", "--quick", &id]).await;
    assert!(!r.stdout.contains("FAILED"), "{}", r.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_objects_go_by_multipart_upload_streamed_from_disk() {
    use bevara::store::{ObjectStore, PutMeta, S3Location, S3Store};
    let s3 = Server::s3s_fs("arkiv");
    let mut settings = bevara::config::StoreSettings::default();
    settings.endpoint = s3.endpoint.clone();
    settings.region = "us-east-1".into();
    settings.path_style = true;
    settings.access_key_id = common::s3::ACCESS_KEY.into();
    settings.secret_access_key = common::s3::SECRET_KEY.into();
    settings.multipart_part_mb = 5;
    let store = S3Store::connect(S3Location::parse("arkiv/mp").unwrap(), &settings)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("recording.mp4");
    // 12.5 MiB of varied bytes: three parts of 5, 5 and 2.5 MiB.
    let data: Vec<u8> = (0..(12 * 1024 * 1024 + 512 * 1024) as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&src, &data).unwrap();
    let sha = sha256_hex(&data);
    let meta = PutMeta {
        media_type: "video/mp4",
        sha256: &sha,
        snapshot_id: "01JTEST",
        channel: "flode",
        retention: None,
    };
    let key = "flode/2026/12/02/01JTEST/recording.mp4";
    store.put_file(key, &src, &meta).await.unwrap();
    let head = store
        .client()
        .head_object()
        .bucket("arkiv")
        .key(format!("mp/{key}"))
        .send()
        .await
        .unwrap();
    // A multipart object's ETag names its part count.
    assert!(
        head.e_tag().unwrap_or("").trim_matches('"').ends_with("-3"),
        "ETag {:?}",
        head.e_tag()
    );
    assert_eq!(head.content_length(), Some(data.len() as i64));
    // The full-file digest is in the metadata, since the ETag is not one.
    assert_eq!(head.metadata().unwrap().get("bevara-sha256"), Some(&sha));
    let d = store.digest(key, None).await.unwrap();
    assert_eq!(
        (d.bytes, d.sha256.as_str()),
        (data.len() as u64, sha.as_str())
    );
    let back = dir.path().join("back.mp4");
    assert_eq!(
        store.get_to_file(key, &back).await.unwrap(),
        data.len() as u64
    );
    assert!(bytes(&back) == data);
    assert!(bytes(&s3.object_file("arkiv", &format!("mp/{key}"))) == data);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_lock_keeps_every_object_and_a_bucket_without_it_is_refused_at_start() {
    use aws_sdk_s3::types::ObjectLockMode;
    let s3 = Server::moto();
    let client = s3.client().await;
    client
        .create_bucket()
        .bucket("laast")
        .object_lock_enabled_for_bucket(true)
        .send()
        .await
        .unwrap();
    client
        .create_bucket()
        .bucket("olaast")
        .send()
        .await
        .unwrap();

    // Retention asked of a bucket that cannot lock: a clear error before
    // anything is captured.
    let dir = tempfile::tempdir().unwrap();
    let owned = s3.env("olaast", "bevara");
    let env_plain = env(&owned, &[("BEVARA_STORE_OBJECT_LOCK_DAYS", "1")]);
    add_feed(dir.path(), &env_plain, "flode", &[]).await;
    let r = bevara(dir.path(), &env_plain, &["capture", "flode"]).await;
    assert_eq!(r.code, 11, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("Object Lock") && r.stderr.contains("olaast"),
        "{}",
        r.stderr
    );
    let list = snapshots(&ok(dir.path(), &env_plain, &["snapshots", "list", "--json"]).await);
    assert!(list.is_empty(), "{list:?}");

    // A locked bucket: every object (the manifest too) under COMPLIANCE
    // until capture time plus the days; the channel's own days win.
    let dir = tempfile::tempdir().unwrap();
    let owned = s3.env("laast", "bevara");
    let env = env(&owned, &[("BEVARA_STORE_OBJECT_LOCK_DAYS", "1")]);
    add_feed(dir.path(), &env, "flode", &["--retain-days", "3"]).await;
    ok(dir.path(), &env, &["capture", "flode"]).await;
    let list = snapshots(&ok(dir.path(), &env, &["snapshots", "list", "--json"]).await);
    let id = list[0]["id"].as_str().unwrap().to_string();
    let (_, manifest) = get(dir.path(), &env, &id).await;
    assert_eq!(
        manifest["retention"]["mode"], "compliance",
        "{}",
        manifest["retention"]
    );
    assert_eq!(manifest["retention"]["days"], 3);
    let requested: chrono::DateTime<chrono::Utc> =
        manifest["requested_at"].as_str().unwrap().parse().unwrap();
    let until: chrono::DateTime<chrono::Utc> = manifest["retention"]["until"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!((until - requested).num_days(), 3);
    let artifacts = manifest["artifacts"].as_array().unwrap();
    for a in artifacts {
        let key = format!("bevara/{}", a["key"].as_str().unwrap());
        let version = a["version_id"]
            .as_str()
            .unwrap_or_else(|| panic!("no version id for {key} in the manifest"));
        let head = client
            .head_object()
            .bucket("laast")
            .key(&key)
            .version_id(version)
            .send()
            .await
            .unwrap();
        assert_eq!(
            head.object_lock_mode(),
            Some(&ObjectLockMode::Compliance),
            "{key}"
        );
        let kept = head.object_lock_retain_until_date().unwrap().secs();
        assert!(
            (kept - until.timestamp()).abs() <= 1,
            "{key}: {kept} vs {until}"
        );
    }
    // A locked version cannot be deleted.
    let shot = artifacts
        .iter()
        .find(|a| a["name"] == "screenshot.png")
        .unwrap();
    let key = format!("bevara/{}", shot["key"].as_str().unwrap());
    let deleted = client
        .delete_object()
        .bucket("laast")
        .key(&key)
        .version_id(shot["version_id"].as_str().unwrap())
        .send()
        .await;
    assert!(deleted.is_err(), "a COMPLIANCE-locked version was deleted");
    let r = ok(dir.path(), &env, &["verify", &id]).await;
    assert_eq!(
        r.stdout.matches("ok ").count(),
        artifacts.len() + 1,
        "{}",
        r.stdout
    );

    // Due by its rule at once, but kept while Object Lock holds it.
    ok(
        dir.path(),
        &env,
        &[
            "retention",
            "set",
            "flode",
            "--keep",
            "0d",
            "--decision",
            "KS 2026/1",
        ],
    )
    .await;
    let dry = ok(dir.path(), &env, &["dispose", "--dry-run", "--json"]).await;
    let plan: serde_json::Value = serde_json::from_str(&dry.stdout).unwrap();
    assert_eq!(plan[0]["kept"]["kept_by"], "object-lock", "{plan}");
    let run = ok(dir.path(), &env, &["dispose", "--apply"]).await;
    assert!(!run.stdout.contains("disposed"), "{}", run.stdout);
    // A legal hold puts an S3 legal hold on every object; lifting it lifts them.
    let hold = ok(dir.path(), &env, &["hold", "add", &id, "--reason", "tvist"]).await;
    assert!(
        hold.stderr.contains("under an S3 legal hold"),
        "{}",
        hold.stderr
    );
    let status = |on: bool| {
        let client = client.clone();
        let artifacts = artifacts.clone();
        async move {
            for a in &artifacts {
                let key = format!("bevara/{}", a["key"].as_str().unwrap());
                let head = client
                    .head_object()
                    .bucket("laast")
                    .key(&key)
                    .version_id(a["version_id"].as_str().unwrap())
                    .send()
                    .await
                    .unwrap();
                let want = if on {
                    aws_sdk_s3::types::ObjectLockLegalHoldStatus::On
                } else {
                    aws_sdk_s3::types::ObjectLockLegalHoldStatus::Off
                };
                assert_eq!(head.object_lock_legal_hold_status(), Some(&want), "{key}");
            }
        }
    };
    status(true).await;
    ok(dir.path(), &env, &["hold", "remove", hold.stdout.trim()]).await;
    status(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_outage_leaves_the_capture_upload_pending_until_store_sync() {
    let s3 = Server::s3s_fs("arkiv");
    let dir = tempfile::tempdir().unwrap();
    let owned = s3.env("arkiv", "bevara");
    let env = env(&owned, &[]);
    add_feed(dir.path(), &env, "flode", &[]).await;

    s3.set(Relay::Refuse);
    let r = bevara(dir.path(), &env, &["capture", "flode"]).await;
    assert_eq!(r.code, 15, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("upload pending"), "{}", r.stdout);
    assert!(r.took.as_secs() < 120, "took {:?}", r.took);
    let list = snapshots(&ok(dir.path(), &env, &["snapshots", "list", "--json"]).await);
    assert_eq!(list[0]["state"], "upload-pending", "{list:?}");
    let id = list[0]["id"].as_str().unwrap().to_string();
    assert!(r.stdout.contains(&id), "{}", r.stdout);
    // Not a snapshot yet: nothing to verify or retrieve.
    assert_ne!(bevara(dir.path(), &env, &["verify", &id]).await.code, 0);
    let status = ok(dir.path(), &env, &["store", "status"]).await;
    assert!(
        status.stdout.contains("1 here") && status.stdout.contains(&id),
        "{}",
        status.stdout
    );
    let spooled = dir.path().join("data/spool").join(&id);
    assert!(spooled.join("items.json").is_file() && spooled.join("screenshot.png").is_file());
    // Still down: sync says what is left and exits 15.
    let r = bevara(dir.path(), &env, &["store", "sync"]).await;
    assert_eq!(r.code, 15, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains(&format!("pending   {id}")),
        "{}",
        r.stdout
    );
    // A spool at its cap refuses the next capture, and keeps what waits.
    let mut full = env.clone();
    full.push(("BEVARA_STORE_SPOOL_MAX_MB", "1"));
    let r = bevara(dir.path(), &full, &["capture", "flode"]).await;
    assert_eq!(r.code, 11, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("spool") && r.stderr.contains("store.spool_max_mb"),
        "{}",
        r.stderr
    );
    assert!(spooled.join("screenshot.png").is_file());

    s3.set(Relay::Pass);
    let r = ok(dir.path(), &env, &["store", "sync"]).await;
    assert!(
        r.stdout.contains(&format!("stored    {id}")),
        "{}",
        r.stdout
    );
    let list = snapshots(&ok(dir.path(), &env, &["snapshots", "list", "--json"]).await);
    assert_eq!(list[0]["state"], "complete", "{list:?}");
    assert!(!spooled.exists(), "the spool keeps a stored snapshot");
    let r = ok(dir.path(), &env, &["verify", &id]).await;
    assert!(
        !r.stdout.contains("FAILED") && r.stdout.contains("ok "),
        "{}",
        r.stdout
    );
    let (out, _) = get(dir.path(), &env, &id).await;
    let items = String::from_utf8(bytes(&out.join("items.json"))).unwrap();
    for t in common::feed_tokens() {
        assert!(items.contains(&t), "{t} lost on the way through the spool");
    }
    let searched = ok(
        dir.path(),
        &env,
        &["search", "--json", &common::feed_tokens()[0]],
    )
    .await;
    assert!(searched.stdout.contains(&id), "{}", searched.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capture_killed_mid_upload_is_stored_by_the_next_sync() {
    let s3 = Server::s3s_fs("arkiv");
    let dir = tempfile::tempdir().unwrap();
    let owned = s3.env("arkiv", "bevara");
    let env = env(&owned, &[("BEVARA_STORE_REQUEST_TIMEOUT_SECS", "600")]);
    add_feed(dir.path(), &env, "flode", &[]).await;

    // The store takes the connection and never answers: the upload hangs.
    s3.set(Relay::Stall);
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_bevara"))
        .args(["capture", "flode"])
        .current_dir(dir.path())
        .env_remove("BEVARA_CONFIG")
        .env("BEVARA_DATA_DIR", dir.path().join("data"))
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    let id = loop {
        let list = snapshots(&ok(dir.path(), &env, &["snapshots", "list", "--json"]).await);
        if let Some(c) = list.first().filter(|c| c["state"] == "upload-pending") {
            break c["id"].as_str().unwrap().to_string();
        }
        assert!(
            started.elapsed().as_secs() < 120,
            "never reached the upload: {list:?}"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the capture ended before its upload"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    child.start_kill().unwrap();
    child.wait().await.unwrap();

    s3.set(Relay::Pass);
    let r = ok(dir.path(), &env, &["store", "sync"]).await;
    assert!(
        r.stdout.contains(&format!("stored    {id}")),
        "{}",
        r.stdout
    );
    let r = ok(dir.path(), &env, &["verify", &id]).await;
    assert!(!r.stdout.contains("FAILED"), "{}", r.stdout);
    let list = snapshots(&ok(dir.path(), &env, &["snapshots", "list", "--json"]).await);
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["state"], "complete");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_stores_pending_uploads_when_the_store_is_back() {
    let s3 = Server::s3s_fs("arkiv");
    let dir = tempfile::tempdir().unwrap();
    let owned = s3.env("arkiv", "bevara");
    let env = env(
        &owned,
        &[
            ("BEVARA_STORE_SYNC_SECS", "1"),
            ("BEVARA_WORKER_LISTEN", ""),
        ],
    );
    add_feed(dir.path(), &env, "flode", &[]).await;
    s3.set(Relay::Refuse);
    let r = bevara(dir.path(), &env, &["capture", "flode"]).await;
    assert_eq!(r.code, 15, "{}\n{}", r.stdout, r.stderr);
    let list = snapshots(&ok(dir.path(), &env, &["snapshots", "list", "--json"]).await);
    let id = list[0]["id"].as_str().unwrap().to_string();

    // The worker starts while the store is still down, then it comes back.
    let mut worker = tokio::process::Command::new(env!("CARGO_BIN_EXE_bevara"))
        .arg("worker")
        .current_dir(dir.path())
        .env_remove("BEVARA_CONFIG")
        .env("BEVARA_DATA_DIR", dir.path().join("data"))
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    s3.set(Relay::Pass);
    let started = std::time::Instant::now();
    loop {
        let list = snapshots(&ok(dir.path(), &env, &["snapshots", "list", "--json"]).await);
        if list[0]["state"] == "complete" {
            break;
        }
        assert!(
            started.elapsed().as_secs() < 60,
            "the worker did not store the pending upload: {list:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
    let _ = worker.start_kill();
    let _ = worker.wait().await;
    let r = ok(dir.path(), &env, &["verify", &id]).await;
    assert!(!r.stdout.contains("FAILED"), "{}", r.stdout);
}
