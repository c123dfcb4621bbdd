//! The R rules a policy can hold: services, gateway choice, `{**}`
//! operators, repeated methods, CORS, and the empty lists upstream erases.

use super::Validation;
use crate::admission_policy::cel::{
    AT, first, first_in_configs, first_rule, some_in_configs, some_rule,
};
use crate::rules::Code;

/// The nine methods of the CRD's enum: a rule lists a method twice when
/// one of them occurs twice, which is linear to find.
const METHODS: &str =
    "['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']";

pub(super) fn rules(out: &mut Vec<Validation>) {
    let no_service = "!has(r.service)";
    out.push(Validation::new(
        Code::R001,
        format!("!has(variables.spec.service) && {}", some_rule(no_service)),
        first_rule(
            no_service,
            &format!("{AT} + '.service: The rule must define a service, because no service is defined on spec level'"),
        ),
    ));
    out.push(Validation::new(
        Code::R002,
        "has(variables.spec.gateway) == has(variables.spec.externalGateway)".into(),
        "has(variables.spec.gateway) ? 'spec.externalGateway: Only one of gateway or externalGateway can be specified' : 'spec: Either gateway or externalGateway must be specified'".into(),
    ));
    // Upstream's validateEnvoyTemplate: one {**}, and no operator after it.
    let path = "r.path";
    let many = format!("size({path}.split('{{**}}')) > 2");
    let after = format!(
        "{path}.substring(1).split('/').exists(t, t == '{{**}}') && {path}.split('{{**}}')[1].split('/').exists(t, t == '{{*}}')"
    );
    let bad = format!("{path}.contains('{{**}}') && ({many} || {after})");
    out.push(Validation::new(
        Code::R003,
        some_rule(&bad),
        first_rule(
            &bad,
            &format!(
                "{AT} + '.path: ' + ({many} ? 'Only one {{**}} operator is allowed in the path.' : 'The {{**}} operator must be the last operator in the path.')"
            ),
        ),
    ));
    let bad = format!("{METHODS}.exists(m, r.methods.filter(x, x == m).size() > 1)");
    out.push(Validation::new(
        Code::R006,
        some_rule(&bad),
        first_rule(
            &bad,
            &first(
                METHODS,
                "m",
                "r.methods.filter(x, x == m).size() > 1",
                &format!("{AT} + '.methods[' + string(r.methods.lastIndexOf(m)) + ']: method ' + m + ' is listed twice in this rule'"),
            ),
        ),
    ));
    let cors = "variables.spec.corsPolicy";
    out.push(Validation::new(
        Code::R007,
        format!("has({cors}) && !variables.rules.exists(r, 'OPTIONS' in r.methods)"),
        "'spec.corsPolicy: corsPolicy is set but no rule accepts OPTIONS; browsers\\' preflight requests will not reach the CORS policy'".into(),
    ));
    let origins = format!("(has({cors}.allowOrigins) ? {cors}.allowOrigins : [])");
    let bad = "!(size(o) == 1 && (has(o.exact) || has(o.prefix) || has(o.regex)))";
    let at = format!("'spec.corsPolicy.allowOrigins[' + string({origins}.indexOf(o)) + ']'");
    out.push(Validation::new(
        Code::R008,
        format!("has({cors}) && {origins}.exists(o, {bad})"),
        first(
            &origins,
            "o",
            bad,
            &format!(
                "size(o) == 0 ? {at} + ': allowOrigins entry is empty; set one of exact, prefix, regex' : size(o) == 1 ? o.map(k, {at} + '.' + k + ': allowOrigins key \"' + k + '\" is not one of exact, prefix, regex; upstream silently treats it as prefix')[0] : {at} + ': allowOrigins entry sets ' + ['exact', 'prefix', 'regex'].filter(k, k in o).join(', ') + '; set exactly one of exact, prefix, regex'"
            ),
        ),
    ));
    // R009: in jwt configs, in a rule's request, in the CORS policy.
    let empty = "': empty list is silently erased when the APIRule is stored; remove it or give it entries'";
    let in_auth = "(has(e.fromHeaders) && size(e.fromHeaders) == 0) || (has(e.fromParams) && size(e.fromParams) == 0)";
    let in_request = "has(r.request) && ((has(r.request.headers) && size(r.request.headers) == 0) || (has(r.request.cookies) && size(r.request.cookies) == 0))";
    let cors_lists = [
        "allowOrigins",
        "allowMethods",
        "allowHeaders",
        "exposeHeaders",
    ];
    let cors_bad: Vec<String> = cors_lists
        .iter()
        .map(|f| format!("(has({cors}.{f}) && size({cors}.{f}) == 0)"))
        .collect();
    let cors_bad = format!("(has({cors}) && ({}))", cors_bad.join(" || "));
    let cors_first = cors_lists.iter().rev().fold(String::from("''"), |rest, f| {
        format!("has({cors}.{f}) && size({cors}.{f}) == 0 ? 'spec.corsPolicy.{f}' : {rest}")
    });
    let auth_first = first_in_configs(
        "authentications",
        in_auth,
        &format!(
            "{AT} + (has(e.fromHeaders) && size(e.fromHeaders) == 0 ? '.fromHeaders' : '.fromParams')"
        ),
    );
    let request_first = first_rule(
        in_request,
        &format!(
            "{AT} + '.request.' + (has(r.request.headers) && size(r.request.headers) == 0 ? 'headers' : 'cookies')"
        ),
    );
    let (in_configs, in_rules) = (
        some_in_configs("authentications", in_auth),
        some_rule(in_request),
    );
    out.push(Validation::new(
        Code::R009,
        format!("{in_configs} || {in_rules} || {cors_bad}"),
        format!(
            "({in_configs} ? {auth_first} : {in_rules} ? {request_first} : ({cors_first})) + {empty}"
        ),
    ));
}
