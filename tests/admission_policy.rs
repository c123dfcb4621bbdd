//! `kexpose policy export`: every exported expression is evaluated by a
//! CEL interpreter (tests/kube_cel) on every rule fixture, under several
//! policies, and must give the verdict `kexpose check` gives for its rule,
//! naming a field path check names with check's words. The export is held
//! to the admissionregistration schemas (k8s-openapi's types, which drop
//! nothing they know) and to reviewed goldens for each Kubernetes version.

mod common;
mod kube_cel;

use std::collections::BTreeMap;
use std::path::PathBuf;

use kexpose::admission_policy::{self, Action, Options, coverage};
use kexpose::check;
use kexpose::policy::Policy;
use kexpose::rules::Code;
use kexpose::yaml::{Limits, load};
use kube_cel::{Cel, json, value};
use serde_json::{Value, json as j};

fn options(kube: u32) -> Options {
    Options {
        kube,
        action: Action::Deny,
        namespace: "kexpose-system".into(),
    }
}

fn docs(text: &str) -> Vec<Value> {
    load(text, Limits::default())
        .documents
        .into_iter()
        .map(|d| d.unwrap())
        .filter(|d| !d.empty)
        .map(|d| d.value)
        .collect()
}

fn exported(policy: &Policy, kube: u32) -> Vec<Value> {
    docs(&admission_policy::export(policy, &options(kube)).unwrap())
}

fn of_kind<'a>(docs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    docs.iter().filter(|d| d["kind"] == kind).collect()
}

fn policies() -> Vec<(String, Policy)> {
    let root = common::root();
    let mut out = vec![("default".to_owned(), Policy::default())];
    for p in [
        "tests/fixtures/policy/org.yaml",
        "policies/strict.yaml",
        "tests/fixtures/policy-export/locked.yaml",
    ] {
        out.push((p.to_owned(), Policy::load(&root.join(p)).unwrap()));
    }
    out
}

/// The admission request the API server would send for `object`.
fn request(object: &Value) -> Value {
    let api_version = object["apiVersion"].as_str().unwrap_or_default();
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    j!({
        "operation": "CREATE",
        "namespace": object["metadata"]["namespace"].as_str().unwrap_or_default(),
        "kind": {"group": group, "version": version, "kind": "APIRule"},
    })
}

/// Evaluates one ValidatingAdmissionPolicy on `object`: `None` when its
/// match conditions leave the object out, else the failed validations as
/// code -> message.
fn evaluate(
    cel: &Cel,
    vap: &Value,
    object: &Value,
    params: &Value,
) -> Result<Option<BTreeMap<String, String>>, String> {
    let spec = &vap["spec"];
    let base = [
        ("object", value(object)),
        ("params", value(params)),
        ("request", value(&request(object))),
    ];
    for condition in spec["matchConditions"].as_array().into_iter().flatten() {
        let ctx = cel.context(&base);
        let program = cel.compile(condition["expression"].as_str().unwrap())?;
        if program.execute(&ctx) != Ok(cel::Value::Bool(true)) {
            return Ok(None);
        }
    }
    // Variables in order, each seeing the ones before; one that fails to
    // evaluate is left out, so only an expression that reads it fails (the
    // API server evaluates variables lazily).
    let mut variables: BTreeMap<String, Value> = BTreeMap::new();
    for var in spec["variables"].as_array().into_iter().flatten() {
        let mut vars = base.to_vec();
        vars.push(("variables", value(&Value::from_iter(variables.clone()))));
        let ctx = cel.context(&vars);
        let program = cel.compile(var["expression"].as_str().unwrap())?;
        if let Ok(v) = program.execute(&ctx) {
            variables.insert(var["name"].as_str().unwrap().to_owned(), json(&v));
        }
    }
    let mut vars = base.to_vec();
    vars.push(("variables", value(&Value::from_iter(variables))));
    let ctx = cel.context(&vars);
    let mut failed = BTreeMap::new();
    for v in spec["validations"].as_array().unwrap() {
        let expression = v["expression"].as_str().unwrap();
        let verdict = cel
            .compile(expression)?
            .execute(&ctx)
            .map_err(|e| format!("{e:?} in {expression}"))?;
        if verdict == cel::Value::Bool(true) {
            continue;
        }
        let message = v["messageExpression"].as_str().unwrap();
        let text = match cel.compile(message)?.execute(&ctx) {
            Ok(cel::Value::String(s)) => s.to_string(),
            other => return Err(format!("{other:?} from {message}")),
        };
        let code = text
            .rsplit_once(" [")
            .and_then(|(_, tail)| tail.split(' ').next())
            .unwrap_or_default()
            .to_owned();
        failed.insert(code, text);
    }
    Ok(Some(failed))
}

/// Every APIRule v2 or v2alpha1 document of the rule fixtures and the
/// export's own cases, with its file.
fn objects() -> Vec<(String, Value)> {
    let root = common::root();
    let mut files: Vec<PathBuf> = Vec::new();
    for dir in std::fs::read_dir(root.join("tests/fixtures/rules")).unwrap() {
        let dir = dir.unwrap().path();
        for name in ["fail.yaml", "pass.yaml"] {
            if dir.join(name).exists() {
                files.push(dir.join(name));
            }
        }
    }
    files.sort();
    files.push(root.join("tests/fixtures/policy-export/cases.yaml"));
    let mut out = Vec::new();
    for file in files {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        let name = file.strip_prefix(&root).unwrap().display().to_string();
        let stream = load(&text, Limits::default());
        for doc in stream.documents.into_iter().flatten() {
            for (_, object) in check::objects(&doc.value) {
                let version = object["apiVersion"].as_str().unwrap_or_default();
                if object["kind"] == "APIRule"
                    && matches!(
                        version,
                        "gateway.kyma-project.io/v2" | "gateway.kyma-project.io/v2alpha1"
                    )
                {
                    out.push((name.clone(), object.clone()));
                }
            }
        }
    }
    out
}

/// Whether the CRD's schema refuses the object before any policy runs
/// (the S rules stand for it; S012 is a warning about accepted values).
fn refused_by_schema(findings: &[kexpose::diagnostic::Finding]) -> bool {
    findings
        .iter()
        .any(|f| f.code.as_str().starts_with('S') && f.code != Code::S012)
}

#[test]
fn every_exported_rule_gives_checks_verdict() {
    let cel = Cel::new();
    let objects = objects();
    assert!(objects.len() > 100, "{} objects", objects.len());
    let mut problems = Vec::new();
    let mut seen: BTreeMap<Code, (usize, usize)> = BTreeMap::new();
    let mut compared = 0;
    for (policy_name, policy) in policies() {
        let docs = exported(&policy, 36);
        let params = of_kind(&docs, "ConfigMap")[0].clone();
        let vaps = of_kind(&docs, "ValidatingAdmissionPolicy");
        let codes: Vec<Code> = Code::ALL
            .iter()
            .copied()
            .filter(|c| coverage(*c).is_ok() && policy.severity(*c).is_some())
            .collect();
        for (file, object) in &objects {
            let findings = check::judge(object, &policy).findings;
            if refused_by_schema(&findings) {
                continue;
            }
            let mut failed = BTreeMap::new();
            for vap in &vaps {
                match evaluate(&cel, vap, object, &params) {
                    Ok(Some(f)) => failed.extend(f),
                    Ok(None) => {
                        problems.push(format!("{file}: {} did not match", vap["metadata"]["name"]))
                    }
                    Err(e) => problems.push(format!("{file} [{policy_name}]: {e}")),
                }
            }
            for code in &codes {
                compared += 1;
                let by_check: Vec<_> = findings.iter().filter(|f| f.code == *code).collect();
                let entry = seen.entry(*code).or_default();
                match (by_check.is_empty(), failed.get(code.as_str())) {
                    (true, None) => entry.1 += 1,
                    (false, Some(message)) => {
                        entry.0 += 1;
                        let wanted: Vec<String> = by_check
                            .iter()
                            .map(|f| {
                                let words = f.message.split(" err=").next().unwrap();
                                let rule = code.rule();
                                format!("{}: {words} [{} {}]", kexpose::diagnostic::field_path(&f.pointer), rule.code, rule.name)
                            })
                            .collect();
                        if !wanted.contains(message) {
                            problems.push(format!(
                                "{file} [{policy_name}] {code}: the policy says {message:?}, check {wanted:?}"
                            ));
                        }
                    }
                    (true, Some(message)) => problems.push(format!(
                        "{file} [{policy_name}] {code}: the policy denies ({message}), check does not"
                    )),
                    (false, None) => problems.push(format!(
                        "{file} [{policy_name}] {code}: check reports {:?}, the policy admits",
                        by_check[0].message
                    )),
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
    // Every exported rule was seen failing and passing.
    for code in Code::ALL.iter().filter(|c| coverage(**c).is_ok()) {
        let (failing, passing) = seen.get(code).copied().unwrap_or_default();
        assert!(
            failing > 0 && passing > 0,
            "{code}: {failing} failing, {passing} passing cases"
        );
    }
    assert!(compared > 5000, "{compared} verdicts compared");
}
