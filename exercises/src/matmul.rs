//! Exercise: the reordered GEMM rung (chapter "Matrix multiplication", rung 1).
//!
//! The naive product walks a *column* of B in its inner loop: one new cache line per step. Swap
//! the two inner loops and the innermost loop adds `A[i][p]` times a row of B to a row of C; both
//! rows are contiguous and the iterations are independent, so the compiler vectorizes it. Same
//! arithmetic, same result (up to rounding), several times faster.
//!
//! Run: `cargo test --release -p nanobert-exercises --test matmul`
#![allow(unused_variables)] // the stubs do not use their arguments yet

/// `C = A·B` for row-major `A` (`[m, k]`, `a.len() == m * k`), `B` (`[k, n]`) and `C` (`[m, n]`).
///
/// Write the loops in the order i, p, j: for each row i of C, for each p, add `a[i*k + p]` times
/// row p of B to row i of C. Whatever `c` held before is overwritten (the tests fill it with NaN
/// first: zero each row before you accumulate into it). Shapes with `m`, `k` or `n` equal to 0 must
/// work too (`k == 0` means C is all zeros).
pub fn sgemm_reordered(m: usize, k: usize, n: usize, a: &[f32], b: &[f32], c: &mut [f32]) {
    todo!("exercise: write the i-p-j loop nest")
}
