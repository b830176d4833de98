//! Rules on environments: distinct branches, and what `production = true` makes mandatory
//! (commit signers for every tenant and the platform, signed images for every registry).

use std::collections::BTreeMap;

use crate::check::Checker;
use crate::diag::{Code, Diagnostic, Span};

pub(super) fn run(c: &mut Checker<'_>) {
    let spec = c.spec;
    let mut branches: BTreeMap<&str, (&str, &Span)> = BTreeMap::new();
    for (env, e) in &spec.environments {
        let b = e.branch.as_str();
        if let Some((other, first)) = branches.get(b) {
            c.push(
                Diagnostic::new(
                    Code::SharedBranch,
                    format!("environments `{other}` and `{env}` both follow branch `{b}`"),
                )
                .at(e.branch.span.clone(), format!("`{env}` follows `{b}`"))
                .with_secondary((*first).clone(), format!("`{other}` follows `{b}` too"))
                .note("with one branch, whatever reaches the less-scrutinised environment reaches the other in the same reconciliation")
                .help("give each environment its own branch"),
            );
        } else {
            branches.insert(b, (env.as_str(), &e.branch.span));
        }
    }

    let production: Vec<&str> = spec
        .environments
        .iter()
        .filter(|(_, e)| e.production.as_ref().is_some_and(|p| p.value))
        .map(|(n, _)| n.as_str())
        .collect();
    if production.is_empty() {
        return;
    }
    // The fix names the signers the spec declares (never a made-up "alice").
    let declared: Vec<String> = spec
        .headers
        .signers
        .keys()
        .map(|n| format!("\"{n}\""))
        .collect();
    let fix = |whose: &str| {
        if declared.is_empty() {
            format!(
                "declare a signer (`[signers.NAME]` with `email` and `key`), then list the {whose} signers: `signers = [\"NAME\"]`"
            )
        } else {
            format!(
                "list the {whose} signers: `signers = [{}]`",
                declared.join(", ")
            )
        }
    };
    if spec.platform.signers.is_empty() {
        let at = spec
            .headers
            .platform
            .clone()
            .unwrap_or(spec.platform.path.span.clone());
        c.push(
            Diagnostic::new(
                Code::UnsignedProduction,
                format!("the platform deploys to production environment `{}` without commit signers", production[0]),
            )
            .at(at, "no `signers` for the platform")
            .note("without commit verification, one stolen credential with push access is a cluster takeover (Adversary 1)")
            .help(fix("platform's")),
        );
    }
    for (tenant, t) in &spec.tenants {
        let Some(env) = t
            .environments
            .iter()
            .find(|e| production.contains(&e.as_str()))
        else {
            continue;
        };
        if t.signers.is_empty() {
            let at = c.tenant_header(tenant).unwrap_or(t.path.span.clone());
            c.push(
                Diagnostic::new(
                    Code::UnsignedProduction,
                    format!("tenant `{tenant}` deploys to production environment `{}` without commit signers", env.value),
                )
                .at(at, "no `signers` for this tenant")
                .with_secondary(env.span.clone(), "production environment")
                .note("without commit verification, one stolen credential with push access reaches production (Adversary 1)")
                .help(fix("tenant's")),
            );
        }
        for r in &t.registries {
            let Some(reg) = spec.registries.get(&r.value) else {
                continue;
            };
            if reg.cosign_key.is_none() && reg.keyless.is_none() {
                c.push(
                    Diagnostic::new(
                        Code::UnsignedRegistryInProduction,
                        format!(
                            "tenant `{tenant}` pulls from registry `{}` in production environment `{}`, but its images are not signed",
                            r.value, env.value
                        ),
                    )
                    .at(r.span.clone(), "registry without `cosign_key` or `keyless`")
                    .note("an attacker who can push to the registry can ship an image that matches the automation pattern (Adversary 5)")
                    .help(format!("give `[registries.{}]` a `cosign_key` or a `keyless` identity", crate::spec::key_segment(&r.value))),
                );
            }
        }
    }
}
