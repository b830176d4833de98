//! `trustc access` and `trustc who-can`: offline RBAC analysis of generated output or of
//! any directory of manifests.

use std::path::PathBuf;

use super::{AccessArgs, AnswerFormat as Format, EXIT_OK, EXIT_USAGE, SourceArgs, WhoCanArgs};
use crate::access::{self, Analysis, Manifests, Subject};

/// The directory to analyse: `--manifests DIR`, or `OUT/ENV` of the spec's output
/// (the only environment, or the one named by `--env`).
fn source_dir(s: &SourceArgs) -> Result<PathBuf, String> {
    if let Some(dir) = &s.manifests {
        return Ok(dir.clone());
    }
    let mut envs: Vec<String> = std::fs::read_dir(&s.out)
        .map_err(|e| {
            format!(
                "cannot read `{}`: {e} (run `trustc generate` first, or pass --manifests DIR)",
                s.out.display()
            )
        })?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir() && e.file_name() != crate::render::KYVERNO_TESTS)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    envs.sort();
    match &s.env {
        Some(env) if envs.contains(env) => Ok(s.out.join(env)),
        Some(env) => Err(format!(
            "no environment `{env}` under `{}` (found: {})",
            s.out.display(),
            envs.join(", ")
        )),
        None if envs.len() == 1 => Ok(s.out.join(&envs[0])),
        None if envs.is_empty() => Err(format!("no environment under `{}`", s.out.display())),
        None => Err(format!(
            "`{}` holds several environments ({}): pick one with --env",
            s.out.display(),
            envs.join(", ")
        )),
    }
}

fn load(s: &SourceArgs) -> Result<Manifests, i32> {
    let dir = source_dir(s).map_err(|e| {
        eprintln!("error: {e}");
        EXIT_USAGE
    })?;
    Manifests::load_dir(&dir).map_err(|e| {
        eprintln!("error: {e}");
        EXIT_USAGE
    })
}

fn print(a: &Analysis, format: Format, human: impl Fn(&Analysis) -> String) {
    match format {
        Format::Human => {
            print!("{}", human(a));
            for u in &a.unknown {
                eprintln!("warning: {u}");
            }
        }
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(a).expect("analysis serializes")
        ),
    }
}

pub(super) fn cmd_access(a: &AccessArgs) -> i32 {
    let manifests = match load(&a.source) {
        Ok(m) => m,
        Err(code) => return code,
    };
    let subject = if let Some(sa) = &a.service_account {
        match sa.split_once(':') {
            Some((ns, name)) => Subject::service_account(ns, name),
            None => {
                eprintln!("error: --service-account takes NAMESPACE:NAME");
                return EXIT_USAGE;
            }
        }
    } else if let Some(tenant) = &a.tenant {
        // The tenant's reconciler: `<tenant>-reconciler` in the namespace that holds it.
        let name = format!("{tenant}-reconciler");
        match manifests.service_accounts().find(|(_, n)| *n == name) {
            Some((ns, n)) => Subject::service_account(ns, n),
            None => {
                // A usage error: name the tenants these manifests hold.
                let mut tenants: Vec<&str> = manifests
                    .service_accounts()
                    .filter_map(|(_, n)| n.strip_suffix("-reconciler"))
                    .filter(|t| *t != "platform")
                    .collect();
                tenants.sort_unstable();
                tenants.dedup();
                eprintln!(
                    "error: no tenant `{tenant}` in these manifests (no service account `{name}`)"
                );
                match crate::spec::suggest(tenant, tenants.iter().copied()) {
                    Some(s) => eprintln!("help: did you mean `--tenant {s}`?"),
                    None if tenants.is_empty() => {
                        eprintln!("help: these manifests hold no tenant reconciler")
                    }
                    None => eprintln!("help: tenants: {}", tenants.join(", ")),
                }
                return EXIT_USAGE;
            }
        }
    } else {
        eprintln!("error: pass --tenant NAME or --service-account NS:NAME");
        return EXIT_USAGE;
    };
    let analysis = manifests.grants_of(&subject);
    print(&analysis, a.source.format, access::render_access_table);
    EXIT_OK
}

pub(super) fn cmd_who_can(a: &WhoCanArgs) -> i32 {
    let manifests = match load(&a.source) {
        Ok(m) => m,
        Err(code) => return code,
    };
    let (group, resource) = access::parse_resource(&a.resource);
    let url = a.resource.trim().starts_with('/');
    // Like kubectl: unknown verbs and resources are warned about, and a namespaced resource
    // asked without -n is answered for cluster-wide grants only, which is said.
    let mut warnings: Vec<String> = Vec::new();
    warnings.extend(access::verb_warning(&a.verb, url));
    warnings.extend(access::resource_warning(&a.resource, &group, &resource));
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    if a.namespace.is_none() && access::is_namespaced(&group, &resource) {
        eprintln!(
            "note: `{}` is namespaced: without `-n NAMESPACE` only cluster-wide grants (ClusterRoleBindings) are considered",
            a.resource
        );
    }
    let analysis = manifests.who_can(&a.verb, &group, &resource, a.namespace.as_deref());
    print(&analysis, a.source.format, access::render_who_can);
    // "Nobody" for a question that was probably mistyped is no answer: a usage error.
    if analysis.grants.is_empty() && !warnings.is_empty() {
        return EXIT_USAGE;
    }
    EXIT_OK
}
