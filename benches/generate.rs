//! End-to-end benchmark of `trustc generate` (not a timed test: it asserts nothing about speed).
//!
//! ```sh
//! cargo bench --bench generate                          # N = 100, 1000, 5000 tenants x 3 envs
//! TRUSTC_BENCH_N=100,1000 cargo bench --bench generate  # other sizes
//! ```
//!
//! For each N it writes a synthetic trust model of N tenants x 3 environments (the tenant
//! shapes of the peers' benchmark, `bench-peers/tenants.py`: tenant i has 1+i%3 namespaces,
//! 1+(i/3)%3 images, 3+i%5 kinds, 1+i%2 cosign-signed registries, one of 8 signers), then
//! times the real binary, one child process per run:
//!
//! - `fresh`: `generate` into a new, empty directory (median of RUNS, each into its own dir);
//! - `regenerate`: `generate` over the existing tree, nothing changes (write-if-changed);
//! - `check`: `generate --check` on the unchanged tree.
//!
//! `regenerate` and `check` get one warm-up each, then alternate run by run, so the
//! comparison between them survives the machine's speed drifting. Peak RSS, user and system
//! time come from `/usr/bin/time` (printed as `n/a` when it is missing); a run that exceeds
//! the timeout is stopped (`timeout`) and reported, never extrapolated.
//!
//! Then the library stages (parse+check, resolve, render, verify, write) are timed
//! in-process, in a child copy of this benchmark (so a slow stage can be killed too).
//!
//! Environment:
//! - `TRUSTC_BENCH_N`: comma-separated tenant counts (default `100,1000,5000`);
//! - `TRUSTC_BENCH_RUNS`: timed runs per cell (default 3);
//! - `TRUSTC_BENCH_TIMEOUT`: seconds before one child run is killed (default 300: at N=5000 a
//!   fresh-directory write is 30–100 s of disk time here, and the in-process stages child
//!   writes and removes such a tree too);
//! - `TRUSTC_BENCH_DIR`: scratch directory (default `target/tmp/trustc-bench`), removed at the end
//!   unless `TRUSTC_BENCH_KEEP=1`;
//! - `TRUSTC_BENCH_BIN`: the trustc binary to time (default: the one cargo built for this bench);
//! - `TRUSTC_BENCH_PEERS`: the peers' folder (`bench-peers`, the shared peer benchmark
//!   beside the repository in CI: `../shared/bench-peers`; not part of trustc): `helm template`
//!   of the same tenants (`helm/run.sh N 3 OUT`) is timed too, alternating with `regenerate`
//!   run by run, and the N=1000 target is judged on the paired ratios. Run its `setup.sh`
//!   first: it installs helm under `PEERS_TOOLS` (default
//!   `${XDG_CACHE_HOME:-~/.cache}/peers-tools`), which `run.sh` reads; the bench passes the
//!   environment on unchanged.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Environments of the synthetic spec: the first three of the peers' list.
const ENVIRONMENTS: [(&str, &str); 3] = [
    ("staging", "staging"),
    ("production", "main"),
    ("dev", "dev"),
];
/// (API group, kind); "" is the core group. Secret is dropped when writing the spec (trustc
/// refuses it without an opt-in), as the peers' spec generator does.
const KINDS: [(&str, &str); 10] = [
    ("apps", "Deployment"),
    ("apps", "StatefulSet"),
    ("", "Service"),
    ("", "ConfigMap"),
    ("batch", "CronJob"),
    ("networking.k8s.io", "Ingress"),
    ("", "Secret"),
    ("batch", "Job"),
    ("autoscaling", "HorizontalPodAutoscaler"),
    ("policy", "PodDisruptionBudget"),
];
const REGISTRIES: [(&str, &str); 4] = [
    ("internal", "registry.internal.example.com"),
    ("ghcr", "ghcr.io"),
    ("ecr", "123456789012.dkr.ecr.eu-west-1.amazonaws.com"),
    ("quay", "quay.io"),
];
const SIGNERS: [&str; 8] = [
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi",
];
const IMAGE_ROLES: [&str; 3] = ["api", "worker", "web"];
const TAG_PATTERNS: [&str; 2] = [r"^v[0-9]+\.[0-9]+\.[0-9]+$", r"^[0-9]+\.[0-9]+\.[0-9]+$"];

/// The library stages the child times, in order (the rows of its table).
const STAGE_NAMES: [&str; 12] = [
    "compile as `generate` does (render → invariants, one environment at a time)",
    "parse + check",
    "resolve",
    "render",
    "verify",
    "kustomizations (render + verify)",
    "invariants",
    "assemble tree",
    "write, fresh dir",
    "write, unchanged tree",
    "drift (--check)",
    "total",
];

/// Set in the child that times the library stages: the spec to load.
const STAGES_ENV: &str = "TRUSTC_BENCH_STAGES_SPEC";

fn main() {
    if let Ok(spec) = std::env::var(STAGES_ENV) {
        stages(Path::new(&spec));
        return;
    }
    let cfg = Config::from_env();
    std::fs::create_dir_all(&cfg.dir).expect("create the scratch directory");
    // A private copy: other work may rebuild target/release/trustc while the bench runs.
    let bin = cfg.dir.join("trustc");
    std::fs::copy(&cfg.bin, &bin).unwrap_or_else(|e| panic!("copy {}: {e}", cfg.bin.display()));
    let tools = Tools::probe();
    print_machine(&cfg, &tools);

    let mut rows: Vec<Row> = Vec::new();
    let mut stage_reports = Vec::new();
    let mut too_slow: Option<usize> = None;
    for &n in &cfg.ns {
        let spec_dir = cfg.dir.join(format!("spec-{n}"));
        let spec = write_spec(n, &spec_dir);
        let spec_bytes = std::fs::metadata(&spec).map(|m| m.len()).unwrap_or(0);
        eprintln!("bench: N={n}: spec {} ({spec_bytes} bytes)", spec.display());
        if let Some(prev) = too_slow {
            eprintln!("bench: N={n}: end-to-end skipped (N={prev} exceeded the timeout)");
            rows.push(Row::skipped(
                n,
                format!("skipped: N={prev} exceeded the timeout"),
            ));
        } else {
            let (cells, timed_out) = end_to_end(&cfg, &tools, &bin, n, &spec);
            rows.extend(cells);
            if timed_out {
                too_slow = Some(n);
            }
        }
        eprintln!("bench: N={n}: in-process stages");
        stage_reports.push((n, run_stages(&cfg, &tools, &spec)));
    }

    print_table(&rows);
    print_verdicts(&cfg, &rows);
    for (n, report) in &stage_reports {
        println!(
            "\n### In-process stages, N={n} ({} tenant-environments)\n",
            n * 3
        );
        print!("{report}");
    }
    if std::env::var_os("TRUSTC_BENCH_KEEP").is_none() {
        let _ = std::fs::remove_dir_all(&cfg.dir);
    }
}

struct Config {
    ns: Vec<usize>,
    runs: usize,
    timeout: u64,
    dir: PathBuf,
    bin: PathBuf,
    /// `TRUSTC_BENCH_PEERS`: the peers' folder (`bench-peers`, set up by its `setup.sh`), to
    /// time `helm template` on the same tenants, alternating with trustc run by run.
    peers: Option<PathBuf>,
}

impl Config {
    fn from_env() -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        let ns = var("TRUSTC_BENCH_N")
            .map(|v| {
                v.split(',')
                    .map(|x| {
                        x.trim()
                            .parse()
                            .expect("TRUSTC_BENCH_N: comma-separated integers")
                    })
                    .collect()
            })
            .unwrap_or_else(|| vec![100, 1000, 5000]);
        let runs = var("TRUSTC_BENCH_RUNS").map_or(3, |v| v.parse().expect("TRUSTC_BENCH_RUNS"));
        let timeout =
            var("TRUSTC_BENCH_TIMEOUT").map_or(300, |v| v.parse().expect("TRUSTC_BENCH_TIMEOUT"));
        let dir = var("TRUSTC_BENCH_DIR").map_or_else(
            || Path::new(env!("CARGO_TARGET_TMPDIR")).join("trustc-bench"),
            PathBuf::from,
        );
        let bin = var("TRUSTC_BENCH_BIN").map_or_else(
            || PathBuf::from(env!("CARGO_BIN_EXE_trustc")),
            PathBuf::from,
        );
        let peers = var("TRUSTC_BENCH_PEERS").map(PathBuf::from);
        Config {
            ns,
            runs: runs.max(1),
            timeout,
            dir,
            bin,
            peers,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The synthetic spec (the peers' gen_trust_spec.py, in Rust, keys from policy-spec/keys).

fn q(s: &str) -> String {
    if s.contains('\\') {
        format!("'{s}'")
    } else {
        format!("\"{s}\"")
    }
}

fn arr<S: AsRef<str>>(xs: &[S]) -> String {
    let items: Vec<String> = xs.iter().map(|x| q(x.as_ref())).collect();
    format!("[{}]", items.join(", "))
}

/// Writes `dir/trust.toml` and `dir/keys/` for N tenants x 3 environments; returns the spec path.
fn write_spec(n: usize, dir: &Path) -> PathBuf {
    let keys = dir.join("keys");
    std::fs::create_dir_all(&keys).expect("create spec dir");
    let repo_keys = Path::new(env!("CARGO_MANIFEST_DIR")).join("policy-spec/keys");
    for k in ["alice.asc", "bob.asc", "cosign.pub"] {
        std::fs::copy(repo_keys.join(k), keys.join(k))
            .unwrap_or_else(|e| panic!("copy key {k}: {e}"));
    }
    let mut out: Vec<String> = vec![
        "version = 1\n".into(),
        "[flux]\nnamespace = \"flux-system\"\nversion = \"2.9\"\napi_server_cidrs = [\"10.96.0.1/32\"]\n".into(),
        "[git]\nknown_hosts = \"github.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\"\ninterval = \"5m\"\n".into(),
        "[secrets]\nstore = \"vault-backend\"\ndeploy_key_path = \"flux/{tenant}/deploy-key\"\n".into(),
        "[alerts]\nprometheus = true\nfor = \"5m\"\nprovider = \"slack\"\nchannel = \"gitops-alerts\"\nsecret = \"slack-webhook\"\n".into(),
    ];
    // Eight signer names over the repository's two OpenPGP keys, alternately; tenant i uses
    // SIGNERS[i % 8], so every signer is used once N >= 8.
    for (k, s) in SIGNERS.iter().enumerate() {
        let file = if k % 2 == 0 { "alice" } else { "bob" };
        out.push(format!(
            "[signers.{s}]\nemail = \"{s}@example.com\"\nkey = \"keys/{file}.asc\"\n"
        ));
    }
    for (name, host) in REGISTRIES {
        out.push(format!(
            "[registries.{name}]\nhost = \"{host}\"\ncosign_key = \"keys/cosign.pub\"\n"
        ));
    }
    for (name, branch) in ENVIRONMENTS {
        let prod = if name == "production" {
            "production = true\n"
        } else {
            ""
        };
        out.push(format!(
            "[environments.{name}]\nbranch = \"{branch}\"\n{prod}"
        ));
    }
    out.push(
        "[platform]\nrepository = \"ssh://git@github.com/example/platform.git\"\npath = \"./clusters/{env}/platform\"\n\
         signers = [\"alice\"]\ncluster_kinds = [\"rbac.authorization.k8s.io/ClusterRole\", \"rbac.authorization.k8s.io/ClusterRoleBinding\", \"Namespace\"]\n"
            .into(),
    );
    let env_names: Vec<&str> = ENVIRONMENTS.iter().map(|(n, _)| *n).collect();
    for i in 0..n {
        let name = format!("tenant-{i:05}");
        let namespaces: Vec<String> = [name.clone(), format!("{name}-jobs"), format!("{name}-web")]
            .into_iter()
            .take(1 + i % 3)
            .collect();
        let kinds: Vec<String> = (0..3 + i % 5)
            .map(|j| KINDS[(i + j) % KINDS.len()])
            .filter(|(_, k)| *k != "Secret")
            .map(|(g, k)| {
                if g.is_empty() {
                    k.to_string()
                } else {
                    format!("{g}/{k}")
                }
            })
            .collect();
        let regs: Vec<(&str, &str)> = (0..1 + i % 2)
            .map(|j| REGISTRIES[(i + j) % REGISTRIES.len()])
            .collect();
        let reg_names: Vec<&str> = regs.iter().map(|(n, _)| *n).collect();
        let mut s = vec![
            format!("[tenants.{name}]"),
            format!("namespaces = {}", arr(&namespaces)),
            format!(
                "repository = {}",
                q(&format!(
                    "ssh://git@github.com/example/{name}-manifests.git"
                ))
            ),
            format!("path = {}", q(&format!("./clusters/{{env}}/{name}"))),
            format!("environments = {}", arr(&env_names)),
            format!("signers = {}", arr(&[SIGNERS[i % SIGNERS.len()]])),
            format!("registries = {}", arr(&reg_names)),
            format!("allowed_kinds = {}", arr(&kinds)),
        ];
        for j in 0..1 + (i / 3) % 3 {
            let host = regs[j % regs.len()].1;
            let role = IMAGE_ROLES[j];
            s.push(format!("[[tenants.{name}.images]]"));
            s.push(format!("name = {}", q(&format!("{name}-{role}"))));
            s.push(format!(
                "repository = {}",
                q(&format!("{host}/{name}/{role}"))
            ));
            s.push(format!(
                "semver = {}",
                q(&format!(">={}.0.0 <{}.0.0", j + 1, j + 2))
            ));
            s.push(format!("tag_pattern = {}", q(TAG_PATTERNS[(i + j) % 2])));
        }
        out.push(s.join("\n") + "\n");
    }
    let path = dir.join("trust.toml");
    std::fs::write(&path, out.join("\n")).expect("write spec");
    path
}

// ---------------------------------------------------------------------------------------------
// Child processes.

struct Tools {
    /// `/usr/bin/time`, for user/sys time and peak RSS.
    time: Option<PathBuf>,
    /// coreutils `timeout`, to kill a run that takes too long.
    timeout: Option<PathBuf>,
}

impl Tools {
    fn probe() -> Self {
        let find = |candidates: &[&str]| candidates.iter().map(PathBuf::from).find(|p| p.is_file());
        Tools {
            time: find(&["/usr/bin/time"]),
            timeout: find(&["/usr/bin/timeout", "/bin/timeout"]),
        }
    }
}

#[derive(Clone, Debug)]
struct Run {
    wall: f64,
    user: Option<f64>,
    sys: Option<f64>,
    rss_kib: Option<u64>,
    outcome: Outcome,
    stdout: String,
    stderr: String,
}

#[derive(Clone, Debug, PartialEq)]
enum Outcome {
    Ok,
    TimedOut,
    Failed(Option<i32>),
}

/// Runs `program args` as a child (under `timeout` and `/usr/bin/time` when present).
fn run_child(
    tools: &Tools,
    timeout: u64,
    program: &Path,
    args: &[&str],
    envs: &[(&str, &str)],
) -> Run {
    let time_file = std::env::temp_dir().join(format!("trustc-bench-time-{}", std::process::id()));
    let _ = std::fs::remove_file(&time_file);
    let mut argv: Vec<String> = Vec::new();
    if let Some(t) = &tools.time {
        argv.extend([
            t.display().to_string(),
            "-f".into(),
            "%U %S %M".into(),
            "-o".into(),
        ]);
        argv.push(time_file.display().to_string());
    }
    if let Some(t) = &tools.timeout {
        // SIGTERM first: trustc has no handler, so it dies and `timeout` reaps it, and its
        // rusage (peak RSS so far) still reaches `/usr/bin/time`. SIGKILL 5 s later.
        argv.extend([
            t.display().to_string(),
            "-k".into(),
            "5".into(),
            timeout.to_string(),
        ]);
    }
    argv.push(program.display().to_string());
    argv.extend(args.iter().map(|a| a.to_string()));
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .stdin(Stdio::null())
        .envs(envs.iter().copied());
    let start = Instant::now();
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("spawn {}: {e}", argv[0]));
    let wall = start.elapsed().as_secs_f64();
    let (mut user, mut sys, mut rss_kib) = (None, None, None);
    if let Ok(text) = std::fs::read_to_string(&time_file) {
        // `/usr/bin/time` puts "Command exited with non-zero status N" before the format line.
        if let Some(line) = text.lines().rev().find(|l| !l.trim().is_empty()) {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() == 3 {
                user = f[0].parse().ok();
                sys = f[1].parse().ok();
                rss_kib = f[2].parse().ok();
            }
        }
        let _ = std::fs::remove_file(&time_file);
    }
    let code = out.status.code();
    let outcome = match code {
        Some(0) => Outcome::Ok,
        // timeout: 124 when it stopped the command, 137 when SIGKILL was needed.
        Some(124 | 137) if tools.timeout.is_some() => Outcome::TimedOut,
        _ if wall >= timeout as f64 && tools.timeout.is_some() => Outcome::TimedOut,
        c => Outcome::Failed(c),
    };
    Run {
        wall,
        user,
        sys,
        rss_kib,
        outcome,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

// ---------------------------------------------------------------------------------------------
// End to end.

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    Fresh,
    Regenerate,
    Check,
    /// `helm template` of the peers' chart on the same tenants (`bench-peers/helm/run.sh`),
    /// run alternately with `regenerate` when `TRUSTC_BENCH_PEERS` is set.
    Helm,
}

impl Mode {
    fn label(self) -> &'static str {
        match self {
            Mode::Fresh => "generate, fresh dir",
            Mode::Regenerate => "generate, unchanged tree",
            Mode::Check => "generate --check, unchanged",
            Mode::Helm => "peer: helm template (bench-peers)",
        }
    }
}

struct Row {
    n: usize,
    mode: Option<Mode>,
    runs: Vec<Run>,
    /// Why the cell has no (or incomplete) figures.
    note: Option<String>,
    counts: Option<Counts>,
}

impl Row {
    fn skipped(n: usize, note: String) -> Self {
        Row {
            n,
            mode: None,
            runs: Vec::new(),
            note: Some(note),
            counts: None,
        }
    }
    fn ok_runs(&self) -> Vec<&Run> {
        self.runs
            .iter()
            .filter(|r| r.outcome == Outcome::Ok)
            .collect()
    }
    fn median_wall(&self) -> Option<f64> {
        median(self.ok_runs().iter().map(|r| r.wall).collect())
    }
    fn max_rss_kib(&self) -> Option<u64> {
        self.runs.iter().filter_map(|r| r.rss_kib).max()
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct Counts {
    files: usize,
    yaml_files: usize,
    docs: usize,
    bytes: u64,
}

/// Counts the files of an output tree, its YAML documents (`---` separators + 1 per YAML
/// file that holds any non-comment line) and its bytes.
fn count_tree(root: &Path) -> Counts {
    let mut c = Counts::default();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() {
                stack.push(p);
                continue;
            }
            c.files += 1;
            let Ok(bytes) = std::fs::read(&p) else {
                continue;
            };
            c.bytes += bytes.len() as u64;
            if p.extension().is_some_and(|x| x == "yaml") {
                c.yaml_files += 1;
                let text = String::from_utf8_lossy(&bytes);
                let mut docs = 0;
                let mut content = false;
                for line in text.lines() {
                    if line == "---" {
                        if content {
                            docs += 1;
                        }
                        content = false;
                    } else if !line.trim().is_empty() && !line.trim_start().starts_with('#') {
                        content = true;
                    }
                }
                if content {
                    docs += 1;
                }
                c.docs += docs;
            }
        }
    }
    c
}

/// Times fresh, regenerate and check for one N. Returns the rows and whether a run timed out.
fn end_to_end(cfg: &Config, tools: &Tools, bin: &Path, n: usize, spec: &Path) -> (Vec<Row>, bool) {
    let spec_s = spec.display().to_string();
    let base = cfg.dir.join(format!("out-{n}"));
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(&base).expect("create output base");
    let gen_args = |out: &str, check: bool| -> Vec<String> {
        let mut a = vec![
            "generate".to_string(),
            "--spec".into(),
            spec_s.clone(),
            "--out".into(),
            out.to_string(),
        ];
        if check {
            a.push("--check".into());
        }
        a
    };
    let go = |out: &Path, check: bool| -> Run {
        let out_s = out.display().to_string();
        let a = gen_args(&out_s, check);
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        let r = run_child(
            tools,
            cfg.timeout,
            bin,
            &refs,
            &[("TRUSTC_NOW", "1767225600")],
        );
        if let Outcome::Failed(c) = &r.outcome {
            eprintln!(
                "bench: N={n}: trustc failed (exit {c:?}):\n{}{}",
                r.stdout, r.stderr
            );
        }
        r
    };
    let progress = |what: &str, r: &Run| {
        eprintln!(
            "bench: N={n}: {what}: {:.3} s, peak {} ({:?})",
            r.wall,
            r.rss_kib
                .map_or("n/a".into(), |k| format!("{:.0} MiB", k as f64 / 1024.0)),
            r.outcome
        );
    };

    // The warm-up fresh run leaves the tree that `regenerate` and `check` run over.
    let tree = base.join("tree");
    let warm = go(&tree, false);
    progress("fresh (warm-up)", &warm);
    if warm.outcome != Outcome::Ok {
        let note = match warm.outcome {
            Outcome::TimedOut => format!(
                "killed after {} s (timeout) in the warm-up fresh run",
                cfg.timeout
            ),
            _ => "trustc failed".to_string(),
        };
        let timed_out = warm.outcome == Outcome::TimedOut;
        let row = Row {
            n,
            mode: Some(Mode::Fresh),
            runs: vec![warm],
            note: Some(note),
            counts: None,
        };
        return (vec![row], timed_out);
    }
    let counts = count_tree(&tree);

    let mut fresh = Row {
        n,
        mode: Some(Mode::Fresh),
        runs: Vec::new(),
        note: None,
        counts: Some(counts),
    };
    let mut timed_out = false;
    for k in 0..cfg.runs {
        let dir = base.join(format!("fresh-{k}"));
        let r = go(&dir, false);
        progress("fresh", &r);
        let _ = std::fs::remove_dir_all(&dir);
        let stop = r.outcome != Outcome::Ok;
        timed_out |= r.outcome == Outcome::TimedOut;
        fresh.runs.push(r);
        if stop {
            fresh.note = Some("a run failed or was killed; later runs skipped".into());
            break;
        }
    }

    let mut regen = Row {
        n,
        mode: Some(Mode::Regenerate),
        runs: Vec::new(),
        note: None,
        counts: Some(counts),
    };
    let mut check = Row {
        n,
        mode: Some(Mode::Check),
        runs: Vec::new(),
        note: None,
        counts: Some(counts),
    };
    let mut helm_row = Row {
        n,
        mode: Some(Mode::Helm),
        runs: Vec::new(),
        note: None,
        counts: None,
    };
    // `helm/run.sh N E OUTDIR`: the peers' own input (`gen_data.py`, the same tenants), one
    // output stream; the tools from `bench-peers/setup.sh` (`PEERS_TOOLS`).
    let helm = |peers: &Path, n: usize, base: &Path| -> Run {
        let out = base.join("helm");
        std::fs::create_dir_all(&out).expect("create the helm output dir");
        let data = cfg.dir.join("peers-data");
        let script = peers.join("helm/run.sh");
        let args = [
            script.display().to_string(),
            n.to_string(),
            "3".into(),
            out.display().to_string(),
        ];
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        run_child(
            tools,
            cfg.timeout,
            Path::new("bash"),
            &refs,
            &[("PEERS_DATA_DIR", &data.display().to_string())],
        )
    };
    if !timed_out {
        let w1 = go(&tree, false);
        progress("regenerate (warm-up)", &w1);
        let w2 = go(&tree, true);
        progress("check (warm-up)", &w2);
        if let Some(peers) = &cfg.peers {
            let w = helm(peers, n, &base);
            progress("helm (warm-up)", &w);
            if w.outcome != Outcome::Ok {
                helm_row.note = Some(format!("helm failed: {}", w.stderr.trim()));
            }
        }
        for _ in 0..cfg.runs {
            if let (Some(peers), None) = (&cfg.peers, &helm_row.note) {
                let r = helm(peers, n, &base);
                progress("helm", &r);
                helm_row.runs.push(r);
            }
            for (row, is_check) in [(&mut regen, false), (&mut check, true)] {
                if row.note.is_some() {
                    continue;
                }
                let r = go(&tree, is_check);
                progress(if is_check { "check" } else { "regenerate" }, &r);
                if !is_check && r.outcome == Outcome::Ok && !r.stderr.contains("(0 written") {
                    row.note = Some(format!(
                        "over an unchanged tree trustc wrote files: {}",
                        r.stderr.trim()
                    ));
                }
                if r.outcome != Outcome::Ok {
                    timed_out |= r.outcome == Outcome::TimedOut;
                    row.note = Some("a run failed or was killed; later runs skipped".into());
                }
                row.runs.push(r);
            }
        }
    } else {
        regen.note = Some("skipped: fresh run exceeded the timeout".into());
        check.note = Some("skipped: fresh run exceeded the timeout".into());
    }
    let _ = std::fs::remove_dir_all(&base);
    let mut rows = vec![fresh, regen, check];
    if cfg.peers.is_some() {
        rows.push(helm_row);
    }
    (rows, timed_out)
}

fn median(mut xs: Vec<f64>) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    xs.sort_by(f64::total_cmp);
    let m = xs.len() / 2;
    Some(if xs.len() % 2 == 1 {
        xs[m]
    } else {
        (xs[m - 1] + xs[m]) / 2.0
    })
}

fn fmt_opt(x: Option<f64>, prec: usize) -> String {
    x.map_or("n/a".into(), |v| format!("{v:.prec$}"))
}

fn thousands(x: u64) -> String {
    let s = x.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

fn print_table(rows: &[Row]) {
    println!("\n### End to end (child process per run; wall = median of the timed runs)\n");
    println!(
        "| N | tenant-envs | mode | wall s median (min-max) | user s | sys s | peak MiB | files | YAML docs | bytes | docs/s | note |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        let ok = r.ok_runs();
        let walls: Vec<f64> = ok.iter().map(|x| x.wall).collect();
        let wall = match median(walls.clone()) {
            Some(m) => format!(
                "**{m:.3}** ({:.3}-{:.3}, n={})",
                walls.iter().copied().fold(f64::INFINITY, f64::min),
                walls.iter().copied().fold(0.0, f64::max),
                walls.len()
            ),
            None => match r.runs.iter().find(|x| x.outcome == Outcome::TimedOut) {
                Some(x) => format!("> {:.0} (killed)", x.wall),
                None => "n/a".into(),
            },
        };
        let user = median(ok.iter().filter_map(|x| x.user).collect());
        let sys = median(ok.iter().filter_map(|x| x.sys).collect());
        let killed = ok.is_empty() && r.runs.iter().any(|x| x.outcome == Outcome::TimedOut);
        let rss = r
            .max_rss_kib()
            .map(|k| {
                format!(
                    "{}{:.0}",
                    if killed { ">= " } else { "" },
                    k as f64 / 1024.0
                )
            })
            .unwrap_or("n/a".into());
        let (files, docs, bytes) = match r.counts {
            Some(c) => (
                thousands(c.files as u64),
                thousands(c.docs as u64),
                thousands(c.bytes),
            ),
            None => ("".into(), "".into(), "".into()),
        };
        let dps = match (r.counts, r.median_wall()) {
            (Some(c), Some(w)) if w > 0.0 => format!("{:.0}", c.docs as f64 / w),
            _ => "".into(),
        };
        println!(
            "| {} | {} | {} | {wall} | {} | {} | {rss} | {files} | {docs} | {bytes} | {dps} | {} |",
            r.n,
            r.n * 3,
            r.mode.map_or("-", Mode::label),
            fmt_opt(user, 3),
            fmt_opt(sys, 3),
            r.note.as_deref().unwrap_or("")
        );
    }
}

fn print_verdicts(cfg: &Config, rows: &[Row]) {
    println!("\n### Targets (issue 11: over an existing tree, 3 environments)\n");
    let find = |n: usize, m: Mode| rows.iter().find(|r| r.n == n && r.mode == Some(m));
    let verdict = |b: bool| if b { "met" } else { "NOT met" };
    let regen = |n: usize| find(n, Mode::Regenerate).and_then(Row::median_wall);
    match regen(100) {
        Some(w) => println!("- N=100 under 0.15 s wall: {w:.3} s: {}", verdict(w < 0.15)),
        None => println!("- N=100 under 0.15 s wall: not measured"),
    }
    match (find(1000, Mode::Regenerate), find(1000, Mode::Helm)) {
        (Some(t), Some(h)) if !t.runs.is_empty() && !h.runs.is_empty() => {
            // Paired run by run: round k of helm against round k of trustc.
            let pairs: Vec<f64> = t
                .runs
                .iter()
                .zip(&h.runs)
                .filter(|(a, b)| a.outcome == Outcome::Ok && b.outcome == Outcome::Ok)
                .map(|(a, b)| a.wall / b.wall)
                .collect();
            let ratio = median(pairs.clone()).unwrap_or(f64::NAN);
            println!(
                "- N=1000 trustc <= 0.2 x helm (stretch 0.05): paired ratios {} (median {ratio:.2}): {}{}",
                pairs
                    .iter()
                    .map(|r| format!("{r:.2}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                verdict(ratio <= 0.2),
                if ratio <= 0.05 { ", stretch met" } else { "" }
            );
        }
        _ => println!(
            "- N=1000 trustc <= 0.2 x helm: not measured: {}",
            match (cfg.peers.is_none(), cfg.ns.contains(&1000)) {
                (true, true) =>
                    "TRUSTC_BENCH_PEERS is not set (set it to ../shared/bench-peers after its setup.sh; helm comes from PEERS_TOOLS)",
                (true, false) =>
                    "TRUSTC_BENCH_PEERS is not set (../shared/bench-peers after its setup.sh) and 1000 is not in TRUSTC_BENCH_N",
                (false, false) => "1000 is not in TRUSTC_BENCH_N",
                (false, true) => "a run failed (see the table)",
            }
        ),
    }
    match (regen(1000), find(5000, Mode::Regenerate)) {
        (Some(w1), Some(r)) => match r.median_wall() {
            Some(w5) => {
                println!(
                    "- N=5000 <= 5.5 x N=1000: {w5:.3} s / {w1:.3} s = {:.2}: {}",
                    w5 / w1,
                    verdict(w5 <= 5.5 * w1)
                );
                match r.max_rss_kib() {
                    Some(k) => {
                        let mb = k as f64 * 1024.0 / 1e6;
                        println!(
                            "- N=5000 peak RSS <= 500 MB: {mb:.0} MB: {}",
                            verdict(mb <= 500.0)
                        );
                    }
                    None => println!("- N=5000 peak RSS <= 500 MB: n/a (no /usr/bin/time)"),
                }
            }
            None => println!(
                "- N=5000: no figure ({})",
                r.note.as_deref().unwrap_or("not run")
            ),
        },
        _ => println!(
            "- N=5000 <= 5.5 x N=1000, peak <= 500 MB: not measured (needs 1000 and 5000 in TRUSTC_BENCH_N)"
        ),
    }
    // Linearity between consecutive measured N: fresh (file-system bound, noisy) and over the
    // unchanged tree (compute bound).
    for mode in [Mode::Fresh, Mode::Regenerate] {
        let measured: Vec<(usize, f64)> = cfg
            .ns
            .iter()
            .filter_map(|&n| find(n, mode).and_then(Row::median_wall).map(|w| (n, w)))
            .collect();
        for pair in measured.windows(2) {
            let ((n1, w1), (n2, w2)) = (pair[0], pair[1]);
            let nr = n2 as f64 / n1 as f64;
            let wr = w2 / w1;
            println!(
                "- time linear in N ({}): N {n1} -> {n2} (x{nr:.0}): wall x{wr:.1} (exponent {:.2}; 1.0 is linear)",
                mode.label(),
                wr.ln() / nr.ln()
            );
        }
    }
    for &n in &cfg.ns {
        if let (Some(g), Some(c)) = (
            find(n, Mode::Regenerate).and_then(Row::median_wall),
            find(n, Mode::Check).and_then(Row::median_wall),
        ) {
            println!(
                "- N={n}: `--check` ({c:.3} s) no slower than `generate` over the same tree ({g:.3} s): {} (ratio {:.2}{})",
                verdict(c <= g * 1.05),
                c / g,
                if cfg.runs < 3 {
                    format!("; {} run(s) each: within noise below 3", cfg.runs)
                } else {
                    String::new()
                }
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// In-process stages (run in a child copy of this benchmark).

fn run_stages(cfg: &Config, tools: &Tools, spec: &Path) -> String {
    let me = std::env::current_exe().expect("current exe");
    let spec_s = spec.display().to_string();
    let r = run_child(
        tools,
        cfg.timeout,
        &me,
        &[],
        &[(STAGES_ENV, spec_s.as_str()), ("TRUSTC_NOW", "1767225600")],
    );
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| stage | wall s | user s | sys s | peak MiB | note |\n|---|---|---|---|---|---|"
    );
    out.push_str(&r.stdout);
    match r.outcome {
        Outcome::Ok => {}
        Outcome::TimedOut => {
            let done = r.stdout.lines().filter(|l| l.starts_with("| ")).count();
            let _ = writeln!(
                out,
                "| {} | (killed) | the child was stopped after {:.0} s (timeout) |",
                STAGE_NAMES.get(done).unwrap_or(&"?"),
                r.wall
            );
        }
        Outcome::Failed(c) => {
            let _ = writeln!(
                out,
                "| (failed) | | exit {c:?}: {} |",
                r.stderr.trim().replace('\n', " ")
            );
        }
    }
    let _ = writeln!(
        out,
        "\nstages child: {:.3} s wall as a process (with start-up, teardown and removing its output tree), peak RSS {} MiB",
        r.wall,
        r.rss_kib
            .map_or("n/a".into(), |k| format!("{:.0}", k as f64 / 1024.0))
    );
    out
}

/// (user, sys) CPU seconds of this process so far, from `/proc/self/stat` (0 elsewhere).
fn cpu_now() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces): utime and stime are the 12th
    // and 13th, in clock ticks (USER_HZ, 100 on Linux).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    let tick = |i: usize| f.get(i).copied().unwrap_or(0.0) / 100.0;
    (tick(11), tick(12))
}

/// Peak RSS of this process since the last [`reset_peak`], in MiB (`VmHWM`).
fn peak_mib() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or("n/a".into(), |k| format!("{:.0}", k as f64 / 1024.0))
}

/// Resets the peak RSS to the current RSS (Linux: `5` into `/proc/self/clear_refs`), so that
/// each stage's row shows the peak during that stage.
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// A refused output ends the stages child, with the stage's first diagnostic as its row.
fn refused(stage: usize, t: Instant, first: String, count: usize) -> ! {
    let first = first.replace(['\n', '|'], " ");
    println!(
        "| {} | (refused after {:.3}) | {count} error(s); first: {first} |",
        STAGE_NAMES[stage],
        t.elapsed().as_secs_f64()
    );
    std::process::exit(1)
}

/// The child: times each library stage of `trustc generate` and prints one table row per stage
/// as soon as it is done (so a killed child still reports the stages it finished).
fn stages(spec: &Path) {
    use trustc::diag::{Sink, SourceMap};
    let cpu = std::cell::Cell::new((0.0, 0.0));
    let row = |name: &str, t: Duration, note: &str| {
        let (user, sys) = cpu_now();
        let (u0, s0) = cpu.replace((user, sys));
        println!(
            "| {name} | {:.3} | {:.2} | {:.2} | {} | {note} |",
            t.as_secs_f64(),
            user - u0,
            sys - s0,
            peak_mib()
        );
        let _ = std::io::stdout().flush();
        reset_peak();
    };
    let now = std::env::var("TRUSTC_NOW")
        .ok()
        .and_then(|v| v.parse().ok());
    let ctx = match now {
        Some(now) => trustc::check::Context { now },
        None => trustc::check::Context::system(),
    };
    let total = Instant::now();
    let start_cpu = cpu_now();
    cpu.set(start_cpu);
    reset_peak();

    // What `generate` runs (`cli::compile`), timed first, as one stage: the rows after it
    // split the same work into the library's stages, over the whole output at once.
    let t = Instant::now();
    {
        let mut map = SourceMap::new();
        let mut sink = Sink::new();
        let valid = trustc::cli::load_and_check(spec, &ctx, &mut map, &mut sink)
            .expect("read spec")
            .expect("valid spec");
        let templates = trustc::render::TemplateSet::embedded();
        let tree = trustc::cli::compile(&valid, &spec.display().to_string(), &templates)
            .unwrap_or_else(|_| refused(0, t, "compile refused".into(), 1));
        row(
            STAGE_NAMES[0],
            t.elapsed(),
            &format!("{} files", tree.files.len()),
        );
    }

    let t = Instant::now();
    let mut map = SourceMap::new();
    let mut sink = Sink::new();
    let valid = trustc::cli::load_and_check(spec, &ctx, &mut map, &mut sink).expect("read spec");
    let valid = match valid {
        Some(v) if !sink.has_errors() => v,
        _ => {
            eprintln!("spec refused");
            std::process::exit(1);
        }
    };
    row(
        STAGE_NAMES[1],
        t.elapsed(),
        &format!("{} tenants", valid.spec.tenants.len()),
    );

    let spec_path = spec.display().to_string();
    let t = Instant::now();
    let policy = trustc::model::resolve(&valid, &spec_path);
    row(STAGE_NAMES[2], t.elapsed(), "");

    let diags = |d: Vec<trustc::diag::Diagnostic>| {
        let first = d.first().map(|x| x.message.clone()).unwrap_or_default();
        (first, d.len())
    };
    let render_errs = |e: Vec<trustc::render::RenderError>| {
        let first = e
            .first()
            .map(|x| format!("{}: {}", x.path, x.message))
            .unwrap_or_default();
        (first, e.len())
    };
    let templates = trustc::render::TemplateSet::embedded();
    let t = Instant::now();
    let rendered = trustc::render::render(&policy, &templates).unwrap_or_else(|e| {
        let (first, n) = render_errs(e);
        refused(3, t, first, n)
    });
    row(
        STAGE_NAMES[3],
        t.elapsed(),
        &format!("{} files", rendered.len()),
    );

    let t = Instant::now();
    let verified = trustc::verify::verify_owned(rendered).unwrap_or_else(|d| {
        let (first, n) = diags(d);
        refused(4, t, first, n)
    });
    // Each file's rendered text is freed as soon as it is parsed.
    let docs: usize = verified.iter().map(|m| m.docs.len()).sum();
    row(STAGE_NAMES[4], t.elapsed(), &format!("{docs} documents"));

    let t = Instant::now();
    let paths: Vec<String> = verified.iter().map(|m| m.path.clone()).collect();
    let kust = trustc::render::kustomizations(&paths, &templates).unwrap_or_else(|e| {
        let (first, n) = render_errs(e);
        refused(5, t, first, n)
    });
    let kust = trustc::verify::verify_owned(kust).unwrap_or_else(|d| {
        let (first, n) = diags(d);
        refused(5, t, first, n)
    });
    row(
        STAGE_NAMES[5],
        t.elapsed(),
        &format!("{} files", kust.len()),
    );

    let t = Instant::now();
    let all: Vec<&trustc::verify::Manifest> = verified.iter().chain(kust.iter()).collect();
    let broken = trustc::verify::invariants::check(&policy, &all, None);
    if !broken.is_empty() {
        let (first, n) = diags(broken);
        refused(6, t, first, n);
    }
    drop(all);
    row(STAGE_NAMES[6], t.elapsed(), "");

    let t = Instant::now();
    let header = trustc::write::header(&spec_path);
    let mut tree = trustc::write::Tree::default();
    for m in verified.into_iter().chain(kust) {
        let mut bytes = header.clone().into_bytes();
        bytes.extend_from_slice(m.yaml.as_bytes());
        tree.files.insert(m.path, bytes);
    }
    let tree = tree.with_manifest();
    let bytes: usize = tree.files.values().map(Vec::len).sum();
    row(
        STAGE_NAMES[7],
        t.elapsed(),
        &format!("{} files, {bytes} bytes", tree.files.len()),
    );

    let out = spec.parent().expect("spec dir").join("stages-out");
    let _ = std::fs::remove_dir_all(&out);
    let t = Instant::now();
    let s = trustc::write::write(&tree, &out).expect("write");
    row(
        STAGE_NAMES[8],
        t.elapsed(),
        &format!("{} written", s.written),
    );
    let t = Instant::now();
    let s = trustc::write::write(&tree, &out).expect("write");
    row(
        STAGE_NAMES[9],
        t.elapsed(),
        &format!("{} unchanged", s.unchanged),
    );
    let t = Instant::now();
    let d = trustc::write::drift(&tree, &out).expect("drift");
    row(STAGE_NAMES[10], t.elapsed(), &format!("{} differ", d.len()));
    let (user, sys) = cpu_now();
    println!(
        "| {} | {:.3} | {:.2} | {:.2} | | |",
        STAGE_NAMES[11],
        total.elapsed().as_secs_f64(),
        user - start_cpu.0,
        sys - start_cpu.1
    );
    let _ = std::fs::remove_dir_all(&out);
}

fn print_machine(cfg: &Config, tools: &Tools) {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let cpu = read("/proc/cpuinfo")
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "?".into());
    let mem = read("/proc/meminfo")
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:").map(|v| v.trim().to_string()))
        .unwrap_or_else(|| "?".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    // The file system of the scratch directory: the longest mount point that prefixes it.
    let dir = std::fs::canonicalize(&cfg.dir).unwrap_or_else(|_| cfg.dir.clone());
    let fs = read("/proc/mounts")
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() > 2 && dir.starts_with(f[1]))
                .then(|| (f[1].len(), format!("{} on {}", f[2], f[1])))
        })
        .max()
        .map_or("?".into(), |(_, s)| s);
    println!("## trustc generate benchmark\n");
    println!(
        "- machine: {cores} cores ({cpu}), {mem} RAM, Linux {}",
        read("/proc/sys/kernel/osrelease").trim()
    );
    println!("- scratch dir: {} ({fs})", cfg.dir.display());
    println!(
        "- binary: {} (copied from {})",
        cfg.dir.join("trustc").display(),
        cfg.bin.display()
    );
    println!(
        "- N: {:?} tenants x 3 environments; {} timed run(s) per cell; timeout {} s per run",
        cfg.ns, cfg.runs, cfg.timeout
    );
    println!(
        "- /usr/bin/time: {}; timeout: {}",
        tools
            .time
            .as_ref()
            .map_or("missing (user/sys/peak: n/a)".into(), |p| p
                .display()
                .to_string()),
        tools
            .timeout
            .as_ref()
            .map_or("missing (no run is killed)".into(), |p| p
                .display()
                .to_string())
    );
}
