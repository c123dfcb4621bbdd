//! Reporters: one module per output format, all fed the same run.

pub mod file;
pub mod github;
pub mod json;
pub mod junit;
pub mod sarif;
pub mod text;

pub use file::{DocumentResult, FileReport, Status, Summary};

use std::io::{self, Write};

/// One checked file with the source lines its diagnostics point at.
pub struct Checked {
    pub report: FileReport,
    pub lines: Vec<(u32, String)>,
}

/// Everything one `check` run found, files in the order given.
pub struct Run {
    pub files: Vec<Checked>,
    pub summary: Summary,
}

impl Run {
    pub fn new(files: Vec<Checked>) -> Run {
        let mut summary = Summary::default();
        for f in &files {
            summary.add(&f.report.summary);
        }
        Run { files, summary }
    }

    pub fn diagnostics(&self) -> impl Iterator<Item = &crate::diagnostic::Diagnostic> {
        self.files.iter().flat_map(|f| f.report.diagnostics.iter())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// rustc-style frames with the source line and a caret.
    Text,
    /// One `file:line:col: severity[CODE] message` line per finding.
    Concise,
    Json,
    Sarif,
    Junit,
    /// GitHub Actions workflow commands (annotations).
    Github,
}

pub fn write(run: &Run, format: Format, color: bool, out: &mut dyn Write) -> io::Result<()> {
    match format {
        Format::Text => text::write(run, color, true, out),
        Format::Concise => text::write(run, color, false, out),
        Format::Json => json::write(run, out),
        Format::Sarif => sarif::write(run, out),
        Format::Junit => junit::write(run, out),
        Format::Github => github::write(run, out),
    }
}
