//! The big feed of `bevara bench capture`, captured for real with a short
//! latency: every token in `items.json`, in an item of the right kind under
//! the right parent, and in `text.txt`.

mod common;

use bevara::behaviour::items::ItemsDocument;
use bevara::bench::bigfeed::coverage::{items_coverage, text_coverage};
use bevara::bench::bigfeed::{self, has_token, Kind};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_big_feed_keeps_every_token_with_its_kind_and_parent() {
    let router = bigfeed::bigfeed_router(Duration::from_millis(10));
    let (addr, _server) = bevara::demo::serve(router).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let bevara = common::open(dir.path()).await;
    let channel = common::channel("bigfeed", &format!("http://{addr}{}", bigfeed::PATH));
    let outcome = common::capture_once(&bevara, &channel).await;
    let m = &outcome.manifest;
    assert_eq!(m.profile, "facebook");
    assert!(
        m.behaviour
            .dialogs_dismissed
            .iter()
            .any(|d| d == "consent: tillåt alla cookies"),
        "{:?}",
        m.behaviour.dialogs_dismissed
    );
    let k = bigfeed::counts();
    assert_eq!(
        m.behaviour.expanders_clicked as usize,
        k.expanders(),
        "{:?}",
        m.behaviour.expander_labels
    );
    let get = |name: &str| {
        let a = m.artifacts.iter().find(|a| a.name == name).unwrap();
        let store = bevara.store();
        let key = a.key.clone();
        async move { store.get_bytes(&key).await.unwrap() }
    };
    let doc: ItemsDocument = serde_json::from_slice(&get("items.json").await).unwrap();
    assert_eq!(
        (doc.counts.posts, doc.counts.comments, doc.counts.replies),
        (k.posts, k.comments, k.replies)
    );

    let tokens = bigfeed::expected_tokens();
    let items = items_coverage(&tokens, &doc);
    assert!(
        items.missing.is_empty(),
        "not in items.json as they should be: {:?}",
        items.missing
    );
    let text = String::from_utf8(get("text.txt").await).unwrap();
    let in_text = text_coverage("text.txt", &tokens, &text);
    assert!(
        in_text.missing.is_empty(),
        "not in text.txt: {:?}",
        in_text.missing
    );

    // One chain read by hand: the last reply, its comment, their post, and
    // the reply's "Visa mer" text in the reply itself.
    let holding = |t: &str| doc.items.iter().find(|i| has_token(&i.text, t)).unwrap();
    let parent = |i: &bevara::behaviour::items::Item| {
        let p = i.parent.as_deref().expect("a parent");
        doc.items.iter().find(|x| x.id == p).unwrap()
    };
    let more = tokens
        .iter()
        .rfind(|t| t.kind == Kind::Reply && t.see_more)
        .unwrap();
    let reply = holding(&more.token);
    assert!(has_token(&reply.text, &more.item), "{:?}", reply.text);
    assert!(reply
        .permalink
        .as_deref()
        .unwrap()
        .contains("reply_comment_id="));
    let comment = parent(reply);
    assert_eq!(comment.kind, "comment");
    assert!(has_token(&comment.text, more.parent.as_deref().unwrap()));
    let post = parent(comment);
    assert_eq!((post.kind.as_str(), post.parent.as_deref()), ("post", None));
    assert_eq!(post.author.as_deref(), Some("Sala kommun"));
}
