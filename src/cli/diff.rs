//! `trustc diff`: what a change of the trust model lets whom do (see [`crate::diff`]).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use super::{DiffArgs, DiffFormat, EXIT_OK, EXIT_REFUSED, EXIT_USAGE, FailOnArg};
use super::{context, generate::recorded_spec_path, load_and_check};
use crate::diag::{self, Sink, SourceMap};
use crate::diff::{self, FailOn, Side};
use crate::render::TemplateSet;

/// One compiled version, owned.
struct Compiled {
    valid: crate::check::ValidSpec,
    map: SourceMap,
    policy: crate::model::Policy,
    tree: crate::write::Tree,
    /// What the security invariants refuse in this output (empty when `generate` accepts it).
    refused: Vec<crate::diag::Diagnostic>,
}

/// One version read and checked, not yet compiled.
struct Loaded {
    valid: crate::check::ValidSpec,
    map: SourceMap,
    set: TemplateSet,
    spec_path: String,
}

fn load_side(spec: &Path, templates: Option<&Path>, label: &str) -> Result<Loaded, i32> {
    let mut map = SourceMap::new();
    let mut sink = Sink::new();
    let valid = match load_and_check(spec, &context(), &mut map, &mut sink) {
        Ok(v) => v,
        Err(e) => {
            eprintln!(
                "error: cannot read the {label} spec `{}`: {e}",
                spec.display()
            );
            return Err(EXIT_USAGE);
        }
    };
    let failed = sink.has_errors();
    let valid = match valid {
        Some(v) if !failed => v,
        _ => {
            eprint!("{}", diag::render_all(&map, &sink.into_sorted()));
            eprintln!("error: the {label} spec is refused; `trustc diff` compares two sound specs");
            return Err(EXIT_USAGE);
        }
    };
    let set = match templates {
        None => TemplateSet::embedded(),
        Some(dir) => match TemplateSet::with_overrides(dir) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("error: {label} templates: {e}");
                return Err(EXIT_USAGE);
            }
        },
    };
    let spec_path = recorded_spec_path(spec, Path::new("generated"));
    Ok(Loaded {
        valid,
        map,
        set,
        spec_path,
    })
}

/// Compiles a loaded version; with `only`, just those tenants (see [`changed_tenants`]).
fn compile_side(l: Loaded, only: Option<&BTreeSet<String>>, label: &str) -> Result<Compiled, i32> {
    let mut reduced = l.valid.clone();
    if let Some(only) = only {
        reduced.spec.tenants.retain(|name, _| only.contains(name));
    }
    let policy = crate::model::resolve(&reduced, &l.spec_path);
    let (tree, refused) = match super::generate::compile_for_review(&reduced, &l.spec_path, &l.set)
    {
        Ok((t, broken)) => (t, broken.into_sorted()),
        Err(sink) => {
            eprint!("{}", diag::render_all(&l.map, &sink.into_sorted()));
            eprintln!("error: the {label} output is refused");
            return Err(EXIT_USAGE);
        }
    };
    Ok(Compiled {
        valid: l.valid,
        map: l.map,
        policy,
        tree,
        refused,
    })
}

/// The tenants whose resolved model differs between the two versions (added, removed or
/// changed in any environment), or `None` when anything outside the tenants differs (Flux,
/// admission, an environment, the platform tier) and every tenant must be compiled.
///
/// Sound because tenants are independent in trustc's output: their namespaces are disjoint
/// (check refuses overlaps), each tenant's documents depend only on its own model and the
/// shared settings, and the cluster-wide policies hold one entry per tenant. An unchanged
/// tenant therefore contributes the same facts to both sides, and leaving it out of both
/// changes no comparison. Not used with template overrides (an override may couple tenants).
fn changed_tenants(
    base: &crate::check::ValidSpec,
    new: &crate::check::ValidSpec,
) -> Option<BTreeSet<String>> {
    let (b, n) = (
        crate::model::resolve(base, ""),
        crate::model::resolve(new, ""),
    );
    let shared = |p: &crate::model::Policy| {
        let envs: Vec<String> = p
            .environments
            .iter()
            .map(|e| json(&(&e.name, &e.branch, e.production, &e.platform)))
            .collect();
        (
            json(&p.flux),
            json(&p.engine),
            p.kyverno_version.clone(),
            envs,
        )
    };
    if shared(&b) != shared(&n) {
        return None;
    }
    let tenants = |p: &crate::model::Policy| -> BTreeMap<(String, String), String> {
        p.environments
            .iter()
            .flat_map(|e| {
                e.tenants
                    .iter()
                    .map(|t| ((e.name.clone(), t.name.clone()), json(t)))
            })
            .collect()
    };
    let (tb, tn) = (tenants(&b), tenants(&n));
    let mut changed = BTreeSet::new();
    for k in tb.keys().chain(tn.keys()) {
        if tb.get(k) != tn.get(k) {
            changed.insert(k.1.clone());
        }
    }
    // Keep one unchanged tenant in every environment too, so that what exists only while an
    // environment has tenants (its admission policies, say) exists on both sides: removing
    // the only changed tenant must not read as removing the policies.
    let mut anchors = BTreeSet::new();
    for ((env, name), text) in &tb {
        if !changed.contains(name)
            && tn.get(&(env.clone(), name.clone())) == Some(text)
            && !anchors.iter().any(|(e, _): &(String, String)| e == env)
        {
            anchors.insert((env.clone(), name.clone()));
        }
    }
    changed.extend(anchors.into_iter().map(|(_, name)| name));
    Some(changed)
}

/// A model value as JSON, to compare it (the model types are `Serialize`).
fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("model values serialize")
}

fn side(c: &Compiled) -> Side<'_> {
    Side {
        spec: &c.valid.spec,
        signer_keys: &c.valid.signer_keys,
        map: &c.map,
        policy: &c.policy,
        tree: &c.tree,
    }
}

/// Runs `git` in `dir`; stdout on success.
fn git(dir: &Path, args: &[&str]) -> Result<Vec<u8>, String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "git {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(out.stdout)
}

/// Writes the spec's directory as it is at `rev` into `into`; returns the base spec's path
/// there and the spec's repository-relative path.
fn checkout_base(spec: &Path, rev: &str, into: &Path) -> Result<(PathBuf, String), String> {
    let spec_abs = std::fs::canonicalize(spec)
        .map_err(|e| format!("cannot resolve `{}`: {e}", spec.display()))?;
    let dir = spec_abs.parent().unwrap_or(Path::new("/"));
    let top = git(dir, &["rev-parse", "--show-toplevel"])?;
    let top = PathBuf::from(String::from_utf8_lossy(&top).trim());
    let top = std::fs::canonicalize(&top).unwrap_or(top);
    let rel = spec_abs
        .strip_prefix(&top)
        .map_err(|_| "the spec is not inside its git repository".to_string())?;
    let rel_s = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/");
    let rel_dir = rel_s.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
    let listing = git(
        &top,
        &[
            "ls-tree",
            "-r",
            "-z",
            "--name-only",
            rev,
            "--",
            if rel_dir.is_empty() { "." } else { rel_dir },
        ],
    )?;
    let mut found = false;
    for name in listing.split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let name = String::from_utf8_lossy(name).into_owned();
        let blob = git(&top, &["show", &format!("{rev}:{name}")])?;
        let target = into.join(&name);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
        }
        std::fs::write(&target, blob).map_err(|e| e.to_string())?;
        found |= name == rel_s;
    }
    if !found {
        return Err(format!("`{rel_s}` does not exist at `{rev}`"));
    }
    Ok((into.join(&rel_s), rel_s))
}

pub(super) fn cmd_diff(a: &DiffArgs) -> i32 {
    let new = match load_side(&a.spec, a.templates.as_deref(), "new") {
        Ok(c) => c,
        Err(code) => return code,
    };
    let spec_uri = recorded_spec_path(&a.spec, Path::new("generated"));
    let tmp;
    let (base_spec, base_label) = match (&a.base, &a.base_spec) {
        (Some(rev), None) => {
            tmp = match tempfile::tempdir() {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("error: cannot create a temporary directory: {e}");
                    return EXIT_USAGE;
                }
            };
            match checkout_base(&a.spec, rev, tmp.path()) {
                Ok((path, rel)) => (path, format!("{rev}:{rel}")),
                Err(e) => {
                    eprintln!("error: cannot read the base spec from git: {e}");
                    eprintln!(
                        "help: REF is a git revision of the repository holding the spec (`HEAD`, `main`, a commit); in CI, fetch the target branch first (`git fetch origin main`, then `--base origin/main`)"
                    );
                    return EXIT_USAGE;
                }
            }
        }
        (None, Some(file)) => (file.clone(), file.display().to_string()),
        _ => {
            eprintln!("error: pass `--base REF` (a git revision) or `--base-spec FILE`");
            return EXIT_USAGE;
        }
    };
    let base = match load_side(&base_spec, a.base_templates.as_deref(), "base") {
        Ok(c) => c,
        Err(code) => return code,
    };
    // Compile only the tenants that changed, when that is sound (no overrides, nothing
    // shared changed) and not turned off with `--full`.
    let only = if a.full || a.templates.is_some() || a.base_templates.is_some() {
        None
    } else {
        changed_tenants(&base.valid, &new.valid)
    };
    let base = match compile_side(base, only.as_ref(), "base") {
        Ok(c) => c,
        Err(code) => return code,
    };
    let new = match compile_side(new, only.as_ref(), "new") {
        Ok(c) => c,
        Err(code) => return code,
    };
    let mut changes = diff::compare(&side(&base), &side(&new));
    // A changed output the invariants refuse: say so, as weakenings, and on stderr.
    if !new.refused.is_empty() {
        eprintln!(
            "note: `trustc generate` refuses the changed output ({} invariant(s) broken); the changes below describe what it would do",
            new.refused.len()
        );
    }
    changes.extend(
        new.refused
            .iter()
            .map(|d| diff::invariant_broken(d.code.id(), &d.message)),
    );
    // Name files as a reviewer reads them: repository-relative, the base by revision.
    for c in &mut changes {
        if let Some(l) = &mut c.location {
            l.file = if l.in_base {
                base_label.clone()
            } else {
                spec_uri.clone()
            };
        }
    }
    let text = match a.format {
        DiffFormat::Human => diff::render_human(&changes),
        DiffFormat::Markdown => diff::render_markdown(&changes),
        DiffFormat::Json => diff::render_json(&changes, &base_label),
        DiffFormat::Sarif => diff::render_sarif(&changes, &spec_uri),
        DiffFormat::Codequality => diff::render_codequality(&changes, &spec_uri),
    };
    print!("{text}");
    let fail_on = match a.fail_on {
        FailOnArg::Escalation => FailOn::Escalation,
        FailOnArg::Weakening => FailOn::Weakening,
        FailOnArg::Any => FailOn::Any,
        FailOnArg::Never => FailOn::Never,
    };
    if diff::fails(&changes, fail_on) {
        EXIT_REFUSED
    } else {
        EXIT_OK
    }
}
