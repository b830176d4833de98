//! Rules on repositories and paths: URL schemes, safe paths, placeholders, overlaps.

use crate::check::Checker;
use crate::diag::{Code, Diagnostic, Span};
use crate::spec::Sp;

pub(super) fn run(c: &mut Checker<'_>) {
    let spec = c.spec;
    repository(c, &spec.platform.repository, "the platform");
    path(c, &spec.platform.path, &["env"], "the platform");
    for (tenant, t) in &spec.tenants {
        let who = format!("tenant `{tenant}`");
        repository(c, &t.repository, &who);
        path(c, &t.path, &["env", "tenant"], &who);
    }
    placeholders_only(
        c,
        &spec.secrets.deploy_key_path,
        &["tenant", "env"],
        "`secrets.deploy_key_path`",
    );
    shared_deploy_keys(c);
    overlaps(c);
}

/// Canonical form of a repository URL for comparisons.
pub(crate) fn normalize_repo(url: &str) -> String {
    url.trim_end_matches('/')
        .trim_end_matches(".git")
        .to_ascii_lowercase()
}

/// Path with placeholders filled, `./` and trailing `/` removed.
pub(crate) fn fill_path(path: &str, env: &str, tenant: &str) -> String {
    let p = path.replace("{env}", env).replace("{tenant}", tenant);
    let p = p.trim_start_matches("./").trim_end_matches('/');
    if p.is_empty() || p == "." {
        String::new()
    } else {
        p.to_string()
    }
}

fn repository(c: &mut Checker<'_>, url: &Sp<String>, who: &str) {
    let u = url.as_str();
    let lower = u.to_ascii_lowercase();
    if lower.starts_with("ssh://") {
        if u["ssh://".len()..]
            .split('/')
            .next()
            .is_none_or(str::is_empty)
        {
            c.push(
                Diagnostic::new(
                    Code::InsecureRepositoryScheme,
                    format!("{who}'s repository URL has no host"),
                )
                .at(url.span.clone(), "expected ssh://git@HOST/ORG/REPO.git"),
            );
        }
        return;
    }
    if lower.starts_with("https://") {
        c.push(
            Diagnostic::new(
                Code::HttpsRepository,
                format!("{who} is fetched over HTTPS, with a token"),
            )
            .at(url.span.clone(), "HTTPS needs a token")
            .note("a Git token usually reaches every repository of its account; an SSH deploy key reaches one repository, read-only (Adversary 2: exfiltrated credentials)")
            .help(format!("use an SSH deploy key: `{}`", https_to_ssh(u))),
        );
        return;
    }
    let (label, help) = if lower.starts_with("http://") {
        (
            "plain HTTP: credentials and manifests travel unencrypted",
            https_to_ssh(u),
        )
    } else if lower.starts_with("git://") {
        (
            "the git:// protocol is unauthenticated and unencrypted",
            format!("ssh://git@{}", &u["git://".len()..]),
        )
    } else if lower.starts_with("file://") || u.starts_with('/') {
        (
            "a local path is not a remote Flux can verify",
            "ssh://git@HOST/ORG/REPO.git".to_string(),
        )
    } else if let Some((userhost, rest)) = u.split_once(':').filter(|(h, _)| h.contains('@')) {
        (
            "scp-like syntax: Flux requires a URL",
            format!("ssh://{userhost}/{}", rest.trim_start_matches('/')),
        )
    } else {
        (
            "not a URL trustc accepts",
            "ssh://git@HOST/ORG/REPO.git".to_string(),
        )
    };
    c.push(
        Diagnostic::new(
            Code::InsecureRepositoryScheme,
            format!("{who}'s repository `{u}` is not an ssh:// URL"),
        )
        .at(url.span.clone(), label)
        .note("Flux applies whatever the repository serves: the transport must authenticate the server and the deploy key")
        .help(format!("write `{help}`")),
    );
}

/// The SSH URL of the same repository: the authority's userinfo (a token, `git@`) dropped.
fn https_to_ssh(u: &str) -> String {
    let rest = u.split_once("://").map_or(u, |(_, r)| r);
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    format!("ssh://git@{host}/{path}")
}

fn path(c: &mut Checker<'_>, p: &Sp<String>, allowed: &[&str], who: &str) {
    let s = p.as_str();
    if s.starts_with('/') || s.starts_with('\\') || s.get(1..2) == Some(":") {
        c.push(
            Diagnostic::new(Code::UnsafePath, format!("{who}'s path `{s}` is absolute"))
                .at(p.span.clone(), "absolute path")
                .help(
                    "write the path relative to the repository root, e.g. `./clusters/{env}/team`",
                ),
        );
    } else if s.split(['/', '\\']).any(|seg| seg == "..") {
        c.push(
            Diagnostic::new(Code::UnsafePath, format!("{who}'s path `{s}` climbs out with `..`"))
                .at(p.span.clone(), "`..` segment")
                .note("a path that climbs out of its directory can reach another tenant's or the platform's manifests")
                .help("write a path under the repository root without `..`"),
        );
    }
    placeholders_only(c, p, allowed, &format!("{who}'s path"));
}

fn placeholders_only(c: &mut Checker<'_>, s: &Sp<String>, allowed: &[&str], what: &str) {
    for (offset, name) in super::placeholders(&s.value) {
        if allowed.contains(&name) {
            continue;
        }
        let start = super::inner_start(&s.span) + offset;
        let span = Span::new(s.span.file, start..start + name.len() + 2);
        let list: Vec<String> = allowed.iter().map(|a| format!("{{{a}}}")).collect();
        let mut d = Diagnostic::new(
            Code::UnknownPlaceholder,
            format!("{what} uses the unknown placeholder `{{{name}}}`"),
        )
        .at(span, "unknown placeholder");
        d = match crate::spec::suggest(name, allowed.iter().copied()) {
            Some(sug) => d.help(format!(
                "did you mean `{{{sug}}}`? allowed here: {}",
                list.join(", ")
            )),
            None => d.help(format!("allowed here: {}", list.join(", "))),
        };
        c.push(d);
    }
}

/// Every tenant and the platform must get a deploy key of its own: the path must contain
/// `{tenant}`, and no tenant may be called `platform` (the platform's key is the path with
/// `{tenant}` = `platform`).
fn shared_deploy_keys(c: &mut Checker<'_>) {
    let spec = c.spec;
    let path = &spec.secrets.deploy_key_path;
    if !path.value.contains("{tenant}") {
        c.push(
            Diagnostic::new(
                Code::SharedDeployKey,
                "`secrets.deploy_key_path` has no `{tenant}`: every tenant and the platform would share one deploy key",
            )
            .at(path.span.clone(), "the same path for everyone")
            .note("a tenant workload can mount its namespace's deploy-key Secret: with a shared key it reads every repository, the platform's included (Adversary 2)")
            .help("put `{tenant}` in the path, e.g. \"flux/{tenant}/deploy-key\""),
        );
    }
    if let Some(span) = spec.headers.tenants.get("platform") {
        c.push(
            Diagnostic::new(
                Code::SharedDeployKey,
                "a tenant may not be called `platform`: it would receive the platform tier's deploy key",
            )
            .at(span.clone(), "reserved for the platform tier")
            .note("the platform's deploy key lives at `secrets.deploy_key_path` with `{tenant}` = `platform` (Adversary 2)")
            .help("rename the tenant, e.g. `platform-team`"),
        );
    }
}

/// Two syncs of the same repository whose paths are equal or nested, in one environment.
fn overlaps(c: &mut Checker<'_>) {
    let spec = c.spec;
    struct Sync<'a> {
        who: String,
        repo: String,
        path: String,
        span: &'a Span,
    }
    for env in spec.environments.keys() {
        let mut syncs: Vec<Sync<'_>> = vec![Sync {
            who: "the platform".into(),
            repo: normalize_repo(&spec.platform.repository.value),
            path: fill_path(&spec.platform.path.value, env, ""),
            span: &spec.platform.path.span,
        }];
        for (tenant, t) in &spec.tenants {
            if !t.environments.iter().any(|e| e.as_str() == env) {
                continue;
            }
            syncs.push(Sync {
                who: format!("tenant `{tenant}`"),
                repo: normalize_repo(&t.repository.value),
                path: fill_path(&t.path.value, env, tenant),
                span: &t.path.span,
            });
        }
        // Only syncs of one repository can overlap: each sync is compared with the earlier
        // ones of its own repository (linear in tenants when each has its own; a monorepo
        // compares its syncs pairwise, as before).
        let mut by_repo: std::collections::HashMap<&str, Vec<usize>> = Default::default();
        for (i, s) in syncs.iter().enumerate() {
            by_repo.entry(s.repo.as_str()).or_default().push(i);
        }
        for (i, b) in syncs.iter().enumerate() {
            let same_repo = &by_repo[b.repo.as_str()];
            for a in same_repo.iter().take_while(|&&j| j < i).map(|&j| &syncs[j]) {
                // Point at whichever of the two is written later in the file.
                let (a, b) = if a.span.range.start > b.span.range.start {
                    (b, a)
                } else {
                    (a, b)
                };
                let nested = a.path == b.path
                    || a.path.is_empty()
                    || b.path.is_empty()
                    || b.path.starts_with(&format!("{}/", a.path))
                    || a.path.starts_with(&format!("{}/", b.path));
                if nested {
                    let shown = |p: &str| {
                        if p.is_empty() {
                            "the repository root".to_string()
                        } else {
                            format!("`{p}`")
                        }
                    };
                    c.push(
                        Diagnostic::new(
                            Code::PathOverlap,
                            format!(
                                "{} and {} sync overlapping paths of one repository in `{env}`",
                                a.who, b.who
                            ),
                        )
                        .at(b.span.clone(), format!("{} in `{env}`", shown(&b.path)))
                        .with_secondary(a.span.clone(), format!("{} syncs {}", a.who, shown(&a.path)))
                        .note("whoever can write the outer path deploys through the inner path's Kustomization, with its service account")
                        .help("give each tenant its own repository, or disjoint directories"),
                    );
                }
            }
        }
    }
}
