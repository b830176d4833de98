//! Model stage: a [`ValidSpec`](crate::check::ValidSpec) resolved into the [`Policy`] the
//! templates read: tenants × environments with every default applied, every reference
//! resolved, every placeholder filled, and the admission policies written once as CEL.
//!
//! Nothing downstream recomputes policy: templates only lay these values out as YAML.

mod admission;
mod network;
mod resolve;

pub use admission::{AdmissionPolicy, NamedExpr, ResourceRule, Validation};
pub(crate) use resolve::helm_rules;
pub use resolve::resolve;

use serde::Serialize;

use crate::kinds::KindInfo;

/// Verbs a tenant gets on each allowed kind.
pub const TENANT_VERBS: &[&str] = &[
    "get", "list", "watch", "create", "update", "patch", "delete",
];
/// Verbs on Secrets when a tenant opts in: never list/watch (list returns contents).
pub const SECRET_VERBS: &[&str] = &["get", "create", "update", "patch", "delete"];

/// Verbs Helm's storage driver uses on its release Secrets (type `helm.sh/release.v1`), run by
/// helm-controller on the impersonated client: `Get`, `List` (label selector `owner=helm`),
/// `Create`, `Update`, `Delete` (helm/helm v4.2.4 `pkg/storage/driver/secrets.go`, the
/// driver helm-controller v1.6.3 builds in `internal/action/config.go` `WithStorage` with
/// `helmdriver.NewSecrets(clientSet.CoreV1().Secrets(namespace))`).
pub const HELM_STORAGE_VERBS: &[&str] = &["get", "list", "create", "update", "delete"];

/// Verbs helm-controller's wait (kstatus polling with a direct cluster reader on the
/// impersonated client, helm-controller v1.6.3 `internal/action/wait.go` and
/// `internal/controller/helmrelease_controller.go` `newResourceManager`) needs on the objects
/// the status readers look up beside the release's own: ReplicaSets of a Deployment, Pods of a
/// ReplicaSet/StatefulSet/Job (fluxcd/cli-utils `pkg/kstatus/polling/statusreaders`).
pub const HELM_WAIT_VERBS: &[&str] = &["get", "list"];

/// Pod Security Admission version the tenant namespaces pin when the spec names none: the
/// target Kubernetes minor (kubernetes/pod-security-admission v0.37 `policy/`, whose
/// `check_sysctls.go` adds a 1.37 allow-list).
pub const DEFAULT_POD_SECURITY_VERSION: &str = "v1.37";

/// Which admission engine the policies are emitted for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Engine {
    /// kyverno.io/v1 ClusterPolicy with `validate.cel` and `verifyImages`.
    Kyverno,
    /// policies.kyverno.io/v1 ValidatingPolicy + ImageValidatingPolicy.
    KyvernoCel,
    /// admissionregistration.k8s.io/v1 ValidatingAdmissionPolicy + binding (signatures via Kyverno).
    Vap,
}

/// The whole compiled trust model.
#[derive(Clone, Debug, Serialize)]
pub struct Policy {
    /// The spec file as the user named it, for the generated-file header.
    pub spec_path: String,
    pub flux: Flux,
    pub engine: Engine,
    pub kyverno_version: String,
    pub environments: Vec<Env>,
    /// The output directory as the Flux source sees it (repository-relative, no `./`): the
    /// entry-point Kustomization applies `./<generated_path>/<env>`.
    pub generated_path: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Flux {
    pub namespace: String,
    pub version: String,
    pub api_server_cidrs: Vec<String>,
    pub policy_namespace: String,
    pub monitoring_namespace: String,
    pub pod_security_version: String,
    pub git_interval: String,
    pub known_hosts: Option<String>,
    pub secret_store: String,
    pub alerts: Option<Alerts>,
    /// apiVersions this Flux release serves for what trustc emits.
    pub api: FluxApi,
    /// DNS peers of the egress lock-down.
    pub dns: Dns,
    /// Flags the lock-down appends to each controller (see `crate::flux`).
    pub lockdown: Vec<ControllerArgs>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Dns {
    /// The kube-dns pods (`k8s-app: kube-dns` in kube-system).
    pub kube_dns: bool,
    /// Other DNS servers, e.g. NodeLocal DNSCache's 169.254.20.10/32.
    pub cidrs: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ControllerArgs {
    pub controller: String,
    pub args: Vec<String>,
}

/// One destination outside the cluster that some Flux controllers connect to.
#[derive(Clone, Debug, Serialize)]
pub struct EgressDestination {
    /// The host as the spec names it (or a description for providers trustc cannot see).
    pub host: String,
    /// NetworkPolicy name.
    pub policy: String,
    pub controllers: Vec<String>,
    /// Addresses; empty means every address (a NetworkPolicy cannot match a host name).
    pub cidrs: Vec<String>,
    pub ports: Vec<u16>,
}

#[derive(Clone, Debug, Serialize)]
pub struct FluxApi {
    pub source: &'static str,
    pub kustomize: &'static str,
    pub helm: &'static str,
    pub image: &'static str,
    pub notification: &'static str,
}

#[derive(Clone, Debug, Serialize)]
pub struct Alerts {
    pub prometheus: bool,
    pub for_: String,
    pub provider: Option<String>,
    pub channel: Option<String>,
    pub secret: Option<String>,
    /// Store path of the provider secret (`{tenant}` unfilled).
    pub secret_path: Option<String>,
    pub ksm_namespace: String,
    pub ksm_service_account: String,
}

/// One environment: what its Flux instance runs.
#[derive(Clone, Debug, Serialize)]
pub struct Env {
    pub name: String,
    pub branch: String,
    pub production: bool,
    pub platform: Platform,
    pub tenants: Vec<Tenant>,
    pub admission: Vec<AdmissionPolicy>,
    /// Registries with keys whose images are verified at admission, with the tenant
    /// namespaces that pull from them.
    pub image_verification: Vec<ImageVerification>,
    /// Every tenant namespace of this environment (sorted).
    pub tenant_namespaces: Vec<String>,
    /// CEL `request.namespace in [...]` over `tenant_namespaces`: the webhook match condition
    /// of the image-signature policy.
    pub tenant_namespaces_condition: String,
    /// Every tenant service-account username (`system:serviceaccount:ns:name`), sorted.
    pub tenant_usernames: Vec<String>,
    /// Where the Flux controllers may connect outside the cluster.
    pub egress: Vec<EgressDestination>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Signer {
    pub name: String,
    pub email: String,
    pub fingerprint: String,
    /// Secret key: `<name>.asc`.
    pub secret_key: String,
    pub armored: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Platform {
    pub namespace: String,
    pub service_account: String,
    pub repository: String,
    pub path: String,
    pub branch: String,
    pub signers: Vec<Signer>,
    pub signers_secret: String,
    pub git_secret: String,
    pub deploy_key_path: String,
    pub cluster_rules: Vec<RbacRule>,
    /// The tier manages RBAC (`bind`/`escalate` granted): it is cluster-admin-equivalent.
    pub manages_rbac: bool,
}

/// One RBAC rule: a group, its resources, verbs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RbacRule {
    pub api_group: String,
    pub resources: Vec<String>,
    pub verbs: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Tenant {
    pub name: String,
    pub namespaces: Vec<String>,
    /// Where the tenant's Flux objects live (its first namespace).
    pub home: String,
    pub service_account: String,
    pub username: String,
    pub repository: String,
    pub path: String,
    pub branch: String,
    pub signers: Vec<Signer>,
    pub signers_secret: String,
    pub git_secret: String,
    pub deploy_key_path: String,
    pub kinds: Vec<KindInfo>,
    pub rules: Vec<RbacRule>,
    pub registries: Vec<Registry>,
    pub images: Vec<Image>,
    pub charts: Vec<Chart>,
    pub allow_secrets: bool,
    pub allow_network_policies: bool,
    /// `helm.toolkit.fluxcd.io/HelmRelease` is an allowed kind: the Role carries what Helm's
    /// storage and wait need, admission admits Helm's storage Secrets.
    pub helm: bool,
    /// One Flux Kustomization per tenant namespace (all in `home`, where the GitRepository
    /// is), each confined to its namespace by `targetNamespace`.
    pub syncs: Vec<Sync>,
}

/// One tenant Kustomization: `name` in the tenant's home namespace, applying `path` into
/// `target_namespace`.
#[derive(Clone, Debug, Serialize)]
pub struct Sync {
    pub name: String,
    pub path: String,
    pub target_namespace: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Registry {
    pub name: String,
    pub host: String,
    pub cosign_key: Option<String>,
    pub keyless: Option<Keyless>,
    /// Whether signatures are checked against a transparency log (Rekor). Defaults: `false`
    /// for a key (as Flux's source-controller verifies keyed signatures), `true` for keyless.
    pub tlog: bool,
    /// The Rekor instance; `None`: the public one (`https://rekor.sigstore.dev`).
    pub rekor_url: Option<String>,
}

impl Registry {
    pub fn signed(&self) -> bool {
        self.cosign_key.is_some() || self.keyless.is_some()
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Keyless {
    pub issuer: String,
    pub subject: String,
    /// `^<issuer>$` with every regex metacharacter escaped: the exact issuer for Flux's
    /// `matchOIDCIdentity`, which only takes regular expressions (a raw `https://x.y` would
    /// also match `https://xzy` and `https://x.y.evil.io`).
    pub issuer_regex: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Image {
    pub name: String,
    pub repository: String,
    pub semver: String,
    pub tag_pattern: Option<String>,
    pub extract: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Chart {
    pub name: String,
    /// `OCIRepository` or `HelmRepository`.
    pub source_kind: &'static str,
    pub url: String,
    pub version: String,
    /// For OCI charts from a signed registry: how to verify.
    pub verify: Option<Registry>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ImageVerification {
    pub registry: Registry,
    pub namespaces: Vec<String>,
    /// CEL match condition selecting requests in those namespaces.
    pub match_condition: String,
}
