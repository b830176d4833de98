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
    pub version: Sp<i64>,
    #[serde(default)]
    pub flux: Flux,
    #[serde(default)]
    pub admission: Admission,
    #[serde(default)]
    pub git: Git,
    pub secrets: Secrets,
    pub alerts: Option<Alerts>,
    /// Commit signers, by name.
    #[serde(default)]
    pub signers: IndexMap<String, Signer>,
    /// Image registries, by name.
    #[serde(default)]
    pub registries: IndexMap<String, Registry>,
    /// Environments (one Flux instance each), by name.
    pub environments: IndexMap<String, Environment>,
    pub platform: Platform,
    /// Tenants (teams), by name.
    #[serde(default)]
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
}

#[derive(Clone, Debug, Default, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Flux {
    /// Namespace the Flux controllers run in (default `flux-system`).
    pub namespace: Option<Sp<String>>,
    /// Flux release the output targets: "2.7" to "2.9" (default "2.9").
    pub version: Option<Sp<String>>,
    /// kube-apiserver addresses (CIDRs) that source-controller must still reach.
    #[serde(default)]
    pub api_server_cidrs: Vec<Sp<String>>,
    /// Namespace of the policy engine (default `kyverno`); reserved for tenants.
    pub policy_namespace: Option<Sp<String>>,
    /// Namespace of the monitoring stack (default `monitoring`); reserved for tenants.
    pub monitoring_namespace: Option<Sp<String>>,
    /// Pod Security Standards version pinned on tenant namespaces (default "v1.35").
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
    pub engine: Option<Sp<String>>,
    /// Kyverno release the policies target (default "1.19").
    pub kyverno_version: Option<Sp<String>>,
}

#[derive(Clone, Debug, Default, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Git {
    /// SSH known_hosts line(s) of the Git server.
    pub known_hosts: Option<Sp<String>>,
    /// Reconciliation interval of GitRepositories (default "1m").
    pub interval: Option<Sp<String>>,
}

#[derive(Clone, Debug, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Secrets {
    /// external-secrets ClusterSecretStore that holds the deploy keys.
    pub store: Sp<String>,
    /// Path of each deploy key in the store; `{tenant}` is replaced.
    pub deploy_key_path: Sp<String>,
}

#[derive(Clone, Debug, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Alerts {
    /// Emit a PrometheusRule and the kube-state-metrics config it needs.
    pub prometheus: Option<Sp<bool>>,
    /// How long a condition must hold before an alert fires (default "5m").
    #[serde(rename = "for")]
    pub for_: Option<Sp<String>>,
    /// Flux notification Provider type (e.g. "slack").
    pub provider: Option<Sp<String>>,
    pub channel: Option<Sp<String>>,
    /// Secret (in the Flux namespace) with the provider's address/token.
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
    pub email: Sp<String>,
    /// ASCII-armoured OpenPGP public key, relative to the spec file.
    pub key: Sp<String>,
    /// Optional pin: 40 hex digits of the key's fingerprint.
    pub fingerprint: Option<Sp<String>>,
}

#[derive(Clone, Debug, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Registry {
    pub host: Sp<String>,
    /// PEM public key that signs the registry's images (cosign).
    pub cosign_key: Option<Sp<String>>,
    /// Keyless (Sigstore) identity that signs the registry's images.
    pub keyless: Option<Keyless>,
}

#[derive(Clone, Debug, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Keyless {
    pub issuer: Sp<String>,
    /// Anchored regular expression of the certificate subject.
    pub subject: Sp<String>,
}

#[derive(Clone, Debug, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Environment {
    /// Branch Flux follows in this environment.
    pub branch: Sp<String>,
    /// Signed commits and signed images become mandatory.
    pub production: Option<Sp<bool>>,
}

#[derive(Clone, Debug, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Platform {
    pub repository: Sp<String>,
    /// Path in the repository; `{env}` is replaced.
    pub path: Sp<String>,
    #[serde(default)]
    pub signers: Vec<Sp<String>>,
    /// Cluster-scoped kinds the platform tier may manage (`group/Kind`).
    #[serde(default)]
    pub cluster_kinds: Vec<Sp<String>>,
}

#[derive(Clone, Debug, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Tenant {
    pub namespaces: Vec<Sp<String>>,
    pub repository: Sp<String>,
    /// Path in the repository; `{env}` and `{tenant}` are replaced.
    pub path: Sp<String>,
    pub environments: Vec<Sp<String>>,
    #[serde(default)]
    pub signers: Vec<Sp<String>>,
    #[serde(default)]
    pub registries: Vec<Sp<String>>,
    /// Kinds the tenant may deploy (`group/Kind`, core kinds bare).
    pub allowed_kinds: Vec<Sp<String>>,
    /// Opt-in: the tenant may manage Secrets (never list/watch).
    pub allow_secrets: Option<Sp<bool>>,
    /// Opt-in: the tenant may manage NetworkPolicies (they are additive allow-lists).
    pub allow_network_policies: Option<Sp<bool>>,
    #[serde(default)]
    pub images: Vec<Image>,
    #[serde(default)]
    pub charts: Vec<Chart>,
}

#[derive(Clone, Debug, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Image {
    pub name: Sp<String>,
    /// Image repository, `host/path`; the host must be one of the tenant's registries.
    pub repository: Sp<String>,
    /// Semver range of tags automation may pick.
    pub semver: Sp<String>,
    /// Anchored regular expression tags must match.
    pub tag_pattern: Option<Sp<String>>,
    /// `$name` of a named capture group of `tag_pattern`, the part compared as a version.
    pub extract: Option<Sp<String>>,
}

#[derive(Clone, Debug, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Chart {
    pub name: Sp<String>,
    /// `oci://host/path` (an OCIRepository) or `https://…` (a HelmRepository).
    pub repository: Sp<String>,
    /// Semver range of chart versions.
    pub version: Sp<String>,
}

#[derive(Clone, Debug, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KindDef {
    /// Plural resource name, as RBAC spells it.
    pub resource: Sp<String>,
    pub namespaced: Sp<bool>,
}
