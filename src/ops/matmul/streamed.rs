//! # Rung 3 at small M: B packed panel by panel, just in time, its next panel prefetched
//!
//! `blocked.rs` packs a whole `KC x NC` block of B before loop 3, then reads it back from L2
//! once per A~ block. At batch 1 (M = 128) there is only one A~ block: every B~ panel is read
//! by one pass of loop 1 (about ten tiles) and never again. Packing the block up front then
//! costs twice: B's rows come from L3 or memory with nothing to overlap them with (the kernel
//! is not running while the block is packed), and the packed block is written to L2 only to be
//! read back from there.
//!
//! Here, when one A~ block holds every row of C, loop 2 packs each B~ panel right before its
//! tiles run, into one panel-sized buffer that stays in L1, in the order the kernel reads it;
//! and while those tiles run, it prefetches the part of B the *next* panel will be packed from
//! into L2, a share before each tile:
//!
//! ```text
//! for each NR-wide panel jp of the KC x NC block:
//!     pack B[pc.., jc + jp NR..] into the panel buffer     (its rows already in L2)
//!     for each A~ panel q:  prefetch a 1/tiles share of panel jp + 1's rows of B
//!                           microkernel: C tile (q, jp) (+)= A~ panel q · B~ panel
//! ```
//!
//! The packing loads then hit L2 instead of waiting for L3, and the block buffer of up to
//! 768 KiB shrinks to one panel (24 KiB). The result is the same as `blocked.rs`'s, bit for bit:
//! the same panels meet the same tiles in the same order of k.

use super::blocked::{self, A_BUF, Block};
use super::epilogue::Epilogue;
use super::kernels::MicroKernel;
use super::pack;
use super::view::{MatMut, MatRef};

/// True when `m` rows fit one A~ block of `mc` rows (loop 3 runs once): then each B~ panel
/// is used by one pass of loop 1 only, and this file's loop applies.
pub(crate) fn applies(m: usize, mc: usize, mr: usize) -> bool {
    blocked::row_block_height(m, mc, mr) >= m
}

/// Loops 2 and 1 for the block `blk` of B (not packed): every row of `c` (row i of C is row
/// i of `a`), columns `blk.jc..blk.jc + blk.nc`, one A~ block of at most `mc` rows (see
/// [`applies`]). `a_packed`: this block's A~ already packed for every row (else it is packed
/// here); `b_buf` holds the panel being packed; `next_kc`: the depth of the next block of k,
/// if any, whose first panel the last one prefetches.
#[allow(clippy::too_many_arguments)]
pub(crate) fn macro_block<K: MicroKernel>(
    kernel: K,
    mc: usize,
    a: MatRef,
    a_packed: Option<&[f32]>,
    b: MatRef,
    b_buf: &mut Vec<f32>,
    blk: Block,
    next_kc: Option<usize>,
    c: MatMut,
    epilogue: Epilogue,
) {
    let (mr, nr, ldc, m) = (K::MR, K::NR, c.ld, c.rows);
    let Block { pc, kc, jc, nc, .. } = blk;
    let epilogue = if blk.last { epilogue } else { Epilogue::None };
    let panel = blocked::aligned(b_buf, nr * kc + blocked::PANEL_PAD);
    let tiles = pack::row_panels(m, mr).count();
    blocked::with_buffer(&A_BUF, |a_buf| {
        let a_pack: &[f32] = match a_packed {
            Some(packed) => &packed[..m * kc],
            None => {
                let a_pack = blocked::aligned(a_buf, m * kc);
                blocked::pack_a_block(kernel, mc, MatRef { rows: m, ..a }, pc, kc, a_pack);
                a_pack
            }
        };
        for jr in (0..nc).step_by(nr) {
            let nr_eff = nr.min(nc - jr);
            blocked::pack_b_panels(kernel, b, pc, kc, jc + jr, nr_eff, panel);
            // The next panel: the one to the right, or the first of the next block of k.
            let next = match next_kc {
                _ if jr + nr < nc => Some((pc, kc, jc + jr + nr, nr.min(nc - jr - nr))),
                Some(kc_next) => Some((pc + kc, kc_next, jc, nr.min(nc))),
                None => None,
            };
            for (q, (ir, h)) in pack::row_panels(m, mr).enumerate() {
                if let Some((p0, depth, j0, w)) = next {
                    prefetch_share(kernel, b, p0, depth, j0, w, q, tiles);
                }
                let a_panel = &a_pack[ir * kc..(ir + h) * kc];
                let c_tile = &mut c.data[ir * ldc + jc + jr..];
                kernel.tile(kc, h, nr_eff, a_panel, panel, c_tile, ldc, pc > 0, epilogue, jc + jr);
            }
        }
    });
}

/// Prefetches share `q` of `shares` of what packing the panel of B at rows `pc..pc + kc`,
/// columns `j0..j0 + w` will read: a slice of its `kc` rows (B as stored) or of its `w`
/// stored rows (a transposed B, whose columns are the stored rows).
#[allow(clippy::too_many_arguments)]
fn prefetch_share<K: MicroKernel>(
    kernel: K,
    b: MatRef,
    pc: usize,
    kc: usize,
    j0: usize,
    w: usize,
    q: usize,
    shares: usize,
) {
    // (stored rows, their first index, the run of floats read from each)
    let (rows, first, run, col) = if b.trans { (w, j0, kc, pc) } else { (kc, pc, w, j0) };
    let (r0, r1) = (rows * q / shares, rows * (q + 1) / shares);
    for r in r0..r1 {
        let start = (first + r) * b.ld + col;
        if let Some(line) = b.data.get(start..start + run) {
            kernel.prefetch(line);
            kernel.prefetch(&line[run - 1..]);
        }
    }
}
