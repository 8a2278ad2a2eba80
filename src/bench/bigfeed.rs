//! The big feed: a Facebook-like page of 25 posts with 327 items (posts,
//! comments, replies) behind 159 expanders ("Visa mer", "Visa fler kommentarer",
//! "Visa N svar"), every piece of it fetched from the server with a fixed
//! latency. It is the page `bevara bench capture` measures and the capture
//! speed test reads back.
//!
//! Every item holds a unique token (`BFP01`, `BFC01_03`, `BFR01_03_02`) and
//! every text behind "Visa mer" another (`BFPM01`, `BFCM01_03`,
//! `BFRM01_03_02`); [`expected_tokens`] lists them with the kind and parent
//! the item should have in `items.json`. The markup is the kind the
//! `facebook` profile relies on: `role=article` posts with comments and
//! replies nested in them, `aria-label`s naming the author, `dir=auto`
//! messages, permalinks with `posts/` and `comment_id=`, generated class
//! names, Swedish labels and a cookie dialog at start. With `?tick=MS` in
//! its address the page changes its DOM every MS ms, as a live platform's
//! page never stops changing.
//!
//! ```no_run
//! # async fn f() -> std::io::Result<()> {
//! use bevara::bench::bigfeed;
//! let router = bigfeed::bigfeed_router(bigfeed::DEFAULT_LATENCY);
//! let (addr, _server) = bevara::demo::serve(router).await?;
//! println!("http://{addr}{}", bigfeed::PATH);
//! # Ok(()) }
//! ```

mod content;
pub mod coverage;
mod serve;

pub use serve::{bigfeed_router, bigfeed_router_counted, Traffic};
use std::time::Duration;

/// Where the page is served.
pub const PATH: &str = "/bigfeed/";
/// Posts in the feed.
pub const POSTS: u32 = 25;
/// Posts per fetch as the reader nears the bottom.
pub const POST_BATCH: u32 = 3;
/// Comments a post shows before "Visa fler kommentarer".
pub const FIRST_COMMENTS: u32 = 2;
/// Comments per "Visa fler kommentarer".
pub const COMMENT_BATCH: u32 = 5;
/// The latency of every fetch, as on a busy platform.
pub const DEFAULT_LATENCY: Duration = Duration::from_millis(250);

pub(super) fn comment_count(n: u32) -> u32 {
    3 + (n * 7) % 9
}
pub(super) fn reply_count(n: u32, c: u32) -> u32 {
    if (n + c) % 3 == 0 {
        1 + (n + 2 * c) % 3
    } else {
        0
    }
}
pub(super) fn post_more(n: u32) -> bool {
    n % 5 != 0
}
pub(super) fn comment_more(n: u32, c: u32) -> bool {
    (n + 3 * c) % 8 == 0
}
pub(super) fn reply_more(n: u32, c: u32, r: u32) -> bool {
    (n + c + r) % 7 == 0
}

/// An item's kind as `items.json` gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Post,
    Comment,
    Reply,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Post => "post",
            Kind::Comment => "comment",
            Kind::Reply => "reply",
        }
    }
}

/// A token the capture must keep, and where it belongs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedToken {
    pub token: String,
    pub kind: Kind,
    /// The token of the item holding it (itself, unless it is behind "Visa mer").
    pub item: String,
    /// The token of the parent item: a comment's post, a reply's comment.
    pub parent: Option<String>,
    /// Behind the item's "Visa mer".
    pub see_more: bool,
}

/// What the feed holds, and the clicks it takes to show all of it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FeedCounts {
    pub posts: usize,
    pub comments: usize,
    pub replies: usize,
    /// "Visa mer" controls (posts, comments and replies).
    pub see_more: usize,
    /// "Visa fler kommentarer" clicks.
    pub more_comments: usize,
    /// "Visa N svar" controls.
    pub reply_threads: usize,
}

impl FeedCounts {
    pub fn items(&self) -> usize {
        self.posts + self.comments + self.replies
    }
    pub fn expanders(&self) -> usize {
        self.see_more + self.more_comments + self.reply_threads
    }
}

pub fn post_token(n: u32) -> String {
    format!("BFP{n:02}")
}
pub fn comment_token(n: u32, c: u32) -> String {
    format!("BFC{n:02}_{c:02}")
}
pub fn reply_token(n: u32, c: u32, r: u32) -> String {
    format!("BFR{n:02}_{c:02}_{r:02}")
}
pub(super) fn post_more_token(n: u32) -> String {
    format!("BFPM{n:02}")
}
pub(super) fn comment_more_token(n: u32, c: u32) -> String {
    format!("BFCM{n:02}_{c:02}")
}
pub(super) fn reply_more_token(n: u32, c: u32, r: u32) -> String {
    format!("BFRM{n:02}_{c:02}_{r:02}")
}

/// Every token of the feed, in page order: each item's own, then the one
/// behind its "Visa mer", with the kind and parent its item should have.
pub fn expected_tokens() -> Vec<ExpectedToken> {
    let mut out = Vec::new();
    let mut push = |token: String, kind, item: &str, parent: Option<&String>, see_more| {
        out.push(ExpectedToken {
            token,
            kind,
            item: item.to_string(),
            parent: parent.cloned(),
            see_more,
        })
    };
    for n in 1..=POSTS {
        let p = post_token(n);
        push(p.clone(), Kind::Post, &p, None, false);
        if post_more(n) {
            push(post_more_token(n), Kind::Post, &p, None, true);
        }
        for c in 1..=comment_count(n) {
            let ct = comment_token(n, c);
            push(ct.clone(), Kind::Comment, &ct, Some(&p), false);
            if comment_more(n, c) {
                push(comment_more_token(n, c), Kind::Comment, &ct, Some(&p), true);
            }
            for r in 1..=reply_count(n, c) {
                let rt = reply_token(n, c, r);
                push(rt.clone(), Kind::Reply, &rt, Some(&ct), false);
                if reply_more(n, c, r) {
                    let more = reply_more_token(n, c, r);
                    push(more, Kind::Reply, &rt, Some(&ct), true);
                }
            }
        }
    }
    out
}

/// What the feed holds and the expander clicks it takes.
pub fn counts() -> FeedCounts {
    let mut k = FeedCounts {
        posts: POSTS as usize,
        ..Default::default()
    };
    for n in 1..=POSTS {
        let comments = comment_count(n);
        k.comments += comments as usize;
        k.see_more += post_more(n) as usize;
        k.more_comments += comments
            .saturating_sub(FIRST_COMMENTS)
            .div_ceil(COMMENT_BATCH) as usize;
        for c in 1..=comments {
            let replies = reply_count(n, c);
            k.replies += replies as usize;
            k.reply_threads += (replies > 0) as usize;
            k.see_more += comment_more(n, c) as usize;
            k.see_more += (1..=replies).filter(|&r| reply_more(n, c, r)).count();
        }
    }
    k
}

/// True when `token` occurs in `text` as a whole word (not as the start of
/// a longer token).
pub fn has_token(text: &str, token: &str) -> bool {
    text.match_indices(token).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + token.len()..].chars().next();
        let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
        !word(before) && !word(after)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_feed_is_the_size_the_benchmark_promises() {
        let k = counts();
        assert_eq!((k.posts, k.comments, k.replies), (25, 181, 121));
        assert_eq!((k.see_more, k.more_comments, k.reply_threads), (62, 37, 60));
        let tokens = expected_tokens();
        assert_eq!(tokens.len(), k.items() + k.see_more);
        let mut seen = std::collections::HashSet::new();
        for t in &tokens {
            assert!(seen.insert(t.token.clone()), "{} twice", t.token);
        }
    }

    #[test]
    fn tokens_match_as_whole_words_only() {
        assert!(has_token("Ref BFP01.", "BFP01"));
        assert!(has_token("(BFC01_03)", "BFC01_03"));
        assert!(!has_token("(BFC01_031)", "BFC01_03"));
        assert!(!has_token("BFC01_03_02", "BFC01_03"));
        assert!(!has_token("XBFP01", "BFP01"));
    }
}
