//! The egress guard: a forward proxy in Bevara's own process that every
//! request of a capture's browser context goes through. It resolves the
//! host itself, checks every address against the [`Policy`], and connects
//! to the address it checked, so a DNS answer that changes between check and
//! connection (rebinding) cannot reach an internal address. Chromium never
//! resolves a page's host names itself while it uses the proxy.
//!
//! Plain http requests are forwarded one per connection; https and
//! WebSockets arrive as `CONNECT` tunnels. Refused requests are answered
//! 403 and recorded, so the capture can name them.

use crate::target::non_public;
use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// How long a host name may take to resolve, and a connection to open.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// Where a capture's browser may connect.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// Everything is allowed (`allow_private_addresses`).
    pub allow_all: bool,
    /// Networks allowed although not public (`network.allow`).
    pub nets: Vec<(IpAddr, u8)>,
    /// Host names allowed whatever they resolve to.
    pub hosts: Vec<String>,
}

impl Policy {
    /// Parses `network.allow` entries: CIDRs (`10.0.0.0/8`, `127.0.0.1/32`),
    /// single addresses, or host names.
    pub fn new(allow_all: bool, allow: &[String]) -> Result<Self, String> {
        let mut p = Policy {
            allow_all,
            ..Default::default()
        };
        for entry in allow.iter().map(|e| e.trim()).filter(|e| !e.is_empty()) {
            let (addr, len) = match entry.split_once('/') {
                Some((a, l)) => (a, Some(l)),
                None => (entry, None),
            };
            match addr.parse::<IpAddr>() {
                Ok(ip) => {
                    let max = if ip.is_ipv4() { 32 } else { 128 };
                    let len = match len {
                        Some(l) => l.parse::<u8>().ok().filter(|l| *l <= max).ok_or_else(|| {
                            format!("network.allow: bad prefix length in {entry:?}")
                        })?,
                        None => max,
                    };
                    p.nets.push((ip, len));
                }
                Err(_) if len.is_none() && !entry.contains(['/', ' ', ':']) => {
                    p.hosts.push(entry.to_ascii_lowercase())
                }
                Err(_) => {
                    return Err(format!(
                        "network.allow: {entry:?} is neither a CIDR nor a host name"
                    ))
                }
            }
        }
        Ok(p)
    }

    /// Why `addr` (of `host`) is refused, or `None` when it is allowed.
    pub fn refuses(&self, host: &str, addr: IpAddr) -> Option<&'static str> {
        if self.allow_all || self.hosts.iter().any(|h| h.eq_ignore_ascii_case(host)) {
            return None;
        }
        if self.nets.iter().any(|(net, len)| in_net(addr, *net, *len)) {
            return None;
        }
        non_public(addr)
    }
}

fn in_net(addr: IpAddr, net: IpAddr, len: u8) -> bool {
    match (addr, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = if len == 0 {
                0
            } else {
                u128::MAX << (128 - len)
            };
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// A request the guard refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocked {
    /// `host:port` as the browser asked for it.
    pub target: String,
    pub reason: String,
}

/// Resolves host names; a seam so tests can answer differently each time.
pub type Resolver = Arc<
    dyn Fn(String, u16) -> futures::future::BoxFuture<'static, std::io::Result<Vec<IpAddr>>>
        + Send
        + Sync,
>;

/// The system resolver.
pub fn system_resolver() -> Resolver {
    Arc::new(|host, port| {
        Box::pin(async move {
            let found = tokio::time::timeout(
                RESOLVE_TIMEOUT,
                tokio::net::lookup_host((host.as_str(), port)),
            )
            .await
            .map_err(|_| std::io::Error::other("DNS lookup took over 10 s"))??;
            Ok(found.map(|a| a.ip()).collect())
        })
    })
}

/// A running guard for one browser context.
pub struct Guard {
    addr: SocketAddr,
    blocked: Arc<Mutex<Vec<Blocked>>>,
    task: JoinHandle<()>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Shared {
    policy: Policy,
    resolver: Resolver,
    blocked: Arc<Mutex<Vec<Blocked>>>,
}

impl Guard {
    /// Listens on a free loopback port.
    pub async fn start(policy: Policy, resolver: Resolver) -> std::io::Result<Guard> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let blocked = Arc::new(Mutex::new(Vec::new()));
        let shared = Arc::new(Shared {
            policy,
            resolver,
            blocked: blocked.clone(),
        });
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let shared = shared.clone();
                tokio::spawn(async move {
                    let service =
                        hyper::service::service_fn(move |req| handle(shared.clone(), req));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .preserve_header_case(true)
                        .serve_connection(TokioIo::new(stream), service)
                        .with_upgrades()
                        .await;
                });
            }
        });
        Ok(Guard {
            addr,
            blocked,
            task,
        })
    }

    /// The proxy address to give Chromium.
    pub fn proxy_server(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// What was refused so far.
    pub fn blocked(&self) -> Vec<Blocked> {
        self.blocked.lock().map(|b| b.clone()).unwrap_or_default()
    }
}

type Body = BoxBody<Bytes, hyper::Error>;

fn text(status: StatusCode, msg: String) -> Response<Body> {
    let mut r = Response::new(
        Full::new(Bytes::from(msg))
            .map_err(|never| match never {})
            .boxed(),
    );
    *r.status_mut() = status;
    r
}

impl Shared {
    /// Resolves `host`, checks every address, and connects to a checked one.
    async fn connect(&self, host: &str, port: u16) -> Result<TcpStream, (StatusCode, String)> {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let addrs = match host.parse::<IpAddr>() {
            Ok(ip) => vec![ip],
            Err(_) => (self.resolver)(host.to_string(), port).await.map_err(|e| {
                (
                    StatusCode::BAD_GATEWAY,
                    format!("cannot resolve {host}: {e}"),
                )
            })?,
        };
        if addrs.is_empty() {
            return Err((StatusCode::BAD_GATEWAY, format!("{host} has no address")));
        }
        // One refused address refuses the name: a public answer next to an
        // internal one is how rebinding starts.
        for a in &addrs {
            if let Some(kind) = self.policy.refuses(host, *a) {
                let reason = format!("{host} resolves to {a}, a {kind} address");
                self.record(format!("{host}:{port}"), reason.clone());
                return Err((StatusCode::FORBIDDEN, reason));
            }
        }
        let mut last = None;
        for a in addrs {
            match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect((a, port))).await {
                Ok(Ok(s)) => return Ok(s),
                Ok(Err(e)) => last = Some(e.to_string()),
                Err(_) => last = Some("connection timed out".into()),
            }
        }
        Err((
            StatusCode::BAD_GATEWAY,
            format!(
                "cannot connect to {host}:{port}: {}",
                last.unwrap_or_default()
            ),
        ))
    }

    fn record(&self, target: String, reason: String) {
        tracing::info!(%target, %reason, "request refused by the egress guard");
        if let Ok(mut b) = self.blocked.lock() {
            if b.len() < 10_000 {
                b.push(Blocked { target, reason });
            }
        }
    }
}

/// Closing the connection without an answer: what the browser would have
/// seen connecting straight to a host that is down.
type Unanswered = Box<dyn std::error::Error + Send + Sync>;

async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Result<Response<Body>, Unanswered> {
    if req.method() == Method::CONNECT {
        return Ok(tunnel(shared, req).await);
    }
    let uri = req.uri().clone();
    let (Some(host), Some("http")) = (uri.host(), uri.scheme_str()) else {
        let what = uri.scheme_str().unwrap_or("no scheme").to_string();
        shared.record(uri.to_string(), format!("not an http request ({what})"));
        return Ok(text(
            StatusCode::FORBIDDEN,
            "only http(s) is allowed\n".into(),
        ));
    };
    let port = uri.port_u16().unwrap_or(80);
    let stream = match shared.connect(host, port).await {
        Ok(s) => s,
        Err((StatusCode::FORBIDDEN, msg)) => return Ok(text(StatusCode::FORBIDDEN, msg)),
        // Unreachable: no answer at all, so the page sees a network error,
        // not a 502 it would archive as the server's.
        Err((_, msg)) => return Err(msg.into()),
    };
    let (mut sender, conn) = match hyper::client::conn::http1::Builder::new()
        .preserve_header_case(true)
        .handshake(TokioIo::new(stream))
        .await
    {
        Ok(x) => x,
        Err(e) => return Ok(text(StatusCode::BAD_GATEWAY, format!("{e}"))),
    };
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let (mut parts, body) = req.into_parts();
    parts.uri = uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/")
        .parse()
        .unwrap_or_default();
    parts.headers.remove("proxy-connection");
    parts.headers.remove("proxy-authorization");
    match sender.send_request(Request::from_parts(parts, body)).await {
        Ok(resp) => Ok(resp.map(|b| b.boxed())),
        Err(e) => Ok(text(StatusCode::BAD_GATEWAY, format!("{e}"))),
    }
}

async fn tunnel(shared: Arc<Shared>, req: Request<Incoming>) -> Response<Body> {
    let Some(authority) = req.uri().authority().cloned() else {
        return text(StatusCode::BAD_REQUEST, "CONNECT needs host:port\n".into());
    };
    let port = authority.port_u16().unwrap_or(443);
    let mut upstream = match shared.connect(authority.host(), port).await {
        Ok(s) => s,
        Err((status, msg)) => return text(status, msg),
    };
    tokio::spawn(async move {
        if let Ok(upgraded) = hyper::upgrade::on(req).await {
            let mut client = TokioIo::new(upgraded);
            let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
        }
    });
    Response::new(
        Full::new(Bytes::new())
            .map_err(|never| match never {})
            .boxed(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_list_and_address_kinds() {
        let p = Policy::new(
            false,
            &[
                "127.0.0.1/32".into(),
                "intranet.sala.se".into(),
                "10.20.0.0/16".into(),
            ],
        )
        .unwrap();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(p.refuses("x", ip("127.0.0.1")), None);
        assert_eq!(p.refuses("x", ip("127.0.0.2")), Some("loopback"));
        assert_eq!(p.refuses("x", ip("10.20.3.4")), None);
        assert_eq!(p.refuses("x", ip("10.21.3.4")), Some("private"));
        assert_eq!(p.refuses("intranet.sala.se", ip("10.99.0.1")), None);
        assert_eq!(p.refuses("x", ip("8.8.8.8")), None);
        assert!(p.refuses("x", ip("169.254.169.254")).is_some());
        assert!(Policy::new(false, &["10.0.0.0/33".into()]).is_err());
        assert!(Policy::new(false, &["not a host".into()]).is_err());
        assert_eq!(
            Policy::new(true, &[])
                .unwrap()
                .refuses("x", ip("127.0.0.2")),
            None
        );
    }
}
