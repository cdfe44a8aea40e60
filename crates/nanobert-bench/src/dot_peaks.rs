//! # Peaks of the lower-precision dot-product instructions, measured
//!
//! The FP32 peak ([`crate::peak`]) counts what the FMA units can do; int8 and bf16 kernels
//! use other instructions with more work per instruction, so they have their own ceilings:
//!
//! | instructions                        | work per instruction                  | ops counted |
//! |-------------------------------------|---------------------------------------|------------:|
//! | `vpdpbusd zmm` (AVX512_VNNI)        | 64 u8 x i8 products summed into i32   | 128         |
//! | `vpdpbusd ymm` (AVX-VNNI)           | 32 products                           | 64          |
//! | `vpmaddubsw` + `vpmaddwd` + `vpaddd` (AVX2) | 32 products in three instructions | 64     |
//! | `vdpbf16ps zmm` (AVX512_BF16)       | 32 bf16 x bf16 products into 16 f32   | 64          |
//!
//! (one multiply-add = 2 ops, as for FP32 FLOPs). Each loop below runs [`CHAINS`] independent
//! accumulators on registers only, enough to hide the instructions' latency, so only the
//! execution units limit it. [`crate::machine`] times them on every thread and keeps the best
//! of several trials, as for the FP32 peak.

/// Independent accumulators per loop (latency 4-6 cycles x 2 units, with room to spare).
pub const CHAINS: usize = 16;

/// One calibratable peak loop: `run(iters)` does `iters * ops_per_iter` ops and returns a
/// value depending on all of them.
#[derive(Clone, Copy, Debug)]
pub struct DotChains {
    /// What is measured, e.g. `int8 GOP/s (avx512-vnni)`.
    pub name: &'static str,
    /// Ops (2 per multiply-add) per iteration of `run`.
    pub ops_per_iter: usize,
    /// The loop.
    pub run: fn(usize) -> f32,
}

/// The widest int8 dot-product instructions this CPU has (VNNI 512, AVX-VNNI, else AVX2), or
/// `None` (no AVX2: the portable int8 kernel has no SIMD peak to speak of).
pub fn int8_chains() -> Option<DotChains> {
    #[cfg(target_arch = "x86_64")]
    {
        let has = |f: &str| match f {
            "avx512vnni" => is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512vnni"),
            "avxvnni" => is_x86_feature_detected!("avx2") && is_x86_feature_detected!("avxvnni"),
            _ => is_x86_feature_detected!("avx2"),
        };
        if has("avx512vnni") {
            return Some(DotChains { name: "int8 GOP/s (avx512-vnni)", ops_per_iter: CHAINS * 128, run: x86::vnni512 });
        }
        if has("avxvnni") {
            return Some(DotChains { name: "int8 GOP/s (avx-vnni)", ops_per_iter: CHAINS * 64, run: x86::vnni256 });
        }
        if has("avx2") {
            return Some(DotChains { name: "int8 GOP/s (avx2)", ops_per_iter: x86::AVX2_CHAINS * 64, run: x86::avx2 });
        }
    }
    None
}

/// The AVX2 int8 loop (`vpmaddubsw` + `vpmaddwd`) even where VNNI exists: the peak the AVX2
/// kernel is measured against. `None` without AVX2.
pub fn avx2_int8_chains() -> Option<DotChains> {
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx2") {
        return Some(DotChains { name: "int8 GOP/s (avx2)", ops_per_iter: x86::AVX2_CHAINS * 64, run: x86::avx2 });
    }
    None
}

/// `vdpbf16ps` where AVX512_BF16 exists, else `None` (bf16 weights are then widened to f32
/// while packing and run at the FP32 peak).
pub fn bf16_chains() -> Option<DotChains> {
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512bf16") {
        return Some(DotChains { name: "bf16 GFLOP/s (avx512-bf16)", ops_per_iter: CHAINS * 64, run: x86::bf16 });
    }
    None
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::CHAINS;

    /// AVX2 has 16 ymm registers: 8 accumulators, the two operands and the temporaries.
    pub(super) const AVX2_CHAINS: usize = 8;

    /// Safe wrapper: checks the CPU first (0.0 if it lacks the instructions).
    pub(super) fn vnni512(iters: usize) -> f32 {
        if !(is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512vnni")) {
            return 0.0;
        }
        // SAFETY: the CPU has AVX512F + AVX512_VNNI (checked just above).
        unsafe { vnni512_loop(iters) }
    }

    /// # Safety
    /// AVX512F + AVX512_VNNI.
    #[target_feature(enable = "avx512f,avx512vnni")]
    unsafe fn vnni512_loop(iters: usize) -> f32 {
        let a = _mm512_set1_epi8(std::hint::black_box(3));
        let b = _mm512_set1_epi8(std::hint::black_box(-2));
        let mut acc = [_mm512_setzero_si512(); CHAINS];
        for _ in 0..iters {
            for c in acc.iter_mut() {
                *c = _mm512_dpbusd_epi32(*c, a, b);
            }
        }
        let sum = acc.iter().fold(_mm512_setzero_si512(), |s, &c| _mm512_add_epi32(s, c));
        _mm512_reduce_add_epi32(sum) as f32
    }

    /// Safe wrapper: checks the CPU first (0.0 if it lacks the instructions).
    pub(super) fn vnni256(iters: usize) -> f32 {
        if !(is_x86_feature_detected!("avx2") && is_x86_feature_detected!("avxvnni")) {
            return 0.0;
        }
        // SAFETY: the CPU has AVX2 + AVX-VNNI (checked just above).
        unsafe { vnni256_loop(iters) }
    }

    /// # Safety
    /// AVX2 + AVX-VNNI.
    #[target_feature(enable = "avx2,avxvnni")]
    unsafe fn vnni256_loop(iters: usize) -> f32 {
        let a = _mm256_set1_epi8(std::hint::black_box(3));
        let b = _mm256_set1_epi8(std::hint::black_box(-2));
        let mut acc = [_mm256_setzero_si256(); CHAINS];
        for _ in 0..iters {
            for c in acc.iter_mut() {
                *c = _mm256_dpbusd_avx_epi32(*c, a, b);
            }
        }
        sum256(&acc)
    }

    /// Safe wrapper: checks the CPU first (0.0 if it lacks the instructions).
    pub(super) fn avx2(iters: usize) -> f32 {
        if !is_x86_feature_detected!("avx2") {
            return 0.0;
        }
        // SAFETY: the CPU has AVX2 (checked just above).
        unsafe { avx2_loop(iters) }
    }

    /// # Safety
    /// AVX2.
    #[target_feature(enable = "avx2")]
    unsafe fn avx2_loop(iters: usize) -> f32 {
        let a = _mm256_set1_epi8(std::hint::black_box(3));
        let b = _mm256_set1_epi8(std::hint::black_box(-2));
        let ones = _mm256_set1_epi16(1);
        let mut acc = [_mm256_setzero_si256(); AVX2_CHAINS];
        for _ in 0..iters {
            // `a` through black_box every iteration, and a different operand per chain:
            // otherwise the products, the same in every chain and every iteration, are
            // computed once outside the loop and only the adds are timed.
            let a = std::hint::black_box(a);
            for (i, c) in acc.iter_mut().enumerate() {
                let pairs = _mm256_maddubs_epi16(_mm256_add_epi8(a, _mm256_set1_epi8(i as i8)), b);
                *c = _mm256_add_epi32(*c, _mm256_madd_epi16(pairs, ones));
            }
        }
        sum256(&acc)
    }

    #[target_feature(enable = "avx2")]
    fn sum256(acc: &[__m256i]) -> f32 {
        let s = acc.iter().fold(_mm256_setzero_si256(), |s, &c| _mm256_add_epi32(s, c));
        let mut lanes = [0i32; 8];
        // SAFETY: `lanes` holds 8 i32 = 32 bytes, the width of one ymm store.
        unsafe { _mm256_storeu_si256(lanes.as_mut_ptr() as *mut __m256i, s) };
        lanes.iter().map(|&v| v as f32).sum()
    }

    /// Safe wrapper: checks the CPU first (0.0 if it lacks the instructions).
    pub(super) fn bf16(iters: usize) -> f32 {
        if !(is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512bf16")) {
            return 0.0;
        }
        // SAFETY: the CPU has AVX512F + AVX512_BF16 (checked just above).
        unsafe { bf16_loop(iters) }
    }

    /// # Safety
    /// AVX512F + AVX512_BF16.
    #[target_feature(enable = "avx512f,avx512bf16")]
    unsafe fn bf16_loop(iters: usize) -> f32 {
        // bf16 1/1024 = 0x3a80 in both halves of every 32-bit lane: small products, so the
        // accumulators grow slowly and never overflow.
        let v = _mm512_set1_epi32(std::hint::black_box(0x3a80_3a80u32 as i32));
        // SAFETY: __m512i and __m512bh are both 64-byte vectors; any bit pattern is a valid
        // pair of bf16 values.
        let x: __m512bh = unsafe { std::mem::transmute(v) };
        let mut acc = [_mm512_setzero_ps(); CHAINS];
        for _ in 0..iters {
            for c in acc.iter_mut() {
                *c = _mm512_dpbf16_ps(*c, x, x);
            }
        }
        let sum = acc.iter().fold(_mm512_setzero_ps(), |s, &c| _mm512_add_ps(s, c));
        _mm512_reduce_add_ps(sum)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every loop this CPU can run does its work: the result depends on every instruction
    /// (the int8 loops add 3 x -2 x 4 = -24 per lane per instruction).
    #[test]
    fn peak_loops_compute_what_they_count() {
        if let Some(c) = int8_chains() {
            let (one, two) = ((c.run)(1), (c.run)(2));
            assert!(one != 0.0 && one.is_finite(), "{}: {one}", c.name);
            assert_eq!(two, 2.0 * one, "{}: twice the iterations, twice the sum", c.name);
        } else {
            eprintln!("int8 peak loop: this CPU has no AVX2 (not tested)");
        }
        match bf16_chains() {
            Some(c) => {
                let (one, two) = ((c.run)(1), (c.run)(2));
                assert!(one > 0.0 && one.is_finite(), "{}: {one}", c.name);
                assert!((two / one - 2.0).abs() < 1e-3, "{}: {one} then {two}", c.name);
            }
            None => eprintln!("bf16 peak loop: this CPU has no AVX512_BF16 (not tested)"),
        }
    }
}
