//! A YAML writer for the objects kexpose renders.
//!
//! Output must read like a hand-written manifest and diff quietly in Git and
//! Argo CD: block style, two-space indentation, Kubernetes key order
//! (`apiVersion`, `kind`, `metadata`, `spec`, then each field where upstream's
//! documentation puts it) and strings quoted only when a plain scalar would
//! load as something else. Quoting is decided by the loader's own scalar
//! resolution, so every document this writes loads back to the same value.

use std::borrow::Cow;
use std::fmt::Write;

use serde_json::Value;

/// Field order for APIRules (both versions), their metadata and lock
/// entries, chosen so
/// that every mapping reads in upstream's documentation order (a rule: path,
/// methods, access, service, request, timeout); keys not listed follow in
/// alphabetical order.
const ORDER: &[&str] = &[
    "apiVersion",
    "kind",
    "metadata",
    "name",
    "namespace",
    "labels",
    "annotations",
    "spec",
    "host",
    "hosts",
    "path",
    "methods",
    "noAuth",
    "jwt",
    "extAuth",
    "accessStrategies",
    "handler",
    "config",
    "mutators",
    "service",
    "gateway",
    "externalGateway",
    "corsPolicy",
    "request",
    "rules",
    "timeout",
    "authorizers",
    "restrictions",
    "authentications",
    "authorizations",
    "issuer",
    "jwksUri",
    // kexpose.lock entries
    "tokenEndpoint",
    "keyIds",
    "fetchedAt",
    "fromHeaders",
    "fromParams",
    "requiredScopes",
    "audiences",
    "port",
    "external",
];

fn rank(key: &str) -> usize {
    ORDER.iter().position(|k| *k == key).unwrap_or(ORDER.len())
}

/// One document, without the `---` separator, ending in a newline.
pub fn document(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(m) if !m.is_empty() => mapping(&mut out, m, 0, false),
        Value::Array(a) if !a.is_empty() => sequence(&mut out, a, 0),
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
fn mapping(out: &mut String, map: &serde_json::Map<String, Value>, level: usize, inline: bool) {
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort_by(|a, b| rank(a).cmp(&rank(b)).then_with(|| a.cmp(b)));
    for (i, key) in keys.into_iter().enumerate() {
        if i > 0 || !inline {
            indent(out, level);
        }
        // A plain `<<` key would load back as YAML's merge key.
        if key.as_str() == "<<" {
            out.push_str("\"<<\"");
        } else {
            out.push_str(&string(key));
        }
        out.push(':');
        member(out, &map[key.as_str()], level);
    }
}

/// The value part of `key:` (or of `- ` for nested sequences).
fn member(out: &mut String, value: &Value, level: usize) {
    match value {
        Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            mapping(out, m, level + 2, false);
        }
        Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            sequence(out, a, level + 2);
        }
        other => {
            out.push(' ');
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
}

fn sequence(out: &mut String, items: &[Value], level: usize) {
    for item in items {
        indent(out, level);
        out.push_str("- ");
        match item {
            Value::Object(m) if !m.is_empty() => mapping(out, m, level + 2, true),
            Value::Array(a) if !a.is_empty() => {
                // A sequence in a sequence: start it on the next line.
                out.push('\n');
                sequence(out, a, level + 2);
            }
            other => {
                out.push_str(&scalar(other));
                out.push('\n');
            }
        }
    }
}

fn scalar(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => string(s),
        Value::Object(_) => "{}".into(),
        Value::Array(_) => "[]".into(),
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

fn plain_is_safe(s: &str) -> bool {
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
    if s.chars()
        .any(|c| c.is_control() || matches!(c, '\u{85}' | '\u{feff}' | '\u{2028}' | '\u{2029}'))
    {
        return false;
    }
    super::resolve_plain(Cow::Borrowed(s)) == Value::String(s.to_owned())
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
    fn kubernetes_order_and_block_style() {
        let v = json!({"spec": {"rules": [{"methods": ["GET"], "path": "/*"}], "hosts": ["a.example.com"]},
                       "kind": "APIRule", "apiVersion": "gateway.kyma-project.io/v2",
                       "metadata": {"namespace": "ns", "name": "web"}});
        assert_eq!(
            document(&v),
            "apiVersion: gateway.kyma-project.io/v2\nkind: APIRule\nmetadata:\n  name: web\n  namespace: ns\nspec:\n  hosts:\n    - a.example.com\n  rules:\n    - path: /*\n      methods:\n        - GET\n"
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
