//! `kexpose explain`: the status one request would get (200, 401, 403,
//! 404) from the APIRules and exposures given, and the chain of reasons,
//! each at its file, line and column.

use std::io::{self, Write};
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use serde::Serialize;

use super::args::findings_to_stderr;
use super::project::{InputArgs, Reads};
use super::{Fatal, Outcome};
use crate::access::load::{self, Loaded, Place};
use crate::access::request::{self, Caller, Request, Token, TokenAt};
use crate::access::{Model, Outcome as Access};
use crate::report::Run;
use crate::source::Input;

/// What the access faces read: APIRules and exposure specs, as `render`
/// takes them.
#[derive(Args)]
pub struct ModelArgs {
    /// APIRule and spec files or directories (default: the project, else the working directory).
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub input: InputArgs,
    /// The gateway's domain, which short hosts (`httpbin`) are served under
    /// (default: taken from each request's host).
    #[arg(long, value_name = "DOMAIN")]
    pub domain: Option<String>,
}

impl ModelArgs {
    /// Loads the inputs. Problems are printed on stderr; `Err` carries the
    /// outcome to exit with.
    pub fn load(&self) -> Result<(Loaded, Vec<Input>), Result<Outcome, Fatal>> {
        let inner = || -> Result<(Loaded, Vec<Input>), Fatal> {
            let run = self.input.resolve(&self.paths, Reads::Environment)?;
            let files = crate::load::read(&run.inputs, &run.settings());
            let loaded = load::load(files, &run.policy);
            Ok((loaded, run.inputs))
        };
        let (mut loaded, inputs) = inner().map_err(Err)?;
        if loaded.reports.is_empty() && loaded.errors.is_empty() {
            return Ok((loaded, inputs));
        }
        let mut err = super::stream::stderr();
        let mut report = || -> io::Result<()> {
            if !loaded.reports.is_empty() {
                let run = Run::new(std::mem::take(&mut loaded.reports));
                findings_to_stderr(&run, self.input.color, &mut err)?;
            }
            for e in &loaded.errors {
                writeln!(err, "kexpose: {e}")?;
            }
            writeln!(
                err,
                "kexpose: the inputs must load and render cleanly first (kexpose check shows every finding)"
            )
        };
        report().map_err(|e| Err(Fatal::Io(e)))?;
        Err(Ok(Outcome::Failure))
    }
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExplainFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Decision {
    Allow,
    Deny,
}

#[derive(Args)]
pub struct ExplainArgs {
    /// The request: "METHOD URL", e.g. "GET https://httpbin.example.com/headers".
    #[arg(long, value_name = "REQUEST")]
    pub request: String,
    /// Send no token (the default).
    #[arg(long, conflicts_with_all = ["claims", "invalid_token"])]
    pub no_token: bool,
    /// Send a correctly signed token with these claims (JSON; iss required).
    #[arg(long, value_name = "JSON")]
    pub claims: Option<String>,
    /// Send a token whose signature fails (with --claims: that says these claims).
    #[arg(long)]
    pub invalid_token: bool,
    /// Where the token is sent: header:NAME[:PREFIX] or param:NAME.
    #[arg(long, value_name = "WHERE", default_value = "header:Authorization")]
    pub token_in: String,
    /// The caller is inside the cluster and bypasses the ingress gateway.
    #[arg(long)]
    pub from_cluster: bool,
    /// What the external authorizer of an extAuth rule decides (default: unknown; the answer says it depends).
    #[arg(long, value_enum)]
    pub authorizer: Option<Decision>,
    #[arg(long, value_enum, default_value_t = ExplainFormat::Text)]
    pub format: ExplainFormat,
    #[command(flatten)]
    pub model: ModelArgs,
}

impl ExplainArgs {
    fn request(&self) -> Result<Request, Fatal> {
        let mut request = Request::parse(&self.request)?;
        let claims = self.claims.as_deref().map(request::claims).transpose()?;
        request.token = match (claims, self.invalid_token) {
            (claims, true) => Token::Forged(claims),
            (Some(claims), false) => Token::Signed(claims),
            (None, false) => Token::None,
        };
        request.at = TokenAt::parse(&self.token_in)?;
        if self.from_cluster {
            request.caller = Caller::Cluster;
        }
        request.authorizer = self.authorizer.map(|d| d == Decision::Allow);
        Ok(request)
    }
}

pub fn explain(args: &ExplainArgs, out: &mut dyn Write) -> Result<Outcome, Fatal> {
    let request = args.request()?;
    let (loaded, _) = match args.model.load() {
        Ok(l) => l,
        Err(outcome) => return outcome,
    };
    if loaded.apirules.is_empty() {
        return Err(Fatal::Message(
            "no APIRule (v2, v2alpha1) or Exposure found to explain the request against".into(),
        ));
    }
    let model = Model::new(&loaded.apirules, args.model.domain.as_deref());
    let outcome = model.explain(&request);
    let view = View::of(&outcome, &request, &loaded);
    match args.format {
        ExplainFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, &view).map_err(io::Error::from)?;
            writeln!(out)?;
        }
        ExplainFormat::Text => view.text(out)?,
    }
    out.flush()?;
    Ok(Outcome::Clean)
}

/// An outcome with its places resolved: what both formats print.
#[derive(Serialize)]
pub struct View {
    pub request: String,
    pub token: String,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// When non-empty, the status holds only if these authorizers allow.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub depends_on_authorizers: Vec<String>,
    pub reasons: Vec<ReasonView>,
    pub rule: Option<RuleView>,
}

#[derive(Serialize)]
pub struct ReasonView {
    pub message: String,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub at: Option<Place>,
}

#[derive(Serialize)]
pub struct RuleView {
    pub apirule: String,
    /// The rule's index in `spec.rules`, from 0.
    pub index: usize,
    pub path: String,
    pub methods: Vec<&'static str>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub at: Option<Place>,
}

impl Serialize for Place {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(3))?;
        m.serialize_entry("file", &self.file)?;
        m.serialize_entry("line", &self.line)?;
        m.serialize_entry("column", &self.column)?;
        m.end()
    }
}

impl View {
    pub fn of(outcome: &Access, request: &Request, loaded: &Loaded) -> View {
        let token = match &request.token {
            Token::None => "no token".to_owned(),
            Token::Signed(c) => format!(
                "a valid token from {} in {}",
                c.get("iss").and_then(|v| v.as_str()).unwrap_or_default(),
                request.at.describe()
            ),
            Token::Forged(_) => format!(
                "a token that fails verification, in {}",
                request.at.describe()
            ),
        };
        View {
            request: request.line(),
            token,
            status: outcome.status,
            message: outcome.message.clone(),
            depends_on_authorizers: outcome.authorizers.clone(),
            reasons: outcome
                .reasons
                .iter()
                .map(|r| ReasonView {
                    message: r.message.clone(),
                    at: r.at.as_ref().and_then(|at| loaded.place(at)),
                })
                .collect(),
            rule: outcome.rule.and_then(|(a, r)| {
                let rule = loaded.apirules[a].spec.as_ref()?.rules.get(r)?;
                Some(RuleView {
                    apirule: loaded.name(a),
                    index: r,
                    path: rule.path.clone(),
                    methods: rule.methods.iter().map(|m| m.as_str()).collect(),
                    at: loaded.place(&crate::access::At::new(a, format!("/spec/rules/{r}"))),
                })
            }),
        }
    }

    /// The status first, then the reasons, each under its place.
    pub fn text(&self, out: &mut dyn Write) -> io::Result<()> {
        let mut status = self.status.to_string();
        if let Some(m) = &self.message {
            status.push(' ');
            status.push_str(m);
        }
        if !self.depends_on_authorizers.is_empty() {
            status.push_str(&format!(
                " if the external authorizer {} allows the request (else its own answer)",
                self.depends_on_authorizers.join(", ")
            ));
        }
        writeln!(out, "{status}")?;
        writeln!(out, "  {}, {}", self.request, self.token)?;
        writeln!(out)?;
        for (i, r) in self.reasons.iter().enumerate() {
            writeln!(out, "{:>3}. {}", i + 1, r.message)?;
            if let Some(at) = &r.at {
                writeln!(out, "      --> {at}")?;
            }
        }
        Ok(())
    }
}
