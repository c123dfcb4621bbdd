//! Keeps one broken field from hiding the findings about the others.
//!
//! The controller rules read a typed model of the spec, which a single
//! schema error (`methods: [GETT]`, `port: "80"`, an unknown key) stops from
//! deserialising. Instead of running no rule at all, the spec is repaired
//! where the schema says it is broken (an unknown key or a bad list entry
//! removed, a wrongly typed or missing value replaced by a neutral one of
//! the right type), the rules run on the repaired spec, and their findings
//! about a repaired place are dropped: the schema error already said what
//! is wrong there, and anything the rules say about the stand-in is a
//! consequence of it. Findings after a removed list entry get their
//! original index back.

use jsonschema::error::ValidationErrorKind;
use serde_json::{Map, Value};

use crate::diagnostic::{Finding, join};

/// One change to the spec.
#[derive(Debug, Clone, PartialEq)]
enum Change {
    Remove(String),
    Replace(String, Value),
}

impl Change {
    fn pointer(&self) -> &str {
        match self {
            Change::Remove(p) | Change::Replace(p, _) => p,
        }
    }
}

/// A spec the typed model can read, and what was changed to get it.
pub struct Repaired {
    pub spec: Value,
    changes: Vec<Change>,
}

/// Repairs `object`'s spec where `validator` finds it broken in a way that
/// stops deserialisation. Pointers in the result stay relative to the object.
pub fn spec(validator: &jsonschema::Validator, schema: &Value, object: &Value) -> Option<Repaired> {
    let mut changes = Vec::new();
    for e in validator.iter_errors(object) {
        let at = e.instance_path().as_str().to_owned();
        if !(at == "/spec" || at.starts_with("/spec/")) {
            continue;
        }
        let node = schema_node(schema, e.schema_path().as_str());
        match e.kind() {
            ValidationErrorKind::AdditionalProperties { unexpected } => {
                changes.extend(unexpected.iter().map(|k| Change::Remove(join(&at, k))));
            }
            ValidationErrorKind::Required { property } => {
                let Some(name) = property.as_str() else {
                    continue;
                };
                let property = node
                    .and_then(|n| n.get("properties"))
                    .and_then(|p| p.get(name));
                changes.push(Change::Replace(join(&at, name), neutral(property)));
            }
            ValidationErrorKind::Enum { .. } if in_list(&at) => changes.push(Change::Remove(at)),
            ValidationErrorKind::Type { .. } | ValidationErrorKind::Enum { .. } => {
                changes.push(Change::Replace(at, neutral(node)));
            }
            _ => {}
        }
    }
    if changes.is_empty() {
        return None;
    }
    changes.dedup();
    let mut spec = object.get("spec")?.clone();
    // Removals from the back, so that earlier indices stay valid.
    let mut removals: Vec<&Change> = changes
        .iter()
        .filter(|c| matches!(c, Change::Remove(_)))
        .collect();
    removals.sort_by(|a, b| order(b.pointer()).cmp(&order(a.pointer())));
    for change in changes
        .iter()
        .filter(|c| matches!(c, Change::Replace(..)))
        .chain(removals)
    {
        apply(&mut spec, change);
    }
    Some(Repaired { spec, changes })
}

impl Repaired {
    /// The rules' findings on the repaired spec, minus those about a
    /// repaired place, with indices after removed list entries restored.
    pub fn keep(&self, findings: Vec<Finding>) -> Vec<Finding> {
        findings
            .into_iter()
            .map(|mut f| {
                f.pointer = self.original(&f.pointer);
                f
            })
            .filter(|f| {
                !self
                    .changes
                    .iter()
                    .any(|c| related(&f.pointer, c.pointer()))
            })
            .collect()
    }

    /// Maps a pointer into the repaired spec back to the original.
    fn original(&self, pointer: &str) -> String {
        let mut removed: Vec<(&str, usize)> = self
            .changes
            .iter()
            .filter_map(|c| match c {
                Change::Remove(p) => {
                    let (list, index) = p.rsplit_once('/')?;
                    Some((list, index.parse().ok()?))
                }
                Change::Replace(..) => None,
            })
            .collect();
        removed.sort();
        let mut out = pointer.to_owned();
        for (list, index) in removed {
            let Some(rest) = out.strip_prefix(list).and_then(|r| r.strip_prefix('/')) else {
                continue;
            };
            let (token, tail) = rest.split_once('/').map_or((rest, ""), |(t, r)| (t, r));
            if let Ok(i) = token.parse::<usize>()
                && i >= index
            {
                let tail = if tail.is_empty() {
                    String::new()
                } else {
                    format!("/{tail}")
                };
                out = format!("{list}/{}{tail}", i + 1);
            }
        }
        out
    }
}

/// Whether a finding at `pointer` is about the repaired place `changed`:
/// the place itself, anything inside it, or the list or mapping holding it.
fn related(pointer: &str, changed: &str) -> bool {
    pointer == changed
        || pointer
            .strip_prefix(changed)
            .is_some_and(|rest| rest.starts_with('/'))
        || changed
            .rsplit_once('/')
            .is_some_and(|(parent, _)| parent == pointer)
}

fn in_list(pointer: &str) -> bool {
    pointer
        .rsplit_once('/')
        .is_some_and(|(_, last)| !last.is_empty() && last.bytes().all(|b| b.is_ascii_digit()))
}

/// Sort key for removals: the list, then the index as a number.
fn order(pointer: &str) -> (&str, usize) {
    match pointer.rsplit_once('/') {
        Some((list, i)) => (list, i.parse().unwrap_or(usize::MAX)),
        None => (pointer, 0),
    }
}

/// The schema node holding the keyword at `keyword_path`.
fn schema_node<'a>(schema: &'a Value, keyword_path: &str) -> Option<&'a Value> {
    let parent = &keyword_path[..keyword_path.rfind('/')?];
    schema.pointer(parent)
}

/// The plainest value a schema node admits by type: the first enum value,
/// an empty string or list, zero (or the minimum), false, or a mapping with
/// its required members.
fn neutral(node: Option<&Value>) -> Value {
    let Some(node) = node else {
        return Value::Null;
    };
    if let Some(first) = node.get("enum").and_then(|e| e.get(0)) {
        return first.clone();
    }
    let ty = match node.get("type") {
        Some(Value::String(t)) => t.as_str(),
        Some(Value::Array(ts)) => ts.first().and_then(Value::as_str).unwrap_or(""),
        _ => "",
    };
    match ty {
        "string" => Value::from(""),
        "integer" | "number" => node.get("minimum").cloned().unwrap_or(Value::from(0)),
        "boolean" => Value::Bool(false),
        "array" => Value::Array(Vec::new()),
        "object" => {
            let mut out = Map::new();
            let properties = node.get("properties");
            for name in node
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(name) = name.as_str() {
                    out.insert(
                        name.to_owned(),
                        neutral(properties.and_then(|p| p.get(name))),
                    );
                }
            }
            Value::Object(out)
        }
        _ => Value::Null,
    }
}

/// Applies one change; pointers are relative to the object, the value is its spec.
fn apply(spec: &mut Value, change: &Change) {
    let Some(inner) = change.pointer().strip_prefix("/spec") else {
        return;
    };
    match change {
        Change::Replace(_, value) if inner.is_empty() => *spec = value.clone(),
        Change::Replace(_, value) => {
            let Some((parent, key)) = inner.rsplit_once('/') else {
                return;
            };
            match spec.pointer_mut(parent) {
                Some(Value::Object(m)) => {
                    m.insert(unescape(key), value.clone());
                }
                Some(Value::Array(a)) => {
                    if let Some(slot) = key.parse::<usize>().ok().and_then(|i| a.get_mut(i)) {
                        *slot = value.clone();
                    }
                }
                _ => {}
            }
        }
        Change::Remove(_) => {
            let Some((parent, key)) = inner.rsplit_once('/') else {
                return;
            };
            match spec.pointer_mut(parent) {
                Some(Value::Object(m)) => {
                    m.remove(&unescape(key));
                }
                Some(Value::Array(a)) => {
                    if let Some(i) = key.parse::<usize>().ok().filter(|i| *i < a.len()) {
                        a.remove(i);
                    }
                }
                _ => {}
            }
        }
    }
}

fn unescape(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}
