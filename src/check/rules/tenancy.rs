//! Rules on what the tenants' admission engine and image verification will do on a current
//! cluster: the deprecated Kyverno policy type, transparency-log settings that verify nothing.

use crate::check::Checker;
use crate::diag::{Code, Diagnostic};

pub(super) fn run(c: &mut Checker<'_>) {
    let spec = c.spec;
    // kyverno/kyverno v1.17 deprecated kyverno.io/v1 ClusterPolicy (removal planned for 1.20);
    // trustc's default engine there is kyverno-cel.
    if let (Some(engine), Some(version)) = (&spec.admission.engine, &spec.admission.kyverno_version)
    {
        let minor = version
            .value
            .strip_prefix("1.")
            .and_then(|m| m.split('.').next())
            .and_then(|m| m.parse::<u32>().ok());
        if engine.value == "kyverno" && minor.is_some_and(|m| m >= 17) {
            c.push(
                Diagnostic::new(
                    Code::DeprecatedClusterPolicy,
                    format!(
                        "engine `kyverno` emits kyverno.io/v1 ClusterPolicy, deprecated since Kyverno 1.17 (found {})",
                        version.value
                    ),
                )
                .at(engine.span.clone(), "deprecated policy type")
                .note("Kyverno plans to remove ClusterPolicy in 1.20; the same CEL runs as policies.kyverno.io/v1 ValidatingPolicy and ImageValidatingPolicy")
                .help("use `engine = \"kyverno-cel\"` (the default from Kyverno 1.17 when `engine` is omitted)"),
            );
        }
    }
    for (name, r) in &spec.registries {
        if r.cosign_key.is_some() || r.keyless.is_some() {
            continue;
        }
        let span = match (&r.tlog, &r.rekor_url) {
            (Some(t), _) => t.span.clone(),
            (None, Some(u)) => u.span.clone(),
            (None, None) => continue,
        };
        c.push(
            Diagnostic::new(
                Code::TlogWithoutSignatures,
                format!("registry `{name}` sets transparency-log options but no signing key or identity"),
            )
            .at(span, "nothing is verified for this registry")
            .note("`tlog` and `rekor_url` only configure how signatures from `cosign_key` or `keyless` are checked")
            .help("add `cosign_key` or `[registries.NAME.keyless]`, or remove `tlog`/`rekor_url`"),
        );
    }
}
