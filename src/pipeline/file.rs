//! One file of a check run: every document and `kind: List` item judged,
//! findings placed at line and column, and what the file claims of the run
//! (`claims::Claims`) gathered on the way.

use serde_json::Value;

use super::claims::{Claims, Compiled, claim};
use super::{Resolved, Scope, objects};
use crate::apirule::Version;
use crate::check::{self, Kind};
use crate::compile::{DocRef, IssuerBook};
use crate::diagnostic::{Finding, Position, Severity};
use crate::exposure;
use crate::policy::Policy;
use crate::report::{DocumentResult, FileReport, Status};
use crate::spec;
use crate::yaml;

/// One file checked, and what it claims and uses of the run: the APIRules
/// its exposures render, the hosts it exposes, and the broken shared issuer
/// fields its routes use. `source` is the file's index in the run
/// (`DocRef::source` of the shared issuers); `stream` is its documents, as
/// the loader parsed `text`.
pub(super) fn check_claiming(
    file: &str,
    source: usize,
    text: &str,
    stream: &yaml::Stream,
    policy: &Policy,
    specs: &Resolved,
) -> (FileReport, Claims) {
    let mut claims = Claims::default();
    let mut report = FileReport {
        name: file.to_owned(),
        ..FileReport::default()
    };
    report.summary.files = 1;
    for (index, doc) in stream.documents.iter().enumerate() {
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
        // Problems that did not stop the load (duplicate keys) count
        // against the document's first object.
        let (mut problem_errors, mut problem_warnings) = (0, 0);
        for p in &doc.problems {
            match report.push(
                policy,
                file,
                Finding::new(p.code, "", p.message.clone()),
                p.position,
            ) {
                Severity::Error => problem_errors += 1,
                Severity::Warning => problem_warnings += 1,
            }
        }
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
                errors: std::mem::take(&mut problem_errors),
                warnings: std::mem::take(&mut problem_warnings),
            };
            let findings = if let Some(kind) = spec::Kind::of(value) {
                report.summary.specs += 1;
                if kind == spec::Kind::Exposure {
                    claims.names.extend(claim(value, &base, index, &doc.spans));
                    claims.hosts(value, &base, true, &doc.spans, policy);
                }
                let at = DocRef {
                    source,
                    document: index,
                };
                let judged = spec_document(file, kind, value, at, policy, specs);
                for s in judged.shared {
                    let route = format!("{base}{}", s.route);
                    let at = doc.spans.locate(&route, false).unwrap_or(doc.start);
                    claims.shared.push((s, at));
                }
                // A spec inside a List is checked, not rendered: its
                // origins would point into the item, not the document.
                if let (Some(compiled), true) = (judged.compiled, base.is_empty()) {
                    claims.compiled.push(compiled);
                }
                judged.findings
            } else if specs.scope != Scope::Everything {
                report.summary.skipped += 1;
                report.documents.push(result);
                continue;
            } else if check::classify(value) == Kind::ApiRule {
                report.summary.apirules += 1;
                claims.hosts(value, &base, false, &doc.spans, policy);
                let mut judged = check::judge(value, policy);
                report.summary.suppressed += judged.suppressed;
                crate::fix::edit::attach(text, &doc.spans, &base, &mut judged.findings);
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
                let at = doc
                    .spans
                    .locate(&finding.pointer, finding.at_key)
                    .unwrap_or(doc.start);
                report.push(policy, file, finding, at);
            }
            result.status = if result.errors > 0 {
                Status::Invalid
            } else {
                Status::Valid
            };
            // An object with findings is reported at its own line.
            if result.errors + result.warnings > 0
                && let Some(start) = doc.spans.locate(&base, false)
            {
                result.line = start.line;
            }
            report.documents.push(result);
        }
    }
    report
        .diagnostics
        .sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    (report, claims)
}

/// Adds a finding made across files to `report`, counted against the
/// object it is in.
pub(super) fn place(
    report: &mut FileReport,
    policy: &Policy,
    file: &str,
    finding: Finding,
    at: Position,
) {
    if policy.severity(finding.code).is_none() {
        return;
    }
    let severity = report.push(policy, file, finding, at);
    report
        .diagnostics
        .sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    // The object's result: the last one starting at or above the finding.
    if let Some(d) = report
        .documents
        .iter_mut()
        .rev()
        .find(|d| d.line <= at.line)
    {
        match severity {
            Severity::Error => {
                d.errors += 1;
                d.status = Status::Invalid;
            }
            Severity::Warning => d.warnings += 1,
        }
    }
}

/// What judging one spec document found: its findings, the broken shared
/// issuer fields its routes use, and, when the run renders, its APIRule.
struct SpecJudged {
    findings: Vec<Finding>,
    shared: Vec<exposure::Shared>,
    compiled: Option<Compiled>,
}

/// Findings about one spec document, file by file, so findings about
/// shared issuers land where this file names them. An exposure is
/// compiled at the run's APIRule version (v2 for `check`).
fn spec_document(
    file: &str,
    kind: spec::Kind,
    value: &Value,
    doc: DocRef,
    policy: &Policy,
    specs: &Resolved,
) -> SpecJudged {
    let index = doc.document;
    let mut shared = Vec::new();
    let mut compiled = None;
    let located = match kind {
        spec::Kind::Exposure => {
            let version = match specs.scope {
                Scope::Specs(version) => version,
                Scope::Everything => Version::V2,
            };
            let evaluated = exposure::exposure(value, doc, &specs.issuers, version, policy);
            shared = evaluated.shared;
            if specs.scope != Scope::Everything {
                compiled = evaluated.apirule.map(|apirule| Compiled {
                    doc,
                    apirule,
                    origins: evaluated.origins,
                });
            }
            evaluated.findings
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
    let mut findings: Vec<Finding> = located
        .into_iter()
        .filter(|l| l.doc == doc)
        .map(|l| l.finding)
        .collect();
    findings
        .sort_by(|a, b| (&a.pointer, a.code, &a.message).cmp(&(&b.pointer, b.code, &b.message)));
    findings.dedup();
    SpecJudged {
        findings,
        shared,
        compiled,
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
