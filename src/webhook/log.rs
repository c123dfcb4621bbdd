//! One line per event on stderr, as JSON (for log pipelines) or as
//! `key=value` text (for people).

use std::io::Write;
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use super::review::{Endpoint, Outcome};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Json,
    Text,
}

#[derive(Debug, Clone, Copy)]
pub struct Logger {
    pub format: LogFormat,
}

impl Logger {
    /// Writes one event with its fields, in the order given.
    pub fn event(&self, level: &str, message: &str, fields: Vec<(&str, Value)>) {
        let ts = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        use std::fmt::Write as _;
        // Field names are the program's own identifiers: no escaping needed.
        let mut line = String::with_capacity(320);
        match self.format {
            LogFormat::Json => {
                let _ = write!(
                    line,
                    "{{\"ts\":{:.3},\"level\":{},\"msg\":{}",
                    ts,
                    Value::from(level),
                    Value::from(message)
                );
                for (k, v) in fields {
                    let _ = write!(line, ",\"{k}\":{v}");
                }
                line.push('}');
            }
            LogFormat::Text => {
                let _ = write!(line, "ts={ts:.3} level={level} msg={message:?}");
                for (k, v) in fields {
                    let _ = match v {
                        Value::String(t) => write!(line, " {k}={t:?}"),
                        other => write!(line, " {k}={other}"),
                    };
                }
            }
        }
        sink().push(&line);
    }

    /// Writes every line logged so far.
    pub fn flush(&self) {
        sink().drain();
    }

    pub fn decision(&self, endpoint: Endpoint, outcome: &Outcome, took: Duration) {
        if self.format == LogFormat::Json {
            // The hot path: one line per request, written straight into
            // the buffer without building JSON values first.
            use std::fmt::Write as _;
            let ts = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs_f64();
            let mut line = String::with_capacity(320);
            let _ = write!(
                line,
                "{{\"ts\":{ts:.3},\"level\":\"info\",\"msg\":\"admission\""
            );
            for (key, value) in [
                ("endpoint", endpoint.as_str()),
                ("uid", &outcome.uid),
                ("kind", &outcome.kind),
                ("namespace", &outcome.namespace),
                ("name", &outcome.name),
                ("operation", &outcome.operation),
            ] {
                let _ = write!(line, ",\"{key}\":");
                json_string(&mut line, value);
            }
            let _ = write!(
                line,
                ",\"allowed\":{},\"patched\":{},\"codes\":[",
                outcome.allowed, outcome.patched
            );
            for (i, code) in outcome.codes.iter().enumerate() {
                let _ = write!(line, "{}\"{code}\"", if i > 0 { "," } else { "" });
            }
            let _ = write!(
                line,
                "],\"latency_ms\":{}}}",
                (took.as_secs_f64() * 1e6).round() / 1e3
            );
            sink().push(&line);
            return;
        }
        self.event(
            "info",
            "admission",
            vec![
                ("endpoint", json!(endpoint.as_str())),
                ("uid", json!(outcome.uid)),
                ("kind", json!(outcome.kind)),
                ("namespace", json!(outcome.namespace)),
                ("name", json!(outcome.name)),
                ("operation", json!(outcome.operation)),
                ("allowed", json!(outcome.allowed)),
                ("patched", json!(outcome.patched)),
                ("codes", json!(outcome.codes)),
                (
                    "latency_ms",
                    json!((took.as_secs_f64() * 1e6).round() / 1e3),
                ),
            ],
        );
    }
}

/// Appends `s` as a JSON string.
fn json_string(out: &mut String, s: &str) {
    use std::fmt::Write as _;
    out.push('"');
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
    fn push(&self, line: &str) {
        let mut b = self.buffer.lock().unwrap_or_else(|p| p.into_inner());
        let first = b.is_empty();
        b.push_str(line);
        b.push('\n');
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
mod tests {
    use super::*;

    #[test]
    fn json_strings_round_trip() {
        for s in [
            "plain",
            "quote \" and \\ back",
            "new\nline\ttab\u{1}",
            "ünïcode",
        ] {
            let mut out = String::new();
            json_string(&mut out, s);
            assert_eq!(serde_json::from_str::<String>(&out).unwrap(), s);
        }
    }
}
