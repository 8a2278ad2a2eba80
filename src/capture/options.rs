//! Who asked for a capture, and the choices for one beyond the settings.

use super::recording;
use crate::registry::Channel;
use std::time::Duration;

/// Who or what asked for a capture.
#[derive(Debug, Clone)]
pub struct Trigger {
    /// The job's trigger kind: `manual`, `ad-hoc`, `schedule`, `debate` or `close`.
    pub kind: String,
    pub reason: Option<String>,
    pub requested_by: Option<String>,
    /// The queue's job, when the capture runs for one.
    pub job_id: Option<String>,
    /// The schedule that fired.
    pub schedule: Option<String>,
    /// The fire time the job was enqueued for.
    pub fire_time: Option<chrono::DateTime<chrono::Utc>>,
    /// The debate the capture belongs to.
    pub debate: Option<String>,
}

impl Trigger {
    /// A capture asked for on the command line by the current OS user.
    pub fn manual(reason: Option<String>) -> Self {
        Self {
            kind: "manual".into(),
            reason,
            requested_by: Some(os_user()),
            job_id: None,
            schedule: None,
            fire_time: None,
            debate: None,
        }
    }
}

/// The name of the user running this process.
pub fn os_user() -> String {
    for var in ["USER", "LOGNAME"] {
        if let Ok(u) = std::env::var(var) {
            if !u.is_empty() {
                return u;
            }
        }
    }
    // SAFETY-free fallback: the numeric uid from /proc.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(|uid| format!("uid {uid}")))
        })
        .unwrap_or_else(|| "unknown".into())
}

/// This host's name, for the worker column of captures.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "localhost".into())
}

/// Choices for one capture beyond the settings.
#[derive(Debug, Clone)]
pub struct CaptureOptions {
    /// Make a screen recording of the pass.
    pub record: bool,
    /// Pace the pass for a viewer (recording.step_ms, recording.dwell_ms).
    /// Recording implies it; alone it lets a benchmark compare like with like.
    pub pace: bool,
}

impl CaptureOptions {
    /// Records when the settings, the channel and the caller all want it.
    pub fn for_channel(settings: &crate::Settings, channel: &Channel, no_recording: bool) -> Self {
        let record = settings.recording.enabled && channel.recording && !no_recording;
        Self {
            record,
            pace: record,
        }
    }
}

/// The recording options the settings describe, for a page of the configured viewport.
pub fn recording_options(settings: &crate::Settings) -> recording::RecordingOptions {
    let r = &settings.recording;
    recording::RecordingOptions {
        ffmpeg: r.ffmpeg_path.clone(),
        fps: r.fps,
        format: if r.format == "mkv-ffv1" {
            recording::RecordingFormat::MkvFfv1
        } else {
            recording::RecordingFormat::Mp4H264
        },
        width: settings.browser.viewport_width,
        height: settings.browser.viewport_height,
        jpeg_quality: r.jpeg_quality,
        title_seconds: r.title_seconds,
        max_duration: Duration::from_secs(r.max_duration_secs),
        ..Default::default()
    }
}

/// Checks that ffmpeg is there and can encode the configured format; run at
/// start-up when captures will record.
pub fn check_recorder(settings: &crate::Settings) -> Result<String, recording::RecordingError> {
    let opts = recording_options(settings);
    let version = recording::check_ffmpeg(&opts.ffmpeg)?;
    recording::check_encoder(&opts.ffmpeg, opts.format)?;
    Ok(version)
}
