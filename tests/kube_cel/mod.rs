//! A CEL interpreter (the `cel` crate) with the Kubernetes libraries the
//! admission policy export uses, implemented to the API server's semantics:
//!
//! - the URL library: `isURL` and `url` call Go's `url.ParseRequestURI`
//!   (kexpose's port of it, held to Go's own answers by `tests/uri.rs`),
//!   so `/x` and the opaque `https:idp.example.com` are URLs; `getScheme`,
//!   `getHost`, `getHostname` as Go's `URL.Scheme`, `URL.Host` and
//!   `URL.Hostname()`;
//! - the strings library functions as cel-go's `ext.Strings`: `lowerAscii`,
//!   `upperAscii`, `trim`, `replace`, `split`, `substring`, `join`;
//! - the Kubernetes list library's `indexOf` and `lastIndexOf`;
//! - the `JSONPatch` type of MutatingAdmissionPolicy mutations.
//!
//! Only what the export uses is here; a function it starts to use that is
//! missing fails evaluation, and with it the tests.
//!
//! This interpreter evaluates; it does not compile as the API server does
//! (it has no type checker, and accepts reserved words and mixed literals).
//! `check.py` beside it compiles every exported expression with Google's
//! CEL checker in Kubernetes' environment (`tests/policy_export_compiles.rs`).

#![allow(dead_code)]

pub mod cost;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use cel::common::types;
use cel::extractors::{Arguments, This};
use cel::objects::Key;
use cel::{Context, Env, ExecutionError, Program, StructDef, Value};
use kexpose::check::uri::parse_request_uri;

pub struct Cel {
    env: Arc<Env>,
}

impl Default for Cel {
    fn default() -> Self {
        Cel::new()
    }
}

fn string(s: impl Into<String>) -> Value {
    Value::String(Arc::new(s.into()))
}

fn field(map: &Value, key: &str) -> Result<Value, ExecutionError> {
    match map {
        Value::Map(m) => m
            .map
            .get(&Key::String(Arc::new(key.to_owned())))
            .cloned()
            .ok_or_else(|| ExecutionError::function_error(key, "not a URL")),
        _ => Err(ExecutionError::function_error(key, "not a URL")),
    }
}

/// Go's `URL.Hostname()`: the host without its port or IPv6 brackets.
pub fn hostname(host: &str) -> &str {
    let mut name = host;
    if let Some(colon) = host.rfind(':') {
        let port = &host[colon + 1..];
        if port.bytes().all(|b| b.is_ascii_digit()) {
            name = &host[..colon];
        }
    }
    name.strip_prefix('[')
        .and_then(|n| n.strip_suffix(']'))
        .unwrap_or(name)
}

/// The URL value `url()` returns.
fn url(s: &str) -> Result<Value, ExecutionError> {
    let u =
        parse_request_uri(s).map_err(|e| ExecutionError::function_error("url", e.to_string()))?;
    let host = u.host.unwrap_or_default();
    let mut m = HashMap::new();
    m.insert("scheme".to_owned(), string(u.scheme.clone()));
    m.insert("host".to_owned(), string(host));
    m.insert("hostname".to_owned(), string(hostname(host)));
    Ok(Value::from(m))
}

fn position(list: &[Value], item: &Value, last: bool) -> i64 {
    let found = if last {
        list.iter().rposition(|x| x == item)
    } else {
        list.iter().position(|x| x == item)
    };
    found.map_or(-1, |i| i as i64)
}

fn text(v: &Value, function: &str) -> Result<Arc<String>, ExecutionError> {
    match v {
        Value::String(s) => Ok(s.clone()),
        _ => Err(ExecutionError::function_error(function, "expects a string")),
    }
}

impl Cel {
    pub fn new() -> Cel {
        let mut env = Env::stdlib();
        env.add_type(
            StructDef::new("JSONPatch".into())
                .add_field("op".into(), types::STRING_TYPE)
                .add_field("path".into(), types::STRING_TYPE)
                .add_field_with_default("value".into(), Box::new(cel::common::types::CelNull)),
        )
        .expect("JSONPatch registers");
        Cel { env: Arc::new(env) }
    }

    pub fn compile(&self, source: &str) -> Result<Program, String> {
        self.env
            .compile(source)
            .map_err(|e| format!("{source}: {e:?}"))
    }

    /// A context with the Kubernetes functions and the given variables.
    pub fn context(&self, vars: &[(&str, Value)]) -> Context<'_, '_> {
        let mut ctx = Context::with_env(self.env.clone());
        let add = |r: Result<(), cel::DeclarationError>| r.expect("no clash with the stdlib");
        add(ctx.add_function("isURL", |s: Arc<String>| parse_request_uri(&s).is_ok()));
        add(ctx.add_function("url", |s: Arc<String>| url(&s)));
        add(ctx.add_function("getScheme", |This(u): This<Value>| field(&u, "scheme")));
        add(ctx.add_function("getHost", |This(u): This<Value>| field(&u, "host")));
        add(ctx.add_function("getHostname", |This(u): This<Value>| field(&u, "hostname")));
        add(
            ctx.add_function("lowerAscii", |This(s): This<Arc<String>>| {
                s.to_ascii_lowercase()
            }),
        );
        add(
            ctx.add_function("upperAscii", |This(s): This<Arc<String>>| {
                s.to_ascii_uppercase()
            }),
        );
        add(ctx.add_function("trim", |This(s): This<Arc<String>>| s.trim().to_owned()));
        add(ctx.add_function(
            "replace",
            |This(s): This<Arc<String>>, from: Arc<String>, to: Arc<String>| {
                s.replace(from.as_str(), &to)
            },
        ));
        add(ctx.add_function(
            "split",
            |This(s): This<Arc<String>>,
             Arguments(args): Arguments|
             -> Result<Value, ExecutionError> {
                let sep = text(args.first().unwrap_or(&Value::Null), "split")?;
                let parts: Vec<Value> = match args.get(1) {
                    None => s.split(sep.as_str()).map(string).collect(),
                    Some(Value::Int(n)) if *n > 0 => {
                        s.splitn(*n as usize, sep.as_str()).map(string).collect()
                    }
                    Some(_) => {
                        return Err(ExecutionError::function_error("split", "unsupported count"));
                    }
                };
                Ok(Value::List(Arc::new(parts)))
            },
        ));
        add(ctx.add_function(
            "substring",
            |This(s): This<Arc<String>>, start: i64| -> Result<Value, ExecutionError> {
                let chars: Vec<char> = s.chars().collect();
                if start < 0 || start as usize > chars.len() {
                    return Err(ExecutionError::function_error(
                        "substring",
                        "index out of range",
                    ));
                }
                Ok(string(chars[start as usize..].iter().collect::<String>()))
            },
        ));
        add(ctx.add_function(
            "join",
            |This(list): This<Arc<Vec<Value>>>,
             sep: Arc<String>|
             -> Result<Value, ExecutionError> {
                let parts = list
                    .iter()
                    .map(|v| text(v, "join").map(|s| s.to_string()))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(string(parts.join(&sep)))
            },
        ));
        add(ctx.add_function(
            "indexOf",
            |This(list): This<Arc<Vec<Value>>>, item: Value| position(&list, &item, false),
        ));
        add(ctx.add_function(
            "lastIndexOf",
            |This(list): This<Arc<Vec<Value>>>, item: Value| position(&list, &item, true),
        ));
        for (name, value) in vars {
            ctx.add_variable_from_value(*name, value.clone());
        }
        ctx
    }
}

/// A JSON value as the API server hands it to CEL: integers as `int`.
pub fn value(json: &serde_json::Value) -> Value {
    match json {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        serde_json::Value::String(s) => string(s.as_str()),
        serde_json::Value::Array(a) => Value::List(Arc::new(a.iter().map(value).collect())),
        serde_json::Value::Object(o) => {
            let m: HashMap<String, Value> = o.iter().map(|(k, v)| (k.clone(), value(v))).collect();
            Value::from(m)
        }
    }
}

/// A CEL value back as JSON (for JSONPatch values and results).
pub fn json(v: &Value) -> serde_json::Value {
    match v {
        Value::Null => serde_json::Value::Null,
        Value::Bool(b) => (*b).into(),
        Value::Int(i) => (*i).into(),
        Value::UInt(u) => (*u).into(),
        Value::Float(f) => serde_json::json!(f),
        Value::String(s) => s.as_str().into(),
        Value::List(l) => l.iter().map(json).collect(),
        Value::Map(m) => {
            let mut o = serde_json::Map::new();
            for (k, v) in m.map.iter() {
                if let Key::String(k) = k {
                    o.insert(k.to_string(), json(v));
                }
            }
            serde_json::Value::Object(o)
        }
        Value::Struct(st) => {
            let mut o = serde_json::Map::new();
            for (k, v) in st.field_values() {
                let v = Value::try_from(v.as_ref()).unwrap_or(Value::Null);
                o.insert(k, json(&v));
            }
            serde_json::Value::Object(o)
        }
        other => serde_json::Value::String(format!("{other:?}")),
    }
}

/// The admission request the API server would send for `object`.
pub fn request(object: &serde_json::Value) -> serde_json::Value {
    let api_version = object["apiVersion"].as_str().unwrap_or_default();
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    serde_json::json!({
        "operation": "CREATE",
        "namespace": object["metadata"]["namespace"].as_str().unwrap_or_default(),
        "kind": {"group": group, "version": version, "kind": "APIRule"},
    })
}

/// A ValidatingAdmissionPolicy's CEL, compiled once.
pub struct Compiled {
    conditions: Vec<Program>,
    variables: Vec<(String, Program)>,
    /// Each validation's expression and message expression.
    validations: Vec<(Program, Program)>,
}

impl Compiled {
    pub fn new(cel: &Cel, vap: &serde_json::Value) -> Result<Compiled, String> {
        let spec = &vap["spec"];
        let list = |key: &str| spec[key].as_array().cloned().unwrap_or_default();
        let text =
            |v: &serde_json::Value, key: &str| cel.compile(v[key].as_str().unwrap_or_default());
        Ok(Compiled {
            conditions: list("matchConditions")
                .iter()
                .map(|c| text(c, "expression"))
                .collect::<Result<_, _>>()?,
            variables: list("variables")
                .iter()
                .map(|v| {
                    Ok((
                        v["name"].as_str().unwrap_or_default().to_owned(),
                        text(v, "expression")?,
                    ))
                })
                .collect::<Result<_, String>>()?,
            validations: list("validations")
                .iter()
                .map(|v| Ok((text(v, "expression")?, text(v, "messageExpression")?)))
                .collect::<Result<_, String>>()?,
        })
    }

    /// `None` when the match conditions leave the object out, else the
    /// failed validations as code -> message.
    pub fn evaluate(
        &self,
        cel: &Cel,
        object: &serde_json::Value,
        params: &serde_json::Value,
    ) -> Result<Option<BTreeMap<String, String>>, String> {
        let base = bindings(object, params);
        let ctx = cel.context(&base);
        for condition in &self.conditions {
            if condition.execute(&ctx) != Ok(cel::Value::Bool(true)) {
                return Ok(None);
            }
        }
        let ctx = self.with_variables(cel, &base, |_, _| {});
        let mut failed = BTreeMap::new();
        for (expression, message) in &self.validations {
            let verdict = expression.execute(&ctx).map_err(|e| format!("{e:?}"))?;
            if verdict == cel::Value::Bool(true) {
                continue;
            }
            let text = match message.execute(&ctx) {
                Ok(cel::Value::String(s)) => s.to_string(),
                other => return Err(format!("{other:?} from a message expression")),
            };
            let code = text
                .rsplit_once(" [")
                .and_then(|(_, tail)| tail.split(' ').next())
                .unwrap_or_default()
                .to_owned();
            failed.insert(code, text);
        }
        Ok(Some(failed))
    }
}

/// The variables the API server binds for an admission request.
fn bindings(
    object: &serde_json::Value,
    params: &serde_json::Value,
) -> [(&'static str, cel::Value); 3] {
    [
        ("object", value(object)),
        ("params", value(params)),
        ("request", value(&request(object))),
    ]
}

impl Compiled {
    /// A context with `base` and the policy's variables, evaluated in
    /// order, each seeing the ones before; `each` sees every variable's
    /// program in the context it is evaluated in. One that fails to
    /// evaluate is left out, so only an expression that reads it fails
    /// (the API server evaluates variables lazily).
    fn with_variables<'c>(
        &self,
        cel: &'c Cel,
        base: &[(&str, cel::Value)],
        mut each: impl FnMut(&Program, &Context),
    ) -> Context<'c, 'c> {
        let mut variables: HashMap<String, cel::Value> = HashMap::new();
        for (name, program) in &self.variables {
            let mut ctx = cel.context(base);
            ctx.add_variable_from_value("variables", cel::Value::from(variables.clone()));
            each(program, &ctx);
            if let Ok(v) = program.execute(&ctx) {
                variables.insert(name.clone(), v);
            }
        }
        let mut ctx = cel.context(base);
        ctx.add_variable_from_value("variables", cel::Value::from(variables));
        ctx
    }

    /// The runtime cost (see [`cost`]) of judging `object`: the costliest
    /// single expression (a variable, a validation or its message), and
    /// the total for the policy.
    pub fn cost(
        &self,
        cel: &Cel,
        object: &serde_json::Value,
        params: &serde_json::Value,
    ) -> (u64, u64) {
        let base = bindings(object, params);
        let (mut max, mut total) = (0, 0);
        let mut charge = |c: u64| {
            max = max.max(c);
            total += c;
        };
        let ctx = cel.context(&base);
        for condition in &self.conditions {
            charge(cost::cost(condition.expression(), &ctx));
        }
        let ctx = self.with_variables(cel, &base, |program, ctx| {
            charge(cost::cost(program.expression(), ctx))
        });
        for (expression, message) in &self.validations {
            charge(cost::cost(expression.expression(), &ctx));
            if expression.execute(&ctx) != Ok(cel::Value::Bool(true)) {
                charge(cost::cost(message.expression(), &ctx));
            }
        }
        (max, total)
    }
}
