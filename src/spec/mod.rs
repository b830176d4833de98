//! Spec stage: TOML text → spanned, unvalidated [`TrustModel`].
//!
//! ## Style
//! - Every user-written leaf is an [`Sp<T>`] so later stages can point at it.
//! - Unknown keys are errors with a "did you mean" hint; every shape problem of a file is
//!   reported in one run (the reader never stops at the first).
//! - This is the only module that depends on `toml`. It knows nothing of Kubernetes.

mod read;
mod spanned;
mod types;

pub use read::suggest;
pub use spanned::Sp;
pub use types::*;

use crate::diag::{Code, Diagnostic, FileId, Sink, SourceMap, Span};

/// Parses the text of a trust model already added to `map` as `file`.
///
/// Returns `None` when the file's shape leaves holes (wrong types, missing keys, syntax);
/// every problem found is in `sink`.
pub fn parse(map: &SourceMap, file: FileId, sink: &mut Sink) -> Option<TrustModel> {
    let text = map.text(file);
    let (root, errors) = toml::de::DeTable::parse_recoverable(text);
    if !errors.is_empty() {
        for e in errors {
            let range = e.span().unwrap_or(0..0);
            let message = e.message().trim_end().to_string();
            let code = if message.contains("duplicate key") {
                Code::DuplicateKey
            } else {
                Code::TomlSyntax
            };
            let label = if code == Code::DuplicateKey {
                "defined again here"
            } else {
                "invalid TOML"
            };
            let mut d =
                Diagnostic::new(code, format!("TOML: {message}")).at(Span::new(file, range), label);
            if code == Code::DuplicateKey {
                d = d.help("each key may appear once; merge the two definitions");
            }
            sink.push(d);
        }
        return None;
    }
    let root = toml::Spanned::new(root.span(), toml::de::DeValue::Table(root.into_inner()));
    // Unknown keys do not stop the reader (the model is still whole), so semantic rules run
    // too and every mistake of the file is reported in one go; wrong types and missing keys
    // leave holes, and the reader returns `None`.
    let mut reader = read::Reader {
        file,
        sink,
        incomplete: false,
    };
    let model = read::trust_model(&mut reader, &root)?;
    if model.version.value != 1 {
        sink.push(
            Diagnostic::new(
                Code::UnsupportedSpecVersion,
                format!(
                    "trust model version {} is not supported",
                    model.version.value
                ),
            )
            .at(model.version.span.clone(), "this trustc reads version 1")
            .help("set `version = 1`"),
        );
        return None;
    }
    Some(model)
}

/// The files a spec refers to (signer keys, cosign keys), read relative to the spec file.
/// Reading them here keeps the check stage free of I/O.
#[derive(Debug, Default)]
pub struct Inputs {
    /// Path as written in the spec → contents, or the I/O error's text.
    pub files: std::collections::BTreeMap<String, Result<String, String>>,
}

impl Inputs {
    pub fn get(&self, path: &str) -> Option<&Result<String, String>> {
        self.files.get(path)
    }
}

/// A spec read from disk: the model (if its shape is sound) and its referenced files.
#[derive(Debug)]
pub struct Loaded {
    pub file: FileId,
    pub model: Option<TrustModel>,
    pub inputs: Inputs,
}

/// Reads `path` and the key files it references. `Err` only for an unreadable spec file.
pub fn load(
    path: &std::path::Path,
    map: &mut SourceMap,
    sink: &mut Sink,
) -> std::io::Result<Loaded> {
    let text = std::fs::read_to_string(path)?;
    let file = map.add(path.display().to_string(), text);
    let model = parse(map, file, sink);
    let mut inputs = Inputs::default();
    if let Some(m) = &model {
        let dir = path.parent().unwrap_or(std::path::Path::new("."));
        let referenced = m.signers.values().map(|s| &s.key.value).chain(
            m.registries
                .values()
                .filter_map(|r| r.cosign_key.as_ref().map(|k| &k.value)),
        );
        for rel in referenced {
            let full = dir.join(rel);
            let content = std::fs::read_to_string(&full).map_err(|e| e.to_string());
            inputs.files.insert(rel.clone(), content);
        }
    }
    Ok(Loaded {
        file,
        model,
        inputs,
    })
}
