//! One fixture per rule: `tests/fixtures/invalid/TCxxxx.toml` must produce that code first,
//! at a `trust.toml:LINE:COL` position, and its whole rendering is snapshotted.

use std::collections::BTreeSet;

use trustc::diag::{Code, render_all};

use crate::support::{fixture_clock, front, root};

#[test]
fn every_fixture_reports_its_code_first() {
    let dir = root().join("tests/fixtures/invalid");
    let mut seen = BTreeSet::new();
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty());
    for path in paths {
        let code_id = path.file_stem().unwrap().to_str().unwrap().to_string();
        let code: Code = code_id
            .parse()
            .unwrap_or_else(|()| panic!("{code_id} is no code"));
        let text = std::fs::read_to_string(&path).unwrap();
        let (map, diags, valid) = front(&path, &fixture_clock(&text));
        let first = diags
            .iter()
            .find(|d| d.code == code)
            .unwrap_or_else(|| panic!("{code_id}: code not reported; got {diags:?}"));
        if code.severity() == trustc::diag::Severity::Error {
            assert!(valid.is_none(), "{code_id}: an error must refuse the spec");
        }
        let label = first
            .primary
            .as_ref()
            .unwrap_or_else(|| panic!("{code_id}: no position"));
        let (line, col) = map.line_col(label.span.file, label.span.range.start);
        let rendered = render_all(&map, &diags);
        let display = path.display().to_string();
        let expected_head = format!(
            "{display}:{line}:{col}: {}[{code_id}]",
            code.severity().as_str()
        );
        assert!(
            rendered.lines().any(|l| l.starts_with(&expected_head)),
            "{code_id}: no line starting with `{expected_head}` in\n{rendered}"
        );
        assert!(
            rendered.contains(" | "),
            "{code_id}: the source line is shown"
        );
        assert!(
            rendered.contains('^'),
            "{code_id}: the offending text is underlined"
        );
        let normalized = rendered.replace(&display, &format!("{code_id}.toml"));
        insta::with_settings!({snapshot_path => root().join("tests/snapshots/rules"), prepend_module_to_snapshot => false}, {
            insta::assert_snapshot!(code_id.clone(), normalized);
        });
        seen.insert(code);
    }
    // Every spec-level code (TC0xxx, TC1xxx) has a fixture.
    for code in Code::ALL {
        if code.id().starts_with("TC0") || code.id().starts_with("TC1") {
            assert!(
                seen.contains(code),
                "no fixture for {} ({})",
                code.id(),
                code.name()
            );
        }
    }
}

#[test]
fn the_example_and_the_minimal_spec_are_clean() {
    for rel in [
        "policy-spec/trust.toml",
        "tests/fixtures/valid/minimal/trust.toml",
    ] {
        let path = root().join(rel);
        let (map, diags, valid) = front(&path, &crate::support::fixture_clock(""));
        assert!(diags.is_empty(), "{rel}:\n{}", render_all(&map, &diags));
        assert!(valid.is_some());
    }
}

#[test]
fn all_mistakes_of_a_file_are_reported_together() {
    // Three unrelated mistakes in one file: all three are reported, in file order.
    let text = std::fs::read_to_string(root().join("tests/fixtures/valid/minimal/trust.toml"))
        .unwrap()
        .replace("branch = \"staging\"", "branch = \"main\"")
        .replace("namespaces = [\"team\"]", "namespaces = [\"default\"]")
        .replace(
            "registries = [\"internal\"]",
            "registries = [\"internal\"]\nallowed_kind = []",
        );
    let dir = tempfile::tempdir().unwrap();
    // The keys travel with the spec: trustc reads keys only from inside the spec's
    // repository (here, with no `.git`, the spec's directory tree).
    let keys = dir.path().join("a/b/keys");
    std::fs::create_dir_all(&keys).unwrap();
    for e in std::fs::read_dir(root().join("tests/fixtures/keys")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), keys.join(e.file_name())).unwrap();
    }
    let spec_dir = dir.path().join("a/b");
    let text = text.replace("../../keys/", "keys/");
    let path = spec_dir.join("trust.toml");
    std::fs::write(&path, text).unwrap();
    let (_, diags, valid) = front(&path, &crate::support::fixture_clock(""));
    let codes: Vec<&str> = diags.iter().map(|d| d.code.id()).collect();
    assert_eq!(codes, ["TC1017", "TC1010", "TC0002"], "{diags:#?}");
    assert!(valid.is_none());
}
