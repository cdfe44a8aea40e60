//! Tests of the "find the pattern a pass misses" exercise (`src/gelu_pattern.rs`); the checks
//! are in `checks/gelu_pattern.rs`.

mod checks;
mod common;
use checks::gelu_pattern as check;
use nanobert_exercises::gelu_pattern::gelu_at;

#[test]
fn fuses_gelu_in_either_form() {
    check::fuses_gelu_in_either_form(gelu_at);
}

#[test]
fn leaves_what_is_not_gelu() {
    check::leaves_what_is_not_gelu(gelu_at);
}

#[test]
fn leaves_values_others_need() {
    check::leaves_values_others_need(gelu_at);
}
