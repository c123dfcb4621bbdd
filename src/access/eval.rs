//! A request through the generated objects, in the order Envoy applies
//! them: the ingress gateway routes by host and the VirtualService's rules
//! (first match wins, else 404); at the workload, the RequestAuthentications
//! verify a token found where an issuer expects one (a bad one is 401);
//! then CUSTOM policies ask their authorizer, and the ALLOW policies decide
//! (none matching is 403).
//!
//! Every step leaves a reason that names the APIRule field behind it.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::{Map, Value};

use super::At;
use super::istio::{
    self, AuthorizationPolicy, Generated, HttpRoute, INGRESS_PRINCIPAL, JwtRule, PolicyKind,
    PolicyRule, VirtualService, Workload,
};
use super::matcher::{self, Host};
use super::request::{Caller, Request, Token, TokenAt};
use crate::apirule::v2;

/// What a request gets, and why.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    pub status: u16,
    /// The body Istio answers with (`RBAC: access denied`, `Jwt issuer is
    /// not configured`, ...), when it is Istio that answers.
    pub message: Option<String>,
    /// External authorizers that decide first: the status holds only if
    /// they allow the request.
    pub authorizers: Vec<String>,
    pub reasons: Vec<Reason>,
    /// The rule whose route matched: APIRule index, rule index.
    pub rule: Option<(usize, usize)>,
}

/// One step of the explanation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason {
    pub message: String,
    pub at: Option<At>,
}

impl Reason {
    fn new(message: impl Into<String>, at: Option<At>) -> Reason {
        Reason {
            message: message.into(),
            at,
        }
    }
}

/// The objects of a set of APIRules, indexed for requests. Building it
/// only indexes hosts and workloads; an APIRule's objects are generated
/// when a request first reaches them (one request against a thousand
/// APIRules generates a handful), and its route regexes when first matched.
pub struct Model<'a> {
    apirules: &'a [v2::ApiRule],
    domain: Option<String>,
    /// How short hosts are written in the generated objects.
    shown: String,
    generated: Vec<OnceLock<Generated>>,
    /// Each APIRule's hosts.
    hosts: Vec<Vec<Host>>,
    /// Exact host -> APIRules; APIRules with other hosts are in `patterned`.
    exact: HashMap<String, Vec<usize>>,
    patterned: Vec<usize>,
    /// Workload -> the APIRules with a rule that sends to it.
    workloads: HashMap<Workload, Vec<usize>>,
}

impl<'a> Model<'a> {
    /// The model of `apirules`. `domain` is the gateway's domain short hosts
    /// are served under; when `None`, a request's own domain is taken.
    pub fn new(apirules: &'a [v2::ApiRule], domain: Option<&str>) -> Model<'a> {
        let domain = domain.map(|d| d.trim_start_matches("*.").to_ascii_lowercase());
        let mut model = Model {
            apirules,
            shown: domain.clone().unwrap_or_else(|| "<domain>".into()),
            domain,
            generated: apirules.iter().map(|_| OnceLock::new()).collect(),
            hosts: Vec::with_capacity(apirules.len()),
            exact: HashMap::new(),
            patterned: Vec::new(),
            workloads: HashMap::new(),
        };
        for (i, apirule) in apirules.iter().enumerate() {
            let Some(spec) = &apirule.spec else {
                model.hosts.push(Vec::new());
                continue;
            };
            let hosts: Vec<Host> = spec.hosts.iter().map(|h| Host::parse(h)).collect();
            for host in &hosts {
                match host {
                    Host::Exact(h) => model.exact.entry(h.clone()).or_default().push(i),
                    _ if model.patterned.last() != Some(&i) => model.patterned.push(i),
                    _ => {}
                }
            }
            model.hosts.push(hosts);
            let namespace = apirule.metadata.namespace.as_deref().unwrap_or("default");
            for rule in &spec.rules {
                let users = model
                    .workloads
                    .entry(istio::workload(rule, spec, namespace))
                    .or_default();
                if users.last() != Some(&i) {
                    users.push(i);
                }
            }
        }
        model
    }

    /// The objects of one APIRule, generated on first use.
    fn generated(&self, apirule: usize) -> &Generated {
        self.generated[apirule]
            .get_or_init(|| istio::generate(apirule, &self.apirules[apirule], &self.shown))
    }

    fn virtual_service(&self, apirule: usize) -> Option<&VirtualService> {
        self.generated(apirule).virtual_service.as_ref()
    }

    /// The APIRules whose objects select `workload`.
    fn users(&self, workload: &Workload) -> &[usize] {
        self.workloads.get(workload).map_or(&[][..], Vec::as_slice)
    }

    /// Every jwt rule of the RequestAuthentications that select `workload`.
    fn jwt_rules(&self, workload: &Workload) -> Vec<&JwtRule> {
        self.users(workload)
            .iter()
            .flat_map(|&i| &self.generated(i).authentications)
            .filter(|ra| ra.spec.workload == *workload)
            .flat_map(|ra| &ra.spec.jwt_rules)
            .collect()
    }

    /// The AuthorizationPolicies that select `workload`.
    fn policies(&self, workload: &Workload) -> Vec<&AuthorizationPolicy> {
        self.users(workload)
            .iter()
            .flat_map(|&i| &self.generated(i).policies)
            .filter(|p| p.spec.workload == *workload)
            .collect()
    }

    fn name(&self, apirule: usize) -> String {
        super::name(&self.apirules[apirule])
    }

    fn rule(&self, apirule: usize, rule: usize) -> Option<&v2::Rule> {
        self.apirules[apirule].spec.as_ref()?.rules.get(rule)
    }

    /// Where a rule keeps its jwt config: `jwt`, or `extAuth.restrictions`.
    fn config_pointer(&self, apirule: usize, rule: usize) -> String {
        let extauth = self
            .rule(apirule, rule)
            .is_some_and(|r| r.jwt.is_none() && r.ext_auth.is_some());
        if extauth {
            format!("/spec/rules/{rule}/extAuth/restrictions")
        } else {
            format!("/spec/rules/{rule}/jwt")
        }
    }

    /// What `request` gets.
    pub fn explain(&self, request: &Request) -> Outcome {
        let mut out = Outcome::default();
        let (workload, domain) = match request.caller {
            Caller::Internet => match self.route(request, &mut out) {
                Some(found) => found,
                None => {
                    out.status = 404;
                    return out;
                }
            },
            Caller::Cluster => match self.in_cluster(request, &mut out) {
                Some(w) => (w, self.domain.clone()),
                None => {
                    out.status = 404;
                    return out;
                }
            },
        };
        let identity = match self.authenticate(request, &workload, &mut out) {
            Ok(identity) => identity,
            Err((status, message)) => {
                out.status = status;
                out.message = Some(message.into());
                return out;
            }
        };
        self.authorize(request, &workload, domain.as_deref(), identity, &mut out);
        out
    }

    /// The gateway's part: the most specific host, then the first route
    /// whose method and path match. Returns the workload and the domain
    /// short hosts were matched with.
    fn route(&self, request: &Request, out: &mut Outcome) -> Option<(Workload, Option<String>)> {
        let mut candidates: Vec<(usize, usize, usize, Option<String>)> = Vec::new();
        let exact = self.exact.get(&request.host).into_iter().flatten();
        for &s in exact.chain(&self.patterned) {
            for (h, host) in self.hosts[s].iter().enumerate() {
                if let Some(inferred) = host.matches(&request.host, self.domain.as_deref()) {
                    if !candidates.iter().any(|c| c.0 == s) {
                        candidates.push((s, h, host.specificity(), inferred));
                    }
                    break;
                }
            }
        }
        let Some(best) = candidates.iter().map(|c| c.2).max() else {
            let mut known: Vec<String> = self
                .hosts
                .iter()
                .flatten()
                .map(|h| h.fqdn(&self.shown))
                .collect();
            known.sort();
            known.dedup();
            let shown = if known.len() > 5 {
                format!("{}, ... ({} in all)", known[..5].join(", "), known.len())
            } else {
                known.join(", ")
            };
            out.reasons.push(Reason::new(
                format!(
                    "no APIRule exposes host {}: the gateway has no route for it (exposed: {})",
                    request.host,
                    if shown.is_empty() { "none" } else { &shown }
                ),
                None,
            ));
            return None;
        };
        // Envoy serves a host from its most specific virtual host only; the
        // VirtualServices of that host merge, in creation (here: input) order.
        candidates.retain(|c| c.2 == best);
        for (s, h, _, inferred) in &candidates {
            if let Some(domain) = inferred {
                let apirule = *s;
                out.reasons.push(Reason::new(
                    format!(
                        "short host {} of APIRule {} is served as {}.{domain}: the gateway's domain is taken from the request (say --domain to pin it)",
                        self.apirules[apirule].spec.as_ref().map_or("", |sp| sp.hosts[*h].as_str()),
                        self.name(apirule),
                        request.host.split('.').next().unwrap_or_default(),
                    ),
                    Some(At::new(apirule, format!("/spec/hosts/{h}"))),
                ));
            }
        }
        if candidates.len() > 1 {
            let names: Vec<String> = candidates.iter().map(|c| self.name(c.0)).collect();
            out.reasons.push(Reason::new(
                format!(
                    "{} APIRules expose host {}: their routes merge in creation order, assumed here to be input order ({})",
                    candidates.len(),
                    request.host,
                    names.join(", ")
                ),
                None,
            ));
        }
        let mut near = Vec::new();
        for (s, _, _, inferred) in &candidates {
            let apirule = *s;
            let Some(vs) = self.virtual_service(apirule) else {
                continue;
            };
            for route in &vs.spec.http {
                let rule_at =
                    |field: &str| At::new(apirule, format!("/spec/rules/{}{field}", route.rule));
                let path = match route.path_matches(&request.path) {
                    Ok(m) => m,
                    Err(e) => {
                        out.reasons.push(Reason::new(
                            format!(
                                "rule #{} path {} becomes a regex Envoy cannot load ({e}); Istio rejects the VirtualService",
                                route.rule + 1,
                                route.path
                            ),
                            Some(rule_at("/path")),
                        ));
                        false
                    }
                };
                if !path {
                    continue;
                }
                if !route.methods.contains(&request.method) {
                    near.push(Reason::new(
                        format!(
                            "rule #{} ({}) of APIRule {} matches the path but not {} (it allows {})",
                            route.rule + 1,
                            route.path,
                            self.name(apirule),
                            request.method.as_str(),
                            methods(route)
                        ),
                        Some(rule_at("/methods")),
                    ));
                    continue;
                }
                out.rule = Some((apirule, route.rule));
                out.reasons.extend(near);
                out.reasons.push(Reason::new(
                    format!(
                        "rule #{} of APIRule {} matches: path {}, methods {}; it sends to Service {}",
                        route.rule + 1,
                        self.name(apirule),
                        route.path,
                        methods(route),
                        route.workload
                    ),
                    Some(rule_at("/path")),
                ));
                if matcher::matched_by_quirk(&route.path, &request.path) {
                    out.reasons.push(Reason::new(
                        format!(
                            "the route matches {} only because api-gateway writes the path's literal characters into a regex unescaped (`.` matches any character); the AuthorizationPolicy compares the path literally",
                            request.path
                        ),
                        Some(rule_at("/path")),
                    ));
                }
                return Some((
                    route.workload.clone(),
                    inferred.clone().or(self.domain.clone()),
                ));
            }
        }
        let names: Vec<String> = candidates.iter().map(|c| self.name(c.0)).collect();
        out.reasons.push(Reason::new(
            format!(
                "no rule of APIRule {} matches {} {}: the gateway answers 404",
                names.join(", "),
                request.method.as_str(),
                request.path
            ),
            Some(At::new(candidates[0].0, "/spec/rules")),
        ));
        out.reasons.extend(near);
        None
    }

    /// An in-cluster caller reaches the Service straight: by its cluster
    /// name (`name.namespace.svc.cluster.local`, `name.namespace.svc`,
    /// `name.namespace`), or, for convenience, by an exposed host.
    fn in_cluster(&self, request: &Request, out: &mut Outcome) -> Option<Workload> {
        let host = request.host.trim_end_matches(".svc.cluster.local");
        let host = host.trim_end_matches(".svc");
        if let Some((name, namespace)) = host.split_once('.')
            && !namespace.contains('.')
        {
            let w = Workload {
                namespace: namespace.to_owned(),
                name: name.to_owned(),
            };
            if self.workloads.contains_key(&w) {
                out.reasons.push(Reason::new(
                    format!("called from inside the cluster, straight to Service {w}: no VirtualService applies"),
                    None,
                ));
                return Some(w);
            }
        }
        let mut routed = Outcome::default();
        let found = self.route(request, &mut routed).map(|(w, _)| w);
        match found {
            Some(w) => {
                out.reasons.push(Reason::new(
                    format!(
                        "called from inside the cluster: the request goes to Service {w} (the workload host {} routes to), bypassing the ingress gateway",
                        request.host
                    ),
                    routed
                        .rule
                        .map(|(a, r)| At::new(a, format!("/spec/rules/{r}/service"))),
                ));
                Some(w)
            }
            None => {
                out.reasons.push(Reason::new(
                    format!(
                        "host {} is neither a Service an APIRule exposes (name.namespace.svc.cluster.local) nor an exposed host",
                        request.host
                    ),
                    None,
                ));
                None
            }
        }
    }

    /// The RequestAuthentications of the workload: the identity a verified
    /// token gives, or the 401 a bad one gets.
    fn authenticate<'r>(
        &self,
        request: &'r Request,
        workload: &Workload,
        out: &mut Outcome,
    ) -> Result<Option<&'r Map<String, Value>>, (u16, &'static str)> {
        let rules = self.jwt_rules(workload);
        let claims = match &request.token {
            Token::None => {
                out.reasons.push(Reason::new("no token is presented", None));
                return Ok(None);
            }
            Token::Signed(c) => Some(c),
            Token::Forged(c) => c.as_ref(),
        };
        if rules.is_empty() {
            out.reasons.push(Reason::new(
                format!(
                    "no RequestAuthentication selects Service {workload}: nothing reads the token"
                ),
                None,
            ));
            return Ok(None);
        }
        let readers: Vec<(&JwtRule, Extracted)> = rules
            .iter()
            .filter_map(|&r| Some((r, extracts(r, &request.at)?)))
            .collect();
        if readers.is_empty() {
            let mut expected: Vec<String> = rules
                .iter()
                .map(|r| format!("{} at {}", r.issuer, locations(r)))
                .collect();
            expected.dedup();
            out.reasons.push(Reason::new(
                format!(
                    "the token is presented in {}, where no issuer of Service {workload} looks for one, so it is ignored (expected: {})",
                    request.at.describe(),
                    expected.join("; ")
                ),
                Some(rules[0].at.clone()),
            ));
            return Ok(None);
        }
        if readers.iter().all(|(_, e)| *e == Extracted::Garbled) {
            let (r, _) = &readers[0];
            out.reasons.push(Reason::new(
                format!(
                    "{} is read whole, without the prefix the caller put before the token, so what Envoy reads is not a JWT",
                    request.at.describe()
                ),
                Some(At::new(r.at.apirule, format!("{}/fromHeaders", r.at.pointer))),
            ));
            return Err((
                401,
                "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections",
            ));
        }
        let iss = match claims.and_then(|c| c.get("iss")).and_then(Value::as_str) {
            Some(iss) => iss,
            // A forged token that says nothing claims the first issuer.
            None => readers[0].0.issuer.as_str(),
        };
        let Some((rule, _)) = readers.iter().find(|(r, _)| r.issuer == iss) else {
            let mut configured: Vec<&str> =
                readers.iter().map(|(r, _)| r.issuer.as_str()).collect();
            configured.sort_unstable();
            configured.dedup();
            let near = configured
                .iter()
                .find(|c| c.trim_end_matches('/') == iss.trim_end_matches('/'));
            let hint = match near {
                Some(c) => format!(
                    " ({c} differs from it only by a trailing /, and issuers are compared byte for byte)"
                ),
                None => String::new(),
            };
            out.reasons.push(Reason::new(
                format!(
                    "the token's iss {iss} is not an issuer configured for {} of Service {workload} (configured there: {}){hint}",
                    request.at.describe(),
                    configured.join(", ")
                ),
                Some(At::new(readers[0].0.at.apirule, format!("{}/issuer", readers[0].0.at.pointer))),
            ));
            return Err((401, "Jwt issuer is not configured"));
        };
        let issuer_at = At::new(rule.at.apirule, format!("{}/issuer", rule.at.pointer));
        let Token::Signed(claims) = &request.token else {
            out.reasons.push(Reason::new(
                format!(
                    "the token claims issuer {iss}, but its signature does not verify with the keys at {}",
                    rule.jwks_uri
                ),
                Some(At::new(rule.at.apirule, format!("{}/jwksUri", rule.at.pointer))),
            ));
            return Err((401, "Jwt verification fails"));
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        if let Some(exp) = claims.get("exp").and_then(Value::as_f64)
            && exp <= now
        {
            out.reasons.push(Reason::new(
                format!("the token from {iss} expired (exp {exp})"),
                Some(issuer_at),
            ));
            return Err((401, "Jwt is expired"));
        }
        if let Some(nbf) = claims.get("nbf").and_then(Value::as_f64)
            && nbf > now
        {
            out.reasons.push(Reason::new(
                format!("the token from {iss} is not valid yet (nbf {nbf})"),
                Some(issuer_at),
            ));
            return Err((401, "Jwt not yet valid"));
        }
        out.reasons.push(Reason::new(
            format!(
                "the token in {} is verified: issuer {iss}, keys from {}",
                request.at.describe(),
                rule.jwks_uri
            ),
            Some(issuer_at),
        ));
        Ok(Some(claims))
    }

    /// CUSTOM policies first, then the ALLOW policies (any one suffices).
    fn authorize(
        &self,
        request: &Request,
        workload: &Workload,
        domain: Option<&str>,
        identity: Option<&Map<String, Value>>,
        out: &mut Outcome,
    ) {
        let policies = self.policies(workload);
        let ctx = Context {
            request,
            domain,
            identity,
        };
        for p in policies.iter().filter(|p| p.spec.action == Some("CUSTOM")) {
            if p.spec.rules.iter().any(|r| ctx.check(r).is_ok())
                && let PolicyKind::Custom(name) = &p.spec.origin.kind
            {
                out.authorizers.push(name.clone());
                let o = &p.spec.origin;
                let at = Some(At::new(
                    o.apirule,
                    format!("/spec/rules/{}/extAuth/authorizers", o.rule),
                ));
                match request.authorizer {
                    Some(false) => {
                        out.reasons.push(Reason::new(
                            format!("the external authorizer {name} decides first and denies (its own answer; 403 unless it says otherwise)"),
                            at,
                        ));
                        out.status = 403;
                        return;
                    }
                    Some(true) => out.reasons.push(Reason::new(
                        format!("the external authorizer {name} decides first and allows"),
                        at,
                    )),
                    None => out.reasons.push(Reason::new(
                        format!("the external authorizer {name} decides first: what follows holds only if it allows; if it denies, the caller gets its answer"),
                        at,
                    )),
                }
            }
        }
        let allows: Vec<&AuthorizationPolicy> = policies
            .iter()
            .copied()
            .filter(|p| p.spec.action.is_none())
            .collect();
        if allows.is_empty() {
            out.reasons.push(Reason::new(
                format!("no ALLOW policy selects Service {workload}, so everything is allowed"),
                None,
            ));
            out.status = 200;
            return;
        }
        if let Some(p) = allows
            .iter()
            .find(|p| p.spec.rules.iter().any(|r| ctx.check(r).is_ok()))
        {
            let o = &p.spec.origin;
            let what = match &o.kind {
                PolicyKind::NoAuth => "noAuth".to_owned(),
                PolicyKind::Authenticated => "a verified token".to_owned(),
                PolicyKind::Authorization(k) => format!("authorization #{}", k + 1),
                PolicyKind::ExtAuthAllow => "extAuth".to_owned(),
                PolicyKind::Custom(_) => unreachable!("only ALLOW policies"),
            };
            let at = match &o.kind {
                PolicyKind::Authorization(k) => {
                    format!(
                        "{}/authorizations/{k}",
                        self.config_pointer(o.apirule, o.rule)
                    )
                }
                PolicyKind::NoAuth => format!("/spec/rules/{}/noAuth", o.rule),
                _ => format!("/spec/rules/{}", o.rule),
            };
            let elsewhere = out.rule != Some((o.apirule, o.rule));
            out.reasons.push(Reason::new(
                format!(
                    "allowed by the policy of rule #{} of APIRule {} ({what}){}",
                    o.rule + 1,
                    self.name(o.apirule),
                    if elsewhere {
                        ", another rule for the same Service"
                    } else {
                        ""
                    }
                ),
                Some(At::new(o.apirule, at)),
            ));
            out.status = 200;
            return;
        }
        out.status = 403;
        out.message = Some("RBAC: access denied".into());
        if request.caller == Caller::Cluster {
            out.reasons.push(Reason::new(
                format!(
                    "every ALLOW policy api-gateway writes for Service {workload} requires the ingress gateway's identity ({INGRESS_PRINCIPAL}): callers inside the cluster that bypass the gateway are denied"
                ),
                None,
            ));
            return;
        }
        let Some((apirule, rule)) = out.rule else {
            return;
        };
        let own: Vec<&&AuthorizationPolicy> = allows
            .iter()
            .filter(|p| p.spec.origin.apirule == apirule && p.spec.origin.rule == rule)
            .collect();
        if own.is_empty() {
            out.reasons.push(Reason::new(
                format!("rule #{} sets no access strategy (noAuth, jwt or extAuth), so no policy allows it", rule + 1),
                Some(At::new(apirule, format!("/spec/rules/{rule}"))),
            ));
        }
        let several = own.len() > 1;
        for p in own {
            let reason = self.denial(p, &ctx);
            out.reasons.push(if several {
                let k = match p.spec.origin.kind {
                    PolicyKind::Authorization(k) => format!("authorization #{}: ", k + 1),
                    _ => String::new(),
                };
                Reason::new(format!("{k}{}", reason.message), reason.at)
            } else {
                reason
            });
        }
    }

    /// Why one ALLOW policy does not match.
    fn denial(&self, policy: &AuthorizationPolicy, ctx: &Context) -> Reason {
        let o = &policy.spec.origin;
        let misses: Vec<Miss> = policy
            .spec
            .rules
            .iter()
            .filter_map(|r| ctx.check(r).err())
            .collect();
        let config = self.config_pointer(o.apirule, o.rule);
        let rule_at = |p: &str| Some(At::new(o.apirule, format!("/spec/rules/{}{p}", o.rule)));
        match &misses[0] {
            Miss::NotGateway => Reason::new(
                format!("the policy requires the ingress gateway's identity ({INGRESS_PRINCIPAL})"),
                rule_at(""),
            ),
            Miss::NoIdentity(issuers) => Reason::new(
                format!(
                    "rule #{} requires a verified token from {}; the request has none",
                    o.rule + 1,
                    issuers.join(" or ")
                ),
                Some(At::new(o.apirule, format!("{config}/authentications"))),
            ),
            Miss::Issuer(iss, issuers) => Reason::new(
                format!(
                    "rule #{} requires a token from {}; this one is from {iss}",
                    o.rule + 1,
                    issuers.join(" or ")
                ),
                Some(At::new(o.apirule, format!("{config}/authentications"))),
            ),
            Miss::Host => Reason::new(
                format!("the policy of rule #{} covers other hosts", o.rule + 1),
                Some(At::new(o.apirule, "/spec/hosts")),
            ),
            Miss::Method => Reason::new(
                format!("the policy of rule #{} covers other methods", o.rule + 1),
                rule_at("/methods"),
            ),
            Miss::Path(paths) => Reason::new(
                format!(
                    "the policy of rule #{} allows path {}, compared as a path (only {{*}} and {{**}} are patterns), and {} is not one",
                    o.rule + 1,
                    paths.join(", "),
                    ctx.request.path
                ),
                rule_at("/path"),
            ),
            Miss::NotPath(path, j) => {
                let earlier = self.rule(o.apirule, *j);
                Reason::new(
                    format!(
                        "the path is excluded by notPaths {path}: api-gateway excludes the paths of earlier rules that share a method (rule #{} allows {}) so that the first rule decides, even for methods only this rule allows",
                        j + 1,
                        earlier.map_or(String::new(), |r| r
                            .methods
                            .iter()
                            .map(|m| m.as_str())
                            .collect::<Vec<_>>()
                            .join(", "))
                    ),
                    Some(At::new(o.apirule, format!("/spec/rules/{j}/path"))),
                )
            }
            Miss::Claim(..) => {
                let k = match o.kind {
                    PolicyKind::Authorization(k) => k,
                    _ => 0,
                };
                let authorization = format!("{config}/authorizations/{k}");
                let mut audiences = Vec::new();
                let mut scopes = Vec::new();
                for miss in &misses {
                    if let Miss::Claim(claim, value) = miss {
                        let list = if claim == "aud" {
                            &mut audiences
                        } else {
                            &mut scopes
                        };
                        if !list.contains(value) {
                            list.push(value.clone());
                        }
                    }
                }
                if !audiences.is_empty() && scopes.is_empty() {
                    Reason::new(
                        format!(
                            "the token lacks audience {} in aud (every listed audience is required)",
                            audiences.join(", ")
                        ),
                        Some(At::new(o.apirule, format!("{authorization}/audiences"))),
                    )
                } else {
                    let required = self
                        .rule(o.apirule, o.rule)
                        .and_then(|r| {
                            r.jwt
                                .as_ref()
                                .or(r.ext_auth.as_ref().and_then(|e| e.restrictions.as_ref()))
                        })
                        .and_then(|c| c.authorizations.as_ref()?.get(k)?.required_scopes.clone())
                        .unwrap_or_default();
                    let held: Vec<String> = istio::SCOPE_CLAIMS
                        .iter()
                        .map(|claim| {
                            let has: Vec<&str> = required
                                .iter()
                                .filter(|s| {
                                    ctx.identity
                                        .is_some_and(|c| matcher::claim_has(c, claim, s))
                                })
                                .map(String::as_str)
                                .collect();
                            format!(
                                "{claim}: {}",
                                if has.is_empty() {
                                    "none".into()
                                } else {
                                    has.join(" ")
                                }
                            )
                        })
                        .collect();
                    let mut message = if required.len() == 1 {
                        format!(
                            "the token lacks the required scope {} (looked for in scp, scope as space-separated words, and scopes)",
                            required[0]
                        )
                    } else {
                        format!(
                            "the token lacks a required scope: all of {} must be in one claim of scp, scope (space-separated words) or scopes (held: {})",
                            required.join(", "),
                            held.join("; ")
                        )
                    };
                    if !audiences.is_empty() {
                        message.push_str(&format!(
                            "; it also lacks audience {}",
                            audiences.join(", ")
                        ));
                    }
                    Reason::new(
                        message,
                        Some(At::new(
                            o.apirule,
                            format!("{authorization}/requiredScopes"),
                        )),
                    )
                }
            }
        }
    }
}

/// The request as the ALLOW policies see it.
struct Context<'r> {
    request: &'r Request,
    domain: Option<&'r str>,
    identity: Option<&'r Map<String, Value>>,
}

/// Why a policy rule does not match, in the order its clauses are read.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Miss {
    NotGateway,
    NoIdentity(Vec<String>),
    Issuer(String, Vec<String>),
    Host,
    Method,
    /// The policy's paths, none of which is the request's.
    Path(Vec<String>),
    /// The not-path and the earlier rule it comes from.
    NotPath(String, usize),
    Claim(String, String),
}

impl Context<'_> {
    fn check(&self, rule: &PolicyRule) -> Result<(), Miss> {
        if !rule.from.is_empty() {
            let mut first = None;
            let ok = rule.from.iter().any(|f| match self.source(&f.source) {
                Ok(()) => true,
                Err(m) => {
                    first.get_or_insert(m);
                    false
                }
            });
            if !ok {
                return Err(first.expect("a failed source says why"));
            }
        }
        for to in &rule.to {
            let op = &to.operation;
            let host = op
                .host_patterns
                .iter()
                .any(|h| h.matches(&self.request.host, self.domain).is_some());
            if !host && self.request.caller == Caller::Internet {
                return Err(Miss::Host);
            }
            if !op.methods.contains(&self.request.method) {
                return Err(Miss::Method);
            }
            if !op
                .paths
                .iter()
                .any(|p| matcher::template_matches(p, &self.request.path))
            {
                return Err(Miss::Path(op.paths.clone()));
            }
            if let Some(i) = op
                .not_paths
                .iter()
                .position(|p| matcher::template_matches(p, &self.request.path))
            {
                return Err(Miss::NotPath(op.not_paths[i].clone(), op.not_path_rules[i]));
            }
        }
        for c in &rule.when {
            let Some(claim) = c.claim() else { continue };
            let held = self.identity.is_some_and(|claims| {
                c.values
                    .iter()
                    .any(|v| matcher::claim_has(claims, claim, v))
            });
            if !held {
                return Err(Miss::Claim(claim.to_owned(), c.values.join(" ")));
            }
        }
        Ok(())
    }

    fn source(&self, source: &istio::Source) -> Result<(), Miss> {
        let through_gateway = self.request.caller == Caller::Internet;
        let gateway_ok =
            through_gateway && source.principals.iter().any(|p| p == INGRESS_PRINCIPAL);
        if !source.principals.is_empty() && !gateway_ok {
            return Err(Miss::NotGateway);
        }
        if source.request_principals.is_empty() {
            return Ok(());
        }
        let issuers: Vec<String> = source
            .request_principals
            .iter()
            .map(|p| p.trim_end_matches("/*").to_owned())
            .collect();
        let Some(claims) = self.identity else {
            return Err(Miss::NoIdentity(issuers));
        };
        let iss = claims
            .get("iss")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let sub = claims
            .get("sub")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let principal = format!("{iss}/{sub}");
        let ok = source
            .request_principals
            .iter()
            .any(|p| match p.strip_suffix('*') {
                Some(prefix) => principal.starts_with(prefix),
                None => *p == principal,
            });
        if ok {
            Ok(())
        } else {
            Err(Miss::Issuer(iss.to_owned(), issuers))
        }
    }
}

/// How a configured location reads a token the caller put at `at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Extracted {
    Token,
    /// The header is read, but what follows its prefix is not the token.
    Garbled,
}

fn extracts(rule: &JwtRule, at: &TokenAt) -> Option<Extracted> {
    let (headers, params) = rule.locations();
    match at {
        TokenAt::Header { name, prefix } => {
            let sent = if prefix.is_empty() {
                "T".to_owned()
            } else {
                format!("{prefix} T")
            };
            headers
                .iter()
                .filter(|h| h.name.eq_ignore_ascii_case(name))
                .find_map(|h| {
                    let rest = sent.strip_prefix(h.prefix.as_str())?;
                    Some(if rest.trim_start() == "T" {
                        Extracted::Token
                    } else {
                        Extracted::Garbled
                    })
                })
        }
        TokenAt::Param(name) => params.iter().any(|p| p == name).then_some(Extracted::Token),
    }
}

/// Where an issuer reads tokens, as a person would say it.
fn locations(rule: &JwtRule) -> String {
    let (headers, params) = rule.locations();
    let mut out: Vec<String> = headers
        .iter()
        .map(|h| {
            if h.prefix.is_empty() {
                format!("header {}", h.name)
            } else {
                format!("header {} ({}<token>)", h.name, h.prefix)
            }
        })
        .collect();
    out.extend(params.iter().map(|p| format!("query parameter {p}")));
    out.join(", ")
}

fn methods(route: &HttpRoute) -> String {
    route
        .methods
        .iter()
        .map(|m| m.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// What a live answer that differs from the prediction suggests, for
/// `probe`; `None` when they agree.
pub fn suggests(predicted: u16, observed: u16) -> Option<&'static str> {
    Some(match (predicted, observed) {
        (p, o) if p == o => return None,
        (403, 401) => {
            "Istio verified a token the given APIRules would not read: the token was presented where no issuer of these APIRules expects it (the deployed rule reads it elsewhere), or its issuer differs from theirs"
        }
        (200, 401) => {
            "the token is rejected: its iss differs from the deployed issuer (byte for byte), the jwksUri serves other keys, or it expired; is the deployed APIRule the one given?"
        }
        (200, 403) | (401, 403) => {
            "authorization refuses what these APIRules allow: the deployed rule requires scopes or audiences the token lacks, or an earlier rule's notPaths excludes the path; is the deployed APIRule the one given?"
        }
        (_, 404) => {
            "the gateway has no route: the APIRule is not deployed or not Ready, or its host differs (a short host under another domain?)"
        }
        (404, _) => {
            "the gateway routes a request these APIRules do not: another APIRule or VirtualService serves this host"
        }
        (401 | 403, 200..=299) => {
            "the request got through where these APIRules refuse it: the workload may have no sidecar (nothing is enforced), or another policy allows it"
        }
        (_, 300..=399) => {
            "redirected: something in front of the workload (a login page?) answers, not Istio"
        }
        _ => {
            "the cluster answers otherwise than these APIRules predict: compare the deployed objects with them"
        }
    })
}
