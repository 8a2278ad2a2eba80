//! How many of the big feed's tokens an artifact kept: in `items.json`
//! under the right kind and parent, in a text (the page's text, the PDF's,
//! the MHTML's).

use super::{has_token, ExpectedToken};
use crate::behaviour::items::{Item, ItemsDocument};
use std::collections::HashMap;

/// How many of the expected tokens one artifact kept.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Coverage {
    pub artifact: &'static str,
    pub expected: usize,
    pub found: usize,
    /// Found in an item of the right kind under the right parent (items.json only).
    pub placed: Option<usize>,
    /// Tokens not found (or, in items.json, not placed right).
    pub missing: Vec<String>,
}

impl Coverage {
    pub fn percent(&self) -> f64 {
        self.placed.unwrap_or(self.found) as f64 * 100.0 / self.expected.max(1) as f64
    }
}

/// The big feed's tokens in `items.json`: found in an item's text, and
/// placed right (the item's kind, and its parent holding the parent's token).
pub fn items_coverage(tokens: &[ExpectedToken], doc: &ItemsDocument) -> Coverage {
    let by_id: HashMap<&str, &Item> = doc.items.iter().map(|i| (i.id.as_str(), i)).collect();
    let (mut found, mut placed, mut missing) = (0, 0, Vec::new());
    for t in tokens {
        let holders: Vec<_> = doc
            .items
            .iter()
            .filter(|i| has_token(&i.text, &t.token))
            .collect();
        if !holders.is_empty() {
            found += 1;
        }
        let right = holders.iter().any(|i| {
            let parent = i.parent.as_deref().and_then(|p| by_id.get(p));
            i.kind == t.kind.as_str()
                && match (&t.parent, parent) {
                    (None, None) => true,
                    (Some(pt), Some(p)) => has_token(&p.text, pt),
                    _ => false,
                }
        });
        if right {
            placed += 1;
        } else {
            missing.push(t.token.clone());
        }
    }
    Coverage {
        artifact: "items.json",
        expected: tokens.len(),
        found,
        placed: Some(placed),
        missing,
    }
}

/// The big feed's tokens in a text artifact.
pub fn text_coverage(artifact: &'static str, tokens: &[ExpectedToken], text: &str) -> Coverage {
    let missing: Vec<String> = tokens
        .iter()
        .filter(|t| !has_token(text, &t.token))
        .map(|t| t.token.clone())
        .collect();
    Coverage {
        artifact,
        expected: tokens.len(),
        found: tokens.len() - missing.len(),
        placed: None,
        missing,
    }
}
