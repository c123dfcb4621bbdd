//! The access model: what a request gets from an exposed workload (200,
//! 401, 403 or 404) and why, known before anything is deployed.
//!
//! api-gateway turns every v2/v2alpha1 APIRule into Istio objects: a
//! VirtualService that routes (first matching rule wins, else 404),
//! RequestAuthentications that verify tokens (a bad one is 401), and ALLOW
//! AuthorizationPolicies that decide (no match is 403). `istio` builds those
//! objects from the typed APIRule the same way; `eval` runs a request
//! through them as the ingress gateway and the workload's sidecar would.
//! Every reason names the APIRule field it comes from, so a face can point
//! at the file, line and column.
//!
//! The faces: `kexpose explain` (one request), `kexpose test` (AccessTest
//! documents, `suite`), `kexpose render --istio` (the objects, for review)
//! and `kexpose probe` (the prediction beside each live answer).

pub mod eval;
pub mod istio;
pub mod load;
pub mod matcher;
pub mod request;
pub mod suite;

pub use eval::{Model, Outcome, Reason};
pub use request::{Caller, Request, Token, TokenAt};

/// A place in one of the model's APIRules: its index and a JSON Pointer into
/// it. The loader turns it into file, line and column.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct At {
    pub apirule: usize,
    pub pointer: String,
}

impl At {
    pub fn new(apirule: usize, pointer: impl Into<String>) -> At {
        At {
            apirule,
            pointer: pointer.into(),
        }
    }
}

/// `namespace/name` of an APIRule, as reasons name it (an APIRule without a
/// namespace lands in `default`).
pub fn name(apirule: &crate::apirule::v2::ApiRule) -> String {
    let m = &apirule.metadata;
    format!(
        "{}/{}",
        m.namespace.as_deref().unwrap_or("default"),
        m.name.as_deref().unwrap_or("<unnamed>")
    )
}
