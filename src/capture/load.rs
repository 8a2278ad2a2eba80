//! Loading the channel's page, bounded, and what is checked around it: the
//! HTTP status, a redirect to another host, a login wall, the stored login
//! session.

use super::deadline::Deadline;
use super::error::{is_unreachable, CaptureError};
use crate::browser::navgate::NavGate;
use crate::browser::{cdp_error, eval, BrowserError};
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
    page: &chromiumoxide::Page,
    gate: &NavGate,
    url: &url::Url,
    settings: &crate::Settings,
    deadline: &Deadline,
    warnings: &mut Vec<String>,
) -> Result<Loaded, Failed> {
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
    let load_bound = deadline.bound(Duration::from_secs(settings.capture.page_load_timeout_secs));
    let load_secs = load_bound.as_secs();
    let nav = {
        // Bevara's own navigation: the gate lets it (and its redirects) through.
        let _open = gate.open();
        tokio::time::timeout(load_bound, page.goto(url_s.as_str())).await
    };
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
        Ok(Err(e))
            if matches!(
                e,
                chromiumoxide::error::CdpError::ChannelSendError(_)
                    | chromiumoxide::error::CdpError::Ws(_)
                    | chromiumoxide::error::CdpError::NoResponse
            ) =>
        {
            return Err(browser_err(cdp_error("Page.navigate", e)))
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
            target::check_with(&final_url, &settings.egress_policy())
                .await
                .map_err(|e| (e.into(), Some(loaded.href.clone())))?;
        }
    }
    Ok(loaded)
}

/// A sign-in form as the page's main content, by what a person sees: a
/// visible password field whose form holds most of the page's text (or a
/// page with little else), or, after a redirect, a known login URL shape.
const GENERIC_LOGIN_JS: &str = r#"((redirected) => {
  const visible = (e) => { const r = e.getBoundingClientRect(); const s = getComputedStyle(e);
    return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none'; };
  const body = document.body ? document.body.innerText.trim().length : 0;
  const pw = [...document.querySelectorAll('input[type="password"]')].find(visible);
  if (pw) {
    const form = pw.closest('form, [role="form"], [role="dialog"]') || pw.parentElement;
    const own = form ? form.innerText.trim().length : 0;
    if (body < 1500 || own > body * 0.4) return 'a sign-in form with a password field';
  }
  if (redirected && /(^|\/)(login|log-in|signin|sign-in|logga-in|loggain|accounts\/login|auth\/login|session\/new)(\/|\.|$)/i.test(location.pathname))
    return 'a redirect to the sign-in page ' + location.pathname;
  return null; })"#;

/// Whether the page is a login wall: the profile's logged-out rule, or a
/// sign-in form as its main content. Says what matched.
pub(super) async fn login_wall(
    page: &chromiumoxide::Page,
    profile: &crate::behaviour::Profile,
    redirected: bool,
) -> Result<Option<String>, BrowserError> {
    let generic: Option<String> = eval(
        page,
        &format!("{GENERIC_LOGIN_JS}({redirected})"),
        Duration::from_secs(10),
    )
    .await?;
    if generic.is_some() {
        return Ok(generic);
    }
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

/// Whether `final_href` is another page than `requested` (a redirect),
/// ignoring the fragment and a trailing slash.
pub(super) fn redirected(requested: &str, final_href: &str) -> bool {
    let norm = |u: &str| {
        let u = u.split('#').next().unwrap_or(u);
        u.trim_end_matches('/').to_string()
    };
    norm(requested) != norm(final_href)
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
