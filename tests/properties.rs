//! Property tests: no input, random or mutated, makes the core panic, and
//! every finding it reports is placed at a real position.

use kexpose::check;
use kexpose::pipeline;
use kexpose::policy::Policy;
use kexpose::rules::Code;
use kexpose::source::decode;
use proptest::prelude::*;
use serde_json::{Value, json};

const SEED_DOCS: [&str; 3] = [
    include_str!("../examples/apirules/httpbin-jwt.yaml"),
    include_str!("../examples/invalid/broken-jwt.yaml"),
    include_str!("fixtures/rules/B008/fail.yaml"),
];

fn check_bytes(bytes: &[u8]) {
    let policy = Policy::default();
    let text = match decode(bytes, 1 << 20) {
        Ok(t) => t,
        Err(_) => return,
    };
    let report = pipeline::check_text("fuzz.yaml", text, &policy);
    // YAML breaks lines at \n, \r\n and a lone \r (so do editors); a
    // position may sit just past the last line (the end of the input).
    let breaks =
        text.matches('\n').count() + text.matches('\r').count() - text.matches("\r\n").count();
    let lines = breaks as u32 + 2;
    for d in &report.diagnostics {
        assert!(d.line >= 1 && d.line <= lines, "{d:?} outside the text");
        assert!(d.column >= 1);
    }
    assert_eq!(
        report.summary.errors + report.summary.warnings,
        report.diagnostics.len()
    );
}

/// A mutation of a seed document: flip, insert or delete bytes, or splice.
#[derive(Debug, Clone)]
enum Edit {
    Replace(usize, u8),
    Insert(usize, u8),
    Delete(usize, usize),
    Duplicate(usize, usize),
}

fn apply(seed: &[u8], edits: &[Edit]) -> Vec<u8> {
    let mut b = seed.to_vec();
    for e in edits {
        if b.is_empty() {
            break;
        }
        match *e {
            Edit::Replace(i, c) => {
                let i = i % b.len();
                b[i] = c;
            }
            Edit::Insert(i, c) => b.insert(i % (b.len() + 1), c),
            Edit::Delete(i, n) => {
                let i = i % b.len();
                let end = (i + n % 16).min(b.len());
                b.drain(i..end);
            }
            Edit::Duplicate(i, n) => {
                let i = i % b.len();
                let end = (i + n % 64).min(b.len());
                let chunk = b[i..end].to_vec();
                b.splice(i..i, chunk);
            }
        }
    }
    b
}

fn yamlish_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        Just(b':'),
        Just(b'-'),
        Just(b' '),
        Just(b'\n'),
        Just(b'['),
        Just(b']'),
        Just(b'{'),
        Just(b'}'),
        Just(b'&'),
        Just(b'*'),
        Just(b'!'),
        Just(b'"'),
        Just(b'\''),
        Just(b'#'),
        Just(b'|'),
        Just(b'>'),
        Just(b'%'),
        Just(b'/'),
        Just(b'\t'),
        Just(0u8),
        Just(0xffu8),
        any::<u8>(),
    ]
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), yamlish_byte()).prop_map(|(i, c)| Edit::Replace(i, c)),
        (any::<usize>(), yamlish_byte()).prop_map(|(i, c)| Edit::Insert(i, c)),
        (any::<usize>(), any::<usize>()).prop_map(|(i, n)| Edit::Delete(i, n)),
        (any::<usize>(), any::<usize>()).prop_map(|(i, n)| Edit::Duplicate(i, n)),
    ]
}

/// Random JSON shaped loosely like an APIRule, so the deeper rules run.
fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        "[a-z/{}*:.%@ -]{0,20}".prop_map(Value::from),
        Just(json!("/{**}")),
        Just(json!("/{*}")),
        Just(json!("/*")),
        Just(json!("GET")),
        Just(json!("https://idp.example.com")),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    let keys = prop_oneof![
        Just("path"),
        Just("methods"),
        Just("jwt"),
        Just("noAuth"),
        Just("authentications"),
        Just("authorizations"),
        Just("issuer"),
        Just("jwksUri"),
        Just("fromHeaders"),
        Just("fromParams"),
        Just("name"),
        Just("requiredScopes"),
        Just("audiences"),
        Just("extAuth"),
        Just("restrictions"),
        Just("service"),
        Just("port"),
        Just("accessStrategies"),
        Just("handler"),
        Just("config"),
        Just("mutators"),
        Just("trusted_issuers"),
        Just("jwks_urls"),
        Just("corsPolicy"),
        Just("allowOrigins"),
    ];
    leaf().prop_recursive(5, 64, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(keys.clone(), inner, 0..5).prop_map(|m| Value::Object(
                m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
            )),
        ]
    })
}

/// Found by `random_bytes_never_panic`: a lone carriage return is a YAML
/// line break, so positions after it are on the next line.
#[test]
fn positions_after_a_lone_carriage_return_stay_in_the_text() {
    check_bytes(b"-\r\x01");
    check_bytes(b"a: 1\rb: [\r");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        check_bytes(&bytes);
    }

    #[test]
    fn mutated_documents_never_panic(seed in 0..SEED_DOCS.len(), edits in prop::collection::vec(edit(), 1..12)) {
        check_bytes(&apply(SEED_DOCS[seed].as_bytes(), &edits));
    }

    #[test]
    fn random_apirule_shapes_never_panic(
        version in prop_oneof![Just("v2"), Just("v2alpha1"), Just("v1beta1")],
        rules in prop::collection::vec(value(), 0..4),
        extra in value(),
    ) {
        for policy in [Policy::default(), Policy::parse(include_str!("../policies/legacy.yaml")).unwrap()] {
            let object = json!({
                "apiVersion": format!("gateway.kyma-project.io/{version}"),
                "kind": "APIRule",
                "metadata": {"name": "x"},
                "spec": {"hosts": ["a.example.com"], "host": "a.example.com", "gateway": "kyma-system/kyma-gateway",
                         "service": {"name": "s", "port": 80}, "rules": rules.clone(), "corsPolicy": extra.clone()},
            });
            let _ = check::object(&object, &policy);
            let mut strict = object.clone();
            strict["spec"].as_object_mut().unwrap().remove(if version == "v1beta1" { "hosts" } else { "host" });
            let _ = check::object(&strict, &policy);
        }
    }
}

/// A random route path built from the segments that make ordering hard.
fn route_path() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("/*".to_owned()),
        prop::collection::vec(
            prop_oneof![Just("a"), Just("b"), Just("{*}"), Just("{**}"), Just("x.y")],
            1..4
        )
        .prop_map(|segs| format!("/{}", segs.join("/"))),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// Whatever routes a spec lists, in whatever order, upstream's path ×
    /// method conflict rules never fire on the compiled APIRule: the compiler
    /// orders routes, and refuses (X003) what ordering cannot fix.
    #[test]
    fn compiled_routes_never_conflict(
        routes in prop::collection::vec(
            (route_path(), prop::collection::vec(prop_oneof![Just("GET"), Just("POST")], 1..3), any::<bool>()),
            1..7,
        ),
    ) {
        let routes: Vec<Value> = routes
            .into_iter()
            .map(|(path, methods, public)| {
                let mut methods = methods;
                methods.dedup();
                if public {
                    json!({"path": path, "methods": methods, "public": true})
                } else {
                    json!({"path": path, "methods": methods, "jwt": {"issuer": "idp"}})
                }
            })
            .collect();
        let spec = json!({
            "apiVersion": "kexpose.dev/v1alpha1",
            "kind": "Exposure",
            "metadata": {"name": "x", "namespace": "ns"},
            "spec": {
                "service": {"name": "x", "port": 80},
                "host": "x.example.com",
                "issuers": {"idp": {"issuer": "https://idp.example.com", "jwksUri": "https://idp.example.com/keys"}},
                "routes": routes,
            },
        });
        let doc = kexpose::compile::DocRef { source: 0, document: 0 };
        let evaluated = kexpose::exposure::exposure(
            &spec,
            doc,
            &Default::default(),
            kexpose::apirule::Version::V2,
            &Policy::default(),
        );
        let codes: Vec<Code> = evaluated.findings.iter().map(|l| l.finding.code).collect();
        // Upstream's conflict rules never fire on compiled output.
        prop_assert!(!codes.iter().any(|c| *c == Code::R004 || *c == Code::R005), "{codes:?}");
        match evaluated.apirule {
            // Rendered: the check core says exactly what the pipeline said.
            Some(apirule) => {
                let again: Vec<Code> = check::object(&apirule.to_value(), &Policy::default()).iter().map(|f| f.code).collect();
                let mut mapped: Vec<Code> = codes.clone();
                mapped.sort_unstable();
                let mut again = again;
                again.sort_unstable();
                again.dedup();
                mapped.dedup();
                prop_assert_eq!(again, mapped);
            }
            // Refused: the spec is broken in a way the compiler names.
            None => prop_assert!(codes.iter().any(|c| *c == Code::X003 || c.as_str().starts_with('S')), "{codes:?}"),
        }
    }
}
