//! Offline RBAC analysis (`trustc::access`) on hand-written manifest trees under
//! `tests/fixtures/access/`.

use std::path::PathBuf;

use trustc::access::{
    Analysis, Manifests, Subject, parse_resource, render_access_table, render_who_can,
};

use crate::support;

const RBAC: &str = "rbac.authorization.k8s.io";

fn fixture(name: &str) -> PathBuf {
    support::root().join("tests/fixtures/access").join(name)
}

fn load(name: &str) -> Manifests {
    Manifests::load_dir(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// `ServiceAccount ns/name` of every grant, in order.
fn who(a: &Analysis) -> Vec<String> {
    a.grants.iter().map(|g| g.subject.to_string()).collect()
}

fn who_can(m: &Manifests, verb: &str, resource: &str, ns: Option<&str>) -> Analysis {
    let (group, resource) = parse_resource(resource);
    m.who_can(verb, &group, &resource, ns)
}

#[test]
fn cluster_admin_service_account_can_bind_anything() {
    let m = load("cluster-admin");
    assert_eq!(
        m.service_accounts().collect::<Vec<_>>(),
        [("evil", "attacker"), ("evil", "bystander")]
    );

    let a = m.who_can("create", RBAC, "clusterrolebindings", None);
    assert_eq!(who(&a), ["ServiceAccount evil/attacker"]);
    let g = &a.grants[0];
    assert_eq!(g.binding, "ClusterRoleBinding attacker-is-admin");
    assert_eq!(g.role, "ClusterRole cluster-admin");
    assert_eq!(
        (g.verb.as_str(), g.api_group.as_str(), g.resource.as_str()),
        ("*", "*", "*")
    );
    assert_eq!(g.namespace, None);
    assert!(a.unknown.is_empty(), "{:?}", a.unknown);
    // The same through kubectl's spelling, and in any namespace.
    assert_eq!(
        who(&who_can(&m, "create", "clusterrolebindings", None)),
        who(&a)
    );
    assert_eq!(
        who(&who_can(&m, "get", "secrets", Some("kube-system"))),
        ["ServiceAccount evil/attacker"]
    );
    // The bystander only reads configmaps in `evil`.
    assert_eq!(
        who(&who_can(&m, "list", "configmaps", Some("evil"))),
        [
            "ServiceAccount evil/attacker",
            "ServiceAccount evil/bystander"
        ]
    );

    let mine = m.grants_of(&Subject::service_account("evil", "attacker"));
    let all: Vec<_> = mine
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
    let table = render_access_table(&mine);
    assert!(table.starts_with("Cluster-wide"), "{table}");
    assert!(table.contains("\n  *.*       ✔    ✔"), "{table}");
    assert!(
        table
            .lines()
            .all(|l| l.starts_with("✔ allowed") || !l.contains('✖')),
        "{table}"
    );

    let lines = render_who_can(&a);
    assert_eq!(
        lines,
        "ServiceAccount evil/attacker  via ClusterRoleBinding attacker-is-admin → ClusterRole \
         cluster-admin rules[0]  (cluster-wide)  [* *.*]\n"
    );
    let json = serde_json::to_value(&a).unwrap();
    assert_eq!(json["grants"][0]["subject"]["name"], "attacker");
    assert_eq!(
        json["grants"][0]["binding"],
        "ClusterRoleBinding attacker-is-admin"
    );
}

#[test]
fn tenant_role_stays_in_its_namespace() {
    let m = load("tenant");
    let payments = Subject::service_account("payments", "tenant-payments");

    assert_eq!(
        who(&who_can(&m, "create", "deployments.apps", Some("payments"))),
        ["ServiceAccount payments/tenant-payments"]
    );
    assert_eq!(
        who(&who_can(&m, "create", "deployments.apps", Some("other"))),
        ["ServiceAccount other/tenant-other"]
    );
    assert!(
        who_can(&m, "create", "deployments.apps", Some("kube-system"))
            .grants
            .is_empty()
    );
    // Cluster-wide (all namespaces), nobody.
    assert!(
        who_can(&m, "list", "deployments.apps", None)
            .grants
            .is_empty()
    );
    // Escalation paths: none.
    assert!(
        who_can(&m, "create", "clusterrolebindings", None)
            .grants
            .is_empty()
    );
    // The namespace of a cluster-scoped request does not matter.
    assert!(
        who_can(&m, "create", "clusterrolebindings", Some("payments"))
            .grants
            .is_empty()
    );
    assert!(
        who_can(&m, "create", "rolebindings", Some("payments"))
            .grants
            .is_empty()
    );
    // Services only in payments; no subresources granted.
    assert_eq!(
        who(&who_can(&m, "delete", "services", Some("other"))),
        Vec::<String>::new()
    );
    assert!(
        who_can(&m, "update", "deployments.apps/scale", Some("payments"))
            .grants
            .is_empty()
    );

    let mine = m.grants_of(&payments);
    assert!(mine.unknown.is_empty(), "{:?}", mine.unknown);
    // 7 verbs × 2 resources, all in payments, all through the one binding.
    assert_eq!(mine.grants.len(), 14);
    assert!(
        mine.grants
            .iter()
            .all(|g| g.namespace.as_deref() == Some("payments")
                && g.binding == "RoleBinding payments/tenant-reconciler"
                && g.role == "Role payments/tenant-reconciler"
                && g.via.is_none())
    );
    let rules: Vec<_> = mine
        .grants
        .iter()
        .map(|g| (g.resource.as_str(), g.rule_index))
        .collect();
    assert!(rules.contains(&("deployments", 0)) && rules.contains(&("services", 1)));
    let table = render_access_table(&mine);
    assert!(table.starts_with("Namespace payments:\n"), "{table}");
    assert!(
        table.contains("  deployments.apps  ✔    ✔     ✔      ✔       ✔       ✔      ✔       ✖\n"),
        "{table}"
    );
    assert!(table.contains("  services          ✔"), "{table}");
    assert!(!table.contains("Cluster-wide"), "{table}");
}

#[test]
fn aggregated_cluster_role_holds_only_selected_rules() {
    let m = load("aggregated");
    let agent = "ServiceAccount obs/agent";

    let a = who_can(&m, "get", "pods/log", Some("anywhere"));
    assert_eq!(who(&a), [agent]);
    let g = &a.grants[0];
    assert_eq!(g.role, "ClusterRole monitoring");
    assert_eq!(
        g.aggregated_from.as_deref(),
        Some("ClusterRole monitoring-pods")
    );
    assert_eq!(g.rule_index, 0);
    assert_eq!(g.resource, "pods/log");
    assert!(a.unknown.is_empty(), "{:?}", a.unknown);
    assert_eq!(who(&who_can(&m, "watch", "pods", None)), [agent]);
    // `monitoring-secrets` is labelled "false": not aggregated.
    assert!(who_can(&m, "get", "secrets", Some("obs")).grants.is_empty());
    assert!(who_can(&m, "delete", "pods", Some("obs")).grants.is_empty());

    let mine = m.grants_of(&Subject::service_account("obs", "agent"));
    // 3 verbs × 2 resources.
    assert_eq!(mine.grants.len(), 6);
    assert!(mine.grants.iter().all(|g| g.resource != "secrets"));
    let lines = render_who_can(&a);
    assert!(
        lines.contains(
            "→ ClusterRole monitoring, aggregated from ClusterRole monitoring-pods rules[0]"
        ),
        "{lines}"
    );
}

#[test]
fn binding_to_builtin_admin_is_reported_unknown() {
    let m = load("builtin-admin");
    let tenant = Subject::service_account("payments", "tenant");
    let expected = "RoleBinding payments/tenant-admin refers to ClusterRole `admin`, which is \
                    built in: its rules are not in the manifests";

    let mine = m.grants_of(&tenant);
    assert!(mine.grants.is_empty(), "{:?}", mine.grants);
    assert_eq!(mine.unknown, [expected]);
    let table = render_access_table(&mine);
    assert!(table.contains(&format!("  - {expected}\n")), "{table}");

    // Whatever is asked in payments, the answer is incomplete by that binding…
    let a = who_can(&m, "delete", "pods", Some("payments"));
    assert!(a.grants.is_empty());
    assert_eq!(a.unknown, [expected]);
    // …but not elsewhere, nor cluster-wide: a RoleBinding cannot reach there.
    assert!(
        who_can(&m, "delete", "pods", Some("other"))
            .unknown
            .is_empty()
    );
    assert!(
        who_can(&m, "create", "clusterrolebindings", None)
            .unknown
            .is_empty()
    );
}

#[test]
fn whole_tree_loads_deterministically() {
    let root = fixture("");
    let one = Manifests::load_dir(&root).unwrap();
    let two = Manifests::load_dir(&root).unwrap();
    let q = |m: &Manifests| m.who_can("get", "", "pods", Some("payments"));
    assert_eq!(q(&one), q(&two));
    assert_eq!(
        who(&q(&one)),
        ["ServiceAccount evil/attacker", "ServiceAccount obs/agent"]
    );
    assert_eq!(one.service_accounts().count(), 6);
    assert_eq!(render_who_can(&q(&one)), render_who_can(&q(&two)));

    let missing = Manifests::load_dir(&fixture("no-such-dir"));
    assert!(missing.is_err());
}
