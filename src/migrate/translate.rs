//! The v1beta1 notions v2 spells differently: path regular expressions
//! as path templates, legacy gateway names, durations as seconds.

use serde_json::Value;

/// Regex metacharacters that make a v1beta1 path more than a literal.
const META: &[char] = &[
    '*', '+', '?', '(', ')', '[', ']', '{', '}', '|', '\\', '^', '$',
];

/// A v1beta1 path (a regular expression) as v2 path templates, and whether
/// the mapping is exact.
pub fn path(regex: &str) -> (Vec<String>, bool) {
    let p = regex.strip_prefix('^').unwrap_or(regex);
    let p = p.strip_suffix('$').unwrap_or(p);
    if p == "/.*" || p == "/*" {
        return (vec!["/*".into()], true);
    }
    if !p.contains(META) {
        return (vec![p.to_owned()], true);
    }
    if let Some(prefix) = p.strip_suffix("/.*")
        && !prefix.contains(META)
    {
        return (vec![format!("{prefix}/{{**}}")], true);
    }
    if let Some(prefix) = p.strip_suffix("(.*)").or_else(|| p.strip_suffix(".*"))
        && !prefix.contains(META)
        && !prefix.is_empty()
        && !prefix.ends_with('/')
    {
        // `/foo(.*)` is `/foo` and everything below it (it also matches
        // `/foobar`, which no template expresses; that part is reported).
        return (vec![prefix.to_owned(), format!("{prefix}/{{**}}")], false);
    }
    // The closest template: literal segments kept, a segment holding a
    // pattern becomes `{*}`, and `.*` anywhere becomes a trailing `{**}`.
    let mut out = String::new();
    for segment in p.trim_start_matches('/').split('/') {
        if segment.contains(".*") {
            out.push_str("/{**}");
            break;
        }
        out.push('/');
        out.push_str(if segment.contains(META) {
            "{*}"
        } else {
            segment
        });
    }
    (vec![out], false)
}

/// Translates a legacy gateway name (upstream's gateway translator).
pub fn gateway(name: &str, namespace: Option<&str>) -> Option<String> {
    if name.contains('/') {
        return Some(name.to_owned());
    }
    let parts: Vec<&str> = name.split('.').collect();
    match parts.as_slice() {
        [gw] => namespace.map(|ns| format!("{ns}/{gw}")),
        [gw, ns]
        | [gw, ns, "svc"]
        | [gw, ns, "svc", "cluster"]
        | [gw, ns, "svc", "cluster", "local"] => Some(format!("{ns}/{gw}")),
        _ => None,
    }
}

/// `10m`, `1h30m`, `45s`, `600` as whole seconds.
pub fn duration_seconds(d: &Value) -> Option<u64> {
    if let Some(n) = d.as_u64() {
        return Some(n);
    }
    let text = d.as_str()?;
    let mut total = 0f64;
    let mut number = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            number.push(c);
            continue;
        }
        let mut unit = c.to_string();
        if c == 'm' && chars.peek() == Some(&'s') {
            unit.push(chars.next()?);
        }
        let n: f64 = number.parse().ok()?;
        number.clear();
        total += n * match unit.as_str() {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 0.001,
            _ => return None,
        };
    }
    if !number.is_empty() {
        return None;
    }
    Some(total as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths() {
        assert_eq!(path("/.*"), (vec!["/*".into()], true));
        assert_eq!(path("/headers"), (vec!["/headers".into()], true));
        assert_eq!(path("/foo/.*"), (vec!["/foo/{**}".into()], true));
        assert_eq!(path("^/x$"), (vec!["/x".into()], true));
        assert_eq!(
            path("/foo(.*)"),
            (vec!["/foo".into(), "/foo/{**}".into()], false)
        );
        assert_eq!(
            path("/api/v[0-9]+/items"),
            (vec!["/api/{*}/items".into()], false)
        );
        assert_eq!(path("/a/.*/b"), (vec!["/a/{**}".into()], false));
    }

    #[test]
    fn gateways_and_durations() {
        assert_eq!(
            gateway("kyma-gateway.kyma-system.svc.cluster.local", None).as_deref(),
            Some("kyma-system/kyma-gateway")
        );
        assert_eq!(
            gateway("kyma-gateway.kyma-system", None).as_deref(),
            Some("kyma-system/kyma-gateway")
        );
        assert_eq!(gateway("gw", Some("ns")).as_deref(), Some("ns/gw"));
        assert_eq!(gateway("gw", None), None);
        assert_eq!(gateway("a.b.c", None), None);
        assert_eq!(duration_seconds(&json!("10m")), Some(600));
        assert_eq!(duration_seconds(&json!("1h30m5s")), Some(5405));
        assert_eq!(duration_seconds(&json!("1500ms")), Some(1));
        assert_eq!(duration_seconds(&json!(300)), Some(300));
        assert_eq!(duration_seconds(&json!("soon")), None);
    }
}
