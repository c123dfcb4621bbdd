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
//! files, specs and locks meet.

use std::borrow::Cow;
use std::collections::BTreeMap;

use rayon::prelude::*;
use serde_json::Value;

use crate::apirule::Version;
use crate::check::{self, Kind, objects, occupied};
use crate::compile::{DocRef, IssuerBook};
use crate::diagnostic::{Finding, Position, Severity};
use crate::exposure;
use crate::identity::lock::{self, Lock};
use crate::policy::Policy;
use crate::report::{Checked, DocumentResult, FileReport, Status};
use crate::rules::Code;
use crate::source::{self, Input, Unreadable};
use crate::spec::{self, template};
use crate::yaml::{self, Limits};

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

/// The shared issuers of a run's rendered texts (`kind: Issuers`
/// documents), jwksUri filled in from the lock. Broken documents are
/// skipped here; checking their file reports them.
pub fn shared_issuers<'a>(
    texts: impl IntoIterator<Item = (usize, &'a str, &'a str)>,
    lock: &Lock,
    limits: Limits,
) -> IssuerBook {
    let mut book = IssuerBook::new();
    for (source, name, text) in texts {
        if !exposure::mentions_spec(text) || !text.contains("Issuers") {
            continue;
        }
        for (document, doc) in yaml::load_values(text, limits)
            .documents
            .iter_mut()
            .enumerate()
        {
            if let Ok(doc) = doc
                && spec::Kind::of(&doc.value) == Some(spec::Kind::Issuers)
            {
                lock.fill(&mut doc.value);
                let at = DocRef { source, document };
                let _ = exposure::issuers(&doc.value, at, name, &mut book);
            }
        }
    }
    book
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
    let renders: Vec<Option<Render<'_>>> = all
        .par_iter()
        .map(|(name, text)| {
            let text = text.as_ref().ok()?;
            Some(rendered(name, text, &template, policy))
        })
        .collect();
    let text_of = |i: usize| -> Option<&str> {
        let r = renders[i].as_ref()?.as_ref().ok()?;
        Some(r.as_ref())
    };
    let issuers = shared_issuers(
        (0..all.len()).filter_map(|i| Some((i, all[i].0.as_str(), text_of(i)?))),
        &lock,
        limits,
    );
    // The previous content of a changed Issuers document is unknown (an
    // issuer may have been renamed or removed), so every spec that names a
    // shared issuer depends on it.
    let issuers_changed = !context.is_empty()
        && (0..files.len()).any(|i| {
            text_of(i).is_some_and(|t| {
                exposure::mentions_spec(t)
                    && yaml::load_values(t, limits)
                        .documents
                        .iter()
                        .flatten()
                        .any(|d| spec::Kind::of(&d.value) == Some(spec::Kind::Issuers))
            })
        });
    let mut checked: Vec<usize> = (0..files.len()).collect();
    if issuers_changed {
        checked.extend(
            (files.len()..all.len())
                .filter(|&i| text_of(i).is_some_and(|t| names_shared_issuers(t, limits))),
        );
    }
    // The rest of the project can collide with the files checked.
    let context_claims: Vec<(usize, Claims)> = (files.len()..all.len())
        .filter(|i| !checked.contains(i))
        .filter_map(|i| Some((i, claims_of(text_of(i)?, limits, policy))))
        .collect();
    // The rendered texts that define shared issuers, to place findings about them.
    let definitions: BTreeMap<usize, String> = issuers
        .values()
        .map(|d| d.doc.source)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .filter_map(|i| Some((i, text_of(i)?.to_owned())))
        .collect();
    let resolved = Resolved {
        template,
        issuers,
        lock,
    };
    let mut renders = renders;
    let work: Vec<(usize, Option<Render<'_>>)> =
        checked.iter().map(|&i| (i, renders[i].take())).collect();
    let mut results: Vec<(usize, FileReport, Claims)> = work
        .into_par_iter()
        .map(|(i, render)| {
            let (name, text) = all[i];
            let (report, claims) = match (text, render) {
                (Err(report), _) => ((**report).clone(), Claims::default()),
                (_, Some(Err(report))) => (*report, Claims::default()),
                (Ok(_), Some(Ok(rendered))) => {
                    check_claiming(name, i, &rendered, policy, limits, &resolved)
                }
                (Ok(_), None) => unreachable!("every text that was read is rendered"),
            };
            (i, report, claims)
        })
        .collect();
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
    let found = collisions(&names, &claims, &is_checked)
        .into_iter()
        .chain(occupied_hosts(&names, &claims, &is_checked));
    for (i, at, finding) in found {
        place(&mut results[slot[i]].1, policy, names[i], finding, at);
    }
    // A broken field of a shared issuer is reported once, where it is
    // written, naming the routes that use it; when that file is not
    // checked (one staged spec), at each use in the files checked.
    let uses: Vec<(exposure::Shared, (usize, Position))> = claims
        .iter_mut()
        .enumerate()
        .flat_map(|(i, c)| {
            std::mem::take(&mut c.shared)
                .into_iter()
                .map(move |(s, at)| (s, (i, at)))
        })
        .collect();
    for (l, uses) in exposure::merge_shared(uses) {
        let def = l.doc.source;
        let Some(def_at) = definitions.get(&def).map(|t| {
            yaml::locate(
                &yaml::load(t, limits).documents,
                l.doc.document,
                &l.finding.pointer,
                false,
            )
        }) else {
            continue;
        };
        if is_checked[def] {
            let named: Vec<String> = uses
                .iter()
                .map(|(label, (i, at))| {
                    format!("{label} at {}:{}:{}", names[*i], at.line, at.column)
                })
                .collect();
            let mut finding = l.finding;
            finding.message.push_str(&exposure::used_by(&named));
            place(
                &mut results[slot[def]].1,
                policy,
                names[def],
                finding,
                def_at,
            );
        } else {
            for (_, (i, at)) in uses {
                let mut finding = l.finding.clone();
                finding.message.push_str(&format!(
                    " (issuer defined at {}:{}:{})",
                    names[def], def_at.line, def_at.column
                ));
                place(&mut results[slot[i]].1, policy, names[i], finding, at);
            }
        }
    }
    results
        .into_par_iter()
        .map(|(i, report, _)| {
            let lines = match &all[i].1 {
                Ok(text) => source::excerpt(text, &report),
                Err(_) => Vec::new(),
            };
            Checked { report, lines }
        })
        .collect()
}

/// Whether a rendered text holds an exposure that names an issuer it does
/// not define itself.
fn names_shared_issuers(text: &str, limits: Limits) -> bool {
    if !exposure::mentions_spec(text) {
        return false;
    }
    yaml::load_values(text, limits)
        .documents
        .iter()
        .flatten()
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
    let (mut report, claims) = check_claiming(file, usize::MAX, text, policy, limits, specs);
    for (mut l, uses) in exposure::merge_shared(claims.shared) {
        l.finding.message.push_str(" (of a shared issuer)");
        for (_, at) in uses {
            place(&mut report, policy, file, l.finding.clone(), at);
        }
    }
    report
}

/// Adds a finding made across files to `report`, counted against the
/// object it is in.
fn place(report: &mut FileReport, policy: &Policy, file: &str, finding: Finding, at: Position) {
    if policy.severity(finding.code).is_none() {
        return;
    }
    let severity = report.push(policy, file, finding, at);
    report
        .diagnostics
        .sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    // The object's result: the last one starting at or above the finding.
    if let Some(d) = report
        .documents
        .iter_mut()
        .rev()
        .find(|d| d.line <= at.line)
    {
        match severity {
            Severity::Error => {
                d.errors += 1;
                d.status = Status::Invalid;
            }
            Severity::Warning => d.warnings += 1,
        }
    }
}

/// The APIRule one exposure renders: its namespace and name, and where
/// its name is written.
#[derive(Debug, Clone)]
struct Claim {
    key: (String, String),
    document: usize,
    at: Position,
}

/// A host one object of the run exposes (an APIRule, or the one an
/// exposure renders), where it is written and which APIRule holds it.
#[derive(Debug, Clone)]
struct HostClaim {
    host: occupied::Host,
    owner: (String, String),
    at: Position,
}

/// What the objects of one input claim: APIRule names and hosts; and
/// the broken shared issuer fields its routes use, with where each route is.
#[derive(Debug, Clone, Default)]
struct Claims {
    names: Vec<Claim>,
    hosts: Vec<HostClaim>,
    shared: Vec<(exposure::Shared, Position)>,
}

impl Claims {
    /// The hosts of `value` at `base` of a document, an exposure spec
    /// (`is_spec`) or an APIRule object.
    fn hosts(
        &mut self,
        value: &Value,
        base: &str,
        is_spec: bool,
        spans: &yaml::SpanIndex,
        policy: &Policy,
    ) {
        let meta = value.get("metadata");
        let field = |k: &str| {
            meta.and_then(|m| m.get(k))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        let owner = (field("namespace"), field("name"));
        let hosts = if is_spec {
            exposure::host(value, policy).into_iter().collect()
        } else {
            occupied::of_apirule(value, policy)
        };
        for mut host in hosts {
            host.pointer.insert_str(0, base);
            let Some(at) = spans.locate(&host.pointer, false) else {
                continue;
            };
            self.hosts.push(HostClaim {
                host,
                owner: owner.clone(),
                at,
            });
        }
    }
}

/// The claim of an exposure document (`value` at `base` in document
/// `document`), when its name is written as a string.
fn claim(value: &Value, base: &str, document: usize, spans: &yaml::SpanIndex) -> Option<Claim> {
    let meta = value.get("metadata")?;
    let name = meta.get("name")?.as_str()?;
    let namespace = meta.get("namespace").and_then(Value::as_str).unwrap_or("");
    let pointer = format!("{base}/metadata/name");
    Some(Claim {
        key: (namespace.to_owned(), name.to_owned()),
        document,
        at: spans.locate(&pointer, false)?,
    })
}

/// The claims of a rendered text that is not checked itself (the rest of
/// a project, read for resolution).
fn claims_of(text: &str, limits: Limits, policy: &Policy) -> Claims {
    let mut out = Claims::default();
    if !exposure::mentions_spec(text) {
        return out;
    }
    for (index, doc) in yaml::load(text, limits).documents.iter().enumerate() {
        let Ok(doc) = doc else { continue };
        for (base, value) in objects(&doc.value) {
            if spec::Kind::of(value) == Some(spec::Kind::Exposure) {
                out.names.extend(claim(value, &base, index, &doc.spans));
                out.hosts(value, &base, true, &doc.spans, policy);
            }
        }
    }
    out
}

/// `check_rendered`, and what the file claims and uses of the run: the
/// APIRules its exposures render, the hosts it exposes, and the broken
/// shared issuer fields its routes use. `source` is the file's index in the
/// run (`DocRef::source` of the shared issuers).
fn check_claiming(
    file: &str,
    source: usize,
    text: &str,
    policy: &Policy,
    limits: Limits,
    specs: &Resolved,
) -> (FileReport, Claims) {
    let mut claims = Claims::default();
    let mut report = FileReport {
        name: file.to_owned(),
        ..FileReport::default()
    };
    report.summary.files = 1;
    let mut stream = yaml::load_lenient(text, limits);
    for doc in stream.documents.iter_mut().flatten() {
        specs.lock.fill(&mut doc.value);
    }
    for (index, doc) in stream.documents.iter().enumerate() {
        report.summary.documents += 1;
        let doc = match doc {
            Ok(d) => d,
            Err(e) => {
                report.push(
                    policy,
                    file,
                    Finding::new(e.code, "", e.message.clone()),
                    e.position,
                );
                report.documents.push(DocumentResult {
                    line: e.position.line,
                    label: "document".into(),
                    status: Status::Error,
                    errors: 1,
                    warnings: 0,
                });
                continue;
            }
        };
        // Problems that did not stop the load (duplicate keys) count
        // against the document's first object.
        let (mut problem_errors, mut problem_warnings) = (0, 0);
        for p in &doc.problems {
            match report.push(
                policy,
                file,
                Finding::new(p.code, "", p.message.clone()),
                p.position,
            ) {
                Severity::Error => problem_errors += 1,
                Severity::Warning => problem_warnings += 1,
            }
        }
        if doc.empty {
            report.summary.skipped += 1;
            report.documents.push(DocumentResult {
                line: doc.start.line,
                label: "empty document".into(),
                status: Status::Empty,
                errors: 0,
                warnings: 0,
            });
            continue;
        }
        for (base, value) in objects(&doc.value) {
            let mut result = DocumentResult {
                line: doc.start.line,
                label: label(value),
                status: Status::Skipped,
                errors: std::mem::take(&mut problem_errors),
                warnings: std::mem::take(&mut problem_warnings),
            };
            let findings = if let Some(kind) = spec::Kind::of(value) {
                report.summary.specs += 1;
                if kind == spec::Kind::Exposure {
                    claims.names.extend(claim(value, &base, index, &doc.spans));
                    claims.hosts(value, &base, true, &doc.spans, policy);
                }
                let at = DocRef {
                    source,
                    document: index,
                };
                let (found, shared) = spec_document(file, kind, value, at, policy, specs);
                for s in shared {
                    let route = format!("{base}{}", s.route);
                    let at = doc.spans.locate(&route, false).unwrap_or(doc.start);
                    claims.shared.push((s, at));
                }
                found
            } else if check::classify(value) == Kind::ApiRule {
                report.summary.apirules += 1;
                claims.hosts(value, &base, false, &doc.spans, policy);
                let mut judged = check::judge(value, policy);
                report.summary.suppressed += judged.suppressed;
                crate::fix::edit::attach(
                    text,
                    &doc.spans,
                    &base,
                    value,
                    policy,
                    &mut judged.findings,
                );
                judged.findings
            } else {
                report.summary.skipped += 1;
                report.documents.push(result);
                continue;
            };
            for mut finding in findings {
                match policy.severity(finding.code) {
                    Some(Severity::Error) => result.errors += 1,
                    Some(Severity::Warning) => result.warnings += 1,
                    None => continue,
                }
                finding.pointer.insert_str(0, &base);
                let at = doc
                    .spans
                    .locate(&finding.pointer, finding.at_key)
                    .unwrap_or(doc.start);
                report.push(policy, file, finding, at);
            }
            result.status = if result.errors > 0 {
                Status::Invalid
            } else {
                Status::Valid
            };
            // An object with findings is reported at its own line.
            if result.errors + result.warnings > 0
                && let Some(start) = doc.spans.locate(&base, false)
            {
                result.line = start.line;
            }
            report.documents.push(result);
        }
    }
    report
        .diagnostics
        .sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    (report, claims)
}

/// X005 where two exposures of the run render the same APIRule, worded
/// and placed as `render` does: at every claim after the first, naming the
/// first. `claims` are per input, in input order; `checked` says which
/// inputs are reported (a claim only in the rest of the project is
/// reported at the checked one it collides with, naming it).
fn collisions(
    names: &[&str],
    claims: &[Claims],
    checked: &[bool],
) -> Vec<(usize, Position, Finding)> {
    let mut first: BTreeMap<&(String, String), (usize, &Claim)> = BTreeMap::new();
    let mut found = Vec::new();
    let mut told: std::collections::BTreeSet<&(String, String)> = Default::default();
    for (i, list) in claims.iter().enumerate() {
        for c in &list.names {
            let Some(&(f, by)) = first.get(&c.key) else {
                first.insert(&c.key, (i, c));
                continue;
            };
            let finding = |other: &str, document: usize| {
                Finding::new(
                    Code::X005,
                    "/metadata/name",
                    format!(
                        "APIRule {} is also rendered by {other} (document {})",
                        display_name(&c.key.0, &c.key.1),
                        document + 1
                    ),
                )
            };
            if checked[i] {
                found.push((i, c.at, finding(names[f], by.document)));
            } else if checked[f] && told.insert(&c.key) {
                found.push((f, by.at, finding(names[i], c.document)));
            }
        }
    }
    found
}

/// R011 at every host of a checked input that another APIRule of the run
/// exposes too, naming the first such APIRule and where it is written.
fn occupied_hosts(
    names: &[&str],
    claims: &[Claims],
    checked: &[bool],
) -> Vec<(usize, Position, Finding)> {
    let all: Vec<(usize, &HostClaim)> = claims
        .iter()
        .enumerate()
        .flat_map(|(i, c)| c.hosts.iter().map(move |h| (i, h)))
        .collect();
    let mut by_host: BTreeMap<&str, Vec<(usize, &HostClaim)>> = BTreeMap::new();
    for &(i, h) in &all {
        by_host.entry(h.host.key()).or_default().push((i, h));
    }
    let mut found = Vec::new();
    for same in by_host.values().filter(|v| v.len() > 1) {
        for &(i, h) in same.iter().filter(|(i, _)| checked[*i]) {
            let Some(&(j, other)) = same.iter().find(|(_, o)| o.owner != h.owner) else {
                continue;
            };
            let by = format!(
                "APIRule {} in {}:{}:{}",
                display_name(&other.owner.0, &other.owner.1),
                names[j],
                other.at.line,
                other.at.column
            );
            found.push((i, h.at, h.host.occupied(&by)));
        }
    }
    found
}

fn display_name(namespace: &str, name: &str) -> String {
    if namespace.is_empty() {
        name.to_owned()
    } else {
        format!("{namespace}/{name}")
    }
}

/// Findings about one spec document, as `check` sees it: file by file, so
/// findings about shared issuers land where this file names them.
fn spec_document(
    file: &str,
    kind: spec::Kind,
    value: &Value,
    doc: DocRef,
    policy: &Policy,
    specs: &Resolved,
) -> (Vec<Finding>, Vec<exposure::Shared>) {
    let index = doc.document;
    let mut shared = Vec::new();
    let located = match kind {
        spec::Kind::Exposure => {
            let evaluated = exposure::exposure(value, doc, &specs.issuers, Version::V2, policy);
            shared = evaluated.shared;
            evaluated.findings
        }
        spec::Kind::Issuers => {
            let mut local = IssuerBook::new();
            let mut found = exposure::issuers(value, doc, file, &mut local);
            // The run's first definition of a name wins; any other is X005.
            for (name, def) in &local {
                if let Some(first) = specs.issuers.get(name)
                    && (first.file != file || first.doc.document != index)
                {
                    found.push(crate::compile::Located {
                        doc,
                        finding: exposure::duplicate_issuer(name, first, &def.pointer),
                    });
                }
            }
            found
        }
    };
    let mut out: Vec<Finding> = located
        .into_iter()
        .filter(|l| l.doc == doc)
        .map(|l| l.finding)
        .collect();
    out.sort_by(|a, b| (&a.pointer, a.code, &a.message).cmp(&(&b.pointer, b.code, &b.message)));
    out.dedup();
    (out, shared)
}

fn label(value: &Value) -> String {
    let kind = value
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("document");
    let meta = value.get("metadata");
    let name = meta
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("<unnamed>");
    match meta
        .and_then(|m| m.get("namespace"))
        .and_then(Value::as_str)
    {
        Some(ns) => format!("{kind} {ns}/{name}"),
        None => format!("{kind} {name}"),
    }
}
