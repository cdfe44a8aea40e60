//! # Rung 4: more cores (rayon over blocks of C)
//!
//! Different blocks of C are independent, so the easy way to use several cores is to cut C
//! into one piece per thread and run the single-core algorithm (rung 3) on each piece.
//! Which way to cut matters for the packing work each thread repeats:
//!
//! - by **columns** (N): thread t needs only its columns of B, so B is packed once in total,
//!   while every thread packs all of A (m x k);
//! - by **rows** (M): each thread packs its rows of A and all of B (k x n).
//!
//! So we cut the longer side of C, which duplicates the smaller operand: at 128 tokens
//! (A is 128 x 768, a weight is 768 x 768 or more) that is by columns; at 1024 tokens and a
//! 768-wide output, by rows.
//!
//! The pieces are handed out as row slices (`&mut [f32]` per row of C, split at the column
//! boundary), so each thread owns exactly the memory it writes: no locks, no `unsafe`.
//!
//! Threads cost something to wake and to join (a few microseconds with rayon), so problems
//! below [`PAR_MIN_MACS`] multiply-adds per thread stay on the calling thread. Use rayon's
//! `ThreadPool::install` to choose how many threads the current pool has.
//!
//! Gained: 1.8 to 2.0 times one core on BERT's Linear shapes with 2 threads
//! (docs/02-matmul.md).

use rayon::prelude::*;

use super::blocked::{self, BSource};
use super::epilogue::Epilogue;
use super::kernels::MicroKernel;
use super::view::MatRef;

/// Least work (multiply-adds) worth giving a thread: 2^21 is about 20-40 µs of one core, a
/// few times the cost of waking a rayon worker and joining it.
pub const PAR_MIN_MACS: usize = 1 << 21;

/// Same contract as [`blocked::gemm`], on all threads of the current rayon pool.
#[allow(clippy::too_many_arguments)]
pub(crate) fn gemm<K: MicroKernel>(
    kernel: K,
    m: usize,
    k: usize,
    n: usize,
    a: MatRef,
    b: BSource,
    c: &mut [&mut [f32]],
    epilogue: Epilogue,
) {
    let work = m.saturating_mul(n).saturating_mul(k);
    let tasks = rayon::current_num_threads().min(work / PAR_MIN_MACS);
    if tasks < 2 {
        return blocked::gemm(kernel, m, k, n, a, b, c, epilogue);
    }
    // Each thread packs its own share of one operand and all of the other: split the
    // dimension that makes the duplicated operand the smaller one (A is m x k, B is k x n).
    if n >= m && n >= tasks * 4 * K::NR {
        // Split by columns, at multiples of NR so no tile straddles two threads.
        let bounds = split(n, tasks, K::NR);
        let mut parts: Vec<Vec<&mut [f32]>> = (0..tasks).map(|_| Vec::with_capacity(m)).collect();
        for row in c.iter_mut().take(m) {
            let mut rest = &mut row[..n];
            for (t, part) in parts.iter_mut().enumerate() {
                let (piece, tail) = rest.split_at_mut(bounds[t + 1] - bounds[t]);
                part.push(piece);
                rest = tail;
            }
        }
        parts.into_par_iter().enumerate().for_each(|(t, mut rows)| {
            let (j0, width) = (bounds[t], bounds[t + 1] - bounds[t]);
            blocked::gemm(kernel, m, k, width, a, b.columns_from(j0), &mut rows, epilogue.columns_from(j0));
        });
    } else {
        // Split by rows, at multiples of MR.
        let bounds = split(m, tasks, K::MR);
        let mut parts = Vec::with_capacity(tasks);
        let mut rest = &mut c[..m];
        for t in 0..tasks {
            let (piece, tail) = rest.split_at_mut(bounds[t + 1] - bounds[t]);
            parts.push(piece);
            rest = tail;
        }
        parts.into_par_iter().enumerate().for_each(|(t, rows)| {
            let (i0, height) = (bounds[t], bounds[t + 1] - bounds[t]);
            blocked::gemm(kernel, height, k, n, a.offset(i0, 0), b, rows, epilogue);
        });
    }
}

/// `parts + 1` boundaries cutting `0..len` into nearly equal pieces at multiples of `align`.
fn split(len: usize, parts: usize, align: usize) -> Vec<usize> {
    let units = len.div_ceil(align);
    (0..=parts).map(|t| (units * t / parts * align).min(len)).collect()
}
