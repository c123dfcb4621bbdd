//! `kexpose rules` and `kexpose rule CODE`: the rule registry.

use std::io::{self, Write};

use clap::ValueEnum;

use super::{Fatal, Outcome};
use crate::admission_policy::{Left, coverage};
use crate::rules::{self, RULES};

/// The export column: `policy` when `kexpose policy export` carries the
/// rule, else the key of why not (explained under the list).
fn export_key(code: rules::Code) -> &'static str {
    match coverage(code) {
        Ok(()) => "policy",
        Err(left) => left.key(),
    }
}

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
                    "{}  {:<30} {:<8} {:<13} {}",
                    r.code,
                    r.name,
                    r.severity.as_str(),
                    export_key(r.code),
                    r.summary
                )?;
            }
            writeln!(
                out,
                "\nThe fourth column says whether `kexpose policy export` carries the rule (policy), or why not:"
            )?;
            for left in Left::ALL {
                writeln!(out, "  {:<13} {}", left.key(), left.reason())?;
            }
        }
        ListFormat::Json => {
            let list: Vec<_> = RULES
                .iter()
                .map(|r| {
                    serde_json::json!({
                        "code": r.code, "name": r.name, "severity": r.severity, "summary": r.summary,
                        "policyExport": coverage(r.code).is_ok(),
                        "notExportedBecause": coverage(r.code).err().map(Left::reason),
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
    match coverage(rule.code) {
        Ok(()) => writeln!(
            out,
            "Admission policy: `kexpose policy export` carries it.\n"
        )?,
        Err(left) => writeln!(
            out,
            "Admission policy: not exported, since {}; kexpose check and the webhook enforce it.\n",
            left.reason()
        )?,
    }
    write!(out, "{}", rule.doc)?;
    Ok(Outcome::Clean)
}
