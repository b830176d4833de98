//! What the Flux controllers accept, as deployed by Flux v2.9.4: the command-line flags of
//! each controller binary, and the flags trustc's lock-down adds to each.
//!
//! The controllers parse flags with pflag: an unknown flag makes the binary exit, and so do
//! the workload-identity flags without their feature gate. The lock-down (templates
//! `flux/lockdown.yaml.j2`) adds only flags this table accepts; the cluster-twin test
//! (`tests/twin.rs`) checks every controller's final args, built over the real install,
//! against it.
//!
//! Sources (fluxcd/*, the tags Flux v2.9.4 pins, `manifests/bases/*/kustomization.yaml`):
//! kc = kustomize-controller v1.9.4 `main.go`, hc = helm-controller v1.6.3 `main.go`,
//! nc = notification-controller v1.9.3 `main.go`; sc = source-controller v1.9.1 `main.go`,
//! irc = image-reflector-controller v1.2.0 `main.go`, iac = image-automation-controller
//! v1.2.1 `main.go`, sw = source-watcher v2.2.1 `cmd/main.go` (Flux 2.9.4 pins sc v1.9.4,
//! irc/iac v1.2.4, sw v2.2.3; those files are unchanged along each release branch, see
//! the install's SOURCES.md §2); pkg = fluxcd/pkg
//! (`runtime/v0.110.1`, `auth/v0.54.1`, `artifact/v0.18.1`, `cache/v0.14.0`).

/// The seven controllers of Flux 2.9 (fluxcd/flux2 v2.9.4 `manifests/install/kustomization.yaml`).
pub const CONTROLLERS: &[&str] = &[
    SOURCE,
    KUSTOMIZE,
    HELM,
    NOTIFICATION,
    IMAGE_REFLECTOR,
    IMAGE_AUTOMATION,
    SOURCE_WATCHER,
];

pub const SOURCE: &str = "source-controller";
pub const KUSTOMIZE: &str = "kustomize-controller";
pub const HELM: &str = "helm-controller";
pub const NOTIFICATION: &str = "notification-controller";
pub const IMAGE_REFLECTOR: &str = "image-reflector-controller";
pub const IMAGE_AUTOMATION: &str = "image-automation-controller";
pub const SOURCE_WATCHER: &str = "source-watcher";

/// NodeLocal DNSCache's link-local address (kubernetes/dns `cmd/node-cache`, the
/// `nodelocaldns` addon's `__PILLAR__LOCAL__DNS__`; GKE's default).
pub const NODE_LOCAL_DNS: &str = "169.254.20.10/32";
/// kubeadm's default Service CIDR (`--service-cluster-ip-range`, kubernetes
/// `cmd/kubeadm/app/apis/kubeadm/v1beta4` DefaultServicesSubnet).
pub const DEFAULT_SERVICE_CIDR: &str = "10.96.0.0/12";
/// The host entry for the alert provider, whose address lives in a Secret trustc never sees.
pub const ALERT_PROVIDER: &str = "alert-provider";
/// Sigstore's public-good instance, for keyless verification of OCI charts.
pub const SIGSTORE: &str = "sigstore";

const ALL: &[&str] = CONTROLLERS;
const RECONCILERS: &[&str] = &[
    SOURCE,
    KUSTOMIZE,
    HELM,
    IMAGE_REFLECTOR,
    IMAGE_AUTOMATION,
    SOURCE_WATCHER,
];

/// One flag: which binaries accept it, and where upstream defines it.
#[derive(Clone, Copy, Debug)]
pub struct Flag {
    pub name: &'static str,
    pub accepted_by: &'static [&'static str],
    /// With this feature gate unset, setting the flag makes these binaries exit.
    pub needs_gate: Option<(&'static str, &'static [&'static str])>,
    pub source: &'static str,
}

const OLWI: &str = "ObjectLevelWorkloadIdentity";

/// The flags of the Flux 2.9 controllers that the install or trustc's lock-down sets, and
/// the lock-down flags users ask about. A flag absent from this table is treated as unknown.
pub const FLAGS: &[Flag] = &[
    Flag {
        name: "--no-cross-namespace-refs",
        accepted_by: &[
            KUSTOMIZE,
            HELM,
            NOTIFICATION,
            IMAGE_REFLECTOR,
            IMAGE_AUTOMATION,
            SOURCE_WATCHER,
        ],
        needs_gate: None,
        source: "pkg runtime/acl/flags.go:22,48; bound at kc main.go:131, hc :149, nc :118, irc :118, iac :113, sw cmd/main.go:109; source-controller does not bind it",
    },
    Flag {
        name: "--no-remote-bases",
        accepted_by: &[KUSTOMIZE],
        needs_gate: None,
        source: "kc main.go:116",
    },
    Flag {
        name: "--default-service-account",
        accepted_by: &[
            SOURCE,
            KUSTOMIZE,
            HELM,
            NOTIFICATION,
            IMAGE_REFLECTOR,
            IMAGE_AUTOMATION,
        ],
        // On sc/nc/irc/iac it is the object-level workload-identity default: without the
        // gate the binary exits (pkg auth/controller_options.go
        // InconsistentObjectLevelConfiguration; sc main.go:180, nc :146, irc :147, iac :142).
        // On kc/hc it is the impersonation default and needs no gate (kc main.go:158).
        needs_gate: Some((
            OLWI,
            &[SOURCE, NOTIFICATION, IMAGE_REFLECTOR, IMAGE_AUTOMATION],
        )),
        source: "pkg auth/controller_flags.go:26; sc main.go:146, kc :119, hc :130, nc :122, irc :123, iac :103",
    },
    Flag {
        name: "--default-decryption-service-account",
        accepted_by: &[KUSTOMIZE],
        needs_gate: Some((OLWI, &[KUSTOMIZE])),
        source: "pkg auth/controller_flags.go:36; kc main.go:120, gate check kc main.go:167",
    },
    Flag {
        name: "--default-kubeconfig-service-account",
        accepted_by: &[KUSTOMIZE, HELM],
        needs_gate: Some((OLWI, &[KUSTOMIZE, HELM])),
        source: "pkg auth/controller_flags.go:31; kc main.go:121, hc :132; gate checks kc main.go:167, hc :201",
    },
    Flag {
        name: "--events-addr",
        accepted_by: ALL,
        needs_gate: None,
        source: "sc main.go:124, kc :111, hc :116, nc :103 (listen address there), irc :106, iac :100, sw cmd/main.go:101",
    },
    Flag {
        name: "--watch-all-namespaces",
        accepted_by: ALL,
        needs_gate: None,
        source: "pkg runtime/controller/watch.go:30,55; nc defines it at main.go:110",
    },
    Flag {
        name: "--watch-label-selector",
        accepted_by: RECONCILERS,
        needs_gate: None,
        source: "pkg runtime/controller/watch.go:31,57; nc does not bind WatchOptions (nc main.go:109)",
    },
    Flag {
        name: "--watch-configs-label-selector",
        accepted_by: ALL,
        needs_gate: None,
        source: "pkg runtime/controller/watch.go:32,59; nc main.go:112",
    },
    Flag {
        name: "--insecure-kubeconfig-exec",
        accepted_by: &[KUSTOMIZE, HELM],
        needs_gate: None,
        source: "pkg runtime/client/kubeconfig.go:29,64; kc main.go:132, hc :152",
    },
    Flag {
        name: "--insecure-kubeconfig-tls",
        accepted_by: &[KUSTOMIZE, HELM],
        needs_gate: None,
        source: "pkg runtime/client/kubeconfig.go:30,66",
    },
    Flag {
        name: "--feature-gates",
        accepted_by: ALL,
        needs_gate: None,
        source: "pkg runtime/features/features.go:28,83",
    },
    Flag {
        name: "--sops-vault-configmap",
        accepted_by: &[KUSTOMIZE],
        needs_gate: None,
        source: "kc main.go:123",
    },
    Flag {
        name: "--sops-age-secret",
        accepted_by: &[KUSTOMIZE],
        needs_gate: None,
        source: "kc main.go:122",
    },
    Flag {
        name: "--log-level",
        accepted_by: ALL,
        needs_gate: None,
        source: "pkg runtime/logger/logger.go:29",
    },
    Flag {
        name: "--log-encoding",
        accepted_by: ALL,
        needs_gate: None,
        source: "pkg runtime/logger/logger.go:30",
    },
    Flag {
        name: "--enable-leader-election",
        accepted_by: ALL,
        needs_gate: None,
        source: "pkg runtime/leaderelection/leaderelection.go:28",
    },
    Flag {
        name: "--storage-path",
        accepted_by: &[SOURCE, SOURCE_WATCHER, IMAGE_REFLECTOR],
        needs_gate: None,
        source: "pkg artifact/config/flags.go:27-44 (sc, sw); irc main.go:108",
    },
    Flag {
        name: "--storage-adv-addr",
        accepted_by: &[SOURCE, SOURCE_WATCHER],
        needs_gate: None,
        source: "pkg artifact/config/flags.go:27-44",
    },
    Flag {
        name: "--metrics-addr",
        accepted_by: ALL,
        needs_gate: None,
        source: "every main.go",
    },
    Flag {
        name: "--health-addr",
        accepted_by: ALL,
        needs_gate: None,
        source: "every main.go",
    },
    Flag {
        name: "--receiverAddr",
        accepted_by: &[NOTIFICATION],
        needs_gate: None,
        source: "nc main.go:105",
    },
];

/// The flags trustc's lock-down appends to each controller, in order. Every one is in
/// [`FLAGS`] and accepted by that controller without a feature gate
/// (`lockdown_flags_are_accepted` below). The hardening of Flux's multi-tenancy lock-down
/// (fluxcd/website `content/en/flux/installation/configuration/multitenancy.md`):
/// `--no-cross-namespace-refs` everywhere it is bound, `--no-remote-bases` on
/// kustomize-controller, `--default-service-account` only where it means impersonation
/// (kustomize- and helm-controller; elsewhere it is workload identity and needs the gate).
pub fn lockdown_args(controller: &str) -> &'static [&'static str] {
    match controller {
        KUSTOMIZE => &[
            "--no-cross-namespace-refs=true",
            "--no-remote-bases=true",
            "--default-service-account=default",
        ],
        HELM => &[
            "--no-cross-namespace-refs=true",
            "--default-service-account=default",
        ],
        NOTIFICATION | IMAGE_REFLECTOR | IMAGE_AUTOMATION | SOURCE_WATCHER => {
            &["--no-cross-namespace-refs=true"]
        }
        // source-controller binds none of the lock-down flags (sc main.go).
        _ => &[],
    }
}

/// Checks a controller's complete argument list: every flag known and accepted by that
/// binary, and no gated flag without its gate. `Err` lists every problem.
pub fn check_args(controller: &str, args: &[String]) -> Result<(), Vec<String>> {
    let mut problems = Vec::new();
    if !CONTROLLERS.contains(&controller) {
        return Err(vec![format!("`{controller}` is not a Flux 2.9 controller")]);
    }
    let gates: Vec<&str> = args
        .iter()
        .filter_map(|a| a.strip_prefix("--feature-gates="))
        .flat_map(|g| g.split(','))
        .collect();
    for arg in args {
        let name = arg.split_once('=').map_or(arg.as_str(), |(n, _)| n);
        let Some(flag) = FLAGS.iter().find(|f| f.name == name) else {
            problems.push(format!(
                "{controller}: `{name}` is not in trustc's table of Flux 2.9 flags"
            ));
            continue;
        };
        if !flag.accepted_by.contains(&controller) {
            problems.push(format!(
                "{controller}: `{name}` is not a flag of this binary (pflag exits on it; {})",
                flag.source
            ));
            continue;
        }
        if let Some((gate, binaries)) = flag.needs_gate {
            let on = gates.contains(&format!("{gate}=true").as_str());
            if binaries.contains(&controller) && !on {
                problems.push(format!(
                    "{controller}: `{name}` without --feature-gates={gate}=true makes the binary exit ({})",
                    flag.source
                ));
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn lockdown_flags_are_accepted() {
        for c in CONTROLLERS {
            let a = args(lockdown_args(c));
            assert_eq!(check_args(c, &a), Ok(()), "{c}");
        }
    }

    #[test]
    fn the_faults_of_source_md_6b_are_refused() {
        assert!(check_args(SOURCE, &args(&["--no-cross-namespace-refs=true"])).is_err());
        assert!(check_args(NOTIFICATION, &args(&["--watch-label-selector=a=b"])).is_err());
        for c in [SOURCE, NOTIFICATION, IMAGE_REFLECTOR, IMAGE_AUTOMATION] {
            assert!(check_args(c, &args(&["--default-service-account=default"])).is_err());
            assert_eq!(
                check_args(
                    c,
                    &args(&[
                        "--default-service-account=default",
                        "--feature-gates=ObjectLevelWorkloadIdentity=true"
                    ])
                ),
                Ok(())
            );
        }
        assert!(check_args(SOURCE_WATCHER, &args(&["--default-service-account=x"])).is_err());
        assert!(
            check_args(
                KUSTOMIZE,
                &args(&["--default-decryption-service-account=x"])
            )
            .is_err()
        );
        assert!(check_args(HELM, &args(&["--no-remote-bases=true"])).is_err());
        assert!(check_args(KUSTOMIZE, &args(&["--made-up"])).is_err());
    }
}

/// Host and TCP port a controller connects to for a URL or registry host of the spec:
/// `ssh://git@host:7999/x` → (host, 7999); `ssh://` defaults to 22, `https://` and `oci://`
/// to 443, `http://` to 80; a bare registry host `host[:port][/path]` to 443.
/// `Err` carries the text of a port that is not 1-65535.
pub fn endpoint(url: &str) -> Result<(String, u16), String> {
    let lower = url.to_ascii_lowercase();
    let (rest, default) = if let Some(r) = lower.strip_prefix("ssh://") {
        (r, 22)
    } else if let Some(r) = lower.strip_prefix("https://") {
        (r, 443)
    } else if let Some(r) = lower.strip_prefix("oci://") {
        (r, 443)
    } else if let Some(r) = lower.strip_prefix("http://") {
        (r, 80)
    } else {
        (lower.as_str(), 443)
    };
    let authority = rest.split('/').next().unwrap_or("");
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    // `[v6]:port`
    if let Some(v6) = hostport.strip_prefix('[') {
        let (host, after) = v6.split_once(']').unwrap_or((v6, ""));
        return match after.strip_prefix(':') {
            Some(p) => parse_port(p).map(|n| (host.to_string(), n)),
            None => Ok((host.to_string(), default)),
        };
    }
    match hostport.split_once(':') {
        Some((host, p)) => parse_port(p).map(|n| (host.to_string(), n)),
        None => Ok((hostport.to_string(), default)),
    }
}

fn parse_port(p: &str) -> Result<u16, String> {
    match p.parse::<u16>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(p.to_string()),
    }
}

#[cfg(test)]
mod endpoint_tests {
    use super::endpoint;

    #[test]
    fn ports_of_urls() {
        let ok = |u: &str| endpoint(u).unwrap();
        assert_eq!(
            ok("ssh://git@bitbucket.example.com:7999/a/b.git"),
            ("bitbucket.example.com".into(), 7999)
        );
        assert_eq!(
            ok("ssh://git@github.com/a/b.git"),
            ("github.com".into(), 22)
        );
        assert_eq!(
            ok("oci://registry.example.com:5000/charts/x"),
            ("registry.example.com".into(), 5000)
        );
        assert_eq!(
            ok("https://charts.example.com/stable"),
            ("charts.example.com".into(), 443)
        );
        assert_eq!(
            ok("http://charts.example.com:8080"),
            ("charts.example.com".into(), 8080)
        );
        assert_eq!(
            ok("registry.example.com:5000/team/app"),
            ("registry.example.com".into(), 5000)
        );
        assert_eq!(
            ok("Registry.Example.com"),
            ("registry.example.com".into(), 443)
        );
        assert_eq!(ok("ssh://git@[fd00::1]:2222/x"), ("fd00::1".into(), 2222));
        assert!(endpoint("ssh://git@host:99999/x").is_err());
        assert!(endpoint("ssh://git@host:0/x").is_err());
        assert!(endpoint("ssh://git@host:ssh/x").is_err());
    }
}

/// The containerPorts of each controller's pod (fluxcd/flux2 v2.9.4 install; each
/// controller's `config/manager/deployment.yaml`; the install's SOURCES.md §5).
pub fn container_ports(controller: &str) -> &'static [(&'static str, u16)] {
    match controller {
        SOURCE | SOURCE_WATCHER => &[("http", 9090), ("http-prom", 8080), ("healthz", 9440)],
        NOTIFICATION => &[
            ("http", 9090),
            ("http-webhook", 9292),
            ("http-prom", 8080),
            ("healthz", 9440),
        ],
        _ => &[("http-prom", 8080), ("healthz", 9440)],
    }
}

/// In-namespace connections Flux needs (client, server, container port): artifacts from
/// source-controller and source-watcher (Service http 80 → http 9090, `--storage-adv-addr`),
/// events to notification-controller (Service http 80 → http 9090, `--events-addr`).
pub fn internal_flows() -> Vec<(&'static str, &'static str, u16)> {
    let mut out = vec![
        (KUSTOMIZE, SOURCE, 9090),
        (HELM, SOURCE, 9090),
        (SOURCE_WATCHER, SOURCE, 9090),
        (KUSTOMIZE, SOURCE_WATCHER, 9090),
        (HELM, SOURCE_WATCHER, 9090),
    ];
    for c in CONTROLLERS.iter().filter(|c| **c != NOTIFICATION) {
        out.push((c, NOTIFICATION, 9090));
    }
    out
}

/// The NetworkPolicies of Flux 2.9.4 that the lock-down keeps (fluxcd/flux2 v2.9.4
/// `manifests/policies/allow-scraping.yaml`, `allow-webhooks.yaml`), as JSON, for the
/// invariant that checks the lock-down without the install at hand.
pub fn kept_upstream_policies(namespace: &str) -> Vec<serde_json::Value> {
    vec![
        serde_json::json!({
            "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "allow-scraping", "namespace": namespace},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress"],
                     "ingress": [{"from": [{"namespaceSelector": {}}], "ports": [{"protocol": "TCP", "port": 8080}]}]}
        }),
        serde_json::json!({
            "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "allow-webhooks", "namespace": namespace},
            "spec": {"podSelector": {"matchLabels": {"app": "notification-controller"}}, "policyTypes": ["Ingress"],
                     "ingress": [{"from": [{"namespaceSelector": {}}], "ports": [{"protocol": "TCP", "port": 9292}]}]}
        }),
    ]
}
