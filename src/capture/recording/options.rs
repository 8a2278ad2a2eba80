//! What to record and how ([`RecordingOptions`], [`RecordingFormat`]), and
//! what came out ([`RecordingStats`]).

use super::RecordingError;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;

/// The container and codec of a recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum RecordingFormat {
    /// H.264 (yuv420p) in a fragmented MP4: plays everywhere, small.
    #[default]
    #[serde(rename = "mp4")]
    Mp4H264,
    /// Lossless FFV1 (level 3) in Matroska, for preservation; much larger.
    #[serde(rename = "mkv-ffv1")]
    MkvFfv1,
}

impl RecordingFormat {
    /// The name used in settings: `mp4` or `mkv-ffv1`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Mp4H264 => "mp4",
            Self::MkvFfv1 => "mkv-ffv1",
        }
    }

    /// The file extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Mp4H264 => "mp4",
            Self::MkvFfv1 => "mkv",
        }
    }

    /// The media type for the manifest.
    pub fn media_type(self) -> &'static str {
        match self {
            Self::Mp4H264 => "video/mp4",
            Self::MkvFfv1 => "video/x-matroska",
        }
    }

    /// The codec as ffprobe names it.
    pub fn codec(self) -> &'static str {
        match self {
            Self::Mp4H264 => "h264",
            Self::MkvFfv1 => "ffv1",
        }
    }

    /// The ffmpeg encoder used.
    pub fn encoder(self) -> &'static str {
        match self {
            Self::Mp4H264 => "libx264",
            Self::MkvFfv1 => "ffv1",
        }
    }
}

impl std::fmt::Display for RecordingFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for RecordingFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "mp4" => Ok(Self::Mp4H264),
            "mkv-ffv1" => Ok(Self::MkvFfv1),
            other => Err(format!(
                "unknown recording format {other:?}: use \"mp4\" or \"mkv-ffv1\""
            )),
        }
    }
}

/// How to record.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordingOptions {
    /// The ffmpeg binary (a bare name is looked up in `PATH`).
    pub ffmpeg: PathBuf,
    /// Frames per second of the output; frames are repeated or dropped onto this grid.
    pub fps: u32,
    pub format: RecordingFormat,
    /// The viewport, px; the video has this size (rounded down to even numbers).
    pub width: u32,
    pub height: u32,
    /// Quality of the screencast JPEGs Chromium sends (1–100).
    pub jpeg_quality: u8,
    /// Seconds the title card is shown at the start (0 for none).
    pub title_seconds: f64,
    /// Longest recording (after the title card); later frames are not recorded
    /// and the stats say `truncated`.
    pub max_duration: Duration,
    /// x264 preset for MP4.
    pub x264_preset: String,
    /// x264 constant rate factor for MP4 (lower is better and larger).
    pub crf: u8,
    /// Seconds ffmpeg may take to finish the file after the recording ends.
    pub finish_timeout: Duration,
    /// Seconds one frame write into ffmpeg may block before the encoder is
    /// declared stalled.
    pub write_timeout: Duration,
    /// Check the finished file with ffprobe (beside ffmpeg): codec, size, frame count.
    pub verify: bool,
    /// Container metadata (`title`, `comment`, …); see [`TitleCard::metadata`](super::TitleCard::metadata).
    pub metadata: Vec<(String, String)>,
}

impl Default for RecordingOptions {
    fn default() -> Self {
        Self {
            ffmpeg: PathBuf::from("ffmpeg"),
            fps: 25,
            format: RecordingFormat::Mp4H264,
            width: 1280,
            height: 900,
            jpeg_quality: 80,
            title_seconds: 3.0,
            max_duration: Duration::from_secs(900),
            x264_preset: "veryfast".into(),
            crf: 23,
            finish_timeout: Duration::from_secs(60),
            write_timeout: Duration::from_secs(20),
            verify: true,
            metadata: Vec::new(),
        }
    }
}

impl RecordingOptions {
    /// The video's size: the viewport rounded down to even numbers (yuv420p needs them).
    pub fn video_size(&self) -> (u32, u32) {
        (self.width & !1, self.height & !1)
    }

    /// Frames of title card at the start.
    pub fn title_frames(&self) -> u64 {
        (self.title_seconds.max(0.0) * self.fps as f64).round() as u64
    }

    pub(super) fn validate(&self) -> Result<(), RecordingError> {
        let bad = |what: String| Err(RecordingError::InvalidOptions(what));
        if !(1..=60).contains(&self.fps) {
            return bad(format!("fps must be 1–60, not {}", self.fps));
        }
        if self.width < 16 || self.height < 16 || self.width > 8192 || self.height > 8192 {
            return bad(format!(
                "the video size {}×{} must be 16–8192 px each way",
                self.width, self.height
            ));
        }
        if !(1..=100).contains(&self.jpeg_quality) {
            return bad(format!(
                "jpeg_quality must be 1–100, not {}",
                self.jpeg_quality
            ));
        }
        if !(0.0..=60.0).contains(&self.title_seconds) {
            return bad(format!(
                "title_seconds must be 0–60, not {}",
                self.title_seconds
            ));
        }
        if self.max_duration.is_zero() {
            return bad("max_duration must be more than 0".into());
        }
        if self.crf > 51 {
            return bad(format!("crf must be 0–51, not {}", self.crf));
        }
        let preset_ok = !self.x264_preset.is_empty()
            && self.x264_preset.chars().all(|c| c.is_ascii_lowercase());
        if !preset_ok {
            return bad(format!(
                "x264_preset {:?} is not a preset name",
                self.x264_preset
            ));
        }
        Ok(())
    }
}

/// What a finished recording is, for the manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordingStats {
    pub path: PathBuf,
    pub format: RecordingFormat,
    pub media_type: String,
    /// `h264` or `ffv1`.
    pub codec: String,
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    /// Frames in the file ÷ fps, title card included.
    pub duration_secs: f64,
    /// Frames in the file, title card included (constant rate: repeats count).
    pub frames_written: u64,
    /// Of those, title card frames.
    pub title_frames: u64,
    /// Screencast frames Chromium sent (each acknowledged).
    pub frames_received: u64,
    /// JPEG frames handed to ffmpeg, which repeats them onto the grid: each
    /// new screencast frame once, a still one again every half second.
    pub frames_sent: u64,
    /// Frames skipped because ffmpeg lagged and its queue was full.
    pub frames_skipped: u64,
    /// File size.
    pub bytes: u64,
    /// CPU time ffmpeg used (user + system).
    pub encoder_cpu_secs: f64,
    /// From [`Recorder::start`](super::Recorder::start) to the file being complete.
    pub wall_secs: f64,
    /// From the end of the recording ([`Recorder::stop`](super::Recorder::stop) or [`Recorder::end`](super::Recorder::end))
    /// to the file being complete: the wall time recording adds after the pass
    /// when nothing else runs meanwhile.
    pub stop_secs: f64,
    /// The most ffmpeg's reading lagged behind the wall clock, seconds.
    pub max_lag_secs: f64,
    /// The recording reached `max_duration` and the rest was not recorded.
    pub truncated: bool,
    /// ffprobe read the file back and found what was written.
    pub verified: bool,
    /// The encoder and its settings, e.g. `ffmpeg libx264 preset veryfast crf 23, 1 thread`.
    pub encoder: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_names_round_trip_through_serde() {
        for (f, s) in [
            (RecordingFormat::Mp4H264, "\"mp4\""),
            (RecordingFormat::MkvFfv1, "\"mkv-ffv1\""),
        ] {
            assert_eq!(serde_json::to_string(&f).unwrap(), s);
            assert_eq!(serde_json::from_str::<RecordingFormat>(s).unwrap(), f);
            assert_eq!(s.trim_matches('"').parse::<RecordingFormat>().unwrap(), f);
        }
        assert!("webm".parse::<RecordingFormat>().is_err());
    }

    #[test]
    fn options_are_checked() {
        let ok = RecordingOptions::default();
        assert!(ok.validate().is_ok());
        assert_eq!(ok.title_frames(), 75);
        let odd = RecordingOptions {
            width: 1279,
            height: 901,
            ..ok.clone()
        };
        assert_eq!(odd.video_size(), (1278, 900));
        for bad in [
            RecordingOptions {
                fps: 0,
                ..ok.clone()
            },
            RecordingOptions {
                jpeg_quality: 0,
                ..ok.clone()
            },
            RecordingOptions {
                width: 8,
                ..ok.clone()
            },
            RecordingOptions {
                title_seconds: -1.0,
                ..ok.clone()
            },
            RecordingOptions {
                x264_preset: "fast; rm".into(),
                ..ok.clone()
            },
        ] {
            assert!(matches!(
                bad.validate(),
                Err(RecordingError::InvalidOptions(_))
            ));
        }
    }
}
