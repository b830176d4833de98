//! Mutation test of the invariants: template overrides (`--templates DIR`) are attacker
//! controlled in CI, so every weakening of a documented promise must be refused by the
//! `trustc` binary (exit 1, the invariant's code on stderr, nothing written), for every
//! admission engine; random, seeded edits of every template must be refused too, or pass
//! with a proof that they weaken nothing (the output equals trustc's own on every protective
//! document, and no subject gains a grant).
//!
//! The fixture is the example spec (`policy-spec/`) with a second tenant spanning two
//! namespaces, copied to a temporary directory with its keys.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use trustc::access::{Manifests, Subject};

use crate::support::root;

const ENGINES: &[&str] = &["kyverno", "kyverno-cel", "vap"];

const SECOND_TENANT: &str = r#"
[tenants.web]
namespaces = ["web", "web-jobs"]
repository = "ssh://git@github.com/example/web-manifests.git"
path = "./clusters/{env}/web"
environments = ["staging", "production"]
signers = ["bob"]
allowed_kinds = ["apps/Deployment", "Service", "batch/Job"]
"#;

struct Fixture {
    dir: tempfile::TempDir,
    spec: PathBuf,
}

fn fixture(engine: &str) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let spec_dir = dir.path().join("policy-spec");
    std::fs::create_dir_all(spec_dir.join("keys")).unwrap();
    for key in std::fs::read_dir(root().join("policy-spec/keys")).unwrap() {
        let key = key.unwrap().path();
        std::fs::copy(&key, spec_dir.join("keys").join(key.file_name().unwrap())).unwrap();
    }
    let text = std::fs::read_to_string(root().join("policy-spec/trust.toml")).unwrap();
    // Whatever engine the example names, this fixture's is `engine`.
    let text = text
        .lines()
        .map(|l| {
            if l.starts_with("engine = ") {
                format!("engine = \"{engine}\"")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
        + SECOND_TENANT;
    assert!(text.contains(&format!("engine = \"{engine}\"")));
    let spec = spec_dir.join("trust.toml");
    std::fs::write(&spec, text).unwrap();
    Fixture { dir, spec }
}

struct Outcome {
    code: i32,
    stderr: String,
    out: PathBuf,
}

impl Outcome {
    fn refused_with(&self, codes: &[&str]) -> Result<(), String> {
        if self.code != 1 {
            return Err(format!(
                "exit {} (want 1); stderr:\n{}",
                self.code, self.stderr
            ));
        }
        if self.out.exists() {
            return Err("refused, yet the output directory was written".into());
        }
        if !codes.is_empty()
            && !codes
                .iter()
                .any(|c| self.stderr.contains(&format!("[{c}]")))
        {
            return Err(format!("none of {codes:?} in stderr:\n{}", self.stderr));
        }
        Ok(())
    }
}

/// Runs `trustc generate` with `overrides` (template name → text) in a fresh directory.
fn generate(fx: &Fixture, overrides: &[(&str, String)]) -> Outcome {
    let work = tempfile::tempdir_in(fx.dir.path()).unwrap().keep();
    let out = work.join("out");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_trustc"));
    cmd.args(["generate", "--spec"])
        .arg(&fx.spec)
        .arg("--out")
        .arg(&out);
    if !overrides.is_empty() {
        let tpl = work.join("templates");
        for (name, text) in overrides {
            let path = tpl.join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        cmd.arg("--templates").arg(&tpl);
    }
    let o = cmd.output().unwrap();
    Outcome {
        code: o.status.code().unwrap_or(-1),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        out,
    }
}

fn embedded(name: &str) -> String {
    trustc::render::EMBEDDED
        .iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no template {name}"))
        .1
        .to_string()
}

fn admission_template(engine: &str) -> &'static str {
    match engine {
        "kyverno" => "admission/kyverno.yaml.j2",
        "kyverno-cel" => "admission/kyverno-cel.yaml.j2",
        _ => "admission/vap.yaml.j2",
    }
}

/// One weakening: the template it overrides, how, and the invariants that must name it.
struct Weakening {
    what: &'static str,
    template: String,
    text: String,
    codes: &'static [&'static str],
}

fn weakenings(engine: &str) -> Vec<Weakening> {
    let adm = admission_template(engine).to_string();
    let adm_text = embedded(&adm);
    let w = |what, template: &str, text: String, codes| Weakening {
        what,
        template: template.to_string(),
        text,
        codes,
    };
    let mut list = vec![
        w(
            "admission switched to Audit",
            &adm,
            adm_text
                .replace("failureAction: Enforce", "failureAction: Audit")
                .replace("- Deny", "- Audit"),
            &["TC3010", "TC3026"],
        ),
        w(
            "admission policies deleted",
            &adm,
            String::new(),
            &["TC3010"],
        ),
        w(
            "admission expressions replaced by `true`",
            &adm,
            adm_text
                .lines()
                .map(|l| match l.find("expression:") {
                    Some(i) => format!("{}expression: \"true\"", &l[..i]),
                    None => l.to_string(),
                })
                .collect::<Vec<_>>()
                .join("\n"),
            &["TC3010"],
        ),
        w(
            "cluster-admin bound to a tenant namespace's default ServiceAccount",
            "tenant/role-binding.yaml.j2",
            embedded("tenant/role-binding.yaml.j2")
                + "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n  name: {{ tenant.name ~ \"-default-admin\" }}\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n  name: cluster-admin\nsubjects:\n- kind: ServiceAccount\n  name: default\n  namespace: {{ tenant.home }}\n",
            &["TC3008", "TC3012"],
        ),
        w(
            "an extra signer key in the signers Secret's data",
            "tenant/signers.yaml.j2",
            embedded("tenant/signers.yaml.j2").replace(
                "type: Opaque\n",
                "type: Opaque\ndata:\n  mallory.asc: LS0tLS1CRUdJTiBQR1AgUFVCTElDIEtFWSBCTE9DSy0tLS0t\n",
            ),
            &["TC3006", "TC3015"],
        ),
        w(
            "an allow-all egress NetworkPolicy in flux-system",
            "flux/egress.yaml.j2",
            embedded("flux/egress.yaml.j2")
                + "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: allow-all-egress\n  namespace: {{ flux.namespace }}\nspec:\n  podSelector: {}\n  policyTypes:\n  - Egress\n  egress:\n  - {}\n",
            &["TC3016"],
        ),
        w(
            "a tenant repository reconciled from flux-system without the tenant's ServiceAccount",
            "tenant/sync.yaml.j2",
            embedded("tenant/sync.yaml.j2")
                + "---\napiVersion: {{ flux.api.kustomize }}\nkind: Kustomization\nmetadata:\n  name: {{ tenant.name ~ \"-escalated\" }}\n  namespace: {{ flux.namespace }}\nspec:\n  interval: 5m\n  path: {{ tenant.path }}\n  prune: true\n  sourceRef:\n    kind: GitRepository\n    name: {{ tenant.name }}\n    namespace: {{ tenant.home }}\n",
            &["TC3022", "TC3023"],
        ),
        w(
            "the lock-down flags removed",
            "flux/lockdown.yaml.j2",
            // Every lock-down flag replaced by a harmless one the binaries accept.
            embedded("flux/lockdown.yaml.j2")
                .replace("value: {{ a }}", "value: \"--log-level=info\""),
            &["TC3018", "TC3019"],
        ),
        w(
            "the tenant NetworkPolicies deleted",
            "tenant/network-policies.yaml.j2",
            String::new(),
            &["TC3016", "TC3017"],
        ),
        w(
            "Pod Security `privileged` on a tenant namespace",
            "tenant/namespaces.yaml.j2",
            embedded("tenant/namespaces.yaml.j2").replace(
                "pod-security.kubernetes.io/enforce: restricted",
                "pod-security.kubernetes.io/enforce: privileged",
            ),
            &["TC3021", "TC3020"],
        ),
        w(
            "a tenant Kustomization with targetNamespace kube-system",
            "tenant/sync.yaml.j2",
            embedded("tenant/sync.yaml.j2").replace(
                "targetNamespace: {{ sync.target_namespace }}",
                "targetNamespace: kube-system",
            ),
            &["TC3023", "TC3022"],
        ),
        w(
            "the tenant GitRepository's URL swapped",
            "tenant/source.yaml.j2",
            embedded("tenant/source.yaml.j2").replace(
                "url: {{ tenant.repository }}",
                "url: ssh://git@github.com/mallory/payments-manifests.git",
            ),
            &["TC3014", "TC3013"],
        ),
    ];
    for item in &mut list {
        assert_ne!(
            item.text,
            embedded(&item.template),
            "{engine}: the weakening `{}` must change the template",
            item.what
        );
    }
    list
}

#[test]
fn every_listed_weakening_is_refused_by_its_invariant_for_every_engine() {
    for engine in ENGINES {
        let fx = fixture(engine);
        let clean = generate(&fx, &[]);
        assert_eq!(clean.code, 0, "{engine}: {}", clean.stderr);
        let mut failures = Vec::new();
        for w in weakenings(engine) {
            let o = generate(&fx, &[(w.template.as_str(), w.text.clone())]);
            if let Err(e) = o.refused_with(w.codes) {
                failures.push(format!("{engine}: {}: {e}", w.what));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    }
}

/// The model-based invariants alone (no comparison with trustc's own rendering) catch the
/// weakenings they state, so a bug in the embedded templates is caught too.
#[test]
fn model_invariants_alone_catch_the_weakenings_they_state() {
    let fx = fixture("kyverno");
    let mut map = trustc::diag::SourceMap::new();
    let mut sink = trustc::diag::Sink::new();
    let valid = trustc::cli::load_and_check(
        &fx.spec,
        &crate::support::fixture_clock(""),
        &mut map,
        &mut sink,
    )
    .unwrap()
    .unwrap();
    let policy = trustc::model::resolve(&valid, "policy-spec/trust.toml");
    let by_model: &[(&str, &str)] = &[
        (
            "cluster-admin bound to a tenant namespace's default ServiceAccount",
            "TC3008",
        ),
        ("an extra signer key in the signers Secret's data", "TC3006"),
        (
            "a tenant repository reconciled from flux-system without the tenant's ServiceAccount",
            "TC3023",
        ),
        ("the lock-down flags removed", "TC3019"),
        ("the tenant NetworkPolicies deleted", "TC3017"),
        ("Pod Security `privileged` on a tenant namespace", "TC3021"),
        (
            "a tenant Kustomization with targetNamespace kube-system",
            "TC3023",
        ),
        ("the tenant GitRepository's URL swapped", "TC3014"),
        ("admission switched to Audit", "TC3026"),
    ];
    for w in weakenings("kyverno") {
        let Some((_, code)) = by_model.iter().find(|(what, _)| *what == w.what) else {
            continue;
        };
        let mut set = trustc::render::TemplateSet::embedded();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(&w.template);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &w.text).unwrap();
        set = trustc::render::TemplateSet::with_overrides(dir.path()).unwrap_or(set);
        let rendered = trustc::render::render(&policy, &set).unwrap();
        let mut verified = trustc::verify::verify(&rendered).unwrap();
        let paths: Vec<String> = verified.iter().map(|m| m.path.clone()).collect();
        let kust = trustc::render::kustomizations(&paths, &set).unwrap();
        verified.extend(trustc::verify::verify(&kust).unwrap());
        let all: Vec<&trustc::verify::Manifest> = verified.iter().collect();
        let diags = trustc::verify::invariants::check(&policy, &all, None);
        assert!(
            diags.iter().any(|d| d.code.id() == *code),
            "{}: {code} expected without the reference, got {:?}",
            w.what,
            diags
                .iter()
                .map(|d| (d.code.id(), &d.message))
                .collect::<Vec<_>>()
        );
    }
}

/// Deterministic pseudo-random numbers (xorshift64*): the same mutations on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// One random edit of a template's text, named for the report.
fn mutate(text: &str, rng: &mut Rng) -> (String, String) {
    let lines: Vec<&str> = text.lines().collect();
    if lines.is_empty() {
        return ("empty".into(), "# nothing\n".into());
    }
    let join = |ls: Vec<String>| ls.join("\n") + "\n";
    let owned: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    let pick = |rng: &mut Rng, pred: &dyn Fn(&str) -> bool| -> Option<usize> {
        let hits: Vec<usize> = (0..lines.len()).filter(|i| pred(lines[*i])).collect();
        (!hits.is_empty()).then(|| hits[rng.below(hits.len())])
    };
    match rng.below(8) {
        0 => {
            let i = rng.below(lines.len());
            let mut ls = owned;
            ls.remove(i);
            (format!("delete line {}", i + 1), join(ls))
        }
        1 => match pick(rng, &|l| l.contains("Enforce") || l.contains("Deny")) {
            Some(i) => {
                let mut ls = owned;
                ls[i] = ls[i].replace("Enforce", "Audit").replace("Deny", "Warn");
                (
                    format!("Enforce/Deny → Audit/Warn at line {}", i + 1),
                    join(ls),
                )
            }
            None => ("no Enforce: unchanged".into(), text.to_string()),
        },
        2 => match pick(rng, &|l| {
            l.contains("expression:") || l.contains("pattern:")
        }) {
            Some(i) => {
                let mut ls = owned;
                let at = ls[i].find(':').unwrap();
                ls[i] = format!("{}: \"true\"", &ls[i][..at]);
                (format!("expression → true at line {}", i + 1), join(ls))
            }
            None => ("no expression: unchanged".into(), text.to_string()),
        },
        3 => match pick(rng, &|l| l.trim_start().starts_with("- ")) {
            Some(i) => {
                let indent = lines[i].len() - lines[i].trim_start().len();
                let mut end = i + 1;
                while end < lines.len() && {
                    let l = lines[end];
                    !l.trim().is_empty() && l.len() - l.trim_start().len() > indent
                } {
                    end += 1;
                }
                let mut ls = owned;
                ls.drain(i..end);
                (format!("remove list item at line {}", i + 1), join(ls))
            }
            None => ("no list: unchanged".into(), text.to_string()),
        },
        4 => match pick(rng, &|l| l.contains("{{")) {
            Some(i) => {
                let mut ls = owned;
                let a = ls[i].find("{{").unwrap();
                let b = ls[i][a..].find("}}").map_or(ls[i].len(), |b| a + b + 2);
                ls[i].replace_range(a..b, "mallory");
                (format!("value → mallory at line {}", i + 1), join(ls))
            }
            None => ("no value: unchanged".into(), text.to_string()),
        },
        5 => {
            let i = rng.below(lines.len());
            let mut ls = owned;
            let dup = ls[i].clone();
            ls.insert(i, dup);
            (format!("duplicate line {}", i + 1), join(ls))
        }
        6 => {
            let i = rng.below(lines.len() + 1);
            let mut ls = owned;
            ls.insert(i, "# a comment an override may add".into());
            (format!("comment before line {}", i + 1), join(ls))
        }
        _ => match pick(rng, &|l| l.contains(": true") || l.contains(": false")) {
            Some(i) => {
                let mut ls = owned;
                ls[i] = if ls[i].contains(": true") {
                    ls[i].replace(": true", ": false")
                } else {
                    ls[i].replace(": false", ": true")
                };
                (format!("flip boolean at line {}", i + 1), join(ls))
            }
            None => ("no boolean: unchanged".into(), text.to_string()),
        },
    }
}

/// Every generated YAML file: path → documents.
fn read_tree(dir: &Path) -> BTreeMap<String, Vec<Value>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "yaml") {
                let rel = p
                    .strip_prefix(dir)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                let text = std::fs::read_to_string(&p).unwrap();
                out.insert(rel, trustc::verify::parse_documents(&text).unwrap());
            }
        }
    }
    out
}

fn sv<'a>(d: &'a Value, path: &[&str]) -> &'a str {
    path.iter()
        .try_fold(d, |v, k| v.get(*k))
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// Kinds that protect nothing: an override may change, add or drop them.
fn free(d: &Value) -> bool {
    matches!(
        sv(d, &["kind"]),
        "PrometheusRule" | "Alert" | "ConfigMap" | "ImagePolicy"
    )
}

fn rbac(d: &Value) -> bool {
    sv(d, &["apiVersion"]).starts_with("rbac.authorization.k8s.io/")
}

type DocKey = (String, String, String, String, String);

fn index(tree: &BTreeMap<String, Vec<Value>>) -> BTreeMap<DocKey, Value> {
    let mut out = BTreeMap::new();
    for (path, docs) in tree {
        let env = path.split('/').next().unwrap().to_string();
        if env == "kyverno-tests" {
            continue; // test fixtures, never applied
        }
        for d in docs {
            let api = sv(d, &["apiVersion"]).to_string();
            let key = if api.starts_with("kustomize.config.k8s.io/") {
                (
                    env.clone(),
                    api,
                    sv(d, &["kind"]).into(),
                    String::new(),
                    path.clone(),
                )
            } else {
                (
                    env.clone(),
                    api,
                    sv(d, &["kind"]).into(),
                    sv(d, &["metadata", "namespace"]).into(),
                    sv(d, &["metadata", "name"]).into(),
                )
            };
            out.insert(key, d.clone());
        }
    }
    out
}

/// Proof that an output weakens nothing compared with trustc's own: every protective
/// document is unchanged and present, none is added, a directory kustomization only lists
/// more, and no subject of any binding holds a grant it does not hold in the reference.
fn weakens_nothing(
    reference: &BTreeMap<String, Vec<Value>>,
    output: &BTreeMap<String, Vec<Value>>,
) -> Result<(), String> {
    let want = index(reference);
    let have = index(output);
    for (k, d) in &have {
        if free(d) || rbac(d) {
            continue;
        }
        match want.get(k) {
            None => return Err(format!("added {k:?}")),
            Some(r) if r == d => {}
            Some(r)
                if sv(d, &["kind"]) == "Kustomization" && k.1.starts_with("kustomize.config") =>
            {
                let strip = |v: &Value| {
                    let mut v = v.clone();
                    let res = v.as_object_mut().unwrap().remove("resources");
                    let set: BTreeSet<String> = res
                        .and_then(|r| r.as_array().cloned())
                        .unwrap_or_default()
                        .iter()
                        .map(|x| x.as_str().unwrap_or("").to_string())
                        .collect();
                    (v, set)
                };
                let (a, ra) = strip(r);
                let (b, rb) = strip(d);
                if a != b || !ra.is_subset(&rb) {
                    return Err(format!("changed {k:?}"));
                }
            }
            Some(_) => return Err(format!("changed {k:?}")),
        }
    }
    for (k, d) in &want {
        if !free(d) && !rbac(d) && !have.contains_key(k) {
            return Err(format!("dropped {k:?}"));
        }
    }
    // RBAC by effect, per environment.
    let envs: BTreeSet<&str> = output
        .keys()
        .filter_map(|p| p.split('/').next())
        .filter(|e| *e != "kyverno-tests" && !e.ends_with(".yaml"))
        .collect();
    for env in envs {
        let of = |t: &BTreeMap<String, Vec<Value>>| {
            let files: Vec<(String, Vec<Value>)> = t
                .iter()
                .filter(|(p, _)| p.starts_with(&format!("{env}/")))
                .map(|(p, d)| (p.clone(), d.clone()))
                .collect();
            Manifests::from_documents(files.iter().map(|(p, d)| (p.as_str(), d.as_slice())))
        };
        let (now, before) = (of(output), of(reference));
        let mut subjects: BTreeSet<Subject> = BTreeSet::new();
        for docs in output
            .iter()
            .filter(|(p, _)| p.starts_with(&format!("{env}/")))
            .map(|(_, d)| d)
        {
            for d in docs
                .iter()
                .filter(|d| sv(d, &["kind"]).ends_with("Binding"))
            {
                for s in d
                    .get("subjects")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let ns = match sv(s, &["namespace"]) {
                        "" => sv(d, &["metadata", "namespace"]),
                        ns => ns,
                    };
                    subjects.insert(match sv(s, &["kind"]) {
                        "ServiceAccount" => Subject::service_account(ns, sv(s, &["name"])),
                        "Group" => Subject::group(sv(s, &["name"])),
                        _ => Subject::user(sv(s, &["name"])),
                    });
                }
            }
        }
        for s in subjects {
            let effect = |g: &trustc::access::Grant| {
                (
                    g.verb.clone(),
                    g.api_group.clone(),
                    g.resource.clone(),
                    g.resource_names.clone(),
                    g.non_resource_url.clone(),
                    g.namespace.clone(),
                )
            };
            let a = now.grants_of(&s);
            let b = before.grants_of(&s);
            let allowed: HashSet<_> = b.grants.iter().map(effect).collect();
            if let Some(g) = a.grants.iter().find(|g| !allowed.contains(&effect(g))) {
                return Err(format!(
                    "{s} gains {} {}/{}",
                    g.verb, g.api_group, g.resource
                ));
            }
            let known: HashSet<&String> = b.unknown.iter().collect();
            if let Some(u) = a.unknown.iter().find(|u| !known.contains(u)) {
                return Err(format!("{s}: {u}"));
            }
        }
    }
    Ok(())
}

#[test]
fn random_edits_of_every_template_are_refused_or_proven_harmless() {
    const PER_TEMPLATE: usize = 6;
    let mut refused = 0;
    let mut harmless = 0;
    let mut failures = Vec::new();
    for (e, engine) in ENGINES.iter().enumerate() {
        let fx = fixture(engine);
        let clean = generate(&fx, &[]);
        assert_eq!(clean.code, 0, "{}", clean.stderr);
        let reference = read_tree(&clean.out);
        let mut rng = Rng(0x7275_7374_6300_0001 + e as u64);
        for (name, text) in trustc::render::EMBEDDED {
            // The other engines only re-run the admission templates, which differ by engine.
            if e > 0 && !name.starts_with("admission/") {
                continue;
            }
            for _ in 0..PER_TEMPLATE {
                let (how, mutated) = mutate(text, &mut rng);
                if mutated == *text {
                    continue;
                }
                let o = generate(&fx, &[(name, mutated)]);
                match o.code {
                    1 => match o.refused_with(&[]) {
                        Ok(()) if o.stderr.contains("error[TC") => refused += 1,
                        Ok(()) => failures.push(format!(
                            "{engine} {name} ({how}): refused without a code:\n{}",
                            o.stderr
                        )),
                        Err(err) => failures.push(format!("{engine} {name} ({how}): {err}")),
                    },
                    0 => match weakens_nothing(&reference, &read_tree(&o.out)) {
                        Ok(()) => harmless += 1,
                        Err(why) => failures
                            .push(format!("{engine} {name} ({how}) passed but weakens: {why}")),
                    },
                    c => failures.push(format!("{engine} {name} ({how}): exit {c}:\n{}", o.stderr)),
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    // Seeded: the same counts on every run, as long as the templates do not change.
    eprintln!("random template edits: {refused} refused, {harmless} proven harmless");
    assert!(refused >= 50, "refused {refused}, harmless {harmless}");
    assert!(
        harmless > 0,
        "some edits are harmless (comments, free kinds)"
    );
}

#[test]
fn harmless_overrides_pass_comments_key_order_and_free_kinds() {
    let fx = fixture("kyverno");
    let clean = generate(&fx, &[]);
    let reference = read_tree(&clean.out);
    // Reordered keys and comments: the same documents after parsing, the same bytes.
    let source = embedded("tenant/source.yaml.j2").replace(
        "  interval: {{ flux.git_interval }}\n  url: {{ tenant.repository }}\n",
        "  # reviewed: the URL first\n  url: {{ tenant.repository }}\n  interval: {{ flux.git_interval }}\n",
    );
    assert_ne!(source, embedded("tenant/source.yaml.j2"));
    let o = generate(&fx, &[("tenant/source.yaml.j2", source)]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(read_tree(&o.out), reference);
    // A free kind adapted: the alert's threshold.
    let rule = embedded("monitoring/prometheus-rule.yaml.j2");
    let changed = rule.replace("for: {{ flux.alerts.for_ }}", "for: 15m");
    assert_ne!(changed, rule, "the rule template changed shape");
    let o = generate(
        &fx,
        &[("monitoring/prometheus-rule.yaml.j2", changed.clone())],
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_ne!(read_tree(&o.out), reference);
    weakens_nothing(&reference, &read_tree(&o.out)).unwrap();
}

#[test]
fn an_override_that_grants_less_passes_and_one_that_grants_more_is_refused() {
    let fx = fixture("kyverno");
    let role = embedded("tenant/role.yaml.j2");
    // Less: `get` only, on every allowed kind (and on what Helm needs). Fewer rights for the
    // tenant. (`[get, list, watch]` would not be less: `watch` on Helm's Secrets is a grant
    // the model never gives.)
    let less = role.replace("verbs: {{ rule.verbs }}", "verbs: [get]");
    // More: `deletecollection` too, which the model does not give.
    let more = role.replace(
        "verbs: {{ rule.verbs }}",
        "verbs: {{ rule.verbs + [\"deletecollection\"] }}",
    );
    assert!(
        less != role && more != role,
        "the role template changed shape"
    );
    let o = generate(&fx, &[("tenant/role.yaml.j2", less)]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let o = generate(&fx, &[("tenant/role.yaml.j2", more)]);
    o.refused_with(&["TC3012"]).unwrap();
}

#[test]
fn an_added_cluster_role_feeding_the_built_in_aggregated_roles_is_refused() {
    let fx = fixture("kyverno");
    let text = embedded("platform/cluster-role.yaml.j2")
        + "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: trustc-extra-edit\n  labels:\n    rbac.authorization.k8s.io/aggregate-to-edit: \"true\"\nrules:\n- apiGroups: [\"\"]\n  resources: [secrets]\n  verbs: [list, watch]\n";
    let o = generate(&fx, &[("platform/cluster-role.yaml.j2", text)]);
    o.refused_with(&["TC3012"]).unwrap();
    assert!(o.stderr.contains("aggregated ClusterRole"), "{}", o.stderr);
}

/// Weakenings beyond the issue's list, each through another route.
#[test]
fn other_routes_around_the_protections_are_refused() {
    let fx = fixture("kyverno");
    let cases: Vec<(&str, &str, String, &[&str])> = vec![
        (
            "a patch in every directory kustomization, applied after trustc's checks",
            "kustomize/kustomization.yaml.j2",
            embedded("kustomize/kustomization.yaml.j2")
                + "patches:\n- target:\n    kind: ClusterPolicy\n  patch: |\n    - op: replace\n      path: /spec/rules/0/validate/failureAction\n      value: Audit\n",
            &["TC3018"],
        ),
        (
            "a file dropped from every directory kustomization",
            "kustomize/kustomization.yaml.j2",
            embedded("kustomize/kustomization.yaml.j2").replace(
                "resources: {{ resources }}",
                "resources: {{ resources | reject(\"equalto\", \"network-policies.yaml\") | list }}",
            ),
            &["TC3018"],
        ),
        (
            "the deploy key of another tenant fetched from the secret store",
            "tenant/deploy-key.yaml.j2",
            embedded("tenant/deploy-key.yaml.j2").replace(
                "key: {{ tenant.deploy_key_path }}",
                "key: flux/platform/deploy-key",
            ),
            &["TC3015"],
        ),
        (
            "a second GitRepository in a tenant namespace",
            "tenant/source.yaml.j2",
            embedded("tenant/source.yaml.j2")
                + "---\napiVersion: {{ flux.api.source }}\nkind: GitRepository\nmetadata:\n  name: extra\n  namespace: {{ tenant.home }}\nspec:\n  interval: 1m\n  url: ssh://git@github.com/mallory/extra.git\n  ref:\n    branch: main\n",
            &["TC3013", "TC3014"],
        ),
        (
            "the tenant GitRepository tracking a tag instead of the branch",
            "tenant/source.yaml.j2",
            embedded("tenant/source.yaml.j2")
                .replace("branch: {{ tenant.branch }}", "tag: v0.0.1-mallory"),
            &["TC3013", "TC3014"],
        ),
        (
            "a RoleBinding for the group of every ServiceAccount of a tenant namespace",
            "tenant/role-binding.yaml.j2",
            embedded("tenant/role-binding.yaml.j2").replace(
                "- kind: ServiceAccount\n  name: {{ tenant.service_account }}\n  namespace: {{ tenant.home }}\n",
                "- kind: ServiceAccount\n  name: {{ tenant.service_account }}\n  namespace: {{ tenant.home }}\n- kind: Group\n  name: {{ \"system:serviceaccounts:\" ~ ns }}\n  apiGroup: rbac.authorization.k8s.io\n",
            ),
            &["TC3008", "TC3012"],
        ),
    ];
    let mut failures = Vec::new();
    for (what, template, text, codes) in cases {
        assert_ne!(
            text,
            embedded(template),
            "{what}: the template changed shape"
        );
        let o = generate(&fx, &[(template, text)]);
        if let Err(e) = o.refused_with(codes) {
            failures.push(format!("{what}: {e}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
