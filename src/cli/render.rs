//! `kexpose render`: exposure specs in, APIRules out (stdout or --out-dir).

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use super::args::{ApiVersion, findings_to_stderr};
use super::project::{self, InputArgs, Reads, Run};
use super::stream::say;
use super::{Fatal, Outcome};
use crate::render;
use crate::report::Run as Report;

#[derive(Args)]
pub struct RenderArgs {
    /// Spec files or directories (searched for *.yaml, *.yml, *.json), or `-` for stdin
    /// (default: the specs of kexpose.yaml, else the working directory).
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub input: InputArgs,
    /// The APIRule version to render (default: the environment's, else v2).
    #[arg(long, value_enum)]
    pub api_version: Option<ApiVersion>,
    /// Write one file per APIRule (namespace.name.yaml) into DIR instead of a stream on
    /// stdout; without DIR, into the environment's outDir.
    // clap's path parser refuses the empty value that stands for "no DIR".
    #[arg(long, value_name = "DIR", num_args = 0..=1, default_missing_value = "",
          value_parser = clap::builder::TypedValueParser::map(clap::builder::OsStringValueParser::new(), PathBuf::from))]
    pub out_dir: Option<PathBuf>,
    /// Write nothing; print a unified diff and exit 1 when the output directory (--out-dir, or
    /// the environment's outDir) is not up to date. Without --env and --out-dir, every
    /// environment whose outDir is in the project is compared.
    #[arg(long)]
    pub check: bool,
    /// Print, for review, the Istio objects api-gateway would generate for the specs and
    /// APIRules given (VirtualService, RequestAuthentication, AuthorizationPolicy).
    #[arg(long, conflicts_with_all = ["out_dir", "check", "api_version"])]
    pub istio: bool,
    /// With --istio: the gateway's domain, which short hosts are served under.
    #[arg(long, value_name = "DOMAIN", requires = "istio", default_value = crate::access::istio::DEFAULT_DOMAIN)]
    pub domain: String,
}

impl RenderArgs {
    /// `kexpose render --config FILE --out-dir`: the project's default
    /// environment into its outDir.
    pub fn for_project(config: PathBuf) -> RenderArgs {
        let mut input = InputArgs::default();
        input.project.config = Some(config);
        RenderArgs {
            paths: Vec::new(),
            input,
            api_version: None,
            out_dir: Some(PathBuf::new()),
            check: false,
            istio: false,
            domain: crate::access::istio::DEFAULT_DOMAIN.into(),
        }
    }
}

/// Renders specs: APIRules on stdout (or into --out-dir), findings on stderr.
pub fn render(args: &RenderArgs, out: &mut dyn Write) -> Result<Outcome, Fatal> {
    if args.istio {
        return istio(args, out);
    }
    let run = args.input.resolve(&args.paths, Reads::Specs)?;
    if args.check && args.out_dir.is_none() && !run.project.chosen {
        return check_every_environment(args, &run, out);
    }
    render_run(args, &run, out)
}

/// `render --check` with neither `--env` nor `--out-dir`: the drift of
/// every environment whose output is in the project, so that a change
/// rendered for one environment only does not pass. Environments whose
/// outDir does not exist are named as skipped.
fn check_every_environment(
    args: &RenderArgs,
    run: &Run,
    out: &mut dyn Write,
) -> Result<Outcome, Fatal> {
    let Some(config) = &run.project.config else {
        return render_run(args, run, out);
    };
    let with_output: Vec<(&String, &std::path::Path)> = config
        .environments
        .iter()
        .filter_map(|(name, e)| Some((name, e.out_dir.as_deref()?)))
        .collect();
    if with_output.len() < 2 {
        return render_run(args, run, out);
    }
    let mut worst = Outcome::Clean;
    for (name, dir) in with_output {
        if !dir.is_dir() {
            say!(
                "kexpose: environment {name} skipped: its outDir {} is not in the project",
                dir.display()
            );
            continue;
        }
        let each = run.for_environment(&args.input, name, Reads::Specs)?;
        let outcome = render_run(args, &each, out)?;
        if outcome as u8 > worst as u8 {
            worst = outcome;
        }
    }
    Ok(worst)
}

/// One render for one environment.
fn render_run(args: &RenderArgs, run: &Run, out: &mut dyn Write) -> Result<Outcome, Fatal> {
    let project = &run.project;
    let out_dir = match &args.out_dir {
        Some(dir) if dir.as_os_str().is_empty() => Some(project.out_dir().ok_or_else(|| {
            Fatal::Message(
                "--out-dir without DIR needs an environment with outDir in kexpose.yaml".into(),
            )
        })?),
        Some(dir) => Some(dir.clone()),
        None if args.check => Some(project.out_dir().ok_or_else(|| {
            Fatal::Message(
                "--check needs --out-dir DIR, or an environment with outDir in kexpose.yaml".into(),
            )
        })?),
        None => None,
    };
    let version = match (args.api_version, &project.environment) {
        (Some(v), _) => v.version(),
        (None, Some((_, env))) if env.api_version.as_deref() == Some("v1beta1") => {
            crate::apirule::Version::V1beta1
        }
        _ => crate::apirule::Version::V2,
    };
    let files = crate::load::read(&run.inputs, &run.settings());
    let mut rendered = crate::pipeline::render(
        &files,
        &render::Options {
            version,
            policy: &run.policy,
            source_root: project.config.as_ref().map(|c| c.root.as_path()),
        },
    );
    if rendered.errors + rendered.warnings > 0 {
        let report = Report::new(std::mem::take(&mut rendered.reports));
        let mut err = super::stream::stderr();
        findings_to_stderr(&report, run.color, &mut err)?;
        if let Some(hint) = run.lock_hint(&report) {
            writeln!(err, "{hint}")?;
        }
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
    match (&out_dir, args.check) {
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
                // The whole command that brings DIR up to date, from here.
                let mut rest = vec![
                    "--out-dir".to_owned(),
                    project::shell_word(&dir.display().to_string()),
                ];
                if args.api_version == Some(ApiVersion::V1beta1) {
                    rest.extend(["--api-version".to_owned(), "v1beta1".to_owned()]);
                }
                let command = run.command("render", &rest);
                say!(
                    "kexpose: {} file(s) in {} differ from a fresh render; run `{command}`",
                    drift.diffs.len(),
                    dir.display(),
                );
                Ok(Outcome::Findings)
            }
        }
        (Some(dir), false) => match render::write_dir(&rendered.outputs, dir) {
            Ok(written) => {
                say!("kexpose: {}: {written}", dir.display());
                Ok(Outcome::Clean)
            }
            Err(render::WriteError::Foreign(paths)) => {
                let mut err = super::stream::stderr();
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

/// `render --istio`: the Istio objects api-gateway would generate, for
/// reading and review.
fn istio(args: &RenderArgs, out: &mut dyn Write) -> Result<Outcome, Fatal> {
    let model = super::explain::ModelArgs {
        paths: args.paths.clone(),
        input: args.input.clone(),
        domain: Some(args.domain.clone()),
    };
    let (loaded, _) = match model.load() {
        Ok(l) => l,
        Err(outcome) => return outcome,
    };
    if loaded.apirules.is_empty() {
        return Err(Fatal::Message(
            "no APIRule (v2, v2alpha1) or Exposure found to preview".into(),
        ));
    }
    let preview = crate::access::istio::preview(&loaded.apirules, &args.domain, |i| loaded.name(i));
    out.write_all(preview.as_bytes())?;
    out.flush()?;
    Ok(Outcome::Clean)
}
