//! The one loader: every input a command reads is read within the size
//! limit, its spec templates rendered, and its YAML parsed, here and once.
//! `check`, `render` (and through it `explain`, `test` and the Argo CD
//! plugin), `lock` and `--fix` all consume the same `File`s, so a file
//! cannot be read one way by one command and another way by the next.
//!
//! A spec text is parsed as it is read: the shared issuers of the whole
//! run are resolved from every spec before any file is judged. Any other
//! text is parsed when it is first asked for (`File::documents`); `check`
//! asks inside its parallel judge, so ten thousand manifests are never all
//! held in memory at once.
//!
//! Documents are loaded with positions, leniently: a duplicate key is one
//! of the document's `problems`, not the end of it, so `check` can report
//! the rest. A face that needs clean input treats a document with problems
//! as not loaded (`File::sound`).

use std::ops::Deref;

use crate::identity::lock::Lock;
use crate::policy::Policy;
use crate::report::FileReport;
use crate::rules::Code;
use crate::source::{self, Input};
use crate::spec::{self, template};
use crate::yaml::{self, Document, Limits, LoadError, Stream};

/// What reading a run's inputs takes.
#[derive(Clone, Copy)]
pub struct Settings<'a> {
    /// How severe a file that cannot be read or rendered is.
    pub policy: &'a Policy,
    /// The values and environment spec templates render with.
    pub template: &'a template::Context,
    /// Fills in the jwksUri of spec issuers that set none.
    pub lock: &'a Lock,
    pub max_file_size: u64,
    pub limits: Limits,
}

impl<'a> Settings<'a> {
    /// Settings with the default size limit and YAML budgets.
    pub fn new(policy: &'a Policy, template: &'a template::Context, lock: &'a Lock) -> Self {
        Settings {
            policy,
            template,
            lock,
            max_file_size: source::DEFAULT_MAX_FILE_SIZE,
            limits: Limits::default(),
        }
    }
}

/// One input, read.
#[derive(Debug)]
pub struct File {
    pub name: String,
    /// The text as read, for code frames and edits; or the report that
    /// says why it could not be read.
    text: Result<String, Box<FileReport>>,
    /// Whether the text may hold specs (it names the spec group).
    spec: bool,
    /// The text to parse: `None` when it is the text as read; or the
    /// report that says why it does not render (P009), or why a text that
    /// is not a spec is a template kexpose cannot read (P010).
    rendered: Result<Option<String>, Box<FileReport>>,
    /// Its documents, once parsed.
    stream: Option<Stream>,
    /// Whether the lock filled a jwksUri into `stream`'s values.
    filled: bool,
    limits: Limits,
}

/// A file's documents: kept by the file, or parsed for one use.
pub enum Documents<'a> {
    Kept(&'a Stream),
    Fresh(Stream),
}

impl Deref for Documents<'_> {
    type Target = Stream;
    fn deref(&self) -> &Stream {
        match self {
            Documents::Kept(s) => s,
            Documents::Fresh(s) => s,
        }
    }
}

/// Reads every input (in parallel when there are several), parsing the
/// spec texts among them. The files come back in input order.
pub fn read(inputs: &[Input], settings: &Settings) -> Vec<File> {
    each(inputs.iter().collect(), |input| File::read(input, settings))
}

impl File {
    /// Reads and renders one input; a spec text is parsed too.
    pub fn read(input: &Input, settings: &Settings) -> File {
        let text = source::read(input, settings.policy, settings.max_file_size);
        File::of(input.name(), text, settings)
    }

    /// A file of `text` (read already, or written by `--fix`).
    pub fn of(name: String, text: Result<String, Box<FileReport>>, settings: &Settings) -> File {
        let (spec, rendered) = match &text {
            Ok(t) => (spec::mentioned(t), render(&name, t, settings)),
            Err(_) => (false, Ok(None)),
        };
        let mut file = File {
            name,
            text,
            spec,
            rendered,
            stream: None,
            filled: false,
            limits: settings.limits,
        };
        if spec && let Some(text) = file.source() {
            let (stream, filled) = parse(text, settings.limits, settings.lock);
            file.stream = Some(stream);
            file.filled = filled;
        }
        file
    }

    /// Whether the text may hold specs (it names the spec group); such a
    /// text is parsed as it is read.
    pub fn holds_specs(&self) -> bool {
        self.spec
    }

    /// Whether the file could be read (it may still not render).
    pub fn was_read(&self) -> bool {
        self.text.is_ok()
    }

    /// Whether a face that reads specs alone must look at the file: it
    /// holds specs, or it could not be read, so it may have (a run over
    /// part of the inputs would look complete and not be).
    pub fn may_hold_specs(&self) -> bool {
        self.spec || !self.was_read()
    }

    /// Why there is nothing to parse: the file could not be read, or does
    /// not render.
    pub fn unread(&self) -> Option<&FileReport> {
        match (&self.text, &self.rendered) {
            (Err(report), _) | (_, Err(report)) => Some(report),
            _ => None,
        }
    }

    /// The text documents are parsed from: the rendered one for a spec
    /// template, else the text as read.
    pub fn source(&self) -> Option<&str> {
        match (&self.text, &self.rendered) {
            (Ok(_), Ok(Some(rendered))) => Some(rendered),
            (Ok(text), Ok(None)) => Some(text),
            _ => None,
        }
    }

    /// The text as read, when it could be.
    pub fn written(&self) -> Option<&str> {
        self.text.as_deref().ok()
    }

    /// The documents kept by the file (every spec text's, and any other
    /// text's once `keep` parsed it).
    pub fn stream(&self) -> Option<&Stream> {
        self.stream.as_ref()
    }

    /// Its documents: the kept ones, else parsed for this one use. `None`
    /// when there is no text to parse (`unread`).
    pub fn documents(&self) -> Option<Documents<'_>> {
        if let Some(kept) = &self.stream {
            return Some(Documents::Kept(kept));
        }
        Some(Documents::Fresh(yaml::load_lenient(
            self.source()?,
            self.limits,
        )))
    }

    /// Parses the text, unless that was done already, and keeps its
    /// documents for every later use. (A text that is not a spec has
    /// nothing for the lock to fill in.)
    pub fn keep(&mut self) -> Option<&Stream> {
        if self.stream.is_none() {
            self.stream = Some(yaml::load_lenient(self.source()?, self.limits));
        }
        self.stream.as_ref()
    }

    /// The kept documents when they are exactly the text as written (not
    /// rendered from a template, nothing filled in by the lock): what an
    /// edit of the file can be planned on.
    pub fn as_written(&self) -> Option<&Stream> {
        let verbatim = matches!(self.rendered, Ok(None)) && !self.filled;
        self.stream.as_ref().filter(|_| verbatim)
    }

    /// The documents that loaded without a problem, with their index.
    pub fn sound(&self) -> impl Iterator<Item = (usize, &Document)> {
        self.stream.iter().flat_map(sound)
    }
}

/// The documents of a stream that loaded without a problem, with their
/// index: what resolution reads (a document with a duplicate key is
/// reported where it is checked, and lends nothing to the others).
pub fn sound(stream: &Stream) -> impl Iterator<Item = (usize, &Document)> {
    stream
        .documents
        .iter()
        .enumerate()
        .filter_map(|(i, d)| Some((i, d.as_ref().ok().filter(|d| d.problems.is_empty())?)))
}

/// What went wrong loading a document: the error that ended it, or the
/// problems that did not (none for a sound document).
pub fn problems(document: &Result<Document, LoadError>) -> &[LoadError] {
    match document {
        Ok(d) => &d.problems,
        Err(e) => std::slice::from_ref(e),
    }
}

/// A text parsed with positions, leniently, the lock's jwksUris filled
/// into its spec documents; and whether any was.
fn parse(text: &str, limits: Limits, lock: &Lock) -> (Stream, bool) {
    let mut stream = yaml::load_lenient(text, limits);
    let mut filled = false;
    for doc in stream.documents.iter_mut().flatten() {
        filled |= lock.fill(&mut doc.value);
    }
    (stream, filled)
}

/// A text's spec templates rendered (`None`: nothing to render), or the
/// report that says why it does not render.
fn render(name: &str, text: &str, settings: &Settings) -> Result<Option<String>, Box<FileReport>> {
    if !spec::mentioned(text) {
        // kexpose renders its own specs; any other template must be
        // rendered by its own tool before there is anything to read.
        return match source::unrendered_template(text) {
            Some(at) => Err(Box::new(FileReport::file_error(
                name,
                Code::P010,
                "unrendered template syntax: this file is a template, not a manifest; render it first (helm template ... | kexpose check -) or exclude it in kexpose.yaml".into(),
                at,
                settings.policy,
            ))),
            None => Ok(None),
        };
    }
    match template::render_if_template(name, text, settings.template) {
        Ok(std::borrow::Cow::Borrowed(_)) => Ok(None),
        Ok(std::borrow::Cow::Owned(rendered)) => Ok(Some(rendered)),
        Err(e) => Err(Box::new(FileReport::file_error(
            name,
            Code::P009,
            e.message,
            e.position,
            settings.policy,
        ))),
    }
}

/// `f` over `items` in order, in parallel when there are several. For one
/// file (the pre-commit case) the thread pool is never started: its threads,
/// their stacks and the page-table work they bring cost more than checking
/// the file.
pub fn each<T: Send, R: Send>(items: Vec<T>, f: impl Fn(T) -> R + Sync + Send) -> Vec<R> {
    use rayon::prelude::*;
    if items.len() < 2 {
        items.into_iter().map(f).collect()
    } else {
        items.into_par_iter().map(f).collect()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::identity::lock::Entry;
    use crate::identity::oidc::Discovered;

    const ISSUERS: &str = "apiVersion: kexpose.dev/v1alpha1\nkind: Issuers\nmetadata: {name: shared}\nspec:\n  issuers:\n    idp: {issuer: \"https://id.example\"}\n";

    fn with<R>(lock: &Lock, f: impl FnOnce(&Settings) -> R) -> R {
        let (policy, template) = (Policy::default(), template::Context::default());
        f(&Settings::new(&policy, &template, lock))
    }

    fn file(text: &str, lock: &Lock) -> File {
        with(lock, |s| File::of("f.yaml".into(), Ok(text.into()), s))
    }

    fn locked() -> Lock {
        let discovered = Discovered {
            jwks_uri: "https://id.example/jwks".into(),
            token_endpoint: None,
            key_ids: vec!["k".into()],
        };
        Lock::new(BTreeMap::from([(
            "https://id.example".to_owned(),
            Entry::new(&discovered, "2026-12-07T00:00:00Z".into()),
        )]))
    }

    #[test]
    fn a_spec_is_parsed_as_it_is_read_with_the_lock_filled_in() {
        let f = file(ISSUERS, &locked());
        assert!(f.holds_specs());
        let doc = f.stream().unwrap().documents[0].as_ref().unwrap();
        assert_eq!(
            doc.value["spec"]["issuers"]["idp"]["jwksUri"],
            "https://id.example/jwks"
        );
        // What the lock filled in is not the text: no edit is planned on it.
        assert!(f.as_written().is_none());
        let unlocked = file(ISSUERS, &Lock::default());
        assert!(unlocked.as_written().is_some());
    }

    #[test]
    fn any_other_text_is_parsed_when_asked_and_kept_only_when_told() {
        let mut f = file(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
            &locked(),
        );
        assert!(!f.holds_specs());
        assert!(f.stream().is_none());
        assert!(matches!(f.documents(), Some(Documents::Fresh(_))));
        assert!(f.stream().is_none(), "a fresh parse is not kept");
        f.keep();
        assert!(matches!(f.documents(), Some(Documents::Kept(_))));
        assert_eq!(f.sound().count(), 1);
    }

    #[test]
    fn a_duplicate_key_is_a_problem_of_its_document_and_not_sound() {
        let f = file(
            &ISSUERS.replace("kind: Issuers\n", "kind: Issuers\nkind: Issuers\n"),
            &Lock::default(),
        );
        let doc = f.stream().unwrap().documents[0].as_ref().unwrap();
        assert_eq!(doc.problems.len(), 1);
        assert_eq!(doc.problems[0].position.line, 3);
        assert_eq!(f.sound().count(), 0);
    }

    #[test]
    fn templates_render_for_specs_and_are_refused_elsewhere() {
        let spec = ISSUERS.replace("name: shared", "name: {{ 'shared' | upper }}");
        let f = file(&spec, &Lock::default());
        assert!(f.unread().is_none());
        assert!(f.source().unwrap().contains("name: SHARED"));
        assert!(f.written().unwrap().contains("{{"));
        assert!(
            f.as_written().is_none(),
            "a rendered text is not the text as written"
        );

        let chart = file(
            "kind: ConfigMap\nmetadata: {name: {{ .Values.name }}}\n",
            &Lock::default(),
        );
        let report = chart.unread().unwrap();
        assert_eq!(report.diagnostics[0].code, Code::P010);
        assert_eq!(
            (report.diagnostics[0].line, report.diagnostics[0].column),
            (2, 18)
        );
        assert!(chart.source().is_none() && chart.documents().is_none());
        assert!(chart.was_read());
    }
}
