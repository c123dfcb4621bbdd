//! `kexpose check`: every input checked in parallel, reported in file order.
//!
//! With a project config, the given files (a pre-commit hook passes only
//! the staged ones) are checked against the whole project: issuers,
//! values and the lock come from everywhere, and a changed `Issuers`
//! document brings the specs that name its issuers into the run.

use crate::rules::Code;
use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;

use clap::Args;
use rayon::prelude::*;

use super::args::{Color, TemplateArgs, color_for, load_policy};
use super::project::{self, ProjectArgs};
use super::{Fatal, Outcome};
use crate::pipeline::{self, ReadFile};
use crate::policy::Policy;
use crate::report::{self, Format, Run};
use crate::source::{self, Input};
use crate::yaml::Limits;

#[derive(Args)]
pub struct CheckArgs {
    /// Files, directories (searched for *.yaml, *.yml, *.json) or `-` for stdin
    /// (default: the project of kexpose.yaml, else the working directory).
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub project: ProjectArgs,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Policy file: which rules run and how severe they are (default: the project's, else
    /// policies/default.yaml, built in).
    #[arg(long, env = "KEXPOSE_POLICY")]
    pub policy: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    pub color: Color,
    /// Largest file accepted, in bytes.
    #[arg(long, default_value_t = source::DEFAULT_MAX_FILE_SIZE)]
    pub max_file_size: u64,
    #[command(flatten)]
    pub template: TemplateArgs,
    /// Lock file to fill missing jwksUri values from (default: the project's, else
    /// kexpose.lock if present).
    #[arg(long, value_name = "FILE")]
    pub lock: Option<PathBuf>,
}

fn read(inputs: &[Input], policy: &Policy, max: u64) -> Vec<ReadFile> {
    inputs
        .par_iter()
        .map(|input| (input.name(), source::read(input, policy, max)))
        .collect()
}

/// Checks every input in parallel and reports in file order.
pub fn check(args: &CheckArgs, out: &mut dyn Write) -> Result<Outcome, Fatal> {
    let project = args.project.load()?;
    let mut policy = load_policy(project.policy(args.policy.as_ref()).as_ref())?;
    let lock = project.lock(args.lock.as_ref())?;
    policy.discovered = lock.discovered();
    let paths = project.paths(&args.paths, project::DefaultPaths::Root);
    let inputs = project.inputs(&paths)?;
    if inputs.is_empty() {
        let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        writeln!(
            io::stderr(),
            "kexpose: nothing to check in {} (no *.yaml, *.yml or *.json files that are not excluded)",
            shown.join(", ")
        )?;
        return Ok(Outcome::Clean);
    }
    let files = read(&inputs, &policy, args.max_file_size);
    // Given a subset of a project, the rest of it resolves issuers.
    let context = match &project.config {
        Some(c) if !args.paths.is_empty() => {
            let mut rest = project.inputs(&c.specs)?;
            rest.retain(|i| !inputs.contains(i));
            read(&rest, &policy, args.max_file_size)
                .into_iter()
                .filter(|(_, text)| {
                    text.as_ref()
                        .is_ok_and(|t| crate::exposure::mentions_spec(t))
                })
                .collect()
        }
        _ => Vec::new(),
    };
    let template = project.template(&args.template)?;
    let files = pipeline::check_files(&files, &context, &policy, Limits::default(), template, lock);
    let run = Run::new(files);
    report::write(
        &run,
        args.format,
        color_for(args.color, io::stdout().is_terminal()),
        out,
    )?;
    out.flush()?;
    let values = &args.template.values;
    if let Some(hint) = project::lock_hint(&project, &run, &args.paths, values, args.lock.as_ref())
    {
        writeln!(io::stderr(), "{hint}")?;
    }
    Ok(if run.diagnostics().any(|d| d.code == Code::P008) {
        Outcome::Failure
    } else if run.summary.errors > 0 {
        Outcome::Findings
    } else {
        Outcome::Clean
    })
}
