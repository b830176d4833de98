//! Rules on images, charts and registries: semver ranges, anchored tag patterns, capture
//! groups named by `extract`, hosts within the tenant's registries, keyless identities.

use crate::check::Checker;
use crate::diag::{Code, Diagnostic};
use crate::spec::Sp;
use std::collections::HashMap;

/// What the rules compute per distinct text, not per use: a fleet's tenants repeat a few
/// ranges and tag patterns thousands of times (`check` on 5,000 tenants spent a fifth of its
/// time parsing the same ones again).
#[derive(Default)]
struct Memo {
    /// Range text → its parse.
    ranges: HashMap<String, Result<crate::check::ranges::Constraints, String>>,
    /// (tag pattern, extract) → [`prerelease_tags_only`].
    pre_only: HashMap<(String, Option<String>), bool>,
}

pub(super) fn run(c: &mut Checker<'_>) {
    let spec = c.spec;
    let mut memo = Memo::default();
    for reg in spec.registries.values() {
        let h = reg.host.as_str();
        if h.contains('*') {
            c.push(
                Diagnostic::new(
                    Code::WildcardGrant,
                    format!("registry host `{h}` is a wildcard"),
                )
                .at(reg.host.span.clone(), "wildcard host")
                .note("a wildcard registry admits images from hosts nobody reviewed (Adversary 5)")
                .help("name the registry host exactly"),
            );
        } else if !is_host(h) {
            c.push(
                Diagnostic::new(
                    Code::InvalidRegistryHost,
                    format!("`{h}` is not a registry host"),
                )
                .at(reg.host.span.clone(), "expected HOST or HOST:PORT")
                .help("write the host alone, e.g. `registry.example.com`, without scheme or path"),
            );
        }
        if let Some(k) = &reg.keyless {
            if !k.issuer.value.starts_with("https://") {
                c.push(
                    Diagnostic::new(
                        Code::InvalidRegex,
                        format!("keyless issuer `{}` is not an https URL", k.issuer.value),
                    )
                    .at(k.issuer.span.clone(), "expected the OIDC issuer URL")
                    .help("e.g. `https://token.actions.githubusercontent.com`"),
                );
            }
            pattern(c, &k.subject, "keyless subject");
        }
    }
    for (tenant, t) in &spec.tenants {
        let hosts: Vec<&str> = t
            .registries
            .iter()
            .filter_map(|r| spec.registries.get(&r.value))
            .map(|r| r.host.as_str())
            .collect();
        // A registry of the tenant that could not be read, that is not declared (TC1002,
        // a misspelt name), or whose host is refused (TC1038): its host is unknown, and the
        // image may be on it. TC1024's help ("add `NAME`") would not clear the cause.
        let unread = t
            .registries
            .iter()
            .any(|r| !spec.registries.contains_key(&r.value))
            || hosts.iter().any(|h| !is_host(h));
        for img in &t.images {
            if let Some(range) = semver_range(c, &mut memo, &img.semver) {
                prerelease_only(c, &mut memo, img, &range);
            }
            let host = registry_host(&img.repository);
            if !unread && host.is_none_or(|h| !hosts.contains(&h)) {
                outside(c, tenant, &img.repository, host, &hosts);
            }
            let compiled = img
                .tag_pattern
                .as_ref()
                .and_then(|p| pattern(c, p, "tag pattern"));
            if let Some(ex) = &img.extract {
                match (&img.tag_pattern, compiled) {
                    (None, _) => c.push(
                        Diagnostic::new(Code::UnknownCaptureGroup, "`extract` without a `tag_pattern`")
                            .at(ex.span.clone(), "nothing to extract from")
                            .help("add a `tag_pattern` with a named group, e.g. '^v(?P<version>[0-9.]+)$'"),
                    ),
                    (Some(_), Some(re)) => extract(c, ex, &re),
                    (Some(_), None) => {}
                }
            }
        }
        for chart in &t.charts {
            semver_range(c, &mut memo, &chart.version);
            let url = chart.repository.as_str();
            if let Some(rest) = url.strip_prefix("oci://") {
                let host = rest.split('/').next().unwrap_or("");
                if !unread && !hosts.contains(&host) {
                    outside(c, tenant, &chart.repository, Some(host), &hosts);
                }
            } else if !url.starts_with("https://") {
                c.push(
                    Diagnostic::new(
                        Code::InvalidChartRepository,
                        format!("chart repository `{url}` is neither oci:// nor https://"),
                    )
                    .at(chart.repository.span.clone(), "unsupported scheme")
                    .help("use `oci://HOST/PATH` (verifiable with cosign) or `https://…`"),
                );
            }
        }
    }
}

fn is_host(h: &str) -> bool {
    let (name, port) = match h.rsplit_once(':') {
        Some((n, p)) => (n, Some(p)),
        None => (h, None),
    };
    !name.is_empty()
        && port.is_none_or(|p| p.parse::<u16>().is_ok())
        && name
            .split('.')
            .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
}

/// The registry host an image repository names, as Flux reads it: the first `/`-separated
/// component when it contains a `.` or a `:` (google/go-containerregistry
/// `pkg/name/repository.go`, `NewRepository`, which image-reflector-controller parses
/// `ImageRepository.spec.image` with); `None` for a name without one (`nginx`,
/// `library/nginx`, `localhost/app`), which Flux reads as Docker Hub's.
pub(super) fn registry_host(repository: &str) -> Option<&str> {
    match repository.split_once('/') {
        Some((first, _)) if first.contains(['.', ':']) => Some(first),
        _ => None,
    }
}

/// Docker Hub's name, for a repository without a registry host ([`registry_host`]).
const DOCKER_HUB: &str = "docker.io";

fn outside(
    c: &mut Checker<'_>,
    tenant: &str,
    repo: &Sp<String>,
    host: Option<&str>,
    hosts: &[&str],
) {
    let message = match host {
        Some(host) => format!(
            "tenant `{tenant}` takes `{}` from `{host}`, which is not one of its registries",
            repo.value
        ),
        None if hosts.contains(&repo.value.as_str()) => format!(
            "tenant `{tenant}` names the registry `{}` with no image in it",
            repo.value
        ),
        None => format!(
            "tenant `{tenant}` takes `{}`, a name without a registry host: Flux reads it as Docker Hub's (`{DOCKER_HUB}/…`)",
            repo.value
        ),
    };
    let help = if hosts.contains(&repo.value.as_str()) {
        format!("name the image after the host: `\"{}/NAME\"`", repo.value)
    } else if let Some((name, r)) = c.spec.registries.iter().find(|(_, r)| {
        let h = r.host.value.as_str();
        match host {
            Some(host) => h == host,
            None => h == DOCKER_HUB,
        }
    }) {
        match host {
            // A declared registry has this host: the tenant does not list it (`registries`
            // lists registry names, not hosts).
            Some(host) => {
                format!("add `{name}` (the registry of `{host}`) to the tenant's `registries`")
            }
            // Docker Hub is declared: write its host, and list it if the tenant does not.
            None => {
                let full = format!("`\"{}/{}\"`", r.host.value, repo.value);
                if hosts.contains(&DOCKER_HUB) {
                    format!("write the registry host: {full}")
                } else {
                    format!(
                        "write the registry host: {full}, and add `{name}` to the tenant's `registries`"
                    )
                }
            }
        }
    } else if hosts.iter().any(|h| is_host(h)) {
        // The same path on each of the tenant's registries (a mirror), as a value to
        // paste over the underlined one.
        let (scheme, rest) = match repo.value.strip_prefix("oci://") {
            Some(rest) => ("oci://", rest),
            None => ("", repo.value.as_str()),
        };
        // Without a host, the whole name is the path.
        let path = match host {
            Some(_) => rest.split_once('/').map_or(rest, |(_, p)| p),
            None => rest,
        };
        let on: Vec<String> = hosts
            .iter()
            .filter(|h| is_host(h))
            .map(|h| format!("`\"{scheme}{h}/{path}\"`"))
            .collect();
        format!(
            "take it from one of the tenant's registries (a mirror): {}",
            on.join(" or ")
        )
    } else {
        let host = host.unwrap_or(DOCKER_HUB);
        format!(
            "declare the registry (`[registries.NAME]` with `host = \"{host}\"` and its signature key) and add NAME to the tenant's `registries`"
        )
    };
    c.push(
        Diagnostic::new(Code::ImageOutsideRegistries, message)
            .at(repo.span.clone(), "host not among the tenant's registries")
            .note("automation and admission only trust the tenant's registries (Adversary 5)")
            .help(help),
    );
}

/// A range Flux accepts: Masterminds/semver v3 `NewConstraint`, ported faithfully.
fn semver_range(
    c: &mut Checker<'_>,
    memo: &mut Memo,
    r: &Sp<String>,
) -> Option<crate::check::ranges::Constraints> {
    let parsed = memo
        .ranges
        .entry(r.value.clone())
        .or_insert_with_key(|r| crate::check::ranges::parse(r));
    match parsed.clone() {
        Ok(cs) => Some(cs),
        Err(e) => {
            c.push(
                Diagnostic::new(
                    Code::InvalidSemverRange,
                    format!("`{}` is not a semver range", r.value),
                )
                .at(r.span.clone(), e)
                .note("Flux parses ranges with Masterminds/semver v3 (`NewConstraint`); trustc accepts exactly what it accepts")
                .help("write comparators separated by spaces or commas, e.g. \">=1.0.0 <2.0.0\""),
            );
            None
        }
    }
}

/// flux2#1298: a range without a pre-release never matches a pre-release version
/// (Masterminds/semver `containsPre`), so a tag pattern whose compared part always carries a
/// pre-release (`-rc.1`) selects no tag at all.
fn prerelease_only(
    c: &mut Checker<'_>,
    memo: &mut Memo,
    img: &crate::spec::Image,
    range: &crate::check::ranges::Constraints,
) {
    let Some(p) = &img.tag_pattern else { return };
    if range.admits_prereleases() {
        return;
    }
    let extract = img.extract.as_ref().map(|e| e.value.clone());
    let only = *memo
        .pre_only
        .entry((p.value.clone(), extract))
        .or_insert_with_key(|(p, e)| prerelease_tags_only(p, e.as_deref()));
    if only {
        c.push(
            Diagnostic::new(
                Code::PrereleaseOnlyTags,
                format!("every tag `{}` yields is a pre-release, and the range `{}` admits none", p.value, img.semver.value),
            )
            .at(p.span.clone(), "every match carries a `-`: a pre-release version")
            .with_secondary(img.semver.span.clone(), "no pre-release in this range")
            .note("a semver range without a pre-release never matches a pre-release version, so this ImagePolicy never selects a tag (flux2#1298)")
            .help(format!(
                "admit pre-releases in the range: `semver = \"{}\"` (or extract the release part of the tag only)",
                with_prerelease(&img.semver.value, range)
            )),
        );
    }
}

/// Whether every tag `pattern` matches carries a pre-release in its compared part (the group
/// `extract` names alone, else the whole tag): it must contain a `-` and cannot contain a `+`.
/// `false` when the pattern does not parse or `extract` names no single group.
fn prerelease_tags_only(pattern: &str, extract: Option<&str>) -> bool {
    let Ok(hir) = regex_syntax::Parser::new().parse(pattern) else {
        return false;
    };
    let compared = match extract {
        Some(e) if e.matches('$').count() == 1 => {
            let name = e
                .trim_start_matches('$')
                .trim_start_matches('{')
                .trim_end_matches('}');
            match find_group(&hir, name) {
                Some(h) => h,
                None => return false,
            }
        }
        Some(_) => return false,
        None => &hir,
    };
    must_contain(compared, '-') && !may_contain(compared, '+')
}

/// The range with `-0` (the lowest pre-release) after its first comparator's version:
/// `~3.3.x` → `~3.3.x-0`, `>=1.0.0 <2.0.0` → `>=1.0.0-0 <2.0.0`.
fn with_prerelease(range: &str, parsed: &crate::check::ranges::Constraints) -> String {
    let Some((_, first)) = parsed.groups.first().and_then(|g| g.first()) else {
        return range.to_string();
    };
    match range.find(first.as_str()) {
        Some(at) if !first.is_empty() => {
            let end = at + first.len();
            format!("{}-0{}", &range[..end], &range[end..])
        }
        _ => format!("{range}-0"),
    }
}

fn find_group<'h>(h: &'h regex_syntax::hir::Hir, name: &str) -> Option<&'h regex_syntax::hir::Hir> {
    use regex_syntax::hir::HirKind;
    match h.kind() {
        HirKind::Capture(c)
            if c.name.as_deref() == Some(name) || name.parse::<u32>().ok() == Some(c.index) =>
        {
            Some(&c.sub)
        }
        HirKind::Capture(c) => find_group(&c.sub, name),
        HirKind::Concat(xs) | HirKind::Alternation(xs) => {
            xs.iter().find_map(|x| find_group(x, name))
        }
        HirKind::Repetition(r) => find_group(&r.sub, name),
        _ => None,
    }
}

/// Whether every match of `h` contains `ch`.
fn must_contain(h: &regex_syntax::hir::Hir, ch: char) -> bool {
    use regex_syntax::hir::{Class, HirKind};
    match h.kind() {
        HirKind::Literal(l) => String::from_utf8_lossy(&l.0).contains(ch),
        HirKind::Class(Class::Unicode(u)) => u.iter().all(|r| r.start() == ch && r.end() == ch),
        HirKind::Class(Class::Bytes(b)) => b
            .iter()
            .all(|r| r.start() == ch as u8 && r.end() == ch as u8),
        HirKind::Concat(xs) => xs.iter().any(|x| must_contain(x, ch)),
        HirKind::Alternation(xs) => xs.iter().all(|x| must_contain(x, ch)),
        HirKind::Capture(c) => must_contain(&c.sub, ch),
        HirKind::Repetition(r) => r.min >= 1 && must_contain(&r.sub, ch),
        _ => false,
    }
}

/// Whether some match of `h` may contain `ch`.
fn may_contain(h: &regex_syntax::hir::Hir, ch: char) -> bool {
    use regex_syntax::hir::{Class, HirKind};
    match h.kind() {
        HirKind::Literal(l) => String::from_utf8_lossy(&l.0).contains(ch),
        HirKind::Class(Class::Unicode(u)) => u.iter().any(|r| r.start() <= ch && ch <= r.end()),
        HirKind::Class(Class::Bytes(b)) => b
            .iter()
            .any(|r| r.start() <= ch as u8 && ch as u8 <= r.end()),
        HirKind::Concat(xs) | HirKind::Alternation(xs) => xs.iter().any(|x| may_contain(x, ch)),
        HirKind::Capture(c) => may_contain(&c.sub, ch),
        HirKind::Repetition(r) => r.max != Some(0) && may_contain(&r.sub, ch),
        _ => false,
    }
}

/// Compiles a pattern and requires `^…$`; returns the regex when it compiles.
fn pattern(c: &mut Checker<'_>, p: &Sp<String>, what: &str) -> Option<regex::Regex> {
    // Fleets repeat a handful of tag patterns across thousands of images: each distinct
    // pattern is compiled and judged once per run (the diagnostics are still per use).
    type Judged = (Result<regex::Regex, String>, bool);
    thread_local! {
        static COMPILED: std::cell::RefCell<std::collections::HashMap<String, Judged>> =
            Default::default();
    }
    let (compiled, anchored) = COMPILED.with(|m| {
        m.borrow_mut()
            .entry(p.value.clone())
            .or_insert_with(|| {
                (
                    regex::Regex::new(&p.value).map_err(|e| e.to_string()),
                    is_anchored(&p.value),
                )
            })
            .clone()
    });
    let re = match compiled {
        Ok(re) => re,
        Err(msg) => {
            let last = msg.lines().last().unwrap_or("invalid").trim().to_string();
            c.push(
                Diagnostic::new(
                    Code::InvalidRegex,
                    format!("{what} `{}` does not compile", p.value),
                )
                .at(p.span.clone(), last)
                .help("write an RE2 regular expression (Flux and Kyverno are Go programs)"),
            );
            return None;
        }
    };
    if !anchored {
        c.push(
            Diagnostic::new(Code::UnanchoredPattern, format!("{what} `{}` is not anchored", p.value))
                .at(p.span.clone(), "every alternative must start with `^` and end with `$`")
                .note("an unanchored pattern also matches longer strings: `v1.2.3` matches `v1.2.3-backdoor` (Adversary 5)")
                .help(format!("replace with `{}`", toml_string(&anchor_fix(&p.value)))),
        );
    }
    Some(re)
}

/// Whether a pattern can only match whole strings: judged on the parsed regex, every
/// alternative must begin with `^` and end with `$` (text-anchored, not multi-line), so
/// `'^A|B$'` (which matches `latest-evil`) is not anchored. Go's RE2 and Rust's regex agree
/// on these assertions outside `(?m)`.
pub(crate) fn is_anchored(p: &str) -> bool {
    match regex_syntax::Parser::new().parse(p) {
        Ok(hir) => starts(&hir) && ends(&hir),
        Err(_) => false,
    }
}

fn starts(h: &regex_syntax::hir::Hir) -> bool {
    use regex_syntax::hir::{HirKind, Look};
    match h.kind() {
        HirKind::Look(Look::Start) => true,
        HirKind::Concat(xs) => xs.first().is_some_and(starts),
        HirKind::Alternation(xs) => xs.iter().all(starts),
        HirKind::Capture(c) => starts(&c.sub),
        HirKind::Repetition(r) => r.min >= 1 && starts(&r.sub),
        _ => false,
    }
}

fn ends(h: &regex_syntax::hir::Hir) -> bool {
    use regex_syntax::hir::{HirKind, Look};
    match h.kind() {
        HirKind::Look(Look::End) => true,
        HirKind::Concat(xs) => xs.last().is_some_and(ends),
        HirKind::Alternation(xs) => xs.iter().all(ends),
        HirKind::Capture(c) => ends(&c.sub),
        HirKind::Repetition(r) => r.min >= 1 && ends(&r.sub),
        _ => false,
    }
}

/// The anchored regex a user most likely meant by an unanchored pattern. A pattern without
/// regex syntax beyond `.` and `*` is read as a glob, as people write identities
/// (`https://github.com/org/*`): dots are escaped and `*` (or `.*`) becomes `.*`. Otherwise the
/// regex is kept, with a dot between two letters or digits (a host name's) escaped, and
/// wrapped in `(?:…)` when it has alternatives.
pub(crate) fn anchor_fix(p: &str) -> String {
    let mut body = p.strip_prefix('^').unwrap_or(p);
    if body.ends_with('$') && trailing_backslashes(body) % 2 == 0 {
        body = &body[..body.len() - 1];
    }
    let glob = !body.contains(['\\', '[', ']', '(', ')', '{', '}', '+', '|', '^', '$']);
    let mut out = String::new();
    if glob {
        let mut chars = body.chars().peekable();
        while let Some(ch) = chars.next() {
            match ch {
                '.' if chars.peek() == Some(&'*') => {
                    chars.next();
                    out.push_str(".*");
                }
                '*' => out.push_str(".*"),
                '.' | '?' => {
                    out.push('\\');
                    out.push(ch);
                }
                _ => out.push(ch),
            }
        }
    } else {
        let chars: Vec<char> = body.chars().collect();
        let mut escaped = false;
        for (i, &ch) in chars.iter().enumerate() {
            let host_dot = ch == '.'
                && !escaped
                && i > 0
                && chars[i - 1].is_ascii_alphanumeric()
                && chars.get(i + 1).is_some_and(char::is_ascii_alphanumeric);
            if host_dot {
                out.push('\\');
            }
            out.push(ch);
            escaped = ch == '\\' && !escaped;
        }
        let alternation = regex_syntax::ast::parse::Parser::new()
            .parse(&out)
            .is_ok_and(|a| matches!(a, regex_syntax::ast::Ast::Alternation(_)));
        if alternation {
            out = format!("(?:{out})");
        }
    }
    format!("^{out}$")
}

fn trailing_backslashes(s: &str) -> usize {
    s[..s.len().saturating_sub(1)]
        .bytes()
        .rev()
        .take_while(|&b| b == b'\\')
        .count()
}

/// A TOML string holding `s` exactly: a literal string when it can be one.
pub(crate) fn toml_string(s: &str) -> String {
    if s.contains(['\'', '\n', '\r']) {
        serde_json::to_string(s).expect("a string serializes")
    } else {
        format!("'{s}'")
    }
}

/// Every `$name`/`${name}`/`$1` in `extract` must name a group of the pattern
/// (Go's `Regexp.ExpandString` silently expands an unknown name to "").
fn extract(c: &mut Checker<'_>, ex: &Sp<String>, re: &regex::Regex) {
    let names: Vec<&str> = re.capture_names().flatten().collect();
    let groups = re.captures_len() - 1;
    let s = ex.as_str();
    let bytes = s.as_bytes();
    let mut i = 0;
    let mut found_any = false;
    while i < bytes.len() {
        if bytes[i] != b'$' {
            i += 1;
            continue;
        }
        if bytes.get(i + 1) == Some(&b'$') {
            i += 2;
            continue;
        }
        let (name, len) = if bytes.get(i + 1) == Some(&b'{') {
            match s[i + 2..].find('}') {
                Some(end) => (&s[i + 2..i + 2 + end], end + 3),
                None => (&s[i + 1..], s.len() - i),
            }
        } else {
            let n = s[i + 1..]
                .find(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_'))
                .unwrap_or(s.len() - i - 1);
            (&s[i + 1..i + 1 + n], n + 1)
        };
        found_any = true;
        let ok = match name.parse::<usize>() {
            Ok(n) => n <= groups,
            Err(_) => names.contains(&name),
        };
        if !ok {
            let start = super::inner_start(&ex.span) + i;
            let span = crate::diag::Span::new(ex.span.file, start..start + len);
            c.push(
                Diagnostic::new(
                    Code::UnknownCaptureGroup,
                    format!("`extract` names `{name}`, which is no capture group of the tag pattern"),
                )
                .at(span, "no such group")
                .note("Flux expands an unknown group to \"\": every tag extracts to the empty string and no tag ever qualifies")
                .help(if names.is_empty() {
                    "add a named group to the pattern, e.g. '^v(?P<version>[0-9]+\\.[0-9]+\\.[0-9]+)$', or drop `extract`".to_string()
                } else {
                    format!("groups of the pattern: {}", names.join(", "))
                }),
            );
        }
        i += len.max(1);
    }
    if !found_any {
        c.push(
            Diagnostic::new(
                Code::UnknownCaptureGroup,
                "`extract` names no capture group",
            )
            .at(ex.span.clone(), "expected `$name`")
            .help("write `$name` of a named group of the tag pattern"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors() {
        assert!(is_anchored("^v[0-9]+$"));
        assert!(!is_anchored("v[0-9]+$"));
        assert!(!is_anchored("^v[0-9]+"));
        assert!(!is_anchored("^v\\$"));
        assert!(is_anchored("^v\\\\$"));
        // Judged on the parsed regex: every alternative anchored at both ends.
        assert!(!is_anchored("^A|B$"));
        assert!(!is_anchored("^(A)|(B)$"));
        assert!(is_anchored("^(?:A|B)$"));
        assert!(is_anchored("^A$|^B$"));
        assert!(!is_anchored("(?m)^A$"));
        assert!(!is_anchored("^A$|B"));
        assert!(is_anchored("^$"));
    }

    #[test]
    fn anchor_fixes_match_what_was_meant_and_no_look_alike() {
        let cases: &[(&str, &str, &[&str], &[&str])] = &[
            (
                "https://github.com/org/*",
                "^https://github\\.com/org/.*$",
                &["https://github.com/org/app/.github/workflows/release.yml@refs/heads/main"],
                &[
                    "https://githubXcom/org/app",
                    "https://github.com/org-evil/app",
                    "https://evil.example/https://github.com/org/app",
                    "https://github.com/org",
                ],
            ),
            (
                "https://github.com/org/.*",
                "^https://github\\.com/org/.*$",
                &["https://github.com/org/app/.github/workflows/ci.yml@refs/tags/v1"],
                &[
                    "https://github.com/org2/app",
                    "x https://github.com/org/app",
                ],
            ),
            (
                "v[0-9]+\\.[0-9]+\\.[0-9]+",
                "^v[0-9]+\\.[0-9]+\\.[0-9]+$",
                &["v1.2.3"],
                &["v1.2.3-backdoor", "xv1.2.3"],
            ),
            (
                "^A|B$",
                "^(?:A|B)$",
                &["A", "B"],
                &["latest-evil-B", "A-evil"],
            ),
            ("1.2.3", "^1\\.2\\.3$", &["1.2.3"], &["1x2y3", "1.2.3.4"]),
        ];
        for (given, want, matches, refuses) in cases {
            let fixed = anchor_fix(given);
            assert_eq!(&fixed, want, "{given}");
            assert!(is_anchored(&fixed), "{fixed}");
            let re = regex::Regex::new(&fixed).unwrap();
            for m in *matches {
                assert!(re.is_match(m), "{fixed} must match {m}");
            }
            for r in *refuses {
                assert!(!re.is_match(r), "{fixed} must not match {r}");
            }
        }
    }
}
