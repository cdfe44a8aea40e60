//! Helpers shared by the integration tests: float comparison that prints the worst
//! difference, and proptest strategies that build tensors with awkward layouts.
#![allow(dead_code)]

use nanobert::Tensor;
use proptest::prelude::*;

/// Largest |a - b| over all entries (NaN against NaN counts as equal, NaN against a number
/// as infinitely far).
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "length mismatch");
    a.iter()
        .zip(b)
        .map(|(&x, &y)| {
            if x.is_nan() && y.is_nan() || x == y {
                0.0
            } else if x.is_nan() || y.is_nan() {
                f32::INFINITY
            } else {
                (x - y).abs()
            }
        })
        .fold(0.0, f32::max)
}

/// Asserts same shape and every entry within `tol` (absolute, or relative for large
/// values), printing the max abs difference on failure.
#[track_caller]
pub fn assert_close(actual: &Tensor, expected: &Tensor, tol: f32) {
    assert_eq!(actual.shape(), expected.shape(), "shapes differ");
    let (a, e) = (actual.to_vec(), expected.to_vec());
    let ok = a.iter().zip(&e).all(|(&x, &y)| {
        (x.is_nan() && y.is_nan()) || x == y || approx::relative_eq!(x, y, epsilon = tol, max_relative = tol)
    });
    assert!(ok, "max abs diff {} > tol {tol}\nactual:   {:?}\nexpected: {:?}", max_abs_diff(&a, &e), a, e);
}

/// Proptest settings: `cases` cases, no regression files.
pub fn config(cases: u32) -> ProptestConfig {
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

/// How a test tensor is laid out in memory; the logical shape and values do not depend
/// on it (except `Broadcast`, whose values repeat).
#[derive(Clone, Copy, Debug)]
pub enum Layout {
    Contiguous,
    /// Stored with the dimensions reversed, viewed through `permute`.
    Transposed,
    /// A `narrow` of a larger tensor (offset and, along the last dim, gaps).
    Narrowed,
    /// A size-1 dimension broadcast to full size (stride 0).
    Broadcast,
}

pub fn layout() -> impl Strategy<Value = Layout> {
    prop_oneof![Just(Layout::Contiguous), Just(Layout::Transposed), Just(Layout::Narrowed), Just(Layout::Broadcast)]
}

/// A tensor of the given logical shape, random values from `seed`, in the given layout.
pub fn make(shape: &[usize], layout: Layout, seed: u64) -> Tensor {
    let n = shape.len();
    match layout {
        _ if n == 0 => Tensor::randn(shape, seed),
        Layout::Contiguous => Tensor::randn(shape, seed),
        Layout::Transposed => {
            let rev: Vec<usize> = shape.iter().rev().copied().collect();
            let perm: Vec<usize> = (0..n).rev().collect();
            Tensor::randn(&rev, seed).permute(&perm).unwrap()
        }
        Layout::Narrowed if n == 1 => Tensor::randn(&[shape[0] + 2], seed).narrow(0, 1, shape[0]).unwrap(),
        Layout::Narrowed => {
            let mut big = shape.to_vec();
            big[0] += 2;
            big[n - 1] += 1;
            Tensor::randn(&big, seed).narrow(0, 1, shape[0]).unwrap().narrow(-1, 1, shape[n - 1]).unwrap()
        }
        Layout::Broadcast => {
            let mut small = shape.to_vec();
            small[0] = 1;
            Tensor::randn(&small, seed).broadcast_to(shape).unwrap()
        }
    }
}

/// Shapes of rank 1..=max_rank with sizes 1..=4.
pub fn shape(max_rank: usize) -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(1usize..=4, 1..=max_rank)
}

/// A shape that broadcasts to `full`: some leading dimensions dropped, some sizes set to 1.
pub fn broadcastable_to(full: Vec<usize>) -> impl Strategy<Value = Vec<usize>> {
    let n = full.len();
    (0..=n, prop::collection::vec(any::<bool>(), n)).prop_map(move |(drop, ones)| {
        full.iter().zip(&ones).skip(drop).map(|(&s, &one)| if one { 1 } else { s }).collect()
    })
}

/// Any-layout tensor of any small shape.
pub fn tensor(max_rank: usize) -> impl Strategy<Value = Tensor> {
    (shape(max_rank), layout(), any::<u64>()).prop_map(|(s, l, seed)| make(&s, l, seed))
}
