//! # Softmax: scores to probabilities
//!
//! What this file teaches: `softmax(x)_i = exp(x_i) / sum_j exp(x_j)` turns a row of
//! arbitrary scores into positive numbers that sum to 1. Attention uses it to decide how
//! much each token looks at every other token.
//!
//! Two details make it work in floating point:
//!
//! - **Subtract the row maximum first.** `exp(1000)` overflows to infinity, but softmax does
//!   not change when the same constant is subtracted from every entry (it cancels between
//!   numerator and denominator). After subtracting the max, every exponent is <= 0, so every
//!   `exp` is in (0, 1] and the largest is exactly 1: no overflow, and the sum is >= 1.
//! - **Masks are additive.** To stop a query attending to padding, add `-inf` (or a very
//!   negative number) to those scores before the softmax: `exp(-inf) = 0`. The mask is
//!   broadcast, so one `[B, 1, 1, S]` row of padding flags serves every head and query of
//!   `[B, H, S, S]` scores. A row that is masked *everywhere* has max `-inf`; we define its
//!   output as all zeros (as PyTorch's `scaled_dot_product_attention` does; plain
//!   `torch.softmax` would give NaN, which then poisons everything downstream).
//! - **NaN is never laundered.** A NaN anywhere in a row makes the whole row NaN, exactly like
//!   `torch.softmax`, so a broken weight shows up as a NaN output instead of a plausible
//!   embedding. The row maximum must therefore propagate NaN: `f32::max` skips it, and an
//!   all-NaN row would then look "fully masked" and come out as zeros. `+inf` in a row gives
//!   NaN too (`inf - inf`), again like PyTorch.
//!
//! Softmax is always taken along the last dimension here, where rows are contiguous.

use rayon::prelude::*;

use super::PARALLEL_THRESHOLD;
use super::simd::{Isa, LANES, exp_fast, multiversion, reduce_sum};
use crate::tensor::{Tensor, numel};
use crate::{Error, Result};

/// Softmax along the last dimension, after adding the broadcast `mask` (if any).
///
/// Shapes: `x [.., S]`, `mask` broadcastable to `x` (e.g. `[B, 1, 1, S]` for `[B, H, S, S]`),
/// output like `x`. Fully masked rows (all `-inf`) give zeros; a row holding a NaN (or
/// `+inf`) gives NaN everywhere, like `torch.softmax`.
pub fn softmax(x: &Tensor, mask: Option<&Tensor>) -> Result<Tensor> {
    let _o = crate::profile::op("softmax", 0, 8 * x.numel() as u64);
    let mut data = x.to_vec();
    if let Some(mask) = mask {
        let m = broadcast_mask(x, mask)?;
        let values = m.storage().as_slice();
        // `for_each_offset` visits the broadcast mask in row-major order, the order of `data`.
        let mut i = 0;
        m.for_each_offset(|o| {
            data[i] += values[o];
            i += 1;
        });
    }
    let row_len = x.shape().last().copied().unwrap_or(1);
    if row_len > 0 {
        softmax_rows_in_place(&mut data, row_len);
    }
    Tensor::from_vec(data, x.shape())
}

/// Softmax of every `row_len`-long row of a contiguous buffer, in place (the form attention
/// code calls on its score buffer). Rows whose entries are all `-inf` become zeros; rows
/// holding a NaN become all NaN (see the module docs).
///
/// # Panics
/// If `row_len` is 0 or does not divide `data.len()` (a caller bug, not user input).
pub fn softmax_rows_in_place(data: &mut [f32], row_len: usize) {
    let _o = crate::profile::op("softmax", 0, 8 * data.len() as u64);
    assert!(
        row_len > 0 && data.len().is_multiple_of(row_len),
        "softmax_rows_in_place: {} values do not split into rows of {row_len}",
        data.len()
    );
    if data.len() >= PARALLEL_THRESHOLD {
        let chunk = (PARALLEL_THRESHOLD / 4).div_ceil(row_len) * row_len;
        data.par_chunks_mut(chunk).for_each(|c| c.chunks_exact_mut(row_len).for_each(softmax_row));
    } else {
        data.chunks_exact_mut(row_len).for_each(softmax_row);
    }
}

/// One row: subtract the max, exponentiate, divide by the sum (the vectorized kernel
/// [`softmax_rows_fused`] with scale 1 and no mask); a fully masked row becomes zeros.
fn softmax_row(row: &mut [f32]) {
    if row.iter().all(|&v| v == f32::NEG_INFINITY) {
        row.fill(0.0); // fully masked
        return;
    }
    softmax_rows_fused(Isa::best(), row, row.len(), 1.0, &[]);
}

/// The scalar reference for one row of [`softmax_rows_fused`]: `softmax(row * scale + mask)`
/// with std's `exp`, three plain loops. A row that is `-inf` everywhere gives NaN, as in
/// PyTorch; with BERT's additive mask (the most negative finite f32) a fully masked row
/// comes out uniform, as in PyTorch.
pub fn softmax_scaled_masked_row_ref(row: &mut [f32], scale: f32, mask: &[f32]) {
    for (j, v) in row.iter_mut().enumerate() {
        *v = *v * scale + mask.get(j).copied().unwrap_or(0.0);
    }
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0f32;
    for v in row.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    row.iter_mut().for_each(|v| *v /= sum);
}

multiversion! {
    /// Scale, mask and softmax fused: every `row_len`-long row of `scores` becomes
    /// `softmax(row * scale + mask)`, reading the scores once to scale, mask and find the
    /// maximum, once to exponentiate and sum, once to normalize (the unfused path runs a
    /// pass for the scale and one for the mask first). `mask` is `row_len` long (one mask
    /// row for every score row, as in attention: the key padding of one sequence) or empty.
    ///
    /// NaN anywhere in a row makes the row NaN; a row that is `-inf` everywhere is NaN
    /// (PyTorch's answer); BERT's finite mask leaves a fully masked row uniform (as PyTorch).
    /// Compiled for every [`Isa`]; the copies agree bit for bit.
    pub fn softmax_rows_fused(scores: &mut [f32], row_len: usize, scale: f32, mask: &[f32]) {
        if row_len == 0 {
            return;
        }
        let zeros = [0.0f32; LANES];
        for row in scores.chunks_exact_mut(row_len) {
            // Pass 1: scale, mask, running max per lane.
            let mut mx = [f32::NEG_INFINITY; LANES];
            let mut chunks = row.chunks_exact_mut(LANES);
            let mut j = 0;
            for c in &mut chunks {
                let m = if mask.is_empty() { &zeros } else { &mask[j..j + LANES] };
                for i in 0..LANES {
                    let v = c[i] * scale + m[i];
                    c[i] = v;
                    mx[i] = if v > mx[i] { v } else { mx[i] };
                }
                j += LANES;
            }
            for (i, v) in chunks.into_remainder().iter_mut().enumerate() {
                *v = *v * scale + if mask.is_empty() { 0.0 } else { mask[j + i] };
                mx[i] = if *v > mx[i] { *v } else { mx[i] };
            }
            let max = mx.iter().fold(f32::NEG_INFINITY, |a, &b| if b > a { b } else { a });
            // Pass 2: exponentiate and sum (NaN, or -inf - -inf, turns the sum NaN).
            let mut sum = [0.0f32; LANES];
            let mut chunks = row.chunks_exact_mut(LANES);
            for c in &mut chunks {
                for i in 0..LANES {
                    let e = exp_fast(c[i] - max);
                    c[i] = e;
                    sum[i] += e;
                }
            }
            for (i, v) in chunks.into_remainder().iter_mut().enumerate() {
                *v = exp_fast(*v - max);
                sum[i] += *v;
            }
            // Pass 3: normalize.
            let inv = 1.0 / reduce_sum(sum);
            row.iter_mut().for_each(|v| *v *= inv);
        }
    }
}

multiversion! {
    /// One key block of the online softmax (flash attention): `scores` holds `rows` rows of
    /// `kb` raw scores of one block of keys. Each row is scaled and masked (`mask`: `kb`
    /// values), then, with `m[r]` the running max and `l[r]` the running sum of `exp(score -
    /// m[r])` over the blocks before: `m_new = max(m[r], block max)`, `alpha[r] = exp(m[r] -
    /// m_new)`, the row becomes `p = exp(score - m_new)`, `l[r] = l[r] alpha[r] + Σp`,
    /// `m[r] = m_new`. The caller rescales its partial context by `alpha` and adds `p·V`;
    /// after the last block, dividing by `l` gives exactly softmax·V.
    ///
    /// Start with `m = -inf`, `l = 0`. NaN propagates to `l`; a row that is `-inf` in every
    /// block keeps `l = 0`, so the caller's division gives NaN (PyTorch's answer).
    #[allow(clippy::too_many_arguments)]
    pub fn online_softmax_block(scores: &mut [f32], kb: usize, scale: f32, mask: &[f32], m: &mut [f32], l: &mut [f32], alpha: &mut [f32]) {
        if kb == 0 {
            return;
        }
        for (r, row) in scores.chunks_exact_mut(kb).enumerate() {
            let mut mx = [f32::NEG_INFINITY; LANES];
            let mut chunks = row.chunks_exact_mut(LANES);
            let mut j = 0;
            for c in &mut chunks {
                let mk = &mask[j..j + LANES];
                for i in 0..LANES {
                    let v = c[i] * scale + mk[i];
                    c[i] = v;
                    mx[i] = if v > mx[i] { v } else { mx[i] };
                }
                j += LANES;
            }
            for (i, v) in chunks.into_remainder().iter_mut().enumerate() {
                *v = *v * scale + mask[j + i];
                mx[i] = if *v > mx[i] { *v } else { mx[i] };
            }
            let bmax = mx.iter().fold(f32::NEG_INFINITY, |a, &b| if b > a { b } else { a });
            let m_new = if bmax > m[r] { bmax } else { m[r] };
            if m_new == f32::NEG_INFINITY {
                // Every key so far is -inf: nothing to add yet (l stays 0; if no later block
                // brings a finite score, the caller's acc / l is 0 / 0 = NaN, as in PyTorch).
                row.fill(0.0);
                alpha[r] = 1.0;
                continue;
            }
            let a = exp_fast(m[r] - m_new);
            let mut sum = [0.0f32; LANES];
            let mut chunks = row.chunks_exact_mut(LANES);
            for c in &mut chunks {
                for i in 0..LANES {
                    let e = exp_fast(c[i] - m_new);
                    c[i] = e;
                    sum[i] += e;
                }
            }
            for (i, v) in chunks.into_remainder().iter_mut().enumerate() {
                *v = exp_fast(*v - m_new);
                sum[i] += *v;
            }
            l[r] = l[r] * a + reduce_sum(sum);
            m[r] = m_new;
            alpha[r] = a;
        }
    }
}

/// The mask as a view of `x`'s shape, or an error naming both shapes.
fn broadcast_mask(x: &Tensor, mask: &Tensor) -> Result<Tensor> {
    mask.broadcast_to(x.shape()).map_err(|_| Error::ShapeMismatch {
        op: "softmax",
        lhs: x.shape().to_vec(),
        rhs: mask.shape().to_vec(),
        detail: ": the mask (right) must broadcast to the scores' shape (left)".into(),
    })
}

/// Reference for [`softmax`]: row by row with `get`, in f64.
pub fn softmax_ref(x: &Tensor, mask: Option<&Tensor>) -> Result<Tensor> {
    let mask = mask.map(|m| broadcast_mask(x, m)).transpose()?;
    let row_len = x.shape().last().copied().unwrap_or(1);
    let rows = numel(x.shape()).checked_div(row_len).unwrap_or(0);
    let row_shape = &x.shape()[..x.ndim().saturating_sub(1)];
    let mut out = Vec::with_capacity(x.numel());
    for r in 0..rows {
        let mut index = super::elementwise::unravel(r, row_shape);
        index.push(0);
        let index = &mut index[..x.ndim()]; // a 0-d tensor is one row with an empty index
        let mut scores = Vec::with_capacity(row_len);
        for j in 0..row_len {
            if let Some(last) = index.last_mut() {
                *last = j;
            }
            let m = match &mask {
                Some(m) => m.get(index)?,
                None => 0.0,
            };
            scores.push((x.get(index)? + m) as f64); // scores + mask is an f32 tensor
        }
        if scores.iter().any(|s| s.is_nan()) {
            out.extend(scores.iter().map(|_| f32::NAN)); // NaN propagates, like torch.softmax
            continue;
        }
        let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if max == f64::NEG_INFINITY {
            out.extend(scores.iter().map(|_| 0.0f32));
            continue;
        }
        let sum: f64 = scores.iter().map(|s| (s - max).exp()).sum();
        out.extend(scores.iter().map(|s| ((s - max).exp() / sum) as f32));
    }
    Tensor::from_vec(out, x.shape())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fused_softmax_matches_the_scalar_reference_on_every_isa() {
        let s = 53;
        let x: Vec<f32> = Tensor::randn(&[4, s], 9).to_vec().iter().map(|v| v * 8.0).collect();
        let mask: Vec<f32> = (0..s).map(|j| if j % 5 == 4 { f32::MIN } else { 0.0 }).collect();
        let mut want = x.clone();
        want.chunks_exact_mut(s).for_each(|r| softmax_scaled_masked_row_ref(r, 0.125, &mask));
        for isa in Isa::supported() {
            let mut got = x.clone();
            softmax_rows_fused(isa, &mut got, s, 0.125, &mask);
            let d = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
            assert!(d < 1e-6, "{isa:?}: {d}");
            // Online softmax over blocks of 16 keys, then divided by l: the same probabilities.
            let mut online = x.clone();
            let (mut m, mut l, mut alpha) = (vec![f32::NEG_INFINITY; 4], vec![0.0; 4], vec![0.0; 4]);
            let mut probs = vec![0.0f32; 4 * s];
            for k0 in (0..s).step_by(16) {
                let kb = 16.min(s - k0);
                let mut blk: Vec<f32> = online.chunks_exact(s).flat_map(|r| r[k0..k0 + kb].to_vec()).collect();
                online_softmax_block(isa, &mut blk, kb, 0.125, &mask[k0..k0 + kb], &mut m, &mut l, &mut alpha);
                for r in 0..4 {
                    probs[r * s..r * s + k0].iter_mut().for_each(|p| *p *= alpha[r]);
                    probs[r * s + k0..r * s + k0 + kb].copy_from_slice(&blk[r * kb..(r + 1) * kb]);
                }
            }
            probs.chunks_exact_mut(s).zip(&l).for_each(|(r, l)| r.iter_mut().for_each(|p| *p /= l));
            online.copy_from_slice(&probs);
            let d = online.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
            assert!(d < 1e-6, "{isa:?} online: {d}");
        }
        // NaN in a row: that row NaN; -inf everywhere: NaN (as PyTorch); BERT's mask everywhere: uniform.
        let mut y = x.clone();
        y[s + 2] = f32::NAN;
        softmax_rows_fused(Isa::best(), &mut y, s, 1.0, &[]);
        assert!(y[s..2 * s].iter().all(|v| v.is_nan()) && y[..s].iter().all(|v| v.is_finite()));
        let mut y = vec![f32::NEG_INFINITY; s];
        softmax_rows_fused(Isa::best(), &mut y, s, 1.0, &[]);
        assert!(y.iter().all(|v| v.is_nan()));
        let mut y = x[..s].to_vec();
        softmax_rows_fused(Isa::best(), &mut y, s, 1.0, &vec![f32::MIN; s]);
        assert!(y.iter().all(|&v| (v - 1.0 / s as f32).abs() < 1e-7));
    }
}
