//! OpenID Connect, the parts the seed procedure uses by hand: discovery
//! (`/.well-known/openid-configuration`), the JWKS, the client-credentials
//! grant, and reading a token's claims.
//!
//! Discovery is checked the way Istio will later use its result: the
//! document's `issuer` must equal the configured issuer byte for byte (Istio
//! compares a token's `iss` with the APIRule's issuer exactly, so a trailing
//! slash on either side rejects every token with 401 "Jwt issuer is not
//! configured"), and the JWKS must hold a key Istio can verify signatures with.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hyper::Method;
use hyper::header::{self, HeaderValue};
use serde::Deserialize;
use serde_json::Value;

use crate::identity::net::{self, Client, Request, Response};

/// Where an issuer publishes its discovery document (OpenID Connect
/// Discovery 1.0, section 4: a trailing slash is removed before appending).
pub fn discovery_url(issuer: &str) -> String {
    format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    )
}

/// What discovery found out about one issuer (whose document named it
/// exactly as configured).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovered {
    pub jwks_uri: String,
    pub token_endpoint: Option<String>,
    /// Ids of the JWKS keys usable to verify signatures (sorted; keys without
    /// an id are listed as `""`).
    pub key_ids: Vec<String>,
}

#[derive(Deserialize)]
struct Document {
    issuer: Option<String>,
    jwks_uri: Option<String>,
    token_endpoint: Option<String>,
}

/// Why discovery or the client-credentials grant gave nothing. The texts
/// are kexpose's own words, except a token endpoint's refusal, which is
/// the endpoint's with the client secret redacted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OidcError {
    /// No HTTP answer arrived, or it was unusable.
    #[error("{0}")]
    Net(net::Error),
    /// An answer other than 200.
    #[error("{url}: answered {status}{}", colon(.snippet))]
    Status {
        url: String,
        status: u16,
        snippet: String,
    },
    #[error("{url}: not a discovery document: {why}")]
    NotDiscovery { url: String, why: String },
    #[error("{0}: the discovery document has no issuer")]
    NoIssuer(String),
    /// The classic 401: the document names another issuer.
    #[error("{}", issuer_mismatch(.configured, .found))]
    IssuerMismatch { configured: String, found: String },
    #[error("{0}: the discovery document has no jwks_uri")]
    NoJwksUri(String),
    #[error("{0}: no token_endpoint")]
    NoTokenEndpoint(String),
    /// The JWKS has no key Istio could verify a signature with.
    #[error("{jwks_uri}: {why}")]
    Keys { jwks_uri: String, why: String },
    #[error("the client credentials cannot be sent in a header")]
    CredentialsNotAHeader,
    /// The token endpoint said no.
    #[error("{0}")]
    Refused(String),
    #[error("{endpoint}: the answer is not a token response: {why}")]
    NotAToken { endpoint: String, why: String },
}

impl From<net::Error> for OidcError {
    fn from(e: net::Error) -> Self {
        OidcError::Net(e)
    }
}

fn colon(snippet: &str) -> String {
    if snippet.is_empty() {
        String::new()
    } else {
        format!(": {snippet}")
    }
}

/// Fetches and checks an issuer's discovery document and JWKS.
pub async fn discover(client: &Client, issuer: &str) -> Result<Discovered, OidcError> {
    let url = discovery_url(issuer);
    let answer = ok(client
        .send(Request::get(&url).header(header::ACCEPT, json()))
        .await?)?;
    let doc: Document =
        serde_json::from_slice(&answer.body).map_err(|e| OidcError::NotDiscovery {
            url: url.clone(),
            why: e.to_string(),
        })?;
    let Some(found) = doc.issuer else {
        return Err(OidcError::NoIssuer(url));
    };
    if found != issuer {
        return Err(OidcError::IssuerMismatch {
            configured: issuer.to_owned(),
            found,
        });
    }
    let jwks_uri = doc.jwks_uri.ok_or(OidcError::NoJwksUri(url))?;
    let jwks = ok(client
        .send(Request::get(&jwks_uri).header(header::ACCEPT, json()))
        .await?)?;
    let jwks = jwks.json()?;
    let key_ids = match signing_keys(&jwks) {
        Ok(ids) => ids,
        Err(why) => return Err(OidcError::Keys { jwks_uri, why }),
    };
    Ok(Discovered {
        jwks_uri,
        token_endpoint: doc.token_endpoint,
        key_ids,
    })
}

/// The classic 401 explained, with the trailing-slash case named.
fn issuer_mismatch(configured: &str, found: &str) -> String {
    let hint = if configured.trim_end_matches('/') == found.trim_end_matches('/') {
        "; they differ only in the trailing slash"
    } else {
        ""
    };
    format!(
        "issuer mismatch: the discovery document of {configured} says issuer \"{found}\"{hint}. \
         Istio compares a token's iss claim with the configured issuer exactly, so every token \
         would be rejected (401 \"Jwt issuer is not configured\"); configure issuer \"{found}\""
    )
}

fn json() -> HeaderValue {
    HeaderValue::from_static("application/json")
}

/// A 200 answer, or an error naming the status and the start of the body.
fn ok(response: Response) -> Result<Response, OidcError> {
    if response.status == 200 {
        return Ok(response);
    }
    Err(OidcError::Status {
        snippet: response.snippet(),
        url: response.url,
        status: response.status,
    })
}

/// Signature algorithms Istio's jwt_authn filter verifies with public keys.
const ALGORITHMS: &[&str] = &[
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA",
];

/// The ids of the keys in a JWKS that can verify token signatures, or why
/// there are none.
pub fn signing_keys(jwks: &Value) -> Result<Vec<String>, String> {
    let Some(keys) = jwks.get("keys").and_then(Value::as_array) else {
        return Err("not a JWKS (no \"keys\" array)".into());
    };
    let mut usable = Vec::new();
    let mut reasons = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        let id = key.get("kid").and_then(Value::as_str).unwrap_or_default();
        match unusable(key) {
            None => usable.push(id.to_owned()),
            Some(why) if id.is_empty() => reasons.push(format!("key {i}: {why}")),
            Some(why) => reasons.push(format!("key {id:?}: {why}")),
        }
    }
    if usable.is_empty() {
        let why = if reasons.is_empty() {
            "it holds no keys".to_owned()
        } else {
            reasons.join("; ")
        };
        return Err(format!("no key can verify token signatures: {why}"));
    }
    usable.sort();
    Ok(usable)
}

/// Why a JWK cannot verify signatures, if it cannot.
fn unusable(key: &Value) -> Option<String> {
    let text = |name: &str| key.get(name).and_then(Value::as_str);
    if let Some(u) = text("use")
        && u != "sig"
    {
        return Some(format!("its use is \"{u}\", not \"sig\""));
    }
    if let Some(ops) = key.get("key_ops").and_then(Value::as_array)
        && !ops.iter().any(|o| o == "verify")
    {
        return Some("its key_ops do not include \"verify\"".into());
    }
    if let Some(alg) = text("alg")
        && !ALGORITHMS.contains(&alg)
    {
        return Some(format!(
            "algorithm \"{alg}\" is not a public-key signature algorithm"
        ));
    }
    if key.get("d").is_some() {
        return Some("it publishes a private key".into());
    }
    let members: &[&str] = match text("kty") {
        Some("RSA") => &["n", "e"],
        Some("EC") => &["crv", "x", "y"],
        Some("OKP") => &["crv", "x"],
        Some(other) => return Some(format!("key type \"{other}\" cannot verify signatures")),
        None => return Some("it has no kty".into()),
    };
    for m in members {
        match text(m) {
            Some(v) if *m == "crv" || URL_SAFE_NO_PAD.decode(v.trim_end_matches('=')).is_ok() => {}
            Some(_) => return Some(format!("its \"{m}\" is not base64url")),
            None => return Some(format!("it has no \"{m}\"")),
        }
    }
    None
}

/// Why a token cannot be read as a JWT.
#[derive(Debug, thiserror::Error)]
pub enum NotAJwt {
    #[error(
        "not a JWT: {0} dot-separated parts instead of 3 (an opaque token? ask the issuer for a JWT access token)"
    )]
    Parts(usize),
    #[error("not a JWT: the {part} is not base64url: {source}")]
    Base64 {
        part: &'static str,
        source: base64::DecodeError,
    },
    #[error("not a JWT: the {part} is not JSON: {source}")]
    Json {
        part: &'static str,
        source: serde_json::Error,
    },
}

/// A token's header and claims, decoded without verifying anything.
pub fn decode(token: &str) -> Result<(Value, Value), NotAJwt> {
    let parts: Vec<&str> = token.trim().split('.').collect();
    if parts.len() != 3 {
        return Err(NotAJwt::Parts(parts.len()));
    }
    let part = |i: usize, part: &'static str| -> Result<Value, NotAJwt> {
        let bytes = URL_SAFE_NO_PAD
            .decode(parts[i].trim_end_matches('='))
            .map_err(|source| NotAJwt::Base64 { part, source })?;
        serde_json::from_slice(&bytes).map_err(|source| NotAJwt::Json { part, source })
    };
    Ok((part(0, "header")?, part(1, "payload")?))
}

/// The scopes a token grants: `scope` (space-separated, RFC 9068) or `scp`
/// (a list or a string), as Istio reads them.
pub fn scopes(claims: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for name in ["scope", "scp"] {
        match claims.get(name) {
            Some(Value::String(s)) => out.extend(s.split_whitespace().map(str::to_owned)),
            Some(Value::Array(a)) => {
                out.extend(a.iter().filter_map(Value::as_str).map(str::to_owned))
            }
            _ => {}
        }
    }
    out
}

/// The audiences a token is for (`aud`, a string or a list).
pub fn audiences(claims: &Value) -> Vec<String> {
    match claims.get("aud") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

/// A confidential client's credentials. `Debug` does not show the secret.
#[derive(Clone)]
pub struct Credentials {
    pub id: String,
    pub secret: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("id", &self.id)
            .field("secret", &"***")
            .finish()
    }
}

impl Credentials {
    /// Text from elsewhere (a server's answer) with the secret blotted out.
    pub fn redact(&self, text: &str) -> String {
        if self.secret.is_empty() {
            return text.to_owned();
        }
        text.replace(&self.secret, "***")
    }
}

/// What to ask the token endpoint for besides the grant.
#[derive(Debug, Clone, Default)]
pub struct Grant {
    /// Space-separated scopes (`scope`).
    pub scope: Option<String>,
    /// Resource indicators (RFC 8707 `resource`), one per audience wanted.
    pub resources: Vec<String>,
}

/// The token endpoint's answer.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct Token {
    pub access_token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// The client-credentials grant as the seed procedure sends it: HTTP Basic
/// with the client's id and secret (form-encoded first, as RFC 6749 2.3.1
/// asks), and a form body with `grant_type` and `client_id`.
pub async fn client_credentials(
    client: &Client,
    token_endpoint: &str,
    credentials: &Credentials,
    grant: &Grant,
) -> Result<Token, OidcError> {
    let encode = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let basic = STANDARD.encode(format!(
        "{}:{}",
        encode(&credentials.id),
        encode(&credentials.secret)
    ));
    let mut authorization = HeaderValue::from_str(&format!("Basic {basic}"))
        .map_err(|_| OidcError::CredentialsNotAHeader)?;
    authorization.set_sensitive(true);
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.append_pair("grant_type", "client_credentials");
    form.append_pair("client_id", &credentials.id);
    if let Some(scope) = &grant.scope {
        form.append_pair("scope", scope);
    }
    for r in &grant.resources {
        form.append_pair("resource", r);
    }
    let request = Request {
        method: Method::POST,
        url: token_endpoint,
        headers: vec![
            (header::AUTHORIZATION, authorization),
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/x-www-form-urlencoded"),
            ),
            (header::ACCEPT, json()),
        ],
        body: Some(form.finish().into_bytes()),
        follow: false,
    };
    // Errors are our own words, except the endpoint's text in a refusal;
    // only that could echo the secret.
    let response = client.send(request).await?;
    if response.status != 200 {
        return Err(OidcError::Refused(refusal(&response, credentials)));
    }
    serde_json::from_slice::<Token>(&response.body).map_err(|e| OidcError::NotAToken {
        endpoint: token_endpoint.to_owned(),
        why: e.to_string(),
    })
}

/// The token endpoint's refusal, in OAuth terms when it speaks them.
fn refusal(response: &Response, credentials: &Credentials) -> String {
    let oauth = response.json().ok().and_then(|v| {
        let error = v.get("error")?.as_str()?.to_owned();
        let description = v.get("error_description").and_then(Value::as_str);
        Some(match description {
            Some(d) => format!("{error} ({d})"),
            None => error,
        })
    });
    let detail = credentials.redact(&oauth.unwrap_or_else(|| response.snippet()));
    let hint = match response.status {
        401 => "; check the client id and secret",
        _ => "",
    };
    format!(
        "{}: the token endpoint answered {}: {detail}{hint}",
        response.url, response.status
    )
}

#[cfg(test)]
mod tests;
