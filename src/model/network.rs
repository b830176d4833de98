//! The flux-system network lock-down: DNS peers, the controllers' flags, and the destinations
//! outside the cluster each controller connects to, derived from the spec's URLs.
//!
//! Which controller connects where (Flux v2.9.4): source-controller fetches Git repositories,
//! Helm repositories and OCI charts (fluxcd/source-controller `internal/controller/*`);
//! image-reflector-controller lists registry tags (fluxcd/image-reflector-controller
//! `internal/controller/imagerepository_controller.go`); image-automation-controller clones
//! and pushes Git (fluxcd/image-automation-controller `internal/controller`);
//! notification-controller posts to alert providers (fluxcd/notification-controller
//! `internal/notifier`). kustomize- and helm-controller fetch artifacts from source-controller
//! inside the namespace only (with `--no-remote-bases`).

use std::collections::{BTreeMap, BTreeSet};

use super::{ControllerArgs, Dns, EgressDestination, Flux, Tenant};
use crate::flux as fx;
use crate::spec::TrustModel;

use crate::flux::{ALERT_PROVIDER, NODE_LOCAL_DNS, SIGSTORE};

pub(super) fn dns(f: &crate::spec::Flux) -> Dns {
    let e = f.egress.as_ref();
    Dns {
        kube_dns: e.and_then(|e| e.kube_dns.as_ref()).is_none_or(|b| b.value),
        cidrs: match e.and_then(|e| e.dns_cidrs.as_ref()) {
            Some(list) => list.iter().map(|c| c.value.clone()).collect(),
            None => vec![NODE_LOCAL_DNS.to_string()],
        },
    }
}

pub(super) fn lockdown() -> Vec<ControllerArgs> {
    fx::CONTROLLERS
        .iter()
        .filter(|c| !fx::lockdown_args(c).is_empty())
        .map(|c| ControllerArgs {
            controller: (*c).to_string(),
            args: fx::lockdown_args(c)
                .iter()
                .map(|a| (*a).to_string())
                .collect(),
        })
        .collect()
}

pub(super) fn alert_secret_path(a: &crate::spec::Alerts) -> Option<String> {
    match (&a.secret_path, &a.secret) {
        (Some(p), _) => Some(p.value.clone()),
        (None, Some(s)) => Some(format!("flux/alerts/{}", s.value)),
        (None, None) => None,
    }
}

/// kube-state-metrics' (namespace, service account).
pub(super) fn ksm(a: &crate::spec::Alerts, f: &crate::spec::Flux) -> (String, String) {
    let monitoring = f
        .monitoring_namespace
        .as_ref()
        .map_or("monitoring", |m| m.as_str());
    match a
        .kube_state_metrics
        .as_ref()
        .and_then(|k| k.value.split_once('/'))
    {
        Some((ns, name)) => (ns.to_string(), name.to_string()),
        None => (monitoring.to_string(), "kube-state-metrics".to_string()),
    }
}

#[derive(Default)]
struct Dest {
    controllers: BTreeSet<String>,
    ports: BTreeSet<u16>,
    cidrs: Vec<String>,
}

/// Every destination outside the cluster the controllers of one environment connect to.
pub(super) fn egress(s: &TrustModel, tenants: &[Tenant], flux: &Flux) -> Vec<EgressDestination> {
    let mut by_host: BTreeMap<String, Dest> = BTreeMap::new();
    let mut add = |url: &str, controller: &str| {
        // `check` refuses a bad port (TC1070); skip it here.
        if let Ok((host, port)) = fx::endpoint(url) {
            let d = by_host.entry(host).or_default();
            d.controllers.insert(controller.to_string());
            d.ports.insert(port);
        }
    };
    add(&s.platform.repository.value, fx::SOURCE);
    let mut keyless = false;
    for t in tenants {
        add(&t.repository, fx::SOURCE);
        if t.kinds
            .iter()
            .any(|k| k.group == "image.toolkit.fluxcd.io" && k.kind == "ImageUpdateAutomation")
        {
            add(&t.repository, fx::IMAGE_AUTOMATION);
        }
        for c in &t.charts {
            add(&c.url, fx::SOURCE);
            keyless |= c.verify.as_ref().is_some_and(|r| r.keyless.is_some());
        }
        for i in &t.images {
            add(&i.repository, fx::IMAGE_REFLECTOR);
        }
    }
    if keyless {
        // Keyless verification fetches Sigstore's TUF root and checks Rekor/Fulcio over HTTPS
        // (source-controller `internal/oci/cosign`, sigstore/cosign public-good defaults).
        let d = by_host.entry(SIGSTORE.to_string()).or_default();
        d.controllers.insert(fx::SOURCE.to_string());
        d.ports.insert(443);
    }
    let spec_dests = s
        .flux
        .egress
        .as_ref()
        .map_or(&[][..], |e| &e.destinations[..]);
    let provider_named = spec_dests.iter().any(|d| {
        d.controllers.iter().any(|c| c.value == fx::NOTIFICATION)
            && !by_host.contains_key(&d.host.value.to_ascii_lowercase())
    });
    if flux.alerts.as_ref().is_some_and(|a| a.provider.is_some()) && !provider_named {
        let d = by_host.entry(ALERT_PROVIDER.to_string()).or_default();
        d.controllers.insert(fx::NOTIFICATION.to_string());
        d.ports.insert(443);
    }
    for sd in spec_dests {
        let d = by_host
            .entry(sd.host.value.to_ascii_lowercase())
            .or_default();
        d.cidrs.extend(sd.cidrs.iter().map(|c| c.value.clone()));
        d.ports.extend(
            sd.ports
                .iter()
                .filter_map(|p| u16::try_from(p.value).ok().filter(|p| *p > 0)),
        );
        d.controllers
            .extend(sd.controllers.iter().map(|c| c.value.clone()));
    }
    by_host
        .into_iter()
        .filter(|(_, d)| !d.controllers.is_empty() && !d.ports.is_empty())
        .map(|(host, d)| {
            let mut cidrs = d.cidrs;
            cidrs.sort();
            cidrs.dedup();
            EgressDestination {
                policy: format!("trustc-egress-{}", policy_suffix(&host)),
                host,
                controllers: d.controllers.into_iter().collect(),
                cidrs,
                ports: d.ports.into_iter().collect(),
            }
        })
        .collect()
}

/// A DNS-subdomain-safe rendering of a host for a NetworkPolicy name.
fn policy_suffix(host: &str) -> String {
    let s: String = host
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let s = s.trim_matches(|c| c == '-' || c == '.').to_string();
    s.chars().take(200).collect()
}
