//! HTTP to a `bevara serve` under test: one request per connection, with
//! an optional bearer token; API tokens made with the CLI.

use super::bevara;
use http_body_util::{BodyExt, Full};
use std::path::Path;

pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }
}

/// One HTTP/1.1 request on a fresh connection.
pub async fn call(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> Answer {
    call_with(addr, method, path, token, body, &[]).await.0
}

/// [`call`] with more headers; also returns the answer's headers.
pub async fn call_with(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
    extra: &[(&str, &str)],
) -> (Answer, hyper::HeaderMap) {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut send, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(conn);
    let mut req = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("host", addr)
        .header("content-type", "application/json");
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    for (k, v) in extra {
        req = req.header(*k, *v);
    }
    let req = req
        .body(Full::new(bytes::Bytes::from(
            body.unwrap_or("").to_string(),
        )))
        .unwrap();
    let res = send.send_request(req).await.unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let body = res.into_body().collect().await.unwrap().to_bytes().to_vec();
    (Answer { status, body }, headers)
}

pub async fn token(dir: &Path, role: &str, name: &str) -> String {
    let r = bevara(
        dir,
        &[],
        &["token", "create", "--role", role, "--name", name],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let secret = r.stdout.trim().to_string();
    assert!(secret.starts_with("bvr_"), "{}", r.stdout);
    secret
}

/// Starts `bevara serve` in `d` on a free port of 127.0.0.1, with `env`.
pub async fn serve_bevara(d: &Path, env: &[(&str, &str)]) -> (String, tokio::process::Child) {
    start_bevara(d, &["serve"], env).await
}

/// Starts `bevara ARGS` in `d` with `web.listen` on a free port of
/// 127.0.0.1 and waits until that port answers.
pub async fn start_bevara(
    d: &Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> (String, tokio::process::Child) {
    let port = super::procs::free_port();
    let addr = format!("127.0.0.1:{port}");
    let server = tokio::process::Command::new(env!("CARGO_BIN_EXE_bevara"))
        .args(args)
        .current_dir(d)
        .env_remove("BEVARA_CONFIG")
        .env("BEVARA_DATA_DIR", d.join("data"))
        .env("BEVARA_WEB_LISTEN", &addr)
        .envs(env.iter().copied())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while tokio::net::TcpStream::connect(&addr).await.is_err() {
        assert!(
            started.elapsed().as_secs() < 30,
            "bevara {args:?} serves nothing on {addr}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    (addr, server)
}

/// A plain GET on a fresh connection: the status and the body as text, or
/// `None` when nothing answers.
pub async fn get_text(addr: &str, path: &str) -> Option<(u16, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.ok()?;
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.ok()?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.ok()?;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string())?;
    Some((status, body))
}
