//! Items by structure: pages whose comments and replies no profile rule
//! names, captured with the `web` platform (the generic profile). Each
//! fixture under `tests/fixtures/structure/` is built another way (a thread
//! opened inline in nested divs, replies shown only by indentation, a
//! `ul > li` list, replies marked "Svar till @namn"), with generated class
//! names and Swedish text. Every token of its `expected.json` must be in an
//! item of the right kind under the right parent, and nothing else may be an
//! item: not the navigation, the sidebars, the comment form or the page's
//! own text.

mod common;

use bevara::Platform;

struct Expected {
    token: String,
    kind: String,
    parent: Option<String>,
}

fn expected(fixture: &str) -> Vec<Expected> {
    common::expected_items(&format!("structure/{fixture}"))
        .iter()
        .map(|i| Expected {
            token: i["token"].as_str().unwrap().into(),
            kind: i["kind"].as_str().unwrap().into(),
            parent: i["parent"].as_str().map(String::from),
        })
        .collect()
}

/// Captures the fixture and checks its items; returns how many were found.
async fn check(fixture: &str) -> usize {
    let addr = common::serve().await;
    let dir = tempfile::tempdir().unwrap();
    let bevara = common::open(dir.path()).await;
    let mut channel = common::channel(
        fixture,
        &format!("http://{addr}/fixtures/structure/{fixture}/index.html"),
    );
    channel.platform = Platform::Web;
    let outcome = common::capture_once(&bevara, &channel).await;
    assert_eq!(outcome.manifest.profile, "generic");
    let items = bevara.db().items(&outcome.snapshot_id).await.unwrap();
    let want = expected(fixture);
    let listing = || {
        items
            .iter()
            .map(|i| format!("{} {} <- {:?}: {:?}", i.id, i.kind, i.parent, i.text))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let holding = |t: &str| {
        let all: Vec<_> = items.iter().filter(|i| i.text.contains(t)).collect();
        assert_eq!(all.len(), 1, "{fixture}: {t} in one item\n{}", listing());
        all[0]
    };
    let mut wrong = Vec::new();
    for e in &want {
        let item = holding(&e.token);
        let parent = e.parent.as_deref().map(|p| holding(p).id.clone());
        if item.kind != e.kind || item.parent != parent {
            wrong.push(format!(
                "{}: {} under {:?}, wanted {} under {:?}",
                e.token, item.kind, item.parent, e.kind, e.parent
            ));
        }
        assert!(
            item.author.as_deref().is_some_and(|a| !a.is_empty()),
            "{fixture}: {} has an author",
            e.token
        );
    }
    assert!(
        wrong.is_empty(),
        "{fixture}:\n{}\n\nitems:\n{}",
        wrong.join("\n"),
        listing()
    );
    assert_eq!(
        items.len(),
        want.len(),
        "{fixture}: no items beyond the expected ones\n{}",
        listing()
    );
    // Ids are stable: permalinks, or the same hash on a second capture.
    let mut again = common::channel(
        &format!("{fixture}2"),
        &format!("http://{addr}/fixtures/structure/{fixture}/index.html"),
    );
    again.platform = Platform::Web;
    let second = common::capture_once(&bevara, &again).await;
    let mut ids: Vec<String> = items.iter().map(|i| i.id.clone()).collect();
    let mut ids2: Vec<String> = bevara
        .db()
        .items(&second.snapshot_id)
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.id)
        .collect();
    ids.sort();
    ids2.sort();
    assert_eq!(ids, ids2, "{fixture}: the same ids on a second capture");
    println!("{fixture}: {} items as expected", items.len());
    items.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thread_opened_inline_in_nested_divs() {
    assert_eq!(check("thread").await, 17);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_shown_only_by_indentation() {
    assert_eq!(check("indent").await, 9);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_of_comments_with_nested_lists_of_replies() {
    assert_eq!(check("list").await, 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_marked_svar_till_in_a_flat_run() {
    assert_eq!(check("svar").await, 8);
}
