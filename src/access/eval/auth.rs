//! The RequestAuthentications of a workload: a token found where an issuer
//! expects one is verified, and a bad one is 401.

use serde_json::{Map, Value};

use super::{Model, Outcome, Reason};
use crate::access::At;
use crate::access::istio::{JwtRule, Workload};
use crate::access::request::{Request, Token, TokenAt};

impl Model<'_> {
    /// The RequestAuthentications of the workload: the identity a verified
    /// token gives, or the 401 a bad one gets.
    pub(super) fn authenticate<'r>(
        &self,
        request: &'r Request,
        workload: &Workload,
        out: &mut Outcome,
    ) -> Result<Option<&'r Map<String, Value>>, (u16, &'static str)> {
        let rules = self.jwt_rules(workload);
        let claims = match &request.token {
            Token::None => {
                out.reasons.push(Reason::new("no token is presented", None));
                return Ok(None);
            }
            Token::Signed(c) => Some(c),
            Token::Forged(c) => c.as_ref(),
        };
        if rules.is_empty() {
            out.reasons.push(Reason::new(
                format!(
                    "no RequestAuthentication selects Service {workload}: nothing reads the token"
                ),
                None,
            ));
            return Ok(None);
        }
        let readers: Vec<(&JwtRule, Extracted)> = rules
            .iter()
            .filter_map(|&r| Some((r, extracts(r, &request.at)?)))
            .collect();
        if readers.is_empty() {
            let mut expected: Vec<String> = rules
                .iter()
                .map(|r| format!("{} at {}", r.issuer, locations(r)))
                .collect();
            expected.dedup();
            out.reasons.push(Reason::new(
                format!(
                    "the token is presented in {}, where no issuer of Service {workload} looks for one, so it is ignored (expected: {})",
                    request.at.describe(),
                    expected.join("; ")
                ),
                Some(rules[0].at.clone()),
            ));
            return Ok(None);
        }
        if readers.iter().all(|(_, e)| *e == Extracted::Garbled) {
            let (r, _) = &readers[0];
            out.reasons.push(Reason::new(
                format!(
                    "{} is read whole, without the prefix the caller put before the token, so what Envoy reads is not a JWT",
                    request.at.describe()
                ),
                Some(At::new(r.at.apirule, format!("{}/fromHeaders", r.at.pointer))),
            ));
            return Err((
                401,
                "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections",
            ));
        }
        let iss = match claims.and_then(|c| c.get("iss")).and_then(Value::as_str) {
            Some(iss) => iss,
            // A forged token that says nothing claims the first issuer.
            None => readers[0].0.issuer.as_str(),
        };
        let Some((rule, _)) = readers.iter().find(|(r, _)| r.issuer == iss) else {
            let mut configured: Vec<&str> =
                readers.iter().map(|(r, _)| r.issuer.as_str()).collect();
            configured.sort_unstable();
            configured.dedup();
            let near = configured
                .iter()
                .find(|c| c.trim_end_matches('/') == iss.trim_end_matches('/'));
            let hint = match near {
                Some(c) => format!(
                    " ({c} differs from it only by a trailing /, and issuers are compared byte for byte)"
                ),
                None => String::new(),
            };
            out.reasons.push(Reason::new(
                format!(
                    "the token's iss {iss} is not an issuer configured for {} of Service {workload} (configured there: {}){hint}",
                    request.at.describe(),
                    configured.join(", ")
                ),
                Some(At::new(readers[0].0.at.apirule, format!("{}/issuer", readers[0].0.at.pointer))),
            ));
            return Err((401, "Jwt issuer is not configured"));
        };
        let issuer_at = At::new(rule.at.apirule, format!("{}/issuer", rule.at.pointer));
        let Token::Signed(claims) = &request.token else {
            out.reasons.push(Reason::new(
                format!(
                    "the token claims issuer {iss}, but its signature does not verify with the keys at {}",
                    rule.jwks_uri
                ),
                Some(At::new(rule.at.apirule, format!("{}/jwksUri", rule.at.pointer))),
            ));
            return Err((401, "Jwt verification fails"));
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        if let Some(exp) = claims.get("exp").and_then(Value::as_f64)
            && exp <= now
        {
            out.reasons.push(Reason::new(
                format!("the token from {iss} expired (exp {exp})"),
                Some(issuer_at),
            ));
            return Err((401, "Jwt is expired"));
        }
        if let Some(nbf) = claims.get("nbf").and_then(Value::as_f64)
            && nbf > now
        {
            out.reasons.push(Reason::new(
                format!("the token from {iss} is not valid yet (nbf {nbf})"),
                Some(issuer_at),
            ));
            return Err((401, "Jwt not yet valid"));
        }
        out.reasons.push(Reason::new(
            format!(
                "the token in {} is verified: issuer {iss}, keys from {}",
                request.at.describe(),
                rule.jwks_uri
            ),
            Some(issuer_at),
        ));
        Ok(Some(claims))
    }
}

/// How a configured location reads a token the caller put at `at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Extracted {
    Token,
    /// The header is read, but what follows its prefix is not the token.
    Garbled,
}

fn extracts(rule: &JwtRule, at: &TokenAt) -> Option<Extracted> {
    let (headers, params) = rule.locations();
    match at {
        TokenAt::Header { name, prefix } => {
            let sent = if prefix.is_empty() {
                "T".to_owned()
            } else {
                format!("{prefix} T")
            };
            headers
                .iter()
                .filter(|h| h.name.eq_ignore_ascii_case(name))
                .find_map(|h| {
                    let rest = sent.strip_prefix(h.prefix.as_str())?;
                    Some(if rest.trim_start() == "T" {
                        Extracted::Token
                    } else {
                        Extracted::Garbled
                    })
                })
        }
        TokenAt::Param(name) => params.iter().any(|p| p == name).then_some(Extracted::Token),
    }
}

/// Where an issuer reads tokens, as a person would say it.
fn locations(rule: &JwtRule) -> String {
    let (headers, params) = rule.locations();
    let mut out: Vec<String> = headers
        .iter()
        .map(|h| {
            if h.prefix.is_empty() {
                format!("header {}", h.name)
            } else {
                format!("header {} ({}<token>)", h.name, h.prefix)
            }
        })
        .collect();
    out.extend(params.iter().map(|p| format!("query parameter {p}")));
    out.join(", ")
}
