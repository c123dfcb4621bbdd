//! `--format json`: the stable machine contract.

use std::io::{self, Write};

use serde::Serialize;

use super::Run;
use super::Summary;
use crate::diagnostic::Diagnostic;

#[derive(Serialize)]
struct Output<'a> {
    diagnostics: Vec<&'a Diagnostic>,
    summary: &'a Summary,
}

pub fn write(run: &Run, out: &mut dyn Write) -> io::Result<()> {
    let doc = Output {
        diagnostics: run.diagnostics().collect(),
        summary: &run.summary,
    };
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    writeln!(out)
}
