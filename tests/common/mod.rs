//! Helpers shared by the integration tests: the one float comparison (prints the worst
//! difference, fails on NaN/inf), fixture paths, and proptest strategies that build tensors
//! with awkward layouts.
#![allow(dead_code)]

use std::path::PathBuf;

use nanobert::Tensor;
use nanobert::io::Weights;
use proptest::prelude::*;

/// Largest |a - b| over all entries. Panics (failing the test) on a length mismatch or on
/// any NaN or infinity on either side: a non-finite value never "matches" (the `f32::max`
/// one-liner this replaces reported an all-NaN output as difference 0).
/// The one implementation is the library's [`nanobert::tensor::max_abs_diff`].
#[track_caller]
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    nanobert::tensor::max_abs_diff(a, b).unwrap_or_else(|e| panic!("{e}"))
}

/// [`max_abs_diff`] of two tensors of the same shape.
#[track_caller]
pub fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
    a.max_abs_diff(b).unwrap_or_else(|e| panic!("{e}"))
}

/// Asserts same shape and every entry within `tol` (absolute, or relative for large
/// values), printing the max abs difference on failure. Fails on any non-finite value.
#[track_caller]
pub fn assert_close(actual: &Tensor, expected: &Tensor, tol: f32) {
    assert_eq!(actual.shape(), expected.shape(), "shapes differ");
    let (a, e) = (actual.to_vec(), expected.to_vec());
    let d = max_abs_diff(&a, &e);
    let ok = a.iter().zip(&e).all(|(&x, &y)| x == y || approx::relative_eq!(x, y, epsilon = tol, max_relative = tol));
    assert!(ok, "max abs diff {d} > tol {tol}\nactual:   {a:?}\nexpected: {e:?}");
}

/// Asserts `ours` matches the reference `theirs` (PyTorch's) within `tol` absolute, printing
/// the max difference; fails on shape mismatch and on any NaN or infinity.
#[track_caller]
pub fn assert_matches(what: &str, ours: &Tensor, theirs: &Tensor, tol: f32) {
    assert_eq!(ours.shape(), theirs.shape(), "{what}: shape {:?} vs PyTorch {:?}", ours.shape(), theirs.shape());
    let d = ours.max_abs_diff(theirs).unwrap_or_else(|e| panic!("{what}: {e}"));
    println!("{what}: max |ours - pytorch| = {d:.3e}");
    assert!(d <= tol, "{what}: max abs difference {d:.3e} > {tol:.0e}");
}

/// [`assert_matches`] for plain slices.
#[track_caller]
pub fn assert_slices_match(what: &str, ours: &[f32], theirs: &[f32], tol: f32) {
    let d = nanobert::tensor::max_abs_diff(ours, theirs).unwrap_or_else(|e| panic!("{what}: {e}"));
    println!("{what}: max |ours - reference| = {d:.3e}");
    assert!(d <= tol, "{what}: max abs difference {d:.3e} > {tol:.0e}");
}

/// The repository's root (the library's package): these helpers are shared by the tests of
/// every crate in the workspace (crates/* include them by path).
pub fn repo_root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.ancestors().find(|p| p.join("tests/fixtures").is_dir()).unwrap_or(&here).to_path_buf()
}

/// A fixture file or directory under tests/fixtures.
pub fn fixture(path: &str) -> PathBuf {
    repo_root().join("tests/fixtures").join(path)
}

/// A reference file written by scripts/make_fixtures.py.
pub fn reference(path: &str) -> Weights {
    Weights::open(&fixture(path)).unwrap_or_else(|e| panic!("reading fixture {path}: {e}"))
}

/// An i64 tensor of a reference file as u32 token ids.
pub fn ids(w: &Weights, name: &str) -> (Vec<u32>, Vec<usize>) {
    let (v, shape) = w.get_i64(name).unwrap_or_else(|e| panic!("{name}: {e}"));
    (v.into_iter().map(|x| x as u32).collect(), shape)
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
