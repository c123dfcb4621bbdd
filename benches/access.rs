//! `cargo bench --bench access`: the access model against 1,000 APIRules.
//!
//! - explain: the model built and one request explained, in process
//!   (median and p99 of 200 runs), as `kexpose explain` does after loading;
//! - test: 20,000 AccessTest requests through one model, in process;
//! - the same two as whole `kexpose` processes on files, loading included.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use kexpose::access::{Model, Request, Token};
use kexpose::apirule::v2::ApiRule;

const APIRULES: usize = 1_000;
const REQUESTS: usize = 20_000;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A realistic APIRule: a jwt route with scopes and audiences, a public
/// health route, a catch-all with a token; every fifth one on a wildcard
/// host, every tenth sharing its workload with the one before.
fn apirule(i: usize) -> String {
    let host = if i.is_multiple_of(5) {
        format!("\"*.team-{i}.example.com\"")
    } else {
        format!("svc-{i}.apps.example.com")
    };
    let service = if i.is_multiple_of(10) && i > 0 {
        i - 1
    } else {
        i
    };
    format!(
        r#"apiVersion: gateway.kyma-project.io/v2
kind: APIRule
metadata:
  name: svc-{i}
  namespace: team-{ns}
spec:
  hosts: [{host}]
  service: {{name: svc-{service}, port: 8080}}
  gateway: kyma-system/kyma-gateway
  rules:
    - path: /api/v1/orders/{{*}}
      methods: [GET, PUT]
      jwt:
        authentications:
          - issuer: https://idp{idp}.example.com
            jwksUri: https://idp{idp}.example.com/oauth2/certs
        authorizations:
          - requiredScopes: [orders.write]
            audiences: [svc-{i}]
    - path: /healthz
      methods: [GET]
      noAuth: true
    - path: /{{**}}
      methods: [GET, POST]
      jwt:
        authentications:
          - issuer: https://idp{idp}.example.com
            jwksUri: https://idp{idp}.example.com/oauth2/certs
"#,
        ns = i % 50,
        idp = i % 7,
    )
}

/// The requests of the test run: every outcome (200, 401, 403, 404), on
/// hosts all over the set.
fn request(n: usize) -> Request {
    let i = (n * 7919) % APIRULES;
    let host = if i.is_multiple_of(5) {
        format!("x.team-{i}.example.com")
    } else {
        format!("svc-{i}.apps.example.com")
    };
    let (line, token) = match n % 5 {
        0 => (format!("GET https://{host}/healthz"), None),
        1 => (format!("PUT https://{host}/api/v1/orders/7"), Some(true)),
        2 => (format!("GET https://{host}/api/v1/orders/7"), Some(false)),
        3 => (format!("DELETE https://{host}/x"), None),
        _ => (format!("POST https://{host}/anything"), Some(false)),
    };
    let mut r = Request::parse(&line).expect("a request");
    // Every tenth request carries a token whose signature fails.
    if n % 10 == 4 {
        r.token = Token::Forged(None);
        return r;
    }
    if let Some(scoped) = token {
        let mut claims = serde_json::json!({
            "iss": format!("https://idp{}.example.com", i % 7),
            "sub": "client",
            "aud": format!("svc-{i}"),
        });
        if scoped {
            claims["scope"] = "openid orders.write".into();
        }
        r.token = Token::Signed(claims.as_object().unwrap().clone());
    }
    r
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

fn main() {
    let texts: Vec<String> = (0..APIRULES).map(apirule).collect();
    let rules: Vec<ApiRule> = texts
        .iter()
        .map(|t| {
            let v = kexpose::yaml::load_values(t, kexpose::yaml::Limits::default())
                .documents
                .remove(0)
                .expect("YAML")
                .value;
            serde_json::from_value(v).expect("an APIRule")
        })
        .collect();

    // explain: build the model, explain one request.
    let one = request(1);
    let mut times = Vec::new();
    let mut status = 0;
    for _ in 0..200 {
        let start = Instant::now();
        let model = Model::new(&rules, None);
        status = model.explain(&one).status;
        times.push(start.elapsed());
    }
    times.sort();
    println!(
        "explain, model of {APIRULES} APIRules built and one request explained: median {:.2} ms, p99 {:.2} ms (status {status})",
        percentile(&times, 0.5).as_secs_f64() * 1e3,
        percentile(&times, 0.99).as_secs_f64() * 1e3,
    );

    // test: many requests through one model.
    let requests: Vec<Request> = (0..REQUESTS).map(request).collect();
    let mut counts = std::collections::BTreeMap::new();
    let mut rates = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        let model = Model::new(&rules, None);
        for r in &requests {
            *counts.entry(model.explain(r).status).or_insert(0usize) += 1;
        }
        rates.push(REQUESTS as f64 / start.elapsed().as_secs_f64());
    }
    rates.sort_by(f64::total_cmp);
    println!(
        "test, {REQUESTS} requests through one model: median {:.0} requests/s (outcomes over 5 runs: {counts:?})",
        rates[2]
    );

    // The same through the binary, loading included.
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("kexpose-bench-access");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("apirules")).unwrap();
    for (i, t) in texts.iter().enumerate() {
        std::fs::write(dir.join("apirules").join(format!("svc-{i}.yaml")), t).unwrap();
    }
    // Twenty suites of 1,000 cases, as a repository would hold them.
    let header = "apiVersion: kexpose.dev/v1alpha1\nkind: AccessTest\nmetadata: {name: bench}\nspec:\n  cases:\n";
    let mut suite = String::from(header);
    let model = Model::new(&rules, None);
    for (n, r) in requests.iter().enumerate() {
        if n > 0 && n.is_multiple_of(1_000) {
            std::fs::write(dir.join(format!("access-{}.yaml", n / 1_000)), &suite).unwrap();
            suite = String::from(header);
        }
        let expect = model.explain(r).status;
        let token = match &r.token {
            Token::Signed(c) => format!(
                "\n      token: {{claims: {}}}",
                serde_json::Value::Object(c.clone())
            ),
            Token::Forged(_) => "\n      token: invalid".to_owned(),
            Token::None => String::new(),
        };
        suite.push_str(&format!(
            "    - request: {}{token}\n      expect: {expect}\n",
            r.line()
        ));
    }
    std::fs::write(dir.join("access-20.yaml"), suite).unwrap();
    let bin = Path::new(env!("CARGO_BIN_EXE_kexpose"));
    let time = |args: &[&str]| {
        let mut runs: Vec<f64> = (0..5)
            .map(|_| {
                let start = Instant::now();
                let out = Command::new(bin).args(args).output().expect("kexpose runs");
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stdout)
                );
                start.elapsed().as_secs_f64()
            })
            .collect();
        runs.sort_by(f64::total_cmp);
        runs[2]
    };
    let apirules = dir.join("apirules");
    let explain = time(&[
        "explain",
        apirules.to_str().unwrap(),
        "--request",
        &one.line(),
    ]);
    println!(
        "kexpose explain, {APIRULES} APIRule files, whole process: median {:.1} ms",
        explain * 1e3
    );
    let test = time(&["test", "--format", "concise", dir.to_str().unwrap()]);
    println!(
        "kexpose test, {REQUESTS} cases against {APIRULES} APIRule files, whole process: median {:.0} ms, {:.0} requests/s",
        test * 1e3,
        REQUESTS as f64 / test
    );
}
