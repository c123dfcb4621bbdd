//! Changes to a JSON value at JSON Pointers, and how safe each is: the one
//! vocabulary repairs are written in. The check core's schema repair, the
//! fixes of `check --fix` and the mutating webhook's patch all speak it, so
//! it sits below all of them.

use serde::Serialize;
use serde_json::Value;

/// Whether a repair may change what a request is allowed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Safety {
    Safe,
    Unsafe,
}

/// A repair as a rule attaches it to its finding: the change, how safe it
/// is, what it does in words ("lowercase the host"), and whether the
/// mutating webhook makes it at admission unless the policy's
/// `admission.fixes` says otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repair {
    pub safety: Safety,
    pub title: String,
    pub change: Change,
    pub at_admission: bool,
}

/// One change to an object, in JSON terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Replace the scalar at the pointer.
    Replace(String, Value),
    /// Remove the list entry (or, for the check core's repairs, the
    /// mapping member) at the pointer.
    Remove(String),
    /// Add a member (the pointer's last token) to an existing mapping.
    Add(String, Value),
}

impl Change {
    pub fn pointer(&self) -> &str {
        match self {
            Change::Replace(p, _) | Change::Remove(p) | Change::Add(p, _) => p,
        }
    }
}

/// A JSON Pointer reference token as the key it names (RFC 6901).
fn unescape(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

/// Applies changes to a JSON value: what the text must read back as, or
/// the spec the check core repairs. `Remove` takes a list entry or a
/// mapping member.
pub fn apply_json(value: &mut Value, changes: &[Change]) {
    let mut removals: Vec<&str> = Vec::new();
    for change in changes {
        match change {
            Change::Replace(p, v) => {
                if let Some(slot) = value.pointer_mut(p) {
                    *slot = v.clone();
                }
            }
            Change::Add(p, v) => {
                if let Some((parent, key)) = p.rsplit_once('/')
                    && let Some(Value::Object(m)) = value.pointer_mut(parent)
                {
                    m.insert(unescape(key), v.clone());
                }
            }
            Change::Remove(p) => removals.push(p),
        }
    }
    // From the back of each list, so earlier indices stay valid.
    removals.sort_by_key(|p| {
        let (list, i) = p.rsplit_once('/').unwrap_or((p, ""));
        (
            list.to_owned(),
            std::cmp::Reverse(i.parse::<usize>().unwrap_or(0)),
        )
    });
    for p in removals {
        let Some((parent, token)) = p.rsplit_once('/') else {
            continue;
        };
        match value.pointer_mut(parent) {
            Some(Value::Array(a)) => {
                if let Ok(i) = token.parse::<usize>()
                    && i < a.len()
                {
                    a.remove(i);
                }
            }
            Some(Value::Object(m)) => {
                m.remove(&unescape(token));
            }
            _ => {}
        }
    }
}
