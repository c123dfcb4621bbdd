//! A faithful port of Go's `net/url.ParseRequestURI`, which upstream Kyma uses
//! to accept or reject `issuer` and `jwksUri`. Reproducing it (error strings
//! included) is what lets kexpose say exactly what the controller would say,
//! before the object is stored. The Go is 1.24, the version upstream's go.mod
//! names; `tests/uri.rs` holds this port to the answers Go itself gave
//! (`tests/fixtures/uri/oracle.go` wrote them).

use std::fmt::Write;

/// The parts of a successfully parsed request URI that stricter rules need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestUri<'a> {
    /// Lower-cased scheme, empty when there is none.
    pub scheme: String,
    /// The authority's host (with port), when the URI had `//`.
    pub host: Option<&'a str>,
    /// A scheme followed by something other than `/` (`urn:x`, `https:host`).
    pub opaque: bool,
}

/// Go's `*url.Error` of a parse: the URL and why it does not parse; shown
/// as Go's `Error()` shows it, which is the text upstream reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlError {
    pub url: String,
    pub reason: String,
}

impl std::fmt::Display for UrlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "parse {}: {}", go_quote(&self.url), self.reason)
    }
}

impl std::error::Error for UrlError {}

/// `url.ParseRequestURI(raw)`.
pub fn parse_request_uri(raw: &str) -> Result<RequestUri<'_>, UrlError> {
    parse(raw).map_err(|reason| UrlError {
        url: raw.to_owned(),
        reason,
    })
}

fn parse(raw: &str) -> Result<RequestUri<'_>, String> {
    if raw.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return Err("net/url: invalid control character in URL".into());
    }
    if raw.is_empty() {
        return Err("empty url".into());
    }
    if raw == "*" {
        return Ok(RequestUri {
            scheme: String::new(),
            host: None,
            opaque: false,
        });
    }
    let (scheme, rest) = scheme(raw)?;
    let rest = match rest.find('?') {
        Some(i) => &rest[..i],
        None => rest,
    };
    if !rest.starts_with('/') {
        if !scheme.is_empty() {
            // Go sets `Opaque` to the rest, which may be empty (`https:`).
            return Ok(RequestUri {
                scheme: scheme.to_ascii_lowercase(),
                host: None,
                opaque: !rest.is_empty(),
            });
        }
        return Err("invalid URI for request".into());
    }
    let mut host = None;
    let mut path = rest;
    if !scheme.is_empty() && rest.starts_with("//") {
        let authority_and_path = &rest[2..];
        let (authority, p) = match authority_and_path.find('/') {
            Some(i) => (&authority_and_path[..i], &authority_and_path[i..]),
            None => (authority_and_path, ""),
        };
        parse_authority(authority)?;
        host = Some(match authority.rfind('@') {
            Some(i) => &authority[i + 1..],
            None => authority,
        });
        path = p;
    }
    unescape(path, Mode::Path)?;
    Ok(RequestUri {
        scheme: scheme.to_ascii_lowercase(),
        host,
        opaque: false,
    })
}

/// Go's `getScheme`.
fn scheme(raw: &str) -> Result<(&str, &str), String> {
    for (i, c) in raw.bytes().enumerate() {
        match c {
            b'a'..=b'z' | b'A'..=b'Z' => {}
            b'0'..=b'9' | b'+' | b'-' | b'.' => {
                if i == 0 {
                    return Ok(("", raw));
                }
            }
            b':' => {
                if i == 0 {
                    return Err("missing protocol scheme".into());
                }
                return Ok((&raw[..i], &raw[i + 1..]));
            }
            _ => return Ok(("", raw)),
        }
    }
    Ok(("", raw))
}

fn parse_authority(authority: &str) -> Result<(), String> {
    let at = authority.rfind('@');
    parse_host(match at {
        Some(i) => &authority[i + 1..],
        None => authority,
    })?;
    if let Some(i) = at {
        let userinfo = &authority[..i];
        if !userinfo.bytes().all(valid_userinfo_byte) {
            return Err("net/url: invalid userinfo".into());
        }
        for part in userinfo.splitn(2, ':') {
            unescape(part, Mode::UserPassword)?;
        }
    }
    Ok(())
}

fn valid_userinfo_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._:~!$&'()*+,;=%@".contains(&b)
}

/// Go 1.24's `parseHost` (the version upstream builds with).
fn parse_host(host: &str) -> Result<(), String> {
    if let Some(open) = host.rfind('[') {
        // An IP-literal (RFC 3986, RFC 6874 zones): what is between the
        // last brackets must be an IPv6 address; Go drops what precedes them.
        let Some(close) = host.rfind(']') else {
            return Err("missing ']' in host".into());
        };
        let colon_port = &host[close + 1..];
        // A `]` before the `[` leaves the `[` in here, so it is refused
        // before the slice below could be reversed.
        if !valid_optional_port(colon_port) {
            return Err(format!("invalid port {} after host", go_quote(colon_port)));
        }
        let mut hostname = &host[open + 1..close];
        let mut address = Vec::new();
        let mut zone = Vec::new();
        if let Some(z) = hostname.find("%25") {
            unescape_into(&hostname[z..], Mode::Zone, Some(&mut zone))?;
            hostname = &hostname[..z];
        }
        unescape_into(hostname, Mode::Host, Some(&mut address))?;
        address.extend(zone);
        let address = String::from_utf8_lossy(&address);
        return match super::ip::parse_addr(&address) {
            Err(e) => Err(format!("invalid host: {e}")),
            Ok(super::ip::Addr::V4) => Err("invalid IP-literal".into()),
            Ok(super::ip::Addr::V6) => Ok(()),
        };
    }
    if let Some(last) = host.rfind(':') {
        let colon_port = &host[last..];
        if !valid_optional_port(colon_port) {
            return Err(format!("invalid port {} after host", go_quote(colon_port)));
        }
    }
    unescape(host, Mode::Host)
}

fn valid_optional_port(port: &str) -> bool {
    match port.strip_prefix(':') {
        None => port.is_empty(),
        Some(digits) => digits.bytes().all(|b| b.is_ascii_digit()),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Host,
    /// An IPv6 zone after `%25`.
    Zone,
    Path,
    UserPassword,
}

/// Go's `unescape`, validating only.
fn unescape(s: &str, mode: Mode) -> Result<(), String> {
    unescape_into(s, mode, None)
}

/// Go's `unescape`; the unescaped bytes go to `out` when given.
fn unescape_into(s: &str, mode: Mode, mut out: Option<&mut Vec<u8>>) -> Result<(), String> {
    let host_like = matches!(mode, Mode::Host | Mode::Zone);
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                if i + 2 >= b.len()
                    || !b[i + 1].is_ascii_hexdigit()
                    || !b[i + 2].is_ascii_hexdigit()
                {
                    let end = (i + 3).min(b.len());
                    return Err(format!(
                        "invalid URL escape {}",
                        go_quote(&lossy(&b[i..end]))
                    ));
                }
                let value = hex(b[i + 1]) << 4 | hex(b[i + 2]);
                let escaped_percent = &b[i..i + 3] == b"%25";
                let refused = match mode {
                    Mode::Host => hex(b[i + 1]) < 8 && !escaped_percent,
                    // Escapes in a zone may only stand for bytes that could
                    // be written directly (and spaces).
                    Mode::Zone => !escaped_percent && value != b' ' && should_escape_in_host(value),
                    Mode::Path | Mode::UserPassword => false,
                };
                if refused {
                    return Err(format!(
                        "invalid URL escape {}",
                        go_quote(&lossy(&b[i..i + 3]))
                    ));
                }
                if let Some(out) = out.as_mut() {
                    out.push(value);
                }
                i += 3;
            }
            c => {
                if host_like && c < 0x80 && should_escape_in_host(c) {
                    return Err(format!(
                        "invalid character {} in host name",
                        go_quote(&lossy(&b[i..i + 1]))
                    ));
                }
                if let Some(out) = out.as_mut() {
                    out.push(c);
                }
                i += 1;
            }
        }
    }
    Ok(())
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn hex(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        b'A'..=b'F' => c - b'A' + 10,
        _ => 0,
    }
}

/// Go's `shouldEscape(c, encodeHost)` (the same set for zones): bytes
/// outside ASCII included.
fn should_escape_in_host(c: u8) -> bool {
    !(c.is_ascii_alphanumeric() || b"-_.~!$&'()*+,;=:[]<>\"".contains(&c))
}

/// Go's `strconv.Quote`, as `%q` prints a string.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x0b' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if c.is_control() => {
                if (c as u32) < 0x10000 {
                    let _ = write!(out, "\\u{:04x}", c as u32);
                } else {
                    let _ = write!(out, "\\U{:08x}", c as u32);
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(raw: &str) -> String {
        parse_request_uri(raw).unwrap_err().to_string()
    }

    #[test]
    fn accepts_what_go_accepts() {
        for ok in [
            "https://example.com/jwks",
            "http://example.com:8080/x?y=%zz",
            "https:example.com",
            "urn:x",
            "foo:bar",
            "/jwks.json",
            "//x/y",
            "file://.well-known/jwks.json",
            "file:///jwks",
            "https:///x",
            "*",
            "https://user:p%41ss@host/",
            "https://[::1]:443/k",
            "https://%C3%A9.example/",
            "https://a%25b/",
        ] {
            assert!(
                parse_request_uri(ok).is_ok(),
                "{ok} should parse: {:?}",
                parse_request_uri(ok)
            );
        }
    }

    #[test]
    fn rejects_with_go_error_text() {
        assert_eq!(err("no_url"), r#"parse "no_url": invalid URI for request"#);
        assert_eq!(
            err("example.com/jwks"),
            r#"parse "example.com/jwks": invalid URI for request"#
        );
        assert_eq!(
            err("://example"),
            r#"parse "://example": missing protocol scheme"#
        );
        assert_eq!(
            err("https://a b/"),
            r#"parse "https://a b/": invalid character " " in host name"#
        );
        assert_eq!(
            err("https://h:abc/"),
            r#"parse "https://h:abc/": invalid port ":abc" after host"#
        );
        assert_eq!(
            err("https://[::1/"),
            r#"parse "https://[::1/": missing ']' in host"#
        );
        assert_eq!(
            err("https://h/%zz"),
            r#"parse "https://h/%zz": invalid URL escape "%zz""#
        );
        assert_eq!(
            err("https://%41/"),
            r#"parse "https://%41/": invalid URL escape "%41""#
        );
        assert_eq!(
            err("https://a\"b@h/"),
            r#"parse "https://a\"b@h/": net/url: invalid userinfo"#
        );
        assert_eq!(
            err("https://x\n"),
            r#"parse "https://x\n": net/url: invalid control character in URL"#
        );
        // Go 1.24 takes the port after the last colon (1.26 refuses the
        // second colon; upstream builds with 1.24).
        assert!(parse_request_uri("https://a:b:80/").is_ok());
        assert_eq!(
            err("https://a:b:c/"),
            r#"parse "https://a:b:c/": invalid port ":c" after host"#
        );
        assert_eq!(
            err("https://[1.2.3.4]/"),
            r#"parse "https://[1.2.3.4]/": invalid IP-literal"#
        );
        assert_eq!(
            err("https://[::g]/"),
            r#"parse "https://[::g]/": invalid host: ParseAddr("::g"): each colon-separated field must have at least one digit (at "g")"#
        );
        assert_eq!(
            err("https://h/%4"),
            r#"parse "https://h/%4": invalid URL escape "%4""#
        );
    }

    #[test]
    fn reports_scheme_host_and_opacity() {
        let u = parse_request_uri("HTTPS://idp.example.com/certs").unwrap();
        assert_eq!(
            (u.scheme.as_str(), u.host, u.opaque),
            ("https", Some("idp.example.com"), false)
        );
        assert!(parse_request_uri("urn:x").unwrap().opaque);
        assert_eq!(parse_request_uri("/jwks").unwrap().scheme, "");
    }
}
