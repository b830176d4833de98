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
