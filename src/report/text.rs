//! Human output: rustc-style frames, or one line per finding.

use std::io::{self, Write};

use crate::diagnostic::{Diagnostic, Severity};

use super::Run;

struct Style {
    on: bool,
}

impl Style {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }
    fn severity(&self, d: &Diagnostic) -> String {
        let head = format!("{}[{}]", d.severity, d.code);
        match d.severity {
            Severity::Error => self.paint("1;31", &head),
            Severity::Warning => self.paint("1;33", &head),
        }
    }
}

/// The width of the caret: a quoted string, a flow item, or the rest of the line.
fn caret_width(rest: &str, in_flow: bool) -> usize {
    let rest = rest.trim_end();
    let width = match rest.chars().next() {
        Some(q @ ('"' | '\'')) => rest[1..].find(q).map_or(rest.len(), |i| i + 2),
        Some('[' | '{') => rest.len(),
        Some(_) if in_flow => rest.find([',', ']', '}']).unwrap_or(rest.len()),
        Some(_) => rest.find(" #").unwrap_or(rest.len()),
        None => 1,
    };
    rest[..width.min(rest.len())].chars().count().clamp(1, 80)
}

pub fn write(run: &Run, color: bool, frames: bool, out: &mut dyn Write) -> io::Result<()> {
    let s = Style { on: color };
    for file in &run.files {
        for d in &file.report.diagnostics {
            if !frames {
                writeln!(
                    out,
                    "{}:{}:{}: {} {} ({})",
                    d.file,
                    d.line,
                    d.column,
                    s.severity(d),
                    d.message,
                    d.name
                )?;
                continue;
            }
            writeln!(out, "{}: {}", s.severity(d), s.paint("1", &d.message))?;
            let number = d.line.to_string();
            let pad = " ".repeat(number.len());
            writeln!(
                out,
                "{pad}{} {}:{}:{}",
                s.paint("1;34", "-->"),
                d.file,
                d.line,
                d.column
            )?;
            if let Some((_, line)) = file.lines.iter().find(|(n, _)| *n == d.line) {
                let bar = s.paint("1;34", "|");
                let skip = (d.column as usize).saturating_sub(1);
                let before: String = line.chars().take(skip).collect();
                let rest: String = line.chars().skip(skip).collect();
                let indent: String = before
                    .chars()
                    .map(|c| if c == '\t' { '\t' } else { ' ' })
                    .collect();
                writeln!(out, "{pad} {bar}")?;
                writeln!(out, "{} {bar} {line}", s.paint("1;34", &number))?;
                let carets = "^".repeat(caret_width(&rest, before.contains(['[', '{'])));
                let mark = match d.severity {
                    Severity::Error => s.paint("1;31", &carets),
                    Severity::Warning => s.paint("1;33", &carets),
                };
                writeln!(out, "{pad} {bar} {indent}{mark} {}", d.name)?;
            }
            if !d.pointer.is_empty() {
                writeln!(out, "{pad} = field: {}", d.field_path())?;
            }
            writeln!(out, "{pad} = {}: {}", s.paint("1", "help"), d.help)?;
            if let Some(fix) = &d.fix {
                let how = match fix.safety {
                    crate::patch::Safety::Safe => "--fix",
                    crate::patch::Safety::Unsafe => "--fix --unsafe-fixes",
                };
                writeln!(
                    out,
                    "{pad} = {}: {} ({how})",
                    s.paint("1", "fix"),
                    fix.title
                )?;
            }
            writeln!(out)?;
        }
    }
    let sum = &run.summary;
    let plural =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let suppressed = if sum.suppressed > 0 {
        format!(", {} suppressed", sum.suppressed)
    } else {
        String::new()
    };
    let verdict = if sum.errors > 0 {
        s.paint("1;31", "failed")
    } else {
        s.paint("1;32", "ok")
    };
    // `kexpose test` counts access cases, not documents.
    if sum.cases > 0 {
        return writeln!(
            out,
            "{verdict}: {} in {}; {} passed, {} failed; {}",
            plural(sum.cases, "access case", "access cases"),
            plural(sum.files, "file", "files"),
            sum.passed,
            sum.cases - sum.passed,
            plural(sum.errors, "error", "errors"),
        );
    }
    writeln!(
        out,
        "{verdict}: {}, {} ({} checked, {} skipped); {}, {}{suppressed}",
        plural(sum.files, "file", "files"),
        plural(sum.documents, "document", "documents"),
        if sum.specs > 0 {
            format!(
                "{} and {}",
                plural(sum.apirules, "APIRule", "APIRules"),
                plural(sum.specs, "spec", "specs")
            )
        } else {
            plural(sum.apirules, "APIRule", "APIRules")
        },
        sum.skipped,
        plural(sum.errors, "error", "errors"),
        plural(sum.warnings, "warning", "warnings"),
    )
}
