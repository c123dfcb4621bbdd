//! Argument groups more than one command takes.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::Fatal;
use crate::spec::template;

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ApiVersion {
    /// gateway.kyma-project.io/v2
    V2,
    /// gateway.kyma-project.io/v1beta1, for clusters older than Kyma 3.4.
    V1beta1,
}

#[derive(Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum Color {
    #[default]
    Auto,
    Always,
    Never,
}

/// What exposure spec templates may read.
#[derive(Args, Clone, Default)]
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
            .map_err(Fatal::from)
    }
}

impl ApiVersion {
    pub fn version(self) -> crate::apirule::Version {
        match self {
            ApiVersion::V2 => crate::apirule::Version::V2,
            ApiVersion::V1beta1 => crate::apirule::Version::V1beta1,
        }
    }
}

/// Findings as people read them, on stderr (the commands whose stdout
/// carries manifests).
pub fn findings_to_stderr(
    run: &crate::report::Run,
    color: Color,
    err: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    use std::io::IsTerminal;
    crate::report::write(
        run,
        crate::report::Format::Text,
        color_for(color, std::io::stderr().is_terminal()),
        err,
    )
}

/// Whether to colour output for a stream that is (or is not) a terminal.
pub fn color_for(choice: Color, terminal: bool) -> bool {
    match choice {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && terminal,
    }
}

/// The policy file, or the built-in default policy.
pub fn load_policy(path: Option<&PathBuf>) -> Result<crate::policy::Policy, Fatal> {
    match path {
        Some(p) => crate::policy::Policy::load(p)
            .map_err(|e| Fatal::Message(format!("invalid policy: {e}"))),
        None => Ok(crate::policy::Policy::default()),
    }
}
