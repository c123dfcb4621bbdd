//! What `kexpose render` produces: rendered APIRules, their files and
//! headers, and writing them into an output directory.
//!
//! The run itself is the pipeline's (`pipeline::render`), and it is all or
//! nothing: every input is read, rendered and parsed by the loader, then
//! compiled and checked; output is produced only when nothing failed, so a
//! caller (Argo CD above all) never sees a partial or empty stream after
//! an error.

use std::path::Path;

use crate::apirule::{Object, Version};
use crate::compile::DocRef;
use crate::policy::Policy;
use crate::report::Checked;
use crate::source;
use crate::yaml::emit;

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
    /// An APIRule compiled from the spec file `source`.
    pub fn new(apirule: Object, origins: Vec<(String, DocRef, String)>, source: &str) -> Output {
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

/// `path` relative to `root` (both as given, relative to the working
/// directory or absolute), `/`-separated; else `path` as it is.
pub fn relative(path: &Path, root: &Path) -> String {
    let (Ok(path_abs), Ok(root_abs)) = (std::path::absolute(path), std::path::absolute(root))
    else {
        return path.display().to_string();
    };
    match source::normal(&path_abs).strip_prefix(source::normal(&root_abs)) {
        Ok(rel) => rel.display().to_string().replace('\\', "/"),
        Err(_) => path.display().to_string(),
    }
}
