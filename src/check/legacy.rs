//! APIRule v1beta1 under the legacy profile: upstream's v1beta1 controller
//! checks (B rules, Istio JWT handler), and what upstream's conversion to v2
//! would silently drop.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

use crate::apirule::JwtConfig;
use crate::apirule::v1beta1::{Handler, Spec};
use crate::diagnostic::{Finding, join};
use crate::policy::JwtHandler;
use crate::rules::Code;

use super::jwt;

/// Handlers that must stand alone in a rule: upstream's list depends on the
/// jwt handler (with Ory, jwt may be combined with other secure handlers).
fn exclusive(handler: JwtHandler) -> &'static [&'static str] {
    match handler {
        JwtHandler::Istio => &["allow", "no_auth", "jwt", "noop"],
        JwtHandler::Ory => &["allow", "no_auth", "noop"],
    }
}
const SECURE: [&str; 4] = [
    "oauth2_client_credentials",
    "oauth2_introspection",
    "jwt",
    "cookie_session",
];
const INSECURE: [&str; 5] = ["noop", "no_auth", "allow", "unauthorized", "anonymous"];
const NO_CONFIG: [&str; 6] = [
    "allow",
    "no_auth",
    "noop",
    "unauthorized",
    "anonymous",
    "cookie_session",
];
const KNOWN: [&str; 9] = [
    "allow",
    "no_auth",
    "jwt",
    "noop",
    "unauthorized",
    "anonymous",
    "cookie_session",
    "oauth2_client_credentials",
    "oauth2_introspection",
];
const ORY_KEYS: [&str; 4] = [
    "trusted_issuers",
    "jwks_urls",
    "required_scope",
    "target_audience",
];

/// The v2 path grammar; a v1beta1 path outside it does not convert.
static V2_PATH: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^((/([A-Za-z0-9-._~!$&'()+,;=:@]|%[0-9a-fA-F]{2})*)|(/\{\*{1,2}\}))+$|^/\*$")
        .expect("static regex")
});

fn empty_config(config: &Option<Value>) -> bool {
    match config {
        None | Some(Value::Null) => true,
        Some(Value::Object(m)) => m.is_empty(),
        Some(_) => false,
    }
}

/// The B rules for a v1beta1 spec, as the controller with `jwt_handler` runs them.
pub fn spec(spec: &Spec, jwt_handler: JwtHandler, out: &mut Vec<Finding>) {
    let mut seen: Vec<String> = Vec::new();
    let mut istio_auths = Vec::new();
    for (i, rule) in spec.rules.iter().enumerate() {
        let r = format!("/spec/rules/{i}");
        for m in &rule.methods {
            let key = format!("{}:{}", rule.path, m.as_str());
            if seen.contains(&key) {
                out.push(Finding::new(
                    Code::B001,
                    join(&r, "path"),
                    "multiple rules defined for the same path and method",
                ));
                break;
            }
            seen.push(key);
        }
        if spec.service.is_none() && rule.service.is_none() {
            out.push(Finding::new(
                Code::B002,
                join(&r, "service"),
                "No service defined with no main service on spec level",
            ));
        }
        if !V2_PATH.is_match(&rule.path) {
            out.push(Finding::new(
                Code::B008,
                join(&r, "path"),
                format!(
                    "path \"{}\" is a regular expression with no v2 path template equivalent; upstream's conversion to v2 drops every rule of this APIRule (use /*, /{{**}} or /prefix/{{**}})",
                    rule.path
                ),
            ));
        }
        let strategies = join(&r, "accessStrategies");
        let handlers: Vec<&str> = rule
            .access_strategies
            .iter()
            .map(|h| h.handler.as_str())
            .collect();
        if handlers.len() > 1 {
            for (j, h) in handlers.iter().enumerate() {
                if exclusive(jwt_handler).contains(h) {
                    out.push(Finding::new(
                        Code::B003,
                        join(&join(&strategies, j), "handler"),
                        format!("{h} access strategy is not allowed in combination with other access strategies"),
                    ));
                }
            }
        }
        if handlers.iter().any(|h| SECURE.contains(h))
            && handlers.iter().any(|h| INSECURE.contains(h))
        {
            out.push(Finding::new(
                Code::B004,
                strategies.clone(),
                "Secure access strategies cannot be used in combination with unsecure access strategies",
            ));
        }
        let mut has_jwt = false;
        for (j, strategy) in rule.access_strategies.iter().enumerate() {
            let at = join(&strategies, j);
            handler(
                strategy,
                &at,
                jwt_handler,
                out,
                &mut istio_auths,
                &mut has_jwt,
            );
        }
        // Only the Istio handler's validator reads mutators.
        if has_jwt
            && jwt_handler == JwtHandler::Istio
            && let Some(mutators) = &rule.mutators
        {
            self::mutators(mutators, &join(&r, "mutators"), out);
        }
    }
    jwt::issuer_conflicts(istio_auths.iter().map(|(p, a)| (|| p.clone(), a)), out);
}

fn handler(
    strategy: &Handler,
    at: &str,
    jwt_handler: JwtHandler,
    out: &mut Vec<Finding>,
    istio_auths: &mut Vec<(String, crate::apirule::JwtAuthentication)>,
    has_jwt: &mut bool,
) {
    let h = strategy.handler.as_str();
    if !KNOWN.contains(&h) {
        out.push(Finding::new(
            Code::B005,
            join(at, "handler"),
            format!("Unsupported accessStrategy: {h}"),
        ));
        return;
    }
    if NO_CONFIG.contains(&h) && !empty_config(&strategy.config) {
        out.push(Finding::new(
            Code::B005,
            join(at, "config"),
            format!("strategy: {h} does not support configuration"),
        ));
    }
    if h != "no_auth" && h != "jwt" {
        out.push(Finding::new(
            Code::B008,
            join(at, "handler"),
            format!("access strategy \"{h}\" has no v2 equivalent; upstream's conversion to v2 drops every rule of this APIRule (use noAuth, jwt or extAuth)"),
        ));
    }
    if h != "jwt" {
        return;
    }
    *has_jwt = true;
    let config = join(at, "config");
    let Some(Value::Object(map)) = strategy
        .config
        .as_ref()
        .filter(|_| !empty_config(&strategy.config))
    else {
        out.push(Finding::new(
            Code::B006,
            config,
            "supplied config cannot be empty",
        ));
        return;
    };
    if jwt_handler == JwtHandler::Ory {
        ory_config(map, &config, out);
        return;
    }
    // The Istio handler: Ory keys are refused, authentications required.
    for key in ORY_KEYS.iter().filter(|k| map.contains_key(**k)) {
        out.push(not_supported(&config, key, "Istio"));
    }
    if !map.contains_key("authentications") && !map.contains_key("authorizations") {
        out.push(Finding::new(
            Code::B006,
            at.to_owned(),
            "Authentications are required when using JWT access handler",
        ));
        return;
    }
    // The Ory keys are reported above; the typed config reads the rest.
    let mut rest = map.clone();
    rest.retain(|k, _| !ORY_KEYS.contains(&k.as_str()));
    let cfg: JwtConfig = match serde_json::from_value(Value::Object(rest)) {
        Ok(c) => c,
        Err(e) => {
            out.push(Finding::new(
                Code::B006,
                config,
                format!("Can't read json: {}", crate::diagnostic::plain_error(&e)),
            ));
            return;
        }
    };
    if cfg.authentications.as_ref().is_none_or(Vec::is_empty) {
        out.push(Finding::new(
            Code::B006,
            at.to_owned(),
            "Authentications are required when using JWT access handler",
        ));
    } else {
        jwt::authentications(cfg.authentications.as_deref(), &config, out);
    }
    jwt::authorizations(cfg.authorizations.as_deref(), &config, out);
    for (k, a) in cfg.authentications.into_iter().flatten().enumerate() {
        istio_auths.push((format!("{config}/authentications/{k}"), a));
    }
}

/// Upstream's "Configuration for X is not supported with H handler", at the key.
fn not_supported(config: &str, key: &str, handler: &str) -> Finding {
    // Upstream names required_scope by its Istio-style spelling.
    let field = if key == "required_scope" {
        "required_scopes"
    } else {
        key
    };
    Finding::new(
        Code::B006,
        join(config, key),
        format!("Configuration for {field} is not supported with {handler} handler"),
    )
    .at_key()
}

/// The Ory handler's jwt config: Istio-style keys are refused, every URL is
/// validated, and upstream converts only one issuer paired with one JWKS URL.
fn ory_config(map: &serde_json::Map<String, Value>, config: &str, out: &mut Vec<Finding>) {
    if map.contains_key("authentications") {
        out.push(not_supported(config, "authentications", "Ory"));
    }
    let list = |key: &str| -> Vec<String> {
        map.get(key)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .map(|v| v.as_str().unwrap_or_default().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    let issuers = list("trusted_issuers");
    let jwks = list("jwks_urls");
    for (k, i) in issuers.iter().enumerate() {
        jwt::issuer(i, || format!("{config}/trusted_issuers/{k}"), out);
    }
    for (k, u) in jwks.iter().enumerate() {
        jwt::jwks_uri(u, || format!("{config}/jwks_urls/{k}"), out);
    }
    if issuers.len() != 1 || jwks.len() != 1 {
        out.push(Finding::new(
            Code::B008,
            config.to_owned(),
            format!(
                "jwt config has {} trusted_issuers and {} jwks_urls; upstream converts only exactly one of each, and otherwise drops every rule of this APIRule",
                issuers.len(),
                jwks.len()
            ),
        ));
    }
}

fn mutators(mutators: &[Handler], at: &str, out: &mut Vec<Finding>) {
    let mut seen: Vec<&str> = Vec::new();
    for (m, mutator) in mutators.iter().enumerate() {
        let p = join(at, m);
        let name = mutator.handler.as_str();
        if name.is_empty() {
            out.push(Finding::new(
                Code::B007,
                join(&p, "handler"),
                "mutator handler cannot be empty",
            ));
            continue;
        }
        if seen.contains(&name) {
            out.push(Finding::new(
                Code::B007,
                join(&p, "handler"),
                "mutator for same handler already exists",
            ));
            continue;
        }
        seen.push(name);
        let (field, what) = match name {
            "header" => ("headers", "headers cannot be empty"),
            "cookie" => ("cookies", "cookies cannot be empty"),
            other => {
                out.push(Finding::new(
                    Code::B007,
                    join(&p, "handler"),
                    format!("unsupported mutator: {other}"),
                ));
                continue;
            }
        };
        let entries = mutator
            .config
            .as_ref()
            .and_then(|c| c.get(field))
            .and_then(Value::as_object);
        match entries {
            Some(e) if !e.is_empty() => {
                if e.keys().any(String::is_empty) {
                    out.push(Finding::new(
                        Code::B007,
                        join(&join(&p, "config"), field),
                        "cannot be empty",
                    ));
                }
            }
            _ => out.push(Finding::new(Code::B007, join(&p, "config"), what)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn findings(
        config: Value,
        handlers: &[&str],
        jwt_handler: JwtHandler,
    ) -> Vec<(String, String)> {
        let strategies: Vec<Value> = handlers
            .iter()
            .map(|h| {
                if *h == "jwt" {
                    serde_json::json!({"handler": "jwt", "config": config})
                } else {
                    serde_json::json!({"handler": h})
                }
            })
            .collect();
        let spec: Spec = serde_json::from_value(serde_json::json!({
            "host": "a.example.com",
            "service": {"name": "s", "port": 80},
            "gateway": "kyma-system/kyma-gateway",
            "rules": [{"path": "/.*", "methods": ["GET"], "accessStrategies": strategies,
                       "mutators": [{"handler": "id_token"}]}],
        }))
        .unwrap();
        let mut out = Vec::new();
        super::spec(&spec, jwt_handler, &mut out);
        out.into_iter()
            .filter(|f| f.code != Code::B008)
            .map(|f| (f.pointer, f.message))
            .collect()
    }

    fn ory() -> Value {
        serde_json::json!({
            "trusted_issuers": ["https://idp.example.com"],
            "jwks_urls": ["https://idp.example.com/keys"],
            "required_scope": ["read"],
        })
    }

    fn istio() -> Value {
        serde_json::json!({"authentications": [
            {"issuer": "https://idp.example.com", "jwksUri": "https://idp.example.com/keys"}
        ]})
    }

    const CONFIG: &str = "/spec/rules/0/accessStrategies/0/config";

    #[test]
    fn the_istio_handler_refuses_an_ory_config() {
        let got = findings(ory(), &["jwt"], JwtHandler::Istio);
        let want = [
            (
                format!("{CONFIG}/trusted_issuers"),
                "Configuration for trusted_issuers is not supported with Istio handler",
            ),
            (
                format!("{CONFIG}/jwks_urls"),
                "Configuration for jwks_urls is not supported with Istio handler",
            ),
            (
                format!("{CONFIG}/required_scope"),
                "Configuration for required_scopes is not supported with Istio handler",
            ),
            (
                "/spec/rules/0/accessStrategies/0".to_owned(),
                "Authentications are required when using JWT access handler",
            ),
            (
                "/spec/rules/0/mutators/0/handler".to_owned(),
                "unsupported mutator: id_token",
            ),
        ];
        assert_eq!(got, want.map(|(p, m)| (p, m.to_owned())));
        assert_eq!(
            findings(istio(), &["jwt"], JwtHandler::Istio),
            [(
                "/spec/rules/0/mutators/0/handler".to_owned(),
                "unsupported mutator: id_token".to_owned()
            )]
        );
    }

    #[test]
    fn the_ory_handler_refuses_an_istio_config_and_reads_no_mutators() {
        assert!(findings(ory(), &["jwt"], JwtHandler::Ory).is_empty());
        assert_eq!(
            findings(istio(), &["jwt"], JwtHandler::Ory),
            [(
                format!("{CONFIG}/authentications"),
                "Configuration for authentications is not supported with Ory handler".to_owned()
            )]
        );
    }

    #[test]
    fn only_the_istio_handler_makes_jwt_exclusive() {
        let with_cookie = findings(ory(), &["jwt", "cookie_session"], JwtHandler::Ory);
        assert!(with_cookie.is_empty(), "{with_cookie:?}");
        let with_cookie = findings(istio(), &["jwt", "cookie_session"], JwtHandler::Istio);
        assert!(
            with_cookie.contains(&(
                "/spec/rules/0/accessStrategies/0/handler".to_owned(),
                "jwt access strategy is not allowed in combination with other access strategies"
                    .to_owned()
            ))
        );
    }
}
