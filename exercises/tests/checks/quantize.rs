//! Checks of the per-channel int8 exercise (`src/quantize.rs`), against PyTorch's
//! `PerChannelMinMaxObserver` and `torch.quantize_per_channel`.

use crate::common::{exercise_cases, f32s};

/// The learner's `quantize_per_channel(w, rows, cols)`.
pub type Quantize = fn(&[f32], usize, usize) -> (Vec<i8>, Vec<f32>);

struct Case {
    w: Vec<f32>,
    rows: usize,
    cols: usize,
    scales: Vec<f32>,
    codes: Vec<i8>,
    zero_row: usize,
}

fn case() -> Case {
    let c = &exercise_cases()["quantize"];
    let dim = |k: &str| c[k].as_u64().unwrap() as usize;
    let codes = c["codes"].as_array().unwrap().iter().map(|v| v.as_i64().unwrap() as i8).collect();
    Case {
        w: f32s(&c["w"]),
        rows: dim("rows"),
        cols: dim("cols"),
        scales: f32s(&c["scales"]),
        codes,
        zero_row: dim("zero_row"),
    }
}

/// One scale per row, `max|row| / 127` (the zero row aside, where PyTorch clamps to its eps).
pub fn scales_match_pytorch(f: Quantize) {
    let c = case();
    let (_, scales) = f(&c.w, c.rows, c.cols);
    assert_eq!(scales.len(), c.rows, "one scale per row");
    for (r, (&got, &want)) in scales.iter().zip(&c.scales).enumerate() {
        if r == c.zero_row {
            assert!(
                got.is_finite() && got > 0.0,
                "row {r} is all zeros: its scale must be finite and positive, got {got}"
            );
        } else {
            assert!((got - want).abs() <= 1e-6 * want, "row {r}: scale {got}, PyTorch's {want}");
        }
    }
}

/// The codes, rounded to nearest, row 2 (60 times larger) not spoiling the others.
pub fn codes_match_pytorch(f: Quantize) {
    let c = case();
    let (codes, _) = f(&c.w, c.rows, c.cols);
    assert_eq!(codes.len(), c.codes.len(), "one code per weight");
    for (i, (&got, &want)) in codes.iter().zip(&c.codes).enumerate() {
        let (r, col) = (i / c.cols, i % c.cols);
        assert_eq!(got, want, "row {r}, column {col} (w = {}): code {got}, PyTorch's {want}", c.w[i]);
    }
}

/// `scale · q` is within half a step of every weight.
pub fn dequantized_weights_are_within_half_a_step(f: Quantize) {
    let c = case();
    let (codes, scales) = f(&c.w, c.rows, c.cols);
    for (i, (&q, &w)) in codes.iter().zip(&c.w).enumerate() {
        let s = scales[i / c.cols];
        let err = (s * q as f32 - w).abs();
        assert!(err <= 0.5 * s * 1.0001, "weight {i}: {w} came back as {} (scale {s})", s * q as f32);
    }
}
