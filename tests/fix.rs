//! `kexpose check --fix`: every fixable rule has a reviewed before/after
//! (`tests/fixtures/fix/CASE/{input,expected}.yaml`) in which comments,
//! quoting, flow and block style, other documents and line endings stay as
//! written; a second `--fix` changes nothing; the safe fixes add no
//! finding; files that do not load are never touched; and the mutating
//! webhook's patch makes the same object as the fixed file.

mod common;

use std::path::{Path, PathBuf};

use common::{root, run};
use kexpose::policy::Policy;
use serde_json::Value;

fn cases() -> Vec<PathBuf> {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(root().join("tests/fixtures/fix"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    cases.sort();
    cases
}

fn args(case: &Path) -> Vec<String> {
    std::fs::read_to_string(case.join("args"))
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The policy a case's `--policy` and `--lock` arguments make.
fn policy(case: &Path) -> Policy {
    let args = args(case);
    let mut policy = match args.iter().position(|a| a == "--policy") {
        Some(i) => Policy::load(&root().join(&args[i + 1])).unwrap(),
        None => Policy::default(),
    };
    if let Some(i) = args.iter().position(|a| a == "--lock") {
        policy.discovered = kexpose::identity::lock::Lock::read(&root().join(&args[i + 1]))
            .unwrap()
            .discovered();
    }
    policy
}

fn kexpose(args: &[String]) -> std::process::Output {
    run(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

/// (code, pointer) of every finding `check` reports on `file`.
fn findings(case: &Path, file: &Path) -> Vec<(String, String)> {
    let mut a = vec!["check".to_owned(), "--format".into(), "json".into()];
    a.extend(args(case).into_iter().filter(|a| a != "--unsafe-fixes"));
    a.push(file.display().to_string());
    let v = common::json(&kexpose(&a));
    let mut out: Vec<(String, String)> = v["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["code"].as_str().unwrap().to_owned(),
                d["pointer"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    out.sort();
    out
}

fn fix(case: &Path, file: &Path) -> std::process::Output {
    let mut a = vec![
        "check".to_owned(),
        "--fix".into(),
        "--format".into(),
        "concise".into(),
    ];
    a.extend(args(case));
    a.push(file.display().to_string());
    kexpose(&a)
}

#[test]
fn fixes_match_their_reviewed_goldens_and_keep_the_layout() {
    let bless = std::env::var_os("KEXPOSE_BLESS").is_some();
    let dir = common::temp_dir("fix-goldens");
    assert!(cases().len() >= 5);
    for case in cases() {
        let name = case.file_name().unwrap().to_str().unwrap().to_owned();
        let file = dir.join(format!("{name}.yaml"));
        let input = std::fs::read(case.join("input.yaml")).unwrap();
        std::fs::write(&file, &input).unwrap();
        let before = findings(&case, &file);
        let out = fix(&case, &file);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("kexpose: fixed "), "{name}: {stderr}");
        let fixed = std::fs::read(&file).unwrap();
        let expected = case.join("expected.yaml");
        if bless {
            std::fs::write(&expected, &fixed).unwrap();
        } else {
            assert_eq!(
                String::from_utf8_lossy(&fixed),
                std::fs::read_to_string(&expected).unwrap(),
                "{name}"
            );
        }
        // Line endings are the file's own.
        let crlf = input.windows(2).filter(|w| w == b"\r\n").count();
        let lf = fixed.iter().filter(|b| **b == b'\n').count();
        if crlf > 0 {
            assert_eq!(
                fixed.windows(2).filter(|w| w == b"\r\n").count(),
                lf,
                "{name}"
            );
        }
        // A second run has nothing left to do.
        let again = fix(&case, &file);
        assert!(
            !String::from_utf8_lossy(&again.stderr).contains("kexpose: fixed "),
            "{name}: {}",
            String::from_utf8_lossy(&again.stderr)
        );
        assert_eq!(std::fs::read(&file).unwrap(), fixed, "{name}");
        // The fixes remove findings and add none.
        let after = findings(&case, &file);
        assert!(
            after.len() < before.len(),
            "{name}: {before:?} -> {after:?}"
        );
        for f in &after {
            assert!(before.contains(f), "{name}: new finding {f:?}");
        }
    }
}

#[test]
fn diff_prints_the_fixes_exits_1_and_writes_nothing() {
    let dir = common::temp_dir("fix-diff");
    let case = root().join("tests/fixtures/fix/comments");
    let file = dir.join("a.yaml");
    std::fs::copy(case.join("input.yaml"), &file).unwrap();
    let out = run(&["check", "--diff", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let diff = String::from_utf8(out.stdout).unwrap();
    for line in [
        "-    - Orders.Example.com   # marketing asked for capitals\n",
        "+    - orders.example.com   # marketing asked for capitals\n",
        "+  gateway: kyma-system/kyma-gateway\n",
    ] {
        assert!(diff.contains(line), "{line} not in {diff}");
    }
    assert!(
        !diff.contains("https://idp.example.com/keys"),
        "unsafe fixes need --unsafe-fixes: {diff}"
    );
    assert_eq!(
        std::fs::read(&file).unwrap(),
        std::fs::read(case.join("input.yaml")).unwrap()
    );
    let clean = run(&["check", "--diff", "examples/apirules"]);
    assert_eq!(clean.status.code(), Some(0));
    assert!(clean.stdout.is_empty());
}

#[test]
fn files_that_do_not_load_cleanly_are_never_touched() {
    let dir = common::temp_dir("fix-untouched");
    let broken = [
        // A duplicate key: which value was meant is for a person to say.
        "apiVersion: gateway.kyma-project.io/v2\nkind: APIRule\nmetadata: {name: a, namespace: b}\nspec:\n  hosts: [A.example.com]\n  hosts: [B.example.com]\n",
        // A later document that does not parse.
        "apiVersion: gateway.kyma-project.io/v2\nkind: APIRule\nmetadata: {name: a, namespace: b}\nspec:\n  hosts: [A.example.com]\n---\nkey: [unclosed\n",
    ];
    for (i, text) in broken.iter().enumerate() {
        let file = dir.join(format!("broken-{i}.yaml"));
        std::fs::write(&file, text).unwrap();
        let out = run(&["check", "--fix", file.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(std::fs::read_to_string(&file).unwrap(), *text);
        assert!(!String::from_utf8_lossy(&out.stderr).contains("fixed"));
    }
}

#[test]
fn fixes_are_offered_in_text_json_and_sarif_without_fix() {
    let file = root().join("tests/fixtures/fix/comments/input.yaml");
    let file = file.to_str().unwrap();
    let text = String::from_utf8(run(&["check", "--color", "never", file]).stdout).unwrap();
    assert!(
        text.contains("= fix: lowercase the host (DNS names are case-insensitive) (--fix)"),
        "{text}"
    );
    assert!(
        text.contains("= fix: fetch the keys over https (--fix --unsafe-fixes)"),
        "{text}"
    );
    let json = common::json(&run(&["check", "--format", "json", file]));
    let host = json["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["pointer"] == "/spec/hosts/0" && d["code"] == "S006")
        .unwrap();
    assert_eq!(host["fix"]["safety"], "safe");
    assert_eq!(
        host["fix"]["start"],
        serde_json::json!({"line": 9, "column": 7})
    );
    assert_eq!(
        host["fix"]["end"],
        serde_json::json!({"line": 9, "column": 25})
    );
    assert_eq!(host["fix"]["insert"], "orders.example.com");
    let sarif = common::json(&run(&["check", "--format", "sarif", file]));
    let result = sarif["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["ruleId"] == "R006")
        .unwrap();
    let replacement = &result["fixes"][0]["artifactChanges"][0]["replacements"][0];
    assert_eq!(replacement["insertedContent"]["text"], "");
    assert_eq!(replacement["deletedRegion"]["startLine"], 15);
}

/// The mutating webhook and `check --fix` read the same repair
/// definitions: on every case, the webhook's patch applied to the original
/// object gives what the fixed file holds, for every repair the webhook
/// makes at admission.
#[test]
fn the_webhook_patch_and_check_fix_make_the_same_object() {
    let dir = common::temp_dir("fix-mutate");
    let mut compared = 0;
    for case in cases() {
        let policy = policy(&case);
        let input = std::fs::read_to_string(case.join("input.yaml")).unwrap();
        let originals = kexpose::yaml::load(&input, Default::default());
        // Only the admission repairs: a file fixed with exactly those.
        let mut admitted = Vec::new();
        for doc in originals.documents.iter().flatten() {
            let mut value = doc.value.clone();
            let patch = kexpose::webhook::mutate::patch(&value, &policy);
            json_patch::patch(&mut value, &patch.0).unwrap();
            admitted.push(value);
        }
        let fixes: Vec<_> = originals
            .documents
            .iter()
            .flatten()
            .flat_map(|d| kexpose::fix::fixes(&d.value, &policy))
            .collect();
        if fixes.iter().any(|f| !f.at_admission) || fixes.is_empty() {
            continue;
        }
        let file = dir.join("case.yaml");
        std::fs::write(&file, &input).unwrap();
        fix(&case, &file);
        let fixed =
            kexpose::yaml::load(&std::fs::read_to_string(&file).unwrap(), Default::default());
        let fixed: Vec<Value> = fixed
            .documents
            .into_iter()
            .map(|d| d.unwrap().value)
            .collect();
        assert_eq!(fixed, admitted, "{}", case.display());
        compared += 1;
    }
    assert!(compared >= 1, "no case has admission repairs only");
}

/// Each fixable rule's page says how safe its fix is.
#[test]
fn every_fixable_rule_documents_its_fix_class() {
    let mut seen = std::collections::BTreeMap::new();
    for case in cases() {
        let policy = policy(&case);
        let input = std::fs::read_to_string(case.join("input.yaml")).unwrap();
        for doc in kexpose::yaml::load(&input, Default::default())
            .documents
            .iter()
            .flatten()
        {
            // The document, and the items of a `kind: List`.
            let items = doc.value["items"].as_array().into_iter().flatten();
            for object in std::iter::once(&doc.value).chain(items) {
                for f in kexpose::fix::fixes(object, &policy) {
                    seen.insert(f.code, f.safety);
                }
            }
        }
    }
    assert!(seen.len() >= 6, "{seen:?}");
    for (code, safety) in seen {
        let doc = code.rule().doc;
        let section = doc
            .split("## Fix")
            .nth(1)
            .unwrap_or_else(|| panic!("{code} has no Fix section"));
        let class = match safety {
            kexpose::fix::Safety::Safe => "Safe, with `--fix`",
            kexpose::fix::Safety::Unsafe => "Unsafe, with `--fix --unsafe-fixes`",
        };
        assert!(section.trim_start().starts_with(class), "{code}: {section}");
    }
}

/// A rendered file is fixed in its source and rendered again: `--fix`
/// leaves it as it is and says where to fix it.
#[test]
fn rendered_files_are_fixed_in_their_source() {
    let dir = common::temp_dir("fix-rendered");
    let text = "# Source: specs/orders.yaml\n# Rendered by kexpose; edit the source, not this file.\napiVersion: gateway.kyma-project.io/v2\nkind: APIRule\nmetadata: {name: orders, namespace: shop}\nspec:\n  hosts: [Orders.example.com]\n  service: {name: orders, port: 8080}\n  gateway: kyma-system/kyma-gateway\n  rules:\n    - {path: /, methods: [GET], noAuth: true}\n";
    let file = dir.join("orders.yaml");
    std::fs::write(&file, text).unwrap();
    let out = run(&["check", "--fix", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), text);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("rendered from specs/orders.yaml: fix it there and render again"),
        "{stderr}"
    );
}
