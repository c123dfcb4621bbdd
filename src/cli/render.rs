//! `kexpose render`: exposure specs in, APIRules out (stdout or --out-dir).

use std::io::{self, Write};
use std::path::PathBuf;

use clap::Args;

use super::args::{ApiVersion, Color, TemplateArgs, findings_to_stderr, load_policy};
use super::project::{self, ProjectArgs};
use super::{Fatal, Outcome};
use crate::render;
use crate::report::Run;
use crate::source;

#[derive(Args)]
pub struct RenderArgs {
    /// Spec files or directories (searched for *.yaml, *.yml, *.json), or `-` for stdin
    /// (default: the specs of kexpose.yaml, else the working directory).
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub project: ProjectArgs,
    #[command(flatten)]
    pub template: TemplateArgs,
    /// The APIRule version to render (default: the environment's, else v2).
    #[arg(long, value_enum)]
    pub api_version: Option<ApiVersion>,
    /// Lock file to fill missing jwksUri values from (default: kexpose.lock if present).
    #[arg(long, value_name = "FILE")]
    pub lock: Option<PathBuf>,
    /// Write one file per APIRule (namespace.name.yaml) into DIR instead of a stream on
    /// stdout; without DIR, into the environment's outDir.
    // clap's path parser refuses the empty value that stands for "no DIR".
    #[arg(long, value_name = "DIR", num_args = 0..=1, default_missing_value = "",
          value_parser = clap::builder::TypedValueParser::map(clap::builder::OsStringValueParser::new(), PathBuf::from))]
    pub out_dir: Option<PathBuf>,
    /// Write nothing; print a unified diff and exit 1 when the output directory (--out-dir, or
    /// the environment's outDir) is not up to date.
    #[arg(long)]
    pub check: bool,
    /// Policy file for the check of every rendered APIRule.
    #[arg(long, env = "KEXPOSE_POLICY")]
    pub policy: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    pub color: Color,
    /// Largest file accepted, in bytes.
    #[arg(long, default_value_t = source::DEFAULT_MAX_FILE_SIZE)]
    pub max_file_size: u64,
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
        RenderArgs {
            paths: Vec::new(),
            project: ProjectArgs {
                config: Some(config),
                environment: None,
            },
            template: TemplateArgs::default(),
            api_version: None,
            lock: None,
            out_dir: Some(PathBuf::new()),
            check: false,
            policy: None,
            color: Color::Auto,
            max_file_size: source::DEFAULT_MAX_FILE_SIZE,
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
    let project = args.project.load()?;
    let policy = load_policy(project.policy(args.policy.as_ref()).as_ref())?;
    let template = project.template(&args.template)?;
    let lock = project.lock(args.lock.as_ref())?;
    let paths = project.paths(&args.paths, project::DefaultPaths::Specs);
    let inputs = project.inputs(&paths)?;
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
    let mut rendered = render::render(
        &inputs,
        &render::Options {
            version,
            policy: &policy,
            template: &template,
            lock: &lock,
            max_file_size: args.max_file_size,
            source_root: project.config.as_ref().map(|c| c.root.as_path()),
        },
    );
    if rendered.errors + rendered.warnings > 0 {
        let run = Run::new(std::mem::take(&mut rendered.reports));
        let mut err = io::stderr().lock();
        findings_to_stderr(&run, args.color, &mut err)?;
        let values = &args.template.values;
        if let Some(hint) =
            project::lock_hint(&project, &run, &args.paths, values, args.lock.as_ref())
        {
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
                let command = project.command("render", &args.paths, &args.template.values, &rest);
                eprintln!(
                    "kexpose: {} file(s) in {} differ from a fresh render; run `{command}`",
                    drift.diffs.len(),
                    dir.display(),
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

/// `render --istio`: the Istio objects api-gateway would generate, for
/// reading and review.
fn istio(args: &RenderArgs, out: &mut dyn Write) -> Result<Outcome, Fatal> {
    let model = super::explain::ModelArgs {
        paths: args.paths.clone(),
        project: args.project.clone(),
        template: args.template.clone(),
        lock: args.lock.clone(),
        policy: args.policy.clone(),
        domain: Some(args.domain.clone()),
        color: args.color,
        max_file_size: args.max_file_size,
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
