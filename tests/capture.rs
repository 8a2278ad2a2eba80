//! End-to-end captures with Debian's Chromium against fixture pages served on 127.0.0.1.

mod common;

use bevara::behaviour::{run_pass, PassBudget, Profile};
use bevara::browser::{eval, Browser};
use bevara::capture::{capture_channel, CaptureOptions, Trigger};

const NO_REC: CaptureOptions = CaptureOptions {
    record: false,
    pace: false,
};
use bevara::db::CaptureState;
use bevara::ExitCode;
use std::time::Duration;

async fn browser(dir: &std::path::Path) -> Browser {
    Browser::launch(&common::settings(dir).browser)
        .await
        .expect("Chromium starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generic_pass_expands_every_comment_and_reply_without_leaving_the_page() {
    let addr = common::serve().await;
    let dir = tempfile::tempdir().unwrap();
    let browser = browser(dir.path()).await;
    let ctx = browser.new_context().await.unwrap();
    ctx.page
        .goto(format!("http://{addr}/site/feed.html"))
        .await
        .unwrap();
    let budget = PassBudget {
        max_duration: Duration::from_secs(120),
        deadline: None,
        max_height: 300_000,
        max_clicks: 1000,
        max_scroll_steps: 1000,
    };
    let report = run_pass(&ctx.page, &Profile::generic(), &budget, None, None)
        .await
        .unwrap();
    let state: serde_json::Value = eval(&ctx.page, "window.__fixtureState", Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(state["consentClosed"], true, "{state}");
    assert_eq!(state["nagClosed"], true, "{state}");
    assert_eq!(state["feedEnded"], true, "{state}");
    assert_eq!(
        state["distractorClicks"], 0,
        "clicked Gilla/Svara/Dela: {state}"
    );
    assert_eq!(state["expanded"]["postMore"], 4, "{state}");
    assert_eq!(state["expanded"]["replyMore"], 1, "{state}");
    assert_eq!(state["expanded"]["commentBatches"], 15, "{state}");
    assert_eq!(state["expanded"]["replyThreads"], 26, "{state}");
    let href: String = eval(&ctx.page, "location.href", Duration::from_secs(5))
        .await
        .unwrap();
    assert!(
        href.ends_with("/site/feed.html"),
        "followed a link to {href}"
    );
    let text: String = eval(&ctx.page, "document.body.innerText", Duration::from_secs(5))
        .await
        .unwrap();
    let missing: Vec<_> = common::feed_tokens()
        .into_iter()
        .filter(|t| !text.contains(t))
        .collect();
    assert!(missing.is_empty(), "missing after the pass: {missing:?}");
    assert!(report.stopped_by.is_none());
    assert_eq!(report.expanders_clicked, 46, "{report:?}");
    browser.dispose(ctx).await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capture_of_feed_stores_verified_artifacts_with_every_token() {
    let addr = common::serve().await;
    let dir = tempfile::tempdir().unwrap();
    let bevara = common::open(dir.path()).await;
    let channel = common::channel("sala", &format!("http://{addr}/site/feed.html"));
    bevara.db().add_channel(&channel).await.unwrap();
    let browser = browser(dir.path()).await;
    let outcome = capture_channel(
        &bevara,
        &browser,
        &channel,
        Trigger::manual(Some("test".into())),
        &NO_REC,
        None,
    )
    .await
    .expect("capture completes");
    browser.close().await;

    let m = &outcome.manifest;
    assert_eq!(m.schema_version, 1);
    assert_eq!(m.channel.id, "sala");
    assert!(m.final_url.ends_with("/site/feed.html"));
    assert_eq!(m.trigger.reason.as_deref(), Some("test"));
    assert!(
        m.browser.product.contains("Chrome"),
        "{}",
        m.browser.product
    );
    assert!(!m.truncated);
    let rec = bevara.db().capture(&outcome.snapshot_id).await.unwrap();
    assert_eq!(rec.state, CaptureState::Complete);

    // The artifacts in the store are what the manifest says.
    let out = dir.path().join("out");
    bevara::archive::get(&bevara, &outcome.snapshot_id, &out)
        .await
        .unwrap();
    for a in &m.artifacts {
        let d = bevara::store::sha256_file(&out.join(&a.name)).unwrap();
        assert_eq!(d.sha256, a.sha256, "{}", a.name);
        assert_eq!(d.bytes, a.bytes, "{}", a.name);
        assert!(a.key.starts_with("sala/"), "{}", a.key);
    }
    let names: Vec<_> = m.artifacts.iter().map(|a| a.name.as_str()).collect();
    for want in ["screenshot.png", "text.txt", "page.pdf", "page.mhtml"] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
    let text = std::fs::read_to_string(out.join("text.txt")).unwrap();
    let missing: Vec<_> = common::feed_tokens()
        .into_iter()
        .filter(|t| !text.contains(t))
        .collect();
    assert!(missing.is_empty(), "missing from text.txt: {missing:?}");
    assert!(std::fs::read(out.join("page.pdf"))
        .unwrap()
        .starts_with(b"%PDF"));
    let mhtml = std::fs::read_to_string(out.join("page.mhtml")).unwrap();
    assert!(mhtml.contains("multipart/related") && mhtml.contains("TKPOST12"));

    // The screenshot is the full page, and the sticky header (rgb 27,79,138)
    // shows once at the top, not in every tile.
    let shot = m
        .artifacts
        .iter()
        .find(|a| a.name == "screenshot.png")
        .unwrap();
    let mut header_rows = Vec::new();
    let (w, h) = common::scan_png(&out.join("screenshot.png"), |y, row, ch| {
        if row[5 * ch..5 * ch + 3] == [27, 79, 138] {
            header_rows.push(y);
        }
    });
    assert_eq!((Some(w), Some(h)), (shot.width, shot.height));
    assert!(
        h as u64 >= m.behaviour.final_height.min(300_000) - 5,
        "{h} vs {}",
        m.behaviour.final_height
    );
    assert!(
        !header_rows.is_empty() && header_rows.iter().all(|&y| y < 60),
        "header rows at {:?}",
        &header_rows[..header_rows.len().min(5)]
    );

    // Verify passes, and catches a tampered object.
    let checks = bevara::archive::verify(&bevara, &outcome.snapshot_id)
        .await
        .unwrap();
    assert!(checks.iter().all(|c| c.problem.is_none()), "{checks:?}");
    let text_key = &m
        .artifacts
        .iter()
        .find(|a| a.name == "text.txt")
        .unwrap()
        .key;
    let path = bevara.store().local_path(text_key).unwrap();
    std::fs::write(&path, "tampered").unwrap();
    let checks = bevara::archive::verify(&bevara, &outcome.snapshot_id)
        .await
        .unwrap();
    let bad: Vec<_> = checks.iter().filter(|c| c.problem.is_some()).collect();
    assert_eq!(bad.len(), 1, "{checks:?}");
    assert_eq!(&bad[0].key, text_key);
    assert!(bad[0]
        .problem
        .as_ref()
        .unwrap()
        .contains("checksum mismatch"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn screenshot_of_a_page_over_100000_px_has_every_marker_once() {
    let addr = common::serve().await;
    let dir = tempfile::tempdir().unwrap();
    let bevara = common::open(dir.path()).await;
    let height = 120_000u64;
    let channel = common::channel("hog", &format!("http://{addr}/tall/{height}"));
    bevara.db().add_channel(&channel).await.unwrap();
    let browser = browser(dir.path()).await;
    let outcome = capture_channel(
        &bevara,
        &browser,
        &channel,
        Trigger::manual(None),
        &NO_REC,
        None,
    )
    .await
    .unwrap();
    browser.close().await;
    let shot = outcome
        .manifest
        .artifacts
        .iter()
        .find(|a| a.name == "screenshot.png")
        .unwrap();
    let path = bevara.store().local_path(&shot.key).unwrap();
    assert!(outcome.manifest.screenshot.as_ref().unwrap().tiles >= 7);
    // Each band's colour at its offset, white between bands, the header only at the top.
    let mut wrong = Vec::new();
    let mut header = Vec::new();
    let (w, h) = common::scan_png(&path, |y, row, ch| {
        let px = &row[640 * ch..640 * ch + 3];
        let y = y as u64;
        if px == [10, 20, 30] {
            header.push(y);
        }
        if y >= 150 {
            let band = (y - 150) / 1000;
            let within = (y - 150) % 1000;
            // Band i covers y = marker_top(i) .. +200; white between bands.
            let want = if within < 200 && band < height / 1000 {
                bevara::bench::marker_color(band)
            } else if within > 220 && within < 990 {
                [255, 255, 255]
            } else {
                return;
            };
            if px != want && wrong.len() < 5 {
                wrong.push((y, px.to_vec(), want));
            }
        }
    });
    assert_eq!((w, h as u64), (1280, height));
    assert!(wrong.is_empty(), "wrong pixels (y, got, want): {wrong:?}");
    assert_eq!(header.first(), Some(&0));
    assert!(
        header.iter().all(|&y| y < 50),
        "header repeated at {:?}",
        header.iter().find(|&&y| y >= 50)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_browser_fails_the_capture_and_leaves_nothing_complete() {
    let addr = common::serve().await;
    let dir = tempfile::tempdir().unwrap();
    let bevara = common::open(dir.path()).await;
    let channel = common::channel("endless", &format!("http://{addr}/endless"));
    bevara.db().add_channel(&channel).await.unwrap();
    let mut browser = browser(dir.path()).await;
    let pid = browser.pid().expect("pid");
    let killer = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(4)).await;
        std::process::Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status()
            .unwrap();
    });
    let started = std::time::Instant::now();
    let err = capture_channel(
        &bevara,
        &browser,
        &channel,
        Trigger::manual(None),
        &NO_REC,
        None,
    )
    .await
    .expect_err("capture must fail");
    killer.await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(err.exit_code(), ExitCode::Browser, "{err}");
    let list = bevara
        .db()
        .list_captures(&Default::default())
        .await
        .unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].state, CaptureState::Failed);
    assert_eq!(list[0].failure_code.as_deref(), Some("browser"));
    assert!(bevara.db().artifacts(&list[0].id).await.unwrap().is_empty());
}
