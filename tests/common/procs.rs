//! Processes under test: polling until something holds, signals, and the
//! processes a worker started.

use std::time::{Duration, Instant};
use tokio::process::Child;

/// Polls `f` every 200 ms until it holds, or panics after `secs`.
pub async fn wait_until<F, Fut>(secs: u64, what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f().await {
        assert!(
            Instant::now() < deadline,
            "timed out after {secs} s waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Sends `sig` to `child`, or to its whole process group.
pub fn signal(child: &Child, sig: &str, group: bool) {
    let pid = child.id().expect("running") as i32;
    let target = if group {
        format!("-{pid}")
    } else {
        pid.to_string()
    };
    let ok = std::process::Command::new("kill")
        .args([&format!("-{sig}"), "--", &target])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{sig} {target}");
}

/// Every descendant of `pid`, by walking each thread's children.
pub fn descendants(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let mut todo = vec![pid];
    while let Some(p) = todo.pop() {
        let tasks = std::fs::read_dir(format!("/proc/{p}/task"))
            .map(|d| {
                d.filter_map(Result::ok)
                    .map(|e| e.file_name())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        for t in tasks {
            let t = t.to_string_lossy().into_owned();
            for c in std::fs::read_to_string(format!("/proc/{p}/task/{t}/children"))
                .unwrap_or_default()
                .split_whitespace()
                .filter_map(|c| c.parse::<u32>().ok())
            {
                out.push(c);
                todo.push(c);
            }
        }
    }
    out
}

/// A port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
