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

/// A rule's fixture directory.
fn fixture_dir(code: &str) -> std::path::PathBuf {
    root().join("tests/fixtures/rules").join(code)
}

fn fixture_args(code: &str, file: &str, format: &str) -> Vec<String> {
    let dir = fixture_dir(code);
    let mut args = vec!["check".to_owned(), "--format".into(), format.into()];
    let extra = std::fs::read_to_string(dir.join("args")).unwrap_or_default();
    if code.starts_with('B') && !extra.contains("--policy") {
        args.extend([
            "--policy".into(),
            "tests/fixtures/policy/legacy-checks.yaml".into(),
        ]);
    }
    args.extend(extra.lines().map(str::to_owned));
    args.push(dir.join(file).display().to_string());
    args
}

/// For rules another command reports (a `command` file: its arguments, one
/// per line), that command's diagnostics on the fixture: its stderr, or
/// for a command that reports on stdout (`test`), its stdout without the
/// summary line.
fn command_stderr(code: &str, file: &str) -> Option<String> {
    let dir = fixture_dir(code);
    let command = std::fs::read_to_string(dir.join("command")).ok()?;
    let mut args: Vec<String> = command.lines().map(str::to_owned).collect();
    args.push(dir.join(file).display().to_string());
    let out = run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    if !out.stderr.is_empty() || args[0] != "test" {
        return Some(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.starts_with("ok: ") && !l.starts_with("failed: "))
            .map(|l| format!("{l}\n"))
            .collect(),
    )
}

/// The codes a fixture yields: from `check --format json`, or from the
/// diagnostics of the command that reports the rule.
fn fixture_codes(code: &str, file: &str) -> Vec<String> {
    if let Some(stderr) = command_stderr(code, file) {
        return stderr
            .lines()
            .filter_map(|l| Some(l.split_once('[')?.1.split_once(']')?.0.to_owned()))
            .collect();
    }
    let args = fixture_args(code, file, "json");
    codes(&run(&args.iter().map(String::as_str).collect::<Vec<_>>()))
}

/// What a user sees for a fixture, with the fixture's directory taken out
/// of the paths: `check --format concise` lines without the summary, or
/// the reporting command's stderr.
fn fixture_output(code: &str, file: &str) -> String {
    let text = match command_stderr(code, file) {
        Some(stderr) => stderr,
        None => {
            let args = fixture_args(code, file, "concise");
            let out = run(&args.iter().map(String::as_str).collect::<Vec<_>>());
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter(|l| !l.starts_with("ok: ") && !l.starts_with("failed: "))
                .map(|l| format!("{l}\n"))
                .collect()
        }
    };
    text.replace(&format!("{}/", fixture_dir(code).display()), "")
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
                && "PSRJBOXMA".contains(&r.code.as_str()[..1])
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
        let dir = fixture_dir(rule.code.as_str());
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
    let listed: Vec<&str> = text.lines().take_while(|l| !l.is_empty()).collect();
    assert_eq!(listed.len(), RULES.len());
    assert!(
        listed
            .iter()
            .any(|l| l.starts_with("J003  jwt-jwks-uri-invalid") && l.contains(" policy "))
    );
    // A rule the export leaves out says why, and the reason is explained.
    let r004 = listed.iter().find(|l| l.starts_with("R004")).unwrap();
    assert!(r004.contains(" trie "), "{r004}");
    assert!(text.contains(
        "\n  trie          it needs upstream's path-conflict trie, which CEL cannot build\n"
    ));

    let out = run(&["rule", "J003"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("# J003 jwt-jwks-uri-invalid (error)"));
    assert!(text.contains("## Use instead"));
    assert!(text.contains("Admission policy: `kexpose policy export` carries it."));
    let text = String::from_utf8(run(&["rule", "R011"]).stdout).unwrap();
    assert!(
        text.contains(
            "Admission policy: not exported, since it needs the cluster's other APIRules"
        ),
        "{text}"
    );

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

/// Every rule's failing fixture against a reviewed snapshot of what the
/// user sees (`fail.expected`): each finding's line, column, severity, code
/// and message, not only that the code appears. `KEXPOSE_BLESS=1`
/// rewrites the snapshots.
#[test]
fn every_failing_fixture_matches_its_reviewed_snapshot() {
    let bless = std::env::var_os("KEXPOSE_BLESS").is_some();
    let mut failures = Vec::new();
    for rule in RULES {
        let code = rule.code.as_str();
        let got = fixture_output(code, "fail.yaml");
        let path = fixture_dir(code).join("fail.expected");
        if bless {
            std::fs::write(&path, &got).unwrap();
            continue;
        }
        match std::fs::read_to_string(&path) {
            Ok(want) if want == got => {}
            Ok(want) => failures.push(format!("{code}:\n--- want\n{want}--- got\n{got}")),
            Err(_) => failures.push(format!("{code}: no fail.expected; got:\n{got}")),
        }
        // Messages speak YAML, never Rust.
        for word in [
            "struct ", "enum ", "variant ", "u16", "u32", "i64", "Option<", "Vec<",
        ] {
            if got.contains(word) {
                failures.push(format!(
                    "{code}: a message names a Rust type ({word}):\n{got}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Every rule's passing fixture parses and yields no finding at all: not
/// the rule's, and not another's.
#[test]
fn every_passing_fixture_yields_no_finding_at_all() {
    let mut failures = Vec::new();
    for rule in RULES {
        let code = rule.code.as_str();
        let mut got = fixture_output(code, "pass.yaml");
        if std::fs::read_to_string(fixture_dir(code).join("command"))
            .is_ok_and(|c| c.contains("v1beta1"))
        {
            // Rendering v1beta1 always says it is deprecated (R010).
            got = got
                .split("\n\n")
                .filter(|block| !block.starts_with("warning[R010]") && !block.starts_with("ok: "))
                .collect::<Vec<_>>()
                .join("\n\n");
        }
        if !got.trim().is_empty() {
            failures.push(format!("{code}: pass.yaml yields\n{got}"));
        }
        if rule.code.as_str().starts_with('M') {
            continue;
        }
        if rule.code.as_str().starts_with('A') {
            // The AccessTest's cases ran, and every one passed.
            let out = run(&[
                "test",
                "--format",
                "json",
                &fixture_dir(code).join("pass.yaml").display().to_string(),
            ]);
            let summary = &common::json(&out)["summary"];
            if summary["cases"].as_u64() == Some(0) || summary["cases"] != summary["passed"] {
                failures.push(format!(
                    "{code}: pass.yaml's cases did not all pass: {summary}"
                ));
            }
            continue;
        }
        let args = fixture_args(code, "pass.yaml", "json");
        let out = run(&args.iter().map(String::as_str).collect::<Vec<_>>());
        let summary = &common::json(&out)["summary"];
        if summary["documents"].as_u64() == Some(0) || summary["skipped"].as_u64() != Some(0) {
            failures.push(format!("{code}: pass.yaml was not checked: {summary}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
