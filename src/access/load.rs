//! The inputs of the access faces: APIRules (v2, v2alpha1) as they are,
//! exposure specs rendered by the one render pipeline, and AccessTest
//! documents; each with what it takes to name the file, line and column
//! of any of its fields.

use rayon::prelude::*;
use serde_json::Value;

use super::At;
use crate::apirule::{Object, Version, v2};
use crate::check::{self, Kind};
use crate::compile::DocRef;
use crate::diagnostic::{Position, plain_error};
use crate::load::File;
use crate::policy::Policy;
use crate::render::{self, Rendered};
use crate::report::Checked;
use crate::yaml;

/// Where a field sits in the inputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub file: String,
    pub line: u32,
    pub column: u32,
}

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// Where one APIRule of the model comes from.
#[derive(Debug, Clone)]
enum Origin {
    /// An APIRule object in a file (a List item has a `base`); `rendered`
    /// when the file is one `kexpose render` wrote.
    Object {
        doc: DocRef,
        base: String,
        rendered: bool,
    },
    /// Rendered from an exposure spec.
    Spec(Vec<(String, DocRef, String)>),
}

/// An AccessTest document found among the inputs.
#[derive(Debug, Clone)]
pub struct TestDocument {
    pub doc: DocRef,
    pub base: String,
    pub value: Value,
}

/// Everything loaded.
#[derive(Default)]
pub struct Loaded {
    pub apirules: Vec<v2::ApiRule>,
    origins: Vec<Origin>,
    /// Per input, in input order, every one parsed.
    files: Vec<File>,
    pub tests: Vec<TestDocument>,
    /// Problems that stop the faces: `file:line:col: message` lines.
    pub errors: Vec<String>,
    /// The findings of rendering the specs, when there are any.
    pub reports: Vec<Checked>,
}

impl Loaded {
    /// The file, line and column of a field.
    pub fn place(&self, at: &At) -> Option<Place> {
        let (doc, pointer) = match self.origins.get(at.apirule)? {
            Origin::Object { doc, base, .. } => (*doc, format!("{base}{}", at.pointer)),
            Origin::Spec(origins) => crate::compile::origin(origins, &at.pointer),
        };
        self.position(doc, &pointer)
    }

    /// A reason on one line: its message, then its place in parentheses.
    pub fn describe(&self, reason: &super::Reason) -> String {
        match reason.at.as_ref().and_then(|at| self.place(at)) {
            Some(place) => format!("{} ({place})", reason.message),
            None => reason.message.clone(),
        }
    }

    /// The file, line and column of a pointer into a loaded document.
    pub fn position(&self, doc: DocRef, pointer: &str) -> Option<Place> {
        let file = self.files.get(doc.source)?;
        let at = yaml::locate(&file.stream()?.documents, doc.document, pointer, false);
        Some(Place {
            file: file.name.clone(),
            line: at.line,
            column: at.column,
        })
    }

    /// Where the first member named `name` below `base` of a loaded
    /// document sits.
    pub fn find_key(&self, doc: DocRef, base: &str, name: &str) -> Option<Position> {
        self.files
            .get(doc.source)?
            .stream()?
            .documents
            .get(doc.document)?
            .as_ref()
            .ok()?
            .spans
            .find_key(base, name)
    }

    /// The name of input `source`, as given.
    pub fn file_name(&self, source: usize) -> &str {
        self.files.get(source).map_or("", |f| f.name.as_str())
    }

    /// The text of input `source`, as read.
    pub fn text(&self, source: usize) -> &str {
        self.files
            .get(source)
            .and_then(File::written)
            .unwrap_or_default()
    }

    /// `namespace/name` of an APIRule.
    pub fn name(&self, apirule: usize) -> String {
        super::name(&self.apirules[apirule])
    }
}

/// Builds the model's inputs from `files` as the loader read them: specs
/// through `render` (v2, with its findings), then every APIRule and
/// AccessTest document.
pub fn load(mut files: Vec<File>, policy: &Policy) -> Loaded {
    // Every document is placed by the model's reasons: parse all of them.
    files.par_iter_mut().for_each(|f| {
        f.keep();
    });
    let rendered: Rendered = crate::pipeline::render(
        &files,
        &render::Options {
            version: Version::V2,
            policy,
            source_root: None,
        },
    );
    let mut loaded = Loaded::default();
    let found: Vec<Found> = files
        .par_iter()
        .enumerate()
        .map(|(i, f)| found(i, f))
        .collect();
    for f in found {
        for (rule, origin) in f.apirules {
            loaded.apirules.push(rule);
            loaded.origins.push(origin);
        }
        loaded.tests.extend(f.tests);
        loaded.errors.extend(f.errors);
    }
    loaded.files = files;
    // A spec and the APIRule `kexpose render` wrote from it are one
    // exposure: the spec, which the reasons should point at, stands for both.
    let from_specs: Vec<(String, String)> = rendered
        .outputs
        .iter()
        .map(|o| (o.namespace.clone(), o.name.clone()))
        .collect();
    let pairs = std::mem::take(&mut loaded.apirules)
        .into_iter()
        .zip(std::mem::take(&mut loaded.origins))
        .filter(|(rule, origin)| {
            let key = (
                rule.metadata.namespace.clone().unwrap_or_default(),
                rule.metadata.name.clone().unwrap_or_default(),
            );
            !matches!(origin, Origin::Object { rendered: true, .. }) || !from_specs.contains(&key)
        });
    (loaded.apirules, loaded.origins) = pairs.unzip();
    for output in rendered.outputs {
        if let Object::V2(rule) = output.apirule {
            loaded.apirules.push(rule);
            loaded.origins.push(Origin::Spec(output.origins));
        }
    }
    if rendered.errors > 0 {
        loaded.reports = rendered.reports;
    }
    loaded
}

/// What one input holds.
struct Found {
    apirules: Vec<(v2::ApiRule, Origin)>,
    tests: Vec<TestDocument>,
    errors: Vec<String>,
}

/// The typed APIRules and the AccessTests of input `i`. The problems of
/// spec files are render's to report; any other file that could not be
/// read or parsed cleanly is an error here.
fn found(i: usize, file: &File) -> Found {
    let name = &file.name;
    let rendered_file =
        !file.holds_specs() && file.written().and_then(render::rendered_from).is_some();
    let mut out = Found {
        apirules: Vec::new(),
        tests: Vec::new(),
        errors: Vec::new(),
    };
    // An unreadable file is in render's reports; a template that is not a
    // spec is not a manifest the model can read.
    if !file.may_hold_specs()
        && let Some(report) = file.unread()
    {
        let severe = report.diagnostics.iter();
        out.errors.extend(severe.map(|d| {
            line(
                name,
                Position {
                    line: d.line,
                    column: d.column,
                },
                &d.message,
            )
        }));
    }
    for (d, doc) in file
        .stream()
        .iter()
        .flat_map(|s| s.documents.iter().enumerate())
    {
        let doc = match doc {
            Ok(doc) if doc.problems.is_empty() => doc,
            // A spec file's problems are render's to report.
            _ => {
                if !file.holds_specs() {
                    let problems = crate::load::problems(doc).iter();
                    out.errors
                        .extend(problems.map(|e| line(name, e.position, &e.message)));
                }
                continue;
            }
        };
        let at = DocRef {
            source: i,
            document: d,
        };
        for (base, value) in crate::check::objects(&doc.value) {
            if is_access_test(value) {
                out.tests.push(TestDocument {
                    doc: at,
                    base,
                    value: value.clone(),
                });
                continue;
            }
            if check::classify(value) != Kind::ApiRule {
                continue;
            }
            let version = value
                .get("apiVersion")
                .and_then(Value::as_str)
                .and_then(Version::from_api_version);
            let position = doc.spans.locate(&base, false).unwrap_or(doc.start);
            let problem = match version {
                Some(Version::V2 | Version::V2alpha1) => {
                    match serde_json::from_value::<v2::ApiRule>(value.clone()) {
                        Ok(rule) if rule.spec.is_some() => {
                            let origin = Origin::Object {
                                doc: at,
                                base,
                                rendered: rendered_file,
                            };
                            out.apirules.push((rule, origin));
                            continue;
                        }
                        Ok(_) => "the APIRule has no spec".to_owned(),
                        Err(e) => format!(
                            "cannot read the APIRule: {} (kexpose check shows where)",
                            plain_error(&e)
                        ),
                    }
                }
                _ => "only APIRules v2 and v2alpha1 are understood here; `kexpose migrate` converts v1beta1".to_owned(),
            };
            out.errors.push(line(name, position, &problem));
        }
    }
    out
}

fn line(file: &str, at: Position, message: &str) -> String {
    format!("{file}:{}:{}: {message}", at.line, at.column)
}

/// `kind: AccessTest` in the spec group.
pub fn is_access_test(value: &Value) -> bool {
    value.get("kind").and_then(Value::as_str) == Some("AccessTest")
        && value
            .get("apiVersion")
            .and_then(Value::as_str)
            .is_some_and(|v| v.starts_with(crate::spec::API_GROUP))
}
