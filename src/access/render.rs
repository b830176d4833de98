//! Human renderings of an analysis: an access matrix (like `rakkess`) and a who-can list.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use super::{Analysis, Grant, Subject};

/// The verbs every table shows, in kubectl's order.
const STANDARD_VERBS: [&str; 8] = [
    "get",
    "list",
    "watch",
    "create",
    "update",
    "patch",
    "delete",
    "deletecollection",
];

/// The escalation verbs a `*` verb includes, shown as columns when it occurs.
const ESCALATION_VERBS: [&str; 3] = ["bind", "escalate", "impersonate"];

const YES: &str = "✔";
const NO: &str = "✖";
const NAMED: &str = "~";

/// The position of a verb in kubectl's order (others after, alphabetically by the caller).
pub(crate) fn verb_rank(verb: &str) -> usize {
    match verb {
        "*" => 0,
        v => STANDARD_VERBS
            .iter()
            .position(|s| *s == v)
            .map_or(STANDARD_VERBS.len() + 1, |p| p + 1),
    }
}

/// kubectl's spelling of a resource: `pods`, `deployments.apps`, `deployments.apps/scale`,
/// `*.*`.
pub(crate) fn resource_label(api_group: &str, resource: &str) -> String {
    let (base, sub) = match resource.split_once('/') {
        Some((b, s)) => (b, Some(s)),
        None => (resource, None),
    };
    let mut out = base.to_string();
    if !api_group.is_empty() {
        out.push('.');
        out.push_str(api_group);
    }
    if let Some(sub) = sub {
        out.push('/');
        out.push_str(sub);
    }
    out
}

fn scope_label(namespace: Option<&str>) -> String {
    match namespace {
        None => "cluster-wide".to_string(),
        Some(ns) => format!("namespace {ns}"),
    }
}

/// What a grant allows, as one phrase: `create deployments.apps`, `get /healthz`.
fn grant_what(g: &Grant) -> String {
    let target = match &g.non_resource_url {
        Some(url) => url.clone(),
        None => resource_label(&g.api_group, &g.resource),
    };
    let mut out = format!("{} {target}", g.verb);
    if !g.resource_names.is_empty() {
        let _ = write!(out, " named {}", g.resource_names.join(", "));
    }
    out
}

/// The access matrix: for each subject (headed when there are several) and each scope
/// (cluster-wide first, then namespaces by name), rows of resources and columns of verbs (`✔`
/// every object, `~` only named objects, `✖` not at all), then non-resource URLs, then what is
/// unknown.
pub fn render_access_table(a: &Analysis) -> String {
    let mut out = String::new();
    let mut by_subject: BTreeMap<&Subject, Vec<&Grant>> = BTreeMap::new();
    for g in &a.grants {
        by_subject.entry(&g.subject).or_default().push(g);
    }
    if by_subject.is_empty() {
        out.push_str("No access granted by the manifests.\n");
    }
    let several = by_subject.len() > 1;
    let mut any_named = false;
    for (i, (subject, grants)) in by_subject.into_iter().enumerate() {
        if several {
            if i > 0 {
                out.push('\n');
            }
            let _ = writeln!(out, "{subject}:");
        }
        let mut by_scope: BTreeMap<Option<&str>, Vec<&Grant>> = BTreeMap::new();
        for g in grants {
            by_scope.entry(g.namespace.as_deref()).or_default().push(g);
        }
        for (j, (scope, grants)) in by_scope.into_iter().enumerate() {
            if j > 0 {
                out.push('\n');
            }
            match scope {
                None => out
                    .push_str("Cluster-wide (every namespace and the cluster-scoped resources):\n"),
                Some(ns) => {
                    let _ = writeln!(out, "Namespace {ns}:");
                }
            }
            any_named |= resource_table(&mut out, &grants);
            url_table(&mut out, &grants);
        }
    }
    if !a.grants.is_empty() {
        let _ = write!(out, "\n{YES} allowed  {NO} not allowed");
        if any_named {
            let _ = write!(out, "  {NAMED} only the named objects");
        }
        out.push('\n');
    }
    unknown_section(&mut out, &a.unknown);
    out
}

/// One scope's resource rows; returns whether a cell is restricted to names.
fn resource_table(out: &mut String, grants: &[&Grant]) -> bool {
    let mut rows: BTreeMap<(&str, &str), Vec<&Grant>> = BTreeMap::new();
    for g in grants.iter().filter(|g| g.non_resource_url.is_none()) {
        rows.entry((&g.api_group, &g.resource)).or_default().push(g);
    }
    if rows.is_empty() {
        return false;
    }
    let mut verbs: Vec<&str> = STANDARD_VERBS.to_vec();
    let mut extra: BTreeSet<&str> = BTreeSet::new();
    for gs in rows.values() {
        for g in gs {
            match g.verb.as_str() {
                "*" => extra.extend(ESCALATION_VERBS),
                v if !STANDARD_VERBS.contains(&v) => {
                    extra.insert(v);
                }
                _ => {}
            }
        }
    }
    verbs.extend(extra);
    let labels: Vec<String> = rows.keys().map(|(g, r)| resource_label(g, r)).collect();
    let width = labels
        .iter()
        .map(|l| l.chars().count())
        .chain(["RESOURCE".len()])
        .max()
        .unwrap_or(0);
    let _ = write!(out, "  {:<width$}", "RESOURCE");
    for v in &verbs {
        let _ = write!(out, "  {v}");
    }
    out.push('\n');
    let mut named_notes = Vec::new();
    for ((_, gs), label) in rows.iter().zip(&labels) {
        let _ = write!(out, "  {label:<width$}");
        for v in &verbs {
            let cell: Vec<&&Grant> = gs
                .iter()
                .filter(|g| g.verb == *v || g.verb == "*")
                .collect();
            let symbol = if cell.iter().any(|g| g.resource_names.is_empty()) {
                YES
            } else if cell.is_empty() {
                NO
            } else {
                let names: BTreeSet<&str> = cell
                    .iter()
                    .flat_map(|g| g.resource_names.iter().map(String::as_str))
                    .collect();
                let names: Vec<&str> = names.into_iter().collect();
                named_notes.push(format!("{label} {v}: only {}", names.join(", ")));
                NAMED
            };
            let _ = write!(out, "  {symbol:<w$}", w = v.chars().count());
        }
        // No trailing blanks.
        while out.ends_with(' ') {
            out.pop();
        }
        out.push('\n');
    }
    for note in &named_notes {
        let _ = writeln!(out, "  {NAMED} {note}");
    }
    !named_notes.is_empty()
}

/// The non-resource URLs of a scope, with their verbs.
fn url_table(out: &mut String, grants: &[&Grant]) {
    let mut urls: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for g in grants {
        if let Some(url) = &g.non_resource_url {
            let verbs = urls.entry(url).or_default();
            if !verbs.contains(&g.verb.as_str()) {
                verbs.push(&g.verb);
            }
        }
    }
    if urls.is_empty() {
        return;
    }
    let width = urls
        .keys()
        .map(|u| u.chars().count())
        .chain(["NON-RESOURCE URL".len()])
        .max()
        .unwrap_or(0);
    let _ = writeln!(out, "  {:<width$}  VERBS", "NON-RESOURCE URL");
    for (url, mut verbs) in urls {
        verbs.sort_by_key(|v| (verb_rank(v), *v));
        let _ = writeln!(out, "  {url:<width$}  {}", verbs.join(", "));
    }
}

/// One line per grant: `SUBJECT  via BINDING → ROLE rules[N]  (scope)  [what]`, then what is
/// unknown.
pub fn render_who_can(a: &Analysis) -> String {
    let mut out = String::new();
    let who: Vec<String> = a
        .grants
        .iter()
        .map(|g| match &g.via {
            Some(via) => format!("{} (as {via})", g.subject),
            None => g.subject.to_string(),
        })
        .collect();
    let width = who.iter().map(|w| w.chars().count()).max().unwrap_or(0);
    if a.grants.is_empty() {
        out.push_str("No subject in the manifests is granted this.\n");
    }
    for (g, who) in a.grants.iter().zip(&who) {
        let role = match &g.aggregated_from {
            Some(from) => format!("{}, aggregated from {from} rules[{}]", g.role, g.rule_index),
            None => format!("{} rules[{}]", g.role, g.rule_index),
        };
        let _ = writeln!(
            out,
            "{who:<width$}  via {} → {role}  ({})  [{}]",
            g.binding,
            scope_label(g.namespace.as_deref()),
            grant_what(g)
        );
    }
    unknown_section(&mut out, &a.unknown);
    out
}

fn unknown_section(out: &mut String, unknown: &[String]) {
    if unknown.is_empty() {
        return;
    }
    out.push_str("\nNot decidable from the manifests:\n");
    for u in unknown {
        let _ = writeln!(out, "  - {u}");
    }
}
