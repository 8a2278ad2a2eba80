//! How Bevara handles a page before it is captured: dismiss consent dialogs
//! and login nags, scroll to the end of the feed, and click every expander
//! ("Visa fler kommentarer", "Visa 2 svar", "See more", …) until nothing new
//! appears, within budgets.
//!
//! The generic behaviour works on any page: it finds controls by role and
//! visible text in Swedish and English and waits on observed DOM changes, not
//! on a site's markup. The in-page half is `behaviour/kit.js`; the loop that
//! drives it and keeps the budgets is [`run_pass`].

mod each;
pub mod items;
mod pass;
pub mod profile;

pub use each::{Opened, PostOpener};
pub use pass::{
    run_pass, run_pass_into, same_document, Pacing, PassBudget, PassError, PassReport, PostReport,
    Progress,
};
pub use profile::{OpenEach, Profile, ProfileError, Profiles};

use serde::{Deserialize, Serialize};

/// The in-page kit, installed into each document before the pass: the
/// behaviour, then the items found by structure (`structure.js`).
pub const KIT_JS: &str = concat!(
    include_str!("behaviour/kit.js"),
    "\n",
    include_str!("behaviour/structure.js")
);

/// A menu to set: the control that opens it and the item to choose, as label patterns.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MenuChoice {
    pub open: String,
    pub choose: String,
}

/// Text patterns (case-insensitive regular expressions over the control's
/// normalized label) and waits that make up a behaviour.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Behaviour {
    pub name: String,
    /// Accept buttons of consent dialogs.
    pub consent_buttons: Vec<String>,
    /// A dialog counts as a consent dialog when its text matches one of these.
    pub consent_context: Vec<String>,
    /// Close controls of login nags (text or aria-label).
    pub close_buttons: Vec<String>,
    /// A dialog counts as a login nag when its text matches one of these.
    pub nag_context: Vec<String>,
    /// Expanders: more comments, replies, "see more".
    pub expanders: Vec<String>,
    /// Labels never clicked even if an expander pattern matches.
    pub never_click: Vec<String>,
    /// Expanders clicked again while they stay on the page ("load more");
    /// others are clicked once, as a second click would close them.
    #[serde(default)]
    pub repeatable: Vec<String>,
    /// Whether expanders are also found by meaning: same-page controls in or
    /// near a comment area whose label carries a count, names a known
    /// expander before an ellipsis, or ends a thread (`kit.js`, `byMeaning`).
    #[serde(default)]
    pub expand_by_meaning: bool,
    /// What marks a comment area: patterns over an element's id, class and
    /// ARIA label, and over its heading's text.
    #[serde(default)]
    pub comment_areas: Vec<String>,
    /// Labels with a count that expand in a comment area ("3 dolda svar",
    /// "visa alla 12", "12 more").
    #[serde(default)]
    pub count_expanders: Vec<String>,
    /// Labels never taken for an expander found by meaning: like, reply,
    /// share, report, sign in, sort, write.
    #[serde(default)]
    pub not_expanders: Vec<String>,
    /// Link texts of further comment pages, anywhere on the page ("Äldre kommentarer").
    #[serde(default)]
    pub comment_page_texts: Vec<String>,
    /// Page link texts that lead to further comment pages inside a comment
    /// area ("Nästa", "»", "2"), matched over the label and the raw text.
    #[serde(default)]
    pub page_link_texts: Vec<String>,
    /// URL shapes of comment pages (`/comment-page-2`, `cpage=2`, `page=2`);
    /// taken away, what is left is the page's own address.
    #[serde(default)]
    pub comment_page_urls: Vec<String>,
    /// CSS selectors of expanders that have no usable label (icon buttons).
    #[serde(default)]
    pub expander_selectors: Vec<String>,
    /// Menus to set before expanding, e.g. comment order "Mest relevanta" →
    /// "Alla kommentarer": open a control matching `open`, then click the
    /// menu item matching `choose`.
    #[serde(default)]
    pub menu_choices: Vec<MenuChoice>,
    /// CSS selectors of overlays removed outright (nags with no close control).
    #[serde(default)]
    pub remove_selectors: Vec<String>,
    /// Clicks on one element at most (a "more comments" button loading batches).
    pub max_per_element: u32,
    /// An element is clicked again no sooner than this.
    pub reclick_ms: u32,
    /// How long to wait for the change an expander click causes.
    pub expander_wait_ms: u64,
    /// Quiet time (no DOM mutations) that counts as settled.
    pub quiet_ms: u64,
    /// How long to wait at the bottom for more content to load.
    pub end_wait_ms: u64,
    /// Consecutive waits at the bottom without growth that mean the end of the feed.
    pub end_checks: u32,
    /// One scroll step, as a fraction of the viewport height.
    pub scroll_step: f64,
}

impl Default for Behaviour {
    fn default() -> Self {
        Self::generic()
    }
}

impl Behaviour {
    /// The behaviour for any page: the `[behaviour]` of the built-in generic profile.
    pub fn generic() -> Self {
        profile::Profile::generic().behaviour
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use regex_lite::Regex;

    fn any(list: &[String], text: &str) -> bool {
        list.iter()
            .any(|p| Regex::new(&format!("(?i){p}")).unwrap().is_match(text))
    }

    #[test]
    fn expander_labels() {
        let b = Behaviour::generic();
        for yes in [
            "visa fler kommentarer",
            "visa 2 svar",
            "visa alla 23 kommentarer",
            "visa mer",
            "läs mer",
            "läs in fler kommentarer",
            "…mer",
            "12 svar",
            "see more",
            "view more comments",
            "view all 5 replies",
            "3 replies",
            "load more",
            "show more replies",
        ] {
            assert!(any(&b.expanders, yes), "{yes} should expand");
        }
        for no in [
            "visa mer om kommunen",
            "dela",
            "gilla",
            "svara",
            "mer",
            "more",
            "logga in",
        ] {
            assert!(!any(&b.expanders, no), "{no} should not expand");
        }
        assert!(any(&b.never_click, "dölj svar"));
    }

    #[test]
    fn expanders_by_meaning_labels() {
        let b = Behaviour::generic();
        assert!(b.expand_by_meaning);
        for yes in [
            "3 dolda svar",
            "1 dolt svar",
            "visa alla 12",
            "12 more",
            "show all 7",
            "svar (4)",
            "2 fler kommentarer",
        ] {
            assert!(any(&b.count_expanders, yes), "{yes} has a count");
        }
        for no in ["gilla · 4", "3 maj 2025 kl. 10:12", "2 tim", "sida 2"] {
            assert!(!any(&b.count_expanders, no), "{no} is no expander");
        }
        for never in [
            "gilla · 4",
            "svara",
            "reply",
            "dela",
            "rapportera",
            "logga in för att kommentera",
            "sortera: nyaste",
            "skriv en kommentar…",
            "prenumerera",
            "like",
            "share",
        ] {
            assert!(any(&b.not_expanders, never), "{never} is an action");
        }
        for fine in [
            "3 dolda svar",
            "visa alla 12",
            "fortsätt tråden",
            "3 replies",
        ] {
            assert!(!any(&b.not_expanders, fine), "{fine}");
        }
        for area in [
            "wp-block-comments",
            "x7 kommentarer",
            "42 svar till ”trafiken”",
            "disqus_thread",
        ] {
            assert!(any(&b.comment_areas, area), "{area}");
        }
        assert!(!any(&b.comment_areas, "svart is-responsive"));
        for text in ["äldre kommentarer", "newer comments"] {
            assert!(any(&b.comment_page_texts, text), "{text}");
        }
        for url in [
            "/2025/03/post/comment-page-2/",
            "/post/?cpage=3",
            "/t?page=2",
        ] {
            assert!(any(&b.comment_page_urls, url), "{url}");
        }
    }

    #[test]
    fn consent_labels() {
        let b = Behaviour::generic();
        for yes in [
            "tillåt alla cookies",
            "godkänn alla",
            "acceptera",
            "accept all",
            "allow all cookies",
        ] {
            assert!(any(&b.consent_buttons, yes), "{yes}");
        }
        for no in [
            "neka valfria cookies",
            "hantera inställningar",
            "avvisa alla",
        ] {
            assert!(!any(&b.consent_buttons, no), "{no}");
        }
    }
}
