//! The trust model as written: spanned, unvalidated. Field names are the contract's keys.
//!
//! These types derive `JsonSchema` only; they are filled by the spanned reader in
//! `spec::read` (which reports every shape problem at once, something serde cannot do).
//! The `#[serde(...)]` attributes here shape the JSON Schema (`trustc schema`).

use indexmap::IndexMap;
use schemars::JsonSchema;

use super::Sp;

/// `policy-spec/trust.toml`: the trust model of a cluster fleet.
#[derive(Clone, Debug, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "trustc trust model")]
pub struct TrustModel {
    /// Version of this file format; only `1` exists.
    #[schemars(extend("enum" = [1], "examples" = [1]))]
    pub version: Sp<i64>,
    /// The Flux installation the output targets and locks down.
    #[serde(default)]
    pub flux: Flux,
    /// The admission engine the policies are emitted for.
    #[serde(default)]
    pub admission: Admission,
    /// Git settings shared by every GitRepository.
    #[serde(default)]
    pub git: Git,
    /// Where the tenants' deploy keys live (external-secrets).
    pub secrets: Secrets,
    /// Monitoring and notifications of reconciliation failures.
    pub alerts: Option<Alerts>,
    /// Commit signers, by name.
    #[serde(default)]
    #[schemars(extend("propertyNames" = {"pattern": "^[A-Za-z0-9_.-]+$"}))]
    pub signers: IndexMap<String, Signer>,
    /// Image registries, by name.
    #[serde(default)]
    #[schemars(extend("propertyNames" = {"pattern": DNS_LABEL, "maxLength": 40}))]
    pub registries: IndexMap<String, Registry>,
    /// Environments (one Flux instance each), by name.
    #[schemars(extend("propertyNames" = {"pattern": DNS_LABEL, "maxLength": 40}))]
    pub environments: IndexMap<String, Environment>,
    /// The platform tier: the one repository that may manage cluster-scoped objects.
    pub platform: Platform,
    /// Tenants (teams), by name.
    #[serde(default)]
    #[schemars(extend("propertyNames" = {"pattern": DNS_LABEL}))]
    pub tenants: IndexMap<String, Tenant>,
    /// Kinds not in the built-in table, keyed `group/Kind`.
    #[serde(default)]
    pub kinds: IndexMap<String, KindDef>,
    /// Names of the spans of table headers (for diagnostics); not part of the schema.
    #[serde(skip)]
    #[schemars(skip)]
    pub headers: Headers,
}

/// Spans of the tables/keys that name things, for secondary labels.
#[derive(Clone, Debug, Default)]
pub struct Headers {
    pub signers: IndexMap<String, crate::diag::Span>,
    pub registries: IndexMap<String, crate::diag::Span>,
    pub environments: IndexMap<String, crate::diag::Span>,
    pub tenants: IndexMap<String, crate::diag::Span>,
    pub kinds: IndexMap<String, crate::diag::Span>,
    pub platform: Option<crate::diag::Span>,
    pub flux: Option<crate::diag::Span>,
    /// Some entry could not be read (its problems are reported): the model is checked but
    /// never compiled, and rules that need the whole model skip.
    pub incomplete: bool,
    /// Optional tables that could not be read and are checked as absent.
    pub unread: std::collections::BTreeSet<&'static str>,
}

#[derive(Clone, Debug, Default, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Flux {
    /// Namespace the Flux controllers run in (default `flux-system`).
    #[schemars(extend("default" = "flux-system", "pattern" = DNS_LABEL, "maxLength" = 63))]
    pub namespace: Option<Sp<String>>,
    /// Flux release the output targets: "2.7" to "2.9" (default "2.9").
    #[schemars(extend("enum" = FLUX_VERSIONS, "default" = "2.9"))]
    pub version: Option<Sp<String>>,
    /// kube-apiserver addresses (CIDRs) that the Flux controllers must still reach once
    /// egress is locked down, e.g. `["10.96.0.1/32"]`; required (check refuses it empty).
    #[serde(default)]
    #[schemars(extend("examples" = [["10.96.0.1/32"]]))]
    pub api_server_cidrs: Vec<Sp<String>>,
    /// Namespace of the policy engine (default `kyverno`); reserved for tenants.
    #[schemars(extend("default" = "kyverno", "pattern" = DNS_LABEL, "maxLength" = 63))]
    pub policy_namespace: Option<Sp<String>>,
    /// Namespace of the monitoring stack (default `monitoring`); reserved for tenants.
    #[schemars(extend("default" = "monitoring", "pattern" = DNS_LABEL, "maxLength" = 63))]
    pub monitoring_namespace: Option<Sp<String>>,
    /// Pod Security Standards version pinned on tenant namespaces (default "v1.35"):
    /// `latest` or `v1.N`.
    #[schemars(extend("default" = "v1.35", "pattern" = "^(latest|v1\\.(0|[1-9][0-9]*))$"))]
    pub pod_security_version: Option<Sp<String>>,
    /// Where the lock-down lets the controllers connect (DNS, named destinations).
    pub egress: Option<FluxEgress>,
}

/// `[flux.egress]`: the peers of the flux-system egress lock-down. A NetworkPolicy matches
/// IP blocks, never host names: without `cidrs`, a destination is opened on its ports to
/// every address.
#[derive(Clone, Debug, Default, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FluxEgress {
    /// Allow DNS to the kube-dns pods (`k8s-app: kube-dns` in kube-system; default true).
    pub kube_dns: Option<Sp<bool>>,
    /// Other DNS servers (CIDRs, UDP and TCP 53). Default `["169.254.20.10/32"]`, NodeLocal
    /// DNSCache's address.
    pub dns_cidrs: Option<Vec<Sp<String>>>,
    /// The cluster's Service CIDR (default "10.96.0.0/12"): `check` warns when every
    /// `api_server_cidrs` entry lies inside it (a Service IP; policies see the endpoint).
    pub service_cidr: Option<Sp<String>>,
    /// Destinations by host: the addresses a host name stands for.
    #[serde(default)]
    pub destinations: Vec<Destination>,
}

/// `[[flux.egress.destinations]]`: one host the controllers connect to.
#[derive(Clone, Debug, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Destination {
    /// Host name as the spec's URLs write it (Git host, registry, chart host), or any other
    /// host (a KMS, the alert provider) with `ports` and `controllers`.
    pub host: Sp<String>,
    /// The host's addresses (CIDRs); egress to the host is limited to them.
    #[serde(default)]
    pub cidrs: Vec<Sp<String>>,
    /// Extra TCP ports (the spec's URLs already give theirs).
    #[serde(default)]
    pub ports: Vec<Sp<i64>>,
    /// Extra controllers that connect to it (e.g. "notification-controller").
    #[serde(default)]
    pub controllers: Vec<Sp<String>>,
}

#[derive(Clone, Debug, Default, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Admission {
    /// "kyverno" (ClusterPolicy, default), "kyverno-cel" (ValidatingPolicy +
    /// ImageValidatingPolicy) or "vap" (ValidatingAdmissionPolicy).
    #[schemars(extend("enum" = ENGINES, "default" = "kyverno"))]
    pub engine: Option<Sp<String>>,
    /// Kyverno release the policies target (default "1.19").
    #[schemars(extend("enum" = KYVERNO_VERSIONS, "default" = "1.19"))]
    pub kyverno_version: Option<Sp<String>>,
}

#[derive(Clone, Debug, Default, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Git {
    /// SSH known_hosts line(s) of the Git server, written into each deploy-key Secret.
    #[schemars(extend("examples" = ["github.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"]))]
    pub known_hosts: Option<Sp<String>>,
    /// Reconciliation interval of GitRepositories (default "1m"): a Go duration.
    #[schemars(extend("default" = "1m", "pattern" = DURATION))]
    pub interval: Option<Sp<String>>,
}

#[derive(Clone, Debug, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Secrets {
    /// external-secrets ClusterSecretStore that holds the deploy keys.
    #[schemars(extend("examples" = ["vault-backend"]))]
    pub store: Sp<String>,
    /// Path of each deploy key in the store; `{tenant}` (required) and `{env}` are replaced.
    #[schemars(extend("examples" = ["flux/{tenant}/deploy-key"]))]
    pub deploy_key_path: Sp<String>,
}

#[derive(Clone, Debug, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Alerts {
    /// Emit a PrometheusRule and the kube-state-metrics config it needs.
    #[schemars(extend("default" = false))]
    pub prometheus: Option<Sp<bool>>,
    /// How long a condition must hold before an alert fires (default "5m"): a Go duration.
    #[serde(rename = "for")]
    #[schemars(extend("default" = "5m", "pattern" = DURATION))]
    pub for_: Option<Sp<String>>,
    /// Flux notification Provider type (e.g. "slack"); with it, a Provider and an Alert per
    /// tenant are emitted.
    #[schemars(extend("enum" = ALERT_PROVIDERS))]
    pub provider: Option<Sp<String>>,
    /// Channel of the Provider (e.g. a Slack channel).
    #[schemars(extend("examples" = ["gitops-alerts"]))]
    pub channel: Option<Sp<String>>,
    /// Secret (in the Flux namespace) with the provider's address/token.
    #[schemars(extend("examples" = ["slack-webhook"]))]
    pub secret: Option<Sp<String>>,
    /// Path in the secret store of the provider secret, copied by an ExternalSecret into
    /// each namespace with a Provider; `{tenant}` is replaced (default "flux/alerts/<secret>").
    pub secret_path: Option<Sp<String>>,
    /// kube-state-metrics' ServiceAccount, `namespace/name`, bound to list/watch Flux objects
    /// (default "<monitoring_namespace>/kube-state-metrics").
    pub kube_state_metrics: Option<Sp<String>>,
}

#[derive(Clone, Debug, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Signer {
    /// The signer's e-mail address (for reviewers; not matched against commits).
    #[schemars(extend("examples" = ["alice@example.com"]))]
    pub email: Sp<String>,
    /// The signer's public key file, relative to the spec file: an ASCII-armoured OpenPGP key,
    /// or (Flux 2.9 and later) an SSH public key in authorized_keys format (`ssh-keygen`'s
    /// `.pub`), put in the signers Secret as `<name>.asc` or `<name>.sshpub`.
    #[schemars(extend("examples" = ["keys/alice.asc", "keys/carol.pub"]))]
    pub key: Sp<String>,
    /// Optional pin: 40 hex digits of an OpenPGP key's fingerprint (spaces allowed), or an
    /// SSH key's `SHA256:…` fingerprint as `ssh-keygen -lf` prints it.
    #[schemars(extend("pattern" = "^([0-9A-Fa-f ]+|SHA256:[A-Za-z0-9+/]+)$", "examples" = ["3189CA101E7495F9E0BAE529824D14E987CAB476"]))]
    pub fingerprint: Option<Sp<String>>,
}

#[derive(Clone, Debug, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Registry {
    /// Registry host, `HOST` or `HOST:PORT`, without scheme or path.
    #[schemars(extend("pattern" = HOST, "examples" = ["registry.example.com"]))]
    pub host: Sp<String>,
    /// PEM public key that signs the registry's images (cosign).
    #[schemars(extend("examples" = ["keys/cosign.pub"]))]
    pub cosign_key: Option<Sp<String>>,
    /// Keyless (Sigstore) identity that signs the registry's images.
    pub keyless: Option<Keyless>,
    /// Check signatures against a transparency log (Rekor). Default: `false` with
    /// `cosign_key` (Flux verifies keyed signatures offline), `true` with `keyless`.
    pub tlog: Option<Sp<bool>>,
    /// The Rekor instance to check (default: the public `https://rekor.sigstore.dev`).
    pub rekor_url: Option<Sp<String>>,
}

#[derive(Clone, Debug, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Keyless {
    /// OIDC issuer URL (https), e.g. `https://token.actions.githubusercontent.com`.
    #[schemars(extend("pattern" = "^https://", "examples" = ["https://token.actions.githubusercontent.com"]))]
    pub issuer: Sp<String>,
    /// Regular expression (RE2) of the certificate subject; every alternative anchored `^…$`.
    #[schemars(extend("examples" = ["^https://github\\.com/example/[^/]+/\\.github/workflows/release\\.yml@refs/heads/main$"]))]
    pub subject: Sp<String>,
}

#[derive(Clone, Debug, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Environment {
    /// Branch Flux follows in this environment.
    #[schemars(extend("examples" = ["main"]))]
    pub branch: Sp<String>,
    /// Signed commits and signed images become mandatory.
    #[schemars(extend("default" = false))]
    pub production: Option<Sp<bool>>,
}

#[derive(Clone, Debug, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Platform {
    /// Git repository URL, `ssh://git@HOST/ORG/REPO.git` (https:// is warned about).
    #[schemars(extend("examples" = ["ssh://git@github.com/example/platform.git"]))]
    pub repository: Sp<String>,
    /// Path in the repository; `{env}` is replaced.
    #[schemars(extend("examples" = ["./clusters/{env}/platform"]))]
    pub path: Sp<String>,
    /// Names of the `[signers]` whose signed commits the platform applies.
    #[serde(default)]
    #[schemars(extend("examples" = [["alice"]]))]
    pub signers: Vec<Sp<String>>,
    /// Cluster-scoped kinds the platform tier may manage (`group/Kind`).
    #[serde(default)]
    #[schemars(extend("examples" = [["Namespace", "rbac.authorization.k8s.io/ClusterRole"]]))]
    pub cluster_kinds: Vec<Sp<String>>,
}

#[derive(Clone, Debug, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Tenant {
    /// The tenant's namespaces (DNS-1123 labels); the first is its home.
    #[schemars(extend("items" = {"type": "string", "pattern": DNS_LABEL, "maxLength": 63}, "examples" = [["payments"]]))]
    pub namespaces: Vec<Sp<String>>,
    /// Git repository URL, `ssh://git@HOST/ORG/REPO.git` (https:// is warned about).
    #[schemars(extend("examples" = ["ssh://git@github.com/example/team.git"]))]
    pub repository: Sp<String>,
    /// Path in the repository; `{env}` and `{tenant}` are replaced.
    #[schemars(extend("examples" = ["./clusters/{env}"]))]
    pub path: Sp<String>,
    /// Names of the `[environments]` the tenant is deployed to.
    #[schemars(extend("examples" = [["staging", "production"]]))]
    pub environments: Vec<Sp<String>>,
    /// Names of the `[signers]` whose signed commits the tenant's sources verify.
    #[serde(default)]
    #[schemars(extend("examples" = [["alice", "bob"]]))]
    pub signers: Vec<Sp<String>>,
    /// Names of the `[registries]` the tenant's images and OCI charts may come from.
    #[serde(default)]
    #[schemars(extend("examples" = [["internal"]]))]
    pub registries: Vec<Sp<String>>,
    /// Kinds the tenant may deploy (`group/Kind`, core kinds bare).
    #[schemars(extend("examples" = [["apps/Deployment", "Service", "ConfigMap"]]))]
    pub allowed_kinds: Vec<Sp<String>>,
    /// Opt-in: the tenant may manage Secrets (never list/watch).
    #[schemars(extend("default" = false))]
    pub allow_secrets: Option<Sp<bool>>,
    /// Opt-in: the tenant may manage NetworkPolicies (they are additive allow-lists).
    #[schemars(extend("default" = false))]
    pub allow_network_policies: Option<Sp<bool>>,
    /// Image automation: the tags Flux may pick for each image.
    #[serde(default)]
    pub images: Vec<Image>,
    /// Helm charts the tenant may install, and from where.
    #[serde(default)]
    pub charts: Vec<Chart>,
}

#[derive(Clone, Debug, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Image {
    /// Name of the ImageRepository/ImagePolicy (DNS-1123 label).
    #[schemars(extend("pattern" = DNS_LABEL, "maxLength" = 63, "examples" = ["api"]))]
    pub name: Sp<String>,
    /// Image repository, `host/path`; the host must be one of the tenant's registries.
    #[schemars(extend("examples" = ["registry.example.com/payments/api"]))]
    pub repository: Sp<String>,
    /// Semver range of tags automation may pick (Masterminds/semver v3 syntax).
    #[schemars(extend("examples" = [">=1.0.0 <2.0.0"]))]
    pub semver: Sp<String>,
    /// Regular expression (RE2) tags must match; every alternative anchored `^…$`.
    #[schemars(extend("examples" = ["^v(?P<version>[0-9]+\\.[0-9]+\\.[0-9]+)$"]))]
    pub tag_pattern: Option<Sp<String>>,
    /// `$name` of a named capture group of `tag_pattern`, the part compared as a version.
    #[schemars(extend("examples" = ["$version"]))]
    pub extract: Option<Sp<String>>,
}

#[derive(Clone, Debug, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Chart {
    /// Name of the chart (DNS-1123 label).
    #[schemars(extend("pattern" = DNS_LABEL, "maxLength" = 63, "examples" = ["api"]))]
    pub name: Sp<String>,
    /// `oci://host/path` (an OCIRepository) or `https://…` (a HelmRepository).
    #[schemars(extend("pattern" = "^(oci|https)://", "examples" = ["oci://registry.example.com/charts/api"]))]
    pub repository: Sp<String>,
    /// Semver range of chart versions (Masterminds/semver v3 syntax).
    #[schemars(extend("examples" = ["~1.4"]))]
    pub version: Sp<String>,
}

#[derive(Clone, Debug, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KindDef {
    /// Plural resource name, as RBAC spells it.
    #[schemars(extend("examples" = ["servicemonitors"]))]
    pub resource: Sp<String>,
    /// Whether objects of the kind live in a namespace.
    #[schemars(extend("examples" = [true]))]
    pub namespaced: Sp<bool>,
}

// ---------------------------------------------------------------------------------------
// Fixed sets of values: checked by `check` at the spec's line (with a "did you mean") and
// emitted as `enum` in the JSON Schema, from these same lists.
// ---------------------------------------------------------------------------------------

/// `flux.version`: the Flux releases trustc emits for.
pub const FLUX_VERSIONS: &[&str] = &["2.7", "2.8", "2.9"];
/// `admission.engine`.
pub const ENGINES: &[&str] = &["kyverno", "kyverno-cel", "vap"];
/// `admission.kyverno_version`: per-rule failureAction needs 1.13; ClusterPolicy removal is
/// planned for 1.20.
pub const KYVERNO_VERSIONS: &[&str] = &["1.13", "1.14", "1.15", "1.16", "1.17", "1.18", "1.19"];
/// `alerts.provider`: the Provider `.spec.type` enum of notification-controller v1.9.3
/// (fluxcd/notification-controller `api/v1beta3/provider_types.go`,
/// `+kubebuilder:validation:Enum`), in upstream's order.
pub const ALERT_PROVIDERS: &[&str] = &[
    "slack",
    "discord",
    "msteams",
    "rocket",
    "generic",
    "generic-hmac",
    "github",
    "gitlab",
    "gitea",
    "giteapullrequestcomment",
    "bitbucketserver",
    "bitbucket",
    "azuredevops",
    "googlechat",
    "googlepubsub",
    "webex",
    "sentry",
    "azureeventhub",
    "telegram",
    "lark",
    "matrix",
    "opsgenie",
    "alertmanager",
    "grafana",
    "githubdispatch",
    "githubpullrequestcomment",
    "gitlabmergerequestcomment",
    "pagerduty",
    "datadog",
    "nats",
    "zulip",
    "otel",
];

/// A DNS-1123 label (namespaces, object names).
pub const DNS_LABEL: &str = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";
/// A Go duration (`time.ParseDuration`, unsigned): `1m`, `1h30m`, `1.5s`.
pub const DURATION: &str = "^([0-9.]+(ns|us|µs|ms|s|m|h))+$";
/// A registry host: `HOST` or `HOST:PORT`.
pub const HOST: &str = "^[A-Za-z0-9-]+(\\.[A-Za-z0-9-]+)*(:[0-9]{1,5})?$";
