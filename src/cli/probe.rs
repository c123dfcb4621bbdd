//! `kexpose probe`: an exposed endpoint without, with a tampered and with a
//! real token, and the token itself, judged.

use std::io::Write;

use clap::{Args, ValueEnum};
use serde_json::json;

use super::identity::{CredentialArgs, NetArgs, block_on, refused};
use super::{Fatal, Outcome};
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
                Err(e) => return refused(&e),
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
    let report = match block_on(probe::run(&client, &plan))? {
        Ok(r) => r,
        Err(e) => return refused(&e.to_string()),
    };
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
