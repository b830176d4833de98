//! `docs/spec.md`: the reference of the trust model, generated from the JSON Schema (the same
//! source as `trustc schema`), so the two cannot drift. A test keeps the committed copy fresh.

use serde_json::Value;

/// The Markdown reference of every key of the trust model.
pub fn spec_reference() -> String {
    let schema: Value = serde_json::from_str(&super::schema_json()).expect("schema is JSON");
    let mut out = String::from(
        "# The trust model: `policy-spec/trust.toml`\n\n\
         <!-- Generated from the JSON Schema by trustc (`trustc::cli::spec_reference`); do not edit:\n\
         \x20    `TRUSTC_BLESS=1 cargo test --locked spec_reference_is_fresh` rewrites it. -->\n\n\
         Every key of the trust model: its type, whether it is required, its default, the values\n\
         it allows and an example. The same facts are in the JSON Schema\n\
         (`policy-spec/trust.schema.json`, printed by `trustc schema`), which editors use as you\n\
         type: start the file with `#:schema ./trust.schema.json` for taplo / Even Better TOML.\n\
         `trustc check` enforces all of it, and more (see `trustc explain --list`).\n\n\
         `trustc init` writes a commented starter file.\n",
    );
    section(&mut out, &schema, &schema, "", "the top level");
    out
}

fn resolve<'a>(root: &'a Value, v: &'a Value) -> &'a Value {
    if let Some(r) = v.get("$ref").and_then(Value::as_str) {
        let name = r.trim_start_matches("#/$defs/");
        return &root["$defs"][name];
    }
    if let Some(any) = v.get("anyOf").and_then(Value::as_array) {
        if let Some(inner) = any.iter().find(|a| a.get("$ref").is_some()) {
            return resolve(root, inner);
        }
    }
    v
}

/// The table name a section is written under (`[flux]`, `[tenants.NAME]`).
fn section(out: &mut String, root: &Value, obj: &Value, path: &str, title: &str) {
    let Some(props) = obj.get("properties").and_then(Value::as_object) else {
        return;
    };
    let required: Vec<&str> = obj
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let heading = if path.is_empty() {
        "## Top level".to_string()
    } else {
        format!("## `{path}`")
    };
    out.push_str(&format!("\n{heading}\n\n"));
    if let Some(d) = obj.get("description").and_then(Value::as_str) {
        out.push_str(&format!("{}\n\n", one_line(d)));
    } else if !path.is_empty() {
        out.push_str(&format!("The keys of {title}.\n\n"));
    }
    out.push_str("| key | type | required | default | allowed | description | example |\n");
    out.push_str("|---|---|---|---|---|---|---|\n");
    let mut nested: Vec<(String, &Value, String)> = Vec::new();
    for (key, v) in props {
        let target = resolve(root, v);
        let ty = type_of(root, v);
        let req = if required.contains(&key.as_str()) {
            "yes"
        } else {
            "no"
        };
        let default = v
            .get("default")
            .map(|d| format!("`{}`", toml_value(d)))
            .unwrap_or_default();
        let allowed = allowed(v);
        let desc = v
            .get("description")
            .and_then(Value::as_str)
            .map(one_line)
            .unwrap_or_default();
        // An example: the schema's, else the default, else the first allowed value.
        let example = v
            .get("examples")
            .and_then(Value::as_array)
            .and_then(|e| e.first())
            .or_else(|| v.get("default"))
            .or_else(|| {
                v.get("enum")
                    .and_then(Value::as_array)
                    .and_then(|e| e.first())
            })
            .map(|e| format!("`{key} = {}`", toml_value(e)))
            .unwrap_or_else(|| match ty.as_str() {
                "table" => format!(
                    "`[{}]`",
                    if path.is_empty() {
                        key.clone()
                    } else {
                        format!("{}.{key}", path.trim_matches(['[', ']']))
                    }
                ),
                "table of tables" => format!("`[{key}.NAME]`"),
                "array of tables" => format!("`[[…{key}]]`"),
                _ => String::new(),
            });
        out.push_str(&format!(
            "| `{key}` | {ty} | {req} | {default} | {allowed} | {} | {example} |\n",
            cell(&desc)
        ));
        // The dotted name without the heading's brackets (`[flux]` → `flux.egress`).
        let sub = if path.is_empty() {
            key.clone()
        } else {
            format!("{}.{key}", path.trim_matches(['[', ']']))
        };
        if target.get("properties").is_some() {
            nested.push((sub, target, format!("`{key}`")));
        } else if let Some(entry) = v.get("additionalProperties").filter(|a| a.is_object()) {
            nested.push((
                format!("{sub}.NAME"),
                resolve(root, entry),
                format!("each `{key}` entry"),
            ));
        } else if let Some(item) = v.get("items") {
            let item = resolve(root, item);
            if item.get("properties").is_some() {
                nested.push((format!("[{sub}]"), item, format!("each `{key}` entry")));
            }
        }
    }
    for (sub, target, title) in nested {
        let display = if let Some(arr) = sub.strip_prefix('[') {
            format!("[[{}]]", arr.trim_end_matches(']'))
        } else {
            format!("[{sub}]")
        };
        section(out, root, target, &display, &title);
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|")
}

fn type_of(root: &Value, v: &Value) -> String {
    let target = resolve(root, v);
    if target.get("properties").is_some() {
        return "table".into();
    }
    if v.get("additionalProperties").is_some_and(Value::is_object) {
        return "table of tables".into();
    }
    let ty = match v.get("type") {
        Some(Value::String(t)) => t.clone(),
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .filter(|t| *t != "null")
            .collect::<Vec<_>>()
            .join(" or "),
        _ => String::new(),
    };
    match ty.as_str() {
        "array" => {
            let item = v.get("items").map(|i| resolve(root, i));
            if item.is_some_and(|i| i.get("properties").is_some()) {
                "array of tables".into()
            } else {
                let inner = item
                    .and_then(|i| i.get("type"))
                    .and_then(Value::as_str)
                    .unwrap_or("value");
                format!("array of {inner}s")
            }
        }
        "" => "value".into(),
        t => t.into(),
    }
}

fn allowed(v: &Value) -> String {
    let mut parts = Vec::new();
    if let Some(e) = v.get("enum").and_then(Value::as_array) {
        parts.push(
            e.iter()
                .map(|x| format!("`{}`", toml_value(x)))
                .collect::<Vec<_>>()
                .join(", "),
        );
    }
    let pattern_of = |x: &Value| x.get("pattern").and_then(Value::as_str).map(str::to_string);
    if let Some(p) = pattern_of(v).or_else(|| v.get("items").and_then(pattern_of)) {
        parts.push(format!("matches `{}`", cell(&p)));
    }
    if let Some(p) = v.get("propertyNames").and_then(pattern_of) {
        parts.push(format!("names match `{}`", cell(&p)));
    }
    let max = v
        .get("maxLength")
        .or_else(|| v.get("items").and_then(|i| i.get("maxLength")))
        .or_else(|| v.get("propertyNames").and_then(|i| i.get("maxLength")));
    if let Some(m) = max {
        parts.push(format!("at most {m} characters"));
    }
    parts.join("; ")
}

fn toml_value(v: &Value) -> String {
    match v {
        // A literal string keeps a regex's backslashes as written.
        Value::String(s) if s.contains('\\') && !s.contains(['\'', '\n']) => format!("'{s}'"),
        Value::String(s) => serde_json::to_string(s).expect("string"),
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(toml_value).collect::<Vec<_>>().join(", ")
        ),
        other => other.to_string(),
    }
}
