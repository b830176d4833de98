//! Diff stage: what a change of the trust model lets whom do.
//!
//! Two compiled versions of the trust model (each: the spec with its spans, the resolved
//! [`Policy`], the output [`Tree`]) are reduced to *facts* per environment, and the facts are
//! compared:
//!
//! - **permissions**, from the RBAC access analysis of each output ([`crate::access`]), per
//!   subject the output names (tenant reconcilers, the platform tier, any ServiceAccount,
//!   User or Group of a binding): what the generated YAML grants, so a template override
//!   cannot hide a grant the spec does not show;
//! - **trust edges**, from the model: repository → branch/path → reconciler → namespaces,
//!   signers (key fingerprints) per repository, registries (signing key or keyless identity)
//!   per tenant, charts and image policies, the opt-ins `allow_secrets` and
//!   `allow_network_policies`;
//! - **controls**, from the output: admission policies (present, enforcing, how many
//!   validations), source verification (`spec.verify` of every GitRepository and
//!   OCIRepository), NetworkPolicies (their allow rules), alerts (Alerts, Providers and
//!   PrometheusRule alert names), Pod Security Admission levels of namespaces, the flags the
//!   Flux lock-down adds.
//!
//! Every change gets a [`Severity`] and, where the spec explains it, the TOML location of
//! the lines that caused it. Nothing is written; the result depends on the inputs alone.

mod facts;
mod render;

use std::collections::BTreeMap;

use serde::Serialize;

pub use render::{
    MARKDOWN_LIMIT, render_codequality, render_human, render_json, render_markdown, render_sarif,
};

use crate::diag::{SourceMap, Span};
use crate::model::Policy;
use crate::spec::TrustModel;
use crate::write::Tree;

/// How a change bears on security, from worst to best.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Someone may do more, or more sources are trusted.
    Escalation,
    /// A control that protects is removed or relaxed.
    Weakening,
    /// A change that neither grants nor protects more (or that trustc cannot judge).
    Neutral,
    /// Someone may do less, or a control is added or tightened.
    Hardening,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Escalation => "escalation",
            Severity::Weakening => "weakening",
            Severity::Neutral => "neutral",
            Severity::Hardening => "hardening",
        }
    }
}

/// Create, delete or update, as `terraform show -json` spells plan actions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Delete,
    Update,
}

/// What part of the trust model a change is about. Each is a stable rule of the SARIF
/// output (`trustc/<category>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Category {
    /// RBAC: what a subject may do, from the access analysis of the output.
    Permission,
    /// Repository → branch/path → reconciler → namespaces.
    Repository,
    /// A key trusted to sign a repository's commits.
    Signer,
    /// A registry a tenant may pull from, and how its images are verified.
    Registry,
    /// A Helm chart source.
    Chart,
    /// An image policy (semver range, tag pattern).
    Image,
    /// `allow_secrets`, `allow_network_policies`.
    OptIn,
    /// An admission policy of the output.
    Admission,
    /// `spec.verify` of a source.
    Verification,
    /// A NetworkPolicy of the output.
    Network,
    /// Alerts, Providers, PrometheusRule alerts.
    Alerting,
    /// Pod Security Admission labels of a namespace.
    PodSecurity,
    /// Flags and patches of the Flux lock-down.
    Lockdown,
    /// A protection the security invariants refuse to see weakened: the changed output
    /// would be refused by `trustc generate` (a template override, say).
    Invariant,
}

impl Category {
    pub const ALL: &'static [Category] = &[
        Category::Permission,
        Category::Repository,
        Category::Signer,
        Category::Registry,
        Category::Chart,
        Category::Image,
        Category::OptIn,
        Category::Admission,
        Category::Verification,
        Category::Network,
        Category::Alerting,
        Category::PodSecurity,
        Category::Lockdown,
        Category::Invariant,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::Permission => "permission",
            Category::Repository => "repository",
            Category::Signer => "signer",
            Category::Registry => "registry",
            Category::Chart => "chart",
            Category::Image => "image",
            Category::OptIn => "opt-in",
            Category::Admission => "admission",
            Category::Verification => "verification",
            Category::Network => "network",
            Category::Alerting => "alerting",
            Category::PodSecurity => "pod-security",
            Category::Lockdown => "lockdown",
            Category::Invariant => "invariant",
        }
    }

    /// One line on what the category covers (SARIF rule descriptions, docs).
    pub fn description(self) -> &'static str {
        match self {
            Category::Permission => {
                "RBAC permissions a subject holds in the generated output (access analysis)"
            }
            Category::Repository => {
                "a repository, branch and path reconciled by a service account into namespaces"
            }
            Category::Signer => "a public key trusted to sign a repository's commits",
            Category::Registry => "a registry a tenant may run images from, and its signing",
            Category::Chart => "a Helm chart source a tenant may install from",
            Category::Image => "an image policy: semver range and tag pattern",
            Category::OptIn => "a tenant opt-in that widens what it may deploy",
            Category::Admission => "an admission policy that enforces the trust model",
            Category::Verification => "signature verification of a Flux source",
            Category::Network => "a NetworkPolicy: flows it allows",
            Category::Alerting => "an alert that reaches a human",
            Category::PodSecurity => "the Pod Security Admission level of a namespace",
            Category::Lockdown => "a flag or patch of the Flux multi-tenancy lock-down",
            Category::Invariant => {
                "a protection the security invariants refuse to weaken (trustc generate refuses the output)"
            }
        }
    }
}

/// Where in a spec file a change comes from.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Location {
    /// The spec file as the user named it (repository-relative where known).
    pub file: String,
    /// 1-based.
    pub line: usize,
    /// 1-based, in characters.
    pub column: usize,
    pub end_line: usize,
    pub end_column: usize,
    /// `true` when the lines are in the base version (the change removed them).
    pub in_base: bool,
}

/// One change in what someone may do or what protects.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Change {
    pub env: String,
    pub category: Category,
    pub severity: Severity,
    pub actions: Vec<Action>,
    /// Who or what the change is about: `ServiceAccount payments/payments-reconciler`,
    /// `tenant payments`, `NetworkPolicy flux-system/allow-egress`…
    pub subject: String,
    /// The item within the subject: a permission, a signer name, a namespace…
    pub item: String,
    /// One sentence for a reviewer.
    pub summary: String,
    pub before: Option<String>,
    pub after: Option<String>,
    pub location: Option<Location>,
}

/// One compiled version of the trust model, as the diff reads it.
pub struct Side<'a> {
    pub spec: &'a TrustModel,
    /// The parsed signer keys (fingerprint, expiry), by signer name.
    pub signer_keys: &'a indexmap::IndexMap<String, crate::check::SignerKey>,
    pub map: &'a SourceMap,
    pub policy: &'a Policy,
    pub tree: &'a Tree,
}

/// The changes from `base` to `new`, sorted by severity, environment, category, subject.
pub fn compare(base: &Side<'_>, new: &Side<'_>) -> Vec<Change> {
    let before = facts::collect(base);
    let after = facts::collect(new);
    let mut changes = Vec::new();
    let keys: std::collections::BTreeSet<&facts::Key> = before.keys().chain(after.keys()).collect();
    for key in keys {
        let (b, a) = (before.get(key), after.get(key));
        if let Some(change) = facts::judge(key, b, a) {
            // Prefer the new spec's lines that produce the fact; for a grant in a namespace
            // the change adds, the namespace's line; for a removed fact, what still holds it
            // in the new spec (its tenant), else the base's lines.
            let location = match (a, b) {
                (Some(f), _) => f
                    .scope
                    .as_ref()
                    .filter(|(k, _)| !before.contains_key(k))
                    .and_then(|(_, span)| locate(new, Some(span), false))
                    .or_else(|| locate(new, f.origin.as_ref(), false))
                    .or_else(|| held(new, f, false)),
                (None, Some(f)) => held(new, f, false)
                    .or_else(|| locate(base, f.origin.as_ref(), true))
                    .or_else(|| held(base, f, true)),
                (None, None) => None,
            };
            changes.push(Change { location, ..change });
        }
    }
    let mut changes = merge_permissions(changes);
    discount_removed_namespaces(&mut changes);
    changes.sort_by(|x, y| {
        (x.severity, &x.env, x.category, &x.subject, &x.item)
            .cmp(&(y.severity, &y.env, y.category, &y.subject, &y.item))
    });
    changes
}

/// A namespace created or deleted by the change brings or takes its own controls: a tenant
/// NetworkPolicy, Alert or admission binding removed *with* its namespace protects nothing
/// any more, and the allow rules a *new* namespace starts with open nothing that was
/// closed. Those are neutral, not weakenings (the namespace itself is a trust edge).
fn discount_removed_namespaces(changes: &mut [Change]) {
    let touched: std::collections::BTreeSet<(String, String, Action)> = changes
        .iter()
        .filter(|c| c.category == Category::PodSecurity && c.actions.len() == 1)
        .filter(|c| matches!(c.actions[0], Action::Create | Action::Delete))
        .filter_map(|c| {
            let ns = c.subject.strip_prefix("Namespace ")?;
            Some((c.env.clone(), ns.to_string(), c.actions[0]))
        })
        .collect();
    for c in changes.iter_mut() {
        if c.severity != Severity::Weakening || c.actions.len() != 1 {
            continue;
        }
        let ns = c
            .subject
            .split_once(' ')
            .and_then(|(_, name)| name.split_once('/'))
            .map(|(ns, _)| ns.to_string());
        if let Some(ns) = ns {
            if touched.contains(&(c.env.clone(), ns, c.actions[0])) {
                c.severity = Severity::Neutral;
                c.summary.push_str(" (with its namespace)");
            }
        }
    }
}

/// Folds permission changes of one subject that differ only in the resource (same scope,
/// same verbs gained and lost) into one change naming every resource, so a kind added to a
/// tenant reads as one line per namespace, not one per resource.
fn merge_permissions(changes: Vec<Change>) -> Vec<Change> {
    let mut out: Vec<Change> = Vec::new();
    let mut groups: BTreeMap<(String, String, Severity, String, String), usize> = BTreeMap::new();
    for c in changes {
        if c.category != Category::Permission {
            out.push(c);
            continue;
        }
        let (resource, scope) = c.item.split_once(" in ").unwrap_or((c.item.as_str(), ""));
        let verbs = c
            .summary
            .strip_prefix(&format!("{}: ", c.subject))
            .and_then(|s| s.strip_suffix(&format!(" {}", c.item)))
            .unwrap_or_default()
            .to_string();
        let k = (
            c.env.clone(),
            c.subject.clone(),
            c.severity,
            scope.to_string(),
            verbs.clone(),
        );
        match groups.get(&k) {
            Some(&i) => {
                let prev = &mut out[i];
                let (prev_res, _) = prev
                    .item
                    .split_once(" in ")
                    .unwrap_or((prev.item.as_str(), ""));
                prev.item = format!("{prev_res}, {resource} in {scope}");
                prev.summary = format!("{}: {verbs} {}", prev.subject, prev.item);
                if prev.actions != c.actions {
                    prev.actions = vec![Action::Update];
                }
            }
            None => {
                groups.insert(k, out.len());
                out.push(c);
            }
        }
    }
    out
}

/// The header of the table holding `f`, in `side`.
fn held(side: &Side<'_>, f: &facts::Fact, in_base: bool) -> Option<Location> {
    let span = f.fallback.as_ref()?.header(side.spec)?;
    locate(side, Some(&span), in_base)
}

fn locate(side: &Side<'_>, span: Option<&Span>, in_base: bool) -> Option<Location> {
    let span = span?;
    let (line, column) = side.map.line_col(span.file, span.range.start);
    let (end_line, end_column) = side.map.line_col(span.file, span.range.end);
    Some(Location {
        file: side.map.name(span.file).to_string(),
        line,
        column,
        end_line,
        end_column,
        in_base,
    })
}

/// A security invariant the changed output breaks, as a change: `trustc generate` would
/// refuse that output, so it is a weakening whatever else changed. `message` is the
/// invariant's (`[env] …` names the environment).
pub fn invariant_broken(code: &str, message: &str) -> Change {
    let (env, text) = match message.strip_prefix('[').and_then(|m| m.split_once("] ")) {
        Some((env, text)) => (env.to_string(), text.to_string()),
        None => (String::new(), message.to_string()),
    };
    Change {
        env,
        category: Category::Invariant,
        severity: Severity::Weakening,
        actions: vec![Action::Update],
        subject: code.to_string(),
        item: text.clone(),
        summary: format!("{code}: {text} (trustc generate refuses this output)"),
        before: None,
        after: None,
        location: None,
    }
}

/// Counts of changes per severity.
pub fn counts(changes: &[Change]) -> BTreeMap<Severity, usize> {
    let mut out = BTreeMap::new();
    for c in changes {
        *out.entry(c.severity).or_insert(0) += 1;
    }
    out
}

/// Which changes make `trustc diff` exit 1 (`--fail-on`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailOn {
    /// Only escalations.
    Escalation,
    /// Escalations and weakenings.
    Weakening,
    /// Any change of what anyone may do or what protects.
    Any,
    /// Never (report only).
    Never,
}

/// Whether `changes` trip `fail_on`.
pub fn fails(changes: &[Change], fail_on: FailOn) -> bool {
    changes.iter().any(|c| match fail_on {
        FailOn::Escalation => c.severity == Severity::Escalation,
        FailOn::Weakening => c.severity <= Severity::Weakening,
        FailOn::Any => true,
        FailOn::Never => false,
    })
}
