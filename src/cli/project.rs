//! One run: the arguments every command that reads a project shares, and
//! what they resolve to together with `kexpose.yaml` (policy, lock,
//! template context, environment, inputs after `exclude`). Each command
//! resolves its run once, here, and hands the value down; no command reads
//! the config, the policy or the lock on its own, so their defaults and
//! their help cannot drift apart.

use std::path::{Path, PathBuf};

use clap::Args;

use super::Fatal;
use super::args::{Color, TemplateArgs, load_policy};
use crate::config::{Config, Environment};
use crate::identity::lock::Lock;
use crate::load;
use crate::policy::Policy;
use crate::rules::Code;
use crate::source::{self, Input};
use crate::spec::template;

/// Where a command's inputs come from: the project config, its
/// environment, what spec templates may read, and how large a file may be.
#[derive(Args, Clone)]
pub struct ProjectArgs {
    /// The project config (default: kexpose.yaml in this directory or the nearest parent).
    #[arg(long, value_name = "FILE", env = "KEXPOSE_CONFIG")]
    pub config: Option<PathBuf>,
    /// The environment of the project config to use (default: its defaultEnvironment).
    #[arg(long = "env", value_name = "NAME", env = "KEXPOSE_ENV")]
    pub environment: Option<String>,
    #[command(flatten)]
    pub template: TemplateArgs,
    /// Largest file accepted, in bytes.
    #[arg(long, default_value_t = source::DEFAULT_MAX_FILE_SIZE)]
    pub max_file_size: u64,
}

impl Default for ProjectArgs {
    fn default() -> Self {
        ProjectArgs {
            config: None,
            environment: None,
            template: TemplateArgs::default(),
            max_file_size: source::DEFAULT_MAX_FILE_SIZE,
        }
    }
}

/// What the commands that judge APIRules add: the policy, the lock that
/// fills in missing jwksUri values, and how findings are coloured.
#[derive(Args, Clone, Default)]
pub struct InputArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Policy file: which rules run and how severe they are (default: the project's, else
    /// policies/default.yaml, built in).
    #[arg(long, env = "KEXPOSE_POLICY")]
    pub policy: Option<PathBuf>,
    /// Lock file to fill missing jwksUri values from (default: the project's, else
    /// kexpose.lock if present).
    #[arg(long, value_name = "FILE")]
    pub lock: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    pub color: Color,
}

/// A command's view of the project: the config, if any, and the chosen
/// environment.
#[derive(Debug, Clone, Default)]
pub struct Project {
    pub config: Option<Config>,
    pub environment: Option<(String, Environment)>,
    /// Whether the environment was asked for (`--env`, `KEXPOSE_ENV`)
    /// rather than the config's default.
    pub chosen: bool,
}

/// Which files a run reads.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Reads {
    /// The paths given, else the config's `specs` (render, lock).
    Specs,
    /// The paths given, else the whole project (check): every file is
    /// judged on its own, rendered output of every environment included.
    Project,
    /// The paths given, else the whole project, less the rendered output
    /// of every environment but the run's (explain, test): objects from
    /// two environments never meet in one model.
    Environment,
}

/// Everything a command works with, resolved once.
pub struct Run {
    pub project: Project,
    pub policy: Policy,
    pub lock: Lock,
    pub template: template::Context,
    /// The paths as given on the command line (for the commands hints print).
    pub given: Vec<PathBuf>,
    /// The paths read: the given ones, else the project's.
    pub paths: Vec<PathBuf>,
    /// The files read, sorted, without duplicates or excluded files.
    pub inputs: Vec<Input>,
    pub max_file_size: u64,
    pub color: Color,
    /// `--values` as given, for hints.
    values: Vec<PathBuf>,
    /// `--lock` as given, for hints.
    lock_flag: Option<PathBuf>,
}

impl InputArgs {
    /// The run for `given` paths.
    pub fn resolve(&self, given: &[PathBuf], reads: Reads) -> Result<Run, Fatal> {
        let project = self.project.load()?;
        let mut policy = load_policy(project.policy(self.policy.as_ref()).as_ref())?;
        let lock = project.lock(self.lock.as_ref())?;
        policy.discovered = lock.discovered();
        let template = project.template(&self.project.template)?;
        let paths = project.paths(given, reads);
        let inputs = project.inputs(&paths, reads)?;
        Ok(Run {
            project,
            policy,
            lock,
            template,
            given: given.to_vec(),
            paths,
            inputs,
            max_file_size: self.project.max_file_size,
            color: self.color,
            values: self.project.template.values.clone(),
            lock_flag: self.lock.clone(),
        })
    }
}

impl Run {
    /// What the loader needs to read this run's inputs.
    pub fn settings(&self) -> load::Settings<'_> {
        load::Settings {
            max_file_size: self.max_file_size,
            ..load::Settings::new(&self.policy, &self.template, &self.lock)
        }
    }

    /// The same run for another environment of the project: its values
    /// and rendered output instead of this one's.
    pub fn for_environment(
        &self,
        args: &InputArgs,
        name: &str,
        reads: Reads,
    ) -> Result<Run, Fatal> {
        let mut args = args.clone();
        args.project.environment = Some(name.to_owned());
        let mut run = args.resolve(&self.given, reads)?;
        run.project.chosen = self.project.chosen;
        Ok(run)
    }

    /// The hint that follows X002 findings: the whole `kexpose lock`
    /// command that records the missing jwksUri values for this run's specs.
    pub fn lock_hint(&self, run: &crate::report::Run) -> Option<String> {
        run.diagnostics().find(|d| d.code == Code::X002)?;
        let rest: Vec<String> = self
            .lock_flag
            .as_ref()
            .map(|l| vec!["--lock".to_owned(), shell_word(&l.display().to_string())])
            .unwrap_or_default();
        Some(format!(
            "kexpose: to record the jwksUri of every issuer these specs name, run `{}`",
            self.command("lock", &rest)
        ))
    }

    /// A whole command line that repeats this run's inputs, for hints.
    pub fn command(&self, sub: &str, rest: &[String]) -> String {
        self.project.command(sub, &self.given, &self.values, rest)
    }
}

impl ProjectArgs {
    pub fn load(&self) -> Result<Project, Fatal> {
        let config = Config::discover(self.config.as_deref())?;
        let environment = match &config {
            Some(c) => c
                .environment(self.environment.as_deref())?
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
            chosen: self.environment.is_some(),
        })
    }
}

impl Project {
    /// The paths given, else the project's (or `.` without a config).
    pub fn paths(&self, given: &[PathBuf], reads: Reads) -> Vec<PathBuf> {
        if !given.is_empty() {
            return given.to_vec();
        }
        match (&self.config, reads) {
            (Some(c), Reads::Specs) => c.specs.clone(),
            (Some(c), _) if !c.root.as_os_str().is_empty() => vec![c.root.clone()],
            _ => vec![PathBuf::from(".")],
        }
    }

    /// The inputs of `paths`, sorted, without duplicates or excluded files
    /// (excluded means never read, whoever names the file); for
    /// `Reads::Environment`, without the other environments' output.
    pub fn inputs(&self, paths: &[PathBuf], reads: Reads) -> Result<Vec<Input>, Fatal> {
        let mut inputs = crate::source::expand(paths)?;
        // One directory comes back sorted; only several paths need the sort.
        if !inputs.is_sorted() {
            inputs.sort();
        }
        inputs.dedup();
        if let Some(c) = &self.config {
            let others: Vec<&Path> = match (reads, &self.environment) {
                (Reads::Environment, Some((name, _))) => c
                    .environments
                    .iter()
                    .filter(|(n, _)| *n != name)
                    .filter_map(|(_, e)| e.out_dir.as_deref())
                    .collect(),
                _ => Vec::new(),
            };
            inputs.retain(|i| match i {
                Input::File(p) => {
                    !c.excluded(p) && !others.iter().any(|dir| crate::config::within(p, dir))
                }
                Input::Stdin => true,
            });
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
            .map_err(Fatal::from)
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
