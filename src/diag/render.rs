//! Renders diagnostics the way rustc and cargo-deny do, with the location first on the line
//! (the command-line contract: `FILE:LINE:COL: error[CODE]: message`).
//!
//! annotate-snippets prints the title before the location, which the contract forbids, so the
//! small renderer lives here; it draws the same shapes (gutter, source line, underline, label,
//! `= note:` and `= help:` lines).

use std::borrow::Cow;
use std::fmt::Write as _;

use super::{Diagnostic, Label, SourceMap};

/// Whether a character would act on a terminal instead of being shown: C0 and C1 controls
/// (ESC starts ANSI and OSC 52 clipboard sequences, BEL, CR rewrites the line), DEL, and the
/// bidirectional overrides and isolates (U+202A-202E, U+2066-2069) plus the invisible
/// direction marks (U+200E, U+200F, U+061C) that reorder what a reviewer reads.
pub fn is_unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
        || matches!(c, '\u{200E}' | '\u{200F}' | '\u{061C}')
}

/// Text from the input (spec values, file names, raw bytes) made safe for a terminal: every
/// [`is_unsafe_char`] is written as a visible escape (`\n`, `\r`, `\t`, `\u{1b}`), as
/// `--format json` does.
pub fn escape(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_unsafe_char) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_unsafe_char(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Renders one diagnostic as plain text (ending with a newline).
pub fn render_one(map: &SourceMap, diag: &Diagnostic) -> String {
    let mut out = String::new();
    let header = format!(
        "{}[{}]: {}",
        diag.severity.as_str(),
        diag.code.id(),
        escape(&diag.message)
    );
    match &diag.primary {
        Some(label) => {
            let (line, col) = map.line_col(label.span.file, label.span.range.start);
            let _ = writeln!(
                out,
                "{}:{}:{}: {header}",
                escape(map.name(label.span.file)),
                line,
                col
            );
            let mut labels: Vec<(&Label, char)> = vec![(label, '^')];
            labels.extend(diag.secondary.iter().map(|l| (l, '-')));
            let width = labels
                .iter()
                .map(|(l, _)| map.line_col(l.span.file, l.span.range.start).0)
                .max()
                .unwrap_or(1)
                .to_string()
                .len();
            let pad = " ".repeat(width);
            let mut last_file = label.span.file;
            let _ = writeln!(out, "{pad} |");
            for (l, mark) in labels {
                if l.span.file != last_file {
                    let (ln, cl) = map.line_col(l.span.file, l.span.range.start);
                    let _ = writeln!(out, "{pad}--> {}:{ln}:{cl}", escape(map.name(l.span.file)));
                    last_file = l.span.file;
                }
                snippet(&mut out, map, l, mark, width);
            }
            let _ = writeln!(out, "{pad} |");
            for n in &diag.notes {
                let _ = writeln!(out, "{pad} = note: {}", escape(n));
            }
            if let Some(h) = &diag.help {
                let _ = writeln!(out, "{pad} = help: {}", escape(h));
            }
        }
        None => {
            let _ = writeln!(out, "{header}");
            for n in &diag.notes {
                let _ = writeln!(out, "  = note: {}", escape(n));
            }
            if let Some(h) = &diag.help {
                let _ = writeln!(out, "  = help: {}", escape(h));
            }
        }
    }
    out
}

fn snippet(out: &mut String, map: &SourceMap, label: &Label, mark: char, width: usize) {
    let file = label.span.file;
    let (line, col) = map.line_col(file, label.span.range.start);
    let (end_line, end_col) = map.line_col(file, label.span.range.end.max(label.span.range.start));
    let text = map.line_text(file, line);
    let _ = writeln!(out, "{line:>width$} | {}", escape(text));
    let line_chars = text.chars().count();
    let end = if end_line == line {
        end_col
    } else {
        line_chars + 1
    };
    // Columns count characters of the raw line; an escaped character takes several cells,
    // so the underline is measured on the escaped text.
    let chars: Vec<char> = text.chars().collect();
    let shown_width = |from: usize, to: usize| -> usize {
        (from..to)
            .map(|i| match chars.get(i) {
                Some(&c) if is_unsafe_char(c) => c.escape_default().count(),
                _ => 1,
            })
            .sum()
    };
    let start = col.saturating_sub(1);
    let len = shown_width(start, end.saturating_sub(1)).max(1);
    let marks: String = std::iter::repeat_n(mark, len).collect();
    let _ = write!(
        out,
        "{:width$} | {}{}",
        "",
        " ".repeat(shown_width(0, start)),
        marks
    );
    if label.text.is_empty() {
        out.push('\n');
    } else {
        let _ = writeln!(out, " {}", escape(&label.text));
    }
}

/// Renders all diagnostics, separated by blank lines, with a summary line.
pub fn render_all(map: &SourceMap, diags: &[Diagnostic]) -> String {
    let mut out = String::new();
    for d in diags {
        out.push_str(&render_one(map, d));
        out.push('\n');
    }
    let errors = diags.iter().filter(|d| d.is_error()).count();
    let warnings = diags.len() - errors;
    if !diags.is_empty() {
        let _ = writeln!(
            out,
            "{} error{}, {} warning{}",
            errors,
            if errors == 1 { "" } else { "s" },
            warnings,
            if warnings == 1 { "" } else { "s" }
        );
    }
    out
}

/// Machine-readable diagnostics (`--format json`): one JSON array.
pub fn render_json(map: &SourceMap, diags: &[Diagnostic]) -> String {
    let items: Vec<serde_json::Value> = diags
        .iter()
        .map(|d| {
            let loc = d.primary.as_ref().map(|l| {
                let (line, column) = map.line_col(l.span.file, l.span.range.start);
                serde_json::json!({
                    "file": map.name(l.span.file),
                    "line": line,
                    "column": column,
                    "label": l.text,
                })
            });
            serde_json::json!({
                "code": d.code.id(),
                "name": d.code.name(),
                "severity": d.severity.as_str(),
                "message": d.message,
                "location": loc,
                "notes": d.notes,
                "help": d.help,
            })
        })
        .collect();
    serde_json::to_string_pretty(&items).expect("diagnostics serialize") + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::{Code, Diagnostic, Span};

    #[test]
    fn renders_every_shape() {
        let mut map = SourceMap::new();
        let id = map.add(
            "trust.toml",
            "[tenants.a]\nallowed_kinds = [\"ClusterRoleBinding\"]\n",
        );
        let d = Diagnostic::new(
            Code::ClusterScopedKind,
            "tenant `a` asks for a cluster-scoped kind",
        )
        .at(Span::new(id, 29..47), "cluster-scoped")
        .with_secondary(Span::new(id, 1..10), "tenant defined here")
        .note("a note")
        .help("remove it");
        let text = render_one(&map, &d);
        assert_eq!(
            text,
            "trust.toml:2:18: error[TC1005]: tenant `a` asks for a cluster-scoped kind\n  |\n2 | allowed_kinds = [\"ClusterRoleBinding\"]\n  |                  ^^^^^^^^^^^^^^^^^^ cluster-scoped\n1 | [tenants.a]\n  |  --------- tenant defined here\n  |\n  = note: a note\n  = help: remove it\n"
        );
        let bare = Diagnostic::new(Code::TenantWildcardGrant, "no position");
        // Control characters and bidi overrides are shown escaped, the underline still
        // under the value.
        let mut map2 = SourceMap::new();
        let f = map2.add("t.toml", "url = \"a\u{1b}]52;c;x\u{7}\u{202e}b\"\n");
        let d2 = Diagnostic::new(Code::ControlCharacter, "bad `a\u{1b}[2J\r`")
            .at(Span::new(f, 6..22), "here\u{7}")
            .help("h\u{2066}");
        let t2 = render_one(&map2, &d2);
        assert!(
            !t2.chars().any(|c| c != '\n' && is_unsafe_char(c)),
            "{t2:?}"
        );
        assert_eq!(
            t2,
            "t.toml:1:7: error[TC0008]: bad `a\\u{1b}[2J\\r`\n  |\n1 | url = \"a\\u{1b}]52;c;x\\u{7}\\u{202e}b\"\n  |       ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^ here\\u{7}\n  |\n  = help: h\\u{2066}\n"
        );
        assert_eq!(render_one(&map, &bare), "error[TC3002]: no position\n");
        let summary = render_all(&map, &[d, bare]);
        assert!(summary.ends_with("2 errors, 0 warnings\n"), "{summary}");
    }
}
