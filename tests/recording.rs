//! Screen recording with Debian's Chromium and the system ffmpeg, against
//! pages served on 127.0.0.1.

mod common;

use axum::response::Html;
use axum::routing::get;
use axum::Router;
use bevara::browser::{eval, Browser, BrowserContext};
use bevara::capture::recording::{
    check_encoder, check_ffmpeg, part_path, probe, render_title_card, Recorder, RecordingError,
    RecordingFormat, RecordingOptions, TitleCard, TITLE_BACKGROUND,
};
use std::path::Path;
use std::time::{Duration, Instant};

/// Four viewport-high sections of big distinct colours, each with a word.
const COLOURS: &str = r#"<!doctype html><meta charset=utf-8><title>Färger</title>
<style>body{margin:0}section{height:900px;display:flex;align-items:center;justify-content:center;
font:bold 140px sans-serif;color:#fff}</style>
<section style="background:rgb(220,30,30)">RÖD</section>
<section style="background:rgb(30,160,60)">GRÖN</section>
<section style="background:rgb(20,60,220)">BLÅ</section>
<section style="background:rgb(200,0,200)">LILA</section>"#;

const RED: [u8; 3] = [220, 30, 30];
const PURPLE: [u8; 3] = [200, 0, 200];

/// A long feed-like page: posts with text, avatars and pictures, for the benchmark.
fn feed_like_page() -> String {
    let words = "kommunen informerar om vägarbete skolan biblioteket öppettider \
                 fotboll simhallen bygglov parkering återvinning kulturhuset";
    let words: Vec<&str> = words.split_whitespace().collect();
    let mut body = String::new();
    for i in 0..300usize {
        let hue = (i * 47) % 360;
        let text: Vec<&str> = (0..40 + i % 30)
            .map(|k| words[(i * 7 + k * 3) % words.len()])
            .collect();
        body.push_str(&format!(
            "<article><header><i style=\"background:hsl({hue},60%,45%)\"></i><b>Användare {i}</b> \
             <small>{} min sedan</small></header><p>{}</p>\
             <div class=pic style=\"background:linear-gradient({}deg,hsl({hue},70%,60%),hsl({},70%,30%))\">Bild {i}</div>\
             <footer>Gilla · Svara · Dela · {} kommentarer</footer></article>",
            i * 3 + 1,
            text.join(" "),
            i * 13 % 360,
            (hue + 120) % 360,
            i % 17
        ));
    }
    format!(
        "<!doctype html><meta charset=utf-8><title>Flöde</title><style>\
         body{{margin:0;background:#f0f2f5;font:16px sans-serif}}\
         article{{background:#fff;width:680px;margin:16px auto;padding:12px 16px;border-radius:8px;box-shadow:0 1px 3px #0003}}\
         header i{{display:inline-block;width:40px;height:40px;border-radius:50%;vertical-align:middle;margin-right:8px}}\
         .pic{{height:360px;border-radius:6px;color:#fff;font:bold 48px sans-serif;display:flex;align-items:center;justify-content:center}}\
         footer{{color:#65676b;margin-top:8px}}</style>{body}"
    )
}

async fn serve() -> std::net::SocketAddr {
    let router = Router::new()
        .route("/colours", get(|| async { Html(COLOURS) }))
        .route("/feed-like", get(|| async { Html(feed_like_page()) }))
        .merge(common::fixture_router());
    let (addr, _task) = bevara::demo::serve(router).await.unwrap();
    addr
}

async fn browser() -> (Browser, BrowserContext) {
    let browser = Browser::launch(&bevara::Settings::default().browser)
        .await
        .expect("Chromium starts");
    let ctx = browser.new_context().await.unwrap();
    (browser, ctx)
}

fn card(url: &str) -> TitleCard {
    TitleCard {
        channel: "Sala kommun <b>&</b> (sala-fb)".into(),
        url: url.into(),
        captured_at: chrono::Utc::now(),
        snapshot_id: "01M81GD0D3ZBMKAT28878NZ41B".into(),
    }
}

/// One frame of `video` at `secs`, as RGB.
fn frame_at(video: &Path, secs: f64, dir: &Path) -> image::RgbImage {
    image::open(common::frame_png(video, secs, dir))
        .unwrap()
        .to_rgb8()
}

fn assert_colour(img: &image::RgbImage, x: u32, y: u32, want: [u8; 3], what: &str) {
    let got = img.get_pixel(x, y).0;
    let close = got.iter().zip(want).all(|(g, w)| g.abs_diff(w) <= 30);
    assert!(
        close,
        "{what}: pixel ({x},{y}) is {got:?}, expected about {want:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mp4_recording_opens_with_the_title_card_and_follows_the_scroll() {
    let addr = serve().await;
    let dir = tempfile::tempdir().unwrap();
    let (browser, ctx) = browser().await;
    let page = &ctx.page;
    let url = format!("http://{addr}/colours");
    let card = card(&url);
    let title = render_title_card(page, &card, 1280, 900).await.unwrap();
    // The card's text is shown literally, not interpreted as HTML.
    let text: String = eval(page, "document.body.innerText", Duration::from_secs(5))
        .await
        .unwrap();
    assert!(text.contains("Sala kommun <b>&</b> (sala-fb)"), "{text}");
    assert!(text.contains("01M81GD0D3ZBMKAT28878NZ41B"), "{text}");
    page.goto(&url).await.unwrap();

    let out = dir.path().join("recording.mp4");
    let opts = RecordingOptions {
        title_seconds: 2.0,
        metadata: card.metadata(),
        ..Default::default()
    };
    let fps = opts.fps;
    let t0 = Instant::now();
    let recorder = Recorder::start(page, &out, opts, Some(title))
        .await
        .unwrap();
    assert!(part_path(&out).exists() && !out.exists());
    tokio::time::sleep(Duration::from_millis(300)).await;
    for _ in 0..30 {
        let _: f64 = eval(
            page,
            "window.scrollBy(0, 90), scrollY",
            Duration::from_secs(5),
        )
        .await
        .unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(recorder.is_healthy());
    let pass = t0.elapsed().as_secs_f64();
    let stats = recorder.stop().await.unwrap();
    println!("{stats:#?}");

    assert!(out.exists() && !part_path(&out).exists());
    assert_eq!(stats.codec, "h264");
    assert!(stats.verified);
    assert_eq!(stats.title_frames, 50);
    assert!(stats.frames_received > 10, "{stats:?}");
    assert!(stats.encoder_cpu_secs > 0.0, "{stats:?}");
    let info = probe(Path::new("ffprobe"), &out, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(info.codec, "h264");
    assert_eq!(info.pix_fmt, "yuv420p");
    assert_eq!((info.width, info.height), (1280, 900));
    let expected = 2.0 + pass;
    assert!(
        (info.duration_secs - expected).abs() <= 1.0,
        "duration {} s, expected {expected:.2} s (title 2 s + {pass:.2} s)",
        info.duration_secs
    );
    let frames_expected = info.duration_secs * fps as f64;
    assert!(
        (info.frames as f64 - frames_expected).abs() <= 2.0,
        "{} frames for {} s at {fps} fps",
        info.frames,
        info.duration_secs
    );
    assert_eq!(info.frames, stats.frames_written);

    let title_frame = frame_at(&out, 1.0, dir.path());
    let (r, g, b) = TITLE_BACKGROUND;
    assert_colour(&title_frame, 20, 880, [r, g, b], "title card at 1 s");
    assert_colour(&title_frame, 1260, 20, [r, g, b], "title card at 1 s");
    let first = frame_at(&out, 2.15, dir.path());
    assert_colour(&first, 40, 40, RED, "top of the page just after the card");
    let last = frame_at(&out, info.duration_secs - 0.3, dir.path());
    assert_colour(&last, 40, 450, PURPLE, "bottom of the page at the end");
    assert_colour(&last, 1240, 860, PURPLE, "bottom of the page at the end");

    browser.dispose(ctx).await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ffv1_recording_is_lossless_matroska() {
    let addr = serve().await;
    let dir = tempfile::tempdir().unwrap();
    let (browser, ctx) = browser().await;
    let page = &ctx.page;
    let url = format!("http://{addr}/colours");
    let title = render_title_card(page, &card(&url), 1280, 900)
        .await
        .unwrap();
    page.goto(&url).await.unwrap();
    let out = dir.path().join("recording.mkv");
    let opts = RecordingOptions {
        format: RecordingFormat::MkvFfv1,
        title_seconds: 1.0,
        ..Default::default()
    };
    let recorder = Recorder::start(page, &out, opts, Some(title))
        .await
        .unwrap();
    for _ in 0..10 {
        let _: f64 = eval(
            page,
            "window.scrollBy(0, 300), scrollY",
            Duration::from_secs(5),
        )
        .await
        .unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Time for the last scroll to reach the screencast.
    tokio::time::sleep(Duration::from_millis(600)).await;
    // end() stops the video now; ffmpeg finishes while other work could run.
    let finishing = recorder.end().await;
    assert!(finishing.is_healthy());
    let stats = finishing.wait().await.unwrap();
    assert_eq!(stats.codec, "ffv1");
    assert_eq!(stats.media_type, "video/x-matroska");
    let info = probe(Path::new("ffprobe"), &out, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(info.codec, "ffv1");
    assert_eq!(info.pix_fmt, "yuv420p");
    assert!(info.container.contains("matroska"), "{info:?}");
    assert_eq!((info.width, info.height), (1280, 900));
    assert_eq!(info.frames, stats.frames_written);
    assert!(stats.duration_secs > 1.5, "{stats:?}");
    let last = frame_at(&out, stats.duration_secs - 0.2, dir.path());
    assert_colour(&last, 40, 450, PURPLE, "bottom of the page at the end");
    browser.dispose(ctx).await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encoder_that_dies_fails_the_recording_and_leaves_no_file() {
    let addr = serve().await;
    let dir = tempfile::tempdir().unwrap();
    let (browser, ctx) = browser().await;
    let page = &ctx.page;
    page.goto(format!("http://{addr}/colours")).await.unwrap();
    let scroll = "window.scrollBy(0, 200), scrollY";

    // ffmpeg killed in the middle.
    let out = dir.path().join("killed.mp4");
    let recorder = Recorder::start(page, &out, RecordingOptions::default(), None)
        .await
        .unwrap();
    let _: f64 = eval(page, scroll, Duration::from_secs(5)).await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(recorder.is_healthy());
    let pid = recorder.encoder_pid().unwrap();
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(3);
    while recorder.is_healthy() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!recorder.is_healthy(), "the recorder did not notice");
    let err = recorder.stop().await.unwrap_err();
    assert!(matches!(err, RecordingError::EncoderDied { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("encoder died") && msg.contains("removed"),
        "{msg}"
    );
    assert!(msg.contains("SIGKILL"), "{msg}");
    assert!(!out.exists() && !part_path(&out).exists());

    // An "ffmpeg" that complains and exits after a second: its stderr is in the error.
    let fake = dir.path().join("ffmpeg");
    std::fs::write(
        &fake,
        "#!/bin/sh\necho 'simulated encoder failure' >&2\nsleep 1\nexit 3\n",
    )
    .unwrap();
    std::process::Command::new("chmod")
        .arg("+x")
        .arg(&fake)
        .status()
        .unwrap();
    let out = dir.path().join("fake.mp4");
    let opts = RecordingOptions {
        ffmpeg: fake,
        ..Default::default()
    };
    let recorder = Recorder::start(page, &out, opts, None).await.unwrap();
    for _ in 0..15 {
        let _: f64 = eval(page, scroll, Duration::from_secs(5)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!recorder.is_healthy());
    let err = recorder.stop().await.unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("exit code 3") && msg.contains("simulated encoder failure"),
        "{msg}"
    );
    assert!(!out.exists() && !part_path(&out).exists());
    browser.dispose(ctx).await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recording_without_title_stops_at_max_duration() {
    let addr = serve().await;
    let dir = tempfile::tempdir().unwrap();
    let (browser, ctx) = browser().await;
    let page = &ctx.page;
    page.goto(format!("http://{addr}/colours")).await.unwrap();
    let out = dir.path().join("short.mp4");
    let opts = RecordingOptions {
        max_duration: Duration::from_secs(1),
        ..Default::default()
    };
    let recorder = Recorder::start(page, &out, opts, None).await.unwrap();
    for _ in 0..20 {
        let _: f64 = eval(
            page,
            "window.scrollBy(0, 150), scrollY",
            Duration::from_secs(5),
        )
        .await
        .unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Reaching max_duration ends the video but is no failure.
    assert!(recorder.is_healthy());
    let stats = recorder.stop().await.unwrap();
    assert!(stats.truncated, "{stats:?}");
    assert_eq!(stats.title_frames, 0);
    assert_eq!(stats.frames_written, 25, "{stats:?}");
    let info = probe(Path::new("ffprobe"), &out, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(info.frames, 25);
    assert!((info.duration_secs - 1.0).abs() < 0.1, "{info:?}");
    // The first frame is the top of the page, not a title card.
    assert_colour(&frame_at(&out, 0.0, dir.path()), 40, 40, RED, "first frame");
    browser.dispose(ctx).await;
    browser.close().await;
}

#[test]
fn missing_ffmpeg_is_reported_with_what_to_do() {
    let err = check_ffmpeg(Path::new("/nonexistent/ffmpeg")).unwrap_err();
    assert!(
        matches!(err, RecordingError::FfmpegNotFound { .. }),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("ffmpeg not found at /nonexistent/ffmpeg")
            && msg.contains("apt-get install ffmpeg"),
        "{msg}"
    );
    let not_ffmpeg = check_ffmpeg(Path::new("/bin/false")).unwrap_err();
    assert!(
        matches!(not_ffmpeg, RecordingError::FfmpegUnusable { .. }),
        "{not_ffmpeg:?}"
    );
    let version = check_ffmpeg(Path::new("ffmpeg")).unwrap();
    assert!(version.starts_with("ffmpeg version"), "{version}");
    check_encoder(Path::new("ffmpeg"), RecordingFormat::Mp4H264).unwrap();
    check_encoder(Path::new("ffmpeg"), RecordingFormat::MkvFfv1).unwrap();
}

/// Figures for the report: `cargo test --test recording -- --ignored --nocapture`
/// (BEVARA_REC_FPS, BEVARA_REC_PRESET and BEVARA_REC_FORMAT pick the settings).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark; run alone"]
async fn bench_recording_cost() {
    use bevara::behaviour::{run_pass, PassBudget};
    let addr = serve().await;
    let dir = tempfile::tempdir().unwrap();
    let env = |k: &str| std::env::var(k).ok();
    let opts = RecordingOptions {
        fps: env("BEVARA_REC_FPS").map_or(25, |v| v.parse().unwrap()),
        x264_preset: env("BEVARA_REC_PRESET").unwrap_or_else(|| "veryfast".into()),
        format: env("BEVARA_REC_FORMAT").map_or(RecordingFormat::Mp4H264, |v| v.parse().unwrap()),
        ..Default::default()
    };
    println!("options: {opts:?}");
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            env("BEVARA_LOG").unwrap_or_else(|| "bevara::capture::recording=debug".into()),
        )
        .with_test_writer()
        .try_init();
    let rounds: usize = env("BEVARA_REC_ROUNDS").map_or(1, |v| v.parse().unwrap());
    let (browser, ctx) = browser().await;
    let page = &ctx.page;
    let title = render_title_card(page, &card("http://x/"), 1280, 900)
        .await
        .unwrap();

    // 1. Continuous motion for 20 s: the screencast's worst case.
    if env("BEVARA_REC_CONTINUOUS").as_deref() != Some("0") {
        page.goto(format!("http://{addr}/feed-like")).await.unwrap();
        let out = dir
            .path()
            .join(format!("continuous.{}", opts.format.extension()));
        let rec = Recorder::start(page, &out, opts.clone(), Some(title.clone()))
            .await
            .unwrap();
        let _: i32 = eval(
            page,
            "(() => { const end = performance.now() + 20000; let y = 0; \
             function f() { y += 8; scrollTo(0, y); if (performance.now() < end) requestAnimationFrame(f); } \
             requestAnimationFrame(f); return 1; })()",
            Duration::from_secs(5),
        )
        .await
        .unwrap();
        tokio::time::sleep(Duration::from_secs(20)).await;
        let s = rec.stop().await.unwrap();
        if let Some(keep) = env("BEVARA_REC_KEEP") {
            std::fs::copy(&out, Path::new(&keep).join(out.file_name().unwrap())).unwrap();
        }
        let rec_secs = s.wall_secs - s.stop_secs;
        println!(
            "continuous 20 s: encoder {:.1} CPU s / {:.1} wall s = {:.2} core; frames received {} ({:.1}/s), sent {}, skipped {}, written {} ({} title); \
             {:.1} MB per minute; stop() {:.2} s; max lag {:.2} s",
            s.encoder_cpu_secs,
            s.wall_secs,
            s.encoder_cpu_secs / s.wall_secs,
            s.frames_received,
            s.frames_received as f64 / rec_secs,
            s.frames_sent,
            s.frames_skipped,
            s.frames_written,
            s.title_frames,
            s.bytes as f64 / 1e6 / s.duration_secs * 60.0,
            s.stop_secs,
            s.max_lag_secs
        );
    }

    // 2. The real behaviour pass on the feed fixture, without and with recording.
    let budget = PassBudget {
        max_duration: Duration::from_secs(120),
        deadline: None,
        max_height: 300_000,
        max_clicks: 1000,
        max_scroll_steps: 1000,
    };
    for round in 0..rounds {
        for record in [false, true] {
            let ctx = browser.new_context().await.unwrap();
            let page = &ctx.page;
            let title = render_title_card(page, &card("http://x/"), 1280, 900)
                .await
                .unwrap();
            page.goto(format!("http://{addr}/site/feed.html"))
                .await
                .unwrap();
            let t = Instant::now();
            let out = dir
                .path()
                .join(format!("pass{round}.{}", opts.format.extension()));
            let rec = if record {
                Some(
                    Recorder::start(page, &out, opts.clone(), Some(title))
                        .await
                        .unwrap(),
                )
            } else {
                None
            };
            let report = run_pass(
                page,
                &bevara::behaviour::Profile::generic(),
                &budget,
                None,
                None,
            )
            .await
            .unwrap();
            let pass = t.elapsed().as_secs_f64();
            let stats = match rec {
                Some(r) => Some(r.stop().await.unwrap()),
                None => None,
            };
            let total = t.elapsed().as_secs_f64();
            match stats {
                None => println!("pass round {round} without recording: {pass:.2} s ({} clicks)", report.expanders_clicked),
                Some(s) => println!(
                    "pass round {round} with recording: pass {pass:.2} s + stop {:.2} s = {total:.2} s; encoder {:.1} CPU s = {:.2} core; \
                     frames received {}, sent {}, written {}; {:.1} MB ({:.1} MB/min); max lag {:.2} s",
                    s.stop_secs,
                    s.encoder_cpu_secs,
                    s.encoder_cpu_secs / s.wall_secs,
                    s.frames_received,
                    s.frames_sent,
                    s.frames_written,
                    s.bytes as f64 / 1e6,
                    s.bytes as f64 / 1e6 / s.duration_secs * 60.0,
                    s.max_lag_secs
                ),
            }
            browser.dispose(ctx).await;
        }
    }
    browser.dispose(ctx).await;
    browser.close().await;
}
