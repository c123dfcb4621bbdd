//! The admission webhook: the router driven in-process with reviews shaped
//! as the apiserver sends them, then the real binary over real TLS with a
//! throwaway CA: name verification, certificate rotation under load, and
//! draining on SIGTERM.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::Ca;
use kexpose::policy::Policy;
use kexpose::webhook::{self, State};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower::ServiceExt;

fn fixture() -> Value {
    serde_json::from_str(include_str!("fixtures/webhook/create-v2.json")).unwrap()
}

/// The fixture with its object changed by `edit`.
fn review(edit: impl FnOnce(&mut Value)) -> Value {
    let mut r = fixture();
    edit(&mut r["request"]);
    r
}

fn state(policy: Policy) -> Arc<State> {
    State::new(policy)
}

async fn post(state: Arc<State>, path: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let response = webhook::router(state)
        .oneshot(
            Request::post(path)
                .header("content-type", "application/json")
                .body(Body::from(body))
                .unwrap(),
        )
        .await
        .unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, serde_json::from_slice(&bytes).unwrap())
}

async fn validate(r: &Value) -> Value {
    validate_with(Policy::default(), r).await
}

/// The response to `r` under `policy`, after the checks every answer passes.
async fn validate_with(policy: Policy, r: &Value) -> Value {
    let (status, body) = post(state(policy), "/validate", r.to_string().into_bytes()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["apiVersion"], "admission.k8s.io/v1");
    assert_eq!(body["kind"], "AdmissionReview");
    assert_eq!(
        body["response"]["uid"], r["request"]["uid"],
        "the uid is echoed"
    );
    body["response"].clone()
}

fn broken_jwt(req: &mut Value) {
    let auth = &mut req["object"]["spec"]["rules"][0]["jwt"]["authentications"][0];
    auth["jwksUri"] = json!("tenant.accounts400.ondemand.com/oauth2/certs");
    auth["fromHeaders"] = json!([{"name": "X-Token"}]);
    auth["fromParams"] = json!(["token"]);
}

#[tokio::test]
async fn a_valid_apirule_is_allowed() {
    let r = validate(&fixture()).await;
    assert_eq!(r["allowed"], true);
    assert!(r.get("warnings").is_none());
    assert!(r.get("patch").is_none());
}

#[tokio::test]
async fn broken_jwt_rules_are_denied_with_every_finding() {
    let r = validate(&review(broken_jwt)).await;
    assert_eq!(r["allowed"], false);
    let status = &r["status"];
    assert_eq!(status["code"], 422);
    assert_eq!(status["reason"], "Invalid");
    let message = status["message"].as_str().unwrap();
    assert!(
        message.starts_with(
            "denied by the kexpose admission webhook, 2 finding(s), `kexpose rule CODE` explains each: "
        ),
        "{message}"
    );
    assert!(
        message.contains(
            "spec.rules[0].jwt.authentications[0].jwksUri: value is empty or not a valid uri err=parse \"tenant.accounts400.ondemand.com/oauth2/certs\": invalid URI for request (J003)"
        ),
        "{message}"
    );
    assert!(message.contains("(J004)"), "{message}");
    let causes = status["details"]["causes"].as_array().unwrap();
    assert_eq!(causes.len(), message.split("; ").count());
    assert!(causes.iter().any(
        |c| c["field"] == "spec.rules[0].jwt.authentications[0].jwksUri"
            && c["reason"] == "FieldValueInvalid"
            && c["message"].as_str().unwrap().ends_with("(J003)")
    ));
    assert_eq!(status["details"]["kind"], "APIRule");
    assert_eq!(status["details"]["name"], "httpbin");
    let audit = r["auditAnnotations"]["rules"].as_str().unwrap();
    assert!(audit.contains("J003") && audit.contains("J004"), "{audit}");
}

#[tokio::test]
async fn warnings_are_short_single_lines_and_do_not_deny() {
    let r = validate(&review(|req| {
        req["object"]["spec"]["rules"][0]["jwt"]["authentications"][0]["jwksUri"] =
            json!("http://tenant.accounts400.ondemand.com/oauth2/certs");
        req["object"]["spec"]["corsPolicy"] =
            json!({"allowOrigins": [{"exact": "https://a.example.com"}]});
    }))
    .await;
    assert_eq!(r["allowed"], true);
    let warnings = r["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    for w in warnings {
        let w = w.as_str().unwrap();
        assert!(w.chars().count() <= 120 && !w.contains('\n'), "{w}");
    }
    // ASCII, the code and the reason first, the field last.
    assert!(warnings.iter().all(|w| w.as_str().unwrap().is_ascii()));
    assert!(
        warnings.iter().any(|w| w
            .as_str()
            .unwrap()
            .starts_with("kexpose J012: jwksUri \"http://tenant.accounts400.ondemand.com/oauth2/certs\" uses plain http")),
        "{warnings:?}"
    );
    assert_eq!(r["auditAnnotations"]["rules"], "J012,R007");
}

#[tokio::test]
async fn updates_and_dry_runs_are_checked_too() {
    let r = validate(&review(|req| {
        broken_jwt(req);
        req["operation"] = json!("UPDATE");
        req["oldObject"] = fixture()["request"]["object"].clone();
        req["dryRun"] = json!(true);
        req["options"] =
            json!({"kind": "UpdateOptions", "apiVersion": "meta.k8s.io/v1", "dryRun": ["All"]});
    }))
    .await;
    assert_eq!(r["allowed"], false);
}

#[tokio::test]
async fn deletions_and_status_updates_are_not_checked() {
    let r = validate(&review(|req| {
        broken_jwt(req);
        req["operation"] = json!("DELETE");
        req["oldObject"] = req["object"].take();
        req["options"] = json!({"kind": "DeleteOptions", "apiVersion": "meta.k8s.io/v1"});
    }))
    .await;
    assert_eq!(r["allowed"], true);
    let r = validate(&review(|req| {
        broken_jwt(req);
        req["operation"] = json!("UPDATE");
        req["subResource"] = json!("status");
        req["requestSubResource"] = json!("status");
    }))
    .await;
    assert_eq!(r["allowed"], true);
}

/// Only the spec, the object's name and namespace and its suppress
/// annotation are read: what else the API server sends (managed fields,
/// labels, the last-applied copy of the object, the controller's status)
/// changes no decision, while the suppress annotation still counts.
#[tokio::test]
async fn metadata_and_status_beyond_what_the_rules_read_change_nothing() {
    let plain = validate(&review(broken_jwt)).await;
    let full = validate(&review(|req| {
        broken_jwt(req);
        let object = &mut req["object"];
        let copy = object.to_string();
        let metadata = &mut object["metadata"];
        metadata["labels"] = json!({"app": "httpbin", "team": "payments"});
        metadata["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] = json!(copy);
        metadata["finalizers"] = json!(["gateway.kyma-project.io/subresources"]);
        metadata["resourceVersion"] = json!("48213");
        object["status"] = json!({"state": "Error", "description": "Validation error"});
    }))
    .await;
    assert_eq!(full, plain);
    assert_eq!(full["allowed"], false);

    let suppressed = validate(&review(|req| {
        broken_jwt(req);
        req["object"]["metadata"]["annotations"]["kexpose.dev/suppress"] =
            json!("J012: test tenant without TLS");
        req["object"]["spec"]["rules"][0]["jwt"]["authentications"][0] =
            json!({"issuer": "https://tenant.example.com", "jwksUri": "http://tenant.example.com/keys"});
    }))
    .await;
    assert_eq!(suppressed["allowed"], true, "{suppressed}");
    assert!(suppressed.get("warnings").is_none(), "{suppressed}");
}

#[tokio::test]
async fn v1beta1_is_denied_with_a_migration_hint_and_v2alpha1_is_checked() {
    let legacy = review(|req| {
        for k in ["kind", "requestKind"] {
            req[k]["version"] = json!("v1beta1");
        }
        req["object"] = json!({
            "apiVersion": "gateway.kyma-project.io/v1beta1", "kind": "APIRule",
            "metadata": {"name": "httpbin", "namespace": "default"},
            "spec": {"host": "httpbin.example.com", "gateway": "kyma-system/kyma-gateway",
                     "service": {"name": "httpbin", "port": 8000},
                     "rules": [{"path": "/.*", "methods": ["GET"], "accessStrategies": [{"handler": "noop"}]}]}
        });
    });
    let r = validate(&legacy).await;
    assert_eq!(r["allowed"], false);
    let message = r["status"]["message"].as_str().unwrap();
    assert!(
        message.contains("migrate to gateway.kyma-project.io/v2 (R010)"),
        "{message}"
    );

    let alpha = review(|req| {
        req["object"]["apiVersion"] = json!("gateway.kyma-project.io/v2alpha1");
    });
    assert_eq!(validate(&alpha).await["allowed"], true);
    let mut broken = alpha.clone();
    broken_jwt(&mut broken["request"]);
    assert_eq!(validate(&broken).await["allowed"], false);
}

#[tokio::test]
async fn objects_that_cannot_be_decoded_are_denied_with_the_reason() {
    for object in [json!("not an object"), json!([1, 2])] {
        let r = validate(&review(|req| req["object"] = object.clone())).await;
        assert_eq!(r["allowed"], false);
        assert!(
            r["status"]["message"]
                .as_str()
                .unwrap()
                .contains("not a JSON object")
        );
    }
    let r = validate(&review(|req| {
        req["object"]["metadata"]["name"] = json!(42);
        req["object"]["spec"]["rules"] = json!("all of them");
    }))
    .await;
    assert_eq!(r["allowed"], false);
    assert!(r["status"]["message"].as_str().unwrap().contains("(S003)"));
}

#[tokio::test]
async fn malformed_and_oversized_bodies_are_http_errors_with_json() {
    let s = state(Policy::default());
    let (status, body) = post(s.clone(), "/validate", b"{\"kind\": ".to_vec()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"].as_str().unwrap().contains("not valid JSON"));
    let (status, body) = post(s.clone(), "/validate", b"{\"kind\": \"Pod\"}".to_vec()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"].as_str().unwrap().contains("AdmissionReview"));
    let (status, _) = post(
        s.clone(),
        "/mutate",
        review(|r| r["uid"] = json!(7)).to_string().into_bytes(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let mut big = fixture();
    big["request"]["object"]["metadata"]["annotations"]["padding"] =
        json!("x".repeat(webhook::MAX_BODY));
    let (status, body) = post(s.clone(), "/validate", big.to_string().into_bytes()).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(body["error"].as_str().unwrap().contains("larger than"));
    let metrics = s.metrics.render();
    assert!(metrics.contains(
        "kexpose_admission_requests_total{endpoint=\"validate\",decision=\"bad_request\"} 2"
    ));
    assert!(metrics.contains(
        "kexpose_admission_requests_total{endpoint=\"validate\",decision=\"too_large\"} 1"
    ));
}

fn registry_policy() -> Policy {
    Policy::parse(
        "apiVersion: kexpose.dev/v1alpha1\nkind: Policy\nspec:\n  gateways: {default: kyma-system/kyma-gateway}\n  issuers:\n    - issuer: https://tenant.accounts400.ondemand.com\n      jwksUri: https://tenant.accounts400.ondemand.com/oauth2/certs\n",
    )
    .unwrap()
}

#[tokio::test]
async fn mutation_fills_defaults_once_and_validation_then_passes() {
    let s = state(registry_policy());
    let incomplete = review(|req| {
        let spec = &mut req["object"]["spec"];
        spec.as_object_mut().unwrap().remove("gateway");
        spec["hosts"] = json!(["HttpBin.Example.com"]);
        spec["rules"][0]["jwt"]["authentications"][0]
            .as_object_mut()
            .unwrap()
            .remove("jwksUri");
        req["object"]["metadata"]["annotations"]["gateway.kyma-project.io/original-version"] =
            json!("v2");
    });
    let (status, body) = post(s.clone(), "/mutate", incomplete.to_string().into_bytes()).await;
    assert_eq!(status, StatusCode::OK);
    let r = &body["response"];
    assert_eq!(r["allowed"], true);
    assert_eq!(r["patchType"], "JSONPatch");
    // Base64, as Go's []byte is on the wire.
    assert!(r["patch"].is_string(), "{}", r["patch"]);
    let bytes: k8s_openapi::ByteString = serde_json::from_value(r["patch"].clone()).unwrap();
    let patch: Value = serde_json::from_slice(&bytes.0).unwrap();
    assert_eq!(
        patch,
        json!([
            {"op": "add", "path": "/spec/gateway", "value": "kyma-system/kyma-gateway"},
            {"op": "replace", "path": "/spec/hosts/0", "value": "httpbin.example.com"},
            {"op": "add", "path": "/spec/rules/0/jwt/authentications/0/jwksUri",
             "value": "https://tenant.accounts400.ondemand.com/oauth2/certs"},
        ])
    );
    let mut object = incomplete["request"]["object"].clone();
    let ops: json_patch::Patch = serde_json::from_value(patch).unwrap();
    json_patch::patch(&mut object, &ops.0).unwrap();
    assert_eq!(
        object["metadata"],
        incomplete["request"]["object"]["metadata"]
    );

    // A second pass has nothing to do, and the result passes validation.
    let mut again = incomplete.clone();
    again["request"]["object"] = object.clone();
    let (_, body) = post(s.clone(), "/mutate", again.to_string().into_bytes()).await;
    assert!(body["response"].get("patch").is_none());
    assert_eq!(validate(&again).await["allowed"], true);
    assert!(s.metrics.render().contains("decision=\"patched\"} 1"));
}

#[tokio::test]
async fn health_readiness_and_metrics() {
    let s = state(Policy::default());
    let get = |path: &'static str| {
        let app = webhook::health_router(s.clone());
        async move {
            let r = app
                .oneshot(Request::get(path).body(Body::empty()).unwrap())
                .await
                .unwrap();
            let status = r.status();
            let body = axum::body::to_bytes(r.into_body(), usize::MAX)
                .await
                .unwrap();
            (status, String::from_utf8(body.to_vec()).unwrap())
        }
    };
    assert_eq!(get("/healthz").await.0, StatusCode::OK);
    assert_eq!(get("/readyz").await.0, StatusCode::SERVICE_UNAVAILABLE);
    s.ready.store(true, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(get("/readyz").await.0, StatusCode::OK);
    post(
        s.clone(),
        "/validate",
        review(broken_jwt).to_string().into_bytes(),
    )
    .await;
    let (status, text) = get("/metrics").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        text.contains(
            "kexpose_admission_requests_total{endpoint=\"validate\",decision=\"denied\"} 1"
        ),
        "{text}"
    );
    assert!(text.contains("kexpose_admission_findings_total{code=\"J003\"} 1"));
    // Series that have seen nothing exist, at 0.
    for zero in [
        "kexpose_admission_requests_total{endpoint=\"mutate\",decision=\"timed_out\"} 0\n",
        "kexpose_admission_duration_seconds_count{endpoint=\"mutate\"} 0\n",
        "kexpose_reloads_total{what=\"certificate\",result=\"rejected\"} 0\n",
        "kexpose_connections_rejected_total 0\n",
    ] {
        assert!(text.contains(zero), "{zero}{text}");
    }
    assert!(text.contains("kexpose_admission_duration_seconds_count{endpoint=\"validate\"} 1"));
    assert!(text.contains("le=\"+Inf\"} 1"));
}

// ---- The real binary over real TLS ------------------------------------

const SERVICE_NAME: &str = "kexpose.kexpose-system.svc";

fn ca() -> Ca {
    Ca::new("kexpose test CA")
}

/// A leaf for the webhook Service's DNS names: (cert PEM, key PEM).
fn leaf(ca: &Ca) -> (String, String) {
    ca.leaf(&[SERVICE_NAME, &format!("{SERVICE_NAME}.cluster.local")])
}

/// Writes a pair the way the kubelet updates a Secret volume: into a new
/// timestamped directory, then an atomic swap of the `..data` symlink that
/// `tls.crt` and `tls.key` point through.
fn install(dir: &Path, pair: &(String, String), generation: u32) {
    let data = dir.join(format!("..2026_11_29_{generation}"));
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("tls.crt"), &pair.0).unwrap();
    std::fs::write(data.join("tls.key"), &pair.1).unwrap();
    let tmp = dir.join("..data_tmp");
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(data.file_name().unwrap(), &tmp).unwrap();
    std::fs::rename(&tmp, dir.join("..data")).unwrap();
    for f in ["tls.crt", "tls.key"] {
        if std::fs::symlink_metadata(dir.join(f)).is_err() {
            std::os::unix::fs::symlink(format!("..data/{f}"), dir.join(f)).unwrap();
        }
    }
}

struct Server {
    child: Child,
    addr: String,
    health: String,
    /// The log lines the server wrote after "listening".
    log: Arc<std::sync::Mutex<Vec<Value>>>,
    _dir: TempDir,
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Server {
    fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits up to 10 s for the process to exit, which it must do with 0.
    async fn exits_cleanly(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "{status:?}");
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the server did not exit after draining"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(ca: &Ca, name: &str) -> Server {
    start_with(ca, name, &[])
}

fn start_with(ca: &Ca, name: &str, extra: &[&str]) -> Server {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("kexpose-tls-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    install(&dir, &leaf(ca), 0);
    let mut child = common::kexpose()
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--health-listen",
            "127.0.0.1:0",
        ])
        .arg("--tls-dir")
        .arg(&dir)
        .args(["--reload-interval", "1", "--shutdown-grace", "10"])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let first: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(first["msg"], "listening", "{first}");
    assert_eq!(first["level"], "info", "{first}");
    let ts = first["ts"].as_str().unwrap();
    assert!(
        ts.ends_with('Z') && ts.parse::<jiff::Timestamp>().is_ok(),
        "not RFC 3339: {first}"
    );
    // Keep draining the log so the server never blocks on a full pipe.
    let log = Arc::new(std::sync::Mutex::new(Vec::new()));
    let kept = log.clone();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            if let Ok(v) = serde_json::from_str(&line) {
                kept.lock().unwrap().push(v);
            }
        }
    });
    Server {
        child,
        addr: first["addr"].as_str().unwrap().to_owned(),
        health: first["health_addr"].as_str().unwrap().to_owned(),
        log,
        _dir: TempDir(dir),
    }
}

fn client(
    ca: &Ca,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> tokio_rustls::TlsConnector {
    tokio_rustls::TlsConnector::from(Arc::new(client_config(ca, versions)))
}

/// A TLS client that trusts only `ca`.
fn client_config(
    ca: &Ca,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pki_types::CertificateDer::pem_slice_iter(ca.pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(versions)
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    // Every connection does a full handshake: a resumed session would not
    // show the certificate the server serves now.
    config.resumption = rustls::client::Resumption::disabled();
    config
}

use rustls_pki_types::pem::PemObject;

/// One HTTP/1.1 request on a fresh TLS connection that verifies `name`:
/// (status, body, the server's leaf certificate).
async fn https(
    connector: &tokio_rustls::TlsConnector,
    addr: &str,
    name: &str,
    path: &str,
    body: &[u8],
) -> std::io::Result<(u16, Vec<u8>, Vec<u8>)> {
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    // As the API server's client: no Nagle delay between head and body.
    tcp.set_nodelay(true)?;
    let server_name = rustls_pki_types::ServerName::try_from(name.to_owned()).unwrap();
    let mut tls = connector.connect(server_name, tcp).await?;
    let peer = tls.get_ref().1.peer_certificates().unwrap()[0].to_vec();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {name}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    tls.write_all(&[head.as_bytes(), body].concat()).await?;
    let (status, body) = read_response(&mut tls).await?;
    Ok((status, body, peer))
}

async fn read_response(
    stream: &mut (impl AsyncReadExt + Unpin),
) -> std::io::Result<(u16, Vec<u8>)> {
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no header end"))?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(head.to_string()))?;
    Ok((status, raw[split + 4..].to_vec()))
}

async fn http_get(addr: &str, path: &str) -> std::io::Result<u16> {
    Ok(http_get_text(addr, path).await?.0)
}

/// A plain-HTTP GET on the health port: status and body.
async fn http_get_text(addr: &str, path: &str) -> std::io::Result<(u16, String)> {
    let mut tcp = tokio::net::TcpStream::connect(addr).await?;
    tcp.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await?;
    let (status, body) = read_response(&mut tcp).await?;
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_serves_the_service_name_with_tls_1_2_and_1_3() {
    let ca = ca();
    let server = start(&ca, "name");
    let body = fixture().to_string().into_bytes();
    for versions in [
        &[&rustls::version::TLS13][..],
        &[&rustls::version::TLS12][..],
    ] {
        let (status, reply, _) = https(
            &client(&ca, versions),
            &server.addr,
            SERVICE_NAME,
            "/validate",
            &body,
        )
        .await
        .unwrap();
        assert_eq!(status, 200);
        let reply: Value = serde_json::from_slice(&reply).unwrap();
        assert_eq!(reply["response"]["allowed"], true);
    }
    let wrong = https(
        &client(&ca, &[&rustls::version::TLS13]),
        &server.addr,
        "kexpose.other.svc",
        "/validate",
        &body,
    )
    .await;
    assert!(
        wrong.is_err(),
        "a certificate for another name must not verify"
    );
    assert_eq!(http_get(&server.health, "/readyz").await.unwrap(), 200);
    assert_eq!(http_get(&server.health, "/healthz").await.unwrap(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificates_rotate_while_requests_flow() {
    let ca = ca();
    let server = start(&ca, "rotate");
    let connector = client(&ca, &[&rustls::version::TLS13, &rustls::version::TLS12]);
    let body = Arc::new(fixture().to_string().into_bytes());
    let (_, _, first_cert) = https(&connector, &server.addr, SERVICE_NAME, "/validate", &body)
        .await
        .unwrap();

    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut load = Vec::new();
    for _ in 0..4 {
        let (connector, addr, body, stop) = (
            connector.clone(),
            server.addr.clone(),
            body.clone(),
            stop.clone(),
        );
        load.push(tokio::spawn(async move {
            let (mut ok, mut failed, mut certs) =
                (0, Vec::new(), std::collections::BTreeSet::new());
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                match https(&connector, &addr, SERVICE_NAME, "/validate", &body).await {
                    Ok((200, _, cert)) => {
                        ok += 1;
                        certs.insert(cert);
                    }
                    other => failed.push(format!("{other:?}")),
                }
            }
            (ok, failed, certs)
        }));
    }

    // Rotate: a new pair arrives through a `..data` swap.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let dir = server._dir.0.clone();
    let rotated = leaf(&ca);
    install(&dir, &rotated, 1);
    let deadline = Instant::now() + Duration::from_secs(10);
    let new_cert = loop {
        let (_, _, cert) = https(&connector, &server.addr, SERVICE_NAME, "/validate", &body)
            .await
            .unwrap();
        if cert != first_cert {
            break cert;
        }
        assert!(
            Instant::now() < deadline,
            "the new certificate was never served"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let expected = rustls_pki_types::CertificateDer::from_pem_slice(rotated.0.as_bytes()).unwrap();
    assert_eq!(new_cert, expected.to_vec());

    // A broken pair (a key that does not match) is refused; the last good one keeps serving.
    install(&dir, &(rotated.0.clone(), leaf(&ca).1), 2);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut total = 0;
    let mut seen = std::collections::BTreeSet::new();
    for task in load {
        let (ok, failed, certs) = task.await.unwrap();
        assert!(
            failed.is_empty(),
            "requests failed during rotation: {failed:?}"
        );
        total += ok;
        seen.extend(certs);
    }
    assert!(total > 20, "only {total} requests ran");
    assert!(seen.contains(&first_cert) && seen.contains(&new_cert));
    let (_, _, cert) = https(&connector, &server.addr, SERVICE_NAME, "/validate", &body)
        .await
        .unwrap();
    assert_eq!(
        cert, new_cert,
        "the broken pair must not replace the good one"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_in_flight_requests_then_exits() {
    let ca = ca();
    let mut server = start_with(&ca, "drain", &["--drain-delay", "0"]);
    let connector = client(&ca, &[&rustls::version::TLS13]);
    let body = fixture().to_string().into_bytes();

    // A request whose body is only half sent when the signal arrives.
    let tcp = tokio::net::TcpStream::connect(&server.addr).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from(SERVICE_NAME).unwrap();
    let mut tls = connector.connect(name, tcp).await.unwrap();
    let head = format!(
        "POST /validate HTTP/1.1\r\nHost: {SERVICE_NAME}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    tls.write_all(head.as_bytes()).await.unwrap();
    let half = body.len() / 2;
    tls.write_all(&body[..half]).await.unwrap();
    tls.flush().await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    server.terminate();
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Draining: not ready, no new connections, the old request completes.
    assert_eq!(http_get(&server.health, "/readyz").await.unwrap(), 503);
    assert!(tokio::net::TcpStream::connect(&server.addr).await.is_err());
    tls.write_all(&body[half..]).await.unwrap();
    let (code, reply) = read_response(&mut tls).await.unwrap();
    assert_eq!(code, 200);
    let reply: Value = serde_json::from_slice(&reply).unwrap();
    assert_eq!(reply["response"]["allowed"], true);

    server.exits_cleanly().await;
}

/// A rolling update: after SIGTERM the pod is unready at once, but the API
/// server keeps sending to it until its endpoint is gone; every new
/// connection during the drain delay gets a correct review, and only then
/// is the listener closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_keeps_serving_new_connections_for_the_drain_delay() {
    let ca = ca();
    let mut server = start_with(&ca, "drain-delay", &["--drain-delay", "2"]);
    let connector = client(&ca, &[&rustls::version::TLS13]);
    let good = fixture().to_string().into_bytes();
    let bad = review(broken_jwt).to_string().into_bytes();
    assert_eq!(http_get(&server.health, "/readyz").await.unwrap(), 200);

    let signalled = Instant::now();
    server.terminate();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(http_get(&server.health, "/readyz").await.unwrap(), 503);

    // New connections keep getting correct answers during the delay.
    let mut served = 0;
    while signalled.elapsed() < Duration::from_millis(1500) {
        for (body, allowed) in [(&good, true), (&bad, false)] {
            let (code, reply, _) = https(&connector, &server.addr, SERVICE_NAME, "/validate", body)
                .await
                .unwrap();
            assert_eq!(code, 200);
            let reply: Value = serde_json::from_slice(&reply).unwrap();
            assert_eq!(reply["response"]["allowed"], allowed, "{reply}");
            served += 1;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(served >= 10, "{served}");

    // After it, the listener is closed and the process exits 0.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(tokio::net::TcpStream::connect(&server.addr).await.is_err());
    server.exits_cleanly().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_policy_file_is_reloaded_and_a_broken_one_is_refused() {
    let ca = ca();
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("kexpose-policy-reload-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let policy = dir.join("policy.yaml");
    std::fs::copy(common::root().join("policies/default.yaml"), &policy).unwrap();
    let server = start_with(&ca, "policy", &["--policy", policy.to_str().unwrap()]);
    let connector = client(&ca, &[&rustls::version::TLS13]);
    // An unscoped jwt route: fine by default, O007 under the strict policy.
    let body = fixture().to_string().into_bytes();
    let allowed = |reply: Vec<u8>| {
        let v: Value = serde_json::from_slice(&reply).unwrap();
        v["response"]["allowed"].as_bool().unwrap()
    };
    let (_, reply, _) = https(&connector, &server.addr, SERVICE_NAME, "/validate", &body)
        .await
        .unwrap();
    assert!(allowed(reply));

    std::fs::copy(common::root().join("policies/strict.yaml"), &policy).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, reply, _) = https(&connector, &server.addr, SERVICE_NAME, "/validate", &body)
            .await
            .unwrap();
        if !allowed(reply) {
            break;
        }
        assert!(Instant::now() < deadline, "the new policy never applied");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A broken policy is refused; the strict one stays in force.
    std::fs::write(
        &policy,
        "apiVersion: kexpose.dev/v1alpha1\nkind: Policy\nspec:\n  rules: {J003: sometimes}\n",
    )
    .unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let (_, reply, _) = https(&connector, &server.addr, SERVICE_NAME, "/validate", &body)
        .await
        .unwrap();
    assert!(
        !allowed(reply),
        "the broken policy must not replace the strict one"
    );
    // Both reloads are counted by result.
    let metrics = http_get_text(&server.health, "/metrics").await.unwrap().1;
    for line in [
        "kexpose_reloads_total{what=\"policy\",result=\"ok\"} 1\n",
        "kexpose_reloads_total{what=\"policy\",result=\"rejected\"} 1\n",
        "kexpose_reloads_total{what=\"lock\",result=\"ok\"} 0\n",
    ] {
        assert!(metrics.contains(line), "{line}{metrics}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_denies_an_issuer_off_by_a_trailing_slash_and_is_reloaded() {
    let ca = ca();
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("kexpose-lock-reload-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let lock = dir.join("kexpose.lock");
    let policy = dir.join("policy.yaml");
    std::fs::copy(common::root().join("policies/default.yaml"), &policy).unwrap();
    let locked = |issuer: &str| {
        format!(
            "apiVersion: kexpose.dev/v1alpha1\nkind: Lock\nissuers:\n  {issuer}:\n    jwksUri: https://tenant.accounts400.ondemand.com/oauth2/certs\n    keyIds: [k1]\n    fetchedAt: 2026-11-30T09:00:00Z\n"
        )
    };
    // Discovery names the issuer with a trailing slash; the fixture has none.
    std::fs::write(&lock, locked("https://tenant.accounts400.ondemand.com/")).unwrap();
    let server = start_with(
        &ca,
        "lock",
        &[
            "--lock",
            lock.to_str().unwrap(),
            "--policy",
            policy.to_str().unwrap(),
        ],
    );
    let connector = client(&ca, &[&rustls::version::TLS13]);
    let body = fixture().to_string().into_bytes();
    let decision = || async {
        let (_, reply, _) = https(&connector, &server.addr, SERVICE_NAME, "/validate", &body)
            .await
            .unwrap();
        let v: Value = serde_json::from_slice(&reply).unwrap();
        (
            v["response"]["allowed"].as_bool().unwrap(),
            v["response"]["status"]["message"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        )
    };
    let (allowed, message) = decision().await;
    assert!(!allowed);
    assert!(message.contains("(J014)"), "{message}");

    // A policy reload keeps what the lock says.
    let text = std::fs::read_to_string(&policy).unwrap();
    std::fs::write(&policy, format!("# edited\n{text}")).unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(!decision().await.0, "the policy reload dropped the lock");

    // The lock corrected: the same object is admitted.
    std::fs::write(&lock, locked("https://tenant.accounts400.ondemand.com")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !decision().await.0 {
        assert!(Instant::now() < deadline, "the new lock never applied");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// Peak resident memory of a process, in KiB (VmHWM).
fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// A TLS connection that has sent `sent` and then nothing more.
async fn stalled(
    connector: &tokio_rustls::TlsConnector,
    addr: &str,
    sent: &[u8],
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from(SERVICE_NAME).unwrap();
    let mut tls = connector.connect(name, tcp).await.unwrap();
    tls.write_all(sent).await.unwrap();
    tls.flush().await.unwrap();
    tls
}

/// Slowloris: hundreds of idle connections, half-sent headers and half-sent
/// bodies. A normal client keeps getting correct reviews within its budget,
/// every slow connection is closed after its timeout, and the webhook's
/// memory stays within budget.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn slow_and_idle_clients_are_closed_while_reviews_flow() {
    let ca = ca();
    let server = start_with(
        &ca,
        "slowloris",
        &[
            "--header-read-timeout",
            "2",
            "--request-timeout",
            "2",
            "--idle-timeout",
            "3",
        ],
    );
    let connector = client(&ca, &[&rustls::version::TLS13]);
    let body = fixture().to_string().into_bytes();
    let head = format!(
        "POST /validate HTTP/1.1\r\nHost: {SERVICE_NAME}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let opened = Instant::now();
    let mut slow = Vec::new();
    for i in 0..300 {
        let sent: Vec<u8> = match i % 3 {
            0 => Vec::new(),
            1 => head.as_bytes()[..head.len() / 2].to_vec(),
            _ => [head.as_bytes(), &body[..body.len() / 2]].concat(),
        };
        slow.push(stalled(&connector, &server.addr, &sent).await);
    }

    // Meanwhile a normal client: every review correct, each within 1 s.
    let mut slowest = Duration::ZERO;
    let mut served = 0;
    while opened.elapsed() < Duration::from_secs(4) {
        let started = Instant::now();
        let (code, reply, _) = https(&connector, &server.addr, SERVICE_NAME, "/validate", &body)
            .await
            .unwrap();
        slowest = slowest.max(started.elapsed());
        assert_eq!(code, 200);
        let reply: Value = serde_json::from_slice(&reply).unwrap();
        assert_eq!(reply["response"]["allowed"], true);
        served += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(served >= 20, "{served}");
    assert!(slowest < Duration::from_secs(1), "{slowest:?}");

    // Every slow connection is closed by the server: an idle one after 3 s,
    // half-sent headers after 2 s, a half-sent body answered 408 after 2 s
    // and closed once idle.
    let mut timed_out_bodies = 0;
    for (i, mut tls) in slow.into_iter().enumerate() {
        let mut rest = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(8), tls.read_to_end(&mut rest)).await;
        assert!(
            read.is_ok(),
            "connection {i} still open after {:?}",
            opened.elapsed()
        );
        if String::from_utf8_lossy(&rest).starts_with("HTTP/1.1 408") {
            timed_out_bodies += 1;
        }
    }
    assert_eq!(timed_out_bodies, 100);
    assert!(
        opened.elapsed() < Duration::from_secs(12),
        "{:?}",
        opened.elapsed()
    );
    let peak = peak_rss_kib(server.child.id());
    assert!(peak < 64 * 1024, "peak RSS {peak} KiB");
}

/// Beyond --max-connections, new connections are closed at once and
/// counted; the ones already open are served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_limit_are_closed_and_counted() {
    let ca = ca();
    let server = start_with(&ca, "max-connections", &["--max-connections", "3"]);
    let connector = client(&ca, &[&rustls::version::TLS13]);
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(stalled(&connector, &server.addr, b"").await);
    }
    let mut extra = tokio::net::TcpStream::connect(&server.addr).await.unwrap();
    let mut buf = [0u8; 1];
    let closed = tokio::time::timeout(Duration::from_secs(2), extra.read(&mut buf)).await;
    assert!(matches!(closed, Ok(Ok(0)) | Ok(Err(_))), "{closed:?}");
    let metrics = http_get_text(&server.health, "/metrics").await.unwrap().1;
    assert!(
        metrics.contains("kexpose_connections_rejected_total 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("kexpose_build_info{version=\""),
        "{metrics}"
    );
    // A slot freed is a slot used again.
    drop(held.pop());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let body = fixture().to_string().into_bytes();
    let (code, _, _) = https(&connector, &server.addr, SERVICE_NAME, "/validate", &body)
        .await
        .unwrap();
    assert_eq!(code, 200);
}

/// `KEXPOSE_LOG=warn` keeps the info lines (listening, one per decision,
/// stopped) out and the warnings in; `--log-format text` writes them as
/// `key=value`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_filter_keeps_info_lines_out() {
    let ca = ca();
    let dir = TempDir(
        Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("kexpose-tls-log-filter-{}", std::process::id())),
    );
    std::fs::create_dir_all(&dir.0).unwrap();
    install(&dir.0, &leaf(&ca), 0);
    let free = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .to_string()
    };
    let (addr, health) = (free(), free());
    let child = common::kexpose()
        .args(["serve", "--listen", &addr, "--health-listen", &health])
        .arg("--tls-dir")
        .arg(&dir.0)
        .args(["--log-format", "text", "--drain-delay", "0"])
        .env("KEXPOSE_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while http_get(&health, "/readyz").await.ok() != Some(200) {
        assert!(Instant::now() < deadline, "the server never became ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let connector = client(&ca, &[&rustls::version::TLS13]);
    let body = fixture().to_string().into_bytes();
    let ok = https(&connector, &addr, SERVICE_NAME, "/validate", &body).await;
    assert_eq!(ok.unwrap().0, 200);
    let bad = https(&connector, &addr, SERVICE_NAME, "/validate", b"{not json").await;
    assert_eq!(bad.unwrap().0, 400);
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let log = String::from_utf8(out.stderr).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 1, "{log}");
    let (ts, rest) = lines[0].split_once(' ').unwrap();
    assert!(
        ts.strip_prefix("ts=")
            .unwrap()
            .parse::<jiff::Timestamp>()
            .is_ok(),
        "{log}"
    );
    assert!(
        rest.starts_with("level=warn msg=\"bad request\" endpoint=\"validate\" error="),
        "{log}"
    );
}

/// A log filter that does not parse stops the webhook before it listens.
#[test]
fn a_bad_log_filter_is_refused_at_start() {
    let out = common::kexpose()
        .args(["serve", "--tls-dir", "/nonexistent"])
        .env("KEXPOSE_LOG", "info,=x=")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("log filter \"info,=x=\""), "{err}");
}

/// The one-time work (schemas, regular expressions) is done before the
/// server says it listens: its first review costs what later ones cost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_review_costs_what_later_ones_cost() {
    let ca = ca();
    let server = start(&ca, "warm");
    let connector = client(&ca, &[&rustls::version::TLS13]);
    let body = fixture().to_string().into_bytes();
    for _ in 0..11 {
        let (code, _, _) = https(&connector, &server.addr, SERVICE_NAME, "/validate", &body)
            .await
            .unwrap();
        assert_eq!(code, 200);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let latencies: Vec<f64> = server
        .log
        .lock()
        .unwrap()
        .iter()
        .filter(|v| v["msg"] == "admission")
        .map(|v| v["latency_ms"].as_f64().unwrap())
        .collect();
    assert_eq!(latencies.len(), 11, "{latencies:?}");
    let mut later = latencies[1..].to_vec();
    later.sort_by(f64::total_cmp);
    let median = later[later.len() / 2];
    assert!(
        latencies[0] <= (3.0 * median).max(3.0),
        "first {} ms, later median {median} ms: {latencies:?}",
        latencies[0]
    );
}

/// As the API server sends them: many reviews at once on one HTTP/2
/// connection, each answered with its own uid and decision (answers that
/// are ready together share writes; the serve benchmark counts them).
#[tokio::test(flavor = "current_thread")]
async fn concurrent_reviews_on_one_http2_connection_get_their_own_answers() {
    use http_body_util::BodyExt;
    use hyper_util::rt::{TokioExecutor, TokioIo};

    const REVIEWS: usize = 100;
    let ca = ca();
    let server = start(&ca, "h2");
    let mut config = client_config(&ca, &[&rustls::version::TLS13]);
    config.alpn_protocols = vec![b"h2".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(&server.addr).await.unwrap();
    tcp.set_nodelay(true).unwrap();
    let name = rustls_pki_types::ServerName::try_from(SERVICE_NAME).unwrap();
    let tls = connector.connect(name, tcp).await.unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
            .await
            .unwrap();
    tokio::spawn(connection);
    let post = |uid: String, broken: bool| {
        let body = review(|req| {
            req["uid"] = json!(uid);
            if broken {
                broken_jwt(req);
            }
        });
        hyper::Request::post(format!("https://{SERVICE_NAME}/validate"))
            .header("content-type", "application/json")
            .body(http_body_util::Full::new(axum::body::Bytes::from(
                body.to_string(),
            )))
            .unwrap()
    };
    // All at once, every other one broken, each with its own uid: the
    // requests are queued before the client's connection task runs.
    let pending: Vec<_> = (0..REVIEWS)
        .map(|i| sender.send_request(post(format!("review-{i}"), i % 2 == 1)))
        .collect();
    for (i, response) in pending.into_iter().enumerate() {
        let response = response.await.unwrap();
        assert_eq!(response.status(), 200);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let review: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(review["response"]["uid"], format!("review-{i}"));
        assert_eq!(review["response"]["allowed"], i % 2 == 0, "{review}");
    }
}

/// A port already taken, or certificates that cannot be read, end the
/// server at once with exit 2 and one line naming what failed.
#[test]
fn a_server_that_cannot_start_says_why() {
    let ca = ca();
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("kexpose-tls-cannot-start-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    install(&dir, &leaf(&ca), 0);
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap();
    let serve = |tls: &std::path::Path| {
        common::kexpose()
            .args([
                "serve",
                "--listen",
                &port.to_string(),
                "--health-listen",
                "127.0.0.1:0",
            ])
            .arg("--tls-dir")
            .arg(tls)
            .output()
            .unwrap()
    };
    let out = serve(&dir);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("cannot listen on {port}: ")),
        "{stderr}"
    );
    let out = serve(&dir.join("missing"));
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("missing"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The self-service suppression of the security review: an APIRule that
/// breaks three organisation rules listed them in its own
/// `kexpose.dev/suppress` annotation and was allowed. Suppression is the
/// policy's to grant: by default no O rule and no R010 is suppressible, so
/// the object is denied for all three, with O011 naming each refused
/// entry; a v1beta1 object cannot suppress R010 either.
#[tokio::test]
async fn self_service_suppression_of_organisation_rules_is_refused() {
    let policy = Policy::parse(
        "apiVersion: kexpose.dev/v1alpha1\nkind: Policy\nspec: {hosts: {domains: [apps.acme.com]}, noAuth: {allowed: false}, gateways: {allowed: [kyma-system/kyma-gateway]}}\n",
    )
    .unwrap();
    let attack = |annotation: Option<&str>| {
        review(|req| {
            let spec = &mut req["object"]["spec"];
            spec["hosts"] = json!(["evil.example.org"]);
            spec["gateway"] = json!("attacker/gw");
            spec["rules"] = json!([{"path": "/{**}", "methods": ["GET"], "noAuth": true}]);
            if let Some(a) = annotation {
                req["object"]["metadata"]["annotations"]["kexpose.dev/suppress"] = json!(a);
            }
        })
    };
    let plain = validate_with(policy.clone(), &attack(None)).await;
    assert_eq!(plain["allowed"], false, "{plain}");
    let suppressed =
        validate_with(policy.clone(), &attack(Some("O003: x; O005: x; O006: x"))).await;
    assert_eq!(suppressed["allowed"], false, "{suppressed}");
    let message = suppressed["status"]["message"].as_str().unwrap();
    for code in ["O003", "O005", "O006", "O011"] {
        assert!(message.contains(code), "{code} missing from {message}");
    }
    assert!(
        message.contains("is not granted by the policy, which does not let objects suppress O006"),
        "{message}"
    );

    let legacy = review(|req| {
        for k in ["kind", "requestKind"] {
            req[k]["version"] = json!("v1beta1");
        }
        req["object"] = json!({
            "apiVersion": "gateway.kyma-project.io/v1beta1", "kind": "APIRule",
            "metadata": {"name": "httpbin", "namespace": "default",
                         "annotations": {"kexpose.dev/suppress": "R010: x"}},
            "spec": {"host": "httpbin.apps.acme.com", "gateway": "kyma-system/kyma-gateway",
                     "service": {"name": "httpbin", "port": 8000},
                     "rules": [{"path": "/.*", "methods": ["GET"], "accessStrategies": [{"handler": "jwt", "config": {"jwks_urls": ["https://idp.acme.com/keys"], "trusted_issuers": ["https://idp.acme.com"]}}]}]}
        });
    });
    let legacy = validate_with(policy, &legacy).await;
    assert_eq!(legacy["allowed"], false, "{legacy}");
    let message = legacy["status"]["message"].as_str().unwrap();
    assert!(
        message.contains("R010") && message.contains("O011"),
        "{message}"
    );
}

/// Direct callers of the webhook reach it without the API server's checks:
/// a review for APIRules whose object does not read as one is denied, not
/// let through with a warning; and the namespace the rules judge is the
/// request's, not one the object names for itself.
#[tokio::test]
async fn fail_closed_an_apirule_request_is_judged_as_stored() {
    let body = validate_with(
        Policy::default(),
        &review(|req| {
            req["object"]["kind"] = json!("ConfigMap");
            req["object"]["apiVersion"] = json!("v1");
        }),
    )
    .await;
    assert_eq!(body["allowed"], false, "{body}");
    let message = body["status"]["message"].as_str().unwrap();
    assert!(
        message.contains(
            "the request is for gateway.kyma-project.io apirules, but its object is not an APIRule"
        ),
        "{message}"
    );
    // Another resource is still only warned about.
    let other = validate_with(
        Policy::default(),
        &review(|req| {
            req["object"]["kind"] = json!("ConfigMap");
            req["object"]["apiVersion"] = json!("v1");
            req["resource"] = json!({"group": "", "version": "v1", "resource": "configmaps"});
        }),
    )
    .await;
    assert_eq!(other["allowed"], true, "{other}");

    // noAuth is allowed in sandbox namespaces only; the object claims one.
    let policy = Policy::parse(
        "apiVersion: kexpose.dev/v1alpha1\nkind: Policy\nspec: {noAuth: {allowed: false, namespaces: [\"sandbox-.*\"]}}\n",
    )
    .unwrap();
    let public = |object_ns: &str, request_ns: &str| {
        review(|req| {
            req["namespace"] = json!(request_ns);
            req["object"]["metadata"]["namespace"] = json!(object_ns);
            req["object"]["spec"]["rules"] =
                json!([{"path": "/{**}", "methods": ["GET"], "noAuth": true}]);
        })
    };
    let claimed = validate_with(policy.clone(), &public("sandbox-a", "prod-shop")).await;
    assert_eq!(claimed["allowed"], false, "{claimed}");
    let message = claimed["status"]["message"].as_str().unwrap();
    assert!(
        message.contains("in namespace \"prod-shop\"") && message.contains("O006"),
        "{message}"
    );
    let sandbox = validate_with(policy, &public("prod-shop", "sandbox-a")).await;
    assert_eq!(sandbox["allowed"], true, "{sandbox}");
}

/// Bounded work: a review of 16,000 rules (seven methods each) was judged
/// for 13.7 s, R005 and J010 comparing every pair. Over the size budget
/// the object is denied at once, saying what it holds and the limit; at
/// the budget it is still judged.
#[tokio::test]
async fn an_object_of_sixteen_thousand_rules_is_refused_at_once() {
    let rules = |n: usize| -> Value {
        (0..n)
            .map(|i| json!({"path": format!("/r{i}"), "methods": ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"],
                            "jwt": {"authentications": [{"issuer": "https://idp.example.com", "jwksUri": "https://idp.example.com/keys"}]}}))
            .collect()
    };
    for endpoint in ["/validate", "/mutate"] {
        let huge = review(|req| req["object"]["spec"]["rules"] = rules(16_000));
        let (status, body) = post(
            state(Policy::default()),
            endpoint,
            huge.to_string().into_bytes(),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["response"]["allowed"], false, "{endpoint}");
        let message = body["response"]["status"]["message"].as_str().unwrap();
        assert!(
            message.contains("spec.rules holds 16000 entries, more than the 1000 kexpose judges"),
            "{message}"
        );
    }
    let hosts =
        review(|req| req["object"]["spec"]["hosts"] = json!(vec!["a.example.com"; 200_000]));
    let (_, body) = post(
        state(Policy::default()),
        "/mutate",
        hosts.to_string().into_bytes(),
    )
    .await;
    assert_eq!(body["response"]["allowed"], false);
    assert!(
        body["response"].get("patch").is_none(),
        "{}",
        body["response"]["status"]
    );

    let at_budget = review(|req| {
        req["object"]["spec"]["rules"] = rules(kexpose::webhook::budget::RULES);
    });
    let body = validate(&at_budget).await;
    let message = body["status"]["message"].as_str().unwrap_or_default();
    assert!(!message.contains("kexpose judges"), "{message}");
}
