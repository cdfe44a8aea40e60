//! Checks of the LayerNorm exercise (`src/layer_norm.rs`), against `F.layer_norm`.

use crate::common::{assert_close, op_case, op_input};

/// The learner's `layer_norm(x, h, gamma, beta, eps)`.
pub type LayerNorm = fn(&[f32], usize, &[f32], &[f32], f32) -> Vec<f32>;

/// The definition in f64: `(x - mean) / sqrt(var + eps) * gamma + beta`, biased variance.
fn definition(x: &[f32], h: usize, gamma: &[f32], beta: &[f32], eps: f64) -> Vec<f32> {
    let mut out = Vec::new();
    for row in x.chunks(h) {
        let mean = row.iter().map(|&v| v as f64).sum::<f64>() / h as f64;
        let var = row.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / h as f64;
        for (j, &v) in row.iter().enumerate() {
            out.push(((v as f64 - mean) / (var + eps).sqrt() * gamma[j] as f64 + beta[j] as f64) as f32);
        }
    }
    out
}

pub fn matches_pytorch_with_weight_and_bias(f: LayerNorm) {
    let (x, want) = op_case("layer_norm", "x"); // [5, 16], eps 1e-12 as in BERT
    let (w, b) = (op_input("layer_norm", "weight").unwrap(), op_input("layer_norm", "bias").unwrap());
    assert_close("layer_norm", &f(&x.data, 16, &w.data, &b.data, 1e-12), &want.data, 1e-5);
}

pub fn matches_pytorch_on_rows_with_a_large_offset(f: LayerNorm) {
    // The same kind of rows shifted far from 0: the one-pass variance E[x²] - E[x]² loses every
    // digit here, the two-pass one does not.
    let (x, want) = op_case("layer_norm_offset", "x");
    let h = x.shape[1];
    assert_close("layer_norm_offset", &f(&x.data, h, &vec![1.0; h], &vec![0.0; h], 1e-5), &want.data, 1e-4);
}

pub fn four_consecutive_integers_near_ten_thousand(f: LayerNorm) {
    // Mean 10002.5, biased variance exactly 1.25: in f32 the one-pass formula gives -8 here.
    let y = f(&[10001.0, 10002.0, 10003.0, 10004.0], 4, &[1.0; 4], &[0.0; 4], 1e-12);
    assert_close("layer_norm", &y, &[-1.3416408, -0.4472136, 0.4472136, 1.3416408], 1e-5);
}

/// A constant row has variance 0: only eps keeps `0 / sqrt(0)` from being NaN, and the output is
/// then exactly beta (what `F.layer_norm` gives for such a row).
pub fn a_constant_row_gives_beta(f: LayerNorm) {
    let (gamma, beta) = ([1.0, 2.0, -3.0, 0.5], [0.25, -1.0, 0.0, 4.0]);
    let y = f(&[3.0, 3.0, 3.0, 3.0, -7.5, -7.5, -7.5, -7.5], 4, &gamma, &beta, 1e-5);
    assert_close("layer_norm of constant rows", &y, &[beta, beta].concat(), 0.0);
}

/// Rows whose variance is comparable to eps: eps belongs *inside* the square root
/// (`sqrt(var + eps)`), and dividing by `h - 1` (the unbiased variance) is not PyTorch's.
pub fn eps_goes_inside_the_square_root(f: LayerNorm) {
    let x = [0.001, -0.002, 0.0035, 0.0, 0.01, 0.012, 0.009, 0.011];
    let (gamma, beta) = ([1.0; 4], [0.0; 4]);
    let eps = 1e-5;
    let want = definition(&x, 4, &gamma, &beta, eps as f64);
    assert_close("layer_norm, variance near eps", &f(&x, 4, &gamma, &beta, eps), &want, 1e-4);
}
