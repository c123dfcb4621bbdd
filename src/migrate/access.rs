//! A v1beta1 rule's access strategies as one v2 access: `noAuth`, or a
//! `jwt` block from the Istio or the Ory (Oathkeeper) style, or the reason
//! there is none.

use serde::Deserialize;
use serde_json::Value;

use crate::apirule::{JwtAuthentication, JwtAuthorization, JwtConfig, v1beta1};
use crate::diagnostic::{Finding, join};
use crate::rules::Code;

/// What one v1beta1 access strategy list becomes.
pub enum Access {
    NoAuth,
    Jwt(JwtConfig),
}

pub fn access(rule: &v1beta1::Rule, at: &str, findings: &mut Vec<Finding>) -> Option<Access> {
    let mut result: Option<Access> = None;
    let mut authentications: Vec<JwtAuthentication> = Vec::new();
    let mut authorizations: Vec<JwtAuthorization> = Vec::new();
    for (k, s) in rule.access_strategies.iter().enumerate() {
        let sat = format!("{at}/accessStrategies/{k}");
        let handler = s.handler.as_str();
        match handler {
            "no_auth" | "allow" | "noop" => {
                if handler != "no_auth" {
                    findings.push(Finding::new(
                        Code::M004,
                        join(&sat, "handler"),
                        format!("{handler} became noAuth: true; {handler} let requests through Oathkeeper untouched, noAuth exposes the route to anyone without a token check: make sure that is meant"),
                    ));
                }
                if matches!(result, Some(Access::Jwt(_))) || !authentications.is_empty() {
                    return mixed(findings, at);
                }
                result = Some(Access::NoAuth);
            }
            "jwt" => {
                if matches!(result, Some(Access::NoAuth)) {
                    return mixed(findings, at);
                }
                let config = s.config.clone().unwrap_or(Value::Null);
                if config.get("authentications").is_some() || config.get("authorizations").is_some()
                {
                    // The Istio style is v2's own jwt block.
                    match JwtConfig::deserialize(&config) {
                        Ok(istio) => {
                            authentications.extend(istio.authentications.unwrap_or_default());
                            authorizations.extend(istio.authorizations.unwrap_or_default());
                        }
                        Err(e) => {
                            findings.push(Finding::new(
                                Code::M002,
                                join(&sat, "config"),
                                format!("jwt config in the Istio style cannot be read ({e}); write it as v2's jwt block"),
                            ));
                            return None;
                        }
                    }
                } else {
                    let ory = v1beta1::OryJwtConfig::deserialize(&config).unwrap_or_default();
                    let (issuers, jwks) = (&ory.trusted_issuers, &ory.jwks_urls);
                    if issuers.len() != 1 || jwks.len() != 1 {
                        let (reason, suggestion) = match (issuers.len(), jwks.len()) {
                            (0, 0) => (
                                "has neither trusted_issuers nor jwks_urls".to_owned(),
                                "add the issuer and its jwksUri".to_owned(),
                            ),
                            (0, _) => (
                                format!(
                                    "names {} jwks_urls but no trusted_issuers; v2 needs the issuer of each key set",
                                    jwks.len()
                                ),
                                format!(
                                    "add the issuer: the `issuer` of the provider's /.well-known/openid-configuration that serves {}",
                                    jwks[0]
                                ),
                            ),
                            (_, 0) => (
                                "names trusted_issuers but no jwks_urls".to_owned(),
                                "add the jwks_uri of each issuer's discovery document".to_owned(),
                            ),
                            (i, j) => (
                                format!(
                                    "names {i} trusted_issuers and {j} jwks_urls, which cannot be paired reliably"
                                ),
                                "write one jwt authentication per issuer with its own jwksUri"
                                    .to_owned(),
                            ),
                        };
                        findings.push(Finding::new(
                            Code::M002,
                            join(&sat, "config"),
                            format!("jwt config {reason}; {suggestion}"),
                        ));
                        return None;
                    }
                    authentications.push(JwtAuthentication {
                        issuer: issuers[0].clone(),
                        jwks_uri: jwks[0].clone(),
                        from_headers: None,
                        from_params: None,
                    });
                    let scopes = ory.required_scope.filter(|s| !s.is_empty());
                    let audiences = ory.target_audience.filter(|a| !a.is_empty());
                    if scopes.is_some() || audiences.is_some() {
                        authorizations.push(JwtAuthorization {
                            required_scopes: scopes,
                            audiences,
                        });
                    }
                }
                result = Some(Access::Jwt(JwtConfig::default()));
            }
            other => {
                let suggestion = match other {
                    "unauthorized" => "remove the rule: v2 rejects requests no rule matches",
                    "oauth2_introspection" | "oauth2_client_credentials" | "cookie_session" => {
                        "use extAuth with an authorization provider (for example oauth2-proxy) registered in Istio"
                    }
                    _ => "use jwt, noAuth or extAuth",
                };
                findings.push(Finding::new(
                    Code::M001,
                    join(&sat, "handler"),
                    format!("access strategy \"{other}\" has no APIRule v2 equivalent; this rule was not migrated; {suggestion}"),
                ));
                return None;
            }
        }
    }
    match result {
        Some(Access::Jwt(_)) => Some(Access::Jwt(JwtConfig {
            authentications: Some(authentications),
            authorizations: (!authorizations.is_empty()).then_some(authorizations),
        })),
        Some(Access::NoAuth) => Some(Access::NoAuth),
        None => {
            findings.push(Finding::new(
                Code::M001,
                join(at, "accessStrategies"),
                "rule has no access strategy; this rule was not migrated; give it jwt, noAuth or extAuth",
            ));
            None
        }
    }
}

fn mixed(findings: &mut Vec<Finding>, at: &str) -> Option<Access> {
    findings.push(Finding::new(
        Code::M007,
        join(at, "accessStrategies"),
        "rule combines noAuth-like and jwt access strategies, which v2 cannot express in one rule; this rule was not migrated; split it by path or method",
    ));
    None
}
