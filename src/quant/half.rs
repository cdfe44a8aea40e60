//! # f16 and bf16 weights: half the bytes, f32 arithmetic
//!
//! ```text
//! f32   s eeeeeeee mmmmmmmmmmmmmmmmmmmmmmm   8-bit exponent, 23-bit mantissa
//! bf16  s eeeeeeee mmmmmmm                   the top 16 bits of an f32
//! f16   s eeeee mmmmmmmmmm                   5-bit exponent (max 65504), 10-bit mantissa
//! ```
//!
//! A 16-bit weight is widened to f32 *in registers*, right after it is loaded from the
//! packed panel, and then multiplied exactly like an f32 weight: the memory traffic is
//! halved and the arithmetic is unchanged. One widening instruction serves `MR` FMAs (the
//! rows of the tile), so it is nearly free:
//!
//! - f16: `vcvtph2ps` (F16C, on every AVX2 CPU);
//! - bf16: a bf16 is an f32 with the low 16 mantissa bits cut off, so widening is a shift
//!   (or a mask): the panel keeps pairs of k adjacent (`[k0 k1]` in one 32-bit lane), and
//!   `lane << 16` is the f32 of k0, `lane & 0xFFFF0000` the f32 of k1.
//! - bf16 with AVX512_BF16: `vdpbf16ps acc, a, b` does `acc += a0 b0 + a1 b1` on those very
//!   pairs, 32 multiply-adds per instruction instead of 16; the activations are then rounded
//!   to bf16 too (`vcvtne2ps2bf16`, once per call), which costs a little accuracy.
//!
//! Accumulation is always f32. The driver copies A once into a padded contiguous buffer
//! (the native kernel: as bf16 pairs), splits C's columns over threads and walks row blocks,
//! panels and `MR`-row tiles as `int8.rs` does; the epilogue adds the bias and applies GELU.

use rayon::prelude::*;

use super::Precision;
use crate::ops::matmul::Epilogue;
use crate::{Error, Result};

/// Bytes of A kept hot per row block.
const MC_BYTES: usize = 192 * 1024;
/// Least multiply-adds worth giving a thread.
const PAR_MIN_MACS: usize = 1 << 21;

/// Which f16/bf16 microkernel to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HalfKernel {
    /// Plain Rust (widen each weight, f32 multiply-add).
    Portable,
    /// AVX2 + FMA + F16C, 6 x 16 tile, weights widened in registers.
    Avx2,
    /// AVX-512F, 14 x 32 tile, weights widened in registers.
    Avx512,
    /// AVX512_BF16 `vdpbf16ps`, 14 x 32 tile (bf16 only; activations rounded to bf16).
    Avx512Bf16,
}

impl HalfKernel {
    /// Every kernel, slowest first.
    pub const ALL: [HalfKernel; 4] =
        [HalfKernel::Portable, HalfKernel::Avx2, HalfKernel::Avx512, HalfKernel::Avx512Bf16];

    /// True if this CPU can run the kernel.
    pub fn is_supported(self) -> bool {
        match self {
            HalfKernel::Portable => true,
            #[cfg(target_arch = "x86_64")]
            HalfKernel::Avx2 => x86::Avx2::new().is_some(),
            #[cfg(target_arch = "x86_64")]
            HalfKernel::Avx512 => x86::Avx512::new().is_some(),
            #[cfg(target_arch = "x86_64")]
            HalfKernel::Avx512Bf16 => x86::Avx512Bf16::new().is_some(),
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }

    /// True if the kernel can multiply weights of this precision (f16 or bf16).
    pub fn handles(self, p: Precision) -> bool {
        match self {
            HalfKernel::Avx512Bf16 => p == Precision::Bf16,
            _ => matches!(p, Precision::F16 | Precision::Bf16),
        }
    }

    /// The fastest kernel this CPU supports for `p`.
    pub fn best(p: Precision) -> HalfKernel {
        Self::ALL.into_iter().rev().find(|k| k.handles(p) && k.is_supported()).unwrap_or(HalfKernel::Portable)
    }

    /// Short name for tables.
    pub fn name(self) -> &'static str {
        match self {
            HalfKernel::Portable => "portable",
            HalfKernel::Avx2 => "avx2-f16c",
            HalfKernel::Avx512 => "avx512",
            HalfKernel::Avx512Bf16 => "avx512-bf16",
        }
    }

    /// (MR, NR) of the f32 tile.
    pub fn tile_shape(self) -> (usize, usize) {
        match self {
            HalfKernel::Portable => (4, 16),
            HalfKernel::Avx2 => (6, 16),
            HalfKernel::Avx512 | HalfKernel::Avx512Bf16 => (14, 32),
        }
    }
}

/// k values adjacent per column in the panels: 2 for bf16 (the pairs `vdpbf16ps` reads and a
/// shift widens), 1 for f16 (`vcvtph2ps` widens 8 or 16 consecutive values).
pub(crate) fn pair(p: Precision) -> usize {
    if p == Precision::Bf16 { 2 } else { 1 }
}

/// The 16-bit pattern of `x` in `p` (f16 or bf16, round to nearest even).
pub fn to_bits(x: f32, p: Precision) -> u16 {
    match p {
        Precision::F16 => ::half::f16::from_f32(x).to_bits(),
        _ => ::half::bf16::from_f32(x).to_bits(),
    }
}

/// The f32 a 16-bit pattern of `p` stands for (exact).
pub fn from_bits(b: u16, p: Precision) -> f32 {
    match p {
        Precision::F16 => ::half::f16::from_bits(b).to_f32(),
        _ => f32::from_bits((b as u32) << 16),
    }
}

/// A weight `[n, k]` stored as f16 or bf16 in the panels of one kernel.
#[derive(Clone, Debug)]
pub struct PackedHalf {
    precision: Precision,
    kernel: HalfKernel,
    k: usize,
    n: usize,
    nr: usize,
    /// k rounded up to a whole number of pairs.
    kp: usize,
    /// `n.div_ceil(nr)` panels of `kp x nr` values: index `(k / P) * nr * P + col * P + k % P`.
    data: Vec<u16>,
}

impl PackedHalf {
    /// Converts and packs `w: [n, k]` (row-major f32) to `p` (F16 or Bf16) for the best kernel.
    pub fn new(p: Precision, w: &[f32], n: usize, k: usize) -> Result<PackedHalf> {
        PackedHalf::with_kernel(HalfKernel::best(p), p, w, n, k)
    }

    /// [`PackedHalf::new`] for a given kernel. Errors if the kernel is not supported here or
    /// cannot read `p`, or `w` is not `n * k` values.
    pub fn with_kernel(kernel: HalfKernel, p: Precision, w: &[f32], n: usize, k: usize) -> Result<PackedHalf> {
        if !matches!(p, Precision::F16 | Precision::Bf16) || !kernel.handles(p) || !kernel.is_supported() {
            return Err(Error::invalid(
                "PackedHalf",
                format!("the {} kernel cannot run {p} weights on this CPU", kernel.name()),
            ));
        }
        if w.len() != n * k {
            return Err(Error::invalid("PackedHalf", format!("weight has {} values, expected {n} x {k}", w.len())));
        }
        let (_, nr) = kernel.tile_shape();
        let pp = pair(p);
        let kp = k.div_ceil(pp) * pp;
        let panel_len = kp * nr;
        let mut data = vec![0u16; n.div_ceil(nr) * panel_len];
        for j in 0..n {
            let (panel, c) = (j / nr, j % nr);
            for kk in 0..k {
                data[panel * panel_len + (kk / pp) * nr * pp + c * pp + kk % pp] = to_bits(w[j * k + kk], p);
            }
        }
        Ok(PackedHalf { precision: p, kernel, k, n, nr, kp, data })
    }

    /// F16 or Bf16.
    pub fn precision(&self) -> Precision {
        self.precision
    }

    /// The kernel the panels were packed for.
    pub fn kernel(&self) -> HalfKernel {
        self.kernel
    }

    /// Input features (k).
    pub fn k(&self) -> usize {
        self.k
    }

    /// Output features (n).
    pub fn n(&self) -> usize {
        self.n
    }

    /// Bytes owned by the panels (with padding).
    pub fn bytes(&self) -> usize {
        self.data.capacity() * 2
    }
}

/// `C = A·Wᵀ (+ bias) (then GELU)` with `W` f16 or bf16: `a: m x k` (row i at `i * lda`),
/// `c: m x n` (row i at `i * ldc`, overwritten); the epilogue adds a bias `[n]` (then GELU). All threads of the current
/// rayon pool. Errors if a slice is too short for its matrix.
#[allow(clippy::too_many_arguments)]
pub fn gemm_half(
    m: usize,
    a: &[f32],
    lda: usize,
    w: &PackedHalf,
    c: &mut [f32],
    ldc: usize,
    epilogue: Epilogue,
) -> Result<()> {
    let (k, n) = (w.k, w.n);
    let check = |name, rows, cols, ld, len| super::int8::check_matrix("gemm_half", name, rows, cols, ld, len);
    check("A", m, k, lda, a.len())?;
    check("C", m, n, ldc, c.len())?;
    epilogue.check("gemm_half", n)?;
    let (bias, gelu) = match epilogue {
        Epilogue::None => (None, false),
        Epilogue::Bias(b) => (Some(b), false),
        Epilogue::BiasGelu(b) => (Some(b), true),
    };
    if m == 0 || n == 0 {
        return Ok(());
    }
    let mut c_rows: Vec<&mut [f32]> = c.chunks_mut(ldc.max(n)).take(m).map(|r| &mut r[..n]).collect();
    let kp = w.kp;
    // A, prepared once: f32 rows for the widening kernels, bf16 pairs for `vdpbf16ps`.
    let prepared: Box<dyn AnyA> = if w.kernel == HalfKernel::Avx512Bf16 {
        Box::new(bf16_pairs_a(a, m, k, lda, kp))
    } else {
        Box::new(copy_a(a, m, k, lda, kp))
    };
    let job = HalfJob { m, kp, w, bias, gelu, a: prepared.as_ref() };
    match w.kernel {
        HalfKernel::Portable => job.run(Portable, &mut c_rows),
        #[cfg(target_arch = "x86_64")]
        HalfKernel::Avx2 => job.run(x86::Avx2::new().ok_or_else(unsupported)?, &mut c_rows),
        #[cfg(target_arch = "x86_64")]
        HalfKernel::Avx512 => job.run(x86::Avx512::new().ok_or_else(unsupported)?, &mut c_rows),
        #[cfg(target_arch = "x86_64")]
        HalfKernel::Avx512Bf16 => job.run(x86::Avx512Bf16::new().ok_or_else(unsupported)?, &mut c_rows),
        #[cfg(not(target_arch = "x86_64"))]
        _ => return Err(unsupported()),
    }
    Ok(())
}

fn unsupported() -> Error {
    Error::invalid("gemm_half", "the weight was packed for a kernel this CPU does not support")
}

/// A's rows copied contiguously, `kp` apart, zero-padded.
fn copy_a(a: &[f32], m: usize, k: usize, lda: usize, kp: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; m * kp];
    for (i, row) in out.chunks_mut(kp.max(1)).enumerate().take(m) {
        row[..k].copy_from_slice(&a[i * lda..i * lda + k]);
    }
    out
}

/// A's rows as bf16 pairs (k even in the low half, as `vdpbf16ps` reads them), `kp / 2`
/// lanes per row, zero-padded; rounded to nearest even.
fn bf16_pairs_a(a: &[f32], m: usize, k: usize, lda: usize, kp: usize) -> Vec<u32> {
    let lanes = kp / 2;
    let mut out = vec![0u32; m * lanes];
    out.par_chunks_mut(lanes.max(1)).enumerate().take(m).for_each(|(i, row)| {
        let x = &a[i * lda..i * lda + k];
        for (q, lane) in row.iter_mut().enumerate() {
            let lo = to_bits(x[2 * q], Precision::Bf16) as u32;
            let hi = x.get(2 * q + 1).map_or(0, |&v| to_bits(v, Precision::Bf16) as u32);
            *lane = lo | (hi << 16);
        }
    });
    out
}

/// The prepared A buffer, whatever its element type (so one job type serves all kernels).
pub(crate) trait AnyA: Sync {
    fn f32s(&self) -> &[f32] {
        &[]
    }
    fn pairs(&self) -> &[u32] {
        &[]
    }
}
impl AnyA for Vec<f32> {
    fn f32s(&self) -> &[f32] {
        self
    }
}
impl AnyA for Vec<u32> {
    fn pairs(&self) -> &[u32] {
        self
    }
}

/// The contract of a half-precision microkernel: for `i < h`, `j < NR`,
/// `acc[i * NR + j] = Σ_k A[i][k] · W[k][j]` over `kp` values of k, A read from the prepared
/// buffer (`ld` apart, in f32 or bf16-pair units), W from one packed panel.
pub(crate) trait HalfTile: Copy + Send + Sync {
    const MR: usize;
    const NR: usize;
    #[allow(clippy::too_many_arguments)]
    fn tile(&self, p: Precision, kp: usize, h: usize, a: &dyn AnyA, a0: usize, b: &[u16], acc: &mut [f32]);
}

/// The portable kernel: widen, multiply, add.
#[derive(Clone, Copy, Debug)]
struct Portable;

impl HalfTile for Portable {
    const MR: usize = 4;
    const NR: usize = 16;
    fn tile(&self, p: Precision, kp: usize, h: usize, a: &dyn AnyA, a0: usize, b: &[u16], acc: &mut [f32]) {
        let pp = pair(p);
        let a = a.f32s();
        for i in 0..h {
            let row = &a[a0 + i * kp..a0 + (i + 1) * kp];
            let out = &mut acc[i * Self::NR..(i + 1) * Self::NR];
            out.fill(0.0);
            for (kk, &x) in row.iter().enumerate() {
                for (j, o) in out.iter_mut().enumerate() {
                    *o += x * from_bits(b[(kk / pp) * Self::NR * pp + j * pp + kk % pp], p);
                }
            }
        }
    }
}

struct HalfJob<'a> {
    m: usize,
    kp: usize,
    w: &'a PackedHalf,
    bias: Option<&'a [f32]>,
    gelu: bool,
    a: &'a dyn AnyA,
}

impl HalfJob<'_> {
    fn run<K: HalfTile>(&self, kernel: K, c: &mut [&mut [f32]]) {
        let (m, n) = (self.m, self.w.n);
        let panels = n.div_ceil(K::NR);
        let work = m.saturating_mul(n).saturating_mul(self.w.k);
        let tasks = rayon::current_num_threads().min(panels).min((work / PAR_MIN_MACS).max(1));
        if tasks < 2 {
            return self.slab(kernel, 0, c);
        }
        let bounds: Vec<usize> = (0..=tasks).map(|t| (panels * t / tasks * K::NR).min(n)).collect();
        let mut parts: Vec<Vec<&mut [f32]>> = (0..tasks).map(|_| Vec::with_capacity(m)).collect();
        for row in c.iter_mut() {
            let mut rest = &mut row[..n];
            for (t, part) in parts.iter_mut().enumerate() {
                let (piece, tail) = rest.split_at_mut(bounds[t + 1] - bounds[t]);
                part.push(piece);
                rest = tail;
            }
        }
        parts.into_par_iter().enumerate().for_each(|(t, mut rows)| self.slab(kernel, bounds[t], &mut rows));
    }

    fn slab<K: HalfTile>(&self, kernel: K, j0: usize, c: &mut [&mut [f32]]) {
        debug_assert_eq!(K::NR, self.w.nr, "panels packed for another kernel");
        let width = c.first().map_or(0, |r| r.len());
        let (kp, p) = (self.kp, self.w.precision);
        let panel_len = kp * K::NR;
        let mc = (MC_BYTES / (4 * kp).max(1)).max(K::MR) / K::MR * K::MR;
        // Row stride of the prepared A in its own units (bf16 pairs: kp / 2 lanes).
        let ld = if self.a.pairs().is_empty() { kp } else { kp / 2 };
        let mut acc = vec![0.0f32; K::MR * K::NR];
        for i0 in (0..self.m).step_by(mc) {
            let i_end = (i0 + mc).min(self.m);
            for jc in (0..width).step_by(K::NR) {
                let col = j0 + jc;
                let nr = K::NR.min(width - jc);
                let panel = &self.w.data[col / K::NR * panel_len..][..panel_len];
                for i in (i0..i_end).step_by(K::MR) {
                    let h = K::MR.min(i_end - i);
                    kernel.tile(p, kp, h, self.a, i * ld, panel, &mut acc);
                    for r in 0..h {
                        let out = &mut c[i + r][jc..jc + nr];
                        out.copy_from_slice(&acc[r * K::NR..r * K::NR + nr]);
                        if let Some(b) = self.bias {
                            out.iter_mut().zip(&b[col..col + nr]).for_each(|(o, b)| *o += b);
                        }
                        if self.gelu {
                            crate::ops::gelu_in_place(out);
                        }
                    }
                }
            }
        }
    }
}

/// The reference: `x·Wᵀ + b` with every weight rounded to `p` first, one output at a time in
/// f32 (and, for `round_activations`, every activation rounded to bf16, as the native
/// AVX512_BF16 kernel does). `x: [m, k]`, `w: [n, k]`; returns `[m, n]`.
#[allow(clippy::too_many_arguments)]
pub fn linear_half_ref(
    x: &[f32],
    m: usize,
    k: usize,
    w: &[f32],
    n: usize,
    bias: Option<&[f32]>,
    p: Precision,
    round_activations: bool,
) -> Vec<f32> {
    let mut y = vec![0.0f32; m * n];
    for i in 0..m {
        for j in 0..n {
            let mut s = 0.0f32;
            for kk in 0..k {
                let a = x[i * k + kk];
                let a = if round_activations { from_bits(to_bits(a, Precision::Bf16), Precision::Bf16) } else { a };
                s += a * from_bits(to_bits(w[j * k + kk], p), p);
            }
            y[i * n + j] = s + bias.map_or(0.0, |b| b[j]);
        }
    }
    y
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    //! The SIMD half-precision kernels (see the parent module's docs).
    use std::arch::x86_64::*;

    use super::{AnyA, HalfTile, Precision};

    macro_rules! by_height {
        ($h:expr, $f:ident $args:tt, [$($n:literal)*]) => {
            match $h {
                $($n => $f::<$n> $args,)*
                h => unreachable!("no half kernel for height {h}"),
            }
        };
    }

    /// The bounds every kernel checks before using raw pointers.
    #[allow(clippy::too_many_arguments)]
    fn check(mr: usize, nr: usize, kp: usize, h: usize, a_len: usize, a0: usize, ld: usize, b: &[u16], acc: &[f32]) {
        assert!((1..=mr).contains(&h), "half tile: height {h} not in 1..={mr}");
        assert!(a_len >= a0 + h * ld, "half tile: A shorter than {h} rows");
        assert!(b.len() >= kp * nr, "half tile: panel shorter than kp = {kp}");
        assert!(acc.len() >= h * nr, "half tile: accumulators for fewer than {h} rows");
    }

    /// Proof of AVX2 + FMA + F16C.
    #[derive(Clone, Copy, Debug)]
    pub(super) struct Avx2(());
    impl Avx2 {
        pub(super) fn new() -> Option<Self> {
            (is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") && is_x86_feature_detected!("f16c"))
                .then_some(Avx2(()))
        }
    }

    impl HalfTile for Avx2 {
        const MR: usize = 6;
        const NR: usize = 16;
        fn tile(&self, p: Precision, kp: usize, h: usize, a: &dyn AnyA, a0: usize, b: &[u16], acc: &mut [f32]) {
            let a = a.f32s();
            check(Self::MR, Self::NR, kp, h, a.len(), a0, kp, b, acc);
            let (a, b, acc) = (a[a0..].as_ptr(), b.as_ptr(), acc.as_mut_ptr());
            // SAFETY: `self` proves AVX2 + FMA + F16C; `check` verified A has h rows of kp
            // floats, the panel kp x 16 values and acc 16 h floats.
            unsafe {
                if p == Precision::F16 {
                    by_height!(h, f16_avx2(kp, a, b, acc), [1 2 3 4 5 6])
                } else {
                    by_height!(h, bf16_avx2(kp, a, b, acc), [1 2 3 4 5 6])
                }
            }
        }
    }

    /// # Safety
    /// AVX2 + FMA + F16C; `a`: H rows of kp floats (kp apart); `b`: kp x 16 f16; `acc`: 16 H.
    #[target_feature(enable = "avx2,fma,f16c")]
    unsafe fn f16_avx2<const H: usize>(kp: usize, a: *const f32, b: *const u16, acc: *mut f32) {
        let mut lo = [_mm256_setzero_ps(); H];
        let mut hi = [_mm256_setzero_ps(); H];
        for kk in 0..kp {
            // SAFETY: kk < kp: panel values 16kk..16kk+16 and A values i*kp+kk are in bounds.
            unsafe {
                let b0 = _mm256_cvtph_ps(_mm_loadu_si128(b.add(kk * 16) as *const __m128i));
                let b1 = _mm256_cvtph_ps(_mm_loadu_si128(b.add(kk * 16 + 8) as *const __m128i));
                for i in 0..H {
                    let av = _mm256_broadcast_ss(&*a.add(i * kp + kk));
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
    /// AVX2 + FMA; `a`: H rows of kp floats (kp even); `b`: kp x 16 bf16; `acc`: 16 H.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn bf16_avx2<const H: usize>(kp: usize, a: *const f32, b: *const u16, acc: *mut f32) {
        let high = _mm256_set1_epi32(0xFFFF_0000u32 as i32);
        let mut lo = [_mm256_setzero_ps(); H];
        let mut hi = [_mm256_setzero_ps(); H];
        for q in 0..kp / 2 {
            // SAFETY: q < kp/2: panel values 32q..32q+32 and A values i*kp+2q+{0,1} in bounds.
            unsafe {
                let v0 = _mm256_loadu_si256(b.add(q * 32) as *const __m256i);
                let v1 = _mm256_loadu_si256(b.add(q * 32 + 16) as *const __m256i);
                let (e0, o0) =
                    (_mm256_castsi256_ps(_mm256_slli_epi32(v0, 16)), _mm256_castsi256_ps(_mm256_and_si256(v0, high)));
                let (e1, o1) =
                    (_mm256_castsi256_ps(_mm256_slli_epi32(v1, 16)), _mm256_castsi256_ps(_mm256_and_si256(v1, high)));
                for i in 0..H {
                    let ae = _mm256_broadcast_ss(&*a.add(i * kp + 2 * q));
                    let ao = _mm256_broadcast_ss(&*a.add(i * kp + 2 * q + 1));
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
    pub(super) struct Avx512(());
    impl Avx512 {
        pub(super) fn new() -> Option<Self> {
            (is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("f16c")).then_some(Avx512(()))
        }
    }

    impl HalfTile for Avx512 {
        const MR: usize = 14;
        const NR: usize = 32;
        fn tile(&self, p: Precision, kp: usize, h: usize, a: &dyn AnyA, a0: usize, b: &[u16], acc: &mut [f32]) {
            let a = a.f32s();
            check(Self::MR, Self::NR, kp, h, a.len(), a0, kp, b, acc);
            let (a, b, acc) = (a[a0..].as_ptr(), b.as_ptr(), acc.as_mut_ptr());
            // SAFETY: `self` proves AVX-512F (+F16C); `check` verified A has h rows of kp
            // floats, the panel kp x 32 values and acc 32 h floats.
            unsafe {
                if p == Precision::F16 {
                    by_height!(h, f16_avx512(kp, a, b, acc), [1 2 3 4 5 6 7 8 9 10 11 12 13 14])
                } else {
                    by_height!(h, bf16_avx512(kp, a, b, acc), [1 2 3 4 5 6 7 8 9 10 11 12 13 14])
                }
            }
        }
    }

    /// # Safety
    /// AVX-512F; `a`: H rows of kp floats; `b`: kp x 32 f16; `acc`: 32 H.
    #[target_feature(enable = "avx512f,f16c")]
    unsafe fn f16_avx512<const H: usize>(kp: usize, a: *const f32, b: *const u16, acc: *mut f32) {
        let mut lo = [_mm512_setzero_ps(); H];
        let mut hi = [_mm512_setzero_ps(); H];
        for kk in 0..kp {
            // SAFETY: kk < kp: panel values 32kk..32kk+32 and A values i*kp+kk in bounds.
            unsafe {
                let b0 = _mm512_cvtph_ps(_mm256_loadu_si256(b.add(kk * 32) as *const __m256i));
                let b1 = _mm512_cvtph_ps(_mm256_loadu_si256(b.add(kk * 32 + 16) as *const __m256i));
                for i in 0..H {
                    let av = _mm512_set1_ps(*a.add(i * kp + kk));
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
    /// AVX-512F; `a`: H rows of kp floats (kp even); `b`: kp x 32 bf16 (pairs); `acc`: 32 H.
    #[target_feature(enable = "avx512f")]
    unsafe fn bf16_avx512<const H: usize>(kp: usize, a: *const f32, b: *const u16, acc: *mut f32) {
        let high = _mm512_set1_epi32(0xFFFF_0000u32 as i32);
        let mut lo = [_mm512_setzero_ps(); H];
        let mut hi = [_mm512_setzero_ps(); H];
        for q in 0..kp / 2 {
            // SAFETY: q < kp/2: panel values 64q..64q+64 and A values i*kp+2q+{0,1} in bounds.
            unsafe {
                let v0 = _mm512_loadu_si512(b.add(q * 64) as *const _);
                let v1 = _mm512_loadu_si512(b.add(q * 64 + 32) as *const _);
                let (e0, o0) =
                    (_mm512_castsi512_ps(_mm512_slli_epi32(v0, 16)), _mm512_castsi512_ps(_mm512_and_si512(v0, high)));
                let (e1, o1) =
                    (_mm512_castsi512_ps(_mm512_slli_epi32(v1, 16)), _mm512_castsi512_ps(_mm512_and_si512(v1, high)));
                for i in 0..H {
                    let ae = _mm512_set1_ps(*a.add(i * kp + 2 * q));
                    let ao = _mm512_set1_ps(*a.add(i * kp + 2 * q + 1));
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
    pub(super) struct Avx512Bf16(());
    impl Avx512Bf16 {
        pub(super) fn new() -> Option<Self> {
            (is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512bf16")).then_some(Avx512Bf16(()))
        }
    }

    impl HalfTile for Avx512Bf16 {
        const MR: usize = 14;
        const NR: usize = 32;
        fn tile(&self, p: Precision, kp: usize, h: usize, a: &dyn AnyA, a0: usize, b: &[u16], acc: &mut [f32]) {
            debug_assert_eq!(p, Precision::Bf16);
            let a = a.pairs();
            check(Self::MR, Self::NR, kp, h, a.len(), a0, kp / 2, b, acc);
            let (a, b, acc) = (a[a0..].as_ptr(), b.as_ptr(), acc.as_mut_ptr());
            // SAFETY: `self` proves AVX-512F + AVX512_BF16; `check` verified A has h rows of
            // kp/2 pairs, the panel kp x 32 values and acc 32 h floats.
            unsafe { by_height!(h, dpbf16(kp / 2, a, b, acc), [1 2 3 4 5 6 7 8 9 10 11 12 13 14]) }
        }
    }

    /// `vdpbf16ps`: per f32 lane, `acc += a.lo * b.lo + a.hi * b.hi` on bf16 pairs.
    ///
    /// # Safety
    /// AVX-512F + AVX512_BF16; `a`: H rows of `pairs` u32 (pairs apart); `b`: pairs x 64
    /// bf16; `acc`: 32 H.
    #[target_feature(enable = "avx512f,avx512bf16")]
    unsafe fn dpbf16<const H: usize>(pairs: usize, a: *const u32, b: *const u16, acc: *mut f32) {
        let mut lo = [_mm512_setzero_ps(); H];
        let mut hi = [_mm512_setzero_ps(); H];
        for q in 0..pairs {
            // SAFETY: q < pairs: panel values 64q..64q+64 and A lanes i*pairs+q in bounds.
            unsafe {
                let b0: __m512bh = std::mem::transmute(_mm512_loadu_si512(b.add(q * 64) as *const _));
                let b1: __m512bh = std::mem::transmute(_mm512_loadu_si512(b.add(q * 64 + 32) as *const _));
                for i in 0..H {
                    let av: __m512bh = std::mem::transmute(_mm512_set1_epi32(*a.add(i * pairs + q) as i32));
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
}
