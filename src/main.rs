//! The `trustc` binary: everything lives in the library; this maps its result to an exit code.

fn main() {
    let code = trustc::cli::run(std::env::args_os());
    std::process::exit(code);
}

/// mimalloc: `generate` at 1,000 tenants spends a quarter less CPU than with glibc's malloc
/// (docs/performance.md, "What changed").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
