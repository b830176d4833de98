//! The registry of diagnostic codes. Codes are stable: never renumber, only add.
//!
//! `TC0xxx` shape of the spec (TOML syntax, keys, types), `TC1xxx` semantic rules of the trust
//! model, `TC2xxx` rendering and verification of the output, `TC3xxx` security invariants of
//! the final manifests, `TC4xxx` drift between the output directory and the spec.
//! Every code has a page under `docs/rules/` that `trustc explain CODE` prints.

/// How bad a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

macro_rules! codes {
    ($($variant:ident = $id:literal, $name:literal, $sev:ident;)*) => {
        /// A stable diagnostic code.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Code {
            $($variant,)*
        }

        impl Code {
            /// Every code, in numeric order.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The stable identifier, e.g. `TC1005`.
            pub fn id(self) -> &'static str {
                match self { $(Code::$variant => $id,)* }
            }

            /// The rule's kebab-case name, read as "allow <name>".
            pub fn name(self) -> &'static str {
                match self { $(Code::$variant => $name,)* }
            }

            /// Default severity.
            pub fn severity(self) -> Severity {
                match self { $(Code::$variant => Severity::$sev,)* }
            }

            /// The rule's documentation (what it prevents, an example, the fix).
            pub fn documentation(self) -> &'static str {
                match self {
                    $(Code::$variant => include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/rules/", $id, ".md")),)*
                }
            }
        }
    };
}

codes! {
    TomlSyntax = "TC0001", "toml-syntax", Error;
    UnknownKey = "TC0002", "unknown-key", Error;
    WrongType = "TC0003", "wrong-type", Error;
    MissingKey = "TC0004", "missing-key", Error;
    DuplicateKey = "TC0005", "duplicate-key", Error;
    UnsupportedSpecVersion = "TC0006", "unsupported-spec-version", Error;
    UnreadableFile = "TC0007", "unreadable-file", Error;
    ControlCharacter = "TC0008", "control-character", Error;
    InputOutsideRepository = "TC0009", "input-outside-repository", Error;

    UnknownSigner = "TC1001", "unknown-signer", Error;
    UnknownRegistry = "TC1002", "unknown-registry", Error;
    UnknownEnvironment = "TC1003", "unknown-environment", Error;
    UnknownKind = "TC1004", "unknown-kind", Error;
    ClusterScopedKind = "TC1005", "cluster-scoped-kind", Error;
    WildcardGrant = "TC1006", "wildcard-grant", Error;
    PrivilegedKind = "TC1007", "privileged-kind", Error;
    SecretsWithoutOptIn = "TC1008", "secrets-without-opt-in", Error;
    NetworkPoliciesWithoutOptIn = "TC1009", "network-policies-without-opt-in", Error;
    ReservedNamespace = "TC1010", "reserved-namespace", Error;
    NamespaceOverlap = "TC1011", "namespace-overlap", Error;
    PathOverlap = "TC1012", "path-overlap", Error;
    InsecureRepositoryScheme = "TC1013", "insecure-repository-scheme", Error;
    HttpsRepository = "TC1014", "https-repository", Warning;
    UnsafePath = "TC1015", "unsafe-path", Error;
    UnknownPlaceholder = "TC1016", "unknown-placeholder", Error;
    SharedBranch = "TC1017", "shared-branch", Error;
    UnsignedProduction = "TC1018", "unsigned-production", Error;
    UnsignedRegistryInProduction = "TC1019", "unsigned-registry-in-production", Error;
    InvalidSemverRange = "TC1020", "invalid-semver-range", Error;
    InvalidRegex = "TC1021", "invalid-regex", Error;
    UnanchoredPattern = "TC1022", "unanchored-pattern", Error;
    UnknownCaptureGroup = "TC1023", "unknown-capture-group", Error;
    ImageOutsideRegistries = "TC1024", "image-outside-registries", Error;
    InvalidSignerKey = "TC1025", "invalid-signer-key", Error;
    FingerprintMismatch = "TC1026", "fingerprint-mismatch", Error;
    ExpiredSignerKey = "TC1027", "expired-signer-key", Error;
    ExpiringSignerKey = "TC1028", "expiring-signer-key", Warning;
    InvalidCosignKey = "TC1029", "invalid-cosign-key", Error;
    InvalidName = "TC1030", "invalid-name", Error;
    UnsupportedFluxVersion = "TC1031", "unsupported-flux-version", Error;
    UnknownAdmissionEngine = "TC1032", "unknown-admission-engine", Error;
    InvalidCidr = "TC1033", "invalid-cidr", Error;
    InvalidDuration = "TC1034", "invalid-duration", Error;
    DuplicateEntry = "TC1035", "duplicate-entry", Warning;
    ConflictingKindDefinition = "TC1036", "conflicting-kind-definition", Error;
    EmptyList = "TC1037", "empty-list", Error;
    InvalidRegistryHost = "TC1038", "invalid-registry-host", Error;
    InvalidChartRepository = "TC1039", "invalid-chart-repository", Error;
    SignaturesNeedKyverno = "TC1040", "signatures-need-kyverno", Warning;
    UnusedSigner = "TC1041", "unused-signer", Warning;
    SharedDeployKey = "TC1042", "shared-deploy-key", Error;
    UnknownValue = "TC1043", "unknown-value", Error;
    PrereleaseOnlyTags = "TC1044", "prerelease-only-tags", Warning;
    SshSignerNeedsFlux29 = "TC1045", "ssh-signer-needs-flux-2-9", Error;
    DeprecatedClusterPolicy = "TC1090", "deprecated-cluster-policy", Warning;
    TlogWithoutSignatures = "TC1091", "tlog-without-signatures", Warning;
    InvalidPort = "TC1070", "invalid-port", Error;
    EgressByPortOnly = "TC1071", "egress-by-port-only", Warning;
    ApiServerServiceIpOnly = "TC1072", "api-server-service-ip-only", Warning;
    UnknownEgressDestination = "TC1073", "unknown-egress-destination", Error;
    UnreachableDns = "TC1074", "unreachable-dns", Error;

    TemplateError = "TC2001", "template-error", Error;
    MalformedManifest = "TC2002", "malformed-manifest", Error;
    UnknownApiVersion = "TC2003", "unknown-api-version", Error;
    SchemaViolation = "TC2004", "schema-violation", Error;
    DuplicateObject = "TC2005", "duplicate-object", Error;

    TenantClusterScopeGrant = "TC3001", "tenant-cluster-scope-grant", Error;
    TenantWildcardGrant = "TC3002", "tenant-wildcard-grant", Error;
    TenantPrivilegedGrant = "TC3003", "tenant-privileged-grant", Error;
    TenantKindsMismatch = "TC3004", "tenant-kinds-mismatch", Error;
    TenantImpersonation = "TC3005", "tenant-impersonation", Error;
    UnverifiedSource = "TC3006", "unverified-source", Error;
    UnanchoredImageFilter = "TC3007", "unanchored-image-filter", Error;
    PrivilegedServiceAccountInTenant = "TC3008", "privileged-service-account-in-tenant", Error;
    FluxEgressOpen = "TC3009", "flux-egress-open", Error;
    AdmissionPolicyChanged = "TC3010", "admission-policy-changed", Error;
    AdmissionPolicyAdded = "TC3011", "admission-policy-added", Error;
    GrantBeyondEmbedded = "TC3012", "grant-beyond-embedded", Error;
    SourceChanged = "TC3013", "source-changed", Error;
    SourceNotInModel = "TC3014", "source-not-in-model", Error;
    SecretChanged = "TC3015", "secret-changed", Error;
    NetworkPolicyChanged = "TC3016", "network-policy-changed", Error;
    TenantNetworkPolicyMissing = "TC3017", "tenant-network-policy-missing", Error;
    KustomizeChanged = "TC3018", "kustomize-changed", Error;
    FluxLockdownFlagMissing = "TC3019", "flux-lockdown-flag-missing", Error;
    NamespaceChanged = "TC3020", "namespace-changed", Error;
    PodSecurityWeakened = "TC3021", "pod-security-weakened", Error;
    ReconcilerChanged = "TC3022", "reconciler-changed", Error;
    ReconcilerOutsideTenant = "TC3023", "reconciler-outside-tenant", Error;
    ProtectedObjectChanged = "TC3024", "protected-object-changed", Error;
    ReferenceCompileFailed = "TC3025", "reference-compile-failed", Error;
    AdmissionNotEnforced = "TC3026", "admission-not-enforced", Error;
    LockdownFlagRefused = "TC3030", "lockdown-flag-refused", Error;
    FluxControllersCutOff = "TC3031", "flux-controllers-cut-off", Error;

    OutputDrift = "TC4001", "output-drift", Error;
    OutputNotRegular = "TC4002", "output-not-regular", Error;
    OutputIsLink = "TC4003", "output-is-link", Error;
    InterruptedWrite = "TC4004", "interrupted-write", Error;
    ForeignManifestEntry = "TC4005", "foreign-manifest-entry", Warning;
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
}

impl std::str::FromStr for Code {
    type Err = ();

    /// Accepts the id (`TC1005`, any case) or the name (`cluster-scoped-kind`).
    fn from_str(s: &str) -> Result<Self, ()> {
        Code::ALL
            .iter()
            .copied()
            .find(|c| c.id().eq_ignore_ascii_case(s) || c.name() == s)
            .ok_or(())
    }
}
