//! Checks of the row-splitting exercise (`src/split.rs`), against its definition.

use std::ops::Range;

/// The learner's `split_rows(m, threads, mr)`.
pub type Split = fn(usize, usize, usize) -> Vec<Range<usize>>;

fn check(f: Split, m: usize, threads: usize, mr: usize) {
    let ranges = f(m, threads, mr);
    let what = format!("split_rows({m}, {threads}, {mr}) = {ranges:?}");
    let blocks = m.div_ceil(mr);
    assert_eq!(ranges.len(), threads.min(blocks), "{what}: one range per thread, or per block if fewer");
    let mut next = 0;
    for r in &ranges {
        assert_eq!(r.start, next, "{what}: ranges must cover the rows in order, without gaps or overlaps");
        assert!(r.end > r.start, "{what}: an empty range");
        assert_eq!(r.start % mr, 0, "{what}: a range starts mid-block (mr = {mr})");
        next = r.end;
    }
    assert_eq!(next, m, "{what}: the ranges must end at m");
    let sizes: Vec<usize> = ranges.iter().map(|r| r.end.div_ceil(mr) - r.start / mr).collect();
    let (lo, hi) = (sizes.iter().min().copied().unwrap_or(0), sizes.iter().max().copied().unwrap_or(0));
    assert!(hi - lo <= 1, "{what}: blocks per range {sizes:?} differ by more than one");
}

/// BERT's shapes: 128 tokens in blocks of 14 or 8, on 2, 3 and 8 threads.
pub fn bert_shapes_split_evenly_on_block_boundaries(f: Split) {
    for &(m, t, mr) in &[(128, 2, 14), (128, 3, 14), (128, 8, 8), (1024, 2, 14), (100, 7, 6), (129, 2, 8)] {
        check(f, m, t, mr);
    }
}

/// Fewer blocks than threads, one thread, and no rows.
pub fn small_products_and_edges(f: Split) {
    for &(m, t, mr) in &[(20, 8, 14), (5, 3, 8), (14, 2, 14), (13, 1, 4), (1, 4, 1), (7, 7, 1)] {
        check(f, m, t, mr);
    }
    assert!(f(0, 4, 8).is_empty(), "split_rows(0, ...) must give no ranges");
}
