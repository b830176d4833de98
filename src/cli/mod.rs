//! The command line: parses arguments, runs the stages in order, owns stdout, stderr and
//! exit codes (0 success, 1 the spec or the output was refused, 2 usage or I/O error).

mod access;
mod args;
mod diff;
mod generate;
mod init;
mod reference;

pub use init::init;
pub use reference::spec_reference;

pub use generate::{compile, compile_against};

pub use args::*;

use std::ffi::OsString;

use crate::check::{self, Context, ValidSpec};
use crate::diag::{self, Code, Sink, SourceMap};
use crate::spec;

/// Exit statuses.
pub const EXIT_OK: i32 = 0;
pub const EXIT_REFUSED: i32 = 1;
pub const EXIT_USAGE: i32 = 2;

/// Called by `generate` once the spec is sound and before anything is compiled, with the
/// number of tenant environments it compiles (tenants × environments): how much memory the
/// compile will make and free. The `trustc` binary sets it to tune its allocator (keeping
/// freed pages for reuse when the output is small; `src/main.rs`); unset, nothing is called.
pub static ON_SCALE: std::sync::OnceLock<fn(usize)> = std::sync::OnceLock::new();

/// Set by [`run_then_exit`]: the process ends when the command returns.
static EXITS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// [`run`], then `std::process::exit` with its code: what the `trustc` binary does. A command
/// may then leave large structures to the exit instead of freeing them piece by piece
/// (library callers of [`run`] get everything freed).
pub fn run_then_exit<I, T>(args: I) -> !
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    EXITS.store(true, std::sync::atomic::Ordering::Relaxed);
    let code = run(args);
    std::process::exit(code)
}

/// Runs trustc with the given arguments (the first is the program name).
pub fn run<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    use clap::{CommandFactory as _, FromArgMatches as _};
    let parsed = Cli::command()
        .try_get_matches_from(args)
        .and_then(|m| Cli::from_arg_matches(&m).map(|cli| (cli, m)));
    let (mut cli, matches) = match parsed {
        Ok(p) => p,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { EXIT_OK };
            // clap's own colours on a terminal; elsewhere `eprint!`/`print!`, which the test
            // harness captures.
            use std::io::IsTerminal as _;
            let tty = if e.use_stderr() {
                std::io::stderr().is_terminal()
            } else {
                std::io::stdout().is_terminal()
            };
            if tty {
                let _ = e.print();
            } else if e.use_stderr() {
                eprint!("{}", e.render());
            } else {
                print!("{}", e.render());
            }
            return code;
        }
    };
    if let (Command::Generate(a), Some((_, sub))) = (&mut cli.command, matches.subcommand()) {
        use clap::parser::ValueSource;
        a.spec_given = sub.value_source("spec") == Some(ValueSource::CommandLine);
        a.out_given = sub.value_source("out") == Some(ValueSource::CommandLine);
    }
    if let Err(code) = discover_spec(&mut cli, &matches) {
        return code;
    }
    match cli.command {
        Command::Check(a) => cmd_check(&a),
        Command::Generate(a) => generate::cmd_generate(&a),
        Command::Schema => cmd_schema(),
        Command::Access(a) => access::cmd_access(&a),
        Command::WhoCan(a) => access::cmd_who_can(&a),
        Command::Explain(a) => cmd_explain(&a),
        Command::Diff(a) => diff::cmd_diff(&a),
        Command::Map(a) => cmd_map(&a),
        Command::Init(a) => init::cmd_init(&a),
    }
}

/// Where the spec is when `--spec` is not given: `policy-spec/trust.toml` in the working
/// directory or the nearest parent that has one (as cargo finds `Cargo.toml`), spelt
/// relative (`../../policy-spec/trust.toml`); the default `--out generated` is then
/// resolved beside that `policy-spec/`. An explicit `--spec` or `--out` means what it says.
fn discover_spec(cli: &mut Cli, matches: &clap::ArgMatches) -> Result<(), i32> {
    use clap::parser::ValueSource;
    let Some((_, sub)) = matches.subcommand() else {
        return Ok(());
    };
    let (spec, out, needs_spec) = match &mut cli.command {
        Command::Check(a) => (&mut a.spec.spec, None, true),
        Command::Generate(a) => (&mut a.spec.spec, Some(&mut a.out), true),
        Command::Access(a) => (&mut a.source.spec, Some(&mut a.source.out), false),
        Command::WhoCan(a) => (&mut a.source.spec, Some(&mut a.source.out), false),
        Command::Diff(a) => (&mut a.spec, None, true),
        Command::Map(a) => (&mut a.spec.spec, None, true),
        _ => return Ok(()),
    };
    if sub.value_source("spec") != Some(ValueSource::DefaultValue) {
        return Ok(());
    }
    let out_default = out.is_some() && sub.value_source("out") == Some(ValueSource::DefaultValue);
    let cwd = std::env::current_dir().unwrap_or_else(|_| std::path::PathBuf::from("."));
    let found = cwd
        .ancestors()
        .enumerate()
        // Any file type counts (a link, a FIFO): loading then says what is wrong with it.
        .find(|(_, dir)| dir.join(SPEC_DEFAULT).symlink_metadata().is_ok())
        .map(|(up, _)| up);
    match found {
        Some(0) => Ok(()),
        Some(up) => {
            let prefix: std::path::PathBuf = std::iter::repeat_n("..", up).collect();
            *spec = prefix.join(SPEC_DEFAULT);
            if let (Some(out), true) = (out, out_default) {
                *out = prefix.join(OUT_DEFAULT);
            }
            Ok(())
        }
        None if needs_spec => {
            eprintln!(
                "error: could not find `{SPEC_DEFAULT}` in `{}` or any parent directory",
                cwd.display()
            );
            eprintln!("help: pass `--spec FILE`, or create one with `trustc init`");
            Err(EXIT_USAGE)
        }
        None => Ok(()),
    }
}

/// The default `--spec` and `--out`, relative to the directory that holds `policy-spec/`.
const SPEC_DEFAULT: &str = "policy-spec/trust.toml";
const OUT_DEFAULT: &str = "generated";

/// The clock: `TRUSTC_NOW` (Unix seconds) when set, so expiry checks are reproducible.
pub(crate) fn context() -> Context {
    match std::env::var("TRUSTC_NOW")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        Some(now) => Context { now },
        None => Context::system(),
    }
}

/// The front end as a library call: load the spec and its key files, run every rule.
/// `Ok(None)` when the spec was refused (the reasons are in `sink`).
pub fn load_and_check(
    path: &std::path::Path,
    ctx: &Context,
    map: &mut SourceMap,
    sink: &mut Sink,
) -> std::io::Result<Option<ValidSpec>> {
    let loaded = spec::load(path, map, sink)?;
    Ok(loaded
        .model
        .and_then(|m| check::validate(m, &loaded.inputs, ctx, sink)))
}

/// Loads and checks a spec; prints diagnostics; `Err(exit code)` when refused.
pub(crate) fn front_end(a: &SpecArgs, map: &mut SourceMap) -> Result<ValidSpec, i32> {
    let mut sink = Sink::new();
    let valid = match load_and_check(&a.spec, &context(), map, &mut sink) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("error: cannot read spec `{}`: {e}", a.spec.display());
            return Err(EXIT_USAGE);
        }
    };
    if a.deny_warnings {
        sink.deny_warnings();
    }
    let failed = sink.has_errors();
    report(map, sink, a.format);
    match valid {
        Some(v) if !failed => Ok(v),
        _ => Err(EXIT_REFUSED),
    }
}

/// Prints diagnostics to stderr in the chosen format.
pub(crate) fn report(map: &SourceMap, sink: Sink, format: Format) {
    if sink.is_empty() && format == Format::Human {
        return;
    }
    let diags = sink.into_sorted();
    // `eprint!`/`print!`, not a raw handle: the test harness captures them.
    match format {
        Format::Human => eprint!("{}", diag::render_all_styled(map, &diags, &palette())),
        Format::Json => eprint!("{}", diag::render_json(map, &diags)),
        Format::Github => print!("{}", diag::render_github(map, &diags)),
    }
}

/// Colour for stderr: anstream's choice (as clap makes it): none with `NO_COLOR`, always
/// with `CLICOLOR_FORCE`, else only when stderr is a terminal that supports it.
pub(crate) fn palette() -> diag::Palette {
    match anstream::AutoStream::choice(&std::io::stderr()) {
        anstream::ColorChoice::Never => diag::Palette::PLAIN,
        _ => diag::Palette::COLOUR,
    }
}

fn cmd_check(a: &CheckArgs) -> i32 {
    let mut map = SourceMap::new();
    match front_end(&a.spec, &mut map) {
        Ok(v) => {
            if a.spec.format == Format::Human {
                eprintln!(
                    "{}: ok: {} tenant(s), {} environment(s)",
                    a.spec.spec.display(),
                    v.spec.tenants.len(),
                    v.spec.environments.len()
                );
            }
            // When the process ends with this answer ([`run_then_exit`]), the model is left
            // to the exit: freeing it entry by entry was a tenth of `check` on a 5,000-tenant
            // spec.
            leave_to_exit(v);
            EXIT_OK
        }
        Err(code) => code,
    }
}

/// Drops `value`, unless the process ends when the command returns ([`run_then_exit`]):
/// then it is left to the exit, which frees it at once.
fn leave_to_exit<T>(value: T) {
    if EXITS.load(std::sync::atomic::Ordering::Relaxed) {
        std::mem::forget(value);
    }
}

/// The JSON Schema of the trust model, as `trustc schema` prints it.
pub fn schema_json() -> String {
    let schema = schemars::schema_for!(spec::TrustModel);
    serde_json::to_string_pretty(&schema).expect("schema serializes") + "\n"
}

fn cmd_schema() -> i32 {
    print!("{}", schema_json());
    EXIT_OK
}

fn cmd_explain(a: &ExplainArgs) -> i32 {
    if a.list {
        for c in Code::ALL {
            println!("{}  {:<8} {}", c.id(), c.severity().as_str(), c.name());
        }
        return EXIT_OK;
    }
    let given = a.code.as_deref().unwrap_or_default();
    match given.parse::<Code>() {
        Ok(code) => {
            print!("{}", code.documentation());
            EXIT_OK
        }
        Err(()) => {
            eprintln!("error: `{given}` is not a trustc diagnostic code");
            let names = Code::ALL.iter().flat_map(|c| [c.id(), c.name()]);
            if let Some(s) = spec::suggest(given, names) {
                eprintln!("help: did you mean `{s}`?");
            } else {
                eprintln!("help: `trustc explain --list` lists every code");
            }
            EXIT_USAGE
        }
    }
}

fn cmd_map(a: &MapArgs) -> i32 {
    let mut map = SourceMap::new();
    let valid = match front_end(&a.spec, &mut map) {
        Ok(v) => v,
        Err(code) => return code,
    };
    let policy = crate::model::resolve(&valid, "");
    if let Some(env) = &a.env {
        if !policy.environments.iter().any(|e| &e.name == env) {
            let names: Vec<&str> = policy
                .environments
                .iter()
                .map(|e| e.name.as_str())
                .collect();
            eprintln!(
                "error: no environment `{env}` (environments: {})",
                names.join(", ")
            );
            return EXIT_USAGE;
        }
    }
    let text = match a.output {
        MapFormat::Mermaid => crate::map::markdown(&policy, a.env.as_deref()),
        MapFormat::Dot => crate::map::dot(&policy, a.env.as_deref()),
        MapFormat::Json => {
            let graphs = crate::map::graphs(&policy, a.env.as_deref(), usize::MAX);
            serde_json::to_string_pretty(&graphs).expect("JSON serializes") + "\n"
        }
    };
    print!("{text}");
    EXIT_OK
}
