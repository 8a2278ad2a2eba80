//! The ffmpeg side: its command line, the process and its stderr, its CPU
//! time, and the start-up and read-back checks.

use super::grid::Shared;
use super::{RecordingError, RecordingFormat, RecordingOptions};
use std::collections::VecDeque;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;
use tokio::process::{Child, ChildStdin};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Bound on `ffmpeg -version` and `ffmpeg -encoders`.
const CHECK_BOUND: Duration = Duration::from_secs(15);
/// How much of ffmpeg's stderr is kept for error messages.
const STDERR_KEEP: usize = 8 * 1024;
/// Lines of stderr quoted in an error.
const STDERR_LINES: usize = 12;
/// Linux's USER_HZ: the unit of utime and stime in /proc/<pid>/stat.
const CLOCK_TICKS: f64 = 100.0;

/// ffmpeg's arguments (without the program) for writing `output`.
pub fn command_line(opts: &RecordingOptions, output: &Path) -> Vec<String> {
    let (w, h) = opts.video_size();
    let fps = opts.fps;
    let mut args: Vec<String> = [
        "-hide_banner",
        "-nostats",
        "-loglevel",
        "error",
        "-threads",
        "1",
        "-f",
        "matroska",
        "-i",
        "pipe:0",
        "-filter_threads",
        "1",
        "-an",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    // Frames smaller than the viewport are scaled up keeping their shape and
    // padded; the output is always exactly w×h. The fps filter comes last: it
    // repeats decoded frames onto the grid, so a repeat costs no decoding.
    let fit = format!(
        "scale={w}:{h}:force_original_aspect_ratio=decrease:flags=bilinear,\
         pad={w}:{h}:(ow-iw)/2:(oh-ih)/2:color=black,setsar=1"
    );
    let grid = format!("fps={fps}:round=near");
    let more: Vec<String> = match opts.format {
        RecordingFormat::Mp4H264 => vec![
            "-vf".into(),
            format!("{fit},format=yuv420p,{grid}"),
            "-c:v".into(),
            "libx264".into(),
            "-preset".into(),
            opts.x264_preset.clone(),
            "-crf".into(),
            opts.crf.to_string(),
            "-threads".into(),
            "1".into(),
            "-x264-params".into(),
            "threads=1:lookahead-threads=1".into(),
            "-g".into(),
            (2 * fps).to_string(),
            "-pix_fmt".into(),
            "yuv420p".into(),
            // A fragment per keyframe: a file cut off mid-way still plays.
            "-movflags".into(),
            "+frag_keyframe+empty_moov+default_base_moof".into(),
            "-f".into(),
            "mp4".into(),
        ],
        // JPEG pixels are full range: kept as they are (no range squeeze),
        // so the FFV1 frames are exactly the decoded screencast frames.
        RecordingFormat::MkvFfv1 => vec![
            "-vf".into(),
            format!(
                "{},format=yuv420p,{grid}",
                fit.replacen("flags=bilinear", "flags=bilinear:out_range=full", 1)
            ),
            "-color_range".into(),
            "pc".into(),
            "-c:v".into(),
            "ffv1".into(),
            "-level".into(),
            "3".into(),
            "-g".into(),
            "1".into(),
            "-slicecrc".into(),
            "1".into(),
            "-threads".into(),
            "1".into(),
            "-f".into(),
            "matroska".into(),
        ],
    };
    args.extend(more);
    for (k, v) in &opts.metadata {
        args.push("-metadata".into());
        args.push(format!("{k}={v}"));
    }
    args.push("-y".into());
    args.push(output.display().to_string());
    args
}

/// The encoder and its settings, for the manifest.
pub(super) fn describe(opts: &RecordingOptions) -> String {
    match opts.format {
        RecordingFormat::Mp4H264 => format!(
            "ffmpeg libx264 preset {} crf {}, 1 thread",
            opts.x264_preset, opts.crf
        ),
        RecordingFormat::MkvFfv1 => "ffmpeg ffv1 level 3, 1 thread".into(),
    }
}

/// What ffmpeg's process ended with.
#[derive(Debug, Clone)]
pub(super) struct ExitInfo {
    pub success: bool,
    pub status: String,
    pub cpu_secs: f64,
}

/// A running ffmpeg: its stdin, a monitor that notices its exit and samples
/// its CPU time, and the tail of its stderr.
pub(super) struct Encoder {
    pub pid: Option<u32>,
    stdin: Option<ChildStdin>,
    monitor: Option<JoinHandle<ExitInfo>>,
    exit: Option<ExitInfo>,
    kill: Option<oneshot::Sender<()>>,
    stderr: Arc<Mutex<VecDeque<u8>>>,
    stderr_task: Option<JoinHandle<()>>,
}

impl Encoder {
    pub fn spawn(
        opts: &RecordingOptions,
        output: &Path,
        shared: Arc<Shared>,
    ) -> Result<Encoder, RecordingError> {
        let path = opts.ffmpeg.display().to_string();
        let mut child =
            crate::browser::childenv::clean(&mut tokio::process::Command::new(&opts.ffmpeg))
                .args(command_line(opts, output))
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .kill_on_drop(true)
                .spawn()
                .map_err(|e| spawn_error(&path, e))?;
        tracing::debug!(pid = ?child.id(), args = ?command_line(opts, output), "ffmpeg started");
        let pid = child.id();
        let stdin = child.stdin.take();
        let stderr = Arc::new(Mutex::new(VecDeque::with_capacity(STDERR_KEEP)));
        let stderr_task = child.stderr.take().map(|mut pipe| {
            let keep = stderr.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                while let Ok(n) = pipe.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    let mut k = keep.lock().unwrap_or_else(|p| p.into_inner());
                    k.extend(&buf[..n]);
                    let excess = k.len().saturating_sub(STDERR_KEEP);
                    k.drain(..excess);
                }
            })
        });
        let (kill_tx, kill_rx) = oneshot::channel();
        let monitor = tokio::spawn(monitor(child, pid, kill_rx, shared));
        Ok(Encoder {
            pid,
            stdin,
            monitor: Some(monitor),
            exit: None,
            kill: Some(kill_tx),
            stderr,
            stderr_task,
        })
    }

    pub fn take_stdin(&mut self) -> Option<ChildStdin> {
        self.stdin.take()
    }

    /// Waits for ffmpeg to exit (cancel-safe: call again after a timeout).
    pub async fn wait(&mut self) -> ExitInfo {
        if let Some(exit) = &self.exit {
            return exit.clone();
        }
        let exit = match self.monitor.as_mut() {
            Some(m) => match m.await {
                Ok(exit) => exit,
                Err(e) => ExitInfo {
                    success: false,
                    status: format!("its monitor failed: {e}"),
                    cpu_secs: 0.0,
                },
            },
            None => ExitInfo {
                success: false,
                status: "not running".into(),
                cpu_secs: 0.0,
            },
        };
        self.monitor = None;
        self.exit = Some(exit.clone());
        exit
    }

    /// Kills ffmpeg (the monitor reaps it).
    pub fn kill(&mut self) {
        if let Some(k) = self.kill.take() {
            let _ = k.send(());
        }
    }

    /// The last lines ffmpeg wrote to stderr, once it has closed it (bounded).
    pub async fn stderr_tail(&mut self) -> String {
        if let Some(t) = self.stderr_task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(2), t).await;
        }
        let bytes: Vec<u8> = self
            .stderr
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .copied()
            .collect();
        tail_lines(&String::from_utf8_lossy(&bytes), STDERR_LINES)
    }
}

impl Drop for Encoder {
    fn drop(&mut self) {
        // The monitor kills ffmpeg when this sender goes away.
        self.kill();
    }
}

/// The last `n` non-empty lines of `text`, or a note that there were none.
fn tail_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    if lines.is_empty() {
        return "(nothing on stderr)".into();
    }
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Owns the child: samples its CPU time until it exits, reaps it, and kills
/// it when told to (or when the recorder is dropped).
async fn monitor(
    mut child: Child,
    pid: Option<u32>,
    mut kill: oneshot::Receiver<()>,
    shared: Arc<Shared>,
) -> ExitInfo {
    let mut cpu_secs = 0.0;
    let mut killed = false;
    loop {
        // Sampled before reaping: a zombie still shows its final CPU time.
        if let Some(cpu) = pid.and_then(cpu_secs_of) {
            cpu_secs = cpu;
        }
        match child.try_wait() {
            Ok(Some(status)) => {
                shared.exited.store(true, Ordering::SeqCst);
                return ExitInfo {
                    success: status.success() && !killed,
                    status: describe_status(status, killed),
                    cpu_secs,
                };
            }
            Ok(None) => {}
            Err(e) => {
                shared.exited.store(true, Ordering::SeqCst);
                return ExitInfo {
                    success: false,
                    status: format!("cannot wait for it: {e}"),
                    cpu_secs,
                };
            }
        }
        let poll = if shared.closing.load(Ordering::Relaxed) {
            Duration::from_millis(10)
        } else {
            Duration::from_millis(100)
        };
        tokio::select! {
            _ = tokio::time::sleep(poll) => {}
            _ = &mut kill, if !killed => {
                killed = true;
                let _ = child.start_kill();
            }
        }
    }
}

fn describe_status(status: std::process::ExitStatus, killed: bool) -> String {
    use std::os::unix::process::ExitStatusExt;
    if killed {
        return "killed by Bevara".into();
    }
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(9)) => "killed (SIGKILL)".into(),
        (None, Some(sig)) => format!("killed by signal {sig}"),
        (None, None) => "ended".into(),
    }
}

/// User + system CPU seconds of a process, from /proc/<pid>/stat.
pub(super) fn cpu_secs_of(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_cpu_secs(&stat)
}

fn parse_cpu_secs(stat: &str) -> Option<f64> {
    // The command name may hold spaces and parentheses; fields follow the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / CLOCK_TICKS)
}

fn spawn_error(path: &str, e: std::io::Error) -> RecordingError {
    match e.kind() {
        std::io::ErrorKind::NotFound => RecordingError::FfmpegNotFound { path: path.into() },
        _ => RecordingError::FfmpegUnusable {
            path: path.into(),
            reason: e.to_string(),
        },
    }
}

/// Runs a short command to its end within `bound`: (success, stdout, stderr).
fn run_bounded(
    program: &Path,
    args: &[&str],
    bound: Duration,
) -> Result<(bool, String, String), RecordingError> {
    let path = program.display().to_string();
    let mut child = crate::browser::childenv::clean_std(&mut std::process::Command::new(program))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| spawn_error(&path, e))?;
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut s = Vec::new();
            if let Some(p) = pipe {
                let _ = p.take(4 << 20).read_to_end(&mut s);
            }
            String::from_utf8_lossy(&s).into_owned()
        })
    };
    let out = drain(child.stdout.take().map(|p| Box::new(p) as _));
    let err = drain(child.stderr.take().map(|p| Box::new(p) as _));
    let deadline = Instant::now() + bound;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(RecordingError::FfmpegUnusable {
                    path,
                    reason: format!(
                        "`{} {}` did not end within {} s",
                        program.display(),
                        args.join(" "),
                        bound.as_secs()
                    ),
                });
            }
            Err(e) => {
                return Err(RecordingError::FfmpegUnusable {
                    path,
                    reason: e.to_string(),
                })
            }
        }
    };
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    Ok((status.success(), stdout, stderr))
}

/// Checks that `ffmpeg` runs and returns its version line. Call it at start-up.
pub fn check_ffmpeg(ffmpeg: &Path) -> Result<String, RecordingError> {
    let (ok, stdout, stderr) = run_bounded(ffmpeg, &["-hide_banner", "-version"], CHECK_BOUND)?;
    let line = stdout
        .lines()
        .find(|l| l.contains("version"))
        .map(|l| l.trim().to_string());
    match (ok, line) {
        (true, Some(line)) => Ok(line),
        _ => Err(RecordingError::FfmpegUnusable {
            path: ffmpeg.display().to_string(),
            reason: format!(
                "`-version` did not print a version: {}",
                tail_lines(&format!("{stdout}\n{stderr}"), 3)
            ),
        }),
    }
}

/// Checks that `ffmpeg` has the encoder `format` needs (libx264 or ffv1).
pub fn check_encoder(ffmpeg: &Path, format: RecordingFormat) -> Result<(), RecordingError> {
    let (ok, stdout, stderr) = run_bounded(ffmpeg, &["-hide_banner", "-encoders"], CHECK_BOUND)?;
    if !ok {
        return Err(RecordingError::FfmpegUnusable {
            path: ffmpeg.display().to_string(),
            reason: format!("`-encoders` failed: {}", tail_lines(&stderr, 3)),
        });
    }
    let encoder = format.encoder();
    let found = stdout
        .lines()
        .any(|l| l.split_whitespace().nth(1) == Some(encoder));
    if found {
        Ok(())
    } else {
        Err(RecordingError::EncoderMissing {
            path: ffmpeg.display().to_string(),
            encoder,
            format,
        })
    }
}

/// The ffprobe that comes with `ffmpeg`: beside it, or the bare name.
pub fn ffprobe_beside(ffmpeg: &Path) -> PathBuf {
    match ffmpeg.file_name().and_then(|n| n.to_str()) {
        Some(n) if n.starts_with("ffmpeg") => {
            ffmpeg.with_file_name(n.replacen("ffmpeg", "ffprobe", 1))
        }
        _ => PathBuf::from("ffprobe"),
    }
}

/// What ffprobe reads in a video file (its first video stream).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ProbeInfo {
    /// `mov,mp4,…` or `matroska,webm`.
    pub container: String,
    pub codec: String,
    pub pix_fmt: String,
    pub width: u32,
    pub height: u32,
    pub duration_secs: f64,
    /// Packets (frames) read from the stream.
    pub frames: u64,
}

/// Reads `file` with `ffprobe -count_packets`, within `bound`.
pub async fn probe(
    ffprobe: &Path,
    file: &Path,
    bound: Duration,
) -> Result<ProbeInfo, RecordingError> {
    let path = ffprobe.display().to_string();
    let child = crate::browser::childenv::clean(&mut tokio::process::Command::new(ffprobe))
        .args(["-v", "error", "-count_packets", "-select_streams", "v:0"])
        .args(["-show_streams", "-show_format", "-of", "json"])
        .arg(file)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| spawn_error(&path, e))?;
    let out = tokio::time::timeout(bound, child.wait_with_output())
        .await
        .map_err(|_| RecordingError::FfmpegUnusable {
            path: path.clone(),
            reason: format!(
                "ffprobe did not read {} within {} s",
                file.display(),
                bound.as_secs()
            ),
        })?
        .map_err(|e| RecordingError::FfmpegUnusable {
            path: path.clone(),
            reason: e.to_string(),
        })?;
    let bad = |reason: String| RecordingError::Verify {
        path: file.to_path_buf(),
        reason,
    };
    if !out.status.success() {
        return Err(bad(format!(
            "ffprobe cannot read it: {}",
            tail_lines(&String::from_utf8_lossy(&out.stderr), 3)
        )));
    }
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).map_err(|e| bad(format!("ffprobe's answer: {e}")))?;
    let s = v["streams"]
        .get(0)
        .ok_or_else(|| bad("no video stream".into()))?;
    let num = |v: &serde_json::Value| -> Option<f64> {
        v.as_f64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
    };
    Ok(ProbeInfo {
        container: v["format"]["format_name"].as_str().unwrap_or("").into(),
        codec: s["codec_name"].as_str().unwrap_or("").into(),
        pix_fmt: s["pix_fmt"].as_str().unwrap_or("").into(),
        width: s["width"].as_u64().unwrap_or(0) as u32,
        height: s["height"].as_u64().unwrap_or(0) as u32,
        duration_secs: num(&s["duration"])
            .or_else(|| num(&v["format"]["duration"]))
            .unwrap_or(0.0),
        frames: num(&s["nb_read_packets"]).unwrap_or(0.0) as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_is_read_from_proc_stat() {
        let stat =
            "1234 (ff (m) peg) S 1 1234 1234 0 -1 4194560 2000 0 0 0 250 50 0 0 20 0 1 0 100 0 0";
        assert_eq!(parse_cpu_secs(stat), Some(3.0));
        assert!(cpu_secs_of(std::process::id()).is_some());
    }

    #[test]
    fn mp4_command_line_is_one_thread_fragmented_and_even_sized() {
        let opts = RecordingOptions {
            width: 1281,
            metadata: vec![("title".into(), "Bevara – Sala".into())],
            ..Default::default()
        };
        let args = command_line(&opts, Path::new("/w/rec.mp4.part")).join(" ");
        for part in [
            "-f matroska -i pipe:0",
            "fps=25:round=near",
            "scale=1280:900:",
            "format=yuv420p",
            "-c:v libx264 -preset veryfast -crf 23 -threads 1",
            "-movflags +frag_keyframe+empty_moov+default_base_moof",
            "-g 50",
            "-metadata title=Bevara – Sala",
            "-f mp4 ",
        ] {
            assert!(args.contains(part), "{part} missing from {args}");
        }
        assert!(args.ends_with("-y /w/rec.mp4.part"));
        let mkv = command_line(
            &RecordingOptions {
                format: RecordingFormat::MkvFfv1,
                ..Default::default()
            },
            Path::new("x.mkv"),
        )
        .join(" ");
        assert!(mkv.contains("-c:v ffv1 -level 3"), "{mkv}");
        assert!(
            mkv.contains("out_range=full") && mkv.contains("-color_range pc"),
            "{mkv}"
        );
        assert!(mkv.contains("-f matroska"), "{mkv}");
    }

    #[test]
    fn ffprobe_is_found_beside_ffmpeg() {
        assert_eq!(
            ffprobe_beside(Path::new("ffmpeg")),
            PathBuf::from("ffprobe")
        );
        assert_eq!(
            ffprobe_beside(Path::new("/opt/ff/bin/ffmpeg")),
            PathBuf::from("/opt/ff/bin/ffprobe")
        );
        assert_eq!(
            ffprobe_beside(Path::new("/x/enc")),
            PathBuf::from("ffprobe")
        );
    }

    #[test]
    fn stderr_tail_keeps_the_last_lines() {
        assert_eq!(tail_lines("a\n\nb\nc\n", 2), "b\nc");
        assert_eq!(tail_lines("  \n", 2), "(nothing on stderr)");
    }
}
