//! Exercise: the reordered GEMM rung (chapter "Matrix multiplication", rung 1).
//!
//! The naive product walks a *column* of B in its inner loop: one new cache line per step. Swap
//! the two inner loops and the innermost loop adds `A[i][p]` times a row of B to a row of C; both
//! rows are contiguous and the iterations are independent, so the compiler vectorizes it. Same
//! arithmetic, same result (up to rounding), several times faster.
//!
//! B is given as [`Rows`]: you read it one row at a time (`b.row(p)`), and it counts the rows
//! you fetched. The naive order i, j, p needs row p again for every multiply-add (`m·n·k`
//! fetches); the order i, p, j fetches each row once per row of C (`m·k`). The tests check the
//! count as well as C, so the naive order fails them even though its C is right.
//!
//! Run: `cargo test --release -p nanobert-exercises --test matmul`
#![allow(unused_variables)] // the stubs do not use their arguments yet

pub use crate::Rows;

/// `C = A·B` for row-major `A` (`[m, k]`, `a.len() == m * k`), `B` (`[k, n]`, `n == b.cols()`)
/// and `C` (`[m, n]`).
///
/// Write the loops in the order i, p, j: for each row i of C, for each p, add `a[i*k + p]` times
/// row p of B (`b.row(p)`, fetched once per (i, p)) to row i of C. Whatever `c` held before is
/// overwritten (the tests fill it with NaN first: zero each row before you accumulate into it).
/// Shapes with `m`, `k` or `n` equal to 0 must work too (`k == 0` means C is all zeros).
pub fn sgemm_reordered(m: usize, k: usize, n: usize, a: &[f32], b: &Rows, c: &mut [f32]) {
    todo!("exercise: write the i-p-j loop nest")
}
