//! The validation core: one APIRule object and a policy in, findings out
//! (`judge`, `object`). Every face of kexpose (check, render, migrate, the
//! webhook) ends here, and nothing is validated anywhere else. It knows
//! nothing of files, exposure specs or locks: those are resolved before
//! (`pipeline`), and findings are placed in files after.

pub mod discovery;
pub mod ip;
pub mod jwt;
pub mod legacy;
pub mod occupied;
pub mod organisation;
pub mod path;
pub mod placeholder;
pub mod repair;
mod repairs;
pub use repairs::AT_ADMISSION;
pub mod routing;
pub mod schema;
pub mod uri;

use serde::Deserialize;
use serde_json::Value;

use crate::apirule::{self, Version};
use crate::diagnostic::Finding;
use crate::policy::Policy;
use crate::rules::Code;

/// What one Kubernetes object turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    ApiRule,
    /// Some other kind: counted, not checked.
    Other,
}

pub fn classify(value: &Value) -> Kind {
    let kind = value.get("kind").and_then(Value::as_str);
    let group = value
        .get("apiVersion")
        .and_then(Value::as_str)
        .and_then(|v| v.split('/').next());
    if kind == Some(apirule::KIND) && (group == Some(apirule::GROUP) || group.is_none()) {
        Kind::ApiRule
    } else {
        Kind::Other
    }
}

/// The objects of a document: itself, or the items of a `kind: *List`,
/// with the pointer prefix of each.
pub fn objects(value: &Value) -> Vec<(String, &Value)> {
    match value.get("items").and_then(Value::as_array) {
        Some(items)
            if value
                .get("kind")
                .and_then(Value::as_str)
                .is_some_and(|k| k.ends_with("List")) =>
        {
            items
                .iter()
                .enumerate()
                .map(|(i, v)| (format!("/items/{i}"), v))
                .collect()
        }
        _ => vec![(String::new(), value)],
    }
}

/// Checks one APIRule object. Pointers in the findings are relative to it.
/// Findings the policy turns off, or the object suppresses, are dropped.
pub fn object(value: &Value, policy: &Policy) -> Vec<Finding> {
    judge(value, policy).findings
}

/// What the core says about one object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Judged {
    pub findings: Vec<Finding>,
    /// Findings the object's `kexpose.dev/suppress` annotation silenced.
    pub suppressed: usize,
}

pub fn judge(value: &Value, policy: &Policy) -> Judged {
    let mut findings = unfiltered(value, policy);
    placeholder::replace(value, &mut findings);
    // Where the policy forbids a plain-http jwksUri (O010), J012's warning
    // about the same value says nothing more.
    let forbidden: Vec<String> = findings
        .iter()
        .filter(|f| f.code == Code::O010)
        .map(|f| f.pointer.clone())
        .collect();
    if !forbidden.is_empty() {
        findings.retain(|f| f.code != Code::J012 || !forbidden.contains(&f.pointer));
    }
    let codes = organisation::suppressions(value, policy, &mut findings);
    let before = findings.len();
    findings.retain(|f| f.code == Code::O011 || !codes.iter().any(|c| c == f.code.as_str()));
    let suppressed = before - findings.len();
    let mut findings = retain(findings, policy);
    // Only v2 and v2alpha1 are repaired (v1beta1 is migrated, not patched).
    if matches!(
        value
            .get("apiVersion")
            .and_then(Value::as_str)
            .and_then(Version::from_api_version),
        Some(Version::V2 | Version::V2alpha1)
    ) {
        repairs::attach(value, policy, &mut findings);
    }
    Judged {
        findings,
        suppressed,
    }
}

fn unfiltered(value: &Value, policy: &Policy) -> Vec<Finding> {
    let mut out = Vec::new();
    let api_version = value
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let Some(version) = Version::from_api_version(api_version) else {
        out.push(Finding::new(
            Code::S011,
            "/apiVersion",
            format!(
                "APIRule apiVersion \"{api_version}\" is not one of gateway.kyma-project.io/v2, v2alpha1, v1beta1"
            ),
        ));
        return out;
    };
    match version {
        Version::V1beta1 => {
            out.push(Finding::new(
                Code::R010,
                "/apiVersion",
                "APIRule v1beta1 is no longer supported since Kyma 3.4 (denied at admission) and no longer reconciled since Kyma 3.10; migrate to gateway.kyma-project.io/v2",
            ));
            // Its schema errors matter to a migration either way; the
            // controller rules only where a cluster still reconciles it.
            out.extend(schema::validate(version, value));
            // The typed model is built only when a rule reads it.
            if (!policy.denies_v1beta1() || policy.has_organisation_rules())
                && let Some(rule) = typed::<apirule::v1beta1::ApiRule>(value)
                && let Some(spec) = &rule.spec
            {
                if !policy.denies_v1beta1() {
                    legacy::spec(spec, policy.jwt_handler, &mut out);
                }
                // The organisation's rules hold whatever R010's severity.
                let namespace = rule.metadata.namespace.as_deref();
                organisation::legacy::spec(spec, namespace, policy, &mut out);
            }
        }
        Version::V2 | Version::V2alpha1 => {
            out.extend(schema::validate(version, value));
            // The controller rules read only the spec, and run once its
            // typed model deserialises (no unknown fields, types right).
            // Metadata is left out: the model flattens it, which would
            // cost more than every rule together on a clean object.
            match value.get("spec").filter(|s| !s.is_null()) {
                Some(spec) => {
                    // A schema error in one field must not hide what the
                    // rules find in the others: repair, then keep only
                    // findings about unrepaired places.
                    let (typed_spec, repaired) = match typed::<apirule::v2::Spec>(spec) {
                        Some(s) => (Some(s), None),
                        None => match schema::repair(version, value) {
                            Some(r) => (typed(&r.spec), Some(r)),
                            None => (None, None),
                        },
                    };
                    if let Some(spec) = typed_spec {
                        let mut found = Vec::new();
                        routing::spec(&spec, &mut found);
                        let namespace = value
                            .get("metadata")
                            .and_then(|m| m.get("namespace"))
                            .and_then(Value::as_str);
                        organisation::spec(&spec, namespace, policy, &mut found);
                        discovery::spec(&spec, policy, &mut found);
                        out.extend(match &repaired {
                            Some(r) => r.keep(found),
                            None => found,
                        });
                    }
                }
                // v2alpha1 allows a missing spec; the controller then fails
                // gateway discovery first. (v2's schema requires a spec:
                // S001 says so already.)
                None if version == Version::V2alpha1 => out.push(Finding::new(
                    Code::R002,
                    "",
                    "Either gateway or externalGateway must be specified",
                )),
                None => {}
            }
        }
    }
    out
}

/// The typed model of a value that passed the schema. The API server takes
/// an integral float (`port: 80.0`) for an integer field and stores an
/// integer, so the model is given the value the server would store.
fn typed<T: for<'de> Deserialize<'de>>(value: &Value) -> Option<T> {
    if let Ok(t) = T::deserialize(value) {
        return Some(t);
    }
    let mut stored = value.clone();
    if !integral_floats_to_integers(&mut stored) {
        return None;
    }
    T::deserialize(&stored).ok()
}

/// Rewrites `80.0` as `80` throughout; says whether anything changed.
fn integral_floats_to_integers(value: &mut Value) -> bool {
    match value {
        Value::Number(n) if n.is_f64() => {
            let f = n.as_f64().unwrap_or(f64::NAN);
            if f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 {
                *value = Value::from(f as i64);
                true
            } else {
                false
            }
        }
        Value::Array(items) => items
            .iter_mut()
            .fold(false, |changed, v| integral_floats_to_integers(v) | changed),
        Value::Object(map) => map
            .values_mut()
            .fold(false, |changed, v| integral_floats_to_integers(v) | changed),
        _ => false,
    }
}

/// The findings the policy keeps, each once (two rules can reach the same
/// verdict about the same place, e.g. the schema and a controller rule).
fn retain(mut findings: Vec<Finding>, policy: &Policy) -> Vec<Finding> {
    findings.retain(|f| policy.severity(f.code).is_some());
    if findings.len() > 1 {
        let mut seen = std::collections::HashSet::with_capacity(findings.len());
        findings.retain(|f| seen.insert((f.code, f.pointer.clone(), f.message.clone())));
    }
    findings
}
