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
//! compared to the spread, and we work in f64 until the normalized value (about 2x the cost
//! of f32, negligible next to the matmuls, and accurate even for rows far from 0).

use rayon::prelude::*;

use super::PARALLEL_THRESHOLD;
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
    let row = |r: &mut [f32]| {
        // Sums in f64: a row of 384 values near 1000 would lose digits in an f32 sum.
        let mean = r.iter().map(|&v| v as f64).sum::<f64>() / h as f64;
        let var = r.iter().map(|&v| (v as f64 - mean) * (v as f64 - mean)).sum::<f64>() / h as f64;
        let rstd = 1.0 / (var + eps as f64).sqrt();
        // `v - mean` in f64 too: in f32 the rounding of a mean near 1000 alone is ~3e-5.
        r.iter_mut().for_each(|v| *v = ((*v as f64 - mean) * rstd) as f32);
        if let Some(w) = weight {
            r.iter_mut().zip(w).for_each(|(v, &w)| *v *= w);
        }
        if let Some(b) = bias {
            r.iter_mut().zip(b).for_each(|(v, &b)| *v += b);
        }
    };
    if data.len() >= PARALLEL_THRESHOLD {
        let chunk = (PARALLEL_THRESHOLD / 4).div_ceil(h) * h;
        data.par_chunks_mut(chunk).for_each(|c| c.chunks_exact_mut(h).for_each(row));
    } else {
        data.chunks_exact_mut(h).for_each(row);
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
