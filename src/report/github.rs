//! GitHub Actions workflow commands: annotations on the pull request.

use std::io::{self, Write};

use super::Run;
use crate::diagnostic::Severity;

fn data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn property(s: &str) -> String {
    data(s).replace(':', "%3A").replace(',', "%2C")
}

pub fn write(run: &Run, out: &mut dyn Write) -> io::Result<()> {
    for d in run.diagnostics() {
        let level = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        writeln!(
            out,
            "::{level} file={},line={},col={},title={}::{}",
            property(&d.file),
            d.line,
            d.column,
            property(&format!("{} {}", d.code, d.name)),
            data(&format!("{}\nhelp: {}", d.message, d.help))
        )?;
    }
    Ok(())
}
