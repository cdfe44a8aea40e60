//! Exercise: softmax, first without the max subtraction (see it overflow), then with it
//! (chapter "Layers", section "Softmax").
//!
//! `softmax(x)_i = exp(x_i) / Σ_j exp(x_j)`. In f32, `exp(x)` is infinite from x ≈ 88.7 on, and
//! `inf / inf` is NaN. Subtracting the row's maximum first changes nothing mathematically (the
//! factor `exp(-max)` cancels) and keeps every exponent ≤ 0.
//!
//! Run: `cargo test --release -p nanobert-exercises --test softmax`
#![allow(unused_variables)] // the stubs do not use their arguments yet

/// Softmax of one row, computed literally as `exp(x_i) / Σ_j exp(x_j)` in f32, with no max
/// subtraction. (The tests check that it matches PyTorch on small values *and* that it returns
/// NaN on `[88, 89, 90]`: this is the version that overflows.)
pub fn softmax_naive(row: &[f32]) -> Vec<f32> {
    todo!("exercise: exp, sum, divide")
}

/// Softmax of one row, stable: subtract the row's maximum before `exp`. Must match PyTorch's
/// `torch.softmax` on rows like `[1e30, -1e30, 0]` and `[-1e4, 0, 1e4]`. An empty row gives an
/// empty result.
pub fn softmax(row: &[f32]) -> Vec<f32> {
    todo!("exercise: subtract the max, then exp, sum, divide")
}
