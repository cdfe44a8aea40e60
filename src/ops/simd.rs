//! # Elementwise loops on the widest vectors the CPU has
//!
//! What this file teaches: the elementwise work of a transformer (exp inside softmax,
//! LayerNorm, GELU, adding a bias or a residual) is a loop over a row of floats. Written with
//! a fixed number of independent *lanes* (arrays of [`LANES`] accumulators instead of one
//! running sum), such a loop is exactly what the compiler turns into SIMD instructions. Which
//! instructions depends on what it may assume about the CPU: the baseline x86-64 target only
//! has SSE2 (4 f32 lanes), AVX2 has 8, AVX-512 has 16.
//!
//! So every kernel is written once, as plain Rust, and `multiversion!` compiles it three
//! times: for AVX-512, for AVX2 + FMA, and for the baseline (the scalar path). [`Isa::best`]
//! picks a copy at run time from what the CPU reports. Rust never contracts `a * b + c`
//! into one fused multiply-add on its own, and the lanes fix the order of every sum, so all
//! three copies give the same bits: tests compare each copy this CPU can run with a plain
//! one-value-at-a-time reference, and with each other.
//!
//! The only `unsafe` is calling a copy compiled for features the CPU might lack; [`Isa`]
//! values are checked against the CPU before any such call.

/// Lanes of the kernels' accumulators: one AVX-512 register of f32.
pub const LANES: usize = 16;

/// An instruction set a kernel can be compiled for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Isa {
    /// The baseline x86-64 target (SSE2) or any other CPU: the scalar path.
    Scalar,
    /// AVX2 + FMA (Intel Haswell and later, AMD Zen).
    Avx2,
    /// AVX-512 F (Intel Skylake-SP and later, AMD Zen 4).
    Avx512,
}

impl Isa {
    /// The widest instruction set this CPU supports.
    pub fn best() -> Isa {
        [Isa::Avx512, Isa::Avx2].into_iter().find(|i| i.is_supported()).unwrap_or(Isa::Scalar)
    }

    /// Every instruction set this CPU supports, narrowest first (what tests run).
    pub fn supported() -> Vec<Isa> {
        [Isa::Scalar, Isa::Avx2, Isa::Avx512].into_iter().filter(|i| i.is_supported()).collect()
    }

    /// Every instruction set a kernel is compiled for, supported here or not.
    pub fn all() -> [Isa; 3] {
        [Isa::Scalar, Isa::Avx2, Isa::Avx512]
    }

    /// True if this CPU can run code compiled for `self`.
    pub fn is_supported(self) -> bool {
        match self {
            Isa::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma"),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => std::arch::is_x86_feature_detected!("avx512f"),
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }

    /// `"scalar"`, `"avx2"` or `"avx512"`.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512",
        }
    }
}

/// Defines `fn name(isa: Isa, args...)` that runs `body` compiled for `isa` (falling back to
/// the scalar copy when the CPU lacks it, so a wrong `isa` is slow, never undefined).
macro_rules! multiversion {
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident : $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {
        $(#[$meta])*
        $vis fn $name(isa: $crate::ops::simd::Isa, $($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            fn body($($arg: $ty),*) $(-> $ret)? $body
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx512f,avx2,fma")]
            fn avx512($($arg: $ty),*) $(-> $ret)? { body($($arg),*) }
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2,fma")]
            fn avx2($($arg: $ty),*) $(-> $ret)? { body($($arg),*) }
            match isa {
                #[cfg(target_arch = "x86_64")]
                // SAFETY: the guard just asked the CPU for AVX-512 F and for AVX2 + FMA: every
                // feature `avx512` is compiled with (`avx512f,avx2,fma`).
                $crate::ops::simd::Isa::Avx512 if isa.is_supported() && $crate::ops::simd::Isa::Avx2.is_supported() => unsafe { avx512($($arg),*) },
                #[cfg(target_arch = "x86_64")]
                // SAFETY: `is_supported` asked the CPU for AVX2 and FMA just before.
                $crate::ops::simd::Isa::Avx2 if isa.is_supported() => unsafe { avx2($($arg),*) },
                _ => body($($arg),*),
            }
        }
    };
}
pub(crate) use multiversion;

// ------------------------------------------------------------------------------------------
// exp: what softmax spends its time on
// ------------------------------------------------------------------------------------------

const LOG2_E: f32 = std::f32::consts::LOG2_E;
/// ln 2 split in two: `LN2_HI` has few enough bits that `n * LN2_HI` is exact for |n| < 256.
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;
/// Beyond these, exp(x) is +inf or below the smallest normal f32 (we return 0 there).
const EXP_HI: f32 = 88.72;
const EXP_LO: f32 = -87.33;
/// 1.5 * 2^23: adding it rounds a float of magnitude < 2^22 to an integer, kept in the low
/// bits of the sum (no float-to-int conversion, which vectorizes badly on the baseline).
const ROUND_MAGIC: f32 = 12_582_912.0;

/// `exp(x)` in f32 without a branch, so a loop over it vectorizes; within 2 ulp of the exact
/// value on [-87.33, 88.72], exactly 0 below, +inf above, NaN for NaN.
///
/// `x = n ln2 + r` with `n` an integer and `|r| <= ln2 / 2`, so `exp(x) = 2^n exp(r)`:
/// `exp(r)` is its Taylor series to degree 7 (the first term left out is `r^8 / 8! < 6e-9`),
/// and `2^n` is built directly as the bits of a float (exponent field `n + 127`).
#[inline(always)]
pub fn exp_fast(x: f32) -> f32 {
    let xc = x.clamp(EXP_LO, EXP_HI); // NaN stays NaN (f32::max alone would drop it)
    let t = xc * LOG2_E + ROUND_MAGIC;
    let n = t - ROUND_MAGIC; // round(x / ln 2), as a float
    let r = (xc - n * LN2_HI) - n * LN2_LO;
    // 1 + r + r^2/2! + ... + r^7/7!, by Horner's rule.
    let p = 1.0 / 5040.0;
    let p = p * r + 1.0 / 720.0;
    let p = p * r + 1.0 / 120.0;
    let p = p * r + 1.0 / 24.0;
    let p = p * r + 1.0 / 6.0;
    let p = p * r + 0.5;
    let p = p * r + 1.0;
    let p = p * r + 1.0;
    // 2^n: n sits in the low bits of t (t = 1.5 * 2^23 + n exactly).
    let bits_n = t.to_bits().wrapping_sub(ROUND_MAGIC.to_bits());
    let pow2n = f32::from_bits(bits_n.wrapping_add(127) << 23);
    let y = p * pow2n;
    if x < EXP_LO {
        0.0
    } else if x > EXP_HI {
        f32::INFINITY
    } else {
        y
    }
}

multiversion! {
    /// `exp` of every value of `data`, in place, with [`exp_fast`].
    pub fn exp_in_place(data: &mut [f32]) {
        data.iter_mut().for_each(|v| *v = exp_fast(*v));
    }
}

// ------------------------------------------------------------------------------------------
// adds
// ------------------------------------------------------------------------------------------

multiversion! {
    /// `y[i] += x[i]` (a residual). Panics if the lengths differ (a caller bug).
    pub fn add_assign(y: &mut [f32], x: &[f32]) {
        assert_eq!(y.len(), x.len(), "add_assign: lengths differ");
        y.iter_mut().zip(x).for_each(|(y, &x)| *y += x);
    }
}

multiversion! {
    /// `row += bias` for every `bias.len()`-long row of `y` (a Linear's bias).
    pub fn add_bias_rows(y: &mut [f32], bias: &[f32]) {
        if bias.is_empty() {
            return;
        }
        for row in y.chunks_exact_mut(bias.len()) {
            row.iter_mut().zip(bias).for_each(|(y, &b)| *y += b);
        }
    }
}

/// Sum of the lanes, in a fixed order (pairwise), so every compiled copy rounds alike.
#[inline(always)]
pub fn reduce_sum(mut acc: [f32; LANES]) -> f32 {
    let mut w = LANES / 2;
    while w > 0 {
        for i in 0..w {
            acc[i] += acc[i + w];
        }
        w /= 2;
    }
    acc[0]
}

/// Largest lane, NaN if any lane is NaN.
#[inline(always)]
pub fn reduce_max(acc: [f32; LANES]) -> f32 {
    acc.iter().fold(f32::NEG_INFINITY, |m, &v| if m.is_nan() || v.is_nan() { f32::NAN } else { m.max(v) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_fast_is_within_2_ulp_everywhere_and_keeps_the_edges() {
        let mut x = -87.0f32;
        let mut worst = 0.0f64;
        while x < 88.0 {
            let got = exp_fast(x) as f64;
            let want = (x as f64).exp();
            worst = worst.max(((got - want) / want).abs());
            x += 0.0137;
        }
        println!("exp_fast: worst relative error {worst:.2e} on [-87, 88]");
        assert!(worst < 2.5e-7, "worst relative error {worst:e}");
        assert_eq!(exp_fast(0.0), 1.0);
        assert_eq!(exp_fast(-100.0), 0.0);
        assert_eq!(exp_fast(f32::NEG_INFINITY), 0.0);
        assert_eq!(exp_fast(100.0), f32::INFINITY);
        assert_eq!(exp_fast(f32::INFINITY), f32::INFINITY);
        assert!(exp_fast(f32::NAN).is_nan());
    }

    #[test]
    fn every_compiled_copy_gives_the_same_bits() {
        println!("ISAs this CPU runs: {:?}; not run here: {:?}", Isa::supported(), {
            Isa::all().into_iter().filter(|i| !i.is_supported()).collect::<Vec<_>>()
        });
        let x: Vec<f32> = crate::Tensor::randn(&[1001], 5).to_vec().iter().map(|v| v * 30.0).collect();
        let mut want = x.clone();
        want.iter_mut().for_each(|v| *v = exp_fast(*v));
        for isa in Isa::supported() {
            let mut got = x.clone();
            exp_in_place(isa, &mut got);
            assert!(got.iter().zip(&want).all(|(a, b)| a.to_bits() == b.to_bits()), "{isa:?}");
            let mut y = x.clone();
            add_bias_rows(isa, &mut y, &x[..7 * 11]);
            let mut r = x.clone();
            for (i, v) in r.iter_mut().enumerate().take(1001 / 77 * 77) {
                *v += x[i % 77];
            }
            assert!(y.iter().zip(&r).all(|(a, b)| a.to_bits() == b.to_bits()), "{isa:?}");
            let mut z = x.clone();
            add_assign(isa, &mut z, &x);
            assert!(z.iter().zip(&x).all(|(a, b)| *a == b + b), "{isa:?}");
        }
    }

    #[test]
    fn lane_reductions() {
        let mut a = [1.0f32; LANES];
        assert_eq!(reduce_sum(a), LANES as f32);
        a[3] = 7.0;
        assert_eq!(reduce_max(a), 7.0);
        a[5] = f32::NAN;
        assert!(reduce_max(a).is_nan());
    }
}
