//! Checks of the length-bucketing exercise (`src/bucketing.rs`), against the definition of the
//! padded work.

/// The learner's `plan_batches(lengths, batch_size)`.
pub type Plan = fn(&[usize], usize) -> Vec<Vec<usize>>;

/// Positions computed by a plan: each batch is padded to its longest text.
fn padded_positions(lengths: &[usize], plan: &[Vec<usize>]) -> usize {
    plan.iter().map(|b| b.len() * b.iter().map(|&i| lengths[i]).max().unwrap_or(0)).sum()
}

/// The least padded work with `ceil(n / size)` batches: sorted longest first, the k-th batch's
/// maximum is at least the (k·size)-th largest length, and the partial batch costs least where
/// the lengths are smallest.
fn least_positions(lengths: &[usize], size: usize) -> usize {
    let mut sorted = lengths.to_vec();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    sorted.chunks(size).map(|c| c.len() * c[0]).sum()
}

/// Every index once, at most `size` per batch, `ceil(n / size)` batches, and the least padding.
fn check(f: Plan, lengths: &[usize], size: usize) {
    let plan = f(lengths, size);
    let mut seen = vec![0usize; lengths.len()];
    for batch in &plan {
        assert!(!batch.is_empty() && batch.len() <= size, "a batch of {} texts with batch_size {size}", batch.len());
        for &i in batch {
            assert!(i < lengths.len(), "index {i} for {} texts", lengths.len());
            seen[i] += 1;
        }
    }
    assert!(seen.iter().all(|&c| c == 1), "each text must be in exactly one batch: counts {seen:?}");
    assert_eq!(plan.len(), lengths.len().div_ceil(size), "number of batches for {} texts", lengths.len());
    let (got, least) = (padded_positions(lengths, &plan), least_positions(lengths, size));
    assert_eq!(got, least, "padded positions of the plan {plan:?} for lengths {lengths:?}, batch_size {size}");
}

/// Mixed lengths in input order: cutting them as they come pads far more.
pub fn mixed_lengths_are_bucketed(f: Plan) {
    let lengths = [12, 3, 40, 7, 38, 5, 11, 39, 4, 13, 6, 41];
    check(f, &lengths, 4);
    check(f, &lengths, 3);
}

/// [1, 10, 10] in batches of 2: shortest first gives [1, 10] + [10] = 30 positions, longest
/// first [10, 10] + [1] = 21.
pub fn the_partial_batch_takes_the_shortest_texts(f: Plan) {
    check(f, &[1, 10, 10], 2);
    check(f, &[5, 30, 7, 31, 29, 6, 30], 3);
}

pub fn edge_cases(f: Plan) {
    assert!(f(&[], 4).is_empty(), "no texts, no batches");
    check(f, &[9], 8);
    check(f, &[3, 3, 3, 3], 1);
    check(f, &[8, 2, 5], 10);
}
