//! Rules on `[flux]`, `[admission]`, `[git]`, `[alerts]`: versions, engines, CIDRs, durations.

use crate::check::Checker;
use crate::diag::{Code, Diagnostic};

pub(crate) const FLUX_VERSIONS: &[&str] = &["2.7", "2.8", "2.9"];
pub(crate) const ENGINES: &[&str] = &["kyverno", "kyverno-cel", "vap"];

pub(super) fn run(c: &mut Checker<'_>) {
    let spec = c.spec;
    if let Some(v) = &spec.flux.version {
        if !FLUX_VERSIONS.contains(&v.as_str()) {
            c.push(
                Diagnostic::new(
                    Code::UnsupportedFluxVersion,
                    format!("Flux version `{}` is not a target trustc supports", v.value),
                )
                .at(v.span.clone(), "unsupported Flux release")
                .note("the Flux release decides the apiVersions trustc emits (Image* v1 since 2.7, Alert/Provider v1beta3)")
                .help(format!("use one of: {}", FLUX_VERSIONS.join(", "))),
            );
        }
    }
    let engine = spec.admission.engine.as_ref();
    if let Some(e) = engine {
        if !ENGINES.contains(&e.as_str()) {
            let mut d = Diagnostic::new(
                Code::UnknownAdmissionEngine,
                format!("unknown admission engine `{}`", e.value),
            )
            .at(e.span.clone(), "not an engine trustc emits policies for");
            d = match crate::spec::suggest(&e.value, ENGINES.iter().copied()) {
                Some(s) => d.help(format!("did you mean `{s}`?")),
                None => d.help(format!("use one of: {}", ENGINES.join(", "))),
            };
            c.push(d);
        }
    }
    if let Some(kv) = &spec.admission.kyverno_version {
        match parse_minor(&kv.value) {
            Some((1, minor)) if (13..=19).contains(&minor) => {
                let cel = engine.is_some_and(|e| e.value == "kyverno-cel");
                if cel && minor < 17 {
                    c.push(
                        Diagnostic::new(
                            Code::UnknownAdmissionEngine,
                            format!("engine `kyverno-cel` needs Kyverno 1.17 or later, found {}", kv.value),
                        )
                        .at(kv.span.clone(), "policies.kyverno.io/v1 is served from Kyverno 1.17")
                        .help("raise `kyverno_version` or use `engine = \"kyverno\"`"),
                    );
                }
            }
            _ => c.push(
                Diagnostic::new(
                    Code::UnknownAdmissionEngine,
                    format!("Kyverno version `{}` is not supported", kv.value),
                )
                .at(kv.span.clone(), "expected \"1.13\" to \"1.19\"")
                .note("ClusterPolicy removal is planned for Kyverno 1.20; per-rule failureAction needs 1.13")
                .help("use a Kyverno release from 1.13 to 1.19"),
            ),
        }
    }
    if engine.is_some_and(|e| e.value == "vap")
        && spec
            .registries
            .values()
            .any(|r| r.cosign_key.is_some() || r.keyless.is_some())
    {
        let e = engine.expect("checked above");
        c.push(
            Diagnostic::new(
                Code::SignaturesNeedKyverno,
                "native ValidatingAdmissionPolicy cannot verify image signatures",
            )
            .at(e.span.clone(), "image signatures will be checked by a Kyverno policy")
            .note("trustc emits a Kyverno ImageValidatingPolicy beside the ValidatingAdmissionPolicies: Kyverno must run in the cluster")
            .help("install Kyverno, or use `engine = \"kyverno-cel\"` to keep every policy in one engine"),
        );
    }
    if spec.flux.api_server_cidrs.is_empty() {
        let d = Diagnostic::new(
            Code::EmptyList,
            "`flux.api_server_cidrs` is empty: the egress lock-down would cut Flux off the API server",
        )
        .help("add the kube-apiserver address, e.g. `api_server_cidrs = [\"10.96.0.1/32\"]`")
        .note("trustc removes Flux's allow-all egress policy; only DNS, these CIDRs, the notification-controller and Git stay reachable");

        let at = spec
            .headers
            .flux
            .clone()
            .unwrap_or_else(|| crate::diag::Span::new(spec.version.span.file, 0..0));
        c.push(d.at(at, "no API server address in [flux]"));
    }
    for cidr in &spec.flux.api_server_cidrs {
        if !is_cidr(&cidr.value) {
            c.push(
                Diagnostic::new(Code::InvalidCidr, format!("`{}` is not a CIDR", cidr.value))
                    .at(cidr.span.clone(), "expected ADDRESS/PREFIX")
                    .help("write e.g. \"10.96.0.1/32\" or \"fd00::1/128\""),
            );
        }
    }
    let durations = [
        (spec.git.interval.as_ref(), "git.interval"),
        (
            spec.alerts.as_ref().and_then(|a| a.for_.as_ref()),
            "alerts.for",
        ),
    ];
    for (d, what) in durations {
        if let Some(d) = d {
            if !is_go_duration(&d.value) {
                c.push(
                    Diagnostic::new(
                        Code::InvalidDuration,
                        format!("`{what}` = `{}` is not a duration", d.value),
                    )
                    .at(d.span.clone(), "expected a Go duration")
                    .help("write e.g. \"1m\", \"30s\" or \"1h30m\""),
                );
            }
        }
    }
}

fn parse_minor(v: &str) -> Option<(u32, u32)> {
    let (a, b) = v.split_once('.')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

pub(crate) fn is_cidr(s: &str) -> bool {
    let Some((addr, prefix)) = s.split_once('/') else {
        return false;
    };
    let Ok(prefix) = prefix.parse::<u8>() else {
        return false;
    };
    match addr.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(_)) => prefix <= 32,
        Ok(std::net::IpAddr::V6(_)) => prefix <= 128,
        Err(_) => false,
    }
}

/// Go's `time.ParseDuration` syntax, without sign: `1h30m`, `1.5s`, `300ms`.
pub(crate) fn is_go_duration(s: &str) -> bool {
    let mut rest = s;
    if rest.is_empty() {
        return false;
    }
    while !rest.is_empty() {
        let num_len = rest
            .find(|ch: char| !(ch.is_ascii_digit() || ch == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 || rest[..num_len].parse::<f64>().is_err() {
            return false;
        }
        rest = &rest[num_len..];
        let unit = ["ns", "us", "µs", "ms", "s", "m", "h"]
            .iter()
            .filter(|u| rest.starts_with(*u))
            .max_by_key(|u| u.len());
        match unit {
            Some(u) => rest = &rest[u.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_cidrs() {
        assert!(is_go_duration("1m"));
        assert!(is_go_duration("1h30m"));
        assert!(is_go_duration("1.5s"));
        assert!(is_go_duration("300ms"));
        assert!(!is_go_duration("5 minutes"));
        assert!(!is_go_duration("5"));
        assert!(!is_go_duration(""));
        assert!(is_cidr("10.96.0.1/32"));
        assert!(is_cidr("fd00::/8"));
        assert!(!is_cidr("10.96.0.1"));
        assert!(!is_cidr("10.96.0.1/33"));
    }
}
