//! Command-line interface: argument parsing and the commands' bodies. Process
//! concerns (exit codes, broken pipes) stay in `main.rs`.

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use rayon::prelude::*;

use std::net::SocketAddr;

use crate::apirule::Version;
use crate::check::{FileReport, Specs};
use crate::exposure;
use crate::policy::Policy;
use crate::render;
use crate::report::{self, Checked, Format, Run};
use crate::rules::{self, RULES};
use crate::source;
use crate::spec::template;
use crate::webhook::{self, log::LogFormat, log::Logger, tls::CertPaths};
use crate::yaml::Limits;

pub mod identity;

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
    /// Render exposure specs into APIRules, checked by the same core as `check`.
    Render(RenderArgs),
    /// Run the validating and mutating admission webhook.
    Serve(ServeArgs),
    /// Migrate APIRule v1beta1 to v2, reporting what cannot move.
    Migrate(MigrateArgs),
    /// Policy tools.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// Record what OpenID discovery says about every issuer the specs name (kexpose.lock).
    Lock(identity::LockArgs),
    /// Get an access token with the client-credentials grant.
    Token(identity::TokenArgs),
    /// Call an exposed endpoint without and with a token, and judge the answers.
    Probe(identity::ProbeArgs),
    /// Argo CD config management plugin commands (run by the CMP sidecar).
    Argocd {
        #[command(subcommand)]
        command: ArgocdCommand,
    },
}

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

#[derive(Subcommand)]
pub enum ArgocdCommand {
    /// Render every exposure spec of the application in the current directory to stdout.
    Generate,
    /// Print the plugin's parameter announcements as JSON.
    Parameters,
    /// Print the first exposure spec under the current directory (plugin discovery).
    Discover,
}

#[derive(Args)]
pub struct ServeArgs {
    /// HTTPS address for /validate and /mutate.
    #[arg(long, env = "KEXPOSE_LISTEN", default_value = "0.0.0.0:8443")]
    pub listen: SocketAddr,
    /// Plain-HTTP address for /healthz, /readyz and /metrics.
    #[arg(long, env = "KEXPOSE_HEALTH_LISTEN", default_value = "0.0.0.0:8080")]
    pub health_listen: SocketAddr,
    /// Directory holding tls.crt and tls.key, as a kubernetes.io/tls Secret mounts them.
    #[arg(long, env = "KEXPOSE_TLS_DIR", conflicts_with_all = ["tls_cert", "tls_key"])]
    pub tls_dir: Option<PathBuf>,
    /// Certificate chain (PEM), with --tls-key.
    #[arg(long, env = "KEXPOSE_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// Private key (PEM), with --tls-cert.
    #[arg(long, env = "KEXPOSE_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Policy file: rule severities, default gateway, issuer registry.
    #[arg(long, env = "KEXPOSE_POLICY")]
    pub policy: Option<PathBuf>,
    /// kexpose.lock to compare jwt issuers and jwksUris with (J014, J015); reloaded on change.
    #[arg(long, env = "KEXPOSE_LOCK", value_name = "FILE")]
    pub lock: Option<PathBuf>,
    #[arg(long, env = "KEXPOSE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Json)]
    pub log_format: LogFormat,
    /// Seconds between checks of the certificate files for a new pair.
    #[arg(long, env = "KEXPOSE_RELOAD_INTERVAL", default_value_t = 10)]
    pub reload_interval: u64,
    /// Seconds in-flight requests get to finish after SIGTERM.
    #[arg(long, env = "KEXPOSE_SHUTDOWN_GRACE", default_value_t = 25)]
    pub shutdown_grace: u64,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ApiVersion {
    /// gateway.kyma-project.io/v2
    V2,
    /// gateway.kyma-project.io/v1beta1, for clusters older than Kyma 3.4.
    V1beta1,
}

#[derive(Args)]
pub struct RenderArgs {
    /// Spec files or directories (searched for *.yaml, *.yml, *.json), or `-` for stdin.
    #[arg(default_value = ".")]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub template: TemplateArgs,
    #[arg(long, value_enum, default_value_t = ApiVersion::V2)]
    pub api_version: ApiVersion,
    /// Lock file to fill missing jwksUri values from (default: kexpose.lock if present).
    #[arg(long, value_name = "FILE")]
    pub lock: Option<PathBuf>,
    /// Write one file per APIRule (namespace.name.yaml) into DIR instead of a stream on stdout.
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
    /// With --out-dir: write nothing, print a unified diff and exit 1 when DIR is not up to date.
    #[arg(long, requires = "out_dir")]
    pub check: bool,
    /// Policy file for the check of every rendered APIRule.
    #[arg(long, env = "KEXPOSE_POLICY")]
    pub policy: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    pub color: Color,
    /// Largest file accepted, in bytes.
    #[arg(long, default_value_t = source::DEFAULT_MAX_FILE_SIZE)]
    pub max_file_size: u64,
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
    #[command(flatten)]
    pub template: TemplateArgs,
    /// Lock file to fill missing jwksUri values from (default: kexpose.lock if present).
    #[arg(long, value_name = "FILE")]
    pub lock: Option<PathBuf>,
}

/// What exposure spec templates may read.
#[derive(Args)]
pub struct TemplateArgs {
    /// Values for the spec templates (repeatable; later files win).
    #[arg(long = "values", value_name = "FILE")]
    pub values: Vec<PathBuf>,
    /// An environment variable templates may read as `env.NAME` (repeatable). No other
    /// variable of the environment is visible to them.
    #[arg(long = "template-env", value_name = "NAME")]
    pub env: Vec<String>,
}

impl TemplateArgs {
    /// The template context: the allowed variables and the merged values files.
    pub fn context(&self) -> Result<template::Context, Fatal> {
        template::Context::allowing(&self.env)
            .with_values(&self.values)
            .map_err(Fatal::Message)
    }
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
    color_for(choice, io::stdout().is_terminal())
}

fn color_for(choice: Color, terminal: bool) -> bool {
    match choice {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && terminal,
    }
}

/// Renders specs: APIRules on stdout (or into --out-dir), findings on stderr.
pub fn render(args: &RenderArgs, out: &mut dyn Write) -> Result<Outcome, Fatal> {
    let policy = load_policy(args.policy.as_ref())?;
    let template = args.template.context()?;
    let lock = crate::lock::resolve(args.lock.as_ref())?;
    let mut inputs = source::expand(&args.paths)?;
    inputs.sort();
    inputs.dedup();
    let version = match args.api_version {
        ApiVersion::V2 => Version::V2,
        ApiVersion::V1beta1 => Version::V1beta1,
    };
    let mut rendered = render::render(
        &inputs,
        &render::Options {
            version,
            policy: &policy,
            template: &template,
            lock: &lock,
            max_file_size: args.max_file_size,
        },
    );
    if !rendered.reports.is_empty() {
        let run = Run::new(std::mem::take(&mut rendered.reports));
        let mut err = io::stderr().lock();
        report::write(
            &run,
            Format::Text,
            color_for(args.color, io::stderr().is_terminal()),
            &mut err,
        )?;
        if rendered.errors > 0 {
            writeln!(
                err,
                "kexpose: {} error(s), {} warning(s); nothing rendered",
                rendered.errors, rendered.warnings
            )?;
        }
    }
    if rendered.errors > 0 {
        return Ok(Outcome::Findings);
    }
    if rendered.outputs.is_empty() {
        return Err(Fatal::Message(
            "no Exposure specs found (apiVersion kexpose.dev/v1alpha1, kind Exposure)".into(),
        ));
    }
    match (&args.out_dir, args.check) {
        (Some(dir), true) => {
            let drift = render::drift(&rendered.outputs, dir)
                .map_err(|e| Fatal::Message(format!("cannot read {}: {e}", dir.display())))?;
            for d in &drift.diffs {
                out.write_all(d.as_bytes())?;
            }
            out.flush()?;
            if drift.diffs.is_empty() {
                Ok(Outcome::Clean)
            } else {
                eprintln!(
                    "kexpose: {} file(s) in {} differ from a fresh render; run `kexpose render --out-dir {}`",
                    drift.diffs.len(),
                    dir.display(),
                    dir.display()
                );
                Ok(Outcome::Findings)
            }
        }
        (Some(dir), false) => match render::write_dir(&rendered.outputs, dir) {
            Ok(written) => {
                eprintln!("kexpose: {}: {written}", dir.display());
                Ok(Outcome::Clean)
            }
            Err(render::WriteError::Foreign(paths)) => {
                let mut err = io::stderr().lock();
                for p in &paths {
                    writeln!(
                        err,
                        "kexpose: {} was not written by kexpose (it has no \"# Rendered by kexpose\" header) and would be replaced",
                        p.display()
                    )?;
                }
                writeln!(
                    err,
                    "kexpose: nothing written; move those files away or render into another --out-dir"
                )?;
                Ok(Outcome::Failure)
            }
            Err(render::WriteError::Io(e)) => Err(Fatal::Message(format!(
                "cannot write {}: {e}",
                dir.display()
            ))),
        },
        (None, _) => {
            out.write_all(rendered.stream().as_bytes())?;
            out.flush()?;
            Ok(Outcome::Clean)
        }
    }
}

/// Checks every input in parallel and reports in file order.
pub fn check(args: &CheckArgs, out: &mut dyn Write) -> Result<Outcome, Fatal> {
    let mut policy = load_policy(args.policy.as_ref())?;
    let lock = crate::lock::resolve(args.lock.as_ref())?;
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

/// Runs policy test cases and says which passed.
pub fn policy_test(
    dir: &std::path::Path,
    policy: Option<&PathBuf>,
    out: &mut dyn Write,
) -> Result<Outcome, Fatal> {
    let fallback = load_policy(policy)?;
    let results = crate::policy::testing::run(dir, &fallback).map_err(Fatal::Message)?;
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
        if !m.report.diagnostics.is_empty() {
            let lines = source::excerpt(&text, &m.report);
            reports.push(Checked {
                report: m.report,
                lines,
            });
        }
    }
    out.write_all(stream.as_bytes())?;
    out.flush()?;
    let mut err = io::stderr().lock();
    if !reports.is_empty() {
        let run = Run::new(reports);
        report::write(
            &run,
            Format::Text,
            color_for(args.color, io::stderr().is_terminal()),
            &mut err,
        )?;
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

/// The CMP commands: the working directory is the application's source
/// directory; stdout carries only manifests (or announcements).
pub fn argocd(command: ArgocdCommand, out: &mut dyn Write) -> Result<Outcome, Fatal> {
    let dir = std::path::Path::new(".");
    match command {
        ArgocdCommand::Parameters => {
            serde_json::to_writer_pretty(&mut *out, &crate::argocd::announcements(dir))
                .map_err(io::Error::from)?;
            writeln!(out)?;
            out.flush()?;
            Ok(Outcome::Clean)
        }
        ArgocdCommand::Discover => {
            if let Some(found) = crate::argocd::discover(dir) {
                writeln!(out, "{}", found.display())?;
            }
            out.flush()?;
            Ok(Outcome::Clean)
        }
        ArgocdCommand::Generate => {
            let env = std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect();
            match crate::argocd::generate(dir, &env) {
                Ok(stream) => {
                    out.write_all(stream.as_bytes())?;
                    out.flush()?;
                    Ok(Outcome::Clean)
                }
                Err(message) => {
                    eprintln!("{message}");
                    Ok(Outcome::Findings)
                }
            }
        }
    }
}

/// Runs the webhook on a multi-threaded runtime until SIGTERM.
pub fn serve(args: &ServeArgs) -> Result<Outcome, Fatal> {
    let mut policy = load_policy(args.policy.as_ref())?;
    if let Some(path) = &args.lock {
        policy.discovered = crate::lock::Lock::read(path)?.discovered();
    }
    let tls = match (&args.tls_dir, &args.tls_cert, &args.tls_key) {
        (Some(dir), _, _) => CertPaths::in_dir(dir),
        (None, Some(cert), Some(key)) => CertPaths {
            cert: cert.clone(),
            key: key.clone(),
        },
        _ => {
            return Err(Fatal::Message(
                "serve needs --tls-dir, or --tls-cert and --tls-key".into(),
            ));
        }
    };
    let config = webhook::Config {
        listen: args.listen,
        health_listen: args.health_listen,
        tls,
        policy,
        policy_path: args.policy.clone(),
        lock_path: args.lock.clone(),
        log: Logger {
            format: args.log_format,
        },
        reload_interval: std::time::Duration::from_secs(args.reload_interval.max(1)),
        shutdown_grace: std::time::Duration::from_secs(args.shutdown_grace),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Fatal::Message(format!("cannot start the runtime: {e}")))?;
    runtime
        .block_on(webhook::run(config))
        .map_err(Fatal::Message)?;
    Ok(Outcome::Clean)
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
        Command::Render(args) => render(&args, out),
        Command::Serve(args) => serve(&args),
        Command::Lock(args) => identity::lock(&args),
        Command::Token(args) => identity::token(&args, out),
        Command::Probe(args) => identity::probe(&args, out),
        Command::Argocd { command } => argocd(command, out),
        Command::Migrate(args) => migrate(&args, out),
        Command::Policy {
            command: PolicyCommand::Test { dir, policy },
        } => policy_test(&dir, policy.as_ref(), out),
    }
}
