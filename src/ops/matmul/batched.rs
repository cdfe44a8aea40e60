//! # Batched products: the attention heads
//!
//! Self-attention multiplies, for each of 12 heads, a 128 x 64 query block by a 64 x 128 key
//! block (scores) and a 128 x 128 probability block by a 128 x 64 value block (context).
//! Each product is small (about 1 M multiply-adds, a few tens of microseconds), too small
//! to split over threads with profit, but the heads are independent: so when products are
//! small, threads take whole products; when they are large, products run one after the
//! other, each on all threads.
//!
//! The heads usually live *interleaved* in one buffer: head h of a `[seq, 12 * 64]`
//! activation is columns `64h..64h + 64` of every row (`stride = 64`, `ld = 768`). Reading
//! that needs only the right offsets and leading dimension. Writing it from several threads
//! needs each thread to own its pieces of the rows: [`split_rows`] cuts the output buffer
//! into one `&mut` slice per row of each product (and checks that no two overlap).

use std::cell::RefCell;

use rayon::prelude::*;

use super::backend;
use super::blocked::{self, BSource, BlockSizes};
use super::epilogue::Epilogue;
use super::gemm::{Backend, Gemm};
use super::kernels::{self, KernelFn, MicroKernel};
use super::view::{MatMut, MatRef};
use super::{PAR_MIN_MACS, parallel};

thread_local! {
    /// One product's C, contiguous, before it is copied to its (possibly interleaved) rows.
    static PRODUCT_BUF: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Runs product t for every t: `C_t (at c_offs[t], rows ldc apart) = A_t · B_t`, where `A_t`
/// is the view `a` moved to `a.data[a_offs[t]..]` (likewise B). Views are checked by the
/// caller except for overlapping C matrices, which give `None`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn gemm_batch(
    gemm: Gemm,
    a: MatRef,
    a_offs: &[usize],
    b: MatRef,
    b_offs: &[usize],
    c: &mut [f32],
    c_offs: &[usize],
    ldc: usize,
) -> Option<()> {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    if m == 0 || n == 0 || a_offs.is_empty() {
        return Some(());
    }
    let mut items = split_rows(c, c_offs, m, n, ldc)?;
    let work = m.saturating_mul(n).saturating_mul(k);
    let threads = if gemm.is_parallel() { rayon::current_num_threads() } else { 1 };
    // Small products: a thread takes whole products. Large ones: each product uses all threads.
    let across = items.len() > 1 && threads > 1 && work < 2 * PAR_MIN_MACS;
    let parallel = gemm.is_parallel() && !across;
    let one = |t: usize, rows: &mut Vec<&mut [f32]>| {
        // (`get`: with k = 0 the operands may be empty slices.)
        let a_t = MatRef { data: a.data.get(a_offs[t]..).unwrap_or(&[]), ..a };
        let b_t = MatRef { data: b.data.get(b_offs[t]..).unwrap_or(&[]), ..b };
        // The rows of C_t may interleave with other products' (attention heads): compute into
        // a contiguous buffer of this thread, then copy the rows out.
        blocked::with_buffer(&PRODUCT_BUF, |tmp| {
            tmp.resize(m * n, 0.0);
            let out = MatMut::new(&mut tmp[..m * n], m, n);
            match gemm.backend() {
                Backend::Nanobert => {
                    let run = Run {
                        parallel,
                        blocks: gemm.blocks(),
                        a: a_t,
                        b: BSource::Matrix(b_t),
                        c: out,
                        epilogue: Epilogue::None,
                    };
                    kernels::with_kernel(gemm.kernel(), run);
                }
                Backend::MatrixMultiply => backend::sgemm_matrixmultiply(a_t, b_t, out, parallel),
            }
            for (row, src) in rows.iter_mut().zip(tmp.chunks_exact(n)) {
                row.copy_from_slice(src);
            }
        });
    };
    if across {
        items.par_iter_mut().enumerate().for_each(|(t, rows)| one(t, rows));
    } else {
        items.iter_mut().enumerate().for_each(|(t, rows)| one(t, rows));
    }
    Some(())
}

/// The single- or multi-threaded rung 3/4 on one product.
pub(crate) struct Run<'a, 'b, 'c, 'e> {
    pub parallel: bool,
    /// Block sizes chosen explicitly; `None`: derived from this CPU's caches for the kernel.
    pub blocks: Option<BlockSizes>,
    pub a: MatRef<'a>,
    pub b: BSource<'b>,
    pub c: MatMut<'c>,
    pub epilogue: Epilogue<'e>,
}

impl KernelFn<()> for Run<'_, '_, '_, '_> {
    fn call<K: MicroKernel>(self, kernel: K) {
        let mut blocks = self.blocks.unwrap_or_else(BlockSizes::for_kernel::<K>).fit_tile(K::NR);
        if let BSource::Packed(p) = self.b {
            blocks = blocks.with_kc(p.kc); // packed panels fix the depth
        }
        if self.parallel {
            parallel::gemm(kernel, blocks, self.a, self.b, self.c, self.epilogue);
        } else {
            blocked::gemm(kernel, blocks, self.a, self.b, self.c, self.epilogue);
        }
    }
}

/// Cuts `c` into the rows of every product: `result[t][i]` is `c[c_offs[t] + i * ldc..][..n]`.
/// `None` if two rows overlap or a row is out of bounds.
pub(crate) fn split_rows<'c>(
    c: &'c mut [f32],
    c_offs: &[usize],
    m: usize,
    n: usize,
    ldc: usize,
) -> Option<Vec<Vec<&'c mut [f32]>>> {
    // Every row's start, with its owner, in increasing order of start. Two common layouts
    // come sorted without sorting: products one after the other (row-major over t, i), and
    // products interleaved within each row, like attention heads (row-major over i, t).
    let increasing = c_offs.windows(2).all(|w| w[0] < w[1]);
    let row_t = |i: usize, t: usize| (c_offs[t] + i * ldc, t);
    let starts: Vec<(usize, usize)> = if increasing && c_offs.windows(2).all(|w| w[0] + (m - 1) * ldc + n <= w[1]) {
        (0..c_offs.len()).flat_map(|t| (0..m).map(move |i| row_t(i, t))).collect()
    } else if increasing && c_offs[c_offs.len() - 1] + n <= c_offs[0] + ldc {
        (0..m).flat_map(|i| (0..c_offs.len()).map(move |t| row_t(i, t))).collect()
    } else {
        let mut all: Vec<(usize, usize)> = (0..c_offs.len()).flat_map(|t| (0..m).map(move |i| row_t(i, t))).collect();
        all.sort_unstable();
        all
    };
    // Cut the buffer at those starts; `split_at_mut` proves the pieces are disjoint.
    let mut out: Vec<Vec<&mut [f32]>> = c_offs.iter().map(|_| Vec::with_capacity(m)).collect();
    let (mut rest, mut pos) = (c, 0);
    for (start, t) in starts {
        if start < pos || start - pos + n > rest.len() {
            return None;
        }
        let (row, tail) = rest.split_at_mut(start - pos).1.split_at_mut(n);
        // Starts of one product's rows increase with i, so rows arrive in order.
        out[t].push(row);
        (rest, pos) = (tail, start + n);
    }
    Some(out)
}
