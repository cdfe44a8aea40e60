//! # Rung 0: the definition, three nested loops (i-j-k)
//!
//! `C[i][j] = Σ_p A[i][p] · B[p][j]`, written exactly as the formula reads: for every output
//! element, walk a row of A and a column of B. Obviously correct, which is why it is the
//! reference every other rung is tested against, and slow for two reasons:
//!
//! - the inner loop walks a *column* of B (row-major): consecutive p are `ldb` floats apart,
//!   so every step touches a new cache line, and a 768 x 3072 B (9 MB) does not fit in any
//!   cache: each element of C re-reads its column from memory;
//! - one accumulator makes every addition wait for the previous one (about 4 cycles), and
//!   the compiler may not reorder float additions to vectorize the sum.
//!
//! Measured on BERT's shapes it reaches 0.3 to 3.3 GFLOP/s, at most 2% of the machine's peak
//! (docs/matmul.md has the numbers and the command that produced them).

use super::view::{MatMut, MatRef, check_gemm};
use crate::Result;

/// C = A·B, C overwritten, by the definition. Views as in [`super::sgemm`].
///
/// Errors (naming the matrix and its shape) if a slice is too short or the shapes differ.
pub fn sgemm_naive(a: MatRef, b: MatRef, c: MatMut) -> Result<()> {
    check_gemm("sgemm_naive", &a, &b, &c)?;
    gemm(a, b, c);
    Ok(())
}

/// [`sgemm_naive`] on checked views.
pub(crate) fn gemm(a: MatRef, b: MatRef, c: MatMut) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    for i in 0..m {
        for j in 0..n {
            let mut acc = 0.0f32;
            for p in 0..k {
                acc += a.at(i, p) * b.at(p, j);
            }
            c.data[i * c.ld + j] = acc;
        }
    }
}
