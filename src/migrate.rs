//! APIRule v1beta1 -> v2, naming every decision.
//!
//! Upstream's conversion drops all rules of an APIRule it cannot convert in
//! full, silently. Here every rule is mapped on its own (`object`, on the
//! typed v1beta1 and v2 models); what has no exact v2 form is reported with
//! the reason and a suggestion (M rules), and the result is ordered most
//! specific first so it passes `check`. This module migrates whole files.

mod access;
mod object;
mod translate;

pub use object::{Migrated, apirule, applies};
pub use translate::path;

use serde_json::Value;

use crate::apirule::v2;
use crate::diagnostic::Finding;

/// One file's documents as text, each with the line it starts on, split at
/// `---` lines: `--write` replaces migrated documents and keeps every other
/// byte as it was.
pub fn chunks(text: &str) -> Vec<(u32, String)> {
    let mut out: Vec<(u32, String)> = vec![(1, String::new())];
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let bare = line.trim_end_matches(['\n', '\r']);
        if bare == "---" || bare.starts_with("--- ") {
            out.push((i as u32 + 1, String::new()));
        }
        out.last_mut().expect("never empty").1.push_str(line);
    }
    out
}

/// What migrating one file produced.
pub struct FileMigration {
    /// The migrated APIRules as YAML documents, in file order: only those
    /// that pass `check` (complete ones, and with `allow_partial` the
    /// partial ones marked as such).
    pub documents: Vec<String>,
    /// The file with those documents replaced and all else kept.
    pub rewritten: String,
    /// One line per APIRule that was withheld, saying why.
    pub withheld: Vec<String>,
    pub report: crate::report::FileReport,
    /// Some of the file is not YAML that can be read (a syntax error, a
    /// duplicate key): nothing of it may be rewritten, partial or not.
    pub unreadable: bool,
}

/// The annotation a partially migrated APIRule carries.
pub const PARTIAL_ANNOTATION: &str = "kexpose.dev/migration";

/// Migrates every document of one file that `applies`.
///
/// What is printed must pass `check` under the default policy, so that
/// `kexpose migrate f.yaml | kubectl apply -f -` never applies a broken
/// object. A document with anything not migrated (an error) is withheld,
/// unless `allow_partial`: then it is printed with the annotation
/// `kexpose.dev/migration: partial` and a comment listing what was left,
/// provided the partial object still passes `check`.
pub fn file(name: &str, text: &str, allow_partial: bool) -> FileMigration {
    use crate::diagnostic::{Position, Severity};
    use crate::policy::Policy;
    use crate::report::FileReport;
    use crate::yaml::{self, Limits, emit};

    let policy = Policy::default();
    let mut report = FileReport {
        name: name.to_owned(),
        ..FileReport::default()
    };
    report.summary.files = 1;
    let mut documents = Vec::new();
    let mut withheld = Vec::new();
    let mut rewritten = String::new();
    let mut unreadable = false;
    for (start, chunk) in chunks(text) {
        let stream = yaml::load_lenient(&chunk, Limits::default());
        // What cannot be read is reported where it is, as `check` does; a
        // file that does not parse is never taken for one without APIRules.
        let shift = |p: Position| Position {
            line: p.line + start - 1,
            column: p.column,
        };
        let mut broken = false;
        for doc in &stream.documents {
            match doc {
                Err(e) => {
                    let finding = Finding::new(e.code, "", e.message.clone());
                    report.push(&policy, name, finding, shift(e.position));
                    broken = true;
                }
                Ok(doc) => {
                    for p in &doc.problems {
                        let finding = Finding::new(p.code, "", p.message.clone());
                        report.push(&policy, name, finding, shift(p.position));
                        broken = true;
                    }
                }
            }
        }
        if broken {
            unreadable = true;
            report.summary.documents += 1;
            rewritten.push_str(&chunk);
            continue;
        }
        let doc = match stream.documents.as_slice() {
            [Ok(doc)] if applies(&doc.value) => doc.clone(),
            _ => {
                rewritten.push_str(&chunk);
                continue;
            }
        };
        report.summary.documents += 1;
        report.summary.apirules += 1;
        // The field itself, else its nearest parent written out.
        let at = |pointer: &str| {
            let found = doc.spans.locate(pointer, false).unwrap_or(doc.start);
            Position {
                line: found.line + start - 1,
                column: found.column,
            }
        };
        let mut migrated = apirule(&doc.value);
        let left: Vec<Finding> = migrated
            .findings
            .iter()
            .filter(|f| policy.severity(f.code) == Some(Severity::Error))
            .cloned()
            .collect();
        for f in std::mem::take(&mut migrated.findings) {
            let position = at(&f.pointer);
            report.push(&policy, name, f, position);
        }
        let title = object_name(&doc.value);
        let Some(mut apirule) = migrated.apirule.take() else {
            withheld.push(format!(
                "{name}: APIRule {title} was not printed: it is not a readable APIRule v1beta1"
            ));
            rewritten.push_str(&chunk);
            continue;
        };
        let value = serde_json::to_value(&apirule).expect("an APIRule is plain data");
        let rejected = crate::check::object(&value, &policy)
            .into_iter()
            .filter(|f| policy.severity(f.code) == Some(Severity::Error))
            .collect::<Vec<_>>();
        if left.is_empty() {
            // Complete, yet still rejected: say where the source causes it.
            for f in &rejected {
                let source = migrated.source_pointer(&f.pointer);
                let message = format!(
                    "the migrated APIRule is still rejected at {}: {}",
                    crate::diagnostic::field_path(&f.pointer),
                    f.message
                );
                let position = at(&source);
                report.push(
                    &policy,
                    name,
                    Finding {
                        message,
                        pointer: source,
                        ..f.clone()
                    },
                    position,
                );
            }
        }
        let printable = rejected.is_empty() && (left.is_empty() || allow_partial);
        if !printable {
            withheld.push(if !left.is_empty() && !allow_partial {
                format!(
                    "{name}: APIRule {title} was not printed: it could not be migrated whole; fix what is reported above, or pass --allow-partial to print what could be"
                )
            } else if !left.is_empty() {
                let why = rejected
                    .first()
                    .map(|f| {
                        format!(
                            "{}: {}",
                            crate::diagnostic::field_path(&f.pointer),
                            f.message
                        )
                    })
                    .unwrap_or_default();
                format!(
                    "{name}: APIRule {title} was not printed: even in part it would be rejected ({why})"
                )
            } else {
                format!("{name}: APIRule {title} was not printed: it would be rejected")
            });
            rewritten.push_str(&chunk);
            continue;
        }
        let mut yaml = String::new();
        if !left.is_empty() {
            mark_partial(&mut apirule);
            yaml.push_str("# Partially migrated by kexpose; not migrated:\n");
            for f in &left {
                let field = crate::diagnostic::field_path(&f.pointer);
                yaml.push_str(&format!(
                    "#   {} {field}: {}\n",
                    f.code,
                    f.message.replace('\n', " ")
                ));
            }
        }
        yaml.push_str(&emit::document(&apirule));
        // Keep the separator line and any comment lines before the object.
        let mut kept = String::new();
        for line in chunk.split_inclusive('\n') {
            let bare = line.trim_start();
            if bare.starts_with("---") || bare.starts_with('#') || bare.trim().is_empty() {
                kept.push_str(line);
            } else {
                break;
            }
        }
        rewritten.push_str(&kept);
        rewritten.push_str(&yaml);
        documents.push(yaml);
    }
    report
        .diagnostics
        .sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    FileMigration {
        documents,
        rewritten,
        withheld,
        report,
        unreadable,
    }
}

/// `namespace/name` of an object, for messages.
fn object_name(value: &Value) -> String {
    let meta = &value["metadata"];
    match (meta["namespace"].as_str(), meta["name"].as_str()) {
        (Some(ns), Some(n)) => format!("{ns}/{n}"),
        (None, Some(n)) => n.to_owned(),
        _ => "(unnamed)".to_owned(),
    }
}

fn mark_partial(apirule: &mut v2::ApiRule) {
    apirule
        .metadata
        .annotations
        .get_or_insert_default()
        .insert(PARTIAL_ANNOTATION.into(), "partial".into());
}
