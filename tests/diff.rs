//! `trustc diff`: each kind of change of a multi-tenant spec, with its severity and TOML
//! location, in every format; `--base REF` from git; exit statuses.

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

use crate::support::{TEST_NOW, root};

/// A two-tenant fleet: `payments` in both environments, `orders` in staging only.
const BASE: &str = r#"version = 1

[flux]
namespace = "flux-system"
version = "2.9"
api_server_cidrs = ["10.96.0.1/32"]

[admission]
engine = "kyverno-cel"
kyverno_version = "1.19"

[git]
known_hosts = "github.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"

[secrets]
store = "vault-backend"
deploy_key_path = "flux/{tenant}/deploy-key"

[signers.alice]
email = "alice@example.com"
key = "keys/alice.asc"

[signers.bob]
email = "bob@example.com"
key = "keys/bob.asc"

[registries.internal]
host = "registry.internal.example.com"
cosign_key = "keys/cosign.pub"

[registries.public]
host = "ghcr.io"

[environments.staging]
branch = "staging"

[environments.production]
branch = "main"
production = true

[platform]
repository = "ssh://git@github.com/example/platform.git"
path = "./clusters/{env}/platform"
signers = ["alice"]
cluster_kinds = ["Namespace"]

[tenants.payments]
namespaces = ["payments"]
repository = "ssh://git@github.com/example/payments.git"
path = "./clusters/{env}/payments"
environments = ["staging", "production"]
signers = ["alice", "bob"]
registries = ["internal"]
allowed_kinds = ["apps/Deployment", "Service"]

[tenants.orders]
namespaces = ["orders"]
repository = "ssh://git@github.com/example/orders.git"
path = "./clusters/{env}/orders"
environments = ["staging"]
signers = ["alice"]
registries = ["internal"]
allowed_kinds = ["apps/Deployment", "Service"]
"#;

/// `dir/trust.toml` with `text` and the example's keys beside it.
fn write_spec(dir: &Path, text: &str) -> PathBuf {
    crate::support::copy_example_keys(dir);
    let spec = dir.join("trust.toml");
    std::fs::write(&spec, text).unwrap();
    spec
}

fn trustc(cwd: &Path, args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_trustc"))
        .args(args)
        .current_dir(cwd)
        .env("TRUSTC_NOW", TEST_NOW.to_string())
        .output()
        .unwrap()
}

struct Case {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

/// Base and new spec side by side (`base/trust.toml`, `new/trust.toml`).
fn case(new_text: &str) -> Case {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    write_spec(&root.join("base"), BASE);
    write_spec(&root.join("new"), new_text);
    Case { _dir: dir, root }
}

impl Case {
    fn run(&self, format: &str, extra: &[&str]) -> Output {
        let mut args = vec![
            "diff",
            "--spec",
            "new/trust.toml",
            "--base-spec",
            "base/trust.toml",
            "--format",
            format,
        ];
        args.extend_from_slice(extra);
        trustc(&self.root, &args)
    }

    fn json(&self) -> Vec<Value> {
        let o = self.run("json", &[]);
        assert!(
            o.status.code() == Some(0) || o.status.code() == Some(1),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        let doc: Value = serde_json::from_slice(&o.stdout).unwrap();
        doc["changes"].as_array().unwrap().clone()
    }
}

/// 1-based line of the first line of `text` containing `needle` (after `after`, if given).
fn line_of(text: &str, after: Option<&str>, needle: &str) -> usize {
    let start = after.map_or(0, |a| {
        text.lines()
            .position(|l| l.contains(a))
            .expect("anchor present")
    });
    start
        + 1
        + text
            .lines()
            .skip(start)
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("`{needle}` in spec"))
}

fn find<'a>(
    changes: &'a [Value],
    category: &str,
    subject_has: &str,
    item_has: &str,
) -> Vec<&'a Value> {
    changes
        .iter()
        .filter(|c| {
            c["category"] == category
                && c["subject"].as_str().unwrap().contains(subject_has)
                && c["item"].as_str().unwrap().contains(item_has)
        })
        .collect()
}

fn assert_at(c: &Value, file: &str, line: usize) {
    let loc = &c["spec_location"];
    assert_eq!(loc["file"], file, "{c:#}");
    assert_eq!(loc["line"], line, "{c:#}");
}

#[test]
fn an_unchanged_spec_has_no_change_and_exits_0() {
    let c = case(BASE);
    let o = c.run("human", &[]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("no change"));
    assert!(c.json().is_empty());
}

#[test]
fn a_kind_added_is_an_escalation_at_its_line() {
    let new = BASE.replace(
        "environments = [\"staging\"]\nsigners = [\"alice\"]\nregistries = [\"internal\"]\nallowed_kinds = [\"apps/Deployment\", \"Service\"]",
        "environments = [\"staging\"]\nsigners = [\"alice\"]\nregistries = [\"internal\"]\nallowed_kinds = [\"apps/Deployment\", \"Service\",\n  \"batch/Job\"]",
    );
    assert_ne!(new, BASE);
    let c = case(&new);
    let changes = c.json();
    let jobs = find(
        &changes,
        "permission",
        "orders/orders-reconciler",
        "batch/jobs",
    );
    assert_eq!(jobs.len(), 1, "{changes:#?}");
    assert_eq!(jobs[0]["severity"], "escalation");
    assert_eq!(jobs[0]["env"], "staging");
    assert_eq!(jobs[0]["actions"][0], "create");
    assert_at(
        jobs[0],
        "new/trust.toml",
        line_of(&new, None, "\"batch/Job\""),
    );
    // Only the tenant that changed, only where it runs.
    assert!(
        changes
            .iter()
            .all(|c| c["env"] == "staging" && !c["subject"].as_str().unwrap().contains("payments")),
        "{changes:#?}"
    );
    let o = c.run("human", &["--fail-on", "escalation"]);
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn a_namespace_added_is_an_escalation_at_the_namespace() {
    let new = BASE.replace(
        "namespaces = [\"orders\"]",
        "namespaces = [\"orders\", \"orders-batch\"]",
    );
    let c = case(&new);
    let changes = c.json();
    let line = line_of(&new, None, "orders-batch");
    let edge = find(
        &changes,
        "repository",
        "tenant orders",
        "namespace orders-batch",
    );
    assert_eq!(edge.len(), 1, "{changes:#?}");
    assert_eq!(edge[0]["severity"], "escalation");
    assert_at(edge[0], "new/trust.toml", line);
    let grants = find(
        &changes,
        "permission",
        "orders/orders-reconciler",
        "in orders-batch",
    );
    assert_eq!(grants.len(), 1, "one line per namespace: {changes:#?}");
    assert_eq!(grants[0]["severity"], "escalation");
    assert_at(grants[0], "new/trust.toml", line);
}

#[test]
fn a_signer_swapped_is_one_escalation_and_one_hardening() {
    let new = BASE.replace(
        "environments = [\"staging\"]\nsigners = [\"alice\"]",
        "environments = [\"staging\"]\nsigners = [\"bob\"]",
    );
    assert_ne!(new, BASE);
    let c = case(&new);
    let changes = c.json();
    let bob = find(&changes, "signer", "tenant orders", "bob");
    assert_eq!(bob.len(), 1, "{changes:#?}");
    assert_eq!(bob[0]["severity"], "escalation");
    assert_at(
        bob[0],
        "new/trust.toml",
        line_of(&new, Some("[tenants.orders]"), "\"bob\""),
    );
    let alice = find(&changes, "signer", "tenant orders", "alice");
    assert_eq!(alice.len(), 1);
    assert_eq!(alice[0]["severity"], "hardening");
    assert_eq!(alice[0]["actions"][0], "delete");
    // Its line is gone: the change points at the tenant that dropped it.
    assert_at(
        alice[0],
        "new/trust.toml",
        line_of(&new, None, "[tenants.orders]"),
    );
}

#[test]
fn an_unsigned_registry_in_staging_is_an_escalation_that_says_unsigned() {
    let new = BASE.replace(
        "signers = [\"alice\"]\nregistries = [\"internal\"]\nallowed_kinds = [\"apps/Deployment\", \"Service\"]\n",
        "signers = [\"alice\"]\nregistries = [\"internal\", \"public\"]\nallowed_kinds = [\"apps/Deployment\", \"Service\"]\n",
    );
    assert_ne!(new, BASE);
    let c = case(&new);
    let changes = c.json();
    let reg = find(&changes, "registry", "tenant orders", "ghcr.io");
    assert_eq!(reg.len(), 1, "{changes:#?}");
    assert_eq!(reg[0]["severity"], "escalation");
    assert!(reg[0]["summary"].as_str().unwrap().contains("unsigned"));
    assert_at(
        reg[0],
        "new/trust.toml",
        line_of(&new, Some("[tenants.orders]"), "\"public\""),
    );
}

#[test]
fn an_opt_in_turned_on_is_an_escalation_with_its_grant() {
    let cut = BASE.find("[tenants.orders]").unwrap();
    let orders = BASE[cut..]
        .replace(
            "environments = [\"staging\"]\n",
            "environments = [\"staging\"]\nallow_secrets = true\n",
        )
        .replace(
            "allowed_kinds = [\"apps/Deployment\", \"Service\"]",
            "allowed_kinds = [\"apps/Deployment\", \"Service\", \"Secret\"]",
        );
    let new = format!("{}{orders}", &BASE[..cut]);
    assert_ne!(new, BASE);
    let c = case(&new);
    let changes = c.json();
    let line = line_of(&new, None, "allow_secrets = true");
    let opt = find(&changes, "opt-in", "tenant orders", "allow_secrets");
    assert_eq!(opt.len(), 1, "{changes:#?}");
    assert_eq!(opt[0]["severity"], "escalation");
    assert_at(opt[0], "new/trust.toml", line);
    let secrets = find(
        &changes,
        "permission",
        "orders/orders-reconciler",
        "core/secrets",
    );
    assert!(!secrets.is_empty(), "{changes:#?}");
    assert!(secrets.iter().all(|c| c["severity"] == "escalation"));
    assert_at(secrets[0], "new/trust.toml", line);
}

#[test]
fn a_tenant_removed_is_a_hardening_located_in_the_base() {
    let cut = BASE.find("[tenants.orders]").unwrap();
    let new = BASE[..cut].to_string();
    let c = case(&new);
    let changes = c.json();
    assert!(!changes.is_empty());
    assert!(
        changes.iter().all(|c| c["severity"] != "escalation"),
        "removing a tenant grants nothing: {changes:#?}"
    );
    let edge = find(&changes, "repository", "tenant orders", "source");
    assert_eq!(edge.len(), 1);
    assert_eq!(edge[0]["severity"], "hardening");
    assert_eq!(edge[0]["spec_location"]["in_base"], true);
    assert_at(
        edge[0],
        "base/trust.toml",
        line_of(BASE, Some("[tenants.orders]"), "repository ="),
    );
    let perms = find(&changes, "permission", "orders/orders-reconciler", "");
    assert!(!perms.is_empty() && perms.iter().all(|c| c["severity"] == "hardening"));
    // Only hardening: `--fail-on weakening` passes, `--fail-on any` does not.
    assert_eq!(
        c.run("human", &["--fail-on", "weakening"]).status.code(),
        Some(0)
    );
    assert_eq!(c.run("human", &["--fail-on", "any"]).status.code(), Some(1));
}

#[test]
fn markdown_and_sarif_carry_the_same_changes() {
    let new = BASE
        .replace(
            "namespaces = [\"orders\"]",
            "namespaces = [\"orders\", \"orders-batch\"]",
        )
        .replace(
            "environments = [\"staging\"]\nsigners = [\"alice\"]",
            "environments = [\"staging\"]\nsigners = [\"bob\"]",
        );
    let c = case(&new);
    let changes = c.json();
    let md = String::from_utf8(c.run("markdown", &[]).stdout).unwrap();
    assert!(
        md.starts_with("<!-- trustc-diff -->"),
        "a marker for sticky comments"
    );
    assert!(md.len() < 64 * 1024);
    let escalations = changes
        .iter()
        .filter(|c| c["severity"] == "escalation")
        .count();
    assert!(
        md.contains(&format!("**{escalations} escalation(s)")),
        "{md}"
    );
    assert!(md.contains("<details open><summary>🔴 escalation in <code>staging</code>"));

    let sarif: Value = serde_json::from_slice(&c.run("sarif", &[]).stdout).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    let run = &sarif["runs"][0];
    let rules: Vec<&str> = run["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), changes.len());
    for r in results {
        let id = r["ruleId"].as_str().unwrap();
        assert_eq!(rules[r["ruleIndex"].as_u64().unwrap() as usize], id);
        let loc = &r["locations"][0]["physicalLocation"];
        let uri = loc["artifactLocation"]["uri"].as_str().unwrap();
        assert!(
            !uri.starts_with('/') && !uri.contains(".."),
            "repository-relative: {uri}"
        );
        assert!(loc["region"]["startLine"].as_u64().unwrap() >= 1);
        assert!(r["partialFingerprints"]["trustcChange/v1"].is_string());
    }
    let levels: Vec<&str> = results
        .iter()
        .map(|r| r["level"].as_str().unwrap())
        .collect();
    assert!(
        levels.contains(&"error") && levels.contains(&"note"),
        "{levels:?}"
    );
    // Fingerprints are stable: the same change twice gives the same bytes.
    assert_eq!(c.run("sarif", &[]).stdout, c.run("sarif", &[]).stdout);
}

fn git(dir: &Path, args: &[&str]) {
    let o = std::process::Command::new("git")
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.com",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn base_from_a_git_revision_reads_the_spec_and_keys_from_git() {
    if std::process::Command::new("git")
        .arg("--version")
        .output()
        .is_err()
    {
        crate::support::skip("no `git` on PATH");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path();
    git(repo, &["init", "-q", "-b", "main"]);
    write_spec(&repo.join("policy-spec"), BASE);
    git(repo, &["add", "-A"]);
    git(repo, &["commit", "-qm", "base"]);
    let new = BASE.replace(
        "namespaces = [\"orders\"]",
        "namespaces = [\"orders\", \"orders-batch\"]",
    );
    std::fs::write(repo.join("policy-spec/trust.toml"), &new).unwrap();
    // The base's key files come from git too: removing one from the work tree changes nothing.
    let o = trustc(repo, &["diff", "--base", "HEAD", "--format", "json"]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let doc: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["base"], "HEAD:policy-spec/trust.toml");
    let changes = doc["changes"].as_array().unwrap();
    let edge = find(
        changes,
        "repository",
        "tenant orders",
        "namespace orders-batch",
    );
    assert_eq!(edge.len(), 1);
    assert_at(
        edge[0],
        "policy-spec/trust.toml",
        line_of(&new, None, "orders-batch"),
    );
    // A revision without the spec is an error (2), not "no change".
    git(repo, &["commit", "-q", "--allow-empty", "-m", "empty"]);
    let o = trustc(repo, &["diff", "--base", "does-not-exist"]);
    assert_eq!(o.status.code(), Some(2));
}

/// The CI files users paste: embedded verbatim in docs/ci.md, valid YAML, and every
/// `trustc` command in them is one the CLI accepts. (`.ci/run` also validates them against
/// the GitHub workflow and GitLab CI schemas and runs the commands end to end.)
#[test]
fn ci_examples_are_documented_parse_and_call_real_commands() {
    use clap::Parser as _;
    let doc = std::fs::read_to_string(root().join("docs/ci.md")).unwrap();
    for file in [
        "docs/ci/github-actions.yml",
        "docs/ci/gitlab-ci.yml",
        ".pre-commit-hooks.yaml",
    ] {
        let text = std::fs::read_to_string(root().join(file)).unwrap();
        assert!(doc.contains(&text), "docs/ci.md embeds {file} verbatim");
        let parsed: Value = serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(parsed.is_object() || parsed.is_array(), "{file}");
        let mut commands = 0;
        for line in text.lines() {
            let Some(at) = line.find("trustc ") else {
                continue;
            };
            if line[..at].contains('#') {
                continue; // a comment
            }
            let words: Vec<String> = line[at..]
                .split_whitespace()
                .take_while(|w| *w != ">" && !w.starts_with('#'))
                .map(|w| w.trim_matches('"').to_string())
                .collect();
            let known = [
                "check", "generate", "diff", "schema", "explain", "access", "who-can",
            ];
            if words.len() < 2 || !known.contains(&words[1].as_str()) {
                continue;
            }
            commands += 1;
            if let Err(e) = trustc::cli::Cli::try_parse_from(&words) {
                panic!(
                    "{file}: `{}` is not a valid trustc command: {e}",
                    words.join(" ")
                );
            }
        }
        assert!(commands >= 2, "{file} runs trustc");
    }
}

/// A template override that drops `verify` from tenant GitRepositories: the spec did not
/// change, the output did. The diff reports the dropped verification from the output, and
/// that `generate` would refuse it (the invariants), as weakenings; exit 1 even with
/// `--fail-on weakening`.
#[test]
fn verification_removed_through_a_template_override_is_a_weakening() {
    let c = case(BASE);
    let source = trustc::render::EMBEDDED
        .iter()
        .find(|(n, _)| *n == "tenant/source.yaml.j2")
        .unwrap()
        .1;
    let cut = source
        .find("{% if tenant.signers %}")
        .expect("verify block");
    let weakened = source[..cut].to_string();
    let templates = c.root.join("overrides/tenant");
    std::fs::create_dir_all(&templates).unwrap();
    std::fs::write(templates.join("source.yaml.j2"), weakened).unwrap();
    let o = c.run(
        "json",
        &["--templates", "overrides", "--fail-on", "weakening"],
    );
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("refuses the changed output"));
    let doc: Value = serde_json::from_slice(&o.stdout).unwrap();
    let changes = doc["changes"].as_array().unwrap();
    let dropped = find(
        changes,
        "verification",
        "GitRepository orders/orders",
        "verify",
    );
    assert_eq!(dropped.len(), 1, "{changes:#?}");
    assert_eq!(dropped[0]["severity"], "weakening");
    assert!(
        dropped[0]["summary"]
            .as_str()
            .unwrap()
            .contains("verification dropped")
    );
    // No spec line caused it: it points at the tenant whose output changed.
    assert_at(
        dropped[0],
        "new/trust.toml",
        line_of(BASE, None, "[tenants.orders]"),
    );
    let invariants: Vec<&Value> = changes
        .iter()
        .filter(|c| c["category"] == "invariant")
        .collect();
    assert!(!invariants.is_empty(), "{changes:#?}");
    assert!(invariants.iter().all(|c| c["severity"] == "weakening"));
    // Nothing escalates: no one gained a permission.
    assert!(
        changes.iter().all(|c| c["severity"] != "escalation"),
        "{changes:#?}"
    );
    // The same in SARIF: a warning on the spec file.
    let sarif: Value = serde_json::from_slice(
        &c.run("sarif", &["--templates", "overrides", "--fail-on", "never"])
            .stdout,
    )
    .unwrap();
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert!(
        results
            .iter()
            .any(|r| r["ruleId"] == "trustc/verification" && r["level"] == "warning")
    );
    assert!(results.iter().any(|r| r["ruleId"] == "trustc/invariant"));
}

/// Compiling only the tenants that changed (the default) reports exactly what compiling
/// every tenant (`--full`) reports, for each kind of change, a tenant added and removed
/// included.
#[test]
fn compiling_only_the_changed_tenants_reports_what_a_full_compile_does() {
    let cut = BASE.find("[tenants.orders]").unwrap();
    let third = "\n[tenants.billing]\nnamespaces = [\"billing\"]\nrepository = \"ssh://git@github.com/example/billing.git\"\npath = \"./clusters/{env}/billing\"\nenvironments = [\"staging\", \"production\"]\nsigners = [\"bob\"]\nregistries = [\"internal\"]\nallowed_kinds = [\"apps/Deployment\"]\n";
    let variants = [
        BASE.replace(
            "namespaces = [\"orders\"]",
            "namespaces = [\"orders\", \"orders-batch\"]",
        ),
        BASE.replace("signers = [\"alice\", \"bob\"]", "signers = [\"bob\"]"),
        BASE[..cut].to_string(),
        format!("{BASE}{third}"),
        BASE.replace(
            "allowed_kinds = [\"apps/Deployment\", \"Service\"]\n\n[tenants.orders]",
            "allowed_kinds = [\"apps/Deployment\", \"Service\", \"ConfigMap\"]\n\n[tenants.orders]",
        ),
    ];
    for new in variants {
        assert_ne!(new, BASE);
        let c = case(&new);
        let reduced: Value = serde_json::from_slice(&c.run("json", &[]).stdout).unwrap();
        let full: Value = serde_json::from_slice(&c.run("json", &["--full"]).stdout).unwrap();
        assert!(!reduced["changes"].as_array().unwrap().is_empty());
        assert_eq!(reduced, full, "for the change:\n{new}");
    }
}
