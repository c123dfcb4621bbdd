//! The fast reader against saphyr: whatever it takes, it must read exactly
//! as saphyr does (values, spans, positions, problems), in every mode.

use std::path::Path;

use proptest::prelude::*;

use super::super::{Limits, layout, parse};
use super::load;

/// Both readers on `text` in every mode; whether the fast one took it.
fn agree(text: &str) -> bool {
    let (text, refused) = layout::read(text);
    let mut took = false;
    for (record, lenient) in [(true, false), (true, true), (false, false)] {
        let limits = Limits::default();
        // A strict load gives up where a lenient one goes on (a duplicate key).
        let Some(fast) = load(&text, limits, record, lenient) else {
            continue;
        };
        assert!(refused.is_none());
        took = true;
        let slow = parse(&text, None, limits, record, lenient);
        let (fast, slow) = (format!("{fast:#?}"), format!("{slow:#?}"));
        if let Some((f, s)) = fast.lines().zip(slow.lines()).find(|(f, s)| f != s) {
            let at = fast.lines().position(|l| l == f).unwrap_or(0);
            let context: Vec<_> = fast.lines().skip(at.saturating_sub(12)).take(12).collect();
            panic!(
                "record {record}, lenient {lenient}: fast {f:?}, saphyr {s:?} after\n{}\non:\n{text}",
                context.join("\n")
            );
        }
        assert_eq!(fast.len(), slow.len(), "on:\n{text}");
    }
    took
}

fn yaml_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            yaml_files(&path, out);
        } else if path
            .extension()
            .is_some_and(|e| e == "yaml" || e == "yml" || e == "json")
        {
            out.push(path);
        }
    }
}

#[test]
fn every_yaml_file_in_the_repository_reads_as_saphyr_reads_it() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["tests", "examples", "charts", "policies", "schemas", "src"] {
        yaml_files(&root.join(dir), &mut files);
    }
    let (mut took, mut total) = (0, 0);
    for path in &files {
        let Ok(text) = std::fs::read_to_string(path) else {
            continue;
        };
        total += 1;
        if agree(&text) {
            took += 1;
        }
    }
    assert!(total > 300, "{total} files");
    // Most of them are plain manifests: if the fast reader stops taking
    // them, the check is slow again without a word.
    assert!(took * 2 > total, "the fast reader took {took} of {total}");
}

#[test]
fn the_manifests_people_write_are_taken() {
    let apirule = "\
# An APIRule as people write it.
apiVersion: gateway.kyma-project.io/v2
kind: APIRule
metadata:
  name: orders   # the Service's name
  labels: {}
spec:
  hosts:
  - orders.example.com
  service:
    name: 'orders'
    port: 8080
  gateway: \"kyma-system/kyma-gateway\"
  corsPolicy:
    allowMethods: [GET, 'POST', \"PUT\"]
    maxAge:
  rules:
    - path: /api/{**}
      methods: [ GET ]
      jwt:
        authentications:
          - issuer: https://idp.example.com
            jwksUri: https://idp.example.com/keys#x
    -   path: /healthz
        noAuth: yes
---
a: b
";
    assert!(agree(apirule));
    let built = load(apirule, Limits::default(), true, false).unwrap();
    assert_eq!(built.documents.len(), 2);
    let doc = built.documents[0].as_ref().unwrap();
    assert_eq!(
        doc.value["spec"]["corsPolicy"]["maxAge"],
        serde_json::Value::Null
    );
    assert_eq!(doc.value["spec"]["rules"][1]["noAuth"], true);
    let span = doc
        .spans
        .get("/spec/rules/0/jwt/authentications/0/jwksUri")
        .unwrap();
    assert_eq!((span.value.line, span.value.column), (23, 22));
}

#[test]
fn what_it_does_not_know_is_left_to_saphyr() {
    for text in [
        "a: &x 1\nb: *x\n",
        "a: !!str 1\n",
        "a: |\n  text\n",
        "a: >\n  text\n",
        "a: two\n  lines\n",
        "a: \"esc\\n\"\n",
        "a: 'it''s'\n",
        "a: [{b: 1}\n",
        "a: {b, c}\n",
        "? a\n: b\n",
        "- a:\tb\n  c:\td\n\t- e\n",
        "a: b\r\n",
        "a: caf\u{e9}\n",
        "a: b: c\n",
        "a: [b,\n  c]\n",
        "a: [b, c,]\n",
        "- - a\n",
        "-\n- a\n",
        "a:\n-\n  b: 1\n",
        "---\n",
        "--- a\n",
        "%YAML 1.2\n---\na: 1\n",
        "a: 1\n...\n",
        "<<: {}\n",
        "a: \"open\n",
        "{\"json\": true}\n",
    ] {
        assert!(!agree(text), "taken: {text:?}");
    }
}

/// Lines from pieces that are valid YAML, invalid YAML, or on the edge of
/// what the fast reader takes, at random indentation.
fn line() -> impl Strategy<Value = String> {
    let indent = 0..7usize;
    let pick = |v: &[&'static str]| prop::sample::select(v.to_vec());
    let entry = pick(&["", "- ", "-  ", "- - ", "-"]);
    let key = pick(&[
        "", "a", "b", "k k", "\"q\"", "'s'", "-k", "a:b", "<<", "x#y", "~", "1",
    ]);
    let colon = pick(&[": ", ":", " : ", ":  ", ""]);
    let value = pick(&[
        "",
        "v",
        "1",
        "yes",
        "~",
        "-1",
        "\"d q\"",
        "'s q'",
        "[]",
        "[a, b]",
        "[ \"a\" ,'b']",
        "[a,]",
        "[a b, c]",
        "{}",
        "{ }",
        "x # c",
        "x#c",
        "#c",
        "a: b",
        "a:b",
        "[a",
        "\"x\" y",
        "'x'#c",
        "v  ",
        "--- ",
        "---",
        "...",
        "&a v",
        "*a",
        "|",
        "0x1f",
        "1e3",
        "\"a\\\\b\"",
        "'it''s'",
        "?",
        "@x",
        ":",
        "-",
        "- x",
        "{a: b}",
        "{a: 1, 'b': c}",
        "{ \"k\":v }",
        "{\"k\": 1,\"l\":\"m\"}",
        "{a:b}",
        "{a: b,}",
        "{a}",
        "{a: }",
        "{a: b c, d: e}",
        "[{a: b}, [c, {}], []]",
        "{a: [b, {c: d}]}",
        "[{a: b]",
        "[[a]]",
        "[a:b]",
        "[https://x/y, z]",
        "{a: http://b:8080/c}",
        "{a:b: c}",
        "[a:, b]",
        "{a: b:}",
        "[a :b]",
    ]);
    (indent, entry, key, colon, value)
        .prop_map(|(i, e, k, c, v)| format!("{}{e}{k}{c}{v}", " ".repeat(i)))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn generated_text_reads_as_saphyr_reads_it(lines in prop::collection::vec(line(), 1..9)) {
        agree(&(lines.join("\n") + "\n"));
        agree(&lines.join("\n"));
    }
}
/// A tree of the shapes manifests have.
#[derive(Debug, Clone)]
enum Node {
    Scalar(&'static str),
    Map(Vec<(&'static str, Node)>),
    Seq(Vec<Node>),
}

fn tree() -> impl Strategy<Value = Node> {
    let scalar = prop::sample::select(vec![
        "v",
        "1",
        "-2",
        "yes",
        "off",
        "~",
        "null",
        "0x1f",
        "1e3",
        "https://a.example.com/x",
        "/api/{**}",
        "*.apps.example.com",
        "\"d q\"",
        "'s q'",
        "\"\"",
        "''",
        "a b",
        "x#y",
        "a:b",
        "'#'",
        "\"[x]\"",
        "GET",
    ]);
    let key = prop::sample::select(vec![
        "a",
        "b",
        "name",
        "k k",
        "\"q k\"",
        "'s'",
        "x-y",
        "1",
        "apiVersion",
        "jwksUri",
    ]);
    scalar
        .prop_map(Node::Scalar)
        .prop_recursive(5, 40, 5, move |inner| {
            prop_oneof![
                prop::collection::vec((key.clone(), inner.clone()), 1..5).prop_map(Node::Map),
                prop::collection::vec(inner, 1..5).prop_map(Node::Seq),
            ]
        })
}

/// Writes `node` the ways people and tools do, each choice drawn from `style`.
struct Writer {
    out: String,
    style: u64,
}

impl Writer {
    fn pick(&mut self, n: u64) -> u64 {
        // xorshift: the choices vary along the text but repeat for a seed.
        self.style ^= self.style << 13;
        self.style ^= self.style >> 7;
        self.style ^= self.style << 17;
        self.style % n
    }

    fn flow(&mut self, node: &Node) {
        match node {
            Node::Scalar(s) => self.out.push_str(s),
            Node::Map(entries) => {
                self.out.push('{');
                for (i, (k, v)) in entries.iter().enumerate() {
                    self.out.push_str(if i == 0 { "" } else { ", " });
                    self.out.push_str(k);
                    self.out.push_str(": ");
                    self.flow(v);
                }
                self.out.push('}');
            }
            Node::Seq(items) => {
                self.out.push('[');
                for (i, v) in items.iter().enumerate() {
                    self.out.push_str(if i == 0 { "" } else { ", " });
                    self.flow(v);
                }
                self.out.push(']');
            }
        }
    }

    fn fits_flow(node: &Node) -> bool {
        match node {
            // Flow plain scalars cannot hold `#` after a space or `{}` etc.
            Node::Scalar(s) => {
                !s.contains(['{', '}', '[', ']', '#', ',', '*']) || s.starts_with(['"', '\''])
            }
            Node::Map(e) => e.iter().all(|(_, v)| Self::fits_flow(v)),
            Node::Seq(i) => i.iter().all(Self::fits_flow),
        }
    }

    fn end_line(&mut self) {
        if self.pick(5) == 0 {
            self.out.push_str("  # note");
        }
        self.out.push('\n');
        match self.pick(8) {
            0 => self.out.push('\n'),
            1 => self.out.push_str("    # a comment line\n"),
            _ => {}
        }
    }

    /// A value after `key:` or `- `, the block being at `indent`.
    fn value(&mut self, node: &Node, indent: usize, in_seq: bool) {
        let scalar_start = |s: &str| !s.starts_with('*');
        match node {
            Node::Scalar(s) if scalar_start(s) => {
                self.out.push(' ');
                self.out.push_str(s);
                self.end_line();
            }
            Node::Scalar(_) => {
                self.out.push_str(" '*'");
                self.end_line();
            }
            _ if Self::fits_flow(node) && self.pick(4) == 0 => {
                self.out.push(' ');
                self.flow(node);
                self.end_line();
            }
            Node::Map(_) if in_seq && self.pick(2) == 0 => {
                // `- key: value`, the keys at the column after `- `.
                self.out.push(' ');
                self.block(node, indent + 2, true);
            }
            // Indentless, when the first item is on the `- ` line (an
            // indentless sequence whose first item is below its `-` is
            // left to saphyr).
            Node::Seq(items)
                if !in_seq && matches!(items[0], Node::Scalar(_)) && self.pick(2) == 0 =>
            {
                self.end_line();
                self.block(node, indent, false);
            }
            _ => {
                self.end_line();
                let step = 1 + self.pick(4) as usize;
                self.block(node, indent + step, false);
            }
        }
    }

    /// `node` as a block at `indent`; `inline` when its first line has
    /// already been started.
    fn block(&mut self, node: &Node, indent: usize, mut inline: bool) {
        let mut lead = |w: &mut Self| {
            if !std::mem::take(&mut inline) {
                w.out.push_str(&" ".repeat(indent));
            }
        };
        match node {
            Node::Map(entries) => {
                for (k, v) in entries {
                    lead(self);
                    self.out.push_str(k);
                    self.out.push(':');
                    self.value(v, indent, false);
                }
            }
            Node::Seq(items) => {
                for v in items {
                    lead(self);
                    self.out.push('-');
                    self.value(v, indent, true);
                }
            }
            Node::Scalar(_) => unreachable!("block nodes are collections"),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Every such text is one the fast reader takes, and reads as saphyr does.
    #[test]
    fn written_manifests_are_taken_and_read_as_saphyr_reads_them(
        docs in prop::collection::vec(tree(), 1..4),
        style: u64,
    ) {
        let mut w = Writer { out: String::new(), style: style | 1 };
        for (i, doc) in docs.iter().enumerate() {
            if i > 0 || w.pick(2) == 0 {
                w.out.push_str("---\n");
            }
            let doc = match doc {
                Node::Scalar(_) => Node::Map(vec![("a", doc.clone())]),
                _ => doc.clone(),
            };
            w.block(&doc, 0, false);
        }
        prop_assert!(agree(&w.out), "not taken:\n{}", w.out);
    }
}
