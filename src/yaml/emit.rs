//! A YAML writer for the objects kexpose renders.
//!
//! Output must read like a hand-written manifest and diff quietly in Git and
//! Argo CD: block style, two-space indentation, and strings quoted only when
//! a plain scalar would load as something else. Quoting is decided by the
//! loader's own scalar resolution, so every document this writes loads back
//! to the same value.
//!
//! Key order comes from the types: a typed value (an APIRule of
//! `crate::apirule`, a lock) is written in its fields' declaration order,
//! so the model is the one place that says what an APIRule looks like. An
//! untyped object (a manifest Argo CD passes through) keeps the Kubernetes
//! convention at its top (`apiVersion`, `kind`, `metadata` with `name` and
//! `namespace` first) and its keys' order elsewhere.

use std::fmt::{self, Write};

use serde::Serialize;
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

/// A value with its mappings in order: what serialising a typed value
/// produces, field by field.
#[derive(Debug, Clone, PartialEq)]
enum Node {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Seq(Vec<Node>),
    Map(Vec<(String, Node)>),
}

/// serde_json writes struct fields in declaration order; reading its text
/// back into `Node` keeps that order (a `serde_json::Value` would sort it).
impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Node, D::Error> {
        struct NodeVisitor;
        impl<'de> Visitor<'de> for NodeVisitor {
            type Value = Node;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_unit<E>(self) -> Result<Node, E> {
                Ok(Node::Null)
            }
            fn visit_bool<E>(self, b: bool) -> Result<Node, E> {
                Ok(Node::Bool(b))
            }
            fn visit_u64<E>(self, n: u64) -> Result<Node, E> {
                Ok(Node::Number(n.into()))
            }
            fn visit_i64<E>(self, n: i64) -> Result<Node, E> {
                Ok(Node::Number(n.into()))
            }
            fn visit_f64<E>(self, n: f64) -> Result<Node, E> {
                Ok(serde_json::Number::from_f64(n).map_or(Node::Null, Node::Number))
            }
            fn visit_str<E>(self, s: &str) -> Result<Node, E> {
                Ok(Node::String(s.to_owned()))
            }
            fn visit_string<E>(self, s: String) -> Result<Node, E> {
                Ok(Node::String(s))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Node, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = a.next_element()? {
                    items.push(item);
                }
                Ok(Node::Seq(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Node, A::Error> {
                let mut members = Vec::new();
                while let Some(member) = a.next_entry()? {
                    members.push(member);
                }
                Ok(Node::Map(members))
            }
        }
        d.deserialize_any(NodeVisitor)
    }
}

impl Node {
    fn of<T: Serialize + ?Sized>(value: &T) -> Node {
        let json = serde_json::to_vec(value).expect("rendered objects are plain data");
        serde_json::from_slice(&json).expect("serde_json reads what it wrote")
    }

    /// Moves the members named in `first` to the front, in that order.
    fn hoist(&mut self, first: &[&str]) {
        if let Node::Map(members) = self {
            let rank = |k: &str| first.iter().position(|f| *f == k).unwrap_or(first.len());
            members.sort_by_key(|(k, _)| rank(k));
        }
    }
}

/// Keys a Kubernetes object reads in, for objects without a type here.
const OBJECT_FIRST: [&str; 3] = ["apiVersion", "kind", "metadata"];
const METADATA_FIRST: [&str; 2] = ["name", "namespace"];

/// One document, without the `---` separator, ending in a newline.
pub fn document<T: Serialize + ?Sized>(value: &T) -> String {
    write_document(value, Style::Quoted)
}

/// One document as [`document`] writes it, but with every multi-line string
/// that can be one written as a literal block (`|`): for documents people
/// read line by line, such as the CEL expressions of an admission policy.
pub fn document_with_blocks<T: Serialize + ?Sized>(value: &T) -> String {
    write_document(value, Style::Blocks)
}

/// How multi-line strings are written.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Style {
    /// In double quotes, with `\n` escapes: one line per value.
    Quoted,
    /// As literal blocks where the text allows it.
    Blocks,
}

fn write_document<T: Serialize + ?Sized>(value: &T, style: Style) -> String {
    let mut node = Node::of(value);
    node.hoist(&OBJECT_FIRST);
    if let Node::Map(members) = &mut node
        && let Some((_, metadata)) = members.iter_mut().find(|(k, _)| k == "metadata")
    {
        metadata.hoist(&METADATA_FIRST);
    }
    let mut out = String::new();
    match &node {
        Node::Map(m) if !m.is_empty() => mapping(&mut out, m, 0, false, style),
        Node::Seq(a) if !a.is_empty() => sequence(&mut out, a, 0, style),
        other => {
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
    out
}

fn indent(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

/// Writes the members of a mapping at `level`; when `inline` the first key
/// continues the current line (after a sequence's `- `).
fn mapping(out: &mut String, members: &[(String, Node)], level: usize, inline: bool, style: Style) {
    for (i, (key, value)) in members.iter().enumerate() {
        if i > 0 || !inline {
            indent(out, level);
        }
        // A plain `<<` key would load back as YAML's merge key.
        if key == "<<" {
            out.push_str("\"<<\"");
        } else {
            out.push_str(&string(key));
        }
        out.push(':');
        member(out, value, level, style);
    }
}

/// The value part of `key:` (or of `- ` for nested sequences).
fn member(out: &mut String, value: &Node, level: usize, style: Style) {
    match value {
        Node::Map(m) if !m.is_empty() => {
            out.push('\n');
            mapping(out, m, level + 2, false, style);
        }
        Node::Seq(a) if !a.is_empty() => {
            out.push('\n');
            sequence(out, a, level + 2, style);
        }
        Node::String(s) if style == Style::Blocks && literal_is_safe(s) => {
            literal(out, s, level + 2);
        }
        other => {
            out.push(' ');
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
}

fn sequence(out: &mut String, items: &[Node], level: usize, style: Style) {
    for item in items {
        indent(out, level);
        out.push_str("- ");
        match item {
            Node::Map(m) if !m.is_empty() => mapping(out, m, level + 2, true, style),
            Node::Seq(a) if !a.is_empty() => {
                // A sequence in a sequence: start it on the next line.
                out.push('\n');
                sequence(out, a, level + 2, style);
            }
            other => {
                out.push_str(&scalar(other));
                out.push('\n');
            }
        }
    }
}

/// Whether `s` reads back from a literal block unchanged: more than one
/// line, a first line that does not start with a space (it sets the block's
/// indentation), no tab in indentation, no trailing spaces (editors strip
/// them), printable text, and at most one final newline (`|` keeps one,
/// `|-` none).
fn literal_is_safe(s: &str) -> bool {
    let body = s.strip_suffix('\n').unwrap_or(s);
    body.contains('\n')
        && !body.ends_with('\n')
        && !body.starts_with([' ', '\n'])
        && body
            .lines()
            .all(|l| !l.trim_start_matches(' ').starts_with('\t') && !l.ends_with([' ', '\t']))
        && !s.chars().any(|c| c != '\n' && breaks_a_scalar(c))
}

/// ` |` or ` |-` and the lines of `s` at `level`.
fn literal(out: &mut String, s: &str, level: usize) {
    let body = s.strip_suffix('\n');
    out.push_str(if body.is_some() { " |\n" } else { " |-\n" });
    for line in body.unwrap_or(s).lines() {
        if !line.is_empty() {
            indent(out, level);
            out.push_str(line);
        }
        out.push('\n');
    }
}

fn scalar(value: &Node) -> String {
    match value {
        Node::Null => "null".into(),
        Node::Bool(b) => b.to_string(),
        Node::Number(n) => n.to_string(),
        Node::String(s) => string(s),
        Node::Map(_) => "{}".into(),
        Node::Seq(_) => "[]".into(),
    }
}

/// A string, plain when that loads back as the same string, else in double
/// quotes with JSON escapes (a JSON string is a valid YAML one).
fn string(s: &str) -> String {
    if plain_is_safe(s) {
        s.to_owned()
    } else {
        let mut q = String::with_capacity(s.len() + 2);
        q.push('"');
        for c in s.chars() {
            match c {
                '"' => q.push_str("\\\""),
                '\\' => q.push_str("\\\\"),
                '\n' => q.push_str("\\n"),
                '\t' => q.push_str("\\t"),
                '\r' => q.push_str("\\r"),
                c if (c as u32) < 0x20 || c == '\u{7f}' || c == '\u{85}' || c == '\u{feff}' => {
                    let _ = write!(q, "\\u{:04x}", c as u32);
                }
                '\u{2028}' | '\u{2029}' => {
                    let _ = write!(q, "\\u{:04x}", c as u32);
                }
                c => q.push(c),
            }
        }
        q.push('"');
        q
    }
}

/// A character no unquoted scalar may hold: a control character, or one
/// YAML reads as a line break or a byte-order mark.
fn breaks_a_scalar(c: char) -> bool {
    c.is_control() || matches!(c, '\u{85}' | '\u{feff}' | '\u{2028}' | '\u{2029}')
}

pub(crate) fn plain_is_safe(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    if "-?:,[]{}#&*!|>'\"%@`".contains(first) || first.is_whitespace() {
        return false;
    }
    if s.ends_with(|c: char| c.is_whitespace() || c == ':') {
        return false;
    }
    if s.contains(": ") || s.contains(" #") || s.contains(":\t") || s.contains("\t#") {
        return false;
    }
    if s.chars().any(breaks_a_scalar) {
        return false;
    }
    super::resolve_plain(std::borrow::Cow::Borrowed(s)) == Value::String(s.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn round_trip(v: &Value) -> Value {
        let text = document(v);
        let stream = super::super::load(&text, super::super::Limits::default());
        stream.documents[0].as_ref().expect(&text).value.clone()
    }

    #[test]
    fn typed_values_keep_their_field_order() {
        #[derive(Serialize)]
        struct Rule {
            path: &'static str,
            methods: Vec<&'static str>,
        }
        #[derive(Serialize)]
        struct Object {
            kind: &'static str,
            zeta: u8,
            alpha: Vec<Rule>,
        }
        let v = Object {
            kind: "K",
            zeta: 1,
            alpha: vec![Rule {
                path: "/*",
                methods: vec!["GET"],
            }],
        };
        assert_eq!(
            document(&v),
            "kind: K\nzeta: 1\nalpha:\n  - path: /*\n    methods:\n      - GET\n"
        );
    }

    #[test]
    fn untyped_objects_read_as_kubernetes_objects() {
        let v = json!({"spec": {"replicas": 1, "path": "/x"}, "kind": "Deployment",
                       "apiVersion": "apps/v1", "data": {"name": "cfg", "a": "b"},
                       "metadata": {"labels": {"name": "x"}, "namespace": "ns", "name": "web"}});
        assert_eq!(
            document(&v),
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: ns\n  labels:\n    name: x\ndata:\n  a: b\n  name: cfg\nspec:\n  path: /x\n  replicas: 1\n"
        );
    }

    #[test]
    fn multi_line_strings_become_blocks_that_load_back() {
        let v = json!({"a": [{"expression": "x &&\n  y", "message": "one\ntwo\n"}],
                       "kept": " lead\nx", "trailing": "x \ny", "one": "line"});
        let text = document_with_blocks(&v);
        assert_eq!(
            text,
            "a:\n  - expression: |-\n      x &&\n        y\n    message: |\n      one\n      two\nkept: \" lead\\nx\"\none: line\ntrailing: \"x \\ny\"\n"
        );
        let stream = super::super::load(&text, super::super::Limits::default());
        assert_eq!(stream.documents[0].as_ref().unwrap().value, v);
        assert!(
            !document(&v).contains('|'),
            "document() keeps one line per value"
        );
    }

    #[test]
    fn a_literal_merge_key_stays_a_key() {
        let v = json!({"<<": {"a": 1}, "b": "<<"});
        assert_eq!(round_trip(&v), v);
    }

    #[test]
    fn strings_that_would_change_meaning_are_quoted() {
        for s in [
            "y",
            "no",
            "ON",
            "null",
            "~",
            "",
            "1",
            "0x1f",
            "1e3",
            ".5",
            "-",
            "*.example.com",
            "a: b",
            "a #b",
            "trailing ",
            " leading",
            "{**}",
            "@x",
            "line\nbreak",
            "tab\there",
            "key:",
            "\u{7f}",
            "\"",
            "'",
            "#",
            "- a",
            "? a",
            "%x",
            "!t",
            "&a",
            "|",
            ">",
        ] {
            let v = json!({ "k": s, "list": [s] });
            assert_eq!(round_trip(&v), v, "{s:?} -> {}", document(&v));
        }
        assert_eq!(string("/api/{**}"), "/api/{**}");
        assert_eq!(string("https://x.example.com/a"), "https://x.example.com/a");
    }

    #[test]
    fn empty_collections_and_nested_sequences() {
        let v = json!({"a": {}, "b": [], "c": [[1, 2], [], {"x": null}], "d": [{"e": [true]}]});
        assert_eq!(round_trip(&v), v);
    }
}
