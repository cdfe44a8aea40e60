//! The activation side of the int8 GEMM: each row (token) quantized asymmetrically to
//! `0..=levels` with its own scale and zero point, every call (dynamic quantization).

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

multiversion! {
    /// The quantizer, compiled for `isa` (see `ops::simd`): written plainly, with the range
    /// kept in 16 lanes so that the compiler can vectorize it. Every step is an exactly
    /// rounded IEEE operation, so each copy gives the same codes bit for bit.
    pub fn quantize_row_isa(x: &[f32], mul: Option<&[f32]>, levels: u8, out: &mut [u8]) -> RowQuant {
        let (out, pad) = out.split_at_mut(x.len());
        pad.fill(0);
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
        for k in whole..x.len() {
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
            out.fill(0);
            return RowQuant { scale: f32::NAN, zero_point: 0 };
        }
        if scale == 0.0 {
            out.fill(0); // an all-zero row
            return RowQuant { scale: 1.0, zero_point: 0 };
        }
        let zero_point = (-lo / scale).round_ties_even().clamp(0.0, levels_f);
        let inv = 1.0 / scale;
        for (k, q) in out.iter_mut().enumerate() {
            *q = ((value(k) * inv).round_ties_even() + zero_point).clamp(0.0, levels_f) as u8;
        }
        RowQuant { scale, zero_point: zero_point as i32 }
    }
}
