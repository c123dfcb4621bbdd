//! The O rules, reading the policy's values through the variables of
//! `params`.

use super::Validation;
use super::jwt::{ISSUER, JWKS, jwks_http_forbidden};
use crate::admission_policy::cel::{
    AT, CODE, REASONED, first, first_in_configs, first_rule, lit, namespace_in, some_in_configs,
    some_rule,
};
use crate::rules::Code;

pub(super) fn rules(out: &mut Vec<Validation>) {
    let hosts = "variables.hosts";
    let host_at = format!("'spec.hosts[' + string({hosts}.indexOf(h)) + ']'");
    let wildcard = "!variables.allowWildcard && h.startsWith('*.')";
    out.push(Validation::new(
        Code::O004,
        format!("{hosts}.exists(h, {wildcard})"),
        first(
            hosts,
            "h",
            wildcard,
            &format!("{host_at} + ': wildcard host \"' + h + '\" is not allowed by the policy; name the host'"),
        ),
    ));
    let name = "(h.startsWith('*.') ? h.substring(2) : h).lowerAscii()";
    let outside = format!(
        "size(variables.domains) > 0 && {name}.contains('.') && !variables.domains.exists(d, {name} == d || {name}.endsWith('.' + d))"
    );
    out.push(Validation::new(
        Code::O003,
        format!("{hosts}.exists(h, {outside})"),
        first(
            hosts,
            "h",
            &outside,
            &format!("{host_at} + ': host \"' + h + '\" is not under an allowed domain (' + variables.domains.join(', ') + ')'"),
        ),
    ));
    let gateway_bad = |key: &str| {
        format!(
            "(size(variables.allowedGateways) > 0 && has(variables.spec.{key}) && !(variables.spec.{key} in variables.allowedGateways))"
        )
    };
    let gateway_message = |key: &str| {
        format!(
            "'spec.{key}: gateway \"' + variables.spec.{key} + '\" is not allowed by the policy (allowed: ' + variables.allowedGateways.join(', ') + ')'"
        )
    };
    out.push(Validation::new(
        Code::O005,
        format!(
            "{} || {}",
            gateway_bad("gateway"),
            gateway_bad("externalGateway")
        ),
        format!(
            "{} ? {} : {}",
            gateway_bad("gateway"),
            gateway_message("gateway"),
            gateway_message("externalGateway")
        ),
    ));
    let public = format!(
        "has(r.noAuth) && r.noAuth == true && !variables.allowNoAuth && !(r.path in variables.noAuthPaths) && !{}",
        namespace_in("noAuthNamespaces")
    );
    out.push(Validation::new(
        Code::O006,
        some_rule(&public),
        first_rule(
            &public,
            &format!(
                "{AT} + '.noAuth: noAuth is not allowed for ' + r.path + ' in namespace \"' + variables.objectNamespace + '\" by the policy; require a jwt'"
            ),
        ),
    ));
    let applies = format!(
        "(variables.requireScopes || variables.requireAudiences) && (size(variables.authorizationNamespaces) == 0 || {})",
        namespace_in("authorizationNamespaces")
    );
    let authz = "(has(r.jwt.authorizations) ? r.jwt.authorizations : [])";
    let scoped = format!("{authz}.exists(z, has(z.requiredScopes) && size(z.requiredScopes) > 0)");
    let audienced = format!("{authz}.exists(z, has(z.audiences) && size(z.audiences) > 0)");
    let no_scopes = format!("(variables.requireScopes && !{scoped})");
    let no_audiences = format!("(variables.requireAudiences && !{audienced})");
    let open = format!("has(r.jwt) && ({no_scopes} || {no_audiences})");
    out.push(Validation::new(
        Code::O007,
        format!("{applies} && {}", some_rule(&open)),
        first_rule(
            &open,
            &format!(
                "{AT} + '.jwt: the policy requires jwt rules to restrict ' + ({no_scopes} && {no_audiences} ? 'requiredScopes and audiences' : {no_scopes} ? 'requiredScopes' : 'audiences') + '; any valid token of the issuer is accepted here'"
            ),
        ),
    ));
    let max = "variables.maxTimeout";
    let limited = "variables.maxTimeout >= 0";
    let spec_long = format!("has(variables.spec.timeout) && variables.spec.timeout > {max}");
    let rule_long = format!("has(r.timeout) && r.timeout > {max}");
    let too_long = |value: &str| {
        format!(
            "'timeout ' + string({value}) + 's is longer than the policy\\'s maximum of ' + string(variables.maxTimeout) + 's'"
        )
    };
    out.push(Validation::new(
        Code::O008,
        format!("{limited} && ({spec_long} || {})", some_rule(&rule_long)),
        format!(
            "{spec_long} ? 'spec.timeout: ' + {} : {}",
            too_long("variables.spec.timeout"),
            first_rule(
                &rule_long,
                &format!("{AT} + '.timeout: ' + {}", too_long("r.timeout"))
            )
        ),
    ));
    out.push(unlisted(
        Code::O009,
        "",
        "methods",
        "m",
        "methods",
        "method ' + m + '",
    ));
    // O013 and O014: the spec's Service, then each rule's, as `check`
    // reports them.
    let elsewhere =
        |s: &str| format!("has({s}.namespace) && {s}.namespace != variables.objectNamespace");
    let external = |s: &str| format!("has({s}.external) && {s}.external == true");
    let o013 = |s: &str, at: &str| {
        format!(
            "{at} + '.namespace: Service \"' + {s}.name + '\" is in namespace \"' + {s}.namespace + '\", not the APIRule\\'s \"' + variables.objectNamespace + '\"; the policy does not allow routing to another namespace'"
        )
    };
    let o014 = |s: &str, at: &str| {
        format!(
            "{at} + '.external: Service \"' + {s}.name + '\" is external; the policy does not allow routing outside the mesh'"
        )
    };
    for (code, flag, bad, words) in [
        (
            Code::O013,
            "allowOtherNamespaces",
            &elsewhere as &dyn Fn(&str) -> String,
            &o013 as &dyn Fn(&str, &str) -> String,
        ),
        (Code::O014, "allowExternal", &external, &o014),
    ] {
        let spec_bad = format!(
            "has(variables.spec.service) && {}",
            bad("variables.spec.service")
        );
        let rule_bad = format!("has(r.service) && {}", bad("r.service"));
        out.push(Validation::new(
            code,
            format!(
                "!variables.{flag} && (({spec_bad}) || {})",
                some_rule(&rule_bad)
            ),
            format!(
                "{spec_bad} ? {} : {}",
                words("variables.spec.service", "'spec.service'"),
                first_rule(
                    &rule_bad,
                    &words("r.service", &format!("{AT} + '.service'"))
                ),
            ),
        ));
    }
    out.push(unlisted(
        Code::O015,
        "has(r.extAuth) && ",
        "extAuth.authorizers",
        "a",
        "authorizers",
        "authorizer \"' + a + '\"",
    ));
    let registered = format!("variables.registry.exists(x, x[0] == {ISSUER})");
    let entry = format!("variables.registry.filter(x, x[0] == {ISSUER})[0]");
    let per_auth: [(Code, String, String); 4] = [
        (
            Code::O010,
            jwks_http_forbidden(),
            format!(
                "{AT} + '.jwksUri: jwksUri \"' + {JWKS} + '\" uses plain http, which the policy does not allow'"
            ),
        ),
        (
            Code::O001,
            format!("size(variables.registry) > 0 && !{registered}"),
            format!(
                "{AT} + '.issuer: issuer \"' + {ISSUER} + '\" is not in the policy\\'s issuer registry'"
            ),
        ),
        (
            Code::O002,
            format!("{registered} && {entry}[1] != {JWKS}"),
            format!(
                "{AT} + '.jwksUri: jwksUri \"' + {JWKS} + '\" differs from the registered jwksUri of ' + {ISSUER} + ': ' + {entry}[1]"
            ),
        ),
        (
            Code::O012,
            token_location_bad(&registered, &entry),
            token_location_message(&entry),
        ),
    ];
    for (code, bad, rest) in per_auth {
        out.push(Validation::new(
            code,
            some_in_configs("authentications", &bad),
            first_in_configs("authentications", &bad, &rest),
        ));
    }
    // Entries that suppress nothing: no reason, a code the policy does not
    // let objects suppress, or a namespace it does not let suppress.
    let void = format!(
        "variables.suppressionEntries.filter(e, !({REASONED}) || !({CODE} in variables.suppressible) || !variables.suppressionHere)"
    );
    let at = lit(&crate::diagnostic::field_path(&format!(
        "/metadata/annotations/{}",
        crate::check::organisation::SUPPRESS.replace('/', "~1")
    )));
    let why = format!(
        "!({REASONED}) ? ': suppression \"' + e + '\" gives no reason (write CODE: reason); it suppresses nothing' : !({CODE} in variables.suppressible) ? ': suppression \"' + e + '\" is not granted by the policy, which does not let objects suppress ' + {CODE} + '; the finding stays' : ': suppression \"' + e + '\" is not granted by the policy in namespace \"' + variables.objectNamespace + '\"; the finding stays'"
    );
    out.push(Validation::new(
        Code::O011,
        format!(
            "variables.suppression != '' && (!variables.allowSuppressions || size({void}) > 0)"
        ),
        format!(
            "{at} + (!variables.allowSuppressions ? ': the policy does not allow suppressing findings; nothing was suppressed' : [{void}[0]].map(e, {why})[0])"
        ),
    ));
}

/// `code` for a rule whose list `field` (`methods`, `extAuth.authorizers`)
/// holds an item outside the policy's list variable `allowed`, when that
/// list is set, as `check`'s `unlisted` says it. The item is `x` in CEL;
/// `what` words it, as text spliced into the message's string literal;
/// `guard` says the rule has the field.
fn unlisted(
    code: Code,
    guard: &str,
    field: &str,
    x: &str,
    allowed: &str,
    what: &str,
) -> Validation {
    let list = format!("r.{field}");
    let bad = format!("!({x} in variables.{allowed})");
    let violated = format!("size(variables.{allowed}) > 0 && {guard}{list}.exists({x}, {bad})");
    Validation::new(
        code,
        some_rule(&violated),
        first_rule(
            &violated,
            &first(
                &list,
                x,
                &bad,
                &format!(
                    "{AT} + '.{field}[' + string({list}.indexOf({x})) + ']: {what} is not allowed by the policy (allowed: ' + variables.{allowed}.join(', ') + ')'"
                ),
            ),
        ),
    )
}

/// A registry entry's allowed names (`entry[2]` headers, `entry[3]`
/// params): `*` any, `-` none, else a comma-separated list.
fn allowed(list: &str, name: &str) -> String {
    format!("({list} == '*' || ({list} != '-' && {name} in {list}.split(',')))")
}

fn token_location_bad(registered: &str, entry: &str) -> String {
    format!(
        "{registered} && ((has(e.fromHeaders) && e.fromHeaders.exists(h, !{})) || (has(e.fromParams) && e.fromParams.exists(q, !{})))",
        allowed(&format!("{entry}[2]"), "h.name"),
        allowed(&format!("{entry}[3]"), "q"),
    )
}

fn token_location_message(entry: &str) -> String {
    let names = |list: &str| format!("({list} == '-' ? '' : {list}.split(',').join(', '))");
    let headers = format!("{entry}[2]");
    let params = format!("{entry}[3]");
    let header_bad = format!("!{}", allowed(&headers, "h.name"));
    let param_bad = format!("!{}", allowed(&params, "q"));
    format!(
        "has(e.fromHeaders) && e.fromHeaders.exists(h, {header_bad}) ? {} : {}",
        first(
            "e.fromHeaders",
            "h",
            &header_bad,
            &format!(
                "{AT} + '.fromHeaders: issuer ' + {ISSUER} + ' may only be read from fromHeaders [' + {} + ']; \"' + h.name + '\" is not among them'",
                names(&headers)
            ),
        ),
        first(
            "e.fromParams",
            "q",
            &param_bad,
            &format!(
                "{AT} + '.fromParams: issuer ' + {ISSUER} + ' may only be read from fromParams [' + {} + ']; \"' + q + '\" is not among them'",
                names(&params)
            ),
        ),
    )
}
