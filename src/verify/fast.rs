//! The fast path of the parse-back: the strict subset of YAML that trustc's templates render,
//! parsed straight into [`serde_json::Value`].
//!
//! The subset: block mappings and block sequences (a sequence may sit at its key's column,
//! items open with `- ` and one space), comment and blank lines, `---` between documents,
//! keys that are plain words or JSON strings, and values that are either one line of JSON
//! (what the templates' JSON auto-escape writes: strings, `[...]`, `{...}`, integers,
//! booleans, `null`) or a plain word (`Deny`, `5m`, `true`, `8080`).
//!
//! [`parse`] returns `None` for any text outside the subset (a block scalar, a tab, a
//! duplicate key, a float, a flow collection that is not JSON, a plain scalar YAML 1.1 would
//! read as a boolean, …) and the caller parses that text with serde-saphyr, as it did before
//! this module existed. So the subset decides only the speed, never the result: on every text
//! it accepts, its documents equal serde-saphyr's. The tests hold it to that on every file
//! trustc renders for the example spec and on seeded random edits of those files.
//!
//! Why it exists: parsing trustc's own rendering back, with its allocations, was about a third
//! of `generate`'s CPU time (`docs/performance.md`); this path does the same job several times
//! faster.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// Deepest block nesting accepted; deeper texts go to the full parser.
const MAX_DEPTH: usize = 64;

/// The documents of `text` (empty documents dropped), or `None` when `text` is outside the
/// subset this module reads (the caller then uses the full YAML parser).
///
/// A text of [`SPLIT_BYTES`] or more (an environment's alert routing is 30,000 documents and
/// 13 MB at 5,000 tenants, which one worker parsed while the other waited) is cut at
/// document separators into runs of about [`RUN_BYTES`], parsed in parallel and joined in
/// order: the same documents, since nothing but the documents crosses a separator.
pub(super) fn parse(text: &str) -> Option<Vec<Value>> {
    if text.len() < SPLIT_BYTES {
        return parse_run(text);
    }
    use rayon::prelude::*;
    let parsed: Vec<Option<Vec<Value>>> = runs_of(text).into_par_iter().map(parse_run).collect();
    let mut docs = Vec::new();
    for run in parsed {
        docs.extend(run?);
    }
    Some(docs)
}

/// The size from which [`parse`] parses runs of documents in parallel.
const SPLIT_BYTES: usize = 256 * 1024;
/// The least size of a run but the last.
const RUN_BYTES: usize = 64 * 1024;

/// `text` cut at separator lines (`---` at column 0, maybe followed by spaces: what
/// [`parse_run`] takes for one), each run but the last at least [`RUN_BYTES`] long; the
/// separator lines where it is cut are in no run.
fn runs_of(text: &str) -> Vec<&str> {
    let b = text.as_bytes();
    let mut runs = Vec::new();
    let (mut run, mut line) = (0, 0);
    while line < b.len() {
        let end = b[line..]
            .iter()
            .position(|&c| c == b'\n')
            .map_or(b.len(), |i| line + i);
        if line - run >= RUN_BYTES && text[line..end].trim_end_matches(' ') == "---" {
            runs.push(&text[run..line]);
            run = (end + 1).min(b.len());
        }
        line = end + 1;
    }
    runs.push(&text[run..]);
    runs
}

/// [`parse`] on one worker.
fn parse_run(text: &str) -> Option<Vec<Value>> {
    if !plain_bytes(text.as_bytes()) {
        return None;
    }
    let mut docs = Vec::new();
    let mut lines: Vec<Line<'_>> = Vec::new();
    // Lines split by hand: they are short, and `str::split` pays a searcher's set-up for each.
    let bytes = text.as_bytes();
    let mut start = 0;
    while start <= bytes.len() {
        let end = bytes[start..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(bytes.len(), |i| start + i);
        let raw = &text[start..end];
        start = end + 1;
        let trimmed = raw.trim_end_matches(' ');
        let body = trimmed.trim_start_matches(' ');
        if body.is_empty() || body.starts_with('#') {
            continue;
        }
        let indent = trimmed.len() - body.len();
        if indent == 0 {
            if body == "---" {
                parse_document(&mut lines, &mut docs)?;
                continue;
            }
            if body.starts_with("---") || body.starts_with("...") || body.starts_with('%') {
                return None;
            }
        }
        lines.push(Line { indent, text: body });
    }
    parse_document(&mut lines, &mut docs)?;
    Some(docs)
}

/// Bytes outside the subset anywhere in the text: control characters other than the line
/// feed (tabs and carriage returns included), DEL, C1 controls, the Unicode line and
/// paragraph separators, the byte order mark and the noncharacters U+FFFE/U+FFFF. YAML gives
/// some of these meanings of their own (line breaks, indentation), so they go to the full
/// parser.
fn plain_bytes(b: &[u8]) -> bool {
    // Printable ASCII and line feeds, as almost every rendered text is: checked a chunk at a
    // time (a loop the compiler vectorises), before the byte-by-byte rule below.
    if b.chunks(64).all(|c| {
        c.iter().fold(true, |ok, &x| {
            ok & ((0x20..0x7F).contains(&x) | (x == b'\n'))
        })
    }) {
        return true;
    }
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c < 0x80 {
            if (c < 0x20 && c != b'\n') || c == 0x7F {
                return false;
            }
        } else {
            let n1 = b.get(i + 1).copied().unwrap_or(0);
            let n2 = b.get(i + 2).copied().unwrap_or(0);
            let bad = (c == 0xC2 && (0x80..=0x9F).contains(&n1))
                || (c == 0xE2 && n1 == 0x80 && (n2 == 0xA8 || n2 == 0xA9))
                || (c == 0xEF && n1 == 0xBB && n2 == 0xBF)
                || (c == 0xEF && n1 == 0xBF && (n2 == 0xBE || n2 == 0xBF));
            if bad {
                return false;
            }
        }
        i += 1;
    }
    true
}

/// One significant line: its indentation (spaces) and its content, trailing spaces removed.
#[derive(Clone, Copy)]
struct Line<'a> {
    indent: usize,
    text: &'a str,
}

fn parse_document<'a>(lines: &mut Vec<Line<'a>>, docs: &mut Vec<Value>) -> Option<()> {
    if lines.is_empty() {
        return Some(());
    }
    let mut p = Parser {
        lines: std::mem::take(lines),
        pos: 0,
        entries: Vec::new(),
        items: Vec::new(),
    };
    let first = p.lines[0].indent;
    let doc = p.block(first, 0)?;
    if p.pos != p.lines.len() {
        return None;
    }
    docs.push(doc);
    Some(())
}

struct Parser<'a> {
    lines: Vec<Line<'a>>,
    pos: usize,
    /// The entries of the mappings being read, innermost last: each mapping takes its own
    /// from the top when it ends (one buffer for the document instead of one growing vector
    /// per mapping, moved into the map and freed).
    entries: Vec<(String, Value)>,
    /// The same for the items of the sequences being read.
    items: Vec<Value>,
}

fn is_item(text: &str) -> bool {
    text == "-" || text.starts_with("- ")
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<Line<'a>> {
        self.lines.get(self.pos).copied()
    }

    /// The block whose first line is the current one, at column `indent`.
    fn block(&mut self, indent: usize, depth: usize) -> Option<Value> {
        if depth > MAX_DEPTH {
            return None;
        }
        let line = self.peek()?;
        if line.indent != indent {
            return None;
        }
        if is_item(line.text) {
            self.sequence(indent, depth)
        } else {
            self.mapping(indent, depth)
        }
    }

    /// Nothing may follow a one-line value more indented than its key or item (that would be
    /// a continuation line or a structure the subset does not read).
    fn no_continuation(&self, indent: usize) -> Option<()> {
        match self.peek() {
            Some(next) if next.indent > indent => None,
            _ => Some(()),
        }
    }

    fn mapping(&mut self, indent: usize, depth: usize) -> Option<Value> {
        let start = self.entries.len();
        while let Some(line) = self.peek() {
            if line.indent < indent {
                break;
            }
            if line.indent > indent || is_item(line.text) {
                return None;
            }
            let (key, rest) = split_key(line.text)?;
            self.pos += 1;
            let value = if rest.is_empty() {
                match self.peek() {
                    Some(next) if next.indent > indent => self.block(next.indent, depth + 1)?,
                    // A sequence may sit at its key's column.
                    Some(next) if next.indent == indent && is_item(next.text) => {
                        self.sequence(indent, depth + 1)?
                    }
                    // An empty value (null): left to the full parser.
                    _ => return None,
                }
            } else {
                let v = inline(rest)?;
                self.no_continuation(indent)?;
                v
            };
            self.entries.push((key, value));
        }
        exact_map(self.entries.drain(start..)).map(Value::Object)
    }

    fn sequence(&mut self, indent: usize, depth: usize) -> Option<Value> {
        let start = self.items.len();
        while let Some(line) = self.peek() {
            if line.indent < indent || (line.indent == indent && !is_item(line.text)) {
                break;
            }
            if line.indent > indent {
                return None;
            }
            let rest = line.text.strip_prefix("- ")?;
            if rest.starts_with(' ') {
                return None;
            }
            let inner = indent + 2;
            if is_item(rest) || opens_key(rest) {
                // The rest of the line opens a block at column `inner`.
                self.lines[self.pos] = Line {
                    indent: inner,
                    text: rest,
                };
                let item = self.block(inner, depth + 1)?;
                self.items.push(item);
            } else {
                self.pos += 1;
                self.items.push(inline(rest)?);
                self.no_continuation(indent)?;
            }
        }
        // Collected from an exact-size iterator: allocated to the number of items.
        Some(Value::Array(self.items.drain(start..).collect()))
    }
}

/// A map of exactly these entries, allocated to their number (a document is held until the
/// invariants have read it: growth slack would be most of its memory); `None` on a
/// duplicate key.
fn exact_map(
    entries: impl ExactSizeIterator<Item = (String, Value)>,
) -> Option<Map<String, Value>> {
    let mut map = Map::with_capacity(entries.len());
    for (k, v) in entries {
        if map.insert(k, v).is_some() {
            return None;
        }
    }
    Some(map)
}

/// Whether [`split_key`] reads a key from `text`, without making the key (a sequence item's
/// line is tested for one before it is read as a mapping).
fn opens_key(text: &str) -> bool {
    if text.starts_with('"') {
        return split_key(text).is_some();
    }
    let Some(colon) = text.bytes().position(|b| b == b':') else {
        return false;
    };
    let after = &text[colon + 1..];
    plain_key(&text[..colon]) && (after.is_empty() || after.starts_with(' '))
}

/// `key: rest` or `key:` (rest empty): the key (a plain word or a JSON string) and what
/// follows the `: `.
fn split_key(text: &str) -> Option<(String, &str)> {
    let (key, after) = if text.starts_with('"') {
        let end = json_string_end(text)?;
        let key: String = match unescaped_string(&text[..end]) {
            Some(key) => key.to_string(),
            None => serde_json::from_str(&text[..end]).ok()?,
        };
        if has_surrogate_escape(&text[..end]) {
            return None;
        }
        (key, &text[end..])
    } else {
        let colon = text.bytes().position(|b| b == b':')?;
        let key = &text[..colon];
        if !plain_key(key) {
            return None;
        }
        (key.to_string(), &text[colon..])
    };
    let after = after.strip_prefix(':')?;
    if after.is_empty() {
        return Some((key, after));
    }
    let rest = after.strip_prefix(' ')?.trim_start_matches(' ');
    Some((key, rest))
}

/// Byte offset just past the closing quote of the JSON string `text` starts with.
fn json_string_end(text: &str) -> Option<usize> {
    let b = text.as_bytes();
    let mut i = 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// A `\uD800`–`\uDFFF` escape: JSON pairs surrogates into one character, YAML does not
/// promise to; left to the full parser.
fn has_surrogate_escape(s: &str) -> bool {
    let b = s.as_bytes();
    b.windows(4).any(|w| {
        w[0] == b'\\'
            && w[1] == b'u'
            && matches!(w[2], b'd' | b'D')
            && matches!(w[3], b'8'..=b'9' | b'a'..=b'f' | b'A'..=b'F')
    })
}

/// Words YAML 1.1 or 1.2 reads as booleans or null in some spelling (any ASCII case).
fn special_word(word: &str) -> bool {
    word.len() <= 5
        && ["y", "n", "yes", "no", "on", "off", "true", "false", "null"]
            .iter()
            .any(|w| w.eq_ignore_ascii_case(word))
}

/// A plain mapping key: starts with an ASCII letter, then letters, digits, `_ . / -`, and is
/// no word YAML reads as anything but a string.
fn plain_key(key: &str) -> bool {
    let b = key.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphabetic()
        && b.iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'/' | b'-'))
        && !special_word(key)
}

/// A value on its key's or item's line.
fn inline(rest: &str) -> Option<Value> {
    match rest.as_bytes()[0] {
        b'"' | b'[' | b'{' => json(rest),
        _ => plain(rest),
    }
}

/// A plain scalar: a string that starts with a letter, `/` or `./`, then letters, digits,
/// inner spaces and `_ . / - : @ = + , ( ) '` (a `:` never before a space or at the end);
/// `true`, `false`, `null` exactly; a decimal integer; or a Go duration (`5m`, `1h30m`).
/// Anything YAML could read otherwise (other spellings of booleans and null, octal, hex,
/// floats, timestamps, sexagesimal numbers, a comment, an indicator first) is left to the
/// full parser.
fn plain(s: &str) -> Option<Value> {
    let b = s.as_bytes();
    let first = b[0];
    if first.is_ascii_digit() {
        if b.iter().all(u8::is_ascii_digit) {
            if (b.len() > 1 && first == b'0') || b.len() > 18 {
                return None;
            }
            return s.parse::<i64>().ok().map(|n| Value::Number(n.into()));
        }
        return duration(s).then(|| Value::String(s.to_string()));
    }
    let starts_well =
        first.is_ascii_alphabetic() || first == b'/' || (first == b'.' && b.get(1) == Some(&b'/'));
    let inner = |c: u8| {
        c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'_' | b'.'
                    | b'/'
                    | b'-'
                    | b' '
                    | b':'
                    | b'@'
                    | b'='
                    | b'+'
                    | b','
                    | b'('
                    | b')'
                    | b'\''
            )
    };
    if !starts_well
        || !b.iter().all(|&c| inner(c))
        || s.ends_with(' ')
        || s.ends_with(':')
        || s.contains(": ")
    {
        return None;
    }
    if special_word(s) {
        return match s {
            "true" => Some(Value::Bool(true)),
            "false" => Some(Value::Bool(false)),
            "null" => Some(Value::Null),
            _ => None,
        };
    }
    Some(Value::String(s.to_string()))
}

/// `([0-9]+(ms|s|m|h))+`: a Go duration as Flux writes intervals.
fn duration(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return false;
        }
        if b[i..].starts_with(b"ms") {
            i += 2;
        } else if i < b.len() && matches!(b[i], b's' | b'm' | b'h') {
            i += 1;
        } else {
            return false;
        }
    }
    !b.is_empty()
}

/// One line of JSON: objects without duplicate keys, integers from 0 to `i64::MAX`, no
/// surrogate escapes. Anything else is left to the full parser.
fn json(s: &str) -> Option<Value> {
    if let Some(text) = unescaped_string(s) {
        return Some(Value::String(text.to_string()));
    }
    if has_surrogate_escape(s) {
        return None;
    }
    let mut de = serde_json::Deserializer::from_str(s);
    let v = Strict::deserialize(&mut de).ok()?;
    de.end().ok()?;
    Some(v.0)
}

/// The text of `s` when `s` is exactly one JSON string with no escape: `"`, then no `"`, `\`
/// or control character, then `"`. Such a string is its own text in JSON and in a YAML
/// double-quoted scalar alike, so it needs no deserializer (most values trustc renders are
/// such strings).
fn unescaped_string(s: &str) -> Option<&str> {
    let inner = s.strip_prefix('"')?.strip_suffix('"')?;
    inner
        .bytes()
        .all(|b| b >= 0x20 && b != b'"' && b != b'\\')
        .then_some(inner)
}

/// A JSON value that refuses what YAML reads differently from JSON or refuses itself.
struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Strict;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value in the subset")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Strict, E> {
        Ok(Strict(Value::Bool(v)))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Strict, E> {
        if v < 0 {
            return Err(E::custom("negative"));
        }
        Ok(Strict(Value::Number(v.into())))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Strict, E> {
        if v > i64::MAX as u64 {
            return Err(E::custom("large"));
        }
        Ok(Strict(Value::Number(Number::from(v))))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Strict, E> {
        Err(E::custom("float"))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Strict, E> {
        Ok(Strict(Value::String(v.to_string())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Strict, E> {
        Ok(Strict(Value::String(v)))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Strict, E> {
        Ok(Strict(Value::Null))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Strict, A::Error> {
        let mut items = Vec::new();
        while let Some(Strict(v)) = seq.next_element()? {
            items.push(v);
        }
        items.shrink_to_fit();
        Ok(Strict(Value::Array(items)))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Strict, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = access.next_key::<String>()? {
            let Strict(v) = access.next_value()?;
            entries.push((key, v));
        }
        exact_map(entries.into_iter())
            .map(|m| Strict(Value::Object(m)))
            .ok_or_else(|| de::Error::custom("duplicate key"))
    }
}

#[cfg(test)]
mod tests {
    use super::{RUN_BYTES, SPLIT_BYTES, parse, parse_run, runs_of};
    use serde_json::Value;

    /// What serde-saphyr reads, as `parse_documents` did before this module.
    fn full(text: &str) -> Option<Vec<Value>> {
        super::super::parse_documents_full(text).ok()
    }

    /// The fast path agrees with the full parser whenever it answers.
    fn agrees(text: &str) -> bool {
        match parse(text) {
            None => true,
            Some(fast) => full(text).as_ref() == Some(&fast),
        }
    }

    fn example_rendering() -> Vec<crate::render::Rendered> {
        let policy = crate::testing::example_policy();
        let set = crate::render::TemplateSet::embedded();
        let mut files = crate::render::render(&policy, &set).expect("renders");
        let paths: Vec<String> = files.iter().map(|r| r.path.clone()).collect();
        files.extend(crate::render::kustomizations(&paths, &set).expect("renders"));
        files
    }

    /// Every file trustc renders for the example: the fast path reads all but the few
    /// templates with block scalars, and reads them exactly as serde-saphyr does.
    #[test]
    fn reads_the_example_rendering_as_serde_saphyr_does() {
        let files = example_rendering();
        let mut slow: Vec<&str> = Vec::new();
        for r in &files {
            match parse(&r.text) {
                Some(docs) => assert_eq!(
                    Some(docs),
                    full(&r.text),
                    "`{}` ({}) reads differently",
                    r.path,
                    r.template
                ),
                None => slow.push(&r.template),
            }
        }
        slow.sort_unstable();
        slow.dedup();
        // Block scalars (the lock-down's JSON patches, kube-state-metrics' config, a PromQL
        // expression) are outside the subset: one file each per environment.
        assert_eq!(
            slow,
            [
                "flux/lockdown.yaml.j2",
                "monitoring/kube-state-metrics.yaml.j2",
                "monitoring/prometheus-rule.yaml.j2"
            ],
            "templates left to the full parser"
        );
        assert!(files.len() > 50);
    }

    /// Quoted strings, read without a deserializer when they hold no escape: the same
    /// documents as the full parser's, and a quote or backslash inside is still read as the
    /// escape it is.
    #[test]
    fn quoted_strings_read_as_serde_saphyr_reads_them() {
        for (quoted, text) in [
            (r#""plain""#, Some("plain")),
            (
                r#""with spaces: and # marks""#,
                Some("with spaces: and # marks"),
            ),
            (r#""é ｱ""#, Some("é ｱ")),
            (r#""""#, Some("")),
            (r#""a\"b""#, None),
            (r#""a\\b""#, None),
            (r#""a\u0041""#, None),
            (r#""a" "b""#, None),
        ] {
            assert_eq!(super::unescaped_string(quoted), text, "{quoted}");
            for doc in [
                format!("k: {quoted}\n"),
                format!("{quoted}: v\n"),
                format!("- {quoted}\n"),
            ] {
                let fast = parse(&doc);
                if text.is_some() {
                    assert!(fast.is_some(), "{doc:?} left to the full parser");
                }
                assert!(agrees(&doc), "{doc:?} reads differently");
            }
        }
    }

    /// Texts the subset must leave to the full parser, each for its reason.
    #[test]
    fn leaves_everything_else_to_the_full_parser() {
        for text in [
            "a: 1\na: 2\n",              // duplicate key
            "a: {\"b\": 1, \"b\": 2}\n", // duplicate key in JSON
            "a:\tb\n",                   // tab
            "a: b\r\n",                  // carriage return
            "a: |\n  x\n",               // block scalar
            "a: yes\n",                  // YAML 1.1 boolean
            "a: True\n",                 // other spelling
            "a: ~\n",                    // null
            "a:\n",                      // empty value
            "a: 1.5\n",                  // float
            "a: [1.5]\n",                // float in JSON
            "a: 0o17\n",                 // octal
            "a: 0x1F\n",                 // hex
            "a: 017\n",                  // leading zero
            "a: 1e3\n",                  // exponent
            "a: 2001-12-14\n",           // timestamp
            "a: b # c\n",                // comment after a value
            "a: b\n  c\n",               // continuation line
            "a: &x b\n",                 // anchor
            "a: *x\n",                   // alias
            "a: !tag b\n",               // tag
            "a: [b, c]\n",               // YAML flow, not JSON
            "a: \"\\ud83d\\ude00\"\n",   // surrogate pair escape
            "a: \"x\u{2028}y\"\n",       // line separator
            "a: \"x\u{85}y\"\n",         // next line
            "\u{feff}a: b\n",            // byte order mark
            "%YAML 1.2\n---\na: b\n",    // directive
            "a: b\n...\n",               // document end
            "--- a\n",                   // content on the marker line
            "? a\n: b\n",                // complex key
            "- a\n-  b\n",               // two spaces after the dash
            "a:\n   - b\n  c: d\n",      // bad indentation
            "a: -1\n",                   // negative integer
            "a: 99999999999999999999\n", // out of range
            "y: b\n",                    // key read as a boolean by YAML 1.1
            "a: b: c\n",                 // a second key on the line
            "a: b:\n",                   // colon at the end
            "a: 1:30\n",                 // sexagesimal (YAML 1.1)
            "a: .inf\n",                 // float
            "a: b #c\n",                 // comment
            "a: {b: c}\n",               // YAML flow mapping
        ] {
            assert_eq!(parse(text), None, "{text:?} was read by the fast path");
        }
    }

    /// A large text is parsed in runs cut at separators, to the documents one pass reads:
    /// separators followed by spaces, at the end without a line feed, or doubled (an empty
    /// document) included; and a text outside the subset in any run is left to the full
    /// parser.
    #[test]
    fn a_large_text_parsed_in_runs_reads_as_one_pass() {
        let doc = |i: usize| {
            format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: \"c{i}\"\ndata:\n  k: \"{}\"\n",
                "v".repeat(i % 300)
            )
        };
        let mut text = String::new();
        for i in 0..3000 {
            text.push_str(&doc(i));
            text.push_str(match i % 4 {
                0 => "---\n",
                1 => "---   \n",
                2 => "---\n---\n",
                _ => "# a comment\n---\n",
            });
        }
        text.push_str("---");
        assert!(text.len() > 2 * SPLIT_BYTES);
        let runs = runs_of(&text);
        assert!(runs.len() > 8, "{} runs", runs.len());
        assert!(runs[..runs.len() - 1].iter().all(|r| r.len() >= RUN_BYTES));
        let docs = parse(&text).unwrap();
        assert_eq!(docs.len(), 3000);
        assert_eq!(Some(&docs), parse_run(&text).as_ref());
        assert_eq!(Some(docs), full(&text));
        // A tab in the last run: the whole text goes to the full parser.
        let mut late = text.clone();
        let at = late.rfind("k: ").unwrap();
        late.replace_range(at..at + 3, "k:\t");
        assert_eq!(parse(&late), None);
        assert_eq!(parse_run(&late), None);
    }

    /// Texts in the subset, read as serde-saphyr reads them.
    #[test]
    fn reads_the_subset() {
        for text in [
            "a: b\n",
            "---\na: b\n---\n---\nc: [\"d\", 1, true, null, {}]\n",
            "a:\n- b\n- c: d\n  e: f\n- - g\n  - h\nk: 5m\n",
            "# c\na:\n  # c\n  b: \"x\\ny\\u00e9\\/\"\n\n  c: 1h30m\n",
            "\"quoted key\": x y z\nnum: 0\nm: 42\nt: true\nf: false\nz: null\n",
            "a:\n  b:\n    c:\n    - d\n",
            "a: /metrics\nb: v1.2.3\nc: rbac.authorization.k8s.io/v1\n",
            "a: \"\"\nb: []\n",
            "url: ssh://git@example.com/a.git\nimage: docker.io/a/b:1.0.0\npath: ./\nr: SDRz==\n",
            "d: Pods run only images signed with their registry's key (seed Adversary 5).\n",
        ] {
            let fast = parse(text).unwrap_or_else(|| panic!("{text:?} left to the full parser"));
            assert_eq!(Some(fast), full(text), "{text:?}");
        }
    }

    /// Seeded random edits of every rendered example file (characters YAML gives meaning
    /// to, inserted, deleted, or lines re-indented): whenever the fast path reads an edited
    /// text, serde-saphyr reads the same documents from it.
    #[test]
    fn random_edits_never_make_the_parsers_disagree() {
        use proptest::prelude::Rng as _;
        use proptest::test_runner::{RngAlgorithm, TestRng};
        let files = example_rendering();
        let mut rng = TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]);
        const ALPHABET: &[&str] = &[
            " ", "  ", "\n", ":", ": ", "-", "- ", "#", " #", "\"", "'", "[", "]", "{", "}", ",",
            "|", ">", "&", "*", "!", "?", "%", "@", "`", "\\", "\\u", "\\/", "\t", "0", "1", ".",
            "yes", "no", "on", "~", "null", "true", "1.5", "0x1", "---", "...", "é", "\u{85}",
        ];
        let mut read = 0;
        // TRUSTC_FAST_ROUNDS=1000000 for a longer search than CI's.
        let rounds: usize = std::env::var("TRUSTC_FAST_ROUNDS")
            .ok()
            .and_then(|r| r.parse().ok())
            .unwrap_or(4000);
        for round in 0..rounds {
            let r = &files[round % files.len()];
            let mut text = r.text.clone();
            for _ in 0..rng.random_range(1..4) {
                if text.is_empty() {
                    break;
                }
                let mut at = rng.random_range(0..text.len());
                while !text.is_char_boundary(at) {
                    at -= 1;
                }
                match rng.random_range(0..3) {
                    0 => text.insert_str(at, ALPHABET[rng.random_range(0..ALPHABET.len())]),
                    1 => {
                        let mut end = (at + rng.random_range(1..4)).min(text.len());
                        while !text.is_char_boundary(end) {
                            end += 1;
                        }
                        text.replace_range(at..end, "");
                    }
                    _ => {
                        let start = text[..at].rfind('\n').map_or(0, |i| i + 1);
                        if rng.random_bool(0.5) {
                            text.insert(start, ' ');
                        } else if text[start..].starts_with(' ') {
                            text.remove(start);
                        }
                    }
                }
            }
            if parse(&text).is_some() {
                read += 1;
            }
            assert!(
                agrees(&text),
                "`{}` edited reads differently:\n{text}",
                r.path
            );
        }
        // The edits must leave many texts in the subset, or this test would prove nothing.
        assert!(
            read > rounds / 10,
            "only {read} edited texts were in the subset"
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config { cases: 2000, ..Default::default() })]

        /// Any string a spec could hold, written as the templates write it (JSON, with
        /// trustc's extra escapes), as a value, a key and a list item: both parsers agree, and
        /// the fast path reads it back unchanged whenever it reads it.
        #[test]
        fn json_scalars_read_as_serde_saphyr_reads_them(s in "\\PC*|[\\x00-\\x{10FFFF}]{0,12}") {
            let j = crate::render::yaml_safe(&serde_json::to_string(&s).unwrap()).into_owned();
            for text in [format!("a: {j}\n"), format!("{j}: a\n"), format!("a:\n- {j}\n- [{j}]\n")] {
                proptest::prop_assert!(agrees(&text), "{text:?}");
            }
            if let Some(docs) = parse(&format!("a: {j}\n")) {
                proptest::prop_assert_eq!(&docs[0]["a"], &Value::String(s));
            }
        }
    }
}
