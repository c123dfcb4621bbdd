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
    let dir = std::env::temp_dir().join(format!("kexpose-cmp-{name}-{}", std::process::id()));
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
    text.split("\n---\n")
        .flat_map(|chunk| load(chunk, Limits::default()).documents)
        .map(|d| d.unwrap())
        .filter(|d| !d.empty)
        .map(|d| d.value)
        .collect()
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

#[test]
fn generate_renders_specs_and_passes_manifests_through() {
    let dir = app("generate");
    let out = cmp(
        &dir,
        &["argocd", "generate"],
        &[("ARGOCD_APP_PARAMETERS", PROD)],
    );
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
    assert_eq!(
        cmp(
            &dir,
            &["argocd", "generate"],
            &[("ARGOCD_APP_PARAMETERS", PROD)]
        )
        .stdout,
        out.stdout
    );
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
    let out = cmp(
        &dir,
        &["argocd", "generate"],
        &[("ARGOCD_APP_PARAMETERS", PROD)],
    );
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
    let without = cmp(
        &dir,
        &["argocd", "generate"],
        &[("ARGOCD_APP_PARAMETERS", PROD)],
    );
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
