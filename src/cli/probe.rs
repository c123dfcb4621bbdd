//! `kexpose probe`: an exposed endpoint without, with a tampered and with a
//! real token, and the token itself, judged.

use std::io::Write;

use clap::{Args, ValueEnum};
use serde_json::json;

use super::args::TemplateArgs;
use super::explain::ModelArgs;
use super::identity::{CredentialArgs, NetArgs, block_on, refused};
use super::{Fatal, Outcome};
use crate::access::load::Loaded;
use crate::access::{Model, Request, Token};
use crate::identity::probe;

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProbeOutput {
    Text,
    Json,
}

#[derive(Args)]
pub struct ProbeArgs {
    /// The exposed endpoint, e.g. https://httpbin.example.com/headers.
    pub url: String,
    /// The token to present (default: one fetched as `kexpose token` would).
    #[arg(long, env = "KEXPOSE_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// The HTTP method of all three calls.
    #[arg(long, default_value = "GET")]
    pub method: String,
    /// A scope the token must grant (repeatable).
    #[arg(long = "expect-scope", value_name = "SCOPE")]
    pub scopes: Vec<String>,
    /// An audience the token must be for (repeatable).
    #[arg(long = "expect-audience", value_name = "AUDIENCE")]
    pub audiences: Vec<String>,
    /// The status the call with the token must answer.
    #[arg(long, value_name = "CODE", default_value_t = 200)]
    pub expect_status: u16,
    /// The report: one line per check, or JSON.
    #[arg(long, value_enum, default_value_t = ProbeOutput::Text)]
    pub output: ProbeOutput,
    /// APIRules or exposure specs to predict each answer from (repeatable); the prediction
    /// is printed beside the live answer, with what a difference suggests.
    #[arg(long, value_name = "PATH")]
    pub predict: Vec<std::path::PathBuf>,
    /// With --predict: the gateway's domain for short hosts (default: the URL's).
    #[arg(long, value_name = "DOMAIN", requires = "predict")]
    pub domain: Option<String>,
    #[command(flatten)]
    pub template: TemplateArgs,
    #[command(flatten)]
    pub credentials: CredentialArgs,
    #[command(flatten)]
    pub net: NetArgs,
}

/// `kexpose probe`: the endpoint without, with a tampered and with a real token.
pub fn probe(args: &ProbeArgs, out: &mut dyn Write) -> Result<Outcome, Fatal> {
    let method: hyper::Method = args
        .method
        .to_ascii_uppercase()
        .parse()
        .map_err(|_| Fatal::Message(format!("not an HTTP method: {}", args.method)))?;
    let url: hyper::Uri = args
        .url
        .parse()
        .map_err(|e| Fatal::Message(format!("not a URL: {}: {e}", args.url)))?;
    if !matches!(url.scheme_str(), Some("https" | "http")) || url.host().is_none() {
        return Err(Fatal::Message(format!("not an http(s) URL: {}", args.url)));
    }
    let client = args.net.client()?;
    let token = match &args.token {
        Some(t) => t.trim().to_owned(),
        None => {
            let credentials = args.credentials.credentials().map_err(|e| match e {
                Fatal::Message(m) => Fatal::Message(format!("{m}, or give the token with --token")),
                other => other,
            })?;
            match args.credentials.token(&client, &credentials)? {
                Ok(t) => t.access_token,
                Err(e) => return refused(&e.to_string()),
            }
        }
    };
    let plan = probe::Plan {
        url: args.url.clone(),
        method,
        token,
        scopes: args.scopes.clone(),
        audiences: args.audiences.clone(),
        status: args.expect_status,
    };
    // The model loads before any call, so that broken inputs cost no request.
    let predictor = match predictor(args)? {
        Ok(p) => p,
        Err(outcome) => return Ok(outcome),
    };
    let mut report = match block_on(probe::run(&client, &plan))? {
        Ok(r) => r,
        Err(e) => return refused(&e.to_string()),
    };
    if let Some(loaded) = &predictor {
        predict(&mut report, &plan, loaded, args.domain.as_deref())?;
    }
    match args.output {
        ProbeOutput::Text => out.write_all(report.text().as_bytes())?,
        ProbeOutput::Json => {
            serde_json::to_writer_pretty(&mut *out, &json!(report))
                .map_err(std::io::Error::from)?;
            writeln!(out)?;
        }
    }
    out.flush()?;
    Ok(if report.passed {
        Outcome::Clean
    } else {
        Outcome::Findings
    })
}

/// The APIRules `--predict` names, loaded; `None` without the flag.
fn predictor(args: &ProbeArgs) -> Result<Result<Option<Loaded>, Outcome>, Fatal> {
    if args.predict.is_empty() {
        return Ok(Ok(None));
    }
    let mut input = super::project::InputArgs::default();
    input.project.template = args.template.clone();
    let model = ModelArgs {
        paths: args.predict.clone(),
        input,
        domain: args.domain.clone(),
    };
    match model.load() {
        Ok((loaded, _)) if loaded.apirules.is_empty() => Err(Fatal::Message(
            "--predict names no APIRule (v2, v2alpha1) or Exposure".into(),
        )),
        Ok((loaded, _)) => Ok(Ok(Some(loaded))),
        Err(Ok(outcome)) => Ok(Err(outcome)),
        Err(Err(fatal)) => Err(fatal),
    }
}

/// Puts the prediction beside each of the three calls.
fn predict(
    report: &mut probe::Report,
    plan: &probe::Plan,
    loaded: &Loaded,
    domain: Option<&str>,
) -> Result<(), Fatal> {
    let mut request = Request::parse(&format!("{} {}", plan.method.as_str(), plan.url))?;
    let claims = crate::identity::oidc::decode(&plan.token)
        .ok()
        .and_then(|(_, c)| c.as_object().cloned());
    let model = Model::new(&loaded.apirules, domain);
    for check in &mut report.checks {
        request.token = match check.name.as_str() {
            probe::WITHOUT_TOKEN => Token::None,
            probe::TAMPERED_TOKEN => Token::Forged(claims.clone()),
            probe::WITH_TOKEN => match &claims {
                Some(c) => Token::Signed(c.clone()),
                None => Token::Forged(None),
            },
            _ => continue,
        };
        let outcome = model.explain(&request);
        let Some(observed) = check.status else {
            continue;
        };
        check.predicted = Some(probe::Predicted {
            status: outcome.status,
            reasons: outcome.reasons.iter().map(|r| loaded.describe(r)).collect(),
            suggests: crate::access::eval::suggests(outcome.status, observed).map(str::to_owned),
        });
    }
    Ok(())
}
