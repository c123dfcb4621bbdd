//! `kexpose policy export`: the checks the API server can run itself, as
//! ValidatingAdmissionPolicies (one per rule family, and one for warnings)
//! and a MutatingAdmissionPolicy for the admission fixes, with their
//! bindings; the policy's values are written into the expressions, or read
//! from a ConfigMap (see `params`). It reads the same rule registry and
//! policy file as `check` and `serve`, so a team that will not run a
//! webhook still gets the same verdicts on everything a policy can
//! express; what it cannot express is listed in the output, rule by rule.
//!
//! The objects are accepted as written by the API servers of 1.30 to
//! 1.37: `tests/policy_export_compiles.rs` compiles every expression with
//! the API server's rules (declared variables, reserved words, homogeneous
//! literals, each version's functions) through Google's CEL checker.

mod cel;
pub mod coverage;
mod header;
mod mutations;
pub mod params;
pub mod validations;

use serde_json::{Value, json};

use crate::policy::Policy;
use crate::rules::Severity;
use crate::yaml::emit;

pub use coverage::{Left, coverage};
pub use params::Params;

/// The oldest and newest Kubernetes minor versions the export knows:
/// ValidatingAdmissionPolicy is GA (`v1`) from 1.30. A newer cluster gets
/// the newest known APIs, which it still serves.
pub const KUBE_MIN: u32 = 30;
pub const KUBE_MAX: u32 = 37;

/// Static admission manifests (KEP-5793) exist from this version (alpha).
pub const STATIC_MIN: u32 = 36;

/// The suffix every object of a static admission manifest is named with.
pub const STATIC_SUFFIX: &str = ".static.k8s.io";

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
    /// The cluster's Kubernetes minor version (1.`kube`), at least
    /// [`KUBE_MIN`]; above [`KUBE_MAX`] the newest known APIs are used.
    pub kube: u32,
    pub action: Action,
    pub params: Params,
    /// Objects for the API server's static manifest directories (KEP-5793):
    /// names end in [`STATIC_SUFFIX`], and nothing reads parameters.
    pub static_manifests: bool,
    /// Which policies to write: each admission plugin reads its static
    /// manifests from a directory of its own.
    pub kinds: Kinds,
}

/// Which admission policies an export holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kinds {
    All,
    /// The ValidatingAdmissionPolicies and their bindings.
    Validating,
    /// The MutatingAdmissionPolicy and its binding.
    Mutating,
}

impl Options {
    /// The version whose APIs are exported.
    pub fn target(&self) -> u32 {
        self.kube.min(KUBE_MAX)
    }
}

/// What cannot be exported.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Unencodable(#[from] params::Unencodable),
    #[error(
        "static admission manifests take no parameters: export them with the values inline (without --params configmap)"
    )]
    StaticWithParams,
    #[error(
        "static admission manifests exist from Kubernetes 1.{STATIC_MIN} (ManifestBasedAdmissionControlConfig), not 1.{0}"
    )]
    StaticTooOld(u32),
}

/// One exported policy: a family of error rules, or the warnings.
struct Family {
    name: &'static str,
    validations: Vec<validations::Validation>,
    warnings: bool,
}

/// The exported objects as one YAML stream, with what is left to the
/// webhook as a comment at its top.
pub fn export(policy: &Policy, options: &Options) -> Result<String, ExportError> {
    if options.static_manifests {
        if options.params != Params::Inline {
            return Err(ExportError::StaticWithParams);
        }
        if options.kube < STATIC_MIN {
            return Err(ExportError::StaticTooOld(options.kube));
        }
    }
    let data = params::data(policy)?;
    let values = options.params.variables(&data);
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
    let mut docs: Vec<Value> = Vec::new();
    if let Params::ConfigMap { namespace } = &options.params {
        docs.push(json!({
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": namespace},
        }));
        docs.push(json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": params::NAME, "namespace": namespace, "labels": labels(policy)},
            "data": data,
        }));
    }
    let variables = variables(values);
    let validating_kinds = options.kinds != Kinds::Mutating;
    for f in families
        .iter()
        .filter(|f| validating_kinds && !f.validations.is_empty())
    {
        docs.push(validating(f, policy, options, &variables));
        docs.push(binding(
            "ValidatingAdmissionPolicyBinding",
            "admissionregistration.k8s.io/v1",
            f.name,
            policy,
            options,
            Some(actions(f.warnings, options.action)),
        ));
    }
    let mutation = mutations::policy(policy, options.target(), &options.params)
        .filter(|_| options.kinds != Kinds::Validating);
    let mutating = mutation.is_some();
    if let Some((api_version, mut spec)) = mutation {
        if options.params != Params::Inline {
            spec["paramKind"] = param_kind();
        }
        docs.push(json!({
            "apiVersion": api_version,
            "kind": "MutatingAdmissionPolicy",
            "metadata": {"name": name("kexpose-defaults", options), "labels": labels(policy)},
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
    let mut out = header::header(policy, options, mutating);
    for doc in docs {
        out.push_str("---\n");
        out.push_str(&emit::document_with_blocks(&doc));
    }
    Ok(out)
}

/// An exported object's name: static manifests carry the reserved suffix.
fn name(base: &str, options: &Options) -> String {
    if options.static_manifests {
        format!("{base}{STATIC_SUFFIX}")
    } else {
        base.to_owned()
    }
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

/// A validating policy's `variables`: the policy's values, then the
/// object's parts.
fn variables(values: Vec<(&'static str, String)>) -> Value {
    Value::Array(
        cel::variables(values)
            .into_iter()
            .map(|(name, expression)| json!({"name": name, "expression": expression}))
            .collect(),
    )
}

fn validating(f: &Family, policy: &Policy, options: &Options, variables: &Value) -> Value {
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
    let mut spec = json!({
        "failurePolicy": "Fail",
        "matchConstraints": match_constraints(),
        "matchConditions": match_conditions(),
        "variables": variables,
        "validations": validations,
    });
    if options.params != Params::Inline {
        spec["paramKind"] = param_kind();
    }
    json!({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": name(f.name, options), "labels": labels(policy)},
        "spec": spec,
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
    let policy_name = name(policy_name, options);
    let mut spec = json!({"policyName": policy_name});
    if let Params::ConfigMap { namespace } = &options.params {
        spec["paramRef"] = json!({
            "name": params::NAME,
            "namespace": namespace,
            "parameterNotFoundAction": "Deny",
        });
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Code;

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
            params: Params::Inline,
            static_manifests: false,
            kinds: Kinds::All,
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
