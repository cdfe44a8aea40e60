//! # Rung 4 at small M: threads split the columns, A is packed once for all of them
//!
//! At batch 1 a Linear layer multiplies 128 rows (one sentence's tokens) by a weight of 768 x
//! 768 to 3072 x 768. Split by rows (`parallel.rs`), each of 2 threads gets 64 rows: every
//! B~ panel, packed or streamed from memory, then serves only 64 rows (about 5 tiles) on its
//! thread, every thread reads *all* of B, and each KC x NC block of B is a meeting point
//! where all threads wait for the packing to finish (`rayon::join`, a few microseconds each,
//! 8 to 24 per call).
//!
//! Split by columns instead, the threads share nothing but A, which is small at small M
//! (128 x 768 floats, 384 KiB):
//!
//! ```text
//! 1. A packed once into A~ (every row, every KC block), its k blocks shared among threads
//!    ── one join
//! 2. thread t: columns [n t / T, n (t+1) / T) of B and C, the whole loop nest of blocked.rs
//!    on them: packs only its own B~ blocks (into its own L2, where its kernel reads them),
//!    reads the shared A~; no other meeting point ── one join
//! ```
//!
//! Every B~ panel now serves all 128 rows (about 10 tiles), B is read once in total, and
//! nothing is packed twice. Thread 0 writes its columns of C in place; the others write theirs
//! into buffers of their own (reused across calls), copied into C after the join: two threads
//! writing different columns of the same rows would need two `&mut` to one slice, and a
//! copy of a few rows (half of C at 2 threads, about 1% of the product's time at M = 128)
//! buys that with no `unsafe`. A large copy is itself split in two, by rows of C.
//!
//! `parallel.rs` chooses this split when the threads' bands of rows would each be shorter
//! than one A~ block (MC rows) and C is wide enough to give every thread a few panels.

use std::cell::RefCell;

use super::blocked::{self, BSource, BlockSizes};
use super::epilogue::Epilogue;
use super::kernels::MicroKernel;
use super::view::{MatMut, MatRef};

thread_local! {
    /// A~ for all of k, packed once per call and read by every thread (owned by the thread
    /// that drives the product).
    static A_SHARED: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
    /// The column bands of threads 1.., owned by the thread that drives the product.
    static COLUMN_BUFS: RefCell<Vec<Vec<f32>>> = const { RefCell::new(Vec::new()) };
}

/// Floats of C in the other threads' bands above which two threads copy them into C (half the
/// rows each): a serial copy of 128 x 768 floats takes about 20 µs while the other core idles.
const PARALLEL_COPY: usize = 1 << 15;

/// Same contract as [`blocked::gemm`], on `tasks` threads of the current rayon pool, each
/// computing a band of columns (see the module docs).
pub(crate) fn gemm<K: MicroKernel>(
    kernel: K,
    blocks: BlockSizes,
    tasks: usize,
    a: MatRef,
    b: BSource,
    c: MatMut,
    epilogue: Epilogue,
) {
    let (m, n, k) = (c.rows, c.cols, a.cols);
    let a = MatRef { rows: m, ..a };
    blocked::with_buffer(&A_SHARED, |a_buf| {
        let a_packed = blocked::aligned(a_buf, m * k);
        pack_a_all(kernel, blocks, tasks, a, 0, k, a_packed);
        let a_packed: &[f32] = a_packed;
        // Column bands cut at panel boundaries (NR), as even as the panels allow.
        let bound = |t: usize| (n.div_ceil(K::NR) * t / tasks * K::NR).min(n);
        let mut bufs = COLUMN_BUFS.with(|cell| std::mem::take(&mut *cell.borrow_mut()));
        if bufs.len() < tasks - 1 {
            bufs.resize_with(tasks - 1, Vec::new);
        }
        let band = |t: usize, out: MatMut| {
            let j0 = bound(t);
            blocked::gemm_with_a(kernel, blocks, a, Some(a_packed), b.columns_from(j0), out, epilogue.columns_from(j0));
        };
        let (ldc, width0) = (c.ld, bound(1));
        rayon::join(
            || band(0, MatMut::strided(c.data, m, width0, ldc)),
            || {
                each_buffer(&mut bufs[..tasks - 1], 1, &|t, buf| {
                    let width = bound(t + 1) - bound(t);
                    buf.resize(m * width, 0.0);
                    band(t, MatMut::new(&mut buf[..m * width], m, width));
                })
            },
        );
        // The other threads' bands into C: rows `r0..r0 + rows` of C start at `dst`.
        let copy = |dst: &mut [f32], r0: usize, rows: usize| {
            for (t, buf) in (1..tasks).zip(&bufs) {
                let (j0, width) = (bound(t), bound(t + 1) - bound(t));
                if width == 0 {
                    continue;
                }
                for (row, band) in dst.chunks_mut(ldc).zip(buf[r0 * width..].chunks_exact(width)).take(rows) {
                    row[j0..j0 + width].copy_from_slice(band);
                }
            }
        };
        if m >= 2 && m * (n - width0) >= PARALLEL_COPY {
            // Halves of the rows on two threads (the second is still awake from its band).
            let half = m / 2;
            let (top, bottom) = c.data.split_at_mut(half * ldc);
            rayon::join(|| copy(top, 0, half), || copy(bottom, half, m - half));
        } else {
            copy(c.data, 0, m);
        }
        COLUMN_BUFS.with(|cell| *cell.borrow_mut() = bufs);
    });
}

/// Runs `f(t, buf)` for `buf = bufs[i]`, `t = first + i`, in parallel (recursive
/// `rayon::join`: nothing allocated).
fn each_buffer(bufs: &mut [Vec<f32>], first: usize, f: &(dyn Fn(usize, &mut Vec<f32>) + Sync)) {
    match bufs {
        [] => {}
        [buf] => f(first, buf),
        _ => {
            let half = bufs.len() / 2;
            let (left, right) = bufs.split_at_mut(half);
            rayon::join(|| each_buffer(left, first, f), || each_buffer(right, first + half, f));
        }
    }
}

/// Packs the A~ of every k block from `p0` to `p1` (a multiple of KC from `p0`) into `dst`,
/// block `pc` at `m * (pc - p0)`, the blocks shared among `tasks` threads.
fn pack_a_all<K: MicroKernel>(
    kernel: K,
    blocks: BlockSizes,
    tasks: usize,
    a: MatRef,
    p0: usize,
    p1: usize,
    dst: &mut [f32],
) {
    let (m, kc_max) = (a.rows, blocks.kc);
    let count = (p1 - p0).div_ceil(kc_max);
    if tasks < 2 || count < 2 {
        for pc in (p0..p1).step_by(kc_max) {
            let kc = kc_max.min(p1 - pc);
            blocked::pack_a_block(kernel, blocks.mc, a, pc, kc, &mut dst[m * (pc - p0)..m * (pc - p0 + kc)]);
        }
        return;
    }
    let split = p0 + count * (tasks / 2) / tasks * kc_max;
    let (left, right) = dst.split_at_mut(m * (split - p0));
    rayon::join(
        || pack_a_all(kernel, blocks, tasks / 2, a, p0, split, left),
        || pack_a_all(kernel, blocks, tasks - tasks / 2, a, split, p1, right),
    );
}
