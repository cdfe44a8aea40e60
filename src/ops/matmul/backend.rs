//! # Backends: ours, or the `matrixmultiply` crate for comparison
//!
//! `sgemm` normally runs nanobert's own kernels. The `matrixmultiply` crate (a well-tuned
//! pure-Rust BLIS implementation by bluss) can be switched in at run time with
//! [`set_backend`], so a benchmark, or a whole BERT forward pass, can show both side by side.
//!
//! Threads: `matrixmultiply`'s own thread pool reads `MATMUL_NUM_THREADS` once per process,
//! so it could not be switched between 1 and 2 threads inside one benchmark run. nanobert
//! builds it without that feature and splits large products by rows of C over the current
//! rayon pool instead, with the same threshold as our rung 4.

use std::sync::atomic::{AtomicU8, Ordering};

use rayon::prelude::*;

use super::parallel::PAR_MIN_MACS;

/// Which implementation `sgemm` (and so every matmul in nanobert) runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Backend {
    /// nanobert's own kernels (the best rung this CPU supports).
    Nanobert,
    /// The `matrixmultiply` crate.
    MatrixMultiply,
}

impl Backend {
    /// Short name for tables.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Nanobert => "nanobert",
            Backend::MatrixMultiply => "matrixmultiply",
        }
    }
}

static BACKEND: AtomicU8 = AtomicU8::new(0);

/// Selects the backend for all later `sgemm` calls in this process (all threads).
pub fn set_backend(backend: Backend) {
    BACKEND.store(backend as u8, Ordering::Relaxed);
}

/// The backend `sgemm` currently uses (default [`Backend::Nanobert`]).
pub fn backend() -> Backend {
    match BACKEND.load(Ordering::Relaxed) {
        0 => Backend::Nanobert,
        _ => Backend::MatrixMultiply,
    }
}

/// `sgemm` through `matrixmultiply`, split by rows over the current rayon pool when large.
/// Arguments as in [`super::sgemm`], already checked by the caller.
#[allow(clippy::too_many_arguments)]
pub(crate) fn sgemm_matrixmultiply(
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
    parallel: bool,
) {
    if m == 0 || n == 0 {
        return;
    }
    let work = m.saturating_mul(n).saturating_mul(k);
    let threads = if parallel { rayon::current_num_threads().min(work / PAR_MIN_MACS) } else { 1 };
    if threads < 2 || m < 2 {
        return single(m, k, n, a, lda, b, ldb, c, ldc, transpose_b);
    }
    let rows_per = m.div_ceil(threads);
    c.par_chunks_mut(rows_per * ldc).enumerate().for_each(|(t, c_part)| {
        let (i0, rows) = (t * rows_per, rows_per.min(m - t * rows_per));
        single(rows, k, n, &a[i0 * lda..], lda, b, ldb, c_part, ldc, transpose_b);
    });
}

#[allow(clippy::too_many_arguments)]
fn single(
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
    // B's row and column strides: a transposed B is read column-major.
    let (rsb, csb) = if transpose_b { (1, ldb) } else { (ldb, 1) };
    // SAFETY: the caller checked that A (m x k, stride lda), B (k x n or n x k, stride ldb)
    // and C (m x n, stride ldc) lie inside their slices; C does not alias A or B (it is a
    // `&mut`); beta = 0 means C's old contents are never read.
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            1.0,
            a.as_ptr(),
            lda as isize,
            1,
            b.as_ptr(),
            rsb as isize,
            csb as isize,
            0.0,
            c.as_mut_ptr(),
            ldc as isize,
            1,
        );
    }
}
