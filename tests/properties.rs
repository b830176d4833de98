//! Properties of GENERATED, VALID trust models (1–6 tenants, namespaces, environments,
//! signers, registries, kinds, images, admission engines, hostile free text):
//!
//! 1. the spec passes the front end and compiles (render, schema, every invariant of
//!    `verify::invariants`);
//! 2. every file parses back, and the access analysis shows each tenant's reconciler holding
//!    exactly its allowed kinds, in its own namespaces, with no wildcard and nothing
//!    cluster-scoped; no tenant may create ClusterRoleBindings;
//! 3. the order of the tables (and of unordered lists) does not change a byte;
//! 4. compiling twice gives the same bytes;
//! 5. hostile free text arrives unchanged and adds no document;
//! 6. no tenant pulls the platform's or another tenant's deploy key;
//! 7. free text of any characters is refused by `check` or compiles: never accepted by
//!    `check` and then refused by `generate`.
//!
//! Plus a 200-tenant smoke test for scale. The generator builds a small model of a spec
//! ([`Spec`]) and prints it as TOML ([`Spec::to_toml`]), so a failure shrinks to a readable
//! spec (printed with the failure). `PROPTEST_CASES=N` runs more than the default 24 cases.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use proptest::sample::{Index, select, subsequence};
use serde_json::Value;

use trustc::access::{Manifests, Subject};
use trustc::check::Context;
use trustc::diag::{Sink, SourceMap};
use trustc::render::TemplateSet;
use trustc::write::Tree;

use crate::support::{TEST_NOW, root};

// ---------------------------------------------------------------------------------------------
// Pools
// ---------------------------------------------------------------------------------------------

/// Environments: (name, branch, production).
const ENVS: [(&str, &str, bool); 3] = [
    ("staging", "staging", false),
    ("production", "main", true),
    ("dev", "dev", false),
];

const SIGNERS: [&str; 2] = ["alice", "bob"];

const ENGINES: [&str; 3] = ["kyverno", "kyverno-cel", "vap"];

/// Safe namespaced kinds: (spec spelling, RBAC group, RBAC resource).
const KINDS: [(&str, &str, &str); 10] = [
    ("apps/Deployment", "apps", "deployments"),
    ("apps/StatefulSet", "apps", "statefulsets"),
    ("Service", "", "services"),
    ("ConfigMap", "", "configmaps"),
    ("batch/Job", "batch", "jobs"),
    ("batch/CronJob", "batch", "cronjobs"),
    (
        "autoscaling/HorizontalPodAutoscaler",
        "autoscaling",
        "horizontalpodautoscalers",
    ),
    (
        "networking.k8s.io/Ingress",
        "networking.k8s.io",
        "ingresses",
    ),
    (
        "policy/PodDisruptionBudget",
        "policy",
        "poddisruptionbudgets",
    ),
    (
        "helm.toolkit.fluxcd.io/HelmRelease",
        "helm.toolkit.fluxcd.io",
        "helmreleases",
    ),
];
const SECRET: (&str, &str, &str) = ("Secret", "", "secrets");
const NETWORK_POLICY: (&str, &str, &str) = (
    "networking.k8s.io/NetworkPolicy",
    "networking.k8s.io",
    "networkpolicies",
);

/// DNS labels that YAML 1.1 or 1.2 would read as something other than a string.
const YAML_LOOKALIKE_LABELS: &[&str] = &[
    "on", "off", "yes", "no", "y", "n", "true", "false", "null", "0755", "0o17", "0x1f", "1e3",
    "12345", "nan", "inf",
];

/// DNS-1123 subdomains (the store and the alert Secret are object names) that are not
/// strings to a YAML reader.
const YAML_LOOKALIKE_NAMES: &[&str] = &[
    "on",
    "off",
    "yes",
    "no",
    "y",
    "n",
    "true",
    "false",
    "null",
    "0755",
    "0o17",
    "0x1f",
    "1e3",
    "1.0",
    "12345",
    "2001-12-14",
    "nan",
    "inf",
    "vault-backend",
];

/// Pieces of hostile free text: YAML indicators, comments, document markers, template
/// syntax, YAML 1.1 scalars, escapes, unicode.
const HOSTILE: &[&str] = &[
    "\"",
    "'",
    ": ",
    " #",
    "#",
    "\n",
    "\n\n",
    "{{ x }}",
    "{{",
    "}}",
    "{%",
    "on",
    "yes",
    "0755",
    "null",
    "~",
    "é",
    "日本語",
    "🔑",
    "\t",
    "---",
    "...",
    "&a",
    "*a",
    "!!str",
    "%YAML 1.1",
    "- ",
    "? ",
    "|",
    ">",
    "\\",
    "[",
    "]",
    ",",
    "@",
    "`",
    " ",
    "kind: ClusterRoleBinding",
];

/// Anchored tag patterns, with the `extract` that goes with them.
const TAG_PATTERNS: [(&str, Option<&str>); 4] = [
    (r"^v[0-9]+\.[0-9]+\.[0-9]+$", None),
    (r"^[0-9]+\.[0-9]+\.[0-9]+$", None),
    (r"^v(?P<version>[0-9]+\.[0-9]+\.[0-9]+)$", Some("$version")),
    (r"^release-(?P<v>[0-9.]+)-(?P<sha>[a-f0-9]+)$", Some("${v}")),
];

const IMAGE_NAMES: &[&str] = &["api", "web", "worker", "on", "0755", "cron-job"];

// ---------------------------------------------------------------------------------------------
// The model of a spec
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
struct Image {
    name: String,
    /// Index into the spec's registries.
    registry: usize,
    pattern: usize,
}

#[derive(Clone, Debug)]
struct Tenant {
    name: String,
    /// The first is the home namespace.
    namespaces: Vec<String>,
    /// Indices into [`ENVS`].
    envs: Vec<usize>,
    signers: Vec<&'static str>,
    /// Indices into the spec's registries.
    registries: Vec<usize>,
    /// Indices into [`KINDS`].
    kinds: Vec<usize>,
    secrets: bool,
    network_policies: bool,
    images: Vec<Image>,
    /// `./clusters/{env}/<name>` written out instead of with `{tenant}`.
    literal_path: bool,
}

#[derive(Clone, Debug)]
struct Spec {
    engine: &'static str,
    known_hosts: String,
    channel: String,
    store: String,
    alert_secret: String,
    /// Written after `flux/{tenant}/`.
    key_suffix: String,
    prometheus: bool,
    /// Defined signers (alice always: the platform uses her).
    signers: Vec<&'static str>,
    registries: usize,
    /// Indices into [`ENVS`], in pool order.
    envs: Vec<usize>,
    tenants: Vec<Tenant>,
}

/// The order the tables are written in: a permutation of each.
#[derive(Clone, Debug)]
struct Order {
    signers: Vec<usize>,
    registries: Vec<usize>,
    envs: Vec<usize>,
    tenants: Vec<usize>,
    /// Shuffle the lists inside each tenant whose order means nothing (environments,
    /// signers, registries, allowed_kinds) with this seed. Namespaces stay: the first is
    /// the home namespace.
    lists: Option<u64>,
}

/// A TOML basic string.
fn q(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn q_list<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> String {
    let items: Vec<String> = items.into_iter().map(|s| q(s.as_ref())).collect();
    format!("[{}]", items.join(", "))
}

fn registry_name(i: usize) -> String {
    format!("reg-{i}")
}

fn registry_host(i: usize) -> String {
    if i == 2 {
        "registry-2.example.com:5000".to_string()
    } else {
        format!("registry-{i}.example.com")
    }
}

impl Tenant {
    /// (group, resource) of every kind the tenant may deploy.
    fn resources(&self) -> BTreeSet<(String, String)> {
        self.kinds()
            .map(|(_, g, r)| (g.to_string(), r.to_string()))
            .collect()
    }

    fn kinds(&self) -> impl Iterator<Item = (&'static str, &'static str, &'static str)> + '_ {
        self.kinds
            .iter()
            .map(|&k| KINDS[k])
            .chain(self.secrets.then_some(SECRET))
            .chain(self.network_policies.then_some(NETWORK_POLICY))
    }

    fn service_account(&self) -> Subject {
        Subject::service_account(&self.namespaces[0], &format!("{}-reconciler", self.name))
    }
}

impl Spec {
    fn identity_order(&self) -> Order {
        Order {
            signers: (0..self.signers.len()).collect(),
            registries: (0..self.registries).collect(),
            envs: (0..self.envs.len()).collect(),
            tenants: (0..self.tenants.len()).collect(),
            lists: None,
        }
    }

    /// The same tables, shuffled with `seed`.
    fn shuffled_order(&self, seed: u64) -> Order {
        let mut rng = seed;
        let mut o = self.identity_order();
        shuffle(&mut o.signers, &mut rng);
        shuffle(&mut o.registries, &mut rng);
        shuffle(&mut o.envs, &mut rng);
        shuffle(&mut o.tenants, &mut rng);
        o.lists = Some(rng);
        o
    }

    fn deploy_key_path(&self) -> String {
        format!("flux/{{tenant}}/{}", self.key_suffix)
    }

    /// The tenants deployed to environment `ENVS[env]`.
    fn tenants_in(&self, env: usize) -> impl Iterator<Item = &Tenant> {
        self.tenants.iter().filter(move |t| t.envs.contains(&env))
    }

    /// The same spec with every hostile string replaced by a plain one.
    fn benign(&self) -> Spec {
        Spec {
            known_hosts: "github.com ssh-ed25519 AAAA".into(),
            channel: "alerts".into(),
            store: "vault".into(),
            alert_secret: "webhook".into(),
            key_suffix: "deploy-key".into(),
            ..self.clone()
        }
    }

    fn to_toml(&self, order: &Order) -> String {
        use std::fmt::Write as _;
        let mut s = String::new();
        let w = &mut s;
        let _ = writeln!(w, "version = 1\n");
        let _ = writeln!(w, "[flux]\napi_server_cidrs = [\"10.96.0.1/32\"]\n");
        let _ = writeln!(w, "[admission]\nengine = {}\n", q(self.engine));
        let _ = writeln!(w, "[git]\nknown_hosts = {}\n", q(&self.known_hosts));
        let _ = writeln!(
            w,
            "[secrets]\nstore = {}\ndeploy_key_path = {}\n",
            q(&self.store),
            q(&self.deploy_key_path())
        );
        let _ = writeln!(
            w,
            "[alerts]\nprometheus = {}\nprovider = \"slack\"\nchannel = {}\nsecret = {}\n",
            self.prometheus,
            q(&self.channel),
            q(&self.alert_secret)
        );
        for &i in &order.signers {
            let name = self.signers[i];
            let _ = writeln!(
                w,
                "[signers.{name}]\nemail = \"{name}@example.com\"\nkey = \"keys/{name}.asc\"\n"
            );
        }
        for &i in &order.registries {
            let _ = writeln!(
                w,
                "[registries.{}]\nhost = {}\ncosign_key = \"keys/cosign.pub\"\n",
                q(&registry_name(i)),
                q(&registry_host(i))
            );
        }
        for &i in &order.envs {
            let (name, branch, production) = ENVS[self.envs[i]];
            let _ = writeln!(w, "[environments.{name}]\nbranch = {}", q(branch));
            if production {
                let _ = writeln!(w, "production = true");
            }
            let _ = writeln!(w);
        }
        let _ = writeln!(
            w,
            "[platform]\nrepository = \"ssh://git@github.com/example/platform-config.git\"\n\
             path = \"./clusters/{{env}}/platform\"\nsigners = [\"alice\"]\n\
             cluster_kinds = [\"rbac.authorization.k8s.io/ClusterRole\", \
             \"rbac.authorization.k8s.io/ClusterRoleBinding\", \"Namespace\"]\n"
        );
        for &i in &order.tenants {
            let mut t = self.tenants[i].clone();
            if let Some(seed) = order.lists {
                let mut rng = seed ^ i as u64;
                t.envs = permuted(&t.envs, &mut rng);
                t.signers = permuted(&t.signers, &mut rng);
                t.registries = permuted(&t.registries, &mut rng);
                t.kinds = permuted(&t.kinds, &mut rng);
            }
            let t = &t;
            let _ = writeln!(w, "[tenants.{}]", q(&t.name));
            let _ = writeln!(w, "namespaces = {}", q_list(&t.namespaces));
            let _ = writeln!(
                w,
                "repository = {}",
                q(&format!("ssh://git@github.com/example/{}.git", t.name))
            );
            let path = if t.literal_path {
                format!("./clusters/{{env}}/{}", t.name)
            } else {
                "./clusters/{env}/{tenant}".to_string()
            };
            let _ = writeln!(w, "path = {}", q(&path));
            let _ = writeln!(
                w,
                "environments = {}",
                q_list(t.envs.iter().map(|&e| ENVS[e].0))
            );
            let _ = writeln!(w, "signers = {}", q_list(&t.signers));
            let _ = writeln!(
                w,
                "registries = {}",
                q_list(t.registries.iter().map(|&r| registry_name(r)))
            );
            let _ = writeln!(w, "allowed_kinds = {}", q_list(t.kinds().map(|k| k.0)));
            if t.secrets {
                let _ = writeln!(w, "allow_secrets = true");
            }
            if t.network_policies {
                let _ = writeln!(w, "allow_network_policies = true");
            }
            let _ = writeln!(w);
            for img in &t.images {
                let (pattern, extract) = TAG_PATTERNS[img.pattern];
                let _ = writeln!(w, "[[tenants.{}.images]]", q(&t.name));
                let _ = writeln!(w, "name = {}", q(&img.name));
                let _ = writeln!(
                    w,
                    "repository = {}",
                    q(&format!(
                        "{}/{}/{}",
                        registry_host(img.registry),
                        t.name,
                        img.name
                    ))
                );
                let _ = writeln!(w, "semver = \">=1.0.0 <2.0.0\"");
                let _ = writeln!(w, "tag_pattern = {}", q(pattern));
                if let Some(ex) = extract {
                    let _ = writeln!(w, "extract = {}", q(ex));
                }
                let _ = writeln!(w);
            }
        }
        s
    }
}

/// Fisher-Yates with splitmix64: the permutation depends on the seed alone.
fn shuffle(v: &mut [usize], state: &mut u64) {
    for i in (1..v.len()).rev() {
        *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        let j = usize::try_from(z % (i as u64 + 1)).expect("small");
        v.swap(i, j);
    }
}

/// `v` in the order of a shuffle of its indices.
fn permuted<T: Clone>(v: &[T], state: &mut u64) -> Vec<T> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    shuffle(&mut idx, state);
    idx.into_iter().map(|k| v[k].clone()).collect()
}

// ---------------------------------------------------------------------------------------------
// Strategies
// ---------------------------------------------------------------------------------------------

fn label() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-z][a-z0-9]{0,7}",
        2 => "[a-z0-9]{1,4}-[a-z0-9]{1,5}",
        2 => select(YAML_LOOKALIKE_LABELS).prop_map(String::from),
        // The platform's own name, as a namespace (`platform` is refused as a tenant
        // name, TC1042: it would receive the platform's deploy key).
        1 => Just("platform".to_string()),
    ]
}

/// A tenant name: any label but the reserved `platform`.
fn tenant_name() -> impl Strategy<Value = String> {
    label().prop_filter("`platform` is reserved (TC1042)", |l| l != "platform")
}

fn free_text() -> impl Strategy<Value = String> {
    let pieces = prop::collection::vec(select(HOSTILE), 1..6).prop_map(|p| p.concat());
    prop_oneof![
        pieces.clone(),
        pieces.prop_map(|p| format!("github.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5{p}")),
        select(YAML_LOOKALIKE_LABELS).prop_map(String::from),
    ]
}

/// Any text at all: arbitrary characters, hostile pieces, and the characters YAML may not
/// carry unescaped (C0 and C1 controls, DEL, U+FFFE/U+FFFF) or reads as line breaks.
fn any_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        any::<char>().prop_map(String::from),
        select(HOSTILE).prop_map(String::from),
        select(vec![
            "\u{0}",
            "\u{1b}",
            "\r",
            "\u{7f}",
            "\u{80}",
            "\u{85}",
            "\u{9f}",
            "\u{a0}",
            "\u{2028}",
            "\u{2029}",
            "\u{feff}",
            "\u{fffe}",
            "\u{ffff}",
            "\u{10ffff}",
            "",
        ])
        .prop_map(String::from),
    ];
    prop::collection::vec(piece, 0..6).prop_map(|p| p.concat())
}

fn key_suffix() -> impl Strategy<Value = String> {
    // No braces: `{…}` is a placeholder in `deploy_key_path`.
    let plain: Vec<&str> = HOSTILE
        .iter()
        .copied()
        .filter(|p| !p.contains(['{', '}']))
        .collect();
    prop::collection::vec(select(plain), 0..4).prop_map(|p| format!("deploy-key{}", p.concat()))
}

/// A tenant before names are made unique: env and registry choices are indices into the
/// spec's own lists.
#[derive(Clone, Debug)]
struct Draft {
    name: String,
    namespaces: Vec<String>,
    envs: Vec<Index>,
    signers: Vec<&'static str>,
    registries: Vec<Index>,
    kinds: Vec<usize>,
    secrets: bool,
    network_policies: bool,
    images: Vec<(Index, Index, usize)>,
    literal_path: bool,
}

fn draft() -> impl Strategy<Value = Draft> {
    (
        tenant_name(),
        prop::collection::vec(label(), 1..=3),
        prop::collection::vec(any::<Index>(), 1..=3),
        subsequence(SIGNERS.to_vec(), 1..=2),
        prop::collection::vec(any::<Index>(), 0..=3),
        subsequence((0..KINDS.len()).collect::<Vec<_>>(), 1..=KINDS.len()).prop_shuffle(),
        any::<bool>(),
        any::<bool>(),
        prop::collection::vec(
            (any::<Index>(), any::<Index>(), 0..TAG_PATTERNS.len()),
            0..=2,
        ),
        any::<bool>(),
    )
        .prop_map(
            |(
                name,
                namespaces,
                envs,
                signers,
                registries,
                kinds,
                secrets,
                network_policies,
                images,
                literal_path,
            )| Draft {
                name,
                namespaces,
                envs,
                signers,
                registries,
                kinds,
                secrets,
                network_policies,
                images,
                literal_path,
            },
        )
}

fn reserved(ns: &str) -> bool {
    matches!(ns, "default" | "flux-system" | "kyverno" | "monitoring") || ns.starts_with("kube-")
}

/// `candidate`, or a variant of it not in `used` (and not reserved).
fn unique(candidate: &str, used: &mut BTreeSet<String>, check_reserved: bool) -> String {
    let base = if check_reserved && reserved(candidate) {
        format!("x{candidate}")
    } else {
        candidate.to_string()
    };
    let mut name = base.clone();
    let mut k = 1;
    while used.contains(&name) {
        name = format!("{base}-{k}");
        k += 1;
    }
    used.insert(name.clone());
    name
}

fn dedup<T: PartialEq + Copy>(items: impl IntoIterator<Item = T>) -> Vec<T> {
    let mut out = Vec::new();
    for i in items {
        if !out.contains(&i) {
            out.push(i);
        }
    }
    out
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        subsequence(vec![0usize, 1, 2], 1..=3),
        1..=3usize,
        prop::collection::vec(draft(), 1..=6),
        select(ENGINES.to_vec()),
        free_text(),
        free_text(),
        select(YAML_LOOKALIKE_NAMES),
        select(YAML_LOOKALIKE_NAMES),
        key_suffix(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(
                envs,
                registries,
                drafts,
                engine,
                known_hosts,
                channel,
                store,
                alert_secret,
                key_suffix,
                prometheus,
                define_bob,
            )| {
                let mut tenant_names = BTreeSet::new();
                let mut namespaces = BTreeSet::new();
                let tenants: Vec<Tenant> = drafts
                    .into_iter()
                    .map(|d| {
                        let regs = dedup(d.registries.iter().map(|i| i.index(registries)));
                        let images = if regs.is_empty() {
                            Vec::new()
                        } else {
                            let mut names = BTreeSet::new();
                            d.images
                                .iter()
                                .map(|(name, reg, pattern)| Image {
                                    name: unique(
                                        IMAGE_NAMES[name.index(IMAGE_NAMES.len())],
                                        &mut names,
                                        false,
                                    ),
                                    registry: regs[reg.index(regs.len())],
                                    pattern: *pattern,
                                })
                                .collect()
                        };
                        Tenant {
                            name: unique(&d.name, &mut tenant_names, false),
                            namespaces: d
                                .namespaces
                                .iter()
                                .map(|n| unique(n, &mut namespaces, true))
                                .collect(),
                            envs: dedup(d.envs.iter().map(|i| envs[i.index(envs.len())])),
                            signers: d.signers,
                            registries: regs,
                            kinds: d.kinds,
                            secrets: d.secrets,
                            network_policies: d.network_policies,
                            images,
                            literal_path: d.literal_path,
                        }
                    })
                    .collect();
                let bob_used = tenants.iter().any(|t| t.signers.contains(&"bob"));
                let signers = if bob_used || define_bob {
                    vec!["alice", "bob"]
                } else {
                    vec!["alice"]
                };
                Spec {
                    engine,
                    known_hosts,
                    channel,
                    store: store.to_string(),
                    alert_secret: alert_secret.to_string(),
                    key_suffix,
                    prometheus,
                    signers,
                    registries,
                    envs,
                    tenants,
                }
            },
        )
}

// ---------------------------------------------------------------------------------------------
// Compiling
// ---------------------------------------------------------------------------------------------

/// Why a spec did not compile; the text holds every diagnostic, rendered, and the spec.
#[derive(Debug)]
enum Refused {
    /// `load_and_check` reported errors.
    FrontEnd(String),
    /// The front end accepted the spec, `compile` refused the output.
    Output(String),
}

impl Refused {
    fn into_text(self) -> String {
        match self {
            Refused::FrontEnd(t) => format!("the front end refused the spec:\n{t}"),
            Refused::Output(t) => {
                format!("the front end accepted the spec, compile refused it:\n{t}")
            }
        }
    }
}

/// Writes `text` as `trust.toml` beside copies of the example keys, runs the front end and
/// compiles.
fn compile(text: &str) -> Result<Tree, Refused> {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("keys")).expect("keys dir");
    for k in ["alice.asc", "bob.asc", "cosign.pub"] {
        std::fs::copy(
            root().join("policy-spec/keys").join(k),
            dir.path().join("keys").join(k),
        )
        .expect("copy key");
    }
    let path = dir.path().join("trust.toml");
    std::fs::write(&path, text).expect("write spec");
    let mut map = SourceMap::new();
    let mut sink = Sink::new();
    let valid = trustc::cli::load_and_check(&path, &Context { now: TEST_NOW }, &mut map, &mut sink)
        .expect("spec readable");
    let report = |map: &SourceMap, sink: Sink| {
        format!(
            "{}\n--- spec ---\n{text}",
            trustc::diag::render_all(map, &sink.into_sorted())
        )
    };
    let valid = match valid {
        Some(v) if !sink.has_errors() => v,
        _ => return Err(Refused::FrontEnd(report(&map, sink))),
    };
    trustc::cli::compile(&valid, "trust.toml", &TemplateSet::embedded())
        .map_err(|sink| Refused::Output(report(&map, sink)))
}

fn compile_ok(text: &str) -> Result<Tree, TestCaseError> {
    compile(text).map_err(|r| TestCaseError::fail(r.into_text()))
}

/// Every YAML file of the tree, parsed: path → documents.
fn parse_tree(tree: &Tree) -> Result<BTreeMap<String, Vec<Value>>, TestCaseError> {
    let mut out = BTreeMap::new();
    for (path, bytes) in &tree.files {
        if !path.ends_with(".yaml") {
            continue;
        }
        let text = std::str::from_utf8(bytes)
            .map_err(|e| TestCaseError::fail(format!("`{path}` is not UTF-8: {e}")))?;
        let docs = trustc::verify::parse_documents(text)
            .map_err(|e| TestCaseError::fail(format!("`{path}` does not parse back: {e}")))?;
        prop_assert!(!docs.is_empty(), "`{}` holds no document", path);
        for (i, d) in docs.iter().enumerate() {
            prop_assert!(
                d.get("apiVersion").is_some_and(Value::is_string)
                    && d.get("kind").is_some_and(Value::is_string),
                "`{}` document {} has no apiVersion/kind: {}",
                path,
                i,
                d
            );
        }
        out.insert(path.clone(), docs);
    }
    Ok(out)
}

/// The (path, text) pairs of the YAML files of one environment.
fn env_texts<'a>(tree: &'a Tree, env: &str) -> Vec<(&'a str, &'a str)> {
    let prefix = format!("{env}/");
    tree.files
        .iter()
        .filter(|(p, _)| p.starts_with(&prefix) && p.ends_with(".yaml"))
        .map(|(p, b)| (p.as_str(), std::str::from_utf8(b).expect("UTF-8")))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

/// Property 2: no tenant service account holds a grant beyond its namespaces, a wildcard, a
/// cluster-scoped resource, or anything but its allowed kinds; none may create
/// ClusterRoleBindings.
fn check_access(spec: &Spec, tree: &Tree) -> Result<(), TestCaseError> {
    parse_tree(tree)?;
    let all_tenant_sas: BTreeSet<(String, String)> = spec
        .tenants
        .iter()
        .map(|t| (t.namespaces[0].clone(), format!("{}-reconciler", t.name)))
        .collect();
    for &e in &spec.envs {
        let env = ENVS[e].0;
        let rbac = Manifests::from_texts(env_texts(tree, env))
            .map_err(|err| TestCaseError::fail(format!("[{env}] {err}")))?;
        for t in spec.tenants_in(e) {
            let sa = t.service_account();
            let analysis = rbac.grants_of(&sa);
            prop_assert!(
                analysis.unknown.is_empty(),
                "[{}] {}: undecided grants: {:?}",
                env,
                sa,
                analysis.unknown
            );
            let mut resources = BTreeSet::new();
            let mut namespaces = BTreeSet::new();
            for g in &analysis.grants {
                let what = format!(
                    "[{env}] {sa}: {} {}/{} in {:?} ({} → {})",
                    g.verb, g.api_group, g.resource, g.namespace, g.binding, g.role
                );
                prop_assert!(
                    g.verb != "*" && g.api_group != "*" && !g.resource.contains('*'),
                    "wildcard grant: {}",
                    what
                );
                prop_assert!(g.non_resource_url.is_none(), "non-resource grant: {}", what);
                let Some(ns) = &g.namespace else {
                    return Err(TestCaseError::fail(format!("cluster-wide grant: {what}")));
                };
                prop_assert!(
                    t.namespaces.contains(ns),
                    "grant outside the tenant's namespaces {:?}: {}",
                    t.namespaces,
                    what
                );
                let base = g.resource.split('/').next().unwrap_or_default();
                prop_assert!(
                    trustc::kinds::resource_is_cluster_scoped(&g.api_group, base) != Some(true),
                    "cluster-scoped resource: {}",
                    what
                );
                prop_assert!(
                    !matches!(g.verb.as_str(), "bind" | "escalate" | "impersonate"),
                    "privileged verb: {}",
                    what
                );
                // A tenant allowed HelmRelease holds what helm-controller's storage (Secrets
                // get/list/create/update/delete) and wait (Pods, ReplicaSets get/list) need
                // on its impersonated client (docs/threat-model.md): those are not kinds.
                let helm = t.resources().contains(&(
                    "helm.toolkit.fluxcd.io".to_string(),
                    "helmreleases".to_string(),
                ));
                let helm_need = helm
                    && match (g.api_group.as_str(), base) {
                        ("", "secrets") => {
                            matches!(
                                g.verb.as_str(),
                                "get" | "list" | "create" | "update" | "delete"
                            )
                        }
                        ("", "pods") | ("apps", "replicasets") => {
                            matches!(g.verb.as_str(), "get" | "list")
                        }
                        _ => false,
                    };
                prop_assert!(
                    base != "secrets" || (g.verb != "watch" && (g.verb != "list" || helm_need)),
                    "Secrets may never be listed (but by Helm's storage) or watched: {}",
                    what
                );
                if helm_need && g.resource == base {
                    namespaces.insert(ns.clone());
                    continue;
                }
                resources.insert((g.api_group.clone(), base.to_string()));
                namespaces.insert(ns.clone());
            }
            prop_assert_eq!(
                &resources,
                &t.resources(),
                "[{}] {}: granted resources differ from allowed_kinds",
                env,
                sa
            );
            let expected: BTreeSet<String> = t.namespaces.iter().cloned().collect();
            prop_assert_eq!(
                &namespaces,
                &expected,
                "[{}] {}: granted in other namespaces than the tenant's",
                env,
                sa
            );
        }
        let crb = rbac.who_can(
            "create",
            "rbac.authorization.k8s.io",
            "clusterrolebindings",
            None,
        );
        prop_assert!(
            crb.grants.iter().any(
                |g| g.subject == Subject::service_account("flux-system", "platform-reconciler")
            ),
            "[{}] the platform (cluster_kinds has ClusterRoleBinding) is not listed: the query is broken",
            env
        );
        for g in &crb.grants {
            let s = &g.subject;
            let is_tenant = s.kind == "ServiceAccount"
                && all_tenant_sas
                    .contains(&(s.namespace.clone().unwrap_or_default(), s.name.clone()));
            prop_assert!(
                !is_tenant && s.kind != "Group",
                "[{}] {} may create ClusterRoleBindings (via {:?}, {} → {})",
                env,
                s,
                g.via,
                g.binding,
                g.role
            );
        }
    }
    Ok(())
}

/// An optional setting as the manifests carry it: an empty string leaves the field out.
fn optional(s: &str) -> Value {
    if s.is_empty() {
        Value::Null
    } else {
        Value::String(s.to_string())
    }
}

/// Property 5: the hostile strings arrive unchanged, and no file has more documents than
/// the same spec with plain strings gives.
fn check_round_trip(spec: &Spec, tree: &Tree) -> Result<(), TestCaseError> {
    let docs = parse_tree(tree)?;
    let get = |path: &str| -> Result<&Vec<Value>, TestCaseError> {
        docs.get(path)
            .ok_or_else(|| TestCaseError::fail(format!("`{path}` is not generated")))
    };
    for &e in &spec.envs {
        let env = ENVS[e].0;
        let platform = get(&format!("{env}/platform/deploy-key.yaml"))?;
        prop_assert_eq!(
            platform.len(),
            1,
            "[{}] platform deploy key: one document",
            env
        );
        let mut external_secrets = vec![("the platform".to_string(), &platform[0])];
        for t in spec.tenants_in(e) {
            let path = format!("{env}/tenants/{}/deploy-key.yaml", t.name);
            let d = get(&path)?;
            prop_assert_eq!(d.len(), 1, "`{}`: one document", path);
            external_secrets.push((format!("tenant `{}`", t.name), &d[0]));
            let expected_key = spec
                .deploy_key_path()
                .replace("{tenant}", &t.name)
                .replace("{env}", env);
            prop_assert_eq!(
                &d[0]["spec"]["data"][0]["remoteRef"]["key"],
                &Value::String(expected_key),
                "`{}`: deploy key path",
                path
            );
        }
        for (who, d) in external_secrets {
            prop_assert_eq!(
                &d["spec"]["secretStoreRef"]["name"],
                &Value::String(spec.store.clone()),
                "[{}] {}: secret store",
                env,
                who
            );
            prop_assert_eq!(
                &d["spec"]["target"]["template"]["data"]["known_hosts"],
                &optional(&spec.known_hosts),
                "[{}] {}: known_hosts",
                env,
                who
            );
        }
        // The Provider and Alerts exist where the environment has tenants.
        if spec.tenants_in(e).next().is_none() {
            continue;
        }
        let path = format!("{env}/monitoring/notifications.yaml");
        let n = get(&path)?;
        // Per namespace with Flux objects (flux-system and every tenant namespace): the
        // provider secret's ExternalSecret (when named), a Provider and an Alert, because
        // notification-controller runs with --no-cross-namespace-refs.
        let spaces = 1 + spec
            .tenants_in(e)
            .map(|t| {
                let mut v = t.namespaces.clone();
                v.sort();
                v.dedup();
                v.len()
            })
            .sum::<usize>();
        let per = if spec.alert_secret.is_empty() { 2 } else { 3 };
        prop_assert_eq!(
            n.len(),
            per * spaces,
            "`{}`: Provider and Alert (and secret) per namespace",
            path
        );
        for p in n.iter().filter(|d| d["kind"] == "Provider") {
            prop_assert_eq!(
                &p["spec"]["channel"],
                &optional(&spec.channel),
                "`{}`: channel",
                path
            );
            prop_assert_eq!(
                &p["spec"]["secretRef"]["name"],
                &optional(&spec.alert_secret),
                "`{}`: alert secret",
                path
            );
        }
    }
    // Structure: the same files, each with as many documents, as with plain strings.
    let plain = compile_ok(&spec.benign().to_toml(&spec.identity_order()))?;
    let plain_docs = parse_tree(&plain)?;
    let shape = |d: &BTreeMap<String, Vec<Value>>| -> BTreeMap<String, usize> {
        d.iter().map(|(p, v)| (p.clone(), v.len())).collect()
    };
    prop_assert_eq!(
        shape(&docs),
        shape(&plain_docs),
        "hostile strings changed the files or their documents"
    );
    Ok(())
}

/// Property 6 (Adversary 2): every ExternalSecret of an environment pulls its own deploy
/// key: no tenant's pulls the platform's or another tenant's.
fn check_deploy_keys(spec: &Spec, tree: &Tree) -> Result<(), TestCaseError> {
    let docs = parse_tree(tree)?;
    for &e in &spec.envs {
        let env = ENVS[e].0;
        let mut seen: BTreeMap<String, String> = BTreeMap::new();
        for (path, file) in docs
            .iter()
            .filter(|(p, _)| p.starts_with(&format!("{env}/")))
        {
            for d in file.iter().filter(|d| d["kind"] == "ExternalSecret") {
                let who = format!(
                    "`{path}` ({}/{})",
                    d["metadata"]["namespace"].as_str().unwrap_or_default(),
                    d["metadata"]["name"].as_str().unwrap_or_default()
                );
                for data in d["spec"]["data"].as_array().into_iter().flatten() {
                    let key = data["remoteRef"]["key"].as_str().unwrap_or_default();
                    if let Some(other) = seen.insert(key.to_string(), who.clone()) {
                        return Err(TestCaseError::fail(format!(
                            "[{env}] {other} and {who} both pull the deploy key `{key}`"
                        )));
                    }
                }
            }
        }
        prop_assert_eq!(
            seen.len(),
            1 + spec.tenants_in(e).count(),
            "[{}] one deploy key for the platform and each tenant",
            env
        );
    }
    Ok(())
}

/// 24 cases each (the file runs in seconds in debug); `PROPTEST_CASES=N` searches deeper.
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24);
    ProptestConfig {
        cases,
        max_shrink_iters: 512,
        // The minimal failing spec is printed; no regression file is written.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    /// Property 1: a generated valid spec passes the front end and compiles (render, schema,
    /// every invariant of `verify::invariants`).
    #[test]
    fn valid_specs_compile(spec in spec()) {
        compile_ok(&spec.to_toml(&spec.identity_order()))?;
    }

    /// Property 2: every output file parses back; tenants get exactly their kinds in their
    /// namespaces and nothing cluster-wide; no tenant may create ClusterRoleBindings.
    #[test]
    fn tenants_are_confined(spec in spec()) {
        let tree = compile_ok(&spec.to_toml(&spec.identity_order()))?;
        check_access(&spec, &tree)?;
    }

    /// Property 3: the order of the `[tenants.*]`, `[registries.*]`, `[signers.*]` and
    /// `[environments.*]` tables (and of the unordered lists inside tenants) does not change
    /// a byte of the output.
    #[test]
    fn table_order_does_not_matter(spec in spec(), seed in any::<u64>()) {
        let order = spec.shuffled_order(seed);
        let a = compile_ok(&spec.to_toml(&spec.identity_order()))?;
        let b = compile_ok(&spec.to_toml(&order))?;
        prop_assert!(a.files == b.files, "{}", first_difference(&a, &b));
    }

    /// Property 4: compiling twice gives the same bytes.
    #[test]
    fn compiling_is_deterministic(spec in spec()) {
        let text = spec.to_toml(&spec.identity_order());
        let a = compile_ok(&text)?;
        let b = compile_ok(&text)?;
        prop_assert!(a.files == b.files, "{}", first_difference(&a, &b));
    }

    /// Property 5: hostile free text arrives unchanged and adds no document.
    #[test]
    fn hostile_strings_round_trip(spec in spec()) {
        let tree = compile_ok(&spec.to_toml(&spec.identity_order()))?;
        check_round_trip(&spec, &tree)?;
    }

    /// Property 6: no tenant pulls the platform's or another tenant's deploy key.
    #[test]
    fn deploy_keys_are_not_shared(spec in spec()) {
        let tree = compile_ok(&spec.to_toml(&spec.identity_order()))?;
        check_deploy_keys(&spec, &tree)?;
    }

    /// Property 7: what the front end accepts compiles. Free text (`git.known_hosts`,
    /// `alerts.channel`, `alerts.secret`, `secrets.store`, `secrets.deploy_key_path`) of any
    /// characters is either refused by `trustc check` with a diagnostic, or compiles and
    /// arrives unchanged; never accepted by check and then refused by generate.
    #[test]
    fn what_check_accepts_compiles(
        spec in spec(),
        field in 0..5usize,
        text in any_text(),
    ) {
        let mut spec = spec;
        match field {
            0 => spec.known_hosts = text,
            1 => spec.channel = text,
            2 => spec.alert_secret = text,
            3 => spec.store = text,
            _ => spec.key_suffix = text,
        }
        match compile(&spec.to_toml(&spec.identity_order())) {
            Err(Refused::FrontEnd(_)) => {}
            Err(refused @ Refused::Output(_)) => {
                return Err(TestCaseError::fail(refused.into_text()));
            }
            Ok(tree) => check_round_trip(&spec, &tree)?,
        }
    }
}

/// The first file that differs between two trees, for a readable failure.
fn first_difference(a: &Tree, b: &Tree) -> String {
    let paths: BTreeSet<&String> = a.files.keys().chain(b.files.keys()).collect();
    for p in paths {
        match (a.files.get(p), b.files.get(p)) {
            (Some(x), Some(y)) if x == y => {}
            (Some(x), Some(y)) => {
                return trustc::write::unified_diff(
                    p,
                    &String::from_utf8_lossy(x),
                    &String::from_utf8_lossy(y),
                );
            }
            (Some(_), None) => return format!("`{p}` only in the first tree"),
            (None, _) => return format!("`{p}` only in the second tree"),
        }
    }
    "no difference".into()
}

/// Scale: 200 tenants compile and stay confined.
#[test]
fn two_hundred_tenants_compile() {
    let tenants = (0..200)
        .map(|i| Tenant {
            name: format!("team-{i:03}"),
            namespaces: vec![format!("team-{i:03}"), format!("team-{i:03}-jobs")],
            // All in production (rendering grows with the square of an environment's
            // tenants); a few in staging and dev too.
            envs: if i % 10 == 0 { vec![0, 1, 2] } else { vec![1] },
            signers: if i % 2 == 0 {
                vec!["alice"]
            } else {
                vec!["alice", "bob"]
            },
            registries: vec![i % 3],
            kinds: (0..=(i % KINDS.len())).collect(),
            secrets: i % 7 == 0,
            network_policies: i % 11 == 0,
            images: vec![Image {
                name: "api".into(),
                registry: i % 3,
                pattern: i % TAG_PATTERNS.len(),
            }],
            literal_path: i % 2 == 1,
        })
        .collect();
    let spec = Spec {
        engine: "kyverno",
        known_hosts: "github.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl".into(),
        channel: "gitops-alerts".into(),
        store: "vault-backend".into(),
        alert_secret: "slack-webhook".into(),
        key_suffix: "deploy-key".into(),
        prometheus: true,
        signers: vec!["alice", "bob"],
        registries: 3,
        envs: vec![0, 1, 2],
        tenants,
    };
    let tree = compile(&spec.to_toml(&spec.identity_order()))
        .unwrap_or_else(|r| panic!("{}", r.into_text()));
    for t in &spec.tenants {
        for &e in &t.envs {
            let path = format!("{}/tenants/{}/role.yaml", ENVS[e].0, t.name);
            assert!(tree.files.contains_key(&path), "`{path}` is generated");
        }
    }
    check_access(&spec, &tree).unwrap_or_else(|e| panic!("{e}"));
}
