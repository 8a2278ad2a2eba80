//! Items (posts, comments, replies) extracted by the platform profiles, their
//! diff between captures, search, and login walls.

mod common;

use bevara::behaviour::items::ItemsDocument;
use bevara::capture::{capture_channel, CaptureOptions, CaptureOutcome, Trigger};
use bevara::{Bevara, Channel, Platform};
use std::collections::HashMap;
use std::sync::atomic::Ordering;

const NO_REC: CaptureOptions = CaptureOptions {
    record: false,
    pace: false,
};

async fn capture(bevara: &Bevara, channel: &Channel) -> CaptureOutcome {
    let browser = bevara::browser::Browser::launch(&bevara.settings().browser)
        .await
        .unwrap();
    let out = capture_channel(
        bevara,
        &browser,
        channel,
        Trigger::manual(None),
        &NO_REC,
        None,
    )
    .await;
    browser.close().await;
    out.expect("capture completes")
}

async fn items_of(bevara: &Bevara, outcome: &CaptureOutcome) -> ItemsDocument {
    let a = outcome
        .manifest
        .artifacts
        .iter()
        .find(|a| a.name == "items.json")
        .expect("items.json");
    serde_json::from_slice(&bevara.store().get_bytes(&a.key).await.unwrap()).unwrap()
}

fn facebook(id: &str, url: &str) -> Channel {
    let mut c = common::channel(id, url);
    c.platform = Platform::Facebook;
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feed_items_have_kinds_parents_authors_and_every_token() {
    let addr = common::serve().await;
    let dir = tempfile::tempdir().unwrap();
    let bevara = common::open(dir.path()).await;
    let channel = facebook("sala", &format!("http://{addr}/site/feed.html"));
    bevara.db().add_channel(&channel).await.unwrap();
    let outcome = capture(&bevara, &channel).await;
    assert_eq!(outcome.manifest.profile, "facebook");
    let doc = items_of(&bevara, &outcome).await;
    assert_eq!(doc.schema_version, 1);
    // The comment order was set to "Alla kommentarer" on posts 1–4, which
    // shows one more comment on each (TKALL01–04).
    assert_eq!(
        outcome.manifest.behaviour.menus_set.len(),
        4,
        "{:?}",
        outcome.manifest.behaviour.menus_set
    );
    assert_eq!(
        (doc.counts.posts, doc.counts.comments, doc.counts.replies),
        (12, 50, 61),
        "{:?}",
        doc.counts
    );
    assert_eq!(outcome.manifest.items, doc.counts);

    let by_id: HashMap<_, _> = doc.items.iter().map(|i| (i.id.as_str(), i)).collect();
    let holding = |token: &str| {
        doc.items
            .iter()
            .find(|i| i.text.contains(token))
            .unwrap_or_else(|| panic!("{token} in no item"))
    };
    for token in common::feed_tokens() {
        let item = holding(&token);
        let parent = item.parent.as_deref().map(|p| by_id[p]);
        if token.starts_with("TKRMORE") {
            // The rest of a long reply, behind its "Visa mer".
            assert_eq!(item.kind, "reply", "{token}");
        } else if token.starts_with("TKREP") {
            // TKREP<post><comment><reply>: a reply under comment TKCMT<post><comment>.
            assert_eq!(item.kind, "reply", "{token}");
            let p = parent.expect("reply has a parent");
            assert!(
                p.text.contains(&format!("TKCMT{}", &token[5..9])),
                "{token} under {:?}",
                p.text
            );
        } else if token.starts_with("TKCMT") {
            assert_eq!(item.kind, "comment", "{token}");
            let p = parent.expect("comment has a parent");
            assert!(
                p.text.contains(&format!("TKPOST{}", &token[5..7])),
                "{token} under {:?}",
                p.text
            );
            // The author comes from the article's label, the time from its link.
            assert!(
                item.author
                    .as_deref()
                    .is_some_and(|a| a.len() > 3 && !a.contains("Kommentar")),
                "{:?}",
                item.author
            );
            assert!(
                item.permalink.as_deref().unwrap().contains("comment_id="),
                "{:?}",
                item.permalink
            );
            assert!(item.published.shown.as_deref().unwrap().ends_with(" d"));
            assert!(item.published.parsed.unwrap() < outcome.manifest.requested_at);
            assert!(item.id.contains("comment_id="), "the permalink is the id");
        } else {
            assert_eq!(item.kind, "post", "{token}");
            assert_eq!(item.author.as_deref(), Some("Sala kommun"));
        }
    }
    for n in 1..=4 {
        let item = holding(&format!("TKALL{n:02}"));
        assert_eq!(item.kind, "comment");
        let parent = by_id[item.parent.as_deref().unwrap()];
        assert!(parent.text.contains(&format!("TKPOST{n:02}")));
    }
    // Controls are not text.
    assert!(doc
        .items
        .iter()
        .all(|i| !i.text.contains("Gilla") && !i.text.contains("Visa fler kommentarer")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_and_an_edited_comment_show_in_the_diff_and_stay_searchable() {
    let addr = common::serve().await;
    let dir = tempfile::tempdir().unwrap();
    let bevara = common::open(dir.path()).await;
    let channel = facebook("sala", &format!("http://{addr}/variable/feed.html"));
    bevara.db().add_channel(&channel).await.unwrap();
    common::FEED_VARIANT.store(1, Ordering::SeqCst);
    let first = capture(&bevara, &channel).await;
    assert!(
        first.manifest.diff.is_none(),
        "nothing to compare the first snapshot with"
    );
    common::FEED_VARIANT.store(2, Ordering::SeqCst);
    let second = capture(&bevara, &channel).await;

    let diff = second
        .manifest
        .diff
        .as_ref()
        .expect("a diff with the first snapshot");
    assert_eq!(diff.previous_snapshot, first.snapshot_id);
    assert_eq!((diff.removed, diff.edited, diff.new), (1, 1, 0), "{diff:?}");
    let removed = &diff.removed_items[0];
    assert!(removed.text.contains("TKCMT0102"), "{removed:?}");
    assert_eq!(removed.kind, "comment");
    assert!(removed.author.is_some());

    let d = bevara::archive::diff(&bevara, &second.snapshot_id, &first.snapshot_id)
        .await
        .unwrap();
    assert_eq!(d.from, first.snapshot_id, "ordered oldest first");
    assert!(d.edited[0].1.text.contains("TKEDITED") && !d.edited[0].0.text.contains("TKEDITED"));

    // The deleted comment is still found, in the snapshot where it was last seen.
    let hits = bevara
        .db()
        .search("TKCMT0102", Some("sala"), 10)
        .await
        .unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].snapshot_id, first.snapshot_id);
    let seen = bevara
        .db()
        .last_seen("sala", &removed.id, second.manifest.requested_at)
        .await
        .unwrap();
    assert_eq!(seen.map(|s| s.0), Some(first.snapshot_id.clone()));
    // Both snapshots hold the unchanged comments.
    assert_eq!(
        bevara
            .db()
            .search("TKCMT0304", None, 10)
            .await
            .unwrap()
            .len(),
        2
    );
}
