//! The matching Envoy does for Istio's objects: hosts, VirtualService path
//! regexes (built exactly as api-gateway builds them, quirks included),
//! AuthorizationPolicy path templates, and JWT claims.

use regex::Regex;
use serde_json::Value;

/// What `{**}` becomes in a VirtualService regex (api-gateway's
/// `prepareRegexPath`).
pub const REGEX_ANY_SEGMENTS: &str = "([A-Za-z0-9-._~!$&'()*+,;=:@/]|%[0-9a-fA-F]{2})*";
/// What `{*}` becomes.
pub const REGEX_ONE_SEGMENT: &str = "([A-Za-z0-9-._~!$&'()*+,;=:@]|%[0-9a-fA-F]{2})+";

/// An APIRule host as the gateway serves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    /// A fully qualified name, lower case.
    Exact(String),
    /// `*.example.com`: the suffix `.example.com`.
    Wildcard(String),
    /// `httpbin`: becomes `httpbin.<domain>`, the domain being the first
    /// host of the gateway's first server without `*.`.
    Short(String),
}

impl Host {
    pub fn parse(host: &str) -> Host {
        let host = host.to_ascii_lowercase();
        if let Some(suffix) = host.strip_prefix('*') {
            Host::Wildcard(suffix.to_owned())
        } else if host.contains('.') {
            Host::Exact(host)
        } else {
            Host::Short(host)
        }
    }

    /// The host as the generated objects name it.
    pub fn fqdn(&self, domain: &str) -> String {
        match self {
            Host::Exact(h) => h.clone(),
            Host::Wildcard(s) => format!("*{s}"),
            Host::Short(h) => format!("{h}.{domain}"),
        }
    }

    /// Whether a request for `host` reaches this host. A short host with no
    /// known domain takes the request's domain (returned, for the reasons).
    pub fn matches(&self, host: &str, domain: Option<&str>) -> Option<Option<String>> {
        match self {
            Host::Exact(h) => (h == host).then_some(None),
            // Envoy's suffix wildcard: at least one character before it.
            Host::Wildcard(s) => {
                (host.len() > s.len() && host.ends_with(s.as_str())).then_some(None)
            }
            Host::Short(h) => {
                let rest = host.strip_prefix(h.as_str())?.strip_prefix('.')?;
                match domain {
                    Some(d) => (rest == d).then_some(None),
                    None if !rest.is_empty() => Some(Some(rest.to_owned())),
                    None => None,
                }
            }
        }
    }

    /// Exact names before wildcards, longer wildcards first: Envoy picks the
    /// most specific virtual host.
    pub fn specificity(&self) -> usize {
        match self {
            Host::Exact(_) | Host::Short(_) => usize::MAX,
            Host::Wildcard(s) => s.len(),
        }
    }
}

/// The VirtualService match for an APIRule path: a prefix for `/*`, else
/// the regex api-gateway writes. Literal characters are not escaped
/// upstream (`.` matches any character), and neither are they here.
pub fn route_regex(path: &str) -> Option<String> {
    if path == "/*" {
        return None;
    }
    let body = path
        .replace("{**}", REGEX_ANY_SEGMENTS)
        .replace("{*}", REGEX_ONE_SEGMENT);
    Some(format!("^{body}$"))
}

/// A route regex Envoy's RE2 would not load, and the last line of the
/// regex engine's reason (the one that names the mistake).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Unloadable(String);

/// Compiles a route regex as Envoy's RE2 would.
pub fn compile(regex: &str) -> Result<Regex, Unloadable> {
    Regex::new(regex)
        .map_err(|e| Unloadable(e.to_string().lines().last().unwrap_or_default().to_owned()))
}

/// Whether the regex semantics of an unescaped literal made this path
/// match where the literal text would not (`/a.b` matching `/axb`).
pub fn matched_by_quirk(path: &str, request: &str) -> bool {
    path != "/*" && !template_matches(path, request)
}

/// The path an AuthorizationPolicy holds for an APIRule path: `/*` is
/// written as Istio's `/{**}`.
pub fn policy_path(path: &str) -> &str {
    if path == "/*" { "/{**}" } else { path }
}

/// AuthorizationPolicy path matching: `{*}` and `{**}` templates (Envoy's
/// URI templates), else Istio's `*` globs (`*`, `prefix*`, `*suffix`), else
/// the exact path.
pub fn template_matches(pattern: &str, path: &str) -> bool {
    if pattern.contains('{') {
        let want: Vec<&str> = pattern.split('/').collect();
        let have: Vec<&str> = path.split('/').collect();
        return segments_match(&want, &have);
    }
    if pattern == "*" {
        true
    } else if let Some(prefix) = pattern.strip_suffix('*') {
        path.starts_with(prefix)
    } else if let Some(suffix) = pattern.strip_prefix('*') {
        path.ends_with(suffix)
    } else {
        pattern == path
    }
}

fn segments_match(want: &[&str], have: &[&str]) -> bool {
    match want.split_first() {
        None => have.is_empty(),
        Some((&"{**}", [])) => !have.is_empty(),
        // In the middle, one or more segments.
        Some((&"{**}", rest)) => (1..have.len())
            .any(|n| have[..n].iter().all(|s| !s.is_empty()) && segments_match(rest, &have[n..])),
        Some((&"{*}", rest)) => have
            .split_first()
            .is_some_and(|(s, more)| !s.is_empty() && segments_match(rest, more)),
        Some((literal, rest)) => have
            .split_first()
            .is_some_and(|(s, more)| s == literal && segments_match(rest, more)),
    }
}

/// Claims Istio reads as space-separated lists when they are strings
/// (since Istio 1.21; every other string claim is compared whole).
const SPACE_DELIMITED: [&str; 2] = ["scope", "permission"];

/// Whether a token's claim holds `value`: the string itself, one element
/// of a list, or one word of a space-delimited claim.
pub fn claim_has(claims: &serde_json::Map<String, Value>, claim: &str, value: &str) -> bool {
    match claims.get(claim) {
        Some(Value::String(s)) if SPACE_DELIMITED.contains(&claim) => {
            s.split(' ').any(|w| w == value)
        }
        Some(Value::String(s)) => s == value,
        Some(Value::Array(items)) => items.iter().any(|i| i.as_str() == Some(value)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(path: &str, request: &str) -> bool {
        match route_regex(path) {
            None => request.starts_with('/'),
            Some(r) => compile(&r).unwrap().is_match(request),
        }
    }

    #[test]
    fn route_regexes_follow_upstream() {
        assert_eq!(
            route_regex("/{**}").unwrap(),
            "^/([A-Za-z0-9-._~!$&'()*+,;=:@/]|%[0-9a-fA-F]{2})*$"
        );
        assert!(route_regex("/*").is_none());
        assert!(route("/anything/{*}/one", "/anything/x/one"));
        assert!(!route("/anything/{*}/one", "/anything/x/y/one"));
        assert!(!route("/anything/{*}/one", "/anything//one"));
        assert!(route("/anything/{**}", "/anything/"));
        assert!(route("/anything/{**}", "/anything/a/b"));
        assert!(!route("/anything/{**}", "/anything"));
        assert!(route("/a%20b/{*}", "/a%20b/c%2F"));
        // The quirk: literals are regexes upstream.
        assert!(route("/a.b", "/axb"));
        assert!(matched_by_quirk("/a.b", "/axb"));
        assert!(!matched_by_quirk("/a.b", "/a.b"));
        assert!(route("/ab+", "/abbb"));
    }

    #[test]
    fn policy_templates_follow_envoy() {
        assert!(template_matches("/{**}", "/"));
        assert!(template_matches("/{**}", "/a/b"));
        assert!(template_matches("/a/{*}", "/a/b"));
        assert!(!template_matches("/a/{*}", "/a/b/c"));
        assert!(!template_matches("/a/{*}", "/a/"));
        assert!(template_matches("/a/{**}/z", "/a/b/c/z"));
        assert!(!template_matches("/a/{**}/z", "/a/z"));
        assert!(template_matches("/anything/{*}/one", "/anything/x/one"));
        assert!(template_matches("/a.b", "/a.b"));
        assert!(!template_matches("/a.b", "/axb"));
        assert!(template_matches("/api*", "/api/v1"));
        assert!(template_matches("*.json", "/x.json"));
        assert!(template_matches("*", "/anything"));
        assert_eq!(policy_path("/*"), "/{**}");
    }

    #[test]
    fn hosts_match_as_envoy_and_the_gateway_do() {
        let exact = Host::parse("HttpBin.Example.com");
        assert_eq!(exact.matches("httpbin.example.com", None), Some(None));
        assert_eq!(exact.matches("x.example.com", None), None);
        let wild = Host::parse("*.example.com");
        assert_eq!(wild.matches("a.b.example.com", None), Some(None));
        assert_eq!(wild.matches(".example.com", None), None);
        assert_eq!(wild.matches("example.com", None), None);
        let short = Host::parse("httpbin");
        assert_eq!(
            short.matches("httpbin.c.kyma.dev", None),
            Some(Some("c.kyma.dev".into()))
        );
        assert_eq!(
            short.matches("httpbin.c.kyma.dev", Some("c.kyma.dev")),
            Some(None)
        );
        assert_eq!(short.matches("httpbin.other.dev", Some("c.kyma.dev")), None);
        assert_eq!(short.matches("httpbinx.c.kyma.dev", None), None);
        assert_eq!(short.fqdn("c.kyma.dev"), "httpbin.c.kyma.dev");
    }

    #[test]
    fn claims_match_strings_lists_and_space_delimited_scope() {
        let claims = serde_json::json!({
            "scp": ["read", "write"], "scope": "read write", "scopes": "read write",
            "aud": "api"
        });
        let claims = claims.as_object().unwrap();
        assert!(claim_has(claims, "scp", "write"));
        assert!(claim_has(claims, "scope", "write"));
        assert!(!claim_has(claims, "scopes", "write"));
        assert!(claim_has(claims, "scopes", "read write"));
        assert!(claim_has(claims, "aud", "api"));
        assert!(!claim_has(claims, "aud", "ap"));
        assert!(!claim_has(claims, "missing", "x"));
    }
}
