//! trustc's own schemas of the manifests it emits (written for trustc, not copied from upstream).
//!
//! One compact JSON Schema (draft 2020-12) per (apiVersion, kind) in `schemas/`, named
//! `<group-or-core>_<version>_<Kind>.json`. Each covers every field the real API has at the top
//! of `spec` and at the levels trustc writes, with `additionalProperties: false` except where the
//! real API takes free-form content (HelmRelease `values`, label maps, Kyverno patterns...), so a
//! broken template override is refused with the field path: unknown fields, missing required
//! fields, wrong types, bad enum values. Some API-server rules the upstream OpenAPI schemas do not
//! carry are included too (RBAC roleRef/subject shapes, NetworkPolicy peers and ports, CEL rules
//! of the Flux CRDs such as HelmRelease `chart` XOR `chartRef`). Where such a rule would get a
//! generic message ("not valid under any of the schemas..."), the schema node carries an
//! `errorMessage` annotation, `{keyword: text}`, which the validator ignores and `check` reports
//! instead.
//!
//! The schemas are embedded at build time and each is compiled once, on first use of its kind;
//! safe to call from many threads.

use std::sync::OnceLock;

use jsonschema::error::ValidationErrorKind;
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
    (
        "v1",
        "Namespace",
        include_str!("schemas/core_v1_Namespace.json"),
    ),
    (
        "v1",
        "ServiceAccount",
        include_str!("schemas/core_v1_ServiceAccount.json"),
    ),
    ("v1", "Secret", include_str!("schemas/core_v1_Secret.json")),
    (
        "v1",
        "ConfigMap",
        include_str!("schemas/core_v1_ConfigMap.json"),
    ),
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

/// A schema and its validator.
struct Compiled {
    schema: Value,
    validator: jsonschema::Validator,
}

/// One compiled schema per entry of `SCHEMAS`, built on first use.
static COMPILED: [OnceLock<Compiled>; SCHEMAS.len()] = [const { OnceLock::new() }; SCHEMAS.len()];

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
    let compiled = compiled(index);
    // `is_valid` stops at the first failure and builds no error: the common case pays for
    // no error collection; an invalid document is walked again to report every error.
    if compiled.validator.is_valid(doc) {
        return SchemaCheck::Valid;
    }
    let mut errors: Vec<(String, String)> = Vec::new();
    for error in compiled.validator.iter_errors(doc) {
        let entry = describe(&compiled.schema, &error);
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

/// Compiles every schema now, in parallel (each is otherwise compiled by the first document
/// of its kind, while the other workers wanting it wait).
pub(crate) fn compile_all() {
    use rayon::prelude::*;
    (0..SCHEMAS.len()).into_par_iter().for_each(|index| {
        compiled(index);
    });
}

/// The compiled schema of `SCHEMAS[index]`. The schemas are fixed at build time and the unit
/// tests compile every one of them, so a failure here is a bug in trustc, not in the input.
fn compiled(index: usize) -> &'static Compiled {
    COMPILED[index].get_or_init(|| {
        let (api, kind, source) = SCHEMAS[index];
        let schema: Value = serde_json::from_str(source)
            .unwrap_or_else(|e| panic!("embedded schema of {api} {kind} is not JSON: {e}"));
        let validator = jsonschema::validator_for(&schema)
            .unwrap_or_else(|e| panic!("embedded schema of {api} {kind} does not compile: {e}"));
        Compiled { schema, validator }
    })
}

/// (JSON pointer, message) of one error. A bad map key (`propertyNames`) is reported at the
/// key's own pointer, like any other field.
fn describe(schema: &Value, error: &jsonschema::ValidationError<'_>) -> (String, String) {
    let path = error.instance_path().to_string();
    let schema_path = error.schema_path().as_str();
    let bad_key = match error.kind() {
        ValidationErrorKind::PropertyNames { error: inner } => {
            inner.instance().as_str().map(|key| (key, inner))
        }
        _ => None,
    };
    match bad_key {
        Some((key, inner)) => {
            let token = key.replace('~', "~0").replace('/', "~1");
            (
                format!("{path}/{token}"),
                message(schema, schema_path, inner),
            )
        }
        None => (path, message(schema, schema_path, error)),
    }
}

/// The message of one error: trustc's own wording where the schema has one (`errorMessage`),
/// else the validator's, without echoing a whole object or list back at the user.
fn message(schema: &Value, schema_path: &str, error: &jsonschema::ValidationError<'_>) -> String {
    let instance: &Value = error.instance();
    if let Some(custom) = custom_message(schema, schema_path) {
        return match instance {
            // "is not a valid ..." describes the value: name it first.
            Value::String(_) | Value::Number(_) | Value::Bool(_) if custom.starts_with("is ") => {
                format!("{instance} {custom}")
            }
            _ => custom.to_string(),
        };
    }
    match instance {
        Value::Object(_) => error.masked_with("the object").to_string(),
        Value::Array(_) => error.masked_with("the list").to_string(),
        _ => error.to_string(),
    }
}

/// The `errorMessage` for the failing keyword at `schema_path` (a JSON pointer into the schema,
/// `$ref`s already resolved): from the nearest node on the path whose `errorMessage` object has
/// an entry for the keyword the path takes from that node.
fn custom_message<'s>(schema: &'s Value, schema_path: &str) -> Option<&'s str> {
    let mut end = schema_path.len();
    loop {
        let prefix = &schema_path[..end];
        let next = schema_path[end..]
            .trim_start_matches('/')
            .split('/')
            .next()
            .unwrap_or_default();
        let text = schema
            .pointer(prefix)
            .and_then(|node| node.get("errorMessage"))
            .and_then(|messages| messages.get(next))
            .and_then(Value::as_str);
        if text.is_some() {
            return text;
        }
        end = prefix.rfind('/')?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn errors(doc: &Value) -> Vec<(String, String)> {
        match check(doc) {
            SchemaCheck::Invalid(errors) => errors,
            other => panic!("expected errors, got {other:?} for {doc}"),
        }
    }

    /// The one error of `doc`, which must be at `pointer` and mention `needle`.
    fn assert_error(doc: &Value, pointer: &str, needle: &str) {
        let errors = errors(doc);
        assert!(
            errors
                .iter()
                .any(|(p, m)| p == pointer && m.contains(needle)),
            "expected an error at {pointer} mentioning {needle:?}, got {errors:?}"
        );
    }

    fn assert_valid(doc: &Value) {
        assert_eq!(check(doc), SchemaCheck::Valid, "{doc}");
    }

    /// A copy of `doc` with `f` applied.
    fn edit(doc: &Value, f: impl FnOnce(&mut Value)) -> Value {
        let mut doc = doc.clone();
        f(&mut doc);
        doc
    }

    fn sample(file: &str) -> Value {
        let (_, text) = SAMPLES.iter().find(|(f, _)| *f == file).expect("sample");
        serde_json::from_str(text).expect("sample is JSON")
    }

    #[test]
    fn every_schema_compiles_and_names_its_kind() {
        for (index, &(api, kind, _)) in SCHEMAS.iter().enumerate() {
            let schema = &compiled(index).schema;
            assert_eq!(
                schema["$schema"],
                "https://json-schema.org/draft/2020-12/schema"
            );
            assert_eq!(
                schema["properties"]["apiVersion"]["const"], api,
                "{api} {kind}"
            );
            assert_eq!(schema["properties"]["kind"]["const"], kind, "{api} {kind}");
            assert_eq!(schema["additionalProperties"], false, "{api} {kind}");
        }
        let mut pairs = known();
        let count = pairs.len();
        pairs.sort();
        pairs.dedup();
        assert_eq!(pairs.len(), count, "a kind is listed twice");
    }

    /// Every object schema that lists properties refuses others, except the few places where the
    /// real API keeps unknown fields (x-kubernetes-preserve-unknown-fields with listed fields).
    #[test]
    fn object_schemas_are_strict() {
        fn walk(node: &Value, path: &str, loose: &mut Vec<String>) {
            match node {
                Value::Object(map) => {
                    if map.contains_key("properties")
                        && map.get("additionalProperties") != Some(&Value::Bool(false))
                    {
                        loose.push(path.to_string());
                    }
                    for (key, child) in map {
                        walk(child, &format!("{path}/{key}"), loose);
                    }
                }
                Value::Array(items) => {
                    for (i, child) in items.iter().enumerate() {
                        walk(child, &format!("{path}/{i}"), loose);
                    }
                }
                _ => {}
            }
        }
        for (index, &(api, kind, _)) in SCHEMAS.iter().enumerate() {
            let mut loose = Vec::new();
            walk(&compiled(index).schema, "", &mut loose);
            // Conditions (`if`/`then`/`else`, `dependentSchemas`, `allOf`) list properties without
            // describing objects of their own; Kyverno's preconditions keep unknown fields upstream.
            const CONDITIONS: &[&str] = &["if", "then", "else", "dependentSchemas", "allOf"];
            loose.retain(|p| {
                p != "/$defs/looseConditions" && !p.split('/').any(|s| CONDITIONS.contains(&s))
            });
            assert!(loose.is_empty(), "{api} {kind}: not strict at {loose:?}");
        }
    }

    #[test]
    fn minimal_documents_pass() {
        assert_valid(
            &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}}),
        );
        assert_valid(&json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "settings", "namespace": "team-a"}
        }));
        assert_valid(&json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": "flux", "namespace": "team-a"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "admin"}
        }));
        assert_valid(&json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
            "metadata": {"name": "apps", "namespace": "team-a"},
            "spec": {"interval": "5m", "url": "https://github.com/example/apps"}
        }));
        assert_valid(&json!({
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": "apps", "namespace": "team-a"},
            "spec": {"interval": "10m", "prune": true, "sourceRef": {"kind": "GitRepository", "name": "apps"}}
        }));
        assert_valid(&json!({
            "apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
            "metadata": {"name": "podinfo", "namespace": "team-a"},
            "spec": {"interval": "1h", "chartRef": {"kind": "OCIRepository", "name": "podinfo"}}
        }));
        // kustomize files have no metadata
        assert_valid(&json!({
            "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
            "resources": ["namespace.yaml"]
        }));
    }

    #[test]
    fn unknown_field_under_spec_is_refused_with_its_path() {
        let git = sample("source.toolkit.fluxcd.io_v1_GitRepository.yaml");
        let typo = edit(&git, |d| d["spec"]["intervall"] = json!("5m"));
        assert_error(&typo, "/spec", "'intervall' was unexpected");
        let nested = edit(&sample("helm.toolkit.fluxcd.io_v2_HelmRelease.yaml"), |d| {
            d["spec"]["install"]["remediation"]["retires"] = json!(3);
        });
        assert_error(
            &nested,
            "/spec/install/remediation",
            "'retires' was unexpected",
        );
        let in_list = edit(&sample("kyverno.io_v1_ClusterPolicy.yaml"), |d| {
            d["spec"]["rules"][0]["verifyImages"][0]["attestors"][0]["entries"][0]["keyless"]["isuer"] =
                json!("https://token.actions.githubusercontent.com");
        });
        assert_error(
            &in_list,
            "/spec/rules/0/verifyImages/0/attestors/0/entries/0/keyless",
            "'isuer' was unexpected",
        );
        let top = edit(&git, |d| d["status"] = json!({}));
        assert_error(&top, "", "'status' was unexpected");
    }

    #[test]
    fn missing_required_field_is_refused_with_its_path() {
        let git = sample("source.toolkit.fluxcd.io_v1_GitRepository.yaml");
        let no_url = edit(&git, |d| {
            d["spec"].as_object_mut().unwrap().remove("url");
        });
        assert_error(&no_url, "/spec", "\"url\" is a required property");
        let no_secret = edit(&git, |d| {
            d["spec"]["verify"]
                .as_object_mut()
                .unwrap()
                .remove("secretRef");
        });
        assert_error(
            &no_secret,
            "/spec/verify",
            "\"secretRef\" is a required property",
        );
        let no_name = edit(&git, |d| {
            d["metadata"].as_object_mut().unwrap().remove("name");
        });
        assert_error(&no_name, "/metadata", "\"name\" is a required property");
        let no_verbs = edit(&sample("rbac.authorization.k8s.io_v1_Role.yaml"), |d| {
            d["rules"][1].as_object_mut().unwrap().remove("verbs");
        });
        assert_error(&no_verbs, "/rules/1", "\"verbs\" is a required property");
    }

    #[test]
    fn bad_enum_value_is_refused_with_its_path() {
        let git = edit(
            &sample("source.toolkit.fluxcd.io_v1_GitRepository.yaml"),
            |d| {
                d["spec"]["verify"]["mode"] = json!("Head");
            },
        );
        assert_error(&git, "/spec/verify/mode", "\"Head\" is not one of");
        let alert = edit(
            &sample("notification.toolkit.fluxcd.io_v1beta3_Alert.yaml"),
            |d| {
                d["spec"]["eventSources"][1]["kind"] = json!("Kustomisation");
            },
        );
        assert_error(
            &alert,
            "/spec/eventSources/1/kind",
            "\"Kustomisation\" is not one of",
        );
        let policy = edit(&sample("kyverno.io_v1_ClusterPolicy.yaml"), |d| {
            d["spec"]["rules"][1]["validate"]["failureAction"] = json!("enforce");
        });
        assert_error(
            &policy,
            "/spec/rules/1/validate/failureAction",
            "\"enforce\" is not one of",
        );
    }

    #[test]
    fn wrong_type_is_refused_with_its_path() {
        let sync = edit(
            &sample("kustomize.toolkit.fluxcd.io_v1_Kustomization.yaml"),
            |d| {
                d["spec"]["prune"] = json!("true");
            },
        );
        assert_error(&sync, "/spec/prune", "is not of type \"boolean\"");
        let np = edit(&sample("networking.k8s.io_v1_NetworkPolicy.yaml"), |d| {
            d["spec"]["ingress"] = json!({"from": []});
        });
        // the object is not echoed back
        assert_error(&np, "/spec/ingress", "the object is not of type \"array\"");
    }

    #[test]
    fn metadata_is_strict() {
        let ns = sample("core_v1_Namespace.yaml");
        assert_error(
            &edit(&ns, |d| d["metadata"]["nmae"] = json!("x")),
            "/metadata",
            "'nmae'",
        );
        // cluster-scoped kinds have no namespace
        assert_error(
            &edit(&ns, |d| d["metadata"]["namespace"] = json!("x")),
            "/metadata",
            "'namespace'",
        );
        assert_error(
            &edit(&ns, |d| d["metadata"]["name"] = json!("Team_A")),
            "/metadata/name",
            "is not a valid DNS-1123 label",
        );
        assert_error(
            &edit(&ns, |d| d["metadata"]["labels"]["bad key!"] = json!("x")),
            "/metadata/labels/bad key!",
            "\"bad key!\" is not a valid key",
        );
        assert_error(
            &edit(&ns, |d| {
                d["metadata"]["labels"]["trustc.dev/tenant"] = json!("team a")
            }),
            "/metadata/labels/trustc.dev~1tenant",
            "is not a valid label value",
        );
        assert_error(
            &edit(&ns, |d| d["metadata"]["annotations"]["n"] = json!(1)),
            "/metadata/annotations/n",
            "is not of type \"string\"",
        );
        // RBAC names may contain ':'
        assert_valid(&sample(
            "rbac.authorization.k8s.io_v1_ClusterRoleBinding.yaml",
        ));
    }

    #[test]
    fn free_form_content_is_accepted() {
        let release = edit(&sample("helm.toolkit.fluxcd.io_v2_HelmRelease.yaml"), |d| {
            d["spec"]["values"] = json!({"anything": {"goes": [1, "two", {"three": null}]}});
        });
        assert_valid(&release);
        let cm = edit(&sample("core_v1_ConfigMap.yaml"), |d| {
            d["data"]["any-key.yaml"] = json!("a: b\n");
        });
        assert_valid(&cm);
        let policy = edit(&sample("kyverno.io_v1_ClusterPolicy.yaml"), |d| {
            d["spec"]["rules"][1]["validate"]["pattern"] =
                json!({"spec": {"=(containers)": [{"image": "!*:latest"}]}});
        });
        assert_valid(&policy);
        let secret = edit(&sample("external-secrets.io_v1_ExternalSecret.yaml"), |d| {
            d["spec"]["target"]["template"]["data"]["config.json"] =
                json!("{{ .config | toJson }}");
        });
        assert_valid(&secret);
    }

    #[test]
    fn unknown_kinds_have_no_schema() {
        for doc in [
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"}}),
            json!({"apiVersion": "source.toolkit.fluxcd.io/v1beta2", "kind": "GitRepository"}),
            json!({"kind": "Namespace", "metadata": {"name": "x"}}),
            json!({"apiVersion": 1, "kind": "Namespace"}),
            json!(["not", "an", "object"]),
        ] {
            assert_eq!(check(&doc), SchemaCheck::UnknownKind, "{doc}");
        }
    }

    /// Rules of the real API that need more than one field, with trustc's own messages.
    #[test]
    fn cross_field_rules() {
        let release = sample("helm.toolkit.fluxcd.io_v2_HelmRelease.yaml");
        let both = edit(&release, |d| {
            d["spec"]["chartRef"] = json!({"kind": "OCIRepository", "name": "podinfo"});
        });
        assert_error(
            &both,
            "/spec",
            "exactly one of chart or chartRef must be set",
        );
        let retry = edit(&release, |d| {
            d["spec"]["upgrade"]["strategy"]["name"] = json!("RemediateOnFailure")
        });
        assert_error(
            &retry,
            "/spec/upgrade/strategy",
            "retryInterval can only be set with RetryOnFailure",
        );

        let policy = sample("image.toolkit.fluxcd.io_v1_ImagePolicy.yaml");
        let never = edit(&policy, |d| {
            d["spec"]["digestReflectionPolicy"] = json!("Never")
        });
        assert_error(
            &never,
            "/spec/digestReflectionPolicy",
            "interval needs digestReflectionPolicy: Always",
        );
        let no_interval = edit(&policy, |d| {
            d["spec"].as_object_mut().unwrap().remove("interval");
        });
        assert_error(
            &no_interval,
            "/spec",
            "digestReflectionPolicy Always needs an interval",
        );

        let np = sample("networking.k8s.io_v1_NetworkPolicy.yaml");
        let empty_peer = edit(&np, |d| d["spec"]["ingress"][0]["from"][0] = json!({}));
        assert_error(&empty_peer, "/spec/ingress/0/from/0", "a peer needs one of");
        let mixed = edit(&np, |d| {
            d["spec"]["egress"][1]["to"][0]["podSelector"] = json!({})
        });
        assert_error(&mixed, "/spec/egress/1/to/0", "ipBlock cannot be combined");
        let port = edit(&np, |d| {
            d["spec"]["ingress"][0]["ports"][0]["port"] = json!("8080")
        });
        assert_error(
            &port,
            "/spec/ingress/0/ports/0/port",
            "\"8080\" is not a port number or a named port",
        );

        let role = sample("rbac.authorization.k8s.io_v1_ClusterRole.yaml");
        let mixed_rule = edit(&role, |d| d["rules"][1]["resources"] = json!(["pods"]));
        assert_error(
            &mixed_rule,
            "/rules/1/resources",
            "a rule with nonResourceURLs cannot also have",
        );
        let binding = sample("rbac.authorization.k8s.io_v1_ClusterRoleBinding.yaml");
        let no_ns = edit(&binding, |d| {
            d["subjects"][0]
                .as_object_mut()
                .unwrap()
                .remove("namespace");
        });
        assert_error(
            &no_ns,
            "/subjects/0",
            "\"namespace\" is a required property",
        );
        let role_ref = edit(&binding, |d| d["roleRef"]["kind"] = json!("Role"));
        assert_error(&role_ref, "/roleRef/kind", "\"Role\" is not one of");

        let kyverno = sample("kyverno.io_v1_ClusterPolicy.yaml");
        let context = edit(&kyverno, |d| {
            d["spec"]["rules"][1]["context"][0]["configMap"] = json!({"name": "settings"});
        });
        assert_error(
            &context,
            "/spec/rules/1/context/0",
            "a context entry needs exactly one of",
        );

        let rule = edit(
            &sample("monitoring.coreos.com_v1_PrometheusRule.yaml"),
            |d| {
                d["spec"]["groups"][0]["rules"][0]["alert"] = json!("Both");
            },
        );
        assert_error(
            &rule,
            "/spec/groups/0/rules/0",
            "a rule needs exactly one of alert or record",
        );

        let secret = edit(&sample("core_v1_Secret.yaml"), |d| {
            d["data"]["token"] = json!("not base64!")
        });
        assert_error(&secret, "/data/token", "is not base64-encoded");
    }

    #[test]
    fn every_kind_has_a_passing_sample() {
        let mut covered = Vec::new();
        for (file, text) in SAMPLES {
            let doc: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{file}: {e}"));
            assert_eq!(check(&doc), SchemaCheck::Valid, "{file}");
            covered.push((
                doc["apiVersion"].as_str().unwrap().to_string(),
                doc["kind"].as_str().unwrap().to_string(),
            ));
        }
        for (api, kind) in known() {
            assert!(
                covered.contains(&(api.to_string(), kind.to_string())),
                "no sample of {api} {kind}"
            );
        }
    }

    #[test]
    fn checks_from_many_threads() {
        let docs: Vec<Value> = SAMPLES
            .iter()
            .map(|(_, text)| serde_json::from_str(text).unwrap())
            .collect();
        std::thread::scope(|scope| {
            for _ in 0..8 {
                scope.spawn(|| {
                    for doc in docs.iter().rev() {
                        assert_eq!(check(doc), SchemaCheck::Valid);
                    }
                });
            }
        });
    }

    /// With TRUSTC_SCHEMA_SAMPLES_DIR set, writes the samples there (JSON is YAML), to check that
    /// the strict upstream validator accepts them too:
    /// `TRUSTC_SCHEMA_SAMPLES_DIR=/tmp/s cargo test schema && shared/tools/validate-manifests /tmp/s`
    #[test]
    fn write_samples_for_upstream_validation() {
        let Some(dir) = std::env::var_os("TRUSTC_SCHEMA_SAMPLES_DIR") else {
            return;
        };
        let dir = std::path::PathBuf::from(dir);
        for (file, text) in SAMPLES {
            let path = dir.join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, format!("{text}\n")).unwrap();
        }
    }

    /// Realistic documents of every kind, as trustc emits them (file name, JSON). They pass the
    /// strict upstream validator too: see `write_samples_for_upstream_validation`.
    const SAMPLES: &[(&str, &str)] = &[
        (
            "core_v1_Namespace.yaml",
            r#"{
          "apiVersion": "v1",
          "kind": "Namespace",
          "metadata": {
            "name": "team-a",
            "labels": {
              "app.kubernetes.io/managed-by": "trustc",
              "trustc.dev/tenant": "team-a",
              "pod-security.kubernetes.io/enforce": "restricted"
            },
            "annotations": {"trustc.dev/generated": "true"}
          }
        }"#,
        ),
        (
            "core_v1_ServiceAccount.yaml",
            r#"{
          "apiVersion": "v1",
          "kind": "ServiceAccount",
          "metadata": {
            "name": "flux-reconciler",
            "namespace": "team-a",
            "labels": {"app.kubernetes.io/managed-by": "trustc"}
          },
          "automountServiceAccountToken": false,
          "imagePullSecrets": [{"name": "registry-credentials"}]
        }"#,
        ),
        (
            "core_v1_Secret.yaml",
            r#"{
          "apiVersion": "v1",
          "kind": "Secret",
          "metadata": {"name": "cosign-public-key", "namespace": "team-a"},
          "type": "Opaque",
          "immutable": true,
          "stringData": {
            "cosign.pub": "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEexamplekeyexamplekeyexamplekey\n-----END PUBLIC KEY-----\n"
          },
          "data": {
            "known_hosts": "Z2l0aHViLmNvbSBzc2gtZWQyNTUxOSBBQUFBQzNOemFDMWxaREkxTlRFNUFBQUFJT01xcW5rVnpybTBTZEc2VU9vcUtMc2FiZ0g1Qzlva1dpMGRoMmw5R0tKbAo="
          }
        }"#,
        ),
        (
            "core_v1_ConfigMap.yaml",
            r#"{
          "apiVersion": "v1",
          "kind": "ConfigMap",
          "metadata": {
            "name": "tenant-settings",
            "namespace": "team-a",
            "labels": {"app.kubernetes.io/managed-by": "trustc"}
          },
          "data": {"tenant": "team-a", "environment": "production"},
          "binaryData": {"logo.png": "iVBORw0KGgo="},
          "immutable": false
        }"#,
        ),
        (
            "rbac.authorization.k8s.io_v1_Role.yaml",
            r#"{
          "apiVersion": "rbac.authorization.k8s.io/v1",
          "kind": "Role",
          "metadata": {"name": "tenant-deployer", "namespace": "team-a"},
          "rules": [
            {
              "apiGroups": ["apps"],
              "resources": ["deployments", "statefulsets"],
              "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]
            },
            {
              "apiGroups": [""],
              "resources": ["configmaps"],
              "resourceNames": ["tenant-settings"],
              "verbs": ["get"]
            }
          ]
        }"#,
        ),
        (
            "rbac.authorization.k8s.io_v1_ClusterRole.yaml",
            r#"{
          "apiVersion": "rbac.authorization.k8s.io/v1",
          "kind": "ClusterRole",
          "metadata": {
            "name": "trustc:tenant-view",
            "labels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}
          },
          "rules": [
            {
              "apiGroups": ["source.toolkit.fluxcd.io"],
              "resources": ["gitrepositories", "ocirepositories"],
              "verbs": ["get", "list", "watch"]
            },
            {"nonResourceURLs": ["/healthz"], "verbs": ["get"]}
          ]
        }"#,
        ),
        (
            "rbac.authorization.k8s.io_v1_ClusterRole_aggregated.yaml",
            r#"{
          "apiVersion": "rbac.authorization.k8s.io/v1",
          "kind": "ClusterRole",
          "metadata": {"name": "trustc:tenant-aggregate"},
          "aggregationRule": {
            "clusterRoleSelectors": [
              {"matchLabels": {"trustc.dev/aggregate-to-tenant": "true"}},
              {
                "matchExpressions": [{"key": "trustc.dev/tier", "operator": "In", "values": ["gold"]}]
              }
            ]
          },
          "rules": []
        }"#,
        ),
        (
            "rbac.authorization.k8s.io_v1_RoleBinding.yaml",
            r#"{
          "apiVersion": "rbac.authorization.k8s.io/v1",
          "kind": "RoleBinding",
          "metadata": {"name": "flux-reconciler", "namespace": "team-a"},
          "subjects": [
            {"kind": "ServiceAccount", "name": "flux-reconciler", "namespace": "team-a"},
            {"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "team-a-admins"}
          ],
          "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "tenant-deployer"}
        }"#,
        ),
        (
            "rbac.authorization.k8s.io_v1_ClusterRoleBinding.yaml",
            r#"{
          "apiVersion": "rbac.authorization.k8s.io/v1",
          "kind": "ClusterRoleBinding",
          "metadata": {"name": "trustc:team-a:view"},
          "subjects": [
            {"kind": "ServiceAccount", "name": "flux-reconciler", "namespace": "team-a"},
            {
              "kind": "User",
              "apiGroup": "rbac.authorization.k8s.io",
              "name": "alice@example.com"
            }
          ],
          "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": "trustc:tenant-view"
          }
        }"#,
        ),
        (
            "networking.k8s.io_v1_NetworkPolicy.yaml",
            r#"{
          "apiVersion": "networking.k8s.io/v1",
          "kind": "NetworkPolicy",
          "metadata": {"name": "tenant-isolation", "namespace": "team-a"},
          "spec": {
            "podSelector": {},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [
              {
                "from": [
                  {"podSelector": {}},
                  {
                    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}},
                    "podSelector": {"matchLabels": {"app.kubernetes.io/name": "ingress-nginx"}}
                  }
                ],
                "ports": [{"protocol": "TCP", "port": 8080}, {"protocol": "TCP", "port": "http"}]
              }
            ],
            "egress": [
              {
                "to": [
                  {
                    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                    "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}
                  }
                ],
                "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]
              },
              {
                "to": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.96.0.0/12"]}}],
                "ports": [{"protocol": "TCP", "port": 30000, "endPort": 32767}]
              }
            ]
          }
        }"#,
        ),
        (
            "admissionregistration.k8s.io_v1_ValidatingAdmissionPolicy.yaml",
            r#"{
          "apiVersion": "admissionregistration.k8s.io/v1",
          "kind": "ValidatingAdmissionPolicy",
          "metadata": {"name": "trustc-flux-tenant-sa"},
          "spec": {
            "failurePolicy": "Fail",
            "paramKind": {"apiVersion": "v1", "kind": "ConfigMap"},
            "matchConstraints": {
              "namespaceSelector": {"matchExpressions": [{"key": "trustc.dev/tenant", "operator": "Exists"}]},
              "resourceRules": [
                {
                  "apiGroups": ["kustomize.toolkit.fluxcd.io", "helm.toolkit.fluxcd.io"],
                  "apiVersions": ["*"],
                  "operations": ["CREATE", "UPDATE"],
                  "resources": ["kustomizations", "helmreleases"],
                  "scope": "Namespaced"
                }
              ],
              "excludeResourceRules": [
                {
                  "apiGroups": ["*"],
                  "apiVersions": ["*"],
                  "operations": ["*"],
                  "resources": ["*"],
                  "resourceNames": ["flux-system"]
                }
              ],
              "matchPolicy": "Equivalent"
            },
            "matchConditions": [{"name": "not-flux-system", "expression": "request.namespace != 'flux-system'"}],
            "variables": [
              {
                "name": "sa",
                "expression": "has(object.spec.serviceAccountName) ? object.spec.serviceAccountName : ''"
              }
            ],
            "validations": [
              {
                "expression": "variables.sa == 'flux-reconciler'",
                "message": "tenant Flux objects must run as the flux-reconciler ServiceAccount",
                "reason": "Forbidden"
              },
              {
                "expression": "!has(object.spec.kubeConfig)",
                "messageExpression": "'kubeConfig is not allowed in ' + request.namespace"
              }
            ],
            "auditAnnotations": [{"key": "tenant-sa", "valueExpression": "'service account: ' + variables.sa"}]
          }
        }"#,
        ),
        (
            "admissionregistration.k8s.io_v1_ValidatingAdmissionPolicyBinding.yaml",
            r#"{
          "apiVersion": "admissionregistration.k8s.io/v1",
          "kind": "ValidatingAdmissionPolicyBinding",
          "metadata": {"name": "trustc-flux-tenant-sa"},
          "spec": {
            "policyName": "trustc-flux-tenant-sa",
            "validationActions": ["Deny", "Audit"],
            "paramRef": {
              "name": "tenant-settings",
              "namespace": "team-a",
              "parameterNotFoundAction": "Deny"
            },
            "matchResources": {"namespaceSelector": {"matchLabels": {"trustc.dev/tenant": "team-a"}}}
          }
        }"#,
        ),
        (
            "source.toolkit.fluxcd.io_v1_GitRepository.yaml",
            r#"{
          "apiVersion": "source.toolkit.fluxcd.io/v1",
          "kind": "GitRepository",
          "metadata": {"name": "team-a-apps", "namespace": "team-a"},
          "spec": {
            "interval": "5m0s",
            "timeout": "60s",
            "url": "ssh://git@github.com/example/team-a-apps.git",
            "ref": {"branch": "main"},
            "secretRef": {"name": "git-deploy-key"},
            "verify": {"mode": "HEAD", "secretRef": {"name": "git-signing-keys"}},
            "ignore": "/*\n!/deploy\n",
            "include": [{"repository": {"name": "shared-config"}, "fromPath": "base", "toPath": "shared"}],
            "sparseCheckout": ["deploy"],
            "suspend": false
          }
        }"#,
        ),
        (
            "source.toolkit.fluxcd.io_v1_OCIRepository.yaml",
            r#"{
          "apiVersion": "source.toolkit.fluxcd.io/v1",
          "kind": "OCIRepository",
          "metadata": {"name": "team-a-manifests", "namespace": "team-a"},
          "spec": {
            "interval": "10m",
            "url": "oci://ghcr.io/example/team-a-manifests",
            "ref": {"semver": ">=1.0.0 <2.0.0", "semverFilter": ".*-rc.*"},
            "layerSelector": {
              "mediaType": "application/vnd.cncf.flux.content.v1.tar+gzip",
              "operation": "extract"
            },
            "provider": "generic",
            "secretRef": {"name": "ghcr-credentials"},
            "verify": {
              "provider": "cosign",
              "matchOIDCIdentity": [
                {
                  "issuer": "^https://token.actions.githubusercontent.com$",
                  "subject": "^https://github.com/example/team-a-manifests/.github/workflows/release.yaml@refs/tags/v.*$"
                }
              ]
            },
            "serviceAccountName": "flux-reconciler",
            "timeout": "60s",
            "suspend": false
          }
        }"#,
        ),
        (
            "source.toolkit.fluxcd.io_v1_HelmRepository.yaml",
            r#"{
          "apiVersion": "source.toolkit.fluxcd.io/v1",
          "kind": "HelmRepository",
          "metadata": {"name": "podinfo", "namespace": "team-a"},
          "spec": {
            "type": "oci",
            "provider": "generic",
            "interval": "1h",
            "url": "oci://ghcr.io/stefanprodan/charts",
            "secretRef": {"name": "ghcr-credentials"},
            "timeout": "60s"
          }
        }"#,
        ),
        (
            "kustomize.toolkit.fluxcd.io_v1_Kustomization.yaml",
            r#"{
          "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
          "kind": "Kustomization",
          "metadata": {"name": "team-a-apps", "namespace": "team-a"},
          "spec": {
            "interval": "10m",
            "retryInterval": "2m",
            "timeout": "5m",
            "prune": true,
            "wait": true,
            "path": "./deploy/production",
            "sourceRef": {"kind": "GitRepository", "name": "team-a-apps"},
            "serviceAccountName": "flux-reconciler",
            "targetNamespace": "team-a",
            "dependsOn": [{"name": "team-a-infra"}],
            "commonMetadata": {"labels": {"trustc.dev/tenant": "team-a"}},
            "decryption": {"provider": "sops", "secretRef": {"name": "sops-age"}},
            "postBuild": {
              "substitute": {"tenant": "team-a"},
              "substituteFrom": [{"kind": "ConfigMap", "name": "tenant-settings", "optional": true}]
            },
            "patches": [
              {
                "patch": "- op: add\n  path: /metadata/labels/trustc.dev~1tenant\n  value: team-a\n",
                "target": {"kind": "Deployment"}
              }
            ],
            "healthChecks": [
              {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": "podinfo",
                "namespace": "team-a"
              }
            ],
            "images": [{"name": "ghcr.io/stefanprodan/podinfo", "newTag": "6.7.0"}],
            "deletionPolicy": "MirrorPrune"
          }
        }"#,
        ),
        (
            "helm.toolkit.fluxcd.io_v2_HelmRelease.yaml",
            r#"{
          "apiVersion": "helm.toolkit.fluxcd.io/v2",
          "kind": "HelmRelease",
          "metadata": {"name": "podinfo", "namespace": "team-a"},
          "spec": {
            "interval": "30m",
            "timeout": "5m",
            "releaseName": "podinfo",
            "serviceAccountName": "flux-reconciler",
            "targetNamespace": "team-a",
            "storageNamespace": "team-a",
            "maxHistory": 5,
            "chart": {
              "spec": {
                "chart": "podinfo",
                "version": ">=6.0.0 <7.0.0",
                "interval": "1h",
                "reconcileStrategy": "ChartVersion",
                "sourceRef": {"kind": "HelmRepository", "name": "podinfo"},
                "verify": {"provider": "cosign", "secretRef": {"name": "cosign-public-key"}}
              }
            },
            "install": {"crds": "Skip", "remediation": {"retries": 3}},
            "upgrade": {
              "crds": "Skip",
              "cleanupOnFail": true,
              "remediation": {"retries": 3, "strategy": "rollback"},
              "strategy": {"name": "RetryOnFailure", "retryInterval": "5m"}
            },
            "test": {"enable": true},
            "uninstall": {"keepHistory": false},
            "driftDetection": {
              "mode": "enabled",
              "ignore": [{"paths": ["/spec/replicas"], "target": {"kind": "Deployment"}}]
            },
            "values": {
              "replicaCount": 2,
              "podinfo": {"message": "hello from team-a"},
              "resources": {"limits": {"memory": "256Mi"}}
            },
            "valuesFrom": [
              {
                "kind": "ConfigMap",
                "name": "podinfo-values",
                "valuesKey": "values.yaml",
                "optional": true
              }
            ],
            "postRenderers": [
              {
                "kustomize": {
                  "patches": [
                    {
                      "patch": "- op: add\n  path: /metadata/labels/trustc.dev~1tenant\n  value: team-a\n",
                      "target": {"kind": "Deployment"}
                    }
                  ]
                }
              }
            ]
          }
        }"#,
        ),
        (
            "image.toolkit.fluxcd.io_v1_ImageRepository.yaml",
            r#"{
          "apiVersion": "image.toolkit.fluxcd.io/v1",
          "kind": "ImageRepository",
          "metadata": {"name": "podinfo", "namespace": "team-a"},
          "spec": {
            "image": "ghcr.io/stefanprodan/podinfo",
            "interval": "5m",
            "provider": "generic",
            "exclusionList": ["^.*\\.sig$", "^.*\\.att$"],
            "secretRef": {"name": "ghcr-credentials"},
            "serviceAccountName": "flux-reconciler"
          }
        }"#,
        ),
        (
            "image.toolkit.fluxcd.io_v1_ImagePolicy.yaml",
            r#"{
          "apiVersion": "image.toolkit.fluxcd.io/v1",
          "kind": "ImagePolicy",
          "metadata": {"name": "podinfo", "namespace": "team-a"},
          "spec": {
            "imageRepositoryRef": {"name": "podinfo"},
            "filterTags": {"pattern": "^(?P<version>[0-9]+\\.[0-9]+\\.[0-9]+)$", "extract": "$version"},
            "policy": {"semver": {"range": ">=6.0.0 <7.0.0"}},
            "digestReflectionPolicy": "Always",
            "interval": "10m"
          }
        }"#,
        ),
        (
            "notification.toolkit.fluxcd.io_v1beta3_Provider.yaml",
            r#"{
          "apiVersion": "notification.toolkit.fluxcd.io/v1beta3",
          "kind": "Provider",
          "metadata": {"name": "slack", "namespace": "team-a"},
          "spec": {
            "type": "slack",
            "channel": "team-a-alerts",
            "username": "flux",
            "secretRef": {"name": "slack-webhook"}
          }
        }"#,
        ),
        (
            "notification.toolkit.fluxcd.io_v1beta3_Alert.yaml",
            r#"{
          "apiVersion": "notification.toolkit.fluxcd.io/v1beta3",
          "kind": "Alert",
          "metadata": {"name": "team-a", "namespace": "team-a"},
          "spec": {
            "providerRef": {"name": "slack"},
            "eventSeverity": "error",
            "eventSources": [
              {"kind": "GitRepository", "name": "*"},
              {"kind": "Kustomization", "name": "team-a-apps", "namespace": "team-a"},
              {
                "kind": "HelmRelease",
                "name": "*",
                "matchLabels": {"trustc.dev/tenant": "team-a"}
              }
            ],
            "inclusionList": [".*succeeded.*"],
            "exclusionList": ["^Dependencies.*"],
            "eventMetadata": {"tenant": "team-a"},
            "summary": "team-a production"
          }
        }"#,
        ),
        (
            "external-secrets.io_v1_ExternalSecret.yaml",
            r#"{
          "apiVersion": "external-secrets.io/v1",
          "kind": "ExternalSecret",
          "metadata": {"name": "git-deploy-key", "namespace": "team-a"},
          "spec": {
            "refreshInterval": "1h",
            "refreshPolicy": "Periodic",
            "secretStoreRef": {"kind": "ClusterSecretStore", "name": "vault-backend"},
            "target": {
              "name": "git-deploy-key",
              "creationPolicy": "Owner",
              "deletionPolicy": "Retain",
              "template": {
                "engineVersion": "v2",
                "type": "Opaque",
                "metadata": {"labels": {"trustc.dev/tenant": "team-a"}},
                "data": {"identity": "{{ .privateKey }}", "known_hosts": "{{ .knownHosts }}"}
              }
            },
            "data": [
              {
                "secretKey": "privateKey",
                "remoteRef": {
                  "key": "tenants/team-a/git",
                  "property": "identity",
                  "decodingStrategy": "None",
                  "conversionStrategy": "Default",
                  "metadataPolicy": "None"
                }
              },
              {
                "secretKey": "knownHosts",
                "remoteRef": {"key": "tenants/team-a/git", "property": "known_hosts", "version": "2"}
              }
            ],
            "dataFrom": [{"extract": {"key": "tenants/team-a/extra"}}]
          }
        }"#,
        ),
        (
            "kyverno.io_v1_ClusterPolicy.yaml",
            r#"{
          "apiVersion": "kyverno.io/v1",
          "kind": "ClusterPolicy",
          "metadata": {
            "name": "trustc-verify-images",
            "annotations": {"policies.kyverno.io/title": "Verify tenant images"}
          },
          "spec": {
            "background": true,
            "admission": true,
            "webhookTimeoutSeconds": 15,
            "failurePolicy": "Fail",
            "webhookConfiguration": {"timeoutSeconds": 15},
            "rules": [
              {
                "name": "verify-signatures",
                "match": {
                  "any": [
                    {
                      "resources": {
                        "kinds": ["Pod"],
                        "namespaceSelector": {"matchLabels": {"trustc.dev/tenant": "team-a"}},
                        "operations": ["CREATE", "UPDATE"]
                      }
                    }
                  ]
                },
                "exclude": {
                  "any": [
                    {
                      "subjects": [
                        {
                          "kind": "ServiceAccount",
                          "name": "replicaset-controller",
                          "namespace": "kube-system"
                        }
                      ]
                    }
                  ]
                },
                "verifyImages": [
                  {
                    "failureAction": "Enforce",
                    "type": "Cosign",
                    "imageReferences": ["ghcr.io/example/*"],
                    "skipImageReferences": ["ghcr.io/example/debug:*"],
                    "mutateDigest": true,
                    "verifyDigest": true,
                    "required": true,
                    "useCache": true,
                    "attestors": [
                      {
                        "count": 1,
                        "entries": [
                          {
                            "keyless": {
                              "issuer": "https://token.actions.githubusercontent.com",
                              "subjectRegExp": "^https://github.com/example/.*$",
                              "rekor": {"url": "https://rekor.sigstore.dev"},
                              "ctlog": {"ignoreSCT": false}
                            }
                          },
                          {
                            "keys": {
                              "publicKeys": "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEexamplekeyexamplekey\n-----END PUBLIC KEY-----",
                              "signatureAlgorithm": "sha256",
                              "rekor": {"ignoreTlog": true, "url": "https://rekor.sigstore.dev"}
                            }
                          }
                        ]
                      }
                    ]
                  }
                ]
              },
              {
                "name": "restrict-flux-service-account",
                "match": {
                  "all": [
                    {
                      "resources": {
                        "kinds": [
                          "kustomize.toolkit.fluxcd.io/v1/Kustomization",
                          "helm.toolkit.fluxcd.io/v2/HelmRelease"
                        ],
                        "namespaces": ["team-a"]
                      }
                    }
                  ]
                },
                "celPreconditions": [{"name": "not-deleting", "expression": "request.operation != 'DELETE'"}],
                "preconditions": {
                  "all": [
                    {
                      "key": "{{ request.operation || 'BACKGROUND' }}",
                      "operator": "NotEquals",
                      "value": "DELETE"
                    }
                  ]
                },
                "context": [{"name": "tenant", "variable": {"value": "team-a"}}],
                "validate": {
                  "failureAction": "Enforce",
                  "allowExistingViolations": false,
                  "message": "Flux objects of {{ tenant }} must use serviceAccountName flux-reconciler",
                  "pattern": {"spec": {"serviceAccountName": "flux-reconciler"}}
                }
              },
              {
                "name": "no-cluster-scope-sources",
                "match": {
                  "any": [{"resources": {"kinds": ["source.toolkit.fluxcd.io/v1/GitRepository"]}}]
                },
                "validate": {
                  "failureAction": "Audit",
                  "cel": {
                    "variables": [{"name": "url", "expression": "object.spec.url"}],
                    "expressions": [
                      {
                        "expression": "variables.url.startsWith('ssh://git@github.com/example/')",
                        "message": "only example repositories"
                      }
                    ]
                  }
                }
              },
              {
                "name": "deny-kubeconfig",
                "match": {
                  "any": [{"resources": {"kinds": ["kustomize.toolkit.fluxcd.io/v1/Kustomization"]}}]
                },
                "validate": {
                  "failureAction": "Enforce",
                  "deny": {
                    "conditions": {
                      "any": [
                        {
                          "key": "{{ request.object.spec.kubeConfig || '' }}",
                          "operator": "NotEquals",
                          "value": ""
                        }
                      ]
                    }
                  }
                }
              },
              {
                "name": "pod-security",
                "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
                "validate": {
                  "failureAction": "Audit",
                  "podSecurity": {
                    "level": "restricted",
                    "version": "latest",
                    "exclude": [{"controlName": "Seccomp", "images": ["ghcr.io/example/legacy:*"]}]
                  }
                }
              }
            ]
          }
        }"#,
        ),
        (
            "policies.kyverno.io_v1_ValidatingPolicy.yaml",
            r#"{
          "apiVersion": "policies.kyverno.io/v1",
          "kind": "ValidatingPolicy",
          "metadata": {"name": "trustc-tenant-flux-sa"},
          "spec": {
            "validationActions": ["Deny"],
            "failurePolicy": "Fail",
            "evaluation": {"admission": {"enabled": true}, "background": {"enabled": true}},
            "matchConstraints": {
              "resourceRules": [
                {
                  "apiGroups": ["kustomize.toolkit.fluxcd.io"],
                  "apiVersions": ["v1"],
                  "operations": ["CREATE", "UPDATE"],
                  "resources": ["kustomizations"]
                }
              ],
              "namespaceSelector": {"matchLabels": {"trustc.dev/tenant": "team-a"}}
            },
            "matchConditions": [{"name": "tenant-namespace", "expression": "request.namespace == 'team-a'"}],
            "variables": [{"name": "sa", "expression": "object.spec.?serviceAccountName.orValue('')"}],
            "validations": [
              {
                "expression": "variables.sa == 'flux-reconciler'",
                "message": "must run as flux-reconciler"
              }
            ],
            "auditAnnotations": [{"key": "sa", "valueExpression": "variables.sa"}],
            "webhookConfiguration": {"timeoutSeconds": 10},
            "autogen": {"podControllers": {"controllers": []}}
          }
        }"#,
        ),
        (
            "policies.kyverno.io_v1_ImageValidatingPolicy.yaml",
            r#"{
          "apiVersion": "policies.kyverno.io/v1",
          "kind": "ImageValidatingPolicy",
          "metadata": {"name": "trustc-team-a-images"},
          "spec": {
            "validationActions": ["Deny"],
            "failurePolicy": "Fail",
            "webhookConfiguration": {"timeoutSeconds": 15},
            "matchConstraints": {
              "resourceRules": [
                {
                  "apiGroups": [""],
                  "apiVersions": ["v1"],
                  "operations": ["CREATE", "UPDATE"],
                  "resources": ["pods"]
                }
              ],
              "namespaceSelector": {"matchLabels": {"trustc.dev/tenant": "team-a"}}
            },
            "matchImageReferences": [{"glob": "ghcr.io/example/*"}],
            "credentials": {"providers": ["github"]},
            "attestors": [
              {
                "name": "github-actions",
                "cosign": {
                  "keyless": {
                    "identities": [
                      {
                        "issuer": "https://token.actions.githubusercontent.com",
                        "subjectRegExp": "^https://github.com/example/.*$"
                      }
                    ]
                  },
                  "ctlog": {"url": "https://rekor.sigstore.dev"}
                }
              },
              {
                "name": "release-key",
                "cosign": {
                  "key": {
                    "data": "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEexamplekeyexamplekey\n-----END PUBLIC KEY-----\n"
                  }
                }
              }
            ],
            "attestations": [{"name": "sbom", "referrer": {"type": "sbom/cyclone-dx"}}],
            "validationConfigurations": {"mutateDigest": true, "verifyDigest": true, "required": true},
            "validations": [
              {
                "expression": "images.containers.map(image, verifyImageSignatures(image, [attestors.github_actions])).all(e, e > 0)",
                "message": "images must be signed by the example GitHub workflows"
              }
            ]
          }
        }"#,
        ),
        (
            "monitoring.coreos.com_v1_PrometheusRule.yaml",
            r#"{
          "apiVersion": "monitoring.coreos.com/v1",
          "kind": "PrometheusRule",
          "metadata": {
            "name": "trustc-flux-tenants",
            "namespace": "team-a",
            "labels": {"release": "kube-prometheus-stack"}
          },
          "spec": {
            "groups": [
              {
                "name": "trustc.flux",
                "interval": "1m",
                "rules": [
                  {
                    "record": "trustc:flux_reconcile_failures:sum",
                    "expr": "sum by (namespace) (gotk_reconcile_condition{type=\"Ready\",status=\"False\"})"
                  },
                  {
                    "alert": "TrustcFluxReconciliationFailure",
                    "expr": "trustc:flux_reconcile_failures:sum{namespace=\"team-a\"} > 0",
                    "for": "15m",
                    "keep_firing_for": "5m",
                    "labels": {"severity": "warning"},
                    "annotations": {"summary": "Flux reconciliation failing in {{ $labels.namespace }}"}
                  },
                  {"alert": "TrustcAlwaysFiring", "expr": 1}
                ]
              }
            ]
          }
        }"#,
        ),
        (
            "kustomization.yaml",
            r#"{
          "apiVersion": "kustomize.config.k8s.io/v1beta1",
          "kind": "Kustomization",
          "namespace": "team-a",
          "resources": [
            "core_v1_Namespace.yaml",
            "core_v1_ServiceAccount.yaml",
            "rbac.authorization.k8s.io_v1_RoleBinding.yaml",
            "networking.k8s.io_v1_NetworkPolicy.yaml",
            "source.toolkit.fluxcd.io_v1_GitRepository.yaml",
            "kustomize.toolkit.fluxcd.io_v1_Kustomization.yaml"
          ],
          "components": ["component"],
          "labels": [{"pairs": {"app.kubernetes.io/managed-by": "trustc"}, "includeSelectors": false}],
          "commonAnnotations": {"trustc.dev/generated": "true"},
          "patches": [
            {
              "patch": "- op: replace\n  path: /spec/interval\n  value: 5m\n",
              "target": {
                "group": "kustomize.toolkit.fluxcd.io",
                "version": "v1",
                "kind": "Kustomization",
                "name": "team-a-apps"
              }
            }
          ],
          "configMapGenerator": [
            {
              "name": "trustc-info",
              "literals": ["tenant=team-a"],
              "options": {"disableNameSuffixHash": true}
            }
          ],
          "generatorOptions": {"labels": {"trustc.dev/generated": "true"}},
          "images": [{"name": "ghcr.io/stefanprodan/podinfo", "newTag": "6.7.0"}],
          "buildMetadata": ["originAnnotations"],
          "sortOptions": {"order": "fifo"}
        }"#,
        ),
        (
            "component/kustomization.yaml",
            r#"{
          "apiVersion": "kustomize.config.k8s.io/v1alpha1",
          "kind": "Component",
          "patches": [
            {
              "patch": "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  name: team-a-apps\nspec:\n  interval: 1m",
              "target": {"kind": "GitRepository"}
            }
          ],
          "labels": [{"pairs": {"trustc.dev/component": "fast-sync"}}]
        }"#,
        ),
        (
            "cli.kyverno.io_v1alpha1_Test.yaml",
            r#"{
          "apiVersion": "cli.kyverno.io/v1alpha1",
          "kind": "Test",
          "metadata": {"name": "trustc-verify-images"},
          "policies": ["../policies/trustc-verify-images.yaml"],
          "resources": ["resources.yaml"],
          "userinfo": "user-info.yaml",
          "variables": "values.yaml",
          "results": [
            {
              "policy": "trustc-verify-images",
              "rule": "restrict-flux-service-account",
              "kind": "Kustomization",
              "resources": ["team-a/team-a-apps"],
              "result": "pass"
            },
            {
              "policy": "trustc-tenant-flux-sa",
              "isValidatingPolicy": true,
              "kind": "Kustomization",
              "resources": ["bad-sa"],
              "result": "fail"
            },
            {
              "policy": "trustc-team-a-images",
              "isImageValidatingPolicy": true,
              "kind": "Pod",
              "resources": ["unsigned"],
              "result": "fail"
            },
            {
              "policy": "trustc-flux-tenant-sa",
              "isValidatingAdmissionPolicy": true,
              "kind": "HelmRelease",
              "resources": ["podinfo"],
              "result": "skip"
            }
          ],
          "values": {
            "namespaceSelector": [{"name": "team-a", "labels": {"trustc.dev/tenant": "team-a"}}],
            "policies": [
              {
                "name": "trustc-verify-images",
                "rules": [{"name": "restrict-flux-service-account", "values": {"tenant": "team-a"}}]
              }
            ]
          }
        }"#,
        ),
        (
            "cli.kyverno.io_v1alpha1_UserInfo.yaml",
            r#"{
          "apiVersion": "cli.kyverno.io/v1alpha1",
          "kind": "UserInfo",
          "metadata": {"name": "tenant-user"},
          "clusterRoles": ["trustc:tenant-view"],
          "roles": ["team-a:tenant-deployer"],
          "userInfo": {
            "username": "system:serviceaccount:team-a:flux-reconciler",
            "groups": ["system:serviceaccounts", "system:serviceaccounts:team-a"],
            "uid": "1c9b0f3e-0000-4000-8000-000000000001",
            "extra": {"authentication.kubernetes.io/pod-name": ["kustomize-controller-abc"]}
          }
        }"#,
        ),
    ];
}
