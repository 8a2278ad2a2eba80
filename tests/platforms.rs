//! The platform-like fixtures (X, Instagram, YouTube, blog, LinkedIn and the
//! Facebook-like feed) captured with their profiles: items expected against
//! items extracted, and tokens readable in the screenshot (by OCR).
//! `cargo test --test platforms -- --nocapture` prints the table.

mod common;

use bevara::Platform;

fn expected(platform: &str) -> Vec<(String, String)> {
    common::expected_items(platform)
        .iter()
        .map(|i| {
            (
                i["token"].as_str().unwrap().to_string(),
                i["kind"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

struct Row {
    name: &'static str,
    expected: usize,
    in_items: usize,
    kinds_right: usize,
    in_screenshot: usize,
    /// In `text.txt`, which holds the whole capture's text.
    in_text: usize,
    /// In the PDF's text (`pdftotext`).
    in_pdf: usize,
    /// Tokens OCR did not read back, for a look at the screenshots.
    unread: Vec<String>,
}

async fn run(
    platform: Platform,
    name: &'static str,
    path: &str,
    tokens: Vec<(String, String)>,
) -> Row {
    let addr = common::serve().await;
    let dir = tempfile::tempdir().unwrap();
    let bevara = common::open(dir.path()).await;
    let mut channel = common::channel(name, &format!("http://{addr}{path}"));
    channel.platform = platform;
    let outcome = common::capture_once(&bevara, &channel).await;
    let items = bevara.db().items(&outcome.snapshot_id).await.unwrap();
    // The page's screenshot, its further comment pages' (the blog's) and
    // each opened post's (Instagram's dialogs).
    let mut text = String::new();
    for shot in outcome.manifest.artifacts.iter().filter(|a| {
        a.name == "screenshot.png"
            || ((a.name.starts_with("post-") || a.name.starts_with("screenshot-p"))
                && a.name.ends_with(".png"))
    }) {
        // The dialogs' comment column is small text: read it enlarged.
        let scale = if shot.name.starts_with("post-") { 2 } else { 1 };
        text.push_str(&common::ocr_tall(
            &bevara.store().local_path(&shot.key).unwrap(),
            dir.path(),
            scale,
        ));
    }
    let mut row = Row {
        name,
        expected: tokens.len(),
        in_items: 0,
        kinds_right: 0,
        in_screenshot: 0,
        in_text: 0,
        in_pdf: 0,
        unread: Vec::new(),
    };
    let pdf = outcome
        .manifest
        .artifacts
        .iter()
        .find(|a| a.name == "page.pdf")
        .map(|a| {
            let out = std::process::Command::new("pdftotext")
                .arg(bevara.store().local_path(&a.key).unwrap())
                .arg("-")
                .output()
                .expect("pdftotext (poppler-utils) runs");
            String::from_utf8_lossy(&out.stdout).into_owned()
        })
        .unwrap_or_default();
    let whole = outcome
        .manifest
        .artifacts
        .iter()
        .find(|a| a.name == "text.txt")
        .map(|a| std::fs::read_to_string(bevara.store().local_path(&a.key).unwrap()).unwrap())
        .unwrap_or_default();
    for (token, kind) in &tokens {
        if let Some(item) = items.iter().find(|i| i.text.contains(token.as_str())) {
            row.in_items += 1;
            row.kinds_right += usize::from(&item.kind == kind);
        }
        row.in_text += usize::from(whole.contains(token.as_str()));
        row.in_pdf += usize::from(pdf.contains(token.as_str()));
        if text.contains(&common::ocr_norm(token)) {
            row.in_screenshot += 1;
        } else {
            row.unread.push(token.clone());
        }
    }
    row
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn platform_fixtures_table() {
    let site: Vec<(String, String)> = common::feed_tokens()
        .into_iter()
        .filter(|t| !t.starts_with("TKMORE") && !t.starts_with("TKRMORE"))
        .map(|t| {
            let kind = if t.starts_with("TKPOST") {
                "post"
            } else if t.starts_with("TKCMT") {
                "comment"
            } else {
                "reply"
            };
            (t, kind.to_string())
        })
        .collect();
    let rows = vec![
        run(Platform::Facebook, "facebook", "/site/feed.html", site).await,
        run(
            Platform::Linkedin,
            "linkedin",
            "/fixtures/linkedin/index.html",
            expected("linkedin"),
        )
        .await,
        run(
            Platform::Youtube,
            "youtube",
            "/fixtures/youtube/index.html",
            expected("youtube"),
        )
        .await,
        run(Platform::X, "x", "/fixtures/x/index.html", expected("x")).await,
        run(
            Platform::Blog,
            "blog",
            "/fixtures/blog/index.html",
            expected("blog"),
        )
        .await,
        run(
            Platform::Instagram,
            "instagram",
            "/fixtures/instagram/index.html",
            expected("instagram"),
        )
        .await,
    ];
    println!("fixture     expected  in_items  kind_right  in_text  in_pdf  in_screenshot(OCR)");
    for r in &rows {
        println!(
            "{:<10}  {:>8}  {:>8}  {:>10}  {:>7}  {:>6}  {:>18}",
            r.name, r.expected, r.in_items, r.kinds_right, r.in_text, r.in_pdf, r.in_screenshot
        );
    }
    for r in rows.iter().filter(|r| !r.unread.is_empty()) {
        println!("{}: not read back by OCR: {}", r.name, r.unread.join(" "));
    }
    // Every item, of the right kind, on every fixture, and every token in
    // text.txt (virtualized feeds, opened posts and further pages included).
    for r in &rows {
        assert_eq!(
            (r.in_items, r.kinds_right, r.in_text, r.in_pdf),
            (r.expected, r.expected, r.expected, r.expected),
            "{}: items, kinds right, in text.txt, in the PDF",
            r.name
        );
    }
    // The screenshots show the expanded feed, the virtualized X timeline
    // and every Instagram dialog included (blog pages 2–3 have screenshots
    // of their own).
    for r in rows
        .iter()
        .filter(|r| ["facebook", "linkedin", "youtube", "x", "instagram"].contains(&r.name))
    {
        assert!(
            r.in_screenshot * 10 >= r.expected * 9,
            "{}: OCR found {} of {}",
            r.name,
            r.in_screenshot,
            r.expected
        );
    }
}
