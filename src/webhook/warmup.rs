//! The one-time work of a webhook process, done before `/readyz` turns 200:
//! the first review would otherwise pay for compiling the JSON Schemas and
//! the rules' regular expressions (tens of milliseconds against a tenth of
//! one later).

use serde_json::{Value, json};

use super::review::{self, Endpoint};
use crate::policy::Policy;

/// An AdmissionReview as the API server sends it, for an APIRule of
/// `api_version` with a jwt rule, a public rule and a CORS policy.
fn review(api_version: &str) -> Value {
    let version = api_version.rsplit('/').next().unwrap_or_default();
    let kind = json!({"group": "gateway.kyma-project.io", "version": version, "kind": "APIRule"});
    let resource =
        json!({"group": "gateway.kyma-project.io", "version": version, "resource": "apirules"});
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "00000000-0000-0000-0000-000000000000",
            "kind": kind, "resource": resource,
            "name": "warm-up", "namespace": "default", "operation": "CREATE",
            "userInfo": {"username": "kexpose"},
            "object": {
                "apiVersion": api_version, "kind": "APIRule",
                "metadata": {"name": "warm-up", "namespace": "default"},
                "spec": {
                    "hosts": ["warm-up.example.com"],
                    "service": {"name": "warm-up", "port": 8080},
                    "gateway": "kyma-system/kyma-gateway",
                    "corsPolicy": {"allowOrigins": [{"exact": "https://a.example.com"}], "allowMethods": ["GET"]},
                    "rules": [
                        {"path": "/api/{**}", "methods": ["GET", "POST", "OPTIONS"], "jwt": {
                            "authentications": [{"issuer": "https://id.example.com", "jwksUri": "https://id.example.com/keys"}],
                            "authorizations": [{"requiredScopes": ["read"], "audiences": ["api"]}]}},
                        {"path": "/healthz", "methods": ["GET"], "noAuth": true}
                    ]
                }
            }
        }
    })
}

/// Runs the warm-up on every worker thread of the runtime: some caches
/// (the regular expressions' scratch space, the allocator's heap) are per
/// thread, and any worker may take the first review. Each task holds its
/// worker at a barrier until all have started, so they run on distinct
/// threads.
pub async fn on_every_worker(state: &std::sync::Arc<super::State>) {
    let workers = tokio::runtime::Handle::current().metrics().num_workers();
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(workers));
    let tasks: Vec<_> = (0..workers)
        .map(|_| {
            let state = state.clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait();
                state.with_policy(warm_up);
            })
        })
        .collect();
    for task in tasks {
        let _ = task.await;
    }
}

/// Runs validation and mutation once for every APIRule version the
/// webhook serves.
pub fn warm_up(policy: &Policy) {
    for api_version in [
        "gateway.kyma-project.io/v2",
        "gateway.kyma-project.io/v2alpha1",
        "gateway.kyma-project.io/v1beta1",
    ] {
        let body = serde_json::to_vec(&review(api_version)).expect("a review is plain data");
        for endpoint in [Endpoint::Validate, Endpoint::Mutate] {
            let _ = review::decide(endpoint, &body, policy);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_warm_up_review_is_one_the_webhook_reads_and_allows() {
        let body = serde_json::to_vec(&review("gateway.kyma-project.io/v2")).unwrap();
        let decision = review::decide(Endpoint::Validate, &body, &Policy::default()).unwrap();
        assert!(decision.outcome.allowed, "{:?}", decision.outcome);
        assert!(
            decision.outcome.codes.is_empty(),
            "{:?}",
            decision.outcome.codes
        );
    }
}
