//! Trusted timestamps (RFC 3161) against a time-stamping authority the test
//! runs on 127.0.0.1: `openssl ts -reply` behind a small HTTP server, with a
//! test CA whose TSA certificate has the critical timeStamping usage. Each
//! token is checked by Bevara and, independently, by `openssl ts -verify`.

mod common;

use common::bevara;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

const ALLOW: (&str, &str) = ("BEVARA_ALLOW_PRIVATE_ADDRESSES", "1");

fn openssl(dir: &Path, args: &[&str]) -> Vec<u8> {
    let o = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl");
    assert!(
        o.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o.stdout
}

/// A test CA, a TSA certificate it signed, and another CA that signed nothing.
fn pki(dir: &Path) {
    let ca = [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "30",
        "-subj",
        "/CN=Bevara test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ];
    openssl(dir, &ca);
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "other.key",
            "-out",
            "other.pem",
            "-days",
            "30",
            "-subj",
            "/CN=Some other CA",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "tsa.key",
            "-out",
            "tsa.csr",
            "-subj",
            "/O=Bevara test/CN=Bevara test TSA",
        ],
    );
    std::fs::write(
        dir.join("tsa.ext"),
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=critical,timeStamping\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "tsa.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "tsa.pem",
            "-days",
            "30",
            "-extfile",
            "tsa.ext",
        ],
    );
    std::fs::write(dir.join("tsaserial"), "01\n").unwrap();
    std::fs::write(
        dir.join("tsa.cnf"),
        format!(
            "[ tsa ]\ndefault_tsa = tsa1\n[ tsa1 ]\ndir = {}\nserial = $dir/tsaserial\n\
             crypto_device = builtin\nsigner_cert = $dir/tsa.pem\ncerts = $dir/tsa.pem\n\
             signer_key = $dir/tsa.key\nsigner_digest = sha256\ndefault_policy = 1.2.3.4.1\n\
             digests = sha256, sha384, sha512\naccuracy = secs:1\nordering = no\ntsa_name = yes\n\
             ess_cert_id_chain = no\ness_cert_id_alg = sha256\n",
            dir.display()
        ),
    )
    .unwrap();
}

/// A TSA over HTTP: each POSTed query answered by `openssl ts -reply`; 503
/// while `up` is false.
async fn serve_tsa(dir: PathBuf, up: Arc<AtomicBool>) -> std::net::SocketAddr {
    use axum::routing::post;
    let handler = move |body: axum::body::Bytes| {
        let (dir, up) = (dir.clone(), up.clone());
        async move {
            if !up.load(Ordering::SeqCst) {
                return (axum::http::StatusCode::SERVICE_UNAVAILABLE, Vec::new());
            }
            let reply = tokio::task::spawn_blocking(move || {
                let q = dir.join(format!("q-{}.tsq", ulid::Ulid::new()));
                std::fs::write(&q, &body).unwrap();
                let r = q.with_extension("tsr");
                openssl(
                    &dir,
                    &[
                        "ts",
                        "-reply",
                        "-config",
                        "tsa.cnf",
                        "-queryfile",
                        q.to_str().unwrap(),
                        "-out",
                        r.to_str().unwrap(),
                    ],
                );
                std::fs::read(&r).unwrap()
            })
            .await
            .unwrap();
            (axum::http::StatusCode::OK, reply)
        }
    };
    let app = axum::Router::new().route("/tsa", post(handler));
    bevara::demo::serve(app).await.unwrap().0
}

fn openssl_verifies(dir: &Path, data: &Path, token: &Path, ca: &str) -> bool {
    std::process::Command::new("openssl")
        .args(["ts", "-verify", "-data"])
        .arg(data)
        .arg("-in")
        .arg(token)
        .args(["-CAfile", ca])
        .current_dir(dir)
        .output()
        .unwrap()
        .status
        .success()
}

/// A TSA answer for the bytes of `data`, made directly with `openssl ts`
/// under the TSA configuration `cnf` (files named after `name`).
fn token_for(pki: &Path, cnf: &str, data: &Path, name: &str) -> Vec<u8> {
    let q = openssl(
        pki,
        &[
            "ts",
            "-query",
            "-data",
            data.to_str().unwrap(),
            "-sha256",
            "-cert",
        ],
    );
    let (tsq, tsr) = (format!("{name}.tsq"), format!("{name}.tsr"));
    std::fs::write(pki.join(&tsq), q).unwrap();
    openssl(
        pki,
        &[
            "ts",
            "-reply",
            "-config",
            cnf,
            "-queryfile",
            &tsq,
            "-out",
            &tsr,
        ],
    );
    std::fs::read(pki.join(&tsr)).unwrap()
}

/// Puts `token` in place of snapshot `id`'s stored token, with a record that
/// matches it: only what the token says can give it away.
async fn put_token(d: &Path, id: &str, token: &[u8]) {
    let b = common::open(&d.join("data")).await;
    let arts = b.db().artifacts(id).await.unwrap();
    let mut t = arts.into_iter().find(|a| a.name == "manifest.tsr").unwrap();
    use sha2::Digest;
    t.sha256 = hex::encode(sha2::Sha256::digest(token));
    t.bytes = token.len() as i64;
    std::fs::write(d.join("data/objects").join(&t.key), token).unwrap();
    b.db().add_artifact(id, &t).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manifests_are_timestamped_and_checked() {
    let site = common::serve().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let pkid = d.join("pki");
    std::fs::create_dir_all(&pkid).unwrap();
    pki(&pkid);
    let up = Arc::new(AtomicBool::new(true));
    let tsa = serve_tsa(pkid.clone(), up.clone()).await;
    let url = format!("http://{tsa}/tsa");
    let ca = pkid.join("ca.pem");
    let other = pkid.join("other.pem");
    let env = [
        ALLOW,
        ("BEVARA_TIMESTAMP_TSA_URL", url.as_str()),
        ("BEVARA_TIMESTAMP_CA_FILE", ca.to_str().unwrap()),
        ("BEVARA_TIMESTAMP_TIMEOUT_SECS", "5"),
    ];
    common::add_feed_channel(d, site, "sala").await;

    // Stamped at completion.
    let r = bevara(d, &env, &["capture", "sala"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stderr.contains("not timestamped"), "{}", r.stderr);
    let first = common::newest_snapshot(d).await;
    let got = d.join("got");
    let r = bevara(
        d,
        &env,
        &["snapshots", "get", &first, "--out", got.to_str().unwrap()],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let token = got.join("manifest.tsr");
    assert!(token.is_file(), "snapshots get writes the token");
    // Independently: OpenSSL accepts the token for the exact manifest bytes.
    assert!(openssl_verifies(
        &pkid,
        &got.join("manifest.json"),
        &token,
        "ca.pem"
    ));
    // And not for other bytes, nor under another CA.
    std::fs::write(d.join("other.json"), b"{}").unwrap();
    assert!(!openssl_verifies(
        &pkid,
        &d.join("other.json"),
        &token,
        "ca.pem"
    ));
    assert!(!openssl_verifies(
        &pkid,
        &got.join("manifest.json"),
        &token,
        "other.pem"
    ));

    // Bevara's own check.
    let r = bevara(d, &env, &["verify", &first]).await;
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let r = bevara(d, &env, &["timestamp", "show", &first, "--json"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let shown: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(shown["chain_checked"], true);
    assert_eq!(shown["policy"], "1.2.3.4.1");
    assert!(shown["signer"]
        .as_str()
        .unwrap()
        .contains("Bevara test TSA"));
    let t = chrono::DateTime::parse_from_rfc3339(shown["gen_time"].as_str().unwrap()).unwrap();
    assert!(
        (chrono::Utc::now() - t.with_timezone(&chrono::Utc))
            .num_seconds()
            .abs()
            < 300
    );
    // Under a CA that did not sign the TSA, the chain does not hold.
    let wrong = [
        ALLOW,
        ("BEVARA_TIMESTAMP_TSA_URL", url.as_str()),
        ("BEVARA_TIMESTAMP_CA_FILE", other.to_str().unwrap()),
    ];
    let r = bevara(d, &wrong, &["verify", &first]).await;
    assert_eq!(r.code, 8, "{}{}", r.stdout, r.stderr);
    assert!(
        format!("{}{}", r.stdout, r.stderr).contains("does not end in timestamp.ca_file"),
        "{}{}",
        r.stdout,
        r.stderr
    );

    // A token for other data, put in place of the real one with a matching
    // record, is found out by what it says, not by its checksum.
    let forged = token_for(&pkid, "tsa.cnf", &d.join("other.json"), "forged");
    put_token(d, &first, &forged).await;
    let r = bevara(d, &env, &["verify", &first]).await;
    assert_eq!(r.code, 8, "{}{}", r.stdout, r.stderr);
    assert!(
        format!("{}{}", r.stdout, r.stderr).contains("imprint is not the manifest's SHA-256"),
        "{}{}",
        r.stdout,
        r.stderr
    );

    // A TSA certificate issued by a certificate that is no CA (the real TSA's,
    // which has CA:FALSE) does not chain, however the names line up.
    openssl(
        &pkid,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "rogue.key",
            "-out",
            "rogue.csr",
            "-subj",
            "/CN=Rogue TSA",
        ],
    );
    openssl(
        &pkid,
        &[
            "x509",
            "-req",
            "-in",
            "rogue.csr",
            "-CA",
            "tsa.pem",
            "-CAkey",
            "tsa.key",
            "-CAcreateserial",
            "-out",
            "rogue.pem",
            "-days",
            "30",
            "-extfile",
            "tsa.ext",
        ],
    );
    let chain = [
        std::fs::read_to_string(pkid.join("rogue.pem")).unwrap(),
        std::fs::read_to_string(pkid.join("tsa.pem")).unwrap(),
    ]
    .concat();
    std::fs::write(pkid.join("rogue-chain.pem"), chain).unwrap();
    let cnf = std::fs::read_to_string(pkid.join("tsa.cnf"))
        .unwrap()
        .replace("signer_cert = $dir/tsa.pem", "signer_cert = $dir/rogue.pem")
        .replace("certs = $dir/tsa.pem", "certs = $dir/rogue-chain.pem")
        .replace("signer_key = $dir/tsa.key", "signer_key = $dir/rogue.key");
    std::fs::write(pkid.join("rogue.cnf"), cnf).unwrap();
    let rogue = token_for(&pkid, "rogue.cnf", &got.join("manifest.json"), "rogue");
    put_token(d, &first, &rogue).await;
    let r = bevara(d, &env, &["verify", &first]).await;
    assert_eq!(r.code, 8, "{}{}", r.stdout, r.stderr);
    assert!(
        format!("{}{}", r.stdout, r.stderr).contains("it is not a CA"),
        "{}{}",
        r.stdout,
        r.stderr
    );

    // The TSA down: the capture is complete anyway, with a warning, and is
    // stamped by `timestamp sync` once the TSA answers again.
    up.store(false, Ordering::SeqCst);
    let r = bevara(d, &env, &["capture", "sala"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("not timestamped yet"), "{}", r.stderr);
    let second = common::newest_snapshot(d).await;
    assert_ne!(second, first);
    assert_eq!(bevara(d, &env, &["verify", &second]).await.code, 0);
    let r = bevara(d, &env, &["timestamp", "show", &second]).await;
    assert_eq!(r.code, 3, "no token yet: {}", r.stdout);
    let r = bevara(d, &env, &["timestamp", "sync"]).await;
    assert_eq!(r.code, 5, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains(&format!("left    {second}")),
        "{}",
        r.stdout
    );
    up.store(true, Ordering::SeqCst);
    let r = bevara(d, &env, &["timestamp", "sync", "--json"]).await;
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let synced: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(synced["stamped"], serde_json::json!([second]));
    let got2 = d.join("got2");
    let r = bevara(
        d,
        &env,
        &["snapshots", "get", &second, "--out", got2.to_str().unwrap()],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(openssl_verifies(
        &pkid,
        &got2.join("manifest.json"),
        &got2.join("manifest.tsr"),
        "ca.pem"
    ));
    assert_eq!(bevara(d, &env, &["verify", &second]).await.code, 0);

    // The export carries the token beside the manifest.
    let out = d.join("leverans");
    let r = bevara(
        d,
        &env,
        &["export", &second, "--out", out.to_str().unwrap(), "--json"],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let e: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let rep = out
        .join(e["package_id"].as_str().unwrap())
        .join("representations")
        .join(&second);
    assert_eq!(
        std::fs::read(rep.join("metadata/other/manifest.tsr")).unwrap(),
        std::fs::read(got2.join("manifest.tsr")).unwrap()
    );
    let mets = std::fs::read_to_string(rep.join("METS.xml")).unwrap();
    assert!(mets.contains("metadata/other/manifest.tsr"), "{mets}");
}
