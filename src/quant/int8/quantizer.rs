//! The activation side of the int8 GEMM: each row (token) quantized asymmetrically to
//! `0..=levels` with its own scale and zero point, every call (dynamic quantization).
//!
//! Two writers share one range finder: [`quantize_row_isa`] writes a plain row of codes (the
//! reference's layout), [`quantize_row_packed_isa`] writes them straight into the layout the
//! int8 microkernels read, so A is never packed in a pass of its own.
//!
//! ## The packed A layout
//!
//! The kernel's tile of MR rows broadcasts, for each group of 4 k, the 4 codes of each of its
//! MR rows in turn. So A is stored tile by tile (`MR * kp` bytes each), and within a tile group
//! by group: the 4 codes of row 0, then of row 1, ..., of row MR - 1 (`4 MR` bytes per group).
//! One group of a 14-row tile is 56 bytes, inside one cache line, and the kernel walks the
//! tile's bytes in order, once per weight panel: one stream the hardware prefetcher follows,
//! instead of 14 streams `kp` bytes apart. Rows past M in the last tile stay zero.

use super::RowQuant;
use crate::ops::simd::{Isa, multiversion};

/// Quantizes one activation row to `0..=levels` (see the module docs); `x[k] * mul[k]` is
/// quantized when `mul` is given (SmoothQuant's division, folded in). Writes `x.len()` codes
/// and zeros up to `out.len()` (the padding to a multiple of 4 k).
pub fn quantize_row(x: &[f32], mul: Option<&[f32]>, levels: u8, out: &mut [u8]) -> RowQuant {
    quantize_row_isa(Isa::best(), x, mul, levels, out)
}

/// Lanes of the quantizer's running minimum and maximum: one AVX-512 register.
const QLANES: usize = 16;

/// The row's quantization parameters and what each code is computed from: `Ok((row, inv,
/// zero_point))` for an ordinary row, `Err(row)` for a row whose codes are all 0 (a NaN or
/// infinite value: scale NaN; an all-zero row: scale 1). Inlined into each compiled copy.
#[inline(always)]
fn row_params(x: &[f32], mul: Option<&[f32]>, levels: u8) -> Result<(RowQuant, f32, f32), RowQuant> {
    let value = |k: usize| match mul {
        Some(m) => x[k] * m[k],
        None => x[k],
    };
    // NaN in `poison` if any value is NaN or infinite (a comparison skips a NaN).
    let (mut lo, mut hi, mut poison) = ([0.0f32; QLANES], [0.0f32; QLANES], [0.0f32; QLANES]);
    let whole = x.len() / QLANES * QLANES;
    for k0 in (0..whole).step_by(QLANES) {
        for t in 0..QLANES {
            let v = value(k0 + t);
            lo[t] = if v < lo[t] { v } else { lo[t] };
            hi[t] = if v > hi[t] { v } else { hi[t] };
            poison[t] += v * 0.0;
        }
    }
    params_from_lanes(x, mul, [lo, hi, poison], levels)
}

/// The end of [`row_params`], from the 16 lanes of the whole part of the row: the tail into
/// lane 0, the lanes folded, the scale and the zero point.
#[inline(always)]
fn params_from_lanes(
    x: &[f32],
    mul: Option<&[f32]>,
    [mut lo, mut hi, mut poison]: [[f32; QLANES]; 3],
    levels: u8,
) -> Result<(RowQuant, f32, f32), RowQuant> {
    let value = |k: usize| match mul {
        Some(m) => x[k] * m[k],
        None => x[k],
    };
    for k in x.len() / QLANES * QLANES..x.len() {
        let v = value(k);
        lo[0] = if v < lo[0] { v } else { lo[0] };
        hi[0] = if v > hi[0] { v } else { hi[0] };
        poison[0] += v * 0.0;
    }
    let lo = lo.iter().fold(0.0f32, |m, &v| if v < m { v } else { m });
    let hi = hi.iter().fold(0.0f32, |m, &v| if v > m { v } else { m });
    let poison: f32 = poison.iter().sum();
    let levels_f = levels as f32;
    let scale = (hi - lo) / levels_f;
    if scale.is_nan() || poison.is_nan() || !scale.is_finite() {
        return Err(RowQuant { scale: f32::NAN, zero_point: 0 });
    }
    if scale == 0.0 {
        return Err(RowQuant { scale: 1.0, zero_point: 0 }); // an all-zero row
    }
    let zero_point = (-lo / scale).round_ties_even().clamp(0.0, levels_f);
    Ok((RowQuant { scale, zero_point: zero_point as i32 }, 1.0 / scale, zero_point))
}

/// The code of one value: `clamp(round(v / scale) + zero_point, 0, levels)`.
#[inline(always)]
fn code(v: f32, inv: f32, zero_point: f32, levels: f32) -> u8 {
    ((v * inv).round_ties_even() + zero_point).clamp(0.0, levels) as u8
}

multiversion! {
    /// The quantizer, compiled for `isa` (see `ops::simd`): written plainly, with the range
    /// kept in 16 lanes so that the compiler can vectorize it. Every step is an exactly
    /// rounded IEEE operation, so each copy gives the same codes bit for bit.
    pub fn quantize_row_isa(x: &[f32], mul: Option<&[f32]>, levels: u8, out: &mut [u8]) -> RowQuant {
        let (out, pad) = out.split_at_mut(x.len());
        pad.fill(0);
        match row_params(x, mul, levels) {
            Err(row) => {
                out.fill(0);
                row
            }
            Ok((row, inv, zp)) => {
                let levels = levels as f32;
                match mul {
                    Some(m) => out.iter_mut().zip(x.iter().zip(m)).for_each(|(q, (v, m))| *q = code(v * m, inv, zp, levels)),
                    None => out.iter_mut().zip(x).for_each(|(q, v)| *q = code(*v, inv, zp, levels)),
                }
                row
            }
        }
    }
}

multiversion! {
    /// [`quantize_row_isa`]'s codes, minus `offset` (wrapping: the AVX2 kernel's centred
    /// codes), written into row `row` of one packed tile of `mr` rows (see the module docs):
    /// the codes of k = 4g..4g+4 go to `tile[(g * mr + row) * 4..][..4]`, for every group of
    /// the `tile.len() / (4 mr)` the tile holds; k past `x.len()` get code 0 (not offset).
    #[allow(clippy::too_many_arguments)]
    pub fn quantize_row_packed_isa(x: &[f32], mul: Option<&[f32]>, levels: u8, offset: u8, tile: &mut [u8], mr: usize, row: usize) -> RowQuant {
        let groups = tile.len() / (4 * mr);
        assert!(row < mr && groups * 4 >= x.len(), "packed quantizer: row {row} of {mr}, {groups} groups for {} values", x.len());
        let (params, inv, zp) = match row_params(x, mul, levels) {
            Ok(p) => (p.0, p.1, p.2),
            Err(p) => (p, 0.0, 0.0), // every code 0: v * 0 rounds to 0 (NaN clamps to 0)
        };
        let levels = levels as f32;
        packed_codes(x, mul, (inv, zp, levels), offset, tile, mr, row, 0);
        params
    }
}

/// The packed writer's loops from group `g0` on (see [`quantize_row_packed_isa`]).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn packed_codes(
    x: &[f32],
    mul: Option<&[f32]>,
    (inv, zp, levels): (f32, f32, f32),
    offset: u8,
    tile: &mut [u8],
    mr: usize,
    row: usize,
    g0: usize,
) {
    let groups = tile.len() / (4 * mr);
    let whole = x.len() / 4;
    let value = |k: usize| match mul {
        Some(m) => x[k] * m[k],
        None => x[k],
    };
    for g in g0..whole {
        let dst = &mut tile[(g * mr + row) * 4..][..4];
        for (t, q) in dst.iter_mut().enumerate() {
            *q = code(value(4 * g + t), inv, zp, levels).wrapping_sub(offset);
        }
    }
    for g in whole.max(g0)..groups {
        let dst = &mut tile[(g * mr + row) * 4..][..4];
        for (t, q) in dst.iter_mut().enumerate() {
            let k = 4 * g + t;
            *q = if k < x.len() { code(value(k), inv, zp, levels).wrapping_sub(offset) } else { 0 };
        }
    }
}

/// [`quantize_row_packed_isa`] on the fastest path for `isa`: on AVX-512 the range and 16
/// codes at a time in intrinsics (`int8_x86.rs`; same operations, same codes bit for bit),
/// the tails and the rows of all-0 codes as the plain copy; elsewhere the plain copy.
#[allow(clippy::too_many_arguments)]
pub fn quantize_row_packed(
    isa: Isa,
    x: &[f32],
    mul: Option<&[f32]>,
    levels: u8,
    offset: u8,
    tile: &mut [u8],
    mr: usize,
    row: usize,
) -> RowQuant {
    #[cfg(target_arch = "x86_64")]
    if isa == Isa::Avx512
        && let Some(q) = crate::quant::int8_x86::Quantize512::new()
    {
        let groups = tile.len() / (4 * mr);
        assert!(
            row < mr && groups * 4 >= x.len(),
            "packed quantizer: row {row} of {mr}, {groups} groups for {} values",
            x.len()
        );
        if let Ok((params, inv, zp)) = params_from_lanes(x, mul, q.lanes(x, mul), levels) {
            q.codes(x, mul, inv, zp, levels as f32, offset, tile, mr, row);
            packed_codes(x, mul, (inv, zp, levels as f32), offset, tile, mr, row, x.len() / 16 * 4);
            return params;
        }
    }
    quantize_row_packed_isa(isa, x, mul, levels, offset, tile, mr, row)
}
