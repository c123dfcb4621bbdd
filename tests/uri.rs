//! kexpose's port of Go's `net/url.ParseRequestURI` against Go itself: the
//! expected answers in `tests/fixtures/uri/corpus.jsonl` were written by
//! `oracle.go` beside them, run with Go 1.24 (the version upstream's go.mod
//! names). Every input is accepted or rejected as Go does, with Go's error
//! text, scheme, opacity and whether there is a host.

mod common;

use kexpose::check::uri::parse_request_uri;
use serde_json::Value;

#[test]
fn parse_request_uri_answers_as_go_does() {
    let corpus =
        std::fs::read_to_string(common::root().join("tests/fixtures/uri/corpus.jsonl")).unwrap();
    let mut failures = Vec::new();
    let mut cases = 0;
    for line in corpus.lines() {
        let want: Value = serde_json::from_str(line).unwrap();
        let input = want["input"].as_str().unwrap();
        cases += 1;
        let got = match parse_request_uri(input) {
            Ok(u) => serde_json::json!({
                "ok": true,
                "scheme": u.scheme,
                "opaque": u.opaque,
                "has_host": u.host.is_some_and(|h| !h.is_empty()),
            }),
            Err(e) => serde_json::json!({"ok": false, "error": e.to_string()}),
        };
        let expected = if want["ok"] == true {
            serde_json::json!({
                "ok": true,
                "scheme": want["scheme"].as_str().unwrap_or(""),
                "opaque": want["opaque"].as_bool().unwrap_or(false),
                "has_host": want["host"].as_str().is_some_and(|h| !h.is_empty()),
            })
        } else {
            serde_json::json!({"ok": false, "error": want["error"]})
        };
        if got != expected {
            failures.push(format!("{input:?}: Go {expected}, kexpose {got}"));
        }
    }
    assert!(cases > 3000, "the corpus has {cases} cases");
    assert!(
        failures.is_empty(),
        "{} of {cases} differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
