//! A real OpenID provider (npm oidc-provider) and a resource server that
//! verifies tokens against its JWKS, both on loopback over HTTPS with a CA
//! made here (tests/tools/oidc/server.mjs), and a real forward proxy (npm
//! `proxy`, tests/tools/oidc/proxy.mjs). Shared by the identity tests and
//! the identity benchmark.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;

use serde_json::Value;

use super::{Ca, temp_dir, tool, write};

pub struct Provider {
    pub issuer: String,
    /// The protected resource's base URL.
    pub resource: String,
    pub jwks_uri: String,
    /// The id of the provider's one signing key.
    pub kid: String,
    /// The audience of its access tokens.
    pub audience: String,
    /// The CA that issued both servers' certificate (for `--ca-file`).
    pub ca: PathBuf,
    /// The child exits when its stdin, held here, closes with this process.
    _child: Mutex<Child>,
}

impl Provider {
    /// Installs the server's npm dependencies (once) and starts it.
    pub fn start() -> Provider {
        let server = tool("oidc");
        let dir = temp_dir("oidc-provider");
        let authority = Ca::new("kexpose identity test CA");
        // `api.kexpose.test` has no DNS: it is reached with --resolve.
        let (cert, key) = authority.leaf(&["localhost", "api.kexpose.test"]);
        let ca = write(&dir, "ca.pem", authority.pem.as_bytes());
        let cert = write(&dir, "cert.pem", cert.as_bytes());
        let key = write(&dir, "key.pem", key.as_bytes());

        let mut command = Command::new("node");
        command
            .arg(&server)
            .arg(&cert)
            .arg(&key)
            .env("NODE_EXTRA_CA_CERTS", &ca);
        let (child, ready, _) = start(command, "the OpenID provider");
        let field = |name: &str| ready[name].as_str().unwrap().to_owned();
        Provider {
            issuer: field("issuer"),
            resource: field("resource"),
            jwks_uri: field("jwksUri"),
            kid: field("kid"),
            audience: field("audience"),
            ca,
            _child: Mutex::new(child),
        }
    }
}

/// A forward proxy on loopback; what it was asked is in `requests`.
pub struct ForwardProxy {
    pub port: u16,
    /// One entry per request: `{"method", "url", "authorized"}`.
    pub requests: std::sync::Arc<Mutex<Vec<Value>>>,
    _child: Mutex<Child>,
}

impl ForwardProxy {
    /// With `credentials` (`USER:PASSWORD`), requests without them get 407.
    pub fn start(credentials: Option<&str>) -> ForwardProxy {
        let server = tool("oidc");
        let script = server.with_file_name("proxy.mjs");
        let mut command = Command::new("node");
        command.arg(&script).args(credentials);
        let (child, ready, lines) = start(command, "the forward proxy");
        let requests = std::sync::Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str(&line) {
                    seen.lock().unwrap().push(v);
                }
            }
        });
        ForwardProxy {
            port: ready["port"].as_u64().unwrap() as u16,
            requests,
            _child: Mutex::new(child),
        }
    }
}

/// Starts a Node.js server that says it is ready with one JSON line on
/// stdout; the rest of stdout is handed back. Its stderr is kept, so that
/// a server (or a Node.js) that fails says why in the test's panic rather
/// than as a JSON error about an empty line.
fn start(
    mut command: Command,
    what: &str,
) -> (
    Child,
    Value,
    std::io::Lines<BufReader<std::process::ChildStdout>>,
) {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot start {what} with node (is Node.js 20 installed?): {e}")
        });
    let stderr = std::sync::Arc::new(Mutex::new(String::new()));
    let kept = stderr.clone();
    let mut pipe = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = std::io::Read::read(&mut pipe, &mut buf) {
            if n == 0 {
                break;
            }
            kept.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().and_then(Result::ok).unwrap_or_default();
    let ready = serde_json::from_str(&first).unwrap_or_else(|_| {
        let status = child.wait().map(|s| s.to_string()).unwrap_or_default();
        // Give the reader a moment to collect what the server said.
        std::thread::sleep(std::time::Duration::from_millis(200));
        panic!(
            "{what} did not start ({status}); its output: {first:?}; its error output:\n{}",
            stderr.lock().unwrap()
        )
    });
    (child, ready, lines)
}
