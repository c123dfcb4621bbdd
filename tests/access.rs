//! The access model from the outside: `kexpose test` on AccessTest
//! scenarios covering every row of the 401/403/404 table, `explain` with
//! its reasons pinned to file, line and column, `render --istio`, and the
//! negative cases (bad input, failing expectations).

mod common;

use std::path::Path;

use common::{json, root, run, temp_dir};
use serde_json::Value;

const SCENARIOS: [&str; 7] = [
    "docs-example",
    "jwt",
    "locations",
    "hosts",
    "cluster",
    "extauth",
    "quirks",
];

fn scenario(name: &str) -> String {
    format!("tests/fixtures/access/{name}")
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The cases an AccessTest file holds, counted from its text.
fn cases_in(dir: &str) -> usize {
    let text = std::fs::read_to_string(root().join(dir).join("access.yaml")).unwrap();
    text.lines()
        .filter(|l| {
            l.trim_start().starts_with("request:") || l.trim_start().starts_with("- request:")
        })
        .count()
}

#[test]
fn every_scenario_meets_every_expectation() {
    let mut total = 0;
    let mut runs: Vec<(String, Vec<String>)> =
        SCENARIOS.iter().map(|s| (scenario(s), vec![])).collect();
    runs.push((
        scenario("specs"),
        vec![
            "--values".into(),
            "tests/fixtures/access/specs/values.yaml".into(),
        ],
    ));
    for (dir, extra) in &runs {
        let mut args = vec!["test", "--format", "json", dir.as_str()];
        args.extend(extra.iter().map(String::as_str));
        let out = run(&args);
        let report = json(&out);
        assert_eq!(out.status.code(), Some(0), "{dir}: {report:#}");
        assert_eq!(report["diagnostics"], serde_json::json!([]), "{dir}");
        let expected = cases_in(dir);
        assert_eq!(report["summary"]["cases"], expected, "{dir}");
        assert_eq!(report["summary"]["passed"], expected, "{dir}");
        total += expected;
    }
    assert!(total >= 60, "{total} access cases");
}

#[test]
fn failing_expectations_and_unreadable_cases_are_reported_at_their_lines() {
    let dir = scenario("failing");
    let out = run(&["test", "--format", "concise", &dir]);
    assert_eq!(out.status.code(), Some(1));
    let got = stdout(&out);
    let golden = root().join(&dir).join("expected");
    if std::env::var_os("KEXPOSE_BLESS").is_some() {
        std::fs::write(&golden, &got).unwrap();
    }
    let want = std::fs::read_to_string(&golden).expect("a reviewed golden file");
    assert_eq!(got, want);

    // The same run for CI systems: one test case per case, the failures
    // named, and annotations for GitHub.
    let junit = stdout(&run(&["test", "--format", "junit", &dir]));
    assert!(
        junit.contains(r#"<testsuites name="kexpose" tests="10" failures="3" errors="6""#),
        "{junit}"
    );
    assert!(
        junit.contains(r#"name="the documented surprise (line 9)""#),
        "{junit}"
    );
    let github = stdout(&run(&["test", "--format", "github", &dir]));
    assert!(
        github.contains("::error file=tests/fixtures/access/failing/access.yaml,line=12,col=15"),
        "{github}"
    );
}

/// `explain --format json` on a scenario.
fn explain(dir: &str, args: &[&str]) -> Value {
    let mut all = vec!["explain", dir, "--format", "json"];
    all.extend_from_slice(args);
    let out = run(&all);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    json(&out)
}

/// `(message start, file, line, column)` of each reason.
fn reasons(v: &Value) -> Vec<(String, String, u64, u64)> {
    v["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["message"].as_str().unwrap().chars().take(40).collect(),
                r["file"].as_str().unwrap_or_default().to_owned(),
                r["line"].as_u64().unwrap_or_default(),
                r["column"].as_u64().unwrap_or_default(),
            )
        })
        .collect()
}

#[test]
fn explain_walks_the_documented_example() {
    let dir = scenario("docs-example");
    let file = format!("{dir}/apirule.yaml");
    let v = explain(
        &dir,
        &[
            "--request",
            "GET https://httpbin.example.com/anything/x/one",
        ],
    );
    assert_eq!(v["status"], 403);
    assert_eq!(v["message"], "RBAC: access denied");
    assert_eq!(
        v["request"],
        "GET https://httpbin.example.com/anything/x/one"
    );
    assert_eq!(v["token"], "no token");
    assert_eq!(
        reasons(&v),
        vec![
            (
                "rule #1 (/anything/{*}/one) of APIRule d".into(),
                file.clone(),
                15,
                16
            ),
            (
                "rule #2 of APIRule demo/httpbin matches:".into(),
                file.clone(),
                20,
                13
            ),
            ("no token is presented".into(), String::new(), 0, 0),
            (
                "the path is excluded by notPaths /anythi".into(),
                file.clone(),
                14,
                13
            ),
        ]
    );
    assert_eq!(v["rule"]["apirule"], "demo/httpbin");
    assert_eq!(v["rule"]["index"], 1);
    assert_eq!(v["rule"]["path"], "/anything/{**}");
    assert_eq!(v["rule"]["line"], 20);

    let text = stdout(&run(&[
        "explain",
        &dir,
        "--request",
        "GET https://httpbin.example.com/anything/x/one",
    ]));
    assert!(text.starts_with("403 RBAC: access denied\n"), "{text}");
    assert!(text.contains(&format!("--> {file}:14:13")), "{text}");
    assert!(
        text.contains("excluded by notPaths /anything/{*}/one"),
        "{text}"
    );
}

#[test]
fn explain_names_each_cause_where_it_is_written() {
    let jwt = scenario("jwt");
    let file = format!("{jwt}/apirule.yaml");
    // 401: the issuer, with the trailing-slash hint, at the issuer field.
    let v = explain(
        &jwt,
        &[
            "--request",
            "GET https://api.example.com/headers",
            "--claims",
            r#"{"iss":"https://idp.example.com/","sub":"c"}"#,
        ],
    );
    assert_eq!(v["status"], 401);
    assert_eq!(v["message"], "Jwt issuer is not configured");
    let last = v["reasons"].as_array().unwrap().last().unwrap().clone();
    assert!(
        last["message"]
            .as_str()
            .unwrap()
            .contains("differs from it only by a trailing /"),
        "{last}"
    );
    assert_eq!(
        (
            last["file"].as_str().unwrap(),
            &last["line"],
            &last["column"]
        ),
        (file.as_str(), &16.into(), &21.into())
    );

    // 401: a forged token, at the jwksUri whose keys it fails.
    let v = explain(
        &jwt,
        &[
            "--request",
            "GET https://api.example.com/headers",
            "--invalid-token",
        ],
    );
    assert_eq!(v["status"], 401);
    assert_eq!(v["message"], "Jwt verification fails");
    assert_eq!(reasons(&v).last().unwrap().2, 17);

    // 403: the missing audience, at the authorization's audiences.
    let v = explain(
        &jwt,
        &[
            "--request",
            "GET https://api.example.com/both",
            "--claims",
            r#"{"iss":"https://idp.example.com","sub":"c","aud":"a"}"#,
        ],
    );
    assert_eq!(v["status"], 403);
    let last = reasons(&v).pop().unwrap();
    assert_eq!(
        last,
        (
            "the token lacks audience b in aud (every".into(),
            file.clone(),
            28,
            24
        )
    );

    // 403: the scopes, all in one claim.
    let v = explain(
        &jwt,
        &[
            "--request",
            "GET https://api.example.com/get",
            "--claims",
            r#"{"iss":"https://idp.example.com","sub":"c","scp":["test"],"scope":"write"}"#,
        ],
    );
    assert_eq!(v["status"], 403);
    let message = v["reasons"].as_array().unwrap().last().unwrap()["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        message.contains("all of test, write must be in one claim"),
        "{message}"
    );
    assert!(
        message.contains("scp: test; scope: write; scopes: none"),
        "{message}"
    );

    // 200 with a token in a configured header.
    let located = scenario("locations");
    let v = explain(
        &located,
        &[
            "--request",
            "GET https://located.example.com/x",
            "--claims",
            r#"{"iss":"https://idp.example.com","sub":"c"}"#,
            "--token-in",
            "header:x-jwt-assertion:Bearer",
        ],
    );
    assert_eq!(v["status"], 200);
    assert!(v.get("message").is_none());

    // 404 names the rules that matched the path only.
    let v = explain(
        &located,
        &["--request", "POST https://located.example.com/x"],
    );
    assert_eq!(v["status"], 404);
    assert!(v["rule"].is_null());
    assert!(
        v["reasons"][1]["message"]
            .as_str()
            .unwrap()
            .contains("matches the path but not POST (it allows GET)"),
        "{v:#}"
    );

    // extAuth: the answer depends on the authorizer, and says so.
    let v = explain(
        &scenario("extauth"),
        &["--request", "GET https://portal.example.com/app/x"],
    );
    assert_eq!(v["status"], 200);
    assert_eq!(
        v["depends_on_authorizers"],
        serde_json::json!(["oauth2-proxy"])
    );
    let v = explain(
        &scenario("extauth"),
        &[
            "--request",
            "GET https://portal.example.com/app/x",
            "--authorizer",
            "deny",
        ],
    );
    assert_eq!(v["status"], 403);
}

#[test]
fn explain_follows_a_spec_back_to_its_template_and_issuer() {
    let dir = scenario("specs");
    let v = explain(
        &dir,
        &[
            "--values",
            "tests/fixtures/access/specs/values.yaml",
            "--request",
            "GET https://billing.example.com/invoices/7",
            "--claims",
            r#"{"iss":"https://idp.example.com","sub":"v"}"#,
        ],
    );
    assert_eq!(v["status"], 403);
    let spec = format!("{dir}/exposure.yaml");
    let issuers = format!("{dir}/issuers.yaml");
    let got: Vec<(String, u64)> = reasons(&v).into_iter().map(|r| (r.1, r.2)).collect();
    assert_eq!(got, vec![(spec.clone(), 17), (issuers, 8), (spec, 20)]);
}

#[test]
fn explain_prefers_the_spec_over_the_apirule_rendered_from_it() {
    let dir = temp_dir("access-init");
    let init = run(&["init", dir.to_str().unwrap()]);
    assert!(init.status.success(), "{}", stderr(&init));
    let out = common::kexpose()
        .current_dir(&dir)
        .args([
            "explain",
            "--request",
            "GET https://httpbin.dev.example.com/status/200",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let v = json(&out);
    assert_eq!(v["status"], 200);
    let files: Vec<String> = reasons(&v)
        .into_iter()
        .map(|r| r.1)
        .filter(|f| !f.is_empty())
        .collect();
    assert!(!files.is_empty());
    assert!(
        files.iter().all(|f| f.ends_with("exposures/httpbin.yaml")),
        "{files:?}"
    );
    assert!(
        !stdout(&out).contains("APIRules expose host"),
        "{}",
        stdout(&out)
    );

    // The AccessTest init writes passes, and fails at its own line once
    // the exposure stops serving what it expects.
    let test = |dir: &Path| {
        common::kexpose()
            .current_dir(dir)
            .args(["test", "--format", "concise"])
            .output()
            .unwrap()
    };
    let out = test(&dir);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(
        stdout(&out).contains("ok: 5 access cases in 1 file; 5 passed, 0 failed"),
        "{}",
        stdout(&out)
    );
    let spec = dir.join("exposures/httpbin.yaml");
    let text = std::fs::read_to_string(&spec).unwrap();
    std::fs::write(
        &spec,
        text.replace("      public: true\n", "      jwt:\n        issuer: idp\n"),
    )
    .unwrap();
    let out = test(&dir);
    assert_eq!(out.status.code(), Some(1));
    let got = stdout(&out);
    assert!(
        got.contains("access-tests/httpbin.yaml:25:15: error[A001] GET https://httpbin.dev.example.com/status/200 expects 200, gets 403 RBAC: access denied"),
        "{got}"
    );
}

#[test]
fn render_istio_previews_the_generated_objects() {
    let dir = scenario("docs-example");
    let out = run(&["render", "--istio", &dir]);
    assert!(out.status.success(), "{}", stderr(&out));
    let got = stdout(&out);
    let golden = root().join(&dir).join("istio.expected");
    if std::env::var_os("KEXPOSE_BLESS").is_some() {
        std::fs::write(&golden, &got).unwrap();
    }
    assert_eq!(
        got,
        std::fs::read_to_string(&golden).expect("a reviewed golden file")
    );
    assert!(got.starts_with("# Preview, not for kubectl apply"));

    // A short host is written under the domain given.
    let out = run(&[
        "render",
        "--istio",
        &scenario("hosts"),
        "--domain",
        "c.kyma.example",
    ]);
    assert!(
        stdout(&out).contains("- httpbin.c.kyma.example\n"),
        "{}",
        stdout(&out)
    );
    assert!(
        stdout(&out).contains("x-forwarded-host: '%REQ(:AUTHORITY)%'")
            || stdout(&out).contains("x-forwarded-host: \"%REQ(:AUTHORITY)%\""),
        "{}",
        stdout(&out)
    );
    // --istio is a preview of what exists, not a render into files.
    let out = run(&["render", "--istio", "--out-dir", "x", &dir]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn bad_input_is_refused_with_nothing_on_stdout() {
    let dir = scenario("docs-example");
    let cases: [(&[&str], &str); 6] = [
        (
            &["--request", "https://httpbin.example.com/"],
            "not a request",
        ),
        (
            &["--request", "GET httpbin.example.com/"],
            "not an http(s) URL",
        ),
        (
            &["--request", "GET https://h/", "--claims", "{"],
            "--claims is not JSON",
        ),
        (
            &["--request", "GET https://h/", "--claims", r#"{"sub":"x"}"#],
            "need an iss",
        ),
        (
            &["--request", "GET https://h/", "--token-in", "cookie:x"],
            "not a token location",
        ),
        (
            &[
                "--request",
                "GET https://h/",
                "--no-token",
                "--invalid-token",
            ],
            "cannot be used with",
        ),
    ];
    for (args, message) in cases {
        let mut all = vec!["explain", dir.as_str()];
        all.extend_from_slice(args);
        let out = run(&all);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
        assert!(stderr(&out).contains(message), "{args:?}: {}", stderr(&out));
    }

    let scratch = temp_dir("access-bad");
    let cases: [(&str, &[u8], &str); 4] = [
        ("broken.yaml", b"apiVersion: gateway.kyma-project.io/v2\nkind: APIRule\nspec: [", "broken.yaml:3:7: unclosed '['"),
        ("binary.yaml", b"\x00\x01\x02\xff\xfe", "binary.yaml"),
        (
            "legacy.yaml",
            b"apiVersion: gateway.kyma-project.io/v1beta1\nkind: APIRule\nmetadata: {name: a}\nspec: {}\n",
            "kexpose migrate",
        ),
        (
            "typo.yaml",
            b"apiVersion: gateway.kyma-project.io/v2\nkind: APIRule\nmetadata: {name: a}\nspec:\n  hosts: [a.example.com]\n  rulez: []\n",
            "typo.yaml:1:1: cannot read the APIRule",
        ),
    ];
    for (name, bytes, message) in cases {
        let file = scratch.join(name);
        std::fs::write(&file, bytes).unwrap();
        let out = run(&[
            "explain",
            file.to_str().unwrap(),
            "--request",
            "GET https://a.example.com/",
        ]);
        assert_eq!(out.status.code(), Some(2), "{name}: {}", stdout(&out));
        assert!(out.stdout.is_empty(), "{name}");
        assert!(stderr(&out).contains(message), "{name}: {}", stderr(&out));
    }
    // Nothing to explain against, and nothing to test, are errors.
    let empty = temp_dir("access-empty");
    let out = run(&[
        "explain",
        empty.to_str().unwrap(),
        "--request",
        "GET https://a.example.com/",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let out = run(&["test", &scenario("docs-example/apirule.yaml")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no AccessTest documents found"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn access_tests_never_reach_the_rendered_output() {
    let out = run(&[
        "render",
        &scenario("specs"),
        "--values",
        "tests/fixtures/access/specs/values.yaml",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("kind: APIRule"));
    assert!(!text.contains("AccessTest"), "{text}");
    // check reads AccessTest documents as what they are: not APIRules.
    let out = run(&["check", "--format", "json", &scenario("docs-example")]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}

#[test]
fn standard_input_is_read_once_and_named() {
    let text = std::fs::read(root().join("tests/fixtures/rules/A001/fail.yaml")).unwrap();
    let out = common::run_stdin(&["test", "--format", "concise", "-"], &text);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("<stdin>:25:15: error[A001] GET https://httpbin.example.com/anything/x/one expects 200, gets 403"),
        "{}",
        stdout(&out)
    );
    let out = common::run_stdin(
        &[
            "explain",
            "-",
            "--request",
            "GET https://httpbin.example.com/anything/x",
            "--format",
            "json",
        ],
        &text,
    );
    let v = json(&out);
    assert_eq!(v["status"], 200);
    assert_eq!(v["reasons"][0]["file"], "<stdin>");
}
