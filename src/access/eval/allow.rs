//! The AuthorizationPolicies of a workload: CUSTOM policies ask their
//! authorizer, then the ALLOW policies decide (none matching is 403), and
//! each one that does not match says why.

use serde_json::{Map, Value};

use super::{Model, Outcome, Reason};
use crate::access::At;
use crate::access::istio::{
    self, AuthorizationPolicy, INGRESS_PRINCIPAL, PolicyKind, PolicyRule, Workload,
};
use crate::access::matcher;
use crate::access::request::{Caller, Request};

impl Model<'_> {
    /// CUSTOM policies first, then the ALLOW policies (any one suffices).
    pub(super) fn authorize(
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
