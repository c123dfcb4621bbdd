//! `kexpose policy test`: a policy's test cases.

mod testing;

use std::io::Write;
use std::path::PathBuf;

use clap::Subcommand;

use super::args::load_policy;
use super::{Fatal, Outcome};

#[derive(Subcommand)]
pub enum PolicyCommand {
    /// Run policy test cases: each subdirectory of DIR holds inputs and expected.txt.
    Test {
        dir: PathBuf,
        /// The policy under test, unless DIR holds a policy.yaml.
        #[arg(long, env = "KEXPOSE_POLICY")]
        policy: Option<PathBuf>,
    },
}

/// Runs policy test cases and says which passed.
pub fn policy_test(
    dir: &std::path::Path,
    policy: Option<&PathBuf>,
    out: &mut dyn Write,
) -> Result<Outcome, Fatal> {
    let fallback = load_policy(policy)?;
    let results = testing::run(dir, &fallback).map_err(Fatal::Message)?;
    let failed = results.iter().filter(|r| !r.passed()).count();
    for r in &results {
        if r.passed() {
            writeln!(out, "ok    {}", r.name)?;
            continue;
        }
        writeln!(out, "FAIL  {}", r.name)?;
        for m in &r.missing {
            writeln!(out, "        missing:    {m}")?;
        }
        for u in &r.unexpected {
            writeln!(out, "        unexpected: {u}")?;
        }
    }
    writeln!(out, "{} cases, {} failed", results.len(), failed)?;
    out.flush()?;
    Ok(if failed > 0 {
        Outcome::Findings
    } else {
        Outcome::Clean
    })
}
