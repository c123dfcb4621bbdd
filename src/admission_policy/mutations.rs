//! The admission fixes as a MutatingAdmissionPolicy: the default gateway
//! (R002) and lowercase hosts (S006), the fixes the webhook makes at
//! admission. Hosts are replaced as a whole list by a JSONPatch, since an
//! ApplyConfiguration may not touch an atomic list. The mutation runs
//! before the CRD's schema, so a host written `Orders.Example.com` is
//! stored lowercased instead of refused.
//!
//! The policy kind is `v1beta1` in Kubernetes 1.34 and 1.35 (behind the
//! `MutatingAdmissionPolicy` feature gate and
//! `--runtime-config=admissionregistration.k8s.io/v1beta1=true`) and `v1`
//! from 1.36; before 1.34 nothing is exported.

use serde_json::{Value, json};

use super::cel::lit;
use super::params::Params;
use crate::check::AT_ADMISSION;
use crate::policy::Policy;
use crate::rules::Code;

/// The webhook's admission fixes the export carries.
const EXPORTED: [Code; 2] = [Code::R002, Code::S006];

/// Whether the webhook would make the fix of `code` under `policy`.
fn enabled(policy: &Policy, code: Code) -> bool {
    policy.fixes_at_admission(code, AT_ADMISSION.contains(&code)) && policy.severity(code).is_some()
}

fn api_version(kube: u32) -> Option<&'static str> {
    match kube {
        ..34 => None,
        34 | 35 => Some("admissionregistration.k8s.io/v1beta1"),
        _ => Some("admissionregistration.k8s.io/v1"),
    }
}

/// The default gateway as CEL, and the condition that it is set: written
/// in when the policy names one, or read from the ConfigMap, where it may
/// be empty.
fn default_gateway(policy: &Policy, params: &Params) -> Option<(String, String)> {
    match params {
        Params::Inline => policy
            .default_gateway
            .as_deref()
            .filter(|g| !g.is_empty())
            .map(|g| (lit(g), String::new())),
        Params::ConfigMap { .. } => {
            let read = "params.data.defaultGateway";
            Some((read.to_owned(), format!(" && {read} != ''")))
        }
    }
}

/// Whether the export makes the fix of `code`: R002's needs a gateway.
fn exported(policy: &Policy, params: &Params, code: Code) -> bool {
    enabled(policy, code) && (code != Code::R002 || default_gateway(policy, params).is_some())
}

/// The JSONPatch expressions of the fixes the export makes.
fn mutations(policy: &Policy, params: &Params) -> Vec<String> {
    let mut out = Vec::new();
    if let (true, Some((gateway, set))) = (
        exported(policy, params, Code::R002),
        default_gateway(policy, params),
    ) {
        out.push(format!(
            "has(object.spec) && !has(object.spec.gateway) && !has(object.spec.externalGateway){set} ?\n  [JSONPatch{{op: 'add', path: '/spec/gateway', value: {gateway}}}] :\n  []"
        ));
    }
    if enabled(policy, Code::S006) {
        out.push(
            "has(object.spec) && has(object.spec.hosts) && object.spec.hosts.exists(h, h != h.lowerAscii()) ?\n  [JSONPatch{op: 'replace', path: '/spec/hosts', value: object.spec.hosts.map(h, h.lowerAscii())}] :\n  []"
                .to_owned(),
        );
    }
    out
}

/// The MutatingAdmissionPolicy's `apiVersion` and `spec` (without its
/// `paramKind`), when the cluster serves the kind and the policy enables an
/// exported fix.
pub fn policy(policy: &Policy, kube: u32, params: &Params) -> Option<(&'static str, Value)> {
    let api_version = api_version(kube)?;
    let mutations: Vec<Value> = mutations(policy, params)
        .into_iter()
        .map(
            |expression| json!({"patchType": "JSONPatch", "jsonPatch": {"expression": expression}}),
        )
        .collect();
    if mutations.is_empty() {
        return None;
    }
    Some((
        api_version,
        json!({
            "matchConstraints": super::match_constraints(),
            "matchConditions": super::match_conditions(),
            // Ignore, as the webhook's mutation: a default is a
            // convenience, and validation still refuses what it would fix.
            "failurePolicy": "Ignore",
            // Setting a missing gateway and lowercasing hosts give the
            // same object when run again.
            "reinvocationPolicy": "Never",
            "mutations": mutations,
        }),
    ))
}

/// What the header says about the admission fixes.
pub fn note(policy: &Policy, kube: u32, params: &Params, mutating: bool) -> String {
    let mut out = String::new();
    if mutating {
        let fixes: Vec<&str> = EXPORTED
            .iter()
            .filter(|c| exported(policy, params, **c))
            .map(|c| c.as_str())
            .collect();
        out.push_str(&format!(
            "# Admission fixes by the API server (MutatingAdmissionPolicy): {}\n",
            fixes.join(" ")
        ));
        if kube < 36 {
            out.push_str("#   MutatingAdmissionPolicy v1beta1 needs the MutatingAdmissionPolicy feature gate and\n#   --runtime-config=admissionregistration.k8s.io/v1beta1=true on the API server.\n");
        }
    } else if api_version(kube).is_none() {
        out.push_str(&format!(
            "# No MutatingAdmissionPolicy: Kubernetes 1.{kube} does not serve it as beta or GA (1.34 and later do).\n"
        ));
    }
    if enabled(policy, Code::S001) {
        out.push_str("# Left to the webhook: S001's fix (a missing jwksUri filled in from the issuer registry).\n");
    }
    out
}
