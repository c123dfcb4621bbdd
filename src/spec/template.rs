//! Spec files are minijinja templates, rendered before they are parsed.
//!
//! The context has two names: `values` (the `--values` files, merged, later
//! files winning) and `env` (the process environment). Undefined names are
//! errors, never empty strings: an empty host or issuer would render into an
//! APIRule that looks fine and routes nowhere.

use std::collections::BTreeMap;

use minijinja::value::Serde;
use minijinja::{Environment, UndefinedBehavior};
use serde_json::Value;

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
    pub env: BTreeMap<String, String>,
}

impl Context {
    /// The process environment (UTF-8 entries only) and no values.
    pub fn from_process() -> Context {
        Context {
            values: Value::Object(Default::default()),
            env: std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
        }
    }

    /// The process environment and the values files, merged in order.
    /// Errors name the file, line and column.
    pub fn with_values(files: &[std::path::PathBuf]) -> Result<Context, String> {
        let mut ctx = Context::from_process();
        for path in files {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read values file {}: {e}", path.display()))?;
            for doc in crate::yaml::load(&text, crate::yaml::Limits::default()).documents {
                let at = |p: crate::diagnostic::Position| {
                    format!("{}:{}:{}", path.display(), p.line, p.column)
                };
                match doc {
                    Ok(d) if d.empty => {}
                    Ok(d) if d.value.is_object() => ctx.merge_values(d.value),
                    Ok(d) => {
                        return Err(format!(
                            "{}: a values file must hold a mapping",
                            at(d.start)
                        ));
                    }
                    Err(e) => return Err(format!("{}: {}", at(e.position), e.message)),
                }
            }
        }
        Ok(ctx)
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
            message: message(&e),
            position: position(source, &e),
        }),
    }
}

fn message(e: &minijinja::Error) -> String {
    let kind = e.kind().to_string();
    match e.detail() {
        Some(d) => format!("template error: {kind}: {d}"),
        None => format!("template error: {kind}"),
    }
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
        assert!(e.message.contains("undefined"), "{}", e.message);
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
    fn later_values_win_and_maps_merge() {
        let mut c = Context::default();
        c.merge_values(json!({"a": {"x": 1, "y": 2}, "b": [1]}));
        c.merge_values(json!({"a": {"y": 3}, "b": [2]}));
        assert_eq!(c.values, json!({"a": {"x": 1, "y": 3}, "b": [2]}));
    }
}
