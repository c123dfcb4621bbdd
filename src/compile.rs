//! Exposure -> APIRule. Pure: no I/O, no templating, no output.
//!
//! The compiler resolves issuer names, orders routes most specific first
//! (so upstream's path × method conflict rule cannot fire on its output) and
//! refuses what it cannot express. Every finding names the place in the
//! spec that caused it; the caller runs the check core on the result and
//! maps its findings back through `Compiled::origin`.

use std::collections::{BTreeMap, BTreeSet};

use crate::apirule::{
    self, JwtAuthentication, JwtAuthorization, JwtConfig, Metadata, Object, Service, Version, v2,
};
use crate::diagnostic::{Finding, join};
use crate::policy::JwtHandler;
use crate::rules::Code;
use crate::spec::{self, Exposure, Issuer, JwtAccess, ServiceRef};

mod legacy;
mod routes;

pub use routes::order;

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
    pub apirule: Object,
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
        origin(&self.origins, pointer)
    }
}

/// Where in the spec a pointer into a compiled APIRule belongs, given its
/// recorded origins (see `Compiled::origin`).
pub fn origin(origins: &[(String, DocRef, String)], pointer: &str) -> (DocRef, String) {
    let mut best: Option<&(String, DocRef, String)> = None;
    for o in origins {
        let matches = pointer == o.0
            || (pointer.starts_with(o.0.as_str()) && pointer[o.0.len()..].starts_with('/'));
        if matches && best.is_none_or(|b| o.0.len() > b.0.len()) {
            best = Some(o);
        }
    }
    let (prefix, doc, target) = best.expect("the empty prefix is always recorded");
    (*doc, format!("{target}{}", &pointer[prefix.len()..]))
}

/// Compiles one exposure found at `doc`. `shared` holds the run's `Issuers`.
///
/// The fields of a shared issuer come from its definition, and findings
/// about them are placed there.
pub fn exposure(
    exposure: &Exposure,
    doc: DocRef,
    shared: &IssuerBook,
    version: Version,
    jwt_handler: JwtHandler,
) -> Compiled {
    let mut c = Compiler {
        doc,
        shared,
        local: exposure.spec.issuers.as_ref(),
        findings: Vec::new(),
        origins: vec![(String::new(), doc, String::new())],
        reported: BTreeSet::new(),
    };
    let order = order(&exposure.spec.routes);
    c.unreachable(&exposure.spec.routes, &order);
    let apirule = match version {
        Version::V1beta1 => Object::V1beta1(c.v1beta1(exposure, &order, jwt_handler)),
        Version::V2 | Version::V2alpha1 => Object::V2(c.v2(exposure, &order, version)),
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
    local: Option<&'a BTreeMap<String, Issuer>>,
    findings: Vec<Located>,
    origins: Vec<(String, DocRef, String)>,
    /// Issuers already reported as lacking a jwksUri (once each).
    reported: BTreeSet<String>,
}

/// X002, with the hint users need: where the jwksUri comes from. (The
/// command that records discovery depends on the run; the commands add it.)
pub fn missing_jwks_uri(name: &str, issuer: &str, pointer: &str) -> Finding {
    Finding::new(
        Code::X002,
        pointer,
        format!(
            "issuer \"{name}\" has no jwksUri; set it to the jwks_uri of {}/.well-known/openid-configuration, or record discovery in the lock",
            issuer.trim_end_matches('/')
        ),
    )
}

fn route_pointer(i: usize) -> String {
    format!("/spec/routes/{i}")
}

impl Compiler<'_> {
    fn error(&mut self, code: Code, pointer: String, message: String) {
        self.findings.push(Located {
            doc: self.doc,
            finding: Finding::new(code, pointer, message),
        });
    }

    fn issuer(&mut self, name: &str, at: &str) -> Option<(Issuer, DocRef, String)> {
        if let Some(local) = self.local.and_then(|l| l.get(name)) {
            let pointer = join("/spec/issuers", name);
            return Some((local.clone(), self.doc, pointer));
        }
        if let Some(def) = self.shared.get(name) {
            return Some((def.issuer.clone(), def.doc, def.pointer.clone()));
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
            Code::X001,
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

    fn metadata(&mut self, exposure: &Exposure) -> Metadata {
        let m = &exposure.metadata;
        let mut labels = m.labels.clone().unwrap_or_default();
        labels.insert("app.kubernetes.io/managed-by".into(), "kexpose".into());
        self.origins
            .push(("/metadata".into(), self.doc, "/metadata".into()));
        Metadata {
            name: Some(m.name.clone()),
            namespace: m.namespace.clone(),
            labels: Some(labels),
            annotations: m.annotations.clone().filter(|a| !a.is_empty()),
            other: Default::default(),
        }
    }

    fn service(
        &mut self,
        service: &ServiceRef,
        namespace: Option<&String>,
        at: &str,
        out_at: &str,
    ) -> Service {
        self.origins.push((out_at.into(), self.doc, at.into()));
        Service {
            name: service.name.clone(),
            // The exposure's own namespace is the default; not repeated.
            namespace: service.namespace.clone().filter(|ns| Some(ns) != namespace),
            port: service.port,
            external: None,
        }
    }

    /// The spec's request settings with the route's on top.
    fn request(spec: Option<&v2::Request>, route: Option<&v2::Request>) -> Option<v2::Request> {
        let mut headers = BTreeMap::new();
        let mut cookies = BTreeMap::new();
        for r in [spec, route].into_iter().flatten() {
            headers.extend(r.headers.clone().unwrap_or_default());
            cookies.extend(r.cookies.clone().unwrap_or_default());
        }
        let request = v2::Request {
            cookies: (!cookies.is_empty()).then_some(cookies),
            headers: (!headers.is_empty()).then_some(headers),
        };
        (request != v2::Request::default()).then_some(request)
    }

    fn v2(&mut self, e: &Exposure, order: &[usize], version: Version) -> v2::ApiRule {
        let s = &e.spec;
        let ns = e.metadata.namespace.as_ref();
        self.origins
            .push(("/spec/hosts/0".into(), self.doc, "/spec/host".into()));
        let service = self.service(&s.service, ns, "/spec/service", "/spec/service");
        let (gateway, external_gateway) = match &s.external_gateway {
            Some(g) => {
                self.origins.push((
                    "/spec/externalGateway".into(),
                    self.doc,
                    "/spec/externalGateway".into(),
                ));
                (None, Some(g.clone()))
            }
            None => {
                self.origins
                    .push(("/spec/gateway".into(), self.doc, "/spec/gateway".into()));
                let g = s.gateway.as_deref().unwrap_or(spec::DEFAULT_GATEWAY);
                (Some(g.to_owned()), None)
            }
        };
        if s.cors.is_some() {
            self.origins
                .push(("/spec/corsPolicy".into(), self.doc, "/spec/cors".into()));
        }
        if s.timeout.is_some() {
            self.origins
                .push(("/spec/timeout".into(), self.doc, "/spec/timeout".into()));
        }
        let mut rules = Vec::new();
        for (k, &i) in order.iter().enumerate() {
            let route = &s.routes[i];
            let at = route_pointer(i);
            let out_at = format!("/spec/rules/{k}");
            self.origins.push((out_at.clone(), self.doc, at.clone()));
            let jwt = route
                .jwt
                .as_ref()
                .map(|access| self.jwt(access, &format!("{at}/jwt"), &format!("{out_at}/jwt")));
            let ext_auth = route.ext_auth.as_ref().map(|ext| {
                self.origins.push((
                    format!("{out_at}/extAuth"),
                    self.doc,
                    format!("{at}/extAuth"),
                ));
                v2::ExtAuth {
                    authorizers: ext.authorizers.clone(),
                    restrictions: ext.jwt.as_ref().map(|access| {
                        self.jwt(
                            access,
                            &format!("{at}/extAuth/jwt"),
                            &format!("{out_at}/extAuth/restrictions"),
                        )
                    }),
                }
            });
            let service = route.service.as_ref().map(|svc| {
                self.service(
                    svc,
                    ns,
                    &format!("{at}/service"),
                    &format!("{out_at}/service"),
                )
            });
            rules.push(v2::Rule {
                path: route.path.clone(),
                methods: route.methods.clone(),
                no_auth: (route.public == Some(true)).then_some(true),
                jwt,
                ext_auth,
                service,
                request: Self::request(s.request.as_ref(), route.request.as_ref()),
                timeout: route.timeout,
            });
        }
        v2::ApiRule {
            api_version: version.api_version().to_owned(),
            kind: apirule::KIND.to_owned(),
            metadata: self.metadata(e),
            spec: Some(v2::Spec {
                hosts: vec![s.host.clone()],
                service: Some(service),
                gateway,
                external_gateway,
                cors_policy: s.cors.clone(),
                rules,
                timeout: s.timeout,
            }),
            status: None,
        }
    }
}
