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

use super::At;
use super::istio::{
    self, AuthorizationPolicy, Generated, HttpRoute, JwtRule, VirtualService, Workload,
};
use super::matcher::{self, Host};
use super::request::{Caller, Request};
use crate::apirule::v2;

mod allow;
mod auth;

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
