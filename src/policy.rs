//! Policies: which rules run, and how severe their findings are.
//!
//! A policy is a small versioned YAML document (`kind: Policy`) so that the
//! CLI, the render pipeline and the webhook can all be handed the same file.
//! Loading errors carry line and column like every other finding.

use std::collections::HashMap;
use std::sync::OnceLock;

use jsonschema::{PatternOptions, Validator};
use serde::Deserialize;
use serde_json::Value;

use crate::diagnostic::{Position, Severity};
use crate::rules;
use crate::yaml;

pub const API_VERSION: &str = "kexpose.dev/v1alpha1";
pub const SCHEMA: &str = include_str!("../schemas/policy.json");
pub const DEFAULT: &str = include_str!("../policies/default.yaml");
pub const LEGACY: &str = include_str!("../policies/legacy.yaml");

/// The rule-selection part of a policy, resolved against the registry.
#[derive(Debug, Clone)]
pub struct Policy {
    pub name: String,
    /// The gateway the mutating webhook sets when an APIRule names none.
    pub default_gateway: Option<String>,
    /// Issuer -> jwksUri, for the mutating webhook.
    pub issuers: Vec<RegisteredIssuer>,
    overrides: HashMap<&'static str, Option<Severity>>,
    warnings_as_errors: bool,
}

/// Why a policy file could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    pub message: String,
    pub position: Option<Position>,
    /// The file the policy came from, when it came from one.
    pub file: Option<String>,
}

impl PolicyError {
    fn new(message: impl Into<String>, position: Option<Position>) -> Self {
        PolicyError {
            message: message.into(),
            position,
            file: None,
        }
    }
}

impl std::fmt::Display for PolicyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{file}:")?;
        }
        if let Some(p) = self.position {
            write!(f, "{}:{}:", p.line, p.column)?;
        }
        if self.file.is_some() || self.position.is_some() {
            f.write_str(" ")?;
        }
        f.write_str(&self.message)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Document {
    metadata: Option<Meta>,
    #[serde(default)]
    spec: Spec,
}

#[derive(Deserialize)]
struct Meta {
    name: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Spec {
    #[serde(default)]
    warnings_as_errors: bool,
    #[serde(default)]
    rules: HashMap<String, Value>,
    #[serde(default)]
    gateways: Gateways,
    #[serde(default)]
    issuers: Vec<RegisteredIssuer>,
}

#[derive(Deserialize, Default)]
struct Gateways {
    default: Option<String>,
}

/// One entry of the policy's issuer registry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegisteredIssuer {
    pub issuer: String,
    pub jwks_uri: String,
}

fn validator() -> &'static Validator {
    static V: OnceLock<Validator> = OnceLock::new();
    V.get_or_init(|| {
        let schema: Value = serde_json::from_str(SCHEMA).expect("bundled policy schema is JSON");
        jsonschema::options()
            .with_pattern_options(PatternOptions::regex())
            .build(&schema)
            .expect("bundled policy schema compiles")
    })
}

impl Default for Policy {
    fn default() -> Self {
        Policy::parse(DEFAULT).expect("the bundled default policy is valid")
    }
}

impl Policy {
    /// The bundled legacy profile, under which v1beta1 is checked, not denied.
    pub fn legacy() -> Policy {
        Policy::parse(LEGACY).expect("the bundled legacy policy is valid")
    }

    /// Parses a policy document.
    pub fn parse(text: &str) -> Result<Policy, PolicyError> {
        let mut stream = yaml::load(text, yaml::Limits::default());
        let doc = match stream.documents.len() {
            1 => stream.documents.remove(0),
            0 => {
                return Err(PolicyError::new("the policy file is empty", None));
            }
            _ => {
                return Err(PolicyError::new(
                    "a policy file holds exactly one document",
                    None,
                ));
            }
        };
        let doc = doc.map_err(|e| PolicyError::new(e.message, Some(e.position)))?;
        if let Some(e) = validator().iter_errors(&doc.value).next() {
            let pointer = e.instance_path().as_str();
            let message = if pointer.starts_with("/spec/rules/") {
                "a rule's severity is one of error, warning, off".to_owned()
            } else {
                e.to_string()
            };
            return Err(PolicyError::new(
                format!("{}: {message}", crate::diagnostic::field_path(pointer)),
                doc.spans.locate(pointer, false),
            ));
        }
        let parsed: Document =
            serde_json::from_value(doc.value).map_err(|e| PolicyError::new(e.to_string(), None))?;
        let mut overrides = HashMap::new();
        for (code, setting) in &parsed.spec.rules {
            let rule = rules::find(code).ok_or_else(|| {
                PolicyError::new(
                    format!("unknown rule \"{code}\" (see `kexpose rules`)"),
                    doc.spans.locate(&format!("/spec/rules/{code}"), true),
                )
            })?;
            let severity = match setting {
                Value::String(s) if s == "error" => Some(Severity::Error),
                Value::String(s) if s == "warning" => Some(Severity::Warning),
                // `off` is a YAML 1.1 boolean, so both spellings mean "disabled".
                Value::String(s) if s == "off" => None,
                Value::Bool(false) => None,
                _ => unreachable!("the policy schema admits only error, warning and off"),
            };
            overrides.insert(rule.code, severity);
        }
        Ok(Policy {
            name: parsed
                .metadata
                .and_then(|m| m.name)
                .unwrap_or_else(|| "unnamed".into()),
            overrides,
            warnings_as_errors: parsed.spec.warnings_as_errors,
            default_gateway: parsed.spec.gateways.default,
            issuers: parsed.spec.issuers,
        })
    }

    /// Reads and parses a policy file.
    pub fn load(path: &std::path::Path) -> Result<Policy, PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            PolicyError::new(format!("cannot read policy {}: {e}", path.display()), None)
        })?;
        Policy::parse(&text).map_err(|mut e| {
            e.file = Some(path.display().to_string());
            e
        })
    }

    /// The severity a rule's findings get, or `None` when the rule is off.
    pub fn severity(&self, code: &str) -> Option<Severity> {
        let rule = rules::get(code);
        let base = match self.overrides.get(rule.code) {
            Some(s) => *s,
            None => Some(rule.severity),
        };
        base.map(|s| {
            if self.warnings_as_errors {
                Severity::Error
            } else {
                s
            }
        })
    }

    /// The registered jwksUri of an issuer (exact match, as Istio compares).
    pub fn jwks_uri_of(&self, issuer: &str) -> Option<&str> {
        self.issuers
            .iter()
            .find(|r| r.issuer == issuer)
            .map(|r| r.jwks_uri.as_str())
    }

    /// Whether v1beta1 objects are only to be denied (current Kyma), rather
    /// than checked for an old cluster. The legacy profile lowers R010.
    pub fn denies_v1beta1(&self) -> bool {
        self.severity("R010") == Some(Severity::Error)
    }
}
