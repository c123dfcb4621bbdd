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

        let mut child = Command::new("node")
            .arg(&server)
            .arg(&cert)
            .arg(&key)
            .env("NODE_EXTRA_CA_CERTS", &ca)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node runs");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let ready: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("the provider did not start ({e}): {line:?}"));
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
        let mut child = Command::new("node")
            .arg(&script)
            .args(credentials)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node runs");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines.next().and_then(Result::ok).unwrap_or_default();
        let ready: Value = serde_json::from_str(&first)
            .unwrap_or_else(|e| panic!("the proxy did not start ({e}): {first:?}"));
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
