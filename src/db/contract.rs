//! What every [`Repository`](super::Repository) must do, written once and run
//! on each backend: SQLite always, Postgres where the test set-up finds or
//! starts one (see [`super::testing`]).

use super::{CaptureFinish, CaptureRecord, CaptureState, Db, DbError, Debate};
use crate::behaviour::items::{Item, Published};
use crate::queue::{Enqueued, JobEnd, JobStatus, NewJob, TriggerKind, INTERRUPTED};
use crate::registry::{Channel, Platform};
use chrono::{DateTime, Duration, TimeZone, Utc};

pub fn channel(id: &str) -> Channel {
    Channel {
        id: id.parse().unwrap(),
        platform: Platform::Facebook,
        url: "https://example.org/sala".into(),
        name: Some("Sala kommun".into()),
        owner: Some("Kommunikationsenheten".into()),
        admins: vec!["Anna".into(), "Björn".into()],
        purpose: None,
        tags: vec!["kommun".into()],
        opened_at: Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap(),
        closed_at: None,
        retain_days: None,
        recording: true,
    }
}

fn t(secs: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap() + Duration::seconds(secs)
}

fn running_capture(id: &str, channel: &str, job: Option<&str>, at: DateTime<Utc>) -> CaptureRecord {
    CaptureRecord {
        id: id.into(),
        channel_id: channel.into(),
        state: CaptureState::Running,
        trigger: "ad-hoc".into(),
        reason: None,
        requested_by: None,
        requested_at: at,
        started_at: Some(at),
        finished_at: None,
        url: "https://example.org".into(),
        final_url: None,
        title: None,
        failure_code: None,
        failure: None,
        warnings: 0,
        truncated: false,
        manifest_key: None,
        worker: Some("w1".into()),
        job_id: job.map(str::to_string),
    }
}

fn item(id: &str, text: &str, author: &str) -> Item {
    Item {
        id: id.into(),
        kind: "comment".into(),
        parent: None,
        author: Some(author.into()),
        published: Published {
            shown: Some("2 d".into()),
            parsed: Some(t(-86_400)),
        },
        text: text.into(),
        permalink: None,
        links: vec!["https://example.org/a".into()],
        media: vec![],
    }
}

pub async fn register(db: &Db) {
    let c = channel("sala");
    db.add_channel(&c).await.unwrap();
    assert!(matches!(
        db.add_channel(&c).await,
        Err(DbError::ChannelExists(_))
    ));
    let back = db.channel("sala").await.unwrap();
    assert_eq!(back, c);
    assert!(db.close_channel(&c.id, t(0)).await.unwrap());
    assert!(!db.close_channel(&c.id, t(1)).await.unwrap());
    assert_eq!(db.channel("sala").await.unwrap().closed_at, Some(t(0)));
    assert!(matches!(
        db.channel("nope").await,
        Err(DbError::NoChannel(_))
    ));
}

pub async fn captures_items_and_search(db: &Db) {
    db.add_channel(&channel("sala")).await.unwrap();
    for (id, at, text) in [
        ("01A", t(0), "Skolnedläggning i Västerfärnebo är fel"),
        ("01B", t(100), "Bra beslut om skolan"),
    ] {
        db.insert_capture(&running_capture(id, "sala", None, at))
            .await
            .unwrap();
        let finish = CaptureFinish {
            title: Some("Sala".into()),
            warnings: 1,
            ..Default::default()
        };
        let items = [item(&format!("{id}-1"), text, "Anna Andersson")];
        db.complete_capture(id, &finish, &[], &items).await.unwrap();
    }
    // A capture that is no longer running is never marked complete.
    assert!(matches!(
        db.complete_capture("01A", &CaptureFinish::default(), &[], &[])
            .await,
        Err(DbError::NotRunning(_))
    ));
    let hits = db
        .search("västerfärnebo skolnedläggning", None, 10)
        .await
        .unwrap();
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0].snapshot_id, "01A");
    assert_eq!(
        hits[0].item.links,
        vec!["https://example.org/a".to_string()]
    );
    assert_eq!(hits[0].item.published.parsed, Some(t(-86_400)));
    assert_eq!(db.search("anna", Some("sala"), 10).await.unwrap().len(), 2);
    // A negative limit is none.
    assert_eq!(db.search("anna", None, -1).await.unwrap().len(), 2);
    assert_eq!(db.search("anna", None, 1).await.unwrap().len(), 1);
    assert_eq!(
        db.search("anna", None, 10).await.unwrap()[0].snapshot_id,
        "01B"
    );
    assert!(db.search("\"; DROP", None, 10).await.unwrap().is_empty());
    assert!(db.search("skola", None, 10).await.unwrap().is_empty());
    assert_eq!(
        db.previous_complete("sala", t(50))
            .await
            .unwrap()
            .as_deref(),
        Some("01A")
    );
    let seen = db
        .last_seen("sala", "01A-1", t(500))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seen, ("01A".to_string(), t(0)));
    assert_eq!(
        db.items("01B").await.unwrap()[0].text,
        "Bra beslut om skolan"
    );
}

/// Search finds words as SQLite's unicode61 tokenizer splits them: in any
/// case, Swedish letters included; inside links, addresses and dates; a
/// word with punctuation as the phrase of its parts; diacritics kept.
pub async fn search_words(db: &Db) {
    db.add_channel(&channel("sala")).await.unwrap();
    db.insert_capture(&running_capture("01S", "sala", None, t(0)))
        .await
        .unwrap();
    let items = [
        item(
            "p1",
            "ÅTGÄRDSPLAN för Äldreboendet Öster. Läs mer på https://www.sala.se/förskolor \
             eller mejla barn@sala.se före 2026-06-01, kl. 12:30 #skolval",
            "Örjan Åström",
        ),
        item("p2", "Bra! \"Citat\" och (parentes) – tankstreck", "BJÖRN"),
    ];
    db.complete_capture("01S", &CaptureFinish::default(), &[], &items)
        .await
        .unwrap();
    let found = |words: &'static str| async move {
        let hits = db.search(words, None, 10).await.unwrap();
        hits.into_iter().map(|h| h.item.id).collect::<Vec<_>>()
    };
    for words in [
        "åtgärdsplan äldreboendet öster",
        "ÅTGÄRDSPLAN",
        "Åtgärdsplan",
        "örjan åström",
        "ÖRJAN",
        "förskolor",
        "sala.se",
        "www",
        "barn",
        "06",
        "12:30",
        "skolval",
        "#skolval",
        "mer — läs",
    ] {
        assert_eq!(found(words).await, vec!["p1"], "{words:?}");
    }
    for words in ["björn", "citat", "\"citat\"", "parentes)", "tankstreck"] {
        assert_eq!(found(words).await, vec!["p2"], "{words:?}");
    }
    // Diacritics are kept, words are whole, a word's parts are a phrase.
    for words in [
        "atgardsplan",
        "aldreboendet",
        "förskola",
        "se.sala",
        "åtgärd",
        "—",
    ] {
        assert!(found(words).await.is_empty(), "{words:?}");
    }
}

pub async fn enqueue_joins_and_claims_by_priority(db: &Db) {
    for c in ["a", "b", "c"] {
        db.add_channel(&channel(c)).await.unwrap();
    }
    let sched = NewJob::new("a", TriggerKind::Schedule).reason(Some("baseline".into()));
    let first = db.enqueue(&sched, t(0)).await.unwrap();
    assert!(!first.joined);
    let again = NewJob::new("a", TriggerKind::AdHoc).reason(Some("debatt".into()));
    let joined = db.enqueue(&again, t(1)).await.unwrap();
    assert_eq!(joined.job_id, first.job_id);
    assert!(joined.joined);
    let job = db.job(&first.job_id).await.unwrap();
    assert_eq!(job.reasons, vec!["baseline", "debatt"]);
    assert_eq!(job.priority, NewJob::new("a", TriggerKind::AdHoc).priority);
    let debate = db
        .enqueue(&NewJob::new("b", TriggerKind::Debate), t(2))
        .await
        .unwrap();
    let late = NewJob::new("c", TriggerKind::Close);
    let close = db.enqueue(&late, t(3)).await.unwrap();
    assert!(matches!(
        db.enqueue(&NewJob::new("nope", TriggerKind::AdHoc), t(3))
            .await,
        Err(DbError::NoChannel(_))
    ));
    let mut claimed = Vec::new();
    while let Some(j) = db.claim("w1", None, t(120), t(10)).await.unwrap() {
        assert_eq!(j.status, JobStatus::Running);
        assert_eq!(j.attempts, 1);
        assert_eq!(j.lease_owner.as_deref(), Some("w1"));
        claimed.push(j.id);
    }
    assert_eq!(claimed, vec![close.job_id, first.job_id, debate.job_id]);
    let stats = db.queue_stats(t(10)).await.unwrap();
    assert_eq!((stats.queued, stats.running), (0, 3));
}

pub async fn leases_heartbeats_and_retries(db: &Db) {
    db.add_channel(&channel("a")).await.unwrap();
    let id = db
        .enqueue(&NewJob::new("a", TriggerKind::AdHoc), t(0))
        .await
        .unwrap()
        .job_id;
    // Not due yet: nothing to claim before next_attempt_at.
    assert!(db
        .claim("w1", None, t(-50), t(-100))
        .await
        .unwrap()
        .is_none());
    let job = db.claim("w1", None, t(60), t(0)).await.unwrap().unwrap();
    assert!(db.claim("w2", None, t(60), t(0)).await.unwrap().is_none());
    assert!(db.heartbeat(&id, "w1", t(90), t(30)).await.unwrap());
    assert!(!db.heartbeat(&id, "w2", t(90), t(30)).await.unwrap());
    // w1 dies with a capture half done; its lease runs out.
    db.insert_capture(&running_capture("01X", "a", Some(&job.id), t(1)))
        .await
        .unwrap();
    // One running capture per channel, whoever starts the second.
    match db
        .insert_capture(&running_capture("01Z", "a", None, t(2)))
        .await
    {
        Err(DbError::CaptureRunning {
            capture, worker, ..
        }) => assert_eq!((capture.as_str(), worker.as_str()), ("01X", "w1")),
        other => panic!("a second running capture of a channel: {other:?}"),
    }
    assert!(db.reap_expired(t(89)).await.unwrap().is_empty());
    let reaped = db.reap_expired(t(91)).await.unwrap();
    assert_eq!(reaped.len(), 1);
    assert!(reaped[0].requeued);
    assert_eq!(reaped[0].captures, vec!["01X".to_string()]);
    let cap = db.capture("01X").await.unwrap();
    assert_eq!(cap.state, CaptureState::Failed);
    assert_eq!(cap.failure_code.as_deref(), Some(INTERRUPTED));
    assert!(!db.heartbeat(&id, "w1", t(150), t(92)).await.unwrap());
    assert!(!db
        .end_job(
            &id,
            "w1",
            &JobEnd::Done {
                snapshot_id: "01X".into()
            },
            t(92)
        )
        .await
        .unwrap());
    // w2 takes it over; a retryable failure puts it back with a backoff.
    let again = db.claim("w2", None, t(200), t(92)).await.unwrap().unwrap();
    assert_eq!(again.attempts, 2);
    let retry = JobEnd::Retry {
        code: "timeout".into(),
        error: "slow".into(),
        at: t(400),
        snapshot_id: Some("01Y".into()),
    };
    assert!(db.end_job(&id, "w2", &retry, t(100)).await.unwrap());
    let j = db.job(&id).await.unwrap();
    assert_eq!(j.status, JobStatus::Queued);
    assert_eq!(j.next_attempt_at, t(400));
    assert_eq!(j.last_error_code.as_deref(), Some("timeout"));
    assert!(db
        .claim("w2", None, t(500), t(399))
        .await
        .unwrap()
        .is_none());
    assert!(db
        .claim("w2", None, t(500), t(400))
        .await
        .unwrap()
        .is_some());
    // The third attempt is the last: a retryable failure now fails the job.
    assert!(db.end_job(&id, "w2", &retry, t(401)).await.unwrap());
    let j = db.job(&id).await.unwrap();
    assert_eq!((j.status, j.attempts), (JobStatus::Failed, 3));
    assert_eq!(j.snapshot_id.as_deref(), Some("01Y"));
    // Retried by hand: fresh attempts, due now.
    let r = db.retry_job(&id, t(500)).await.unwrap();
    assert_eq!((r.status, r.attempts), (JobStatus::Queued, 0));
    assert!(matches!(
        db.retry_job(&id, t(500)).await,
        Err(DbError::JobState { .. })
    ));
    let c = db
        .claim("w3", Some(&id), t(600), t(500))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.lease_owner.as_deref(), Some("w3"));
    let cancelled = db.cancel_job(&id, t(501)).await.unwrap();
    assert_eq!(cancelled.status, JobStatus::Cancelled);
    // The worker learns at its next heartbeat.
    assert!(!db.heartbeat(&id, "w3", t(700), t(502)).await.unwrap());
    assert!(matches!(
        db.cancel_job(&id, t(503)).await,
        Err(DbError::JobState { .. })
    ));
    let listed = db.list_jobs(Some(JobStatus::Cancelled), 10).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert!(db
        .list_jobs(Some(JobStatus::Queued), 10)
        .await
        .unwrap()
        .is_empty());
    assert!(matches!(db.job("nope").await, Err(DbError::NoJob(_))));
}

pub async fn fires_are_enqueued_once(db: &Db) {
    for c in ["a", "b"] {
        db.add_channel(&channel(c)).await.unwrap();
    }
    let job = |c: &str| {
        let mut j = NewJob::new(c, TriggerKind::Schedule);
        j.trigger.schedule = Some("baseline".into());
        j.trigger.fire_time = Some(t(0));
        j
    };
    // Channel c already has a job queued: its fire joins it.
    db.add_channel(&channel("c")).await.unwrap();
    let adhoc = db
        .enqueue(
            &NewJob::new("c", TriggerKind::AdHoc).reason(Some("debatt".into())),
            t(0),
        )
        .await
        .unwrap();
    // Asked in an order that is not the channels' own.
    let jobs = [job("b"), job("c").reason(Some("baseline".into())), job("a")];
    let first = db
        .record_fires("baseline", t(0), &jobs, t(1))
        .await
        .unwrap();
    assert_eq!(first.len(), 3);
    for (e, c) in first.iter().zip(["b", "c", "a"]) {
        assert_eq!(db.job(&e.job_id).await.unwrap().channel_id, c);
    }
    assert_eq!(
        first[1],
        Enqueued {
            job_id: adhoc.job_id.clone(),
            joined: true
        }
    );
    assert!(!first[0].joined && !first[2].joined);
    let joined = db.job(&adhoc.job_id).await.unwrap();
    assert_eq!(joined.reasons, vec!["debatt", "baseline"]);
    assert_eq!(joined.trigger.kind, TriggerKind::AdHoc);
    db.cancel_job(&adhoc.job_id, t(1)).await.unwrap();
    // A second scheduler (another replica) records the same fire: nothing new.
    let second = db
        .record_fires("baseline", t(0), &jobs, t(2))
        .await
        .unwrap();
    assert!(second.is_empty());
    assert_eq!(db.list_jobs(None, 10).await.unwrap().len(), 3);
    assert_eq!(db.list_jobs(None, -1).await.unwrap().len(), 3);
    let j = db.job(&first[0].job_id).await.unwrap();
    assert_eq!(j.trigger.schedule.as_deref(), Some("baseline"));
    assert_eq!(j.trigger.fire_time, Some(t(0)));
    assert_eq!(db.last_fire("baseline").await.unwrap(), Some(t(0)));
    assert_eq!(
        db.record_missed("baseline", t(-3600), &["a".into(), "b".into()], t(3))
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        db.record_missed("baseline", t(-3600), &["a".into()], t(3))
            .await
            .unwrap(),
        0
    );
    assert_eq!(db.last_fire("baseline").await.unwrap(), Some(t(0)));
    assert_eq!(db.last_fire("other").await.unwrap(), None);
}

pub async fn debates(db: &Db) {
    let d = Debate {
        id: "01D".into(),
        channels: vec!["a".into()],
        tag: Some("skola".into()),
        every_secs: 6 * 3600,
        starts_at: t(0),
        until: t(86_400),
        reason: "skolnedläggning".into(),
        started_by: Some("anna".into()),
        stopped_at: None,
        stopped_by: None,
    };
    db.add_debate(&d).await.unwrap();
    assert_eq!(db.debates(None).await.unwrap(), vec![d.clone()]);
    assert_eq!(db.debates(Some(t(10))).await.unwrap().len(), 1);
    assert!(db.debates(Some(t(86_401))).await.unwrap().is_empty());
    assert!(db.stop_debate("01D", t(20), Some("björn")).await.unwrap());
    assert!(!db.stop_debate("01D", t(21), None).await.unwrap());
    assert!(matches!(
        db.stop_debate("nope", t(21), None).await,
        Err(DbError::NoDebate(_))
    ));
    assert!(db.debates(Some(t(30))).await.unwrap().is_empty());
    let back = &db.debates(None).await.unwrap()[0];
    assert_eq!(back.stopped_by.as_deref(), Some("björn"));
}

/// A spooled capture is upload-pending until its upload completes it; a job
/// whose worker died after spooling is done, not captured again; a
/// channel's own retention is kept.
pub async fn upload_pending_and_retention(db: &Db) {
    db.add_channel(&channel("a")).await.unwrap();
    db.set_retain_days("a", Some(3650)).await.unwrap();
    assert_eq!(db.channel("a").await.unwrap().retain_days, Some(3650));
    db.set_retain_days("a", None).await.unwrap();
    assert_eq!(db.channel("a").await.unwrap().retain_days, None);
    assert!(matches!(
        db.set_retain_days("nej", Some(1)).await,
        Err(DbError::NoChannel(_))
    ));

    let id = db
        .enqueue(&NewJob::new("a", TriggerKind::AdHoc), t(0))
        .await
        .unwrap()
        .job_id;
    let job = db.claim("w1", None, t(60), t(0)).await.unwrap().unwrap();
    db.insert_capture(&running_capture("01P", "a", Some(&job.id), t(1)))
        .await
        .unwrap();
    db.pend_capture("01P", "uploading").await.unwrap();
    db.pend_capture("01P", "the store is unreachable")
        .await
        .unwrap();
    let cap = db.capture("01P").await.unwrap();
    assert_eq!(cap.state, CaptureState::UploadPending);
    assert_eq!(cap.failure.as_deref(), Some("the store is unreachable"));
    // Not running any more: another capture of the channel may start.
    db.insert_capture(&running_capture("01Q", "a", None, t(2)))
        .await
        .unwrap();
    db.fail_capture("01Q", "timeout", "x", None).await.unwrap();
    // The worker dies; its lease runs out: the job is done with that snapshot.
    assert!(db.reap_expired(t(91)).await.unwrap().is_empty());
    let j = db.job(&id).await.unwrap();
    assert_eq!(j.status, JobStatus::Done);
    assert_eq!(j.snapshot_id.as_deref(), Some("01P"));
    assert_eq!(
        db.capture("01P").await.unwrap().state,
        CaptureState::UploadPending
    );
    // The sync completes it, artifacts with their versions.
    let art = super::ArtifactRecord {
        name: "text.txt".into(),
        key: "a/2026/06/01/01P/text.txt".into(),
        media_type: "text/plain".into(),
        bytes: 3,
        sha256: "ab".into(),
        width: None,
        height: None,
        version_id: Some("v-1".into()),
    };
    db.complete_capture("01P", &CaptureFinish::default(), &[art], &[])
        .await
        .unwrap();
    let cap = db.capture("01P").await.unwrap();
    assert_eq!((cap.state, cap.failure), (CaptureState::Complete, None));
    assert_eq!(
        db.artifacts("01P").await.unwrap()[0].version_id.as_deref(),
        Some("v-1")
    );
    assert!(db.pend_capture("01P", "again").await.is_err());
}

/// Tokens are found by their hash until revoked; the audit log reads newest
/// first and is one unbroken hash chain, also with two writers at once.
pub async fn tokens_and_audit(db: &Db) {
    let tok = super::ApiToken {
        id: "01T".into(),
        name: "skript".into(),
        role: "archivist".into(),
        created_at: t(0),
        created_by: Some("anna".into()),
        revoked_at: None,
    };
    db.add_token(&tok, "hash-1").await.unwrap();
    assert_eq!(db.token_by_hash("hash-1").await.unwrap(), Some(tok.clone()));
    assert_eq!(db.token_by_hash("hash-2").await.unwrap(), None);
    assert!(db.revoke_token("01T", t(5)).await.unwrap());
    assert!(!db.revoke_token("01T", t(6)).await.unwrap());
    assert_eq!(db.token_by_hash("hash-1").await.unwrap(), None);
    assert_eq!(db.list_tokens().await.unwrap()[0].revoked_at, Some(t(5)));
    for (i, action) in ["channel.add", "capture.request", "token.create"]
        .iter()
        .enumerate()
    {
        let mut e = super::AuditEntry::new(
            "token:admin",
            "admin",
            action,
            Some("sala"),
            Some("{\"reason\":\"debatt\"}".into()),
        );
        e.at = t(i as i64);
        let written = db.add_audit(&e).await.unwrap();
        assert_eq!(written.seq, Some(i as i64 + 1));
    }
    let log = db.audit(10).await.unwrap();
    assert_eq!(log.len(), 3);
    assert_eq!(log[0].action, "token.create");
    assert_eq!(log[2].at, t(0));
    assert_eq!(log[2].prev_hash.as_deref(), Some(""));
    assert_eq!(
        log[1].prev_hash, log[2].hash,
        "each entry names the one before"
    );
    let check = super::verify_audit(db).await.unwrap();
    assert_eq!((check.chained, check.unchained), (3, 0));
    assert!(check.problems.is_empty(), "{:?}", check.problems);
    assert_eq!(check.head, log[0].hash);
    // Two writers at once: both get in, one after the other.
    let (ea, eb) = (
        super::AuditEntry::new("a", "admin", "x", None, None),
        super::AuditEntry::new("b", "admin", "y", None, None),
    );
    let (a, b) = tokio::join!(db.add_audit(&ea), db.add_audit(&eb));
    let mut seqs = [a.unwrap().seq, b.unwrap().seq];
    seqs.sort();
    assert_eq!(seqs, [Some(4), Some(5)]);
    assert!(super::verify_audit(db).await.unwrap().problems.is_empty());
}

/// A retention rule replaces the one before; holds lift once; a disposal
/// takes the snapshot's rows (and its items out of search) and keeps its record.
pub async fn retention_holds_and_disposals(db: &Db) {
    use super::{Disposal, Hold, RetentionRule};
    db.add_channel(&channel("sala")).await.unwrap();
    let rule = |id: &str, keep: i64, decision: &str| RetentionRule {
        id: id.into(),
        channel_id: Some("sala".into()),
        platform: None,
        keep_days: keep,
        decision_id: decision.into(),
        decision_date: Some("2026-01-15".into()),
        decision_text: None,
        set_at: t(0),
        set_by: Some("anna".into()),
    };
    db.set_retention(&rule("r1", 3650, "KS 1")).await.unwrap();
    db.set_retention(&rule("r2", 0, "KS 2")).await.unwrap();
    let mut by_platform = rule("r3", 90, "KS 3");
    by_platform.channel_id = None;
    by_platform.platform = Some("facebook".into());
    db.set_retention(&by_platform).await.unwrap();
    let rules = db.retention_rules().await.unwrap();
    assert_eq!(rules.len(), 2, "{rules:?}");
    assert!(rules.contains(&rule("r2", 0, "KS 2")) && rules.contains(&by_platform));

    let hold = Hold {
        id: "h1".into(),
        snapshot_id: Some("01A".into()),
        channel_id: None,
        reason: "utlämnande".into(),
        placed_at: t(1),
        placed_by: Some("anna".into()),
        removed_at: None,
        removed_by: None,
    };
    db.add_hold(&hold).await.unwrap();
    assert_eq!(db.holds(true).await.unwrap(), vec![hold.clone()]);
    assert!(db.remove_hold("h1", t(2), Some("bo")).await.unwrap());
    assert!(!db.remove_hold("h1", t(3), Some("bo")).await.unwrap());
    assert!(db.holds(true).await.unwrap().is_empty());
    assert_eq!(
        db.holds(false).await.unwrap()[0].removed_by.as_deref(),
        Some("bo")
    );

    db.insert_capture(&running_capture("01A", "sala", None, t(0)))
        .await
        .unwrap();
    let items = [item("01A-1", "Skolnedläggning i Västerfärnebo", "Anna")];
    db.complete_capture("01A", &CaptureFinish::default(), &[], &items)
        .await
        .unwrap();
    assert_eq!(db.search("Västerfärnebo", None, 10).await.unwrap().len(), 1);
    let d = Disposal {
        id: "d1".into(),
        snapshot_id: "01A".into(),
        channel_id: "sala".into(),
        requested_at: t(0),
        disposed_at: t(10),
        decision_id: "KS 2".into(),
        decision_date: Some("2026-01-15".into()),
        decision_text: Some("efter 0 dagar".into()),
        keep_days: 0,
        disposed_by: Some("anna".into()),
        objects: 7,
        bytes: 1234,
        manifest_sha256: Some("ab".repeat(32)),
    };
    db.dispose_capture(&d).await.unwrap();
    assert!(matches!(
        db.capture("01A").await,
        Err(DbError::NoCapture(_))
    ));
    assert!(db.items("01A").await.unwrap().is_empty());
    assert!(db
        .search("Västerfärnebo", None, 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(db.disposals().await.unwrap(), vec![d.clone()]);
    let mut again = d.clone();
    again.id = "d2".into();
    assert!(matches!(
        db.dispose_capture(&again).await,
        Err(DbError::NoCapture(_))
    ));
    assert_eq!(
        db.disposals().await.unwrap().len(),
        1,
        "a failed disposal writes no record"
    );
}

fn artifact(name: &str) -> super::ArtifactRecord {
    super::ArtifactRecord {
        name: name.into(),
        key: format!("c/{name}"),
        media_type: "application/octet-stream".into(),
        bytes: 10,
        sha256: "ab".repeat(32),
        width: None,
        height: None,
        version_id: Some("v1".into()),
    }
}

/// A complete snapshot with a manifest and no token is listed until its
/// token is recorded; only complete snapshots take one.
pub async fn timestamp_tokens(db: &Db) {
    db.add_channel(&channel("sala")).await.unwrap();
    for id in ["01A", "01B", "01C"] {
        db.insert_capture(&running_capture(id, "sala", None, t(0)))
            .await
            .unwrap();
        if id != "01C" {
            db.complete_capture(
                id,
                &CaptureFinish::default(),
                &[artifact("manifest.json")],
                &[],
            )
            .await
            .unwrap();
        }
    }
    assert_eq!(db.untimestamped("", 10).await.unwrap(), vec!["01A", "01B"]);
    assert_eq!(db.untimestamped("", 1).await.unwrap(), vec!["01A"]);
    assert_eq!(db.untimestamped("01A", 10).await.unwrap(), vec!["01B"]);
    assert!(db.untimestamped("", -1).await.unwrap().is_empty());
    db.add_artifact("01A", &artifact("manifest.tsr"))
        .await
        .unwrap();
    // Recorded twice: replaced, not doubled.
    let mut again = artifact("manifest.tsr");
    again.bytes = 11;
    db.add_artifact("01A", &again).await.unwrap();
    let arts = db.artifacts("01A").await.unwrap();
    assert_eq!(arts.len(), 2);
    assert_eq!(
        arts.iter()
            .find(|a| a.name == "manifest.tsr")
            .unwrap()
            .bytes,
        11
    );
    assert_eq!(db.untimestamped("", 10).await.unwrap(), vec!["01B"]);
    assert!(matches!(
        db.add_artifact("01C", &artifact("manifest.tsr")).await,
        Err(DbError::NoCapture(_))
    ));
    assert!(matches!(
        db.add_artifact("nope", &artifact("manifest.tsr")).await,
        Err(DbError::NoCapture(_))
    ));
}

/// Runs every contract test, each on a fresh database from `fresh`, which
/// returns `Some((guard, db))`, or `None` when the backend cannot be had
/// here (the test then passes, having said why it did nothing).
#[macro_export]
#[doc(hidden)]
macro_rules! repository_contract {
    ($fresh:path) => {
        $crate::repository_contract!($fresh; register, captures_items_and_search, search_words,
            enqueue_joins_and_claims_by_priority, leases_heartbeats_and_retries,
            fires_are_enqueued_once, debates, upload_pending_and_retention, tokens_and_audit,
            retention_holds_and_disposals, timestamp_tokens);
    };
    ($fresh:path; $($name:ident),+) => {
        $(
            #[tokio::test]
            async fn $name() {
                let Some((_g, db)) = $fresh().await else {
                    return;
                };
                $crate::db::contract::$name(&db).await;
            }
        )+
    };
}
