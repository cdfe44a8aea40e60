//! # Elementwise ops and broadcasting
//!
//! What this file teaches: `add`, `sub`, `mul` and `div` combine two tensors entry by entry,
//! and *broadcasting* says what "entry by entry" means when the shapes differ. The rule is
//! NumPy's (and PyTorch's):
//!
//! 1. line the two shapes up on the right (`[4, 3]` against `[3]` compares 4:– and 3:3);
//! 2. a missing dimension counts as size 1;
//! 3. along each dimension the sizes must be equal, or one of them must be 1, which is
//!    then repeated to match the other.
//!
//! So `[N, H] + [H]` adds the same bias row to all N rows, and `[B, 1, 1, S] + [B, H, S, S]`
//! adds one mask row to every head and query. Repeating costs nothing: a broadcast view has
//! stride 0 along the repeated dimension, so it reads the same value again and again
//! (see `Tensor::broadcast_to`).
//!
//! The fast paths below handle the layouts a transformer actually produces: two contiguous
//! tensors of the same shape, and a contiguous tensor against a contiguous "row" (a tensor
//! whose shape is a suffix of the other's, like the bias). Everything else goes through a
//! general path that materializes both broadcast views. The `*_ref` functions are the slow
//! obvious definition: for every output index, find the input indices and combine.

use rayon::prelude::*;

use super::{PARALLEL_THRESHOLD, map_in_place};
use crate::tensor::{Tensor, numel};
use crate::{Error, Result};

/// The shape two tensors broadcast to, or an error naming `op` and both shapes.
///
/// `[2, 1, 4]` and `[3, 1]` give `[2, 3, 4]`; `[2, 3]` and `[4]` are an error.
pub fn broadcast_shape(op: &'static str, a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    let n = a.len().max(b.len());
    let mut out = vec![0; n];
    for (d, slot) in out.iter_mut().enumerate() {
        // Sizes aligned on the right; a missing dimension is 1.
        let x = if d + a.len() >= n { a[d + a.len() - n] } else { 1 };
        let y = if d + b.len() >= n { b[d + b.len() - n] } else { 1 };
        *slot = match (x, y) {
            _ if x == y => x,
            (1, _) => y,
            (_, 1) => x,
            _ => {
                return Err(Error::ShapeMismatch {
                    op,
                    lhs: a.to_vec(),
                    rhs: b.to_vec(),
                    detail: format!(
                        ": cannot broadcast, dimension {d} of the result would need {x} and {y} to be equal or 1"
                    ),
                });
            }
        };
    }
    Ok(out)
}

/// `a + b` with broadcasting. Shapes: `a` and `b` broadcast to the output shape.
pub fn add(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    binary("add", a, b, |x, y| x + y)
}

/// `a - b` with broadcasting.
pub fn sub(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    binary("sub", a, b, |x, y| x - y)
}

/// `a * b` (entry by entry, not the matrix product) with broadcasting.
pub fn mul(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    binary("mul", a, b, |x, y| x * y)
}

/// `a / b` with broadcasting (IEEE: `x / 0` is `±inf`, `0 / 0` is NaN).
pub fn div(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    binary("div", a, b, |x, y| x / y)
}

/// `a + s` for every entry.
pub fn add_scalar(a: &Tensor, s: f32) -> Tensor {
    map(a, |x| x + s)
}

/// `a * s` for every entry.
pub fn mul_scalar(a: &Tensor, s: f32) -> Tensor {
    map(a, |x| x * s)
}

/// `f` applied to every entry; the result is contiguous with `a`'s shape.
pub fn map(a: &Tensor, f: impl Fn(f32) -> f32 + Sync) -> Tensor {
    let mut data = a.to_vec();
    map_in_place(&mut data, f);
    Tensor::from_vec(data, a.shape()).expect("to_vec returns numel values")
}

/// Reference for [`add`]: index by index.
pub fn add_ref(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    binary_ref("add", a, b, |x, y| x + y)
}

/// Reference for [`sub`]: index by index.
pub fn sub_ref(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    binary_ref("sub", a, b, |x, y| x - y)
}

/// Reference for [`mul`]: index by index.
pub fn mul_ref(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    binary_ref("mul", a, b, |x, y| x * y)
}

/// Reference for [`div`]: index by index.
pub fn div_ref(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    binary_ref("div", a, b, |x, y| x / y)
}

/// The shape of `row` without its leading 1s, if it is a suffix of `full` (so `row`'s
/// elements repeat every `numel(row)` elements of `full`): `[1, H]` against `[N, H]`.
fn is_row_of(row: &[usize], full: &[usize]) -> bool {
    let lead = row.iter().take_while(|&&n| n == 1).count();
    let row = &row[lead..];
    row.len() <= full.len() && full.ends_with(row)
}

/// `out[i] = f(a[i], b[i % b.len()])` (or with the roles swapped when `row_is_lhs`), over
/// contiguous slices, in parallel when large. `b.len()` divides `a.len()`.
fn zip_rows(full: &[f32], row: &[f32], row_is_lhs: bool, f: impl Fn(f32, f32) -> f32 + Sync) -> Vec<f32> {
    let mut out = vec![0.0f32; full.len()];
    let w = row.len();
    let rows = |out: &mut [f32], full: &[f32]| {
        for (o_row, f_row) in out.chunks_exact_mut(w).zip(full.chunks_exact(w)) {
            if row_is_lhs {
                o_row.iter_mut().zip(f_row).zip(row).for_each(|((o, &y), &x)| *o = f(x, y));
            } else {
                o_row.iter_mut().zip(f_row).zip(row).for_each(|((o, &x), &y)| *o = f(x, y));
            }
        }
    };
    if full.len() >= PARALLEL_THRESHOLD {
        // Whole rows per task, about PARALLEL_THRESHOLD / 4 elements each.
        let chunk = (PARALLEL_THRESHOLD / 4).div_ceil(w) * w;
        out.par_chunks_mut(chunk).zip(full.par_chunks(chunk)).for_each(|(o, x)| rows(o, x));
    } else {
        rows(&mut out, full);
    }
    out
}

fn binary(op: &'static str, a: &Tensor, b: &Tensor, f: impl Fn(f32, f32) -> f32 + Sync + Copy) -> Result<Tensor> {
    let shape = broadcast_shape(op, a.shape(), b.shape())?;
    let _o = crate::profile::op(op, 0, 4 * (a.numel() + b.numel() + numel(&shape)) as u64);
    if numel(&shape) == 0 {
        return Ok(Tensor::zeros(&shape));
    }
    let data = match (a.as_slice(), b.as_slice()) {
        // Same shape, both contiguous: one zip over two slices.
        (Some(x), Some(y)) if a.shape() == b.shape() => {
            let mut out = vec![0.0f32; x.len()];
            if out.len() >= PARALLEL_THRESHOLD {
                let c = PARALLEL_THRESHOLD / 4;
                out.par_chunks_mut(c).zip(x.par_chunks(c)).zip(y.par_chunks(c)).for_each(|((o, x), y)| {
                    o.iter_mut().zip(x).zip(y).for_each(|((o, &x), &y)| *o = f(x, y));
                });
            } else {
                out.iter_mut().zip(x).zip(y).for_each(|((o, &x), &y)| *o = f(x, y));
            }
            out
        }
        // A full tensor and a broadcast row (the bias case, `[N, H] + [H]`), either side.
        (Some(x), Some(y)) if a.shape() == shape.as_slice() && is_row_of(b.shape(), &shape) => zip_rows(x, y, false, f),
        (Some(x), Some(y)) if b.shape() == shape.as_slice() && is_row_of(a.shape(), &shape) => zip_rows(y, x, true, f),
        // Anything else: materialize both broadcast views in row-major order.
        _ => {
            let mut x = a.broadcast_to(&shape)?.to_vec();
            let y = b.broadcast_to(&shape)?.to_vec();
            x.iter_mut().zip(&y).for_each(|(x, &y)| *x = f(*x, y));
            x
        }
    };
    Tensor::from_vec(data, &shape)
}

/// The input index that output index `out_index` reads under broadcasting: aligned on
/// the right, and 0 along dimensions of size 1.
fn source_index(out_index: &[usize], shape: &[usize]) -> Vec<usize> {
    let lead = out_index.len() - shape.len();
    shape.iter().zip(&out_index[lead..]).map(|(&n, &i)| if n == 1 { 0 } else { i }).collect()
}

/// Row-major multi-index of linear position `pos` in `shape`.
pub(crate) fn unravel(mut pos: usize, shape: &[usize]) -> Vec<usize> {
    let mut index = vec![0; shape.len()];
    for d in (0..shape.len()).rev() {
        index[d] = pos % shape[d];
        pos /= shape[d];
    }
    index
}

fn binary_ref(op: &'static str, a: &Tensor, b: &Tensor, f: impl Fn(f32, f32) -> f32) -> Result<Tensor> {
    let shape = broadcast_shape(op, a.shape(), b.shape())?;
    let mut out = Vec::with_capacity(numel(&shape));
    for pos in 0..numel(&shape) {
        let index = unravel(pos, &shape);
        let x = a.get(&source_index(&index, a.shape()))?;
        let y = b.get(&source_index(&index, b.shape()))?;
        out.push(f(x, y));
    }
    Tensor::from_vec(out, &shape)
}
