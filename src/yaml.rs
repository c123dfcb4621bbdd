//! A YAML (and JSON) loader that keeps positions.
//!
//! Checks run on plain `serde_json::Value`s, which is what the API server and
//! the JSON Schema validator see; but users need `file:line:col`. This loader
//! builds both in one pass over saphyr's event stream: the value, and an index
//! from JSON Pointer to the position of every key and value in it.
//!
//! It also refuses what would hurt the process or mislead the user: duplicate
//! keys (kubectl rejects them too), alias bombs (expansion is budgeted before
//! anything is cloned), and nesting deeper than any Kubernetes object needs.
//! Plain scalars resolve the way `sigs.k8s.io/yaml` (and so kubectl) resolves
//! them, YAML 1.1 booleans such as `yes` and `off` included.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};
use serde_json::{Map, Value};

use crate::diagnostic::{Position, push_token};
use crate::rules::Code;

pub mod emit;
mod layout;
mod scalar;
mod spans;

pub(crate) use scalar::resolve_plain;
use scalar::resolve_scalar;
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

enum Frame {
    Seq {
        items: Vec<Value>,
        parent_len: usize,
        anchor: usize,
        nodes: usize,
    },
    Map {
        map: Map<String, Value>,
        key: Option<(String, Position)>,
        /// Whether the pending key is the merge key `<<`.
        merging: bool,
        /// Mappings merged in by `<<`, in order; applied at the end so
        /// that the mapping's own keys win wherever they are written.
        merges: Vec<Map<String, Value>>,
        parent_len: usize,
        anchor: usize,
        nodes: usize,
    },
}

/// Builds one document from events.
struct Builder {
    limits: Limits,
    /// Whether to record positions (see `load_values`).
    record: bool,
    /// Whether a duplicate key is a problem to report rather than the end
    /// of the document (see `load_lenient`).
    lenient: bool,
    problems: Vec<LoadError>,
    frames: Vec<Frame>,
    pointer: String,
    spans: SpanIndex,
    anchors: HashMap<usize, (Value, usize)>,
    /// Nodes so far, aliases counted as the nodes they expand to.
    nodes: usize,
    /// How many of those came from aliases.
    aliased: usize,
    root: Option<Value>,
}

impl Builder {
    fn new(limits: Limits, record: bool, lenient: bool) -> Self {
        Builder {
            limits,
            record,
            lenient,
            problems: Vec::new(),
            frames: Vec::new(),
            pointer: String::new(),
            spans: SpanIndex::default(),
            anchors: HashMap::new(),
            nodes: 0,
            aliased: 0,
            root: None,
        }
    }

    fn err(code: Code, message: impl Into<String>, at: Position) -> LoadError {
        LoadError {
            code,
            message: message.into(),
            position: at,
        }
    }

    /// Called when a value node starts (keys are handled by `set_key`):
    /// extends the pointer to the node and records where it sits.
    fn enter(&mut self, at: Position) {
        if !self.record {
            return;
        }
        let key = match self.frames.last() {
            None => None,
            Some(Frame::Seq { items, .. }) => {
                use std::fmt::Write;
                let _ = write!(self.pointer, "/{}", items.len());
                None
            }
            Some(Frame::Map { key, .. }) => {
                let (name, key_at) = key.as_ref().expect("enter is only called for values");
                push_token(&mut self.pointer, name);
                Some(*key_at)
            }
        };
        self.spans
            .insert(&self.pointer, NodeSpan { key, value: at });
    }

    fn wants_key(&self) -> bool {
        matches!(self.frames.last(), Some(Frame::Map { key: None, .. }))
    }

    /// `merge` says the key is a plain, untagged `<<`: YAML's merge key,
    /// which Kubernetes' YAML decoder honours, so kexpose does too.
    fn set_key(&mut self, name: String, at: Position, merge: bool) -> Result<(), LoadError> {
        let Some(Frame::Map {
            map, key, merging, ..
        }) = self.frames.last_mut()
        else {
            unreachable!("set_key is only called when a key is wanted");
        };
        *merging = merge && name == "<<";
        if *merging {
            *key = Some((name, at));
            return Ok(());
        }
        if map.contains_key(&name) {
            let mut first = self.pointer.clone();
            push_token(&mut first, &name);
            let first_line = self
                .spans
                .get(&first)
                .and_then(|s| s.key)
                .map(|p| format!(" (first defined at line {})", p.line))
                .unwrap_or_default();
            let e = Self::err(
                CODE_DUPLICATE_KEY,
                format!("mapping key \"{name}\" already defined{first_line}"),
                at,
            );
            if !self.lenient {
                return Err(e);
            }
            self.problems.push(e);
        }
        *key = Some((name, at));
        Ok(())
    }

    /// Charges `n` nodes to the budget; an alias's expansion is charged
    /// before it is copied.
    fn count(&mut self, n: usize, at: Position) -> Result<(), LoadError> {
        self.nodes = self.nodes.saturating_add(n);
        if self.nodes <= self.limits.max_nodes {
            return Ok(());
        }
        let max = self.limits.max_nodes;
        // Only a document that aliases made this large is a likely bomb; a
        // large plain one is told what the budget is.
        let message = if self.aliased.saturating_mul(2) > self.nodes {
            format!(
                "aliases expand this document to more than {max} nodes; refusing to expand them further (a YAML alias bomb?)"
            )
        } else {
            format!(
                "document has more than {max} nodes; a document is read up to {max} nodes (aliases counted as what they expand to)"
            )
        };
        Err(Self::err(CODE_ALIAS_BUDGET, message, at))
    }

    /// As `count`, for the copy an alias stands for.
    fn count_alias(&mut self, n: usize, at: Position) -> Result<(), LoadError> {
        self.aliased = self.aliased.saturating_add(n);
        self.count(n, at)
    }

    /// Hands a finished node to its parent and restores the parent's pointer.
    fn emit(
        &mut self,
        value: Value,
        nodes: usize,
        anchor: usize,
        parent_len: usize,
        at: Position,
    ) -> Result<(), LoadError> {
        if anchor != 0 {
            self.anchors.insert(anchor, (value.clone(), nodes));
        }
        self.pointer.truncate(parent_len);
        if let Some(Frame::Map {
            key,
            merging: merging @ true,
            merges,
            nodes: n,
            ..
        }) = self.frames.last_mut()
        {
            key.take();
            *merging = false;
            *n += nodes;
            match value {
                Value::Object(m) => merges.push(m),
                Value::Array(items) if items.iter().all(Value::is_object) => {
                    merges.extend(items.into_iter().filter_map(|v| match v {
                        Value::Object(m) => Some(m),
                        _ => None,
                    }));
                }
                _ => {
                    return Err(Self::err(
                        CODE_SYNTAX,
                        "the merge key << takes a mapping or a list of mappings",
                        at,
                    ));
                }
            }
            return Ok(());
        }
        match self.frames.last_mut() {
            None => self.root = Some(value),
            Some(Frame::Seq {
                items, nodes: n, ..
            }) => {
                items.push(value);
                *n += nodes;
            }
            Some(Frame::Map {
                map, key, nodes: n, ..
            }) => {
                let (name, _) = key.take().expect("a value follows its key");
                map.insert(name, value);
                *n += nodes;
            }
        }
        Ok(())
    }

    fn on_event(&mut self, event: Event<'_>, span: &Span) -> Result<(), LoadError> {
        let at = position(span);
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                if self.wants_key() {
                    self.count(1, at)?;
                    let merge = style == ScalarStyle::Plain && tag.is_none();
                    return self.set_key(text.into_owned(), at, merge);
                }
                let parent_len = self.pointer.len();
                self.enter(at);
                self.count(1, at)?;
                let value = resolve_scalar(text, style, tag.as_deref())
                    .map_err(|m| Self::err(CODE_SYNTAX, m, at))?;
                self.emit(value, 1, anchor, parent_len, at)?;
            }
            Event::Alias(id) => {
                let Some(nodes) = self.anchors.get(&id).map(|(_, n)| *n) else {
                    return Err(Self::err(
                        CODE_SYNTAX,
                        "alias refers to an unknown anchor",
                        at,
                    ));
                };
                if self.wants_key() {
                    let Some(Value::String(name)) = self.anchors.get(&id).map(|(v, _)| v) else {
                        return Err(Self::err(
                            CODE_SYNTAX,
                            "an alias used as a mapping key must refer to a string",
                            at,
                        ));
                    };
                    let name = name.clone();
                    self.count(1, at)?;
                    return self.set_key(name, at, false);
                }
                // The budget is charged before the copy is made.
                self.count_alias(nodes, at)?;
                let value = self.anchors[&id].0.clone();
                let parent_len = self.pointer.len();
                self.enter(at);
                self.emit(value, nodes, 0, parent_len, at)?;
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if self.wants_key() {
                    return Err(Self::err(
                        CODE_SYNTAX,
                        "complex mapping keys (a mapping or sequence used as a key) are not supported",
                        at,
                    ));
                }
                if self.frames.len() >= self.limits.max_depth {
                    return Err(Self::err(
                        CODE_TOO_DEEP,
                        format!("nesting deeper than {} levels", self.limits.max_depth),
                        at,
                    ));
                }
                self.count(1, at)?;
                let parent_len = self.pointer.len();
                self.enter(at);
                self.frames
                    .push(if matches!(event, Event::SequenceStart(..)) {
                        Frame::Seq {
                            items: Vec::new(),
                            parent_len,
                            anchor,
                            nodes: 1,
                        }
                    } else {
                        Frame::Map {
                            map: Map::new(),
                            key: None,
                            merging: false,
                            merges: Vec::new(),
                            parent_len,
                            anchor,
                            nodes: 1,
                        }
                    });
            }
            Event::SequenceEnd | Event::MappingEnd => match self.frames.pop() {
                Some(Frame::Seq {
                    items,
                    parent_len,
                    anchor,
                    nodes,
                }) => self.emit(Value::Array(items), nodes, anchor, parent_len, at)?,
                Some(Frame::Map {
                    mut map,
                    merges,
                    parent_len,
                    anchor,
                    nodes,
                    ..
                }) => {
                    // The mapping's own keys win, then earlier merges over later.
                    for (k, v) in merges.into_iter().flatten() {
                        map.entry(k).or_insert(v);
                    }
                    self.emit(Value::Object(map), nodes, anchor, parent_len, at)?
                }
                None => return Err(Self::err(CODE_SYNTAX, "unbalanced collection end", at)),
            },
            Event::Nothing
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart(_)
            | Event::DocumentEnd => {}
        }
        Ok(())
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
    let mut parser = Parser::new_from_str(&text);
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
                stream
                    .documents
                    .push(Err(syntax_error(&text, e.info(), at)));
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
                builder = Some(Builder::new(limits, record, lenient));
                failed = None;
            }
            Event::DocumentEnd => {
                let done = builder.take();
                stream.documents.push(match (failed.take(), done) {
                    (Some(e), _) => Err(e),
                    (None, Some(b)) => {
                        let empty = matches!(b.root, None | Some(Value::Null));
                        Ok(Document {
                            value: b.root.unwrap_or(Value::Null),
                            spans: b.spans,
                            start,
                            empty,
                            problems: b.problems,
                        })
                    }
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
                    builder = Some(Builder::new(limits, record, lenient));
                }
            }
        }
    }
    stream
}

#[cfg(test)]
mod tests;
