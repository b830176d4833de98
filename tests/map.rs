//! `trustc map`: every environment drawn, risks coloured, Mermaid diagrams split under the
//! renderable size, output deterministic.

use std::path::Path;

use crate::support::TEST_NOW;

pub(super) fn spec_with_tenants(
    dir: &Path,
    n: usize,
    unsigned_registry: bool,
) -> std::path::PathBuf {
    crate::support::copy_example_keys(dir);
    let mut text = String::from(
        r#"version = 1
[flux]
namespace = "flux-system"
version = "2.9"
api_server_cidrs = ["10.96.0.1/32"]
[admission]
engine = "kyverno-cel"
kyverno_version = "1.19"
[git]
known_hosts = "github.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
[secrets]
store = "vault-backend"
deploy_key_path = "flux/{tenant}/deploy-key"
[signers.alice]
email = "alice@example.com"
key = "keys/alice.asc"
[registries.internal]
host = "registry.internal.example.com"
cosign_key = "keys/cosign.pub"
[registries.public]
host = "ghcr.io"
[environments.staging]
branch = "staging"
[platform]
repository = "ssh://git@github.com/example/platform.git"
path = "./clusters/{env}/platform"
signers = ["alice"]
cluster_kinds = ["Namespace"]
"#,
    );
    for i in 0..n {
        let reg = if unsigned_registry && i == 0 {
            "public"
        } else {
            "internal"
        };
        text.push_str(&format!(
            "[tenants.team{i:04}]\nnamespaces = [\"team{i:04}\"]\nrepository = \"ssh://git@github.com/example/team{i:04}.git\"\npath = \"./clusters/{{env}}/team{i:04}\"\nenvironments = [\"staging\"]\nsigners = [\"alice\"]\nregistries = [\"{reg}\"]\nallowed_kinds = [\"apps/Deployment\", \"Service\", \"ConfigMap\"]\n"
        ));
    }
    let spec = dir.join("trust.toml");
    std::fs::write(&spec, text).unwrap();
    spec
}

fn map(spec: &Path, args: &[&str]) -> String {
    let mut all = vec!["map", "--spec", spec.to_str().unwrap()];
    all.extend_from_slice(args);
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_trustc"))
        .args(&all)
        .env("TRUSTC_NOW", TEST_NOW.to_string())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

/// The ```mermaid blocks of a Markdown text.
fn diagrams(md: &str) -> Vec<&str> {
    md.split("```mermaid\n")
        .skip(1)
        .map(|rest| rest.split("```").next().unwrap())
        .collect()
}

#[test]
fn a_large_fleet_is_split_into_renderable_diagrams_that_cover_every_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let spec = spec_with_tenants(dir.path(), 400, false);
    let md = map(&spec, &[]);
    let ds = diagrams(&md);
    assert!(ds.len() > 1, "400 tenants do not fit one diagram");
    for d in &ds {
        assert!(d.len() <= trustc::map::MERMAID_LIMIT, "{} chars", d.len());
        assert!(d.starts_with("flowchart LR\n"));
        // Every edge joins declared nodes.
        let declared: std::collections::BTreeSet<&str> = d
            .lines()
            .skip(1)
            .filter(|l| !l.contains("-->") && !l.contains("==>") && !l.contains("linkStyle"))
            .filter_map(|l| l.trim().split(['[', '(', '{']).next())
            .collect();
        for l in d.lines().filter(|l| l.contains("-->") || l.contains("==>")) {
            let words: Vec<&str> = l.split_whitespace().collect();
            assert!(declared.contains(words[0]), "{l}");
            assert!(declared.contains(words.last().unwrap()), "{l}");
        }
    }
    for i in [0, 199, 399] {
        let ns = format!("\"team{i:04}\"");
        assert!(ds.iter().any(|d| d.contains(&ns)), "tenant {i} drawn");
    }
    assert_eq!(map(&spec, &[]), md, "deterministic");
}

/// The split is the largest group size, halving from the whole environment, at which every
/// diagram fits: drawn with the size before it in that sequence, some diagram would not
/// fit. The diagrams are those of [`trustc::map::graphs`] at that size, in order.
#[test]
fn the_split_is_the_largest_size_that_fits() {
    let dir = tempfile::tempdir().unwrap();
    let spec = spec_with_tenants(dir.path(), 400, false);
    let (_, diags, valid) = crate::support::front(&spec, &crate::support::fixture_clock(""));
    let valid = valid.unwrap_or_else(|| panic!("{diags:?}"));
    let policy = trustc::model::resolve(&valid, "trust.toml");
    let drawn = trustc::map::mermaid_all(&policy, None);
    let fits = |per: usize| {
        trustc::map::graphs(&policy, None, per)
            .iter()
            .all(|g| trustc::map::mermaid(g).len() <= trustc::map::MERMAID_LIMIT)
    };
    let mut sizes: Vec<usize> = vec![400];
    while let Some(&per) = sizes.last().filter(|&&per| per > 1) {
        sizes.push(per.div_ceil(2));
    }
    let at = sizes.iter().position(|&per| fits(per)).unwrap();
    assert!(at > 0, "400 tenants do not fit one diagram");
    let per = sizes[at];
    let graphs = trustc::map::graphs(&policy, None, per);
    assert_eq!(drawn.len(), graphs.len(), "{per} tenants a diagram");
    for ((title, diagram), g) in drawn.iter().zip(&graphs) {
        assert_eq!(diagram, &trustc::map::mermaid(g));
        let (first, last) = (g.tenants.first().unwrap(), g.tenants.last().unwrap());
        assert_eq!(title, &format!("{}: tenants {first} … {last}", g.env));
    }
}

#[test]
fn risks_are_coloured_and_every_format_agrees() {
    let dir = tempfile::tempdir().unwrap();
    let spec = spec_with_tenants(dir.path(), 2, true);
    let json: serde_json::Value = serde_json::from_str(&map(&spec, &["-o", "json"])).unwrap();
    let edges = json[0]["edges"].as_array().unwrap();
    let risk = |label: &str| -> Vec<&str> {
        edges
            .iter()
            .filter(|e| e["label"] == label)
            .map(|e| e["risk"].as_str().unwrap())
            .collect()
    };
    assert_eq!(risk("unsigned images"), ["high"]);
    assert_eq!(risk("signed images"), ["verified"]);
    assert_eq!(risk("applies cluster kinds"), ["high"]);
    let md = map(&spec, &[]);
    assert!(md.contains("==>|\"unsigned images\"|"), "{md}");
    assert!(md.contains("stroke:#cf222e"));
    let dot = map(&spec, &["-o", "dot"]);
    assert!(dot.starts_with("digraph \"staging\""));
    assert!(dot.contains("label=\"unsigned images\", color=red"));
}
