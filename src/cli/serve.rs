//! `kexpose serve`: the admission webhook.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

use super::args::load_policy;
use super::{Fatal, Outcome};
use crate::webhook::{self, log, log::LogFormat, tls::CertPaths};

#[derive(Args)]
pub struct ServeArgs {
    /// HTTPS address for /validate and /mutate.
    #[arg(long, env = "KEXPOSE_LISTEN", default_value = "0.0.0.0:8443")]
    pub listen: SocketAddr,
    /// Plain-HTTP address for /healthz, /readyz and /metrics.
    #[arg(long, env = "KEXPOSE_HEALTH_LISTEN", default_value = "0.0.0.0:8080")]
    pub health_listen: SocketAddr,
    /// Directory holding tls.crt and tls.key, as a kubernetes.io/tls Secret mounts them.
    #[arg(long, env = "KEXPOSE_TLS_DIR", conflicts_with_all = ["tls_cert", "tls_key"])]
    pub tls_dir: Option<PathBuf>,
    /// Certificate chain (PEM), with --tls-key.
    #[arg(long, env = "KEXPOSE_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// Private key (PEM), with --tls-cert.
    #[arg(long, env = "KEXPOSE_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Policy file: rule severities, default gateway, issuer registry.
    #[arg(long, env = "KEXPOSE_POLICY")]
    pub policy: Option<PathBuf>,
    /// kexpose.lock to compare jwt issuers and jwksUris with (J014, J015); reloaded on change.
    #[arg(long, env = "KEXPOSE_LOCK", value_name = "FILE")]
    pub lock: Option<PathBuf>,
    #[arg(long, env = "KEXPOSE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Json)]
    pub log_format: LogFormat,
    /// Which log lines to write: a level (`error`, `warn`, `info`, `debug`, `trace`), optionally
    /// per target (`info,h2=debug`).
    #[arg(long, env = "KEXPOSE_LOG", default_value = log::DEFAULT_FILTER, value_name = "FILTER")]
    pub log: String,
    /// Seconds between checks of the certificate files for a new pair.
    #[arg(long, env = "KEXPOSE_RELOAD_INTERVAL", default_value_t = 10)]
    pub reload_interval: u64,
    /// Seconds a client has for the TLS handshake.
    #[arg(
        long,
        env = "KEXPOSE_HANDSHAKE_TIMEOUT",
        default_value_t = 10,
        value_name = "SECONDS"
    )]
    pub handshake_timeout: u64,
    /// Seconds a client has to send a request's headers.
    #[arg(
        long,
        env = "KEXPOSE_HEADER_READ_TIMEOUT",
        default_value_t = 10,
        value_name = "SECONDS"
    )]
    pub header_read_timeout: u64,
    /// Seconds a client has to send a request's body once its headers arrived (408 after).
    #[arg(
        long,
        env = "KEXPOSE_REQUEST_TIMEOUT",
        default_value_t = 15,
        value_name = "SECONDS"
    )]
    pub request_timeout: u64,
    /// Seconds a connection may stay without traffic (idle keep-alive included) before it is closed.
    #[arg(
        long,
        env = "KEXPOSE_IDLE_TIMEOUT",
        default_value_t = 60,
        value_name = "SECONDS"
    )]
    pub idle_timeout: u64,
    /// Open connections at most; more are closed at once.
    #[arg(
        long,
        env = "KEXPOSE_MAX_CONNECTIONS",
        default_value_t = 512,
        value_name = "N"
    )]
    pub max_connections: usize,
    /// Seconds new connections are still served after SIGTERM, while /readyz says 503, so
    /// that the API server stops sending before the listener closes (a rolling update with
    /// failurePolicy Fail refuses no admission).
    #[arg(
        long,
        env = "KEXPOSE_DRAIN_DELAY",
        default_value_t = 5,
        value_name = "SECONDS"
    )]
    pub drain_delay: u64,
    /// Seconds in-flight requests get to finish after the drain delay.
    #[arg(long, env = "KEXPOSE_SHUTDOWN_GRACE", default_value_t = 25)]
    pub shutdown_grace: u64,
}

/// Runs the webhook on a multi-threaded runtime until SIGTERM.
pub fn serve(args: &ServeArgs) -> Result<Outcome, Fatal> {
    log::init(args.log_format, &args.log).map_err(|e| Fatal::Message(e.to_string()))?;
    let mut policy = load_policy(args.policy.as_ref())?;
    if let Some(path) = &args.lock {
        policy.discovered = crate::identity::lock::Lock::read(path)?.discovered();
    }
    let tls = match (&args.tls_dir, &args.tls_cert, &args.tls_key) {
        (Some(dir), _, _) => CertPaths::in_dir(dir),
        (None, Some(cert), Some(key)) => CertPaths {
            cert: cert.clone(),
            key: key.clone(),
        },
        _ => {
            return Err(Fatal::Message(
                "serve needs --tls-dir, or --tls-cert and --tls-key".into(),
            ));
        }
    };
    let config = webhook::Config {
        listen: args.listen,
        health_listen: args.health_listen,
        tls,
        policy,
        policy_path: args.policy.clone(),
        lock_path: args.lock.clone(),
        reload_interval: std::time::Duration::from_secs(args.reload_interval.max(1)),
        drain_delay: std::time::Duration::from_secs(args.drain_delay),
        limits: webhook::Limits {
            handshake: std::time::Duration::from_secs(args.handshake_timeout.max(1)),
            header_read: std::time::Duration::from_secs(args.header_read_timeout.max(1)),
            request: std::time::Duration::from_secs(args.request_timeout.max(1)),
            idle: std::time::Duration::from_secs(args.idle_timeout.max(1)),
            max_connections: args.max_connections.max(1),
        },
        shutdown_grace: std::time::Duration::from_secs(args.shutdown_grace),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Fatal::Message(format!("cannot start the runtime: {e}")))?;
    runtime
        .block_on(webhook::run(config))
        .map_err(|e| Fatal::Message(e.to_string()))?;
    Ok(Outcome::Clean)
}
