//! The Istio objects api-gateway generates for a v2/v2alpha1 APIRule: one
//! VirtualService, a RequestAuthentication per workload and issuer list,
//! and the ALLOW (and, for `extAuth`, CUSTOM) AuthorizationPolicies of
//! every rule.
//!
//! The types serialise as the objects themselves (`render --istio`); the
//! fields they skip are what `eval` needs on top: which rule and which
//! APIRule field each part comes from, and hosts as patterns.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use regex::Regex;
use serde::Serialize;

use super::At;
use super::matcher::{self, Host};
use crate::apirule::v2::{self, Rule};
use crate::apirule::{JwtAuthentication, JwtConfig, Method};

mod generate;

pub use generate::{SCOPE_CLAIMS, generate, preview, workload};

/// The identity of the Istio ingress gateway; every ALLOW policy requires
/// it, so in-cluster callers that bypass the gateway get 403.
pub const INGRESS_PRINCIPAL: &str =
    "cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account";
/// Kyma's default gateway domain, for short hosts when none is given.
pub const DEFAULT_DOMAIN: &str = "local.kyma.dev";
/// The namespace an APIRule without one lands in.
const DEFAULT_NAMESPACE: &str = "default";
/// api-gateway's route timeout when neither the rule nor the spec sets one.
const DEFAULT_TIMEOUT: u32 = 180;
/// CORS headers the route removes from responses (api-gateway sets its own).
const CORS_RESPONSE_HEADERS: [&str; 6] = [
    "Access-Control-Allow-Origin",
    "Access-Control-Expose-Headers",
    "Access-Control-Allow-Headers",
    "Access-Control-Allow-Credentials",
    "Access-Control-Allow-Methods",
    "Access-Control-Max-Age",
];

/// The workload a rule sends to: its Service. Policies select the
/// Service's pods, so rules (of any APIRule) that name the same Service
/// share their RequestAuthentications and AuthorizationPolicies.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Workload {
    pub namespace: String,
    pub name: String,
}

impl std::fmt::Display for Workload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    pub generate_name: String,
    pub namespace: String,
    pub labels: BTreeMap<String, String>,
}

/// One generated object.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Object<S> {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub metadata: Metadata,
    pub spec: S,
}

pub type VirtualService = Object<VirtualServiceSpec>;
pub type RequestAuthentication = Object<RequestAuthenticationSpec>;
pub type AuthorizationPolicy = Object<AuthorizationPolicySpec>;

#[derive(Debug, Clone, Serialize)]
pub struct VirtualServiceSpec {
    pub hosts: Vec<String>,
    pub gateways: Vec<String>,
    pub http: Vec<HttpRoute>,
    #[serde(skip)]
    pub host_patterns: Vec<Host>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpRoute {
    #[serde(rename = "match")]
    pub matches: Vec<HttpMatch>,
    pub route: Vec<RouteDestination>,
    pub timeout: String,
    pub headers: Headers,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cors_policy: Option<CorsPolicy>,
    /// The rule's index in the APIRule.
    #[serde(skip)]
    pub rule: usize,
    #[serde(skip)]
    pub methods: Vec<Method>,
    /// The APIRule path (`/*` is a prefix match).
    #[serde(skip)]
    pub path: String,
    #[serde(skip)]
    pub workload: Workload,
    #[serde(skip)]
    regex: OnceLock<Result<Regex, matcher::Unloadable>>,
}

impl HttpRoute {
    /// Whether the route's path matches; `Err` when Envoy could not load
    /// the regex at all.
    /// The match is read from the route's own `uri`, the one the
    /// VirtualService holds.
    pub fn path_matches(&self, path: &str) -> Result<bool, matcher::Unloadable> {
        match &self.matches[0].uri {
            StringMatch::Prefix(prefix) => Ok(path.starts_with(prefix.as_str())),
            StringMatch::Regex(regex) => match self.regex.get_or_init(|| matcher::compile(regex)) {
                Ok(r) => Ok(r.is_match(path)),
                Err(e) => Err(e.clone()),
            },
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct HttpMatch {
    pub method: StringMatch,
    pub uri: StringMatch,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum StringMatch {
    Prefix(String),
    Regex(String),
}

#[derive(Debug, Clone, Serialize)]
pub struct RouteDestination {
    pub destination: Destination,
}

#[derive(Debug, Clone, Serialize)]
pub struct Destination {
    pub host: String,
    pub port: PortSelector,
}

#[derive(Debug, Clone, Serialize)]
pub struct PortSelector {
    pub number: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct Headers {
    pub request: HeaderSet,
    pub response: HeaderRemove,
}

#[derive(Debug, Clone, Serialize)]
pub struct HeaderSet {
    pub set: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HeaderRemove {
    pub remove: Vec<&'static str>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CorsPolicy {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_origins: Option<Vec<BTreeMap<String, String>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_methods: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_headers: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expose_headers: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_credentials: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_age: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Selector {
    #[serde(rename = "matchLabels")]
    pub match_labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestAuthenticationSpec {
    pub selector: Selector,
    pub jwt_rules: Vec<JwtRule>,
    #[serde(skip)]
    pub workload: Workload,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JwtRule {
    pub issuer: String,
    pub jwks_uri: String,
    pub forward_original_token: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub from_headers: Vec<JwtHeader>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub from_params: Vec<String>,
    /// The authentication entry it comes from.
    #[serde(skip)]
    pub at: At,
}

#[derive(Debug, Clone, Serialize)]
pub struct JwtHeader {
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub prefix: String,
}

impl JwtRule {
    /// Where Envoy looks for this issuer's tokens: the configured headers
    /// and parameters, or, when none is configured, Istio's defaults
    /// (`Authorization: Bearer`, then the `access_token` parameter).
    pub fn locations(&self) -> (Vec<JwtHeader>, Vec<String>) {
        if self.from_headers.is_empty() && self.from_params.is_empty() {
            (
                vec![JwtHeader {
                    name: "Authorization".into(),
                    prefix: "Bearer ".into(),
                }],
                vec!["access_token".into()],
            )
        } else {
            (self.from_headers.clone(), self.from_params.clone())
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizationPolicySpec {
    pub selector: Selector,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<Provider>,
    pub rules: Vec<PolicyRule>,
    #[serde(skip)]
    pub workload: Workload,
    #[serde(skip)]
    pub origin: PolicyOrigin,
}

/// Which part of which rule a policy stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyOrigin {
    pub apirule: usize,
    pub rule: usize,
    pub kind: PolicyKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyKind {
    /// `noAuth: true`.
    NoAuth,
    /// `jwt` (or `extAuth.restrictions`) without authorizations.
    Authenticated,
    /// One `authorizations[]` entry.
    Authorization(usize),
    /// `extAuth` without restrictions: only the gateway's identity.
    ExtAuthAllow,
    /// The CUSTOM policy of one authorizer.
    Custom(String),
}

#[derive(Debug, Clone, Serialize)]
pub struct Provider {
    pub name: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PolicyRule {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub from: Vec<From>,
    pub to: Vec<To>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub when: Vec<Condition>,
}

#[derive(Debug, Clone, Serialize)]
pub struct From {
    pub source: Source,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Source {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub request_principals: Vec<String>,
    pub principals: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct To {
    pub operation: Operation,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Operation {
    pub hosts: Vec<String>,
    pub methods: Vec<Method>,
    pub paths: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_paths: Vec<String>,
    #[serde(skip)]
    pub host_patterns: Vec<Host>,
    /// For each not-path, the earlier rule it comes from.
    #[serde(skip)]
    pub not_path_rules: Vec<usize>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Condition {
    pub key: String,
    pub values: Vec<String>,
}

impl Condition {
    /// The claim a `request.auth.claims[NAME]` condition reads.
    pub fn claim(&self) -> Option<&str> {
        self.key
            .strip_prefix("request.auth.claims[")?
            .strip_suffix(']')
    }
}

/// What one APIRule generates.
#[derive(Debug, Clone)]
pub struct Generated {
    pub virtual_service: Option<VirtualService>,
    pub authentications: Vec<RequestAuthentication>,
    pub policies: Vec<AuthorizationPolicy>,
}
