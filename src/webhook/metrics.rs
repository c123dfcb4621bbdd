//! Prometheus metrics in the text exposition format, kept by hand: three
//! families do not justify a metrics framework.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

use super::review::Endpoint;

/// Upper bounds of the latency histogram, in seconds.
const BUCKETS: [f64; 12] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

#[derive(Default)]
struct Inner {
    requests: BTreeMap<(Endpoint, &'static str), u64>,
    findings: BTreeMap<&'static str, u64>,
    latency: BTreeMap<Endpoint, Histogram>,
}

#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

impl Metrics {
    /// Records one request: its decision (`allowed`, `denied`, `patched`,
    /// `bad_request`, `too_large`), its findings and its latency.
    pub fn record(
        &self,
        endpoint: Endpoint,
        decision: &'static str,
        codes: &[&'static str],
        took: Duration,
    ) {
        let mut m = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        *m.requests.entry((endpoint, decision)).or_default() += 1;
        for code in codes {
            *m.findings.entry(code).or_default() += 1;
        }
        let h = m.latency.entry(endpoint).or_default();
        let secs = took.as_secs_f64();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if secs <= *bound {
                h.counts[i] += 1;
            }
        }
        h.sum += secs;
        h.count += 1;
    }

    pub fn render(&self) -> String {
        let m = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = String::new();
        out.push_str("# HELP kexpose_admission_requests_total Admission requests by endpoint and decision.\n");
        out.push_str("# TYPE kexpose_admission_requests_total counter\n");
        for ((endpoint, decision), n) in &m.requests {
            let _ = writeln!(
                out,
                "kexpose_admission_requests_total{{endpoint=\"{}\",decision=\"{decision}\"}} {n}",
                endpoint.as_str()
            );
        }
        out.push_str("# HELP kexpose_admission_findings_total Findings in admitted or denied objects, by rule code.\n");
        out.push_str("# TYPE kexpose_admission_findings_total counter\n");
        for (code, n) in &m.findings {
            let _ = writeln!(
                out,
                "kexpose_admission_findings_total{{code=\"{code}\"}} {n}"
            );
        }
        out.push_str("# HELP kexpose_admission_duration_seconds Time to decide, from body read to response.\n");
        out.push_str("# TYPE kexpose_admission_duration_seconds histogram\n");
        for (endpoint, h) in &m.latency {
            let e = endpoint.as_str();
            for (bound, count) in BUCKETS.iter().zip(h.counts) {
                let _ = writeln!(
                    out,
                    "kexpose_admission_duration_seconds_bucket{{endpoint=\"{e}\",le=\"{bound}\"}} {count}"
                );
            }
            let _ = writeln!(
                out,
                "kexpose_admission_duration_seconds_bucket{{endpoint=\"{e}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "kexpose_admission_duration_seconds_sum{{endpoint=\"{e}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "kexpose_admission_duration_seconds_count{{endpoint=\"{e}\"}} {}",
                h.count
            );
        }
        out
    }
}
