//! Whether a rule allows a request, as the Kubernetes RBAC authorizer decides it
//! (`k8s.io/kubernetes/pkg/apis/rbac/v1/evaluation_helpers.go`).

use super::load::Rule;

/// A request: `verb` on `group`'s `resource[/subresource]`, or `verb` on a non-resource URL.
#[derive(Clone, Debug)]
pub(crate) struct Request<'a> {
    pub(crate) verb: &'a str,
    pub(crate) api_group: &'a str,
    /// `resource` or `resource/subresource`.
    pub(crate) resource: &'a str,
    pub(crate) subresource: Option<&'a str>,
    /// Set for a non-resource request (the resource started with `/`).
    pub(crate) url: Option<&'a str>,
}

impl<'a> Request<'a> {
    pub(crate) fn new(verb: &'a str, api_group: &'a str, resource: &'a str) -> Request<'a> {
        let url = resource.starts_with('/').then_some(resource);
        Request {
            verb,
            api_group,
            resource,
            subresource: if url.is_some() {
                None
            } else {
                resource.split_once('/').map(|(_, sub)| sub)
            },
            url,
        }
    }
}

/// The items of a rule that matched a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Match<'r> {
    pub(crate) verb: &'r str,
    pub(crate) api_group: &'r str,
    pub(crate) resource: &'r str,
    pub(crate) url: Option<&'r str>,
}

/// The first verb, group and resource (or URL) of `rule` allowing `req`, if it does.
pub(crate) fn allows<'r>(rule: &'r Rule, req: &Request<'_>) -> Option<Match<'r>> {
    let verb = rule.verbs.iter().find(|v| *v == "*" || *v == req.verb)?;
    if let Some(url) = req.url {
        let matched = rule
            .non_resource_urls
            .iter()
            .find(|u| url_matches(u, url))?;
        return Some(Match {
            verb,
            api_group: "",
            resource: "",
            url: Some(matched),
        });
    }
    let api_group = rule
        .api_groups
        .iter()
        .find(|g| *g == "*" || *g == req.api_group)?;
    let resource = rule
        .resources
        .iter()
        .find(|r| resource_matches(r, req.resource, req.subresource))?;
    // A request without an object name (creating an object, deleting a collection) is never
    // allowed by a rule restricted to names.
    let nameless = req.subresource.is_none() && matches!(req.verb, "create" | "deletecollection");
    if !rule.resource_names.is_empty() && nameless {
        return None;
    }
    Some(Match {
        verb,
        api_group,
        resource,
        url: None,
    })
}

/// `ResourceMatches`: `*`, the exact `resource[/subresource]`, or `*/subresource`. Nothing
/// else is a wildcard (`pods/*` is a literal).
pub(crate) fn resource_matches(rule: &str, requested: &str, subresource: Option<&str>) -> bool {
    rule == "*"
        || rule == requested
        || subresource.is_some_and(|sub| rule.strip_prefix("*/") == Some(sub))
}

/// `NonResourceURLMatches`: `*`, the exact path, or a prefix ending in `*`.
pub(crate) fn url_matches(rule: &str, url: &str) -> bool {
    rule == "*"
        || rule == url
        || rule
            .strip_suffix('*')
            .is_some_and(|prefix| url.starts_with(prefix.trim_end_matches('*')))
}
