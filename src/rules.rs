//! The rule registry: every finding kexpose can report has one entry here,
//! with a stable code, a kebab-case name, a default severity and a document.
//! Codes are never reused. Families: `P` parse, `S` schema, `R` routing,
//! `J` jwt, `B` APIRule v1beta1 (legacy), `X` exposure specs, `M` migration
//! from v1beta1, `O` organisation policy, `A` access tests (`kexpose test`).

use std::fmt;

use serde::Serialize;

/// How bad a finding is. Only `Error` fails a check (exit 1, admission denied).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

pub struct Rule {
    pub code: Code,
    pub name: &'static str,
    pub severity: Severity,
    /// One line, shown by `kexpose rules` and as the SARIF short description.
    pub summary: &'static str,
    /// One line that says how to fix a finding, shown under it as `help:`.
    pub help: &'static str,
    /// Markdown with the sections What it does / Why is this bad? / Example / Use instead.
    pub doc: &'static str,
}

/// Generates the registry and [`Code`], the type every finding names its
/// rule with: a code that is not registered does not compile.
macro_rules! rules {
    ($($code:ident $name:literal $sev:ident $summary:literal help $help:literal;)*) => {
        /// A rule's code. Findings carry this, not a string, so that every
        /// code a check emits is one the registry defines.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Code {
            $($code),*
        }

        impl Code {
            /// Every code, in registry order.
            pub const ALL: &[Code] = &[$(Code::$code),*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Code::$code => stringify!($code)),*
                }
            }
        }

        pub static RULES: &[Rule] = &[$(Rule {
            code: Code::$code,
            name: $name,
            severity: Severity::$sev,
            summary: $summary,
            help: $help,
            doc: include_str!(concat!("rules/", stringify!($code), ".md")),
        }),*];
    };
}

rules! {
    P001 "yaml-syntax" Error "The file is not well-formed YAML or JSON."
        help "fix the YAML at the position shown; quote values that start with {, [, *, & or !";
    P002 "duplicate-key" Error "A mapping defines the same key twice."
        help "keep one of the two keys and delete the other";
    P003 "not-utf8" Error "The file is not valid UTF-8."
        help "save the file as UTF-8";
    P004 "binary-file" Error "The file is binary, not text."
        help "leave the file out of the paths given, or exclude it in kexpose.yaml";
    P005 "file-too-large" Error "The file is larger than the size limit."
        help "split the file, or raise --max-file-size";
    P006 "alias-bomb" Error "The document exceeds the node budget, aliases counted as what they expand to."
        help "write the values out instead of nesting aliases";
    P007 "nesting-too-deep" Error "The document nests deeper than the depth limit."
        help "flatten the document";
    P008 "read-error" Error "The file could not be read."
        help "fix the file's permissions, or leave it out";
    P009 "template-error" Error "An exposure spec template does not render."
        help "fix the template expression at the position shown";
    P010 "unrendered-template" Warning "The file holds unrendered Helm or Go template syntax."
        help "render the template first (helm template ... | kexpose check -), or exclude the file in kexpose.yaml";
    P011 "yaml-tab" Error "A tab where kubectl's YAML reader needs a space."
        help "indent with spaces; a tab may only separate a value from its key or sit inside a value";
    S001 "required-field" Error "A required field is missing."
        help "add the field named in the message";
    S002 "unknown-field" Error "A field the APIRule schema does not define."
        help "remove the field, or fix its spelling; `kexpose rule S002` lists the known fields";
    S003 "wrong-type" Error "A field has the wrong JSON type."
        help "give the field a value of the type named in the message";
    S004 "unsupported-value" Error "A field holds a value outside its enumeration."
        help "use one of the values the message lists";
    S005 "out-of-bounds" Error "A number, string or list is outside its allowed size."
        help "bring the value within the bounds the message gives";
    S006 "host-format" Error "A host is not a lowercase RFC 1123 label, FQDN or wildcard domain."
        help "use a lowercase DNS name such as orders.example.com, or *.example.com";
    S007 "gateway-format" Error "gateway or externalGateway is not in namespace/name form."
        help "write the gateway as namespace/name, e.g. kyma-system/kyma-gateway";
    S008 "path-format" Error "A rule path is not a valid v2 path template."
        help "use a path such as /orders, /orders/{*} or /{**}";
    S009 "access-strategy-count" Error "A rule does not set exactly one of noAuth, jwt, extAuth."
        help "set exactly one of noAuth: true, jwt or extAuth on the rule";
    S010 "pattern-mismatch" Error "A field does not match its pattern."
        help "change the value to match the pattern in the message";
    S011 "unknown-api-version" Error "An APIRule with an apiVersion kexpose does not know."
        help "use apiVersion gateway.kyma-project.io/v2";
    S012 "placeholder-value" Warning "An issuer or jwksUri that upstream accepts still holds a placeholder for the reader to fill in."
        help "replace the placeholder with the real value before applying";
    R001 "service-required" Error "A rule has no service and the spec has none either."
        help "set spec.service, or a service on this rule";
    R002 "gateway-choice" Error "Neither or both of gateway and externalGateway are set."
        help "set exactly one of spec.gateway and spec.externalGateway";
    R003 "path-operator" Error "A path breaks the {**} operator rules."
        help "use {**} at most once, as the last operator of the path";
    R004 "path-method-conflict" Error "An earlier, more general rule shadows this path and method."
        help "move the more specific rule before the general one, or give them different methods";
    R005 "duplicate-path-method" Error "Two rules share the exact same path and method."
        help "merge the two rules, or give them different paths or methods";
    R006 "duplicate-method" Error "A rule lists the same method twice."
        help "list each method once";
    R007 "cors-preflight-unroutable" Warning "A CORS policy is set but no rule accepts OPTIONS."
        help "add OPTIONS to a rule that matches the CORS paths, with noAuth: true";
    R008 "cors-origin-key" Error "An allowOrigins entry is not exactly one of exact, prefix, regex."
        help "give the entry exactly one of exact, prefix or regex";
    R009 "empty-list" Error "An empty list or map that upstream silently erases."
        help "remove the field, or give it entries";
    R010 "v1beta1-unsupported" Error "APIRule v1beta1 is no longer supported by Kyma."
        help "migrate to v2: kexpose migrate --write FILE";
    R011 "host-occupied" Error "Two APIRules of one run expose the same host."
        help "give each APIRule its own host, or merge their rules into one APIRule";
    J001 "jwt-authentications-required" Error "A JWT config has no authentications."
        help "add an authentication with issuer and jwksUri";
    J002 "jwt-issuer-invalid" Error "An issuer is empty or not a valid URI."
        help "set issuer to the identity provider's issuer URL, e.g. https://idp.example.com";
    J003 "jwt-jwks-uri-invalid" Error "A jwksUri is empty or not a valid URI."
        help "set jwksUri to the jwks_uri from the issuer's /.well-known/openid-configuration";
    J004 "jwt-token-location-mixed" Error "fromHeaders and fromParams are mixed."
        help "read the token from headers or from params, not both";
    J005 "jwt-multiple-from-headers" Error "An authentication lists more than one fromHeaders entry."
        help "keep one fromHeaders entry per authentication";
    J006 "jwt-multiple-from-params" Error "An authentication lists more than one fromParams entry."
        help "keep one fromParams entry per authentication";
    J007 "jwt-authorizations-empty" Error "authorizations is an empty list."
        help "remove authorizations, or give it an entry";
    J008 "jwt-required-scopes-empty" Error "requiredScopes is empty or holds an empty scope."
        help "list at least one non-empty scope, or remove requiredScopes";
    J009 "jwt-audiences-empty" Error "audiences is empty or holds an empty audience."
        help "list at least one non-empty audience, or remove audiences";
    J010 "jwt-issuer-conflict" Error "One issuer is configured with two different token locations."
        help "use the same token location for every use of the issuer";
    J011 "jwt-jwks-uri-not-http" Error "A jwksUri is not an absolute http(s) URL."
        help "use an absolute https URL for jwksUri";
    J012 "jwt-jwks-uri-plain-http" Warning "A jwksUri uses plain http."
        help "use https for jwksUri";
    J013 "jwt-issuer-not-url" Warning "An issuer is not an absolute URL."
        help "use the issuer URL exactly as the tokens' iss claim carries it";
    J014 "jwt-issuer-differs-from-discovery" Error "An issuer differs from the discovered one only in the trailing slash."
        help "copy the issuer exactly as discovery returns it (kexpose lock shows it)";
    J015 "jwt-jwks-uri-differs-from-discovery" Warning "A jwksUri is not the jwks_uri discovery gives for its issuer."
        help "use the jwks_uri discovery returns for this issuer (kexpose lock shows it)";
    J016 "jwt-issuer-scheme" Error "An issuer's scheme is neither https nor http."
        help "write the issuer exactly as its tokens' iss claim carries it, e.g. https://idp.example.com";
    B001 "v1beta1-duplicate-path-method" Error "Two v1beta1 rules share the same path and method."
        help "give the rules different paths or methods";
    B002 "v1beta1-service-required" Error "A v1beta1 rule has no service and the spec has none."
        help "set spec.service, or a service on this rule";
    B003 "v1beta1-exclusive-handler" Error "An exclusive access strategy is combined with others."
        help "use this access strategy alone on the rule";
    B004 "v1beta1-secure-insecure-mix" Error "Secure and insecure access strategies are combined."
        help "split the rule: secure strategies in one, insecure in another";
    B005 "v1beta1-handler" Error "An access strategy handler is unknown or misconfigured."
        help "use a supported handler, without config where it takes none";
    B006 "v1beta1-jwt-config" Error "A v1beta1 jwt handler config is empty or of the wrong style."
        help "write the jwt config in the style the cluster's jwt handler reads";
    B007 "v1beta1-mutator" Error "A v1beta1 mutator is invalid."
        help "use the header or cookie mutator with at least one named entry";
    B008 "v1beta1-not-convertible" Warning "A v1beta1 rule has no v2 equivalent; conversion drops every rule."
        help "migrate to v2 (kexpose migrate) and use noAuth, jwt or extAuth";
    X001 "exposure-issuer-unknown" Error "A route names an issuer that no spec defines."
        help "define the issuer in an exposure spec, or fix the route's issuer name";
    X002 "exposure-issuer-jwks-uri-missing" Error "An issuer has no jwksUri to render."
        help "set the issuer's jwksUri, or run kexpose lock to discover it";
    X003 "exposure-route-unreachable" Error "A route can never be reached, or Kyma would reject it as shadowed."
        help "remove the route, or make its path or methods reachable";
    X004 "exposure-not-expressible-v1beta1" Error "A spec feature has no APIRule v1beta1 form."
        help "render APIRule v2 (the default)";
    O001 "issuer-not-registered" Error "A jwt issuer is not in the policy's issuer registry."
        help "use an issuer from the policy's registry, or register this one";
    O002 "issuer-jwks-uri-mismatch" Error "A registered issuer is used with another jwksUri."
        help "use the jwksUri the registry gives for this issuer";
    O003 "host-domain-not-allowed" Error "A host is not under a domain the policy allows."
        help "use a host under one of the domains the policy allows";
    O004 "wildcard-host-not-allowed" Error "A wildcard host where the policy forbids them."
        help "list each host explicitly";
    O005 "gateway-not-allowed" Error "A gateway the policy does not allow."
        help "use one of the gateways the policy allows";
    O006 "no-auth-not-allowed" Error "A noAuth route where the policy requires authentication."
        help "protect the route with jwt, or add its path to the policy's noAuth.paths";
    O007 "authorization-required" Error "A jwt route without the scopes or audiences the policy requires."
        help "add the requiredScopes or audiences the policy asks for";
    O008 "timeout-too-long" Error "A timeout above the policy's maximum."
        help "lower the timeout to the policy's maximum";
    O009 "method-not-allowed" Error "A method the policy does not allow (TRACE, CONNECT)."
        help "remove the method";
    O010 "jwks-uri-http-not-allowed" Error "A plain-http jwksUri where the policy forbids it."
        help "use an https jwksUri";
    O011 "suppression-invalid" Error "A kexpose.dev/suppress entry without a reason, or where suppressions are off."
        help "give each suppression a reason: CODE: why";
    O012 "token-location-not-allowed" Error "A token location the issuer registry does not allow for that issuer."
        help "read the token where the registry says this issuer puts it";
    O013 "service-namespace-not-allowed" Error "A route to a Service in another namespace where the policy forbids it."
        help "route to a Service in the APIRule's own namespace";
    O014 "external-service-not-allowed" Error "A route to an external Service where the policy forbids it."
        help "route to a Service inside the mesh";
    O015 "ext-auth-authorizer-not-allowed" Error "An extAuth authorizer the policy does not allow."
        help "use one of the authorizers the policy allows";
    M001 "migrate-handler-unsupported" Error "A v1beta1 access strategy has no v2 equivalent."
        help "rewrite the rule with noAuth, jwt or extAuth by hand";
    M002 "migrate-jwt-unpaired" Error "A v1beta1 Ory jwt config cannot be paired into issuer and jwksUri."
        help "pair exactly one trusted_issuers with one jwks_urls, or write v2 authentications by hand";
    M003 "migrate-path-regex" Error "A v1beta1 path regex has no exact v2 template; review the closest one."
        help "review the v2 path template kexpose chose";
    M004 "migrate-allow-semantics" Warning "allow or noop became noAuth, whose semantics differ."
        help "confirm the route is meant to be public";
    M005 "migrate-field-dropped" Error "A v1beta1 mutator or field has no v2 equivalent and was left out."
        help "pass headers through request.headers, or let the service read the token";
    M006 "migrate-gateway" Error "A legacy gateway name cannot be translated to namespace/name."
        help "write the gateway as namespace/name";
    M007 "migrate-mixed-strategies" Error "A rule mixes noAuth-like and jwt strategies, which v2 cannot express."
        help "split the rule by path or method: one noAuth, one jwt";
    M008 "migrate-host-lowercased" Warning "A v1beta1 host with upper-case letters was lowercased for v2."
        help "nothing to do if the lowercased host is the one you meant";
    X005 "exposure-duplicate" Error "Two specs define the same issuer or render the same APIRule."
        help "give each exposure its own name and each issuer one definition";
    A001 "access-expectation-failed" Error "An AccessTest case gets another status than it expects."
        help "read the reasons: fix the APIRule or exposure they point at, or the expectation";
    A002 "access-test-invalid" Error "An AccessTest document cannot be read: a bad request, token or expectation."
        help "write the case as the AccessTest schema says (kexpose rule A002 shows one)";
}

impl Code {
    /// The registry entry of this code.
    pub fn rule(self) -> &'static Rule {
        &RULES[self as usize]
    }

    /// The code of a name or code read at run time (case-insensitive).
    pub fn parse(code_or_name: &str) -> Option<Code> {
        find(code_or_name).map(|r| r.code)
    }
}

/// Codes sort by their text (`B001` before `J001`), as every report does.
impl Ord for Code {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl PartialOrd for Code {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Looks a rule up by its code (case-insensitive) or its name.
pub fn find(code_or_name: &str) -> Option<&'static Rule> {
    RULES
        .iter()
        .find(|r| r.code.as_str().eq_ignore_ascii_case(code_or_name) || r.name == code_or_name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_indexes_its_own_entry() {
        assert_eq!(Code::ALL.len(), RULES.len());
        for code in Code::ALL {
            assert_eq!(code.rule().code, *code);
            assert_eq!(Code::parse(code.as_str()), Some(*code));
            assert_eq!(Code::parse(code.rule().name), Some(*code));
        }
        assert_eq!(Code::parse("j003"), Some(Code::J003));
        assert_eq!(Code::parse("J999"), None);
    }
}
