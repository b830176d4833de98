//! `generated/README.md`: an index of the output tree for the people who review it: what
//! each directory and file is for, which threat of the seed it answers, how Flux applies
//! it, and the trust map of each environment (Mermaid, rendered by GitHub).
//!
//! Built from the tree's own paths, so it lists exactly what was generated; a file name it
//! has no description for is listed with the template that made it.

use rayon::prelude::*;
use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;

use crate::model::Policy;

/// Environments with more tenants get no trust map here (`trustc map` draws it): the page
/// stays small (trustc reads back files of at most 8 MiB) and quick to build.
const MAP_TENANTS: usize = 100;

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
        "Adversaries 1 and 3: the reconciler holds exactly the Role's rights",
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
        "binds the platform tier's ClusterRole to the platform reconciler",
        "Step 4: only the platform repository may change cluster-scoped objects",
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
    (
        "notifications.yaml",
        "Flux Provider and Alerts",
        "a failure must reach a human",
    ),
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

/// The trust maps the README draws, one entry per environment of the policy, in order: its
/// diagrams (title, Mermaid text; [`crate::map::mermaid_all`]), or `None` for an environment
/// of more than [`MAP_TENANTS`] tenants. Drawn apart from [`readme`] so that a caller can
/// draw them while the rest of the output compiles (they read only the policy).
pub struct TrustMaps(Vec<Option<Vec<(String, String)>>>);

/// Draws the [`TrustMaps`] of `policy`, its environments side by side.
pub fn trust_maps(policy: &Policy) -> TrustMaps {
    TrustMaps(
        policy
            .environments
            .par_iter()
            .map(|env| {
                (env.tenants.len() <= MAP_TENANTS)
                    .then(|| crate::map::mermaid_all(policy, Some(&env.name)))
            })
            .collect(),
    )
}

/// The README for the output tree whose files are `paths` (`/`-separated, relative), with
/// the trust maps `maps` ([`trust_maps`] of the same policy).
///
/// # Panics
/// When `maps` was drawn for a policy with another number of environments.
pub fn readme(policy: &Policy, paths: &[&str], maps: &TrustMaps) -> String {
    assert_eq!(
        maps.0.len(),
        policy.environments.len(),
        "trust maps of another policy"
    );
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
    // The tree's files by environment: env → dir (relative to the env) → file names. The
    // Kyverno suites are listed with their environment. Nothing is allocated per path (at
    // 1,000 tenants this loop was ~30 ms, alone at the end of a run): a directory is a slice
    // of its paths, a suite is named once, and a kind of file is described once.
    type Envs<'a> = BTreeMap<&'a str, BTreeMap<Cow<'a, str>, Vec<&'a str>>>;
    let mut envs: Envs<'_> = BTreeMap::new();
    // Kyverno suites: (env, tenant) → file names, named `../kyverno-tests/<env>/<tenant>`
    // below.
    let mut suites: BTreeMap<(&str, &str), Vec<&str>> = BTreeMap::new();
    // What each kind of file is: pattern (`<env>/tenants/<tenant>/role.yaml`) → row; and
    // the kinds described so far: (a suite's file, directory with `tenants/<tenant>` for
    // any tenant's, file name), which name one pattern each.
    let mut kinds: BTreeMap<String, (String, &str)> = BTreeMap::new();
    let mut described: HashSet<(bool, &str, &str)> = HashSet::new();
    // The files of one directory met one after the other: (env, dir, files).
    let mut run: Option<(&str, &str, Vec<&str>)> = None;
    fn add_run<'a>(envs: &mut Envs<'a>, env: &'a str, dir: &'a str, files: Vec<&'a str>) {
        envs.entry(env)
            .or_default()
            .entry(Cow::Borrowed(dir))
            .or_default()
            .extend(files);
    }
    for p in paths {
        let Some((top, rest)) = p.split_once('/') else {
            continue;
        };
        let suite = top == "kyverno-tests";
        let (dir, file) = if suite {
            let Some((env, suite)) = rest.split_once('/') else {
                continue;
            };
            let (tenant, file) = suite.rsplit_once('/').unwrap_or(("", suite));
            suites.entry((env, tenant)).or_default().push(file);
            ("", file)
        } else {
            let (dir, file) = rest.rsplit_once('/').unwrap_or(("", rest));
            // The paths are sorted, so a directory's files mostly come in a run: one map
            // lookup per run.
            match &mut run {
                Some((e, d, files)) if *e == top && *d == dir => files.push(file),
                _ => {
                    if let Some((e, d, files)) = run.replace((top, dir, vec![file])) {
                        add_run(&mut envs, e, d, files);
                    }
                }
            }
            (dir, file)
        };
        let generic = match dir.split_once('/') {
            Some(("tenants", _)) if !suite => "tenants/<tenant>",
            _ => dir,
        };
        if !described.insert((suite, generic, file)) {
            continue;
        }
        let pattern = if suite {
            format!("kyverno-tests/<env>/<tenant>/{file}")
        } else if generic.is_empty() {
            format!("<env>/{file}")
        } else {
            format!("<env>/{generic}/{file}")
        };
        kinds.entry(pattern).or_insert_with(|| {
            // A suite's directory is `../kyverno-tests/…`.
            let top_dir = if suite {
                ".."
            } else {
                dir.split('/').next().unwrap_or_default()
            };
            let (what, threat) = match describe(top_dir, file) {
                Some(d) => d,
                None if suite => match file {
                    "kyverno-test.yaml" => (
                        "a Kyverno CLI Test (for `kyverno test`, not kustomize): the attackers' objects are denied, the tenant's own Deployment passes",
                        "proves the policies on a real policy engine",
                    ),
                    "userinfo.yaml" => ("the request's user in the Test: the tenant's reconciler", ""),
                    "resources.yaml" => ("the objects the Test submits", ""),
                    _ => ("part of a Kyverno CLI suite", ""),
                },
                None if file == "kustomization.yaml" => (
                    "kustomize's list of this directory's resources",
                    "",
                ),
                None if top_dir == "policies" => (
                    "an admission policy of the trust model",
                    "Adversaries 1, 3, 4 and 5, at admission",
                ),
                None => ("generated by trustc", ""),
            };
            (what.to_string(), threat)
        });
    }
    if let Some((e, d, files)) = run.take() {
        add_run(&mut envs, e, d, files);
    }
    for ((env, tenant), files) in suites {
        envs.entry(env)
            .or_default()
            .entry(Cow::Owned(format!("../kyverno-tests/{env}/{tenant}")))
            .or_default()
            .extend(files);
    }
    out.push_str(
        "## What each file is

| path | what it is | threat it answers |\n|---|---|---|\n",
    );
    for (d, what) in DIRS {
        if kinds.keys().any(|k| k.starts_with(&format!("<env>/{d}/"))) {
            let _ = writeln!(out, "| `<env>/{d}/` | {what} | |");
        }
    }
    for (pattern, (what, threat)) in &kinds {
        let _ = writeln!(out, "| `{pattern}` | {what} | {threat} |");
    }
    out.push('\n');
    for (env, maps) in policy.environments.iter().zip(&maps.0) {
        let Some(dirs) = envs.get(env.name.as_str()) else {
            continue;
        };
        let _ = writeln!(
            out,
            "## {}\n\nBranch `{}`{}; applied by `{g}/{}/flux-system-sync/` (Kustomization `trustc-{}`). Files:\n",
            env.name,
            env.branch,
            if env.production { ", production" } else { "" },
            env.name,
            env.name,
        );
        // Directories holding the same files (one per tenant) share a line.
        let mut lines: BTreeMap<(String, String), Vec<&str>> = BTreeMap::new();
        for (dir, files) in dirs {
            let mut files = files.clone();
            files.sort_unstable();
            let listed = files.join(", ");
            let (parent, leaf) = match dir.rsplit_once('/') {
                Some((p, l)) if p == "tenants" || p.starts_with("../kyverno-tests/") => {
                    (format!("{p}/"), l)
                }
                _ => (String::new(), dir.as_ref()),
            };
            if parent.is_empty() {
                let shown = if dir.is_empty() {
                    format!("{}/", env.name)
                } else {
                    format!("{}/{dir}/", env.name)
                };
                lines.entry((shown, listed)).or_default();
            } else {
                lines
                    .entry((format!("{}/{parent}", env.name), listed))
                    .or_default()
                    .push(leaf);
            }
        }
        for ((prefix, listed), leaves) in &lines {
            let shown = match leaves.as_slice() {
                [] => prefix.clone(),
                [one] => format!("{prefix}{one}/"),
                many => format!("{prefix}{{{}}}/", many.join(", ")),
            };
            let shown = shown.replace(&format!("{}/../", env.name), "");
            let _ = writeln!(out, "- `{shown}`: {listed}");
        }
        out.push_str("\n### Trust map\n\n");
        let Some(maps) = maps else {
            let _ = write!(
                out,
                "{} tenants: too many for this page; run `trustc map --env {}`.\n\n",
                env.tenants.len(),
                env.name
            );
            continue;
        };
        for (title, diagram) in maps {
            let _ = write!(out, "#### {title}\n\n```mermaid\n{diagram}```\n\n");
        }
    }
    out
}
