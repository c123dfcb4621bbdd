//! The registry is complete: every rule is documented, has a fixture that
//! triggers it and one that does not, and `kexpose rules`/`rule` show it.

mod common;

use common::{codes, root, run};
use kexpose::rules::RULES;

const SECTIONS: [&str; 4] = [
    "## What it does",
    "## Why is this bad?",
    "## Example",
    "## Use instead",
];

fn fixture_args(code: &str, file: &str) -> Vec<String> {
    let dir = root().join("tests/fixtures/rules").join(code);
    let mut args = vec!["check".to_owned(), "--format".into(), "json".into()];
    let extra = std::fs::read_to_string(dir.join("args")).unwrap_or_default();
    if code.starts_with('B') && !extra.contains("--policy") {
        args.extend(["--policy".into(), "policies/legacy.yaml".into()]);
    }
    args.extend(extra.lines().map(str::to_owned));
    args.push(dir.join(file).display().to_string());
    args
}

/// The codes a fixture yields: from `check --format json`, or for rules
/// another command reports (a `command` file: its arguments, one per line),
/// from that command's diagnostics on stderr.
fn fixture_codes(code: &str, file: &str) -> Vec<String> {
    let dir = root().join("tests/fixtures/rules").join(code);
    if let Ok(command) = std::fs::read_to_string(dir.join("command")) {
        let mut args: Vec<String> = command.lines().map(str::to_owned).collect();
        args.push(dir.join(file).display().to_string());
        let out = run(&args.iter().map(String::as_str).collect::<Vec<_>>());
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        return stderr
            .lines()
            .filter_map(|l| Some(l.split_once('[')?.1.split_once(']')?.0.to_owned()))
            .collect();
    }
    let args = fixture_args(code, file);
    codes(&run(&args.iter().map(String::as_str).collect::<Vec<_>>()))
}

#[test]
fn every_rule_is_documented_with_the_four_sections() {
    for rule in RULES {
        let mut at = 0;
        for section in SECTIONS {
            let found = rule.doc[at..].find(section);
            assert!(
                found.is_some(),
                "{} lacks `{section}` (or it is out of order)",
                rule.code
            );
            at += found.unwrap() + section.len();
        }
        assert!(!rule.summary.is_empty(), "{} has no summary", rule.code);
    }
}

#[test]
fn codes_and_names_are_unique_and_well_formed() {
    let mut codes: Vec<_> = RULES.iter().map(|r| r.code).collect();
    let mut names: Vec<_> = RULES.iter().map(|r| r.name).collect();
    for r in RULES {
        assert!(
            r.code.as_str().len() == 4
                && "PSRJBOXM".contains(&r.code.as_str()[..1])
                && r.code.as_str()[1..].bytes().all(|b| b.is_ascii_digit()),
            "bad code {}",
            r.code
        );
        assert!(
            r.name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
            "bad name {}",
            r.name
        );
    }
    codes.sort();
    codes.dedup();
    names.sort();
    names.dedup();
    assert_eq!(codes.len(), RULES.len(), "duplicate codes");
    assert_eq!(names.len(), RULES.len(), "duplicate names");
}

#[test]
fn every_rule_has_a_fixture_that_triggers_it_and_one_that_passes() {
    let mut failures = Vec::new();
    for rule in RULES {
        let dir = root().join("tests/fixtures/rules").join(rule.code.as_str());
        if !dir.join("pass.yaml").exists()
            || std::fs::symlink_metadata(dir.join("fail.yaml")).is_err()
        {
            failures.push(format!("{}: missing fail.yaml or pass.yaml", rule.code));
            continue;
        }
        let found = fixture_codes(rule.code.as_str(), "fail.yaml");
        if !found.iter().any(|c| c == rule.code.as_str()) {
            failures.push(format!(
                "{}: fail.yaml does not trigger it: {found:?}",
                rule.code
            ));
        }
        if fixture_codes(rule.code.as_str(), "pass.yaml")
            .iter()
            .any(|c| c == rule.code.as_str())
        {
            failures.push(format!("{}: pass.yaml triggers it", rule.code));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn rules_lists_every_rule_and_rule_prints_one() {
    let out = run(&["rules"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), RULES.len());
    assert!(text.contains("J003  jwt-jwks-uri-invalid"));

    let out = run(&["rule", "J003"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("# J003 jwt-jwks-uri-invalid (error)"));
    assert!(text.contains("## Use instead"));

    let by_name = run(&["rule", "jwt-jwks-uri-invalid"]);
    assert_eq!(by_name.stdout, run(&["rule", "j003"]).stdout);

    let out = run(&["rule", "X999"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no rule X999"));
}

/// The schemas name rule codes in their `x-kexpose` annotations: each one is
/// registered, so a typo there fails here instead of falling back silently.
#[test]
fn every_code_a_schema_names_is_registered() {
    fn walk(v: &serde_json::Value, found: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                if let Some(serde_json::Value::String(code)) = m.get("code") {
                    found.push(code.clone());
                }
                m.values().for_each(|v| walk(v, found));
            }
            serde_json::Value::Array(a) => a.iter().for_each(|v| walk(v, found)),
            _ => {}
        }
    }
    let mut found = Vec::new();
    for entry in std::fs::read_dir(root().join("schemas")).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        walk(&serde_json::from_str(&text).unwrap(), &mut found);
    }
    assert!(found.len() >= 10, "{found:?}");
    for code in found {
        assert!(
            kexpose::rules::Code::parse(&code).is_some_and(|c| c.as_str() == code),
            "schemas name unregistered code {code}"
        );
    }
}

/// Every rule's help is one short line that says what to do.
#[test]
fn every_rule_has_a_one_line_help() {
    for rule in RULES {
        assert!(
            !rule.help.is_empty() && rule.help.len() <= 110 && !rule.help.contains('\n'),
            "{}: {:?}",
            rule.code,
            rule.help
        );
        assert!(
            rule.help.starts_with(|c: char| c.is_ascii_lowercase()) && !rule.help.ends_with('.'),
            "{}: help reads as `help: do this`, lowercase, no full stop",
            rule.code
        );
    }
}
