//! `kexpose policy export`: the checks the API server can run itself, as
//! ValidatingAdmissionPolicies (one per rule family, and one for warnings)
//! and a MutatingAdmissionPolicy for the admission fixes, with their
//! bindings and the policy's values in a ConfigMap. It reads the same rule
//! registry and policy file as `check` and `serve`, so a team that will not
//! run a webhook still gets the same verdicts on everything a policy can
//! express; what it cannot express is listed in the output, rule by rule.

mod cel;
pub mod coverage;
mod mutations;
pub mod params;
pub mod validations;

use serde_json::{Value, json};

use crate::policy::Policy;
use crate::rules::{Code, Severity};
use crate::yaml::emit;

pub use coverage::{Left, coverage};

/// The oldest and newest Kubernetes minor versions the export targets:
/// ValidatingAdmissionPolicy is GA (`v1`) from 1.30.
pub const KUBE_MIN: u32 = 30;
pub const KUBE_MAX: u32 = 36;

/// What a binding does with a failed validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Deny,
    Warn,
    Audit,
}

/// How to export.
#[derive(Debug, Clone)]
pub struct Options {
    /// The cluster's Kubernetes minor version (1.`kube`).
    pub kube: u32,
    pub action: Action,
    /// Where the parameter ConfigMap lives.
    pub namespace: String,
}

/// The ConfigMap every binding reads its parameters from.
pub const PARAMS: &str = "kexpose-policy";

/// One exported policy: a family of error rules, or the warnings.
struct Family {
    name: &'static str,
    validations: Vec<validations::Validation>,
    warnings: bool,
}

/// The exported objects as one YAML stream, with what is left to the
/// webhook as a comment at its top.
pub fn export(policy: &Policy, options: &Options) -> Result<String, params::Unencodable> {
    let data = params::data(policy)?;
    let mut families = [
        family("kexpose-jwt", false),
        family("kexpose-routing", false),
        family("kexpose-organisation", false),
        family("kexpose-warnings", true),
    ];
    // Errors by family (the code's letter: J, R, O), warnings apart, so a
    // binding's action applies to one severity.
    for v in validations::all() {
        let f = match policy.severity(v.code) {
            None => continue,
            Some(Severity::Warning) => 3,
            Some(Severity::Error) => match v.code.as_str().as_bytes()[0] {
                b'J' => 0,
                b'R' => 1,
                _ => 2,
            },
        };
        families[f].validations.push(v);
    }
    let mut docs: Vec<Value> = vec![json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": PARAMS, "namespace": options.namespace, "labels": labels(policy)},
        "data": data,
    })];
    for f in families.iter().filter(|f| !f.validations.is_empty()) {
        docs.push(validating(f, policy));
        docs.push(binding(
            "ValidatingAdmissionPolicyBinding",
            "admissionregistration.k8s.io/v1",
            f.name,
            policy,
            options,
            Some(actions(f.warnings, options.action)),
        ));
    }
    let mutation = mutations::policy(policy, options.kube);
    if let Some((api_version, spec)) = &mutation {
        docs.push(json!({
            "apiVersion": api_version,
            "kind": "MutatingAdmissionPolicy",
            "metadata": {"name": "kexpose-defaults", "labels": labels(policy)},
            "spec": spec,
        }));
        docs.push(binding(
            "MutatingAdmissionPolicyBinding",
            api_version,
            "kexpose-defaults",
            policy,
            options,
            None,
        ));
    }
    let mut out = header(policy, options, mutation.is_some());
    for doc in docs {
        out.push_str("---\n");
        out.push_str(&emit::document_with_blocks(&doc));
    }
    Ok(out)
}

fn family(name: &'static str, warnings: bool) -> Family {
    Family {
        name,
        validations: Vec::new(),
        warnings,
    }
}

fn labels(policy: &Policy) -> Value {
    json!({"app.kubernetes.io/managed-by": "kexpose", "kexpose.dev/policy": policy.name})
}

/// Warnings warn, unless everything is only audited.
fn actions(warnings: bool, action: Action) -> Vec<&'static str> {
    match (action, warnings) {
        (Action::Audit, _) => vec!["Audit"],
        (_, true) | (Action::Warn, _) => vec!["Warn"],
        (Action::Deny, false) => vec!["Deny"],
    }
}

/// APIRules v2 and v2alpha1, written or updated. `Equivalent` sends a
/// request for either version to the policy; a v1beta1 request, which the
/// API server would convert first (dropping what v2 cannot hold), is left
/// out by the match condition.
fn match_constraints() -> Value {
    json!({
        "matchPolicy": "Equivalent",
        "resourceRules": [{
            "apiGroups": [crate::apirule::GROUP],
            "apiVersions": ["v2", "v2alpha1"],
            "operations": ["CREATE", "UPDATE"],
            "resources": ["apirules"],
        }],
    })
}

fn match_conditions() -> Value {
    json!([{"name": "not-v1beta1", "expression": "request.kind.version != 'v1beta1'"}])
}

fn param_kind() -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap"})
}

fn variables() -> Value {
    Value::Array(
        cel::variables()
            .into_iter()
            .map(|(name, expression)| json!({"name": name, "expression": expression}))
            .collect(),
    )
}

fn validating(f: &Family, policy: &Policy) -> Value {
    let validations: Vec<Value> = f
        .validations
        .iter()
        .map(|v| {
            json!({
                "expression": v.expression(),
                "messageExpression": v.message_expression(),
                "reason": "Invalid",
            })
        })
        .collect();
    json!({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": f.name, "labels": labels(policy)},
        "spec": {
            "failurePolicy": "Fail",
            "paramKind": param_kind(),
            "matchConstraints": match_constraints(),
            "matchConditions": match_conditions(),
            "variables": variables(),
            "validations": validations,
        },
    })
}

fn binding(
    kind: &str,
    api_version: &str,
    policy_name: &str,
    policy: &Policy,
    options: &Options,
    actions: Option<Vec<&str>>,
) -> Value {
    let mut spec = json!({
        "policyName": policy_name,
        "paramRef": {
            "name": PARAMS,
            "namespace": options.namespace,
            "parameterNotFoundAction": "Deny",
        },
    });
    if let Some(actions) = actions {
        spec["validationActions"] = json!(actions);
    }
    json!({
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {"name": policy_name, "labels": labels(policy)},
        "spec": spec,
    })
}

/// The comment that opens the export: the target, and every rule with
/// where it is enforced.
fn header(policy: &Policy, options: &Options, mutating: bool) -> String {
    let mut out = format!(
        "# kexpose policy export: policy {}, Kubernetes 1.{}\n",
        policy.name, options.kube
    );
    out.push_str(
        "# Enforced by the API server (ValidatingAdmissionPolicy, APIRule v2 and v2alpha1):\n",
    );
    let mut line = String::from("#  ");
    for code in Code::ALL.iter().filter(|c| coverage(**c).is_ok()) {
        let state = match policy.severity(*code) {
            None => "off",
            Some(Severity::Warning) => "warn",
            Some(Severity::Error) => "",
        };
        let item = if state.is_empty() {
            format!(" {code}")
        } else {
            format!(" {code}({state})")
        };
        if line.len() + item.len() > 78 {
            out.push_str(&line);
            out.push('\n');
            line = String::from("#  ");
        }
        line.push_str(&item);
    }
    out.push_str(&line);
    out.push('\n');
    out.push_str(&mutations::note(policy, options.kube, mutating));
    out.push_str("# Left to kexpose check and the webhook:\n");
    for left in Left::ALL {
        let codes: Vec<&str> = Code::ALL
            .iter()
            .filter(|c| coverage(**c) == Err(left))
            .map(|c| c.as_str())
            .collect();
        out.push_str(&format!("#   {}: {}\n", codes.join(" "), left.reason()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The coverage table and the validations say the same: each rule the
    /// export claims has exactly one validation, and no other rule has one.
    #[test]
    fn every_exported_rule_has_one_validation() {
        let mut codes: Vec<Code> = validations::all().iter().map(|v| v.code).collect();
        let count = codes.len();
        codes.dedup();
        assert_eq!(codes.len(), count, "a rule exported twice");
        let claimed: Vec<Code> = Code::ALL
            .iter()
            .copied()
            .filter(|c| coverage(*c).is_ok())
            .collect();
        assert_eq!(codes, claimed);
    }

    #[test]
    fn a_rule_the_policy_turns_off_is_not_exported() {
        let policy = Policy::parse(
            "apiVersion: kexpose.dev/v1alpha1\nkind: Policy\nspec:\n  rules: {J002: off, J013: error}\n",
        )
        .unwrap();
        let options = Options {
            kube: 36,
            action: Action::Deny,
            namespace: "x".into(),
        };
        let text = export(&policy, &options).unwrap();
        assert!(!text.contains("'J002' in variables.suppressed"));
        assert!(text.contains("J002(off)"));
        let jwt = text.split("name: kexpose-jwt\n").nth(1).unwrap();
        let jwt = jwt.split("\n---\n").next().unwrap();
        assert!(
            jwt.contains("'J013' in variables.suppressed"),
            "J013 is an error here"
        );
    }
}
