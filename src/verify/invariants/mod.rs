//! Security invariants on the final manifests, checked after render and before write on the
//! very documents about to be written (a template override cannot slip past them). Each
//! failure names the object, the rule and the adversary of the seed it would re-open.

mod reference;
mod whole;

use rayon::prelude::*;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use base64::Engine as _;

use serde_json::Value;

use super::Manifest;
use crate::access::{Manifests, Subject};
use crate::diag::{Code, Diagnostic};
use crate::kinds::{self, Risk};
use crate::model::{Env, Policy, Tenant};

const EXEC_LIKE: &[&str] = &[
    "pods/exec",
    "pods/attach",
    "pods/portforward",
    "pods/proxy",
    "services/proxy",
    "pods/ephemeralcontainers",
    "serviceaccounts/token",
];

fn fail(code: Code, env: &str, what: String, adversary: &str) -> Diagnostic {
    Diagnostic::new(code, format!("[{env}] {what}"))
        .note(format!("this would re-open {adversary}"))
        .help("the output is refused and nothing is written; fix the template override or report a trustc bug")
}

/// Checks every environment's manifests against the policy. Empty when all invariants hold.
///
/// `reference`: what trustc's own embedded templates compile the same policy to, when
/// template overrides are in use ([`reference`]); `None` when the manifests are that
/// reference already.
pub fn check(
    policy: &Policy,
    manifests: &[&Manifest],
    reference: Option<&[&Manifest]>,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for env in &policy.environments {
        check_one(&mut out, policy, env, manifests, reference, None);
    }
    out
}

/// [`check`] for one environment (`policy.environments[index]`): the same checks, on the
/// files of that environment among `manifests` (and of `reference`).
pub fn check_env(
    policy: &Policy,
    index: usize,
    manifests: &[&Manifest],
    reference: Option<&[&Manifest]>,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    check_one(
        &mut out,
        policy,
        &policy.environments[index],
        manifests,
        reference,
        None,
    );
    out
}

/// `facts`: `None` when `manifests` hold every document of the environment; `Some` when the
/// documents only [`Stream::observe`] reads were checked one by one and dropped, and these
/// are what it recorded of them.
fn check_one(
    out: &mut Vec<Diagnostic>,
    policy: &Policy,
    env: &Env,
    manifests: &[&Manifest],
    reference: Option<&[&Manifest]>,
    facts: Option<&Facts>,
) {
    let prefix = format!("{}/", env.name);
    let files = of_env(manifests, &prefix);
    // The whole environment's RBAC model, for its notes; [`Stream::observe`] took them file
    // by file already.
    let rbac = match facts {
        None => {
            Manifests::from_documents(files.iter().map(|m| (m.path.as_str(), m.docs.as_slice())))
        }
        Some(_) => Manifests::default(),
    };
    let docs: Vec<&Value> = files.iter().flat_map(|m| m.docs.iter()).collect();
    let tenants = whole::tenant_index(env);
    let index = RbacIndex::new(&files);
    // The checks read the same documents and write only their own diagnostics: they run in
    // parallel, each into its own list, and the lists join in this fixed order (the same
    // diagnostics, in the same order, as one after the other).
    let per_tenant: Vec<Vec<Diagnostic>> = env
        .tenants
        .par_iter()
        .map(|t| {
            let mut d = Vec::new();
            tenant_grants(&mut d, env, t, &index.for_tenant(t, &rbac));
            d
        })
        .collect();
    out.extend(per_tenant.into_iter().flatten());
    // Each document's kind, read once. A check that reads only some kinds gets the documents
    // of those kinds, in document order (it still applies its own filter, so it sees exactly
    // the documents it saw when it scanned them all); a check that reads by API group, or any
    // kind, gets every document. Each kind list (the constants [`READ_KINDS`] gathers) is
    // every kind its check's filters accept: a kind missing there would hide documents from
    // the check, and from a compile that keeps only what [`reads`] accepts.
    let kinds: Vec<&str> = docs.iter().map(|d| s(d, &["kind"])).collect();
    let of_kinds = |wanted: &[&str]| -> Vec<&Value> {
        docs.iter()
            .zip(&kinds)
            .filter(|(_, k)| wanted.contains(k))
            .map(|(d, _)| *d)
            .collect()
    };
    let reconciler_docs = of_kinds(RECONCILER_KINDS);
    let git_docs = of_kinds(GIT_KINDS);
    let image_policies = of_kinds(IMAGE_POLICY_KINDS);
    let rbac_docs = of_kinds(RBAC_KINDS);
    let lockdown_docs = of_kinds(LOCKDOWN_KINDS);
    let components = of_kinds(&["Component"]);
    let namespaces = of_kinds(NAMESPACE_KINDS);
    let network_policies = of_kinds(&["NetworkPolicy"]);
    let admission_docs = of_kinds(whole::ADMISSION_KINDS);
    type Check<'c> = &'c (dyn Fn(&mut Vec<Diagnostic>) + Sync);
    // The checks of one document at a time ([`Stream::observe`] ran them already when
    // `facts` are given), then those of the whole environment.
    let local = facts.is_none();
    let checks: [Check<'_>; 13] = [
        &|o| {
            if local {
                reconcilers(o, env, &reconciler_docs, &tenants);
            }
        },
        &|o| sources(o, policy, env, &git_docs, &tenants),
        &|o| {
            if local {
                image_filters(o, env, &image_policies);
            }
        },
        &|o| other_service_accounts(o, env, &rbac_docs, &tenants),
        &|o| egress(o, policy, env, &lockdown_docs),
        &|o| super::lockdown::check(o, policy, env, &lockdown_docs),
        &|o| whole::sources(o, policy, env, &docs, &tenants),
        &|o| match facts {
            None => whole::pod_security(o, policy, env, &namespaces, &tenants),
            Some(f) => whole::namespaces_missing(o, env, |ns| f.namespaces.contains(ns)),
        },
        &|o| match facts {
            None => whole::tenant_network_policies(o, env, &network_policies),
            Some(f) => whole::network_policies_missing(o, env, |ns| f.denied.contains(ns)),
        },
        &|o| {
            if local {
                whole::reconciler_scope(o, env, &reconciler_docs, &tenants);
            }
        },
        &|o| whole::lockdown_flags(o, env, &components),
        &|o| whole::admission_enforced(o, env, &admission_docs),
        &|o| {
            if let Some(reference) = reference {
                reference::compare(o, env, &files, &of_env(reference, &prefix));
            }
        },
    ];
    let found: Vec<Vec<Diagnostic>> = checks
        .par_iter()
        .map(|check| {
            let mut d = Vec::new();
            check(&mut d);
            d
        })
        .collect();
    out.extend(found.into_iter().flatten());
}

/// The kinds each check that reads given kinds is given (its own filter still applies);
/// [`reads`] keeps every document of these kinds whole.
const RECONCILER_KINDS: &[&str] = &["Kustomization", "HelmRelease"];
const GIT_KINDS: &[&str] = &["Secret", "GitRepository"];
const IMAGE_POLICY_KINDS: &[&str] = &["ImagePolicy"];
const RBAC_KINDS: &[&str] = &["Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"];
const COMPONENT_KINDS: &[&str] = &["Component"];
const NETWORK_POLICY_KINDS: &[&str] = &["NetworkPolicy"];
const LOCKDOWN_KINDS: &[&str] = &["Component", "NetworkPolicy"];
const NAMESPACE_KINDS: &[&str] = &["Namespace"];
/// What the RBAC model of [`Manifests::from_documents`] reads (`access::load`), besides lists.
const ACCESS_KINDS: &[&str] = &[
    "ServiceAccount",
    "Role",
    "ClusterRole",
    "RoleBinding",
    "ClusterRoleBinding",
];
/// The kinds only checks of one document at a time read ([`Stream::observe`]; a
/// NetworkPolicy of the Flux namespace is read by the whole-environment lock-down checks too).
const LOCAL_KINDS: &[&[&str]] = &[
    RECONCILER_KINDS,
    IMAGE_POLICY_KINDS,
    NAMESPACE_KINDS,
    NETWORK_POLICY_KINDS,
];
/// The kinds the checks of the whole environment read (besides lists, the Flux source API
/// group, and the Flux namespace's NetworkPolicies).
#[cfg(test)]
const WHOLE_KINDS: &[&[&str]] = &[
    GIT_KINDS,
    RBAC_KINDS,
    COMPONENT_KINDS,
    ACCESS_KINDS,
    whole::ADMISSION_KINDS,
];
/// The kinds [`Stream`] keeps whole: those the checks of the whole environment read, less
/// ServiceAccounts, which only the RBAC model's notes read (no check reads their grants) and
/// [`Stream::observe`] notes file by file before it drops them.
const STREAM_KINDS: &[&[&str]] = &[
    GIT_KINDS,
    RBAC_KINDS,
    COMPONENT_KINDS,
    whole::ADMISSION_KINDS,
];

/// Whether some check of [`check_env`] reads `doc` beyond its identity (apiVersion, kind,
/// metadata name and namespace): a kind of [`LOCAL_KINDS`] or [`WHOLE_KINDS`] (with
/// [`LOCKDOWN_KINDS`], every kind a check given documents by kind reads), a list (its items
/// are read), or an object of the API group [`whole::sources`] reads whatever its kind.
#[cfg(test)]
fn reads(doc: &Value) -> bool {
    let kind = s(doc, &["kind"]);
    kind.ends_with("List")
        || LOCAL_KINDS
            .iter()
            .chain(WHOLE_KINDS)
            .any(|ks| ks.contains(&kind))
        || LOCKDOWN_KINDS.contains(&kind)
        || s(doc, &["apiVersion"]).starts_with(whole::SOURCE_API)
}

/// What [`Stream::observe`] recorded of the documents it checked and let go: all that the
/// whole-environment checks need of them.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Facts {
    /// Tenant namespaces with a `v1` Namespace object.
    namespaces: HashSet<String>,
    /// Namespaces with a default-deny ingress NetworkPolicy.
    denied: HashSet<String>,
    /// Hashes of the RBAC objects' definitions ([`Manifests::definitions`]).
    definitions: HashSet<u64>,
    /// Whether a check of one document failed, or the RBAC model noted something (which
    /// [`tenant_grants`] reports for every tenant).
    failed: bool,
}

impl Facts {
    /// Adds what `other` recorded (of other files): an RBAC object defined in both is a
    /// failure, as [`Manifests`] notes it.
    pub fn merge(&mut self, other: Facts) {
        self.namespaces.extend(other.namespaces);
        self.denied.extend(other.denied);
        self.failed |= other.failed;
        for d in other.definitions {
            self.failed |= !self.definitions.insert(d);
        }
    }
}

/// [`check_env`] one file at a time, for an output of trustc's own templates (with a
/// template override, the reference comparison reads every document: use [`check_env`]).
///
/// [`Stream::observe`] runs, on each file as soon as it is verified, the checks that judge a
/// document alone (reconcilers' impersonation and scope, image filters, each tenant
/// Namespace's Pod Security labels, which namespaces a NetworkPolicy denies ingress in) and
/// drops every document no check of the whole environment reads: at 5,000 tenants three
/// quarters of an environment's documents, which are then never held together.
/// [`Stream::holds`] runs the other checks on the documents kept, with what was recorded of
/// the rest. The verdict is [`check_env`]'s (tested on the example, on hostile documents of
/// every kind checked one at a time, and on documents filled with what the checks look for);
/// the diagnostics are not: a caller that needs them runs [`check_env`] on the whole output.
pub struct Stream<'p> {
    policy: &'p Policy,
    env: &'p Env,
    tenants: HashMap<&'p str, &'p Tenant>,
}

impl<'p> Stream<'p> {
    /// The stream of `policy.environments[index]`.
    pub fn new(policy: &'p Policy, index: usize) -> Self {
        let env = &policy.environments[index];
        Stream {
            policy,
            env,
            tenants: whole::tenant_index(env),
        }
    }

    /// Checks each document of `m` alone, records what the whole-environment checks need of
    /// it, and drops it unless one of those reads it (see [`Stream`]).
    pub fn observe(&self, m: &mut Manifest) -> Facts {
        let mut facts = Facts::default();
        let mut out = Vec::new();
        // What the RBAC model of the whole environment would note of these documents: noted
        // here, file by file (definitions are compared across files by [`Facts::merge`]), so
        // that [`Stream::holds`] need not load the whole environment's model for its notes.
        let loads = m.docs.iter().any(|d| {
            let kind = s(d, &["kind"]);
            kind.ends_with("List") || ACCESS_KINDS.contains(&kind)
        });
        if loads {
            let rbac = Manifests::from_documents([(m.path.as_str(), m.docs.as_slice())]);
            facts.definitions = rbac
                .definitions()
                .map(|d| {
                    use std::hash::{Hash, Hasher};
                    let mut h = std::hash::DefaultHasher::new();
                    d.hash(&mut h);
                    h.finish()
                })
                .collect();
            facts.failed = !rbac.notes().is_empty();
        }
        m.docs.retain(|d| {
            let kind = s(d, &["kind"]);
            let one = [d];
            if !LOCAL_KINDS.iter().any(|ks| ks.contains(&kind)) {
                // Read by no check of one document.
            } else if RECONCILER_KINDS.contains(&kind) {
                reconcilers(&mut out, self.env, &one, &self.tenants);
                whole::reconciler_scope(&mut out, self.env, &one, &self.tenants);
            } else if IMAGE_POLICY_KINDS.contains(&kind) {
                image_filters(&mut out, self.env, &one);
            } else if NAMESPACE_KINDS.contains(&kind) {
                let env = self.env;
                if let Some(ns) =
                    whole::tenant_namespace(&mut out, self.policy, env, d, &self.tenants)
                {
                    facts.namespaces.insert(ns.to_string());
                }
            } else if NETWORK_POLICY_KINDS.contains(&kind) {
                if let Some(ns) = whole::default_deny(d) {
                    facts.denied.insert(ns.to_string());
                }
            }
            self.whole_reads(d)
        });
        facts.failed |= !out.is_empty();
        facts
    }

    /// Whether a check of the whole environment ([`Stream::holds`]) reads `d`, which
    /// [`Stream::observe`] then keeps.
    fn whole_reads(&self, d: &Value) -> bool {
        let kind = s(d, &["kind"]);
        kind.ends_with("List")
            || STREAM_KINDS.iter().any(|ks| ks.contains(&kind))
            || s(d, &["apiVersion"]).starts_with(whole::SOURCE_API)
            || (kind == "NetworkPolicy"
                && s(d, &["metadata", "namespace"]) == self.policy.flux.namespace)
    }

    /// Whether [`Stream::observe`] keeps none of `docs` and records of them what it would
    /// record in any environment of the policy: no document is a reconciler or a Namespace
    /// (whose checks look the tenant of its namespace up in this environment), and none is read
    /// by the whole-environment checks. What is recorded of the others is a function of the
    /// documents alone: the RBAC model's notes and definitions, the namespaces a
    /// NetworkPolicy denies ingress in, and whether an ImagePolicy's filter is unanchored
    /// (the environment only names that failure, and `observe` keeps no diagnostic).
    /// `generate` records such an observation with the file's text and takes it for the same
    /// text in a later environment without parsing it again (tested on every file of the
    /// example, in every environment).
    pub fn observes_alike(&self, docs: &[Value]) -> bool {
        docs.iter().all(|d| {
            let kind = s(d, &["kind"]);
            !RECONCILER_KINDS.contains(&kind)
                && !NAMESPACE_KINDS.contains(&kind)
                && !self.whole_reads(d)
        })
    }

    /// Whether every invariant of [`check_env`] holds, given the documents [`Stream::observe`]
    /// kept of every file of the environment (`manifests`) and all it recorded (`facts`).
    pub fn holds(&self, manifests: &[&Manifest], facts: &Facts) -> bool {
        if facts.failed {
            return false;
        }
        let mut out = Vec::new();
        check_one(
            &mut out,
            self.policy,
            self.env,
            manifests,
            None,
            Some(facts),
        );
        out.is_empty()
    }
}

fn of_env<'a>(ms: &[&'a Manifest], prefix: &str) -> Vec<&'a Manifest> {
    ms.iter()
        .copied()
        .filter(|m| m.path.starts_with(prefix))
        .collect()
}

/// The reference output: the policy through trustc's own embedded templates, verified, with
/// its directory kustomizations. `Err` is a trustc bug (the embedded templates do not
/// compile this policy), reported as such.
pub fn reference(policy: &Policy) -> Result<Vec<Manifest>, Vec<Diagnostic>> {
    reference_some(policy, None)
}

/// [`reference`] for one environment (`policy.environments[index]`).
pub fn reference_env(policy: &Policy, index: usize) -> Result<Vec<Manifest>, Vec<Diagnostic>> {
    reference_some(policy, Some(index))
}

fn reference_some(policy: &Policy, only: Option<usize>) -> Result<Vec<Manifest>, Vec<Diagnostic>> {
    let set = crate::render::TemplateSet::embedded();
    let bug = |what: String| {
        Diagnostic::new(
            Code::ReferenceCompileFailed,
            format!("trustc's own templates do not compile this trust model: {what}"),
        )
        .help("this is a trustc bug: please report it with the spec")
    };
    let rendered = match only {
        None => crate::render::render(policy, &set),
        Some(i) => crate::render::render_env(policy, &set, i),
    }
    .map_err(|es| es.into_iter().map(|e| bug(e.message)).collect::<Vec<_>>())?;
    let mut verified = super::verify_owned(rendered)
        .map_err(|ds| ds.into_iter().map(|d| bug(d.message)).collect::<Vec<_>>())?;
    let paths: Vec<String> = verified.iter().map(|m| m.path.clone()).collect();
    let kust = crate::render::kustomizations(&paths, &set)
        .map_err(|es| es.into_iter().map(|e| bug(e.message)).collect::<Vec<_>>())?;
    verified.extend(
        super::verify_owned(kust)
            .map_err(|ds| ds.into_iter().map(|d| bug(d.message)).collect::<Vec<_>>())?,
    );
    // Only the documents are compared: drop the canonical text (a third of the memory).
    for m in &mut verified {
        m.yaml = String::new();
    }
    Ok(verified)
}

/// The RBAC documents of one environment indexed by subject name and role, so that each
/// tenant's analysis reads only the bindings that can name its service account (linear in
/// tenants; [`Manifests::grants_of`] on the whole output reads every binding).
/// (kind, namespace, name) of a Role or ClusterRole.
type RoleKey<'a> = (&'a str, &'a str, &'a str);
/// A document with the path of its file.
type Located<'a> = (&'a str, &'a Value);

struct RbacIndex<'a> {
    bindings: Vec<(&'a str, &'a Value)>,
    by_subject_name: HashMap<String, Vec<usize>>,
    roles: HashMap<RoleKey<'a>, Vec<Located<'a>>>,
    cluster_roles: Vec<(&'a str, &'a Value)>,
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

impl<'a> RbacIndex<'a> {
    fn new(files: &[&'a Manifest]) -> Self {
        let mut index = RbacIndex {
            bindings: Vec::new(),
            by_subject_name: HashMap::new(),
            roles: HashMap::new(),
            cluster_roles: Vec::new(),
        };
        for m in files {
            for d in &m.docs {
                if !s(d, &["apiVersion"]).starts_with("rbac.authorization.k8s.io/") {
                    continue;
                }
                match s(d, &["kind"]) {
                    kind @ ("Role" | "ClusterRole") => {
                        let ns = if kind == "Role" {
                            s(d, &["metadata", "namespace"])
                        } else {
                            ""
                        };
                        index
                            .roles
                            .entry((kind, ns, s(d, &["metadata", "name"])))
                            .or_default()
                            .push((m.path.as_str(), d));
                        if kind == "ClusterRole" {
                            index.cluster_roles.push((m.path.as_str(), d));
                        }
                    }
                    "RoleBinding" | "ClusterRoleBinding" => {
                        let id = index.bindings.len();
                        index.bindings.push((m.path.as_str(), d));
                        let mut names: Vec<String> = d
                            .get("subjects")
                            .and_then(Value::as_array)
                            .into_iter()
                            .flatten()
                            .filter_map(|x| x.get("name").and_then(scalar_text))
                            .collect();
                        names.sort();
                        names.dedup();
                        for n in names {
                            index.by_subject_name.entry(n).or_default().push(id);
                        }
                    }
                    _ => {}
                }
            }
        }
        index
    }

    /// The RBAC documents that can grant to tenant `t`'s service account: the bindings naming
    /// it (as a ServiceAccount or its user name) or a group it belongs to, the roles they
    /// refer to, and every ClusterRole when one of those aggregates. What the whole output
    /// leaves undecided (`full`'s notes) is kept.
    fn for_tenant(&self, t: &Tenant, full: &Manifests) -> Manifests {
        let names = [
            t.service_account.clone(),
            format!("system:serviceaccount:{}:{}", t.home, t.service_account),
            "system:serviceaccounts".to_string(),
            format!("system:serviceaccounts:{}", t.home),
            "system:authenticated".to_string(),
        ];
        let mut ids: Vec<usize> = names
            .iter()
            .filter_map(|n| self.by_subject_name.get(n))
            .flatten()
            .copied()
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let mut docs: Vec<(&str, &Value)> = Vec::new();
        let mut all_cluster_roles = false;
        for &id in &ids {
            let (path, b) = self.bindings[id];
            docs.push((path, b));
            let kind = s(b, &["roleRef", "kind"]);
            let name = s(b, &["roleRef", "name"]);
            let ns = if kind == "Role" {
                s(b, &["metadata", "namespace"])
            } else {
                ""
            };
            if kind == "ClusterRole" && matches!(name, "admin" | "edit" | "view") {
                all_cluster_roles = true;
            }
            for &(rp, r) in self.roles.get(&(kind, ns, name)).into_iter().flatten() {
                all_cluster_roles |= kind == "ClusterRole" && r.get("aggregationRule").is_some();
                if kind == "Role" {
                    docs.push((rp, r));
                }
            }
        }
        // ClusterRoles are few (the platform tier's, the monitoring stack's): all of them,
        // or only those referenced.
        for &(rp, r) in &self.cluster_roles {
            let name = s(r, &["metadata", "name"]);
            if all_cluster_roles
                || ids.iter().any(|&id| {
                    let b = self.bindings[id].1;
                    s(b, &["roleRef", "kind"]) == "ClusterRole"
                        && s(b, &["roleRef", "name"]) == name
                })
            {
                docs.push((rp, r));
            }
        }
        let mut m =
            Manifests::from_documents(docs.iter().map(|(p, d)| (*p, std::slice::from_ref(*d))));
        m.notes = full.notes.clone();
        m
    }
}

/// What helm-controller needs beyond the allowed kinds when HelmRelease is one (Helm's
/// storage Secrets, the objects its wait reads), as (API group, resource, verb): expected,
/// not extra kinds. Built once.
fn helm_needs() -> &'static BTreeSet<(String, String, String)> {
    static NEEDS: std::sync::OnceLock<BTreeSet<(String, String, String)>> =
        std::sync::OnceLock::new();
    NEEDS.get_or_init(|| {
        crate::model::helm_rules()
            .into_iter()
            .flat_map(|r| {
                r.resources.into_iter().flat_map(move |res| {
                    let group = r.api_group.clone();
                    r.verbs
                        .clone()
                        .into_iter()
                        .map(move |v| (group.clone(), res.clone(), v))
                })
            })
            .collect()
    })
}

fn tenant_grants(out: &mut Vec<Diagnostic>, env: &Env, t: &Tenant, rbac: &Manifests) {
    let e = &env.name;
    let sa = Subject::service_account(&t.home, &t.service_account);
    let analysis = rbac.grants_of(&sa);
    for u in &analysis.unknown {
        out.push(fail(
            Code::TenantPrivilegedGrant,
            e,
            format!("tenant `{}`: {u}", t.name),
            "Adversary 3 (a grant nobody can review)",
        ));
    }
    let mut effective: BTreeSet<(String, String)> = BTreeSet::new();
    // Expected grants, not extra kinds ([`helm_needs`]).
    let no_helm = BTreeSet::new();
    let helm_needs = if t.helm { helm_needs() } else { &no_helm };
    for g in &analysis.grants {
        // Formatted only for a diagnostic: most grants make none.
        let who = || format!("tenant `{}` ({} → {})", t.name, g.binding, g.role);
        if g.verb == "*"
            || g.api_group == "*"
            || g.resource.contains('*')
            || g.non_resource_url.is_some()
        {
            out.push(fail(
                Code::TenantWildcardGrant,
                e,
                format!(
                    "{} holds a wildcard or non-resource grant: {} {}/{}",
                    who(),
                    g.verb,
                    g.api_group,
                    g.resource
                ),
                "Adversaries 1 and 3",
            ));
            continue;
        }
        let base = g.resource.split('/').next().unwrap_or("");
        let cluster_scoped = kinds::resource_is_cluster_scoped(&g.api_group, base) == Some(true);
        if g.namespace.is_none() || cluster_scoped {
            out.push(fail(
                Code::TenantClusterScopeGrant,
                e,
                format!("{} may {} {} cluster-wide", who(), g.verb, g.resource),
                "Adversaries 1 and 3: a ClusterRoleBinding from a tenant repository",
            ));
            continue;
        }
        if let Some(ns) = &g.namespace {
            if !t.namespaces.contains(ns) {
                out.push(fail(
                    Code::TenantClusterScopeGrant,
                    e,
                    format!(
                        "{} may {} {} in namespace `{ns}`, outside the tenant",
                        who(),
                        g.verb,
                        g.resource
                    ),
                    "Adversary 3",
                ));
            }
        }
        if g.resource == base
            && helm_needs.contains(&(g.api_group.clone(), g.resource.clone(), g.verb.clone()))
        {
            continue;
        }
        let risk = kinds::resource_risk(&g.api_group, base);
        let privileged_verb = matches!(g.verb.as_str(), "bind" | "escalate" | "impersonate");
        let secret_read = base == "secrets"
            && g.api_group.is_empty()
            && matches!(g.verb.as_str(), "list" | "watch");
        let bad = privileged_verb
            || EXEC_LIKE.contains(&g.resource.as_str())
            || (g.api_group.is_empty() && base == "namespaces")
            || secret_read
            || matches!(
                risk,
                Risk::Rbac
                    | Risk::Admission
                    | Risk::PolicyEngine
                    | Risk::ServiceAccount
                    | Risk::Quota
            )
            || (risk == Risk::Secret && !t.allow_secrets)
            || (risk == Risk::NetworkPolicy && !t.allow_network_policies);
        if bad {
            out.push(fail(
                Code::TenantPrivilegedGrant,
                e,
                format!(
                    "{} may {} {}{}",
                    who(),
                    g.verb,
                    if g.api_group.is_empty() {
                        String::new()
                    } else {
                        format!("{}/", g.api_group)
                    },
                    g.resource
                ),
                "Adversaries 2 and 3: privilege escalation from the tenant's namespace",
            ));
        }
        if !g.resource.contains('/') {
            effective.insert((g.api_group.clone(), g.resource.clone()));
        }
    }
    let allowed: BTreeSet<(String, String)> = t
        .kinds
        .iter()
        .map(|k| (k.group.clone(), k.resource.clone()))
        .collect();
    if effective != allowed {
        let extra: Vec<String> = effective
            .difference(&allowed)
            .map(|(g, r)| qualified(g, r))
            .collect();
        let missing: Vec<String> = allowed
            .difference(&effective)
            .map(|(g, r)| qualified(g, r))
            .collect();
        out.push(fail(
            Code::TenantKindsMismatch,
            e,
            format!("tenant `{}`'s effective kinds differ from allowed_kinds (extra: [{}], missing: [{}])", t.name, extra.join(", "), missing.join(", ")),
            "Adversary 3: kinds nobody reviewed",
        ));
    }
}

/// `resource.group` as kubectl spells it; the core group has no suffix (`configmaps`).
fn qualified(group: &str, resource: &str) -> String {
    if group.is_empty() {
        resource.to_string()
    } else {
        format!("{resource}.{group}")
    }
}

thread_local! {
    /// Document field look-ups made by the invariants on this thread: the steps that
    /// `tests/perf.rs` counts to assert linear growth, whatever the machine's speed.
    static LOOKUPS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Document field look-ups the invariants have made on this thread so far (the checks run on
/// the caller's thread). For the linear-growth test.
#[doc(hidden)]
pub fn lookups() -> u64 {
    LOOKUPS.with(std::cell::Cell::get)
}

fn field<'a>(doc: &'a Value, path: &[&str]) -> Option<&'a Value> {
    LOOKUPS.with(|c| c.set(c.get() + 1));
    path.iter().try_fold(doc, |v, k| super::get(v, k))
}

fn s<'a>(doc: &'a Value, path: &[&str]) -> &'a str {
    field(doc, path).and_then(Value::as_str).unwrap_or("")
}

fn reconcilers(
    out: &mut Vec<Diagnostic>,
    env: &Env,
    docs: &[&Value],
    tenants: &HashMap<&str, &Tenant>,
) {
    for d in docs {
        let kind = s(d, &["kind"]);
        let api = s(d, &["apiVersion"]);
        if !(kind == "Kustomization" && api.starts_with("kustomize.toolkit.fluxcd.io")
            || kind == "HelmRelease")
        {
            continue;
        }
        let ns = s(d, &["metadata", "namespace"]);
        let Some(t) = tenants.get(ns) else {
            continue;
        };
        let name = format!("{kind} `{ns}/{}`", s(d, &["metadata", "name"]));
        if s(d, &["spec", "serviceAccountName"]) != t.service_account {
            out.push(fail(
                Code::TenantImpersonation,
                &env.name,
                format!("{name} does not impersonate `{}`", t.service_account),
                "Adversary 3: the reconciler runs with Flux's own rights",
            ));
        }
        if field(d, &["spec", "force"]).and_then(Value::as_bool) == Some(true) {
            out.push(fail(
                Code::TenantImpersonation,
                &env.name,
                format!("{name} sets force: true"),
                "Adversary 3",
            ));
        }
        if field(d, &["spec", "kubeConfig"]).is_some() {
            out.push(fail(
                Code::TenantImpersonation,
                &env.name,
                format!("{name} sets kubeConfig"),
                "Adversary 3: reconciling with foreign credentials",
            ));
        }
    }
}

fn sources(
    out: &mut Vec<Diagnostic>,
    policy: &Policy,
    env: &Env,
    docs: &[&Value],
    tenants: &HashMap<&str, &Tenant>,
) {
    let secrets: BTreeMap<(String, String), &Value> = docs
        .iter()
        .filter(|d| s(d, &["kind"]) == "Secret")
        .map(|d| {
            (
                (
                    s(d, &["metadata", "namespace"]).to_string(),
                    s(d, &["metadata", "name"]).to_string(),
                ),
                *d,
            )
        })
        .collect();
    for d in docs.iter().filter(|d| s(d, &["kind"]) == "GitRepository") {
        let ns = s(d, &["metadata", "namespace"]);
        let name = format!("GitRepository `{ns}/{}`", s(d, &["metadata", "name"]));
        let signers = if ns == policy.flux.namespace {
            &env.platform.signers
        } else if let Some(t) = tenants.get(ns) {
            &t.signers
        } else {
            continue;
        };
        if signers.is_empty() {
            continue;
        }
        let secret_name = s(d, &["spec", "verify", "secretRef", "name"]);
        if secret_name.is_empty() {
            out.push(fail(
                Code::UnverifiedSource,
                &env.name,
                format!("{name} has no spec.verify"),
                "Adversary 1: unsigned commits applied",
            ));
            continue;
        }
        let Some(secret) = secrets.get(&(ns.to_string(), secret_name.to_string())) else {
            out.push(fail(
                Code::UnverifiedSource,
                &env.name,
                format!(
                    "{name} verifies against Secret `{secret_name}`, which is not in the output"
                ),
                "Adversary 1",
            ));
            continue;
        };
        // Kubernetes stores `data` and `stringData` merged (stringData wins on a shared
        // key: kubernetes/api `core/v1/types.go`, Secret.StringData), and source-controller
        // trusts every key of the Secret, `*.pub` as SSH keys and any other as OpenPGP
        // (fluxcd/source-controller v1.9.1 `internal/controller/gitrepository_controller.go`,
        // `verifySignature`): both count.
        let mut have: BTreeMap<String, String> = BTreeMap::new();
        for (k, v) in field(secret, &["data"])
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(v.as_str().unwrap_or(""))
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_else(|_| "\u{0}undecodable".to_string());
            have.insert(k.clone(), decoded);
        }
        for (k, v) in field(secret, &["stringData"])
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            have.insert(k.clone(), v.as_str().unwrap_or("").to_string());
        }
        let want: BTreeMap<String, String> = signers
            .iter()
            .map(|s| (s.secret_key.clone(), s.armored.clone()))
            .collect();
        if have != want {
            out.push(fail(
                Code::UnverifiedSource,
                &env.name,
                format!(
                    "{name}: Secret `{secret_name}` does not hold exactly the signers' public keys"
                ),
                "Adversary 1: commits signed by an untrusted key accepted",
            ));
        }
    }
}

fn image_filters(out: &mut Vec<Diagnostic>, env: &Env, docs: &[&Value]) {
    for d in docs.iter().filter(|d| s(d, &["kind"]) == "ImagePolicy") {
        if let Some(p) = field(d, &["spec", "filterTags", "pattern"]).and_then(Value::as_str) {
            if !crate::check::is_anchored(p) {
                out.push(fail(
                    Code::UnanchoredImageFilter,
                    &env.name,
                    format!(
                        "ImagePolicy `{}/{}` filter `{p}` is not anchored",
                        s(d, &["metadata", "namespace"]),
                        s(d, &["metadata", "name"])
                    ),
                    "Adversary 5: a hostile tag matching the automation pattern",
                ));
            }
        }
    }
}

/// No ServiceAccount of a tenant namespace but the tenant's own holds a grant: creating a
/// Pod means running as any of them. Every subject of every binding counts, not only the
/// ServiceAccounts the output declares: `default` exists in every namespace, and the groups
/// `system:serviceaccounts[:<ns>]` and `system:authenticated` cover every ServiceAccount.
/// One pass over the bindings.
fn other_service_accounts(
    out: &mut Vec<Diagnostic>,
    env: &Env,
    docs: &[&Value],
    tenants: &HashMap<&str, &Tenant>,
) {
    // Roles with no rule grant nothing; any other role (or one not in the output, such as
    // the built-in cluster-admin) does.
    let empty_roles: std::collections::HashSet<(String, &str, &str)> = docs
        .iter()
        .filter(|d| matches!(s(d, &["kind"]), "Role" | "ClusterRole"))
        .filter(|d| {
            d.get("aggregationRule").is_none()
                && field(d, &["rules"])
                    .and_then(Value::as_array)
                    .is_none_or(|r| r.is_empty())
        })
        .map(|d| {
            (
                s(d, &["kind"]).to_string(),
                if s(d, &["kind"]) == "Role" {
                    s(d, &["metadata", "namespace"])
                } else {
                    ""
                },
                s(d, &["metadata", "name"]),
            )
        })
        .collect();
    for b in docs {
        let kind = s(b, &["kind"]);
        if kind != "RoleBinding" && kind != "ClusterRoleBinding" {
            continue;
        }
        let rk = s(b, &["roleRef", "kind"]);
        let rns = if rk == "Role" {
            s(b, &["metadata", "namespace"])
        } else {
            ""
        };
        if empty_roles.contains(&(rk.to_string(), rns, s(b, &["roleRef", "name"]))) {
            continue;
        }
        for subject in reference::binding_subjects(b) {
            let hit: Option<(String, &Tenant)> = match subject.kind.as_str() {
                "ServiceAccount" => {
                    let ns = subject.namespace.as_deref().unwrap_or("");
                    tenants
                        .get(ns)
                        .filter(|t| !(subject.name == t.service_account && ns == t.home))
                        .map(|t| (format!("ServiceAccount `{ns}/{}`", subject.name), *t))
                }
                "User" => subject
                    .name
                    .strip_prefix("system:serviceaccount:")
                    .and_then(|rest| rest.split_once(':'))
                    .and_then(|(ns, name)| {
                        tenants
                            .get(ns)
                            .filter(|t| !(name == t.service_account && ns == t.home))
                            .map(|t| (format!("ServiceAccount `{ns}/{name}`"), *t))
                    }),
                _ => {
                    let g = subject.name.as_str();
                    if matches!(
                        g,
                        "system:serviceaccounts"
                            | "system:authenticated"
                            | "system:unauthenticated"
                    ) {
                        env.tenants.first().map(|t| {
                            (
                                format!("Group `{g}` (every ServiceAccount of every tenant)"),
                                t,
                            )
                        })
                    } else {
                        g.strip_prefix("system:serviceaccounts:")
                            .and_then(|ns| tenants.get(ns))
                            .map(|t| {
                                (
                                    format!("Group `{g}` (every ServiceAccount of the namespace)"),
                                    *t,
                                )
                            })
                    }
                }
            };
            let Some((who, t)) = hit else {
                continue;
            };
            out.push(fail(
                Code::PrivilegedServiceAccountInTenant,
                &env.name,
                format!(
                    "{kind} `{}` grants {rk} `{}` to {who}, in tenant `{}`'s namespaces",
                    if kind == "RoleBinding" {
                        format!(
                            "{}/{}",
                            s(b, &["metadata", "namespace"]),
                            s(b, &["metadata", "name"])
                        )
                    } else {
                        s(b, &["metadata", "name"]).to_string()
                    },
                    s(b, &["roleRef", "name"]),
                    t.name
                ),
                "Adversary 3: creating a Pod means running as any service account of the namespace",
            ));
        }
    }
}

fn egress(out: &mut Vec<Diagnostic>, policy: &Policy, env: &Env, docs: &[&Value]) {
    let component = docs.iter().find(|d| s(d, &["kind"]) == "Component");
    let removes_allow_egress = component.is_some_and(|c| {
        field(c, &["patches"])
            .and_then(Value::as_array)
            .is_some_and(|ps| {
                ps.iter().any(|p| {
                    let text = s(p, &["patch"]);
                    text.contains("$patch: delete") && text.contains("name: allow-egress")
                })
            })
    });
    if !removes_allow_egress {
        out.push(fail(
            Code::FluxEgressOpen,
            &env.name,
            "the flux-lockdown component does not delete Flux's allow-egress NetworkPolicy".into(),
            "Adversary 2: NetworkPolicies are additive, so any egress restriction is a no-op",
        ));
    }
    let egress_rules: Vec<&Value> = docs
        .iter()
        .filter(|d| {
            s(d, &["kind"]) == "NetworkPolicy"
                && s(d, &["metadata", "namespace"]) == policy.flux.namespace
        })
        .filter_map(|d| field(d, &["spec", "egress"]).and_then(Value::as_array))
        .flatten()
        .collect();
    let dns = egress_rules.iter().any(|r| {
        field(r, &["ports"])
            .and_then(Value::as_array)
            .is_some_and(|ps| {
                ps.iter()
                    .any(|p| p.get("port").and_then(Value::as_i64) == Some(53))
            })
    });
    if !dns {
        out.push(fail(
            Code::FluxEgressOpen,
            &env.name,
            "no egress rule in the Flux namespace allows DNS (port 53)".into(),
            "a broken Flux: the seed's Step 3 policy blocked DNS",
        ));
    }
    for cidr in &policy.flux.api_server_cidrs {
        let open = egress_rules.iter().any(|r| {
            field(r, &["to"])
                .and_then(Value::as_array)
                .is_some_and(|to| to.iter().any(|peer| s(peer, &["ipBlock", "cidr"]) == cidr))
        });
        if !open {
            out.push(fail(
                Code::FluxEgressOpen,
                &env.name,
                format!("no egress rule in the Flux namespace reaches the API server at {cidr}"),
                "a broken Flux: the seed's Step 3 policy blocked the API server",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Adds `yaml`'s documents to every environment of `manifests`, as `<env>/hostile.yaml`.
    fn add_to_each_env(policy: &Policy, manifests: &mut Vec<Manifest>, yaml: &str) {
        for env in &policy.environments {
            manifests.push(Manifest {
                path: format!("{}/hostile.yaml", env.name),
                template: "test".into(),
                docs: super::super::parse_documents(yaml).unwrap(),
                yaml: String::new(),
            });
        }
    }

    /// The per-tenant index reads only the bindings that can name the tenant's service
    /// account: the grants it finds are exactly those of the analysis of the whole output,
    /// through every route (its own name, its user name, its groups, aggregation into a
    /// built-in role), with unrelated tenants' bindings around.
    #[test]
    fn the_tenant_index_finds_exactly_the_grants_of_the_whole_output() {
        let policy = crate::testing::example_policy();
        let mut manifests = reference(&policy).expect("the example compiles");
        let hostile = r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: group-admin}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects: [{kind: Group, name: "system:serviceaccounts:payments", apiGroup: rbac.authorization.k8s.io}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: as-user, namespace: kube-system}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: edit}
subjects: [{kind: User, name: "system:serviceaccount:payments:payments-reconciler"}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: extra-edit
  labels: {rbac.authorization.k8s.io/aggregate-to-edit: "true"}
rules: [{apiGroups: [""], resources: [secrets], verbs: [list]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: unrelated}
rules: [{apiGroups: ["*"], resources: ["*"], verbs: ["*"]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: unrelated, namespace: payments}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: unrelated}
subjects: [{kind: ServiceAccount, name: someone-else, namespace: payments}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: everyone}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
subjects: [{kind: Group, name: "system:authenticated", apiGroup: rbac.authorization.k8s.io}]
"#;
        add_to_each_env(&policy, &mut manifests, hostile);
        let all: Vec<&Manifest> = manifests.iter().collect();
        for env in &policy.environments {
            let files = of_env(&all, &format!("{}/", env.name));
            let full = Manifests::from_documents(
                files.iter().map(|m| (m.path.as_str(), m.docs.as_slice())),
            );
            let index = RbacIndex::new(&files);
            for t in &env.tenants {
                let sa = Subject::service_account(&t.home, &t.service_account);
                let want = full.grants_of(&sa);
                let have = index.for_tenant(t, &full).grants_of(&sa);
                assert!(
                    want.grants.len() > 10,
                    "the hostile routes grant: {want:#?}"
                );
                assert_eq!(have, want, "tenant {}", t.name);
            }
        }
    }

    /// Documents no check reads beyond their identity ([`reads`] false) change no verdict
    /// whatever they hold, so a compile may keep only their identity: every such document of
    /// the example is filled with what the checks look for (wildcard rules, subjects, foreign
    /// sources, Audit actions, list items) and then reduced to its identity, and the checks
    /// report the same as on the example, which is made to fail some of them first.
    #[test]
    fn documents_no_check_reads_change_no_verdict() {
        let policy = crate::testing::example_policy();
        let mut manifests = reference(&policy).expect("the example compiles");
        let hostile = r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: everyone}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects: [{kind: Group, name: "system:serviceaccounts", apiGroup: rbac.authorization.k8s.io}]
"#;
        add_to_each_env(&policy, &mut manifests, hostile);
        let verdicts = |ms: &[Manifest]| -> Vec<String> {
            let all: Vec<&Manifest> = ms.iter().collect();
            check(&policy, &all, None)
                .into_iter()
                .map(|d| d.message)
                .collect()
        };
        let want = verdicts(&manifests);
        assert!(!want.is_empty(), "the hostile binding is refused");
        let mut unread = BTreeSet::new();
        let lure = serde_json::json!({
            "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}],
            "subjects": [{"kind": "Group", "name": "system:authenticated"}],
            "roleRef": {"kind": "ClusterRole", "name": "cluster-admin"},
            "items": [{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "x", "namespace": "kube-system"}}],
            "spec": {
                "url": "https://evil.example.com/repo.git",
                "serviceAccountName": "default",
                "targetNamespace": "kube-system",
                "sourceRef": {"kind": "GitRepository", "name": "evil", "namespace": "flux-system"},
                "validationActions": ["Audit"],
                "validationFailureAction": "Audit",
                "podSelector": {},
                "egress": [{}],
            },
        });
        let mut lured = manifests.clone();
        for m in &mut lured {
            for d in &mut m.docs {
                if reads(d) {
                    continue;
                }
                if !m.path.starts_with(crate::render::KYVERNO_TESTS) {
                    unread.insert(s(d, &["kind"]).to_string());
                }
                for (k, v) in lure.as_object().unwrap() {
                    d.as_object_mut().unwrap().insert(k.clone(), v.clone());
                }
                let meta = d["metadata"].as_object_mut().unwrap();
                meta.insert(
                    "labels".into(),
                    serde_json::json!({"pod-security.kubernetes.io/enforce": "privileged"}),
                );
            }
        }
        assert_eq!(
            unread.iter().map(String::as_str).collect::<Vec<_>>(),
            [
                "Alert",
                "ConfigMap",
                "ExternalSecret",
                "ImageRepository",
                "PrometheusRule",
                "Provider"
            ],
            "the kinds of the example no check reads (a new kind here needs a look at the checks)"
        );
        assert_eq!(
            verdicts(&lured),
            want,
            "a check read a document `reads` says none reads"
        );
        assert_eq!(
            streamed(&policy, &lured),
            full(&policy, &manifests),
            "the stream's verdict on the lured documents"
        );
    }

    /// What `generate` relies on to take a recorded observation for the same text in another
    /// environment ([`Stream::observes_alike`]): every file of the example, and the example
    /// with an unanchored image filter and a default-deny that selects some Pods, observed in
    /// each environment's stream, is recorded alike in every other one and keeps nothing.
    /// Reconcilers and Namespaces are never alike; NetworkPolicies and ImagePolicies are.
    #[test]
    fn an_observation_alike_is_the_same_in_every_environment() {
        let policy = crate::testing::example_policy();
        let mut manifests = reference(&policy).expect("the example compiles");
        let envs = policy.environments.len();
        assert!(envs > 1, "the example has several environments");
        let streams: Vec<Stream<'_>> = (0..envs).map(|i| Stream::new(&policy, i)).collect();
        // Failures an alike observation must carry over: the first ImagePolicy unanchored,
        // the first default-deny made to select some Pods.
        let (mut unanchored, mut selective) = (false, None);
        for m in &mut manifests {
            for d in &mut m.docs {
                if !unanchored && s(d, &["kind"]) == "ImagePolicy" {
                    d["spec"]["filterTags"] = serde_json::json!({"pattern": "v.*"});
                    unanchored = true;
                } else if selective.is_none() {
                    if let Some(ns) = whole::default_deny(d).map(str::to_string) {
                        d["spec"]["podSelector"] = serde_json::json!({"matchLabels": {"app": "x"}});
                        selective = Some((m.path.clone(), ns));
                    }
                }
            }
        }
        let (selective, denied_ns) = selective.expect("the example has a default-deny");
        assert!(unanchored, "the example has an ImagePolicy");
        let mut alike_kinds = std::collections::BTreeSet::new();
        let (mut failed, mut selective_seen) = (0, false);
        for m in &manifests {
            let kinds: Vec<&str> = m.docs.iter().map(|d| s(d, &["kind"])).collect();
            let alike: Vec<bool> = streams
                .iter()
                .map(|st| st.observes_alike(&m.docs))
                .collect();
            assert!(
                alike.iter().all(|&a| a == alike[0]),
                "{}: alike in some environments only",
                m.path
            );
            if kinds
                .iter()
                .any(|k| RECONCILER_KINDS.contains(k) || NAMESPACE_KINDS.contains(k))
            {
                assert!(
                    !alike[0],
                    "{}: a reconciler or Namespace is never alike",
                    m.path
                );
            }
            if !alike[0] {
                continue;
            }
            let seen: Vec<(Facts, usize)> = streams
                .iter()
                .map(|st| {
                    let mut copy = m.clone();
                    let facts = st.observe(&mut copy);
                    (facts, copy.docs.len())
                })
                .collect();
            for (facts, kept) in &seen {
                assert_eq!(facts, &seen[0].0, "{}: recorded differently", m.path);
                assert_eq!(*kept, 0, "{}: a document was kept", m.path);
            }
            failed += usize::from(seen[0].0.failed);
            if m.path == selective {
                assert!(
                    !seen[0].0.denied.contains(&denied_ns),
                    "{}: the edited policy no longer denies `{denied_ns}`",
                    m.path
                );
                selective_seen = true;
            }
            alike_kinds.extend(kinds);
        }
        for kind in ["NetworkPolicy", "ImagePolicy", "ServiceAccount"] {
            assert!(alike_kinds.contains(kind), "no {kind} file is alike");
        }
        assert_eq!(
            failed, 1,
            "the unanchored filter is recorded alike, and only it"
        );
        assert!(selective_seen, "the edited NetworkPolicy's file is alike");
    }

    /// [`Stream`]'s verdict, per environment, on `manifests` observed one file at a time.
    fn streamed(policy: &Policy, manifests: &[Manifest]) -> Vec<bool> {
        (0..policy.environments.len())
            .map(|index| {
                let stream = Stream::new(policy, index);
                let prefix = format!("{}/", policy.environments[index].name);
                let mut facts = Facts::default();
                let mut kept: Vec<Manifest> = manifests
                    .iter()
                    .filter(|m| m.path.starts_with(&prefix))
                    .cloned()
                    .collect();
                for m in &mut kept {
                    facts.merge(stream.observe(m));
                }
                let all: Vec<&Manifest> = kept.iter().collect();
                stream.holds(&all, &facts)
            })
            .collect()
    }

    /// [`check_env`]'s verdict, per environment, on every document.
    fn full(policy: &Policy, manifests: &[Manifest]) -> Vec<bool> {
        let all: Vec<&Manifest> = manifests.iter().collect();
        (0..policy.environments.len())
            .map(|index| check_env(policy, index, &all, None).is_empty())
            .collect()
    }

    /// The stream judges as [`check_env`] does: on the example (everything holds), and on
    /// each way a document checked alone can fail (and some the whole-environment checks
    /// catch), made in the first environment only.
    #[test]
    fn the_stream_gives_the_verdict_of_the_whole_check() {
        let policy = crate::testing::example_policy();
        let manifests = reference(&policy).expect("the example compiles");
        let envs = policy.environments.len();
        assert_eq!(streamed(&policy, &manifests), vec![true; envs]);
        assert_eq!(full(&policy, &manifests), vec![true; envs]);
        let env0 = &policy.environments[0];
        let tenant = &env0.tenants[0];
        type Edit = Box<dyn Fn(&mut Vec<Value>) -> bool>;
        let first = |kind: &'static str, change: fn(&mut Value)| -> Edit {
            let tenant_ns = tenant.namespaces.clone();
            Box::new(move |docs: &mut Vec<Value>| {
                let hit = docs.iter_mut().find(|d| {
                    s(d, &["kind"]) == kind
                        && tenant_ns.iter().any(|n| {
                            n == s(d, &["metadata", "namespace"])
                                || (kind == "Namespace" && n == s(d, &["metadata", "name"]))
                        })
                });
                hit.map(change).is_some()
            })
        };
        let cases: Vec<(&str, Edit)> = vec![
            (
                "Kustomization impersonates default",
                first("Kustomization", |d| {
                    d["spec"]["serviceAccountName"] = "default".into();
                }),
            ),
            (
                "Kustomization forces",
                first("Kustomization", |d| {
                    d["spec"]["force"] = true.into();
                }),
            ),
            (
                "Kustomization targets kube-system",
                first("Kustomization", |d| {
                    d["spec"]["targetNamespace"] = "kube-system".into();
                }),
            ),
            (
                "Kustomization with a kubeConfig",
                first("Kustomization", |d| {
                    d["spec"]["kubeConfig"] = serde_json::json!({"secretRef": {"name": "x"}});
                }),
            ),
            (
                "ImagePolicy unanchored",
                first("ImagePolicy", |d| {
                    d["spec"]["filterTags"] = serde_json::json!({"pattern": "v.*"});
                }),
            ),
            (
                "Namespace privileged",
                first("Namespace", |d| {
                    d["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] =
                        "privileged".into();
                }),
            ),
            (
                "Namespace gone",
                Box::new({
                    let ns = tenant.namespaces[0].clone();
                    move |docs: &mut Vec<Value>| {
                        let before = docs.len();
                        docs.retain(|d| {
                            !(s(d, &["kind"]) == "Namespace" && s(d, &["metadata", "name"]) == ns)
                        });
                        docs.len() < before
                    }
                }),
            ),
            (
                "default-deny selects some Pods",
                first("NetworkPolicy", |d| {
                    if d["spec"]["podSelector"]
                        .as_object()
                        .is_some_and(|o| o.is_empty())
                    {
                        d["spec"]["podSelector"] = serde_json::json!({"matchLabels": {"app": "x"}});
                    }
                }),
            ),
            (
                "default-deny gone",
                Box::new({
                    let ns = tenant.namespaces.clone();
                    move |docs: &mut Vec<Value>| {
                        let before = docs.len();
                        docs.retain(|d| {
                            !(whole::default_deny(d).is_some_and(|n| ns.iter().any(|x| x == n)))
                        });
                        docs.len() < before
                    }
                }),
            ),
            (
                "Flux egress without DNS",
                Box::new({
                    let flux = policy.flux.namespace.clone();
                    move |docs: &mut Vec<Value>| {
                        let mut hit = false;
                        for d in docs.iter_mut() {
                            if s(d, &["kind"]) == "NetworkPolicy"
                                && s(d, &["metadata", "namespace"]) == flux
                            {
                                if let Some(e) = d["spec"].get_mut("egress") {
                                    *e = serde_json::json!([]);
                                    hit = true;
                                }
                            }
                        }
                        hit
                    }
                }),
            ),
        ];
        for (what, edit) in cases {
            let mut edited = manifests.clone();
            let mut hit = false;
            for m in edited
                .iter_mut()
                .filter(|m| m.path.starts_with(&format!("{}/", env0.name)))
            {
                hit |= edit(&mut m.docs);
            }
            assert!(hit, "{what}: the example has such a document");
            let want = full(&policy, &edited);
            assert!(!want[0], "{what}: the whole check refuses it");
            assert_eq!(streamed(&policy, &edited), want, "{what}");
        }
        // A HelmRelease of the tenant with foreign credentials, and a hostile binding, added.
        for yaml in [
            format!(
                "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {{name: x, namespace: {}}}\nspec: {{serviceAccountName: {}, kubeConfig: {{secretRef: {{name: k}}}}}}\n",
                tenant.home, tenant.service_account
            ),
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: everyone}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}\nsubjects: [{kind: Group, name: \"system:serviceaccounts\", apiGroup: rbac.authorization.k8s.io}]\n".to_string(),
        ] {
            let mut edited = manifests.clone();
            add_to_each_env(&policy, &mut edited, &yaml);
            let want = full(&policy, &edited);
            assert_eq!(want, vec![false; envs], "{yaml}");
            assert_eq!(streamed(&policy, &edited), want, "{yaml}");
        }
        // What the RBAC model notes, which every tenant's analysis reports: a Role or a
        // ServiceAccount (which the stream does not keep) without a namespace; a ClusterRole defined in two files (under two `metadata.namespace`
        // values, which a ClusterRole ignores, so they are not duplicate objects).
        let role = "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: floating}\nrules: []\n";
        let twice = |ns: &str| {
            format!(
                "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {{name: twice, namespace: {ns}}}\nrules: []\n"
            )
        };
        let account = "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: floating}\n";
        for files in [
            vec![role.to_string()],
            vec![account.to_string()],
            vec![twice("a"), twice("b")],
        ] {
            let mut edited = manifests.clone();
            for (i, yaml) in files.iter().enumerate() {
                add_to_each_env(&policy, &mut edited, yaml);
                for m in edited
                    .iter_mut()
                    .filter(|m| m.path.ends_with("/hostile.yaml"))
                {
                    if m.template == "test" {
                        m.template = format!("test {i}");
                        m.path = m.path.replace("hostile.yaml", &format!("hostile-{i}.yaml"));
                    }
                }
            }
            let want = full(&policy, &edited);
            assert_eq!(want, vec![false; envs], "{files:?}");
            assert_eq!(streamed(&policy, &edited), want, "{files:?}");
        }
    }
}
