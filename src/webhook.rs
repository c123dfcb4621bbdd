//! `kexpose serve`: the validating and mutating admission webhook.
//!
//! Two listeners: HTTPS for the apiserver (`/validate`, `/mutate`) and plain
//! HTTP for the kubelet and Prometheus (`/healthz`, `/readyz`, `/metrics`),
//! so probes never need certificates. Routers are built from a shared
//! `State`, so tests drive them in-process exactly as the server does.

pub mod accept;
pub mod budget;
mod checked;
pub mod coalesce;
pub mod idle;
pub mod log;
pub mod metrics;
pub mod mutate;
pub mod review;
pub mod tls;
pub mod warmup;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use arc_swap::ArcSwap;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State as Extract;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use serde_json::json;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::policy::Policy;
pub use accept::Limits;
use accept::accept_until;
use metrics::{Decision, Metrics, Reloaded};
use review::Endpoint;
use tls::{CertPaths, Reload, Reloading};

/// Request bodies above this are refused with 413 (the apiserver itself
/// caps objects at about 3 MiB; a review holds two of them).
pub const MAX_BODY: usize = 8 * 1024 * 1024;

/// Everything the handlers share.
pub struct State {
    /// Swapped whole when the policy file changes; a request keeps the
    /// policy it started with. Readers never block and touch no shared
    /// reference count on the common path (arc-swap's loads), so every
    /// request reads it directly.
    policy: ArcSwap<Policy>,
    pub metrics: Metrics,
    /// False until the TLS listener serves, and again once shutdown starts.
    pub ready: AtomicBool,
    /// How long a request's body may take to arrive.
    pub request_timeout: Duration,
}

impl State {
    pub fn policy(&self) -> Arc<Policy> {
        self.policy.load_full()
    }

    pub fn set_policy(&self, policy: Policy) {
        self.policy.store(Arc::new(policy));
    }

    /// Runs `f` with the current policy.
    pub fn with_policy<R>(&self, f: impl FnOnce(&Policy) -> R) -> R {
        f(&self.policy.load())
    }

    pub fn new(policy: Policy) -> Arc<State> {
        Arc::new(State {
            policy: ArcSwap::from_pointee(policy),
            metrics: Metrics::default(),
            ready: AtomicBool::new(false),
            request_timeout: Limits::default().request,
        })
    }

    /// As `new`, with the request timeout of `limits`.
    pub fn with_limits(policy: Policy, limits: &Limits) -> Arc<State> {
        Arc::new(State {
            policy: ArcSwap::from_pointee(policy),
            metrics: Metrics::default(),
            ready: AtomicBool::new(false),
            request_timeout: limits.request,
        })
    }
}

fn json_error(status: StatusCode, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        json!({ "error": message }).to_string(),
    )
        .into_response()
}

async fn admit(state: Arc<State>, endpoint: Endpoint, body: Body) -> Response {
    let start = Instant::now();
    let read = tokio::time::timeout(state.request_timeout, axum::body::to_bytes(body, MAX_BODY));
    let bytes: Bytes = match read.await {
        Ok(Ok(b)) => b,
        Err(_) => {
            state
                .metrics
                .record(endpoint, Decision::TimedOut, &[], start.elapsed());
            let secs = state.request_timeout.as_secs_f64();
            return json_error(
                StatusCode::REQUEST_TIMEOUT,
                &format!("the request body did not arrive within {secs} s"),
            );
        }
        Ok(Err(e)) => {
            let too_large = std::error::Error::source(&e)
                .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
            let (status, decision, message) = if too_large {
                (
                    StatusCode::PAYLOAD_TOO_LARGE,
                    Decision::TooLarge,
                    format!("request body is larger than {MAX_BODY} bytes"),
                )
            } else {
                (
                    StatusCode::BAD_REQUEST,
                    Decision::BadRequest,
                    format!("cannot read request body: {e}"),
                )
            };
            state
                .metrics
                .record(endpoint, decision, &[], start.elapsed());
            return json_error(status, &message);
        }
    };
    let decided = state.with_policy(|policy| review::decide(endpoint, &bytes, policy));
    match decided {
        Ok(d) => {
            let took = start.elapsed();
            let decision = match (d.outcome.allowed, d.outcome.patched) {
                (false, _) => Decision::Denied,
                (true, true) => Decision::Patched,
                (true, false) => Decision::Allowed,
            };
            state
                .metrics
                .record(endpoint, decision, &d.outcome.codes, took);
            log::decision(endpoint, &d.outcome, took);
            match review::encode(&d.review) {
                Ok(body) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
                Err(e) => json_error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
            }
        }
        Err(review::BadRequest(message)) => {
            state
                .metrics
                .record(endpoint, Decision::BadRequest, &[], start.elapsed());
            tracing::warn!(endpoint = endpoint.as_str(), error = message, "bad request");
            json_error(StatusCode::BAD_REQUEST, &message)
        }
    }
}

/// The HTTPS routes.
pub fn router(state: Arc<State>) -> Router {
    Router::new()
        .route(
            "/validate",
            post(|Extract(s): Extract<Arc<State>>, body: Body| admit(s, Endpoint::Validate, body)),
        )
        .route(
            "/mutate",
            post(|Extract(s): Extract<Arc<State>>, body: Body| admit(s, Endpoint::Mutate, body)),
        )
        .with_state(state)
}

/// The plain-HTTP routes: probes and metrics.
pub fn health_router(state: Arc<State>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route(
            "/readyz",
            get(|Extract(s): Extract<Arc<State>>| async move {
                if s.ready.load(Ordering::SeqCst) {
                    (StatusCode::OK, "ok\n")
                } else {
                    (StatusCode::SERVICE_UNAVAILABLE, "not ready\n")
                }
            }),
        )
        .route(
            "/metrics",
            get(|Extract(s): Extract<Arc<State>>| async move {
                (
                    [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
                    s.metrics.render(),
                )
            }),
        )
        .with_state(state)
}

/// A file polled by content, as last read, so that only a change is parsed
/// (and a broken file is reported once).
struct Watched {
    path: std::path::PathBuf,
    seen: Option<Vec<u8>>,
}

impl Watched {
    fn new(path: std::path::PathBuf) -> Watched {
        Watched {
            seen: std::fs::read(&path).ok(),
            path,
        }
    }

    /// The file's text when it changed since the last look.
    fn changed(&mut self) -> Option<Result<String, String>> {
        let bytes = std::fs::read(&self.path).ok()?;
        if self.seen.as_deref() == Some(bytes.as_slice()) {
            return None;
        }
        self.seen = Some(bytes.clone());
        Some(String::from_utf8(bytes).map_err(|e| e.to_string()))
    }
}

/// A changed policy file: the new policy, keeping what the lock discovered.
fn reload_policy(text: Result<String, String>, state: &State) {
    match text.and_then(|t| Policy::parse(&t).map_err(|e| e.to_string())) {
        Ok(mut policy) => {
            policy.discovered = state.policy().discovered.clone();
            let name = policy.name.clone();
            state.set_policy(policy);
            state.metrics.reloaded(Reloaded::Policy, true);
            tracing::info!(policy = name, "policy reloaded");
        }
        Err(e) => {
            state.metrics.reloaded(Reloaded::Policy, false);
            tracing::error!(error = e, "new policy rejected; keeping the current one")
        }
    }
}

/// A changed lock file: the current policy with the new discovery results.
fn reload_lock(text: Result<String, String>, state: &State) {
    match text.and_then(|t| crate::identity::lock::Lock::parse(&t).map_err(|e| e.to_string())) {
        Ok(lock) => {
            let mut policy = (*state.policy()).clone();
            policy.discovered = lock.discovered();
            let issuers = policy.discovered.len();
            state.set_policy(policy);
            state.metrics.reloaded(Reloaded::Lock, true);
            tracing::info!(issuers, "lock reloaded");
        }
        Err(e) => {
            state.metrics.reloaded(Reloaded::Lock, false);
            tracing::error!(error = e, "new lock rejected; keeping the current one")
        }
    }
}

/// How `serve` runs.
pub struct Config {
    pub listen: SocketAddr,
    pub health_listen: SocketAddr,
    pub tls: CertPaths,
    pub policy: Policy,
    /// The policy's file, polled for changes like the certificate.
    pub policy_path: Option<std::path::PathBuf>,
    /// A kexpose.lock whose discovery results J014/J015 compare with,
    /// polled like the policy.
    pub lock_path: Option<std::path::PathBuf>,
    /// How often the certificate files are polled for a new pair.
    pub reload_interval: Duration,
    /// What one connection may hold, and how many there may be.
    pub limits: Limits,
    /// How long new connections are still served after SIGTERM, while
    /// `/readyz` already says 503: the API server keeps sending to a pod
    /// until its endpoint is removed.
    pub drain_delay: Duration,
    /// How long in-flight requests may take to finish after that.
    pub shutdown_grace: Duration,
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

/// Why the webhook cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error("cannot listen on {address}: {source}")]
    Listen {
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("{0}")]
    Address(std::io::Error),
}

/// Runs until SIGTERM or SIGINT. Then `/readyz` answers 503 at once while
/// new connections are still served for the drain delay; then the listener
/// closes, in-flight requests finish (up to the grace period), and it
/// returns.
pub async fn run(config: Config) -> Result<(), StartError> {
    let resolver = Arc::new(Reloading::load(config.tls.clone())?);
    let acceptor = TlsAcceptor::from(Arc::new(tls::server_config(resolver.clone())));
    let bind = |address| async move {
        TcpListener::bind(address)
            .await
            .map_err(|source| StartError::Listen { address, source })
    };
    let listener = bind(config.listen).await?;
    let health = bind(config.health_listen).await?;
    let state = State::with_limits(config.policy, &config.limits);
    let addr = listener.local_addr().map_err(StartError::Address)?;
    let health_addr = health.local_addr().map_err(StartError::Address)?;

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let health_task = {
        let mut stop = stop_rx.clone();
        let app = health_router(state.clone());
        tokio::spawn(async move {
            let _ = axum::serve(health, app)
                .with_graceful_shutdown(async move {
                    let _ = stop.wait_for(|s| *s).await;
                })
                .await;
        })
    };
    let reload_task = {
        let resolver = resolver.clone();
        let interval = config.reload_interval;
        let state = state.clone();
        let mut policy_file = config.policy_path.map(Watched::new);
        let mut lock_file = config.lock_path.map(Watched::new);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let r = resolver.clone();
                match tokio::task::spawn_blocking(move || r.poll()).await {
                    Ok(Reload::Reloaded) => {
                        state.metrics.reloaded(Reloaded::Certificate, true);
                        tracing::info!("certificate reloaded");
                    }
                    Ok(Reload::Rejected(e)) => {
                        state.metrics.reloaded(Reloaded::Certificate, false);
                        tracing::error!(
                            error = e,
                            "new certificate rejected; keeping the current one"
                        );
                    }
                    _ => {}
                }
                if let Some(text) = policy_file.as_mut().and_then(Watched::changed) {
                    reload_policy(text, &state);
                }
                if let Some(text) = lock_file.as_mut().and_then(Watched::changed) {
                    reload_lock(text, &state);
                }
            }
        })
    };

    // The one-time work before the first review, not in it.
    warmup::on_every_worker(&state).await;
    state.ready.store(true, Ordering::SeqCst);
    tracing::info!(
        addr = %addr,
        health_addr = %health_addr,
        policy = state.policy().name.as_str(),
        "listening"
    );
    log::flush();

    let app = router(state.clone());
    let graceful = GracefulShutdown::new();
    let limits = config.limits;
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read);
    builder.http2().timer(TokioTimer::new());
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    let serve = |tcp: tokio::net::TcpStream| {
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            // Full: close at once; the API server retries elsewhere.
            state.metrics.connection_rejected();
            return;
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let service = TowerToHyperService::new(app.clone());
        let builder = builder.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let _slot = slot;
            let handshake = tokio::time::timeout(limits.handshake, acceptor.accept(tcp)).await;
            let Ok(Ok(stream)) = handshake else { return };
            let stream = coalesce::Coalesce::new(idle::IdleTimeout::new(stream, limits.idle));
            let conn = builder
                .serve_connection(TokioIo::new(stream), service)
                .into_owned();
            let _ = watcher.watch(conn).await;
        });
    };
    accept_until(&listener, shutdown_signal(), &serve).await;

    state.ready.store(false, Ordering::SeqCst);
    tracing::info!(
        drain_delay_s = config.drain_delay.as_secs_f64(),
        "draining: not ready, still serving new connections"
    );
    accept_until(&listener, tokio::time::sleep(config.drain_delay), &serve).await;
    tracing::info!("shutting down; finishing in-flight requests");
    drop(listener);
    let drained = tokio::time::timeout(config.shutdown_grace, graceful.shutdown()).await;
    if drained.is_err() {
        tracing::warn!("grace period over; closing remaining connections");
    }
    let _ = stop_tx.send(true);
    reload_task.abort();
    let _ = health_task.await;
    tracing::info!("stopped");
    log::flush();
    Ok(())
}
