//! The fast path of the canonical emission: block YAML of a document, byte for byte as
//! serde-saphyr 2.2.0 writes it with trustc's options ([`super::emit`]), without going through
//! serde.
//!
//! The layout is fixed: two-space indentation, a sequence at its key's column, a mapping in a
//! sequence item opened on the item's line, `{}` and `[]` for empty collections. Each
//! scalar's style (plain, quoted) is serde-saphyr's own: a string that is plainly a plain
//! word is written as it is, and any other string is written by serde-saphyr once (alone, as
//! a value or as a key) and its one-line rendering reused. A document with anything else (a
//! rendering on several lines: literal or folded blocks; a float; a sequence directly in a
//! sequence) gives `None`, and the caller emits it with serde-saphyr. The tests compare both
//! emitters on every document trustc renders for the example and on random documents.

use std::cell::RefCell;
use std::collections::HashMap;

use serde_json::{Map, Value};

/// Renderings learnt from serde-saphyr, per thread: string → its one-line rendering, or
/// `None` when it takes several lines; one map for values (`[0]`) and one for keys (`[1]`),
/// so that a lookup borrows the string. Bounded: both are cleared when together they grow
/// past [`CACHE_LIMIT`] entries.
type Learnt = [HashMap<String, Option<String>>; 2];

const CACHE_LIMIT: usize = 1 << 16;

thread_local! {
    static LEARNT: RefCell<Learnt> = RefCell::new([HashMap::new(), HashMap::new()]);
}

/// The canonical YAML of `doc` (a mapping), or `None` when it holds something this path does
/// not write (the caller then uses serde-saphyr).
pub(super) fn emit(doc: &Value) -> Option<String> {
    let map = doc.as_object()?;
    let mut out = String::with_capacity(512);
    if map.is_empty() {
        return None;
    }
    mapping(&mut out, map, 0)?;
    Some(out)
}

fn indent(out: &mut String, n: usize) {
    for _ in 0..n {
        out.push(' ');
    }
}

fn mapping(out: &mut String, map: &Map<String, Value>, at: usize) -> Option<()> {
    for (i, (k, v)) in map.iter().enumerate() {
        // The first entry of a mapping in a sequence item is on the item's line.
        if i > 0 || at == 0 {
            indent(out, at);
        }
        string(out, k, true)?;
        out.push(':');
        value_after_key(out, v, at)?;
    }
    Some(())
}

fn value_after_key(out: &mut String, v: &Value, at: usize) -> Option<()> {
    match v {
        Value::Object(m) if m.is_empty() => out.push_str(" {}\n"),
        Value::Array(a) if a.is_empty() => out.push_str(" []\n"),
        Value::Object(m) => {
            out.push('\n');
            indent(out, at + 2);
            mapping(out, m, at + 2)?;
        }
        Value::Array(a) => {
            out.push('\n');
            sequence(out, a, at)?;
        }
        scalar => {
            out.push(' ');
            self::scalar(out, scalar)?;
            out.push('\n');
        }
    }
    Some(())
}

fn sequence(out: &mut String, items: &[Value], at: usize) -> Option<()> {
    for v in items {
        indent(out, at);
        out.push_str("- ");
        match v {
            Value::Object(m) if m.is_empty() => out.push_str("{}\n"),
            Value::Array(a) if a.is_empty() => out.push_str("[]\n"),
            Value::Object(m) => mapping(out, m, at + 2)?,
            Value::Array(_) => return None,
            scalar => {
                self::scalar(out, scalar)?;
                out.push('\n');
            }
        }
    }
    Some(())
}

fn scalar(out: &mut String, v: &Value) -> Option<()> {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) if n.is_i64() || n.is_u64() => out.push_str(&n.to_string()),
        Value::Number(_) => return None,
        Value::String(s) => string(out, s, false)?,
        Value::Array(_) | Value::Object(_) => return None,
    }
    Some(())
}

/// A word serde-saphyr writes plain in any position: an ASCII letter, then letters, digits
/// and `. _ / -`, at most 64 characters, and no word YAML 1.1 or 1.2 reads as anything but a
/// string (the tests hold serde-saphyr to each of these).
fn plainly_plain(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 64
        && b[0].is_ascii_alphabetic()
        && b.iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'/' | b'-'))
        && !(b.len() <= 8 && NOT_STRINGS.iter().any(|w| w.eq_ignore_ascii_case(s)))
}

/// The words of at most eight letters that YAML 1.1 or 1.2 reads, in any case, as a boolean,
/// null or float ([`plainly_plain`] compares without allocating a lowercase copy).
const NOT_STRINGS: &[&str] = &[
    "y", "n", "yes", "no", "on", "off", "true", "false", "null", "nan", "inf", "infinity",
];

fn string(out: &mut String, s: &str, key: bool) -> Option<()> {
    if plainly_plain(s) {
        out.push_str(s);
        return Some(());
    }
    // Written from the cache in place: no copy of the rendering per string.
    LEARNT.with(|cache| {
        let mut caches = cache.borrow_mut();
        if let Some(r) = caches[usize::from(key)].get(s) {
            out.push_str(r.as_deref()?);
            return Some(());
        }
        let r = learn(s, key);
        // The bound is on both maps together.
        if caches[0].len() + caches[1].len() >= CACHE_LIMIT {
            caches.iter_mut().for_each(HashMap::clear);
        }
        let cache = &mut caches[usize::from(key)];
        let written = r.as_deref().map(|text| out.push_str(text));
        cache.insert(s.to_string(), r);
        written
    })
}

/// serde-saphyr's one-line rendering of `s` as a mapping value (or key), read off the
/// document `{"k": s}` (or `{s: null}`); `None` when it takes more than one line.
fn learn(s: &str, key: bool) -> Option<String> {
    let mut probe = Map::new();
    let text = if key {
        probe.insert(s.to_string(), Value::Null);
        super::emit_full(&Value::Object(probe))
    } else {
        probe.insert("k".into(), Value::String(s.to_string()));
        super::emit_full(&Value::Object(probe))
    };
    let line = text.strip_suffix('\n')?;
    if line.contains('\n') {
        return None;
    }
    let r = if key {
        line.strip_suffix(": null")?
    } else {
        line.strip_prefix("k: ")?
    };
    Some(r.to_string())
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    fn agrees(doc: &Value) -> bool {
        match super::emit(doc) {
            None => true,
            Some(fast) => fast == super::super::emit_full(doc),
        }
    }

    /// Every document trustc renders for the example: the fast path writes all but the
    /// documents with block scalars, and writes them as serde-saphyr does.
    #[test]
    fn writes_the_example_as_serde_saphyr_does() {
        let policy = crate::testing::example_policy();
        let set = crate::render::TemplateSet::embedded();
        let files = crate::render::render(&policy, &set).expect("renders");
        let (mut fast, mut slow) = (0, Vec::new());
        for r in &files {
            for doc in super::super::parse_documents(&r.text).unwrap() {
                match super::emit(&doc) {
                    Some(text) => {
                        assert_eq!(text, super::super::emit_full(&doc), "`{}`", r.path);
                        fast += 1;
                    }
                    None => slow.push(r.template.as_str()),
                }
            }
        }
        slow.sort_unstable();
        slow.dedup();
        // Long or multi-line strings (CEL, PromQL, descriptions, public keys, known_hosts,
        // patches) are block scalars, left to serde-saphyr: templates written once per
        // environment, and three per tenant.
        let per_tenant: Vec<&str> = slow
            .iter()
            .copied()
            .filter(|t| t.starts_with("tenant/"))
            .collect();
        assert_eq!(
            per_tenant,
            [
                "tenant/charts.yaml.j2",
                "tenant/deploy-key.yaml.j2",
                "tenant/signers.yaml.j2"
            ],
            "per-tenant templates left to serde-saphyr"
        );
        assert!(fast > 80, "{fast} documents written fast");
    }

    /// Scalars and shapes serde-saphyr writes in particular ways.
    #[test]
    fn writes_tricky_scalars_as_serde_saphyr_does() {
        let strings = [
            "",
            " ",
            "a b",
            "yes",
            "No",
            "ON",
            "y",
            "true",
            "False",
            "null",
            "~",
            "NaN",
            ".inf",
            "inf",
            "Infinity",
            "infinitY",
            "infinite",
            "1",
            "01",
            "1.5",
            "1e3",
            "0x1F",
            "0o7",
            "1_000",
            "12:30",
            "2001-12-14",
            "-",
            "-a",
            "a-",
            "*",
            "&a",
            "!a",
            "%a",
            "@a",
            "`a",
            "a: b",
            "a:b",
            "a #b",
            "a#b",
            "#a",
            "[a]",
            "{a}",
            "a,b",
            "'a'",
            "\"a\"",
            "a\\b",
            "é",
            "a\tb",
            "a\u{85}b",
            "<<",
            "=",
            "?",
            "? a",
            "a ",
            " a",
            "|",
            ">",
            "a|b",
            "---",
            "...",
            "v1.2.3",
            "5m",
            "x\ny",
        ];
        for s in strings {
            for doc in [
                json!({ "k": s }),
                json!({ s: 1 }),
                json!({ "k": [s, { "a": s, s: [s] }] }),
            ] {
                assert!(agrees(&doc), "{doc}");
            }
        }
        for doc in [
            json!({ "a": {}, "b": [], "c": [{}, []], "d": [[1]], "e": null, "f": 1.5 }),
            json!({ "a": [{ "b": [{ "c": { "d": [1, true, null] } }] }] }),
            json!({ "a": 18446744073709551615u64, "b": -3 }),
        ] {
            assert!(agrees(&doc), "{doc}");
        }
    }

    fn value() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let word = prop_oneof![
            "[a-z]{1,6}",
            "[A-Za-z0-9 :#./_@*&!|>'\"\\-]{0,8}",
            Just("yes".to_string()),
            Just("null".to_string()),
            Just("0".to_string()),
            "\\PC{0,6}",
        ];
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            word.clone().prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 24, 4, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::vec(("[a-z]{1,4}|[A-Za-z0-9 :#.\\-]{0,5}", inner), 0..4)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config { cases: 1000, ..Default::default() })]

        /// Random documents: whenever the fast path writes one, it writes what serde-saphyr
        /// writes.
        #[test]
        fn random_documents_are_written_as_serde_saphyr_writes_them(
            kv in proptest::collection::vec(("[a-z]{1,5}", value()), 1..5)
        ) {
            let doc = Value::Object(kv.into_iter().collect());
            proptest::prop_assert!(agrees(&doc), "{}", doc);
        }
    }
}
