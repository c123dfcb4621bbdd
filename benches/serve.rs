//! `cargo bench --bench serve`: the webhook under h2load (nghttp2-client),
//! TLS 1.3 and HTTP/2 on loopback, POSTing a realistic AdmissionReview to
//! `/validate`; in the same run, a bare TLS echo server on the same stack
//! (rustls with ring, hyper) as the ceiling. Reports:
//!
//! - throughput of kexpose and of the ceiling, and their ratio;
//! - the webhook's write system calls per review at that rate;
//! - latency percentiles at half of kexpose's maximum rate (`--rps`), from
//!   h2load's per-request log, for kexpose and for the echo at that rate;
//! - the handler's own latency, from the decision log;
//! - the webhook's peak resident memory under load.
//!
//! Needs `h2load` on PATH (`apt-get install nghttp2-client`); exits with a
//! message when it is missing.
//!
//! Soak mode (`KEXPOSE_SOAK_MINUTES=5 cargo bench --bench serve`): after the
//! measurements above, half the measured maximum for that long, in 30 s
//! segments; before each segment the certificate is rotated and the policy
//! file changed (both reloaded by the running webhook). Each segment reports
//! the rate served, failed requests, p99 and RSS, so that a leak or a
//! reload that drops requests shows.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use rustls_pki_types::pem::PemObject;

const CLIENTS: u32 = 8;
const STREAMS: u32 = 8;
/// Streams per connection at half load. h2load's `--rps` releases each
/// connection's due requests every 10 ms, so the cap on streams is the
/// burst's concurrency: with 8 the server sees 64 requests at once every
/// few milliseconds, and their latency is the time to answer all 64 (the
/// bare echo's p99 is then 3-4 ms here too). Arrivals spread evenly at
/// half load keep about 5 in flight; 2 per connection (16) stays above
/// that while measuring the server rather than h2load's steps.
const PACED_STREAMS: u32 = 2;
const SECONDS: u32 = 8;

/// A fresh CA and a leaf for the service name, written to `dir`:
/// (leaf certificate, leaf key).
fn tls_pair(dir: &Path) -> (String, String) {
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let ca = rcgen::Issuer::new(ca_params, ca_key);
    let params =
        rcgen::CertificateParams::new(vec!["kexpose.kexpose-system.svc".to_owned()]).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &ca).unwrap();
    std::fs::write(dir.join("tls.crt"), cert.pem()).unwrap();
    std::fs::write(dir.join("tls.key"), key.serialize_pem()).unwrap();
    (cert.pem(), key.serialize_pem())
}

/// The ceiling: TLS + HTTP/2 + reading the body + writing it back.
fn echo_server(cert: &str, key: &str) -> (String, tokio::runtime::Runtime) {
    let chain = rustls_pki_types::CertificateDer::pem_slice_iter(cert.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = rustls_pki_types::PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap();
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    rt.spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let _ = tcp.set_nodelay(true);
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = hyper::service::service_fn(|req: Request<Incoming>| async move {
                    use http_body_util::BodyExt;
                    let body = req.into_body().collect().await?.to_bytes();
                    Ok::<_, hyper::Error>(Response::new(http_body_util::Full::new(body)))
                });
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    (addr, rt)
}

struct Load {
    rps: f64,
    failed: u64,
}

/// At full speed: as many requests as CLIENTS x STREAMS allow.
fn h2load(url: &str, body: &Path) -> Load {
    h2load_for(SECONDS, STREAMS, url, body, &[], None)
}

/// At `per_client` requests per second on each connection, each request's
/// latency logged to `log`.
fn h2load_paced(seconds: u32, url: &str, body: &Path, per_client: u64, log: &Path) -> Load {
    let rps = [format!("--rps={per_client}")];
    h2load_for(seconds, PACED_STREAMS, url, body, &rps, Some(log))
}

fn h2load_for(
    seconds: u32,
    streams: u32,
    url: &str,
    body: &Path,
    extra: &[String],
    log: Option<&Path>,
) -> Load {
    let mut cmd = Command::new("h2load");
    cmd.arg(url)
        .args([
            "-t",
            "1",
            "-c",
            &CLIENTS.to_string(),
            "-m",
            &streams.to_string(),
        ])
        .args(["-D", &seconds.to_string(), "--warm-up-time", "1"])
        .args(["-H", "content-type: application/json"])
        .arg("-d")
        .arg(body)
        .args(extra);
    if let Some(log) = log {
        cmd.arg(format!("--log-file={}", log.display()));
    }
    let out = cmd.output().expect("h2load runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let rps = text
        .lines()
        .find(|l| l.starts_with("finished in"))
        .and_then(|l| l.split(", ").nth(1))
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("unexpected h2load output:\n{text}"));
    let failed = text
        .lines()
        .find(|l| l.starts_with("requests:"))
        .and_then(|l| l.split(", ").find(|p| p.ends_with("failed")))
        .and_then(|p| p.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let status_2xx = text
        .lines()
        .find(|l| l.starts_with("status codes:"))
        .unwrap_or("");
    assert!(status_2xx.contains("2xx"), "{text}");
    Load { rps, failed }
}

/// Reviews the webhook has answered, from its metrics.
fn reviews_answered(health: &str) -> u64 {
    use std::io::{Read, Write};
    let mut tcp = std::net::TcpStream::connect(health).unwrap();
    tcp.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut text = String::new();
    tcp.read_to_string(&mut text).unwrap();
    text.lines()
        .filter(|l| l.starts_with("kexpose_admission_requests_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

/// Write system calls the process has made (`/proc/PID/io`).
fn write_calls(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/io"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("syscw:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// The request latencies of an h2load log, in microseconds, sorted.
fn latencies(log: &Path) -> Vec<f64> {
    let mut micros: Vec<f64> = std::fs::read_to_string(log)
        .unwrap()
        .lines()
        .filter_map(|l| l.split('\t').nth(2)?.parse().ok())
        .collect();
    micros.sort_by(f64::total_cmp);
    micros
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// `p50 .. ms, p99 .. ms, p99.9 .. ms, max .. ms over N (failed F)` of
/// latencies in microseconds, sorted.
fn summary(micros: &[f64], failed: u64) -> String {
    if micros.is_empty() {
        return format!("no request completed (failed {failed})");
    }
    format!(
        "p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms over {} (failed {failed})",
        percentile(micros, 0.50) / 1e3,
        percentile(micros, 0.99) / 1e3,
        percentile(micros, 0.999) / 1e3,
        micros.last().copied().unwrap_or_default() / 1e3,
        micros.len()
    )
}

fn rss_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn main() {
    if Command::new("h2load").arg("--version").output().is_err() {
        eprintln!("h2load not found: install nghttp2-client (apt-get install nghttp2-client)");
        std::process::exit(2);
    }
    let dir = std::env::temp_dir().join(format!("kexpose-serve-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = tls_pair(&dir);
    let body = dir.join("review.json");
    std::fs::write(
        &body,
        include_str!("../tests/fixtures/webhook/create-v2.json"),
    )
    .unwrap();

    // The decision log is part of the work; it goes to a file, as a
    // container runtime's log does.
    let log_path = dir.join("kexpose.log");
    let policy = dir.join("policy.yaml");
    std::fs::write(&policy, include_str!("../policies/default.yaml")).unwrap();
    let exe = env!("CARGO_BIN_EXE_kexpose");
    let mut child = Command::new(exe)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--health-listen",
            "127.0.0.1:0",
        ])
        .arg("--tls-dir")
        .arg(&dir)
        .arg("--policy")
        .arg(&policy)
        .args(["--reload-interval", "1"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    let first: serde_json::Value = loop {
        let text = std::fs::read_to_string(&log_path).unwrap_or_default();
        if let Some(line) = text.lines().next() {
            break serde_json::from_str(line).unwrap();
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let addr = first["addr"].as_str().unwrap().to_owned();
    let health = first["health_addr"].as_str().unwrap().to_owned();
    let (echo_addr, _echo_rt) = echo_server(&cert, &key);
    let url = format!("https://{addr}/validate");
    let echo_url = format!("https://{echo_addr}/validate");

    let pid = child.id();
    let sampler = std::thread::spawn(move || {
        let mut peak = 0;
        for _ in 0..(SECONDS * 5 + 10) * 10 {
            peak = peak.max(rss_kib(pid, "VmRSS:"));
            std::thread::sleep(Duration::from_millis(100));
        }
        peak
    });

    let (writes, answered) = (write_calls(pid), reviews_answered(&health));
    let kexpose = h2load(&url, &body);
    let writes = write_calls(pid) - writes;
    let answered = reviews_answered(&health) - answered;
    let ceiling = h2load(&echo_url, &body);
    let half = (kexpose.rps / 2.0).max(1.0);
    let per_client = ((half / f64::from(CLIENTS)).round() as u64).max(1);
    let log = dir.join("latency.tsv");
    let paced = h2load_paced(SECONDS, &url, &body, per_client, &log);
    let micros = latencies(&log);
    let echo_log = dir.join("echo-latency.tsv");
    let echo_paced = h2load_paced(SECONDS, &echo_url, &body, per_client, &echo_log);
    let echo_micros = latencies(&echo_log);
    let peak_rss = sampler.join().unwrap().max(rss_kib(pid, "VmHWM:"));
    let soak = std::env::var("KEXPOSE_SOAK_MINUTES")
        .ok()
        .and_then(|m| m.parse::<u32>().ok())
        .map(|minutes| soak(minutes, &url, &body, &dir, &policy, per_client, pid));
    let _ = child.kill();
    let _ = child.wait();

    println!(
        "serve: h2load TLS 1.3 + HTTP/2, {CLIENTS} connections x {STREAMS} streams, {SECONDS} s, review of {} bytes",
        std::fs::metadata(&body).unwrap().len()
    );
    println!(
        "  max throughput: kexpose {:.0} req/s, bare TLS echo {:.0} req/s, ratio {:.2} (failed: {} / {})",
        kexpose.rps,
        ceiling.rps,
        kexpose.rps / ceiling.rps,
        kexpose.failed,
        ceiling.failed
    );
    println!(
        "  write system calls per review at max throughput: {:.2} ({writes} for {answered})",
        writes as f64 / answered.max(1) as f64
    );
    println!(
        "  at half load ({} req/s offered over {CLIENTS} connections x {PACED_STREAMS} streams, {:.0} served): {}; bare TLS echo at the same rate: {}",
        per_client * u64::from(CLIENTS),
        paced.rps,
        summary(&micros, paced.failed),
        summary(&echo_micros, echo_paced.failed),
    );
    let mut handler: Vec<f64> = std::fs::read_to_string(&log_path)
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["msg"] == "admission")
        .filter_map(|v| v["latency_ms"].as_f64())
        .collect();
    handler.sort_by(f64::total_cmp);
    println!(
        "  in the handler (the decision log's latency_ms, all runs): p50 {:.3} ms, p99 {:.3} ms over {} reviews",
        percentile(&handler, 0.50),
        percentile(&handler, 0.99),
        handler.len()
    );
    println!(
        "  webhook peak RSS under load: {:.1} MiB",
        peak_rss as f64 / 1024.0
    );
    if let Some(report) = soak {
        print!("{report}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Half load for `minutes`, in 30 s segments, each after a certificate
/// rotation and a policy change; one report line per segment.
fn soak(
    minutes: u32,
    url: &str,
    body: &Path,
    dir: &Path,
    policy: &Path,
    per_client: u64,
    pid: u32,
) -> String {
    const SEGMENT: u32 = 30;
    let mut report = format!(
        "  soak: {minutes} min at {} req/s offered, certificate rotated and policy changed every {SEGMENT} s\n",
        per_client * u64::from(CLIENTS)
    );
    let start_rss = rss_kib(pid, "VmRSS:");
    let mut failed = 0;
    for segment in 0..(minutes * 60).div_ceil(SEGMENT) {
        tls_pair(dir);
        std::fs::write(
            policy,
            format!(
                "{}# soak segment {segment}\n",
                include_str!("../policies/default.yaml")
            ),
        )
        .unwrap();
        // The webhook polls every second; let it take both.
        std::thread::sleep(Duration::from_millis(1500));
        let log = dir.join(format!("soak-{segment}.tsv"));
        let load = h2load_paced(SEGMENT, url, body, per_client, &log);
        let micros = latencies(&log);
        std::fs::remove_file(&log).unwrap();
        failed += load.failed;
        report.push_str(&format!(
            "    segment {segment:>2}: {:.0} req/s, failed {}, p99 {:.2} ms, RSS {:.1} MiB\n",
            load.rps,
            load.failed,
            percentile(&micros, 0.99) / 1e3,
            rss_kib(pid, "VmRSS:") as f64 / 1024.0
        ));
    }
    let reloads = std::fs::read_to_string(dir.join("kexpose.log"))
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("\"certificate reloaded\"") || l.contains("\"policy reloaded\""))
        .count();
    report.push_str(&format!(
        "  soak: failed requests {failed}; RSS {:.1} MiB at start, {:.1} MiB at end; {reloads} reloads taken\n",
        start_rss as f64 / 1024.0,
        rss_kib(pid, "VmRSS:") as f64 / 1024.0
    ));
    report
}
