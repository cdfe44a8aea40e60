//! Reference solution: splitting a GEMM's rows between threads. Read it after you have tried
//! `src/split.rs`.

/// Contiguous, `mr`-aligned, balanced ranges of rows, one per thread (at most one per block).
pub fn split_rows(m: usize, threads: usize, mr: usize) -> Vec<std::ops::Range<usize>> {
    assert!(threads >= 1 && mr >= 1, "threads and mr must be at least 1");
    let blocks = m.div_ceil(mr);
    let parts = threads.min(blocks);
    let mut ranges = Vec::with_capacity(parts);
    let mut start_block = 0;
    for t in 0..parts {
        // The first `blocks % parts` ranges take one block more.
        let count = blocks / parts + usize::from(t < blocks % parts);
        let end_block = start_block + count;
        ranges.push(start_block * mr..(end_block * mr).min(m));
        start_block = end_block;
    }
    ranges
}
