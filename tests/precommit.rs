//! The shipped `.pre-commit-hooks.yaml`, driven by the real pre-commit
//! (from PyPI) in a temporary git repository.
//!
//! The `-system` hooks are exercised end to end with the kexpose under test
//! on PATH; the `language: rust` hooks share their entry and file selection,
//! which a test checks (installing them means a release build from source).

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{git, root, tool};
use kexpose::yaml::{Limits, load};

struct Repo {
    dir: PathBuf,
    pre_commit: PathBuf,
}

impl Drop for Repo {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A work repository whose `.pre-commit-config.yaml` uses the shipped hooks
/// manifest from a second repository, as users reference kexpose's.
fn repo(name: &str, hooks: &str) -> Repo {
    let base = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("kexpose-pre-commit-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let hooks_repo = base.join("hooks");
    std::fs::create_dir_all(&hooks_repo).unwrap();
    git(&hooks_repo, &["init", "-q"]);
    std::fs::copy(
        root().join(".pre-commit-hooks.yaml"),
        hooks_repo.join(".pre-commit-hooks.yaml"),
    )
    .unwrap();
    git(&hooks_repo, &["add", "."]);
    git(&hooks_repo, &["commit", "-q", "-m", "hooks"]);
    let rev = git(&hooks_repo, &["rev-parse", "HEAD"]).trim().to_owned();

    let dir = base.join("work");
    std::fs::create_dir_all(&dir).unwrap();
    git(&dir, &["init", "-q"]);
    std::fs::write(
        dir.join(".pre-commit-config.yaml"),
        format!(
            "repos:\n  - repo: {}\n    rev: {rev}\n    hooks:\n{hooks}",
            hooks_repo.display()
        ),
    )
    .unwrap();
    Repo {
        dir,
        pre_commit: tool("pre-commit"),
    }
}

impl Repo {
    fn run(&self, program: &Path, args: &[&str]) -> Output {
        let bin = Path::new(env!("CARGO_BIN_EXE_kexpose")).parent().unwrap();
        let path = format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        std::process::Command::new(program)
            .current_dir(&self.dir)
            .args(args)
            .env("PATH", path)
            .env(
                "PRE_COMMIT_HOME",
                Path::new(env!("CARGO_TARGET_TMPDIR")).join("pre-commit-home"),
            )
            .env("GIT_AUTHOR_NAME", "kexpose")
            .env("GIT_AUTHOR_EMAIL", "kexpose@example.com")
            .env("GIT_COMMITTER_NAME", "kexpose")
            .env("GIT_COMMITTER_EMAIL", "kexpose@example.com")
            .env_remove("NO_COLOR")
            .output()
            .unwrap()
    }

    fn pre_commit(&self, args: &[&str]) -> (i32, String) {
        let out = self.run(&self.pre_commit, args);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code().unwrap_or(-1), text)
    }

    fn copy(&self, from: &str, to: &str) {
        let target = self.dir.join(to);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(root().join(from), target).unwrap();
    }
}

#[test]
fn check_hook_passes_valid_and_fails_invalid_apirules_at_line_and_column() {
    let r = repo("check", "      - id: kexpose-check-system\n");
    r.copy("examples/apirules/httpbin-jwt.yaml", "apirules/good.yaml");
    r.copy("examples/invalid/broken-jwt.yaml", "apirules/bad.yaml");
    std::fs::write(r.dir.join("notes.md"), "not YAML, not selected\n").unwrap();
    git(&r.dir, &["add", "."]);

    let (code, out) = r.pre_commit(&[
        "run",
        "kexpose-check-system",
        "--files",
        "apirules/good.yaml",
        "notes.md",
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Passed"), "{out}");

    let (code, out) = r.pre_commit(&["run", "kexpose-check-system", "--all-files"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("Failed"), "{out}");
    assert!(
        out.contains("apirules/bad.yaml:24:22: error[J003] value is empty or not a valid uri"),
        "{out}"
    );
    assert!(!out.contains("good.yaml:"), "{out}");

    // As a git hook: the commit with the broken APIRule is refused.
    let (code, out) = r.pre_commit(&["install"]);
    assert_eq!(code, 0, "{out}");
    let commit = r.run(Path::new("git"), &["commit", "-q", "-m", "add apirules"]);
    assert!(!commit.status.success());
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&commit.stdout),
        String::from_utf8_lossy(&commit.stderr)
    );
    assert!(
        said.contains("apirules/bad.yaml:24:22: error[J003]"),
        "{said}"
    );
    git(&r.dir, &["rm", "-q", "--cached", "apirules/bad.yaml"]);
    let commit = r.run(
        Path::new("git"),
        &["commit", "-q", "-m", "add the good one"],
    );
    assert!(
        commit.status.success(),
        "{}",
        String::from_utf8_lossy(&commit.stdout)
    );
}

/// The fix hook on one staged file: it repairs the file, keeps its
/// comments, fails because it changed it (as formatters do), and passes
/// once the fixed file is staged. Other files are never written.
#[test]
fn fix_hook_repairs_the_staged_file_and_fails_until_it_is_restaged() {
    let r = repo("fix", "      - id: kexpose-fix-system\n");
    r.copy(
        "tests/fixtures/fix/comments/input.yaml",
        "apirules/orders.yaml",
    );
    r.copy("examples/invalid/broken-jwt.yaml", "apirules/other.yaml");
    git(&r.dir, &["add", "."]);
    let untouched = std::fs::read(r.dir.join("apirules/other.yaml")).unwrap();
    let fix_orders = || {
        r.pre_commit(&[
            "run",
            "kexpose-fix-system",
            "--files",
            "apirules/orders.yaml",
        ])
    };

    let (code, out) = fix_orders();
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("files were modified by this hook"), "{out}");
    assert!(
        out.contains("kexpose: fixed 5 findings in apirules/orders.yaml"),
        "{out}"
    );
    assert_eq!(
        std::fs::read_to_string(r.dir.join("apirules/orders.yaml")).unwrap(),
        std::fs::read_to_string(root().join("tests/fixtures/fix/comments/expected.yaml")).unwrap()
    );
    assert_eq!(
        std::fs::read(r.dir.join("apirules/other.yaml")).unwrap(),
        untouched
    );

    // Staged again, nothing is left to fix; what remains is reported (two
    // hosts where v2 takes one, and the unsafe J012), and nothing changes.
    git(&r.dir, &["add", "apirules/orders.yaml"]);
    let (code, out) = fix_orders();
    assert_eq!(code, 1, "{out}");
    assert!(!out.contains("files were modified"), "{out}");
    assert!(!out.contains("kexpose: fixed"), "{out}");
    assert!(
        out.contains("apirules/orders.yaml:10:5: error[S005]"),
        "{out}"
    );
    assert!(out.contains("warning[J012]"), "{out}");
    let status = git(&r.dir, &["status", "--porcelain"]);
    assert!(!status.contains(" M "), "{status}");
}

#[test]
fn drift_hook_fails_when_rendered_files_are_stale_and_prints_the_diff() {
    let r = repo(
        "drift",
        "      - id: kexpose-render-drift-system\n        args: [specs, --values, env/prod.yaml, --out-dir, deploy]\n",
    );
    r.copy("examples/exposures/httpbin.yaml", "specs/httpbin.yaml");
    r.copy("examples/exposures/issuers.yaml", "specs/issuers.yaml");
    r.copy("examples/env/prod.yaml", "env/prod.yaml");
    let render = r.run(
        Path::new(env!("CARGO_BIN_EXE_kexpose")),
        &[
            "render",
            "specs",
            "--values",
            "env/prod.yaml",
            "--out-dir",
            "deploy",
        ],
    );
    assert!(render.status.success());
    git(&r.dir, &["add", "."]);

    let (code, out) = r.pre_commit(&["run", "kexpose-render-drift-system", "--all-files"]);
    assert_eq!(code, 0, "{out}");

    // Someone edits the spec and forgets to render.
    let spec = r.dir.join("specs/httpbin.yaml");
    let text = std::fs::read_to_string(&spec).unwrap();
    std::fs::write(&spec, text.replace("port: 8000", "port: 8080")).unwrap();
    git(&r.dir, &["add", "."]);
    let (code, out) = r.pre_commit(&["run", "kexpose-render-drift-system", "--all-files"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("-    port: 8000\n+    port: 8080"), "{out}");
    assert!(out.contains("differ from a fresh render"), "{out}");
}

#[test]
fn lock_hook_fails_when_a_spec_names_an_issuer_the_lock_lacks() {
    let r = repo(
        "lock",
        "      - id: kexpose-lock-check-system\n        args: [specs, --values, env/prod.yaml]\n",
    );
    r.copy("examples/exposures/httpbin.yaml", "specs/httpbin.yaml");
    r.copy("examples/exposures/issuers.yaml", "specs/issuers.yaml");
    r.copy("examples/env/prod.yaml", "env/prod.yaml");
    // examples/env/prod.yaml names the tenant `kexpose`.
    std::fs::write(
        r.dir.join("kexpose.lock"),
        "apiVersion: kexpose.dev/v1alpha1\nkind: Lock\nissuers:\n  https://kexpose.accounts400.ondemand.com:\n    jwksUri: https://kexpose.accounts400.ondemand.com/oauth2/certs\n    keyIds: [k1]\n    fetchedAt: 2026-11-30T09:00:00Z\n",
    )
    .unwrap();
    git(&r.dir, &["add", "."]);
    let (code, out) = r.pre_commit(&["run", "kexpose-lock-check-system", "--all-files"]);
    assert_eq!(code, 0, "{out}");

    // Someone points the specs at another tenant and forgets `kexpose lock`.
    let prod = r.dir.join("env/prod.yaml");
    let text = std::fs::read_to_string(&prod).unwrap();
    std::fs::write(&prod, text.replace("tenant: kexpose", "tenant: other")).unwrap();
    git(&r.dir, &["add", "."]);
    let (code, out) = r.pre_commit(&["run", "kexpose-lock-check-system", "--all-files"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("https://other.accounts400.ondemand.com: named in specs/issuers.yaml (ias) but not locked"),
        "{out}"
    );
    assert!(
        out.contains("https://kexpose.accounts400.ondemand.com: locked but no spec names it"),
        "{out}"
    );
}

#[test]
fn rust_and_system_hooks_agree() {
    let text = std::fs::read_to_string(root().join(".pre-commit-hooks.yaml")).unwrap();
    let hooks = load(&text, Limits::default())
        .documents
        .remove(0)
        .unwrap()
        .value;
    let hooks = hooks.as_array().unwrap();
    for id in [
        "kexpose-check",
        "kexpose-render-drift",
        "kexpose-lock-check",
    ] {
        let find = |id: &str| hooks.iter().find(|h| h["id"] == id).unwrap().clone();
        let mut rust = find(id);
        let mut system = find(&format!("{id}-system"));
        assert_eq!(rust["language"], "rust");
        assert_eq!(system["language"], "system");
        for h in [&mut rust, &mut system] {
            let m = h.as_object_mut().unwrap();
            for k in ["id", "language", "description"] {
                m.remove(k);
            }
        }
        assert_eq!(rust, system, "{id}");
    }
    let check = hooks.iter().find(|h| h["id"] == "kexpose-check").unwrap();
    assert_eq!(
        check["require_serial"], true,
        "issuers are shared across files"
    );
}

/// A project started with `kexpose init` (its own `repo: local` hooks,
/// kexpose.yaml, an exposure, an Issuers document, values, the first
/// render), committed once.
fn init_repo(name: &str) -> Repo {
    let base = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("kexpose-pre-commit-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let dir = base.join("work");
    std::fs::create_dir_all(&dir).unwrap();
    git(&dir, &["init", "-q"]);
    let r = Repo {
        dir,
        pre_commit: tool("pre-commit"),
    };
    let init = r.run(Path::new(env!("CARGO_BIN_EXE_kexpose")), &["init"]);
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    git(&r.dir, &["add", "."]);
    git(&r.dir, &["commit", "-q", "-m", "init"]);
    r
}

impl Repo {
    fn edit(&self, file: &str, from: &str, to: &str) {
        let path = self.dir.join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{file} lacks {from:?}");
        std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    }

    /// `pre-commit run` as a commit runs it: on the staged files only.
    fn staged(&self, files: &[&str]) -> (i32, String) {
        let mut args = vec!["add"];
        args.extend_from_slice(files);
        git(&self.dir, &args);
        self.pre_commit(&["run"])
    }
}

#[test]
fn init_then_pre_commit_passes_with_no_flags() {
    let r = init_repo("init");
    for file in [
        "kexpose.yaml",
        "exposures/httpbin.yaml",
        "exposures/issuers.yaml",
        "env/dev.yaml",
        "access-tests/httpbin.yaml",
        ".pre-commit-config.yaml",
        "deploy/dev/dev.httpbin.yaml",
    ] {
        assert!(r.dir.join(file).is_file(), "init wrote {file}");
    }
    let (code, out) = r.pre_commit(&["run", "--all-files"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out.matches("Passed").count(), 4, "{out}");
    // A second init replaces nothing.
    std::fs::write(r.dir.join("env/dev.yaml"), "namespace: mine\n").unwrap();
    let again = r.run(Path::new(env!("CARGO_BIN_EXE_kexpose")), &["init"]);
    assert!(again.status.success());
    assert_eq!(
        std::fs::read_to_string(r.dir.join("env/dev.yaml")).unwrap(),
        "namespace: mine\n"
    );
    assert!(String::from_utf8_lossy(&again.stderr).contains("kept the existing ./env/dev.yaml"));
}

/// A spec change that still checks and renders, but no longer does what
/// the project's AccessTest expects, is stopped at commit, at the case.
#[test]
fn test_hook_stops_a_commit_that_breaks_an_access_expectation() {
    let r = init_repo("access");
    r.edit(
        "exposures/httpbin.yaml",
        "      public: true\n",
        "      jwt:\n        issuer: idp\n",
    );
    let render = r.run(
        Path::new(env!("CARGO_BIN_EXE_kexpose")),
        &["render", "--out-dir"],
    );
    assert!(
        render.status.success(),
        "{}",
        String::from_utf8_lossy(&render.stderr)
    );
    let (code, out) = r.staged(&["exposures/httpbin.yaml", "deploy/dev/dev.httpbin.yaml"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("kexpose check") && out.contains("Passed"),
        "{out}"
    );
    assert!(
        out.contains("access-tests/httpbin.yaml:25:15: error[A001] GET https://httpbin.dev.example.com/status/200 expects 200, gets 403 RBAC: access denied"),
        "{out}"
    );
    // The reasons point into the spec the commit changed.
    assert!(out.contains("(./exposures/httpbin.yaml:"), "{out}");
    // Expecting what the exposure now does lets the commit through.
    r.edit("access-tests/httpbin.yaml", "    - name: the status pages are public\n      request: GET https://httpbin.dev.example.com/status/200\n      expect: 200", "    - name: the status pages need a token now\n      request: GET https://httpbin.dev.example.com/status/200\n      expect: 403");
    let (code, out) = r.staged(&["access-tests/httpbin.yaml"]);
    assert_eq!(code, 0, "{out}");
}

/// The daily loop: commits that stage one file at a time. The staged spec
/// resolves its issuer and values from the project, not from what is staged.
#[test]
fn staged_subsets_are_checked_against_the_whole_project() {
    let r = init_repo("subset");

    // One valid spec changed (a comment): the Issuers document and the
    // values are not staged, and the commit passes.
    r.edit(
        "exposures/httpbin.yaml",
        "# httpbin on port 8000",
        "# httpbin, port 8000",
    );
    let (code, out) = r.staged(&["exposures/httpbin.yaml"]);
    assert_eq!(code, 0, "{out}");
    git(&r.dir, &["commit", "-q", "-m", "comment"]);

    // A broken spec fails at its line and column.
    r.edit("exposures/httpbin.yaml", "issuer: idp", "issuer: ipd");
    let (code, out) = r.staged(&["exposures/httpbin.yaml"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("exposures/httpbin.yaml:17:17: error[X001] unknown issuer \"ipd\" (known issuers: idp) (exposure-issuer-unknown)"),
        "{out}"
    );
    r.edit("exposures/httpbin.yaml", "issuer: ipd", "issuer: idp");
    git(&r.dir, &["add", "exposures/httpbin.yaml"]);

    // Renaming the issuer in the Issuers document breaks the spec that was
    // not touched: staging the Issuers document alone fails, at the spec.
    r.edit("exposures/issuers.yaml", "    idp:", "    corporate:");
    let (code, out) = r.staged(&["exposures/issuers.yaml"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("exposures/httpbin.yaml:17:17: error[X001] unknown issuer \"idp\" (known issuers: corporate)"),
        "{out}"
    );
    r.edit("exposures/issuers.yaml", "    corporate:", "    idp:");
    git(&r.dir, &["add", "exposures/issuers.yaml"]);

    // A spec changed without rendering: the drift hook says the whole
    // command that fixes it, which then works as printed.
    r.edit("exposures/httpbin.yaml", "port: 8000", "port: 8080");
    let (code, out) = r.staged(&["exposures/httpbin.yaml"]);
    assert_eq!(code, 1, "{out}");
    let hint = "run `kexpose render --env dev --out-dir deploy/dev`";
    assert!(out.contains(hint), "{out}");
    let fix = r.run(
        Path::new(env!("CARGO_BIN_EXE_kexpose")),
        &["render", "--env", "dev", "--out-dir", "deploy/dev"],
    );
    assert!(
        fix.status.success(),
        "{}",
        String::from_utf8_lossy(&fix.stderr)
    );
    let (code, out) = r.staged(&["exposures/httpbin.yaml", "deploy/dev/dev.httpbin.yaml"]);
    assert_eq!(code, 0, "{out}");
}

/// Without a lock the lock check passes as long as every issuer sets its
/// jwksUri, and otherwise names the issuers and the command that locks them.
#[test]
fn lock_check_asks_for_a_lock_only_when_discovery_is_needed() {
    let r = init_repo("lock-needed");
    assert!(!r.dir.join("kexpose.lock").exists());
    r.edit(
        "exposures/issuers.yaml",
        "      jwksUri: https://{{ values.tenant }}.accounts.example.com/oauth2/certs\n",
        "",
    );
    let (code, out) = r.staged(&["exposures/issuers.yaml"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("kexpose: kexpose.lock is missing, and 1 issuer(s) set no jwksUri:\n  https://my-tenant.accounts.example.com in exposures/issuers.yaml (idp)\nkexpose: set their jwksUri, or record discovery with `kexpose lock --env dev`"),
        "{out}"
    );
}

/// `kexpose init`, then a second environment, prod, rendered and committed.
fn two_environment_repo(name: &str) -> Repo {
    let r = init_repo(name);
    r.edit(
        "kexpose.yaml",
        "  dev: {values: [env/dev.yaml], outDir: deploy/dev}\n",
        "  dev: {values: [env/dev.yaml], outDir: deploy/dev}\n  prod: {values: [env/prod.yaml], outDir: deploy/prod}\n",
    );
    std::fs::write(
        r.dir.join("env/prod.yaml"),
        "namespace: prod\ndomain: prod.example.com\ntenant: my-tenant\n",
    )
    .unwrap();
    let render = r.run(
        Path::new(env!("CARGO_BIN_EXE_kexpose")),
        &["render", "--env", "prod", "--out-dir"],
    );
    assert!(
        render.status.success(),
        "{}",
        String::from_utf8_lossy(&render.stderr)
    );
    git(&r.dir, &["add", "."]);
    git(&r.dir, &["commit", "-q", "-m", "prod"]);
    r
}

/// Regression: with kexpose.yaml in the working directory (how pre-commit
/// runs), `exclude` was ignored, and an excluded Helm chart's broken
/// APIRule failed the commit, named on the command line or not.
#[test]
fn excluded_files_are_never_read_from_the_repository_root() {
    let r = init_repo("exclude");
    let chart = r.dir.join("charts/web/templates");
    std::fs::create_dir_all(&chart).unwrap();
    std::fs::write(
        chart.join("apirule.yaml"),
        "apiVersion: gateway.kyma-project.io/v2\nkind: APIRule\nmetadata: {name: a, namespace: b}\nspec:\n  hosts: [Not_A_Host]\n",
    )
    .unwrap();
    let (code, out) = r.staged(&["charts/web/templates/apirule.yaml"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        !out.contains("Not_A_Host") && !out.contains("S006"),
        "{out}"
    );
    let (code, out) = r.pre_commit(&["run", "--all-files"]);
    assert_eq!(code, 0, "{out}");
    // Named on the command line, it is still not read.
    let named = r.run(
        Path::new(env!("CARGO_BIN_EXE_kexpose")),
        &["check", "charts/web/templates/apirule.yaml"],
    );
    let stderr = String::from_utf8_lossy(&named.stderr);
    assert_eq!(named.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("nothing to check"), "{stderr}");
    // The same file outside the excluded folder fails the commit.
    std::fs::copy(chart.join("apirule.yaml"), r.dir.join("apirule.yaml")).unwrap();
    let (code, out) = r.staged(&["apirule.yaml"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("\napirule.yaml:5:11: error[S006]"), "{out}");
}

/// Regression: the drift hook compared only the default environment, so a
/// change re-rendered for dev alone let a stale deploy/prod through.
#[test]
fn drift_hook_checks_every_environment() {
    let r = two_environment_repo("drift-envs");
    let (code, out) = r.pre_commit(&["run", "kexpose-render-drift", "--all-files"]);
    assert_eq!(code, 0, "{out}");
    r.edit("exposures/httpbin.yaml", "port: 8000", "port: 8080");
    let render = r.run(
        Path::new(env!("CARGO_BIN_EXE_kexpose")),
        &["render", "--out-dir"],
    );
    assert!(render.status.success());
    let (code, out) = r.staged(&["exposures/httpbin.yaml", "deploy/dev/dev.httpbin.yaml"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("b/deploy/prod/prod.httpbin.yaml"), "{out}");
    assert!(!out.contains("b/deploy/dev/"), "{out}");
    assert!(
        out.contains("1 file(s) in deploy/prod differ from a fresh render; run `kexpose render --env prod --out-dir deploy/prod`"),
        "{out}"
    );
    // Rendering prod too lets the commit through.
    let render = r.run(
        Path::new(env!("CARGO_BIN_EXE_kexpose")),
        &["render", "--env", "prod", "--out-dir"],
    );
    assert!(render.status.success());
    let (code, out) = r.staged(&["deploy/prod/prod.httpbin.yaml"]);
    assert_eq!(code, 0, "{out}");
    // An environment whose output is not in the repository is said skipped.
    r.edit(
        "kexpose.yaml",
        "  prod: {values: [env/prod.yaml], outDir: deploy/prod}\n",
        "  prod: {values: [env/prod.yaml], outDir: deploy/prod}\n  stage: {values: [env/prod.yaml], outDir: deploy/stage}\n",
    );
    let (code, out) = r.staged(&["kexpose.yaml"]);
    assert_eq!(code, 0, "{out}");
    let drift = r.run(
        Path::new(env!("CARGO_BIN_EXE_kexpose")),
        &["render", "--check"],
    );
    let stderr = String::from_utf8_lossy(&drift.stderr);
    assert_eq!(drift.status.code(), Some(0), "{stderr}");
    assert_eq!(
        stderr,
        "kexpose: environment stage skipped: its outDir deploy/stage is not in the project\n"
    );
}

/// `kexpose test --env prod` runs against prod's APIRules only: an
/// AccessTest written for dev's host fails there (regression: it passed
/// against deploy/dev).
#[test]
fn access_tests_of_one_environment_never_see_another() {
    let r = two_environment_repo("test-env");
    let (code, out) = r.pre_commit(&["run", "kexpose-test", "--all-files"]);
    assert_eq!(code, 0, "{out}");
    let prod = r.run(
        Path::new(env!("CARGO_BIN_EXE_kexpose")),
        &["test", "--env", "prod", "--format", "concise"],
    );
    let stdout = String::from_utf8_lossy(&prod.stdout);
    assert_eq!(prod.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("access-tests/httpbin.yaml:25:15: error[A001] GET https://httpbin.dev.example.com/status/200 expects 200, gets 404: no APIRule exposes host httpbin.dev.example.com: the gateway has no route for it (exposed: httpbin.prod.example.com)"),
        "{stdout}"
    );
    // explain for prod does not answer from dev's rendered output either.
    let explain = r.run(
        Path::new(env!("CARGO_BIN_EXE_kexpose")),
        &[
            "explain",
            "--env",
            "prod",
            "--request",
            "GET https://httpbin.dev.example.com/status/200",
        ],
    );
    let stdout = String::from_utf8_lossy(&explain.stdout);
    assert!(stdout.starts_with("404"), "{stdout}");
}
