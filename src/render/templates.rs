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
    #[error("cannot read template override `{0}`: {1}")]
    Io(String, std::io::Error),
    #[error("refusing template override `{0}`: {1}")]
    Refused(String, String),
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
    /// silently leave the default in place). The walk never follows a symbolic link: the
    /// directory itself or any entry under it being a link is refused (so no loop, and no
    /// template read from outside the tree); FIFOs and devices are refused before reading,
    /// and each template is at most 8 MiB.
    pub fn with_overrides(dir: &Path) -> Result<Self, OverrideError> {
        let mut set = Self::embedded();
        let shown = |p: &Path| crate::diag::escape(&p.display().to_string()).into_owned();
        let meta = std::fs::symlink_metadata(dir).map_err(|e| OverrideError::Io(shown(dir), e))?;
        if meta.file_type().is_symlink() {
            return Err(OverrideError::Refused(
                shown(dir),
                "it is a symbolic link; give the real directory".into(),
            ));
        }
        let mut found = Vec::new();
        for entry in walkdir::WalkDir::new(dir).follow_links(false).max_depth(32) {
            let entry = entry.map_err(|e| {
                let path = e.path().map(shown).unwrap_or_else(|| shown(dir));
                OverrideError::Io(path, e.into())
            })?;
            let ft = entry.file_type();
            if ft.is_symlink() {
                return Err(OverrideError::Refused(
                    shown(entry.path()),
                    "it is a symbolic link; template overrides must be regular files inside the directory".into(),
                ));
            }
            if ft.is_file() && entry.path().extension().is_some_and(|e| e == "j2") {
                found.push(entry.into_path());
            } else if !ft.is_file() && !ft.is_dir() {
                return Err(OverrideError::Refused(
                    shown(entry.path()),
                    "it is a FIFO, socket or device".into(),
                ));
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
                    name: crate::diag::escape(&rel).into_owned(),
                    suggestion,
                });
            }
            let text = match crate::write::fsx::read_path(&path) {
                Ok(bytes) => String::from_utf8(bytes).map_err(|_| {
                    OverrideError::Refused(shown(&path), "it is not UTF-8 text".into())
                })?,
                Err(crate::write::fsx::ReadError::Io(e)) => {
                    return Err(OverrideError::Io(shown(&path), e));
                }
                Err(e) => return Err(OverrideError::Refused(shown(&path), e.to_string())),
            };
            set.templates.insert(rel.clone(), text);
            set.overridden.push(rel);
        }
        Ok(set)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.templates.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}
