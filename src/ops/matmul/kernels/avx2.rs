//! # The AVX2 + FMA microkernel: a 6 x 16 tile of C in 12 ymm registers
//!
//! The same algorithm as `avx512.rs` with 8-float vectors and half the registers (16):
//! per step p, two loads of B~ (16 floats), six broadcasts of A~, twelve FMAs.
//! 12 accumulators + 2 B vectors + 1 broadcast = 15 registers, and 12 FMAs in flight hide
//! the FMA latency. AVX2 has no masked stores for f32 edges as convenient as AVX-512's, so
//! an edge tile (nr < 16) is written through a small buffer on the stack. A tile of at most
//! 8 columns runs a k loop of one vector per row (`k_loop_8`), half the FMAs.
//!
//! This file also holds the 8 x 8 in-register transpose used to pack B~ from a transposed
//! matrix (A·Bᵀ, e.g. Linear weights stored [out, in]): eight row loads, 24 shuffles,
//! eight stores, instead of 64 scalar copies with strided writes.

use std::arch::x86_64::*;

use super::{C_PREFETCH_DISTANCE, MicroKernel, check_tile, dispatch_height, prefetch_c_tile};
use crate::ops::matmul::epilogue::{self, Epilogue};

const MR: usize = 6;
const NR: usize = 16;

/// Proof that this CPU has AVX2 and FMA: only [`Avx2::new`] makes one.
#[derive(Clone, Copy, Debug)]
pub struct Avx2(());

impl Avx2 {
    /// `Some` if the CPU supports AVX2 and FMA (checked at run time).
    pub fn new() -> Option<Avx2> {
        (is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")).then_some(Avx2(()))
    }
}

impl MicroKernel for Avx2 {
    const MR: usize = MR;
    const NR: usize = NR;
    const NAME: &'static str = "avx2";

    #[inline]
    fn tile(
        &self,
        kc: usize,
        mr: usize,
        nr: usize,
        a: &[f32],
        b: &[f32],
        c: &mut [f32],
        ldc: usize,
        accumulate: bool,
        epilogue: Epilogue,
        col: usize,
    ) {
        check_tile::<MR, NR>(kc, mr, nr, a, b, c, ldc, &epilogue, col);
        let (a, b, c) = (a.as_ptr(), b.as_ptr(), c.as_mut_ptr());
        // SAFETY: `self` exists only if the CPU has AVX2 and FMA; `check_tile` verified that
        // `a` holds kc*mr values, `b` kc*NR values, that `c[i * ldc..i * ldc + nr]` is inside
        // C's slice for each of the `mr` rows, and that the bias (if any) has `col + nr` values.
        unsafe { dispatch_height!(mr, tile_h(kc, nr, a, b, c, ldc, accumulate, epilogue, col), [1 2 3 4 5 6]) }
    }

    fn pack_rows(
        &self,
        data: &[f32],
        ld: usize,
        r0: usize,
        valid: usize,
        h: usize,
        p0: usize,
        kc: usize,
        dst: &mut [f32],
    ) {
        pack_rows_8x8(data, ld, r0, valid, h, p0, kc, dst);
    }
    #[inline]
    fn prefetch(&self, data: &[f32]) {
        super::prefetch_l2(data);
    }
}

/// The k loop of the `H x NR` tile: returns the accumulators (`lo`: columns 0..8, `hi`:
/// the rest). A function of its own, never inlined, so that its accumulator arrays are plain
/// registers: inlined into `tile_h`, whose write-back loop indexes them at run time, LLVM
/// kept them in memory on the stack and stored all of them on every k step of the last loop
/// (a thousand cycles per tile, a fifth of the kernel's time at kc = 192).
///
/// # Safety
/// As `tile_h`: the CPU has the instructions, `a` points to `kc * H` floats, `b` to `kc * NR`.
#[target_feature(enable = "avx2,fma")]
#[inline(never)]
unsafe fn k_loop<const H: usize>(
    kc: usize,
    a: *const f32,
    b: *const f32,
    c: *mut f32,
    ldc: usize,
) -> ([__m256; H], [__m256; H]) {
    // The C tile: into L2 now, into L1 near the end of the k loop (see `C_PREFETCH_DISTANCE`).
    let prefetch_c = |into_l1: bool| prefetch_c_tile(c, ldc, H, NR, into_l1);
    prefetch_c(false);
    let tail = kc.min(C_PREFETCH_DISTANCE);
    let mut lo = [_mm256_setzero_ps(); H];
    let mut hi = [_mm256_setzero_ps(); H];
    let (mut a, mut b) = (a, b);
    macro_rules! step {
        () => {
            // SAFETY: p < kc, so b[p*16..p*16+16] and a[p*H..p*H+H] are in bounds.
            unsafe {
                let b0 = _mm256_loadu_ps(b);
                let b1 = _mm256_loadu_ps(b.add(8));
                for i in 0..H {
                    let ai = _mm256_set1_ps(*a.add(i));
                    lo[i] = _mm256_fmadd_ps(ai, b0, lo[i]);
                    hi[i] = _mm256_fmadd_ps(ai, b1, hi[i]);
                }
                a = a.add(H);
                b = b.add(NR);
            }
        };
    }
    for _ in 0..kc - tail {
        step!();
    }
    prefetch_c(true);
    for _ in 0..tail {
        step!();
    }
    (lo, hi)
}

/// The k loop of a narrow edge tile, `H x 8`: one vector of B~ per step (the first 8 of its 16
/// columns; the rest are zero padding past the right edge of C), `H` FMAs. A panel of 1 to 8
/// useful columns then costs about half a full one instead of all of it.
///
/// # Safety
/// As [`k_loop`].
#[target_feature(enable = "avx2,fma")]
#[inline(never)]
unsafe fn k_loop_8<const H: usize>(kc: usize, a: *const f32, b: *const f32, c: *mut f32, ldc: usize) -> [__m256; H] {
    let prefetch_c = |into_l1: bool| prefetch_c_tile(c, ldc, H, 8, into_l1);
    prefetch_c(false);
    let tail = kc.min(C_PREFETCH_DISTANCE);
    let mut acc = [_mm256_setzero_ps(); H];
    let (mut a, mut b) = (a, b);
    macro_rules! step {
        () => {
            // SAFETY: p < kc, so b[p*16..p*16+8] and a[p*H..p*H+H] are in bounds.
            unsafe {
                let b0 = _mm256_loadu_ps(b);
                for i in 0..H {
                    acc[i] = _mm256_fmadd_ps(_mm256_set1_ps(*a.add(i)), b0, acc[i]);
                }
                a = a.add(H);
                b = b.add(NR);
            }
        };
    }
    for _ in 0..kc - tail {
        step!();
    }
    prefetch_c(true);
    for _ in 0..tail {
        step!();
    }
    acc
}

/// The `H x 16` tile.
///
/// # Safety
/// CPU has AVX2 and FMA; `a` points to `kc * H` floats, `b` to `kc * 16`; `c + i * ldc` to
/// `nr` writable floats for `i < H`; the epilogue's bias (if any) has `col + nr` values.
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
unsafe fn tile_h<const H: usize>(
    kc: usize,
    nr: usize,
    a: *const f32,
    b: *const f32,
    c: *mut f32,
    ldc: usize,
    accumulate: bool,
    epilogue: Epilogue,
    col: usize,
) {
    // SAFETY: the caller's contract is this function's (same pointers, same CPU feature);
    // the narrow loop reads fewer columns of each B~ row than `k_loop` does.
    let (lo, hi) = unsafe {
        if nr > 8 { k_loop::<H>(kc, a, b, c, ldc) } else { (k_loop_8::<H>(kc, a, b, c, ldc), [_mm256_setzero_ps(); H]) }
    };
    // Write the tile back. The epilogue runs here, on each row as it leaves the registers:
    // the bias is one more vector add; GELU goes through a 16-float buffer on the stack (L1),
    // where the scalar formula of `ops::activation::gelu` is compiled with AVX2.
    let (bias, gelu) = match epilogue {
        Epilogue::None => (None, false),
        Epilogue::Bias(b) => (Some(b), false),
        Epilogue::BiasGelu(b) => (Some(b), true),
    };
    // The bias of the tile's columns, zero beyond nr (AVX2 has no masked loads of f32 as
    // convenient as AVX-512's: copy it to the stack first).
    let mut bias_buf = [0.0f32; NR];
    if let Some(b) = bias {
        bias_buf[..nr].copy_from_slice(&b[col..col + nr]);
    }
    // SAFETY: `bias_buf` holds 16 floats.
    let (bias0, bias1) = unsafe { (_mm256_loadu_ps(bias_buf.as_ptr()), _mm256_loadu_ps(bias_buf.as_ptr().add(8))) };
    for i in 0..H {
        let row = c.wrapping_add(i * ldc);
        // SAFETY: row i has nr writable floats: full vectors when nr == 16, else only the
        // first nr floats are touched (through `buf`).
        unsafe {
            let (mut x, mut y) = (lo[i], hi[i]);
            if accumulate && nr == NR {
                x = _mm256_add_ps(x, _mm256_loadu_ps(row));
                y = _mm256_add_ps(y, _mm256_loadu_ps(row.add(8)));
            }
            if nr == NR && !gelu {
                if bias.is_some() {
                    x = _mm256_add_ps(x, bias0);
                    y = _mm256_add_ps(y, bias1);
                }
                _mm256_storeu_ps(row, x);
                _mm256_storeu_ps(row.add(8), y);
                continue;
            }
            // Edge tiles and GELU: through the stack.
            let mut buf = [0.0f32; NR];
            _mm256_storeu_ps(buf.as_mut_ptr(), x);
            _mm256_storeu_ps(buf.as_mut_ptr().add(8), y);
            if accumulate && nr < NR {
                for (j, v) in buf.iter_mut().enumerate().take(nr) {
                    *v += *row.add(j);
                }
            }
            for (v, b) in buf.iter_mut().zip(&bias_buf).take(nr) {
                if bias.is_some() {
                    *v += b;
                }
                if gelu {
                    *v = epilogue::gelu(*v);
                }
            }
            std::ptr::copy_nonoverlapping(buf.as_ptr(), row, nr);
        }
    }
}

/// Packs rows of a row-major matrix into a k-major panel, 8 x 8 blocks at a time transposed
/// in registers:
/// `dst[p * h + i] = data[(r0 + i) * ld + p0 + p]` for `i < valid`, `0` for `valid <= i < h`,
/// `p < kc`. Used for A~ panels (`valid == h`, up to 14 rows) and for B~ panels of a
/// transposed B (`h == NR`, `valid < NR` at the right edge of C). Falls back to scalar code
/// if the CPU lacks AVX.
#[allow(clippy::too_many_arguments)]
pub fn pack_rows_8x8(
    data: &[f32],
    ld: usize,
    r0: usize,
    valid: usize,
    h: usize,
    p0: usize,
    kc: usize,
    dst: &mut [f32],
) {
    assert!(valid <= h && dst.len() >= kc * h, "pack_rows_8x8: {valid} rows into a panel of {h}");
    if valid > 0 && kc > 0 {
        let last = (r0 + valid - 1) * ld + p0 + kc;
        assert!(data.len() >= last, "pack_rows_8x8: rows {r0}..{} out of bounds", r0 + valid);
    }
    if !is_x86_feature_detected!("avx") {
        return scalar_pack_rows(data, ld, r0, valid, h, p0, kc, dst);
    }
    let full = kc / 8 * 8;
    for i0 in (0..h).step_by(8) {
        let (rows, width) = (valid.saturating_sub(i0).min(8), (h - i0).min(8));
        let src = data.as_ptr().wrapping_add((r0 + i0) * ld + p0);
        // SAFETY: AVX checked above. Reads: rows r0+i0..r0+i0+rows, floats p0..p0+full,
        // within `last`. Writes: dst[pb*h + q*h + i0..+width] with pb + q < full <= kc and
        // i0 + width <= h, within kc*h.
        unsafe { pack_group(src, ld, rows, full, dst.as_mut_ptr().add(i0), h, width) };
    }
    // The k remainder (kc not a multiple of 8).
    for p in full..kc {
        for i in 0..h {
            dst[p * h + i] = if i < valid { data[(r0 + i) * ld + p0 + p] } else { 0.0 };
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn scalar_pack_rows(data: &[f32], ld: usize, r0: usize, valid: usize, h: usize, p0: usize, kc: usize, dst: &mut [f32]) {
    for p in 0..kc {
        for i in 0..h {
            dst[p * h + i] = if i < valid { data[(r0 + i) * ld + p0 + p] } else { 0.0 };
        }
    }
}

/// Transposes a group of (up to) 8 rows, `full` floats long (a multiple of 8), into
/// `dst[p * ldd + r]`, writing `width` floats per p.
///
/// # Safety
/// CPU has AVX; `rows` rows of `full` floats readable at `src` (stride `lds`); `full` rows
/// of `width` floats writable at `dst` (stride `ldd`).
#[target_feature(enable = "avx")]
unsafe fn pack_group(src: *const f32, lds: usize, rows: usize, full: usize, dst: *mut f32, ldd: usize, width: usize) {
    // SAFETY: every access below stays in the bounds the caller guarantees.
    unsafe {
        for pb in (0..full).step_by(8) {
            // Rows are read 32 bytes at a time, 8 rows at once: ask for each row's data a
            // few cache lines ahead.
            for r in 0..rows {
                _mm_prefetch::<_MM_HINT_T0>(src.wrapping_add(r * lds + pb + 64) as *const i8);
            }
            // `src` may lie past the data when `rows == 0` (an all-padding group): offset it with
            // `wrapping_add`, and dereference it only for the `rows` rows that exist.
            let (s, d) = (src.wrapping_add(pb), dst.add(pb * ldd));
            let block: [__m256; 8] = if rows == 8 {
                std::array::from_fn(|i| _mm256_loadu_ps(s.add(i * lds)))
            } else {
                std::array::from_fn(|i| if i < rows { _mm256_loadu_ps(s.add(i * lds)) } else { _mm256_setzero_ps() })
            };
            let out = transpose_8x8(block);
            if width == 8 {
                for (q, &v) in out.iter().enumerate() {
                    _mm256_storeu_ps(d.add(q * ldd), v);
                }
            } else {
                for (q, &v) in out.iter().enumerate() {
                    store_first(d.add(q * ldd), v, width);
                }
            }
        }
    }
}

/// The 8 x 8 transpose in registers: output vector q holds element q of every input row.
#[inline]
#[target_feature(enable = "avx")]
fn transpose_8x8(r: [__m256; 8]) -> [__m256; 8] {
    // Interleave pairs of rows, then pairs of pairs, then swap 128-bit halves.
    let t0 = _mm256_unpacklo_ps(r[0], r[1]);
    let t1 = _mm256_unpackhi_ps(r[0], r[1]);
    let t2 = _mm256_unpacklo_ps(r[2], r[3]);
    let t3 = _mm256_unpackhi_ps(r[2], r[3]);
    let t4 = _mm256_unpacklo_ps(r[4], r[5]);
    let t5 = _mm256_unpackhi_ps(r[4], r[5]);
    let t6 = _mm256_unpacklo_ps(r[6], r[7]);
    let t7 = _mm256_unpackhi_ps(r[6], r[7]);
    let u0 = _mm256_shuffle_ps::<0x44>(t0, t2);
    let u1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
    let u2 = _mm256_shuffle_ps::<0x44>(t1, t3);
    let u3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
    let u4 = _mm256_shuffle_ps::<0x44>(t4, t6);
    let u5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
    let u6 = _mm256_shuffle_ps::<0x44>(t5, t7);
    let u7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
    [
        _mm256_permute2f128_ps::<0x20>(u0, u4),
        _mm256_permute2f128_ps::<0x20>(u1, u5),
        _mm256_permute2f128_ps::<0x20>(u2, u6),
        _mm256_permute2f128_ps::<0x20>(u3, u7),
        _mm256_permute2f128_ps::<0x31>(u0, u4),
        _mm256_permute2f128_ps::<0x31>(u1, u5),
        _mm256_permute2f128_ps::<0x31>(u2, u6),
        _mm256_permute2f128_ps::<0x31>(u3, u7),
    ]
}

/// Stores the first `width` (0..=8) floats of `v` at `dst`, touching nothing beyond.
///
/// # Safety
/// CPU has AVX; `width` floats writable at `dst`.
#[inline]
#[target_feature(enable = "avx")]
unsafe fn store_first(dst: *mut f32, v: __m256, width: usize) {
    // SAFETY: every store below writes inside dst[..width].
    unsafe {
        if width == 8 {
            return _mm256_storeu_ps(dst, v);
        }
        let (mut x, mut done) = (_mm256_castps256_ps128(v), 0);
        if width >= 4 {
            _mm_storeu_ps(dst, x);
            (x, done) = (_mm256_extractf128_ps::<1>(v), 4);
        }
        if width - done >= 2 {
            _mm_storel_epi64(dst.add(done) as *mut __m128i, _mm_castps_si128(x));
            (x, done) = (_mm_movehl_ps(x, x), done + 2);
        }
        if width > done {
            _mm_store_ss(dst.add(done), x);
        }
    }
}

/// Independent FMA chains on registers only: the FMA peak of this instruction set, measured.
pub const PEAK_CHAINS: usize = 12;

impl Avx2 {
    /// Runs `iters` rounds of [`PEAK_CHAINS`] independent 8-float FMAs, all in registers
    /// (`iters * PEAK_CHAINS * 8 * 2` flops).
    pub fn fma_chains(&self, iters: usize) -> f32 {
        // SAFETY: `self` proves the CPU has AVX2 and FMA.
        unsafe { fma_chains(iters) }
    }
}

/// # Safety
/// CPU has AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
unsafe fn fma_chains(iters: usize) -> f32 {
    let x = _mm256_set1_ps(std::hint::black_box(0.999_9));
    let y = _mm256_set1_ps(std::hint::black_box(1e-4));
    let mut acc = [_mm256_setzero_ps(); PEAK_CHAINS];
    for _ in 0..iters {
        for a in acc.iter_mut() {
            *a = _mm256_fmadd_ps(*a, x, y);
        }
    }
    let sum = acc.iter().fold(_mm256_setzero_ps(), |s, &a| _mm256_add_ps(s, a));
    let mut lanes = [0.0f32; 8];
    // SAFETY: `lanes` holds 8 floats.
    unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), sum) };
    lanes.iter().sum()
}
