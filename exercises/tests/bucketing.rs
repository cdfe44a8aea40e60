//! Tests of the length-bucketing exercise (`src/bucketing.rs`); the checks are in
//! `checks/bucketing.rs`.

mod checks;
mod common;
use checks::bucketing as check;
use nanobert_exercises::bucketing::plan_batches;

#[test]
fn mixed_lengths_are_bucketed() {
    check::mixed_lengths_are_bucketed(plan_batches);
}

#[test]
fn the_partial_batch_takes_the_shortest_texts() {
    check::the_partial_batch_takes_the_shortest_texts(plan_batches);
}

#[test]
fn edge_cases() {
    check::edge_cases(plan_batches);
}
