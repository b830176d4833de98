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
    pick(by_kind)
}
