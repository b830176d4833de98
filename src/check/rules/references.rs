//! Rules on references between tables: signers, registries and environments that exist,
//! lists that must not be empty or repeat themselves, signers nobody uses.

use std::collections::BTreeSet;

use crate::check::Checker;
use crate::diag::{Code, Diagnostic};
use crate::spec::Sp;

pub(super) fn run(c: &mut Checker<'_>) {
    let spec = c.spec;
    // Names come from the headers: an entry that could not be read still exists.
    let h = &spec.headers;
    let signers: Vec<&str> = h.signers.keys().map(String::as_str).collect();
    let registries: Vec<&str> = h.registries.keys().map(String::as_str).collect();
    let environments: Vec<&str> = h.environments.keys().map(String::as_str).collect();
    let mut used_signers = BTreeSet::new();

    if h.environments.is_empty() {
        c.push(
            Diagnostic::new(Code::EmptyList, "no environments are defined")
                .at(crate::diag::Span::new(spec.version.span.file, 0..0), "")
                .help("add `[environments.production]` with a `branch`"),
        );
    }

    for s in &spec.platform.signers {
        used_signers.insert(s.as_str());
        reference(c, Code::UnknownSigner, "signer", s, &signers, "platform");
    }
    duplicates(c, &spec.platform.signers, "signer", "the platform");
    for (tenant, t) in &spec.tenants {
        let who = format!("tenant `{tenant}`");
        for s in &t.signers {
            used_signers.insert(s.as_str());
            reference(c, Code::UnknownSigner, "signer", s, &signers, &who);
        }
        for r in &t.registries {
            reference(c, Code::UnknownRegistry, "registry", r, &registries, &who);
        }
        for e in &t.environments {
            reference(
                c,
                Code::UnknownEnvironment,
                "environment",
                e,
                &environments,
                &who,
            );
        }
        duplicates(c, &t.signers, "signer", &who);
        duplicates(c, &t.registries, "registry", &who);
        duplicates(c, &t.environments, "environment", &who);
        duplicates(c, &t.allowed_kinds, "kind", &who);
        if t.environments.is_empty() {
            if let Some(h) = c.tenant_header(tenant) {
                c.push(
                    Diagnostic::new(
                        Code::EmptyList,
                        format!("tenant `{tenant}` is deployed to no environment"),
                    )
                    .at(h, "tenant defined here")
                    .help("list its environments: `environments = [\"staging\", \"production\"]`"),
                );
            }
        }
        let mut image_names = BTreeSet::new();
        for img in &t.images {
            if !image_names.insert(img.name.as_str()) {
                c.push(
                    Diagnostic::new(
                        Code::DuplicateEntry,
                        format!("image `{}` is defined twice for {who}", img.name.value),
                    )
                    .at(img.name.span.clone(), "defined again here")
                    .help("image names must be unique per tenant"),
                );
            }
        }
    }
    // A tenant that could not be read may use a signer: no "unused" guess then.
    for (name, span) in spec.headers.signers.iter().filter(|_| !h.incomplete) {
        if !used_signers.contains(name.as_str()) {
            c.push(
                Diagnostic::new(
                    Code::UnusedSigner,
                    format!("signer `{name}` is trusted by no tenant and not by the platform"),
                )
                .at(span.clone(), "never referenced")
                .help("reference it from a `signers` list, or remove it"),
            );
        }
    }
}

fn reference(
    c: &mut Checker<'_>,
    code: Code,
    what: &str,
    r: &Sp<String>,
    known: &[&str],
    who: &str,
) {
    if known.contains(&r.as_str()) {
        return;
    }
    let mut d = Diagnostic::new(
        code,
        format!("{who} refers to {what} `{}`, which is not defined", r.value),
    )
    .at(r.span.clone(), format!("no such {what}"));
    d = match crate::spec::suggest(&r.value, known.iter().copied()) {
        Some(s) => d.help(format!("did you mean `{s}`?")),
        None if known.is_empty() => d.help(format!(
            "define it in a `[{}.{}]` table",
            plural(what),
            r.value
        )),
        None => d.help(format!("defined {}: {}", plural(what), known.join(", "))),
    };
    c.push(d);
}

/// The spec's plural of a referenced thing (its table's name): `registry` → `registries`.
fn plural(what: &str) -> String {
    match what.strip_suffix('y') {
        Some(stem) => format!("{stem}ies"),
        None => format!("{what}s"),
    }
}

fn duplicates(c: &mut Checker<'_>, list: &[Sp<String>], what: &str, who: &str) {
    let mut seen = BTreeSet::new();
    for item in list {
        if !seen.insert(item.as_str()) {
            c.push(
                Diagnostic::new(
                    Code::DuplicateEntry,
                    format!("{what} `{}` is listed twice for {who}", item.value),
                )
                .at(item.span.clone(), "listed again here")
                .help("remove the duplicate"),
            );
        }
    }
}
