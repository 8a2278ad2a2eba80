//! The navigation gate: while a capture's pass clicks, the page may not
//! leave. Every main-frame document request of the capture's page is paused
//! by the DevTools Fetch domain and let through only while Bevara itself is
//! navigating (loading the channel, a further comment page, a post); any
//! other (a form a click submitted, a script assigning `location`, a meta
//! refresh) is aborted before it leaves, so the document being archived
//! stays in place. Frames' own documents are let through: the egress guard
//! checks where they go.
//!
//! Only documents are paused, so sub-resources cost nothing here.

use super::{cdp_error, BrowserError};
use chromiumoxide::cdp::browser_protocol::fetch::{
    ContinueRequestParams, EnableParams, EventRequestPaused, FailRequestParams, RequestPattern,
    RequestStage,
};
use chromiumoxide::cdp::browser_protocol::network::{ErrorReason, ResourceType};
use chromiumoxide::Page;
use futures::StreamExt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::task::JoinHandle;

/// A navigation that was stopped before it left the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cancelled {
    pub url: String,
    pub method: String,
}

#[derive(Default)]
struct Shared {
    /// Bevara's own navigations in progress; the gate is open while > 0.
    open: AtomicUsize,
    cancelled: Mutex<Vec<Cancelled>>,
}

/// The gate of one page. Dropping it stops the task that answers the
/// paused requests (the page's context is disposed with it).
pub struct NavGate {
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

/// Open while it lives: Bevara's own navigation.
pub struct Opened {
    shared: Arc<Shared>,
}

impl Drop for Opened {
    fn drop(&mut self) {
        self.shared.open.fetch_sub(1, Ordering::SeqCst);
    }
}

impl NavGate {
    /// Starts pausing `page`'s main-frame documents.
    pub async fn install(page: &Page) -> Result<Self, BrowserError> {
        let shared = Arc::new(Shared::default());
        let mut events = page
            .event_listener::<EventRequestPaused>()
            .await
            .map_err(|e| cdp_error("Fetch.requestPaused", e))?;
        let main = page.target_id().as_ref().to_string();
        let pattern = RequestPattern {
            url_pattern: Some("*".into()),
            resource_type: Some(ResourceType::Document),
            request_stage: Some(RequestStage::Request),
        };
        let enable = EnableParams {
            patterns: Some(vec![pattern]),
            handle_auth_requests: None,
        };
        page.execute(enable)
            .await
            .map_err(|e| cdp_error("Fetch.enable", e))?;
        let task_shared = shared.clone();
        let task_page = page.clone();
        let task = tokio::spawn(async move {
            while let Some(ev) = events.next().await {
                let own_frame = ev.frame_id.as_ref() == main;
                let open = task_shared.open.load(Ordering::SeqCst) > 0;
                // A redirect hop of a let-through navigation is let through.
                let hop = ev.redirected_request_id.is_some() && open;
                let result = if !own_frame || open || hop {
                    task_page
                        .execute(ContinueRequestParams::new(ev.request_id.clone()))
                        .await
                        .map(drop)
                } else {
                    tracing::info!(url = %ev.request.url, method = %ev.request.method,
                        "cancelled a navigation the page started by itself");
                    if let Ok(mut c) = task_shared.cancelled.lock() {
                        c.push(Cancelled {
                            url: ev.request.url.clone(),
                            method: ev.request.method.clone(),
                        });
                    }
                    task_page
                        .execute(FailRequestParams::new(
                            ev.request_id.clone(),
                            ErrorReason::Aborted,
                        ))
                        .await
                        .map(drop)
                };
                if let Err(e) = result {
                    tracing::debug!(error = %e, "a paused request was gone before its answer");
                }
            }
        });
        Ok(Self { shared, task })
    }

    /// Lets main-frame documents through until the returned guard drops.
    pub fn open(&self) -> Opened {
        self.shared.open.fetch_add(1, Ordering::SeqCst);
        Opened {
            shared: self.shared.clone(),
        }
    }

    /// The navigations stopped so far.
    pub fn cancelled(&self) -> Vec<Cancelled> {
        self.shared
            .cancelled
            .lock()
            .map(|c| c.clone())
            .unwrap_or_default()
    }
}

impl Drop for NavGate {
    fn drop(&mut self) {
        self.task.abort();
    }
}
