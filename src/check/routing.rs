//! Rules over a whole v2/v2alpha1 APIRule spec: services, gateways, paths and
//! their ordering (R), plus the walk that hands each JWT config to `jwt`.

use std::collections::HashMap;

use crate::apirule::Method;
use crate::apirule::v2::Spec;
use crate::diagnostic::{Finding, join};
use crate::rules::Code;

use super::jwt;
use super::path::{SegmentTrie, normalise, operator_error};

/// All controller-equivalent rules for a v2 spec at `/spec`.
pub fn spec(spec: &Spec, out: &mut Vec<Finding>) {
    let at = "/spec";
    gateway(spec, out);
    for (i, rule) in spec.rules.iter().enumerate() {
        let r = join(&join(at, "rules"), i);
        if spec.service.is_none() && rule.service.is_none() {
            out.push(Finding::new(
                Code::R001,
                join(&r, "service"),
                "The rule must define a service, because no service is defined on spec level",
            ));
        }
        if let Some(message) = operator_error(&rule.path) {
            out.push(Finding::new(Code::R003, join(&r, "path"), message));
        }
        let mut seen = Vec::with_capacity(rule.methods.len());
        for (j, m) in rule.methods.iter().enumerate() {
            if seen.contains(m) {
                out.push(Finding::new(
                    Code::R006,
                    join(&join(&r, "methods"), j),
                    format!("method {} is listed twice in this rule", m.as_str()),
                ));
            }
            seen.push(*m);
        }
        if let Some(cfg) = &rule.jwt {
            jwt::config(cfg, &join(&r, "jwt"), out);
        } else if let Some(restrictions) =
            rule.ext_auth.as_ref().and_then(|e| e.restrictions.as_ref())
        {
            jwt::config(
                restrictions,
                &join(&join(&r, "extAuth"), "restrictions"),
                out,
            );
        }
        if let Some(request) = &rule.request {
            let req = join(&r, "request");
            for (map, field) in [(&request.headers, "headers"), (&request.cookies, "cookies")] {
                if map.as_ref().is_some_and(|m| m.is_empty()) {
                    out.push(jwt::empty_list(join(&req, field)));
                }
            }
        }
    }
    conflicts(spec, out);
    jwt::issuer_conflicts(
        spec.rules.iter().enumerate().flat_map(|(i, rule)| {
            rule.jwt
                .iter()
                .flat_map(|j| j.authentications.iter().flatten())
                .enumerate()
                .map(move |(k, a)| {
                    (
                        move || format!("/spec/rules/{i}/jwt/authentications/{k}"),
                        a,
                    )
                })
        }),
        out,
    );
    cors(spec, out);
}

/// V13: exactly one of gateway and externalGateway.
fn gateway(spec: &Spec, out: &mut Vec<Finding>) {
    match (&spec.gateway, &spec.external_gateway) {
        (None, None) => out.push(Finding::new(
            Code::R002,
            "/spec",
            "Either gateway or externalGateway must be specified",
        )),
        (Some(_), Some(_)) => out.push(Finding::new(
            Code::R002,
            "/spec/externalGateway",
            "Only one of gateway or externalGateway can be specified",
        )),
        _ => {}
    }
}

/// V9 with upstream's segment trie per method, every conflict reported (in
/// rule order, not upstream's random map order), and exact duplicates
/// reported even where upstream's trie misses them.
fn conflicts(spec: &Spec, out: &mut Vec<Finding>) {
    let mut tries: Vec<(Method, SegmentTrie)> = Vec::new();
    // Each path and method's first rule, by hash: a pairwise search made
    // R005 quadratic in the rules.
    let mut first_seen: HashMap<(&str, Method), usize> = HashMap::new();
    for (i, rule) in spec.rules.iter().enumerate() {
        let path = normalise(&rule.path);
        let mut done: Vec<Method> = Vec::new();
        for m in &rule.methods {
            if done.contains(m) {
                continue;
            }
            done.push(*m);
            let at = || format!("/spec/rules/{i}/path");
            let trie = match tries.iter().position(|(tm, _)| tm == m) {
                Some(t) => &mut tries[t].1,
                None => {
                    tries.push((*m, SegmentTrie::default()));
                    &mut tries.last_mut().expect("just pushed").1
                }
            };
            let trie_conflict = trie.insert(path);
            if let Some(first) = first_seen.get(&(path, *m)) {
                out.push(Finding::new(
                    Code::R005,
                    at(),
                    format!(
                        "Path {path} with method {} is already defined by spec.rules[{first}]; this rule can never match it",
                        m.as_str()
                    ),
                ));
            } else {
                first_seen.insert((path, *m), i);
                if trie_conflict {
                    out.push(Finding::new(
                        Code::R004,
                        at(),
                        format!(
                            "Path {path} with method {} conflicts with at least one of the previous rule paths",
                            m.as_str()
                        ),
                    ));
                }
            }
        }
    }
}

fn cors(spec: &Spec, out: &mut Vec<Finding>) {
    let Some(cors) = &spec.cors_policy else {
        return;
    };
    let at = "/spec/corsPolicy";
    if !spec
        .rules
        .iter()
        .any(|r| r.methods.contains(&Method::OPTIONS))
    {
        out.push(Finding::new(
            Code::R007,
            at,
            "corsPolicy is set but no rule accepts OPTIONS; browsers' preflight requests will not reach the CORS policy",
        ));
    }
    for (k, origin) in cors.allow_origins.iter().flatten().enumerate() {
        let p = join(&join(at, "allowOrigins"), k);
        let keys: Vec<&str> = origin.keys().map(String::as_str).collect();
        match keys.as_slice() {
            ["exact" | "prefix" | "regex"] => {}
            [] => out.push(Finding::new(Code::R008, p, "allowOrigins entry is empty; set one of exact, prefix, regex")),
            [other] => out.push(Finding::new(
                Code::R008,
                join(&p, other),
                format!("allowOrigins key \"{other}\" is not one of exact, prefix, regex; upstream silently treats it as prefix"),
            )
            .at_key()),
            _ => out.push(Finding::new(
                Code::R008,
                p,
                format!("allowOrigins entry sets {}; set exactly one of exact, prefix, regex", keys.join(", ")),
            )),
        }
    }
    for (len, field) in [
        (cors.allow_origins.as_ref().map(Vec::len), "allowOrigins"),
        (cors.allow_methods.as_ref().map(Vec::len), "allowMethods"),
        (cors.allow_headers.as_ref().map(Vec::len), "allowHeaders"),
        (cors.expose_headers.as_ref().map(Vec::len), "exposeHeaders"),
    ] {
        if len == Some(0) {
            out.push(jwt::empty_list(join(at, field)));
        }
    }
}
