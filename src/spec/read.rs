//! The spanned reader: TOML document tree → [`TrustModel`], reporting every unknown key,
//! wrong type and missing key with its position (serde would stop at the first).

use indexmap::IndexMap;
use rayon::prelude::*;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::Sp;
use super::types::*;
use crate::diag::{Code, Diagnostic, FileId, Sink, Span};

type Val<'i> = Spanned<DeValue<'i>>;

pub(super) struct Reader<'s> {
    pub(super) file: FileId,
    pub(super) sink: &'s mut Sink,
    /// Set when an entry of a named table or an array of tables was dropped because it could
    /// not be read: the rest of the model is still checked, but never compiled.
    pub(super) incomplete: bool,
}

fn type_name(v: &DeValue<'_>) -> &'static str {
    match v {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a datetime",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

/// The help line of a value of the wrong type: the value to write in place of the
/// underlined one (the value alone, so that it is right under a dotted key or in an inline
/// table too). `None` when no rewrite of the value itself is likely right (a table where a
/// string belongs, an array of tables). The rewrite fixes the type only: the value's own
/// checks still apply to it.
fn wrong_type_help(want: &str, got: &DeValue<'_>) -> Option<String> {
    let scalar = match got {
        DeValue::Integer(i) => {
            let prefix = match i.radix() {
                16 => "0x",
                8 => "0o",
                2 => "0b",
                _ => "",
            };
            Some(format!("{prefix}{}", i.as_str()))
        }
        DeValue::Float(f) => Some(f.as_str().to_string()),
        DeValue::Boolean(b) => Some(b.to_string()),
        _ => None,
    };
    let text = match got {
        DeValue::String(s) => Some(s.as_ref()),
        _ => None,
    };
    match want {
        "a string" => match got {
            // `branch = ["main"]`: one value was meant.
            DeValue::Array(items) if items.len() == 1 => match items[0].get_ref() {
                DeValue::String(s) => Some(format!(
                    "write it without the brackets: `{}`",
                    toml_string(s)
                )),
                _ => None,
            },
            _ => scalar.map(|v| format!("quote it: `{}`", toml_string(&v))),
        },
        "a boolean (true or false)" => Some(match text {
            Some(t @ ("true" | "false")) => format!("drop the quotes: `{t}`"),
            _ => "write `true` or `false`".to_string(),
        }),
        // Written back as a number prints (`01` and `+1` are not TOML integers).
        "an integer" => Some(match text.and_then(|t| t.trim().parse::<i64>().ok()) {
            Some(n) => format!("drop the quotes: `{n}`"),
            None => "write a whole number, e.g. `1`".to_string(),
        }),
        "an array of strings" => match (text, scalar) {
            (Some(t), _) => {
                // `"alice, bob"` meant two items.
                let items: Vec<&str> = t
                    .split(',')
                    .map(str::trim)
                    .filter(|i| !i.is_empty())
                    .collect();
                let items = if items.len() > 1 { items } else { vec![t] };
                let list: Vec<String> = items.iter().map(|i| toml_string(i)).collect();
                Some(format!("put it in a list: `[{}]`", list.join(", ")))
            }
            (None, Some(v)) => Some(format!("put it in a list, quoted: `[{}]`", toml_string(&v))),
            (None, None) => None,
        },
        "an array of integers" => match got {
            DeValue::Integer(_) => scalar.map(|v| format!("put it in a list: `[{v}]`")),
            _ => None,
        },
        _ => None,
    }
}

/// `text` as a TOML basic string (JSON's escapes are TOML's: `\"`, `\\`, `\n`, `\uXXXX`…).
fn toml_string(text: &str) -> String {
    serde_json::to_string(text).expect("a string serializes to JSON")
}

/// `key` as one segment of a dotted key path, spelt as TOML spells it: bare when it is
/// only ASCII letters, digits, `_` and `-`, else a quoted string
/// (`kinds."monitoring.coreos.com/ServiceMonitor".namespaced`, `signers."bob.smith".email`),
/// so that the path in a diagnostic names the key it means.
pub fn key_segment(key: &str) -> std::borrow::Cow<'_, str> {
    if !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        std::borrow::Cow::Borrowed(key)
    } else {
        std::borrow::Cow::Owned(toml_string(key))
    }
}

/// Closest candidate for a misspelt name, if close enough to be a likely typo.
pub fn suggest<'a>(given: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(given, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// Where a value sits in the document (`tenants.acme.kinds[2]`), for diagnostics: built
/// for every value read, formatted only when a diagnostic names it.
#[derive(Clone, Copy)]
pub(super) enum Path<'a> {
    /// A path already written out.
    Text(&'a str),
    /// A key of the table at a path (`""` for the document root).
    Key(&'a str, &'a str),
    /// An item of the array at a path.
    Index(&'a Path<'a>, usize),
}

impl std::fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Path::Text(p) => f.write_str(p),
            Path::Key("", key) => f.write_str(&key_segment(key)),
            Path::Key(table, key) => write!(f, "{table}.{}", key_segment(key)),
            Path::Index(array, i) => write!(f, "{array}[{i}]"),
        }
    }
}

/// One table being read: remembers which keys were consumed.
pub(super) struct Table<'t, 'i> {
    map: &'t DeTable<'i>,
    span: Span,
    path: String,
    /// The keys that TC0002 (an unknown key) suggests instead (`did you mean …?`). A
    /// required key among them is not also reported missing (TC0004): the one error names
    /// the cause, and TC0004's help (`add namespaces = […]`) would leave the misspelt key.
    suggested: Vec<&'static str>,
}

impl<'s> Reader<'s> {
    fn span(&self, r: std::ops::Range<usize>) -> Span {
        Span::new(self.file, r)
    }

    /// Opens `value` as a table whose keys must all be in `allowed`.
    pub(super) fn table<'t, 'i>(
        &mut self,
        value: &'t Val<'i>,
        path: &str,
        allowed: &[&'static str],
    ) -> Option<Table<'t, 'i>> {
        match value.get_ref() {
            DeValue::Table(map) => {
                let mut suggested = Vec::new();
                for (key, _) in map.iter() {
                    let k: &str = key.get_ref();
                    if !allowed.contains(&k) {
                        let mut d = Diagnostic::new(
                            Code::UnknownKey,
                            format!("unknown key `{k}` in `{}`", display_path(path)),
                        )
                        .at(self.span(key.span()), "not a key of this table")
                        .note(
                            "a misspelt key would silently widen or drop a rule, so unknown keys are refused",
                        );
                        // Never suggest a key the table already sets (a duplicate key).
                        let present = |a: &&str| map.iter().any(|(k2, _)| k2.get_ref() == a);
                        let free = allowed.iter().copied().filter(|a| !present(a));
                        d = match (suggest(k, free), suggest(k, allowed.iter().copied())) {
                            (Some(s), _) => {
                                suggested.push(s);
                                d.help(format!("did you mean `{s}`?"))
                            }
                            (None, Some(set)) => d.help(format!(
                                "`{set}` is already set in this table: remove this line"
                            )),
                            (None, None) => {
                                d.help(format!("expected one of: {}", allowed.join(", ")))
                            }
                        };
                        self.sink.push(d);
                    }
                }
                Some(Table {
                    map,
                    span: self.span(value.span()),
                    path: path.to_string(),
                    suggested,
                })
            }
            other => {
                self.wrong_type(value, Path::Text(path), "a table", other);
                None
            }
        }
    }

    fn wrong_type(&mut self, value: &Val<'_>, path: Path<'_>, want: &str, got: &DeValue<'_>) {
        self.wrong_type_with(value, path, want, got, wrong_type_help(want, got));
    }

    /// [`Reader::wrong_type`] with the help given.
    fn wrong_type_with(
        &mut self,
        value: &Val<'_>,
        path: Path<'_>,
        want: &str,
        got: &DeValue<'_>,
        help: Option<String>,
    ) {
        let mut d = Diagnostic::new(
            Code::WrongType,
            format!(
                "`{}` must be {want}, found {}",
                display_path(&path.to_string()),
                type_name(got)
            ),
        )
        .at(self.span(value.span()), format!("expected {want}"));
        if let Some(help) = help {
            d = d.help(help);
        }
        self.sink.push(d);
    }

    fn missing(&mut self, table: &Table<'_, '_>, key: &str, what: &str) {
        if table.suggested.contains(&key) {
            return;
        }
        self.sink.push(
            Diagnostic::new(
                Code::MissingKey,
                format!("missing key `{key}` in `{}`", display_path(&table.path)),
            )
            .at(table.span.clone(), format!("`{key}` is required here"))
            .help(format!("add `{key} = {what}`")),
        );
    }

    pub(super) fn string(&mut self, v: &Val<'_>, path: Path<'_>) -> Option<Sp<String>> {
        match v.get_ref() {
            DeValue::String(s) => Some(Sp::new(s.to_string(), self.span(v.span()))),
            other => {
                self.wrong_type(v, path, "a string", other);
                None
            }
        }
    }

    fn boolean(&mut self, v: &Val<'_>, path: Path<'_>) -> Option<Sp<bool>> {
        match v.get_ref() {
            DeValue::Boolean(b) => Some(Sp::new(*b, self.span(v.span()))),
            other => {
                self.wrong_type(v, path, "a boolean (true or false)", other);
                None
            }
        }
    }

    fn integer(&mut self, v: &Val<'_>, path: Path<'_>) -> Option<Sp<i64>> {
        match v.get_ref() {
            DeValue::Integer(i) => {
                match i64::from_str_radix(&i.as_str().replace('_', ""), i.radix()) {
                    Ok(n) => Some(Sp::new(n, self.span(v.span()))),
                    // Out of range: a located diagnostic, never a silent refusal (issue 8, item 8).
                    Err(_) => {
                        self.sink.push(
                            Diagnostic::new(
                                Code::WrongType,
                                format!(
                                    "`{}` is out of range: integers must fit in 64 bits",
                                    display_path(&path.to_string())
                                ),
                            )
                            .at(self.span(v.span()), "integer out of range")
                            .help("use a small whole number, e.g. `version = 1`"),
                        );
                        None
                    }
                }
            }
            other => {
                self.wrong_type(v, path, "an integer", other);
                None
            }
        }
    }

    fn strings(&mut self, v: &Val<'_>, path: Path<'_>) -> Option<Vec<Sp<String>>> {
        match v.get_ref() {
            DeValue::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                let mut ok = true;
                for (i, item) in items.iter().enumerate() {
                    match self.string(item, Path::Index(&path, i)) {
                        Some(s) => out.push(s),
                        None => ok = false,
                    }
                }
                ok.then_some(out)
            }
            other => {
                self.wrong_type(v, path, "an array of strings", other);
                None
            }
        }
    }
}

impl<'t, 'i> Table<'t, 'i> {
    pub(super) fn get(&self, key: &str) -> Option<&'t Val<'i>> {
        self.map.get(key)
    }

    fn sub(&self, key: &str) -> String {
        self.at(key).to_string()
    }

    /// The path of `key` in this table, formatted only if a diagnostic is written.
    fn at<'a>(&'a self, key: &'a str) -> Path<'a> {
        Path::Key(&self.path, key)
    }

    pub(super) fn req_string(&self, r: &mut Reader<'_>, key: &str) -> Option<Sp<String>> {
        match self.get(key) {
            Some(v) => r.string(v, self.at(key)),
            None => {
                r.missing(self, key, "\"…\"");
                None
            }
        }
    }

    /// `Ok(None)` when absent; `Err(())` when present with the wrong type.
    pub(super) fn opt_string(
        &self,
        r: &mut Reader<'_>,
        key: &str,
    ) -> Result<Option<Sp<String>>, ()> {
        match self.get(key) {
            Some(v) => r.string(v, self.at(key)).map(Some).ok_or(()),
            None => Ok(None),
        }
    }

    /// [`Table::opt_string`] of a key whose values are `allowed`: a value of another type
    /// is answered with those values (`engine = 1` quoted would still be no engine).
    pub(super) fn opt_choice(
        &self,
        r: &mut Reader<'_>,
        key: &str,
        allowed: &[&str],
    ) -> Result<Option<Sp<String>>, ()> {
        self.opt_string_helped(r, key, |scalar| match scalar {
            Some(v) if allowed.contains(&v) => format!("quote it: `{}`", toml_string(v)),
            _ => {
                let quoted: Vec<String> = allowed
                    .iter()
                    .map(|a| format!("`{}`", toml_string(a)))
                    .collect();
                format!("write one of: {}", quoted.join(", "))
            }
        })
    }

    /// [`Table::opt_string`] of a Go duration (`"1m"`): a bare number is answered with its
    /// unit written out (`interval = 60` → `"60s"`, the unit an unmarked number of seconds
    /// most often means).
    pub(super) fn opt_duration(
        &self,
        r: &mut Reader<'_>,
        key: &str,
    ) -> Result<Option<Sp<String>>, ()> {
        self.opt_string_helped(r, key, |scalar| match scalar {
            // Digits and a point only: Go durations take no exponent (`1e3`) or `_`.
            Some(n)
                if n.bytes().any(|b| b.is_ascii_digit())
                    && n.bytes().all(|b| b.is_ascii_digit() || b == b'.')
                    && n.bytes().filter(|&b| b == b'.').count() <= 1 =>
            {
                format!(
                "write it as a duration with its unit: `\"{n}s\"` (or `m`, `h`: e.g. `\"1m30s\"`)"
                )
            }
            _ => {
                "write a duration as a string, e.g. `\"1m\"`, `\"30s\"` or `\"1h30m\"`".to_string()
            }
        })
    }

    /// [`Table::opt_string`] whose wrong-type help is `help` of the value's text when it is a
    /// number or boolean (`None` otherwise). A one-item list keeps the generic help
    /// ("without the brackets").
    fn opt_string_helped(
        &self,
        r: &mut Reader<'_>,
        key: &str,
        help: impl FnOnce(Option<&str>) -> String,
    ) -> Result<Option<Sp<String>>, ()> {
        let Some(v) = self.get(key) else {
            return Ok(None);
        };
        let scalar = match v.get_ref() {
            DeValue::String(_) => return r.string(v, self.at(key)).map(Some).ok_or(()),
            DeValue::Array(items) if items.len() == 1 => {
                return r.string(v, self.at(key)).map(Some).ok_or(());
            }
            DeValue::Integer(i) if i.radix() == 10 => Some(i.as_str().to_string()),
            DeValue::Float(f) => Some(f.as_str().to_string()),
            DeValue::Boolean(b) => Some(b.to_string()),
            _ => None,
        };
        r.wrong_type_with(
            v,
            self.at(key),
            "a string",
            v.get_ref(),
            Some(help(scalar.as_deref())),
        );
        Err(())
    }

    pub(super) fn opt_bool(&self, r: &mut Reader<'_>, key: &str) -> Result<Option<Sp<bool>>, ()> {
        match self.get(key) {
            Some(v) => r.boolean(v, self.at(key)).map(Some).ok_or(()),
            None => Ok(None),
        }
    }

    pub(super) fn req_bool(&self, r: &mut Reader<'_>, key: &str) -> Option<Sp<bool>> {
        match self.get(key) {
            Some(v) => r.boolean(v, self.at(key)),
            None => {
                r.missing(self, key, "true");
                None
            }
        }
    }

    pub(super) fn req_integer(&self, r: &mut Reader<'_>, key: &str) -> Option<Sp<i64>> {
        match self.get(key) {
            Some(v) => r.integer(v, self.at(key)),
            None => {
                r.missing(self, key, "1");
                None
            }
        }
    }

    pub(super) fn req_strings(&self, r: &mut Reader<'_>, key: &str) -> Option<Vec<Sp<String>>> {
        match self.get(key) {
            Some(v) => r.strings(v, self.at(key)),
            None => {
                r.missing(self, key, "[\"…\"]");
                None
            }
        }
    }

    pub(super) fn opt_strings(&self, r: &mut Reader<'_>, key: &str) -> Result<Vec<Sp<String>>, ()> {
        match self.get(key) {
            Some(v) => r.strings(v, self.at(key)).ok_or(()),
            None => Ok(Vec::new()),
        }
    }

    /// A required sub-table read with `f`.
    pub(super) fn req_table<T>(
        &self,
        r: &mut Reader<'_>,
        key: &str,
        f: impl FnOnce(&mut Reader<'_>, &'t Val<'i>, &str) -> Option<T>,
    ) -> Option<T> {
        match self.get(key) {
            Some(v) => f(r, v, &self.sub(key)),
            None => {
                r.missing(self, key, "{ … }");
                None
            }
        }
    }

    /// An optional sub-table read with `f`.
    pub(super) fn opt_table<T>(
        &self,
        r: &mut Reader<'_>,
        key: &str,
        f: impl FnOnce(&mut Reader<'_>, &'t Val<'i>, &str) -> Option<T>,
    ) -> Result<Option<T>, ()> {
        match self.get(key) {
            Some(v) => f(r, v, &self.sub(key)).map(Some).ok_or(()),
            None => Ok(None),
        }
    }

    /// A table of named entries (`[tenants.NAME]`), each read with `f`.
    /// Entries that fail to read are dropped (their problems are already reported).
    ///
    /// The entries are read side by side (a spec of 5,000 tenants spent a fifth of `check`
    /// reading them one after the other), each into a sink of its own; the sinks are then
    /// emptied into `r`'s in the entries' order: the same diagnostics, in the same order, as
    /// reading them one by one.
    pub(super) fn named<T: Send>(
        &self,
        r: &mut Reader<'_>,
        key: &str,
        headers: &mut IndexMap<String, Span>,
        f: impl Fn(&mut Reader<'_>, &'t Val<'i>, &str) -> Option<T> + Sync,
    ) -> Result<IndexMap<String, T>, ()> {
        let Some(v) = self.get(key) else {
            return Ok(IndexMap::new());
        };
        let DeValue::Table(map) = v.get_ref() else {
            r.wrong_type(v, self.at(key), "a table", v.get_ref());
            return Err(());
        };
        let entries: Vec<_> = map.iter().collect();
        let file = r.file;
        let table = self.sub(key);
        let read: Vec<(Sink, bool, Option<T>)> = entries
            .par_iter()
            .map(|(name, value)| {
                let mut sink = Sink::new();
                let mut own = Reader {
                    file,
                    sink: &mut sink,
                    incomplete: false,
                };
                let n: &str = name.get_ref();
                let t = f(&mut own, value, &format!("{table}.{}", key_segment(n)));
                let incomplete = own.incomplete;
                (sink, incomplete, t)
            })
            .collect();
        let mut out = IndexMap::with_capacity(entries.len());
        for ((name, _), (sink, incomplete, t)) in entries.into_iter().zip(read) {
            let n: &str = name.get_ref();
            headers.insert(n.to_string(), r.span(name.span()));
            r.sink.extend(sink);
            r.incomplete |= incomplete;
            match t {
                Some(t) => {
                    out.insert(n.to_string(), t);
                }
                // The entry's problems are reported; its siblings are still checked.
                None => r.incomplete = true,
            }
        }
        Ok(out)
    }

    /// An array of tables (`[[tenants.X.images]]`), each read with `f`.
    pub(super) fn array_of<T>(
        &self,
        r: &mut Reader<'_>,
        key: &str,
        mut f: impl FnMut(&mut Reader<'_>, &'t Val<'i>, &str) -> Option<T>,
    ) -> Result<Vec<T>, ()> {
        let Some(v) = self.get(key) else {
            return Ok(Vec::new());
        };
        let DeValue::Array(items) = v.get_ref() else {
            r.wrong_type(v, self.at(key), "an array of tables", v.get_ref());
            return Err(());
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            match f(r, item, &format!("{}[{i}]", self.sub(key))) {
                Some(t) => out.push(t),
                None => r.incomplete = true,
            }
        }
        Ok(out)
    }
}

fn display_path(path: &str) -> &str {
    if path.is_empty() {
        "the top level"
    } else {
        path
    }
}

// ---------------------------------------------------------------------------------------
// The model's shape, one function per table.
// ---------------------------------------------------------------------------------------

const TOP: &[&str] = &[
    "version",
    "flux",
    "admission",
    "git",
    "secrets",
    "alerts",
    "signers",
    "registries",
    "environments",
    "platform",
    "tenants",
    "kinds",
];

pub(super) fn trust_model(r: &mut Reader<'_>, root: &Val<'_>) -> Option<TrustModel> {
    let t = r.table(root, "", TOP)?;
    let mut headers = Headers::default();
    let version = t.req_integer(r, "version");
    let flux = t.opt_table(r, "flux", flux);
    let admission = t.opt_table(r, "admission", admission);
    let git = t.opt_table(r, "git", git);
    let secrets = t.req_table(r, "secrets", secrets);
    let alerts = t.opt_table(r, "alerts", alerts);
    let signers = t.named(r, "signers", &mut headers.signers, signer);
    let registries = t.named(r, "registries", &mut headers.registries, registry);
    let environments = t.named(r, "environments", &mut headers.environments, environment);
    if t.get("environments").is_none() {
        r.missing(&t, "environments", "{ … }");
    }
    headers.flux = t.get("flux").map(|v| r.span(v.span()));
    headers.platform = t.get("platform").map(|v| r.span(v.span()));
    let platform = t.req_table(r, "platform", platform);
    let tenants = t.named(r, "tenants", &mut headers.tenants, tenant);
    let kinds = t.named(r, "kinds", &mut headers.kinds, kind_def);
    // An optional singleton table that cannot be read is checked as absent, and marked.
    let flux = flux.unwrap_or_else(|()| {
        r.incomplete = true;
        headers.unread.insert("flux");
        None
    });
    let admission = admission.unwrap_or_else(|()| {
        r.incomplete = true;
        headers.unread.insert("admission");
        None
    });
    let git = git.unwrap_or_else(|()| {
        r.incomplete = true;
        headers.unread.insert("git");
        None
    });
    let alerts = alerts.unwrap_or_else(|()| {
        r.incomplete = true;
        headers.unread.insert("alerts");
        None
    });
    headers.incomplete = r.incomplete;
    Some(TrustModel {
        version: version?,
        flux: flux.unwrap_or_default(),
        admission: admission.unwrap_or_default(),
        git: git.unwrap_or_default(),
        secrets: secrets?,
        alerts,
        signers: signers.ok()?,
        registries: registries.ok()?,
        environments: environments.ok()?,
        platform: platform?,
        tenants: tenants.ok()?,
        kinds: kinds.ok()?,
        headers,
    })
}

fn flux(r: &mut Reader<'_>, v: &Val<'_>, path: &str) -> Option<Flux> {
    let t = r.table(
        v,
        path,
        &[
            "namespace",
            "version",
            "api_server_cidrs",
            "policy_namespace",
            "monitoring_namespace",
            "pod_security_version",
            "egress",
        ],
    )?;
    let namespace = t.opt_string(r, "namespace");
    let version = t.opt_choice(r, "version", FLUX_VERSIONS);
    let cidrs = t.opt_strings(r, "api_server_cidrs");
    let policy_namespace = t.opt_string(r, "policy_namespace");
    let monitoring_namespace = t.opt_string(r, "monitoring_namespace");
    let pod_security_version = t.opt_string(r, "pod_security_version");
    let egress = t.opt_table(r, "egress", flux_egress);
    Some(Flux {
        namespace: namespace.ok()?,
        version: version.ok()?,
        api_server_cidrs: cidrs.ok()?,
        policy_namespace: policy_namespace.ok()?,
        monitoring_namespace: monitoring_namespace.ok()?,
        pod_security_version: pod_security_version.ok()?,
        egress: egress.ok()?,
    })
}

fn flux_egress(r: &mut Reader<'_>, v: &Val<'_>, path: &str) -> Option<FluxEgress> {
    let t = r.table(
        v,
        path,
        &["kube_dns", "dns_cidrs", "service_cidr", "destinations"],
    )?;
    let kube_dns = t.opt_bool(r, "kube_dns");
    let dns_cidrs = match t.get("dns_cidrs") {
        Some(v) => r
            .strings(v, Path::Key(path, "dns_cidrs"))
            .map(Some)
            .ok_or(()),
        None => Ok(None),
    };
    let service_cidr = t.opt_string(r, "service_cidr");
    // A destination that cannot be read makes the whole table unread: checked without it,
    // its host would seem to have no addresses (TC1071) though the spec names them.
    let before = std::mem::replace(&mut r.incomplete, false);
    let destinations = t.array_of(r, "destinations", destination);
    let lost = r.incomplete;
    r.incomplete |= before;
    if lost {
        return None;
    }
    Some(FluxEgress {
        kube_dns: kube_dns.ok()?,
        dns_cidrs: dns_cidrs.ok()?,
        service_cidr: service_cidr.ok()?,
        destinations: destinations.ok()?,
    })
}

fn destination(r: &mut Reader<'_>, v: &Val<'_>, path: &str) -> Option<Destination> {
    let t = r.table(v, path, &["host", "cidrs", "ports", "controllers"])?;
    let host = t.req_string(r, "host");
    let cidrs = t.opt_strings(r, "cidrs");
    let ports = match t.get("ports") {
        Some(v) => match v.get_ref() {
            DeValue::Array(items) => {
                let mut out = Vec::new();
                let mut ok = true;
                for (i, item) in items.iter().enumerate() {
                    match r.integer(item, Path::Index(&Path::Key(path, "ports"), i)) {
                        Some(n) => out.push(n),
                        None => ok = false,
                    }
                }
                if ok { Ok(out) } else { Err(()) }
            }
            other => {
                r.wrong_type(v, Path::Key(path, "ports"), "an array of integers", other);
                Err(())
            }
        },
        None => Ok(Vec::new()),
    };
    let controllers = t.opt_strings(r, "controllers");
    Some(Destination {
        host: host?,
        cidrs: cidrs.ok()?,
        ports: ports.ok()?,
        controllers: controllers.ok()?,
    })
}

fn admission(r: &mut Reader<'_>, v: &Val<'_>, path: &str) -> Option<Admission> {
    let t = r.table(v, path, &["engine", "kyverno_version"])?;
    let engine = t.opt_choice(r, "engine", ENGINES);
    let kyverno_version = t.opt_choice(r, "kyverno_version", KYVERNO_VERSIONS);
    Some(Admission {
        engine: engine.ok()?,
        kyverno_version: kyverno_version.ok()?,
    })
}

fn git(r: &mut Reader<'_>, v: &Val<'_>, path: &str) -> Option<Git> {
    let t = r.table(v, path, &["known_hosts", "interval"])?;
    let known_hosts = t.opt_string(r, "known_hosts");
    let interval = t.opt_duration(r, "interval");
    Some(Git {
        known_hosts: known_hosts.ok()?,
        interval: interval.ok()?,
    })
}

fn secrets(r: &mut Reader<'_>, v: &Val<'_>, path: &str) -> Option<Secrets> {
    let t = r.table(v, path, &["store", "deploy_key_path"])?;
    let store = t.req_string(r, "store");
    let deploy_key_path = t.req_string(r, "deploy_key_path");
    Some(Secrets {
        store: store?,
        deploy_key_path: deploy_key_path?,
    })
}

fn alerts(r: &mut Reader<'_>, v: &Val<'_>, path: &str) -> Option<Alerts> {
    let t = r.table(
        v,
        path,
        &[
            "prometheus",
            "for",
            "provider",
            "channel",
            "secret",
            "secret_path",
            "kube_state_metrics",
        ],
    )?;
    let prometheus = t.opt_bool(r, "prometheus");
    let for_ = t.opt_duration(r, "for");
    let provider = t.opt_choice(r, "provider", ALERT_PROVIDERS);
    let channel = t.opt_string(r, "channel");
    let secret = t.opt_string(r, "secret");
    let secret_path = t.opt_string(r, "secret_path");
    let kube_state_metrics = t.opt_string(r, "kube_state_metrics");
    Some(Alerts {
        prometheus: prometheus.ok()?,
        for_: for_.ok()?,
        provider: provider.ok()?,
        channel: channel.ok()?,
        secret: secret.ok()?,
        secret_path: secret_path.ok()?,
        kube_state_metrics: kube_state_metrics.ok()?,
    })
}

fn signer(r: &mut Reader<'_>, v: &Val<'_>, path: &str) -> Option<Signer> {
    let t = r.table(v, path, &["email", "key", "fingerprint"])?;
    let email = t.req_string(r, "email");
    let key = t.req_string(r, "key");
    let fingerprint = t.opt_string(r, "fingerprint");
    Some(Signer {
        email: email?,
        key: key?,
        fingerprint: fingerprint.ok()?,
    })
}

fn registry(r: &mut Reader<'_>, v: &Val<'_>, path: &str) -> Option<Registry> {
    let t = r.table(
        v,
        path,
        &["host", "cosign_key", "keyless", "tlog", "rekor_url"],
    )?;
    let host = t.req_string(r, "host");
    let cosign_key = t.opt_string(r, "cosign_key");
    let keyless = t.opt_table(r, "keyless", keyless);
    let tlog = t.opt_bool(r, "tlog");
    let rekor_url = t.opt_string(r, "rekor_url");
    Some(Registry {
        host: host?,
        cosign_key: cosign_key.ok()?,
        keyless: keyless.ok()?,
        tlog: tlog.ok()?,
        rekor_url: rekor_url.ok()?,
    })
}

fn keyless(r: &mut Reader<'_>, v: &Val<'_>, path: &str) -> Option<Keyless> {
    let t = r.table(v, path, &["issuer", "subject"])?;
    let issuer = t.req_string(r, "issuer");
    let subject = t.req_string(r, "subject");
    Some(Keyless {
        issuer: issuer?,
        subject: subject?,
    })
}

fn environment(r: &mut Reader<'_>, v: &Val<'_>, path: &str) -> Option<Environment> {
    let t = r.table(v, path, &["branch", "production"])?;
    let branch = t.req_string(r, "branch");
    let production = t.opt_bool(r, "production");
    Some(Environment {
        branch: branch?,
        production: production.ok()?,
    })
}

fn platform(r: &mut Reader<'_>, v: &Val<'_>, path: &str) -> Option<Platform> {
    let t = r.table(v, path, &["repository", "path", "signers", "cluster_kinds"])?;
    let repository = t.req_string(r, "repository");
    let p = t.req_string(r, "path");
    let signers = t.opt_strings(r, "signers");
    let cluster_kinds = t.opt_strings(r, "cluster_kinds");
    Some(Platform {
        repository: repository?,
        path: p?,
        signers: signers.ok()?,
        cluster_kinds: cluster_kinds.ok()?,
    })
}

fn tenant(r: &mut Reader<'_>, v: &Val<'_>, path: &str) -> Option<Tenant> {
    let t = r.table(
        v,
        path,
        &[
            "namespaces",
            "repository",
            "path",
            "environments",
            "signers",
            "registries",
            "allowed_kinds",
            "allow_secrets",
            "allow_network_policies",
            "images",
            "charts",
        ],
    )?;
    let namespaces = t.req_strings(r, "namespaces");
    let repository = t.req_string(r, "repository");
    let p = t.req_string(r, "path");
    let environments = t.req_strings(r, "environments");
    let signers = t.opt_strings(r, "signers");
    let registries = t.opt_strings(r, "registries");
    let allowed_kinds = t.req_strings(r, "allowed_kinds");
    let allow_secrets = t.opt_bool(r, "allow_secrets");
    let allow_network_policies = t.opt_bool(r, "allow_network_policies");
    let images = t.array_of(r, "images", image);
    let charts = t.array_of(r, "charts", chart);
    Some(Tenant {
        namespaces: namespaces?,
        repository: repository?,
        path: p?,
        environments: environments?,
        signers: signers.ok()?,
        registries: registries.ok()?,
        allowed_kinds: allowed_kinds?,
        allow_secrets: allow_secrets.ok()?,
        allow_network_policies: allow_network_policies.ok()?,
        images: images.ok()?,
        charts: charts.ok()?,
    })
}

fn image(r: &mut Reader<'_>, v: &Val<'_>, path: &str) -> Option<Image> {
    let t = r.table(
        v,
        path,
        &["name", "repository", "semver", "tag_pattern", "extract"],
    )?;
    let name = t.req_string(r, "name");
    let repository = t.req_string(r, "repository");
    let semver = t.req_string(r, "semver");
    let tag_pattern = t.opt_string(r, "tag_pattern");
    let extract = t.opt_string(r, "extract");
    Some(Image {
        name: name?,
        repository: repository?,
        semver: semver?,
        tag_pattern: tag_pattern.ok()?,
        extract: extract.ok()?,
    })
}

fn chart(r: &mut Reader<'_>, v: &Val<'_>, path: &str) -> Option<Chart> {
    let t = r.table(v, path, &["name", "repository", "version"])?;
    let name = t.req_string(r, "name");
    let repository = t.req_string(r, "repository");
    let version = t.req_string(r, "version");
    Some(Chart {
        name: name?,
        repository: repository?,
        version: version?,
    })
}

fn kind_def(r: &mut Reader<'_>, v: &Val<'_>, path: &str) -> Option<KindDef> {
    let t = r.table(v, path, &["resource", "namespaced"])?;
    let resource = t.req_string(r, "resource");
    let namespaced = t.req_bool(r, "namespaced");
    Some(KindDef {
        resource: resource?,
        namespaced: namespaced?,
    })
}

#[cfg(test)]
mod tests {
    use crate::diag::{Code, Sink, SourceMap};

    /// The wrong-type diagnostics of `text` (message, byte range of the value, help).
    fn wrong_types(text: &str) -> Vec<(String, std::ops::Range<usize>, Option<String>)> {
        let mut map = SourceMap::new();
        let file = map.add("trust.toml", text.to_string());
        let mut sink = Sink::new();
        let _ = super::super::parse(&map, file, &mut sink);
        sink.iter()
            .filter(|d| d.code == Code::WrongType)
            .map(|d| {
                let at = d.primary.as_ref().expect("located").span.range.clone();
                (d.message.clone(), at, d.help.clone())
            })
            .collect()
    }

    /// TC0003's help is right when pasted: the first snippet it quotes, put over the
    /// underlined value, leaves the example with no wrong type, also under a dotted key.
    #[test]
    fn wrong_type_help_is_right_when_pasted() {
        let example = include_str!("../../policy-spec/trust.toml");
        assert!(wrong_types(example).is_empty());
        let cases = [
            ("version = 1", "version = \"1\"", "drop the quotes: `1`"),
            ("version = 1", "version = \"01\"", "drop the quotes: `1`"),
            (
                "version = 1",
                "version = \"one\"",
                "write a whole number, e.g. `1`",
            ),
            (
                "production = true",
                "production = \"true\"",
                "drop the quotes: `true`",
            ),
            (
                "production = true",
                "production = \"yes\"",
                "write `true` or `false`",
            ),
            (
                "repository = \"ssh://git@github.com/example/payments-manifests.git\"",
                "repository = 7",
                "quote it: `\"7\"`",
            ),
            (
                "signers = [\"alice\", \"bob\"]",
                "signers = \"alice\"",
                "put it in a list: `[\"alice\"]`",
            ),
            (
                "signers = [\"alice\", \"bob\"]",
                "signers = \"alice, bob\"",
                "put it in a list: `[\"alice\", \"bob\"]`",
            ),
            (
                "signers = [\"alice\", \"bob\"]",
                "signers = true",
                "put it in a list, quoted: `[\"true\"]`",
            ),
            (
                "registries = [\"internal\"]",
                "registries = [\"internal\", 0x1F]",
                "quote it: `\"0x1F\"`",
            ),
            (
                "[environments.production]\nbranch = \"main\"\nproduction = true",
                "[environments]\nproduction.branch = \"main\"\nproduction.production = \"yes\"",
                "write `true` or `false`",
            ),
        ];
        for (line, broken, help) in cases {
            let at = example
                .find(line)
                .unwrap_or_else(|| panic!("the example has `{line}`"));
            let text = format!("{}{broken}{}", &example[..at], &example[at + line.len()..]);
            let found = wrong_types(&text);
            assert_eq!(found.len(), 1, "{broken}: {found:?}");
            let (message, value, got) = &found[0];
            assert_eq!(got.as_deref(), Some(help), "{broken}: {message}");
            let snippet = help.split('`').nth(1).expect("a quoted snippet");
            let fixed = format!("{}{snippet}{}", &text[..value.start], &text[value.end..]);
            assert!(
                wrong_types(&fixed).is_empty(),
                "pasting `{snippet}` for `{broken}`"
            );
        }
    }

    /// The key path a diagnostic names is spelt as TOML spells a dotted key: a segment that is
    /// not a bare key is quoted, so the path names the value it means.
    #[test]
    fn key_paths_quote_the_keys_that_need_quotes() {
        assert_eq!(super::key_segment("bob_smith-2"), "bob_smith-2");
        assert_eq!(super::key_segment("bob.smith"), "\"bob.smith\"");
        assert_eq!(super::key_segment(""), "\"\"");
        assert_eq!(super::key_segment("a\"b"), "\"a\\\"b\"");
        let example = include_str!("../../policy-spec/trust.toml");
        for (from, to, path) in [
            (
                "[signers.bob]\nemail = \"bob@example.com\"",
                "[signers.\"bob.smith\"]\nemail = 7",
                "signers.\"bob.smith\".email",
            ),
            (
                "[signers.bob]\nemail = \"bob@example.com\"",
                "[signers.\"bob smith\"]\nemail = 7",
                "signers.\"bob smith\".email",
            ),
            (
                "resource = \"servicemonitors\"\nnamespaced = true",
                "resource = \"servicemonitors\"\nnamespaced = \"yes\"",
                "kinds.\"monitoring.coreos.com/ServiceMonitor\".namespaced",
            ),
        ] {
            assert!(example.contains(from), "{from}");
            let text = example.replacen(from, to, 1);
            let found = wrong_types(&text);
            let mut map = SourceMap::new();
            let file = map.add("trust.toml", text.clone());
            let mut sink = Sink::new();
            let _ = super::super::parse(&map, file, &mut sink);
            let messages: Vec<&str> = sink.iter().map(|d| d.message.as_str()).collect();
            assert!(
                messages.iter().any(|m| m.contains(&format!("`{path}`"))),
                "{path} in {messages:?} ({found:?})"
            );
            // The path, as a dotted key, leads to the value of the wrong type in the document.
            let dotted: toml::Table = toml::from_str(&format!("{path} = 1")).expect("a dotted key");
            let document: toml::Table = toml::from_str(&text).expect("TOML");
            let (mut keys, mut value) = (&dotted, &document);
            let leaf = loop {
                let (key, next) = keys.iter().next().expect("one key per level");
                let found = value
                    .get(key)
                    .unwrap_or_else(|| panic!("{path}: no `{key}`"));
                match (next, found) {
                    (toml::Value::Table(k), toml::Value::Table(v)) => (keys, value) = (k, v),
                    _ => break found,
                }
            };
            assert!(
                matches!(leaf, toml::Value::Integer(7)) || leaf.as_str() == Some("yes"),
                "{path} leads to {leaf:?}"
            );
        }
    }

    /// Named entries are read side by side ([`super::Table::named`]) but report as if read
    /// one after the other: each entry's diagnostics in the entries' order, the headers of
    /// every entry in that order, and the model marked incomplete when an entry that reads
    /// lost a part (an image that could not be read).
    #[test]
    fn named_entries_report_in_their_order() {
        let example = include_str!("../../policy-spec/trust.toml");
        let mut text = example.to_string();
        // Tenants in an order no sort would give, each with an unknown key and a wrong type.
        let broken = ["zeta", "alpha", "mu", "beta", "omega", "kappa"];
        for name in broken {
            text.push_str(&format!(
                "\n[tenants.{name}]\nnamespaces = [\"{name}\"]\nrepository = 7\nbogus_{name} = 1\n"
            ));
        }
        // A tenant that reads, but for one of its images.
        let start = example.find("[tenants.payments]").unwrap();
        let end = example.find("[kinds.").unwrap();
        text.push_str(&example[start..end].replace("tenants.payments", "tenants.nu"));
        text.push_str("\n[[tenants.nu.images]]\nname = 7\n");
        let mut map = SourceMap::new();
        let file = map.add("trust.toml", text);
        let mut sink = Sink::new();
        let model = super::super::parse(&map, file, &mut sink).unwrap();
        // The order of the document's table (toml's map), whatever it is.
        let (root, _) = toml::de::DeTable::parse_recoverable(map.text(file));
        let order: Vec<String> = match root.get_ref().get("tenants").map(|v| v.get_ref()) {
            Some(toml::de::DeValue::Table(t)) => {
                t.keys().map(|k| k.get_ref().to_string()).collect()
            }
            _ => panic!("no tenants table"),
        };
        let headers: Vec<&String> = model.headers.tenants.keys().collect();
        assert_eq!(headers, order.iter().collect::<Vec<_>>());
        assert!(model.tenants.contains_key("nu") && model.tenants.contains_key("payments"));
        assert!(model.headers.incomplete);
        // Only the image lost: still incomplete.
        let mut only = example.to_string();
        only.push_str(&example[start..end].replace("tenants.payments", "tenants.nu"));
        only.push_str("\n[[tenants.nu.images]]\nname = 7\n");
        let mut only_map = SourceMap::new();
        let only_file = only_map.add("trust.toml", only);
        let only_model = super::super::parse(&only_map, only_file, &mut Sink::new()).unwrap();
        assert!(only_model.tenants.contains_key("nu"));
        assert!(only_model.headers.incomplete);
        let found: Vec<(Code, usize)> = sink
            .iter()
            .filter(|d| matches!(d.code, Code::UnknownKey | Code::WrongType))
            .map(|d| (d.code, d.primary.as_ref().unwrap().span.range.start))
            .collect();
        let named: Vec<&str> = found
            .iter()
            .filter(|f| f.0 == Code::UnknownKey)
            .map(|f| {
                let key = &map.text(file)[f.1..];
                &key["bogus_".len()..key.find(' ').unwrap()]
            })
            .collect();
        let expected: Vec<&str> = order
            .iter()
            .map(String::as_str)
            .filter(|n| broken.contains(n))
            .collect();
        assert_eq!(named, expected);
        // Each broken tenant: its unknown key, then its wrong type; `nu`, its image's.
        let codes: Vec<Code> = found.iter().map(|f| f.0).collect();
        let want: Vec<Code> = order
            .iter()
            .flat_map(|n| match n.as_str() {
                "nu" => vec![Code::WrongType],
                n if broken.contains(&n) => vec![Code::UnknownKey, Code::WrongType],
                _ => vec![],
            })
            .collect();
        assert_eq!(codes, want);
    }
}
