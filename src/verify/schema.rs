//! trustc's own schemas of the manifests it emits (written for trustc, not copied from upstream).
//!
//! One compact JSON Schema (draft 2020-12) per (apiVersion, kind) in `schemas/`, named
//! `<group-or-core>_<version>_<Kind>.json`. Each covers every field the real API has at the top
//! of `spec` and at the levels trustc writes, with `additionalProperties: false` except where the
//! real API takes free-form content (HelmRelease `values`, label maps, Kyverno patterns...), so a
//! broken template override is refused with the field path: unknown fields, missing required
//! fields, wrong types, bad enum values. Some API-server rules the upstream OpenAPI schemas do not
//! carry are included too (RBAC roleRef/subject shapes, NetworkPolicy peers and ports, CEL rules
//! of the Flux CRDs such as HelmRelease `chart` XOR `chartRef`).
//!
//! The schemas are embedded at build time and each is compiled once, on first use of its kind;
//! safe to call from many threads.

use std::sync::OnceLock;

use serde_json::Value;

/// The result of checking one document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum SchemaCheck {
    Valid,
    /// Errors of the document: (JSON pointer, message), in the validator's order.
    Invalid(Vec<(String, String)>),
    /// No schema exists for the document's apiVersion/kind.
    UnknownKind,
}

/// (apiVersion, kind, schema source)
const SCHEMAS: &[(&str, &str, &str)] = &[
    ("v1", "Namespace", include_str!("schemas/core_v1_Namespace.json")),
    ("v1", "ServiceAccount", include_str!("schemas/core_v1_ServiceAccount.json")),
    ("v1", "Secret", include_str!("schemas/core_v1_Secret.json")),
    ("v1", "ConfigMap", include_str!("schemas/core_v1_ConfigMap.json")),
    (
        "rbac.authorization.k8s.io/v1",
        "Role",
        include_str!("schemas/rbac.authorization.k8s.io_v1_Role.json"),
    ),
    (
        "rbac.authorization.k8s.io/v1",
        "ClusterRole",
        include_str!("schemas/rbac.authorization.k8s.io_v1_ClusterRole.json"),
    ),
    (
        "rbac.authorization.k8s.io/v1",
        "RoleBinding",
        include_str!("schemas/rbac.authorization.k8s.io_v1_RoleBinding.json"),
    ),
    (
        "rbac.authorization.k8s.io/v1",
        "ClusterRoleBinding",
        include_str!("schemas/rbac.authorization.k8s.io_v1_ClusterRoleBinding.json"),
    ),
    (
        "networking.k8s.io/v1",
        "NetworkPolicy",
        include_str!("schemas/networking.k8s.io_v1_NetworkPolicy.json"),
    ),
    (
        "admissionregistration.k8s.io/v1",
        "ValidatingAdmissionPolicy",
        include_str!("schemas/admissionregistration.k8s.io_v1_ValidatingAdmissionPolicy.json"),
    ),
    (
        "admissionregistration.k8s.io/v1",
        "ValidatingAdmissionPolicyBinding",
        include_str!(
            "schemas/admissionregistration.k8s.io_v1_ValidatingAdmissionPolicyBinding.json"
        ),
    ),
    (
        "source.toolkit.fluxcd.io/v1",
        "GitRepository",
        include_str!("schemas/source.toolkit.fluxcd.io_v1_GitRepository.json"),
    ),
    (
        "source.toolkit.fluxcd.io/v1",
        "OCIRepository",
        include_str!("schemas/source.toolkit.fluxcd.io_v1_OCIRepository.json"),
    ),
    (
        "source.toolkit.fluxcd.io/v1",
        "HelmRepository",
        include_str!("schemas/source.toolkit.fluxcd.io_v1_HelmRepository.json"),
    ),
    (
        "kustomize.toolkit.fluxcd.io/v1",
        "Kustomization",
        include_str!("schemas/kustomize.toolkit.fluxcd.io_v1_Kustomization.json"),
    ),
    (
        "helm.toolkit.fluxcd.io/v2",
        "HelmRelease",
        include_str!("schemas/helm.toolkit.fluxcd.io_v2_HelmRelease.json"),
    ),
    (
        "image.toolkit.fluxcd.io/v1",
        "ImageRepository",
        include_str!("schemas/image.toolkit.fluxcd.io_v1_ImageRepository.json"),
    ),
    (
        "image.toolkit.fluxcd.io/v1",
        "ImagePolicy",
        include_str!("schemas/image.toolkit.fluxcd.io_v1_ImagePolicy.json"),
    ),
    (
        "notification.toolkit.fluxcd.io/v1beta3",
        "Provider",
        include_str!("schemas/notification.toolkit.fluxcd.io_v1beta3_Provider.json"),
    ),
    (
        "notification.toolkit.fluxcd.io/v1beta3",
        "Alert",
        include_str!("schemas/notification.toolkit.fluxcd.io_v1beta3_Alert.json"),
    ),
    (
        "external-secrets.io/v1",
        "ExternalSecret",
        include_str!("schemas/external-secrets.io_v1_ExternalSecret.json"),
    ),
    (
        "kyverno.io/v1",
        "ClusterPolicy",
        include_str!("schemas/kyverno.io_v1_ClusterPolicy.json"),
    ),
    (
        "policies.kyverno.io/v1",
        "ValidatingPolicy",
        include_str!("schemas/policies.kyverno.io_v1_ValidatingPolicy.json"),
    ),
    (
        "policies.kyverno.io/v1",
        "ImageValidatingPolicy",
        include_str!("schemas/policies.kyverno.io_v1_ImageValidatingPolicy.json"),
    ),
    (
        "monitoring.coreos.com/v1",
        "PrometheusRule",
        include_str!("schemas/monitoring.coreos.com_v1_PrometheusRule.json"),
    ),
    (
        "kustomize.config.k8s.io/v1beta1",
        "Kustomization",
        include_str!("schemas/kustomize.config.k8s.io_v1beta1_Kustomization.json"),
    ),
    (
        "kustomize.config.k8s.io/v1alpha1",
        "Component",
        include_str!("schemas/kustomize.config.k8s.io_v1alpha1_Component.json"),
    ),
    (
        "cli.kyverno.io/v1alpha1",
        "Test",
        include_str!("schemas/cli.kyverno.io_v1alpha1_Test.json"),
    ),
    (
        "cli.kyverno.io/v1alpha1",
        "UserInfo",
        include_str!("schemas/cli.kyverno.io_v1alpha1_UserInfo.json"),
    ),
];

/// One compiled validator per entry of `SCHEMAS`, built on first use.
static COMPILED: [OnceLock<jsonschema::Validator>; SCHEMAS.len()] =
    [const { OnceLock::new() }; SCHEMAS.len()];

/// The (apiVersion, kind) pairs that have a schema.
pub(crate) fn known() -> Vec<(&'static str, &'static str)> {
    SCHEMAS.iter().map(|&(api, kind, _)| (api, kind)).collect()
}

/// Check one document against the schema of its apiVersion/kind.
pub(crate) fn check(doc: &Value) -> SchemaCheck {
    let api = doc.get("apiVersion").and_then(Value::as_str);
    let kind = doc.get("kind").and_then(Value::as_str);
    let Some(index) = SCHEMAS
        .iter()
        .position(|&(a, k, _)| Some(a) == api && Some(k) == kind)
    else {
        return SchemaCheck::UnknownKind;
    };
    let validator = compiled(index);
    let mut errors: Vec<(String, String)> = Vec::new();
    for error in validator.iter_errors(doc) {
        let entry = (error.instance_path().to_string(), message(&error));
        if !errors.contains(&entry) {
            errors.push(entry);
        }
    }
    if errors.is_empty() {
        SchemaCheck::Valid
    } else {
        SchemaCheck::Invalid(errors)
    }
}

fn compiled(index: usize) -> &'static jsonschema::Validator {
    COMPILED[index].get_or_init(|| {
        let (api, kind, source) = SCHEMAS[index];
        let schema: Value = serde_json::from_str(source)
            .unwrap_or_else(|e| panic!("embedded schema of {api} {kind} is not JSON: {e}"));
        jsonschema::validator_for(&schema)
            .unwrap_or_else(|e| panic!("embedded schema of {api} {kind} does not compile: {e}"))
    })
}

/// The error's message, without echoing a whole object or list back at the user.
fn message(error: &jsonschema::ValidationError<'_>) -> String {
    match error.instance() {
        Value::Object(_) => error.masked_with("the object").to_string(),
        Value::Array(_) => error.masked_with("the list").to_string(),
        _ => error.to_string(),
    }
}
