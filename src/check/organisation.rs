//! The organisation's own rules (O), configured in the policy file: which
//! identity providers, domains and gateways APIRules may use, where routes
//! may go without authentication, what jwt routes must require, limits.
//! Each rule is silent unless the policy configures it.

pub mod legacy;

use crate::apirule::v2::Spec;
use crate::apirule::{JwtAuthentication, JwtConfig, Service};
use crate::diagnostic::{Finding, join};
use crate::policy::Policy;
use crate::rules::Code;

fn namespace_matches(patterns: &[regex::Regex], namespace: Option<&str>) -> bool {
    let ns = namespace.unwrap_or_default();
    patterns.iter().any(|p| p.is_match(ns))
}

/// O rules for a v2/v2alpha1 spec at `/spec` of an object in `namespace`.
pub fn spec(spec: &Spec, namespace: Option<&str>, policy: &Policy, out: &mut Vec<Finding>) {
    let org = &policy.org;
    if !policy.has_organisation_rules() {
        return;
    }
    for (i, host) in spec.hosts.iter().enumerate() {
        self::host(host, &format!("/spec/hosts/{i}"), policy, out);
    }
    gateway("gateway", spec.gateway.as_deref(), policy, out);
    gateway(
        "externalGateway",
        spec.external_gateway.as_deref(),
        policy,
        out,
    );
    if let Some(s) = &spec.service {
        service(s, "/spec/service", namespace, policy, out);
    }
    timeout(spec.timeout, "/spec/timeout", policy, out);
    let authorization_applies = (org.require_scopes || org.require_audiences)
        && (org.authorization_namespaces.is_empty()
            || namespace_matches(&org.authorization_namespaces, namespace));
    for (i, rule) in spec.rules.iter().enumerate() {
        let r = format!("/spec/rules/{i}");
        if rule.no_auth == Some(true) {
            public(
                "noAuth",
                &rule.path,
                &join(&r, "noAuth"),
                namespace,
                policy,
                out,
            );
        }
        methods(rule.methods.iter().map(|m| m.as_str()), &r, policy, out);
        timeout(rule.timeout, &join(&r, "timeout"), policy, out);
        if let Some(s) = &rule.service {
            service(s, &join(&r, "service"), namespace, policy, out);
        }
        if let Some(ext) = &rule.ext_auth {
            authorizers(&ext.authorizers, &join(&r, "extAuth"), policy, out);
        }
        for (cfg, at) in rule.jwt_configs(&r) {
            issuers(cfg, &at, policy, out);
            if authorization_applies && at.ends_with("/jwt") {
                authorization(cfg, &at, policy, out);
            }
        }
    }
}

/// O003 and O004 for one host at `at`.
fn host(host: &str, at: &str, policy: &Policy, out: &mut Vec<Finding>) {
    let org = &policy.org;
    let bare = host.strip_prefix("*.");
    if bare.is_some() && !org.allow_wildcard {
        out.push(Finding::new(
            Code::O004,
            at,
            format!("wildcard host \"{host}\" is not allowed by the policy; name the host"),
        ));
    }
    let name = bare.unwrap_or(host).to_ascii_lowercase();
    if !org.domains.is_empty()
        && name.contains('.')
        && !org
            .domains
            .iter()
            .any(|d| name == *d || name.ends_with(&format!(".{d}")))
    {
        out.push(Finding::new(
            Code::O003,
            at,
            format!(
                "host \"{host}\" is not under an allowed domain ({})",
                org.domains.join(", ")
            ),
        ));
    }
}

/// O005 for the gateway at `/spec/{key}`.
fn gateway(key: &str, gateway: Option<&str>, policy: &Policy, out: &mut Vec<Finding>) {
    let allowed = &policy.org.allowed_gateways;
    if let Some(g) = gateway.filter(|g| !allowed.is_empty() && !allowed.iter().any(|a| a == g)) {
        out.push(Finding::new(
            Code::O005,
            format!("/spec/{key}"),
            format!(
                "gateway \"{g}\" is not allowed by the policy (allowed: {})",
                allowed.join(", ")
            ),
        ));
    }
}

/// O013 and O014 for the Service at `at` of an object in `namespace`.
fn service(
    service: &Service,
    at: &str,
    namespace: Option<&str>,
    policy: &Policy,
    out: &mut Vec<Finding>,
) {
    let org = &policy.org;
    let here = namespace.unwrap_or_default();
    if let Some(there) = service.namespace.as_deref().filter(|n| *n != here)
        && !org.allow_other_namespaces
    {
        out.push(Finding::new(
            Code::O013,
            join(at, "namespace"),
            format!(
                "Service \"{}\" is in namespace \"{there}\", not the APIRule's \"{here}\"; the policy does not allow routing to another namespace",
                service.name
            ),
        ));
    }
    if service.external == Some(true) && !org.allow_external {
        out.push(Finding::new(
            Code::O014,
            join(at, "external"),
            format!(
                "Service \"{}\" is external; the policy does not allow routing outside the mesh",
                service.name
            ),
        ));
    }
}

/// O015 for the authorizers of the extAuth at `at`.
fn authorizers(list: &[String], at: &str, policy: &Policy, out: &mut Vec<Finding>) {
    let items = list.iter().map(String::as_str);
    let what = |a: &str| format!("authorizer \"{a}\"");
    unlisted(
        Code::O015,
        items,
        &join(at, "authorizers"),
        &policy.org.authorizers,
        what,
        out,
    );
}

/// O006 for a route on `path` open to anyone (`how`: `noAuth`, or a
/// v1beta1 handler), reported at `at`.
fn public(
    how: &str,
    path: &str,
    at: &str,
    namespace: Option<&str>,
    policy: &Policy,
    out: &mut Vec<Finding>,
) {
    let org = &policy.org;
    if !org.allow_no_auth
        && !org.no_auth_paths.iter().any(|p| p == path)
        && !namespace_matches(&org.no_auth_namespaces, namespace)
    {
        out.push(Finding::new(
            Code::O006,
            at,
            format!(
                "{how} is not allowed for {path} in namespace \"{}\" by the policy; require a jwt",
                namespace.unwrap_or_default()
            ),
        ));
    }
}

/// O009 for the methods of the rule at `rule`.
fn methods<'m>(
    methods: impl Iterator<Item = &'m str>,
    rule: &str,
    policy: &Policy,
    out: &mut Vec<Finding>,
) {
    let what = |m: &str| format!("method {m}");
    unlisted(
        Code::O009,
        methods,
        &join(rule, "methods"),
        &policy.org.methods,
        what,
        out,
    );
}

/// `code` for each item of the list at `at` outside the policy's `allowed`
/// list, when that list is set; `what` words one item.
fn unlisted<'a>(
    code: Code,
    items: impl Iterator<Item = &'a str>,
    at: &str,
    allowed: &[String],
    what: impl Fn(&str) -> String,
    out: &mut Vec<Finding>,
) {
    if allowed.is_empty() {
        return;
    }
    for (j, item) in items.enumerate() {
        if !allowed.iter().any(|a| a == item) {
            out.push(Finding::new(
                code,
                join(at, j),
                format!(
                    "{} is not allowed by the policy (allowed: {})",
                    what(item),
                    allowed.join(", ")
                ),
            ));
        }
    }
}

fn timeout(value: Option<u32>, at: &str, policy: &Policy, out: &mut Vec<Finding>) {
    if let (Some(t), Some(max)) = (value, policy.org.max_timeout)
        && t > max
    {
        out.push(Finding::new(
            Code::O008,
            at,
            format!("timeout {t}s is longer than the policy's maximum of {max}s"),
        ));
    }
}

/// Whether a URL names plain http: Go (and so Istio) reads the scheme
/// case-insensitively, so `HTTP://` is fetched over http too.
pub fn plain_http(url: &str) -> bool {
    url.get(..7)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("http://"))
}

fn issuers(cfg: &JwtConfig, at: &str, policy: &Policy, out: &mut Vec<Finding>) {
    for (
        k,
        JwtAuthentication {
            issuer,
            jwks_uri,
            from_headers,
            from_params,
        },
    ) in cfg.authentications.iter().flatten().enumerate()
    {
        let a = format!("{at}/authentications/{k}");
        if !policy.org.allow_http_jwks_uri && plain_http(jwks_uri) {
            out.push(Finding::new(
                Code::O010,
                join(&a, "jwksUri"),
                format!("jwksUri \"{jwks_uri}\" uses plain http, which the policy does not allow"),
            ));
        }
        if policy.issuers.is_empty() {
            continue;
        }
        match policy.jwks_uri_of(issuer) {
            None => out.push(Finding::new(
                Code::O001,
                join(&a, "issuer"),
                format!("issuer \"{issuer}\" is not in the policy's issuer registry"),
            )),
            Some(registered) if registered != jwks_uri => out.push(Finding::new(
                Code::O002,
                join(&a, "jwksUri"),
                format!(
                    "jwksUri \"{jwks_uri}\" differs from the registered jwksUri of {issuer}: {registered}"
                ),
            )),
            Some(_) => {}
        }
        let Some(entry) = policy.registered(issuer) else {
            continue;
        };
        let headers = from_headers
            .iter()
            .flatten()
            .map(|h| (h.name.as_str(), "fromHeaders", &entry.from_headers));
        let params = from_params
            .iter()
            .flatten()
            .map(|p| (p.as_str(), "fromParams", &entry.from_params));
        for (name, field, allowed) in headers.chain(params) {
            if let Some(allowed) = allowed.as_ref().filter(|a| !a.iter().any(|x| x == name)) {
                out.push(Finding::new(
                    Code::O012,
                    join(&a, field),
                    format!(
                        "issuer {issuer} may only be read from {field} [{}]; \"{name}\" is not among them",
                        allowed.join(", ")
                    ),
                ));
            }
        }
    }
}

fn authorization(cfg: &JwtConfig, at: &str, policy: &Policy, out: &mut Vec<Finding>) {
    let auths = cfg.authorizations.as_deref().unwrap_or_default();
    let scoped = auths
        .iter()
        .any(|a| a.required_scopes.as_ref().is_some_and(|s| !s.is_empty()));
    let audienced = auths
        .iter()
        .any(|a| a.audiences.as_ref().is_some_and(|s| !s.is_empty()));
    let mut missing = Vec::new();
    if policy.org.require_scopes && !scoped {
        missing.push("requiredScopes");
    }
    if policy.org.require_audiences && !audienced {
        missing.push("audiences");
    }
    if !missing.is_empty() {
        out.push(Finding::new(
            Code::O007,
            at,
            format!(
                "the policy requires jwt rules to restrict {}; any valid token of the issuer is accepted here",
                missing.join(" and ")
            ),
        ));
    }
}

/// The annotation that suppresses findings on one object:
/// `CODE: reason` entries separated by `;` or new lines.
pub const SUPPRESS: &str = "kexpose.dev/suppress";

/// The codes an object suppresses, and O011 findings for entries that
/// suppress nothing: without a reason, or not granted by the policy (a
/// code it does not let objects suppress, or an object outside the
/// namespaces it lets suppress). The annotation is written by the people
/// the policy guards against, so only the policy grants a suppression.
pub fn suppressions(
    value: &serde_json::Value,
    policy: &Policy,
    out: &mut Vec<Finding>,
) -> Vec<String> {
    let Some(text) = value
        .get("metadata")
        .and_then(|m| m.get("annotations"))
        .and_then(|a| a.get(SUPPRESS))
        .and_then(serde_json::Value::as_str)
    else {
        return Vec::new();
    };
    let at = format!("/metadata/annotations/{}", SUPPRESS.replace('/', "~1"));
    if !policy.org.allow_suppressions {
        out.push(Finding::new(
            Code::O011,
            at,
            "the policy does not allow suppressing findings; nothing was suppressed",
        ));
        return Vec::new();
    }
    let namespace = value
        .pointer("/metadata/namespace")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default();
    let namespaces = &policy.org.suppression_namespaces;
    let here = namespaces.is_empty() || namespaces.iter().any(|p| p.is_match(namespace));
    let mut codes = Vec::new();
    for entry in text
        .split([';', '\n'])
        .map(str::trim)
        .filter(|e| !e.is_empty())
    {
        let Some(code) = entry
            .split_once(':')
            .filter(|(_, reason)| !reason.trim().is_empty())
            .map(|(code, _)| code.trim().to_ascii_uppercase())
        else {
            out.push(Finding::new(
                Code::O011,
                at.clone(),
                format!("suppression \"{entry}\" gives no reason (write CODE: reason); it suppresses nothing"),
            ));
            continue;
        };
        if !policy.org.suppressible.iter().any(|c| c.as_str() == code) {
            out.push(Finding::new(
                Code::O011,
                at.clone(),
                format!("suppression \"{entry}\" is not granted by the policy, which does not let objects suppress {code}; the finding stays"),
            ));
        } else if !here {
            out.push(Finding::new(
                Code::O011,
                at.clone(),
                format!("suppression \"{entry}\" is not granted by the policy in namespace \"{namespace}\"; the finding stays"),
            ));
        } else {
            codes.push(code);
        }
    }
    codes
}
