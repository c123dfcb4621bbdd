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
use crate::patch::Change;

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
                changes.push(Change::Add(join(&at, name), neutral(property)));
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
    let mut repaired = object.clone();
    crate::patch::apply_json(&mut repaired, &changes);
    let spec = repaired.get_mut("spec")?.take();
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
                Change::Replace(..) | Change::Add(..) => None,
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
