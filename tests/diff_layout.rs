//! Diffs that read well (issue 10 item 2): a one-tenant change to the trust model is a
//! one-tenant diff of the generated YAML, for every engine.
//!
//! The example spec (`policy-spec/trust.toml`, tenant `payments`) is compiled with two more
//! tenants (`alpha`, `charlie`), then with `bravo` inserted between them, then with
//! `charlie` removed. Every line that changes in a file present in both outputs must name
//! the tenant added or removed (its namespaces, service account, repository all carry its
//! name), or be one of a few structural lines; a file that appears or disappears must be the
//! tenant's own. No line of a policy, of the alert rule or of a Kyverno CLI test names two
//! tenants, so a long fleet never turns into one long line that every change rewrites, and
//! an expression cannot switch between a one-line and a block scalar as the fleet grows
//! (that would rewrite its `expression:` line, which names no tenant).

use std::collections::BTreeMap;
use std::path::Path;

use similar::{ChangeTag, TextDiff};

use crate::support::root;

const ENGINES: [&str; 3] = ["kyverno", "kyverno-cel", "vap"];

/// Tenants of the 3-tenant fleet (beside the example's `payments`), and the one inserted
/// between them. Each name appears in nothing but that tenant's data.
const BASE: [&str; 2] = ["alpha", "charlie"];
const ADDED: &str = "bravo";
const ALL: [&str; 4] = ["alpha", "bravo", "charlie", "payments"];

/// A tenant with two namespaces, its own repository and chart repository, the example's
/// signed registry and HelmRelease (so it appears in every tenant list trustc emits).
const TENANT: &str = r#"
[tenants.NAME]
namespaces = ["NAME", "NAME-web"]
repository = "ssh://git@github.com/example/NAME-manifests.git"
path = "./clusters/{env}/NAME"
environments = ["staging", "production"]
signers = ["alice"]
registries = ["internal"]
allowed_kinds = ["apps/Deployment", "Service", "helm.toolkit.fluxcd.io/HelmRelease"]

[[tenants.NAME.charts]]
name = "NAME-app"
repository = "https://charts.example.com/NAME"
version = ">=1.0.0 <2.0.0"
"#;

/// Lines that may change without naming the tenant: the brackets of a list or map that
/// becomes empty or stops being empty. Nothing else.
const STRUCTURAL: &[&str] = &["[", "]", "{", "}", "[]", "{}"];

/// Files that are not part of the reviewed output: trustc's own sha256 manifest lists the
/// hash of every file, so each changed file changes its line.
/// Not manifests: the bookkeeping file, and the index for people (`README.md`, whose trust
/// map is drawn from every tenant). The one-tenant rule is about the manifests reviewers read.
const NOT_REVIEWED: &[&str] = &[".trustc-manifest", "README.md"];

/// Compiles the example with the given extra tenants (in this order) into
/// `<dir>/<label>/out` and returns every file of the output by relative path.
fn compile(dir: &Path, label: &str, engine: &str, tenants: &[&str]) -> BTreeMap<String, String> {
    // The same spec path in every variant: the output's header names it.
    let spec_dir = dir.join(label).join("spec");
    let keys = spec_dir.join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    for entry in std::fs::read_dir(root().join("policy-spec/keys")).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(&path, keys.join(path.file_name().unwrap())).unwrap();
        }
    }
    let example = std::fs::read_to_string(root().join("policy-spec/trust.toml")).unwrap();
    assert!(example.contains("engine = \"kyverno-cel\""));
    let mut text = example.replacen(
        "engine = \"kyverno-cel\"",
        &format!("engine = \"{engine}\""),
        1,
    );
    for t in tenants {
        text.push_str(&TENANT.replace("NAME", t));
    }
    let spec = spec_dir.join("trust.toml");
    std::fs::write(&spec, text).unwrap();
    let out = dir.join(label).join("out");
    let code = trustc::cli::run([
        "trustc",
        "generate",
        "--spec",
        &spec.display().to_string(),
        "--out",
        &out.display().to_string(),
    ]);
    assert_eq!(code, 0, "trustc generate ({engine}, {label})");
    let mut files = BTreeMap::new();
    for entry in walkdir::WalkDir::new(&out) {
        let entry = entry.unwrap();
        if entry.file_type().is_file() {
            let rel = entry
                .path()
                .strip_prefix(&out)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            if NOT_REVIEWED.contains(&rel.as_str()) {
                continue;
            }
            files.insert(rel, std::fs::read_to_string(entry.path()).unwrap());
        }
    }
    files
}

/// The lines of `before` → `after` that do not name `tenant` and are not structural, as
/// `path: -line` / `path: +line`; and the files that appear or disappear without naming it.
fn foreign_changes(
    before: &BTreeMap<String, String>,
    after: &BTreeMap<String, String>,
    tenant: &str,
) -> (Vec<String>, usize) {
    let mut bad = Vec::new();
    let mut changed = 0;
    let paths: std::collections::BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    for path in paths {
        match (before.get(path), after.get(path)) {
            (Some(old), Some(new)) => {
                let diff = TextDiff::from_lines(old, new);
                // Runs of consecutive changed lines (hunks without context).
                let mut runs: Vec<Vec<(char, &str)>> = vec![Vec::new()];
                for change in diff.iter_all_changes() {
                    let sign = match change.tag() {
                        ChangeTag::Equal => {
                            if !runs.last().unwrap().is_empty() {
                                runs.push(Vec::new());
                            }
                            continue;
                        }
                        ChangeTag::Delete => '-',
                        ChangeTag::Insert => '+',
                    };
                    changed += 1;
                    runs.last_mut()
                        .unwrap()
                        .push((sign, change.value().trim_end_matches('\n')));
                }
                for run in runs.iter().filter(|r| !r.is_empty()) {
                    if !run.iter().all(|(_, l)| names(l, tenant))
                        && !is_tenant_block(run, old, new, tenant)
                    {
                        bad.extend(
                            run.iter()
                                .map(|(sign, line)| format!("{path}: {sign}{line}")),
                        );
                    }
                }
            }
            _ if path.contains(tenant) => changed += 1,
            (Some(_), None) => bad.push(format!("{path}: removed, but not {tenant}'s own file")),
            (None, Some(_)) => bad.push(format!("{path}: added, but not {tenant}'s own file")),
            (None, None) => unreachable!(),
        }
    }
    (bad, changed)
}

/// The line names the tenant, or is structural.
fn names(line: &str, tenant: &str) -> bool {
    line.contains(tenant) || STRUCTURAL.contains(&line.trim())
}

/// A run of lines only added (or only removed) that names the tenant and is, with another
/// tenant's name for this one, already in the other version of the file: one tenant's copy
/// of a per-tenant block (a whole document such as the tenant's notification Alert).
fn is_tenant_block(run: &[(char, &str)], old: &str, new: &str, tenant: &str) -> bool {
    let sign = run[0].0;
    if run.iter().any(|(s, _)| *s != sign) || !run.iter().any(|(_, l)| l.contains(tenant)) {
        return false;
    }
    let text: String = run.iter().map(|(_, l)| format!("{l}\n")).collect();
    let other = if sign == '+' { old } else { new };
    ALL.iter()
        .filter(|t| **t != tenant)
        .any(|t| other.contains(&text.replace(tenant, t)))
}

/// Lines of the policies, the alert rule and the Kyverno CLI tests that name more than one
/// tenant.
fn lines_naming_several_tenants(files: &BTreeMap<String, String>) -> Vec<String> {
    let mut bad = Vec::new();
    for (path, text) in files {
        if !(path.contains("/policies/")
            || path.ends_with("monitoring/prometheus-rule.yaml")
            || path.starts_with("kyverno-tests/"))
        {
            continue;
        }
        for (i, line) in text.lines().enumerate() {
            let named: Vec<&str> = ALL.iter().copied().filter(|t| line.contains(t)).collect();
            if named.len() > 1 {
                let shown: String = line.chars().take(200).collect();
                bad.push(format!(
                    "{path}:{}: {} chars naming {named:?}: {shown}",
                    i + 1,
                    line.chars().count()
                ));
            }
        }
    }
    bad
}

#[test]
fn one_tenant_added_or_removed_is_a_one_tenant_diff() {
    let dir = tempfile::tempdir().unwrap();
    for engine in ENGINES {
        let base = compile(dir.path(), &format!("{engine}-base"), engine, &BASE);
        let added = compile(
            dir.path(),
            &format!("{engine}-added"),
            engine,
            &["alpha", ADDED, "charlie"],
        );
        let removed = compile(dir.path(), &format!("{engine}-removed"), engine, &["alpha"]);

        // The policies really are per tenant: every tenant is in them, and the new one changes them.
        let policies: String = added
            .iter()
            .filter(|(p, _)| p.starts_with("production/policies/"))
            .map(|(_, t)| t.as_str())
            .collect();
        for t in ALL {
            assert!(policies.contains(t), "{engine}: no policy names {t}");
        }

        for (what, after, tenant) in [("added", &added, ADDED), ("removed", &removed, "charlie")] {
            let (bad, changed) = foreign_changes(&base, after, tenant);
            assert!(changed > 0, "{engine}: {tenant} {what} changed nothing");
            assert!(
                bad.is_empty(),
                "{engine}: with {tenant} {what}, {} changed line(s) or file(s) do not name {tenant}:\n{}",
                bad.len(),
                bad.join("\n")
            );
        }
        for (what, files) in [("base", &base), ("added", &added), ("removed", &removed)] {
            let bad = lines_naming_several_tenants(files);
            assert!(
                bad.is_empty(),
                "{engine} ({what}): lines naming several tenants:\n{}",
                bad.join("\n")
            );
        }
    }
}

/// The checks can fail: the layout trustc had before (every tenant of a policy on one line,
/// a one-line scalar that becomes a block as the fleet grows) is reported, the whole run of
/// changed lines around it.
#[test]
fn a_fleet_on_one_line_is_reported() {
    let mut files = BTreeMap::new();
    files.insert(
        "production/policies/p.yaml".to_string(),
        "  - expression: \"request.namespace in ['alpha', 'bravo', 'payments']\"\n".to_string(),
    );
    assert_eq!(lines_naming_several_tenants(&files).len(), 1);
    let before = BTreeMap::from([(
        "production/policies/p.yaml".to_string(),
        "expression: \"request.namespace in ['alpha']\"\n".to_string(),
    )]);
    let after = BTreeMap::from([(
        "production/policies/p.yaml".to_string(),
        "expression: |-\n  request.namespace in [\n    'alpha',\n    'bravo',\n  ]\n".to_string(),
    )]);
    let (bad, _) = foreign_changes(&before, &after, "bravo");
    assert_eq!(
        bad,
        [
            "production/policies/p.yaml: -expression: \"request.namespace in ['alpha']\"",
            "production/policies/p.yaml: +expression: |-",
            "production/policies/p.yaml: +  request.namespace in [",
            "production/policies/p.yaml: +    'alpha',",
            "production/policies/p.yaml: +    'bravo',",
            "production/policies/p.yaml: +  ]",
        ]
    );
}
