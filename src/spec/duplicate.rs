//! TC0005: a key or table defined twice, named, with its first definition pointed at.
//!
//! The TOML parser reports only "duplicate key" at the second definition. The table it
//! belongs to is read back from the text (the table header above it, and the dotted key
//! itself), and the first definition is found in the document the parser recovered, which
//! keeps the first one. When either cannot be worked out (a key inside an inline table,
//! say), the diagnostic still points at the second definition, as the parser does.

use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::diag::{Code, Diagnostic, FileId, Span};

use super::key_segment;

/// The TC0005 diagnostic for the duplicate at `second` (the span the parser reports) in
/// `text`, whose recovered document is `root`.
pub(super) fn diagnostic(
    file: FileId,
    text: &str,
    root: &Spanned<DeTable<'_>>,
    second: Range<usize>,
) -> Diagnostic {
    let generic = || {
        Diagnostic::new(Code::DuplicateKey, "TOML: duplicate key")
            .at(Span::new(file, second.clone()), "defined again here")
            .help("each key may appear once; merge the two definitions")
    };
    // Named only when the first definition is found where the name says: that also proves
    // the table was read back right.
    let Some(found) = locate(text, root, second.clone()) else {
        return generic();
    };
    let path = |segments: &[String]| -> String {
        segments
            .iter()
            .map(|s| key_segment(s))
            .collect::<Vec<_>>()
            .join(".")
    };
    let mut full = found.table.clone();
    full.push(found.key.clone());
    let d = if found.header {
        Diagnostic::new(
            Code::DuplicateKey,
            format!("table `[{}]` is defined twice", path(&full)),
        )
        .at(Span::new(file, found.second.clone()), "defined again here")
        .help("each table may be defined once: move the second one's keys into the first")
    } else {
        let within = if found.table.is_empty() {
            "the top level".to_string()
        } else {
            path(&found.table)
        };
        Diagnostic::new(
            Code::DuplicateKey,
            format!(
                "key `{}` is set twice in `{within}`",
                key_segment(&found.key)
            ),
        )
        .at(Span::new(file, found.second.clone()), "set again here")
        .help("each key may be set once: keep one of the two lines")
    };
    d.with_secondary(Span::new(file, found.first), "first defined here")
}

/// What a duplicate is: the table it is in (segments), its own key, whether it is a table
/// header, and the span of its first definition.
struct Found {
    table: Vec<String>,
    key: String,
    header: bool,
    first: Range<usize>,
    /// Where it is defined again (for a header, its whole dotted key).
    second: Range<usize>,
}

fn locate(text: &str, root: &Spanned<DeTable<'_>>, second: Range<usize>) -> Option<Found> {
    let line_start = text[..second.start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[second.start..]
        .find('\n')
        .map_or(text.len(), |i| second.start + i);
    let line = &text[line_start..line_end];
    let mut second = second;
    let (table, key, header) = if let Some(inner) = header_key(line) {
        let mut segments = segments(inner)?;
        let key = segments.pop()?;
        // Underlined as the first header is: the whole dotted key.
        let start = line_start + line.find(inner)?;
        second = start..start + inner.len();
        (segments, key, true)
    } else {
        // A `key = value` line: its dotted key, below the last header above it.
        let (dotted, _) = line.split_once('=')?;
        if second.start >= line_start + dotted.len() {
            return None;
        }
        let mut table = text[..line_start]
            .lines()
            .rev()
            .find_map(header_key)
            .map_or(Some(Vec::new()), segments)?;
        let mut own = segments(dotted.trim())?;
        let key = own.pop()?;
        table.extend(own);
        (table, key, false)
    };
    let first = if header {
        // The recovered document keeps the second header's span for the table: the first
        // header is found in the text.
        first_header(text, line_start, &table, &key)?
    } else {
        find(root, &table, &key, second.start)?
    };
    Some(Found {
        table,
        key,
        header,
        first,
        second,
    })
}

/// The span of the dotted key of the first header above `end` that names the table
/// `table`.`key`.
fn first_header(text: &str, end: usize, table: &[String], key: &str) -> Option<Range<usize>> {
    let mut offset = 0;
    for line in text[..end].split_inclusive('\n') {
        if let Some(inner) = header_key(line) {
            let named = segments(inner).is_some_and(|s| {
                s.len() == table.len() + 1 && s[..table.len()] == *table && s[table.len()] == key
            });
            if named {
                let start = offset + line.find(inner)?;
                return Some(start..start + inner.len());
            }
        }
        offset += line.len();
    }
    None
}

/// The dotted key of a table header line (`[a.b]` or `[[a.b]]`), if `line` is one: up to
/// its closing bracket outside quotes (a comment after it may hold brackets of its own).
fn header_key(line: &str) -> Option<&str> {
    let line = line.trim_start();
    let double = line.starts_with("[[");
    let inner = line.strip_prefix(if double { "[[" } else { "[" })?;
    let mut quote = None;
    let mut escaped = false;
    for (i, ch) in inner.char_indices() {
        match (quote, ch) {
            (Some('"'), '\\') if !escaped => {
                escaped = true;
                continue;
            }
            (Some(q), c) if c == q && !escaped => quote = None,
            (None, '"' | '\'') => quote = Some(ch),
            (None, ']') => {
                if double && !inner[i..].starts_with("]]") {
                    return None;
                }
                let key = inner[..i].trim();
                return (!key.is_empty()).then_some(key);
            }
            _ => {}
        }
        escaped = false;
    }
    None
}

/// The segments of a TOML dotted key, decoded by the TOML parser itself (quoted segments,
/// escapes, whitespace around dots).
fn segments(dotted: &str) -> Option<Vec<String>> {
    let line = format!("{dotted} = 0");
    let doc = DeTable::parse(&line).ok()?;
    let mut out = Vec::new();
    let mut table = doc.get_ref();
    loop {
        let mut entries = table.iter();
        let (k, v) = entries.next()?;
        out.push(k.get_ref().to_string());
        match v.get_ref() {
            DeValue::Table(t) => table = t,
            _ => return Some(out),
        }
    }
}

/// The span of `key`'s definition in the table at `path`, if it starts before `before`. An
/// array of tables on the path is entered at its last element begun before `before`.
fn find(
    root: &Spanned<DeTable<'_>>,
    path: &[String],
    key: &str,
    before: usize,
) -> Option<Range<usize>> {
    let mut table = root.get_ref();
    for segment in path {
        let (_, v) = table.iter().find(|(k, _)| k.get_ref() == segment)?;
        table = match v.get_ref() {
            DeValue::Table(t) => t,
            DeValue::Array(items) => match items
                .iter()
                .rev()
                .find(|i| i.span().start < before)?
                .get_ref()
            {
                DeValue::Table(t) => t,
                _ => return None,
            },
            _ => return None,
        };
    }
    let (k, _) = table.iter().find(|(k, _)| k.get_ref() == key)?;
    (k.span().start < before).then(|| k.span())
}

#[cfg(test)]
mod tests {
    use crate::diag::{Sink, SourceMap, render_all};

    /// The rendered TC0005 diagnostics of `text`.
    fn duplicates(text: &str) -> String {
        let mut map = SourceMap::new();
        let file = map.add("t.toml", text);
        let mut sink = Sink::new();
        assert!(crate::spec::parse(&map, file, &mut sink).is_none());
        let diags = sink.into_sorted();
        assert!(diags.iter().all(|d| d.code.id() == "TC0005"), "{diags:?}");
        render_all(&map, &diags)
    }

    #[test]
    fn a_key_set_twice_is_named_with_its_table_and_first_line() {
        let shown = duplicates("[tenants.a]\npath = \"x\"\nkinds = 1\npath = \"y\"\n");
        assert!(
            shown
                .starts_with("t.toml:4:1: error[TC0005]: key `path` is set twice in `tenants.a`\n"),
            "{shown}"
        );
        assert!(
            shown.contains("2 | path = \"x\"\n  | ---- first defined here"),
            "{shown}"
        );
        // At the top level, and as a dotted key below a header.
        let top = duplicates("version = 1\nversion = 2\n");
        assert!(
            top.contains("key `version` is set twice in `the top level`"),
            "{top}"
        );
        assert!(top.contains("1 | version = 1"), "{top}");
        let dotted = duplicates("[flux]\negress.kube_dns = true\negress.kube_dns = false\n");
        assert!(
            dotted.contains("key `kube_dns` is set twice in `flux.egress`"),
            "{dotted}"
        );
        assert!(dotted.contains("2 | egress.kube_dns = true"), "{dotted}");
    }

    #[test]
    fn a_table_defined_twice_points_at_its_first_header() {
        let shown = duplicates(
            "[signers.\"bob.smith\"]\nemail = \"b@x\"\n\n[other]\n\n[signers.\"bob.smith\"]\nkey = \"k\"\n",
        );
        assert!(
            shown.contains("error[TC0005]: table `[signers.\"bob.smith\"]` is defined twice"),
            "{shown}"
        );
        assert!(
            shown.contains(
                "1 | [signers.\"bob.smith\"]\n  |  ------------------- first defined here"
            ),
            "{shown}"
        );
    }

    #[test]
    fn a_header_is_read_to_its_own_bracket_and_underlined_whole_both_times() {
        let shown = duplicates("[tenants.a] # was [v1]\nx = 1\n\n[tenants.a] # [v2]\ny = 2\n");
        assert!(
            shown.starts_with("t.toml:4:2: error[TC0005]: table `[tenants.a]` is defined twice\n"),
            "{shown}"
        );
        assert!(
            shown.contains("4 | [tenants.a] # [v2]\n  |  ^^^^^^^^^ defined again here"),
            "{shown}"
        );
        assert!(
            shown.contains("1 | [tenants.a] # was [v1]\n  |  --------- first defined here"),
            "{shown}"
        );
        assert_eq!(super::header_key("[[a.\"b]\"]] # ]"), Some("a.\"b]\""));
        assert_eq!(super::header_key("[a] ]"), Some("a"));
        assert_eq!(super::header_key("[[a] ]"), None);
        assert_eq!(super::header_key("x = [1]"), None);
    }

    #[test]
    fn in_an_array_of_tables_the_element_is_the_one_above() {
        let shown = duplicates(
            "[[t.images]]\nname = \"a\"\n\n[[t.images]]\nname = \"b\"\nsemver = \"1\"\nname = \"c\"\n",
        );
        assert!(
            shown.contains("key `name` is set twice in `t.images`"),
            "{shown}"
        );
        // The first `name` of the second element, not of the first.
        assert!(
            shown.contains("5 | name = \"b\"\n  | ---- first defined here"),
            "{shown}"
        );
    }

    #[test]
    fn what_cannot_be_read_back_is_reported_as_the_parser_does() {
        let shown = duplicates("t = { a = 1, a = 2 }\n");
        assert!(
            shown.contains("error[TC0005]: TOML: duplicate key"),
            "{shown}"
        );
        assert!(shown.contains("defined again here"), "{shown}");
    }
}
