//! Admission decisions: AdmissionReview in, AdmissionReview out. Pure, so
//! the router tests and the benchmark exercise exactly what the server runs.
//!
//! A malformed body is the only HTTP error; every review that can be read
//! gets a review back, echoing its uid, even when its object cannot be
//! decoded (the object is then denied with the reason).

use std::collections::HashMap;

use kube::core::DynamicObject;
use kube::core::admission::{AdmissionResponse, AdmissionReview, Operation};
use kube::core::response::{Status, StatusCause, StatusDetails, StatusSummary};
use serde_json::Value;

use super::budget;
use super::checked::Checked;
use super::mutate;
use crate::check::{self, Kind};
use crate::diagnostic::{Finding, Severity, field_path};
use crate::policy::Policy;
use crate::rules::Code;

/// Kubernetes limits a warning to 120 characters without newlines (longer
/// ones are truncated by the apiserver, which makes them unreadable).
const MAX_WARNING: usize = 120;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Endpoint {
    Validate,
    Mutate,
}

impl Endpoint {
    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::Validate => "validate",
            Endpoint::Mutate => "mutate",
        }
    }
}

/// What a decision was, for the log line and the metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    pub uid: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub operation: String,
    pub allowed: bool,
    /// Rule codes of every finding (errors and warnings), sorted.
    pub codes: Vec<Code>,
    pub patched: bool,
}

/// A decision: the review to send back and what to log about it.
pub struct Decision {
    pub review: AdmissionReview<DynamicObject>,
    pub outcome: Outcome,
}

/// Why a body is not an AdmissionReview at all (HTTP 400).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRequest(pub String);

/// An AdmissionReview as kexpose reads it: the request's identity and its
/// object, in one pass over the body. Everything else (`oldObject`, half the
/// body on UPDATE; `userInfo`; `options`) is skipped without being built,
/// and the object is read straight into the value the check core works on.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Review {
    #[serde(default)]
    api_version: String,
    #[serde(default)]
    kind: String,
    request: Option<Request>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Request {
    uid: String,
    kind: RequestKind,
    #[serde(default)]
    sub_resource: Option<String>,
    #[serde(default)]
    name: String,
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    resource: Resource,
    operation: Operation,
    /// `null` (a DELETE) reads as `None`.
    #[serde(default)]
    object: Option<Checked>,
}

#[derive(serde::Deserialize)]
struct RequestKind {
    kind: String,
}

/// The resource a request is for, as the API server names it.
#[derive(serde::Deserialize, Default)]
struct Resource {
    #[serde(default)]
    group: String,
    #[serde(default)]
    resource: String,
}

impl Resource {
    fn is_apirules(&self) -> bool {
        self.group == crate::apirule::GROUP && self.resource == "apirules"
    }
}

fn parse(body: &[u8]) -> Result<Request, BadRequest> {
    let review: Review = serde_json::from_slice(body).map_err(|e| {
        BadRequest(if e.is_syntax() || e.is_eof() {
            format!("request body is not valid JSON: {e}")
        } else {
            format!("not a valid AdmissionReview: {e}")
        })
    })?;
    if review.api_version != "admission.k8s.io/v1" || review.kind != "AdmissionReview" {
        return Err(BadRequest(
            "expected an admission.k8s.io/v1 AdmissionReview".into(),
        ));
    }
    review
        .request
        .ok_or_else(|| BadRequest("not a valid AdmissionReview: it has no request".into()))
}

/// The response to `request`, allowing until a check says otherwise: what
/// kube's `AdmissionResponse::from` gives, without kube's request type.
fn response_to(request: &Request) -> AdmissionResponse {
    let mut r = AdmissionResponse::invalid("");
    r.uid = request.uid.clone();
    r.allowed = true;
    r.result = Status::default();
    r
}

fn operation(op: &Operation) -> &'static str {
    match op {
        Operation::Create => "CREATE",
        Operation::Update => "UPDATE",
        Operation::Delete => "DELETE",
        Operation::Connect => "CONNECT",
    }
}

/// Answers one review at `endpoint` under `policy`.
pub fn decide(endpoint: Endpoint, body: &[u8], policy: &Policy) -> Result<Decision, BadRequest> {
    let request = parse(body)?;
    let response = response_to(&request);
    let for_apirules = request.resource.is_apirules();
    let mut object = request.object.map(|c| c.0);
    // The object is stored in the request's namespace, whatever its own
    // metadata says: the namespace rules judge that one.
    if let (Some(object), Some(namespace)) = (
        object.as_mut(),
        request.namespace.as_deref().filter(|n| !n.is_empty()),
    ) {
        in_namespace(object, namespace);
    }
    let mut outcome = Outcome {
        uid: request.uid,
        kind: request.kind.kind,
        namespace: request.namespace.unwrap_or_default(),
        name: request.name,
        operation: operation(&request.operation).into(),
        allowed: true,
        ..Outcome::default()
    };
    // Deletions and status updates carry nothing kexpose judges.
    let exempt = matches!(request.operation, Operation::Delete | Operation::Connect)
        || request
            .sub_resource
            .as_deref()
            .is_some_and(|s| !s.is_empty());
    let response = if exempt {
        response
    } else {
        // Bounded work: an object over the budget is refused, not judged.
        let over_budget = object.as_ref().and_then(budget::exceeded);
        match object {
            None => refuse(response, "the request carries no object to check"),
            Some(object) if !object.is_object() => {
                refuse(response, "the object is not a JSON object")
            }
            // Fail closed: a request for APIRules whose object does not
            // read as one is not let through unchecked.
            Some(object) if for_apirules && check::classify(&object) != Kind::ApiRule => refuse(
                response,
                "the request is for gateway.kyma-project.io apirules, but its object is not an APIRule",
            ),
            Some(_) if over_budget.is_some() => {
                refuse(response, over_budget.as_deref().unwrap_or_default())
            }
            Some(object) => match endpoint {
                Endpoint::Validate => validate(response, &object, policy, &mut outcome),
                Endpoint::Mutate => {
                    let patch = mutate::patch(&object, policy);
                    if patch.0.is_empty() {
                        response
                    } else {
                        outcome.patched = true;
                        response
                            .with_patch(patch)
                            .expect("a JSON patch always serialises")
                    }
                }
            },
        }
    };
    outcome.allowed = response.allowed;
    Ok(Decision {
        review: response.into_review(),
        outcome,
    })
}

/// The review as JSON, with the patch as the base64 string the API defines
/// (`[]byte` in Go); kube's type alone would write an array of numbers.
pub fn encode(review: &AdmissionReview<DynamicObject>) -> serde_json::Result<Vec<u8>> {
    let patch = review.response.as_ref().and_then(|r| r.patch.as_ref());
    let Some(patch) = patch else {
        let mut out = Vec::with_capacity(512);
        serde_json::to_writer(&mut out, review)?;
        return Ok(out);
    };
    let mut value = serde_json::to_value(review)?;
    value["response"]["patch"] = serde_json::to_value(k8s_openapi::ByteString(patch.clone()))?;
    serde_json::to_vec(&value)
}

/// Sets the object's namespace to `namespace`, where its metadata can hold
/// one (a metadata that is not an object is left for the rules to report).
fn in_namespace(object: &mut Value, namespace: &str) {
    let Some(object) = object.as_object_mut() else {
        return;
    };
    let metadata = object
        .entry("metadata")
        .or_insert_with(|| Value::Object(Default::default()));
    if let Some(metadata) = metadata.as_object_mut() {
        metadata.insert("namespace".into(), namespace.into());
    }
}

fn refuse(response: AdmissionResponse, reason: &str) -> AdmissionResponse {
    let mut r = response.deny(format!("kexpose cannot check this object: {reason}"));
    r.result.status = Some(StatusSummary::Failure);
    r.result.code = 400;
    r.result.reason = "BadRequest".into();
    r
}

/// `spec.rules[0].jwt.authentications[0].jwksUri: message (J003)`.
fn describe(f: &Finding) -> String {
    let field = field_path(&f.pointer);
    if field.is_empty() {
        format!("{} ({})", f.message, f.code)
    } else {
        format!("{field}: {} ({})", f.message, f.code)
    }
}

/// One ASCII line of at most `MAX_WARNING` characters: the code and the
/// reason first, the field last, so that a cut loses the field before the
/// reason. (HTTP clients garble non-ASCII warning headers.)
fn warning(f: &Finding) -> String {
    let field = field_path(&f.pointer);
    let line = if field.is_empty() {
        format!("kexpose {}: {}", f.code, f.message)
    } else {
        format!("kexpose {}: {} (at {field})", f.code, f.message)
    };
    let line = ascii(&line);
    if line.len() <= MAX_WARNING {
        return line;
    }
    format!("{}...", &line[..MAX_WARNING - 3])
}

/// Text as plain ASCII: typographic marks spelled out, control characters
/// as spaces, anything else as `?`.
fn ascii(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            c if c.is_ascii_control() => out.push(' '),
            c if c.is_ascii() => out.push(c),
            '…' => out.push_str("..."),
            '×' => out.push('x'),
            '–' | '—' | '−' => out.push('-'),
            '‘' | '’' => out.push('\''),
            '“' | '”' => out.push('"'),
            _ => out.push('?'),
        }
    }
    out
}

fn validate(
    response: AdmissionResponse,
    object: &Value,
    policy: &Policy,
    outcome: &mut Outcome,
) -> AdmissionResponse {
    if check::classify(object) != Kind::ApiRule {
        let mut r = response;
        r.warnings = Some(vec![
            "kexpose checks gateway.kyma-project.io APIRules only; this object was not checked"
                .into(),
        ]);
        return r;
    }
    let findings = check::object(object, policy);
    let (errors, warnings): (Vec<&Finding>, Vec<&Finding>) = findings
        .iter()
        .partition(|f| policy.severity(f.code) == Some(Severity::Error));
    let mut codes: Vec<Code> = findings.iter().map(|f| f.code).collect();
    codes.sort_unstable();
    codes.dedup();
    outcome.codes = codes.clone();
    let mut r = response;
    if !warnings.is_empty() {
        r.warnings = Some(warnings.iter().map(|f| warning(f)).collect());
    }
    if !codes.is_empty() {
        r.audit_annotations = HashMap::from([(
            "rules".to_owned(),
            codes
                .iter()
                .map(|c| c.as_str())
                .collect::<Vec<_>>()
                .join(","),
        )]);
    }
    if errors.is_empty() {
        return r;
    }
    // Said so that kubectl's "is invalid" reads as kexpose's verdict, with
    // where each rule is explained.
    let message = format!(
        "denied by the kexpose admission webhook, {} finding(s), `kexpose rule CODE` explains each: {}",
        errors.len(),
        errors
            .iter()
            .map(|f| describe(f))
            .collect::<Vec<_>>()
            .join("; ")
    );
    let name = object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let mut r = r.deny(message);
    r.result = Status {
        status: Some(StatusSummary::Failure),
        code: 422,
        reason: "Invalid".into(),
        message: r.result.message,
        metadata: None,
        details: Some(StatusDetails {
            name: name.to_owned(),
            group: crate::apirule::GROUP.into(),
            kind: crate::apirule::KIND.into(),
            uid: String::new(),
            causes: errors
                .iter()
                .map(|f| StatusCause {
                    reason: "FieldValueInvalid".into(),
                    message: format!("{} ({})", f.message, f.code),
                    field: field_path(&f.pointer),
                })
                .collect(),
            retry_after_seconds: 0,
        }),
    };
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warnings_are_short_ascii_lines_that_keep_code_and_reason() {
        let f = Finding::new(Code::J012, "/spec/rules/0/jwt", "x\ny… ".repeat(100));
        let w = warning(&f);
        assert_eq!(w.len(), MAX_WARNING);
        assert!(w.is_ascii() && !w.contains('\n'), "{w}");
        assert!(w.starts_with("kexpose J012: x y... x y"), "{w}");
        assert!(w.ends_with("..."), "{w}");
        let short = Finding::new(Code::R004, "/spec/rules/1", "path × method shadowed");
        assert_eq!(
            warning(&short),
            "kexpose R004: path x method shadowed (at spec.rules[1])"
        );
    }
}
