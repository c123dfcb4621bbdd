//! Helpers shared by the integration tests: run the real binary.
#![allow(dead_code)]

pub mod oidc;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn kexpose() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kexpose"));
    c.current_dir(root())
        .env_remove("NO_COLOR")
        .env_remove("KEXPOSE_POLICY")
        .env_remove("KEXPOSE_CONFIG")
        .env_remove("KEXPOSE_ENV");
    // Tests that want a proxy set one; the machine's own never applies.
    for proxy in PROXY_VARIABLES {
        c.env_remove(proxy);
    }
    c
}

pub const PROXY_VARIABLES: [&str; 8] = [
    "http_proxy",
    "HTTP_PROXY",
    "https_proxy",
    "HTTPS_PROXY",
    "all_proxy",
    "ALL_PROXY",
    "no_proxy",
    "NO_PROXY",
];

pub fn run(args: &[&str]) -> Output {
    kexpose().args(args).output().expect("kexpose runs")
}

/// What `kexpose policy export ARGS` prints, failing the test (with its
/// stderr) when the export fails.
pub fn policy_export<S: AsRef<str>>(args: &[S]) -> String {
    let mut all = vec!["policy", "export"];
    all.extend(args.iter().map(AsRef::as_ref));
    let out = run(&all);
    assert!(
        out.status.success(),
        "policy export {all:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

pub fn run_stdin(args: &[&str], input: &[u8]) -> Output {
    pipe(kexpose().args(args), input)
}

/// Runs `command` with `input` on its stdin, as `... | command` does.
pub fn pipe(command: &mut Command, input: &[u8]) -> Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the command runs");
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

/// The non-empty documents of a YAML stream, as values.
pub fn documents(text: &str) -> Vec<serde_json::Value> {
    kexpose::yaml::load(text, kexpose::yaml::Limits::default())
        .documents
        .into_iter()
        .map(|d| d.unwrap())
        .filter(|d| !d.empty)
        .map(|d| d.value)
        .collect()
}

pub fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

pub fn codes(out: &Output) -> Vec<String> {
    json(out)["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["code"].as_str().unwrap().to_owned())
        .collect()
}

pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("kexpose-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn write(dir: &Path, name: &str, content: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, content).unwrap();
    p
}

/// A real tool the tests drive (`pre-commit`, `helm`), installed once into
/// the target directory by `tests/tools/install.py` and reused afterwards.
pub fn tool(name: &str) -> PathBuf {
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("tools");
    let out = Command::new("python3")
        .arg(root().join("tests/tools/install.py"))
        .arg(name)
        .arg(&cache)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "installing {name} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

/// Runs git in `dir`, failing the test when git fails.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "user.name=kexpose",
            "-c",
            "user.email=kexpose@example.com",
        ])
        .args([
            "-c",
            "init.defaultBranch=main",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Compares `actual` with the golden file at `path`; with `KEXPOSE_BLESS`
/// set, rewrites the file instead. Golden files are reviewed output.
pub fn golden(path: &Path, actual: &str) -> Option<String> {
    if std::env::var_os("KEXPOSE_BLESS").is_some() {
        std::fs::write(path, actual).unwrap();
        return None;
    }
    let expected = std::fs::read_to_string(path).unwrap_or_default();
    (expected != actual).then(|| {
        format!(
            "{} differs:\n{}",
            path.display(),
            similar::TextDiff::from_lines(&expected, actual)
                .unified_diff()
                .header("expected", "actual")
        )
    })
}

/// A throwaway certificate authority for tests that need real TLS.
pub struct Ca {
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
    /// Its certificate (PEM), to trust.
    pub pem: String,
}

impl Ca {
    pub fn new(name: &str) -> Ca {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        Ca {
            pem: cert.pem(),
            issuer: rcgen::Issuer::new(params, key),
        }
    }

    /// A server certificate for `names`: (certificate PEM, key PEM).
    pub fn leaf(&self, names: &[&str]) -> (String, String) {
        let names = names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>();
        let params = rcgen::CertificateParams::new(names).unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }
}
