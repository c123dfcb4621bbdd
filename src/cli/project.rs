//! What a command takes from the project config (`kexpose.yaml`): its
//! defaults, which flags override, and the whole commands its hints print.

use std::path::{Path, PathBuf};

use clap::Args;

use super::Fatal;
use super::args::TemplateArgs;
use crate::config::{Config, Environment};
use crate::rules::Code;
use crate::source::Input;
use crate::spec::template;

/// `--config` and `--env`, taken by the commands that read a project.
#[derive(Args, Clone, Default)]
pub struct ProjectArgs {
    /// The project config (default: kexpose.yaml in this directory or the nearest parent).
    #[arg(long, value_name = "FILE", env = "KEXPOSE_CONFIG")]
    pub config: Option<PathBuf>,
    /// The environment of the project config to use (default: its defaultEnvironment).
    #[arg(long = "env", value_name = "NAME", env = "KEXPOSE_ENV")]
    pub environment: Option<String>,
}

/// A command's view of the project: the config, if any, and the chosen
/// environment.
#[derive(Debug, Clone, Default)]
pub struct Project {
    pub config: Option<Config>,
    pub environment: Option<(String, Environment)>,
}

impl ProjectArgs {
    pub fn load(&self) -> Result<Project, Fatal> {
        let config = Config::discover(self.config.as_deref()).map_err(Fatal::Message)?;
        let environment = match &config {
            Some(c) => c
                .environment(self.environment.as_deref())
                .map_err(Fatal::Message)?
                .map(|(name, env)| (name.to_owned(), env.clone())),
            None if self.environment.is_some() => {
                return Err(Fatal::Message(format!(
                    "--env needs a project config ({} here or in a parent directory, or --config)",
                    crate::config::FILE_NAME
                )));
            }
            None => None,
        };
        Ok(Project {
            config,
            environment,
        })
    }
}

/// Which paths a command reads when none are given.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum DefaultPaths {
    /// The config's `specs` (render, lock).
    Specs,
    /// The whole project (check).
    Root,
}

impl Project {
    /// The paths given, else the project's (or `.` without a config).
    pub fn paths(&self, given: &[PathBuf], default: DefaultPaths) -> Vec<PathBuf> {
        if !given.is_empty() {
            return given.to_vec();
        }
        match (&self.config, default) {
            (Some(c), DefaultPaths::Specs) => c.specs.clone(),
            (Some(c), DefaultPaths::Root) if !c.root.as_os_str().is_empty() => vec![c.root.clone()],
            _ => vec![PathBuf::from(".")],
        }
    }

    /// The inputs of `paths`, sorted, without duplicates or excluded files.
    pub fn inputs(&self, paths: &[PathBuf]) -> Result<Vec<Input>, Fatal> {
        let mut inputs = crate::source::expand(paths)?;
        inputs.sort();
        inputs.dedup();
        if let Some(c) = &self.config {
            inputs.retain(|i| !matches!(i, Input::File(p) if c.excluded(p)));
        }
        Ok(inputs)
    }

    /// The template context: `--values` and `--template-env` when given,
    /// else the environment's values and the config's allowed variables.
    pub fn template(&self, args: &TemplateArgs) -> Result<template::Context, Fatal> {
        let values = if args.values.is_empty() {
            self.environment
                .as_ref()
                .map(|(_, e)| e.values.clone())
                .unwrap_or_default()
        } else {
            args.values.clone()
        };
        let allowed = if args.env.is_empty() {
            self.config
                .as_ref()
                .map(|c| c.template_env.clone())
                .unwrap_or_default()
        } else {
            args.env.clone()
        };
        template::Context::allowing(&allowed)
            .with_values(&values)
            .map_err(Fatal::Message)
    }

    /// The policy file: the flag's, else the config's.
    pub fn policy(&self, flag: Option<&PathBuf>) -> Option<PathBuf> {
        flag.cloned()
            .or_else(|| self.config.as_ref().and_then(|c| c.policy.clone()))
    }

    /// The lock file to read: the flag's (which must exist), else the
    /// config's or `kexpose.lock` when present.
    pub fn lock(&self, flag: Option<&PathBuf>) -> Result<crate::identity::lock::Lock, Fatal> {
        match (flag, &self.config) {
            (Some(_), _) | (None, None) => Ok(crate::identity::lock::resolve(flag)?),
            (None, Some(c)) if c.lock.is_file() => Ok(crate::identity::lock::Lock::read(&c.lock)?),
            (None, Some(_)) => Ok(crate::identity::lock::Lock::default()),
        }
    }

    /// The lock file `kexpose lock` writes or compares.
    pub fn lock_path(&self, flag: Option<&PathBuf>) -> PathBuf {
        flag.cloned()
            .or_else(|| self.config.as_ref().map(|c| c.lock.clone()))
            .unwrap_or_else(|| PathBuf::from(crate::identity::lock::DEFAULT_PATH))
    }

    /// The environment's output directory, if it names one.
    pub fn out_dir(&self) -> Option<PathBuf> {
        self.environment
            .as_ref()
            .and_then(|(_, e)| e.out_dir.clone())
    }

    /// A whole command line that repeats this run's inputs, for hints:
    /// `kexpose SUB --env prod ...` with a config, else the paths and
    /// values given.
    pub fn command(
        &self,
        sub: &str,
        paths: &[PathBuf],
        values: &[PathBuf],
        rest: &[String],
    ) -> String {
        let mut words = vec!["kexpose".to_owned(), sub.to_owned()];
        let quoted = |p: &Path| shell_word(&p.display().to_string());
        words.extend(paths.iter().map(|p| quoted(p)));
        match (&self.environment, values.is_empty()) {
            (Some((name, _)), true) => {
                words.push("--env".into());
                words.push(shell_word(name));
            }
            _ => {
                for v in values {
                    words.push("--values".into());
                    words.push(quoted(v));
                }
            }
        }
        words.extend(rest.iter().cloned());
        words.join(" ")
    }
}

/// The hint that follows X002 findings: the whole `kexpose lock` command
/// that records the missing jwksUri values for this run's specs.
pub fn lock_hint(
    project: &Project,
    run: &crate::report::Run,
    paths: &[PathBuf],
    values: &[PathBuf],
    lock: Option<&PathBuf>,
) -> Option<String> {
    run.diagnostics().find(|d| d.code == Code::X002)?;
    let rest: Vec<String> = lock
        .map(|l| vec!["--lock".to_owned(), shell_word(&l.display().to_string())])
        .unwrap_or_default();
    Some(format!(
        "kexpose: to record the jwksUri of every issuer these specs name, run `{}`",
        project.command("lock", paths, values, &rest)
    ))
}

/// A word as a POSIX shell reads it back.
pub fn shell_word(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:@+,".contains(&b))
    {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}
