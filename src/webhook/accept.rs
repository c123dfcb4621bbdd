//! Accepting connections: the bounds every connection lives within, and
//! an accept loop that backs off instead of spinning when accepts fail.

use std::time::Duration;

use tokio::net::TcpListener;

/// Bounds on slow, idle and numerous clients: none of them may hold a
/// connection, or the memory it costs, for long.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// For the TLS handshake.
    pub handshake: Duration,
    /// For a request's headers to arrive (HTTP/1.1).
    pub header_read: Duration,
    /// For a request's body to arrive, once its headers have.
    pub request: Duration,
    /// For a connection on which nothing moves (idle keep-alive included).
    pub idle: Duration,
    /// Open connections; more are closed at once.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            handshake: Duration::from_secs(10),
            header_read: Duration::from_secs(10),
            request: Duration::from_secs(15),
            idle: Duration::from_secs(60),
            max_connections: 512,
        }
    }
}

/// Back-off after a failed accept (EMFILE, ENFILE, ENOBUFS), doubling up
/// to a limit, so that a process out of descriptors does not spin.
const ACCEPT_BACKOFF: (Duration, Duration) = (Duration::from_millis(5), Duration::from_secs(1));

/// Accepts connections and hands them to `serve` until `until` completes;
/// failed accepts back off.
pub async fn accept_until(
    listener: &TcpListener,
    until: impl std::future::Future<Output = ()>,
    serve: &impl Fn(tokio::net::TcpStream),
) {
    let mut backoff = Backoff(ACCEPT_BACKOFF.0);
    tokio::pin!(until);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => {
                    backoff.0 = ACCEPT_BACKOFF.0;
                    serve(tcp);
                }
                Err(e) => backoff.wait(e).await,
            },
            _ = &mut until => return,
        }
    }
}

/// The current back-off after failed accepts.
struct Backoff(Duration);

impl Backoff {
    async fn wait(&mut self, e: std::io::Error) {
        tracing::warn!(
            error = %e,
            backoff_ms = self.0.as_millis() as u64,
            "accept failed; backing off"
        );
        tokio::time::sleep(self.0).await;
        self.0 = (self.0 * 2).min(ACCEPT_BACKOFF.1);
    }
}
