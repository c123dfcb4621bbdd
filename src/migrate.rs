//! APIRule v1beta1 -> v2, naming every decision.
//!
//! Upstream's conversion drops all rules of an APIRule it cannot convert in
//! full, silently. Here every rule is mapped on its own; what has no exact
//! v2 form is reported with the reason and a suggestion (M rules), and the
//! result is ordered most specific first so it passes `check`.

use serde_json::{Map, Value, json};

use crate::apirule::{self, Version};
use crate::diagnostic::{Finding, join};

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
    pub apirule: Value,
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
fn gateway(name: &str, namespace: Option<&str>) -> Option<String> {
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
fn duration_seconds(d: &Value) -> Option<u64> {
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

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// What one v1beta1 access strategy list becomes.
enum Access {
    NoAuth,
    Jwt(Value),
}

/// Migrates one object (see `applies`).
pub fn apirule(value: &Value) -> Migrated {
    let mut findings = Vec::new();
    let from_annotation = legacy_spec(value);
    let spec_at = if from_annotation.is_some() {
        "/metadata/annotations/gateway.kyma-project.io~1v1beta1-spec"
    } else {
        "/spec"
    };
    let spec = from_annotation
        .as_ref()
        .or_else(|| value.get("spec"))
        .cloned()
        .unwrap_or(Value::Null);
    let namespace = value.pointer("/metadata/namespace").and_then(Value::as_str);

    let mut metadata = value.get("metadata").cloned().unwrap_or_else(|| json!({}));
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
            .is_some_and(Map::is_empty)
        {
            m.remove("annotations");
        }
    }

    let mut out = Map::new();
    if let Some(host) = spec.get("host") {
        // Hosts are case-insensitive, and v2 accepts lowercase only.
        let lower = host.as_str().map(str::to_ascii_lowercase);
        if let Some(lower) = lower.filter(|l| Some(l.as_str()) != host.as_str()) {
            findings.push(Finding::new(
                "M008",
                format!("{spec_at}/host"),
                format!("host \"{}\" was lowercased to \"{lower}\"; v2 accepts lowercase hosts only, and DNS names are case-insensitive", host.as_str().unwrap_or_default()),
            ));
            out.insert("hosts".into(), json!([lower]));
        } else {
            out.insert("hosts".into(), json!([host]));
        }
    }
    if let Some(service) = spec.get("service") {
        out.insert("service".into(), service.clone());
    }
    if let Some(g) = spec.get("gateway").and_then(Value::as_str) {
        match gateway(g, namespace) {
            Some(t) => {
                out.insert("gateway".into(), json!(t));
            }
            None => findings.push(Finding::new(
                "M006",
                format!("{spec_at}/gateway"),
                format!("gateway \"{g}\" cannot be translated to namespace/name; set spec.gateway in the v2 APIRule by hand"),
            )),
        }
    }
    if let Some(cors) = spec.get("corsPolicy").and_then(Value::as_object) {
        let mut cors = cors.clone();
        if let Some(age) = cors.get("maxAge").cloned() {
            match duration_seconds(&age) {
                Some(s) => {
                    cors.insert("maxAge".into(), json!(s));
                }
                None => {
                    cors.remove("maxAge");
                    findings.push(Finding::new(
                        "M005",
                        format!("{spec_at}/corsPolicy/maxAge"),
                        format!("corsPolicy.maxAge {age} is not a duration; it was left out"),
                    ));
                }
            }
        }
        out.insert("corsPolicy".into(), Value::Object(cors));
    }
    if let Some(t) = spec.get("timeout") {
        out.insert("timeout".into(), t.clone());
    }

    let mut rules: Vec<(usize, Value)> = Vec::new();
    for (i, rule) in spec
        .get("rules")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let at = format!("{spec_at}/rules/{i}");
        let Some(access) = access(rule, &at, &mut findings) else {
            continue;
        };
        let request = request(rule, &at, &mut findings);
        let source_path = rule.get("path").and_then(Value::as_str).unwrap_or_default();
        let (paths, exact) = path(source_path);
        if !exact {
            findings.push(Finding::new(
                "M003",
                join(&at, "path"),
                format!(
                    "path \"{source_path}\" is a regular expression with no exact v2 template; migrated as {}, which does not match exactly the same requests: review it",
                    paths.join(" and ")
                ),
            ));
        }
        for p in paths {
            let mut r = Map::new();
            r.insert("path".into(), json!(p));
            r.insert(
                "methods".into(),
                rule.get("methods").cloned().unwrap_or(json!([])),
            );
            match &access {
                Access::NoAuth => r.insert("noAuth".into(), json!(true)),
                Access::Jwt(j) => r.insert("jwt".into(), j.clone()),
            };
            for k in ["service", "timeout"] {
                if let Some(v) = rule.get(k) {
                    r.insert(k.into(), v.clone());
                }
            }
            if let Some(req) = &request {
                r.insert("request".into(), req.clone());
            }
            rules.push((i, Value::Object(r)));
        }
    }
    let (rule_sources, rules): (Vec<usize>, Vec<Value>) = ordered(rules).into_iter().unzip();
    out.insert("rules".into(), Value::Array(rules));
    Migrated {
        apirule: json!({
            "apiVersion": Version::V2.api_version(),
            "kind": apirule::KIND,
            "metadata": metadata,
            "spec": out,
        }),
        findings,
        spec_at,
        rule_sources,
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
fn ordered(rules: Vec<(usize, Value)>) -> Vec<(usize, Value)> {
    let routes: Vec<crate::spec::Route> = rules
        .iter()
        .map(|(_, r)| crate::spec::Route {
            path: r["path"].as_str().unwrap_or_default().to_owned(),
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

fn access(rule: &Value, at: &str, findings: &mut Vec<Finding>) -> Option<Access> {
    let strategies = rule
        .get("accessStrategies")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut result: Option<Access> = None;
    let mut authentications = Vec::new();
    let mut authorizations = Vec::new();
    for (k, s) in strategies.iter().enumerate() {
        let sat = format!("{at}/accessStrategies/{k}");
        let handler = s.get("handler").and_then(Value::as_str).unwrap_or_default();
        match handler {
            "no_auth" | "allow" | "noop" => {
                if handler != "no_auth" {
                    findings.push(Finding::new(
                        "M004",
                        join(&sat, "handler"),
                        format!("{handler} became noAuth: true; {handler} let requests through Oathkeeper untouched, noAuth exposes the route to anyone without a token check: make sure that is meant"),
                    ));
                }
                if matches!(result, Some(Access::Jwt(_))) || !authentications.is_empty() {
                    return mixed(findings, at);
                }
                result = Some(Access::NoAuth);
            }
            "jwt" => {
                if matches!(result, Some(Access::NoAuth)) {
                    return mixed(findings, at);
                }
                let config = s.get("config").cloned().unwrap_or(Value::Null);
                if config.get("authentications").is_some() || config.get("authorizations").is_some()
                {
                    authentications.extend(
                        config
                            .get("authentications")
                            .and_then(Value::as_array)
                            .cloned()
                            .unwrap_or_default(),
                    );
                    authorizations.extend(
                        config
                            .get("authorizations")
                            .and_then(Value::as_array)
                            .cloned()
                            .unwrap_or_default(),
                    );
                } else {
                    let issuers = strings(config.get("trusted_issuers"));
                    let jwks = strings(config.get("jwks_urls"));
                    if issuers.len() != 1 || jwks.len() != 1 {
                        let (reason, suggestion) = match (issuers.len(), jwks.len()) {
                            (0, 0) => (
                                "has neither trusted_issuers nor jwks_urls".to_owned(),
                                "add the issuer and its jwksUri".to_owned(),
                            ),
                            (0, _) => (
                                format!(
                                    "names {} jwks_urls but no trusted_issuers; v2 needs the issuer of each key set",
                                    jwks.len()
                                ),
                                format!(
                                    "add the issuer: the `issuer` of the provider's /.well-known/openid-configuration that serves {}",
                                    jwks[0]
                                ),
                            ),
                            (_, 0) => (
                                "names trusted_issuers but no jwks_urls".to_owned(),
                                "add the jwks_uri of each issuer's discovery document".to_owned(),
                            ),
                            (i, j) => (
                                format!(
                                    "names {i} trusted_issuers and {j} jwks_urls, which cannot be paired reliably"
                                ),
                                "write one jwt authentication per issuer with its own jwksUri"
                                    .to_owned(),
                            ),
                        };
                        findings.push(Finding::new(
                            "M002",
                            join(&sat, "config"),
                            format!("jwt config {reason}; {suggestion}"),
                        ));
                        return None;
                    }
                    authentications.push(json!({"issuer": issuers[0], "jwksUri": jwks[0]}));
                    let scopes = strings(config.get("required_scope"));
                    let audiences = strings(config.get("target_audience"));
                    if !scopes.is_empty() || !audiences.is_empty() {
                        let mut a = Map::new();
                        if !scopes.is_empty() {
                            a.insert("requiredScopes".into(), json!(scopes));
                        }
                        if !audiences.is_empty() {
                            a.insert("audiences".into(), json!(audiences));
                        }
                        authorizations.push(Value::Object(a));
                    }
                }
                result = Some(Access::Jwt(Value::Null));
            }
            other => {
                let suggestion = match other {
                    "unauthorized" => "remove the rule: v2 rejects requests no rule matches",
                    "oauth2_introspection" | "oauth2_client_credentials" | "cookie_session" => {
                        "use extAuth with an authorization provider (for example oauth2-proxy) registered in Istio"
                    }
                    _ => "use jwt, noAuth or extAuth",
                };
                findings.push(Finding::new(
                    "M001",
                    join(&sat, "handler"),
                    format!("access strategy \"{other}\" has no APIRule v2 equivalent; this rule was not migrated; {suggestion}"),
                ));
                return None;
            }
        }
    }
    match result {
        Some(Access::Jwt(_)) => {
            let mut jwt = Map::new();
            jwt.insert("authentications".into(), Value::Array(authentications));
            if !authorizations.is_empty() {
                jwt.insert("authorizations".into(), Value::Array(authorizations));
            }
            Some(Access::Jwt(Value::Object(jwt)))
        }
        Some(Access::NoAuth) => Some(Access::NoAuth),
        None => {
            findings.push(Finding::new(
                "M001",
                join(at, "accessStrategies"),
                "rule has no access strategy; this rule was not migrated; give it jwt, noAuth or extAuth",
            ));
            None
        }
    }
}

fn mixed(findings: &mut Vec<Finding>, at: &str) -> Option<Access> {
    findings.push(Finding::new(
        "M007",
        join(at, "accessStrategies"),
        "rule combines noAuth-like and jwt access strategies, which v2 cannot express in one rule; this rule was not migrated; split it by path or method",
    ));
    None
}

fn request(rule: &Value, at: &str, findings: &mut Vec<Finding>) -> Option<Value> {
    let mutators = rule.get("mutators").and_then(Value::as_array)?;
    let mut out = Map::new();
    for (k, m) in mutators.iter().enumerate() {
        let handler = m.get("handler").and_then(Value::as_str).unwrap_or_default();
        let (key, field) = match handler {
            "header" => ("headers", "headers"),
            "cookie" => ("cookies", "cookies"),
            other => {
                findings.push(Finding::new(
                    "M005",
                    format!("{at}/mutators/{k}/handler"),
                    format!("mutator \"{other}\" has no APIRule v2 equivalent and was left out; only header and cookie mutators map to request.headers and request.cookies"),
                ));
                continue;
            }
        };
        if let Some(values) = m
            .pointer(&format!("/config/{field}"))
            .and_then(Value::as_object)
        {
            let entry = out.entry(key).or_insert_with(|| json!({}));
            if let Some(e) = entry.as_object_mut() {
                e.extend(values.clone());
            }
        }
    }
    (!out.is_empty()).then_some(Value::Object(out))
}

/// One file's documents as text, each with the line it starts on, split at
/// `---` lines: `--write` replaces migrated documents and keeps every other
/// byte as it was.
pub fn chunks(text: &str) -> Vec<(u32, String)> {
    let mut out: Vec<(u32, String)> = vec![(1, String::new())];
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let bare = line.trim_end_matches(['\n', '\r']);
        if bare == "---" || bare.starts_with("--- ") {
            out.push((i as u32 + 1, String::new()));
        }
        out.last_mut().expect("never empty").1.push_str(line);
    }
    out
}

/// What migrating one file produced.
pub struct FileMigration {
    /// The migrated APIRules as YAML documents, in file order: only those
    /// that pass `check` (complete ones, and with `allow_partial` the
    /// partial ones marked as such).
    pub documents: Vec<String>,
    /// The file with those documents replaced and all else kept.
    pub rewritten: String,
    /// One line per APIRule that was withheld, saying why.
    pub withheld: Vec<String>,
    pub report: crate::report::FileReport,
}

/// The annotation a partially migrated APIRule carries.
pub const PARTIAL_ANNOTATION: &str = "kexpose.dev/migration";

/// Migrates every document of one file that `applies`.
///
/// What is printed must pass `check` under the default policy, so that
/// `kexpose migrate f.yaml | kubectl apply -f -` never applies a broken
/// object. A document with anything not migrated (an error) is withheld,
/// unless `allow_partial`: then it is printed with the annotation
/// `kexpose.dev/migration: partial` and a comment listing what was left,
/// provided the partial object still passes `check`.
pub fn file(name: &str, text: &str, allow_partial: bool) -> FileMigration {
    use crate::diagnostic::{Position, Severity};
    use crate::policy::Policy;
    use crate::report::FileReport;
    use crate::yaml::{self, Limits, emit};

    let policy = Policy::default();
    let mut report = FileReport {
        name: name.to_owned(),
        ..FileReport::default()
    };
    report.summary.files = 1;
    let mut documents = Vec::new();
    let mut withheld = Vec::new();
    let mut rewritten = String::new();
    for (start, chunk) in chunks(text) {
        let stream = yaml::load(&chunk, Limits::default());
        let doc = match stream.documents.as_slice() {
            [Ok(doc)] if applies(&doc.value) => doc.clone(),
            _ => {
                rewritten.push_str(&chunk);
                continue;
            }
        };
        report.summary.documents += 1;
        report.summary.apirules += 1;
        // The closest line the source has for a pointer: the field itself,
        // else its nearest parent that is written out.
        let at = |pointer: &str| {
            let mut p = pointer;
            let found = loop {
                if let Some(found) = doc.spans.locate(p, false) {
                    break found;
                }
                match p.rfind('/') {
                    Some(cut) => p = &p[..cut],
                    None => break doc.start,
                }
            };
            Position {
                line: found.line + start - 1,
                column: found.column,
            }
        };
        let mut migrated = apirule(&doc.value);
        let left: Vec<Finding> = migrated
            .findings
            .iter()
            .filter(|f| policy.severity(f.code) == Some(Severity::Error))
            .cloned()
            .collect();
        for f in std::mem::take(&mut migrated.findings) {
            let position = at(&f.pointer);
            report.push(&policy, name, f, position);
        }
        let rejected = crate::check::object(&migrated.apirule, &policy)
            .into_iter()
            .filter(|f| policy.severity(f.code) == Some(Severity::Error))
            .collect::<Vec<_>>();
        let title = object_name(&migrated.apirule);
        if left.is_empty() {
            // Complete, yet still rejected: say where the source causes it.
            for f in &rejected {
                let source = migrated.source_pointer(&f.pointer);
                let message = format!(
                    "the migrated APIRule is still rejected at {}: {}",
                    crate::diagnostic::field_path(&f.pointer),
                    f.message
                );
                let position = at(&source);
                report.push(
                    &policy,
                    name,
                    Finding {
                        message,
                        pointer: source,
                        ..f.clone()
                    },
                    position,
                );
            }
        }
        let printable = rejected.is_empty() && (left.is_empty() || allow_partial);
        if !printable {
            withheld.push(if !left.is_empty() && !allow_partial {
                format!(
                    "{name}: APIRule {title} was not printed: it could not be migrated whole; fix what is reported above, or pass --allow-partial to print what could be"
                )
            } else if !left.is_empty() {
                let why = rejected
                    .first()
                    .map(|f| {
                        format!(
                            "{}: {}",
                            crate::diagnostic::field_path(&f.pointer),
                            f.message
                        )
                    })
                    .unwrap_or_default();
                format!(
                    "{name}: APIRule {title} was not printed: even in part it would be rejected ({why})"
                )
            } else {
                format!("{name}: APIRule {title} was not printed: it would be rejected")
            });
            rewritten.push_str(&chunk);
            continue;
        }
        let mut yaml = String::new();
        if !left.is_empty() {
            mark_partial(&mut migrated.apirule);
            yaml.push_str("# Partially migrated by kexpose; not migrated:\n");
            for f in &left {
                let field = crate::diagnostic::field_path(&f.pointer);
                yaml.push_str(&format!(
                    "#   {} {field}: {}\n",
                    f.code,
                    f.message.replace('\n', " ")
                ));
            }
        }
        yaml.push_str(&emit::document(&migrated.apirule));
        // Keep the separator line and any comment lines before the object.
        let mut kept = String::new();
        for line in chunk.split_inclusive('\n') {
            let bare = line.trim_start();
            if bare.starts_with("---") || bare.starts_with('#') || bare.trim().is_empty() {
                kept.push_str(line);
            } else {
                break;
            }
        }
        rewritten.push_str(&kept);
        rewritten.push_str(&yaml);
        documents.push(yaml);
    }
    report
        .diagnostics
        .sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    FileMigration {
        documents,
        rewritten,
        withheld,
        report,
    }
}

/// `namespace/name` of an object, for messages.
fn object_name(value: &Value) -> String {
    let meta = &value["metadata"];
    match (meta["namespace"].as_str(), meta["name"].as_str()) {
        (Some(ns), Some(n)) => format!("{ns}/{n}"),
        (None, Some(n)) => n.to_owned(),
        _ => "(unnamed)".to_owned(),
    }
}

fn mark_partial(apirule: &mut Value) {
    if let Some(meta) = apirule["metadata"].as_object_mut() {
        let annotations = meta
            .entry("annotations")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(a) = annotations.as_object_mut() {
            a.insert(PARTIAL_ANNOTATION.into(), json!("partial"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
