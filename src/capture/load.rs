//! Loading the channel's page, bounded, and what is checked around it: the
//! HTTP status, a redirect to another host, a login wall, the stored login
//! session.

use super::error::{is_unreachable, CaptureError};
use crate::browser::{eval, BrowserContext, BrowserError};
use crate::registry::Channel;
use crate::target;
use std::time::Duration;

type Failed = (CaptureError, Option<String>);

#[derive(serde::Deserialize)]
pub(super) struct Loaded {
    pub href: String,
    pub ready: String,
    pub status: Option<u16>,
    pub title: String,
}

/// The page's full height in CSS px.
pub(super) const PAGE_HEIGHT_JS: &str =
    "Math.max(document.documentElement.scrollHeight, document.body ? document.body.scrollHeight : 0)";
/// The page's visible text.
pub(super) const PAGE_TEXT_JS: &str = "document.body ? document.body.innerText : ''";

pub(super) const LOADED_JS: &str =
    "({ href: location.href, ready: document.readyState, title: document.title, \
    status: (performance.getEntriesByType('navigation')[0] || {}).responseStatus || null })";

/// Loads `url` in the context's page, bounded by
/// `capture.page_load_timeout_secs`. A document whose load event never
/// fires is taken as it is, with a warning; no document is a timeout.
pub(super) async fn load(
    ctx: &BrowserContext,
    url: &url::Url,
    settings: &crate::Settings,
    warnings: &mut Vec<String>,
) -> Result<Loaded, Failed> {
    let page = &ctx.page;
    let url_s = url.to_string();
    let browser_err = |source: BrowserError| {
        (
            CaptureError::Browser {
                url: url_s.clone(),
                source,
            },
            None,
        )
    };
    let load_secs = settings.capture.page_load_timeout_secs;
    let nav = tokio::time::timeout(Duration::from_secs(load_secs), page.goto(url_s.as_str())).await;
    let call = Duration::from_secs(10);
    match nav {
        Ok(Ok(_)) => {}
        Ok(Err(chromiumoxide::error::CdpError::ChromeMessage(text))) => {
            let err = if is_unreachable(&text) {
                CaptureError::Unreachable {
                    url: url_s.clone(),
                    reason: text,
                }
            } else {
                CaptureError::Navigation {
                    url: url_s.clone(),
                    reason: text,
                }
            };
            return Err((err, None));
        }
        Ok(Err(e)) if !ctx.browser_alive() => {
            return Err(browser_err(BrowserError::Cdp {
                what: "Page.navigate",
                source: e,
            }))
        }
        Ok(Err(_)) | Err(_) => {
            // No load event in time. If the document itself arrived, capture
            // it as it is (a hanging image or tracker); if not, give up.
            let state: Option<Loaded> = eval(page, LOADED_JS, call).await.ok();
            match state {
                Some(s) if s.href != "about:blank" && s.ready != "loading" => {
                    warnings.push(format!(
                    "the page's load event did not fire within {load_secs} s; captured it as it was"
                ))
                }
                Some(s) => {
                    return Err((
                        CaptureError::Timeout {
                            url: url_s.clone(),
                            secs: load_secs,
                            detail: if s.href == "about:blank" {
                                "no response".into()
                            } else {
                                "the document never finished arriving".into()
                            },
                        },
                        None,
                    ))
                }
                None => {
                    return Err((
                        CaptureError::Timeout {
                            url: url_s.clone(),
                            secs: load_secs,
                            detail: "the page does not answer".into(),
                        },
                        None,
                    ))
                }
            }
        }
    }
    let loaded: Loaded = eval(page, LOADED_JS, call).await.map_err(browser_err)?;
    if let Some(status) = loaded.status.filter(|s| *s >= 400) {
        return Err((
            CaptureError::HttpStatus {
                url: url_s.clone(),
                status,
            },
            Some(loaded.href),
        ));
    }
    // A redirect may lead somewhere the channel's URL did not.
    if let Ok(final_url) = url::Url::parse(&loaded.href) {
        if final_url.host_str() != url.host_str() {
            target::check(&final_url, settings.allow_private_addresses)
                .await
                .map_err(|e| (e.into(), Some(loaded.href.clone())))?;
        }
    }
    Ok(loaded)
}

/// Whether the page matches the profile's logged-out rule; says what matched.
pub(super) async fn login_wall(
    page: &chromiumoxide::Page,
    profile: &crate::behaviour::Profile,
) -> Result<Option<String>, BrowserError> {
    let rule = &profile.logged_out;
    if rule.texts.is_empty() && rule.selectors.is_empty() {
        return Ok(None);
    }
    let js = format!(
        "(() => {{ const r = {}; const text = (document.body ? document.body.innerText : '').slice(0, 20000);
          for (const t of r.texts) {{ const m = new RegExp(t, 'imu').exec(text); if (m) return 'text ' + JSON.stringify(m[0].slice(0, 80)); }}
          for (const s of r.selectors) {{ try {{ const el = document.querySelector(s);
            if (el && el.getClientRects().length) return 'element ' + s; }} catch (e) {{}} }}
          return null; }})()",
        serde_json::to_string(rule).unwrap_or_else(|_| "{\"texts\":[],\"selectors\":[]}".into())
    );
    eval(page, &js, Duration::from_secs(10)).await
}

/// The channel's stored login session, if it has one.
pub(super) fn load_session(
    settings: &crate::Settings,
    channel: &Channel,
) -> Result<Option<crate::session::StoredSession>, CaptureError> {
    let err = |source| CaptureError::Session {
        channel: channel.id.to_string(),
        source,
    };
    let store = settings.session_store().map_err(err)?;
    if !store.exists(channel.id.as_str()) {
        return Ok(None);
    }
    store.get(channel.id.as_str()).map_err(err)
}
