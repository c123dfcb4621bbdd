//! The J rules (and R009's place in jwt configs is `routing`'s): upstream's
//! issuer and jwksUri checks through the Kubernetes URL library, token
//! locations, authorizations.

use super::Validation;
use crate::admission_policy::cel::{AT, config_path, first, first_in_configs, some_in_configs};
use crate::rules::Code;

pub(super) const ISSUER: &str = "e.issuer";
pub(super) const JWKS: &str = "e.jwksUri";

/// J002: empty, or holds `:` and Go's `url.ParseRequestURI` refuses it.
fn issuer_invalid() -> String {
    format!("{ISSUER} == '' || ({ISSUER}.contains(':') && !isURL({ISSUER}))")
}

/// J016: parses, with a scheme other than https and http (Go lowercases it).
fn issuer_scheme() -> String {
    format!(
        "!({}) && {ISSUER}.contains(':') && url({ISSUER}).getScheme() != '' && !(url({ISSUER}).getScheme() in ['https', 'http'])",
        issuer_invalid()
    )
}

fn jwks_invalid() -> String {
    format!("{JWKS} == '' || !isURL({JWKS})")
}

fn jwks_not_web() -> String {
    format!(
        "!({}) && (!(url({JWKS}).getScheme() in ['http', 'https']) || url({JWKS}).getHost() == '')",
        jwks_invalid()
    )
}

/// O010: the policy forbids plain http and the jwksUri uses it (its scheme
/// in any case, as Go reads it).
pub(super) fn jwks_http_forbidden() -> String {
    format!("!variables.allowHttpJwksUri && {JWKS}.lowerAscii().startsWith('http://')")
}

fn has_headers(e: &str) -> String {
    format!("(has({e}.fromHeaders) && size({e}.fromHeaders) > 0)")
}

fn has_params(e: &str) -> String {
    format!("(has({e}.fromParams) && size({e}.fromParams) > 0)")
}

pub(super) fn rules(out: &mut Vec<Validation>) {
    let uri_error = "': value is empty or not a valid uri'";
    // J001 is about the config itself, not one of its elements.
    out.push(Validation::new(
        Code::J001,
        "variables.jwtConfigs.exists(c, size(c.authentications) == 0)".into(),
        first(
            "variables.jwtConfigs",
            "c",
            "size(c.authentications) == 0",
            &format!(
                "{} + '.authentications: A JWT config must have at least one authentication'",
                config_path()
            ),
        ),
    ));
    let per_auth: [(Code, String, String); 8] = [
        (
            Code::J002,
            issuer_invalid(),
            format!("{AT} + '.issuer' + {uri_error}"),
        ),
        (
            Code::J016,
            issuer_scheme(),
            format!(
                "{AT} + '.issuer: issuer \"' + {ISSUER} + '\" has the scheme ' + url({ISSUER}).getScheme() + ': tokens carry an https issuer, so Istio rejects every token with 401 Jwt issuer is not configured'"
            ),
        ),
        (
            Code::J013,
            format!(
                "!({}) && !({}) && !(isURL({ISSUER}) && url({ISSUER}).getScheme() != '' && url({ISSUER}).getHost() != '')",
                issuer_invalid(),
                issuer_scheme()
            ),
            format!(
                "{AT} + '.issuer: issuer \"' + {ISSUER} + '\" is not an absolute URL; OIDC providers put an https URL in the token\\'s iss claim, and Istio compares it byte for byte'"
            ),
        ),
        (
            Code::J003,
            jwks_invalid(),
            format!("{AT} + '.jwksUri' + {uri_error}"),
        ),
        (
            Code::J011,
            jwks_not_web(),
            format!(
                "{AT} + '.jwksUri: jwksUri \"' + {JWKS} + '\" is not an absolute http(s) URL; Istio cannot fetch signing keys from it and rejects every token with 401'"
            ),
        ),
        (
            Code::J012,
            format!(
                "!({}) && !({}) && url({JWKS}).getScheme() == 'http' && !({})",
                jwks_invalid(),
                jwks_not_web(),
                jwks_http_forbidden()
            ),
            format!(
                "{AT} + '.jwksUri: jwksUri \"' + {JWKS} + '\" uses plain http; signing keys fetched without TLS can be replaced in transit'"
            ),
        ),
        (
            Code::J005,
            "has(e.fromHeaders) && size(e.fromHeaders) > 1".into(),
            format!("{AT} + '.fromHeaders: multiple fromHeaders are not supported'"),
        ),
        (
            Code::J006,
            "has(e.fromParams) && size(e.fromParams) > 1".into(),
            format!("{AT} + '.fromParams: multiple fromParams are not supported'"),
        ),
    ];
    for (code, bad, rest) in per_auth {
        out.push(Validation::new(
            code,
            some_in_configs("authentications", &bad),
            first_in_configs("authentications", &bad, &rest),
        ));
    }
    // Headers somewhere and params somewhere is linear to find; the walk
    // that places the finding, as upstream's, is only in the message.
    let (after_params, after_headers) = (headers_after_params(), params_after_headers());
    out.push(Validation::new(
        Code::J004,
        format!(
            "variables.jwtConfigs.exists(c, c.authentications.exists(e, {}) && c.authentications.exists(e, {}))",
            has_headers("e"),
            has_params("e")
        ),
        first_in_configs(
            "authentications",
            &format!("({after_params}) || ({after_headers})"),
            &format!("{AT} + ({after_params} ? '.fromHeaders' : '.fromParams') + ': mixture of multiple fromHeaders and fromParams is not supported'"),
        ),
    ));
    let empty_authz = "c.hasAuthorizations && size(c.authorizations) == 0";
    out.push(Validation::new(
        Code::J007,
        format!("variables.jwtConfigs.exists(c, {empty_authz})"),
        first(
            "variables.jwtConfigs",
            "c",
            empty_authz,
            &format!(
                "{} + '.authorizations: authorizations defined, but no configuration exists'",
                config_path()
            ),
        ),
    ));
    for (code, field, item) in [
        (Code::J008, "requiredScopes", "scope value is empty"),
        (Code::J009, "audiences", "audience value is empty"),
    ] {
        let bad =
            format!("has(e.{field}) && (size(e.{field}) == 0 || e.{field}.exists(v, v == ''))");
        let rest = format!(
            "{AT} + '.{field}' + (size(e.{field}) == 0 ? ': value is empty' : '[' + string(e.{field}.indexOf('')) + ']: {item}')"
        );
        out.push(Validation::new(
            code,
            some_in_configs("authorizations", &bad),
            first_in_configs("authorizations", &bad, &rest),
        ));
    }
}

/// J004, for the authentication `e` of config `c`, as upstream walks
/// them: it reads the token from headers after one read it from params...
fn headers_after_params() -> String {
    format!(
        "{} && c.authentications.exists(p, {}) && {} < c.authentications.indexOf(e)",
        has_headers("e"),
        has_params("p"),
        first_index(&has_params("p")),
    )
}

/// ... or from params when one up to and including it read it from headers.
fn params_after_headers() -> String {
    format!(
        "{} && c.authentications.exists(p, {}) && {} <= c.authentications.indexOf(e)",
        has_params("e"),
        has_headers("p"),
        first_index(&has_headers("p")),
    )
}

/// The index of the first authentication of `c` that meets `pred` (over `p`).
fn first_index(pred: &str) -> String {
    format!("c.authentications.indexOf(c.authentications.filter(p, {pred})[0])")
}
