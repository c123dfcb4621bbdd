//! `kexpose render`: exposure specs in, APIRule YAML out.
//!
//! The run is all or nothing. Every input is read, rendered and parsed by
//! the loader (`load`), then compiled and checked; output is produced only
//! when nothing failed, so a caller (Argo CD above all) never sees a
//! partial or empty stream after an error.

use std::collections::BTreeMap;
use std::path::Path;

use crate::apirule::{Object, Version, display_name};
use crate::check;
use crate::compile::{DocRef, IssuerBook, Located};
use crate::diagnostic::{Finding, Position, Severity};
use crate::exposure;
use crate::load::File;
use crate::policy::Policy;
use crate::report::Checked;
use crate::report::FileReport;
use crate::rules::Code;
use crate::source;
use crate::spec;
use crate::yaml::{self, emit};

mod out_dir;

pub(crate) use out_dir::unified;
pub use out_dir::{Drift, WriteError, Written, drift, replace_file, write_atomic, write_dir};

/// What a render is asked to do.
pub struct Options<'a> {
    pub version: Version,
    /// The policy of the run (its `discovered` issuers from the lock).
    pub policy: &'a Policy,
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

/// Renders every exposure spec among `files`, as the loader read them.
/// Files that hold no spec (values files, plain manifests) are passed over.
pub fn render(files: &[File], opts: &Options) -> Rendered {
    // v1beta1 is checked under the legacy profile, with the jwt handler
    // the given policy names (its config style is the one rendered).
    let policy = match opts.version {
        Version::V1beta1 => {
            let mut legacy = Policy::legacy();
            legacy.jwt_handler = opts.policy.jwt_handler;
            legacy.discovered = opts.policy.discovered.clone();
            legacy
        }
        _ => opts.policy.clone(),
    };
    let mut reports: Vec<FileReport> = files.iter().map(|f| report(f, &policy)).collect();
    let documents = |s: usize| files[s].stream().map_or(&[][..], |s| &s.documents[..]);
    let specs = |s: usize| files[s].sound().filter(move |_| files[s].spec);

    let mut located: Vec<Located> = Vec::new();
    let mut book = IssuerBook::new();
    for (s, file) in files.iter().enumerate() {
        for (d, doc) in specs(s) {
            if spec::Kind::of(&doc.value) == Some(spec::Kind::Issuers) {
                let at = DocRef {
                    source: s,
                    document: d,
                };
                located.extend(exposure::issuers(&doc.value, at, &file.name, &mut book));
            }
        }
    }

    let mut outputs: BTreeMap<(String, String), (Output, DocRef)> = BTreeMap::new();
    // Findings about shared issuers, through the routes that use them.
    let mut shared: Vec<(exposure::Shared, DocRef)> = Vec::new();
    // The host each rendered APIRule exposes, for R011.
    let mut hosts: Vec<(check::occupied::Host, (String, String), DocRef)> = Vec::new();
    for (s, file) in files.iter().enumerate() {
        for (d, doc) in specs(s) {
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
                Some(root) => relative(Path::new(&file.name), root),
                None => file.name.clone(),
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
                            files[first.source].name,
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
            let p = yaml::locate(documents(at.source), at.document, &s.route, false);
            (s, (at.source, p))
        })
        .collect();
    for (mut l, uses) in exposure::merge_shared(routes) {
        let named = uses
            .iter()
            .map(|(label, (s, at))| (label.as_str(), files[*s].name.as_str(), *at));
        l.finding.message.push_str(&exposure::used_by(named));
        located.push(l);
    }
    let pairs: Vec<(&check::occupied::Host, &(String, String))> =
        hosts.iter().map(|(h, owner, _)| (h, owner)).collect();
    for (i, j) in check::occupied::taken(&pairs) {
        let ((h, _, at), (o, other, a)) = (&hosts[i], &hosts[j]);
        let p = yaml::locate(documents(a.source), a.document, &o.pointer, false);
        located.push(Located {
            doc: *at,
            finding: h.occupied(other, &files[a.source].name, p),
        });
    }

    for l in located {
        let s = l.doc.source;
        let at = yaml::locate(
            documents(s),
            l.doc.document,
            &l.finding.pointer,
            l.finding.at_key,
        );
        reports[s].push(&policy, &files[s].name, l.finding, at);
    }

    let mut errors = 0;
    let mut warnings = 0;
    let mut checked = Vec::with_capacity(files.len());
    for (mut r, file) in reports.into_iter().zip(files) {
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
        let lines = file
            .written()
            .map(|text| source::excerpt(text, &r))
            .unwrap_or_default();
        checked.push(Checked { report: r, lines });
    }
    Rendered {
        outputs: outputs.into_values().map(|(o, _)| o).collect(),
        reports: checked,
        errors,
        warnings,
    }
}

/// What reading a file tells a render: why it could not be read or does
/// not render, and every document of a spec text that did not load
/// cleanly. A file without specs is passed over (any template in it is
/// another tool's).
fn report(file: &File, policy: &Policy) -> FileReport {
    let mut report = FileReport {
        name: file.name.clone(),
        ..FileReport::default()
    };
    if (file.text.is_err() || file.spec)
        && let Some(unread) = file.unread()
    {
        return unread.clone();
    }
    // Every input counts as a file, as in `check`, spec or not.
    report.summary.files = 1;
    let Some(stream) = file.stream().filter(|_| file.spec) else {
        return report;
    };
    for doc in &stream.documents {
        report.summary.documents += 1;
        let problems = match doc {
            Ok(d) if d.problems.is_empty() => {
                if spec::Kind::of(&d.value).is_some() {
                    report.summary.specs += 1;
                }
                continue;
            }
            Ok(d) => &d.problems[..],
            Err(e) => std::slice::from_ref(e),
        };
        for e in problems {
            let finding = Finding::new(e.code, "", e.message.clone());
            report.push(policy, &file.name, finding, e.position);
        }
    }
    report
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
