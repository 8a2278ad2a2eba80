//! Declarative platform profiles in TOML.
//!
//! A profile says how one platform behaves: which dialogs to dismiss, which
//! controls expand comments and replies, how posts, comments and replies are
//! marked up (for the extracted items), what a login wall looks like, and how
//! comment pages continue. The defaults are compiled in (`profiles/*.toml`);
//! a profiles directory from the config overrides them by name or adds new
//! ones, so ops can follow a platform's markup without a new release.
//!
//! Every profile extends `generic`: its `[behaviour]` lists are appended to
//! the generic lists and its scalars replace them; `[items]`, `[logged_out]`
//! and `[pagination]` keys replace the generic ones they name.

use super::Behaviour;
use crate::registry::{Channel, Platform};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use toml::Value;

/// The built-in profiles, in the order they are listed.
pub const BUILTIN: &[(&str, &str)] = &[
    ("generic", include_str!("profiles/generic.toml")),
    ("facebook", include_str!("profiles/facebook.toml")),
    ("instagram", include_str!("profiles/instagram.toml")),
    ("x", include_str!("profiles/x.toml")),
    ("youtube", include_str!("profiles/youtube.toml")),
    ("linkedin", include_str!("profiles/linkedin.toml")),
    ("blog", include_str!("profiles/blog.toml")),
];

/// How posts, comments and replies are found and read (CSS selectors).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ItemRules {
    /// Post containers.
    pub post: String,
    /// Comment containers (a comment inside a comment is a reply).
    pub comment: String,
    /// Reply containers, when the platform marks them apart from comments.
    pub reply: String,
    /// A pattern over the container's `aria-label` whose first group is the
    /// author (e.g. "Kommentar från Anna"); tried before `author`.
    #[serde(default)]
    pub author_label: String,
    /// Inside a container: the author's name.
    pub author: String,
    /// Inside a container: the time (`datetime` or `title` attributes are read first).
    pub time: String,
    /// Inside a container: the item's own link.
    pub permalink: String,
    /// Attributes holding the platform's id, tried in order.
    pub id_attributes: Vec<String>,
    /// Inside a container: the text; empty means the container's own text.
    pub text: String,
    /// Left out of an item's text: controls and decorations.
    pub ignore: String,
    /// Comments and replies found by the page's structure (`structure.js`):
    /// `always`, besides the rules' (the generic profile); `fallback`, under
    /// posts where the rules find none (any other profile, unless it says
    /// so); `off`.
    #[serde(default = "fallback")]
    pub structure: String,
}

fn fallback() -> String {
    "fallback".into()
}

/// The values `items.structure` takes.
const STRUCTURE_MODES: [&str; 3] = ["always", "fallback", "off"];

/// What a page shows when a login is needed.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LoggedOutRule {
    /// Patterns over the page's visible text (case-insensitive).
    pub texts: Vec<String>,
    /// Selectors of visible elements that only a login wall has.
    pub selectors: Vec<String>,
}

/// How content continues on other URLs (paginated comments).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Pagination {
    /// Selector of the link to the next page of the same content; empty for none.
    pub next: String,
    /// Pages captured at most, the first included.
    pub max_pages: u32,
}

impl Default for Pagination {
    fn default() -> Self {
        Self {
            next: String::new(),
            max_pages: 1,
        }
    }
}

/// Posts opened one at a time, for platforms that show a post's comments
/// only in a dialog (a profile grid): each link is clicked in turn, the
/// dialog's own scroller is scrolled and expanded, captured, and closed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OpenEach {
    /// A pattern over a link's absolute URL (the permalink shape of a post);
    /// empty means posts are not opened.
    pub href_pattern: String,
    /// CSS selector narrowing the links considered.
    pub selector: String,
    /// Posts opened at most; more are reported and the capture truncated.
    pub max: u32,
    /// How long to wait for the dialog after a click.
    pub open_wait_ms: u64,
    /// How long to wait at the end of a dialog's comments for more.
    pub end_wait_ms: u64,
}

impl Default for OpenEach {
    fn default() -> Self {
        Self {
            href_pattern: String::new(),
            selector: "a[href]".into(),
            max: 500,
            open_wait_ms: 5000,
            end_wait_ms: 1500,
        }
    }
}

impl OpenEach {
    /// Whether this profile opens posts at all.
    pub fn enabled(&self) -> bool {
        !self.href_pattern.is_empty()
    }
}

/// A platform profile.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub name: String,
    pub description: String,
    /// The platform's hooks this profile relies on, for whoever updates it.
    pub relies_on: Vec<String>,
    /// Channels on these platforms use this profile.
    pub platforms: Vec<Platform>,
    /// Channel URLs matching one of these (regular expressions) use it too.
    pub url_patterns: Vec<String>,
    pub behaviour: Behaviour,
    pub items: ItemRules,
    pub logged_out: LoggedOutRule,
    pub pagination: Pagination,
    pub open_each: OpenEach,
}

/// A profile that cannot be used, with the file and what is wrong.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("profile {source_name}: {reason}")]
    Invalid { source_name: String, reason: String },
    #[error("cannot read profiles from {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no profile named {0} (see `bevara profiles list`)")]
    Unknown(String),
}

fn invalid(source_name: &str, reason: impl std::fmt::Display) -> ProfileError {
    ProfileError::Invalid {
        source_name: source_name.to_string(),
        reason: reason.to_string(),
    }
}

/// Appends lists and replaces scalars of `over` onto `base`, table by table.
fn extend(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Table(b), Value::Table(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(existing @ Value::Table(_)) if v.is_table() => extend(existing, v),
                    Some(Value::Array(list)) if v.is_array() => {
                        if let Value::Array(more) = v {
                            for item in more {
                                if !list.contains(&item) {
                                    list.push(item);
                                }
                            }
                        }
                    }
                    _ => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, o) => *b = o,
    }
}

fn generic_value() -> Value {
    toml::from_str(BUILTIN[0].1).unwrap_or(Value::Table(Default::default()))
}

impl Profile {
    /// Parses a profile's TOML on top of the generic profile and checks every
    /// pattern and selector it can check without a browser.
    pub fn parse(source_name: &str, text: &str) -> Result<Self, ProfileError> {
        let own: Value = toml::from_str(text).map_err(|e| invalid(source_name, e.message()))?;
        let mut merged = generic_value();
        if own.get("name").and_then(Value::as_str) != Some("generic") {
            extend(&mut merged, own.clone());
            // Lists that identify a profile are its own, not the generic ones.
            if let Value::Table(t) = &mut merged {
                for key in ["platforms", "url_patterns", "relies_on"] {
                    t.insert(
                        key.into(),
                        own.get(key).cloned().unwrap_or(Value::Array(vec![])),
                    );
                }
                if let (Some(Value::Table(b)), Some(name)) =
                    (t.get_mut("behaviour"), own.get("name"))
                {
                    b.insert("name".into(), name.clone());
                }
                // Structure always, besides the rules, is the generic
                // profile's; a profile of its own rules falls back to it.
                let structure = own
                    .get("items")
                    .and_then(|i| i.get("structure"))
                    .cloned()
                    .unwrap_or_else(|| Value::String(fallback()));
                if let Some(Value::Table(i)) = t.get_mut("items") {
                    i.insert("structure".into(), structure);
                }
            }
        }
        let profile: Profile = merged
            .try_into()
            .map_err(|e: toml::de::Error| invalid(source_name, e.message()))?;
        profile.check(source_name)?;
        Ok(profile)
    }

    /// The built-in generic profile.
    pub fn generic() -> Self {
        // The embedded file is checked by a unit test; this cannot fail in a build that passed it.
        Self::parse("generic", BUILTIN[0].1).expect("the built-in generic profile is valid")
    }

    fn check(&self, source_name: &str) -> Result<(), ProfileError> {
        let b = &self.behaviour;
        let lists = [
            ("consent_buttons", &b.consent_buttons),
            ("consent_context", &b.consent_context),
            ("close_buttons", &b.close_buttons),
            ("nag_context", &b.nag_context),
            ("expanders", &b.expanders),
            ("never_click", &b.never_click),
            ("repeatable", &b.repeatable),
            ("comment_areas", &b.comment_areas),
            ("count_expanders", &b.count_expanders),
            ("not_expanders", &b.not_expanders),
            ("comment_page_texts", &b.comment_page_texts),
            ("page_link_texts", &b.page_link_texts),
            ("comment_page_urls", &b.comment_page_urls),
            ("url_patterns", &self.url_patterns),
            ("logged_out.texts", &self.logged_out.texts),
            (
                "open_each.href_pattern",
                &vec![self.open_each.href_pattern.clone()],
            ),
        ];
        for (what, list) in lists {
            for p in list {
                check_pattern(p)
                    .map_err(|e| invalid(source_name, format!("{what}: {p:?}: {e}")))?;
            }
        }
        if !self.items.author_label.is_empty() {
            check_pattern(&self.items.author_label)
                .map_err(|e| invalid(source_name, format!("items.author_label: {e}")))?;
        }
        if !STRUCTURE_MODES.contains(&self.items.structure.as_str()) {
            return Err(invalid(
                source_name,
                format!(
                    "items.structure: {:?}: use one of {}",
                    self.items.structure,
                    STRUCTURE_MODES.join(", ")
                ),
            ));
        }
        for m in &b.menu_choices {
            for p in [&m.open, &m.choose] {
                check_pattern(p)
                    .map_err(|e| invalid(source_name, format!("menu_choices: {p:?}: {e}")))?;
            }
        }
        if !(0.1..=2.0).contains(&b.scroll_step) {
            return Err(invalid(
                source_name,
                "behaviour.scroll_step must be 0.1–2.0",
            ));
        }
        if self.open_each.enabled() && self.open_each.max == 0 {
            return Err(invalid(source_name, "open_each.max must be at least 1"));
        }
        if self.pagination.max_pages == 0 {
            return Err(invalid(
                source_name,
                "pagination.max_pages must be at least 1",
            ));
        }
        if !self
            .name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(invalid(
                source_name,
                "name: use lower-case letters, digits and '-'",
            ));
        }
        Ok(())
    }

    /// Whether the channel's URL matches one of the profile's patterns.
    pub fn matches_url(&self, url: &str) -> bool {
        self.url_patterns
            .iter()
            .any(|p| regex_lite::Regex::new(&format!("(?i){p}")).is_ok_and(|r| r.is_match(url)))
    }
}

/// Checks a pattern with a Rust regex engine close to the JavaScript one the
/// page uses; look-arounds and back-references are refused by both checks.
fn check_pattern(p: &str) -> Result<(), String> {
    regex_lite::Regex::new(p)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// The built-in profiles with a directory's overrides applied.
#[derive(Debug, Clone)]
pub struct Profiles {
    list: Vec<(Profile, String)>,
}

impl Profiles {
    /// The built-in profiles, then every `*.toml` in `dir` (replacing a
    /// built-in of the same name, or added).
    pub fn load(dir: Option<&Path>) -> Result<Self, ProfileError> {
        let mut list = Vec::new();
        for (name, text) in BUILTIN {
            list.push((Profile::parse(name, text)?, "built-in".to_string()));
        }
        if let Some(dir) = dir {
            let read = |source| ProfileError::Read {
                path: dir.to_path_buf(),
                source,
            };
            let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
                .map_err(read)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                .collect();
            files.sort();
            for path in files {
                let text = std::fs::read_to_string(&path).map_err(|source| ProfileError::Read {
                    path: path.clone(),
                    source,
                })?;
                let profile = Profile::parse(&path.display().to_string(), &text)?;
                let origin = path.display().to_string();
                match list.iter_mut().find(|(p, _)| p.name == profile.name) {
                    Some(slot) => *slot = (profile, origin),
                    None => list.push((profile, origin)),
                }
            }
        }
        Ok(Self { list })
    }

    /// Every profile with where it came from (`built-in` or a file).
    pub fn all(&self) -> impl Iterator<Item = (&Profile, &str)> {
        self.list.iter().map(|(p, o)| (p, o.as_str()))
    }

    pub fn get(&self, name: &str) -> Result<&Profile, ProfileError> {
        self.list
            .iter()
            .map(|(p, _)| p)
            .find(|p| p.name == name)
            .ok_or_else(|| ProfileError::Unknown(name.to_string()))
    }

    /// The profile for a channel: the one for its platform (whose URL
    /// patterns match, if it has any), else one whose URL patterns match,
    /// else `generic`.
    pub fn for_channel(&self, channel: &Channel) -> &Profile {
        let profiles = || self.list.iter().map(|(p, _)| p);
        profiles()
            .find(|p| {
                p.platforms.contains(&channel.platform)
                    && p.name != "generic"
                    && (p.url_patterns.is_empty() || p.matches_url(&channel.url))
            })
            .or_else(|| {
                profiles().find(|p| p.platforms.contains(&channel.platform) && p.name != "generic")
            })
            .or_else(|| profiles().find(|p| p.name != "generic" && p.matches_url(&channel.url)))
            .unwrap_or(&self.list[0].0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_parse_and_extend_generic() {
        let all = Profiles::load(None).unwrap();
        let generic = all.get("generic").unwrap();
        for (p, origin) in all.all() {
            assert_eq!(origin, "built-in");
            // Every profile keeps the generic expanders and adds its own.
            for e in &generic.behaviour.expanders {
                assert!(p.behaviour.expanders.contains(e), "{} lacks {e}", p.name);
            }
            assert_eq!(p.behaviour.name, p.name);
            assert!(
                !p.relies_on.is_empty(),
                "{} says nothing of what it relies on",
                p.name
            );
        }
        assert_eq!(Behaviour::generic(), generic.behaviour);
    }

    #[test]
    fn channels_get_their_platforms_profile() {
        let all = Profiles::load(None).unwrap();
        let mut ch = crate::registry::tests_support::channel(
            "x",
            Platform::Facebook,
            "https://www.facebook.com/sala",
        );
        assert_eq!(all.for_channel(&ch).name, "facebook");
        ch.platform = Platform::Web;
        assert_eq!(all.for_channel(&ch).name, "facebook", "matched by URL");
        ch.url = "https://sala.se/".into();
        assert_eq!(all.for_channel(&ch).name, "generic");
        ch.platform = Platform::Blog;
        assert_eq!(all.for_channel(&ch).name, "blog");
    }

    #[test]
    fn a_directory_overrides_and_adds() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("facebook.toml"),
            "name = \"facebook\"\ndescription = \"ny\"\nrelies_on = [\"x\"]\nplatforms = [\"facebook\"]\n[behaviour]\nexpanders = ['^visa allt$']\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("mastodon.toml"),
            "name = \"mastodon\"\ndescription = \"Mastodon\"\nrelies_on = [\"x\"]\nplatforms = []\nurl_patterns = ['^https://mastodon\\.']\n",
        )
        .unwrap();
        let all = Profiles::load(Some(dir.path())).unwrap();
        let fb = all.get("facebook").unwrap();
        assert_eq!(fb.description, "ny");
        assert!(fb.behaviour.expanders.iter().any(|e| e == "^visa allt$"));
        assert!(all.get("mastodon").is_ok());
        let origin = all.all().find(|(p, _)| p.name == "mastodon").unwrap().1;
        assert!(origin.ends_with("mastodon.toml"));
    }

    #[test]
    fn generic_and_blog_find_by_meaning_platforms_do_not() {
        let all = Profiles::load(None).unwrap();
        for (p, _) in all.all() {
            let own = ["generic", "blog"].contains(&p.name.as_str());
            assert_eq!(p.behaviour.expand_by_meaning, own, "{}", p.name);
            assert_eq!(p.pagination.max_pages > 1, own, "{}", p.name);
            assert!(!p.behaviour.comment_page_texts.is_empty(), "{}", p.name);
        }
    }

    #[test]
    fn structure_is_always_for_generic_and_a_fallback_elsewhere() {
        let all = Profiles::load(None).unwrap();
        for (p, _) in all.all() {
            let want = if p.name == "generic" {
                "always"
            } else {
                "fallback"
            };
            assert_eq!(p.items.structure, want, "{}", p.name);
        }
        let own = Profile::parse(
            "own.toml",
            "name = \"o\"\ndescription=\"\"\nrelies_on=[]\nplatforms=[]\n[items]\nstructure = 'off'\n",
        )
        .unwrap();
        assert_eq!(own.items.structure, "off");
        let e = Profile::parse(
            "bad.toml",
            "name = \"o\"\ndescription=\"\"\nrelies_on=[]\nplatforms=[]\n[items]\nstructure = 'ibland'\n",
        )
        .unwrap_err();
        assert!(e.to_string().contains("items.structure"), "{e}");
    }

    #[test]
    fn only_grid_profiles_open_posts() {
        let all = Profiles::load(None).unwrap();
        for (p, _) in all.all() {
            assert_eq!(p.open_each.enabled(), p.name == "instagram", "{}", p.name);
        }
        let ig = &all.get("instagram").unwrap().open_each;
        let re = regex_lite::Regex::new(&ig.href_pattern).unwrap();
        assert!(re.is_match("https://www.instagram.com/p/C8qT2mXrL4a/"));
        assert!(re.is_match("https://www.instagram.com/salakommun/reel/C7sJ3bVnG5i/"));
        assert!(!re.is_match("https://www.instagram.com/p/C8qT2mXrL4a/c/17904010012/"));
        assert!(!re.is_match("https://www.instagram.com/salakommun/"));
        let e = Profile::parse(
            "grid.toml",
            "name = \"g\"\ndescription=\"\"\nrelies_on=[]\nplatforms=[]\n[open_each]\nhref_pattern = '/p/'\nmax = 0\n",
        )
        .unwrap_err();
        assert!(e.to_string().contains("open_each.max"), "{e}");
    }

    #[test]
    fn bad_profiles_are_refused_with_the_reason() {
        let e = Profile::parse("bad.toml", "name = \"b\"\ndescription=\"\"\nrelies_on=[]\nplatforms=[]\n[behaviour]\nexpanders = ['(unclosed']\n").unwrap_err();
        assert!(
            e.to_string().contains("bad.toml") && e.to_string().contains("(unclosed"),
            "{e}"
        );
        let e = Profile::parse("typo.toml", "name = \"b\"\ndescription=\"\"\nrelies_on=[]\nplatforms=[]\n[behaviour]\nexpandrs = []\n").unwrap_err();
        assert!(e.to_string().contains("expandrs"), "{e}");
    }
}
