//! Exercise: LayerNorm (chapter "Layers", section "LayerNorm").
//!
//! For each row of `h` features: `y = (x - mean) / sqrt(var + eps) * gamma + beta`, with the
//! *biased* variance (divide by `h`, as PyTorch does). Compute the variance in two passes (the
//! mean first, then the mean of squared deviations): the one-pass formula `E[x²] - E[x]²` cancels
//! catastrophically on rows with a large mean, and one of the tests has such a row.
//!
//! Run: `cargo test --release -p nanobert-exercises --test layer_norm`
#![allow(unused_variables)] // the stubs do not use their arguments yet

/// LayerNorm over every row of `x` (`[rows, h]`, row-major, `x.len() == rows * h`), with the
/// per-feature scale `gamma` and shift `beta` (both of length `h`). Returns a new `[rows, h]`
/// buffer.
pub fn layer_norm(x: &[f32], h: usize, gamma: &[f32], beta: &[f32], eps: f32) -> Vec<f32> {
    todo!("exercise: mean, variance (two passes), normalize, scale and shift")
}
