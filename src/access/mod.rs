//! Offline RBAC analysis of a directory of Kubernetes manifests: what one subject may do (like
//! `rakkess`) and who may do one thing (like `kubectl who-can`), each grant with its provenance
//! (binding, role, rule), computed from the YAML alone, without a cluster.
//!
//! The semantics are those of the Kubernetes RBAC authorizer:
//!
//! - a RoleBinding grants only in its own namespace, even when it refers to a ClusterRole; a
//!   ClusterRoleBinding grants everywhere (namespace `None`: every namespace and the
//!   cluster-scoped resources); non-resource URLs are granted by ClusterRoleBindings only;
//! - a rule matches a request when a verb is the request's or `*`, an API group is the
//!   request's or `*`, and a resource is `*`, the request's `resource[/subresource]`, or
//!   `*/subresource` for a subresource request. Kubernetes has no other wildcard: `pods/*`
//!   matches nothing but a literal `pods/*`, and is reported as such;
//! - `resourceNames` restrict a rule to the named objects; they are kept in the [`Grant`]. A
//!   request that carries no name (`create` of an object, `deletecollection`) is never
//!   allowed by a name-restricted rule;
//! - a ServiceAccount subject without a namespace in a RoleBinding means the binding's
//!   namespace (the authorizer defaults it); in a ClusterRoleBinding the API server rejects it;
//! - a ServiceAccount also holds what is bound to the groups `system:serviceaccounts`,
//!   `system:serviceaccounts:<namespace>` and `system:authenticated`, and to the user
//!   `system:serviceaccount:<namespace>:<name>`;
//! - a ClusterRole with an `aggregationRule` holds the rules of every ClusterRole of the
//!   manifests its selectors match (`matchLabels` and `matchExpressions`), transitively; its own
//!   `rules` are replaced, as the aggregation controller does;
//! - a binding to a role missing from the manifests is never ignored: `cluster-admin` is known
//!   (everything, every non-resource URL); `admin`, `edit`, `view` contribute the rules
//!   aggregated into them from the manifests, and their built-in rules are reported in
//!   [`Analysis::unknown`]; any other missing role is reported there too.

mod load;
mod matching;
mod render;
mod resolve;
mod resource;
#[cfg(test)]
mod tests;

use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

pub use render::{render_access_table, render_who_can};
pub use resource::parse_resource;
pub use resource::{is_namespaced, resource_warning, verb_warning};

use load::{BindingDef, RoleDef};
use matching::Request;

/// Why manifests could not be read.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error("cannot read `{}`: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{file}` is not valid YAML: {message}")]
    Yaml { file: String, message: String },
}

/// The RBAC objects of a set of manifests.
#[derive(Clone, Debug, Default)]
pub struct Manifests {
    /// ServiceAccount objects: (namespace, name).
    pub(crate) service_accounts: BTreeSet<(String, String)>,
    /// Roles and ClusterRoles, in file order.
    pub(crate) roles: Vec<RoleDef>,
    /// RoleBindings and ClusterRoleBindings, in file order.
    pub(crate) bindings: Vec<BindingDef>,
    /// What loading could not decide (objects without a namespace, duplicates…): part of every
    /// analysis's `unknown`.
    pub(crate) notes: Vec<String>,
}

/// Who is granted: a ServiceAccount (with its namespace), a User or a Group.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Subject {
    /// `ServiceAccount`, `User` or `Group`.
    pub kind: String,
    pub name: String,
    /// The namespace of a ServiceAccount; `None` for users and groups.
    pub namespace: Option<String>,
}

impl Subject {
    /// The ServiceAccount `namespace/name`.
    pub fn service_account(namespace: &str, name: &str) -> Subject {
        Subject {
            kind: SERVICE_ACCOUNT.to_string(),
            name: name.to_string(),
            namespace: Some(namespace.to_string()),
        }
    }

    /// The user `name`.
    pub fn user(name: &str) -> Subject {
        Subject {
            kind: USER.to_string(),
            name: name.to_string(),
            namespace: None,
        }
    }

    /// The group `name`.
    pub fn group(name: &str) -> Subject {
        Subject {
            kind: GROUP.to_string(),
            name: name.to_string(),
            namespace: None,
        }
    }
}

/// By kind, then namespace, then name.
impl Ord for Subject {
    fn cmp(&self, other: &Subject) -> Ordering {
        self.kind
            .cmp(&other.kind)
            .then_with(|| self.namespace.cmp(&other.namespace))
            .then_with(|| self.name.cmp(&other.name))
    }
}

impl PartialOrd for Subject {
    fn partial_cmp(&self, other: &Subject) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{} {ns}/{}", self.kind, self.name),
            None => write!(f, "{} {}", self.kind, self.name),
        }
    }
}

/// One permission a subject holds, with where it comes from. Wildcards are kept as written.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Grant {
    /// Who holds the permission.
    pub subject: Subject,
    /// The subject the binding names, when it is not `subject` itself: a group `subject`
    /// belongs to (`system:serviceaccounts:<ns>`…) or the user name of a ServiceAccount.
    pub via: Option<Subject>,
    /// The rule's verb (`*` for every verb).
    pub verb: String,
    /// The rule's API group (`""` for core, `*` for every group).
    pub api_group: String,
    /// The rule's resource, maybe with `/subresource` (`*`, `*/scale`…); `""` for a
    /// non-resource URL grant.
    pub resource: String,
    /// The objects the grant is restricted to; empty: every object.
    pub resource_names: Vec<String>,
    /// A non-resource URL grant (`/healthz`, `/metrics`, `*`); then `api_group` and
    /// `resource` are empty.
    pub non_resource_url: Option<String>,
    /// Where the grant holds: `None` is cluster-wide (every namespace and cluster-scoped
    /// resources), `Some(ns)` is the namespace of a RoleBinding.
    pub namespace: Option<String>,
    /// `RoleBinding ns/name` or `ClusterRoleBinding name`.
    pub binding: String,
    /// The role the binding refers to: `Role ns/name` or `ClusterRole name`.
    pub role: String,
    /// For an aggregated ClusterRole, the ClusterRole whose rule this is (`ClusterRole name`);
    /// `rule_index` then indexes that role's rules.
    pub aggregated_from: Option<String>,
    /// Index (from 0) of the rule in the `rules` of the role that holds it.
    pub rule_index: usize,
}

/// What an analysis found: the grants, sorted, and what it could not decide.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Analysis {
    pub grants: Vec<Grant>,
    /// Sentences on what the manifests leave undecided (built-in roles, missing roles, invalid
    /// subjects…): the grants may be incomplete by exactly these.
    pub unknown: Vec<String>,
}

pub(crate) const SERVICE_ACCOUNT: &str = "ServiceAccount";
pub(crate) const USER: &str = "User";
pub(crate) const GROUP: &str = "Group";

impl Manifests {
    /// Reads every `*.yaml` / `*.yml` under `dir` recursively, in name order (hidden directories
    /// skipped; `dir` may also be a single file). Kustomize's own `kustomization.yaml` files,
    /// documents that are not mappings and documents without a `kind` are skipped; `List`
    /// documents are read item by item.
    pub fn load_dir(dir: &Path) -> Result<Manifests, AccessError> {
        let files = load::read_tree(dir)?;
        Manifests::from_texts(files.iter().map(|(n, t)| (n.as_str(), t.as_str())))
    }

    /// The same from in-memory (file name, text) pairs.
    pub fn from_texts<'a>(
        files: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Manifests, AccessError> {
        let mut m = Manifests::default();
        for (name, text) in files {
            m.add_text(name, text)?;
        }
        m.finish();
        Ok(m)
    }

    /// Same from documents already parsed: (file name, its documents). The generator's
    /// invariants use it on the documents it verified, without parsing them again.
    pub fn from_documents<'a>(
        files: impl IntoIterator<Item = (&'a str, &'a [serde_json::Value])>,
    ) -> Manifests {
        let mut m = Manifests::default();
        for (name, docs) in files {
            m.add_documents(name, docs);
        }
        m.finish();
        m
    }

    /// What loading could not decide (objects without a name or namespace, bindings without a
    /// complete roleRef, objects defined more than once): part of every analysis's `unknown`.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// Each Role, ClusterRole, RoleBinding and ClusterRoleBinding loaded, as the notes name it
    /// (`Role ns/name`, `ClusterRoleBinding name`…): two equal definitions are an object
    /// defined more than once, which [`Manifests::finish`] notes within one load.
    pub fn definitions(&self) -> impl Iterator<Item = String> + '_ {
        self.roles
            .iter()
            .map(RoleDef::describe)
            .chain(self.bindings.iter().map(BindingDef::describe))
    }

    /// The ServiceAccount objects of the manifests: (namespace, name), sorted.
    pub fn service_accounts(&self) -> impl Iterator<Item = (&str, &str)> {
        self.service_accounts
            .iter()
            .map(|(ns, n)| (ns.as_str(), n.as_str()))
    }

    /// Every grant `subject` holds (each rule expanded to verb × group × resource, wildcards
    /// kept), directly or through a group, with what the manifests leave unknown about it.
    pub fn grants_of(&self, subject: &Subject) -> Analysis {
        let who = resolve::normalize(subject);
        let mut grants = Vec::new();
        let mut unknown = self.notes.clone();
        for b in &self.bindings {
            let (subjects, invalid) = resolve::subjects_of(b);
            for (raw, note) in invalid {
                if raw.name == who.name {
                    unknown.push(note);
                }
            }
            let vias: Vec<Option<Subject>> = subjects
                .iter()
                .filter_map(|s| resolve::holds(&who, s))
                .collect();
            if vias.is_empty() {
                continue;
            }
            let rules = self.binding_rules(b, &mut unknown);
            note_literal_wildcards(&rules, None, &mut unknown);
            for rr in rules {
                for via in &vias {
                    expand_rule(b, &rr, &who, via, &mut grants);
                }
            }
        }
        finish_analysis(grants, unknown)
    }

    /// Every grant, of every subject, that allows `verb` on `resource` (maybe
    /// `resource/subresource`) of `api_group` in `namespace` (`None`: a cluster-scoped or
    /// all-namespaces request; ignored for resources trustc's table of kinds knows to be
    /// cluster-scoped). A `resource` starting with `/` is a non-resource URL.
    /// Subjects are listed as their bindings name them, and every ServiceAccount the manifests
    /// know of (objects and binding subjects) is listed too when it holds the grant through a
    /// group (`via`).
    pub fn who_can(
        &self,
        verb: &str,
        api_group: &str,
        resource: &str,
        namespace: Option<&str>,
    ) -> Analysis {
        let req = Request::new(verb, api_group, resource);
        // A cluster-scoped resource has no namespace, whatever the request says (as kubectl).
        let base = resource.split('/').next().unwrap_or(resource);
        let namespace = if crate::kinds::resource_is_cluster_scoped(api_group, base) == Some(true) {
            None
        } else {
            namespace
        };
        let known = self.known_service_accounts();
        let mut grants = Vec::new();
        let mut unknown = self.notes.clone();
        for b in &self.bindings {
            // A RoleBinding applies only to requests in its namespace, and never to
            // non-resource URLs.
            if let Some(ns) = &b.namespace {
                if req.url.is_some() || namespace != Some(ns.as_str()) {
                    continue;
                }
            }
            let rules = self.binding_rules(b, &mut unknown);
            let (subjects, invalid) = resolve::subjects_of(b);
            let mut allowed = false;
            for rr in &rules {
                let Some(m) = matching::allows(rr.rule, &req) else {
                    continue;
                };
                allowed = true;
                for s in &subjects {
                    let mut holders = vec![(s.clone(), None)];
                    holders.extend(
                        known
                            .iter()
                            .filter_map(|sa| resolve::holds(sa, s).map(|via| (sa.clone(), via)))
                            .filter(|(_, via)| via.is_some()),
                    );
                    for (who, via) in holders {
                        grants.push(Grant {
                            subject: who,
                            via,
                            verb: m.verb.to_string(),
                            api_group: m.api_group.to_string(),
                            resource: m.resource.to_string(),
                            resource_names: rr.rule.resource_names.clone(),
                            non_resource_url: m.url.map(str::to_string),
                            namespace: b.namespace.clone(),
                            binding: b.describe(),
                            role: rr.role.clone(),
                            aggregated_from: rr.aggregated_from.clone(),
                            rule_index: rr.index,
                        });
                    }
                }
            }
            if allowed {
                unknown.extend(invalid.into_iter().map(|(_, note)| note));
            }
            if req.subresource.is_some() {
                note_literal_wildcards(&rules, Some(&req), &mut unknown);
            }
        }
        finish_analysis(grants, unknown)
    }

    /// ServiceAccounts the manifests know of: objects, and subjects of bindings.
    /// Every subject the manifests name: ServiceAccount objects and every subject of a
    /// binding (ServiceAccounts, Users, Groups), normalised, sorted. `trustc diff` compares
    /// the grants of each.
    pub fn subjects(&self) -> BTreeSet<Subject> {
        let mut all = self.known_service_accounts();
        for b in &self.bindings {
            let (subjects, _) = resolve::subjects_of(b);
            all.extend(subjects.iter().map(resolve::normalize));
        }
        all
    }

    fn known_service_accounts(&self) -> BTreeSet<Subject> {
        let mut known: BTreeSet<Subject> = self
            .service_accounts
            .iter()
            .map(|(ns, n)| Subject::service_account(ns, n))
            .collect();
        for b in &self.bindings {
            let (subjects, _) = resolve::subjects_of(b);
            known.extend(
                subjects
                    .iter()
                    .map(resolve::normalize)
                    .filter(|s| s.kind == SERVICE_ACCOUNT),
            );
        }
        known
    }
}

/// Notes rules listing `resource/*`, which Kubernetes does not read as a wildcard (for a
/// request, only those about its resource).
fn note_literal_wildcards(
    rules: &[resolve::RuleRef<'_>],
    req: Option<&Request<'_>>,
    unknown: &mut Vec<String>,
) {
    for rr in rules {
        for r in &rr.rule.resources {
            let Some(base) = r.strip_suffix("/*") else {
                continue;
            };
            if base == "*" || req.is_some_and(|q| q.resource.split('/').next() != Some(base)) {
                continue;
            }
            let holder = rr.aggregated_from.as_deref().unwrap_or(&rr.role);
            unknown.push(format!(
                "{holder} rules[{}] lists `{r}`: RBAC has no such wildcard, it matches no \
                 subresource of {base} (list them, or use `*/subresource`)",
                rr.index
            ));
        }
    }
}

/// Expands one rule into the grants `who` holds through `b`.
fn expand_rule(
    b: &BindingDef,
    rr: &resolve::RuleRef<'_>,
    who: &Subject,
    via: &Option<Subject>,
    out: &mut Vec<Grant>,
) {
    // Described once for all the rule's grants.
    let binding = b.describe();
    let grant = |verb: &str, api_group: &str, resource: &str, url: Option<&str>| Grant {
        subject: who.clone(),
        via: via.clone(),
        verb: verb.to_string(),
        api_group: api_group.to_string(),
        resource: resource.to_string(),
        resource_names: if url.is_some() {
            Vec::new()
        } else {
            rr.rule.resource_names.clone()
        },
        non_resource_url: url.map(str::to_string),
        namespace: b.namespace.clone(),
        binding: binding.clone(),
        role: rr.role.clone(),
        aggregated_from: rr.aggregated_from.clone(),
        rule_index: rr.index,
    };
    let rule = rr.rule;
    for verb in &rule.verbs {
        for group in &rule.api_groups {
            for resource in &rule.resources {
                out.push(grant(verb, group, resource, None));
            }
        }
        // Non-resource URLs are not namespaced: only a ClusterRoleBinding grants them.
        if b.namespace.is_none() {
            for url in &rule.non_resource_urls {
                out.push(grant(verb, "", "", Some(url)));
            }
        }
    }
}

/// Sorts and deduplicates grants and unknowns.
fn finish_analysis(mut grants: Vec<Grant>, mut unknown: Vec<String>) -> Analysis {
    grants.sort_by(grant_order);
    grants.dedup();
    unknown.sort();
    unknown.dedup();
    Analysis { grants, unknown }
}

/// The order of grants: subject, scope (cluster-wide first), resource, verb (kubectl order),
/// then provenance.
fn grant_order(a: &Grant, b: &Grant) -> Ordering {
    fn what(g: &Grant) -> (&Subject, &Option<String>, &Option<String>, &str, &str) {
        (
            &g.subject,
            &g.namespace,
            &g.non_resource_url,
            &g.api_group,
            &g.resource,
        )
    }
    type Provenance<'a> = (
        &'a [String],
        &'a str,
        &'a str,
        &'a Option<String>,
        usize,
        &'a Option<Subject>,
    );
    fn provenance(g: &Grant) -> Provenance<'_> {
        (
            &g.resource_names,
            &g.binding,
            &g.role,
            &g.aggregated_from,
            g.rule_index,
            &g.via,
        )
    }
    what(a)
        .cmp(&what(b))
        .then_with(|| render::verb_rank(&a.verb).cmp(&render::verb_rank(&b.verb)))
        .then_with(|| a.verb.cmp(&b.verb))
        .then_with(|| provenance(a).cmp(&provenance(b)))
}
