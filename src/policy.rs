//! Policies: which rules run, and how severe their findings are.
//!
//! A policy is a small versioned YAML document (`kind: Policy`) so that the
//! CLI, the render pipeline and the webhook can all be handed the same file.
//! Loading errors carry line and column like every other finding.

use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

use jsonschema::{PatternOptions, Validator};
use serde::Deserialize;
use serde_json::Value;

use crate::diagnostic::{Position, Severity};
use crate::rules;
use crate::rules::Code;
use crate::yaml;

mod file;
use file::Document;

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
    /// Issuer -> jwksUri: the registry O001/O002 check and the mutating
    /// webhook fills from.
    pub issuers: Vec<RegisteredIssuer>,
    /// The organisation's own rules (O).
    pub org: Organisation,
    /// Issuer -> jwks_uri as OpenID discovery gave them (from kexpose.lock,
    /// not from the policy file): what J014 and J015 compare with. Empty
    /// unless a lock is in use.
    pub discovered: BTreeMap<String, String>,
    /// Which v1beta1 jwt config style the B rules accept.
    pub jwt_handler: JwtHandler,
    /// The rules whose fixes the mutating webhook applies (`admission.fixes`);
    /// `None`: the fixes defined as admission defaults.
    pub admission_fixes: Option<Vec<Code>>,
    overrides: HashMap<Code, Option<Severity>>,
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

impl std::error::Error for PolicyError {}

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

/// The jwt handler of the cluster's APIRule v1beta1 controller (the
/// `jwtHandler` key of `kyma-system/api-gateway-config`): it decides which
/// style of jwt config is valid, and which handlers are exclusive.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JwtHandler {
    /// Istio RequestAuthentication: `authentications`/`authorizations`. The
    /// default of the last Kyma releases that served v1beta1.
    #[default]
    Istio,
    /// Ory Oathkeeper: `trusted_issuers`, `jwks_urls`, `required_scope`.
    Ory,
}

/// The organisation rules of a policy, resolved (patterns compiled).
#[derive(Debug, Clone)]
pub struct Organisation {
    pub allowed_gateways: Vec<String>,
    pub domains: Vec<String>,
    pub allow_wildcard: bool,
    pub allow_no_auth: bool,
    pub no_auth_namespaces: Vec<regex::Regex>,
    pub no_auth_paths: Vec<String>,
    pub require_scopes: bool,
    pub require_audiences: bool,
    pub authorization_namespaces: Vec<regex::Regex>,
    pub max_timeout: Option<u32>,
    pub methods: Vec<String>,
    pub allow_http_jwks_uri: bool,
    pub allow_suppressions: bool,
    /// Whether a rule may route to a Service in another namespace (O013).
    pub allow_other_namespaces: bool,
    /// Whether a rule may route to an external Service (O014).
    pub allow_external: bool,
    /// The extAuth authorizers rules may name (any when empty, O015).
    pub authorizers: Vec<String>,
    /// The codes an object's `kexpose.dev/suppress` annotation may silence.
    pub suppressible: Vec<Code>,
    /// The namespaces whose objects may suppress (all when empty).
    pub suppression_namespaces: Vec<regex::Regex>,
}

/// The codes an object may suppress unless the policy names them: every
/// rule but the organisation's own (the O rules), R010 (a v1beta1 object
/// nothing reconciles) and the schema rules (what upstream refuses). The
/// people a policy guards against write the annotation, so what guards
/// them is never theirs to switch off.
pub fn default_suppressible() -> Vec<Code> {
    Code::ALL
        .iter()
        .copied()
        .filter(|c| !matches!(c.as_str().as_bytes()[0], b'O' | b'S') && *c != Code::R010)
        .collect()
}

impl Default for Organisation {
    fn default() -> Self {
        Organisation {
            allowed_gateways: Vec::new(),
            domains: Vec::new(),
            allow_wildcard: true,
            allow_no_auth: true,
            no_auth_namespaces: Vec::new(),
            no_auth_paths: Vec::new(),
            require_scopes: false,
            require_audiences: false,
            authorization_namespaces: Vec::new(),
            max_timeout: None,
            methods: Vec::new(),
            allow_http_jwks_uri: true,
            allow_suppressions: true,
            allow_other_namespaces: true,
            allow_external: true,
            authorizers: Vec::new(),
            suppressible: default_suppressible(),
            suppression_namespaces: Vec::new(),
        }
    }
}

/// Compiles namespace patterns, anchored: a pattern names whole namespaces.
fn patterns(
    list: &[String],
    at: &str,
    spans: &yaml::SpanIndex,
) -> Result<Vec<regex::Regex>, PolicyError> {
    list.iter()
        .enumerate()
        .map(|(i, p)| {
            regex::Regex::new(&format!("^(?:{p})$")).map_err(|e| {
                PolicyError::new(
                    format!(
                        "{}: not a regular expression: {e}",
                        crate::diagnostic::field_path(&format!("{at}/{i}"))
                    ),
                    spans.locate(&format!("{at}/{i}"), false),
                )
            })
        })
        .collect()
}

/// One entry of the policy's issuer registry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegisteredIssuer {
    pub issuer: String,
    pub jwks_uri: String,
    /// Headers the token may be read from (`fromHeaders[].name`); absent
    /// allows any (O012).
    #[serde(default)]
    pub from_headers: Option<Vec<String>>,
    /// Query parameters the token may be read from (`fromParams`); absent
    /// allows any (O012).
    #[serde(default)]
    pub from_params: Option<Vec<String>>,
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
        Policy::bundled(DEFAULT)
    }
}

impl Policy {
    /// The bundled legacy profile, under which v1beta1 is checked, not denied.
    pub fn legacy() -> Policy {
        Policy::bundled(LEGACY)
    }

    /// A policy bundled with kexpose. It is not held to the policy schema
    /// at run time, which would compile the schema in every process that
    /// uses the default (the one-file check among them): the test
    /// `bundled_policies_pass_the_schema` holds it there.
    fn bundled(text: &str) -> Policy {
        Policy::read(text, false).expect("a bundled policy is valid")
    }

    /// Parses a policy document.
    pub fn parse(text: &str) -> Result<Policy, PolicyError> {
        Policy::read(text, true)
    }

    fn read(text: &str, validate: bool) -> Result<Policy, PolicyError> {
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
        if let Some(e) = validate
            .then(|| validator().iter_errors(&doc.value).next())
            .flatten()
        {
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
        let parsed: Document = serde_json::from_value(doc.value.clone())
            .map_err(|e| PolicyError::new(crate::diagnostic::plain_error(&e), None))?;
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
        let admission_fixes = match &parsed.spec.admission.fixes {
            None => None,
            Some(codes) => Some(
                codes
                    .iter()
                    .enumerate()
                    .map(|(i, c)| {
                        Code::parse(c).filter(|code| code.as_str() == c).ok_or_else(|| {
                            PolicyError::new(
                                format!("admission.fixes: unknown rule \"{c}\" (see `kexpose rules`)"),
                                doc.spans.locate(&format!("/spec/admission/fixes/{i}"), false),
                            )
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
        };
        let spec = &parsed.spec;
        let org = Organisation {
            allowed_gateways: spec.gateways.allowed.clone(),
            domains: spec
                .hosts
                .domains
                .iter()
                .map(|d| d.trim_start_matches("*.").to_ascii_lowercase())
                .collect(),
            allow_wildcard: spec.hosts.allow_wildcard.unwrap_or(true),
            allow_no_auth: spec.no_auth.allowed.unwrap_or(true),
            no_auth_namespaces: patterns(
                &spec.no_auth.namespaces,
                "/spec/noAuth/namespaces",
                &doc.spans,
            )?,
            no_auth_paths: spec.no_auth.paths.clone(),
            require_scopes: spec.authorization.require_scopes,
            require_audiences: spec.authorization.require_audiences,
            authorization_namespaces: patterns(
                &spec.authorization.namespaces,
                "/spec/authorization/namespaces",
                &doc.spans,
            )?,
            max_timeout: spec.limits.max_timeout,
            methods: spec.limits.methods.clone(),
            allow_http_jwks_uri: spec.limits.allow_http_jwks_uri.unwrap_or(true),
            allow_suppressions: spec.suppressions.allowed.unwrap_or(true),
            allow_other_namespaces: spec.destinations.other_namespaces.unwrap_or(true),
            allow_external: spec.destinations.external.unwrap_or(true),
            authorizers: spec.destinations.authorizers.clone(),
            suppressible: match &spec.suppressions.codes {
                None => default_suppressible(),
                Some(codes) => codes
                    .iter()
                    .enumerate()
                    .map(|(i, c)| {
                        Code::parse(c)
                            .filter(|code| code.as_str() == c && *code != Code::O011)
                            .ok_or_else(|| {
                                PolicyError::new(
                                    format!("suppressions.codes: \"{c}\" is not a rule an object can suppress (see `kexpose rules`; O011 never is)"),
                                    doc.spans.locate(&format!("/spec/suppressions/codes/{i}"), false),
                                )
                            })
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            },
            suppression_namespaces: patterns(
                &spec.suppressions.namespaces,
                "/spec/suppressions/namespaces",
                &doc.spans,
            )?,
        };
        Ok(Policy {
            org,
            name: parsed
                .metadata
                .and_then(|m| m.name)
                .unwrap_or_else(|| "unnamed".into()),
            overrides,
            warnings_as_errors: parsed.spec.warnings_as_errors,
            default_gateway: parsed.spec.gateways.default,
            issuers: parsed.spec.issuers,
            discovered: BTreeMap::new(),
            jwt_handler: parsed.spec.v1beta1.jwt_handler,
            admission_fixes,
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
    pub fn severity(&self, code: Code) -> Option<Severity> {
        let rule = code.rule();
        let base = match self.overrides.get(&code) {
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
        self.registered(issuer).map(|r| r.jwks_uri.as_str())
    }

    /// Whether any O rule can fire (most policies configure none, and a
    /// clean object then skips the walk).
    pub fn has_organisation_rules(&self) -> bool {
        let o = &self.org;
        !self.issuers.is_empty()
            || !o.allowed_gateways.is_empty()
            || !o.domains.is_empty()
            || !o.allow_wildcard
            || !o.allow_no_auth
            || o.require_scopes
            || o.require_audiences
            || o.max_timeout.is_some()
            || !o.methods.is_empty()
            || !o.allow_http_jwks_uri
            || !o.allow_other_namespaces
            || !o.allow_external
            || !o.authorizers.is_empty()
    }

    /// Whether the mutating webhook (or the exported mutating policy) makes
    /// the fix of `code` at admission: as `admission.fixes` lists, else
    /// `by_default` (the rule's own choice).
    pub fn fixes_at_admission(&self, code: Code, by_default: bool) -> bool {
        match &self.admission_fixes {
            Some(codes) => codes.contains(&code),
            None => by_default,
        }
    }

    /// The registry entry of an issuer.
    pub fn registered(&self, issuer: &str) -> Option<&RegisteredIssuer> {
        self.issuers.iter().find(|r| r.issuer == issuer)
    }

    /// Whether v1beta1 objects are only to be denied (current Kyma), rather
    /// than checked for an old cluster. The legacy profile lowers R010.
    pub fn denies_v1beta1(&self) -> bool {
        self.severity(Code::R010) == Some(Severity::Error)
    }
}

#[cfg(test)]
mod tests;
