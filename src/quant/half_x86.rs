//! # The x86 f16/bf16 microkernels (see `half.rs` for the formats)
//!
//! Each implements the driver's [`LowpTile`] contract: an `H x NR` f32 tile of
//! `Σ_k A[i][k] · W[k][j]` over the whole padded depth, W read from one packed panel.
//!
//! | kernel      | A read as              | W widened by            | tile  |
//! |-------------|------------------------|-------------------------|-------|
//! | avx2-f16c   | f32 (broadcast)        | `vcvtph2ps` / a shift   | 6x16  |
//! | avx512      | f32 (broadcast)        | `vcvtph2ps` / a shift   | 14x32 |
//! | avx512-bf16 | bf16 pairs (broadcast) | not at all: `vdpbf16ps` | 14x32 |
//!
//! A value of each kernel type exists only once `new()` has checked the CPU flags, which is
//! what makes the `unsafe` calls below sound.
use std::arch::x86_64::*;

use super::Precision;
use super::driver::LowpTile;

macro_rules! by_height {
    ($h:expr, $f:ident $args:tt, [$($n:literal)*]) => {
        match $h {
            $($n => $f::<$n> $args,)*
            h => unreachable!("no half kernel for height {h}"),
        }
    };
}

/// The bounds every kernel checks before using raw pointers (A in f32 or bf16 units).
#[allow(clippy::too_many_arguments)]
fn check<T>(mr: usize, nr: usize, kp: usize, h: usize, a_len: usize, lda: usize, b: &[u16], acc: &[T]) {
    assert!((1..=mr).contains(&h), "half tile: height {h} not in 1..={mr}");
    assert!(lda >= kp, "half tile: rows of A {lda} apart, shorter than kp = {kp}");
    assert!(a_len >= (h - 1) * lda + kp, "half tile: A shorter than {h} rows");
    assert!(b.len() >= kp * nr, "half tile: panel shorter than kp = {kp}");
    assert!(acc.len() >= h * nr, "half tile: accumulators for fewer than {h} rows");
}

/// Proof of AVX2 + FMA + F16C.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Avx2(Precision);
impl Avx2 {
    /// The kernel for weights of precision `p` (f16 or bf16), if this CPU has the flags.
    pub(crate) fn new(p: Precision) -> Option<Self> {
        (is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") && is_x86_feature_detected!("f16c"))
            .then_some(Avx2(p))
    }
}

impl LowpTile for Avx2 {
    type A = f32;
    type B = u16;
    type Acc = f32;
    const MR: usize = 6;
    const NR: usize = 16;
    fn tile(&self, kp: usize, h: usize, a: &[f32], lda: usize, b: &[u16], acc: &mut [f32], load: bool) {
        check(Self::MR, Self::NR, kp, h, a.len(), lda, b, acc);
        let (a, b, acc) = (a.as_ptr(), b.as_ptr(), acc.as_mut_ptr());
        // SAFETY: `self` proves the CPU flags (see `new`); `check` verified A has h rows of kp
        // floats lda apart, the panel kp x 16 values and acc 16 h floats.
        unsafe {
            if self.0 == Precision::F16 {
                by_height!(h, f16_avx2(kp, a, lda, b, acc, load), [1 2 3 4 5 6])
            } else {
                by_height!(h, bf16_avx2(kp, a, lda, b, acc, load), [1 2 3 4 5 6])
            }
        }
    }
}

/// # Safety
/// AVX2 + FMA + F16C; `a`: H rows of kp floats (lda apart); `b`: kp x 16 f16; `acc`: 16 H.
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn f16_avx2<const H: usize>(kp: usize, a: *const f32, lda: usize, b: *const u16, acc: *mut f32, load: bool) {
    let mut lo = [_mm256_setzero_ps(); H];
    let mut hi = [_mm256_setzero_ps(); H];
    if load {
        for i in 0..H {
            // SAFETY: acc holds 16 H values (the function's contract).
            unsafe {
                lo[i] = _mm256_loadu_ps(acc.add(i * 16));
                hi[i] = _mm256_loadu_ps(acc.add(i * 16 + 8));
            }
        }
    }
    for kk in 0..kp {
        // SAFETY: kk < kp: panel values 16kk..16kk+16 and A values i*lda+kk are in bounds.
        unsafe {
            let b0 = _mm256_cvtph_ps(_mm_loadu_si128(b.add(kk * 16) as *const __m128i));
            let b1 = _mm256_cvtph_ps(_mm_loadu_si128(b.add(kk * 16 + 8) as *const __m128i));
            for i in 0..H {
                let av = _mm256_broadcast_ss(&*a.add(i * lda + kk));
                lo[i] = _mm256_fmadd_ps(av, b0, lo[i]);
                hi[i] = _mm256_fmadd_ps(av, b1, hi[i]);
            }
        }
    }
    for i in 0..H {
        // SAFETY: acc holds 16 H floats.
        unsafe {
            _mm256_storeu_ps(acc.add(i * 16), lo[i]);
            _mm256_storeu_ps(acc.add(i * 16 + 8), hi[i]);
        }
    }
}

/// bf16 pairs: one 32-bit lane holds `[k even | k odd]` of one column; `lane << 16` and
/// `lane & 0xFFFF0000` are the two f32 values.
///
/// # Safety
/// AVX2 + FMA; `a`: H rows of kp floats (kp even), lda apart; `b`: kp x 16 bf16; `acc`: 16 H.
#[target_feature(enable = "avx2,fma")]
unsafe fn bf16_avx2<const H: usize>(kp: usize, a: *const f32, lda: usize, b: *const u16, acc: *mut f32, load: bool) {
    let high = _mm256_set1_epi32(0xFFFF_0000u32 as i32);
    let mut lo = [_mm256_setzero_ps(); H];
    let mut hi = [_mm256_setzero_ps(); H];
    if load {
        for i in 0..H {
            // SAFETY: acc holds 16 H values (the function's contract).
            unsafe {
                lo[i] = _mm256_loadu_ps(acc.add(i * 16));
                hi[i] = _mm256_loadu_ps(acc.add(i * 16 + 8));
            }
        }
    }
    for q in 0..kp / 2 {
        // SAFETY: q < kp/2: panel values 32q..32q+32 and A values i*lda+2q+{0,1} in bounds.
        unsafe {
            let v0 = _mm256_loadu_si256(b.add(q * 32) as *const __m256i);
            let v1 = _mm256_loadu_si256(b.add(q * 32 + 16) as *const __m256i);
            let (e0, o0) =
                (_mm256_castsi256_ps(_mm256_slli_epi32(v0, 16)), _mm256_castsi256_ps(_mm256_and_si256(v0, high)));
            let (e1, o1) =
                (_mm256_castsi256_ps(_mm256_slli_epi32(v1, 16)), _mm256_castsi256_ps(_mm256_and_si256(v1, high)));
            for i in 0..H {
                let ae = _mm256_broadcast_ss(&*a.add(i * lda + 2 * q));
                let ao = _mm256_broadcast_ss(&*a.add(i * lda + 2 * q + 1));
                lo[i] = _mm256_fmadd_ps(ao, o0, _mm256_fmadd_ps(ae, e0, lo[i]));
                hi[i] = _mm256_fmadd_ps(ao, o1, _mm256_fmadd_ps(ae, e1, hi[i]));
            }
        }
    }
    for i in 0..H {
        // SAFETY: acc holds 16 H floats.
        unsafe {
            _mm256_storeu_ps(acc.add(i * 16), lo[i]);
            _mm256_storeu_ps(acc.add(i * 16 + 8), hi[i]);
        }
    }
}

/// Proof of AVX-512F (F16C comes with it on every AVX-512 CPU, but is checked too).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Avx512(Precision);
impl Avx512 {
    /// The kernel for weights of precision `p` (f16 or bf16), if this CPU has the flags.
    pub(crate) fn new(p: Precision) -> Option<Self> {
        (is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("f16c")).then_some(Avx512(p))
    }
}

impl LowpTile for Avx512 {
    type A = f32;
    type B = u16;
    type Acc = f32;
    const MR: usize = 14;
    const NR: usize = 32;
    fn tile(&self, kp: usize, h: usize, a: &[f32], lda: usize, b: &[u16], acc: &mut [f32], load: bool) {
        check(Self::MR, Self::NR, kp, h, a.len(), lda, b, acc);
        let (a, b, acc) = (a.as_ptr(), b.as_ptr(), acc.as_mut_ptr());
        // SAFETY: `self` proves the CPU flags (see `new`); `check` verified A has h rows of kp
        // floats lda apart, the panel kp x 32 values and acc 32 h floats.
        unsafe {
            if self.0 == Precision::F16 {
                by_height!(h, f16_avx512(kp, a, lda, b, acc, load), [1 2 3 4 5 6 7 8 9 10 11 12 13 14])
            } else {
                by_height!(h, bf16_avx512(kp, a, lda, b, acc, load), [1 2 3 4 5 6 7 8 9 10 11 12 13 14])
            }
        }
    }
}

/// # Safety
/// AVX-512F + F16C; `a`: H rows of kp floats, lda apart; `b`: kp x 32 f16; `acc`: 32 H.
#[target_feature(enable = "avx512f,f16c")]
unsafe fn f16_avx512<const H: usize>(kp: usize, a: *const f32, lda: usize, b: *const u16, acc: *mut f32, load: bool) {
    let mut lo = [_mm512_setzero_ps(); H];
    let mut hi = [_mm512_setzero_ps(); H];
    if load {
        for i in 0..H {
            // SAFETY: acc holds 32 H values (the function's contract).
            unsafe {
                lo[i] = _mm512_loadu_ps(acc.add(i * 32));
                hi[i] = _mm512_loadu_ps(acc.add(i * 32 + 16));
            }
        }
    }
    for kk in 0..kp {
        // SAFETY: kk < kp: panel values 32kk..32kk+32 and A values i*lda+kk in bounds.
        unsafe {
            let b0 = _mm512_cvtph_ps(_mm256_loadu_si256(b.add(kk * 32) as *const __m256i));
            let b1 = _mm512_cvtph_ps(_mm256_loadu_si256(b.add(kk * 32 + 16) as *const __m256i));
            for i in 0..H {
                let av = _mm512_set1_ps(*a.add(i * lda + kk));
                lo[i] = _mm512_fmadd_ps(av, b0, lo[i]);
                hi[i] = _mm512_fmadd_ps(av, b1, hi[i]);
            }
        }
    }
    for i in 0..H {
        // SAFETY: acc holds 32 H floats.
        unsafe {
            _mm512_storeu_ps(acc.add(i * 32), lo[i]);
            _mm512_storeu_ps(acc.add(i * 32 + 16), hi[i]);
        }
    }
}

/// # Safety
/// AVX-512F; `a`: H rows of kp floats (kp even), lda apart; `b`: kp x 32 bf16 (pairs); `acc`: 32 H.
#[target_feature(enable = "avx512f")]
unsafe fn bf16_avx512<const H: usize>(kp: usize, a: *const f32, lda: usize, b: *const u16, acc: *mut f32, load: bool) {
    let high = _mm512_set1_epi32(0xFFFF_0000u32 as i32);
    let mut lo = [_mm512_setzero_ps(); H];
    let mut hi = [_mm512_setzero_ps(); H];
    if load {
        for i in 0..H {
            // SAFETY: acc holds 32 H values (the function's contract).
            unsafe {
                lo[i] = _mm512_loadu_ps(acc.add(i * 32));
                hi[i] = _mm512_loadu_ps(acc.add(i * 32 + 16));
            }
        }
    }
    for q in 0..kp / 2 {
        // SAFETY: q < kp/2: panel values 64q..64q+64 and A values i*lda+2q+{0,1} in bounds.
        unsafe {
            let v0 = _mm512_loadu_si512(b.add(q * 64) as *const _);
            let v1 = _mm512_loadu_si512(b.add(q * 64 + 32) as *const _);
            let (e0, o0) =
                (_mm512_castsi512_ps(_mm512_slli_epi32(v0, 16)), _mm512_castsi512_ps(_mm512_and_si512(v0, high)));
            let (e1, o1) =
                (_mm512_castsi512_ps(_mm512_slli_epi32(v1, 16)), _mm512_castsi512_ps(_mm512_and_si512(v1, high)));
            for i in 0..H {
                let ae = _mm512_set1_ps(*a.add(i * lda + 2 * q));
                let ao = _mm512_set1_ps(*a.add(i * lda + 2 * q + 1));
                lo[i] = _mm512_fmadd_ps(ao, o0, _mm512_fmadd_ps(ae, e0, lo[i]));
                hi[i] = _mm512_fmadd_ps(ao, o1, _mm512_fmadd_ps(ae, e1, hi[i]));
            }
        }
    }
    for i in 0..H {
        // SAFETY: acc holds 32 H floats.
        unsafe {
            _mm512_storeu_ps(acc.add(i * 32), lo[i]);
            _mm512_storeu_ps(acc.add(i * 32 + 16), hi[i]);
        }
    }
}

/// Proof of AVX-512F + AVX512_BF16.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Avx512Bf16(());
impl Avx512Bf16 {
    pub(crate) fn new() -> Option<Self> {
        (is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512bf16")).then_some(Avx512Bf16(()))
    }
}

impl LowpTile for Avx512Bf16 {
    type A = u32;
    type B = u16;
    type Acc = f32;
    const MR: usize = 14;
    const NR: usize = 32;
    const K_PER_A: usize = 2;
    /// A: bf16 pairs (`kp / 2` lanes of data per row, `lda` lanes apart), rounded from f32.
    fn tile(&self, kp: usize, h: usize, a: &[u32], lda: usize, b: &[u16], acc: &mut [f32], load: bool) {
        check(Self::MR, Self::NR, kp, h, 2 * a.len(), 2 * lda, b, acc);
        let (a, b, acc) = (a.as_ptr(), b.as_ptr(), acc.as_mut_ptr());
        // SAFETY: `self` proves AVX-512F + AVX512_BF16; `check` verified A has h rows of
        // kp/2 pairs lda apart, the panel kp x 32 values and acc 32 h floats.
        unsafe { by_height!(h, dpbf16(kp / 2, a, lda, b, acc, load), [1 2 3 4 5 6 7 8 9 10 11 12 13 14]) }
    }
}

/// `vdpbf16ps`: per f32 lane, `acc += a.lo * b.lo + a.hi * b.hi` on bf16 pairs.
///
/// # Safety
/// AVX-512F + AVX512_BF16; `a`: H rows of `pairs` u32, lda apart; `b`: pairs x 64
/// bf16; `acc`: 32 H.
#[target_feature(enable = "avx512f,avx512bf16")]
unsafe fn dpbf16<const H: usize>(pairs: usize, a: *const u32, lda: usize, b: *const u16, acc: *mut f32, load: bool) {
    let mut lo = [_mm512_setzero_ps(); H];
    let mut hi = [_mm512_setzero_ps(); H];
    if load {
        for i in 0..H {
            // SAFETY: acc holds 32 H values (the function's contract).
            unsafe {
                lo[i] = _mm512_loadu_ps(acc.add(i * 32));
                hi[i] = _mm512_loadu_ps(acc.add(i * 32 + 16));
            }
        }
    }
    for q in 0..pairs {
        // SAFETY: q < pairs: panel values 64q..64q+64 and A lanes i*lda+q (i < H) are in bounds
        // (the function's contract).
        unsafe {
            let b0: __m512bh = std::mem::transmute(_mm512_loadu_si512(b.add(q * 64) as *const _));
            let b1: __m512bh = std::mem::transmute(_mm512_loadu_si512(b.add(q * 64 + 32) as *const _));
            for i in 0..H {
                let av: __m512bh = std::mem::transmute(_mm512_set1_epi32(*a.add(i * lda + q) as i32));
                lo[i] = _mm512_dpbf16_ps(lo[i], av, b0);
                hi[i] = _mm512_dpbf16_ps(hi[i], av, b1);
            }
        }
    }
    for i in 0..H {
        // SAFETY: acc holds 32 H floats.
        unsafe {
            _mm512_storeu_ps(acc.add(i * 32), lo[i]);
            _mm512_storeu_ps(acc.add(i * 32 + 16), hi[i]);
        }
    }
}
