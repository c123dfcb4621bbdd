//! `kexpose policy test`: a policy's test cases; `kexpose policy export`:
//! the policy as admission policies the API server runs itself.

mod testing;

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

use super::args::load_policy;
use super::{Fatal, Outcome};
use crate::admission_policy::{self, Action, KUBE_MAX, KUBE_MIN};

#[derive(Subcommand)]
pub enum PolicyCommand {
    /// Run policy test cases: each subdirectory of DIR holds inputs and expected.txt.
    Test {
        dir: PathBuf,
        /// The policy under test, unless DIR holds a policy.yaml.
        #[arg(long, env = "KEXPOSE_POLICY")]
        policy: Option<PathBuf>,
    },
    /// Print the policy as ValidatingAdmissionPolicies and a MutatingAdmissionPolicy, with
    /// their bindings and a parameter ConfigMap, for clusters that run no webhook.
    Export(ExportArgs),
}

#[derive(Args)]
pub struct ExportArgs {
    /// The policy to export; the built-in default policy when absent.
    #[arg(long, env = "KEXPOSE_POLICY")]
    policy: Option<PathBuf>,
    /// The cluster's Kubernetes version (1.30 to 1.36): it decides which admission kinds
    /// exist (MutatingAdmissionPolicy from 1.34).
    #[arg(long, value_name = "1.MINOR", default_value = "1.36", value_parser = kube_version)]
    kube_version: u32,
    /// What a failed validation does: deny the request, warn the client, or only audit.
    /// Warning rules always warn (or audit).
    #[arg(long, value_enum, default_value_t = ActionArg::Deny)]
    action: ActionArg,
    /// The namespace of the parameter ConfigMap the bindings read.
    #[arg(long, default_value = "kexpose-system")]
    namespace: String,
}

#[derive(Clone, Copy, ValueEnum)]
enum ActionArg {
    Deny,
    Warn,
    Audit,
}

fn kube_version(s: &str) -> Result<u32, String> {
    let minor = s
        .strip_prefix("v")
        .unwrap_or(s)
        .strip_prefix("1.")
        .and_then(|m| m.parse::<u32>().ok())
        .ok_or_else(|| format!("\"{s}\" is not a Kubernetes version such as 1.34"))?;
    if (KUBE_MIN..=KUBE_MAX).contains(&minor) {
        Ok(minor)
    } else {
        Err(format!(
            "Kubernetes 1.{minor} is outside 1.{KUBE_MIN} to 1.{KUBE_MAX} (ValidatingAdmissionPolicy is GA from 1.{KUBE_MIN})"
        ))
    }
}

/// Prints the export; nothing is printed when the policy cannot be exported.
pub fn policy_export(args: &ExportArgs, out: &mut dyn Write) -> Result<Outcome, Fatal> {
    let policy = load_policy(args.policy.as_ref())?;
    let options = admission_policy::Options {
        kube: args.kube_version,
        action: match args.action {
            ActionArg::Deny => Action::Deny,
            ActionArg::Warn => Action::Warn,
            ActionArg::Audit => Action::Audit,
        },
        namespace: args.namespace.clone(),
    };
    let text =
        admission_policy::export(&policy, &options).map_err(|e| Fatal::Message(e.to_string()))?;
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(Outcome::Clean)
}

/// Runs policy test cases and says which passed.
pub fn policy_test(
    dir: &std::path::Path,
    policy: Option<&PathBuf>,
    out: &mut dyn Write,
) -> Result<Outcome, Fatal> {
    let fallback = load_policy(policy)?;
    let results = testing::run(dir, &fallback).map_err(|e| Fatal::Message(e.to_string()))?;
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
