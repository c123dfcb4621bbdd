//! JSON Schema validation of APIRules against the schemas in `schemas/`.
//!
//! The schemas encode every CRD constraint, CEL rules included; where
//! upstream has its own wording (the CEL messages), the schema node carries it
//! in an `x-kexpose` annotation, so the message lives next to the constraint
//! it explains and editors using the schema see the same constraint.

use std::sync::OnceLock;

use jsonschema::error::ValidationErrorKind;
use jsonschema::{PatternOptions, ValidationError, Validator};
use serde_json::Value;

use crate::apirule::Version;
use crate::diagnostic::{Finding, field_path, join};
use crate::rules::Code;

pub const V2: &str = include_str!("../../schemas/apirule-v2.json");
pub const V2ALPHA1: &str = include_str!("../../schemas/apirule-v2alpha1.json");
pub const V1BETA1: &str = include_str!("../../schemas/apirule-v1beta1.json");

/// A bundled schema, parsed (for its annotations) and compiled.
pub struct Compiled {
    schema: Value,
    validator: Validator,
}

/// Compiles one of the bundled schemas; they are tested, so failure is a bug.
pub fn compile(text: &str) -> Compiled {
    let schema: Value = serde_json::from_str(text).expect("bundled schema is valid JSON");
    let validator = jsonschema::options()
        .with_pattern_options(PatternOptions::regex())
        .build(&schema)
        .expect("bundled schema compiles");
    Compiled { schema, validator }
}

fn compiled(version: Version) -> &'static Compiled {
    static V2_C: OnceLock<Compiled> = OnceLock::new();
    static V2ALPHA1_C: OnceLock<Compiled> = OnceLock::new();
    static V1BETA1_C: OnceLock<Compiled> = OnceLock::new();
    match version {
        Version::V2 => V2_C.get_or_init(|| compile(V2)),
        Version::V2alpha1 => V2ALPHA1_C.get_or_init(|| compile(V2ALPHA1)),
        Version::V1beta1 => V1BETA1_C.get_or_init(|| compile(V1BETA1)),
    }
}

/// Schema findings for one APIRule object, pointers relative to it.
pub fn validate(version: Version, object: &Value) -> Vec<Finding> {
    findings(compiled(version), object)
}

/// The object's spec repaired where its schema errors stop the typed model
/// (see `repair`), or `None` when there is nothing to repair.
pub fn repair(version: Version, object: &Value) -> Option<super::repair::Repaired> {
    let c = compiled(version);
    super::repair::spec(&c.validator, &c.schema, object)
}

/// Findings of any bundled schema, with the same codes and messages.
pub fn findings(c: &Compiled, object: &Value) -> Vec<Finding> {
    if c.validator.is_valid(object) {
        return Vec::new();
    }
    let mut findings: Vec<Finding> = c
        .validator
        .iter_errors(object)
        .flat_map(|e| to_findings(&c.schema, &e))
        .collect();
    findings.sort_by(|a, b| (&a.pointer, a.code).cmp(&(&b.pointer, b.code)));
    findings.dedup();
    // A wrongly typed access field (`noAuth: "yes"`) also fails the
    // exactly-one-of rule; that S009 is its consequence, not news.
    let broken_access: Vec<String> = findings
        .iter()
        .filter(|f| {
            f.code != Code::S009
                && ["/noAuth", "/jwt", "/extAuth"]
                    .iter()
                    .any(|field| f.pointer.ends_with(field))
        })
        .map(|f| f.pointer[..f.pointer.rfind('/').unwrap_or(0)].to_owned())
        .collect();
    findings.retain(|f| f.code != Code::S009 || !broken_access.contains(&f.pointer));
    findings
}

/// The `x-kexpose` annotation of the schema node holding the failed keyword.
fn annotation<'a>(schema: &'a Value, e: &ValidationError<'_>) -> Option<&'a Value> {
    let path = e.schema_path().as_str();
    let parent = &path[..path.rfind('/')?];
    schema.pointer(parent)?.get("x-kexpose")
}

fn quoted_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn to_findings(schema: &Value, e: &ValidationError<'_>) -> Vec<Finding> {
    let pointer = e.instance_path().as_str().to_owned();
    let instance = e.instance();
    let custom = annotation(schema, e);
    let custom_code = custom
        .and_then(|a| a.get("code"))
        .and_then(Value::as_str)
        .and_then(Code::parse);
    let custom_message = custom
        .and_then(|a| a.get("message"))
        .and_then(Value::as_str);
    let one = |code, message: String| vec![Finding::new(code, pointer.clone(), message)];
    match e.kind() {
        ValidationErrorKind::Required { property } => {
            let name = property.as_str().unwrap_or_default();
            one(
                Code::S001,
                format!("Required value: missing field \"{name}\""),
            )
        }
        ValidationErrorKind::AdditionalProperties { unexpected } => unexpected
            .iter()
            .map(|name| {
                let p = join(&pointer, name);
                let msg = format!(
                    "strict decoding error: unknown field \"{}\"",
                    field_path(&p)
                );
                Finding::new(Code::S002, p, msg).at_key()
            })
            .collect(),
        ValidationErrorKind::Type { kind } => {
            let expected = format!("{kind:?}")
                .to_lowercase()
                .replace("single(", "")
                .replace(')', "");
            one(
                Code::S003,
                format!(
                    "Invalid value: \"{}\": must be of type {expected}",
                    quoted_type(instance)
                ),
            )
        }
        ValidationErrorKind::Enum { options } => {
            let supported: Vec<String> = options
                .as_array()
                .map(|a| a.iter().map(|o| o.to_string()).collect())
                .unwrap_or_default();
            one(
                Code::S004,
                format!(
                    "Unsupported value: {instance}: supported values: {}",
                    supported.join(", ")
                ),
            )
        }
        ValidationErrorKind::Constant { expected_value } => one(
            Code::S004,
            format!("Unsupported value: {instance}: supported values: {expected_value}"),
        ),
        ValidationErrorKind::Minimum { limit } => one(
            Code::S005,
            format!("Invalid value: {instance}: should be greater than or equal to {limit}"),
        ),
        ValidationErrorKind::Maximum { limit } => one(
            Code::S005,
            format!("Invalid value: {instance}: should be less than or equal to {limit}"),
        ),
        ValidationErrorKind::MinItems { limit } => one(
            Code::S005,
            format!("Invalid value: should have at least {limit} items"),
        ),
        ValidationErrorKind::MaxItems { limit } => {
            let n = instance.as_array().map_or(0, Vec::len);
            one(
                Code::S005,
                format!("Too many: {n}: must have at most {limit} items"),
            )
        }
        ValidationErrorKind::MinProperties { limit } => one(
            Code::S005,
            format!("Invalid value: should have at least {limit} entries"),
        ),
        ValidationErrorKind::MaxProperties { limit } => one(
            Code::S005,
            format!("Invalid value: should have at most {limit} entries"),
        ),
        ValidationErrorKind::MinLength { limit } => one(
            Code::S005,
            format!("Invalid value: {instance}: should be at least {limit} chars long"),
        ),
        ValidationErrorKind::MaxLength { limit } => one(
            Code::S005,
            format!("Too long: may not be longer than {limit}"),
        ),
        ValidationErrorKind::Pattern { pattern } => {
            let code = custom_code.unwrap_or(Code::S010);
            let message = match custom_message {
                Some(m) => m.to_owned(),
                None => format!(
                    "Invalid value: {instance}: {} in body should match '{pattern}'",
                    field_path(&pointer)
                ),
            };
            one(code, message)
        }
        ValidationErrorKind::OneOfNotValid { .. }
        | ValidationErrorKind::OneOfMultipleValid { .. } => one(
            custom_code.unwrap_or(Code::S009),
            custom_message
                .unwrap_or("value must match exactly one schema")
                .to_owned(),
        ),
        other => one(Code::S010, format!("Invalid value: {other:?}")),
    }
}
