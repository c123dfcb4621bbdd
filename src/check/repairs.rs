//! The repairs of the rules: each is made from the finding it repairs
//! (its code, its pointer and the value there), as `judge` makes its
//! findings, so a repair is never looked for apart from a finding. `check
//! --fix`, the fixes reporters show and the mutating webhook's patch all
//! take them from here.
//!
//! A repair is **safe** when it cannot change what a request may do (a
//! lowercase host is the same DNS name; a method listed twice is listed
//! once), and **unsafe** otherwise (`http` -> `https` changes where Istio
//! fetches keys).

use serde_json::Value;

use crate::diagnostic::{Finding, join};
use crate::patch::{Change, Repair, Safety};
use crate::policy::Policy;
use crate::rules::Code;

/// The rules whose repairs the mutating webhook makes at admission unless
/// the policy's `admission.fixes` says otherwise: those that cannot change
/// what a request may do, or fill in what the policy itself gives.
pub const AT_ADMISSION: [Code; 3] = [Code::R002, Code::S006, Code::S001];

/// Attaches its repair to every finding about `object` that has one.
pub(super) fn attach(object: &Value, policy: &Policy, findings: &mut [Finding]) {
    for finding in findings.iter_mut() {
        if let Some(repair) = repair(object, policy, finding) {
            finding.repair = Some(Box::new(repair));
        }
    }
}

fn repair(object: &Value, policy: &Policy, finding: &Finding) -> Option<Repair> {
    let at = finding.pointer.as_str();
    let here = object.pointer(at);
    let at_admission = AT_ADMISSION.contains(&finding.code);
    let safe = |title: String, change: Change| Repair {
        safety: Safety::Safe,
        title,
        change,
        at_admission,
    };
    match finding.code {
        // Neither gateway nor externalGateway: the policy's default one.
        Code::R002 if at == "/spec" => {
            let gateway = policy.default_gateway.as_ref()?;
            let spec = here?.as_object()?;
            if spec.contains_key("gateway") || spec.contains_key("externalGateway") {
                return None;
            }
            Some(safe(
                format!("set the policy's default gateway {gateway}"),
                Change::Add("/spec/gateway".into(), Value::from(gateway.as_str())),
            ))
        }
        // A host with capitals: DNS names are case-insensitive.
        Code::S006 if is_host(at) => {
            let host = here?.as_str()?;
            if !host.bytes().any(|b| b.is_ascii_uppercase()) {
                return None;
            }
            Some(safe(
                "lowercase the host (DNS names are case-insensitive)".into(),
                Change::Replace(at.to_owned(), Value::from(host.to_ascii_lowercase())),
            ))
        }
        // A method listed twice: the second goes.
        Code::R006 => {
            let method = here?.as_str()?;
            Some(safe(
                format!("remove the second {method}"),
                Change::Remove(at.to_owned()),
            ))
        }
        // An authentication without jwksUri, of an issuer the policy's
        // registry or the lock's discovery knows.
        Code::S001 if at.contains("/authentications/") => {
            let auth = here?.as_object()?;
            if auth.contains_key("jwksUri") {
                return None;
            }
            let issuer = auth.get("issuer")?.as_str()?;
            let uri = policy
                .jwks_uri_of(issuer)
                .or_else(|| policy.discovered.get(issuer).map(String::as_str))?;
            Some(safe(
                format!("set jwksUri to {uri}, as the registry or the lock gives it"),
                Change::Add(join(at, "jwksUri"), Value::from(uri)),
            ))
        }
        // A plain-http key set (J012's warning, or O010 where the policy
        // forbids it): the same URL over https.
        Code::J012 | Code::O010 => {
            let uri = here?.as_str()?;
            let rest = uri
                .get(7..)
                .filter(|_| super::organisation::plain_http(uri))?;
            Some(Repair {
                safety: Safety::Unsafe,
                title: "fetch the keys over https".into(),
                change: Change::Replace(at.to_owned(), Value::from(format!("https://{rest}"))),
                at_admission,
            })
        }
        // The issuer discovery names, differing only in the slash.
        Code::J014 => {
            let issuer = here?.as_str()?;
            let discovered = policy
                .discovered
                .keys()
                .find(|d| d.trim_end_matches('/') == issuer.trim_end_matches('/'))?;
            Some(safe(
                format!("use the issuer exactly as discovery names it: {discovered}"),
                Change::Replace(at.to_owned(), Value::from(discovered.as_str())),
            ))
        }
        _ => None,
    }
}

/// `/spec/hosts/N`.
fn is_host(pointer: &str) -> bool {
    pointer
        .strip_prefix("/spec/hosts/")
        .is_some_and(|i| !i.is_empty() && i.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn object() -> Value {
        json!({
            "apiVersion": "gateway.kyma-project.io/v2",
            "kind": "APIRule",
            "metadata": {"name": "a", "namespace": "n"},
            "spec": {
                "hosts": ["Api.Example.com"],
                "service": {"name": "a", "port": 80},
                "gateway": "kyma-system/kyma-gateway",
                "rules": [{"path": "/a", "methods": ["GET", "GET"], "noAuth": true}],
            },
        })
    }

    fn repairs(policy: &Policy) -> Vec<(Code, String, Change)> {
        crate::check::judge(&object(), policy)
            .findings
            .into_iter()
            .filter_map(|f| Some((f.code, f.pointer, f.repair?.change)))
            .collect()
    }

    #[test]
    fn each_finding_carries_the_repair_its_rule_defines() {
        let got = repairs(&Policy::default());
        assert!(got.contains(&(
            Code::S006,
            "/spec/hosts/0".into(),
            Change::Replace("/spec/hosts/0".into(), json!("api.example.com"))
        )));
        assert!(got.contains(&(
            Code::R006,
            "/spec/rules/0/methods/1".into(),
            Change::Remove("/spec/rules/0/methods/1".into())
        )));
    }

    #[test]
    fn no_finding_no_repair() {
        let quiet = Policy::parse(
            "apiVersion: kexpose.dev/v1alpha1\nkind: Policy\nspec:\n  rules: {S006: off}\n",
        )
        .unwrap();
        let got = repairs(&quiet);
        assert!(
            got.iter().all(|(code, _, _)| *code != Code::S006),
            "{got:?}"
        );
        assert!(
            got.iter().any(|(code, _, _)| *code == Code::R006),
            "{got:?}"
        );
    }

    /// The findings at a jwt config's one jwksUri, written `jwks_uri`, under
    /// a policy that forbids plain http, with their repairs.
    fn jwks_findings(jwks_uri: &str) -> Vec<(Code, Option<Change>)> {
        let strict = Policy::parse(
            "apiVersion: kexpose.dev/v1alpha1\nkind: Policy\nspec:\n  limits: {allowHttpJwksUri: false}\n",
        )
        .unwrap();
        let mut object = object();
        object["spec"]["rules"][0] = json!({
            "path": "/a",
            "methods": ["GET"],
            "jwt": {"authentications": [{"issuer": "https://idp.example.com", "jwksUri": jwks_uri}]},
        });
        crate::check::judge(&object, &strict)
            .findings
            .into_iter()
            .filter(|f| f.pointer == JWKS_AT)
            .map(|f| (f.code, f.repair.map(|r| r.change)))
            .collect()
    }

    const JWKS_AT: &str = "/spec/rules/0/jwt/authentications/0/jwksUri";

    /// `HTTP://` is plain http too: Go lowercases the scheme and Istio
    /// fetches the keys over http, so O010 denies it and the repair keeps
    /// the rest of the URL.
    #[test]
    fn o010_upper_case_http_scheme_is_plain_http() {
        for (written, fixed) in [
            (
                "HTTP://idp.example.com/Keys",
                "https://idp.example.com/Keys",
            ),
            (
                "Http://idp.example.com/keys",
                "https://idp.example.com/keys",
            ),
        ] {
            assert_eq!(
                jwks_findings(written),
                [(
                    Code::O010,
                    Some(Change::Replace(JWKS_AT.into(), json!(fixed)))
                )],
                "{written}"
            );
        }
    }

    /// Where the policy forbids plain http (O010 replaces J012's warning),
    /// the finding that is reported carries the https repair.
    #[test]
    fn o010_carries_the_https_repair() {
        assert_eq!(
            jwks_findings("http://idp.example.com/keys"),
            [(
                Code::O010,
                Some(Change::Replace(
                    JWKS_AT.into(),
                    json!("https://idp.example.com/keys")
                ))
            )]
        );
    }
}
