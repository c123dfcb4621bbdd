//! `kexpose render`: golden cases, error cases with exact diagnostics, the
//! seed journey end to end, `--out-dir` and drift detection.
//!
//! Golden files are reviewed output. `KEXPOSE_BLESS=1 cargo test --test
//! render` rewrites them after an intended change; review the diff.

mod common;

use std::path::Path;

use common::{kexpose, root, run};

fn case_args(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("args"))
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn golden_cases() {
    let mut failures = Vec::new();
    let mut cases = 0;
    for entry in std::fs::read_dir(root().join("tests/fixtures/render")).unwrap() {
        let dir = entry.unwrap().path();
        let args = case_args(&dir);
        let out = run(&["render"]
            .into_iter()
            .chain(args.iter().map(String::as_str))
            .collect::<Vec<_>>());
        let stdout = String::from_utf8(out.stdout).unwrap();
        let stderr = String::from_utf8(out.stderr).unwrap();
        cases += 1;
        if dir.join("expected.stderr").exists() {
            // An error case: exit 1, nothing on stdout, exact diagnostics.
            if out.status.code() != Some(1) || !stdout.is_empty() {
                failures.push(format!(
                    "{}: want exit 1 and no stdout, got {:?} and {stdout:?}",
                    dir.display(),
                    out.status.code()
                ));
            }
            failures.extend(common::golden(&dir.join("expected.stderr"), &stderr));
        } else {
            if !out.status.success() {
                failures.push(format!("{}: failed: {stderr}", dir.display()));
                continue;
            }
            failures.extend(common::golden(&dir.join("expected.yaml"), &stdout));
        }
    }
    assert!(cases >= 6, "golden cases went missing");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Whatever render prints, `check` accepts: the seed example, rendered for
/// both environments, checked again from the stream.
#[test]
fn rendered_output_passes_check() {
    for env in ["dev", "prod"] {
        let values = format!("examples/env/{env}.yaml");
        let out = run(&["render", "examples/exposures", "--values", &values]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let checked = common::run_stdin(&["check", "--format", "json", "-"], &out.stdout);
        assert!(checked.status.success());
        let v = common::json(&checked);
        assert_eq!(v["summary"]["apirules"], 1);
        assert_eq!(v["diagnostics"].as_array().unwrap().len(), 0);
    }
    let out = run(&[
        "render",
        "examples/exposures",
        "--values",
        "examples/env/dev.yaml",
        "--api-version",
        "v1beta1",
    ]);
    assert!(out.status.success());
    let checked = common::run_stdin(
        &[
            "check",
            "--policy",
            "policies/legacy.yaml",
            "--format",
            "json",
            "-",
        ],
        &out.stdout,
    );
    let v = common::json(&checked);
    let codes: Vec<&str> = v["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["R010"], "only the deprecation warning");
}

#[test]
fn errors_print_nothing_on_stdout_and_name_the_template_line() {
    let out = run(&["render", "examples/exposures"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains(
            "error[P009]: template error: undefined value: `values.namespace` is undefined"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("--> examples/exposures/httpbin.yaml:8:"),
        "{stderr}"
    );

    // No spec at all is a usage error, not an empty stream.
    let out = run(&["render", "examples/apirules"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no Exposure specs found"));
}

#[test]
fn environment_is_visible_to_templates_only_where_allowed() {
    let fixture = "tests/fixtures/rules/P009/pass.yaml";
    let allowed = kexpose()
        .args([
            "render",
            fixture,
            "--template-env",
            "KEXPOSE_FIXTURE_DOMAIN",
        ])
        .env("KEXPOSE_FIXTURE_DOMAIN", "from-env.example.com")
        .output()
        .unwrap();
    assert!(allowed.status.success());
    assert!(String::from_utf8_lossy(&allowed.stdout).contains("- httpbin.from-env.example.com\n"));

    // Not allowed: the variable is undefined (and `default` applies), named
    // when there is no default, and its value is nowhere in the output.
    let refused = kexpose()
        .args(["render", fixture])
        .env("KEXPOSE_FIXTURE_DOMAIN", "s3cr3t.example.com")
        .output()
        .unwrap();
    assert!(refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stdout).contains("- httpbin.example.com\n"));
    let spec = std::fs::read_to_string(common::root().join(fixture))
        .unwrap()
        .replace(" | default('example.com')", "");
    let none =
        "templates read no environment variable unless it is allowed with --template-env NAME";
    let other = "templates read only the variables allowed with --template-env (OTHER)";
    for (args, expected) in [
        (&["render", "-"][..], "--> <stdin>:8:20\n".to_owned()),
        (
            &["check", "-", "--format", "concise"][..],
            format!(
                "<stdin>:8:20: error[P009] template error: undefined value: `env.KEXPOSE_FIXTURE_DOMAIN` is undefined; {none} (template-error)\n"
            ),
        ),
        (
            &[
                "check",
                "-",
                "--format",
                "concise",
                "--template-env",
                "OTHER",
            ][..],
            format!(
                "<stdin>:8:20: error[P009] template error: undefined value: `env.KEXPOSE_FIXTURE_DOMAIN` is undefined; {other} (template-error)\n"
            ),
        ),
    ] {
        let out = common::pipe(
            kexpose()
                .args(args)
                .env("KEXPOSE_FIXTURE_DOMAIN", "s3cr3t.example.com")
                .env("OTHER", "x"),
            spec.as_bytes(),
        );
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!all.contains("s3cr3t"), "{args:?}: {all}");
        assert!(all.contains(&expected), "{args:?}: {all}");
        assert!(
            all.contains("`env.KEXPOSE_FIXTURE_DOMAIN` is undefined"),
            "{args:?}: {all}"
        );
    }
}

fn render_dir(dir: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "render",
        "examples/exposures",
        "--values",
        "examples/env/dev.yaml",
        "--out-dir",
        dir.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    run(&args)
}

fn render_into(dir: &Path) -> std::process::Output {
    render_dir(dir, &[])
}

fn check_dir(dir: &Path) -> std::process::Output {
    render_dir(dir, &["--check"])
}

#[test]
fn out_dir_is_written_and_drift_is_a_diff() {
    let tmp = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("kexpose-render-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);

    // Before the first render everything is missing.
    let out = check_dir(&tmp);
    assert_eq!(out.status.code(), Some(1));
    let diff = String::from_utf8(out.stdout).unwrap();
    assert!(
        diff.contains("+++ b/") && diff.contains("+kind: APIRule"),
        "{diff}"
    );

    assert!(render_into(&tmp).status.success());
    let file = tmp.join("dev.httpbin.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.starts_with("# Source: examples/exposures/httpbin.yaml\n"));
    std::fs::write(tmp.join("notes.yaml"), "kind: ConfigMap\n").unwrap();
    let out = check_dir(&tmp);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(out.stdout.is_empty());

    // A hand edit is drift, shown as a unified diff against the fresh render.
    std::fs::write(&file, text.replace("port: 8000", "port: 8080")).unwrap();
    let out = check_dir(&tmp);
    assert_eq!(out.status.code(), Some(1));
    let diff = String::from_utf8(out.stdout).unwrap();
    assert!(
        diff.contains("-    port: 8080\n+    port: 8000\n"),
        "{diff}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("differ from a fresh render"));

    // A file an earlier render wrote for a spec that is gone is drift, and
    // the next render removes it; files kexpose did not write stay.
    let stale = tmp.join("dev.gone.yaml");
    std::fs::write(&stale, text.replace("httpbin", "gone")).unwrap();
    assert_eq!(check_dir(&tmp).status.code(), Some(1));
    assert!(render_into(&tmp).status.success());
    assert!(!stale.exists());
    assert!(tmp.join("notes.yaml").exists());
    assert_eq!(std::fs::read_to_string(&file).unwrap(), text);
    let leftovers: Vec<_> = std::fs::read_dir(&tmp)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    std::fs::remove_dir_all(&tmp).unwrap();
}

#[test]
fn a_failed_render_leaves_out_dir_untouched() {
    let tmp = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("kexpose-untouched-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    assert!(render_into(&tmp).status.success());
    let before = std::fs::read_to_string(tmp.join("dev.httpbin.yaml")).unwrap();
    let out = run(&[
        "render",
        "examples/exposures",
        "tests/fixtures/rules/X001/fail.yaml",
        "--values",
        "examples/env/dev.yaml",
        "--out-dir",
        tmp.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        std::fs::read_to_string(tmp.join("dev.httpbin.yaml")).unwrap(),
        before
    );
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 1);
    std::fs::remove_dir_all(&tmp).unwrap();
}

/// `--out-dir` replaces or removes only files kexpose wrote, says what it
/// did in one line, and refuses (writing nothing) when a file it did not
/// write stands at a target path.
#[test]
fn out_dir_touches_only_its_own_files_and_says_what_it_did() {
    let tmp = common::temp_dir("out-dir-ownership");
    let out_dir = tmp.join("deploy");
    let dir = out_dir.to_str().unwrap();
    let render_env = |env: &str| {
        run(&[
            "render",
            "examples/exposures",
            "--values",
            &format!("examples/env/{env}.yaml"),
            "--out-dir",
            dir,
        ])
    };
    let stderr = |o: &std::process::Output| String::from_utf8_lossy(&o.stderr).into_owned();

    let first = render_env("dev");
    assert!(first.status.success());
    assert_eq!(
        stderr(&first),
        format!("kexpose: {dir}: 1 written, 0 unchanged, 0 removed\n")
    );
    let again = render_env("dev");
    assert_eq!(
        stderr(&again),
        format!("kexpose: {dir}: 0 written, 1 unchanged, 0 removed\n")
    );

    // Another environment into the same folder: the dev output goes, and
    // the summary names it.
    let prod = render_env("prod");
    assert!(prod.status.success());
    assert_eq!(
        stderr(&prod),
        format!("kexpose: {dir}: 1 written, 0 unchanged, 1 removed (dev.httpbin.yaml)\n")
    );
    assert!(!out_dir.join("dev.httpbin.yaml").exists());

    // A hand-written file named like an output is never overwritten, and
    // nothing else is written or removed either.
    let mine = "# my own notes\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n";
    std::fs::write(out_dir.join("dev.httpbin.yaml"), mine).unwrap();
    let prod_file = std::fs::read(out_dir.join("prod.httpbin.yaml")).unwrap();
    let refused = render_env("dev");
    assert_eq!(refused.status.code(), Some(2));
    assert_eq!(
        stderr(&refused),
        format!(
            "kexpose: {dir}/dev.httpbin.yaml was not written by kexpose (it has no \"# Rendered by kexpose\" header) and would be replaced\nkexpose: nothing written; move those files away or render into another --out-dir\n"
        )
    );
    assert_eq!(
        std::fs::read_to_string(out_dir.join("dev.httpbin.yaml")).unwrap(),
        mine
    );
    assert_eq!(
        std::fs::read(out_dir.join("prod.httpbin.yaml")).unwrap(),
        prod_file
    );
    assert_eq!(std::fs::read_dir(&out_dir).unwrap().count(), 2);

    // Nor is a folder at that path.
    std::fs::remove_file(out_dir.join("dev.httpbin.yaml")).unwrap();
    std::fs::create_dir(out_dir.join("dev.httpbin.yaml")).unwrap();
    assert_eq!(render_env("dev").status.code(), Some(2));
    assert!(out_dir.join("prod.httpbin.yaml").exists());
    std::fs::remove_dir_all(tmp).unwrap();
}

/// Regression: two exposures that render one APIRule got X005 from
/// `render` and `ok` from `check`, so the check hook passed what the
/// render refused. Both now say the same thing at the same place, also
/// when only one of the two files is checked (a commit that stages one).
#[test]
fn check_and_render_agree_on_exposures_that_collide() {
    let dir = spec_project("collide");
    let spec = |host: &str| {
        format!(
            "apiVersion: kexpose.dev/v1alpha1\nkind: Exposure\nmetadata:\n  name: orders\n  namespace: shop\nspec:\n  service: {{name: orders, port: 8080}}\n  host: {host}\n  routes:\n    - path: /status\n      methods: [GET]\n      public: true\n"
        )
    };
    std::fs::write(dir.join("specs/a.yaml"), spec("a.example.com")).unwrap();
    std::fs::write(dir.join("specs/b.yaml"), spec("b.example.com")).unwrap();
    let kexpose = |args: &[&str]| kexpose_in(&dir, args);
    let expected = "specs/b.yaml:4:9: error[X005] APIRule shop/orders is also rendered by specs/a.yaml (document 1) (exposure-duplicate)";
    let check = kexpose(&["check", "--format", "concise"]);
    let stdout = String::from_utf8_lossy(&check.stdout);
    assert_eq!(check.status.code(), Some(1), "{stdout}");
    // The whole project is read from `.`, and files are named so.
    let whole = expected.replace("specs/", "./specs/");
    assert_eq!(stdout.lines().next(), Some(whole.as_str()), "{stdout}");
    let render = kexpose(&["render", "--color", "never"]);
    let stderr = String::from_utf8_lossy(&render.stderr);
    assert_eq!(render.status.code(), Some(1), "{stderr}");
    assert!(render.stdout.is_empty());
    assert!(
        stderr.contains("error[X005]: APIRule shop/orders is also rendered by specs/a.yaml (document 1)\n --> specs/b.yaml:4:9"),
        "{stderr}"
    );
    // One file staged: the later one is told, or the earlier one names it.
    let one = kexpose(&["check", "--format", "concise", "specs/b.yaml"]);
    assert_eq!(
        String::from_utf8_lossy(&one.stdout).lines().next(),
        Some(expected)
    );
    let other = kexpose(&["check", "--format", "concise", "specs/a.yaml"]);
    assert_eq!(
        String::from_utf8_lossy(&other.stdout).lines().next(),
        Some(
            "specs/a.yaml:4:9: error[X005] APIRule shop/orders is also rendered by specs/b.yaml (document 1) (exposure-duplicate)"
        )
    );
    assert_eq!(other.status.code(), Some(1));
    // Renamed, they are two APIRules, and both commands pass.
    std::fs::write(
        dir.join("specs/b.yaml"),
        spec("b.example.com").replace("name: orders\n", "name: orders-b\n"),
    )
    .unwrap();
    assert_eq!(kexpose(&["check"]).status.code(), Some(0));
    assert_eq!(kexpose(&["render"]).status.code(), Some(0));
}

/// Two APIRules of a project on one host (R011): `check` and `render`
/// report both places with upstream's wording; a staged APIRule is held
/// against the project's specs; a short host meets its FQDN through the
/// policy's one domain; different hosts pass.
#[test]
fn a_host_taken_twice_is_reported_at_both_places() {
    let dir = spec_project("occupied");
    std::fs::create_dir_all(dir.join("manifests")).unwrap();
    let spec = |name: &str, host: &str| {
        format!(
            "apiVersion: kexpose.dev/v1alpha1\nkind: Exposure\nmetadata:\n  name: {name}\n  namespace: shop\nspec:\n  service: {{name: {name}, port: 8080}}\n  host: {host}\n  routes:\n    - path: /status\n      methods: [GET]\n      public: true\n"
        )
    };
    std::fs::write(dir.join("specs/a.yaml"), spec("orders", "api.example.com")).unwrap();
    std::fs::write(dir.join("specs/b.yaml"), spec("billing", "api.example.com")).unwrap();
    let kexpose = |args: &[&str]| kexpose_in(&dir, args);
    let at_a = "specs/a.yaml:8:9: error[R011] Host is occupied by another Virtual Service: APIRule shop/billing in specs/b.yaml:8:9 exposes \"api.example.com\" too (host-occupied)";
    let at_b = "specs/b.yaml:8:9: error[R011] Host is occupied by another Virtual Service: APIRule shop/orders in specs/a.yaml:8:9 exposes \"api.example.com\" too (host-occupied)";
    let check = kexpose(&["check", "--format", "concise", "specs"]);
    let stdout = String::from_utf8_lossy(&check.stdout);
    assert_eq!(check.status.code(), Some(1), "{stdout}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[..2], [at_a, at_b], "{stdout}");
    let render = kexpose(&["render", "--color", "never", "specs"]);
    let stderr = String::from_utf8_lossy(&render.stderr);
    assert_eq!(render.status.code(), Some(1), "{stderr}");
    assert!(render.stdout.is_empty());
    for (file, other) in [("a", "billing"), ("b", "orders")] {
        assert!(
            stderr.contains(&format!("error[R011]: Host is occupied by another Virtual Service: APIRule shop/{other} in specs/")),
            "{stderr}"
        );
        assert!(
            stderr.contains(&format!(" --> specs/{file}.yaml:8:9")),
            "{stderr}"
        );
    }

    // A staged APIRule (not a spec) is held against the project's specs.
    std::fs::write(
        dir.join("specs/b.yaml"),
        spec("billing", "billing.example.com"),
    )
    .unwrap();
    let apirule = "apiVersion: gateway.kyma-project.io/v2\nkind: APIRule\nmetadata: {name: legacy, namespace: shop}\nspec:\n  hosts: [api]\n  service: {name: legacy, port: 8080}\n  gateway: kyma-system/kyma-gateway\n  rules:\n    - path: /legacy\n      methods: [GET]\n      noAuth: true\n";
    std::fs::write(dir.join("manifests/legacy.yaml"), apirule).unwrap();
    // Without a domain, the short host `api` is not known to be api.example.com.
    let staged = kexpose(&["check", "--format", "concise", "manifests/legacy.yaml"]);
    assert_eq!(
        staged.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&staged.stdout)
    );
    std::fs::write(
        dir.join("policy.yaml"),
        "apiVersion: kexpose.dev/v1alpha1\nkind: Policy\nmetadata: {name: org}\nspec:\n  hosts:\n    domains: [example.com]\n",
    )
    .unwrap();
    let staged = kexpose(&[
        "check",
        "--format",
        "concise",
        "--policy",
        "policy.yaml",
        "manifests/legacy.yaml",
    ]);
    let stdout = String::from_utf8_lossy(&staged.stdout);
    assert_eq!(staged.status.code(), Some(1), "{stdout}");
    assert_eq!(
        stdout.lines().next(),
        Some(
            "manifests/legacy.yaml:5:11: error[R011] Host is occupied by another Virtual Service: APIRule shop/orders in specs/a.yaml:8:9 exposes \"api\" too (host-occupied)"
        ),
        "{stdout}"
    );
    // Hosts of their own: nothing to report.
    std::fs::write(
        dir.join("specs/a.yaml"),
        spec("orders", "orders.example.com"),
    )
    .unwrap();
    let staged = kexpose(&["check", "--policy", "policy.yaml", "manifests/legacy.yaml"]);
    assert_eq!(
        staged.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&staged.stdout)
    );
    assert_eq!(kexpose(&["render", "specs"]).status.code(), Some(0));
}

/// A broken field of a shared issuer is one mistake: `check` and `render`
/// report it once, at its line in the Issuers document, naming the routes
/// that use it; a staged spec alone gets it at its own routes, naming the
/// definition, so the check hook never passes it.
#[test]
fn a_shared_issuers_broken_field_is_reported_once_where_it_is_written() {
    let dir = spec_project("shared-issuer");
    std::fs::write(
        dir.join("specs/issuers.yaml"),
        "apiVersion: kexpose.dev/v1alpha1\nkind: Issuers\nmetadata: {name: corporate}\nspec:\n  issuers:\n    ias:\n      issuer: https://tenant.accounts400.ondemand.com\n      jwksUri: /oauth2/certs\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("specs/orders.yaml"),
        "apiVersion: kexpose.dev/v1alpha1\nkind: Exposure\nmetadata: {name: orders, namespace: shop}\nspec:\n  service: {name: orders, port: 8080}\n  host: orders.example.com\n  routes:\n    - path: /orders\n      methods: [GET]\n      jwt: {issuer: ias}\n    - path: /admin\n      methods: [GET]\n      jwt: {issuer: ias}\n",
    )
    .unwrap();
    let kexpose = |args: &[&str]| kexpose_in(&dir, args);
    let lines = |out: &std::process::Output| -> Vec<String> {
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.contains("error["))
            .map(str::to_owned)
            .collect()
    };
    let message = "error[J011] jwksUri \"/oauth2/certs\" is not an absolute http(s) URL; Istio cannot fetch signing keys from it and rejects every token with 401";
    let once = format!(
        "specs/issuers.yaml:8:16: {message} (used by shop/orders route /orders at specs/orders.yaml:8:7, shop/orders route /admin at specs/orders.yaml:11:7) (jwt-jwks-uri-not-http)"
    );
    for args in [
        &["check", "--format", "concise", "specs"][..],
        &["check", "--format", "concise", "specs/issuers.yaml"],
    ] {
        let out = kexpose(args);
        assert_eq!(out.status.code(), Some(1));
        // The spec that depends on the changed Issuers file is named
        // `./specs/...` when it comes from the project, not the arguments.
        let got = lines(&out);
        assert_eq!(got.len(), 1, "{args:?}: {got:?}");
        assert_eq!(got[0].replace("./specs/", "specs/"), once, "{args:?}");
    }
    let staged = kexpose(&["check", "--format", "concise", "specs/orders.yaml"]);
    assert_eq!(staged.status.code(), Some(1));
    assert_eq!(
        lines(&staged),
        [8, 11].map(|line| format!(
            "specs/orders.yaml:{line}:7: {message} (issuer defined at specs/issuers.yaml:8:16) (jwt-jwks-uri-not-http)"
        ))
    );
    let render = kexpose(&["render", "--color", "never", "specs"]);
    let stderr = String::from_utf8_lossy(&render.stderr);
    assert_eq!(render.status.code(), Some(1));
    assert!(render.stdout.is_empty());
    assert_eq!(stderr.matches("error[J011]").count(), 1, "{stderr}");
    assert!(stderr.contains(" --> specs/issuers.yaml:8:16"), "{stderr}");
    assert!(stderr.contains("(used by shop/orders route /orders at specs/orders.yaml:8:7, shop/orders route /admin at specs/orders.yaml:11:7)"), "{stderr}");
}

/// A project whose `kexpose.yaml` reads its specs from `specs/`.
fn spec_project(name: &str) -> std::path::PathBuf {
    let dir = common::temp_dir(name);
    std::fs::write(
        dir.join("kexpose.yaml"),
        "apiVersion: kexpose.dev/v1alpha1\nkind: Config\nspecs: [specs/]\n",
    )
    .unwrap();
    std::fs::create_dir_all(dir.join("specs")).unwrap();
    dir
}

/// `kexpose ARGS` run in `dir`.
fn kexpose_in(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    common::kexpose()
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

/// `render` is the check run judging the specs alone: on every directory
/// of the repository that holds specs, the findings render reports about
/// each spec file are exactly the ones `check` reports about it, at the
/// same line and column with the same words, and a file without specs
/// gets none from render.
#[test]
fn render_reports_what_check_reports_about_every_spec() {
    use kexpose::apirule::Version;
    use kexpose::load;
    use kexpose::pipeline;
    use kexpose::policy::Policy;
    use kexpose::render::Options;
    use std::collections::BTreeSet;

    let mut dirs = BTreeSet::new();
    for base in ["examples", "tests/fixtures"] {
        let inputs = kexpose::source::expand(&[root().join(base)]).unwrap();
        for input in inputs {
            let kexpose::source::Input::File(path) = input else {
                continue;
            };
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            if text.contains("kind: Exposure") || text.contains("kind: Issuers") {
                dirs.insert(path.parent().unwrap().to_path_buf());
            }
        }
    }
    assert!(dirs.len() >= 15, "{dirs:?}");
    let policy = Policy::default();
    let (template, lock) = (Default::default(), Default::default());
    let settings = load::Settings::new(&policy, &template, &lock);
    let findings = |c: &kexpose::report::Checked| -> Vec<String> {
        c.report
            .diagnostics
            .iter()
            .map(|d| {
                format!(
                    "{}:{}:{} {} {}",
                    d.file, d.line, d.column, d.code, d.message
                )
            })
            .collect()
    };
    let mut compared = 0;
    for dir in &dirs {
        let inputs = kexpose::source::expand(std::slice::from_ref(dir)).unwrap();
        let files = load::read(&inputs, &settings);
        let checked = pipeline::check_files(&files, &[], &policy);
        let rendered = pipeline::render(
            &files,
            &Options {
                version: Version::V2,
                policy: &policy,
                source_root: None,
            },
        );
        for ((file, c), r) in files.iter().zip(&checked).zip(&rendered.reports) {
            let only_specs = file
                .sound()
                .all(|(_, d)| kexpose::spec::Kind::of(&d.value).is_some());
            if file.holds_specs() && only_specs {
                assert_eq!(findings(r), findings(c), "{}", file.name);
                compared += 1;
            } else if !file.holds_specs() && file.was_read() {
                assert_eq!(findings(r), Vec::<String>::new(), "{}", file.name);
            }
        }
    }
    assert!(compared >= 20, "{compared} spec files compared");
}
