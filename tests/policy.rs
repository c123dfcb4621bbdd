//! Policies: the shipped profiles pass their own test cases, `policy test`
//! reports failures, loading errors point at the line, and `render` obeys
//! the policy as `check` does. (Reloading in `serve`: tests/webhook.rs.)

mod common;

use common::run;

#[test]
fn shipped_profiles_pass_their_policy_tests() {
    for profile in ["default", "strict", "legacy"] {
        let out = run(&[
            "policy",
            "test",
            &format!("policies/tests/{profile}"),
            "--policy",
            &format!("policies/{profile}.yaml"),
        ]);
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(out.status.success(), "{profile}:\n{text}");
        assert!(text.trim_end().ends_with(", 0 failed"), "{text}");
    }
}

#[test]
fn policy_test_reports_missing_and_unexpected_findings() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("kexpose-policy-test-{}", std::process::id()));
    let case = dir.join("wrong-expectation");
    std::fs::create_dir_all(&case).unwrap();
    std::fs::copy(
        common::root().join("examples/invalid/broken-jwt.yaml"),
        case.join("apirule.yaml"),
    )
    .unwrap();
    std::fs::write(
        case.join("expected.txt"),
        "# only half of it\napirule.yaml:24:22 J003\napirule.yaml:1:1 O001\n",
    )
    .unwrap();
    // The directory's own policy.yaml wins over --policy.
    std::fs::copy(
        common::root().join("policies/strict.yaml"),
        dir.join("policy.yaml"),
    )
    .unwrap();
    let out = run(&["policy", "test", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("FAIL  wrong-expectation"), "{text}");
    assert!(text.contains("missing:    apirule.yaml:1:1 O001"), "{text}");
    assert!(
        text.contains("unexpected: apirule.yaml:19:13 R004"),
        "{text}"
    );
    assert!(!text.contains("J003"), "{text}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn loading_errors_point_at_the_line() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("kexpose-policy-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (text, want) in [
        (
            "apiVersion: kexpose.dev/v1alpha1\nkind: Policy\nspec:\n  noAuth:\n    namespaces: [\"prod-(\"]\n",
            "policy.yaml:5:18: spec.noAuth.namespaces[0]: not a regular expression",
        ),
        (
            "apiVersion: kexpose.dev/v1alpha1\nkind: Policy\nspec:\n  limits:\n    methods: [GET, FETCH]\n",
            "policy.yaml:5:20:",
        ),
        (
            "apiVersion: kexpose.dev/v1alpha1\nkind: Policy\nspec:\n  hosts:\n    domain: [example.com]\n",
            "policy.yaml:5:5: spec.hosts: Additional properties are not allowed ('domain' was unexpected)",
        ),
        (
            "apiVersion: kexpose.dev/v1alpha1\nkind: Policy\nspec:\n  suppressions:\n    codes: [J012, O011]\n",
            "policy.yaml:5:19: suppressions.codes: \"O011\" is not a rule an object can suppress (see `kexpose rules`; O011 never is)",
        ),
        (
            "apiVersion: kexpose.dev/v1alpha1\nkind: Policy\nspec:\n  suppressions:\n    namespaces: [\"legacy-(\"]\n",
            "policy.yaml:5:18: spec.suppressions.namespaces[0]: not a regular expression",
        ),
    ] {
        let path = dir.join("policy.yaml");
        std::fs::write(&path, text).unwrap();
        let out = run(&[
            "check",
            "--policy",
            path.to_str().unwrap(),
            "examples/apirules",
        ]);
        assert_eq!(out.status.code(), Some(2));
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(stderr.contains(want), "want {want:?} in {stderr}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn render_obeys_the_policy_like_check() {
    // The seed example has an unscoped jwt route (`/*`) and a public one:
    // fine by default, O007 and O006 under the strict profile, reported at
    // the spec's lines.
    let args = [
        "render",
        "examples/exposures",
        "--values",
        "examples/env/dev.yaml",
        "--color",
        "never",
    ];
    assert!(run(&args).status.success());
    let mut strict = args.to_vec();
    strict.extend(["--policy", "policies/strict.yaml"]);
    let out = run(&strict);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("error[O007]: the policy requires jwt rules to restrict requiredScopes"),
        "{stderr}"
    );
    assert!(
        stderr.contains("--> examples/exposures/httpbin.yaml:26:9"),
        "{stderr}"
    );
    assert!(
        stderr.contains("error[O006]: noAuth is not allowed for /status/{*}"),
        "{stderr}"
    );
}
