//! # Rung 4: more cores (rayon over bands of rows of C, sharing one packed B)
//!
//! Different blocks of C are independent, so the easy way to use several cores is to cut C
//! into one piece per thread and run the single-core algorithm (rung 3) on each piece. But
//! each piece would then pack its own copy of the B~ blocks it reads: cut by rows, every
//! thread packs all of B. Instead, as in BLIS, the threads share the work *inside* loop 4:
//!
//! - the B~ block (KC x NC) is packed once, its panels split among the threads;
//! - then each thread runs loops 3 to 1 over its own band of rows of C (and of A), all
//!   reading that one packed block from the shared L3 / their L2;
//! - a B packed ahead of time (`prepacked.rs`, Linear weights) needs no packing at all: each
//!   thread runs the whole loop nest on its band of rows.
//!
//! Bands are cut evenly (each band then cuts its rows into tiles of even heights), and handed out as
//! disjoint `&mut` row ranges of C (`split_at_mut`): no locks, no `unsafe`. Rayon's `join`
//! splits them recursively, so a call allocates nothing after the first (the packing buffers
//! are per thread and reused, see `blocked.rs`).
//!
//! At small M (batch 1: 128 rows) the bands of rows would be thinner than one A~ block, and
//! every thread would read all of B for a few tiles: [`split`] then gives the threads bands of
//! *columns* instead, sharing one packed A (`columns.rs`).
//!
//! Threads cost something to wake and to join (a few microseconds with rayon), so problems
//! below [`PAR_MIN_MACS`] multiply-adds per thread stay on the calling thread. Use rayon's
//! `ThreadPool::install` to choose how many threads the current pool has.
//!
//! Gained: 1.9 to 2.0 times one core on BERT's Linear shapes with 2 threads
//! (docs/matmul.md).

use super::blocked::{self, B_BUF, BSource, Block, BlockSizes, PANEL_PAD};
use super::columns;
use super::epilogue::Epilogue;
use super::kernels::MicroKernel;
use super::view::{MatMut, MatRef};

/// Least work (multiply-adds) worth giving a thread: 2^21 is about 20-40 µs of one core, a
/// few times the cost of waking a rayon worker and joining it.
pub const PAR_MIN_MACS: usize = 1 << 21;

/// How the threads share a product.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Split {
    /// Not worth waking another thread: all on the calling one.
    None,
    /// Bands of rows (M split), sharing each packed B~ block.
    Rows,
    /// Bands of columns (N split) sharing one packed A~ (`columns.rs`).
    Columns,
}

/// The split for an `m x n` C with `k`-deep products on `threads` threads (kernel tile
/// `mr x nr`, A~ blocks of `mc` rows): columns when the bands of rows would each be shorter
/// than one A~ block and C has a few panels per thread, rows when it has a few tiles of rows
/// per thread, else one thread.
pub(crate) fn split(m: usize, n: usize, k: usize, threads: usize, mr: usize, nr: usize, mc: usize) -> (Split, usize) {
    let work = m.saturating_mul(n).saturating_mul(k);
    let tasks = threads.min(work / PAR_MIN_MACS);
    if tasks < 2 {
        (Split::None, 1)
    } else if m < tasks * mc && n >= tasks * 4 * nr {
        (Split::Columns, tasks)
    } else if m >= tasks * 2 * mr {
        (Split::Rows, tasks)
    } else {
        (Split::None, 1)
    }
}

/// Same contract as [`blocked::gemm`], on all threads of the current rayon pool.
pub(crate) fn gemm<K: MicroKernel>(
    kernel: K,
    blocks: BlockSizes,
    a: MatRef,
    b: BSource,
    c: MatMut,
    epilogue: Epilogue,
) {
    let (m, n, k) = (c.rows, c.cols, a.cols);
    match split(m, n, k, rayon::current_num_threads(), K::MR, K::NR, blocks.mc) {
        (Split::None, _) => blocked::gemm(kernel, blocks, a, b, c, epilogue),
        (Split::Columns, tasks) => columns::gemm(kernel, blocks, tasks, a, b, c, epilogue),
        (Split::Rows, tasks) => match b {
            // Pre-packed: nothing to share but the panels themselves.
            BSource::Packed(_) => {
                bands(tasks, K::MR, a, c, &|a, c| blocked::gemm(kernel, blocks, a, b, c, epilogue));
            }
            BSource::Matrix(b) => shared_b(kernel, blocks, tasks, a, b, c, epilogue),
        },
    }
}

/// Loops 5 and 4 on this thread; each B~ block packed by all threads together, then loops
/// 3 to 1 on every band of rows in parallel.
fn shared_b<K: MicroKernel>(
    kernel: K,
    blocks: BlockSizes,
    tasks: usize,
    a: MatRef,
    b: MatRef,
    mut c: MatMut,
    epilogue: Epilogue,
) {
    let (n, k, nr) = (c.cols, a.cols, K::NR);
    let BlockSizes { mc, kc: kc_max, nc: nc_max } = blocks;
    blocked::with_buffer(&B_BUF, |b_buf| {
        // Loop 5: a slab of NC columns.
        for jc in (0..n).step_by(nc_max) {
            let nc = nc_max.min(n - jc);
            // Loop 4: one KC-deep B~ block, packed once for all threads.
            for pc in (0..k).step_by(kc_max) {
                let kc = kc_max.min(k - pc);
                let stride = nr * kc + PANEL_PAD;
                let b_pack = blocked::aligned(b_buf, nc.div_ceil(nr) * stride);
                pack_shared(kernel, tasks, b, pc, kc, jc, nc, b_pack);
                let b_pack: &[f32] = b_pack;
                let blk = Block { pc, kc, jc, nc, last: pc + kc == k, prefetch: false };
                let run = |a: MatRef, c: MatMut| blocked::macro_block(kernel, mc, a, None, b_pack, blk, c, epilogue);
                bands(tasks, K::MR, a, c.rb(), &run);
            }
        }
    });
}

/// Packs the B~ block at `(pc, jc)` into `dst`, its panels split among `tasks` threads.
#[allow(clippy::too_many_arguments)]
fn pack_shared<K: MicroKernel>(
    kernel: K,
    tasks: usize,
    b: MatRef,
    pc: usize,
    kc: usize,
    jc: usize,
    nc: usize,
    dst: &mut [f32],
) {
    let (nr, stride) = (K::NR, K::NR * kc + PANEL_PAD);
    let panels = nc.div_ceil(nr);
    if tasks < 2 || panels < 2 {
        return blocked::pack_b_panels(kernel, b, pc, kc, jc, nc, dst);
    }
    let half = panels * (tasks / 2) / tasks;
    let (left, right) = dst.split_at_mut(half * stride);
    let (cols_left, cols_right) = (half * nr, nc - half * nr);
    rayon::join(
        || pack_shared(kernel, tasks / 2, b, pc, kc, jc, cols_left, left),
        || pack_shared(kernel, tasks - tasks / 2, b, pc, kc, jc + cols_left, cols_right, right),
    );
}

/// Runs `f(a_band, c_band)` on `tasks` bands of rows of C (and the same rows of A), cut at
/// multiples of `mr`, in parallel (recursive `rayon::join`: no allocation).
fn bands(tasks: usize, mr: usize, a: MatRef, c: MatMut, f: &(dyn Fn(MatRef, MatMut) + Sync)) {
    let m = c.rows;
    if tasks < 2 || m <= mr {
        return f(MatRef { rows: m, ..a }, c);
    }
    // Rows in proportion to the threads on each side: bands of equal height (each band's
    // tiles are then evened out by `pack::row_panels`), not cut at multiples of MR, which
    // at M = 128 and MR = 14 gave one thread 70 rows and the other 58.
    let top = (m * (tasks / 2) / tasks).clamp(1, m - 1);
    let ld = c.ld;
    let (upper, lower) = c.data.split_at_mut(top * ld);
    let c_top = MatMut::strided(upper, top, c.cols, ld);
    let c_bottom = MatMut::strided(lower, m - top, c.cols, ld);
    let (a_top, a_bottom) = (MatRef { rows: top, ..a }, a.offset(top, 0));
    rayon::join(|| bands(tasks / 2, mr, a_top, c_top, f), || bands(tasks - tasks / 2, mr, a_bottom, c_bottom, f));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_split_follows_the_shape() {
        // BERT at batch 1 (M = 128) on 2 threads, AVX-512 tile 14 x 32, MC = 168: columns.
        for (k, n) in [(768, 768), (768, 3072), (3072, 768)] {
            assert_eq!(split(128, n, k, 2, 14, 32, 168), (Split::Columns, 2), "{k} x {n}");
            assert_eq!(split(1024, n, k, 2, 14, 32, 168), (Split::Rows, 2), "{k} x {n}");
        }
        // A few rows of a wide C (the decoder at a short sentence): columns.
        assert_eq!(split(6, 30522, 768, 2, 14, 32, 168), (Split::Columns, 2));
        // Too little work for a second thread; too narrow and too short to split.
        assert_eq!(split(16, 64, 64, 2, 14, 32, 168), (Split::None, 1));
        assert_eq!(split(20, 64, 100_000, 2, 14, 32, 168), (Split::None, 1));
        // One thread.
        assert_eq!(split(1024, 768, 768, 1, 14, 32, 168), (Split::None, 1));
    }
}
