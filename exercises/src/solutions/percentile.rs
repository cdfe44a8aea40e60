//! Reference solution: the nearest-rank percentile. Read it after you have tried
//! `src/percentile.rs`.

/// Nearest rank: the value of rank `ceil(q·n)` (from 1; rank 1 for q = 0) in sorted order.
pub fn percentile(latencies: &[f64], q: f64) -> f64 {
    if latencies.is_empty() {
        return 0.0;
    }
    let mut v = latencies.to_vec();
    v.sort_by(f64::total_cmp);
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}
