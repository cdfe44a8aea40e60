//! Reference solution: the length-bucketing plan. Read it after you have tried `src/bucketing.rs`.

/// Longest first, cut into batches of `batch_size`: the partial batch, if any, is the last and
/// holds the shortest texts, so its small size multiplies the smallest maximum.
pub fn plan_batches(lengths: &[usize], batch_size: usize) -> Vec<Vec<usize>> {
    assert!(batch_size >= 1, "batch_size must be at least 1");
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(lengths[i])); // stable: ties keep input order
    order.chunks(batch_size).map(|c| c.to_vec()).collect()
}
