//! # Layer normalization
//!
//! What this file teaches: LayerNorm rescales every row (one token's hidden vector of
//! size H) to mean 0 and variance 1, then applies a learned per-feature scale `weight` and
//! shift `bias`:
//!
//! ```text
//! mean = sum(x) / H
//! var  = sum((x - mean)^2) / H          (biased: divide by H, not H - 1, like PyTorch)
//! y    = (x - mean) / sqrt(var + eps) * weight + bias
//! ```
//!
//! `eps` (1e-12 in BERT) keeps the division finite for a constant row. Normalizing keeps
//! activations in a sensible range however deep the network is, which is what lets
//! transformers stack a dozen layers.
//!
//! We compute the variance in two passes (first the mean, then squared deviations from it)
//! rather than as `E[x^2] - E[x]^2`, which cancels catastrophically when the mean is large
//! compared to the spread. The fast kernel [`add_layer_norm_rows`] sums in f32 over 16 lanes
//! (so it compiles to AVX-512, AVX2 or SSE2 code, picked at run time) and corrects the mean
//! with the sum of the deviations; the reference [`add_layer_norm_row_ref`] sums in f64. The
//! same kernel adds the residual while it reads the row: BERT's "residual add + LayerNorm"
//! in one pass.

use rayon::prelude::*;

use super::PARALLEL_THRESHOLD;
use super::simd::{Isa, LANES, multiversion, reduce_sum};
use crate::tensor::Tensor;
use crate::{Error, Result};

/// Layer norm over the last dimension. Shapes: `x [.., H]`, `weight [H]`, `bias [H]`,
/// output like `x`.
pub fn layer_norm(x: &Tensor, weight: Option<&Tensor>, bias: Option<&Tensor>, eps: f32) -> Result<Tensor> {
    let _o = crate::profile::op("layer_norm", 0, 8 * x.numel() as u64);
    let h = check("layer_norm", x, weight, bias)?;
    let (w, b) = (weight.map(Tensor::to_vec), bias.map(Tensor::to_vec));
    let mut data = x.to_vec();
    if h > 0 {
        layer_norm_rows_in_place(&mut data, h, w.as_deref(), b.as_deref(), eps);
    }
    Tensor::from_vec(data, x.shape())
}

/// Layer norm of every `h`-long row of a contiguous buffer, in place.
///
/// # Panics
/// If `h` is 0 or does not divide `data.len()`, or `weight`/`bias` are not `h` long
/// (caller bugs; [`layer_norm`] checks user input and calls this).
pub fn layer_norm_rows_in_place(data: &mut [f32], h: usize, weight: Option<&[f32]>, bias: Option<&[f32]>, eps: f32) {
    let _o = crate::profile::op("layer_norm", 0, 8 * data.len() as u64);
    assert!(h > 0 && data.len().is_multiple_of(h), "layer_norm: {} values do not split into rows of {h}", data.len());
    assert!(weight.is_none_or(|w| w.len() == h) && bias.is_none_or(|b| b.len() == h), "layer_norm: weight/bias size");
    let isa = Isa::best();
    let (w, b) = (weight.unwrap_or(&[]), bias.unwrap_or(&[]));
    if data.len() >= PARALLEL_THRESHOLD {
        let chunk = (PARALLEL_THRESHOLD / 4).div_ceil(h) * h;
        data.par_chunks_mut(chunk).for_each(|c| add_layer_norm_rows(isa, c, &[], h, w, b, eps));
    } else {
        add_layer_norm_rows(isa, data, &[], h, w, b, eps);
    }
}

/// The scalar reference for one row of [`add_layer_norm_rows`]: `x = LayerNorm(x + residual)`
/// (residual may be empty, weight and bias too), sums in f64, one value at a time.
pub fn add_layer_norm_row_ref(x: &mut [f32], residual: &[f32], weight: &[f32], bias: &[f32], eps: f32) {
    let h = x.len();
    if !residual.is_empty() {
        x.iter_mut().zip(residual).for_each(|(v, r)| *v += r);
    }
    let mean = x.iter().map(|&v| v as f64).sum::<f64>() / h as f64;
    let var = x.iter().map(|&v| (v as f64 - mean) * (v as f64 - mean)).sum::<f64>() / h as f64;
    let rstd = 1.0 / (var + eps as f64).sqrt();
    for (j, v) in x.iter_mut().enumerate() {
        let mut y = (*v as f64 - mean) * rstd;
        if !weight.is_empty() {
            y *= weight[j] as f64;
        }
        if !bias.is_empty() {
            y += bias[j] as f64;
        }
        *v = y as f32;
    }
}

multiversion! {
    /// Residual add and LayerNorm fused: every `h`-long row of `x` becomes
    /// `LayerNorm(x + residual) * weight + bias`, with the residual added while the row is
    /// read for its mean (the unfused path writes `x + residual` to memory first and reads it
    /// back). `residual` is as long as `x`, or empty for a plain LayerNorm; `weight`/`bias`
    /// are `h` long, or empty for none.
    ///
    /// Sums run in f32 over [`LANES`] lanes, with the corrected two-pass formula
    /// (`var = Σd² / h - (Σd / h)²`, `y = (d - Σd / h) / std` with `d = x - mean`), whose error does not
    /// grow with the size of the mean the way `E[x²] - E[x]²` does. Compiled for every [`Isa`].
    ///
    /// # Panics
    /// If `h` is 0 or does not divide `x.len()`, or a non-empty slice has the wrong length.
    pub fn add_layer_norm_rows(x: &mut [f32], residual: &[f32], h: usize, weight: &[f32], bias: &[f32], eps: f32) {
        assert!(h > 0 && x.len().is_multiple_of(h), "layer_norm: {} values do not split into rows of {h}", x.len());
        assert!(residual.is_empty() || residual.len() == x.len(), "layer_norm: residual size");
        assert!((weight.is_empty() || weight.len() == h) && (bias.is_empty() || bias.len() == h), "layer_norm: weight/bias size");
        let inv_h = 1.0 / h as f32;
        for (ri, row) in x.chunks_exact_mut(h).enumerate() {
            // Pass 1: add the residual, sum.
            let mut acc = [0.0f32; LANES];
            if residual.is_empty() {
                let mut xc = row.chunks_exact(LANES);
                for c in &mut xc {
                    for i in 0..LANES {
                        acc[i] += c[i];
                    }
                }
                for (i, v) in xc.remainder().iter().enumerate() {
                    acc[i] += *v;
                }
            } else {
                let res = &residual[ri * h..(ri + 1) * h];
                let mut rc = res.chunks_exact(LANES);
                let mut xc = row.chunks_exact_mut(LANES);
                for (c, r) in (&mut xc).zip(&mut rc) {
                    for i in 0..LANES {
                        c[i] += r[i];
                        acc[i] += c[i];
                    }
                }
                for (i, (v, r)) in xc.into_remainder().iter_mut().zip(rc.remainder()).enumerate() {
                    *v += r;
                    acc[i] += *v;
                }
            }
            let mean0 = reduce_sum(acc) * inv_h;
            // Pass 2: deviations from the (rounded) mean, their sum and sum of squares.
            let (mut s1, mut s2) = ([0.0f32; LANES], [0.0f32; LANES]);
            let mut xc = row.chunks_exact(LANES);
            for c in &mut xc {
                for i in 0..LANES {
                    let d = c[i] - mean0;
                    s1[i] += d;
                    s2[i] += d * d;
                }
            }
            for (i, v) in xc.remainder().iter().enumerate() {
                let d = v - mean0;
                s1[i] += d;
                s2[i] += d * d;
            }
            let corr = reduce_sum(s1) * inv_h;
            let var = (reduce_sum(s2) * inv_h - corr * corr).max(0.0);
            let rstd = 1.0 / (var + eps).sqrt();
            // Pass 3: normalize, scale, shift. `(x - mean0) - corr` rather than `x - (mean0 +
            // corr)`: x - mean0 is exact for x near the mean, and the rounding of a large mean
            // (3e-5 at 1000) never enters.
            let d = |v: f32| (v - mean0) - corr;
            match (weight.is_empty(), bias.is_empty()) {
                (false, false) => row.iter_mut().zip(weight).zip(bias).for_each(|((v, &w), &b)| *v = d(*v) * rstd * w + b),
                (false, true) => row.iter_mut().zip(weight).for_each(|(v, &w)| *v = d(*v) * rstd * w),
                (true, false) => row.iter_mut().zip(bias).for_each(|(v, &b)| *v = d(*v) * rstd + b),
                (true, true) => row.iter_mut().for_each(|v| *v = d(*v) * rstd),
            }
        }
    }
}

/// Reference for [`layer_norm`]: row by row with `get`, in f64.
pub fn layer_norm_ref(x: &Tensor, weight: Option<&Tensor>, bias: Option<&Tensor>, eps: f32) -> Result<Tensor> {
    let h = check("layer_norm", x, weight, bias)?;
    let rows = x.numel().checked_div(h).unwrap_or(0);
    let lead = &x.shape()[..x.ndim() - 1];
    let mut out = Vec::with_capacity(x.numel());
    for r in 0..rows {
        let mut index = super::elementwise::unravel(r, lead);
        index.push(0);
        let mut v = Vec::with_capacity(h);
        for j in 0..h {
            index[lead.len()] = j;
            v.push(x.get(&index)? as f64);
        }
        let mean = v.iter().sum::<f64>() / h as f64;
        let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / h as f64;
        for (j, x) in v.iter().enumerate() {
            let mut y = (x - mean) / (var + eps as f64).sqrt();
            if let Some(w) = weight {
                y *= w.get(&[j])? as f64;
            }
            if let Some(b) = bias {
                y += b.get(&[j])? as f64;
            }
            out.push(y as f32);
        }
    }
    Tensor::from_vec(out, x.shape())
}

/// Checks shapes and returns H, the size of the last dimension.
fn check(op: &'static str, x: &Tensor, weight: Option<&Tensor>, bias: Option<&Tensor>) -> Result<usize> {
    let Some(&h) = x.shape().last() else {
        return Err(Error::invalid(op, "expects a tensor with at least one dimension, got a 0-d tensor"));
    };
    for (name, t) in [("weight", weight), ("bias", bias)] {
        if let Some(t) = t
            && t.shape() != [h]
        {
            return Err(Error::ShapeMismatch {
                op,
                lhs: x.shape().to_vec(),
                rhs: t.shape().to_vec(),
                detail: format!(": {name} must have shape [{h}], the size of the input's last dimension"),
            });
        }
    }
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fused_add_layer_norm_matches_the_f64_reference_on_every_isa() {
        let h = 77; // not a multiple of the lanes
        let x: Vec<f32> = Tensor::randn(&[5, h], 1).to_vec();
        // Rows far from 0 (the case the corrected two-pass formula is for), and small ones.
        let x: Vec<f32> = x.iter().enumerate().map(|(i, v)| v * 3.0 + [0.0, 1000.0, -40.0, 1e-3, 7.0][i / h]).collect();
        let r: Vec<f32> = Tensor::randn(&[5, h], 2).to_vec();
        let (w, b) = (Tensor::randn(&[h], 3).to_vec(), Tensor::randn(&[h], 4).to_vec());
        for isa in Isa::supported() {
            for (res, wt, bs) in [(&r[..], &w[..], &b[..]), (&[][..], &w[..], &[][..]), (&r[..], &[][..], &b[..])] {
                let mut got = x.clone();
                add_layer_norm_rows(isa, &mut got, res, h, wt, bs, 1e-12);
                let mut want = x.clone();
                for (i, row) in want.chunks_exact_mut(h).enumerate() {
                    let rr = if res.is_empty() { &[][..] } else { &res[i * h..(i + 1) * h] };
                    add_layer_norm_row_ref(row, rr, wt, bs, 1e-12);
                }
                let d = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
                assert!(d < 2e-5, "{isa:?}: {d}");
            }
        }
        // NaN in a row makes that row NaN, not its neighbours.
        let mut y = x.clone();
        y[h + 3] = f32::NAN;
        add_layer_norm_rows(Isa::best(), &mut y, &[], h, &w, &b, 1e-12);
        assert!(y[h..2 * h].iter().all(|v| v.is_nan()) && y[..h].iter().all(|v| v.is_finite()));
    }
}
