//! Rules on `[flux]`, `[admission]`, `[git]`, `[alerts]`: versions, engines, CIDRs, durations.

use crate::check::Checker;
use crate::diag::{Code, Diagnostic};

use crate::spec::Sp;
pub(crate) use crate::spec::{ALERT_PROVIDERS, ENGINES, FLUX_VERSIONS, KYVERNO_VERSIONS};

/// "did you mean `x`?" when a likely typo (case or a `v` prefix first, then a close
/// spelling for names; never a "close" version number), else the whole list.
fn one_of(d: Diagnostic, given: &str, allowed: &[&str]) -> Diagnostic {
    let bare = given.trim().trim_start_matches(['v', 'V']);
    let exact = allowed
        .iter()
        .find(|a| a.eq_ignore_ascii_case(given.trim()) || **a == bare)
        .copied();
    let is_version = allowed
        .iter()
        .all(|a| a.starts_with(|ch: char| ch.is_ascii_digit()));
    let close = || {
        (!is_version)
            .then(|| crate::spec::suggest(given, allowed.iter().copied()))
            .flatten()
    };
    match exact.or_else(close) {
        Some(s) => d.help(format!("did you mean `{s}`?")),
        None => d.help(format!("use one of: {}", allowed.join(", "))),
    }
}

/// Refuses a value outside its fixed set, at its position.
fn enumerated(c: &mut Checker<'_>, v: &Sp<String>, key: &str, allowed: &[&str], why: &str) {
    if allowed.contains(&v.as_str()) {
        return;
    }
    let d = Diagnostic::new(
        Code::UnknownValue,
        format!("`{key}` = `{}` is not one of its values", v.value),
    )
    .at(v.span.clone(), "not an allowed value")
    .note(why.to_string());
    c.push(one_of(d, &v.value, allowed));
}

pub(super) fn run(c: &mut Checker<'_>) {
    let spec = c.spec;
    if let Some(v) = &spec.flux.version {
        if !FLUX_VERSIONS.contains(&v.as_str()) {
            let d = Diagnostic::new(
                Code::UnsupportedFluxVersion,
                format!("Flux version `{}` is not a target trustc supports", v.value),
            )
            .at(v.span.clone(), "unsupported Flux release")
            .note("the Flux release decides the apiVersions trustc emits (Image* v1 since 2.7, Alert/Provider v1beta3)");
            c.push(one_of(d, &v.value, FLUX_VERSIONS));
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
            d = one_of(d, &e.value, ENGINES);
            c.push(d);
        }
    }
    if let Some(kv) = &spec.admission.kyverno_version {
        if KYVERNO_VERSIONS.contains(&kv.as_str()) {
            let minor = parse_minor(&kv.value).map_or(0, |(_, m)| m);
            let cel = engine.is_some_and(|e| e.value == "kyverno-cel");
            if cel && minor < 17 {
                c.push(
                    Diagnostic::new(
                        Code::UnknownAdmissionEngine,
                        format!(
                            "engine `kyverno-cel` needs Kyverno 1.17 or later, found {}",
                            kv.value
                        ),
                    )
                    .at(
                        kv.span.clone(),
                        "policies.kyverno.io/v1 is served from Kyverno 1.17",
                    )
                    .help("raise `kyverno_version` or use `engine = \"kyverno\"`"),
                );
            }
        } else {
            let d = Diagnostic::new(
                Code::UnknownAdmissionEngine,
                format!("Kyverno version `{}` is not supported", kv.value),
            )
            .at(kv.span.clone(), "expected \"1.13\" to \"1.19\"")
            .note("ClusterPolicy removal is planned for Kyverno 1.20; per-rule failureAction needs 1.13");
            c.push(one_of(d, &kv.value, KYVERNO_VERSIONS));
        }
    }
    if let Some(p) = spec.alerts.as_ref().and_then(|a| a.provider.as_ref()) {
        enumerated(
            c,
            p,
            "alerts.provider",
            ALERT_PROVIDERS,
            "the Flux Provider `type` is an enum the API server enforces (notification-controller v1.9.3, api/v1beta3/provider_types.go)",
        );
    }
    if let Some(v) = &spec.flux.pod_security_version {
        if !is_psa_version(&v.value) {
            c.push(
                Diagnostic::new(
                    Code::UnknownValue,
                    format!("`flux.pod_security_version` = `{}` is not a Pod Security Standards version", v.value),
                )
                .at(v.span.clone(), "expected `latest` or `v1.MINOR`")
                .note("the Pod Security admission label `pod-security.kubernetes.io/enforce-version` takes `latest` or a Kubernetes minor version `v1.N`")
                .help("write e.g. \"v1.35\""),
            );
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
    if spec.flux.api_server_cidrs.is_empty() && !spec.headers.unread.contains("flux") {
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

/// `latest` or `v1.N`: the values of the `pod-security.kubernetes.io/<mode>-version` label
/// (kubernetes v1.35 `staging/src/k8s.io/pod-security-admission/api/helpers.go`,
/// `ParseVersion`: "latest" or `v1.<minor>`).
pub(crate) fn is_psa_version(v: &str) -> bool {
    v == "latest"
        || v.strip_prefix("v1.").is_some_and(|m| {
            !m.is_empty()
                && m.bytes().all(|b| b.is_ascii_digit())
                && !(m.len() > 1 && m.starts_with('0'))
        })
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
