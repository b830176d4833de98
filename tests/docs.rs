//! Every code is documented (`trustc explain`), and rule names follow the naming convention.

use trustc::diag::Code;

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
