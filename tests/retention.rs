//! Disposal by decision and legal holds, through the CLI on real captures:
//! what is due and why, a hold and Object Lock keeping a snapshot, the
//! objects and rows gone after `dispose --apply`, the disposal record and
//! the audit entries kept.

mod common;

use common::bevara;

const ALLOW: (&str, &str) = ("BEVARA_ALLOW_PRIVATE_ADDRESSES", "1");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_are_disposed_of_by_decision_unless_held() {
    let site = common::serve().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let url = format!("http://{site}/site/feed.html");
    for (id, platform) in [("sala-fb", "facebook"), ("sala-blogg", "blog")] {
        let r = bevara(
            d,
            &[],
            &[
                "channel",
                "add",
                id,
                "--platform",
                platform,
                "--url",
                &url,
                "--no-recording",
            ],
        )
        .await;
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    let mut snaps = Vec::new();
    for id in ["sala-fb", "sala-fb", "sala-blogg"] {
        let r = bevara(d, &[ALLOW], &["capture", id]).await;
        assert_eq!(r.code, 0, "{}", r.stderr);
        let list = bevara(d, &[], &["snapshots", "list", "--json"]).await;
        let list: serde_json::Value = serde_json::from_str(&list.stdout).unwrap();
        let newest = list
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap().to_string())
            .filter(|s| !snaps.contains(s))
            .max()
            .unwrap();
        snaps.push(newest);
    }
    let (held, due, blog) = (&snaps[0], &snaps[1], &snaps[2]);

    // Rules: sala-fb at once, by its decision; blogs after ten years.
    let r = bevara(
        d,
        &[],
        &[
            "retention",
            "set",
            "sala-fb",
            "--keep",
            "0d",
            "--decision",
            "KS 2026/123",
            "--decision-date",
            "2026-01-15",
            "--decision-text",
            "Gallring av kommentarer på sociala medier",
        ],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = bevara(
        d,
        &[],
        &[
            "retention",
            "set",
            "--platform",
            "blog",
            "--keep",
            "10y",
            "--decision",
            "KS 2025/7",
        ],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let bad = bevara(
        d,
        &[],
        &[
            "retention",
            "set",
            "sala-fb",
            "--keep",
            "5m",
            "--decision",
            "x",
        ],
    )
    .await;
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    let show = bevara(d, &[], &["retention", "show"]).await.stdout;
    assert!(
        show.contains("channel sala-fb") && show.contains("KS 2026/123"),
        "{show}"
    );
    assert!(
        show.contains("platform blog") && show.contains("3650"),
        "{show}"
    );

    // A legal hold on the first.
    let h = bevara(
        d,
        &[],
        &["hold", "add", held, "--reason", "begäran om utlämnande"],
    )
    .await;
    assert_eq!(h.code, 0, "{}", h.stderr);
    let hold_id = h.stdout.trim().to_string();

    let dry = bevara(d, &[], &["dispose", "--dry-run", "--json"]).await;
    let plan: serde_json::Value = serde_json::from_str(&dry.stdout).unwrap();
    let plan = plan.as_array().unwrap();
    assert_eq!(plan.len(), 2, "only sala-fb's two are due: {plan:?}");
    let of = |id: &str| plan.iter().find(|p| p["snapshot"] == id).unwrap().clone();
    assert_eq!(of(held)["kept"]["kept_by"], "hold");
    assert_eq!(of(held)["kept"]["reason"], "begäran om utlämnande");
    assert!(of(due)["kept"].is_null());
    assert!(!dry.stdout.contains(blog.as_str()));

    // Apply: the due one goes, objects and rows; the held one stays whole.
    let files_of = |id: &str| {
        bevara::export::files_under(&d.join("data/objects"))
            .into_iter()
            .filter(|p| p.display().to_string().contains(id))
            .count()
    };
    assert!(files_of(due) > 3);
    let run = bevara(d, &[], &["dispose", "--apply"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains(&format!("disposed {due}")),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("by decision KS 2026/123 of 2026-01-15"),
        "{}",
        run.stdout
    );
    assert_eq!(files_of(due), 0, "the disposed snapshot's objects are gone");
    assert_eq!(
        bevara(d, &[], &["snapshots", "get", due, "--out", "x"])
            .await
            .code,
        3
    );
    assert_eq!(bevara(d, &[], &["verify", held]).await.code, 0);
    assert_eq!(
        bevara(d, &[], &["verify", "--all"]).await.code,
        0,
        "nothing left half-disposed"
    );
    // Its items are out of the search index; the held snapshot's are not.
    let tok = &common::feed_tokens()[2];
    let hits = bevara(d, &[], &["search", tok, "--json"]).await.stdout;
    assert!(
        !hits.contains(due.as_str()) && hits.contains(held.as_str()),
        "{hits}"
    );

    // The disposal record is kept, and the audit log has every step.
    let recs = bevara(d, &[], &["retention", "disposals", "--json"])
        .await
        .stdout;
    let recs: serde_json::Value = serde_json::from_str(&recs).unwrap();
    assert_eq!(recs.as_array().unwrap().len(), 1);
    assert_eq!(recs[0]["snapshot_id"], due.as_str());
    assert_eq!(
        recs[0]["decision_text"],
        "Gallring av kommentarer på sociala medier"
    );
    assert!(recs[0]["manifest_sha256"].as_str().unwrap().len() == 64);
    let log = bevara(d, &[], &["audit", "list", "--json"]).await.stdout;
    for a in ["retention.set", "hold.add", "snapshot.dispose"] {
        assert!(log.contains(a), "{a} not in the audit log");
    }

    // The next delivery of the channel carries the disposal record: as
    // disposals.json and as a PREMIS deletion event naming the decision.
    let out = d.join("leverans");
    let r = bevara(
        d,
        &[],
        &[
            "export",
            "--channel",
            "sala-fb",
            "--out",
            out.to_str().unwrap(),
            "--json",
        ],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let e: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(e["snapshots"], serde_json::json!([held]));
    assert_eq!(e["disposals"], 1);
    let pkg = out.join(e["package_id"].as_str().unwrap());
    let recs: serde_json::Value =
        serde_json::from_slice(&std::fs::read(pkg.join("metadata/other/disposals.json")).unwrap())
            .unwrap();
    assert_eq!(recs["disposals"][0]["snapshot_id"], due.as_str());
    assert_eq!(recs["disposals"][0]["decision_id"], "KS 2026/123");
    let premis = pkg.join("metadata/preservation/premis.xml");
    let text = std::fs::read_to_string(&premis).unwrap();
    assert!(
        text.contains("<premis:eventType>deletion</premis:eventType>"),
        "{text}"
    );
    assert!(
        text.contains(&format!("snapshot {due} of channel sala-fb"))
            && text.contains("under decision KS 2026/123 of 2026-01-15"),
        "{text}"
    );
    let mets = std::fs::read_to_string(pkg.join("METS.xml")).unwrap();
    assert!(mets.contains("metadata/other/disposals.json"), "{mets}");
    let x = std::process::Command::new("xmllint")
        .args(["--noout", "--nonet", "--schema"])
        .arg(pkg.join("schemas/premis.xsd"))
        .arg(&premis)
        .output()
        .expect("xmllint (libxml2-utils)");
    assert!(x.status.success(), "{}", String::from_utf8_lossy(&x.stderr));

    // The hold lifted: the first goes too.
    assert_eq!(bevara(d, &[], &["hold", "remove", &hold_id]).await.code, 0);
    assert_eq!(bevara(d, &[], &["hold", "remove", &hold_id]).await.code, 3);
    let run = bevara(d, &[], &["dispose", "--apply"]).await;
    assert!(
        run.stdout.contains(&format!("disposed {held}")),
        "{}",
        run.stdout
    );
    assert_eq!(bevara(d, &[], &["verify", blog]).await.code, 0);
    assert!(bevara(d, &[], &["audit", "list"])
        .await
        .stdout
        .contains("hold.remove"));
    assert_eq!(bevara(d, &[], &["audit", "verify"]).await.code, 0);
}
