//! # int8 GEMM with dynamic per-token quantization
//!
//! `y = x·Wᵀ + b` with `W` stored as 8-bit integers. Two quantizers, one on each side:
//!
//! - **weights, per output channel, symmetric** (once, at conversion): row `j` of `W` gets
//!   `s_w[j] = max|W[j,:]| / 127` and `q_w[j,k] = round(W[j,k] / s_w[j])` in `-127..=127`.
//!   One scale per output channel instead of one per tensor: a row of small weights is not
//!   crushed by a large row elsewhere (PyTorch's and ONNX Runtime's per-tensor default).
//! - **activations, per row (per token), asymmetric** (every call, "dynamic"): row `i` of `x`
//!   spans `[lo, hi]` (widened to contain 0), `s_a[i] = (hi - lo) / L`, zero point
//!   `z[i] = round(-lo / s_a[i])`, `q_a[i,k] = clamp(round(x[i,k] / s_a[i]) + z[i], 0, L)`,
//!   unsigned, `L = 255`. Asymmetric because GELU's output is almost all positive: a symmetric range
//!   would waste half the codes on values that never occur.
//!
//! Then `x[i,k] ≈ s_a[i] (q_a[i,k] - z[i])` and `W[j,k] ≈ s_w[j] q_w[j,k]`, so
//!
//! ```text
//! y[i,j] ≈ s_a[i] s_w[j] Σ_k (q_a[i,k] - z[i]) q_w[j,k] + b[j]
//!        = s_a[i] s_w[j] (acc[i,j] - z[i] colsum[j]) + b[j]
//!   acc[i,j] = Σ_k q_a[i,k] q_w[j,k]   (u8 x i8 products, summed exactly in i32)
//!   colsum[j] = Σ_k q_w[j,k]           (computed once, at conversion)
//! ```
//!
//! The `z[i] colsum[j]` term is the **zero-point correction**: the hardware multiplies
//! unsigned activations by signed weights, so the zero point comes out as one subtraction
//! per output, not per product. The epilogue applies it, the two scales and the bias
//! (`dequantize`) inside the microkernel, on the accumulators of the last depth block while
//! they are still in registers, and stores f32 to C; GELU, when asked, then runs over the
//! tile's rows of C, just written (`I8Tile`).
//!
//! ## The microkernels (`int8_x86.rs`)
//!
//! `acc` is computed four k at a time: one 32-bit lane holds 4 u8 activations (broadcast
//! from one row) and the packed weight panel holds, per group of 4 k, 4 i8 weights for each
//! of NR columns. The instructions:
//!
//! - AVX512_VNNI / AVX-VNNI `vpdpbusd acc, a, b`: per 32-bit lane,
//!   `acc += a0 b0 + a1 b1 + a2 b2 + a3 b3` (u8 x i8, exact in i32): 64 multiply-adds per
//!   512-bit instruction, against 16 for an f32 FMA.
//! - AVX2 has no such instruction: `vpmaddubsw` multiplies u8 x i8 and adds *pairs* into
//!   **saturating i16**, then `vpmaddwd` by ones adds pairs of i16 into i32. The trap:
//!   255 x 127 x 2 = 64770 does not fit in i16 (max 32767), so with full-range codes on both
//!   sides the pair sums silently clip to 32767. The way out that keeps all 8 bits of the
//!   weights: make *both* operands at most 127 in size. The activation codes are centred,
//!   `a = q - 127` with `q` in `0..=254` (254 levels instead of 255: one code lost), so
//!   `|a| <= 127`, and the kernel multiplies `|w|` (unsigned, `vpabsb`) by `a` carrying the
//!   sign of `w` (`vpsignb`): the same products, and a pair sum is at most
//!   `2 x 127 x 127 = 32258 < 32767`. Exact, for one `vpabsb` per weight vector and one
//!   `vpsignb` per product vector. The quantizer writes the centred codes straight into the
//!   buffer the kernel reads (as i8), so the kernel sums `(q - 127) w` and the epilogue
//!   subtracts `(z - 127) colsum` ([`I8Kernel::activation_offset`]).
//!
//! ## The loops
//!
//! `gemm_i8` quantizes A (all rows, in parallel) straight into the packed tiles the kernel
//! reads (`MR x kp` bytes per tile of MR rows, `kp = k` rounded up to 4, the 4 codes of each
//! row adjacent per group of 4 k: `int8/quantizer.rs`), then hands them, the panels and the dequantizing
//! epilogue to the one lower-precision driver (`driver.rs`: threads, row blocks, panels,
//! tiles), which f16/bf16 share.
//!
//! Files: this one (the kernels' names and shapes, the GEMM, the dequantizing epilogue),
//! `int8/weights.rs` (quantizing and packing the weights), `int8/quantizer.rs` (quantizing the
//! activations), `int8/reference.rs` (the portable kernel and the reference), `int8_x86.rs`
//! (the SIMD microkernels).

use rayon::prelude::*;

use super::driver::{self, Finish, LastBlock, LowpTile, Problem};
use crate::ops::matmul::Epilogue;
use crate::ops::simd::{Isa, multiversion};
use crate::{Error, Result};

mod quantizer;
mod reference;
mod weights;

pub use quantizer::{quantize_row, quantize_row_isa, quantize_row_packed, quantize_row_packed_isa};
pub(crate) use reference::Portable;
pub use reference::linear_i8_ref;
pub use weights::{PackedI8, quantize_weight_row};

/// k values per 32-bit lane: one `vpdpbusd` lane sums 4 products.
pub const GROUP: usize = 4;

/// Which int8 microkernel to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum I8Kernel {
    /// Plain Rust loops (any target; the fallback and the readable version).
    Portable,
    /// AVX2 `vpmaddubsw` + `vpmaddwd` on sign-moved operands (8-bit weights, centred
    /// activations: see the module docs).
    Avx2,
    /// AVX-VNNI `vpdpbusd` on 256-bit registers (Alder Lake and later, Zen 5).
    AvxVnni,
    /// AVX512_VNNI `vpdpbusd` on 512-bit registers (Cascade Lake and later, Zen 4).
    Avx512Vnni,
}

impl I8Kernel {
    /// Every kernel, slowest first.
    pub const ALL: [I8Kernel; 4] = [I8Kernel::Portable, I8Kernel::Avx2, I8Kernel::AvxVnni, I8Kernel::Avx512Vnni];

    /// True if this CPU can run the kernel.
    pub fn is_supported(self) -> bool {
        match self {
            I8Kernel::Portable => true,
            #[cfg(target_arch = "x86_64")]
            I8Kernel::Avx2 => super::int8_x86::Avx2::new().is_some(),
            #[cfg(target_arch = "x86_64")]
            I8Kernel::AvxVnni => super::int8_x86::AvxVnni::new().is_some(),
            #[cfg(target_arch = "x86_64")]
            I8Kernel::Avx512Vnni => super::int8_x86::Avx512Vnni::new().is_some(),
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }

    /// The fastest kernel this CPU supports.
    pub fn best() -> I8Kernel {
        Self::ALL.into_iter().rev().find(|k| k.is_supported()).unwrap_or(I8Kernel::Portable)
    }

    /// Short name for tables.
    pub fn name(self) -> &'static str {
        match self {
            I8Kernel::Portable => "portable",
            I8Kernel::Avx2 => "avx2",
            I8Kernel::AvxVnni => "avx-vnni",
            I8Kernel::Avx512Vnni => "avx512-vnni",
        }
    }

    /// (MR, NR): the i32 tile one microkernel call computes.
    pub fn tile_shape(self) -> (usize, usize) {
        match self {
            I8Kernel::Portable => (4, 16),
            I8Kernel::Avx2 => (4, 16),
            I8Kernel::AvxVnni => (6, 16),
            I8Kernel::Avx512Vnni => (14, 32),
        }
    }

    /// Largest activation code: 255, or 254 for AVX2, whose codes are centred to
    /// `-127..=127` so that `vpmaddubsw`'s pair sums never saturate i16 (see the module docs).
    pub fn levels(self) -> u8 {
        match self {
            I8Kernel::Avx2 => 254,
            _ => 255,
        }
    }

    /// What is subtracted from each activation code before the kernel multiplies it: 127 for
    /// AVX2 (centred codes, stored as i8), else 0. The epilogue's zero point moves by as much.
    pub fn activation_offset(self) -> i32 {
        match self {
            I8Kernel::Avx2 => 127,
            _ => 0,
        }
    }

    /// Largest |weight code|: 127 (8 bits, symmetric) for every kernel.
    pub fn weight_max(self) -> i8 {
        127
    }
}

/// How one row of activations was quantized: `x ≈ scale * (q - zero_point)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RowQuant {
    /// f32 per code step (NaN if the row held a NaN or an infinity: the output row is NaN).
    pub scale: f32,
    /// The code that stands for 0.0.
    pub zero_point: i32,
}

multiversion! {
    /// One row of the int8 epilogue, compiled for `isa`: `out[j] = dequantize(acc[j], ...)`
    /// (bias 0 without one), then GELU when asked (`gelu`).
    #[allow(clippy::too_many_arguments)]
    fn dequantize_row(acc: &[i32], row: RowQuant, colsum: &[i32], w_scale: &[f32], bias: Option<&[f32]>, out: &mut [f32]) {
        let n = out.len();
        let (acc, colsum, w_scale) = (&acc[..n], &colsum[..n], &w_scale[..n]);
        match bias {
            Some(b) => {
                let b = &b[..n];
                for j in 0..n {
                    out[j] = dequantize(acc[j], row, colsum[j], w_scale[j], b[j]);
                }
            }
            None => {
                for j in 0..n {
                    out[j] = dequantize(acc[j], row, colsum[j], w_scale[j], 0.0);
                }
            }
        }
    }
}

/// The epilogue of one output: zero-point correction, both scales, bias. The reference and
/// every kernel call this same function, so their outputs are identical bit for bit.
#[inline(always)]
pub fn dequantize(acc: i32, row: RowQuant, colsum: i32, w_scale: f32, bias: f32) -> f32 {
    ((acc - row.zero_point * colsum) as f32) * (row.scale * w_scale) + bias
}

/// `C = A·Wᵀ (+ bias) (then GELU)` with `W` int8 (see the module docs). `a: m x k` (row i at
/// `i * lda`), `c: m x n` (row i at `i * ldc`), overwritten; the epilogue (bias `[n]`, then GELU) as `ops::matmul::Epilogue`.
///
/// Activations are quantized per row with the levels of `w`'s kernel; the product runs on all
/// threads of the current rayon pool. Errors if a slice is too short for its matrix.
#[allow(clippy::too_many_arguments)]
pub fn gemm_i8(
    m: usize,
    a: &[f32],
    lda: usize,
    w: &PackedI8,
    c: &mut [f32],
    ldc: usize,
    epilogue: Epilogue,
) -> Result<()> {
    let (k, n) = (w.k, w.n);
    check_matrix("gemm_i8", "A", m, k, lda, a.len())?;
    check_matrix("gemm_i8", "C", m, n, ldc, c.len())?;
    epilogue.check("gemm_i8", n)?;
    let (bias, gelu) = match epilogue {
        Epilogue::None => (None, false),
        Epilogue::Bias(b) => (Some(b), false),
        Epilogue::BiasGelu(b) => (Some(b), true),
    };
    if m == 0 || n == 0 {
        return Ok(());
    }
    // 1. Quantize A, one row per token, straight into the packed tiles the kernel reads (see
    //    `int8/quantizer.rs`): once per call, read by every panel and every thread.
    let kp = w.groups * GROUP;
    let mr = w.kernel.tile_shape().0;
    let tile_len = mr * kp;
    let mut qa = QA_BUF.with(std::cell::Cell::take);
    qa.clear();
    qa.resize(m.div_ceil(mr) * tile_len, 0);
    let mut rows = vec![RowQuant { scale: 0.0, zero_point: 0 }; m];
    let (levels, offset) = (w.kernel.levels(), w.kernel.activation_offset());
    let mul = w.act_mul.as_deref();
    let isa = Isa::best();
    let quantize = |(t, (tile, rq)): (usize, (&mut [u8], &mut [RowQuant]))| {
        for (r, rq) in rq.iter_mut().enumerate() {
            let i = t * mr + r;
            *rq = quantize_row_packed(isa, &a[i * lda..i * lda + k], mul, levels, offset as u8, tile, mr, r);
        }
    };
    if kp == 0 {
        rows.iter_mut().for_each(|r| *r = quantize_row(&[], None, levels, &mut []));
    } else if m * k >= 1 << 16 {
        qa.par_chunks_mut(tile_len).zip(rows.par_chunks_mut(mr)).enumerate().for_each(quantize);
    } else {
        qa.chunks_mut(tile_len).zip(rows.chunks_mut(mr)).enumerate().for_each(quantize);
    }
    // 2. The blocked product, dequantized in the epilogue.
    let problem = Problem { m, n, kp, a: &qa, lda: kp, panels: &w.panels, panel_len: kp * w.nr };
    let finish = Dequantize { rows: &rows, w, bias, gelu, offset, isa: Isa::best() };
    let result = product(w.kernel, &problem, &finish, c, ldc);
    QA_BUF.with(|b| b.set(qa));
    result
}

thread_local! {
    /// The quantized A, kept per thread between products: allocating it per call (and, past a
    /// few hundred KB, page-faulting it in) costs as much as quantizing it at batch 1. Taken
    /// out of the cell while in use, so a nested call on the same thread gets a fresh one.
    static QA_BUF: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

/// The blocked product on `kernel`, dequantized by `finish`.
fn product(kernel: I8Kernel, problem: &Problem<u8, i8>, finish: &Dequantize, c: &mut [f32], ldc: usize) -> Result<()> {
    match kernel {
        I8Kernel::Portable => driver::gemm(Portable, problem, finish, c, ldc),
        #[cfg(target_arch = "x86_64")]
        I8Kernel::Avx2 => driver::gemm(super::int8_x86::Avx2::new().ok_or_else(unsupported)?, problem, finish, c, ldc),
        #[cfg(target_arch = "x86_64")]
        I8Kernel::AvxVnni => {
            driver::gemm(super::int8_x86::AvxVnni::new().ok_or_else(unsupported)?, problem, finish, c, ldc)
        }
        #[cfg(target_arch = "x86_64")]
        I8Kernel::Avx512Vnni => {
            driver::gemm(super::int8_x86::Avx512Vnni::new().ok_or_else(unsupported)?, problem, finish, c, ldc)
        }
        #[cfg(not(target_arch = "x86_64"))]
        _ => return Err(unsupported()),
    }
    Ok(())
}

fn unsupported() -> Error {
    Error::invalid("gemm_i8", "the weight was packed for a kernel this CPU does not support")
}

/// The int8 epilogue: zero-point correction, scales, bias, GELU, one row of a tile at a time.
struct Dequantize<'a> {
    rows: &'a [RowQuant],
    w: &'a PackedI8,
    bias: Option<&'a [f32]>,
    gelu: bool,
    /// The kernel's [`I8Kernel::activation_offset`].
    offset: i32,
    /// The instruction set the epilogue is compiled for.
    isa: Isa,
}

impl<K: I8Tile> Finish<K> for Dequantize<'_> {
    const IN_REGISTERS: bool = true;

    /// The stored-tile path (k = 0 only): the same formula, one row at a time.
    fn row(&self, i: usize, col: usize, acc: &[i32], out: &mut [f32]) {
        let nr = out.len();
        let rq = self.rows[i];
        let rq = RowQuant { zero_point: rq.zero_point - self.offset, ..rq };
        let (cs, sw) = (&self.w.colsum[col..col + nr], &self.w.scales[col..col + nr]);
        dequantize_row(self.isa, acc, rq, cs, sw, self.bias.map(|b| &b[col..col + nr]), out);
        if self.gelu {
            crate::ops::activation::gelu_slice_isa(self.isa, out);
        }
    }

    /// The last depth block with the dequantization in the kernel's registers; a tile
    /// narrower than NR (the last panel of an odd N) is finished into a full-width scratch
    /// tile, its parameters padded with zeros, and its `nr` columns copied out. GELU then runs
    /// over the tile's rows of C, just written and still in L1.
    fn last_block(&self, t: LastBlock<'_, '_, K>, out: &mut [&mut [f32]], jc: usize) {
        let (h, col, nr) = (t.h, t.col, t.nr);
        let mut ep = TileOut {
            zero_point: [0; MAX_MR],
            scale: [0.0; MAX_MR],
            colsum: [0; MAX_NR],
            w_scale: [0.0; MAX_NR],
            bias: [0.0; MAX_NR],
        };
        for r in 0..h {
            let rq = self.rows[t.i + r];
            (ep.zero_point[r], ep.scale[r]) = (rq.zero_point - self.offset, rq.scale);
        }
        ep.colsum[..nr].copy_from_slice(&self.w.colsum[col..col + nr]);
        ep.w_scale[..nr].copy_from_slice(&self.w.scales[col..col + nr]);
        if let Some(b) = self.bias {
            ep.bias[..nr].copy_from_slice(&b[col..col + nr]);
        }
        if nr == K::NR {
            t.kernel.tile_dequant(t.depth, h, t.a, t.b, t.acc, t.load, &ep, out, jc);
        } else {
            let mut scratch = [0.0f32; MAX_MR * MAX_NR];
            let mut rows: Vec<&mut [f32]> = scratch.chunks_mut(K::NR).take(h).collect();
            t.kernel.tile_dequant(t.depth, h, t.a, t.b, t.acc, t.load, &ep, &mut rows, 0);
            for (o, r) in out.iter_mut().zip(&rows) {
                o[jc..jc + nr].copy_from_slice(&r[..nr]);
            }
        }
        if self.gelu {
            for o in out.iter_mut() {
                crate::ops::activation::gelu_slice_isa(self.isa, &mut o[jc..jc + nr]);
            }
        }
    }
}

/// The tallest and widest int8 tile (the AVX-512 kernel's 14 x 32).
pub(crate) const MAX_MR: usize = 14;
pub(crate) const MAX_NR: usize = 32;

/// What the epilogue of one tile needs, for a kernel to apply it in registers: per row, the
/// zero point (minus the kernel's activation offset) and the scale; per column, the column
/// sum, the weight scale and the bias (0 without one; 0 everywhere past the tile's columns).
pub(crate) struct TileOut {
    pub zero_point: [i32; MAX_MR],
    pub scale: [f32; MAX_MR],
    pub colsum: [i32; MAX_NR],
    pub w_scale: [f32; MAX_NR],
    pub bias: [f32; MAX_NR],
}

/// An int8 microkernel that can also finish its tile in registers: [`LowpTile::tile`] over
/// the last depth block, then, for `i < h`, `j < NR`,
/// `out[i][jc + j] = dequantize(acc[i][j], (scale[i], zero_point[i]), colsum[j], w_scale[j],
/// bias[j])` — the same operations as [`dequantize`], in the same order (an i32 multiply and
/// subtraction, a conversion, two f32 multiplies and an add, never fused), so the result is
/// the same bit for bit. Panics if `out` has not `h` rows of `jc + NR` values.
pub(crate) trait I8Tile: LowpTile<A = u8, B = i8, Acc = i32> {
    #[allow(clippy::too_many_arguments)]
    fn tile_dequant(
        &self,
        kp: usize,
        h: usize,
        a: &[u8],
        b: &[i8],
        acc: &mut [i32],
        load: bool,
        ep: &TileOut,
        out: &mut [&mut [f32]],
        jc: usize,
    );
}

/// The checks before a kernel writes a finished tile through raw pointers: `h` rows of at
/// least `jc + nr` values. Returns the rows' pointers at column `jc`.
pub(crate) fn out_rows(out: &mut [&mut [f32]], h: usize, jc: usize, nr: usize) -> [*mut f32; MAX_MR] {
    assert!(out.len() == h && h <= MAX_MR, "int8 tile: {} output rows for a tile of {h}", out.len());
    let mut ptrs = [std::ptr::null_mut(); MAX_MR];
    for (p, row) in ptrs.iter_mut().zip(out.iter_mut()) {
        assert!(row.len() >= jc + nr, "int8 tile: output row of {} values, {} needed", row.len(), jc + nr);
        *p = row[jc..].as_mut_ptr();
    }
    ptrs
}

/// Errors unless `len` values hold a `rows x cols` matrix with leading dimension `ld`.
pub(crate) fn check_matrix(
    op: &'static str,
    name: &str,
    rows: usize,
    cols: usize,
    ld: usize,
    len: usize,
) -> Result<()> {
    if rows == 0 || cols == 0 {
        return Ok(());
    }
    let ok = (rows == 1 || ld >= cols) && (rows - 1).checked_mul(ld).and_then(|x| x.checked_add(cols)) <= Some(len);
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(op, format!("{name} is {rows} x {cols} with leading dimension {ld}: slice has {len}")))
    }
}

// The contract of an int8 microkernel ([`LowpTile`] with `A = u8`, `B = i8`, `Acc = i32`,
// `PACKED_A`): `a` is one packed tile of A (see `int8/quantizer.rs`) from the depth block's
// first group on, and for `i < h`, `j < NR`,
// `acc[i * NR + j] = Σ_g Σ_t a[(g * MR + i) * 4 + t] * b[g * 4 NR + 4j + t]`, exact in i32, the
// bytes of `a` read as u8 codes (offset 0: VNNI, portable) or as i8 centred codes (offset
// 127: AVX2; see [`I8Kernel::activation_offset`]). `lda` is not used.

/// The checks every kernel does before touching raw pointers.
#[inline]
pub(crate) fn check_tile(mr: usize, nr: usize, groups: usize, h: usize, a: &[u8], b: &[i8], acc: &[i32]) {
    assert!((1..=mr).contains(&h), "int8 tile: height {h} not in 1..={mr}");
    let a_len = (groups * mr).saturating_sub(mr - h) * GROUP;
    assert!(a.len() >= a_len, "int8 tile: packed A has {} bytes, {groups} groups of {h} rows need {a_len}", a.len());
    assert!(b.len() >= groups * GROUP * nr, "int8 tile: panel shorter than {groups} groups");
    assert!(acc.len() >= h * nr, "int8 tile: {} accumulators for {h} x {nr}", acc.len());
}
