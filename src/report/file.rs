//! What a run found in one file: its diagnostics placed at line and column,
//! a verdict per document, and counts.

use crate::diagnostic::{Diagnostic, Finding, Position, Severity};
use crate::policy::Policy;
use crate::rules::Code;

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
    /// AccessTest cases run (`kexpose test`), and how many met their
    /// expectation.
    #[serde(skip_serializing_if = "is_zero")]
    pub cases: usize,
    #[serde(skip_serializing_if = "is_zero")]
    pub passed: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
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
        self.cases += other.cases;
        self.passed += other.passed;
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
        let rule = finding.code.rule();
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
            help: rule.help,
            fix: finding.fix,
        });
        severity
    }

    /// A finding about the file as a whole (unreadable, binary, too large).
    pub fn file_error(
        file: &str,
        code: Code,
        message: String,
        at: Position,
        policy: &Policy,
    ) -> FileReport {
        let mut report = FileReport {
            name: file.to_owned(),
            ..FileReport::default()
        };
        report.summary.files = 1;
        let severity = report.push(policy, file, Finding::new(code, "", message), at);
        let error = severity == Severity::Error;
        report.documents.push(DocumentResult {
            line: at.line,
            label: "file".into(),
            // A file that is not an error (a template) was not checked.
            status: if error {
                Status::Error
            } else {
                Status::Skipped
            },
            errors: usize::from(error),
            warnings: usize::from(!error),
        });
        report
    }
}
