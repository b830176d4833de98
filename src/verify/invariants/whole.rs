//! Properties of the whole output checked against the model directly, whatever documents
//! the templates produce (with or without overrides): which repositories each tenant
//! trusts, which Pod Security level its namespaces enforce, that its namespaces keep their
//! NetworkPolicies, where reconcilers may apply, which flags the Flux controllers run with.
//!
//! Every check is one pass over the documents with hash indexes by namespace, so a
//! 1,000-tenant spec stays linear.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use super::{fail, field, s};
use crate::diag::{Code, Diagnostic};
use crate::model::{Env, Policy, Tenant};

/// The API group (as an `apiVersion` prefix) whose every kind [`sources`] reads.
pub(super) const SOURCE_API: &str = "source.toolkit.fluxcd.io/";

/// The kinds [`admission_enforced`] reads (each in its own API group, matched there).
pub(super) const ADMISSION_KINDS: &[&str] = &[
    "ClusterPolicy",
    "Policy",
    "ValidatingPolicy",
    "ImageValidatingPolicy",
    "ValidatingAdmissionPolicyBinding",
];

/// Tenant by namespace.
pub(super) fn tenant_index(env: &Env) -> HashMap<&str, &Tenant> {
    env.tenants
        .iter()
        .flat_map(|t| t.namespaces.iter().map(move |n| (n.as_str(), t)))
        .collect()
}

/// Flux sources: a tenant's namespaces hold only the tenant's repository and chart sources;
/// no source outside the tenant points at the tenant's repository.
pub(super) fn sources(
    out: &mut Vec<Diagnostic>,
    policy: &Policy,
    env: &Env,
    docs: &[&Value],
    tenants: &HashMap<&str, &Tenant>,
) {
    let e = &env.name;
    let mut owner_of_repo: HashMap<&str, &Tenant> = HashMap::new();
    for t in env
        .tenants
        .iter()
        .filter(|t| t.repository != env.platform.repository)
    {
        owner_of_repo.insert(t.repository.as_str(), t);
    }
    for d in docs {
        if !s(d, &["apiVersion"]).starts_with(SOURCE_API) {
            continue;
        }
        let kind = s(d, &["kind"]);
        let ns = s(d, &["metadata", "namespace"]);
        let name = format!("{kind} `{ns}/{}`", s(d, &["metadata", "name"]));
        let url = s(d, &["spec", "url"]);
        match (kind, tenants.get(ns)) {
            ("GitRepository", Some(t)) => {
                if url != t.repository {
                    out.push(fail(
                        Code::SourceNotInModel,
                        e,
                        format!(
                            "{name} fetches `{url}`, not tenant `{}`'s repository `{}`",
                            t.name, t.repository
                        ),
                        "Adversary 1: a repository nobody reviewed applied as the tenant",
                    ));
                }
                let reference = field(d, &["spec", "ref"]).and_then(Value::as_object);
                let branch_only = reference.is_some_and(|r| {
                    r.len() == 1 && r.get("branch").and_then(Value::as_str) == Some(&t.branch)
                });
                if !branch_only {
                    out.push(fail(
                        Code::SourceNotInModel,
                        e,
                        format!(
                            "{name} does not track exactly branch `{}` of the trust model",
                            t.branch
                        ),
                        "Adversary 1: another ref (tag, commit, other branch) than the reviewed one",
                    ));
                }
            }
            ("OCIRepository" | "HelmRepository", Some(t)) => {
                if !t.charts.iter().any(|c| c.url == url) {
                    out.push(fail(
                        Code::SourceNotInModel,
                        e,
                        format!(
                            "{name} fetches `{url}`, which is not one of tenant `{}`'s charts",
                            t.name
                        ),
                        "Adversary 5: a chart repository nobody reviewed",
                    ));
                }
            }
            (_, Some(t)) => out.push(fail(
                Code::SourceNotInModel,
                e,
                format!(
                    "{name} in tenant `{}`'s namespace: the trust model declares no such source",
                    t.name
                ),
                "Adversary 1: a source nobody reviewed",
            )),
            (_, None) => {
                if let Some(t) = owner_of_repo.get(url) {
                    out.push(fail(
                        Code::SourceNotInModel,
                        e,
                        format!(
                            "{name} fetches tenant `{}`'s repository outside the tenant's namespaces",
                            t.name
                        ),
                        "Adversary 3: the tenant's repository applied with rights that are not the tenant's",
                    ));
                } else if ns == policy.flux.namespace
                    && kind == "GitRepository"
                    && url != env.platform.repository
                {
                    out.push(fail(
                        Code::SourceNotInModel,
                        e,
                        format!(
                            "{name} fetches `{url}`, not the platform repository `{}`",
                            env.platform.repository
                        ),
                        "Adversary 1: a repository nobody reviewed applied with cluster-admin",
                    ));
                }
            }
        }
    }
}

/// Pod Security: every tenant namespace is emitted and enforces `restricted` at the model's
/// version.
pub(super) fn pod_security(
    out: &mut Vec<Diagnostic>,
    policy: &Policy,
    env: &Env,
    docs: &[&Value],
    tenants: &HashMap<&str, &Tenant>,
) {
    let found: HashSet<&str> = docs
        .iter()
        .filter_map(|d| tenant_namespace(out, policy, env, d, tenants))
        .collect();
    namespaces_missing(out, env, |ns| found.contains(ns));
}

/// [`pod_security`] on one document: the name of the tenant namespace `d` declares, if it is
/// a `v1` Namespace of a tenant, with a diagnostic when it does not enforce `restricted` at
/// the model's version.
pub(super) fn tenant_namespace<'d>(
    out: &mut Vec<Diagnostic>,
    policy: &Policy,
    env: &Env,
    d: &'d Value,
    tenants: &HashMap<&str, &Tenant>,
) -> Option<&'d str> {
    if s(d, &["kind"]) != "Namespace" || s(d, &["apiVersion"]) != "v1" {
        return None;
    }
    let ns = s(d, &["metadata", "name"]);
    let t = tenants.get(ns)?;
    let label = |k: &str| s(d, &["metadata", "labels", k]);
    let level = label("pod-security.kubernetes.io/enforce");
    let version = label("pod-security.kubernetes.io/enforce-version");
    if level != "restricted" || version != policy.flux.pod_security_version {
        out.push(fail(
            Code::PodSecurityWeakened,
            &env.name,
            format!(
                "Namespace `{ns}` of tenant `{}` enforces Pod Security `{level}` at version `{version}`, not `restricted` at `{}`",
                t.name, policy.flux.pod_security_version
            ),
            "Adversary 2: privileged Pods in a tenant namespace",
        ));
    }
    Some(ns)
}

/// The rest of [`pod_security`]: every tenant namespace for which `found` is false has no
/// Namespace object in the output.
pub(super) fn namespaces_missing(
    out: &mut Vec<Diagnostic>,
    env: &Env,
    found: impl Fn(&str) -> bool,
) {
    for t in &env.tenants {
        for ns in &t.namespaces {
            if !found(ns) {
                out.push(fail(
                    Code::PodSecurityWeakened,
                    &env.name,
                    format!(
                        "Namespace `{ns}` of tenant `{}` is not in the output, so nothing sets its Pod Security level",
                        t.name
                    ),
                    "Adversary 2: privileged Pods in a tenant namespace",
                ));
            }
        }
    }
}

/// Every tenant namespace keeps a default-deny ingress policy (an empty `podSelector`,
/// `Ingress` in `policyTypes`, no ingress rule): NetworkPolicies only add allows, so without
/// it every flow is open.
pub(super) fn tenant_network_policies(out: &mut Vec<Diagnostic>, env: &Env, docs: &[&Value]) {
    let denied: HashSet<&str> = docs.iter().filter_map(|d| default_deny(d)).collect();
    network_policies_missing(out, env, |ns| denied.contains(ns));
}

/// [`tenant_network_policies`] on one document: the namespace `d` denies all ingress in, if
/// it is such a NetworkPolicy.
pub(super) fn default_deny(d: &Value) -> Option<&str> {
    if s(d, &["kind"]) != "NetworkPolicy" {
        return None;
    }
    let selects_all = field(d, &["spec", "podSelector"])
        .and_then(Value::as_object)
        .is_some_and(|o| o.is_empty());
    let ingress_type = field(d, &["spec", "policyTypes"])
        .and_then(Value::as_array)
        .is_some_and(|a| a.iter().any(|t| t.as_str() == Some("Ingress")));
    let no_rule = field(d, &["spec", "ingress"])
        .and_then(Value::as_array)
        .is_none_or(|a| a.is_empty());
    (selects_all && ingress_type && no_rule).then(|| s(d, &["metadata", "namespace"]))
}

/// The rest of [`tenant_network_policies`]: every tenant namespace `denied` is false for.
pub(super) fn network_policies_missing(
    out: &mut Vec<Diagnostic>,
    env: &Env,
    denied: impl Fn(&str) -> bool,
) {
    for t in &env.tenants {
        for ns in &t.namespaces {
            if !denied(ns) {
                out.push(fail(
                    Code::TenantNetworkPolicyMissing,
                    &env.name,
                    format!(
                        "tenant `{}`'s namespace `{ns}` has no default-deny ingress NetworkPolicy",
                        t.name
                    ),
                    "Adversary 2: any Pod of the cluster reaches the tenant's Pods",
                ));
            }
        }
    }
}

/// Reconcilers apply only inside their tenant: `targetNamespace`, `storageNamespace` and
/// `sourceRef.namespace` within the tenant's namespaces; no reconciler outside a tenant
/// reads a source in a tenant namespace.
pub(super) fn reconciler_scope(
    out: &mut Vec<Diagnostic>,
    env: &Env,
    docs: &[&Value],
    tenants: &HashMap<&str, &Tenant>,
) {
    for d in docs {
        let kind = s(d, &["kind"]);
        let api = s(d, &["apiVersion"]);
        if !(kind == "Kustomization" && api.starts_with("kustomize.toolkit.fluxcd.io/")
            || kind == "HelmRelease" && api.starts_with("helm.toolkit.fluxcd.io/"))
        {
            continue;
        }
        let ns = s(d, &["metadata", "namespace"]);
        let name = format!("{kind} `{ns}/{}`", s(d, &["metadata", "name"]));
        let mut refs: Vec<(&str, &str)> = Vec::new();
        for (what, path) in [
            ("targetNamespace", &["spec", "targetNamespace"][..]),
            ("storageNamespace", &["spec", "storageNamespace"][..]),
            (
                "sourceRef.namespace",
                &["spec", "sourceRef", "namespace"][..],
            ),
            (
                "chart.spec.sourceRef.namespace",
                &["spec", "chart", "spec", "sourceRef", "namespace"][..],
            ),
            ("chartRef.namespace", &["spec", "chartRef", "namespace"][..]),
        ] {
            if let Some(v) = field(d, path).and_then(Value::as_str) {
                refs.push((what, v));
            }
        }
        match tenants.get(ns) {
            Some(t) => {
                for (what, v) in refs {
                    if !t.namespaces.iter().any(|n| n == v) {
                        out.push(fail(
                            Code::ReconcilerOutsideTenant,
                            &env.name,
                            format!(
                                "{name} of tenant `{}` sets {what} `{v}`, outside the tenant's namespaces",
                                t.name
                            ),
                            "Adversary 3: a tenant repository applied into another namespace",
                        ));
                    }
                }
            }
            None => {
                for (what, v) in refs {
                    if let Some(t) = tenants.get(v) {
                        if what.ends_with("sourceRef.namespace") || what == "chartRef.namespace" {
                            out.push(fail(
                                Code::ReconcilerOutsideTenant,
                                &env.name,
                                format!(
                                    "{name} outside tenant `{}` reconciles a source of its namespace `{v}`",
                                    t.name
                                ),
                                "Adversary 3: the tenant's repository applied with rights that are not the tenant's",
                            ));
                        }
                    }
                }
            }
        }
    }
}

/// The controllers' lock-down flags, each in a patch of the flux-lockdown Component that
/// targets the controller's Deployment.
///
/// Upstream: `--no-cross-namespace-refs` is bound by fluxcd/pkg `runtime/acl/flags.go`
/// (kustomize-controller, helm-controller, notification-controller, image-reflector- and
/// image-automation-controller `main.go`); `--no-remote-bases` by kustomize-controller
/// `main.go`; `--default-service-account` by fluxcd/pkg `auth/controller_flags.go`, the SA
/// kustomize- and helm-controller impersonate when an object names none (Flux v2.9.4).
pub(super) fn lockdown_flags(out: &mut Vec<Diagnostic>, env: &Env, docs: &[&Value]) {
    const REQUIRED: &[(&str, &[&str])] = &[
        (
            "kustomize-controller",
            &[
                "--no-cross-namespace-refs=true",
                "--no-remote-bases=true",
                "--default-service-account=",
            ],
        ),
        (
            "helm-controller",
            &[
                "--no-cross-namespace-refs=true",
                "--default-service-account=",
            ],
        ),
        (
            "notification-controller",
            &["--no-cross-namespace-refs=true"],
        ),
        (
            "image-reflector-controller",
            &["--no-cross-namespace-refs=true"],
        ),
        (
            "image-automation-controller",
            &["--no-cross-namespace-refs=true"],
        ),
    ];
    let patches: Vec<(&str, &str)> = docs
        .iter()
        .filter(|d| {
            s(d, &["kind"]) == "Component"
                && s(d, &["apiVersion"]).starts_with("kustomize.config.k8s.io/")
        })
        .filter_map(|d| field(d, &["patches"]).and_then(Value::as_array))
        .flatten()
        .filter(|p| s(p, &["target", "kind"]) == "Deployment")
        .map(|p| (s(p, &["target", "name"]), s(p, &["patch"])))
        .collect();
    for (controller, flags) in REQUIRED {
        for flag in *flags {
            let present = patches.iter().any(|(target, text)| {
                target.contains(controller)
                    && patch_values(text).iter().any(|v| v.starts_with(flag))
            });
            if !present {
                out.push(fail(
                    Code::FluxLockdownFlagMissing,
                    &env.name,
                    format!("the flux-lockdown Component no longer gives {controller} `{flag}`"),
                    "Adversary 3: tenants reconciling with Flux's own rights or across namespaces",
                ));
            }
        }
    }
}

/// The `value`s of a JSON6902 patch given as YAML text (how the lock-down adds flags),
/// parsed, so quoting and layout do not matter.
fn patch_values(text: &str) -> Vec<String> {
    crate::verify::parse_documents(text)
        .unwrap_or_default()
        .iter()
        .filter_map(Value::as_array)
        .flatten()
        .filter_map(|op| op.get("value").and_then(Value::as_str))
        .map(str::to_string)
        .collect()
}

/// Admission documents in Enforce/Deny, whatever the engine: a Kyverno ClusterPolicy
/// (`validationFailureAction` and each rule's `validate.failureAction`), a Kyverno
/// ValidatingPolicy / ImageValidatingPolicy (`validationActions`), a
/// ValidatingAdmissionPolicyBinding (`validationActions`). Audit or Warn alone only logs.
pub(super) fn admission_enforced(out: &mut Vec<Diagnostic>, env: &Env, docs: &[&Value]) {
    for d in docs {
        let kind = s(d, &["kind"]);
        let api = s(d, &["apiVersion"]);
        let name = format!("{kind} `{}`", s(d, &["metadata", "name"]));
        let mut bad: Vec<String> = Vec::new();
        match (api.split('/').next().unwrap_or(""), kind) {
            ("kyverno.io", "ClusterPolicy" | "Policy") => {
                let action = s(d, &["spec", "validationFailureAction"]);
                if !action.is_empty() && !action.eq_ignore_ascii_case("enforce") {
                    bad.push(format!("validationFailureAction `{action}`"));
                }
                for r in field(d, &["spec", "rules"])
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let fa = s(r, &["validate", "failureAction"]);
                    if !fa.is_empty() && fa != "Enforce" {
                        bad.push(format!("rule `{}` failureAction `{fa}`", s(r, &["name"])));
                    }
                    if r.get("validate").is_some()
                        && fa.is_empty()
                        && !action.eq_ignore_ascii_case("enforce")
                    {
                        bad.push(format!(
                            "rule `{}` defaults to Audit (no failureAction)",
                            s(r, &["name"])
                        ));
                    }
                    for v in field(r, &["verifyImages"])
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                    {
                        let fa = s(v, &["failureAction"]);
                        if fa != "Enforce"
                            && !(fa.is_empty() && action.eq_ignore_ascii_case("enforce"))
                        {
                            bad.push(format!(
                                "rule `{}` verifies images with failureAction `{}`",
                                s(r, &["name"]),
                                if fa.is_empty() { "Audit (default)" } else { fa }
                            ));
                        }
                    }
                }
            }
            ("policies.kyverno.io", "ValidatingPolicy" | "ImageValidatingPolicy")
            | ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding") => {
                let actions = field(d, &["spec", "validationActions"]).and_then(Value::as_array);
                // trustc always states the action; an absent one is not read as a default.
                let deny = actions.is_some_and(|a| a.iter().any(|v| v.as_str() == Some("Deny")));
                if !deny {
                    bad.push("validationActions without `Deny`".to_string());
                }
            }
            _ => continue,
        }
        for b in bad {
            out.push(fail(
                Code::AdmissionNotEnforced,
                &env.name,
                format!("{name} does not enforce: {b}"),
                "Adversaries 2 and 3: an admission rule that only logs",
            ));
        }
    }
}
