//! The capture's network traffic as WACZ (`capture.wacz`), so the channel
//! can be replayed as it was served, in ReplayWeb.page or pywb.
//!
//! The page's requests and responses are read from DevTools' Network domain
//! while the capture runs: every document, script, style, image, font and
//! XHR/fetch answer, with its headers and (once loaded) its body, which is
//! written to disk at once. Bodies larger than `capture.wacz_max_body_mb`
//! are not kept; they are named in the manifest's warnings. Chromium hands
//! over bodies decoded, so the stored headers drop `Content-Encoding` and
//! `Transfer-Encoding` and give the decoded `Content-Length`.
//!
//! The WARC records, the CDXJ index and the package are written here: no
//! Rust crate writes WACZ, and the formats are small (WARC 1.1 records as
//! one gzip member each, sorted CDXJ lines, `pages.jsonl`, a
//! `datapackage.json` with SHA-256 of every file).

use base64::Engine;
use chromiumoxide::cdp::browser_protocol::network::{
    EnableParams, EventLoadingFailed, EventLoadingFinished, EventRequestWillBeSent,
    EventResponseReceived, GetResponseBodyParams, Headers, Response,
};
use chromiumoxide::Page;
use chrono::{DateTime, SecondsFormat, Utc};
use futures::StreamExt;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinHandle;

/// The request of an exchange, as the page sent it.
#[derive(Debug, Clone)]
struct Req {
    url: String,
    method: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    at: DateTime<Utc>,
}

/// The answer's status line and headers.
#[derive(Debug, Clone)]
struct Resp {
    /// The address it answers (a redirect's events may arrive out of order).
    url: String,
    status: i64,
    status_text: String,
    headers: Vec<(String, String)>,
    mime: String,
    remote_ip: Option<String>,
}

/// A finished exchange; its body is on disk.
#[derive(Debug)]
struct Exchange {
    req: Req,
    resp: Resp,
    body: Option<PathBuf>,
}

/// An exchange as its events arrive, in whatever order the listeners see them.
#[derive(Default)]
struct Partial {
    req: Option<Req>,
    resp: Option<Resp>,
    /// Loaded, with this many bytes on the wire.
    finished: Option<f64>,
}

#[derive(Default)]
struct State {
    pending: HashMap<String, Partial>,
    done: Vec<Exchange>,
    /// Bodies left out: over the cap, or gone before they could be read.
    missing: Vec<String>,
    fetches: Vec<JoinHandle<()>>,
    seq: usize,
}

/// What the listeners share: the state, and what a body fetch needs.
struct Shared {
    state: Mutex<State>,
    page: Page,
    dir: PathBuf,
    cap: u64,
}

/// Records a page's network traffic until [`NetLog::finish`].
pub struct NetLog {
    shared: Arc<Shared>,
    tasks: Vec<JoinHandle<()>>,
}

/// What the WACZ holds.
#[derive(Debug, Clone, Default)]
pub struct WaczStats {
    pub responses: usize,
    pub bytes: u64,
    pub missing: Vec<String>,
}

fn headers_of(h: &Headers) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(map) = h.inner().as_object() {
        for (k, v) in map {
            let v = match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            // DevTools joins repeated headers with newlines.
            for line in v.split('\n') {
                out.push((k.clone(), line.to_string()));
            }
        }
    }
    out
}

fn resp_of(r: &Response) -> Resp {
    Resp {
        url: r.url.clone(),
        status: r.status,
        status_text: r.status_text.clone(),
        headers: headers_of(&r.headers),
        mime: r.mime_type.clone(),
        remote_ip: r.remote_ip_address.clone(),
    }
}

/// The same address, fragments aside.
fn same_url(a: &str, b: &str) -> bool {
    a.split('#').next() == b.split('#').next()
}

fn lock(s: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    s.lock().unwrap_or_else(|p| p.into_inner())
}

/// Once an exchange has its request, its answer and its end, its body is
/// read (or, over the cap, noted as missing).
fn advance(sh: &Arc<Shared>, st: &mut State, id: &str) {
    let ready = st.pending.get(id).is_some_and(|p| match (&p.req, &p.resp) {
        (Some(q), Some(r)) => p.finished.is_some() && same_url(&q.url, &r.url),
        _ => false,
    });
    if !ready {
        return;
    }
    let Some(Partial {
        req: Some(req),
        resp: Some(resp),
        finished: Some(wire),
    }) = st.pending.remove(id)
    else {
        return;
    };
    if wire > sh.cap as f64 {
        st.missing
            .push(format!("{} ({:.1} MiB)", req.url, wire / (1024.0 * 1024.0)));
        st.done.push(Exchange {
            req,
            resp,
            body: None,
        });
        return;
    }
    st.seq += 1;
    let path = sh.dir.join(format!("{}.body", st.seq));
    let sh2 = sh.clone();
    let rid = chromiumoxide::cdp::browser_protocol::network::RequestId::new(id.to_string());
    st.fetches.push(tokio::spawn(async move {
        let got = tokio::time::timeout(
            Duration::from_secs(30),
            sh2.page.execute(GetResponseBodyParams::new(rid)),
        )
        .await;
        let bytes = match got {
            Ok(Ok(r)) if r.result.base64_encoded => base64::engine::general_purpose::STANDARD
                .decode(r.result.body.as_bytes())
                .ok(),
            Ok(Ok(r)) => Some(r.result.body.clone().into_bytes()),
            _ => None,
        };
        // Decoded, a body may be far larger than on the wire.
        if bytes.as_ref().is_some_and(|b| b.len() as u64 > sh2.cap) {
            let mut st = lock(&sh2.state);
            st.missing
                .push(format!("{} (larger than the cap once decoded)", req.url));
            st.done.push(Exchange {
                req,
                resp,
                body: None,
            });
            return;
        }
        // Written before the lock is taken: the listeners are not held up.
        let written = match bytes {
            Some(b) => {
                let p = path.clone();
                tokio::task::spawn_blocking(move || std::fs::write(&p, b))
                    .await
                    .ok()
                    .and_then(Result::ok)
            }
            None => None,
        };
        let mut st = lock(&sh2.state);
        match written {
            Some(()) => st.done.push(Exchange {
                req,
                resp,
                body: Some(path),
            }),
            _ => {
                // No body to be had (a 204, a 304, evicted): the headers only.
                if resp.status != 204 && resp.status != 304 {
                    st.missing
                        .push(format!("{} (its body could not be read)", req.url));
                }
                st.done.push(Exchange {
                    req,
                    resp,
                    body: None,
                })
            }
        }
    }));
}

impl NetLog {
    /// Starts recording `page`'s traffic; bodies go to `dir`, none larger
    /// than `cap` bytes.
    pub async fn start(page: &Page, dir: &Path, cap: u64) -> Result<Self, String> {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            page: page.clone(),
            dir: dir.to_path_buf(),
            cap,
        });
        let cdp = |what: &str, e: chromiumoxide::error::CdpError| format!("{what}: {e}");
        let mut sent = page
            .event_listener::<EventRequestWillBeSent>()
            .await
            .map_err(|e| cdp("Network.requestWillBeSent", e))?;
        let mut received = page
            .event_listener::<EventResponseReceived>()
            .await
            .map_err(|e| cdp("Network.responseReceived", e))?;
        let mut finished = page
            .event_listener::<EventLoadingFinished>()
            .await
            .map_err(|e| cdp("Network.loadingFinished", e))?;
        let mut failed = page
            .event_listener::<EventLoadingFailed>()
            .await
            .map_err(|e| cdp("Network.loadingFailed", e))?;
        // Larger buffers, so bodies are still there when asked for.
        let buf = i64::try_from(cap).unwrap_or(i64::MAX).max(10 << 20);
        page.execute(EnableParams {
            max_total_buffer_size: Some(buf.saturating_mul(4).min(1 << 30)),
            max_resource_buffer_size: Some(buf),
            max_post_data_size: Some(1 << 20),
            report_direct_socket_traffic: None,
            enable_durable_messages: None,
        })
        .await
        .map_err(|e| cdp("Network.enable", e))?;

        let mut tasks = Vec::new();
        let sh = shared.clone();
        tasks.push(tokio::spawn(async move {
            while let Some(ev) = sent.next().await {
                let url = ev.request.url.clone();
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    continue;
                }
                let body = ev
                    .request
                    .post_data_entries
                    .iter()
                    .flatten()
                    .filter_map(|e| e.bytes.as_ref())
                    .flat_map(|b| {
                        base64::engine::general_purpose::STANDARD
                            .decode(AsRef::<str>::as_ref(b))
                            .unwrap_or_default()
                    })
                    .collect();
                let at =
                    DateTime::<Utc>::from_timestamp_millis((*ev.wall_time.inner() * 1000.0) as i64)
                        .unwrap_or_else(Utc::now);
                let req = Req {
                    url,
                    method: ev.request.method.clone(),
                    headers: headers_of(&ev.request.headers),
                    body,
                    at,
                };
                let id = ev.request_id.inner().clone();
                let mut st = lock(&sh.state);
                // A redirect: the hop before ends here, without a body. An
                // answer or end already seen for the new address stays.
                if let Some(redirect) = &ev.redirect_response {
                    if let Some(old) = st.pending.remove(&id) {
                        let mut next = Partial::default();
                        if old
                            .resp
                            .as_ref()
                            .is_some_and(|r| same_url(&r.url, &req.url))
                        {
                            next.resp = old.resp;
                            next.finished = old.finished;
                        }
                        if let Some(prev) = old.req {
                            st.done.push(Exchange {
                                req: prev,
                                resp: resp_of(redirect),
                                body: None,
                            });
                        }
                        st.pending.insert(id.clone(), next);
                    }
                }
                st.pending.entry(id.clone()).or_default().req = Some(req);
                advance(&sh, &mut st, &id);
            }
        }));
        let sh = shared.clone();
        tasks.push(tokio::spawn(async move {
            while let Some(ev) = received.next().await {
                let id = ev.request_id.inner().clone();
                let mut st = lock(&sh.state);
                st.pending.entry(id.clone()).or_default().resp = Some(resp_of(&ev.response));
                advance(&sh, &mut st, &id);
            }
        }));
        let sh = shared.clone();
        tasks.push(tokio::spawn(async move {
            while let Some(ev) = finished.next().await {
                let id = ev.request_id.inner().clone();
                let mut st = lock(&sh.state);
                st.pending.entry(id.clone()).or_default().finished = Some(ev.encoded_data_length);
                advance(&sh, &mut st, &id);
            }
        }));
        let sh = shared.clone();
        tasks.push(tokio::spawn(async move {
            while let Some(ev) = failed.next().await {
                lock(&sh.state).pending.remove(ev.request_id.inner());
            }
        }));
        Ok(Self { shared, tasks })
    }

    /// Stops recording and writes `capture.wacz` into `work`, with `pages`
    /// (address, title) as its pages, captured at `at`.
    pub async fn finish(
        self,
        work: &Path,
        pages: &[(String, String)],
        at: DateTime<Utc>,
    ) -> Result<(PathBuf, WaczStats), String> {
        // Events still queued are handled before the listeners stop.
        tokio::time::sleep(Duration::from_millis(200)).await;
        for t in &self.tasks {
            t.abort();
        }
        let fetches = std::mem::take(&mut lock(&self.shared.state).fetches);
        for f in fetches {
            let _ = tokio::time::timeout(Duration::from_secs(35), f).await;
        }
        let (mut done, missing) = {
            let mut st = lock(&self.shared.state);
            (std::mem::take(&mut st.done), st.missing.clone())
        };
        done.sort_by_key(|e| e.req.at);
        let out = work.join("capture.wacz");
        let dir = self.shared.dir.clone();
        let pages = pages.to_vec();
        let stats = tokio::task::spawn_blocking(move || write_wacz(&done, &pages, at, &dir, &out))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("writing the WACZ: {e}"))?;
        let _ = std::fs::remove_dir_all(&self.shared.dir);
        Ok((work.join("capture.wacz"), WaczStats { missing, ..stats }))
    }
}

impl Drop for NetLog {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

fn warc_date(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn record_id() -> String {
    let u = ulid::Ulid::new().to_bytes();
    let x = hex::encode(u);
    format!(
        "<urn:uuid:{}-{}-{}-{}-{}>",
        &x[0..8],
        &x[8..12],
        &x[12..16],
        &x[16..20],
        &x[20..32]
    )
}

fn sha256_label(b: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(b)))
}

/// One WARC record, as one gzip member; returns its compressed length.
fn write_record(
    out: &mut impl Write,
    kind: &str,
    uri: Option<&str>,
    date: &str,
    content_type: &str,
    extra: &[(&str, String)],
    block: &[u8],
) -> std::io::Result<u64> {
    let mut head = format!(
        "WARC/1.1\r\nWARC-Type: {kind}\r\nWARC-Record-ID: {}\r\nWARC-Date: {date}\r\n",
        record_id()
    );
    if let Some(u) = uri {
        head.push_str(&format!("WARC-Target-URI: {u}\r\n"));
    }
    for (k, v) in extra {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!(
        "Content-Type: {content_type}\r\nWARC-Block-Digest: {}\r\nContent-Length: {}\r\n\r\n",
        sha256_label(block),
        block.len()
    ));
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(head.as_bytes())?;
    gz.write_all(block)?;
    gz.write_all(b"\r\n\r\n")?;
    let bytes = gz.finish()?;
    out.write_all(&bytes)?;
    Ok(bytes.len() as u64)
}

/// The SURT form of a URL for the CDXJ index: host labels reversed
/// (`se,sala)/path?query`), lower case, `www.` dropped; addresses kept.
pub fn surt(url: &str) -> String {
    let Ok(u) = url::Url::parse(url) else {
        return url.to_ascii_lowercase();
    };
    let host = u.host_str().unwrap_or("").to_ascii_lowercase();
    let host = host.strip_prefix("www.").unwrap_or(&host).to_string();
    let mut s = if host.parse::<std::net::IpAddr>().is_ok() || host.starts_with('[') {
        host
    } else {
        host.rsplit('.').collect::<Vec<_>>().join(",")
    };
    if let Some(p) = u.port() {
        s.push_str(&format!(":{p}"));
    }
    s.push(')');
    s.push_str(&u.path().to_ascii_lowercase());
    if let Some(q) = u.query() {
        // Arguments sorted, as replay canonicalizes them before looking up.
        let mut args: Vec<String> = q.split('&').map(str::to_ascii_lowercase).collect();
        args.sort();
        s.push('?');
        s.push_str(&args.join("&"));
    }
    s
}

const DROPPED: [&str; 3] = ["content-encoding", "transfer-encoding", "content-length"];

fn write_wacz(
    done: &[Exchange],
    pages: &[(String, String)],
    at: DateTime<Utc>,
    dir: &Path,
    out: &Path,
) -> std::io::Result<WaczStats> {
    let warc_path = dir.join("data.warc.gz");
    let mut warc = std::io::BufWriter::new(std::fs::File::create(&warc_path)?);
    let mut offset = 0u64;
    let info = format!(
        "software: Bevara {}\r\nformat: WARC File Format 1.1\r\nconformsTo: http://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/\r\n",
        env!("CARGO_PKG_VERSION")
    );
    offset += write_record(
        &mut warc,
        "warcinfo",
        None,
        &warc_date(at),
        "application/warc-fields",
        &[("WARC-Filename", "data.warc.gz".into())],
        info.as_bytes(),
    )?;
    let mut cdx = Vec::new();
    let mut stats = WaczStats::default();
    for e in done {
        let body = match &e.body {
            Some(p) => std::fs::read(p)?,
            None => Vec::new(),
        };
        let reason = if e.resp.status_text.is_empty() {
            http_reason(e.resp.status)
        } else {
            e.resp.status_text.as_str()
        };
        let mut http = format!("HTTP/1.1 {} {}\r\n", e.resp.status, reason);
        for (k, v) in &e.resp.headers {
            if !DROPPED.contains(&k.to_ascii_lowercase().as_str()) {
                http.push_str(&format!("{k}: {v}\r\n"));
            }
        }
        http.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
        let mut block = http.into_bytes();
        block.extend_from_slice(&body);
        let date = warc_date(e.req.at);
        let payload = sha256_label(&body);
        let mut extra = vec![("WARC-Payload-Digest", payload.clone())];
        if let Some(ip) = &e.resp.remote_ip {
            extra.push(("WARC-IP-Address", ip.clone()));
        }
        let start = offset;
        let len = write_record(
            &mut warc,
            "response",
            Some(&e.req.url),
            &date,
            "application/http; msgtype=response",
            &extra,
            &block,
        )?;
        offset += len;
        // The request that asked for it.
        let target = url::Url::parse(&e.req.url).ok();
        let path = target
            .as_ref()
            .map(|u| match u.query() {
                Some(q) => format!("{}?{q}", u.path()),
                None => u.path().to_string(),
            })
            .unwrap_or_else(|| "/".into());
        let mut req = format!("{} {path} HTTP/1.1\r\n", e.req.method);
        if !e
            .req
            .headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("host"))
        {
            if let Some(h) = target.as_ref().and_then(|u| u.host_str()) {
                match target.as_ref().and_then(|u| u.port()) {
                    Some(p) => req.push_str(&format!("Host: {h}:{p}\r\n")),
                    None => req.push_str(&format!("Host: {h}\r\n")),
                }
            }
        }
        for (k, v) in &e.req.headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        let mut rblock = req.into_bytes();
        rblock.extend_from_slice(&e.req.body);
        offset += write_record(
            &mut warc,
            "request",
            Some(&e.req.url),
            &date,
            "application/http; msgtype=request",
            &[],
            &rblock,
        )?;
        let ts = e.req.at.format("%Y%m%d%H%M%S").to_string();
        let mut line = serde_json::json!({
            "url": e.req.url,
            "mime": e.resp.mime,
            "status": e.resp.status.to_string(),
            "digest": payload,
            "length": len.to_string(),
            "offset": start.to_string(),
            "filename": "data.warc.gz",
        });
        // A POST (or other method with a body) is looked up by its body too,
        // as pywb and ReplayWeb.page do: the key gets __wb_method and
        // __wb_post_data, so answers to one endpoint do not collide.
        let key = if e.req.method.eq_ignore_ascii_case("GET") {
            surt(&e.req.url)
        } else {
            let extra = format!(
                "__wb_method={}&__wb_post_data={}",
                e.req.method.to_ascii_lowercase(),
                base64::engine::general_purpose::STANDARD.encode(&e.req.body)
            );
            line["method"] = serde_json::json!(e.req.method.to_ascii_uppercase());
            line["requestBody"] = serde_json::json!(extra);
            let sep = if e.req.url.contains('?') { '&' } else { '?' };
            surt(&format!("{}{sep}{extra}", e.req.url))
        };
        cdx.push(format!("{key} {ts} {line}"));
        stats.responses += 1;
        stats.bytes += body.len() as u64;
    }
    warc.flush()?;
    drop(warc);
    cdx.sort();
    let index = (cdx.join("\n") + "\n").into_bytes();
    let mut jsonl = String::from(
        "{\"format\": \"json-pages-1.0\", \"id\": \"pages\", \"title\": \"All Pages\"}\n",
    );
    for (i, (url, title)) in pages.iter().enumerate() {
        jsonl.push_str(
            &serde_json::json!({
                "id": format!("page-{i}"),
                "url": url,
                "ts": at.to_rfc3339_opts(SecondsFormat::Secs, true),
                "title": title,
            })
            .to_string(),
        );
        jsonl.push('\n');
    }
    // The WARC is hashed and copied from disk, never held in memory.
    let warc_digest = crate::store::sha256_file(&warc_path)?;
    let files: Vec<(&str, &str, &[u8])> = vec![
        ("index.cdx", "indexes/index.cdx", &index),
        ("pages.jsonl", "pages/pages.jsonl", jsonl.as_bytes()),
    ];
    let resources: Vec<serde_json::Value> = std::iter::once(serde_json::json!({
        "name": "data.warc.gz",
        "path": "archive/data.warc.gz",
        "hash": format!("sha256:{}", warc_digest.sha256),
        "bytes": warc_digest.bytes,
    }))
    .chain(files.iter().map(|(name, path, b)| {
        serde_json::json!({"name": name, "path": path, "hash": sha256_label(b), "bytes": b.len()})
    }))
    .collect();
    let created = Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true);
    let datapackage = serde_json::to_vec_pretty(&serde_json::json!({
        "profile": "data-package",
        "resources": resources,
        "wacz_version": "1.1.1",
        "software": format!("Bevara {}", env!("CARGO_PKG_VERSION")),
        "created": created,
        "title": pages.first().map(|p| p.1.as_str()).unwrap_or(""),
        "mainPageUrl": pages.first().map(|p| p.0.as_str()).unwrap_or(""),
        "mainPageDate": at.to_rfc3339_opts(SecondsFormat::Secs, true),
    }))?;
    let digest = serde_json::to_vec_pretty(&serde_json::json!({
        "path": "datapackage.json",
        "hash": sha256_label(&datapackage),
    }))?;
    // Stored, not deflated: replay reads the WARC by offset inside the zip.
    let mut z = zip::ZipWriter::new(std::io::BufWriter::new(std::fs::File::create(out)?));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .large_file(warc_digest.bytes > u32::MAX as u64 / 2);
    z.start_file("archive/data.warc.gz", opts)
        .map_err(std::io::Error::other)?;
    std::io::copy(&mut std::fs::File::open(&warc_path)?, &mut z)?;
    for (_, path, b) in &files {
        z.start_file(*path, opts).map_err(std::io::Error::other)?;
        z.write_all(b)?;
    }
    z.start_file("datapackage.json", opts)
        .map_err(std::io::Error::other)?;
    z.write_all(&datapackage)?;
    z.start_file("datapackage-digest.json", opts)
        .map_err(std::io::Error::other)?;
    z.write_all(&digest)?;
    z.finish().map_err(std::io::Error::other)?;
    Ok(stats)
}

fn http_reason(status: i64) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        404 => "Not Found",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn surt_reverses_hosts_and_keeps_addresses() {
        assert_eq!(
            surt("https://www.Sala.se/Nyheter?id=3"),
            "se,sala)/nyheter?id=3"
        );
        assert_eq!(surt("http://a.se/s?b=2&a=1"), "se,a)/s?a=1&b=2");
        assert_eq!(
            surt("http://127.0.0.1:8080/site/feed.html"),
            "127.0.0.1:8080)/site/feed.html"
        );
    }

    #[test]
    fn a_record_is_one_gzip_member_with_its_digest() {
        let mut out = Vec::new();
        let n = write_record(
            &mut out,
            "resource",
            Some("http://a/"),
            "2026-01-01T00:00:00Z",
            "text/plain",
            &[],
            b"hej",
        )
        .unwrap();
        assert_eq!(n as usize, out.len());
        let mut text = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&out[..]), &mut text)
            .unwrap();
        assert!(text.starts_with("WARC/1.1\r\nWARC-Type: resource\r\n"));
        assert!(text.contains(&format!("WARC-Block-Digest: {}", sha256_label(b"hej"))));
        assert!(text.ends_with("Content-Length: 3\r\n\r\nhej\r\n\r\n"));
    }
}
