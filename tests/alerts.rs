//! Alerts reach a human under the lock-down: notification-controller's event routing
//! emulated from fluxcd/notification-controller v1.9.3 `internal/server/event_handlers.go`
//! (`filterAlertsForEvent`, `eventMatchesAlertSource`, and the `--no-cross-namespace-refs`
//! check "discarding event, access denied to cross-namespace sources"), over the committed
//! `generated/` tree.

use std::path::Path;

use serde_json::Value;

use crate::support::root;

fn docs_under(dir: &Path, out: &mut Vec<Value>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            docs_under(&p, out);
        } else if p.extension().is_some_and(|x| x == "yaml")
            && p.file_name().is_some_and(|n| n != "kustomization.yaml")
        {
            let text = std::fs::read_to_string(&p).unwrap();
            out.extend(trustc::verify::parse_documents(&text).unwrap());
        }
    }
}

fn s<'a>(v: &'a Value, ptr: &str) -> &'a str {
    v.pointer(ptr).and_then(Value::as_str).unwrap_or("")
}

/// The Providers (namespace/name) an error event of `(kind, ns, name)` is sent to.
fn routed(docs: &[Value], no_cross_ns: bool, kind: &str, ns: &str, name: &str) -> Vec<String> {
    let mut out = Vec::new();
    for alert in docs.iter().filter(|d| d["kind"] == "Alert") {
        let ans = s(alert, "/metadata/namespace");
        let sev = s(alert, "/spec/eventSeverity");
        let matches = alert["spec"]["eventSources"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|src| {
                let sns = match s(src, "/namespace") {
                    "" => ans,
                    x => x,
                };
                sns == ns
                    && s(src, "/kind") == kind
                    && (sev == "error" || sev == "info" || sev.is_empty())
                    && (s(src, "/name") == "*" || s(src, "/name") == name)
            });
        if !matches || alert["spec"]["suspend"] == true {
            continue;
        }
        if no_cross_ns && ns != ans {
            continue; // "discarding event, access denied to cross-namespace sources"
        }
        let provider = s(alert, "/spec/providerRef/name");
        let Some(p) = docs.iter().find(|d| {
            d["kind"] == "Provider"
                && s(d, "/metadata/namespace") == ans
                && s(d, "/metadata/name") == provider
        }) else {
            continue;
        };
        // The provider secret is read in the Provider's namespace.
        let secret = s(p, "/spec/secretRef/name");
        let secret_ok = secret.is_empty()
            || docs.iter().any(|d| {
                s(d, "/metadata/namespace") == ans
                    && ((d["kind"] == "ExternalSecret" && s(d, "/spec/target/name") == secret)
                        || (d["kind"] == "Secret" && s(d, "/metadata/name") == secret))
            });
        if secret_ok {
            out.push(format!("{ans}/{provider}"));
        }
    }
    out
}

const FLUX_KINDS: &[&str] = &[
    "GitRepository",
    "OCIRepository",
    "HelmRepository",
    "Kustomization",
    "HelmRelease",
    "ImageRepository",
    "ImagePolicy",
];

#[test]
fn every_flux_object_failure_reaches_a_provider_under_the_lockdown() {
    // The lock-down sets --no-cross-namespace-refs on notification-controller.
    assert!(
        trustc::flux::lockdown_args(trustc::flux::NOTIFICATION)
            .contains(&"--no-cross-namespace-refs=true")
    );
    let generated = root().join("generated");
    for env in ["production", "staging"] {
        let mut docs = Vec::new();
        docs_under(&generated.join(env), &mut docs);
        let mut objects: Vec<(String, String, String)> = docs
            .iter()
            .filter(|d| {
                FLUX_KINDS.contains(&s(d, "/kind"))
                    && s(d, "/apiVersion").contains("toolkit.fluxcd.io")
            })
            .map(|d| {
                (
                    s(d, "/kind").to_string(),
                    s(d, "/metadata/namespace").to_string(),
                    s(d, "/metadata/name").to_string(),
                )
            })
            .collect();
        assert!(
            objects.iter().any(|o| o.1 == "payments"),
            "{env}: no tenant objects?"
        );
        // A tenant's own HelmRelease, in each of its namespaces (a legitimate operation).
        for ns in docs
            .iter()
            .filter(|d| d["kind"] == "Namespace")
            .map(|d| s(d, "/metadata/name").to_string())
        {
            objects.push(("HelmRelease".into(), ns, "my-own-release".into()));
        }
        for (kind, ns, name) in &objects {
            let to = routed(&docs, true, kind, ns, name);
            assert!(
                !to.is_empty(),
                "{env}: a failing {kind} {ns}/{name} alerts nobody under --no-cross-namespace-refs"
            );
        }
    }
}

#[test]
fn the_emulation_discards_cross_namespace_alerts() {
    // The layout trustc used to emit: the tenant's Alert in flux-system.
    let docs: Vec<Value> = trustc::verify::parse_documents(
        r#"
apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Provider
metadata: {name: p, namespace: flux-system}
spec: {type: slack}
---
apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Alert
metadata: {name: tenant-payments, namespace: flux-system}
spec:
  providerRef: {name: p}
  eventSeverity: error
  eventSources: [{kind: Kustomization, name: payments, namespace: payments}]
"#,
    )
    .unwrap();
    assert_eq!(
        routed(&docs, false, "Kustomization", "payments", "payments"),
        ["flux-system/p"]
    );
    assert!(routed(&docs, true, "Kustomization", "payments", "payments").is_empty());
}

/// kube-state-metrics may list/watch every Flux kind its custom-resource-state config names
/// (without it gotk_resource_info never exists), and `absent(gotk_resource_info)` alerts.
#[test]
fn kube_state_metrics_can_list_what_its_config_names() {
    for env in ["production", "staging"] {
        let dir = root().join("generated").join(env).join("monitoring");
        let mut docs = Vec::new();
        docs_under(&dir, &mut docs);
        let cm = docs
            .iter()
            .find(|d| d["kind"] == "ConfigMap")
            .expect("custom-resource-state ConfigMap");
        let config = trustc::verify::parse_documents(s(cm, "/data/config.yaml")).unwrap();
        let role = docs
            .iter()
            .find(|d| d["kind"] == "ClusterRole")
            .expect("ClusterRole for kube-state-metrics");
        let binding = docs
            .iter()
            .find(|d| d["kind"] == "ClusterRoleBinding")
            .expect("ClusterRoleBinding for kube-state-metrics");
        assert_eq!(s(binding, "/roleRef/name"), s(role, "/metadata/name"));
        assert_eq!(s(binding, "/subjects/0/kind"), "ServiceAccount");
        assert_eq!(s(binding, "/subjects/0/name"), "kube-state-metrics");
        assert_eq!(s(binding, "/subjects/0/namespace"), "monitoring");
        let resources = config[0]["spec"]["resources"].as_array().unwrap();
        assert!(!resources.is_empty());
        for r in resources {
            let group = s(r, "/groupVersionKind/group");
            let kind = s(r, "/groupVersionKind/kind");
            let info = trustc::kinds::builtin(group, kind)
                .unwrap_or_else(|| panic!("{group}/{kind} unknown"));
            let granted = role["rules"].as_array().unwrap().iter().any(|rule| {
                let has = |k: &str, v: &str| rule[k].as_array().unwrap().iter().any(|x| x == v);
                has("apiGroups", group)
                    && has("resources", &info.resource)
                    && has("verbs", "list")
                    && has("verbs", "watch")
            });
            assert!(
                granted,
                "{env}: kube-state-metrics cannot list/watch {}",
                info.resource
            );
        }
        let rule = docs.iter().find(|d| d["kind"] == "PrometheusRule").unwrap();
        assert!(
            rule.to_string().contains("absent(gotk_resource_info)"),
            "{env}: no alert when the Flux metrics are absent"
        );
    }
}
