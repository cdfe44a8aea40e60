//! Reference solution: softmax, naive and stable. Read it after you have tried `src/softmax.rs`.

/// `exp(x_i) / Σ_j exp(x_j)` in f32, no max subtraction: overflows from x ≈ 88.7 on.
pub fn softmax_naive(row: &[f32]) -> Vec<f32> {
    let exps: Vec<f32> = row.iter().map(|x| x.exp()).collect();
    let sum: f32 = exps.iter().sum();
    exps.iter().map(|e| e / sum).collect()
}

/// Stable softmax: subtract the row's maximum first, so every exponent is ≤ 0 and the largest
/// term is exactly 1.
pub fn softmax(row: &[f32]) -> Vec<f32> {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exps: Vec<f32> = row.iter().map(|x| (x - max).exp()).collect();
    let sum: f32 = exps.iter().sum();
    exps.iter().map(|e| e / sum).collect()
}
