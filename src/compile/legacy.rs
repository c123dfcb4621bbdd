//! The compiler's APIRule v1beta1 output, for clusters before Kyma 3.4.

use serde_json::Value;

use super::{Compiler, route_pointer};
use crate::apirule::{self, Version, v1beta1, v2};
use crate::policy::JwtHandler;
use crate::rules::Code;
use crate::spec::{self, Exposure};

impl Compiler<'_> {
    /// The legacy form: `host`, and `accessStrategies` with the jwt config
    /// in the style the cluster's jwt handler reads: Istio's
    /// `authentications`/`authorizations`, or Ory's `trusted_issuers`,
    /// `jwks_urls` and `required_scope` (the seed's).
    pub(super) fn v1beta1(
        &mut self,
        e: &Exposure,
        order: &[usize],
        jwt_handler: JwtHandler,
    ) -> v1beta1::ApiRule {
        let s = &e.spec;
        let ns = e.metadata.namespace.as_ref();
        let legacy = |c: &mut Self, pointer: String, what: &str| {
            c.error(
                Code::X004,
                pointer,
                format!("{what} cannot be expressed in APIRule v1beta1; render v2 instead"),
            );
        };
        if s.external_gateway.is_some() {
            legacy(self, "/spec/externalGateway".into(), "externalGateway");
        }
        self.origins
            .push(("/spec/host".into(), self.doc, "/spec/host".into()));
        let service = self.service(&s.service, ns, "/spec/service", "/spec/service");
        self.origins
            .push(("/spec/gateway".into(), self.doc, "/spec/gateway".into()));
        let cors_policy = s.cors.as_ref().map(|cors| {
            self.origins
                .push(("/spec/corsPolicy".into(), self.doc, "/spec/cors".into()));
            // v1beta1 takes maxAge as a duration.
            let mut v = serde_json::to_value(cors).expect("a CORS policy is plain data");
            if let Some(age) = cors.max_age {
                v["maxAge"] = Value::from(format!("{age}s"));
            }
            v
        });
        let mut rules = Vec::new();
        for (k, &i) in order.iter().enumerate() {
            let route = &s.routes[i];
            let at = route_pointer(i);
            let out_at = format!("/spec/rules/{k}");
            self.origins.push((out_at.clone(), self.doc, at.clone()));
            let strategy = if let Some(access) = &route.jwt {
                let cfg = self.jwt(access, &format!("{at}/jwt"), &format!("{out_at}/jwt"));
                match jwt_handler {
                    // The Istio handler reads the v2 config as it is.
                    JwtHandler::Istio => handler("jwt", Some(&cfg)),
                    JwtHandler::Ory => {
                        let auths = cfg.authentications.unwrap_or_default();
                        if auths
                            .iter()
                            .any(|a| a.from_headers.is_some() || a.from_params.is_some())
                        {
                            legacy(
                                self,
                                format!("{at}/jwt"),
                                "a token location (fromHeaders, fromParams) under the Ory jwt handler",
                            );
                        }
                        let config = v1beta1::OryJwtConfig {
                            jwks_urls: auths.iter().map(|a| a.jwks_uri.clone()).collect(),
                            required_scope: access.scopes.clone(),
                            target_audience: access.audiences.clone(),
                            trusted_issuers: auths.into_iter().map(|a| a.issuer).collect(),
                        };
                        handler("jwt", Some(&config))
                    }
                }
            } else {
                if route.ext_auth.is_some() {
                    legacy(self, format!("{at}/extAuth"), "extAuth");
                }
                handler::<()>("no_auth", None)
            };
            // Findings about the strategy belong to the route's access choice.
            self.origins.push((
                format!("{out_at}/accessStrategies"),
                self.doc,
                format!("{at}/jwt"),
            ));
            // Header and cookie settings are the header and cookie mutators.
            let mut mutators = Vec::new();
            if let Some(r) = Self::request(s.request.as_ref(), route.request.as_ref()) {
                if let Some(headers) = r.headers {
                    let config = v2::Request {
                        headers: Some(headers),
                        cookies: None,
                    };
                    mutators.push(handler("header", Some(&config)));
                }
                if let Some(cookies) = r.cookies {
                    let config = v2::Request {
                        headers: None,
                        cookies: Some(cookies),
                    };
                    mutators.push(handler("cookie", Some(&config)));
                }
            }
            let service = route.service.as_ref().map(|svc| {
                self.service(
                    svc,
                    ns,
                    &format!("{at}/service"),
                    &format!("{out_at}/service"),
                )
            });
            rules.push(v1beta1::Rule {
                // The path stays a v2 template: clusters that still take
                // v1beta1 store APIRules as v2alpha1, and their conversion
                // keeps only rules whose paths are templates (regexes such
                // as `/.*` drop every rule, B008).
                path: route.path.clone(),
                methods: route.methods.clone(),
                access_strategies: vec![strategy],
                mutators: (!mutators.is_empty()).then_some(mutators),
                service,
                timeout: route.timeout,
            });
        }
        v1beta1::ApiRule {
            api_version: Version::V1beta1.api_version().to_owned(),
            kind: apirule::KIND.to_owned(),
            metadata: self.metadata(e),
            spec: Some(v1beta1::Spec {
                host: s.host.clone(),
                service: Some(service),
                gateway: s
                    .gateway
                    .clone()
                    .unwrap_or_else(|| spec::DEFAULT_GATEWAY.to_owned()),
                cors_policy,
                rules,
                timeout: s.timeout,
            }),
            status: None,
        }
    }
}

/// A v1beta1 access strategy or mutator with its config.
fn handler<T: serde::Serialize>(name: &str, config: Option<&T>) -> v1beta1::Handler {
    v1beta1::Handler {
        handler: name.to_owned(),
        config: config.map(|c| serde_json::to_value(c).expect("handler configs are plain data")),
    }
}
