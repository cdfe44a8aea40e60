//! Exercise: summarizing repeated timings (chapter "Honest benchmarks").
//!
//! A benchmark repeats each measurement and reports the median (the typical run), the minimum
//! (interference only adds time, so the fastest run is the machine) and the maximum (the
//! neighbours). A mean would let one run slowed down by another program move the figure.
//! When two programs are compared on a shared machine they take turns, round by round, and the
//! honest figure is the median of the *per-round* ratios: each ratio compares two runs that saw
//! the same load.
//!
//! The tests compare with NumPy's `median`, `min`, `max`.
//!
//! Run: `cargo test --release -p nanobert-exercises --test stats`
#![allow(unused_variables)] // the stubs do not use their arguments yet

pub use crate::Summary;

/// Median, min and max of `times` (at least one value; the order of `times` is arbitrary).
pub fn summarize(times: &[f64]) -> Summary {
    todo!("exercise: sort a copy, take the middle (two middles for an even count)")
}

/// The median over rounds of `baseline[r] / candidate[r]` (how many times faster the candidate
/// is), for two interleaved runs of the same number of rounds (at least one).
pub fn paired_speedup(baseline: &[f64], candidate: &[f64]) -> f64 {
    todo!("exercise: one ratio per round, then their median")
}
