//! `cargo bench --bench render`: 1,000 templated exposure specs sharing one
//! Issuers document, rendered by the real binary (read, template, compile,
//! check, emit), once to stdout and once into --out-dir.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const SPECS: usize = 1_000;

fn spec(i: usize) -> String {
    format!(
        r#"apiVersion: kexpose.dev/v1alpha1
kind: Exposure
metadata:
  name: svc-{i}
  namespace: {{{{ values.namespace }}}}-{ns}
spec:
  service: {{name: svc-{i}, port: 8080}}
  host: svc-{i}.{{{{ values.domain }}}}
  cors:
    allowOrigins: [{{exact: https://portal.{{{{ values.domain }}}}}}]
    allowMethods: [GET, POST]
  routes:
    - {{path: /*, methods: [GET], jwt: {{issuer: idp{idp}}}}}
    - {{path: '/api/{{**}}', methods: [GET, POST, OPTIONS], jwt: {{issuer: idp{idp}, scopes: [api]}}}}
    - {{path: '/api/orders/{{*}}', methods: [GET, PUT], jwt: {{issuer: idp{idp}, scopes: [orders.write], audiences: [svc-{i}]}}}}
    - {{path: /healthz, methods: [GET], public: true}}
"#,
        ns = i % 20,
        idp = i % 7,
    )
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let dir = std::env::temp_dir().join(format!("kexpose-render-bench-{}", std::process::id()));
    let specs = dir.join("specs");
    std::fs::create_dir_all(&specs).unwrap();
    for i in 0..SPECS {
        std::fs::write(specs.join(format!("svc-{i:04}.yaml")), spec(i)).unwrap();
    }
    let mut issuers = String::from(
        "apiVersion: kexpose.dev/v1alpha1\nkind: Issuers\nmetadata: {name: all}\nspec:\n  issuers:\n",
    );
    for k in 0..7 {
        issuers.push_str(&format!(
            "    idp{k}: {{issuer: 'https://idp{k}.example.com', jwksUri: 'https://idp{k}.example.com/keys'}}\n"
        ));
    }
    std::fs::write(specs.join("issuers.yaml"), issuers).unwrap();
    let values = dir.join("values.yaml");
    std::fs::write(&values, "namespace: team\ndomain: apps.example.com\n").unwrap();

    let exe = Path::new(env!("CARGO_BIN_EXE_kexpose"));
    let time = |extra: &[&str]| {
        let mut walls = Vec::new();
        for _ in 0..9 {
            let start = Instant::now();
            let out = Command::new(exe)
                .arg("render")
                .arg(&specs)
                .arg("--values")
                .arg(&values)
                .args(extra)
                .output()
                .unwrap();
            walls.push(start.elapsed());
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            if extra.is_empty() {
                let text = String::from_utf8(out.stdout).unwrap();
                assert_eq!(text.matches("kind: APIRule").count(), SPECS);
            }
        }
        walls
    };
    let stream = time(&[]);
    let out_dir = dir.join("out");
    let out = out_dir.to_str().unwrap();
    let files = time(&["--out-dir", out]);
    let drift = time(&["--out-dir", out, "--check"]);
    for (what, walls) in [
        ("stdout", stream),
        ("--out-dir", files),
        ("--out-dir --check", drift),
    ] {
        println!(
            "render {SPECS} exposures to {what}: median {:.1} ms (min {:.1}, max {:.1})",
            median(walls.clone()).as_secs_f64() * 1e3,
            walls.iter().min().unwrap().as_secs_f64() * 1e3,
            walls.iter().max().unwrap().as_secs_f64() * 1e3,
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
