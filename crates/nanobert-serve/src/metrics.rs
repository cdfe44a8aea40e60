//! # What the server counts, in Prometheus' text format
//!
//! `GET /metrics` returns counters and histograms that a Prometheus server (or `curl`) reads:
//! requests by endpoint and status, the queue depth, the batch sizes the batcher formed, the
//! time requests spent queued and in total, and the tokens computed. Everything is a relaxed
//! atomic: the handlers and the compute thread update them without taking a lock.
//!
//! Format: <https://prometheus.io/docs/instrumenting/exposition_formats/>.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

/// Upper bounds (seconds) of the latency histogram buckets: 0.5 ms to 10 s.
pub const LATENCY_BUCKETS: [f64; 16] =
    [0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

/// Upper bounds of the batch-size histograms (texts per batch and tokens per batch).
pub const BATCH_TEXT_BUCKETS: [f64; 9] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];
/// Upper bounds of the tokens-per-batch histogram (padded tokens the model computed).
pub const BATCH_TOKEN_BUCKETS: [f64; 9] = [16.0, 64.0, 256.0, 512.0, 1024.0, 2048.0, 4096.0, 8192.0, 16384.0];

/// A cumulative histogram with fixed bucket bounds (Prometheus `histogram` type).
pub struct Histogram {
    bounds: &'static [f64],
    /// One counter per bound, plus the `+Inf` bucket; each counts observations `<= bound`
    /// that are above the previous bound (made cumulative when rendered).
    counts: Vec<AtomicU64>,
    /// Sum of observations, stored as micro-units to keep it an integer atomic.
    sum_micros: AtomicU64,
}

impl Histogram {
    /// An empty histogram with these upper bounds (ascending).
    pub fn new(bounds: &'static [f64]) -> Histogram {
        Histogram {
            bounds,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_micros: AtomicU64::new(0),
        }
    }

    /// Adds one observation `v` (seconds for latencies, a count for sizes).
    pub fn observe(&self, v: f64) {
        let i = self.bounds.iter().position(|&b| v <= b).unwrap_or(self.bounds.len());
        self.counts[i].fetch_add(1, Relaxed);
        self.sum_micros.fetch_add((v.max(0.0) * 1e6) as u64, Relaxed);
    }

    /// Number of observations.
    pub fn count(&self) -> u64 {
        self.counts.iter().map(|c| c.load(Relaxed)).sum()
    }

    /// Sum of the observations.
    pub fn sum(&self) -> f64 {
        self.sum_micros.load(Relaxed) as f64 / 1e6
    }

    fn render(&self, out: &mut String, name: &str, help: &str, labels: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let sep = if labels.is_empty() { "" } else { "," };
        let mut cum = 0;
        for (i, b) in self.bounds.iter().enumerate() {
            cum += self.counts[i].load(Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{b}\"}} {cum}");
        }
        cum += self.counts[self.bounds.len()].load(Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {cum}");
        let brace = |s: &str| if s.is_empty() { String::new() } else { format!("{{{s}}}") };
        let _ = writeln!(out, "{name}_sum{} {}", brace(labels), self.sum_micros.load(Relaxed) as f64 / 1e6);
        let _ = writeln!(out, "{name}_count{} {cum}", brace(labels));
    }
}

/// The endpoints the server counts separately.
pub const ENDPOINTS: [&str; 13] = [
    "/embed",
    "/v1/embeddings",
    "/embed_all",
    "/fill-mask",
    "/rerank",
    "/predict",
    "/tokenize",
    "/decode",
    "/health",
    "/ready",
    "/info",
    "/metrics",
    "/openapi.json",
];

/// Status classes counted per endpoint: 2xx, 4xx (client errors other than 413/429), 413,
/// 429/503 (refused for load), 5xx.
const STATUS_CLASSES: [&str; 5] = ["2xx", "4xx", "413", "overloaded", "5xx"];

/// What `nanobert_build_info` and `nanobert_model_load_seconds` report, set once loaded.
#[derive(Clone, Debug)]
pub struct BuildInfo {
    /// nanobert's version.
    pub version: &'static str,
    /// The model's name.
    pub model_id: String,
    /// Weight precision.
    pub precision: String,
    /// Compute threads.
    pub threads: usize,
    /// Seconds the model took to load.
    pub load_seconds: f64,
}

/// All the server's counters.
pub struct Metrics {
    started: Instant,
    /// Set once the model is loaded.
    pub build: std::sync::OnceLock<BuildInfo>,
    requests: Vec<AtomicU64>, // [endpoint][status class]
    /// Texts waiting in the queue right now.
    pub queue_texts: AtomicU64,
    /// Texts per batch the batcher formed.
    pub batch_texts: Histogram,
    /// Padded tokens per model call.
    pub batch_tokens: Histogram,
    /// Time from a request's arrival in the queue to the start of its batch (seconds).
    pub queue_seconds: Histogram,
    /// Time from the request's arrival to its answer, for requests that ran (seconds).
    pub request_seconds: Histogram,
    /// Real (unpadded) tokens computed.
    pub tokens: AtomicU64,
    /// Padded tokens computed (what the model paid for).
    pub padded_tokens: AtomicU64,
    /// Seconds the compute thread spent in the model, as micro-seconds.
    pub compute_micros: AtomicU64,
    /// Requests dropped before computing because their client went away.
    pub cancelled: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            started: Instant::now(),
            build: std::sync::OnceLock::new(),
            requests: (0..ENDPOINTS.len() * STATUS_CLASSES.len()).map(|_| AtomicU64::new(0)).collect(),
            queue_texts: AtomicU64::new(0),
            batch_texts: Histogram::new(&BATCH_TEXT_BUCKETS),
            batch_tokens: Histogram::new(&BATCH_TOKEN_BUCKETS),
            queue_seconds: Histogram::new(&LATENCY_BUCKETS),
            request_seconds: Histogram::new(&LATENCY_BUCKETS),
            tokens: AtomicU64::new(0),
            padded_tokens: AtomicU64::new(0),
            compute_micros: AtomicU64::new(0),
            cancelled: AtomicU64::new(0),
        }
    }
}

impl Metrics {
    /// Counts one answered request on `endpoint` (one of [`ENDPOINTS`]) with HTTP `status`.
    pub fn count(&self, endpoint: &str, status: u16) {
        let Some(e) = ENDPOINTS.iter().position(|&x| x == endpoint) else { return };
        let class = match status {
            200..=299 => 0,
            413 => 2,
            429 | 503 => 3,
            400..=499 => 1,
            _ => 4,
        };
        self.requests[e * STATUS_CLASSES.len() + class].fetch_add(1, Relaxed);
    }

    /// Requests answered on `endpoint` with a status in `class` ("2xx", "4xx", "413",
    /// "overloaded" or "5xx").
    pub fn requests(&self, endpoint: &str, class: &str) -> u64 {
        match (ENDPOINTS.iter().position(|&x| x == endpoint), STATUS_CLASSES.iter().position(|&x| x == class)) {
            (Some(e), Some(c)) => self.requests[e * STATUS_CLASSES.len() + c].load(Relaxed),
            _ => 0,
        }
    }

    /// Adds `d` to the compute time.
    pub fn add_compute(&self, d: Duration) {
        self.compute_micros.fetch_add(d.as_micros() as u64, Relaxed);
    }

    /// The whole registry in Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP nanobert_requests_total Requests answered, by endpoint and status class.\n");
        out.push_str("# TYPE nanobert_requests_total counter\n");
        for (e, ep) in ENDPOINTS.iter().enumerate() {
            for (c, class) in STATUS_CLASSES.iter().enumerate() {
                let n = self.requests[e * STATUS_CLASSES.len() + c].load(Relaxed);
                let _ = writeln!(out, "nanobert_requests_total{{endpoint=\"{ep}\",status=\"{class}\"}} {n}");
            }
        }
        let gauge = |out: &mut String, name: &str, help: &str, kind: &str, v: f64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}");
        };
        gauge(
            &mut out,
            "nanobert_queue_texts",
            "Texts waiting for the model.",
            "gauge",
            self.queue_texts.load(Relaxed) as f64,
        );
        self.batch_texts.render(&mut out, "nanobert_batch_texts", "Texts per model call.", "");
        self.batch_tokens.render(&mut out, "nanobert_batch_padded_tokens", "Padded tokens per model call.", "");
        self.queue_seconds.render(
            &mut out,
            "nanobert_queue_seconds",
            "Time from arrival to the start of the batch.",
            "",
        );
        self.request_seconds.render(&mut out, "nanobert_request_seconds", "Time from arrival to the answer.", "");
        let tokens = self.tokens.load(Relaxed) as f64;
        let compute = self.compute_micros.load(Relaxed) as f64 / 1e6;
        gauge(&mut out, "nanobert_tokens_total", "Real tokens computed.", "counter", tokens);
        gauge(
            &mut out,
            "nanobert_padded_tokens_total",
            "Padded tokens computed.",
            "counter",
            self.padded_tokens.load(Relaxed) as f64,
        );
        gauge(
            &mut out,
            "nanobert_compute_seconds_total",
            "Time the compute thread spent in the model.",
            "counter",
            compute,
        );
        let tps = if compute > 0.0 { tokens / compute } else { 0.0 };
        gauge(&mut out, "nanobert_tokens_per_second", "Real tokens per second of compute time.", "gauge", tps);
        let up = self.started.elapsed().as_secs_f64();
        gauge(
            &mut out,
            "nanobert_tokens_per_second_uptime",
            "Real tokens per second since start.",
            "gauge",
            if up > 0.0 { tokens / up } else { 0.0 },
        );
        gauge(
            &mut out,
            "nanobert_cancelled_total",
            "Requests dropped because the client went away.",
            "counter",
            self.cancelled.load(Relaxed) as f64,
        );
        gauge(&mut out, "nanobert_uptime_seconds", "Seconds since the server started.", "gauge", up);
        if let Some(b) = self.build.get() {
            let esc = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n");
            let _ = writeln!(
                out,
                "# HELP nanobert_build_info The build and the model it serves (always 1).\n# TYPE nanobert_build_info gauge\n\
                 nanobert_build_info{{version=\"{}\",model_id=\"{}\",precision=\"{}\",threads=\"{}\",arch=\"{}\"}} 1",
                esc(b.version),
                esc(&b.model_id),
                esc(&b.precision),
                b.threads,
                std::env::consts::ARCH
            );
            gauge(&mut out, "nanobert_model_load_seconds", "Seconds the model took to load.", "gauge", b.load_seconds);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_and_count_everything() {
        let h = Histogram::new(&LATENCY_BUCKETS);
        for v in [0.0001, 0.0015, 0.0015, 100.0] {
            h.observe(v);
        }
        let mut s = String::new();
        h.render(&mut s, "x", "help", "");
        assert!(s.contains("x_bucket{le=\"0.0005\"} 1\n"), "{s}");
        assert!(s.contains("x_bucket{le=\"0.002\"} 3\n"), "{s}");
        assert!(s.contains("x_bucket{le=\"10\"} 3\n"), "{s}");
        assert!(s.contains("x_bucket{le=\"+Inf\"} 4\n"), "{s}");
        assert!(s.contains("x_count 4\n"), "{s}");
        assert_eq!(h.count(), 4);
    }

    #[test]
    fn requests_are_counted_by_endpoint_and_class() {
        let m = Metrics::default();
        m.count("/embed", 200);
        m.count("/embed", 429);
        m.count("/embed", 503);
        m.count("/embed", 413);
        m.count("/nope", 200);
        assert_eq!(m.requests("/embed", "2xx"), 1);
        assert_eq!(m.requests("/embed", "overloaded"), 2);
        assert_eq!(m.requests("/embed", "413"), 1);
        assert!(m.render().contains("nanobert_requests_total{endpoint=\"/embed\",status=\"overloaded\"} 2"));
    }
}
