//! TLS: rustls with the ring provider, TLS 1.2 and 1.3 only, and a
//! certificate that can be swapped while the server runs.
//!
//! Kubernetes updates a mounted Secret by switching a `..data` symlink, so
//! inotify on the files sees nothing reliable; the server polls the files'
//! contents instead. A new pair is used only once it loads and its key
//! matches its certificate: a half-written or mismatched pair keeps the old
//! one serving.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use rustls::ServerConfig;
use rustls::crypto::ring;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// Where the certificate chain and key are read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertPaths {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl CertPaths {
    /// `tls.crt` and `tls.key` in a directory, as a `kubernetes.io/tls`
    /// Secret mounts them.
    pub fn in_dir(dir: &Path) -> CertPaths {
        CertPaths {
            cert: dir.join("tls.crt"),
            key: dir.join("tls.key"),
        }
    }

    fn read(&self) -> Result<(Vec<u8>, Vec<u8>), TlsError> {
        let read = |p: &Path| {
            std::fs::read(p).map_err(|source| TlsError::Read {
                file: p.display().to_string(),
                source,
            })
        };
        Ok((read(&self.cert)?, read(&self.key)?))
    }
}

/// Why a certificate and key cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{file}: {source}")]
    Read {
        file: String,
        source: std::io::Error,
    },
    #[error("certificate: {0}")]
    Certificate(rustls_pki_types::pem::Error),
    #[error("certificate: no CERTIFICATE block")]
    NoCertificate,
    #[error("key: {0}")]
    KeyPem(rustls_pki_types::pem::Error),
    #[error("key: {0}")]
    Key(rustls::Error),
    #[error("the key does not belong to the certificate: {0}")]
    Mismatch(rustls::Error),
}

/// Parses a PEM chain and key into a key pair rustls can serve.
pub fn certified_key(cert_pem: &[u8], key_pem: &[u8]) -> Result<Arc<CertifiedKey>, TlsError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<_, _>>()
        .map_err(TlsError::Certificate)?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate);
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(TlsError::KeyPem)?;
    let signer = ring::default_provider()
        .key_provider
        .load_private_key(key)
        .map_err(TlsError::Key)?;
    let pair = CertifiedKey::new(chain, signer);
    pair.keys_match().map_err(TlsError::Mismatch)?;
    Ok(Arc::new(pair))
}

/// Serves the current pair and swaps in a new one when its files change.
#[derive(Debug)]
pub struct Reloading {
    paths: CertPaths,
    current: RwLock<Arc<CertifiedKey>>,
    /// The file contents last tried, good or bad, so a broken pair is
    /// reported once rather than at every poll.
    seen: Mutex<(Vec<u8>, Vec<u8>)>,
}

/// What a poll found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reload {
    Unchanged,
    Reloaded,
    /// The files changed but do not hold a usable pair; the old one stays.
    Rejected(String),
}

impl Reloading {
    pub fn load(paths: CertPaths) -> Result<Reloading, TlsError> {
        let (cert, key) = paths.read()?;
        let pair = certified_key(&cert, &key)?;
        Ok(Reloading {
            paths,
            current: RwLock::new(pair),
            seen: Mutex::new((cert, key)),
        })
    }

    pub fn poll(&self) -> Reload {
        let (cert, key) = match self.paths.read() {
            Ok(files) => files,
            // Mid-swap a file may be missing for a moment; try again later.
            Err(e) => return Reload::Rejected(e.to_string()),
        };
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if seen.0 == cert && seen.1 == key {
            return Reload::Unchanged;
        }
        let result = certified_key(&cert, &key);
        *seen = (cert, key);
        match result {
            Ok(pair) => {
                *self.current.write().unwrap_or_else(|p| p.into_inner()) = pair;
                Reload::Reloaded
            }
            Err(e) => Reload::Rejected(e.to_string()),
        }
    }
}

impl ResolvesServerCert for Reloading {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        )
    }
}

/// TLS 1.2 and 1.3 with the ring provider; HTTP/2 preferred over HTTP/1.1.
pub fn server_config(resolver: Arc<Reloading>) -> ServerConfig {
    let mut config = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .expect("ring supports TLS 1.2 and 1.3")
        .with_no_client_auth()
        .with_cert_resolver(resolver);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    config
}
