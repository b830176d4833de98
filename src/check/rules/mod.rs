//! The rules, grouped by the part of the trust model they read. Every rule is named for
//! the problem it refuses (read as "allow <name>") and has a page under `docs/rules/`.
//!
//! Order matters only for resolution: `kinds` fills `Checker::kinds` and `keys` fills the
//! parsed keys that later stages use; no rule depends on another rule's diagnostics.

mod environments;
mod images;
mod keys;
mod kinds;
mod names;
mod network;
mod references;
mod repositories;
mod settings;
mod tenancy;
mod text;

use super::Checker;

pub(crate) use images::is_anchored;
pub(crate) use text::control_characters;

pub(super) fn run_all(c: &mut Checker<'_>) {
    settings::run(c);
    names::run(c);
    references::run(c);
    kinds::run(c);
    repositories::run(c);
    environments::run(c);
    images::run(c);
    keys::run(c);
    tenancy::run(c);
    network::run(c);
}

/// Finds `{placeholder}`s in a string: (byte offset, name).
pub(crate) fn placeholders(s: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut rest = s;
    let mut base = 0;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) => {
                out.push((base + open, &after[..close]));
                base += open + 1 + close + 1;
                rest = &after[close + 1..];
            }
            None => break,
        }
    }
    out
}

/// Byte offset of the value's text inside its span (skips the opening quote of a basic
/// or literal string, so sub-spans point at the right column).
pub(crate) fn inner_start(span: &crate::diag::Span) -> usize {
    span.range.start + 1
}

/// DNS-1123 label: lowercase alphanumerics and `-`, starting and ending alphanumeric.
pub(crate) fn is_dns_label(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}
