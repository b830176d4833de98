//! trustc: a policy compiler for Flux CD multi-tenancy.
//!
//! The pipeline, one module per stage, each reading only the previous stage's output:
//!
//! ```text
//! spec    TOML text → spanned, unvalidated TrustModel          (toml)
//! check   TrustModel → ValidSpec + coded diagnostics            (semantic rules, keys)
//! model   ValidSpec → Policy: tenants × environments, resolved
//! render  Policy → rendered files through minijinja templates   (minijinja)
//! verify  rendered files → parsed, schema-checked, invariant-checked, canonical bytes (YAML)
//! write   canonical tree → output directory, atomic, write-if-changed, pruned by manifest
//! ```
//!
//! `diag` is the leaf every stage reports through; `kinds` is shared knowledge of Kubernetes
//! kinds; `diff` compares two compiled versions (what a change lets whom do); `map` draws the
//! trust model; `access` analyses RBAC in any directory of manifests; `cli` wires it all and alone
//! owns stdout, stderr and exit codes.

#![forbid(unsafe_code)]

pub mod access;
pub mod check;
pub mod cli;
pub mod diag;
pub mod diff;
pub mod flux;
pub mod kinds;
pub mod map;
pub mod model;
pub mod netpol;
pub mod render;
pub mod spec;
pub mod verify;
pub mod write;

/// Helpers shared by unit tests.
#[cfg(test)]
pub(crate) mod testing {
    /// The example trust model (`policy-spec/trust.toml`), checked at a fixed clock and
    /// resolved, as `generate` resolves it.
    pub(crate) fn example_policy() -> crate::model::Policy {
        let spec = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policy-spec/trust.toml");
        let mut map = crate::diag::SourceMap::new();
        let mut sink = crate::diag::Sink::new();
        let ctx = crate::check::Context { now: 1_795_740_094 };
        let valid = crate::cli::load_and_check(&spec, &ctx, &mut map, &mut sink)
            .unwrap()
            .expect("the example spec is valid");
        crate::model::resolve(&valid, "policy-spec/trust.toml")
    }
}
