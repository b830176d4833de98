//! The embedded templates and the override directory.

use std::collections::BTreeMap;
use std::path::Path;

macro_rules! embedded {
    ($($name:literal),* $(,)?) => {
        /// Every embedded template: (name, source). Names are paths under `templates/`.
        pub const EMBEDDED: &[(&str, &str)] = &[
            $(($name, include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/templates/", $name))),)*
        ];
    };
}

embedded![
    "kustomize/kustomization.yaml.j2",
    "flux/lockdown.yaml.j2",
    "flux/egress.yaml.j2",
    "platform/service-account.yaml.j2",
    "platform/cluster-role.yaml.j2",
    "platform/cluster-role-binding.yaml.j2",
    "platform/signers.yaml.j2",
    "platform/deploy-key.yaml.j2",
    "platform/source.yaml.j2",
    "platform/sync.yaml.j2",
    "platform/flux-system-sync.yaml.j2",
    "tenant/namespaces.yaml.j2",
    "tenant/service-account.yaml.j2",
    "tenant/role.yaml.j2",
    "tenant/role-binding.yaml.j2",
    "tenant/network-policies.yaml.j2",
    "tenant/signers.yaml.j2",
    "tenant/deploy-key.yaml.j2",
    "tenant/source.yaml.j2",
    "tenant/sync.yaml.j2",
    "tenant/images.yaml.j2",
    "tenant/charts.yaml.j2",
    "admission/kyverno.yaml.j2",
    "admission/kyverno-images.yaml.j2",
    "admission/kyverno-cel.yaml.j2",
    "admission/vap.yaml.j2",
    "admission/image-validating.yaml.j2",
    "monitoring/prometheus-rule.yaml.j2",
    "monitoring/kube-state-metrics.yaml.j2",
    "monitoring/notifications.yaml.j2",
    "kyverno-test/kyverno-test.yaml.j2",
    "kyverno-test/resources.yaml.j2",
    "kyverno-test/userinfo.yaml.j2",
];

/// The templates in use: the embedded ones, with overrides laid over them.
#[derive(Clone, Debug)]
pub struct TemplateSet {
    templates: BTreeMap<String, String>,
    /// Names overridden from a directory.
    pub overridden: Vec<String>,
}

/// Why an override directory was refused.
#[derive(Debug, thiserror::Error)]
pub enum OverrideError {
    #[error("cannot read template override directory `{0}`: {1}")]
    Io(String, std::io::Error),
    #[error("`{name}` in the override directory is not a trustc template{}", .suggestion.as_ref().map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default())]
    Unknown {
        name: String,
        suggestion: Option<String>,
    },
}

impl TemplateSet {
    /// The embedded defaults.
    pub fn embedded() -> Self {
        TemplateSet {
            templates: EMBEDDED
                .iter()
                .map(|(n, s)| ((*n).to_string(), (*s).to_string()))
                .collect(),
            overridden: Vec::new(),
        }
    }

    /// Embedded defaults with every `*.j2` file under `dir` replacing the template of the
    /// same relative name. A file that names no template is refused (a typo would otherwise
    /// silently leave the default in place).
    pub fn with_overrides(dir: &Path) -> Result<Self, OverrideError> {
        let mut set = Self::embedded();
        let mut stack = vec![dir.to_path_buf()];
        let mut found = Vec::new();
        while let Some(d) = stack.pop() {
            let entries =
                std::fs::read_dir(&d).map_err(|e| OverrideError::Io(d.display().to_string(), e))?;
            for entry in entries {
                let entry = entry.map_err(|e| OverrideError::Io(d.display().to_string(), e))?;
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "j2") {
                    found.push(path);
                }
            }
        }
        found.sort();
        for path in found {
            let rel = path
                .strip_prefix(dir)
                .expect("walked from dir")
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            if !set.templates.contains_key(&rel) {
                let suggestion = crate::spec::suggest(&rel, EMBEDDED.iter().map(|(n, _)| *n))
                    .map(str::to_string);
                return Err(OverrideError::Unknown {
                    name: rel,
                    suggestion,
                });
            }
            let text = std::fs::read_to_string(&path)
                .map_err(|e| OverrideError::Io(path.display().to_string(), e))?;
            set.templates.insert(rel.clone(), text);
            set.overridden.push(rel);
        }
        Ok(set)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.templates.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}
