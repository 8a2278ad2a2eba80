//! The `bevara` command as scripts use it: exit codes, output, and every kind
//! of bad input ending in bounded time with a recorded outcome.

mod common;

use std::path::Path;
use std::time::Duration;

use common::bevara;

const ALLOW: (&str, &str) = ("BEVARA_ALLOW_PRIVATE_ADDRESSES", "1");

async fn add(dir: &Path, id: &str, url: &str) {
    add_on(dir, id, "web", url).await
}

async fn add_on(dir: &Path, id: &str, platform: &str, url: &str) {
    let r = bevara(
        dir,
        &[],
        &["channel", "add", id, "--platform", platform, "--url", url],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
}

async fn captures(dir: &Path) -> Vec<serde_json::Value> {
    let r = bevara(dir, &[], &["snapshots", "list", "--json"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    serde_json::from_str(&r.stdout).unwrap()
}

#[tokio::test]
async fn register_add_list_show_close() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let r = bevara(
        d,
        &[],
        &[
            "channel",
            "add",
            "sala-fb",
            "--platform",
            "facebook",
            "--url",
            "https://www.facebook.com/salakommun",
            "--name",
            "Sala kommun",
            "--owner",
            "Kommunikationsenheten",
            "--admin",
            "Anna Andersson",
            "--admin",
            "Björn Berg",
            "--purpose",
            "Information till invånare",
            "--tag",
            "kommun",
        ],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = bevara(d, &[], &["channel", "list", "--json"]).await;
    let list: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(list[0]["id"], "sala-fb");
    assert_eq!(
        list[0]["admins"],
        serde_json::json!(["Anna Andersson", "Björn Berg"])
    );
    assert_eq!(list[0]["owner"], "Kommunikationsenheten");
    assert!(list[0]["closed_at"].is_null());
    let r = bevara(d, &[], &["channel", "show", "sala-fb"]).await;
    assert!(
        r.stdout.contains("Björn Berg") && r.stdout.contains("Information till invånare"),
        "{}",
        r.stdout
    );
    assert_eq!(
        bevara(d, &[], &["channel", "close", "sala-fb"]).await.code,
        0
    );
    let r = bevara(d, &[], &["channel", "list"]).await;
    assert!(
        r.stdout
            .lines()
            .any(|l| l.starts_with("sala-fb") && l.contains("closed")),
        "{}",
        r.stdout
    );

    // Mistakes are refused with a clear message.
    let dup = bevara(
        d,
        &[],
        &[
            "channel",
            "add",
            "sala-fb",
            "--platform",
            "x",
            "--url",
            "https://x.com/sala",
        ],
    )
    .await;
    assert_eq!(dup.code, 2);
    assert!(dup.stderr.contains("already registered"), "{}", dup.stderr);
    let bad = bevara(
        d,
        &[],
        &[
            "channel",
            "add",
            "Sala FB",
            "--platform",
            "x",
            "--url",
            "https://x.com/s",
        ],
    )
    .await;
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("invalid channel id"), "{}", bad.stderr);
    let bad = bevara(
        d,
        &[],
        &[
            "channel",
            "add",
            "s",
            "--platform",
            "myspace",
            "--url",
            "https://x.com/s",
        ],
    )
    .await;
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("unknown platform"), "{}", bad.stderr);
    let unknown = bevara(d, &[], &["channel", "show", "nope"]).await;
    assert_eq!(unknown.code, 3);
    assert!(
        unknown.stderr.contains("no channel nope"),
        "{}",
        unknown.stderr
    );
}

#[tokio::test]
async fn malformed_and_non_http_urls_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for url in [
        "not a url",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "chrome://settings",
        "data:text/html,<b>x</b>",
    ] {
        let r = bevara(
            dir.path(),
            &[],
            &["channel", "add", "c", "--platform", "web", "--url", url],
        )
        .await;
        assert_eq!(r.code, 4, "{url}: {}", r.stderr);
        assert!(r.stderr.contains("URL"), "{url}: {}", r.stderr);
    }
    assert_eq!(
        bevara(dir.path(), &[], &["channel", "list", "--json"])
            .await
            .stdout
            .trim(),
        "[]"
    );
}

#[tokio::test]
async fn unknown_channel_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let r = bevara(dir.path(), &[], &["capture", "no-such-channel"]).await;
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr.contains("no channel no-such-channel"),
        "{}",
        r.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_addresses_are_refused_unless_allowed() {
    let addr = common::serve().await;
    let dir = tempfile::tempdir().unwrap();
    add(dir.path(), "lokal", &format!("http://{addr}/status/200")).await;
    let r = bevara(dir.path(), &[], &["capture", "lokal"]).await;
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.stderr.contains("loopback") && r.stderr.contains("BEVARA_ALLOW_PRIVATE_ADDRESSES"),
        "{}",
        r.stderr
    );
    let list = captures(dir.path()).await;
    assert_eq!(list[0]["state"], "failed");
    assert_eq!(list[0]["failure_code"], "invalid-target");
    let r = bevara(dir.path(), &[ALLOW], &["capture", "lokal"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_hosts_exit_5() {
    let dir = tempfile::tempdir().unwrap();
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    add(dir.path(), "stangd", &format!("http://127.0.0.1:{port}/")).await;
    add(dir.path(), "okand", "http://bevara-test-host.invalid/").await;
    for id in ["stangd", "okand"] {
        let r = bevara(dir.path(), &[ALLOW], &["capture", id]).await;
        assert_eq!(r.code, 5, "{id}: {}", r.stderr);
        assert!(
            r.stderr.contains("unreachable") || r.stderr.contains("cannot resolve"),
            "{}",
            r.stderr
        );
        assert!(r.took < Duration::from_secs(40), "{id} took {:?}", r.took);
    }
    let list = captures(dir.path()).await;
    assert!(
        list.iter()
            .all(|c| c["state"] == "failed" && c["failure_code"] == "unreachable"),
        "{list:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_that_never_answers_times_out() {
    let addr = common::serve().await;
    let dir = tempfile::tempdir().unwrap();
    add(dir.path(), "hanger", &format!("http://{addr}/hang")).await;
    let env = [ALLOW, ("BEVARA_CAPTURE_PAGE_LOAD_TIMEOUT_SECS", "4")];
    let r = bevara(dir.path(), &env, &["capture", "hanger"]).await;
    assert_eq!(r.code, 6, "{}", r.stderr);
    assert!(r.stderr.contains("did not load within 4 s"), "{}", r.stderr);
    assert!(r.took < Duration::from_secs(30), "took {:?}", r.took);
    let list = captures(dir.path()).await;
    assert_eq!(list[0]["state"], "failed");
    assert_eq!(list[0]["failure_code"], "timeout");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_whose_load_event_never_fires_is_captured_with_a_warning() {
    let addr = common::serve().await;
    let dir = tempfile::tempdir().unwrap();
    add(dir.path(), "bild", &format!("http://{addr}/hanging-image")).await;
    let env = [ALLOW, ("BEVARA_CAPTURE_PAGE_LOAD_TIMEOUT_SECS", "4")];
    let r = bevara(dir.path(), &env, &["capture", "bild"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("load event did not fire"), "{}", r.stdout);
    let id = captures(dir.path()).await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let out = dir.path().join("out");
    let g = bevara(
        dir.path(),
        &[],
        &["snapshots", "get", &id, "--out", out.to_str().unwrap()],
    )
    .await;
    assert_eq!(g.code, 0, "{}", g.stderr);
    assert!(std::fs::read_to_string(out.join("text.txt"))
        .unwrap()
        .contains("HANGTOKEN"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_error_statuses_exit_7() {
    let addr = common::serve().await;
    let dir = tempfile::tempdir().unwrap();
    for code in ["404", "500"] {
        add(
            dir.path(),
            &format!("status-{code}"),
            &format!("http://{addr}/status/{code}"),
        )
        .await;
        let r = bevara(
            dir.path(),
            &[ALLOW],
            &["capture", &format!("status-{code}")],
        )
        .await;
        assert_eq!(r.code, 7, "{}", r.stderr);
        assert!(r.stderr.contains(&format!("HTTP {code}")), "{}", r.stderr);
    }
    let list = captures(dir.path()).await;
    assert!(
        list.iter()
            .all(|c| c["state"] == "failed" && c["failure_code"] == "http-status"),
        "{list:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_feed_stops_at_its_budget_as_a_truncated_snapshot() {
    let addr = common::serve().await;
    let dir = tempfile::tempdir().unwrap();
    add(dir.path(), "endless", &format!("http://{addr}/endless")).await;
    // The whole capture's deadline: the pass gets 10 of its 15 s.
    let env = [ALLOW, ("BEVARA_CAPTURE_MAX_DURATION_SECS", "15")];
    let r = bevara(dir.path(), &env, &["capture", "endless"]).await;
    assert_eq!(r.code, 10, "{}\n{}", r.stdout, r.stderr);
    assert!(r.took < Duration::from_secs(60), "took {:?}", r.took);
    assert!(r.stdout.contains("duration (15 s) budget"), "{}", r.stdout);
    let list = captures(dir.path()).await;
    assert_eq!(list[0]["state"], "complete");
    assert_eq!(list[0]["truncated"], true);
    let id = list[0]["id"].as_str().unwrap();
    let show = bevara(dir.path(), &[], &["snapshots", "show", id]).await;
    let manifest: serde_json::Value = serde_json::from_str(&show.stdout).unwrap();
    assert_eq!(manifest["truncated"], true);
    assert!(manifest["behaviour"]["stopped_by"]
        .as_str()
        .unwrap()
        .contains("duration"));
    assert!(manifest["behaviour"]["final_height"].as_u64().unwrap() > 5000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_list_get_and_verify_catch_tampering() {
    let addr = common::serve().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    add(d, "enkel", &format!("http://{addr}/status/200")).await;
    let r = bevara(
        d,
        &[ALLOW],
        &["capture", "enkel", "--reason", "debatt om skolan"],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("complete") && r.stdout.contains("screenshot.png"),
        "{}",
        r.stdout
    );
    let list = captures(d).await;
    let id = list[0]["id"].as_str().unwrap().to_string();
    assert_eq!(list[0]["reason"], "debatt om skolan");

    let today = chrono::Utc::now().date_naive();
    let tomorrow = today.succ_opt().unwrap().to_string();
    let r = bevara(
        d,
        &[],
        &["snapshots", "list", "enkel", "--from", &tomorrow, "--json"],
    )
    .await;
    assert_eq!(r.stdout.trim(), "[]");
    let r = bevara(
        d,
        &[],
        &["snapshots", "list", "enkel", "--to", &today.to_string()],
    )
    .await;
    assert!(r.stdout.contains(&id), "{}", r.stdout);

    let out = d.join("export");
    let g = bevara(
        d,
        &[],
        &["snapshots", "get", &id, "--out", out.to_str().unwrap()],
    )
    .await;
    assert_eq!(g.code, 0, "{}", g.stderr);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["trigger"]["reason"], "debatt om skolan");
    assert_eq!(manifest["trigger"]["kind"], "manual");
    assert!(!manifest["trigger"]["requested_by"]
        .as_str()
        .unwrap()
        .is_empty());
    for a in manifest["artifacts"].as_array().unwrap() {
        let digest = bevara::store::sha256_file(&out.join(a["name"].as_str().unwrap())).unwrap();
        assert_eq!(digest.sha256, a["sha256"].as_str().unwrap());
    }

    let v = bevara(d, &[], &["verify", &id]).await;
    assert_eq!(v.code, 0, "{}", v.stdout);
    // Tamper with the stored screenshot and remove the PDF.
    let key = |name: &str| {
        manifest["artifacts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == name)
            .unwrap()["key"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let objects = d.join("data/objects");
    std::fs::write(objects.join(key("screenshot.png")), b"not the screenshot").unwrap();
    std::fs::remove_file(objects.join(key("page.pdf"))).unwrap();
    let v = bevara(d, &[], &["verify", "--all"]).await;
    assert_eq!(v.code, 8, "{}", v.stdout);
    let failed: Vec<_> = v
        .stdout
        .lines()
        .filter(|l| l.starts_with("FAILED"))
        .collect();
    assert_eq!(failed.len(), 2, "{}", v.stdout);
    assert!(failed
        .iter()
        .any(|l| l.contains("screenshot.png") && l.contains("checksum mismatch")));
    assert!(failed
        .iter()
        .any(|l| l.contains("page.pdf") && l.contains("missing")));
    assert_eq!(
        bevara(d, &[], &["verify", "01NOSUCHSNAPSHOT"]).await.code,
        3
    );
}

#[tokio::test]
async fn a_missing_chromium_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    add(dir.path(), "c", "https://example.org/").await;
    let r = bevara(
        dir.path(),
        &[],
        &["--chromium", "/nonexistent/chromium", "capture", "c"],
    )
    .await;
    assert_eq!(r.code, 9, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("Chromium not found at /nonexistent/chromium"),
        "{}",
        r.stderr
    );
}

#[tokio::test]
async fn config_merges_file_env_and_flags() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bevara.toml"),
        "data_dir = \"/from/file\"\n[capture]\ntile_height = 4096\nmax_scroll_steps = 12\n",
    )
    .unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_bevara"))
        .args(["config", "--data-dir", "/from/flag"])
        .current_dir(dir.path())
        .env_remove("BEVARA_DATA_DIR")
        .env("BEVARA_CAPTURE_TILE_HEIGHT", "8192")
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("data_dir = \"/from/flag\""), "{text}");
    assert!(text.contains("tile_height = 8192"), "{text}");
    assert!(text.contains("max_scroll_steps = 12"), "{text}");
    let bad = bevara(
        dir.path(),
        &[("BEVARA_CAPTURE_PDF", "perhaps")],
        &["config"],
    )
    .await;
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("BEVARA_CAPTURE_PDF"), "{}", bad.stderr);
}

#[tokio::test]
async fn readme_documents_every_command_and_exit_code() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let help = bevara(dir.path(), &[], &["--help"]).await.stdout;
    let commands: Vec<&str> = help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .collect();
    assert!(commands.len() >= 7, "{help}");
    for c in commands {
        assert!(
            readme.contains(&format!("bevara {c}")),
            "README does not mention `bevara {c}`"
        );
    }
    for code in bevara::ExitCode::ALL {
        assert!(
            readme.contains(&format!("| {} | `{}` |", code.code(), code.name())),
            "README lacks exit code {} ({})",
            code.code(),
            code.name()
        );
    }
    for (path, _) in
        bevara::config::leaves(&toml::Value::try_from(bevara::Settings::default()).unwrap())
    {
        assert!(
            readme.contains(&bevara::config::env_var_name(&path)),
            "README lacks {path}"
        );
    }
}

/// Tokens tesseract reads in an image, with its usual O-for-0 slips mended.
fn ocr_tokens(png: &Path) -> Vec<String> {
    let out = std::process::Command::new("tesseract")
        .arg(png)
        .arg("-")
        .output()
        .expect("tesseract runs");
    String::from_utf8_lossy(&out.stdout)
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| w.starts_with("TK") && w.len() >= 8)
        .map(|w| {
            let letters = w.trim_end_matches(|c: char| c.is_ascii_digit() || c == 'O');
            let (head, tail) = w.split_at(letters.len().max(5).min(w.len()));
            format!("{head}{}", tail.replace('O', "0"))
        })
        .collect()
}

fn ffprobe(path: &Path) -> serde_json::Value {
    let out = std::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_streams",
            "-show_format",
            "-of",
            "json",
        ])
        .arg(path)
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap()
}

fn frame_at(video: &Path, secs: f64, out: &Path) {
    let ok = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-ss", &format!("{secs:.2}"), "-i"])
        .arg(video)
        .args(["-frames:v", "1"])
        .arg(out)
        .status()
        .unwrap()
        .success();
    assert!(ok, "cannot extract a frame at {secs} s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_recording_shows_the_title_card_and_the_opened_comments() {
    let addr = common::serve().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    add(d, "sala", &format!("http://{addr}/site/feed.html")).await;
    let env = [
        ALLOW,
        ("BEVARA_RECORDING_STEP_MS", "400"),
        ("BEVARA_RECORDING_DWELL_MS", "150"),
    ];
    let r = bevara(d, &env, &["capture", "sala"]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let id = captures(d).await[0]["id"].as_str().unwrap().to_string();
    let out = d.join("out");
    assert_eq!(
        bevara(
            d,
            &[],
            &["snapshots", "get", &id, "--out", out.to_str().unwrap()]
        )
        .await
        .code,
        0
    );
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    let rec = &manifest["recording"];
    assert_eq!(rec["codec"], "h264", "{rec}");
    assert_eq!(
        (rec["width"].as_u64(), rec["height"].as_u64()),
        (Some(1280), Some(900))
    );
    let video = out.join("recording.mp4");
    let art = manifest["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "recording.mp4")
        .unwrap()
        .clone();
    assert_eq!(art["media_type"], "video/mp4");
    assert_eq!(
        bevara::store::sha256_file(&video).unwrap().sha256,
        art["sha256"].as_str().unwrap()
    );

    // The file decodes, and its length is the title card plus the pass.
    let probe = ffprobe(&video);
    let stream = &probe["streams"][0];
    assert_eq!(stream["codec_name"], "h264");
    assert_eq!(stream["pix_fmt"], "yuv420p");
    let duration: f64 = probe["format"]["duration"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let pass = manifest["behaviour"]["duration_ms"].as_f64().unwrap() / 1000.0;
    assert!(
        (duration - (3.0 + pass)).abs() < 3.0,
        "video {duration} s, pass {pass} s"
    );
    assert!((duration - rec["duration_secs"].as_f64().unwrap()).abs() < 0.5);

    // The first second is the title card, naming the channel's page.
    frame_at(&video, 1.0, &d.join("title.png"));
    let text = String::from_utf8_lossy(
        &std::process::Command::new("tesseract")
            .arg(d.join("title.png"))
            .arg("-")
            .output()
            .unwrap()
            .stdout,
    )
    .into_owned();
    assert!(
        text.contains("Bevara") && text.contains("feed.html"),
        "title card text: {text}"
    );

    // Frames from the pass show comments and replies that exist only once
    // their expanders were clicked.
    let tokens = common::feed_tokens();
    let mut seen = std::collections::BTreeSet::new();
    for i in 1..=6 {
        let t = 3.0 + pass * i as f64 / 7.0;
        let png = d.join(format!("frame{i}.png"));
        frame_at(&video, t, &png);
        seen.extend(ocr_tokens(&png).into_iter().filter(|t| tokens.contains(t)));
    }
    let replies = seen.iter().filter(|t| t.starts_with("TKREP")).count();
    assert!(replies >= 5, "reply tokens read in the video: {seen:?}");
    assert_eq!(bevara(d, &[], &["verify", &id]).await.code, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_recording_and_a_missing_ffmpeg() {
    let addr = common::serve().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    add(d, "enkel", &format!("http://{addr}/status/200")).await;
    let missing = [
        ALLOW,
        ("BEVARA_RECORDING_FFMPEG_PATH", "/nonexistent/ffmpeg"),
    ];
    let r = bevara(d, &missing, &["capture", "enkel"]).await;
    assert_eq!(r.code, 12, "{}", r.stderr);
    assert!(
        r.stderr.contains("/nonexistent/ffmpeg") && r.stderr.contains("--no-recording"),
        "{}",
        r.stderr
    );
    assert!(
        captures(d).await.is_empty(),
        "nothing may be recorded as started"
    );
    let r = bevara(d, &missing, &["capture", "enkel", "--no-recording"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let list = captures(d).await;
    let show = bevara(
        d,
        &[],
        &["snapshots", "show", list[0]["id"].as_str().unwrap()],
    )
    .await;
    let manifest: serde_json::Value = serde_json::from_str(&show.stdout).unwrap();
    assert!(manifest["recording"].is_null());
    assert!(manifest["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .all(|a| a["name"] != "recording.mp4"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_wall_ends_as_login_required() {
    let addr = common::serve().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    add_on(d, "fb", "facebook", &format!("http://{addr}/login-wall")).await;
    let r = bevara(d, &[ALLOW], &["capture", "fb", "--no-recording"]).await;
    assert_eq!(r.code, 13, "{}", r.stderr);
    assert!(
        r.stderr.contains("login wall") && r.stderr.contains("bevara session import fb"),
        "{}",
        r.stderr
    );
    let list = captures(d).await;
    assert_eq!(list[0]["state"], "failed");
    assert_eq!(list[0]["failure_code"], "login-required");
}

#[tokio::test]
async fn profiles_list_show_and_check() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let r = bevara(d, &[], &["profiles", "list"]).await;
    for name in [
        "generic",
        "facebook",
        "instagram",
        "x",
        "youtube",
        "linkedin",
        "blog",
    ] {
        assert!(
            r.stdout.lines().any(|l| l.starts_with(name)),
            "{name} missing:\n{}",
            r.stdout
        );
    }
    let r = bevara(d, &[], &["profiles", "show", "facebook"]).await;
    assert!(
        r.stdout.contains("Alla kommentarer") || r.stdout.contains("alla kommentarer"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("visa (fler|tidigare|äldre|alla)"),
        "generic expanders are inherited"
    );
    assert_eq!(
        bevara(d, &[], &["profiles", "show", "myspace"]).await.code,
        3
    );

    std::fs::write(d.join("ok.toml"), "name = \"mastodon\"\ndescription = \"Mastodon\"\nrelies_on = [\"article\"]\nplatforms = [\"web\"]\n").unwrap();
    let r = bevara(d, &[], &["profiles", "check", "ok.toml"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    std::fs::write(d.join("bad.toml"), "name = \"b\"\ndescription = \"\"\nrelies_on = []\nplatforms = []\n[behaviour]\nexpanders = ['(oops']\n").unwrap();
    let r = bevara(d, &[], &["profiles", "check", "bad.toml"]).await;
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("bad.toml") && r.stderr.contains("(oops"),
        "{}",
        r.stderr
    );

    // A profiles directory overrides a built-in one.
    std::fs::create_dir(d.join("profiles")).unwrap();
    std::fs::copy(d.join("ok.toml"), d.join("profiles/mastodon.toml")).unwrap();
    let r = bevara(
        d,
        &[("BEVARA_PROFILES_DIR", "profiles")],
        &["profiles", "list"],
    )
    .await;
    assert!(
        r.stdout
            .lines()
            .any(|l| l.starts_with("mastodon") && l.contains("profiles/mastodon.toml")),
        "{}",
        r.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_session_logs_the_capture_in_and_never_shows_its_values() {
    let addr = common::serve().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    add_on(d, "fb", "facebook", &format!("http://{addr}/members")).await;
    let key = bevara(d, &[], &["session", "keygen"])
        .await
        .stdout
        .trim()
        .to_string();
    assert!(key.len() >= 43, "{key}");
    let with_key = [ALLOW, ("BEVARA_SESSION_KEY", key.as_str())];
    let cookies = d.join("cookies.json");
    std::fs::write(
        &cookies,
        r#"[{"name":"sid","value":"hemligt-varde-123","domain":"127.0.0.1","path":"/","httpOnly":true,"secure":false,"sameSite":"lax","expirationDate":4102444800}]"#,
    )
    .unwrap();
    let r = bevara(
        d,
        &with_key,
        &["session", "import", "fb", cookies.to_str().unwrap()],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let show = bevara(d, &with_key, &["session", "show", "fb"]).await;
    assert!(
        show.stdout.contains("cookies:        1") && show.stdout.contains("127.0.0.1"),
        "{}",
        show.stdout
    );
    // Without the key the session cannot be used, and the capture says so.
    let r = bevara(d, &[ALLOW], &["capture", "fb", "--no-recording"]).await;
    assert_eq!(r.code, 13, "{}", r.stderr);
    assert!(r.stderr.contains("BEVARA_SESSION_KEY"), "{}", r.stderr);
    let r = bevara(d, &with_key, &["capture", "fb", "--no-recording", "-vv"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        !r.stderr.contains("hemligt") && !r.stdout.contains("hemligt"),
        "a cookie value reached the logs"
    );
    let id = captures(d)
        .await
        .iter()
        .find(|c| c["state"] == "complete")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let out = d.join("out");
    bevara(
        d,
        &[],
        &["snapshots", "get", &id, "--out", out.to_str().unwrap()],
    )
    .await;
    assert!(std::fs::read_to_string(out.join("text.txt"))
        .unwrap()
        .contains("MEMBERTOKEN"));
    let manifest = std::fs::read_to_string(out.join("manifest.json")).unwrap();
    assert!(!manifest.contains("hemligt"));
    let m: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    assert_eq!(m["session"]["cookies_applied"], 1, "{}", m["session"]);
    assert!(!std::fs::read(d.join("data/sessions/fb.session"))
        .unwrap()
        .windows(7)
        .any(|w| w == b"hemligt"));
    assert_eq!(bevara(d, &[], &["session", "remove", "fb"]).await.code, 0);
    assert_eq!(
        bevara(d, &with_key, &["session", "show", "fb"]).await.code,
        3
    );
}
