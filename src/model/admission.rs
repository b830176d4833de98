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

/// `request.namespace in [...]`, one namespace a line.
pub(crate) fn in_namespaces(namespaces: &[String]) -> String {
    format!(
        "request.namespace in {}",
        cel_lines(namespaces.iter().map(String::as_str))
    )
}

/// A CEL list on one line, for data of one tenant (its kinds, its registries) or constants.
fn cel_list<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    let v: Vec<String> = items.into_iter().map(cel_str).collect();
    format!("[{}]", v.join(", "))
}

/// A CEL list of one item a line, every item followed by a comma (CEL's grammar allows a
/// trailing comma: google/cel-go v0.28.1 `parser/gen/CEL.g4` `'[' listInit? ','? ']'` and
/// `'{' mapInitializerList? ','? '}'`, unchanged since v0.9; the cel-go that Kubernetes and
/// Kyverno evaluate with). Adding or removing an item
/// adds or removes exactly its own line, and the expression is always multi-line, so the
/// verify stage always emits it as a literal block scalar (`|-`): a one-tenant change is a
/// one-tenant diff (issue 10 item 2).
fn cel_lines<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    let mut out = String::from("[\n");
    for item in items {
        out.push_str("  ");
        out.push_str(&cel_str(item));
        out.push_str(",\n");
    }
    out.push(']');
    out
}

/// A CEL map of one entry a line (`'key': value,`), sorted by key; see [`cel_lines`]. Each
/// value is one tenant's data and stays on its entry's line.
fn cel_map(mut entries: Vec<(String, String)>) -> String {
    entries.sort();
    let mut out = String::from("{\n");
    for (key, value) in entries {
        out.push_str("  ");
        out.push_str(&cel_str(&key));
        out.push_str(": ");
        out.push_str(&value);
        out.push_str(",\n");
    }
    out.push('}');
    out
}

/// `{'ns': value, …}` over every namespace of every tenant, one namespace a line.
fn per_namespace(tenants: &[Tenant], value: impl Fn(&Tenant) -> String) -> String {
    let mut entries = Vec::new();
    for t in tenants {
        for ns in &t.namespaces {
            entries.push((ns.clone(), value(t)));
        }
    }
    cel_map(entries)
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

/// Helm's storage Secrets: `Type: "helm.sh/release.v1"` and the key `sh.helm.release.v1.<name>.v<version>`
/// (helm/helm v4.2.4 `pkg/storage/driver/secrets.go` `newSecretsObject`,
/// `pkg/storage/storage.go` `HelmStorageType` and `makeKey`).
pub(crate) const HELM_SECRET_TYPE: &str = "helm.sh/release.v1";
pub(crate) const HELM_SECRET_PREFIX: &str = "sh.helm.release.v1.";

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
    // Every list or map over tenants is written one tenant (or namespace) a line, and the
    // maps a policy consults more than once are its `variables` (see `cel_lines`).
    let users = cel_lines(usernames.iter().map(String::as_str));
    let is_tenant_sa = format!("request.userInfo.username in {users}");
    let in_tenant_ns = in_namespaces(namespaces);
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
    let allowed = cel_map(
        tenants
            .iter()
            .map(|t| {
                let kinds: Vec<String> = t.kinds.iter().map(|k| k.spec_name()).collect();
                (
                    t.username.clone(),
                    cel_list(kinds.iter().map(String::as_str)),
                )
            })
            .collect(),
    );
    let own_ns = cel_map(
        tenants
            .iter()
            .map(|t| {
                (
                    t.username.clone(),
                    cel_list(t.namespaces.iter().map(String::as_str)),
                )
            })
            .collect(),
    );
    // Tenants allowed HelmRelease: helm-controller writes Helm's storage Secrets as the
    // tenant's reconciler (see `HELM_STORAGE_VERBS` in model/mod.rs).
    let helm_users = {
        let mut v: Vec<&str> = tenants
            .iter()
            .filter(|t| t.helm)
            .map(|t| t.username.as_str())
            .collect();
        v.sort_unstable();
        cel_lines(v)
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
        // The object written, or deleted (a DELETE has only oldObject).
        variables: vec![
            named(
                "subject",
                "request.operation == 'DELETE' ? oldObject : object".into(),
            ),
            // Reconciler username -> its namespaces, its allowed kinds; the usernames of
            // the tenants allowed HelmRelease.
            named("ownNamespaces", own_ns),
            named("allowedKinds", allowed),
            named("helmUsers", helm_users),
        ],
        validations: vec![
            check(
                "request.namespace in variables.ownNamespaces[request.userInfo.username]".into(),
                "a tenant reconciler may only write into its own namespaces",
            ),
            check(
                format!("{kind_name} in variables.allowedKinds[request.userInfo.username] || (request.kind.group == '' && request.kind.kind == 'Secret' && request.userInfo.username in variables.helmUsers)"),
                "this kind is not in the tenant's allowed_kinds",
            ),
            check(
                format!("request.kind.group != '' || request.kind.kind != 'Secret' || 'Secret' in variables.allowedKinds[request.userInfo.username] || (has(variables.subject.type) && variables.subject.type == '{HELM_SECRET_TYPE}' && variables.subject.metadata.name.startsWith('{HELM_SECRET_PREFIX}'))"),
                "without allow_secrets a tenant may only write Helm's release Secrets (type helm.sh/release.v1, name sh.helm.release.v1.<release>.v<n>)",
            ),
        ],
    });

    // 3. Adversary 3: tenant Kustomizations and HelmReleases impersonate the tenant's SA,
    //    never force, never kubeConfig, never a source from another namespace.
    let sa_of = per_namespace(tenants, |t| cel_str(&t.service_account));
    let namespaces_of = per_namespace(tenants, |t| {
        cel_list(t.namespaces.iter().map(String::as_str))
    });
    out.push(AdmissionPolicy {
        name: "trustc-tenant-reconcilers".into(),
        title: "Tenant Kustomizations and HelmReleases stay inside the tenant".into(),
        description: "In tenant namespaces, Flux Kustomizations and HelmReleases must impersonate the tenant's service account, must not set force or kubeConfig, decrypt only as the tenant's service account, take their source from their own namespace and target only the tenant's namespaces (seed Adversary 3).".into(),
        rules: vec![
            rule(&["kustomize.toolkit.fluxcd.io"], &["kustomizations"], WRITE, "Namespaced"),
            rule(&["helm.toolkit.fluxcd.io"], &["helmreleases"], WRITE, "Namespaced"),
        ],
        kyverno_kinds: vec!["Kustomization".into(), "HelmRelease".into()],
        match_conditions: vec![named("tenant-namespace", in_tenant_ns.clone())],
        // Tenant namespace -> the tenant's reconciler service account, its namespaces.
        variables: vec![
            named("serviceAccounts", sa_of),
            named("tenantNamespaces", namespaces_of),
        ],
        validations: vec![
            check(
                "has(object.spec.serviceAccountName) && object.spec.serviceAccountName == variables.serviceAccounts[request.namespace]".into(),
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
            // kustomize-controller v1.9.4 `internal/decryptor/decryptor.go` `SetAuthOptions`:
            // the service account whose token is exchanged for KMS credentials (object-level
            // workload identity); unset, the controller-wide default, else the controller's
            // own identity. Only the tenant's own identity may decrypt its secrets.
            check(
                "!has(object.spec.decryption) || !has(object.spec.decryption.serviceAccountName) || object.spec.decryption.serviceAccountName == variables.serviceAccounts[request.namespace]".into(),
                "spec.decryption.serviceAccountName, when set, must be the tenant's reconciler service account",
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
                "!has(object.spec.targetNamespace) || object.spec.targetNamespace in variables.tenantNamespaces[request.namespace]".into(),
                "spec.targetNamespace must be one of the tenant's namespaces",
            ),
            // helm-controller v1.6.3 `api/v2/helmrelease_types.go` `GetStorageNamespace`: where
            // Helm keeps the release Secrets, the HelmRelease's namespace by default.
            check(
                "request.kind.kind != 'HelmRelease' || !has(object.spec.storageNamespace) || object.spec.storageNamespace in variables.tenantNamespaces[request.namespace]".into(),
                "spec.storageNamespace must be one of the tenant's namespaces",
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
    // Allow-lists compare on a `/` boundary after a canonical base (scheme, host, port and
    // path as the spec wrote them, no userinfo, no trailing `/`): `u == base ||
    // u.startsWith(base + '/')`. A look-alike host (`host.evil.io`, `host@evil`,
    // `host:443evil`) or path (`charts-evil`) is not under the base (issue 8 item 9).
    let oci_bases = per_namespace(tenants, |t| {
        let v: Vec<String> = t
            .registries
            .iter()
            .map(|r| format!("oci://{}", base(&r.host)))
            .collect();
        cel_list(v.iter().map(String::as_str))
    });
    let image_bases = per_namespace(tenants, |t| {
        let v: Vec<String> = t.registries.iter().map(|r| base(&r.host)).collect();
        cel_list(v.iter().map(String::as_str))
    });
    let helm_bases = per_namespace(tenants, |t| {
        let mut v: Vec<String> = t
            .registries
            .iter()
            .map(|r| format!("oci://{}", base(&r.host)))
            .collect();
        v.extend(
            t.charts
                .iter()
                .filter(|c| c.source_kind == "HelmRepository")
                .map(|c| base(&c.url)),
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
            .map(|r| format!("oci://{}", base(&r.host)))
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
        // Tenant namespace -> the tenant's repository, whether its commits must be
        // verified, its registries and chart repositories (canonical bases).
        variables: vec![
            named("repositories", repo_of),
            named("mustVerify", must_verify),
            named("ociBases", oci_bases),
            named("signedOciBases", signed_oci),
            named("helmBases", helm_bases),
            named("imageBases", image_bases.clone()),
        ],
        validations: vec![
            check(
                "request.kind.kind != 'GitRepository' || object.spec.url == variables.repositories[request.namespace]".into(),
                "a tenant GitRepository may only point at the tenant's own repository",
            ),
            check(
                "request.kind.kind != 'GitRepository' || !variables.mustVerify[request.namespace] || (has(object.spec.verify) && has(object.spec.verify.secretRef))".into(),
                "a tenant GitRepository must verify commit signatures (spec.verify)",
            ),
            check(
                format!("request.kind.kind != 'OCIRepository' || variables.ociBases[request.namespace].exists(b, {})", under("object.spec.url")),
                "a tenant OCIRepository may only use the tenant's registries",
            ),
            check(
                format!("request.kind.kind != 'OCIRepository' || !variables.signedOciBases[request.namespace].exists(b, {}) || has(object.spec.verify)", under("object.spec.url")),
                "an OCIRepository from a signed registry must verify signatures (spec.verify)",
            ),
            check(
                format!("request.kind.kind != 'HelmRepository' || variables.helmBases[request.namespace].exists(b, {})", under("object.spec.url")),
                "a tenant HelmRepository may only use the tenant's chart repositories and registries",
            ),
            check(
                "request.kind.kind != 'ImageRepository' || variables.imageBases[request.namespace].exists(b, object.spec.image.startsWith(b + '/'))".into(),
                "a tenant ImageRepository may only scan the tenant's registries",
            ),
        ],
    });

    // 5. Adversaries 4 and 5: pods and pod controllers in tenant namespaces, checked against
    //    the Pod Security `restricted` profile at the pinned version (kubernetes/pod-security-admission
    //    v0.37 `policy/check_*.go`, restricted = baseline + restricted checks), so that a
    //    Deployment the namespace's Pod Security would refuse pods of fails at apply time,
    //    not silently at the ReplicaSet. Each validation is one check of the profile.
    let pod_spec = "object.kind == 'Pod' ? object.spec : (object.kind == 'CronJob' ? object.spec.jobTemplate.spec.template.spec : object.spec.template.spec)";
    // policy/visitor.go `visitContainers`: init, regular and ephemeral containers.
    let containers = "variables.podSpec.containers + (has(variables.podSpec.initContainers) ? variables.podSpec.initContainers : []) + (has(variables.podSpec.ephemeralContainers) ? variables.podSpec.ephemeralContainers : [])";
    let annotations = "object.kind == 'Pod' ? (has(object.metadata.annotations) ? object.metadata.annotations : {}) : (object.kind == 'CronJob' ? ((has(object.spec.jobTemplate.spec.template.metadata) && has(object.spec.jobTemplate.spec.template.metadata.annotations)) ? object.spec.jobTemplate.spec.template.metadata.annotations : {}) : ((has(object.spec.template.metadata) && has(object.spec.template.metadata.annotations)) ? object.spec.template.metadata.annotations : {}))";
    // policy/check_allowPrivilegeEscalation.go, check_capabilities_restricted.go,
    // check_seccompProfile_restricted.go: not applied to `spec.os.name: windows` (1.25+).
    let windows = "(has(variables.podSpec.os) && variables.podSpec.os.name == 'windows')";
    // policy/helpers.go `relaxPolicyForUserNamespacePod`: runAsNonRoot, runAsUser and
    // procMount are relaxed for `hostUsers: false` (1.35+).
    let userns = "(has(variables.podSpec.hostUsers) && variables.podSpec.hostUsers == false)";
    let psc = "variables.podSpec.securityContext";
    let pod_has = |field: &str| has_chain(psc, field);
    let c_has = |field: &str| has_chain("c.securityContext", field);
    let se_linux_ok = |sc: &str| {
        format!(
            "(!has({sc}.seLinuxOptions) || ((!has({sc}.seLinuxOptions.type) || {sc}.seLinuxOptions.type in ['', 'container_t', 'container_init_t', 'container_kvm_t', 'container_engine_t']) && (!has({sc}.seLinuxOptions.user) || {sc}.seLinuxOptions.user == '') && (!has({sc}.seLinuxOptions.role) || {sc}.seLinuxOptions.role == '')))"
        )
    };
    let host_process_ok = |sc: &str| {
        format!(
            "(!has({sc}.windowsOptions) || !has({sc}.windowsOptions.hostProcess) || {sc}.windowsOptions.hostProcess == false)"
        )
    };
    let app_armor_ok = |sc: &str| {
        format!(
            "(!has({sc}.appArmorProfile) || {sc}.appArmorProfile.type in ['RuntimeDefault', 'Localhost'])"
        )
    };
    let no_host = |handler: &str| {
        format!(
            "(!has({handler}.httpGet) || !has({handler}.httpGet.host) || {handler}.httpGet.host == '') && (!has({handler}.tcpSocket) || !has({handler}.tcpSocket.host) || {handler}.tcpSocket.host == '')"
        )
    };
    let probes_ok = {
        let mut parts = Vec::new();
        for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
            parts.push(format!(
                "(!has(c.{probe}) || ({}))",
                no_host(&format!("c.{probe}"))
            ));
        }
        for hook in ["postStart", "preStop"] {
            parts.push(format!(
                "(!has(c.lifecycle) || !has(c.lifecycle.{hook}) || ({}))",
                no_host(&format!("c.lifecycle.{hook}"))
            ));
        }
        parts.join(" && ")
    };
    // policy/check_sysctls.go `sysctlsAllowedV1Dot37`.
    let sysctls = cel_list(PSA_SYSCTLS.iter().copied());
    let seccomp_types = "['RuntimeDefault', 'Localhost']";
    out.push(AdmissionPolicy {
        name: "trustc-tenant-pods".into(),
        title: "Tenant pods: own registries, Pod Security restricted".into(),
        description: "Pods and pod controllers in tenant namespaces run only images from the tenant's registries and meet the Pod Security restricted profile of the pinned version (no privilege, host namespaces, host ports, hostPath or non-restricted volumes, privilege escalation, added capabilities; drop ALL; seccomp RuntimeDefault or Localhost; non-root; safe sysctls, SELinux, AppArmor, procMount, probes). This stops HelmRelease values injection (seed Adversary 4) whatever the chart's values say, refuses at apply time what Pod Security would refuse at the ReplicaSet, and refuses images from foreign registries (Adversary 5).".into(),
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
            named("annotations", annotations.into()),
            // Tenant namespace -> the tenant's registries.
            named("imageBases", image_bases),
        ],
        validations: vec![
            check(
                "variables.containers.all(c, variables.imageBases[request.namespace].exists(b, c.image.startsWith(b + '/')))".into(),
                "images must come from the tenant's registries",
            ),
            // check_privileged.go
            check(
                "variables.containers.all(c, !has(c.securityContext) || !has(c.securityContext.privileged) || c.securityContext.privileged == false)".into(),
                "privileged containers are not allowed",
            ),
            // check_allowPrivilegeEscalation.go
            check(
                format!("{windows} || variables.containers.all(c, {} && c.securityContext.allowPrivilegeEscalation == false)", c_has("allowPrivilegeEscalation")),
                "containers must set securityContext.allowPrivilegeEscalation: false",
            ),
            // check_hostNamespaces.go
            check(
                "!(has(variables.podSpec.hostNetwork) && variables.podSpec.hostNetwork) && !(has(variables.podSpec.hostPID) && variables.podSpec.hostPID) && !(has(variables.podSpec.hostIPC) && variables.podSpec.hostIPC)".into(),
                "host namespaces (hostNetwork, hostPID, hostIPC) are not allowed",
            ),
            // check_hostPathVolumes.go
            check(
                "!has(variables.podSpec.volumes) || variables.podSpec.volumes.all(v, !has(v.hostPath))".into(),
                "hostPath volumes are not allowed",
            ),
            // check_restrictedVolumes.go (hostPath has its own validation above)
            check(
                "!has(variables.podSpec.volumes) || variables.podSpec.volumes.all(v, has(v.hostPath) || has(v.configMap) || has(v.csi) || has(v.downwardAPI) || has(v.emptyDir) || has(v.ephemeral) || has(v.image) || has(v.persistentVolumeClaim) || has(v.projected) || has(v.secret))".into(),
                "volumes may only be configMap, csi, downwardAPI, emptyDir, ephemeral, image, persistentVolumeClaim, projected or secret",
            ),
            // check_hostPorts.go
            check(
                "variables.containers.all(c, !has(c.ports) || c.ports.all(p, !has(p.hostPort) || p.hostPort == 0))".into(),
                "host ports are not allowed",
            ),
            // check_capabilities_restricted.go: add only NET_BIND_SERVICE ...
            check(
                format!("{windows} || variables.containers.all(c, !{} || c.securityContext.capabilities.add.all(x, x == 'NET_BIND_SERVICE'))", c_has("capabilities.add")),
                "containers may add no capability but NET_BIND_SERVICE",
            ),
            // ... and drop ALL.
            check(
                format!("{windows} || variables.containers.all(c, {} && 'ALL' in c.securityContext.capabilities.drop)", c_has("capabilities.drop")),
                "containers must drop ALL capabilities (securityContext.capabilities.drop: [ALL])",
            ),
            // check_seccompProfile_restricted.go: pod-level RuntimeDefault/Localhost, or every
            // container's; never another type.
            check(
                format!("{windows} || ((!{ps} || {psc}.seccompProfile.type in {seccomp_types}) && variables.containers.all(c, {cs} ? c.securityContext.seccompProfile.type in {seccomp_types} : {ps}))", ps = pod_has("seccompProfile"), cs = c_has("seccompProfile")),
                "seccompProfile must be RuntimeDefault or Localhost, on the pod or on every container",
            ),
            // check_runAsNonRoot.go
            check(
                format!("{userns} || (!({pr} && {psc}.runAsNonRoot == false) && variables.containers.all(c, {cr} ? c.securityContext.runAsNonRoot == true : ({pr} && {psc}.runAsNonRoot == true)))", pr = pod_has("runAsNonRoot"), cr = c_has("runAsNonRoot")),
                "pods must run as non-root (runAsNonRoot: true on the pod or every container)",
            ),
            // check_runAsUser.go
            check(
                format!("{userns} || (!({pu} && {psc}.runAsUser == 0) && variables.containers.all(c, !{cu} || c.securityContext.runAsUser != 0))", pu = pod_has("runAsUser"), cu = c_has("runAsUser")),
                "runAsUser: 0 (root) is not allowed",
            ),
            // check_seLinuxOptions.go
            check(
                format!("(!has(variables.podSpec.securityContext) || {}) && variables.containers.all(c, !has(c.securityContext) || {})", se_linux_ok(psc), se_linux_ok("c.securityContext")),
                "seLinuxOptions may not set user or role, and type only container_t, container_init_t, container_kvm_t or container_engine_t",
            ),
            // check_procMount_baseline.go
            check(
                format!("{userns} || variables.containers.all(c, !{} || c.securityContext.procMount == 'Default')", c_has("procMount")),
                "procMount must be Default",
            ),
            // check_appArmorProfile.go
            check(
                format!("(!has(variables.podSpec.securityContext) || {}) && variables.containers.all(c, !has(c.securityContext) || {}) && variables.annotations.all(k, !k.startsWith('container.apparmor.security.beta.kubernetes.io/') || variables.annotations[k] == '' || variables.annotations[k] == 'runtime/default' || variables.annotations[k].startsWith('localhost/'))", app_armor_ok(psc), app_armor_ok("c.securityContext")),
                "AppArmor profiles must be RuntimeDefault or Localhost",
            ),
            // check_sysctls.go
            check(
                format!("!{} || {psc}.sysctls.all(x, x.name in {sysctls})", pod_has("sysctls")),
                "only the sysctls Pod Security allows are allowed",
            ),
            // check_windowsHostProcess.go
            check(
                format!("(!has(variables.podSpec.securityContext) || {}) && variables.containers.all(c, !has(c.securityContext) || {})", host_process_ok(psc), host_process_ok("c.securityContext")),
                "Windows hostProcess containers are not allowed",
            ),
            // check_hostProbesAndhostLifecycle.go (1.34+)
            check(
                format!("variables.containers.all(c, {probes_ok})"),
                "probes and lifecycle handlers may not set a host",
            ),
        ],
    });
    out
}

/// The sysctls Pod Security allows at 1.37 (kubernetes/pod-security-admission v0.37
/// `policy/check_sysctls.go` `sysctlsAllowedV1Dot37`).
const PSA_SYSCTLS: &[&str] = &[
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.ping_group_range",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_notsent_lowat",
    "net.ipv4.tcp_rmem",
    "net.ipv4.tcp_slow_start_after_idle",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.tcp_wmem",
];

/// `has(a.b)`, `has(a.b.c)`... for `base` = `a.b` and `field` = `c.d`, each step guarded.
fn has_chain(base: &str, field: &str) -> String {
    let mut parts = Vec::new();
    let mut path = base.to_string();
    parts.push(format!("has({path})"));
    for seg in field.split('.') {
        path = format!("{path}.{seg}");
        parts.push(format!("has({path})"));
    }
    format!("({})", parts.join(" && "))
}

/// The canonical base of an allow-listed location: no trailing `/`, no userinfo.
fn base(location: &str) -> String {
    let trimmed = location.trim_end_matches('/');
    match trimmed.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            if path.is_empty() {
                format!("{scheme}://{host}")
            } else {
                format!("{scheme}://{host}/{path}")
            }
        }
        None => trimmed.to_string(),
    }
}

/// `value` is the base `b` or under it on a `/` boundary.
fn under(value: &str) -> String {
    format!("({value} == b || {value}.startsWith(b + '/'))")
}

#[cfg(test)]
mod tests {
    use super::{base, cel_lines, cel_map, cel_str};

    #[test]
    fn tenant_lists_are_one_item_a_line_with_trailing_commas() {
        assert_eq!(cel_lines(["a", "b"]), "[\n  'a',\n  'b',\n]");
        // Empty, still multi-line: the first tenant does not change the scalar's style.
        assert_eq!(cel_lines([]), "[\n]");
        assert_eq!(
            cel_map(vec![
                ("b".into(), "['b']".into()),
                ("a".into(), "['a', 'a-web']".into()),
            ]),
            "{\n  'a': ['a', 'a-web'],\n  'b': ['b'],\n}"
        );
    }

    #[test]
    fn bases_drop_userinfo_and_trailing_slashes() {
        assert_eq!(
            base("https://charts.example.com/charts/"),
            "https://charts.example.com/charts"
        );
        assert_eq!(
            base("https://u:p@charts.example.com"),
            "https://charts.example.com"
        );
        assert_eq!(base("registry.example.com"), "registry.example.com");
    }

    #[test]
    fn cel_strings_are_escaped() {
        assert_eq!(cel_str("a'b\\c"), "'a\\'b\\\\c'");
    }
}
