//! The O rules for a v1beta1 spec. Such objects are neither reconciled nor
//! converted faithfully any more, but a policy that can make R010 a warning
//! must not let them past its organisation rules: their one host, their
//! gateway, their limits, the access strategies that let anyone in
//! (`no_auth`, `allow` and `noop` are v2's `noAuth`), the Services they
//! route to, and the key sets and issuers of their jwt strategies, in
//! either config style.

use serde_json::Value;

use super::{gateway, host, issuers, methods, plain_http, public, service, timeout};
use crate::apirule::JwtConfig;
use crate::apirule::v1beta1::{OryJwtConfig, Spec};
use crate::diagnostic::{Finding, join};
use crate::policy::Policy;
use crate::rules::Code;

/// The handlers that admit a request without a token.
const PUBLIC: [&str; 3] = ["no_auth", "allow", "noop"];

/// O rules for a v1beta1 spec at `/spec` of an object in `namespace`.
pub fn spec(spec: &Spec, namespace: Option<&str>, policy: &Policy, out: &mut Vec<Finding>) {
    if !policy.has_organisation_rules() {
        return;
    }
    host(&spec.host, "/spec/host", policy, out);
    gateway("gateway", Some(&spec.gateway), policy, out);
    if let Some(s) = &spec.service {
        service(s, "/spec/service", namespace, policy, out);
    }
    timeout(spec.timeout, "/spec/timeout", policy, out);
    for (i, rule) in spec.rules.iter().enumerate() {
        let r = format!("/spec/rules/{i}");
        methods(rule.methods.iter().map(|m| m.as_str()), &r, policy, out);
        timeout(rule.timeout, &join(&r, "timeout"), policy, out);
        if let Some(s) = &rule.service {
            service(s, &join(&r, "service"), namespace, policy, out);
        }
        for (k, strategy) in rule.access_strategies.iter().enumerate() {
            let at = format!("{r}/accessStrategies/{k}");
            if PUBLIC.contains(&strategy.handler.as_str()) {
                let how = format!("the {} handler", strategy.handler);
                public(
                    &how,
                    &rule.path,
                    &join(&at, "handler"),
                    namespace,
                    policy,
                    out,
                );
            }
            if strategy.handler == "jwt"
                && let Some(config) = &strategy.config
            {
                jwt(config, &join(&at, "config"), policy, out);
            }
        }
    }
}

/// The issuers and key sets of a jwt strategy's config at `at`: Istio's
/// style (`authentications`, judged as v2's) or Ory's (`trusted_issuers`,
/// `jwks_urls`).
fn jwt(config: &Value, at: &str, policy: &Policy, out: &mut Vec<Finding>) {
    if config.get("authentications").is_some() {
        if let Ok(cfg) = serde_json::from_value::<JwtConfig>(config.clone()) {
            issuers(&cfg, at, policy, out);
        }
        return;
    }
    let Ok(ory) = serde_json::from_value::<OryJwtConfig>(config.clone()) else {
        return;
    };
    for (k, url) in ory.jwks_urls.iter().enumerate() {
        if !policy.org.allow_http_jwks_uri && plain_http(url) {
            out.push(Finding::new(
                Code::O010,
                format!("{at}/jwks_urls/{k}"),
                format!("jwksUri \"{url}\" uses plain http, which the policy does not allow"),
            ));
        }
    }
    if policy.issuers.is_empty() {
        return;
    }
    for (k, issuer) in ory.trusted_issuers.iter().enumerate() {
        if policy.registered(issuer).is_none() {
            out.push(Finding::new(
                Code::O001,
                format!("{at}/trusted_issuers/{k}"),
                format!("issuer \"{issuer}\" is not in the policy's issuer registry"),
            ));
        }
    }
}
