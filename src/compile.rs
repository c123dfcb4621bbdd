//! Exposure -> APIRule. Pure: no I/O, no templating, no output.
//!
//! The compiler resolves issuer names, orders routes most specific first
//! (so upstream's path × method conflict rule cannot fire on its output) and
//! refuses what it cannot express. Every finding names the place in the
//! spec that caused it; the caller runs the check core on the result and
//! maps its findings back through `Compiled::origin`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use crate::apirule::{self, JwtAuthentication, JwtAuthorization, JwtConfig, Method, Version};
use crate::check::path::{self, SegmentTrie};
use crate::diagnostic::{Finding, join};
use crate::spec::{self, Exposure, Issuer, JwtAccess, Route, ServiceRef};

/// A document among the inputs of one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DocRef {
    pub source: usize,
    pub document: usize,
}

/// A spec finding and the document it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    pub doc: DocRef,
    pub finding: Finding,
}

/// A named issuer and where it is defined.
#[derive(Debug, Clone)]
pub struct IssuerDef {
    pub issuer: Issuer,
    /// The file it is defined in, as given.
    pub file: String,
    pub doc: DocRef,
    pub pointer: String,
}

/// The issuers shared by every exposure of a run (`kind: Issuers`).
pub type IssuerBook = BTreeMap<String, IssuerDef>;

/// One compiled APIRule, or why there is none.
#[derive(Debug, Clone)]
pub struct Compiled {
    pub apirule: Value,
    /// APIRule pointer prefix -> the spec document and pointer it came from;
    /// longest prefix wins.
    pub origins: Vec<(String, DocRef, String)>,
    /// Findings about the spec; any at error severity means no output.
    pub findings: Vec<Located>,
}

impl Compiled {
    /// Where in the spec a finding about `pointer` in the APIRule belongs:
    /// the recorded origin of its longest recorded prefix, with the rest of
    /// the pointer appended (spec and APIRule share field names below the
    /// recorded points; a name the spec lacks resolves to its parent).
    pub fn origin(&self, pointer: &str) -> (DocRef, String) {
        let mut best: Option<&(String, DocRef, String)> = None;
        for o in &self.origins {
            let matches = pointer == o.0
                || (pointer.starts_with(o.0.as_str()) && pointer[o.0.len()..].starts_with('/'));
            if matches && best.is_none_or(|b| o.0.len() > b.0.len()) {
                best = Some(o);
            }
        }
        let (prefix, doc, target) = best.expect("the empty prefix is always recorded");
        (*doc, format!("{target}{}", &pointer[prefix.len()..]))
    }
}

/// Compiles one exposure found at `doc`. `shared` holds the run's `Issuers`.
///
/// Findings about a shared issuer are placed at its definition, or, with
/// `shared_at_reference`, at the route that names it (for callers that see
/// one file at a time).
pub fn exposure(
    exposure: &Exposure,
    doc: DocRef,
    shared: &IssuerBook,
    version: Version,
    shared_at_reference: bool,
) -> Compiled {
    let mut c = Compiler {
        doc,
        shared,
        shared_at_reference,
        local: exposure.spec.issuers.as_ref(),
        findings: Vec::new(),
        origins: vec![(String::new(), doc, String::new())],
        reported: BTreeSet::new(),
    };
    let order = order(&exposure.spec.routes);
    c.unreachable(&exposure.spec.routes, &order);
    let apirule = match version {
        Version::V1beta1 => c.v1beta1(exposure, &order),
        Version::V2 | Version::V2alpha1 => c.v2(exposure, &order, version),
    };
    Compiled {
        apirule,
        origins: c.origins,
        findings: c.findings,
    }
}

struct Compiler<'a> {
    doc: DocRef,
    shared: &'a IssuerBook,
    shared_at_reference: bool,
    local: Option<&'a BTreeMap<String, Issuer>>,
    findings: Vec<Located>,
    origins: Vec<(String, DocRef, String)>,
    /// Issuers already reported as lacking a jwksUri (once each).
    reported: BTreeSet<String>,
}

/// X002, with the hint users need: where the jwksUri comes from.
pub fn missing_jwks_uri(name: &str, issuer: &str, pointer: &str) -> Finding {
    Finding::new(
        "X002",
        pointer,
        format!(
            "issuer \"{name}\" has no jwksUri; set it to the jwks_uri of {}/.well-known/openid-configuration, or record it with `kexpose lock`",
            issuer.trim_end_matches('/')
        ),
    )
}

/// Rank of one path segment: literals before `{*}` before `{**}`.
fn segment_rank(segment: &str) -> u8 {
    match segment {
        "{*}" => 1,
        "{**}" => 2,
        _ => 0,
    }
}

/// Route indices, most specific path first; ties keep the spec's order.
///
/// Segments compare left to right, a literal before `{*}` before `{**}`;
/// a path that ends earlier sorts first. Under this order a more general
/// route never precedes one it would shadow.
pub fn order(routes: &[Route]) -> Vec<usize> {
    let keys: Vec<Vec<(u8, &str)>> = routes
        .iter()
        .map(|r| {
            path::normalise(&r.path)
                .trim_start_matches('/')
                .split('/')
                .map(|s| (segment_rank(s), s))
                .collect()
        })
        .collect();
    let mut idx: Vec<usize> = (0..routes.len()).collect();
    idx.sort_by(|&a, &b| {
        let (ka, kb) = (&keys[a], &keys[b]);
        for (x, y) in ka.iter().zip(kb.iter()) {
            match x.0.cmp(&y.0) {
                std::cmp::Ordering::Equal => {}
                o => return o,
            }
        }
        ka.len().cmp(&kb.len())
    });
    idx
}

fn route_pointer(i: usize) -> String {
    format!("/spec/routes/{i}")
}

impl Compiler<'_> {
    fn error(&mut self, code: &'static str, pointer: String, message: String) {
        self.findings.push(Located {
            doc: self.doc,
            finding: Finding::new(code, pointer, message),
        });
    }

    /// X003: a route that, after ordering, upstream would still reject as
    /// shadowed — the same path and method twice, or paths its segment trie
    /// treats as overlapping (`/a/{*}` and `/a/{**}`).
    fn unreachable(&mut self, routes: &[Route], order: &[usize]) {
        let mut tries: BTreeMap<Method, (SegmentTrie, Vec<(usize, String)>)> = BTreeMap::new();
        for &i in order {
            let route = &routes[i];
            let mut seen = BTreeSet::new();
            for &m in &route.methods {
                if !seen.insert(m) {
                    continue;
                }
                let (trie, paths) = tries.entry(m).or_default();
                let normal = path::normalise(&route.path).to_owned();
                let method = m.as_str();
                let message = if let Some((j, _)) = paths.iter().find(|(_, p)| *p == normal) {
                    format!(
                        "route {method} {} can never be reached: route {j} already takes {method} {}",
                        route.path, routes[*j].path
                    )
                } else if trie.insert(&route.path) {
                    format!(
                        "route {method} {} overlaps another route's path for {method}, which Kyma rejects as a path × method conflict; give them different methods or merge them",
                        route.path
                    )
                } else {
                    paths.push((i, normal));
                    continue;
                };
                self.error("X003", join(&route_pointer(i), "path"), message);
                break;
            }
        }
    }
    fn issuer(&mut self, name: &str, at: &str) -> Option<(Issuer, DocRef, String)> {
        if let Some(local) = self.local.and_then(|l| l.get(name)) {
            let pointer = join("/spec/issuers", name);
            return Some((local.clone(), self.doc, pointer));
        }
        if let Some(def) = self.shared.get(name) {
            return Some(if self.shared_at_reference {
                (def.issuer.clone(), self.doc, at.to_owned())
            } else {
                (def.issuer.clone(), def.doc, def.pointer.clone())
            });
        }
        let mut known: Vec<&str> = self
            .local
            .into_iter()
            .flat_map(|l| l.keys())
            .chain(self.shared.keys())
            .map(String::as_str)
            .collect();
        known.sort_unstable();
        known.dedup();
        let hint = if known.is_empty() {
            "no issuers are defined; add spec.issuers or an Issuers document".to_owned()
        } else {
            format!("known issuers: {}", known.join(", "))
        };
        self.error(
            "X001",
            at.to_owned(),
            format!("unknown issuer \"{name}\" ({hint})"),
        );
        None
    }

    /// The APIRule `jwt` block for a route's access, recording where each
    /// authentication came from.
    fn jwt(&mut self, access: &JwtAccess, at: &str, out_at: &str) -> JwtConfig {
        let mut authentications = Vec::new();
        for (suffix, name) in access.names() {
            let Some((issuer, doc, pointer)) = self.issuer(name, &format!("{at}{suffix}")) else {
                continue;
            };
            let Some(jwks_uri) = issuer.jwks_uri.clone() else {
                if self.reported.insert(name.to_owned()) {
                    self.findings.push(Located {
                        doc,
                        finding: missing_jwks_uri(name, &issuer.issuer, &pointer),
                    });
                }
                continue;
            };
            let k = authentications.len();
            self.origins.push((
                format!("{out_at}/authentications/{k}"),
                doc,
                pointer.clone(),
            ));
            authentications.push(JwtAuthentication {
                issuer: issuer.issuer,
                jwks_uri,
                from_headers: issuer.from_headers,
                from_params: issuer.from_params,
            });
        }
        let authorizations = (access.scopes.is_some() || access.audiences.is_some()).then(|| {
            self.origins
                .push((format!("{out_at}/authorizations"), self.doc, at.to_owned()));
            vec![JwtAuthorization {
                required_scopes: access.scopes.clone(),
                audiences: access.audiences.clone(),
            }]
        });
        JwtConfig {
            authentications: Some(authentications),
            authorizations,
        }
    }

    fn metadata(&mut self, exposure: &Exposure) -> Value {
        let m = &exposure.metadata;
        let mut labels = m.labels.clone().unwrap_or_default();
        labels.insert("app.kubernetes.io/managed-by".into(), "kexpose".into());
        let mut out = json!({ "name": m.name, "labels": labels });
        if let Some(ns) = &m.namespace {
            out["namespace"] = json!(ns);
        }
        if let Some(a) = m.annotations.as_ref().filter(|a| !a.is_empty()) {
            out["annotations"] = json!(a);
        }
        self.origins
            .push(("/metadata".into(), self.doc, "/metadata".into()));
        out
    }

    fn service(
        &mut self,
        service: &ServiceRef,
        namespace: Option<&String>,
        at: &str,
        out_at: &str,
    ) -> Value {
        self.origins.push((out_at.into(), self.doc, at.into()));
        let mut s = json!({ "name": service.name, "port": service.port });
        if let Some(ns) = service
            .namespace
            .as_ref()
            .filter(|ns| Some(*ns) != namespace)
        {
            s["namespace"] = json!(ns);
        }
        s
    }

    fn request(
        spec: Option<&apirule::v2::Request>,
        route: Option<&apirule::v2::Request>,
    ) -> Option<Value> {
        let mut headers = BTreeMap::new();
        let mut cookies = BTreeMap::new();
        for r in [spec, route].into_iter().flatten() {
            headers.extend(r.headers.clone().unwrap_or_default());
            cookies.extend(r.cookies.clone().unwrap_or_default());
        }
        let mut out = Map::new();
        if !headers.is_empty() {
            out.insert("headers".into(), json!(headers));
        }
        if !cookies.is_empty() {
            out.insert("cookies".into(), json!(cookies));
        }
        (!out.is_empty()).then_some(Value::Object(out))
    }

    fn v2(&mut self, e: &Exposure, order: &[usize], version: Version) -> Value {
        let s = &e.spec;
        let ns = e.metadata.namespace.as_ref();
        let mut spec = Map::new();
        self.origins
            .push(("/spec/hosts/0".into(), self.doc, "/spec/host".into()));
        spec.insert("hosts".into(), json!([s.host]));
        spec.insert(
            "service".into(),
            self.service(&s.service, ns, "/spec/service", "/spec/service"),
        );
        match &s.external_gateway {
            Some(g) => {
                self.origins.push((
                    "/spec/externalGateway".into(),
                    self.doc,
                    "/spec/externalGateway".into(),
                ));
                spec.insert("externalGateway".into(), json!(g));
            }
            None => {
                self.origins
                    .push(("/spec/gateway".into(), self.doc, "/spec/gateway".into()));
                let g = s.gateway.as_deref().unwrap_or(spec::DEFAULT_GATEWAY);
                spec.insert("gateway".into(), json!(g));
            }
        }
        if let Some(cors) = &s.cors {
            self.origins
                .push(("/spec/corsPolicy".into(), self.doc, "/spec/cors".into()));
            spec.insert("corsPolicy".into(), json!(cors));
        }
        if let Some(t) = s.timeout {
            self.origins
                .push(("/spec/timeout".into(), self.doc, "/spec/timeout".into()));
            spec.insert("timeout".into(), json!(t));
        }
        let mut rules = Vec::new();
        for (k, &i) in order.iter().enumerate() {
            let route = &s.routes[i];
            let at = route_pointer(i);
            let out_at = format!("/spec/rules/{k}");
            self.origins.push((out_at.clone(), self.doc, at.clone()));
            let mut rule = Map::new();
            rule.insert("path".into(), json!(route.path));
            rule.insert("methods".into(), json!(route.methods));
            if route.public == Some(true) {
                rule.insert("noAuth".into(), json!(true));
            }
            if let Some(access) = &route.jwt {
                let cfg = self.jwt(access, &format!("{at}/jwt"), &format!("{out_at}/jwt"));
                rule.insert("jwt".into(), json!(cfg));
            }
            if let Some(ext) = &route.ext_auth {
                self.origins.push((
                    format!("{out_at}/extAuth"),
                    self.doc,
                    format!("{at}/extAuth"),
                ));
                let mut x = json!({ "authorizers": ext.authorizers });
                if let Some(access) = &ext.jwt {
                    let cfg = self.jwt(
                        access,
                        &format!("{at}/extAuth/jwt"),
                        &format!("{out_at}/extAuth/restrictions"),
                    );
                    x["restrictions"] = json!(cfg);
                }
                rule.insert("extAuth".into(), x);
            }
            if let Some(svc) = &route.service {
                let v = self.service(
                    svc,
                    ns,
                    &format!("{at}/service"),
                    &format!("{out_at}/service"),
                );
                rule.insert("service".into(), v);
            }
            if let Some(t) = route.timeout {
                rule.insert("timeout".into(), json!(t));
            }
            if let Some(r) = Self::request(s.request.as_ref(), route.request.as_ref()) {
                rule.insert("request".into(), r);
            }
            rules.push(Value::Object(rule));
        }
        spec.insert("rules".into(), Value::Array(rules));
        json!({
            "apiVersion": version.api_version(),
            "kind": apirule::KIND,
            "metadata": self.metadata(e),
            "spec": spec,
        })
    }

    /// The seed's legacy form: `host`, and `accessStrategies` with the jwt
    /// handler in its default (Ory) configuration style.
    fn v1beta1(&mut self, e: &Exposure, order: &[usize]) -> Value {
        let s = &e.spec;
        let ns = e.metadata.namespace.as_ref();
        let legacy = |c: &mut Self, pointer: String, what: &str| {
            c.error(
                "X004",
                pointer,
                format!("{what} cannot be expressed in APIRule v1beta1; render v2 instead"),
            );
        };
        if s.external_gateway.is_some() {
            legacy(self, "/spec/externalGateway".into(), "externalGateway");
        }
        self.origins
            .push(("/spec/host".into(), self.doc, "/spec/host".into()));
        let mut spec = Map::new();
        spec.insert("host".into(), json!(s.host));
        spec.insert(
            "service".into(),
            self.service(&s.service, ns, "/spec/service", "/spec/service"),
        );
        self.origins
            .push(("/spec/gateway".into(), self.doc, "/spec/gateway".into()));
        spec.insert(
            "gateway".into(),
            json!(s.gateway.as_deref().unwrap_or(spec::DEFAULT_GATEWAY)),
        );
        if let Some(cors) = &s.cors {
            self.origins
                .push(("/spec/corsPolicy".into(), self.doc, "/spec/cors".into()));
            let mut v = json!(cors);
            if let Some(age) = cors.max_age {
                v["maxAge"] = json!(format!("{age}s"));
            }
            spec.insert("corsPolicy".into(), v);
        }
        if let Some(t) = s.timeout {
            spec.insert("timeout".into(), json!(t));
        }
        let mut rules = Vec::new();
        for (k, &i) in order.iter().enumerate() {
            let route = &s.routes[i];
            let at = route_pointer(i);
            let out_at = format!("/spec/rules/{k}");
            self.origins.push((out_at.clone(), self.doc, at.clone()));
            let mut rule = Map::new();
            // The path stays a v2 template: clusters that still take v1beta1
            // store APIRules as v2alpha1, and their conversion keeps only
            // rules whose paths are templates (regexes such as `/.*` drop
            // every rule, B008).
            rule.insert("path".into(), json!(route.path));
            rule.insert("methods".into(), json!(route.methods));
            let strategy = if let Some(access) = &route.jwt {
                let cfg = self.jwt(access, &format!("{at}/jwt"), &format!("{out_at}/jwt"));
                let auths = cfg.authentications.unwrap_or_default();
                if auths
                    .iter()
                    .any(|a| a.from_headers.is_some() || a.from_params.is_some())
                {
                    legacy(
                        self,
                        format!("{at}/jwt"),
                        "a token location (fromHeaders, fromParams)",
                    );
                }
                let mut config = json!({
                    "trusted_issuers": auths.iter().map(|a| &a.issuer).collect::<Vec<_>>(),
                    "jwks_urls": auths.iter().map(|a| &a.jwks_uri).collect::<Vec<_>>(),
                });
                if let Some(scopes) = &access.scopes {
                    config["required_scope"] = json!(scopes);
                }
                if let Some(aud) = &access.audiences {
                    config["target_audience"] = json!(aud);
                }
                json!({ "handler": "jwt", "config": config })
            } else {
                if route.ext_auth.is_some() {
                    legacy(self, format!("{at}/extAuth"), "extAuth");
                }
                json!({ "handler": "no_auth" })
            };
            // Findings about the strategy belong to the route's access choice.
            self.origins.push((
                format!("{out_at}/accessStrategies"),
                self.doc,
                format!("{at}/jwt"),
            ));
            rule.insert("accessStrategies".into(), json!([strategy]));
            let mut mutators = Vec::new();
            if let Some(r) = Self::request(s.request.as_ref(), route.request.as_ref()) {
                if let Some(h) = r.get("headers") {
                    mutators.push(json!({ "handler": "header", "config": { "headers": h } }));
                }
                if let Some(c) = r.get("cookies") {
                    mutators.push(json!({ "handler": "cookie", "config": { "cookies": c } }));
                }
            }
            if !mutators.is_empty() {
                rule.insert("mutators".into(), Value::Array(mutators));
            }
            if let Some(svc) = &route.service {
                let v = self.service(
                    svc,
                    ns,
                    &format!("{at}/service"),
                    &format!("{out_at}/service"),
                );
                rule.insert("service".into(), v);
            }
            if let Some(t) = route.timeout {
                rule.insert("timeout".into(), json!(t));
            }
            rules.push(Value::Object(rule));
        }
        spec.insert("rules".into(), Value::Array(rules));
        json!({
            "apiVersion": Version::V1beta1.api_version(),
            "kind": apirule::KIND,
            "metadata": self.metadata(e),
            "spec": spec,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routes(paths: &[&str]) -> Vec<Route> {
        paths
            .iter()
            .map(|p| Route {
                path: (*p).into(),
                methods: vec![Method::GET],
                public: Some(true),
                jwt: None,
                ext_auth: None,
                service: None,
                timeout: None,
                request: None,
            })
            .collect()
    }

    #[test]
    fn most_specific_first() {
        let r = routes(&[
            "/*",
            "/api/{**}",
            "/api/v1/{*}",
            "/api/v1/orders",
            "/healthz",
            "/api/{*}/x",
        ]);
        let sorted: Vec<&str> = order(&r).into_iter().map(|i| r[i].path.as_str()).collect();
        assert_eq!(
            sorted,
            [
                "/healthz",
                "/api/v1/orders",
                "/api/v1/{*}",
                "/api/{*}/x",
                "/api/{**}",
                "/*"
            ]
        );
    }

    #[test]
    fn sorted_routes_never_conflict_in_the_trie() {
        let r = routes(&[
            "/*",
            "/a/{**}",
            "/a/b/{**}",
            "/a/b/c",
            "/a/{*}/c",
            "/b",
            "/a",
        ]);
        let mut trie = SegmentTrie::default();
        for i in order(&r) {
            assert!(!trie.insert(&r[i].path), "{} conflicts", r[i].path);
        }
    }
}
