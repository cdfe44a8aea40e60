//! Tests of the timing-summary exercise (`src/stats.rs`); the checks are in `checks/stats.rs`.

mod checks;
mod common;
use checks::stats as check;
use nanobert_exercises::stats::{paired_speedup, summarize};

#[test]
fn summaries_match_numpy() {
    check::summaries_match_numpy(summarize);
}

#[test]
fn paired_speedup_is_the_median_of_per_round_ratios() {
    check::paired_speedup_is_the_median_of_per_round_ratios(paired_speedup);
}
