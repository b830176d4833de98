//! A newcomer's first hour (issue 9), driven through the real binary and asserted on what
//! the user sees: `trustc init` in an empty repository, a spec written from scratch with the
//! usual mistakes, each diagnostic's suggested fix applied as the user would paste it,
//! `generate` from two working directories giving the same bytes, a change, `--check`
//! catching it, `diff` explaining it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use crate::support::{TEST_NOW, root};

/// The binary, run from `cwd`, with the test clock and no colour forced by the environment.
fn trustc(cwd: &Path, args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_trustc"))
        .args(args)
        .current_dir(cwd)
        .env("TRUSTC_NOW", TEST_NOW.to_string())
        .env_remove("CLICOLOR_FORCE")
        .env_remove("NO_COLOR")
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(
                    p.strip_prefix(dir).unwrap().to_path_buf(),
                    std::fs::read(&p).unwrap(),
                );
            }
        }
    }
    out
}

/// Applies every suggested fix of a `check --format json` run to the spec, as a user pasting
/// the help would: the underlined text (line, column to end column) is replaced by the
/// suggestion. Returns the codes fixed. A diagnostic without a pasteable fix fails the test.
fn apply_fixes(spec: &Path, json: &str) -> Vec<String> {
    let diags: serde_json::Value = serde_json::from_str(json).unwrap();
    let mut lines: Vec<String> = std::fs::read_to_string(spec)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    let mut fixed = Vec::new();
    // Bottom-up, right to left, so earlier positions stay valid.
    let mut edits = Vec::new();
    for d in diags.as_array().unwrap() {
        let code = d["code"].as_str().unwrap().to_string();
        let help = d["help"].as_str().unwrap_or_default();
        let loc = &d["location"];
        let suggestion = if let Some(rest) = help.strip_prefix("did you mean `") {
            rest.split('`').next().unwrap().to_string()
        } else if let Some(rest) = help.strip_prefix("replace with `") {
            rest.rsplit_once('`').unwrap().0.to_string()
        } else {
            panic!("{code}: no pasteable fix in {help:?}");
        };
        let line = loc["line"].as_u64().unwrap() as usize;
        assert_eq!(loc["end_line"].as_u64().unwrap() as usize, line);
        let (col, end) = (
            loc["column"].as_u64().unwrap() as usize,
            loc["end_column"].as_u64().unwrap() as usize,
        );
        edits.push((line, col, end, suggestion, code));
    }
    edits.sort_by_key(|e| std::cmp::Reverse((e.0, e.1)));
    for (line, col, end, suggestion, code) in edits {
        let l = &mut lines[line - 1];
        let old = &l[col - 1..end - 1];
        // A quoted value keeps its quotes unless the suggestion brings its own.
        let new = if old.starts_with('"') && !suggestion.starts_with(['"', '\'']) {
            format!("\"{suggestion}\"")
        } else {
            suggestion
        };
        l.replace_range(col - 1..end - 1, &new);
        fixed.push(code);
    }
    std::fs::write(spec, lines.join("\n") + "\n").unwrap();
    fixed.sort();
    fixed
}

#[test]
fn the_first_hour_from_an_empty_repository_to_a_reviewed_change() {
    let repo = tempfile::tempdir().unwrap();
    let repo = repo.path();
    std::fs::create_dir(repo.join(".git")).unwrap();

    // Nothing yet: trustc says where it looked and what to do.
    let o = trustc(repo, &["check"]);
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o.stderr);
    assert!(
        err.contains("error: could not find `policy-spec/trust.toml` in `")
            && err.contains("help: pass `--spec FILE`, or create one with `trustc init`"),
        "{err}"
    );

    // init, then the keys: the starter passes check as it is.
    let o = trustc(repo, &["init"]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    assert!(
        text(&o.stderr).contains("created `./policy-spec/trust.toml`"),
        "{o:?}"
    );
    let spec = repo.join("policy-spec/trust.toml");
    for key in ["alice.asc", "cosign.pub"] {
        std::fs::copy(
            root().join("policy-spec/keys").join(key),
            repo.join("policy-spec/keys").join(key),
        )
        .unwrap();
    }
    let o = trustc(repo, &["check"]);
    // Only the warnings that ask for what no starter can know (the API server's endpoints,
    // the addresses of the Git host and registry), then ok.
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(
        err.ends_with("policy-spec/trust.toml: ok: 1 tenant(s), 2 environment(s)\n"),
        "{err}"
    );
    assert!(err.contains("0 errors"), "{err}");
    for line in err.lines().filter(|l| l.contains("warning[")) {
        assert!(
            line.contains("warning[TC1071]") || line.contains("warning[TC1072]"),
            "{line}"
        );
    }

    // The fleet written from scratch, with issue 9's mistakes: a misspelt key, a kind as
    // kubectl spells it, a provider typo, an unanchored keyless identity.
    let starter = std::fs::read_to_string(&spec).unwrap();
    // The values marked EDIT filled in (the API server's endpoint, the hosts' addresses),
    // then the mistakes.
    let written = starter
        .replace(
            "api_server_cidrs = [\"10.96.0.1/32\"]",
            "api_server_cidrs = [\"10.96.0.1/32\", \"172.18.0.2/32\"]",
        )
        .replace(
            "\n[admission]",
            "\n[[flux.egress.destinations]]\nhost = \"github.com\"\ncidrs = [\"140.82.112.0/20\"]\n\n[[flux.egress.destinations]]\nhost = \"registry.example.com\"\ncidrs = [\"10.20.30.0/24\"]\n\n[[flux.egress.destinations]]\nhost = \"ghcr.io\"\ncidrs = [\"140.82.121.0/24\"]\n\n[admission]",
        )
        .replace(
            "[tenants.team]\nnamespaces = [\"team\"]",
            "[tenants.team]\nnamspaces = [\"team\"]",
        )
        .replace(
            "allowed_kinds = [\"apps/Deployment\", \"Service\", \"ConfigMap\"]",
            "allowed_kinds = [\"deployments.apps\", \"Service\", \"ConfigMap\"]",
        )
        .replace(
            "[secrets]",
            "[alerts]\nprovider = \"slak\"\nchannel = \"gitops-alerts\"\nsecret = \"slack-webhook\"\n\n[secrets]",
        )
        .replace(
            "# One Flux instance",
            "[registries.ghcr]\nhost = \"ghcr.io\"\n\n[registries.ghcr.keyless]\nissuer = \"https://token.actions.githubusercontent.com\"\nsubject = \"https://github.com/example/*\"\n\n# One Flux instance",
        )
        .replace(
            "registries = [\"internal\"]\nallowed",
            "registries = [\"internal\", \"ghcr\"]\nallowed",
        );
    assert_ne!(written, starter);
    std::fs::write(&spec, &written).unwrap();

    // First run: every readable table's mistakes at once, each with file:line:col and a help.
    let o = trustc(repo, &["check"]);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    for expected in [
        "error[TC1043]: `alerts.provider` = `slak` is not one of its values",
        "   = help: did you mean `slack`?",
        "error[TC1022]: keyless subject `https://github.com/example/*` is not anchored",
        "   = help: replace with `'^https://github\\.com/example/.*$'`",
        "error[TC0002]: unknown key `namspaces` in `tenants.team`",
        "   = help: did you mean `namespaces`?",
        // The misspelt `namespaces` is TC0002 alone, not also "missing key" (TC0004).
        "3 errors, 0 warnings\n",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in:\n{err}");
    }
    assert!(
        err.starts_with(&format!(
            "policy-spec/trust.toml:{}:12: error[TC1043]",
            1 + written
                .lines()
                .position(|l| l.starts_with("provider = \"slak\""))
                .unwrap()
        )),
        "{err}"
    );
    assert!(!err.contains('\u{1b}'), "no colour into a pipe: {err:?}");

    // Each suggested fix, pasted; then the tenant table is readable and its kind is checked.
    let json = text(&trustc(repo, &["check", "--format", "json"]).stderr);
    assert_eq!(
        apply_fixes(&spec, &json),
        ["TC0002", "TC1022", "TC1043"],
        "{json}"
    );
    let o = trustc(repo, &["check"]);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(
        err.contains("error[TC1004]: unknown kind `deployments.apps`")
            && err.contains("   = help: did you mean `apps/Deployment`?")
            && err.ends_with("1 error, 0 warnings\n"),
        "{err}"
    );
    // The same in GitHub Actions' terms, for CI.
    let o = trustc(repo, &["check", "--format", "github"]);
    assert_eq!(o.status.code(), Some(1));
    let gh = text(&o.stdout);
    assert!(
        gh.starts_with("::error file=policy-spec/trust.toml,line=")
            && gh.contains(",title=TC1004::unknown kind `deployments.apps`%0A"),
        "{gh}"
    );
    let json = text(&trustc(repo, &["check", "--format", "json"]).stderr);
    assert_eq!(apply_fixes(&spec, &json), ["TC1004"]);
    let o = trustc(repo, &["check"]);
    assert_eq!(
        (o.status.code(), text(&o.stderr)),
        (
            Some(0),
            "policy-spec/trust.toml: ok: 1 tenant(s), 2 environment(s)\n".to_string()
        )
    );
    let fixed = std::fs::read_to_string(&spec).unwrap();
    assert!(
        fixed.contains("namespaces = [\"team\"]")
            && fixed.contains("provider = \"slack\"")
            && fixed.contains("subject = '^https://github\\.com/example/.*$'")
            && fixed.contains("[\"apps/Deployment\", \"Service\""),
        "{fixed}"
    );

    // generate from the root, then from a subdirectory (the spec found upward): same bytes,
    // nothing rewritten; and into another directory from elsewhere, with absolute paths.
    let o = trustc(repo, &["generate"]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let err = text(&o.stderr);
    assert!(
        err.contains("\nproduction/tenants/team: ")
            && err.contains(" written\n")
            && err.lines().last().unwrap().starts_with("generated: "),
        "{err}"
    );
    let tree = files(&repo.join("generated"));
    assert!(tree.contains_key(Path::new("README.md")));
    let o = trustc(&repo.join("policy-spec/keys"), &["generate"]);
    let err = text(&o.stderr);
    assert!(
        err.starts_with("../../generated: ") && err.contains("(0 written, "),
        "{err}"
    );
    assert_eq!(files(&repo.join("generated")), tree);
    let elsewhere = tempfile::tempdir().unwrap();
    let out2 = elsewhere.path().join("out");
    let o = trustc(
        elsewhere.path(),
        &[
            "generate",
            "--spec",
            spec.to_str().unwrap(),
            "--out",
            out2.to_str().unwrap(),
            "-q",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let mut other = files(&out2);
    let mut ours = tree.clone();
    // The index and the manifest name the output directory's own layout; every manifest is
    // byte-identical.
    other.retain(|p, _| p.extension().is_some_and(|e| e == "yaml"));
    ours.retain(|p, _| p.extension().is_some_and(|e| e == "yaml"));
    assert_eq!(other, ours);

    // A change: the team needs StatefulSets. CI's --check sees it; diff says who gains what.
    // (the base beside the spec, so its key paths resolve as they do in Git)
    let before = repo.join("policy-spec/base.toml");
    std::fs::copy(&spec, &before).unwrap();
    let changed = fixed.replace(
        "[\"apps/Deployment\", \"Service\"",
        "[\"apps/Deployment\", \"apps/StatefulSet\", \"Service\"",
    );
    assert_ne!(changed, fixed);
    std::fs::write(&spec, changed).unwrap();
    let o = trustc(repo, &["generate", "--check"]);
    assert_eq!(o.status.code(), Some(1));
    let out = text(&o.stdout);
    assert!(
        out.contains("changed: generated/production/tenants/team/role.yaml\n"),
        "{out}"
    );
    let err = text(&o.stderr);
    assert!(
        err.contains("error[TC4001]: ")
            && err.ends_with("differ from what the spec compiles to; run `trustc generate`\n"),
        "{err}"
    );
    let o = trustc(
        repo,
        &[
            "diff",
            "--base-spec",
            "policy-spec/base.toml",
            "--fail-on",
            "escalation",
        ],
    );
    let shown = text(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    for env in ["production", "staging"] {
        assert!(
            shown.contains(&format!("escalation {env}")) && shown.contains(
                "permission   ServiceAccount team/team-reconciler: may now create,delete,get,list,patch,update,watch apps/statefulsets in team  (policy-spec/trust.toml:"
            ),
            "{shown}"
        );
    }
    assert!(
        shown.ends_with("2 escalation(s), 0 weakening(s), 2 neutral, 0 hardening(s)\n"),
        "{shown}"
    );
    // Regenerated: the role is listed as written, and CI passes again.
    let o = trustc(repo, &["generate"]);
    let err = text(&o.stderr);
    assert!(
        err.contains("production/tenants/team: role.yaml written"),
        "{err}"
    );
    assert_eq!(
        trustc(repo, &["generate", "--check"]).status.code(),
        Some(0)
    );
}

#[test]
fn colour_only_on_request_or_a_terminal() {
    let bad = tempfile::tempdir().unwrap();
    let spec = bad.path().join("t.toml");
    std::fs::write(&spec, "version = 1\nbogus = 2\n").unwrap();
    let run = |env: &[(&str, &str)]| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_trustc"));
        c.args(["check", "--spec", spec.to_str().unwrap()])
            .env_remove("CLICOLOR_FORCE")
            .env_remove("NO_COLOR")
            .env_remove("CLICOLOR");
        for (k, v) in env {
            c.env(k, v);
        }
        let o = c.output().unwrap();
        assert_eq!(o.status.code(), Some(1));
        text(&o.stderr)
    };
    let piped = run(&[]);
    assert!(
        piped.contains("error[TC0002]") && !piped.contains('\u{1b}'),
        "{piped}"
    );
    let forced = run(&[("CLICOLOR_FORCE", "1")]);
    assert!(forced.contains("\u{1b}[31merror[TC0002]"), "{forced:?}");
    assert_eq!(run(&[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]), piped);
}
