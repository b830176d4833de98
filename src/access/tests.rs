//! Unit tests of the tricky parts: matching, subjects, aggregation, built-in roles, loading,
//! rendering.

use super::load::Rule;
use super::matching::{Request, allows, resource_matches, url_matches};
use super::*;

fn manifests(yaml: &str) -> Manifests {
    Manifests::from_texts([("test.yaml", yaml)]).expect("valid YAML")
}

fn subjects(a: &Analysis) -> Vec<String> {
    a.grants
        .iter()
        .map(|g| match &g.via {
            Some(via) => format!("{} via {via}", g.subject),
            None => g.subject.to_string(),
        })
        .collect()
}

fn rule(verbs: &[&str], groups: &[&str], resources: &[&str], names: &[&str]) -> Rule {
    let v = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect();
    Rule {
        verbs: v(verbs),
        api_groups: v(groups),
        resources: v(resources),
        resource_names: v(names),
        non_resource_urls: Vec::new(),
    }
}

const SA_TENANT: &str = "
apiVersion: v1
kind: ServiceAccount
metadata: {name: tenant, namespace: payments}
";

#[test]
fn resource_wildcards_follow_rbac() {
    assert!(resource_matches("*", "pods/exec", Some("exec")));
    assert!(resource_matches("*", "pods", None));
    assert!(resource_matches("pods/exec", "pods/exec", Some("exec")));
    assert!(resource_matches(
        "*/scale",
        "deployments/scale",
        Some("scale")
    ));
    assert!(!resource_matches("*/scale", "deployments", None));
    assert!(!resource_matches(
        "*/scale",
        "deployments/status",
        Some("status")
    ));
    // Kubernetes has no `resource/*` wildcard.
    assert!(!resource_matches("pods/*", "pods/exec", Some("exec")));
    assert!(!resource_matches("pods", "pods/exec", Some("exec")));
    assert!(!resource_matches("pods/exec", "pods", None));
}

#[test]
fn url_wildcards_follow_rbac() {
    assert!(url_matches("*", "/healthz"));
    assert!(url_matches("/healthz", "/healthz"));
    assert!(url_matches("/api/*", "/api/v1/namespaces"));
    assert!(url_matches("/api*", "/apis"));
    assert!(!url_matches("/healthz", "/healthz/ready"));
    assert!(!url_matches("/api/*", "/apis/apps"));
}

#[test]
fn rule_matching_needs_verb_group_and_resource() {
    let r = rule(&["get", "create"], &["apps"], &["deployments"], &[]);
    let m = allows(&r, &Request::new("create", "apps", "deployments")).unwrap();
    assert_eq!(
        (m.verb, m.api_group, m.resource),
        ("create", "apps", "deployments")
    );
    assert!(allows(&r, &Request::new("delete", "apps", "deployments")).is_none());
    assert!(allows(&r, &Request::new("create", "", "deployments")).is_none());
    assert!(allows(&r, &Request::new("create", "apps", "deployments/scale")).is_none());
    let all = rule(&["*"], &["*"], &["*"], &[]);
    let m = allows(
        &all,
        &Request::new("escalate", "rbac.authorization.k8s.io", "roles"),
    )
    .unwrap();
    assert_eq!((m.verb, m.api_group, m.resource), ("*", "*", "*"));
    let no_groups = rule(&["*"], &[], &["*"], &[]);
    assert!(allows(&no_groups, &Request::new("get", "", "pods")).is_none());
}

#[test]
fn resource_names_never_allow_nameless_requests() {
    let r = rule(&["*"], &[""], &["configmaps", "pods/exec"], &["cfg"]);
    assert!(allows(&r, &Request::new("get", "", "configmaps")).is_some());
    assert!(allows(&r, &Request::new("create", "", "configmaps")).is_none());
    assert!(allows(&r, &Request::new("deletecollection", "", "configmaps")).is_none());
    // A subresource request names its object.
    assert!(allows(&r, &Request::new("create", "", "pods/exec")).is_some());
}

#[test]
fn parse_resource_spellings() {
    let p = |s: &str| {
        let (g, r) = parse_resource(s);
        (g, r)
    };
    let pair = |g: &str, r: &str| (g.to_string(), r.to_string());
    assert_eq!(p("deployments.apps"), pair("apps", "deployments"));
    assert_eq!(
        p("deployments.apps/scale"),
        pair("apps", "deployments/scale")
    );
    assert_eq!(p("pods/exec"), pair("", "pods/exec"));
    assert_eq!(p("pods"), pair("", "pods"));
    assert_eq!(
        p("clusterrolebindings"),
        pair("rbac.authorization.k8s.io", "clusterrolebindings")
    );
    assert_eq!(p("deployments"), pair("apps", "deployments"));
    assert_eq!(p("deployments/scale"), pair("apps", "deployments/scale"));
    assert_eq!(p("Deployment"), pair("apps", "deployments"));
    assert_eq!(
        p("ingresses.networking.k8s.io"),
        pair("networking.k8s.io", "ingresses")
    );
    assert_eq!(p("widgets"), pair("", "widgets"));
    assert_eq!(p("/healthz"), pair("", "/healthz"));
}

#[test]
fn rolebinding_to_clusterrole_grants_only_in_its_namespace() {
    let m = manifests(
        "
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: secrets-reader}
rules:
- {apiGroups: [''], resources: [secrets], verbs: [get]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: read, namespace: payments}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: secrets-reader}
subjects:
- {kind: ServiceAccount, name: tenant, namespace: payments}
",
    );
    let a = m.who_can("get", "", "secrets", Some("payments"));
    assert_eq!(subjects(&a), ["ServiceAccount payments/tenant"]);
    let g = &a.grants[0];
    assert_eq!(g.namespace.as_deref(), Some("payments"));
    assert_eq!(g.binding, "RoleBinding payments/read");
    assert_eq!(g.role, "ClusterRole secrets-reader");
    assert_eq!(g.rule_index, 0);
    assert!(
        m.who_can("get", "", "secrets", Some("other"))
            .grants
            .is_empty()
    );
    assert!(m.who_can("get", "", "secrets", None).grants.is_empty());
    let mine = m.grants_of(&Subject::service_account("payments", "tenant"));
    assert_eq!(mine.grants.len(), 1);
    assert_eq!(mine.grants[0].namespace.as_deref(), Some("payments"));
    assert!(mine.unknown.is_empty(), "{:?}", mine.unknown);
}

#[test]
fn service_account_namespace_defaults_in_rolebindings_only() {
    let m = manifests(
        "
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: r, namespace: payments}
rules:
- {apiGroups: [''], resources: [configmaps], verbs: [get]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: rb, namespace: payments}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: r}
subjects:
- {kind: ServiceAccount, name: tenant}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: c}
rules:
- {apiGroups: [''], resources: [nodes], verbs: [get]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: crb}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: c}
subjects:
- {kind: ServiceAccount, name: tenant}
",
    );
    let a = m.grants_of(&Subject::service_account("payments", "tenant"));
    let what: Vec<_> = a.grants.iter().map(|g| g.resource.as_str()).collect();
    assert_eq!(what, ["configmaps"]);
    assert_eq!(a.unknown.len(), 1, "{:?}", a.unknown);
    assert!(
        a.unknown[0]
            .contains("ClusterRoleBinding crb names ServiceAccount `tenant` without a namespace")
    );
    let nodes = m.who_can("get", "", "nodes", None);
    assert!(nodes.grants.is_empty());
    assert_eq!(nodes.unknown.len(), 1);
}

#[test]
fn service_accounts_hold_group_and_user_bindings() {
    let m = manifests(&format!(
        "{SA_TENANT}
---
apiVersion: v1
kind: ServiceAccount
metadata: {{name: other, namespace: elsewhere}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {{name: c}}
rules:
- {{apiGroups: [''], resources: [nodes], verbs: [list]}}
- {{apiGroups: [''], resources: [namespaces], verbs: [list]}}
- {{apiGroups: [''], resources: [persistentvolumes], verbs: [list]}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {{name: ns-group}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: c}}
subjects:
- {{kind: Group, name: 'system:serviceaccounts:payments'}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {{name: as-user}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: c}}
subjects:
- {{kind: User, name: 'system:serviceaccount:payments:tenant'}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {{name: everyone}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: c}}
subjects:
- {{kind: Group, name: 'system:authenticated'}}
"
    ));
    let a = m.who_can("list", "", "nodes", None);
    assert_eq!(
        subjects(&a),
        [
            "Group system:authenticated",
            "Group system:serviceaccounts:payments",
            "ServiceAccount elsewhere/other via Group system:authenticated",
            // Ordered by binding: as-user, everyone, ns-group.
            "ServiceAccount payments/tenant via User system:serviceaccount:payments:tenant",
            "ServiceAccount payments/tenant via Group system:authenticated",
            "ServiceAccount payments/tenant via Group system:serviceaccounts:payments",
            "User system:serviceaccount:payments:tenant",
        ]
    );
    let mine = m.grants_of(&Subject::service_account("payments", "tenant"));
    // 3 rules × 3 bindings.
    assert_eq!(mine.grants.len(), 9);
    assert!(mine.grants.iter().all(|g| g.via.is_some()));
    let other = m.grants_of(&Subject::service_account("elsewhere", "other"));
    assert_eq!(other.grants.len(), 3);
    assert!(
        other
            .grants
            .iter()
            .all(|g| g.binding == "ClusterRoleBinding everyone")
    );
    // A user is authenticated, but not a service account.
    let alice = m.grants_of(&Subject::user("alice"));
    assert_eq!(alice.grants.len(), 3);
    // Asking for the user name of a service account is asking for the service account.
    let same = m.grants_of(&Subject::user("system:serviceaccount:payments:tenant"));
    assert_eq!(same, mine);
}

#[test]
fn aggregation_is_transitive_selective_and_acyclic() {
    let m = manifests(
        "
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: top}
aggregationRule:
  clusterRoleSelectors:
  - matchLabels: {agg/top: 'true'}
rules:
- {apiGroups: ['*'], resources: ['*'], verbs: ['*']}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: middle, labels: {agg/top: 'true', agg/middle: 'true'}}
aggregationRule:
  clusterRoleSelectors:
  - matchExpressions:
    - {key: agg/middle, operator: In, values: ['yes']}
    - {key: agg/excluded, operator: DoesNotExist}
  - matchExpressions:
    - {key: agg/weird, operator: Near}
rules: []
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: leaf, labels: {agg/middle: 'yes'}}
rules:
- {apiGroups: [''], resources: [pods], verbs: [get]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: excluded, labels: {agg/middle: 'yes', agg/excluded: x}}
rules:
- {apiGroups: [''], resources: [secrets], verbs: [get]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: direct, labels: {agg/top: true}}
rules:
- {apiGroups: [''], resources: [configmaps], verbs: [list]}
- {apiGroups: [''], resources: [services], verbs: [list]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: b}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: top}
subjects:
- {kind: User, name: alice}
",
    );
    let a = m.grants_of(&Subject::user("alice"));
    let got: Vec<_> = a
        .grants
        .iter()
        .map(|g| {
            (
                g.resource.as_str(),
                g.role.as_str(),
                g.aggregated_from.as_deref().unwrap(),
                g.rule_index,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("configmaps", "ClusterRole top", "ClusterRole direct", 0),
            ("pods", "ClusterRole top", "ClusterRole leaf", 0),
            ("services", "ClusterRole top", "ClusterRole direct", 1),
        ]
    );
    // top's own `*` rule is replaced by the aggregation controller, and said so; so is the
    // unknown operator.
    assert_eq!(a.unknown.len(), 2, "{:?}", a.unknown);
    assert!(
        a.unknown
            .iter()
            .any(|u| u.contains("replaces its own 1 rule"))
    );
    assert!(a.unknown.iter().any(|u| u.contains("operator `Near`")));
    assert!(m.who_can("get", "", "secrets", None).grants.is_empty());
}

#[test]
fn aggregation_cycles_terminate() {
    let m = manifests(
        "
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: a, labels: {x: a}}
aggregationRule: {clusterRoleSelectors: [{matchLabels: {x: b}}]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: b, labels: {x: b}}
aggregationRule: {clusterRoleSelectors: [{matchLabels: {x: a}}, {matchLabels: {x: c}}]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: c, labels: {x: c}}
rules: [{apiGroups: [''], resources: [pods], verbs: [get]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: bind}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: a}
subjects: [{kind: Group, name: g}]
",
    );
    let a = m.who_can("get", "", "pods", Some("any"));
    assert_eq!(subjects(&a), ["Group g"]);
    assert_eq!(
        a.grants[0].aggregated_from.as_deref(),
        Some("ClusterRole c")
    );
}

#[test]
fn builtin_roles_are_known_or_reported() {
    let m = manifests(
        "
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: widgets-edit
  labels: {rbac.authorization.k8s.io/aggregate-to-edit: 'true'}
rules:
- {apiGroups: [example.com], resources: [widgets], verbs: [create]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: team-admin, namespace: team}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: admin}
subjects: [{kind: Group, name: team}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: team-view, namespace: team}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
subjects: [{kind: Group, name: team}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: team-sys, namespace: team}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: 'system:aggregate-to-edit'}
subjects: [{kind: Group, name: team}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: team-mine, namespace: team}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: admin}
subjects: [{kind: Group, name: team}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: root}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects: [{kind: User, name: root}]
",
    );
    let team = m.grants_of(&Subject::group("team"));
    // admin ⊇ edit: the manifests' extension of edit is part of admin.
    assert_eq!(team.grants.len(), 1);
    let g = &team.grants[0];
    assert_eq!(
        (g.verb.as_str(), g.resource.as_str(), g.role.as_str()),
        ("create", "widgets", "ClusterRole admin")
    );
    assert_eq!(
        g.aggregated_from.as_deref(),
        Some("ClusterRole widgets-edit")
    );
    assert_eq!(g.namespace.as_deref(), Some("team"));
    let expected = [
        "RoleBinding team/team-admin refers to ClusterRole `admin`, which is built in: its rules \
         are not in the manifests (only what the manifests aggregate into it is analysed: \
         `ClusterRole widgets-edit`)",
        "RoleBinding team/team-mine refers to Role `team/admin`, which is not in the manifests: \
         it grants nothing until it exists, then whatever it says",
        "RoleBinding team/team-sys refers to ClusterRole `system:aggregate-to-edit`, which is \
         built in: its rules are not in the manifests",
        "RoleBinding team/team-view refers to ClusterRole `view`, which is built in: its rules \
         are not in the manifests",
    ];
    assert_eq!(team.unknown, expected);

    let root = m.grants_of(&Subject::user("root"));
    let all: Vec<_> = root
        .grants
        .iter()
        .map(|g| {
            (
                g.verb.as_str(),
                g.api_group.as_str(),
                g.resource.as_str(),
                g.non_resource_url.as_deref(),
                g.namespace.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        all,
        [("*", "*", "*", None, None), ("*", "", "", Some("*"), None)]
    );
    assert!(root.unknown.is_empty());
    assert_eq!(
        subjects(&m.who_can("get", "", "/healthz", None)),
        ["User root"]
    );
    // RoleBindings never reach non-resource URLs nor cluster-scoped requests.
    let crb = m.who_can(
        "create",
        "rbac.authorization.k8s.io",
        "clusterrolebindings",
        None,
    );
    assert_eq!(subjects(&crb), ["User root"]);
    assert!(crb.unknown.is_empty(), "{:?}", crb.unknown);
    // In `team`, the built-in roles might allow anything: they are reported.
    let in_team = m.who_can("delete", "", "pods", Some("team"));
    assert_eq!(subjects(&in_team), ["User root"]);
    assert_eq!(in_team.unknown.len(), 4);
}

#[test]
fn literal_subresource_wildcards_are_reported() {
    let m = manifests(
        "
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: r, namespace: ns}
rules:
- {apiGroups: [''], resources: ['pods/*'], verbs: [create]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: rb, namespace: ns}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: r}
subjects: [{kind: User, name: u}]
",
    );
    let a = m.who_can("create", "", "pods/exec", Some("ns"));
    assert!(a.grants.is_empty());
    assert_eq!(a.unknown.len(), 1);
    assert!(a.unknown[0].starts_with("Role ns/r rules[0] lists `pods/*`"));
    assert!(
        m.who_can("create", "", "services/proxy", Some("ns"))
            .unknown
            .is_empty()
    );
    assert_eq!(m.grants_of(&Subject::user("u")).unknown.len(), 1);
}

#[test]
fn loading_skips_what_is_not_rbac_and_notes_what_it_cannot_place() {
    let m = Manifests::from_texts([
        (
            "base/kustomization.yaml",
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [rbac.yaml]\n",
        ),
        ("empty.yaml", "---\n# nothing\n---\n- a\n- list\n---\njust: a map\n"),
        (
            "list.yaml",
            "
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ServiceAccount
  metadata: {name: a, namespace: x}
- apiVersion: rbac.authorization.k8s.io/v1
  kind: Role
  metadata: {name: no-namespace}
- apiVersion: example.com/v1
  kind: Role
  metadata: {name: not-rbac, namespace: x}
",
        ),
        (
            "dup-1.yaml",
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: d}\n",
        ),
        (
            "dup-2.yaml",
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: d}\n",
        ),
    ])
    .unwrap();
    assert_eq!(m.service_accounts().collect::<Vec<_>>(), [("x", "a")]);
    assert_eq!(m.roles.len(), 2);
    assert_eq!(m.notes.len(), 2, "{:?}", m.notes);
    // Load notes are part of every analysis.
    let notes = m.who_can("get", "", "pods", None).unknown;
    assert_eq!(notes.len(), 2, "{notes:?}");
    assert!(
        notes[0]
            .starts_with("ClusterRole d is defined more than once (`dup-1.yaml`, `dup-2.yaml`)")
    );
    assert!(notes[1].starts_with("Role `no-namespace` in `list.yaml` has no metadata.namespace"));

    let err = Manifests::from_texts([("bad.yaml", "a: [unclosed\n")]).unwrap_err();
    assert!(
        matches!(&err, AccessError::Yaml { file, .. } if file == "bad.yaml"),
        "{err}"
    );
}

#[test]
fn analyses_are_deterministic() {
    let a = "
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: c}
rules:
- {apiGroups: ['', apps], resources: [pods, deployments], verbs: [watch, get, delete]}
";
    let b = "
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: z}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: c}
subjects: [{kind: User, name: u}, {kind: Group, name: 'system:authenticated'}]
";
    let one = Manifests::from_texts([("a.yaml", a), ("b.yaml", b)]).unwrap();
    let two = Manifests::from_texts([("b.yaml", b), ("a.yaml", a)]).unwrap();
    let u = Subject::user("u");
    assert_eq!(one.grants_of(&u), two.grants_of(&u));
    let grants = one.grants_of(&u).grants;
    // 3 verbs × 2 groups × 2 resources, through 2 subjects.
    assert_eq!(grants.len(), 24);
    let first: Vec<_> = grants
        .iter()
        .take(3)
        .map(|g| (g.api_group.as_str(), g.resource.as_str(), g.verb.as_str()))
        .collect();
    assert_eq!(
        first,
        [
            ("", "deployments", "get"),
            ("", "deployments", "get"),
            ("", "deployments", "watch")
        ]
    );
    assert_eq!(
        one.who_can("get", "apps", "deployments", Some("x")),
        two.who_can("get", "apps", "deployments", Some("x"))
    );
}

#[test]
fn table_marks_verbs_names_and_scopes() {
    let m = manifests(
        "
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: r, namespace: payments}
rules:
- {apiGroups: [apps], resources: [deployments], verbs: [get, create]}
- {apiGroups: [''], resources: [configmaps], verbs: [update], resourceNames: [settings]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: rb, namespace: payments}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: r}
subjects: [{kind: ServiceAccount, name: tenant, namespace: payments}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: c}
rules:
- {apiGroups: [''], resources: [namespaces], verbs: ['*']}
- {nonResourceURLs: [/healthz, /livez], verbs: [get]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: crb}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: c}
subjects: [{kind: ServiceAccount, name: tenant, namespace: payments}]
",
    );
    let table = render_access_table(&m.grants_of(&Subject::service_account("payments", "tenant")));
    let expected = "\
Cluster-wide (every namespace and the cluster-scoped resources):
  RESOURCE    get  list  watch  create  update  patch  delete  deletecollection  bind  escalate  impersonate
  namespaces  ✔    ✔     ✔      ✔       ✔       ✔      ✔       ✔                 ✔     ✔         ✔
  NON-RESOURCE URL  VERBS
  /healthz          get
  /livez            get

Namespace payments:
  RESOURCE          get  list  watch  create  update  patch  delete  deletecollection
  configmaps        ✖    ✖     ✖      ✖       ~       ✖      ✖       ✖
  deployments.apps  ✔    ✖     ✖      ✔       ✖       ✖      ✖       ✖
  ~ configmaps update: only settings

✔ allowed  ✖ not allowed  ~ only the named objects
";
    assert_eq!(table, expected);
    assert_eq!(
        render_access_table(&Analysis::default()),
        "No access granted by the manifests.\n"
    );
}

#[test]
fn who_can_lines_carry_provenance() {
    let m = manifests(
        "
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: agg}
aggregationRule: {clusterRoleSelectors: [{matchLabels: {a: 'yes'}}]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: part, labels: {a: 'yes'}}
rules:
- {apiGroups: [''], resources: [pods], verbs: [list]}
- {apiGroups: [''], resources: [secrets], verbs: [get], resourceNames: [tls]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: crb}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: agg}
subjects: [{kind: Group, name: 'system:serviceaccounts'}]
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: sa, namespace: ns}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: rb, namespace: ns}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: edit}
subjects: [{kind: User, name: bob}]
",
    );
    let out = render_who_can(&m.who_can("get", "", "secrets", Some("ns")));
    let expected = "\
Group system:serviceaccounts                            via ClusterRoleBinding crb → ClusterRole agg, aggregated from ClusterRole part rules[1]  (cluster-wide)  [get secrets named tls]
ServiceAccount ns/sa (as Group system:serviceaccounts)  via ClusterRoleBinding crb → ClusterRole agg, aggregated from ClusterRole part rules[1]  (cluster-wide)  [get secrets named tls]

Not decidable from the manifests:
  - RoleBinding ns/rb refers to ClusterRole `edit`, which is built in: its rules are not in the manifests
";
    assert_eq!(out, expected);
    assert_eq!(
        render_who_can(&Analysis::default()),
        "No subject in the manifests is granted this.\n"
    );
}

#[test]
fn json_shape() {
    let m = manifests(
        "
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: crb}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects: [{kind: ServiceAccount, name: x, namespace: y}]
",
    );
    let a = m.who_can("get", "", "pods", None);
    let v = serde_json::to_value(&a).unwrap();
    let g = &v["grants"][0];
    assert_eq!(g["subject"]["kind"], "ServiceAccount");
    assert_eq!(g["subject"]["namespace"], "y");
    assert_eq!(g["binding"], "ClusterRoleBinding crb");
    assert_eq!(g["role"], "ClusterRole cluster-admin");
    assert_eq!(g["namespace"], serde_json::Value::Null);
    assert_eq!(g["rule_index"], 0);
    assert_eq!(v["unknown"], serde_json::json!([]));
}

#[cfg(unix)]
#[test]
fn loading_a_directory_follows_no_link_and_reads_no_huge_file() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(
        outside.path().join("escalate.yaml"),
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n  name: evil\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n  name: cluster-admin\nsubjects:\n- kind: ServiceAccount\n  name: x\n  namespace: y\n",
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(
        outside.path().join("escalate.yaml"),
        dir.path().join("a.yaml"),
    )
    .unwrap();
    std::os::unix::fs::symlink(outside.path(), dir.path().join("sub")).unwrap();
    let m = Manifests::load_dir(dir.path()).unwrap();
    assert!(m.bindings.is_empty(), "links are not followed");
    // A file over the bound is an error, not a read that exhausts memory.
    let big = std::fs::File::create(dir.path().join("big.yaml")).unwrap();
    big.set_len(load::MAX_MANIFEST_FILE + 1).unwrap();
    let err = Manifests::load_dir(dir.path()).unwrap_err().to_string();
    assert!(
        err.contains("big.yaml") && err.contains("not read"),
        "{err}"
    );
}
