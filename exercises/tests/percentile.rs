//! Tests of the percentile exercise (`src/percentile.rs`); the checks are in
//! `checks/percentile.rs`.

mod checks;
mod common;
use checks::percentile as check;
use nanobert_exercises::percentile::percentile;

#[test]
fn matches_numpy_nearest_rank() {
    check::matches_numpy_nearest_rank(percentile);
}

#[test]
fn no_latencies_give_zero() {
    check::no_latencies_give_zero(percentile);
}
