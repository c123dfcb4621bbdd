//! Forward proxies from the environment, read as curl reads them, so that
//! `lock`, `token` and `probe` work where only a proxy reaches out.
//!
//! - `https_proxy` / `HTTPS_PROXY` for https URLs (tunnelled with CONNECT:
//!   the proxy sees the host and port, never the request or the token);
//!   `http_proxy` / `HTTP_PROXY` for http URLs (sent in absolute form);
//!   `all_proxy` / `ALL_PROXY` for either when the specific one is unset.
//!   The lower-case name wins, as in curl.
//! - `no_proxy` / `NO_PROXY`: `*`, or a comma-separated list of host names
//!   (matching the host and its subdomains; a leading dot is optional), IP
//!   addresses and CIDR ranges.
//! - Credentials in a proxy URL become a Basic `Proxy-Authorization`; the
//!   URL is only ever shown as `http://***@host:port`.

use std::net::IpAddr;

use base64::Engine;
use hyper::header::HeaderValue;
use tokio::net::TcpStream;

/// The proxies to use, per URL scheme.
#[derive(Debug, Clone, Default)]
pub struct Proxies {
    pub http: Option<Proxy>,
    pub https: Option<Proxy>,
    pub no_proxy: NoProxy,
}

/// One forward proxy: an http:// URL with optional credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct Proxy {
    pub host: String,
    pub port: u16,
    /// `Basic ...`, marked sensitive.
    pub authorization: Option<HeaderValue>,
}

/// Never prints the credentials.
impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self}")
    }
}

/// The proxy as it may be shown: credentials replaced by `***`.
impl std::fmt::Display for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let user = if self.authorization.is_some() {
            "***@"
        } else {
            ""
        };
        if self.host.contains(':') {
            write!(f, "http://{user}[{}]:{}", self.host, self.port)
        } else {
            write!(f, "http://{user}{}:{}", self.host, self.port)
        }
    }
}

/// Why a proxy setting cannot be used. The messages never repeat the URL
/// (it may hold a password).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProxyError {
    #[error(
        "{0}:// proxies are not supported; give an http:// proxy (https URLs are tunnelled through it with CONNECT)"
    )]
    Scheme(String),
    #[error("the proxy URL has an unclosed [")]
    UnclosedBracket,
    #[error("the proxy URL has no host")]
    NoHost,
    #[error("the proxy URL's port is not a number from 1 to 65535")]
    Port,
    #[error("the proxy credentials cannot be sent")]
    Credentials,
    /// The variable that holds the bad setting.
    #[error("{variable}: {error}")]
    In {
        variable: &'static str,
        error: Box<ProxyError>,
    },
}

impl Proxies {
    /// From the process environment.
    pub fn from_env() -> Result<Proxies, ProxyError> {
        Proxies::from_lookup(|name| std::env::var(name).ok())
    }

    /// From any variable lookup (tests pass a map).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Proxies, ProxyError> {
        let var = |names: &[&'static str]| {
            names
                .iter()
                .find_map(|n| get(n).filter(|v| !v.trim().is_empty()).map(|v| (*n, v)))
        };
        let all = var(&["all_proxy", "ALL_PROXY"]);
        let parse = |found: Option<(&'static str, String)>| -> Result<Option<Proxy>, ProxyError> {
            match found.or_else(|| all.clone()) {
                Some((variable, url)) => {
                    Proxy::parse(&url)
                        .map(Some)
                        .map_err(|error| ProxyError::In {
                            variable,
                            error: Box::new(error),
                        })
                }
                None => Ok(None),
            }
        };
        Ok(Proxies {
            http: parse(var(&["http_proxy", "HTTP_PROXY"]))?,
            https: parse(var(&["https_proxy", "HTTPS_PROXY"]))?,
            no_proxy: NoProxy::parse(
                &var(&["no_proxy", "NO_PROXY"])
                    .map(|(_, v)| v)
                    .unwrap_or_default(),
            ),
        })
    }

    /// The proxy for a URL with this scheme and host, if any.
    pub fn for_url(&self, https: bool, host: &str) -> Option<&Proxy> {
        if self.no_proxy.matches(host) {
            return None;
        }
        if https {
            self.https.as_ref()
        } else {
            self.http.as_ref()
        }
    }
}

impl Proxy {
    /// `[http://][user[:password]@]host[:port][/]`; the port defaults to
    /// 1080 as in curl. Errors never repeat the URL (it may hold a password).
    pub fn parse(url: &str) -> Result<Proxy, ProxyError> {
        let url = url.trim();
        let rest = match url.split_once("://") {
            None => url,
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => rest,
            Some((scheme, _)) => return Err(ProxyError::Scheme(scheme.to_owned())),
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
        let (userinfo, hostport) = match authority.rfind('@') {
            Some(at) => (Some(&authority[..at]), &authority[at + 1..]),
            None => (None, authority),
        };
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (host, after) = v6.split_once(']').ok_or(ProxyError::UnclosedBracket)?;
            (host, after.strip_prefix(':'))
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (hostport, None),
            }
        };
        if host.is_empty() {
            return Err(ProxyError::NoHost);
        }
        let port = match port {
            None | Some("") => 1080,
            Some(p) => p.parse().map_err(|_| ProxyError::Port)?,
        };
        let authorization = userinfo
            .map(|info| {
                let (user, password) = info.split_once(':').unwrap_or((info, ""));
                let decoded = format!("{}:{}", percent_decode(user), percent_decode(password));
                let value = format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(decoded)
                );
                let mut header =
                    HeaderValue::from_str(&value).map_err(|_| ProxyError::Credentials)?;
                header.set_sensitive(true);
                Ok::<_, ProxyError>(header)
            })
            .transpose()?;
        Ok(Proxy {
            host: host.to_ascii_lowercase(),
            port,
            authorization,
        })
    }
}

/// The largest CONNECT answer head read from a proxy.
const MAX_PROXY_HEAD: usize = 16 * 1024;

/// Why a CONNECT tunnel through the proxy (named as shown, credentials
/// hidden) was not opened.
#[derive(Debug, thiserror::Error)]
pub enum TunnelError {
    #[error("the proxy {proxy}: {source}")]
    Io {
        proxy: String,
        source: std::io::Error,
    },
    #[error("the proxy {proxy} answered CONNECT with more than {MAX_PROXY_HEAD} bytes of headers")]
    HeadTooLarge { proxy: String },
    #[error("the proxy {proxy} closed the connection instead of answering CONNECT {target}")]
    Closed { proxy: String, target: String },
    #[error("the proxy {proxy} answered CONNECT with {status_line:?}")]
    NotHttp { proxy: String, status_line: String },
    #[error(
        "the proxy {proxy} refused the credentials in the proxy URL (407 Proxy Authentication Required)"
    )]
    CredentialsRefused { proxy: String },
    #[error(
        "the proxy {proxy} requires credentials (407 Proxy Authentication Required); give them in the proxy URL: http://USER:PASSWORD@host:port"
    )]
    CredentialsRequired { proxy: String },
    #[error("the proxy {proxy} answered {status} to CONNECT {target}")]
    Status {
        proxy: String,
        status: u16,
        target: String,
    },
}

/// Opens a CONNECT tunnel to `target` (`host:port`) through the proxy on
/// `tcp`. The answer head is read byte by byte, so nothing of the TLS
/// stream that follows is consumed.
pub async fn tunnel(tcp: &mut TcpStream, proxy: &Proxy, target: &str) -> Result<(), TunnelError> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut head = format!(
        "CONNECT {target} HTTP/1.1\r\nHost: {target}\r\nUser-Agent: kexpose/{}\r\n",
        env!("CARGO_PKG_VERSION")
    );
    if let Some(auth) = &proxy.authorization {
        head.push_str("Proxy-Authorization: ");
        head.push_str(auth.to_str().unwrap_or_default());
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    let shown = || proxy.to_string();
    let failed = |source: std::io::Error| TunnelError::Io {
        proxy: shown(),
        source,
    };
    tcp.write_all(head.as_bytes()).await.map_err(failed)?;
    let mut answer = Vec::new();
    while !answer.ends_with(b"\r\n\r\n") {
        if answer.len() >= MAX_PROXY_HEAD {
            return Err(TunnelError::HeadTooLarge { proxy: shown() });
        }
        let byte = tcp.read_u8().await.map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                TunnelError::Closed {
                    proxy: shown(),
                    target: target.to_owned(),
                }
            } else {
                failed(e)
            }
        })?;
        answer.push(byte);
    }
    let status_line = String::from_utf8_lossy(&answer);
    let status_line = status_line.lines().next().unwrap_or_default();
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| TunnelError::NotHttp {
            proxy: shown(),
            status_line: status_line.to_owned(),
        })?;
    match status {
        200..=299 => Ok(()),
        407 if proxy.authorization.is_some() => {
            Err(TunnelError::CredentialsRefused { proxy: shown() })
        }
        407 => Err(TunnelError::CredentialsRequired { proxy: shown() }),
        status => Err(TunnelError::Status {
            proxy: shown(),
            status,
            target: target.to_owned(),
        }),
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(b) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The hosts reached directly.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NoProxy {
    all: bool,
    names: Vec<String>,
    ranges: Vec<(IpAddr, u8)>,
}

impl NoProxy {
    pub fn parse(list: &str) -> NoProxy {
        let mut out = NoProxy::default();
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            if entry == "*" {
                out.all = true;
                continue;
            }
            let lower = entry.trim_start_matches('.').to_ascii_lowercase();
            let bare = lower.trim_start_matches('[').trim_end_matches(']');
            if let Some((ip, bits)) = bare.split_once('/')
                && let (Ok(ip), Ok(bits)) = (ip.parse::<IpAddr>(), bits.parse::<u8>())
            {
                out.ranges.push((ip, bits));
            } else if let Ok(ip) = bare.parse::<IpAddr>() {
                out.ranges.push((ip, if ip.is_ipv4() { 32 } else { 128 }));
            } else {
                out.names.push(bare.to_owned());
            }
        }
        out
    }

    pub fn matches(&self, host: &str) -> bool {
        if self.all {
            return true;
        }
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .trim_end_matches('.')
            .to_ascii_lowercase();
        if let Ok(ip) = host.parse::<IpAddr>() {
            return self
                .ranges
                .iter()
                .any(|(net, bits)| in_range(ip, *net, *bits));
        }
        self.names.iter().any(|n| {
            host == *n
                || host
                    .strip_suffix(n.as_str())
                    .is_some_and(|head| head.ends_with('.'))
        })
    }
}

fn in_range(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            let bits = u32::from(bits.min(32));
            let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
            u32::from(a) & mask == u32::from(b) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            let bits = u32::from(bits.min(128));
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            u128::from(a) & mask == u128::from(b) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(vars: &[(&str, &str)]) -> Result<Proxies, ProxyError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Proxies::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn proxy_urls_parse_as_curl_reads_them() {
        let p = Proxy::parse("http://me:p%40ss@Proxy.corp:3128/").unwrap();
        assert_eq!((p.host.as_str(), p.port), ("proxy.corp", 3128));
        // "me:p@ss", base64.
        assert_eq!(
            p.authorization.as_ref().unwrap().to_str().unwrap(),
            "Basic bWU6cEBzcw=="
        );
        assert!(p.authorization.as_ref().unwrap().is_sensitive());
        assert_eq!(p.to_string(), "http://***@proxy.corp:3128");
        assert_eq!(format!("{p:?}"), "http://***@proxy.corp:3128");
        let bare = Proxy::parse("proxy.corp").unwrap();
        assert_eq!((bare.port, bare.authorization), (1080, None));
        let v6 = Proxy::parse("http://[::1]:8080").unwrap();
        assert_eq!((v6.host.as_str(), v6.port), ("::1", 8080));
        assert_eq!(v6.to_string(), "http://[::1]:8080");
        let err = Proxy::parse("socks5://me:secret@p:1")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("socks5:// proxies are not supported"),
            "{err}"
        );
        let err = Proxy::parse("http://me:secret@p:x")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("secret"), "{err}");
    }

    #[test]
    fn variables_are_chosen_per_scheme_lower_case_first() {
        let p = from(&[
            ("HTTPS_PROXY", "http://upper:1"),
            ("https_proxy", "http://lower:2"),
            ("ALL_PROXY", "http://all:3"),
        ])
        .unwrap();
        assert_eq!(p.https.as_ref().unwrap().host, "lower");
        assert_eq!(p.http.as_ref().unwrap().host, "all", "ALL_PROXY fills in");
        let none = from(&[("HTTPS_PROXY", " ")]).unwrap();
        assert!(none.https.is_none() && none.http.is_none());
        let err = from(&[("HTTPS_PROXY", "ftp://x")]).unwrap_err().to_string();
        assert!(err.starts_with("HTTPS_PROXY: ftp://"), "{err}");
    }

    #[test]
    fn no_proxy_matches_hosts_domains_addresses_and_ranges() {
        let n = NoProxy::parse(" .corp.example, localhost,10.0.0.0/8, ::1 ,192.168.1.7");
        for direct in [
            "corp.example",
            "id.corp.example",
            "LOCALHOST",
            "10.1.2.3",
            "[::1]",
            "192.168.1.7",
        ] {
            assert!(n.matches(direct), "{direct}");
        }
        for proxied in [
            "evilcorp.example",
            "corp.example.org",
            "11.0.0.1",
            "192.168.1.8",
            "::2",
        ] {
            assert!(!n.matches(proxied), "{proxied}");
        }
        assert!(NoProxy::parse("*").matches("anything.example"));
        let p = from(&[("HTTPS_PROXY", "http://p:1"), ("NO_PROXY", "id.example")]).unwrap();
        assert!(p.for_url(true, "id.example").is_none());
        assert!(p.for_url(true, "api.example").is_some());
        assert!(
            p.for_url(false, "api.example").is_none(),
            "no http proxy set"
        );
    }
}
