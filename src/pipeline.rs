//! The one pipeline behind `check` and `render` (and so `explain`, `test`,
//! the Argo CD plugin and `policy test`), top to bottom:
//!
//! 1. inputs: `source` expands paths; `load` reads every text within the
//!    limits, renders its spec templates and parses it, once;
//! 2. resolution: the shared issuers of the whole run, from every loaded
//!    spec text (the lock's jwksUris filled in by the loader);
//! 3. APIRules: exposure specs compiled, other objects taken as they are;
//! 4. judge: the core (`check::judge`) on every APIRule;
//! 5. report: findings placed at line and column (`report::FileReport`).
//!
//! The core knows nothing of the stages before it; this module is where
//! files, specs and locks meet. `file` checks one file; `claims` holds what
//! only the whole run can tell (X005, R011, shared issuer fields);
//! `render` is the same run judging the specs alone and keeping the
//! APIRules they compile to.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::apirule::Version;
use crate::check::objects;
use crate::compile::{DocRef, IssuerBook};
use crate::exposure;
use crate::identity::lock;
use crate::load::{self, File, each, sound};
use crate::policy::Policy;
use crate::report::{Checked, FileReport};
use crate::rules::Severity;
use crate::source;
use crate::spec;
use crate::yaml;

mod claims;
mod file;
mod render;

pub use render::render;

use claims::{Claims, Compiled};
use file::check_claiming;

/// What a run judges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scope {
    /// Every object of every file (`check`).
    #[default]
    Everything,
    /// The exposure specs alone, compiled at this APIRule version
    /// (`render`); a file without specs is passed over.
    Specs(Version),
}

impl Scope {
    /// Whether `file` is judged.
    fn judges(self, file: &File) -> bool {
        self == Scope::Everything || file.may_hold_specs()
    }
}

/// What resolution found for a whole run: the issuers every file may name
/// (their jwksUri filled in from the lock where they set none), and what
/// the run judges.
#[derive(Debug, Clone, Default)]
pub struct Resolved {
    pub issuers: IssuerBook,
    pub scope: Scope,
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

/// Every issuer URL the specs among `files` define, with where (what
/// `kexpose lock` discovers). A file that cannot be read, rendered or
/// parsed is an error: a lock made from part of the specs would look
/// complete and not be.
pub fn named_issuers(files: &[File]) -> Result<BTreeMap<String, Vec<lock::Use>>, Vec<String>> {
    let mut named: BTreeMap<String, Vec<lock::Use>> = BTreeMap::new();
    let mut errors = Vec::new();
    for file in files {
        let name = &file.name;
        // A template that is not a spec is no input of the lock's.
        if let Some(report) = file.unread().filter(|_| file.may_hold_specs()) {
            let severe = report
                .diagnostics
                .iter()
                .filter(|d| d.severity == Severity::Error);
            errors.extend(severe.map(|d| located(name, d.line, d.column, &d.message)));
            continue;
        }
        if !file.holds_specs() {
            continue;
        }
        let documents = file.stream().map_or(&[][..], |s| &s.documents[..]);
        for e in documents.iter().flat_map(load::problems) {
            errors.push(located(
                name,
                e.position.line,
                e.position.column,
                &e.message,
            ));
        }
        for (_, doc) in file.sound() {
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
            for (issuer, def) in issuers {
                let Some(url) = def.get("issuer").and_then(Value::as_str) else {
                    continue;
                };
                named.entry(url.to_owned()).or_default().push(lock::Use {
                    file: name.clone(),
                    name: issuer.clone(),
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

fn located(file: &str, line: u32, column: u32, message: &str) -> String {
    format!("{file}:{line}:{column}: {message}")
}

/// Stages 2 to 5 for a run's files: the shared issuers resolved across
/// `files` and `context` (the rest of the project's specs, read for
/// resolution only), every file of `files` checked in parallel, and with
/// them, when `files` hold an `Issuers` document, every spec in `context`
/// that names a shared issuer (a changed issuer can break specs that did
/// not change). Results are in input order, dependents last, each with the
/// source lines its findings point at.
pub fn check_files(files: &[File], context: &[File], policy: &Policy) -> Vec<Checked> {
    run(files, context, policy, Scope::Everything).checked
}

/// What one run found: a report per file checked, and, when it renders,
/// the APIRules its exposures compiled to, in input order.
struct Ran {
    checked: Vec<Checked>,
    compiled: Vec<Compiled>,
}

/// `check_files` for any scope: `render` is this run over its inputs with
/// `Scope::Specs`, so every finding one makes the other makes too.
fn run(files: &[File], context: &[File], policy: &Policy, scope: Scope) -> Ran {
    let all: Vec<&File> = files.iter().chain(context).collect();
    // Every spec text was parsed once, by the loader: shared issuers,
    // dependents, claims and the check itself all read these documents.
    let loaded: Vec<Option<&yaml::Stream>> = all.iter().map(|f| f.stream()).collect();
    let issuers =
        shared_issuers((0..all.len()).filter_map(|i| Some((i, all[i].name.as_str(), loaded[i]?))));
    // The previous content of a changed Issuers document is unknown (an
    // issuer may have been renamed or removed), so every spec that names a
    // shared issuer depends on it.
    let issuers_changed = !context.is_empty()
        && files.iter().any(|f| {
            f.sound()
                .any(|(_, d)| spec::Kind::of(&d.value) == Some(spec::Kind::Issuers))
        });
    let mut checked: Vec<usize> = (0..files.len()).collect();
    if issuers_changed {
        checked.extend(
            (files.len()..all.len()).filter(|&i| loaded[i].is_some_and(names_shared_issuers)),
        );
    }
    // The rest of the project can collide with the files checked.
    let context_claims: Vec<(usize, Claims)> = (files.len()..all.len())
        .filter(|i| !checked.contains(i))
        .filter_map(|i| Some((i, claims::claims_of(loaded[i]?, policy))))
        .collect();
    let resolved = Resolved { issuers, scope };
    let mut results: Vec<(usize, FileReport, Claims)> = each(checked, |i| {
        let (report, claims) = checked_file(all[i], i, policy, &resolved);
        (i, report, claims)
    });
    // Two exposures that render one APIRule are X005, and two APIRules
    // with one host R011: the rest of the project is looked at for the
    // files checked.
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
    let names: Vec<&str> = all.iter().map(|f| f.name.as_str()).collect();
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
    let compiled = claims
        .iter_mut()
        .flat_map(|c| std::mem::take(&mut c.compiled))
        .collect();
    let checked = each(results, |(i, report, _)| {
        let lines = match all[i].written() {
            Some(text) => source::excerpt(text, &report),
            None => Vec::new(),
        };
        Checked { report, lines }
    });
    Ran { checked, compiled }
}

/// One file of a run checked, with what it claims of the run; a file that
/// could not be read or rendered is its report.
fn checked_file(
    file: &File,
    source: usize,
    policy: &Policy,
    resolved: &Resolved,
) -> (FileReport, Claims) {
    if !resolved.scope.judges(file) {
        // Passed over, but counted, as every input is.
        let mut report = FileReport {
            name: file.name.clone(),
            ..FileReport::default()
        };
        report.summary.files = 1;
        return (report, Claims::default());
    }
    if let Some(report) = file.unread() {
        return (report.clone(), Claims::default());
    }
    let (Some(text), Some(stream)) = (file.source(), file.documents()) else {
        unreachable!("a file that was read and rendered has a text to parse");
    };
    check_claiming(&file.name, source, text, &stream, policy, resolved)
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

/// Checks one file on its own (no issuers shared with other files);
/// every problem is a finding.
pub fn check_file(file: &File, policy: &Policy) -> FileReport {
    let (mut report, claims) = checked_file(file, usize::MAX, policy, &Resolved::default());
    // On its own, a broken shared field is reported where this file uses it.
    for (mut l, uses) in exposure::merge_shared(claims.shared) {
        l.finding.message.push_str(" (of a shared issuer)");
        for (_, at) in uses {
            file::place(&mut report, policy, &file.name, l.finding.clone(), at);
        }
    }
    report
}

/// Checks one text on its own, as `check -` does: read, rendered (with no
/// values) and parsed by the loader, then `check_file`.
pub fn check_text(name: &str, text: &str, policy: &Policy) -> FileReport {
    let (template, lock) = (Default::default(), Default::default());
    let settings = load::Settings::new(policy, &template, &lock);
    check_file(
        &File::of(name.to_owned(), Ok(text.to_owned()), &settings),
        policy,
    )
}
