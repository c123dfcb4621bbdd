//! The `check` command's contract: formats, exit codes, inputs and bad input.

mod common;

use std::io::Read;
use std::process::{Command, Stdio};

use common::{codes, json, kexpose, run, run_stdin, temp_dir, write};

const VALID: &str = "examples/apirules/httpbin-jwt.yaml";
const INVALID: &str = "examples/invalid/broken-jwt.yaml";

#[test]
fn exit_status_follows_error_findings() {
    assert_eq!(run(&["check", VALID]).status.code(), Some(0));
    assert_eq!(run(&["check", INVALID]).status.code(), Some(1));
    assert_eq!(
        run(&["check", "examples/apirules", "examples/invalid"])
            .status
            .code(),
        Some(1)
    );
    let out = run(&["check", "does/not/exist.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does/not/exist.yaml"));
    assert_eq!(
        run(&["check", "--format", "nope", VALID]).status.code(),
        Some(2)
    );
}

#[test]
fn json_output_is_the_documented_contract() {
    let out = run(&[
        "check",
        "--format",
        "json",
        "examples/apirules",
        "examples/invalid",
    ]);
    let v = json(&out);
    let diags = v["diagnostics"].as_array().unwrap();
    assert!(!diags.is_empty());
    for d in diags {
        for key in [
            "code", "name", "severity", "message", "file", "line", "column", "pointer", "help",
        ] {
            assert!(d.get(key).is_some(), "{key} missing in {d}");
        }
        let rule = kexpose::rules::find(d["code"].as_str().unwrap()).unwrap();
        assert_eq!(d["help"], rule.help, "{d}");
        assert!(matches!(d["severity"].as_str(), Some("error" | "warning")));
        assert!(d["line"].as_u64().unwrap() >= 1 && d["column"].as_u64().unwrap() >= 1);
    }
    let keys: Vec<_> = diags
        .iter()
        .map(|d| {
            (
                d["file"].as_str().unwrap().to_owned(),
                d["line"].as_u64().unwrap(),
                d["column"].as_u64().unwrap(),
            )
        })
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted, "diagnostics are sorted by file, line, column");
    let s = &v["summary"];
    assert_eq!(s["files"], 2);
    assert_eq!(s["apirules"], 2);
    assert_eq!(
        s["errors"].as_u64().unwrap(),
        diags.iter().filter(|d| d["severity"] == "error").count() as u64
    );
    assert_eq!(
        s["warnings"].as_u64().unwrap(),
        diags.iter().filter(|d| d["severity"] == "warning").count() as u64
    );

    let jwks = diags
        .iter()
        .find(|d| d["code"] == "J003")
        .expect("J003 reported");
    assert_eq!(jwks["file"], INVALID);
    assert_eq!(
        (jwks["line"].as_u64(), jwks["column"].as_u64()),
        (Some(24), Some(22))
    );
    assert_eq!(
        jwks["pointer"],
        "/spec/rules/1/jwt/authentications/0/jwksUri"
    );
    assert_eq!(
        jwks["message"],
        r#"value is empty or not a valid uri err=parse "tenant.accounts400.ondemand.com/oauth2/certs": invalid URI for request"#
    );
}

#[test]
fn text_output_has_frames_and_honours_color_settings() {
    let out = run(&["check", INVALID]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("error[J003]: value is empty or not a valid uri"));
    assert!(text.contains(&format!("--> {INVALID}:24:22")));
    assert!(
        text.contains("24 |             jwksUri: tenant.accounts400.ondemand.com/oauth2/certs")
    );
    assert!(text.contains("^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^ jwt-jwks-uri-invalid"));
    assert!(
        !text.contains('\x1b'),
        "no colour when stdout is not a terminal"
    );
    assert!(text.trim_end().ends_with("5 errors, 1 warning"));

    let colored = String::from_utf8(run(&["check", "--color", "always", INVALID]).stdout).unwrap();
    assert!(colored.contains("\x1b[1;31merror[J003]"));
    let out = kexpose()
        .args(["check", "--color", "auto", INVALID])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(!String::from_utf8(out.stdout).unwrap().contains('\x1b'));

    let concise =
        String::from_utf8(run(&["check", "--format", "concise", INVALID]).stdout).unwrap();
    assert!(
        concise
            .lines()
            .any(|l| l.starts_with(&format!("{INVALID}:24:22: error[J003] value is empty")))
    );
}

#[test]
fn sarif_junit_and_github_formats() {
    let sarif = json(&run(&["check", "--format", "sarif", INVALID]));
    assert_eq!(sarif["version"], "2.1.0");
    let run0 = &sarif["runs"][0];
    let rules = run0["tool"]["driver"]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), kexpose::rules::RULES.len());
    let result = run0["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["ruleId"] == "J003")
        .unwrap();
    assert_eq!(
        rules[result["ruleIndex"].as_u64().unwrap() as usize]["id"],
        "J003"
    );
    let region = &result["locations"][0]["physicalLocation"]["region"];
    assert_eq!(
        (region["startLine"].as_u64(), region["startColumn"].as_u64()),
        (Some(24), Some(22))
    );
    assert_eq!(result["level"], "error");
    assert_eq!(
        result["properties"]["help"],
        "set jwksUri to the jwks_uri from the issuer's /.well-known/openid-configuration"
    );
    assert_eq!(
        rules[result["ruleIndex"].as_u64().unwrap() as usize]["help"]["text"],
        result["properties"]["help"]
    );

    let junit = String::from_utf8(
        run(&[
            "check",
            "--format",
            "junit",
            "examples/apirules",
            "examples/invalid",
        ])
        .stdout,
    )
    .unwrap();
    assert!(junit.starts_with("<?xml"));
    assert!(
        junit.contains(
            r#"<testsuites name="kexpose" tests="2" failures="1" errors="0" skipped="0">"#
        )
    );
    assert!(junit.contains(r#"<failure type="J003""#));
    assert!(junit.contains(r#"<testcase classname="examples/apirules/httpbin-jwt.yaml" name="APIRule demo/httpbin (line 3)"/>"#));

    let gh = String::from_utf8(run(&["check", "--format", "github", INVALID]).stdout).unwrap();
    assert!(gh.lines().any(|l| l.starts_with(&format!(
        "::error file={INVALID},line=24,col=22,title=J003 jwt-jwks-uri-invalid::value is empty"
    ))));
    assert!(gh.lines().any(|l| l.starts_with("::warning ")));
}

#[test]
fn stdin_multi_document_lists_and_skipped_documents() {
    let stream = std::fs::read_to_string(INVALID).unwrap()
        + "---\n---\napiVersion: v1\nkind: Service\nmetadata: {name: x}\n---\n"
        + "apiVersion: v1\nkind: List\nitems:\n  - apiVersion: v1\n    kind: ConfigMap\n  - apiVersion: gateway.kyma-project.io/v2\n    kind: APIRule\n    metadata: {name: api-y}\n    spec:\n      hosts: [y.example.com]\n      gateway: kyma-system/kyma-gateway\n      rules:\n        - {path: /, methods: [GET], noAuth: true}\n";
    let out = run_stdin(&["check", "--format", "json", "-"], stream.as_bytes());
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    assert_eq!(v["summary"]["documents"], 4);
    assert_eq!(v["summary"]["apirules"], 2);
    assert_eq!(
        v["summary"]["skipped"], 3,
        "empty document, Service and ConfigMap"
    );
    let r001 = v["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["code"] == "R001")
        .unwrap();
    assert_eq!(r001["file"], "<stdin>");
    assert_eq!(r001["pointer"], "/items/1/spec/rules/0/service");
    assert_eq!(
        r001["line"], 50,
        "points at the rule mapping in the List item"
    );
}

#[test]
fn yaml_1_1_booleans_resolve_as_kubectl_does() {
    // `y` is a boolean to kubectl's YAML parser, so this name is not a string.
    let doc = "apiVersion: gateway.kyma-project.io/v2\nkind: APIRule\nmetadata: {name: y}\nspec:\n  hosts: [y.example.com]\n  gateway: kyma-system/kyma-gateway\n  rules:\n    - {path: /, methods: [GET], noAuth: true}\n";
    let out = run_stdin(&["check", "--format", "json", "-"], doc.as_bytes());
    let v = json(&out);
    assert_eq!(v["diagnostics"][0]["code"], "S003");
    assert_eq!(v["diagnostics"][0]["pointer"], "/metadata/name");
}

#[test]
fn an_integral_float_port_is_read_as_the_api_server_stores_it() {
    // `port: 80.0` passes the CRD schema and is stored as 80; the jwt rules
    // must still run on such an object.
    let doc = "apiVersion: gateway.kyma-project.io/v2\nkind: APIRule\nmetadata: {name: web, namespace: shop}\nspec:\n  hosts: [web.example.com]\n  gateway: kyma-system/kyma-gateway\n  service: {name: web, port: 80.0}\n  rules:\n    - path: /a\n      methods: [GET]\n      jwt:\n        authentications:\n          - issuer: https://id.example.com\n            jwksUri: id.example.com/keys\n";
    let v = json(&run_stdin(
        &["check", "--format", "json", "-"],
        doc.as_bytes(),
    ));
    assert_eq!(codes_of(&v), ["J003"], "{v:#}");
    let fraction = doc.replace("80.0", "80.5");
    let v = json(&run_stdin(
        &["check", "--format", "json", "-"],
        fraction.as_bytes(),
    ));
    // Not an integer: the schema says so, and the jwt rules still run on
    // the rest of the object.
    assert_eq!(codes_of(&v), ["J003", "S003"], "{v:#}");
}

fn codes_of(report: &serde_json::Value) -> Vec<String> {
    let mut codes: Vec<String> = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["code"].as_str().unwrap().to_owned())
        .collect();
    codes.sort();
    codes
}

#[test]
fn merge_keys_share_jwt_settings_as_kubectl_reads_them() {
    // One authentication shared by two rules through an anchor and `<<`;
    // the second overrides jwksUri with a relative path (J003), reported at
    // its own line.
    let doc = "apiVersion: gateway.kyma-project.io/v2\nkind: APIRule\nmetadata: {name: web, namespace: shop}\nspec:\n  hosts: [web.example.com]\n  gateway: kyma-system/kyma-gateway\n  service: {name: web, port: 80}\n  rules:\n    - path: /a\n      methods: [GET]\n      jwt:\n        authentications:\n          - &auth\n            issuer: https://id.example.com\n            jwksUri: https://id.example.com/keys\n    - path: /b\n      methods: [GET]\n      jwt:\n        authentications:\n          - <<: *auth\n            jwksUri: id.example.com/keys\n";
    let out = run_stdin(&["check", "--format", "json", "-"], doc.as_bytes());
    let v = json(&out);
    let found: Vec<(String, u64)> = v["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["code"].as_str().unwrap().to_owned(),
                d["line"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(found, vec![("J003".to_owned(), 21)], "{v:#}");
}

#[test]
fn bad_input_becomes_findings_and_other_files_are_still_checked() {
    let dir = temp_dir("bad-input");
    write(&dir, "binary.yaml", b"\x89PNG\r\n\x1a\n\x00\x00");
    write(
        &dir,
        "latin1.yaml",
        b"kind: ConfigMap\ndata:\n  a: caf\xe9\n",
    );
    write(&dir, "dupes.yaml", b"kind: ConfigMap\nkind: Secret\n");
    write(
        &dir,
        "malformed.json",
        b"{\"kind\": \"APIRule\",\n  \"spec\": [1, 2\n",
    );
    write(
        &dir,
        "deep.yaml",
        format!("a: {}{}\n", "[".repeat(500), "]".repeat(500)).as_bytes(),
    );
    let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for (prev, name) in ["a", "b", "c", "d", "e", "f", "g", "h"]
        .iter()
        .zip(["b", "c", "d", "e", "f", "g", "h", "i"])
    {
        bomb.push_str(&format!(
            "{name}: &{name} [{}]\n",
            vec![format!("*{prev}"); 10].join(", ")
        ));
    }
    write(&dir, "bomb.yaml", bomb.as_bytes());
    write(&dir, "huge.yaml", &vec![b'#'; 4096]);
    std::fs::copy(INVALID, dir.join("z-good.yaml")).unwrap();
    let out = run(&[
        "check",
        "--format",
        "json",
        "--max-file-size",
        "4000",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    let by_file = |name: &str| -> Vec<(String, u64, u64)> {
        v["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["file"].as_str().unwrap().ends_with(name))
            .map(|d| {
                (
                    d["code"].as_str().unwrap().to_owned(),
                    d["line"].as_u64().unwrap(),
                    d["column"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    assert_eq!(by_file("binary.yaml"), [("P004".into(), 1, 1)]);
    assert_eq!(by_file("latin1.yaml"), [("P003".into(), 3, 9)]);
    assert_eq!(by_file("dupes.yaml"), [("P002".into(), 2, 1)]);
    assert_eq!(by_file("malformed.json")[0].0, "P001");
    assert_eq!(by_file("deep.yaml")[0].0, "P007");
    assert_eq!(by_file("bomb.yaml")[0].0, "P006");
    assert_eq!(by_file("huge.yaml"), [("P005".into(), 1, 1)]);
    assert!(
        by_file("z-good.yaml").iter().any(|d| d.0 == "J003"),
        "the good file is still checked"
    );
    assert_eq!(v["summary"]["files"], 8);
}

#[test]
fn unreadable_input_exits_2() {
    let out = run(&[
        "check",
        "--format",
        "json",
        "tests/fixtures/rules/P008/fail.yaml",
        VALID,
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(codes(&out), ["P008"]);
}

#[test]
fn policies_change_severities() {
    let dir = temp_dir("policy");
    let warn_only = write(
        &dir,
        "warn.yaml",
        std::fs::read_to_string("tests/fixtures/rules/J012/fail.yaml")
            .unwrap()
            .as_bytes(),
    );
    let f = warn_only.to_str().unwrap();
    assert_eq!(
        run(&["check", f]).status.code(),
        Some(0),
        "warnings do not fail"
    );
    assert_eq!(
        run(&["check", "--policy", "policies/strict.yaml", f])
            .status
            .code(),
        Some(1)
    );
    let off = write(
        &dir,
        "off.yaml",
        b"apiVersion: kexpose.dev/v1alpha1\nkind: Policy\nspec:\n  rules:\n    J012: off\n",
    );
    let out = run(&[
        "check",
        "--format",
        "json",
        "--policy",
        off.to_str().unwrap(),
        f,
    ]);
    assert!(codes(&out).is_empty());

    let v1 = "tests/fixtures/rules/R010/fail.yaml";
    assert_eq!(codes(&run(&["check", "--format", "json", v1])), ["R010"]);
    let legacy = run(&[
        "check",
        "--format",
        "json",
        "--policy",
        "policies/legacy.yaml",
        v1,
    ]);
    assert_eq!(legacy.status.code(), Some(0));
    assert_eq!(json(&legacy)["diagnostics"][0]["severity"], "warning");

    let bad = write(
        &dir,
        "bad.yaml",
        b"apiVersion: kexpose.dev/v1alpha1\nkind: Policy\nspec:\n  rules:\n    J012: loud\n",
    );
    let out = run(&["check", "--policy", bad.to_str().unwrap(), f]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "bad.yaml:5:11: spec.rules.J012: a rule's severity is one of error, warning, off"
        ),
        "{err}"
    );
    let unknown = write(
        &dir,
        "unknown.yaml",
        b"apiVersion: kexpose.dev/v1alpha1\nkind: Policy\nspec:\n  rules:\n    Z123: off\n",
    );
    assert_eq!(
        run(&["check", "--policy", unknown.to_str().unwrap(), f])
            .status
            .code(),
        Some(2)
    );
    let env = kexpose()
        .args(["check", f])
        .env("KEXPOSE_POLICY", "policies/strict.yaml")
        .output()
        .unwrap();
    assert_eq!(
        env.status.code(),
        Some(1),
        "KEXPOSE_POLICY selects the policy"
    );
}

#[test]
fn a_closed_pipe_is_not_an_error() {
    let dir = temp_dir("pipe");
    let doc = std::fs::read_to_string(INVALID).unwrap();
    let many = vec![doc; 400].join("---\n");
    let file = write(&dir, "many.yaml", many.as_bytes());
    let mut child = kexpose()
        .args(["check", file.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 16];
    child
        .stdout
        .as_mut()
        .unwrap()
        .read_exact(&mut first)
        .unwrap();
    drop(child.stdout.take());
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    // The run ends as it would have with a reader: 1, for the findings.
    let whole = run(&["check", file.to_str().unwrap()]);
    assert_eq!(whole.status.code(), Some(1));
    assert_eq!(status.code(), whole.status.code(), "stderr: {stderr}");
    assert!(stderr.is_empty(), "{stderr}");
}

/// `2>&1 | head -1`: stdout and stderr both go to a reader that leaves
/// after one line. Regression: a write to the closed stderr panicked (101).
#[test]
fn a_closed_stderr_ends_the_run_with_its_own_exit_code() {
    let dir = temp_dir("stderr-pipe");
    let specs = dir.join("specs");
    std::fs::create_dir_all(&specs).unwrap();
    // Many broken specs: render's findings go to stderr, line after line.
    for i in 0..200 {
        let spec = format!(
            "apiVersion: kexpose.dev/v1alpha1\nkind: Exposure\nmetadata: {{name: s{i}, namespace: ns}}\nspec:\n  service: {{name: s, port: 80}}\n  host: Bad_Host\n  routes: [{{path: /x, methods: [GET], public: true}}]\n"
        );
        write(&specs, &format!("s{i}.yaml"), spec.as_bytes());
    }
    let shell = |command: &str| {
        Command::new("bash")
            .arg("-c")
            .arg(format!("set -o pipefail; {command}"))
            .env("K", env!("CARGO_BIN_EXE_kexpose"))
            .env("D", &specs)
            .output()
            .unwrap()
    };
    for command in [
        r#""$K" render "$D" 2>&1 | head -1"#,
        r#""$K" render "$D" 2>&1 >/dev/null | head -1"#,
        r#""$K" check "$D" | head -1"#,
    ] {
        for _ in 0..3 {
            let out = shell(command);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{command}: {stderr}");
            assert!(!stderr.contains("panicked"), "{command}: {stderr}");
        }
    }
}

#[test]
fn check_reads_exposure_specs_with_their_values() {
    let out = run(&[
        "check",
        "--format",
        "json",
        "examples/exposures",
        "--values",
        "examples/env/dev.yaml",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let v = json(&out);
    assert_eq!(v["summary"]["specs"], 2);
    assert_eq!(v["diagnostics"].as_array().unwrap().len(), 0);

    // Without values the templates cannot render: an error at the template's line.
    let out = run(&["check", "--format", "concise", "examples/exposures"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains(
            "examples/exposures/httpbin.yaml:8:17: error[P009] template error: undefined value"
        ),
        "{text}"
    );
}

/// The same inputs count the same files in every command's summary, and a
/// directory with nothing to check says so.
#[test]
fn check_render_and_migrate_count_the_same_files() {
    let dir = common::temp_dir("counts");
    for (from, to) in [
        ("tests/fixtures/migrate/partial/input.yaml", "legacy.yaml"),
        ("tests/fixtures/rules/X001/fail.yaml", "spec.yaml"),
        ("examples/argocd/app/workload.yaml", "workload.yaml"),
    ] {
        std::fs::copy(common::root().join(from), dir.join(to)).unwrap();
    }
    let d = dir.to_str().unwrap();
    let summary = |args: &[&str]| -> String {
        let out = run(args);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        text.lines()
            .find(|l| l.starts_with("failed: ") || l.starts_with("ok: "))
            .unwrap_or_else(|| panic!("{args:?} printed no summary: {text}"))
            .split(',')
            .next()
            .unwrap()
            .to_owned()
    };
    assert_eq!(summary(&["check", d]), "failed: 3 files");
    assert_eq!(summary(&["render", d]), "failed: 3 files");
    assert_eq!(summary(&["migrate", d]), "failed: 3 files");

    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    std::fs::write(empty.join("notes.md"), "no manifests here\n").unwrap();
    let out = run(&["check", empty.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "kexpose: nothing to check in {} (no *.yaml, *.yml or *.json files that are not excluded)\n",
            empty.display()
        )
    );
    let out = run(&["check", &format!("{d}/missing.yaml")]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!("kexpose: {d}/missing.yaml: no such file or directory\n")
    );
    std::fs::remove_dir_all(dir).unwrap();
}

/// A mistake in kexpose.yaml stops every command before it runs, at the
/// file's line and column, with exit 2; --env needs a config that has it.
#[test]
fn config_mistakes_are_placed_and_exit_2() {
    let dir = common::temp_dir("config-mistake");
    std::fs::write(
        dir.join("kexpose.yaml"),
        "apiVersion: kexpose.dev/v1alpha1\nkind: Config\nenvironments:\n  dev: {valuez: [env/dev.yaml]}\n",
    )
    .unwrap();
    for args in [
        &["check"][..],
        &["render"][..],
        &["lock", "--check", "--offline"][..],
    ] {
        let out = common::kexpose()
            .current_dir(&dir)
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.starts_with("kexpose: kexpose.yaml:4:9: not a kexpose config"),
            "{args:?}: {stderr}"
        );
        assert!(out.stdout.is_empty());
    }
    std::fs::write(
        dir.join("kexpose.yaml"),
        "apiVersion: kexpose.dev/v1alpha1\nkind: Config\nenvironments:\n  dev: {values: []}\n",
    )
    .unwrap();
    let out = common::kexpose()
        .current_dir(&dir)
        .args(["check", "--env", "prod"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "kexpose: kexpose.yaml: no environment \"prod\" (known: dev)\n"
    );
    let out = run(&["check", "--env", "dev", "examples/apirules"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--env needs a project config"));
    std::fs::remove_dir_all(dir).unwrap();
}

/// `lock` reads the specs through the loader every command uses: a spec
/// whose key is written twice stops it at that key's line and column
/// (a lock made from part of the specs would look complete and not be),
/// while a Helm template beside the specs is not its business.
#[test]
fn lock_refuses_a_broken_spec_at_its_place_and_passes_over_other_templates() {
    let dir = temp_dir("lock-broken-spec");
    let spec = "apiVersion: kexpose.dev/v1alpha1\nkind: Issuers\nmetadata: {name: shared}\nspec:\n  issuers:\n    idp: {issuer: \"https://idp.example.com\"}\n    idp: {issuer: \"https://other.example.com\"}\n";
    write(&dir, "issuers.yaml", spec.as_bytes());
    write(
        &dir,
        "chart.yaml",
        b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: {{ .Values.name }}}\n",
    );
    let out = kexpose()
        .current_dir(&dir)
        .args(["lock", "."])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "kexpose: cannot read the specs, so no lock could be complete:\n  ./issuers.yaml:7:5: mapping key \"idp\" already defined (first defined at line 6)\n"
    );
    assert!(out.stdout.is_empty());
    assert!(!dir.join("kexpose.lock").exists());
}
