//! Command-line interface: the parser and one module per command, each
//! holding its arguments and its body; argument groups several commands
//! share are in `args`. Process concerns (exit codes, broken pipes) stay in
//! `main.rs`.

use std::io::{self, Write};

use clap::{Parser, Subcommand};

pub mod argocd;
pub mod args;
pub mod check;
pub mod explain;
pub mod identity;
pub mod init;
pub mod lock;
pub mod migrate;
pub mod policy;
pub mod probe;
pub mod project;
pub mod render;
pub mod rules;
pub mod serve;
pub mod stream;
pub mod test;
pub mod token;

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
    /// Start a project: kexpose.yaml, an example exposure and issuer, values, pre-commit hooks.
    Init(init::InitArgs),
    /// Check APIRule files (v2, v2alpha1, v1beta1) and report findings with line and column.
    Check(check::CheckArgs),
    /// List every rule with its code, name and default severity.
    Rules {
        #[arg(long, value_enum, default_value_t = rules::ListFormat::Text)]
        format: rules::ListFormat,
    },
    /// Print the documentation of one rule, by code (J003) or name.
    Rule { code: String },
    /// Render exposure specs into APIRules, checked by the same core as `check`.
    Render(render::RenderArgs),
    /// Run the validating and mutating admission webhook.
    Serve(serve::ServeArgs),
    /// Predict what one request gets (200, 401, 403, 404) and why, from the APIRules and specs.
    Explain(explain::ExplainArgs),
    /// Run the AccessTest documents against the APIRules and specs beside them.
    Test(test::TestArgs),
    /// Migrate APIRule v1beta1 to v2, reporting what cannot move.
    Migrate(migrate::MigrateArgs),
    /// Policy tools.
    Policy {
        #[command(subcommand)]
        command: policy::PolicyCommand,
    },
    /// Record what OpenID discovery says about every issuer the specs name (kexpose.lock).
    Lock(lock::LockArgs),
    /// Get an access token with the client-credentials grant.
    Token(token::TokenArgs),
    /// Call an exposed endpoint without and with a token, and judge the answers.
    Probe(probe::ProbeArgs),
    /// Argo CD config management plugin commands (run by the CMP sidecar).
    Argocd {
        #[command(subcommand)]
        command: argocd::ArgocdCommand,
    },
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

impl From<crate::diagnostic::FileError> for Fatal {
    fn from(e: crate::diagnostic::FileError) -> Self {
        Fatal::Message(e.to_string())
    }
}

impl From<crate::source::Unfound> for Fatal {
    fn from(e: crate::source::Unfound) -> Self {
        Fatal::Message(e.to_string())
    }
}

impl From<crate::access::request::Invalid> for Fatal {
    fn from(e: crate::access::request::Invalid) -> Self {
        Fatal::Message(e.to_string())
    }
}

pub fn run(cli: Cli, out: &mut dyn Write) -> Result<Outcome, Fatal> {
    match cli.command {
        Command::Init(args) => init::init(&args),
        Command::Check(args) => check::check(&args, out),
        Command::Rules { format } => rules::list_rules(format, out),
        Command::Rule { code } => rules::show_rule(&code, out),
        Command::Render(args) => render::render(&args, out),
        Command::Serve(args) => serve::serve(&args),
        Command::Lock(args) => lock::lock(&args),
        Command::Token(args) => token::token(&args, out),
        Command::Probe(args) => probe::probe(&args, out),
        Command::Argocd { command } => argocd::argocd(command, out),
        Command::Migrate(args) => migrate::migrate(&args, out),
        Command::Explain(args) => explain::explain(&args, out),
        Command::Test(args) => test::test(&args, out),
        Command::Policy {
            command: policy::PolicyCommand::Test { dir, policy },
        } => policy::policy_test(&dir, policy.as_ref(), out),
        Command::Policy {
            command: policy::PolicyCommand::Export(args),
        } => policy::policy_export(&args, out),
    }
}
