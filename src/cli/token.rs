//! `kexpose token`: the client-credentials grant; the token on stdout.

use std::io::Write;

use clap::{Args, ValueEnum};

use super::identity::{CredentialArgs, NetArgs, refused};
use super::stream::say;
use super::{Fatal, Outcome};
use crate::identity::oidc;

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TokenOutput {
    /// The access token alone, for `$(kexpose token)`.
    Token,
    /// The token response as JSON.
    Json,
}

#[derive(Args)]
pub struct TokenArgs {
    #[command(flatten)]
    pub credentials: CredentialArgs,
    /// The access token alone, or the token response as JSON.
    #[arg(long, value_enum, default_value_t = TokenOutput::Token)]
    pub output: TokenOutput,
    /// Decode the token's claims: to stderr with the token, into the JSON with --output json.
    #[arg(long)]
    pub show_claims: bool,
    #[command(flatten)]
    pub net: NetArgs,
}

/// `kexpose token`: the client-credentials grant; the token on stdout.
pub fn token(args: &TokenArgs, out: &mut dyn Write) -> Result<Outcome, Fatal> {
    let credentials = args.credentials.credentials()?;
    let client = args.net.client()?;
    let token = match args.credentials.token(&client, &credentials)? {
        Ok(t) => t,
        Err(e) => return refused(&e.to_string()),
    };
    let claims = if args.show_claims {
        match oidc::decode(&token.access_token) {
            Ok((_, claims)) => Some(claims),
            Err(e) => return refused(&format!("cannot show the claims: {e}")),
        }
    } else {
        None
    };
    match args.output {
        TokenOutput::Token => {
            writeln!(out, "{}", token.access_token)?;
            if let Some(claims) = claims {
                let pretty = serde_json::to_string_pretty(&claims).map_err(std::io::Error::from)?;
                say!("{pretty}");
            }
        }
        TokenOutput::Json => {
            let mut value = serde_json::to_value(&token).map_err(std::io::Error::from)?;
            if let Some(claims) = claims {
                value["claims"] = claims;
            }
            serde_json::to_writer_pretty(&mut *out, &value).map_err(std::io::Error::from)?;
            writeln!(out)?;
        }
    }
    out.flush()?;
    Ok(Outcome::Clean)
}
