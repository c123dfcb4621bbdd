//! `kexpose check`: every input checked in parallel, reported in file order.
//!
//! With a project config, the given files (a pre-commit hook passes only
//! the staged ones) are checked against the whole project: issuers,
//! values and the lock come from everywhere, and a changed `Issuers`
//! document brings the specs that name its issuers into the run.

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;

use clap::Args;
use rayon::prelude::*;

use super::args::color_for;
use super::project::{InputArgs, Reads};
use super::{Fatal, Outcome};
use crate::load::{self, File};
use crate::pipeline;
use crate::report::{self, Format, Run};
use crate::rules::Code;
use crate::source::Input;

#[derive(Args)]
pub struct CheckArgs {
    /// Files, directories (searched for *.yaml, *.yml, *.json) or `-` for stdin
    /// (default: the project of kexpose.yaml, else the working directory).
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub input: InputArgs,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Apply the safe fixes in place (comments and layout kept), then report what remains.
    #[arg(long)]
    pub fix: bool,
    /// With --fix or --diff: also the fixes that change what a request may do.
    #[arg(long)]
    pub unsafe_fixes: bool,
    /// Print the fixes as a unified diff instead of writing them; exit 1 when there is one.
    #[arg(long, conflicts_with = "fix")]
    pub diff: bool,
}

/// Applies the fixes to every file that was read (standard input is
/// never rewritten): in place with `--fix`, the file then read again for
/// the check, or as a unified diff with `--diff`. What was fixed goes to
/// stderr, in file order.
fn fix_files(
    inputs: &[Input],
    files: &mut [File],
    settings: &load::Settings,
    args: &CheckArgs,
) -> Result<String, Fatal> {
    enum Done {
        Unchanged,
        Refused(String),
        Failed(String),
        Diff(String),
        Written { text: String, message: String },
    }
    let policy = settings.policy;
    let fix_one = |input: &Input, file: &mut File| -> Done {
        let Input::File(path) = input else {
            return Done::Unchanged;
        };
        let fixed = match crate::fix::edit::fix_file(file, policy, args.unsafe_fixes) {
            Ok(fixed) => fixed,
            Err(e) => return Done::Refused(format!("{}: {e}", path.display())),
        };
        let (Some(new), Some(text)) = (fixed.text, file.written()) else {
            return Done::Unchanged;
        };
        if args.diff {
            return Done::Diff(crate::render::unified(text, &new, path));
        }
        let permissions = std::fs::metadata(path).map(|m| m.permissions());
        if let Err(e) = crate::render::replace_file(path, new.as_bytes(), false) {
            return Done::Failed(format!("cannot write {}: {e}", path.display()));
        }
        if let Ok(p) = permissions {
            let _ = std::fs::set_permissions(path, p);
        }
        let fixes: Vec<String> = fixed
            .applied
            .iter()
            .map(|f| format!("{} ({})", f.code, f.title))
            .collect();
        Done::Written {
            message: format!(
                "fixed {} in {}: {}",
                plural(fixed.applied.len()),
                input.name(),
                fixes.join("; ")
            ),
            text: new,
        }
    };
    let done: Vec<Done> = inputs
        .par_iter()
        .zip(files.par_iter_mut())
        .map(|(input, file)| fix_one(input, file))
        .collect();
    let mut diffs = String::new();
    let mut failed = 0;
    let mut stderr = super::stream::stderr();
    for (i, done) in done.into_iter().enumerate() {
        match done {
            Done::Unchanged => {}
            Done::Refused(why) => writeln!(stderr, "kexpose: {why}")?,
            Done::Failed(why) => {
                writeln!(stderr, "kexpose: {why}")?;
                failed += 1;
            }
            Done::Diff(diff) => diffs.push_str(&diff),
            Done::Written { text, message } => {
                writeln!(stderr, "kexpose: {message}")?;
                files[i] = File::of(files[i].name.clone(), Ok(text), settings);
            }
        }
    }
    if failed > 0 {
        // Each file is whole, old or new; the run still fails.
        return Err(Fatal::Message(format!(
            "{failed} file(s) could not be written; they are unchanged"
        )));
    }
    Ok(diffs)
}

fn plural(n: usize) -> String {
    format!("{n} finding{}", if n == 1 { "" } else { "s" })
}

/// Checks every input in parallel and reports in file order.
pub fn check(args: &CheckArgs, out: &mut dyn Write) -> Result<Outcome, Fatal> {
    let run = args.input.resolve(&args.paths, Reads::Project)?;
    let (policy, inputs) = (&run.policy, &run.inputs);
    if inputs.is_empty() {
        let shown: Vec<String> = run.paths.iter().map(|p| p.display().to_string()).collect();
        writeln!(
            super::stream::stderr(),
            "kexpose: nothing to check in {} (no *.yaml, *.yml or *.json files that are not excluded)",
            shown.join(", ")
        )?;
        return Ok(Outcome::Clean);
    }
    let settings = run.settings();
    let mut files = load::read(inputs, &settings);
    if args.fix || args.diff {
        let diffs = fix_files(inputs, &mut files, &settings, args)?;
        if args.diff {
            out.write_all(diffs.as_bytes())?;
            out.flush()?;
            return Ok(if diffs.is_empty() {
                Outcome::Clean
            } else {
                Outcome::Findings
            });
        }
    }
    // Given a subset of a project, the rest of it resolves issuers.
    let context = match &run.project.config {
        Some(c) if !args.paths.is_empty() => {
            let mut rest = run.project.inputs(&c.specs, Reads::Specs)?;
            rest.retain(|i| !inputs.iter().any(|given| given.same(i)));
            let mut rest = load::read(&rest, &settings);
            rest.retain(File::holds_specs);
            rest
        }
        _ => Vec::new(),
    };
    let files = pipeline::check_files(&files, &context, policy);
    let report = Run::new(files);
    report::write(
        &report,
        args.format,
        color_for(run.color, io::stdout().is_terminal()),
        out,
    )?;
    out.flush()?;
    if let Some(hint) = run.lock_hint(&report) {
        writeln!(super::stream::stderr(), "{hint}")?;
    }
    Ok(if report.diagnostics().any(|d| d.code == Code::P008) {
        Outcome::Failure
    } else if report.summary.errors > 0 {
        Outcome::Findings
    } else {
        Outcome::Clean
    })
}
