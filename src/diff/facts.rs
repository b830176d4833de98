//! Facts of one compiled version, keyed so two versions compare key by key, and the rules
//! that judge a changed fact.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::{Action, Category, Change, Severity, Side};
use crate::access::{Manifests, Subject};
use crate::diag::Span;
use crate::model::{Env, Tenant};
use crate::spec;

/// (environment, category, subject, item).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Key {
    env: String,
    category: Category,
    subject: String,
    item: String,
}

/// A fact's value, shaped for judging.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Value_ {
    /// Verbs granted on one resource in one namespace.
    Verbs(BTreeSet<String>),
    /// A text compared as a whole (a repository edge, a fingerprint…).
    Text(String),
    /// An on/off setting (opt-ins): `true` widens.
    Flag(bool),
    /// An admission policy: whether it enforces, how many validations, its canonical JSON.
    Admission {
        enforcing: bool,
        validations: usize,
        canonical: String,
    },
    /// A NetworkPolicy: its allow rules, each canonical JSON; and whether it isolates.
    Network {
        rules: BTreeSet<String>,
        policy_types: BTreeSet<String>,
    },
    /// A Pod Security level (`privileged` < `baseline` < `restricted`).
    PodSecurity(String),
}

pub(super) struct Fact {
    value: Value_,
    /// The spec lines that produce the fact.
    pub(super) origin: Option<Span>,
    /// What holds the fact in a spec (a tenant, the platform tier): located by name in
    /// either version, so a removed fact points at its tenant in the new spec.
    pub(super) fallback: Option<Holder>,
    /// For a grant in a namespace: the fact of that namespace's trust edge and the line
    /// naming the namespace, which explains the grant when the namespace is new.
    pub(super) scope: Option<(Key, Span)>,
}

pub(super) type Facts = BTreeMap<Key, Fact>;

/// The spec table a fact belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Holder {
    Tenant(String),
    Platform,
}

impl Holder {
    /// The table's header in `spec`, if it is there.
    pub(super) fn header(&self, spec: &spec::TrustModel) -> Option<Span> {
        match self {
            Holder::Tenant(t) => spec.headers.tenants.get(t).cloned(),
            Holder::Platform => spec.headers.platform.clone(),
        }
    }
}

fn key(env: &str, category: Category, subject: impl Into<String>, item: impl Into<String>) -> Key {
    Key {
        env: env.to_string(),
        category,
        subject: subject.into(),
        item: item.into(),
    }
}

/// Every fact of one version.
pub(super) fn collect(side: &Side<'_>) -> Facts {
    let mut facts = Facts::new();
    for env in &side.policy.environments {
        let docs = documents_of(side, &env.name);
        permissions(side, env, &docs, &mut facts);
        edges(side, env, &mut facts);
        controls(env, &docs, &mut facts);
    }
    facts
}

/// The parsed documents of one environment's output: (tree path, documents).
fn documents_of(side: &Side<'_>, env: &str) -> Vec<(String, Vec<Value>)> {
    let prefix = format!("{env}/");
    side.tree
        .files
        .iter()
        .filter(|(p, _)| p.starts_with(&prefix) && (p.ends_with(".yaml") || p.ends_with(".yml")))
        .filter_map(|(p, bytes)| {
            let text = std::str::from_utf8(bytes).ok()?;
            let docs = crate::verify::parse_documents(text).ok()?;
            Some((p.clone(), docs))
        })
        .collect()
}

fn subject_label(s: &Subject) -> String {
    match &s.namespace {
        Some(ns) => format!("{} {ns}/{}", s.kind, s.name),
        None => format!("{} {}", s.kind, s.name),
    }
}

fn tenant_of_sa<'e>(env: &'e Env, s: &Subject) -> Option<&'e Tenant> {
    env.tenants.iter().find(|t| {
        s.kind == "ServiceAccount"
            && s.namespace.as_deref() == Some(t.home.as_str())
            && s.name == t.service_account
    })
}

fn permissions(side: &Side<'_>, env: &Env, docs: &[(String, Vec<Value>)], facts: &mut Facts) {
    let manifests = Manifests::from_documents(
        docs.iter()
            .filter(|(p, _)| !p.ends_with("kustomization.yaml"))
            .map(|(p, d)| (p.as_str(), d.as_slice())),
    );
    for subject in manifests.subjects() {
        let analysis = manifests.grants_of(&subject);
        let mut per_item: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for g in &analysis.grants {
            let scope = g.namespace.as_deref().unwrap_or("cluster-wide");
            let what = match &g.non_resource_url {
                Some(url) => format!("url {url}"),
                None => {
                    let group = if g.api_group.is_empty() {
                        "core"
                    } else {
                        g.api_group.as_str()
                    };
                    let names = if g.resource_names.is_empty() {
                        String::new()
                    } else {
                        format!(" [{}]", g.resource_names.join(","))
                    };
                    format!("{group}/{}{names}", g.resource)
                }
            };
            per_item
                .entry(format!("{what} in {scope}"))
                .or_default()
                .insert(g.verb.clone());
        }
        let tenant = tenant_of_sa(env, &subject);
        let platform = subject.kind == "ServiceAccount"
            && subject.namespace.as_deref() == Some(env.platform.namespace.as_str())
            && subject.name == env.platform.service_account;
        for (item, verbs) in per_item {
            let scope = tenant.and_then(|t| {
                let ns = item.rsplit(" in ").next()?;
                let span = side
                    .spec
                    .tenants
                    .get(&t.name)?
                    .namespaces
                    .iter()
                    .find(|n| n.as_str() == ns)?
                    .span
                    .clone();
                Some((
                    key(
                        &env.name,
                        Category::Repository,
                        format!("tenant {}", t.name),
                        format!("namespace {ns}"),
                    ),
                    span,
                ))
            });
            let (origin, fallback) = match tenant {
                Some(t) => {
                    let spec_t = side.spec.tenants.get(&t.name);
                    let origin = spec_t.and_then(|st| permission_origin(st, &item));
                    (origin, Some(Holder::Tenant(t.name.clone())))
                }
                None if platform => (
                    side.spec
                        .platform
                        .cluster_kinds
                        .first()
                        .map(|k| k.span.clone()),
                    Some(Holder::Platform),
                ),
                None => (None, None),
            };
            facts.insert(
                key(
                    &env.name,
                    Category::Permission,
                    subject_label(&subject),
                    item,
                ),
                Fact {
                    value: Value_::Verbs(verbs),
                    origin,
                    fallback,
                    scope,
                },
            );
        }
    }
}

/// The `allowed_kinds` entry (or opt-in) of a tenant that grants `item`
/// (`group/resource in namespace`).
fn permission_origin(t: &spec::Tenant, item: &str) -> Option<Span> {
    let resource = item
        .split(" in ")
        .next()
        .and_then(|gr| gr.rsplit('/').next())
        .unwrap_or_default();
    if resource == "secrets" {
        if let Some(flag) = &t.allow_secrets {
            return Some(flag.span.clone());
        }
    }
    if resource == "networkpolicies" {
        if let Some(flag) = &t.allow_network_policies {
            return Some(flag.span.clone());
        }
    }
    let singular = resource.trim_end_matches('s').to_ascii_lowercase();
    t.allowed_kinds
        .iter()
        .find(|k| {
            let kind = k
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_ascii_lowercase();
            kind == singular || kind == resource || format!("{kind}s") == resource
        })
        .or_else(|| t.allowed_kinds.first())
        .map(|k| k.span.clone())
}

fn edges(side: &Side<'_>, env: &Env, facts: &mut Facts) {
    let e = &env.name;
    // The platform tier.
    let p = &env.platform;
    let sp = &side.spec.platform;
    facts.insert(
        key(e, Category::Repository, "platform", "source"),
        Fact {
            value: Value_::Text(format!(
                "{} @ {} : {} → {}/{} (cluster-wide)",
                p.repository, p.branch, p.path, p.namespace, p.service_account
            )),
            origin: Some(sp.repository.span.clone()),
            fallback: Some(Holder::Platform),
            scope: None,
        },
    );
    for s in &p.signers {
        let origin = sp
            .signers
            .iter()
            .find(|x| x.as_str() == s.name)
            .map(|x| x.span.clone());
        facts.insert(
            key(e, Category::Signer, "platform", &s.name),
            Fact {
                value: Value_::Text(signer_text(side, s)),
                origin: origin.or_else(|| side.spec.headers.signers.get(&s.name).cloned()),
                fallback: Some(Holder::Platform),
                scope: None,
            },
        );
    }
    for t in &env.tenants {
        let st = side.spec.tenants.get(&t.name);
        let header = Some(Holder::Tenant(t.name.clone()));
        let subject = format!("tenant {}", t.name);
        facts.insert(
            key(e, Category::Repository, &subject, "source"),
            Fact {
                value: Value_::Text(format!(
                    "{} @ {} : {} → {}/{}",
                    t.repository, t.branch, t.path, t.home, t.service_account
                )),
                origin: st.map(|s| s.repository.span.clone()),
                fallback: header.clone(),
                scope: None,
            },
        );
        for ns in &t.namespaces {
            facts.insert(
                key(e, Category::Repository, &subject, format!("namespace {ns}")),
                Fact {
                    value: Value_::Text(format!("reconciled into {ns}")),
                    origin: st.and_then(|s| {
                        s.namespaces
                            .iter()
                            .find(|n| n.as_str() == ns)
                            .map(|n| n.span.clone())
                    }),
                    fallback: header.clone(),
                    scope: None,
                },
            );
        }
        for s in &t.signers {
            let origin = st
                .and_then(|x| x.signers.iter().find(|n| n.as_str() == s.name))
                .map(|n| n.span.clone())
                .or_else(|| side.spec.headers.signers.get(&s.name).cloned());
            facts.insert(
                key(e, Category::Signer, &subject, &s.name),
                Fact {
                    value: Value_::Text(signer_text(side, s)),
                    origin,
                    fallback: header.clone(),
                    scope: None,
                },
            );
        }
        for r in &t.registries {
            let signing = match (&r.cosign_key, &r.keyless) {
                (Some(_), _) => "cosign key".to_string(),
                (None, Some(k)) => format!("keyless {} {}", k.issuer, k.subject),
                (None, None) => "unsigned".to_string(),
            };
            let key_text = r.cosign_key.as_deref().unwrap_or_default();
            let origin = st
                .and_then(|x| x.registries.iter().find(|n| n.as_str() == r.name))
                .map(|n| n.span.clone())
                .or_else(|| side.spec.headers.registries.get(&r.name).cloned());
            facts.insert(
                key(e, Category::Registry, &subject, &r.host),
                Fact {
                    value: Value_::Text(if key_text.is_empty() {
                        signing
                    } else {
                        format!("{signing} (key {})", short_hash(key_text))
                    }),
                    origin,
                    fallback: header.clone(),
                    scope: None,
                },
            );
        }
        for (i, img) in t.images.iter().enumerate() {
            let origin = st
                .and_then(|x| x.images.get(i))
                .map(|x| x.semver.span.clone());
            facts.insert(
                key(e, Category::Image, &subject, &img.name),
                Fact {
                    value: Value_::Text(format!(
                        "{} semver `{}` tags `{}`",
                        img.repository,
                        img.semver,
                        img.tag_pattern.as_deref().unwrap_or("*")
                    )),
                    origin,
                    fallback: header.clone(),
                    scope: None,
                },
            );
        }
        for (i, c) in t.charts.iter().enumerate() {
            let origin = st
                .and_then(|x| x.charts.get(i))
                .map(|x| x.repository.span.clone());
            facts.insert(
                key(e, Category::Chart, &subject, &c.name),
                Fact {
                    value: Value_::Text(format!(
                        "{} {} version `{}`{}",
                        c.source_kind,
                        c.url,
                        c.version,
                        if c.verify.is_some() { ", verified" } else { "" }
                    )),
                    origin,
                    fallback: header.clone(),
                    scope: None,
                },
            );
        }
        for (name, on, spanned) in [
            (
                "allow_secrets",
                t.allow_secrets,
                st.and_then(|x| x.allow_secrets.as_ref()),
            ),
            (
                "allow_network_policies",
                t.allow_network_policies,
                st.and_then(|x| x.allow_network_policies.as_ref()),
            ),
        ] {
            facts.insert(
                key(e, Category::OptIn, &subject, name),
                Fact {
                    value: Value_::Flag(on),
                    origin: spanned.map(|s| s.span.clone()),
                    fallback: header.clone(),
                    scope: None,
                },
            );
        }
    }
}

/// A signer as trusted: name, e-mail, fingerprint and, for an expiring key, its expiry day.
fn signer_text(side: &Side<'_>, s: &crate::model::Signer) -> String {
    let expiry = side
        .signer_keys
        .get(&s.name)
        .and_then(|k| k.expires)
        .map(|t| format!(", expires {}", utc_date(t)))
        .unwrap_or_default();
    format!("{} <{}> {}{expiry}", s.name, s.email, s.fingerprint)
}

/// `YYYY-MM-DD` of a Unix time (UTC), by Howard Hinnant's days-to-civil algorithm.
fn utc_date(unix: i64) -> String {
    let z = unix.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

fn short_hash(text: &str) -> String {
    // FNV-1a: a stable, dependency-free fingerprint of a key's text for display only.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

fn str_at<'v>(v: &'v Value, path: &[&str]) -> Option<&'v str> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_str()
}

fn name_of(doc: &Value) -> String {
    let name = str_at(doc, &["metadata", "name"]).unwrap_or("?");
    match str_at(doc, &["metadata", "namespace"]) {
        Some(ns) => format!("{ns}/{name}"),
        None => name.to_string(),
    }
}

/// The tenant whose directory a tree path is in (`<env>/tenants/<t>/…`).
fn tenant_dir(path: &str) -> Option<&str> {
    let mut parts = path.split('/');
    parts.next()?;
    (parts.next()? == "tenants").then_some(())?;
    parts.next()
}

fn controls(env: &Env, docs: &[(String, Vec<Value>)], facts: &mut Facts) {
    let e = &env.name;
    // A document in a tenant's namespace belongs to that tenant wherever its file is
    // (alerts live under monitoring/).
    let owner: BTreeMap<&str, &str> = env
        .tenants
        .iter()
        .flat_map(|t| t.namespaces.iter().map(|ns| (ns.as_str(), t.name.as_str())))
        .collect();
    for (path, file_docs) in docs {
        let by_path = tenant_dir(path)
            .map(|t| Holder::Tenant(t.to_string()))
            .or_else(|| path.contains("/platform/").then_some(Holder::Platform));
        for doc in file_docs {
            let kind = str_at(doc, &["kind"]).unwrap_or_default();
            let name = name_of(doc);
            let fallback = by_path.clone().or_else(|| {
                let ns = str_at(doc, &["metadata", "namespace"]).or_else(|| {
                    (kind == "Namespace")
                        .then(|| str_at(doc, &["metadata", "name"]))
                        .flatten()
                })?;
                owner.get(ns).map(|t| Holder::Tenant((*t).to_string()))
            });
            let fact = |value: Value_| Fact {
                value,
                origin: None,
                fallback: fallback.clone(),
                scope: None,
            };
            match kind {
                "ClusterPolicy"
                | "ValidatingPolicy"
                | "ImageValidatingPolicy"
                | "ValidatingAdmissionPolicy"
                | "ValidatingAdmissionPolicyBinding" => {
                    facts.insert(
                        key(e, Category::Admission, format!("{kind} {name}"), "policy"),
                        fact(admission_value(kind, doc)),
                    );
                }
                "GitRepository" | "OCIRepository" | "HelmChart" => {
                    let verify = doc
                        .get("spec")
                        .and_then(|s| s.get("verify"))
                        .map(|v| serde_json::to_string(v).unwrap_or_default())
                        .unwrap_or_else(|| "none".to_string());
                    facts.insert(
                        key(
                            e,
                            Category::Verification,
                            format!("{kind} {name}"),
                            "verify",
                        ),
                        fact(Value_::Text(verify)),
                    );
                }
                "NetworkPolicy" => {
                    facts.insert(
                        key(
                            e,
                            Category::Network,
                            format!("NetworkPolicy {name}"),
                            "rules",
                        ),
                        fact(network_value(doc)),
                    );
                }
                "Alert" | "Provider" => {
                    let spec = doc.get("spec").cloned().unwrap_or(Value::Null);
                    facts.insert(
                        key(e, Category::Alerting, format!("{kind} {name}"), "spec"),
                        fact(Value_::Text(
                            serde_json::to_string(&spec).unwrap_or_default(),
                        )),
                    );
                }
                "PrometheusRule" => {
                    for group in doc
                        .pointer("/spec/groups")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                    {
                        for rule in group
                            .get("rules")
                            .and_then(Value::as_array)
                            .into_iter()
                            .flatten()
                        {
                            if let Some(alert) = rule.get("alert").and_then(Value::as_str) {
                                facts.insert(
                                    key(
                                        e,
                                        Category::Alerting,
                                        format!("PrometheusRule {name}"),
                                        format!("alert {alert}"),
                                    ),
                                    fact(Value_::Text(
                                        serde_json::to_string(rule).unwrap_or_default(),
                                    )),
                                );
                            }
                        }
                    }
                }
                "Namespace" => {
                    let level = str_at(
                        doc,
                        &["metadata", "labels", "pod-security.kubernetes.io/enforce"],
                    )
                    .unwrap_or("privileged");
                    facts.insert(
                        key(
                            e,
                            Category::PodSecurity,
                            format!("Namespace {name}"),
                            "enforce",
                        ),
                        fact(Value_::PodSecurity(level.to_string())),
                    );
                }
                "Component" => {
                    for (i, patch) in doc
                        .get("patches")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .enumerate()
                    {
                        let target = patch
                            .get("target")
                            .map(|t| serde_json::to_string(t).unwrap_or_default())
                            .unwrap_or_else(|| format!("patch {i}"));
                        let body = patch
                            .get("patch")
                            .and_then(Value::as_str)
                            .unwrap_or_default();
                        let ops = crate::verify::parse_documents(body).unwrap_or_default();
                        let ops: Vec<&Value> =
                            ops.iter().filter_map(Value::as_array).flatten().collect();
                        let strategic_delete = body.lines().any(|l| l.trim() == "$patch: delete");
                        for op in ops {
                            if let Some(flag) = op.get("value").and_then(Value::as_str) {
                                facts.insert(
                                    key(e, Category::Lockdown, format!("patch {target}"), flag),
                                    fact(Value_::Text("set".into())),
                                );
                            }
                        }
                        if strategic_delete {
                            facts.insert(
                                key(e, Category::Lockdown, format!("patch {target}"), "delete"),
                                fact(Value_::Text("set".into())),
                            );
                        }
                    }
                }
                _ => {}
            }
        }
    }
}

fn admission_value(kind: &str, doc: &Value) -> Value_ {
    let spec = doc.get("spec").cloned().unwrap_or(Value::Null);
    let text = serde_json::to_string(&spec).unwrap_or_default();
    let enforcing = match kind {
        "ClusterPolicy" => {
            // Every validate rule enforces (per-rule failureAction, or the deprecated
            // spec-level validationFailureAction), every verifyImages too.
            let spec_level = str_at(doc, &["spec", "validationFailureAction"]);
            spec.get("rules")
                .and_then(Value::as_array)
                .is_some_and(|rules| {
                    rules.iter().all(|r| {
                        let action = r
                            .pointer("/validate/failureAction")
                            .and_then(Value::as_str)
                            .or_else(|| {
                                r.get("verifyImages")
                                    .and_then(Value::as_array)
                                    .and_then(|v| v.first())
                                    .and_then(|v| v.get("failureAction"))
                                    .and_then(Value::as_str)
                            })
                            .or(spec_level)
                            .unwrap_or("Audit");
                        action.eq_ignore_ascii_case("enforce")
                    })
                })
        }
        "ValidatingPolicy" | "ImageValidatingPolicy" => spec
            .get("validationActions")
            .and_then(Value::as_array)
            .is_none_or(|a| a.iter().any(|x| x.as_str() == Some("Deny"))),
        "ValidatingAdmissionPolicyBinding" => spec
            .get("validationActions")
            .and_then(Value::as_array)
            .is_some_and(|a| a.iter().any(|x| x.as_str() == Some("Deny"))),
        _ => true,
    };
    let validations = ["rules", "validations"]
        .iter()
        .filter_map(|k| spec.get(*k).and_then(Value::as_array))
        .map(Vec::len)
        .sum();
    Value_::Admission {
        enforcing,
        validations,
        canonical: text,
    }
}

fn network_value(doc: &Value) -> Value_ {
    let mut rules = BTreeSet::new();
    for dir in ["ingress", "egress"] {
        for r in doc
            .pointer(&format!("/spec/{dir}"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            rules.insert(format!(
                "{dir} {}",
                serde_json::to_string(r).unwrap_or_default()
            ));
        }
    }
    let selector = doc
        .pointer("/spec/podSelector")
        .map(|s| serde_json::to_string(s).unwrap_or_default())
        .unwrap_or_default();
    rules.insert(format!("selects {selector}"));
    let policy_types = doc
        .pointer("/spec/policyTypes")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    Value_::Network {
        rules,
        policy_types,
    }
}

fn pss_rank(level: &str) -> u8 {
    match level {
        "restricted" => 2,
        "baseline" => 1,
        _ => 0,
    }
}

fn display(v: &Value_) -> String {
    match v {
        Value_::Verbs(verbs) => verbs.iter().cloned().collect::<Vec<_>>().join(","),
        Value_::Text(t) => t.clone(),
        Value_::Flag(b) => b.to_string(),
        Value_::Admission {
            enforcing,
            validations,
            ..
        } => format!(
            "{} with {validations} rule(s)",
            if *enforcing {
                "enforcing"
            } else {
                "audit only"
            }
        ),
        Value_::Network { rules, .. } => format!("{} allow rule(s)", rules.len() - 1),
        Value_::PodSecurity(l) => l.clone(),
    }
}

/// The change from `before` to `after` of one fact, without its location.
pub(super) fn judge(k: &Key, before: Option<&Fact>, after: Option<&Fact>) -> Option<Change> {
    use Severity::*;
    let (b, a) = (before.map(|f| &f.value), after.map(|f| &f.value));
    if b == a {
        return None;
    }
    let action = match (b, a) {
        (None, Some(_)) => Action::Create,
        (Some(_), None) => Action::Delete,
        _ => Action::Update,
    };
    let what = format!("{} {}", k.subject, k.item);
    let (severity, summary) = match (k.category, b, a) {
        (Category::Permission, _, _) => {
            let empty = BTreeSet::new();
            let vb = match b {
                Some(Value_::Verbs(v)) => v,
                _ => &empty,
            };
            let va = match a {
                Some(Value_::Verbs(v)) => v,
                _ => &empty,
            };
            let gained: Vec<&str> = va.difference(vb).map(String::as_str).collect();
            let lost: Vec<&str> = vb.difference(va).map(String::as_str).collect();
            let mut parts = Vec::new();
            if !gained.is_empty() {
                parts.push(format!("may now {}", gained.join(",")));
            }
            if !lost.is_empty() {
                parts.push(format!("may no longer {}", lost.join(",")));
            }
            let sev = if gained.is_empty() {
                Hardening
            } else {
                Escalation
            };
            (
                sev,
                format!("{}: {} {}", k.subject, parts.join("; "), k.item),
            )
        }
        (Category::OptIn, _, _) => {
            let on = matches!(a, Some(Value_::Flag(true)));
            let was = matches!(b, Some(Value_::Flag(true)));
            match (was, on) {
                (false, true) => (Escalation, format!("{}: `{}` turned on", k.subject, k.item)),
                (true, false) => (Hardening, format!("{}: `{}` turned off", k.subject, k.item)),
                _ => return None,
            }
        }
        (Category::Repository | Category::Signer | Category::Chart, None, Some(_)) => {
            (Escalation, format!("{what}: newly trusted"))
        }
        (Category::Repository | Category::Signer | Category::Chart, Some(_), None) => {
            (Hardening, format!("{what}: no longer trusted"))
        }
        (Category::Repository | Category::Signer | Category::Chart, Some(_), Some(_)) => {
            (Escalation, format!("{what}: trusted source changed"))
        }
        (Category::Registry, None, Some(v)) => {
            let unsigned = display(v).starts_with("unsigned");
            (
                Escalation,
                format!(
                    "{what}: images {}may now run",
                    if unsigned { "(unsigned) " } else { "" }
                ),
            )
        }
        (Category::Registry, Some(_), None) => (Hardening, format!("{what}: no longer allowed")),
        (Category::Registry, Some(vb), Some(va)) => {
            let now_unsigned = display(va).starts_with("unsigned");
            let was_unsigned = display(vb).starts_with("unsigned");
            let sev = match (was_unsigned, now_unsigned) {
                (false, true) => Weakening,
                (true, false) => Hardening,
                _ => Escalation,
            };
            (sev, format!("{what}: verification changed"))
        }
        (Category::Image, _, _) => (Neutral, format!("{what}: image policy changed")),
        (Category::Admission, None, Some(_)) => (Hardening, format!("{what}: added")),
        (Category::Admission, Some(_), None) => (Weakening, format!("{what}: removed")),
        (
            Category::Admission,
            Some(Value_::Admission {
                enforcing: eb,
                validations: nb,
                ..
            }),
            Some(Value_::Admission {
                enforcing: ea,
                validations: na,
                ..
            }),
        ) => {
            if *eb && !*ea {
                (
                    Weakening,
                    format!("{what}: no longer enforced (audit only)"),
                )
            } else if !*eb && *ea {
                (Hardening, format!("{what}: now enforced"))
            } else if na < nb {
                (Weakening, format!("{what}: {nb} → {na} rules"))
            } else if na > nb {
                (Hardening, format!("{what}: {nb} → {na} rules"))
            } else {
                (Neutral, format!("{what}: rules changed"))
            }
        }
        (Category::Verification, _, _) => {
            let verified = |v: &Value_| display(v) != "none";
            match (b, a) {
                (None, Some(va)) if verified(va) => {
                    (Neutral, format!("{what}: new verified source"))
                }
                (None, _) => (
                    Weakening,
                    format!("{what}: new source without verification"),
                ),
                (Some(_), None) => (Neutral, format!("{what}: source removed")),
                (Some(vb), Some(va)) => match (verified(vb), verified(va)) {
                    (true, false) => (Weakening, format!("{what}: verification dropped")),
                    (false, true) => (Hardening, format!("{what}: verification added")),
                    _ => (Neutral, format!("{what}: verification changed")),
                },
            }
        }
        (Category::Network, _, _) => {
            let empty = BTreeSet::new();
            let (rb, tb) = match b {
                Some(Value_::Network {
                    rules,
                    policy_types,
                }) => (rules, policy_types),
                _ => (&empty, &empty),
            };
            let (ra, ta) = match a {
                Some(Value_::Network {
                    rules,
                    policy_types,
                }) => (rules, policy_types),
                _ => (&empty, &empty),
            };
            let opened = ra.difference(rb).any(|r| !r.starts_with("selects "));
            let closed_types = tb.difference(ta).count() > 0;
            let isolating = |rules: &BTreeSet<String>, types: &BTreeSet<String>| {
                !types.is_empty() && rules.iter().all(|r| r.starts_with("selects "))
            };
            match (b, a) {
                (None, Some(_)) if isolating(ra, ta) => {
                    (Hardening, format!("{what}: isolates the selected pods"))
                }
                (None, Some(_)) => (Weakening, format!("{what}: new NetworkPolicy opens flows")),
                (Some(_), None) if isolating(rb, tb) => {
                    (Weakening, format!("{what}: isolation removed"))
                }
                (Some(_), None) => (Hardening, format!("{what}: allowed flows removed")),
                _ if opened || closed_types => (Weakening, format!("{what}: opens more flows")),
                _ => (Hardening, format!("{what}: allows fewer flows")),
            }
        }
        (Category::Alerting, None, Some(_)) => (Hardening, format!("{what}: added")),
        (Category::Alerting, Some(_), None) => (Weakening, format!("{what}: removed")),
        (Category::Alerting, _, _) => (Neutral, format!("{what}: changed")),
        (Category::PodSecurity, _, _) => {
            let lb = b.map(display).unwrap_or_default();
            let la = a.map(display).unwrap_or_default();
            let sev = match (b, a) {
                (None, _) => Neutral,
                (_, None) => Neutral,
                _ if pss_rank(&la) < pss_rank(&lb) => Weakening,
                _ => Hardening,
            };
            let summary = match (b, a) {
                (None, _) => format!("{what}: new namespace at Pod Security `{la}`"),
                (_, None) => format!("{what}: namespace removed"),
                _ => format!("{what}: Pod Security `{lb}` → `{la}`"),
            };
            (sev, summary)
        }
        (Category::Lockdown, None, Some(_)) => (Hardening, format!("lock-down {what}: added")),
        (Category::Lockdown, Some(_), None) => (Weakening, format!("lock-down {what}: removed")),
        (Category::Lockdown, _, _) => (Neutral, format!("lock-down {what}: changed")),
        (_, _, _) => (Neutral, format!("{what}: changed")),
    };
    Some(Change {
        env: k.env.clone(),
        category: k.category,
        severity,
        actions: vec![action],
        subject: k.subject.clone(),
        item: k.item.clone(),
        summary,
        before: b.map(display),
        after: a.map(display),
        location: None,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn utc_dates() {
        assert_eq!(super::utc_date(0), "1970-01-01");
        assert_eq!(super::utc_date(951_782_400), "2000-02-29");
        assert_eq!(super::utc_date(1_795_740_094), "2026-11-27");
    }
}
