//! # Reductions: sum, mean and max along one dimension
//!
//! What this file teaches: a reduction collapses one dimension. For a contiguous tensor,
//! reducing dimension `d` of shape `[A, N, B]` (everything before `d` merged into `A`,
//! everything after into `B`) means: for each of the `A * B` outputs, combine the `N`
//! values that are `B` elements apart. When `B == 1` (the last dimension) those values are
//! one contiguous row; otherwise we add whole rows of length `B` together, which reads
//! memory in order and lets the compiler use SIMD.
//!
//! `keepdim = true` leaves the reduced dimension in place with size 1, so the result still
//! broadcasts against the input (`x - mean(x, -1, true)` centers every row).
//!
//! Empty dimensions follow PyTorch: the sum of nothing is 0, the mean of nothing is NaN
//! (0 / 0), and the max of nothing is an error.

use crate::tensor::{Tensor, numel};
use crate::{Error, Result};

/// Sum along `dim` (negative counts from the end). `[.., N, ..] -> [.., ..]` (or
/// `[.., 1, ..]` with `keepdim`).
pub fn sum(x: &Tensor, dim: isize, keepdim: bool) -> Result<Tensor> {
    reduce("sum", x, dim, keepdim, Kind::Sum)
}

/// Mean along `dim`: the sum divided by the size of `dim`.
pub fn mean(x: &Tensor, dim: isize, keepdim: bool) -> Result<Tensor> {
    reduce("mean", x, dim, keepdim, Kind::Mean)
}

/// Maximum along `dim` (NaN wins, like PyTorch). Reducing an empty dimension is an error.
pub fn max(x: &Tensor, dim: isize, keepdim: bool) -> Result<Tensor> {
    reduce("max", x, dim, keepdim, Kind::Max)
}

/// Reference for [`sum`]: one `get` per element, accumulated in f64.
pub fn sum_ref(x: &Tensor, dim: isize, keepdim: bool) -> Result<Tensor> {
    reduce_ref("sum", x, dim, keepdim, Kind::Sum)
}

/// Reference for [`mean`].
pub fn mean_ref(x: &Tensor, dim: isize, keepdim: bool) -> Result<Tensor> {
    reduce_ref("mean", x, dim, keepdim, Kind::Mean)
}

/// Reference for [`max`].
pub fn max_ref(x: &Tensor, dim: isize, keepdim: bool) -> Result<Tensor> {
    reduce_ref("max", x, dim, keepdim, Kind::Max)
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Sum,
    Mean,
    Max,
}

/// The larger of two values, NaN if either is NaN (`f32::max` would drop the NaN).
pub(crate) fn max_nan(a: f32, b: f32) -> f32 {
    if b > a || b.is_nan() { b } else { a } // once a is NaN, `b > a` is false: NaN stays
}

/// Checks `dim` and returns `(d, output shape)`. A 0-d tensor accepts dim 0 or -1, like
/// PyTorch, and reduces to itself (d = None).
fn plan(op: &'static str, x: &Tensor, dim: isize, keepdim: bool, kind: Kind) -> Result<(Option<usize>, Vec<usize>)> {
    if x.ndim() == 0 {
        if dim != 0 && dim != -1 {
            return Err(Error::invalid(op, format!("dimension {dim} is out of range for a 0-d tensor")));
        }
        return Ok((None, vec![]));
    }
    let d = x.normalize_dim(op, dim)?;
    if kind == Kind::Max && x.shape()[d] == 0 {
        return Err(Error::invalid(
            op,
            format!("cannot take the max over dimension {d} of size 0 (shape {:?})", x.shape()),
        ));
    }
    let mut shape = x.shape().to_vec();
    if keepdim {
        shape[d] = 1;
    } else {
        shape.remove(d);
    }
    Ok((Some(d), shape))
}

/// Sum of a contiguous run, with 8 independent accumulators (faster, and more accurate
/// than one long chain of additions).
fn sum_slice(row: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let chunks = row.chunks_exact(8);
    let tail: f32 = chunks.remainder().iter().sum();
    for c in chunks {
        for (a, &v) in acc.iter_mut().zip(c) {
            *a += v;
        }
    }
    acc.iter().sum::<f32>() + tail
}

fn reduce(op: &'static str, x: &Tensor, dim: isize, keepdim: bool, kind: Kind) -> Result<Tensor> {
    let (d, shape) = plan(op, x, dim, keepdim, kind)?;
    let Some(d) = d else {
        return Ok(x.contiguous());
    };
    let x = x.contiguous();
    let data = x.as_slice().unwrap_or(&[]);
    let outer: usize = x.shape()[..d].iter().product();
    let n = x.shape()[d];
    let inner: usize = x.shape()[d + 1..].iter().product();
    let mut out = vec![0.0f32; outer * inner];
    if out.is_empty() {
        return Tensor::from_vec(out, &shape);
    }
    if inner == 1 {
        // Reducing the last (contiguous) dimension: one slice per output.
        for (o, row) in out.iter_mut().zip(data.chunks_exact(n.max(1))) {
            *o = match kind {
                Kind::Sum | Kind::Mean => sum_slice(row),
                Kind::Max => row.iter().copied().fold(row[0], max_nan),
            };
        }
    } else {
        // Combine whole rows of length `inner`, `n` rows per output block.
        for (o, block) in out.chunks_exact_mut(inner).zip(data.chunks_exact((n * inner).max(1))) {
            if kind == Kind::Max {
                o.copy_from_slice(&block[..inner]);
            }
            for row in block.chunks_exact(inner) {
                match kind {
                    Kind::Sum | Kind::Mean => o.iter_mut().zip(row).for_each(|(a, &v)| *a += v),
                    Kind::Max => o.iter_mut().zip(row).for_each(|(a, &v)| *a = max_nan(*a, v)),
                }
            }
        }
    }
    if kind == Kind::Mean {
        let scale = 1.0 / n as f32; // inf for n == 0, and 0 * inf = NaN, the mean of nothing
        out.iter_mut().for_each(|v| *v *= scale);
    }
    Tensor::from_vec(out, &shape)
}

fn reduce_ref(op: &'static str, x: &Tensor, dim: isize, keepdim: bool, kind: Kind) -> Result<Tensor> {
    let (d, shape) = plan(op, x, dim, keepdim, kind)?;
    let Some(d) = d else {
        return Ok(x.contiguous());
    };
    let n = x.shape()[d];
    // Iterate over the output positions as indices of the input with dimension d removed.
    let mut reduced_shape = x.shape().to_vec();
    reduced_shape.remove(d);
    let mut out = Vec::with_capacity(numel(&shape));
    for pos in 0..numel(&reduced_shape) {
        let mut index = super::elementwise::unravel(pos, &reduced_shape);
        index.insert(d, 0);
        let mut sum = 0.0f64;
        let mut best = f32::NEG_INFINITY;
        for k in 0..n {
            index[d] = k;
            let v = x.get(&index)?;
            sum += v as f64;
            best = if k == 0 { v } else { max_nan(best, v) };
        }
        out.push(match kind {
            Kind::Sum => sum as f32,
            Kind::Mean => (sum / n as f64) as f32,
            Kind::Max => best,
        });
    }
    Tensor::from_vec(out, &shape)
}
