//! The commands that talk to identity providers and exposed endpoints:
//! `lock`, `token` and `probe`. They share the network options and the
//! way a token endpoint is found.
//!
//! Exit status: 0 when the job is done, 1 when the answer is no (an issuer
//! that fails discovery, a lock that differs, a refused token, a failed
//! probe check), 2 for usage and local I/O errors.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};
use serde_json::json;

use super::{Fatal, Outcome};
use crate::lock::{self, Difference, Entry, Lock};
use crate::net::{self, Client};
use crate::oidc::{self, Credentials, Grant};
use crate::probe;
use crate::source;

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
    fn client(&self) -> Result<Client, Fatal> {
        Client::new(net::Options {
            ca_file: self.ca_file.clone(),
            allow_http: self.allow_http,
            connect_timeout: Duration::from_secs(self.connect_timeout.max(1)),
            timeout: Duration::from_secs(self.timeout.max(1)),
            resolve: self.resolve.clone(),
            proxies: net::proxy::Proxies::from_env().map_err(Fatal::Message)?,
            ..net::Options::default()
        })
        .map_err(Fatal::Message)
    }
}

#[derive(Args)]
pub struct LockArgs {
    /// Spec files or directories (searched for *.yaml, *.yml, *.json), or `-` for stdin.
    #[arg(default_value = ".")]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub template: super::TemplateArgs,
    /// The lock file to write (or compare with --check).
    #[arg(long, value_name = "FILE", default_value = lock::DEFAULT_PATH)]
    pub lock: PathBuf,
    /// Write nothing; exit 1 when the lock misses an issuer the specs name, holds one they
    /// no longer name, or (unless --offline) no longer matches discovery.
    #[arg(long)]
    pub check: bool,
    /// With --check: compare the lock with the specs only, without the network.
    #[arg(long, requires = "check")]
    pub offline: bool,
    /// Largest spec file accepted, in bytes.
    #[arg(long, default_value_t = source::DEFAULT_MAX_FILE_SIZE)]
    pub max_file_size: u64,
    #[command(flatten)]
    pub net: NetArgs,
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

fn block_on<F: std::future::Future>(future: F) -> Result<F::Output, Fatal> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Fatal::Message(format!("cannot start the runtime: {e}")))?;
    Ok(runtime.block_on(future))
}

/// A "no" from the other side: said on stderr, exit status 1.
fn refused(message: &str) -> Result<Outcome, Fatal> {
    eprintln!("kexpose: {message}");
    Ok(Outcome::Findings)
}

/// `kexpose lock`: discovery for every issuer the specs name, all or nothing.
pub fn lock(args: &LockArgs) -> Result<Outcome, Fatal> {
    let template = args.template.context()?;
    let mut inputs = source::expand(&args.paths)?;
    inputs.sort();
    inputs.dedup();
    let named = lock::named_issuers(&inputs, &template, args.max_file_size).map_err(|errors| {
        Fatal::Message(format!(
            "cannot read the specs, so no lock could be complete:\n  {}",
            errors.join("\n  ")
        ))
    })?;
    if named.is_empty() {
        return Err(Fatal::Message(
            "no issuers are named in the specs (spec.issuers of an Exposure or Issuers document)"
                .into(),
        ));
    }
    if args.check {
        check_lock(args, &named)
    } else {
        write_lock(args, &named)
    }
}

type Named = BTreeMap<String, Vec<lock::Use>>;

fn write_lock(args: &LockArgs, named: &Named) -> Result<Outcome, Fatal> {
    let Some(discovered) = discover_named(args, named, "not written")? else {
        return Ok(Outcome::Findings);
    };
    let fetched_at = lock::now_rfc3339();
    let entries = discovered
        .iter()
        .map(|(issuer, d)| (issuer.clone(), Entry::new(d, fetched_at.clone())))
        .collect();
    let text = Lock::new(entries).to_text();
    crate::render::write_atomic(&args.lock, text.as_bytes())
        .map_err(|e| Fatal::Message(format!("cannot write {}: {e}", args.lock.display())))?;
    for (issuer, d) in &discovered {
        eprintln!(
            "locked {issuer}: jwks_uri {}, {} signing key(s)",
            d.jwks_uri,
            d.key_ids.len()
        );
    }
    eprintln!(
        "kexpose: wrote {} ({} issuer(s))",
        args.lock.display(),
        discovered.len()
    );
    Ok(Outcome::Clean)
}

fn check_lock(args: &LockArgs, named: &Named) -> Result<Outcome, Fatal> {
    let lock = match Lock::read(&args.lock) {
        Ok(l) => l,
        Err(e) => return refused(&format!("{e}; run `kexpose lock`")),
    };
    let mut differences = lock::against_specs(&lock, named);
    if !args.offline {
        let Some(discovered) = discover_named(args, named, "not compared")? else {
            return Ok(Outcome::Findings);
        };
        for (issuer, now) in &discovered {
            let Some(entry) = lock.issuers.get(issuer) else {
                continue;
            };
            differences.extend(lock::against_discovery(issuer, entry, now));
            if entry.key_ids != now.key_ids {
                eprintln!(
                    "kexpose: note: {issuer}: signing keys changed since {} (locked: {}; now: {}); the APIRules do not depend on them",
                    entry.fetched_at,
                    entry.key_ids.join(", "),
                    now.key_ids.join(", ")
                );
            }
        }
    }
    Ok(verdict(&args.lock, &lock, differences))
}

/// Discovery for every named issuer, with every failure said; `None` when
/// any failed (`what` says what then happens to the lock).
fn discover_named(
    args: &LockArgs,
    named: &Named,
    what: &str,
) -> Result<Option<BTreeMap<String, oidc::Discovered>>, Fatal> {
    let client = args.net.client()?;
    let found = block_on(discover_all(&client, named.keys().cloned().collect()))?;
    let mut failed = 0;
    let mut discovered = BTreeMap::new();
    for (issuer, result) in found {
        let d = match result {
            Ok(d) => d,
            Err(e) => {
                failed += 1;
                eprintln!("kexpose: {e}");
                continue;
            }
        };
        for u in &named[&issuer] {
            if let Some(own) = u.jwks_uri.as_ref().filter(|own| **own != d.jwks_uri) {
                eprintln!(
                    "kexpose: note: {} ({}) sets jwksUri {own}, but discovery says {}; the spec's value is used",
                    u.file, u.name, d.jwks_uri
                );
            }
        }
        discovered.insert(issuer, d);
    }
    if failed > 0 {
        eprintln!(
            "kexpose: {failed} of {} issuer(s) failed discovery; {} {what}",
            named.len(),
            args.lock.display()
        );
        return Ok(None);
    }
    Ok(Some(discovered))
}

fn verdict(path: &std::path::Path, lock: &Lock, differences: Vec<Difference>) -> Outcome {
    if differences.is_empty() {
        eprintln!(
            "kexpose: {} is up to date ({} issuer(s))",
            path.display(),
            lock.issuers.len()
        );
        return Outcome::Clean;
    }
    for d in &differences {
        eprintln!("kexpose: {d}");
    }
    eprintln!(
        "kexpose: {} does not match; run `kexpose lock`",
        path.display()
    );
    Outcome::Findings
}

/// Discovery for every issuer at once; results in issuer order.
async fn discover_all(
    client: &Client,
    issuers: Vec<String>,
) -> BTreeMap<String, Result<oidc::Discovered, String>> {
    let tasks: Vec<_> = issuers
        .into_iter()
        .map(|issuer| {
            let client = client.clone();
            let task = tokio::spawn({
                let issuer = issuer.clone();
                async move { oidc::discover(&client, &issuer).await }
            });
            (issuer, task)
        })
        .collect();
    let mut out = BTreeMap::new();
    for (issuer, task) in tasks {
        let result = task
            .await
            .unwrap_or_else(|e| Err(format!("{issuer}: discovery stopped: {e}")));
        out.insert(issuer, result);
    }
    out
}

impl CredentialArgs {
    fn credentials(&self) -> Result<Credentials, Fatal> {
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
    fn token(
        &self,
        client: &Client,
        credentials: &Credentials,
    ) -> Result<Result<oidc::Token, String>, Fatal> {
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
                        format!("{}: no token_endpoint", oidc::discovery_url(&issuer))
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

/// `kexpose token`: the client-credentials grant; the token on stdout.
pub fn token(args: &TokenArgs, out: &mut dyn Write) -> Result<Outcome, Fatal> {
    let credentials = args.credentials.credentials()?;
    let client = args.net.client()?;
    let token = match args.credentials.token(&client, &credentials)? {
        Ok(t) => t,
        Err(e) => return refused(&e),
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
                eprintln!("{pretty}");
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
