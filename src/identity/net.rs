//! A deliberately small HTTP/1.1 client for OpenID discovery, token requests
//! and probes, built on the hyper and rustls (ring) the webhook already uses.
//!
//! It talks to identity providers with client secrets in hand, so it is
//! strict by default: https only (plain http needs `allow_http`, meant for
//! loopback tests), certificates verified against the system roots or one CA
//! file, a connect timeout and a total timeout per request, a cap on every
//! response body, and redirects followed only for GET, only a few, and never
//! to another scheme. Credentials (`Authorization`, `Cookie`) never follow a
//! redirect to another host. Forward proxies come from the environment as
//! curl reads it (`proxy`).

pub mod proxy;
mod trust;

pub use trust::TrustError;
use trust::{ca_file, connector, system_roots};

use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Uri};
use hyper_util::rt::TokioIo;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// How the client may reach servers.
#[derive(Debug, Clone)]
pub struct Options {
    /// Trust only the CAs in this PEM file instead of the system roots.
    pub ca_file: Option<std::path::PathBuf>,
    pub allow_http: bool,
    pub connect_timeout: Duration,
    /// For the whole exchange, redirects included: connect, TLS, request,
    /// every byte of the answer.
    pub timeout: Duration,
    /// Largest response body accepted.
    pub max_body: usize,
    /// Connect to this address for this host and port instead of asking DNS
    /// (`curl --resolve`); the Host header and TLS name stay the URL's.
    pub resolve: Vec<Resolve>,
    /// Forward proxies (`HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`); none by default.
    pub proxies: proxy::Proxies,
}

/// One `HOST:PORT:ADDRESS` override.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolve {
    pub host: String,
    pub port: u16,
    pub address: std::net::IpAddr,
}

impl std::str::FromStr for Resolve {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("{s:?} is not HOST:PORT:ADDRESS");
        let (host, rest) = s.split_once(':').ok_or_else(bad)?;
        let (port, address) = rest.split_once(':').ok_or_else(bad)?;
        let address = address.trim_start_matches('[').trim_end_matches(']');
        Ok(Resolve {
            host: host.to_ascii_lowercase(),
            port: port.parse().map_err(|_| bad())?,
            address: address.parse().map_err(|_| bad())?,
        })
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            ca_file: None,
            allow_http: false,
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(15),
            max_body: 1024 * 1024,
            resolve: Vec::new(),
            proxies: proxy::Proxies::default(),
        }
    }
}

/// Redirects followed for one GET before giving up.
const MAX_REDIRECTS: usize = 5;

/// A request failed before an HTTP answer arrived (or the answer was unusable).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub url: String,
    pub message: String,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.url, self.message)
    }
}

fn error(url: &str, message: impl Into<String>) -> Error {
    Error {
        url: url.to_owned(),
        message: message.into(),
    }
}

/// An HTTP answer, whatever its status.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    /// The URL that answered, after redirects.
    pub url: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Response {
    /// The body as JSON, or why it is not.
    pub fn json(&self) -> Result<serde_json::Value, Error> {
        serde_json::from_slice(&self.body)
            .map_err(|e| error(&self.url, format!("the answer is not JSON: {e}")))
    }

    /// The start of the body as text, for error messages.
    pub fn snippet(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
        match one_line.char_indices().nth(200) {
            Some((at, _)) => format!("{}…", &one_line[..at]),
            None => one_line,
        }
    }
}

/// One request to send.
pub struct Request<'a> {
    pub method: Method,
    pub url: &'a str,
    pub headers: Vec<(header::HeaderName, HeaderValue)>,
    pub body: Option<Vec<u8>>,
    /// Follow same-scheme redirects (GET only).
    pub follow: bool,
}

impl<'a> Request<'a> {
    /// A GET that follows redirects, as discovery documents may move.
    pub fn get(url: &'a str) -> Self {
        Request {
            method: Method::GET,
            url,
            headers: Vec::new(),
            body: None,
            follow: true,
        }
    }

    pub fn header(mut self, name: header::HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }
}

#[derive(Clone)]
pub struct Client {
    /// Or why there are no trust roots; that fails https requests only.
    tls: Result<TlsConnector, Arc<TrustError>>,
    options: Options,
}

impl Client {
    /// A client. A `--ca-file` is read now, so a bad one fails before any
    /// request; missing system roots fail only an https request.
    pub fn new(options: Options) -> Result<Client, TrustError> {
        let tls = match &options.ca_file {
            Some(path) => Ok(connector(ca_file(path)?)),
            None => system_roots().map(connector).map_err(Arc::new),
        };
        Ok(Client { tls, options })
    }

    /// Sends a request, following same-scheme redirects if it may; the
    /// timeout covers the whole chain.
    pub async fn send(&self, request: Request<'_>) -> Result<Response, Error> {
        let timeout = self.options.timeout;
        tokio::time::timeout(timeout, self.follow(&request))
            .await
            .unwrap_or_else(|_| {
                Err(error(
                    request.url,
                    format!("no complete answer within {} s", timeout.as_secs_f32()),
                ))
            })
    }

    async fn follow(&self, request: &Request<'_>) -> Result<Response, Error> {
        let mut url = request.url.to_owned();
        let follow = request.follow && request.method == Method::GET;
        let home = origin(&url);
        for _ in 0..=MAX_REDIRECTS {
            // As curl: credentials go to the host they were meant for only.
            let credentials = origin(&url) == home;
            let response = self.once(request, &url, credentials).await?;
            let redirect = matches!(response.status, 301 | 302 | 303 | 307 | 308);
            if !(follow && redirect) {
                return Ok(response);
            }
            let location = response
                .headers
                .get(header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .ok_or_else(|| error(&url, format!("{} without a Location", response.status)))?;
            let next = redirect_target(&url, location);
            if scheme(&next) != scheme(&url) {
                return Err(error(
                    &url,
                    format!("refusing the redirect to {next}: it changes the scheme"),
                ));
            }
            url = next;
        }
        Err(error(
            request.url,
            format!("more than {MAX_REDIRECTS} redirects"),
        ))
    }

    /// One exchange. Without `credentials` (after a redirect to another
    /// host), the request's `Authorization` and `Cookie` headers stay home.
    async fn once(
        &self,
        request: &Request<'_>,
        url: &str,
        credentials: bool,
    ) -> Result<Response, Error> {
        let uri: Uri = url
            .parse()
            .map_err(|e| error(url, format!("not a URL: {e}")))?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") if self.options.allow_http => false,
            Some("http") => {
                return Err(error(
                    url,
                    "plain http is refused; use https (or --allow-http for a test server)",
                ));
            }
            _ => return Err(error(url, "only https URLs are supported")),
        };
        let authority = uri
            .authority()
            .ok_or_else(|| error(url, "the URL has no host"))?
            .clone();
        if authority.as_str().contains('@') {
            // They would travel in the Host header and show up in messages.
            return Err(error(
                &redact_userinfo(url),
                "credentials in URLs are refused",
            ));
        }
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
        let via = self.options.proxies.for_url(https, &host);
        let pinned = self
            .options
            .resolve
            .iter()
            .find(|r| r.port == port && r.host.eq_ignore_ascii_case(&host))
            .map(|r| std::net::SocketAddr::new(r.address, port));
        let connect = async {
            match (via, pinned) {
                (Some(p), _) => TcpStream::connect((p.host.as_str(), p.port)).await,
                (None, Some(address)) => TcpStream::connect(address).await,
                (None, None) => TcpStream::connect((host.as_str(), port)).await,
            }
        };
        let target = match via {
            Some(p) => format!("the proxy {p}"),
            None => "the server".to_owned(),
        };
        let mut tcp = tokio::time::timeout(self.options.connect_timeout, connect)
            .await
            .map_err(|_| {
                error(
                    url,
                    format!(
                        "cannot connect to {target} within {} s",
                        self.options.connect_timeout.as_secs_f32()
                    ),
                )
            })?
            .map_err(|e| error(url, format!("cannot connect to {target}: {e}")))?;
        let _ = tcp.set_nodelay(true);
        if let Some(p) = via.filter(|_| https) {
            proxy::tunnel(&mut tcp, p, &format!("{}:{port}", authority.host()))
                .await
                .map_err(|e| error(url, e.to_string()))?;
        }

        // Through a proxy, plain http requests name the whole URL.
        let target_uri = match via {
            Some(_) if !https => url,
            _ => uri.path_and_query().map_or("/", |p| p.as_str()),
        };
        let mut builder = hyper::Request::builder()
            .method(request.method.clone())
            .uri(target_uri)
            .header(header::HOST, authority.as_str())
            .header(
                header::USER_AGENT,
                concat!("kexpose/", env!("CARGO_PKG_VERSION")),
            );
        if let Some(auth) = via
            .filter(|_| !https)
            .and_then(|p| p.authorization.as_ref())
        {
            builder = builder.header(header::PROXY_AUTHORIZATION, auth);
        }
        for (name, value) in &request.headers {
            if !credentials && (name == header::AUTHORIZATION || name == header::COOKIE) {
                continue;
            }
            builder = builder.header(name, value);
        }
        let body = Full::new(Bytes::from(request.body.clone().unwrap_or_default()));
        let outgoing = builder
            .body(body)
            .map_err(|e| error(url, format!("cannot build the request: {e}")))?;

        if !https {
            return self.exchange(tcp, outgoing, url).await;
        }
        let name = ServerName::try_from(host)
            .map_err(|e| error(url, format!("not a TLS server name: {e}")))?;
        let connector = self.tls.as_ref().map_err(|e| error(url, e.to_string()))?;
        let tls = connector
            .connect(name, tcp)
            .await
            .map_err(|e| error(url, format!("TLS: {e}")))?;
        self.exchange(tls, outgoing, url).await
    }

    async fn exchange<T>(
        &self,
        io: T,
        request: hyper::Request<Full<Bytes>>,
        url: &str,
    ) -> Result<Response, Error>
    where
        T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io))
            .await
            .map_err(|e| error(url, format!("HTTP: {e}")))?;
        let driver = tokio::spawn(connection);
        let answer = sender
            .send_request(request)
            .await
            .map_err(|e| error(url, format!("HTTP: {e}")))?;
        let (parts, body) = answer.into_parts();
        let limit = self.options.max_body;
        if let Some(length) = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
            && length > limit as u64
        {
            driver.abort();
            return Err(error(
                url,
                format!("the answer is {length} bytes, more than the {limit} accepted"),
            ));
        }
        let body = Limited::new(body, limit)
            .collect()
            .await
            .map_err(|e| {
                if e.is::<http_body_util::LengthLimitError>() {
                    error(
                        url,
                        format!("the answer is more than the {limit} bytes accepted"),
                    )
                } else {
                    error(url, format!("reading the answer: {e}"))
                }
            })?
            .to_bytes();
        driver.abort();
        Ok(Response {
            status: parts.status.as_u16(),
            url: url.to_owned(),
            headers: parts.headers,
            body,
        })
    }
}

/// The URL with any `user:password@` replaced, for messages.
fn redact_userinfo(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..end].rfind('@') {
        Some(at) => format!("{scheme}://***@{}", &rest[at + 1..]),
        None => url.to_owned(),
    }
}

fn scheme(url: &str) -> &str {
    url.split_once("://").map_or("", |(s, _)| s)
}

/// Scheme and authority (host and port as written), lower-cased: what
/// decides whether a redirect stays with the same server.
fn origin(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    format!("{scheme}://{authority}").to_ascii_lowercase()
}

/// A Location header against the URL that sent it.
fn redirect_target(base: &str, location: &str) -> String {
    if location.contains("://") {
        return location.to_owned();
    }
    let (scheme, rest) = base.split_once("://").unwrap_or(("https", base));
    if let Some(authority_path) = location.strip_prefix("//") {
        return format!("{scheme}://{authority_path}");
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    if location.starts_with('/') {
        return format!("{scheme}://{authority}{location}");
    }
    let path = &rest[authority.len()..];
    let path = path.split(['?', '#']).next().unwrap_or("");
    let dir = path.rsplit_once('/').map_or("", |(d, _)| d);
    format!("{scheme}://{authority}{dir}/{location}")
}

#[cfg(test)]
mod tests;
