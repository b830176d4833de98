//! `generated/README.md`: an index of the output tree for the people who review it: what
//! each directory and file is for, which threat of the seed it answers, how Flux applies
//! it, and the trust map of each environment (Mermaid, rendered by GitHub).
//!
//! Built from the tree's own paths, so it lists exactly what was generated; a file name it
//! has no description for is listed with the template that made it.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::model::Policy;

/// File name (or `dir/` prefix) → (what it is, the threat it answers).
const FILES: &[(&str, &str, &str)] = &[
    (
        "namespaces.yaml",
        "the tenant's Namespaces, labelled for the tenant and Pod Security Admission `restricted` (version pinned)",
        "Adversary 4: a privileged or host-namespace pod is refused by the namespace itself",
    ),
    (
        "service-account.yaml",
        "the reconciler ServiceAccount Flux impersonates for this tenant or tier",
        "cluster-admin Flux: the tenant's changes are applied with the tenant's rights only",
    ),
    (
        "role.yaml",
        "a Role per tenant namespace with exactly the allowed kinds (Secrets never list/watch)",
        "Adversaries 1 and 3: no cluster-scoped objects, no RBAC, no admission or policy-engine objects",
    ),
    (
        "role-binding.yaml",
        "binds each Role to the reconciler",
        "as above",
    ),
    (
        "signers.yaml",
        "the public keys allowed to sign the repository's commits",
        "Adversary 1: an unsigned or foreign-signed commit is not applied",
    ),
    (
        "source.yaml",
        "the GitRepository: branch of this environment, deploy key, `verify` against the signers",
        "Adversary 1; one branch per environment",
    ),
    (
        "sync.yaml",
        "the Kustomization(s): the reconciler's ServiceAccount, `prune`, no `force`, the tenant's namespaces only",
        "Adversary 3: a tenant cannot apply as Flux or into another namespace",
    ),
    (
        "deploy-key.yaml",
        "an ExternalSecret pulling the read-only deploy key from the secret store (never the key itself)",
        "Adversary 2: no private key in Git",
    ),
    (
        "images.yaml",
        "ImageRepository and ImagePolicy per image: approved registry, semver range, anchored tag filter",
        "Adversary 5: no image from elsewhere, no unexpected tag",
    ),
    (
        "charts.yaml",
        "chart sources (OCIRepository verified where the registry signs, or HelmRepository)",
        "Adversary 5: charts only from approved, verified sources",
    ),
    (
        "network-policies.yaml",
        "the tenant namespaces' NetworkPolicies: default deny, same namespace, monitoring",
        "Adversary 2: lateral movement and exfiltration from a compromised workload",
    ),
    (
        "cluster-role.yaml",
        "the platform tier's ClusterRole, limited to `platform.cluster_kinds`",
        "Step 4: only the platform repository may change cluster-scoped objects",
    ),
    (
        "cluster-role-binding.yaml",
        "binds it to the platform reconciler",
        "as above",
    ),
    (
        "egress.yaml",
        "NetworkPolicies for flux-system: what the controllers may reach (DNS, API server, Git hosts and registries on the spec's ports) and their traffic to each other",
        "Adversary 2: a compromised controller cannot reach anything else",
    ),
    (
        "kube-state-metrics.yaml",
        "kube-state-metrics custom-resource-state config for Flux objects (`gotk_resource_info`)",
        "a failure must reach a human",
    ),
    (
        "prometheus-rule.yaml",
        "PrometheusRule alerts: Kustomization or source not Ready, verification failures, repeated admission denials",
        "a silent failure or an attack in progress reaches a human",
    ),
    ("notifications.yaml", "Flux Provider and Alerts", "as above"),
];

/// Directory → (what it is, how Flux applies it).
const DIRS: &[(&str, &str)] = &[
    (
        "tenants",
        "one directory per tenant: its namespaces, RBAC, sources and sync, applied by the environment's entry point",
    ),
    (
        "platform",
        "the platform tier (Step 4 of the seed): its reconciler, ClusterRole, verified source and sync",
    ),
    (
        "policies",
        "admission policies (Kyverno or ValidatingAdmissionPolicy) enforcing the trust model at the API server",
    ),
    (
        "flux-lockdown",
        "a kustomize Component for the cluster's flux-system Kustomization: the controllers' multi-tenancy flags and NetworkPolicies; add it under `components:` of flux-system's `kustomization.yaml`",
    ),
    ("monitoring", "alerts and metrics configuration"),
    (
        "flux-system-sync",
        "the entry point: the Flux Kustomization `trustc-<env>` in flux-system that applies this environment's directory (`./generated/<env>`, through its `kustomization.yaml`) as `kustomize-controller`; listed under `resources:` of the cluster's `flux-system/kustomization.yaml`, not in this environment's own `kustomization.yaml`",
    ),
];

/// Files whose meaning depends on their directory (`sync.yaml` of the entry point is not a
/// tenant's sync): (directory, file, what it is, the threat it answers).
const DIR_FILES: &[(&str, &str, &str, &str)] = &[
    (
        "flux-system-sync",
        "sync.yaml",
        "the Kustomization `trustc-<env>` (flux-system, `prune: true`, `serviceAccountName: kustomize-controller`) applying `./generated/<env>` from the cluster's own GitRepository",
        "the cluster applies what was reviewed, and only that",
    ),
    (
        "flux-lockdown",
        "lockdown.yaml",
        "the patches and NetworkPolicies of the component: controller flags, egress limits, Flux's `allow-egress` deleted",
        "Adversary 2; cross-namespace references and remote bases refused",
    ),
];

fn describe(dir: &str, file: &str) -> Option<(&'static str, &'static str)> {
    if let Some((_, _, what, threat)) = DIR_FILES
        .iter()
        .find(|(d, f, _, _)| *d == dir && *f == file)
    {
        return Some((what, threat));
    }
    FILES
        .iter()
        .find(|(name, _, _)| *name == file)
        .map(|(_, what, threat)| (*what, *threat))
}

/// The README for the output tree whose files are `paths` (`/`-separated, relative).
pub fn readme(policy: &Policy, paths: &[&str]) -> String {
    let mut out = String::new();
    let g = &policy.generated_path;
    let _ = write!(
        out,
        "# {g}/\n\n\
         Compiled by trustc from `{spec}`; do not edit: change the trust model and run\n\
         `trustc generate`. CI runs `trustc generate --check`.\n\n\
         ## How Flux applies it\n\n\
         Each environment is a directory (`{g}/<env>/`) that `kubectl kustomize {g}/<env>`\n\
         builds: its `kustomization.yaml` lists `tenants/`, `platform/`, `policies/` and\n\
         `monitoring/`. Flux applies it through the entry point `{g}/<env>/flux-system-sync/`:\n\
         the Kustomization `trustc-<env>` in flux-system, which applies `./{g}/<env>` from the\n\
         cluster's own `flux-system` GitRepository as `kustomize-controller`. The cluster's\n\
         `clusters/<env>/flux-system/kustomization.yaml` lists that entry point under\n\
         `resources:` and `{g}/<env>/flux-lockdown/` under `components:` (see \"What it\n\
         compiles to\" in the project README). Each tenant then reconciles its own repository\n\
         with its own service account (`tenants/<tenant>/sync.yaml`).\n\n\
         `kyverno-tests/` holds Kyverno CLI suites (`kyverno test {g}/kyverno-tests/<env>/<tenant>`),\n\
         not manifests: no `kustomization.yaml` lists it, so kustomize and Flux never read it.\n\
         This README is not read by kustomize, Flux or `trustc access`/`who-can` either.\n\n",
        spec = policy.spec_path,
    );
    // env → dir → files
    let mut envs: BTreeMap<&str, BTreeMap<String, Vec<&str>>> = BTreeMap::new();
    // env → `<tenant>/<file>` of its Kyverno CLI suites
    let mut suites: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for p in paths {
        let mut parts = p.splitn(2, '/');
        let (Some(top), Some(rest)) = (parts.next(), parts.next()) else {
            continue;
        };
        if top == "kyverno-tests" {
            if let Some((env, suite)) = rest.split_once('/') {
                suites.entry(env).or_default().push(suite);
            }
            continue;
        }
        let (dir, file) = match rest.rsplit_once('/') {
            Some((d, f)) => (d.to_string(), f),
            None => (String::new(), rest),
        };
        envs.entry(top)
            .or_default()
            .entry(dir)
            .or_default()
            .push(file);
    }
    for env in &policy.environments {
        let Some(dirs) = envs.get(env.name.as_str()) else {
            continue;
        };
        let _ = writeln!(
            out,
            "## {}\n\nBranch `{}`{}.\n",
            env.name,
            env.branch,
            if env.production { ", production" } else { "" }
        );
        out.push_str("| path | what it is | threat it answers |\n|---|---|---|\n");
        for (dir, files) in dirs {
            let top = dir.split('/').next().unwrap_or_default();
            if let Some((_, what)) = DIRS.iter().find(|(d, _)| *d == top) {
                if !dir.contains('/') {
                    let what = what.replace("<env>", &env.name);
                    let _ = writeln!(out, "| `{}/{dir}/` | {what} | |", env.name);
                }
            }
            for f in files {
                let path = if dir.is_empty() {
                    format!("{}/{f}", env.name)
                } else {
                    format!("{}/{dir}/{f}", env.name)
                };
                let (what, threat) = match describe(dir, f) {
                    Some(d) => d,
                    None if *f == "kustomization.yaml" => {
                        ("kustomize's list of this directory's resources", "")
                    }
                    None if dir == "policies" => (
                        "an admission policy of the trust model",
                        "Adversaries 1, 3, 4 and 5, at admission",
                    ),
                    None => ("generated by trustc", ""),
                };
                let what = what.replace("<env>", &env.name);
                let _ = writeln!(out, "| `{path}` | {what} | {threat} |");
            }
        }
        for suite in suites.get(env.name.as_str()).into_iter().flatten() {
            let what = match suite.rsplit('/').next() {
                Some("kyverno-test.yaml") => {
                    "a Kyverno CLI Test: the attackers' objects are denied, the tenant's own Deployment passes"
                }
                Some("userinfo.yaml") => "the request's user: the tenant's reconciler",
                Some("resources.yaml") => "the objects the Test submits",
                _ => "part of a Kyverno CLI suite",
            };
            let _ = writeln!(
                out,
                "| `kyverno-tests/{}/{suite}` | {what} (for `kyverno test`, not kustomize) | proves the policies on a real policy engine |",
                env.name
            );
        }
        out.push_str("\n### Trust map\n\n");
        for (title, diagram) in crate::map::mermaid_all(policy, Some(&env.name)) {
            let _ = write!(out, "#### {title}\n\n```mermaid\n{diagram}```\n\n");
        }
    }
    out
}
