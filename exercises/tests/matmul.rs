//! Tests of the reordered GEMM exercise (`src/matmul.rs`); the checks are in `checks/matmul.rs`.

mod checks;
mod common;
use checks::matmul as check;
use nanobert_exercises::matmul::sgemm_reordered;

#[test]
fn two_by_two() {
    check::two_by_two(sgemm_reordered);
}

#[test]
fn rectangular_shapes_match_the_definition() {
    check::rectangular_shapes_match_the_definition(sgemm_reordered);
}

#[test]
fn b_is_read_row_by_row_not_column_by_column() {
    check::b_is_read_row_by_row(sgemm_reordered);
}

#[test]
fn empty_dimensions() {
    check::empty_dimensions(sgemm_reordered);
}
