//! Tests of the scale-folding exercise (`src/scale_fold.rs`); the checks are in
//! `checks/scale_fold.rs`. The fold is not bit-exact: the outputs are held within a bound of
//! the unfolded graph's (`checks::scale_fold::BOUND`), and equal only when `1/√d` is a power of two.

mod checks;
mod common;
use checks::scale_fold as check;
use nanobert_exercises::scale_fold::fold_scale;

#[test]
fn folds_the_scale_into_the_query() {
    check::folds_the_scale_into_the_query(fold_scale);
}

#[test]
fn bit_exact_when_the_scale_is_a_power_of_two() {
    check::bit_exact_when_the_scale_is_a_power_of_two(fold_scale);
}

#[test]
fn folding_twice_changes_nothing() {
    check::folding_twice_changes_nothing(fold_scale);
}

#[test]
fn folds_two_in_a_row() {
    check::folds_two_in_a_row(fold_scale);
}

#[test]
fn leaves_values_others_need() {
    check::leaves_values_others_need(fold_scale);
}
