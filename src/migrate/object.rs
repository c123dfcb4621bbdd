//! One APIRule v1beta1 read as the typed v1beta1 model and written as the
//! typed v2 model, every decision named.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::access::{Access, access};
use super::translate::{duration_seconds, gateway, path};
use crate::apirule::{self, Metadata, Version, v1beta1, v2};
use crate::check::schema;
use crate::diagnostic::{Finding, join};
use crate::rules::Code;

/// Annotations the apiserver and kubectl write, which a v2 manifest must not
/// carry over.
const MANAGED_ANNOTATIONS: [&str; 4] = [
    "kubectl.kubernetes.io/last-applied-configuration",
    "gateway.kyma-project.io/original-version",
    "gateway.kyma-project.io/v1beta1-spec",
    "gateway.kyma-project.io/v2alpha1-rules",
];

/// Metadata the apiserver owns.
const SERVER_METADATA: [&str; 7] = [
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "managedFields",
    "selfLink",
    "deletionTimestamp",
];

/// One migrated APIRule.
#[derive(Debug, Clone)]
pub struct Migrated {
    /// Absent when the source could not be read as APIRule v1beta1.
    pub apirule: Option<v2::ApiRule>,
    /// Pointers are relative to the source object.
    pub findings: Vec<Finding>,
    /// Where the source spec is: `/spec`, or the `v1beta1-spec` annotation.
    pub spec_at: &'static str,
    /// For each v2 rule, the index of the v1beta1 rule it came from, so a
    /// finding on the v2 object points at the line that caused it.
    pub rule_sources: Vec<usize>,
}

/// Whether a document is something `migrate` rewrites: a v1beta1 APIRule,
/// or a served v2/v2alpha1 one whose original v1beta1 spec survives only in
/// the `v1beta1-spec` annotation (`kubectl get apirule -o yaml`).
pub fn applies(value: &Value) -> bool {
    if value.get("kind").and_then(Value::as_str) != Some(apirule::KIND) {
        return false;
    }
    match value
        .get("apiVersion")
        .and_then(Value::as_str)
        .and_then(Version::from_api_version)
    {
        Some(Version::V1beta1) => true,
        Some(_) => legacy_spec(value).is_some(),
        None => false,
    }
}

fn legacy_spec(value: &Value) -> Option<Value> {
    let annotations = value.pointer("/metadata/annotations")?;
    if annotations
        .get("gateway.kyma-project.io/original-version")
        .and_then(Value::as_str)
        != Some("v1beta1")
    {
        return None;
    }
    let raw = annotations
        .get("gateway.kyma-project.io/v1beta1-spec")?
        .as_str()?;
    serde_json::from_str(raw).ok()
}

/// Migrates one object (see `applies`).
pub fn apirule(value: &Value) -> Migrated {
    let from_annotation = legacy_spec(value);
    let spec_at = if from_annotation.is_some() {
        "/metadata/annotations/gateway.kyma-project.io~1v1beta1-spec"
    } else {
        "/spec"
    };
    let mut migrated = Migrated {
        apirule: None,
        findings: Vec::new(),
        spec_at,
        rule_sources: Vec::new(),
    };
    let source = from_annotation
        .as_ref()
        .or_else(|| value.get("spec"))
        .unwrap_or(&Value::Null);
    let spec = match v1beta1::Spec::deserialize(source) {
        Ok(spec) => spec,
        Err(e) => {
            migrated.findings = unreadable(source, spec_at, &e.to_string());
            return migrated;
        }
    };
    let findings = &mut migrated.findings;
    let namespace = value.pointer("/metadata/namespace").and_then(Value::as_str);

    let hosts = {
        // Hosts are case-insensitive, and v2 accepts lowercase only.
        let lower = spec.host.to_ascii_lowercase();
        if lower != spec.host {
            findings.push(Finding::new(
                Code::M008,
                format!("{spec_at}/host"),
                format!(
                    "host \"{}\" was lowercased to \"{lower}\"; v2 accepts lowercase hosts only, and DNS names are case-insensitive",
                    spec.host
                ),
            ));
        }
        vec![lower]
    };
    let gateway = match gateway(&spec.gateway, namespace) {
        Some(t) => Some(t),
        None => {
            findings.push(Finding::new(
                Code::M006,
                format!("{spec_at}/gateway"),
                format!(
                    "gateway \"{}\" cannot be translated to namespace/name; set spec.gateway in the v2 APIRule by hand",
                    spec.gateway
                ),
            ));
            None
        }
    };
    let cors_policy = spec
        .cors_policy
        .as_ref()
        .and_then(|c| cors(c, spec_at, findings));

    let mut rules: Vec<(usize, v2::Rule)> = Vec::new();
    for (i, rule) in spec.rules.iter().enumerate() {
        let at = format!("{spec_at}/rules/{i}");
        let Some(access) = access(rule, &at, findings) else {
            continue;
        };
        let request = request(rule, &at, findings);
        let (paths, exact) = path(&rule.path);
        if !exact {
            findings.push(Finding::new(
                Code::M003,
                join(&at, "path"),
                format!(
                    "path \"{}\" is a regular expression with no exact v2 template; migrated as {}, which does not match exactly the same requests: review it",
                    rule.path,
                    paths.join(" and ")
                ),
            ));
        }
        for p in paths {
            let (no_auth, jwt) = match &access {
                Access::NoAuth => (Some(true), None),
                Access::Jwt(j) => (None, Some(j.clone())),
            };
            rules.push((
                i,
                v2::Rule {
                    path: p,
                    methods: rule.methods.clone(),
                    no_auth,
                    jwt,
                    ext_auth: None,
                    service: rule.service.clone(),
                    request: request.clone(),
                    timeout: rule.timeout,
                },
            ));
        }
    }
    let (rule_sources, rules) = ordered(rules).into_iter().unzip();
    migrated.rule_sources = rule_sources;
    migrated.apirule = Some(v2::ApiRule {
        api_version: Version::V2.api_version().to_owned(),
        kind: apirule::KIND.to_owned(),
        metadata: metadata(value),
        spec: Some(v2::Spec {
            hosts,
            service: spec.service.clone(),
            gateway,
            external_gateway: None,
            cors_policy,
            rules,
            timeout: spec.timeout,
        }),
        status: None,
    });
    migrated
}

/// Why a spec is not APIRule v1beta1: the schema's findings, at the
/// source's fields, or else the model's own word.
fn unreadable(source: &Value, spec_at: &str, error: &str) -> Vec<Finding> {
    let object = serde_json::json!({
        "apiVersion": Version::V1beta1.api_version(),
        "kind": apirule::KIND,
        "spec": source,
    });
    let mut findings: Vec<Finding> = schema::validate(Version::V1beta1, &object)
        .into_iter()
        .filter_map(|mut f| {
            let rest = f.pointer.strip_prefix("/spec")?.to_owned();
            f.pointer = format!("{spec_at}{rest}");
            Some(f)
        })
        .collect();
    if findings.is_empty() {
        findings.push(Finding::new(
            Code::S003,
            spec_at,
            format!("the spec cannot be read as APIRule v1beta1: {error}"),
        ));
    }
    findings
}

/// The source's metadata, less what the apiserver and kubectl own.
fn metadata(value: &Value) -> Metadata {
    let mut metadata = value.get("metadata").cloned().unwrap_or_default();
    if let Some(m) = metadata.as_object_mut() {
        for k in SERVER_METADATA {
            m.remove(k);
        }
        if let Some(a) = m.get_mut("annotations").and_then(Value::as_object_mut) {
            for k in MANAGED_ANNOTATIONS {
                a.remove(k);
            }
        }
        if m.get("annotations")
            .and_then(Value::as_object)
            .is_some_and(serde_json::Map::is_empty)
        {
            m.remove("annotations");
        }
    }
    // Metadata the model cannot type (a label that is not a string) is
    // carried over as it is.
    Metadata::deserialize(&metadata).unwrap_or_else(|_| Metadata {
        other: metadata.as_object().cloned().unwrap_or_default(),
        ..Metadata::default()
    })
}

/// The v1beta1 CORS policy as v2's: `maxAge` a duration there, seconds here.
fn cors(source: &Value, spec_at: &str, findings: &mut Vec<Finding>) -> Option<v2::CorsPolicy> {
    let mut cors = source.as_object()?.clone();
    if let Some(age) = cors.get("maxAge").cloned() {
        match duration_seconds(&age) {
            Some(s) => {
                cors.insert("maxAge".into(), Value::from(s));
            }
            None => {
                cors.remove("maxAge");
                findings.push(Finding::new(
                    Code::M005,
                    format!("{spec_at}/corsPolicy/maxAge"),
                    format!("corsPolicy.maxAge {age} is not a duration; it was left out"),
                ));
            }
        }
    }
    match v2::CorsPolicy::deserialize(&Value::Object(cors)) {
        Ok(c) => Some(c),
        Err(e) => {
            findings.push(Finding::new(
                Code::M005,
                format!("{spec_at}/corsPolicy"),
                format!("corsPolicy has no v2 form ({e}); it was left out"),
            ));
            None
        }
    }
}

impl Migrated {
    /// The pointer into the source object that a finding on the v2 object
    /// (at `pointer`) goes back to: `/spec/hosts/0` is the v1beta1 `host`,
    /// a v2 rule is the v1beta1 rule it came from, its `jwt` or `noAuth`
    /// that rule's `accessStrategies`.
    pub fn source_pointer(&self, pointer: &str) -> String {
        let Some(rest) = pointer.strip_prefix("/spec") else {
            return pointer.to_owned();
        };
        let spec_at = self.spec_at;
        let mut parts = rest.split('/').skip(1);
        match parts.next() {
            None => spec_at.to_owned(),
            Some("hosts") => format!("{spec_at}/host"),
            Some("rules") => {
                let Some(index) = parts.next() else {
                    return format!("{spec_at}/rules");
                };
                let Some(source) = index
                    .parse::<usize>()
                    .ok()
                    .and_then(|i| self.rule_sources.get(i))
                else {
                    return format!("{spec_at}/rules");
                };
                let at = format!("{spec_at}/rules/{source}");
                match parts.next() {
                    None => at,
                    Some("jwt" | "noAuth" | "extAuth") => format!("{at}/accessStrategies"),
                    Some("request") => format!("{at}/mutators"),
                    Some(field) => format!("{at}/{field}"),
                }
            }
            Some(field) => format!("{spec_at}/{field}"),
        }
    }
}

/// Most specific path first, as `render` orders routes; each rule keeps
/// the index of its source rule.
fn ordered(rules: Vec<(usize, v2::Rule)>) -> Vec<(usize, v2::Rule)> {
    let routes: Vec<crate::spec::Route> = rules
        .iter()
        .map(|(_, r)| crate::spec::Route {
            path: r.path.clone(),
            methods: Vec::new(),
            public: None,
            jwt: None,
            ext_auth: None,
            service: None,
            timeout: None,
            request: None,
        })
        .collect();
    crate::compile::order(&routes)
        .into_iter()
        .map(|i| rules[i].clone())
        .collect()
}

/// The `header` and `cookie` mutators as v2's `request`.
fn request(rule: &v1beta1::Rule, at: &str, findings: &mut Vec<Finding>) -> Option<v2::Request> {
    let mutators = rule.mutators.as_ref()?;
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    let mut cookies: BTreeMap<String, String> = BTreeMap::new();
    for (k, m) in mutators.iter().enumerate() {
        let config = m
            .config
            .as_ref()
            .map(v2::Request::deserialize)
            .and_then(Result::ok)
            .unwrap_or_default();
        match m.handler.as_str() {
            "header" => headers.extend(config.headers.unwrap_or_default()),
            "cookie" => cookies.extend(config.cookies.unwrap_or_default()),
            other => {
                findings.push(Finding::new(
                    Code::M005,
                    format!("{at}/mutators/{k}/handler"),
                    format!("mutator \"{other}\" has no APIRule v2 equivalent and was left out; only header and cookie mutators map to request.headers and request.cookies"),
                ));
            }
        }
    }
    let request = v2::Request {
        cookies: (!cookies.is_empty()).then_some(cookies),
        headers: (!headers.is_empty()).then_some(headers),
    };
    (request != v2::Request::default()).then_some(request)
}
