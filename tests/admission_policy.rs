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

use kexpose::admission_policy::{self, Action, Options, Params, coverage};
use kexpose::check;
use kexpose::policy::Policy;
use kexpose::rules::Code;
use kexpose::yaml::{Limits, load};
use kube_cel::{Cel, json, request, value};
use serde_json::{Value, json as j};

fn options(kube: u32) -> Options {
    Options {
        kube,
        action: Action::Deny,
        params: Params::Inline,
        static_manifests: false,
        kinds: admission_policy::Kinds::All,
    }
}

/// Both forms of the policy's values: inline, and read from a ConfigMap.
fn both_params() -> [Params; 2] {
    [
        Params::Inline,
        Params::ConfigMap {
            namespace: "kexpose-system".into(),
        },
    ]
}

/// The export with `params`, and what the API server binds to `params`
/// (the ConfigMap, or null when the policies have no `paramKind`).
fn exported_with(policy: &Policy, kube: u32, params: &Params) -> (Vec<Value>, Value) {
    let mut o = options(kube);
    o.params = params.clone();
    let docs = common::documents(&admission_policy::export(policy, &o).unwrap());
    let bound = of_kind(&docs, "ConfigMap")
        .first()
        .map(|c| (*c).clone())
        .unwrap_or(Value::Null);
    (docs, bound)
}

fn of_kind<'a>(docs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    docs.iter().filter(|d| d["kind"] == kind).collect()
}

/// Every test policy under both forms of its values, named.
fn policies_and_forms() -> Vec<(String, Policy, Params)> {
    policies()
        .into_iter()
        .flat_map(|(name, policy)| {
            both_params().map(|form| (format!("{name}, {form:?}"), policy.clone(), form))
        })
        .collect()
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
    for (policy_name, policy, form) in policies_and_forms() {
        let (docs, params) = exported_with(&policy, 36, &form);
        let vaps: Vec<(&Value, kube_cel::Compiled)> = of_kind(&docs, "ValidatingAdmissionPolicy")
            .into_iter()
            .map(|v| (v, kube_cel::Compiled::new(&cel, v).unwrap()))
            .collect();
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
            for (vap, compiled) in &vaps {
                match compiled.evaluate(&cel, object, &params) {
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

/// The smallest objects the CRD admits, and a few more that leave out
/// every optional field there is: each v2 and v2alpha1 object without a
/// spec, without hosts or rules, with empty lists, empty configs and
/// annotations.
fn minimal_objects() -> Vec<Value> {
    let rule = |extra: Value| {
        let mut r = j!({"path": "/x", "methods": ["GET"]});
        r.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        r
    };
    let specs = [
        None,
        Some(j!({})),
        Some(j!({"hosts": []})),
        Some(j!({"rules": []})),
        Some(j!({"hosts": [], "rules": []})),
        Some(j!({"hosts": ["a.apps.example.com"], "rules": [rule(j!({}))]})),
        Some(j!({"hosts": ["a"], "rules": [rule(j!({"methods": []}))]})),
        Some(j!({"hosts": ["a"], "rules": [rule(j!({"noAuth": true}))]})),
        Some(j!({"hosts": ["a"], "rules": [rule(j!({"jwt": {}}))]})),
        Some(
            j!({"hosts": ["a"], "rules": [rule(j!({"jwt": {"authentications": [], "authorizations": []}}))]}),
        ),
        Some(
            j!({"hosts": ["a"], "rules": [rule(j!({"jwt": {"authentications": [{"issuer": "", "jwksUri": ""}], "authorizations": [{}]}}))]}),
        ),
        Some(
            j!({"hosts": ["a"], "rules": [rule(j!({"jwt": {"authentications": [{"issuer": "https://a", "jwksUri": "https://a/k", "fromHeaders": [], "fromParams": []}]}}))]}),
        ),
        Some(j!({"hosts": ["a"], "rules": [rule(j!({"extAuth": {"authorizers": []}}))]})),
        Some(
            j!({"hosts": ["a"], "rules": [rule(j!({"extAuth": {"authorizers": ["x"], "restrictions": {}}}))]}),
        ),
        Some(
            j!({"hosts": ["a"], "rules": [rule(j!({"request": {}, "service": {"name": "s", "port": 80}, "timeout": 1}))], "corsPolicy": {}}),
        ),
    ];
    let metadatas = [
        j!({"name": "r"}),
        j!({"name": "r", "namespace": "prod-shop", "annotations": {}}),
        j!({"name": "r", "namespace": "prod-shop", "annotations": {"kexpose.dev/suppress": ""}}),
    ];
    let mut out = Vec::new();
    for version in ["v2", "v2alpha1"] {
        for spec in &specs {
            for metadata in &metadatas {
                let mut o = j!({"apiVersion": format!("gateway.kyma-project.io/{version}"), "kind": "APIRule", "metadata": metadata});
                if let Some(spec) = spec {
                    o["spec"] = spec.clone();
                }
                out.push(o);
            }
        }
    }
    out
}

/// Every exported expression, under every test policy and both forms of
/// its values, gives a verdict on every minimal object: never an
/// evaluation error, which `failurePolicy: Fail` would turn into a denial
/// that names no rule (and which hides the rule that should deny).
#[test]
fn minimal_objects_get_a_verdict_never_an_error() {
    let cel = Cel::new();
    let objects = minimal_objects();
    let mut problems = Vec::new();
    let mut judged = 0;
    for (policy_name, policy, form) in policies_and_forms() {
        let (docs, params) = exported_with(&policy, 36, &form);
        for vap in of_kind(&docs, "ValidatingAdmissionPolicy") {
            let compiled = kube_cel::Compiled::new(&cel, vap).unwrap();
            for object in &objects {
                match compiled.evaluate(&cel, object, &params) {
                    Ok(Some(_)) => judged += 1,
                    Ok(None) => {
                        problems.push(format!("{}: did not match", vap["metadata"]["name"]))
                    }
                    Err(e) => problems.push(format!(
                        "{} [{policy_name}] on {object}: {e}",
                        vap["metadata"]["name"]
                    )),
                }
            }
        }
        let map = of_kind(&docs, "MutatingAdmissionPolicy")[0];
        for object in &objects {
            let ctx = cel.context(&[
                ("object", value(object)),
                ("params", value(&params)),
                ("request", value(&request(object))),
            ]);
            for m in map["spec"]["mutations"].as_array().unwrap() {
                let program = cel
                    .compile(m["jsonPatch"]["expression"].as_str().unwrap())
                    .unwrap();
                if let Err(e) = program.execute(&ctx) {
                    problems.push(format!("mutation [{policy_name}] on {object}: {e:?}"));
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
    assert!(judged > 1000, "{judged}");
}

/// The Kubernetes URL library as the issue of record measured it on a
/// v1.36 API server: `isURL` is Go's `url.ParseRequestURI`, so absolute
/// paths and opaque forms pass, and only the scheme and host tell an
/// absolute https URL.
#[test]
fn the_url_library_follows_go() {
    let cel = Cel::new();
    let eval = |e: &str| {
        let ctx = cel.context(&[]);
        json(&cel.compile(e).unwrap().execute(&ctx).unwrap())
    };
    for (expression, expected) in [
        ("isURL('https://idp.example.com')", j!(true)),
        ("isURL('/x')", j!(true)),
        ("isURL('https:idp.example.com')", j!(true)),
        ("isURL('idp.example.com')", j!(false)),
        ("isURL('https://idp example.com')", j!(false)),
        ("isURL('')", j!(false)),
        ("url('https:idp.example.com').getScheme()", j!("https")),
        ("url('https:idp.example.com').getHostname()", j!("")),
        ("url('/x').getScheme()", j!("")),
        (
            "url('HTTPS://Idp.Example.com:8443/k').getScheme()",
            j!("https"),
        ),
        (
            "url('https://idp.example.com:8443/k').getHost()",
            j!("idp.example.com:8443"),
        ),
        (
            "url('https://idp.example.com:8443/k').getHostname()",
            j!("idp.example.com"),
        ),
        ("url('https://[::1]:8443/k').getHostname()", j!("::1")),
        ("url('https://:8443/k').getHost()", j!(":8443")),
        ("'a;b'.split(';')", j!(["a", "b"])),
        ("'a: b: c'.split(':', 2)", j!(["a", " b: c"])),
        ("' x\\n'.trim()", j!("x")),
        ("['a', 'b', 'a'].indexOf('a')", j!(0)),
        ("['a', 'b', 'a'].lastIndexOf('a')", j!(2)),
        ("[{'k': 1}, {'k': 2}].indexOf({'k': 2})", j!(1)),
        ("['a', 'b'].indexOf('c')", j!(-1)),
    ] {
        assert_eq!(eval(expression), expected, "{expression}");
    }
    let ctx = cel.context(&[]);
    assert!(
        cel.compile("url('idp.example.com')")
            .unwrap()
            .execute(&ctx)
            .is_err(),
        "url() of what isURL refuses is an evaluation error"
    );
}

/// Each exported document read into k8s-openapi's type and written back
/// is unchanged: no field the admissionregistration (and core) schemas do
/// not define, none misplaced, every type right. Inline values leave no
/// parameter anywhere; a ConfigMap comes with its Namespace, and every
/// policy and binding reads it. Every CEL text compiles.
#[test]
fn the_export_follows_the_admissionregistration_schemas() {
    use k8s_openapi::api::admissionregistration::{v1, v1beta1};
    use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
    fn same<T: serde::de::DeserializeOwned + serde::Serialize>(doc: &Value) {
        let typed: T = serde_json::from_value(doc.clone())
            .unwrap_or_else(|e| panic!("{e}: {}", doc["metadata"]["name"]));
        assert_eq!(&serde_json::to_value(typed).unwrap(), doc);
    }
    let cel = Cel::new();
    for (_, policy, form) in policies_and_forms() {
        for kube in admission_policy::KUBE_MIN..=admission_policy::KUBE_MAX {
            let (docs, _) = exported_with(&policy, kube, &form);
            let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
            let configmap = usize::from(form != Params::Inline);
            assert_eq!(
                kinds[..2 * configmap],
                ["Namespace", "ConfigMap"][..2 * configmap]
            );
            assert_eq!(
                kinds.iter().filter(|k| **k == "ConfigMap").count(),
                configmap
            );
            assert_eq!(
                kinds.iter().filter(|k| **k == "Namespace").count(),
                configmap
            );
            assert_eq!(
                kinds.contains(&"MutatingAdmissionPolicy"),
                kube >= 34,
                "1.{kube}: {kinds:?}"
            );
            for doc in &docs {
                let version = doc["apiVersion"].as_str().unwrap();
                match (doc["kind"].as_str().unwrap(), version) {
                    ("Namespace", "v1") => same::<Namespace>(doc),
                    ("ConfigMap", "v1") => same::<ConfigMap>(doc),
                    ("ValidatingAdmissionPolicy", "admissionregistration.k8s.io/v1") => {
                        same::<v1::ValidatingAdmissionPolicy>(doc)
                    }
                    ("ValidatingAdmissionPolicyBinding", "admissionregistration.k8s.io/v1") => {
                        same::<v1::ValidatingAdmissionPolicyBinding>(doc)
                    }
                    ("MutatingAdmissionPolicy", "admissionregistration.k8s.io/v1") => {
                        assert!(kube >= 36);
                        same::<v1::MutatingAdmissionPolicy>(doc)
                    }
                    ("MutatingAdmissionPolicyBinding", "admissionregistration.k8s.io/v1") => {
                        same::<v1::MutatingAdmissionPolicyBinding>(doc)
                    }
                    ("MutatingAdmissionPolicy", "admissionregistration.k8s.io/v1beta1") => {
                        assert!(kube == 34 || kube == 35);
                        same::<v1beta1::MutatingAdmissionPolicy>(doc)
                    }
                    ("MutatingAdmissionPolicyBinding", "admissionregistration.k8s.io/v1beta1") => {
                        same::<v1beta1::MutatingAdmissionPolicyBinding>(doc)
                    }
                    (kind, version) => panic!("unexpected {kind} {version}"),
                }
                // With a ConfigMap, bindings read it and deny when it is
                // missing; inline, nothing reads parameters.
                let kind = doc["kind"].as_str().unwrap();
                let reads = if kind.ends_with("Binding") {
                    "paramRef"
                } else {
                    "paramKind"
                };
                if kind.ends_with("AdmissionPolicy") || kind.ends_with("Binding") {
                    assert_eq!(
                        doc["spec"].get(reads).is_some(),
                        configmap == 1,
                        "{kind} {reads}"
                    );
                }
                if let Some(param) = doc["spec"].get("paramRef") {
                    assert_eq!(param["parameterNotFoundAction"], "Deny");
                    assert_eq!(param["name"], admission_policy::params::NAME);
                    assert_eq!(param["namespace"], "kexpose-system");
                }
                let spec = &doc["spec"];
                let texts = ["variables", "matchConditions"]
                    .iter()
                    .flat_map(|k| spec[k].as_array().into_iter().flatten())
                    .map(|v| &v["expression"])
                    .chain(
                        spec["validations"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .flat_map(|v| [&v["expression"], &v["messageExpression"]]),
                    )
                    .chain(
                        spec["mutations"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .map(|m| &m["jsonPatch"]["expression"]),
                    );
                for text in texts {
                    cel.compile(text.as_str().unwrap()).unwrap();
                }
            }
        }
    }
}

/// The MutatingAdmissionPolicy makes the webhook's admission fixes it
/// carries: on every fixture, the gateway and hosts it leaves are the ones
/// the webhook's patch leaves.
#[test]
fn the_mutating_policy_makes_the_webhooks_fixes() {
    let cel = Cel::new();
    let mut mutated = 0;
    for (policy_name, policy, form) in policies_and_forms() {
        let (docs, params) = exported_with(&policy, 36, &form);
        let params = value(&params);
        let map = of_kind(&docs, "MutatingAdmissionPolicy")[0];
        for (file, object) in objects() {
            let ctx = cel.context(&[
                ("object", value(&object)),
                ("params", params.clone()),
                ("request", value(&request(&object))),
            ]);
            let mut ours = object.clone();
            for m in map["spec"]["mutations"].as_array().unwrap() {
                let program = cel
                    .compile(m["jsonPatch"]["expression"].as_str().unwrap())
                    .unwrap();
                let ops = json(&program.execute(&ctx).unwrap());
                let patch: json_patch::Patch = serde_json::from_value(ops).unwrap();
                json_patch::patch(&mut ours, &patch).unwrap();
            }
            let mut webhook = object.clone();
            json_patch::patch(
                &mut webhook,
                &kexpose::fix::admission_patch(&object, &policy),
            )
            .unwrap();
            for field in ["gateway", "hosts"] {
                assert_eq!(
                    ours["spec"][field], webhook["spec"][field],
                    "{file} [{policy_name}]: spec.{field}"
                );
            }
            mutated += usize::from(ours != object);
        }
    }
    assert!(mutated >= 4, "{mutated} objects mutated");
}

/// One golden per Kubernetes version, reviewed: the comment that says what
/// is enforced where, the policies and their bindings; and one each for the
/// policy's values read from a ConfigMap, and for static manifests.
#[test]
fn goldens_for_each_kubernetes_version() {
    let dir = common::root().join("tests/fixtures/policy-export");
    let mut diffs = Vec::new();
    let mut cases: Vec<(String, Vec<String>)> = (admission_policy::KUBE_MIN
        ..=admission_policy::KUBE_MAX)
        .map(|k| {
            (
                format!("default-1.{k}.yaml"),
                vec!["--kube-version".into(), format!("1.{k}")],
            )
        })
        .collect();
    cases.push((
        "org-1.36-warn.yaml".into(),
        [
            "--policy",
            "tests/fixtures/policy/org.yaml",
            "--action",
            "warn",
        ]
        .map(String::from)
        .to_vec(),
    ));
    cases.push((
        "org-1.36-configmap.yaml".into(),
        [
            "--policy",
            "tests/fixtures/policy/org.yaml",
            "--params",
            "configmap",
        ]
        .map(String::from)
        .to_vec(),
    ));
    cases.push((
        "strict-1.37-static.yaml".into(),
        [
            "--policy",
            "policies/strict.yaml",
            "--kube-version",
            "1.37",
            "--static",
        ]
        .map(String::from)
        .to_vec(),
    ));
    for (name, args) in cases {
        diffs.extend(common::golden(
            &dir.join(name),
            &common::policy_export(&args),
        ));
    }
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
}

#[test]
fn actions_choose_what_a_failed_validation_does() {
    let policy = Policy::default();
    for (action, errors, warnings) in [
        (Action::Deny, "Deny", "Warn"),
        (Action::Warn, "Warn", "Warn"),
        (Action::Audit, "Audit", "Audit"),
    ] {
        let mut o = options(36);
        o.action = action;
        let docs = common::documents(&admission_policy::export(&policy, &o).unwrap());
        for b in of_kind(&docs, "ValidatingAdmissionPolicyBinding") {
            let expected = if b["metadata"]["name"] == "kexpose-warnings" {
                warnings
            } else {
                errors
            };
            assert_eq!(
                b["spec"]["validationActions"],
                j!([expected]),
                "{}",
                b["metadata"]["name"]
            );
        }
    }
}

/// A version before 1.30, a policy value the encoding cannot carry, or
/// static manifests with parameters or before 1.36, is an error with
/// nothing on stdout.
#[test]
fn refuses_what_it_cannot_export() {
    for (args, message) in [
        (
            &["--kube-version", "1.29"][..],
            "Kubernetes 1.29 is older than 1.30 (ValidatingAdmissionPolicy is GA from 1.30)",
        ),
        (
            &["--static", "--params", "configmap"][..],
            "kexpose: static admission manifests take no parameters: export them with the values inline (without --params configmap)",
        ),
        (
            &["--static", "--kube-version", "1.35"][..],
            "kexpose: static admission manifests exist from Kubernetes 1.36 (ManifestBasedAdmissionControlConfig), not 1.35",
        ),
    ] {
        let mut all = vec!["policy", "export"];
        all.extend(args);
        let out = common::run(&all);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
    let dir = common::temp_dir("policy-export-refuses");
    let policy = common::write(
        &dir,
        "policy.yaml",
        b"apiVersion: kexpose.dev/v1alpha1\nkind: Policy\nspec:\n  issuers:\n    - issuer: https://idp.example.com\n      jwksUri: https://idp.example.com/keys\n      fromHeaders: ['a,b']\n",
    );
    let out = common::run(&["policy", "export", "--policy", policy.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "kexpose: cannot export fromHeaders \"a,b\": a token location is a name without commas or spaces, other than * and -"
    );
}

/// Static manifests: every name carries the reserved suffix, nothing reads
/// parameters, and `--kinds` splits the export into what each admission
/// plugin's directory takes, losing nothing.
#[test]
fn static_manifests_split_by_plugin() {
    let run =
        |kinds: &str| common::documents(&common::policy_export(&["--static", "--kinds", kinds]));
    let (all, validating, mutating) = (run("all"), run("validating"), run("mutating"));
    for doc in &all {
        let name = doc["metadata"]["name"].as_str().unwrap();
        assert!(name.ends_with(admission_policy::STATIC_SUFFIX), "{name}");
        if let Some(policy) = doc["spec"].get("policyName") {
            assert!(
                policy
                    .as_str()
                    .unwrap()
                    .ends_with(admission_policy::STATIC_SUFFIX)
            );
        }
        assert!(doc["spec"].get("paramRef").is_none() && doc["spec"].get("paramKind").is_none());
    }
    assert!(
        validating
            .iter()
            .all(|d| d["kind"].as_str().unwrap().starts_with("Validating"))
    );
    assert!(
        mutating
            .iter()
            .all(|d| d["kind"].as_str().unwrap().starts_with("Mutating"))
    );
    assert_eq!(mutating.len(), 2);
    assert_eq!([validating, mutating].concat(), all);
}

/// A cluster newer than the newest version known here gets that version's
/// APIs, and is told so in the export and on stderr; the objects are
/// those of the newest known version.
#[test]
fn a_newer_cluster_gets_the_newest_known_apis() {
    let newest = format!("1.{}", admission_policy::KUBE_MAX);
    let newer = format!("1.{}", admission_policy::KUBE_MAX + 3);
    let known = common::run(&["policy", "export", "--kube-version", &newest]);
    let out = common::run(&["policy", "export", "--kube-version", &newer]);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "Kubernetes {newer} is newer than {newest}, the newest version known here"
        )),
        "{stderr}"
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains(&format!("exported with the APIs of {newest}")));
    assert_eq!(
        common::documents(&text),
        common::documents(&String::from_utf8(known.stdout).unwrap())
    );
}

/// `kexpose policy export | kubectl apply -f -`: kubectl 1.37 reads the
/// stream as `apply` would (`label --local`, which needs no API server)
/// and sees exactly the exported objects, CEL texts unchanged; a failed
/// export writes nothing for kubectl to apply.
#[test]
fn kubectl_reads_the_export_as_written() {
    let out = common::run(&[
        "policy",
        "export",
        "--policy",
        "tests/fixtures/policy/org.yaml",
    ]);
    assert!(out.status.success());
    let ours = common::documents(&String::from_utf8(out.stdout.clone()).unwrap());
    let read = common::pipe(
        std::process::Command::new(common::tool("kubectl")).args([
            "label",
            "--local",
            "-f",
            "-",
            "-o",
            "json",
            "kexpose.dev/piped=yes",
        ]),
        &out.stdout,
    );
    assert!(
        read.status.success(),
        "{}",
        String::from_utf8_lossy(&read.stderr)
    );
    let text = String::from_utf8(read.stdout).unwrap();
    let theirs: Vec<Value> = serde_json::Deserializer::from_str(&text)
        .into_iter::<Value>()
        .map(|v| v.unwrap())
        .flat_map(|v| match v["kind"].as_str() {
            Some("List") => v["items"].as_array().unwrap().clone(),
            _ => vec![v],
        })
        .collect();
    assert_eq!(theirs.len(), ours.len());
    for (mut kube, ours) in theirs.into_iter().zip(ours) {
        assert_eq!(kube["metadata"]["labels"]["kexpose.dev/piped"], "yes");
        kube["metadata"]["labels"]
            .as_object_mut()
            .unwrap()
            .remove("kexpose.dev/piped");
        assert_eq!(kube, ours);
    }

    let bad = common::run(&["policy", "export", "--kube-version", "2.0"]);
    assert!(!bad.status.success());
    assert!(bad.stdout.is_empty(), "nothing for kubectl to apply");
}

/// An APIRule with `n` jwt rules, each broken in the same ways when `bad`.
fn many_rules(n: usize, bad: bool) -> Value {
    let issuer = if bad {
        "https://idp example.com"
    } else {
        "https://idp.example.com"
    };
    let rules: Vec<Value> = (0..n)
        .map(|i| {
            j!({"path": format!("/r{i}"), "methods": ["GET", "OPTIONS"], "timeout": if bad { 900 } else { 60 },
                "jwt": {"authentications": [{"issuer": issuer, "jwksUri": "https://idp.example.com/keys",
                                             "fromHeaders": [{"name": "Authorization"}]}],
                        "authorizations": [{"requiredScopes": ["read"]}]}})
        })
        .collect();
    j!({"apiVersion": "gateway.kyma-project.io/v2", "kind": "APIRule",
        "metadata": {"name": "many", "namespace": "prod-shop"},
        "spec": {"hosts": ["many.apps.example.com"], "service": {"name": "s", "port": 80},
                 "gateway": "kyma-system/kyma-gateway", "rules": rules}})
}

/// Every expression, message included, stays linear in the rules and far
/// below the API server's limit of 1,000,000 per expression at 300 rules,
/// in cel-go's cost units (tests/kube_cel/cost.rs): with the values inline,
/// on clean objects and on objects where every rule fails (which builds
/// the messages), and read from a ConfigMap on the latter.
#[test]
fn the_export_stays_within_the_cost_limit() {
    let cel = Cel::new();
    let policy = Policy::load(&common::root().join("tests/fixtures/policy/org.yaml")).unwrap();
    let [inline, configmap] = both_params();
    for (form, bad) in [(inline.clone(), false), (inline, true), (configmap, true)] {
        let (docs, params) = exported_with(&policy, 36, &form);
        let compiled: Vec<kube_cel::Compiled> = of_kind(&docs, "ValidatingAdmissionPolicy")
            .into_iter()
            .map(|v| kube_cel::Compiled::new(&cel, v).unwrap())
            .collect();
        let cost = |n: usize| {
            let object = many_rules(n, bad);
            compiled
                .iter()
                .map(|v| v.cost(&cel, &object, &params).0)
                .max()
                .unwrap()
        };
        let (small, large) = (cost(30), cost(300));
        assert!(large < 300_000, "{form:?} bad={bad}: {large} at 300 rules");
        assert!(
            large < small * 12,
            "{form:?} bad={bad}: {small} at 30 rules, {large} at 300: not linear"
        );
    }
}

mod random {
    //! Random APIRules built from the values that make each exported rule
    //! hard (Go's URL corner cases, token locations in every order, `{**}`
    //! in every place, repeated methods, suppressions): the policies'
    //! verdicts must be check's, for every rule, on every one of them.

    use super::*;
    use proptest::prelude::*;

    fn pick(items: &'static [&'static str]) -> impl Strategy<Value = Value> {
        prop::sample::select(items).prop_map(Value::from)
    }

    const ISSUERS: &[&str] = &[
        "https://idp.example.com",
        "https://idp.example.com/",
        "http://idp.example.com",
        "idp.example.com",
        "https:idp.example.com",
        "ldap://idp.example.com",
        "HTTPS://Idp.Example.com",
        "https://idp example.com",
        "https://:8443",
        "/issuer",
        "",
        "urn:idp",
    ];
    const JWKS: &[&str] = &[
        "https://idp.example.com/keys",
        "http://idp.example.com/keys",
        "ftp://idp.example.com/keys",
        "https:keys",
        "/keys",
        "",
        "https://idp.example.com/<TENANT>/keys",
        "HTTP://idp.example.com/keys",
    ];
    const PATHS: &[&str] = &[
        "/a",
        "/a/{*}",
        "/{**}",
        "/a/{**}/b",
        "/a/{**}/{*}",
        "/{**}/{**}",
        "/*",
        "/healthz",
        "/a{**}b/{*}",
    ];
    const METHODS: &[&str] = &["GET", "POST", "OPTIONS", "TRACE", "DELETE"];
    const SUPPRESS: &[&str] = &[
        "",
        "J012: reviewed",
        "O006",
        "o003: ok; R009: fine",
        "J002:  ",
        "  \n; O009: why not",
    ];
    const NAMESPACES: &[&str] = &["prod-shop", "sandbox-a", "demo", ""];
    const HOSTS: &[&str] = &[
        "a.apps.example.com",
        "*.apps.example.com",
        "a.elsewhere.io",
        "a",
        "*.example.com",
    ];
    const GATEWAYS: &[&str] = &["kyma-system/kyma-gateway", "istio-system/other"];

    fn list_of(items: &'static [&'static str], max: usize) -> impl Strategy<Value = Option<Value>> {
        prop::option::weighted(
            0.6,
            prop::collection::vec(pick(items), 0..max).prop_map(Value::from),
        )
    }

    fn authentication() -> impl Strategy<Value = Value> {
        (
            pick(ISSUERS),
            pick(JWKS),
            prop::option::weighted(
                0.4,
                prop::collection::vec(pick(&["Authorization", "X-Token", "X-Idp-Token"]), 0..3),
            ),
            list_of(&["access_token", "token"], 3),
        )
            .prop_map(|(issuer, jwks, headers, params)| {
                let mut a = j!({"issuer": issuer, "jwksUri": jwks});
                if let Some(h) = headers {
                    a["fromHeaders"] = h.into_iter().map(|n| j!({"name": n})).collect();
                }
                if let Some(p) = params {
                    a["fromParams"] = p;
                }
                a
            })
    }

    fn authorization() -> impl Strategy<Value = Value> {
        (
            list_of(&["read", "", "write"], 3),
            list_of(&["orders", ""], 3),
        )
            .prop_map(|(s, a)| {
                let mut z = j!({});
                if let Some(s) = s {
                    z["requiredScopes"] = s;
                }
                if let Some(a) = a {
                    z["audiences"] = a;
                }
                z
            })
    }

    fn config() -> impl Strategy<Value = Value> {
        (
            prop::option::weighted(0.9, prop::collection::vec(authentication(), 0..3)),
            prop::option::weighted(0.5, prop::collection::vec(authorization(), 0..2)),
        )
            .prop_map(|(auths, authz)| {
                let mut c = j!({});
                if let Some(a) = auths {
                    c["authentications"] = a.into();
                }
                if let Some(z) = authz {
                    c["authorizations"] = z.into();
                }
                c
            })
    }

    fn rule() -> impl Strategy<Value = Value> {
        (
            pick(PATHS),
            prop::collection::vec(pick(METHODS), 1..4),
            0..3u8,
            config(),
            any::<bool>(),
            prop::option::of(prop::sample::select(&[30u32, 600][..])),
            prop::option::weighted(0.2, any::<bool>()),
        )
            .prop_map(
                |(path, methods, strategy, cfg, service, timeout, request)| {
                    let mut r = j!({"path": path, "methods": methods});
                    match strategy {
                        0 => r["noAuth"] = true.into(),
                        1 => r["jwt"] = cfg,
                        _ => r["extAuth"] = j!({"authorizers": ["x"], "restrictions": cfg}),
                    }
                    if service {
                        r["service"] = j!({"name": "s", "port": 80});
                    }
                    if let Some(t) = timeout {
                        r["timeout"] = t.into();
                    }
                    if let Some(empty_headers) = request {
                        r["request"] = if empty_headers {
                            j!({"headers": {}})
                        } else {
                            j!({"cookies": {"a": "b"}})
                        };
                    }
                    r
                },
            )
    }

    fn apirule() -> impl Strategy<Value = Value> {
        (
            prop::sample::select(&["v2", "v2alpha1"][..]),
            pick(NAMESPACES),
            pick(SUPPRESS),
            pick(HOSTS),
            prop::option::of(pick(GATEWAYS)),
            prop::option::weighted(0.2, pick(GATEWAYS)),
            any::<bool>(),
            prop::collection::vec(rule(), 1..4),
            prop::option::weighted(0.3, (any::<bool>(), prop::collection::vec(0..4u8, 0..3))),
        )
            .prop_map(|(version, ns, suppress, host, gateway, external, service, rules, cors)| {
                let mut spec = j!({"hosts": [host], "rules": rules});
                if let Some(g) = gateway {
                    spec["gateway"] = g;
                }
                if let Some(g) = external {
                    spec["externalGateway"] = g;
                }
                if service {
                    spec["service"] = j!({"name": "s", "port": 80});
                }
                if let Some((methods, origins)) = cors {
                    let origins: Vec<Value> = origins
                        .iter()
                        .map(|o| match o {
                            0 => j!({"exact": "https://a"}),
                            1 => j!({"prefix": "https://a", "regex": ".*"}),
                            2 => j!({}),
                            _ => j!({"regex": "https://.*"}),
                        })
                        .collect();
                    spec["corsPolicy"] = j!({"allowOrigins": origins});
                    if methods {
                        spec["corsPolicy"]["allowMethods"] = j!([]);
                    }
                }
                let mut metadata = j!({"name": "r"});
                if ns != "" {
                    metadata["namespace"] = ns;
                }
                if suppress != "" {
                    metadata["annotations"] = j!({"kexpose.dev/suppress": suppress});
                }
                j!({"apiVersion": format!("gateway.kyma-project.io/{version}"), "kind": "APIRule",
                    "metadata": metadata, "spec": spec})
            })
    }

    struct Exported {
        policy: Policy,
        params: Value,
        vaps: Vec<kube_cel::Compiled>,
    }

    fn exported_policies(cel: &Cel) -> Vec<Exported> {
        policies_and_forms()
            .into_iter()
            .map(|(_, policy, form)| {
                let (docs, params) = exported_with(&policy, 36, &form);
                Exported {
                    params,
                    vaps: of_kind(&docs, "ValidatingAdmissionPolicy")
                        .into_iter()
                        .map(|v| kube_cel::Compiled::new(cel, v).unwrap())
                        .collect(),
                    policy,
                }
            })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

        #[test]
        fn random_apirules_get_checks_verdict(object in apirule()) {
            thread_local! {
                static CEL: Cel = Cel::new();
                static EXPORTED: Vec<Exported> = CEL.with(exported_policies);
            }
            CEL.with(|cel| EXPORTED.with(|exported| {
                for e in exported {
                    let findings = check::judge(&object, &e.policy).findings;
                    if refused_by_schema(&findings) {
                        continue;
                    }
                    let mut failed = BTreeMap::new();
                    for vap in &e.vaps {
                        failed.extend(vap.evaluate(cel, &object, &e.params).unwrap().unwrap());
                    }
                    for code in Code::ALL.iter().filter(|c| coverage(**c).is_ok() && e.policy.severity(**c).is_some()) {
                        let by_check = findings.iter().any(|f| f.code == *code);
                        assert_eq!(
                            by_check,
                            failed.contains_key(code.as_str()),
                            "{code} under {}: check {:?}, policy {:?}\n{}",
                            e.policy.name,
                            findings.iter().filter(|f| f.code == *code).map(|f| &f.message).collect::<Vec<_>>(),
                            failed.get(code.as_str()),
                            serde_json::to_string_pretty(&object).unwrap()
                        );
                    }
                }
            }));
        }
    }
}
