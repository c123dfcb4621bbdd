//! What the files of a check run claim together, and the findings only the
//! whole run can make: two exposures rendering one APIRule (X005), one host
//! exposed twice (R011), and a broken field of a shared issuer, reported
//! once where it is written.

use std::collections::BTreeMap;

use serde_json::Value;

use super::objects;
use crate::apirule::{Object, display_name};
use crate::check::occupied;
use crate::compile::DocRef;
use crate::diagnostic::{Finding, Position};
use crate::exposure;
use crate::policy::Policy;
use crate::rules::Code;
use crate::spec;
use crate::yaml;

/// The APIRule one exposure renders: its namespace and name, and where
/// its name is written.
#[derive(Debug, Clone)]
pub(super) struct Claim {
    key: (String, String),
    document: usize,
    at: Position,
}

/// A host one object of the run exposes (an APIRule, or the one an
/// exposure renders), where it is written and which APIRule holds it.
#[derive(Debug, Clone)]
pub(super) struct HostClaim {
    host: occupied::Host,
    owner: (String, String),
    at: Position,
}

/// The APIRule an exposure document compiled to, when the run renders.
#[derive(Debug, Clone)]
pub(super) struct Compiled {
    pub(super) doc: DocRef,
    pub(super) apirule: Object,
    pub(super) origins: Vec<(String, DocRef, String)>,
}

/// What the objects of one input claim: APIRule names and hosts; the
/// broken shared issuer fields its routes use, with where each route is;
/// and, when the run renders, the APIRules its exposures compiled to.
#[derive(Debug, Clone, Default)]
pub(super) struct Claims {
    pub(super) names: Vec<Claim>,
    pub(super) hosts: Vec<HostClaim>,
    pub(super) shared: Vec<(exposure::Shared, Position)>,
    pub(super) compiled: Vec<Compiled>,
}

impl Claims {
    /// The hosts of `value` at `base` of a document, an exposure spec
    /// (`is_spec`) or an APIRule object.
    pub(super) fn hosts(
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
pub(super) fn claim(
    value: &Value,
    base: &str,
    document: usize,
    spans: &yaml::SpanIndex,
) -> Option<Claim> {
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

/// The claims of a loaded spec text that is not checked itself (the rest
/// of a project, read for resolution).
pub(super) fn claims_of(stream: &yaml::Stream, policy: &Policy) -> Claims {
    let mut out = Claims::default();
    for (index, doc) in crate::load::sound(stream) {
        for (base, value) in objects(&doc.value) {
            if spec::Kind::of(value) == Some(spec::Kind::Exposure) {
                out.names.extend(claim(value, &base, index, &doc.spans));
                out.hosts(value, &base, true, &doc.spans, policy);
            }
        }
    }
    out
}

/// X005 where two exposures of the run render the same APIRule, worded
/// and placed as `render` does: at every claim after the first, naming the
/// first. `claims` are per input, in input order; `checked` says which
/// inputs are reported (a claim only in the rest of the project is
/// reported at the checked one it collides with, naming it).
pub(super) fn collisions(
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
pub(super) fn occupied_hosts(
    names: &[&str],
    claims: &[Claims],
    checked: &[bool],
) -> Vec<(usize, Position, Finding)> {
    let all: Vec<(usize, &HostClaim)> = claims
        .iter()
        .enumerate()
        .flat_map(|(i, c)| c.hosts.iter().map(move |h| (i, h)))
        .collect();
    let hosts: Vec<(&occupied::Host, &(String, String))> =
        all.iter().map(|(_, h)| (&h.host, &h.owner)).collect();
    occupied::taken(&hosts)
        .into_iter()
        .filter(|&(k, _)| checked[all[k].0])
        .map(|(k, o)| {
            let ((i, h), (j, other)) = (all[k], all[o]);
            (i, h.at, h.host.occupied(&other.owner, names[j], other.at))
        })
        .collect()
}

/// A broken field of a shared issuer is reported once, where it is
/// written, naming the routes that use it; when that file is not checked
/// (one staged spec), at each use in the files checked. `loaded` holds the
/// run's loaded spec texts, the issuers' definitions among them.
pub(super) fn shared_fields(
    names: &[&str],
    claims: &mut [Claims],
    checked: &[bool],
    loaded: &[Option<&yaml::Stream>],
) -> Vec<(usize, Position, Finding)> {
    let uses: Vec<(exposure::Shared, (usize, Position))> = claims
        .iter_mut()
        .enumerate()
        .flat_map(|(i, c)| {
            std::mem::take(&mut c.shared)
                .into_iter()
                .map(move |(s, at)| (s, (i, at)))
        })
        .collect();
    let mut found = Vec::new();
    for (l, uses) in exposure::merge_shared(uses) {
        let def = l.doc.source;
        let Some(def_at) = loaded
            .get(def)
            .copied()
            .flatten()
            .map(|s| yaml::locate(&s.documents, l.doc.document, &l.finding.pointer, false))
        else {
            continue;
        };
        if checked[def] {
            let named = uses
                .iter()
                .map(|(label, (i, at))| (label.as_str(), names[*i], *at));
            let mut finding = l.finding;
            finding.message.push_str(&exposure::used_by(named));
            found.push((def, def_at, finding));
        } else {
            for (_, (i, at)) in uses {
                let mut finding = l.finding.clone();
                finding.message.push_str(&format!(
                    " (issuer defined at {}:{}:{})",
                    names[def], def_at.line, def_at.column
                ));
                found.push((i, at, finding));
            }
        }
    }
    found
}
