//! # Backends: ours, or the `matrixmultiply` crate for comparison
//!
//! `sgemm` normally runs nanobert's own kernels. The `matrixmultiply` crate (a well-tuned
//! pure-Rust BLIS implementation by bluss) runs instead when a [`super::Gemm`] value says so
//! (`Gemm::matrixmultiply()`), so a benchmark can show both side by side.
//!
//! Threads: `matrixmultiply`'s own thread pool reads `MATMUL_NUM_THREADS` once per process,
//! so it could not be switched between 1 and 2 threads inside one benchmark run. nanobert
//! builds it without that feature and splits large products by rows of C over the current
//! rayon pool instead, with the same threshold as our rung 4.

use rayon::prelude::*;

use super::parallel::PAR_MIN_MACS;
use super::view::{MatMut, MatRef, check_gemm};

/// `C = A·B` through `matrixmultiply`, split by rows over the current rayon pool when large
/// and `parallel`. The views are checked by the caller.
pub(crate) fn sgemm_matrixmultiply(a: MatRef, b: MatRef, c: MatMut, parallel: bool) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    if m == 0 || n == 0 {
        return;
    }
    let work = m.saturating_mul(n).saturating_mul(k);
    let threads = if parallel { rayon::current_num_threads().min(work / PAR_MIN_MACS) } else { 1 };
    if threads < 2 || m < 2 {
        return single(a, b, c);
    }
    // Cut C into one band of rows per thread. Only the m rows of the view are handed out:
    // C's slice may run on past row m (a window into a bigger buffer), and those floats are
    // not ours to write.
    let (rows_per, ldc) = (m.div_ceil(threads), c.ld);
    let mut bands = Vec::with_capacity(threads);
    let mut rest = c.data;
    for i0 in (0..m).step_by(rows_per) {
        let rows = rows_per.min(m - i0);
        let len = if i0 + rows < m { rows * ldc } else { (rows - 1) * ldc + n };
        let (band, tail) = std::mem::take(&mut rest).split_at_mut(len);
        bands.push((i0, MatMut::strided(band, rows, n, ldc)));
        rest = tail;
    }
    bands.into_par_iter().for_each(|(i0, band)| {
        let a_band = MatRef { rows: band.rows, ..a.offset(i0, 0) };
        single(a_band, b, band);
    });
}

/// One call of `matrixmultiply::sgemm` on the calling thread.
fn single(a: MatRef, b: MatRef, c: MatMut) {
    // Checked again here (a few comparisons) so the unsafe call below rests on this
    // function's own check, whatever its caller did.
    let (m, k, n) = check_gemm("sgemm (matrixmultiply)", &a, &b, &c).expect("sgemm_matrixmultiply: unchecked views");
    // Row and column strides of each operand: a transposed view is read column-major.
    let strides = |v: &MatRef| if v.trans { (1, v.ld as isize) } else { (v.ld as isize, 1) };
    let ((rsa, csa), (rsb, csb)) = (strides(&a), strides(&b));
    // SAFETY: `check_gemm` just verified that A (m x k), B (k x n) and C (m x n), with these
    // strides, lie inside their slices; C does not alias A or B (it is a `&mut`); beta = 0
    // means C's old contents are never read; with m, k or n = 0 nothing is read or written
    // beyond what exists.
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            1.0,
            a.data.as_ptr(),
            rsa,
            csa,
            b.data.as_ptr(),
            rsb,
            csb,
            0.0,
            c.data.as_mut_ptr(),
            c.ld as isize,
            1,
        );
    }
}
