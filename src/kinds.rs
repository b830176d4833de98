//! What trustc knows about Kubernetes kinds: API group, plural resource, scope, and the
//! risk class a tenant grant of it falls into. Shared knowledge, not a pipeline stage.

/// Why a kind needs care when granted to a tenant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub enum Risk {
    /// Ordinary namespaced workload or configuration object.
    Normal,
    /// Roles and bindings: privilege escalation.
    Rbac,
    /// Admission webhooks and admission policies: switch the guard rails off.
    Admission,
    /// Policy-engine objects (Kyverno policies, PolicyExceptions): self-exemption.
    PolicyEngine,
    /// ServiceAccounts: a tenant-made SA can be named by a Flux object or a Pod.
    ServiceAccount,
    /// ResourceQuota / LimitRange: a tenant could raise its own quota.
    Quota,
    /// Secrets and objects that materialise secrets (ExternalSecret…): opt-in only.
    Secret,
    /// NetworkPolicies are additive allow-lists: opt-in only.
    NetworkPolicy,
}

/// A kind trustc can grant or check.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct KindInfo {
    /// API group; `""` for the core group.
    pub group: String,
    pub kind: String,
    /// Plural resource name as RBAC spells it.
    pub resource: String,
    pub namespaced: bool,
    pub risk: Risk,
}

impl KindInfo {
    /// `group/Kind`, or the bare `Kind` for the core group (the spec's spelling).
    pub fn spec_name(&self) -> String {
        if self.group.is_empty() {
            self.kind.clone()
        } else {
            format!("{}/{}", self.group, self.kind)
        }
    }
}

use Risk::*;
use std::collections::HashMap;

/// (group, kind, resource, namespaced, risk)
const BUILTIN: &[(&str, &str, &str, bool, Risk)] = &[
    // core
    ("", "Pod", "pods", true, Normal),
    ("", "Service", "services", true, Normal),
    ("", "ConfigMap", "configmaps", true, Normal),
    ("", "Secret", "secrets", true, Secret),
    (
        "",
        "ServiceAccount",
        "serviceaccounts",
        true,
        ServiceAccount,
    ),
    (
        "",
        "PersistentVolumeClaim",
        "persistentvolumeclaims",
        true,
        Normal,
    ),
    ("", "Endpoints", "endpoints", true, Normal),
    ("", "Event", "events", true, Normal),
    ("", "LimitRange", "limitranges", true, Quota),
    ("", "ResourceQuota", "resourcequotas", true, Quota),
    (
        "",
        "ReplicationController",
        "replicationcontrollers",
        true,
        Normal,
    ),
    ("", "PodTemplate", "podtemplates", true, Normal),
    ("", "Namespace", "namespaces", false, Normal),
    ("", "Node", "nodes", false, Normal),
    ("", "PersistentVolume", "persistentvolumes", false, Normal),
    // apps, batch, autoscaling, policy
    ("apps", "Deployment", "deployments", true, Normal),
    ("apps", "StatefulSet", "statefulsets", true, Normal),
    ("apps", "DaemonSet", "daemonsets", true, Normal),
    ("apps", "ReplicaSet", "replicasets", true, Normal),
    (
        "apps",
        "ControllerRevision",
        "controllerrevisions",
        true,
        Normal,
    ),
    ("batch", "Job", "jobs", true, Normal),
    ("batch", "CronJob", "cronjobs", true, Normal),
    (
        "autoscaling",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        true,
        Normal,
    ),
    (
        "policy",
        "PodDisruptionBudget",
        "poddisruptionbudgets",
        true,
        Normal,
    ),
    // networking, discovery, coordination
    ("networking.k8s.io", "Ingress", "ingresses", true, Normal),
    (
        "networking.k8s.io",
        "NetworkPolicy",
        "networkpolicies",
        true,
        NetworkPolicy,
    ),
    (
        "networking.k8s.io",
        "IngressClass",
        "ingressclasses",
        false,
        Normal,
    ),
    (
        "discovery.k8s.io",
        "EndpointSlice",
        "endpointslices",
        true,
        Normal,
    ),
    ("coordination.k8s.io", "Lease", "leases", true, Normal),
    (
        "gateway.networking.k8s.io",
        "Gateway",
        "gateways",
        true,
        Normal,
    ),
    (
        "gateway.networking.k8s.io",
        "HTTPRoute",
        "httproutes",
        true,
        Normal,
    ),
    (
        "gateway.networking.k8s.io",
        "GRPCRoute",
        "grpcroutes",
        true,
        Normal,
    ),
    (
        "gateway.networking.k8s.io",
        "ReferenceGrant",
        "referencegrants",
        true,
        Normal,
    ),
    (
        "gateway.networking.k8s.io",
        "GatewayClass",
        "gatewayclasses",
        false,
        Normal,
    ),
    // RBAC
    ("rbac.authorization.k8s.io", "Role", "roles", true, Rbac),
    (
        "rbac.authorization.k8s.io",
        "RoleBinding",
        "rolebindings",
        true,
        Rbac,
    ),
    (
        "rbac.authorization.k8s.io",
        "ClusterRole",
        "clusterroles",
        false,
        Rbac,
    ),
    (
        "rbac.authorization.k8s.io",
        "ClusterRoleBinding",
        "clusterrolebindings",
        false,
        Rbac,
    ),
    // cluster infrastructure
    (
        "storage.k8s.io",
        "StorageClass",
        "storageclasses",
        false,
        Normal,
    ),
    (
        "storage.k8s.io",
        "VolumeAttachment",
        "volumeattachments",
        false,
        Normal,
    ),
    ("storage.k8s.io", "CSIDriver", "csidrivers", false, Normal),
    ("storage.k8s.io", "CSINode", "csinodes", false, Normal),
    (
        "storage.k8s.io",
        "CSIStorageCapacity",
        "csistoragecapacities",
        true,
        Normal,
    ),
    (
        "apiextensions.k8s.io",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        false,
        Normal,
    ),
    (
        "apiregistration.k8s.io",
        "APIService",
        "apiservices",
        false,
        Normal,
    ),
    (
        "scheduling.k8s.io",
        "PriorityClass",
        "priorityclasses",
        false,
        Normal,
    ),
    (
        "node.k8s.io",
        "RuntimeClass",
        "runtimeclasses",
        false,
        Normal,
    ),
    (
        "certificates.k8s.io",
        "CertificateSigningRequest",
        "certificatesigningrequests",
        false,
        Normal,
    ),
    (
        "flowcontrol.apiserver.k8s.io",
        "FlowSchema",
        "flowschemas",
        false,
        Normal,
    ),
    (
        "flowcontrol.apiserver.k8s.io",
        "PriorityLevelConfiguration",
        "prioritylevelconfigurations",
        false,
        Normal,
    ),
    // admission
    (
        "admissionregistration.k8s.io",
        "ValidatingWebhookConfiguration",
        "validatingwebhookconfigurations",
        false,
        Admission,
    ),
    (
        "admissionregistration.k8s.io",
        "MutatingWebhookConfiguration",
        "mutatingwebhookconfigurations",
        false,
        Admission,
    ),
    (
        "admissionregistration.k8s.io",
        "ValidatingAdmissionPolicy",
        "validatingadmissionpolicies",
        false,
        Admission,
    ),
    (
        "admissionregistration.k8s.io",
        "ValidatingAdmissionPolicyBinding",
        "validatingadmissionpolicybindings",
        false,
        Admission,
    ),
    (
        "admissionregistration.k8s.io",
        "MutatingAdmissionPolicy",
        "mutatingadmissionpolicies",
        false,
        Admission,
    ),
    (
        "admissionregistration.k8s.io",
        "MutatingAdmissionPolicyBinding",
        "mutatingadmissionpolicybindings",
        false,
        Admission,
    ),
    // Flux
    (
        "source.toolkit.fluxcd.io",
        "GitRepository",
        "gitrepositories",
        true,
        Normal,
    ),
    (
        "source.toolkit.fluxcd.io",
        "HelmRepository",
        "helmrepositories",
        true,
        Normal,
    ),
    (
        "source.toolkit.fluxcd.io",
        "HelmChart",
        "helmcharts",
        true,
        Normal,
    ),
    (
        "source.toolkit.fluxcd.io",
        "Bucket",
        "buckets",
        true,
        Normal,
    ),
    (
        "source.toolkit.fluxcd.io",
        "OCIRepository",
        "ocirepositories",
        true,
        Normal,
    ),
    (
        "source.toolkit.fluxcd.io",
        "ExternalArtifact",
        "externalartifacts",
        true,
        Normal,
    ),
    (
        "kustomize.toolkit.fluxcd.io",
        "Kustomization",
        "kustomizations",
        true,
        Normal,
    ),
    (
        "helm.toolkit.fluxcd.io",
        "HelmRelease",
        "helmreleases",
        true,
        Normal,
    ),
    (
        "image.toolkit.fluxcd.io",
        "ImageRepository",
        "imagerepositories",
        true,
        Normal,
    ),
    (
        "image.toolkit.fluxcd.io",
        "ImagePolicy",
        "imagepolicies",
        true,
        Normal,
    ),
    (
        "image.toolkit.fluxcd.io",
        "ImageUpdateAutomation",
        "imageupdateautomations",
        true,
        Normal,
    ),
    (
        "notification.toolkit.fluxcd.io",
        "Alert",
        "alerts",
        true,
        Normal,
    ),
    (
        "notification.toolkit.fluxcd.io",
        "Provider",
        "providers",
        true,
        Normal,
    ),
    (
        "notification.toolkit.fluxcd.io",
        "Receiver",
        "receivers",
        true,
        Normal,
    ),
    // Kyverno
    (
        "kyverno.io",
        "ClusterPolicy",
        "clusterpolicies",
        false,
        PolicyEngine,
    ),
    ("kyverno.io", "Policy", "policies", true, PolicyEngine),
    (
        "kyverno.io",
        "PolicyException",
        "policyexceptions",
        true,
        PolicyEngine,
    ),
    (
        "kyverno.io",
        "ClusterCleanupPolicy",
        "clustercleanuppolicies",
        false,
        PolicyEngine,
    ),
    (
        "kyverno.io",
        "CleanupPolicy",
        "cleanuppolicies",
        true,
        PolicyEngine,
    ),
    (
        "kyverno.io",
        "UpdateRequest",
        "updaterequests",
        true,
        PolicyEngine,
    ),
    (
        "policies.kyverno.io",
        "ValidatingPolicy",
        "validatingpolicies",
        false,
        PolicyEngine,
    ),
    (
        "policies.kyverno.io",
        "NamespacedValidatingPolicy",
        "namespacedvalidatingpolicies",
        true,
        PolicyEngine,
    ),
    (
        "policies.kyverno.io",
        "ImageValidatingPolicy",
        "imagevalidatingpolicies",
        false,
        PolicyEngine,
    ),
    (
        "policies.kyverno.io",
        "MutatingPolicy",
        "mutatingpolicies",
        false,
        PolicyEngine,
    ),
    (
        "policies.kyverno.io",
        "GeneratingPolicy",
        "generatingpolicies",
        false,
        PolicyEngine,
    ),
    (
        "policies.kyverno.io",
        "DeletingPolicy",
        "deletingpolicies",
        false,
        PolicyEngine,
    ),
    (
        "policies.kyverno.io",
        "PolicyException",
        "policyexceptions",
        true,
        PolicyEngine,
    ),
    (
        "wgpolicyk8s.io",
        "PolicyReport",
        "policyreports",
        true,
        PolicyEngine,
    ),
    (
        "wgpolicyk8s.io",
        "ClusterPolicyReport",
        "clusterpolicyreports",
        false,
        PolicyEngine,
    ),
    // external-secrets
    (
        "external-secrets.io",
        "ExternalSecret",
        "externalsecrets",
        true,
        Secret,
    ),
    (
        "external-secrets.io",
        "SecretStore",
        "secretstores",
        true,
        Secret,
    ),
    (
        "external-secrets.io",
        "PushSecret",
        "pushsecrets",
        true,
        Secret,
    ),
    (
        "external-secrets.io",
        "ClusterSecretStore",
        "clustersecretstores",
        false,
        Secret,
    ),
    (
        "external-secrets.io",
        "ClusterExternalSecret",
        "clusterexternalsecrets",
        false,
        Secret,
    ),
    // prometheus-operator
    (
        "monitoring.coreos.com",
        "ServiceMonitor",
        "servicemonitors",
        true,
        Normal,
    ),
    (
        "monitoring.coreos.com",
        "PodMonitor",
        "podmonitors",
        true,
        Normal,
    ),
    (
        "monitoring.coreos.com",
        "PrometheusRule",
        "prometheusrules",
        true,
        Normal,
    ),
    ("monitoring.coreos.com", "Probe", "probes", true, Normal),
    (
        "monitoring.coreos.com",
        "ScrapeConfig",
        "scrapeconfigs",
        true,
        Normal,
    ),
    (
        "monitoring.coreos.com",
        "AlertmanagerConfig",
        "alertmanagerconfigs",
        true,
        Normal,
    ),
    (
        "monitoring.coreos.com",
        "Prometheus",
        "prometheuses",
        true,
        Normal,
    ),
    (
        "monitoring.coreos.com",
        "PrometheusAgent",
        "prometheusagents",
        true,
        Normal,
    ),
    (
        "monitoring.coreos.com",
        "Alertmanager",
        "alertmanagers",
        true,
        Normal,
    ),
    (
        "monitoring.coreos.com",
        "ThanosRuler",
        "thanosrulers",
        true,
        Normal,
    ),
];

/// Groups whose every object belongs to the policy engine or admission control, so that a
/// `[kinds]` entry in them inherits that risk.
const RISKY_GROUPS: &[(&str, Risk)] = &[
    ("rbac.authorization.k8s.io", Rbac),
    ("admissionregistration.k8s.io", Admission),
    ("kyverno.io", PolicyEngine),
    ("policies.kyverno.io", PolicyEngine),
    ("reports.kyverno.io", PolicyEngine),
    ("wgpolicyk8s.io", PolicyEngine),
    ("capsule.clastix.io", PolicyEngine),
    ("external-secrets.io", Secret),
];

/// Splits the spec spelling `group/Kind` (or bare `Kind` for core) into (group, kind).
pub fn split(spec_name: &str) -> (&str, &str) {
    match spec_name.rsplit_once('/') {
        Some((g, k)) => (g, k),
        None => ("", spec_name),
    }
}

/// Looks a kind up in the built-in table.
pub fn builtin(group: &str, kind: &str) -> Option<KindInfo> {
    BUILTIN
        .iter()
        .find(|(g, k, ..)| *g == group && *k == kind)
        .map(|&(g, k, r, n, risk)| KindInfo {
            group: g.to_string(),
            kind: k.to_string(),
            resource: r.to_string(),
            namespaced: n,
            risk,
        })
}

/// All built-in kinds in the spec's spelling (for "did you mean").
pub fn builtin_names() -> impl Iterator<Item = String> {
    BUILTIN.iter().map(|(g, k, ..)| {
        if g.is_empty() {
            (*k).to_string()
        } else {
            format!("{g}/{k}")
        }
    })
}

/// The risk a user-defined kind in `group` inherits.
pub fn group_risk(group: &str) -> Risk {
    RISKY_GROUPS
        .iter()
        .find(|(g, _)| *g == group)
        .map_or(Normal, |(_, r)| *r)
}

/// Plural resource of a kind, by group and kind, built-in table only.
pub fn resource_of(group: &str, kind: &str) -> Option<&'static str> {
    BUILTIN
        .iter()
        .find(|(g, k, ..)| *g == group && *k == kind)
        .map(|(_, _, r, ..)| *r)
}

/// The first row of the built-in table for a (group, plural resource), looked up in an index
/// built on first use: the invariants ask for every grant of every tenant (at 1,000 tenants
/// ~100,000 questions, a linear scan of the table each).
fn builtin_by_resource(
    group: &str,
    resource: &str,
) -> Option<&'static (&'static str, &'static str, &'static str, bool, Risk)> {
    type Index = HashMap<&'static str, HashMap<&'static str, usize>>;
    static INDEX: std::sync::OnceLock<Index> = std::sync::OnceLock::new();
    let index = INDEX.get_or_init(|| {
        let mut index = Index::new();
        for (i, (g, _, r, ..)) in BUILTIN.iter().enumerate() {
            index.entry(g).or_default().entry(r).or_insert(i);
        }
        index
    });
    let i = *index.get(group)?.get(resource)?;
    Some(&BUILTIN[i])
}

/// Whether a (group, resource) is cluster-scoped according to the built-in table.
pub fn resource_is_cluster_scoped(group: &str, resource: &str) -> Option<bool> {
    builtin_by_resource(group, resource).map(|(_, _, _, n, _)| !n)
}

/// Risk of a (group, resource) pair from the built-in table, or the group's risk.
pub fn resource_risk(group: &str, resource: &str) -> Risk {
    builtin_by_resource(group, resource).map_or_else(|| group_risk(group), |(.., risk)| *risk)
}

/// kubectl's short names of built-in kinds: short name → (group, plural resource).
/// Kubernetes: the `ShortNames()` of each REST storage (kubernetes v1.35,
/// `pkg/registry/<group>/<resource>/storage/storage.go`, as `kubectl api-resources` prints
/// them); Flux: the `+kubebuilder:resource:shortName` markers of the API types
/// (kustomize-controller, helm-controller, source-controller `api/v1*/`).
const SHORT_NAMES: &[(&str, &str, &str)] = &[
    ("po", "", "pods"),
    ("svc", "", "services"),
    ("cm", "", "configmaps"),
    ("sa", "", "serviceaccounts"),
    ("pvc", "", "persistentvolumeclaims"),
    ("ep", "", "endpoints"),
    ("ev", "", "events"),
    ("limits", "", "limitranges"),
    ("quota", "", "resourcequotas"),
    ("rc", "", "replicationcontrollers"),
    ("ns", "", "namespaces"),
    ("no", "", "nodes"),
    ("pv", "", "persistentvolumes"),
    ("deploy", "apps", "deployments"),
    ("sts", "apps", "statefulsets"),
    ("ds", "apps", "daemonsets"),
    ("rs", "apps", "replicasets"),
    ("cj", "batch", "cronjobs"),
    ("hpa", "autoscaling", "horizontalpodautoscalers"),
    ("pdb", "policy", "poddisruptionbudgets"),
    ("ing", "networking.k8s.io", "ingresses"),
    ("netpol", "networking.k8s.io", "networkpolicies"),
    ("sc", "storage.k8s.io", "storageclasses"),
    ("crd", "apiextensions.k8s.io", "customresourcedefinitions"),
    ("crds", "apiextensions.k8s.io", "customresourcedefinitions"),
    ("pc", "scheduling.k8s.io", "priorityclasses"),
    ("csr", "certificates.k8s.io", "certificatesigningrequests"),
    ("ks", "kustomize.toolkit.fluxcd.io", "kustomizations"),
    ("hr", "helm.toolkit.fluxcd.io", "helmreleases"),
    ("gitrepo", "source.toolkit.fluxcd.io", "gitrepositories"),
    ("helmrepo", "source.toolkit.fluxcd.io", "helmrepositories"),
    ("hc", "source.toolkit.fluxcd.io", "helmcharts"),
    ("ocirepo", "source.toolkit.fluxcd.io", "ocirepositories"),
];

/// Every built-in kind.
pub fn builtins() -> impl Iterator<Item = KindInfo> {
    BUILTIN.iter().map(|&(g, k, r, n, risk)| KindInfo {
        group: g.to_string(),
        kind: k.to_string(),
        resource: r.to_string(),
        namespaced: n,
        risk,
    })
}

/// The kinds a spelling kubectl accepts names, among `known`: `Kind`, `kind`, the plural
/// `resource`, a short name (`deploy`), `Kind.group`, `resource.group` (`deployments.apps`),
/// and `group/resource` or a wrongly-cased `group/kind`. Several when the spelling is
/// ambiguous (a bare `PolicyException` exists in two groups), in `known`'s order.
pub fn from_spelling(spelling: &str, known: &[KindInfo]) -> Vec<KindInfo> {
    let s = spelling.trim();
    let (group, name): (Option<&str>, &str) = if let Some((g, n)) = s.rsplit_once('/') {
        (Some(g), n)
    } else if let Some((n, g)) = s.split_once('.') {
        (Some(g), n)
    } else {
        (None, s)
    };
    let lower = name.to_ascii_lowercase();
    let short: Vec<(&str, &str)> = SHORT_NAMES
        .iter()
        .filter(|(sn, ..)| *sn == lower)
        .map(|&(_, g, r)| (g, r))
        .collect();
    let mut out: Vec<KindInfo> = Vec::new();
    for k in known {
        if group.is_some_and(|g| g != k.group) {
            continue;
        }
        let hit = k.kind.eq_ignore_ascii_case(name)
            || k.resource == lower
            || short.iter().any(|&(g, r)| g == k.group && r == k.resource);
        if hit && !out.iter().any(|o| o.group == k.group && o.kind == k.kind) {
            out.push(k.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_has_no_duplicates_and_lowercase_plurals() {
        for (i, a) in BUILTIN.iter().enumerate() {
            assert_eq!(a.2, a.2.to_lowercase(), "{a:?}");
            for b in &BUILTIN[i + 1..] {
                assert!(!(a.0 == b.0 && a.1 == b.1), "duplicate {a:?}");
            }
        }
    }

    #[test]
    fn kubectl_spellings_resolve() {
        let known: Vec<KindInfo> = builtins().collect();
        let one = |s: &str| {
            let found = from_spelling(s, &known);
            assert_eq!(found.len(), 1, "{s}: {found:?}");
            found[0].spec_name()
        };
        for (s, want) in [
            ("deployments", "apps/Deployment"),
            ("Deployment.apps", "apps/Deployment"),
            ("deployments.apps", "apps/Deployment"),
            ("deploy", "apps/Deployment"),
            ("deployment", "apps/Deployment"),
            ("apps/deployments", "apps/Deployment"),
            ("jobs.batch", "batch/Job"),
            ("Job", "batch/Job"),
            ("CronJob", "batch/CronJob"),
            ("cj", "batch/CronJob"),
            ("Ingress", "networking.k8s.io/Ingress"),
            ("NetworkPolicy", "networking.k8s.io/NetworkPolicy"),
            ("netpol", "networking.k8s.io/NetworkPolicy"),
            ("svc", "Service"),
            ("configmaps", "ConfigMap"),
            ("ks", "kustomize.toolkit.fluxcd.io/Kustomization"),
        ] {
            assert_eq!(one(s), want, "{s}");
        }
        assert_eq!(from_spelling("PolicyException", &known).len(), 2);
        assert!(from_spelling("Deploymnet", &known).is_empty());
        // Short names are unique and name built-in resources.
        for (i, (sn, g, r)) in SHORT_NAMES.iter().enumerate() {
            assert!(resource_is_cluster_scoped(g, r).is_some(), "{sn}: {g}/{r}");
            assert!(SHORT_NAMES[i + 1..].iter().all(|o| o.0 != *sn), "{sn}");
        }
    }

    #[test]
    fn core_kinds_are_bare() {
        assert_eq!(split("Service"), ("", "Service"));
        assert_eq!(split("apps/Deployment"), ("apps", "Deployment"));
        let crb = builtin("rbac.authorization.k8s.io", "ClusterRoleBinding").unwrap();
        assert!(!crb.namespaced);
        assert_eq!(crb.risk, Risk::Rbac);
        assert_eq!(builtin("", "Secret").unwrap().risk, Risk::Secret);
    }
}
