//! The three tasks between Chromium and ffmpeg: the frame receiver (ack and
//! keep the latest frame), the grid (each new frame gets the 1/fps slot it is
//! shown at) and the writer (frames with their slots into ffmpeg's stdin,
//! each write bounded).

use chromiumoxide::cdp::browser_protocol::page::{
    EventScreencastFrame, ScreencastFrameAckParams, StopScreencastParams,
};
use chromiumoxide::listeners::EventStream;
use chromiumoxide::Page;
use futures::StreamExt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::process::ChildStdin;
use tokio::sync::{mpsc, oneshot, watch};

/// One JPEG frame, shared by every slot that repeats it.
pub(super) type Frame = Arc<Vec<u8>>;

/// Counters and health, shared by the tasks and the recorder.
#[derive(Default)]
pub(super) struct Shared {
    pub frames_received: AtomicU64,
    /// Frames written into ffmpeg: each new frame once, a still one every half second.
    pub frames_sent: AtomicU64,
    /// Frames skipped because ffmpeg lagged and the queue was full.
    pub frames_skipped: AtomicU64,
    /// How far (ms) ffmpeg's reading lagged behind the grid at most.
    pub max_lag_ms: AtomicU64,
    /// The recorder is closing ffmpeg's stdin: an exit now is expected.
    pub closing: AtomicBool,
    /// ffmpeg has exited (set by the encoder's monitor).
    pub exited: AtomicBool,
    failure: Mutex<Option<Failure>>,
}

#[derive(Debug, Clone)]
enum Failure {
    /// A write into ffmpeg failed: it is gone.
    WriteFailed,
    /// A write blocked for this many seconds.
    Stalled(u64),
}

impl Shared {
    fn fail(&self, f: Failure) {
        let mut slot = self.failure.lock().unwrap_or_else(|p| p.into_inner());
        slot.get_or_insert(f);
    }

    fn failure(&self) -> Option<Failure> {
        self.failure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// ffmpeg exited or a write failed before the recorder closed it.
    pub fn died(&self) -> bool {
        matches!(self.failure(), Some(Failure::WriteFailed))
            || (self.exited.load(Ordering::SeqCst) && !self.closing.load(Ordering::SeqCst))
    }

    pub fn stalled_secs(&self) -> Option<u64> {
        match self.failure() {
            Some(Failure::Stalled(s)) => Some(s),
            _ => None,
        }
    }

    pub fn healthy(&self) -> bool {
        self.failure().is_none() && !self.died()
    }
}

/// Acknowledges every screencast frame and keeps the latest one.
pub(super) async fn receive_frames(
    page: Page,
    mut events: EventStream<EventScreencastFrame>,
    latest: watch::Sender<Option<Frame>>,
    shared: Arc<Shared>,
) {
    use base64::Engine as _;
    while let Some(ev) = events.next().await {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(AsRef::<str>::as_ref(&ev.data).as_bytes());
        let ack = ScreencastFrameAckParams::new(ev.session_id);
        drop(ev);
        match decoded {
            Ok(jpeg) => {
                latest.send_replace(Some(Arc::new(jpeg)));
                shared.frames_received.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => tracing::warn!(error = %e, "undecodable screencast frame"),
        }
        // Chromium sends no more frames while too many are unacknowledged.
        match tokio::time::timeout(Duration::from_secs(5), page.execute(ack)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::debug!(error = %e, "screencast frame ack failed"),
            Err(_) => tracing::debug!("screencast frame ack did not answer"),
        }
    }
}

/// One distinct frame and the grid slot (title card included) it starts at.
pub(super) struct Packet {
    pub slot: u64,
    pub frame: Frame,
}

pub(super) struct GridParams {
    /// Page slot 0 is due at `t0`, slot k at `t0 + k/fps`.
    pub t0: Instant,
    pub fps: u32,
    /// Slots of title card before page slot 0 (the card itself was queued at slot 0).
    pub title_slots: u64,
    /// Page slots allowed (max_duration × fps).
    pub max_slots: u64,
    pub latest: watch::Receiver<Option<Frame>>,
    /// Shown to the end if no screencast frame ever comes (the title card).
    pub fallback: Option<Frame>,
    pub tx: mpsc::Sender<Packet>,
    /// The instant the recording ends.
    pub stop: oneshot::Receiver<Instant>,
    pub shared: Arc<Shared>,
    pub page: Page,
}

/// How the grid ended.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct GridEnd {
    /// Frames the file holds: title card slots plus page slots.
    pub total_slots: u64,
    pub truncated: bool,
    /// Nothing at all to show: no screencast frame and no title card.
    pub no_frames: bool,
    /// The encoder went away before the end.
    pub writer_gone: bool,
}

/// Slots due by `at`: the count of k with `t0 + k/fps <= at`.
pub(super) fn slots_due(t0: Instant, at: Instant, fps: u32) -> u64 {
    (at.saturating_duration_since(t0).as_secs_f64() * fps as f64).floor() as u64 + 1
}

/// Slots of a recording that ends at `at`: its wall time × fps, rounded.
pub(super) fn slots_at_end(t0: Instant, at: Instant, fps: u32) -> u64 {
    (at.saturating_duration_since(t0).as_secs_f64() * fps as f64).round() as u64
}

/// Maps screencast frames onto the grid. On every tick, a frame that arrived
/// since the last one sent is queued at the current slot; ffmpeg's `fps`
/// filter repeats each frame until the next one's slot (a still frame is sent
/// again every half second). Several frames within
/// one slot: the latest wins. The first frame is put at slot 0. At the end the
/// latest frame is queued again at the last slot, so the file lasts exactly
/// the title card plus the wall time of the recording. When ffmpeg lags and the
/// queue is full, a frame is skipped (the previous one shows a little longer);
/// the timeline never drifts.
pub(super) async fn run_grid(p: GridParams) -> GridEnd {
    let GridParams {
        t0,
        fps,
        title_slots,
        max_slots,
        latest,
        fallback,
        tx,
        mut stop,
        shared,
        page,
    } = p;
    let period = Duration::from_secs_f64(1.0 / fps as f64);
    let mut ticks = tokio::time::interval_at(t0.into(), period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let refresh_slots = (fps as u64 / 2).max(1);
    let mut last_sent: Option<Frame> = None;
    let mut last_skipped: Option<Frame> = None;
    // Page slot of the last frame queued.
    let mut last_slot: Option<u64> = None;
    let mut end = GridEnd::default();
    let end_slots = loop {
        let stop_at = tokio::select! {
            biased;
            at = &mut stop => Some(at.unwrap_or_else(|_| Instant::now())),
            _ = ticks.tick() => None,
        };
        if let Some(at) = stop_at {
            break slots_at_end(t0, at, fps)
                .max(last_slot.map_or(0, |s| s + 1))
                .min(max_slots);
        }
        let slot = slots_due(t0, Instant::now(), fps) - 1;
        if slot >= max_slots {
            end.truncated = true;
            // ffmpeg will finish on its own now; that is no failure.
            shared.closing.store(true, Ordering::SeqCst);
            tracing::warn!(
                secs = max_slots / fps as u64,
                "the recording reached its maximum duration; the rest of the pass is not recorded"
            );
            let _ = tokio::time::timeout(
                Duration::from_secs(10),
                page.execute(StopScreencastParams::default()),
            )
            .await;
            break max_slots;
        }
        let Some(frame) = latest.borrow().clone() else {
            continue;
        };
        let same = last_sent.as_ref().is_some_and(|l| Arc::ptr_eq(l, &frame));
        // ffmpeg's fps filter repeats a frame only once the next one arrives:
        // on a still page the frame is sent again every half second, so the
        // repeats are encoded as time passes, not all when the page moves or
        // the recording ends.
        if same && last_slot.is_none_or(|s| slot < s + refresh_slots) {
            continue;
        }
        let slot = match last_slot {
            None => 0,
            Some(s) if slot > s => slot,
            Some(_) => continue, // this slot is taken; the frame goes in the next
        };
        let packet = Packet {
            slot: title_slots + slot,
            frame: frame.clone(),
        };
        match tx.try_send(packet) {
            Ok(()) => {
                last_sent = Some(frame);
                last_slot = Some(slot);
            }
            Err(mpsc::error::TrySendError::Full(_)) => {
                // Counted once per frame; a newer one may supersede it.
                if !same
                    && !last_skipped
                        .as_ref()
                        .is_some_and(|l| Arc::ptr_eq(l, &frame))
                {
                    shared.frames_skipped.fetch_add(1, Ordering::Relaxed);
                    last_skipped = Some(frame);
                }
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                end.writer_gone = true;
                return end;
            }
        }
    };
    // The last slot gets the latest frame, so the file runs to the end.
    let total = (title_slots + end_slots).max(1);
    end.total_slots = total;
    let final_slot = total - 1;
    let frame = latest.borrow().clone().or(fallback);
    let Some(frame) = frame else {
        end.no_frames = true;
        return end;
    };
    if last_sent.is_none() && title_slots > 0 {
        tracing::warn!(
            "Chromium sent no screencast frames; the recording shows only the title card"
        );
    }
    let already = last_slot.map(|s| s + title_slots) == Some(final_slot)
        && last_sent.as_ref().is_some_and(|l| Arc::ptr_eq(l, &frame));
    let title_only = last_sent.is_none() && title_slots > 0 && final_slot == 0;
    if !already && !title_only {
        let packet = Packet {
            slot: final_slot,
            frame,
        };
        if tx.send(packet).await.is_err() {
            end.writer_gone = true;
        }
    }
    end
}

pub(super) struct WriterParams {
    pub stdin: Option<ChildStdin>,
    pub rx: mpsc::Receiver<Packet>,
    /// The Matroska stream header, written first.
    pub header: Vec<u8>,
    /// Bound on one write.
    pub bound: Duration,
    pub fps: u32,
    /// Page slot 0, for the lag figure.
    pub t0: Instant,
    pub title_slots: u64,
    pub shared: Arc<Shared>,
}

/// Writes the Matroska header, then each queued frame as a cluster at its
/// slot, into ffmpeg's stdin, each write bounded; closes stdin when the queue
/// ends. A failed or stalled write marks the encoder failed.
pub(super) async fn write_frames(p: WriterParams) {
    let WriterParams {
        stdin,
        mut rx,
        header,
        bound,
        fps,
        t0,
        title_slots,
        shared,
    } = p;
    let Some(mut stdin) = stdin else {
        shared.fail(Failure::WriteFailed);
        return;
    };
    let fail = |e: Option<std::io::Error>| match e {
        Some(e) => {
            tracing::warn!(error = %e, "ffmpeg no longer takes frames");
            shared.fail(Failure::WriteFailed);
        }
        None => {
            tracing::warn!(secs = bound.as_secs(), "ffmpeg stopped reading frames");
            shared.fail(Failure::Stalled(bound.as_secs()));
        }
    };
    match tokio::time::timeout(bound, stdin.write_all(&header)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return fail(Some(e)),
        Err(_) => return fail(None),
    }
    while let Some(p) = rx.recv().await {
        let head = super::mkv::cluster_head(p.slot, fps, p.frame.len());
        let write = async {
            stdin.write_all(&head).await?;
            stdin.write_all(&p.frame).await
        };
        match tokio::time::timeout(bound, write).await {
            Ok(Ok(())) => {
                shared.frames_sent.fetch_add(1, Ordering::SeqCst);
                if p.slot >= title_slots {
                    let due = (p.slot - title_slots) as f64 / fps as f64;
                    let lag = t0.elapsed().as_secs_f64() - due;
                    shared
                        .max_lag_ms
                        .fetch_max((lag.max(0.0) * 1000.0) as u64, Ordering::Relaxed);
                }
            }
            Ok(Err(e)) => return fail(Some(e)),
            Err(_) => return fail(None),
        }
    }
    // A clean end of input lets ffmpeg finish the file.
    if let Ok(Err(e)) = tokio::time::timeout(bound, stdin.shutdown()).await {
        tracing::debug!(error = %e, "closing ffmpeg's input");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_follow_the_wall_clock() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        assert_eq!(slots_due(t0, t0, 25), 1);
        assert_eq!(slots_due(t0, at(39), 25), 1);
        assert_eq!(slots_due(t0, at(40), 25), 2);
        assert_eq!(slots_due(t0, at(1000), 25), 26);
        assert_eq!(slots_at_end(t0, at(1000), 25), 25);
        assert_eq!(slots_at_end(t0, at(1019), 25), 25);
        assert_eq!(slots_at_end(t0, at(1021), 25), 26);
        assert_eq!(slots_at_end(t0, at(10_000), 15), 150);
    }
}
