//! Tests of the LayerNorm exercise (`src/layer_norm.rs`), against `F.layer_norm`.

mod common;
use common::{assert_close, op_case, op_input};
use nanobert_exercises::layer_norm::layer_norm;

#[test]
fn matches_pytorch_with_weight_and_bias() {
    let (x, want) = op_case("layer_norm", "x"); // [5, 16], eps 1e-12 as in BERT
    let (w, b) = (op_input("layer_norm", "weight").unwrap(), op_input("layer_norm", "bias").unwrap());
    assert_close("layer_norm", &layer_norm(&x.data, 16, &w.data, &b.data, 1e-12), &want.data, 1e-5);
}

#[test]
fn matches_pytorch_on_rows_with_a_large_offset() {
    // The same kind of rows shifted far from 0: the one-pass variance E[x²] - E[x]² loses every
    // digit here, the two-pass one does not.
    let (x, want) = op_case("layer_norm_offset", "x");
    let h = x.shape[1];
    assert_close("layer_norm_offset", &layer_norm(&x.data, h, &vec![1.0; h], &vec![0.0; h], 1e-5), &want.data, 1e-4);
}

#[test]
fn four_consecutive_integers_near_ten_thousand() {
    // Mean 10002.5, biased variance exactly 1.25: in f32 the one-pass formula gives -8 here.
    let y = layer_norm(&[10001.0, 10002.0, 10003.0, 10004.0], 4, &[1.0; 4], &[0.0; 4], 1e-12);
    assert_close("layer_norm", &y, &[-1.3416408, -0.4472136, 0.4472136, 1.3416408], 1e-5);
}
