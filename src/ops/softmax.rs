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

/// One row: subtract the max, exponentiate, divide by the sum. The max propagates NaN, so a
/// NaN row is not mistaken for a fully masked one (then `x - NaN` makes every entry NaN).
fn softmax_row(row: &mut [f32]) {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, super::reduce::max_nan);
    if max == f32::NEG_INFINITY {
        row.fill(0.0); // fully masked
        return;
    }
    let mut sum = 0.0f32;
    for v in row.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    let inv = 1.0 / sum;
    row.iter_mut().for_each(|v| *v *= inv);
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
