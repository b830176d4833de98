//! Check stage: the semantic rules of the trust model. Pure: no I/O, no clock of its own.
//!
//! Each rule pushes coded diagnostics into the sink and keeps going, so one run reports every
//! problem. [`validate`] returns a [`ValidSpec`] only when no error was found.

mod keys;
pub mod ranges;
mod rules;
pub mod ssh_keys;

pub use keys::{CosignKey, SignerKey};
pub(crate) use rules::control_characters;

/// Whether a regular expression is anchored `^…$` (the final `$` not escaped).
///
/// Remembers the patterns it judged on this thread (parsing a regular expression costs more
/// than the rest of an ImagePolicy's checks, and a trust model has few distinct filters).
pub fn is_anchored(pattern: &str) -> bool {
    thread_local! {
        static JUDGED: std::cell::RefCell<std::collections::HashMap<String, bool>> =
            std::cell::RefCell::default();
    }
    JUDGED.with(|judged| {
        if let Some(&known) = judged.borrow().get(pattern) {
            return known;
        }
        let anchored = rules::is_anchored(pattern);
        let mut judged = judged.borrow_mut();
        if judged.len() >= 1024 {
            judged.clear();
        }
        judged.insert(pattern.to_string(), anchored);
        anchored
    })
}

use indexmap::IndexMap;
use std::collections::BTreeMap;

use crate::diag::{Sink, Span};
use crate::kinds::KindInfo;
use crate::spec::{Inputs, TrustModel};

/// What the rules may know of the world beyond the spec.
#[derive(Clone, Debug)]
pub struct Context {
    /// "Now", as seconds since the Unix epoch: injected so key-expiry tests are stable.
    pub now: i64,
}

impl Context {
    /// The real clock.
    pub fn system() -> Self {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        Context { now }
    }
}

/// A spec every rule accepted, with what the rules resolved on the way.
#[derive(Clone, Debug)]
pub struct ValidSpec {
    pub spec: TrustModel,
    /// Every kind the spec names (`group/Kind` spelling) → what it is.
    pub kinds: BTreeMap<String, KindInfo>,
    /// Signer name → parsed public key.
    pub signer_keys: IndexMap<String, SignerKey>,
    /// Registry name → parsed cosign public key.
    pub cosign_keys: IndexMap<String, CosignKey>,
    /// Signers whose key is an SSH key (its Secret entry is `<name>.sshpub`, not `.asc`).
    pub ssh_signers: std::collections::BTreeSet<String>,
}

/// Shared state of one check run.
pub(crate) struct Checker<'a> {
    pub(crate) spec: &'a TrustModel,
    pub(crate) inputs: &'a Inputs,
    pub(crate) ctx: &'a Context,
    pub(crate) sink: &'a mut Sink,
    pub(crate) kinds: BTreeMap<String, KindInfo>,
    pub(crate) signer_keys: IndexMap<String, SignerKey>,
    pub(crate) cosign_keys: IndexMap<String, CosignKey>,
    pub(crate) ssh_signers: std::collections::BTreeSet<String>,
}

impl Checker<'_> {
    pub(crate) fn push(&mut self, d: crate::diag::Diagnostic) {
        self.sink.push(d);
    }

    /// Span of a tenant's table header, for secondary labels.
    pub(crate) fn tenant_header(&self, tenant: &str) -> Option<Span> {
        self.spec.headers.tenants.get(tenant).cloned()
    }
}

/// Runs every rule over `spec`. Returns the validated spec (the model itself, moved, with
/// what the rules resolved) when no error was raised.
pub fn validate(
    spec: TrustModel,
    inputs: &Inputs,
    ctx: &Context,
    sink: &mut Sink,
) -> Option<ValidSpec> {
    let before = sink.error_count();
    let resolved = rules::run_all(&spec, inputs, ctx, sink);
    // A model with unreadable entries is checked (every mistake in one run) but never valid.
    if sink.error_count() > before || spec.headers.incomplete {
        return None;
    }
    Some(ValidSpec {
        spec,
        kinds: resolved.kinds,
        signer_keys: resolved.signer_keys,
        cosign_keys: resolved.cosign_keys,
        ssh_signers: resolved.ssh_signers,
    })
}
