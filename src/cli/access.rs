//! `trustc access` and `trustc who-can`: offline RBAC analysis of generated output or of
//! any directory of manifests.

use std::path::PathBuf;

use super::{AccessArgs, EXIT_OK, EXIT_REFUSED, EXIT_USAGE, Format, SourceArgs, WhoCanArgs};
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
                eprintln!(
                    "error: no service account `{name}` for tenant `{tenant}` in these manifests"
                );
                return EXIT_REFUSED;
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
    let analysis = manifests.who_can(&a.verb, &group, &resource, a.namespace.as_deref());
    print(&analysis, a.source.format, access::render_who_can);
    EXIT_OK
}
