//! `kexpose render`: exposure specs in, APIRule YAML out.
//!
//! The run is all or nothing. Every input is read, rendered, compiled and
//! checked first; output is produced only when nothing failed, so a caller
//! (Argo CD above all) never sees a partial or empty stream after an error.

use std::collections::BTreeMap;
use std::path::Path;

use crate::apirule::{Object, Version, display_name};
use crate::check;
use crate::compile::{DocRef, IssuerBook, Located};
use crate::diagnostic::{Finding, Position, Severity};
use crate::exposure;
use crate::identity::lock::Lock;
use crate::policy::Policy;
use crate::report::Checked;
use crate::report::FileReport;
use crate::rules::Code;
use crate::source::{self, Input};
use crate::spec::{self, template};
use crate::yaml::{self, Document, Limits, emit};

mod out_dir;

pub(crate) use out_dir::unified;
pub use out_dir::{Drift, WriteError, Written, drift, replace_file, write_atomic, write_dir};

/// What a render is asked to do.
pub struct Options<'a> {
    pub version: Version,
    pub policy: &'a Policy,
    pub template: &'a template::Context,
    /// Fills in the jwksUri of issuers that do not set one.
    pub lock: &'a Lock,
    pub max_file_size: u64,
    /// The project root: `# Source:` headers name spec files relative to
    /// it, so that output is the same from any working directory.
    pub source_root: Option<&'a Path>,
}

/// One rendered APIRule.
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    pub namespace: String,
    pub name: String,
    /// The spec file it came from, as given on the command line.
    pub source: String,
    /// The APIRule as YAML, without header or separator.
    pub yaml: String,
    /// The APIRule itself, and where in the inputs each part comes from
    /// (`Compiled::origins`; `DocRef::source` indexes the inputs).
    pub apirule: Object,
    pub origins: Vec<(String, DocRef, String)>,
}

impl Output {
    /// Its file name under `--out-dir`: `namespace.name.yaml`. Namespaces
    /// cannot hold dots, so the name is unique per APIRule.
    pub fn file_name(&self) -> String {
        if self.namespace.is_empty() {
            format!("{}.yaml", self.name)
        } else {
            format!("{}.{}.yaml", self.namespace, self.name)
        }
    }

    /// The file's content: a header naming the source, then the APIRule.
    pub fn file_text(&self) -> String {
        format!("{}{}", header(&self.source), self.yaml)
    }
}

/// The first lines of every rendered document; `--out-dir` recognises its
/// own files by them.
fn header(source: &str) -> String {
    format!("# Source: {source}\n{MARKER}\n")
}

const MARKER: &str = "# Rendered by kexpose; edit the source, not this file.";

/// The source a rendered file names, when `text` is one of kexpose's
/// rendered files: those are fixed in their source and rendered again.
pub fn rendered_from(text: &str) -> Option<&str> {
    let mut lines = text.lines();
    let source = lines.next()?.strip_prefix("# Source: ")?;
    (lines.next() == Some(MARKER)).then_some(source)
}

/// Everything a render produced.
pub struct Rendered {
    /// Sorted by namespace, then name.
    pub outputs: Vec<Output>,
    /// Per input, in input order, with the lines its findings point at.
    pub reports: Vec<Checked>,
    /// Per input, in input order, the documents of spec files as loaded
    /// (with their span index); empty for files without specs.
    pub documents: Vec<Vec<Result<Document, yaml::LoadError>>>,
    /// Per input, in input order, its text as read (empty when unreadable).
    pub texts: Vec<String>,
    pub errors: usize,
    pub warnings: usize,
}

impl Rendered {
    /// The YAML stream for stdout.
    pub fn stream(&self) -> String {
        let mut out = String::new();
        for o in &self.outputs {
            out.push_str("---\n");
            out.push_str(&o.file_text());
        }
        out
    }
}

/// One input and what became of it.
struct Source {
    name: String,
    /// The text as the user wrote it, for code frames.
    original: String,
    documents: Vec<Result<Document, yaml::LoadError>>,
    report: FileReport,
}

/// Renders every exposure spec among `inputs`. Files that hold no spec
/// (values files, plain manifests) are passed over.
pub fn render(inputs: &[Input], opts: &Options) -> Rendered {
    let limits = Limits::default();
    // v1beta1 is checked under the legacy profile, with the jwt handler
    // the given policy names (its config style is the one rendered).
    let mut policy = match opts.version {
        Version::V1beta1 => {
            let mut legacy = Policy::legacy();
            legacy.jwt_handler = opts.policy.jwt_handler;
            legacy
        }
        _ => opts.policy.clone(),
    };
    policy.discovered = opts.lock.discovered();
    let mut sources: Vec<Source> = inputs
        .iter()
        .map(|input| load(input, opts, &policy, limits))
        .collect();

    let mut located: Vec<Located> = Vec::new();
    let mut book = IssuerBook::new();
    for (s, source) in sources.iter().enumerate() {
        for (d, doc) in source.documents.iter().enumerate() {
            if let Ok(doc) = doc
                && spec::Kind::of(&doc.value) == Some(spec::Kind::Issuers)
            {
                let at = DocRef {
                    source: s,
                    document: d,
                };
                located.extend(exposure::issuers(&doc.value, at, &source.name, &mut book));
            }
        }
    }

    let mut outputs: BTreeMap<(String, String), (Output, DocRef)> = BTreeMap::new();
    // Findings about shared issuers, through the routes that use them.
    let mut shared: Vec<(exposure::Shared, DocRef)> = Vec::new();
    // The host each rendered APIRule exposes, for R011.
    let mut hosts: Vec<(check::occupied::Host, (String, String), DocRef)> = Vec::new();
    for (s, source) in sources.iter().enumerate() {
        for (d, doc) in source.documents.iter().enumerate() {
            let Ok(doc) = doc else { continue };
            if spec::Kind::of(&doc.value) != Some(spec::Kind::Exposure) {
                continue;
            }
            let at = DocRef {
                source: s,
                document: d,
            };
            let evaluated = exposure::exposure(&doc.value, at, &book, opts.version, &policy);
            located.extend(evaluated.findings);
            shared.extend(evaluated.shared.into_iter().map(|s| (s, at)));
            let Some(apirule) = evaluated.apirule else {
                continue;
            };
            let shown = match opts.source_root {
                Some(root) => relative(Path::new(&source.name), root),
                None => source.name.clone(),
            };
            let output = output(apirule, evaluated.origins, &shown);
            let key = (output.namespace.clone(), output.name.clone());
            if let Some((_, first)) = outputs.get(&key) {
                located.push(Located {
                    doc: at,
                    finding: Finding::new(
                        Code::X005,
                        "/metadata/name",
                        format!(
                            "APIRule {} is also rendered by {} (document {})",
                            display_name(&key.0, &key.1),
                            sources[first.source].name,
                            first.document + 1
                        ),
                    ),
                });
                continue;
            }
            hosts.extend(exposure::host(&doc.value, &policy).map(|h| (h, key.clone(), at)));
            outputs.insert(key, (output, at));
        }
    }
    // A shared issuer's broken field is reported once, where it is written.
    let routes: Vec<(exposure::Shared, (usize, Position))> = shared
        .into_iter()
        .map(|(s, at)| {
            let p = yaml::locate(&sources[at.source].documents, at.document, &s.route, false);
            (s, (at.source, p))
        })
        .collect();
    for (mut l, uses) in exposure::merge_shared(routes) {
        let named = uses
            .iter()
            .map(|(label, (s, at))| (label.as_str(), sources[*s].name.as_str(), *at));
        l.finding.message.push_str(&exposure::used_by(named));
        located.push(l);
    }
    let pairs: Vec<(&check::occupied::Host, &(String, String))> =
        hosts.iter().map(|(h, owner, _)| (h, owner)).collect();
    for (i, j) in check::occupied::taken(&pairs) {
        let ((h, _, at), (o, other, a)) = (&hosts[i], &hosts[j]);
        let p = yaml::locate(&sources[a.source].documents, a.document, &o.pointer, false);
        located.push(Located {
            doc: *at,
            finding: h.occupied(other, &sources[a.source].name, p),
        });
    }

    for l in located {
        let source = &mut sources[l.doc.source];
        let at = yaml::locate(
            &source.documents,
            l.doc.document,
            &l.finding.pointer,
            l.finding.at_key,
        );
        let name = source.name.clone();
        source.report.push(&policy, &name, l.finding, at);
    }

    let mut errors = 0;
    let mut warnings = 0;
    let mut reports = Vec::new();
    let mut documents = Vec::new();
    let mut texts = Vec::new();
    for mut input in sources {
        documents.push(std::mem::take(&mut input.documents));
        let r = &mut input.report;
        r.diagnostics
            .sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        r.diagnostics.dedup();
        r.summary.errors = r
            .diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count();
        r.summary.warnings = r.diagnostics.len() - r.summary.errors;
        errors += r.summary.errors;
        warnings += r.summary.warnings;
        let lines = source::excerpt(&input.original, r);
        reports.push(Checked {
            report: input.report,
            lines,
        });
        texts.push(input.original);
    }
    Rendered {
        outputs: outputs.into_values().map(|(o, _)| o).collect(),
        reports,
        documents,
        texts,
        errors,
        warnings,
    }
}

/// `path` relative to `root` (both as given, relative to the working
/// directory or absolute), `/`-separated; else `path` as it is.
fn relative(path: &Path, root: &Path) -> String {
    let (Ok(path_abs), Ok(root_abs)) = (std::path::absolute(path), std::path::absolute(root))
    else {
        return path.display().to_string();
    };
    match source::normal(&path_abs).strip_prefix(source::normal(&root_abs)) {
        Ok(rel) => rel.display().to_string().replace('\\', "/"),
        Err(_) => path.display().to_string(),
    }
}

fn output(apirule: Object, origins: Vec<(String, DocRef, String)>, source: &str) -> Output {
    let meta = apirule.metadata();
    Output {
        namespace: meta.namespace.clone().unwrap_or_default(),
        name: meta.name.clone().unwrap_or_default(),
        source: source.to_owned(),
        yaml: emit::document(&apirule),
        apirule,
        origins,
    }
}

/// Reads, renders and loads one input. Inputs that do not mention the spec
/// group are passed over without being parsed.
fn load(input: &Input, opts: &Options, policy: &Policy, limits: Limits) -> Source {
    let name = input.name();
    let mut source = Source {
        name: name.clone(),
        original: String::new(),
        documents: Vec::new(),
        report: FileReport {
            name: name.clone(),
            ..FileReport::default()
        },
    };
    let text = match source::read(input, policy, opts.max_file_size) {
        Ok(t) => t,
        Err(report) => {
            source.report = *report;
            return source;
        }
    };
    // Every input counts as a file, as in `check`, spec or not.
    source.report.summary.files = 1;
    if !exposure::mentions_spec(&text) {
        // Kept for callers that read the other objects (standard input
        // cannot be read twice).
        source.original = text;
        return source;
    }
    let mut documents = match template::render_if_template(&name, &text, opts.template) {
        Ok(rendered) => yaml::load(&rendered, limits).documents,
        Err(e) => {
            source.report =
                FileReport::file_error(&name, Code::P009, e.message, e.position, policy);
            source.original = text;
            return source;
        }
    };
    source.original = text;
    for doc in documents.iter_mut().flatten() {
        opts.lock.fill(&mut doc.value);
    }
    for doc in documents {
        source.report.summary.documents += 1;
        if doc
            .as_ref()
            .is_ok_and(|d| spec::Kind::of(&d.value).is_some())
        {
            source.report.summary.specs += 1;
        }
        if let Err(e) = &doc {
            let finding = Finding::new(e.code, "", e.message.clone());
            source.report.push(policy, &name, finding, e.position);
        }
        source.documents.push(doc);
    }
    source
}
