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
            let uri = d.file.trim_start_matches("./");
            // SARIF `fixes`: the replacement `check --fix` would make.
            let fixes: Vec<Value> = d
                .fix
                .iter()
                .map(|f| {
                    json!({
                        "description": {"text": format!("{} ({})", f.title, match f.safety {
                            crate::patch::Safety::Safe => "safe",
                            crate::patch::Safety::Unsafe => "unsafe",
                        })},
                        "artifactChanges": [{
                            "artifactLocation": {"uri": uri},
                            "replacements": [{
                                "deletedRegion": {
                                    "startLine": f.start.line, "startColumn": f.start.column,
                                    "endLine": f.end.line, "endColumn": f.end.column,
                                },
                                "insertedContent": {"text": f.insert},
                            }],
                        }],
                    })
                })
                .collect();
            json!({
                "fixes": fixes,
                "ruleId": d.code,
                "ruleIndex": index,
                "level": match d.severity { Severity::Error => "error", Severity::Warning => "warning" },
                "message": {"text": d.message},
                "properties": {"help": d.help},
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": {"uri": uri},
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
