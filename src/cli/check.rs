//! `kexpose check`: every input checked in parallel, reported in file order.

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;

use clap::Args;

use super::args::{Color, TemplateArgs, color_for, load_policy};
use super::{Fatal, Outcome};
use rayon::prelude::*;

use crate::pipeline;
use crate::report::{self, Format, Run};
use crate::source;
use crate::yaml::Limits;

#[derive(Args)]
pub struct CheckArgs {
    /// Files, directories (searched for *.yaml, *.yml, *.json) or `-` for stdin.
    #[arg(default_value = ".")]
    pub paths: Vec<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Policy file: which rules run and how severe they are (default: policies/default.yaml, built in).
    #[arg(long, env = "KEXPOSE_POLICY")]
    pub policy: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    pub color: Color,
    /// Largest file accepted, in bytes.
    #[arg(long, default_value_t = source::DEFAULT_MAX_FILE_SIZE)]
    pub max_file_size: u64,
    #[command(flatten)]
    pub template: TemplateArgs,
    /// Lock file to fill missing jwksUri values from (default: kexpose.lock if present).
    #[arg(long, value_name = "FILE")]
    pub lock: Option<PathBuf>,
}

/// Checks every input in parallel and reports in file order.
pub fn check(args: &CheckArgs, out: &mut dyn Write) -> Result<Outcome, Fatal> {
    let mut policy = load_policy(args.policy.as_ref())?;
    let lock = crate::identity::lock::resolve(args.lock.as_ref())?;
    policy.discovered = lock.discovered();
    let mut inputs = source::expand(&args.paths)?;
    inputs.sort();
    inputs.dedup();
    let files: Vec<(String, Result<String, Box<report::FileReport>>)> = inputs
        .par_iter()
        .map(|input| {
            let text = source::read(input, &policy, args.max_file_size);
            (input.name(), text)
        })
        .collect();
    let template = args.template.context()?;
    let files = pipeline::check_files(&files, &policy, Limits::default(), template, lock);
    let run = Run::new(files);
    report::write(
        &run,
        args.format,
        color_for(args.color, io::stdout().is_terminal()),
        out,
    )?;
    out.flush()?;
    Ok(if run.diagnostics().any(|d| d.code == "P008") {
        Outcome::Failure
    } else if run.summary.errors > 0 {
        Outcome::Findings
    } else {
        Outcome::Clean
    })
}
