//! `cargo bench --bench identity`: the seed journey's network steps as
//! users run them, one process each, against the real OpenID provider and
//! JWKS-verifying resource server of the identity tests (npm oidc-provider
//! on loopback, HTTPS). Reports the median and worst wall time of:
//!
//! - `kexpose lock` (discovery document and JWKS of one issuer);
//! - `kexpose lock --check --offline` (specs against the lock, no network);
//! - `kexpose render` with jwksUri filled from the lock (no network);
//! - `kexpose token` (the client-credentials grant, endpoint from the lock);
//! - `kexpose probe URL --token T` (three requests).
//!
//! With `curl` on PATH, the same requests made by curl are timed beside
//! them as the reference a user would otherwise run by hand.

#[path = "../tests/common/mod.rs"]
mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::oidc::Provider;

const RUNS: usize = 40;

fn time(name: &str, mut command: impl FnMut() -> Command) -> Duration {
    let mut samples = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let mut c = command();
        let started = Instant::now();
        let out = c.output().expect("runs");
        samples.push(started.elapsed());
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    samples.sort();
    let median = samples[RUNS / 2];
    println!(
        "{name:<44} median {:>6.2} ms  max {:>6.2} ms",
        median.as_secs_f64() * 1e3,
        samples[RUNS - 1].as_secs_f64() * 1e3
    );
    median
}

fn main() {
    let p = Provider::start();
    let dir = common::temp_dir("bench-identity");
    common::write(
        &dir,
        "issuers.yaml",
        format!(
            "apiVersion: kexpose.dev/v1alpha1\nkind: Issuers\nmetadata:\n  name: idp\nspec:\n  issuers:\n    idp:\n      issuer: {}\n",
            p.issuer
        )
        .as_bytes(),
    );
    common::write(
        &dir,
        "app.yaml",
        b"apiVersion: kexpose.dev/v1alpha1\nkind: Exposure\nmetadata:\n  name: app\n  namespace: shop\nspec:\n  service:\n    name: app\n    port: 8080\n  host: app\n  routes:\n    - path: /*\n      methods: [GET]\n      jwt:\n        issuer: idp\n",
    );
    let kexpose = |args: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_kexpose"));
        c.current_dir(&dir)
            .env("KEXPOSE_CA_FILE", &p.ca)
            .env("CLIENT_ID", "kexpose")
            .env("CLIENT_SECRET", "kexpose-secret")
            .args(args);
        c
    };
    let url = format!("{}/headers", p.resource);
    time("kexpose lock", || kexpose(&["lock", "."]));
    time("kexpose lock --check --offline", || {
        kexpose(&["lock", "--check", "--offline", "."])
    });
    time("kexpose render (jwksUri from the lock)", || {
        kexpose(&["render", "."])
    });
    time("kexpose token", || kexpose(&["token"]));
    let token = String::from_utf8(kexpose(&["token"]).output().unwrap().stdout).unwrap();
    let token = token.trim().to_owned();
    time("kexpose probe (3 requests)", || {
        kexpose(&["probe", &url, "--token", &token])
    });

    if Command::new("curl").arg("--version").output().is_err() {
        println!("(curl not found: no reference figures)");
        return;
    }
    let curl = |args: &[&str]| {
        let mut c = Command::new("curl");
        c.args(["-sf", "-o", "/dev/null", "--cacert"])
            .arg(&p.ca)
            .args(args);
        c
    };
    let discovery = format!("{}/.well-known/openid-configuration", p.issuer);
    time("curl: discovery + JWKS", || {
        curl(&[&discovery, "-o", "/dev/null", &p.jwks_uri])
    });
    let endpoint = format!("{}/token", p.issuer);
    time("curl: client-credentials grant", || {
        curl(&[
            "-u",
            "kexpose:kexpose-secret",
            "-d",
            "grant_type=client_credentials",
            &endpoint,
        ])
    });
    let bearer = format!("Authorization: Bearer {token}");
    time("curl: the endpoint with the token (1 request)", || {
        curl(&["-H", &bearer, &url])
    });
}
