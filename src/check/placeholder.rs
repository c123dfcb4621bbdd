//! Placeholders: values that documentation and samples leave for the
//! reader to fill in. A host such as `httpbin.<YOUR_DOMAIN>` fails the host
//! pattern, but "not a lowercase RFC 1123 name" hides what is wrong; the
//! finding names the placeholder instead. It keeps its code, and so its
//! severity: the API server refuses such a host whatever the finding says,
//! so a placeholder never lowers the verdict.
//!
//! An issuer or jwksUri whose placeholder upstream's URL parser accepts
//! (`https://<YOUR_TENANT>.accounts.ondemand.com`: Go takes `<` and `>` in a
//! host) is stored, and every call then gets 401; it gets S012, a warning,
//! since the cluster accepts it.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

use crate::diagnostic::{Finding, field_path, push_token};
use crate::rules::Code;

/// The format rules a placeholder would otherwise trip.
const FORMAT: [Code; 8] = [
    Code::S006,
    Code::S007,
    Code::S010,
    Code::J002,
    Code::J003,
    Code::J011,
    Code::J013,
    Code::J016,
];

static PLACEHOLDER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"<[A-Za-z][A-Za-z0-9_.-]*>",             // <YOUR_HOST>
        r"|\$\{[A-Za-z_][A-Za-z0-9_]*\}",         // ${DOMAIN}
        r"|\{[A-Za-z][A-Za-z0-9_.-]*\}",          // {your-tenant}, {SUBDOMAIN}
        r"|\$[A-Z_][A-Z0-9_]*",                   // $DOMAIN
        r"|\b[Yy][Oo][Uu][Rr][-_][A-Za-z0-9_-]+", // your-domain, YOUR_TENANT
        r"|\b[A-Z][A-Z0-9]*_[A-Z0-9_]+\b",        // DATA_CENTER
    ))
    .expect("a valid pattern")
});

/// The first placeholder in `value`, if it holds one.
pub fn find(value: &str) -> Option<&str> {
    // Every alternative needs one of these: most values have none, and
    // are answered without running the pattern.
    let may = value
        .bytes()
        .any(|b| matches!(b, b'<' | b'$' | b'{' | b'_'))
        || value
            .as_bytes()
            .windows(5)
            .any(|w| w.eq_ignore_ascii_case(b"your-"));
    if !may {
        return None;
    }
    PLACEHOLDER.find(value).map(|m| m.as_str())
}

/// Rewords each format finding about a value that holds a placeholder to
/// name it (one finding per value), and adds S012 for the issuer and
/// jwksUri values that hold one and have no finding.
pub fn replace(object: &Value, findings: &mut Vec<Finding>) {
    let mut named: Vec<String> = Vec::new();
    findings.retain_mut(|f| {
        if !FORMAT.contains(&f.code) {
            return true;
        }
        let Some(text) = object.pointer(&f.pointer).and_then(Value::as_str) else {
            return true;
        };
        let Some(placeholder) = find(text) else {
            return true;
        };
        if named.contains(&f.pointer) {
            return false;
        }
        named.push(f.pointer.clone());
        f.message = message(&f.pointer, text, placeholder);
        true
    });
    let mut accepted = Vec::new();
    urls(object, &mut Vec::new(), &mut accepted);
    for (pointer, text, placeholder) in accepted {
        if findings.iter().any(|f| f.pointer == pointer) {
            continue;
        }
        let message = message(&pointer, text, placeholder);
        findings.push(Finding::new(Code::S012, pointer, message));
    }
}

fn message(pointer: &str, text: &str, placeholder: &str) -> String {
    format!(
        "{} \"{text}\" holds the placeholder {placeholder}; replace it with the real value",
        field_path(pointer)
    )
}

/// A step of the walk in `urls`.
enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

/// Every `issuer` and `jwksUri` string below `value` that holds a
/// placeholder, with its pointer and the placeholder. The walk keeps the
/// steps it took; only a match is written out as a pointer.
fn urls<'a>(value: &'a Value, at: &mut Vec<Step<'a>>, out: &mut Vec<(String, &'a str, &'a str)>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                at.push(Step::Key(key));
                match v {
                    Value::String(s) if key == "issuer" || key == "jwksUri" => {
                        if let Some(placeholder) = find(s) {
                            out.push((pointer(at), s, placeholder));
                        }
                    }
                    _ => urls(v, at, out),
                }
                at.pop();
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                at.push(Step::Index(i));
                urls(v, at, out);
                at.pop();
            }
        }
        _ => {}
    }
}

fn pointer(steps: &[Step<'_>]) -> String {
    let mut p = String::new();
    for step in steps {
        match step {
            Step::Key(k) => push_token(&mut p, k),
            Step::Index(i) => {
                use std::fmt::Write as _;
                let _ = write!(p, "/{i}");
            }
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_found_and_real_values_are_not() {
        for (value, placeholder) in [
            ("httpbin.<YOUR_DOMAIN>", "<YOUR_DOMAIN>"),
            (
                "https://{your-tenant}.accounts.ondemand.com",
                "{your-tenant}",
            ),
            ("https://${DOMAIN}/keys", "${DOMAIN}"),
            ("$DOMAIN", "$DOMAIN"),
            ("httpbin.your-domain.com", "your-domain"),
            ("https://auth.DATA_CENTER.example.com", "DATA_CENTER"),
            ("{SUBDOMAIN}.{YOUR_DOMAIN}", "{SUBDOMAIN}"),
        ] {
            assert_eq!(find(value), Some(placeholder), "{value}");
        }
        for value in [
            "httpbin.example.com",
            "https://tenant.accounts400.ondemand.com/oauth2/certs",
            "HttpBin.Example.com",
            "http_bin.example.com",
            "kyma-system/kyma-gateway",
            "/{**}",
        ] {
            assert_eq!(find(value), None, "{value}");
        }
    }
}
