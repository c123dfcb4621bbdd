//! Organisation defaults at admission: the repairs of `crate::fix` that
//! run at admission (default gateway, lowercase hosts, jwksUri from the
//! registry or the lock), as a minimal RFC 6902 patch. `check --fix` reads
//! the same definitions, so a file fixed in Git and an object patched at
//! admission end up the same. A second pass over the patched object finds
//! nothing to do; metadata is never touched.

use json_patch::Patch;
use serde_json::Value;

use crate::policy::Policy;

/// The patch for one object; empty when nothing changes. Only APIRule v2
/// and v2alpha1 are mutated (v1beta1 is denied or legacy).
pub fn patch(object: &Value, policy: &Policy) -> Patch {
    crate::fix::admission_patch(object, policy)
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
    fn the_policy_chooses_which_fixes_run_at_admission() {
        let only_hosts = Policy::parse(
            "apiVersion: kexpose.dev/v1alpha1\nkind: Policy\nspec:\n  gateways: {default: kyma-system/kyma-gateway}\n  admission: {fixes: [S006, R006, J012]}\n  issuers:\n    - {issuer: 'https://idp.example.com', jwksUri: 'https://idp.example.com/keys'}\n",
        )
        .unwrap();
        let mut obj = object();
        obj["spec"]["rules"][0]["methods"] = json!(["GET", "GET"]);
        // R006 would remove an entry and J012 has nothing to do here:
        // only the host is patched.
        assert_eq!(
            serde_json::to_value(patch(&obj, &only_hosts)).unwrap(),
            json!([{"op": "replace", "path": "/spec/hosts/1", "value": "b.example.com"}])
        );
        let none = Policy::parse(
            "apiVersion: kexpose.dev/v1alpha1\nkind: Policy\nspec:\n  gateways: {default: kyma-system/kyma-gateway}\n  admission: {fixes: []}\n",
        )
        .unwrap();
        assert!(patch(&object(), &none).0.is_empty());
        let e = Policy::parse(
            "apiVersion: kexpose.dev/v1alpha1\nkind: Policy\nspec:\n  admission:\n    fixes: [S006, X999]\n",
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "5:19: admission.fixes: unknown rule \"X999\" (see `kexpose rules`)"
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
