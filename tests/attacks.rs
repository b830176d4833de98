//! The seed's attacks (adversaries 1, 3, 4 and 5 of `flux-cd-security.txt`) as executable
//! tests against the admission policies trustc emits, for every engine (`kyverno`,
//! `kyverno-cel`, `vap`).
//!
//! For each engine the example spec is compiled once into a temp dir with the library; the
//! policies are read back from `<out>/production/policies/*.yaml` (not from the model) and run
//! by a small admission simulator: which requests reach a policy (resource rules with their
//! scope, or Kyverno kinds and operations), then every matchCondition / celPrecondition, then
//! the variables in order, then each validation, all evaluated by a real CEL interpreter (the
//! `cel` crate). A request is denied when a validation is false, with its message; an
//! evaluation error denies too (every policy is `failurePolicy: Fail`) but fails the test.
//!
//! Attack objects are the legitimate workload (`tests/fixtures/attacks/legit.yaml`, or the
//! tenant objects trustc generated) with one change, so that each attack breaks one rule: the
//! mutation tests weaken each validation to `true` in turn and check that some attack then
//! gets through. Image signatures (`trustc-verify-images*`) need a registry: only their
//! presence, registry and key are checked.

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::rc::Rc;
use std::sync::{Arc, OnceLock};

use cel::{Context, Env, Program, Value as Cel};
use serde_json::{Value, json};
use trustc::access::{Manifests, Subject};

use crate::support::root;

const ENGINES: [&str; 3] = ["kyverno", "kyverno-cel", "vap"];

/// A second tenant appended to the example spec: several namespaces (issue 7 item 10: each
/// reachable through its own Kustomization, each confined) and a chart repository over HTTPS
/// whose path the allow-list must respect (issue 8 item 9).
const SHOP_TENANT: &str = r#"
[tenants.shop]
namespaces = ["shop", "shop-web"]
repository = "ssh://git@github.com/example/shop-manifests.git"
path = "./clusters/{env}/shop"
environments = ["staging", "production"]
signers = ["bob"]
registries = ["internal", "ghcr"]
allowed_kinds = ["apps/Deployment", "Service", "helm.toolkit.fluxcd.io/HelmRelease"]

[[tenants.shop.charts]]
name = "storefront"
repository = "https://charts.example.com/charts"
version = ">=1.0.0 <2.0.0"

[[tenants.shop.charts]]
name = "storefront-oci"
repository = "oci://ghcr.io/example/charts/storefront"
version = ">=1.0.0 <2.0.0"

[registries.ghcr]
host = "ghcr.io"

[registries.ghcr.keyless]
issuer = "https://token.actions.githubusercontent.com"
subject = '^https://github\.com/example/storefront/\.github/workflows/release\.yml@refs/heads/main$'
"#;
const SHOP_SA: &str = "system:serviceaccount:shop:shop-reconciler";

/// The tenant's reconciler: what Flux impersonates for everything in the tenant repository
/// (the kustomize-controller for manifests, the helm-controller for a HelmRelease's output).
const TENANT_SA: &str = "system:serviceaccount:payments:payments-reconciler";
/// The Flux bootstrap identity that applies `generated/<env>` (a malicious commit to the fleet
/// repository arrives through it: Adversary 1).
const FLUX: &str = "system:serviceaccount:flux-system:kustomize-controller";
/// Adversary 3's developer, who manages Kustomizations in the application namespace.
const DEVELOPER: &str = "dev@example.com";
/// Who creates a Deployment's pods.
const RS_CONTROLLER: &str = "system:serviceaccount:kube-system:replicaset-controller";

const REGISTRY: &str = "registry.internal.example.com";
const RBAC: &str = "rbac.authorization.k8s.io";

const CLUSTER: &str = "trustc-tenant-cluster-scope";
const KINDS: &str = "trustc-tenant-allowed-kinds";
const RECON: &str = "trustc-tenant-reconcilers";
const SOURCES: &str = "trustc-tenant-sources";
const PODS: &str = "trustc-tenant-pods";

// Substrings of the validation messages.
const M_CLUSTER: &str = "may not create, change or delete cluster-scoped objects";
const M_OWN_NS: &str = "may only write into its own namespaces";
const M_KIND: &str = "not in the tenant's allowed_kinds";
const M_SA: &str = "spec.serviceAccountName must be the tenant's reconciler service account";
const M_FORCE: &str = "spec.force is not allowed";
const M_KUBECONFIG: &str = "spec.kubeConfig is not allowed";
const M_DECRYPTION: &str =
    "spec.decryption.serviceAccountName, when set, must be the tenant's reconciler service account";
const M_KS_SOURCE: &str = "Kustomization must take its source from its own namespace";
const M_HR_CHART: &str = "HelmRelease must take its chart from its own namespace";
const M_TARGET: &str = "spec.targetNamespace must be one of the tenant's namespaces";
const M_STORAGE: &str = "spec.storageNamespace must be one of the tenant's namespaces";
const M_HELM_SECRET: &str = "without allow_secrets a tenant may only write Helm's release Secrets";
const M_GIT_URL: &str = "GitRepository may only point at the tenant's own repository";
const M_GIT_VERIFY: &str = "GitRepository must verify commit signatures";
const M_OCI_REGISTRY: &str = "OCIRepository may only use the tenant's registries";
const M_OCI_VERIFY: &str = "OCIRepository from a signed registry must verify signatures";
const M_IMAGE_REPO: &str = "ImageRepository may only scan the tenant's registries";
const M_IMAGES: &str = "images must come from the tenant's registries";
const M_PRIVILEGED: &str = "privileged containers are not allowed";
const M_ESCALATION: &str = "securityContext.allowPrivilegeEscalation: false";
const M_HOST_NS: &str = "host namespaces (hostNetwork, hostPID, hostIPC) are not allowed";
const M_HOST_PATH: &str = "hostPath volumes are not allowed";
const M_HOST_PORT: &str = "host ports are not allowed";
const M_NON_ROOT: &str = "pods must run as non-root";
const M_CAPS: &str = "containers may add no capability but NET_BIND_SERVICE";
const M_SECCOMP: &str = "seccompProfile must be RuntimeDefault or Localhost";
const M_DROP: &str = "containers must drop ALL capabilities";
const M_VOLUMES: &str = "volumes may only be configMap, csi, downwardAPI";
const M_RUN_AS_USER: &str = "runAsUser: 0 (root) is not allowed";
const M_SELINUX: &str = "seLinuxOptions may not set user or role";
const M_PROC_MOUNT: &str = "procMount must be Default";
const M_APPARMOR: &str = "AppArmor profiles must be RuntimeDefault or Localhost";
const M_SYSCTLS: &str = "only the sysctls Pod Security allows are allowed";
const M_HOST_PROCESS: &str = "Windows hostProcess containers are not allowed";
const M_PROBE_HOST: &str = "probes and lifecycle handlers may not set a host";
const M_HELM_REPO: &str = "HelmRepository may only use the tenant's chart repositories";

/// Validations no attack can isolate, with the reason: (policy, message substring, why).
const KNOWN_UNCOVERED: &[(&str, &str, &str)] = &[(
    PODS,
    M_PRIVILEGED,
    "defence in depth: the API server rejects `privileged: true` together with \
     `allowPrivilegeEscalation: false` before admission, so every privileged container \
     that reaches the policy also fails the allowPrivilegeEscalation validation \
     (the privileged attacks are denied by both)",
)];

/// CEL the `cel` crate cannot evaluate, with the error: (expression substring, error).
/// Cases whose evaluation hits one are skipped with this message instead of failing.
const KNOWN_UNSUPPORTED: &[(&str, &str)] = &[];

// ---------------------------------------------------------------------------------------
// Generating the example, once per engine, and reading the policies back.

/// What one engine's output holds for the tests.
struct Generated {
    engine: &'static str,
    /// The CEL policies, as emitted (one per Kyverno rule).
    policies: Vec<Policy>,
    /// The image-signature policies (not simulated).
    image_policies: Vec<Value>,
    /// Every object of `<out>/production/tenants/payments/*.yaml` (kustomization.yaml aside).
    tenant: Vec<Value>,
    /// Every object of `<out>/production/tenants/shop/*.yaml`: the second tenant, with two
    /// namespaces and a chart repository over HTTPS (`SHOP_TENANT`).
    shop: Vec<Value>,
    /// The RBAC of `<out>/production`.
    rbac: Manifests,
    /// The emitted Kyverno CLI test of `production/payments`: (Test, resources, username).
    kyverno_test: (Value, Vec<Value>, String),
}

fn generated(engine: &str) -> &'static Generated {
    static CELLS: [OnceLock<Generated>; 3] = [const { OnceLock::new() }; 3];
    let i = ENGINES
        .iter()
        .position(|e| *e == engine)
        .unwrap_or_else(|| panic!("unknown engine {engine}"));
    CELLS[i].get_or_init(|| generate(ENGINES[i]))
}

fn generate(engine: &'static str) -> Generated {
    let dir = tempfile::tempdir().expect("temp dir");
    let spec_dir = dir.path().join("spec");
    let keys = spec_dir.join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    for entry in std::fs::read_dir(root().join("policy-spec/keys")).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(&path, keys.join(path.file_name().unwrap())).unwrap();
        }
    }
    let text = std::fs::read_to_string(root().join("policy-spec/trust.toml")).unwrap();
    assert!(
        text.contains("engine = \"kyverno-cel\""),
        "policy-spec/trust.toml no longer says `engine = \"kyverno-cel\"`"
    );
    let text = text.replacen(
        "engine = \"kyverno-cel\"",
        &format!("engine = \"{engine}\""),
        1,
    ) + SHOP_TENANT;
    let spec = spec_dir.join("trust.toml");
    std::fs::write(&spec, text).unwrap();
    let out = dir.path().join("out");
    let code = trustc::cli::run([
        "trustc",
        "generate",
        "--spec",
        &spec.display().to_string(),
        "--out",
        &out.display().to_string(),
    ]);
    assert_eq!(code, 0, "trustc generate with engine {engine}");
    let prod = out.join("production");
    let (policies, image_policies) = read_policies(engine, &prod.join("policies"));
    let tenant = read_objects(&prod.join("tenants/payments"))
        .into_iter()
        .map(|(_, doc)| doc)
        .collect();
    let shop = read_objects(&prod.join("tenants/shop"))
        .into_iter()
        .map(|(_, doc)| doc)
        .collect();
    let rbac = Manifests::load_dir(&prod).unwrap_or_else(|e| panic!("{engine}: {e}"));
    let kt = out.join("kyverno-tests/production/payments");
    let docs = |f: &str| {
        let text =
            std::fs::read_to_string(kt.join(f)).unwrap_or_else(|e| panic!("{engine}: {f}: {e}"));
        trustc::verify::parse_documents(&text).unwrap()
    };
    let test = docs("kyverno-test.yaml").remove(0);
    let username = docs("userinfo.yaml")[0]["userInfo"]["username"]
        .as_str()
        .unwrap()
        .to_string();
    let kyverno_test = (test, docs("resources.yaml"), username);
    Generated {
        kyverno_test,
        engine,
        policies,
        image_policies,
        tenant,
        shop,
        rbac,
    }
}

/// Every document of every `*.yaml` of `dir` (not recursive, `kustomization.yaml` skipped),
/// with its file name, in name order.
fn read_objects(dir: &Path) -> Vec<(String, Value)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .filter(|p| p.file_name().is_some_and(|n| n != "kustomization.yaml"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for path in files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let docs = trustc::verify::parse_documents(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        out.extend(docs.into_iter().map(|d| (name.clone(), d)));
    }
    out
}

/// One admission policy as the simulator runs it.
#[derive(Clone, Debug)]
struct Policy {
    /// `metadata.name` (`name/rule` for a Kyverno policy of several rules).
    name: String,
    matcher: Matcher,
    /// matchConditions / celPreconditions.
    conditions: Vec<Named>,
    variables: Vec<Named>,
    validations: Vec<Check>,
}

#[derive(Clone, Debug, PartialEq)]
struct Named {
    name: String,
    expression: String,
}

#[derive(Clone, Debug, PartialEq)]
struct Check {
    expression: String,
    message: String,
}

#[derive(Clone, Debug)]
enum Matcher {
    /// `matchConstraints.resourceRules`.
    Rules(Vec<Rule>),
    /// Kyverno `match.any[].resources`.
    Kyverno(Vec<KyvernoFilter>),
}

#[derive(Clone, Debug)]
struct Rule {
    api_groups: Vec<String>,
    api_versions: Vec<String>,
    resources: Vec<String>,
    operations: Vec<String>,
    scope: String,
}

#[derive(Clone, Debug)]
struct KyvernoFilter {
    kinds: Vec<String>,
    operations: Vec<String>,
    namespaces: Vec<String>,
}

/// The simulator only runs what it understands: anything else in a policy (an exclude block,
/// a selector, a param…) would change what it matches, so it fails the test.
fn only_keys(v: &Value, allowed: &[&str], what: &str) {
    let Some(map) = v.as_object() else {
        panic!("{what}: expected a mapping, got {v}");
    };
    for key in map.keys() {
        assert!(
            allowed.contains(&key.as_str()),
            "{what}: `{key}` is not understood by the attack simulator (knows {allowed:?})"
        );
    }
}

fn strings(v: &Value, what: &str) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("{what}: expected a list, got {v}"))
        .iter()
        .map(|s| {
            s.as_str()
                .unwrap_or_else(|| panic!("{what}: expected strings, got {s}"))
                .to_string()
        })
        .collect()
}

fn string(v: &Value, what: &str) -> String {
    v.as_str()
        .unwrap_or_else(|| panic!("{what}: expected a string, got {v}"))
        .to_string()
}

fn named_list(v: Option<&Value>, what: &str) -> Vec<Named> {
    let Some(v) = v else {
        return Vec::new();
    };
    v.as_array()
        .unwrap_or_else(|| panic!("{what}: expected a list"))
        .iter()
        .map(|n| {
            only_keys(n, &["name", "expression"], what);
            Named {
                name: string(&n["name"], what),
                expression: string(&n["expression"], what),
            }
        })
        .collect()
}

fn checks(v: &Value, what: &str) -> Vec<Check> {
    let list = v
        .as_array()
        .unwrap_or_else(|| panic!("{what}: expected a list of validations"));
    assert!(!list.is_empty(), "{what}: no validation");
    list.iter()
        .map(|c| {
            only_keys(c, &["expression", "message"], what);
            Check {
                expression: string(&c["expression"], what),
                message: string(&c["message"], what),
            }
        })
        .collect()
}

fn read_policies(engine: &str, dir: &Path) -> (Vec<Policy>, Vec<Value>) {
    let mut policies = Vec::new();
    let mut images = Vec::new();
    let mut bindings = Vec::new();
    for (file, doc) in read_objects(dir) {
        let api = doc["apiVersion"].as_str().unwrap_or_default();
        let kind = doc["kind"].as_str().unwrap_or_default();
        let what = format!("{engine}: {file}: {kind}");
        match (api, kind) {
            ("kyverno.io/v1", "ClusterPolicy") => {
                assert_eq!(engine, "kyverno", "{what}");
                let rules = doc["spec"]["rules"].as_array().expect("spec.rules");
                if rules.iter().any(|r| r.get("verifyImages").is_some()) {
                    images.push(doc);
                } else {
                    policies.extend(kyverno_policies(&doc, &what));
                }
            }
            ("policies.kyverno.io/v1", "ValidatingPolicy") => {
                assert_eq!(engine, "kyverno-cel", "{what}");
                policies.push(cel_policy(&doc, &what, true));
            }
            ("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicy") => {
                assert_eq!(engine, "vap", "{what}");
                policies.push(cel_policy(&doc, &what, false));
            }
            ("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicyBinding") => {
                bindings.push(doc);
            }
            ("policies.kyverno.io/v1", "ImageValidatingPolicy") => images.push(doc),
            _ => panic!("{what}: the attack simulator does not know {api} {kind}"),
        }
    }
    // A ValidatingAdmissionPolicy does nothing without a binding that denies.
    if engine == "vap" {
        for p in &policies {
            let bound: Vec<&Value> = bindings
                .iter()
                .filter(|b| b["spec"]["policyName"] == p.name.as_str())
                .collect();
            assert_eq!(bound.len(), 1, "vap: one binding of {}", p.name);
            let spec = &bound[0]["spec"];
            only_keys(spec, &["policyName", "validationActions"], "binding spec");
            assert!(
                strings(&spec["validationActions"], "validationActions").contains(&"Deny".into()),
                "vap: the binding of {} does not deny",
                p.name
            );
        }
        assert_eq!(bindings.len(), policies.len(), "vap: a binding per policy");
    } else {
        assert!(bindings.is_empty(), "{engine}: a VAP binding without VAPs");
    }
    (policies, images)
}

fn kyverno_policies(doc: &Value, what: &str) -> Vec<Policy> {
    let name = string(&doc["metadata"]["name"], what);
    let spec = &doc["spec"];
    only_keys(
        spec,
        &[
            "background",
            "rules",
            "failurePolicy",
            "webhookConfiguration",
        ],
        what,
    );
    if let Some(fp) = spec.get("failurePolicy") {
        assert_eq!(fp, "Fail", "{what}: failurePolicy");
    }
    let rules = spec["rules"].as_array().expect("rules");
    let several = rules.len() > 1;
    // Issue 7 item 16: the API server evaluates these before calling Kyverno, so the policy's
    // webhook sees only the requests its celPreconditions select (a policy matching every
    // kind must not register a catch-all webhook). They must be exactly those preconditions.
    let webhook = spec
        .get("webhookConfiguration")
        .unwrap_or_else(|| panic!("{what}: no webhookConfiguration.matchConditions"));
    only_keys(webhook, &["matchConditions"], what);
    let offloaded = named_list(webhook.get("matchConditions"), what);
    assert!(!offloaded.is_empty(), "{what}: no webhook matchConditions");
    assert!(!several, "{what}: one rule per CEL policy");
    assert_eq!(
        offloaded,
        named_list(rules[0].get("celPreconditions"), what),
        "{what}: webhook matchConditions differ from the rule's celPreconditions"
    );
    rules
        .iter()
        .map(|rule| {
            let rule_name = string(&rule["name"], what);
            let what = format!("{what}: rule {rule_name}");
            only_keys(
                rule,
                &["name", "match", "celPreconditions", "validate"],
                &what,
            );
            only_keys(&rule["match"], &["any"], &what);
            let filters = rule["match"]["any"]
                .as_array()
                .unwrap_or_else(|| panic!("{what}: match.any"))
                .iter()
                .map(|f| {
                    only_keys(f, &["resources"], &what);
                    let r = &f["resources"];
                    only_keys(r, &["kinds", "operations", "namespaces"], &what);
                    KyvernoFilter {
                        kinds: strings(&r["kinds"], &what),
                        operations: strings(&r["operations"], &what),
                        namespaces: r
                            .get("namespaces")
                            .map(|n| strings(n, &what))
                            .unwrap_or_default(),
                    }
                })
                .collect();
            let validate = &rule["validate"];
            only_keys(validate, &["failureAction", "cel", "message"], &what);
            assert_eq!(
                validate["failureAction"], "Enforce",
                "{what}: a policy that only audits denies nothing"
            );
            let cel = &validate["cel"];
            only_keys(cel, &["expressions", "variables"], &what);
            Policy {
                name: if several {
                    format!("{name}/{rule_name}")
                } else {
                    name.clone()
                },
                matcher: Matcher::Kyverno(filters),
                conditions: named_list(rule.get("celPreconditions"), &what),
                variables: named_list(cel.get("variables"), &what),
                validations: checks(&cel["expressions"], &what),
            }
        })
        .collect()
}

/// A ValidatingAdmissionPolicy or a Kyverno ValidatingPolicy (the same shape).
fn cel_policy(doc: &Value, what: &str, kyverno: bool) -> Policy {
    let spec = &doc["spec"];
    let mut keys = vec![
        "failurePolicy",
        "matchConstraints",
        "matchConditions",
        "variables",
        "validations",
    ];
    if kyverno {
        keys.extend(["validationActions", "evaluation"]);
        assert!(
            strings(&spec["validationActions"], what).contains(&"Deny".into()),
            "{what}: validationActions without Deny"
        );
        if let Some(eval) = spec.get("evaluation") {
            only_keys(eval, &["background"], what);
        }
    }
    only_keys(spec, &keys, what);
    assert_eq!(spec["failurePolicy"], "Fail", "{what}: failurePolicy");
    only_keys(&spec["matchConstraints"], &["resourceRules"], what);
    let rules = spec["matchConstraints"]["resourceRules"]
        .as_array()
        .unwrap_or_else(|| panic!("{what}: resourceRules"))
        .iter()
        .map(|r| {
            only_keys(
                r,
                &[
                    "apiGroups",
                    "apiVersions",
                    "resources",
                    "operations",
                    "scope",
                ],
                what,
            );
            Rule {
                api_groups: strings(&r["apiGroups"], what),
                api_versions: strings(&r["apiVersions"], what),
                resources: strings(&r["resources"], what),
                operations: strings(&r["operations"], what),
                // The API's default.
                scope: r
                    .get("scope")
                    .map(|s| string(s, what))
                    .unwrap_or_else(|| "*".into()),
            }
        })
        .collect();
    Policy {
        name: string(&doc["metadata"]["name"], what),
        matcher: Matcher::Rules(rules),
        conditions: named_list(spec.get("matchConditions"), what),
        variables: named_list(spec.get("variables"), what),
        validations: checks(&spec["validations"], what),
    }
}

// ---------------------------------------------------------------------------------------
// Admission requests.

/// (group, kind, namespaced) of every kind the cases use.
const KNOWN_KINDS: &[(&str, &str, bool)] = &[
    ("", "Pod", true),
    ("", "Service", true),
    ("", "ConfigMap", true),
    ("", "Secret", true),
    ("", "ServiceAccount", true),
    ("", "Namespace", false),
    ("apps", "Deployment", true),
    ("apps", "StatefulSet", true),
    ("apps", "DaemonSet", true),
    ("apps", "ReplicaSet", true),
    ("batch", "Job", true),
    ("batch", "CronJob", true),
    (RBAC, "Role", true),
    (RBAC, "RoleBinding", true),
    (RBAC, "ClusterRole", false),
    (RBAC, "ClusterRoleBinding", false),
    ("networking.k8s.io", "NetworkPolicy", true),
    ("kustomize.toolkit.fluxcd.io", "Kustomization", true),
    ("helm.toolkit.fluxcd.io", "HelmRelease", true),
    ("source.toolkit.fluxcd.io", "GitRepository", true),
    ("source.toolkit.fluxcd.io", "OCIRepository", true),
    ("source.toolkit.fluxcd.io", "HelmRepository", true),
    ("image.toolkit.fluxcd.io", "ImageRepository", true),
    ("image.toolkit.fluxcd.io", "ImagePolicy", true),
    ("external-secrets.io", "ExternalSecret", true),
    ("monitoring.coreos.com", "ServiceMonitor", true),
];

/// One admission request, with its CEL variables converted once.
#[derive(Clone, Debug)]
struct Request {
    operation: &'static str,
    group: String,
    version: String,
    kind: String,
    resource: String,
    /// `""` for a cluster-scoped object.
    namespace: String,
    /// `object`, `oldObject`, `request`.
    cel: [Cel; 3],
}

impl Request {
    fn create(user: &str, object: Value) -> Request {
        Request::new(user, "CREATE", object, Value::Null)
    }

    fn update(user: &str, old: Value, object: Value) -> Request {
        Request::new(user, "UPDATE", object, old)
    }

    fn delete(user: &str, old: Value) -> Request {
        Request::new(user, "DELETE", Value::Null, old)
    }

    fn new(user: &str, operation: &'static str, object: Value, old: Value) -> Request {
        let subject = if object.is_null() { &old } else { &object };
        let api = subject["apiVersion"].as_str().expect("apiVersion");
        let (group, version) = api.rsplit_once('/').unwrap_or(("", api));
        let kind = subject["kind"].as_str().expect("kind");
        let namespaced = KNOWN_KINDS
            .iter()
            .find(|(g, k, _)| *g == group && *k == kind)
            .map(|(_, _, n)| *n)
            .unwrap_or_else(|| panic!("add {group}/{kind} to KNOWN_KINDS"));
        let lower = kind.to_lowercase();
        let resource = match lower.strip_suffix('y') {
            Some(stem) => format!("{stem}ies"),
            None => format!("{lower}s"),
        };
        let name = subject["metadata"]["name"].as_str().unwrap_or_default();
        let namespace = subject["metadata"]["namespace"]
            .as_str()
            .unwrap_or_default();
        assert_eq!(
            namespaced,
            !namespace.is_empty(),
            "{kind} {name}: a namespace exactly when namespaced"
        );
        let groups = match user.strip_prefix("system:serviceaccount:") {
            Some(rest) => {
                let ns = rest.split(':').next().unwrap();
                json!([
                    "system:serviceaccounts",
                    format!("system:serviceaccounts:{ns}"),
                    "system:authenticated"
                ])
            }
            None => json!(["system:authenticated"]),
        };
        let gvk = json!({"group": group, "version": version, "kind": kind});
        let gvr = json!({"group": group, "version": version, "resource": resource});
        let request = json!({
            "uid": "00000000-0000-0000-0000-000000000000",
            "kind": gvk,
            "resource": gvr,
            "subResource": "",
            "requestKind": gvk,
            "requestResource": gvr,
            "name": name,
            "namespace": namespace,
            "operation": operation,
            "userInfo": {"username": user, "groups": groups},
            "dryRun": false,
        });
        Request {
            operation,
            group: group.into(),
            version: version.into(),
            kind: kind.into(),
            resource,
            namespace: namespace.into(),
            cel: [to_cel(&object), to_cel(&old), to_cel(&request)],
        }
    }
}

/// JSON to CEL: integers are `int` (as Kubernetes' CEL sees them), maps keyed by string.
fn to_cel(v: &Value) -> Cel {
    match v {
        Value::Null => Cel::Null,
        Value::Bool(b) => Cel::Bool(*b),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Cel::Int(i),
            (None, Some(u)) => Cel::UInt(u),
            _ => Cel::Float(n.as_f64().expect("a JSON number")),
        },
        Value::String(s) => Cel::String(Arc::new(s.clone())),
        Value::Array(a) => Cel::List(Arc::new(a.iter().map(to_cel).collect())),
        Value::Object(m) => {
            let map: HashMap<String, Cel> = m.iter().map(|(k, v)| (k.clone(), to_cel(v))).collect();
            Cel::from(map)
        }
    }
}

fn listed(list: &[String], value: &str) -> bool {
    list.iter().any(|x| x == "*" || x == value)
}

impl Matcher {
    fn matches(&self, r: &Request) -> bool {
        match self {
            Matcher::Rules(rules) => rules.iter().any(|rule| {
                listed(&rule.api_groups, &r.group)
                    && listed(&rule.api_versions, &r.version)
                    && listed(&rule.resources, &r.resource)
                    && listed(&rule.operations, r.operation)
                    && match rule.scope.as_str() {
                        "*" => true,
                        "Cluster" => r.namespace.is_empty(),
                        "Namespaced" => !r.namespace.is_empty(),
                        other => panic!("unknown scope {other}"),
                    }
            }),
            Matcher::Kyverno(filters) => filters.iter().any(|f| {
                f.kinds.iter().any(|k| {
                    assert!(
                        !k.contains('/'),
                        "Kyverno kind `{k}`: only `*` and bare kinds are simulated"
                    );
                    k == "*" || *k == r.kind
                }) && listed(&f.operations, r.operation)
                    && (f.namespaces.is_empty() || f.namespaces.contains(&r.namespace))
            }),
        }
    }
}

// ---------------------------------------------------------------------------------------
// The admission simulator.

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Denial {
    policy: String,
    message: String,
}

#[derive(Debug, Default)]
struct Outcome {
    /// The policies whose match and conditions selected the request.
    applied: Vec<String>,
    denials: Vec<Denial>,
    /// Evaluation errors (each also a denial: the policies fail closed).
    errors: Vec<String>,
}

struct Sim {
    env: Arc<Env>,
    programs: RefCell<HashMap<String, Rc<Result<Program, String>>>>,
}

impl Sim {
    fn new() -> Sim {
        Sim {
            env: Arc::new(Env::stdlib()),
            programs: RefCell::new(HashMap::new()),
        }
    }

    fn eval(&self, expression: &str, ctx: &Context) -> Result<Cel, String> {
        let program = self
            .programs
            .borrow_mut()
            .entry(expression.to_string())
            .or_insert_with(|| {
                Rc::new(Program::compile(expression).map_err(|e| format!("parse error: {e}")))
            })
            .clone();
        match program.as_ref() {
            Ok(p) => p.execute(ctx).map_err(|e| e.to_string()),
            Err(e) => Err(e.clone()),
        }
    }

    fn truth(&self, expression: &str, ctx: &Context) -> Result<bool, String> {
        match self.eval(expression, ctx)? {
            Cel::Bool(b) => Ok(b),
            other => Err(format!("not a bool: {other:?}")),
        }
    }

    /// Runs every policy on `r`.
    fn admit(&self, policies: &[Policy], r: &Request) -> Outcome {
        let mut out = Outcome::default();
        for p in policies.iter().filter(|p| p.matcher.matches(r)) {
            let mut ctx = Context::with_env(Arc::clone(&self.env));
            for (name, value) in ["object", "oldObject", "request"].iter().zip(&r.cel) {
                ctx.add_variable_from_value(*name, value.clone());
            }
            ctx.add_variable_from_value("variables", Cel::from(HashMap::<String, Cel>::new()));
            let fail = |out: &mut Outcome, what: &str, expression: &str, e: String| {
                out.errors
                    .push(format!("{}: {what}: `{expression}`: {e}", p.name));
                out.denials.push(Denial {
                    policy: p.name.clone(),
                    message: format!("evaluation error: {e}"),
                });
            };
            let mut applies = true;
            for c in &p.conditions {
                match self.truth(&c.expression, &ctx) {
                    Ok(true) => {}
                    Ok(false) => applies = false,
                    Err(e) => {
                        fail(
                            &mut out,
                            &format!("matchCondition {}", c.name),
                            &c.expression,
                            e,
                        );
                        applies = false;
                    }
                }
                if !applies {
                    break;
                }
            }
            if !applies {
                continue;
            }
            out.applied.push(p.name.clone());
            let mut variables = HashMap::<String, Cel>::new();
            let mut broken = false;
            for v in &p.variables {
                match self.eval(&v.expression, &ctx) {
                    Ok(value) => {
                        variables.insert(v.name.clone(), value);
                        ctx.add_variable_from_value("variables", Cel::from(variables.clone()));
                    }
                    Err(e) => {
                        fail(&mut out, &format!("variable {}", v.name), &v.expression, e);
                        broken = true;
                        break;
                    }
                }
            }
            if broken {
                continue;
            }
            for check in &p.validations {
                match self.truth(&check.expression, &ctx) {
                    Ok(true) => {}
                    Ok(false) => out.denials.push(Denial {
                        policy: p.name.clone(),
                        message: check.message.clone(),
                    }),
                    Err(e) => fail(&mut out, "validation", &check.expression, e),
                }
            }
        }
        out
    }
}

/// The known-unsupported CEL an outcome's errors hit, if every error is one.
fn unsupported(errors: &[String]) -> Option<Vec<&'static str>> {
    if errors.is_empty() {
        return None;
    }
    let hits: Vec<Option<&'static str>> = errors
        .iter()
        .map(|e| {
            KNOWN_UNSUPPORTED
                .iter()
                .find(|(expr, err)| e.contains(expr) && e.contains(err))
                .map(|(expr, _)| *expr)
        })
        .collect();
    hits.into_iter().collect()
}

// ---------------------------------------------------------------------------------------
// The cases.

struct Case {
    id: &'static str,
    /// The seed's adversary, or `legit`.
    adversary: &'static str,
    request: Request,
    /// Every denial expected, as (policy, message substring); empty: allowed.
    expect: Vec<(&'static str, &'static str)>,
    /// For a legitimate change, exactly the policies that must evaluate it (so that
    /// "allowed" is not the vacuous result of no policy matching).
    reaches: Option<Vec<&'static str>>,
}

fn fixture(file: &str, kind: &str) -> Value {
    let path = root().join("tests/fixtures/attacks").join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    let docs = trustc::verify::parse_documents(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
    let mut found = docs.into_iter().filter(|d| d["kind"] == kind);
    let doc = found.next().unwrap_or_else(|| panic!("{file}: no {kind}"));
    assert!(found.next().is_none(), "{file}: several {kind}");
    doc
}

fn legit(kind: &str) -> Value {
    fixture("legit.yaml", kind)
}

fn foreign(kind: &str) -> Value {
    fixture("foreign.yaml", kind)
}

/// Helm's storage Secret of the tenant's release, in Helm's own format
/// (`tests/fixtures/attacks/make-helm-release-secret.py` cites the source).
fn helm_secret() -> Value {
    fixture("helm-release-secret.yaml", "Secret")
}

/// The object of `apiVersion`'s group and `kind` trustc generated for the tenant.
fn tenant(g: &Generated, group: &str, kind: &str) -> Value {
    let mut found = g.tenant.iter().filter(|d| {
        d["kind"] == kind
            && d["apiVersion"]
                .as_str()
                .is_some_and(|a| a.starts_with(&format!("{group}/")))
    });
    let doc = found
        .next()
        .unwrap_or_else(|| panic!("{}: no generated {group} {kind}", g.engine))
        .clone();
    assert!(found.next().is_none(), "several generated {kind}");
    doc
}

/// `v` at a `/`-separated path (array indexes as numbers, `-` appends), created as needed.
fn slot<'a>(v: &'a mut Value, path: &str) -> &'a mut Value {
    let mut cur = v;
    for seg in path.trim_start_matches('/').split('/') {
        if cur.is_null() {
            *cur = json!({});
        }
        cur = match cur {
            Value::Array(a) => {
                if seg == "-" {
                    a.push(Value::Null);
                    a.last_mut().unwrap()
                } else {
                    &mut a[seg.parse::<usize>().expect("an index")]
                }
            }
            Value::Object(m) => m.entry(seg).or_insert(Value::Null),
            _ => panic!("{path}: {seg} of a scalar"),
        };
    }
    cur
}

fn set(v: &mut Value, path: &str, new: Value) {
    *slot(v, path) = new;
}

fn del(v: &mut Value, path: &str) {
    let (parent, key) = path.rsplit_once('/').expect("a path");
    let removed = slot(v, parent)
        .as_object_mut()
        .and_then(|m| m.shift_remove(key));
    assert!(removed.is_some(), "{path}: nothing to remove");
}

fn edited(mut v: Value, f: impl FnOnce(&mut Value)) -> Value {
    f(&mut v);
    v
}

const CONTAINER: &str = "/spec/template/spec/containers/0";
const POD_SPEC: &str = "/spec/template/spec";

/// The pod the ReplicaSet controller creates from a Deployment.
fn pod_of(deployment: &Value) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "payments-api-6d8f7c9b5-x2x4z",
            "namespace": deployment["metadata"]["namespace"],
            "labels": deployment["spec"]["template"]["metadata"]["labels"],
        },
        "spec": deployment["spec"]["template"]["spec"],
    })
}

/// A one-change variation of a legitimate object: (case id, expected message, the change).
type Variant = (&'static str, &'static str, fn(&mut Value));
/// The same, with several expected messages.
type PodVariant = (&'static str, &'static [&'static str], fn(&mut Value));

/// The seed's attacks; each must be denied with exactly the denials listed.
fn attacks(g: &Generated) -> Vec<Case> {
    let mut cases = Vec::new();
    let mut add = |id, adversary, request, expect: &[(&'static str, &'static str)]| {
        cases.push(Case {
            id,
            adversary,
            request,
            expect: expect.to_vec(),
            reaches: None,
        });
    };
    let deployment = || legit("Deployment");
    let helm_release = || legit("HelmRelease");
    let kustomization = || tenant(g, "kustomize.toolkit.fluxcd.io", "Kustomization");
    let git = || tenant(g, "source.toolkit.fluxcd.io", "GitRepository");
    let oci = || tenant(g, "source.toolkit.fluxcd.io", "OCIRepository");
    let image_repo = || tenant(g, "image.toolkit.fluxcd.io", "ImageRepository");

    // Adversaries 1 and 3: a ClusterRoleBinding (or any cluster-scoped object) from a tenant
    // repository.
    add(
        "tenant-creates-cluster-admin-binding",
        "1/3",
        Request::create(TENANT_SA, foreign("ClusterRoleBinding")),
        &[(CLUSTER, M_CLUSTER)],
    );
    add(
        "tenant-deletes-a-cluster-role-binding",
        "1/3",
        Request::delete(TENANT_SA, foreign("ClusterRoleBinding")),
        &[(CLUSTER, M_CLUSTER)],
    );
    add(
        "tenant-creates-a-namespace",
        "3",
        Request::create(TENANT_SA, foreign("Namespace")),
        &[(CLUSTER, M_CLUSTER)],
    );

    // Adversary 3: kinds outside allowed_kinds, namespaces outside the tenant's.
    // payments may deploy HelmReleases: only Helm's storage Secrets get through, not this one.
    add(
        "tenant-creates-a-secret",
        "3",
        Request::create(TENANT_SA, foreign("Secret")),
        &[(KINDS, M_HELM_SECRET)],
    );
    add(
        "tenant-creates-an-opaque-secret-named-like-helm-storage",
        "3",
        Request::create(
            TENANT_SA,
            edited(helm_secret(), |s| set(s, "/type", json!("Opaque"))),
        ),
        &[(KINDS, M_HELM_SECRET)],
    );
    add(
        "tenant-creates-a-helm-typed-secret-not-named-like-storage",
        "3",
        Request::create(
            TENANT_SA,
            edited(helm_secret(), |s| {
                set(s, "/metadata/name", json!("payments-git-auth"))
            }),
        ),
        &[(KINDS, M_HELM_SECRET)],
    );
    add(
        "tenant-deletes-the-deploy-key",
        "2/3",
        Request::delete(
            TENANT_SA,
            edited(foreign("Secret"), |s| {
                set(s, "/metadata/name", json!("payments-git-auth"))
            }),
        ),
        &[(KINDS, M_HELM_SECRET)],
    );
    add(
        "tenant-creates-a-network-policy",
        "3",
        Request::create(TENANT_SA, foreign("NetworkPolicy")),
        &[(KINDS, M_KIND)],
    );
    add(
        "tenant-binds-admin-in-its-namespace",
        "3",
        Request::create(TENANT_SA, foreign("RoleBinding")),
        &[(KINDS, M_KIND)],
    );
    add(
        "tenant-creates-a-kustomization",
        "3",
        Request::create(TENANT_SA, kustomization()),
        &[(KINDS, M_KIND)],
    );
    add(
        "tenant-deploys-into-another-namespace",
        "3",
        Request::create(
            TENANT_SA,
            edited(deployment(), |d| {
                set(d, "/metadata/namespace", json!("other"))
            }),
        ),
        &[(KINDS, M_OWN_NS)],
    );

    // Adversary 3: the tenant's Kustomization escaping its boundary, written by the tenant's
    // reconciler (also not an allowed kind) and by a developer managing Kustomizations.
    let ks_attacks: [Variant; 7] = [
        ("kustomization-force", M_FORCE, |k| {
            set(k, "/spec/force", json!(true));
        }),
        ("kustomization-default-service-account", M_SA, |k| {
            set(k, "/spec/serviceAccountName", json!("default"));
        }),
        ("kustomization-without-service-account", M_SA, |k| {
            del(k, "/spec/serviceAccountName");
        }),
        ("kustomization-source-from-flux-system", M_KS_SOURCE, |k| {
            set(k, "/spec/sourceRef/namespace", json!("flux-system"));
        }),
        ("kustomization-kubeconfig", M_KUBECONFIG, |k| {
            set(
                k,
                "/spec/kubeConfig/secretRef/name",
                json!("admin-kubeconfig"),
            );
        }),
        (
            "kustomization-decryption-service-account",
            M_DECRYPTION,
            |k| {
                set(k, "/spec/decryption/provider", json!("sops"));
                set(k, "/spec/decryption/serviceAccountName", json!("sops-kms"));
            },
        ),
        ("kustomization-target-kube-system", M_TARGET, |k| {
            set(k, "/spec/targetNamespace", json!("kube-system"));
        }),
    ];
    for (i, (id, message, change)) in ks_attacks.into_iter().enumerate() {
        let object = edited(kustomization(), change);
        if i < 5 {
            add(
                id,
                "3",
                Request::create(TENANT_SA, object.clone()),
                &[(KINDS, M_KIND), (RECON, message)],
            );
        }
        let id: &'static str = format!("developer-{id}").leak();
        add(
            id,
            "3",
            Request::create(DEVELOPER, object),
            &[(RECON, message)],
        );
    }

    // Adversary 3 through a HelmRelease (an allowed kind).
    let hr_attacks: [Variant; 6] = [
        ("helm-release-without-service-account", M_SA, |h| {
            del(h, "/spec/serviceAccountName");
        }),
        ("helm-release-chart-ref-from-flux-system", M_HR_CHART, |h| {
            set(h, "/spec/chartRef/namespace", json!("flux-system"));
        }),
        (
            "helm-release-chart-source-from-flux-system",
            M_HR_CHART,
            |h| {
                del(h, "/spec/chartRef");
                set(
                    h,
                    "/spec/chart/spec",
                    json!({"chart": "payments-api", "sourceRef":
                    {"kind": "HelmRepository", "name": "internal-charts", "namespace": "flux-system"}}),
                );
            },
        ),
        ("helm-release-kubeconfig", M_KUBECONFIG, |h| {
            set(
                h,
                "/spec/kubeConfig/secretRef/name",
                json!("admin-kubeconfig"),
            );
        }),
        ("helm-release-target-kube-system", M_TARGET, |h| {
            set(h, "/spec/targetNamespace", json!("kube-system"));
        }),
        ("helm-release-storage-in-flux-system", M_STORAGE, |h| {
            set(h, "/spec/storageNamespace", json!("flux-system"));
        }),
    ];
    for (id, message, change) in hr_attacks {
        add(
            id,
            "3",
            Request::create(TENANT_SA, edited(helm_release(), change)),
            &[(RECON, message)],
        );
    }

    // Adversary 4: HelmRelease values injection; the helm-controller applies the rendered
    // Deployment as the tenant's reconciler.
    let pod_attacks: [PodVariant; 24] = [
        ("values-privileged", &[M_PRIVILEGED, M_ESCALATION], |d| {
            // The API server refuses privileged with allowPrivilegeEscalation: false.
            del(
                d,
                &format!("{CONTAINER}/securityContext/allowPrivilegeEscalation"),
            );
            set(
                d,
                &format!("{CONTAINER}/securityContext/privileged"),
                json!(true),
            );
        }),
        (
            "values-privileged-init-container",
            &[M_PRIVILEGED, M_ESCALATION],
            |d| {
                set(
                    d,
                    &format!("{POD_SPEC}/initContainers"),
                    json!([{"name": "setup", "image": "registry.internal.example.com/payments-api:v1.2.3",
                        "securityContext": {"privileged": true, "capabilities": {"drop": ["ALL"]}}}]),
                );
            },
        ),
        ("values-privilege-escalation", &[M_ESCALATION], |d| {
            set(
                d,
                &format!("{CONTAINER}/securityContext/allowPrivilegeEscalation"),
                json!(true),
            );
        }),
        ("values-host-network", &[M_HOST_NS], |d| {
            set(d, &format!("{POD_SPEC}/hostNetwork"), json!(true));
        }),
        ("values-host-pid", &[M_HOST_NS], |d| {
            set(d, &format!("{POD_SPEC}/hostPID"), json!(true));
        }),
        ("values-host-path", &[M_HOST_PATH], |d| {
            set(
                d,
                &format!("{POD_SPEC}/volumes"),
                json!([{"name": "host", "hostPath": {"path": "/"}}]),
            );
            set(
                d,
                &format!("{CONTAINER}/volumeMounts"),
                json!([{"name": "host", "mountPath": "/host"}]),
            );
        }),
        ("values-host-port", &[M_HOST_PORT], |d| {
            set(d, &format!("{CONTAINER}/ports/0/hostPort"), json!(8080));
        }),
        ("values-add-sys-admin", &[M_CAPS], |d| {
            set(
                d,
                &format!("{CONTAINER}/securityContext/capabilities/add"),
                json!(["SYS_ADMIN"]),
            );
        }),
        ("values-seccomp-unconfined", &[M_SECCOMP], |d| {
            set(
                d,
                &format!("{POD_SPEC}/securityContext/seccompProfile"),
                json!({"type": "Unconfined"}),
            );
        }),
        ("values-run-as-root", &[M_NON_ROOT], |d| {
            del(d, &format!("{POD_SPEC}/securityContext/runAsNonRoot"));
        }),
        // Issue 7 item 11: what Pod Security `restricted` refuses at the ReplicaSet must be
        // refused at apply time, each check of the profile by one attack.
        ("deployment-without-seccomp-profile", &[M_SECCOMP], |d| {
            del(d, &format!("{POD_SPEC}/securityContext/seccompProfile"));
        }),
        ("deployment-without-drop-all", &[M_DROP], |d| {
            del(d, &format!("{CONTAINER}/securityContext/capabilities"));
        }),
        ("container-run-as-non-root-false", &[M_NON_ROOT], |d| {
            set(
                d,
                &format!("{CONTAINER}/securityContext/runAsNonRoot"),
                json!(false),
            );
        }),
        ("values-run-as-uid-0", &[M_RUN_AS_USER], |d| {
            set(
                d,
                &format!("{CONTAINER}/securityContext/runAsUser"),
                json!(0),
            );
        }),
        ("values-nfs-volume", &[M_VOLUMES], |d| {
            set(
                d,
                &format!("{POD_SPEC}/volumes"),
                json!([{"name": "data", "nfs": {"server": "nfs.example.com", "path": "/"}}]),
            );
        }),
        ("values-selinux-user", &[M_SELINUX], |d| {
            set(
                d,
                &format!("{CONTAINER}/securityContext/seLinuxOptions"),
                json!({"user": "system_u"}),
            );
        }),
        ("values-selinux-spc-type", &[M_SELINUX], |d| {
            set(
                d,
                &format!("{POD_SPEC}/securityContext/seLinuxOptions"),
                json!({"type": "spc_t"}),
            );
        }),
        ("values-proc-mount-unmasked", &[M_PROC_MOUNT], |d| {
            set(
                d,
                &format!("{CONTAINER}/securityContext/procMount"),
                json!("Unmasked"),
            );
        }),
        ("values-apparmor-unconfined", &[M_APPARMOR], |d| {
            set(
                d,
                &format!("{CONTAINER}/securityContext/appArmorProfile"),
                json!({"type": "Unconfined"}),
            );
        }),
        (
            "values-apparmor-annotation-unconfined",
            &[M_APPARMOR],
            |d| {
                set(
                    d,
                    "/spec/template/metadata/annotations",
                    json!({"container.apparmor.security.beta.kubernetes.io/api": "unconfined"}),
                );
            },
        ),
        ("values-unsafe-sysctl", &[M_SYSCTLS], |d| {
            set(
                d,
                &format!("{POD_SPEC}/securityContext/sysctls"),
                json!([{"name": "kernel.msgmax", "value": "65536"}]),
            );
        }),
        ("values-windows-host-process", &[M_HOST_PROCESS], |d| {
            set(
                d,
                &format!("{CONTAINER}/securityContext/windowsOptions"),
                json!({"hostProcess": true}),
            );
        }),
        ("values-probe-on-another-host", &[M_PROBE_HOST], |d| {
            set(
                d,
                &format!("{CONTAINER}/livenessProbe"),
                json!({"httpGet": {"host": "169.254.169.254", "path": "/", "port": 80}}),
            );
        }),
        ("values-pre-stop-on-another-host", &[M_PROBE_HOST], |d| {
            set(
                d,
                &format!("{CONTAINER}/lifecycle/preStop/tcpSocket"),
                json!({"host": "10.0.0.1", "port": 22}),
            );
        }),
    ];
    for (id, messages, change) in pod_attacks {
        let expect: Vec<_> = messages.iter().map(|m| (PODS, *m)).collect();
        add(
            id,
            "4",
            Request::create(TENANT_SA, edited(deployment(), change)),
            &expect,
        );
    }
    add(
        "values-host-network-on-update",
        "4",
        Request::update(
            TENANT_SA,
            deployment(),
            edited(deployment(), |d| {
                set(d, &format!("{POD_SPEC}/hostNetwork"), json!(true));
            }),
        ),
        &[(PODS, M_HOST_NS)],
    );
    add(
        "developer-cron-job-host-pid",
        "4",
        Request::create(DEVELOPER, foreign("CronJob")),
        &[(PODS, M_HOST_NS)],
    );

    // Adversary 5: images and image sources outside the tenant's registries.
    let evil = |d: &mut Value| {
        set(
            d,
            &format!("{CONTAINER}/image"),
            json!("docker.io/evil/api:1.0.0"),
        )
    };
    add(
        "deployment-image-from-docker-hub",
        "5",
        Request::create(TENANT_SA, edited(deployment(), evil)),
        &[(PODS, M_IMAGES)],
    );
    add(
        "pod-image-from-docker-hub",
        "5",
        Request::create(RS_CONTROLLER, pod_of(&edited(deployment(), evil))),
        &[(PODS, M_IMAGES)],
    );
    add(
        "deployment-image-from-lookalike-registry",
        "5",
        Request::create(
            TENANT_SA,
            edited(deployment(), |d| {
                set(
                    d,
                    &format!("{CONTAINER}/image"),
                    json!("registry.internal.example.com.evil.io/payments-api:v1.2.3"),
                );
            }),
        ),
        &[(PODS, M_IMAGES)],
    );
    add(
        "init-container-image-from-docker-hub",
        "5",
        Request::create(
            TENANT_SA,
            edited(deployment(), |d| {
                set(
                    d,
                    &format!("{POD_SPEC}/initContainers"),
                    json!([{"name": "setup", "image": "docker.io/evil/init:1.0.0",
                            "securityContext": {"allowPrivilegeEscalation": false,
                                "capabilities": {"drop": ["ALL"]}}}]),
                );
            }),
        ),
        &[(PODS, M_IMAGES)],
    );
    add(
        "image-repository-on-docker-hub",
        "5",
        Request::create(
            FLUX,
            edited(image_repo(), |r| {
                set(r, "/spec/image", json!("docker.io/evil/api"));
            }),
        ),
        &[(SOURCES, M_IMAGE_REPO)],
    );
    add(
        "helm-repository-elsewhere",
        "5",
        Request::create(
            DEVELOPER,
            json!({
                "apiVersion": "source.toolkit.fluxcd.io/v1",
                "kind": "HelmRepository",
                "metadata": {"name": "evil", "namespace": "payments"},
                "spec": {"interval": "10m", "url": "https://evil.example.com/charts"}
            }),
        ),
        &[(SOURCES, M_HELM_REPO)],
    );
    add(
        "oci-repository-on-docker-hub",
        "5",
        Request::create(
            FLUX,
            edited(oci(), |r| {
                set(
                    r,
                    "/spec/url",
                    json!("oci://docker.io/evil/charts/payments-api"),
                );
            }),
        ),
        &[(SOURCES, M_OCI_REGISTRY)],
    );
    add(
        "oci-repository-unverified",
        "5",
        Request::create(FLUX, edited(oci(), |r| del(r, "/spec/verify"))),
        &[(SOURCES, M_OCI_VERIFY)],
    );

    // Adversary 1: unverified commits, or another repository.
    add(
        "git-repository-unverified",
        "1",
        Request::create(FLUX, edited(git(), |r| del(r, "/spec/verify"))),
        &[(SOURCES, M_GIT_VERIFY)],
    );
    add(
        "git-repository-verify-without-keys",
        "1",
        Request::create(FLUX, edited(git(), |r| del(r, "/spec/verify/secretRef"))),
        &[(SOURCES, M_GIT_VERIFY)],
    );
    add(
        "git-repository-other-url",
        "1",
        Request::create(
            FLUX,
            edited(git(), |r| {
                set(
                    r,
                    "/spec/url",
                    json!("ssh://git@github.com/evil/payments-manifests.git"),
                );
            }),
        ),
        &[(SOURCES, M_GIT_URL)],
    );

    // Issue 8 item 9: every allow-list compares what the value means, on a `/` boundary, so
    // look-alike hosts, userinfo, ports and paths are refused.
    for (i, image) in [
        "registry.internal.example.com.evil.io/payments-api:v1.2.3",
        "registry.internal.example.com:443evil/payments-api:v1.2.3",
        "registry.internal.example.comevil/payments-api:v1.2.3",
        "evil.io/registry.internal.example.com/payments-api:v1.2.3",
    ]
    .into_iter()
    .enumerate()
    {
        let id: &'static str = format!("lookalike-image-{i}").leak();
        let image = image.to_string();
        let object = edited(deployment(), |d| {
            set(d, &format!("{CONTAINER}/image"), json!(image));
        });
        add(
            id,
            "5",
            Request::create(TENANT_SA, object),
            &[(PODS, M_IMAGES)],
        );
    }
    for (i, image) in [
        "registry.internal.example.com.evil.io/payments-api",
        "registry.internal.example.com@evil.io/payments-api",
        "registry.internal.example.com:443evil/payments-api",
    ]
    .into_iter()
    .enumerate()
    {
        let id: &'static str = format!("lookalike-image-repository-{i}").leak();
        add(
            id,
            "5",
            Request::create(
                FLUX,
                edited(image_repo(), |r| set(r, "/spec/image", json!(image))),
            ),
            &[(SOURCES, M_IMAGE_REPO)],
        );
    }
    for (i, url) in [
        "oci://registry.internal.example.com.evil.io/charts/payments-api",
        "oci://registry.internal.example.com@evil.io/charts/payments-api",
        "oci://registry.internal.example.com:443evil/charts/payments-api",
        "oci://registry.internal.example.comevil/charts/payments-api",
    ]
    .into_iter()
    .enumerate()
    {
        let id: &'static str = format!("lookalike-oci-repository-{i}").leak();
        add(
            id,
            "5",
            Request::create(FLUX, edited(oci(), |r| set(r, "/spec/url", json!(url)))),
            &[(SOURCES, M_OCI_REGISTRY)],
        );
    }
    let shop_helm_repo = |url: &str| {
        json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1",
            "kind": "HelmRepository",
            "metadata": {"name": "storefront", "namespace": "shop"},
            "spec": {"interval": "10m", "url": url}
        })
    };
    for (i, url) in [
        "https://charts.example.com/charts-evil",
        "https://charts.example.com/chartsevil/storefront",
        "https://charts.example.com.evil.io/charts",
        "https://charts.example.com@evil.io/charts",
        "https://charts.example.com:443evil/charts",
        "https://evil.io/https://charts.example.com/charts",
    ]
    .into_iter()
    .enumerate()
    {
        let id: &'static str = format!("lookalike-helm-repository-{i}").leak();
        add(
            id,
            "5",
            Request::create(FLUX, shop_helm_repo(url)),
            &[(SOURCES, M_HELM_REPO)],
        );
    }

    // Issue 7 item 10: a tenant with several namespaces stays inside them.
    add(
        "shop-deploys-into-payments",
        "3",
        Request::create(
            SHOP_SA,
            edited(deployment(), |d| {
                set(d, "/metadata/namespace", json!("payments"))
            }),
        ),
        &[(KINDS, M_OWN_NS)],
    );
    let shop_ks = shop_kustomization(g, "shop-shop-web");
    add(
        "shop-kustomization-targets-payments",
        "3",
        Request::create(
            FLUX,
            edited(shop_ks, |k| {
                set(k, "/spec/targetNamespace", json!("payments"))
            }),
        ),
        &[(RECON, M_TARGET)],
    );
    cases
}

/// The generated Kustomization `name` of the shop tenant.
fn shop_kustomization(g: &Generated, name: &str) -> Value {
    g.shop
        .iter()
        .find(|d| d["kind"] == "Kustomization" && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("{}: no generated shop Kustomization {name}", g.engine))
        .clone()
}

/// Legitimate changes: allowed by every policy.
fn legitimate(g: &Generated) -> Vec<Case> {
    let mut cases = Vec::new();
    let mut add = |id, reaches: &[&'static str], request| {
        cases.push(Case {
            id,
            adversary: "legit",
            request,
            expect: Vec::new(),
            reaches: Some(reaches.to_vec()),
        });
    };
    let deployment = legit("Deployment");
    add(
        "tenant-creates-its-deployment",
        &[KINDS, PODS],
        Request::create(TENANT_SA, deployment.clone()),
    );
    add(
        "tenant-updates-its-deployment",
        &[KINDS, PODS],
        Request::update(
            TENANT_SA,
            deployment.clone(),
            edited(deployment.clone(), |d| {
                set(
                    d,
                    &format!("{CONTAINER}/image"),
                    json!("registry.internal.example.com/payments-api:v1.2.4"),
                );
            }),
        ),
    );
    add(
        "tenant-creates-a-stateful-set",
        &[KINDS, PODS],
        Request::create(
            TENANT_SA,
            edited(deployment.clone(), |d| {
                set(d, "/kind", json!("StatefulSet"))
            }),
        ),
    );
    add(
        "tenant-deletes-its-deployment",
        &[KINDS],
        Request::delete(TENANT_SA, deployment.clone()),
    );
    add(
        "tenant-creates-a-service",
        &[KINDS],
        Request::create(TENANT_SA, legit("Service")),
    );
    add(
        "tenant-creates-a-config-map",
        &[KINDS],
        Request::create(TENANT_SA, legit("ConfigMap")),
    );
    add(
        "tenant-deletes-a-config-map",
        &[KINDS],
        Request::delete(TENANT_SA, legit("ConfigMap")),
    );
    add(
        "tenant-creates-its-helm-release",
        &[KINDS, RECON],
        Request::create(TENANT_SA, legit("HelmRelease")),
    );
    add(
        "replica-set-creates-the-pod",
        &[PODS],
        Request::create(RS_CONTROLLER, pod_of(&deployment)),
    );
    // Issue 7 item 9: helm-controller, as the tenant's reconciler, keeps the release in Helm's
    // storage Secret (a real one: tests/fixtures/attacks/make-helm-release-secret.py).
    let storage = helm_secret();
    add(
        "helm-creates-its-release-secret",
        &[KINDS],
        Request::create(TENANT_SA, storage.clone()),
    );
    add(
        "helm-updates-its-release-secret",
        &[KINDS],
        Request::update(
            TENANT_SA,
            storage.clone(),
            edited(storage.clone(), |s| {
                set(s, "/metadata/labels/status", json!("superseded"))
            }),
        ),
    );
    add(
        "helm-deletes-its-release-secret",
        &[KINDS],
        Request::delete(TENANT_SA, storage.clone()),
    );
    add(
        "tenant-helm-release-with-storage-and-target-namespace",
        &[KINDS, RECON],
        Request::create(
            TENANT_SA,
            edited(legit("HelmRelease"), |h| {
                set(h, "/spec/storageNamespace", json!("payments"));
                set(h, "/spec/targetNamespace", json!("payments"));
            }),
        ),
    );
    // Issue 7 item 13: SOPS decryption as the tenant's own service account.
    let sops = edited(
        tenant(g, "kustomize.toolkit.fluxcd.io", "Kustomization"),
        |k| {
            set(k, "/spec/decryption/provider", json!("sops"));
            set(
                k,
                "/spec/decryption/serviceAccountName",
                json!("payments-reconciler"),
            );
        },
    );
    add(
        "developer-sops-kustomization-with-the-tenant-service-account",
        &[RECON],
        Request::create(DEVELOPER, sops.clone()),
    );
    add(
        "flux-applies-a-sops-kustomization-with-age-key",
        &[RECON],
        Request::create(
            FLUX,
            edited(sops, |k| {
                del(k, "/spec/decryption/serviceAccountName");
                set(k, "/spec/decryption/secretRef/name", json!("sops-age"));
            }),
        ),
    );
    // Pod Security 1.35+ relaxes runAsNonRoot/runAsUser/procMount for user-namespaced pods
    // (`hostUsers: false`): so does the policy.
    add(
        "tenant-deploys-a-user-namespaced-pod-running-as-uid-0",
        &[KINDS, PODS],
        Request::create(
            TENANT_SA,
            edited(deployment.clone(), |d| {
                set(d, &format!("{POD_SPEC}/hostUsers"), json!(false));
                del(d, &format!("{POD_SPEC}/securityContext/runAsNonRoot"));
                set(
                    d,
                    &format!("{POD_SPEC}/securityContext/runAsUser"),
                    json!(0),
                );
            }),
        ),
    );
    // Issue 7 item 10: the tenant with two namespaces works in each.
    for ns in ["shop", "shop-web"] {
        add(
            format!("shop-deploys-into-{ns}").leak(),
            &[KINDS, PODS],
            Request::create(
                SHOP_SA,
                edited(deployment.clone(), |d| {
                    set(d, "/metadata/namespace", json!(ns))
                }),
            ),
        );
        add(
            format!("shop-helm-stores-its-release-in-{ns}").leak(),
            &[KINDS],
            Request::create(
                SHOP_SA,
                edited(helm_secret(), |s| set(s, "/metadata/namespace", json!(ns))),
            ),
        );
    }
    add(
        "shop-helm-repository-below-the-chart-repository",
        &[SOURCES],
        Request::create(
            FLUX,
            json!({
                "apiVersion": "source.toolkit.fluxcd.io/v1",
                "kind": "HelmRepository",
                "metadata": {"name": "storefront-stable", "namespace": "shop"},
                "spec": {"interval": "10m", "url": "https://charts.example.com/charts/stable"}
            }),
        ),
    );
    let targets: BTreeSet<&str> = g
        .shop
        .iter()
        .filter(|d| d["kind"] == "Kustomization")
        .map(|d| d["spec"]["targetNamespace"].as_str().unwrap())
        .collect();
    assert_eq!(
        targets,
        BTreeSet::from(["shop", "shop-web"]),
        "{}: one Kustomization per shop namespace",
        g.engine
    );
    // Everything trustc generates for the tenants (Kustomizations and GitRepositories among
    // them), applied by the Flux bootstrap identity.
    for doc in g.tenant.iter().chain(&g.shop) {
        let kind = doc["kind"].as_str().unwrap();
        let id = format!(
            "flux-applies-generated-{}-{}-{}",
            doc["metadata"]["namespace"].as_str().unwrap_or("cluster"),
            kind.to_lowercase(),
            doc["metadata"]["name"].as_str().unwrap()
        );
        let reaches: &[&str] = match kind {
            "Kustomization" | "HelmRelease" => &[RECON],
            "GitRepository" | "OCIRepository" | "HelmRepository" | "ImageRepository" => &[SOURCES],
            _ => &[],
        };
        add(
            id.clone().leak(),
            reaches,
            Request::create(FLUX, doc.clone()),
        );
        add(
            format!("{id}-again").leak(),
            reaches,
            Request::update(FLUX, doc.clone(), doc.clone()),
        );
    }
    for (group, kind) in [
        ("kustomize.toolkit.fluxcd.io", "Kustomization"),
        ("source.toolkit.fluxcd.io", "GitRepository"),
    ] {
        assert!(
            g.tenant
                .iter()
                .any(|d| d["kind"] == kind && d["apiVersion"].as_str().unwrap().starts_with(group)),
            "the generated tenant {kind} is among the legitimate cases"
        );
    }
    cases
}

/// Runs `cases`; the list of every mismatch (empty: all as expected) and the skips.
fn run_cases(g: &Generated, policies: &[Policy], cases: &[Case]) -> (Vec<String>, Vec<String>) {
    let sim = Sim::new();
    let mut wrong = Vec::new();
    let mut skipped = Vec::new();
    for case in cases {
        let out = sim.admit(policies, &case.request);
        if let Some(exprs) = unsupported(&out.errors) {
            skipped.push(format!(
                "{}: {}: SKIPPED: the cel crate cannot evaluate {exprs:?}",
                g.engine, case.id
            ));
            continue;
        }
        if !out.errors.is_empty() {
            wrong.push(format!(
                "{}: {}: evaluation errors:\n    {}",
                g.engine,
                case.id,
                out.errors.join("\n    ")
            ));
            continue;
        }
        let unexpected: Vec<&Denial> = out
            .denials
            .iter()
            .filter(|d| {
                !case
                    .expect
                    .iter()
                    .any(|(p, m)| d.policy == *p && d.message.contains(m))
            })
            .collect();
        let missing: Vec<&(&str, &str)> = case
            .expect
            .iter()
            .filter(|(p, m)| {
                !out.denials
                    .iter()
                    .any(|d| d.policy == *p && d.message.contains(m))
            })
            .collect();
        let verdict: Vec<String> = out
            .denials
            .iter()
            .map(|d| format!("{}: {}", d.policy, d.message))
            .collect();
        println!(
            "{} {} [{}] {}: {}",
            g.engine,
            case.request.operation,
            case.adversary,
            case.id,
            if verdict.is_empty() {
                "allowed".to_string()
            } else {
                format!("DENIED by {}", verdict.join(" | "))
            }
        );
        if let Some(reaches) = &case.reaches {
            let mut want: Vec<&str> = reaches.clone();
            let mut got: Vec<&str> = out.applied.iter().map(String::as_str).collect();
            want.sort_unstable();
            got.sort_unstable();
            if want != got {
                wrong.push(format!(
                    "{}: {}: evaluated by {got:?}, expected {want:?}",
                    g.engine, case.id
                ));
            }
        }
        if !unexpected.is_empty() || !missing.is_empty() {
            wrong.push(format!(
                "{}: {} (adversary {}): expected {:?}, missing {missing:?}, unexpected {unexpected:?}",
                g.engine, case.id, case.adversary, case.expect
            ));
        }
    }
    (wrong, skipped)
}

// ---------------------------------------------------------------------------------------
// The tests.

fn attacks_are_denied(engine: &str) {
    let g = generated(engine);
    let cases = attacks(g);
    assert!(cases.iter().all(|c| !c.expect.is_empty()));
    let (wrong, skipped) = run_cases(g, &g.policies, &cases);
    for s in &skipped {
        println!("{s}");
    }
    assert!(
        wrong.is_empty(),
        "{} of {} attacks not denied as expected:\n{}",
        wrong.len(),
        cases.len(),
        wrong.join("\n")
    );
}

fn legitimate_changes_are_allowed(engine: &str) {
    let g = generated(engine);
    let cases = legitimate(g);
    let (wrong, skipped) = run_cases(g, &g.policies, &cases);
    for s in &skipped {
        println!("{s}");
    }
    assert!(
        wrong.is_empty(),
        "{} of {} legitimate changes refused:\n{}",
        wrong.len(),
        cases.len(),
        wrong.join("\n")
    );
}

/// Weakens each validation to `true` in turn: some attack that was denied must then get
/// through, or the validation is tested by nothing.
fn every_validation_stops_an_attack(engine: &str) {
    let g = generated(engine);
    let cases = attacks(g);
    let sim = Sim::new();
    let denied =
        |policies: &[Policy], c: &Case| !sim.admit(policies, &c.request).denials.is_empty();
    assert!(cases.iter().all(|c| denied(&g.policies, c)));
    let mut uncovered = Vec::new();
    let mut known = Vec::new();
    for (pi, p) in g.policies.iter().enumerate() {
        for (vi, v) in p.validations.iter().enumerate() {
            let mut weakened = g.policies.clone();
            weakened[pi].validations[vi].expression = "true".into();
            let through: Vec<&str> = cases
                .iter()
                .filter(|c| !denied(&weakened, c))
                .map(|c| c.id)
                .collect();
            let exempt = KNOWN_UNCOVERED
                .iter()
                .find(|(kp, km, _)| *kp == p.name && v.message.contains(km));
            match (through.is_empty(), exempt) {
                (true, Some((_, _, why))) => {
                    known.push(format!("{}: {}: {why}", p.name, v.message))
                }
                (true, None) => {
                    uncovered.push(format!("{}: `{}` ({})", p.name, v.expression, v.message))
                }
                (false, Some(_)) => uncovered.push(format!(
                    "{}: {}: listed in KNOWN_UNCOVERED but now caught by {through:?}: remove it",
                    p.name, v.message
                )),
                (false, None) => {}
            }
        }
    }
    for k in &known {
        println!("{engine}: known uncovered: {k}");
    }
    assert!(
        uncovered.is_empty(),
        "{engine}: validations no attack depends on:\n{}",
        uncovered.join("\n")
    );
    assert_eq!(
        known.len(),
        KNOWN_UNCOVERED.len(),
        "{engine}: stale KNOWN_UNCOVERED"
    );
}

/// The Kyverno CLI test trustc emits states the same verdicts as this suite's simulator:
/// every `fail` result is denied by that policy, every `pass` result reaches it and passes.
fn emitted_kyverno_test_agrees_with_the_simulator(engine: &str) {
    let g = generated(engine);
    let (test, resources, username) = &g.kyverno_test;
    assert_eq!(
        username, TENANT_SA,
        "{engine}: userinfo is the tenant reconciler"
    );
    let sim = Sim::new();
    let results = test["results"].as_array().expect("results");
    assert!(results.len() >= 5, "{engine}: {results:?}");
    let flag = match engine {
        "kyverno-cel" => Some("isValidatingPolicy"),
        "vap" => Some("isValidatingAdmissionPolicy"),
        _ => None,
    };
    let (mut fails, mut passes) = (0, 0);
    for r in results {
        let policy = r["policy"].as_str().unwrap();
        match flag {
            Some(f) => assert_eq!(r[f], true, "{engine}: {r}"),
            None => assert_eq!(r["rule"].as_str(), Some(policy), "{engine}: {r}"),
        }
        let expected = r["result"].as_str().unwrap();
        for name in r["resources"].as_array().unwrap() {
            let name = name.as_str().unwrap();
            let object = resources
                .iter()
                .find(|o| o["metadata"]["name"] == name && o["kind"] == r["kind"])
                .unwrap_or_else(|| {
                    panic!("{engine}: the test names `{name}`, which is not in resources.yaml")
                });
            let outcome = sim.admit(&g.policies, &Request::create(username, object.clone()));
            let denied = outcome.denials.iter().any(|d| d.policy == policy);
            match expected {
                "fail" => {
                    assert!(
                        denied,
                        "{engine}: expected {policy} to deny {name}: {outcome:?}"
                    );
                    fails += 1;
                }
                "pass" => {
                    assert!(
                        outcome.applied.iter().any(|p| p == policy) && !denied,
                        "{engine}: expected {policy} to admit {name}: {outcome:?}"
                    );
                    passes += 1;
                }
                other => panic!("{engine}: unexpected result `{other}`"),
            }
        }
    }
    assert!(
        fails >= 5 && passes >= 2,
        "{engine}: {fails} fail, {passes} pass"
    );
}

macro_rules! per_engine {
    ($($module:ident => $engine:literal),* $(,)?) => {$(
        mod $module {
            #[test]
            fn emitted_kyverno_test_agrees_with_the_simulator() {
                super::emitted_kyverno_test_agrees_with_the_simulator($engine);
            }

            #[test]
            fn attacks_are_denied() {
                super::attacks_are_denied($engine);
            }

            #[test]
            fn legitimate_changes_are_allowed() {
                super::legitimate_changes_are_allowed($engine);
            }

            #[test]
            fn every_validation_stops_an_attack() {
                super::every_validation_stops_an_attack($engine);
            }
        }
    )*};
}

per_engine!(kyverno => "kyverno", kyverno_cel => "kyverno-cel", vap => "vap");

/// A policy's name, conditions, variables and validations.
type PolicyCel = (String, Vec<Named>, Vec<Named>, Vec<Check>);

/// The five CEL policies, the same CEL in every engine, and image signatures beside them.
#[test]
fn every_engine_emits_the_same_enforcing_policies() {
    let names: BTreeSet<&str> = [CLUSTER, KINDS, RECON, SOURCES, PODS].into();
    let cel_of = |g: &Generated| -> Vec<PolicyCel> {
        let mut v: Vec<_> = g
            .policies
            .iter()
            .map(|p| {
                (
                    p.name.clone(),
                    p.conditions.clone(),
                    p.variables.clone(),
                    p.validations.clone(),
                )
            })
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    };
    let reference = cel_of(generated("kyverno"));
    for engine in ENGINES {
        let g = generated(engine);
        let got: BTreeSet<&str> = g.policies.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(got, names, "{engine}: the CEL policies");
        assert_eq!(cel_of(g), reference, "{engine}: the same CEL as kyverno");
        assert_image_policies(g);
    }
}

/// Image-signature policies are not simulated (they need a registry): they exist, enforce,
/// and name the registry and its cosign key.
fn assert_image_policies(g: &Generated) {
    fn strings_of(v: &Value, out: &mut String) {
        match v {
            Value::String(s) => out.extend(s.chars().filter(|c| !c.is_whitespace())),
            Value::Array(a) => a.iter().for_each(|x| strings_of(x, out)),
            Value::Object(m) => m.values().for_each(|x| strings_of(x, out)),
            _ => {}
        }
    }
    let key = std::fs::read_to_string(root().join("policy-spec/keys/cosign.pub")).unwrap();
    let key: String = key
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .flat_map(|l| l.trim().chars())
        .collect();
    assert!(
        !g.image_policies.is_empty(),
        "{}: no image-signature policy",
        g.engine
    );
    for doc in &g.image_policies {
        let name = doc["metadata"]["name"].as_str().unwrap_or_default();
        assert!(
            name.starts_with("trustc-verify-images"),
            "{}: {name}",
            g.engine
        );
        let mut text = String::new();
        strings_of(doc, &mut text);
        if name.ends_with("-ghcr") {
            // The shop tenant's keyless registry: its exact issuer.
            assert!(
                text.contains("https://token.actions.githubusercontent.com"),
                "{}: {name} names the keyless issuer",
                g.engine
            );
            continue;
        }
        assert!(
            text.contains(REGISTRY),
            "{}: {name} names {REGISTRY}",
            g.engine
        );
        assert!(
            text.contains(&key),
            "{}: {name} carries the cosign key",
            g.engine
        );
        match doc["kind"].as_str() {
            Some("ClusterPolicy") => {
                for rule in doc["spec"]["rules"].as_array().unwrap() {
                    for v in rule["verifyImages"].as_array().unwrap() {
                        assert_eq!(v["failureAction"], "Enforce", "{}: {name}", g.engine);
                    }
                }
                let rule = doc["spec"]["rules"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|r| r["name"] == "verify-internal")
                    .expect("rule verify-internal");
                let internal = &rule["verifyImages"][0]["attestors"][0]["entries"][0]["keys"];
                assert_eq!(
                    internal["rekor"]["ignoreTlog"], true,
                    "{}: {name}: tlog = false",
                    g.engine
                );
                assert!(
                    !doc["spec"]["webhookConfiguration"]["matchConditions"]
                        .as_array()
                        .unwrap()
                        .is_empty(),
                    "{}: {name}: webhook matchConditions",
                    g.engine
                );
            }
            Some("ImageValidatingPolicy") => {
                assert!(
                    strings(&doc["spec"]["validationActions"], name).contains(&"Deny".into()),
                    "{}: {name} denies",
                    g.engine
                );
                // Issue 7 item 17: init and ephemeral containers are verified too, and the
                // example's `tlog = false` reaches the cosign attestor.
                for list in [
                    "images.containers",
                    "images.initContainers",
                    "images.ephemeralContainers",
                ] {
                    assert!(text.contains(list), "{}: {name} verifies {list}", g.engine);
                }
                assert_eq!(
                    doc["spec"]["attestors"][0]["cosign"]["ctlog"]["insecureIgnoreTlog"], true,
                    "{}: {name}: tlog = false",
                    g.engine
                );
            }
            other => panic!("{}: image policy kind {other:?}", g.engine),
        }
    }
}

/// The RBAC layer under admission: the tenant's reconciler cannot bind cluster roles, write
/// outside its namespace or grant itself more, and can deploy its workload.
#[test]
fn rbac_confines_the_tenant_reconciler() {
    let tenant_sa = Subject::service_account("payments", "payments-reconciler");
    let platform_sa = Subject::service_account("flux-system", "platform-reconciler");
    for engine in ENGINES {
        let m = &generated(engine).rbac;
        let holds = |verb: &str, group: &str, resource: &str, ns: Option<&str>| {
            m.who_can(verb, group, resource, ns)
                .grants
                .iter()
                .any(|g| g.subject == tenant_sa)
        };
        let crb = m.who_can("create", RBAC, "clusterrolebindings", None);
        let payments: Vec<String> = crb
            .grants
            .iter()
            .filter(|g| {
                g.subject.namespace.as_deref() == Some("payments") || g.subject == tenant_sa
            })
            .map(|g| format!("{} via {}", g.subject, g.binding))
            .collect();
        assert!(
            payments.is_empty(),
            "{engine}: {payments:?} can create ClusterRoleBindings"
        );
        // Not vacuous: the platform tier can, and (issue 7 item 12) may bind and create
        // roles it does not hold itself: without `bind`/`escalate` the API server refuses
        // every binding or role granting more than the platform reconciler holds.
        assert!(
            crb.grants.iter().any(|g| g.subject == platform_sa),
            "{engine}: the platform reconciler creates ClusterRoleBindings: {:?}",
            crb.grants
        );
        for verb in ["bind", "escalate"] {
            assert!(
                m.who_can(verb, RBAC, "clusterroles", None)
                    .grants
                    .iter()
                    .any(|g| g.subject == platform_sa),
                "{engine}: the platform reconciler may {verb} clusterroles"
            );
        }
        assert!(
            holds("create", "apps", "deployments", Some("payments")),
            "{engine}"
        );
        assert!(
            holds("update", "", "services", Some("payments")),
            "{engine}"
        );
        for (verb, group, resource, ns) in [
            ("create", "apps", "deployments", Some("other")),
            ("create", "", "namespaces", None),
            ("create", RBAC, "clusterroles", None),
            ("create", RBAC, "rolebindings", Some("payments")),
            ("create", RBAC, "roles", Some("payments")),
            ("escalate", RBAC, "roles", Some("payments")),
            ("bind", RBAC, "clusterroles", None),
            // Helm's storage needs create/update/delete on Secrets of the tenant's own
            // namespace (admission admits only Helm's release Secrets), nothing more.
            ("patch", "", "secrets", Some("payments")),
            ("watch", "", "secrets", Some("payments")),
            ("get", "", "secrets", Some("flux-system")),
            ("list", "", "secrets", Some("flux-system")),
            (
                "create",
                "kustomize.toolkit.fluxcd.io",
                "kustomizations",
                Some("payments"),
            ),
            (
                "create",
                "networking.k8s.io",
                "networkpolicies",
                Some("payments"),
            ),
            ("impersonate", "", "serviceaccounts", Some("flux-system")),
        ] {
            assert!(
                !holds(verb, group, resource, ns),
                "{engine}: the tenant reconciler may {verb} {group}/{resource} in {ns:?}"
            );
        }
    }
}

/// "What the cluster needs to run this output" (docs/threat-model.md), the tenant part, as
/// `trustc access` computes it from the generated RBAC: each tenant's reconciler holds exactly
/// what the Flux operations trustc enables need under impersonation, in each of its
/// namespaces, and nothing else.
///
/// - kustomize-controller apply with server-side apply and prune, on every allowed kind:
///   get (dry-run, drift), create/update/patch (SSA apply; Helm's create and three-way
///   update), delete (prune, uninstall), list/watch (health checks' status readers);
/// - helm-controller (a tenant allowed HelmRelease): Helm's storage Secrets get/list/create/
///   update/delete (helm/helm v4.2.4 `pkg/storage/driver/secrets.go`), and the wait's status
///   readers: list/get ReplicaSets of a Deployment, Pods of a ReplicaSet/StatefulSet/Job
///   (helm-controller v1.6.3 `internal/action/wait.go`, fluxcd/cli-utils
///   `pkg/kstatus/polling/statusreaders`).
#[test]
fn each_tenant_holds_exactly_what_its_flux_operations_need() {
    const APPLY: &[&str] = &[
        "get", "list", "watch", "create", "update", "patch", "delete",
    ];
    const HELM_STORAGE: &[(&str, &str, &[&str])] = &[
        (
            "",
            "secrets",
            &["get", "list", "create", "update", "delete"],
        ),
        ("", "pods", &["get", "list"]),
        ("apps", "replicasets", &["get", "list"]),
    ];
    /// (tenant, its namespaces, (group, resource) of its allowed kinds).
    type TenantKinds<'a> = (&'a str, &'a [&'a str], &'a [(&'a str, &'a str)]);
    let tenants: [TenantKinds<'_>; 2] = [
        (
            "payments",
            &["payments"],
            &[
                ("apps", "deployments"),
                ("apps", "statefulsets"),
                ("", "services"),
                ("", "configmaps"),
                ("helm.toolkit.fluxcd.io", "helmreleases"),
                ("monitoring.coreos.com", "servicemonitors"),
            ],
        ),
        (
            "shop",
            &["shop", "shop-web"],
            &[
                ("apps", "deployments"),
                ("", "services"),
                ("helm.toolkit.fluxcd.io", "helmreleases"),
            ],
        ),
    ];
    for engine in ENGINES {
        let m = &generated(engine).rbac;
        for (name, namespaces, kinds) in tenants {
            let home = namespaces[0];
            let sa = Subject::service_account(home, &format!("{name}-reconciler"));
            let analysis = m.grants_of(&sa);
            assert!(
                analysis.unknown.is_empty(),
                "{engine}: {name}: {:?}",
                analysis.unknown
            );
            let held: BTreeSet<(String, String, String, String)> = analysis
                .grants
                .iter()
                .map(|g| {
                    (
                        g.namespace.clone().unwrap_or_else(|| "<cluster>".into()),
                        g.api_group.clone(),
                        g.resource.clone(),
                        g.verb.clone(),
                    )
                })
                .collect();
            let mut needed = BTreeSet::new();
            for ns in namespaces {
                for (group, resource) in kinds {
                    for verb in APPLY {
                        needed.insert((
                            ns.to_string(),
                            group.to_string(),
                            resource.to_string(),
                            verb.to_string(),
                        ));
                    }
                }
                for (group, resource, verbs) in HELM_STORAGE {
                    for verb in *verbs {
                        needed.insert((
                            ns.to_string(),
                            group.to_string(),
                            resource.to_string(),
                            verb.to_string(),
                        ));
                    }
                }
            }
            let extra: Vec<_> = held.difference(&needed).collect();
            let missing: Vec<_> = needed.difference(&held).collect();
            assert!(
                extra.is_empty() && missing.is_empty(),
                "{engine}: {name}: holds more than its operations need: {extra:?}; lacks: {missing:?}"
            );
        }
    }
}

/// The Helm storage Secret fixture is what Helm writes: `data.release` is base64 of Helm's
/// `encodeRelease` (base64 of gzip of the release JSON, helm/helm v4.2.4
/// `pkg/storage/driver/util.go`), the release's name, version and namespace match the Secret's
/// name and labels (`pkg/storage/driver/secrets.go` `newSecretsObject`, `pkg/storage/storage.go`
/// `makeKey`), and its manifest was rendered by `helm`.
#[test]
fn helm_storage_fixture_is_in_helms_encoding() {
    use base64::Engine as _;
    use std::io::Read as _;
    let secret = helm_secret();
    assert_eq!(secret["type"], "helm.sh/release.v1");
    let b64 = base64::engine::general_purpose::STANDARD;
    let encoded = b64
        .decode(secret["data"]["release"].as_str().expect("data.release"))
        .expect("Kubernetes base64 of data.release");
    let gz = b64.decode(&encoded).expect("Helm's base64 (encodeRelease)");
    assert_eq!(
        &gz[..3],
        &[0x1f, 0x8b, 0x08],
        "Helm's gzip magic (util.go magicGzip)"
    );
    let mut json = String::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_string(&mut json)
        .expect("gzip");
    let release: Value = serde_json::from_str(&json).expect("release JSON");
    let name = release["name"].as_str().expect("name");
    let version = release["version"].as_u64().expect("version");
    assert_eq!(
        secret["metadata"]["name"],
        format!("sh.helm.release.v1.{name}.v{version}")
    );
    assert_eq!(secret["metadata"]["namespace"], release["namespace"]);
    let labels = &secret["metadata"]["labels"];
    assert_eq!(labels["name"], name);
    assert_eq!(labels["owner"], "helm");
    assert_eq!(labels["version"], version.to_string());
    assert_eq!(labels["status"], release["info"]["status"]);
    assert!(
        release["manifest"]
            .as_str()
            .is_some_and(|m| m.contains("# Source: payments-api/templates/")),
        "the manifest is helm template output"
    );
}

/// Keyless identities compare the issuer exactly: Flux's `matchOIDCIdentity` takes regular
/// expressions, so trustc escapes and anchors the spec's issuer; a look-alike issuer does not
/// match (issue 8 item 9).
#[test]
fn keyless_issuer_matches_exactly() {
    for engine in ENGINES {
        let g = generated(engine);
        let oci = g
            .shop
            .iter()
            .find(|d| d["kind"] == "OCIRepository" && d["metadata"]["name"] == "storefront-oci")
            .unwrap_or_else(|| panic!("{engine}: no storefront-oci OCIRepository"));
        let identity = &oci["spec"]["verify"]["matchOIDCIdentity"][0];
        let issuer = regex::Regex::new(identity["issuer"].as_str().unwrap()).unwrap();
        let subject = regex::Regex::new(identity["subject"].as_str().unwrap()).unwrap();
        assert!(issuer.is_match("https://token.actions.githubusercontent.com"));
        for evil in [
            "https://token.actions.githubusercontent.com.evil.io",
            "https://tokenXactions.githubusercontent.com",
            "https://evil.io/https://token.actions.githubusercontent.com",
            "https://token.actions.githubusercontent.com@evil.io",
        ] {
            assert!(!issuer.is_match(evil), "{engine}: issuer matches {evil}");
        }
        let main =
            "https://github.com/example/storefront/.github/workflows/release.yml@refs/heads/main";
        assert!(subject.is_match(main));
        for evil in [
            "https://github.com/example/storefront/.github/workflows/release.yml@refs/heads/main-evil",
            "https://github.com/evil/x/https://github.com/example/storefront/.github/workflows/release.yml@refs/heads/main",
        ] {
            assert!(!subject.is_match(evil), "{engine}: subject matches {evil}");
        }
    }
}

/// Issue 7 item 14: the wiring README.md and docs/threat-model.md document, built with the
/// real `kubectl kustomize` over the real Flux v2.9.4 install (`../shared/upstream/flux-2.9`):
/// the entry point `trustc-production` applies `./generated/production` and names a service
/// account (under `--default-service-account=default` one without applies nothing). Skips when
/// the shared directory or kubectl is missing.
#[test]
fn documented_wiring_builds_over_the_real_flux_install() {
    let shared = std::env::var_os("TRUSTC_SHARED")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| root().join("../shared"));
    let install = shared.join("upstream/flux-2.9/install.yaml");
    let tools = shared.join("tools/get-kube-tools");
    if !install.is_file() || !tools.is_file() {
        crate::support::skip(&format!(
            "needs {} and {}",
            install.display(),
            tools.display()
        ));
        return;
    }
    // `$KUBECTL` as the README says, else the shared tools' kubectl.
    let kubectl = match std::env::var("KUBECTL") {
        Ok(k) if !k.is_empty() => k,
        _ => match std::process::Command::new("bash")
            .arg(&tools)
            .arg("--kubectl")
            .output()
        {
            Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).trim().to_string(),
            _ => {
                crate::support::skip("get-kube-tools could not provide kubectl");
                return;
            }
        },
    };
    let dir = tempfile::tempdir().unwrap();
    let fs = dir.path().join("clusters/production/flux-system");
    std::fs::create_dir_all(&fs).unwrap();
    std::fs::copy(&install, fs.join("gotk-components.yaml")).unwrap();
    let out = dir.path().join("generated");
    let code = trustc::cli::run([
        "trustc",
        "generate",
        "--spec",
        &root().join("policy-spec/trust.toml").display().to_string(),
        "--out",
        &out.display().to_string(),
    ]);
    assert_eq!(code, 0);
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let block = readme
        .split("```yaml\n")
        .skip(1)
        .find(|b| b.contains("flux-system-sync"))
        .and_then(|b| b.split("```").next())
        .expect("README documents the wiring in a yaml block");
    std::fs::write(
        fs.join("kustomization.yaml"),
        format!(
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n{}",
            block.replace("- gotk-sync.yaml\n", "")
        ),
    )
    .unwrap();
    let built = std::process::Command::new(&kubectl)
        .arg("kustomize")
        .arg(&fs)
        .output()
        .unwrap();
    assert!(
        built.status.success(),
        "kubectl kustomize: {}",
        String::from_utf8_lossy(&built.stderr)
    );
    let docs = trustc::verify::parse_documents(&String::from_utf8_lossy(&built.stdout)).unwrap();
    let sync = docs
        .iter()
        .find(|d| d["kind"] == "Kustomization" && d["metadata"]["name"] == "trustc-production")
        .expect("the entry point is built");
    assert_eq!(sync["metadata"]["namespace"], "flux-system");
    assert_eq!(sync["spec"]["path"], "./generated/production");
    assert_eq!(sync["spec"]["serviceAccountName"], "kustomize-controller");
    // The service account it names exists in the install and is what Flux binds cluster-admin.
    assert!(docs.iter().any(|d| d["kind"] == "ServiceAccount"
        && d["metadata"]["name"] == "kustomize-controller"
        && d["metadata"]["namespace"] == "flux-system"));
    assert!(docs.iter().any(|d| {
        d["kind"] == "ClusterRoleBinding"
            && d["roleRef"]["name"] == "cluster-admin"
            && d["subjects"]
                .as_array()
                .is_some_and(|s| s.iter().any(|x| x["name"] == "kustomize-controller"))
    }));
}
