//! Semver ranges exactly as Flux reads them: a port of `semver.NewConstraint` of
//! Masterminds/semver v3 (the parser of image-reflector-controller's ImagePolicy `semver`
//! and of source-controller's HelmChart `version`). Source: Masterminds/semver v3.4.0
//! `constraints.go` (`cvRegex`, `constraintRegex`, `constraintRangeRegex`,
//! `findConstraintRegex`, `validConstraintRegex`, `rewriteRange`, `parseConstraint`) and
//! `version.go` (`looseSemVerRegex`, `coerceNewVersion`, `validatePrerelease`,
//! `validateMetadata`); the parsing is unchanged up to v3.5.0, which image-reflector-controller
//! v1.2.0 uses (`go.mod`, `internal/policy/semver.go`).
//!
//! The regexes are upstream's, with Go's `\s` spelt out as `[\t\n\f\r ]` (Go's `\s` is ASCII;
//! Rust's is Unicode). Go's regexp and Rust's regex both use leftmost-first submatch
//! semantics, so captures agree.

use regex::Regex;
use std::sync::LazyLock;

/// Go's `\s`.
const S: &str = r"[\t\n\f\r ]";
/// `ops` of `constraints.go` (the empty operator second, as upstream writes it).
const OPS: &str = r"=||!=|>|<|>=|=>|<=|=<|~|~>|\^";
/// `cvRegex` of `constraints.go`.
const CV: &str = concat!(
    r"v?([0-9|x|X|\*]+)(\.[0-9|x|X|\*]+)?(\.[0-9|x|X|\*]+)?",
    r"(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?",
    r"(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?"
);

fn re(pattern: String) -> Regex {
    Regex::new(&pattern.replace(r"\s", S)).expect("upstream regex compiles")
}

/// `constraintRegex`: `^\s*(ops)\s*(cv)\s*$`.
static CONSTRAINT: LazyLock<Regex> = LazyLock::new(|| re(format!(r"^\s*({OPS})\s*({CV})\s*$")));
/// `constraintRangeRegex`: `\s*(cv)\s+-\s+(cv)\s*`.
static RANGE: LazyLock<Regex> = LazyLock::new(|| re(format!(r"\s*({CV})\s+-\s+({CV})\s*")));
/// `findConstraintRegex`: `(ops)\s*(cv)`.
static FIND: LazyLock<Regex> = LazyLock::new(|| re(format!(r"({OPS})\s*({CV})")));
/// `validConstraintRegex`.
static VALID: LazyLock<Regex> = LazyLock::new(|| {
    re(format!(
        r"^(\s*({OPS})\s*({CV})\s*)((?:\s+|,\s*)({OPS})\s*({CV})\s*)*$"
    ))
});
/// `looseSemVerRegex` of `version.go`, anchored as `looseVersionRegex`.
static LOOSE_VERSION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"^v?([0-9]+)(\.[0-9]+)?(\.[0-9]+)?",
        r"(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?",
        r"(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?$"
    ))
    .expect("upstream regex compiles")
});

/// A parsed range: its `||` groups, each a list of (operator, version) comparators.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Constraints {
    pub groups: Vec<Vec<(String, String)>>,
    /// Per group: whether a comparator names a pre-release (upstream's `containsPre`); a
    /// group without one never matches a pre-release version.
    pub has_pre: Vec<bool>,
}

impl Constraints {
    /// Whether some group can match a pre-release version.
    pub fn admits_prereleases(&self) -> bool {
        self.has_pre.iter().any(|p| *p)
    }
}

/// `rewriteRange`: `a - b` becomes `>= a, <= b ` (string replacement of the first occurrence
/// of each match, as upstream does).
pub fn rewrite_range(i: &str) -> String {
    let mut o = i.to_string();
    for caps in RANGE.captures_iter(i) {
        let whole = caps.get(0).map_or("", |m| m.as_str());
        let lo = caps.get(1).map_or("", |m| m.as_str());
        let hi = caps.get(11).map_or("", |m| m.as_str());
        o = o.replacen(whole, &format!(">= {lo}, <= {hi} "), 1);
    }
    o
}

/// `semver.NewConstraint`: `Ok` exactly when upstream accepts `c`.
pub fn parse(c: &str) -> Result<Constraints, String> {
    let c = rewrite_range(c);
    let mut groups = Vec::new();
    let mut has_pre = Vec::new();
    for v in c.split("||") {
        if !VALID.is_match(v) {
            return Err(format!("improper constraint: {v:?}"));
        }
        let found: Vec<&str> = FIND.find_iter(v).map(|m| m.as_str()).collect();
        let found = if found.is_empty() { vec![v] } else { found };
        let mut group = Vec::new();
        let mut pre = false;
        for s in found {
            let (op, version, prerelease) = parse_constraint(s)?;
            pre |= !prerelease.is_empty();
            group.push((op, version));
        }
        groups.push(group);
        has_pre.push(pre);
    }
    Ok(Constraints { groups, has_pre })
}

/// `parseConstraint`: (operator, version as written, pre-release of the comparator).
fn parse_constraint(c: &str) -> Result<(String, String, String), String> {
    if c.is_empty() {
        return Ok((String::new(), String::new(), String::new()));
    }
    let m = CONSTRAINT
        .captures(c)
        .ok_or_else(|| format!("improper constraint: {c:?}"))?;
    let g = |i: usize| m.get(i).map_or("", |x| x.as_str());
    let is_x = |x: &str| matches!(x, "x" | "*" | "X");
    let ver = if is_x(g(3)) || g(3).is_empty() {
        format!("0.0.0{}", g(6))
    } else if is_x(g(4).trim_start_matches('.')) || g(4).is_empty() {
        format!("{}.0.0{}", g(3), g(6))
    } else if is_x(g(5).trim_start_matches('.')) || g(5).is_empty() {
        format!("{}{}.0{}", g(3), g(4), g(6))
    } else {
        g(2).to_string()
    };
    let pre = new_version(&ver).map_err(|()| format!("improper constraint: {c:?}"))?;
    Ok((g(1).to_string(), g(2).to_string(), pre))
}

/// `NewVersion` with upstream's default `CoerceNewVersion = true` (`coerceNewVersion`):
/// returns the pre-release.
fn new_version(v: &str) -> Result<String, ()> {
    let m = LOOSE_VERSION.captures(v).ok_or(())?;
    let g = |i: usize| m.get(i).map_or("", |x| x.as_str());
    for part in [
        g(1),
        g(2).trim_start_matches('.'),
        g(3).trim_start_matches('.'),
    ] {
        if !part.is_empty() {
            part.parse::<u64>().map_err(|_| ())?;
        }
    }
    let (pre, metadata) = (g(5), g(8));
    if !pre.is_empty() {
        for p in pre.split('.') {
            let numeric = p.bytes().all(|b| b.is_ascii_digit());
            if p.is_empty() || (numeric && p.len() > 1 && p.starts_with('0')) {
                return Err(());
            }
        }
    }
    if !metadata.is_empty() && metadata.split('.').any(str::is_empty) {
        return Err(());
    }
    Ok(pre.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Upstream's own tables (`constraints_test.go`), transcribed as data.
    #[test]
    fn upstream_constraint_tests() {
        let data = include_str!("ranges_upstream.tsv");
        let mut n = 0;
        for line in data
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            let f: Vec<&str> = line.split('\t').collect();
            n += 1;
            match f[0] {
                "ok" => {
                    let c = parse(f[1]).unwrap_or_else(|e| panic!("{:?} refused: {e}", f[1]));
                    if f.len() == 4 {
                        assert_eq!(c.groups.len(), f[2].parse::<usize>().unwrap(), "{line}");
                        assert_eq!(c.groups[0].len(), f[3].parse::<usize>().unwrap(), "{line}");
                    }
                }
                "err" => assert!(parse(f[1]).is_err(), "{:?} accepted", f[1]),
                "rewrite" => assert_eq!(rewrite_range(f[1]), f[2], "{line}"),
                other => panic!("unknown case {other}"),
            }
        }
        assert!(n > 100, "{n} cases");
    }

    #[test]
    fn flux_cases() {
        // image-reflector-controller#296: valid for Flux.
        let c = parse("~3.3.x-0").unwrap();
        assert!(c.admits_prereleases());
        for ok in [
            ">=1.0.0 <2.0.0",
            "^1.2",
            "1.x",
            "1.0 - 2.0",
            ">= 1.0, < 2",
            "*",
            "1.2.3 || >=2.0.0",
            "v1.2.3",
            "=> 1.0",
        ] {
            assert!(parse(ok).is_ok(), "{ok}");
            assert!(!parse(ok).unwrap().admits_prereleases(), "{ok}");
        }
        for bad in [
            "",
            "latest",
            ">=",
            ">=1.0.0 <",
            "1.0.0 ||",
            "1.2.3.4",
            ">=01.2.3-01",
            "1|2",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert!(parse(">=1.0.0-0").unwrap().admits_prereleases());
    }
}
