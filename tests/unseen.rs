//! Pages built unlike the platform fixtures, the way third-party software
//! builds them: an article with an embedded comment widget whose hidden
//! replies are behind "3 dolda svar" links, a discussion widget whose
//! load-more button reads "Visa fler kommentarer…", and a WordPress block
//! theme post whose comments run over three pages linked with no `rel`.
//! Generated class names, content loaded by script. The generic and blog
//! profiles must find the expanders and the comment pages by meaning, and
//! click nothing else: the fixtures write FELKLICK into the page when
//! "Gilla", "Svara", "Dela", "Sortera", "Logga in" or the like is clicked.

mod common;

use bevara::Platform;
use std::path::Path;
use std::time::Instant;

fn fixture(name: &str) -> std::path::PathBuf {
    common::fixture_dir().parent().unwrap().join(name)
}

fn expected(name: &str) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(fixture(name).join("expected.json")).unwrap())
        .unwrap()
}

fn tokens(v: &serde_json::Value, key: &str) -> Vec<String> {
    v[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect()
}

/// A fixture's tokens shown without a click and those behind its
/// expanders, the latter checked to be absent from all the page has before
/// a click: its HTML, its scripts and the data it loads by itself.
fn hidden_until_clicked(name: &str, loaded_by_itself: &str) -> (Vec<String>, Vec<String>) {
    let want = expected(name);
    let (initial, hidden) = (tokens(&want, "initial"), tokens(&want, "hidden"));
    let source = initial_source(&fixture(name), loaded_by_itself);
    let found: Vec<&String> = hidden
        .iter()
        .filter(|t| source.contains(t.as_str()))
        .collect();
    assert!(
        found.is_empty(),
        "{name}: {found:?} are in the page before any click"
    );
    (initial, hidden)
}

fn initial_source(dir: &Path, loaded_by_itself: &str) -> String {
    let mut s = String::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() && !p.ends_with("expected.json") {
            s.push_str(&std::fs::read_to_string(&p).unwrap());
        }
    }
    s.push_str(&std::fs::read_to_string(dir.join(loaded_by_itself)).unwrap());
    s
}

struct Captured {
    /// text.txt, then text-p2.txt, text-p3.txt, … (one per page).
    texts: Vec<String>,
    manifest: bevara::capture::manifest::Manifest,
    secs: f64,
}

async fn capture(platform: Platform, id: &str, path: &str) -> Captured {
    let addr = common::serve().await;
    let dir = tempfile::tempdir().unwrap();
    let bevara = common::open(dir.path()).await;
    let mut channel = common::channel(id, &format!("http://{addr}{path}"));
    channel.platform = platform;
    let started = Instant::now();
    let outcome = common::capture_once(&bevara, &channel).await;
    let secs = started.elapsed().as_secs_f64();
    let mut texts: Vec<(String, String)> = outcome
        .manifest
        .artifacts
        .iter()
        .filter(|a| {
            a.name == "text.txt" || (a.name.starts_with("text-p") && a.name.ends_with(".txt"))
        })
        .map(|a| {
            let path = bevara.store().local_path(&a.key).unwrap();
            (a.name.clone(), std::fs::read_to_string(path).unwrap())
        })
        .collect();
    // text.txt sorts after text-pN.txt; pages in their order.
    texts.sort_by_key(|(n, _)| {
        n.trim_start_matches("text-p")
            .trim_end_matches(".txt")
            .parse::<u32>()
            .unwrap_or(1)
    });
    let m = &outcome.manifest;
    println!(
        "{id}: {:.1} s, {} expander clicks {:?}, pages {:?}, warnings {:?}",
        secs, m.behaviour.expanders_clicked, m.behaviour.expander_labels, m.pages, m.warnings
    );
    Captured {
        texts: texts.into_iter().map(|(_, t)| t).collect(),
        manifest: outcome.manifest,
        secs,
    }
}

fn missing<'a>(tokens: &'a [String], text: &str) -> Vec<&'a str> {
    tokens
        .iter()
        .filter(|t| !text.contains(t.as_str()))
        .map(String::as_str)
        .collect()
}

/// No control other than expanders was clicked: the fixtures write
/// FELKLICK into the page, and the manifest names every label clicked.
fn clicked_nothing_else(c: &Captured) {
    for (i, t) in c.texts.iter().enumerate() {
        assert!(
            !t.contains("FELKLICK"),
            "page {}: a control that is not an expander was clicked:\n{t}",
            i + 1
        );
    }
    for label in c.manifest.behaviour.expander_labels.keys() {
        for word in [
            "gilla",
            "svara",
            "dela",
            "rapportera",
            "logga in",
            "sortera",
            "skriv",
            "prenumerera",
        ] {
            assert!(!label.starts_with(word), "clicked {label:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_widget_hidden_replies_are_revealed() {
    // Only a click fetches them: absent from the page and the thread it loads.
    let (initial, hidden) = hidden_until_clicked("embed", "api/thread.json");
    let c = capture(Platform::Web, "embed", "/fixtures/embed/index.html").await;
    assert_eq!(c.manifest.profile, "generic");
    let text = c.texts.join("\n");
    assert_eq!(
        missing(&initial, &text),
        Vec::<&str>::new(),
        "shown without a click"
    );
    assert_eq!(
        missing(&hidden, &text),
        Vec::<&str>::new(),
        "behind the widget's links"
    );
    clicked_nothing_else(&c);
    assert!(!text.contains("ELSEWHERE"), "a link left the page");
    // c1, c1's second reply, c3, c5, c7 and c9: one click each.
    assert_eq!(
        c.manifest.behaviour.expanders_clicked, 6,
        "{:?}",
        c.manifest.behaviour.expander_labels
    );
    assert!(c.secs < 90.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_more_with_an_ellipsis_is_clicked_until_the_end() {
    let (initial, hidden) = hidden_until_clicked("loadmore", "api/p1.json");
    let c = capture(Platform::Web, "loadmore", "/fixtures/loadmore/index.html").await;
    let text = c.texts.join("\n");
    assert_eq!(missing(&initial, &text), Vec::<&str>::new());
    assert_eq!(
        missing(&hidden, &text),
        Vec::<&str>::new(),
        "behind 'Visa fler kommentarer…' and 'Ladda fler…'"
    );
    clicked_nothing_else(&c);
    let labels = &c.manifest.behaviour.expander_labels;
    // 5 + 5 × 4 + 3 comments: five loads; two of the replies.
    assert_eq!(labels.get("visa fler kommentarer…"), Some(&5), "{labels:?}");
    assert_eq!(labels.get("ladda fler…"), Some(&2), "{labels:?}");
    assert_eq!(c.manifest.behaviour.expanders_clicked, 7, "{labels:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn block_theme_comment_pages_are_followed_by_meaning() {
    let want = expected("wp");
    let all = tokens(&want, "tokens");
    let pages = tokens(&want, "pages");
    let post = "/fixtures/wp/2025/03/trafiken-pa-storgatan/";
    let first =
        std::fs::read_to_string(fixture("wp").join("2025/03/trafiken-pa-storgatan/index.html"))
            .unwrap();
    assert!(
        missing(&all, &first).len() > 30,
        "most comments are on other pages"
    );
    // The generic profile knows nothing of WordPress; the blog profile's
    // selectors do not name the block theme's links.
    for (platform, id) in [(Platform::Web, "wp-web"), (Platform::Blog, "wp-blog")] {
        let c = capture(platform, id, post).await;
        let text = c.texts.join("\n");
        assert_eq!(
            missing(&all, &text),
            Vec::<&str>::new(),
            "{id}: comments of some page are missing"
        );
        assert_eq!(c.texts.len(), 3, "{id}: three comment pages, no more");
        let shown: Vec<String> = c
            .manifest
            .pages
            .iter()
            .map(|p| url::Url::parse(p).unwrap().path().to_string())
            .collect();
        let mut sorted = shown.clone();
        sorted.sort();
        let mut expect = pages.clone();
        expect.sort();
        assert_eq!(
            sorted, expect,
            "{id}: the post's own pages, not the other post the sidebar links"
        );
        assert!(!text.contains("TKWOTHER"), "{id}");
        clicked_nothing_else(&c);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn classic_theme_cpage_links_are_followed_not_the_articles_next_page() {
    let c = capture(Platform::Web, "classic", "/classic/parkeringen/").await;
    let text = c.texts.join("\n");
    let all: Vec<String> = (1..=3)
        .flat_map(|p| (1..=4).map(move |i| format!("TKCL{p}{i}")))
        .collect();
    assert_eq!(missing(&all, &text), Vec::<&str>::new());
    assert_eq!(c.texts.len(), 3, "{:?}", c.manifest.pages);
    assert!(
        !text.contains("TKCLART2"),
        "the article's own next page is no comment page"
    );
}

/// With recording on, every comment page is in a video: the channel page in
/// `recording.mp4`, each further page in `recording-pN.mp4`, and frames of
/// a further page's video show comments only that page holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_comment_page_is_recorded() {
    let addr = common::serve().await;
    let dir = tempfile::tempdir().unwrap();
    let bevara = common::open(dir.path()).await;
    let mut channel = common::channel(
        "wp-rec",
        &format!("http://{addr}/fixtures/wp/2025/03/trafiken-pa-storgatan/"),
    );
    channel.platform = Platform::Blog;
    let outcome = common::capture_recorded(&bevara, &channel, true).await;
    let path = |name: &str| common::artifact_path(&bevara, &outcome, name);
    let all = tokens(&expected("wp"), "tokens");
    for (n, other) in [(2, 3), (3, 2)] {
        // text.txt holds the whole capture: a page's own comments are those
        // its text has and the other further page's has not.
        let first = std::fs::read_to_string(path(&format!("text-p{other}.txt"))).unwrap();
        let video = path(&format!("recording-p{n}.mp4"));
        let info = bevara::capture::recording::probe(
            Path::new("ffprobe"),
            &video,
            std::time::Duration::from_secs(30),
        )
        .await
        .unwrap();
        assert!(info.duration_secs >= 1.0, "page {n}: {info:?}");
        let page = std::fs::read_to_string(path(&format!("text-p{n}.txt"))).unwrap();
        let own: Vec<&String> = all
            .iter()
            .filter(|t| page.contains(t.as_str()) && !first.contains(t.as_str()))
            .collect();
        assert!(!own.is_empty(), "page {n} has comments of its own");
        let mut seen = String::new();
        for f in [0.3, 0.5, 0.7, 0.9] {
            let png = common::frame_png(&video, info.duration_secs * f, dir.path());
            seen.push_str(&common::ocr_tall(&png, dir.path(), 2));
        }
        let read: Vec<&&String> = own
            .iter()
            .filter(|t| seen.contains(&common::ocr_norm(t)))
            .collect();
        println!(
            "page {n}: {:.1} s of video, {} of its {} own tokens read in 4 frames",
            info.duration_secs,
            read.len(),
            own.len()
        );
        assert!(
            !read.is_empty(),
            "page {n}'s video shows none of its comments: {own:?}\n{seen}"
        );
    }
}
