//! Every code is documented (`trustc explain`), and rule names follow the naming convention.

use trustc::diag::Code;

use crate::support::{TEST_NOW, copy_example_keys, root};

#[test]
fn every_code_has_a_complete_page() {
    for code in Code::ALL {
        let doc = code.documentation();
        let title = format!("# {}: {}\n", code.id(), code.name());
        assert!(
            doc.starts_with(&title),
            "{}: page must start with `{title}`",
            code.id()
        );
        for heading in ["## What it prevents", "## Example", "## Fix"] {
            assert!(doc.contains(heading), "{}: missing `{heading}`", code.id());
        }
    }
}

#[test]
fn codes_and_names_are_unique_and_well_formed() {
    let mut ids = std::collections::BTreeSet::new();
    let mut names = std::collections::BTreeSet::new();
    for code in Code::ALL {
        assert!(ids.insert(code.id()), "duplicate id {}", code.id());
        assert!(names.insert(code.name()), "duplicate name {}", code.name());
        // ruff's convention: a rule is named for the problem, read as "allow <name>".
        for prefix in ["disallow-", "prefer-", "use-", "no-", "avoid-"] {
            assert!(
                !code.name().starts_with(prefix),
                "{}: `{}`",
                code.id(),
                code.name()
            );
        }
        assert_eq!(code.id().parse::<Code>(), Ok(*code));
        assert_eq!(code.name().parse::<Code>(), Ok(*code));
    }
}

#[test]
fn explain_exit_codes() {
    assert_eq!(trustc::cli::run(["trustc", "explain", "TC1005"]), 0);
    assert_eq!(trustc::cli::run(["trustc", "explain", "tc1005"]), 0);
    assert_eq!(trustc::cli::run(["trustc", "explain", "TC9999"]), 2);
    assert_eq!(trustc::cli::run(["trustc", "explain", "--list"]), 0);
}

/// The `trustc diff` comment shown in README.md and docs/diff.md is what trustc prints today
/// for the change those pages describe (a namespace and a kind added to `payments`).
#[test]
fn diff_example_in_readme_and_docs_is_current() {
    let spec = std::fs::read_to_string(root().join("policy-spec/trust.toml")).unwrap();
    let changed = spec
        .replacen(
            "[tenants.payments]\nnamespaces = [\"payments\"]",
            "[tenants.payments]\nnamespaces = [\"payments\", \"payments-batch\"]",
            1,
        )
        .replacen(
            "  \"ConfigMap\",\n  \"helm.toolkit",
            "  \"ConfigMap\",\n  \"batch/Job\",\n  \"helm.toolkit",
            1,
        );
    assert_eq!(
        changed.len(),
        spec.len() + "\"payments-batch\", ".len() + "  \"batch/Job\",\n".len(),
        "the example spec no longer has the lines the documented change edits"
    );
    let dir = tempfile::tempdir().unwrap();
    for (sub, text) in [("base", &spec), ("policy-spec", &changed)] {
        let d = dir.path().join(sub);
        copy_example_keys(&d);
        std::fs::write(d.join("trust.toml"), text).unwrap();
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_trustc"))
        .args([
            "diff",
            "--base-spec",
            "base/trust.toml",
            "--format",
            "markdown",
        ])
        .current_dir(dir.path())
        .env("TRUSTC_NOW", TEST_NOW.to_string())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let comment = String::from_utf8(out.stdout).unwrap();
    for page in ["README.md", "docs/diff.md"] {
        let text = std::fs::read_to_string(root().join(page)).unwrap();
        let marker = "<!-- trustc-diff -->\n";
        assert_eq!(
            text.matches(marker).count(),
            1,
            "{page}: one diff comment expected"
        );
        let start = text.find(marker).unwrap();
        let shown = &text[start..];
        assert!(
            shown.starts_with(&comment),
            "{page}: the diff example is stale; trustc now prints:\n{comment}"
        );
        // Up to the next section, nothing but the page's own closing tags follows the
        // comment: no stale copy of an older one behind it.
        let rest = &shown[comment.len()..];
        let until = rest.find("\n## ").unwrap_or(rest.len());
        let leftover = rest[..until].replace("</details>", "");
        assert!(
            leftover.trim().is_empty(),
            "{page}: after the diff comment, before the next section: {leftover:?}"
        );
    }
}
