//! R011: one host exposed by two APIRules of a run.
//!
//! Upstream compares the host an APIRule asks for, short hosts expanded
//! with the gateway's domain, with the `spec.hosts` of every VirtualService
//! in the cluster as exact strings, and refuses the APIRule when one that
//! it does not own already holds it (`Host is occupied by another Virtual
//! Service`, reported in `.status` after the object is stored). Offline
//! there is no creation order, so both places are reported.
//!
//! Short hosts are compared as upstream would once expanded: with the
//! policy's domain when it names exactly one, otherwise only with other
//! short hosts on the same gateway (which expand to the same name).

use serde_json::Value;

use crate::apirule::{self, DEFAULT_GATEWAY, display_name};
use crate::diagnostic::{Finding, Position};
use crate::policy::Policy;
use crate::rules::Code;

/// One host an object exposes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    /// What upstream compares: the host, a short one expanded.
    key: String,
    /// The host as written.
    pub shown: String,
    /// Where it is written, relative to the object.
    pub pointer: String,
    /// v1beta1 words the finding as its own controller does.
    legacy: bool,
}

impl Host {
    /// A host written at `pointer` of an object that uses `gateway`.
    pub fn new(
        host: &str,
        gateway: Option<&str>,
        pointer: String,
        legacy: bool,
        policy: &Policy,
    ) -> Host {
        let key = if is_short(host) {
            match policy.org.domains.as_slice() {
                [domain] => format!("{host}.{}", domain.trim_start_matches("*.")),
                _ => {
                    let gateway = gateway
                        .or(policy.default_gateway.as_deref())
                        .unwrap_or(DEFAULT_GATEWAY);
                    format!("{host} on {gateway}")
                }
            }
        } else {
            host.to_owned()
        };
        Host {
            key,
            shown: host.to_owned(),
            pointer,
            legacy,
        }
    }

    /// What upstream compares: two hosts with one key are the same.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Whether upstream sees `self` and `other` as the same host.
    pub fn same(&self, other: &Host) -> bool {
        self.key == other.key
    }

    /// R011 at this host: the APIRule `by` (namespace, name) exposes it
    /// too, written in `file` at `at`.
    pub fn occupied(&self, by: &(String, String), file: &str, at: Position) -> Finding {
        let upstream = if self.legacy {
            "This host is occupied by another Virtual Service"
        } else {
            "Host is occupied by another Virtual Service"
        };
        Finding::new(
            Code::R011,
            self.pointer.clone(),
            format!(
                "{upstream}: APIRule {} in {file}:{}:{} exposes \"{}\" too",
                display_name(&by.0, &by.1),
                at.line,
                at.column,
                self.shown
            ),
        )
    }
}

/// For each of `hosts` (a host and the APIRule that holds it) that another
/// APIRule exposes too, the pair (it, the first such other one), in order.
pub fn taken<O: PartialEq>(hosts: &[(&Host, O)]) -> Vec<(usize, usize)> {
    // Sorted by key, stably: each run of one key keeps the input order.
    let mut order: Vec<usize> = (0..hosts.len()).collect();
    order.sort_by(|&a, &b| hosts[a].0.key.cmp(&hosts[b].0.key));
    let mut pairs = Vec::new();
    for same in order
        .chunk_by(|&a, &b| hosts[a].0.key == hosts[b].0.key)
        .filter(|run| run.len() > 1)
    {
        for &i in same {
            if let Some(&j) = same.iter().find(|&&j| hosts[j].1 != hosts[i].1) {
                pairs.push((i, j));
            }
        }
    }
    pairs.sort_unstable();
    pairs
}

/// Upstream's short host: one lowercase RFC 1123 label.
fn is_short(host: &str) -> bool {
    let b = host.as_bytes();
    (1..=63).contains(&b.len())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

/// The hosts of an APIRule object: `spec.host` in v1beta1, `spec.hosts`
/// otherwise. Values that are not strings are other rules' business.
pub fn of_apirule(value: &Value, policy: &Policy) -> Vec<Host> {
    let Some(spec) = value.get("spec") else {
        return Vec::new();
    };
    let gateway = spec.get("gateway").and_then(Value::as_str);
    let legacy = value
        .get("apiVersion")
        .and_then(Value::as_str)
        .and_then(apirule::Version::from_api_version)
        == Some(apirule::Version::V1beta1);
    if legacy {
        return spec
            .get("host")
            .and_then(Value::as_str)
            .map(|h| Host::new(h, gateway, "/spec/host".into(), true, policy))
            .into_iter()
            .collect();
    }
    let hosts = spec.get("hosts").and_then(Value::as_array);
    let mut out: Vec<Host> = Vec::new();
    for (j, host) in hosts.into_iter().flatten().enumerate() {
        let Some(host) = host.as_str() else { continue };
        let host = Host::new(host, gateway, format!("/spec/hosts/{j}"), false, policy);
        // One object does not occupy its own host twice.
        if !out.iter().any(|h| h.same(&host)) {
            out.push(host);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn policy(domains: &[&str]) -> Policy {
        let mut p = Policy::default();
        p.org.domains = domains.iter().map(|d| d.to_string()).collect();
        p
    }

    #[test]
    fn hosts_are_compared_as_upstream_expands_them() {
        let none = policy(&[]);
        let one = policy(&["example.com"]);
        let a = |h: &str, g: Option<&str>, p: &Policy| Host::new(h, g, String::new(), false, p);
        // Exact strings: a wildcard does not occupy a concrete host.
        assert!(a("x.example.com", None, &none).same(&a("x.example.com", None, &none)));
        assert!(!a("*.example.com", None, &none).same(&a("x.example.com", None, &none)));
        // A short host: the policy's one domain, or the same gateway.
        assert!(a("x", None, &one).same(&a("x.example.com", None, &one)));
        assert!(!a("x", None, &none).same(&a("x.example.com", None, &none)));
        assert!(a("x", None, &none).same(&a("x", Some(DEFAULT_GATEWAY), &none)));
        assert!(!a("x", Some("a/g"), &none).same(&a("x", Some("b/g"), &none)));
    }

    #[test]
    fn v1beta1_is_worded_as_its_controller_does() {
        let p = policy(&[]);
        let v1 = json!({"apiVersion": "gateway.kyma-project.io/v1beta1",
            "spec": {"host": "a.example.com"}});
        let v2 = json!({"apiVersion": "gateway.kyma-project.io/v2",
            "spec": {"hosts": ["a.example.com", "a.example.com", 7, "b"]}});
        let [h1] = of_apirule(&v1, &p).try_into().unwrap();
        assert_eq!(h1.pointer, "/spec/host");
        let by = ("x".to_owned(), "y".to_owned());
        assert_eq!(
            h1.occupied(&by, "f.yaml", Position { line: 2, column: 9 })
                .message,
            "This host is occupied by another Virtual Service: APIRule x/y in f.yaml:2:9 exposes \"a.example.com\" too"
        );
        let hosts = of_apirule(&v2, &p);
        let pointers: Vec<&str> = hosts.iter().map(|h| h.pointer.as_str()).collect();
        assert_eq!(pointers, ["/spec/hosts/0", "/spec/hosts/3"]);
        assert!(
            hosts[0]
                .occupied(&by, "f.yaml", Position::default())
                .message
                .starts_with("Host is occupied")
        );
    }
}
