//! Every rung of the GEMM ladder, the SIMD kernels, the batched form and the tensor `matmul`
//! against the naive triple loop (rung 0, the definition), over odd shapes, strides and
//! transposes.

use approx::abs_diff_eq;
use nanobert::Tensor;
use nanobert::ops::matmul::kernels::{Kernel, MicroKernel};
use nanobert::ops::matmul::{
    self, Backend, PackedB, Rung, set_backend, sgemm, sgemm_batched, sgemm_naive, sgemm_prepacked, sgemm_rung,
    try_sgemm,
};
use proptest::prelude::*;

/// Deterministic values in [-1, 1).
fn values(len: usize, seed: u64) -> Vec<f32> {
    Tensor::rand(&[len], seed).to_vec().into_iter().map(|x| 2.0 * x - 1.0).collect()
}

/// A GEMM problem with padded leading dimensions.
#[derive(Clone, Debug)]
struct Problem {
    m: usize,
    k: usize,
    n: usize,
    lda: usize,
    ldb: usize,
    ldc: usize,
    transpose_b: bool,
    a: Vec<f32>,
    b: Vec<f32>,
}

impl Problem {
    #[allow(clippy::too_many_arguments)]
    fn new(m: usize, k: usize, n: usize, pad: [usize; 3], transpose_b: bool, seed: u64) -> Problem {
        let (b_rows, b_cols) = if transpose_b { (n, k) } else { (k, n) };
        let (lda, ldb, ldc) = (k + pad[0], b_cols + pad[1], n + pad[2]);
        let a = values(m * lda, seed);
        let b = values(b_rows * ldb, seed + 1);
        Problem { m, k, n, lda, ldb, ldc, transpose_b, a, b }
    }

    /// C filled with a sentinel, so we can check every element is written and padding is not.
    fn c(&self) -> Vec<f32> {
        vec![f32::NAN; self.m * self.ldc]
    }

    fn reference(&self) -> Vec<f32> {
        let mut c = self.c();
        let p = self;
        sgemm_naive(p.m, p.k, p.n, &p.a, p.lda, &p.b, p.ldb, &mut c, p.ldc, p.transpose_b);
        c
    }

    fn run(&self, rung: Rung) -> Vec<f32> {
        let mut c = self.c();
        let p = self;
        sgemm_rung(rung, p.m, p.k, p.n, &p.a, p.lda, &p.b, p.ldb, &mut c, p.ldc, p.transpose_b).unwrap();
        c
    }

    /// Max |got - want| over C, or an error naming the first bad element.
    fn compare(&self, got: &[f32], want: &[f32]) -> Result<f32, String> {
        let tol = 1e-5 * (self.k as f32 + 1.0);
        let mut max = 0.0f32;
        for i in 0..self.m {
            for j in 0..self.ldc {
                let (g, w) = (got[i * self.ldc + j], want[i * self.ldc + j]);
                if j >= self.n {
                    if !g.is_nan() {
                        return Err(format!("padding C[{i}][{j}] was written: {g}"));
                    }
                    continue;
                }
                let d = (g - w).abs();
                max = max.max(d);
                if !abs_diff_eq!(g, w, epsilon = tol) {
                    return Err(format!("C[{i}][{j}] = {g}, naive gives {w} (|diff| {d} > {tol})"));
                }
            }
        }
        Ok(max)
    }
}

fn check_rung(p: &Problem, rung: Rung) -> Result<(), TestCaseError> {
    let want = p.reference();
    let got = p.run(rung);
    match p.compare(&got, &want) {
        Ok(_) => Ok(()),
        Err(e) => {
            let max = got.iter().zip(&want).map(|(g, w)| (g - w).abs()).fold(0.0f32, f32::max);
            Err(TestCaseError::fail(format!(
                "{} on m={} k={} n={} lda={} ldb={} ldc={} transpose_b={}: {e}; max abs diff {max}",
                rung.name(),
                p.m,
                p.k,
                p.n,
                p.lda,
                p.ldb,
                p.ldc,
                p.transpose_b
            )))
        }
    }
}

/// Small dimensions, including 0 and 1, and some crossing the kernel tile sizes.
fn dim() -> impl Strategy<Value = usize> {
    prop_oneof![3 => 0usize..=3, 5 => 1usize..=40, 2 => 41usize..=100]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn every_rung_matches_naive(
        m in dim(), k in dim(), n in dim(),
        pad in prop::array::uniform3(0usize..4), transpose_b: bool, seed in 0u64..1000,
    ) {
        let p = Problem::new(m, k, n, pad, transpose_b, seed);
        for rung in Rung::ladder() {
            check_rung(&p, rung)?;
        }
        for kernel in [Kernel::Portable, Kernel::Avx2, Kernel::Avx512] {
            if kernel.is_supported() {
                check_rung(&p, Rung::Simd(kernel))?;
            }
        }
    }

    /// k crossing the KC = 256 block, so tiles are visited twice (overwrite, then add).
    #[test]
    fn deep_k_crosses_blocks(
        m in 1usize..20, k in 250usize..600, n in 1usize..40, transpose_b: bool, seed in 0u64..1000,
    ) {
        let p = Problem::new(m, k, n, [1, 2, 3], transpose_b, seed);
        for rung in [Rung::Reordered, Rung::Blocked, Rung::best()] {
            check_rung(&p, rung)?;
        }
    }

    /// The microkernels called directly on hand-packed panels, every height and width.
    #[test]
    fn kernels_compute_their_tile(
        kc in 0usize..40, mr in 1usize..=14, nr in 0usize..=32, col in 0usize..5,
        accumulate: bool, seed in 0u64..1000,
    ) {
        check_kernel(kernel_portable(), kc, mr, nr, col, accumulate, seed)?;
        #[cfg(target_arch = "x86_64")]
        {
            if let Some(k) = matmul::kernels::avx2::Avx2::new() {
                check_kernel(k, kc, mr, nr, col, accumulate, seed)?;
            }
            if let Some(k) = matmul::kernels::avx512::Avx512::new() {
                check_kernel(k, kc, mr, nr, col, accumulate, seed)?;
            }
        }
    }
}

/// `sgemm_prepacked` (B packed once for `kernel`) against the naive loop.
fn check_prepacked(p: &Problem, kernel: Kernel) -> Result<(), TestCaseError> {
    let want = p.reference();
    let packed = PackedB::with_kernel(kernel, p.k, p.n, &p.b, p.ldb, p.transpose_b).unwrap();
    prop_assert_eq!((packed.k(), packed.n(), packed.kernel()), (p.k, p.n, kernel));
    let mut got = p.c();
    sgemm_prepacked(p.m, &p.a, p.lda, &packed, &mut got, p.ldc).unwrap();
    let max = got.iter().zip(&want).map(|(g, w)| (g - w).abs()).fold(0.0f32, f32::max);
    let ok = p.compare(&got, &want);
    prop_assert!(
        ok.is_ok(),
        "prepacked {} on m={} k={} n={} lda={} ldb={} ldc={} transpose_b={}: {:?}; max abs diff {max}",
        kernel.name(),
        p.m,
        p.k,
        p.n,
        p.lda,
        p.ldb,
        p.ldc,
        p.transpose_b,
        ok.err()
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// B packed once, then multiplied: odd shapes (m, k = 0 and 1 included), padded leading
    /// dimensions, both layouts of B, every kernel this CPU has.
    #[test]
    fn prepacked_matches_naive(
        m in dim(), k in dim(), n in dim(),
        pad in prop::array::uniform3(0usize..4), transpose_b: bool, seed in 0u64..1000,
    ) {
        let p = Problem::new(m, k, n, pad, transpose_b, seed);
        for kernel in [Kernel::Portable, Kernel::Avx2, Kernel::Avx512] {
            if kernel.is_supported() {
                check_prepacked(&p, kernel)?;
            }
        }
    }

    /// k crossing the KC = 192 block (packed blocks of two depths) and m crossing MC.
    #[test]
    fn prepacked_deep_k(
        m in 1usize..70, k in 180usize..450, n in 1usize..70, transpose_b: bool, seed in 0u64..1000,
    ) {
        let p = Problem::new(m, k, n, [1, 2, 3], transpose_b, seed);
        check_prepacked(&p, Kernel::best())?;
    }
}

/// Prepacked products large enough to be split over threads (by columns and by rows) and to
/// cross NC = 1024 (a second slab of packed panels), in pools of 2 and 3 threads.
#[test]
fn prepacked_parallel_and_wide() {
    let shapes = [(150, 130, 300, true), (600, 200, 40, true), (401, 97, 170, false), (3, 200, 2100, true)];
    for threads in [2, 3] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        for &(m, k, n, t) in &shapes {
            let p = Problem::new(m, k, n, [3, 1, 2], t, 5);
            pool.install(|| check_prepacked(&p, Kernel::best())).unwrap();
        }
    }
}

#[test]
fn prepacked_bad_arguments_are_reported() {
    let b = vec![0.0; 6];
    let err = PackedB::new(3, 3, &b, 3, false).unwrap_err().to_string();
    assert!(err.contains("PackedB") && err.contains('B'), "{err}");
    let packed = PackedB::new(3, 2, &b, 2, false).unwrap();
    let err = sgemm_prepacked(2, &[0.0; 6], 3, &packed, &mut [0.0; 3], 2).unwrap_err().to_string();
    assert!(err.contains("sgemm_prepacked") && err.contains('C'), "{err}");
    let err = sgemm_prepacked(2, &[0.0; 5], 3, &packed, &mut [0.0; 4], 2).unwrap_err().to_string();
    assert!(err.contains("sgemm_prepacked") && err.contains('A'), "{err}");
}

fn kernel_portable() -> matmul::kernels::portable::Portable {
    matmul::kernels::portable::Portable
}

fn check_kernel<K: MicroKernel>(
    kernel: K,
    kc: usize,
    mr: usize,
    nr: usize,
    col: usize,
    accumulate: bool,
    seed: u64,
) -> Result<(), TestCaseError> {
    let (mr, nr) = (mr.min(K::MR), nr.min(K::NR));
    let a = values(kc * mr, seed);
    let mut b = values(kc * K::NR, seed + 1);
    // The packed B~ panel is zero beyond nr.
    for p in 0..kc {
        b[p * K::NR + nr..(p + 1) * K::NR].fill(0.0);
    }
    let width = col + nr + 3;
    let mut c = values(mr * width, seed + 2);
    let mut want = c.clone();
    for i in 0..mr {
        for j in 0..nr {
            let dot: f32 = (0..kc).map(|p| a[p * mr + i] * b[p * K::NR + j]).sum();
            let w = &mut want[i * width + col + j];
            *w = if accumulate { *w + dot } else { dot };
        }
    }
    let mut rows: Vec<&mut [f32]> = c.chunks_mut(width).collect();
    kernel.tile(kc, mr, nr, &a, &b, &mut rows, col, accumulate);
    let max = c.iter().zip(&want).map(|(g, w)| (g - w).abs()).fold(0.0f32, f32::max);
    prop_assert!(
        max <= 1e-5 * (kc as f32 + 1.0),
        "{} kernel, kc={kc} mr={mr} nr={nr} col={col} accumulate={accumulate}: max abs diff {max}",
        K::NAME
    );
    Ok(())
}

/// Large enough to cross MC (192 rows) and to be split over threads (rung 4), run in pools of
/// 2 and 3 threads: by columns (wide C) and by rows (narrow C).
#[test]
fn parallel_splits_match_naive() {
    let shapes = [(150, 130, 300, false), (150, 130, 300, true), (600, 200, 40, true), (401, 97, 170, false)];
    for threads in [2, 3] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        for &(m, k, n, t) in &shapes {
            let p = Problem::new(m, k, n, [3, 1, 2], t, 7);
            pool.install(|| check_rung(&p, Rung::best())).unwrap();
            pool.install(|| {
                let want = p.reference();
                let mut got = p.c();
                set_backend(Backend::MatrixMultiply);
                sgemm(m, k, n, &p.a, p.lda, &p.b, p.ldb, &mut got, p.ldc, t);
                set_backend(Backend::Nanobert);
                p.compare(&got, &want).unwrap_or_else(|e| panic!("matrixmultiply backend: {e}"));
            });
        }
    }
}

/// n beyond NC = 3072 exercises loop 5 (a second slab of columns).
#[test]
fn wide_n_crosses_nc() {
    for t in [false, true] {
        let p = Problem::new(3, 5, 3100, [0, 1, 0], t, 11);
        check_rung(&p, Rung::Simd(Kernel::best())).unwrap();
        check_rung(&p, Rung::Blocked).unwrap();
    }
}

#[test]
fn bad_arguments_are_reported() {
    let (a, b) = (vec![0.0; 6], vec![0.0; 6]);
    let mut c = vec![0.0; 3];
    let err = try_sgemm(2, 3, 2, &a, 3, &b, 2, &mut c, 2, false).unwrap_err().to_string();
    assert!(err.contains("sgemm") && err.contains('C'), "{err}");
    let err = try_sgemm(2, 3, 2, &a, 2, &b, 2, &mut [0.0; 4], 2, false).unwrap_err().to_string();
    assert!(err.contains("leading dimension"), "{err}");
}

/// Attention-like layouts: heads interleaved in one buffer for A, B and C.
#[test]
fn batched_interleaved_heads_match_naive() {
    let (heads, seq, d) = (5, 19, 8);
    let width = heads * d;
    let q = values(seq * width, 1);
    let kt = values(seq * width, 2);
    for transpose_b in [true, false] {
        // scores_h = Q_h · K_hᵀ (seq x seq), written contiguously; or Q_h · V_h-like (seq x d)
        // with B = [seq, width] read as seq x d, written interleaved into [seq, width].
        let (n, ldb, stride_c, ldc, c_len) = if transpose_b {
            (seq, width, seq * seq, seq, heads * seq * seq)
        } else {
            (d, width, d, width, seq * width)
        };
        let k = if transpose_b { d } else { seq };
        let a = if transpose_b { q.clone() } else { values(heads * seq * seq, 3) };
        let (stride_a, lda) = if transpose_b { (d, width) } else { (seq * seq, seq) };
        let mut want = vec![0.0; c_len];
        for h in 0..heads {
            let (ao, bo, co) = (h * stride_a, h * d, h * stride_c);
            sgemm_naive(seq, k, n, &a[ao..], lda, &kt[bo..], ldb, &mut want[co..], ldc, transpose_b);
        }
        for threads in [1, 2] {
            for backend in [Backend::Nanobert, Backend::MatrixMultiply] {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                let mut got = vec![0.0; c_len];
                pool.install(|| {
                    set_backend(backend);
                    sgemm_batched(
                        heads,
                        seq,
                        k,
                        n,
                        &a,
                        stride_a,
                        lda,
                        &kt,
                        d,
                        ldb,
                        &mut got,
                        stride_c,
                        ldc,
                        transpose_b,
                    );
                    set_backend(Backend::Nanobert);
                });
                let max = got.iter().zip(&want).map(|(g, w)| (g - w).abs()).fold(0.0f32, f32::max);
                assert!(max < 1e-4, "{backend:?} {threads} threads transpose_b={transpose_b}: max abs diff {max}");
            }
        }
    }
}

#[test]
#[should_panic(expected = "overlap")]
fn batched_overlapping_outputs_panic() {
    let a = values(4 * 4, 1);
    let mut c = vec![0.0; 32];
    sgemm_batched(2, 4, 4, 4, &a, 0, 4, &a, 0, 4, &mut c, 8, 4, false);
}

/// Reference tensor matmul: broadcast and copy everything, then naive per matrix.
fn reference_matmul(a: &Tensor, b: &Tensor) -> Vec<f32> {
    let (m, k) = (a.shape()[a.ndim() - 2], a.shape()[a.ndim() - 1]);
    let n = b.shape()[b.ndim() - 1];
    let out = matmul::matmul(a, b).unwrap();
    let batch: Vec<usize> = out.shape()[..out.ndim() - 2].to_vec();
    let mut sa = batch.clone();
    sa.extend([m, k]);
    let mut sb = batch.clone();
    sb.extend([k, n]);
    let av = a.broadcast_to(&sa).unwrap().to_vec();
    let bv = b.broadcast_to(&sb).unwrap().to_vec();
    let nb: usize = batch.iter().product();
    let mut c = vec![0.0; nb * m * n];
    for t in 0..nb {
        let (ao, bo, co) = (t * m * k, t * k * n, t * m * n);
        sgemm_naive(m, k, n, &av[ao..], k, &bv[bo..], n, &mut c[co..], n, false);
    }
    c
}

#[test]
fn tensor_matmul_views_and_broadcasting() {
    let x = Tensor::randn(&[2, 3, 5, 7], 1);
    let w = Tensor::randn(&[9, 7], 2); // a Linear weight [out, in]
    let cases: Vec<(Tensor, Tensor)> = vec![
        (x.clone(), w.t().unwrap()),               // [2,3,5,7] x [7,9] (transposed view, folded)
        (x.clone(), Tensor::randn(&[3, 7, 4], 3)), // broadcast leading dim
        (x.clone(), x.transpose(-2, -1).unwrap()), // x · xᵀ per matrix (scores)
        (x.transpose(-2, -1).unwrap(), Tensor::randn(&[5, 2], 4)), // transposed A (copied)
        (Tensor::randn(&[1, 4, 6], 5), Tensor::randn(&[3, 6, 2], 6)), // batch 1 broadcast on A
        (x.narrow(3, 1, 4).unwrap(), Tensor::randn(&[4, 3], 7)), // rows with a stride > k
    ];
    for (a, b) in cases {
        let got = matmul::matmul(&a, &b).unwrap();
        let want = reference_matmul(&a, &b);
        let max = got.to_vec().iter().zip(&want).map(|(g, w)| (g - w).abs()).fold(0.0f32, f32::max);
        assert!(max < 1e-4, "matmul {:?} x {:?}: max abs diff {max}", a.shape(), b.shape());
    }
}

#[test]
fn tensor_matmul_errors_name_the_shapes() {
    let err = matmul::matmul(&Tensor::zeros(&[2, 3]), &Tensor::zeros(&[4, 5])).unwrap_err().to_string();
    assert!(err.contains("matmul") && err.contains("[2, 3]") && err.contains("[4, 5]"), "{err}");
    let err = matmul::matmul(&Tensor::zeros(&[3]), &Tensor::zeros(&[3, 5])).unwrap_err().to_string();
    assert!(err.contains("rank"), "{err}");
    let err = matmul::matmul(&Tensor::zeros(&[2, 2, 3]), &Tensor::zeros(&[3, 3, 5])).unwrap_err().to_string();
    assert!(err.contains("matmul"), "{err}");
    let empty = matmul::matmul(&Tensor::zeros(&[0, 3]), &Tensor::zeros(&[3, 5])).unwrap();
    assert_eq!(empty.shape(), &[0, 5]);
    let zero_k = matmul::matmul(&Tensor::zeros(&[2, 0]), &Tensor::zeros(&[0, 5])).unwrap();
    assert_eq!(zero_k.to_vec(), vec![0.0; 10]);
}

/// Empty dimensions with minimal (even empty) slices: C is all zeros when k = 0, untouched
/// and no panic when m or n is 0, for every rung and backend.
#[test]
fn empty_dimensions_with_minimal_slices() {
    let mut rungs = Rung::ladder();
    rungs.push(Rung::Blocked);
    for rung in rungs {
        let mut c = vec![f32::NAN; 2 * 5];
        sgemm_rung(rung, 2, 0, 3, &[], 7, &[], 3, &mut c, 5, false).unwrap();
        assert!(c.chunks(5).all(|row| row[..3] == [0.0; 3] && row[3..].iter().all(|x| x.is_nan())), "{rung:?}");
        sgemm_rung(rung, 2, 0, 3, &[], 7, &[], 9, &mut c, 5, true).unwrap();
        sgemm_rung(rung, 2, 4, 0, &[0.0; 8], 4, &[], 9, &mut [], 5, false).unwrap();
        sgemm_rung(rung, 0, 4, 3, &[], 4, &[0.0; 12], 3, &mut [], 3, false).unwrap();
    }
    set_backend(Backend::MatrixMultiply);
    let mut c = vec![f32::NAN; 6];
    sgemm(2, 0, 3, &[], 7, &[], 3, &mut c, 3, false);
    set_backend(Backend::Nanobert);
    assert_eq!(c, vec![0.0; 6]);
}

#[test]
fn batched_with_empty_k() {
    let mut c = vec![f32::NAN; 2 * 6];
    sgemm_batched(2, 2, 0, 3, &[], 5, 4, &[], 5, 3, &mut c, 6, 3, false);
    assert_eq!(c, vec![0.0; 12]);
}
