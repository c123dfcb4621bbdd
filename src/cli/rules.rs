//! `kexpose rules` and `kexpose rule CODE`: the rule registry.

use std::io::{self, Write};

use clap::ValueEnum;

use super::{Fatal, Outcome};
use crate::rules::{self, RULES};

#[derive(Clone, Copy, ValueEnum)]
pub enum ListFormat {
    Text,
    Json,
}

pub fn list_rules(format: ListFormat, out: &mut dyn Write) -> Result<Outcome, Fatal> {
    match format {
        ListFormat::Text => {
            for r in RULES {
                writeln!(
                    out,
                    "{}  {:<30} {:<8} {}",
                    r.code,
                    r.name,
                    r.severity.as_str(),
                    r.summary
                )?;
            }
        }
        ListFormat::Json => {
            let list: Vec<_> = RULES
                .iter()
                .map(|r| {
                    serde_json::json!({
                        "code": r.code, "name": r.name, "severity": r.severity, "summary": r.summary,
                    })
                })
                .collect();
            serde_json::to_writer_pretty(&mut *out, &list).map_err(io::Error::from)?;
            writeln!(out)?;
        }
    }
    Ok(Outcome::Clean)
}

pub fn show_rule(code: &str, out: &mut dyn Write) -> Result<Outcome, Fatal> {
    let rule = rules::find(code)
        .ok_or_else(|| Fatal::Message(format!("no rule {code}; `kexpose rules` lists them")))?;
    writeln!(out, "# {} {} ({})\n", rule.code, rule.name, rule.severity)?;
    writeln!(out, "{}\n", rule.summary)?;
    write!(out, "{}", rule.doc)?;
    Ok(Outcome::Clean)
}
