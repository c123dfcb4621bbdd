//! Where every node of a loaded document sits in its source.

use crate::diagnostic::Position;

/// Where one node sits in the source.
#[derive(Debug, Clone, Copy, Default)]
pub struct NodeSpan {
    /// The key, when the node is the value of a mapping member.
    pub key: Option<Position>,
    /// Where the value itself starts.
    pub value: Position,
}

/// JSON Pointer -> position, for one document.
///
/// Built for every document but read only for the few that have findings, so
/// it is an append-only arena (one string, one vector) rather than a hash
/// map: no hashing and no allocation per node on the hot path, and a linear
/// search when a finding needs placing.
#[derive(Debug, Default, Clone)]
pub struct SpanIndex {
    pointers: String,
    nodes: Vec<(u32, u32, NodeSpan)>,
}

impl SpanIndex {
    /// An index sized for a document of about `text_len` bytes, so that
    /// recording does not grow it piece by piece: a manifest's pointers
    /// take about twice its text, and it has a node per dozen bytes or so.
    /// The guess is capped, so a large stream of small documents does not
    /// reserve its whole size for each.
    pub(super) fn for_text(text_len: usize) -> SpanIndex {
        let guess = text_len.min(8 * 1024);
        SpanIndex {
            pointers: String::with_capacity(guess * 2),
            nodes: Vec::with_capacity(guess / 12),
        }
    }

    pub fn get(&self, pointer: &str) -> Option<&NodeSpan> {
        self.nodes
            .iter()
            .find(|(start, end, _)| &self.pointers[*start as usize..*end as usize] == pointer)
            .map(|(_, _, span)| span)
    }

    /// The position a finding about `pointer` should be shown at. A pointer
    /// that names nothing in the source (a missing field) resolves to its
    /// nearest existing parent, so "missing jwksUri" points at the mapping that
    /// lacks it.
    pub fn locate(&self, pointer: &str, at_key: bool) -> Option<Position> {
        if let Some(span) = self.get(pointer) {
            return Some(match (at_key, span.key) {
                (true, Some(key)) => key,
                _ => span.value,
            });
        }
        let mut p = pointer;
        while let Some(cut) = p.rfind('/') {
            p = &p[..cut];
            if let Some(span) = self.get(p) {
                return Some(span.value);
            }
        }
        None
    }

    /// The key position of the first member named `name` below `under`.
    pub fn find_key(&self, under: &str, name: &str) -> Option<Position> {
        let suffix = format!("/{name}");
        self.nodes.iter().find_map(|(start, end, span)| {
            let pointer = &self.pointers[*start as usize..*end as usize];
            (pointer.starts_with(under) && pointer.ends_with(&suffix)).then_some(span.key?)
        })
    }

    pub(super) fn insert(&mut self, pointer: &str, span: NodeSpan) {
        let start = self.pointers.len() as u32;
        self.pointers.push_str(pointer);
        self.nodes.push((start, self.pointers.len() as u32, span));
    }
}
