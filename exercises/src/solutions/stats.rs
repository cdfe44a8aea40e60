//! Reference solution: summarizing repeated timings. Read it after you have tried `src/stats.rs`.

pub use crate::Summary;

/// Median (mean of the two middles for an even count), min and max.
pub fn summarize(times: &[f64]) -> Summary {
    assert!(!times.is_empty(), "no timings");
    let mut v = times.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 };
    Summary { median, min: v[0], max: v[n - 1] }
}

/// The median of the per-round ratios `baseline[r] / candidate[r]`.
pub fn paired_speedup(baseline: &[f64], candidate: &[f64]) -> f64 {
    assert_eq!(baseline.len(), candidate.len(), "the two runs have different numbers of rounds");
    let ratios: Vec<f64> = baseline.iter().zip(candidate).map(|(b, c)| b / c).collect();
    summarize(&ratios).median
}
