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

/// Writes `text` as `<tmp>/a/b/trust.toml` with the fixtures' keys beside it (`keys/`, `ssh/`).
fn write_spec(dir: &tempfile::TempDir, text: &str) -> std::path::PathBuf {
    // The keys travel with the spec: trustc reads keys only from inside the spec's
    // repository (here, with no `.git`, the spec's directory tree).
    let spec_dir = dir.path().join("a/b");
    for (from, to) in [
        ("tests/fixtures/keys", "keys"),
        ("tests/fixtures/valid/ssh/keys", "ssh"),
    ] {
        std::fs::create_dir_all(spec_dir.join(to)).unwrap();
        for e in std::fs::read_dir(root().join(from)).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), spec_dir.join(to).join(e.file_name())).unwrap();
        }
    }
    let text = text
        .replace("\"../../keys/", "\"keys/")
        .replace("\"../keys/", "\"keys/");
    let path = spec_dir.join("trust.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn minimal() -> String {
    std::fs::read_to_string(root().join("tests/fixtures/valid/minimal/trust.toml")).unwrap()
}

/// The edit a diagnostic's help proposes, applied to `text`; `None` when the help is advice
/// rather than a replacement. Forms: "did you mean `X`?" (the underlined value or key becomes
/// X), "replace with `X`" (the underlined text becomes X verbatim), and "`KEY = VALUE`" for
/// a diagnostic on a table header (the key is set in that table).
fn apply_fix(text: &str, d: &trustc::diag::Diagnostic) -> Option<String> {
    let help = d.help.as_deref()?;
    let span = &d.primary.as_ref()?.span.range;
    let between = |s: &str, open: &str| -> Option<String> {
        let start = s.find(open)? + open.len();
        let end = s[start..].find('`')? + start;
        Some(s[start..end].to_string())
    };
    let splice = |with: &str| format!("{}{with}{}", &text[..span.start], &text[span.end..]);
    if let Some(x) = between(help, "did you mean `") {
        let quoted = text[span.clone()].starts_with(['"', '\'']);
        return Some(splice(&if quoted {
            serde_json::to_string(&x).unwrap()
        } else {
            x
        }));
    }
    if let Some(x) = between(help, "replace with `") {
        return Some(splice(&x));
    }
    let assignment = between(help, ": `").filter(|a| a.contains(" = "))?;
    let key = assignment.split(" = ").next().unwrap();
    // Set the key in the table that holds the span (or whose header it is).
    let header_start = if text[span.start..].starts_with('[') {
        span.start
    } else {
        text[..span.start].rfind("\n[").map_or(0, |i| i + 1)
    };
    let header_end = text[header_start..]
        .find('\n')
        .map_or(text.len(), |i| header_start + i + 1);
    let section_end = text[header_end..]
        .find("\n[")
        .map_or(text.len(), |i| header_end + i + 1);
    let body: String = text[header_end..section_end]
        .lines()
        .filter(|l| !l.starts_with(&format!("{key} =")))
        .map(|l| format!("{l}\n"))
        .collect();
    Some(format!(
        "{}{assignment}\n{body}{}",
        &text[..header_end],
        &text[section_end..]
    ))
}

/// Every "did you mean", "replace with" and "`key = value`" help, applied, is accepted:
/// the diagnostic it answers is gone and no new problem appears.
#[test]
fn every_suggested_fix_is_accepted_by_check() {
    let kinds = |list: &str| {
        minimal().replace(
            "allowed_kinds = [\"apps/Deployment\", \"Service\"]",
            &format!("allow_network_policies = true\nallowed_kinds = [{list}]"),
        )
    };
    let keyless = minimal().replace(
        "cosign_key = \"../../keys/cosign.pub\"",
        "keyless = { issuer = \"https://token.actions.githubusercontent.com\", subject = \"https://github.com/example/*\" }",
    );
    let enums = minimal().replace(
        "[flux]\n",
        "[admission]\nengine = \"Kyverno\"\n\n[alerts]\nprovider = \"slak\"\n\n[flux]\nversion = \"v2.9\"\n",
    );
    let unsigned = minimal().replace("signers = [\"alice\"]\nregistries", "registries");
    let unsigned_platform =
        minimal().replace("signers = [\"alice\"]\ncluster_kinds", "cluster_kinds");
    let alternation = minimal().replace(
        r"tag_pattern = '^v[0-9]+\.[0-9]+\.[0-9]+$'",
        r"tag_pattern = '^v[0-9]+\.[0-9]+\.[0-9]+|latest$'",
    );
    let prerelease = minimal().replace(
        r"tag_pattern = '^v[0-9]+\.[0-9]+\.[0-9]+$'",
        "tag_pattern = '^v(?P<version>[0-9]+\\.[0-9]+\\.[0-9]+-rc\\.[0-9]+)$'\nextract = \"$version\"",
    );
    let mut cases: Vec<(String, String)> = vec![
        ("pre-release tags".into(), prerelease),
        (
            "kinds".into(),
            kinds(r#""deployments", "jobs.batch", "CronJob", "Ingress", "NetworkPolicy", "svc""#),
        ),
        (
            "kinds 2".into(),
            kinds(r#""Deployment.apps", "Job", "cm", "netpol", "statefulsets.apps""#),
        ),
        (
            "kinds 3".into(),
            kinds(r#""deploy", "cj", "ing", "Servic""#),
        ),
        (
            "kinds 4".into(),
            kinds(r#""apps/Deploymnet", "batch/jobs""#),
        ),
        ("keyless".into(), keyless),
        ("enums".into(), enums),
        ("unsigned tenant".into(), unsigned),
        ("unsigned platform".into(), unsigned_platform),
        ("alternation".into(), alternation),
    ];
    let dir = root().join("tests/fixtures/invalid");
    let mut fixtures: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    fixtures.sort();
    for f in fixtures {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        cases.push((name, std::fs::read_to_string(&f).unwrap()));
    }
    let mut applied = 0;
    for (name, text) in cases {
        let tmp = tempfile::tempdir().unwrap();
        let path = write_spec(&tmp, &text);
        let text = std::fs::read_to_string(&path).unwrap();
        let clock = fixture_clock(&text);
        let (map, before, _) = front(&path, &clock);
        for d in before.iter().filter(|d| d.primary.is_some()) {
            let Some(fixed) = apply_fix(&text, d) else {
                continue;
            };
            applied += 1;
            std::fs::write(&path, &fixed).unwrap();
            let (map2, after, _) = front(&path, &clock);
            std::fs::write(&path, &text).unwrap();
            let line = |m: &trustc::diag::SourceMap, d: &trustc::diag::Diagnostic| {
                let s = &d.primary.as_ref().unwrap().span;
                m.line_col(s.file, s.range.start)
            };
            let shown = || render_all(&map2, &after);
            assert!(
                !after.iter().any(|a| a.code == d.code
                    && a.primary.is_some()
                    && line(&map2, a) == line(&map, d)),
                "{name}: following `{}` ({}) leaves it:\n{}\n{fixed}",
                d.help.as_deref().unwrap(),
                d.code,
                shown()
            );
            let old: BTreeSet<Code> = before.iter().map(|b| b.code).collect();
            for a in &after {
                assert!(
                    old.contains(&a.code),
                    "{name}: following `{}` ({}) is refused with {}:\n{}",
                    d.help.as_deref().unwrap(),
                    d.code,
                    a.code,
                    shown()
                );
            }
            assert!(after.len() < before.len(), "{name}: {}", shown());
        }
    }
    assert!(applied >= 20, "only {applied} fixes applied");
}

/// A shape error in one tenant (a misspelt key, a missing key) does not hide the semantic
/// errors of the other tables; the spec is still refused.
#[test]
fn a_shape_error_in_one_tenant_hides_no_other_mistake() {
    let text = minimal()
        .replace("branch = \"staging\"", "branch = \"main\"")
        .replace("namespaces = [\"team\"]", "namspaces = [\"team\"]")
        + r#"
[tenants.web]
namespaces = ["default"]
repository = "http://github.com/example/web.git"
path = "./clusters/{env}"
environments = ["staging", "prod"]
signers = ["alice"]
allowed_kinds = ["apps/Deployment", "rbac.authorization.k8s.io/ClusterRoleBinding"]

[tenants.api]
repository = "ssh://git@github.com/example/api.git"
path = "./clusters/{env}"
environments = ["staging"]
allowed_kinds = ["Service"]

[[tenants.api.images]]
name = "api"
repository = "registry.example.com/api/api"
semver = ">=1.0.0"
tag_pattern = 'v.*'

[registries.broken]
host = 42
"#;
    let tmp = tempfile::tempdir().unwrap();
    let path = write_spec(&tmp, &text);
    let (map, diags, valid) = front(&path, &fixture_clock(""));
    let codes: BTreeSet<&str> = diags.iter().map(|d| d.code.id()).collect();
    let shown = render_all(&map, &diags);
    for want in [
        "TC0002", // `namspaces` in team
        "TC0004", // api lacks namespaces (team's misspelt one is TC0002 alone)
        "TC0003", // registries.broken.host
        "TC1017", // staging and production share `main`
        "TC1010", // web's `default` namespace
        "TC1013", // web's http:// URL
        "TC1003", // web's `prod`
        "TC1005", // web's ClusterRoleBinding
    ] {
        assert!(codes.contains(want), "{want} missing:\n{shown}");
    }
    // Nothing is guessed about what could not be read: no "unused signer", no image outside
    // the tenant's registries because a registry was unreadable, no unknown registry.
    for never in ["TC1041", "TC1002"] {
        assert!(!codes.contains(never), "{never} reported:\n{shown}");
    }
    assert!(valid.is_none());
}

/// A type error in an optional table (`[flux]`, `[admission]`, `[git]`, `[alerts]`) is
/// reported, and the table is then checked as unread: nothing is reported that the example
/// without the error does not report (at one time, `kube_dns = "yes"` also warned TC1071
/// for every host whose addresses `[flux.egress]` declares).
#[test]
fn a_type_error_in_an_optional_table_adds_no_other_diagnostic() {
    for (from, to) in [
        ("kube_dns = true", "kube_dns = \"yes\""),
        ("version = \"2.9\"", "version = 2.9"),
        ("kyverno_version = \"1.19\"", "kyverno_version = 1.19"),
        ("interval = \"1m\"", "interval = 1"),
        ("prometheus = true", "prometheus = \"true\""),
        // In a destination of `[flux.egress]`, whose addresses TC1071 reads.
        (
            "cidrs = [\"140.82.112.0/20\"",
            "cidrs = [140, \"140.82.112.0/20\"",
        ),
        ("cidrs = [\"10.20.30.0/24\"]", "cidrs = \"10.20.30.0/24\""),
        ("host = \"github.com\"", "host = 5"),
        ("host = \"github.com\"", "host = \"github.com\"\nports = 22"),
    ] {
        let (codes, shown, valid) = example_with(from, to);
        assert_eq!(codes, ["TC0003"], "{to}:\n{shown}");
        assert!(!valid, "{to}");
    }
}

/// The example spec with its first `from` replaced by `to`, in a copy of `policy-spec/` (its
/// keys beside it), through the front end: the codes reported, their rendering, and whether
/// the spec was accepted.
fn example_with(from: &str, to: &str) -> (Vec<&'static str>, String, bool) {
    let example = std::fs::read_to_string(root().join("policy-spec/trust.toml")).unwrap();
    assert!(example.contains(from), "{from}");
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&root().join("policy-spec"), tmp.path());
    let path = tmp.path().join("trust.toml");
    std::fs::write(&path, example.replacen(from, to, 1)).unwrap();
    let (map, diags, valid) = front(&path, &fixture_clock(""));
    let codes = diags.iter().map(|d| d.code.id()).collect();
    (codes, render_all(&map, &diags), valid.is_some())
}

/// Copies the files of `from` (and its subdirectories) into `to`.
fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&dest).unwrap();
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

/// TC1024's help, in each of its forms, names the fix: applying it leaves no TC1024.
#[test]
fn image_outside_registries_help_names_the_fix_in_each_form() {
    let cosign = "cosign_key = \"../../keys/cosign.pub\"";
    let no_registries = |t: String| t.replacen("registries = [\"internal\"]\n", "", 1);
    let repository = |t: String, r: &str| {
        t.replace(
            "repository = \"registry.example.com/team/api\"",
            &format!("repository = \"{r}\""),
        )
    };
    let ghcr = |t: String| repository(t, "ghcr.io/team/api");
    let declare_ghcr = |t: String| {
        t.replace(
            "[environments.staging]",
            &format!("[registries.ghcr]\nhost = \"ghcr.io\"\n{cosign}\n\n[environments.staging]"),
        )
    };
    let hub = |t: String| repository(t, "library/nginx");
    let declare_hub = |t: String| {
        t.replace(
            "[environments.staging]",
            &format!("[registries.hub]\nhost = \"docker.io\"\n{cosign}\n\n[environments.staging]"),
        )
    };
    let cases: [(String, &str, String); 8] = [
        // The tenant has registries, none with the host: the same path on one of them.
        (
            ghcr(minimal()),
            "take it from one of the tenant's registries (a mirror): `\"registry.example.com/team/api\"`",
            repository(minimal(), "registry.example.com/team/api"),
        ),
        // A registry the tenant does not list has the host: list it (the tenant has others).
        (
            declare_ghcr(ghcr(minimal())),
            "add `ghcr` (the registry of `ghcr.io`) to the tenant's `registries`",
            declare_ghcr(ghcr(minimal())).replace(
                "registries = [\"internal\"]",
                "registries = [\"internal\", \"ghcr\"]",
            ),
        ),
        // The tenant has none, and a declared registry has the host: list its name.
        (
            no_registries(minimal()),
            "add `internal` (the registry of `registry.example.com`) to the tenant's `registries`",
            minimal(),
        ),
        // No registry has the host: declare one and list it.
        (
            ghcr(no_registries(minimal())),
            "declare the registry (`[registries.NAME]` with `host = \"ghcr.io\"` and its signature key) and add NAME to the tenant's `registries`",
            declare_ghcr(ghcr(minimal()))
                .replace("registries = [\"internal\"]", "registries = [\"ghcr\"]"),
        ),
        // A registry's host alone, no image: name the image.
        (
            repository(minimal(), "registry.example.com"),
            "name the image after the host: `\"registry.example.com/NAME\"`",
            repository(minimal(), "registry.example.com/NAME"),
        ),
        // No host: Docker Hub's, as Flux reads it (not a registry called `library`). The
        // whole name is the path on a mirror.
        (
            hub(minimal()),
            "take it from one of the tenant's registries (a mirror): `\"registry.example.com/library/nginx\"`",
            repository(minimal(), "registry.example.com/library/nginx"),
        ),
        // Docker Hub declared and listed: write its host.
        (
            declare_hub(hub(minimal()))
                .replace("registries = [\"internal\"]", "registries = [\"hub\"]"),
            "write the registry host: `\"docker.io/library/nginx\"`",
            declare_hub(repository(minimal(), "docker.io/library/nginx"))
                .replace("registries = [\"internal\"]", "registries = [\"hub\"]"),
        ),
        // Docker Hub declared, not listed: both.
        (
            declare_hub(hub(minimal())),
            "write the registry host: `\"docker.io/library/nginx\"`, and add `hub` to the tenant's `registries`",
            declare_hub(repository(minimal(), "docker.io/library/nginx")).replace(
                "registries = [\"internal\"]",
                "registries = [\"internal\", \"hub\"]",
            ),
        ),
    ];
    for (broken, help, fixed) in cases {
        let tmp = tempfile::tempdir().unwrap();
        let path = write_spec(&tmp, &broken);
        let (map, diags, _) = front(&path, &fixture_clock(""));
        let found: Vec<_> = diags.iter().filter(|d| d.code.id() == "TC1024").collect();
        assert_eq!(found.len(), 1, "{}", render_all(&map, &diags));
        assert_eq!(found[0].help.as_deref(), Some(help));
        if help.contains("library/nginx") {
            assert!(
                found[0].message.contains(
                    "a name without a registry host: Flux reads it as Docker Hub's (`docker.io/…`)"
                ),
                "{}",
                found[0].message
            );
        }
        let path = write_spec(&tmp, &fixed);
        let (map, diags, _) = front(&path, &fixture_clock(""));
        assert!(
            diags.iter().all(|d| d.code.id() != "TC1024"),
            "{}",
            render_all(&map, &diags)
        );
    }
}

/// Flux 2.9 verifies SSH-signed commits (`<name>.sshpub` entries): an SSH signing key is
/// accepted for 2.9 and lands in the signers Secrets under that name; for 2.8 it is refused.
#[test]
fn ssh_signing_keys_for_flux_2_9_and_refused_before() {
    let ssh = std::path::Path::new("ssh");
    let text = minimal()
        .replace(
            "[registries.internal]",
            &format!(
                "[signers.carol]\nemail = \"carol@example.com\"\nkey = \"{}\"\nfingerprint = \"SHA256:ThcMmIS9urs0Db60Cl6EdkhaunkcwEd7ybEXGaQ4n4Y\"\n\n[signers.dave]\nemail = \"dave@example.com\"\nkey = \"{}\"\n\n[registries.internal]",
                ssh.join("carol.pub").display(),
                ssh.join("dave.pub").display()
            ),
        )
        .replace("signers = [\"alice\"]\nregistries", "signers = [\"carol\", \"dave\"]\nregistries");
    let tmp = tempfile::tempdir().unwrap();
    let path = write_spec(&tmp, &text);
    let (map, diags, valid) = front(&path, &fixture_clock(""));
    assert!(diags.is_empty(), "{}", render_all(&map, &diags));
    let valid = valid.expect("accepted for Flux 2.9 (the default)");
    let tree = trustc::cli::compile(
        &valid,
        "policy-spec/trust.toml",
        &trustc::render::TemplateSet::embedded(),
    )
    .unwrap_or_else(|s| panic!("{:?}", s.into_sorted()));
    let signers = tree
        .files
        .iter()
        .find(|(p, _)| p.ends_with("tenants/team/signers.yaml"))
        .map(|(_, b)| String::from_utf8_lossy(b).to_string())
        .expect("tenant signers Secret");
    let carol =
        std::fs::read_to_string(root().join("tests/fixtures/valid/ssh/keys/carol.pub")).unwrap();
    assert!(signers.contains("carol.sshpub:"), "{signers}");
    assert!(signers.contains("dave.sshpub:"), "{signers}");
    assert!(!signers.contains("carol.asc"), "{signers}");
    assert!(
        signers.contains(carol.split_whitespace().nth(1).unwrap()),
        "{signers}"
    );

    // Flux 2.8: refused, at the key, with the reason.
    let old = text.replace("[flux]\n", "[flux]\nversion = \"2.8\"\n");
    let path = write_spec(&tmp, &old);
    let (map, diags, valid) = front(&path, &fixture_clock(""));
    let shown = render_all(&map, &diags);
    assert!(valid.is_none());
    assert_eq!(
        diags
            .iter()
            .filter(|d| d.code == Code::SshSignerNeedsFlux29)
            .count(),
        2,
        "{shown}"
    );
    assert!(
        shown.contains("source-controller verifies SSH-signed commits"),
        "{shown}"
    );

    // A wrong pin is caught like a PGP one.
    let pinned = text.replace("SHA256:ThcMm", "SHA256:XhcMm");
    let path = write_spec(&tmp, &pinned);
    let (_, diags, _) = front(&path, &fixture_clock(""));
    assert!(diags.iter().any(|d| d.code == Code::FingerprintMismatch));
}

/// `who-can` with a typo never answers a false "nobody" with success, and `access --tenant`
/// with a typo suggests the tenant (usage errors, exit 2), like kubectl's warnings.
#[test]
fn who_can_warns_on_typos_and_access_suggests_the_tenant() {
    let manifests = root().join("generated/production");
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_trustc"))
            .args(args)
            .arg("--manifests")
            .arg(&manifests)
            .output()
            .unwrap();
        (
            out.status.code().unwrap(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (code, _, err) = run(&["who-can", "craete", "deployments.apps", "-n", "payments"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("verb `craete` is not a known verb (did you mean `create`?)"),
        "{err}"
    );

    // kubectl's short name resolves; the tenant's reconciler is found.
    let (code, out, err) = run(&["who-can", "create", "deploy", "-n", "payments"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("payments-reconciler"), "{out}");

    let (code, _, err) = run(&["who-can", "create", "deploymnets", "-n", "payments"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("did you mean `deployments.apps`?"), "{err}");

    // Namespaced resource without -n: said, and answered for cluster-wide grants.
    let (_, _, err) = run(&["who-can", "create", "deployments.apps"]);
    assert!(
        err.contains("is namespaced: without `-n NAMESPACE`"),
        "{err}"
    );

    let (code, _, err) = run(&["access", "--tenant", "paymnts"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("did you mean `--tenant payments`?"), "{err}");
    let (code, out, _) = run(&["access", "--tenant", "payments"]);
    assert_eq!(code, 0);
    assert!(out.contains("deployments"), "{out}");
}

/// `trustc init`: the starter passes `check` once the example keys are in place, compiles,
/// and a second `init` refuses to overwrite it.
#[test]
fn init_writes_a_starter_that_passes_check_once_keys_are_in_place() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("fleet");
    let bin = env!("CARGO_BIN_EXE_trustc");
    let run = |cwd: &std::path::Path, args: &[&str]| {
        let out = std::process::Command::new(bin)
            .args(args)
            .current_dir(cwd)
            .env("TRUSTC_NOW", crate::support::TEST_NOW.to_string())
            .output()
            .unwrap();
        (
            out.status.code().unwrap(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (code, err) = run(tmp.path(), &["init", "fleet"]);
    assert_eq!(code, 0, "{err}");
    let spec = repo.join("policy-spec/trust.toml");
    let starter = std::fs::read_to_string(&spec).unwrap();
    assert!(repo.join("policy-spec/keys/README.md").is_file());

    // Without keys: refused, naming the missing files.
    let (code, err) = run(&repo, &["check"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("keys/alice.asc") && err.contains("keys/cosign.pub"),
        "{err}"
    );

    for k in ["alice.asc", "cosign.pub"] {
        std::fs::copy(
            root().join("tests/fixtures/keys").join(k),
            repo.join("policy-spec/keys").join(k),
        )
        .unwrap();
    }
    let (map, diags, valid) = front(&spec, &fixture_clock(""));
    // Only the warnings that ask for what no starter can know: the API server's endpoints
    // and the addresses of the Git host and registry.
    let codes: BTreeSet<&str> = diags.iter().map(|d| d.code.id()).collect();
    assert!(
        codes.iter().all(|c| ["TC1071", "TC1072"].contains(c)),
        "{}",
        render_all(&map, &diags)
    );
    assert!(valid.is_some());
    let (code, err) = run(&repo, &["generate"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        repo.join("generated/production/kustomization.yaml")
            .is_file()
    );

    // Never overwrites.
    std::fs::write(&spec, "# mine\n").unwrap();
    let (code, err) = run(tmp.path(), &["init", "fleet"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("already exists"), "{err}");
    assert_eq!(std::fs::read_to_string(&spec).unwrap(), "# mine\n");
    assert!(starter.contains("EDIT"));
}

/// Without `--spec`, `policy-spec/trust.toml` is found upward from the working directory
/// (and `generated/` beside it); with none, trustc says to pass `--spec`.
#[test]
fn the_spec_is_found_from_any_directory_of_the_repository() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("fleet");
    let bin = env!("CARGO_BIN_EXE_trustc");
    let run = |cwd: &std::path::Path, args: &[&str]| {
        let out = std::process::Command::new(bin)
            .args(args)
            .current_dir(cwd)
            .env("TRUSTC_NOW", crate::support::TEST_NOW.to_string())
            .output()
            .unwrap();
        (
            out.status.code().unwrap(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    // No spec anywhere up the tree.
    let (code, err) = run(tmp.path(), &["check"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("pass `--spec FILE`"), "{err}");

    trustc::cli::init(&repo).unwrap();
    for k in ["alice.asc", "cosign.pub"] {
        std::fs::copy(
            root().join("tests/fixtures/keys").join(k),
            repo.join("policy-spec/keys").join(k),
        )
        .unwrap();
    }
    let deep = repo.join("apps/team/base");
    std::fs::create_dir_all(&deep).unwrap();
    let (code, err) = run(&deep, &["check"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.lines()
            .any(|l| l.starts_with("../../../policy-spec/trust.toml: ok")),
        "{err}"
    );
    let (code, err) = run(&deep, &["generate"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        repo.join("generated/staging/kustomization.yaml").is_file(),
        "{err}"
    );
    assert!(!deep.join("generated").exists());
    // The same bytes from the root: up to date.
    let (code, err) = run(&repo, &["generate", "--check"]);
    assert_eq!(code, 0, "{err}");
    // Explicit --out keeps its meaning: relative to the working directory.
    let (code, err) = run(&deep, &["generate", "--out", "here"]);
    assert_eq!(code, 0, "{err}");
    assert!(deep.join("here/staging").is_dir());
}

/// `docs/spec.md` is generated from the JSON Schema and never stale (like
/// `committed_schema_is_fresh`); every key of the schema appears in it.
#[test]
fn spec_reference_is_fresh() {
    let path = root().join("docs/spec.md");
    let fresh = trustc::cli::spec_reference();
    if std::env::var_os("TRUSTC_BLESS").is_some() {
        std::fs::write(&path, &fresh).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == fresh,
        "docs/spec.md is stale: run `TRUSTC_BLESS=1 cargo test --locked spec_reference_is_fresh`"
    );
    let schema: serde_json::Value = serde_json::from_str(&trustc::cli::schema_json()).unwrap();
    let mut keys: Vec<&str> = schema["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for def in schema["$defs"].as_object().unwrap().values() {
        if let Some(p) = def["properties"].as_object() {
            keys.extend(p.keys().map(String::as_str));
        }
    }
    for k in keys {
        assert!(
            fresh.contains(&format!("| `{k}` |")),
            "`{k}` missing from docs/spec.md"
        );
    }
    for p in ["kyverno-cel", "\"slack\"", "\"msteams\""] {
        assert!(fresh.contains(p), "{p}");
    }
}

/// A misspelt name in a tenant's `registries` is reported once, as TC1002. The tenant's
/// images and OCI charts are not also reported as outside its registries (TC1024): that
/// help, "add `internal`", would not clear the misspelling, and the image may well be on the
/// registry the tenant meant.
#[test]
fn a_misspelt_registry_of_a_tenant_is_reported_once() {
    let (codes, shown, valid) =
        example_with("registries = [\"internal\"]", "registries = [\"intrenal\"]");
    assert_eq!(codes, ["TC1002"], "{shown}");
    assert!(
        shown.contains("did you mean `internal`?"),
        "the help names the declared registry:\n{shown}"
    );
    assert!(!valid);
}

/// A misspelt required key is reported once, as TC0002 with its `did you mean`: not also as
/// missing (TC0004), whose help (`add namespaces = ["…"]`) would leave the misspelt key
/// behind. A required key that is simply absent is still TC0004.
#[test]
fn a_misspelt_required_key_is_not_also_missing() {
    let from = "namespaces = [\"payments\"]";
    for (to, want) in [("namspaces = [\"payments\"]", "TC0002"), ("", "TC0004")] {
        let (codes, shown, valid) = example_with(from, to);
        assert_eq!(codes, [want], "{to:?}:\n{shown}");
        assert!(!valid, "{to:?}");
        if want == "TC0002" {
            assert!(shown.contains("did you mean `namespaces`?"), "{shown}");
        }
    }
}

/// A value of the wrong type where a string of known values, a duration or one string is
/// wanted gets a help whose first quoted snippet, pasted over the value, leaves the example
/// without error: not `quote it: "1"` for an engine, which would only trade TC0003 for
/// TC1043.
#[test]
fn wrong_type_help_for_choices_durations_and_one_item_lists_is_accepted_when_pasted() {
    for (from, to, help) in [
        (
            "engine = \"kyverno-cel\"",
            "engine = 1",
            "write one of: `\"kyverno\"`, `\"kyverno-cel\"`, `\"vap\"`",
        ),
        (
            "kyverno_version = \"1.19\"",
            "kyverno_version = 1.19",
            "quote it: `\"1.19\"`",
        ),
        ("version = \"2.9\"", "version = 2.9", "quote it: `\"2.9\"`"),
        (
            "interval = \"1m\"",
            "interval = 60",
            "write it as a duration with its unit: `\"60s\"` (or `m`, `h`: e.g. `\"1m30s\"`)",
        ),
        (
            "interval = \"1m\"",
            "interval = 1.5",
            "write it as a duration with its unit: `\"1.5s\"` (or `m`, `h`: e.g. `\"1m30s\"`)",
        ),
        // Go durations take no exponent: not `"1e3s"`.
        (
            "interval = \"1m\"",
            "interval = 1e3",
            "write a duration as a string, e.g. `\"1m\"`, `\"30s\"` or `\"1h30m\"`",
        ),
        (
            "for = \"5m\"",
            "for = true",
            "write a duration as a string, e.g. `\"1m\"`, `\"30s\"` or `\"1h30m\"`",
        ),
        (
            "branch = \"main\"",
            "branch = [\"main\"]",
            "write it without the brackets: `\"main\"`",
        ),
        (
            "provider = \"slack\"",
            "provider = [\"slack\"]",
            "write it without the brackets: `\"slack\"`",
        ),
    ] {
        let (codes, shown, valid) = example_with(from, to);
        assert_eq!(codes, ["TC0003"], "{to}:\n{shown}");
        assert!(!valid);
        assert!(
            shown.contains(&format!("= help: {help}\n")),
            "{to}:\n{shown}"
        );
        let snippet = help.split('`').nth(1).unwrap();
        let key = to.split(" = ").next().unwrap();
        // Accepted: no error (`engine = "kyverno"` warns that ClusterPolicy is deprecated).
        let (_, shown, valid) = example_with(from, &format!("{key} = {snippet}"));
        assert!(
            valid && !shown.contains("error["),
            "{key} = {snippet}:\n{shown}"
        );
    }
}

/// An image named without a registry host is TC1024 alone: TC1071 does not take its first
/// component (`library`) for a host to open port 443 to.
#[test]
fn an_image_without_a_host_is_not_an_egress_host() {
    let (codes, shown, valid) = example_with(
        "repository = \"registry.internal.example.com/payments-api\"",
        "repository = \"library/nginx\"",
    );
    assert_eq!(codes, ["TC1024"], "{shown}");
    assert!(!shown.contains("`library`"), "{shown}");
    assert!(!valid);
}
