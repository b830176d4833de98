//! Command-line arguments (clap derive only). Spellings of the contract are fixed:
//! `check`, `generate`, `schema`, `explain`, `access`, `who-can`, `--spec`, `--out`, `--check`.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "trustc",
    version,
    about = "Compile a Flux CD trust model into the manifests that enforce it",
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate the trust model; exit 0 when it is sound.
    Check(CheckArgs),
    /// Compile the trust model into the output directory.
    Generate(GenerateArgs),
    /// Print the JSON Schema of the trust model.
    Schema,
    /// Show a tenant service account's effective permissions (kinds × verbs per namespace).
    Access(AccessArgs),
    /// List every subject that may perform VERB on RESOURCE, with the grant.
    WhoCan(WhoCanArgs),
    /// Print the documentation of a diagnostic code (e.g. `trustc explain TC1005`).
    Explain(ExplainArgs),
    /// What a change of the trust model lets whom do: permissions, trust edges and controls
    /// added, removed or relaxed between a base version and this one. Writes nothing.
    Diff(DiffArgs),
    /// The trust model as a picture: signers → repositories → reconcilers → namespaces →
    /// kinds, registries → namespaces, risk-coloured (Mermaid, Graphviz DOT, JSON).
    Map(MapArgs),
    /// Write a commented starter `policy-spec/trust.toml` (and `keys/`) for a new fleet.
    Init(InitArgs),
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Repository directory to create `policy-spec/` in.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    /// rustc-style text on stderr, coloured on a terminal (`NO_COLOR`, `CLICOLOR_FORCE`).
    #[default]
    Human,
    /// One JSON array on stderr, every span with line, column, end line and end column.
    Json,
    /// GitHub Actions workflow commands (`::error file=…,line=…::…`) on stdout.
    Github,
}

/// Output of `access` and `who-can`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum AnswerFormat {
    #[default]
    Human,
    Json,
}

#[derive(Debug, Args)]
pub struct SpecArgs {
    /// The trust model [default: policy-spec/trust.toml here or in the nearest parent
    /// directory that has one].
    #[arg(
        long,
        value_name = "FILE",
        default_value = "policy-spec/trust.toml",
        hide_default_value = true
    )]
    pub spec: PathBuf,
    /// Treat warnings as errors.
    #[arg(long)]
    pub deny_warnings: bool,
    /// Diagnostic output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
    /// Output directory [default: `generated` beside the `policy-spec/` directory found].
    #[arg(
        long,
        value_name = "DIR",
        default_value = "generated",
        hide_default_value = true
    )]
    pub out: PathBuf,
    /// Write nothing; exit 1 and list the files that differ from what the spec compiles to.
    #[arg(long)]
    pub check: bool,
    /// With --check: print a unified diff of each differing file.
    #[arg(long, requires = "check")]
    pub diff: bool,
    /// Directory of template overrides (same names as the embedded templates).
    #[arg(long, value_name = "DIR")]
    pub templates: Option<PathBuf>,
    /// Print only the summary line (nothing when no file changed).
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Whether `--spec` / `--out` were typed (so help repeats them as typed).
    #[arg(skip)]
    pub spec_given: bool,
    #[arg(skip)]
    pub out_given: bool,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// A code (`TC1005`) or rule name (`cluster-scoped-kind`).
    #[arg(required_unless_present = "list")]
    pub code: Option<String>,
    /// List every code with its name and severity.
    #[arg(long)]
    pub list: bool,
}

#[derive(Debug, Args)]
pub struct SourceArgs {
    /// Environment whose generated manifests to read (default: the only or first one).
    #[arg(long, value_name = "ENV")]
    pub env: Option<String>,
    /// Read this directory of manifests instead of the spec's generated output.
    #[arg(long, value_name = "DIR")]
    pub manifests: Option<PathBuf>,
    /// The trust model (to find the generated output and tenant names).
    #[arg(long, value_name = "FILE", default_value = "policy-spec/trust.toml")]
    pub spec: PathBuf,
    /// Generated output directory of the spec.
    #[arg(long, value_name = "DIR", default_value = "generated")]
    pub out: PathBuf,
    #[arg(long, value_enum, default_value_t)]
    pub format: AnswerFormat,
}

#[derive(Debug, Args)]
pub struct AccessArgs {
    /// Tenant whose service account to analyse.
    #[arg(long, value_name = "NAME")]
    pub tenant: Option<String>,
    /// Any service account instead: NAMESPACE:NAME.
    #[arg(long, value_name = "NS:NAME", conflicts_with = "tenant")]
    pub service_account: Option<String>,
    #[command(flatten)]
    pub source: SourceArgs,
}

#[derive(Debug, Args)]
pub struct WhoCanArgs {
    /// Verb, as RBAC spells it (get, list, create, update, patch, delete, bind, impersonate…).
    pub verb: String,
    /// Resource as kubectl spells it: `clusterrolebindings`, `deployments.apps`, `pods/exec`.
    pub resource: String,
    /// Namespace of the request (omit for cluster-scoped resources).
    #[arg(short = 'n', long, value_name = "NS")]
    pub namespace: Option<String>,
    #[command(flatten)]
    pub source: SourceArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum DiffFormat {
    /// One line per change.
    #[default]
    Human,
    /// A pull-request comment: summary first, sections collapsed, under 64 KB.
    Markdown,
    /// A plan like `terraform show -json`: `changes[]` with actions, before/after, severity.
    Json,
    /// SARIF 2.1.0 for GitHub code scanning.
    Sarif,
    /// GitLab code-quality report (Code Climate JSON).
    Codequality,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum FailOnArg {
    /// Exit 1 only when someone may do more or more sources are trusted.
    Escalation,
    /// Exit 1 on escalations and on controls removed or relaxed.
    Weakening,
    /// Exit 1 on any change.
    #[default]
    Any,
    /// Always exit 0 (report only).
    Never,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The trust model as changed.
    #[arg(long, value_name = "FILE", default_value = "policy-spec/trust.toml")]
    pub spec: PathBuf,
    /// The base: a git revision of the repository holding the spec (`main`, `origin/main`,
    /// a commit); the spec's directory (its key files too) is read from it.
    #[arg(long, value_name = "REF", conflicts_with = "base_spec")]
    pub base: Option<String>,
    /// The base: a spec file on disk.
    #[arg(long, value_name = "FILE")]
    pub base_spec: Option<PathBuf>,
    /// Template overrides of the changed version.
    #[arg(long, value_name = "DIR")]
    pub templates: Option<PathBuf>,
    /// Template overrides of the base version.
    #[arg(long, value_name = "DIR")]
    pub base_templates: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t)]
    pub format: DiffFormat,
    /// Which changes make the exit status 1.
    #[arg(long, value_enum, default_value_t)]
    pub fail_on: FailOnArg,
    /// Compile every tenant of both versions, not only the tenants that changed (the default
    /// when nothing shared changed and no template overrides are given).
    #[arg(long)]
    pub full: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum MapFormat {
    /// Markdown with one ```mermaid block per environment (split to stay renderable).
    #[default]
    Mermaid,
    /// Graphviz DOT, one digraph per environment.
    Dot,
    /// The graphs as JSON: nodes and edges with their risk.
    Json,
}

#[derive(Debug, Args)]
pub struct MapArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
    /// Only this environment.
    #[arg(long, value_name = "ENV")]
    pub env: Option<String>,
    /// Output format.
    #[arg(long = "output", short = 'o', value_enum, default_value_t)]
    pub output: MapFormat,
}
