//! `kind: AccessTest`: requests with the status each must get, run against
//! the model of the APIRules and exposures beside them (`kexpose test`).
//!
//! ```yaml
//! apiVersion: kexpose.dev/v1alpha1
//! kind: AccessTest
//! metadata: {name: httpbin}
//! spec:
//!   domain: example.com            # the gateway's, for short hosts (optional)
//!   tokens:                        # named token descriptions (optional)
//!     reader:
//!       claims: {iss: "https://idp.example.com", sub: client, scp: [read]}
//!   cases:
//!   - request: GET https://httpbin.example.com/headers
//!     token: reader                # a name, none, invalid, or an inline description
//!     expect: 200
//! ```
//!
//! A case that gets another status is A001, with the reasons; a case that
//! cannot run is A002. Both are findings at the case's line and column, so
//! every check format reports them.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::load::Loaded;
use super::request::{self, Caller, Request, Token, TokenAt};
use super::{Model, Outcome};
use crate::diagnostic::{Finding, Position, plain_error};
use crate::policy::Policy;
use crate::report::{Checked, DocumentResult, FileReport, Status};
use crate::rules::Code;
use crate::source;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct AccessTest {
    #[allow(dead_code)]
    api_version: String,
    #[allow(dead_code)]
    kind: String,
    #[serde(default)]
    #[allow(dead_code)]
    metadata: Value,
    spec: TestSpec,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct TestSpec {
    #[serde(default)]
    domain: Option<String>,
    #[serde(default)]
    tokens: BTreeMap<String, TokenSpec>,
    cases: Vec<Case>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenSpec {
    #[serde(default)]
    claims: Option<Value>,
    /// Presented, but its signature does not verify.
    #[serde(default)]
    invalid: bool,
    #[serde(default, rename = "in")]
    at: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum TokenRef {
    Name(String),
    Inline(TokenSpec),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    #[serde(default)]
    name: Option<String>,
    request: String,
    #[serde(default)]
    token: Option<TokenRef>,
    #[serde(default, rename = "in")]
    at: Option<String>,
    #[serde(default)]
    from: Option<From>,
    #[serde(default)]
    authorizer: Option<Decision>,
    expect: u16,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum From {
    Internet,
    Cluster,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Decision {
    Allow,
    Deny,
}

/// The statuses a case may expect: the ones the access model predicts.
const STATUSES: [u16; 4] = [200, 401, 403, 404];

/// What running the suites found.
pub struct Ran {
    pub files: Vec<Checked>,
    /// Cases that failed or could not run.
    pub failed: usize,
}

/// Runs every AccessTest of `loaded`. `domain` is the gateway domain a
/// document without `spec.domain` uses; reports are per file, in input
/// order, with the source lines their findings point at.
pub fn run(loaded: &Loaded, domain: Option<&str>, policy: &Policy) -> Ran {
    let mut models: Vec<(Option<String>, Model)> = Vec::new();
    let mut reports: BTreeMap<usize, FileReport> = BTreeMap::new();
    let mut ran = Ran {
        files: Vec::new(),
        failed: 0,
    };
    for test in &loaded.tests {
        let file = loaded.file_name(test.doc.source).to_owned();
        let report = reports
            .entry(test.doc.source)
            .or_insert_with(|| FileReport {
                name: file.clone(),
                ..FileReport::default()
            });
        report.summary.files = 1;
        report.summary.documents += 1;
        let place = |pointer: &str| -> Position {
            loaded
                .position(test.doc, &format!("{}{pointer}", test.base))
                .map_or(Position { line: 1, column: 1 }, |p| Position {
                    line: p.line,
                    column: p.column,
                })
        };
        let parsed: AccessTest = match serde_json::from_value(test.value.clone()) {
            Ok(t) => t,
            Err(e) => {
                let message = plain_error(&e);
                // serde names an unknown field but not where it is.
                let at = unknown_field(&message)
                    .and_then(|name| loaded.find_key(test.doc, &test.base, name))
                    .unwrap_or_else(|| place(""));
                invalid(report, policy, &file, at, format!("AccessTest: {message}"));
                continue;
            }
        };
        let domain = parsed.spec.domain.as_deref().or(domain).map(str::to_owned);
        let m = match models.iter().position(|(d, _)| *d == domain) {
            Some(m) => m,
            None => {
                models.push((
                    domain.clone(),
                    Model::new(&loaded.apirules, domain.as_deref()),
                ));
                models.len() - 1
            }
        };
        let model = &models[m].1;
        for (i, case) in parsed.spec.cases.iter().enumerate() {
            report.summary.cases += 1;
            let at = |field: &str| place(&format!("/spec/cases/{i}{field}"));
            let request = match build(case, &parsed.spec.tokens) {
                Ok(r) => r,
                Err((field, message)) => {
                    ran.failed += 1;
                    invalid(report, policy, &file, at(field), message);
                    continue;
                }
            };
            let label = case
                .name
                .clone()
                .unwrap_or_else(|| format!("{} -> {}", case.request.trim(), case.expect));
            let outcome = model.explain(&request);
            let mut result = DocumentResult {
                line: at("").line,
                label,
                status: Status::Valid,
                errors: 0,
                warnings: 0,
            };
            match mismatch(&outcome, case, loaded) {
                Some(problem) => {
                    ran.failed += 1;
                    result.status = Status::Invalid;
                    result.errors = 1;
                    let finding =
                        Finding::new(Code::A001, format!("/spec/cases/{i}/expect"), problem);
                    report.push(policy, &file, finding, at("/expect"));
                }
                None => report.summary.passed += 1,
            }
            report.documents.push(result);
        }
    }
    ran.files = reports
        .into_iter()
        .map(|(source, mut report)| {
            report
                .diagnostics
                .sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
            let lines = source::excerpt(loaded.text(source), &report);
            Checked { report, lines }
        })
        .collect();
    ran
}

/// The field serde's "unknown field `x`" names.
fn unknown_field(message: &str) -> Option<&str> {
    message
        .split_once("unknown field `")?
        .1
        .split_once('`')
        .map(|(name, _)| name)
}

fn invalid(report: &mut FileReport, policy: &Policy, file: &str, at: Position, message: String) {
    report.push(policy, file, Finding::new(Code::A002, "", message), at);
    report.documents.push(DocumentResult {
        line: at.line,
        label: "access test".into(),
        status: Status::Error,
        errors: 1,
        warnings: 0,
    });
}

/// The request a case describes; on error, the case field at fault and why.
fn build(
    case: &Case,
    tokens: &BTreeMap<String, TokenSpec>,
) -> Result<Request, (&'static str, String)> {
    if !STATUSES.contains(&case.expect) {
        return Err((
            "/expect",
            format!(
                "expect {} is not a status the gateway decides; expect 200, 401, 403 or 404",
                case.expect
            ),
        ));
    }
    let mut request = Request::parse(&case.request).map_err(|e| ("/request", e.to_string()))?;
    let spec = match &case.token {
        None => None,
        Some(TokenRef::Name(n)) if n == "none" => None,
        Some(TokenRef::Name(n)) if n == "invalid" => Some(TokenSpec {
            claims: None,
            invalid: true,
            at: None,
        }),
        Some(TokenRef::Name(n)) => Some(tokens.get(n).cloned().ok_or_else(|| {
            let known: Vec<&str> = tokens.keys().map(String::as_str).collect();
            (
                "/token",
                format!(
                    "token {n:?} is not defined in spec.tokens (defined: {}; or say none or invalid)",
                    if known.is_empty() { "none".into() } else { known.join(", ") }
                ),
            )
        })?),
        Some(TokenRef::Inline(t)) => Some(t.clone()),
    };
    if let Some(spec) = &spec {
        let claims = match &spec.claims {
            Some(c) => {
                Some(request::claims_value(c.clone()).map_err(|e| ("/token", e.to_string()))?)
            }
            None => None,
        };
        request.token = match (claims, spec.invalid) {
            (claims, true) => Token::Forged(claims),
            (Some(claims), false) => Token::Signed(claims),
            (None, false) => {
                return Err((
                    "/token",
                    "a valid token needs its claims (at least iss); say invalid: true for one whose signature fails".into(),
                ));
            }
        };
        if let Some(at) = &spec.at {
            request.at = TokenAt::parse(at).map_err(|e| ("/token", e.to_string()))?;
        }
    }
    if let Some(at) = &case.at {
        request.at = TokenAt::parse(at).map_err(|e| ("/in", e.to_string()))?;
    }
    request.caller = match case.from {
        Some(From::Cluster) => Caller::Cluster,
        _ => Caller::Internet,
    };
    request.authorizer = case.authorizer.map(|d| matches!(d, Decision::Allow));
    Ok(request)
}

/// Why an outcome does not meet the case, or `None` when it does.
fn mismatch(outcome: &Outcome, case: &Case, loaded: &Loaded) -> Option<String> {
    if !outcome.authorizers.is_empty() && case.authorizer.is_none() {
        return Some(format!(
            "the outcome depends on the external authorizer {}: say authorizer: allow or authorizer: deny (if it allows: {})",
            outcome.authorizers.join(", "),
            outcome.status
        ));
    }
    if outcome.status == case.expect {
        return None;
    }
    let reasons: Vec<String> = outcome.reasons.iter().map(|r| loaded.describe(r)).collect();
    let status = match &outcome.message {
        Some(m) => format!("{} {m}", outcome.status),
        None => outcome.status.to_string(),
    };
    Some(format!(
        "{} expects {}, gets {status}: {}",
        case.request.trim(),
        case.expect,
        reasons.join("; ")
    ))
}
