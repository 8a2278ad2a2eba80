//! `capture.wacz`: the capture's network traffic as WARC in a WACZ, checked
//! by the PyPI `wacz` package (`wacz validate`) and read back with warcio
//! (its dependency), record by record at the offsets the CDXJ index gives.

mod common;

use common::bevara;
use std::path::{Path, PathBuf};

const ALLOW: (&str, &str) = ("BEVARA_ALLOW_PRIVATE_ADDRESSES", "1");

/// The venv with `wacz` (installed by `containers/setup-debian.sh --tests`).
fn venv() -> PathBuf {
    let v = PathBuf::from(
        std::env::var("BEVARA_TEST_WACZ_VENV").unwrap_or_else(|_| "/opt/bevara-test/wacz".into()),
    );
    assert!(
        v.join("bin/wacz").is_file(),
        "{}/bin/wacz not found: run `bash containers/setup-debian.sh --tests`",
        v.display()
    );
    v
}

/// Reads every CDXJ line's record at its offset with warcio; prints one JSON
/// line per record: url, status, the record's target URI, its type and the
/// payload's length, and whether it holds `needle`.
const READER: &str = r#"
import io, json, sys, zipfile
from warcio.archiveiterator import ArchiveIterator
z = zipfile.ZipFile(sys.argv[1])
warc = z.read("archive/data.warc.gz")
needle = sys.argv[2].encode()
for line in z.read("indexes/index.cdx").decode().splitlines():
    surt, ts, j = line.split(" ", 2)
    e = json.loads(j)
    off, ln = int(e["offset"]), int(e["length"])
    rec = next(iter(ArchiveIterator(io.BytesIO(warc[off:off + ln]))))
    body = rec.content_stream().read()
    print(json.dumps({"url": e["url"], "status": e["status"], "mime": e["mime"],
        "type": rec.rec_type, "target": rec.rec_headers.get_header("WARC-Target-URI"),
        "http_status": rec.http_headers.get_statuscode(), "bytes": len(body),
        "has_needle": needle in body}))
n = sum(1 for _ in ArchiveIterator(io.BytesIO(warc)))
print(json.dumps({"records": n}))
"#;

async fn capture_wacz(d: &Path, env: &[(&str, &str)], out: &str) -> (PathBuf, serde_json::Value) {
    let r = bevara(d, env, &["capture", "sala"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let id = common::newest_snapshot(d).await;
    let got = d.join(out);
    let r = bevara(
        d,
        &[],
        &["snapshots", "get", &id, "--out", got.to_str().unwrap()],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(got.join("manifest.json")).unwrap()).unwrap();
    (got.join("capture.wacz"), manifest)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_traffic_is_a_valid_wacz() {
    let venv = venv();
    let site = common::serve().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let feed = common::add_feed_channel(d, site, "sala").await;
    let (wacz, manifest) = capture_wacz(d, &[ALLOW, ("BEVARA_CAPTURE_WACZ", "1")], "got").await;
    assert!(
        manifest["artifacts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["name"] == "capture.wacz" && a["media_type"] == "application/wacz"),
        "{manifest}"
    );

    // The reference validator.
    let v = std::process::Command::new(venv.join("bin/wacz"))
        .args(["validate", "-f"])
        .arg(&wacz)
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&v.stdout),
        String::from_utf8_lossy(&v.stderr)
    );
    assert!(v.status.success(), "{said}");
    assert!(said.contains("Validation succeeded"), "{said}");

    // Every index line points at its response record; the document and the
    // script that writes the feed are there, the script byte for byte.
    let token = "var TOTAL_POSTS = 12;".to_string();
    let o = std::process::Command::new(venv.join("bin/python"))
        .args(["-c", READER])
        .arg(&wacz)
        .arg(&token)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let (records, entries) = lines.split_last().unwrap();
    for e in entries {
        assert_eq!(e["type"], "response", "{e}");
        assert_eq!(e["target"], e["url"], "{e}");
        assert_eq!(e["http_status"], e["status"], "{e}");
    }
    let doc = entries
        .iter()
        .find(|e| e["url"] == feed.as_str())
        .unwrap_or_else(|| panic!("no record of {feed}: {entries:?}"));
    assert_eq!(doc["status"], "200");
    assert_eq!(doc["mime"], "text/html");
    assert!(doc["bytes"].as_u64().unwrap() > 500);
    let script = entries
        .iter()
        .find(|e| e["url"].as_str().unwrap().ends_with("/site/feed.js"))
        .unwrap_or_else(|| panic!("no record of feed.js: {entries:?}"));
    assert_eq!(script["has_needle"], true, "{script}");
    let js = std::fs::metadata(common::fixture_dir().join("feed.js"))
        .unwrap()
        .len();
    assert_eq!(script["bytes"], js, "the whole script");
    // warcinfo, then a response and a request per exchange.
    assert_eq!(records["records"], 1 + 2 * entries.len() as u64);
    // Pages: the channel's address.
    let z = std::fs::File::open(&wacz).unwrap();
    let mut z = zip::ZipArchive::new(z).unwrap();
    let mut pages = String::new();
    std::io::Read::read_to_string(&mut z.by_name("pages/pages.jsonl").unwrap(), &mut pages)
        .unwrap();
    assert!(pages.contains(&format!("\"url\":\"{feed}\"")), "{pages}");

    // A POST is indexed under its body, as replay looks it up.
    let poster = format!("http://{site}/poster");
    let r = bevara(
        d,
        &[],
        &[
            "channel",
            "add",
            "fraga",
            "--platform",
            "web",
            "--url",
            &poster,
            "--no-recording",
        ],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = bevara(
        d,
        &[ALLOW, ("BEVARA_CAPTURE_WACZ", "1")],
        &["capture", "fraga"],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let id = common::newest_snapshot(d).await;
    let got = d.join("got-post");
    let r = bevara(
        d,
        &[],
        &["snapshots", "get", &id, "--out", got.to_str().unwrap()],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let o = std::process::Command::new(venv.join("bin/python"))
        .args(["-c", READER])
        .arg(got.join("capture.wacz"))
        .arg("ECHO:q=hej")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let echo: serde_json::Value = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|e| e["url"].as_str().is_some_and(|u| u.ends_with("/echo")))
        .expect("the POST's answer is recorded");
    assert_eq!(echo["has_needle"], true, "{echo}");
    let mut z =
        zip::ZipArchive::new(std::fs::File::open(got.join("capture.wacz")).unwrap()).unwrap();
    let mut index = String::new();
    std::io::Read::read_to_string(&mut z.by_name("indexes/index.cdx").unwrap(), &mut index)
        .unwrap();
    let line = index.lines().find(|l| l.contains("/echo")).unwrap();
    // base64("q=hej") is cT1oZWo=
    assert!(
        line.starts_with(&format!(
            "127.0.0.1:{})/echo?__wb_method=post&__wb_post_data=ct1ozwo=",
            site.port()
        )),
        "{line}"
    );
    assert!(line.contains("\"method\":\"POST\""), "{line}");
    assert!(
        line.contains("\"requestBody\":\"__wb_method=post&__wb_post_data=cT1oZWo=\""),
        "{line}"
    );

    // A body cap of 0: nothing is kept, and the manifest says so.
    let (wacz, manifest) = capture_wacz(
        d,
        &[
            ALLOW,
            ("BEVARA_CAPTURE_WACZ", "1"),
            ("BEVARA_CAPTURE_WACZ_MAX_BODY_MB", "0"),
        ],
        "got2",
    )
    .await;
    assert!(wacz.is_file());
    let warned = manifest["warnings"].to_string();
    assert!(warned.contains("the WACZ lacks"), "{warned}");
    assert!(warned.contains("/site/feed.js"), "{warned}");
}
