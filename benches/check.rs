//! `cargo bench --bench check`: generates 10,000 realistic APIRule files,
//! checks them the way `kexpose check DIR` does (read, parse, check, in
//! parallel), and prints documents per second, then the time to judge one
//! APIRule of 1,000 and of 3,000 rules. Then times one `kexpose check`
//! process on one file, as pre-commit runs it.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use kexpose::load;
use kexpose::pipeline;
use kexpose::policy::Policy;
use kexpose::source::{self, Input};

const FILES: usize = 10_000;

/// The same allocator the binary ships with, so the figure is the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A realistic APIRule: jwt with scopes, a noAuth health route, CORS; every
/// tenth one carries a mistake so the reporting path is exercised too.
fn apirule(i: usize) -> String {
    let jwks = if i.is_multiple_of(10) {
        "idp.example.com/oauth2/certs".to_owned()
    } else {
        format!("https://idp{}.example.com/oauth2/certs", i % 7)
    };
    format!(
        r#"apiVersion: gateway.kyma-project.io/v2
kind: APIRule
metadata:
  name: svc-{i}
  namespace: team-{ns}
  labels:
    app.kubernetes.io/name: svc-{i}
spec:
  hosts:
    - svc-{i}.apps.example.com
  service:
    name: svc-{i}
    port: 8080
  gateway: kyma-system/kyma-gateway
  corsPolicy:
    allowOrigins:
      - exact: https://portal.example.com
    allowMethods: [GET, POST, OPTIONS]
    maxAge: 600
  rules:
    - path: /api/v1/orders/{{*}}
      methods: [GET, PUT]
      jwt:
        authentications:
          - issuer: https://idp{idp}.example.com
            jwksUri: {jwks}
        authorizations:
          - requiredScopes: [orders.write]
            audiences: [svc-{i}]
    - path: /api/{{**}}
      methods: [GET, POST, OPTIONS]
      jwt:
        authentications:
          - issuer: https://idp{idp}.example.com
            jwksUri: {jwks}
    - path: /healthz
      methods: [GET]
      noAuth: true
"#,
        ns = i % 20,
        idp = i % 7,
    )
}

/// An APIRule of `rules` jwt rules with seven methods each: the shape of a
/// crafted worst case, within the webhook's size budget at 1,000 rules.
fn large_apirule(rules: usize) -> serde_json::Value {
    let rules: Vec<serde_json::Value> = (0..rules)
        .map(|i| {
            serde_json::json!({
                "path": format!("/r{i}"),
                "methods": ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"],
                "jwt": {"authentications": [{"issuer": "https://idp.example.com", "jwksUri": "https://idp.example.com/keys"}]},
            })
        })
        .collect();
    serde_json::json!({
        "apiVersion": "gateway.kyma-project.io/v2", "kind": "APIRule",
        "metadata": {"name": "large", "namespace": "default"},
        "spec": {"hosts": ["large.example.com"], "service": {"name": "s", "port": 80},
                 "gateway": "kyma-system/kyma-gateway", "rules": rules},
    })
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let dir = std::env::temp_dir().join(format!("kexpose-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut bytes = 0;
    for i in 0..FILES {
        let text = apirule(i);
        bytes += text.len();
        std::fs::write(dir.join(format!("apirule-{i:05}.yaml")), text).unwrap();
    }
    let inputs = source::expand(std::slice::from_ref(&dir)).unwrap();
    assert_eq!(inputs.len(), FILES);
    let policy = Policy::default();
    let (template, lock) = (Default::default(), Default::default());
    let settings = load::Settings::new(&policy, &template, &lock);

    let mut rates = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        // As `kexpose check DIR` runs: read in parallel, then the pipeline.
        let files = load::read(&inputs, &settings);
        let checked = pipeline::check_files(&files, &[], &policy);
        let (docs, errors) = checked.iter().fold((0, 0), |(d, e), c| {
            (d + c.report.summary.documents, e + c.report.summary.errors)
        });
        let elapsed = start.elapsed();
        assert_eq!(docs, FILES);
        assert_eq!(
            errors,
            2 * FILES / 10,
            "every tenth file has a J003 in each of two rules"
        );
        rates.push(docs as f64 / elapsed.as_secs_f64());
    }
    rates.sort_by(f64::total_cmp);
    println!(
        "check: {FILES} files ({:.1} MiB) on {} threads: median {:.0} documents/s (min {:.0}, max {:.0})",
        bytes as f64 / 1048576.0,
        rayon::current_num_threads(),
        rates[rates.len() / 2],
        rates[0],
        rates[rates.len() - 1]
    );

    // One large APIRule, in process: R005 and J010 look up each rule's and
    // each authentication's twin, so the time should grow about linearly.
    for rules in [1_000, 3_000] {
        let object = large_apirule(rules);
        let mut times = Vec::new();
        for _ in 0..5 {
            let start = Instant::now();
            let judged = kexpose::check::judge(&object, &policy);
            times.push(start.elapsed());
            assert!(judged.findings.is_empty(), "{:?}", judged.findings.first());
        }
        println!(
            "check one APIRule of {rules} rules (7 methods, a jwt each): median {:.1} ms",
            median(times).as_secs_f64() * 1e3
        );
    }

    // The processes timed are this build's, or `KEXPOSE_BIN` (the release
    // build `cargo install` makes, say) for the profile users run.
    let exe = std::env::var_os("KEXPOSE_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_kexpose")));
    println!("processes: {}", exe.display());
    let exe = exe.as_path();
    let one = match &inputs[1] {
        Input::File(p) => p.clone(),
        Input::Stdin => unreachable!(),
    };
    let mut walls = Vec::new();
    for _ in 0..30 {
        let start = Instant::now();
        let status = Command::new(exe)
            .args(["check", "--format", "concise"])
            .arg(&one)
            .output()
            .unwrap()
            .status;
        walls.push(start.elapsed());
        assert!(status.success());
    }
    println!(
        "check one file in a fresh process: median {:.2} ms (max {:.2} ms)",
        median(walls.clone()).as_secs_f64() * 1e3,
        walls.iter().max().unwrap().as_secs_f64() * 1e3
    );

    // The floor: the whole `kexpose check DIR` process against `cat`
    // reading the same files, alternated in the same run so that both see
    // the same page cache and machine load.
    let paths: Vec<u8> = inputs
        .iter()
        .filter_map(|i| match i {
            Input::File(p) => Some(p.display().to_string()),
            Input::Stdin => None,
        })
        .flat_map(|p| p.into_bytes().into_iter().chain([0]))
        .collect();
    let (mut kexpose_walls, mut cat_walls) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        let start = Instant::now();
        let out = Command::new(exe)
            .args(["check", "--format", "concise"])
            .arg(&dir)
            .output()
            .unwrap();
        kexpose_walls.push(start.elapsed());
        assert_eq!(out.status.code(), Some(1), "every tenth file has findings");
        let start = Instant::now();
        let mut cat = Command::new("xargs")
            .args(["-0", "cat"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        use std::io::Write as _;
        cat.stdin.take().unwrap().write_all(&paths).unwrap();
        assert!(cat.wait().unwrap().success());
        cat_walls.push(start.elapsed());
    }
    let (k, c) = (median(kexpose_walls), median(cat_walls));
    println!(
        "kexpose check DIR: median {:.0} ms ({:.0} documents/s) against cat on the same files {:.0} ms: {:.2}x",
        k.as_secs_f64() * 1e3,
        FILES as f64 / k.as_secs_f64(),
        c.as_secs_f64() * 1e3,
        k.as_secs_f64() / c.as_secs_f64()
    );
    // `check --fix` on 10,000 files with one fixable finding each (a host
    // with capitals), rewritten before every run.
    let mut fix_walls = Vec::new();
    for _ in 0..3 {
        for i in 0..FILES {
            let text = apirule(i).replace(&format!("svc-{i}.apps"), &format!("Svc-{i}.apps"));
            let text = text.replace(
                "idp.example.com/oauth2/certs\n",
                "https://idp.example.com/oauth2/certs\n",
            );
            std::fs::write(dir.join(format!("apirule-{i:05}.yaml")), text).unwrap();
        }
        let start = Instant::now();
        let out = Command::new(exe)
            .args(["check", "--fix", "--format", "concise"])
            .arg(&dir)
            .output()
            .unwrap();
        fix_walls.push(start.elapsed());
        let fixed = String::from_utf8_lossy(&out.stderr)
            .matches("kexpose: fixed 1 finding")
            .count();
        assert_eq!(fixed, FILES, "every file had one fix");
        assert!(out.status.success(), "nothing is left after the fix");
    }
    let f = median(fix_walls);
    println!(
        "kexpose check --fix DIR, one fix in each file: median {:.0} ms ({:.0} files/s)",
        f.as_secs_f64() * 1e3,
        FILES as f64 / f.as_secs_f64()
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
