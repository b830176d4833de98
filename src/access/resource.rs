//! kubectl's spelling of resources: `deployments.apps`, `pods/exec`, `deployments.apps/scale`.

use crate::kinds;

/// Parses kubectl's resource spelling into (API group, resource[/subresource]):
/// `deployments.apps` → (`apps`, `deployments`), `pods/exec` → (``, `pods/exec`),
/// `deployments.apps/scale` → (`apps`, `deployments/scale`). Without a group, the group is
/// looked up in trustc's table of kinds by plural (the core group first, then a unique match;
/// a kind name such as `Deployment` is accepted too); an unknown resource is taken as core.
/// A non-resource URL (`/healthz`) is returned unchanged with the empty group.
pub fn parse_resource(s: &str) -> (String, String) {
    let s = s.trim();
    if s.starts_with('/') {
        return (String::new(), s.to_string());
    }
    let (base, sub) = match s.split_once('/') {
        Some((base, sub)) => (base, Some(sub)),
        None => (s, None),
    };
    let with_sub = |resource: &str| match sub {
        Some(sub) => format!("{resource}/{sub}"),
        None => resource.to_string(),
    };
    if let Some((resource, group)) = base.split_once('.') {
        return (group.to_string(), with_sub(resource));
    }
    match lookup(base) {
        Some((group, resource)) => (group, with_sub(&resource)),
        None => (String::new(), with_sub(base)),
    }
}

/// The verbs kubectl knows (kubernetes v1.35 `staging/src/k8s.io/kubectl/pkg/cmd/auth/cani.go`,
/// `k8sVerbs`), and those of non-resource URLs (`nonResourceURLVerbs`).
pub(crate) const VERBS: &[&str] = &[
    "create",
    "get",
    "list",
    "watch",
    "update",
    "patch",
    "delete",
    "deletecollection",
    "use",
    "bind",
    "impersonate",
    "*",
    "approve",
    "sign",
    "escalate",
];
pub(crate) const URL_VERBS: &[&str] = &[
    "get", "put", "post", "head", "options", "delete", "patch", "*",
];

/// A warning for a verb kubectl does not know (as `kubectl auth can-i` warns), with the
/// closest known verb.
pub fn verb_warning(verb: &str, url: bool) -> Option<String> {
    let known = if url { URL_VERBS } else { VERBS };
    if known.contains(&verb) {
        return None;
    }
    let mut w = format!("verb `{verb}` is not a known verb");
    if let Some(s) = crate::spec::suggest(verb, known.iter().copied()) {
        w.push_str(&format!(" (did you mean `{s}`?)"));
    }
    Some(w)
}

/// A warning for a resource trustc's table of kinds does not know (kubectl would say "the
/// server doesn't have a resource type"), with the closest spelling.
pub fn resource_warning(given: &str, group: &str, resource: &str) -> Option<String> {
    if given.trim().starts_with('/') {
        return None;
    }
    let base = resource.split('/').next().unwrap_or(resource);
    if kinds::resource_is_cluster_scoped(group, base).is_some() {
        return None;
    }
    let spelled = if group.is_empty() {
        base.to_string()
    } else {
        format!("{base}.{group}")
    };
    let mut w =
        format!("resource `{spelled}` is not a resource trustc knows; answering for it as spelled");
    let candidates: Vec<String> = kinds::builtins()
        .map(|k| {
            if k.group.is_empty() {
                k.resource
            } else {
                format!("{}.{}", k.resource, k.group)
            }
        })
        .collect();
    if let Some(s) = crate::spec::suggest(&spelled, candidates.iter().map(String::as_str)) {
        w.push_str(&format!(" (did you mean `{s}`?)"));
    }
    Some(w)
}

/// Whether a (group, resource) is namespaced according to the table of kinds.
pub fn is_namespaced(group: &str, resource: &str) -> bool {
    let base = resource.split('/').next().unwrap_or(resource);
    kinds::resource_is_cluster_scoped(group, base) == Some(false)
}

/// (group, plural) of a resource or kind spelled without its group, from the table of kinds.
fn lookup(name: &str) -> Option<(String, String)> {
    let table: Vec<(String, String, String)> = kinds::builtin_names()
        .filter_map(|spec| {
            let (group, kind) = kinds::split(&spec);
            let resource = kinds::resource_of(group, kind)?;
            Some((group.to_string(), kind.to_string(), resource.to_string()))
        })
        .collect();
    let pick = |matches: Vec<&(String, String, String)>| {
        let core = matches.iter().find(|(g, ..)| g.is_empty());
        match (core, matches.as_slice()) {
            (Some(c), _) => Some((c.0.clone(), c.2.clone())),
            (None, [only]) => Some((only.0.clone(), only.2.clone())),
            _ => None,
        }
    };
    let by_plural: Vec<_> = table.iter().filter(|(_, _, r)| r == name).collect();
    if !by_plural.is_empty() {
        return pick(by_plural);
    }
    let by_kind: Vec<_> = table
        .iter()
        .filter(|(_, k, _)| k.eq_ignore_ascii_case(name))
        .collect();
    if let Some(found) = pick(by_kind) {
        return Some(found);
    }
    // kubectl's short names (`deploy`, `netpol`, `cm`).
    let builtins: Vec<kinds::KindInfo> = kinds::builtins().collect();
    match kinds::from_spelling(name, &builtins).as_slice() {
        [one] => Some((one.group.clone(), one.resource.clone())),
        _ => None,
    }
}
