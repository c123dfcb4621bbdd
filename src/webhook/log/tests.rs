//! Tests of `log`.

use super::*;
use std::sync::Arc;

/// Formats events as `Lines` does, into a vector instead of stderr.
struct Capture(Lines, Arc<Mutex<Vec<String>>>);

impl<S: Subscriber> Layer<S> for Capture {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let mut buffers = Buffers::new();
        self.0.format(event, &mut buffers);
        self.1.lock().unwrap().push(buffers.line);
    }
}

fn lines(format: LogFormat, filter: &str, log: impl FnOnce()) -> Vec<String> {
    // One scoped subscriber at a time: tracing caches each callsite's
    // interest across all live subscribers, and two tests with
    // different filters racing on that cache would flake.
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let subscriber = tracing_subscriber::registry()
        .with(filter.parse::<Targets>().unwrap())
        .with(Capture(Lines { format }, seen.clone()));
    tracing::subscriber::with_default(subscriber, log);
    Arc::try_unwrap(seen).unwrap().into_inner().unwrap()
}

fn outcome() -> Outcome {
    Outcome {
        uid: "705ab4f5".into(),
        kind: "APIRule".into(),
        namespace: "default".into(),
        name: "say \"hi\"".into(),
        operation: "CREATE".into(),
        allowed: false,
        patched: false,
        codes: vec![Code::J003, Code::S004],
    }
}

#[test]
fn a_decision_is_one_json_line_with_the_documented_fields() {
    let lines = lines(LogFormat::Json, "info", || {
        decision(Endpoint::Validate, &outcome(), Duration::from_micros(1234));
    });
    assert_eq!(lines.len(), 1);
    assert!(lines[0].ends_with("}\n") && lines[0].matches('\n').count() == 1);
    let v: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    // Every documented field, in the documented order.
    let positions: Vec<usize> = [
        "ts",
        "level",
        "msg",
        "endpoint",
        "uid",
        "kind",
        "namespace",
        "name",
        "operation",
        "allowed",
        "patched",
        "codes",
        "latency_ms",
    ]
    .iter()
    .map(|k| {
        lines[0]
            .find(&format!("\"{k}\":"))
            .unwrap_or_else(|| panic!("{k}"))
    })
    .collect();
    assert!(positions.is_sorted(), "{}", lines[0]);
    assert_eq!(v.as_object().unwrap().len(), positions.len());
    let ts = v["ts"].as_str().unwrap();
    assert!(
        ts.parse::<jiff::Timestamp>().is_ok() && ts.ends_with('Z'),
        "{ts}"
    );
    assert_eq!(ts.len(), "2026-12-02T12:14:56.123Z".len(), "{ts}");
    assert_eq!(v["level"], "info");
    assert_eq!(v["msg"], "admission");
    assert_eq!(v["endpoint"], "validate");
    assert_eq!(v["name"], "say \"hi\"");
    assert_eq!(v["allowed"], false);
    assert_eq!(v["codes"], serde_json::json!(["J003", "S004"]));
    assert_eq!(v["latency_ms"], 1.234);
}

#[test]
fn no_codes_is_an_empty_array() {
    let mut clean = outcome();
    clean.codes.clear();
    let lines = lines(LogFormat::Json, "info", || {
        decision(Endpoint::Mutate, &clean, Duration::ZERO);
    });
    let v: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(v["codes"], serde_json::json!([]));
}

#[test]
fn text_lines_quote_strings_and_keep_the_order() {
    let lines = lines(LogFormat::Text, "info", || {
        tracing::warn!(error = "bad \"x\"", backoff_ms = 5u64, "accept failed");
    });
    let line = &lines[0];
    let rest = line.split_once(' ').unwrap().1;
    assert_eq!(
        rest,
        "level=warn msg=\"accept failed\" error=\"bad \\\"x\\\"\" backoff_ms=5\n"
    );
}

#[test]
fn the_filter_drops_lower_levels() {
    let lines = lines(LogFormat::Json, "warn", || {
        tracing::info!("listening");
        tracing::warn!("accept failed");
        tracing::error!("new policy rejected");
    });
    let msgs: Vec<String> = lines
        .iter()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["msg"].to_string())
        .collect();
    assert_eq!(msgs, ["\"accept failed\"", "\"new policy rejected\""]);
}

#[test]
fn a_bad_filter_is_an_error() {
    assert!(init(LogFormat::Json, "info,=nonsense=").is_err());
}

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
