//! Further pages of the same content (profiles whose `pagination.max_pages`
//! is above 1): a blog post's older comment pages, found by the profile's
//! `pagination.next` links and by meaning, each loaded through the checked
//! page path, passed, and captured as
//! `screenshot-pN.png` and `text-pN.txt`, its items joining the snapshot's.
//! A page that repeats one already captured is let go: WordPress shows its
//! newest comments both at the post's address and at `comment-page-N/`.

use super::recording::Recorder;
use super::step::{Failed, Step};
use super::Produced;
use crate::behaviour::items::Collector;
use crate::behaviour::{Behaviour, KIT_JS};
use crate::browser::{eval, BrowserError};
use std::collections::VecDeque;
use std::time::Duration;

impl Step<'_> {
    /// Follows the profile's `pagination.next` links from the channel page
    /// (`start_url`, already captured), up to `pagination.max_pages` pages.
    /// Each page goes through the checked page path; one that fails, or a
    /// deadline or page limit that stops them, is a warning and what it
    /// returns: why the snapshot is truncated.
    pub async fn further_pages(
        &self,
        channel_url: &url::Url,
        collected: &mut Collector,
        produced: &mut Vec<Produced>,
        pages: &mut Vec<String>,
        warnings: &mut Vec<String>,
    ) -> Result<Option<String>, Failed> {
        let p = &self.profile.pagination;
        if p.max_pages <= 1 {
            return Ok(None);
        }
        let links = || next_links(self.page, &p.next, channel_url);
        let mut visited = vec![self.start_url.to_string()];
        // Repeats: not pages of their own, not to be loaded again.
        let mut skipped: Vec<String> = Vec::new();
        let mut truncated = None;
        let mut queue: VecDeque<String> = links().await.map_err(self.browser_failed())?.into();
        if queue.is_empty() {
            return Ok(None);
        }
        let bound = || {
            self.deadline.bound(Duration::from_secs(
                self.settings.capture.artifact_timeout_secs,
            ))
        };
        // The texts of the pages captured, to know a page met again under
        // another address when its items cannot tell (none found).
        let mut texts: Vec<String> = vec![eval(self.page, super::PAGE_TEXT_JS, bound())
            .await
            .map_err(self.browser_failed())?];
        while let Some(href) = queue.pop_front() {
            if visited.contains(&href) || skipped.contains(&href) {
                continue;
            }
            if visited.len() >= p.max_pages as usize {
                warnings.push(format!(
                    "stopped at pagination.max_pages = {}; {href} and later pages were not captured",
                    p.max_pages
                ));
                truncated.get_or_insert(format!("pagination.max_pages ({})", p.max_pages));
                break;
            }
            if self.deadline.pass_left().is_zero() {
                warnings.push(format!(
                    "the capture's deadline (capture.max_duration_secs = {} s) left no time for {href} and later pages",
                    self.deadline.total().as_secs()
                ));
                truncated
                    .get_or_insert(format!("duration ({} s)", self.deadline.total().as_secs()));
                break;
            }
            visited.push(href.clone());
            let n = visited.len();
            if let Some(tx) = self.progress {
                tx.send_modify(|s| s.phase = "next page");
            }
            if let Err((e, _)) = self.open_content(&href).await {
                if e.exit_code() == crate::exit::ExitCode::Browser {
                    return Err((e, Some(self.start_url.to_string())));
                }
                warnings.push(format!(
                    "page {n} ({href}) is missing from this snapshot: {e}"
                ));
                truncated.get_or_insert(format!("page {n} did not load"));
                continue;
            }
            // With recording on, each further page is recorded as its own
            // video (the channel page's ended before its screenshot).
            let recorder = match self.record {
                None => None,
                Some((opts, _)) => {
                    let video = self
                        .work
                        .join(format!("recording-p{n}.{}", opts.format.extension()));
                    match Recorder::start(self.page, &video, opts.clone(), None).await {
                        Ok(r) => Some(r),
                        Err(e) => {
                            warnings.push(format!("page {n} ({href}) is not recorded: {e}"));
                            None
                        }
                    }
                }
            };
            let pacing = recorder.as_ref().and(self.record.map(|(_, p)| p));
            let more = self.pass_here(&href, self.budget, pacing).await;
            let recorded = match recorder {
                None => None,
                Some(r) => match r.stop().await {
                    Ok(stats) => Some(stats),
                    Err(e) => {
                        warnings.push(format!(
                            "the recording of page {n} ({href}) failed and was left out: {e}"
                        ));
                        None
                    }
                },
            };
            let mut more = more?;
            warnings.extend(more.warnings.iter().map(|w| format!("page {n}: {w}")));
            if let Some(why) = &more.stopped_by {
                truncated.get_or_insert(format!("page {n}: {why}"));
            }
            let text: String = eval(self.page, super::PAGE_TEXT_JS, bound())
                .await
                .map_err(self.browser_failed())?;
            let repeated = if more.collected.is_empty() {
                texts.contains(&text)
            } else {
                !more.collected.has_new_for(collected)
            };
            if repeated {
                tracing::debug!(%href, "a page already captured, under another address");
                visited.pop();
                skipped.push(href);
                if let Some(s) = &recorded {
                    let _ = std::fs::remove_file(&s.path);
                }
                continue;
            }
            collected.merge(std::mem::take(&mut more.collected));
            let names = (format!("screenshot-p{n}.png"), format!("text-p{n}.txt"));
            self.shoot((&names.0, &names.1), &href, &text, false, produced)
                .await?;
            if let Some(s) = recorded {
                let name = format!("recording-p{n}.{}", s.format.extension());
                produced.push(Produced::recording(name, &s));
            }
            pages.push(href.clone());
            texts.push(text);
            for link in links().await.map_err(self.browser_failed())? {
                if !visited.contains(&link) && !skipped.contains(&link) && !queue.contains(&link) {
                    queue.push_back(link);
                }
            }
        }
        Ok(truncated)
    }
}

/// Links to further pages of the same content, same host only, absolute:
/// those `selector` names, and those the kit finds by meaning (comment
/// pagination by its link text or URL shape, see `B.commentPages` in
/// `kit.js`), with the patterns of the profile whose pass ran on the page,
/// else the generic ones.
async fn next_links(
    page: &chromiumoxide::Page,
    selector: &str,
    base: &url::Url,
) -> Result<Vec<String>, BrowserError> {
    let fallback = serde_json::to_string(&Behaviour::generic()).unwrap_or_else(|_| "{}".into());
    let selector = serde_json::to_string(selector).unwrap_or_else(|_| "''".into());
    let js = format!(
        "(() => {{ if (!window.__bevara) {{ {KIT_JS} }} return __bevara.commentPages({selector}, {fallback}); }})()"
    );
    let links: Vec<String> = eval(page, &js, Duration::from_secs(10)).await?;
    let mut out: Vec<String> = Vec::new();
    for mut u in links.iter().filter_map(|l| url::Url::parse(l).ok()) {
        if u.host_str() != base.host_str() || !matches!(u.scheme(), "http" | "https") {
            continue;
        }
        u.set_fragment(None);
        let u = u.to_string();
        if !out.contains(&u) {
            out.push(u);
        }
    }
    Ok(out)
}
