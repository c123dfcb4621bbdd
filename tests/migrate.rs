//! `kexpose migrate`: golden migrations for every mapping (the seed's
//! v1beta1 APIRule included), every partial case with its exact
//! diagnostics, `--allow-partial`, `--write`, and everything migrate prints
//! passing `check` (so `kexpose migrate f.yaml | kubectl apply -f -` never
//! applies a broken object).
//!
//! `KEXPOSE_BLESS=1 cargo test --test migrate` rewrites the golden files.

mod common;

use common::{root, run};

/// Every golden case: its directory and what `migrate` with its args did.
fn cases() -> Vec<(std::path::PathBuf, std::process::Output)> {
    let mut cases = Vec::new();
    for entry in std::fs::read_dir(root().join("tests/fixtures/migrate")).unwrap() {
        let dir = entry.unwrap().path();
        let args: Vec<String> = std::fs::read_to_string(dir.join("args"))
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect();
        let mut argv = vec!["migrate"];
        argv.extend(args.iter().map(String::as_str));
        let out = run(&argv);
        cases.push((dir, out));
    }
    cases
}

#[test]
fn golden_migrations() {
    let mut failures = Vec::new();
    let mut cases_run = 0;
    for (dir, out) in cases() {
        let stdout = String::from_utf8(out.stdout).unwrap();
        let stderr = String::from_utf8(out.stderr).unwrap();
        // Anything not migrated exactly is an error, and the exit code says so.
        let want = if stderr.contains("error[") { 1 } else { 0 };
        if out.status.code() != Some(want) {
            failures.push(format!(
                "{}: exit {:?}, want {want}",
                dir.display(),
                out.status.code()
            ));
        }
        failures.extend(common::golden(&dir.join("expected.yaml"), &stdout));
        failures.extend(common::golden(&dir.join("expected.stderr"), &stderr));
        cases_run += 1;
    }
    assert!(cases_run >= 8, "golden cases went missing");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Whatever `migrate` prints, in every golden case (partial, withheld,
/// `--allow-partial` included), passes `check` with no error.
#[test]
fn everything_printed_passes_check() {
    let mut printed = 0;
    for (dir, out) in cases() {
        if out.stdout.is_empty() {
            continue;
        }
        printed += 1;
        let checked = common::run_stdin(&["check", "--format", "json", "-"], &out.stdout);
        let v = common::json(&checked);
        assert!(checked.status.success(), "{}: {v}", dir.display());
        assert_eq!(v["summary"]["errors"], 0, "{}: {v}", dir.display());
    }
    assert!(printed >= 6, "cases that print went missing");
}

/// The seed's own sample cannot be migrated (no issuer): nothing is
/// printed, not even with --allow-partial, since `rules: []` is rejected.
#[test]
fn the_seed_sample_is_withheld_and_says_why() {
    for extra in [&[][..], &["--allow-partial"][..]] {
        let mut argv = vec!["migrate", "tests/fixtures/migrate/seed/input.yaml"];
        argv.extend_from_slice(extra);
        let out = run(&argv);
        assert_eq!(out.status.code(), Some(1));
        assert!(out.stdout.is_empty(), "{extra:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("APIRule default/httpbin was not printed"),
            "{stderr}"
        );
    }
}

/// Complete migrations pass `check` under the default policy.
#[test]
fn complete_migrations_pass_check() {
    for case in ["istio-style", "gateways", "mutators-cors", "kubectl-get"] {
        let out = run(&[
            "migrate",
            &format!("tests/fixtures/migrate/{case}/input.yaml"),
        ]);
        assert!(out.status.success(), "{case}");
        let checked = common::run_stdin(&["check", "--format", "json", "-"], &out.stdout);
        let v = common::json(&checked);
        assert!(checked.status.success(), "{case}: {v}");
        assert_eq!(v["diagnostics"].as_array().unwrap().len(), 0, "{case}: {v}");
    }
}

#[test]
fn write_rewrites_in_place_and_keeps_everything_else() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("kexpose-migrate-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mixed = dir.join("mixed.yaml");
    std::fs::copy(
        root().join("tests/fixtures/migrate/gateways/input.yaml"),
        &mixed,
    )
    .unwrap();
    let partial = dir.join("partial.yaml");
    std::fs::copy(
        root().join("tests/fixtures/migrate/partial/input.yaml"),
        &partial,
    )
    .unwrap();
    let before_partial = std::fs::read(&partial).unwrap();

    let out = run(&["migrate", "--write", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "the partial file fails the run");
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("left unchanged"));
    assert_eq!(
        std::fs::read(&partial).unwrap(),
        before_partial,
        "partial files stay as they were"
    );

    let text = std::fs::read_to_string(&mixed).unwrap();
    assert!(
        text.starts_with("# Legacy gateway names"),
        "leading comment kept:\n{text}"
    );
    assert!(text.contains("---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: untouched}\ndata: {key: value}\n---\n"), "{text}");
    assert_eq!(
        text.matches("apiVersion: gateway.kyma-project.io/v2")
            .count(),
        3
    );
    assert!(!text.contains("v1beta1"));
    let order: Vec<usize> = ["name: a", "name: untouched", "name: b", "name: c"]
        .iter()
        .map(|n| text.find(n).unwrap())
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "document order kept");
    // A second run finds nothing left to migrate.
    let again = run(&["migrate", "--write", mixed.to_str().unwrap()]);
    assert!(again.status.success());
    assert_eq!(std::fs::read_to_string(&mixed).unwrap(), text);
    assert!(String::from_utf8_lossy(&again.stderr).contains("no APIRule v1beta1 found"));
    std::fs::remove_dir_all(dir).unwrap();
}

/// Regression: a v1beta1 file that does not parse (a duplicate key, Helm
/// syntax written as `{ { include ... } }`) made migrate say "no APIRule
/// v1beta1 found" and exit 0. It is reported at its line and column, exits
/// 1, and `--write` leaves it byte for byte as it was, partial or not.
#[test]
fn unreadable_input_is_reported_and_never_rewritten() {
    let dir = common::temp_dir("migrate-unreadable");
    for case in ["duplicate-key", "helm-braces"] {
        let source = root().join(format!("tests/fixtures/migrate/{case}/input.yaml"));
        let before = std::fs::read(&source).unwrap();
        let file = dir.join(format!("{case}.yaml"));
        std::fs::write(&file, &before).unwrap();
        for extra in [&[][..], &["--allow-partial"][..]] {
            let mut argv = vec!["migrate", "--write", file.to_str().unwrap()];
            argv.extend_from_slice(extra);
            let out = run(&argv);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{case}: {stderr}");
            assert!(!stderr.contains("no APIRule v1beta1 found"), "{stderr}");
            assert_eq!(std::fs::read(&file).unwrap(), before, "{case} {extra:?}");
        }
    }
}
