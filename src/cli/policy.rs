//! `kexpose policy test`: a policy's test cases; `kexpose policy export`:
//! the policy as admission policies the API server runs itself.

mod testing;

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

use super::args::load_policy;
use super::stream::say;
use super::{Fatal, Outcome};
use crate::admission_policy::{self, Action, KUBE_MAX, KUBE_MIN, Kinds, Params};

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
    /// their bindings, for clusters that run no webhook.
    Export(ExportArgs),
}

#[derive(Args)]
pub struct ExportArgs {
    /// The policy to export; the built-in default policy when absent.
    #[arg(long, env = "KEXPOSE_POLICY")]
    policy: Option<PathBuf>,
    /// The cluster's Kubernetes version (1.30 or later): it decides which admission kinds
    /// exist (MutatingAdmissionPolicy from 1.34). A version newer than 1.37 gets 1.37's APIs.
    #[arg(long, value_name = "1.MINOR", default_value = "1.36", value_parser = kube_version)]
    kube_version: u32,
    /// What a failed validation does: deny the request, warn the client, or only audit.
    /// Warning rules always warn (or audit).
    #[arg(long, value_enum, default_value_t = ActionArg::Deny)]
    action: ActionArg,
    /// Where the policies read the policy's values: written into the expressions (inline),
    /// or from a ConfigMap through paramRef, which a platform team can edit without exporting
    /// again but which API servers up to 1.36 can lose after a binding is re-created.
    #[arg(long, value_enum, default_value_t = ParamsArg::Inline)]
    params: ParamsArg,
    /// The namespace of the parameter ConfigMap (with --params configmap); the export
    /// creates it.
    #[arg(long, default_value = "kexpose-system")]
    namespace: String,
    /// Write static admission manifests (KEP-5793, from 1.36): names end in .static.k8s.io,
    /// for the API server's staticManifestsDir.
    #[arg(long = "static")]
    static_manifests: bool,
    /// Which policies to print: all, the validating ones, or the mutating one (each admission
    /// plugin reads static manifests from a directory of its own).
    #[arg(long, value_enum, default_value_t = KindsArg::All)]
    kinds: KindsArg,
}

#[derive(Clone, Copy, ValueEnum)]
enum KindsArg {
    All,
    Validating,
    Mutating,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ParamsArg {
    Inline,
    Configmap,
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
    if minor >= KUBE_MIN {
        Ok(minor)
    } else {
        Err(format!(
            "Kubernetes 1.{minor} is older than 1.{KUBE_MIN} (ValidatingAdmissionPolicy is GA from 1.{KUBE_MIN})"
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
        params: match args.params {
            ParamsArg::Inline => Params::Inline,
            ParamsArg::Configmap => Params::ConfigMap {
                namespace: args.namespace.clone(),
            },
        },
        static_manifests: args.static_manifests,
        kinds: match args.kinds {
            KindsArg::All => Kinds::All,
            KindsArg::Validating => Kinds::Validating,
            KindsArg::Mutating => Kinds::Mutating,
        },
    };
    if options.kube > KUBE_MAX {
        say!(
            "kexpose: Kubernetes 1.{} is newer than 1.{KUBE_MAX}, the newest version known here: exporting with 1.{KUBE_MAX}'s APIs",
            options.kube
        );
    }
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
