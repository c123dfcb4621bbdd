//! The exported rules as CEL: for each, when an object breaks it, and the
//! message `kexpose check` gives (its field path and upstream's words).
//! `tests/admission_policy.rs` evaluates every one on every rule fixture
//! and requires the verdict `kexpose check` gives.

use super::cel::{
    AT, config_path, first, first_in_configs, first_rule, lit, namespace_in, some_in_configs,
    some_rule,
};
use crate::rules::Code;

/// One rule as CEL.
pub struct Validation {
    pub code: Code,
    /// True when the object breaks the rule.
    pub violated: String,
    /// The path and message of the first place that breaks it.
    pub message: String,
}

impl Validation {
    fn new(code: Code, violated: String, message: String) -> Validation {
        Validation {
            code,
            violated,
            message,
        }
    }

    /// The validation's `expression`: the rule holds, or the object
    /// suppresses it (`kexpose.dev/suppress`, where the policy allows).
    pub fn expression(&self) -> String {
        if self.code == Code::O011 {
            return format!("!({})", self.violated);
        }
        format!(
            "{} in variables.suppressed ||\n  !({})",
            lit(self.code.as_str()),
            self.violated
        )
    }

    /// The validation's `messageExpression`: as `check` words it, with the
    /// rule's code and name.
    pub fn message_expression(&self) -> String {
        let rule = self.code.rule();
        format!(
            "({}) +\n  {}",
            self.message,
            lit(&format!(" [{} {}]", rule.code, rule.name))
        )
    }
}

/// Every rule the export can express, in registry order.
pub fn all() -> Vec<Validation> {
    let mut out = Vec::new();
    jwt(&mut out);
    routing(&mut out);
    organisation(&mut out);
    let order = |c: Code| Code::ALL.iter().position(|x| *x == c);
    out.sort_by_key(|v| order(v.code));
    out
}

const ISSUER: &str = "e.issuer";
const JWKS: &str = "e.jwksUri";

/// J002: empty, or holds `:` and Go's `url.ParseRequestURI` refuses it.
fn issuer_invalid() -> String {
    format!("{ISSUER} == '' || ({ISSUER}.contains(':') && !isURL({ISSUER}))")
}

/// J016: parses, with a scheme other than https and http (Go lowercases it).
fn issuer_scheme() -> String {
    format!(
        "!({}) && {ISSUER}.contains(':') && url({ISSUER}).getScheme() != '' && !(url({ISSUER}).getScheme() in ['https', 'http'])",
        issuer_invalid()
    )
}

fn jwks_invalid() -> String {
    format!("{JWKS} == '' || !isURL({JWKS})")
}

fn jwks_not_web() -> String {
    format!(
        "!({}) && (!(url({JWKS}).getScheme() in ['http', 'https']) || url({JWKS}).getHost() == '')",
        jwks_invalid()
    )
}

/// O010: the policy forbids plain http and the jwksUri uses it.
fn jwks_http_forbidden() -> String {
    format!("params.data.allowHttpJwksUri != 'true' && {JWKS}.startsWith('http://')")
}

fn has_headers(e: &str) -> String {
    format!("(has({e}.fromHeaders) && size({e}.fromHeaders) > 0)")
}

fn has_params(e: &str) -> String {
    format!("(has({e}.fromParams) && size({e}.fromParams) > 0)")
}

fn jwt(out: &mut Vec<Validation>) {
    let uri_error = "': value is empty or not a valid uri'";
    // J001 is about the config itself, not one of its elements.
    let auths = "c.authentications";
    out.push(Validation::new(
        Code::J001,
        "variables.jwtConfigs.exists(c, size(c.authentications) == 0)".into(),
        first(
            "variables.jwtConfigs",
            "c",
            "size(c.authentications) == 0",
            &format!(
                "{} + '.authentications: A JWT config must have at least one authentication'",
                config_path()
            ),
        ),
    ));
    let per_auth: [(Code, String, String); 9] = [
        (
            Code::J002,
            issuer_invalid(),
            format!("{AT} + '.issuer' + {uri_error}"),
        ),
        (
            Code::J016,
            issuer_scheme(),
            format!(
                "{AT} + '.issuer: issuer \"' + {ISSUER} + '\" has the scheme ' + url({ISSUER}).getScheme() + ': tokens carry an https issuer, so Istio rejects every token with 401 Jwt issuer is not configured'"
            ),
        ),
        (
            Code::J013,
            format!(
                "!({}) && !({}) && !(isURL({ISSUER}) && url({ISSUER}).getScheme() != '' && url({ISSUER}).getHost() != '')",
                issuer_invalid(),
                issuer_scheme()
            ),
            format!(
                "{AT} + '.issuer: issuer \"' + {ISSUER} + '\" is not an absolute URL; OIDC providers put an https URL in the token\\'s iss claim, and Istio compares it byte for byte'"
            ),
        ),
        (
            Code::J003,
            jwks_invalid(),
            format!("{AT} + '.jwksUri' + {uri_error}"),
        ),
        (
            Code::J011,
            jwks_not_web(),
            format!(
                "{AT} + '.jwksUri: jwksUri \"' + {JWKS} + '\" is not an absolute http(s) URL; Istio cannot fetch signing keys from it and rejects every token with 401'"
            ),
        ),
        (
            Code::J012,
            format!(
                "!({}) && !({}) && url({JWKS}).getScheme() == 'http' && !({})",
                jwks_invalid(),
                jwks_not_web(),
                jwks_http_forbidden()
            ),
            format!(
                "{AT} + '.jwksUri: jwksUri \"' + {JWKS} + '\" uses plain http; signing keys fetched without TLS can be replaced in transit'"
            ),
        ),
        (
            Code::J005,
            "has(e.fromHeaders) && size(e.fromHeaders) > 1".into(),
            format!("{AT} + '.fromHeaders: multiple fromHeaders are not supported'"),
        ),
        (
            Code::J006,
            "has(e.fromParams) && size(e.fromParams) > 1".into(),
            format!("{AT} + '.fromParams: multiple fromParams are not supported'"),
        ),
        (
            Code::J004,
            mixed(),
            format!(
                "{AT} + ({} && {auths}.exists(p, {}) && {auths}.indexOf({auths}.filter(p, {})[0]) < {auths}.indexOf(e) ? '.fromHeaders' : '.fromParams') + ': mixture of multiple fromHeaders and fromParams is not supported'",
                has_headers("e"),
                has_params("p"),
                has_params("p"),
            ),
        ),
    ];
    for (code, bad, rest) in per_auth {
        let violated = if code == Code::J004 {
            // Headers somewhere and params somewhere: linear, where the
            // walk that places the finding is not.
            format!(
                "variables.jwtConfigs.exists(c, c.authentications.exists(e, {}) && c.authentications.exists(e, {}))",
                has_headers("e"),
                has_params("e")
            )
        } else {
            some_in_configs("authentications", &bad)
        };
        out.push(Validation::new(
            code,
            violated,
            first_in_configs("authentications", &bad, &rest),
        ));
    }
    let empty_authz = "c.hasAuthorizations && size(c.authorizations) == 0";
    out.push(Validation::new(
        Code::J007,
        format!("variables.jwtConfigs.exists(c, {empty_authz})"),
        first(
            "variables.jwtConfigs",
            "c",
            empty_authz,
            &format!(
                "{} + '.authorizations: authorizations defined, but no configuration exists'",
                config_path()
            ),
        ),
    ));
    for (code, field, item) in [
        (Code::J008, "requiredScopes", "scope value is empty"),
        (Code::J009, "audiences", "audience value is empty"),
    ] {
        let bad =
            format!("has(e.{field}) && (size(e.{field}) == 0 || e.{field}.exists(v, v == ''))");
        let rest = format!(
            "{AT} + '.{field}' + (size(e.{field}) == 0 ? ': value is empty' : '[' + string(e.{field}.indexOf('')) + ']: {item}')"
        );
        out.push(Validation::new(
            code,
            some_in_configs("authorizations", &bad),
            first_in_configs("authorizations", &bad, &rest),
        ));
    }
}

/// J004, for the authentication `e` of rule `r`'s config: it reads the
/// token from headers after one read it from params, or from params when
/// one up to and including it read it from headers (upstream's walk).
fn mixed() -> String {
    let auths = "c.authentications";
    let first = |pred: &str| format!("{auths}.indexOf({auths}.filter(p, {pred})[0])");
    let (h, p) = (has_headers("p"), has_params("p"));
    format!(
        "({} && {auths}.exists(p, {p}) && {} < {auths}.indexOf(e)) || ({} && {auths}.exists(p, {h}) && {} <= {auths}.indexOf(e))",
        has_headers("e"),
        first(&p),
        has_params("e"),
        first(&h),
    )
}

/// The nine methods of the CRD's enum: a rule lists a method twice when
/// one of them occurs twice, which is linear to find.
const METHODS: &str =
    "['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']";

fn routing(out: &mut Vec<Validation>) {
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

fn organisation(out: &mut Vec<Validation>) {
    let hosts = "variables.spec.hosts";
    let host_at = format!("'spec.hosts[' + string({hosts}.indexOf(h)) + ']'");
    let wildcard = "params.data.allowWildcard != 'true' && h.startsWith('*.')";
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
        "has(r.noAuth) && r.noAuth == true && params.data.allowNoAuth != 'true' && !(r.path in variables.noAuthPaths) && !{}",
        namespace_in("noAuthNamespaces")
    );
    out.push(Validation::new(
        Code::O006,
        some_rule(&public),
        first_rule(
            &public,
            &format!(
                "{AT} + '.noAuth: noAuth is not allowed for ' + r.path + ' in namespace \"' + variables.namespace + '\" by the policy; require a jwt'"
            ),
        ),
    ));
    let applies = format!(
        "(params.data.requireScopes == 'true' || params.data.requireAudiences == 'true') && (size(variables.authorizationNamespaces) == 0 || {})",
        namespace_in("authorizationNamespaces")
    );
    let authz = "(has(r.jwt.authorizations) ? r.jwt.authorizations : [])";
    let scoped = format!("{authz}.exists(z, has(z.requiredScopes) && size(z.requiredScopes) > 0)");
    let audienced = format!("{authz}.exists(z, has(z.audiences) && size(z.audiences) > 0)");
    let no_scopes = format!("(params.data.requireScopes == 'true' && !{scoped})");
    let no_audiences = format!("(params.data.requireAudiences == 'true' && !{audienced})");
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
    let max = "int(params.data.maxTimeout)";
    let limited = "params.data.maxTimeout != ''";
    let spec_long = format!("has(variables.spec.timeout) && variables.spec.timeout > {max}");
    let rule_long = format!("has(r.timeout) && r.timeout > {max}");
    let too_long = |value: &str| {
        format!(
            "'timeout ' + string({value}) + 's is longer than the policy\\'s maximum of ' + params.data.maxTimeout + 's'"
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
    let unlisted = "size(variables.methods) > 0 && r.methods.exists(m, !(m in variables.methods))";
    out.push(Validation::new(
        Code::O009,
        some_rule(unlisted),
        first_rule(
            unlisted,
            &first(
                "r.methods",
                "m",
                "!(m in variables.methods)",
                &format!("{AT} + '.methods[' + string(r.methods.indexOf(m)) + ']: method ' + m + ' is not allowed by the policy (allowed: ' + variables.methods.join(', ') + ')'"),
            ),
        ),
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
    let reasonless = "variables.suppressionEntries.filter(e, !(e.contains(':') && e.split(':', 2)[1].trim() != ''))";
    let at = lit(&crate::diagnostic::field_path(&format!(
        "/metadata/annotations/{}",
        crate::check::organisation::SUPPRESS.replace('/', "~1")
    )));
    out.push(Validation::new(
        Code::O011,
        format!(
            "variables.suppression != '' && (params.data.allowSuppressions != 'true' || size({reasonless}) > 0)"
        ),
        format!(
            "{at} + (params.data.allowSuppressions != 'true' ? ': the policy does not allow suppressing findings; nothing was suppressed' : ': suppression \"' + {reasonless}[0] + '\" gives no reason (write CODE: reason); it suppresses nothing')"
        ),
    ));
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
