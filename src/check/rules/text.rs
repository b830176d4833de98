//! TC0008 control-character: no string of the trust model may hold a control character.
//!
//! Every string of the spec (values and quoted keys alike) can reach a template: names
//! become object names and labels, URLs and emails become fields of the manifests. A newline
//! in a repository URL passed every rule and then failed at generate time, blamed on a
//! template with no location; an ESC or a bidi override would reach the reviewer's terminal
//! or change what the generated YAML appears to say. Rather than chase each field, this rule
//! refuses the whole class at the source: it walks the TOML document itself, so a field
//! added later is covered too.
//!
//! The exceptions are the free-text fields in [`FREE_TEXT`]: their values are emitted as
//! YAML strings verbatim (escaped by the YAML emitter) and never parsed by trustc, and
//! `known_hosts` is legitimately multi-line. The property tests (tests/properties.rs,
//! properties 5 and 7) prove that any text in them round-trips or is refused by `check`.

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::diag::{Code, Diagnostic, FileId, Sink, SourceMap, Span, is_unsafe_char};

/// Fields whose value is free text, copied verbatim into a YAML string (see the module docs).
const FREE_TEXT: &[&str] = &[
    "git.known_hosts",
    "alerts.channel",
    "alerts.secret",
    "secrets.store",
    "secrets.deploy_key_path",
];

/// Reports every string (value or key) of `file` holding a control character, a DEL, a C1
/// control or a bidirectional override (see [`is_unsafe_char`]). Reads the text only; a
/// file that is not valid TOML is left to the parser's own diagnostics.
pub(crate) fn control_characters(map: &SourceMap, file: FileId, sink: &mut Sink) {
    let (root, _errors) = DeTable::parse_recoverable(map.text(file));
    walk_table(root.get_ref(), "", file, sink);
}

fn walk_table(table: &DeTable<'_>, path: &str, file: FileId, sink: &mut Sink) {
    for (key, value) in table.iter() {
        let k: &str = key.get_ref();
        let here = if path.is_empty() {
            k.to_string()
        } else {
            format!("{path}.{k}")
        };
        if let Some(c) = k.chars().find(|&c| is_unsafe_char(c)) {
            sink.push(diagnostic(
                c,
                &format!("the key `{here}`"),
                key.span(),
                file,
            ));
        }
        walk_value(value, &here, file, sink);
    }
}

fn walk_value(value: &Spanned<DeValue<'_>>, path: &str, file: FileId, sink: &mut Sink) {
    match value.get_ref() {
        DeValue::String(_) if FREE_TEXT.contains(&path) => {}
        DeValue::String(s) => {
            if let Some(c) = s.chars().find(|&c| is_unsafe_char(c)) {
                sink.push(diagnostic(c, &format!("`{path}`"), value.span(), file));
            }
        }
        DeValue::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                walk_value(item, &format!("{path}[{i}]"), file, sink);
            }
        }
        DeValue::Table(t) => walk_table(t, path, file, sink),
        _ => {}
    }
}

fn diagnostic(c: char, what: &str, range: std::ops::Range<usize>, file: FileId) -> Diagnostic {
    let name = match c {
        '\n' => "a line feed",
        '\r' => "a carriage return",
        '\t' => "a tab",
        '\u{1b}' => "an escape (ESC)",
        '\u{7}' => "a bell (BEL)",
        '\u{7f}' => "a delete (DEL)",
        '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' => "a bidirectional override",
        '\u{200E}' | '\u{200F}' | '\u{061C}' => "an invisible direction mark",
        _ => "a control character",
    };
    Diagnostic::new(
        Code::ControlCharacter,
        format!(
            "{what} contains {name} (U+{:04X})",
            u32::from(c)
        ),
    )
    .at(Span::new(file, range), "control character in this string")
    .note("every string of the trust model ends up in the generated manifests or in messages read on a terminal")
    .help("remove the character: write the value on one line with printable characters only")
}
