//! The exported rules as CEL: for each, when an object breaks it, and the
//! message `kexpose check` gives (its field path and upstream's words).
//! `tests/admission_policy.rs` evaluates every one on every rule fixture
//! and requires the verdict `kexpose check` gives.

mod jwt;
mod organisation;
mod routing;

use super::cel::lit;
use crate::rules::Code;

/// One rule as CEL.
pub struct Validation {
    pub code: Code,
    /// True when the object breaks the rule.
    pub violated: String,
    /// The path and message of the first place that breaks it.
    pub message: String,
}

impl Validation {
    pub(super) fn new(code: Code, violated: String, message: String) -> Validation {
        Validation {
            code,
            violated,
            message,
        }
    }

    /// The validation's `expression`: the rule holds, or the object
    /// suppresses it (`kexpose.dev/suppress`, where the policy allows).
    pub fn expression(&self) -> String {
        // A broken suppression is never itself suppressed, as in `check`.
        if self.code == Code::O011 {
            return format!("!({})", self.violated);
        }
        format!(
            "{} in variables.suppressed ||\n  !({})",
            lit(self.code.as_str()),
            self.violated
        )
    }

    /// The validation's `messageExpression`: as `check` words it, with the
    /// rule's code and name.
    pub fn message_expression(&self) -> String {
        let rule = self.code.rule();
        format!(
            "({}) +\n  {}",
            self.message,
            lit(&format!(" [{} {}]", rule.code, rule.name))
        )
    }
}

/// Every rule the export can express, in registry order.
pub fn all() -> Vec<Validation> {
    let mut out = Vec::new();
    jwt::rules(&mut out);
    routing::rules(&mut out);
    organisation::rules(&mut out);
    let order = |c: Code| Code::ALL.iter().position(|x| *x == c);
    out.sort_by_key(|v| order(v.code));
    out
}
