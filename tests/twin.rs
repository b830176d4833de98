//! The cluster twin: each environment's flux-lockdown component built over the REAL Flux
//! v2.9.4 install (`<shared>/upstream/flux-2.9/install`, with `kubectl kustomize`), its
//! NetworkPolicies evaluated with `trustc::netpol`, and every controller's final args checked
//! against the table of flags each binary accepts (`trustc::flux`).
//!
//! Skips, saying what is missing, without `../shared` (or `$TRUSTC_SHARED`) or kubectl
//! (`$KUBECTL`, else `kubectl` on PATH). `.ci/run` exports KUBECTL, so CI never skips.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use trustc::flux as fx;
use trustc::netpol::{Cluster, ContainerPort, Endpoint, Labels, NetworkPolicy, Pod, Protocol};

use crate::support::{root, skip};

fn shared() -> Option<PathBuf> {
    let dir = std::env::var_os("TRUSTC_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("../shared"));
    let install = dir.join("upstream/flux-2.9/install");
    install
        .join("kustomization.yaml")
        .is_file()
        .then_some(install)
}

fn kubectl() -> Option<PathBuf> {
    if let Some(k) = std::env::var_os("KUBECTL") {
        return Some(PathBuf::from(k));
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join("kubectl"))
        .find(|p| p.is_file())
}

/// The real install and kubectl, or `None` after saying which is missing.
fn tools() -> Option<(PathBuf, PathBuf)> {
    let Some(install) = shared() else {
        skip(
            "the cluster twin needs the real Flux install at ../shared/upstream/flux-2.9/install (or $TRUSTC_SHARED)",
        );
        return None;
    };
    let Some(k) = kubectl() else {
        skip("the cluster twin needs kubectl ($KUBECTL or on PATH)");
        return None;
    };
    Some((install, k))
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), dst).unwrap();
        }
    }
}

fn scratch(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("trustc-twin-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn parse(text: &str) -> Vec<Value> {
    trustc::verify::parse_documents(text).expect("YAML")
}

/// `kubectl kustomize` of `resources: [install]`, `components: [lockdown]`.
fn build(install: &Path, kubectl: &Path, component: &Path, tag: &str) -> Vec<Value> {
    let d = scratch(tag);
    copy_dir(install, &d.join("install"));
    copy_dir(component, &d.join("lockdown"));
    std::fs::write(
        d.join("kustomization.yaml"),
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [install]\ncomponents: [lockdown]\n",
    )
    .unwrap();
    let out = Command::new(kubectl)
        .arg("kustomize")
        .arg(&d)
        .output()
        .expect("kubectl runs");
    let _ = std::fs::remove_dir_all(&d);
    assert!(
        out.status.success(),
        "kubectl kustomize failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    parse(&String::from_utf8(out.stdout).unwrap())
}

fn kind<'a>(docs: &'a [Value], k: &str) -> impl Iterator<Item = &'a Value> + 'a {
    let k = k.to_string();
    docs.iter().filter(move |d| d["kind"] == k.as_str())
}

fn name(d: &Value) -> &str {
    d["metadata"]["name"].as_str().unwrap_or("")
}

/// The cluster one environment runs: the built flux-system, the environment's tenant
/// namespaces and policies, kube-dns, a monitoring pod, and a pod in each tenant namespace.
struct Twin {
    cluster: Cluster,
    /// Service name → (port → targetPort), flux-system.
    services: BTreeMap<String, (Labels, BTreeMap<u16, Value>)>,
    deployments: Vec<Value>,
    tenant_namespaces: Vec<String>,
}

const FLUX_NS: &str = "flux-system";

fn twin(built: &[Value], env_dir: &Path) -> Twin {
    let mut c = Cluster::default();
    for ns in kind(built, "Namespace") {
        c.namespace(name(ns), labels(&ns["metadata"]["labels"]));
    }
    c.namespace("kube-system", Labels::new());
    c.namespace("monitoring", Labels::new());
    let deployments: Vec<Value> = kind(built, "Deployment").cloned().collect();
    for d in &deployments {
        c.pods.push(Pod::from_workload(d).unwrap());
    }
    for np in kind(built, "NetworkPolicy") {
        c.policies.push(NetworkPolicy::parse(np).unwrap());
    }
    // Upstream kube-dns/CoreDNS: ports `dns` 53/UDP and `dns-tcp` 53/TCP
    // (kubernetes/kubernetes cluster/addons/dns/coredns/coredns.yaml.base).
    let port = |n: &str, p: u16, pr: Protocol| ContainerPort {
        name: Some(n.into()),
        port: p,
        protocol: pr,
    };
    c.pods.push(Pod {
        name: "coredns".into(),
        namespace: "kube-system".into(),
        labels: [("k8s-app".to_string(), "kube-dns".to_string())].into(),
        ports: vec![
            port("dns", 53, Protocol::Udp),
            port("dns-tcp", 53, Protocol::Tcp),
        ],
    });
    c.pods.push(Pod {
        name: "prometheus".into(),
        namespace: "monitoring".into(),
        labels: [("app".to_string(), "prometheus".to_string())].into(),
        ports: vec![],
    });
    let mut tenant_namespaces = Vec::new();
    let tenants = env_dir.join("tenants");
    for t in std::fs::read_dir(&tenants).into_iter().flatten() {
        let t = t.unwrap().path();
        if !t.is_dir() {
            continue;
        }
        for f in std::fs::read_dir(&t).unwrap() {
            let text = std::fs::read_to_string(f.unwrap().path()).unwrap();
            for d in parse(&text) {
                match d["kind"].as_str() {
                    Some("Namespace") => {
                        c.namespace(name(&d), labels(&d["metadata"]["labels"]));
                        tenant_namespaces.push(name(&d).to_string());
                    }
                    Some("NetworkPolicy") => c.policies.push(NetworkPolicy::parse(&d).unwrap()),
                    _ => {}
                }
            }
        }
    }
    tenant_namespaces.sort();
    for ns in &tenant_namespaces {
        c.pods.push(Pod {
            name: "app".into(),
            namespace: ns.clone(),
            labels: [("app".to_string(), "app".to_string())].into(),
            ports: vec![port("http", 8080, Protocol::Tcp)],
        });
    }
    let services = kind(built, "Service")
        .map(|s| {
            let ports = s["spec"]["ports"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| (p["port"].as_u64().unwrap() as u16, p["targetPort"].clone()))
                .collect();
            (name(s).to_string(), (labels(&s["spec"]["selector"]), ports))
        })
        .collect();
    Twin {
        cluster: c,
        services,
        deployments,
        tenant_namespaces,
    }
}

fn labels(v: &Value) -> Labels {
    v.as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                .collect()
        })
        .unwrap_or_default()
}

impl Twin {
    fn pod(&self, ns: &str, app: &str) -> &Pod {
        self.cluster
            .pods
            .iter()
            .find(|p| p.namespace == ns && p.labels.get("app").map(String::as_str) == Some(app))
            .unwrap_or_else(|| panic!("no pod {ns}/{app}"))
    }

    /// The pod and container port a connection to `service:port` in flux-system lands on.
    fn via_service(&self, service: &str, port: u16) -> (&Pod, u16) {
        let (selector, ports) = &self.services[service];
        let target = &ports[&port];
        let pod = self
            .cluster
            .pods
            .iter()
            .find(|p| {
                p.namespace == FLUX_NS && selector.iter().all(|(k, v)| p.labels.get(k) == Some(v))
            })
            .unwrap_or_else(|| panic!("Service {service} selects no pod"));
        let cport = match target {
            Value::String(n) => {
                pod.ports
                    .iter()
                    .find(|cp| cp.name.as_deref() == Some(n.as_str()))
                    .unwrap_or_else(|| panic!("{service}: targetPort {n} not on {}", pod.name))
                    .port
            }
            v => v.as_u64().unwrap() as u16,
        };
        (pod, cport)
    }

    fn args(&self, controller: &str) -> Vec<String> {
        let d = self
            .deployments
            .iter()
            .find(|d| name(d) == controller)
            .unwrap_or_else(|| panic!("no Deployment {controller}"));
        d["spec"]["template"]["spec"]["containers"][0]["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().to_string())
            .collect()
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// An address from the CIDRs a spec names for `host`, or an arbitrary internet address
/// when it names none (then the rule must allow every address).
fn address_of(dests: &[(String, Vec<String>)], host: &str) -> IpAddr {
    dests
        .iter()
        .find(|(h, _)| h == host)
        .and_then(|(_, c)| c.first())
        .map_or(ip("198.51.100.20"), |c| {
            trustc::netpol::Cidr::parse(c).unwrap().first()
        })
}

/// What a spec says Flux connects to: (controller, host, port).
fn external_needs(spec: &trustc::spec::TrustModel, env: &str) -> Vec<(&'static str, String, u16)> {
    let mut out = Vec::new();
    let ep = |u: &str| fx::endpoint(u).unwrap();
    let (h, p) = ep(&spec.platform.repository.value);
    out.push((fx::SOURCE, h, p));
    for t in spec.tenants.values() {
        if !t.environments.iter().any(|e| e.value == env) {
            continue;
        }
        let (h, p) = ep(&t.repository.value);
        out.push((fx::SOURCE, h, p));
        for c in &t.charts {
            let (h, p) = ep(&c.repository.value);
            out.push((fx::SOURCE, h, p));
        }
        for i in &t.images {
            let (h, p) = ep(&i.repository.value);
            out.push((fx::IMAGE_REFLECTOR, h, p));
        }
    }
    out
}

/// Builds and evaluates every environment of `out` (generated from `spec_path`).
fn check_tree(install: &Path, kubectl: &Path, spec_path: &Path, out: &Path, tag: &str) {
    let (_, diags, valid) = crate::support::front(spec_path, &crate::support::fixture_clock(""));
    let valid = valid.unwrap_or_else(|| panic!("spec invalid: {diags:#?}"));
    let spec = &valid.spec;
    let api: Vec<IpAddr> = spec
        .flux
        .api_server_cidrs
        .iter()
        .map(|c| trustc::netpol::Cidr::parse(&c.value).unwrap().first())
        .collect();
    let dests: Vec<(String, Vec<String>)> = spec
        .flux
        .egress
        .as_ref()
        .map(|e| {
            e.destinations
                .iter()
                .map(|d| {
                    (
                        d.host.value.clone(),
                        d.cidrs.iter().map(|c| c.value.clone()).collect(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let egress = spec.flux.egress.as_ref();
    let kube_dns = egress
        .and_then(|e| e.kube_dns.as_ref())
        .is_none_or(|b| b.value);
    let dns_servers: Vec<IpAddr> = match egress.and_then(|e| e.dns_cidrs.as_ref()) {
        Some(list) => list
            .iter()
            .map(|c| trustc::netpol::Cidr::parse(&c.value).unwrap().first())
            .collect(),
        None => vec![ip("169.254.20.10")],
    };
    let mut envs: Vec<&String> = spec.environments.keys().collect();
    envs.sort();
    assert!(!envs.is_empty());
    for env in envs {
        let env_dir = out.join(env);
        let built = build(
            install,
            kubectl,
            &env_dir.join("flux-lockdown"),
            &format!("{tag}-{env}"),
        );
        let tw = twin(&built, &env_dir);
        let c = &tw.cluster;
        // (controller, port) pairs the spec opens to every address: a destination named
        // without CIDRs, or the alert provider (its address is in a Secret).
        let mut open_any: Vec<(&str, u16)> = external_needs(spec, env)
            .into_iter()
            .filter(|(_, host, _)| !dests.iter().any(|(h, c)| h == host && !c.is_empty()))
            .map(|(ctl, _, port)| (ctl, port))
            .collect();
        if spec.alerts.as_ref().is_some_and(|a| a.provider.is_some()) {
            open_any.push((fx::NOTIFICATION, 443));
        }
        let mut failures: Vec<String> = Vec::new();
        let mut expect = |ok: bool, want: bool, what: String| {
            if ok != want {
                failures.push(format!(
                    "{env}: {what} is {} but must be {}",
                    if ok { "allowed" } else { "denied" },
                    if want { "allowed" } else { "denied" }
                ));
            }
        };
        assert!(
            kind(&built, "NetworkPolicy").all(|n| name(n) != "allow-egress"),
            "{env}: Flux's allow-all egress survived the lock-down"
        );

        // Flags: every controller's final args are accepted by that binary, and the
        // lock-down's are all there.
        for ctl in fx::CONTROLLERS {
            let args = tw.args(ctl);
            if let Err(p) = fx::check_args(ctl, &args) {
                expect(false, true, format!("the args of {ctl} ({})", p.join("; ")));
            }
            for a in fx::lockdown_args(ctl) {
                expect(
                    args.iter().any(|x| x == a),
                    true,
                    format!("flag {a} on {ctl}"),
                );
            }
        }

        // In-cluster flows Flux needs. Events go where each controller's --events-addr
        // points (the notification-controller Service, port 80 of `http://`).
        for ctl in fx::CONTROLLERS {
            let src = tw.pod(FLUX_NS, ctl);
            if let Some(addr) = tw
                .args(ctl)
                .iter()
                .find_map(|a| a.strip_prefix("--events-addr=http://").map(str::to_string))
            {
                let svc = addr.split('.').next().unwrap();
                let (dst, port) = tw.via_service(svc, 80);
                expect(
                    c.flow(Endpoint::Pod(src), Endpoint::Pod(dst), port, Protocol::Tcp)
                        .allowed(),
                    true,
                    format!("{ctl} → Service {svc}:80 (events)"),
                );
            }
            // DNS: the kube-dns pods and the spec's DNS servers (NodeLocal DNSCache by
            // default); kube-dns denied when the spec turns it off.
            let dns = tw.pod_by_label("kube-system", "k8s-app", "kube-dns");
            for proto in [Protocol::Udp, Protocol::Tcp] {
                expect(
                    c.flow(Endpoint::Pod(src), Endpoint::Pod(dns), 53, proto)
                        .allowed(),
                    kube_dns,
                    format!("{ctl} → kube-dns 53/{proto:?}"),
                );
                for server in &dns_servers {
                    expect(
                        c.flow(Endpoint::Pod(src), Endpoint::Ip(*server), 53, proto)
                            .allowed(),
                        true,
                        format!("{ctl} → DNS server {server}:53/{proto:?}"),
                    );
                }
                expect(
                    c.flow(
                        Endpoint::Pod(src),
                        Endpoint::Ip(ip("203.0.113.53")),
                        53,
                        proto,
                    )
                    .allowed(),
                    false,
                    format!("{ctl} → an arbitrary DNS server 203.0.113.53:53/{proto:?}"),
                );
            }
            for a in &api {
                for port in [443, 6443] {
                    expect(
                        c.flow(Endpoint::Pod(src), Endpoint::Ip(*a), port, Protocol::Tcp)
                            .allowed(),
                        true,
                        format!("{ctl} → API server {a}:{port}"),
                    );
                }
            }
            // Metrics scraping from the monitoring namespace (upstream allow-scraping).
            let prom = tw.pod("monitoring", "prometheus");
            expect(
                c.flow(Endpoint::Pod(prom), Endpoint::Pod(src), 8080, Protocol::Tcp)
                    .allowed(),
                true,
                format!("monitoring → {ctl}:8080"),
            );
            // Nothing but the spec's destinations leaves the cluster.
            for port in [22, 443, 7999] {
                expect(
                    c.flow(
                        Endpoint::Pod(src),
                        Endpoint::Ip(ip("203.0.113.7")),
                        port,
                        Protocol::Tcp,
                    )
                    .allowed()
                        && !open_any.contains(&(*ctl, port)),
                    false,
                    format!("{ctl} → arbitrary internet host 203.0.113.7:{port}"),
                );
            }
            // Controllers cannot reach tenant pods.
            for ns in &tw.tenant_namespaces {
                let app = tw.pod(ns, "app");
                expect(
                    c.flow(Endpoint::Pod(src), Endpoint::Pod(app), 8080, Protocol::Tcp)
                        .allowed(),
                    false,
                    format!("{ctl} → tenant pod {ns}/app:8080"),
                );
            }
        }
        // Artifacts: kustomize-, helm-controller and source-watcher fetch from
        // source-controller; kustomize- and helm-controller from source-watcher
        // (--storage-adv-addr=<svc>.$(RUNTIME_NAMESPACE).svc…, Service http 80 → http 9090).
        for (consumer, producer) in [
            (fx::KUSTOMIZE, fx::SOURCE),
            (fx::HELM, fx::SOURCE),
            (fx::SOURCE_WATCHER, fx::SOURCE),
            (fx::KUSTOMIZE, fx::SOURCE_WATCHER),
            (fx::HELM, fx::SOURCE_WATCHER),
        ] {
            let adv = tw
                .args(producer)
                .iter()
                .find_map(|a| a.strip_prefix("--storage-adv-addr=").map(str::to_string))
                .expect("--storage-adv-addr");
            let svc = adv.split('.').next().unwrap();
            let (dst, port) = tw.via_service(svc, 80);
            expect(
                c.flow(
                    Endpoint::Pod(tw.pod(FLUX_NS, consumer)),
                    Endpoint::Pod(dst),
                    port,
                    Protocol::Tcp,
                )
                .allowed(),
                true,
                format!("{consumer} → Service {svc}:80 (artifacts)"),
            );
        }
        // Tenants reach only the webhook receiver (upstream allow-webhooks).
        for ns in &tw.tenant_namespaces {
            let app = tw.pod(ns, "app");
            let (nc, webhook) = tw.via_service("webhook-receiver", 80);
            expect(
                c.flow(
                    Endpoint::Pod(app),
                    Endpoint::Pod(nc),
                    webhook,
                    Protocol::Tcp,
                )
                .allowed(),
                true,
                format!("tenant {ns} → webhook-receiver:80"),
            );
            for (svc, what) in [
                ("source-controller", "artifacts"),
                ("source-watcher", "artifacts"),
                ("notification-controller", "events"),
            ] {
                let (dst, port) = tw.via_service(svc, 80);
                expect(
                    c.flow(Endpoint::Pod(app), Endpoint::Pod(dst), port, Protocol::Tcp)
                        .allowed(),
                    false,
                    format!("tenant {ns} → {svc}:80 ({what})"),
                );
            }
        }
        // The spec's external destinations, on their ports, for the controllers that use them.
        for (ctl, host, port) in external_needs(spec, env) {
            let to = address_of(&dests, &host);
            expect(
                c.flow(
                    Endpoint::Pod(tw.pod(FLUX_NS, ctl)),
                    Endpoint::Ip(to),
                    port,
                    Protocol::Tcp,
                )
                .allowed(),
                true,
                format!("{ctl} → {host} ({to}):{port}"),
            );
            // Other controllers do not get that destination.
            if ctl == fx::SOURCE {
                expect(
                    c.flow(
                        Endpoint::Pod(tw.pod(FLUX_NS, fx::KUSTOMIZE)),
                        Endpoint::Ip(to),
                        port,
                        Protocol::Tcp,
                    )
                    .allowed(),
                    false,
                    format!("kustomize-controller → {host} ({to}):{port}"),
                );
            }
        }
        if spec.alerts.as_ref().is_some_and(|a| a.provider.is_some()) {
            expect(
                c.flow(
                    Endpoint::Pod(tw.pod(FLUX_NS, fx::NOTIFICATION)),
                    Endpoint::Ip(ip("198.51.100.30")),
                    443,
                    Protocol::Tcp,
                )
                .allowed(),
                true,
                "notification-controller → alert provider :443".into(),
            );
        }
        assert!(failures.is_empty(), "{tag}:\n{}", failures.join("\n"));
    }
}

impl Twin {
    fn pod_by_label(&self, ns: &str, k: &str, v: &str) -> &Pod {
        self.cluster
            .pods
            .iter()
            .find(|p| p.namespace == ns && p.labels.get(k).map(String::as_str) == Some(v))
            .unwrap()
    }
}

/// The committed `generated/` of the example spec, over the real install.
#[test]
fn example_lockdown_keeps_flux_working_on_the_real_install() {
    let Some((install, k)) = tools() else { return };
    check_tree(
        &install,
        &k,
        &root().join("policy-spec/trust.toml"),
        &root().join("generated"),
        "example",
    );
}

/// A Bitbucket Server on 7999, a Helm repository on 8443, a Git host without CIDRs: every
/// port the spec names is opened for the controller that uses it.
#[test]
fn explicit_ports_and_unnamed_hosts_over_the_real_install() {
    let Some((install, k)) = tools() else { return };
    let d = scratch("ports");
    copy_dir(&root().join("policy-spec/keys"), &d.join("keys"));
    let spec = std::fs::read_to_string(root().join("policy-spec/trust.toml"))
        .unwrap()
        .replace(
            "repository = \"ssh://git@github.com/example/payments-manifests.git\"",
            "repository = \"ssh://git@bitbucket.example.com:7999/pay/manifests.git\"",
        )
        .replace(
            "repository = \"oci://registry.internal.example.com/charts/payments-api\"",
            "repository = \"https://charts.example.com:8443/stable\"",
        );
    assert!(spec.contains(":7999/") && spec.contains(":8443/"));
    std::fs::write(d.join("trust.toml"), &spec).unwrap();
    let out = d.join("out");
    let spec_s = d.join("trust.toml").display().to_string();
    let out_s = out.display().to_string();
    let code = trustc::cli::run(vec![
        "trustc", "generate", "--spec", &spec_s, "--out", &out_s,
    ]);
    assert_eq!(code, 0);
    check_tree(&install, &k, &d.join("trust.toml"), &out, "ports");
    // And the flows the spec does not name stay closed: 7999 only for source-controller.
    let built = build(
        &install,
        &k,
        &out.join("production/flux-lockdown"),
        "ports-neg",
    );
    let tw = twin(&built, &out.join("production"));
    let c = &tw.cluster;
    let any = Endpoint::Ip(ip("198.51.100.20"));
    assert!(
        c.flow(
            Endpoint::Pod(tw.pod(FLUX_NS, fx::SOURCE)),
            any,
            7999,
            Protocol::Tcp
        )
        .allowed()
    );
    assert!(
        !c.flow(
            Endpoint::Pod(tw.pod(FLUX_NS, fx::KUSTOMIZE)),
            any,
            7999,
            Protocol::Tcp
        )
        .allowed()
    );
    assert!(
        !c.flow(
            Endpoint::Pod(tw.pod(FLUX_NS, fx::SOURCE)),
            any,
            7998,
            Protocol::Tcp
        )
        .allowed()
    );
    let _ = std::fs::remove_dir_all(&d);
}

/// The twin catches the fault it was built for: Flux's allow-egress deleted with nothing in
/// its place leaves source-controller's artifacts unreachable.
#[test]
fn the_twin_fails_a_lockdown_without_the_ingress_rule() {
    let Some((install, k)) = tools() else { return };
    let d = scratch("broken");
    copy_dir(
        &root().join("generated/production/flux-lockdown"),
        &d.join("c"),
    );
    let egress = d.join("c/egress.yaml");
    let text = std::fs::read_to_string(&egress).unwrap();
    let kept: Vec<&str> = text
        .split("\n---\n")
        .filter(|doc| !doc.contains("name: trustc-flux-ingress"))
        .collect();
    std::fs::write(&egress, kept.join("\n---\n")).unwrap();
    let built = build(&install, &k, &d.join("c"), "broken-build");
    let tw = twin(&built, &root().join("generated/production"));
    let (sc, port) = tw.via_service("source-controller", 80);
    let kc = tw.pod(FLUX_NS, fx::KUSTOMIZE);
    assert_eq!(port, 9090);
    assert!(
        !tw.cluster
            .flow(Endpoint::Pod(kc), Endpoint::Pod(sc), port, Protocol::Tcp)
            .allowed()
    );
    let _ = std::fs::remove_dir_all(&d);
}

/// DNS peers are configurable: kube-dns off, one DNS server by address.
#[test]
fn dns_peers_follow_the_spec_over_the_real_install() {
    let Some((install, k)) = tools() else { return };
    let d = scratch("dns");
    copy_dir(&root().join("policy-spec/keys"), &d.join("keys"));
    let spec = std::fs::read_to_string(root().join("policy-spec/trust.toml"))
        .unwrap()
        .replace("kube_dns = true", "kube_dns = false")
        .replace(
            "dns_cidrs = [\"169.254.20.10/32\"]",
            "dns_cidrs = [\"10.0.0.10/32\"]",
        );
    assert!(spec.contains("kube_dns = false") && spec.contains("10.0.0.10/32"));
    std::fs::write(d.join("trust.toml"), &spec).unwrap();
    let out = d.join("out");
    let spec_s = d.join("trust.toml").display().to_string();
    let out_s = out.display().to_string();
    assert_eq!(
        trustc::cli::run(vec![
            "trustc", "generate", "--spec", &spec_s, "--out", &out_s
        ]),
        0
    );
    check_tree(&install, &k, &d.join("trust.toml"), &out, "dns");
    let _ = std::fs::remove_dir_all(&d);
}

/// The invariants refuse, at generate time, an override that breaks the lock-down.
fn compile_with_override(name: &str, edit: impl Fn(&str) -> String) -> Vec<String> {
    let dir = scratch(&format!("override-{}", name.replace('/', "-")));
    let tpl = dir.join("templates");
    let original = trustc::render::EMBEDDED
        .iter()
        .find(|(n, _)| *n == name)
        .unwrap()
        .1;
    let edited = edit(original);
    assert_ne!(edited, original, "the override changes {name}");
    std::fs::create_dir_all(tpl.join(name).parent().unwrap()).unwrap();
    std::fs::write(tpl.join(name), edited).unwrap();
    let mut map = trustc::diag::SourceMap::new();
    let mut sink = trustc::diag::Sink::new();
    let valid = trustc::cli::load_and_check(
        &root().join("policy-spec/trust.toml"),
        &crate::support::fixture_clock(""),
        &mut map,
        &mut sink,
    )
    .unwrap()
    .unwrap();
    let set = trustc::render::TemplateSet::with_overrides(&tpl).unwrap();
    let diags = match trustc::cli::compile(&valid, "policy-spec/trust.toml", &set) {
        Ok(_) => Vec::new(),
        Err(sink) => sink.into_sorted(),
    };
    let _ = std::fs::remove_dir_all(&dir);
    diags
        .iter()
        .map(|d| format!("{} {}", d.code.id(), d.message))
        .collect()
}

#[test]
fn an_override_dropping_the_flux_ingress_is_refused() {
    let diags = compile_with_override("flux/egress.yaml.j2", |t| {
        t.replace(
            "      - source-controller\n      - source-watcher\n",
            "      - source-watcher\n",
        )
    });
    assert!(
        diags.iter().any(|d| d.starts_with("TC3031")
            && d.contains(
                "kustomize-controller cannot reach source-controller:9090 (ingress denied)"
            )),
        "{diags:#?}"
    );
}

#[test]
fn an_override_adding_a_flag_a_controller_rejects_is_refused() {
    let diags = compile_with_override("flux/lockdown.yaml.j2", |t| {
        t.replace(
            "patches:\n",
            "patches:\n- target:\n    kind: Deployment\n    name: (source-controller|notification-controller)\n  patch: |\n    - op: add\n      path: /spec/template/spec/containers/0/args/-\n      value: --default-service-account=default\n",
        )
    });
    for ctl in ["source-controller", "notification-controller"] {
        assert!(
            diags.iter().any(|d| d.starts_with("TC3030")
                && d.contains(&format!("{ctl}: `--default-service-account` without --feature-gates=ObjectLevelWorkloadIdentity=true"))),
            "{ctl}: {diags:#?}"
        );
    }
}

/// The upstream policies the invariant assumes kept are exactly the real install's.
#[test]
fn kept_upstream_policies_match_the_real_install() {
    let Some(install) = shared() else {
        skip("needs ../shared/upstream/flux-2.9/install (or $TRUSTC_SHARED)");
        return;
    };
    for p in fx::kept_upstream_policies("flux-system") {
        let name = p["metadata"]["name"].as_str().unwrap();
        let text = std::fs::read_to_string(install.join(format!("policies/{name}.yaml"))).unwrap();
        let real = &parse(&text)[0];
        assert_eq!(real["spec"], p["spec"], "{name}");
    }
}
