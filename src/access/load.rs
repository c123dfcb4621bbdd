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
use crate::identity::lock::Lock;
use crate::policy::Policy;
use crate::render::{self, Rendered};
use crate::report::Checked;
use crate::source::Input;
use crate::spec::template;
use crate::yaml::{self, Document, Limits, LoadError};

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
    /// Per input, in input order.
    files: Vec<Read>,
    pub tests: Vec<TestDocument>,
    /// Problems that stop the faces: `file:line:col: message` lines.
    pub errors: Vec<String>,
    /// The findings of rendering the specs, when there are any.
    pub reports: Vec<Checked>,
}

/// What loading needs: the same as `render`.
pub struct Options<'a> {
    pub policy: &'a Policy,
    pub template: &'a template::Context,
    pub lock: &'a Lock,
    pub max_file_size: u64,
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
        let read = self.files.get(doc.source)?;
        let at = yaml::locate(&read.documents, doc.document, pointer, false);
        Some(Place {
            file: read.name.clone(),
            line: at.line,
            column: at.column,
        })
    }

    /// Where the first member named `name` below `base` of a loaded
    /// document sits.
    pub fn find_key(&self, doc: DocRef, base: &str, name: &str) -> Option<Position> {
        self.files
            .get(doc.source)?
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
        self.files.get(source).map_or("", |f| f.text.as_str())
    }

    /// `namespace/name` of an APIRule.
    pub fn name(&self, apirule: usize) -> String {
        super::name(&self.apirules[apirule])
    }
}

/// Loads `inputs`: specs through `render` (v2, with its findings), then
/// every APIRule and AccessTest document.
pub fn load(inputs: &[Input], opts: &Options) -> Loaded {
    let rendered: Rendered = render::render(
        inputs,
        &render::Options {
            version: Version::V2,
            policy: opts.policy,
            template: opts.template,
            lock: opts.lock,
            max_file_size: opts.max_file_size,
            source_root: None,
        },
    );
    // Files are read and their objects typed in parallel, then gathered in
    // input order.
    let files: Vec<File> = inputs
        .par_iter()
        .zip(rendered.documents.into_par_iter())
        .zip(rendered.texts.into_par_iter())
        .enumerate()
        .map(|(i, ((input, documents), text))| file(i, input, documents, text))
        .collect();
    let mut loaded = Loaded::default();
    for f in files {
        for (rule, origin) in f.apirules {
            loaded.apirules.push(rule);
            loaded.origins.push(origin);
        }
        loaded.tests.extend(f.tests);
        loaded.errors.extend(f.errors);
        loaded.files.push(Read {
            name: f.name,
            documents: f.documents,
            text: f.text,
        });
    }
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

/// One input as read: its name, documents and text.
struct Read {
    name: String,
    documents: Vec<Result<Document, LoadError>>,
    text: String,
}

/// What one input holds.
struct File {
    name: String,
    documents: Vec<Result<Document, LoadError>>,
    text: String,
    apirules: Vec<(v2::ApiRule, Origin)>,
    tests: Vec<TestDocument>,
    errors: Vec<String>,
}

/// Loads input `i`: its documents (as render loaded them, for spec files;
/// else from its text as render read it), typed APIRules and AccessTests.
/// A file render could not read has no text, and render reports why.
fn file(
    i: usize,
    input: &Input,
    documents: Vec<Result<Document, LoadError>>,
    text: String,
) -> File {
    let name = input.name();
    // Render loaded the spec files and reports their YAML errors.
    let from_render = !documents.is_empty();
    let rendered_file = !from_render && render::rendered_from(&text).is_some();
    let mut out = File {
        name: name.clone(),
        documents: if from_render {
            documents
        } else {
            yaml::load(&text, Limits::default()).documents
        },
        text,
        apirules: Vec::new(),
        tests: Vec::new(),
        errors: Vec::new(),
    };
    for (d, doc) in out.documents.iter().enumerate() {
        let doc = match doc {
            Ok(doc) => doc,
            Err(e) => {
                if !from_render {
                    out.errors.push(line(&name, e.position, &e.message));
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
            out.errors.push(line(&name, position, &problem));
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
