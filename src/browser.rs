//! Launching Debian's Chromium and giving each capture a fresh browser context.
//!
//! One Chromium process serves a worker. A task drains chromiumoxide's
//! handler and marks the browser dead when the DevTools connection ends, so
//! a crashed Chromium fails the capture in progress instead of hanging it.
//! Each capture gets its own browser context (no shared cookies or cache) and
//! a page emulating locale, time zone and viewport; downloads are denied and
//! JavaScript dialogs are dismissed so they cannot block the page.

pub mod childenv;
pub mod guard;
pub mod navgate;

use crate::config::BrowserSettings;
use chromiumoxide::browser::{Browser as CdpBrowser, BrowserConfig};
use chromiumoxide::cdp::browser_protocol::browser::{
    BrowserContextId, SetDownloadBehaviorBehavior, SetDownloadBehaviorParams,
};
use chromiumoxide::cdp::browser_protocol::emulation::{
    SetDeviceMetricsOverrideParams, SetLocaleOverrideParams, SetTimezoneOverrideParams,
};
use chromiumoxide::cdp::browser_protocol::network::SetUserAgentOverrideParams;
use chromiumoxide::cdp::browser_protocol::page::{
    EventJavascriptDialogOpening, HandleJavaScriptDialogParams,
};
use chromiumoxide::cdp::browser_protocol::target::{
    CreateBrowserContextParams, CreateTargetParams,
};
use chromiumoxide::handler::viewport::Viewport;
use chromiumoxide::Page;
use futures::StreamExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// The switches every Bevara Chromium gets. The background-networking ones keep
/// Chromium from calling home, which misbehaves on closed networks.
pub const CHROMIUM_ARGS: &[&str] = &[
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-features=Translate,MediaRouter,OptimizationHints,AutofillServerCommunication",
    "--hide-scrollbars",
    "--mute-audio",
    "--font-render-hinting=none",
];

/// Upper bound for a single DevTools command; Bevara puts tighter bounds around
/// each step, this only catches what slips through.
const CDP_REQUEST_TIMEOUT: Duration = Duration::from_secs(600);

/// A browser failure, with what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum BrowserError {
    #[error("Chromium not found at {0}: install it (apt-get install chromium) or set browser.chromium_path (BEVARA_BROWSER_CHROMIUM_PATH)")]
    NotFound(String),
    #[error("Chromium at {path} did not start: {reason}")]
    Launch { path: String, reason: String },
    #[error("Chromium is gone (crashed or killed); the capture can be retried")]
    Dead,
    #[error("the page's document was replaced while Bevara worked in it ({0})")]
    DocumentChanged(String),
    #[error("DevTools command {what} failed: {source}")]
    Cdp {
        what: &'static str,
        source: chromiumoxide::error::CdpError,
    },
    #[error("DevTools command {what} did not answer within {secs} s")]
    Timeout { what: &'static str, secs: u64 },
    #[error("cannot create a temporary profile directory: {0}")]
    Profile(std::io::Error),
}

/// A running Chromium.
pub struct Browser {
    inner: CdpBrowser,
    handler: JoinHandle<()>,
    dead: Arc<AtomicBool>,
    version: String,
    user_agent: String,
    settings: BrowserSettings,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts Chromium with a fresh profile directory.
    pub async fn launch(settings: &BrowserSettings) -> Result<Self, BrowserError> {
        let path = settings.chromium_path.display().to_string();
        if !settings.chromium_path.exists() {
            return Err(BrowserError::NotFound(path));
        }
        let profile = tempfile::Builder::new()
            .prefix("bevara-chromium-")
            .tempdir()
            .map_err(BrowserError::Profile)?;
        let mut args: Vec<String> = CHROMIUM_ARGS.iter().map(|s| s.to_string()).collect();
        args.push(format!("--lang={}", settings.locale));
        args.push(format!("--accept-lang={},sv,en", settings.locale));
        args.extend(settings.extra_args.iter().cloned());
        // Chromium gets a clean environment: no secret of Bevara's reaches it.
        let launcher = childenv::chromium_launcher(profile.path(), &settings.chromium_path)
            .map_err(BrowserError::Profile)?;
        let config = BrowserConfig::builder()
            .chrome_executable(&launcher)
            .no_sandbox()
            .user_data_dir(profile.path())
            .viewport(Viewport {
                width: settings.viewport_width,
                height: settings.viewport_height,
                device_scale_factor: Some(1.0),
                emulating_mobile: false,
                is_landscape: true,
                has_touch: false,
            })
            .window_size(settings.viewport_width, settings.viewport_height)
            .launch_timeout(Duration::from_secs(settings.launch_timeout_secs))
            .request_timeout(CDP_REQUEST_TIMEOUT)
            .args(args)
            .build()
            .map_err(|reason| BrowserError::Launch {
                path: path.clone(),
                reason,
            })?;
        let bound = Duration::from_secs(settings.launch_timeout_secs + 5);
        let (inner, mut handler) = tokio::time::timeout(bound, CdpBrowser::launch(config))
            .await
            .map_err(|_| BrowserError::Launch {
                path: path.clone(),
                reason: format!("no DevTools endpoint within {} s", bound.as_secs()),
            })?
            .map_err(|e| BrowserError::Launch {
                path: path.clone(),
                reason: e.to_string(),
            })?;
        let dead = Arc::new(AtomicBool::new(false));
        let dead_flag = dead.clone();
        let handler = tokio::spawn(async move {
            while let Some(event) = handler.next().await {
                if let Err(e) = event {
                    use chromiumoxide::error::CdpError;
                    match e {
                        CdpError::Ws(_) | CdpError::Io(_) | CdpError::ChannelSendError(_) => {
                            tracing::warn!(error = %e, "DevTools connection lost");
                            break;
                        }
                        // Messages chromiumoxide cannot parse (newer Chromium
                        // fields) are harmless.
                        other => tracing::debug!(error = %other, "DevTools message error"),
                    }
                }
            }
            dead_flag.store(true, Ordering::SeqCst);
        });
        let mut browser = Self {
            inner,
            handler,
            dead,
            version: String::new(),
            user_agent: String::new(),
            settings: settings.clone(),
            _profile: profile,
        };
        let v = browser
            .cdp("Browser.getVersion", browser.inner.version())
            .await?;
        browser.version = v.product;
        // Platforms serve "HeadlessChrome" a degraded page or a block; present
        // as the same Chromium without the headless marker.
        browser.user_agent = v.user_agent.replace("HeadlessChrome", "Chrome");
        Ok(browser)
    }

    /// `Chrome/156.0.…` as Chromium reports itself.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The user agent pages see.
    pub fn user_agent(&self) -> &str {
        &self.user_agent
    }

    pub fn is_alive(&self) -> bool {
        !self.dead.load(Ordering::SeqCst) && !self.handler.is_finished()
    }

    /// Runs one DevTools call with a bound, mapping a dead browser to [`BrowserError::Dead`].
    async fn cdp<T>(
        &self,
        what: &'static str,
        fut: impl std::future::Future<Output = chromiumoxide::error::Result<T>>,
    ) -> Result<T, BrowserError> {
        if !self.is_alive() {
            return Err(BrowserError::Dead);
        }
        let secs = 30;
        match tokio::time::timeout(Duration::from_secs(secs), fut).await {
            Err(_) => Err(if self.is_alive() {
                BrowserError::Timeout { what, secs }
            } else {
                BrowserError::Dead
            }),
            Ok(Err(source)) => Err(if self.is_alive() {
                BrowserError::Cdp { what, source }
            } else {
                BrowserError::Dead
            }),
            Ok(Ok(v)) => Ok(v),
        }
    }

    /// Opens a fresh, isolated browser context with one blank page set up for capture.
    pub async fn new_context(&self) -> Result<BrowserContext, BrowserError> {
        self.new_context_via(None).await
    }

    /// A fresh context whose every request goes through `proxy` (the
    /// egress guard), loopback included.
    pub async fn new_context_via(
        &self,
        proxy: Option<&str>,
    ) -> Result<BrowserContext, BrowserError> {
        let mut params = CreateBrowserContextParams::default();
        if let Some(p) = proxy {
            params.proxy_server = Some(p.to_string());
            // Chromium sends loopback addresses around a proxy unless told not to.
            params.proxy_bypass_list = Some("<-loopback>".into());
        }
        let context_id = self
            .cdp(
                "Target.createBrowserContext",
                self.inner.create_browser_context(params),
            )
            .await?;
        let mut params = CreateTargetParams::new("about:blank");
        params.browser_context_id = Some(context_id.clone());
        let page = self
            .cdp("Target.createTarget", self.inner.new_page(params))
            .await?;
        let ctx = BrowserContext {
            page,
            context_id,
            dead: self.dead.clone(),
            dialogs: None,
        };
        self.prepare(ctx).await
    }

    async fn prepare(&self, mut ctx: BrowserContext) -> Result<BrowserContext, BrowserError> {
        let s = &self.settings;
        let page = ctx.page.clone();
        self.cdp(
            "Emulation.setDeviceMetricsOverride",
            page.execute(SetDeviceMetricsOverrideParams::new(
                s.viewport_width as i64,
                s.viewport_height as i64,
                1.0,
                false,
            )),
        )
        .await?;
        let mut locale = SetLocaleOverrideParams::default();
        locale.locale = Some(s.locale.clone());
        self.cdp("Emulation.setLocaleOverride", page.execute(locale))
            .await?;
        self.cdp(
            "Emulation.setTimezoneOverride",
            page.execute(SetTimezoneOverrideParams::new(s.timezone.clone())),
        )
        .await?;
        let mut ua = SetUserAgentOverrideParams::new(self.user_agent.clone());
        ua.accept_language = Some(format!("{},sv;q=0.9,en;q=0.5", s.locale));
        self.cdp("Network.setUserAgentOverride", page.execute(ua))
            .await?;
        let mut downloads = SetDownloadBehaviorParams::new(SetDownloadBehaviorBehavior::Deny);
        downloads.browser_context_id = Some(ctx.context_id.clone());
        self.cdp("Browser.setDownloadBehavior", self.inner.execute(downloads))
            .await?;
        // A popup would take the page's place in the foreground and stall
        // its rendering (screenshots time out); the archived page stays.
        self.cdp(
            "Page.addScriptToEvaluateOnNewDocument",
            page.execute(
                chromiumoxide::cdp::browser_protocol::page::AddScriptToEvaluateOnNewDocumentParams::new(
                    "window.open = function () { return null; };",
                ),
            ),
        )
        .await?;
        // alert(), confirm() and beforeunload prompts would freeze the page.
        let mut events = self
            .cdp(
                "Page.javascriptDialogOpening",
                page.event_listener::<EventJavascriptDialogOpening>(),
            )
            .await?;
        let dialog_page = page.clone();
        ctx.dialogs = Some(tokio::spawn(async move {
            while let Some(ev) = events.next().await {
                tracing::info!(message = %ev.message, "dismissing a JavaScript dialog");
                let _ignored_if_already_closed = dialog_page
                    .execute(HandleJavaScriptDialogParams::new(false))
                    .await;
            }
        }));
        Ok(ctx)
    }

    /// Closes Chromium and waits for the process to end.
    pub async fn close(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(5), self.inner.close()).await;
        let _ = tokio::time::timeout(Duration::from_secs(5), self.inner.wait()).await;
        let _ = self.inner.kill().await;
        self.handler.abort();
    }

    /// The Chromium process id, for tests that kill it and for memory figures.
    pub fn pid(&mut self) -> Option<u32> {
        self.inner
            .get_mut_child()
            .and_then(|c| c.as_mut_inner().id())
    }

    /// Disposes a context and its page.
    pub async fn dispose(&self, ctx: BrowserContext) {
        if let Some(d) = &ctx.dialogs {
            d.abort();
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), ctx.page.close()).await;
        let _ = tokio::time::timeout(
            Duration::from_secs(5),
            self.inner.dispose_browser_context(ctx.context_id),
        )
        .await;
    }
}

/// One capture's isolated browser context and its page.
pub struct BrowserContext {
    pub page: Page,
    context_id: BrowserContextId,
    dead: Arc<AtomicBool>,
    dialogs: Option<JoinHandle<()>>,
}

impl BrowserContext {
    pub fn browser_alive(&self) -> bool {
        !self.dead.load(Ordering::SeqCst)
    }
}

/// Maps a DevTools error, recognising a lost connection as a dead browser.
pub fn cdp_error(what: &'static str, source: chromiumoxide::error::CdpError) -> BrowserError {
    use chromiumoxide::error::CdpError;
    match source {
        CdpError::ChannelSendError(_) | CdpError::Ws(_) | CdpError::NoResponse => {
            BrowserError::Dead
        }
        source => BrowserError::Cdp { what, source },
    }
}

/// DevTools' words for a document replaced while a call ran in it.
fn document_gone(message: &str) -> bool {
    message.contains("Cannot find context with specified id")
        || message.contains("Execution context was destroyed")
        || message.contains("Inspected target navigated or closed")
}

/// Evaluates `expression` in the page (awaiting a returned promise) and
/// deserializes its JSON value, within `bound`.
pub async fn eval<T: serde::de::DeserializeOwned>(
    page: &Page,
    expression: &str,
    bound: Duration,
) -> Result<T, BrowserError> {
    use chromiumoxide::cdp::js_protocol::runtime::EvaluateParams;
    let params = EvaluateParams::builder()
        .expression(expression)
        .return_by_value(true)
        .await_promise(true)
        .build()
        .map_err(|e| BrowserError::Cdp {
            what: "Runtime.evaluate",
            source: chromiumoxide::error::CdpError::ChromeMessage(e),
        })?;
    // Sent without an execution context id, so it runs in the main frame's
    // current document: an id remembered from a document that has since been
    // replaced would fail with "Cannot find context with specified id".
    let result = tokio::time::timeout(bound, page.execute(params))
        .await
        .map_err(|_| BrowserError::Timeout {
            what: "Runtime.evaluate",
            secs: bound.as_secs(),
        })?
        .map_err(|source| {
            let message = source.to_string();
            if document_gone(&message) {
                BrowserError::DocumentChanged(message)
            } else {
                cdp_error("Runtime.evaluate", source)
            }
        })?
        .result;
    if let Some(ex) = result.exception_details {
        return Err(BrowserError::Cdp {
            what: "Runtime.evaluate",
            source: chromiumoxide::error::CdpError::JavascriptException(Box::new(ex)),
        });
    }
    // `null` and `undefined` come back without a value.
    let value = result.result.value.unwrap_or(serde_json::Value::Null);
    serde_json::from_value(value).map_err(|e| BrowserError::Cdp {
        what: "Runtime.evaluate (result)",
        source: chromiumoxide::error::CdpError::Serde(e),
    })
}
