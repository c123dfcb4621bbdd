//! `lock`, `token` and `probe` against a real OpenID provider (npm
//! oidc-provider) and a resource server that verifies tokens against its
//! JWKS (`common::oidc`).

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::oidc::Provider;
use common::{kexpose, temp_dir, write};
use serde_json::Value;

const SECRET: &str = "kexpose-secret";

fn provider() -> &'static Provider {
    static PROVIDER: OnceLock<Provider> = OnceLock::new();
    PROVIDER.get_or_init(Provider::start)
}

/// kexpose trusting the test CA, with the default client credentials.
fn client() -> Command {
    let mut c = kexpose();
    c.env("KEXPOSE_CA_FILE", &provider().ca)
        .env("CLIENT_ID", "kexpose")
        .env("CLIENT_SECRET", SECRET);
    c
}

fn output(mut c: Command, args: &[&str]) -> Output {
    c.args(args).output().expect("kexpose runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A spec directory: one shared issuer (no jwksUri) and one exposure.
fn specs(name: &str, issuer: &str) -> PathBuf {
    let dir = temp_dir(name);
    write(
        &dir,
        "issuers.yaml",
        format!(
            "apiVersion: kexpose.dev/v1alpha1\nkind: Issuers\nmetadata:\n  name: idp\nspec:\n  issuers:\n    idp:\n      issuer: {issuer}\n"
        )
        .as_bytes(),
    );
    write(
        &dir,
        "app.yaml",
        b"apiVersion: kexpose.dev/v1alpha1\nkind: Exposure\nmetadata:\n  name: app\n  namespace: shop\nspec:\n  service:\n    name: app\n    port: 8080\n  host: app\n  routes:\n    - path: /*\n      methods: [GET]\n      jwt:\n        issuer: idp\n        scopes: [read]\n",
    );
    dir
}

fn lock_in(dir: &Path) -> String {
    let text = std::fs::read_to_string(dir.join("kexpose.lock")).unwrap();
    assert!(text.starts_with("# OpenID discovery results"), "{text}");
    text
}

fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn token(client_id: &str, scope: &str) -> String {
    let mut c = client();
    c.env("CLIENT_ID", client_id)
        .env("CLIENT_SECRET", format!("{client_id}-secret"));
    let out = output(
        c,
        &["token", "--issuer", &provider().issuer, "--scope", scope],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out).trim().to_owned()
}

#[test]
fn lock_records_discovery_and_render_fills_jwks_uri_from_it() {
    let p = provider();
    let dir = specs("lock-happy", &p.issuer);

    let before = output(kexpose(), &["render", dir.to_str().unwrap()]);
    assert_eq!(before.status.code(), Some(1), "no jwksUri, no lock: X002");
    assert!(stderr(&before).contains("X002"), "{}", stderr(&before));

    let mut c = client();
    c.current_dir(&dir);
    let locked = output(c, &["lock", "."]);
    assert!(locked.status.success(), "{}", stderr(&locked));
    let text = lock_in(&dir);
    let lock = kexpose::identity::lock::Lock::parse(&text).unwrap();
    let entry = &lock.issuers[&p.issuer];
    assert_eq!(lock.issuers.len(), 1, "{text}");
    assert_eq!(entry.jwks_uri, p.jwks_uri);
    assert_eq!(
        entry.token_endpoint.as_deref(),
        Some(format!("{}/token", p.issuer).as_str())
    );
    assert_eq!(entry.key_ids, vec![p.kid.as_str()]);
    assert!(entry.fetched_at.starts_with("20"), "{text}");

    // Render picks up ./kexpose.lock by itself.
    let mut c = kexpose();
    c.current_dir(&dir);
    let rendered = output(c, &["render", "."]);
    assert!(rendered.status.success(), "{}", stderr(&rendered));
    let yaml = stdout(&rendered);
    assert!(yaml.contains(&format!("issuer: {}\n", p.issuer)), "{yaml}");
    assert!(
        yaml.contains(&format!("jwksUri: {}\n", p.jwks_uri)),
        "{yaml}"
    );

    // So does check: the spec is fine once locked.
    let mut c = kexpose();
    c.current_dir(&dir);
    let checked = output(c, &["check", "."]);
    assert!(checked.status.success(), "{}", stdout(&checked));

    let mut c = client();
    c.current_dir(&dir);
    let fresh = output(c, &["lock", "--check", "."]);
    assert!(fresh.status.success(), "{}", stderr(&fresh));
    assert!(stderr(&fresh).contains("is up to date"));
}

#[test]
fn render_reads_the_lock_without_the_network() {
    // The issuer does not exist anywhere: render must not need it.
    let dir = specs("lock-offline", "https://id.invalid");
    let lock = write(
        &dir,
        "custom.lock",
        b"apiVersion: kexpose.dev/v1alpha1\nkind: Lock\nissuers:\n  https://id.invalid:\n    jwksUri: https://id.invalid/keys\n    keyIds: [k]\n    fetchedAt: 2026-11-30T00:00:00Z\n",
    );
    let out = output(
        kexpose(),
        &[
            "render",
            dir.to_str().unwrap(),
            "--lock",
            lock.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("jwksUri: https://id.invalid/keys\n"));

    // A jwksUri written in the spec wins, with a warning that it is not
    // the discovered one.
    let own = dir.join("issuers.yaml");
    let text = std::fs::read_to_string(&own).unwrap();
    std::fs::write(
        &own,
        format!("{text}      jwksUri: https://id.invalid/old-keys\n"),
    )
    .unwrap();
    let out = output(
        kexpose(),
        &[
            "render",
            dir.to_str().unwrap(),
            "--lock",
            lock.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("jwksUri: https://id.invalid/old-keys\n"));
    assert!(stderr(&out).contains("warning[J015]"), "{}", stderr(&out));
    std::fs::write(&own, text).unwrap();

    let broken = write(&dir, "broken.lock", b"kind: [unclosed\n");
    let out = output(
        kexpose(),
        &[
            "render",
            dir.to_str().unwrap(),
            "--lock",
            broken.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("broken.lock"), "{}", stderr(&out));
    assert!(out.stdout.is_empty());

    let binary = write(&dir, "binary.lock", b"\xff\xfe\x00lock");
    let out = output(
        kexpose(),
        &[
            "check",
            dir.to_str().unwrap(),
            "--lock",
            binary.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("binary.lock:1:1:"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn lock_check_fails_when_specs_and_lock_part_ways() {
    let p = provider();
    let dir = specs("lock-check", &p.issuer);
    let lock = dir.join("kexpose.lock");
    let lock_arg = lock.to_str().unwrap();
    let d = dir.to_str().unwrap();

    let missing = output(
        client(),
        &["lock", "--check", "--offline", d, "--lock", lock_arg],
    );
    assert_eq!(missing.status.code(), Some(1));
    // No lock, and the issuer sets no jwksUri: which one, where, and the
    // whole command that writes the lock.
    assert_eq!(
        stderr(&missing),
        format!(
            "kexpose: {lock_arg} is missing, and 1 issuer(s) set no jwksUri:\n  {} in {d}/issuers.yaml (idp)\nkexpose: set their jwksUri, or record discovery with `kexpose lock {d} --lock {lock_arg}`\n",
            p.issuer
        )
    );

    assert!(
        output(client(), &["lock", d, "--lock", lock_arg])
            .status
            .success()
    );
    let ok = output(
        client(),
        &["lock", "--check", "--offline", d, "--lock", lock_arg],
    );
    assert!(ok.status.success(), "{}", stderr(&ok));

    // A second issuer named by a spec, not in the lock.
    write(
        &dir,
        "more.yaml",
        b"apiVersion: kexpose.dev/v1alpha1\nkind: Issuers\nmetadata:\n  name: more\nspec:\n  issuers:\n    other:\n      issuer: https://other.invalid\n      jwksUri: https://other.invalid/keys\n",
    );
    let added = output(
        client(),
        &["lock", "--check", "--offline", d, "--lock", lock_arg],
    );
    assert_eq!(added.status.code(), Some(1));
    assert!(
        stderr(&added).contains("https://other.invalid: named in")
            && stderr(&added).contains("(other) but not locked"),
        "{}",
        stderr(&added)
    );
    std::fs::remove_file(dir.join("more.yaml")).unwrap();

    // The issuer renamed at the provider side: the locked one is stale.
    std::fs::write(
        dir.join("issuers.yaml"),
        format!(
            "apiVersion: kexpose.dev/v1alpha1\nkind: Issuers\nmetadata:\n  name: idp\nspec:\n  issuers:\n    idp:\n      issuer: {}/tenant\n      jwksUri: {}\n",
            p.issuer, p.jwks_uri
        ),
    )
    .unwrap();
    let stale = output(
        client(),
        &["lock", "--check", "--offline", d, "--lock", lock_arg],
    );
    assert_eq!(stale.status.code(), Some(1));
    assert!(
        stderr(&stale).contains(&format!("{}: locked but no spec names it", p.issuer)),
        "{}",
        stderr(&stale)
    );
}

#[test]
fn lock_check_compares_with_discovery_and_notes_rotated_keys() {
    let p = provider();
    let dir = specs("lock-check-online", &p.issuer);
    let lock = |jwks: &str, kid: &str| {
        write(
            &dir,
            "kexpose.lock",
            format!(
                "apiVersion: kexpose.dev/v1alpha1\nkind: Lock\nissuers:\n  {}:\n    jwksUri: {jwks}\n    tokenEndpoint: {}/token\n    keyIds: [\"{kid}\"]\n    fetchedAt: 2026-11-01T00:00:00Z\n",
                p.issuer, p.issuer
            )
            .as_bytes(),
        )
    };
    let check = || {
        let mut c = client();
        c.current_dir(&dir);
        output(c, &["lock", "--check", "."])
    };

    lock(&p.jwks_uri, "retired-key");
    let rotated = check();
    assert!(rotated.status.success(), "{}", stderr(&rotated));
    assert!(
        stderr(&rotated).contains(&format!("locked: retired-key; now: {}", p.kid)),
        "{}",
        stderr(&rotated)
    );

    lock(&format!("{}/old-keys", p.issuer), &p.kid);
    let moved = check();
    assert_eq!(moved.status.code(), Some(1));
    assert!(
        stderr(&moved).contains(&format!(
            "jwksUri is locked as \"{}/old-keys\" but discovery now says \"{}\"",
            p.issuer, p.jwks_uri
        )),
        "{}",
        stderr(&moved)
    );
}

/// `kexpose lock` on a spec directory whose discovery must fail: exit 1,
/// and the lock file exactly as it was (or still absent). Returns stderr.
fn failed_lock(mut c: Command, dir: &Path, extra: &[&str]) -> String {
    let lock = dir.join("kexpose.lock");
    let before = std::fs::read(&lock).ok();
    let out = c
        .arg("lock")
        .arg(dir)
        .arg("--lock")
        .arg(&lock)
        .args(extra)
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("failed discovery"), "{err}");
    assert_eq!(
        std::fs::read(&lock).ok(),
        before,
        "a failed lock writes nothing"
    );
    err
}

#[test]
fn a_trailing_slash_issuer_is_refused_and_nothing_is_written() {
    let p = provider();
    let dir = specs("lock-mismatch", &format!("{}/", p.issuer));
    let err = failed_lock(client(), &dir, &[]);
    assert!(err.contains("issuer mismatch"), "{err}");
    assert!(err.contains("differ only in the trailing slash"), "{err}");
    assert!(err.contains("Jwt issuer is not configured"), "{err}");
    assert!(!dir.join("kexpose.lock").exists());
}

#[test]
fn an_unreachable_issuer_leaves_the_existing_lock_alone() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let dir = specs("lock-unreachable", &format!("https://localhost:{port}"));
    write(&dir, "kexpose.lock", b"# the previous lock\n");
    let err = failed_lock(client(), &dir, &[]);
    assert!(err.contains("cannot connect"), "{err}");
    assert!(err.contains("not written"), "{err}");
}

#[test]
fn plain_http_needs_to_be_allowed() {
    let dir = specs("lock-http", "http://localhost:1");
    let err = failed_lock(client(), &dir, &[]);
    assert!(err.contains("plain http is refused"), "{err}");
}

#[test]
fn an_untrusted_certificate_is_refused() {
    let p = provider();
    let dir = specs("lock-untrusted", &p.issuer);
    let mut c = client();
    c.env_remove("KEXPOSE_CA_FILE");
    let err = failed_lock(c, &dir, &[]);
    assert!(err.contains("TLS: invalid peer certificate"), "{err}");
}

#[test]
fn token_runs_the_client_credentials_grant() {
    let p = provider();
    let out = output(
        client(),
        &[
            "token",
            "--issuer",
            &p.issuer,
            "--scope",
            "read",
            "--show-claims",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let token = stdout(&out);
    assert_eq!(token.lines().count(), 1, "only the token on stdout");
    let c = claims(token.trim());
    assert_eq!(c["iss"], p.issuer.as_str());
    assert_eq!(c["aud"], p.audience.as_str());
    assert_eq!(c["client_id"], "kexpose");
    assert_eq!(c["scope"], "read");
    let shown: Value = serde_json::from_str(&stderr(&out)).expect("claims as JSON on stderr");
    assert_eq!(shown, c);

    let json = output(
        client(),
        &[
            "token",
            "--issuer",
            &p.issuer,
            "--output",
            "json",
            "--show-claims",
        ],
    );
    assert!(json.status.success(), "{}", stderr(&json));
    let v: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["expires_in"], 600);
    assert_eq!(v["claims"]["sub"], "kexpose");
    for o in [&out, &json] {
        assert!(!stdout(o).contains(SECRET) && !stderr(o).contains(SECRET));
    }
}

#[test]
fn token_takes_the_endpoint_from_the_lock() {
    // A lock entry for an issuer that cannot be discovered: only the lock
    // can have told kexpose where its token endpoint is.
    let p = provider();
    let dir = temp_dir("token-lock");
    let mut c = client();
    c.current_dir(&dir);
    let nothing = output(c, &["token"]);
    assert_eq!(
        nothing.status.code(),
        Some(2),
        "no lock, no issuer: a usage error"
    );
    assert!(
        stderr(&nothing).contains("name the issuer with --issuer"),
        "{}",
        stderr(&nothing)
    );
    let lock = write(
        &dir,
        "kexpose.lock",
        format!(
            "apiVersion: kexpose.dev/v1alpha1\nkind: Lock\nissuers:\n  https://id.invalid:\n    jwksUri: {}\n    tokenEndpoint: {}/token\n    keyIds: []\n    fetchedAt: 2026-11-30T00:00:00Z\n",
            p.jwks_uri, p.issuer
        )
        .as_bytes(),
    );
    let mut c = client();
    c.current_dir(&dir);
    let out = output(c, &["token"]);
    assert!(
        out.status.success(),
        "the lock's only issuer: {}",
        stderr(&out)
    );
    assert_eq!(claims(stdout(&out).trim())["iss"], p.issuer.as_str());

    let out = output(
        client(),
        &[
            "token",
            "--issuer",
            "https://id.invalid",
            "--lock",
            lock.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn a_wrong_secret_is_refused_without_showing_it() {
    let p = provider();
    let wrong = "not-the-secret-4711";
    let mut c = client();
    c.env("CLIENT_SECRET", wrong);
    let out = output(c, &["token", "--issuer", &p.issuer]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = stderr(&out);
    assert!(err.contains("answered 401: invalid_client"), "{err}");
    assert!(err.contains("check the client id and secret"), "{err}");
    assert!(!err.contains(wrong), "{err}");

    let mut c = client();
    c.env_remove("CLIENT_SECRET");
    let out = output(c, &["token", "--issuer", &p.issuer]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("set CLIENT_SECRET"),
        "{}",
        stderr(&out)
    );
}

fn probe(args: &[&str]) -> (Output, Value) {
    let mut all = vec!["probe", "--output", "json"];
    all.extend_from_slice(args);
    let out = output(client(), &all);
    let report = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("a JSON report ({e}): {}{}", stdout(&out), stderr(&out)));
    (out, report)
}

/// `name -> (passed, observed status)` of a probe report.
fn verdicts(report: &Value) -> Vec<(String, bool, String)> {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_owned(),
                c["passed"].as_bool().unwrap(),
                c["observed"].as_str().unwrap().chars().take(3).collect(),
            )
        })
        .collect()
}

/// Asserts that the report holds this check with this verdict, its
/// observation starting with `observed` (a status code, `exp`, ...).
fn assert_check(report: &Value, name: &str, passed: bool, observed: &str) {
    let v = verdicts(report);
    assert!(
        v.contains(&(name.to_owned(), passed, observed.to_owned())),
        "{v:?}"
    );
}

#[test]
fn probe_passes_on_a_protected_endpoint_with_a_valid_token() {
    let p = provider();
    let url = format!("{}/headers", p.resource);
    let (out, report) = probe(&[
        &url,
        "--issuer",
        &p.issuer,
        "--scope",
        "read",
        "--expect-scope",
        "read",
        "--expect-audience",
        &p.audience,
    ]);
    assert!(out.status.success(), "{report:#}");
    assert_eq!(report["passed"], true);
    let v = verdicts(&report);
    let status = |name: &str| v.iter().find(|c| c.0 == name).map(|c| c.2.clone());
    assert_eq!(status("without a token").as_deref(), Some("403"));
    assert_eq!(
        status("with a tampered token (signature altered)").as_deref(),
        Some("401")
    );
    assert_eq!(status("with the token").as_deref(), Some("200"));
    assert!(v.iter().all(|c| c.1), "{v:?}");

    let text = output(client(), &["probe", &url, "--issuer", &p.issuer]);
    assert!(text.status.success());
    assert!(
        stdout(&text).contains("passed: 4 checks"),
        "{}",
        stdout(&text)
    );
}

#[test]
fn probe_refuses_what_is_not_an_http_url() {
    for url in ["not a url", "ftp://files.example.com/x", "/relative"] {
        let out = output(client(), &["probe", url, "--token", "t"]);
        assert_eq!(out.status.code(), Some(2), "{url}");
        assert!(stderr(&out).contains(url), "{}", stderr(&out));
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn probe_fails_with_a_tampered_token() {
    let p = provider();
    let good = token("kexpose", "read");
    // More scope than was granted, under the original signature.
    let mut more = claims(&good);
    more["scope"] = "read write".into();
    let parts: Vec<&str> = good.split('.').collect();
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&more).unwrap()),
        parts[2]
    );
    let url = format!("{}/write", p.resource);
    let (out, report) = probe(&[&url, "--token", &forged]);
    assert_eq!(out.status.code(), Some(1), "{report:#}");
    assert_check(&report, "with the token", false, "401");
    assert_check(&report, "without a token", true, "403");
}

#[test]
fn probe_fails_with_an_expired_token() {
    let p = provider();
    let short = token("short-lived", "read");
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let (out, report) = probe(&[&format!("{}/headers", p.resource), "--token", &short]);
    assert_eq!(out.status.code(), Some(1), "{report:#}");
    assert_check(&report, "the token is not expired", false, "exp");
    assert_check(&report, "with the token", false, "401");
}

#[test]
fn probe_reports_missing_scopes_and_unprotected_endpoints() {
    let p = provider();
    let read_only = token("kexpose", "read");
    let (out, report) = probe(&[
        &format!("{}/write", p.resource),
        "--token",
        &read_only,
        "--expect-scope",
        "write",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_check(&report, "the token grants scope \"write\"", false, "rea");
    assert_check(&report, "with the token", false, "403");

    let (out, report) = probe(&[&format!("{}/public", p.resource), "--token", &read_only]);
    assert_eq!(out.status.code(), Some(1));
    let first = &report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "without a token")
        .unwrap();
    assert_eq!(first["passed"], false);
    assert!(first["hint"].as_str().unwrap().contains("not protected"));
}

#[test]
fn probe_reaches_a_host_without_dns_through_resolve() {
    let p = provider();
    let port = p.resource.rsplit(':').next().unwrap();
    let url = format!("https://api.kexpose.test:{port}/headers");
    let pin = format!("api.kexpose.test:{port}:127.0.0.1");
    let (out, report) = probe(&[&url, "--issuer", &p.issuer, "--resolve", &pin]);
    assert!(out.status.success(), "{report:#}");

    let unresolved = output(client(), &["probe", &url, "--issuer", &p.issuer]);
    assert_eq!(unresolved.status.code(), Some(1));
    assert!(
        stderr(&unresolved).contains("cannot connect"),
        "{}",
        stderr(&unresolved)
    );

    // The endpoint answers 200; a caller expecting 204 is told so.
    let (out, report) = probe(&[
        &url,
        "--issuer",
        &p.issuer,
        "--resolve",
        &pin,
        "--expect-status",
        "204",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_check(&report, "with the token", false, "200");
}

/// A plain-HTTP server on loopback answering every request with `answer`,
/// for what a real provider would not do.
fn misbehaving(answer: &'static [u8]) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(answer);
        }
    });
    url
}

#[test]
fn a_server_that_never_answers_times_out() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            held.push(stream);
        }
    });
    let dir = specs("lock-silent", &url);
    let err = failed_lock(client(), &dir, &["--allow-http", "--timeout", "1"]);
    assert!(err.contains("no complete answer within 1 s"), "{err}");
}

#[test]
fn oversized_answers_and_scheme_changing_redirects_are_refused() {
    let huge: &'static [u8] = Box::leak(
        format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{}",
            2 << 20,
            " ".repeat(2 << 20)
        )
        .into_bytes()
        .into_boxed_slice(),
    );
    let dir = specs("lock-huge", &misbehaving(huge));
    let err = failed_lock(client(), &dir, &["--allow-http"]);
    assert!(err.contains("more than the 1048576 accepted"), "{err}");

    let url = misbehaving(
        b"HTTP/1.1 302 Found\r\nlocation: https://localhost:1/.well-known/openid-configuration\r\ncontent-length: 0\r\n\r\n",
    );
    let dir = specs("lock-redirect", &url);
    let err = failed_lock(client(), &dir, &["--allow-http"]);
    assert!(err.contains("it changes the scheme"), "{err}");
}

/// A company network: lock, token and probe reach the provider only
/// through a real forward proxy (CONNECT), with credentials in the proxy
/// URL that are never shown; NO_PROXY goes direct.
#[test]
fn lock_token_and_probe_work_through_a_forward_proxy() {
    let p = provider();
    let proxy = common::oidc::ForwardProxy::start(Some("corp:pr0xy-pass"));
    let port = proxy.port;
    let via = |c: &mut Command, url: &str| {
        c.env("HTTPS_PROXY", url);
    };
    let good = format!("http://corp:pr0xy-pass@127.0.0.1:{port}");
    let dir = specs("proxy", &p.issuer);
    let issuer_authority = p.issuer.trim_start_matches("https://").to_owned();

    let mut c = client();
    c.current_dir(&dir);
    via(&mut c, &good);
    let locked = output(c, &["lock", "."]);
    assert!(locked.status.success(), "{}", stderr(&locked));
    assert!(!stderr(&locked).contains("pr0xy-pass"));
    assert_eq!(
        kexpose::identity::lock::Lock::parse(&lock_in(&dir))
            .unwrap()
            .issuers[&p.issuer]
            .jwks_uri,
        p.jwks_uri
    );
    let tunnels: Vec<Value> = proxy.requests.lock().unwrap().clone();
    assert!(
        tunnels.iter().any(|r| r["method"] == "CONNECT"
            && r["url"] == issuer_authority.as_str()
            && r["authorized"] == true),
        "{tunnels:?}"
    );

    let mut c = client();
    via(&mut c, &good);
    let tok = output(c, &["token", "--issuer", &p.issuer, "--scope", "read"]);
    assert!(tok.status.success(), "{}", stderr(&tok));
    let token = stdout(&tok).trim().to_owned();
    assert_eq!(claims(&token)["iss"], p.issuer.as_str());

    let mut c = client();
    via(&mut c, &good);
    c.env("KEXPOSE_TOKEN", &token);
    let probed = output(
        c,
        &["probe", &format!("{}/read", p.resource), "--output", "json"],
    );
    assert!(probed.status.success(), "{}", stdout(&probed));
    let resource_authority = p.resource.trim_start_matches("https://");
    assert!(
        proxy
            .requests
            .lock()
            .unwrap()
            .iter()
            .any(|r| r["method"] == "CONNECT" && r["url"] == resource_authority),
        "the probe went through the proxy"
    );

    // Wrong or missing proxy credentials: a clear refusal, no password.
    for (url, says) in [
        (
            format!("http://corp:wr0ng-pass@127.0.0.1:{port}"),
            format!(
                "the proxy http://***@127.0.0.1:{port} refused the credentials in the proxy URL (407 Proxy Authentication Required)"
            ),
        ),
        (
            format!("http://127.0.0.1:{port}"),
            format!(
                "the proxy http://127.0.0.1:{port} requires credentials (407 Proxy Authentication Required)"
            ),
        ),
    ] {
        let mut c = client();
        via(&mut c, &url);
        let out = output(
            c,
            &["token", "--token-endpoint", &format!("{}/token", p.issuer)],
        );
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        assert!(stderr(&out).contains(&says), "{}", stderr(&out));
        assert!(!stderr(&out).contains("wr0ng-pass") && !stderr(&out).contains(SECRET));
        assert!(out.stdout.is_empty());
    }

    // A proxy that is down fails, unless NO_PROXY sends the host direct.
    let dead = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let down = format!("http://corp:pr0xy-pass@127.0.0.1:{dead}");
    let mut c = client();
    via(&mut c, &down);
    let out = output(
        c,
        &["token", "--token-endpoint", &format!("{}/token", p.issuer)],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(&format!(
            "cannot connect to the proxy http://***@127.0.0.1:{dead}"
        )),
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains("pr0xy-pass"));
    let mut c = client();
    via(&mut c, &down);
    c.env("NO_PROXY", "example.com,localhost");
    let out = output(
        c,
        &["token", "--token-endpoint", &format!("{}/token", p.issuer)],
    );
    assert!(out.status.success(), "{}", stderr(&out));

    // A malformed proxy variable is a usage error that does not repeat it.
    let mut c = client();
    via(&mut c, "socks5://corp:pr0xy-pass@127.0.0.1:1");
    let out = output(
        c,
        &["token", "--token-endpoint", &format!("{}/token", p.issuer)],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("HTTPS_PROXY: socks5:// proxies are not supported"),
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains("pr0xy-pass"));
    std::fs::remove_dir_all(dir).unwrap();
}

/// The resource server's access rules as an APIRule: /public open, /write
/// with the scope `write`, everything else with a token of the provider.
fn resource_apirule(dir: &Path, p: &Provider, from_headers: &str) -> PathBuf {
    let auth = format!(
        "authentications:\n          - issuer: {}\n            jwksUri: {}{from_headers}",
        p.issuer, p.jwks_uri
    );
    let file = dir.join("resource.yaml");
    std::fs::write(
        &file,
        format!(
            "apiVersion: gateway.kyma-project.io/v2\nkind: APIRule\nmetadata: {{name: resource, namespace: test}}\nspec:\n  hosts: [api.kexpose.test]\n  service: {{name: resource, port: 443}}\n  gateway: kyma-system/kyma-gateway\n  rules:\n    - path: /public\n      methods: [GET]\n      noAuth: true\n    - path: /write\n      methods: [GET]\n      jwt:\n        {auth}\n        authorizations:\n          - requiredScopes: [write]\n    - path: /{{**}}\n      methods: [GET]\n      jwt:\n        {auth}\n"
        ),
    )
    .unwrap();
    file
}

/// `name -> (observed status, predicted status, what a difference suggests)`.
fn predictions(report: &Value) -> Vec<(String, u64, u64, Option<String>)> {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| !c["predicted"].is_null())
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_owned(),
                c["status"].as_u64().unwrap(),
                c["predicted"]["status"].as_u64().unwrap(),
                c["predicted"]["suggests"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

#[test]
fn probe_puts_the_prediction_beside_each_live_answer() {
    let p = provider();
    let port = p.resource.rsplit(':').next().unwrap();
    let pin = format!("api.kexpose.test:{port}:127.0.0.1");
    let url = format!("https://api.kexpose.test:{port}/headers");
    let dir = temp_dir("probe-predict");
    let apirule = resource_apirule(&dir, p, "");
    let predict = apirule.display().to_string();
    let (out, report) = probe(&[
        &url,
        "--issuer",
        &p.issuer,
        "--resolve",
        &pin,
        "--predict",
        &predict,
    ]);
    assert!(out.status.success(), "{report:#}");
    assert_eq!(
        predictions(&report),
        vec![
            ("without a token".to_owned(), 403, 403, None),
            (
                "with a tampered token (signature altered)".to_owned(),
                401,
                401,
                None
            ),
            ("with the token".to_owned(), 200, 200, None),
        ]
    );
    let reasons = report["checks"][1]["predicted"]["reasons"].to_string();
    assert!(reasons.contains("resource.yaml:"), "{reasons}");

    // Probes one path with a token, predicting from `apirules`.
    let with_token = |path: &str, token: &str, apirules: &str| {
        let url = format!("https://api.kexpose.test:{port}{path}");
        probe(&[
            &url,
            "--token",
            token,
            "--resolve",
            &pin,
            "--predict",
            apirules,
        ])
    };

    // A token without the scope /write needs: predicted and observed 403.
    let read_only = token("kexpose", "read");
    let (_, report) = with_token("/write", &read_only, &predict);
    assert_eq!(
        predictions(&report)[2],
        ("with the token".to_owned(), 403, 403, None)
    );

    // APIRules that read the token elsewhere than the deployed rule: the
    // tampered token's 401 is not what they predict, and the report says why.
    let elsewhere = resource_apirule(&dir, p, "\n            fromHeaders: [{name: x-jwt}]");
    let elsewhere = elsewhere.display().to_string();
    let (out, report) = with_token("/headers", &read_only, &elsewhere);
    assert!(out.status.success(), "the live checks pass: {report:#}");
    let got = predictions(&report);
    assert_eq!((got[1].1, got[1].2), (401, 403));
    assert!(
        got[1]
            .3
            .as_deref()
            .unwrap()
            .contains("presented where no issuer of these APIRules expects it"),
        "{got:?}"
    );
    let text = output(
        client(),
        &[
            "probe",
            &url,
            "--token",
            &read_only,
            "--resolve",
            &pin,
            "--predict",
            &elsewhere,
        ],
    );
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("predicted 403 (as predicted)"), "{text}");
    assert!(
        text.contains("predicted 403 (differs from the prediction)"),
        "{text}"
    );
}
