//! Every rung of the GEMM ladder, the SIMD kernels, the batched form and the tensor `matmul`
//! against the naive triple loop (rung 0, the definition), over odd shapes, strides and
//! transposes.

mod common;

use approx::abs_diff_eq;
use common::max_abs_diff;
use nanobert::Tensor;
use nanobert::ops::matmul::kernels::{Kernel, MicroKernel};
use nanobert::ops::matmul::{
    self, BatchStrides, Epilogue, Gemm, MatMut, MatRef, PackedB, Rung, sgemm, sgemm_batched, sgemm_naive,
    sgemm_prepacked, sgemm_rung,
};
use proptest::prelude::*;

/// Deterministic values in [-1, 1).
fn values(len: usize, seed: u64) -> Vec<f32> {
    Tensor::rand(&[len], seed).to_vec().into_iter().map(|x| 2.0 * x - 1.0).collect()
}

/// A GEMM problem with padded leading dimensions; A and B stored as given or transposed.
#[derive(Clone, Debug)]
struct Problem {
    m: usize,
    k: usize,
    n: usize,
    lda: usize,
    ldb: usize,
    ldc: usize,
    transpose_a: bool,
    transpose_b: bool,
    a: Vec<f32>,
    b: Vec<f32>,
}

impl Problem {
    fn new(m: usize, k: usize, n: usize, pad: [usize; 3], transpose_b: bool, seed: u64) -> Problem {
        Problem::with_layout(m, k, n, pad, false, transpose_b, seed)
    }

    fn with_layout(
        m: usize,
        k: usize,
        n: usize,
        pad: [usize; 3],
        transpose_a: bool,
        transpose_b: bool,
        seed: u64,
    ) -> Problem {
        let (a_rows, a_cols) = if transpose_a { (k, m) } else { (m, k) };
        let (b_rows, b_cols) = if transpose_b { (n, k) } else { (k, n) };
        let (lda, ldb, ldc) = (a_cols + pad[0], b_cols + pad[1], n + pad[2]);
        let a = values(a_rows * lda, seed);
        let b = values(b_rows * ldb, seed + 1);
        Problem { m, k, n, lda, ldb, ldc, transpose_a, transpose_b, a, b }
    }

    fn a_view(&self) -> MatRef<'_> {
        if self.transpose_a {
            MatRef::strided(&self.a, self.k, self.m, self.lda).t()
        } else {
            MatRef::strided(&self.a, self.m, self.k, self.lda)
        }
    }

    fn b_view(&self) -> MatRef<'_> {
        if self.transpose_b {
            MatRef::strided(&self.b, self.n, self.k, self.ldb).t()
        } else {
            MatRef::strided(&self.b, self.k, self.n, self.ldb)
        }
    }

    fn c_view<'c>(&self, c: &'c mut [f32]) -> MatMut<'c> {
        MatMut::strided(c, self.m, self.n, self.ldc)
    }

    /// C filled with a sentinel, so we can check every element is written and padding is not.
    fn c(&self) -> Vec<f32> {
        vec![f32::NAN; self.m * self.ldc]
    }

    fn reference(&self) -> Vec<f32> {
        let mut c = self.c();
        sgemm_naive(self.a_view(), self.b_view(), self.c_view(&mut c)).unwrap();
        c
    }

    fn run(&self, rung: Rung) -> Vec<f32> {
        let mut c = self.c();
        sgemm_rung(rung, self.a_view(), self.b_view(), self.c_view(&mut c)).unwrap();
        c
    }

    /// Max |got - want| over the m x n entries of C (padding columns excluded), for failure
    /// messages: the shared comparison, so a NaN there is reported, never skipped.
    fn max_diff(&self, got: &[f32], want: &[f32]) -> String {
        let pick = |v: &[f32]| -> Vec<f32> {
            (0..self.m).flat_map(|i| v[i * self.ldc..i * self.ldc + self.n].to_vec()).collect()
        };
        match nanobert::tensor::max_abs_diff(&pick(got), &pick(want)) {
            Ok(d) => d.to_string(),
            Err(e) => e.to_string(),
        }
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
            let max = p.max_diff(&got, &want);
            Err(TestCaseError::fail(format!(
                "{} on m={} k={} n={} lda={} ldb={} ldc={} transpose_a={} transpose_b={}: {e}; max abs diff {max}",
                rung.name(),
                p.m,
                p.k,
                p.n,
                p.lda,
                p.ldb,
                p.ldc,
                p.transpose_a,
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
        pad in prop::array::uniform3(0usize..4), transpose_a: bool, transpose_b: bool, seed in 0u64..1000,
    ) {
        let p = Problem::with_layout(m, k, n, pad, transpose_a, transpose_b, seed);
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
    let packed = PackedB::with_kernel(kernel, p.b_view()).unwrap();
    prop_assert_eq!((packed.k(), packed.n(), packed.kernel()), (p.k, p.n, kernel));
    let mut got = p.c();
    sgemm_prepacked(p.a_view(), &packed, p.c_view(&mut got), Epilogue::None).unwrap();
    let max = p.max_diff(&got, &want);
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
        pad in prop::array::uniform3(0usize..4), transpose_a: bool, transpose_b: bool, seed in 0u64..1000,
    ) {
        let p = Problem::with_layout(m, k, n, pad, transpose_a, transpose_b, seed);
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

/// `Gemm::with_blocks`: any block sizes (tiny ones crossing many blocks of every loop,
/// MC and NC not multiples of the tile) give the naive loop's result, public and prepacked,
/// on one thread and on a pool of 2 (bands of rows and bands of columns), every kernel here.
fn check_blocks(p: &Problem, blocks: matmul::BlockSizes) -> Result<(), TestCaseError> {
    let want = p.reference();
    let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
    for kernel in [Kernel::Portable, Kernel::Avx2, Kernel::Avx512].into_iter().filter(|k| k.is_supported()) {
        let packed = PackedB::with_kernel(kernel, p.b_view()).unwrap();
        for parallel in [false, true] {
            let gemm = Gemm::default().with_kernel(kernel).unwrap().with_blocks(blocks).unwrap().parallel(parallel);
            for prepacked in [false, true] {
                let mut got = p.c();
                pool.install(|| {
                    if prepacked {
                        gemm.sgemm_prepacked(p.a_view(), &packed, p.c_view(&mut got), Epilogue::None)
                    } else {
                        gemm.sgemm(p.a_view(), p.b_view(), p.c_view(&mut got), Epilogue::None)
                    }
                })
                .unwrap();
                let ok = p.compare(&got, &want);
                prop_assert!(
                    ok.is_ok(),
                    "{} {blocks:?} parallel={parallel} prepacked={prepacked} on m={} k={} n={} transpose_b={}: {:?}",
                    kernel.name(),
                    p.m,
                    p.k,
                    p.n,
                    p.transpose_b,
                    ok.err()
                );
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn any_block_sizes_match_naive(
        m in 1usize..90, k in 1usize..120, n in 1usize..150, transpose_b: bool,
        mc in 1usize..40, kc in 1usize..50, nc in 1usize..80, seed in 0u64..1000,
    ) {
        let p = Problem::new(m, k, n, [1, 2, 3], transpose_b, seed);
        check_blocks(&p, matmul::BlockSizes { mc, kc, nc })?;
    }
}

/// Products large enough for the 2-thread pool to split (by rows: m = 300; by columns:
/// m = 20), with explicit odd block sizes.
#[test]
fn block_sizes_on_parallel_splits() {
    for (m, k, n) in [(300, 200, 400), (20, 300, 1500)] {
        let p = Problem::new(m, k, n, [1, 2, 3], true, 7);
        check_blocks(&p, matmul::BlockSizes { mc: 20, kc: 50, nc: 70 }).unwrap();
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
    let err = PackedB::new(MatRef::new(&b, 3, 3)).unwrap_err().to_string();
    assert!(err.contains("PackedB") && err.contains("B (3 x 3)"), "{err}");
    let packed = PackedB::new(MatRef::new(&b, 3, 2)).unwrap();
    let a = [0.0; 6];
    let err = sgemm_prepacked(MatRef::new(&a, 2, 3), &packed, MatMut::new(&mut [0.0; 3], 2, 2), Epilogue::None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("sgemm_prepacked") && err.contains("C (2 x 2)"), "{err}");
    let err = sgemm_prepacked(MatRef::new(&a[..5], 2, 3), &packed, MatMut::new(&mut [0.0; 4], 2, 2), Epilogue::None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("sgemm_prepacked") && err.contains("A (2 x 3)"), "{err}");
    let err = sgemm_prepacked(MatRef::new(&a, 3, 2), &packed, MatMut::new(&mut [0.0; 6], 3, 2), Epilogue::None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("3 x 2") && err.contains("packed B (3 x 2)"), "{err}");
    let err = sgemm_prepacked(MatRef::new(&a, 2, 3), &packed, MatMut::new(&mut [0.0; 4], 2, 2), Epilogue::Bias(&[1.0]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("bias has 1 values but C has 2 columns"), "{err}");
    let err = Gemm::matrixmultiply()
        .sgemm_prepacked(MatRef::new(&a, 2, 3), &packed, MatMut::new(&mut [0.0; 4], 2, 2), Epilogue::None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("matrixmultiply"), "{err}");
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
    kernel.tile(kc, mr, nr, &a, &b, &mut c[col..], width, accumulate, Epilogue::None, 0);
    let max = max_abs_diff(&c, &want);
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
                let mm = Gemm::matrixmultiply();
                mm.sgemm(p.a_view(), p.b_view(), p.c_view(&mut got), Epilogue::None).unwrap();
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
    let (a23, b32) = (MatRef::new(&a, 2, 3), MatRef::new(&b, 3, 2));
    let err = sgemm(a23, b32, MatMut::new(&mut c, 2, 2)).unwrap_err().to_string();
    assert!(err.contains("sgemm") && err.contains("C (2 x 2)") && err.contains("needs 4 values"), "{err}");
    let err = sgemm(MatRef::strided(&a, 2, 3, 2), b32, MatMut::new(&mut [0.0; 4], 2, 2)).unwrap_err().to_string();
    assert!(err.contains("A (2 x 3)") && err.contains("leading dimension 2"), "{err}");
    let err = sgemm(a23, MatRef::new(&b, 2, 3), MatMut::new(&mut [0.0; 6], 2, 3)).unwrap_err().to_string();
    assert!(err.contains("inner dimensions 3 and 2 differ"), "{err}");
    let err = sgemm(a23, b32, MatMut::new(&mut [0.0; 6], 3, 2)).unwrap_err().to_string();
    assert!(err.contains("is 2 x 2, but C is 3 x 2"), "{err}");
    let err = sgemm(a23, MatRef::new(&b[..5], 2, 3).t(), MatMut::new(&mut [0.0; 4], 2, 2)).unwrap_err().to_string();
    assert!(err.contains("B (3 x 2, stored transposed as 2 x 3)"), "{err}");
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
        let a_view = |off: usize| MatRef::strided(&a[off..], seq, k, lda);
        let b_view = |off: usize| {
            let b = &kt[off..];
            if transpose_b { MatRef::strided(b, n, k, ldb).t() } else { MatRef::strided(b, k, n, ldb) }
        };
        let mut want = vec![0.0; c_len];
        for h in 0..heads {
            let (ao, bo, co) = (h * stride_a, h * d, h * stride_c);
            sgemm_naive(a_view(ao), b_view(bo), MatMut::strided(&mut want[co..], seq, n, ldc)).unwrap();
        }
        let strides = BatchStrides { a: stride_a, b: d, c: stride_c };
        for threads in [1, 2] {
            for gemm in [Gemm::default(), Gemm::default().parallel(false), Gemm::matrixmultiply()] {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                let mut got = vec![0.0; c_len];
                pool.install(|| {
                    let c = MatMut::strided(&mut got, seq, n, ldc);
                    gemm.sgemm_batched(heads, strides, a_view(0), b_view(0), c).unwrap();
                });
                let max = max_abs_diff(&got, &want);
                assert!(max < 1e-4, "{gemm:?} {threads} threads transpose_b={transpose_b}: max abs diff {max}");
            }
        }
    }
}

#[test]
fn batched_overlapping_outputs_are_an_error() {
    let a = values(4 * 4, 1);
    let mut c = vec![0.0; 32];
    let (a, strides) = (MatRef::new(&a, 4, 4), BatchStrides { a: 0, b: 0, c: 8 });
    let err = sgemm_batched(2, strides, a, a, MatMut::new(&mut c, 4, 4)).unwrap_err().to_string();
    assert!(err.contains("overlap"), "{err}");
    let err = sgemm_batched(5, strides, a, a, MatMut::new(&mut c, 2, 4)).unwrap_err().to_string();
    assert!(err.contains("matrix 4 of 5") && err.contains("C (2 x 4)"), "{err}");
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
        sgemm_naive(MatRef::new(&av[ao..], m, k), MatRef::new(&bv[bo..], k, n), MatMut::new(&mut c[co..], m, n))
            .unwrap();
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
        (x.transpose(-2, -1).unwrap(), Tensor::randn(&[5, 2], 4)), // transposed A (read in place)
        (Tensor::randn(&[1, 4, 6], 5), Tensor::randn(&[3, 6, 2], 6)), // batch 1 broadcast on A
        (x.narrow(3, 1, 4).unwrap(), Tensor::randn(&[4, 3], 7)), // rows with a stride > k
    ];
    for (a, b) in cases {
        let got = matmul::matmul(&a, &b).unwrap();
        let want = reference_matmul(&a, &b);
        let max = max_abs_diff(&got.to_vec(), &want);
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
        let empty = |rows, cols, ld| MatRef::strided(&[], rows, cols, ld);
        sgemm_rung(rung, empty(2, 0, 7), empty(0, 3, 3), MatMut::strided(&mut c, 2, 3, 5)).unwrap();
        assert!(c.chunks(5).all(|row| row[..3] == [0.0; 3] && row[3..].iter().all(|x| x.is_nan())), "{rung:?}");
        sgemm_rung(rung, empty(2, 0, 7), empty(3, 0, 9).t(), MatMut::strided(&mut c, 2, 3, 5)).unwrap();
        let a = [0.0; 8];
        sgemm_rung(rung, MatRef::new(&a, 2, 4), empty(4, 0, 9), MatMut::strided(&mut [], 2, 0, 5)).unwrap();
        sgemm_rung(rung, empty(0, 4, 4), MatRef::new(&[0.0; 12], 4, 3), MatMut::new(&mut [], 0, 3)).unwrap();
    }
    let mut c = vec![f32::NAN; 6];
    let mm = Gemm::matrixmultiply();
    mm.sgemm(MatRef::strided(&[], 2, 0, 7), MatRef::new(&[], 0, 3), MatMut::new(&mut c, 2, 3), Epilogue::None).unwrap();
    assert_eq!(c, vec![0.0; 6]);
}

#[test]
fn batched_with_empty_k() {
    let mut c = vec![f32::NAN; 2 * 6];
    let strides = BatchStrides { a: 5, b: 5, c: 6 };
    let (a, b) = (MatRef::strided(&[], 2, 0, 4), MatRef::new(&[], 0, 3));
    sgemm_batched(2, strides, a, b, MatMut::new(&mut c, 2, 3)).unwrap();
    assert_eq!(c, vec![0.0; 12]);
}

/// C's slice runs on past its m rows (a window into a bigger buffer), and so does
/// A's. The matrixmultiply backend once cut the whole C slice into bands of rows, more bands
/// than threads, so `m - t * rows_per` underflowed and it wrote rows past m, outside the
/// matrix (or past the slice's end). Every backend, on 1 to 3 threads, must write exactly the
/// m x n matrix and leave every float after it untouched.
#[test]
fn c_longer_than_its_rows_is_never_written_past_them() {
    let (m, k, n) = (256, 128, 128); // 4.2 M multiply-adds: split over threads
    let a = values(3 * m * k, 1); // 3m rows available, m used
    let b = values(k * n, 2);
    let (a_view, b_view) = (MatRef::new(&a, m, k), MatRef::new(&b, k, n));
    let mut want = vec![0.0; m * n];
    sgemm_naive(a_view, b_view, MatMut::new(&mut want, m, n)).unwrap();
    for threads in [1, 2, 3] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        for gemm in [Gemm::matrixmultiply(), Gemm::default()] {
            for extra in [7, m * n / 2 + 3, 2 * m * n + 7] {
                let mut c = vec![f32::NAN; m * n + extra];
                pool.install(|| gemm.sgemm(a_view, b_view, MatMut::new(&mut c, m, n), Epilogue::None)).unwrap();
                let bad =
                    c[..m * n].iter().zip(&want).position(|(g, w)| (g - w).abs().is_nan() || (g - w).abs() >= 1e-3);
                assert_eq!(bad, None, "{gemm:?} on {threads} threads, {extra} extra floats: C differs from naive");
                let written = c[m * n..].iter().filter(|x| !x.is_nan()).count();
                assert_eq!(written, 0, "{gemm:?} on {threads} threads wrote {written} floats past C's {m} rows");
            }
        }
    }
}

/// `sgemm` with an epilogue against the reference: the product, then `Epilogue::apply` as a
/// separate pass. Odd shapes, both layouts, k crossing KC (the epilogue must run once, on the
/// last k block), every kernel this CPU has, one and two threads, plain and pre-packed B.
fn check_epilogue(p: &Problem, bias: &[f32], gelu: bool) -> Result<(), TestCaseError> {
    let epilogue = if gelu { Epilogue::BiasGelu(bias) } else { Epilogue::Bias(bias) };
    let mut want = p.reference();
    epilogue.apply(p.c_view(&mut want)).unwrap();
    let kernels = [Kernel::Portable, Kernel::Avx2, Kernel::Avx512];
    for kernel in kernels.into_iter().filter(|k| k.is_supported()) {
        for parallel in [false, true] {
            let gemm = Gemm::default().with_kernel(kernel).unwrap().parallel(parallel);
            let mut got = p.c();
            gemm.sgemm(p.a_view(), p.b_view(), p.c_view(&mut got), epilogue).unwrap();
            let packed = PackedB::with_kernel(kernel, p.b_view()).unwrap();
            let mut got_packed = p.c();
            gemm.sgemm_prepacked(p.a_view(), &packed, p.c_view(&mut got_packed), epilogue).unwrap();
            for (what, got) in [("sgemm", &got), ("sgemm_prepacked", &got_packed)] {
                let ok = p.compare(got, &want);
                prop_assert!(
                    ok.is_ok(),
                    "{what} {} parallel={parallel} gelu={gelu} m={} k={} n={}: {:?}",
                    kernel.name(),
                    p.m,
                    p.k,
                    p.n,
                    ok.err()
                );
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn epilogue_in_the_kernel_matches_a_separate_pass(
        m in dim(), k in prop_oneof![dim(), 180usize..420], n in dim(),
        pad in prop::array::uniform3(0usize..4), transpose_b: bool, gelu: bool, seed in 0u64..1000,
    ) {
        let p = Problem::new(m, k, n, pad, transpose_b, seed);
        let bias = values(n, seed + 7);
        check_epilogue(&p, &bias, gelu)?;
    }
}

/// Products big enough to be split over two and three threads (by rows, sharing the packed
/// B, and by columns for a few rows), with every epilogue.
#[test]
fn epilogue_on_parallel_splits() {
    for threads in [2, 3] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        for &(m, k, n, t) in &[(150, 130, 300, true), (4, 300, 2100, true), (401, 97, 170, false)] {
            let p = Problem::new(m, k, n, [3, 1, 2], t, 5);
            let bias = values(n, 9);
            for gelu in [false, true] {
                pool.install(|| check_epilogue(&p, &bias, gelu)).unwrap();
            }
        }
    }
}

/// The epilogue's GELU is the one of `ops::activation::gelu`, bit for bit.
#[test]
fn epilogue_gelu_is_the_activation_gelu() {
    let x = values(4096, 3).into_iter().map(|v| v * 8.0).collect::<Vec<f32>>();
    let zeros = vec![0.0; x.len()];
    let mut ours = x.clone();
    Epilogue::BiasGelu(&zeros).apply(MatMut::new(&mut ours, 1, x.len())).unwrap();
    let theirs = nanobert::ops::gelu(&Tensor::from_vec(x.clone(), &[x.len()]).unwrap()).to_vec();
    let differ = ours.iter().zip(&theirs).filter(|(a, b)| a.to_bits() != b.to_bits()).count();
    assert_eq!(differ, 0, "{differ} of {} values differ", x.len());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    /// The small-M split (threads take bands of columns and share one packed A): sizes big
    /// enough to be split (m below one A~ block per thread, C a few panels wide per thread),
    /// odd n (an edge panel in the last band), k crossing KC, both layouts of A and B, padded
    /// leading dimensions, plain and pre-packed B with a bias epilogue, 2 and 3 threads,
    /// against the naive loop.
    #[test]
    fn small_m_column_split_matches_naive(
        m in 30usize..200, k in 150usize..420, n in 400usize..900,
        pad in prop::array::uniform3(0usize..4), transpose_a: bool, transpose_b: bool, seed in 0u64..1000,
    ) {
        let p = Problem::with_layout(m, k, n, pad, transpose_a, transpose_b, seed);
        let bias = values(n, seed + 3);
        for threads in [2, 3] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| check_rung(&p, Rung::best()))?;
            pool.install(|| check_prepacked(&p, Kernel::best()))?;
            pool.install(|| check_epilogue(&p, &bias, seed % 2 == 0))?;
        }
    }
}
