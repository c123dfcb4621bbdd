//! SARIF 2.1.0 for code scanning: rule metadata from the registry, one result
//! per finding with its region.

use std::io::{self, Write};

use serde_json::{Value, json};

use super::Run;
use crate::diagnostic::Severity;
use crate::rules::RULES;

pub fn write(run: &Run, out: &mut dyn Write) -> io::Result<()> {
    let rules: Vec<Value> = RULES
        .iter()
        .map(|r| {
            json!({
                "id": r.code,
                "name": r.name,
                "shortDescription": {"text": r.summary},
                "help": {"text": r.help, "markdown": r.doc},
                "defaultConfiguration": {"level": r.severity.as_str()},
            })
        })
        .collect();
    let results: Vec<Value> = run
        .diagnostics()
        .map(|d| {
            let index = d.code as usize;
            json!({
                "ruleId": d.code,
                "ruleIndex": index,
                "level": match d.severity { Severity::Error => "error", Severity::Warning => "warning" },
                "message": {"text": d.message},
                "properties": {"help": d.help},
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": {"uri": d.file.trim_start_matches("./")},
                        "region": {"startLine": d.line, "startColumn": d.column},
                    },
                    "logicalLocations": [{"fullyQualifiedName": d.field_path(), "kind": "member"}],
                }],
            })
        })
        .collect();
    let doc = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "kexpose",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://kexpose.dev",
                "rules": rules,
            }},
            "results": results,
        }],
    });
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    writeln!(out)
}
