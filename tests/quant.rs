//! Lower-precision kernels against their scalar references (src/quant/).
//!
//! Every int8 and f16/bf16 kernel this CPU supports is compared with the reference on random
//! shapes, including the edges (k, n of 0 and 1, tile edges); the kernels the CPU cannot run
//! are listed on stderr (not captured by the test harness), so a green run says what it covered.

mod common;

use std::io::Write;

use nanobert::nn::ToPrecision;
use nanobert::ops::matmul::Epilogue;
use nanobert::quant::Precision;
use nanobert::quant::half::{HalfKernel, PackedHalf, gemm_half, linear_half_ref};
use nanobert::quant::int8::{I8Kernel, PackedI8, gemm_i8, linear_i8_ref, quantize_row};
use proptest::prelude::*;

fn values(len: usize, seed: u64) -> Vec<f32> {
    nanobert::Tensor::randn(&[len.max(1)], seed).as_slice().unwrap()[..len].to_vec()
}

/// Says (once per test) which kernels this CPU cannot run, outside the harness's capture.
fn report_unsupported(kind: &str, names: Vec<&str>) {
    if !names.is_empty() {
        let _ = writeln!(std::io::stderr(), "{kind} kernels NOT tested (this CPU lacks them): {}", names.join(", "));
    }
}

fn i8_kernels() -> Vec<I8Kernel> {
    report_unsupported("int8", I8Kernel::ALL.iter().filter(|k| !k.is_supported()).map(|k| k.name()).collect());
    I8Kernel::ALL.into_iter().filter(|k| k.is_supported()).collect()
}

fn half_kernels() -> Vec<HalfKernel> {
    report_unsupported("f16/bf16", HalfKernel::ALL.iter().filter(|k| !k.is_supported()).map(|k| k.name()).collect());
    HalfKernel::ALL.into_iter().filter(|k| k.is_supported()).collect()
}

/// Runs the packed int8 GEMM and the reference on the same data; they must agree bit for bit
/// (the i32 sums are exact and the epilogue is the same function).
fn check_i8(kernel: I8Kernel, m: usize, k: usize, n: usize, seed: u64, smooth: bool, bias: bool) {
    let x = values(m * k, seed);
    let w = values(n * k, seed + 1);
    let b = values(n, seed + 2);
    let s: Option<Vec<f32>> = smooth.then(|| values(k, seed + 3).iter().map(|v| v.abs() + 0.25).collect());
    check_i8_on(kernel, (m, k, n), &x, &w, bias.then_some(b.as_slice()), s);
}

/// [`check_i8`] on given data.
fn check_i8_on(
    kernel: I8Kernel,
    (m, k, n): (usize, usize, usize),
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    s: Option<Vec<f32>>,
) {
    let packed = PackedI8::with_kernel(kernel, w, n, k, s.as_deref()).unwrap();
    let mut y = vec![f32::NAN; m * n];
    gemm_i8(m, x, k, &packed, &mut y, n, bias.map_or(Epilogue::None, Epilogue::Bias)).unwrap();
    let want = linear_i8_ref(x, m, k, w, n, bias, s.as_deref(), kernel.levels(), kernel.weight_max());
    assert!(y.iter().all(|v| v.is_finite()), "{}: non-finite output", kernel.name());
    assert_eq!(y, want, "{} kernel vs reference, m {m} k {k} n {n}", kernel.name());
}

#[test]
fn int8_kernels_match_reference_on_edges() {
    for kernel in i8_kernels() {
        let (mr, nr) = kernel.tile_shape();
        for &(m, k, n) in &[
            (1, 1, 1),
            (1, 0, 5),
            (3, 1, 1),
            (mr, 4, nr),
            (mr + 1, 5, nr + 1),
            (mr - 1, 7, nr - 1),
            (2 * mr + 3, 33, 2 * nr + 5),
            (17, 64, 3),
        ] {
            check_i8(kernel, m, k, n, (m * 1000 + k * 10 + n) as u64, false, true);
            check_i8(kernel, m, k, n, 7, true, false);
        }
        // Empty outputs: nothing to do, no error.
        let p = PackedI8::with_kernel(kernel, &[], 0, 8, None).unwrap();
        gemm_i8(3, &[0.0; 24], 8, &p, &mut [], 0, Epilogue::None).unwrap();
        gemm_i8(0, &[], 8, &p, &mut [], 0, Epilogue::None).unwrap();
    }
}

/// The codes at their extremes, where `vpmaddubsw` would saturate i16 with plain u8 x i8
/// operands: activation rows almost all at the top code (and, negated, at the bottom one),
/// weights at ±127, both signs mixed; every kernel must still equal the exact reference. Also
/// rows whose zero point is at either end (all-positive, all-negative) and an all-zero row.
#[test]
fn int8_extreme_codes_and_zero_points() {
    let (m, k, n) = (6, 64, 40);
    let mut x = vec![0.0f32; m * k];
    for kk in 0..k {
        x[kk] = if kk == 0 { -1.0 } else { 10.0 }; // codes 0 then 255 (254 on AVX2)
        x[k + kk] = if kk == 0 { 1.0 } else { -10.0 }; // codes 255 then 0
        x[2 * k + kk] = 1.0 + kk as f32; // all positive: zero point 0
        x[3 * k + kk] = -1.0 - kk as f32; // all negative: zero point at the top
        x[5 * k + kk] = if kk % 2 == 0 { 3.0 } else { -3.0 };
    } // row 4 stays all zero
    let w: Vec<f32> = (0..n * k).map(|i| if (i / k + i % 3) % 2 == 0 { 1.0 } else { -1.0 }).collect();
    for kernel in i8_kernels() {
        check_i8_on(kernel, (m, k, n), &x, &w, None, None);
        let pos: Vec<f32> = w.iter().map(|v| v.abs()).collect();
        check_i8_on(kernel, (m, k, n), &x, &pos, None, None);
    }
}

/// Both thread splits of the one lower-precision driver — row bands (M large) and column
/// bands (M small, e.g. one short sentence) — on two threads, against the references.
#[test]
fn threaded_splits_match_reference() {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
    // 130 x 260 x 130 and 9 x 700 x 700: each over 2 x 2^21 multiply-adds, so two tasks.
    pool.install(|| {
        for &(m, k, n) in &[(130, 260, 130), (9, 700, 700)] {
            for kernel in i8_kernels() {
                check_i8(kernel, m, k, n, 11, true, true);
            }
            for kernel in half_kernels() {
                check_half(kernel, m, k, n, 12);
            }
        }
    });
}

/// Deeper than one depth block (KC, from the caches: 768 k values for the 14 x 32 int8 tile,
/// 384 for bf16 on a 32 KiB L1) and taller than one row block (MC, 168 rows there), with a
/// depth that is not a multiple of either: the accumulators carried across depth blocks must
/// give the reference exactly (int8) or to f32 rounding (f16/bf16).
#[test]
fn deep_products_cross_depth_and_row_blocks() {
    for &(m, k, n) in &[(190, 1900, 37), (3, 3100, 70)] {
        for kernel in i8_kernels() {
            check_i8(kernel, m, k, n, 21, true, true);
        }
        for kernel in half_kernels() {
            check_half(kernel, m, k, n, 22);
        }
    }
}

/// The quantizer compiled for every instruction set this CPU has gives the same codes and
/// row parameters as the scalar copy, NaN rows and odd lengths included.
#[test]
fn quantizer_copies_agree() {
    use nanobert::ops::simd::Isa;
    use nanobert::quant::int8::quantize_row_isa;
    for len in [1usize, 15, 16, 17, 100, 384, 3072] {
        for seed in 0..4u64 {
            let mut x = values(len, seed * 31 + len as u64);
            if seed == 3 {
                x[len / 2] = f32::NAN;
            }
            let mul: Vec<f32> = values(len, seed + 5).iter().map(|v| v.abs() + 0.5).collect();
            for m in [None, Some(mul.as_slice())] {
                for levels in [254u8, 255] {
                    let mut want = vec![7u8; len + 3];
                    let rq = quantize_row_isa(Isa::Scalar, &x, m, levels, &mut want);
                    for isa in Isa::supported() {
                        let mut got = vec![9u8; len + 3];
                        let r = quantize_row_isa(isa, &x, m, levels, &mut got);
                        assert_eq!(got, want, "{} len {len} seed {seed}", isa.name());
                        assert_eq!(r.zero_point, rq.zero_point, "{} len {len}", isa.name());
                        assert!(r.scale == rq.scale || (r.scale.is_nan() && rq.scale.is_nan()), "{}", isa.name());
                    }
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
    #[test]
    fn int8_kernels_match_reference(m in 1usize..40, k in 1usize..80, n in 1usize..70, seed in 0u64..1000, smooth: bool) {
        for kernel in I8Kernel::ALL.into_iter().filter(|k| k.is_supported()) {
            check_i8(kernel, m, k, n, seed, smooth, true);
        }
    }

    #[test]
    fn half_kernels_match_reference(m in 1usize..30, k in 1usize..70, n in 1usize..70, seed in 0u64..1000) {
        for kernel in HalfKernel::ALL.into_iter().filter(|k| k.is_supported()) {
            check_half(kernel, m, k, n, seed);
        }
    }
}

/// The int8 GEMM is an approximation of the f32 one: on random data its error must be a
/// small fraction of the output's size.
#[test]
fn int8_close_to_f32() {
    let (m, k, n) = (16, 256, 48);
    let x = values(m * k, 1);
    let w = values(n * k, 2);
    let exact = linear_half_ref(&x, m, k, &w, n, None, Precision::F32, false);
    let norm = exact.iter().map(|v| v * v).sum::<f32>().sqrt();
    for kernel in i8_kernels() {
        let p = PackedI8::with_kernel(kernel, &w, n, k, None).unwrap();
        let mut y = vec![0.0; m * n];
        gemm_i8(m, &x, k, &p, &mut y, n, Epilogue::None).unwrap();
        let err = y.iter().zip(&exact).map(|(a, b)| (a - b) * (a - b)).sum::<f32>().sqrt() / norm;
        let bound = if kernel.weight_max() == 63 { 0.03 } else { 0.015 };
        assert!(err < bound, "{}: relative error {err} >= {bound}", kernel.name());
    }
}

/// GELU in the epilogue equals GELU applied afterwards.
#[test]
fn int8_and_half_gelu_epilogue() {
    let (m, k, n) = (9, 40, 37);
    let x = values(m * k, 5);
    let w = values(n * k, 6);
    let b = values(n, 7);
    for kernel in i8_kernels() {
        let p = PackedI8::with_kernel(kernel, &w, n, k, None).unwrap();
        let (mut plain, mut fused) = (vec![0.0; m * n], vec![0.0; m * n]);
        gemm_i8(m, &x, k, &p, &mut plain, n, Epilogue::Bias(&b)).unwrap();
        gemm_i8(m, &x, k, &p, &mut fused, n, Epilogue::BiasGelu(&b)).unwrap();
        nanobert::ops::gelu_in_place(&mut plain);
        assert_eq!(plain, fused, "{}", kernel.name());
    }
    for kernel in half_kernels() {
        let prec = if kernel == HalfKernel::Avx512Bf16 { Precision::Bf16 } else { Precision::F16 };
        let p = PackedHalf::with_kernel(kernel, prec, &w, n, k).unwrap();
        let (mut plain, mut fused) = (vec![0.0; m * n], vec![0.0; m * n]);
        gemm_half(m, &x, k, &p, &mut plain, n, Epilogue::Bias(&b)).unwrap();
        gemm_half(m, &x, k, &p, &mut fused, n, Epilogue::BiasGelu(&b)).unwrap();
        nanobert::ops::gelu_in_place(&mut plain);
        assert_eq!(plain, fused, "{}", kernel.name());
    }
}

/// A NaN or an infinity in an input row makes that output row NaN (not a quiet wrong number);
/// the other rows are untouched.
#[test]
fn int8_propagates_nan() {
    let (m, k, n) = (3, 8, 5);
    let mut x = values(m * k, 3);
    x[k + 2] = f32::NAN;
    x[2 * k] = f32::INFINITY;
    let w = values(n * k, 4);
    for kernel in i8_kernels() {
        let p = PackedI8::with_kernel(kernel, &w, n, k, None).unwrap();
        let mut y = vec![0.0; m * n];
        gemm_i8(m, &x, k, &p, &mut y, n, Epilogue::None).unwrap();
        assert!(y[..n].iter().all(|v| v.is_finite()), "{}: row 0 should be finite", kernel.name());
        assert!(y[n..].iter().all(|v| v.is_nan()), "{}: rows 1 and 2 should be NaN: {y:?}", kernel.name());
    }
}

/// The activation quantizer: codes within range, 0.0 exactly representable, the row's
/// extremes mapped to the ends of the range.
#[test]
fn activation_quantizer() {
    let x = [-1.0f32, 0.0, 0.5, 3.0];
    let mut q = [0u8; 8];
    let r = quantize_row(&x, None, 255, &mut q);
    assert_eq!(q[0], 0);
    assert_eq!(q[3], 255);
    assert_eq!(q[1] as i32, r.zero_point);
    assert_eq!(&q[4..], &[0, 0, 0, 0], "padding must be zero");
    let back: Vec<f32> = x.iter().enumerate().map(|(i, _)| r.scale * (q[i] as i32 - r.zero_point) as f32).collect();
    for (a, b) in back.iter().zip(&x) {
        assert!((a - b).abs() <= r.scale / 2.0 + 1e-6, "{a} vs {b}");
    }
    // All positive (after GELU): the zero point is 0 and all codes are used.
    let r = quantize_row(&[0.1, 0.2, 4.0], None, 127, &mut q);
    assert_eq!((r.zero_point, q[2]), (0, 127));
}

/// Wrong sizes are errors, not panics.
#[test]
fn errors_name_the_problem() {
    assert!(PackedI8::new(&[1.0; 5], 2, 3).is_err());
    assert!(PackedI8::new(&[f32::NAN; 6], 2, 3).is_err());
    assert!(PackedHalf::new(Precision::Int8, &[1.0; 6], 2, 3).is_err());
    let p = PackedI8::new(&[1.0; 6], 2, 3).unwrap();
    let e = gemm_i8(2, &[1.0; 5], 3, &p, &mut [0.0; 4], 2, Epilogue::None).unwrap_err();
    assert!(e.to_string().contains('A'), "{e}");
    assert!(gemm_i8(2, &[1.0; 6], 3, &p, &mut [0.0; 4], 2, Epilogue::Bias(&[1.0])).is_err());
}

fn check_half(kernel: HalfKernel, m: usize, k: usize, n: usize, seed: u64) {
    let x = values(m * k, seed);
    let w = values(n * k, seed + 1);
    let b = values(n, seed + 2);
    for prec in [Precision::F16, Precision::Bf16] {
        if !kernel.handles(prec) {
            continue;
        }
        let p = PackedHalf::with_kernel(kernel, prec, &w, n, k).unwrap();
        let mut y = vec![f32::NAN; m * n];
        gemm_half(m, &x, k, &p, &mut y, n, Epilogue::Bias(&b)).unwrap();
        let want = linear_half_ref(&x, m, k, &w, n, Some(&b), prec, kernel == HalfKernel::Avx512Bf16);
        // Same products, summed in a different order: f32 rounding differences only.
        let scale = (k as f32).sqrt() * 4.0;
        let diff = common::max_abs_diff(&y, &want);
        assert!(diff <= 1e-5 * scale, "{} {prec}: max diff {diff}, m {m} k {k} n {n}", kernel.name());
    }
}

/// The packed quantizer (codes written straight into the int8 kernels' interleaved tile) gives
/// the plain quantizer's row parameters and codes, minus the offset, at the places the layout
/// says, for every instruction set this CPU has; the k padding is 0.
#[test]
fn packed_quantizer_matches_plain() {
    use nanobert::ops::simd::Isa;
    use nanobert::quant::int8::{quantize_row_isa, quantize_row_packed, quantize_row_packed_isa};
    for (len, seed) in [(1usize, 1u64), (4, 2), (7, 3), (33, 4), (64, 5), (130, 6), (768, 7), (771, 8)] {
        let mut x = values(len, seed);
        if seed == 6 {
            x[5] = f32::NAN;
        }
        let mul: Vec<f32> = values(len, seed + 10).iter().map(|v| v.abs() + 0.5).collect();
        let groups = len.div_ceil(4);
        for mul in [None, Some(mul.as_slice())] {
            for (levels, offset) in [(255u8, 0u8), (254, 127)] {
                let mut plain = vec![0u8; groups * 4];
                let want = quantize_row_isa(Isa::Scalar, &x, mul, levels, &mut plain);
                for isa in Isa::supported() {
                    for (mr, row) in [(1usize, 0usize), (4, 3), (14, 5)] {
                        for fast in [false, true] {
                            let mut tile = vec![0xAAu8; groups * 4 * mr];
                            let got = if fast {
                                quantize_row_packed(isa, &x, mul, levels, offset, &mut tile, mr, row)
                            } else {
                                quantize_row_packed_isa(isa, &x, mul, levels, offset, &mut tile, mr, row)
                            };
                            assert_eq!(format!("{got:?}"), format!("{want:?}"), "{isa:?} len {len} fast {fast}");
                            for kk in 0..groups * 4 {
                                let q = tile[((kk / 4) * mr + row) * 4 + kk % 4];
                                let expect = if kk < len { plain[kk].wrapping_sub(offset) } else { 0 };
                                assert_eq!(q, expect, "{isa:?} len {len} mr {mr} k {kk} fast {fast}");
                            }
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn half_kernels_match_reference_on_edges() {
    for kernel in half_kernels() {
        let (mr, nr) = kernel.tile_shape();
        for &(m, k, n) in
            &[(1, 1, 1), (1, 0, 3), (mr, 2, nr), (mr + 1, 3, nr + 1), (mr - 1, 9, nr - 1), (2 * mr + 1, 31, 2 * nr + 3)]
        {
            check_half(kernel, m, k, n, (m + k + n) as u64);
        }
    }
}

/// The whole-model API: a tiny random BERT in every precision stays close to f32, and its
/// Linears report the bytes of their precision.
#[test]
fn model_to_precision() {
    use nanobert::bert::{BertConfig, BertInput, BertModel, Init};
    let cfg = BertConfig {
        vocab_size: 50,
        hidden_size: 32,
        num_hidden_layers: 2,
        num_attention_heads: 4,
        intermediate_size: 64,
        ..BertConfig::bert_base_uncased()
    };
    let mut model = BertModel::load(&Init { std: 0.05, seed: 3 }, "bert.", &cfg, false).unwrap();
    let ids: Vec<u32> = (0..2 * 7).map(|i| (i * 7 % cfg.vocab_size) as u32).collect();
    let input = BertInput::new(&ids, None, None, 2, 7).unwrap();
    let reference = model.forward(&input, false).unwrap().last_hidden_state;
    let reference = reference.as_slice().unwrap().to_vec();
    let (f32_bytes, weights) = nanobert::nn::weight_bytes(&model);
    for (p, tol) in [(Precision::F16, 1e-2), (Precision::Bf16, 5e-2), (Precision::Int8, 0.15)] {
        model.to_precision(p).unwrap();
        let y = model.forward(&input, false).unwrap().last_hidden_state;
        let diff = common::max_abs_diff(y.as_slice().unwrap(), &reference);
        assert!(diff < tol, "{p}: max diff {diff} vs f32");
        let (bytes, n) = nanobert::nn::weight_bytes(&model);
        assert_eq!(n, weights);
        assert!(bytes * p.bytes_per_weight() < f32_bytes * 4 + weights, "{p}: {bytes} bytes vs f32 {f32_bytes}");
    }
    model.to_precision(Precision::F32).unwrap();
    let y = model.forward(&input, false).unwrap().last_hidden_state;
    assert_eq!(y.as_slice().unwrap(), reference.as_slice(), "back to f32 must give the same bits");
}

/// `Linear::forward_gelu` (GELU in the epilogue) equals `forward` then GELU, at every precision.
#[test]
fn linear_gelu_epilogue_at_every_precision() {
    use nanobert::nn::Linear;
    use nanobert::{Tensor, ops};
    let mut l = Linear::new(Tensor::randn(&[40, 24], 1), Some(Tensor::randn(&[40], 2))).unwrap();
    let x = Tensor::randn(&[3, 5, 24], 3);
    for p in Precision::ALL {
        l.to_precision(p).unwrap();
        assert_eq!(l.precision(), p);
        let fused = l.forward_gelu(&x).unwrap();
        let plain = ops::gelu(&l.forward(&x).unwrap());
        assert_eq!(fused.shape(), &[3, 5, 40]);
        assert_eq!(fused.as_slice().unwrap(), plain.as_slice().unwrap(), "{p}");
    }
}
