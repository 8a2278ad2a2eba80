//! Screen recording of the behaviour pass: Chromium's screencast, encoded by
//! the system ffmpeg.
//!
//! Chromium sends JPEG frames (`Page.screencastFrame`) unevenly, about 50 a
//! second while the page moves and none while it is still. Every frame is
//! acknowledged at once, decoded from base64 and kept as "the latest frame".
//! A grid task ticks every 1/fps s and gives a frame that arrived since the
//! last tick the current slot of that fixed grid (the latest wins; a late
//! tick takes the slot it is in, so the timeline follows the wall clock).
//! ffmpeg never sees wall-clock timestamps, only slot numbers: the frames go
//! into its stdin as a small Matroska stream (MJPEG, one frame per cluster,
//! timestamp = slot / fps), and its `fps` filter repeats each decoded frame
//! until the next one's slot. A repeat therefore costs no JPEG decoding; a
//! still frame is sent again every half second so the repeats are encoded as
//! time passes. At the end the latest frame is put at the last slot, so the
//! video lasts the title card plus the wall time of the recording, at a
//! constant frame rate.
//!
//! The file starts with a title card (channel, URL, capture time, snapshot
//! id) for `title_seconds`, so it describes itself when found alone.
//!
//! ffmpeg is limited to one thread. The MP4 is H.264 yuv420p, fragmented (a
//! fragment per two-second keyframe interval), so a file cut off mid-way still
//! plays. While recording, ffmpeg writes `<out>.part`; only a recording that
//! ended well is renamed to `<out>`. An encoder that dies or stops reading
//! fails the recording and its partial file is removed. If ffmpeg falls
//! behind, up to five seconds of frames wait in a queue; beyond that, new
//! frames are skipped (the previous one shows longer) and the timeline stays
//! right.

mod encoder;
mod grid;
mod mkv;
mod options;
mod title;

pub use encoder::{check_encoder, check_ffmpeg, command_line, ffprobe_beside, probe, ProbeInfo};
pub use options::{RecordingFormat, RecordingOptions, RecordingStats};
pub use title::{render_title_card, title_card_html, TitleCard, TITLE_BACKGROUND};

use crate::browser::{cdp_error, BrowserError};
use chromiumoxide::cdp::browser_protocol::page::{
    EventScreencastFrame, StartScreencastFormat, StartScreencastParams, StopScreencastParams,
};
use chromiumoxide::Page;
use encoder::Encoder;
use grid::{Frame, Packet, Shared};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

/// Bound on each DevTools call the recorder makes.
const CDP_BOUND: Duration = Duration::from_secs(10);
/// Seconds of distinct frames the queue in front of ffmpeg can hold while the
/// encoder catches up; beyond that, frames are skipped (the previous one shows
/// longer) and the timeline stays right.
const BACKLOG_SECS: u64 = 5;

/// Why a recording failed, with what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    #[error("ffmpeg not found at {path}: install it (apt-get install ffmpeg) or set recording.ffmpeg_path (BEVARA_RECORDING_FFMPEG_PATH) to its path")]
    FfmpegNotFound { path: String },
    #[error("ffmpeg at {path} cannot be run: {reason}; install it (apt-get install ffmpeg) or set recording.ffmpeg_path (BEVARA_RECORDING_FFMPEG_PATH) to a working ffmpeg")]
    FfmpegUnusable { path: String, reason: String },
    #[error("ffmpeg at {path} has no {encoder} encoder, needed for {format} recordings: install Debian's ffmpeg (apt-get install ffmpeg) or choose another recording.format")]
    EncoderMissing {
        path: String,
        encoder: &'static str,
        format: RecordingFormat,
    },
    #[error("invalid recording options: {0}")]
    InvalidOptions(String),
    #[error("cannot write the recording {path}: {source}; check that the directory exists and has space")]
    Output {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the screen recording lost the browser: {0}")]
    Browser(#[from] BrowserError),
    #[error("the title card could not be rendered: {0}")]
    TitleCard(String),
    #[error("Chromium sent no screencast frames, so there is nothing to record; the page may not be visible")]
    NoFrames,
    #[error("the ffmpeg encoder died during the recording ({status}); the partial recording was removed. ffmpeg said: {stderr}")]
    EncoderDied { status: String, stderr: String },
    #[error("the ffmpeg encoder stopped reading frames for {secs} s and was stopped; the partial recording was removed. The machine may be overloaded: lower recording.fps. ffmpeg said: {stderr}")]
    EncoderStalled { secs: u64, stderr: String },
    #[error("ffmpeg did not finish the recording within {secs} s after it ended and was killed; the partial recording was removed. Lower recording.fps or raise the finish timeout. ffmpeg said: {stderr}")]
    EncoderTimeout { secs: u64, stderr: String },
    #[error("the recording {path} does not read back as written: {reason}; it was removed")]
    Verify { path: PathBuf, reason: String },
}

/// A recording in progress. Dropping it without [`Recorder::stop`] kills
/// ffmpeg and removes the partial file.
pub struct Recorder {
    page: Page,
    opts: RecordingOptions,
    out: PathBuf,
    part: PathBuf,
    started: Instant,
    shared: Arc<Shared>,
    encoder: Option<Encoder>,
    listener: Option<JoinHandle<()>>,
    grid: Option<JoinHandle<grid::GridEnd>>,
    writer: Option<JoinHandle<()>>,
    stop_grid: Option<oneshot::Sender<Instant>>,
    title_frames: u64,
}

impl Recorder {
    /// Starts ffmpeg and Chromium's screencast of `page`, writing to `out`
    /// (via `<out>.part`). With `title_jpeg`, the video opens with it for
    /// `opts.title_seconds`.
    pub async fn start(
        page: &Page,
        out: &Path,
        opts: RecordingOptions,
        title_jpeg: Option<Vec<u8>>,
    ) -> Result<Recorder, RecordingError> {
        opts.validate()?;
        let part = part_path(out);
        std::fs::File::create(&part).map_err(|source| RecordingError::Output {
            path: part.clone(),
            source,
        })?;
        let shared = Arc::new(Shared::default());
        let mut encoder = match Encoder::spawn(&opts, &part, shared.clone()) {
            Ok(e) => e,
            Err(e) => {
                let _ = std::fs::remove_file(&part);
                return Err(e);
            }
        };
        let stdin = encoder.take_stdin();
        let title_frames = match title_jpeg {
            Some(_) => opts.title_frames(),
            None => 0,
        };
        let capacity = (BACKLOG_SECS * opts.fps as u64).max(8) as usize;
        let (tx, rx) = mpsc::channel::<Packet>(capacity);
        let title: Option<Frame> = title_jpeg.map(Arc::new);
        if let (Some(t), true) = (&title, title_frames > 0) {
            // The queue is empty: this cannot fail.
            let _ = tx.try_send(Packet {
                slot: 0,
                frame: t.clone(),
            });
        }
        // The grid starts when the screencast does; the writer's lag figures
        // are measured from about the same instant.
        let t0 = Instant::now();
        let (w, h) = opts.video_size();
        let writer = tokio::spawn(grid::write_frames(grid::WriterParams {
            stdin,
            rx,
            header: mkv::header(w, h, opts.fps),
            bound: opts.write_timeout,
            fps: opts.fps,
            t0,
            title_slots: title_frames,
            shared: shared.clone(),
        }));

        let mut recorder = Recorder {
            page: page.clone(),
            out: out.to_path_buf(),
            part,
            started: Instant::now(),
            shared: shared.clone(),
            encoder: Some(encoder),
            listener: None,
            grid: None,
            writer: Some(writer),
            stop_grid: None,
            title_frames,
            opts,
        };
        // From here on, dropping `recorder` on an error cleans up.
        let events = tokio::time::timeout(CDP_BOUND, page.event_listener::<EventScreencastFrame>())
            .await
            .map_err(|_| BrowserError::Timeout {
                what: "Page.screencastFrame listener",
                secs: CDP_BOUND.as_secs(),
            })?
            .map_err(|e| cdp_error("Page.screencastFrame listener", e))?;
        let (latest_tx, latest_rx) = watch::channel::<Option<Frame>>(None);
        recorder.listener = Some(tokio::spawn(grid::receive_frames(
            page.clone(),
            events,
            latest_tx,
            shared.clone(),
        )));

        let o = &recorder.opts;
        let params = StartScreencastParams::builder()
            .format(StartScreencastFormat::Jpeg)
            .quality(o.jpeg_quality as i64)
            .max_width(o.width as i64)
            .max_height(o.height as i64)
            .every_nth_frame(1)
            .build();
        tokio::time::timeout(CDP_BOUND, page.execute(params))
            .await
            .map_err(|_| BrowserError::Timeout {
                what: "Page.startScreencast",
                secs: CDP_BOUND.as_secs(),
            })?
            .map_err(|e| cdp_error("Page.startScreencast", e))?;

        let (stop_tx, stop_rx) = oneshot::channel();
        let max_slots = (o.max_duration.as_secs_f64() * o.fps as f64).ceil() as u64;
        recorder.grid = Some(tokio::spawn(grid::run_grid(grid::GridParams {
            t0,
            fps: o.fps,
            title_slots: title_frames,
            max_slots,
            latest: latest_rx,
            fallback: title,
            tx,
            stop: stop_rx,
            shared,
            page: page.clone(),
        })));
        recorder.stop_grid = Some(stop_tx);
        tracing::debug!(out = %recorder.out.display(), pid = ?recorder.encoder_pid(), "recording started");
        Ok(recorder)
    }

    /// False once the encoder died or stopped taking frames.
    pub fn is_healthy(&self) -> bool {
        self.shared.healthy()
    }

    /// The ffmpeg process id (for tests and figures).
    pub fn encoder_pid(&self) -> Option<u32> {
        self.encoder.as_ref().and_then(|e| e.pid)
    }

    /// Screencast frames received so far.
    pub fn frames_received(&self) -> u64 {
        self.shared.frames_received.load(Ordering::Relaxed)
    }

    /// Where the finished recording will be.
    pub fn path(&self) -> &Path {
        &self.out
    }

    /// Ends the recording: stops the screencast, fills the grid up to now,
    /// lets ffmpeg finish the file and renames it into place. On any encoder
    /// failure the partial file is removed and an error returned.
    /// Same as `end().await.wait().await`.
    pub async fn stop(self) -> Result<RecordingStats, RecordingError> {
        self.end().await.wait().await
    }

    /// Ends the recording now (the video ends at this instant) and stops the
    /// screencast, without waiting for ffmpeg to finish the file: the caller
    /// can take screenshots meanwhile and call [`Finishing::wait`] later.
    pub async fn end(mut self) -> Finishing {
        let ended = Instant::now();
        // The grid ends at this instant, whatever the rest costs.
        if let Some(stop) = self.stop_grid.take() {
            let _ = stop.send(ended);
        }
        match tokio::time::timeout(
            CDP_BOUND,
            self.page.execute(StopScreencastParams::default()),
        )
        .await
        {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "Page.stopScreencast failed"),
            Err(_) => tracing::warn!("Page.stopScreencast did not answer"),
        }
        if let Some(l) = self.listener.take() {
            l.abort();
        }
        Finishing {
            recorder: self,
            ended,
        }
    }

    async fn finish(&mut self, stop_started: Instant) -> Result<RecordingStats, RecordingError> {
        let bound = self.opts.finish_timeout;
        let deadline = tokio::time::Instant::now() + bound;
        let grid_end = match self.grid.take() {
            Some(g) => match tokio::time::timeout_at(deadline, g).await {
                Ok(Ok(end)) => Some(end),
                Ok(Err(_)) => None,
                Err(_) => return Err(self.timed_out(bound).await),
            },
            None => None,
        };
        self.shared.closing.store(true, Ordering::SeqCst);
        if let Some(w) = self.writer.take() {
            if tokio::time::timeout_at(deadline, w).await.is_err() {
                return Err(self.timed_out(bound).await);
            }
        }
        tracing::debug!(
            secs = stop_started.elapsed().as_secs_f64(),
            "the last frame went into ffmpeg"
        );
        let mut encoder = self
            .encoder
            .take()
            .expect("the encoder is there until stop");
        let exit = match tokio::time::timeout_at(deadline, encoder.wait()).await {
            Ok(exit) => exit,
            Err(_) => {
                self.encoder = Some(encoder);
                return Err(self.timed_out(bound).await);
            }
        };
        tracing::debug!(
            secs = stop_started.elapsed().as_secs_f64(),
            "ffmpeg finished"
        );
        let stderr = encoder.stderr_tail().await;
        if let Some(secs) = self.shared.stalled_secs() {
            return Err(RecordingError::EncoderStalled { secs, stderr });
        }
        let died_early = self.shared.died();
        if !exit.success || died_early {
            return Err(RecordingError::EncoderDied {
                status: exit.status,
                stderr,
            });
        }
        let grid_end = grid_end.unwrap_or_default();
        if grid_end.writer_gone {
            return Err(RecordingError::EncoderDied {
                status: exit.status,
                stderr,
            });
        }
        if grid_end.no_frames {
            return Err(RecordingError::NoFrames);
        }
        std::fs::rename(&self.part, &self.out).map_err(|source| RecordingError::Output {
            path: self.out.clone(),
            source,
        })?;
        let bytes = std::fs::metadata(&self.out)
            .map_err(|source| RecordingError::Output {
                path: self.out.clone(),
                source,
            })?
            .len();
        let (width, height) = self.opts.video_size();
        let frames_written = grid_end.total_slots;
        let fps = self.opts.fps;
        let mut verified = false;
        if self.opts.verify {
            verified = self.verify(frames_written).await?;
            tracing::debug!(
                secs = stop_started.elapsed().as_secs_f64(),
                "ffprobe checked the file"
            );
        }
        let stats = RecordingStats {
            path: self.out.clone(),
            format: self.opts.format,
            media_type: self.opts.format.media_type().into(),
            codec: self.opts.format.codec().into(),
            width,
            height,
            fps,
            duration_secs: frames_written as f64 / fps as f64,
            frames_written,
            title_frames: self.title_frames.min(frames_written),
            frames_received: self.shared.frames_received.load(Ordering::SeqCst),
            frames_sent: self.shared.frames_sent.load(Ordering::SeqCst),
            frames_skipped: self.shared.frames_skipped.load(Ordering::SeqCst),
            bytes,
            encoder_cpu_secs: exit.cpu_secs,
            wall_secs: self.started.elapsed().as_secs_f64(),
            stop_secs: stop_started.elapsed().as_secs_f64(),
            max_lag_secs: self.shared.max_lag_ms.load(Ordering::Relaxed) as f64 / 1000.0,
            truncated: grid_end.truncated,
            verified,
            encoder: encoder::describe(&self.opts),
        };
        tracing::debug!(?stats, "recording finished");
        Ok(stats)
    }

    /// Reads the file back with ffprobe. A missing ffprobe is a warning, not a failure.
    async fn verify(&self, frames_written: u64) -> Result<bool, RecordingError> {
        let ffprobe = ffprobe_beside(&self.opts.ffmpeg);
        let info = match probe(&ffprobe, &self.out, Duration::from_secs(30)).await {
            Ok(info) => info,
            Err(
                e @ (RecordingError::FfmpegNotFound { .. } | RecordingError::FfmpegUnusable { .. }),
            ) => {
                tracing::warn!(error = %e, "cannot check the recording with ffprobe");
                return Ok(false);
            }
            Err(e) => {
                return Err(RecordingError::Verify {
                    path: self.out.clone(),
                    reason: e.to_string(),
                })
            }
        };
        let (w, h) = self.opts.video_size();
        let codec = self.opts.format.codec();
        let mut wrong = Vec::new();
        if info.codec != codec {
            wrong.push(format!("codec {} instead of {codec}", info.codec));
        }
        if (info.width, info.height) != (w, h) {
            wrong.push(format!(
                "{}×{} px instead of {w}×{h}",
                info.width, info.height
            ));
        }
        if info.frames.abs_diff(frames_written) > 1 {
            wrong.push(format!(
                "{} frames instead of {frames_written}",
                info.frames
            ));
        }
        if wrong.is_empty() {
            Ok(true)
        } else {
            Err(RecordingError::Verify {
                path: self.out.clone(),
                reason: wrong.join(", "),
            })
        }
    }

    async fn timed_out(&mut self, bound: Duration) -> RecordingError {
        if let Some(g) = self.grid.take() {
            g.abort();
        }
        if let Some(w) = self.writer.take() {
            w.abort();
        }
        let stderr = match self.encoder.take() {
            Some(mut e) => {
                e.kill();
                let _ = tokio::time::timeout(Duration::from_secs(5), e.wait()).await;
                e.stderr_tail().await
            }
            None => String::new(),
        };
        RecordingError::EncoderTimeout {
            secs: bound.as_secs(),
            stderr,
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        let unfinished = self.encoder.is_some() || self.grid.is_some();
        for task in [self.listener.take(), self.writer.take()]
            .into_iter()
            .flatten()
        {
            task.abort();
        }
        if let Some(g) = self.grid.take() {
            g.abort();
        }
        if let Some(mut e) = self.encoder.take() {
            e.kill();
        }
        if unfinished {
            let _ = std::fs::remove_file(&self.part);
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                let page = self.page.clone();
                rt.spawn(async move {
                    let _ = tokio::time::timeout(
                        CDP_BOUND,
                        page.execute(StopScreencastParams::default()),
                    )
                    .await;
                });
            }
        }
    }
}

/// A recording that has ended; ffmpeg is finishing the file. Dropping it
/// without [`Finishing::wait`] kills ffmpeg and removes the partial file.
pub struct Finishing {
    recorder: Recorder,
    ended: Instant,
}

impl Finishing {
    /// Waits (bounded by `finish_timeout`) for ffmpeg to finish the file,
    /// checks it and renames it into place. On any encoder failure the
    /// partial file is removed and an error returned.
    pub async fn wait(mut self) -> Result<RecordingStats, RecordingError> {
        let result = self.recorder.finish(self.ended).await;
        if result.is_err() {
            let _ = std::fs::remove_file(&self.recorder.part);
            let _ = std::fs::remove_file(&self.recorder.out);
        }
        result
    }

    /// False once the encoder died or stopped taking frames.
    pub fn is_healthy(&self) -> bool {
        self.recorder.is_healthy()
    }
}

/// `<out>.part`, where ffmpeg writes until the recording is complete.
pub fn part_path(out: &Path) -> PathBuf {
    let mut name = out.file_name().unwrap_or_default().to_os_string();
    name.push(".part");
    out.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorder_and_its_futures_can_move_between_threads() {
        fn is_send<T: Send>(_: &T) {}
        fn check(page: &Page, a: Recorder, b: Recorder, f: Finishing) {
            is_send(&Recorder::start(
                page,
                Path::new("x.mp4"),
                RecordingOptions::default(),
                None,
            ));
            is_send(&a.stop());
            is_send(&b.end());
            is_send(&f.wait());
        }
        let _ = check;
    }

    #[test]
    fn part_file_sits_beside_the_output() {
        assert_eq!(
            part_path(Path::new("/w/recording.mp4")),
            PathBuf::from("/w/recording.mp4.part")
        );
    }
}
