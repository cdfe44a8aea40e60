//! Tests of the FLOPs exercise (`src/flops.rs`); the checks are in `checks/flops.rs`.

mod checks;
mod common;
use nanobert_exercises::flops::bert_layer_flops;

#[test]
fn matches_pytorch_flop_counter() {
    checks::flops::matches_pytorch_flop_counter(bert_layer_flops);
}
