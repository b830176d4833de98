//! Hostile repositories: trustc in CI on an untrusted pull request (issue 8, items 1-5).
//!
//! The author of the pull request controls the spec, the key files, the template overrides
//! and everything inside `generated/` (links, FIFOs, the manifest, leftovers of a write).
//! Each test builds such a repository in a temporary directory, runs the real binary in it
//! the way CI does (`trustc generate` / `trustc generate --check --diff` from the repository
//! root) and asserts:
//!
//! - nothing outside the output directory changed (a snapshot of an "outside" directory
//!   holding a secret, taken before and compared after);
//! - nothing outside the repository was read into the output or the log (the secret holds a
//!   unique marker that must appear in no stdout, stderr or output file);
//! - the exit code is the documented one (0 ok, 1 refused, 2 usage or I/O error).

use std::collections::BTreeMap;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::{TEST_NOW, root};

/// The secret's unique marker: must never reach stdout, stderr or an output file.
const MARKER: &str = "TRUSTC-HOSTILE-SECRET-4b1d9e0c";

/// A repository under attack, with a directory outside it that holds a secret.
struct Hostile {
    _tmp: tempfile::TempDir,
    repo: PathBuf,
    outside: PathBuf,
}

impl Hostile {
    /// A repository with `.git`, the example spec and its keys; `outside/secret.txt` beside it.
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let repo = tmp.path().join("repo");
        let outside = tmp.path().join("outside");
        std::fs::create_dir_all(repo.join(".git")).unwrap();
        std::fs::create_dir_all(repo.join("policy-spec/keys")).unwrap();
        std::fs::copy(
            root().join("policy-spec/trust.toml"),
            repo.join("policy-spec/trust.toml"),
        )
        .unwrap();
        for e in std::fs::read_dir(root().join("policy-spec/keys")).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), repo.join("policy-spec/keys").join(e.file_name())).unwrap();
        }
        std::fs::create_dir_all(outside.join("sub")).unwrap();
        std::fs::write(outside.join("secret.txt"), format!("TOKEN={MARKER}\n")).unwrap();
        std::fs::write(outside.join("sub/sync.yaml"), format!("# {MARKER}\n")).unwrap();
        std::fs::write(
            outside.join("secret.toml"),
            format!("version = 1\n# {MARKER}\n[flux]\nx = \"{MARKER}\"\n"),
        )
        .unwrap();
        Hostile {
            _tmp: tmp,
            repo,
            outside,
        }
    }

    /// Runs trustc in the repository (as CI does), with a deadline: a hang fails the test.
    fn run(&self, args: &[&str]) -> Run {
        self.run_env(args, &[])
    }

    fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let child = self.spawn(args, env);
        wait(child, Duration::from_secs(60))
    }

    fn spawn(&self, args: &[&str], env: &[(&str, &str)]) -> std::process::Child {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_trustc"));
        cmd.args(args)
            .current_dir(&self.repo)
            .env("TRUSTC_NOW", TEST_NOW.to_string())
            .env_remove(trustc::write::FAULT_ENV)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.spawn().unwrap()
    }

    fn out(&self) -> PathBuf {
        self.repo.join("generated")
    }

    /// A generated file of the example (present after a first `generate`).
    fn generated_file(&self) -> &'static str {
        "production/tenants/payments/sync.yaml"
    }

    /// Asserts the marker is nowhere in the run's output nor in the output directory.
    fn assert_no_leak(&self, r: &Run) {
        assert!(
            !r.stdout.contains(MARKER),
            "secret in stdout:\n{}",
            r.stdout
        );
        assert!(
            !r.stderr.contains(MARKER),
            "secret in stderr:\n{}",
            r.stderr
        );
        for (path, bytes) in snapshot(&self.out()) {
            assert!(
                !String::from_utf8_lossy(&bytes).contains(MARKER),
                "secret copied into {path}"
            );
        }
    }
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

fn wait(mut child: std::process::Child, limit: Duration) -> Run {
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "trustc hung for {limit:?}; stderr:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let Output {
        status,
        stdout,
        stderr,
    } = child.wait_with_output().unwrap();
    Run {
        code: status.code(),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

/// Every entry below `dir`, not following links: path → bytes (links: `-> target`,
/// directories: empty, FIFOs: `fifo`).
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let Ok(meta) = std::fs::symlink_metadata(dir) else {
        return out;
    };
    if meta.file_type().is_symlink() {
        return out;
    }
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(dir).unwrap().display().to_string();
            let ft = std::fs::symlink_metadata(&p).unwrap().file_type();
            if ft.is_symlink() {
                let t = std::fs::read_link(&p).unwrap();
                out.insert(rel, format!("-> {}", t.display()).into_bytes());
            } else if ft.is_dir() {
                out.insert(format!("{rel}/"), Vec::new());
                stack.push(p);
            } else if ft.is_file() {
                out.insert(rel, std::fs::read(&p).unwrap());
            } else {
                out.insert(rel, b"special".to_vec());
            }
        }
    }
    out
}

fn mkfifo(path: &Path) -> bool {
    Command::new("mkfifo")
        .arg(path)
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn a_clean_repository_generates_checks_and_keeps_user_files() {
    // The legitimate path, as hard as the attacks: generate, re-generate, check, user files kept.
    let h = Hostile::new();
    let r = h.run(&["generate"]);
    assert_eq!(r.code, Some(0), "{r:?}");
    std::fs::write(h.out().join("NOTES.md"), "notes of the platform team\n").unwrap();
    let r = h.run(&["generate", "--check", "--diff"]);
    assert_eq!(r.code, Some(0), "{r:?}");
    let r = h.run(&["generate"]);
    assert_eq!(r.code, Some(0), "{r:?}");
    assert!(r.stderr.contains("0 written"), "{r:?}");
    assert!(h.out().join("NOTES.md").exists());
    let manifest = std::fs::read_to_string(h.out().join(".trustc-manifest")).unwrap();
    let sync = std::fs::read(h.out().join(h.generated_file())).unwrap();
    assert!(
        manifest.contains(&format!(
            "{}  {}\n",
            trustc::write::sha256_hex(&sync),
            h.generated_file()
        )),
        "the manifest records the sha256 of each file"
    );
}

#[test]
fn an_output_directory_that_is_a_link_is_refused() {
    let h = Hostile::new();
    symlink(&h.outside, h.out()).unwrap();
    let before = snapshot(&h.outside);
    let abs = h.out().display().to_string();
    let nested = h.out().join("production").display().to_string();
    for args in [
        &["generate"][..],
        &["generate", "--check", "--diff"][..],
        &["generate", "--out", &abs][..],
        &["generate", "--check", "--out", &abs][..],
        &["generate", "--out", "generated/production"][..],
    ] {
        let r = h.run(args);
        assert_eq!(r.code, Some(1), "{args:?}: {r:?}");
        assert!(r.stderr.contains("TC4003"), "{r:?}");
        assert!(r.stderr.contains("symbolic link"), "{r:?}");
        h.assert_no_leak(&r);
    }
    assert_eq!(snapshot(&h.outside), before, "nothing outside changed");
    // An absolute `--out` below the working directory is walked without following links
    // too (CI passes `$PWD/generated/...`).
    let r = h.run(&["generate", "--out", &nested]);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(r.stderr.contains("TC4003"), "{r:?}");
    assert_eq!(snapshot(&h.outside), before, "nothing outside changed");
}

#[test]
fn a_link_out_of_the_tree_listed_in_the_manifest_is_never_followed_nor_pruned() {
    let h = Hostile::new();
    assert_eq!(h.run(&["generate"]).code, Some(0));
    // `generated/escape -> outside`, and manifest lines naming files through it and above.
    symlink(&h.outside, h.out().join("escape")).unwrap();
    let secret = std::fs::read(h.outside.join("secret.txt")).unwrap();
    let mut manifest = std::fs::read_to_string(h.out().join(".trustc-manifest")).unwrap();
    manifest.push_str("escape\nescape/secret.txt\n");
    manifest.push_str(&format!(
        "{}  escape/secret.txt\n",
        trustc::write::sha256_hex(&secret)
    ));
    manifest.push_str("../outside/secret.txt\n/etc/hostname\n");
    std::fs::write(h.out().join(".trustc-manifest"), manifest).unwrap();
    let before = snapshot(&h.outside);

    let r = h.run(&["generate", "--check", "--diff"]);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(r.stdout.contains("not a regular file"), "{r:?}");
    assert!(r.stderr.contains("TC4002"), "{r:?}");
    h.assert_no_leak(&r);

    let r = h.run(&["generate"]);
    assert_eq!(r.code, Some(1), "refused, not followed: {r:?}");
    assert!(r.stderr.contains("TC4002"), "{r:?}");
    assert!(r.stderr.contains("nothing under"), "{r:?}");
    h.assert_no_leak(&r);
    assert_eq!(snapshot(&h.outside), before, "nothing outside changed");
    assert!(
        std::fs::symlink_metadata(h.out().join("escape")).is_ok(),
        "the link itself is reported, not deleted"
    );

    // Without the link, a listed file that trustc did not write is kept and reported.
    std::fs::remove_file(h.out().join("escape")).unwrap();
    std::fs::create_dir_all(h.out().join("escape")).unwrap();
    std::fs::write(h.out().join("escape/secret.txt"), "a user's file\n").unwrap();
    let r = h.run(&["generate"]);
    assert_eq!(r.code, Some(0), "{r:?}");
    assert!(r.stderr.contains("TC4005"), "{r:?}");
    assert_eq!(
        std::fs::read_to_string(h.out().join("escape/secret.txt")).unwrap(),
        "a user's file\n"
    );
    assert_eq!(snapshot(&h.outside), before);
}

#[test]
fn a_symlinked_tenant_directory_is_refused() {
    let h = Hostile::new();
    assert_eq!(h.run(&["generate"]).code, Some(0));
    let tenant = h.out().join("production/tenants/payments");
    std::fs::remove_dir_all(&tenant).unwrap();
    symlink(h.outside.join("sub"), &tenant).unwrap();
    // List a file in the link's target as generated, with its digest.
    let planted = std::fs::read(h.outside.join("sub/sync.yaml")).unwrap();
    let mut manifest = std::fs::read_to_string(h.out().join(".trustc-manifest")).unwrap();
    manifest.push_str(&format!(
        "{}  production/tenants/payments/old.yaml\n",
        trustc::write::sha256_hex(&planted)
    ));
    std::fs::write(h.out().join(".trustc-manifest"), manifest).unwrap();
    std::fs::copy(
        h.outside.join("sub/sync.yaml"),
        h.outside.join("sub/old.yaml"),
    )
    .unwrap();
    let before = snapshot(&h.outside);
    let r = h.run(&["generate", "--check", "--diff"]);
    assert_eq!(r.code, Some(1), "{r:?}");
    h.assert_no_leak(&r);
    let r = h.run(&["generate"]);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(r.stderr.contains("symbolic link"), "{r:?}");
    h.assert_no_leak(&r);
    assert_eq!(
        snapshot(&h.outside),
        before,
        "nothing written into the link's target"
    );
}

#[test]
fn planted_staging_files_and_journal_names_never_redirect_a_write() {
    let h = Hostile::new();
    assert_eq!(h.run(&["generate"]).code, Some(0));
    let before = snapshot(&h.outside);
    // Old-style predictable temporary names, as links to the secret.
    let dir = h.out().join("production/tenants/payments");
    symlink(
        h.outside.join("secret.txt"),
        dir.join(".sync.yaml.trustc-tmp"),
    )
    .unwrap();
    // A journal name as a link: refused, never read or followed.
    symlink(
        h.outside.join("secret.txt"),
        h.out().join(".trustc-journal"),
    )
    .unwrap();
    let r = h.run(&["generate", "--check", "--diff"]);
    assert_eq!(r.code, Some(1), "{r:?}");
    h.assert_no_leak(&r);
    let r = h.run(&["generate"]);
    assert_eq!(r.code, Some(1), "{r:?}");
    h.assert_no_leak(&r);
    assert_eq!(snapshot(&h.outside), before);
    std::fs::remove_file(dir.join(".sync.yaml.trustc-tmp")).unwrap();
    std::fs::remove_file(h.out().join(".trustc-journal")).unwrap();

    // A planted staging directory holding a link out: removed as trustc's own leftover,
    // the link unlinked, never its target.
    let staging = h.out().join(".trustc-staging-0000000000000000");
    std::fs::create_dir_all(staging.join("nested")).unwrap();
    symlink(h.outside.join("secret.txt"), staging.join("0")).unwrap();
    symlink(&h.outside, staging.join("nested/out")).unwrap();
    // A journal (a real file) whose operations reach through a link: refused or harmless.
    std::fs::write(
        h.out().join(".trustc-journal"),
        "trustc-journal 1\nstaging .trustc-staging-0000000000000000\nrename 0 production/x.yaml\nend\n",
    )
    .unwrap();
    let r = h.run(&["generate", "--check"]);
    assert_eq!(r.code, Some(1), "an interrupted write is reported: {r:?}");
    assert!(r.stderr.contains("TC4004"), "{r:?}");
    // The link `0` is not a staged file: replay skips it; the staging tree is removed.
    let r = h.run(&["generate"]);
    assert_eq!(r.code, Some(0), "{r:?}");
    h.assert_no_leak(&r);
    assert!(!staging.exists());
    assert!(!h.out().join(".trustc-journal").exists());
    assert_eq!(snapshot(&h.outside), before);
    assert_eq!(h.run(&["generate", "--check"]).code, Some(0));

    // A journal that names a path out of the tree is not trustc's: refused, nothing done.
    std::fs::write(
        h.out().join(".trustc-journal"),
        "trustc-journal 1\nstaging .trustc-staging-1\ndelete 0000000000000000000000000000000000000000000000000000000000000000 ../outside/secret.txt\nend\n",
    )
    .unwrap();
    let r = h.run(&["generate"]);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(r.stderr.contains("TC4004"), "{r:?}");
    assert_eq!(snapshot(&h.outside), before);
}

#[test]
fn a_fifo_in_the_output_is_reported_never_opened() {
    let h = Hostile::new();
    assert_eq!(h.run(&["generate"]).code, Some(0));
    let target = h.out().join(h.generated_file());
    std::fs::remove_file(&target).unwrap();
    if !mkfifo(&target) {
        crate::support::skip("`mkfifo` is not available");
        return;
    }
    assert!(mkfifo(&h.out().join("extra.fifo")));
    // Run with a deadline: a FIFO opened for reading would block forever.
    let r = h.run(&["generate", "--check", "--diff"]);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(r.stdout.contains("not a regular file"), "{r:?}");
    let r = h.run(&["generate"]);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(r.stderr.contains("FIFO"), "{r:?}");
}

#[test]
fn huge_and_special_key_files_are_refused_without_reading_them() {
    let h = Hostile::new();
    let key = h.repo.join("policy-spec/keys/alice.asc");
    // A 2 GiB sparse key: refused by size, not read.
    std::fs::remove_file(&key).unwrap();
    let f = std::fs::File::create(&key).unwrap();
    f.set_len(2 << 30).unwrap();
    drop(f);
    let start = Instant::now();
    let r = h.run(&["check"]);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(r.stderr.contains("TC0007"), "{r:?}");
    assert!(r.stderr.contains("limit of 8 MiB"), "{r:?}");
    assert!(start.elapsed() < Duration::from_secs(20), "not read");
    // A FIFO key: refused, no hang.
    std::fs::remove_file(&key).unwrap();
    if mkfifo(&key) {
        let r = h.run(&["check"]);
        assert_eq!(r.code, Some(1), "{r:?}");
        assert!(r.stderr.contains("not a regular file"), "{r:?}");
    }
    // `/dev/zero`, by absolute path and through a committed link: outside the repository.
    let _ = std::fs::remove_file(&key);
    symlink("/dev/zero", &key).unwrap();
    let r = h.run(&["check"]);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(r.stderr.contains("TC0009"), "{r:?}");
}

#[test]
fn keys_outside_the_repository_are_refused_and_never_echoed() {
    let h = Hostile::new();
    let spec = h.repo.join("policy-spec/trust.toml");
    let text = std::fs::read_to_string(&spec).unwrap();
    let secret = h.outside.join("secret.txt");
    // A committed link to the secret.
    let key = h.repo.join("policy-spec/keys/alice.asc");
    std::fs::remove_file(&key).unwrap();
    symlink(&secret, &key).unwrap();
    let r = h.run(&["check"]);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(r.stderr.contains("TC0009"), "{r:?}");
    h.assert_no_leak(&r);
    std::fs::remove_file(&key).unwrap();
    std::fs::copy(root().join("policy-spec/keys/alice.asc"), &key).unwrap();
    // An absolute path and a `..` path out of the repository.
    for path in [
        secret.display().to_string(),
        "../../outside/secret.txt".to_string(),
    ] {
        std::fs::write(
            &spec,
            text.replace("key = \"keys/alice.asc\"", &format!("key = \"{path}\"")),
        )
        .unwrap();
        let r = h.run(&["generate"]);
        assert_eq!(r.code, Some(1), "{path}: {r:?}");
        assert!(r.stderr.contains("TC0009"), "{r:?}");
        h.assert_no_leak(&r);
    }
    // A malformed key inside the repository: its bytes are not echoed by the parser's error.
    std::fs::write(&spec, &text).unwrap();
    std::fs::write(
        &key,
        format!(
            "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n{MARKER}\n-----END PGP PUBLIC KEY BLOCK-----\n"
        ),
    )
    .unwrap();
    let r = h.run(&["check"]);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(r.stderr.contains("TC1025"), "{r:?}");
    h.assert_no_leak(&r);
    std::fs::write(
        h.repo.join("policy-spec/keys/cosign.pub"),
        format!("-----BEGIN {MARKER}-----\nAAAA\n-----END {MARKER}-----\n"),
    )
    .unwrap();
    let r = h.run(&["check"]);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(r.stderr.contains("TC1029"), "{r:?}");
    h.assert_no_leak(&r);
}

#[test]
fn a_spec_that_links_out_of_the_repository_is_refused() {
    let h = Hostile::new();
    let spec = h.repo.join("policy-spec/trust.toml");
    std::fs::remove_file(&spec).unwrap();
    symlink(h.outside.join("secret.toml"), &spec).unwrap();
    for args in [
        &["check"][..],
        &["generate"][..],
        &["generate", "--check"][..],
    ] {
        let r = h.run(args);
        assert_eq!(r.code, Some(2), "{args:?}: {r:?}");
        assert!(r.stderr.contains("TC0009"), "{r:?}");
        h.assert_no_leak(&r);
    }
    // A link to a file inside the repository is fine.
    std::fs::remove_file(&spec).unwrap();
    std::fs::copy(
        root().join("policy-spec/trust.toml"),
        h.repo.join("policy-spec/real.toml"),
    )
    .unwrap();
    symlink("real.toml", &spec).unwrap();
    assert_eq!(h.run(&["check"]).code, Some(0));
    // A FIFO as spec: refused, no hang.
    std::fs::remove_file(&spec).unwrap();
    if mkfifo(&spec) {
        let r = h.run(&["check"]);
        assert_eq!(r.code, Some(2), "{r:?}");
        assert!(r.stderr.contains("not a regular file"), "{r:?}");
    }
}

#[test]
fn template_trees_with_link_loops_or_links_out_are_refused() {
    let h = Hostile::new();
    let tpl = h.repo.join("templates");
    std::fs::create_dir_all(tpl.join("tenant")).unwrap();
    symlink(&tpl, tpl.join("loop")).unwrap();
    symlink(".", tpl.join("tenant/again")).unwrap();
    let r = h.run(&["generate", "--templates", "templates"]);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(r.stderr.contains("symbolic link"), "{r:?}");
    assert!(!h.out().exists(), "nothing written");
    std::fs::remove_file(tpl.join("loop")).unwrap();
    std::fs::remove_file(tpl.join("tenant/again")).unwrap();
    // A template that links to the secret.
    symlink(
        h.outside.join("secret.txt"),
        tpl.join("tenant/sync.yaml.j2"),
    )
    .unwrap();
    let r = h.run(&["generate", "--templates", "templates"]);
    assert_eq!(r.code, Some(1), "{r:?}");
    h.assert_no_leak(&r);
    // The override directory itself a link.
    std::fs::remove_dir_all(&tpl).unwrap();
    symlink(&h.outside, &tpl).unwrap();
    let r = h.run(&["generate", "--templates", "templates"]);
    assert_eq!(r.code, Some(1), "{r:?}");
    h.assert_no_leak(&r);
    assert!(!h.out().exists(), "nothing written");
}

#[test]
fn check_diff_never_reads_through_a_symlinked_output_file() {
    let h = Hostile::new();
    assert_eq!(h.run(&["generate"]).code, Some(0));
    let target = h.out().join(h.generated_file());
    std::fs::remove_file(&target).unwrap();
    symlink(h.outside.join("secret.txt"), &target).unwrap();
    let before = snapshot(&h.outside);
    let r = h.run(&["generate", "--check", "--diff"]);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(
        r.stdout.contains("not a regular file (a symbolic link"),
        "{r:?}"
    );
    assert!(r.stderr.contains("TC4002"), "{r:?}");
    h.assert_no_leak(&r);
    // `generate` refuses too (never replaces, follows or deletes the link).
    let r = h.run(&["generate"]);
    assert_eq!(r.code, Some(1), "{r:?}");
    h.assert_no_leak(&r);
    assert_eq!(snapshot(&h.outside), before);
}

/// The two specs of the interrupted and concurrent writes: the example and the minimal
/// fixture (different trees: many renames and prunes between them).
fn spec_a() -> String {
    root().join("policy-spec/trust.toml").display().to_string()
}

fn spec_b() -> String {
    root()
        .join("tests/fixtures/valid/minimal/trust.toml")
        .display()
        .to_string()
}

/// The tree a clean `generate` of `spec` writes.
fn clean_tree(h: &Hostile, spec: &str) -> BTreeMap<String, Vec<u8>> {
    let dir = h.repo.join("clean");
    let _ = std::fs::remove_dir_all(&dir);
    let r = h.run(&["generate", "--spec", spec, "--out", "clean"]);
    assert_eq!(r.code, Some(0), "{r:?}");
    let t = snapshot(&dir);
    std::fs::remove_dir_all(&dir).unwrap();
    t
}

fn copy_tree(from: &Path, to: &Path) {
    let _ = std::fs::remove_dir_all(to);
    for (rel, bytes) in snapshot(from) {
        let p = to.join(rel.trim_end_matches('/'));
        if rel.ends_with('/') {
            std::fs::create_dir_all(&p).unwrap();
        } else {
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, bytes).unwrap();
        }
    }
    std::fs::create_dir_all(to).unwrap();
}

/// The tree without trustc's own leftovers (staging directories, a journal being written).
fn without_staging(t: &BTreeMap<String, Vec<u8>>) -> BTreeMap<String, Vec<u8>> {
    t.iter()
        .filter(|(k, _)| {
            !k.starts_with(trustc::write::STAGING_PREFIX)
                && !k.starts_with(trustc::write::JOURNAL_TMP_PREFIX)
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

#[test]
fn a_write_killed_at_any_step_is_old_new_or_completed_by_the_next_run() {
    let h = Hostile::new();
    let (a, b) = (spec_a(), spec_b());
    let old = clean_tree(&h, &a);
    let new = clean_tree(&h, &b);
    assert_ne!(old, new);
    let pristine = h.repo.join("pristine");
    let r = h.run(&["generate", "--spec", &a, "--out", "pristine"]);
    assert_eq!(r.code, Some(0), "{r:?}");
    // Every step when asked, else a stride through all of them (boundaries included).
    let stride = if std::env::var_os("TRUSTC_HOSTILE_ALL_STEPS").is_some() {
        1
    } else {
        7
    };
    let mut n = 0u64;
    let mut crashes = 0;
    let (mut saw_old, mut saw_journal, mut saw_recovery_crash) = (0, 0, 0);
    loop {
        copy_tree(&pristine, &h.out());
        let steps = n.to_string();
        let r = h.run_env(
            &["generate", "--spec", &b],
            &[(trustc::write::FAULT_ENV, steps.as_str())],
        );
        if r.code == Some(0) {
            assert_eq!(snapshot(&h.out()), new, "finished without a fault at {n}");
            break;
        }
        assert_eq!(
            r.code, None,
            "step {n}: killed by the hook, not an error: {r:?}"
        );
        crashes += 1;
        let after = snapshot(&h.out());
        let journaled = after.contains_key(trustc::write::JOURNAL);
        if journaled {
            saw_journal += 1;
        } else {
            let t = without_staging(&after);
            assert!(
                t == old || t == new,
                "step {n}: without a journal the tree is the old or the new output"
            );
            saw_old += usize::from(t == old);
        }
        // `--check` never calls an interrupted tree up to date.
        let r = h.run(&["generate", "--check", "--spec", &b]);
        if journaled || after != new {
            assert_eq!(r.code, Some(1), "step {n}: {r:?}");
        }
        // A crash during the recovery itself is recovered by the run after.
        if journaled && saw_journal % 3 == 1 {
            let r = h.run_env(
                &["generate", "--spec", &b],
                &[(trustc::write::FAULT_ENV, "2")],
            );
            // (It may also finish first when few steps were left.)
            assert!(matches!(r.code, None | Some(0)), "step {n}: {r:?}");
            saw_recovery_crash += usize::from(r.code.is_none());
        }
        // The next run completes (or rolls back) and writes the new output.
        let r = h.run(&["generate", "--spec", &b]);
        assert_eq!(r.code, Some(0), "step {n}: {r:?}");
        assert_eq!(
            snapshot(&h.out()),
            new,
            "step {n}: recovered to the new output"
        );
        n += stride;
        assert!(n < 10_000, "the write never finished");
    }
    assert!(crashes > 10, "only {crashes} crash points");
    assert!(saw_old > 0, "no crash before the commit point");
    assert!(saw_journal > 3, "no crash after the commit point");
    assert!(saw_recovery_crash > 0);
    eprintln!(
        "{crashes} crash points (stride {stride}): {saw_old} left the old tree, {saw_journal} a journal; {saw_recovery_crash} recoveries killed too"
    );

    // A crash, then the next run is of the OLD spec: the tree ends as the old output.
    copy_tree(&pristine, &h.out());
    let r = h.run_env(
        &["generate", "--spec", &b],
        &[(trustc::write::FAULT_ENV, "60")],
    );
    assert_eq!(r.code, None, "{r:?}");
    let r = h.run(&["generate", "--spec", &a]);
    assert_eq!(r.code, Some(0), "{r:?}");
    assert_eq!(snapshot(&h.out()), old);
}

#[test]
fn concurrent_runs_on_one_output_end_as_one_output() {
    let h = Hostile::new();
    let (a, b) = (spec_a(), spec_b());
    let old = clean_tree(&h, &a);
    let new = clean_tree(&h, &b);
    for round in 0..4 {
        let (first, second) = if round % 2 == 0 { (&a, &b) } else { (&b, &a) };
        let c1 = h.spawn(&["generate", "--spec", first], &[]);
        let c2 = h.spawn(&["generate", "--spec", second], &[]);
        let r1 = wait(c1, Duration::from_secs(120));
        let r2 = wait(c2, Duration::from_secs(120));
        assert_eq!(r1.code, Some(0), "{r1:?}");
        assert_eq!(r2.code, Some(0), "{r2:?}");
        let t = snapshot(&h.out());
        assert!(t == old || t == new, "round {round}: a mix of two outputs");
        let r = h.run(&["generate", "--check", "--spec", second]);
        let r_other = h.run(&["generate", "--check", "--spec", first]);
        assert!(
            r.code == Some(0) || r_other.code == Some(0),
            "round {round}: up to date for one spec"
        );
    }
}

#[test]
fn control_characters_never_reach_the_terminal_raw() {
    // ESC / OSC 52 (clipboard write), BEL, CR, bidi overrides in spec values and raw bytes.
    let h = Hostile::new();
    let spec = h.repo.join("policy-spec/trust.toml");
    let text = std::fs::read_to_string(&spec).unwrap();
    let hostile = text.replacen(
        "[tenants.payments]",
        "[tenants.payments]\nbogus_key = \"\u{1b}]52;c;cm0gLXJmIH4=\u{7}\u{1b}[2J\r\u{202e}evil\u{2066}\"",
        1,
    );
    assert_ne!(hostile, text);
    std::fs::write(&spec, &hostile).unwrap();
    let r = h.run(&["check"]);
    assert_eq!(r.code, Some(1), "{r:?}");
    let raw: Vec<char> = r
        .stderr
        .chars()
        .filter(|&c| c != '\n' && trustc::diag::is_unsafe_char(c))
        .collect();
    assert!(
        raw.is_empty(),
        "raw control characters {raw:?} in:\n{}",
        r.stderr
    );
    assert!(r.stderr.contains("\\u{1b}]52;"), "{r:?}");
    assert!(r.stderr.contains("\\u{202e}"), "{r:?}");
    // The same value in a field that reaches a template is refused by `check` (TC0008),
    // located, instead of failing at generate time.
    let in_url = text.replacen("ssh://git@github.com/", "ssh://git@github.com/\u{1b}[2J", 1);
    assert_ne!(in_url, text);
    std::fs::write(&spec, &in_url).unwrap();
    let r = h.run(&["generate"]);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(r.stderr.contains("error[TC0008]"), "{r:?}");
    assert!(
        r.stderr.contains("policy-spec/trust.toml:"),
        "located: {r:?}"
    );
    assert!(!r.stderr.contains('\u{1b}'), "{r:?}");
    assert!(!h.out().exists(), "nothing written");
}

#[test]
fn an_integer_out_of_range_is_a_located_diagnostic() {
    let h = Hostile::new();
    let spec = h.repo.join("policy-spec/trust.toml");
    let text = std::fs::read_to_string(&spec).unwrap();
    let line = text.lines().position(|l| l == "version = 1").unwrap() + 1;
    std::fs::write(
        &spec,
        text.replacen("version = 1", "version = 99999999999999999999999", 1),
    )
    .unwrap();
    let r = h.run(&["check"]);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(
        r.stderr
            .contains(&format!("policy-spec/trust.toml:{line}:11: error[TC0003]")),
        "{r:?}"
    );
    assert!(r.stderr.contains("out of range"), "{r:?}");
}

#[test]
fn a_second_run_waits_for_the_lock_and_says_so() {
    let h = Hostile::new();
    assert_eq!(h.run(&["generate"]).code, Some(0));
    // This test holds the lock, as a running `trustc generate` would.
    let held = trustc::write::Output::open(&h.out(), false, true)
        .unwrap()
        .unwrap();
    let child = h.spawn(&["generate"], &[]);
    std::thread::sleep(Duration::from_millis(1500));
    let mut child = child;
    assert!(
        child.try_wait().unwrap().is_none(),
        "generate must wait while another holds the lock"
    );
    drop(held);
    let r = wait(child, Duration::from_secs(60));
    assert_eq!(r.code, Some(0), "{r:?}");
    assert!(r.stderr.contains("waiting for its lock"), "{r:?}");
}
