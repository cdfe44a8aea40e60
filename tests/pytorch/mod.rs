//! Helpers for the model tests: fixture paths, reading the reference tensors PyTorch wrote,
//! and comparing with them while printing the max difference.
#![allow(dead_code)]

use std::path::PathBuf;

use nanobert::Tensor;
use nanobert::io::Weights;

pub fn fixture(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(path)
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

pub fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.shape(), b.shape(), "shapes differ");
    a.to_vec().iter().zip(b.to_vec()).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

/// Asserts `ours` matches PyTorch's `theirs` within `tol`, printing the max difference.
pub fn assert_close(what: &str, ours: &Tensor, theirs: &Tensor, tol: f32) {
    assert_eq!(ours.shape(), theirs.shape(), "{what}: shape {:?} vs PyTorch {:?}", ours.shape(), theirs.shape());
    let d = max_abs_diff(ours, theirs);
    println!("{what}: max |ours - pytorch| = {d:.3e}");
    assert!(d <= tol, "{what}: max abs difference {d:.3e} > {tol:.0e}");
}
