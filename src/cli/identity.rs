//! The commands that talk to identity providers and exposed endpoints:
//! `lock`, `token` and `probe`. They share the network options and the
//! way a token endpoint is found.
//!
//! Exit status: 0 when the job is done, 1 when the answer is no (an issuer
//! that fails discovery, a lock that differs, a refused token, a failed
//! probe check), 2 for usage and local I/O errors.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::stream::say;
use super::{Fatal, Outcome};
use crate::identity::lock;
use crate::identity::net::{self, Client};
use crate::identity::oidc::{self, Credentials, Grant};

#[derive(Args, Clone)]
pub struct NetArgs {
    /// Allow plain-http URLs (for test servers on loopback); https is required otherwise.
    #[arg(long)]
    pub allow_http: bool,
    /// Trust only the CA certificates in this PEM file instead of the system's.
    #[arg(long, env = "KEXPOSE_CA_FILE", value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// Seconds to wait for a connection.
    #[arg(long, value_name = "SECONDS", default_value_t = 5)]
    pub connect_timeout: u64,
    /// Seconds one request may take, redirects and the whole answer included.
    #[arg(long, value_name = "SECONDS", default_value_t = 15)]
    pub timeout: u64,
    /// Connect to ADDRESS for HOST:PORT instead of asking DNS, as curl --resolve
    /// (repeatable); Host header and certificate name stay the URL's.
    #[arg(long, value_name = "HOST:PORT:ADDRESS")]
    pub resolve: Vec<net::Resolve>,
}

impl NetArgs {
    pub fn client(&self) -> Result<Client, Fatal> {
        Client::new(net::Options {
            ca_file: self.ca_file.clone(),
            allow_http: self.allow_http,
            connect_timeout: Duration::from_secs(self.connect_timeout.max(1)),
            timeout: Duration::from_secs(self.timeout.max(1)),
            resolve: self.resolve.clone(),
            proxies: net::proxy::Proxies::from_env().map_err(|e| Fatal::Message(e.to_string()))?,
            ..net::Options::default()
        })
        .map_err(|e| Fatal::Message(e.to_string()))
    }
}

/// How `token` and `probe` get a token.
#[derive(Args, Clone)]
pub struct CredentialArgs {
    /// The issuer to ask: its token endpoint comes from the lock, else from discovery.
    /// Default: the lock's only issuer.
    #[arg(long)]
    pub issuer: Option<String>,
    /// The token endpoint itself, without discovery.
    #[arg(long, conflicts_with = "issuer")]
    pub token_endpoint: Option<String>,
    /// Lock file to read token endpoints from (default: kexpose.lock if present).
    #[arg(long, value_name = "FILE")]
    pub lock: Option<PathBuf>,
    /// The client's id.
    #[arg(long, env = "CLIENT_ID")]
    pub client_id: Option<String>,
    /// Prefer the CLIENT_SECRET variable: arguments are visible to other users.
    #[arg(long, env = "CLIENT_SECRET", hide_env_values = true)]
    pub client_secret: Option<String>,
    /// Space-separated scopes to ask for.
    #[arg(long)]
    pub scope: Option<String>,
    /// A resource (audience) to ask for, as an RFC 8707 resource indicator (repeatable).
    #[arg(long = "resource", value_name = "URI")]
    pub resources: Vec<String>,
}

impl CredentialArgs {
    pub fn credentials(&self) -> Result<Credentials, Fatal> {
        let missing = |what: &str, var: &str| {
            Fatal::Message(format!(
                "no client {what}: set {var} or pass --client-{what}"
            ))
        };
        Ok(Credentials {
            id: self
                .client_id
                .clone()
                .ok_or_else(|| missing("id", "CLIENT_ID"))?,
            secret: self
                .client_secret
                .clone()
                .ok_or_else(|| missing("secret", "CLIENT_SECRET"))?,
        })
    }

    /// Where the token endpoint comes from: given, else the lock, else
    /// discovery of the issuer. Everything that needs no network (a broken
    /// lock, no issuer to ask) fails here, as a usage error.
    fn endpoint(&self) -> Result<Endpoint, Fatal> {
        if let Some(endpoint) = &self.token_endpoint {
            return Ok(Endpoint::Known(endpoint.clone()));
        }
        let lock = lock::resolve(self.lock.as_ref())?;
        let issuer = match (&self.issuer, lock.issuers.len()) {
            (Some(issuer), _) => issuer.clone(),
            (None, 1) => lock.issuers.keys().next().cloned().unwrap_or_default(),
            (None, 0) => {
                return Err(Fatal::Message(
                    "name the issuer with --issuer (or the endpoint with --token-endpoint)".into(),
                ));
            }
            (None, _) => {
                return Err(Fatal::Message(format!(
                    "the lock holds several issuers; choose one with --issuer: {}",
                    lock.issuers.keys().cloned().collect::<Vec<_>>().join(", ")
                )));
            }
        };
        Ok(
            match lock
                .issuers
                .get(&issuer)
                .and_then(|e| e.token_endpoint.clone())
            {
                Some(endpoint) => Endpoint::Known(endpoint),
                None => Endpoint::Discover(issuer),
            },
        )
    }

    /// A token, or the other side's "no".
    pub fn token(
        &self,
        client: &Client,
        credentials: &Credentials,
    ) -> Result<Result<oidc::Token, oidc::OidcError>, Fatal> {
        let endpoint = self.endpoint()?;
        let grant = Grant {
            scope: self.scope.clone(),
            resources: self.resources.clone(),
        };
        block_on(async {
            let endpoint = match endpoint {
                Endpoint::Known(e) => e,
                Endpoint::Discover(issuer) => oidc::discover(client, &issuer)
                    .await?
                    .token_endpoint
                    .ok_or_else(|| {
                        oidc::OidcError::NoTokenEndpoint(oidc::discovery_url(&issuer))
                    })?,
            };
            oidc::client_credentials(client, &endpoint, credentials, &grant).await
        })
    }
}

enum Endpoint {
    Known(String),
    Discover(String),
}

pub fn block_on<F: std::future::Future>(future: F) -> Result<F::Output, Fatal> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Fatal::Message(format!("cannot start the runtime: {e}")))?;
    Ok(runtime.block_on(future))
}

/// A "no" from the other side: said on stderr, exit status 1.
pub fn refused(message: &str) -> Result<Outcome, Fatal> {
    say!("kexpose: {message}");
    Ok(Outcome::Findings)
}
