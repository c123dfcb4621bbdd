//! The one pipeline behind `check` (and the checks of `argocd` and `policy
//! test`), top to bottom:
//!
//! 1. inputs: `source` expands paths and reads texts within the limits;
//! 2. documents: spec templates rendered once (`rendered`), YAML loaded;
//! 3. resolution: values (the template context), the shared issuers of the
//!    whole run, and the lock that fills in missing `jwksUri`s (`Resolved`);
//! 4. APIRules: exposure specs compiled, other objects taken as they are;
//! 5. judge: the core (`check::judge`) on every APIRule;
//! 6. report: findings placed at line and column (`report::FileReport`).
//!
//! The core knows nothing of the stages before it; this module is where
//! files, specs and locks meet. `file` checks one file; `claims` holds what
//! only the whole run can tell (X005, R011, shared issuer fields).

use std::borrow::Cow;
use std::collections::BTreeMap;

use rayon::prelude::*;
use serde_json::Value;

use crate::check::objects;
use crate::compile::{DocRef, IssuerBook};
use crate::exposure;
use crate::identity::lock::{self, Lock};
use crate::policy::Policy;
use crate::report::{Checked, FileReport};
use crate::rules::Code;
use crate::source::{self, Input, Unreadable};
use crate::spec::{self, template};
use crate::yaml::{self, Limits};

mod claims;
mod file;

use claims::Claims;
use file::check_claiming;

/// What resolution found for a whole run: the values templates render
/// with, the issuers every file may name, and the lock that fills in their
/// jwksUri.
#[derive(Debug, Clone, Default)]
pub struct Resolved {
    pub template: template::Context,
    pub issuers: IssuerBook,
    pub lock: Lock,
}

/// A spec file's text rendered (once per run), or the P009 report that
/// says why it does not render. Text without spec documents is borrowed.
pub fn rendered<'a>(
    file: &str,
    text: &'a str,
    ctx: &template::Context,
    policy: &Policy,
) -> Result<Cow<'a, str>, Box<FileReport>> {
    if !exposure::mentions_spec(text) {
        // kexpose renders its own specs; any other template must be
        // rendered by its own tool before there is anything to check.
        if let Some(at) = source::unrendered_template(text) {
            return Err(Box::new(FileReport::file_error(
                file,
                Code::P010,
                "unrendered template syntax: this file is a template, not a manifest; render it first (helm template ... | kexpose check -) or exclude it in kexpose.yaml".into(),
                at,
                policy,
            )));
        }
        return Ok(Cow::Borrowed(text));
    }
    template::render_if_template(file, text, ctx).map_err(|e| {
        Box::new(FileReport::file_error(
            file,
            Code::P009,
            e.message,
            e.position,
            policy,
        ))
    })
}

/// The shared issuers of a run's loaded spec texts (`kind: Issuers`
/// documents, jwksUri already filled in from the lock). Broken documents
/// are skipped here; checking their file reports them.
pub fn shared_issuers<'a>(
    loaded: impl IntoIterator<Item = (usize, &'a str, &'a yaml::Stream)>,
) -> IssuerBook {
    let mut book = IssuerBook::new();
    for (source, name, stream) in loaded {
        for (document, doc) in sound(stream) {
            if spec::Kind::of(&doc.value) == Some(spec::Kind::Issuers) {
                let at = DocRef { source, document };
                let _ = exposure::issuers(&doc.value, at, name, &mut book);
            }
        }
    }
    book
}

/// The documents of a stream that loaded without a problem, with their
/// index: what resolution reads (a document with a duplicate key is
/// reported where it is checked, and lends nothing to the others).
pub(crate) fn sound(stream: &yaml::Stream) -> impl Iterator<Item = (usize, &yaml::Document)> {
    stream
        .documents
        .iter()
        .enumerate()
        .filter_map(|(i, d)| Some((i, d.as_ref().ok().filter(|d| d.problems.is_empty())?)))
}

/// A rendered text that may hold specs, loaded once for the whole run
/// (positions kept, the lock's jwksUris filled in); `None` for any other.
fn load_spec_text(text: &str, lock: &Lock, limits: Limits) -> Option<yaml::Stream> {
    if !exposure::mentions_spec(text) {
        return None;
    }
    let mut stream = yaml::load_lenient(text, limits);
    for doc in stream.documents.iter_mut().flatten() {
        lock.fill(&mut doc.value);
    }
    Some(stream)
}

/// Every issuer URL the specs among `inputs` define, with where (what
/// `kexpose lock` discovers). A file
/// that cannot be read, rendered or parsed is an error: a lock made from
/// part of the specs would look complete and not be.
pub fn named_issuers(
    inputs: &[Input],
    ctx: &template::Context,
    max_file_size: u64,
) -> Result<BTreeMap<String, Vec<lock::Use>>, Vec<String>> {
    let mut named: BTreeMap<String, Vec<lock::Use>> = BTreeMap::new();
    let mut errors = Vec::new();
    for input in inputs {
        let file = input.name();
        let text = match source::text(input, max_file_size) {
            Ok(t) => t,
            Err(Unreadable::Io(e)) => {
                errors.push(format!("{file}: {e}"));
                continue;
            }
            Err(Unreadable::Content(_, message, _)) => {
                errors.push(format!("{file}: {message}"));
                continue;
            }
        };
        if !exposure::mentions_spec(&text) {
            continue;
        }
        let text = match template::render_if_template(&file, &text, ctx) {
            Ok(t) => t,
            Err(e) => {
                let p = e.position;
                errors.push(format!("{file}:{}:{}: {}", p.line, p.column, e.message));
                continue;
            }
        };
        for doc in yaml::load_values(&text, Limits::default()).documents {
            let doc = match doc {
                Ok(d) => d,
                Err(e) => {
                    let p = e.position;
                    errors.push(format!("{file}:{}:{}: {}", p.line, p.column, e.message));
                    continue;
                }
            };
            if spec::Kind::of(&doc.value).is_none() {
                continue;
            }
            let Some(issuers) = doc
                .value
                .pointer("/spec/issuers")
                .and_then(Value::as_object)
            else {
                continue;
            };
            for (name, def) in issuers {
                let Some(url) = def.get("issuer").and_then(Value::as_str) else {
                    continue;
                };
                named.entry(url.to_owned()).or_default().push(lock::Use {
                    file: file.clone(),
                    name: name.clone(),
                    jwks_uri: def
                        .get("jwksUri")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                });
            }
        }
    }
    if errors.is_empty() {
        Ok(named)
    } else {
        Err(errors)
    }
}

/// One input read: its name, and its text or the report that says why
/// there is none.
pub type ReadFile = (String, Result<String, Box<FileReport>>);

/// A text rendered, or the report that says why it does not render.
type Render<'a> = Result<Cow<'a, str>, Box<FileReport>>;

/// Stages 2 to 6 for a run's inputs: every spec template rendered once,
/// the shared issuers resolved across `files` and `context` (the rest of
/// the project, read for resolution only), every file of `files` checked
/// in parallel, and with them, when `files` hold an `Issuers` document,
/// every spec in `context` that names a shared issuer (a changed issuer can
/// break specs that did not change). Results are in input order, dependents
/// last, each with the source lines its findings point at.
pub fn check_files(
    files: &[ReadFile],
    context: &[ReadFile],
    policy: &Policy,
    limits: Limits,
    template: template::Context,
    lock: Lock,
) -> Vec<Checked> {
    let all: Vec<&ReadFile> = files.iter().chain(context).collect();
    let renders: Vec<Option<Render<'_>>> = each(all.clone(), |(name, text)| {
        let text = text.as_ref().ok()?;
        Some(rendered(name, text, &template, policy))
    });
    let text_of = |i: usize| -> Option<&str> {
        let r = renders[i].as_ref()?.as_ref().ok()?;
        Some(r.as_ref())
    };
    // Every text that may hold specs is parsed once: shared issuers,
    // dependents, claims and the check itself all read these documents.
    let loaded: Vec<Option<yaml::Stream>> = each((0..all.len()).collect(), |i| {
        load_spec_text(text_of(i)?, &lock, limits)
    });
    let issuers = shared_issuers(
        (0..all.len()).filter_map(|i| Some((i, all[i].0.as_str(), loaded[i].as_ref()?))),
    );
    // The previous content of a changed Issuers document is unknown (an
    // issuer may have been renamed or removed), so every spec that names a
    // shared issuer depends on it.
    let issuers_changed = !context.is_empty()
        && (0..files.len()).any(|i| {
            loaded[i].as_ref().is_some_and(|s| {
                sound(s).any(|(_, d)| spec::Kind::of(&d.value) == Some(spec::Kind::Issuers))
            })
        });
    let mut checked: Vec<usize> = (0..files.len()).collect();
    if issuers_changed {
        checked.extend(
            (files.len()..all.len())
                .filter(|&i| loaded[i].as_ref().is_some_and(names_shared_issuers)),
        );
    }
    // The rest of the project can collide with the files checked.
    let context_claims: Vec<(usize, Claims)> = (files.len()..all.len())
        .filter(|i| !checked.contains(i))
        .filter_map(|i| Some((i, claims::claims_of(loaded[i].as_ref()?, policy))))
        .collect();
    let resolved = Resolved {
        template,
        issuers,
        lock,
    };
    let mut renders = renders;
    let work: Vec<(usize, Option<Render<'_>>)> =
        checked.iter().map(|&i| (i, renders[i].take())).collect();
    let mut results: Vec<(usize, FileReport, Claims)> = each(work, |(i, render)| {
        let (name, text) = all[i];
        let (report, claims) = match (text, render) {
            (Err(report), _) => ((**report).clone(), Claims::default()),
            (_, Some(Err(report))) => (*report, Claims::default()),
            (Ok(_), Some(Ok(rendered))) => check_claiming(
                name,
                i,
                &rendered,
                loaded[i].as_ref(),
                policy,
                limits,
                &resolved,
            ),
            (Ok(_), None) => unreachable!("every text that was read is rendered"),
        };
        (i, report, claims)
    });
    // Two exposures that render one APIRule are X005, as in `render`, and
    // two APIRules with one host R011: the rest of the project is looked at
    // for the files checked.
    let mut claims: Vec<Claims> = vec![Claims::default(); all.len()];
    let mut is_checked = vec![false; all.len()];
    let mut slot = vec![usize::MAX; all.len()];
    for (n, (i, _, c)) in results.iter_mut().enumerate() {
        claims[*i] = std::mem::take(c);
        is_checked[*i] = true;
        slot[*i] = n;
    }
    for (i, c) in context_claims {
        claims[i] = c;
    }
    let names: Vec<&str> = all.iter().map(|(n, _)| n.as_str()).collect();
    let found = claims::collisions(&names, &claims, &is_checked)
        .into_iter()
        .chain(claims::occupied_hosts(&names, &claims, &is_checked))
        .chain(claims::shared_fields(
            &names,
            &mut claims,
            &is_checked,
            &loaded,
        ));
    for (i, at, finding) in found {
        file::place(&mut results[slot[i]].1, policy, names[i], finding, at);
    }
    each(results, |(i, report, _)| {
        let lines = match &all[i].1 {
            Ok(text) => source::excerpt(text, &report),
            Err(_) => Vec::new(),
        };
        Checked { report, lines }
    })
}

/// `f` over `items` in order, in parallel when there are several. For one
/// file (the pre-commit case) the thread pool is never started: its threads,
/// their stacks and the page-table work they bring cost more than checking
/// the file.
pub fn each<T: Send, R: Send>(items: Vec<T>, f: impl Fn(T) -> R + Sync + Send) -> Vec<R> {
    if items.len() < 2 {
        items.into_iter().map(f).collect()
    } else {
        items.into_par_iter().map(f).collect()
    }
}

/// Whether a loaded spec text holds an exposure that names an issuer it
/// does not define itself.
fn names_shared_issuers(stream: &yaml::Stream) -> bool {
    sound(stream)
        .map(|(_, d)| d)
        .filter(|d| spec::Kind::of(&d.value) == Some(spec::Kind::Exposure))
        .any(|d| {
            let local = d.value.pointer("/spec/issuers").and_then(Value::as_object);
            let routes = d.value.pointer("/spec/routes").and_then(Value::as_array);
            routes.into_iter().flatten().any(|route| {
                ["/jwt", "/extAuth/jwt"].iter().any(|at| {
                    let Some(access) = route.pointer(at) else {
                        return false;
                    };
                    let one = access.get("issuer").into_iter();
                    let many = access
                        .get("issuers")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten();
                    one.chain(many)
                        .filter_map(Value::as_str)
                        .any(|n| !local.is_some_and(|l| l.contains_key(n)))
                })
            })
        })
}

/// Renders and checks one text on its own (no issuers shared with other
/// files); every problem is a finding.
pub fn check_text(name: &str, text: &str, policy: &Policy, specs: &Resolved) -> FileReport {
    match rendered(name, text, &specs.template, policy) {
        Ok(rendered) => check_rendered(name, &rendered, policy, Limits::default(), specs),
        Err(report) => *report,
    }
}

/// Checks the text of one file, its templates already rendered
/// (`rendered`): every document, `kind: List` items included.
///
/// Each file is loaded once, with its span index, and findings are placed
/// as they come. (Loading without positions first and again for the files
/// with findings saved 5% of instructions on an all-clean repository and
/// cost 1.5% with one file in ten broken, below what the check benchmark
/// can tell apart on this hardware: the simpler way stays.)
/// The findings of a spec file are about its rendered text, whose lines
/// are the template's wherever the template does not add lines.
pub fn check_rendered(
    file: &str,
    text: &str,
    policy: &Policy,
    limits: Limits,
    specs: &Resolved,
) -> FileReport {
    // On its own, a broken shared field is reported where this file uses it.
    let (mut report, claims) = check_claiming(file, usize::MAX, text, None, policy, limits, specs);
    for (mut l, uses) in exposure::merge_shared(claims.shared) {
        l.finding.message.push_str(" (of a shared issuer)");
        for (_, at) in uses {
            file::place(&mut report, policy, file, l.finding.clone(), at);
        }
    }
    report
}
