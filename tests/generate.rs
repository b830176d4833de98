//! `trustc generate`: determinism, write-if-changed, atomicity, hostile strings, overrides.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::support::root;

fn run(args: &[&str]) -> i32 {
    let mut all = vec!["trustc"];
    all.extend_from_slice(args);
    trustc::cli::run(all)
}

/// Every file under `dir` with its bytes and modification time.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (Vec<u8>, std::time::SystemTime)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let meta = std::fs::metadata(&p).unwrap();
                out.insert(
                    p.strip_prefix(dir).unwrap().to_path_buf(),
                    (std::fs::read(&p).unwrap(), meta.modified().unwrap()),
                );
            }
        }
    }
    out
}

fn example() -> String {
    root().join("policy-spec/trust.toml").display().to_string()
}

#[test]
fn generating_twice_is_byte_identical_and_rewrites_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let out_s = out.display().to_string();
    assert_eq!(run(&["generate", "--spec", &example(), "--out", &out_s]), 0);
    let first = snapshot(&out);
    assert!(first.len() > 50, "a full tree is written");
    assert_eq!(run(&["generate", "--spec", &example(), "--out", &out_s]), 0);
    assert_eq!(
        snapshot(&out),
        first,
        "same bytes, and no file rewritten (same mtimes)"
    );
    assert_eq!(
        run(&["generate", "--spec", &example(), "--out", &out_s, "--check"]),
        0
    );
    // A hand edit is drift; a file trustc did not generate is not touched.
    let victim = out.join("production/tenants/payments/role.yaml");
    std::fs::write(&victim, "edited").unwrap();
    std::fs::write(out.join("production/NOTES.md"), "mine").unwrap();
    assert_eq!(
        run(&["generate", "--spec", &example(), "--out", &out_s, "--check"]),
        1
    );
    assert_eq!(run(&["generate", "--spec", &example(), "--out", &out_s]), 0);
    assert_ne!(std::fs::read(&victim).unwrap(), b"edited");
    assert_eq!(
        std::fs::read_to_string(out.join("production/NOTES.md")).unwrap(),
        "mine"
    );
}

#[test]
fn committed_generated_tree_is_fresh() {
    let out = root().join("generated").display().to_string();
    let spec = root().join("policy-spec/trust.toml");
    // Generated files name the spec as CI passes it; compare through the same relative path.
    let cwd = std::env::current_dir().unwrap();
    assert_eq!(
        cwd,
        root(),
        "cargo runs integration tests from the crate root"
    );
    assert!(spec.exists());
    assert_eq!(
        run(&["generate", "--check", "--out", &out]),
        0,
        "run `make generate` and commit generated/"
    );
}

fn assert_refused_and_untouched(out: &Path, args: &[&str], expected: i32) {
    let before = snapshot(out);
    assert_eq!(run(args), expected, "{args:?}");
    assert_eq!(
        snapshot(out),
        before,
        "nothing under the output changed for {args:?}"
    );
}

#[test]
fn refusals_leave_the_output_exactly_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let out_s = out.display().to_string();
    assert_eq!(run(&["generate", "--spec", &example(), "--out", &out_s]), 0);

    // A spec error.
    let bad = root()
        .join("tests/fixtures/invalid/TC1005.toml")
        .display()
        .to_string();
    assert_refused_and_untouched(&out, &["generate", "--spec", &bad, "--out", &out_s], 1);

    // A broken template override: a removed API version, and a template syntax error.
    let tpl = dir.path().join("templates");
    std::fs::create_dir_all(tpl.join("tenant")).unwrap();
    let sync = trustc::render::EMBEDDED
        .iter()
        .find(|(n, _)| *n == "tenant/sync.yaml.j2")
        .unwrap()
        .1;
    std::fs::write(
        tpl.join("tenant/sync.yaml.j2"),
        sync.replace(
            "{{ flux.api.kustomize }}",
            "kustomize.toolkit.fluxcd.io/v1beta2",
        ),
    )
    .unwrap();
    let tpl_s = tpl.display().to_string();
    assert_refused_and_untouched(
        &out,
        &[
            "generate",
            "--spec",
            &example(),
            "--out",
            &out_s,
            "--templates",
            &tpl_s,
        ],
        1,
    );
    std::fs::write(tpl.join("tenant/sync.yaml.j2"), "{% for x in %}").unwrap();
    assert_refused_and_untouched(
        &out,
        &[
            "generate",
            "--spec",
            &example(),
            "--out",
            &out_s,
            "--templates",
            &tpl_s,
        ],
        1,
    );
    // An override that names no template.
    std::fs::remove_file(tpl.join("tenant/sync.yaml.j2")).unwrap();
    std::fs::write(tpl.join("tenant/synk.yaml.j2"), sync).unwrap();
    assert_refused_and_untouched(
        &out,
        &[
            "generate",
            "--spec",
            &example(),
            "--out",
            &out_s,
            "--templates",
            &tpl_s,
        ],
        1,
    );

    // An unwritable output: a file stands where a directory must be created.
    let other = dir.path().join("other");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("staging"), "a file in the way").unwrap();
    let other_s = other.display().to_string();
    assert_refused_and_untouched(
        &other,
        &["generate", "--spec", &example(), "--out", &other_s],
        2,
    );
}

#[test]
fn hostile_strings_cannot_change_the_yaml_structure() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("keys")).unwrap();
    for k in ["alice.asc", "bob.asc", "cosign.pub"] {
        std::fs::copy(
            root().join("policy-spec/keys").join(k),
            dir.path().join("keys").join(k),
        )
        .unwrap();
    }
    let hostile_hosts = "github.com ssh-ed25519 AAAA\\nkind: ClusterRoleBinding\\n# x: {{ y }} ---";
    let text = std::fs::read_to_string(root().join("policy-spec/trust.toml"))
        .unwrap()
        .replace(
            "known_hosts = \"github.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\"",
            &format!("known_hosts = \"{hostile_hosts}\""),
        )
        .replace("store = \"vault-backend\"", "store = \"on\"")
        .replace("channel = \"gitops-alerts\"", "channel = \"0755\"")
        .replace("secret = \"slack-webhook\"", "secret = \"yes\"")
        .replace("deploy_key_path = \"flux/{tenant}/deploy-key\"", "deploy_key_path = \"flux/{tenant}/x: 'y' #z\"");
    let spec = dir.path().join("trust.toml");
    std::fs::write(&spec, text).unwrap();
    let out = dir.path().join("out");
    assert_eq!(
        run(&[
            "generate",
            "--spec",
            &spec.display().to_string(),
            "--out",
            &out.display().to_string()
        ]),
        0
    );

    let read = |rel: &str| {
        let text = std::fs::read_to_string(out.join(rel)).unwrap();
        (trustc::verify::parse_documents(&text).unwrap(), text)
    };
    let (docs, text) = read("production/tenants/payments/deploy-key.yaml");
    assert_eq!(docs.len(), 1, "no injected document");
    let spec = &docs[0]["spec"];
    assert_eq!(spec["secretStoreRef"]["name"], "on");
    assert_eq!(
        spec["target"]["template"]["data"]["known_hosts"],
        "github.com ssh-ed25519 AAAA\nkind: ClusterRoleBinding\n# x: {{ y }} ---"
    );
    assert_eq!(
        spec["data"][0]["remoteRef"]["key"],
        "flux/payments/x: 'y' #z"
    );
    assert!(
        !text.contains("name: on\n"),
        "YAML 1.1 boolean spelling must be quoted:\n{text}"
    );
    let (docs, text) = read("production/monitoring/notifications.yaml");
    let provider = docs.iter().find(|d| d["kind"] == "Provider").unwrap();
    assert_eq!(provider["spec"]["channel"], "0755");
    assert_eq!(provider["spec"]["secretRef"]["name"], "yes");
    assert!(
        !text.contains("channel: 0755\n") && !text.contains("name: yes\n"),
        "{text}"
    );
}

/// Runs generate with one template override and returns (exit code, stderr-free check that
/// nothing was written) — the refusal must come from the invariants, after render.
fn generate_with_override(
    name: &str,
    edit: impl Fn(&str) -> String,
) -> (i32, Vec<trustc::diag::Diagnostic>) {
    let dir = tempfile::tempdir().unwrap();
    let tpl = dir.path().join("templates");
    let original = trustc::render::EMBEDDED
        .iter()
        .find(|(n, _)| *n == name)
        .unwrap()
        .1;
    let path = tpl.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, edit(original)).unwrap();
    let out = dir.path().join("out");
    let code = run(&[
        "generate",
        "--spec",
        &example(),
        "--out",
        &out.display().to_string(),
        "--templates",
        &tpl.display().to_string(),
    ]);
    assert!(!out.exists(), "nothing written when {name} is refused");
    // The same pipeline through the library, to look at the diagnostics.
    let mut map = trustc::diag::SourceMap::new();
    let mut sink = trustc::diag::Sink::new();
    let valid = trustc::cli::load_and_check(
        &root().join("policy-spec/trust.toml"),
        &crate::support::fixture_clock(""),
        &mut map,
        &mut sink,
    )
    .unwrap()
    .unwrap();
    let set = trustc::render::TemplateSet::with_overrides(&tpl).unwrap();
    let diags = match trustc::cli::compile(&valid, "policy-spec/trust.toml", &set) {
        Ok(_) => Vec::new(),
        Err(sink) => sink.into_sorted(),
    };
    (code, diags)
}

#[test]
fn an_override_granting_clusterrolebindings_is_refused_by_the_invariants() {
    let (code, diags) = generate_with_override("tenant/role.yaml.j2", |t| {
        t.replace("rules:\n", "rules:\n- apiGroups:\n  - rbac.authorization.k8s.io\n  resources:\n  - clusterrolebindings\n  verbs:\n  - create\n")
    });
    assert_eq!(code, 1);
    let codes: Vec<&str> = diags.iter().map(|d| d.code.id()).collect();
    assert!(codes.contains(&"TC3001"), "{diags:#?}");
    assert!(
        diags
            .iter()
            .any(|d| d.message.contains("clusterrolebindings")
                && d.notes.iter().any(|n| n.contains("Adversar"))),
        "{diags:#?}"
    );
}

#[test]
fn an_override_binding_cluster_admin_or_dropping_guards_is_refused() {
    // RoleBinding to the built-in cluster-admin: rules not in the manifests, refused.
    let (code, diags) = generate_with_override("tenant/role-binding.yaml.j2", |t| {
        t.replace(
            "kind: Role\n  name: {{ tenant.service_account }}",
            "kind: ClusterRole\n  name: cluster-admin",
        )
    });
    assert_eq!(code, 1);
    assert!(
        diags
            .iter()
            .any(|d| d.code.id() == "TC3003" || d.code.id() == "TC3002"),
        "{diags:#?}"
    );
    // force: true on the tenant Kustomization.
    let (code, diags) =
        generate_with_override("tenant/sync.yaml.j2", |t| format!("{t}  force: true\n"));
    assert_eq!(code, 1);
    assert!(diags.iter().any(|d| d.code.id() == "TC3005"), "{diags:#?}");
    // GitRepository without verify.
    let (code, diags) = generate_with_override("tenant/source.yaml.j2", |t| {
        t.split("{% if tenant.signers %}")
            .next()
            .unwrap()
            .to_string()
    });
    assert_eq!(code, 1);
    assert!(diags.iter().any(|d| d.code.id() == "TC3006"), "{diags:#?}");
    // Flux's allow-egress kept.
    let (code, diags) = generate_with_override("flux/lockdown.yaml.j2", |t| {
        t.replace("$patch: delete", "$patch: merge")
    });
    assert_eq!(code, 1);
    assert!(diags.iter().any(|d| d.code.id() == "TC3009"), "{diags:#?}");
}

#[test]
fn access_commands_answer_on_generated_output_and_hand_written_manifests() {
    let generated = root().join("generated").display().to_string();
    assert_eq!(
        run(&[
            "access",
            "--tenant",
            "payments",
            "--env",
            "production",
            "--out",
            &generated
        ]),
        0
    );
    assert_eq!(
        run(&[
            "access",
            "--tenant",
            "nobody",
            "--env",
            "production",
            "--out",
            &generated
        ]),
        2, // a usage error: no such tenant (issue 9 item 7)
    );
    assert_eq!(
        run(&[
            "who-can",
            "create",
            "clusterrolebindings",
            "--env",
            "staging",
            "--out",
            &generated,
            "--format",
            "json"
        ]),
        0
    );
    assert_eq!(
        run(&["who-can", "create", "pods", "--out", &generated]),
        2,
        "several environments: --env is required"
    );
    // The analysis behind the commands, on the generated tree.
    let m = trustc::access::Manifests::load_dir(&root().join("generated/production")).unwrap();
    let crb = m.who_can(
        "create",
        "rbac.authorization.k8s.io",
        "clusterrolebindings",
        None,
    );
    assert!(
        crb.grants
            .iter()
            .all(|g| g.subject.name == "platform-reconciler"),
        "{:#?}",
        crb.grants
    );
    let dep = m.who_can("create", "apps", "deployments", Some("payments"));
    assert!(
        dep.grants
            .iter()
            .any(|g| g.subject.name == "payments-reconciler")
    );
}

#[test]
fn kyverno_test_suites_reference_only_files_that_exist() {
    let base = root().join("generated/kyverno-tests");
    let mut seen = 0;
    for env in std::fs::read_dir(&base).unwrap() {
        for tenant in std::fs::read_dir(env.unwrap().path()).unwrap() {
            let dir = tenant.unwrap().path();
            let text = std::fs::read_to_string(dir.join("kyverno-test.yaml")).unwrap();
            let test = trustc::verify::parse_documents(&text).unwrap().remove(0);
            let mut refs: Vec<&str> = Vec::new();
            for key in ["policies", "resources"] {
                refs.extend(
                    test[key]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|v| v.as_str().unwrap()),
                );
            }
            refs.push(test["userinfo"].as_str().unwrap());
            assert!(refs.len() >= 4, "{}", dir.display());
            for r in refs {
                assert!(
                    dir.join(r).is_file(),
                    "{}: `{r}` does not exist",
                    dir.display()
                );
            }
            // Every resource a result names is in resources.yaml.
            let res = trustc::verify::parse_documents(
                &std::fs::read_to_string(dir.join("resources.yaml")).unwrap(),
            )
            .unwrap();
            for result in test["results"].as_array().unwrap() {
                for name in result["resources"].as_array().unwrap() {
                    assert!(
                        res.iter()
                            .any(|o| o["metadata"]["name"] == *name && o["kind"] == result["kind"]),
                        "{}: {name}",
                        dir.display()
                    );
                }
            }
            seen += 1;
        }
    }
    assert_eq!(seen, 2, "one suite per tenant and environment");
}

/// Copies the example spec and its keys into `repo/policy-spec/` and marks `repo` as a
/// repository root.
fn example_repo(repo: &Path) {
    let spec_dir = repo.join("policy-spec");
    std::fs::create_dir_all(spec_dir.join("keys")).unwrap();
    std::fs::create_dir_all(repo.join(".git")).unwrap();
    std::fs::copy(
        root().join("policy-spec/trust.toml"),
        spec_dir.join("trust.toml"),
    )
    .unwrap();
    for e in std::fs::read_dir(root().join("policy-spec/keys")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), spec_dir.join("keys").join(e.file_name())).unwrap();
    }
}

/// Runs the real binary from `cwd` (the working directory is process-wide, so not in-process).
fn run_in(cwd: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_trustc"))
        .args(args)
        .current_dir(cwd)
        .env("TRUSTC_NOW", crate::support::TEST_NOW.to_string())
        .output()
        .unwrap()
}

fn files_of(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    snapshot(dir)
        .into_iter()
        .map(|(p, (b, _))| (p, b))
        .collect()
}

#[test]
fn every_spelling_of_the_output_path_works_and_gives_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    example_repo(&repo);
    std::fs::create_dir_all(repo.join("sub")).unwrap();
    std::fs::create_dir_all(repo.join("existing")).unwrap();
    let abs = repo.join("abs-out");
    let abs_s = abs.display().to_string();
    // (working directory, arguments, where the output lands)
    let cases: Vec<(PathBuf, Vec<&str>, PathBuf)> = vec![
        (repo.clone(), vec![], repo.join("generated")),
        (repo.clone(), vec!["--out", "out"], repo.join("out")),
        (repo.clone(), vec!["--out", "./dot"], repo.join("dot")),
        (
            repo.clone(),
            vec!["--out", "nested/dir"],
            repo.join("nested/dir"),
        ),
        (
            repo.clone(),
            vec!["--out", "existing"],
            repo.join("existing"),
        ),
        (repo.clone(), vec!["--out", &abs_s], abs.clone()),
        (
            repo.join("sub"),
            vec!["--spec", "../policy-spec/trust.toml", "--out", "../up"],
            repo.join("up"),
        ),
        (
            repo.join("sub"),
            vec![
                "--spec",
                "../policy-spec/trust.toml",
                "--out",
                "../nested2/deeper/x",
            ],
            repo.join("nested2/deeper/x"),
        ),
    ];
    let abs_spec = repo.join("policy-spec/trust.toml").display().to_string();
    let mut reference: Option<BTreeMap<PathBuf, Vec<u8>>> = None;
    for (cwd, extra, out) in cases {
        let mut args = vec!["generate"];
        args.extend(extra.iter().copied());
        let o = run_in(&cwd, &args);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "{args:?} from {cwd:?}: {stderr}");
        assert!(
            !stderr.contains("``"),
            "an I/O message names a path: {stderr}"
        );
        let files = files_of(&out);
        assert!(files.len() > 50, "{args:?}: a full tree under {out:?}");
        match &reference {
            None => reference = Some(files),
            Some(r) => assert!(r == &files, "{args:?} from {cwd:?}: other bytes"),
        }
        // The same output is up to date from another directory, with an absolute spec path.
        let out_s = out.display().to_string();
        let o = run_in(
            dir.path(),
            &["generate", "--check", "--spec", &abs_spec, "--out", &out_s],
        );
        assert!(
            o.status.success(),
            "--check from elsewhere: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    // No absolute path of this machine lands in the output.
    let tmp = dir.path().display().to_string();
    for (p, b) in reference.unwrap() {
        assert!(
            !String::from_utf8_lossy(&b).contains(&tmp),
            "{p:?} records a machine path"
        );
    }
}

#[test]
fn an_io_error_names_the_real_path() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    example_repo(&repo);
    // A file where the output directory should be.
    std::fs::write(repo.join("blocked"), "a file").unwrap();
    let o = run_in(&repo, &["generate", "--out", "blocked/out"]);
    assert_eq!(o.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("blocked"), "{stderr}");
    assert!(!stderr.contains("``"), "{stderr}");
}

#[test]
fn the_readme_indexes_every_generated_file_and_nothing_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let out_s = out.display().to_string();
    let run = run_in(
        &root(),
        &["generate", "--spec", &example(), "--out", &out_s],
    );
    assert!(run.status.success(), "{run:?}");
    let readme = std::fs::read_to_string(out.join("README.md")).unwrap();
    let files = files_of(&out);
    // The listing lines: "- `production/tenants/{a, b}/`: role.yaml, sync.yaml".
    let mut listed = std::collections::BTreeSet::new();
    for line in readme.lines() {
        let Some(rest) = line.strip_prefix("- `") else {
            continue;
        };
        let (shown, names) = rest.split_once("`: ").unwrap();
        let dirs: Vec<String> = match shown.split_once('{') {
            Some((prefix, group)) => group
                .trim_end_matches("}/")
                .split(", ")
                .map(|leaf| format!("{prefix}{leaf}/"))
                .collect(),
            None => vec![shown.to_string()],
        };
        for dir in dirs {
            for name in names.split(", ") {
                assert!(listed.insert(format!("{dir}{name}")), "{dir}{name} twice");
            }
        }
    }
    let expected: std::collections::BTreeSet<String> = files
        .keys()
        .map(|p| p.to_str().unwrap().to_string())
        .filter(|p| p != "README.md" && p != ".trustc-manifest")
        .collect();
    assert!(expected.len() > 50, "{}", expected.len());
    assert_eq!(listed, expected, "every generated file, once:\n{readme}");
    // And every kind of file says what it is.
    for pattern in [
        "<env>/tenants/<tenant>/role.yaml",
        "<env>/flux-system-sync/sync.yaml",
        "<env>/policies/trustc-tenant-pods.yaml",
        "kyverno-tests/<env>/<tenant>/kyverno-test.yaml",
    ] {
        assert!(readme.contains(&format!("| `{pattern}` | ")), "{pattern}");
    }
    assert!(!readme.contains("| generated by trustc |"), "{readme}");
    // Every environment has its section, entry point and trust map.
    for env in ["production", "staging"] {
        assert!(readme.contains(&format!("## {env}\n")), "{readme}");
        assert!(
            readme.contains(&format!(
                "applied by `generated/{env}/flux-system-sync/` (Kustomization `trustc-{env}`)"
            )),
            "{readme}"
        );
    }
    assert!(readme.contains("flux-system-sync/") && readme.contains("kustomize-controller"));
    // Mermaid blocks under the size GitHub renders.
    let blocks: Vec<&str> = readme.split("```mermaid\n").skip(1).collect();
    assert!(blocks.len() >= 2, "one trust map per environment at least");
    for b in blocks {
        let body = b.split("```").next().unwrap();
        assert!(body.len() <= trustc::map::MERMAID_LIMIT, "{}", body.len());
    }
    // It is Markdown for people: no kustomization lists it, and the access analysis reads
    // the environment directories only (a README full of YAML-looking text changes nothing).
    for (rel, bytes) in &files {
        if rel.ends_with("kustomization.yaml") {
            let text = String::from_utf8_lossy(bytes);
            assert!(!text.contains("README"), "{}", rel.display());
        }
    }
    let before = run_in(
        &root(),
        &[
            "access",
            "--tenant",
            "payments",
            "--env",
            "production",
            "--spec",
            &example(),
            "--out",
            &out_s,
        ],
    );
    std::fs::write(
        out.join("README.md"),
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: x}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}\nsubjects: [{kind: ServiceAccount, name: payments-reconciler, namespace: payments}]\n",
    )
    .unwrap();
    let after = run_in(
        &root(),
        &[
            "access",
            "--tenant",
            "payments",
            "--env",
            "production",
            "--spec",
            &example(),
            "--out",
            &out_s,
        ],
    );
    assert!(before.status.success(), "{before:?}");
    assert_eq!(before.stdout, after.stdout);
    // The committed tree has it too, fresh (committed_generated_tree_is_fresh checks bytes).
    assert!(root().join("generated/README.md").exists());
}

fn stderr_of(o: &std::process::Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

#[test]
fn generate_says_what_it_wrote_and_pruned_by_environment_and_tenant() {
    let repo = tempfile::tempdir().unwrap();
    example_repo(repo.path());
    let first = run_in(repo.path(), &["generate"]);
    assert!(first.status.success(), "{first:?}");
    let err = stderr_of(&first);
    assert!(
        err.contains("\nproduction/tenants/payments: charts.yaml, deploy-key.yaml, images.yaml, kustomization.yaml, namespaces.yaml, network-policies.yaml, role-binding.yaml, role.yaml, service-account.yaml, signers.yaml, source.yaml, sync.yaml written\n"),
        "{err}"
    );
    assert!(err.starts_with("README.md written\n"), "{err}");
    assert!(!err.contains(".trustc-manifest"), "{err}");
    assert!(err.contains(" written, 0 unchanged, 0 pruned)\n"), "{err}");
    // Nothing changed: only the summary; --quiet: nothing at all.
    let again = run_in(repo.path(), &["generate"]);
    let err = stderr_of(&again);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("(0 written, ") && err.contains(" 0 pruned)"),
        "{err}"
    );
    let quiet = run_in(repo.path(), &["generate", "--quiet"]);
    assert!(quiet.status.success());
    assert_eq!(stderr_of(&quiet), "");
    // A hand edit is rewritten; an environment removed from the spec is pruned.
    std::fs::write(
        repo.path()
            .join("generated/production/tenants/payments/role.yaml"),
        "edited\n",
    )
    .unwrap();
    let spec = repo.path().join("policy-spec/trust.toml");
    let text = std::fs::read_to_string(&spec).unwrap();
    let text = text
        .replace("[environments.staging]\nbranch = \"staging\"\n", "")
        .replace(
            "environments = [\"staging\", \"production\"]",
            "environments = [\"production\"]",
        );
    std::fs::write(&spec, text).unwrap();
    let changed = run_in(repo.path(), &["generate"]);
    let err = stderr_of(&changed);
    assert!(changed.status.success(), "{err}");
    assert!(
        err.contains("\nproduction/tenants/payments: role.yaml written\n"),
        "{err}"
    );
    assert!(
        err.contains("\nstaging/tenants/payments: charts.yaml, deploy-key.yaml, images.yaml, kustomization.yaml, namespaces.yaml, network-policies.yaml, role-binding.yaml, role.yaml, service-account.yaml, signers.yaml, source.yaml, sync.yaml pruned\n"),
        "{err}"
    );
    assert!(
        !err.contains("production/policies"),
        "unchanged files are not listed: {err}"
    );
    let summary = err.lines().last().unwrap();
    assert!(
        summary.starts_with("generated: ") && summary.contains(" pruned)"),
        "{err}"
    );
    // --quiet: the summary line only.
    std::fs::write(
        repo.path()
            .join("generated/production/tenants/payments/role.yaml"),
        "edited\n",
    )
    .unwrap();
    let quiet = stderr_of(&run_in(repo.path(), &["generate", "-q"]));
    assert_eq!(quiet.lines().count(), 1, "{quiet}");
    assert!(
        quiet.starts_with("generated: ") && quiet.contains("(1 written, "),
        "{quiet}"
    );
}

#[test]
fn drift_help_repeats_the_spec_and_out_as_typed() {
    let repo = tempfile::tempdir().unwrap();
    example_repo(repo.path());
    std::fs::create_dir_all(repo.path().join("ci dir")).unwrap();
    let args = [
        "generate",
        "--spec",
        "./policy-spec/../policy-spec/trust.toml",
        "--out",
        "ci dir/out",
    ];
    assert!(run_in(repo.path(), &args).status.success());
    std::fs::write(
        repo.path().join("ci dir/out/production/kustomization.yaml"),
        "x",
    )
    .unwrap();
    let mut check = args.to_vec();
    check.push("--check");
    let o = run_in(repo.path(), &check);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr_of(&o);
    let cmd = "trustc generate --spec ./policy-spec/../policy-spec/trust.toml --out 'ci dir/out'";
    assert!(err.contains(&format!("; run `{cmd}`\n")), "{err}");
    // Pasting it (as a shell would split it) regenerates the right tree.
    assert!(run_in(repo.path(), &args).status.success());
    assert!(run_in(repo.path(), &check).status.success());
    // Not typed: not repeated (discovery finds them again).
    assert!(run_in(repo.path(), &["generate"]).status.success());
    std::fs::write(
        repo.path().join("generated/production/kustomization.yaml"),
        "x",
    )
    .unwrap();
    let err = stderr_of(&run_in(
        &repo.path().join("policy-spec"),
        &["generate", "--check"],
    ));
    assert!(err.contains("; run `trustc generate`\n"), "{err}");
}

#[test]
fn a_core_group_kind_is_named_without_a_trailing_dot() {
    let (code, diags) = generate_with_override("tenant/role.yaml.j2", |t| {
        t.replace(
            "rules:\n",
            "rules:\n- apiGroups:\n  - \"\"\n  resources:\n  - endpoints\n  verbs:\n  - get\n",
        )
    });
    assert_eq!(code, 1);
    let d = diags
        .iter()
        .find(|d| d.code == trustc::diag::Code::TenantKindsMismatch)
        .unwrap_or_else(|| panic!("{diags:#?}"));
    assert!(d.message.contains("extra: [endpoints]"), "{}", d.message);
    assert!(!d.message.contains("endpoints."), "{}", d.message);
}

#[test]
fn the_readme_of_a_large_fleet_stays_small_and_lists_every_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let spec = crate::map::spec_with_tenants(dir.path(), 150, false);
    let out = dir.path().join("out");
    let o = run_in(
        dir.path(),
        &[
            "generate",
            "--spec",
            spec.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "-q",
        ],
    );
    assert!(o.status.success(), "{o:?}");
    let readme = std::fs::read_to_string(out.join("README.md")).unwrap();
    // 150 tenants with the same files share one line; no trust map beyond 100 tenants.
    let line = readme
        .lines()
        .find(|l| l.starts_with("- `staging/tenants/{team0000, team0001, "))
        .unwrap_or_else(|| panic!("{readme}"));
    assert!(line.contains(", team0149}/`: "), "{line}");
    assert!(!readme.contains("```mermaid"));
    assert!(
        readme.contains("150 tenants: too many for this page; run `trustc map --env staging`.")
    );
    assert!(readme.len() < 64 * 1024, "{} bytes", readme.len());
}
