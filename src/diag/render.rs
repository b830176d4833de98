//! Renders diagnostics the way rustc and cargo-deny do, with the location first on the line
//! (the command-line contract: `FILE:LINE:COL: error[CODE]: message`).
//!
//! annotate-snippets prints the title before the location, which the contract forbids, so the
//! small renderer lives here; it draws the same shapes (gutter, source line, underline, label,
//! `= note:` and `= help:` lines).

use std::borrow::Cow;
use std::fmt::Write as _;

use anstyle::{AnsiColor, Style};

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

/// A help as drawn: each of its lines [`escape`]d, and the lines after the first indented by
/// `indent` columns, under the first line's text, so that a help of several lines (a TOML
/// table to paste) reads, and pastes, line by line.
fn help_text(help: &str, indent: usize) -> Cow<'_, str> {
    if !help.contains('\n') {
        return escape(help);
    }
    let mut out = String::with_capacity(help.len() + 16);
    for (i, line) in help.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
            out.extend(std::iter::repeat_n(' ', indent));
        }
        out.push_str(&escape(line));
    }
    Cow::Owned(out)
}

/// Styles of the human format on a colour terminal (as rustc draws them: the severity in
/// red or yellow, the gutter and secondary labels in blue). [`Palette::PLAIN`] styles
/// nothing, so the text is byte for byte that of a pipe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Palette {
    pub error: Style,
    pub warning: Style,
    pub location: Style,
    pub message: Style,
    pub gutter: Style,
    pub secondary: Style,
    pub help: Style,
}

impl Palette {
    pub const PLAIN: Palette = Palette {
        error: Style::new(),
        warning: Style::new(),
        location: Style::new(),
        message: Style::new(),
        gutter: Style::new(),
        secondary: Style::new(),
        help: Style::new(),
    };

    pub const COLOUR: Palette = Palette {
        error: AnsiColor::Red.on_default().bold(),
        warning: AnsiColor::Yellow.on_default().bold(),
        location: Style::new().bold(),
        message: Style::new().bold(),
        gutter: AnsiColor::Blue.on_default().bold(),
        secondary: AnsiColor::Blue.on_default().bold(),
        help: AnsiColor::Cyan.on_default().bold(),
    };

    fn severity(&self, diag: &Diagnostic) -> Style {
        if diag.is_error() {
            self.error
        } else {
            self.warning
        }
    }
}

/// `text` wrapped in `style` (nothing added for a plain style).
fn paint(style: Style, text: &str) -> String {
    if style == Style::new() {
        return text.to_string();
    }
    format!("{}{text}{}", style.render(), style.render_reset())
}

/// Renders one diagnostic as plain text (ending with a newline).
pub fn render_one(map: &SourceMap, diag: &Diagnostic) -> String {
    render_one_styled(map, diag, &Palette::PLAIN)
}

/// Renders one diagnostic with the given palette (ending with a newline).
pub fn render_one_styled(map: &SourceMap, diag: &Diagnostic, p: &Palette) -> String {
    let mut out = String::new();
    let sev = p.severity(diag);
    let header = format!(
        "{}{}",
        paint(
            sev,
            &format!("{}[{}]", diag.severity.as_str(), diag.code.id())
        ),
        paint(p.message, &format!(": {}", escape(&diag.message)))
    );
    let bar = paint(p.gutter, "|");
    let note = paint(p.gutter, "=");
    let help_word = paint(p.help, "help");
    match &diag.primary {
        Some(label) => {
            let (line, col) = map.line_col(label.span.file, label.span.range.start);
            let _ = writeln!(
                out,
                "{}: {header}",
                paint(
                    p.location,
                    &format!("{}:{}:{}", escape(map.name(label.span.file)), line, col)
                ),
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
            let _ = writeln!(out, "{pad} {bar}");
            for (l, mark) in labels {
                if l.span.file != last_file {
                    let (ln, cl) = map.line_col(l.span.file, l.span.range.start);
                    let _ = writeln!(
                        out,
                        "{pad}{} {}:{ln}:{cl}",
                        paint(p.gutter, "-->"),
                        escape(map.name(l.span.file))
                    );
                    last_file = l.span.file;
                }
                let style = if mark == '^' { sev } else { p.secondary };
                snippet(&mut out, map, l, mark, width, style, p.gutter);
            }
            // The closing gutter line opens the notes, as rustc draws it: none without them.
            if !diag.notes.is_empty() || diag.help.is_some() {
                let _ = writeln!(out, "{pad} {bar}");
            }
            for n in &diag.notes {
                let _ = writeln!(out, "{pad} {note} note: {}", escape(n));
            }
            if let Some(h) = &diag.help {
                let indent = pad.len() + " = help: ".len();
                let _ = writeln!(out, "{pad} {note} {help_word}: {}", help_text(h, indent));
            }
        }
        None => {
            let _ = writeln!(out, "{header}");
            for n in &diag.notes {
                let _ = writeln!(out, "  {note} note: {}", escape(n));
            }
            if let Some(h) = &diag.help {
                let indent = "  = help: ".len();
                let _ = writeln!(out, "  {note} {help_word}: {}", help_text(h, indent));
            }
        }
    }
    out
}

fn snippet(
    out: &mut String,
    map: &SourceMap,
    label: &Label,
    mark: char,
    width: usize,
    style: Style,
    gutter: Style,
) {
    let file = label.span.file;
    let (line, col) = map.line_col(file, label.span.range.start);
    let (end_line, end_col) = map.line_col(file, label.span.range.end.max(label.span.range.start));
    let text = map.line_text(file, line);
    let bar = paint(gutter, "|");
    let _ = writeln!(
        out,
        "{} {bar} {}",
        paint(gutter, &format!("{line:>width$}")),
        escape(text)
    );
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
    let under = if label.text.is_empty() {
        marks
    } else {
        format!("{marks} {}", escape(&label.text))
    };
    let _ = writeln!(
        out,
        "{:width$} {bar} {}{}",
        "",
        " ".repeat(shown_width(0, start)),
        paint(style, &under)
    );
}

/// Renders all diagnostics, separated by blank lines, with a summary line.
pub fn render_all(map: &SourceMap, diags: &[Diagnostic]) -> String {
    render_all_styled(map, diags, &Palette::PLAIN)
}

/// [`render_all`] with a palette (colour on a terminal).
pub fn render_all_styled(map: &SourceMap, diags: &[Diagnostic], p: &Palette) -> String {
    let mut out = String::new();
    for d in diags {
        out.push_str(&render_one_styled(map, d, p));
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

/// Where a label is: file, 1-based line and column of its first character, and of the
/// character after its last (`end_column` exclusive, as LSP and SARIF count), with the text.
fn span_json(map: &SourceMap, l: &Label, primary: bool) -> serde_json::Value {
    let (line, column) = map.line_col(l.span.file, l.span.range.start);
    let (end_line, end_column) =
        map.line_col(l.span.file, l.span.range.end.max(l.span.range.start));
    serde_json::json!({
        "file": map.name(l.span.file),
        "line": line,
        "column": column,
        "end_line": end_line,
        "end_column": end_column,
        "label": l.text,
        "primary": primary,
    })
}

/// Machine-readable diagnostics (`--format json`): one JSON array. `location` is the
/// primary span; `spans` holds every span, primary first, then the secondary labels.
pub fn render_json(map: &SourceMap, diags: &[Diagnostic]) -> String {
    let items: Vec<serde_json::Value> = diags
        .iter()
        .map(|d| {
            let loc = d.primary.as_ref().map(|l| span_json(map, l, true));
            let spans: Vec<serde_json::Value> = d
                .primary
                .iter()
                .map(|l| span_json(map, l, true))
                .chain(d.secondary.iter().map(|l| span_json(map, l, false)))
                .collect();
            serde_json::json!({
                "code": d.code.id(),
                "name": d.code.name(),
                "severity": d.severity.as_str(),
                "message": d.message,
                "location": loc,
                "spans": spans,
                "notes": d.notes,
                "help": d.help,
            })
        })
        .collect();
    serde_json::to_string_pretty(&items).expect("diagnostics serialize") + "\n"
}

/// GitHub Actions workflow commands (`--format github`): one `::error` or `::warning` per
/// diagnostic, annotating the primary span, titled with the code; notes and help follow the
/// message on their own lines. Control characters are first made visible as in the human
/// format ([`escape`]), then the text is escaped as the runner requires: `%`, CR and LF in
/// the message, and also `:` and `,` in properties (actions/toolkit
/// `packages/core/src/command.ts`, `escapeData` and `escapeProperty`). The toolkit writes the
/// commands to stdout, so trustc does too.
pub fn render_github(map: &SourceMap, diags: &[Diagnostic]) -> String {
    let mut out = String::new();
    for d in diags {
        let command = if d.is_error() { "error" } else { "warning" };
        let mut props = Vec::new();
        if let Some(l) = &d.primary {
            let (line, col) = map.line_col(l.span.file, l.span.range.start);
            let (end_line, end_col) =
                map.line_col(l.span.file, l.span.range.end.max(l.span.range.start));
            props.push(format!(
                "file={}",
                github_property(&escape(map.name(l.span.file)))
            ));
            props.push(format!("line={line}"));
            props.push(format!("col={col}"));
            props.push(format!("endLine={end_line}"));
            props.push(format!("endColumn={end_col}"));
        }
        props.push(format!("title={}", github_property(d.code.id())));
        let mut message = escape(&d.message).into_owned();
        if let Some(l) = &d.primary {
            if !l.text.is_empty() {
                let _ = write!(message, "\n{}", escape(&l.text));
            }
        }
        for l in &d.secondary {
            let (line, col) = map.line_col(l.span.file, l.span.range.start);
            let _ = write!(
                message,
                "\n{}:{line}:{col}: {}",
                escape(map.name(l.span.file)),
                escape(&l.text)
            );
        }
        for n in &d.notes {
            let _ = write!(message, "\nnote: {}", escape(n));
        }
        if let Some(h) = &d.help {
            let _ = write!(message, "\nhelp: {}", help_text(h, "help: ".len()));
        }
        let _ = writeln!(
            out,
            "::{command} {}::{}",
            props.join(","),
            github_data(&message)
        );
    }
    out
}

/// The message of a workflow command: `%`, CR, LF escaped (`escapeData`).
fn github_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A property of a workflow command: also `:` and `,` (`escapeProperty`).
fn github_property(s: &str) -> String {
    github_data(s).replace(':', "%3A").replace(',', "%2C")
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
        // Located, with neither note nor help: the snippet ends at its underline.
        let plain =
            Diagnostic::new(Code::ClusterScopedKind, "plain").at(Span::new(id, 1..10), "here");
        assert_eq!(
            render_one(&map, &plain),
            "trust.toml:1:2: error[TC1005]: plain\n  |\n1 | [tenants.a]\n  |  ^^^^^^^^^ here\n"
        );
        let summary = render_all(&map, &[d, bare]);
        assert!(summary.ends_with("2 errors, 0 warnings\n"), "{summary}");
    }

    fn two_labels() -> (SourceMap, Diagnostic) {
        let mut map = SourceMap::new();
        let id = map.add(
            "dir,a:b%.toml",
            "[tenants.a]\nallowed_kinds = [\"ClusterRoleBinding\"]\n",
        );
        let d = Diagnostic::new(Code::ClusterScopedKind, "50% of `a`\r\nis bad")
            .at(Span::new(id, 29..47), "cluster-scoped")
            .with_secondary(Span::new(id, 1..10), "tenant defined here")
            .note("a note")
            .help("remove it");
        (map, d)
    }

    #[test]
    fn a_help_of_several_lines_is_drawn_line_by_line_under_its_first() {
        let mut map = SourceMap::new();
        let id = map.add("trust.toml", "url = \"https://git.example.com/x\"\n");
        let d = Diagnostic::new(Code::EgressByPortOnly, "no addresses")
            .at(Span::new(id, 6..32), "a host")
            .help("name its addresses:\n[[flux.egress.destinations]]\nhost = \"a\u{1b}b\"");
        assert_eq!(
            render_one(&map, &d),
            "trust.toml:1:7: warning[TC1071]: no addresses\n  |\n1 | url = \"https://git.example.com/x\"\n  |       ^^^^^^^^^^^^^^^^^^^^^^^^^^ a host\n  |\n  = help: name its addresses:\n          [[flux.egress.destinations]]\n          host = \"a\\u{1b}b\"\n"
        );
        let bare = Diagnostic::new(Code::EgressByPortOnly, "no position").help("a:\nb");
        assert_eq!(
            render_one(&map, &bare),
            "warning[TC1071]: no position\n  = help: a:\n          b\n"
        );
        // In a workflow command, one line still: the help's lines are %0A.
        let gh = render_github(&map, &[d]);
        assert_eq!(gh.lines().count(), 1);
        assert!(
            gh.contains(
                "help: name its addresses:%0A      [[flux.egress.destinations]]%0A      host"
            ),
            "{gh}"
        );
    }

    #[test]
    fn json_carries_every_span_with_its_end() {
        let (map, d) = two_labels();
        let v: serde_json::Value = serde_json::from_str(&render_json(&map, &[d])).unwrap();
        let spans = v[0]["spans"].as_array().unwrap();
        assert_eq!(spans.len(), 2);
        assert_eq!(
            spans[0],
            serde_json::json!({"file": "dir,a:b%.toml", "line": 2, "column": 18, "end_line": 2,
                "end_column": 36, "label": "cluster-scoped", "primary": true})
        );
        assert_eq!(
            spans[1],
            serde_json::json!({"file": "dir,a:b%.toml", "line": 1, "column": 2, "end_line": 1,
                "end_column": 11, "label": "tenant defined here", "primary": false})
        );
        assert_eq!(v[0]["location"], spans[0]);
    }

    #[test]
    fn github_commands_are_escaped_as_the_runner_reads_them() {
        let (map, d) = two_labels();
        let bare = Diagnostic::new(Code::TenantWildcardGrant, "no \u{1b}[2J position");
        let text = render_github(&map, &[d, bare]);
        assert_eq!(
            text,
            "::error file=dir%2Ca%3Ab%25.toml,line=2,col=18,endLine=2,endColumn=36,title=TC1005::50%25 of `a`\\r\\nis bad%0Acluster-scoped%0Adir,a:b%25.toml:1:2: tenant defined here%0Anote: a note%0Ahelp: remove it\n\
             ::error title=TC3002::no \\u{1b}[2J position\n"
        );
        // One line per diagnostic, no raw control character.
        assert_eq!(text.lines().count(), 2);
        assert!(!text.chars().any(|c| c != '\n' && is_unsafe_char(c)));
    }

    #[test]
    fn colour_adds_only_styles() {
        let (map, d) = two_labels();
        let plain = render_all(&map, std::slice::from_ref(&d));
        let coloured = render_all_styled(&map, std::slice::from_ref(&d), &Palette::COLOUR);
        assert!(
            coloured.contains("\u{1b}[1m\u{1b}[31merror[TC1005]\u{1b}[0m"),
            "{coloured:?}"
        );
        // Stripping the SGR sequences gives the plain text back, byte for byte.
        let stripped = regex::Regex::new("\u{1b}\\[[0-9;]*m")
            .unwrap()
            .replace_all(&coloured, "");
        assert_eq!(stripped, plain);
        assert!(!plain.contains('\u{1b}'));
    }
}
