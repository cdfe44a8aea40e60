//! Checks of the softmax exercise (`src/softmax.rs`), against `torch.softmax`.

use crate::common::{assert_close, op_case};

/// The learner's `softmax` or `softmax_naive`.
pub type Softmax = fn(&[f32]) -> Vec<f32>;

/// Applies `f` to every row of length `len`.
fn rows(data: &[f32], len: usize, f: Softmax) -> Vec<f32> {
    data.chunks(len).flat_map(f).collect()
}

/// `f` (either version) against PyTorch on ordinary scores.
pub fn matches_pytorch_on_ordinary_scores(name: &str, f: Softmax) {
    let (x, want) = op_case("softmax", "x"); // [2, 3, 4, 5] randn, softmax over the last dim
    let len = *x.shape.last().unwrap();
    assert_close(name, &rows(&x.data, len, f), &want.data, 1e-6);
}

pub fn stable_softmax_matches_pytorch_on_huge_scores(f: Softmax) {
    // Rows [1e30, -1e30, 0], [88, 89, 90], [-1e4, 0, 1e4].
    let (x, want) = op_case("softmax_huge", "x");
    assert_close("softmax", &rows(&x.data, 3, f), &want.data, 1e-6);
}

/// exp(90) = 1.2e39 is above f32::MAX (3.4e38): inf / inf = NaN. Passes only if `naive` really
/// is the naive formula, in f32.
pub fn naive_softmax_overflows(naive: Softmax) {
    let p = naive(&[88.0, 89.0, 90.0]);
    assert!(p[2].is_nan(), "expected NaN from inf / inf, got {p:?}");
    assert!(naive(&[1000.0, 1001.0, 1002.0]).iter().all(|v| v.is_nan()));
}

pub fn stable_softmax_of_large_equal_spaced_scores(f: Softmax) {
    // PyTorch's [0.0900, 0.2447, 0.6652] on [1000, 1001, 1002].
    assert_close("softmax", &f(&[1000.0, 1001.0, 1002.0]), &[0.09003057, 0.24472848, 0.66524094], 1e-6);
}

pub fn rows_sum_to_one_and_empty_rows_stay_empty(f: Softmax) {
    let p = f(&[3.0, -1.0, 0.5, 7.0]);
    assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-6);
    assert!(f(&[]).is_empty());
}
