//! `bevara bench upload`: a recording-sized file into the configured store
//! against a copy on local disk, the upload's peak memory, and `verify`'s
//! read-back throughput.

use super::{peak_rss, reset_peak_rss};
use crate::config::Settings;
use crate::store::{sha256_file, PutMeta};
use std::io::Write;
use std::time::Instant;

/// What one run measured.
#[derive(Debug, Clone)]
pub struct UploadBench {
    pub store: String,
    pub bytes: u64,
    pub copy_secs: f64,
    pub upload_secs: f64,
    pub verify_secs: f64,
    /// The process's resident memory before the upload and its peak during it.
    pub rss_before: u64,
    pub rss_peak: u64,
    pub part_mb: u64,
}

/// Writes `mb` MiB of varied bytes, copies it on disk, stores it in the
/// settings' store and reads it back through SHA-256.
pub async fn run(settings: &Settings, mb: u64) -> Result<UploadBench, String> {
    let dir = tempfile::tempdir_in(std::env::temp_dir()).map_err(|e| e.to_string())?;
    let src = dir.path().join("recording.mp4");
    {
        // Written in 1 MiB blocks so that making it costs no memory.
        let mut f =
            std::io::BufWriter::new(std::fs::File::create(&src).map_err(|e| e.to_string())?);
        let mut block = vec![0u8; 1 << 20];
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..mb {
            for b in block.iter_mut() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *b = x as u8;
            }
            f.write_all(&block).map_err(|e| e.to_string())?;
        }
        f.into_inner()
            .map_err(|e| e.to_string())?
            .sync_all()
            .map_err(|e| e.to_string())?;
    }
    let digest = sha256_file(&src).map_err(|e| e.to_string())?;

    let t = Instant::now();
    let copy = dir.path().join("copy.mp4");
    std::fs::copy(&src, &copy).map_err(|e| e.to_string())?;
    std::fs::File::open(&copy)
        .and_then(|f| f.sync_all())
        .map_err(|e| e.to_string())?;
    let copy_secs = t.elapsed().as_secs_f64();
    let _ = std::fs::remove_file(&copy);

    let store = crate::store::open(settings)
        .await
        .map_err(|e| e.to_string())?;
    let id = ulid::Ulid::new().to_string();
    let key = format!(
        "bench/{}/{id}/recording.mp4",
        chrono::Utc::now().format("%Y/%m/%d")
    );
    let meta = PutMeta {
        media_type: "video/mp4",
        sha256: &digest.sha256,
        snapshot_id: &id,
        channel: "bench",
        retention: None,
    };
    let rss_before = super::status_kb("/proc/self/status", "VmRSS:") * 1024;
    reset_peak_rss();
    let t = Instant::now();
    store
        .put_file(&key, &src, &meta)
        .await
        .map_err(|e| e.to_string())?;
    let upload_secs = t.elapsed().as_secs_f64();
    let rss_peak = peak_rss();
    let t = Instant::now();
    let back = store.digest(&key, None).await.map_err(|e| e.to_string())?;
    let verify_secs = t.elapsed().as_secs_f64();
    if back.sha256 != digest.sha256 {
        return Err(format!(
            "read back {} instead of {}",
            back.sha256, digest.sha256
        ));
    }
    let _ = store.delete(&key).await;
    Ok(UploadBench {
        store: store.describe(),
        bytes: digest.bytes,
        copy_secs,
        upload_secs,
        verify_secs,
        rss_before,
        rss_peak,
        part_mb: settings.store.multipart_part_mb,
    })
}

pub fn format(b: &UploadBench) -> String {
    let mib = b.bytes as f64 / (1024.0 * 1024.0);
    let rate = |s: f64| if s > 0.0 { mib / s } else { f64::INFINITY };
    let m = |x: u64| x as f64 / (1024.0 * 1024.0);
    format!(
        "store: {}\nfile: {mib:.0} MiB (multipart parts of {} MiB)\n\n\
         | step | seconds | MiB/s |\n|---|---|---|\n\
         | copy on local disk (with fsync) | {:.2} | {:.0} |\n\
         | upload to the store | {:.2} | {:.0} |\n\
         | verify: read back through SHA-256 | {:.2} | {:.0} |\n\n\
         upload memory: {:.1} MiB resident before, {:.1} MiB peak during (+{:.1} MiB)\n",
        b.store,
        b.part_mb,
        b.copy_secs,
        rate(b.copy_secs),
        b.upload_secs,
        rate(b.upload_secs),
        b.verify_secs,
        rate(b.verify_secs),
        m(b.rss_before),
        m(b.rss_peak),
        m(b.rss_peak.saturating_sub(b.rss_before)),
    )
}
