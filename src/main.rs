//! The `trustc` binary: everything lives in the library; this maps its result to an exit code.

fn main() {
    let code = trustc::cli::run(std::env::args_os());
    std::process::exit(code);
}

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
