//! The roots the client trusts servers with: a `--ca-file`, else the
//! system's stores; and the one TLS configuration (rustls with ring) they
//! are used in.

use std::path::Path;
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::crypto::ring;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use tokio_rustls::TlsConnector;

pub(super) fn connector(roots: RootCertStore) -> TlsConnector {
    let mut config =
        rustls::ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("ring supports the default protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    TlsConnector::from(Arc::new(config))
}

/// Why there are no roots to trust servers with.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    #[error("{file}: {source}")]
    CaFile {
        file: String,
        source: rustls_pki_types::pem::Error,
    },
    #[error("{file}: no usable CA certificate")]
    NoUsableCa { file: String },
    /// `why` is the first error the system's stores gave, if any.
    #[error("no system CA certificates found{}; install them or pass --ca-file", why.as_ref().map(|w| format!(" ({w})")).unwrap_or_default())]
    NoSystemRoots { why: Option<String> },
}

pub(super) fn ca_file(path: &Path) -> Result<RootCertStore, TrustError> {
    let file = || path.display().to_string();
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<_, _>>())
        .map_err(|source| TrustError::CaFile {
            file: file(),
            source,
        })?;
    let mut roots = RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(TrustError::NoUsableCa { file: file() });
    }
    Ok(roots)
}

pub(super) fn system_roots() -> Result<RootCertStore, TrustError> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(found.certs);
    if roots.is_empty() {
        return Err(TrustError::NoSystemRoots {
            why: found.errors.first().map(|e| e.to_string()),
        });
    }
    Ok(roots)
}
