//! The loader on hostile and ordinary input.

use super::*;
use serde_json::json;

fn one(text: &str) -> Document {
    let mut s = load(text, Limits::default());
    assert_eq!(s.documents.len(), 1, "{:?}", s.documents);
    s.documents.remove(0).expect("loads")
}

#[test]
fn merge_keys_merge_as_kubernetes_decodes_them() {
    let text = "base: &jwt\n  issuer: https://a\n  jwksUri: https://a/keys\nother: &o\n  issuer: https://b\n  extra: 1\none:\n  <<: *jwt\n  issuer: https://own\nmany:\n  issuer: https://own\n  <<: [*jwt, *o]\n";
    let d = one(text);
    assert_eq!(
        d.value["one"],
        json!({"issuer": "https://own", "jwksUri": "https://a/keys"})
    );
    assert_eq!(
        d.value["many"],
        json!({"issuer": "https://own", "jwksUri": "https://a/keys", "extra": 1})
    );
    assert_eq!(d.value["many"].get("<<"), None);
    // A quoted "<<" is an ordinary key.
    assert_eq!(one("\"<<\": 1\n").value, json!({"<<": 1}));
    let err = load("a:\n  <<: 1\n", Limits::default())
        .documents
        .remove(0)
        .unwrap_err();
    assert!(err.message.contains("merge key"), "{err:?}");
    assert_eq!((err.position.line, err.position.column), (2, 7));
}

#[test]
fn values_and_spans() {
    let d = one("a: 1\nb:\n  - x: yes\n    y: '1'\n");
    assert_eq!(d.value, json!({"a": 1, "b": [{"x": true, "y": "1"}]}));
    let s = d.spans.get("/b/0/y").unwrap();
    assert_eq!(s.key, Some(Position { line: 4, column: 5 }));
    assert_eq!(s.value, Position { line: 4, column: 8 });
    // A missing member points at its parent mapping.
    assert_eq!(
        d.spans.locate("/b/0/z", false),
        Some(Position { line: 3, column: 5 })
    );
}

#[test]
fn scalars_resolve_like_kubectl() {
    let d = one(
        "[~, null, 'null', off, On, 0x1f, 010, -7, 1_000, 1.5, 1e3, .5, 0.0.1, 1.2.3.4, 9999999999999999999999]",
    );
    assert_eq!(
        d.value,
        json!([
            null, null, "null", false, true, 31, 8, -7, 1000, 1.5, 1000.0, 0.5, "0.0.1", "1.2.3.4",
            1e22
        ])
    );
    let d = one("a: !!str 10\nb: !!int '12'\n");
    assert_eq!(d.value, json!({"a": "10", "b": 12}));
}

#[test]
fn duplicate_keys_are_rejected_with_both_lines() {
    let s = load("a: 1\nb: 2\na: 3\n", Limits::default());
    let e = s.documents[0].as_ref().unwrap_err();
    assert_eq!(e.code, CODE_DUPLICATE_KEY);
    assert_eq!(e.position, Position { line: 3, column: 1 });
    assert!(
        e.message.contains("first defined at line 1"),
        "{}",
        e.message
    );
}

#[test]
fn alias_bombs_are_budgeted() {
    let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        let prev = (b'a' + i - 1) as char;
        let name = (b'a' + i) as char;
        bomb.push_str(&format!("{name}: &{name} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
    }
    let s = load(&bomb, Limits::default());
    let e = s.documents[0].as_ref().unwrap_err();
    assert_eq!(e.code, CODE_ALIAS_BUDGET);
    assert_eq!(
        e.message,
        "aliases expand this document to more than 200000 nodes; refusing to expand them further (a YAML alias bomb?)"
    );
}

#[test]
fn a_large_plain_document_is_told_the_budget_not_called_a_bomb() {
    let limits = Limits {
        max_nodes: 1_000,
        ..Limits::default()
    };
    let text = format!("items: [{}]\n", vec!["7"; 1_200].join(", "));
    let s = load(&text, limits);
    let e = s.documents[0].as_ref().unwrap_err();
    assert_eq!(e.code, CODE_ALIAS_BUDGET);
    assert_eq!(
        e.message,
        "document has more than 1000 nodes; a document is read up to 1000 nodes (aliases counted as what they expand to)"
    );
    assert_eq!(
        e.position,
        Position {
            line: 1,
            column: 3000
        }
    );
}

#[test]
fn deep_nesting_is_refused() {
    let deep = "[".repeat(10_000) + &"]".repeat(10_000);
    let s = load(&deep, Limits::default());
    assert!(matches!(&s.documents[0], Err(e) if e.code == CODE_TOO_DEEP || e.code == CODE_SYNTAX));
}

#[test]
fn multi_document_streams_keep_good_documents_before_an_error() {
    let s = load("a: 1\n---\n---\nb: [\n", Limits::default());
    assert_eq!(s.documents.len(), 3);
    assert!(s.documents[0].as_ref().is_ok());
    assert!(s.documents[1].as_ref().unwrap().empty);
    let e = s.documents[2].as_ref().unwrap_err();
    assert_eq!(e.code, CODE_SYNTAX);
}

#[test]
fn json_loads_too() {
    let d = one("{\n\t\"a\": [1, \"b\"],\n\t\"c\": {\"d\": null}\n}\n");
    assert_eq!(d.value, json!({"a": [1, "b"], "c": {"d": null}}));
    assert_eq!(d.spans.get("/c/d").unwrap().value.line, 3);
}

#[test]
fn lenient_loading_reports_duplicate_keys_and_keeps_the_later_value() {
    let s = load_lenient("a: 1\nb: {c: 2, c: 3}\na: 4\n", Limits::default());
    let d = s.documents[0].as_ref().unwrap();
    assert_eq!(d.value, serde_json::json!({"a": 4, "b": {"c": 3}}));
    let problems: Vec<(Position, &str)> = d
        .problems
        .iter()
        .map(|p| (p.position, p.message.as_str()))
        .collect();
    assert_eq!(
        problems,
        [
            (
                Position {
                    line: 2,
                    column: 11
                },
                "mapping key \"c\" already defined (first defined at line 2)"
            ),
            (
                Position { line: 3, column: 1 },
                "mapping key \"a\" already defined (first defined at line 1)"
            ),
        ]
    );
    assert!(d.problems.iter().all(|p| p.code == CODE_DUPLICATE_KEY));
}

/// Tabs are read as kubectl 1.37 reads them (tests/fixtures/yaml-tabs,
/// written by oracle.py beside it): every text it accepts loads to the
/// object kubectl read, and every one it refuses fails at the line kubectl
/// names. One difference is known and not about tabs: go-yaml lets a
/// flow collection or a quoted scalar go on at any indentation, saphyr
/// wants its next lines indented past the key that holds it, so a
/// continuation line that starts at column 1 (a tab there counts as one
/// column) is refused.
#[test]
fn tabs_are_read_as_kubectl_reads_them() {
    const UNDER_INDENTED: &[&str] = &[
        "spec:\n  hosts: [httpbin.example.com,\n\thttpbin2.example.com]\n",
        "spec:\n  a: \"x\n\ty\"\n",
        "spec:\n  a: {b: c,\n\td: e}\n",
        "spec:\n  a: [\n\t1,\n\t2\n  ]\n",
    ];
    const HEADER: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n";
    let corpus = include_str!("../../tests/fixtures/yaml-tabs/corpus.jsonl");
    let mut wrong = Vec::new();
    for line in corpus.lines().skip(1) {
        let answer: Value = serde_json::from_str(line).unwrap();
        let yaml = answer["yaml"].as_str().unwrap();
        let stream = load(&format!("{HEADER}{yaml}"), Limits::default());
        let got = match stream.documents.as_slice() {
            [Ok(d)] => Ok(&d.value),
            [.., Err(e)] => Err(e),
            other => panic!("{yaml:?}: {other:?}"),
        };
        match (&answer["value"], got) {
            (want, Ok(value)) if want == value => {}
            (Value::Null, Err(e)) if u64::from(e.position.line) == answer["line"] => {}
            (_, Err(e)) if UNDER_INDENTED.contains(&yaml) && e.message.contains("indentation") => {}
            (want, got) => wrong.push(format!(
                "{yaml:?}: kubectl {want} / {answer}, kexpose {got:?}"
            )),
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
