//! Exercise: a GEMM with a bias + GELU epilogue (chapter "Fusion").
//!
//! Unfused, a Linear followed by GELU makes three passes over its output: the GEMM writes C, a
//! second pass adds the bias, a third applies GELU. Fused, each row of C gets its bias and GELU
//! the moment its last multiply-add is done, while the row is still in L1: one pass over memory.
//! Exact GELU is `0.5·x·(1 + erf(x/√2))` (BERT's, and PyTorch's default), not the tanh
//! approximation; [`crate::erf`] is given.
//!
//! The tests compare with PyTorch's `F.gelu(a @ b + bias)`.
//!
//! Run: `cargo test --release -p nanobert-exercises --test epilogue`
#![allow(unused_variables)] // the stubs do not use their arguments yet

pub use crate::erf;

/// `C = GELU(A·B + bias)` for row-major `A` (`[m, k]`), `B` (`[k, n]`), `C` (`[m, n]`) and a
/// bias of one value per output column (`bias.len() == n`, as a Linear's).
///
/// Compute row i of C with the loop order i, p, j (overwrite what `c` held; the tests fill it
/// with NaN), and only when the row is complete apply the epilogue to it: add `bias[j]` to
/// column j, then GELU.
pub fn gemm_bias_gelu(m: usize, k: usize, n: usize, a: &[f32], b: &[f32], bias: &[f32], c: &mut [f32]) {
    todo!("exercise: accumulate a row of C, then bias and GELU on that row while it is hot")
}
