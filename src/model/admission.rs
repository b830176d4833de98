//! The admission policies, written once as CEL. Each engine's template lays the same
//! expressions out as a Kyverno ClusterPolicy (`validate.cel`), a Kyverno ValidatingPolicy,
//! or a native ValidatingAdmissionPolicy. Only CEL that both Kubernetes and the test engine
//! implement is used: `has`, `in`, `all`, `exists`, `startsWith`, map and list literals,
//! the conditional operator, string and list concatenation.

use serde::Serialize;

use super::Tenant;

/// Which requests a policy sees (VAP `matchConstraints.resourceRules` shape).
#[derive(Clone, Debug, Serialize)]
pub struct ResourceRule {
    pub api_groups: Vec<String>,
    pub resources: Vec<String>,
    pub operations: Vec<String>,
    /// `Cluster`, `Namespaced` or `*`.
    pub scope: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct NamedExpr {
    pub name: String,
    pub expression: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Validation {
    pub expression: String,
    pub message: String,
}

/// One admission policy, engine-neutral.
#[derive(Clone, Debug, Serialize)]
pub struct AdmissionPolicy {
    pub name: String,
    pub title: String,
    /// Which threat of the seed it answers.
    pub description: String,
    pub rules: Vec<ResourceRule>,
    /// Kyverno ClusterPolicy `match.any[].resources.kinds` for the same requests.
    pub kyverno_kinds: Vec<String>,
    pub match_conditions: Vec<NamedExpr>,
    pub variables: Vec<NamedExpr>,
    pub validations: Vec<Validation>,
}

/// A CEL string literal.
pub(crate) fn cel_str(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// `request.namespace in [...]`.
pub(crate) fn in_namespaces(namespaces: &[String]) -> String {
    format!(
        "request.namespace in {}",
        cel_list(namespaces.iter().map(String::as_str))
    )
}

fn cel_list<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    let v: Vec<String> = items.into_iter().map(cel_str).collect();
    format!("[{}]", v.join(", "))
}

/// `{'ns': value, …}` over every namespace of every tenant.
fn per_namespace(tenants: &[Tenant], value: impl Fn(&Tenant) -> String) -> String {
    let mut entries = Vec::new();
    for t in tenants {
        for ns in &t.namespaces {
            entries.push(format!("{}: {}", cel_str(ns), value(t)));
        }
    }
    entries.sort();
    format!("{{{}}}", entries.join(", "))
}

fn rule(groups: &[&str], resources: &[&str], ops: &[&str], scope: &str) -> ResourceRule {
    ResourceRule {
        api_groups: groups.iter().map(|s| (*s).to_string()).collect(),
        resources: resources.iter().map(|s| (*s).to_string()).collect(),
        operations: ops.iter().map(|s| (*s).to_string()).collect(),
        scope: scope.to_string(),
    }
}

fn named(name: &str, expression: String) -> NamedExpr {
    NamedExpr {
        name: name.to_string(),
        expression,
    }
}

fn check(expression: String, message: &str) -> Validation {
    Validation {
        expression,
        message: message.to_string(),
    }
}

const WRITE: &[&str] = &["CREATE", "UPDATE"];
const WRITE_DELETE: &[&str] = &["CREATE", "UPDATE", "DELETE"];

/// The policies of one environment.
pub(crate) fn policies(
    tenants: &[Tenant],
    namespaces: &[String],
    usernames: &[String],
) -> Vec<AdmissionPolicy> {
    if tenants.is_empty() {
        return Vec::new();
    }
    let users = cel_list(usernames.iter().map(String::as_str));
    let nss = cel_list(namespaces.iter().map(String::as_str));
    let is_tenant_sa = format!("request.userInfo.username in {users}");
    let in_tenant_ns = format!("request.namespace in {nss}");
    let kind_name = "(request.kind.group == '' ? request.kind.kind : request.kind.group + '/' + request.kind.kind)";
    let mut out = Vec::new();

    // 1. Adversaries 1 and 3: no cluster-scoped object from a tenant's service account.
    out.push(AdmissionPolicy {
        name: "trustc-tenant-cluster-scope".into(),
        title: "Tenants manage no cluster-scoped objects".into(),
        description: "Denies every cluster-scoped write (ClusterRoleBinding first of all, Namespaces included) by a tenant reconciler: a push to a tenant repository never becomes cluster-wide privilege (seed Adversaries 1 and 3).".into(),
        rules: vec![rule(&["*"], &["*"], WRITE_DELETE, "Cluster")],
        kyverno_kinds: vec!["*".into()],
        match_conditions: vec![
            named("tenant-reconciler", is_tenant_sa.clone()),
            named("cluster-scoped", "request.namespace == ''".into()),
        ],
        variables: vec![],
        validations: vec![check(
            "false".into(),
            "tenant reconcilers may not create, change or delete cluster-scoped objects (ClusterRoleBindings, Namespaces, CRDs...): they belong to the platform tier",
        )],
    });

    // 2. Adversary 3: only each tenant's allowed kinds, only in its own namespaces.
    let allowed = {
        let mut entries: Vec<String> = tenants
            .iter()
            .map(|t| {
                let kinds: Vec<String> = t.kinds.iter().map(|k| k.spec_name()).collect();
                format!(
                    "{}: {}",
                    cel_str(&t.username),
                    cel_list(kinds.iter().map(String::as_str))
                )
            })
            .collect();
        entries.sort();
        format!("{{{}}}", entries.join(", "))
    };
    let own_ns = {
        let mut entries: Vec<String> = tenants
            .iter()
            .map(|t| {
                format!(
                    "{}: {}",
                    cel_str(&t.username),
                    cel_list(t.namespaces.iter().map(String::as_str))
                )
            })
            .collect();
        entries.sort();
        format!("{{{}}}", entries.join(", "))
    };
    out.push(AdmissionPolicy {
        name: "trustc-tenant-allowed-kinds".into(),
        title: "Tenants deploy only their allowed kinds, in their own namespaces".into(),
        description: "The admission twin of the tenant Role: a tenant reconciler may only write the kinds listed in its allowed_kinds, and only in its own namespaces (seed Adversary 3).".into(),
        rules: vec![rule(&["*"], &["*"], WRITE_DELETE, "Namespaced")],
        kyverno_kinds: vec!["*".into()],
        match_conditions: vec![
            named("tenant-reconciler", is_tenant_sa.clone()),
            named("namespaced", "request.namespace != ''".into()),
        ],
        variables: vec![],
        validations: vec![
            check(
                format!("request.namespace in {own_ns}[request.userInfo.username]"),
                "a tenant reconciler may only write into its own namespaces",
            ),
            check(
                format!("{kind_name} in {allowed}[request.userInfo.username]"),
                "this kind is not in the tenant's allowed_kinds",
            ),
        ],
    });

    // 3. Adversary 3: tenant Kustomizations and HelmReleases impersonate the tenant's SA,
    //    never force, never kubeConfig, never a source from another namespace.
    let sa_of = per_namespace(tenants, |t| cel_str(&t.service_account));
    out.push(AdmissionPolicy {
        name: "trustc-tenant-reconcilers".into(),
        title: "Tenant Kustomizations and HelmReleases stay inside the tenant".into(),
        description: "In tenant namespaces, Flux Kustomizations and HelmReleases must impersonate the tenant's service account, must not set force, kubeConfig or a decryption service account, and must take their source from their own namespace (seed Adversary 3).".into(),
        rules: vec![
            rule(&["kustomize.toolkit.fluxcd.io"], &["kustomizations"], WRITE, "Namespaced"),
            rule(&["helm.toolkit.fluxcd.io"], &["helmreleases"], WRITE, "Namespaced"),
        ],
        kyverno_kinds: vec!["Kustomization".into(), "HelmRelease".into()],
        match_conditions: vec![named("tenant-namespace", in_tenant_ns.clone())],
        variables: vec![],
        validations: vec![
            check(
                format!("has(object.spec.serviceAccountName) && object.spec.serviceAccountName == {sa_of}[request.namespace]"),
                "spec.serviceAccountName must be the tenant's reconciler service account",
            ),
            check(
                "!has(object.spec.force) || object.spec.force == false".into(),
                "spec.force is not allowed for tenants",
            ),
            check(
                "!has(object.spec.kubeConfig)".into(),
                "spec.kubeConfig is not allowed for tenants: it would reconcile with someone else's credentials",
            ),
            check(
                "!has(object.spec.decryption) || !has(object.spec.decryption.serviceAccountName)".into(),
                "spec.decryption.serviceAccountName is not allowed for tenants",
            ),
            check(
                "request.kind.kind != 'Kustomization' || !has(object.spec.sourceRef.namespace) || object.spec.sourceRef.namespace == request.namespace".into(),
                "a tenant Kustomization must take its source from its own namespace",
            ),
            check(
                "request.kind.kind != 'HelmRelease' || ((!has(object.spec.chartRef) || !has(object.spec.chartRef.namespace) || object.spec.chartRef.namespace == request.namespace) && (!has(object.spec.chart) || !has(object.spec.chart.spec.sourceRef.namespace) || object.spec.chart.spec.sourceRef.namespace == request.namespace))".into(),
                "a tenant HelmRelease must take its chart from its own namespace",
            ),
            check(
                "!has(object.spec.targetNamespace) || object.spec.targetNamespace == request.namespace".into(),
                "spec.targetNamespace must be the object's own namespace",
            ),
        ],
    });

    // 4. Adversaries 1, 2 and 5: sources in tenant namespaces are verified and point only
    //    at the tenant's own repository and registries.
    let repo_of = per_namespace(tenants, |t| cel_str(&t.repository));
    let must_verify = per_namespace(tenants, |t| {
        if t.signers.is_empty() {
            "false".into()
        } else {
            "true".into()
        }
    });
    let oci_prefixes = per_namespace(tenants, |t| {
        let v: Vec<String> = t
            .registries
            .iter()
            .map(|r| format!("oci://{}/", r.host))
            .collect();
        cel_list(v.iter().map(String::as_str))
    });
    let image_prefixes = per_namespace(tenants, |t| {
        let v: Vec<String> = t
            .registries
            .iter()
            .map(|r| format!("{}/", r.host))
            .collect();
        cel_list(v.iter().map(String::as_str))
    });
    let helm_prefixes = per_namespace(tenants, |t| {
        let mut v: Vec<String> = t
            .registries
            .iter()
            .map(|r| format!("oci://{}/", r.host))
            .collect();
        v.extend(
            t.charts
                .iter()
                .filter(|c| c.source_kind == "HelmRepository")
                .map(|c| c.url.clone()),
        );
        v.sort();
        v.dedup();
        cel_list(v.iter().map(String::as_str))
    });
    let signed_oci = per_namespace(tenants, |t| {
        let v: Vec<String> = t
            .registries
            .iter()
            .filter(|r| r.signed())
            .map(|r| format!("oci://{}/", r.host))
            .collect();
        cel_list(v.iter().map(String::as_str))
    });
    out.push(AdmissionPolicy {
        name: "trustc-tenant-sources".into(),
        title: "Tenant sources are verified and come from the tenant's own repository and registries".into(),
        description: "In tenant namespaces, GitRepositories must point at the tenant's repository and carry verify (commit signatures, seed Adversary 1); OCIRepositories and ImageRepositories may only use the tenant's registries, and OCI artifacts from signed registries must be verified (seed Adversary 5).".into(),
        rules: vec![
            rule(&["source.toolkit.fluxcd.io"], &["gitrepositories", "ocirepositories", "helmrepositories"], WRITE, "Namespaced"),
            rule(&["image.toolkit.fluxcd.io"], &["imagerepositories"], WRITE, "Namespaced"),
        ],
        kyverno_kinds: vec!["GitRepository".into(), "OCIRepository".into(), "HelmRepository".into(), "ImageRepository".into()],
        match_conditions: vec![named("tenant-namespace", in_tenant_ns.clone())],
        variables: vec![],
        validations: vec![
            check(
                format!("request.kind.kind != 'GitRepository' || object.spec.url == {repo_of}[request.namespace]"),
                "a tenant GitRepository may only point at the tenant's own repository",
            ),
            check(
                format!("request.kind.kind != 'GitRepository' || !{must_verify}[request.namespace] || (has(object.spec.verify) && has(object.spec.verify.secretRef))"),
                "a tenant GitRepository must verify commit signatures (spec.verify)",
            ),
            check(
                format!("request.kind.kind != 'OCIRepository' || {oci_prefixes}[request.namespace].exists(p, object.spec.url.startsWith(p))"),
                "a tenant OCIRepository may only use the tenant's registries",
            ),
            check(
                format!("request.kind.kind != 'OCIRepository' || !{signed_oci}[request.namespace].exists(p, object.spec.url.startsWith(p)) || has(object.spec.verify)"),
                "an OCIRepository from a signed registry must verify signatures (spec.verify)",
            ),
            check(
                format!("request.kind.kind != 'HelmRepository' || {helm_prefixes}[request.namespace].exists(p, object.spec.url.startsWith(p))"),
                "a tenant HelmRepository may only use the tenant's chart repositories and registries",
            ),
            check(
                format!("request.kind.kind != 'ImageRepository' || {image_prefixes}[request.namespace].exists(p, object.spec.image.startsWith(p))"),
                "a tenant ImageRepository may only scan the tenant's registries",
            ),
        ],
    });

    // 5. Adversaries 4 and 5: pods and pod controllers in tenant namespaces.
    let pod_spec = "object.kind == 'Pod' ? object.spec : (object.kind == 'CronJob' ? object.spec.jobTemplate.spec.template.spec : object.spec.template.spec)";
    let containers = "variables.podSpec.containers + (has(variables.podSpec.initContainers) ? variables.podSpec.initContainers : []) + (has(variables.podSpec.ephemeralContainers) ? variables.podSpec.ephemeralContainers : [])";
    out.push(AdmissionPolicy {
        name: "trustc-tenant-pods".into(),
        title: "Tenant pods: own registries, no privilege".into(),
        description: "Pods and pod controllers in tenant namespaces run only images from the tenant's registries, never privileged, never with host namespaces, host ports or hostPath volumes, never escalating privileges or adding capabilities, never unconfined by seccomp, never as root. This stops HelmRelease values injection (seed Adversary 4) whatever the chart's values say, and images from foreign registries (Adversary 5).".into(),
        rules: vec![
            rule(&[""], &["pods"], WRITE, "Namespaced"),
            rule(&["apps"], &["deployments", "statefulsets", "daemonsets", "replicasets"], WRITE, "Namespaced"),
            rule(&["batch"], &["jobs", "cronjobs"], WRITE, "Namespaced"),
        ],
        kyverno_kinds: ["Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob"]
            .iter()
            .map(|s| (*s).to_string())
            .collect(),
        match_conditions: vec![named("tenant-namespace", in_tenant_ns)],
        variables: vec![
            named("podSpec", pod_spec.into()),
            named("containers", containers.into()),
        ],
        validations: vec![
            check(
                format!("variables.containers.all(c, {image_prefixes}[request.namespace].exists(p, c.image.startsWith(p)))"),
                "images must come from the tenant's registries",
            ),
            check(
                "variables.containers.all(c, !has(c.securityContext) || !has(c.securityContext.privileged) || c.securityContext.privileged == false)".into(),
                "privileged containers are not allowed",
            ),
            check(
                "variables.containers.all(c, has(c.securityContext) && has(c.securityContext.allowPrivilegeEscalation) && c.securityContext.allowPrivilegeEscalation == false)".into(),
                "containers must set securityContext.allowPrivilegeEscalation: false",
            ),
            check(
                "!(has(variables.podSpec.hostNetwork) && variables.podSpec.hostNetwork) && !(has(variables.podSpec.hostPID) && variables.podSpec.hostPID) && !(has(variables.podSpec.hostIPC) && variables.podSpec.hostIPC)".into(),
                "host namespaces (hostNetwork, hostPID, hostIPC) are not allowed",
            ),
            check(
                "!has(variables.podSpec.volumes) || variables.podSpec.volumes.all(v, !has(v.hostPath))".into(),
                "hostPath volumes are not allowed",
            ),
            check(
                "variables.containers.all(c, !has(c.ports) || c.ports.all(p, !has(p.hostPort) || p.hostPort == 0))".into(),
                "host ports are not allowed",
            ),
            check(
                "variables.containers.all(c, !has(c.securityContext) || !has(c.securityContext.capabilities) || !has(c.securityContext.capabilities.add) || c.securityContext.capabilities.add.all(x, x == 'NET_BIND_SERVICE'))".into(),
                "containers may add no capability but NET_BIND_SERVICE",
            ),
            check(
                "!(has(variables.podSpec.securityContext) && has(variables.podSpec.securityContext.seccompProfile) && variables.podSpec.securityContext.seccompProfile.type == 'Unconfined') && variables.containers.all(c, !has(c.securityContext) || !has(c.securityContext.seccompProfile) || c.securityContext.seccompProfile.type != 'Unconfined')".into(),
                "seccompProfile Unconfined is not allowed",
            ),
            check(
                "(has(variables.podSpec.securityContext) && has(variables.podSpec.securityContext.runAsNonRoot) && variables.podSpec.securityContext.runAsNonRoot == true) || variables.containers.all(c, has(c.securityContext) && has(c.securityContext.runAsNonRoot) && c.securityContext.runAsNonRoot == true)".into(),
                "pods must run as non-root (runAsNonRoot: true)",
            ),
        ],
    });
    out
}

#[cfg(test)]
mod tests {
    use super::cel_str;

    #[test]
    fn cel_strings_are_escaped() {
        assert_eq!(cel_str("a'b\\c"), "'a\\'b\\\\c'");
    }
}
