//! A small, faithful evaluator of Kubernetes `networking.k8s.io/v1` NetworkPolicies.
//!
//! Semantics (kubernetes/website `content/en/docs/concepts/services-networking/network-policies.md`;
//! kubernetes/api `networking/v1/types.go`):
//! - A pod is isolated for a direction when some policy in its namespace selects it and lists
//!   that direction in `policyTypes` (absent: Ingress, plus Egress when `egress` is present).
//!   A non-isolated direction allows everything.
//! - Policies are additive: a flow is allowed in a direction when any rule of any policy that
//!   selects the pod for that direction allows it.
//! - A pod-to-pod flow needs both the source's egress and the destination's ingress.
//! - Peers: `podSelector` alone selects pods of the policy's namespace; `namespaceSelector`
//!   alone all pods of the matching namespaces; both together the matching pods of the
//!   matching namespaces; `ipBlock` a CIDR minus its `except` (pod IPs are left to the
//!   implementation; this evaluator matches ipBlock against addresses only). An empty or
//!   absent `to`/`from` matches every peer; absent `ports` every port.
//! - Ports: `protocol` defaults to TCP; a named port matches the destination pod's
//!   containerPort of that name and protocol (never an address); `endPort` makes a range.
//!
//! Self-contained: it reads plain JSON values (any YAML parser's output) so `trustc` and its
//! tests can reuse it.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde_json::Value;

pub type Labels = BTreeMap<String, String>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    fn parse(s: Option<&str>) -> Result<Protocol, String> {
        match s.unwrap_or("TCP") {
            "TCP" => Ok(Protocol::Tcp),
            "UDP" => Ok(Protocol::Udp),
            "SCTP" => Ok(Protocol::Sctp),
            other => Err(format!("unknown protocol `{other}`")),
        }
    }
}

#[derive(Clone, Debug)]
pub struct ContainerPort {
    pub name: Option<String>,
    pub port: u16,
    pub protocol: Protocol,
}

#[derive(Clone, Debug)]
pub struct Pod {
    pub name: String,
    pub namespace: String,
    pub labels: Labels,
    pub ports: Vec<ContainerPort>,
}

impl Pod {
    /// The pod a Deployment (or any object with `spec.template`) creates.
    pub fn from_workload(doc: &Value) -> Result<Pod, String> {
        let name = str_at(doc, &["metadata", "name"]).unwrap_or_default();
        let namespace = str_at(doc, &["metadata", "namespace"]).unwrap_or("default");
        let template = doc
            .pointer("/spec/template")
            .ok_or_else(|| format!("{name}: no spec.template"))?;
        let labels = labels(template.pointer("/metadata/labels"));
        let mut ports = Vec::new();
        for c in template
            .pointer("/spec/containers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            for p in c
                .get("ports")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                ports.push(ContainerPort {
                    name: p.get("name").and_then(Value::as_str).map(str::to_string),
                    port: p
                        .get("containerPort")
                        .and_then(Value::as_u64)
                        .and_then(|n| u16::try_from(n).ok())
                        .ok_or_else(|| format!("{name}: containerPort is not a port"))?,
                    protocol: Protocol::parse(p.get("protocol").and_then(Value::as_str))?,
                });
            }
        }
        Ok(Pod {
            name: name.to_string(),
            namespace: namespace.to_string(),
            labels,
            ports,
        })
    }
}

#[derive(Clone, Debug)]
enum PortSpec {
    Any,
    Number(u16, u16),
    Named(String),
}

#[derive(Clone, Debug)]
struct PolicyPort {
    protocol: Protocol,
    port: PortSpec,
}

#[derive(Clone, Debug)]
struct Selector {
    match_labels: Labels,
    exprs: Vec<(String, String, Vec<String>)>,
}

impl Selector {
    fn parse(v: &Value) -> Result<Selector, String> {
        let mut exprs = Vec::new();
        for e in v
            .get("matchExpressions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let key = e
                .get("key")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let op = e
                .get("operator")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            if !matches!(op.as_str(), "In" | "NotIn" | "Exists" | "DoesNotExist") {
                return Err(format!("unknown selector operator `{op}`"));
            }
            let values = e
                .get("values")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect();
            exprs.push((key, op, values));
        }
        Ok(Selector {
            match_labels: labels(v.get("matchLabels")),
            exprs,
        })
    }

    fn matches(&self, l: &Labels) -> bool {
        self.match_labels.iter().all(|(k, v)| l.get(k) == Some(v))
            && self.exprs.iter().all(|(k, op, vals)| match op.as_str() {
                "In" => l.get(k).is_some_and(|v| vals.contains(v)),
                "NotIn" => l.get(k).is_none_or(|v| !vals.contains(v)),
                "Exists" => l.contains_key(k),
                _ => !l.contains_key(k),
            })
    }
}

#[derive(Clone, Debug)]
enum Peer {
    Pods {
        pods: Option<Selector>,
        namespaces: Option<Selector>,
    },
    Block {
        cidr: Cidr,
        except: Vec<Cidr>,
    },
}

#[derive(Clone, Debug)]
struct Rule {
    /// None: every peer.
    peers: Option<Vec<Peer>>,
    /// None: every port.
    ports: Option<Vec<PolicyPort>>,
}

/// One parsed NetworkPolicy.
#[derive(Clone, Debug)]
pub struct NetworkPolicy {
    pub name: String,
    pub namespace: String,
    selector: Selector,
    ingress: Option<Vec<Rule>>,
    egress: Option<Vec<Rule>>,
}

impl NetworkPolicy {
    pub fn parse(doc: &Value) -> Result<NetworkPolicy, String> {
        let name = str_at(doc, &["metadata", "name"])
            .unwrap_or_default()
            .to_string();
        let namespace = str_at(doc, &["metadata", "namespace"])
            .unwrap_or("default")
            .to_string();
        let spec = doc.get("spec").cloned().unwrap_or(Value::Null);
        let selector = Selector::parse(spec.get("podSelector").unwrap_or(&Value::Null))?;
        let types: Vec<String> = match spec.get("policyTypes").and_then(Value::as_array) {
            Some(t) => t
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
            None => {
                let mut t = vec!["Ingress".to_string()];
                if spec.get("egress").is_some() {
                    t.push("Egress".into());
                }
                t
            }
        };
        let rules = |key: &str, peer_key: &str| -> Result<Option<Vec<Rule>>, String> {
            let isolated = types.iter().any(|t| t.eq_ignore_ascii_case(key));
            if !isolated {
                return Ok(None);
            }
            let mut out = Vec::new();
            for r in spec
                .get(key.to_ascii_lowercase().as_str())
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                out.push(parse_rule(r, peer_key)?);
            }
            Ok(Some(out))
        };
        Ok(NetworkPolicy {
            ingress: rules("Ingress", "from").map_err(|e| format!("{name}: {e}"))?,
            egress: rules("Egress", "to").map_err(|e| format!("{name}: {e}"))?,
            name,
            namespace,
            selector,
        })
    }
}

fn parse_rule(r: &Value, peer_key: &str) -> Result<Rule, String> {
    let peers = match r.get(peer_key).and_then(Value::as_array) {
        None => None,
        Some(a) if a.is_empty() => None,
        Some(a) => {
            let mut out = Vec::new();
            for p in a {
                if let Some(b) = p.get("ipBlock") {
                    let cidr = Cidr::parse(b.get("cidr").and_then(Value::as_str).unwrap_or(""))?;
                    let mut except = Vec::new();
                    for e in b
                        .get("except")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                    {
                        except.push(Cidr::parse(e.as_str().unwrap_or(""))?);
                    }
                    out.push(Peer::Block { cidr, except });
                } else {
                    let pods = p.get("podSelector").map(Selector::parse).transpose()?;
                    let namespaces = p
                        .get("namespaceSelector")
                        .map(Selector::parse)
                        .transpose()?;
                    if pods.is_none() && namespaces.is_none() {
                        return Err("a peer with no selector and no ipBlock".into());
                    }
                    out.push(Peer::Pods { pods, namespaces });
                }
            }
            Some(out)
        }
    };
    let ports = match r.get("ports").and_then(Value::as_array) {
        None => None,
        Some(a) if a.is_empty() => None,
        Some(a) => {
            let mut out = Vec::new();
            for p in a {
                let protocol = Protocol::parse(p.get("protocol").and_then(Value::as_str))?;
                let port = match p.get("port") {
                    None | Some(Value::Null) => PortSpec::Any,
                    Some(Value::String(s)) => match s.parse::<u16>() {
                        Ok(n) => PortSpec::Number(n, n),
                        Err(_) => PortSpec::Named(s.clone()),
                    },
                    Some(v) => {
                        let n = v
                            .as_u64()
                            .and_then(|n| u16::try_from(n).ok())
                            .ok_or("port is not a number or name")?;
                        let end = p
                            .get("endPort")
                            .and_then(Value::as_u64)
                            .and_then(|n| u16::try_from(n).ok())
                            .unwrap_or(n);
                        PortSpec::Number(n, end)
                    }
                };
                out.push(PolicyPort { protocol, port });
            }
            Some(out)
        }
    };
    Ok(Rule { peers, ports })
}

/// An IPv4 or IPv6 block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let (a, p) = s
            .split_once('/')
            .ok_or_else(|| format!("`{s}` is not a CIDR"))?;
        let addr: IpAddr = a.parse().map_err(|_| format!("`{s}` is not a CIDR"))?;
        let prefix: u8 = p.parse().map_err(|_| format!("`{s}` is not a CIDR"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        if prefix > max {
            return Err(format!("`{s}` is not a CIDR"));
        }
        Ok(Cidr { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let (a, b, bits) = match (self.addr, ip) {
            (IpAddr::V4(a), IpAddr::V4(b)) => {
                (u128::from(u32::from(a)), u128::from(u32::from(b)), 32)
            }
            (IpAddr::V6(a), IpAddr::V6(b)) => (u128::from(a), u128::from(b), 128),
            _ => return false,
        };
        if self.prefix == 0 {
            return true;
        }
        let shift = bits - u32::from(self.prefix);
        (a >> shift) == (b >> shift)
    }

    /// Whether every address of `other` lies in `self`.
    pub fn covers(&self, other: &Cidr) -> bool {
        self.prefix <= other.prefix && self.contains(other.addr)
    }

    /// The first address of the block.
    pub fn first(&self) -> IpAddr {
        self.addr
    }
}

/// One end of a flow.
#[derive(Clone, Copy, Debug)]
pub enum Endpoint<'a> {
    Pod(&'a Pod),
    Ip(IpAddr),
}

/// Why a flow is or is not allowed, direction by direction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub egress: bool,
    pub ingress: bool,
}

impl Verdict {
    pub fn allowed(&self) -> bool {
        self.egress && self.ingress
    }
}

/// The namespaces (with labels), pods and policies of a cluster.
#[derive(Clone, Debug, Default)]
pub struct Cluster {
    pub namespaces: BTreeMap<String, Labels>,
    pub pods: Vec<Pod>,
    pub policies: Vec<NetworkPolicy>,
}

impl Cluster {
    /// Adds a namespace; `kubernetes.io/metadata.name` is set as the API server does.
    pub fn namespace(&mut self, name: &str, mut labels: Labels) {
        labels.insert("kubernetes.io/metadata.name".into(), name.into());
        self.namespaces.insert(name.to_string(), labels);
    }

    pub fn pod(&self, namespace: &str, name: &str) -> Option<&Pod> {
        self.pods
            .iter()
            .find(|p| p.namespace == namespace && p.name == name)
    }

    /// Whether `src` may open a connection to `dst` on `port`/`protocol` (the port the
    /// destination pod listens on, after any Service's DNAT).
    pub fn flow(
        &self,
        src: Endpoint<'_>,
        dst: Endpoint<'_>,
        port: u16,
        proto: Protocol,
    ) -> Verdict {
        let egress = match src {
            Endpoint::Ip(_) => true,
            Endpoint::Pod(p) => self.direction(p, true, dst, port, proto),
        };
        let ingress = match dst {
            Endpoint::Ip(_) => true,
            Endpoint::Pod(p) => self.direction(p, false, src, port, proto),
        };
        Verdict { egress, ingress }
    }

    fn direction(
        &self,
        pod: &Pod,
        egress: bool,
        peer: Endpoint<'_>,
        port: u16,
        proto: Protocol,
    ) -> bool {
        let mut isolated = false;
        for np in self
            .policies
            .iter()
            .filter(|np| np.namespace == pod.namespace && np.selector.matches(&pod.labels))
        {
            let Some(rules) = (if egress { &np.egress } else { &np.ingress }) else {
                continue;
            };
            isolated = true;
            // The port is the destination's: for egress the peer, for ingress the pod.
            let dst_pod = if egress {
                match peer {
                    Endpoint::Pod(p) => Some(p),
                    Endpoint::Ip(_) => None,
                }
            } else {
                Some(pod)
            };
            if rules.iter().any(|r| {
                self.peer_matches(r, &np.namespace, peer) && port_matches(r, dst_pod, port, proto)
            }) {
                return true;
            }
        }
        !isolated
    }

    fn peer_matches(&self, r: &Rule, policy_ns: &str, peer: Endpoint<'_>) -> bool {
        let Some(peers) = &r.peers else {
            return true;
        };
        peers.iter().any(|p| match (p, peer) {
            (Peer::Block { cidr, except }, Endpoint::Ip(ip)) => {
                cidr.contains(ip) && !except.iter().any(|e| e.contains(ip))
            }
            (Peer::Block { .. }, Endpoint::Pod(_)) => false,
            (Peer::Pods { .. }, Endpoint::Ip(_)) => false,
            (Peer::Pods { pods, namespaces }, Endpoint::Pod(other)) => {
                let ns_ok = match namespaces {
                    None => other.namespace == policy_ns,
                    Some(sel) => self
                        .namespaces
                        .get(&other.namespace)
                        .is_some_and(|l| sel.matches(l)),
                };
                ns_ok && pods.as_ref().is_none_or(|s| s.matches(&other.labels))
            }
        })
    }
}

fn port_matches(r: &Rule, dst: Option<&Pod>, port: u16, proto: Protocol) -> bool {
    let Some(ports) = &r.ports else {
        return true;
    };
    ports.iter().any(|p| {
        p.protocol == proto
            && match &p.port {
                PortSpec::Any => true,
                PortSpec::Number(a, b) => (*a..=*b).contains(&port),
                PortSpec::Named(name) => dst.is_some_and(|pod| {
                    pod.ports.iter().any(|cp| {
                        cp.name.as_deref() == Some(name.as_str())
                            && cp.port == port
                            && cp.protocol == proto
                    })
                }),
            }
    })
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for p in path {
        cur = cur.get(*p)?;
    }
    cur.as_str()
}

fn labels(v: Option<&Value>) -> Labels {
    v.and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(ns: &str, app: &str, ports: &[(&str, u16)]) -> Pod {
        Pod {
            name: app.into(),
            namespace: ns.into(),
            labels: [("app".to_string(), app.to_string())].into(),
            ports: ports
                .iter()
                .map(|(n, p)| ContainerPort {
                    name: Some((*n).into()),
                    port: *p,
                    protocol: Protocol::Tcp,
                })
                .collect(),
        }
    }

    fn cluster(policies: Vec<Value>) -> Cluster {
        let mut c = Cluster::default();
        c.namespace("a", Labels::new());
        c.namespace("b", [("team".to_string(), "x".to_string())].into());
        c.pods = vec![
            pod("a", "web", &[("http", 9090)]),
            pod("a", "cli", &[]),
            pod("b", "other", &[]),
        ];
        c.policies = policies
            .iter()
            .map(|p| NetworkPolicy::parse(p).unwrap())
            .collect();
        c
    }

    #[test]
    fn semantics() {
        let deny_all = json!({"metadata": {"name": "d", "namespace": "a"}, "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}});
        let c = cluster(vec![deny_all.clone()]);
        let (web, cli, other) = (&c.pods[0], &c.pods[1], &c.pods[2]);
        assert!(
            !c.flow(Endpoint::Pod(cli), Endpoint::Pod(web), 9090, Protocol::Tcp)
                .allowed()
        );
        // Not isolated: b's pods allow everything.
        assert!(
            c.flow(
                Endpoint::Pod(other),
                Endpoint::Ip("1.1.1.1".parse().unwrap()),
                1,
                Protocol::Udp
            )
            .allowed()
        );

        let allow_in = json!({"metadata": {"name": "i", "namespace": "a"}, "spec": {"podSelector": {"matchLabels": {"app": "web"}}, "ingress": [{"from": [{"podSelector": {}}], "ports": [{"port": "http"}]}]}});
        let allow_out = json!({"metadata": {"name": "o", "namespace": "a"}, "spec": {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"to": [{"podSelector": {}}]}]}});
        let c = cluster(vec![deny_all.clone(), allow_in.clone()]);
        let (web, cli) = (&c.pods[0], &c.pods[1]);
        // Ingress alone is not enough: cli's egress is isolated.
        assert_eq!(
            c.flow(Endpoint::Pod(cli), Endpoint::Pod(web), 9090, Protocol::Tcp),
            Verdict {
                egress: false,
                ingress: true
            }
        );
        let c = cluster(vec![deny_all, allow_in, allow_out]);
        let (web, cli, other) = (&c.pods[0], &c.pods[1], &c.pods[2]);
        assert!(
            c.flow(Endpoint::Pod(cli), Endpoint::Pod(web), 9090, Protocol::Tcp)
                .allowed()
        );
        // The named port resolves to 9090 only, TCP only.
        assert!(
            !c.flow(Endpoint::Pod(cli), Endpoint::Pod(web), 8080, Protocol::Tcp)
                .allowed()
        );
        assert!(
            !c.flow(Endpoint::Pod(cli), Endpoint::Pod(web), 9090, Protocol::Udp)
                .allowed()
        );
        // podSelector alone: same namespace only.
        assert!(
            !c.flow(
                Endpoint::Pod(other),
                Endpoint::Pod(web),
                9090,
                Protocol::Tcp
            )
            .allowed()
        );
    }

    #[test]
    fn peers_and_blocks() {
        let deny = json!({"metadata": {"name": "d", "namespace": "a"}, "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}});
        let out = json!({"metadata": {"name": "o", "namespace": "a"}, "spec": {"podSelector": {"matchExpressions": [{"key": "app", "operator": "In", "values": ["cli"]}]}, "policyTypes": ["Egress"], "egress": [
            {"to": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}}], "ports": [{"protocol": "TCP", "port": 22, "endPort": 30}]},
            {"ports": [{"protocol": "UDP", "port": 53}]}
        ]}});
        let inn = json!({"metadata": {"name": "i", "namespace": "a"}, "spec": {"podSelector": {}, "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"team": "x"}}}]}]}});
        let c = cluster(vec![deny, out, inn]);
        let (web, cli, other) = (&c.pods[0], &c.pods[1], &c.pods[2]);
        let ip = |s: &str| Endpoint::Ip(s.parse().unwrap());
        assert!(
            c.flow(Endpoint::Pod(cli), ip("10.2.3.4"), 25, Protocol::Tcp)
                .allowed()
        );
        assert!(
            !c.flow(Endpoint::Pod(cli), ip("10.1.3.4"), 25, Protocol::Tcp)
                .allowed()
        );
        assert!(
            !c.flow(Endpoint::Pod(cli), ip("10.2.3.4"), 31, Protocol::Tcp)
                .allowed()
        );
        assert!(
            !c.flow(Endpoint::Pod(cli), ip("11.0.0.1"), 22, Protocol::Tcp)
                .allowed()
        );
        // A rule with ports and no `to` matches every destination.
        assert!(
            c.flow(Endpoint::Pod(cli), ip("203.0.113.9"), 53, Protocol::Udp)
                .allowed()
        );
        assert!(
            !c.flow(Endpoint::Pod(web), ip("10.2.3.4"), 25, Protocol::Tcp)
                .allowed()
        );
        // namespaceSelector alone: every pod of b.
        assert!(
            c.flow(
                Endpoint::Pod(other),
                Endpoint::Pod(web),
                1234,
                Protocol::Tcp
            )
            .allowed()
        );
        assert!(
            Cidr::parse("10.96.0.0/12")
                .unwrap()
                .covers(&Cidr::parse("10.96.0.1/32").unwrap())
        );
        assert!(
            !Cidr::parse("10.96.0.0/12")
                .unwrap()
                .covers(&Cidr::parse("172.18.0.2/32").unwrap())
        );
        assert!(
            Cidr::parse("::/0")
                .unwrap()
                .contains("fd00::1".parse().unwrap())
        );
    }
}
