//! Verify stage: every rendered file is parsed back, checked, and re-emitted canonically.
//!
//! - parse: YAML with duplicate-key detection (serde-saphyr); every document a mapping with
//!   `apiVersion`, `kind` and (except kustomize files) `metadata.name`;
//! - schema: trustc's own schema of each (apiVersion, kind) it emits, so a broken template
//!   override is refused with the template's name and the field path (unknown fields,
//!   missing required fields, wrong types, and apiVersions the target releases no longer serve);
//! - uniqueness: no object twice;
//! - canonical bytes: block style, template key order, YAML 1.1 ambiguities quoted, so the
//!   output never depends on template whitespace or quoting.
//!
//! This is the only module that depends on the YAML crate and on jsonschema.

mod emit;
mod fast;
pub mod invariants;
mod lockdown;
mod schema;

use rayon::prelude::*;
use serde_json::Value;
use std::collections::HashMap;

use crate::diag::{Code, Diagnostic};
use crate::render::Rendered;

/// A verified file: its documents and canonical YAML text (without header).
#[derive(Debug, Clone)]
pub struct Manifest {
    pub path: String,
    pub template: String,
    pub docs: Vec<Value>,
    pub yaml: String,
}

/// Parses YAML text into its documents (empty documents dropped).
///
/// Texts in the subset trustc's templates render are read by [`fast::parse`], which gives
/// the same documents as the full parser (tested); every other text, and every error, comes
/// from serde-saphyr.
pub fn parse_documents(text: &str) -> Result<Vec<Value>, String> {
    if let Some(docs) = fast::parse(text) {
        return Ok(docs);
    }
    parse_documents_full(text)
}

/// [`parse_documents`] by serde-saphyr only.
fn parse_documents_full(text: &str) -> Result<Vec<Value>, String> {
    // The text is trustc's own rendering (alias limits still apply to overrides); the
    // event-budget pre-scan and error snippets would double the cost of every parse.
    let options = serde_saphyr::options! {
        budget: None,
        with_snippet: false,
    };
    let docs: Vec<Value> =
        serde_saphyr::from_multiple_with_options(text, options).map_err(|e| e.to_string())?;
    Ok(docs.into_iter().filter(|d| !d.is_null()).collect())
}

/// Prepares the verification of the documents to come: compiles the schemas of every kind
/// trustc emits (~10 ms of one core), which the first files would otherwise wait for. A
/// caller with a core to spare (`generate` while it reads and checks the spec) runs it
/// there; verification compiles each schema on first use either way.
pub fn prepare() {
    schema::compile_all();
}

/// Canonical YAML of one document.
///
/// Scalar styles are serde-saphyr 2.2.0's, pinned (`ser/serializer.rs` `serialize_str`):
/// a string with a newline is a literal block (`|-`, `|`) whenever its characters allow one
/// (`quoting.rs` `is_block_scalar_content_safe`: no CR, NEL, LS, PS or BOM), whatever its
/// length; a one-line string longer than `folded_wrap_chars` is folded (`>-`) if it could be
/// plain, else quoted. The admission model writes every CEL expression that lists tenants
/// one tenant a line (`model::admission`), so it is always a literal block, kept line for
/// line: adding a tenant adds its lines and never refolds the expression.
///
/// Documents in the shape trustc's templates give are written by [`emit::emit`], which
/// writes the same bytes (tested); every other document by serde-saphyr.
pub fn emit(doc: &Value) -> String {
    emit::emit(doc).unwrap_or_else(|| emit_full(doc))
}

/// [`emit`] by serde-saphyr only.
fn emit_full(doc: &Value) -> String {
    let options = serde_saphyr::ser_options! {
        prefer_block_scalars: true,
        folded_wrap_chars: 80,
    };
    serde_saphyr::to_string_with_options(doc, options)
        .expect("a JSON value always serializes to YAML")
}

const OVERRIDE_HELP: &str = "fix the template override (or remove it to use trustc's own); with no override in use, this is a trustc bug: please report it";

fn malformed(r: &Rendered, msg: String) -> Diagnostic {
    Diagnostic::new(
        Code::MalformedManifest,
        format!(
            "template `{}` rendered `{}` that is not a valid manifest: {msg}",
            r.template, r.path
        ),
    )
    .help(OVERRIDE_HELP)
}

fn verify_one(r: Rendered) -> Result<Option<Manifest>, Vec<Diagnostic>> {
    let docs = parse_documents(&r.text).map_err(|e| vec![malformed(&r, e)])?;
    if docs.is_empty() {
        return Ok(None);
    }
    let Rendered {
        path,
        template,
        text,
    } = r;
    // The rendered text is not needed once parsed: free it before the canonical text is
    // made, so that a file is never held three times (rendered, parsed, canonical).
    drop(text);
    let r = &Rendered {
        path,
        template,
        text: String::new(),
    };
    // A file of many documents (an environment's alert routing: one Alert and Provider
    // pair per tenant) is checked and written a run of documents at a time, in parallel;
    // diagnostics and text keep document order.
    let many = docs.len() >= MANY_DOCS;
    let diags: Vec<Diagnostic> = if many {
        docs.par_iter()
            .enumerate()
            .with_min_len(MANY_DOCS / 2)
            .flat_map_iter(|(i, doc)| check_document(r, i, doc))
            .collect()
    } else {
        docs.iter()
            .enumerate()
            .flat_map(|(i, doc)| check_document(r, i, doc))
            .collect()
    };
    if !diags.is_empty() {
        return Err(diags);
    }
    let yaml = if many {
        docs.par_iter()
            .with_min_len(MANY_DOCS / 2)
            .map(emit)
            .collect::<Vec<_>>()
    } else {
        docs.iter().map(emit).collect::<Vec<_>>()
    }
    .join("---\n");
    let Rendered { path, template, .. } = r;
    Ok(Some(Manifest {
        path: path.clone(),
        template: template.clone(),
        docs,
        yaml,
    }))
}

/// Files of at least this many documents are checked and written in parallel
/// ([`verify_one`]).
const MANY_DOCS: usize = 128;

/// The diagnostics of document `i` of the file `r`: not a mapping, no apiVersion or kind,
/// a kind trustc does not emit, or its schema's violations.
fn check_document(r: &Rendered, i: usize, doc: &Value) -> Vec<Diagnostic> {
    let mut diags = Vec::new();
    let Some(obj) = doc.as_object() else {
        diags.push(malformed(r, format!("document {i} is not a mapping")));
        return diags;
    };
    let api = obj.get("apiVersion").and_then(Value::as_str);
    let kind = obj.get("kind").and_then(Value::as_str);
    let (Some(api), Some(kind)) = (api, kind) else {
        diags.push(malformed(
            r,
            format!("document {i} lacks apiVersion or kind"),
        ));
        return diags;
    };
    match schema::check(doc) {
        schema::SchemaCheck::Valid => {}
        // Kyverno CLI test fixtures hold the attackers' objects (Deployments, Pods…),
        // which trustc does not emit for a cluster: parsed, not schema-checked.
        schema::SchemaCheck::UnknownKind if r.path.starts_with(crate::render::KYVERNO_TESTS) => {}
        schema::SchemaCheck::UnknownKind => diags.push(
            Diagnostic::new(
                Code::UnknownApiVersion,
                format!(
                    "template `{}` emits `{api}` `{kind}` in `{}`, which trustc does not emit for the target releases",
                    r.template, r.path
                ),
            )
            .help(format!(
                "kinds trustc emits: {}",
                schema::known().iter().map(|(a, k)| format!("{a} {k}")).collect::<Vec<_>>().join(", ")
            )),
        ),
        schema::SchemaCheck::Invalid(errors) => {
            let name = obj
                .get("metadata")
                .and_then(|m| m.get("name"))
                .and_then(Value::as_str)
                .unwrap_or("?");
            for (pointer, message) in errors {
                diags.push(
                    Diagnostic::new(
                        Code::SchemaViolation,
                        format!(
                            "template `{}`: {kind} `{name}` in `{}` at `{}`: {message}",
                            r.template,
                            r.path,
                            if pointer.is_empty() { "/" } else { &pointer }
                        ),
                    )
                    .help(OVERRIDE_HELP),
                );
            }
        }
    }
    diags
}

/// Verifies every rendered file (in parallel); files that render no document are dropped.
pub fn verify(rendered: &[Rendered]) -> Result<Vec<Manifest>, Vec<Diagnostic>> {
    verify_owned(rendered.to_vec())
}

/// [`verify`], consuming the rendered files: each file's text is freed as soon as it is
/// parsed, so the peak holds the parsed and canonical forms, not the rendered text too.
pub fn verify_owned(rendered: Vec<Rendered>) -> Result<Vec<Manifest>, Vec<Diagnostic>> {
    verify_each(rendered, |_| ()).map(|v| v.into_iter().map(|(m, ())| m).collect())
}

/// [`verify_owned`], calling `each` on every verified file as soon as it is verified (in
/// parallel, on the worker that verified it), so that a caller can take what it keeps (the
/// canonical text, say) and free what it does not before the next files are parsed. The
/// duplicate-object check runs afterwards, on the documents `each` left.
pub fn verify_each<T: Send>(
    rendered: Vec<Rendered>,
    each: impl Fn(&mut Manifest) -> T + Sync,
) -> Result<Vec<(Manifest, T)>, Vec<Diagnostic>> {
    let (out, mut diags) = verify_collect(rendered, each);
    let manifests: Vec<&Manifest> = out.iter().map(|(m, _)| m).collect();
    diags.extend(duplicates(&manifests));
    if diags.is_empty() {
        Ok(out)
    } else {
        Err(diags)
    }
}

/// One rendered file verified as [`verify_each`] verifies each, with `each` called on it, but
/// without the duplicate-object check (for a caller that verifies an output file by file and
/// runs [`duplicates`], or its hashes, on all of them once): `Ok(None)` when it has no
/// document.
pub fn verify_file<T>(
    rendered: Rendered,
    each: impl FnOnce(&mut Manifest) -> T,
) -> Result<Option<(Manifest, T)>, Vec<Diagnostic>> {
    verify_one(rendered).map(|m| {
        m.map(|mut m| {
            let t = each(&mut m);
            (m, t)
        })
    })
}

/// The verified files (with what `each` kept of them) and the diagnostics of the others.
fn verify_collect<T: Send>(
    rendered: Vec<Rendered>,
    each: impl Fn(&mut Manifest) -> T + Sync,
) -> (Vec<(Manifest, T)>, Vec<Diagnostic>) {
    let results: Vec<_> = rendered
        .into_par_iter()
        .map(|r| {
            verify_one(r).map(|m| {
                m.map(|mut m| {
                    let t = each(&mut m);
                    (m, t)
                })
            })
        })
        .collect();
    let mut out = Vec::with_capacity(results.len());
    let mut diags = Vec::new();
    for r in results {
        match r {
            Ok(Some(mt)) => out.push(mt),
            Ok(None) => {}
            Err(d) => diags.extend(d),
        }
    }
    (out, diags)
}

/// No object twice within one environment tree: (environment, group, kind, namespace,
/// name) of every document but kustomize's own files and the Kyverno CLI tests.
pub fn duplicates(manifests: &[&Manifest]) -> Vec<Diagnostic> {
    let mut diags = Vec::new();
    let mut seen: HashMap<Identity<'_>, &str> = HashMap::new();
    for m in manifests {
        for key in identities(m) {
            if let Some(first) = seen.insert(key, &m.path) {
                diags.push(Diagnostic::new(
                    Code::DuplicateObject,
                    format!(
                        "{} `{}/{}` is emitted twice: in `{first}` and in `{}`",
                        key.2, key.3, key.4, m.path
                    ),
                ));
            }
        }
    }
    diags
}

/// What [`duplicates`] compares: (environment, API group, kind, namespace, name).
type Identity<'a> = (&'a str, &'a str, &'a str, &'a str, &'a str);

/// The identity of each document of `m` that [`duplicates`] compares (not the Kyverno CLI
/// tests' objects, not kustomize's own files).
/// `doc[key]` for a mapping, else `None`: what [`Value::get`] gives for a string key. A
/// mapping of a rendered document holds a handful of keys, and comparing them in order is
/// cheaper than hashing `key` with the map's SipHash (the invariants look up a few fields of
/// every document); larger mappings are looked up by hash.
pub(crate) fn get<'a>(doc: &'a Value, key: &str) -> Option<&'a Value> {
    /// Up to this many entries, a scan.
    const SCAN: usize = 8;
    match doc {
        Value::Object(map) if map.len() <= SCAN => {
            map.iter().find_map(|(k, v)| (k == key).then_some(v))
        }
        Value::Object(map) => map.get(key),
        _ => None,
    }
}

fn identities(m: &Manifest) -> impl Iterator<Item = Identity<'_>> {
    let env = m.path.split('/').next().unwrap_or("");
    let docs: &[Value] = if env == crate::render::KYVERNO_TESTS {
        &[]
    } else {
        &m.docs
    };
    docs.iter().filter_map(move |d| {
        let top = |k: &str| get(d, k).and_then(Value::as_str).unwrap_or("");
        let meta = |k: &str| {
            get(d, "metadata")
                .and_then(|x| get(x, k))
                .and_then(Value::as_str)
                .unwrap_or("")
        };
        let api = top("apiVersion");
        if api.starts_with("kustomize.config.k8s.io") {
            return None;
        }
        let group = api.rsplit_once('/').map_or("", |(g, _)| g);
        Some((env, group, top("kind"), meta("namespace"), meta("name")))
    })
}

/// Each identity [`duplicates`] compares in `m`, as a 64-bit hash: equal identities hash
/// equal, so a set of these finds every duplicate [`duplicates`] reports (and, by a chance
/// collision, maybe one it does not: a caller then runs [`duplicates`] on the documents).
/// For a caller that frees the documents before every file is verified.
pub fn identity_hashes(m: &Manifest) -> Vec<u64> {
    use std::hash::{Hash, Hasher};
    identities(m)
        .map(|key| {
            let mut h = std::hash::DefaultHasher::new();
            key.hash(&mut h);
            h.finish()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::emit;
    use serde_json::json;

    /// A multi-line expression is a literal block at any length, one line of YAML per line
    /// of CEL; a long one-line expression would be folded at whitespace instead.
    #[test]
    fn multi_line_expressions_are_literal_blocks_at_any_length() {
        for n in [1, 2, 200] {
            let items: String = (0..n).map(|i| format!("  'tenant-{i}',\n")).collect();
            let expression = format!("request.namespace in [\n{items}]");
            let yaml = emit(&json!({ "expression": expression }));
            let mut want = String::from("expression: |-\n  request.namespace in [\n");
            for i in 0..n {
                want.push_str(&format!("    'tenant-{i}',\n"));
            }
            want.push_str("  ]\n");
            assert_eq!(yaml, want);
        }
        let long = ["x == 1"; 30].join(" || ");
        assert!(emit(&json!({ "expression": long })).starts_with("expression: >-\n"));
    }

    /// A file of many documents is checked and written in parallel to what one pass gives:
    /// the canonical text joins the documents in order, and the diagnostics come in document
    /// order.
    #[test]
    fn a_file_of_many_documents_verifies_in_document_order() {
        let cm = |i: usize| {
            format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c{i}\n  namespace: team-a\n"
            )
        };
        let n = 3 * super::MANY_DOCS;
        let text: String = (0..n).map(cm).collect::<Vec<_>>().join("---\n");
        let rendered = |text: String| crate::render::Rendered {
            path: "env/x.yaml".into(),
            template: "x.yaml.j2".into(),
            text,
        };
        let m = super::verify_one(rendered(text.clone())).unwrap().unwrap();
        assert_eq!(m.docs.len(), n);
        let one_pass: Vec<String> = m.docs.iter().map(emit).collect();
        assert_eq!(m.yaml, one_pass.join("---\n"));
        assert!(m.yaml.find("name: c7\n") < m.yaml.find("name: c300\n"));
        // Documents 7 and 300 lose their kind: two diagnostics, in that order.
        let broken = text
            .replace(
                "kind: ConfigMap\nmetadata:\n  name: c7\n",
                "metadata:\n  name: c7\n",
            )
            .replace(
                "kind: ConfigMap\nmetadata:\n  name: c300\n",
                "metadata:\n  name: c300\n",
            );
        let diags = super::verify_one(rendered(broken)).unwrap_err();
        let messages: Vec<&str> = diags.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(messages.len(), 2, "{messages:?}");
        assert!(messages[0].contains("document 7 "), "{messages:?}");
        assert!(messages[1].contains("document 300 "), "{messages:?}");
    }
}
