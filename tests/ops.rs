//! Ops against their references (proptests over awkward layouts), invariants, edge cases.

mod common;

use common::{assert_close, broadcastable_to, layout, make, max_abs_diff, shape, tensor};
use nanobert::ops::{self, matmul::matmul};
use nanobert::tensor::Rng;
use nanobert::{Error, Tensor};
use proptest::prelude::*;

fn t(data: &[f32], shape: &[usize]) -> Tensor {
    Tensor::from_vec(data.to_vec(), shape).unwrap()
}

// ------------------------------------------------------------------------------------------
// Elementwise and broadcasting
// ------------------------------------------------------------------------------------------

/// Two tensors whose shapes broadcast together, either side the smaller, any layouts.
fn broadcast_pair() -> impl Strategy<Value = (Tensor, Tensor)> {
    shape(4)
        .prop_flat_map(|full| (Just(full.clone()), broadcastable_to(full), any::<bool>()))
        .prop_flat_map(|(full, small, swap)| {
            let (sa, sb) = if swap { (small, full) } else { (full, small) };
            (Just(sa), Just(sb), layout(), layout(), any::<u64>())
        })
        .prop_map(|(sa, sb, la, lb, seed)| {
            let b = make(&sb, lb, seed ^ 0x5555);
            // Keep divisors away from 0 so `div` compares finite values.
            let b = ops::map(&b, |v| if v.abs() < 0.1 { 0.5 } else { v });
            (make(&sa, la, seed), b)
        })
}

proptest! {
    #![proptest_config(common::config(64))]

    #[test]
    fn binary_ops_match_reference((a, b) in broadcast_pair()) {
        assert_close(&ops::add(&a, &b).unwrap(), &ops::add_ref(&a, &b).unwrap(), 0.0);
        assert_close(&ops::sub(&a, &b).unwrap(), &ops::sub_ref(&a, &b).unwrap(), 0.0);
        assert_close(&ops::mul(&a, &b).unwrap(), &ops::mul_ref(&a, &b).unwrap(), 0.0);
        assert_close(&ops::div(&a, &b).unwrap(), &ops::div_ref(&a, &b).unwrap(), 0.0);
    }

    #[test]
    fn broadcasting_equals_explicit_expansion((a, b) in broadcast_pair()) {
        let shape = ops::broadcast_shape("test", a.shape(), b.shape()).unwrap();
        let ea = a.broadcast_to(&shape).unwrap().contiguous();
        let eb = b.broadcast_to(&shape).unwrap().contiguous();
        prop_assert_eq!(ea.shape(), &shape[..]);
        prop_assert!(ops::mul(&a, &b).unwrap() == ops::mul(&ea, &eb).unwrap());
        prop_assert!(ops::sub(&a, &b).unwrap() == ops::sub(&ea, &eb).unwrap());
    }

    #[test]
    fn map_and_scalars_match_elementwise(x in tensor(4), s in -3.0f32..3.0) {
        let expected: Vec<f32> = x.to_vec().iter().map(|v| v * s + 1.0).collect();
        let got = ops::add_scalar(&ops::mul_scalar(&x, s), 1.0);
        prop_assert!(got.is_contiguous());
        prop_assert_eq!(got.to_vec(), expected);
        prop_assert_eq!(ops::map(&x, |v| v * v).to_vec(), x.to_vec().iter().map(|v| v * v).collect::<Vec<_>>());
    }

    #[test]
    fn views_equal_their_copies(x in tensor(4)) {
        let c = x.contiguous();
        prop_assert!(c.is_contiguous());
        prop_assert_eq!(c.to_vec(), x.to_vec());
        // Element access agrees between the view and the copy.
        let last: Vec<usize> = x.shape().iter().map(|n| n - 1).collect();
        prop_assert_eq!(x.get(&last).unwrap(), c.get(&last).unwrap());
        // A view of a view: transposing twice gives back the same values.
        if x.ndim() >= 2 {
            let tt = x.transpose(0, -1).unwrap().transpose(0, -1).unwrap();
            prop_assert!(tt == x);
        }
    }
}

#[test]
fn broadcast_shape_rules() {
    assert_eq!(ops::broadcast_shape("t", &[2, 1, 4], &[3, 1]).unwrap(), vec![2, 3, 4]);
    assert_eq!(ops::broadcast_shape("t", &[], &[5]).unwrap(), vec![5]);
    assert_eq!(ops::broadcast_shape("t", &[0, 3], &[1, 3]).unwrap(), vec![0, 3]);
    let err = ops::broadcast_shape("add", &[2, 3], &[4]).unwrap_err().to_string();
    assert!(err.contains("add") && err.contains("[2, 3]") && err.contains("[4]"), "{err}");
    assert!(matches!(ops::add(&Tensor::zeros(&[2, 3]), &Tensor::zeros(&[2])), Err(Error::ShapeMismatch { .. })));
}

#[test]
fn bias_row_hot_path_both_sides() {
    // [N, H] + [H] and [H] - [N, H]: the contiguous-row fast path, large enough to go parallel.
    let x = Tensor::randn(&[300, 128], 1);
    let bias = Tensor::randn(&[128], 2);
    assert_close(&ops::add(&x, &bias).unwrap(), &ops::add_ref(&x, &bias).unwrap(), 0.0);
    assert_close(&ops::sub(&bias, &x).unwrap(), &ops::sub_ref(&bias, &x).unwrap(), 0.0);
    let y = Tensor::randn(&[300, 128], 3);
    assert_close(&ops::mul(&x, &y).unwrap(), &ops::mul_ref(&x, &y).unwrap(), 0.0);
    // [B, 1, 1, S] mask against [B, H, S, S] scores is not a row; it takes the general path.
    let scores = Tensor::randn(&[2, 3, 4, 4], 4);
    let mask = Tensor::randn(&[2, 1, 1, 4], 5);
    assert_close(&ops::add(&scores, &mask).unwrap(), &ops::add_ref(&scores, &mask).unwrap(), 0.0);
}

#[test]
fn elementwise_edge_shapes() {
    // Empty dimension.
    let e = ops::add(&Tensor::zeros(&[0, 3]), &t(&[1.0, 2.0, 3.0], &[3])).unwrap();
    assert_eq!(e.shape(), &[0, 3]);
    assert_eq!(e.numel(), 0);
    // 0-d with 0-d, and 0-d broadcast against a matrix.
    assert_eq!(ops::mul(&Tensor::scalar(3.0), &Tensor::scalar(-2.0)).unwrap().item().unwrap(), -6.0);
    let m = ops::div(&Tensor::scalar(1.0), &t(&[1.0, 2.0, 4.0, 8.0], &[2, 2])).unwrap();
    assert_eq!(m.to_vec(), vec![1.0, 0.5, 0.25, 0.125]);
    // IEEE division.
    let d = ops::div(&t(&[1.0, -1.0, 0.0], &[3]), &Tensor::zeros(&[3])).unwrap().to_vec();
    assert_eq!((d[0], d[1]), (f32::INFINITY, f32::NEG_INFINITY));
    assert!(d[2].is_nan());
}

// ------------------------------------------------------------------------------------------
// Reductions
// ------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(common::config(64))]

    #[test]
    fn reductions_match_reference(x in tensor(4), d in 0usize..4, keepdim in any::<bool>()) {
        let dim = (d % x.ndim()) as isize;
        for (fast, slow) in [
            (ops::sum(&x, dim, keepdim).unwrap(), ops::sum_ref(&x, dim, keepdim).unwrap()),
            (ops::mean(&x, dim, keepdim).unwrap(), ops::mean_ref(&x, dim, keepdim).unwrap()),
            (ops::max(&x, dim, keepdim).unwrap(), ops::max_ref(&x, dim, keepdim).unwrap()),
        ] {
            assert_close(&fast, &slow, 1e-5);
        }
        // Negative dims count from the end.
        let neg = dim - x.ndim() as isize;
        prop_assert!(ops::sum(&x, neg, keepdim).unwrap() == ops::sum(&x, dim, keepdim).unwrap());
    }
}

#[test]
fn reduction_shapes_and_values() {
    let x = t(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
    assert_eq!(ops::sum(&x, 0, false).unwrap().to_vec(), vec![5.0, 7.0, 9.0]);
    let s = ops::sum(&x, -1, true).unwrap();
    assert_eq!((s.shape(), s.to_vec()), (&[2usize, 1][..], vec![6.0, 15.0]));
    assert_eq!(ops::mean(&x, 1, false).unwrap().to_vec(), vec![2.0, 5.0]);
    assert_eq!(ops::max(&x, 0, false).unwrap().to_vec(), vec![4.0, 5.0, 6.0]);
    // NaN propagates through max, like PyTorch.
    assert!(ops::max(&t(&[1.0, f32::NAN, 3.0], &[3]), 0, false).unwrap().item().unwrap().is_nan());
    // A 0-d tensor reduces to itself along dim 0 or -1.
    assert_eq!(ops::sum(&Tensor::scalar(2.5), -1, false).unwrap().item().unwrap(), 2.5);
    assert!(ops::sum(&Tensor::scalar(2.5), 1, false).is_err());
    let err = ops::sum(&x, 2, false).unwrap_err().to_string();
    assert!(err.contains("sum") && err.contains("[2, 3]"), "{err}");
}

#[test]
fn reductions_over_empty_dims() {
    let e = Tensor::zeros(&[2, 0]);
    assert_eq!(ops::sum(&e, 1, false).unwrap().to_vec(), vec![0.0, 0.0]);
    assert!(ops::mean(&e, 1, false).unwrap().to_vec().iter().all(|v| v.is_nan()));
    let err = ops::max(&e, 1, false).unwrap_err().to_string();
    assert!(err.contains("max") && err.contains("size 0"), "{err}");
    // Reducing a non-empty dimension of a tensor that is empty elsewhere: empty result.
    let r = ops::sum(&Tensor::zeros(&[0, 3]), 1, true).unwrap();
    assert_eq!(r.shape(), &[0, 1]);
    assert_eq!(ops::max(&Tensor::zeros(&[3, 0]), 0, false).unwrap().shape(), &[0]);
}

// ------------------------------------------------------------------------------------------
// Softmax
// ------------------------------------------------------------------------------------------

fn scores_and_mask() -> impl Strategy<Value = (Tensor, Option<Tensor>)> {
    shape(4)
        .prop_flat_map(|s| {
            let mask_shape = broadcastable_to(s.clone());
            (Just(s), mask_shape, layout(), any::<u64>(), any::<bool>())
        })
        .prop_map(|(s, ms, l, seed, with_mask)| {
            let x = ops::mul_scalar(&make(&s, l, seed), 5.0);
            // Entries of the mask are 0 or -inf (about one in three masked).
            let m = ops::map(&Tensor::rand(&ms, seed ^ 7), |u| if u < 0.33 { f32::NEG_INFINITY } else { 0.0 });
            (x, with_mask.then_some(m))
        })
}

proptest! {
    #![proptest_config(common::config(64))]

    #[test]
    fn softmax_matches_reference((x, mask) in scores_and_mask()) {
        let got = ops::softmax(&x, mask.as_ref()).unwrap();
        assert_close(&got, &ops::softmax_ref(&x, mask.as_ref()).unwrap(), 1e-6);
    }

    #[test]
    fn softmax_rows_sum_to_one_or_zero((x, mask) in scores_and_mask()) {
        let y = ops::softmax(&x, mask.as_ref()).unwrap();
        let v = y.to_vec();
        prop_assert!(v.iter().all(|p| (0.0..=1.0).contains(p)), "not probabilities: {v:?}");
        for row in v.chunks(*x.shape().last().unwrap()) {
            let s: f32 = row.iter().sum();
            // A fully masked row is all zeros; every other row sums to 1.
            prop_assert!((s - 1.0).abs() < 1e-5 || row.iter().all(|&p| p == 0.0), "row {row:?} sums to {s}");
        }
    }
}

#[test]
fn softmax_huge_logits_and_masked_rows() {
    let x = t(&[1e30, -1e30, 0.0, 1e30, 1e30, -1e30, -1e30, -1e30, -1e30], &[3, 3]);
    let y = ops::softmax(&x, None).unwrap().to_vec();
    assert_eq!(&y[..3], &[1.0, 0.0, 0.0]);
    assert_eq!(&y[3..6], &[0.5, 0.5, 0.0]);
    assert!(y[6..].iter().all(|&p| (p - 1.0 / 3.0).abs() < 1e-7), "{y:?}");
    // Fully masked row: zeros, never NaN.
    let inf = f32::NEG_INFINITY;
    let mask = t(&[0.0, inf, 0.0, inf, inf, inf], &[2, 1, 3]);
    let y = ops::softmax(&Tensor::ones(&[2, 2, 3]), Some(&mask)).unwrap().to_vec();
    assert_eq!(y, vec![0.5, 0.0, 0.5, 0.5, 0.0, 0.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
    // The slice helper does the same in place.
    let mut buf = vec![0.0, 0.0, inf, inf];
    ops::softmax_rows_in_place(&mut buf, 2);
    assert_eq!(buf, vec![0.5, 0.5, 0.0, 0.0]);
}

/// NaN is never laundered: a row holding NaN (or +inf) comes out all NaN, exactly
/// like `torch.softmax` (checked with torch 2.x: `softmax([1, nan, 2])`, `softmax([nan] * 3)`,
/// `softmax([1, inf, 2])` and `softmax([-inf, nan, 0])` are all `[nan, nan, nan]`). Only a row
/// of nothing but `-inf` (fully masked) is defined as zeros. Every softmax path — the tensor op,
/// the in-place slice form attention uses (serial and parallel), the reference, and any fused
/// attention softmax — must keep this; `fused_attention_keeps_nan` in tests/bert.rs checks the
/// whole model.
#[test]
fn softmax_propagates_nan_like_pytorch() {
    let (nan, inf) = (f32::NAN, f32::INFINITY);
    let rows = [[1.0, nan, 2.0], [nan, nan, nan], [1.0, inf, 2.0], [-inf, nan, 0.0]];
    let x = t(&rows.concat(), &[4, 3]);
    for (name, y) in [
        ("softmax", ops::softmax(&x, None).unwrap().to_vec()),
        ("softmax_ref", ops::softmax_ref(&x, None).unwrap().to_vec()),
        ("softmax with a NaN mask", ops::softmax(&Tensor::zeros(&[4, 3]), Some(&x)).unwrap().to_vec()),
    ] {
        assert!(y.iter().all(|v| v.is_nan()), "{name}: every row holds a NaN or +inf, so all NaN: {y:?}");
    }
    // In place, serial and parallel (large enough to split across threads), NaN rows among
    // ordinary ones: only the NaN rows turn NaN.
    for rows_n in [4, 20_000] {
        let mut buf: Vec<f32> = (0..rows_n * 3).map(|i| (i % 7) as f32).collect();
        buf[3..6].fill(nan); // row 1: all NaN
        buf[3 * (rows_n - 1) + 1] = nan; // last row: one NaN
        ops::softmax_rows_in_place(&mut buf, 3);
        for (r, row) in buf.chunks(3).enumerate() {
            if r == 1 || r == rows_n - 1 {
                assert!(row.iter().all(|v| v.is_nan()), "{rows_n} rows: row {r} must be NaN: {row:?}");
            } else {
                assert!(row.iter().all(|v| v.is_finite()) && (row.iter().sum::<f32>() - 1.0).abs() < 1e-5, "{row:?}");
            }
        }
    }
    // Fully masked (-inf only) stays zeros.
    let y = ops::softmax(&t(&[-inf, -inf], &[1, 2]), None).unwrap().to_vec();
    assert_eq!(y, vec![0.0, 0.0]);
}

/// The shared comparison fails on any non-finite value instead of reporting
/// difference 0, which is what `fold(0.0, f32::max)` did for an all-NaN output.
#[test]
fn comparison_helper_fails_on_nan_and_inf() {
    let good = [1.0f32, 2.0, 3.0];
    assert_eq!(max_abs_diff(&good, &[1.0, 2.5, 3.0]), 0.5);
    // The old one-liner: an all-NaN output "matches" with difference 0.
    let old = [f32::NAN; 3].iter().zip(&good).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert_eq!(old, 0.0, "the trap this helper exists for");
    for (ours, theirs) in [
        ([f32::NAN; 3], good),
        ([1.0, f32::NAN, 3.0], good),
        ([1.0, 2.0, f32::INFINITY], good),
        (good, [1.0, f32::NEG_INFINITY, 3.0]),
        ([f32::NAN; 3], [f32::NAN; 3]),
    ] {
        let err = nanobert::tensor::max_abs_diff(&ours, &theirs).unwrap_err().to_string();
        assert!(err.contains("not finite"), "{err}");
        let panicked = std::panic::catch_unwind(|| max_abs_diff(&ours, &theirs)).is_err();
        assert!(panicked, "common::max_abs_diff must fail on {ours:?} vs {theirs:?}");
        let (a, b) = (t(&ours, &[3]), t(&theirs, &[3]));
        assert!(std::panic::catch_unwind(|| assert_close(&a, &b, 1.0)).is_err(), "assert_close {ours:?}");
        assert!(
            std::panic::catch_unwind(|| common::assert_matches("x", &a, &b, 1.0)).is_err(),
            "assert_matches {ours:?}"
        );
        assert!(a.max_abs_diff(&b).is_err());
    }
    // Lengths and shapes must agree.
    assert!(nanobert::tensor::max_abs_diff(&good, &good[..2]).is_err());
    assert!(t(&good, &[3]).max_abs_diff(&t(&good, &[1, 3])).is_err());
}

#[test]
fn softmax_bert_mask_shape_and_errors() {
    // [B, 1, 1, S] padding mask against [B, H, S, S] scores equals the explicit sum.
    let scores = Tensor::randn(&[2, 3, 4, 4], 11);
    let mask = t(&[0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -1e4, -1e4], &[2, 1, 1, 4]);
    let explicit = ops::add(&scores, &mask).unwrap();
    assert_close(&ops::softmax(&scores, Some(&mask)).unwrap(), &ops::softmax(&explicit, None).unwrap(), 0.0);
    // Large input goes through the parallel path.
    let big = Tensor::randn(&[64, 8, 128], 12);
    assert_close(&ops::softmax(&big, None).unwrap(), &ops::softmax_ref(&big, None).unwrap(), 1e-6);
    // A mask that does not broadcast is an error naming softmax and both shapes.
    let err = ops::softmax(&scores, Some(&Tensor::zeros(&[3, 1, 1, 4]))).unwrap_err().to_string();
    assert!(err.contains("softmax") && err.contains("[2, 3, 4, 4]") && err.contains("[3, 1, 1, 4]"), "{err}");
    // Edge shapes: 1 element, empty last dim, 0-d.
    assert_eq!(ops::softmax(&t(&[-7.0], &[1]), None).unwrap().to_vec(), vec![1.0]);
    assert_eq!(ops::softmax(&Tensor::zeros(&[2, 0]), None).unwrap().shape(), &[2, 0]);
    assert_eq!(ops::softmax(&Tensor::scalar(3.0), None).unwrap().item().unwrap(), 1.0);
}

// ------------------------------------------------------------------------------------------
// Layer norm
// ------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(common::config(64))]

    #[test]
    fn layer_norm_matches_reference(x in tensor(3), affine in any::<bool>(), seed in any::<u64>()) {
        let h = *x.shape().last().unwrap();
        let w = Tensor::randn(&[h], seed);
        let b = Tensor::randn(&[h], seed + 1);
        let (w, b) = if affine { (Some(&w), Some(&b)) } else { (None, None) };
        let got = ops::layer_norm(&x, w, b, 1e-5).unwrap();
        assert_close(&got, &ops::layer_norm_ref(&x, w, b, 1e-5).unwrap(), 1e-4);
    }

    #[test]
    fn layer_norm_rows_have_mean_0_var_1(rows in 1usize..5, h in 2usize..40, seed in any::<u64>()) {
        let x = ops::add_scalar(&ops::mul_scalar(&Tensor::randn(&[rows, h], seed), 4.0), 10.0);
        let y = ops::layer_norm(&x, None, None, 1e-12).unwrap();
        let mean = ops::mean(&y, -1, false).unwrap();
        let var = ops::mean(&ops::mul(&y, &y).unwrap(), -1, false).unwrap();
        for (m, v) in mean.to_vec().into_iter().zip(var.to_vec()) {
            prop_assert!(m.abs() < 1e-5, "mean {m}");
            prop_assert!((v - 1.0).abs() < 1e-4, "var {v}");
        }
    }
}

#[test]
fn layer_norm_edges_and_errors() {
    // A constant row normalizes to 0 (eps keeps it finite), then gets the bias.
    let y = ops::layer_norm(&Tensor::full(&[1, 4], 3.0), None, Some(&Tensor::full(&[4], 0.5)), 1e-12).unwrap();
    assert_eq!(y.to_vec(), vec![0.5; 4]);
    let err = ops::layer_norm(&Tensor::zeros(&[2, 4]), Some(&Tensor::ones(&[3])), None, 1e-5).unwrap_err();
    assert!(err.to_string().contains("weight must have shape [4]"), "{err}");
    assert!(ops::layer_norm(&Tensor::scalar(1.0), None, None, 1e-5).is_err());
    // Large input: the parallel path.
    let x = Tensor::randn(&[128, 384], 5);
    let (w, b) = (Tensor::randn(&[384], 6), Tensor::randn(&[384], 7));
    let fast = ops::layer_norm(&x, Some(&w), Some(&b), 1e-12).unwrap();
    assert_close(&fast, &ops::layer_norm_ref(&x, Some(&w), Some(&b), 1e-12).unwrap(), 1e-4);
}

// ------------------------------------------------------------------------------------------
// Activations and erf
// ------------------------------------------------------------------------------------------

/// erf in f64 from the Maclaurin-type series with all positive terms (Abramowitz & Stegun
/// 7.1.6): erf(x) = 2/sqrt(pi) exp(-x^2) sum_n 2^n x^(2n+1) / (1*3*...*(2n+1)).
/// No cancellation, so it is accurate to ~1e-15 for |x| <= 6.
fn erf_f64(x: f64) -> f64 {
    let a = x.abs();
    if a > 6.0 {
        return x.signum();
    }
    let (mut term, mut sum, mut n) = (a, a, 0.0);
    while term > 1e-17 * sum {
        n += 1.0;
        term *= 2.0 * a * a / (2.0 * n + 1.0);
        sum += term;
    }
    (2.0 / std::f64::consts::PI.sqrt() * (-a * a).exp() * sum).copysign(x)
}

#[test]
fn erf_f64_reference_is_right() {
    // Table values (Abramowitz & Stegun, table 7.1).
    for (x, e) in [(0.5, 0.520_499_877_813_046_5), (1.0, 0.842_700_792_949_714_9), (2.0, 0.995_322_265_018_952_7)] {
        assert!((erf_f64(x) - e).abs() < 1e-15, "erf_f64({x}) = {}", erf_f64(x));
    }
}

/// Worst |f(x) - erf(x)| over [-6, 6] in steps of 1e-4, and where.
fn worst_erf_error(f: fn(f32) -> f32) -> (f64, f32) {
    let mut worst = (0.0f64, 0.0f32);
    for i in -60_000..=60_000 {
        let x = i as f32 * 1e-4;
        let err = (f(x) as f64 - erf_f64(x as f64)).abs();
        if err > worst.0 {
            worst = (err, x);
        }
    }
    worst
}

#[test]
fn erf_is_accurate_to_6e8() {
    // scripts/fit_erf.py reports 5.1e-8 for the fast erf (fit 2e-8 plus rounding to f32;
    // half an f32 ulp near 1 is already 3e-8), and about 5e-8 for the reference.
    for (name, f) in [("erf", ops::erf as fn(f32) -> f32), ("erf_ref", ops::erf_ref)] {
        let (err, x) = worst_erf_error(f);
        assert!(err < 6e-8, "max |{name} error| {err} at x = {x}");
        assert_eq!(f(0.0), 0.0, "{name}(0)");
        assert_eq!(f(f32::INFINITY), 1.0, "{name}(inf)");
        assert_eq!(f(f32::NEG_INFINITY), -1.0, "{name}(-inf)");
        assert_eq!(f(4.5), 1.0, "{name}(4.5)");
        assert!(f(f32::NAN).is_nan(), "{name}(NaN)");
        assert_eq!(f(-0.7), -f(0.7), "{name} is odd");
    }
}

#[test]
fn erf_matches_erf_ref() {
    // Each is within 6e-8 of erf, so they are within 1.2e-7 of each other; check densely,
    // including the reference's piece boundaries (1, 2.5, 4).
    let mut worst = (0.0f32, 0.0f32);
    for i in -800_000..=800_000 {
        let x = i as f32 * 1e-5; // [-8, 8]
        let d = (ops::erf(x) - ops::erf_ref(x)).abs();
        if d > worst.0 {
            worst = (d, x);
        }
    }
    assert!(worst.0 < 1.2e-7, "max |erf - erf_ref| {} at x = {}", worst.0, worst.1);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn gelu_matches_reference(x in tensor(3), scale in 0.1f32..8.0) {
        let x = ops::mul_scalar(&x, scale);
        let (fast, slow) = (ops::gelu(&x), ops::gelu_ref(&x));
        // |gelu - gelu_ref| <= 0.5 |x| |erf - erf_ref| + rounding: relative 2e-7 of max(|x|, 1).
        let scale: Vec<f32> = x.to_vec().iter().map(|v| v.abs().max(1.0)).collect();
        let rel = |t: &Tensor| t.to_vec().iter().zip(&scale).map(|(v, s)| v / s).collect::<Vec<f32>>();
        let worst = max_abs_diff(&rel(&fast), &rel(&slow));
        prop_assert!(worst < 2e-7, "max gelu vs gelu_ref difference {} (relative above 1)", worst);
    }
}

#[test]
fn gelu_matches_f64_definition() {
    let x = ops::mul_scalar(&Tensor::arange(2001), 0.01);
    let x = ops::add_scalar(&x, -10.0); // [-10, 10]
    let y = ops::gelu(&x).to_vec();
    // Relative above 1, absolute below: both sides divided by max(|exact|, 1).
    let exact: Vec<f64> =
        x.to_vec().iter().map(|&v| 0.5 * v as f64 * (1.0 + erf_f64(v as f64 / 2f64.sqrt()))).collect();
    let ours: Vec<f32> = y.iter().zip(&exact).map(|(&g, e)| (g as f64 / e.abs().max(1.0)) as f32).collect();
    let theirs: Vec<f32> = exact.iter().map(|e| (e / e.abs().max(1.0)) as f32).collect();
    let worst = max_abs_diff(&ours, &theirs);
    assert!(worst < 1e-6, "max gelu error {worst} (absolute below 1, relative above)");
    // The tanh approximation is close but not the same function.
    let diff = max_abs_diff(&ops::gelu_tanh(&x).to_vec(), &y);
    assert!(diff > 1e-5 && diff < 1e-3, "gelu vs gelu_tanh differ by {diff}");
}

#[test]
fn activations_basic_values() {
    let x = t(&[-100.0, -1.0, 0.0, 2.0, 100.0], &[5]);
    assert_eq!(ops::relu(&x).to_vec(), vec![0.0, 0.0, 0.0, 2.0, 100.0]);
    let s = ops::sigmoid(&x).to_vec();
    assert_eq!((s[0], s[2], s[4]), (0.0, 0.5, 1.0));
    assert_eq!(ops::tanh(&x).to_vec()[4], 1.0);
    let g = ops::gelu(&x).to_vec();
    assert_eq!((g[0], g[2], g[4]), (-0.0, 0.0, 100.0));
    assert!(ops::relu(&t(&[f32::NAN], &[1])).item().unwrap().is_nan());
}

#[test]
fn in_place_activations_equal_tensor_versions() {
    let x = Tensor::randn(&[70_000], 9); // above the parallel threshold
    type Pair = (fn(&Tensor) -> Tensor, fn(&mut [f32]));
    let pairs: [Pair; 5] = [
        (ops::gelu, ops::gelu_in_place),
        (ops::gelu_tanh, ops::gelu_tanh_in_place),
        (ops::tanh, ops::tanh_in_place),
        (ops::relu, ops::relu_in_place),
        (ops::sigmoid, ops::sigmoid_in_place),
    ];
    for (tensor_fn, slice_fn) in pairs {
        let mut buf = x.to_vec();
        slice_fn(&mut buf);
        assert_eq!(buf, tensor_fn(&x).to_vec());
    }
    // Non-contiguous input works too.
    let v = Tensor::randn(&[5, 7], 3).t().unwrap();
    assert_eq!(ops::gelu(&v).to_vec(), ops::gelu(&v.contiguous()).to_vec());
}

// ------------------------------------------------------------------------------------------
// Matmul (the existing op; properties the rest of the crate relies on)
// ------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(common::config(32))]

    #[test]
    fn matmul_is_associative(m in 1usize..6, k in 1usize..6, n in 1usize..6, p in 1usize..6, seed in any::<u64>()) {
        let a = Tensor::randn(&[m, k], seed);
        let b = Tensor::randn(&[k, n], seed + 1);
        let c = Tensor::randn(&[n, p], seed + 2);
        let left = matmul(&matmul(&a, &b).unwrap(), &c).unwrap();
        let right = matmul(&a, &matmul(&b, &c).unwrap()).unwrap();
        assert_close(&left, &right, 1e-4);
    }

    #[test]
    fn matmul_of_views_equals_matmul_of_copies(m in 1usize..6, k in 1usize..6, n in 1usize..6, seed in any::<u64>()) {
        let a = Tensor::randn(&[k, m], seed).t().unwrap();
        let b = Tensor::randn(&[n, k], seed + 1).t().unwrap();
        prop_assert!(matmul(&a, &b).unwrap() == matmul(&a.contiguous(), &b.contiguous()).unwrap());
    }
}

// ------------------------------------------------------------------------------------------
// Embedding
// ------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(common::config(64))]

    #[test]
    fn embedding_matches_reference(v in 1usize..8, h in 1usize..6, ids in prop::collection::vec(0u32..8, 0..10),
                                   transposed in any::<bool>(), seed in any::<u64>()) {
        let w = if transposed { Tensor::randn(&[h, v], seed).t().unwrap() } else { Tensor::randn(&[v, h], seed) };
        let ids: Vec<u32> = ids.into_iter().map(|i| i % v as u32).collect();
        let got = ops::embedding(&w, &ids, &[ids.len()]).unwrap();
        prop_assert!(got == ops::embedding_ref(&w, &ids, &[ids.len()]).unwrap());
    }
}

#[test]
fn embedding_is_one_hot_times_table() {
    let w = Tensor::randn(&[6, 4], 21);
    let ids = [5u32, 0, 3, 3];
    let mut one_hot = vec![0.0f32; ids.len() * 6];
    for (row, &id) in ids.iter().enumerate() {
        one_hot[row * 6 + id as usize] = 1.0;
    }
    let product = matmul(&t(&one_hot, &[4, 6]), &w).unwrap();
    let lookup = ops::embedding(&w, &ids, &[2, 2]).unwrap();
    assert_eq!(lookup.shape(), &[2, 2, 4]);
    assert_eq!(lookup.to_vec(), product.to_vec());
}

#[test]
fn embedding_errors() {
    let w = Tensor::zeros(&[10, 3]);
    let err = ops::embedding(&w, &[1, 10], &[2]).unwrap_err().to_string();
    assert!(err.contains("embedding") && err.contains("id 10") && err.contains("V = 10"), "{err}");
    assert!(ops::embedding(&w, &[1, 2, 3], &[2, 2]).is_err());
    assert!(ops::embedding(&Tensor::zeros(&[10]), &[1], &[1]).is_err());
    assert_eq!(ops::embedding(&w, &[], &[0, 5]).unwrap().shape(), &[0, 5, 3]);
}

// ------------------------------------------------------------------------------------------
// Dropout
// ------------------------------------------------------------------------------------------

#[test]
fn dropout_is_identity_when_not_training() {
    let x = Tensor::randn(&[4, 5], 1);
    let mut rng = Rng::new(0);
    let y = ops::dropout(&x, 0.5, false, &mut rng).unwrap();
    assert!(y.shares_storage_with(&x) && y == x);
    let y = ops::dropout(&x, 0.0, true, &mut rng).unwrap();
    assert!(y.shares_storage_with(&x));
    assert_eq!(ops::dropout(&x, 1.0, true, &mut rng).unwrap().to_vec(), vec![0.0; 20]);
}

#[test]
fn dropout_in_training_drops_and_rescales() {
    let x = Tensor::ones(&[100, 100]);
    let y = ops::dropout(&x, 0.25, true, &mut Rng::new(42)).unwrap().to_vec();
    let kept = y.iter().filter(|&&v| v != 0.0).count();
    assert!(y.iter().all(|&v| v == 0.0 || v == 1.0 / 0.75), "kept values must be scaled by 1/(1-p)");
    // 10000 Bernoulli(0.75) draws: the standard deviation of the count is ~43.
    assert!((7300..7700).contains(&kept), "kept {kept} of 10000");
    // Same seed, same mask.
    let again = ops::dropout(&x, 0.25, true, &mut Rng::new(42)).unwrap().to_vec();
    assert_eq!(y, again);
}

#[test]
fn dropout_rejects_bad_p() {
    let x = Tensor::ones(&[2]);
    for p in [-0.1, 1.5, f32::NAN] {
        let err = ops::dropout(&x, p, true, &mut Rng::new(0)).unwrap_err().to_string();
        assert!(err.contains("dropout"), "{err}");
    }
}
