//! The JSON Schemas in `schemas/` and the typed model agree: on every fixture,
//! the model deserialises exactly when the schema finds no structural error,
//! and what it deserialises serialises back to the same object.

mod common;

use kexpose::apirule::{Version, v1beta1, v2};
use kexpose::check::schema;
use kexpose::rules::Code;
use kexpose::yaml::{Limits, load};
use serde_json::Value;

/// Schema codes that describe structure, which the model encodes too.
const STRUCTURAL: [Code; 4] = [Code::S001, Code::S002, Code::S003, Code::S004];

fn apirules() -> Vec<(String, Version, Value)> {
    let mut out = Vec::new();
    let mut dirs = vec![
        common::root().join("tests/fixtures"),
        common::root().join("examples"),
    ];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            for doc in load(&text, Limits::default())
                .documents
                .into_iter()
                .flatten()
            {
                let api = doc
                    .value
                    .get("apiVersion")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if let Some(v) = Version::from_api_version(api)
                    && doc.value.get("kind") == Some(&Value::from("APIRule"))
                {
                    out.push((path.display().to_string(), v, doc.value));
                }
            }
        }
    }
    assert!(
        out.len() > 50,
        "expected many APIRule fixtures, found {}",
        out.len()
    );
    out
}

#[test]
fn schema_and_model_agree_on_every_fixture() {
    for (file, version, value) in apirules() {
        let findings = schema::validate(version, &value);
        let structural_ok = !findings.iter().any(|f| STRUCTURAL.contains(&f.code));
        let typed = match version {
            Version::V1beta1 => serde_json::from_value::<v1beta1::ApiRule>(value.clone())
                .map(|r| serde_json::to_value(r).unwrap())
                .map_err(|e| e.to_string()),
            _ => serde_json::from_value::<v2::ApiRule>(value.clone())
                .map(|r| serde_json::to_value(r).unwrap())
                .map_err(|e| e.to_string()),
        };
        assert_eq!(
            typed.is_ok(),
            structural_ok,
            "{file}: model says {typed:?}, schema says {findings:?}"
        );
        if let Ok(round_trip) = typed {
            assert_eq!(round_trip, value, "{file}: the model loses or invents data");
        }
    }
}

#[test]
fn v2_and_v2alpha1_schemas_differ_only_where_upstream_does() {
    let mut v2: Value = serde_json::from_str(schema::V2).unwrap();
    let mut alpha: Value = serde_json::from_str(schema::V2ALPHA1).unwrap();
    assert_eq!(
        v2["required"],
        serde_json::json!(["apiVersion", "kind", "spec"])
    );
    assert_eq!(alpha["required"], serde_json::json!(["apiVersion", "kind"]));
    for s in [&mut v2, &mut alpha] {
        let o = s.as_object_mut().unwrap();
        for k in ["$id", "title", "required"] {
            o.remove(k);
        }
        o["properties"]["apiVersion"] = Value::Null;
    }
    assert_eq!(v2, alpha);
}

#[test]
fn schemas_encode_the_cel_rules() {
    let base = serde_json::json!({
        "apiVersion": "gateway.kyma-project.io/v2", "kind": "APIRule",
        "spec": {"hosts": ["a.example.com"], "gateway": "kyma-system/kyma-gateway",
                 "service": {"name": "s", "port": 80},
                 "rules": [{"path": "/", "methods": ["GET"], "noAuth": true}]}
    });
    let codes = |patch: &dyn Fn(&mut Value)| {
        let mut v = base.clone();
        patch(&mut v);
        schema::validate(Version::V2, &v)
            .into_iter()
            .map(|f| f.code)
            .collect::<Vec<_>>()
    };
    assert!(codes(&|_| {}).is_empty());
    for host in [
        "A.example.com",
        "a_b.example.com",
        "*.com",
        "*",
        "a.example.c",
        "a.example.c-m",
        "a.example.com.",
    ] {
        assert_eq!(
            codes(&|v| v["spec"]["hosts"][0] = host.into()),
            [Code::S006],
            "{host}"
        );
    }
    for host in ["short", "*.example.com", "10.0.0.10"] {
        assert!(
            codes(&|v| v["spec"]["hosts"][0] = host.into()).is_empty(),
            "{host}"
        );
    }
    assert_eq!(
        codes(&|v| v["spec"]["gateway"] = "kyma-gateway.kyma-system".into()),
        [Code::S007]
    );
    assert_eq!(
        codes(&|v| v["spec"]["rules"][0]["noAuth"] = false.into()),
        [Code::S009]
    );
    assert_eq!(
        codes(&|v| v["spec"]["rules"][0]["jwt"] = serde_json::json!({})),
        [Code::S009],
        "noAuth: true and jwt together"
    );
    assert!(
        codes(&|v| {
            v["spec"]["rules"][0]["noAuth"] = false.into();
            v["spec"]["rules"][0]["jwt"] = serde_json::json!({});
        })
        .is_empty()
    );
    for path in ["/.*", "/foo*", "/foo/*", "/foo/{*}bar", "/*/x", "foo"] {
        assert_eq!(
            codes(&|v| v["spec"]["rules"][0]["path"] = path.into()),
            [Code::S008],
            "{path}"
        );
    }
    for path in [
        "/",
        "/*",
        "/{**}",
        "/a/{*}/b",
        "//x",
        "/a%20b",
        "/{**}/{**}",
    ] {
        assert!(
            codes(&|v| v["spec"]["rules"][0]["path"] = path.into()).is_empty(),
            "{path}"
        );
    }
}

/// `Issuers` holds the same issuer entries as `Exposure`; the two schemas
/// must not drift apart.
#[test]
fn issuer_definitions_agree_across_spec_schemas() {
    let exposure: Value = serde_json::from_str(include_str!("../schemas/exposure.json")).unwrap();
    let issuers: Value = serde_json::from_str(include_str!("../schemas/issuers.json")).unwrap();
    assert_eq!(exposure["$defs"]["issuer"], issuers["$defs"]["issuer"]);
}

/// Every spec among the examples and golden cases, once rendered from its
/// template, satisfies the schema and the typed model alike, and the model
/// serialises back to the same value.
#[test]
fn exposure_schema_and_model_agree() {
    let ctx = {
        let mut c = kexpose::spec::template::Context::default();
        c.merge_values(serde_json::json!({
            "namespace": "dev", "domain": "example.com", "tenant": "t",
            "name": "web", "team": "web", "port": 80, "timeout": 5, "issuer": "https://i.example.com", "paths": ["/a"],
        }));
        c.env
            .insert("KEXPOSE_FIXTURE_DOMAIN".into(), "example.com".into());
        c
    };
    let validator = jsonschema::options()
        .with_pattern_options(jsonschema::PatternOptions::regex())
        .build(&serde_json::from_str(include_str!("../schemas/exposure.json")).unwrap())
        .unwrap();
    let mut seen = 0;
    for dir in [
        "examples/exposures",
        "tests/fixtures/render/ordering",
        "tests/fixtures/render/full",
        "tests/fixtures/render/values-layering",
        "tests/fixtures/rules/X001",
    ] {
        for entry in std::fs::read_dir(common::root().join(dir)).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let Ok(text) = kexpose::spec::template::render("t", &text, &ctx) else {
                continue;
            };
            for doc in load(&text, Limits::default())
                .documents
                .into_iter()
                .flatten()
            {
                if kexpose::spec::Kind::of(&doc.value) != Some(kexpose::spec::Kind::Exposure) {
                    continue;
                }
                let model = serde_json::from_value::<kexpose::spec::Exposure>(doc.value.clone());
                let valid = validator.is_valid(&doc.value);
                if path.ends_with("fail.yaml") {
                    continue;
                }
                assert!(valid, "{}: schema rejects it", path.display());
                let model =
                    model.unwrap_or_else(|e| panic!("{}: model rejects it: {e}", path.display()));
                assert_eq!(
                    serde_json::to_value(&model).unwrap(),
                    doc.value,
                    "{}",
                    path.display()
                );
                seen += 1;
            }
        }
    }
    assert!(seen >= 5, "only {seen} specs");
}

/// One broken field does not hide the findings about the others, and
/// nothing is reported about the stand-in the rules saw in its place.
#[test]
fn a_schema_error_in_one_field_hides_no_other_finding() {
    let object = serde_json::json!({
        "apiVersion": "gateway.kyma-project.io/v2", "kind": "APIRule",
        "metadata": {"name": "httpbin", "namespace": "demo"},
        "spec": {
            "hosts": ["httpbin.example.com"],
            "service": {"name": "httpbin", "port": 8000},
            "gateway": "kyma-system/kyma-gateway",
            "rules": [
                {"path": "/a", "methods": ["GETT", "GET", "GET"], "noAuth": true},
                {"path": "/b", "methods": ["GET"], "jwt": {"authentications": [
                    {"issuer": "https://idp.example.com", "jwksUri": "not-a-url"}]}},
                {"path": "/c", "methods": ["GET"], "timeout": "30", "unknown": 1,
                 "jwt": {"authentications": [
                    {"issuer": 42, "jwksUri": "https://idp.example.com/keys", "fromHeaders": []}]}},
            ],
        },
    });
    let mut got: Vec<(String, Code)> = kexpose::check::object(&object, &Default::default())
        .into_iter()
        .map(|f| (f.pointer, f.code))
        .collect();
    got.sort();
    let want = [
        ("/spec/rules/0/methods/0", Code::S004),
        // The third entry: its index is the original one, not the repaired list's.
        ("/spec/rules/0/methods/2", Code::R006),
        ("/spec/rules/1/jwt/authentications/0/jwksUri", Code::J003),
        (
            "/spec/rules/2/jwt/authentications/0/fromHeaders",
            Code::R009,
        ),
        ("/spec/rules/2/jwt/authentications/0/issuer", Code::S003),
        ("/spec/rules/2/timeout", Code::S003),
        ("/spec/rules/2/unknown", Code::S002),
    ];
    assert_eq!(got, want.map(|(p, c)| (p.to_owned(), c)));
}

/// A missing spec is one finding, not that and a gateway error about the
/// spec that is not there.
#[test]
fn a_missing_spec_is_reported_once() {
    let object = serde_json::json!({
        "apiVersion": "gateway.kyma-project.io/v2", "kind": "APIRule",
        "metadata": {"name": "httpbin", "namespace": "demo"},
    });
    let got: Vec<(String, Code)> = kexpose::check::object(&object, &Default::default())
        .into_iter()
        .map(|f| (f.pointer, f.code))
        .collect();
    assert_eq!(got, [(String::new(), Code::S001)]);
}

/// Under the default policy a v1beta1 object is R010, and its schema
/// errors are reported too (they matter to its migration).
#[test]
fn v1beta1_under_the_default_policy_keeps_its_schema_errors() {
    let object = serde_json::json!({
        "apiVersion": "gateway.kyma-project.io/v1beta1", "kind": "APIRule",
        "metadata": {"name": "httpbin", "namespace": "demo"},
        "spec": {"host": 42, "gateway": "kyma-system/kyma-gateway",
                 "service": {"name": "httpbin", "port": 8000},
                 "rules": [{"path": "/.*", "methods": ["GET"],
                            "accessStrategies": [{"handler": "noop"}]}]},
    });
    let got: Vec<(String, Code)> = kexpose::check::object(&object, &Default::default())
        .into_iter()
        .map(|f| (f.pointer, f.code))
        .collect();
    assert_eq!(
        got,
        [
            ("/apiVersion".to_owned(), Code::R010),
            ("/spec/host".to_owned(), Code::S003)
        ]
    );
}

/// `schemas/accesstest.json` accepts every AccessTest `kexpose test` runs
/// cleanly, and refuses the ones it reports as A002.
#[test]
fn accesstest_schema_and_suite_agree() {
    let validator = jsonschema::options()
        .with_pattern_options(jsonschema::PatternOptions::regex())
        .build(&serde_json::from_str(include_str!("../schemas/accesstest.json")).unwrap())
        .unwrap();
    let mut seen = (0, 0);
    let dirs = std::fs::read_dir(common::root().join("tests/fixtures/access"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .chain([
            common::root().join("tests/fixtures/rules/A001"),
            common::root().join("tests/fixtures/rules/A002"),
        ]);
    for dir in dirs {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            for doc in load(&text, Limits::default())
                .documents
                .into_iter()
                .flatten()
            {
                if !kexpose::access::load::is_access_test(&doc.value) {
                    continue;
                }
                let valid = validator.is_valid(&doc.value);
                // The failing fixtures hold the unreadable cases; every
                // other AccessTest is valid.
                let broken =
                    path.ends_with("failing/access.yaml") || path.ends_with("A002/fail.yaml");
                assert_eq!(
                    valid,
                    !broken,
                    "{}: {:?}",
                    path.display(),
                    validator
                        .iter_errors(&doc.value)
                        .map(|e| e.to_string())
                        .collect::<Vec<_>>()
                );
                if valid { seen.0 += 1 } else { seen.1 += 1 }
            }
        }
    }
    assert!(seen.0 >= 10 && seen.1 >= 2, "{seen:?}");
}
