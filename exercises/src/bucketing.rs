//! Exercise: the length-bucketing plan (chapter "Batching instead of for loops").
//!
//! A batch is padded to its longest text, and padded positions are computed and thrown away.
//! Given the token counts of the texts and a batch size, plan the batches so that the padded
//! work is as small as it can be with the fewest batches (`ceil(n / batch_size)`, every batch
//! full except at most one). The cost of a plan is `Σ_batches len(batch) · max length in it`.
//!
//! Sorting by length is the start, but not all of it: think about where the one partial batch
//! should go. (Sorted shortest first and cut from the front, the partial batch holds the
//! *longest* texts; the tests have a case where that costs more.)
//!
//! Run: `cargo test --release -p nanobert-exercises --test bucketing`
#![allow(unused_variables)] // the stubs do not use their arguments yet

/// The batches, as indices into `lengths` (every index exactly once), at most `batch_size` per
/// batch (`batch_size >= 1`), in `ceil(n / batch_size)` batches, with the fewest padded
/// positions. No texts, no batches.
pub fn plan_batches(lengths: &[usize], batch_size: usize) -> Vec<Vec<usize>> {
    todo!("exercise: sort, cut, and put the partial batch where it costs least")
}
