//! From bindings to rules: subjects (defaults, group membership), roles (aggregation, built-in
//! roles), and what cannot be resolved.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

use super::load::{BindingDef, RawSubject, RoleDef, Rule, Selector};
use super::{GROUP, Manifests, SERVICE_ACCOUNT, Subject, USER};

/// A rule a binding grants, with the role it is reached through.
#[derive(Clone, Debug)]
pub(crate) struct RuleRef<'a> {
    pub(crate) rule: &'a Rule,
    /// The role the binding refers to: `Role ns/name` or `ClusterRole name`.
    pub(crate) role: String,
    /// Index in the rules of the role holding the rule.
    pub(crate) index: usize,
    /// The ClusterRole holding the rule, when reached through aggregation.
    pub(crate) aggregated_from: Option<String>,
}

/// The user name prefix of ServiceAccounts.
const SA_USER_PREFIX: &str = "system:serviceaccount:";
/// The group of every ServiceAccount; `system:serviceaccounts:<ns>` is that of a namespace.
const SA_GROUP: &str = "system:serviceaccounts";
/// The group of every authenticated user, ServiceAccounts included.
const AUTHENTICATED: &str = "system:authenticated";

/// `cluster-admin` as every Kubernetes cluster defines it.
static CLUSTER_ADMIN: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    let all = || vec!["*".to_string()];
    vec![
        Rule {
            verbs: all(),
            api_groups: all(),
            resources: all(),
            ..Rule::default()
        },
        Rule {
            verbs: all(),
            non_resource_urls: all(),
            ..Rule::default()
        },
    ]
});

/// The labels the built-in aggregated ClusterRoles select (admin ⊇ edit ⊇ view: the built-in
/// `edit` carries the `aggregate-to-admin` label, `view` the `aggregate-to-edit` one).
fn builtin_aggregation(name: &str) -> Option<&'static [&'static str]> {
    const ADMIN: &str = "rbac.authorization.k8s.io/aggregate-to-admin";
    const EDIT: &str = "rbac.authorization.k8s.io/aggregate-to-edit";
    const VIEW: &str = "rbac.authorization.k8s.io/aggregate-to-view";
    match name {
        "admin" => Some(&[ADMIN, EDIT, VIEW]),
        "edit" => Some(&[EDIT, VIEW]),
        "view" => Some(&[VIEW]),
        _ => None,
    }
}

/// Whether a missing role of this name is one Kubernetes creates itself.
fn is_builtin_role(name: &str) -> bool {
    matches!(name, "cluster-admin" | "admin" | "edit" | "view") || name.starts_with("system:")
}

/// A User named `system:serviceaccount:<ns>:<name>` is that ServiceAccount.
pub(crate) fn normalize(s: &Subject) -> Subject {
    if s.kind == USER {
        if let Some((ns, name)) = s
            .name
            .strip_prefix(SA_USER_PREFIX)
            .and_then(|rest| rest.split_once(':'))
        {
            if !ns.is_empty() && !name.is_empty() && !name.contains(':') {
                return Subject::service_account(ns, name);
            }
        }
    }
    s.clone()
}

/// The subjects a binding grants to, ServiceAccount namespaces resolved, and the subjects it
/// names that grant nothing (with why).
pub(crate) fn subjects_of(b: &BindingDef) -> (Vec<Subject>, Vec<(RawSubject, String)>) {
    let mut valid = Vec::new();
    let mut invalid = Vec::new();
    for raw in &b.subjects {
        let problem = match raw.kind.as_str() {
            _ if raw.name.is_empty() => Some(format!(
                "{} names a {} without a name: the API server rejects it",
                b.describe(),
                if raw.kind.is_empty() {
                    "subject"
                } else {
                    &raw.kind
                }
            )),
            SERVICE_ACCOUNT => match raw.namespace.as_ref().or(b.namespace.as_ref()) {
                Some(ns) => {
                    valid.push(Subject::service_account(ns, &raw.name));
                    None
                }
                None => Some(format!(
                    "{} names ServiceAccount `{}` without a namespace: the API server rejects \
                     it, so it grants nothing",
                    b.describe(),
                    raw.name
                )),
            },
            USER | GROUP => {
                valid.push(Subject {
                    kind: raw.kind.clone(),
                    name: raw.name.clone(),
                    namespace: None,
                });
                None
            }
            other => Some(format!(
                "{} names `{}` of kind `{other}`, which RBAC does not know: it grants nothing",
                b.describe(),
                raw.name
            )),
        };
        if let Some(note) = problem {
            invalid.push((raw.clone(), note));
        }
    }
    (valid, invalid)
}

/// Whether `who` holds what is bound to `bound`: `None` if not, `Some(None)` if `bound` is
/// `who`, `Some(Some(bound))` if through a group or the ServiceAccount's user name. A
/// ServiceAccount `who` without a namespace is any ServiceAccount of that name.
pub(crate) fn holds(who: &Subject, bound: &Subject) -> Option<Option<Subject>> {
    let bound_norm = normalize(bound);
    let same_sa = |s: &Subject| {
        s.kind == SERVICE_ACCOUNT
            && s.name == who.name
            && (who.namespace.is_none() || s.namespace == who.namespace)
    };
    let through = || Some(Some(bound.clone()));
    match who.kind.as_str() {
        SERVICE_ACCOUNT => {
            if same_sa(&bound_norm) {
                return if bound.kind == SERVICE_ACCOUNT {
                    Some(None)
                } else {
                    through()
                };
            }
            if bound.kind != GROUP {
                return None;
            }
            let ns_group = bound
                .name
                .strip_prefix(SA_GROUP)
                .and_then(|rest| rest.strip_prefix(':'));
            let member = bound.name == SA_GROUP
                || bound.name == AUTHENTICATED
                || ns_group.is_some_and(|ns| Some(ns) == who.namespace.as_deref());
            member.then(through).flatten()
        }
        USER => {
            if bound.kind == USER && bound.name == who.name {
                Some(None)
            } else if bound.kind == GROUP && bound.name == AUTHENTICATED {
                through()
            } else {
                None
            }
        }
        GROUP => (bound.kind == GROUP && bound.name == who.name).then_some(None),
        _ => None,
    }
}

/// Whether `labels` satisfy `sel` (`Err`: an operator trustc does not know).
fn selects(sel: &Selector, labels: &BTreeMap<String, String>) -> Result<bool, String> {
    if !sel
        .match_labels
        .iter()
        .all(|(k, v)| labels.get(k) == Some(v))
    {
        return Ok(false);
    }
    for req in &sel.match_expressions {
        let value = labels.get(&req.key);
        let ok = match req.operator.as_str() {
            "In" => value.is_some_and(|v| req.values.contains(v)),
            "NotIn" => value.is_none_or(|v| !req.values.contains(v)),
            "Exists" => value.is_some(),
            "DoesNotExist" => value.is_none(),
            other => return Err(other.to_string()),
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

impl Manifests {
    /// The rules a binding grants; what cannot be resolved goes to `unknown`.
    pub(crate) fn binding_rules(
        &self,
        b: &BindingDef,
        unknown: &mut Vec<String>,
    ) -> Vec<RuleRef<'_>> {
        match (b.role_kind.as_str(), &b.namespace) {
            ("Role", Some(ns)) => {
                let role = format!("Role {ns}/{}", b.role_name);
                let defs: Vec<&RoleDef> = self
                    .roles
                    .iter()
                    .filter(|r| r.namespace.as_ref() == Some(ns) && r.name == b.role_name)
                    .collect();
                if defs.is_empty() {
                    let builtin = b.role_name.starts_with("system:");
                    let what = format!("Role `{ns}/{}`", b.role_name);
                    unknown.push(missing_role(b, &what, builtin));
                }
                defs.into_iter().flat_map(|d| own_rules(d, &role)).collect()
            }
            ("Role", None) => {
                unknown.push(format!(
                    "{} refers to Role `{}`: a ClusterRoleBinding can only refer to a \
                     ClusterRole, so the API server rejects it",
                    b.describe(),
                    b.role_name
                ));
                Vec::new()
            }
            ("ClusterRole", _) => self.cluster_role_rules(b, unknown),
            (other, _) => {
                unknown.push(format!(
                    "{} refers to `{}` of kind `{other}`, which RBAC does not know: the API \
                     server rejects it",
                    b.describe(),
                    b.role_name
                ));
                Vec::new()
            }
        }
    }

    fn cluster_role_rules(&self, b: &BindingDef, unknown: &mut Vec<String>) -> Vec<RuleRef<'_>> {
        let name = &b.role_name;
        let role = format!("ClusterRole {name}");
        let defs: Vec<&RoleDef> = self
            .roles
            .iter()
            .filter(|r| r.is_cluster() && &r.name == name)
            .collect();
        if !defs.is_empty() {
            let mut out = Vec::new();
            for d in defs {
                match &d.aggregation {
                    Some(selectors) => {
                        if !d.rules.is_empty() {
                            unknown.push(format!(
                                "ClusterRole `{name}` has an aggregationRule: the aggregation \
                                 controller replaces its own {} rule(s) with those of the \
                                 ClusterRoles it selects, so they are not analysed",
                                d.rules.len()
                            ));
                        }
                        let mut visited = BTreeSet::from([name.clone()]);
                        self.aggregate(name, selectors, &role, &mut visited, &mut out, unknown);
                    }
                    None => out.extend(own_rules(d, &role)),
                }
            }
            return out;
        }
        if name == "cluster-admin" {
            return CLUSTER_ADMIN
                .iter()
                .enumerate()
                .map(|(index, rule)| RuleRef {
                    rule,
                    role: role.clone(),
                    index,
                    aggregated_from: None,
                })
                .collect();
        }
        let mut out = Vec::new();
        if let Some(keys) = builtin_aggregation(name) {
            let selectors: Vec<Selector> = keys
                .iter()
                .map(|k| Selector {
                    match_labels: BTreeMap::from([(k.to_string(), "true".to_string())]),
                    ..Selector::default()
                })
                .collect();
            let mut visited = BTreeSet::from([name.clone()]);
            self.aggregate(name, &selectors, &role, &mut visited, &mut out, unknown);
        }
        let mut note = missing_role(b, &format!("ClusterRole `{name}`"), is_builtin_role(name));
        let from: BTreeSet<&str> = out
            .iter()
            .filter_map(|r| r.aggregated_from.as_deref())
            .collect();
        if !from.is_empty() {
            let from: Vec<String> = from.into_iter().map(|f| format!("`{f}`")).collect();
            note.push_str(&format!(
                " (only what the manifests aggregate into it is analysed: {})",
                from.join(", ")
            ));
        }
        unknown.push(note);
        out
    }

    /// Appends the rules of every ClusterRole `selectors` select (aggregated ones through their
    /// own selectors), each ClusterRole once.
    fn aggregate<'a>(
        &'a self,
        name: &str,
        selectors: &[Selector],
        role: &str,
        visited: &mut BTreeSet<String>,
        out: &mut Vec<RuleRef<'a>>,
        unknown: &mut Vec<String>,
    ) {
        let mut candidates: Vec<&RoleDef> = self.roles.iter().filter(|r| r.is_cluster()).collect();
        candidates.sort_by(|a, b| a.name.cmp(&b.name));
        for cr in candidates {
            if visited.contains(&cr.name) {
                continue;
            }
            let mut selected = false;
            for sel in selectors {
                match selects(sel, &cr.labels) {
                    Ok(true) => selected = true,
                    Ok(false) => {}
                    Err(op) => unknown.push(format!(
                        "ClusterRole `{name}` aggregates with a matchExpressions operator \
                         `{op}`, which Kubernetes does not know: that selector selects nothing"
                    )),
                }
            }
            if !selected {
                continue;
            }
            visited.insert(cr.name.clone());
            match &cr.aggregation {
                Some(inner) => self.aggregate(&cr.name, inner, role, visited, out, unknown),
                None => out.extend(cr.rules.iter().enumerate().map(|(index, rule)| RuleRef {
                    rule,
                    role: role.to_string(),
                    index,
                    aggregated_from: Some(cr.describe()),
                })),
            }
        }
    }
}

/// The rules a role itself lists.
fn own_rules<'a>(d: &'a RoleDef, role: &str) -> impl Iterator<Item = RuleRef<'a>> {
    let role = role.to_string();
    d.rules
        .iter()
        .enumerate()
        .map(move |(index, rule)| RuleRef {
            rule,
            role: role.clone(),
            index,
            aggregated_from: None,
        })
}

/// The note for a binding to a role missing from the manifests.
fn missing_role(b: &BindingDef, what: &str, builtin: bool) -> String {
    if builtin {
        format!(
            "{} refers to {what}, which is built in: its rules are not in the manifests",
            b.describe()
        )
    } else {
        format!(
            "{} refers to {what}, which is not in the manifests: it grants nothing until it \
             exists, then whatever it says",
            b.describe()
        )
    }
}
