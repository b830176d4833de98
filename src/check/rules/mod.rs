//! The rules, grouped by the part of the trust model they read. Every rule is named for
//! the problem it refuses (read as "allow <name>") and has a page under `docs/rules/`.
//!
//! The rules run side by side ([`run_all`]): `kinds` fills `Checker::kinds` and `keys` fills the
//! parsed keys that later stages use; no rule reads another rule's results or diagnostics.

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

use indexmap::IndexMap;
use rayon::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

use super::{Checker, Context, CosignKey, SignerKey};
use crate::diag::Sink;
use crate::kinds::KindInfo;
use crate::spec::{Inputs, TrustModel};

pub(crate) use images::is_anchored;
pub(crate) use text::control_characters;

/// The rules, in the order their diagnostics are pushed.
const RULES: [fn(&mut Checker<'_>); 10] = [
    settings::run,
    names::run,
    references::run,
    kinds::run,
    repositories::run,
    environments::run,
    images::run,
    keys::run,
    tenancy::run,
    network::run,
];

/// What the rules resolved on the way ([`Checker`]'s own fields, each filled by one rule).
#[derive(Default)]
pub(super) struct Resolved {
    pub(super) kinds: BTreeMap<String, KindInfo>,
    pub(super) signer_keys: IndexMap<String, SignerKey>,
    pub(super) cosign_keys: IndexMap<String, CosignKey>,
    pub(super) ssh_signers: BTreeSet<String>,
}

/// Runs every rule over `spec`, the rules side by side (each reads the model and fills only
/// its own part of [`Resolved`]: no rule reads what another resolved or pushed), then pushes
/// their diagnostics into `sink` rule by rule, in [`RULES`] order: the same sink, and the
/// same [`Resolved`], as one rule after the other would give.
pub(super) fn run_all(
    spec: &TrustModel,
    inputs: &Inputs,
    ctx: &Context,
    sink: &mut Sink,
) -> Resolved {
    let runs: Vec<(Sink, Resolved)> = RULES
        .par_iter()
        .map(|rule| {
            let mut own = Sink::new();
            let mut c = Checker {
                spec,
                inputs,
                ctx,
                sink: &mut own,
                kinds: BTreeMap::new(),
                signer_keys: IndexMap::new(),
                cosign_keys: IndexMap::new(),
                ssh_signers: BTreeSet::new(),
            };
            rule(&mut c);
            let resolved = Resolved {
                kinds: c.kinds,
                signer_keys: c.signer_keys,
                cosign_keys: c.cosign_keys,
                ssh_signers: c.ssh_signers,
            };
            (own, resolved)
        })
        .collect();
    let mut all = Resolved::default();
    for (own, resolved) in runs {
        sink.extend(own);
        all.kinds.extend(resolved.kinds);
        all.signer_keys.extend(resolved.signer_keys);
        all.cosign_keys.extend(resolved.cosign_keys);
        all.ssh_signers.extend(resolved.ssh_signers);
    }
    all
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::SourceMap;
    use std::path::Path;

    /// The specs compared: the example, the example with an SSH signer (written into `tmp`),
    /// and the refused fixtures (one per rule, so diagnostics of many rules come together).
    fn specs(tmp: &Path) -> Vec<std::path::PathBuf> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let example = root.join("policy-spec/trust.toml");
        let keys = tmp.join("keys");
        std::fs::create_dir_all(&keys).unwrap();
        for key in std::fs::read_dir(root.join("policy-spec/keys")).unwrap() {
            let key = key.unwrap().path();
            std::fs::copy(&key, keys.join(key.file_name().unwrap())).unwrap();
        }
        std::fs::copy(
            root.join("tests/fixtures/valid/ssh/keys/dave.pub"),
            keys.join("dave.pub"),
        )
        .unwrap();
        let ssh = std::fs::read_to_string(&example).unwrap().replace(
            "[registries.internal]",
            "[signers.dave]\nemail = \"dave@example.com\"\nkey = \"keys/dave.pub\"\n\n[registries.internal]",
        );
        std::fs::write(tmp.join("trust.toml"), ssh).unwrap();
        let mut specs = vec![example, tmp.join("trust.toml")];
        let mut invalid: Vec<_> = std::fs::read_dir(root.join("tests/fixtures/invalid"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        invalid.sort();
        specs.extend(invalid);
        specs
    }

    /// [`run_all`] (the rules side by side) pushes the diagnostics of the rules one after the
    /// other on one [`Checker`], in the same order, and resolves the same kinds and keys.
    #[test]
    fn side_by_side_is_one_after_the_other() {
        let ctx = Context { now: 1_800_000_000 };
        let mut compared = 0;
        let mut from_two_rules = 0;
        let mut with_ssh = 0;
        let tmp = tempfile::tempdir().unwrap();
        for path in specs(tmp.path()) {
            let mut map = SourceMap::new();
            let mut sink = Sink::new();
            let loaded = crate::spec::load(&path, &mut map, &mut sink).unwrap();
            let Some(model) = loaded.model else {
                continue;
            };
            let mut one_by_one = Sink::new();
            let mut c = Checker {
                spec: &model,
                inputs: &loaded.inputs,
                ctx: &ctx,
                sink: &mut one_by_one,
                kinds: BTreeMap::new(),
                signer_keys: IndexMap::new(),
                cosign_keys: IndexMap::new(),
                ssh_signers: BTreeSet::new(),
            };
            let mut counts = Vec::new();
            for rule in RULES {
                let before = c.sink.iter().count();
                rule(&mut c);
                counts.push(c.sink.iter().count() - before);
            }
            let (kinds, signer_keys, cosign_keys, ssh_signers) =
                (c.kinds, c.signer_keys, c.cosign_keys, c.ssh_signers);
            let mut side_by_side = Sink::new();
            let resolved = run_all(&model, &loaded.inputs, &ctx, &mut side_by_side);
            let shown = path.display();
            assert_eq!(
                one_by_one.iter().collect::<Vec<_>>(),
                side_by_side.iter().collect::<Vec<_>>(),
                "{shown}"
            );
            assert_eq!(kinds, resolved.kinds, "{shown}");
            assert_eq!(signer_keys, resolved.signer_keys, "{shown}");
            assert_eq!(cosign_keys, resolved.cosign_keys, "{shown}");
            assert_eq!(ssh_signers, resolved.ssh_signers, "{shown}");
            compared += 1;
            with_ssh += usize::from(!resolved.ssh_signers.is_empty());
            if counts.iter().filter(|&&n| n > 0).count() >= 2 {
                from_two_rules += 1;
            }
        }
        // The comparison means something only where order could differ.
        assert!(compared >= 20, "{compared} specs compared");
        assert!(
            from_two_rules >= 3,
            "{from_two_rules} specs with diagnostics of two rules"
        );
        assert!(with_ssh >= 1, "no spec with an SSH signer");
    }
}
