//! JUnit XML: a test suite per file, a test case per object.

use std::io::{self, Write};

use super::Run;
use super::Status;

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\t' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

pub fn write(run: &Run, out: &mut dyn Write) -> io::Result<()> {
    let count = |s: Status| {
        run.files
            .iter()
            .flat_map(|f| &f.report.documents)
            .filter(|d| d.status == s)
            .count()
    };
    let tests: usize = run.files.iter().map(|f| f.report.documents.len()).sum();
    writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    writeln!(
        out,
        r#"<testsuites name="kexpose" tests="{tests}" failures="{}" errors="{}" skipped="{}">"#,
        count(Status::Invalid),
        count(Status::Error),
        count(Status::Skipped) + count(Status::Empty)
    )?;
    for file in &run.files {
        let r = &file.report;
        let docs = &r.documents;
        let n = |s: Status| docs.iter().filter(|d| d.status == s).count();
        let name = escape(&r.name);
        writeln!(
            out,
            r#"  <testsuite name="{name}" tests="{}" failures="{}" errors="{}" skipped="{}">"#,
            docs.len(),
            n(Status::Invalid),
            n(Status::Error),
            n(Status::Skipped) + n(Status::Empty)
        )?;
        for (i, doc) in docs.iter().enumerate() {
            let end = docs.get(i + 1).map_or(u32::MAX, |d| d.line);
            write!(
                out,
                r#"    <testcase classname="{name}" name="{} (line {})""#,
                escape(&doc.label),
                doc.line
            )?;
            let mine: Vec<_> = r
                .diagnostics
                .iter()
                .filter(|d| d.line >= doc.line && (d.line < end || end <= doc.line))
                .collect();
            match doc.status {
                Status::Valid if mine.is_empty() => writeln!(out, "/>")?,
                Status::Skipped | Status::Empty => {
                    writeln!(out, ">\n      <skipped/>\n    </testcase>")?
                }
                status => {
                    writeln!(out, ">")?;
                    let tag = if status == Status::Error {
                        "error"
                    } else {
                        "failure"
                    };
                    for d in mine {
                        let body = format!(
                            "{}:{}:{}: {}[{}] {}\nhelp: {}",
                            d.file, d.line, d.column, d.severity, d.code, d.message, d.help
                        );
                        if d.severity == crate::diagnostic::Severity::Warning {
                            writeln!(out, "      <system-out>{}</system-out>", escape(&body))?;
                        } else {
                            writeln!(
                                out,
                                r#"      <{tag} type="{}" message="{}">{}</{tag}>"#,
                                d.code,
                                escape(&d.message),
                                escape(&body)
                            )?;
                        }
                    }
                    writeln!(out, "    </testcase>")?;
                }
            }
        }
        writeln!(out, "  </testsuite>")?;
    }
    writeln!(out, "</testsuites>")
}
