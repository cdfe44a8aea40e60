//! Exercise: the per-channel int8 quantizer of the weights (chapter "Lower precision").
//!
//! Dynamic int8 stores each weight row (an output channel) as i8 codes and one f32 scale:
//! `w ≈ scale · q`, symmetric (no zero point), `scale = max|row| / 127`, `q = round(w / scale)`
//! in `-127..=127`. One scale per row, not one for the whole matrix: a row of small weights
//! keeps its own resolution even when another row has an outlier.
//!
//! The tests compare with PyTorch's `PerChannelMinMaxObserver` (per-channel symmetric, qint8,
//! -127..127) and `torch.quantize_per_channel`.
//!
//! Run: `cargo test --release -p nanobert-exercises --test quantize`
#![allow(unused_variables)] // the stubs do not use their arguments yet

/// Quantizes `w` (`[rows, cols]`, row-major) row by row. Returns the `rows · cols` codes and the
/// `rows` scales. Round to the nearest code (`as i8` alone truncates toward zero). An all-zero
/// row has no range: give it codes 0 and scale 1.0.
pub fn quantize_per_channel(w: &[f32], rows: usize, cols: usize) -> (Vec<i8>, Vec<f32>) {
    todo!("exercise: per row, the scale from the largest |w|, then the rounded codes")
}
