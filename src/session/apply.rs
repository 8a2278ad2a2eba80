//! Putting a login state into a capture's page before it navigates.

use super::state::{LoginState, OriginStorage, SessionCookie};
use super::SessionError;
use chromiumoxide::cdp::browser_protocol::network::{
    CookieParam, CookieSameSite, GetCookiesParams, SetCookiesParams, TimeSinceEpoch,
};
use chromiumoxide::cdp::browser_protocol::page::AddScriptToEvaluateOnNewDocumentParams;
use chromiumoxide::Page;
use chrono::Utc;
use std::collections::BTreeSet;
use std::time::Duration;

/// Bound on each DevTools call `apply` makes. They touch only the browser's
/// own cookie store and script list, so a healthy Chromium answers in
/// milliseconds; past this it is stuck and the capture should fail.
pub const APPLY_STEP_TIMEOUT: Duration = Duration::from_secs(10);

/// Puts `state` into `page`, which must be fresh and not yet navigated to
/// the channel: the cookies into its browser context's cookie store
/// (`Network.setCookies`), and for each origin a script that runs before the
/// page's own scripts on every document of that origin and stores its
/// localStorage items unless the page already has them
/// (`Page.addScriptToEvaluateOnNewDocument`).
///
/// Returns how many cookies the browser context holds afterwards and how
/// many localStorage items were scheduled. Expired cookies, and cookies
/// Chromium refuses (for example `SameSite=None` without `Secure`), are left
/// out with a warning naming their position and domain, never their value;
/// if no cookie is left, that is an error, because the capture would not be
/// logged in.
pub async fn apply(page: &Page, state: &LoginState) -> Result<(usize, usize), SessionError> {
    let cookies = apply_cookies(page, &state.cookies).await?;
    let mut items = 0;
    for origin in &state.local_storage {
        if origin.items.is_empty() {
            continue;
        }
        let script = storage_script(origin)?;
        bounded(
            "Page.addScriptToEvaluateOnNewDocument",
            page.execute(AddScriptToEvaluateOnNewDocumentParams::new(script)),
        )
        .await?;
        items += origin.items.len();
    }
    Ok((cookies, items))
}

async fn apply_cookies(page: &Page, cookies: &[SessionCookie]) -> Result<usize, SessionError> {
    if cookies.is_empty() {
        return Ok(0);
    }
    let now = Utc::now().timestamp() as f64;
    let (live, expired): (Vec<&SessionCookie>, Vec<&SessionCookie>) = cookies
        .iter()
        .partition(|c| c.expires.is_none_or(|t| t > now));
    if !expired.is_empty() {
        tracing::warn!(
            expired = expired.len(),
            of = cookies.len(),
            "cookies of the login state have expired and are left out"
        );
    }
    if live.is_empty() {
        return Err(SessionError::Apply {
            reason: format!(
                "all {} cookies of the login state have expired; export it again while logged in \
                 and import it with `bevara session import`",
                cookies.len()
            ),
        });
    }
    let params: Vec<CookieParam> = live.iter().map(|c| cookie_param(c)).collect();
    // Chromium drops a cookie it finds invalid (SameSite=None without
    // Secure, say) without an error, and refuses the whole call for some
    // malformed fields; so set all at once, fall back to one by one, and
    // count what the cookie store holds afterwards.
    let batch = bounded(
        "Network.setCookies",
        page.execute(SetCookiesParams::new(params.clone())),
    )
    .await;
    if batch.is_err() {
        for param in params {
            // A refusal shows up as a missing cookie below.
            let _refused = bounded(
                "Network.setCookies",
                page.execute(SetCookiesParams::new(vec![param])),
            )
            .await;
        }
    }
    let urls: BTreeSet<String> = live.iter().map(|c| cookie_url(c)).collect();
    let held = bounded(
        "Network.getCookies",
        page.execute(GetCookiesParams {
            urls: Some(urls.into_iter().collect()),
        }),
    )
    .await?
    .result
    .cookies;
    let mut applied = 0;
    for (i, c) in live.iter().enumerate() {
        let found = held.iter().any(|h| {
            h.name == c.name
                && h.path == c.path
                && h.domain.trim_start_matches('.') == c.domain.trim_start_matches('.')
        });
        if found {
            applied += 1;
        } else {
            tracing::warn!(
                cookie = i + 1,
                domain = %c.domain,
                "Chromium refused a cookie of the login state; it is left out"
            );
        }
    }
    if applied == 0 {
        return Err(SessionError::Apply {
            reason: format!(
                "Chromium refused all {} cookies of the login state; export it again and import \
                 it with `bevara session import`",
                live.len()
            ),
        });
    }
    Ok(applied)
}

/// A URL the cookie is sent to, to find it in the cookie store: https, so
/// secure cookies count too.
fn cookie_url(c: &SessionCookie) -> String {
    format!("https://{}{}", c.domain.trim_start_matches('.'), c.path)
}

fn cookie_param(c: &SessionCookie) -> CookieParam {
    let mut p = CookieParam::new(c.name.clone(), c.value.clone());
    // A domain without a leading dot makes a host-only cookie, as in the export.
    p.domain = Some(c.domain.clone());
    p.path = Some(c.path.clone());
    p.secure = Some(c.secure);
    p.http_only = Some(c.http_only);
    p.same_site = match c.same_site.as_deref() {
        Some("Strict") => Some(CookieSameSite::Strict),
        Some("Lax") => Some(CookieSameSite::Lax),
        Some("None") => Some(CookieSameSite::None),
        _ => None,
    };
    p.expires = c.expires.map(TimeSinceEpoch::new);
    p
}

/// A script that writes `origin`'s items when, and only when, the document's
/// origin is that origin (frames of other sites run it too). Items the page
/// already has are left alone, so a token the site renews during the capture
/// is not put back to the imported one on the next navigation.
fn storage_script(origin: &OriginStorage) -> Result<String, SessionError> {
    let target = js_literal(&origin.origin, &origin.origin)?;
    let items = js_literal(&origin.items, &origin.origin)?;
    Ok(format!(
        "(() => {{ if (location.origin !== {target}) return; \
         try {{ for (const [k, v] of {items}) {{ \
         if (localStorage.getItem(k) === null) localStorage.setItem(k, v); }} }} \
         catch (_) {{}} }})();"
    ))
}

/// JSON is a JavaScript literal (U+2028/2029 included, since ES2019).
fn js_literal<T: serde::Serialize + ?Sized>(v: &T, origin: &str) -> Result<String, SessionError> {
    serde_json::to_string(v).map_err(|_| SessionError::Apply {
        reason: format!("cannot encode the localStorage items of {origin}"),
    })
}

/// Runs one DevTools call within [`APPLY_STEP_TIMEOUT`].
async fn bounded<T>(
    what: &'static str,
    fut: impl std::future::Future<Output = chromiumoxide::error::Result<T>>,
) -> Result<T, SessionError> {
    match tokio::time::timeout(APPLY_STEP_TIMEOUT, fut).await {
        Err(_) => Err(SessionError::Apply {
            reason: format!(
                "DevTools command {what} did not answer within {} s",
                APPLY_STEP_TIMEOUT.as_secs()
            ),
        }),
        Ok(Err(e)) => Err(SessionError::Apply {
            reason: format!("DevTools command {what} failed: {e}"),
        }),
        Ok(Ok(v)) => Ok(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_script_escapes_and_checks_the_origin() {
        let o = OriginStorage {
            origin: "https://example.org".into(),
            items: vec![("k".into(), "a\"b</script>\u{2028}\\".into())],
        };
        let s = storage_script(&o).unwrap();
        assert!(
            s.contains(r#"location.origin !== "https://example.org""#),
            "{s}"
        );
        assert!(s.contains(r#"[["k","a\"b</script>"#), "{s}");
    }
}
