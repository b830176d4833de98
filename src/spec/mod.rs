//! Spec stage: TOML text → spanned, unvalidated [`TrustModel`].
//!
//! ## Style
//! - Every user-written leaf is an [`Sp<T>`] so later stages can point at it.
//! - Unknown keys are errors with a "did you mean" hint; every shape problem of a file is
//!   reported in one run (the reader never stops at the first).
//! - This is the only module that depends on `toml`. It knows nothing of Kubernetes.

mod duplicate;
mod read;
mod spanned;
mod types;

pub use read::{key_segment, suggest};
pub use spanned::Sp;
pub use types::*;

use std::path::{Path, PathBuf};

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
            sink.push(if message.contains("duplicate key") {
                duplicate::diagnostic(file, text, &root, range)
            } else {
                Diagnostic::new(Code::TomlSyntax, format!("TOML: {message}"))
                    .at(Span::new(file, range), "invalid TOML")
            });
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
    /// Paths refused because they resolve outside the repository (TC0009).
    pub outside: std::collections::BTreeSet<String>,
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

/// The repository a spec belongs to, canonical: the nearest ancestor of the spec (as typed,
/// made absolute without resolving links) holding `.git`, else the spec's own directory.
/// Every file the spec makes trustc read must resolve inside it.
pub fn repository_of(spec: &Path) -> std::io::Result<PathBuf> {
    let abs = if spec.is_absolute() {
        spec.to_path_buf()
    } else {
        std::env::current_dir()?.join(spec)
    };
    let dir = abs.parent().unwrap_or(Path::new("/"));
    let root = dir
        .ancestors()
        .find(|d| d.join(".git").symlink_metadata().is_ok())
        .unwrap_or(dir);
    std::fs::canonicalize(root)
}

fn refused(msg: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::PermissionDenied, msg)
}

/// Reads a file the spec names (or the spec itself) once its path is known to resolve
/// inside the repository: a regular file (never a FIFO or device), at most 8 MiB, UTF-8.
pub fn read_input(path: &Path) -> std::io::Result<String> {
    use crate::write::fsx::{ReadError, read_path};
    match read_path(path) {
        Ok(bytes) => String::from_utf8(bytes)
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8 text")),
        Err(ReadError::Io(e)) => Err(e),
        Err(e) => Err(refused(format!("refused: {e}"))),
    }
}

/// Reads `path` and the key files it references. `Err` only for an unreadable or refused
/// spec file: one that resolves outside its repository (a link to a file elsewhere), is not
/// a regular file, or is larger than 8 MiB.
pub fn load(path: &Path, map: &mut SourceMap, sink: &mut Sink) -> std::io::Result<Loaded> {
    let repo = repository_of(path)?;
    let real = std::fs::canonicalize(path)?;
    if !real.starts_with(&repo) {
        return Err(refused(format!(
            "refused [{}]: it resolves outside its repository `{}` (a symbolic link to a file elsewhere?); trustc reads only files inside the repository",
            Code::InputOutsideRepository.id(),
            repo.display()
        )));
    }
    let text = read_input(&real)?;
    let file = map.add(path.display().to_string(), text);
    // The scan for unsafe characters and the parse read the same text and nothing else:
    // side by side (each a fifth to a half of `check` on a large spec). Their diagnostics
    // are pushed in the order of a sequential run. When the text holds escapes or multi-line
    // strings, the scan parses it too, and both trees are held at once: still far below the
    // compile's peak, which comes later.
    let (unsafe_chars, (model, parsed)) = rayon::join(
        || {
            let mut s = Sink::new();
            crate::check::control_characters(map, file, &mut s);
            s
        },
        || {
            let mut s = Sink::new();
            (parse(map, file, &mut s), s)
        },
    );
    sink.extend(unsafe_chars);
    sink.extend(parsed);
    let mut inputs = Inputs::default();
    if let Some(m) = &model {
        let dir = path.parent().unwrap_or(Path::new("."));
        let referenced = m.signers.values().map(|s| &s.key.value).chain(
            m.registries
                .values()
                .filter_map(|r| r.cosign_key.as_ref().map(|k| &k.value)),
        );
        for rel in referenced {
            let content =
                match std::fs::canonicalize(dir.join(rel)) {
                    Err(e) => Err(e.to_string()),
                    Ok(real) if !real.starts_with(&repo) => {
                        inputs.outside.insert(rel.clone());
                        Err("resolves outside the repository; trustc reads keys only from inside it"
                        .to_string())
                    }
                    Ok(real) => read_input(&real).map_err(|e| e.to_string()),
                };
            inputs.files.insert(rel.clone(), content);
        }
    }
    Ok(Loaded {
        file,
        model,
        inputs,
    })
}
