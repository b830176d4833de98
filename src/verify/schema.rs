//! Interim: known (apiVersion, kind) pairs only; replaced by the schema-backed checker.
use serde_json::Value;
pub(crate) enum SchemaCheck {
    Valid,
    #[allow(dead_code)]
    Invalid(Vec<(String, String)>),
    UnknownKind,
}
const KNOWN: &[(&str, &str)] = &[
    ("v1", "Namespace"),
    ("v1", "ServiceAccount"),
    ("v1", "Secret"),
    ("v1", "ConfigMap"),
    ("rbac.authorization.k8s.io/v1", "Role"),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"),
    ("rbac.authorization.k8s.io/v1", "ClusterRole"),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
    ("networking.k8s.io/v1", "NetworkPolicy"),
    ("source.toolkit.fluxcd.io/v1", "GitRepository"),
    ("source.toolkit.fluxcd.io/v1", "OCIRepository"),
    ("source.toolkit.fluxcd.io/v1", "HelmRepository"),
    ("kustomize.toolkit.fluxcd.io/v1", "Kustomization"),
    ("helm.toolkit.fluxcd.io/v2", "HelmRelease"),
    ("image.toolkit.fluxcd.io/v1", "ImageRepository"),
    ("image.toolkit.fluxcd.io/v1", "ImagePolicy"),
    ("notification.toolkit.fluxcd.io/v1beta3", "Provider"),
    ("notification.toolkit.fluxcd.io/v1beta3", "Alert"),
    ("external-secrets.io/v1", "ExternalSecret"),
    ("kyverno.io/v1", "ClusterPolicy"),
    ("policies.kyverno.io/v1", "ValidatingPolicy"),
    ("policies.kyverno.io/v1", "ImageValidatingPolicy"),
    (
        "admissionregistration.k8s.io/v1",
        "ValidatingAdmissionPolicy",
    ),
    (
        "admissionregistration.k8s.io/v1",
        "ValidatingAdmissionPolicyBinding",
    ),
    ("monitoring.coreos.com/v1", "PrometheusRule"),
    ("kustomize.config.k8s.io/v1beta1", "Kustomization"),
    ("kustomize.config.k8s.io/v1alpha1", "Component"),
    ("cli.kyverno.io/v1alpha1", "Test"),
    ("cli.kyverno.io/v1alpha1", "UserInfo"),
];
pub(crate) fn check(doc: &Value) -> SchemaCheck {
    let a = doc.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let k = doc.get("kind").and_then(Value::as_str).unwrap_or("");
    if KNOWN.contains(&(a, k)) {
        SchemaCheck::Valid
    } else {
        SchemaCheck::UnknownKind
    }
}
pub(crate) fn known() -> Vec<(&'static str, &'static str)> {
    KNOWN.to_vec()
}
