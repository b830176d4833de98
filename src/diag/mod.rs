//! Diagnostics: the leaf module every stage reports through.
//!
//! A [`Diagnostic`] carries a stable [`Code`], a severity, a message in the seed's terms,
//! the span of the offending text and a hint. Stages push into a [`Sink`] and keep going
//! (collect, don't bail); the CLI sorts and renders them.

mod code;
mod render;
mod source_map;

pub use code::{Code, Severity};
pub use render::{
    Palette, escape, is_unsafe_char, render_all, render_all_styled, render_github, render_json,
    render_one, render_one_styled,
};
pub use source_map::{FileId, SourceMap};

use std::ops::Range;

/// A byte range in one file of the [`SourceMap`].
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct Span {
    pub file: FileId,
    pub range: Range<usize>,
}

impl Span {
    pub fn new(file: FileId, range: Range<usize>) -> Self {
        Span { file, range }
    }
}

/// A label under a span: the primary one says what is wrong, secondary ones give context.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label {
    pub span: Span,
    pub text: String,
}

/// One problem found in the input or the output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub code: Code,
    pub severity: Severity,
    pub message: String,
    /// Where the offending text is; `None` for problems with no source position
    /// (e.g. a rendered manifest that breaks an invariant).
    pub primary: Option<Label>,
    pub secondary: Vec<Label>,
    pub notes: Vec<String>,
    pub help: Option<String>,
}

impl Diagnostic {
    /// A diagnostic with the code's default severity.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Diagnostic {
            code,
            severity: code.severity(),
            message: message.into(),
            primary: None,
            secondary: Vec::new(),
            notes: Vec::new(),
            help: None,
        }
    }

    pub fn at(mut self, span: Span, label: impl Into<String>) -> Self {
        self.primary = Some(Label {
            span,
            text: label.into(),
        });
        self
    }

    pub fn with_secondary(mut self, span: Span, label: impl Into<String>) -> Self {
        self.secondary.push(Label {
            span,
            text: label.into(),
        });
        self
    }

    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Where stages push what they find.
#[derive(Debug, Default)]
pub struct Sink {
    diags: Vec<Diagnostic>,
}

impl Sink {
    pub fn new() -> Self {
        Sink::default()
    }

    pub fn push(&mut self, diag: impl Into<Diagnostic>) {
        self.diags.push(diag.into());
    }

    pub fn has_errors(&self) -> bool {
        self.diags.iter().any(Diagnostic::is_error)
    }

    pub fn error_count(&self) -> usize {
        self.diags.iter().filter(|d| d.is_error()).count()
    }

    pub fn warning_count(&self) -> usize {
        self.diags.iter().filter(|d| !d.is_error()).count()
    }

    pub fn is_empty(&self) -> bool {
        self.diags.is_empty()
    }

    pub fn extend(&mut self, other: Sink) {
        self.diags.extend(other.diags);
    }

    /// Diagnostics in reading order: by file and position, then code; position-less last.
    pub fn into_sorted(mut self) -> Vec<Diagnostic> {
        self.diags.sort_by(|a, b| {
            let ka = a
                .primary
                .as_ref()
                .map(|l| (l.span.file, l.span.range.start));
            let kb = b
                .primary
                .as_ref()
                .map(|l| (l.span.file, l.span.range.start));
            match (ka, kb) {
                (Some(x), Some(y)) => x.cmp(&y),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            }
            .then(a.code.cmp(&b.code))
            .then(a.message.cmp(&b.message))
        });
        self.diags.dedup();
        self.diags
    }

    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diags.iter()
    }

    /// Turns every warning into an error (`--deny-warnings`).
    pub fn deny_warnings(&mut self) {
        for d in &mut self.diags {
            d.severity = Severity::Error;
        }
    }
}
