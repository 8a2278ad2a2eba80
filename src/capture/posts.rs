//! Posts opened one by one (profiles with `[open_each]`): each post's dialog
//! is scrolled and expanded, then captured as `post-NNN.png` (the dialog, its
//! scroller unrolled below it) and `post-NNN.txt`, and closed. A post link
//! that opens no dialog is loaded and captured as a page of its own.

use super::step::{Failed, Step};
use super::Produced;
use crate::behaviour::{Opened, PassBudget, PassReport, PostOpener, PostReport};
use crate::browser::eval;
use std::time::{Duration, Instant};

impl Step<'_> {
    /// The budget left for one post, or why none is left.
    fn left(&self, report: &PassReport) -> Result<PassBudget, String> {
        let b = self.budget;
        if self.deadline.pass_left().is_zero() {
            return Err(format!("duration ({} s)", self.deadline.total().as_secs()));
        }
        // Heights are each post's own, not shared: 0 never reaches the budget.
        if let Some(what) = b.reached(
            Duration::ZERO,
            0,
            report.expanders_clicked,
            report.scroll_steps,
        ) {
            return Err(what);
        }
        Ok(PassBudget {
            max_duration: self.deadline.pass_left(),
            deadline: Some(self.deadline.total()),
            max_height: b.max_height,
            max_clicks: b.max_clicks - report.expanders_clicked,
            max_scroll_steps: b.max_scroll_steps - report.scroll_steps,
        })
    }

    /// Opens every post the pass saw, adding what each showed to `report`
    /// and its artifacts to `produced`.
    pub async fn open_posts(
        &self,
        report: &mut PassReport,
        produced: &mut Vec<Produced>,
    ) -> Result<(), Failed> {
        let Some(opener) = PostOpener::new(self.page, self.profile) else {
            return Ok(());
        };
        let mut targets = opener.targets().await.map_err(self.browser_failed())?;
        let max = self.profile.open_each.max as usize;
        if targets.len() > max {
            report.warnings.push(format!(
                "the page links to {} posts; only the first {max} (open_each.max) were opened",
                targets.len()
            ));
            report
                .stopped_by
                .get_or_insert(format!("open_each.max ({max})"));
            targets.truncate(max);
        }
        let total = targets.len();
        for (i, href) in targets.iter().enumerate() {
            let budget = match self.left(report) {
                Ok(b) => b,
                Err(what) => {
                    report.warnings.push(format!(
                        "the pass stopped at its {what} budget after opening {i} of {total} posts; {href} and later posts are missing"
                    ));
                    report.stopped_by.get_or_insert(what);
                    break;
                }
            };
            if let Some(tx) = self.progress {
                tx.send_modify(|p| {
                    p.phase = "opening posts";
                    p.steps = i as u64 + 1;
                });
            }
            let post_started = Instant::now();
            let mut post = PostReport {
                index: i + 1,
                url: href.clone(),
                ..Default::default()
            };
            let opened = opener
                .open(href, report)
                .await
                .map_err(self.pass_failed(href))?;
            let name = format!("post-{:03}", i + 1);
            let mut r = match opened {
                Opened::Dialog => {
                    post.opened_as = "dialog".into();
                    let r = opener
                        .expand(&budget, self.pacing, self.progress)
                        .await
                        .map_err(self.pass_failed(href))?;
                    let text = opener.text().await.map_err(self.browser_failed())?;
                    self.shoot(
                        (&format!("{name}.png"), &format!("{name}.txt")),
                        href,
                        &text,
                        true,
                        produced,
                    )
                    .await?;
                    match opener.close().await.map_err(self.browser_failed())? {
                        Some(how) => tracing::debug!(post = %href, how, "post dialog closed"),
                        None => {
                            report.warnings.push(format!(
                                "the dialog of {href} would not close (close control, Escape, back); the page was reloaded"
                            ));
                            self.reload(&opener, report).await?;
                        }
                    }
                    r
                }
                Opened::Page | Opened::Route => {
                    post.opened_as = "page".into();
                    if opened == Opened::Page {
                        if let Err((e, _)) = self.open_content(href).await {
                            if e.exit_code() == crate::exit::ExitCode::Browser {
                                return Err((e, Some(self.start_url.to_string())));
                            }
                            post.opened_as = "failed".into();
                            report.warnings.push(format!(
                                "post {} ({href}) is missing from this snapshot: {e}",
                                i + 1
                            ));
                            report
                                .stopped_by
                                .get_or_insert(format!("post {} did not load", i + 1));
                            report.posts.push(post);
                            self.reload(&opener, report).await?;
                            continue;
                        }
                    }
                    let r = self.pass_here(href, &budget, self.pacing).await?;
                    let text: String = eval(
                        self.page,
                        super::PAGE_TEXT_JS,
                        self.deadline.bound(Duration::from_secs(10)),
                    )
                    .await
                    .map_err(self.browser_failed())?;
                    self.shoot(
                        (&format!("{name}.png"), &format!("{name}.txt")),
                        href,
                        &text,
                        false,
                        produced,
                    )
                    .await?;
                    self.reload(&opener, report).await?;
                    r
                }
                Opened::Missing | Opened::Nothing => {
                    post.opened_as = if opened == Opened::Missing {
                        "missing".into()
                    } else {
                        "no-dialog".into()
                    };
                    report.warnings.push(if opened == Opened::Missing {
                        format!("the link to post {href} was gone from the page when its turn came; the post is missing")
                    } else {
                        format!(
                            "clicking the link to post {href} opened nothing within {} ms; the post is missing",
                            self.profile.open_each.open_wait_ms
                        )
                    });
                    report.posts.push(post);
                    continue;
                }
            };
            post.items = r.collected.len();
            post.expanders_clicked = r.expanders_clicked;
            post.scroll_steps = r.scroll_steps;
            post.artifacts = vec![format!("{name}.png"), format!("{name}.txt")];
            post.duration_ms = post_started.elapsed().as_millis() as u64;
            r.warnings = std::mem::take(&mut r.warnings)
                .into_iter()
                .map(|w| format!("post {}: {w}", i + 1))
                .collect();
            report.absorb(r);
            report.posts.push(post);
        }
        Ok(())
    }

    /// Back to the channel page, fresh, for the next post.
    async fn reload(&self, opener: &PostOpener<'_>, report: &mut PassReport) -> Result<(), Failed> {
        self.open_page(self.start_url).await?;
        opener.returned(report).await.map_err(self.browser_failed())
    }
}
