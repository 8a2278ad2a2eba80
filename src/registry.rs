//! The register of channels (the *förteckning*): which accounts the
//! authority keeps, on which platform, who owns and administers each, and
//! whether it is still open.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A channel's id in the register: lower-case letters, digits, `-`, `_` and `.`,
/// 1–64 characters, starting with a letter or digit. It is part of object keys.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ChannelId(String);

impl ChannelId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ChannelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for ChannelId {
    type Err = RegistryError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.chars()
                .next()
                .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c));
        if ok {
            Ok(Self(s.to_string()))
        } else {
            Err(RegistryError::InvalidId(s.to_string()))
        }
    }
}

/// The platform a channel lives on; it picks the behaviour profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    Facebook,
    Instagram,
    X,
    Youtube,
    Linkedin,
    Blog,
    Web,
}

impl Platform {
    pub const ALL: [Platform; 7] = [
        Platform::Facebook,
        Platform::Instagram,
        Platform::X,
        Platform::Youtube,
        Platform::Linkedin,
        Platform::Blog,
        Platform::Web,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Facebook => "facebook",
            Platform::Instagram => "instagram",
            Platform::X => "x",
            Platform::Youtube => "youtube",
            Platform::Linkedin => "linkedin",
            Platform::Blog => "blog",
            Platform::Web => "web",
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Platform {
    type Err = RegistryError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Platform::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| RegistryError::InvalidPlatform(s.to_string()))
    }
}

/// One account on one platform, as registered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Channel {
    pub id: ChannelId,
    pub platform: Platform,
    pub url: String,
    pub name: Option<String>,
    /// The department or unit that owns the account.
    pub owner: Option<String>,
    /// The people who administer the account.
    pub admins: Vec<String>,
    pub purpose: Option<String>,
    pub tags: Vec<String>,
    pub opened_at: DateTime<Utc>,
    /// Set when the channel is closed; a closed channel keeps its history.
    pub closed_at: Option<DateTime<Utc>>,
    /// Captures of this channel include a screen recording.
    #[serde(default = "yes")]
    pub recording: bool,
    /// Object Lock days of this channel's snapshots, instead of `store.object_lock_days`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retain_days: Option<u32>,
}

fn yes() -> bool {
    true
}

impl Channel {
    pub fn is_closed(&self) -> bool {
        self.closed_at.is_some()
    }
}

/// What a register operation can refuse.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("invalid channel id {0:?}: use 1–64 lower-case letters, digits, '-', '_' or '.', starting with a letter or digit")]
    InvalidId(String),
    #[error(
        "unknown platform {0:?}: use one of facebook, instagram, x, youtube, linkedin, blog, web"
    )]
    InvalidPlatform(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_key_safe() {
        assert!("sala-kommun".parse::<ChannelId>().is_ok());
        assert!("a.b_c-1".parse::<ChannelId>().is_ok());
        for bad in ["", "Sala", "-x", "a/b", "../x", "å", &"x".repeat(65)] {
            assert!(bad.parse::<ChannelId>().is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn platforms_round_trip() {
        for p in Platform::ALL {
            assert_eq!(p.as_str().parse::<Platform>().unwrap(), p);
        }
        assert!("myspace".parse::<Platform>().is_err());
    }
}

#[cfg(test)]
pub(crate) mod tests_support {
    use super::*;

    pub fn channel(id: &str, platform: Platform, url: &str) -> Channel {
        Channel {
            id: id.parse().unwrap(),
            platform,
            url: url.into(),
            name: None,
            owner: None,
            admins: vec![],
            purpose: None,
            tags: vec![],
            opened_at: Utc::now(),
            closed_at: None,
            retain_days: None,
            recording: true,
        }
    }
}
