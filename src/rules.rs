//! The rule registry: every finding kexpose can report has one entry here,
//! with a stable code, a kebab-case name, a default severity and a document.
//! Codes are never reused. Families: `P` parse, `S` schema, `R` routing,
//! `J` jwt, `B` APIRule v1beta1 (legacy), `X` exposure specs, `M` migration
//! from v1beta1, `O` organisation policy.

use crate::diagnostic::Severity;

pub struct Rule {
    pub code: Code,
    pub name: &'static str,
    pub severity: Severity,
    /// One line, shown by `kexpose rules` and as the SARIF short description.
    pub summary: &'static str,
    /// Markdown with the sections What it does / Why is this bad? / Example / Use instead.
    pub doc: &'static str,
}

/// Generates the registry and [`Code`], the type every finding names its
/// rule with: a code that is not registered does not compile.
macro_rules! rules {
    ($($code:ident $name:literal $sev:ident $summary:literal;)*) => {
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
            doc: include_str!(concat!("rules/", stringify!($code), ".md")),
        }),*];
    };
}

rules! {
    P001 "yaml-syntax" Error "The file is not well-formed YAML or JSON.";
    P002 "duplicate-key" Error "A mapping defines the same key twice.";
    P003 "not-utf8" Error "The file is not valid UTF-8.";
    P004 "binary-file" Error "The file is binary, not text.";
    P005 "file-too-large" Error "The file is larger than the size limit.";
    P006 "alias-bomb" Error "Aliases expand the document beyond the node budget.";
    P007 "nesting-too-deep" Error "The document nests deeper than the depth limit.";
    P008 "read-error" Error "The file could not be read.";
    P009 "template-error" Error "An exposure spec template does not render.";
    S001 "required-field" Error "A required field is missing.";
    S002 "unknown-field" Error "A field the APIRule schema does not define.";
    S003 "wrong-type" Error "A field has the wrong JSON type.";
    S004 "unsupported-value" Error "A field holds a value outside its enumeration.";
    S005 "out-of-bounds" Error "A number, string or list is outside its allowed size.";
    S006 "host-format" Error "A host is not a lowercase RFC 1123 label, FQDN or wildcard domain.";
    S007 "gateway-format" Error "gateway or externalGateway is not in namespace/name form.";
    S008 "path-format" Error "A rule path is not a valid v2 path template.";
    S009 "access-strategy-count" Error "A rule does not set exactly one of noAuth, jwt, extAuth.";
    S010 "pattern-mismatch" Error "A field does not match its pattern.";
    S011 "unknown-api-version" Error "An APIRule with an apiVersion kexpose does not know.";
    R001 "service-required" Error "A rule has no service and the spec has none either.";
    R002 "gateway-choice" Error "Neither or both of gateway and externalGateway are set.";
    R003 "path-operator" Error "A path breaks the {**} operator rules.";
    R004 "path-method-conflict" Error "An earlier, more general rule shadows this path and method.";
    R005 "duplicate-path-method" Error "Two rules share the exact same path and method.";
    R006 "duplicate-method" Error "A rule lists the same method twice.";
    R007 "cors-preflight-unroutable" Warning "A CORS policy is set but no rule accepts OPTIONS.";
    R008 "cors-origin-key" Error "An allowOrigins entry is not exactly one of exact, prefix, regex.";
    R009 "empty-list" Error "An empty list or map that upstream silently erases.";
    R010 "v1beta1-unsupported" Error "APIRule v1beta1 is no longer supported by Kyma.";
    J001 "jwt-authentications-required" Error "A JWT config has no authentications.";
    J002 "jwt-issuer-invalid" Error "An issuer is empty or not a valid URI.";
    J003 "jwt-jwks-uri-invalid" Error "A jwksUri is empty or not a valid URI.";
    J004 "jwt-token-location-mixed" Error "fromHeaders and fromParams are mixed.";
    J005 "jwt-multiple-from-headers" Error "An authentication lists more than one fromHeaders entry.";
    J006 "jwt-multiple-from-params" Error "An authentication lists more than one fromParams entry.";
    J007 "jwt-authorizations-empty" Error "authorizations is an empty list.";
    J008 "jwt-required-scopes-empty" Error "requiredScopes is empty or holds an empty scope.";
    J009 "jwt-audiences-empty" Error "audiences is empty or holds an empty audience.";
    J010 "jwt-issuer-conflict" Error "One issuer is configured with two different token locations.";
    J011 "jwt-jwks-uri-not-http" Error "A jwksUri is not an absolute http(s) URL.";
    J012 "jwt-jwks-uri-plain-http" Warning "A jwksUri uses plain http.";
    J013 "jwt-issuer-not-url" Warning "An issuer is not an absolute URL.";
    J014 "jwt-issuer-differs-from-discovery" Error "An issuer differs from the discovered one only in the trailing slash.";
    J015 "jwt-jwks-uri-differs-from-discovery" Warning "A jwksUri is not the jwks_uri discovery gives for its issuer.";
    B001 "v1beta1-duplicate-path-method" Error "Two v1beta1 rules share the same path and method.";
    B002 "v1beta1-service-required" Error "A v1beta1 rule has no service and the spec has none.";
    B003 "v1beta1-exclusive-handler" Error "An exclusive access strategy is combined with others.";
    B004 "v1beta1-secure-insecure-mix" Error "Secure and insecure access strategies are combined.";
    B005 "v1beta1-handler" Error "An access strategy handler is unknown or misconfigured.";
    B006 "v1beta1-jwt-config" Error "A v1beta1 jwt handler config is empty or of the wrong style.";
    B007 "v1beta1-mutator" Error "A v1beta1 mutator is invalid.";
    B008 "v1beta1-not-convertible" Warning "A v1beta1 rule has no v2 equivalent; conversion drops every rule.";
    X001 "exposure-issuer-unknown" Error "A route names an issuer that no spec defines.";
    X002 "exposure-issuer-jwks-uri-missing" Error "An issuer has no jwksUri to render.";
    X003 "exposure-route-unreachable" Error "A route can never be reached, or Kyma would reject it as shadowed.";
    X004 "exposure-not-expressible-v1beta1" Error "A spec feature has no APIRule v1beta1 form.";
    O001 "issuer-not-registered" Error "A jwt issuer is not in the policy's issuer registry.";
    O002 "issuer-jwks-uri-mismatch" Error "A registered issuer is used with another jwksUri.";
    O003 "host-domain-not-allowed" Error "A host is not under a domain the policy allows.";
    O004 "wildcard-host-not-allowed" Error "A wildcard host where the policy forbids them.";
    O005 "gateway-not-allowed" Error "A gateway the policy does not allow.";
    O006 "no-auth-not-allowed" Error "A noAuth route where the policy requires authentication.";
    O007 "authorization-required" Error "A jwt route without the scopes or audiences the policy requires.";
    O008 "timeout-too-long" Error "A timeout above the policy's maximum.";
    O009 "method-not-allowed" Error "A method the policy does not allow (TRACE, CONNECT).";
    O010 "jwks-uri-http-not-allowed" Error "A plain-http jwksUri where the policy forbids it.";
    O011 "suppression-invalid" Error "A kexpose.dev/suppress entry without a reason, or where suppressions are off.";
    O012 "token-location-not-allowed" Error "A token location the issuer registry does not allow for that issuer.";
    M001 "migrate-handler-unsupported" Error "A v1beta1 access strategy has no v2 equivalent.";
    M002 "migrate-jwt-unpaired" Error "A v1beta1 Ory jwt config cannot be paired into issuer and jwksUri.";
    M003 "migrate-path-regex" Error "A v1beta1 path regex has no exact v2 template; review the closest one.";
    M004 "migrate-allow-semantics" Warning "allow or noop became noAuth, whose semantics differ.";
    M005 "migrate-field-dropped" Error "A v1beta1 mutator or field has no v2 equivalent and was left out.";
    M006 "migrate-gateway" Error "A legacy gateway name cannot be translated to namespace/name.";
    M007 "migrate-mixed-strategies" Error "A rule mixes noAuth-like and jwt strategies, which v2 cannot express.";
    M008 "migrate-host-lowercased" Warning "A v1beta1 host with upper-case letters was lowercased for v2.";
    X005 "exposure-duplicate" Error "Two specs define the same issuer or render the same APIRule.";
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
