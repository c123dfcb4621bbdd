//! The validation core. Every face of kexpose (check, render, the webhook)
//! calls `object` or `source`; nothing is validated anywhere else.

pub mod discovery;
pub mod jwt;
pub mod legacy;
pub mod organisation;
pub mod path;
pub mod routing;
pub mod schema;
pub mod uri;

use serde::Deserialize;
use serde_json::Value;

use crate::apirule::{self, Version};
use crate::compile::{DocRef, IssuerBook};
use crate::diagnostic::{Diagnostic, Finding, Position, Severity};
use crate::exposure::{self, SharedAt};
use crate::policy::Policy;
use crate::rules;
use crate::spec::{self, template};
use crate::yaml::{self, Limits};

/// What `check` needs to understand exposure specs: the values their
/// templates render with, the issuers every file may name, and the lock
/// that fills in their jwksUri.
#[derive(Debug, Clone, Default)]
pub struct Specs {
    pub template: template::Context,
    pub issuers: IssuerBook,
    pub lock: crate::identity::lock::Lock,
}

/// What one Kubernetes object turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    ApiRule,
    /// Some other kind: counted, not checked.
    Other,
}

pub fn classify(value: &Value) -> Kind {
    let kind = value.get("kind").and_then(Value::as_str);
    let group = value
        .get("apiVersion")
        .and_then(Value::as_str)
        .and_then(|v| v.split('/').next());
    if kind == Some(apirule::KIND) && (group == Some(apirule::GROUP) || group.is_none()) {
        Kind::ApiRule
    } else {
        Kind::Other
    }
}

/// Checks one APIRule object. Pointers in the findings are relative to it.
/// Findings the policy turns off, or the object suppresses, are dropped.
pub fn object(value: &Value, policy: &Policy) -> Vec<Finding> {
    judge(value, policy).findings
}

/// What the core says about one object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Judged {
    pub findings: Vec<Finding>,
    /// Findings the object's `kexpose.dev/suppress` annotation silenced.
    pub suppressed: usize,
}

pub fn judge(value: &Value, policy: &Policy) -> Judged {
    let mut findings = unfiltered(value, policy);
    let codes = organisation::suppressions(value, policy, &mut findings);
    let before = findings.len();
    findings.retain(|f| f.code == "O011" || !codes.iter().any(|c| c == f.code));
    let suppressed = before - findings.len();
    Judged {
        findings: retain(findings, policy),
        suppressed,
    }
}

fn unfiltered(value: &Value, policy: &Policy) -> Vec<Finding> {
    let mut out = Vec::new();
    let api_version = value
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let Some(version) = Version::from_api_version(api_version) else {
        out.push(Finding::new(
            "S011",
            "/apiVersion",
            format!(
                "APIRule apiVersion \"{api_version}\" is not one of gateway.kyma-project.io/v2, v2alpha1, v1beta1"
            ),
        ));
        return out;
    };
    match version {
        Version::V1beta1 => {
            out.push(Finding::new(
                "R010",
                "/apiVersion",
                "APIRule v1beta1 is no longer supported since Kyma 3.4 (denied at admission) and no longer reconciled since Kyma 3.10; migrate to gateway.kyma-project.io/v2",
            ));
            if !policy.denies_v1beta1() {
                out.extend(schema::validate(version, value));
                if let Some(rule) = typed::<apirule::v1beta1::ApiRule>(value)
                    && let Some(spec) = &rule.spec
                {
                    legacy::spec(spec, &mut out);
                }
            }
        }
        Version::V2 | Version::V2alpha1 => {
            out.extend(schema::validate(version, value));
            // The controller rules read only the spec, and run once its
            // typed model deserialises (no unknown fields, types right).
            // Metadata is left out: the model flattens it, which would
            // cost more than every rule together on a clean object.
            match value.get("spec").filter(|s| !s.is_null()) {
                Some(spec) => {
                    if let Some(spec) = typed::<apirule::v2::Spec>(spec) {
                        routing::spec(&spec, &mut out);
                        let namespace =
                            value.pointer("/metadata/namespace").and_then(Value::as_str);
                        organisation::spec(&spec, namespace, policy, &mut out);
                        discovery::spec(&spec, policy, &mut out);
                    }
                }
                // v2alpha1 allows a missing spec; the controller then fails
                // gateway discovery first.
                None => out.push(Finding::new(
                    "R002",
                    "",
                    "Either gateway or externalGateway must be specified",
                )),
            }
        }
    }
    out
}

/// The typed model of a value that passed the schema. The API server takes
/// an integral float (`port: 80.0`) for an integer field and stores an
/// integer, so the model is given the value the server would store.
fn typed<T: for<'de> Deserialize<'de>>(value: &Value) -> Option<T> {
    if let Ok(t) = T::deserialize(value) {
        return Some(t);
    }
    let mut stored = value.clone();
    if !integral_floats_to_integers(&mut stored) {
        return None;
    }
    T::deserialize(&stored).ok()
}

/// Rewrites `80.0` as `80` throughout; says whether anything changed.
fn integral_floats_to_integers(value: &mut Value) -> bool {
    match value {
        Value::Number(n) if n.is_f64() => {
            let f = n.as_f64().unwrap_or(f64::NAN);
            if f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 {
                *value = Value::from(f as i64);
                true
            } else {
                false
            }
        }
        Value::Array(items) => items
            .iter_mut()
            .fold(false, |changed, v| integral_floats_to_integers(v) | changed),
        Value::Object(map) => map
            .values_mut()
            .fold(false, |changed, v| integral_floats_to_integers(v) | changed),
        _ => false,
    }
}

fn retain(mut findings: Vec<Finding>, policy: &Policy) -> Vec<Finding> {
    findings.retain(|f| policy.severity(f.code).is_some());
    findings
}

/// Counts for one file, or a whole run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    pub files: usize,
    pub documents: usize,
    pub apirules: usize,
    /// Exposure and Issuers documents.
    pub specs: usize,
    /// Findings objects suppressed with the `kexpose.dev/suppress` annotation.
    pub suppressed: usize,
    /// Documents that are not APIRules (or are empty), skipped and counted.
    pub skipped: usize,
    pub errors: usize,
    pub warnings: usize,
}

impl Summary {
    pub fn add(&mut self, other: &Summary) {
        self.files += other.files;
        self.documents += other.documents;
        self.apirules += other.apirules;
        self.specs += other.specs;
        self.suppressed += other.suppressed;
        self.skipped += other.skipped;
        self.errors += other.errors;
        self.warnings += other.warnings;
    }
}

/// One document's verdict, for reporters that speak per object (JUnit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentResult {
    pub line: u32,
    /// `APIRule ns/name`, or what else the document is.
    pub label: String,
    pub status: Status,
    pub errors: usize,
    pub warnings: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Valid,
    Invalid,
    Skipped,
    Empty,
    /// The document could not be loaded at all.
    Error,
}

/// Everything `check` has to say about one file.
#[derive(Debug, Clone, Default)]
pub struct FileReport {
    /// The file's name as given (`<stdin>` for standard input).
    pub name: String,
    pub diagnostics: Vec<Diagnostic>,
    pub documents: Vec<DocumentResult>,
    pub summary: Summary,
}

impl FileReport {
    pub fn push(
        &mut self,
        policy: &Policy,
        file: &str,
        finding: Finding,
        at: Position,
    ) -> Severity {
        let rule = rules::get(finding.code);
        let severity = policy.severity(rule.code).unwrap_or(rule.severity);
        match severity {
            Severity::Error => self.summary.errors += 1,
            Severity::Warning => self.summary.warnings += 1,
        }
        self.diagnostics.push(Diagnostic {
            code: rule.code,
            name: rule.name,
            severity,
            message: finding.message,
            file: file.to_owned(),
            line: at.line,
            column: at.column,
            pointer: finding.pointer,
        });
        severity
    }

    /// A finding about the file as a whole (unreadable, binary, too large).
    pub fn file_error(
        file: &str,
        code: &'static str,
        message: String,
        at: Position,
        policy: &Policy,
    ) -> FileReport {
        let mut report = FileReport {
            name: file.to_owned(),
            ..FileReport::default()
        };
        report.summary.files = 1;
        report.push(policy, file, Finding::new(code, "", message), at);
        report.documents.push(DocumentResult {
            line: at.line,
            label: "file".into(),
            status: Status::Error,
            errors: 1,
            warnings: 0,
        });
        report
    }
}

fn label(value: &Value) -> String {
    let kind = value
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("document");
    let meta = value.get("metadata");
    let name = meta
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("<unnamed>");
    match meta
        .and_then(|m| m.get("namespace"))
        .and_then(Value::as_str)
    {
        Some(ns) => format!("{kind} {ns}/{name}"),
        None => format!("{kind} {name}"),
    }
}

/// The objects of one document: itself, or the items of a `kind: *List`.
fn objects(value: &Value) -> Vec<(String, &Value)> {
    match value.get("items").and_then(Value::as_array) {
        Some(items)
            if value
                .get("kind")
                .and_then(Value::as_str)
                .is_some_and(|k| k.ends_with("List")) =>
        {
            items
                .iter()
                .enumerate()
                .map(|(i, v)| (format!("/items/{i}"), v))
                .collect()
        }
        _ => vec![(String::new(), value)],
    }
}

/// Checks the text of one file: every document, `kind: List` items included.
///
/// Documents are loaded without positions first; only a file with findings
/// is loaded again with its span index, to place them. Most files in a
/// repository are clean, and positions are a third of the cost of loading.
///
/// A file holding exposure specs is rendered as a template first; its
/// findings are about the rendered text, whose lines are the template's
/// wherever the template does not add lines.
pub fn source(
    file: &str,
    text: &str,
    policy: &Policy,
    limits: Limits,
    specs: &Specs,
) -> FileReport {
    let rendered = if exposure::mentions_spec(text) {
        match template::render_if_template(file, text, &specs.template) {
            Ok(t) => t,
            Err(e) => return FileReport::file_error(file, "P009", e.message, e.position, policy),
        }
    } else {
        std::borrow::Cow::Borrowed(text)
    };
    let text: &str = &rendered;
    let mut report = FileReport {
        name: file.to_owned(),
        ..FileReport::default()
    };
    report.summary.files = 1;
    let mut pending: Vec<Pending> = Vec::new();
    let mut lean = yaml::load_values(text, limits);
    for doc in lean.documents.iter_mut().flatten() {
        specs.lock.fill(&mut doc.value);
    }
    for (index, doc) in lean.documents.iter().enumerate() {
        report.summary.documents += 1;
        let doc = match doc {
            Ok(d) => d,
            Err(e) => {
                report.push(
                    policy,
                    file,
                    Finding::new(e.code, "", e.message.clone()),
                    e.position,
                );
                report.documents.push(DocumentResult {
                    line: e.position.line,
                    label: "document".into(),
                    status: Status::Error,
                    errors: 1,
                    warnings: 0,
                });
                continue;
            }
        };
        if doc.empty {
            report.summary.skipped += 1;
            report.documents.push(DocumentResult {
                line: doc.start.line,
                label: "empty document".into(),
                status: Status::Empty,
                errors: 0,
                warnings: 0,
            });
            continue;
        }
        for (base, value) in objects(&doc.value) {
            let mut result = DocumentResult {
                line: doc.start.line,
                label: label(value),
                status: Status::Skipped,
                errors: 0,
                warnings: 0,
            };
            let findings = if let Some(kind) = spec::Kind::of(value) {
                report.summary.specs += 1;
                spec_document(file, kind, value, index, policy, specs)
            } else if classify(value) == Kind::ApiRule {
                report.summary.apirules += 1;
                let judged = judge(value, policy);
                report.summary.suppressed += judged.suppressed;
                judged.findings
            } else {
                report.summary.skipped += 1;
                report.documents.push(result);
                continue;
            };
            for mut finding in findings {
                match policy.severity(finding.code) {
                    Some(Severity::Error) => result.errors += 1,
                    Some(Severity::Warning) => result.warnings += 1,
                    None => continue,
                }
                finding.pointer.insert_str(0, &base);
                pending.push(Pending {
                    document: index,
                    object: report.documents.len(),
                    base_len: base.len(),
                    finding,
                });
            }
            result.status = if result.errors > 0 {
                Status::Invalid
            } else {
                Status::Valid
            };
            report.documents.push(result);
        }
    }
    if !pending.is_empty() {
        place(&mut report, file, text, limits, policy, pending);
    }
    report
        .diagnostics
        .sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    report
}

/// Findings about one spec document, as `check` sees it: file by file, so
/// findings about shared issuers land where this file names them.
fn spec_document(
    file: &str,
    kind: spec::Kind,
    value: &Value,
    index: usize,
    policy: &Policy,
    specs: &Specs,
) -> Vec<Finding> {
    let doc = DocRef {
        source: 0,
        document: index,
    };
    let located = match kind {
        spec::Kind::Exposure => {
            exposure::exposure(
                value,
                doc,
                &specs.issuers,
                Version::V2,
                policy,
                SharedAt::Reference,
            )
            .findings
        }
        spec::Kind::Issuers => {
            let mut local = IssuerBook::new();
            let mut found = exposure::issuers(value, doc, file, &mut local);
            // The run's first definition of a name wins; any other is X005.
            for (name, def) in &local {
                if let Some(first) = specs.issuers.get(name)
                    && (first.file != file || first.doc.document != index)
                {
                    found.push(crate::compile::Located {
                        doc,
                        finding: exposure::duplicate_issuer(name, first, &def.pointer),
                    });
                }
            }
            found
        }
    };
    let mut out: Vec<Finding> = located
        .into_iter()
        .filter(|l| l.doc == doc)
        .map(|l| l.finding)
        .collect();
    out.sort_by(|a, b| (&a.pointer, a.code, &a.message).cmp(&(&b.pointer, b.code, &b.message)));
    out.dedup();
    out
}

/// A finding waiting for its position.
struct Pending {
    /// Index of the YAML document in the stream.
    document: usize,
    /// Index of the object's entry in `FileReport::documents`.
    object: usize,
    /// Length of the object's own pointer (`/items/3`) within the finding's.
    base_len: usize,
    finding: Finding,
}

/// Loads the file again with positions and turns pending findings into
/// diagnostics; the lines of objects with findings become exact too.
fn place(
    report: &mut FileReport,
    file: &str,
    text: &str,
    limits: Limits,
    policy: &Policy,
    pending: Vec<Pending>,
) {
    let spanned = yaml::load(text, limits);
    for p in pending {
        let at = yaml::locate(
            &spanned.documents,
            p.document,
            &p.finding.pointer,
            p.finding.at_key,
        );
        let doc = spanned
            .documents
            .get(p.document)
            .and_then(|d| d.as_ref().ok());
        if let Some(start) =
            doc.and_then(|d| d.spans.locate(&p.finding.pointer[..p.base_len], false))
        {
            report.documents[p.object].line = start.line;
        }
        report.push(policy, file, p.finding, at);
    }
}
