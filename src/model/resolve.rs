//! ValidSpec → Policy: defaults, references, placeholders, RBAC rules.

use std::collections::{BTreeMap, BTreeSet};

use rayon::prelude::*;

use super::admission;
use super::network;
use super::*;
use crate::check::ValidSpec;
use crate::kinds::Risk;

/// Resolves a validated spec. `spec_path` is what generated files name as their source.
pub fn resolve(v: &ValidSpec, spec_path: &str) -> Policy {
    let s = &v.spec;
    let flux_version = s
        .flux
        .version
        .as_ref()
        .map_or("2.9", |x| x.as_str())
        .to_string();
    let flux = Flux {
        namespace: opt(&s.flux.namespace, "flux-system"),
        api: FluxApi {
            source: "source.toolkit.fluxcd.io/v1",
            kustomize: "kustomize.toolkit.fluxcd.io/v1",
            helm: "helm.toolkit.fluxcd.io/v2",
            image: "image.toolkit.fluxcd.io/v1",
            notification: "notification.toolkit.fluxcd.io/v1beta3",
        },
        version: flux_version,
        api_server_cidrs: s
            .flux
            .api_server_cidrs
            .iter()
            .map(|c| c.value.clone())
            .collect(),
        policy_namespace: opt(&s.flux.policy_namespace, "kyverno"),
        monitoring_namespace: opt(&s.flux.monitoring_namespace, "monitoring"),
        pod_security_version: opt(&s.flux.pod_security_version, DEFAULT_POD_SECURITY_VERSION),
        git_interval: opt(&s.git.interval, "1m"),
        known_hosts: s.git.known_hosts.as_ref().map(|k| k.value.clone()),
        secret_store: s.secrets.store.value.clone(),
        alerts: s.alerts.as_ref().map(|a| Alerts {
            prometheus: a.prometheus.as_ref().is_some_and(|p| p.value),
            for_: opt(&a.for_, "5m"),
            provider: a.provider.as_ref().map(|p| p.value.clone()),
            channel: a.channel.as_ref().map(|p| p.value.clone()),
            secret: a.secret.as_ref().map(|p| p.value.clone()),
            secret_path: network::alert_secret_path(a),
            ksm_namespace: network::ksm(a, &s.flux).0,
            ksm_service_account: network::ksm(a, &s.flux).1,
        }),
        dns: network::dns(&s.flux),
        lockdown: network::lockdown(),
    };
    let kyverno_version = opt(&s.admission.kyverno_version, "1.19");
    let engine = match s.admission.engine.as_ref().map(|e| e.as_str()) {
        Some("kyverno-cel") => Engine::KyvernoCel,
        Some("vap") => Engine::Vap,
        Some("kyverno") => Engine::Kyverno,
        // kyverno/kyverno v1.17 deprecated kyverno.io/v1 ClusterPolicy (removal planned for
        // 1.20): from 1.17 the default is the CEL policy types, policies.kyverno.io/v1.
        _ if kyverno_cel_default(&kyverno_version) => Engine::KyvernoCel,
        _ => Engine::Kyverno,
    };
    let signer = |name: &str| -> Signer {
        let key = &v.signer_keys[name];
        Signer {
            name: name.to_string(),
            email: s.signers[name].email.value.clone(),
            fingerprint: key.fingerprint.clone(),
            // source-controller v1.9.1 reads `.sshpub` entries as SSH keys, `.asc` as PGP.
            secret_key: if v.ssh_signers.contains(name) {
                format!("{name}.sshpub")
            } else {
                format!("{name}.asc")
            },
            armored: key.armored.clone(),
        }
    };
    let registry = |name: &str| -> Registry {
        let r = &s.registries[name];
        Registry {
            name: name.to_string(),
            host: r.host.value.clone(),
            cosign_key: v.cosign_keys.get(name).map(|k| k.pem.clone()),
            keyless: r.keyless.as_ref().map(|k| Keyless {
                issuer: k.issuer.value.clone(),
                subject: k.subject.value.clone(),
                issuer_regex: format!("^{}$", regex::escape(&k.issuer.value)),
            }),
            tlog: r
                .tlog
                .as_ref()
                .map_or(r.keyless.is_some() && r.cosign_key.is_none(), |t| t.value),
            rekor_url: r.rekor_url.as_ref().map(|u| u.value.clone()),
        }
    };
    let deploy_key = |tenant: &str, env: &str| {
        s.secrets
            .deploy_key_path
            .value
            .replace("{tenant}", tenant)
            .replace("{env}", env)
    };

    // Environments and tenants in name order: output never depends on table order. Each
    // environment, and each tenant of one, is resolved on its own (in parallel; collected in
    // that order).
    let mut env_names: Vec<&String> = s.environments.keys().collect();
    env_names.sort();
    let mut tenant_names: Vec<&String> = s.tenants.keys().collect();
    tenant_names.sort();
    let environments: Vec<Env> = env_names
        .par_iter()
        .map(|&env_name| {
            let e = &s.environments[env_name];
            let mut platform_signers: Vec<Signer> = s
                .platform
                .signers
                .iter()
                .map(|n| signer(&n.value))
                .collect();
            platform_signers.sort_by(|a, b| a.name.cmp(&b.name));
            platform_signers.dedup_by(|a, b| a.name == b.name);
            let cluster_kinds: Vec<&KindInfo> = s
                .platform
                .cluster_kinds
                .iter()
                .map(|k| &v.kinds[&k.value])
                .collect();
            let (cluster_rules, manages_rbac) = platform_rules(&cluster_kinds);
            let platform = Platform {
                namespace: flux.namespace.clone(),
                service_account: "platform-reconciler".into(),
                repository: s.platform.repository.value.clone(),
                path: fill(&s.platform.path.value, env_name, "platform"),
                branch: e.branch.value.clone(),
                signers: platform_signers,
                signers_secret: "platform-signers".into(),
                git_secret: "platform-git-auth".into(),
                deploy_key_path: deploy_key("platform", env_name),
                cluster_rules,
                manages_rbac,
            };
            let tenants: Vec<Tenant> = tenant_names
                .par_iter()
                .filter_map(|&tname| {
                    let t = &s.tenants[tname];
                    if !t.environments.iter().any(|x| &x.value == env_name) {
                        return None;
                    }
                    let mut namespaces: Vec<String> = Vec::new();
                    for n in &t.namespaces {
                        if !namespaces.contains(&n.value) {
                            namespaces.push(n.value.clone());
                        }
                    }
                    let home = namespaces[0].clone();
                    let sa = format!("{tname}-reconciler");
                    let mut kinds: Vec<KindInfo> = Vec::new();
                    for k in &t.allowed_kinds {
                        let info = v.kinds[&k.value].clone();
                        if !kinds.contains(&info) {
                            kinds.push(info);
                        }
                    }
                    kinds.sort_by(|a, b| (&a.group, &a.resource).cmp(&(&b.group, &b.resource)));
                    let mut signers: Vec<Signer> =
                        t.signers.iter().map(|n| signer(&n.value)).collect();
                    signers.sort_by(|a, b| a.name.cmp(&b.name));
                    signers.dedup_by(|a, b| a.name == b.name);
                    let mut registries: Vec<Registry> =
                        t.registries.iter().map(|r| registry(&r.value)).collect();
                    registries.sort_by(|a, b| a.name.cmp(&b.name));
                    registries.dedup_by(|a, b| a.name == b.name);
                    let mut images: Vec<Image> = t
                        .images
                        .iter()
                        .map(|i| Image {
                            name: i.name.value.clone(),
                            repository: i.repository.value.clone(),
                            semver: i.semver.value.clone(),
                            tag_pattern: i.tag_pattern.as_ref().map(|p| p.value.clone()),
                            extract: i.extract.as_ref().map(|p| p.value.clone()),
                        })
                        .collect();
                    images.sort_by(|a, b| a.name.cmp(&b.name));
                    let mut charts: Vec<Chart> = t
                        .charts
                        .iter()
                        .map(|c| {
                            let oci = c.repository.value.starts_with("oci://");
                            let host = c
                                .repository
                                .value
                                .trim_start_matches("oci://")
                                .split('/')
                                .next()
                                .unwrap_or("");
                            Chart {
                                name: c.name.value.clone(),
                                source_kind: if oci {
                                    "OCIRepository"
                                } else {
                                    "HelmRepository"
                                },
                                url: c.repository.value.clone(),
                                version: c.version.value.clone(),
                                verify: if oci {
                                    registries
                                        .iter()
                                        .find(|r| r.host == host && r.signed())
                                        .cloned()
                                } else {
                                    None
                                },
                            }
                        })
                        .collect();
                    charts.sort_by(|a, b| a.name.cmp(&b.name));
                    let allow_secrets = t.allow_secrets.as_ref().is_some_and(|b| b.value);
                    let helm = kinds.iter().any(|k| {
                        k.group == "helm.toolkit.fluxcd.io" && k.resource == "helmreleases"
                    });
                    let path = fill(&t.path.value, env_name, tname);
                    let syncs = syncs(tname, &namespaces, &path);
                    let mut tenant_rules = rules(kinds.iter());
                    if helm {
                        tenant_rules.extend(helm_rules());
                        merge_rules(&mut tenant_rules);
                    }
                    Some(Tenant {
                        name: tname.clone(),
                        username: format!("system:serviceaccount:{home}:{sa}"),
                        rules: tenant_rules,
                        helm,
                        syncs,
                        kinds,
                        namespaces,
                        home,
                        service_account: sa,
                        repository: t.repository.value.clone(),
                        path,
                        branch: e.branch.value.clone(),
                        signers,
                        signers_secret: format!("{tname}-signers"),
                        git_secret: format!("{tname}-git-auth"),
                        deploy_key_path: deploy_key(tname, env_name),
                        registries,
                        images,
                        charts,
                        allow_secrets,
                        allow_network_policies: t
                            .allow_network_policies
                            .as_ref()
                            .is_some_and(|b| b.value),
                    })
                })
                .collect();
            let mut verification: BTreeMap<String, (Registry, BTreeSet<String>)> = BTreeMap::new();
            for t in &tenants {
                for r in t.registries.iter().filter(|r| r.signed()) {
                    let entry = verification
                        .entry(r.name.clone())
                        .or_insert_with(|| (r.clone(), BTreeSet::new()));
                    entry.1.extend(t.namespaces.iter().cloned());
                }
            }
            let image_verification = verification
                .into_values()
                .map(|(registry, ns)| {
                    let namespaces: Vec<String> = ns.into_iter().collect();
                    ImageVerification {
                        match_condition: admission::in_namespaces(&namespaces),
                        registry,
                        namespaces,
                    }
                })
                .collect();
            let mut tenant_namespaces: Vec<String> = tenants
                .iter()
                .flat_map(|t| t.namespaces.iter().cloned())
                .collect();
            tenant_namespaces.sort();
            let mut tenant_usernames: Vec<String> =
                tenants.iter().map(|t| t.username.clone()).collect();
            tenant_usernames.sort();
            let admission = admission::policies(&tenants, &tenant_namespaces, &tenant_usernames);
            let egress = network::egress(s, &tenants, &flux);
            Env {
                name: env_name.clone(),
                branch: e.branch.value.clone(),
                production: e.production.as_ref().is_some_and(|p| p.value),
                platform,
                tenants,
                admission,
                image_verification,
                tenant_namespaces_condition: admission::in_namespaces(&tenant_namespaces),
                tenant_namespaces,
                tenant_usernames,
                egress,
            }
        })
        .collect();
    Policy {
        spec_path: spec_path.trim_start_matches("./").to_string(),
        flux,
        engine,
        kyverno_version,
        environments,
        generated_path: "generated".to_string(),
    }
}

fn opt(v: &Option<crate::spec::Sp<String>>, default: &str) -> String {
    v.as_ref()
        .map_or_else(|| default.to_string(), |x| x.value.clone())
}

/// `./clusters/{env}/x` → `./clusters/production/x` (Flux paths keep their `./`).
fn fill(path: &str, env: &str, tenant: &str) -> String {
    let p = path.replace("{env}", env).replace("{tenant}", tenant);
    if p.starts_with("./") || p == "." {
        p
    } else {
        format!("./{p}")
    }
}

/// RBAC rules for kinds: one rule per API group, resources sorted; Secrets get no list/watch.
pub(crate) fn rules<'a>(kinds: impl Iterator<Item = &'a KindInfo>) -> Vec<RbacRule> {
    let mut by_group: BTreeMap<(String, bool), BTreeSet<String>> = BTreeMap::new();
    for k in kinds {
        let secret = k.group.is_empty() && k.resource == "secrets" && k.risk == Risk::Secret;
        by_group
            .entry((k.group.clone(), secret))
            .or_default()
            .insert(k.resource.clone());
    }
    by_group
        .into_iter()
        .map(|((group, secret), resources)| RbacRule {
            api_group: group,
            resources: resources.into_iter().collect(),
            verbs: if secret { SECRET_VERBS } else { TENANT_VERBS }
                .iter()
                .map(|s| (*s).to_string())
                .collect(),
        })
        .collect()
}

/// `kyverno_version` is 1.17 or later (a `1.N` the check stage accepted).
fn kyverno_cel_default(version: &str) -> bool {
    version
        .strip_prefix("1.")
        .and_then(|m| m.split('.').next())
        .and_then(|m| m.parse::<u32>().ok())
        .is_some_and(|m| m >= 17)
}

/// The tenant's Kustomizations: one per namespace, each with `targetNamespace` so that
/// kustomize sets every namespaced object's namespace to it (kustomize-controller v1.9.4
/// `api/v1/kustomization_types.go` `TargetNamespace`). A one-namespace tenant keeps one
/// Kustomization named after the tenant on its `path`; a tenant with several namespaces gets
/// `<tenant>` for its first namespace on `<path>/<namespace>` and `<tenant>-<namespace>` for
/// each other one on `<path>/<namespace>`. All live in the first namespace, beside the
/// GitRepository (`--no-cross-namespace-refs` forbids a source in another namespace).
fn syncs(tenant: &str, namespaces: &[String], path: &str) -> Vec<Sync> {
    if namespaces.len() == 1 {
        return vec![Sync {
            name: tenant.to_string(),
            path: path.to_string(),
            target_namespace: namespaces[0].clone(),
        }];
    }
    namespaces
        .iter()
        .enumerate()
        .map(|(i, ns)| Sync {
            name: if i == 0 {
                tenant.to_string()
            } else {
                format!("{tenant}-{ns}")
            },
            path: format!("{}/{ns}", path.trim_end_matches('/')),
            target_namespace: ns.clone(),
        })
        .collect()
}

/// What helm-controller needs on the impersonated client beyond the release's own objects
/// (the allowed kinds): Helm's storage Secrets in the storage namespace (the HelmRelease's
/// own, `spec.storageNamespace` being confined by admission), and the objects its wait reads.
/// See `HELM_STORAGE_VERBS`, `HELM_WAIT_VERBS` and docs/threat-model.md "What the cluster
/// needs to run this output".
pub(crate) fn helm_rules() -> Vec<RbacRule> {
    let v = |verbs: &[&str]| verbs.iter().map(|s| (*s).to_string()).collect();
    vec![
        RbacRule {
            api_group: String::new(),
            resources: vec!["secrets".into()],
            verbs: v(HELM_STORAGE_VERBS),
        },
        RbacRule {
            api_group: String::new(),
            resources: vec!["pods".into()],
            verbs: v(HELM_WAIT_VERBS),
        },
        RbacRule {
            api_group: "apps".into(),
            resources: vec!["replicasets".into()],
            verbs: v(HELM_WAIT_VERBS),
        },
    ]
}

/// The platform tier's ClusterRole: the verbs on `cluster_kinds`, `get/list/watch` on
/// Namespaces unless Namespace is already a cluster kind, and, when it manages roles or
/// bindings, `escalate`/`bind` on them: the API server refuses to create a role granting, or a
/// binding to a role holding, any permission the writer does not hold itself unless it has
/// `escalate`/`bind` (kubernetes/kubernetes `pkg/registry/rbac/escalation_check.go`,
/// "RBAC: privilege escalation prevention"). With them the tier is cluster-admin-equivalent.
fn platform_rules(kinds: &[&KindInfo]) -> (Vec<RbacRule>, bool) {
    let mut out = rules(kinds.iter().copied());
    let has = |res: &str| {
        kinds
            .iter()
            .any(|k| k.resource == res && (k.group.is_empty() || k.group == RBAC_GROUP))
    };
    if !has("namespaces") {
        out.push(RbacRule {
            api_group: String::new(),
            resources: vec!["namespaces".into()],
            verbs: vec!["get".into(), "list".into(), "watch".into()],
        });
    }
    let mut escalate = Vec::new();
    let mut bind = Vec::new();
    for (kind, target) in [("clusterroles", "clusterroles"), ("roles", "roles")] {
        if has(kind) {
            escalate.push(target.to_string());
        }
    }
    for (kind, targets) in [
        ("clusterrolebindings", &["clusterroles"][..]),
        ("rolebindings", &["clusterroles", "roles"][..]),
    ] {
        if has(kind) {
            bind.extend(targets.iter().map(|t| (*t).to_string()));
        }
    }
    bind.sort();
    bind.dedup();
    let manages_rbac = !escalate.is_empty() || !bind.is_empty();
    if !escalate.is_empty() {
        out.push(RbacRule {
            api_group: RBAC_GROUP.into(),
            resources: escalate,
            verbs: vec!["escalate".into()],
        });
    }
    if !bind.is_empty() {
        out.push(RbacRule {
            api_group: RBAC_GROUP.into(),
            resources: bind,
            verbs: vec!["bind".into()],
        });
    }
    merge_rules(&mut out);
    (out, manages_rbac)
}

const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

/// Merges rules of the same group and verbs.
fn merge_rules(rules: &mut Vec<RbacRule>) {
    let mut merged: BTreeMap<(String, Vec<String>), BTreeSet<String>> = BTreeMap::new();
    for r in rules.drain(..) {
        merged
            .entry((r.api_group, r.verbs))
            .or_default()
            .extend(r.resources);
    }
    rules.extend(
        merged
            .into_iter()
            .map(|((api_group, verbs), res)| RbacRule {
                api_group,
                resources: res.into_iter().collect(),
                verbs,
            }),
    );
}

#[cfg(test)]
mod tests {
    use super::{kyverno_cel_default, syncs};

    #[test]
    fn cel_engine_is_the_default_from_kyverno_1_17() {
        assert!(!kyverno_cel_default("1.16"));
        assert!(kyverno_cel_default("1.17"));
        assert!(kyverno_cel_default("1.19"));
    }

    #[test]
    fn one_kustomization_per_namespace() {
        let one = syncs("shop", &["shop".into()], "./clusters/prod/shop");
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].path, "./clusters/prod/shop");
        let two = syncs(
            "shop",
            &["shop".into(), "shop-web".into()],
            "./clusters/prod/shop/",
        );
        let got: Vec<(&str, &str, &str)> = two
            .iter()
            .map(|s| {
                (
                    s.name.as_str(),
                    s.path.as_str(),
                    s.target_namespace.as_str(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("shop", "./clusters/prod/shop/shop", "shop"),
                ("shop-shop-web", "./clusters/prod/shop/shop-web", "shop-web"),
            ]
        );
    }
}
