//! One line per event on stderr, as JSON (for log pipelines) or as
//! `key=value` text (for people).

use std::io::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

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
        let line = match self.format {
            LogFormat::Json => {
                let mut m = Map::new();
                m.insert("ts".into(), json!((ts * 1000.0).round() / 1000.0));
                m.insert("level".into(), json!(level));
                m.insert("msg".into(), json!(message));
                for (k, v) in fields {
                    m.insert(k.into(), v);
                }
                Value::Object(m).to_string()
            }
            LogFormat::Text => {
                let mut s = format!("ts={ts:.3} level={level} msg={message:?}");
                for (k, v) in fields {
                    match v {
                        Value::String(t) => s.push_str(&format!(" {k}={t:?}")),
                        other => s.push_str(&format!(" {k}={other}")),
                    }
                }
                s
            }
        };
        // One write per line so concurrent lines never interleave.
        let _ = std::io::stderr()
            .lock()
            .write_all(format!("{line}\n").as_bytes());
    }

    pub fn decision(&self, endpoint: Endpoint, outcome: &Outcome, took: Duration) {
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
