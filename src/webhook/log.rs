//! The webhook's log: `tracing` events, one line each on stderr, as JSON
//! (for log pipelines) or `key=value` text (for people).
//!
//! The line format is kexpose's own rather than `tracing-subscriber`'s
//! `fmt` layer because the decision log's fields are documented: `ts`
//! (RFC 3339, milliseconds, UTC), `level`, `msg`, then the event's fields
//! flat, with `codes` a JSON array. `KEXPOSE_LOG` filters by level and
//! target (`warn`, `info,h2=debug`).

use std::cell::RefCell;
use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::Duration;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

use super::review::{Endpoint, Outcome};
use crate::rules::Code;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Json,
    Text,
}

/// The filter when `KEXPOSE_LOG` is unset.
pub const DEFAULT_FILTER: &str = "info";

/// Fields whose value is a space-separated list, written as a JSON array.
const LIST_FIELDS: &[&str] = &["codes"];

/// Installs the log for this process: `filter` is `KEXPOSE_LOG`'s syntax.
/// A second call keeps the first log (tests run several servers in one
/// process).
pub fn init(format: LogFormat, filter: &str) -> Result<(), FilterError> {
    let targets: Targets = filter.parse().map_err(|source| FilterError {
        filter: filter.to_owned(),
        source,
    })?;
    let subscriber = tracing_subscriber::registry()
        .with(targets)
        .with(Lines { format });
    let _ = tracing::subscriber::set_global_default(subscriber);
    Ok(())
}

/// A `KEXPOSE_LOG` value that is not a filter.
#[derive(Debug, thiserror::Error)]
#[error("log filter {filter:?}: {source}")]
pub struct FilterError {
    filter: String,
    source: tracing_subscriber::filter::ParseError,
}

/// Writes every line logged so far.
pub fn flush() {
    sink().drain();
}

/// One admission decision: the line the documentation promises per request.
pub fn decision(endpoint: Endpoint, outcome: &Outcome, took: Duration) {
    tracing::info!(
        endpoint = endpoint.as_str(),
        uid = outcome.uid.as_str(),
        kind = outcome.kind.as_str(),
        namespace = outcome.namespace.as_str(),
        name = outcome.name.as_str(),
        operation = outcome.operation.as_str(),
        allowed = outcome.allowed,
        patched = outcome.patched,
        codes = %SpaceSeparated(&outcome.codes),
        latency_ms = (took.as_secs_f64() * 1e6).round() / 1e3,
        "admission"
    );
}

struct SpaceSeparated<'a>(&'a [Code]);

impl std::fmt::Display for SpaceSeparated<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, s) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_char(' ')?;
            }
            f.write_str(s.as_str())?;
        }
        Ok(())
    }
}

/// The layer that turns events into lines.
struct Lines {
    format: LogFormat,
}

thread_local! {
    /// The line, its fields and its message, reused so that logging does
    /// not allocate once warm.
    static BUFFERS: RefCell<Buffers> = const { RefCell::new(Buffers::new()) };
}

struct Buffers {
    line: String,
    fields: String,
    message: String,
    scratch: String,
}

impl Buffers {
    const fn new() -> Buffers {
        Buffers {
            line: String::new(),
            fields: String::new(),
            message: String::new(),
            scratch: String::new(),
        }
    }
}

impl Lines {
    /// Formats `event` as one line, with its newline, into `out`.
    fn format(&self, event: &Event<'_>, buffers: &mut Buffers) {
        let Buffers {
            line,
            fields,
            message,
            scratch,
        } = buffers;
        line.clear();
        fields.clear();
        message.clear();
        event.record(&mut Fields {
            format: self.format,
            fields,
            message,
            scratch,
        });
        let level = level_name(*event.metadata().level());
        let ts = jiff::Timestamp::now();
        match self.format {
            LogFormat::Json => {
                let _ = write!(line, "{{\"ts\":\"{ts:.3}\",\"level\":\"{level}\",\"msg\":");
                json_string(line, message);
                line.push_str(fields);
                line.push('}');
            }
            LogFormat::Text => {
                let _ = write!(line, "ts={ts:.3} level={level} msg={message:?}{fields}");
            }
        }
        line.push('\n');
    }
}

impl<S: Subscriber> Layer<S> for Lines {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        BUFFERS.with_borrow_mut(|buffers| {
            self.format(event, buffers);
            sink().push(&buffers.line);
        });
    }
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::ERROR => "error",
        Level::WARN => "warn",
        Level::INFO => "info",
        Level::DEBUG => "debug",
        Level::TRACE => "trace",
    }
}

/// Writes an event's fields after the message, in the order given.
struct Fields<'a> {
    format: LogFormat,
    fields: &'a mut String,
    message: &'a mut String,
    scratch: &'a mut String,
}

impl Fields<'_> {
    /// Starts a field: `,"name":` or ` name=`. Field names are the
    /// program's own identifiers: no escaping needed.
    fn key(&mut self, field: &Field) {
        let name = field.name();
        match self.format {
            LogFormat::Json => {
                self.fields.push_str(",\"");
                self.fields.push_str(name);
                self.fields.push_str("\":");
            }
            LogFormat::Text => {
                self.fields.push(' ');
                self.fields.push_str(name);
                self.fields.push('=');
            }
        }
    }

    fn raw(&mut self, field: &Field, value: impl std::fmt::Display) {
        self.key(field);
        let _ = write!(self.fields, "{value}");
    }
}

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
            return;
        }
        self.key(field);
        match self.format {
            LogFormat::Json if LIST_FIELDS.contains(&field.name()) => {
                self.fields.push('[');
                for (i, item) in value.split_whitespace().enumerate() {
                    if i > 0 {
                        self.fields.push(',');
                    }
                    json_string(self.fields, item);
                }
                self.fields.push(']');
            }
            LogFormat::Json => json_string(self.fields, value),
            LogFormat::Text => {
                let _ = write!(self.fields, "{value:?}");
            }
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let mut text = std::mem::take(self.scratch);
        text.clear();
        let _ = write!(text, "{value:?}");
        self.record_str(field, &text);
        *self.scratch = text;
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.key(field);
        self.fields.push_str(if value { "true" } else { "false" });
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.raw(field, value);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.raw(field, value);
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        if value.is_finite() {
            self.raw(field, value);
        } else {
            self.raw(field, "null");
        }
    }
}

/// Appends `s` as a JSON string.
fn json_string(out: &mut String, s: &str) {
    out.push('"');
    // Most values (uids, names, codes) need no escaping at all.
    if !s.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
        out.push_str(s);
        out.push('"');
        return;
    }
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Lines collect in one buffer that a writer thread empties with a single
/// write a few milliseconds after the first line arrives: request handlers
/// never wait on stderr, only the first line of a batch wakes the writer,
/// under load a thousand lines cost one write, and an idle process does
/// not wake at all.
struct Sink {
    buffer: Mutex<String>,
    filled: Condvar,
}

/// How long the writer thread lets a batch gather.
const PERIOD: Duration = Duration::from_millis(10);
/// Past this size a handler writes the buffer itself: memory stays bounded
/// when stderr stalls, at the price of that handler waiting.
const HIGH_WATER: usize = 4 * 1024 * 1024;

fn sink() -> &'static Sink {
    static SINK: OnceLock<Sink> = OnceLock::new();
    SINK.get_or_init(|| {
        std::thread::Builder::new()
            .name("kexpose-log".into())
            .spawn(|| {
                // Two buffers swap places, so after warm-up no line
                // allocates and nothing is freed across threads.
                let mut spare = String::new();
                loop {
                    let sink = sink();
                    let mut buffer = sink.buffer.lock().unwrap_or_else(|p| p.into_inner());
                    while buffer.is_empty() {
                        buffer = sink.filled.wait(buffer).unwrap_or_else(|p| p.into_inner());
                    }
                    drop(buffer);
                    std::thread::sleep(PERIOD);
                    sink.swap_and_write(&mut spare);
                }
            })
            .expect("the log thread starts");
        Sink {
            buffer: Mutex::new(String::new()),
            filled: Condvar::new(),
        }
    })
}

impl Sink {
    /// Appends a whole line (with its newline).
    fn push(&self, line: &str) {
        let mut b = self.buffer.lock().unwrap_or_else(|p| p.into_inner());
        let first = b.is_empty();
        b.push_str(line);
        if b.len() > HIGH_WATER {
            let full = std::mem::take(&mut *b);
            drop(b);
            let _ = std::io::stderr().lock().write_all(full.as_bytes());
            return;
        }
        drop(b);
        if first {
            self.filled.notify_one();
        }
    }

    fn swap_and_write(&self, spare: &mut String) {
        std::mem::swap(
            &mut *self.buffer.lock().unwrap_or_else(|p| p.into_inner()),
            spare,
        );
        if !spare.is_empty() {
            let _ = std::io::stderr().lock().write_all(spare.as_bytes());
            spare.clear();
        }
    }

    fn drain(&self) {
        self.swap_and_write(&mut String::new());
    }
}

#[cfg(test)]
mod tests;
