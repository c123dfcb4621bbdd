//! The runtime cost the API server limits (1,000,000 per expression), in
//! cel-go's units (`interpreter/runtimecost.go`), for the `cel` crate,
//! which keeps no account of its own: the expression is walked as it is
//! evaluated, sub-expressions evaluated by the interpreter where a value
//! decides what runs next.
//!
//! The units: an identifier or field selection costs 1, a literal 0, a
//! function call 1 plus, for a string function, a tenth of the length of
//! its strings (cel-go's string traversal factor); a list literal 10, a
//! map literal 30, a struct 40; `&&`, `||` and `?:` cost what they
//! evaluate; a comprehension its range and start, then its condition and
//! step once per element it visits, then its result. cel-go charges a few
//! functions more finely (list equality by size, `matches` by pattern and
//! text); the figures are close, not equal.

use cel::common::ast::{EntryExpr, Expr, IdedExpr};
use cel::{Context, Value};

fn eval(expr: &IdedExpr, ctx: &Context) -> Option<Value> {
    Value::resolve(expr, ctx).ok()
}

fn string_len(v: &Option<Value>) -> u64 {
    match v {
        Some(Value::String(s)) => s.chars().count() as u64,
        _ => 0,
    }
}

/// Functions whose cost grows with the strings they read.
const STRING_FUNCTIONS: &[&str] = &[
    "contains",
    "startsWith",
    "endsWith",
    "matches",
    "lowerAscii",
    "upperAscii",
    "trim",
    "replace",
    "split",
    "substring",
    "isURL",
    "url",
    "_+_",
    "_==_",
    "_!=_",
];

/// The cost of evaluating `expr` in `ctx`.
pub fn cost(expr: &IdedExpr, ctx: &Context) -> u64 {
    match &expr.expr {
        Expr::Literal(_) => 0,
        Expr::Ident(_) => 1,
        Expr::Select(s) => cost(&s.operand, ctx) + 1,
        Expr::List(l) => 10 + l.elements.iter().map(|e| cost(e, ctx)).sum::<u64>(),
        Expr::Map(m) => 30 + entries(&m.entries, ctx),
        Expr::Struct(s) => 40 + entries(&s.entries, ctx),
        Expr::Call(call) => {
            let args = &call.args;
            match (call.func_name.as_str(), args.as_slice()) {
                ("_&&_", [l, r]) => {
                    let stop = eval(l, ctx) == Some(Value::Bool(false));
                    cost(l, ctx) + if stop { 0 } else { cost(r, ctx) }
                }
                ("_||_", [l, r]) => {
                    let stop = eval(l, ctx) == Some(Value::Bool(true));
                    cost(l, ctx) + if stop { 0 } else { cost(r, ctx) }
                }
                ("_?_:_", [c, t, f]) => {
                    let branch = if eval(c, ctx) == Some(Value::Bool(true)) {
                        t
                    } else {
                        f
                    };
                    cost(c, ctx) + cost(branch, ctx)
                }
                ("@not_strictly_false", [a]) => cost(a, ctx),
                (name, _) => {
                    let mut total = 1;
                    let mut strings = 0;
                    for e in call.target.iter().map(|t| t.as_ref()).chain(args.iter()) {
                        total += cost(e, ctx);
                        if STRING_FUNCTIONS.contains(&name) {
                            strings += string_len(&eval(e, ctx));
                        }
                    }
                    total + strings.div_ceil(10)
                }
            }
        }
        Expr::Comprehension(c) => {
            let mut total = cost(&c.iter_range, ctx) + cost(&c.accu_init, ctx);
            let items: Vec<Value> = match eval(&c.iter_range, ctx) {
                Some(Value::List(l)) => l.iter().cloned().collect(),
                Some(Value::Map(m)) => m.map.keys().map(|k| Value::from(k.clone())).collect(),
                _ => Vec::new(),
            };
            let mut accu = eval(&c.accu_init, ctx).unwrap_or(Value::Null);
            for item in items {
                let mut inner = ctx.new_inner_scope();
                inner.add_variable_from_value(c.iter_var.clone(), item);
                inner.add_variable_from_value(c.accu_var.clone(), accu.clone());
                total += cost(&c.loop_cond, &inner);
                if eval(&c.loop_cond, &inner) == Some(Value::Bool(false)) {
                    break;
                }
                total += cost(&c.loop_step, &inner);
                accu = eval(&c.loop_step, &inner).unwrap_or(Value::Null);
            }
            let mut inner = ctx.new_inner_scope();
            inner.add_variable_from_value(c.accu_var.clone(), accu);
            total + cost(&c.result, &inner)
        }
        _ => 1,
    }
}

fn entries(entries: &[cel::common::ast::IdedEntryExpr], ctx: &Context) -> u64 {
    entries
        .iter()
        .map(|e| match &e.expr {
            EntryExpr::StructField(f) => cost(&f.value, ctx),
            EntryExpr::MapEntry(m) => cost(&m.key, ctx) + cost(&m.value, ctx),
        })
        .sum()
}
