//! Placeholders (S012): values that documentation and samples leave for the
//! reader to fill in. A host such as `httpbin.<YOUR_DOMAIN>` fails the host
//! pattern, but "not a lowercase RFC 1123 name" hides what is wrong; the
//! finding names the placeholder instead, as a warning.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

use crate::diagnostic::{Finding, field_path};
use crate::rules::Code;

/// The format rules a placeholder would otherwise trip.
const FORMAT: [Code; 7] = [
    Code::S006,
    Code::S007,
    Code::S010,
    Code::J002,
    Code::J003,
    Code::J011,
    Code::J013,
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
    PLACEHOLDER.find(value).map(|m| m.as_str())
}

/// Replaces each format finding about a value that holds a placeholder
/// with one S012 warning naming it.
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
        let message = format!(
            "{} \"{text}\" holds the placeholder {placeholder}; replace it with the real value",
            field_path(&f.pointer)
        );
        *f = Finding::new(Code::S012, std::mem::take(&mut f.pointer), message);
        true
    });
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
