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
    if cannot_hold_unsafe_strings(map.text(file)) {
        return;
    }
    let (root, _errors) = DeTable::parse_recoverable(map.text(file));
    walk_table(root.get_ref(), "", file, sink);
}

/// Whether no string of the TOML `text` can hold an unsafe character, read off the raw text
/// in one pass: no unsafe character in it but the line feeds between lines, no escape in a
/// basic string, no multi-line string (`"""`, `'''`), and every string closed on its line.
/// Then every string (value or quoted key) is made of the text's own characters (TOML 1.1:
/// single-line strings hold no raw newline; literal strings have no escapes, so a `\` there
/// is itself), so none holds one and the document need not be parsed a second time (this walk
/// was a quarter of `check` on a 5,000-tenant spec). `false` means "walk it".
fn cannot_hold_unsafe_strings(text: &str) -> bool {
    enum In {
        Code,
        Comment,
        Basic,
        Literal,
    }
    let mut state = In::Code;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\n' && is_unsafe_char(c) {
            return false;
        }
        state = match (state, c) {
            (In::Code, '#') => In::Comment,
            (In::Code, '"') if chars.next_if_eq(&'"').is_some() => {
                if chars.peek() == Some(&'"') {
                    return false;
                }
                In::Code // `""`: the empty string
            }
            (In::Code, '"') => In::Basic,
            (In::Code, '\'') if chars.next_if_eq(&'\'').is_some() => {
                if chars.peek() == Some(&'\'') {
                    return false;
                }
                In::Code // `''`: the empty string
            }
            (In::Code, '\'') => In::Literal,
            (In::Comment, '\n') => In::Code,
            (In::Basic, '\\') | (In::Basic | In::Literal, '\n') => return false,
            (In::Basic, '"') | (In::Literal, '\'') => In::Code,
            (state, _) => state,
        };
    }
    matches!(state, In::Code | In::Comment)
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// What the full walk reports on `text`.
    fn walked(text: &str) -> usize {
        let mut map = SourceMap::new();
        let file = map.add("trust.toml", text);
        let (root, _errors) = DeTable::parse_recoverable(map.text(file));
        let mut sink = Sink::new();
        walk_table(root.get_ref(), "", file, &mut sink);
        sink.iter().count()
    }

    #[test]
    fn the_raw_text_pre_check_passes_only_texts_the_walk_finds_clean() {
        let clean = "[tenants.a] # a comment: \\ \"\"\"\nname = \"a b\"\nurl = 'x\\.y'\n\"quoted key\" = [\"1\", '2', \"\", '']\n";
        assert!(cannot_hold_unsafe_strings(clean));
        assert_eq!(walked(clean), 0);
        // Each way a string can hold a control character the raw text does not show.
        for text in [
            "a = \"x\\ty\"\n",
            "a = \"x\\u001by\"\n",
            "a = \"\"\"\nx\ny\"\"\"\n",
            "a = '''\nx\ny'''\n",
            "a = \"x\ty\"\n",
            "a = \"x\u{202e}y\"\n",
        ] {
            assert!(!cannot_hold_unsafe_strings(text), "{text:?}");
            assert!(walked(text) > 0, "{text:?}");
        }
        // Texts the pre-check cannot clear, walked: a carriage return, a string left open at
        // its line's end, a multi-line literal string after an empty one.
        for text in [
            "a = \"x\"\r\n",
            "a = \"x\\\"\ny\"\n",
            "a = ''\nc = '''x'''\n",
            "a = ''\n[b]\nc = '\"\"\"\nx\n\"\"\"'\n",
        ] {
            assert!(!cannot_hold_unsafe_strings(text), "{text:?}");
        }
    }

    proptest! {
        /// Arbitrary strings written as basic (JSON escapes are TOML's) and literal TOML
        /// strings, values, keys and comments: when the pre-check passes, the walk finds
        /// nothing.
        #[test]
        fn the_pre_check_never_hides_what_the_walk_finds(
            s in "(?s).{0,12}", k in "(?s).{0,6}"
        ) {
            let basic = serde_json::to_string(&s).unwrap();
            let key = serde_json::to_string(&k).unwrap();
            for text in [
                format!("a = {basic}\n"),
                format!("a = '{s}'\n"),
                format!("[t]\n{key} = [{basic}]\n"),
                format!("a = \"\"\"{s}\"\"\"\n"),
                format!("a = \"{s}\"\n"),
                format!("# {s}\na = '{k}'\nb = '\\d'\n"),
            ] {
                if cannot_hold_unsafe_strings(&text) {
                    prop_assert_eq!(walked(&text), 0, "{:?}", text);
                }
            }
        }
    }
}
