//! # The AVX-512 microkernel: a 14 x 32 tile of C in 28 zmm registers
//!
//! Each step p of the k loop loads one row of the B~ panel as two 16-float vectors, then for
//! each of the (up to) 14 rows broadcasts one value of the A~ panel and issues two FMAs:
//!
//! ```text
//! b0 = B~[p][0..16]   b1 = B~[p][16..32]            2 loads
//! for i in 0..14:  a = splat(A~[p][i])              14 broadcast loads
//!                  c[i].lo += a * b0                28 FMAs  (2 per cycle: 14 cycles)
//!                  c[i].hi += a * b1
//! ```
//!
//! 28 FMAs per 16 loads keeps the two FMA units busy; 28 accumulators hide the 4-cycle FMA
//! latency. C is touched only at the end of the k loop (one load, add and store per
//! vector); its lines are prefetched into L2 at the start and into L1 a few steps before
//! the end, so those loads and stores do not wait for memory. The A~ panel, which comes
//! from L2 (the B~ panel stays in L1), is prefetched a few steps ahead as well.
//!
//! Alone, on panels already in L1, this loop runs at the FMA peak of the core (measured by
//! `cargo bench --bench matmul`, line "microkernel alone"); everything the full GEMM loses
//! beyond that is spent outside it: packing, cache misses, the C updates. Columns past `nr` (right edge of C) are handled with AVX-512
//! masked loads and stores, which never touch the masked-off memory.
//!
//! Heights 1..=14 are separate monomorphized functions (`tile_h::<H>`), so an edge tile of
//! 8 rows really does 8 rows of work. Narrow edge tiles likewise: a tile of at most 16 columns
//! runs a k loop of one zmm vector per row (`k_loop_16`), one of at most 8 a loop of one ymm
//! vector (`k_loop_8`), so the last panel of N = 769 (1 column) does not cost a full panel.

use std::arch::x86_64::*;

use super::{C_PREFETCH_DISTANCE, MicroKernel, check_tile, dispatch_height, prefetch_c_tile};
use crate::ops::matmul::epilogue::{self, Epilogue};

const MR: usize = 14;
const NR: usize = 32;
/// k steps ahead at which the A~ panel is prefetched into L1 (it streams from L2).
const A_PREFETCH_DISTANCE: usize = 8;

/// Proof that this CPU has AVX-512F: only [`Avx512::new`] makes one.
#[derive(Clone, Copy, Debug)]
pub struct Avx512(());

impl Avx512 {
    /// `Some` if the CPU supports AVX-512F (checked at run time).
    pub fn new() -> Option<Avx512> {
        is_x86_feature_detected!("avx512f").then_some(Avx512(()))
    }
}

impl MicroKernel for Avx512 {
    const MR: usize = MR;
    const NR: usize = NR;
    const NAME: &'static str = "avx512";

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
        // SAFETY: `self` exists only if the CPU has AVX-512F; `check_tile` verified that `a`
        // holds kc*mr values, `b` kc*NR values, that `c[i * ldc..i * ldc + nr]` is inside
        // C's slice for each of the `mr` rows, and that the bias (if any) has `col + nr` values.
        unsafe {
            dispatch_height!(
                mr,
                tile_h(kc, nr, a, b, c, ldc, accumulate, epilogue, col),
                [1 2 3 4 5 6 7 8 9 10 11 12 13 14]
            )
        }
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
        super::avx2::pack_rows_8x8(data, ld, r0, valid, h, p0, kc, dst);
    }
    #[inline]
    fn prefetch(&self, data: &[f32]) {
        super::prefetch_l2(data);
    }
}

/// The k loop of the `H x NR` tile: returns the accumulators (`lo`: columns 0..16, `hi`:
/// the rest). A function of its own, never inlined, so that its accumulator arrays are plain
/// registers: inlined into `tile_h`, whose write-back loop indexes them at run time, LLVM
/// kept them in memory on the stack and stored all of them on every k step of the last loop
/// (a thousand cycles per tile, a fifth of the kernel's time at kc = 192).
///
/// # Safety
/// As `tile_h`: the CPU has the instructions, `a` points to `kc * H` floats, `b` to `kc * NR`.
#[target_feature(enable = "avx512f")]
#[inline(never)]
unsafe fn k_loop<const H: usize>(
    kc: usize,
    a: *const f32,
    b: *const f32,
    c: *mut f32,
    ldc: usize,
) -> ([__m512; H], [__m512; H]) {
    // The C tile: into L2 now, into L1 near the end of the k loop (see `C_PREFETCH_DISTANCE`).
    let prefetch_c = |into_l1: bool| prefetch_c_tile(c, ldc, H, NR, into_l1);
    prefetch_c(false);
    let tail = kc.min(C_PREFETCH_DISTANCE);
    let mut lo = [_mm512_setzero_ps(); H];
    let mut hi = [_mm512_setzero_ps(); H];
    let (mut a, mut b) = (a, b);
    macro_rules! step {
        () => {
            // SAFETY: p < kc, so the reads at b[p*32..p*32+32] and a[p*H..p*H+H] are in bounds.
            unsafe {
                _mm_prefetch::<_MM_HINT_T0>(a.wrapping_add(H * A_PREFETCH_DISTANCE) as *const i8);
                let b0 = _mm512_loadu_ps(b);
                let b1 = _mm512_loadu_ps(b.add(16));
                for i in 0..H {
                    let ai = _mm512_set1_ps(*a.add(i));
                    lo[i] = _mm512_fmadd_ps(ai, b0, lo[i]);
                    hi[i] = _mm512_fmadd_ps(ai, b1, hi[i]);
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

/// The k loop of a narrow edge tile, `H x 16`: one vector of B~ per step (the first 16 of
/// its 32 columns; the rest are zero padding past the right edge of C), `H` FMAs. A panel of
/// 1 to 16 useful columns (N = 769 has one of 1) then costs half a full one instead of all of
/// it.
///
/// # Safety
/// As [`k_loop`].
#[target_feature(enable = "avx512f")]
#[inline(never)]
unsafe fn k_loop_16<const H: usize>(kc: usize, a: *const f32, b: *const f32, c: *mut f32, ldc: usize) -> [__m512; H] {
    let prefetch_c = |into_l1: bool| prefetch_c_tile(c, ldc, H, 16, into_l1);
    prefetch_c(false);
    let tail = kc.min(C_PREFETCH_DISTANCE);
    let mut acc = [_mm512_setzero_ps(); H];
    let (mut a, mut b) = (a, b);
    macro_rules! step {
        () => {
            // SAFETY: p < kc, so the reads at b[p*32..p*32+16] and a[p*H..p*H+H] are in bounds.
            unsafe {
                _mm_prefetch::<_MM_HINT_T0>(a.wrapping_add(H * A_PREFETCH_DISTANCE) as *const i8);
                let b0 = _mm512_loadu_ps(b);
                for i in 0..H {
                    acc[i] = _mm512_fmadd_ps(_mm512_set1_ps(*a.add(i)), b0, acc[i]);
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

/// The k loop of the narrowest edge tile, `H x 8`, on 256-bit vectors. Where the core splits
/// a 512-bit FMA into two 256-bit halves (Zen 4), a ymm FMA costs half a zmm one, so a panel
/// of 1 to 8 useful columns costs a quarter of a full one; elsewhere it costs as much as
/// `k_loop_16`.
///
/// # Safety
/// As [`k_loop`] (AVX-512F implies AVX2 and FMA).
#[target_feature(enable = "avx512f")]
#[inline(never)]
unsafe fn k_loop_8<const H: usize>(kc: usize, a: *const f32, b: *const f32, c: *mut f32, ldc: usize) -> [__m256; H] {
    let prefetch_c = |into_l1: bool| prefetch_c_tile(c, ldc, H, 8, into_l1);
    prefetch_c(false);
    let tail = kc.min(C_PREFETCH_DISTANCE);
    let mut acc = [_mm256_setzero_ps(); H];
    let (mut a, mut b) = (a, b);
    macro_rules! step {
        () => {
            // SAFETY: p < kc, so the reads at b[p*32..p*32+8] and a[p*H..p*H+H] are in bounds.
            unsafe {
                _mm_prefetch::<_MM_HINT_T0>(a.wrapping_add(H * A_PREFETCH_DISTANCE) as *const i8);
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

/// The `H x 32` tile (see module docs).
///
/// # Safety
/// CPU has AVX-512F; `a` points to `kc * H` floats, `b` to `kc * 32`; `c + i * ldc` to `nr`
/// writable floats for `i < H`; the epilogue's bias (if any) has `col + nr` values.
#[target_feature(enable = "avx512f")]
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
    // the narrow loops read fewer columns of each B~ row than `k_loop` does.
    let (lo, hi) = unsafe {
        if nr > 16 {
            k_loop::<H>(kc, a, b, c, ldc)
        } else if nr > 8 {
            (k_loop_16::<H>(kc, a, b, c, ldc), [_mm512_setzero_ps(); H])
        } else {
            let narrow = k_loop_8::<H>(kc, a, b, c, ldc);
            let mut lo = [_mm512_setzero_ps(); H];
            for i in 0..H {
                lo[i] = _mm512_zextps256_ps512(narrow[i]);
            }
            (lo, [_mm512_setzero_ps(); H])
        }
    };
    // Write the tile back, masking off columns >= nr at the right edge of C. The epilogue
    // runs here, on each row as it leaves the registers: the bias is one more vector add;
    // GELU goes through a 32-float buffer on the stack (L1), where the same scalar formula as
    // `ops::activation::gelu` is compiled with AVX-512 (this function's target feature).
    let mask = |from: usize| -> __mmask16 { ((1u32 << nr.saturating_sub(from).min(16)) - 1) as u16 };
    let (m0, m1) = (mask(0), mask(16));
    let (bias, gelu) = match epilogue {
        Epilogue::None => (None, false),
        Epilogue::Bias(b) => (Some(b), false),
        Epilogue::BiasGelu(b) => (Some(b), true),
    };
    let (bias0, bias1) = match bias {
        // SAFETY: the bias has `col + nr` values (caller); masked lanes (>= nr) are not read.
        Some(b) => unsafe {
            let p = b.as_ptr().add(col);
            (_mm512_maskz_loadu_ps(m0, p), _mm512_maskz_loadu_ps(m1, p.wrapping_add(16)))
        },
        None => (_mm512_setzero_ps(), _mm512_setzero_ps()),
    };
    for i in 0..H {
        let p0 = c.wrapping_add(i * ldc);
        let p1 = p0.wrapping_add(16);
        // SAFETY: row i has nr writable floats at p0; masked lanes (>= nr) are not accessed.
        unsafe {
            let (mut x, mut y) = (lo[i], hi[i]);
            if accumulate {
                if nr == NR {
                    x = _mm512_add_ps(x, _mm512_loadu_ps(p0));
                    y = _mm512_add_ps(y, _mm512_loadu_ps(p1));
                } else {
                    x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(m0, p0));
                    y = _mm512_add_ps(y, _mm512_maskz_loadu_ps(m1, p1));
                }
            }
            if bias.is_some() {
                x = _mm512_add_ps(x, bias0);
                y = _mm512_add_ps(y, bias1);
            }
            if gelu {
                let mut buf = [0.0f32; NR];
                _mm512_storeu_ps(buf.as_mut_ptr(), x);
                _mm512_storeu_ps(buf.as_mut_ptr().add(16), y);
                buf.iter_mut().for_each(|v| *v = epilogue::gelu(*v));
                x = _mm512_loadu_ps(buf.as_ptr());
                y = _mm512_loadu_ps(buf.as_ptr().add(16));
            }
            if nr == NR {
                _mm512_storeu_ps(p0, x);
                _mm512_storeu_ps(p1, y);
            } else {
                _mm512_mask_storeu_ps(p0, m0, x);
                if nr > 16 {
                    _mm512_mask_storeu_ps(p1, m1, y);
                }
            }
        }
    }
}

/// Independent FMA chains on registers only: the FMA peak of this instruction set, measured.
pub const PEAK_CHAINS: usize = 16;

impl Avx512 {
    /// Runs `iters` rounds of [`PEAK_CHAINS`] independent 16-float FMAs, all in registers
    /// (`iters * PEAK_CHAINS * 16 * 2` flops). Returns a value depending on every FMA so the
    /// compiler cannot remove them.
    pub fn fma_chains(&self, iters: usize) -> f32 {
        // SAFETY: `self` proves the CPU has AVX-512F.
        unsafe { fma_chains(iters) }
    }
}

/// # Safety
/// CPU has AVX-512F.
#[target_feature(enable = "avx512f")]
unsafe fn fma_chains(iters: usize) -> f32 {
    // x * acc + y with x slightly below 1 stays bounded, so no overflow to infinities.
    let x = _mm512_set1_ps(std::hint::black_box(0.999_9));
    let y = _mm512_set1_ps(std::hint::black_box(1e-4));
    let mut acc = [_mm512_setzero_ps(); PEAK_CHAINS];
    for _ in 0..iters {
        for a in acc.iter_mut() {
            *a = _mm512_fmadd_ps(*a, x, y);
        }
    }
    let sum = acc.iter().fold(_mm512_setzero_ps(), |s, &a| _mm512_add_ps(s, a));
    _mm512_reduce_add_ps(sum)
}
