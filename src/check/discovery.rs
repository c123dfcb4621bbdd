//! APIRules against OpenID discovery as `kexpose.lock` recorded it (J014,
//! J015). Silent unless a lock is in use (`Policy::discovered`).
//!
//! The lock holds what each provider's discovery document says; an APIRule
//! written by hand (or a spec with its own jwksUri) can still disagree with
//! it, and Istio then rejects every token.

use crate::apirule::JwtConfig;
use crate::apirule::v2::Spec;
use crate::diagnostic::{Finding, join};
use crate::policy::Policy;
use crate::rules::Code;

/// J014 and J015 for every jwt authentication of a v2/v2alpha1 spec.
pub fn spec(spec: &Spec, policy: &Policy, out: &mut Vec<Finding>) {
    if policy.discovered.is_empty() {
        return;
    }
    for (i, rule) in spec.rules.iter().enumerate() {
        for (cfg, at) in rule.jwt_configs(&format!("/spec/rules/{i}")) {
            authentications(cfg, &at, policy, out);
        }
    }
}

fn authentications(cfg: &JwtConfig, at: &str, policy: &Policy, out: &mut Vec<Finding>) {
    for (k, auth) in cfg.authentications.iter().flatten().enumerate() {
        let a = format!("{at}/authentications/{k}");
        match policy.discovered.get(&auth.issuer) {
            Some(discovered) if *discovered != auth.jwks_uri => out.push(Finding::new(
                Code::J015,
                join(&a, "jwksUri"),
                format!(
                    "jwksUri \"{}\" is not the jwks_uri discovery gives for {} (\"{discovered}\", kexpose.lock); Istio verifies tokens with the keys it finds at the configured one",
                    auth.jwks_uri, auth.issuer
                ),
            )),
            Some(_) => {}
            None => {
                let bare = auth.issuer.trim_end_matches('/');
                if let Some(discovered) = policy
                    .discovered
                    .keys()
                    .find(|d| d.trim_end_matches('/') == bare)
                {
                    out.push(Finding::new(
                        Code::J014,
                        join(&a, "issuer"),
                        format!(
                            "issuer \"{}\" differs from the issuer its discovery document names (\"{discovered}\", kexpose.lock) only in the trailing slash; Istio compares the token's iss claim exactly and rejects every token with 401 \"Jwt issuer is not configured\"",
                            auth.issuer
                        ),
                    ));
                }
            }
        }
    }
}
