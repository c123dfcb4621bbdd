//! The spec pipeline for one document, shared by `render` and `check`:
//! schema, typed model, compilation, then the check core on the compiled
//! APIRule with its findings mapped back to the spec.

use std::sync::OnceLock;

use serde::Deserialize;
use serde_json::Value;

use crate::apirule::{Object, Version};
use crate::check::{self, schema};
use crate::compile::{self, Compiled, DocRef, IssuerBook, IssuerDef, Located};
use crate::diagnostic::{Finding, Position, field_path, join};
use crate::policy::Policy;
use crate::rules::Code;
use crate::spec::{self, Exposure, Issuers, Kind};

fn compiled_schema(kind: Kind) -> &'static schema::Compiled {
    static EXPOSURE: OnceLock<schema::Compiled> = OnceLock::new();
    static ISSUERS: OnceLock<schema::Compiled> = OnceLock::new();
    let cell = match kind {
        Kind::Exposure => &EXPOSURE,
        Kind::Issuers => &ISSUERS,
    };
    cell.get_or_init(|| schema::compile(kind.schema()))
}

fn located(doc: DocRef, findings: Vec<Finding>) -> Vec<Located> {
    findings
        .into_iter()
        .map(|finding| Located { doc, finding })
        .collect()
}

/// Schema findings, then the typed value (only when the schema is happy).
fn typed<T: for<'de> Deserialize<'de>>(
    kind: Kind,
    value: &Value,
    doc: DocRef,
) -> Result<T, Vec<Located>> {
    let findings = schema::findings(compiled_schema(kind), value);
    if !findings.is_empty() {
        return Err(located(doc, findings));
    }
    T::deserialize(value).map_err(|e| {
        located(
            doc,
            vec![Finding::new(Code::S010, "", format!("Invalid value: {e}"))],
        )
    })
}

/// The host an exposure spec renders, as R011 compares it (the gateway
/// defaults as in compilation).
pub fn host(value: &Value, policy: &Policy) -> Option<check::occupied::Host> {
    let spec = value.get("spec")?;
    let host = spec.get("host")?.as_str()?;
    let gateway = spec
        .get("gateway")
        .and_then(Value::as_str)
        .unwrap_or(spec::DEFAULT_GATEWAY);
    Some(check::occupied::Host::new(
        host,
        Some(gateway),
        "/spec/host".into(),
        false,
        policy,
    ))
}

/// Checks an `Issuers` document and adds its entries to `book`. An issuer
/// without a jwksUri is reported here, once, rather than at every route.
pub fn issuers(value: &Value, doc: DocRef, file: &str, book: &mut IssuerBook) -> Vec<Located> {
    let parsed: Issuers = match typed(Kind::Issuers, value, doc) {
        Ok(p) => p,
        Err(findings) => return findings,
    };
    let mut out = Vec::new();
    for (name, issuer) in parsed.spec.issuers {
        let pointer = join("/spec/issuers", &name);
        if issuer.jwks_uri.is_none() {
            out.push(Located {
                doc,
                finding: compile::missing_jwks_uri(&name, &issuer.issuer, &pointer),
            });
        }
        if let Some(first) = book.get(&name) {
            out.push(Located {
                doc,
                finding: duplicate_issuer(&name, first, &pointer),
            });
            continue;
        }
        book.insert(
            name,
            IssuerDef {
                issuer,
                file: file.to_owned(),
                doc,
                pointer,
            },
        );
    }
    out
}

/// X005 for an issuer name defined a second time.
pub fn duplicate_issuer(name: &str, first: &IssuerDef, pointer: &str) -> Finding {
    Finding::new(
        Code::X005,
        pointer,
        format!(
            "issuer \"{name}\" is already defined in {} (document {}); issuer names must be unique",
            first.file,
            first.doc.document + 1
        ),
    )
    .at_key()
}

/// An exposure's compiled APIRule and every finding about it.
pub struct Evaluated {
    /// The APIRule; absent when the spec itself is broken.
    pub apirule: Option<Object>,
    /// Where each part of the APIRule comes from (`Compiled::origins`).
    pub origins: Vec<(String, DocRef, String)>,
    /// Findings about this exposure's own document.
    pub findings: Vec<Located>,
    /// Findings about a field of a shared `Issuers` document, one per
    /// route that uses it: the caller reports each field once, where it is
    /// written, naming the routes (`used_by`).
    pub shared: Vec<Shared>,
}

/// A finding about a shared issuer's field, found through one route.
#[derive(Debug, Clone)]
pub struct Shared {
    /// The finding, at the field in the `Issuers` document.
    pub at: Located,
    /// The route that uses it, as a pointer into the exposure.
    pub route: String,
    /// The route as users name it: `shop/orders route /orders`.
    pub label: String,
}

/// The shared findings of a run, one per field and finding, each with
/// the routes that led to it and what the caller knows of where each is
/// (`P`), in the order they came.
pub fn merge_shared<P>(found: Vec<(Shared, P)>) -> Vec<(Located, Vec<(String, P)>)> {
    let mut out: Vec<(Located, Vec<(String, P)>)> = Vec::new();
    for (s, p) in found {
        let same = |(l, _): &&mut (Located, _)| {
            let (a, b) = (&l.finding, &s.at.finding);
            l.doc == s.at.doc
                && a.pointer == b.pointer
                && a.code == b.code
                && a.message == b.message
        };
        match out.iter_mut().find(same) {
            Some((_, uses)) => uses.push((s.label, p)),
            None => out.push((s.at, vec![(s.label, p)])),
        }
    }
    out
}

/// What a shared finding's message ends with: the routes that use the
/// field (their labels), each with the file and place it is written at.
pub fn used_by<'a>(uses: impl IntoIterator<Item = (&'a str, &'a str, Position)>) -> String {
    let named: Vec<String> = uses
        .into_iter()
        .map(|(label, file, at)| format!("{label} at {file}:{}:{}", at.line, at.column))
        .collect();
    format!(" (used by {})", named.join(", "))
}

/// One exposure spec compiled on its own (v2, no shared issuers), for
/// `check --fix`: the APIRule and where each part came from. `None` when
/// the spec does not pass its schema.
pub fn compile_alone(value: &Value, policy: &Policy) -> Option<Compiled> {
    let doc = DocRef {
        source: 0,
        document: 0,
    };
    let parsed: Exposure = typed(Kind::Exposure, value, doc).ok()?;
    Some(compile::exposure(
        &parsed,
        doc,
        &IssuerBook::new(),
        Version::V2,
        policy.jwt_handler,
    ))
}

pub fn exposure(
    value: &Value,
    doc: DocRef,
    book: &IssuerBook,
    version: Version,
    policy: &Policy,
) -> Evaluated {
    let broken = |findings| Evaluated {
        apirule: None,
        origins: Vec::new(),
        findings,
        shared: Vec::new(),
    };
    let parsed: Exposure = match typed(Kind::Exposure, value, doc) {
        Ok(p) => p,
        Err(findings) => return broken(findings),
    };
    let mut compiled = compile::exposure(&parsed, doc, book, version, policy.jwt_handler);
    let mut findings = std::mem::take(&mut compiled.findings);
    if findings
        .iter()
        .any(|l| policy.severity(l.finding.code).is_some())
    {
        return broken(findings);
    }
    let mut shared = Vec::new();
    // A broken field of the spec's own issuers, used by five routes, is
    // one finding, not five.
    let mut seen = std::collections::BTreeSet::new();
    for f in check::object(&compiled.apirule.to_value(), policy) {
        if compiled.origin(&f.pointer).0 == doc {
            let l = back_to_spec(&compiled, f);
            if seen.insert((l.finding.pointer.clone(), l.finding.code)) {
                findings.push(l);
            }
        } else {
            shared.extend(shared_finding(&compiled, &parsed, f));
        }
    }
    Evaluated {
        apirule: Some(compiled.apirule),
        origins: compiled.origins,
        findings,
        shared,
    }
}

/// A finding on a field that comes from a shared `Issuers` document, at
/// that field, with the route of `exposure` that uses it.
fn shared_finding(compiled: &Compiled, exposure: &Exposure, finding: Finding) -> Option<Shared> {
    let (at, pointer) = compiled.origin(&finding.pointer);
    // `/spec/rules/N/...`: the rule, and so the route, it was found in.
    let rule: String = finding
        .pointer
        .split_inclusive('/')
        .take(4)
        .collect::<String>()
        .trim_end_matches('/')
        .to_owned();
    let (_, route) = compiled.origin(&rule);
    let index: usize = route.strip_prefix("/spec/routes/")?.parse().ok()?;
    let path = &exposure.spec.routes.get(index)?.path;
    let meta = &exposure.metadata;
    let name = match &meta.namespace {
        Some(ns) => format!("{ns}/{}", meta.name),
        None => meta.name.clone(),
    };
    Some(Shared {
        at: Located {
            doc: at,
            finding: Finding {
                pointer,
                at_key: false,
                fix: None,
                ..finding
            },
        },
        route,
        label: format!("{name} route {path}"),
    })
}

/// A check-core finding on the compiled APIRule, moved to the spec line that
/// produced the offending field; the message names the rendered field too.
fn back_to_spec(compiled: &Compiled, finding: Finding) -> Located {
    let (doc, target) = compiled.origin(&finding.pointer);
    let rendered = field_path(&finding.pointer);
    let message = if rendered.is_empty() {
        finding.message
    } else {
        format!("{} (rendered {rendered})", finding.message)
    };
    Located {
        doc,
        finding: Finding {
            code: finding.code,
            message,
            pointer: target,
            at_key: false,
            // A repair is about the compiled APIRule, and spec files map
            // back to templates, whose text is not the rendered one:
            // `check --fix` repairs specs on their own (`fix::edit`).
            repair: None,
            fix: None,
        },
    }
}
