//! Scale properties of `generate`, counted rather than timed (the timings are in
//! `cargo bench --bench generate` and docs/performance.md):
//!
//! - the output does not depend on parallelism nor on compiling one environment at a time;
//! - the invariants' work grows linearly with the number of tenants.

use std::path::{Path, PathBuf};

use trustc::render::TemplateSet;
use trustc::verify::{self, Manifest};
use trustc::write::Tree;

use crate::support;

/// The example spec with its one tenant (`payments`) replaced by `n` copies of it, each
/// renamed (`t000`, `t001`, …): every tenant has the same shape, so each one adds the same
/// work and any growth faster than linear comes from the compiler.
fn spec_with(n: usize, dir: &Path) -> PathBuf {
    let root = support::root().join("policy-spec");
    let text = std::fs::read_to_string(root.join("trust.toml")).expect("example spec");
    let start = text
        .find("[tenants.payments]")
        .expect("the example's tenant");
    let end = text.find("[kinds.").expect("the example's kinds table");
    let tenant = &text[start..end];
    let mut spec = text[..start].to_string();
    for i in 0..n {
        spec.push_str(&tenant.replace("payments", &format!("t{i:03}")));
    }
    spec.push_str(&text[end..]);
    std::fs::create_dir_all(dir.join("keys")).expect("keys dir");
    for k in ["alice.asc", "bob.asc", "cosign.pub"] {
        std::fs::copy(root.join("keys").join(k), dir.join("keys").join(k)).expect("copy key");
    }
    let path = dir.join("trust.toml");
    std::fs::write(&path, spec).expect("write spec");
    path
}

fn valid(spec: &Path) -> trustc::check::ValidSpec {
    let (_, diags, valid) = support::front(spec, &support::fixture_clock(""));
    assert!(
        diags.iter().all(|d| !d.is_error()),
        "the synthetic spec is refused: {:?}",
        diags.iter().map(|d| &d.message).collect::<Vec<_>>()
    );
    valid.expect("a valid spec")
}

fn compile(valid: &trustc::check::ValidSpec, set: &TemplateSet) -> Tree {
    match trustc::cli::compile(valid, "trust.toml", set) {
        Ok(t) => t,
        Err(_) => panic!("the synthetic spec does not compile"),
    }
}

/// The whole output through each stage in turn, with the public stages (render every
/// environment, verify, kustomizations, invariants), as `generate` did before it compiled one
/// environment at a time.
fn compile_whole(valid: &trustc::check::ValidSpec, set: &TemplateSet) -> Tree {
    let policy = trustc::model::resolve(valid, "trust.toml");
    let rendered = trustc::render::render(&policy, set).expect("render");
    let verified = verify::verify(&rendered).expect("verify");
    let paths: Vec<String> = verified.iter().map(|m| m.path.clone()).collect();
    let kust = trustc::render::kustomizations(&paths, set).expect("kustomizations");
    let kust = verify::verify(&kust).expect("verify kustomizations");
    let all: Vec<&Manifest> = verified.iter().chain(kust.iter()).collect();
    assert!(verify::invariants::check(&policy, &all, None).is_empty());
    let header = trustc::write::header(&policy.spec_path);
    let mut tree = Tree::default();
    for m in verified.into_iter().chain(kust) {
        tree.files
            .insert(m.path, format!("{header}{}", m.yaml).into_bytes());
    }
    let paths: Vec<&str> = tree.files.keys().map(String::as_str).collect();
    let maps = trustc::render::index::trust_maps(&policy);
    let index = trustc::render::index::readme(&policy, &paths, &maps);
    tree.files
        .insert("README.md".to_string(), index.into_bytes());
    tree.with_manifest()
}

/// Rendering and verifying in parallel (rayon, both cores) and one environment at a time
/// gives the same bytes as one thread over the whole output.
#[test]
fn parallel_and_streamed_output_is_byte_identical_to_sequential() {
    let dir = tempfile::tempdir().expect("temp dir");
    let valid = valid(&spec_with(12, dir.path()));
    let set = TemplateSet::embedded();
    let parallel = compile(&valid, &set);
    let one_thread = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("a one-thread pool");
    let sequential = one_thread.install(|| compile_whole(&valid, &set));
    let sequential_streamed = one_thread.install(|| compile(&valid, &set));
    assert!(
        parallel.files.len() > 12 * 2 * 10,
        "{} files",
        parallel.files.len()
    );
    assert_eq!(
        parallel.files.keys().collect::<Vec<_>>(),
        sequential.files.keys().collect::<Vec<_>>()
    );
    for (path, bytes) in &sequential.files {
        assert!(parallel.files[path] == *bytes, "{path} differs");
        assert!(sequential_streamed.files[path] == *bytes, "{path} differs");
    }
}

/// The invariants' document look-ups grow linearly with the tenants: every tenant has the
/// same shape, so from 2N to 4N tenants they grow by twice what they grew from N to 2N
/// (exactly 2.00 today). A quadratic term makes that ratio larger (4 when it dominates): one
/// extra look-up per tenant and RoleBinding, a few per cent of the work at these sizes, makes
/// it 2.14, which this test refuses.
#[test]
fn invariants_work_grows_linearly_with_tenants() {
    let set = TemplateSet::embedded();
    let steps = |n: usize| {
        let dir = tempfile::tempdir().expect("temp dir");
        let valid = valid(&spec_with(n, dir.path()));
        let policy = trustc::model::resolve(&valid, "trust.toml");
        let rendered = trustc::render::render(&policy, &set).expect("render");
        let verified = verify::verify(&rendered).expect("verify");
        let paths: Vec<String> = verified.iter().map(|m| m.path.clone()).collect();
        let kust = trustc::render::kustomizations(&paths, &set).expect("kustomizations");
        let kust = verify::verify(&kust).expect("verify kustomizations");
        let all: Vec<&Manifest> = verified.iter().chain(kust.iter()).collect();
        let before = verify::invariants::lookups();
        let broken = verify::invariants::check(&policy, &all, None);
        assert!(
            broken.is_empty(),
            "{n} tenants: {:?}",
            broken.first().map(|d| &d.message)
        );
        verify::invariants::lookups() - before
    };
    let (s1, s2, s4) = (steps(10), steps(20), steps(40));
    eprintln!("invariants look-ups: {s1}, {s2}, {s4}");
    assert!(s1 < s2 && s2 < s4, "look-ups {s1}, {s2}, {s4}");
    let ratio = (s4 - s2) as f64 / (s2 - s1) as f64;
    assert!(
        ratio <= 2.03,
        "invariants' look-ups for 10, 20, 40 tenants: {s1}, {s2}, {s4}: growth ratio {ratio:.2} (linear: 2, quadratic: 4)"
    );
}
