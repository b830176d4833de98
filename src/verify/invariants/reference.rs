//! The output against the reference: what trustc's own embedded templates compile the same
//! model to. Run only when `--templates` overrides something (without overrides the output
//! *is* the reference).
//!
//! Why comparing is sound where shape-checking is not: every protective document (admission
//! policies, NetworkPolicies, Namespaces, Flux sources and reconcilers, Secrets, the Flux
//! lock-down Component, the directory kustomizations) is a function of the model alone, and
//! the embedded templates are the reviewed statement of that function. Recognising a
//! weakened policy by its shape would need a CEL and Kyverno semantics trustc does not have
//! (is `object.spec.x == object.spec.x` the same as `true`?); equality after parsing needs
//! none, is immune to comments, quoting and key order (they do not survive the parse), and
//! keeps holding while the embedded templates evolve. So, per environment, keyed by
//! (group, kind, namespace, name):
//!
//! - a protective document of the reference may not be changed or dropped, and no
//!   protective document may be added (an added Kyverno policy can mutate or generate with
//!   Kyverno's rights, an added NetworkPolicy opens flows, an added source or reconciler
//!   applies an untrusted repository);
//! - RBAC is judged by effect, with [`crate::access`]: every subject named by an added or
//!   changed binding (or bound to an added or changed role) may hold no grant the reference
//!   does not give it. Fewer grants pass (a tenant may be given less);
//! - a directory `kustomization.yaml` may list more files (their documents are checked
//!   here too), nothing else may change;
//! - the kinds that protect nothing (PrometheusRule, Alert, ConfigMap, ImagePolicy) are
//!   free: an override exists to adapt them. ImagePolicy filters keep TC3007.
//!
//! Linear in the size of the output: one index of the reference, one pass over the output.

use std::collections::{BTreeSet, HashMap, HashSet};

use serde_json::Value;

use super::{fail, s};
use crate::access::{Manifests, Subject};
use crate::diag::{Code, Diagnostic};
use crate::model::Env;
use crate::verify::Manifest;

/// What an override may do with a document of a kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    Admission,
    Rbac,
    Source,
    Secret,
    Network,
    Kustomize,
    Namespace,
    Reconciler,
    Other,
    Free,
}

fn group_of(api: &str) -> &str {
    api.rsplit_once('/').map_or("", |(g, _)| g)
}

fn class(doc: &Value) -> Class {
    let group = group_of(s(doc, &["apiVersion"]));
    let kind = s(doc, &["kind"]);
    match (group, kind) {
        ("kyverno.io" | "policies.kyverno.io" | "admissionregistration.k8s.io", _) => {
            Class::Admission
        }
        ("wgpolicyk8s.io" | "reports.kyverno.io", _) => Class::Admission,
        ("rbac.authorization.k8s.io", _) => Class::Rbac,
        ("source.toolkit.fluxcd.io", _) => Class::Source,
        ("", "Secret") | ("external-secrets.io", _) => Class::Secret,
        ("networking.k8s.io", "NetworkPolicy") => Class::Network,
        ("kustomize.config.k8s.io", _) => Class::Kustomize,
        ("", "Namespace") => Class::Namespace,
        ("kustomize.toolkit.fluxcd.io", "Kustomization") | ("helm.toolkit.fluxcd.io", _) => {
            Class::Reconciler
        }
        // Provider, ImageRepository and ImageUpdateAutomation are not free: each names a
        // Secret and an address to send it to (or a Git repository to push to).
        ("monitoring.coreos.com", "PrometheusRule")
        | ("notification.toolkit.fluxcd.io", "Alert")
        | ("", "ConfigMap")
        | ("image.toolkit.fluxcd.io", "ImagePolicy") => Class::Free,
        _ => Class::Other,
    }
}

impl Class {
    fn code(self, added: bool) -> Code {
        match self {
            Class::Admission if added => Code::AdmissionPolicyAdded,
            Class::Admission => Code::AdmissionPolicyChanged,
            Class::Rbac => Code::GrantBeyondEmbedded,
            Class::Source => Code::SourceChanged,
            Class::Secret => Code::SecretChanged,
            Class::Network => Code::NetworkPolicyChanged,
            Class::Kustomize => Code::KustomizeChanged,
            Class::Namespace => Code::NamespaceChanged,
            Class::Reconciler => Code::ReconcilerChanged,
            Class::Other | Class::Free => Code::ProtectedObjectChanged,
        }
    }

    fn adversary(self) -> &'static str {
        match self {
            Class::Admission => {
                "Adversaries 2 and 3: a tenant rule that no longer denies at admission"
            }
            Class::Rbac => "Adversaries 2 and 3: a grant nobody reviewed",
            Class::Source => "Adversary 1: an untrusted repository or key applied",
            Class::Secret => "Adversary 1: a key or credential nobody reviewed",
            Class::Network => "Adversary 2: NetworkPolicies add up, so an extra one opens flows",
            Class::Kustomize => "Adversary 3: the Flux lock-down patched away",
            Class::Namespace => "Adversary 2: Pod Security relaxed",
            Class::Reconciler => "Adversary 3: a reconciler with Flux's own rights",
            Class::Other | Class::Free => "an object nobody reviewed",
        }
    }
}

/// A document's identity within one environment tree. Kustomize files have no name: their
/// path is their identity.
type Key = (String, String, String, String);

fn key(m: &Manifest, doc: &Value) -> Key {
    let api = s(doc, &["apiVersion"]);
    if group_of(api) == "kustomize.config.k8s.io" {
        return (
            "kustomize.config.k8s.io".into(),
            s(doc, &["kind"]).into(),
            String::new(),
            m.path.clone(),
        );
    }
    (
        group_of(api).to_string(),
        s(doc, &["kind"]).to_string(),
        s(doc, &["metadata", "namespace"]).to_string(),
        s(doc, &["metadata", "name"]).to_string(),
    )
}

fn describe(k: &Key) -> String {
    if k.0 == "kustomize.config.k8s.io" {
        return format!("{} `{}`", k.1, k.3);
    }
    if k.2.is_empty() {
        format!("{} `{}`", k.1, k.3)
    } else {
        format!("{} `{}/{}`", k.1, k.2, k.3)
    }
}

/// The first JSON pointer where `a` and `b` differ.
fn first_difference(a: &Value, b: &Value, at: &mut String) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, va) in x {
                match y.get(k) {
                    Some(vb) if va == vb => {}
                    Some(vb) => {
                        at.push('/');
                        at.push_str(k);
                        return first_difference(va, vb, at);
                    }
                    None => {
                        at.push('/');
                        at.push_str(k);
                        return;
                    }
                }
            }
            if let Some(k) = y.keys().find(|k| !x.contains_key(*k)) {
                at.push('/');
                at.push_str(k);
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            for (i, (va, vb)) in x.iter().zip(y).enumerate() {
                if va != vb {
                    at.push_str(&format!("/{i}"));
                    return first_difference(va, vb, at);
                }
            }
            if x.len() != y.len() {
                at.push_str(&format!("/{}", x.len().min(y.len())));
            }
        }
        _ => {}
    }
}

/// A directory kustomization without its `resources`, and those resources.
fn split_resources(doc: &Value) -> (Value, BTreeSet<String>) {
    let mut rest = doc.clone();
    let resources = rest
        .as_object_mut()
        .and_then(|o| o.remove("resources"))
        .and_then(|r| {
            r.as_array().map(|a| {
                a.iter()
                    .map(|v| v.as_str().unwrap_or("").to_string())
                    .collect()
            })
        })
        .unwrap_or_default();
    (rest, resources)
}

/// Compares one environment's output with its reference.
pub(super) fn compare(
    out: &mut Vec<Diagnostic>,
    env: &Env,
    files: &[&Manifest],
    reference: &[&Manifest],
) {
    let e = &env.name;
    let mut want: HashMap<Key, (&Value, Class)> = HashMap::new();
    for m in reference {
        for d in &m.docs {
            want.insert(key(m, d), (d, class(d)));
        }
    }
    let mut seen: HashSet<Key> = HashSet::with_capacity(want.len());
    let mut rbac_changed: Vec<&Value> = Vec::new();
    for m in files {
        for d in &m.docs {
            let k = key(m, d);
            let c = class(d);
            let reference_doc = want.get(&k).map(|(v, _)| *v);
            seen.insert(k.clone());
            if c == Class::Free || reference_doc == Some(d) {
                continue;
            }
            if c == Class::Rbac {
                if !reference_doc.is_some_and(|r| narrows(r, d)) {
                    rbac_changed.push(d);
                }
                continue;
            }
            let what = describe(&k);
            match reference_doc {
                None => out.push(fail(
                    c.code(true),
                    e,
                    format!(
                        "template `{}` adds {what} in `{}`, which trustc's own templates do not emit for this trust model",
                        m.template, m.path
                    ),
                    c.adversary(),
                )),
                Some(r) if c == Class::Kustomize && s(d, &["kind"]) == "Kustomization" => {
                    let (rest_out, res_out) = split_resources(d);
                    let (rest_ref, res_ref) = split_resources(r);
                    let dropped: Vec<&String> = res_ref.difference(&res_out).collect();
                    if rest_out != rest_ref || !dropped.is_empty() {
                        let mut at = String::new();
                        first_difference(&rest_ref, &rest_out, &mut at);
                        out.push(fail(
                            c.code(false),
                            e,
                            if dropped.is_empty() {
                                format!("template `{}` changes {what} at `{at}`", m.template)
                            } else {
                                format!(
                                    "template `{}` drops {} from the resources of {what}",
                                    m.template,
                                    dropped.iter().map(|r| format!("`{r}`")).collect::<Vec<_>>().join(", ")
                                )
                            },
                            c.adversary(),
                        ));
                    }
                }
                Some(r) => {
                    let mut at = String::new();
                    first_difference(r, d, &mut at);
                    out.push(fail(
                        c.code(false),
                        e,
                        format!(
                            "template `{}` changes {what} at `{}` from what trustc's own templates emit",
                            m.template,
                            if at.is_empty() { "/" } else { &at }
                        ),
                        c.adversary(),
                    ));
                }
            }
        }
    }
    // Dropped: protective documents of the reference missing from the output.
    let mut dropped: Vec<(&Key, Class)> = want
        .iter()
        .filter(|(k, (_, c))| !matches!(c, Class::Free | Class::Rbac) && !seen.contains(*k))
        .map(|(k, (_, c))| (k, *c))
        .collect();
    dropped.sort();
    for (k, c) in dropped {
        out.push(fail(
            c.code(false),
            e,
            format!(
                "{} is missing: trustc's own templates emit it for this trust model",
                describe(k)
            ),
            c.adversary(),
        ));
    }
    if !rbac_changed.is_empty() {
        rbac(out, e, files, reference, &rbac_changed);
    }
}

impl PartialOrd for Class {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Class {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (*self as u8).cmp(&(*other as u8))
    }
}

/// One RBAC document that provably grants no more than its reference: a binding to the same
/// role naming a subset of its subjects; a role with the same labels and aggregation whose
/// every rule is covered by a rule of the reference. Such a change needs no analysis of
/// the whole output (an override that rewrites every tenant's Role stays linear).
fn narrows(reference: &Value, doc: &Value) -> bool {
    match s(doc, &["kind"]) {
        "RoleBinding" | "ClusterRoleBinding" => {
            let subjects: HashSet<Subject> = binding_subjects(reference).into_iter().collect();
            doc.get("roleRef") == reference.get("roleRef")
                && binding_subjects(doc).iter().all(|x| subjects.contains(x))
        }
        _ => {
            let labels = |d: &Value| super::field(d, &["metadata", "labels"]).cloned();
            labels(doc) == labels(reference)
                && doc.get("aggregationRule") == reference.get("aggregationRule")
                && {
                    let have = expand(doc);
                    let allowed = expand(reference);
                    have.iter().all(|t| allowed.iter().any(|a| covers(a, t)))
                }
        }
    }
}

/// A role's rules as (verb, group, resource or URL, resource names, is URL).
type RuleTuple = (String, String, String, BTreeSet<String>, bool);

fn expand(role: &Value) -> Vec<RuleTuple> {
    let list = |r: &Value, k: &str| -> Vec<String> {
        r.get(k)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .map(|v| v.as_str().unwrap_or("").to_string())
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut out = Vec::new();
    for r in role
        .get("rules")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let names: BTreeSet<String> = list(r, "resourceNames").into_iter().collect();
        for verb in list(r, "verbs") {
            for group in list(r, "apiGroups") {
                for resource in list(r, "resources") {
                    out.push((verb.clone(), group.clone(), resource, names.clone(), false));
                }
            }
            for url in list(r, "nonResourceURLs") {
                out.push((verb.clone(), String::new(), url, BTreeSet::new(), true));
            }
        }
    }
    out
}

fn covers(a: &RuleTuple, t: &RuleTuple) -> bool {
    let any = |x: &str, y: &str| x == "*" || x == y;
    a.4 == t.4
        && any(&a.0, &t.0)
        && any(&a.1, &t.1)
        && any(&a.2, &t.2)
        && (a.3.is_empty() || (!t.3.is_empty() && t.3.is_subset(&a.3)))
}

/// The subjects a binding names, as [`Subject`]s (a ServiceAccount without a namespace in a
/// RoleBinding means the binding's namespace).
pub(super) fn binding_subjects(b: &Value) -> Vec<Subject> {
    let ns = s(b, &["metadata", "namespace"]);
    b.get("subjects")
        .and_then(Value::as_array)
        .map(|subjects| {
            subjects
                .iter()
                .map(|x| {
                    let name = s(x, &["name"]);
                    match s(x, &["kind"]) {
                        "ServiceAccount" => {
                            let sns = s(x, &["namespace"]);
                            Subject::service_account(if sns.is_empty() { ns } else { sns }, name)
                        }
                        "Group" => Subject::group(name),
                        _ => Subject::user(name),
                    }
                })
                .collect()
        })
        .unwrap_or_default()
}

/// RBAC by effect: every subject touched by a changed RBAC document holds no grant the
/// reference does not give it.
fn rbac(
    out: &mut Vec<Diagnostic>,
    e: &str,
    files: &[&Manifest],
    reference: &[&Manifest],
    changed: &[&Value],
) {
    let mut subjects: BTreeSet<Subject> = BTreeSet::new();
    // Roles changed or added: every binding to them (aggregation: a labelled ClusterRole can
    // feed any aggregating role, including the built-in admin/edit/view).
    let mut roles: HashSet<(String, String)> = HashSet::new();
    let mut aggregates = false;
    for d in changed {
        match s(d, &["kind"]) {
            "RoleBinding" | "ClusterRoleBinding" => subjects.extend(binding_subjects(d)),
            kind => {
                roles.insert((
                    format!("{kind}/{}", s(d, &["metadata", "namespace"])),
                    s(d, &["metadata", "name"]).to_string(),
                ));
                aggregates |= kind == "ClusterRole" && field_nonempty(d, &["metadata", "labels"]);
            }
        }
    }
    let aggregating: HashSet<&str> = files
        .iter()
        .flat_map(|m| m.docs.iter())
        .filter(|d| s(d, &["kind"]) == "ClusterRole" && d.get("aggregationRule").is_some())
        .map(|d| s(d, &["metadata", "name"]))
        .chain(["admin", "edit", "view"])
        .collect();
    for d in files.iter().flat_map(|m| m.docs.iter()) {
        let kind = s(d, &["kind"]);
        if kind != "RoleBinding" && kind != "ClusterRoleBinding" {
            continue;
        }
        let rk = s(d, &["roleRef", "kind"]);
        let rn = s(d, &["roleRef", "name"]);
        let rns = if rk == "Role" {
            s(d, &["metadata", "namespace"])
        } else {
            ""
        };
        if roles.contains(&(format!("{rk}/{rns}"), rn.to_string()))
            || (aggregates && rk == "ClusterRole" && aggregating.contains(rn))
        {
            subjects.extend(binding_subjects(d));
        }
    }
    // A ClusterRole whose labels are not the reference's can feed an aggregated ClusterRole
    // of the cluster (the built-in admin, edit and view aggregate every ClusterRole labelled
    // `rbac.authorization.k8s.io/aggregate-to-<role>: "true"`), giving its rules to
    // every holder of that role, bound outside this output.
    let reference_labels: HashMap<&str, Option<&Value>> = reference
        .iter()
        .flat_map(|m| m.docs.iter())
        .filter(|d| s(d, &["kind"]) == "ClusterRole")
        .map(|d| {
            (
                s(d, &["metadata", "name"]),
                super::field(d, &["metadata", "labels"]),
            )
        })
        .collect();
    for d in changed.iter().filter(|d| s(d, &["kind"]) == "ClusterRole") {
        let name = s(d, &["metadata", "name"]);
        let labels = super::field(d, &["metadata", "labels"]);
        let has_rules = super::field(d, &["rules"])
            .and_then(Value::as_array)
            .is_some_and(|r| !r.is_empty());
        if has_rules
            && field_nonempty(d, &["metadata", "labels"])
            && reference_labels.get(name) != Some(&labels)
        {
            out.push(fail(
                Code::GrantBeyondEmbedded,
                e,
                format!(
                    "ClusterRole `{name}` has rules and labels trustc's own templates do not give it: an aggregated ClusterRole of the cluster (admin, edit, view…) selecting them would hand its rules to every holder"
                ),
                Class::Rbac.adversary(),
            ));
        }
    }
    if subjects.is_empty() {
        return;
    }
    let now = Manifests::from_documents(files.iter().map(|m| (m.path.as_str(), m.docs.as_slice())));
    let before = Manifests::from_documents(
        reference
            .iter()
            .map(|m| (m.path.as_str(), m.docs.as_slice())),
    );
    // Each subject costs one pass over the bindings: stop after a screenful of refusals.
    let mut reported = 0;
    for subject in &subjects {
        if reported == 20 {
            out.push(fail(
                Code::GrantBeyondEmbedded,
                e,
                format!(
                    "further subjects of the changed RBAC documents were not analysed ({} in all)",
                    subjects.len()
                ),
                Class::Rbac.adversary(),
            ));
            break;
        }
        let a = now.grants_of(subject);
        let b = before.grants_of(subject);
        let allowed: HashSet<_> = b.grants.iter().map(effect).collect();
        let mut extra: Vec<String> = a
            .grants
            .iter()
            .filter(|g| !allowed.contains(&effect(g)))
            .map(|g| {
                let what = match &g.non_resource_url {
                    Some(u) => format!("{} {u}", g.verb),
                    None if g.api_group.is_empty() => format!("{} {}", g.verb, g.resource),
                    None => format!("{} {}/{}", g.verb, g.api_group, g.resource),
                };
                let scope = match &g.namespace {
                    Some(ns) => format!("in namespace `{ns}`"),
                    None => "cluster-wide".to_string(),
                };
                format!("{what} {scope} ({} → {})", g.binding, g.role)
            })
            .collect();
        let known: HashSet<&String> = b.unknown.iter().collect();
        extra.extend(
            a.unknown
                .iter()
                .filter(|u| !known.contains(u))
                .map(|u| format!("undecidable: {u}")),
        );
        extra.dedup();
        if extra.is_empty() {
            continue;
        }
        reported += 1;
        let shown = extra.len().min(5);
        out.push(fail(
            Code::GrantBeyondEmbedded,
            e,
            format!(
                "{subject} holds {} grant(s) trustc's own templates do not give: {}{}",
                extra.len(),
                extra[..shown].join("; "),
                if extra.len() > shown { "; …" } else { "" }
            ),
            Class::Rbac.adversary(),
        ));
    }
}

fn field_nonempty(d: &Value, path: &[&str]) -> bool {
    super::field(d, path)
        .and_then(Value::as_object)
        .is_some_and(|o| !o.is_empty())
}

type Effect = (
    String,
    String,
    String,
    Vec<String>,
    Option<String>,
    Option<String>,
);

fn effect(g: &crate::access::Grant) -> Effect {
    (
        g.verb.clone(),
        g.api_group.clone(),
        g.resource.clone(),
        g.resource_names.clone(),
        g.non_resource_url.clone(),
        g.namespace.clone(),
    )
}
