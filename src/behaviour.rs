//! How Bevara handles a page before it is captured: dismiss consent dialogs
//! and login nags, scroll to the end of the feed, and click every expander
//! ("Visa fler kommentarer", "Visa 2 svar", "See more", …) until nothing new
//! appears, within budgets.
//!
//! The generic behaviour works on any page: it finds controls by role and
//! visible text in Swedish and English and waits on observed DOM changes, not
//! on a site's markup. The in-page half is `behaviour/kit.js`; the loop that
//! drives it and keeps the budgets is [`run_pass`].

mod pass;

pub use pass::{run_pass, Pacing, PassBudget, PassError, PassReport, Progress};

use serde::{Deserialize, Serialize};

/// The in-page kit, installed into each document before the pass.
pub const KIT_JS: &str = include_str!("behaviour/kit.js");

/// Text patterns (case-insensitive regular expressions over the control's
/// normalized label) and waits that make up a behaviour.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
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

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

impl Behaviour {
    /// The behaviour for any page: Swedish and English labels of the big platforms.
    pub fn generic() -> Self {
        Self {
            name: "generic".into(),
            consent_buttons: strings(&[
                r"^(tillåt|godkänn|acceptera|accept|allow|agree to|jag godkänner|i agree|i accept|agree)( alla| all)?( cookies| kakor)?( och fortsätt| and continue)?$",
                r"^(ok|okej|jag förstår|förstått|got it|i understand|fortsätt|continue)$",
                r"^(tillåt|godkänn|acceptera) (alla )?(nödvändiga )?(cookies|kakor)$",
                r"^(allow|accept) (all|essential) (cookies|and continue)$",
            ]),
            consent_context: strings(&[
                r"cookie|kakor|samtycke|consent|gdpr|integritet|privacy|personuppgifter",
            ]),
            close_buttons: strings(&[
                r"^(stäng|close|dismiss|avvisa|inte nu|not now|kanske senare|maybe later|nej tack|no thanks|×|✕|✖|x)$",
                r"^(stäng|close) (dialogrutan|dialog|rutan|fönstret|window)$",
            ]),
            nag_context: strings(&[
                r"logga in|log in|login|sign in|skapa (ett )?(nytt )?konto|create (new |an )?account|registrera dig|sign up|gå med|join",
            ]),
            expanders: strings(&[
                // Swedish
                r"^visa (fler|tidigare|äldre|alla) (kommentarer|svar|inlägg)( \(\d+\))?$",
                r"^visa (alla )?\d+ (fler |tidigare |äldre )?(kommentarer|kommentar|svar)$",
                r"^visa (alla )?\d+ (svar|kommentarer) till .*$",
                r"^(visa|se) (mer|fler)$",
                r"^(visa|se) (fler|alla) (\d+ )?(svar|kommentarer)$",
                r"^\d+ (fler )?(svar|kommentarer)$",
                r"^läs (mer|hela|in fler|in fler (kommentarer|svar|inlägg))$",
                r"^(läs in|ladda) fler( kommentarer| svar| inlägg)?$",
                r"^…\s*(mer|visa mer|se mer|läs mer)$",
                r"^fler (kommentarer|svar)$",
                // English
                r"^(see|show|view|read|load) more$",
                r"^(view|show|see|load|read) (all )?(\d+ )?(more |previous |earlier |older )?(comments?|replies|reply|posts)( \(\d+\))?$",
                r"^\d+ (more )?(replies|reply|comments)$",
                r"^…\s*(more|see more|show more)$",
                r"^(more|show more) (replies|comments)$",
            ]),
            never_click: strings(&[
                r"^(dölj|göm|hide|visa färre|visa mindre|show less|see less|view less|minimera|collapse)",
                r"(översättning|translation|translate|original)",
            ]),
            max_per_element: 60,
            reclick_ms: 1500,
            expander_wait_ms: 4000,
            quiet_ms: 300,
            end_wait_ms: 2500,
            end_checks: 2,
            scroll_step: 0.8,
        }
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
