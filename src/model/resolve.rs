//! ValidSpec → Policy: defaults, references, placeholders, RBAC rules.

use std::collections::{BTreeMap, BTreeSet};

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
        pod_security_version: opt(&s.flux.pod_security_version, "v1.35"),
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
    let engine = match s.admission.engine.as_ref().map(|e| e.as_str()) {
        Some("kyverno-cel") => Engine::KyvernoCel,
        Some("vap") => Engine::Vap,
        _ => Engine::Kyverno,
    };
    let signer = |name: &str| -> Signer {
        let key = &v.signer_keys[name];
        Signer {
            name: name.to_string(),
            email: s.signers[name].email.value.clone(),
            fingerprint: key.fingerprint.clone(),
            secret_key: format!("{name}.asc"),
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
            }),
        }
    };
    let deploy_key = |tenant: &str, env: &str| {
        s.secrets
            .deploy_key_path
            .value
            .replace("{tenant}", tenant)
            .replace("{env}", env)
    };

    let mut environments = Vec::new();
    // Environments and tenants in name order: output never depends on table order.
    let mut env_names: Vec<&String> = s.environments.keys().collect();
    env_names.sort();
    let mut tenant_names: Vec<&String> = s.tenants.keys().collect();
    tenant_names.sort();
    for env_name in env_names {
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
        let mut cluster_rules = rules(cluster_kinds.iter().copied());
        cluster_rules.push(RbacRule {
            api_group: String::new(),
            resources: vec!["namespaces".into()],
            verbs: vec!["get".into(), "list".into(), "watch".into()],
        });
        merge_rules(&mut cluster_rules);
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
        };
        let mut tenants = Vec::new();
        for &tname in &tenant_names {
            let t = &s.tenants[tname];
            if !t.environments.iter().any(|x| &x.value == env_name) {
                continue;
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
            let mut signers: Vec<Signer> = t.signers.iter().map(|n| signer(&n.value)).collect();
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
            tenants.push(Tenant {
                name: tname.clone(),
                username: format!("system:serviceaccount:{home}:{sa}"),
                rules: rules(kinds.iter()),
                kinds,
                namespaces,
                home,
                service_account: sa,
                repository: t.repository.value.clone(),
                path: fill(&t.path.value, env_name, tname),
                branch: e.branch.value.clone(),
                signers,
                signers_secret: format!("{tname}-signers"),
                git_secret: format!("{tname}-git-auth"),
                deploy_key_path: deploy_key(tname, env_name),
                registries,
                images,
                charts,
                allow_secrets,
                allow_network_policies: t.allow_network_policies.as_ref().is_some_and(|b| b.value),
            });
        }
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
        environments.push(Env {
            name: env_name.clone(),
            branch: e.branch.value.clone(),
            production: e.production.as_ref().is_some_and(|p| p.value),
            platform,
            tenants,
            admission,
            image_verification,
            tenant_namespaces,
            tenant_usernames,
            egress,
        });
    }
    Policy {
        spec_path: spec_path.trim_start_matches("./").to_string(),
        flux,
        engine,
        kyverno_version: opt(&s.admission.kyverno_version, "1.19"),
        environments,
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
