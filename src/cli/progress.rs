//! A one-line progress display on a terminal while a capture runs.

use bevara::behaviour::Progress;
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Draws the progress line every 200 ms until the sender is dropped; does
/// nothing when stderr is not a terminal.
pub fn spawn(mut rx: watch::Receiver<Progress>) -> Option<tokio::task::JoinHandle<()>> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let started = Instant::now();
    Some(tokio::spawn(async move {
        loop {
            let p = rx.borrow_and_update().clone();
            let line = format!(
                "\r\x1b[2K{:>6.1}s  {:<22} y {:>7} / {:>7} px  steps {:>4}  expanders {:>4}",
                started.elapsed().as_secs_f64(),
                p.phase,
                p.scroll_y,
                p.height,
                p.steps,
                p.expanders
            );
            let mut err = std::io::stderr();
            let _ = err.write_all(line.as_bytes());
            let _ = err.flush();
            tokio::select! {
                r = rx.changed() => if r.is_err() { break },
                _ = tokio::time::sleep(Duration::from_millis(200)) => {}
            }
        }
        let _ = std::io::stderr().write_all(b"\r\x1b[2K");
    }))
}
