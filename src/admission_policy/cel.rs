//! CEL text shared by the exported validations: string literals, the
//! variables every policy declares, and the walks over rules and jwt
//! configs with the field path of the first element that fails.
//!
//! Fields of a custom resource reach CEL untyped, so every optional field
//! is read behind `has()`: an unguarded read of a missing field is an
//! evaluation error, which `failurePolicy: Fail` turns into a denial. The
//! fields the CRD requires (`hosts`, `rules`, a rule's `path` and
//! `methods`, an authentication's `issuer` and `jwksUri`, a header's
//! `name`) are read directly: the schema has refused the object before a
//! policy runs if one is missing.
//!
//! Indices come from the Kubernetes list library's `indexOf`, evaluated
//! only in messages, once, for the first element that fails: the first
//! element equal to it is itself, so the path is one `kexpose check`
//! reports. Every expression and message is linear in the object's size.

use crate::check::organisation::SUPPRESS;

/// A CEL string literal.
pub fn lit(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// The jwt config of rule `r`.
const C: &str = "(has(r.jwt) ? r.jwt : r.extAuth.restrictions)";

/// The variables every exported policy declares, in order (a variable may
/// use the ones before it): the policy's `values` (see `params`), then
/// what the validations read of the object. The API server evaluates a
/// variable only when an expression reads it, so unused ones cost nothing.
///
/// Names are CEL identifiers that are not reserved words (`namespace`,
/// `package`, `in`, ... are refused by the API server), and map literals
/// wrap each value in `dyn()`: Kubernetes compiles with cel-go's
/// homogeneous aggregate literals, which refuse a literal whose values
/// differ in type.
pub fn variables(values: Vec<(&'static str, String)>) -> Vec<(&'static str, String)> {
    let annotation = lit(SUPPRESS);
    let mut out = values;
    out.extend([
        ("spec", "has(object.spec) ? object.spec : {}".into()),
        (
            "rules",
            "has(variables.spec.rules) ? variables.spec.rules : []".into(),
        ),
        // The CRD requires `hosts` in a spec, but v2alpha1 does not
        // require the spec.
        (
            "hosts",
            "has(variables.spec.hosts) ? variables.spec.hosts : []".into(),
        ),
        // Each rule's jwt config (`jwt`, or `extAuth.restrictions`: the
        // CRD allows one of `jwt` and `extAuth`), its lists present.
        (
            "jwtConfigs",
            format!(
                "variables.rules.filter(r, has(r.jwt) || (has(r.extAuth) && has(r.extAuth.restrictions))).map(r, {{'rule': dyn(r), 'field': dyn(has(r.jwt) ? 'jwt' : 'extAuth.restrictions'), 'hasAuthorizations': dyn(has({C}.authorizations)), 'authentications': dyn(has({C}.authentications) ? {C}.authentications : []), 'authorizations': dyn(has({C}.authorizations) ? {C}.authorizations : [])}})"
            ),
        ),
        // The request's namespace: an object created without one in its
        // metadata is stored in the namespace of the request's URL.
        ("objectNamespace", "request.namespace".into()),
        (
            "suppression",
            format!(
                "has(object.metadata.annotations) && {annotation} in object.metadata.annotations ? object.metadata.annotations[{annotation}] : ''"
            ),
        ),
        (
            "suppressionEntries",
            "variables.suppression.replace('\\n', ';').split(';').map(e, e.trim()).filter(e, e != '')"
                .into(),
        ),
        // Whether the policy lets objects of this namespace suppress.
        (
            "suppressionHere",
            format!(
                "size(variables.suppressionNamespaces) == 0 || {}",
                namespace_in("suppressionNamespaces")
            ),
        ),
        // The codes the object suppresses and the policy grants.
        (
            "suppressed",
            format!(
                "variables.allowSuppressions && variables.suppressionHere ? variables.suppressionEntries.filter(e, {REASONED}).map(e, {CODE}).filter(c, c in variables.suppressible) : []"
            ),
        ),
    ]);
    out
}

/// A suppression entry `e` gives a reason (`CODE: reason`).
pub const REASONED: &str = "e.contains(':') && e.split(':', 2)[1].trim() != ''";

/// The code a suppression entry `e` names, as `check` reads it.
pub const CODE: &str = "e.split(':', 2)[0].trim().upperAscii()";

/// Whether the object's namespace matches one of the (whole-name) patterns
/// in the list variable `patterns`.
pub fn namespace_in(patterns: &str) -> String {
    format!("variables.{patterns}.exists(p, variables.objectNamespace.matches('^(?:' + p + ')$'))")
}

/// Some element of a list field of a jwt config fails `bad` (over `e`).
pub fn some_in_configs(field: &str, bad: &str) -> String {
    format!("variables.jwtConfigs.exists(c, c.{field}.exists(e, {bad}))")
}

/// The path of the jwt config `c`: `'spec.rules[3].jwt'`.
pub fn config_path() -> String {
    "'spec.rules[' + string(variables.rules.indexOf(c.rule)) + '].' + c.field".into()
}

/// Where a message names the path of what fails.
pub const AT: &str = "@at";

/// The message about the first element that fails `bad`: `rest`, a CEL
/// string that may read `e` (the element) and [`AT`] (its path).
pub fn first_in_configs(field: &str, bad: &str, rest: &str) -> String {
    let at = format!(
        "{} + '.{field}[' + string(c.{field}.indexOf(e)) + ']'",
        config_path()
    );
    let inner = first(
        &format!("c.{field}"),
        "e",
        bad,
        &rest.replace(AT, &format!("({at})")),
    );
    first(
        "variables.jwtConfigs",
        "c",
        &format!("c.{field}.exists(e, {bad})"),
        &inner,
    )
}

/// `rest` (over `var`) for the first element of `list` that fails `bad`:
/// a one-element list mapped, CEL's way of naming a value, so that the
/// message is built once and its cost stays linear.
pub fn first(list: &str, var: &str, bad: &str, rest: &str) -> String {
    format!("[{list}.filter({var}, {bad})[0]].map({var}, {rest})[0]")
}

/// The path of rule `r`: `'spec.rules[3]'`.
pub fn rule_path(r: &str) -> String {
    format!("'spec.rules[' + string(variables.rules.indexOf({r})) + ']'")
}

/// Some rule fails `bad` (over `r`).
pub fn some_rule(bad: &str) -> String {
    format!("variables.rules.exists(r, {bad})")
}

/// The message about the first rule that fails `bad`: `rest` may read `r`
/// and [`AT`] (the rule's path).
pub fn first_rule(bad: &str, rest: &str) -> String {
    first(
        "variables.rules",
        "r",
        bad,
        &rest.replace(AT, &format!("({})", rule_path("r"))),
    )
}
