//! Invariants of the flux-system lock-down that a template override could break: every flag
//! the Component adds is one that controller accepts (TC3030), and Flux's controllers still
//! reach each other under the emitted NetworkPolicies plus the upstream ones the lock-down
//! keeps (TC3031). The cluster twin (`tests/twin.rs`) proves the same over the real install.

use serde_json::Value;

use crate::diag::{Code, Diagnostic};
use crate::flux as fx;
use crate::model::{Env, Policy};
use crate::netpol::{Cluster, ContainerPort, Endpoint, NetworkPolicy, Pod, Protocol};

fn fail(code: Code, env: &str, what: String) -> Diagnostic {
    Diagnostic::new(code, format!("[{env}] {what}"))
        .note("applied to Flux 2.9, this lock-down would stop Flux from reconciling")
        .help("the output is refused and nothing is written; fix the template override or report a trustc bug")
}

/// Controllers a kustomize patch target names: `name` is a regular expression in kustomize;
/// trustc emits plain names or `(a|b)` alternations.
fn targets(name: &str) -> Vec<&str> {
    name.trim_start_matches('^')
        .trim_end_matches('$')
        .trim_start_matches('(')
        .trim_end_matches(')')
        .split('|')
        .collect()
}

pub(super) fn check(out: &mut Vec<Diagnostic>, policy: &Policy, env: &Env, docs: &[&Value]) {
    let e = &env.name;
    for comp in docs.iter().filter(|d| d["kind"] == "Component") {
        for p in comp["patches"].as_array().into_iter().flatten() {
            if p.pointer("/target/kind").and_then(Value::as_str) != Some("Deployment") {
                continue;
            }
            let name = p
                .pointer("/target/name")
                .and_then(Value::as_str)
                .unwrap_or("");
            let ops = p
                .get("patch")
                .and_then(Value::as_str)
                .and_then(|t| crate::verify::parse_documents(t).ok())
                .unwrap_or_default();
            let args: Vec<String> = ops
                .iter()
                .filter_map(Value::as_array)
                .flatten()
                .filter(|op| {
                    op.get("path")
                        .and_then(Value::as_str)
                        .is_some_and(|p| p.contains("/args"))
                })
                .filter_map(|op| op.get("value").and_then(Value::as_str).map(str::to_string))
                .collect();
            for ctl in targets(name) {
                if let Err(problems) = fx::check_args(ctl, &args) {
                    for pr in problems {
                        out.push(fail(Code::LockdownFlagRefused, e, pr));
                    }
                }
            }
        }
    }

    let ns = &policy.flux.namespace;
    let mut cluster = Cluster::default();
    cluster.namespace(ns, Default::default());
    for ctl in fx::CONTROLLERS {
        cluster.pods.push(Pod {
            name: (*ctl).to_string(),
            namespace: ns.clone(),
            labels: [("app".to_string(), (*ctl).to_string())].into(),
            ports: fx::container_ports(ctl)
                .iter()
                .map(|(n, p)| ContainerPort {
                    name: Some((*n).to_string()),
                    port: *p,
                    protocol: Protocol::Tcp,
                })
                .collect(),
        });
    }
    let mut policies: Vec<Value> = fx::kept_upstream_policies(ns);
    policies.extend(
        docs.iter()
            .filter(|d| d["kind"] == "NetworkPolicy" && d["metadata"]["namespace"] == ns.as_str())
            .map(|d| (*d).clone()),
    );
    for p in &policies {
        match NetworkPolicy::parse(p) {
            Ok(np) => cluster.policies.push(np),
            Err(m) => out.push(fail(
                Code::FluxControllersCutOff,
                e,
                format!("NetworkPolicy: {m}"),
            )),
        }
    }
    for (client, server, port) in fx::internal_flows() {
        let (Some(c), Some(s)) = (cluster.pod(ns, client), cluster.pod(ns, server)) else {
            continue;
        };
        let v = cluster.flow(Endpoint::Pod(c), Endpoint::Pod(s), port, Protocol::Tcp);
        if !v.allowed() {
            let side = match (v.egress, v.ingress) {
                (false, false) => "egress and ingress",
                (false, true) => "egress",
                _ => "ingress",
            };
            out.push(fail(
                Code::FluxControllersCutOff,
                e,
                format!("{client} cannot reach {server}:{port} ({side} denied)"),
            ));
        }
    }
}
