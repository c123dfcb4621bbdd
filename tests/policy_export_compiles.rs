//! `kexpose policy export` is accepted as written by the API servers it
//! targets: every expression of every export (each policy in `policies/`
//! and the test policies, the README's commands, every `--kube-version`
//! from 1.30 to one newer than known, both `--params`, every `--action`,
//! `--static`) is compiled with the rules kube-apiserver applies, by
//! Google's CEL checker in the environment Kubernetes declares
//! (`tests/kube_cel/check.py`): declared variables only, CEL's reserved
//! words, homogeneous aggregate literals, each version's functions and
//! overloads, and what each kind of expression must return. The first
//! test proves each of those rules fires.

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

use serde_json::{Value, json};

/// One expression to compile, with the environment it is compiled in.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Expression {
    text: String,
    kube: u32,
    params: bool,
    kind: &'static str,
    /// The names `variables.` may read.
    variables: Vec<String>,
}

/// What the checker says: the errors of each expression, then of each name.
fn compile(expressions: &[Expression], names: &[String]) -> (Vec<Vec<String>>, Vec<Vec<String>>) {
    let python = common::tool("cel");
    let input = json!({
        "expressions": expressions.iter().map(|e| json!({
            "text": e.text, "kube": e.kube, "params": e.params, "kind": e.kind,
            "variables": e.variables,
        })).collect::<Vec<_>>(),
        "names": names,
    });
    let out = common::pipe(
        Command::new(python).arg(common::root().join("tests/kube_cel/check.py")),
        input.to_string().as_bytes(),
    );
    assert!(
        out.status.success(),
        "the checker failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    let lists =
        |key: &str| -> Vec<Vec<String>> { serde_json::from_value(answer[key].clone()).unwrap() };
    (lists("expressions"), lists("names"))
}

fn expression(text: &str, kind: &'static str, variables: &[&str]) -> Expression {
    Expression {
        text: text.into(),
        kube: 36,
        params: false,
        kind,
        variables: variables.iter().map(|v| v.to_string()).collect(),
    }
}

/// Each rule the API server applies, and the checker must apply, fires on
/// an expression that breaks it, and passes its corrected twin.
#[test]
fn kubernetes_compile_rules_fire() {
    let mixed = "{'a': 1, 'b': 'x'}.size() > 0";
    let old = |kube| Expression {
        kube,
        ..expression("isIP('10.0.0.1')", "validation", &[])
    };
    let cases: Vec<(Expression, Option<&str>)> = vec![
        (
            expression(mixed, "validation", &[]),
            Some("map value literal: expected type 'int' but found 'string'"),
        ),
        (
            expression("{'a': dyn(1), 'b': dyn('x')}.size() > 0", "validation", &[]),
            None,
        ),
        (
            expression("size([1, 'x']) > 0", "validation", &[]),
            Some("list literal: expected type 'int' but found 'string'"),
        ),
        (
            expression("size([dyn(1), dyn('x')]) > 0", "validation", &[]),
            None,
        ),
        (
            expression("variables.other == ''", "validation", &["spec"]),
            Some("undefined variable: variables.other"),
        ),
        (
            expression("variables.spec == ''", "validation", &["spec"]),
            None,
        ),
        (
            expression("params.data.x == ''", "validation", &[]),
            Some("undeclared reference to 'params.data.x'"),
        ),
        (
            Expression {
                params: true,
                ..expression("params.data.x == ''", "validation", &[])
            },
            None,
        ),
        (
            expression("variables.spec == ''", "condition", &["spec"]),
            Some("undeclared reference to 'variables.spec'"),
        ),
        (
            expression("nope == ''", "validation", &[]),
            Some("undeclared reference to 'nope'"),
        ),
        (old(30), Some("undeclared reference to 'isIP'")),
        (old(31), None),
        (
            expression(
                "'a'.lowerAscii().upperAscii().split(':', 2).join(', ').substring(1).trim() != '' && ['a'].indexOf('a') == 0 && url('https://a').getHostname() == 'a' && isURL('/x')",
                "validation",
                &[],
            ),
            None,
        ),
        (
            expression("[1].indexOf('a') == 0", "validation", &[]),
            Some("found no matching overload for 'indexOf'"),
        ),
        (
            expression("'x'", "validation", &[]),
            Some("a validation returns STRING"),
        ),
        (
            expression("1", "message", &[]),
            Some("a message returns INT"),
        ),
        (
            expression(
                "[JSONPatch{op: 'add', path: '/spec/gateway', value: 'x'}]",
                "mutation",
                &[],
            ),
            None,
        ),
        (
            expression("[JSONPatch{op: 'add', path: 1}]", "mutation", &[]),
            Some("expected type of field 'path' is 'string'"),
        ),
    ];
    let exprs: Vec<Expression> = cases.iter().map(|(e, _)| e.clone()).collect();
    let names: Vec<String> = [
        "spec",
        "objectNamespace",
        "namespace",
        "package",
        "in",
        "x-y",
        "1x",
    ]
    .map(String::from)
    .to_vec();
    let (errors, name_errors) = compile(&exprs, &names);
    for ((e, wanted), got) in cases.iter().zip(&errors) {
        match wanted {
            None => assert!(got.is_empty(), "{}: {got:?}", e.text),
            Some(w) => assert!(
                got.iter().any(|g| g.contains(w)),
                "{} (1.{}): wanted {w:?}, got {got:?}",
                e.text,
                e.kube
            ),
        }
    }
    let refused: Vec<bool> = name_errors.iter().map(|e| !e.is_empty()).collect();
    assert_eq!(
        refused,
        [false, false, true, true, true, true, true],
        "{name_errors:?}"
    );
}

/// The export of an earlier release that a v1.36.2 API server refused:
/// a map literal of mixed types, and a variable named `namespace`. The
/// checker refuses both, with the API server's reasons.
#[test]
fn export_refused_by_a_real_api_server_is_refused_here() {
    let c = "(has(r.jwt) ? r.jwt : r.extAuth.restrictions)";
    let jwt_configs = format!(
        "variables.rules.filter(r, has(r.jwt) || (has(r.extAuth) && has(r.extAuth.restrictions))).map(r, {{'rule': r, 'field': has(r.jwt) ? 'jwt' : 'extAuth.restrictions', 'hasAuthorizations': has({c}.authorizations), 'authentications': has({c}.authentications) ? {c}.authentications : [], 'authorizations': has({c}.authorizations) ? {c}.authorizations : []}})"
    );
    let (errors, names) = compile(
        &[expression(&jwt_configs, "variable", &["spec", "rules"])],
        &["namespace".into()],
    );
    assert!(
        errors[0][0].contains("map value literal: expected type 'dyn' but found 'string'"),
        "{errors:?}"
    );
    assert!(
        names[0][0].contains("reserved identifier: namespace"),
        "{names:?}"
    );
}

/// Every policy the repository ships or tests with.
fn policy_files() -> Vec<Option<PathBuf>> {
    let root = common::root();
    let mut out: Vec<Option<PathBuf>> = vec![None];
    let mut shipped: Vec<PathBuf> = std::fs::read_dir(root.join("policies"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    shipped.sort();
    out.extend(shipped.into_iter().map(Some));
    for p in [
        "tests/fixtures/policy/org.yaml",
        "tests/fixtures/policy-export/locked.yaml",
    ] {
        out.push(Some(root.join(p)));
    }
    out
}

/// The `kexpose policy export` commands the README shows, as arguments.
fn readme_commands() -> Vec<Vec<String>> {
    let readme = std::fs::read_to_string(common::root().join("README.md")).unwrap();
    let mut out = Vec::new();
    let mut lines = readme.lines();
    while let Some(line) = lines.next() {
        let Some(rest) = line.trim().strip_prefix("kexpose policy export") else {
            continue;
        };
        let mut command = rest.to_owned();
        while command.trim_end().ends_with('\\') {
            command = command.trim_end().trim_end_matches('\\').to_owned();
            command.push(' ');
            command.push_str(lines.next().unwrap_or_default());
        }
        let args: Vec<String> = command
            .split_whitespace()
            .take_while(|a| !matches!(*a, "|" | ">" | "&&"))
            .map(String::from)
            .collect();
        out.push(args);
    }
    out
}

/// The expressions of an export, each with the environment it is
/// compiled in, and its variable names.
fn expressions_of(
    docs: &[Value],
    kube: u32,
    into: &mut BTreeSet<Expression>,
    names: &mut BTreeSet<String>,
) {
    for doc in docs {
        let spec = &doc["spec"];
        let params = spec.get("paramKind").is_some();
        let list = |key: &str| spec[key].as_array().cloned().unwrap_or_default();
        let text = |v: &Value| v.as_str().unwrap().to_owned();
        let mut add = |text: String, kind: &'static str, variables: &[String]| {
            into.insert(Expression {
                text,
                kube,
                params,
                kind,
                variables: variables.to_vec(),
            });
        };
        for c in list("matchConditions") {
            add(text(&c["expression"]), "condition", &[]);
        }
        let mut declared: Vec<String> = Vec::new();
        for v in list("variables") {
            add(text(&v["expression"]), "variable", &declared);
            let name = text(&v["name"]);
            names.insert(name.clone());
            declared.push(name);
        }
        for v in list("validations") {
            add(text(&v["expression"]), "validation", &declared);
            add(text(&v["messageExpression"]), "message", &declared);
        }
        for m in list("mutations") {
            add(text(&m["jsonPatch"]["expression"]), "mutation", &declared);
        }
    }
}

#[test]
fn every_export_compiles_as_the_api_server_compiles_it() {
    use kexpose::admission_policy::{KUBE_MAX, KUBE_MIN, STATIC_MIN};
    let mut runs: Vec<(u32, Vec<String>)> = Vec::new();
    for policy in policy_files() {
        let policy: Vec<String> = policy
            .map(|p| vec!["--policy".into(), p.display().to_string()])
            .unwrap_or_default();
        for kube in KUBE_MIN..=KUBE_MAX + 1 {
            for params in ["inline", "configmap"] {
                let mut args = policy.clone();
                args.extend([
                    "--kube-version".into(),
                    format!("1.{kube}"),
                    "--params".into(),
                    params.into(),
                ]);
                runs.push((kube, args));
            }
            if kube >= STATIC_MIN {
                for kinds in ["all", "validating", "mutating"] {
                    let mut args = policy.clone();
                    args.extend([
                        "--kube-version".into(),
                        format!("1.{kube}"),
                        "--static".into(),
                        "--kinds".into(),
                        kinds.into(),
                    ]);
                    runs.push((kube, args));
                }
            }
        }
        for action in ["warn", "audit"] {
            let mut args = policy.clone();
            args.extend(["--action".into(), action.into()]);
            runs.push((36, args));
        }
    }
    let readme = readme_commands();
    assert!(readme.len() >= 4, "{readme:?}");
    for args in readme {
        let kube = args
            .iter()
            .position(|a| a == "--kube-version")
            .map(|i| args[i + 1].trim_start_matches("1.").parse().unwrap())
            .unwrap_or(36);
        runs.push((kube, args));
    }
    let mut expressions = BTreeSet::new();
    let mut names = BTreeSet::new();
    let mut objects = 0;
    for (kube, args) in &runs {
        let docs = common::documents(&common::policy_export(args));
        objects += docs.len();
        expressions_of(&docs, (*kube).min(KUBE_MAX), &mut expressions, &mut names);
    }
    let expressions: Vec<Expression> = expressions.into_iter().collect();
    let names: Vec<String> = names.into_iter().collect();
    let (errors, name_errors) = compile(&expressions, &names);
    let mut problems = Vec::new();
    for (e, errs) in expressions.iter().zip(&errors) {
        if !errs.is_empty() {
            problems.push(format!(
                "1.{} {} {:?}: {}\n  {}",
                e.kube,
                e.kind,
                e.params,
                errs.join("; "),
                e.text
            ));
        }
    }
    for (n, errs) in names.iter().zip(&name_errors) {
        if !errs.is_empty() {
            problems.push(format!("variable {n}: {}", errs.join("; ")));
        }
    }
    assert!(
        problems.is_empty(),
        "{} refused:\n{}",
        problems.len(),
        problems.join("\n")
    );
    assert!(
        expressions.len() > 1000,
        "{} expressions from {objects} objects",
        expressions.len()
    );
}
