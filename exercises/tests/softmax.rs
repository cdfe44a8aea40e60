//! Tests of the softmax exercise (`src/softmax.rs`), against `torch.softmax`.

mod common;
use common::{assert_close, op_case};
use nanobert_exercises::softmax::{softmax, softmax_naive};

/// Applies `f` to every row of length `shape.last()`.
fn rows(data: &[f32], len: usize, f: fn(&[f32]) -> Vec<f32>) -> Vec<f32> {
    data.chunks(len).flat_map(f).collect()
}

#[test]
fn both_match_pytorch_on_ordinary_scores() {
    let (x, want) = op_case("softmax", "x"); // [2, 3, 4, 5] randn, softmax over the last dim
    let len = *x.shape.last().unwrap();
    assert_close("softmax", &rows(&x.data, len, softmax), &want.data, 1e-6);
    assert_close("softmax_naive", &rows(&x.data, len, softmax_naive), &want.data, 1e-6);
}

#[test]
fn stable_softmax_matches_pytorch_on_huge_scores() {
    // Rows [1e30, -1e30, 0], [88, 89, 90], [-1e4, 0, 1e4].
    let (x, want) = op_case("softmax_huge", "x");
    assert_close("softmax", &rows(&x.data, 3, softmax), &want.data, 1e-6);
}

#[test]
fn naive_softmax_overflows() {
    // exp(90) = 1.2e39 is above f32::MAX (3.4e38): inf / inf = NaN. This is the point of the
    // exercise: it passes only if softmax_naive really is the naive formula, in f32.
    let p = softmax_naive(&[88.0, 89.0, 90.0]);
    assert!(p[2].is_nan(), "expected NaN from inf / inf, got {p:?}");
    assert!(softmax_naive(&[1000.0, 1001.0, 1002.0]).iter().all(|v| v.is_nan()));
    // The stable one gives PyTorch's [0.0900, 0.2447, 0.6652] on the same row.
    assert_close("softmax", &softmax(&[1000.0, 1001.0, 1002.0]), &[0.09003057, 0.24472848, 0.66524094], 1e-6);
}

#[test]
fn rows_sum_to_one_and_empty_rows_stay_empty() {
    let p = softmax(&[3.0, -1.0, 0.5, 7.0]);
    assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-6);
    assert!(softmax(&[]).is_empty());
}
