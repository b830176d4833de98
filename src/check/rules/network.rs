//! Rules on what the flux-system network lock-down can express: ports in URLs,
//! `[flux.egress]` destinations and DNS peers, API server addresses.

use crate::check::Checker;
use crate::diag::{Code, Diagnostic, Span};
use crate::flux as fx;
use crate::netpol::Cidr;
use crate::spec::Sp;

use super::settings::is_cidr;

pub(super) fn run(c: &mut Checker<'_>) {
    let spec = c.spec;
    // Every URL the controllers connect to, with the controller that uses it.
    let mut urls: Vec<(&Sp<String>, &str)> = vec![(&spec.platform.repository, fx::SOURCE)];
    for t in spec.tenants.values() {
        urls.push((&t.repository, fx::SOURCE));
        for ch in &t.charts {
            urls.push((&ch.repository, fx::SOURCE));
        }
        // A name without a registry host is refused by TC1024: no host of its own to judge.
        for i in &t.images {
            if super::images::registry_host(&i.repository).is_some() {
                urls.push((&i.repository, fx::IMAGE_REFLECTOR));
            }
        }
    }
    for r in spec.registries.values() {
        urls.push((&r.host, fx::IMAGE_REFLECTOR));
    }
    let mut hosts: Vec<(String, u16, &Sp<String>)> = Vec::new();
    for (u, _) in &urls {
        match fx::endpoint(&u.value) {
            Ok((h, p)) => hosts.push((h, p, u)),
            Err(port) => c.push(
                Diagnostic::new(
                    Code::InvalidPort,
                    format!("`{}` names port `{port}`, which is not a TCP port", u.value),
                )
                .at(u.span.clone(), "expected a port from 1 to 65535")
                .note("the egress lock-down opens exactly the ports the spec's URLs name")
                .help("write the port as a number from 1 to 65535, or leave it out for the scheme's default"),
            ),
        }
    }

    let egress = spec.flux.egress.as_ref();
    for cidr in egress
        .and_then(|e| e.dns_cidrs.as_ref())
        .into_iter()
        .flatten()
        .chain(egress.and_then(|e| e.service_cidr.as_ref()))
        .chain(
            egress
                .into_iter()
                .flat_map(|e| e.destinations.iter().flat_map(|d| d.cidrs.iter())),
        )
    {
        if !is_cidr(&cidr.value) {
            c.push(
                Diagnostic::new(Code::InvalidCidr, format!("`{}` is not a CIDR", cidr.value))
                    .at(cidr.span.clone(), "expected ADDRESS/PREFIX")
                    .help("write e.g. \"140.82.112.0/20\" or \"2606:50c0::/32\""),
            );
        }
    }

    // DNS: at least one peer, or every controller loses name resolution.
    if let Some(e) = egress {
        let kube_dns = e.kube_dns.as_ref().is_none_or(|b| b.value);
        if let (false, Some(list)) = (kube_dns, e.dns_cidrs.as_ref()) {
            if list.is_empty() {
                let at = e
                    .kube_dns
                    .as_ref()
                    .map(|b| b.span.clone())
                    .expect("kube_dns is false, so it is written");
                c.push(
                    Diagnostic::new(
                        Code::UnreachableDns,
                        "`flux.egress` allows DNS to nobody: `kube_dns = false` and `dns_cidrs = []`",
                    )
                    .at(at, "the kube-dns pods are turned off here")
                    .note("every Flux controller resolves Git hosts, registries and Services by name")
                    .help("keep `kube_dns = true`, or list your DNS servers: `dns_cidrs = [\"169.254.20.10/32\"]`"),
                );
            }
        }
    }

    let dests = egress.map_or(&[][..], |e| &e.destinations[..]);
    for d in dests {
        let host = d.host.value.to_ascii_lowercase();
        let named = hosts.iter().any(|(h, _, _)| *h == host);
        for p in &d.ports {
            if !(1..=65535).contains(&p.value) {
                c.push(
                    Diagnostic::new(
                        Code::InvalidPort,
                        format!("port `{}` is not a TCP port", p.value),
                    )
                    .at(p.span.clone(), "expected a port from 1 to 65535")
                    .help("write a number from 1 to 65535"),
                );
            }
        }
        for ctl in &d.controllers {
            if !fx::CONTROLLERS.contains(&ctl.as_str()) {
                let mut diag = Diagnostic::new(
                    Code::UnknownEgressDestination,
                    format!("`{}` is not a Flux controller", ctl.value),
                )
                .at(ctl.span.clone(), "not one of the Flux 2.9 controllers");
                diag = match crate::spec::suggest(&ctl.value, fx::CONTROLLERS.iter().copied()) {
                    Some(s) => diag.help(format!("did you mean `{s}`?")),
                    None => diag.help(format!("use one of: {}", fx::CONTROLLERS.join(", "))),
                };
                c.push(diag);
            }
        }
        if !named && (d.ports.is_empty() || d.controllers.is_empty()) {
            c.push(
                Diagnostic::new(
                    Code::UnknownEgressDestination,
                    format!(
                        "destination `{}` is not a host the spec's URLs name, and says neither its ports nor its controllers",
                        d.host.value
                    ),
                )
                .at(d.host.span.clone(), "no repository, chart or registry uses this host")
                .note("a destination of the spec's own URLs takes their ports and controllers; any other host (a KMS, the alert provider) must say both")
                .help("add e.g. `ports = [443]` and `controllers = [\"kustomize-controller\"]`, or fix the host name"),
            );
        }
    }

    // A NetworkPolicy cannot match a host name: without CIDRs, the host's ports are open
    // to every address. Warn once per host when an environment is production; not when
    // `[flux]` could not be read (its destinations are then unknown, not absent).
    let production = !spec.headers.unread.contains("flux")
        && spec
            .environments
            .values()
            .any(|e| e.production.as_ref().is_some_and(|p| p.value));
    if production {
        let mut seen: Vec<&str> = Vec::new();
        for (h, port, u) in &hosts {
            if seen.contains(&h.as_str()) {
                continue;
            }
            seen.push(h);
            let has_cidrs = dests
                .iter()
                .any(|d| d.host.value.eq_ignore_ascii_case(h) && !d.cidrs.is_empty());
            if !has_cidrs {
                c.push(
                    Diagnostic::new(
                        Code::EgressByPortOnly,
                        format!("`{h}` has no addresses: the lock-down opens port {port} to every host"),
                    )
                    .at(u.span.clone(), "a NetworkPolicy cannot match this host name")
                    .note("NetworkPolicy peers are pods, namespaces and IP blocks; a host name is resolved by the controller, never by the policy, so a compromised controller could reach any server on this port (Adversary 2)")
                    .help(format!(
                        "name its addresses:\n[[flux.egress.destinations]]\nhost = \"{h}\"\ncidrs = [\"…/…\"]"
                    )),
                );
            }
        }
    }

    api_server(c);
}

/// On Calico, Cilium and kube-router the policy sees the API server's endpoint address after
/// DNAT, never the Service IP (kubernetes/website network-policies.md, "ipBlock"; cilium#20550).
fn api_server(c: &mut Checker<'_>) {
    let spec = c.spec;
    let cidrs = &spec.flux.api_server_cidrs;
    let service = spec
        .flux
        .egress
        .as_ref()
        .and_then(|e| e.service_cidr.as_ref());
    let service_cidr = service.map_or(fx::DEFAULT_SERVICE_CIDR, |s| s.as_str());
    let Ok(range) = Cidr::parse(service_cidr) else {
        return; // reported as TC1033
    };
    let parsed: Vec<(&Sp<String>, Cidr)> = cidrs
        .iter()
        .filter_map(|c| Cidr::parse(&c.value).ok().map(|p| (c, p)))
        .collect();
    if parsed.is_empty() || parsed.len() != cidrs.len() {
        return;
    }
    if parsed.iter().all(|(_, p)| range.covers(p)) {
        let first: Span = parsed[0].0.span.clone();
        c.push(
            Diagnostic::new(
                Code::ApiServerServiceIpOnly,
                format!(
                    "`api_server_cidrs` lists only addresses inside the Service CIDR {service_cidr}: Flux may lose the API server"
                ),
            )
            .at(first, "a Service IP, not the API server's endpoint")
            .note("Calico, Cilium and kube-router apply egress policies after the Service IP is translated to the endpoint, so an ipBlock of the Service IP matches nothing")
            .help("add the endpoints: kubectl get endpointslices -n default -l kubernetes.io/service-name=kubernetes -o jsonpath='{.items[*].endpoints[*].addresses}' (each as ADDRESS/32)"),
        );
    }
}
