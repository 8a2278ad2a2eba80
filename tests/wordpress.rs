//! Debian's WordPress, the real software, captured with the blog profile:
//! one post with 42 threaded comments (replies four levels deep) over three
//! comment pages, newest page first as WordPress shows it by default, in
//! the default block theme (Twenty Twenty-Three) and a classic theme (Twenty
//! Twenty-One). Every comment must be in `items.json` with its kind and
//! parent, in `text.txt` and in the PDF, and every comment page in the
//! manifest. `cargo test --test wordpress -- --nocapture` prints the
//! figures. Needs Debian's WordPress packages (see tests/common/wordpress.rs),
//! which `containers/setup-debian.sh` installs; without them the tests fail
//! saying so.

mod common;

use bevara::Platform;
use common::wordpress::{self, WordPress, BLOCK_THEME, CLASSIC_THEME};
use std::collections::{BTreeSet, HashMap};
use std::time::Instant;

fn missing<'a>(tokens: impl IntoIterator<Item = &'a str>, text: &str) -> Vec<&'a str> {
    tokens.into_iter().filter(|t| !text.contains(t)).collect()
}

async fn capture_post(theme: &'static str) {
    if let Some(why) = wordpress::missing() {
        panic!("WordPress test: {why}; run containers/setup-debian.sh to install it");
    }
    let wp = tokio::task::spawn_blocking(move || WordPress::start(theme))
        .await
        .unwrap();
    assert_eq!(wp.comments.len(), 42);
    let dir = tempfile::tempdir().unwrap();
    let bevara = common::open(dir.path()).await;
    let mut channel = common::channel(&format!("wp-{theme}"), &wp.post);
    channel.platform = Platform::Blog;
    let started = Instant::now();
    let outcome = common::capture_once(&bevara, &channel).await;
    let secs = started.elapsed().as_secs_f64();
    let m = &outcome.manifest;
    let artifact = |name: &str| common::artifact_path(&bevara, &outcome, name);
    let tokens: Vec<&str> = wp.comments.iter().map(|c| c.token.as_str()).collect();

    // Every comment page: the post's own address (the newest comments) and
    // comment-page-1 and -2, nothing else.
    let pages: BTreeSet<String> = m
        .pages
        .iter()
        .map(|p| url::Url::parse(p).unwrap().path().to_string())
        .collect();
    let post_path = url::Url::parse(&wp.post).unwrap().path().to_string();
    let want: BTreeSet<String> = [
        post_path.clone(),
        format!("{post_path}comment-page-1/"),
        format!("{post_path}comment-page-2/"),
    ]
    .into();
    assert_eq!(pages, want, "{theme}: the comment pages in the manifest");

    // items.json: each comment once, of its kind, under its parent.
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(artifact("items.json")).unwrap()).unwrap();
    let items = doc["items"].as_array().unwrap();
    let holding = |token: &str| -> Vec<&serde_json::Value> {
        items
            .iter()
            .filter(|i| i["text"].as_str().unwrap_or("").contains(token))
            .collect()
    };
    let mut id_of: HashMap<&str, String> = HashMap::new();
    let mut wrong = Vec::new();
    for c in &wp.comments {
        match holding(&c.token)[..] {
            [item] => {
                id_of.insert(&c.token, item["id"].as_str().unwrap().to_string());
                if item["kind"] != c.kind.as_str() {
                    wrong.push(format!("{}: kind {} not {}", c.token, item["kind"], c.kind));
                }
            }
            ref found => wrong.push(format!("{}: in {} items", c.token, found.len())),
        }
    }
    let post_ids: Vec<&str> = holding("WPPOST")
        .iter()
        .filter(|i| i["kind"] == "post")
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    for c in &wp.comments {
        let Some(item) = holding(&c.token).first().copied() else {
            continue;
        };
        let parent = item["parent"].as_str();
        match &c.parent {
            Some(p) if parent != id_of.get(p.as_str()).map(String::as_str) => wrong.push(format!(
                "{}: parent {parent:?}, not {p} ({:?})",
                c.token,
                id_of.get(p.as_str())
            )),
            None if parent.is_some_and(|p| !post_ids.contains(&p)) => {
                wrong.push(format!("{}: parent {parent:?}, not the post", c.token))
            }
            _ => {}
        }
    }
    assert!(
        wrong.is_empty(),
        "{theme}: items.json:\n{}",
        wrong.join("\n")
    );

    let text = std::fs::read_to_string(artifact("text.txt")).unwrap();
    assert_eq!(
        missing(tokens.iter().copied(), &text),
        Vec::<&str>::new(),
        "{theme}: text.txt"
    );
    let pdf = std::process::Command::new("pdftotext")
        .arg(artifact("page.pdf"))
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils) runs");
    let pdf = String::from_utf8_lossy(&pdf.stdout);
    assert_eq!(
        missing(tokens.iter().copied(), &pdf),
        Vec::<&str>::new(),
        "{theme}: the PDF's text"
    );

    // The screenshots, read back: the first page's and each further page's.
    let mut seen = String::new();
    for shot in m.artifacts.iter().filter(|a| {
        a.name == "screenshot.png"
            || (a.name.starts_with("screenshot-p") && a.name.ends_with(".png"))
    }) {
        seen.push_str(&common::ocr_tall(
            &bevara.store().local_path(&shot.key).unwrap(),
            dir.path(),
            1,
        ));
    }
    let unread: Vec<&str> = tokens
        .iter()
        .copied()
        .filter(|t| !seen.contains(&common::ocr_norm(t)))
        .collect();
    println!(
        "wordpress {theme}: started in {:.1} s, captured in {secs:.1} s; {} items ({} comments, {} replies), {} pages, OCR read {}/{} tokens; warnings {:?}",
        wp.startup.as_secs_f64(),
        items.len(),
        doc["counts"]["comments"],
        doc["counts"]["replies"],
        m.pages.len(),
        tokens.len() - unread.len(),
        tokens.len(),
        m.warnings
    );
    if !unread.is_empty() {
        println!(
            "wordpress {theme}: not read back by OCR: {}",
            unread.join(" ")
        );
    }
    assert!(
        unread.len() * 10 <= tokens.len(),
        "{theme}: OCR read {} of {} tokens in the screenshots",
        tokens.len() - unread.len(),
        tokens.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn block_theme_every_comment_on_every_page() {
    capture_post(BLOCK_THEME).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn classic_theme_every_comment_on_every_page() {
    capture_post(CLASSIC_THEME).await;
}
