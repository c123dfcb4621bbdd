//! Spec files are minijinja templates, rendered before they are parsed.
//!
//! The context has two names: `values` (the `--values` files, merged, later
//! files winning) and `env`: only the environment variables the caller
//! allowed, never the whole process environment. Whoever can push a spec
//! must not be able to print the secrets of the process that renders it
//! (an Argo CD sidecar holds repository and vault credentials). Undefined
//! names are errors, never empty strings: an empty host or issuer would
//! render into an APIRule that looks fine and routes nowhere.

use std::collections::BTreeMap;

use minijinja::value::Serde;
use minijinja::{Environment, UndefinedBehavior};
use serde_json::Value;

use crate::diagnostic::FileError;
use crate::diagnostic::Position;

/// Instructions a template may execute: generous for any real spec, and a
/// stop for an endless or exponential one.
const FUEL: u64 = 5_000_000;

/// Rendered output larger than this is refused: a template that multiplies
/// strings can allocate far more than the file it came from.
pub const MAX_OUTPUT: usize = 16 * 1024 * 1024;

/// What templates can see.
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub values: Value,
    /// The allowed environment variables only.
    pub env: BTreeMap<String, String>,
    /// Which variables `env` may hold, in words, for the message of an
    /// undefined `env.X` (the refused value itself is never in reach).
    pub env_scope: EnvScope,
}

/// Which environment variables a template may read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvScope {
    /// The names given with `--template-env` (none by default).
    Allowed(Vec<String>),
    /// The Argo CD plugin: the Application's `ARGOCD_APP_*` and the
    /// user-set `ARGOCD_ENV_*`, nothing of the sidecar's own environment.
    ArgoCd,
}

impl Default for EnvScope {
    fn default() -> Self {
        EnvScope::Allowed(Vec::new())
    }
}

impl EnvScope {
    fn describe(&self) -> String {
        match self {
            EnvScope::ArgoCd => {
                "templates run by the Argo CD plugin read only ARGOCD_APP_* and ARGOCD_ENV_* variables"
                    .to_owned()
            }
            EnvScope::Allowed(names) if names.is_empty() => {
                "templates read no environment variable unless it is allowed with --template-env NAME"
                    .to_owned()
            }
            EnvScope::Allowed(names) => format!(
                "templates read only the variables allowed with --template-env ({})",
                names.join(", ")
            ),
        }
    }
}

/// The prefixes of the variables Argo CD sets for a plugin: the
/// Application's metadata and the ones users set in the Application.
pub const ARGOCD_PREFIXES: [&str; 2] = ["ARGOCD_APP_", "ARGOCD_ENV_"];

impl Context {
    /// The named variables of the process environment (UTF-8 values only;
    /// a name that is not set is simply absent) and no values.
    pub fn allowing(names: &[String]) -> Context {
        Context {
            values: Value::Object(Default::default()),
            env: names
                .iter()
                .filter_map(|n| Some((n.clone(), std::env::var(n).ok()?)))
                .collect(),
            env_scope: EnvScope::Allowed(names.to_vec()),
        }
    }

    /// The Argo CD plugin's view of `env`: only the variables Argo CD sets
    /// for the Application.
    pub fn for_argocd(env: &BTreeMap<String, String>) -> Context {
        Context {
            values: Value::Object(Default::default()),
            env: env
                .iter()
                .filter(|(k, _)| ARGOCD_PREFIXES.iter().any(|p| k.starts_with(p)))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            env_scope: EnvScope::ArgoCd,
        }
    }

    /// Merges the values files, in order, over the values so far. Errors
    /// name the file, line and column.
    pub fn with_values(mut self, files: &[std::path::PathBuf]) -> Result<Context, FileError> {
        let ctx = &mut self;
        for path in files {
            let text = std::fs::read_to_string(path).map_err(|source| FileError::Read {
                what: "values file",
                file: path.display().to_string(),
                source,
            })?;
            for doc in crate::yaml::load(&text, crate::yaml::Limits::default()).documents {
                match doc {
                    Ok(d) if d.empty => {}
                    Ok(d) if d.value.is_object() => ctx.merge_values(d.value),
                    Ok(d) => {
                        return Err(FileError::invalid(
                            path.display(),
                            Some(d.start),
                            "a values file must hold a mapping",
                        ));
                    }
                    Err(e) => {
                        return Err(FileError::invalid(
                            path.display(),
                            Some(e.position),
                            e.message,
                        ));
                    }
                }
            }
        }
        Ok(self)
    }

    /// Merges one values document over the ones before it: mappings merge
    /// key by key, anything else is replaced.
    pub fn merge_values(&mut self, more: Value) {
        merge(&mut self.values, more);
    }
}

fn merge(into: &mut Value, more: Value) {
    match (into, more) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                match a.get_mut(&k) {
                    Some(slot) => merge(slot, v),
                    None => {
                        a.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

/// Whether a text uses template syntax at all; plain files skip the engine.
pub fn is_template(text: &str) -> bool {
    text.contains("{{") || text.contains("{%") || text.contains("{#")
}

/// A spec file's text ready to parse: a template is rendered, plain text is
/// borrowed as it is (no copy, no engine).
pub fn render_if_template<'a>(
    name: &str,
    text: &'a str,
    ctx: &Context,
) -> Result<std::borrow::Cow<'a, str>, TemplateError> {
    if is_template(text) {
        render(name, text, ctx).map(std::borrow::Cow::Owned)
    } else {
        Ok(std::borrow::Cow::Borrowed(text))
    }
}

/// Why a template did not render, at the template's line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    pub message: String,
    pub position: Position,
}

pub fn render(name: &str, source: &str, ctx: &Context) -> Result<String, TemplateError> {
    let mut env = Environment::new();
    // minijinja keeps the debug info that names an undefined value only in
    // debug builds unless asked; users run release builds.
    env.set_debug(true);
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(Some(FUEL));
    let syntax = minijinja::syntax::SyntaxConfig::builder()
        .keep_trailing_newline(true)
        .build()
        .expect("default syntax with trailing newlines kept");
    env.set_syntax(syntax);
    let context = minijinja::context! {
        values => Serde(&ctx.values),
        env => Serde(&ctx.env),
    };
    let result = env
        .template_from_named_str(name, source)
        .and_then(|t| t.render(context));
    match result {
        Ok(out) if out.len() > MAX_OUTPUT => Err(TemplateError {
            message: format!("template renders to more than {MAX_OUTPUT} bytes"),
            position: Position { line: 1, column: 1 },
        }),
        Ok(out) => Ok(out),
        Err(e) => Err(TemplateError {
            message: message(&e, source, ctx),
            position: position(source, &e),
        }),
    }
}

fn message(e: &minijinja::Error, source: &str, ctx: &Context) -> String {
    let kind = e.kind().to_string();
    let mut text = match e.detail() {
        Some(d) => format!("template error: {kind}: {d}"),
        None => format!("template error: {kind}"),
    };
    // An undefined `env.X` is most often a variable that is set but not
    // allowed: say which ones are, without ever reading the refused one.
    let expression = e
        .range()
        .and_then(|r| source.get(r))
        .unwrap_or_default()
        .trim();
    if e.kind() == minijinja::ErrorKind::UndefinedError
        && (expression == "env" || expression.starts_with("env.") || expression.starts_with("env["))
    {
        text.push_str("; ");
        text.push_str(&ctx.env_scope.describe());
    }
    text
}

/// The error's position: from its byte range when minijinja knows it,
/// else the start of its line.
fn position(source: &str, e: &minijinja::Error) -> Position {
    if let Some(range) = e.range().filter(|r| r.start <= source.len()) {
        let mut start = range.start;
        while !source.is_char_boundary(start) {
            start -= 1;
        }
        let before = &source[..start];
        let line = before.matches('\n').count() as u32 + 1;
        let col = before.rsplit('\n').next().unwrap_or("").chars().count() as u32 + 1;
        return Position { line, column: col };
    }
    Position {
        line: e.line().unwrap_or(1) as u32,
        column: 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx(values: Value) -> Context {
        Context {
            values,
            env: [("USER_DOMAIN".to_owned(), "example.com".to_owned())].into(),
            env_scope: EnvScope::Allowed(vec!["USER_DOMAIN".to_owned()]),
        }
    }

    #[test]
    fn values_and_environment_are_visible() {
        let out = render(
            "t",
            "host: {{ values.host }}.{{ env.USER_DOMAIN }}\n",
            &ctx(json!({"host": "httpbin"})),
        )
        .unwrap();
        assert_eq!(out, "host: httpbin.example.com\n");
    }

    #[test]
    fn undefined_names_are_errors_at_their_line_and_column() {
        let e = render(
            "t",
            "a: 1\nhost: {{ values.hots }}\n",
            &ctx(json!({"host": "x"})),
        )
        .unwrap_err();
        // The name is kept in every build profile (minijinja drops it
        // outside debug builds unless asked).
        assert_eq!(
            e.message,
            "template error: undefined value: `values.hots` is undefined"
        );
        assert_eq!(e.position.line, 2);
        assert!(e.position.column >= 7, "{:?}", e.position);
    }

    #[test]
    fn syntax_errors_and_endless_loops_are_errors() {
        assert_eq!(
            render("t", "a\n{% if %}\n", &ctx(json!({})))
                .unwrap_err()
                .position
                .line,
            2
        );
        let e = render(
            "t",
            "{% for a in range(100000) %}{% for b in range(100000) %}x{% endfor %}{% endfor %}",
            &ctx(json!({})),
        )
        .unwrap_err();
        assert!(e.message.contains("fuel"), "{}", e.message);
    }

    #[test]
    fn an_undefined_env_variable_is_named_with_what_templates_may_read() {
        let e = render("t", "a: 1\nb: {{ env.VAULT_TOKEN }}\n", &ctx(json!({}))).unwrap_err();
        assert_eq!(
            e.message,
            "template error: undefined value: `env.VAULT_TOKEN` is undefined; templates read only the variables allowed with --template-env (USER_DOMAIN)"
        );
        assert_eq!((e.position.line, e.position.column), (2, 7));
        let argocd = Context::for_argocd(
            &[
                ("ARGOCD_APP_NAME", "httpbin"),
                ("ARGOCD_ENV_DOMAIN", "example.com"),
                ("VAULT_TOKEN", "s3cr3t"),
                ("ARGOCD_APPX", "no"),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .into(),
        );
        assert_eq!(
            argocd.env.keys().collect::<Vec<_>>(),
            ["ARGOCD_APP_NAME", "ARGOCD_ENV_DOMAIN"]
        );
        let e = render("t", "{{ env.VAULT_TOKEN }}", &argocd).unwrap_err();
        assert!(
            e.message
                .ends_with("templates run by the Argo CD plugin read only ARGOCD_APP_* and ARGOCD_ENV_* variables"),
            "{}",
            e.message
        );
        // Iterating the whole map shows only what was allowed.
        let all = render(
            "t",
            "{% for k in env %}{{ k }}={{ env[k] }};{% endfor %}",
            &argocd,
        )
        .unwrap();
        assert_eq!(
            all,
            "ARGOCD_APP_NAME=httpbin;ARGOCD_ENV_DOMAIN=example.com;"
        );
        assert!(!all.contains("s3cr3t"), "{all}");
        let none = Context::allowing(&[]);
        assert!(none.env.is_empty());
        let e = render("t", "{{ env['HOME'] }}", &none).unwrap_err();
        assert!(
            e.message
                .contains("unless it is allowed with --template-env NAME"),
            "{}",
            e.message
        );
    }

    #[test]
    fn later_values_win_and_maps_merge() {
        let mut c = Context::default();
        c.merge_values(json!({"a": {"x": 1, "y": 2}, "b": [1]}));
        c.merge_values(json!({"a": {"y": 3}, "b": [2]}));
        assert_eq!(c.values, json!({"a": {"x": 1, "y": 3}, "b": [2]}));
    }
}
