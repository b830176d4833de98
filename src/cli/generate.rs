//! `trustc generate`: model → render → verify → write, or `--check` for drift.

use rayon::prelude::*;
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::path::Path;

use super::{EXIT_OK, EXIT_REFUSED, EXIT_USAGE, Format, GenerateArgs, front_end, report};
use crate::diag::{Code, Diagnostic, Sink, SourceMap};
use crate::render::TemplateSet;
use crate::write::{self, Drift, Tree};
use crate::{model, render, verify};

/// The index of the output tree (`generated/README.md`).
pub(crate) const INDEX: &str = "README.md";

/// Compiles a validated spec into the output tree, in memory (render, verify, invariants). `Err` carries the
/// diagnostics that refused the output.
///
/// One environment at a time (environments share no file and every check is per
/// environment): its parsed documents are dropped once checked, and only the canonical text
/// is kept. A refused environment recompiles the whole output stage by stage
/// ([`compile_whole`]), so the diagnostics are those of every environment at the first
/// stage that refuses.
pub fn compile(
    valid: &crate::check::ValidSpec,
    spec_path: &str,
    templates: &TemplateSet,
) -> Result<Tree, Sink> {
    compile_against(valid, spec_path, templates, None)
}

/// [`compile`], comparing each file with the output directory as soon as it is made:
/// a file equal to its copy there is recorded by digest in [`Tree::unchanged`] and its bytes
/// dropped, so memory holds only what changes. `out` must stay open (and locked) until the
/// tree is written or checked.
pub fn compile_against(
    valid: &crate::check::ValidSpec,
    spec_path: &str,
    templates: &TemplateSet,
    out: Option<&write::Output>,
) -> Result<Tree, Sink> {
    let policy = model::resolve(valid, spec_path);
    let tree = compile_policy(&policy, templates, out);
    // Freed on another worker while the caller writes or checks the tree (at 1,000 tenants
    // ~8 ms of frees).
    rayon::spawn(move || drop(policy));
    tree
}

/// [`compile_against`] on a resolved policy: one environment at a time, so that memory holds
/// one environment's documents. (Compiling small outputs' environments side by side was
/// measured: no faster on two cores, and more memory; see `docs/performance.md`.)
fn compile_policy(
    policy: &model::Policy,
    templates: &TemplateSet,
    out: Option<&write::Output>,
) -> Result<Tree, Sink> {
    // The README's trust maps read only the policy: drawn beside the first environment's
    // compile (one worker takes them while the other starts; at 100 tenants they were a
    // serial tail of a few milliseconds at the end).
    let (maps, compiled) = rayon::join(
        || render::index::trust_maps(policy),
        || compile_envs(policy, templates, out),
    );
    match compiled {
        Some(tree) => Ok(finish(policy, &maps, tree)),
        None => match compile_whole(policy, templates)? {
            (tree, broken) if broken.is_empty() => Ok(tree),
            (_, broken) => Err(broken),
        },
    }
}

/// Every environment through [`compile_env`], in order, into one tree (without the README
/// and manifest [`finish`] adds); `None` as soon as one is refused.
fn compile_envs(
    policy: &model::Policy,
    templates: &TemplateSet,
    out: Option<&write::Output>,
) -> Option<Tree> {
    let header = write::header(&policy.spec_path);
    let mut tree = Tree::default();
    let mut verified = Verified::new();
    let envs = policy.environments.len();
    // Each environment's plan is made beside the previous environment's last checks
    // ([`compile_env`]); the first one here.
    let mut plan = (envs > 0).then(|| render::plan_env(policy, templates, 0));
    for index in 0..envs {
        let this = plan.take().expect("planned").ok()?;
        let (files, next) = compile_env(
            policy,
            templates,
            (index, this),
            &header,
            out,
            &mut verified,
        )?;
        plan = next;
        for (path, kept) in files {
            match kept {
                Kept::Bytes(bytes) => {
                    tree.files.insert(path, bytes);
                }
                Kept::Unchanged(digest, _) => {
                    tree.unchanged.insert(path, digest);
                }
            }
        }
    }
    Some(tree)
}

/// Files of an environment taken in one parallel pass by [`compile_env`]. Each file's
/// rendered text is freed on its worker as soon as it is verified; what the pass keeps of each
/// file waits for the pass to end before it is gathered (and what it verified is recorded for
/// the files of later passes). Measured at 5,000 tenants (`docs/performance.md`): one pass per
/// environment ran ~4% faster at 1,000 tenants but raised the peak by 60–80 MB; 16,384 still
/// by ~40 MB.
const RENDER_PART: usize = 4096;

/// The most files one rayon job of a part takes in a row. Rayon splits a slice into about
/// four runs per worker and a run is never split once started, so a worker that ended its
/// runs waited for the other's last run (at 1,000 tenants ~90 ms of one idle core in an
/// environment, behind the large files it starts with); runs of a few files let it take the
/// rest instead. Order and output are unchanged (`collect` keeps plan order).
const RENDER_RUN: usize = 8;

/// What [`compile_against`] keeps of a file.
enum Kept {
    /// Header and canonical text.
    Bytes(Vec<u8>),
    /// Equal to the output directory's copy: its sha256 (inline: an allocation per file made
    /// on the workers would pin the pages of the documents freed around it) and length.
    Unchanged([u8; 32], u64),
}

/// Like [`compile`], but an output the security invariants refuse is still returned, with
/// the invariants' diagnostics beside it (`trustc diff` describes what a refused change would
/// do). `Err` only when there is no output to describe (a template or schema error).
pub(crate) fn compile_for_review(
    valid: &crate::check::ValidSpec,
    spec_path: &str,
    templates: &TemplateSet,
) -> Result<(Tree, Sink), Sink> {
    let policy = model::resolve(valid, spec_path);
    compile_whole(&policy, templates)
}

/// The index of the tree for its reviewers (`README.md`: Markdown, not verified as YAML; no
/// `kustomization.yaml` lists it, and `access`/`who-can` read only YAML), then the manifest.
///
/// The README is written while the other files are listed with their digests, and its own
/// line is added to that list (at 5,000 tenants each took ~70 ms on one worker, one after the
/// other); the manifest is [`Tree::with_manifest`]'s, byte for byte (tested).
fn finish(policy: &model::Policy, maps: &render::index::TrustMaps, mut tree: Tree) -> Tree {
    tree.files.remove(write::MANIFEST);
    tree.files.remove(INDEX);
    let (index, manifest) = rayon::join(
        || render::index::readme(policy, &tree.paths(), maps).into_bytes(),
        || tree.digests(),
    );
    let mut manifest = manifest;
    let digest = write::sha256(&index);
    let at = manifest.partition_point(|(p, _)| *p < INDEX);
    manifest.insert(at, (INDEX, digest));
    let manifest = write::manifest_text(&manifest).into_bytes();
    tree.files.insert(INDEX.to_string(), index);
    tree.files.insert(write::MANIFEST.to_string(), manifest);
    tree
}

/// One environment (`policy.environments[index]`) through every stage of
/// [`compile_whole`]; `None` when a stage refuses it (or, by a chance collision of identity
/// hashes, might: [`compile_whole`] then decides). Each file's bytes are made (header and
/// canonical text) and compared with `out` as soon as it is verified, and its documents are
/// freed then, but for what the invariants still read: with trustc's own templates, each
/// document is checked alone and only those the whole-environment checks read are kept
/// ([`verify::invariants::Stream`]); with a template override every document is kept for
/// [`verify::invariants::check_env`] (its reference comparison reads them all). The Kyverno
/// CLI tests' documents (no invariant reads them) are freed at once.
///
/// `plan` is the environment's ([`render::plan_env`]); the next environment's plan is made
/// while the checks of the whole environment run, and returned beside the files (at 1,000
/// tenants a plan is ~15 ms on one worker, which otherwise waited).
fn compile_env<'p>(
    policy: &'p model::Policy,
    templates: &TemplateSet,
    (index, plan): (usize, render::Plan<'p>),
    header: &str,
    out: Option<&write::Output>,
    memo: &mut Verified,
) -> Option<EnvFiles<'p>> {
    use verify::invariants::Stream;
    let stream = templates
        .overridden
        .is_empty()
        .then(|| Stream::new(policy, index));
    // What the invariants take of a verified file (its identity hashes and what the stream
    // recorded), freeing the documents they do not read.
    let observe = |m: &mut verify::Manifest| -> Observation {
        if m.path.split('/').next() == Some(render::KYVERNO_TESTS) {
            m.docs = Vec::new();
            Observation::default()
        } else if let Some(stream) = &stream {
            let alike = stream.observes_alike(&m.docs);
            Observation {
                ids: verify::identity_hashes(m),
                facts: stream.observe(m),
                alike,
            }
        } else {
            Observation::default()
        }
    };
    let keep = |m: &mut verify::Manifest| -> Taken {
        let yaml = std::mem::take(&mut m.yaml);
        let seen = observe(m);
        let (head, tail) = (header.as_bytes(), yaml.as_bytes());
        // Compared and hashed as header and text: a file found unchanged (most of them) is
        // never copied into one buffer.
        let kept = match out {
            Some(out) if out.holds_parts(&m.path, head, tail) => Kept::Unchanged(
                write::sha256_parts(head, tail),
                (head.len() + tail.len()) as u64,
            ),
            _ => {
                let mut bytes = Vec::with_capacity(head.len() + tail.len());
                bytes.extend_from_slice(head);
                bytes.extend_from_slice(tail);
                Kept::Bytes(bytes)
            }
        };
        (kept, seen)
    };
    let mut gathered = Gathered::default();
    // A part of the plan: each file rendered and, on the same worker, taken from what an
    // earlier environment verified or verified now (and recorded for the next files and
    // environments); the rendered text of a file is freed as soon as it is taken.
    // The environment's own files first: the few large ones (admission policies listing
    // every tenant, the alerts) start early instead of ending a part on one worker.
    let order: Vec<usize> = (0..plan.len())
        .filter(|&i| plan.is_shared(i))
        .chain((0..plan.len()).filter(|&i| !plan.is_shared(i)))
        .collect();
    let mut start = 0;
    while start < order.len() {
        let end = (start + RENDER_PART).min(order.len());
        let part: Vec<Option<Made>> = order[start..end]
            .par_iter()
            .with_max_len(RENDER_RUN)
            .map(|&i| {
                let r = plan.render_one(i).ok()?;
                made(r, memo, out, &observe, &keep)
            })
            .collect();
        gathered.take(part, memo)?;
        start = end;
    }
    drop(plan);
    let paths: Vec<&str> = gathered.kept.iter().map(|(p, _)| p.as_str()).collect();
    let kustomizations: Vec<Option<Made>> = render::kustomizations(&paths, templates)
        .ok()?
        .into_par_iter()
        .with_max_len(RENDER_RUN)
        .map(|r| made(r, memo, out, &observe, &keep))
        .collect();
    gathered.take(kustomizations, memo)?;
    let Gathered {
        repeated,
        facts,
        verified,
        kept,
        ..
    } = gathered;
    let all: Vec<&verify::Manifest> = verified.iter().collect();
    let next = index + 1;
    let (holds, plan) = rayon::join(
        || holds(policy, index, stream.as_ref(), repeated, &all, &facts),
        || (next < policy.environments.len()).then(|| render::plan_env(policy, templates, next)),
    );
    drop(all);
    if !holds {
        return None;
    }
    // Freeing a million small allocations is no cheaper than making them: in parallel.
    verified.into_par_iter().for_each(drop);
    Some((kept, plan))
}

/// The plan of the next environment, as [`render::plan_env`] made it.
type NextPlan<'p> = Result<render::Plan<'p>, Vec<render::RenderError>>;

/// What [`compile_env`] keeps of each file of an environment, and the next one's plan.
type EnvFiles<'p> = (Vec<(String, Kept)>, Option<NextPlan<'p>>);

/// Whether the invariants hold for environment `index`, given its files' documents
/// (`all`: those the stream kept, or every one with a template override) and what the stream
/// recorded (see [`compile_env`]).
fn holds(
    policy: &model::Policy,
    index: usize,
    stream: Option<&verify::invariants::Stream<'_>>,
    repeated: bool,
    all: &[&verify::Manifest],
    facts: &verify::invariants::Facts,
) -> bool {
    match stream {
        Some(stream) => !repeated && stream.holds(all, facts),
        None => {
            let Ok(reference) = verify::invariants::reference_env(policy, index) else {
                return false;
            };
            let reference: Vec<&verify::Manifest> = reference.iter().collect();
            verify::duplicates(all).is_empty()
                && verify::invariants::check_env(policy, index, all, Some(&reference)).is_empty()
        }
    }
}

/// Verifications made for earlier environments: the sha256 of a rendered text → the length
/// and sha256 of the bytes (header and canonical text) it verified to, recorded when the
/// output directory held exactly those bytes, and what the invariants' stream observed of it
/// when that is the same in every environment ([`Observation::alike`]).
///
/// Verification is a function of the rendered text alone (parse, schema, canonical writer:
/// the path and template only name a failure), so a later file with the same text verifies
/// to the same documents and bytes. When its copy in the output directory has that length
/// and digest, [`reuse_one`] only parses its documents for the invariants (none for a Kyverno
/// CLI test), which still judge them in their own environment, unless the stream's observation
/// was recorded: then it is taken as it is, and the text is not parsed at all (a tenant's
/// ServiceAccount, NetworkPolicies, image policies and deploy key; its Roles, RoleBindings and
/// signers are kept for the whole-environment checks and parsed again). At 1,000 tenants two
/// thirds of a tenant's bytes are the same in every environment (its RBAC, NetworkPolicies,
/// signers, Kyverno CLI test resources). sha256, not a faster hash: the text comes from the
/// trust model, and a chosen collision must not select another file's bytes.
type Verified = HashMap<[u8; 32], Memo>;

/// What [`Verified`] holds of a rendered text.
struct Memo {
    /// Length of the bytes it verified to.
    len: u64,
    /// sha256 of those bytes.
    digest: [u8; 32],
    /// The stream's observation of its documents, when [`Observation::alike`] (boxed: most
    /// texts have none, and at 5,000 tenants the memo holds ~110,000 of them).
    observed: Option<Box<Observation>>,
}

/// What the invariants' stream took of a file ([`verify::invariants::Stream::observe`]),
/// beside the documents it kept.
#[derive(Default, Clone)]
struct Observation {
    /// Identity hashes of its objects ([`verify::identity_hashes`]).
    ids: Vec<u64>,
    /// What the stream recorded.
    facts: verify::invariants::Facts,
    /// Whether the stream kept no document and recorded what it would in any environment
    /// ([`verify::invariants::Stream::observes_alike`]).
    alike: bool,
}

/// A file of a part, as [`made`] took it.
enum Made {
    /// Taken from what an earlier file verified ([`Verified`]).
    Reused(verify::Manifest, Taken),
    /// Verified now; the sha256 of its rendered text when an output directory is compared
    /// (to record what it verified to).
    Verified(verify::Manifest, Taken, Option<[u8; 32]>),
    /// No document.
    Empty,
}

/// One rendered file: reused as [`reuse_one`] takes it, else verified and kept by `keep`; `None`
/// when verification refuses it.
fn made(
    r: render::Rendered,
    memo: &Verified,
    out: Option<&write::Output>,
    observe: &(impl Fn(&mut verify::Manifest) -> Observation + Sync),
    keep: &(impl Fn(&mut verify::Manifest) -> Taken + Sync),
) -> Option<Made> {
    let (r, key) = match out {
        None => (r, None),
        Some(out) => match reuse_one(r, memo, out, observe) {
            Ok((m, t)) => return Some(Made::Reused(m, t)),
            Err((r, key)) => (r, Some(key)),
        },
    };
    match verify::verify_file(r, keep).ok()? {
        Some((m, t)) => Some(Made::Verified(m, t, key)),
        None => Some(Made::Empty),
    }
}

/// One file taken from what an earlier file verified ([`Verified`]): when its text was
/// verified before and the output directory holds exactly the bytes it verified to, its
/// documents are parsed for the invariants only (none for a Kyverno CLI test, none when the
/// stream's observation was recorded with the text: [`Memo::observed`]). `Ok` when reused,
/// else the file back with the sha256 of its text.
fn reuse_one(
    r: render::Rendered,
    memo: &Verified,
    out: &write::Output,
    observe: &(impl Fn(&mut verify::Manifest) -> Observation + Sync),
) -> Result<(verify::Manifest, Taken), (render::Rendered, [u8; 32])> {
    let key = write::sha256(r.text.as_bytes());
    let Some(memo) = memo.get(&key) else {
        return Err((r, key));
    };
    let (len, digest) = (memo.len, memo.digest);
    if !out.holds_digest(&r.path, len, &digest) {
        return Err((r, key));
    }
    if let Some(seen) = &memo.observed {
        let render::Rendered { path, template, .. } = r;
        let m = verify::Manifest {
            path,
            template,
            docs: Vec::new(),
            yaml: String::new(),
        };
        return Ok((m, (Kept::Unchanged(digest, len), Observation::clone(seen))));
    }
    let docs = if r.path.split('/').next() == Some(render::KYVERNO_TESTS) {
        Vec::new()
    } else {
        match verify::parse_documents(&r.text) {
            Ok(docs) => docs,
            Err(_) => return Err((r, key)),
        }
    };
    let render::Rendered { path, template, .. } = r;
    let mut m = verify::Manifest {
        path,
        template,
        docs,
        yaml: String::new(),
    };
    let seen = observe(&mut m);
    Ok((m, (Kept::Unchanged(digest, len), seen)))
}

/// What [`compile_env`] takes of each file as it is verified: its bytes (or digest), the
/// identity hashes of its objects, and what the invariants' stream recorded of it.
type Taken = (Kept, Observation);

/// What [`compile_env`] gathers of an environment's files, part by part.
#[derive(Default)]
struct Gathered {
    /// Identity hashes of the objects so far ([`verify::identity_hashes`]).
    seen: HashSet<u64>,
    /// Whether an identity hash came twice.
    repeated: bool,
    /// What [`verify::invariants::Stream::observe`] recorded.
    facts: verify::invariants::Facts,
    /// The files with documents the invariants still read.
    verified: Vec<verify::Manifest>,
    /// Every file: its path and what is kept of it.
    kept: Vec<(String, Kept)>,
}

impl Gathered {
    /// Takes a part's files in order, recording in `memo` what each file verified now
    /// verified to; `None` when any file was refused.
    fn take(&mut self, part: Vec<Option<Made>>, memo: &mut Verified) -> Option<()> {
        if part.iter().any(Option::is_none) {
            return None;
        }
        for m in part.into_iter().flatten() {
            match m {
                Made::Reused(m, t) => self.take_one(m, t),
                Made::Verified(m, t, key) => {
                    if let (Kept::Unchanged(digest, len), Some(key)) = (&t.0, key) {
                        let memo_of = Memo {
                            len: *len,
                            digest: *digest,
                            observed: t.1.alike.then(|| Box::new(t.1.clone())),
                        };
                        memo.insert(key, memo_of);
                    }
                    self.take_one(m, t);
                }
                Made::Empty => {}
            }
        }
        Some(())
    }

    fn take_one(&mut self, m: verify::Manifest, (k, seen): Taken) {
        for id in seen.ids {
            self.repeated |= !self.seen.insert(id);
        }
        self.facts.merge(seen.facts);
        if m.docs.is_empty() {
            self.kept.push((m.path, k));
        } else {
            self.kept.push((m.path.clone(), k));
            self.verified.push(m);
        }
    }
}

/// The whole output through each stage in turn (every environment rendered, then verified,
/// then checked): what [`compile`] does one environment at a time, and the diagnostics it
/// reports when an environment is refused. The invariants' diagnostics come back beside the
/// tree (the caller refuses it); `Err` when a stage before them refuses.
fn compile_whole(policy: &model::Policy, templates: &TemplateSet) -> Result<(Tree, Sink), Sink> {
    let mut sink = Sink::new();
    let mut rendered = match render::render(policy, templates) {
        Ok(r) => r,
        Err(errors) => {
            for e in errors {
                sink.push(template_error(&e));
            }
            return Err(sink);
        }
    };
    let verified = match verify::verify(&rendered) {
        Ok(v) => v,
        Err(diags) => {
            for d in diags {
                sink.push(d);
            }
            return Err(sink);
        }
    };
    // Directory kustomizations list what survived verification.
    let paths: Vec<String> = verified.iter().map(|m| m.path.clone()).collect();
    rendered = match render::kustomizations(&paths, templates) {
        Ok(r) => r,
        Err(errors) => {
            for e in errors {
                sink.push(template_error(&e));
            }
            return Err(sink);
        }
    };
    let kust = match verify::verify(&rendered) {
        Ok(v) => v,
        Err(diags) => {
            for d in diags {
                sink.push(d);
            }
            return Err(sink);
        }
    };
    // Security invariants on the very documents about to be written.
    let all: Vec<&verify::Manifest> = verified.iter().chain(kust.iter()).collect();
    // With overrides, the protective documents are compared with trustc's own rendering.
    let reference = if templates.overridden.is_empty() {
        None
    } else {
        match verify::invariants::reference(policy) {
            Ok(r) => Some(r),
            Err(diags) => {
                for d in diags {
                    sink.push(d);
                }
                return Err(sink);
            }
        }
    };
    let reference: Option<Vec<&verify::Manifest>> = reference.as_ref().map(|r| r.iter().collect());
    for d in verify::invariants::check(policy, &all, reference.as_deref()) {
        sink.push(d);
    }
    let header = write::header(&policy.spec_path);
    let mut tree = Tree::default();
    for m in verified.into_iter().chain(kust) {
        let mut bytes = header.clone().into_bytes();
        bytes.extend_from_slice(m.yaml.as_bytes());
        tree.files.insert(m.path, bytes);
    }
    Ok((
        finish(policy, &render::index::trust_maps(policy), tree),
        sink,
    ))
}

/// The spec's path as generated files record it: independent of the working directory and
/// of how the path was typed, so the same spec compiles to the same bytes from anywhere.
///
/// Relative to the repository root (the nearest ancestor of the spec holding `.git`), else
/// relative to the output directory's parent; `/`-separated. Falls back to the file name
/// when neither can be resolved.
pub(crate) fn recorded_spec_path(spec: &Path, out: &Path) -> String {
    let file_name = || {
        spec.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "trust.toml".to_string())
    };
    let Ok(spec_abs) = std::fs::canonicalize(spec) else {
        return file_name();
    };
    let repo = spec_abs
        .ancestors()
        .skip(1)
        .find(|d| d.join(".git").exists())
        .map(Path::to_path_buf);
    let base = match repo {
        Some(r) => r,
        None => match canonical_parent_of(out) {
            Some(b) => b,
            None => return file_name(),
        },
    };
    relative_path(&base, &spec_abs).unwrap_or_else(file_name)
}

/// The canonical parent of `out`, which may not exist yet: its nearest existing ancestor
/// canonicalised, with the missing components appended.
fn canonical_parent_of(out: &Path) -> Option<std::path::PathBuf> {
    let abs = if out.is_absolute() {
        out.to_path_buf()
    } else {
        std::env::current_dir().ok()?.join(out)
    };
    let mut missing = Vec::new();
    let mut cur = abs.as_path();
    loop {
        if let Ok(c) = std::fs::canonicalize(cur) {
            let mut full = c;
            for m in missing.iter().rev() {
                full.push(m);
            }
            return full.parent().map(Path::to_path_buf);
        }
        missing.push(cur.file_name()?.to_os_string());
        cur = cur.parent()?;
    }
}

/// `to` relative to `from` (both absolute and canonical), `/`-separated, with `..` where
/// `to` is not below `from`.
fn relative_path(from: &Path, to: &Path) -> Option<String> {
    use std::path::Component;
    let f: Vec<Component> = from.components().collect();
    let t: Vec<Component> = to.components().collect();
    let common = f.iter().zip(&t).take_while(|(a, b)| a == b).count();
    if common == 0 {
        return None;
    }
    let mut parts: Vec<String> = vec!["..".to_string(); f.len() - common];
    for c in &t[common..] {
        parts.push(c.as_os_str().to_string_lossy().into_owned());
    }
    Some(parts.join("/"))
}

fn template_error(e: &render::RenderError) -> Diagnostic {
    Diagnostic::new(
        Code::TemplateError,
        format!(
            "template `{}` failed to render `{}`: {}",
            e.template, e.path, e.message
        ),
    )
    .help("fix the template override (or remove it to use trustc's own)")
}

pub(super) fn cmd_generate(a: &GenerateArgs) -> i32 {
    // The schemas are compiled on another core while the spec is read and checked.
    rayon::spawn(verify::prepare);
    let mut map = SourceMap::new();
    let valid = match front_end(&a.spec, &mut map) {
        Ok(v) => v,
        Err(code) => return code,
    };
    if let Some(on_scale) = super::ON_SCALE.get() {
        on_scale(valid.spec.tenants.len() * valid.spec.environments.len());
    }
    // An existing output directory is opened and locked once the spec is sound (exclusive for
    // a write, shared for `--check`), so that each file is compared with it as it is compiled
    // and only what changes is kept, and it is listed while the trust model is resolved. Not
    // after an interrupted write (its recovery comes first, below), and an error here is
    // reported by the open below.
    let existing = write::Output::open(&a.out, false, !a.check).ok().flatten();
    if let Some(out) = existing.as_ref().filter(|o| !o.pending_write()) {
        out.prefetch_listing();
    }
    let templates = match &a.templates {
        None => TemplateSet::embedded(),
        Some(dir) => match TemplateSet::with_overrides(dir) {
            Ok(t) => t,
            Err(e @ render::OverrideError::Io(..)) => {
                eprintln!("error: {e}");
                return EXIT_USAGE;
            }
            Err(e) => {
                eprintln!("error: {e}");
                return EXIT_REFUSED;
            }
        },
    };
    let spec_path = recorded_spec_path(&a.spec.spec, &a.out);
    let baseline = existing.as_ref().filter(|o| !o.pending_write());
    let tree = match compile_against(&valid, &spec_path, &templates, baseline) {
        Ok(t) => t,
        Err(sink) => {
            eprintln!(
                "error: the output was refused; nothing under `{}` was changed",
                a.out.display()
            );
            report(&map, sink, a.spec.format);
            return EXIT_REFUSED;
        }
    };
    if a.check {
        return check_drift(&tree, &a.out, existing, a.diff, &regenerate_command(a));
    }
    let out = match existing {
        Some(out) => out,
        None => match write::Output::open(&a.out, true, true) {
            Ok(Some(out)) => out,
            Ok(None) => unreachable!("created"),
            Err(e) => return write_failed(&e, &a.out),
        },
    };
    // An interrupted earlier write is completed (or its temporaries removed) first.
    match out.recover() {
        Ok(Some(r)) => eprintln!("note: `{}`: {r}", a.out.display()),
        Ok(None) => {}
        Err(e) => return write_failed(&e, &a.out),
    }
    let code = match write::write_in(&tree, &out) {
        Ok(stats) => {
            for rel in &stats.kept {
                eprintln!(
                    "warning[{}]: kept `{}`: listed in `{}` but not a file trustc wrote (its sha256 differs); remove it by hand if it should go",
                    Code::ForeignManifestEntry.id(),
                    crate::diag::escape(&a.out.join(rel).display().to_string()),
                    write::MANIFEST
                );
            }
            if a.spec.format == Format::Human {
                let changed = stats.written + stats.deleted > 0;
                if !a.quiet {
                    eprint!("{}", changes(&stats));
                }
                if !a.quiet || changed {
                    eprintln!(
                        "{}: {} files ({} written, {} unchanged, {} pruned)",
                        crate::diag::escape(&a.out.display().to_string()),
                        tree.len(),
                        stats.written,
                        stats.unchanged,
                        stats.deleted
                    );
                }
            }
            EXIT_OK
        }
        Err(e) => write_failed(&e, &a.out),
    };
    // The tree and the spec are left to the exit (freeing them path by path was ~25 ms at
    // 5,000 tenants).
    super::leave_to_exit(tree);
    super::leave_to_exit(valid);
    code
}

/// What a write changed, one line per directory (so by environment and tenant), relative to
/// the output directory: `production/tenants/payments: role.yaml, sync.yaml written`.
/// Unchanged files and trustc's own manifest are not listed.
fn changes(stats: &write::Stats) -> String {
    use std::collections::BTreeMap;
    // dir → (written, pruned)
    let mut dirs: BTreeMap<&str, (Vec<&str>, Vec<&str>)> = BTreeMap::new();
    for (rel, pruned) in stats
        .written_paths
        .iter()
        .map(|r| (r, false))
        .chain(stats.pruned_paths.iter().map(|r| (r, true)))
    {
        if rel == write::MANIFEST {
            continue;
        }
        let (dir, file) = rel.rsplit_once('/').unwrap_or(("", rel.as_str()));
        let entry = dirs.entry(dir).or_default();
        if pruned {
            entry.1.push(file);
        } else {
            entry.0.push(file);
        }
    }
    let mut out = String::new();
    for (dir, (mut written, mut pruned)) in dirs {
        written.sort_unstable();
        pruned.sort_unstable();
        let mut parts = Vec::new();
        if !written.is_empty() {
            parts.push(format!("{} written", written.join(", ")));
        }
        if !pruned.is_empty() {
            parts.push(format!("{} pruned", pruned.join(", ")));
        }
        let line = if dir.is_empty() {
            parts.join("; ")
        } else {
            format!("{dir}: {}", parts.join("; "))
        };
        out.push_str(&crate::diag::escape(&line));
        out.push('\n');
    }
    out
}

/// The `trustc generate` command line that regenerates this tree: `--spec`, `--out` and
/// `--templates` repeated as the user typed them (quoted for a POSIX shell where needed),
/// so the pasted command writes the same tree from the same directory.
fn regenerate_command(a: &GenerateArgs) -> String {
    let mut cmd = String::from("trustc generate");
    let mut push = |flag: &str, p: &Path| {
        cmd.push(' ');
        cmd.push_str(flag);
        cmd.push(' ');
        cmd.push_str(&shell_quote(&p.to_string_lossy()));
    };
    if a.spec_given {
        push("--spec", &a.spec.spec);
    }
    if a.out_given {
        push("--out", &a.out);
    }
    if let Some(t) = &a.templates {
        push("--templates", t);
    }
    cmd
}

/// `s` as one POSIX shell word: bare when it has only safe characters, else single-quoted.
fn shell_quote(s: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "_-./+=:,@%".contains(c);
    if !s.is_empty() && s.chars().all(safe) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// Reports a failed write. "Nothing was changed" only when that is true: before the
/// journal's commit point.
fn write_failed(e: &write::WriteError, out: &Path) -> i32 {
    match e.code() {
        Some(code) => eprintln!("error[{}]: {e}", code.id()),
        None => eprintln!("error: {e}"),
    }
    if e.changed() {
        eprintln!(
            "note: the write into `{}` had begun; its journal `{}` lets the next `trustc generate` complete it, and `trustc generate --check` reports it until then",
            out.display(),
            write::JOURNAL
        );
    } else {
        eprintln!("note: nothing under `{}` was changed", out.display());
    }
    if e.is_refusal() {
        EXIT_REFUSED
    } else {
        EXIT_USAGE
    }
}

fn check_drift(
    tree: &Tree,
    out_path: &Path,
    existing: Option<write::Output>,
    show_diff: bool,
    regenerate: &str,
) -> i32 {
    let opened = match existing {
        Some(o) => Ok(Some(o)),
        None => write::Output::open(out_path, false, false),
    };
    let out = match opened {
        Ok(o) => o,
        Err(e) => {
            match e.code() {
                Some(code) => eprintln!("error[{}]: {e}", code.id()),
                None => eprintln!("error: {e}"),
            }
            return if e.is_refusal() {
                EXIT_REFUSED
            } else {
                EXIT_USAGE
            };
        }
    };
    let drift = match write::drift_in(tree, out.as_ref()) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    if drift.is_empty() {
        eprintln!("{}: up to date ({} files)", out_path.display(), tree.len());
        return EXIT_OK;
    }
    // Printed with `print!` (not a locked handle) so the test harness captures it.
    let mut stdout = String::new();
    for d in &drift {
        let what = match d {
            Drift::Changed(_) => "changed".to_string(),
            Drift::Missing(_) => "missing".to_string(),
            Drift::Stale(_) => "stale".to_string(),
            Drift::NotRegular(_, k) => {
                format!("not a regular file ({}, never followed)", k.describe())
            }
            Drift::Foreign(_) => "listed in the manifest but not written by trustc".to_string(),
            Drift::Interrupted(_) => {
                "left by an interrupted write; run `trustc generate`".to_string()
            }
        };
        let shown = out_path.join(d.path()).display().to_string();
        let _ = writeln!(stdout, "{what}: {}", crate::diag::escape(&shown));
        // A diff only of regular files, read without following links and bounded.
        let diffable = matches!(d, Drift::Changed(_) | Drift::Missing(_) | Drift::Stale(_));
        if show_diff && diffable {
            let rel = d.path();
            let old = out
                .as_ref()
                .and_then(|o| o.read(rel).ok().flatten())
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default();
            let new = tree
                .files
                .get(rel)
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            let diff = write::unified_diff(rel, &escape_lines(&old), &escape_lines(&new));
            let _ = write!(stdout, "{diff}");
        }
    }
    let interrupted = drift.iter().any(|d| matches!(d, Drift::Interrupted(_)));
    let code = if interrupted {
        Code::InterruptedWrite
    } else if drift.iter().any(|d| matches!(d, Drift::NotRegular(..))) {
        Code::OutputNotRegular
    } else {
        Code::OutputDrift
    };
    print!("{stdout}");
    eprintln!(
        "error[{}]: {} file(s) under `{}` differ from what the spec compiles to; run `{}`",
        code.id(),
        drift.len(),
        crate::diag::escape(&out_path.display().to_string()),
        crate::diag::escape(regenerate)
    );
    EXIT_REFUSED
}

/// Escapes terminal control characters line by line (keeping the newlines a diff needs).
fn escape_lines(text: &str) -> String {
    text.split_inclusive('\n')
        .map(|l| match l.strip_suffix('\n') {
            Some(body) => format!("{}\n", crate::diag::escape(body)),
            None => crate::diag::escape(l).into_owned(),
        })
        .collect()
}
