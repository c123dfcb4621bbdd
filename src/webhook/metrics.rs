//! Prometheus metrics in the text exposition format, kept by hand: three
//! families do not justify a metrics framework. Counters are atomics, so
//! recording never makes two requests wait for each other.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use super::review::Endpoint;
use crate::rules::Code;

/// Upper bounds of the latency histogram, in seconds.
const BUCKETS: [f64; 12] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];

/// What became of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    Denied,
    Patched,
    BadRequest,
    TooLarge,
    TimedOut,
}

impl Decision {
    pub const ALL: [Decision; 6] = [
        Decision::Allowed,
        Decision::Denied,
        Decision::Patched,
        Decision::BadRequest,
        Decision::TooLarge,
        Decision::TimedOut,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allowed => "allowed",
            Decision::Denied => "denied",
            Decision::Patched => "patched",
            Decision::BadRequest => "bad_request",
            Decision::TooLarge => "too_large",
            Decision::TimedOut => "timed_out",
        }
    }
}

const ENDPOINTS: [Endpoint; 2] = [Endpoint::Validate, Endpoint::Mutate];

/// What the webhook reloads while it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reloaded {
    Policy,
    Lock,
    Certificate,
}

const RELOADED: [(Reloaded, &str); 3] = [
    (Reloaded::Policy, "policy"),
    (Reloaded::Lock, "lock"),
    (Reloaded::Certificate, "certificate"),
];

#[derive(Default)]
struct Histogram {
    counts: [AtomicU64; BUCKETS.len()],
    sum_nanos: AtomicU64,
    count: AtomicU64,
}

#[derive(Default)]
pub struct Metrics {
    requests: [[AtomicU64; Decision::ALL.len()]; ENDPOINTS.len()],
    latency: [Histogram; ENDPOINTS.len()],
    findings: FindingCounts,
    /// Connections closed at once because `--max-connections` were open.
    rejected: AtomicU64,
    /// Reloads by what was reloaded, then [taken, rejected].
    reloads: [[AtomicU64; 2]; RELOADED.len()],
}

/// Findings by rule code: one counter per registered code.
struct FindingCounts([AtomicU64; Code::ALL.len()]);

impl Default for FindingCounts {
    fn default() -> Self {
        FindingCounts(std::array::from_fn(|_| AtomicU64::new(0)))
    }
}

fn slot(endpoint: Endpoint) -> usize {
    match endpoint {
        Endpoint::Validate => 0,
        Endpoint::Mutate => 1,
    }
}

impl Metrics {
    pub fn connection_rejected(&self) {
        self.rejected.fetch_add(1, Relaxed);
    }

    /// A changed policy, lock or certificate, taken or rejected.
    pub fn reloaded(&self, what: Reloaded, taken: bool) {
        let i = RELOADED
            .iter()
            .position(|(r, _)| *r == what)
            .expect("every reloadable is listed");
        self.reloads[i][usize::from(!taken)].fetch_add(1, Relaxed);
    }

    /// Records one request: its decision, the rule
    /// codes of its findings and how long it took.
    pub fn record(&self, endpoint: Endpoint, decision: Decision, codes: &[Code], took: Duration) {
        let e = slot(endpoint);
        self.requests[e][decision as usize].fetch_add(1, Relaxed);
        for code in codes {
            self.findings.0[*code as usize].fetch_add(1, Relaxed);
        }
        let h = &self.latency[e];
        let secs = took.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|b| secs <= *b) {
            h.counts[i].fetch_add(1, Relaxed);
        }
        h.sum_nanos
            .fetch_add(u64::try_from(took.as_nanos()).unwrap_or(u64::MAX), Relaxed);
        h.count.fetch_add(1, Relaxed);
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP kexpose_build_info The running kexpose.\n");
        out.push_str("# TYPE kexpose_build_info gauge\n");
        let _ = writeln!(
            out,
            "kexpose_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        );
        out.push_str("# HELP kexpose_reloads_total Policy, lock and certificate changes, by whether they were taken.\n");
        out.push_str("# TYPE kexpose_reloads_total counter\n");
        for (i, (_, what)) in RELOADED.iter().enumerate() {
            for (r, result) in ["ok", "rejected"].iter().enumerate() {
                let _ = writeln!(
                    out,
                    "kexpose_reloads_total{{what=\"{what}\",result=\"{result}\"}} {}",
                    self.reloads[i][r].load(Relaxed)
                );
            }
        }
        out.push_str("# HELP kexpose_connections_rejected_total Connections closed at once because --max-connections were open.\n");
        out.push_str("# TYPE kexpose_connections_rejected_total counter\n");
        let _ = writeln!(
            out,
            "kexpose_connections_rejected_total {}",
            self.rejected.load(Relaxed)
        );
        out.push_str("# HELP kexpose_admission_requests_total Admission requests by endpoint and decision.\n");
        out.push_str("# TYPE kexpose_admission_requests_total counter\n");
        for (e, endpoint) in ENDPOINTS.iter().enumerate() {
            for (d, decision) in Decision::ALL.iter().map(|d| d.as_str()).enumerate() {
                // Every series exists from the start, at 0.
                let n = self.requests[e][d].load(Relaxed);
                let _ = writeln!(
                    out,
                    "kexpose_admission_requests_total{{endpoint=\"{}\",decision=\"{decision}\"}} {n}",
                    endpoint.as_str()
                );
            }
        }
        out.push_str("# HELP kexpose_admission_findings_total Findings in admitted or denied objects, by rule code.\n");
        out.push_str("# TYPE kexpose_admission_findings_total counter\n");
        let mut codes = Code::ALL.to_vec();
        codes.sort();
        for code in codes {
            let n = self.findings.0[code as usize].load(Relaxed);
            if n > 0 {
                let _ = writeln!(
                    out,
                    "kexpose_admission_findings_total{{code=\"{code}\"}} {n}"
                );
            }
        }
        out.push_str("# HELP kexpose_admission_duration_seconds Time to decide, from body read to response.\n");
        out.push_str("# TYPE kexpose_admission_duration_seconds histogram\n");
        for (e, endpoint) in ENDPOINTS.iter().enumerate() {
            let h = &self.latency[e];
            let count = h.count.load(Relaxed);
            let name = endpoint.as_str();
            let mut cumulative = 0;
            for (bound, n) in BUCKETS.iter().zip(&h.counts) {
                cumulative += n.load(Relaxed);
                let _ = writeln!(
                    out,
                    "kexpose_admission_duration_seconds_bucket{{endpoint=\"{name}\",le=\"{bound}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "kexpose_admission_duration_seconds_bucket{{endpoint=\"{name}\",le=\"+Inf\"}} {count}"
            );
            let sum = h.sum_nanos.load(Relaxed) as f64 / 1e9;
            let _ = writeln!(
                out,
                "kexpose_admission_duration_seconds_sum{{endpoint=\"{name}\"}} {sum}"
            );
            let _ = writeln!(
                out,
                "kexpose_admission_duration_seconds_count{{endpoint=\"{name}\"}} {count}"
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let m = Metrics::default();
        m.record(
            Endpoint::Validate,
            Decision::Allowed,
            &[],
            Duration::from_micros(50),
        );
        m.record(
            Endpoint::Validate,
            Decision::Denied,
            &[Code::J003, Code::J004],
            Duration::from_millis(3),
        );
        let text = m.render();
        assert!(text.contains("le=\"0.0001\"} 1\n"), "{text}");
        assert!(text.contains("le=\"0.005\"} 2\n"), "{text}");
        assert!(text.contains("le=\"+Inf\"} 2\n"));
        assert!(text.contains("decision=\"denied\"} 1\n"));
        assert!(text.contains("kexpose_admission_findings_total{code=\"J004\"} 1\n"));
        // Every series exists from the start, at 0.
        assert!(text.contains(
            "kexpose_admission_requests_total{endpoint=\"mutate\",decision=\"timed_out\"} 0\n"
        ));
        assert!(text.contains("kexpose_admission_duration_seconds_count{endpoint=\"mutate\"} 0\n"));
    }
}
