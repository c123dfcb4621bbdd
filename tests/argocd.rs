//! The Argo CD config management plugin, run exactly as the CMP server runs
//! it: in a fresh copy of the application directory, with the
//! Application's environment, stdout split into manifests.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use kexpose::yaml::{Limits, load};
use serde_json::Value;

/// A fresh copy of `examples/argocd/app` (the CMP server unpacks the
/// repository into a new temporary directory for every request).
fn app(name: &str) -> PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("kexpose-cmp-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    copy(&common::root().join("examples/argocd/app"), &dir);
    dir
}

fn copy(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn cmp(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_kexpose"));
    c.current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs([
            ("ARGOCD_APP_NAME", "httpbin"),
            ("ARGOCD_APP_NAMESPACE", "web"),
            ("ARGOCD_APP_PROJECT_NAME", "default"),
            (
                "ARGOCD_APP_REVISION",
                "0123456789abcdef0123456789abcdef01234567",
            ),
            ("ARGOCD_APP_SOURCE_PATH", "apps/httpbin"),
            (
                "ARGOCD_APP_SOURCE_REPO_URL",
                "https://git.example.com/platform.git",
            ),
            ("ARGOCD_APP_SOURCE_TARGET_REVISION", "main"),
            ("KUBE_VERSION", "1.37.0"),
        ])
        .envs(env.iter().copied())
        .args(args);
    c.output().unwrap()
}

/// Splits stdout as Argo CD does (documents separated by `---`) and loads each.
fn manifests(out: &Output) -> Vec<Value> {
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    text.split("\n---\n").flat_map(common::documents).collect()
}

fn kinds(docs: &[Value]) -> Vec<String> {
    docs.iter()
        .map(|d| {
            format!(
                "{}/{}",
                d["kind"].as_str().unwrap(),
                d["metadata"]["name"].as_str().unwrap()
            )
        })
        .collect()
}

const PROD: &str = r#"[{"name":"values-files","array":["env/prod.yaml"]}]"#;

/// `argocd generate` with the prod values file, as the application sets it.
fn generate_prod(dir: &Path) -> Output {
    cmp(
        dir,
        &["argocd", "generate"],
        &[("ARGOCD_APP_PARAMETERS", PROD)],
    )
}

#[test]
fn generate_renders_specs_and_passes_manifests_through() {
    let dir = app("generate");
    let out = generate_prod(&dir);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let docs = manifests(&out);
    assert_eq!(
        kinds(&docs),
        ["APIRule/httpbin", "Deployment/httpbin", "Service/httpbin"]
    );
    let apirule = &docs[0];
    assert_eq!(
        apirule["metadata"]["namespace"], "web",
        "ARGOCD_APP_NAMESPACE reaches templates"
    );
    assert_eq!(
        apirule["metadata"]["labels"]["app.kubernetes.io/part-of"],
        "httpbin"
    );
    assert_eq!(
        apirule["spec"]["hosts"][0], "httpbin.example.com",
        "the selected values file applies"
    );

    // The same selection through the flattened PARAM_* variables.
    let flat = cmp(
        &dir,
        &["argocd", "generate"],
        &[("PARAM_VALUES_FILES_0", "env/prod.yaml")],
    );
    assert_eq!(flat.stdout, out.stdout);
    // Deterministic: a second run prints the same bytes.
    assert_eq!(generate_prod(&dir).stdout, out.stdout);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn generate_fills_jwks_uri_from_the_applications_lock() {
    let dir = app("lock");
    let spec = dir.join("httpbin.yaml");
    let text = std::fs::read_to_string(&spec).unwrap();
    let without: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("jwksUri:"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&spec, without).unwrap();
    let env = [("ARGOCD_APP_PARAMETERS", PROD)];
    let unlocked = cmp(&dir, &["argocd", "generate"], &env);
    assert_eq!(unlocked.status.code(), Some(1));
    assert!(unlocked.stdout.is_empty());

    std::fs::write(
        dir.join("kexpose.lock"),
        "apiVersion: kexpose.dev/v1alpha1\nkind: Lock\nissuers:\n  https://kexpose.accounts400.ondemand.com:\n    jwksUri: https://kexpose.accounts400.ondemand.com/locked/certs\n    keyIds: [k1]\n    fetchedAt: 2026-11-30T09:00:00Z\n",
    )
    .unwrap();
    let out = cmp(&dir, &["argocd", "generate"], &env);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let docs = manifests(&out);
    assert_eq!(
        kinds(&docs),
        ["APIRule/httpbin", "Deployment/httpbin", "Service/httpbin"],
        "the lock is not a manifest"
    );
    assert_eq!(
        docs[0]["spec"]["rules"][0]["jwt"]["authentications"][0]["jwksUri"],
        "https://kexpose.accounts400.ondemand.com/locked/certs"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn errors_exit_non_zero_with_nothing_on_stdout() {
    let dir = app("errors");
    // Without values the template cannot render.
    let out = cmp(&dir, &["argocd", "generate"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8(out.stderr).unwrap();
    let first = stderr.lines().next().unwrap();
    assert_eq!(first, "kexpose: 1 error(s); nothing rendered");
    assert!(stderr.contains("httpbin.yaml:14:20: error[P009] template error: undefined value: `values.domain` is undefined"), "{stderr}");

    // A broken jwt rule in a passed-through APIRule fails the sync too.
    std::fs::write(
        dir.join("extra.yaml"),
        "apiVersion: gateway.kyma-project.io/v2\nkind: APIRule\nmetadata: {name: x}\nspec:\n  hosts: [x.example.com]\n  gateway: kyma-system/kyma-gateway\n  service: {name: x, port: 80}\n  rules:\n    - path: /*\n      methods: [GET]\n      jwt:\n        authentications: [{issuer: 'https://a.example.com', jwksUri: a.example.com/keys}]\n",
    )
    .unwrap();
    let out = generate_prod(&dir);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("extra.yaml:12:70: error[J003]"));
    std::fs::remove_file(dir.join("extra.yaml")).unwrap();

    // Parameters are user input: no escaping the application directory.
    let escape = r#"[{"name":"values-files","array":["../../etc/passwd"]}]"#;
    let out = cmp(
        &dir,
        &["argocd", "generate"],
        &[("ARGOCD_APP_PARAMETERS", escape)],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let out = cmp(
        &dir,
        &["argocd", "generate"],
        &[("ARGOCD_APP_PARAMETERS", "not json")],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());

    // An application with nothing to render is an error, never an empty stream.
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let out = cmp(&empty, &["argocd", "generate"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("refusing to return an empty manifest set")
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn discover_matches_only_applications_with_specs() {
    let dir = app("discover");
    let out = cmp(&dir, &["argocd", "discover"], &[]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        "./httpbin.yaml"
    );
    std::fs::remove_file(dir.join("httpbin.yaml")).unwrap();
    let out = cmp(&dir, &["argocd", "discover"], &[]);
    assert!(out.status.success());
    assert!(out.stdout.is_empty(), "no spec, no match");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn parameters_announce_what_generate_defaults_to() {
    let dir = app("parameters");
    let out = cmp(&dir, &["argocd", "parameters"], &[]);
    assert!(out.status.success());
    let announced: Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = announced
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["values-files", "api-version", "strict"]);
    assert_eq!(announced[0]["collectionType"], "array");
    let tooltip = announced[0]["tooltip"].as_str().unwrap();
    assert!(
        tooltip.contains("env/dev.yaml") && tooltip.contains("env/prod.yaml"),
        "{tooltip}"
    );
    assert!(!tooltip.contains("workload.yaml"), "{tooltip}");

    // Sending every announced default explicitly changes nothing.
    let mut explicit = announced.clone();
    explicit[0]["array"] = serde_json::json!(["env/prod.yaml"]);
    let with_defaults = cmp(
        &dir,
        &["argocd", "generate"],
        &[("ARGOCD_APP_PARAMETERS", &explicit.to_string())],
    );
    let without = generate_prod(&dir);
    assert!(without.status.success());
    assert_eq!(with_defaults.stdout, without.stdout);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn shipped_plugin_and_sidecar_patch_match_the_cmp_contract() {
    let plugin =
        std::fs::read_to_string(common::root().join("examples/argocd/plugin.yaml")).unwrap();
    let plugin = load(&plugin, Limits::default())
        .documents
        .remove(0)
        .unwrap()
        .value;
    assert_eq!(plugin["kind"], "ConfigManagementPlugin");
    assert_eq!(
        plugin["spec"]["generate"]["command"],
        serde_json::json!(["kexpose", "argocd", "generate"])
    );
    assert_eq!(
        plugin["spec"]["discover"]["find"]["command"],
        serde_json::json!(["kexpose", "argocd", "discover"])
    );
    assert_eq!(
        plugin["spec"]["parameters"]["dynamic"]["command"],
        serde_json::json!(["kexpose", "argocd", "parameters"])
    );
    let patch =
        std::fs::read_to_string(common::root().join("examples/argocd/repo-server-patch.yaml"))
            .unwrap();
    let patch = load(&patch, Limits::default())
        .documents
        .remove(0)
        .unwrap()
        .value;
    let pod = &patch["spec"]["template"]["spec"];
    let sidecar = &pod["containers"][0];
    assert_eq!(sidecar["command"][0], "/var/run/argocd/argocd-cmp-server");
    assert_eq!(sidecar["securityContext"]["runAsUser"], 999);
    let mounts = sidecar["volumeMounts"].as_array().unwrap();
    let tmp = mounts
        .iter()
        .find(|m| m["mountPath"] == "/tmp")
        .expect("its own /tmp");
    let volume = pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == tmp["name"])
        .unwrap();
    assert!(volume.get("emptyDir").is_some());
    assert!(
        mounts
            .iter()
            .any(|m| m["mountPath"] == "/home/argocd/cmp-server/config/plugin.yaml")
    );
}

/// The CMP sidecar's own environment holds secrets (repository and vault
/// credentials); whoever can push a spec must not be able to render them.
/// Templates see ARGOCD_APP_* and ARGOCD_ENV_* only.
#[test]
fn templates_never_see_the_sidecars_own_environment() {
    let dir = app("secrets");
    let spec = dir.join("httpbin.yaml");
    let text = std::fs::read_to_string(&spec).unwrap();
    let secret = "hvs.S3CR3T-vault-token";
    let sidecar = [
        ("ARGOCD_APP_PARAMETERS", PROD),
        ("VAULT_TOKEN", secret),
        ("ARGOCD_ENV_TEAM", "payments"),
    ];

    // The spec with one more label, whose value is a template.
    let part_of = "app.kubernetes.io/part-of: {{ env.ARGOCD_APP_NAME }}";
    let with_label = |label: &str| {
        std::fs::write(
            &spec,
            text.replace(part_of, &format!("{part_of}\n    {label}")),
        )
        .unwrap();
    };

    // Users' own variables (ARGOCD_ENV_*) are readable.
    with_label("team: {{ env.ARGOCD_ENV_TEAM }}");
    let out = cmp(&dir, &["argocd", "generate"], &sidecar);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(manifests(&out)[0]["metadata"]["labels"]["team"], "payments");

    // A secret of the sidecar is undefined: P009 names it, nothing is
    // rendered, and the value appears in no output.
    with_label("stolen: \"{{ env.VAULT_TOKEN }}\"");
    let out = cmp(&dir, &["argocd", "generate"], &sidecar);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(!stderr.contains(secret), "{stderr}");
    assert_eq!(
        stderr,
        "kexpose: 1 error(s); nothing rendered\nhttpbin.yaml:10:17: error[P009] template error: undefined value: `env.VAULT_TOKEN` is undefined; templates run by the Argo CD plugin read only ARGOCD_APP_* and ARGOCD_ENV_* variables\n"
    );

    // Nor can a template list the environment to find it.
    with_label(
        "all: \"{% for k in env %}{{ k }}={{ env[k] | replace('\\\"', '') }} {% endfor %}\"",
    );
    let out = cmp(&dir, &["argocd", "generate"], &sidecar);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let all = manifests(&out)[0]["metadata"]["labels"]["all"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(!String::from_utf8_lossy(&out.stdout).contains(secret));
    let names: Vec<&str> = all
        .split_whitespace()
        .map(|kv| kv.split_once('=').unwrap().0)
        .collect();
    assert!(
        names
            .iter()
            .all(|n| n.starts_with("ARGOCD_APP_") || n.starts_with("ARGOCD_ENV_")),
        "{names:?}"
    );
    assert!(
        all.contains("ARGOCD_APP_NAME=httpbin") && all.contains("ARGOCD_ENV_TEAM=payments"),
        "{all}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

fn parameters(api_version: &str, strict: &str) -> String {
    serde_json::json!([
        {"name": "values-files", "array": ["env/prod.yaml"]},
        {"name": "api-version", "string": api_version},
        {"name": "strict", "string": strict},
    ])
    .to_string()
}

/// `api-version` renders the announced version.
#[test]
fn api_version_parameter_selects_the_rendered_version() {
    let dir = app("api-version");
    for (announced, rendered) in [
        ("v2", "gateway.kyma-project.io/v2"),
        ("v1beta1", "gateway.kyma-project.io/v1beta1"),
    ] {
        let out = cmp(
            &dir,
            &["argocd", "generate"],
            &[("ARGOCD_APP_PARAMETERS", &parameters(announced, "false"))],
        );
        assert!(
            out.status.success(),
            "{announced}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(manifests(&out)[0]["apiVersion"], rendered);
    }
    let out = cmp(
        &dir,
        &["argocd", "generate"],
        &[("ARGOCD_APP_PARAMETERS", &parameters("v3", "false"))],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "parameter api-version: \"v3\" is not v2 or v1beta1\n"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

/// `strict` is what it announces, "Treat warnings as errors", for both API
/// versions: the bundled application (no warning) renders, an application
/// with a warning renders without strict and fails with it.
#[test]
fn strict_parameter_fails_on_warnings_for_both_api_versions() {
    let dir = app("strict");
    for version in ["v2", "v1beta1"] {
        let clean = cmp(
            &dir,
            &["argocd", "generate"],
            &[("ARGOCD_APP_PARAMETERS", &parameters(version, "true"))],
        );
        assert!(
            clean.status.success(),
            "{version}: {}",
            String::from_utf8_lossy(&clean.stderr)
        );
    }
    // A plain-http jwksUri is a warning (J012).
    let spec = dir.join("httpbin.yaml");
    let text = std::fs::read_to_string(&spec).unwrap();
    std::fs::write(&spec, text.replace("jwksUri: https://", "jwksUri: http://")).unwrap();
    for (version, line) in [
        (
            "v2",
            "httpbin.yaml:18:16: warning[J012] jwksUri \"http://kexpose.accounts400.ondemand.com/oauth2/certs\" uses plain http; signing keys fetched without TLS can be replaced in transit (rendered spec.rules[0].jwt.authentications[0].jwksUri)",
        ),
        (
            "v1beta1",
            "httpbin.yaml:23:9: warning[J012] jwksUri \"http://kexpose.accounts400.ondemand.com/oauth2/certs\" uses plain http; signing keys fetched without TLS can be replaced in transit (rendered spec.rules[0].accessStrategies[0].config.authentications[0].jwksUri)",
        ),
    ] {
        let lenient = cmp(
            &dir,
            &["argocd", "generate"],
            &[("ARGOCD_APP_PARAMETERS", &parameters(version, "false"))],
        );
        assert!(lenient.status.success(), "{version}");
        assert!(!lenient.stdout.is_empty());
        let strict = cmp(
            &dir,
            &["argocd", "generate"],
            &[("ARGOCD_APP_PARAMETERS", &parameters(version, "true"))],
        );
        assert_eq!(strict.status.code(), Some(1), "{version}");
        assert!(strict.stdout.is_empty(), "{version}");
        assert_eq!(
            String::from_utf8_lossy(&strict.stderr),
            format!(
                "kexpose: 1 error(s) or warning(s) (parameter strict: warnings fail); nothing rendered\n{line}\n"
            ),
            "{version}"
        );
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// A repository with kexpose.yaml: the application's environment comes from
/// the Application's KEXPOSE_ENV (or the config's default), and the config
/// cannot point the sidecar at files outside the repository.
#[test]
fn generate_reads_the_repositorys_project_config() {
    let repo = app("project");
    let dir = repo.join("apps/httpbin");
    std::fs::create_dir_all(&dir).unwrap();
    for f in ["httpbin.yaml", "workload.yaml"] {
        std::fs::rename(repo.join(f), dir.join(f)).unwrap();
    }
    std::fs::rename(repo.join("env"), repo.join("values")).unwrap();
    std::fs::write(
        repo.join("kexpose.yaml"),
        "apiVersion: kexpose.dev/v1alpha1\nkind: Config\nspecs: [apps/]\nenvironments:\n  dev: {values: [values/dev.yaml]}\n  prod: {values: [values/prod.yaml]}\ndefaultEnvironment: dev\n",
    )
    .unwrap();
    let host = |out: &Output| manifests(out)[0]["spec"]["hosts"][0].clone();
    let source = [("ARGOCD_APP_SOURCE_PATH", "apps/httpbin")];
    let dev = cmp(&dir, &["argocd", "generate"], &source);
    assert!(
        dev.status.success(),
        "{}",
        String::from_utf8_lossy(&dev.stderr)
    );
    let dev_domain = std::fs::read_to_string(repo.join("values/dev.yaml")).unwrap();
    let dev_domain = dev_domain
        .lines()
        .find_map(|l| l.strip_prefix("domain: "))
        .unwrap()
        .to_owned();
    assert_eq!(host(&dev), format!("httpbin.{dev_domain}").as_str());
    let prod = cmp(
        &dir,
        &["argocd", "generate"],
        &[source[0], ("ARGOCD_ENV_KEXPOSE_ENV", "prod")],
    );
    assert!(
        prod.status.success(),
        "{}",
        String::from_utf8_lossy(&prod.stderr)
    );
    assert_eq!(host(&prod), "httpbin.example.com");
    let flag = cmp(&dir, &["argocd", "generate", "--env", "prod"], &source);
    assert_eq!(flag.stdout, prod.stdout);
    let unknown = cmp(&dir, &["argocd", "generate", "--env", "qa"], &source);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(unknown.stdout.is_empty());
    assert!(
        String::from_utf8_lossy(&unknown.stderr)
            .contains("no environment \"qa\" (known: dev, prod)")
    );

    // A values file outside the repository is refused, and not read.
    std::fs::write(
        repo.join("kexpose.yaml"),
        "apiVersion: kexpose.dev/v1alpha1\nkind: Config\nenvironments:\n  dev: {values: [/etc/hostname]}\ndefaultEnvironment: dev\n",
    )
    .unwrap();
    let out = cmp(&dir, &["argocd", "generate"], &source);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("/etc/hostname is outside the repository"),
        "{stderr}"
    );
    std::fs::remove_dir_all(repo).unwrap();
}

/// The application's AccessTests gate the sync: the manifests come out only
/// when every expectation holds; the AccessTest itself is never a manifest.
#[test]
fn access_tests_gate_generate() {
    let dir = app("access");
    let test = |expect: u16| {
        format!(
            "apiVersion: kexpose.dev/v1alpha1\nkind: AccessTest\nmetadata: {{name: httpbin}}\nspec:\n  cases:\n    - request: GET https://httpbin.example.com/headers\n      expect: {expect}\n    - request: GET https://httpbin.example.com/headers\n      token: {{claims: {{iss: \"https://kexpose.accounts400.ondemand.com\", sub: c}}}}\n      expect: 200\n"
        )
    };
    std::fs::write(dir.join("access.yaml"), test(403)).unwrap();
    let out = generate_prod(&dir);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        kinds(&manifests(&out)),
        ["APIRule/httpbin", "Deployment/httpbin", "Service/httpbin"]
    );

    std::fs::write(dir.join("access.yaml"), test(200)).unwrap();
    let out = generate_prod(&dir);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stdout.is_empty(),
        "nothing rendered after a failed expectation"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("access.yaml:7:15: error[A001] GET https://httpbin.example.com/headers expects 200, gets 403 RBAC: access denied"),
        "{err}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

/// An `init`-style project with dev and prod, both rendered into the
/// repository, synced as one application per environment. Regression:
/// generate passed every environment's rendered output through, so dev's
/// Application applied dev/httpbin twice and prod/httpbin besides.
#[test]
fn one_environment_each_object_once() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("kexpose-cmp-envs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let kexpose = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_kexpose"))
            .current_dir(&dir)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    kexpose(&["init"]);
    let config = std::fs::read_to_string(dir.join("kexpose.yaml")).unwrap();
    std::fs::write(
        dir.join("kexpose.yaml"),
        config.replace(
            "  dev: {values: [env/dev.yaml], outDir: deploy/dev}\n",
            "  dev: {values: [env/dev.yaml], outDir: deploy/dev}\n  prod: {values: [env/prod.yaml], outDir: deploy/prod}\n",
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("env/prod.yaml"),
        "namespace: prod\ndomain: prod.example.com\ntenant: my-tenant\n",
    )
    .unwrap();
    kexpose(&["render", "--env", "prod", "--out-dir"]);
    assert!(dir.join("deploy/dev/dev.httpbin.yaml").is_file());
    assert!(dir.join("deploy/prod/prod.httpbin.yaml").is_file());
    let source = [("ARGOCD_APP_SOURCE_PATH", "")];
    let objects = |out: &Output| -> Vec<String> {
        manifests(out)
            .iter()
            .map(|m| {
                format!(
                    "{} {}/{} {}",
                    m["kind"].as_str().unwrap(),
                    m["metadata"]["namespace"].as_str().unwrap_or(""),
                    m["metadata"]["name"].as_str().unwrap(),
                    m["spec"]["hosts"][0].as_str().unwrap_or("")
                )
            })
            .collect()
    };
    let dev = cmp(&dir, &["argocd", "generate"], &source);
    assert!(
        dev.status.success(),
        "{}",
        String::from_utf8_lossy(&dev.stderr)
    );
    assert_eq!(
        objects(&dev),
        ["APIRule dev/httpbin httpbin.dev.example.com"]
    );
    let prod_env = [source[0], ("ARGOCD_ENV_KEXPOSE_ENV", "prod")];
    // init's AccessTest expects dev's host: prod's model does not have it
    // (dev's rendered output never stands in for it), so prod's sync stops.
    let prod = cmp(&dir, &["argocd", "generate"], &prod_env);
    assert_eq!(prod.status.code(), Some(1));
    assert!(prod.stdout.is_empty());
    assert!(
        String::from_utf8_lossy(&prod.stderr).contains("access-tests/httpbin.yaml:25:15: error[A001] GET https://httpbin.dev.example.com/status/200 expects 200, gets 404"),
        "{}",
        String::from_utf8_lossy(&prod.stderr)
    );
    std::fs::remove_dir_all(dir.join("access-tests")).unwrap();
    let prod = cmp(&dir, &["argocd", "generate"], &prod_env);
    assert!(
        prod.status.success(),
        "{}",
        String::from_utf8_lossy(&prod.stderr)
    );
    assert_eq!(
        objects(&prod),
        ["APIRule prod/httpbin httpbin.prod.example.com"]
    );
    // A rendered file outside every outDir is the output of a spec too.
    std::fs::copy(
        dir.join("deploy/prod/prod.httpbin.yaml"),
        dir.join("copied.yaml"),
    )
    .unwrap();
    let dev = cmp(&dir, &["argocd", "generate"], &source);
    assert_eq!(
        objects(&dev),
        ["APIRule dev/httpbin httpbin.dev.example.com"]
    );
    std::fs::remove_dir_all(dir).unwrap();
}
