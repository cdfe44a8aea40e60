//! Exercise: the nearest-rank percentile (chapter "Deploying for latency").
//!
//! A latency report gives p50 and p99: the latency that 50% and 99% of the requests did not
//! exceed. With the nearest-rank definition (what `nanobert bench serve` prints) the q-quantile
//! of n values is the value of rank `ceil(q·n)` in sorted order, ranks counted from 1, and rank 1
//! for `q = 0`. It is always one of the measured latencies, never an interpolation between two.
//!
//! The tests compare with NumPy's `percentile(v, 100·q, method="inverted_cdf")`.
//!
//! Run: `cargo test --release -p nanobert-exercises --test percentile`
#![allow(unused_variables)] // the stubs do not use their arguments yet

/// The `q`-quantile (`0 ≤ q ≤ 1`) of `latencies` (in any order), nearest rank; 0 for no
/// latencies.
pub fn percentile(latencies: &[f64], q: f64) -> f64 {
    todo!("exercise: sort a copy, rank ceil(q·n), counted from 1")
}
