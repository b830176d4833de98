//! Map stage: the trust model as a graph, per environment, for people to look at.
//!
//! Nodes are signers, repositories, reconcilers (the service accounts Flux impersonates),
//! namespaces, allowed kinds and registries; edges say who signs, what is reconciled by whom
//! into where, and where images come from. Each edge carries a [`Risk`] that colours it:
//! cluster-wide reconcilers, unsigned registries and opt-ins (Secrets, NetworkPolicies) are
//! marked, verified edges are green.
//!
//! Output formats: Mermaid (split so that no diagram passes [`MERMAID_LIMIT`] characters,
//! below Mermaid's default `maxTextSize` of 50,000), Graphviz DOT, JSON. The graph is built
//! from the resolved [`Policy`] alone and is deterministic.

use std::fmt::Write as _;

use serde::Serialize;

use crate::model::{Env, Policy, Tenant};

/// Stay well under Mermaid's default `maxTextSize` (50,000 characters; mermaid-js
/// `packages/mermaid/src/defaultConfig.ts`), which makes a larger diagram fail to render.
pub const MERMAID_LIMIT: usize = 40_000;

/// How much an edge widens what can reach the cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Risk {
    /// Verified: signed commits, signed images.
    Verified,
    /// Ordinary, namespaced.
    Normal,
    /// An opt-in that widens a tenant (Secrets, NetworkPolicies).
    Elevated,
    /// Cluster-wide, or unverified content.
    High,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Node {
    pub id: String,
    /// `signer`, `repository`, `reconciler`, `namespace`, `kinds`, `registry`.
    pub kind: &'static str,
    pub label: String,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Edge {
    pub from: String,
    pub to: String,
    pub label: String,
    pub risk: Risk,
}

/// The graph of one group of tenants (and the platform tier, in the first group) of one
/// environment.
#[derive(Clone, Debug, Serialize)]
pub struct Graph {
    pub env: String,
    /// The tenants it shows.
    pub tenants: Vec<String>,
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
}

/// A Mermaid and DOT id (letters, digits, underscores) for a node: readable, stable under
/// additions (no counters), and distinct for keys that differ only in punctuation (a short
/// FNV-1a hash of the exact key is appended).
fn id(parts: &[&str]) -> String {
    let key = parts.join("\u{0}");
    let mut h: u32 = 0x811c_9dc5;
    for b in key.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    let readable: String = parts
        .join("_")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("{readable}_{h:08x}")
}

struct Builder {
    nodes: std::collections::BTreeSet<Node>,
    edges: Vec<Edge>,
}

impl Builder {
    fn node(&mut self, kind: &'static str, key: &str, label: impl Into<String>) -> String {
        let node_id = id(&[kind, key]);
        self.nodes.insert(Node {
            id: node_id.clone(),
            kind,
            label: label.into(),
        });
        node_id
    }

    fn edge(&mut self, from: &str, to: &str, label: impl Into<String>, risk: Risk) {
        self.edges.push(Edge {
            from: from.to_string(),
            to: to.to_string(),
            label: label.into(),
            risk,
        });
    }

    fn tenant(&mut self, t: &Tenant) {
        let repo = self.node(
            "repository",
            &t.repository,
            format!("{}<br/>{} : {}", t.repository, t.branch, t.path),
        );
        for s in &t.signers {
            let sid = self.node("signer", &s.name, format!("{} <{}>", s.name, s.email));
            self.edge(&sid, &repo, "signs", Risk::Verified);
        }
        let rec = self.node(
            "reconciler",
            &format!("{}/{}", t.home, t.service_account),
            format!("{}/{}", t.home, t.service_account),
        );
        let risk = if t.signers.is_empty() {
            Risk::High
        } else {
            Risk::Verified
        };
        self.edge(&repo, &rec, "reconciled by", risk);
        let kinds: Vec<String> = t.kinds.iter().map(|k| k.kind.clone()).collect();
        let kid = self.node("kinds", &t.name, kinds.join(", "));
        for ns in &t.namespaces {
            let nid = self.node("namespace", ns, ns.clone());
            let risk = if t.allow_secrets || t.allow_network_policies {
                Risk::Elevated
            } else {
                Risk::Normal
            };
            let mut label = String::from("applies");
            if t.allow_secrets {
                label.push_str(" + Secrets");
            }
            if t.allow_network_policies {
                label.push_str(" + NetworkPolicies");
            }
            self.edge(&rec, &nid, label, risk);
            self.edge(&nid, &kid, "may hold", Risk::Normal);
            for r in &t.registries {
                let rid = self.node("registry", &r.host, r.host.clone());
                let (label, risk) = if r.signed() {
                    ("signed images", Risk::Verified)
                } else {
                    ("unsigned images", Risk::High)
                };
                self.edge(&rid, &nid, label, risk);
            }
        }
    }

    fn finish(self, env: &str, tenants: Vec<String>) -> Graph {
        let mut edges = self.edges;
        edges.sort();
        edges.dedup();
        Graph {
            env: env.to_string(),
            tenants,
            nodes: self.nodes.into_iter().collect(),
            edges,
        }
    }
}

fn platform(b: &mut Builder, env: &Env) {
    let p = &env.platform;
    let repo = b.node(
        "repository",
        &p.repository,
        format!("{}<br/>{} : {}", p.repository, p.branch, p.path),
    );
    for s in &p.signers {
        let sid = b.node("signer", &s.name, format!("{} <{}>", s.name, s.email));
        b.edge(&sid, &repo, "signs", Risk::Verified);
    }
    let rec = b.node(
        "reconciler",
        &format!("{}/{}", p.namespace, p.service_account),
        format!("{}/{} (platform)", p.namespace, p.service_account),
    );
    b.edge(&repo, &rec, "reconciled by", Risk::Verified);
    let cluster = b.node("namespace", "*cluster*", "cluster-wide");
    b.edge(&rec, &cluster, "applies cluster kinds", Risk::High);
}

/// The graphs of every environment (or of `only`), each split in groups of at most
/// `tenants_per_graph` tenants; the platform tier is in each environment's first graph.
pub fn graphs(policy: &Policy, only: Option<&str>, tenants_per_graph: usize) -> Vec<Graph> {
    groups(policy, only, tenants_per_graph)
        .map(|(env, first, chunk)| graph(env, first, chunk))
        .collect()
}

/// The groups [`graphs`] draws, in order: (environment, whether it is the environment's
/// first group, its tenants).
fn groups<'p>(
    policy: &'p Policy,
    only: Option<&'p str>,
    tenants_per_graph: usize,
) -> impl Iterator<Item = (&'p Env, bool, &'p [Tenant])> {
    let per = tenants_per_graph.max(1);
    policy
        .environments
        .iter()
        .filter(move |env| only.is_none_or(|o| o == env.name))
        .flat_map(move |env| {
            let chunks: Vec<&[Tenant]> = if env.tenants.is_empty() {
                vec![&[]]
            } else {
                env.tenants.chunks(per).collect()
            };
            chunks
                .into_iter()
                .enumerate()
                .map(move |(i, chunk)| (env, i == 0, chunk))
        })
}

/// The graph of one group: the platform tier when `first`, then each tenant of `chunk`.
fn graph(env: &Env, first: bool, chunk: &[Tenant]) -> Graph {
    let mut b = Builder {
        nodes: Default::default(),
        edges: Vec::new(),
    };
    if first {
        platform(&mut b, env);
    }
    for t in chunk {
        b.tenant(t);
    }
    b.finish(&env.name, chunk.iter().map(|t| t.name.clone()).collect())
}

fn mermaid_escape(s: &str) -> String {
    s.replace('"', "#quot;")
        .replace('<', "#lt;")
        .replace('>', "#gt;")
        .replace("#lt;br/#gt;", "<br/>")
}

/// One Mermaid `flowchart` of a graph.
pub fn mermaid(g: &Graph) -> String {
    let mut out = String::from("flowchart LR\n");
    for n in &g.nodes {
        let (open, close) = match n.kind {
            "signer" => ("([", "])"),
            "repository" => ("[(", ")]"),
            "reconciler" => ("{{", "}}"),
            "registry" => ("[/", "/]"),
            _ => ("[", "]"),
        };
        let _ = writeln!(
            out,
            "  {}{open}\"{}\"{close}",
            n.id,
            mermaid_escape(&n.label)
        );
    }
    for e in &g.edges {
        let arrow = if e.risk == Risk::High { "==>" } else { "-->" };
        let _ = writeln!(
            out,
            "  {} {arrow}|\"{}\"| {}",
            e.from,
            mermaid_escape(&e.label),
            e.to
        );
    }
    for (i, e) in g.edges.iter().enumerate() {
        let colour = match e.risk {
            Risk::Verified => "#2da44e",
            Risk::Normal => "#6e7781",
            Risk::Elevated => "#bf8700",
            Risk::High => "#cf222e",
        };
        let _ = writeln!(out, "  linkStyle {i} stroke:{colour}");
    }
    out
}

/// Mermaid diagrams of every environment, each under [`MERMAID_LIMIT`] characters: the
/// tenants are split into as many diagrams as that takes. Returns (title, diagram) pairs.
///
/// The group size starts at the largest environment's tenant count and halves until every
/// diagram fits (or one tenant per diagram). A size is given up at its first diagram over
/// the limit, so that the sizes tried before the last cost a diagram each, not a drawing of
/// every environment (at 100 tenants, three of the four sizes tried were drawn in full).
pub fn mermaid_all(policy: &Policy, only: Option<&str>) -> Vec<(String, String)> {
    let mut per = policy
        .environments
        .iter()
        .map(|e| e.tenants.len())
        .max()
        .unwrap_or(1)
        .max(1);
    'sizes: loop {
        let mut diagrams = Vec::new();
        for (env, first, chunk) in groups(policy, only, per) {
            let g = graph(env, first, chunk);
            let diagram = mermaid(&g);
            if per > 1 && diagram.len() > MERMAID_LIMIT {
                per = per.div_ceil(2);
                continue 'sizes;
            }
            let title = match (g.tenants.first(), g.tenants.last()) {
                (Some(a), Some(b)) if a != b => format!("{}: tenants {a} … {b}", g.env),
                (Some(a), _) => format!("{}: tenant {a}", g.env),
                _ => g.env.clone(),
            };
            diagrams.push((title, diagram));
        }
        return diagrams;
    }
}

/// Markdown: a heading and a fenced `mermaid` block per diagram (GitHub renders them).
pub fn markdown(policy: &Policy, only: Option<&str>) -> String {
    let mut out = String::new();
    for (title, diagram) in mermaid_all(policy, only) {
        let _ = write!(out, "### {title}\n\n```mermaid\n{diagram}```\n\n");
    }
    out
}

/// Graphviz DOT of every graph, one `digraph` per environment group.
pub fn dot(policy: &Policy, only: Option<&str>) -> String {
    let mut out = String::new();
    for g in graphs(policy, only, usize::MAX) {
        let _ = writeln!(out, "digraph \"{}\" {{\n  rankdir=LR;", g.env);
        for n in &g.nodes {
            let shape = match n.kind {
                "signer" => "ellipse",
                "repository" => "cylinder",
                "reconciler" => "hexagon",
                "registry" => "parallelogram",
                _ => "box",
            };
            let _ = writeln!(
                out,
                "  {} [label=\"{}\", shape={shape}];",
                n.id,
                n.label.replace('"', "\\\"").replace("<br/>", "\\n")
            );
        }
        for e in &g.edges {
            let colour = match e.risk {
                Risk::Verified => "darkgreen",
                Risk::Normal => "gray40",
                Risk::Elevated => "darkorange",
                Risk::High => "red",
            };
            let _ = writeln!(
                out,
                "  {} -> {} [label=\"{}\", color={colour}];",
                e.from,
                e.to,
                e.label.replace('"', "\\\"")
            );
        }
        out.push_str("}\n");
    }
    out
}
