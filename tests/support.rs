//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};

use trustc::check::{Context, ValidSpec};
use trustc::diag::{Diagnostic, Sink, SourceMap};

/// The repository root.
pub(crate) fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fixed clock for tests: 2026-11-27, when the example keys were made.
pub(crate) const TEST_NOW: i64 = 1_795_740_094;

/// The clock a fixture asks for in a `# now: SECONDS` first line, else [`TEST_NOW`].
pub(crate) fn fixture_clock(text: &str) -> Context {
    let now = text
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("# now: "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(TEST_NOW);
    Context { now }
}

/// Runs the front end on a spec file: (source map, sorted diagnostics, valid spec).
pub(crate) fn front(path: &Path, ctx: &Context) -> (SourceMap, Vec<Diagnostic>, Option<ValidSpec>) {
    let mut map = SourceMap::new();
    let mut sink = Sink::new();
    let valid = trustc::cli::load_and_check(path, ctx, &mut map, &mut sink).expect("spec readable");
    let failed = sink.has_errors();
    (map, sink.into_sorted(), if failed { None } else { valid })
}

/// Copies the example's key files (`policy-spec/keys/*`) into `dir/keys/`, so a spec written
/// in `dir` finds them (trustc reads keys only from inside the spec's repository).
pub(crate) fn copy_example_keys(dir: &Path) {
    let keys = dir.join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    for e in std::fs::read_dir(root().join("policy-spec/keys")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), keys.join(e.file_name())).unwrap();
    }
}

/// Says why a test that needs `../shared` or kubectl did not run. With `TRUSTC_REQUIRE_TOOLS`
/// set to anything but empty or `0` (`.ci/run` sets it to 1) a skip is a failure instead, so
/// CI cannot pass without them.
pub(crate) fn skip(why: &str) {
    if std::env::var_os("TRUSTC_REQUIRE_TOOLS").is_some_and(|v| !v.is_empty() && v != "0") {
        panic!("TRUSTC_REQUIRE_TOOLS is set, but {why}");
    }
    eprintln!("skipped: {why}");
}
