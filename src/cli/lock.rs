//! `kexpose lock`: OpenID discovery for every issuer the specs name, into
//! kexpose.lock, all or nothing; `--check` compares instead.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::Args;

use super::identity::{NetArgs, block_on, refused};
use super::project::{self, Project, ProjectArgs, Reads};
use super::stream::say;
use super::{Fatal, Outcome};
use crate::identity::lock::{self, Difference, Entry, Lock};
use crate::identity::net::Client;
use crate::identity::oidc;
use crate::load;
use crate::policy::Policy;

#[derive(Args)]
pub struct LockArgs {
    /// Spec files or directories (searched for *.yaml, *.yml, *.json), or `-` for stdin
    /// (default: the specs of kexpose.yaml, else the working directory).
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub project: ProjectArgs,
    /// The lock file to write (or compare with --check) (default: the project's, else
    /// kexpose.lock).
    #[arg(long, value_name = "FILE")]
    pub lock: Option<PathBuf>,
    /// Write nothing; exit 1 when the lock misses an issuer the specs name, holds one they
    /// no longer name, or (unless --offline) no longer matches discovery.
    #[arg(long)]
    pub check: bool,
    /// With --check: compare the lock with the specs only, without the network.
    #[arg(long, requires = "check")]
    pub offline: bool,
    #[command(flatten)]
    pub net: NetArgs,
}

/// `kexpose lock`: discovery for every issuer the specs name, all or nothing.
pub fn lock(args: &LockArgs) -> Result<Outcome, Fatal> {
    let project = args.project.load()?;
    let run = Run {
        path: project.lock_path(args.lock.as_ref()),
        command: command(args, &project),
    };
    let template = project.template(&args.project.template)?;
    let inputs = project.inputs(&project.paths(&args.paths, Reads::Specs), Reads::Specs)?;
    // The issuers as the specs write them: no lock fills them in here.
    let (policy, no_lock) = (Policy::default(), Lock::default());
    let files = load::read(
        &inputs,
        &load::Settings {
            max_file_size: args.project.max_file_size,
            ..load::Settings::new(&policy, &template, &no_lock)
        },
    );
    let named = crate::pipeline::named_issuers(&files).map_err(|errors| {
        Fatal::Message(format!(
            "cannot read the specs, so no lock could be complete:\n  {}",
            errors.join("\n  ")
        ))
    })?;
    if args.check {
        return check_lock(args, &run, &named);
    }
    if named.is_empty() {
        return Err(Fatal::Message(
            "no issuers are named in the specs (spec.issuers of an Exposure or Issuers document)"
                .into(),
        ));
    }
    write_lock(args, &run, &named)
}

/// Where this run's lock is, and the whole command that writes it.
struct Run {
    path: PathBuf,
    command: String,
}

/// `kexpose lock` with this run's specs and values, from here.
fn command(args: &LockArgs, project: &Project) -> String {
    let rest: Vec<String> = match &args.lock {
        Some(path) => vec![
            "--lock".to_owned(),
            project::shell_word(&path.display().to_string()),
        ],
        None => Vec::new(),
    };
    project.command("lock", &args.paths, &args.project.template.values, &rest)
}

type Named = BTreeMap<String, Vec<lock::Use>>;

fn write_lock(args: &LockArgs, run: &Run, named: &Named) -> Result<Outcome, Fatal> {
    let Some(discovered) = discover_named(args, run, named, "not written")? else {
        return Ok(Outcome::Findings);
    };
    let fetched_at = lock::now_rfc3339();
    let entries = discovered
        .iter()
        .map(|(issuer, d)| (issuer.clone(), Entry::new(d, fetched_at.clone())))
        .collect();
    let text = Lock::new(entries).to_text();
    crate::render::write_atomic(&run.path, text.as_bytes())
        .map_err(|e| Fatal::Message(format!("cannot write {}: {e}", run.path.display())))?;
    for (issuer, d) in &discovered {
        say!(
            "locked {issuer}: jwks_uri {}, {} signing key(s)",
            d.jwks_uri,
            d.key_ids.len()
        );
    }
    say!(
        "kexpose: wrote {} ({} issuer(s))",
        run.path.display(),
        discovered.len()
    );
    Ok(Outcome::Clean)
}

fn check_lock(args: &LockArgs, run: &Run, named: &Named) -> Result<Outcome, Fatal> {
    if !run.path.exists() {
        // Without a lock, every issuer must set its own jwksUri.
        let unset: Vec<String> = named
            .iter()
            .filter(|(_, uses)| uses.iter().any(|u| u.jwks_uri.is_none()))
            .map(|(issuer, uses)| {
                let at: Vec<String> = uses
                    .iter()
                    .filter(|u| u.jwks_uri.is_none())
                    .map(|u| format!("{} ({})", u.file, u.name))
                    .collect();
                format!("{issuer} in {}", at.join(", "))
            })
            .collect();
        if unset.is_empty() {
            say!(
                "kexpose: no lock needed: every issuer the specs name sets its jwksUri ({} issuer(s))",
                named.len()
            );
            return Ok(Outcome::Clean);
        }
        say!(
            "kexpose: {} is missing, and {} issuer(s) set no jwksUri:",
            run.path.display(),
            unset.len()
        );
        for u in &unset {
            say!("  {u}");
        }
        return refused(&format!(
            "set their jwksUri, or record discovery with `{}`",
            run.command
        ));
    }
    let lock = match Lock::read(&run.path) {
        Ok(l) => l,
        Err(e) => return refused(&format!("{e}; run `{}`", run.command)),
    };
    let mut differences = lock::against_specs(&lock, named);
    if !args.offline {
        let Some(discovered) = discover_named(args, run, named, "not compared")? else {
            return Ok(Outcome::Findings);
        };
        for (issuer, now) in &discovered {
            let Some(entry) = lock.issuers.get(issuer) else {
                continue;
            };
            differences.extend(lock::against_discovery(issuer, entry, now));
            if entry.key_ids != now.key_ids {
                say!(
                    "kexpose: note: {issuer}: signing keys changed since {} (locked: {}; now: {}); the APIRules do not depend on them",
                    entry.fetched_at,
                    entry.key_ids.join(", "),
                    now.key_ids.join(", ")
                );
            }
        }
    }
    Ok(verdict(run, &lock, differences))
}

/// Discovery for every named issuer, with every failure said; `None` when
/// any failed (`what` says what then happens to the lock).
fn discover_named(
    args: &LockArgs,
    run: &Run,
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
                say!("kexpose: {e}");
                continue;
            }
        };
        for u in &named[&issuer] {
            if let Some(own) = u.jwks_uri.as_ref().filter(|own| **own != d.jwks_uri) {
                say!(
                    "kexpose: note: {} ({}) sets jwksUri {own}, but discovery says {}; the spec's value is used",
                    u.file,
                    u.name,
                    d.jwks_uri
                );
            }
        }
        discovered.insert(issuer, d);
    }
    if failed > 0 {
        say!(
            "kexpose: {failed} of {} issuer(s) failed discovery; {} {what}",
            named.len(),
            run.path.display()
        );
        return Ok(None);
    }
    Ok(Some(discovered))
}

fn verdict(run: &Run, lock: &Lock, differences: Vec<Difference>) -> Outcome {
    let path = &run.path;
    if differences.is_empty() {
        say!(
            "kexpose: {} is up to date ({} issuer(s))",
            path.display(),
            lock.issuers.len()
        );
        return Outcome::Clean;
    }
    for d in &differences {
        say!("kexpose: {d}");
    }
    say!(
        "kexpose: {} does not match; run `{}`",
        path.display(),
        run.command
    );
    Outcome::Findings
}

/// Discovery for every issuer at once; results in issuer order.
async fn discover_all(
    client: &Client,
    issuers: Vec<String>,
) -> BTreeMap<String, Result<oidc::Discovered, oidc::OidcError>> {
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
        let result = task.await.unwrap_or_else(|e| {
            Err(oidc::OidcError::Net(crate::identity::net::Error {
                url: issuer.clone(),
                message: format!("discovery stopped: {e}"),
            }))
        });
        out.insert(issuer, result);
    }
    out
}
