//! `cargo bench --bench admission_policy`: what the exported policies cost
//! per admission, for APIRules with 1, 50 and 300 rules.
//!
//! Each object is a realistic APIRule (jwt with scopes, a health route
//! every tenth rule), judged under an organisation policy that configures
//! every O rule, so every validation walks every rule. The CEL interpreter
//! is the tests' (the `cel` crate with the Kubernetes functions of
//! `tests/kube_cel`). It keeps no cost account, so the cost is counted in
//! cel-go's runtime units by `tests/kube_cel/cost.rs`: the costliest
//! single expression (the API server's limit is 1,000,000 each) and the
//! sum; then the evaluation time of every policy, compiled beforehand
//! (median of repeated runs), with the policy's values inline (the
//! default) and read from the parameter ConfigMap. A pairwise walk over the
//! rules, as R005 would need, is costed beside them for scale.

#[path = "../tests/kube_cel/mod.rs"]
mod kube_cel;

use std::time::{Duration, Instant};

use kexpose::admission_policy::{self, Action, Options, Params};
use kexpose::policy::Policy;
use kexpose::yaml::{Limits, load};
use serde_json::{Value, json};

fn apirule(rules: usize) -> Value {
    let rules: Vec<Value> = (0..rules)
        .map(|i| {
            if i % 10 == 9 {
                json!({"path": "/healthz", "methods": ["GET"], "noAuth": true})
            } else {
                json!({
                    "path": format!("/orders-{i}/{{**}}"),
                    "methods": ["GET", "POST", "OPTIONS"],
                    "timeout": 60,
                    "jwt": {
                        "authentications": [{"issuer": "https://idp.example.com", "jwksUri": "https://idp.example.com/keys", "fromHeaders": [{"name": "Authorization", "prefix": "Bearer "}]}],
                        "authorizations": [{"requiredScopes": ["orders.read"], "audiences": ["orders"]}],
                    },
                })
            }
        })
        .collect();
    json!({
        "apiVersion": "gateway.kyma-project.io/v2",
        "kind": "APIRule",
        "metadata": {"name": "orders", "namespace": "prod-shop"},
        "spec": {
            "hosts": ["orders.apps.example.com"],
            "service": {"name": "orders", "port": 8080},
            "gateway": "kyma-system/kyma-gateway",
            "corsPolicy": {"allowOrigins": [{"exact": "https://shop.example.com"}], "allowMethods": ["GET", "OPTIONS"]},
            "rules": rules,
        },
    })
}

fn main() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let policy = Policy::load(&root.join("tests/fixtures/policy/org.yaml")).unwrap();
    let cel = kube_cel::Cel::new();
    for params in [
        Params::Inline,
        Params::ConfigMap {
            namespace: "kexpose-system".into(),
        },
    ] {
        judge(&cel, &policy, params);
    }
}

/// Cost and time of the policies exported with `params`, per object size.
fn judge(cel: &kube_cel::Cel, policy: &Policy, params: Params) {
    let form = format!("{params:?}");
    let options = Options {
        kube: 36,
        action: Action::Deny,
        params,
        static_manifests: false,
        kinds: admission_policy::Kinds::All,
    };
    let text = admission_policy::export(policy, &options).unwrap();
    let docs: Vec<Value> = load(&text, Limits::default())
        .documents
        .into_iter()
        .map(|d| d.unwrap().value)
        .filter(|v| !v.is_null())
        .collect();
    let params = docs
        .iter()
        .find(|d| d["kind"] == "ConfigMap")
        .cloned()
        .unwrap_or(Value::Null);
    let vaps: Vec<&Value> = docs
        .iter()
        .filter(|d| d["kind"] == "ValidatingAdmissionPolicy")
        .collect();
    let validations: usize = vaps
        .iter()
        .map(|v| v["spec"]["validations"].as_array().unwrap().len())
        .sum();
    println!(
        "admission policy: {} policies, {validations} validations, organisation policy {}, values {form}, {} bytes",
        vaps.len(),
        policy.name,
        text.len()
    );
    let compiled: Vec<kube_cel::Compiled> = vaps
        .iter()
        .map(|v| kube_cel::Compiled::new(cel, v).unwrap())
        .collect();
    let mut base = None;
    for rules in [1, 50, 300] {
        let object = apirule(rules);
        let runs = if rules == 300 { 20 } else { 60 };
        let mut times: Vec<Duration> = Vec::with_capacity(runs);
        for _ in 0..runs {
            let start = Instant::now();
            for vap in &compiled {
                let failed = vap
                    .evaluate(cel, &object, &params)
                    .unwrap()
                    .expect("the policies match a v2 APIRule");
                assert!(failed.is_empty(), "{failed:?}");
            }
            times.push(start.elapsed());
        }
        times.sort();
        let median = times[runs / 2];
        let per_rule = median.as_secs_f64() * 1e6 / rules as f64;
        let growth = base.map_or(String::new(), |b: Duration| {
            format!(
                ", {:.1}x the 1-rule time",
                median.as_secs_f64() / b.as_secs_f64()
            )
        });
        base.get_or_insert(median);
        let (max, total) = compiled
            .iter()
            .map(|v| v.cost(cel, &object, &params))
            .fold((0, 0), |(m, t), (vm, vt)| (m.max(vm), t + vt));
        println!(
            "  {rules:>3} rules: cost {max} for the costliest expression, {total} for all ({} per rule); {:.2} ms per admission in this interpreter (median of {runs}), {per_rule:.0} us per rule{growth}",
            total / rules as u64,
            median.as_secs_f64() * 1e3
        );
    }
}
