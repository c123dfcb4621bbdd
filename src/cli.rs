//! Command-line interface: argument parsing and the commands' bodies. Process
//! concerns (exit codes, broken pipes) stay in `main.rs`.

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use rayon::prelude::*;

use crate::policy::Policy;
use crate::report::{self, Checked, Format, Run};
use crate::rules::{self, RULES};
use crate::source;
use crate::yaml::Limits;

#[derive(Parser)]
#[command(
    name = "kexpose",
    version,
    about = "Render, check and admit Kyma APIRules secured with JWT"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Check APIRule files (v2, v2alpha1, v1beta1) and report findings with line and column.
    Check(CheckArgs),
    /// List every rule with its code, name and default severity.
    Rules {
        #[arg(long, value_enum, default_value_t = ListFormat::Text)]
        format: ListFormat,
    },
    /// Print the documentation of one rule, by code (J003) or name.
    Rule { code: String },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum ListFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Color {
    Auto,
    Always,
    Never,
}

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
}

/// How a command ended, for the process exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing at error severity.
    Clean = 0,
    /// Findings at error severity.
    Findings = 1,
    /// Usage, configuration or I/O error.
    Failure = 2,
}

/// An error that stops a command before it produced its result.
#[derive(Debug)]
pub enum Fatal {
    /// Writing the output failed; a closed pipe is not worth a message.
    Io(io::Error),
    Message(String),
}

impl From<io::Error> for Fatal {
    fn from(e: io::Error) -> Self {
        Fatal::Io(e)
    }
}

impl From<String> for Fatal {
    fn from(m: String) -> Self {
        Fatal::Message(m)
    }
}

pub fn load_policy(path: Option<&PathBuf>) -> Result<Policy, Fatal> {
    match path {
        Some(p) => Policy::load(p).map_err(|e| Fatal::Message(format!("invalid policy: {e}"))),
        None => Ok(Policy::default()),
    }
}

fn use_color(choice: Color) -> bool {
    match choice {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => {
            std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && io::stdout().is_terminal()
        }
    }
}

/// Checks every input in parallel and reports in file order.
pub fn check(args: &CheckArgs, out: &mut dyn Write) -> Result<Outcome, Fatal> {
    let policy = load_policy(args.policy.as_ref())?;
    let mut inputs = source::expand(&args.paths)?;
    inputs.sort();
    inputs.dedup();
    let limits = Limits::default();
    let files: Vec<Checked> = inputs
        .par_iter()
        .map(|input| {
            let (report, lines) = source::check(input, &policy, limits, args.max_file_size);
            Checked { report, lines }
        })
        .collect();
    let run = Run::new(files);
    report::write(&run, args.format, use_color(args.color), out)?;
    out.flush()?;
    Ok(if run.diagnostics().any(|d| d.code == "P008") {
        Outcome::Failure
    } else if run.summary.errors > 0 {
        Outcome::Findings
    } else {
        Outcome::Clean
    })
}

pub fn list_rules(format: ListFormat, out: &mut dyn Write) -> Result<Outcome, Fatal> {
    match format {
        ListFormat::Text => {
            for r in RULES {
                writeln!(
                    out,
                    "{}  {:<30} {:<8} {}",
                    r.code,
                    r.name,
                    r.severity.as_str(),
                    r.summary
                )?;
            }
        }
        ListFormat::Json => {
            let list: Vec<_> = RULES
                .iter()
                .map(|r| {
                    serde_json::json!({
                        "code": r.code, "name": r.name, "severity": r.severity, "summary": r.summary,
                    })
                })
                .collect();
            serde_json::to_writer_pretty(&mut *out, &list).map_err(io::Error::from)?;
            writeln!(out)?;
        }
    }
    Ok(Outcome::Clean)
}

pub fn show_rule(code: &str, out: &mut dyn Write) -> Result<Outcome, Fatal> {
    let rule = rules::find(code)
        .ok_or_else(|| Fatal::Message(format!("no rule {code}; `kexpose rules` lists them")))?;
    writeln!(out, "# {} {} ({})\n", rule.code, rule.name, rule.severity)?;
    writeln!(out, "{}\n", rule.summary)?;
    write!(out, "{}", rule.doc)?;
    Ok(Outcome::Clean)
}

pub fn run(cli: Cli, out: &mut dyn Write) -> Result<Outcome, Fatal> {
    match cli.command {
        Command::Check(args) => check(&args, out),
        Command::Rules { format } => list_rules(format, out),
        Command::Rule { code } => show_rule(&code, out),
    }
}
