//! Tests of the per-channel int8 exercise (`src/quantize.rs`); the checks are in
//! `checks/quantize.rs`.

mod checks;
mod common;
use checks::quantize as check;
use nanobert_exercises::quantize::quantize_per_channel;

#[test]
fn scales_match_pytorch() {
    check::scales_match_pytorch(quantize_per_channel);
}

#[test]
fn codes_match_pytorch() {
    check::codes_match_pytorch(quantize_per_channel);
}

#[test]
fn dequantized_weights_are_within_half_a_step() {
    check::dequantized_weights_are_within_half_a_step(quantize_per_channel);
}
