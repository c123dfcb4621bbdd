//! How api-gateway turns one v2/v2alpha1 APIRule into the objects of
//! `super`: the VirtualService with a route per rule, the
//! RequestAuthentications and the AuthorizationPolicies, and the preview
//! `render --istio` writes.

use std::collections::BTreeMap;

// The other half of `super`: every object type it defines is built here.
use super::*;

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
