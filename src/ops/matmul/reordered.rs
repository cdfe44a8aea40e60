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
//! Gained: 9 to 16 GFLOP/s on BERT's shapes, 4 to 30 times naive (docs/02-matmul.md).
//!
//! What it does not fix: each row of C still streams all of B from memory (9 MB for a
//! 768 x 3072 weight), and each FMA still needs a load and (for A·B) a store of C.
//! That memory traffic is what blocking (rung 2) removes.

/// C = A·B (or A·Bᵀ), C overwritten. Arguments as in [`super::sgemm`], which checks them.
#[allow(clippy::too_many_arguments)]
pub fn sgemm_reordered(
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
    if k == 0 {
        // No products to add: C = 0 (and A, B may be empty slices).
        (0..m).for_each(|i| c[i * ldc..][..n].fill(0.0));
        return;
    }
    for i in 0..m {
        let a_row = &a[i * lda..][..k];
        let c_row = &mut c[i * ldc..][..n];
        if transpose_b {
            for (j, c_ij) in c_row.iter_mut().enumerate() {
                *c_ij = dot(a_row, &b[j * ldb..][..k]);
            }
        } else {
            c_row.fill(0.0);
            for (p, &a_ip) in a_row.iter().enumerate() {
                let b_row = &b[p * ldb..][..n];
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
