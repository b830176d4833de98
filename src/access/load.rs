//! Reading manifests: the file tree, the YAML documents, and the RBAC objects in them.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

use serde_json::{Map, Value};

use super::{AccessError, Manifests};

const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

/// One PolicyRule, every list as written.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Rule {
    pub(crate) verbs: Vec<String>,
    pub(crate) api_groups: Vec<String>,
    pub(crate) resources: Vec<String>,
    pub(crate) resource_names: Vec<String>,
    pub(crate) non_resource_urls: Vec<String>,
}

/// One `matchExpressions` requirement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Requirement {
    pub(crate) key: String,
    pub(crate) operator: String,
    pub(crate) values: Vec<String>,
}

/// A label selector of an aggregation rule.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Selector {
    pub(crate) match_labels: BTreeMap<String, String>,
    pub(crate) match_expressions: Vec<Requirement>,
}

/// A Role (`namespace` set) or a ClusterRole.
#[derive(Clone, Debug)]
pub(crate) struct RoleDef {
    pub(crate) namespace: Option<String>,
    pub(crate) name: String,
    pub(crate) labels: BTreeMap<String, String>,
    pub(crate) rules: Vec<Rule>,
    /// `aggregationRule.clusterRoleSelectors` of a ClusterRole.
    pub(crate) aggregation: Option<Vec<Selector>>,
    pub(crate) file: String,
}

impl RoleDef {
    pub(crate) fn is_cluster(&self) -> bool {
        self.namespace.is_none()
    }

    /// `Role ns/name` or `ClusterRole name`.
    pub(crate) fn describe(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("Role {ns}/{}", self.name),
            None => format!("ClusterRole {}", self.name),
        }
    }
}

/// A subject as written in a binding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RawSubject {
    pub(crate) kind: String,
    pub(crate) name: String,
    pub(crate) namespace: Option<String>,
}

/// A RoleBinding (`namespace` set) or a ClusterRoleBinding.
#[derive(Clone, Debug)]
pub(crate) struct BindingDef {
    pub(crate) namespace: Option<String>,
    pub(crate) name: String,
    pub(crate) role_kind: String,
    pub(crate) role_name: String,
    pub(crate) subjects: Vec<RawSubject>,
    pub(crate) file: String,
}

impl BindingDef {
    /// `RoleBinding ns/name` or `ClusterRoleBinding name`.
    pub(crate) fn describe(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("RoleBinding {ns}/{}", self.name),
            None => format!("ClusterRoleBinding {}", self.name),
        }
    }
}

/// Every `*.yaml` / `*.yml` file under `root` (or `root` itself when it is a file): (path
/// relative to `root` with `/` separators, text), in name order. Hidden directories are skipped;
/// symbolic links, FIFOs and devices are never followed or read (a directory of manifests
/// may come from an untrusted pull request), and a file over [`MAX_MANIFEST_FILE`] bytes is
/// an error rather than a read that exhausts memory.
/// The largest manifest file `access` and `who-can` read (the bound trustc's own outputs
/// have too).
pub(crate) const MAX_MANIFEST_FILE: u64 = 8 << 20;

pub(crate) fn read_tree(root: &Path) -> Result<Vec<(String, String)>, AccessError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| AccessError::Io { path, source }
    };
    let read = |path: &Path, len: u64| -> Result<String, AccessError> {
        if len > MAX_MANIFEST_FILE {
            return Err(AccessError::Io {
                path: path.to_path_buf(),
                source: std::io::Error::other(format!(
                    "larger than {MAX_MANIFEST_FILE} bytes: not read"
                )),
            });
        }
        fs::read_to_string(path).map_err(io(path))
    };
    let meta = fs::metadata(root).map_err(io(root))?;
    if meta.is_file() {
        let text = read(root, meta.len())?;
        return Ok(vec![(root.display().to_string(), text)]);
    }
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let mut entries = fs::read_dir(&dir)
            .map_err(io(&dir))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(io(&dir))?;
        entries.sort_by_key(|e| e.file_name());
        let mut subdirs = Vec::new();
        for entry in entries {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            let file_type = entry.file_type().map_err(io(&path))?;
            if file_type.is_dir() {
                if !name.starts_with('.') {
                    subdirs.push(path);
                }
                continue;
            }
            if !file_type.is_file() || !(name.ends_with(".yaml") || name.ends_with(".yml")) {
                continue;
            }
            let len = entry.metadata().map_err(io(&path))?.len();
            let text = read(&path, len)?;
            let rel = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            out.push((rel, text));
        }
        // Depth first, in name order.
        stack.extend(subdirs.into_iter().rev());
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// Whether `file` is kustomize's own `kustomization.yaml` (not a Kubernetes manifest).
fn is_kustomization(file: &str, docs: &[Value]) -> bool {
    let base = file.rsplit('/').next().unwrap_or(file);
    if !matches!(base, "kustomization.yaml" | "kustomization.yml") {
        return false;
    }
    docs.iter().all(|d| {
        let api = str_at(d, "apiVersion").unwrap_or("");
        match str_at(d, "kind") {
            None => true,
            Some("Kustomization" | "Component") => {
                api.is_empty() || api.starts_with("kustomize.config.k8s.io/")
            }
            Some(_) => false,
        }
    })
}

fn str_at<'v>(v: &'v Value, key: &str) -> Option<&'v str> {
    v.get(key).and_then(Value::as_str)
}

/// A scalar as a string (labels and list items written unquoted: `true`, `1`).
fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A scalar field as a string (a name written `123` is the name `123`).
fn text_at(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(scalar)
}

fn str_list(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(items)) => items.iter().filter_map(scalar).collect(),
        Some(other) => scalar(other).into_iter().collect(),
        None => Vec::new(),
    }
}

fn str_map(v: Option<&Value>) -> BTreeMap<String, String> {
    v.and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| scalar(v).map(|v| (k.clone(), v)))
                .collect()
        })
        .unwrap_or_default()
}

fn parse_rule(v: &Value) -> Rule {
    Rule {
        verbs: str_list(v.get("verbs")),
        api_groups: str_list(v.get("apiGroups")),
        resources: str_list(v.get("resources")),
        resource_names: str_list(v.get("resourceNames")),
        non_resource_urls: str_list(v.get("nonResourceURLs")),
    }
}

fn parse_selector(v: &Value) -> Selector {
    let match_expressions = v
        .get("matchExpressions")
        .and_then(Value::as_array)
        .map(|exprs| {
            exprs
                .iter()
                .map(|e| Requirement {
                    key: text_at(e, "key").unwrap_or_default(),
                    operator: str_at(e, "operator").unwrap_or_default().to_string(),
                    values: str_list(e.get("values")),
                })
                .collect()
        })
        .unwrap_or_default();
    Selector {
        match_labels: str_map(v.get("matchLabels")),
        match_expressions,
    }
}

impl Manifests {
    /// Adds the RBAC objects of one file.
    pub(crate) fn add_text(&mut self, file: &str, text: &str) -> Result<(), AccessError> {
        // Plain `y`, `on`, `0755` stay strings, as Kubernetes reads them into string fields.
        let options = serde_saphyr::options! {
            strict_booleans: true,
            leading_zero_numbers_as_strings: true,
            underscored_numbers_as_strings: true,
            // A generated file holds one document per tenant (alerts): no 1,024-document cap.
            budget: None,
        };
        let docs: Vec<Value> =
            serde_saphyr::from_multiple_with_options(text, options).map_err(|e| {
                AccessError::Yaml {
                    file: file.to_string(),
                    message: e.to_string(),
                }
            })?;
        self.add_documents(file, &docs);
        Ok(())
    }

    pub(crate) fn add_documents(&mut self, file: &str, docs: &[Value]) {
        if is_kustomization(file, docs) {
            return;
        }
        for doc in docs {
            self.add_object(file, doc);
        }
    }

    fn add_object(&mut self, file: &str, doc: &Value) {
        let Some(obj) = doc.as_object() else {
            return;
        };
        let Some(kind) = obj.get("kind").and_then(Value::as_str) else {
            return;
        };
        let api_version = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
        let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
        if kind.ends_with("List") {
            if let Some(items) = obj.get("items").and_then(Value::as_array) {
                for item in items {
                    self.add_object(file, item);
                }
            }
            return;
        }
        let namespaced = match (group, kind) {
            ("", "ServiceAccount") | (RBAC_GROUP, "Role" | "RoleBinding") => true,
            (RBAC_GROUP, "ClusterRole" | "ClusterRoleBinding") => false,
            _ => return,
        };
        let meta = obj.get("metadata");
        let name = meta.and_then(|m| text_at(m, "name")).unwrap_or_default();
        let name = name.as_str();
        if name.is_empty() {
            self.notes.push(format!(
                "a {kind} in `{file}` has no metadata.name: it is not analysed"
            ));
            return;
        }
        let namespace = if namespaced {
            match meta.and_then(|m| text_at(m, "namespace")) {
                Some(ns) if !ns.is_empty() => Some(ns),
                _ => {
                    self.notes.push(format!(
                        "{kind} `{name}` in `{file}` has no metadata.namespace: the namespace it \
                         lands in is decided when it is applied, so it is not analysed"
                    ));
                    return;
                }
            }
        } else {
            None
        };
        match kind {
            "ServiceAccount" => {
                let ns = namespace.unwrap_or_default();
                self.service_accounts.insert((ns, name.to_string()));
            }
            "Role" | "ClusterRole" => self.add_role(file, obj, name, namespace),
            _ => self.add_binding(file, obj, kind, name, namespace),
        }
    }

    fn add_role(
        &mut self,
        file: &str,
        obj: &Map<String, Value>,
        name: &str,
        namespace: Option<String>,
    ) {
        let rules = obj
            .get("rules")
            .and_then(Value::as_array)
            .map(|rs| rs.iter().map(parse_rule).collect())
            .unwrap_or_default();
        let aggregation = if namespace.is_none() {
            obj.get("aggregationRule").map(|a| {
                a.get("clusterRoleSelectors")
                    .and_then(Value::as_array)
                    .map(|ss| ss.iter().map(parse_selector).collect())
                    .unwrap_or_default()
            })
        } else {
            None
        };
        self.roles.push(RoleDef {
            namespace,
            name: name.to_string(),
            labels: str_map(obj.get("metadata").and_then(|m| m.get("labels"))),
            rules,
            aggregation,
            file: file.to_string(),
        });
    }

    fn add_binding(
        &mut self,
        file: &str,
        obj: &Map<String, Value>,
        kind: &str,
        name: &str,
        namespace: Option<String>,
    ) {
        let role_ref = obj.get("roleRef");
        let role_kind = role_ref.and_then(|r| str_at(r, "kind")).unwrap_or("");
        let role_name = role_ref
            .and_then(|r| text_at(r, "name"))
            .unwrap_or_default();
        if role_kind.is_empty() || role_name.is_empty() {
            self.notes.push(format!(
                "{kind} `{name}` in `{file}` has no complete roleRef: the API server rejects it"
            ));
            return;
        }
        let subjects = obj
            .get("subjects")
            .and_then(Value::as_array)
            .map(|ss| {
                ss.iter()
                    .map(|s| RawSubject {
                        kind: str_at(s, "kind").unwrap_or_default().to_string(),
                        name: text_at(s, "name").unwrap_or_default(),
                        namespace: text_at(s, "namespace").filter(|ns| !ns.is_empty()),
                    })
                    .collect()
            })
            .unwrap_or_default();
        self.bindings.push(BindingDef {
            namespace,
            name: name.to_string(),
            role_kind: role_kind.to_string(),
            role_name,
            subjects,
            file: file.to_string(),
        });
    }

    /// Notes objects defined more than once: all definitions are analysed (the cluster holds
    /// only the last applied, which the manifests cannot tell).
    pub(crate) fn finish(&mut self) {
        let mut seen: BTreeMap<String, Vec<&str>> = BTreeMap::new();
        for r in &self.roles {
            seen.entry(r.describe()).or_default().push(&r.file);
        }
        for b in &self.bindings {
            seen.entry(b.describe()).or_default().push(&b.file);
        }
        for (what, files) in seen {
            if files.len() > 1 {
                let files: BTreeSet<&str> = files.into_iter().collect();
                let files: Vec<String> = files.into_iter().map(|f| format!("`{f}`")).collect();
                self.notes.push(format!(
                    "{what} is defined more than once ({}): the cluster holds only the last \
                     applied; every definition is analysed",
                    files.join(", ")
                ));
            }
        }
    }
}
