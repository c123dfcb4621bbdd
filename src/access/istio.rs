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
    regex: OnceLock<Result<Regex, String>>,
}

impl HttpRoute {
    /// Whether the route's path matches; `Err` when Envoy could not load
    /// the regex at all.
    /// The match is read from the route's own `uri`, the one the
    /// VirtualService holds.
    pub fn path_matches(&self, path: &str) -> Result<bool, String> {
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

/// The objects api-gateway generates for the APIRule at `index`. Short
/// hosts are written with `domain`; an APIRule without `spec` generates
/// nothing.
pub fn generate(index: usize, apirule: &v2::ApiRule, domain: &str) -> Generated {
    let mut out = Generated {
        virtual_service: None,
        authentications: Vec::new(),
        policies: Vec::new(),
    };
    let Some(spec) = &apirule.spec else {
        return out;
    };
    let name = apirule.metadata.name.clone().unwrap_or_default();
    let namespace = apirule
        .metadata
        .namespace
        .clone()
        .unwrap_or_else(|| DEFAULT_NAMESPACE.into());
    let labels = labels(&name, &namespace);
    let meta = |namespace: &str| Metadata {
        generate_name: format!("{name}-"),
        namespace: namespace.to_owned(),
        labels: labels.clone(),
    };
    let host_patterns: Vec<Host> = spec.hosts.iter().map(|h| Host::parse(h)).collect();
    let hosts: Vec<String> = host_patterns.iter().map(|h| h.fqdn(domain)).collect();
    let forwarded_host = match host_patterns.first() {
        Some(Host::Wildcard(_)) => "%REQ(:AUTHORITY)%".to_owned(),
        _ => hosts.first().cloned().unwrap_or_default(),
    };

    let mut http = Vec::new();
    let mut keys: Vec<(Workload, String)> = Vec::new();
    for (i, rule) in spec.rules.iter().enumerate() {
        let workload = workload(rule, spec, &namespace);
        let service = rule.service.as_ref().or(spec.service.as_ref());
        http.push(route(i, rule, spec, &workload, service, &forwarded_host));
        // RequestAuthentication: one per workload and issuer list.
        for (config, pointer) in rule.jwt_configs(&format!("/spec/rules/{i}")) {
            let authentications = config.authentications.as_deref().unwrap_or_default();
            let key = authentications
                .iter()
                .map(|a| format!("{}:{}", a.issuer, a.jwks_uri))
                .collect::<String>();
            if keys.contains(&(workload.clone(), key.clone())) {
                continue;
            }
            keys.push((workload.clone(), key));
            out.authentications.push(Object {
                api_version: "security.istio.io/v1beta1",
                kind: "RequestAuthentication",
                metadata: meta(&workload.namespace),
                spec: RequestAuthenticationSpec {
                    selector: selector(&workload),
                    jwt_rules: authentications
                        .iter()
                        .enumerate()
                        .map(|(j, a)| {
                            jwt_rule(a, At::new(index, format!("{pointer}/authentications/{j}")))
                        })
                        .collect(),
                    workload: workload.clone(),
                },
            });
        }
        let operation = operation(&spec.rules, i, &hosts, &host_patterns);
        let mut policy = |kind: PolicyKind,
                          action: Option<&'static str>,
                          provider: Option<Provider>,
                          rules: Vec<PolicyRule>| {
            out.policies.push(Object {
                api_version: "security.istio.io/v1beta1",
                kind: "AuthorizationPolicy",
                metadata: meta(&workload.namespace),
                spec: AuthorizationPolicySpec {
                    selector: selector(&workload),
                    action,
                    provider,
                    rules,
                    workload: workload.clone(),
                    origin: PolicyOrigin {
                        apirule: index,
                        rule: i,
                        kind,
                    },
                },
            })
        };
        let gateway_only = || vec![allow(&operation, Vec::new(), Vec::new())];
        if rule.no_auth == Some(true) {
            policy(PolicyKind::NoAuth, None, None, gateway_only());
        } else if let Some(jwt) = &rule.jwt {
            for (kind, rules) in jwt_policies(jwt, &operation) {
                policy(kind, None, None, rules);
            }
        } else if let Some(ext) = &rule.ext_auth {
            for authorizer in &ext.authorizers {
                let to = To {
                    operation: operation.clone(),
                };
                policy(
                    PolicyKind::Custom(authorizer.clone()),
                    Some("CUSTOM"),
                    Some(Provider {
                        name: authorizer.clone(),
                    }),
                    vec![PolicyRule {
                        from: Vec::new(),
                        to: vec![to],
                        when: Vec::new(),
                    }],
                );
            }
            match &ext.restrictions {
                Some(jwt) => {
                    for (kind, rules) in jwt_policies(jwt, &operation) {
                        policy(kind, None, None, rules);
                    }
                }
                None => policy(PolicyKind::ExtAuthAllow, None, None, gateway_only()),
            }
        }
    }
    let gateway = spec
        .gateway
        .clone()
        .or_else(|| spec.external_gateway.clone())
        .unwrap_or_default();
    out.virtual_service = Some(Object {
        api_version: "networking.istio.io/v1beta1",
        kind: "VirtualService",
        metadata: meta(&namespace),
        spec: VirtualServiceSpec {
            hosts,
            gateways: vec![gateway],
            http,
            host_patterns,
        },
    });
    out
}

fn labels(name: &str, namespace: &str) -> BTreeMap<String, String> {
    [
        ("apirule.gateway.kyma-project.io/name", name),
        ("apirule.gateway.kyma-project.io/namespace", namespace),
        ("kyma-project.io/module", "api-gateway"),
        ("app.kubernetes.io/managed-by", "api-gateway"),
        ("app.kubernetes.io/component", "api-gateway"),
        ("app.kubernetes.io/part-of", "api-gateway"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// The rule's Service: `rule.service`, else `spec.service`; its namespace,
/// else the APIRule's.
pub fn workload(rule: &Rule, spec: &v2::Spec, namespace: &str) -> Workload {
    let service = rule.service.as_ref().or(spec.service.as_ref());
    Workload {
        namespace: rule
            .service
            .as_ref()
            .and_then(|s| s.namespace.clone())
            .or_else(|| spec.service.as_ref().and_then(|s| s.namespace.clone()))
            .unwrap_or_else(|| namespace.to_owned()),
        name: service.map(|s| s.name.clone()).unwrap_or_default(),
    }
}

/// The policies select the Service's pods with its own `spec.selector`,
/// which lives in the cluster; the preview writes `app: <service>`.
fn selector(workload: &Workload) -> Selector {
    Selector {
        match_labels: BTreeMap::from([("app".to_owned(), workload.name.clone())]),
    }
}

fn route(
    index: usize,
    rule: &Rule,
    spec: &v2::Spec,
    workload: &Workload,
    service: Option<&crate::apirule::Service>,
    forwarded_host: &str,
) -> HttpRoute {
    let methods: Vec<&str> = rule.methods.iter().map(|m| m.as_str()).collect();
    let uri = match matcher::route_regex(&rule.path) {
        None => StringMatch::Prefix("/".into()),
        Some(regex) => StringMatch::Regex(regex),
    };
    let mut set = BTreeMap::from([("x-forwarded-host".to_owned(), forwarded_host.to_owned())]);
    if let Some(request) = &rule.request {
        set.extend(request.headers.clone().unwrap_or_default());
        if let Some(cookies) = request.cookies.as_ref().filter(|c| !c.is_empty()) {
            let cookie: Vec<String> = cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
            set.insert("Cookie".into(), cookie.join("; "));
        }
    }
    HttpRoute {
        matches: vec![HttpMatch {
            method: StringMatch::Regex(format!("^({})$", methods.join("|"))),
            uri,
        }],
        route: vec![RouteDestination {
            destination: Destination {
                host: format!("{}.{}.svc.cluster.local", workload.name, workload.namespace),
                port: PortSelector {
                    number: service.map_or(0, |s| s.port),
                },
            },
        }],
        timeout: format!(
            "{}s",
            rule.timeout.or(spec.timeout).unwrap_or(DEFAULT_TIMEOUT)
        ),
        headers: Headers {
            request: HeaderSet { set },
            response: HeaderRemove {
                remove: CORS_RESPONSE_HEADERS.to_vec(),
            },
        },
        cors_policy: spec.cors_policy.as_ref().map(|c| CorsPolicy {
            allow_origins: c.allow_origins.clone(),
            allow_methods: c.allow_methods.clone(),
            allow_headers: c.allow_headers.clone(),
            expose_headers: c.expose_headers.clone(),
            allow_credentials: c.allow_credentials,
            max_age: c.max_age.map(|s| format!("{s}s")),
        }),
        rule: index,
        methods: rule.methods.clone(),
        path: rule.path.clone(),
        workload: workload.clone(),
        regex: OnceLock::new(),
    }
}

fn jwt_rule(a: &JwtAuthentication, at: At) -> JwtRule {
    JwtRule {
        issuer: a.issuer.clone(),
        jwks_uri: a.jwks_uri.clone(),
        forward_original_token: true,
        from_headers: a
            .from_headers
            .iter()
            .flatten()
            .map(|h| JwtHeader {
                name: h.name.clone(),
                prefix: h.prefix.clone().unwrap_or_default(),
            })
            .collect(),
        from_params: a.from_params.clone().unwrap_or_default(),
        at,
    }
}

/// The operation of rule `i`: its hosts, methods and path, and as
/// `notPaths` the paths of earlier rules that share a method (so the first
/// matching rule decides, as in the VirtualService). The catch-all paths
/// are never excluded.
fn operation(rules: &[Rule], i: usize, hosts: &[String], patterns: &[Host]) -> Operation {
    let rule = &rules[i];
    let mut not_paths = Vec::new();
    let mut not_path_rules = Vec::new();
    for (j, earlier) in rules[..i].iter().enumerate() {
        let shares = earlier.methods.iter().any(|m| rule.methods.contains(m));
        let catch_all = matches!(earlier.path.as_str(), "/*" | "/{**}" | "/");
        if shares && !catch_all && !not_paths.contains(&earlier.path) {
            not_paths.push(earlier.path.clone());
            not_path_rules.push(j);
        }
    }
    Operation {
        hosts: hosts.to_vec(),
        methods: rule.methods.clone(),
        paths: vec![matcher::policy_path(&rule.path).to_owned()],
        not_paths,
        host_patterns: patterns.to_vec(),
        not_path_rules,
    }
}

fn allow(
    operation: &Operation,
    request_principals: Vec<String>,
    when: Vec<Condition>,
) -> PolicyRule {
    PolicyRule {
        from: vec![From {
            source: Source {
                request_principals,
                principals: vec![INGRESS_PRINCIPAL.into()],
            },
        }],
        to: vec![To {
            operation: operation.clone(),
        }],
        when,
    }
}

/// The claims api-gateway accepts required scopes in, one policy rule each.
pub const SCOPE_CLAIMS: [&str; 3] = ["scp", "scope", "scopes"];

/// The ALLOW policies of a jwt config: one per authorization (OR'ed), or
/// one requiring only the token when there is none. Within one, every
/// scope and audience is a condition of its own (AND), and the rule is
/// repeated for each claim scopes may arrive in.
fn jwt_policies(jwt: &JwtConfig, operation: &Operation) -> Vec<(PolicyKind, Vec<PolicyRule>)> {
    let principals: Vec<String> = jwt
        .authentications
        .iter()
        .flatten()
        .map(|a| format!("{}/*", a.issuer))
        .collect();
    let authorizations = jwt.authorizations.as_deref().unwrap_or_default();
    if authorizations.is_empty() {
        return vec![(
            PolicyKind::Authenticated,
            vec![allow(operation, principals, Vec::new())],
        )];
    }
    authorizations
        .iter()
        .enumerate()
        .map(|(k, a)| {
            let audiences: Vec<Condition> = a
                .audiences
                .iter()
                .flatten()
                .map(|aud| Condition {
                    key: "request.auth.claims[aud]".into(),
                    values: vec![aud.clone()],
                })
                .collect();
            let scopes = a.required_scopes.as_deref().unwrap_or_default();
            let rules = if scopes.is_empty() {
                vec![allow(operation, principals.clone(), audiences)]
            } else {
                SCOPE_CLAIMS
                    .iter()
                    .map(|claim| {
                        let mut when: Vec<Condition> = scopes
                            .iter()
                            .map(|s| Condition {
                                key: format!("request.auth.claims[{claim}]"),
                                values: vec![s.clone()],
                            })
                            .collect();
                        when.extend(audiences.iter().cloned());
                        allow(operation, principals.clone(), when)
                    })
                    .collect()
            };
            (PolicyKind::Authorization(k), rules)
        })
        .collect()
}

/// The objects of `apirules` as one YAML stream for review, each under a
/// comment naming its APIRule. The stream says it is a preview: api-gateway
/// creates these objects itself (with `generateName`), and their selectors
/// stand for each Service's own `spec.selector`.
pub fn preview(apirules: &[v2::ApiRule], domain: &str, name: impl Fn(usize) -> String) -> String {
    let mut text = format!(
        "# Preview, not for kubectl apply: the Istio objects api-gateway generates for\n\
         # these APIRules (short hosts under {domain}). api-gateway names them with\n\
         # generateName, and their selectors stand for each Service's spec.selector.\n"
    );
    for (i, apirule) in apirules.iter().enumerate() {
        let generated = generate(i, apirule, domain);
        let objects = generated
            .virtual_service
            .iter()
            .map(crate::yaml::emit::document)
            .chain(
                generated
                    .authentications
                    .iter()
                    .map(crate::yaml::emit::document),
            )
            .chain(generated.policies.iter().map(crate::yaml::emit::document));
        for object in objects {
            text.push_str(&format!("---\n# From APIRule {}\n{object}", name(i)));
        }
    }
    text
}
