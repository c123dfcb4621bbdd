//! The process's output streams as commands write them. A reader that went
//! away (`kexpose check | head -1`, `2>&1 | head -1`) ends nothing: what
//! would have gone to it is dropped, and the command finishes with the exit
//! code it would have had, as ripgrep does. Any other write error is still
//! an error.

use std::io::{self, ErrorKind, Write};

/// A writer that, once its reader has gone, accepts and drops everything.
pub struct Quiet<W> {
    inner: W,
    closed: bool,
}

impl<W: Write> Quiet<W> {
    pub fn new(inner: W) -> Self {
        Quiet {
            inner,
            closed: false,
        }
    }

    fn guard<T>(&mut self, result: io::Result<T>, or: T) -> io::Result<T> {
        match result {
            Err(e) if e.kind() == ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(or)
            }
            other => other,
        }
    }
}

impl<W: Write> Write for Quiet<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.closed {
            return Ok(buf.len());
        }
        let result = self.inner.write(buf);
        self.guard(result, buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.closed {
            return Ok(());
        }
        let result = self.inner.flush();
        self.guard(result, ())
    }
}

/// Standard error, for the messages people read.
pub fn stderr() -> Quiet<io::StderrLock<'static>> {
    Quiet::new(io::stderr().lock())
}

/// A line on standard error (`eprintln!` panics when stderr is closed).
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!($crate::cli::stream::stderr(), $($arg)*);
    }};
}
pub(crate) use say;

#[cfg(test)]
mod tests {
    use super::*;

    struct Gone;
    impl Write for Gone {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::from(ErrorKind::BrokenPipe))
        }
        fn flush(&mut self) -> io::Result<()> {
            Err(io::Error::from(ErrorKind::BrokenPipe))
        }
    }

    struct Full;
    impl Write for Full {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::from(ErrorKind::StorageFull))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_reader_that_went_away_is_not_an_error_but_a_full_disk_is() {
        let mut gone = Quiet::new(Gone);
        assert!(writeln!(gone, "a finding").is_ok());
        assert!(gone.flush().is_ok());
        assert!(gone.closed);
        let mut full = Quiet::new(Full);
        assert_eq!(
            writeln!(full, "a finding").unwrap_err().kind(),
            ErrorKind::StorageFull
        );
    }
}
