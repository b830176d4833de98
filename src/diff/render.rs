//! `trustc diff` output: human text, Markdown for a pull-request comment, a JSON plan, SARIF.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{Value, json};

use super::{Category, Change, Severity, counts};

/// GitHub's limit on a comment body is 65,536 characters; stay under it with room for a note.
pub const MARKDOWN_LIMIT: usize = 64 * 1000;

fn where_(c: &Change) -> String {
    match &c.location {
        Some(l) if l.in_base => format!("{}:{}:{} (base)", l.file, l.line, l.column),
        Some(l) => format!("{}:{}:{}", l.file, l.line, l.column),
        None => "generated output".to_string(),
    }
}

fn summary_line(changes: &[Change]) -> String {
    let n = counts(changes);
    let get = |s: Severity| n.get(&s).copied().unwrap_or(0);
    format!(
        "{} escalation(s), {} weakening(s), {} neutral, {} hardening(s)",
        get(Severity::Escalation),
        get(Severity::Weakening),
        get(Severity::Neutral),
        get(Severity::Hardening)
    )
}

/// One line per change: `SEVERITY env category: summary  (file:line:col)`.
pub fn render_human(changes: &[Change]) -> String {
    if changes.is_empty() {
        return "no change in what anyone may do or in what protects\n".to_string();
    }
    let mut out = String::new();
    for c in changes {
        let _ = writeln!(
            out,
            "{:<10} {:<12} {:<12} {}  ({})",
            c.severity.as_str(),
            c.env,
            c.category.as_str(),
            c.summary,
            where_(c)
        );
    }
    let _ = writeln!(out, "{}", summary_line(changes));
    out
}

fn icon(s: Severity) -> &'static str {
    match s {
        Severity::Escalation => "🔴",
        Severity::Weakening => "🟠",
        Severity::Neutral => "⚪",
        Severity::Hardening => "🟢",
    }
}

fn md_escape(s: &str) -> String {
    s.replace('|', "\\|")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\n', " ")
}

/// Markdown for a sticky pull-request comment: the summary first, then one collapsed section
/// per environment and severity; cut (with a note) before [`MARKDOWN_LIMIT`] bytes.
pub fn render_markdown(changes: &[Change]) -> String {
    let mut out =
        String::from("<!-- trustc-diff -->\n### trustc diff: what this change lets whom do\n\n");
    if changes.is_empty() {
        out.push_str("No change in what anyone may do or in what protects.\n");
        return out;
    }
    let _ = writeln!(out, "**{}**\n", summary_line(changes));
    // Summary table: environment × severity.
    let mut grid: BTreeMap<&str, BTreeMap<Severity, usize>> = BTreeMap::new();
    for c in changes {
        *grid
            .entry(c.env.as_str())
            .or_default()
            .entry(c.severity)
            .or_insert(0) += 1;
    }
    out.push_str("| environment | 🔴 escalation | 🟠 weakening | ⚪ neutral | 🟢 hardening |\n|---|---:|---:|---:|---:|\n");
    for (env, row) in &grid {
        let get = |s: Severity| row.get(&s).copied().unwrap_or(0);
        let _ = writeln!(
            out,
            "| {env} | {} | {} | {} | {} |",
            get(Severity::Escalation),
            get(Severity::Weakening),
            get(Severity::Neutral),
            get(Severity::Hardening)
        );
    }
    out.push('\n');
    let mut shown = 0;
    let mut sections: BTreeMap<(Severity, &str), Vec<&Change>> = BTreeMap::new();
    for c in changes {
        sections
            .entry((c.severity, c.env.as_str()))
            .or_default()
            .push(c);
    }
    'outer: for ((sev, env), items) in &sections {
        // Escalations and weakenings open; the rest collapsed.
        let open = if *sev <= Severity::Weakening {
            " open"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "<details{open}><summary>{} {} in <code>{env}</code> ({})</summary>\n\n| what | where |\n|---|---|",
            icon(*sev),
            sev.as_str(),
            items.len()
        );
        for c in items {
            let line = format!(
                "| {} | `{}` |\n",
                md_escape(&c.summary),
                md_escape(&where_(c))
            );
            if out.len() + line.len() + 400 > MARKDOWN_LIMIT {
                out.push_str("\n</details>\n\n");
                let _ = writeln!(
                    out,
                    "_Cut at {} of {} changes to fit one comment: run `trustc diff` locally or read the JSON/SARIF report for all._",
                    shown,
                    changes.len()
                );
                break 'outer;
            }
            out.push_str(&line);
            shown += 1;
        }
        out.push_str("\n</details>\n\n");
    }
    out
}

/// A plan like `terraform show -json`: `changes[]` with actions, before/after, severity and
/// the spec location.
pub fn render_json(changes: &[Change], base: &str) -> String {
    let n = counts(changes);
    let doc = json!({
        "format_version": "1",
        "base": base,
        "summary": {
            "escalation": n.get(&Severity::Escalation).copied().unwrap_or(0),
            "weakening": n.get(&Severity::Weakening).copied().unwrap_or(0),
            "neutral": n.get(&Severity::Neutral).copied().unwrap_or(0),
            "hardening": n.get(&Severity::Hardening).copied().unwrap_or(0),
        },
        "changes": changes.iter().map(|c| json!({
            "address": format!("{}/{}/{}/{}", c.env, c.category.as_str(), c.subject, c.item),
            "env": c.env,
            "category": c.category.as_str(),
            "severity": c.severity.as_str(),
            "actions": c.actions,
            "subject": c.subject,
            "item": c.item,
            "summary": c.summary,
            "change": {"before": c.before, "after": c.after},
            "spec_location": c.location,
        })).collect::<Vec<Value>>(),
    });
    serde_json::to_string_pretty(&doc).expect("JSON serializes") + "\n"
}

fn rule_id(c: Category) -> String {
    format!("trustc/{}", c.as_str())
}

/// SARIF 2.1.0 as GitHub code scanning reads it: one rule per [`Category`] (stable ids),
/// results on the spec lines that caused each change (repository-relative `uri`), and
/// `partialFingerprints` so an unchanged finding keeps its identity across pushes.
/// `spec_uri` is the spec's repository-relative path, used for changes the spec does not
/// locate (a template override, say).
pub fn render_sarif(changes: &[Change], spec_uri: &str) -> String {
    let rules: Vec<Value> = Category::ALL
        .iter()
        .map(|c| {
            json!({
                "id": rule_id(*c),
                "name": c.as_str(),
                "shortDescription": {"text": c.description()},
            })
        })
        .collect();
    let results: Vec<Value> = changes
        .iter()
        .map(|c| {
            let level = match c.severity {
                Severity::Escalation => "error",
                Severity::Weakening => "warning",
                Severity::Neutral | Severity::Hardening => "note",
            };
            let (uri, region) = match &c.location {
                Some(l) if !l.in_base => (
                    l.file.clone(),
                    json!({"startLine": l.line, "startColumn": l.column, "endLine": l.end_line, "endColumn": l.end_column.max(l.column + usize::from(l.end_line == l.line))}),
                ),
                _ => (spec_uri.to_string(), json!({"startLine": 1})),
            };
            let fingerprint = fingerprint(c);
            json!({
                "ruleId": rule_id(c.category),
                "ruleIndex": Category::ALL.iter().position(|x| *x == c.category).unwrap_or(0),
                "level": level,
                "message": {"text": format!("[{}] {}: {}", c.severity.as_str(), c.env, c.summary)},
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": {"uri": uri},
                        "region": region,
                    }
                }],
                "partialFingerprints": {"trustcChange/v1": fingerprint},
                "properties": {"severity": c.severity.as_str(), "environment": c.env},
            })
        })
        .collect();
    let doc = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "trustc",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "results": results,
        }],
    });
    serde_json::to_string_pretty(&doc).expect("JSON serializes") + "\n"
}

/// A change's identity across runs: environment, category, subject, item, severity.
fn fingerprint(c: &Change) -> String {
    let text = format!(
        "{}|{}|{}|{}|{}",
        c.env,
        c.category.as_str(),
        c.subject,
        c.item,
        c.severity.as_str()
    );
    format!("{:016x}", fnv(&text))
}

fn fnv(text: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// GitLab's code-quality report (the Code Climate JSON subset GitLab reads): one issue per
/// change, on the spec line that caused it, so merge requests show them inline.
pub fn render_codequality(changes: &[Change], spec_uri: &str) -> String {
    let issues: Vec<Value> = changes
        .iter()
        .map(|c| {
            let severity = match c.severity {
                Severity::Escalation => "critical",
                Severity::Weakening => "major",
                Severity::Neutral | Severity::Hardening => "info",
            };
            let (path, line) = match &c.location {
                Some(l) if !l.in_base => (l.file.clone(), l.line),
                _ => (spec_uri.to_string(), 1),
            };
            json!({
                "type": "issue",
                "check_name": rule_id(c.category),
                "description": format!("[{}] {}: {}", c.severity.as_str(), c.env, c.summary),
                "categories": ["Security"],
                "severity": severity,
                "fingerprint": fingerprint(c),
                "location": {"path": path, "lines": {"begin": line}},
            })
        })
        .collect();
    serde_json::to_string_pretty(&issues).expect("JSON serializes") + "\n"
}
