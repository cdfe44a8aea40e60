//! Tests of the LayerNorm exercise (`src/layer_norm.rs`); the checks are in `checks/layer_norm.rs`.

mod checks;
mod common;
use checks::layer_norm as check;
use nanobert_exercises::layer_norm::layer_norm;

#[test]
fn matches_pytorch_with_weight_and_bias() {
    check::matches_pytorch_with_weight_and_bias(layer_norm);
}

#[test]
fn matches_pytorch_on_rows_with_a_large_offset() {
    check::matches_pytorch_on_rows_with_a_large_offset(layer_norm);
}

#[test]
fn four_consecutive_integers_near_ten_thousand() {
    check::four_consecutive_integers_near_ten_thousand(layer_norm);
}

#[test]
fn a_constant_row_gives_beta() {
    check::a_constant_row_gives_beta(layer_norm);
}

#[test]
fn eps_goes_inside_the_square_root() {
    check::eps_goes_inside_the_square_root(layer_norm);
}
