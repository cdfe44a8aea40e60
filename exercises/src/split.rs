//! Exercise: splitting a GEMM's rows between threads (chapter "Threads and other magic configs").
//!
//! nanobert splits a large product by rows of C: each thread computes a contiguous range of rows
//! with its own copy of the microkernel, so no two threads write the same element and the result
//! does not depend on the thread count. The microkernel computes `mr` rows at a time, so a range
//! should start on a multiple of `mr` (a range cut mid-block wastes a partial block on each side).
//! A join waits for the slowest thread, so the ranges should be as even as the blocks allow.
//!
//! Run: `cargo test --release -p nanobert-exercises --test split`
#![allow(unused_variables)] // the stubs do not use their arguments yet

/// Splits rows `0..m` into contiguous ranges, in order, for at most `threads` threads
/// (`threads >= 1`, `mr >= 1`):
///
/// - every row in exactly one range, no range empty;
/// - every range starts at a multiple of `mr` (the last one may end at `m`, mid-block);
/// - as many ranges as there are threads, unless there are fewer blocks of `mr` rows than
///   threads (then one block per range);
/// - the numbers of blocks in two ranges differ by at most one.
///
/// `m == 0` gives no ranges.
pub fn split_rows(m: usize, threads: usize, mr: usize) -> Vec<std::ops::Range<usize>> {
    todo!("exercise: count the blocks, share them out evenly, turn blocks back into rows")
}
