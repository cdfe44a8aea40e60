//! # Rung 1: reorder the loops so the innermost one walks memory in order (i-k-j)
//!
//! Same arithmetic as rung 0, a different loop order. For `A·B`, swapping the two inner
//! loops turns "dot product of a row and a column" into "add `A[i][p]` times row p of B to
//! row i of C":
//!
//! ```text
//! for i: for p: for j:  C[i][j] += A[i][p] * B[p][j]     // B and C read along rows
//! ```
//!
//! The innermost loop now reads B and C contiguously and its iterations are independent,
//! so the compiler vectorizes it (4 floats at a time with SSE2, the default x86-64 target).
//! For `A·Bᵀ` the stored B already has the k index contiguous, so the natural order is
//! i-j-k as in rung 0, but the dot product is split over 8 independent partial sums (lanes)
//! that the compiler can vectorize; the naive rung's single accumulator cannot be.
//!
//! Gained: 15 to 24 GFLOP/s on BERT's shapes, 8 to 35 times naive (Zen 4, docs/matmul.md).
//!
//! What it does not fix: each row of C still streams all of B from memory (9 MB for a
//! 768 x 3072 weight), and each FMA still needs a load and (for A·B) a store of C.
//! That memory traffic is what blocking (rung 2) removes.

use super::view::{MatMut, MatRef, check_gemm};
use crate::Result;

/// C = A·B, C overwritten, i-k-j order. Views as in [`super::sgemm`].
///
/// Errors (naming the matrix and its shape) if a slice is too short or the shapes differ.
pub fn sgemm_reordered(a: MatRef, b: MatRef, c: MatMut) -> Result<()> {
    check_gemm("sgemm_reordered", &a, &b, &c)?;
    gemm(a, b, c);
    Ok(())
}

/// [`sgemm_reordered`] on checked views.
pub(crate) fn gemm(a: MatRef, b: MatRef, c: MatMut) {
    let (k, n) = (a.cols, b.cols);
    let mut a_row = vec![0.0f32; k];
    for (i, c_row) in c.into_rows().into_iter().enumerate() {
        if k == 0 {
            // No products to add: C = 0 (and A, B may be empty slices).
            c_row.fill(0.0);
            continue;
        }
        // Row i of A (gathered once if A is stored transposed).
        let a_row: &[f32] = if a.trans {
            a_row.iter_mut().enumerate().for_each(|(p, x)| *x = a.at(i, p));
            &a_row
        } else {
            &a.data[i * a.ld..][..k]
        };
        if b.trans {
            for (j, c_ij) in c_row.iter_mut().enumerate() {
                *c_ij = dot(a_row, &b.data[j * b.ld..][..k]);
            }
        } else {
            c_row.fill(0.0);
            for (p, &a_ip) in a_row.iter().enumerate() {
                let b_row = &b.data[p * b.ld..][..n];
                for (c_ij, &b_pj) in c_row.iter_mut().zip(b_row) {
                    *c_ij += a_ip * b_pj;
                }
            }
        }
    }
}

/// Dot product with 8 independent partial sums, so the loop can use vector registers.
fn dot(x: &[f32], y: &[f32]) -> f32 {
    const LANES: usize = 8;
    let mut acc = [0.0f32; LANES];
    let (xc, yc) = (x.chunks_exact(LANES), y.chunks_exact(LANES));
    let tail: f32 = xc.remainder().iter().zip(yc.remainder()).map(|(a, b)| a * b).sum();
    for (xs, ys) in xc.zip(yc) {
        for l in 0..LANES {
            acc[l] += xs[l] * ys[l];
        }
    }
    acc.iter().sum::<f32>() + tail
}
