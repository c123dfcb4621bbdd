//! Organisation defaults as a minimal RFC 6902 patch: `add` wherever a
//! field is missing, `replace` only for the one string that changes, never a
//! whole array. A second pass over the patched object finds nothing to do.

use json_patch::jsonptr::PointerBuf;
use json_patch::{AddOperation, Patch, PatchOperation, ReplaceOperation};
use serde_json::Value;

use crate::apirule::Version;
use crate::policy::Policy;

fn pointer(tokens: &[&str]) -> PointerBuf {
    PointerBuf::from_tokens(tokens.iter().copied())
}

fn add(ops: &mut Vec<PatchOperation>, tokens: &[&str], value: Value) {
    ops.push(PatchOperation::Add(AddOperation {
        path: pointer(tokens),
        value,
    }));
}

/// The patch for one object; empty when nothing changes. Only APIRule v2
/// and v2alpha1 are mutated (v1beta1 is denied or legacy). Metadata, the
/// `gateway.kyma-project.io/original-version` annotation included, is never
/// touched.
pub fn patch(object: &Value, policy: &Policy) -> Patch {
    let mut ops = Vec::new();
    let version = object
        .get("apiVersion")
        .and_then(Value::as_str)
        .and_then(Version::from_api_version);
    if !matches!(version, Some(Version::V2 | Version::V2alpha1))
        || object.get("kind").and_then(Value::as_str) != Some(crate::apirule::KIND)
    {
        return Patch(ops);
    }
    let Some(spec) = object.get("spec").and_then(Value::as_object) else {
        return Patch(ops);
    };
    if let Some(gateway) = &policy.default_gateway
        && !spec.contains_key("gateway")
        && !spec.contains_key("externalGateway")
    {
        add(
            &mut ops,
            &["spec", "gateway"],
            Value::from(gateway.as_str()),
        );
    }
    if let Some(hosts) = spec.get("hosts").and_then(Value::as_array) {
        for (i, host) in hosts.iter().enumerate() {
            if let Some(h) = host
                .as_str()
                .filter(|h| h.bytes().any(|b| b.is_ascii_uppercase()))
            {
                let index = i.to_string();
                ops.push(PatchOperation::Replace(ReplaceOperation {
                    path: pointer(&["spec", "hosts", &index]),
                    value: Value::from(h.to_ascii_lowercase()),
                }));
            }
        }
    }
    if let Some(rules) = spec.get("rules").and_then(Value::as_array) {
        for (i, rule) in rules.iter().enumerate() {
            let index = i.to_string();
            for base in crate::apirule::v2::JWT_CONFIGS {
                let mut at = rule;
                for token in base {
                    at = at.get(*token).unwrap_or(&Value::Null);
                }
                let Some(auths) = at.get("authentications").and_then(Value::as_array) else {
                    continue;
                };
                for (k, auth) in auths.iter().enumerate() {
                    if auth.get("jwksUri").is_some() {
                        continue;
                    }
                    let Some(uri) = auth.get("issuer").and_then(Value::as_str).and_then(|i| {
                        // The organisation's registry first, then discovery (a lock).
                        policy
                            .jwks_uri_of(i)
                            .or_else(|| policy.discovered.get(i).map(String::as_str))
                    }) else {
                        continue;
                    };
                    let k = k.to_string();
                    let mut tokens = vec!["spec", "rules", &index];
                    tokens.extend_from_slice(base);
                    tokens.extend_from_slice(&["authentications", &k, "jwksUri"]);
                    add(&mut ops, &tokens, Value::from(uri));
                }
            }
        }
    }
    Patch(ops)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn policy() -> Policy {
        Policy::parse(
            "apiVersion: kexpose.dev/v1alpha1\nkind: Policy\nspec:\n  gateways: {default: kyma-system/kyma-gateway}\n  issuers:\n    - {issuer: 'https://idp.example.com', jwksUri: 'https://idp.example.com/keys'}\n",
        )
        .unwrap()
    }

    fn object() -> Value {
        json!({
            "apiVersion": "gateway.kyma-project.io/v2", "kind": "APIRule",
            "metadata": {"name": "a", "annotations": {"gateway.kyma-project.io/original-version": "v2"}},
            "spec": {"hosts": ["a.example.com", "B.Example.com"], "service": {"name": "a", "port": 80},
                "rules": [
                    {"path": "/*", "methods": ["GET"], "jwt": {"authentications": [
                        {"issuer": "https://idp.example.com"},
                        {"issuer": "https://other.example.com"},
                        {"issuer": "https://idp.example.com", "jwksUri": "https://elsewhere.example.com/keys"}]}},
                    {"path": "/x", "methods": ["GET"], "extAuth": {"authorizers": ["p"], "restrictions": {"authentications": [{"issuer": "https://idp.example.com"}]}}}
                ]}
        })
    }

    #[test]
    fn minimal_patch_and_a_second_pass_is_empty() {
        let mut obj = object();
        let p = patch(&obj, &policy());
        let text = serde_json::to_value(&p).unwrap();
        assert_eq!(
            text,
            json!([
                {"op": "add", "path": "/spec/gateway", "value": "kyma-system/kyma-gateway"},
                {"op": "replace", "path": "/spec/hosts/1", "value": "b.example.com"},
                {"op": "add", "path": "/spec/rules/0/jwt/authentications/0/jwksUri", "value": "https://idp.example.com/keys"},
                {"op": "add", "path": "/spec/rules/1/extAuth/restrictions/authentications/0/jwksUri", "value": "https://idp.example.com/keys"},
            ])
        );
        json_patch::patch(&mut obj, &p.0).unwrap();
        assert!(patch(&obj, &policy()).0.is_empty());
        assert_eq!(obj["metadata"], object()["metadata"]);
    }

    #[test]
    fn a_lock_fills_jwks_uris_the_registry_does_not_know() {
        let mut policy = policy();
        policy.discovered = [
            (
                "https://other.example.com",
                "https://other.example.com/certs",
            ),
            (
                "https://idp.example.com",
                "https://idp.example.com/discovered",
            ),
        ]
        .into_iter()
        .map(|(i, u)| (i.to_owned(), u.to_owned()))
        .collect();
        let ops = serde_json::to_value(patch(&object(), &policy)).unwrap();
        let added: Vec<(&str, &str)> = ops
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| o["path"].as_str().unwrap().ends_with("/jwksUri"))
            .map(|o| (o["path"].as_str().unwrap(), o["value"].as_str().unwrap()))
            .collect();
        assert_eq!(
            added,
            [
                (
                    "/spec/rules/0/jwt/authentications/0/jwksUri",
                    "https://idp.example.com/keys"
                ),
                (
                    "/spec/rules/0/jwt/authentications/1/jwksUri",
                    "https://other.example.com/certs"
                ),
                (
                    "/spec/rules/1/extAuth/restrictions/authentications/0/jwksUri",
                    "https://idp.example.com/keys"
                ),
            ]
        );
    }

    #[test]
    fn external_gateway_v1beta1_and_other_kinds_are_left_alone() {
        let mut obj = object();
        obj["spec"]["externalGateway"] = json!("ns/ext");
        let ops = patch(&obj, &policy()).0;
        assert!(!ops.iter().any(|o| *o.path() == "/spec/gateway"));
        obj["apiVersion"] = json!("gateway.kyma-project.io/v1beta1");
        assert!(patch(&obj, &policy()).0.is_empty());
        assert!(patch(&json!({"kind": "ConfigMap"}), &policy()).0.is_empty());
    }
}
