//! One document built from saphyr's events: the value, the span index when
//! positions are wanted, and the budgets (nodes, aliases, depth) and the
//! duplicate-key and merge-key rules applied as it grows.

use std::collections::HashMap;

use saphyr_parser::{Event, ScalarStyle, Span};
use serde_json::{Map, Value};

use super::scalar::resolve_scalar;
use super::{
    CODE_ALIAS_BUDGET, CODE_DUPLICATE_KEY, CODE_SYNTAX, CODE_TOO_DEEP, Document, Limits, LoadError,
    NodeSpan, SpanIndex, position,
};
use crate::diagnostic::{Position, push_token};
use crate::rules::Code;

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
pub(super) struct Builder {
    limits: Limits,
    /// Whether to record positions (see `load_values`).
    record: bool,
    /// Whether a duplicate key is a problem to report rather than the end
    /// of the document (see `load_lenient`).
    lenient: bool,
    pub(super) problems: Vec<LoadError>,
    frames: Vec<Frame>,
    pointer: String,
    pub(super) spans: SpanIndex,
    anchors: HashMap<usize, (Value, usize)>,
    /// Nodes so far, aliases counted as the nodes they expand to.
    nodes: usize,
    /// How many of those came from aliases.
    aliased: usize,
    pub(super) root: Option<Value>,
}

impl Builder {
    /// A builder for a document of a text of `text_len` bytes.
    pub(super) fn new(limits: Limits, record: bool, lenient: bool, text_len: usize) -> Self {
        Builder {
            limits,
            record,
            lenient,
            problems: Vec::new(),
            frames: Vec::new(),
            pointer: String::new(),
            spans: if record {
                SpanIndex::for_text(text_len)
            } else {
                SpanIndex::default()
            },
            anchors: HashMap::new(),
            nodes: 0,
            aliased: 0,
            root: None,
        }
    }

    /// The document built, starting at `start`.
    pub(super) fn finish(self, start: Position) -> Document {
        Document {
            empty: matches!(self.root, None | Some(Value::Null)),
            value: self.root.unwrap_or(Value::Null),
            spans: self.spans,
            start,
            problems: self.problems,
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
                self.pointer.push('/');
                push_index(&mut self.pointer, items.len());
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

    pub(super) fn on_event(&mut self, event: Event<'_>, span: &Span) -> Result<(), LoadError> {
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

/// `n` in decimal, without the formatting machinery (an index is pushed
/// for every item of every sequence).
fn push_index(out: &mut String, n: usize) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut n = n;
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.push_str(std::str::from_utf8(&digits[i..]).expect("ASCII digits"));
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_index_is_pushed_as_its_decimal_digits() {
        for n in [0, 7, 10, 99, 100, 65_535, usize::MAX] {
            let mut out = String::from("/items/");
            super::push_index(&mut out, n);
            assert_eq!(out, format!("/items/{n}"));
        }
    }
}
