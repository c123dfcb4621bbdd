//! Repairs applied: what kexpose changes to make a finding go away. The
//! rules attach a repair to the finding it repairs (`check::judge`, in
//! `check/repairs.rs`), in JSON terms; this module applies them two ways.
//! `check --fix` turns a repair into a textual edit of the file (`edit`),
//! keeping comments and layout; the mutating webhook turns the repairs the
//! policy runs at admission into a JSON patch. Both take the same repairs,
//! so they cannot disagree.
//!
//! A repair is **safe** when it cannot change what a request may do (a
//! lowercase host is the same DNS name; a method listed twice is listed
//! once), and **unsafe** otherwise (`http` -> `https` changes where Istio
//! fetches keys). Only `--unsafe-fixes` applies the unsafe ones.

pub mod edit;

pub use crate::patch::{Change, Safety};

use serde_json::Value;

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

/// Every repair for one APIRule object: the repairs its findings carry
/// (`check::judge` attaches them), in the order of the fields they change
/// in the object. Only v2 and v2alpha1 are repaired (v1beta1 is migrated,
/// not patched).
pub fn fixes(object: &Value, policy: &Policy) -> Vec<Fix> {
    let mut findings = crate::check::judge(object, policy).findings;
    findings.sort_by_cached_key(|f| document_order(&f.pointer));
    findings
        .into_iter()
        .filter_map(|f| {
            let repair = *f.repair?;
            Some(Fix {
                code: f.code,
                at: f.pointer,
                safety: repair.safety,
                title: repair.title,
                change: repair.change,
                at_admission: repair.at_admission,
            })
        })
        .collect()
}

/// A pointer's place in a document: its tokens in order, list indices
/// compared as numbers (`/rules/2` before `/rules/10`).
fn document_order(pointer: &str) -> Vec<(u8, usize, String)> {
    pointer
        .split('/')
        .map(|t| match t.parse::<usize>() {
            Ok(i) => (0, i, String::new()),
            Err(_) => (1, 0, t.to_owned()),
        })
        .collect()
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
            .filter(|f| policy.fixes_at_admission(f.code, f.at_admission))
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
