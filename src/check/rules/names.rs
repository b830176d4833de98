//! Rules on names and namespaces: DNS-1123 names, reserved namespaces, overlaps, duplicates.

use std::collections::BTreeMap;

use crate::check::Checker;
use crate::diag::{Code, Diagnostic, Span};
use crate::spec::Sp;

/// Longest tenant name: object names are built as `<tenant>-<suffix>` within 63 characters.
pub(crate) const MAX_TENANT_NAME: usize = 40;

pub(super) fn run(c: &mut Checker<'_>) {
    let spec = c.spec;
    let flux_ns = spec
        .flux
        .namespace
        .as_ref()
        .map_or("flux-system", |n| n.as_str());
    let policy_ns = spec
        .flux
        .policy_namespace
        .as_ref()
        .map_or("kyverno", |n| n.as_str());
    let monitoring_ns = spec
        .flux
        .monitoring_namespace
        .as_ref()
        .map_or("monitoring", |n| n.as_str());

    for (name, span) in &spec.headers.tenants {
        label_name(c, "tenant", name, span, MAX_TENANT_NAME);
    }
    for (name, span) in &spec.headers.environments {
        label_name(c, "environment", name, span, 40);
    }
    for (name, span) in &spec.headers.registries {
        label_name(c, "registry", name, span, 40);
    }
    for (name, span) in &spec.headers.signers {
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        {
            c.push(
                Diagnostic::new(
                    Code::InvalidName,
                    format!("signer name `{name}` cannot name a Secret key"),
                )
                .at(
                    span.clone(),
                    "becomes the key `<signer>.asc` of the verify Secret",
                )
                .help("use letters, digits, `-`, `_` and `.` only"),
            );
        }
    }
    // Names that become Kubernetes object names.
    let object_names = [
        (Some(&spec.secrets.store), "ClusterSecretStore"),
        (
            spec.alerts.as_ref().and_then(|a| a.secret.as_ref()),
            "alert Secret",
        ),
    ];
    for (name, what) in object_names {
        if let Some(n) = name {
            if !is_dns_subdomain(&n.value) {
                c.push(
                    Diagnostic::new(
                        Code::InvalidName,
                        format!("{what} name `{}` is not a Kubernetes object name", n.value),
                    )
                    .at(n.span.clone(), "not a DNS-1123 subdomain")
                    .help("use at most 253 lowercase letters, digits, `-` and `.`, starting and ending with a letter or digit"),
                );
            }
        }
    }
    for ns in [
        &spec.flux.namespace,
        &spec.flux.policy_namespace,
        &spec.flux.monitoring_namespace,
    ]
    .into_iter()
    .flatten()
    {
        if !super::is_dns_label(&ns.value, 63) {
            c.push(invalid_label("namespace", ns));
        }
    }

    // Who claims which namespace.
    let mut owners: BTreeMap<&str, (&str, &Span)> = BTreeMap::new();
    for (tenant, t) in &spec.tenants {
        let mut seen: BTreeMap<&str, &Span> = BTreeMap::new();
        if t.namespaces.is_empty() {
            if let Some(h) = c.tenant_header(tenant) {
                c.push(
                    Diagnostic::new(
                        Code::EmptyList,
                        format!("tenant `{tenant}` has no namespaces"),
                    )
                    .at(h, "tenant defined here")
                    .help("list at least one namespace: `namespaces = [\"team\"]`"),
                );
            }
        }
        for ns in &t.namespaces {
            let name = ns.as_str();
            if !super::is_dns_label(name, 63) {
                c.push(invalid_label("namespace", ns));
                continue;
            }
            if let Some(first) = seen.insert(name, &ns.span) {
                c.push(
                    Diagnostic::new(
                        Code::DuplicateEntry,
                        format!("namespace `{name}` is listed twice for tenant `{tenant}`"),
                    )
                    .at(ns.span.clone(), "listed again here")
                    .with_secondary(first.clone(), "first listed here")
                    .help("remove the duplicate"),
                );
                continue;
            }
            let reserved = if name == "default" {
                Some("the `default` namespace belongs to nobody and everybody")
            } else if name.starts_with("kube-") {
                Some("`kube-*` namespaces hold the control plane")
            } else if name == flux_ns {
                Some("the Flux namespace holds every deploy key and the cluster reconciler")
            } else if name == policy_ns {
                Some(
                    "the policy engine's namespace: a tenant there could switch the guard rails off",
                )
            } else if name == monitoring_ns {
                Some("the monitoring namespace sees every tenant's alerts")
            } else {
                None
            };
            if let Some(why) = reserved {
                c.push(
                    Diagnostic::new(
                        Code::ReservedNamespace,
                        format!("tenant `{tenant}` may not own the reserved namespace `{name}`"),
                    )
                    .at(ns.span.clone(), "reserved namespace")
                    .note(why)
                    .help("give the tenant a namespace of its own"),
                );
                continue;
            }
            if let Some((other, first)) = owners.get(name) {
                c.push(
                    Diagnostic::new(
                        Code::NamespaceOverlap,
                        format!("namespace `{name}` is claimed by tenants `{other}` and `{tenant}`"),
                    )
                    .at(ns.span.clone(), format!("also claimed by `{other}`"))
                    .with_secondary((*first).clone(), format!("claimed by `{other}` here"))
                    .note("a shared namespace lets one tenant's reconciler overwrite or read the other's objects")
                    .help("give each tenant namespaces of its own"),
                );
            } else {
                owners.insert(name, (tenant.as_str(), &ns.span));
            }
        }
    }

    for t in spec.tenants.values() {
        for img in &t.images {
            if !super::is_dns_label(&img.name.value, 63) {
                c.push(invalid_label("image", &img.name));
            }
        }
        for chart in &t.charts {
            if !super::is_dns_label(&chart.name.value, 63) {
                c.push(invalid_label("chart", &chart.name));
            }
        }
    }
}

/// DNS-1123 subdomain: dot-separated DNS labels, at most 253 characters.
pub(crate) fn is_dns_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(|l| super::is_dns_label(l, 63))
}

fn label_name(c: &mut Checker<'_>, what: &str, name: &str, span: &Span, max: usize) {
    if !super::is_dns_label(name, max) {
        c.push(
            Diagnostic::new(
                Code::InvalidName,
                format!("{what} name `{name}` is not a DNS-1123 label of at most {max} characters"),
            )
            .at(
                span.clone(),
                "used to build object names, labels and directories",
            )
            .help(
                "use lowercase letters, digits and `-`, starting and ending with a letter or digit",
            ),
        );
    }
}

fn invalid_label(what: &str, name: &Sp<String>) -> Diagnostic {
    Diagnostic::new(
        Code::InvalidName,
        format!("{what} name `{}` is not a DNS-1123 label", name.value),
    )
    .at(name.span.clone(), "not a valid Kubernetes name")
    .help("use at most 63 lowercase letters, digits and `-`, starting and ending with a letter or digit")
}
