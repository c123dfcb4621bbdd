//! The `kexpose` binary: process concerns only.

use std::io::{self, BufWriter, Write};
use std::process::ExitCode;

use clap::Parser;
use kexpose::cli::stream::{self, Quiet};
use kexpose::cli::{self, Cli, Fatal, Outcome};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let stdout = io::stdout();
    // A reader that went away (`kexpose check | head`) drops the rest of
    // the output; the run still ends with its own exit code.
    let mut out = BufWriter::new(Quiet::new(stdout.lock()));
    match cli::run(cli, &mut out) {
        Ok(outcome) => ExitCode::from(outcome as u8),
        Err(e) => {
            drop(out);
            let mut err = stream::stderr();
            let _ = match e {
                Fatal::Io(e) => writeln!(err, "kexpose: {e}"),
                Fatal::Message(m) => writeln!(err, "kexpose: {m}"),
            };
            ExitCode::from(Outcome::Failure as u8)
        }
    }
}

/// Checking is allocation-heavy (one YAML tree per document); mimalloc
/// measured 1.4x the throughput of glibc's allocator on the benchmark.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
