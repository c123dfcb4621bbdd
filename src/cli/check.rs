//! `kexpose check`: every input checked in parallel, reported in file order.

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;

use clap::Args;

use super::args::{Color, TemplateArgs, color_for, load_policy};
use super::{Fatal, Outcome};
use rayon::prelude::*;

use crate::check::{FileReport, Specs};
use crate::exposure;
use crate::report::{self, Checked, Format, Run};
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
    let limits = Limits::default();
    let texts: Vec<Result<String, Box<FileReport>>> = inputs
        .par_iter()
        .map(|input| source::read(input, &policy, args.max_file_size))
        .collect();
    let template = args.template.context()?;
    let names: Vec<String> = inputs.iter().map(source::Input::name).collect();
    let issuers = exposure::shared_issuers(
        texts.iter().enumerate().filter_map(|(i, t)| {
            let t = t.as_ref().ok()?;
            Some((i, names[i].as_str(), t.as_str()))
        }),
        &template,
        &lock,
        limits,
    );
    let specs = Specs {
        template,
        issuers,
        lock,
    };
    let files: Vec<Checked> = texts
        .into_par_iter()
        .zip(inputs.par_iter())
        .map(|(text, input)| {
            let (report, lines) = match text {
                Ok(text) => source::check_text(&input.name(), &text, &policy, limits, &specs),
                Err(report) => (*report, Vec::new()),
            };
            Checked { report, lines }
        })
        .collect();
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
