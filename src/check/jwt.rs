//! JWT rules (J): upstream's V4, V5 and V7 with their exact messages, and the
//! stricter checks that keep Istio from answering 401 to every caller.

use std::collections::HashMap;

use crate::apirule::{JwtAuthentication, JwtAuthorization, JwtConfig};
use crate::diagnostic::{Finding, join};
use crate::rules::Code;

use super::uri::parse_request_uri;

fn uri_error(err: impl std::fmt::Display) -> String {
    format!("value is empty or not a valid uri err={err}")
}

/// Upstream's `validateJwtIssuer` (V5a): only issuers containing `:` must be URIs.
/// `pointer` is built only for a finding: a clean issuer allocates nothing.
pub fn issuer(value: &str, pointer: impl FnOnce() -> String, out: &mut Vec<Finding>) {
    if value.is_empty() {
        out.push(Finding::new(
            Code::J002,
            pointer(),
            uri_error("value is empty"),
        ));
        return;
    }
    let parsed = parse_request_uri(value);
    if let (true, Err(e)) = (value.contains(':'), &parsed) {
        out.push(Finding::new(Code::J002, pointer(), uri_error(e)));
        return;
    }
    let parsed = parsed.ok();
    // A token from an OpenID provider carries an https (or, in tests, http)
    // iss; `htps://` or `ldap://` never matches one, so Istio answers 401
    // to every caller. Upstream stores it.
    if let Some(u) = &parsed
        && !u.scheme.is_empty()
        && !u.scheme.eq_ignore_ascii_case("https")
        && !u.scheme.eq_ignore_ascii_case("http")
    {
        out.push(Finding::new(
            Code::J016,
            pointer(),
            format!(
                "issuer \"{value}\" has the scheme {}: tokens carry an https issuer, so Istio rejects every token with 401 Jwt issuer is not configured",
                u.scheme
            ),
        ));
        return;
    }
    let absolute = parsed.is_some_and(|u| {
        !u.opaque && !u.scheme.is_empty() && u.host.is_some_and(|h| !h.is_empty())
    });
    if !absolute {
        out.push(Finding::new(
            Code::J013,
            pointer(),
            format!(
                "issuer \"{value}\" is not an absolute URL; OIDC providers put an https URL in the token's iss claim, and Istio compares it byte for byte"
            ),
        ));
    }
}

/// Upstream's `IsInvalidURI` (V5b) on a jwksUri, then kexpose's http(s) rules.
pub fn jwks_uri(value: &str, pointer: impl FnOnce() -> String, out: &mut Vec<Finding>) {
    if value.is_empty() {
        out.push(Finding::new(
            Code::J003,
            pointer(),
            uri_error("value is empty"),
        ));
        return;
    }
    let uri = match parse_request_uri(value) {
        Ok(u) => u,
        Err(e) => {
            out.push(Finding::new(Code::J003, pointer(), uri_error(&e)));
            return;
        }
    };
    let web = matches!(uri.scheme.as_str(), "http" | "https");
    if !web || uri.opaque || uri.host.is_none_or(str::is_empty) {
        out.push(Finding::new(
            Code::J011,
            pointer(),
            format!(
                "jwksUri \"{value}\" is not an absolute http(s) URL; Istio cannot fetch signing keys from it and rejects every token with 401"
            ),
        ));
    } else if uri.scheme == "http" {
        out.push(Finding::new(
            Code::J012,
            pointer(),
            format!("jwksUri \"{value}\" uses plain http; signing keys fetched without TLS can be replaced in transit"),
        ));
    }
}

/// Upstream's `hasInvalidAuthentications` (V5) over one JWT config.
pub fn authentications(auths: Option<&[JwtAuthentication]>, prefix: &str, out: &mut Vec<Finding>) {
    let list = join(prefix, "authentications");
    let auths = match auths {
        Some(a) if !a.is_empty() => a,
        _ => {
            out.push(Finding::new(
                Code::J001,
                list,
                "A JWT config must have at least one authentication",
            ));
            return;
        }
    };
    let (mut had_headers, mut had_params) = (false, false);
    for (k, a) in auths.iter().enumerate() {
        let at = join(&list, k);
        issuer(&a.issuer, || join(&at, "issuer"), out);
        jwks_uri(&a.jwks_uri, || join(&at, "jwksUri"), out);
        let headers = a.from_headers.as_deref().unwrap_or_default();
        let params = a.from_params.as_deref().unwrap_or_default();
        if a.from_headers.as_ref().is_some_and(Vec::is_empty) {
            out.push(empty_list(join(&at, "fromHeaders")));
        }
        if a.from_params.as_ref().is_some_and(Vec::is_empty) {
            out.push(empty_list(join(&at, "fromParams")));
        }
        if !headers.is_empty() {
            if had_params {
                out.push(mixed(join(&at, "fromHeaders")));
            }
            if headers.len() > 1 {
                out.push(Finding::new(
                    Code::J005,
                    join(&at, "fromHeaders"),
                    "multiple fromHeaders are not supported",
                ));
            }
            had_headers = true;
        }
        if !params.is_empty() {
            if had_headers {
                out.push(mixed(join(&at, "fromParams")));
            }
            if params.len() > 1 {
                out.push(Finding::new(
                    Code::J006,
                    join(&at, "fromParams"),
                    "multiple fromParams are not supported",
                ));
            }
            had_params = true;
        }
    }
}

fn mixed(pointer: String) -> Finding {
    Finding::new(
        Code::J004,
        pointer,
        "mixture of multiple fromHeaders and fromParams is not supported",
    )
}

/// R009: a list upstream's v2 -> v2alpha1 conversion erases (`omitempty`).
pub fn empty_list(pointer: String) -> Finding {
    Finding::new(
        Code::R009,
        pointer,
        "empty list is silently erased when the APIRule is stored; remove it or give it entries",
    )
}

/// Upstream's `hasInvalidAuthorizations` (V4). kexpose reports the empty
/// lists for every version; upstream only sees them on v2alpha1 writes.
pub fn authorizations(authz: Option<&[JwtAuthorization]>, prefix: &str, out: &mut Vec<Finding>) {
    let list = join(prefix, "authorizations");
    let Some(authz) = authz else { return };
    if authz.is_empty() {
        out.push(Finding::new(
            Code::J007,
            list,
            "authorizations defined, but no configuration exists",
        ));
        return;
    }
    for (k, a) in authz.iter().enumerate() {
        let at = join(&list, k);
        for (values, field, code, item) in [
            (
                &a.required_scopes,
                "requiredScopes",
                Code::J008,
                "scope value is empty",
            ),
            (
                &a.audiences,
                "audiences",
                Code::J009,
                "audience value is empty",
            ),
        ] {
            match values {
                Some(v) if v.is_empty() => {
                    out.push(Finding::new(code, join(&at, field), "value is empty"))
                }
                Some(v) => {
                    if let Some(i) = v.iter().position(String::is_empty) {
                        out.push(Finding::new(code, join(&join(&at, field), i), item));
                    }
                }
                None => {}
            }
        }
    }
}

/// Both halves of V4/V5 for one `jwt` (or `extAuth.restrictions`) object.
pub fn config(cfg: &JwtConfig, prefix: &str, out: &mut Vec<Finding>) {
    authentications(cfg.authentications.as_deref(), prefix, out);
    authorizations(cfg.authorizations.as_deref(), prefix, out);
}

fn same_location(a: &JwtAuthentication, b: &JwtAuthentication) -> bool {
    a.from_headers.as_deref().unwrap_or_default() == b.from_headers.as_deref().unwrap_or_default()
        && a.from_params.as_deref().unwrap_or_default()
            == b.from_params.as_deref().unwrap_or_default()
}

/// Upstream's `validateJwtAuthenticationEquality` (V7): Istio builds one
/// RequestAuthentication per workload and issuer, so one issuer (and JWKS)
/// cannot be read from two token locations. Input is every authentication of
/// the APIRule in order, with its pointer (built only for a finding).
pub fn issuer_conflicts<'a, P: FnOnce() -> String>(
    auths: impl IntoIterator<Item = (P, &'a JwtAuthentication)>,
    out: &mut Vec<Finding>,
) {
    // The first authentication of each key, by hash: a pairwise search
    // made J010 quadratic in the authentications.
    let mut seen: HashMap<String, &JwtAuthentication> = HashMap::new();
    for (pointer, a) in auths {
        let key = key(a);
        match seen.get(&key) {
            Some(first) if !same_location(first, a) => {
                out.push(Finding::new(
                    Code::J010,
                    pointer(),
                    "multiple jwt configurations that differ for the same issuer",
                ));
            }
            Some(_) => {}
            None => {
                seen.insert(key, a);
            }
        }
    }
}

/// Upstream's key is issuer and jwksUri concatenated (so `a` + `bc` and
/// `ab` + `c` collide there, and here).
/// What upstream compares authentications by: the issuer and jwksUri
/// written one after the other.
fn key(a: &JwtAuthentication) -> String {
    [a.issuer.as_str(), a.jwks_uri.as_str()].concat()
}
