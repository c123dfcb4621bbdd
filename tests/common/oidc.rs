//! A real OpenID provider (npm oidc-provider) and a resource server that
//! verifies tokens against its JWKS, both on loopback over HTTPS with a CA
//! made here (tests/tools/oidc/server.mjs). Shared by the identity tests and
//! the identity benchmark.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;

use serde_json::Value;

use super::{temp_dir, tool, write};

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
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "kexpose identity test CA");
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let ca_cert = params.self_signed(&ca_key).unwrap();
        let issuer = rcgen::Issuer::new(params, ca_key);
        let leaf_key = rcgen::KeyPair::generate().unwrap();
        // `api.kexpose.test` has no DNS: it is reached with --resolve.
        let leaf = rcgen::CertificateParams::new(vec![
            "localhost".to_owned(),
            "api.kexpose.test".to_owned(),
        ])
        .unwrap()
        .signed_by(&leaf_key, &issuer)
        .unwrap();
        let ca = write(&dir, "ca.pem", ca_cert.pem().as_bytes());
        let cert = write(&dir, "cert.pem", leaf.pem().as_bytes());
        let key = write(&dir, "key.pem", leaf_key.serialize_pem().as_bytes());

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
