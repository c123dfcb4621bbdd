//! `kexpose lock`: OpenID discovery for every issuer the specs name, into
//! kexpose.lock, all or nothing; `--check` compares instead.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::Args;

use super::args::TemplateArgs;
use super::identity::{NetArgs, block_on, refused};
use super::{Fatal, Outcome};
use crate::identity::lock::{self, Difference, Entry, Lock};
use crate::identity::net::Client;
use crate::identity::oidc;
use crate::source;

#[derive(Args)]
pub struct LockArgs {
    /// Spec files or directories (searched for *.yaml, *.yml, *.json), or `-` for stdin.
    #[arg(default_value = ".")]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub template: TemplateArgs,
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

/// `kexpose lock`: discovery for every issuer the specs name, all or nothing.
pub fn lock(args: &LockArgs) -> Result<Outcome, Fatal> {
    let template = args.template.context()?;
    let mut inputs = source::expand(&args.paths)?;
    inputs.sort();
    inputs.dedup();
    let named = crate::pipeline::named_issuers(&inputs, &template, args.max_file_size).map_err(
        |errors| {
            Fatal::Message(format!(
                "cannot read the specs, so no lock could be complete:\n  {}",
                errors.join("\n  ")
            ))
        },
    )?;
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
