//! # Matrix multiplication (the GEMM ladder lives here)
//!
//! `sgemm` is the single entry point every matmul in nanobert goes through.

use crate::tensor::{Tensor, numel};
use crate::{Error, Result};

/// C = A·B (or A·Bᵀ when `transpose_b`), row-major, f32; C is overwritten.
///
/// - `a`: m×k, row i starts at `i * lda`;
/// - `b`: k×n (row p at `p * ldb`), or, with `transpose_b`, n×k (row j at `j * ldb`);
/// - `c`: m×n, row i at `i * ldc`.
#[allow(clippy::too_many_arguments)]
pub fn sgemm(
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    lda: usize,
    b: &[f32],
    ldb: usize,
    c: &mut [f32],
    ldc: usize,
    transpose_b: bool,
) {
    for i in 0..m {
        for j in 0..n {
            let mut acc = 0.0f32;
            for p in 0..k {
                let bv = if transpose_b { b[j * ldb + p] } else { b[p * ldb + j] };
                acc += a[i * lda + p] * bv;
            }
            c[i * ldc + j] = acc;
        }
    }
}

/// Matrix product of tensors, like `torch.matmul` for ranks >= 2:
/// `[..., m, k] x [..., k, n] -> [..., m, n]`, batch dimensions broadcast.
pub fn matmul(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    if a.ndim() < 2 || b.ndim() < 2 {
        return Err(Error::invalid(
            "matmul",
            format!("expects tensors of rank >= 2, got shapes {:?} and {:?}", a.shape(), b.shape()),
        ));
    }
    let (m, k) = (a.shape()[a.ndim() - 2], a.shape()[a.ndim() - 1]);
    let (k2, n) = (b.shape()[b.ndim() - 2], b.shape()[b.ndim() - 1]);
    if k != k2 {
        return Err(Error::ShapeMismatch {
            op: "matmul",
            lhs: a.shape().to_vec(),
            rhs: b.shape().to_vec(),
            detail: format!(": inner dimensions {k} and {k2} differ"),
        });
    }
    let batch_a = &a.shape()[..a.ndim() - 2];
    let batch_b = &b.shape()[..b.ndim() - 2];
    let batch =
        broadcast_batch(batch_a, batch_b).ok_or_else(|| Error::shape_mismatch("matmul", a.shape(), b.shape()))?;
    let mut sa = batch.clone();
    sa.extend([m, k]);
    let mut sb = batch.clone();
    sb.extend([k, n]);
    let a = a.broadcast_to(&sa)?.contiguous();
    let b = b.broadcast_to(&sb)?.contiguous();
    let (av, bv) = (a.as_slice().unwrap_or(&[]), b.as_slice().unwrap_or(&[]));
    let nb = numel(&batch);
    let mut out = vec![0.0f32; nb * m * n];
    for i in 0..nb {
        sgemm(m, k, n, &av[i * m * k..], k, &bv[i * k * n..], n, &mut out[i * m * n..], n, false);
    }
    let mut shape = batch;
    shape.extend([m, n]);
    Tensor::from_vec(out, &shape)
}

fn broadcast_batch(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let n = a.len().max(b.len());
    let mut out = vec![0; n];
    for i in 0..n {
        let x = if i + a.len() >= n { a[i + a.len() - n] } else { 1 };
        let y = if i + b.len() >= n { b[i + b.len() - n] } else { 1 };
        out[i] = if x == y || y == 1 {
            x
        } else if x == 1 {
            y
        } else {
            return None;
        };
    }
    Some(out)
}
