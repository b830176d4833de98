//! Rules on kinds: the built-in table plus `[kinds]`, and the grants a tenant must never get
//! (cluster-scoped kinds, wildcards, RBAC, admission, policy engine, quotas, ServiceAccounts,
//! and Secrets / NetworkPolicies without their opt-in).

use crate::check::Checker;
use crate::diag::{Code, Diagnostic};
use crate::kinds::{self, KindInfo, Risk};
use crate::spec::Sp;

pub(super) fn run(c: &mut Checker<'_>) {
    let spec = c.spec;
    // User-declared kinds first, so grants can refer to them.
    for (name, def) in &spec.kinds {
        let span = spec
            .headers
            .kinds
            .get(name)
            .cloned()
            .unwrap_or(def.resource.span.clone());
        let (group, kind) = kinds::split(name);
        if !is_group_kind(name) {
            c.push(
                Diagnostic::new(
                    Code::ConflictingKindDefinition,
                    format!("`{name}` is not a kind written `group/Kind`"),
                )
                .at(span, "expected e.g. `monitoring.coreos.com/ServiceMonitor`")
                .help("write the API group (with its dots), a slash and the Kind in CamelCase"),
            );
            continue;
        }
        let resource = &def.resource.value;
        if resource.is_empty()
            || resource.contains('*')
            || !resource
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        {
            c.push(
                Diagnostic::new(
                    Code::ConflictingKindDefinition,
                    format!("`{resource}` is not a plural resource name"),
                )
                .at(
                    def.resource.span.clone(),
                    "RBAC needs the lowercase plural, e.g. `servicemonitors`",
                )
                .help("write the resource as `kubectl api-resources` prints it"),
            );
            continue;
        }
        let declared = KindInfo {
            group: group.to_string(),
            kind: kind.to_string(),
            resource: resource.clone(),
            namespaced: def.namespaced.value,
            risk: kinds::group_risk(group),
        };
        if let Some(builtin) = kinds::builtin(group, kind) {
            if builtin.resource != declared.resource || builtin.namespaced != declared.namespaced {
                c.push(
                    Diagnostic::new(
                        Code::ConflictingKindDefinition,
                        format!("`{name}` is built in with resource `{}` ({}), and redefined differently here", builtin.resource, scope(builtin.namespaced)),
                    )
                    .at(span, "conflicts with the built-in table")
                    .help("remove this `[kinds]` entry; the built-in definition applies"),
                );
                continue;
            }
        }
        c.kinds.insert(name.clone(), declared);
    }

    for (tenant, t) in &spec.tenants {
        let allow_secrets = t.allow_secrets.as_ref().is_some_and(|b| b.value);
        let allow_netpol = t.allow_network_policies.as_ref().is_some_and(|b| b.value);
        for k in &t.allowed_kinds {
            let want = Want::Tenant {
                secrets: allow_secrets,
                network_policies: allow_netpol,
            };
            let Some(info) = resolve(c, k, want, &t.allowed_kinds) else {
                continue;
            };
            let refuse = |code: Code, msg: String, label: &str, why: &str, help: &str| {
                Diagnostic::new(code, msg)
                    .at(k.span.clone(), label.to_string())
                    .note(why.to_string())
                    .help(help.to_string())
            };
            if !info.namespaced {
                c.push(refuse(
                    Code::ClusterScopedKind,
                    format!("tenant `{tenant}` may not deploy the cluster-scoped kind `{}`", k.value),
                    "cluster-scoped: reaches beyond the tenant's namespaces",
                    "a cluster-scoped object from a tenant repository is the seed's Adversary 1 and 3: one push of a ClusterRoleBinding and the cluster is theirs; `targetNamespace` does not stop it",
                    "cluster-scoped kinds belong to the platform tier: move it to `platform.cluster_kinds`",
                ));
                continue;
            }
            match info.risk {
                Risk::Rbac => c.push(refuse(
                    Code::PrivilegedKind,
                    format!("tenant `{tenant}` may not manage RBAC objects (`{}`)", k.value),
                    "RBAC object",
                    "a tenant that writes Roles or RoleBindings can grant itself anything the namespace allows, including Secrets and pods/exec",
                    "trustc generates the tenant's Role from `allowed_kinds`; remove this kind",
                )),
                Risk::Admission | Risk::PolicyEngine => c.push(refuse(
                    Code::PrivilegedKind,
                    format!("tenant `{tenant}` may not manage admission or policy-engine objects (`{}`)", k.value),
                    "admission / policy-engine object",
                    "a tenant that writes policies or PolicyExceptions exempts itself from the guard rails that stop Adversaries 3 and 4",
                    "policies are generated by trustc for the platform; remove this kind",
                )),
                Risk::ServiceAccount => c.push(refuse(
                    Code::PrivilegedKind,
                    format!("tenant `{tenant}` may not manage ServiceAccounts"),
                    "ServiceAccount",
                    "a ServiceAccount the tenant creates can be named by a Pod or a Flux object; trustc makes the one service account the tenant reconciles with",
                    "remove this kind; the tenant's service account is generated",
                )),
                Risk::Quota => c.push(refuse(
                    Code::PrivilegedKind,
                    format!("tenant `{tenant}` may not manage `{}`", k.value),
                    "quota object",
                    "a tenant that writes its own ResourceQuota or LimitRange raises its own limits",
                    "quotas are the platform's; remove this kind",
                )),
                Risk::Secret if !allow_secrets => c.push(refuse(
                    Code::SecretsWithoutOptIn,
                    format!("tenant `{tenant}` asks for `{}` without `allow_secrets = true`", k.value),
                    "secret material",
                    "Secrets (and ExternalSecrets, which can pull any path of the cluster secret store, other tenants' deploy keys included) are the seed's Adversary 2",
                    "prefer ExternalSecrets managed by the platform; if the tenant must write Secrets, set `allow_secrets = true` (it still never gets list/watch)",
                )),
                Risk::NetworkPolicy if !allow_netpol => c.push(refuse(
                    Code::NetworkPoliciesWithoutOptIn,
                    format!("tenant `{tenant}` asks for NetworkPolicies without `allow_network_policies = true`"),
                    "NetworkPolicy",
                    "NetworkPolicies are additive allow-lists: one tenant allow-all policy undoes the default deny trustc installs",
                    "set `allow_network_policies = true` for this tenant if it must manage its own",
                )),
                _ => {}
            }
        }
    }

    for k in &spec.platform.cluster_kinds {
        let Some(info) = resolve(c, k, Want::Platform, &spec.platform.cluster_kinds) else {
            continue;
        };
        if info.namespaced {
            c.push(
                Diagnostic::new(
                    Code::ClusterScopedKind,
                    format!("`{}` is namespaced; `cluster_kinds` lists cluster-scoped kinds", k.value),
                )
                .at(k.span.clone(), "namespaced kind")
                .help("the platform manages namespaced objects through its own namespaces; remove it here"),
            );
        }
    }
}

fn scope(namespaced: bool) -> &'static str {
    if namespaced {
        "namespaced"
    } else {
        "cluster-scoped"
    }
}

/// Resolves a `group/Kind` reference, reporting wildcards and unknown kinds.
fn resolve(
    c: &mut Checker<'_>,
    k: &Sp<String>,
    want: Want,
    listed: &[Sp<String>],
) -> Option<KindInfo> {
    // A suggestion the list already holds would be a duplicate: say so instead.
    let mean = |name: &str| {
        if listed.iter().any(|l| l.value == name) {
            format!(
                "`{}` looks like `{name}`, which is already listed: remove it",
                k.value
            )
        } else {
            format!("did you mean `{name}`?")
        }
    };
    if k.value.contains('*') {
        c.push(
            Diagnostic::new(Code::WildcardGrant, format!("`{}` is a wildcard grant", k.value))
                .at(k.span.clone(), "wildcard")
                .note("a wildcard grants kinds nobody reviewed, including ones installed later (CRDs) and RBAC itself")
                .help("list each kind explicitly"),
        );
        return None;
    }
    if let Some(info) = c.kinds.get(&k.value) {
        return Some(info.clone());
    }
    if c.spec.headers.kinds.contains_key(&k.value) {
        // Declared in `[kinds]` but refused there (or unreadable): already reported.
        return None;
    }
    let (group, kind) = kinds::split(&k.value);
    if let Some(info) = kinds::builtin(group, kind) {
        c.kinds.insert(k.value.clone(), info.clone());
        return Some(info);
    }
    let mut d = Diagnostic::new(Code::UnknownKind, format!("unknown kind `{}`", k.value))
        .at(k.span.clone(), "not in the built-in table nor in `[kinds]`");
    // kubectl's spellings first (`deployments`, `jobs.batch`, `deploy`, a bare `Job`).
    let mut known: Vec<KindInfo> = c.kinds.values().cloned().collect();
    known.extend(kinds::builtins());
    let spelled = kinds::from_spelling(&k.value, &known);
    d = match spelled.as_slice() {
        [one] => {
            let name = one.spec_name();
            let help = match refusal(one, want) {
                None => mean(&name),
                Some(why) if why.starts_with("needs") => {
                    format!("{} it {why}", mean(&name))
                }
                Some(why) => format!("`{}` is `{name}`, which {why}: remove it", k.value),
            };
            d.note("kinds are written `group/Kind` (the core group bare: `Service`), not as kubectl's resource names")
                .help(help)
        }
        [_, ..] => d.help(format!(
            "`{}` is ambiguous; write one of: {}",
            k.value,
            spelled
                .iter()
                .map(|i| format!("`{}`", i.spec_name()))
                .collect::<Vec<_>>()
                .join(", ")
        )),
        [] => {
            let candidates: Vec<String> = known
                .iter()
                .filter(|i| refusal(i, want).is_none())
                .map(KindInfo::spec_name)
                .collect();
            match crate::spec::suggest(&k.value, candidates.iter().map(String::as_str)) {
                Some(s) => d.help(mean(s)),
                None if is_group_kind(&k.value) && k.value.contains('/') => d.help(format!(
                    "declare it: `[kinds.\"{}\"]` with `resource` and `namespaced`",
                    k.value
                )),
                None => d.help(
                    "write the kind as `group/Kind` (e.g. `apps/Deployment`; core kinds bare: `Service`); a custom resource is declared under `[kinds.\"group/Kind\"]`",
                ),
            }
        }
    };
    c.push(d);
    None
}

/// Whether `name` is a well-formed `group/Kind` a `[kinds]` entry may declare (the same test
/// the `[kinds]` rule applies, so a "declare it" help is never refused).
fn is_group_kind(name: &str) -> bool {
    let (group, kind) = kinds::split(name);
    !kind.is_empty()
        && kind.starts_with(|ch: char| ch.is_ascii_uppercase())
        && kind.chars().all(|ch| ch.is_ascii_alphanumeric())
        && !group.contains('*')
        && (group.is_empty() || group.contains('.'))
        && group
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
}

/// Where a kind is asked for: a tenant's `allowed_kinds` or the platform's `cluster_kinds`.
#[derive(Clone, Copy)]
enum Want {
    Tenant {
        secrets: bool,
        network_policies: bool,
    },
    Platform,
}

/// Why a kind would be refused where it is asked for (so a suggestion is never refused).
fn refusal(info: &KindInfo, want: Want) -> Option<&'static str> {
    match want {
        Want::Platform if info.namespaced => {
            Some("is namespaced (`cluster_kinds` lists cluster-scoped kinds)")
        }
        Want::Platform => None,
        Want::Tenant { .. } if !info.namespaced => {
            Some("is cluster-scoped and belongs to `platform.cluster_kinds`")
        }
        Want::Tenant {
            secrets,
            network_policies,
        } => match info.risk {
            Risk::Normal => None,
            Risk::Secret if secrets => None,
            Risk::NetworkPolicy if network_policies => None,
            Risk::Secret => Some("needs `allow_secrets = true` for this tenant"),
            Risk::NetworkPolicy => Some("needs `allow_network_policies = true` for this tenant"),
            _ => Some("a tenant may never be granted"),
        },
    }
}
