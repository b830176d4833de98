//! Render stage: the [`Policy`] through minijinja templates into named text files.
//!
//! Templates are embedded in the binary (`templates/` in the source tree); `--templates DIR`
//! overrides any of them by name. Every interpolated value is JSON-escaped (a JSON string is
//! a valid YAML double-quoted scalar), so no spec value can change the YAML structure; the
//! verify stage re-emits canonical YAML afterwards. This is the only module that knows
//! minijinja.

pub mod index;
mod templates;

pub use templates::{EMBEDDED, OverrideError, TemplateSet};

use minijinja::{AutoEscape, Environment, UndefinedBehavior, Value, context};
use rayon::prelude::*;
use serde::Serialize;

use crate::model::{Engine, Env, Policy, Tenant};

/// Top-level directory of the Kyverno CLI test suites (`kyverno test generated/`): test
/// fixtures, never applied, so no kustomization lists them.
pub const KYVERNO_TESTS: &str = "kyverno-tests";

/// `<env>/flux-system-sync/`: the Kustomization that applies `<env>`, included from the
/// cluster's bootstrap kustomization (not a resource of `<env>`, which would own itself twice).
pub const FLUX_SYSTEM_SYNC: &str = "flux-system-sync";

/// One rendered file, before verification.
#[derive(Clone, Debug)]
pub struct Rendered {
    /// Output path relative to the output directory, `/`-separated.
    pub path: String,
    /// The template that produced it (for error messages).
    pub template: String,
    pub text: String,
}

/// A template that failed to render.
#[derive(Debug, Clone)]
pub struct RenderError {
    pub template: String,
    pub path: String,
    pub message: String,
}

fn environment(set: &TemplateSet) -> Result<Environment<'static>, RenderError> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|_| AutoEscape::Json);
    // JSON escaping alone leaves DEL, the C1 controls and U+FFFE/U+FFFF raw, which YAML
    // forbids: escape them too, so every interpolated value is a valid YAML scalar.
    env.set_formatter(|out, state, value| {
        if value.is_safe() || *state.auto_escape() != AutoEscape::Json {
            return minijinja::escape_formatter(out, state, value);
        }
        // A string (most values the templates write) is serialized as a `str`, without
        // minijinja's `Serialize` dispatch: the same JSON text. One that JSON and YAML
        // write as they are (see [`plain_json`]) is written between quotes at once.
        if let Some(text) = value.as_str().filter(|t| plain_json(t)) {
            out.write_str("\"")?;
            out.write_str(text)?;
            return out.write_str("\"").map_err(minijinja::Error::from);
        }
        let json = match value.as_str() {
            Some(text) => serde_json::to_string(text),
            None => serde_json::to_string(value),
        }
        .map_err(|e| {
            minijinja::Error::new(minijinja::ErrorKind::BadSerialization, e.to_string())
        })?;
        out.write_str(&yaml_safe(&json))
            .map_err(minijinja::Error::from)
    });
    env.set_syntax(
        minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .keep_trailing_newline(true)
            .build()
            .expect("default delimiters are valid"),
    );
    for (name, source) in set.iter() {
        env.add_template_owned(name.to_string(), source.to_string())
            .map_err(|e| RenderError {
                template: name.to_string(),
                path: String::new(),
                message: format!("{e:#}"),
            })?;
    }
    Ok(env)
}

/// Escapes, in JSON text, the characters YAML does not allow raw in a double-quoted scalar.
pub(crate) fn yaml_safe(json: &str) -> std::borrow::Cow<'_, str> {
    // Text with no byte that can start an escaped character ([`may_start_escaped`]), as
    // almost all is, is returned as it is.
    if !json.bytes().any(may_start_escaped) || !json.chars().any(needs_escape) {
        return std::borrow::Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len() + 16);
    for ch in json.chars() {
        if needs_escape(ch) {
            out.push_str(&format!("\\u{:04X}", ch as u32));
        } else {
            out.push(ch);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Whether `text` is written in JSON exactly as it is between quotes (no `"`, `\` or
/// control character, which serde_json escapes) and needs no escape for YAML either
/// ([`yaml_safe`]: no byte that can start U+007F to U+009F, U+FFFE or U+FFFF): then the
/// JSON text of the string is `"text"`.
fn plain_json(text: &str) -> bool {
    !text
        .bytes()
        .any(|b| b < 0x20 || b == b'"' || b == b'\\' || may_start_escaped(b))
}

/// Whether `b` can be the first byte (in UTF-8) of a character [`yaml_safe`] escapes: U+007F
/// is 7F, U+0080 to U+009F are C2 80 to C2 9F, U+FFFE and U+FFFF are EF BF BE and EF BF BF.
fn may_start_escaped(b: u8) -> bool {
    matches!(b, 0x7F | 0xC2 | 0xEF)
}

fn needs_escape(ch: char) -> bool {
    matches!(ch, '\u{7F}'..='\u{9F}' | '\u{FFFE}' | '\u{FFFF}')
}

/// A unit of work: which template renders which file with which context.
struct Job<'p> {
    path: String,
    template: &'static str,
    env: &'p Env,
    tenant: Option<&'p Tenant>,
    item: Option<usize>,
}

/// Renders every file of the output tree except the per-directory kustomization.yaml files,
/// which [`kustomizations`] adds once the set of files is known.
pub fn render(policy: &Policy, set: &TemplateSet) -> Result<Vec<Rendered>, Vec<RenderError>> {
    render_some(policy, set, None)
}

/// [`render`] for one environment only (`policy.environments[index]`): its tree and its
/// Kyverno CLI tests, so that a caller can compile, check and drop one environment at a time.
pub fn render_env(
    policy: &Policy,
    set: &TemplateSet,
    index: usize,
) -> Result<Vec<Rendered>, Vec<RenderError>> {
    render_some(policy, set, Some(index))
}

fn render_some(
    policy: &Policy,
    set: &TemplateSet,
    only: Option<usize>,
) -> Result<Vec<Rendered>, Vec<RenderError>> {
    let plan = plan(policy, set, only)?;
    plan.render(0..plan.len())
}

/// [`render_env`] in parts: the files of one environment, listed in the order
/// [`render_env`] returns them, rendered a range at a time ([`Plan::render`]), so that a
/// caller can verify and free each part's text before rendering the next.
pub fn plan_env<'p>(
    policy: &'p Policy,
    set: &TemplateSet,
    index: usize,
) -> Result<Plan<'p>, Vec<RenderError>> {
    plan(policy, set, Some(index))
}

/// What a render will make: the files and their templates and contexts (see [`plan_env`]).
pub struct Plan<'p> {
    policy: &'p Policy,
    env: Environment<'static>,
    jobs: Vec<Job<'p>>,
    flux: Value,
    engine: Value,
    envs: Vec<Value>,
    tenant_values: std::collections::HashMap<usize, Value>,
}

fn plan<'p>(
    policy: &'p Policy,
    set: &TemplateSet,
    only: Option<usize>,
) -> Result<Plan<'p>, Vec<RenderError>> {
    let env = environment(set).map_err(|e| vec![e])?;
    let mut jobs = Vec::new();
    for (ei, e) in policy.environments.iter().enumerate() {
        if only.is_some_and(|o| o != ei) {
            continue;
        }
        let p = |rel: &str| format!("{}/{rel}", e.name);
        let mut list: Vec<(String, &'static str, Option<&Tenant>)> = vec![
            (
                p("flux-lockdown/kustomization.yaml"),
                "flux/lockdown.yaml.j2",
                None,
            ),
            (p("flux-lockdown/egress.yaml"), "flux/egress.yaml.j2", None),
            (
                p("platform/service-account.yaml"),
                "platform/service-account.yaml.j2",
                None,
            ),
            (
                p("platform/cluster-role.yaml"),
                "platform/cluster-role.yaml.j2",
                None,
            ),
            (
                p("platform/cluster-role-binding.yaml"),
                "platform/cluster-role-binding.yaml.j2",
                None,
            ),
            (p("platform/signers.yaml"), "platform/signers.yaml.j2", None),
            (
                p("platform/deploy-key.yaml"),
                "platform/deploy-key.yaml.j2",
                None,
            ),
            (p("platform/source.yaml"), "platform/source.yaml.j2", None),
            (p("platform/sync.yaml"), "platform/sync.yaml.j2", None),
            (
                p(&format!("{FLUX_SYSTEM_SYNC}/sync.yaml")),
                "platform/flux-system-sync.yaml.j2",
                None,
            ),
        ];
        if let Some(alerts) = &policy.flux.alerts {
            if alerts.prometheus {
                list.push((
                    p("monitoring/prometheus-rule.yaml"),
                    "monitoring/prometheus-rule.yaml.j2",
                    None,
                ));
                list.push((
                    p("monitoring/kube-state-metrics.yaml"),
                    "monitoring/kube-state-metrics.yaml.j2",
                    None,
                ));
            }
            if alerts.provider.is_some() && !e.tenants.is_empty() {
                list.push((
                    p("monitoring/notifications.yaml"),
                    "monitoring/notifications.yaml.j2",
                    None,
                ));
            }
        }
        for t in &e.tenants {
            let tp = |f: &str| p(&format!("tenants/{}/{f}", t.name));
            list.extend([
                (tp("namespaces.yaml"), "tenant/namespaces.yaml.j2", Some(t)),
                (
                    tp("service-account.yaml"),
                    "tenant/service-account.yaml.j2",
                    Some(t),
                ),
                (tp("role.yaml"), "tenant/role.yaml.j2", Some(t)),
                (
                    tp("role-binding.yaml"),
                    "tenant/role-binding.yaml.j2",
                    Some(t),
                ),
                (
                    tp("network-policies.yaml"),
                    "tenant/network-policies.yaml.j2",
                    Some(t),
                ),
                (tp("signers.yaml"), "tenant/signers.yaml.j2", Some(t)),
                (tp("deploy-key.yaml"), "tenant/deploy-key.yaml.j2", Some(t)),
                (tp("source.yaml"), "tenant/source.yaml.j2", Some(t)),
                (tp("sync.yaml"), "tenant/sync.yaml.j2", Some(t)),
            ]);
            if !t.images.is_empty() {
                list.push((tp("images.yaml"), "tenant/images.yaml.j2", Some(t)));
            }
            if !t.charts.is_empty() {
                list.push((tp("charts.yaml"), "tenant/charts.yaml.j2", Some(t)));
            }
            // Kyverno CLI tests of the policies for this tenant, outside the environment
            // tree so that neither kustomize nor the access analysis of `<env>/` sees them.
            let kt = |f: &str| format!("{KYVERNO_TESTS}/{}/{}/{f}", e.name, t.name);
            list.extend([
                (
                    kt("kyverno-test.yaml"),
                    "kyverno-test/kyverno-test.yaml.j2",
                    Some(t),
                ),
                (
                    kt("resources.yaml"),
                    "kyverno-test/resources.yaml.j2",
                    Some(t),
                ),
                (
                    kt("userinfo.yaml"),
                    "kyverno-test/userinfo.yaml.j2",
                    Some(t),
                ),
            ]);
        }
        let (policy_tpl, images_tpl) = match policy.engine {
            Engine::Kyverno => (
                "admission/kyverno.yaml.j2",
                "admission/kyverno-images.yaml.j2",
            ),
            Engine::KyvernoCel => (
                "admission/kyverno-cel.yaml.j2",
                "admission/image-validating.yaml.j2",
            ),
            Engine::Vap => (
                "admission/vap.yaml.j2",
                "admission/image-validating.yaml.j2",
            ),
        };
        for (path, template, tenant) in list {
            jobs.push(Job {
                path,
                template,
                env: e,
                tenant,
                item: None,
            });
        }
        for (i, ap) in e.admission.iter().enumerate() {
            jobs.push(Job {
                path: p(&format!("policies/{}.yaml", ap.name)),
                template: policy_tpl,
                env: e,
                tenant: None,
                item: Some(i),
            });
        }
        if !e.image_verification.is_empty() {
            jobs.push(Job {
                path: p("policies/trustc-verify-images.yaml"),
                template: images_tpl,
                env: e,
                tenant: None,
                item: None,
            });
        }
    }
    // Serialise each shared value once: cloning a minijinja Value is a reference-count bump,
    // while serialising the environment per file would make rendering quadratic in tenants.
    let flux = Value::from(minijinja::value::Serde(&policy.flux));
    let engine = Value::from(minijinja::value::Serde(policy.engine));
    let envs: Vec<Value> = policy
        .environments
        .iter()
        .enumerate()
        .map(|(ei, e)| {
            if only.is_some_and(|o| o != ei) {
                Value::UNDEFINED
            } else {
                Value::from(minijinja::value::Serde(e))
            }
        })
        .collect();
    // Each tenant's context once, shared by its dozen files (by address: jobs borrow the
    // tenants of `policy`): the item of its environment's `tenants`, so that a tenant's
    // context is held once (a reference-count bump, not a second serialisation).
    let tenant_values: std::collections::HashMap<usize, Value> = policy
        .environments
        .iter()
        .zip(&envs)
        .filter(|(_, v)| !v.is_undefined())
        .flat_map(|(e, v)| {
            let items = v.get_attr("tenants").unwrap_or_default();
            e.tenants.iter().enumerate().map(move |(i, t)| {
                let value = items
                    .get_item_by_index(i)
                    .ok()
                    .filter(|v| !v.is_undefined())
                    .unwrap_or_else(|| Value::from(minijinja::value::Serde(t)));
                (std::ptr::from_ref::<Tenant>(t) as usize, value)
            })
        })
        .collect();
    Ok(Plan {
        policy,
        env,
        jobs,
        flux,
        engine,
        envs,
        tenant_values,
    })
}

impl Plan<'_> {
    /// Files the plan makes.
    pub fn len(&self) -> usize {
        self.jobs.len()
    }

    /// Whether the `index`th file is one of the environment's own (the lock-down, the
    /// platform, monitoring, admission policies), not a tenant's: those are few and can be
    /// large (an admission policy lists every tenant).
    pub fn is_shared(&self, index: usize) -> bool {
        self.jobs[index].tenant.is_none()
    }

    /// Whether the plan makes no file.
    pub fn is_empty(&self) -> bool {
        self.jobs.is_empty()
    }

    /// Renders the files `range` of the plan (in parallel), in plan order.
    pub fn render(&self, range: std::ops::Range<usize>) -> Result<Vec<Rendered>, Vec<RenderError>> {
        all_or_errors(range.into_par_iter().map(|i| self.render_one(i)).collect())
    }

    /// The `index`th file of the plan (`0..len()`), rendered: what [`Plan::render`] gives for
    /// it, for a caller that verifies each file on the worker that rendered it.
    pub fn render_one(&self, index: usize) -> Result<Rendered, RenderError> {
        let Plan {
            policy,
            env,
            jobs,
            flux,
            engine,
            envs,
            tenant_values,
        } = self;
        let j = &jobs[index];
        let tenant_value = |t: Option<&Tenant>| match t {
            Some(t) => tenant_values
                .get(&(std::ptr::from_ref(t) as usize))
                .cloned()
                .unwrap_or_else(|| Value::from(minijinja::value::Serde(Some(t)))),
            None => Value::from(minijinja::value::Serde(None::<&Tenant>)),
        };
        let env_index = |e: &Env| {
            policy
                .environments
                .iter()
                .position(|x| std::ptr::eq(x, e))
                .expect("job environments come from the policy")
        };
        let tpl = env.get_template(j.template).map_err(|err| RenderError {
            template: j.template.to_string(),
            path: j.path.clone(),
            message: format!("{err:#}"),
        })?;
        let ctx = context! {
            flux => flux.clone(),
            engine => engine.clone(),
            kyverno_version => &policy.kyverno_version,
            generated_path => &policy.generated_path,
            spec_path => &policy.spec_path,
            env => envs[env_index(j.env)].clone(),
            tenant => tenant_value(j.tenant),
            policy => Value::from(minijinja::value::Serde(j.item.map(|i| &j.env.admission[i]))),
        };
        let text = tpl.render(ctx).map_err(|err| RenderError {
            template: j.template.to_string(),
            path: j.path.clone(),
            message: format!("{err:#}"),
        })?;
        Ok(Rendered {
            path: j.path.clone(),
            template: j.template.to_string(),
            text,
        })
    }
}

#[derive(Serialize)]
struct KustomizationCtx<'a> {
    resources: Vec<&'a str>,
}

/// Renders a `kustomization.yaml` for every directory that lacks one, listing its files and
/// subdirectories, so `kustomize build` works on every directory and on each environment.
pub fn kustomizations(
    files: &[impl AsRef<str>],
    set: &TemplateSet,
) -> Result<Vec<Rendered>, Vec<RenderError>> {
    use std::borrow::Cow;
    use std::collections::{BTreeMap, BTreeSet, HashSet};
    let env = environment(set).map_err(|e| vec![e])?;
    // Directory → its entries (files by name, directories as `name/`), borrowed from `files`
    // but for the directories' names: an environment lists ~11 files per tenant, and this
    // pass runs on one thread between the environment's files and their kustomizations.
    let mut dirs: BTreeMap<&str, BTreeSet<Cow<'_, str>>> = BTreeMap::new();
    let mut has_own: BTreeSet<&str> = BTreeSet::new();
    let mut walked: HashSet<&str> = HashSet::new();
    for f in files {
        let f = f.as_ref();
        let (dir, name) = f.rsplit_once('/').unwrap_or(("", f));
        if name == "kustomization.yaml" {
            has_own.insert(dir);
        } else {
            dirs.entry(dir).or_default().insert(Cow::Borrowed(name));
        }
        // Register each ancestor directory with its child directory, once per directory.
        if !walked.insert(dir) {
            continue;
        }
        let mut d = dir;
        while let Some((parent, child)) = d.rsplit_once('/') {
            dirs.entry(parent)
                .or_default()
                .insert(Cow::Owned(format!("{child}/")));
            d = parent;
        }
    }
    let wanted: Vec<(&&str, &BTreeSet<Cow<'_, str>>)> = dirs
        .iter()
        .filter(|(dir, _)| {
            !dir.is_empty()
                && !has_own.contains(*dir)
                && dir.split('/').next() != Some(KYVERNO_TESTS)
        })
        .collect();
    // Rendered in parallel, in directory order.
    let results: Vec<Result<Rendered, RenderError>> = wanted
        .par_iter()
        .map(|(dir, entries)| {
            // Components are included by the cluster's flux-system kustomization, not as
            // resources.
            let resources: Vec<&str> = entries
                .iter()
                .map(|e| e.trim_end_matches('/'))
                .filter(|e| *e != "flux-lockdown" && *e != FLUX_SYSTEM_SYNC)
                .collect();
            let ctx = KustomizationCtx { resources };
            match env
                .get_template("kustomize/kustomization.yaml.j2")
                .and_then(|t| t.render(Value::from(minijinja::value::Serde(&ctx))))
            {
                Ok(text) => Ok(Rendered {
                    path: format!("{dir}/kustomization.yaml"),
                    template: "kustomize/kustomization.yaml.j2".into(),
                    text,
                }),
                Err(e) => Err(RenderError {
                    template: "kustomize/kustomization.yaml.j2".into(),
                    path: format!("{dir}/kustomization.yaml"),
                    message: format!("{e:#}"),
                }),
            }
        })
        .collect();
    all_or_errors(results)
}

/// Every file, or every error when any file failed to render.
fn all_or_errors(
    results: Vec<Result<Rendered, RenderError>>,
) -> Result<Vec<Rendered>, Vec<RenderError>> {
    let mut ok = Vec::with_capacity(results.len());
    let mut errs = Vec::new();
    for r in results {
        match r {
            Ok(x) => ok.push(x),
            Err(e) => errs.push(e),
        }
    }
    if errs.is_empty() { Ok(ok) } else { Err(errs) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The byte pre-scan lets through unchanged only text the character rule leaves alone:
    /// every escaped character is escaped, and text with the pre-scan's bytes in other
    /// characters (é is C3 A9, ｱ is EF BD B1, U+FEFF is EF BB BF) is returned as it came.
    /// A string the formatter writes between quotes at once ([`plain_json`]) is written as
    /// the JSON-then-YAML escaping writes it; names, hosts and paths take that path, and
    /// any escape, quote or control character the full one.
    #[test]
    fn plain_strings_are_written_as_the_escaping_writes_them() {
        let escaped = |t: &str| yaml_safe(&serde_json::to_string(t).unwrap()).into_owned();
        for t in [
            "",
            "team-a",
            "ghcr.io/team-a/api",
            "ssh://git@github.com/example/platform.git",
            "é€\u{10ffff}",
        ] {
            assert!(plain_json(t), "{t:?}");
            assert_eq!(format!("\"{t}\""), escaped(t));
        }
        // Escaped, or (U+00A0, ｱ, U+FEFF) sharing a first byte with a character YAML forbids.
        for t in [
            "a\"b", "a\\b", "a\nb", "\u{1}", "\u{7f}", "\u{85}", "\u{fffe}", "\u{ffff}", "\u{a0}",
            "ｱ", "\u{feff}",
        ] {
            assert!(!plain_json(t), "{t:?}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config { cases: 4000, ..Default::default() })]
        #[test]
        fn a_plain_string_needs_no_escape(t in "\\PC*|[ -~]*|.*") {
            if plain_json(&t) {
                proptest::prop_assert_eq!(
                    format!("\"{t}\""),
                    yaml_safe(&serde_json::to_string(&t).unwrap()).into_owned()
                );
            }
        }
    }

    #[test]
    fn yaml_safe_escapes_exactly_the_characters_yaml_forbids() {
        let by_char = |json: &str| -> String {
            json.chars()
                .map(|c| {
                    if needs_escape(c) {
                        format!("\\u{:04X}", c as u32)
                    } else {
                        c.to_string()
                    }
                })
                .collect()
        };
        let escaped = [
            '\u{7f}', '\u{80}', '\u{85}', '\u{9f}', '\u{fffe}', '\u{ffff}',
        ];
        let kept = [
            'a',
            '\u{a0}',
            'é',
            '€',
            'ｱ',
            '\u{feff}',
            '\u{fffd}',
            '\u{10ffff}',
        ];
        for c in escaped.iter().chain(&kept) {
            let json = format!("\"x{c}y\"");
            let got = yaml_safe(&json);
            assert_eq!(got, by_char(&json), "{c:?}");
            let unchanged = matches!(got, std::borrow::Cow::Borrowed(_));
            assert_eq!(unchanged, kept.contains(c), "{c:?}");
        }
        assert_eq!(yaml_safe("\"\u{7f}\""), "\"\\u007F\"");
        assert_eq!(yaml_safe("\"\u{ffff}\""), "\"\\uFFFF\"");
    }

    /// Each tenant's context is its environment's `tenants` item, equal to the tenant
    /// serialised alone (what templates read as `tenant`).
    #[test]
    fn tenant_contexts_are_the_environment_items() {
        let policy = crate::testing::example_policy();
        let set = TemplateSet::embedded();
        for index in 0..policy.environments.len() {
            let plan = plan_env(&policy, &set, index).expect("the example plans");
            let e = &policy.environments[index];
            assert!(!e.tenants.is_empty());
            assert_eq!(plan.tenant_values.len(), e.tenants.len());
            for (i, t) in e.tenants.iter().enumerate() {
                let shared = &plan.tenant_values[&(std::ptr::from_ref(t) as usize)];
                assert_eq!(*shared, Value::from(minijinja::value::Serde(Some(t))));
                let item = plan.envs[index]
                    .get_attr("tenants")
                    .and_then(|ts| ts.get_item_by_index(i))
                    .expect("the environment lists its tenants");
                assert_eq!(*shared, item, "tenant {}", t.name);
            }
        }
    }
}
