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
//! Accumulation is always f32. `gemm_half` copies A once into a padded contiguous buffer
//! (for the native kernel: as bf16 pairs) and hands it to the one lower-precision driver
//! (`driver.rs`), which int8 shares; the epilogue adds the bias and applies GELU. The SIMD
//! kernels are in `half_x86.rs`.

use rayon::prelude::*;

use super::Precision;
use super::driver::{self, Finish, LowpTile, Problem};
use crate::ops::matmul::Epilogue;
use crate::{Error, Result};

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
            HalfKernel::Avx2 => super::half_x86::Avx2::new(Precision::F16).is_some(),
            #[cfg(target_arch = "x86_64")]
            HalfKernel::Avx512 => super::half_x86::Avx512::new(Precision::F16).is_some(),
            #[cfg(target_arch = "x86_64")]
            HalfKernel::Avx512Bf16 => super::half_x86::Avx512Bf16::new().is_some(),
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
/// `c: m x n` (row i at `i * ldc`, overwritten); the epilogue adds a bias `[n]` (then GELU).
/// All threads of the current rayon pool (the one lower-precision driver, `driver.rs`).
/// Errors if a slice is too short for its matrix.
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
    let (kp, p) = (w.kp, w.precision);
    let finish = AddBias { bias, gelu };
    let panel_len = kp * w.nr;
    // A, prepared once: f32 rows for the widening kernels, bf16 pairs for `vdpbf16ps`.
    if w.kernel == HalfKernel::Avx512Bf16 {
        #[cfg(target_arch = "x86_64")]
        {
            let kernel = super::half_x86::Avx512Bf16::new().ok_or_else(unsupported)?;
            let mut pairs = PAIRS_BUF.with(std::cell::Cell::take);
            bf16_pairs_a(a, m, k, lda, kp, &mut pairs);
            let problem = Problem { m, n, kp, a: &pairs, lda: kp / 2, panels: &w.data, panel_len };
            driver::gemm(kernel, &problem, &finish, c, ldc);
            PAIRS_BUF.with(|b| b.set(pairs));
            return Ok(());
        }
    }
    let mut rows = ROWS_BUF.with(std::cell::Cell::take);
    copy_a(a, m, k, lda, kp, &mut rows);
    let problem = Problem { m, n, kp, a: &rows, lda: kp, panels: &w.data, panel_len };
    let result = product(w.kernel, p, &problem, &finish, c, ldc);
    ROWS_BUF.with(|b| b.set(rows));
    result
}

thread_local! {
    /// A as the kernels read it, kept per thread between products (allocating and
    /// page-faulting it per call costs as much as the copy at batch 1). Taken out of the cell
    /// while in use, so a nested call on the same thread gets a fresh one.
    static ROWS_BUF: std::cell::Cell<Vec<f32>> = const { std::cell::Cell::new(Vec::new()) };
    static PAIRS_BUF: std::cell::Cell<Vec<u32>> = const { std::cell::Cell::new(Vec::new()) };
}

/// The blocked product of the widening kernels.
fn product(
    kernel: HalfKernel,
    p: Precision,
    problem: &Problem<f32, u16>,
    finish: &AddBias,
    c: &mut [f32],
    ldc: usize,
) -> Result<()> {
    match kernel {
        HalfKernel::Portable => driver::gemm(Portable(p), problem, finish, c, ldc),
        #[cfg(target_arch = "x86_64")]
        HalfKernel::Avx2 => {
            driver::gemm(super::half_x86::Avx2::new(p).ok_or_else(unsupported)?, problem, finish, c, ldc)
        }
        #[cfg(target_arch = "x86_64")]
        HalfKernel::Avx512 => {
            driver::gemm(super::half_x86::Avx512::new(p).ok_or_else(unsupported)?, problem, finish, c, ldc)
        }
        _ => return Err(unsupported()),
    }
    Ok(())
}

fn unsupported() -> Error {
    Error::invalid("gemm_half", "the weight was packed for a kernel this CPU does not support")
}

/// A's rows copied contiguously into `out`, `kp` apart, zero-padded.
fn copy_a(a: &[f32], m: usize, k: usize, lda: usize, kp: usize, out: &mut Vec<f32>) {
    out.clear();
    out.resize(m * kp, 0.0);
    for (i, row) in out.chunks_mut(kp.max(1)).enumerate().take(m) {
        row[..k].copy_from_slice(&a[i * lda..i * lda + k]);
    }
}

/// A's rows as bf16 pairs (k even in the low half, as `vdpbf16ps` reads them), `kp / 2`
/// lanes per row, zero-padded; rounded to nearest even.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
fn bf16_pairs_a(a: &[f32], m: usize, k: usize, lda: usize, kp: usize, out: &mut Vec<u32>) {
    let lanes = kp / 2;
    out.clear();
    out.resize(m * lanes, 0);
    out.par_chunks_mut(lanes.max(1)).enumerate().take(m).for_each(|(i, row)| {
        let x = &a[i * lda..i * lda + k];
        for (q, lane) in row.iter_mut().enumerate() {
            let lo = to_bits(x[2 * q], Precision::Bf16) as u32;
            let hi = x.get(2 * q + 1).map_or(0, |&v| to_bits(v, Precision::Bf16) as u32);
            *lane = lo | (hi << 16);
        }
    });
}

/// The half-precision epilogue: the f32 tile plus the bias, then GELU.
struct AddBias<'a> {
    bias: Option<&'a [f32]>,
    gelu: bool,
}

impl<K: LowpTile<Acc = f32>> Finish<K> for AddBias<'_> {
    fn row(&self, _i: usize, col: usize, acc: &[f32], out: &mut [f32]) {
        out.copy_from_slice(acc);
        if let Some(b) = self.bias {
            let nr = out.len();
            out.iter_mut().zip(&b[col..col + nr]).for_each(|(o, b)| *o += b);
        }
        if self.gelu {
            crate::ops::gelu_in_place(out);
        }
    }
}

/// The portable kernel ([`LowpTile`] on f32 rows of A and 16-bit weights of precision `.0`):
/// widen, multiply, add. `acc[i * NR + j] = Σ_k a[i * lda + k] · W[k][j]`.
#[derive(Clone, Copy, Debug)]
struct Portable(Precision);

impl LowpTile for Portable {
    type A = f32;
    type B = u16;
    type Acc = f32;
    const MR: usize = 4;
    const NR: usize = 16;
    fn tile(&self, kp: usize, h: usize, a: &[f32], lda: usize, b: &[u16], acc: &mut [f32], load: bool) {
        let (p, pp) = (self.0, pair(self.0));
        for i in 0..h {
            let row = &a[i * lda..i * lda + kp];
            let out = &mut acc[i * Self::NR..(i + 1) * Self::NR];
            if !load {
                out.fill(0.0);
            }
            for (kk, &x) in row.iter().enumerate() {
                for (j, o) in out.iter_mut().enumerate() {
                    *o += x * from_bits(b[(kk / pp) * Self::NR * pp + j * pp + kk % pp], p);
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
