//! Tests of the softmax exercise (`src/softmax.rs`); the checks are in `checks/softmax.rs`.

mod checks;
mod common;
use checks::softmax as check;
use nanobert_exercises::softmax::{softmax, softmax_naive};

#[test]
fn both_match_pytorch_on_ordinary_scores() {
    check::matches_pytorch_on_ordinary_scores("softmax", softmax);
    check::matches_pytorch_on_ordinary_scores("softmax_naive", softmax_naive);
}

#[test]
fn stable_softmax_matches_pytorch_on_huge_scores() {
    check::stable_softmax_matches_pytorch_on_huge_scores(softmax);
    check::stable_softmax_of_large_equal_spaced_scores(softmax);
}

#[test]
fn naive_softmax_overflows() {
    check::naive_softmax_overflows(softmax_naive);
}

#[test]
fn rows_sum_to_one_and_empty_rows_stay_empty() {
    check::rows_sum_to_one_and_empty_rows_stay_empty(softmax);
}
