//! # Rung 2: cache blocking with packed panels (the five loops of BLIS)
//!
//! Rung 1 streams all of B through the core for every row of A. The cure is to cut the
//! problem into blocks sized for each level of the memory hierarchy, so that every float
//! brought into a cache is used many times before it is evicted. This is the loop nest of
//! GotoBLAS / BLIS (Goto & van de Geijn 2008; Van Zee & van de Geijn 2015), five loops
//! around a microkernel:
//!
//! ```text
//! loop 5  jc: columns of C and B in steps of NC
//! loop 4  pc: k in steps of KC ── pack B~ (KC x NC, NR-wide panels)    B~ block lives in L2
//! loop 3  ic: rows of C and A in steps of MC ── pack A~ (MC x KC)      A~ block: L1/L2
//! loop 2  jr: one NR-wide panel of B~                                  B~ panel stays in L1
//! loop 1  ir: one MR-tall panel of A~
//!         microkernel: C[ir.., jr..] (+)= A~ panel · B~ panel           tile in registers
//! ```
//!
//! Every C tile gets `k / KC` visits (overwrite on the first, add on the next), each of which
//! performs `2 · MR · NR · KC` flops on data already sitting in L1 and L2. Packing (see
//! `pack.rs`) puts each block in the order the kernel reads it.
//!
//! This file is generic over the microkernel: rung 2 runs it with the portable kernel, rung 3
//! with the AVX2 or AVX-512 kernels (`kernels/`), rung 4 runs it on each core (`parallel.rs`).
//! When one A~ block holds every row of C (M <= MC, batch 1), loop 3 runs once and each B~
//! panel is read by one pass of loop 1 only: loop 4 then hands a B that is not pre-packed to
//! `streamed.rs`, which packs it panel by panel, just in time, prefetching the next.
//!
//! Gained, with the portable 4 x 8 kernel: 26 to 31 GFLOP/s on every BERT shape (Zen 4),
//! 1.2-1.7 times rung 1; it is then bound by the SSE2 arithmetic of a default x86-64 build,
//! not by memory (docs/matmul.md).
//!
//! ## Block sizes: derived from the caches the CPU reports
//!
//! [`BlockSizes::for_tile`] computes KC, MC and NC from the [`CacheSizes`] the CPU reports
//! (`ops/cpu.rs`) and the kernel's tile, by the rules below (the BLIS analytical model,
//! Low et al. 2016, simplified); every product gets them through its [`super::Gemm`], which
//! can also be given other sizes explicitly (the benchmark sweeps them). On Zen 4 (L1d
//! 32 KiB, L2 1 MiB) with the AVX-512 tile (MR = 14, NR = 32) the rules give KC = 192,
//! MC = 168, NC = 1024; with the AVX2 tile (6 x 16) KC = 384, MC = 84, NC = 512.
//!
//! - KC: the B~ panel (`KC x NR`) is read again by every A~ panel of loop 1, so it takes
//!   3/4 of L1d; the rest holds the A~ panel streaming through and the C tile.
//! - NC: the B~ block (`KC x NC`) stays in L2 while loop 3 walks all of A past it: 3/4 of L2.
//! - MC: the A~ block (`MC x KC`) is read once per B~ panel; an eighth of L2 keeps it there
//!   next to the B~ block, and a multiple of MR.

use std::cell::RefCell;
use std::thread::LocalKey;

use super::epilogue::Epilogue;
use super::kernels::MicroKernel;
use super::pack;
use super::prepacked::PackedPanels;
use super::streamed;
use super::view::{MatMut, MatRef};
use crate::ops::cpu::CacheSizes;

/// Gap (in floats, one cache line) between consecutive B~ panels. Without it, panels
/// `KC x NR x 4` bytes apart (24 KiB, a multiple of 4 KiB) all map to the same L1 cache set,
/// and packing a row of B into 24 panels at once would evict its own writes.
pub const PANEL_PAD: usize = 16;

/// Block sizes of the loop nest for one microkernel (see the module docs): a plain value,
/// derived once from the caches and passed down to the loops.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BlockSizes {
    /// Rows of an A~ block (loop 3), a multiple of the kernel's MR.
    pub mc: usize,
    /// Depth of a block (loop 4).
    pub kc: usize,
    /// Columns of a B~ block (loop 5), a multiple of the kernel's NR.
    pub nc: usize,
}

impl BlockSizes {
    /// The sizes for an `mr x nr` tile whose packed B holds `elem` bytes per value (4 for
    /// f32; a lower-precision GEMM passes its own), by the rules of the module docs.
    pub fn for_tile(caches: CacheSizes, mr: usize, nr: usize, elem: usize) -> BlockSizes {
        let (mr, nr, elem) = (mr.max(1), nr.max(1), elem.max(1));
        let kc = (caches.l1d * 3 / 4 / (nr * elem) / 16 * 16).clamp(16, 1024);
        let nc = (caches.l2 * 3 / 4 / (kc * elem) / nr * nr).max(nr);
        let mc = (caches.l2 / 8 / (kc * elem) / mr * mr).max(mr);
        BlockSizes { mc, kc, nc }
    }

    /// The sizes for kernel `K` on this CPU ([`CacheSizes::detect`]).
    pub(crate) fn for_kernel<K: MicroKernel>() -> BlockSizes {
        BlockSizes::for_tile(CacheSizes::detect(), K::MR, K::NR, 4)
    }

    /// These sizes with NC rounded up to a multiple of `nr` (slabs of C then start on panel
    /// boundaries, where pre-packed panels can be looked up).
    pub(crate) fn fit_tile(self, nr: usize) -> BlockSizes {
        BlockSizes { nc: self.nc.next_multiple_of(nr.max(1)), ..self }
    }

    /// These sizes with a given depth (a pre-packed B was cut at its own).
    pub(crate) fn with_kc(self, kc: usize) -> BlockSizes {
        BlockSizes { kc, ..self }
    }
}

thread_local! {
    /// The A~ packing buffer, reused across calls on each thread: allocating and
    /// page-faulting it per call would cost more than the packing itself.
    pub(crate) static A_BUF: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
    /// The B~ packing buffer of the thread that drives a product (shared by all the threads
    /// working on it in `parallel.rs`).
    pub(crate) static B_BUF: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// C (`m x n`, a row-major view) = epilogue(A·B), A `m x k`, B `k x n`, on this thread.
pub(crate) fn gemm<K: MicroKernel>(
    kernel: K,
    blocks: BlockSizes,
    a: MatRef,
    b: BSource,
    c: MatMut,
    epilogue: Epilogue,
) {
    gemm_with_a(kernel, blocks, a, None, b, c, epilogue);
}

/// [`gemm`], with A already packed (all of k, every row of `c`: `columns.rs`) when
/// `a_packed` is given: loop 3 then packs nothing (the small-M split of `columns.rs`, where
/// every thread reads the same A~).
pub(crate) fn gemm_with_a<K: MicroKernel>(
    kernel: K,
    blocks: BlockSizes,
    a: MatRef,
    a_packed: Option<&[f32]>,
    b: BSource,
    mut c: MatMut,
    epilogue: Epilogue,
) {
    let BlockSizes { kc: kc_max, .. } = blocks;
    let (m, n, k) = (c.rows, c.cols, a.cols);
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        for row in c.data.chunks_mut(c.ld.max(n)).take(m) {
            row[..n].fill(0.0);
            epilogue.finish(&mut row[..n], 0);
        }
        return;
    }
    with_buffer(&B_BUF, |b_buf| {
        // Loop 5: a slab of at most NC columns of B and C, all slabs the same width (in
        // panels): 1536 columns become 768 + 768, not 1024 + 512.
        let nc_max = slab_width(n, blocks.nc, K::NR);
        for jc in (0..n).step_by(nc_max) {
            let nc = nc_max.min(n - jc);
            // Loop 4: KC of the k dimension; pack B[pc.., jc..] into NR-wide panels (or look
            // the block up, if B was packed ahead of time: `prepacked.rs`).
            for pc in (0..k).step_by(kc_max) {
                let kc = kc_max.min(k - pc);
                let block = Block { pc, kc, jc, nc, last: pc + kc == k, prefetch: matches!(b, BSource::Packed(_)) };
                let a_block = a_packed.map(|p| &p[m * pc..m * (pc + kc)]);
                let b_pack: &[f32] = match b {
                    // One A~ block: pack each panel just before its tiles (`streamed.rs`).
                    BSource::Matrix(b) if streamed::applies(m, blocks.mc, K::MR) => {
                        let next_kc = (pc + kc < k).then(|| kc_max.min(k - pc - kc));
                        streamed::macro_block(
                            kernel,
                            blocks.mc,
                            a,
                            a_block,
                            b,
                            b_buf,
                            block,
                            next_kc,
                            c.rb(),
                            epilogue,
                        );
                        continue;
                    }
                    BSource::Matrix(b) => {
                        let b_pack = aligned(b_buf, nc.div_ceil(K::NR) * (K::NR * kc + PANEL_PAD));
                        pack_b_panels(kernel, b, pc, kc, jc, nc, b_pack);
                        b_pack
                    }
                    BSource::Packed(panels) => panels.block(pc, kc, jc, nc),
                };
                macro_block(kernel, blocks.mc, a, a_block, b_pack, block, c.rb(), epilogue);
            }
        }
    });
}

/// Where a B~ block sits in the product.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Block {
    pub pc: usize,
    pub kc: usize,
    pub jc: usize,
    pub nc: usize,
    /// The last block of k: the tiles are finished, the epilogue runs.
    pub last: bool,
    /// The panels come from memory (pre-packed), not from a buffer just written: prefetch.
    pub prefetch: bool,
}

/// Loops 3 to 1 for one packed B~ block (`b_pack`): every row of `c` (row i of C is row i
/// of `a`), columns `jc..jc + nc`. `a_packed`: the A~ of this block of k, already packed
/// for every row of `c` by [`pack_a_block`] (else loop 3 packs it).
#[allow(clippy::too_many_arguments)]
pub(crate) fn macro_block<K: MicroKernel>(
    kernel: K,
    mc: usize,
    a: MatRef,
    a_packed: Option<&[f32]>,
    b_pack: &[f32],
    blk: Block,
    c: MatMut,
    epilogue: Epilogue,
) {
    let (mr, nr, ldc) = (K::MR, K::NR, c.ld);
    let Block { pc, kc, jc, nc, .. } = blk;
    let mc_max = row_block_height(c.rows, mc, mr);
    let b_stride = nr * kc + PANEL_PAD; // panels are PANEL_PAD floats apart: see the constant
    let epilogue = if blk.last { epilogue } else { Epilogue::None };
    with_buffer(&A_BUF, |a_buf| {
        // Loop 3: MC rows of A and C; pack A[ic.., pc..] into MR-tall panels.
        for ic in (0..c.rows).step_by(mc_max) {
            let mc = mc_max.min(c.rows - ic);
            let a_pack: &[f32] = match a_packed {
                Some(packed) => &packed[ic * kc..(ic + mc) * kc],
                None => {
                    let a_pack = aligned(a_buf, mc * kc);
                    for (ir, h) in pack::row_panels(mc, mr) {
                        pack_a(kernel, a, ic + ir, h, pc, kc, &mut a_pack[ir * kc..(ir + h) * kc]);
                    }
                    a_pack
                }
            };
            // Pre-packed panels come from memory: on the first pass over them (ic = 0), fetch
            // the next one into L2 while the kernel works on this one, a share before each tile.
            let prefetch = ic == 0 && blk.prefetch;
            let share = (nr * kc).div_ceil(pack::row_panels(mc, mr).count()).next_multiple_of(16);
            // Loop 2: one B~ panel (stays in L1 for all of loop 1).
            for (jp, b_panel) in b_pack.chunks_exact(b_stride).enumerate() {
                let jr = jp * nr;
                let nr_eff = nr.min(nc - jr);
                let next = if prefetch { b_pack.get((jp + 1) * b_stride..(jp + 2) * b_stride) } else { None };
                // Loop 1: one A~ panel; the microkernel updates one tile of C.
                for (q, (ir, h)) in pack::row_panels(mc, mr).enumerate() {
                    if let Some(next) = next {
                        kernel.prefetch(next.get(q * share..).unwrap_or(&[]).get(..share).unwrap_or(&[]));
                    }
                    let a_panel = &a_pack[ir * kc..(ir + h) * kc];
                    let c_tile = &mut c.data[(ic + ir) * ldc + jc + jr..];
                    kernel.tile(kc, h, nr_eff, a_panel, b_panel, c_tile, ldc, pc > 0, epilogue, jc + jr);
                }
            }
        }
    });
}

/// Rows of each A~ block of loop 3 for `m` rows: about `mc`, all blocks the same height (a
/// last block of a few rows would reload every B~ panel for very little work).
pub(crate) fn row_block_height(m: usize, mc: usize, mr: usize) -> usize {
    let blocks = m.div_ceil((mc / mr * mr).max(mr)).max(1);
    m.div_ceil(blocks).max(1)
}

/// Columns of each slab of loop 5 for `n` columns: at most `nc` (rounded up to `nr`), all
/// slabs the same number of `nr`-wide panels but the last.
pub(crate) fn slab_width(n: usize, nc: usize, nr: usize) -> usize {
    let slabs = n.div_ceil(nc.max(1)).max(1);
    n.div_ceil(slabs).next_multiple_of(nr.max(1))
}

/// Packs the A~ of the block of k at `pc` (`kc` deep) for rows `0..m` into `dst` (`m * kc`
/// floats), exactly as loop 3 of [`macro_block`] would: A~ block `ic` at `ic * kc`, its row
/// panels after one another.
pub(crate) fn pack_a_block<K: MicroKernel>(kernel: K, mc: usize, a: MatRef, pc: usize, kc: usize, dst: &mut [f32]) {
    let (m, mr) = (a.rows, K::MR);
    let mc_max = row_block_height(m, mc, mr);
    for ic in (0..m).step_by(mc_max) {
        for (ir, h) in pack::row_panels(mc_max.min(m - ic), mr) {
            let r0 = ic + ir;
            pack_a(kernel, a, r0, h, pc, kc, &mut dst[r0 * kc..(r0 + h) * kc]);
        }
    }
}

/// Where loop 4 gets its B~ blocks from.
#[derive(Clone, Copy, Debug)]
pub(crate) enum BSource<'a> {
    /// The matrix B itself: each block is packed when loop 4 reaches it.
    Matrix(MatRef<'a>),
    /// Panels packed once ahead of time ([`super::prepacked::PackedB`]).
    Packed(PackedPanels<'a>),
}

impl<'a> BSource<'a> {
    /// The columns from `j0` on (a multiple of the kernel's NR for packed panels).
    pub(crate) fn columns_from(self, j0: usize) -> BSource<'a> {
        match self {
            BSource::Matrix(b) => BSource::Matrix(b.offset(0, j0)),
            BSource::Packed(p) => BSource::Packed(p.columns_from(j0)),
        }
    }
}

/// Packs rows `r0..r0 + h` of A, columns `pc..pc + kc`, into one k-major A~ panel of height
/// `h`. A row-major A goes through the kernel's (transposing) `pack_rows`; for a transposed A
/// the panel's k steps are already contiguous in memory: one copy of `h` floats per step.
fn pack_a<K: MicroKernel>(kernel: K, a: MatRef, r0: usize, h: usize, pc: usize, kc: usize, dst: &mut [f32]) {
    if a.trans {
        for (p, step) in dst[..kc * h].chunks_exact_mut(h).enumerate() {
            step.copy_from_slice(&a.data[(pc + p) * a.ld + r0..][..h]);
        }
    } else {
        kernel.pack_rows(a.data, a.ld, r0, h, h, pc, kc, dst);
    }
}

/// Packs the `kc x nc` block of B at `(pc, jc)` into `NR`-wide panels, `nr * kc + PANEL_PAD`
/// floats apart, zero-padded beyond column `nc`: the B~ block of loop 4. Shared by the
/// blocked loops (packing on the fly) and `prepacked.rs` (packing once).
#[allow(clippy::too_many_arguments)]
pub(crate) fn pack_b_panels<K: MicroKernel>(
    kernel: K,
    b: MatRef,
    pc: usize,
    kc: usize,
    jc: usize,
    nc: usize,
    dst: &mut [f32],
) {
    let (nr, b_stride) = (K::NR, K::NR * kc + PANEL_PAD);
    if b.trans {
        // Columns of B are rows of the stored matrix: pack like A, NR rows a panel.
        for (jp, panel) in dst.chunks_exact_mut(b_stride).take(nc.div_ceil(nr)).enumerate() {
            let j0 = jc + jp * nr;
            kernel.pack_rows(b.data, b.ld, j0, nr.min(jc + nc - j0), nr, pc, kc, panel);
        }
    } else {
        pack::pack_b_block(b, pc, kc, jc, nc, nr, b_stride, dst);
    }
}

/// Runs `f` with one of this thread's packing buffers (taken out while in use, so a nested
/// call on the same thread would just allocate its own rather than fail).
pub(crate) fn with_buffer<R>(key: &'static LocalKey<RefCell<Vec<f32>>>, f: impl FnOnce(&mut Vec<f32>) -> R) -> R {
    let mut buf = key.with(|cell| std::mem::take(&mut *cell.borrow_mut()));
    let result = f(&mut buf);
    key.with(|cell| *cell.borrow_mut() = buf);
    result
}

/// A `len`-float slice of `buf` starting on a 64-byte (cache line) boundary, so every
/// vector load of a packed panel is aligned and never splits a cache line.
pub(crate) fn aligned(buf: &mut Vec<f32>, len: usize) -> &mut [f32] {
    const PAD: usize = 16;
    if buf.len() < len + PAD {
        buf.resize(len + PAD, 0.0);
    }
    let skip = buf.as_ptr().align_offset(64).min(PAD);
    &mut buf[skip..skip + len]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_sizes_follow_the_caches() {
        let zen4 = CacheSizes { l1d: 32 << 10, l2: 1 << 20, l3: 32 << 20 };
        assert_eq!(BlockSizes::for_tile(zen4, 14, 32, 4), BlockSizes { mc: 168, kc: 192, nc: 1024 });
        assert_eq!(BlockSizes::for_tile(zen4, 6, 16, 4), BlockSizes { mc: 84, kc: 384, nc: 512 });
        // Sapphire Rapids: 48 KiB L1d, 2 MiB L2.
        let spr = CacheSizes { l1d: 48 << 10, l2: 2 << 20, l3: 105 << 20 };
        let b = BlockSizes::for_tile(spr, 14, 32, 4);
        assert_eq!(b, BlockSizes { mc: 224, kc: 288, nc: 1344 });
        for (c, mr, nr) in [(zen4, 14, 32), (zen4, 6, 16), (spr, 14, 32), (spr, 6, 16)] {
            let b = BlockSizes::for_tile(c, mr, nr, 4);
            assert!(b.kc * nr * 4 <= c.l1d && b.kc * b.nc * 4 <= c.l2, "{b:?} does not fit {c:?}");
            assert!(b.mc.is_multiple_of(mr) && b.nc.is_multiple_of(nr) && b.kc.is_multiple_of(16), "{b:?}");
        }
    }
}
