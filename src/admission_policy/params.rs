//! The policy's values, as the exported policies read them: one CEL
//! variable per value, whose expression is either the value itself
//! ([`Params::Inline`], the default) or a read of the parameter ConfigMap
//! ([`Params::ConfigMap`]). Expressions read only `variables.<name>`, so
//! the two forms share every validation and give the same verdicts.
//!
//! Inline is the default because bound parameters are fragile: after a
//! binding is deleted and created again, kube-apiserver 1.36 and older
//! stop watching the parameter ConfigMap (kubernetes issues 133827 and
//! 130887, fixed in 1.37), and every binding then denies every APIRule
//! write with `no params found` until the API server restarts. Inline
//! values also fit static admission manifests, which take no parameters.
//!
//! ConfigMap data holds strings only, so a list is one value per line, a
//! flag is `true` or `false`, and a registry entry is one line `issuer
//! jwksUri headers params` (`*` any, `-` none, else comma-separated). The
//! inline form writes the same encoding as CEL literals, so both forms
//! refuse the same values.

use std::collections::BTreeMap;

use super::cel::lit;
use crate::policy::Policy;

/// Where the exported policies read the policy's values from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Params {
    /// Written into the expressions: export again when the policy changes.
    Inline,
    /// Read from the ConfigMap [`NAME`] in `namespace` through `paramRef`.
    ConfigMap { namespace: String },
}

/// The ConfigMap every binding reads its parameters from.
pub const NAME: &str = "kexpose-policy";

/// How a value is typed in CEL.
#[derive(Clone, Copy)]
enum Kind {
    Flag,
    Lines,
    /// A whole number, or none (`-1`).
    Number,
    /// The issuer registry: a list of `[issuer, jwksUri, headers, params]`.
    Registry,
}

/// Every value the validations read, as a variable: its name (the
/// ConfigMap key it reads, but for the registry, which reads `issuers`)
/// and type. The default gateway is the mutation's alone (`mutations`).
const VALUES: [(&str, Kind); 19] = [
    ("allowedGateways", Kind::Lines),
    ("domains", Kind::Lines),
    ("allowWildcard", Kind::Flag),
    ("allowNoAuth", Kind::Flag),
    ("noAuthNamespaces", Kind::Lines),
    ("noAuthPaths", Kind::Lines),
    ("requireScopes", Kind::Flag),
    ("requireAudiences", Kind::Flag),
    ("authorizationNamespaces", Kind::Lines),
    ("maxTimeout", Kind::Number),
    ("methods", Kind::Lines),
    ("allowHttpJwksUri", Kind::Flag),
    ("allowSuppressions", Kind::Flag),
    ("allowOtherNamespaces", Kind::Flag),
    ("allowExternal", Kind::Flag),
    ("authorizers", Kind::Lines),
    ("suppressible", Kind::Lines),
    ("suppressionNamespaces", Kind::Lines),
    ("registry", Kind::Registry),
];

impl Params {
    /// The CEL variables holding the policy's values (its encoded `data`),
    /// in [`VALUES`] order; the registry (`variables.registry`) splits the
    /// `issuers` lines.
    pub fn variables(&self, data: &BTreeMap<&'static str, String>) -> Vec<(&'static str, String)> {
        VALUES
            .iter()
            .map(|&(name, kind)| (name, self.value(data, name, kind)))
            .collect()
    }

    /// The CEL expression of one value.
    fn value(&self, data: &BTreeMap<&'static str, String>, key: &str, kind: Kind) -> String {
        let key = if matches!(kind, Kind::Registry) {
            "issuers"
        } else {
            key
        };
        match self {
            Params::Inline => {
                let text = data.get(key).map(String::as_str).unwrap_or_default();
                // Split as the ConfigMap form splits, so both read the same.
                let list = |text: &str, each: &dyn Fn(&str) -> String| {
                    let items: Vec<String> = match text {
                        "" => Vec::new(),
                        text => text.split('\n').map(each).collect(),
                    };
                    format!("[{}]", items.join(", "))
                };
                match kind {
                    Kind::Flag => (text == "true").to_string(),
                    Kind::Number if text.is_empty() => "-1".into(),
                    Kind::Number => text.to_owned(),
                    Kind::Lines => list(text, &|l| lit(l)),
                    Kind::Registry => list(text, &|l| {
                        let fields: Vec<String> = l.split(' ').map(lit).collect();
                        format!("[{}]", fields.join(", "))
                    }),
                }
            }
            Params::ConfigMap { .. } => {
                let read = format!("params.data.{key}");
                let lines = format!("({read} == '' ? [] : {read}.split('\\n'))");
                match kind {
                    Kind::Flag => format!("{read} == 'true'"),
                    Kind::Number => format!("{read} == '' ? -1 : int({read})"),
                    Kind::Lines => lines,
                    Kind::Registry => format!("{lines}.map(l, l.split(' '))"),
                }
            }
        }
    }
}

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

/// The ConfigMap's `data`, which the inline form writes as literals.
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
        ("allowOtherNamespaces", flag(o.allow_other_namespaces)),
        ("allowExternal", flag(o.allow_external)),
        (
            "authorizers",
            lines("destinations.authorizers", &o.authorizers)?,
        ),
        (
            "suppressible",
            o.suppressible
                .iter()
                .map(|c| c.as_str())
                .collect::<Vec<_>>()
                .join("\n"),
        ),
        (
            "suppressionNamespaces",
            lines(
                "suppressions.namespaces",
                &patterns(&o.suppression_namespaces),
            )?,
        ),
        ("issuers", registry.join("\n")),
    ]))
}
