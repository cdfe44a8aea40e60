//! The edges of every `unsafe` block in `src/ops/matmul`: each SIMD
//! kernel's tile (kc, mr, nr of 0 or 1, a tile edge MR/NR ± 1, NR/4 and NR/2 ± 1 where the
//! narrow edge loops take over, KC ± 1, rows of C further apart than the tile is wide, a
//! bias), the AVX 8 x 8 transposing pack, and the `matrixmultiply` call. Every slice handed
//! over is *exactly* as long as the contract says, inside a bigger buffer whose tail holds a
//! sentinel: a read past the end would need values that are not there, a write past it changes
//! the sentinel. Each kernel this CPU can run is tested; the ones it cannot are printed (and
//! the test says so rather than passing silently).

use nanobert::Tensor;
use nanobert::ops::cpu::CacheSizes;
use nanobert::ops::matmul::kernels::{Kernel, MicroKernel};
use nanobert::ops::matmul::{BlockSizes, Epilogue, Gemm, MatMut, MatRef, sgemm_naive};

const SENTINEL: f32 = -7.25e30;

fn values(len: usize, seed: u64) -> Vec<f32> {
    Tensor::rand(&[len], seed).to_vec().into_iter().map(|x| 2.0 * x - 1.0).collect()
}

/// `len` values followed by 64 sentinels.
fn guarded(mut v: Vec<f32>) -> (Vec<f32>, usize) {
    let len = v.len();
    v.extend([SENTINEL; 64]);
    (v, len)
}

fn untouched(buf: &[f32], len: usize) -> bool {
    buf[len..].iter().all(|&x| x == SENTINEL)
}

/// One tile of `kernel` on exact-length panels and C, against a plain loop.
#[allow(clippy::too_many_arguments)]
fn check_tile<K: MicroKernel>(kernel: K, kc: usize, mr: usize, nr: usize, ldc: usize, acc: bool, bias: bool) {
    let a = values(kc * mr, 1);
    let mut b = values(kc * K::NR, 2);
    for p in 0..kc {
        b[p * K::NR + nr..(p + 1) * K::NR].fill(0.0); // packed panels are zero beyond nr
    }
    let bias_v = values(3 + nr, 4);
    let epilogue = if bias { Epilogue::Bias(&bias_v) } else { Epilogue::None };
    let need = (mr - 1) * ldc + nr;
    let (mut c, len) = guarded(values(need, 3));
    let mut want = c.clone();
    for i in 0..mr {
        for j in 0..nr {
            let dot: f32 = (0..kc).map(|p| a[p * mr + i] * b[p * K::NR + j]).sum();
            let w = &mut want[i * ldc + j];
            *w = if acc { *w + dot } else { dot } + if bias { bias_v[3 + j] } else { 0.0 };
        }
    }
    kernel.tile(kc, mr, nr, &a, &b, &mut c[..len], ldc, acc, epilogue, 3);
    let what = format!("{} kc={kc} mr={mr} nr={nr} ldc={ldc} accumulate={acc} bias={bias}", K::NAME);
    assert!(untouched(&c, len), "{what}: wrote past the end of C");
    for (i, (g, w)) in c[..len].iter().zip(&want[..len]).enumerate() {
        let (row, col) = (i / ldc.max(1), i % ldc.max(1));
        let inside = col < nr;
        let ok = if inside { (g - w).abs() <= 1e-5 * (kc as f32 + 2.0) } else { g.to_bits() == w.to_bits() };
        assert!(ok, "{what}: C[{row}][{col}] = {g}, want {w} ({})", if inside { "tile" } else { "outside the tile" });
    }
}

fn tile_edges<K: MicroKernel>(kernel: K) {
    let (mr, nr) = (K::MR, K::NR);
    // The depth of a block on this CPU for this kernel, and one step either side of it.
    let kc_block = BlockSizes::for_tile(CacheSizes::detect(), mr, nr, 4).kc;
    for kc in [0, 1, 2, kc_block - 1, kc_block, kc_block + 1] {
        for h in [1, 2, mr - 1, mr] {
            // Widths either side of the narrow k loops (at most NR/4 and NR/2 columns).
            for w in [0, 1, nr / 4, nr / 4 + 1, nr / 2, nr / 2 + 1, nr - 1, nr] {
                for ldc in [w.max(1), w + 5] {
                    for (acc, bias) in [(false, false), (true, false), (false, true), (true, true)] {
                        check_tile(kernel, kc, h, w, ldc, acc, bias);
                    }
                }
            }
        }
    }
}

#[test]
fn portable_kernel_tile_edges() {
    tile_edges(nanobert::ops::matmul::kernels::portable::Portable);
}

#[cfg(target_arch = "x86_64")]
#[test]
fn avx2_kernel_tile_edges() {
    match nanobert::ops::matmul::kernels::avx2::Avx2::new() {
        Some(k) => tile_edges(k),
        None => eprintln!("NOT TESTED: this CPU has no AVX2 + FMA, the avx2 kernel cannot run here"),
    }
}

#[cfg(target_arch = "x86_64")]
#[test]
fn avx512_kernel_tile_edges() {
    match nanobert::ops::matmul::kernels::avx512::Avx512::new() {
        Some(k) => tile_edges(k),
        None => eprintln!("NOT TESTED: this CPU has no AVX-512F, the avx512 kernel cannot run here"),
    }
}

/// Which SIMD kernels this CPU could not run (printed with `--nocapture`, and in the test's
/// name in the runner's output when it fails), and the kernel `sgemm` picks can run.
#[test]
fn kernels_this_cpu_cannot_run_are_named() {
    let all = [Kernel::Portable, Kernel::Avx2, Kernel::Avx512];
    let missing: Vec<&str> = all.iter().filter(|k| !k.is_supported()).map(|k| k.name()).collect();
    let here: Vec<&str> = all.iter().filter(|k| k.is_supported()).map(|k| k.name()).collect();
    eprintln!("GEMM kernels tested on this CPU: {here:?}; NOT tested (CPU lacks them): {missing:?}");
    assert!(Kernel::Portable.is_supported() && Kernel::best().is_supported());
    assert!(here.contains(&Kernel::best().name()));
    // Every supported kernel is reachable through the public API and agrees with naive.
    let (a, b) = (values(7 * 5, 8), values(5 * 9, 9));
    let (a, b) = (MatRef::new(&a, 7, 5), MatRef::new(&b, 5, 9));
    let mut want = vec![0.0; 63];
    sgemm_naive(a, b, MatMut::new(&mut want, 7, 9)).unwrap();
    for k in all {
        let gemm = Gemm::default().with_kernel(k);
        assert_eq!(gemm.is_ok(), k.is_supported(), "{}", k.name());
        if let Ok(gemm) = gemm {
            let mut got = vec![f32::NAN; 63];
            gemm.sgemm(a, b, MatMut::new(&mut got, 7, 9), Epilogue::None).unwrap();
            assert!(got.iter().zip(&want).all(|(g, w)| (g - w).abs() < 1e-5), "{}", k.name());
        }
    }
}

/// The AVX transposing pack (used by the AVX2 and AVX-512 kernels for A~ and for B~ of a
/// transposed B): rows 0..=h valid, kc around multiples of 8, rows further apart than kc,
/// the source exactly as long as the last row read.
#[cfg(target_arch = "x86_64")]
#[test]
fn avx_pack_rows_edges() {
    use nanobert::ops::matmul::kernels::avx2::pack_rows_8x8;
    use nanobert::ops::matmul::pack::pack_rows;
    for h in [1usize, 6, 7, 8, 9, 14, 16] {
        for valid in [0, 1, h.saturating_sub(1), h] {
            for kc in [0, 1, 7, 8, 9, 17] {
                for (ld, p0, r0) in [(kc.max(1), 0, 0), (kc + 3, 2, 1)] {
                    let rows = r0 + valid;
                    let len = if valid == 0 || kc == 0 { 0 } else { (rows - 1) * ld + p0 + kc };
                    let data = values(len, 5);
                    let (mut got, dlen) = guarded(vec![f32::NAN; kc * h]);
                    pack_rows_8x8(&data[..len], ld, r0, valid, h, p0, kc, &mut got[..dlen]);
                    let mut want = vec![f32::NAN; kc * h];
                    if kc > 0 {
                        pack_rows(&data, ld, r0, valid, h, p0, kc, &mut want);
                    }
                    let what = format!("h={h} valid={valid} kc={kc} ld={ld} p0={p0} r0={r0}");
                    assert!(untouched(&got, dlen), "{what}: wrote past the panel");
                    let same = got[..dlen].iter().zip(&want).all(|(g, w)| g.to_bits() == w.to_bits());
                    assert!(same, "{what}: differs from the scalar pack");
                }
            }
        }
    }
}

/// The `matrixmultiply` call: m, k, n of 0 and 1, leading dimensions larger than the width,
/// transposed operands; every slice exactly as long as its view needs, C followed by
/// sentinels; one thread and two.
#[test]
fn matrixmultiply_backend_edges() {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
    for (m, k, n) in [(0, 3, 4), (3, 0, 4), (3, 4, 0), (1, 1, 1), (1, 5, 3), (5, 1, 3), (300, 130, 150)] {
        for (trans_a, trans_b, pad) in [(false, false, 0), (false, true, 3), (true, false, 2), (true, true, 1)] {
            let (ar, ac) = if trans_a { (k, m) } else { (m, k) };
            let (br, bc) = if trans_b { (n, k) } else { (k, n) };
            let (lda, ldb, ldc) = (ac + pad, bc + pad, n + pad);
            let exact =
                |rows: usize, cols: usize, ld: usize| if rows == 0 || cols == 0 { 0 } else { (rows - 1) * ld + cols };
            let (a, b) = (values(exact(ar, ac, lda), 1), values(exact(br, bc, ldb), 2));
            // The stored matrices, read as A (m x k) and B (k x n), transposed where stored so.
            let view = |data, rows, cols, ld, t| {
                let v = MatRef::strided(data, rows, cols, ld);
                if t { v.t() } else { v }
            };
            let a_view = view(&a[..], ar, ac, lda, trans_a);
            let b_view = view(&b[..], br, bc, ldb, trans_b);
            let clen = exact(m, n, ldc);
            let mut want = vec![f32::NAN; clen];
            sgemm_naive(a_view, b_view, MatMut::strided(&mut want, m, n, ldc)).unwrap();
            for parallel in [false, true] {
                let (mut c, len) = guarded(vec![f32::NAN; clen]);
                let gemm = Gemm::matrixmultiply().parallel(parallel);
                pool.install(|| gemm.sgemm(a_view, b_view, MatMut::strided(&mut c[..len], m, n, ldc), Epilogue::None))
                    .unwrap();
                let what = format!("m={m} k={k} n={n} trans_a={trans_a} trans_b={trans_b} ld pad {pad}");
                assert!(untouched(&c, len), "{what}: wrote past C");
                for (i, (g, w)) in c[..len].iter().zip(&want).enumerate() {
                    let ok = if i % ldc.max(1) < n { (g - w).abs() < 1e-4 } else { g.is_nan() };
                    assert!(ok, "{what}: C flat index {i} = {g}, want {w}");
                }
            }
        }
    }
}
