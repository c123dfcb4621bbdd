//! Repairs: what kexpose can change to make a finding go away, defined
//! once over an object's JSON and applied two ways. `check --fix` turns a
//! repair into a textual edit of the file (`edit`), keeping comments and
//! layout; the mutating webhook turns the repairs the policy runs at
//! admission into a JSON patch. Both read the same definitions, so they
//! cannot disagree.
//!
//! A repair is **safe** when it cannot change what a request may do (a
//! lowercase host is the same DNS name; a method listed twice is listed
//! once), and **unsafe** otherwise (`http` -> `https` changes where Istio
//! fetches keys). Only `--unsafe-fixes` applies the unsafe ones.

pub mod edit;

pub use crate::patch::{Change, Safety};

use serde_json::Value;

use crate::apirule::Version;
use crate::diagnostic::join;
use crate::policy::Policy;
use crate::rules::Code;

/// A repair for the finding with `code` at `at`.
#[derive(Debug, Clone, PartialEq)]
pub struct Fix {
    pub code: Code,
    /// The pointer of the finding it repairs (relative to the object).
    pub at: String,
    pub safety: Safety,
    /// What it does, for people: "lowercase the host".
    pub title: String,
    pub change: Change,
    /// Whether the mutating webhook applies it at admission unless the
    /// policy's `admission.fixes` says otherwise.
    pub at_admission: bool,
}

/// Every repair for one APIRule object, in a stable order. Only v2 and
/// v2alpha1 are repaired (v1beta1 is migrated, not patched).
pub fn fixes(object: &Value, policy: &Policy) -> Vec<Fix> {
    let mut out = Vec::new();
    let version = object
        .get("apiVersion")
        .and_then(Value::as_str)
        .and_then(Version::from_api_version);
    if !matches!(version, Some(Version::V2 | Version::V2alpha1))
        || object.get("kind").and_then(Value::as_str) != Some(crate::apirule::KIND)
    {
        return out;
    }
    let Some(spec) = object.get("spec").and_then(Value::as_object) else {
        return out;
    };
    if let Some(gateway) = &policy.default_gateway
        && !spec.contains_key("gateway")
        && !spec.contains_key("externalGateway")
    {
        out.push(Fix {
            code: Code::R002,
            at: "/spec".into(),
            safety: Safety::Safe,
            title: format!("set the policy's default gateway {gateway}"),
            change: Change::Add("/spec/gateway".into(), Value::from(gateway.as_str())),
            at_admission: true,
        });
    }
    for (i, host) in array(spec.get("hosts")) {
        if let Some(h) = host
            .as_str()
            .filter(|h| h.bytes().any(|b| b.is_ascii_uppercase()))
        {
            let at = format!("/spec/hosts/{i}");
            out.push(Fix {
                code: Code::S006,
                at: at.clone(),
                safety: Safety::Safe,
                title: "lowercase the host (DNS names are case-insensitive)".into(),
                change: Change::Replace(at, Value::from(h.to_ascii_lowercase())),
                at_admission: true,
            });
        }
    }
    for (i, rule) in array(spec.get("rules")) {
        let r = format!("/spec/rules/{i}");
        let mut seen: Vec<&str> = Vec::new();
        for (j, method) in array(rule.get("methods")) {
            let Some(m) = method.as_str() else { continue };
            if seen.contains(&m) {
                let at = format!("{r}/methods/{j}");
                out.push(Fix {
                    code: Code::R006,
                    at: at.clone(),
                    safety: Safety::Safe,
                    title: format!("remove the second {m}"),
                    change: Change::Remove(at),
                    at_admission: false,
                });
            }
            seen.push(m);
        }
        for base in crate::apirule::v2::JWT_CONFIGS {
            let mut config = rule;
            let mut at = r.clone();
            for token in base {
                config = config.get(*token).unwrap_or(&Value::Null);
                at = join(&at, token);
            }
            for (k, auth) in array(config.get("authentications")) {
                authentication(auth, &format!("{at}/authentications/{k}"), policy, &mut out);
            }
        }
    }
    out
}

/// The repairs of one jwt authentication at `a`.
fn authentication(auth: &Value, a: &str, policy: &Policy, out: &mut Vec<Fix>) {
    let issuer = auth.get("issuer").and_then(Value::as_str);
    match auth.get("jwksUri").and_then(Value::as_str) {
        None => {
            // The organisation's registry first, then discovery (a lock).
            if let Some(uri) = issuer.and_then(|i| {
                policy
                    .jwks_uri_of(i)
                    .or_else(|| policy.discovered.get(i).map(String::as_str))
            }) {
                out.push(Fix {
                    code: Code::S001,
                    at: a.to_owned(),
                    safety: Safety::Safe,
                    title: format!("set jwksUri to {uri}, as the registry or the lock gives it"),
                    change: Change::Add(join(a, "jwksUri"), Value::from(uri)),
                    at_admission: true,
                });
            }
        }
        Some(uri) if uri.starts_with("http://") => {
            let at = join(a, "jwksUri");
            out.push(Fix {
                code: Code::J012,
                at: at.clone(),
                safety: Safety::Unsafe,
                title: "fetch the keys over https".into(),
                change: Change::Replace(at, Value::from(format!("https://{}", &uri[7..]))),
                at_admission: false,
            });
        }
        Some(_) => {}
    }
    // J014: the issuer the lock's discovery names, differing only in the slash.
    if let Some(issuer) = issuer
        && !policy.discovered.contains_key(issuer)
        && let Some(discovered) = policy
            .discovered
            .keys()
            .find(|d| d.trim_end_matches('/') == issuer.trim_end_matches('/'))
    {
        let at = join(a, "issuer");
        out.push(Fix {
            code: Code::J014,
            at: at.clone(),
            safety: Safety::Safe,
            title: format!("use the issuer exactly as discovery names it: {discovered}"),
            change: Change::Replace(at, Value::from(discovered.as_str())),
            at_admission: false,
        });
    }
}

fn array(v: Option<&Value>) -> impl Iterator<Item = (usize, &Value)> {
    v.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
}

/// The repairs the webhook applies at admission (the policy's
/// `admission.fixes`, else the defaults), as an RFC 6902 patch: `add`
/// where a field is missing, `replace` only for the one string that
/// changes. Entries are never removed at admission.
pub fn admission_patch(object: &Value, policy: &Policy) -> json_patch::Patch {
    use json_patch::jsonptr::PointerBuf;
    use json_patch::{AddOperation, PatchOperation, ReplaceOperation};
    let path = |p: &str| PointerBuf::parse(p).expect("fix pointers are valid JSON pointers");
    json_patch::Patch(
        fixes(object, policy)
            .into_iter()
            .filter(|f| match &policy.admission_fixes {
                Some(codes) => codes.contains(&f.code),
                None => f.at_admission,
            })
            .filter_map(|f| match f.change {
                Change::Add(p, value) => Some(PatchOperation::Add(AddOperation {
                    path: path(&p),
                    value,
                })),
                Change::Replace(p, value) => Some(PatchOperation::Replace(ReplaceOperation {
                    path: path(&p),
                    value,
                })),
                Change::Remove(_) => None,
            })
            .collect(),
    )
}
