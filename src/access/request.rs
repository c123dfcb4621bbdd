//! A request as `explain` and AccessTest describe it: method and URL, the
//! token (none, one correctly signed with given claims, or one whose
//! signature fails), where it is presented, and who calls.

use serde_json::{Map, Value};

use crate::apirule::Method;

/// One HTTP request to an exposed host.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub method: Method,
    /// `https` or `http`.
    pub scheme: &'static str,
    /// Lower case, without port.
    pub host: String,
    /// The path, without the query.
    pub path: String,
    /// Query parameters, decoded.
    pub query: Vec<(String, String)>,
    pub token: Token,
    pub at: TokenAt,
    pub caller: Caller,
    /// What the external authorizers of an `extAuth` rule decide; unknown
    /// unless said.
    pub authorizer: Option<bool>,
}

/// The token a request carries.
#[derive(Debug, Clone, PartialEq)]
pub enum Token {
    None,
    /// Correctly signed by the key its issuer publishes, with these claims.
    Signed(Map<String, Value>),
    /// Presented, but its signature does not verify; the claims, when
    /// given, are what it says (its `iss` still picks the issuer).
    Forged(Option<Map<String, Value>>),
}

/// Where the token is presented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenAt {
    /// `NAME: PREFIX<token>`; a non-empty prefix is followed by one space.
    Header { name: String, prefix: String },
    /// `?NAME=<token>`.
    Param(String),
}

impl Default for TokenAt {
    fn default() -> Self {
        TokenAt::Header {
            name: "Authorization".into(),
            prefix: "Bearer".into(),
        }
    }
}

/// Why a request, a token location or claims cannot be used. The text is
/// what `explain` prints and what an AccessTest finding says.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    #[error("not a request: {0:?} (METHOD URL, e.g. \"GET https://httpbin.example.com/headers\")")]
    NotARequest(String),
    #[error(
        "not an HTTP method APIRules know: {0:?} (GET, POST, PUT, DELETE, PATCH, HEAD, OPTIONS, CONNECT, TRACE)"
    )]
    Method(String),
    #[error("not an http(s) URL: {0:?}")]
    NotHttp(String),
    #[error("the URL names no host: {0:?}")]
    NoHost(String),
    #[error("not a token location: {0:?} (header:NAME[:PREFIX] or param:NAME)")]
    TokenAt(String),
    #[error("--claims is not JSON: {0}")]
    ClaimsNotJson(String),
    #[error(
        "claims must be an object, e.g. {{\"iss\": \"https://idp.example.com\", \"sub\": \"client\"}}"
    )]
    ClaimsNotAnObject,
    #[error("the claims' iss must be a string")]
    IssuerNotAString,
    #[error("the claims need an iss: every token names its issuer")]
    NoIssuer,
}

impl TokenAt {
    /// `header:NAME[:PREFIX]` or `param:NAME`. `header:Authorization`
    /// means `Authorization: Bearer <token>`.
    pub fn parse(s: &str) -> Result<TokenAt, Invalid> {
        let bad = || Invalid::TokenAt(s.to_owned());
        let (kind, rest) = s.split_once(':').ok_or_else(bad)?;
        match kind {
            "header" => {
                let (name, prefix) = match rest.split_once(':') {
                    Some((n, p)) => (n, p.trim().to_owned()),
                    None if rest.eq_ignore_ascii_case("authorization") => (rest, "Bearer".into()),
                    None => (rest, String::new()),
                };
                if name.is_empty() || !name.bytes().all(is_token_char) {
                    return Err(bad());
                }
                Ok(TokenAt::Header {
                    name: name.to_owned(),
                    prefix,
                })
            }
            "param" if !rest.is_empty() => Ok(TokenAt::Param(rest.to_owned())),
            _ => Err(bad()),
        }
    }

    /// How a person would write it: `Authorization: Bearer <token>`.
    pub fn describe(&self) -> String {
        match self {
            TokenAt::Header { name, prefix } if prefix.is_empty() => format!("header {name}"),
            TokenAt::Header { name, prefix } => format!("header {name} ({prefix} <token>)"),
            TokenAt::Param(name) => format!("query parameter {name}"),
        }
    }
}

/// HTTP header names are RFC 9110 tokens.
fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Who sends the request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Caller {
    /// From outside, through the Istio ingress gateway.
    #[default]
    Internet,
    /// From inside the cluster, straight to the Service.
    Cluster,
}

impl Request {
    /// `"GET https://host/path?query"`, with the given token and caller.
    pub fn parse(line: &str) -> Result<Request, Invalid> {
        let line = line.trim();
        let (method, url) = line
            .split_once(char::is_whitespace)
            .ok_or_else(|| Invalid::NotARequest(line.to_owned()))?;
        let method = Method::ALL
            .into_iter()
            .find(|m| m.as_str() == method)
            .ok_or_else(|| Invalid::Method(method.to_owned()))?;
        let url = url.trim();
        let (scheme, rest) = match (url.strip_prefix("https://"), url.strip_prefix("http://")) {
            (Some(rest), _) => ("https", rest),
            (_, Some(rest)) => ("http", rest),
            _ => return Err(Invalid::NotHttp(url.to_owned())),
        };
        let (authority, target) = match rest.find(['/', '?', '#']) {
            Some(i) => rest.split_at(i),
            None => (rest, "/"),
        };
        let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        let host = match authority.strip_prefix('[') {
            Some(v6) => format!("[{}", v6.split_once(']').map_or(v6, |(h, _)| h)) + "]",
            None => authority.split(':').next().unwrap_or_default().to_owned(),
        };
        if host.is_empty() || host.contains(char::is_whitespace) {
            return Err(Invalid::NoHost(url.to_owned()));
        }
        let target = target.split('#').next().unwrap_or_default();
        let (path, query) = match target.split_once('?') {
            Some((p, q)) => (p, q),
            None => (target, ""),
        };
        let path = if path.is_empty() { "/" } else { path };
        Ok(Request {
            method,
            scheme,
            host: host.to_ascii_lowercase(),
            path: path.to_owned(),
            query: form_urlencoded::parse(query.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
            token: Token::None,
            at: TokenAt::default(),
            caller: Caller::Internet,
            authorizer: None,
        })
    }

    /// `METHOD https://host/path` again, for reports.
    pub fn line(&self) -> String {
        let mut s = format!(
            "{} https://{}{}",
            self.method.as_str(),
            self.host,
            self.path
        );
        if !self.query.is_empty() {
            s.push('?');
            s.push_str(
                &form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(&self.query)
                    .finish(),
            );
        }
        s
    }
}

/// Claims given as JSON: an object whose `iss` is a string.
pub fn claims(json: &str) -> Result<Map<String, Value>, Invalid> {
    let value: Value =
        serde_json::from_str(json).map_err(|e| Invalid::ClaimsNotJson(e.to_string()))?;
    claims_value(value)
}

/// The same check for claims that arrive as a value (AccessTest documents).
pub fn claims_value(value: Value) -> Result<Map<String, Value>, Invalid> {
    let Value::Object(map) = value else {
        return Err(Invalid::ClaimsNotAnObject);
    };
    match map.get("iss") {
        Some(Value::String(_)) => Ok(map),
        Some(_) => Err(Invalid::IssuerNotAString),
        None => Err(Invalid::NoIssuer),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_parse_into_host_path_and_query() {
        let r =
            Request::parse("GET https://HttpBin.Example.com:443/a/b?x=1&access_token=t%20u#frag")
                .unwrap();
        assert_eq!(r.method, Method::GET);
        assert_eq!(r.host, "httpbin.example.com");
        assert_eq!(r.path, "/a/b");
        assert_eq!(
            r.query,
            vec![
                ("x".into(), "1".into()),
                ("access_token".into(), "t u".into())
            ]
        );
        assert_eq!(Request::parse("POST http://h").unwrap().path, "/");
        assert_eq!(
            Request::parse("FETCH https://h/").unwrap_err().to_string(),
            "not an HTTP method APIRules know: \"FETCH\" (GET, POST, PUT, DELETE, PATCH, HEAD, OPTIONS, CONNECT, TRACE)"
        );
        assert_eq!(
            Request::parse("GET ftp://h/").unwrap_err().to_string(),
            "not an http(s) URL: \"ftp://h/\""
        );
        assert_eq!(
            Request::parse("GET https:///x").unwrap_err(),
            Invalid::NoHost("https:///x".into())
        );
        assert_eq!(
            Request::parse("https://h/").unwrap_err().to_string(),
            "not a request: \"https://h/\" (METHOD URL, e.g. \"GET https://httpbin.example.com/headers\")"
        );
    }

    #[test]
    fn token_locations_parse() {
        assert_eq!(
            TokenAt::parse("header:Authorization").unwrap(),
            TokenAt::default()
        );
        assert_eq!(
            TokenAt::parse("header:x-jwt").unwrap(),
            TokenAt::Header {
                name: "x-jwt".into(),
                prefix: String::new()
            }
        );
        assert_eq!(
            TokenAt::parse("header:x-jwt:Token").unwrap(),
            TokenAt::Header {
                name: "x-jwt".into(),
                prefix: "Token".into()
            }
        );
        assert_eq!(
            TokenAt::parse("param:jwt").unwrap(),
            TokenAt::Param("jwt".into())
        );
        for bad in [
            "cookie:a",
            "header:",
            "param:",
            "header:a b",
            "Authorization",
        ] {
            assert_eq!(
                TokenAt::parse(bad),
                Err(Invalid::TokenAt(bad.into())),
                "{bad}"
            );
        }
    }

    #[test]
    fn claims_need_an_issuer() {
        assert!(claims(r#"{"iss":"https://a","sub":"c"}"#).is_ok());
        assert_eq!(claims(r#"{"sub":"c"}"#), Err(Invalid::NoIssuer));
        assert_eq!(claims(r#"{"iss":1}"#), Err(Invalid::IssuerNotAString));
        assert_eq!(
            claims("[1]").unwrap_err().to_string(),
            r#"claims must be an object, e.g. {"iss": "https://idp.example.com", "sub": "client"}"#
        );
        assert!(matches!(claims("{"), Err(Invalid::ClaimsNotJson(_))));
    }
}
