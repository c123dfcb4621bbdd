//! `kexpose migrate`: APIRule v1beta1 to v2.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use super::args::{Color, findings_to_stderr};
use super::{Fatal, Outcome};
use crate::policy::Policy;
use crate::render;
use crate::report::{Checked, Run};
use crate::source;

#[derive(Args)]
pub struct MigrateArgs {
    /// Files, directories (searched for *.yaml, *.yml, *.json) or `-` for stdin.
    #[arg(default_value = ".")]
    pub paths: Vec<PathBuf>,
    /// Rewrite each file in place (atomically) instead of printing the v2 APIRules.
    /// Files with anything not migrated are left as they are (unless --allow-partial).
    #[arg(long)]
    pub write: bool,
    /// Also print (or write) APIRules that could be migrated only in part, annotated
    /// `kexpose.dev/migration: partial` with a comment listing what was left, as long as
    /// they pass `kexpose check`.
    #[arg(long)]
    pub allow_partial: bool,
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    pub color: Color,
}

/// Migrates v1beta1 APIRules: v2 on stdout (or in place), findings on
/// stderr; exit 1 when anything could not be migrated exactly.
pub fn migrate(args: &MigrateArgs, out: &mut dyn Write) -> Result<Outcome, Fatal> {
    let mut inputs = source::expand(&args.paths)?;
    inputs.sort();
    inputs.dedup();
    if args.write && inputs.contains(&source::Input::Stdin) {
        return Err(Fatal::Message("--write cannot rewrite stdin".into()));
    }
    let policy = Policy::default();
    let mut reports = Vec::new();
    let mut stream = String::new();
    let mut migrated = 0;
    let mut failed = false;
    let mut withheld = Vec::new();
    for input in &inputs {
        let text = match source::read(input, &policy, source::DEFAULT_MAX_FILE_SIZE) {
            Ok(t) => t,
            Err(report) => {
                failed = true;
                reports.push(Checked {
                    report: *report,
                    lines: Vec::new(),
                });
                continue;
            }
        };
        let name = input.name();
        let m = crate::migrate::file(&name, &text, args.allow_partial);
        migrated += m.report.summary.apirules;
        let errors = m.report.summary.errors;
        failed |= errors > 0;
        withheld.extend(m.withheld);
        if args.write {
            if let source::Input::File(path) = input
                && !m.documents.is_empty()
                && !m.unreadable
                && (errors == 0 || args.allow_partial)
            {
                render::write_atomic(path, m.rewritten.as_bytes())
                    .map_err(|e| Fatal::Message(format!("cannot write {name}: {e}")))?;
            }
        } else {
            for doc in &m.documents {
                stream.push_str(&format!("---\n# Source: {name}\n{doc}"));
            }
        }
        // Every file counts in the summary, as in `check`.
        let lines = source::excerpt(&text, &m.report);
        reports.push(Checked {
            report: m.report,
            lines,
        });
    }
    out.write_all(stream.as_bytes())?;
    out.flush()?;
    let mut err = super::stream::stderr();
    let run = Run::new(reports);
    if run.diagnostics().next().is_some() {
        findings_to_stderr(&run, args.color, &mut err)?;
    }
    for line in &withheld {
        writeln!(err, "kexpose: {line}")?;
    }
    if migrated == 0 && !failed {
        writeln!(err, "kexpose: no APIRule v1beta1 found")?;
    }
    if failed && args.write {
        writeln!(
            err,
            "kexpose: {}",
            if args.allow_partial {
                "what could not be migrated was left as it was"
            } else {
                "files with findings were left unchanged"
            }
        )?;
    }
    Ok(if failed {
        Outcome::Findings
    } else {
        Outcome::Clean
    })
}
