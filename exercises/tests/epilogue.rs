//! Tests of the bias + GELU epilogue exercise (`src/epilogue.rs`); the checks are in
//! `checks/epilogue.rs`.

mod checks;
mod common;
use checks::epilogue as check;
use nanobert_exercises::epilogue::gemm_bias_gelu;

#[test]
fn matches_pytorch_on_a_random_linear() {
    check::matches_pytorch_on_a_random_linear(gemm_bias_gelu);
}

#[test]
fn exact_gelu_of_every_input_from_minus_four_to_four() {
    check::exact_gelu_of_every_input_from_minus_four_to_four(gemm_bias_gelu);
}
