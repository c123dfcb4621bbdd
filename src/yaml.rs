//! A YAML (and JSON) loader that keeps positions.
//!
//! Checks run on plain `serde_json::Value`s, which is what the API server and
//! the JSON Schema validator see; but users need `file:line:col`. This loader
//! builds both in one pass over a stream of parser events: the value, and an
//! index from JSON Pointer to the position of every key and value in it.
//! The events come from `fast` for the part of YAML manifests are written
//! in, and from saphyr's parser for everything else; both feed one builder.
//!
//! It also refuses what would hurt the process or mislead the user: duplicate
//! keys (kubectl rejects them too), alias bombs (expansion is budgeted before
//! anything is cloned), and nesting deeper than any Kubernetes object needs.
//! Plain scalars resolve the way `sigs.k8s.io/yaml` (and so kubectl) resolves
//! them, YAML 1.1 booleans such as `yes` and `off` included.

use saphyr_parser::{Event, Parser, Span};
use serde_json::Value;

use crate::diagnostic::Position;
use crate::rules::Code;

mod build;
pub mod emit;
mod fast;
mod layout;
mod scalar;
mod spans;

use build::Builder;
pub(crate) use scalar::resolve_plain;
pub use spans::{NodeSpan, SpanIndex};

/// Limits that keep a hostile document from costing more than a real one.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Deepest nesting of mappings and sequences.
    pub max_depth: usize,
    /// Most nodes one document may hold once aliases are expanded.
    pub max_nodes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 64,
            max_nodes: 200_000,
        }
    }
}

/// One YAML document with its positions.
#[derive(Debug, Clone)]
pub struct Document {
    pub value: Value,
    pub spans: SpanIndex,
    /// Where the document starts (for findings that have no better place).
    pub start: Position,
    /// Whether the document held nothing but comments or `~`.
    pub empty: bool,
    /// What was wrong but did not stop the load (`load_lenient` only: a
    /// duplicate key, the later value kept as Kubernetes' JSON decoding does).
    pub problems: Vec<LoadError>,
}

/// Why a document or stream could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    pub code: Code,
    pub message: String,
    pub position: Position,
}

/// Where a finding about `pointer` in document `index` of a stream goes:
/// its node, else its nearest parent, else the document's start (or the
/// stream's, when the document did not load).
pub fn locate(
    documents: &[Result<Document, LoadError>],
    index: usize,
    pointer: &str,
    at_key: bool,
) -> Position {
    match documents.get(index).and_then(|d| d.as_ref().ok()) {
        Some(d) => d.spans.locate(pointer, at_key).unwrap_or(d.start),
        None => Position { line: 1, column: 1 },
    }
}

/// The documents of a stream, in order. A syntax error ends the stream (the
/// scanner cannot resynchronise), but the documents before it are kept.
#[derive(Debug, Default)]
pub struct Stream {
    pub documents: Vec<Result<Document, LoadError>>,
}

pub const CODE_SYNTAX: Code = Code::P001;
pub const CODE_DUPLICATE_KEY: Code = Code::P002;
pub const CODE_ALIAS_BUDGET: Code = Code::P006;
pub const CODE_TOO_DEEP: Code = Code::P007;

fn position(span: &Span) -> Position {
    Position {
        line: span.start.line() as u32,
        column: span.start.col() as u32 + 1,
    }
}

/// A syntax error at `at`; one that comes of a bracket or quote left open
/// is placed where it opened, which is where the mistake is.
fn syntax_error(text: &str, info: &str, at: Position) -> LoadError {
    let open = layout::unclosed(text, at)
        .filter(|u| u.at.line < at.line || info.contains("expected ',' or"));
    let Some(open) = open else {
        return LoadError {
            code: CODE_SYNTAX,
            message: info.to_owned(),
            position: at,
        };
    };
    let what = match open.opener {
        '[' => "flow sequence",
        '{' => "flow mapping",
        _ => "quoted scalar",
    };
    LoadError {
        code: CODE_SYNTAX,
        message: format!(
            "unclosed '{}': the {what} opened here is never closed (the parser stopped at line {}, column {}: {info})",
            open.opener, at.line, at.column
        ),
        position: open.at,
    }
}

/// Loads every document of a YAML or JSON stream, with positions.
pub fn load(text: &str, limits: Limits) -> Stream {
    load_with(text, limits, true, false)
}

/// Like `load`, but a duplicate key does not end its document: it becomes
/// one of the document's `problems`, and the rest is still checked, so
/// that one mistake does not hide the others.
pub fn load_lenient(text: &str, limits: Limits) -> Stream {
    load_with(text, limits, true, true)
}

/// Loads values only, without the span index. Most documents in a
/// repository have no findings and need no positions; recording them costs
/// about a tenth of the load, so `check` loads lean first and loads again with
/// positions only when something needs placing.
pub fn load_values(text: &str, limits: Limits) -> Stream {
    load_with(text, limits, false, false)
}

fn load_with(text: &str, limits: Limits, record: bool, lenient: bool) -> Stream {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let (text, refused) = layout::read(text);
    if refused.is_none()
        && let Some(stream) = fast::load(&text, limits, record, lenient)
    {
        return stream;
    }
    parse(&text, refused, limits, record, lenient)
}

/// All of YAML, by saphyr's parser: what `fast` does not take.
fn parse(
    text: &str,
    refused: Option<layout::Refusal>,
    limits: Limits,
    record: bool,
    lenient: bool,
) -> Stream {
    let mut stream = Stream::default();
    // A tab kubectl refuses ends the stream where it is, as a syntax error
    // there would: the documents before it are kept.
    let refuse = |stream: &mut Stream, refusal: &layout::Refusal| {
        stream.documents.push(Err(LoadError {
            code: Code::P011,
            message: refusal.message.to_owned(),
            position: refusal.at,
        }));
    };
    let reached = |at: Position| {
        refused
            .as_ref()
            .filter(|r| (at.line, at.column) >= (r.at.line, r.at.column))
    };
    let mut parser = Parser::new_from_str(text);
    let mut builder: Option<Builder> = None;
    let mut failed: Option<LoadError> = None;
    let mut start = Position::default();
    while let Some(next) = parser.next_event() {
        let (event, span) = match next {
            Ok(ev) => ev,
            Err(e) => {
                let at = Position {
                    line: e.marker().line() as u32,
                    column: e.marker().col() as u32 + 1,
                };
                // The parser may stumble on a refused tab a line early,
                // while it looks for the end of a plain scalar.
                let about_a_tab = e.info().contains("tab");
                if let Some(r) = refused
                    .as_ref()
                    .filter(|r| reached(at).is_some() || (about_a_tab && r.at.line <= at.line + 1))
                {
                    refuse(&mut stream, r);
                    return stream;
                }
                // The parser's own recursion guard fires before ours on flow collections.
                if e.info().contains("recursion limit") {
                    stream.documents.push(Err(LoadError {
                        code: CODE_TOO_DEEP,
                        message: e.info().to_owned(),
                        position: at,
                    }));
                    return stream;
                }
                stream.documents.push(Err(syntax_error(text, e.info(), at)));
                return stream;
            }
        };
        if let Some(r) = reached(position(&span)) {
            refuse(&mut stream, r);
            return stream;
        }
        match event {
            Event::DocumentStart(_) => {
                start = position(&span);
                builder = Some(Builder::new(limits, record, lenient, text.len()));
                failed = None;
            }
            Event::DocumentEnd => {
                let done = builder.take();
                stream.documents.push(match (failed.take(), done) {
                    (Some(e), _) => Err(e),
                    (None, Some(b)) => Ok(b.finish(start)),
                    (None, None) => continue,
                });
            }
            Event::StreamEnd => break,
            event => {
                if failed.is_some() {
                    continue;
                }
                if let Some(b) = builder.as_mut()
                    && let Err(e) = b.on_event(event, &span)
                {
                    failed = Some(e);
                    // Free what was built so far; the rest of the document is skipped.
                    builder = Some(Builder::new(limits, record, lenient, text.len()));
                }
            }
        }
    }
    stream
}

#[cfg(test)]
mod tests;
