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

/// A policy that only warns about v1beta1 (R010) still holds a v1beta1
/// APIRule to the organisation's rules: a foreign host and gateway, an
/// anonymous handler on every path, a plain-http key set and an
/// unregistered issuer are errors, each at its place.
#[test]
fn v1beta1_gets_the_organisation_rules_under_a_legacy_policy() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("kexpose-policy-v1beta1-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // policies/legacy.yaml's R010, with an organisation's values.
    let policy = "apiVersion: kexpose.dev/v1alpha1
kind: Policy
spec:
  rules: {R010: warning}
  v1beta1: {jwtHandler: ory}
  gateways: {allowed: [kyma-system/kyma-gateway]}
  issuers: [{issuer: https://idp.acme.com, jwksUri: https://idp.acme.com/keys}]
  hosts: {domains: [apps.acme.com]}
  noAuth: {allowed: false}
  limits: {allowHttpJwksUri: false}
";
    std::fs::write(dir.join("policy.yaml"), policy).unwrap();
    std::fs::write(
        dir.join("apirule.yaml"),
        "apiVersion: gateway.kyma-project.io/v1beta1
kind: APIRule
metadata: {name: old, namespace: prod-shop}
spec:
  host: old.evil.example.org
  gateway: attacker/gw
  service: {name: old, port: 8080}
  rules:
    - path: /.*
      methods: [GET]
      accessStrategies: [{handler: no_auth}]
    - path: /orders
      methods: [GET]
      accessStrategies:
        - handler: jwt
          config: {trusted_issuers: [https://idp.evil.example.org], jwks_urls: [HTTP://idp.evil.example.org/keys]}
",
    )
    .unwrap();
    let out = run(&[
        "check",
        "--format",
        "concise",
        "--policy",
        dir.join("policy.yaml").to_str().unwrap(),
        dir.join("apirule.yaml").to_str().unwrap(),
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1), "{text}");
    for want in [
        "apirule.yaml:5:9: error[O003] host \"old.evil.example.org\" is not under an allowed domain (apps.acme.com)",
        "apirule.yaml:6:12: error[O005] gateway \"attacker/gw\" is not allowed by the policy (allowed: kyma-system/kyma-gateway)",
        "apirule.yaml:11:36: error[O006] the no_auth handler is not allowed for /.* in namespace \"prod-shop\" by the policy; require a jwt",
        "apirule.yaml:16:38: error[O001] issuer \"https://idp.evil.example.org\" is not in the policy's issuer registry",
        "apirule.yaml:16:81: error[O010] jwksUri \"HTTP://idp.evil.example.org/keys\" uses plain http, which the policy does not allow",
        "apirule.yaml:1:13: warning[R010]",
    ] {
        assert!(text.contains(want), "want {want:?} in\n{text}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}
