//! The policy's values as the ConfigMap every binding reads through
//! `paramRef`. ConfigMap data holds strings only, so a list is one value
//! per line, a flag is `true` or `false`, and a registry entry is one line
//! `issuer jwksUri headers params` (`*` any, `-` none, else comma-separated).
//! A platform team can change a value there without exporting again.

use std::collections::BTreeMap;

use crate::policy::Policy;

/// A policy value the ConfigMap's encoding cannot carry.
#[derive(Debug, thiserror::Error)]
#[error("cannot export {field} \"{value}\": {why}")]
pub struct Unencodable {
    pub field: &'static str,
    pub value: String,
    pub why: &'static str,
}

fn lines(field: &'static str, values: &[String]) -> Result<String, Unencodable> {
    if let Some(v) = values.iter().find(|v| v.contains('\n') || v.is_empty()) {
        return Err(Unencodable {
            field,
            value: v.clone(),
            why: "a list parameter holds one non-empty value per line",
        });
    }
    Ok(values.join("\n"))
}

/// Names an issuer may be read from: `*` when any, `-` when none.
fn names(field: &'static str, names: Option<&Vec<String>>) -> Result<String, Unencodable> {
    let Some(names) = names else {
        return Ok("*".into());
    };
    if names.is_empty() {
        return Ok("-".into());
    }
    if let Some(n) = names
        .iter()
        .find(|n| n.is_empty() || *n == "*" || *n == "-" || n.contains([',', ' ', '\n']))
    {
        return Err(Unencodable {
            field,
            value: n.clone(),
            why: "a token location is a name without commas or spaces, other than * and -",
        });
    }
    Ok(names.join(","))
}

/// A namespace pattern as the policy file wrote it (the policy anchors it).
fn pattern(re: &regex::Regex) -> String {
    let s = re.as_str();
    s.strip_prefix("^(?:")
        .and_then(|s| s.strip_suffix(")$"))
        .unwrap_or(s)
        .to_owned()
}

fn flag(b: bool) -> String {
    b.to_string()
}

/// The ConfigMap's `data`.
pub fn data(policy: &Policy) -> Result<BTreeMap<&'static str, String>, Unencodable> {
    let o = &policy.org;
    let mut registry = Vec::new();
    for r in &policy.issuers {
        for (field, value) in [("issuer", &r.issuer), ("jwksUri", &r.jwks_uri)] {
            if value.is_empty() || value.contains([' ', '\n']) {
                return Err(Unencodable {
                    field,
                    value: value.clone(),
                    why: "a registered issuer and its jwksUri hold no spaces",
                });
            }
        }
        registry.push(format!(
            "{} {} {} {}",
            r.issuer,
            r.jwks_uri,
            names("fromHeaders", r.from_headers.as_ref())?,
            names("fromParams", r.from_params.as_ref())?
        ));
    }
    let patterns = |list: &[regex::Regex]| list.iter().map(pattern).collect::<Vec<_>>();
    Ok(BTreeMap::from([
        ("policy", policy.name.clone()),
        (
            "defaultGateway",
            policy.default_gateway.clone().unwrap_or_default(),
        ),
        (
            "allowedGateways",
            lines("gateways.allowed", &o.allowed_gateways)?,
        ),
        ("domains", lines("hosts.domains", &o.domains)?),
        ("allowWildcard", flag(o.allow_wildcard)),
        ("allowNoAuth", flag(o.allow_no_auth)),
        (
            "noAuthNamespaces",
            lines("noAuth.namespaces", &patterns(&o.no_auth_namespaces))?,
        ),
        ("noAuthPaths", lines("noAuth.paths", &o.no_auth_paths)?),
        ("requireScopes", flag(o.require_scopes)),
        ("requireAudiences", flag(o.require_audiences)),
        (
            "authorizationNamespaces",
            lines(
                "authorization.namespaces",
                &patterns(&o.authorization_namespaces),
            )?,
        ),
        (
            "maxTimeout",
            o.max_timeout.map(|t| t.to_string()).unwrap_or_default(),
        ),
        ("methods", lines("limits.methods", &o.methods)?),
        ("allowHttpJwksUri", flag(o.allow_http_jwks_uri)),
        ("allowSuppressions", flag(o.allow_suppressions)),
        ("issuers", registry.join("\n")),
    ]))
}
