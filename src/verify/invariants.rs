//! Security invariants on the final manifests, checked after render and before write on the
//! very documents about to be written (a template override cannot slip past them). Each
//! failure names the object, the rule and the adversary of the seed it would re-open.

use std::collections::{BTreeMap, BTreeSet};

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
pub fn check(policy: &Policy, manifests: &[&Manifest]) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for env in &policy.environments {
        let prefix = format!("{}/", env.name);
        let files: Vec<&Manifest> = manifests
            .iter()
            .copied()
            .filter(|m| m.path.starts_with(&prefix))
            .collect();
        let rbac =
            Manifests::from_documents(files.iter().map(|m| (m.path.as_str(), m.docs.as_slice())));
        let docs: Vec<&Value> = files.iter().flat_map(|m| m.docs.iter()).collect();
        for t in &env.tenants {
            tenant_grants(&mut out, env, t, &rbac);
        }
        reconcilers(&mut out, env, &docs);
        sources(&mut out, policy, env, &docs);
        image_filters(&mut out, env, &docs);
        other_service_accounts(&mut out, env, &rbac);
        egress(&mut out, policy, env, &docs);
    }
    out
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
    // What helm-controller needs beyond the allowed kinds when HelmRelease is one (Helm's
    // storage Secrets, the objects its wait reads): expected, not extra kinds.
    let helm_needs: BTreeSet<(String, String, String)> = if t.helm {
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
    } else {
        BTreeSet::new()
    };
    for g in &analysis.grants {
        let who = format!("tenant `{}` ({} → {})", t.name, g.binding, g.role);
        if g.verb == "*"
            || g.api_group == "*"
            || g.resource.contains('*')
            || g.non_resource_url.is_some()
        {
            out.push(fail(
                Code::TenantWildcardGrant,
                e,
                format!(
                    "{who} holds a wildcard or non-resource grant: {} {}/{}",
                    g.verb, g.api_group, g.resource
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
                format!("{who} may {} {} cluster-wide", g.verb, g.resource),
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
                        "{who} may {} {} in namespace `{ns}`, outside the tenant",
                        g.verb, g.resource
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
                    "{who} may {} {}{}",
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

fn field<'a>(doc: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(doc, |v, k| v.get(*k))
}

fn s<'a>(doc: &'a Value, path: &[&str]) -> &'a str {
    field(doc, path).and_then(Value::as_str).unwrap_or("")
}

fn tenant_of<'a>(env: &'a Env, ns: &str) -> Option<&'a Tenant> {
    env.tenants
        .iter()
        .find(|t| t.namespaces.iter().any(|n| n == ns))
}

fn reconcilers(out: &mut Vec<Diagnostic>, env: &Env, docs: &[&Value]) {
    for d in docs {
        let kind = s(d, &["kind"]);
        let api = s(d, &["apiVersion"]);
        if !(kind == "Kustomization" && api.starts_with("kustomize.toolkit.fluxcd.io")
            || kind == "HelmRelease")
        {
            continue;
        }
        let ns = s(d, &["metadata", "namespace"]);
        let Some(t) = tenant_of(env, ns) else {
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

fn sources(out: &mut Vec<Diagnostic>, policy: &Policy, env: &Env, docs: &[&Value]) {
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
        } else if let Some(t) = tenant_of(env, ns) {
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
        let data = field(secret, &["stringData"]).and_then(Value::as_object);
        let have: BTreeMap<&str, &str> = data
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.as_str(), v.as_str().unwrap_or("")))
                    .collect()
            })
            .unwrap_or_default();
        let want: BTreeMap<&str, &str> = signers
            .iter()
            .map(|s| (s.secret_key.as_str(), s.armored.as_str()))
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

fn other_service_accounts(out: &mut Vec<Diagnostic>, env: &Env, rbac: &Manifests) {
    for (ns, name) in rbac.service_accounts() {
        let Some(t) = tenant_of(env, ns) else {
            continue;
        };
        if name == t.service_account && ns == t.home {
            continue;
        }
        let grants = rbac.grants_of(&Subject::service_account(ns, name));
        if !grants.grants.is_empty() || !grants.unknown.is_empty() {
            out.push(fail(
                Code::PrivilegedServiceAccountInTenant,
                &env.name,
                format!(
                    "ServiceAccount `{ns}/{name}` in tenant `{}`'s namespace holds RBAC grants",
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
