//! # One GEMM driver for every lower precision
//!
//! int8 and f16/bf16 differ in three places only: what one element of the prepared A is
//! (u8 codes, f32 values or bf16 pairs), what one element of a weight panel is (i8 or a
//! 16-bit float), and how a finished tile becomes f32 (dequantize, or copy). Everything else —
//! the thread split, the row blocks, the walk over panels and tiles — is this file, written
//! once. Each precision supplies a microkernel ([`LowpTile`], beside it in `int8_x86.rs` and
//! `half_x86.rs`) and an epilogue ([`Finish`]).
//!
//! The loops, as in the f32 GEMM with a pre-packed B (`ops::matmul::parallel`):
//!
//! 1. **Threads.** Below [`PAR_MIN_MACS`] multiply-adds per thread, one thread. Otherwise, when
//!    C has rows for at least two tiles per thread, each thread takes a band of rows (cut at
//!    multiples of MR) and walks every weight panel; with fewer rows (batch 1, short
//!    sentences) each thread takes a band of columns (cut at multiples of NR), so the weights
//!    are read once in total and not once per thread.
//! 2. **Row blocks** of `MC` rows of A.
//! 3. **Panels**: for each NR-wide weight panel (packed once, read in the order the kernel
//!    reads it) ...
//! 4. **Depth blocks** of `KC` k values: the `KC x NR` piece of the panel stays in L1 while ...
//! 5. **Tiles**: ... each MR-row tile of the block adds its `MR x NR` product over the depth
//!    block to its accumulators (the first block starts them at zero, the next ones load and
//!    add: the kernel's `load` flag). On the last depth block an epilogue that can
//!    ([`Finish::IN_REGISTERS`]: int8's dequantize + bias) is applied by the kernel to the
//!    accumulators still in registers, and the tile goes to C as f32, once; otherwise (f16,
//!    bf16) the kernel stores the tile and the epilogue turns it into f32 while it is hot in
//!    L1.
//!
//! `KC` and `MC` are the f32 GEMM's rules ([`BlockSizes::for_tile`], from the cache sizes the
//! CPU reports) applied to the kernel's tile and the bytes of one packed weight value: on
//! Zen 4 (L1d 32 KiB, L2 1 MiB) the 14 x 32 int8 tile gets KC = 768, MC = 168 (a panel
//! piece of 24 KiB), the 14 x 32 bf16 tile KC = 384, MC = 168. BERT's 3072-deep products
//! (the FFN's second Linear) are the ones cut into depth blocks; before, their panels (96 KB
//! int8, 192 KB bf16) streamed from L2 once per tile.

use rayon::prelude::*;

use crate::ops::cpu::CacheSizes;
use crate::ops::matmul::BlockSizes;
pub use crate::ops::matmul::PAR_MIN_MACS;

/// The row block (MC) and depth block (KC, in k values) for kernel `K` on this CPU.
pub(crate) fn block_sizes<K: LowpTile>() -> BlockSizes {
    BlockSizes::for_tile(CacheSizes::detect(), K::MR, K::NR, std::mem::size_of::<K::B>())
}

/// The contract of a lower-precision microkernel: for `i < h`, `j < NR`,
/// `acc[i * NR + j] (+)= Σ_k A[i][k] · W[k][j]` over a depth of `kp` k values (`=` when `load`
/// is false, `+=` when it is true), where A's row `i` starts at `a[i * lda]` (in elements of
/// [`LowpTile::A`]) and W is `kp` rows of one panel in the kernel's packed layout. What `A[i][k]` means (a code minus an offset, a float, a
/// rounded float) is each kernel's to document.
pub(crate) trait LowpTile: Copy + Send + Sync {
    /// One element of the prepared A.
    type A: Copy + Sync;
    /// One element of a weight panel.
    type B: Copy + Sync;
    /// The accumulator (i32 for int8, f32 for half precision).
    type Acc: Copy + Default + Send;
    /// Rows of the tile.
    const MR: usize;
    /// Columns of the tile (the panel width).
    const NR: usize;
    /// k values per element of A (2 when A holds bf16 pairs). Each k value of the panel is
    /// NR elements of [`LowpTile::B`].
    const K_PER_A: usize = 1;
    /// How A is laid out. `false`: row-major, row `i` of the tile at `a[i * lda..]`. `true`:
    /// packed tiles (int8): the `MR` rows of a tile interleaved group by group, `MR` elements
    /// of A per k value, so a depth block starting at k = `pc` starts `pc * MR` elements into
    /// the tile, and a tile starting at row `r` (a multiple of MR) at `r * lda`.
    const PACKED_A: bool = false;
    /// Fills (or, with `load`, adds to) `acc[..h * NR]`. Panics if a slice is too short or `h`
    /// is not in `1..=MR`.
    #[allow(clippy::too_many_arguments)]
    fn tile(&self, kp: usize, h: usize, a: &[Self::A], lda: usize, b: &[Self::B], acc: &mut [Self::Acc], load: bool);
}

/// The epilogue: turns a finished tile into f32.
pub(crate) trait Finish<K: LowpTile>: Sync {
    /// True if [`Finish::last_block`] does the whole last depth block of a tile and writes C
    /// (the epilogue in the kernel's registers); false if the driver runs the kernel on the
    /// last block and then [`Finish::row`] on the stored tile.
    const IN_REGISTERS: bool = false;
    /// Row `i` of C, columns `col..col + out.len()`: `out[j] = f(acc[j])`.
    fn row(&self, i: usize, col: usize, acc: &[K::Acc], out: &mut [f32]);
    /// The last depth block of the tile whose rows start at row `i` of C (the kernel's
    /// arguments as in [`LowpTile::tile`]), finished and written to `out[r][jc..jc + nr]`
    /// (`out.len() == h`; columns `col..col + nr` of C). Only called when
    /// [`Finish::IN_REGISTERS`].
    #[allow(clippy::too_many_arguments)]
    fn last_block(&self, _tile: LastBlock<'_, '_, K>, _out: &mut [&mut [f32]], _jc: usize) {
        unreachable!("last_block is only called for an epilogue IN_REGISTERS")
    }
}

/// One tile's last depth block, as [`Finish::last_block`] receives it.
pub(crate) struct LastBlock<'a, 'k, K: LowpTile> {
    /// The kernel.
    pub kernel: &'k K,
    /// Depth of the block in k values.
    pub depth: usize,
    /// Rows of the tile (`1..=MR`).
    pub h: usize,
    /// The tile's A from the block's first k on (a packed tile, or rows `lda` apart as the
    /// driver's `Problem` says).
    pub a: &'a [K::A],
    /// The panel from the block's first k on.
    pub b: &'a [K::B],
    /// The accumulators of the earlier depth blocks (read when `load`).
    pub acc: &'a mut [K::Acc],
    pub load: bool,
    /// Row of C of the tile's first row, column of C of its first column, columns to write.
    pub i: usize,
    pub col: usize,
    pub nr: usize,
}

/// One product: `m x n` outputs over depth `kp`, A prepared, the weight packed.
pub(crate) struct Problem<'a, A, B> {
    /// Rows of A and C.
    pub m: usize,
    /// Columns of C (output features).
    pub n: usize,
    /// Depth in k values, padded as the panels are.
    pub kp: usize,
    /// The prepared A: row `i` at `a[i * lda..]`.
    pub a: &'a [A],
    /// Elements of `a` per row.
    pub lda: usize,
    /// The packed weight: panel `p` (columns `p NR..p NR + NR`) at `panels[p * panel_len..]`.
    pub panels: &'a [B],
    /// Elements per panel.
    pub panel_len: usize,
}

/// `C = epilogue(A·W)` on all threads of the current rayon pool. `c: m x n`, row `i` at
/// `i * ldc` (`ldc >= n`, checked by the caller along with every other length).
pub(crate) fn gemm<K: LowpTile, F: Finish<K>>(
    kernel: K,
    p: &Problem<K::A, K::B>,
    finish: &F,
    c: &mut [f32],
    ldc: usize,
) {
    let (m, n) = (p.m, p.n);
    if m == 0 || n == 0 {
        return;
    }
    let mut rows: Vec<&mut [f32]> = c.chunks_mut(ldc.max(n)).take(m).map(|r| &mut r[..n]).collect();
    let panels = n.div_ceil(K::NR);
    let work = m.saturating_mul(n).saturating_mul(p.kp);
    let tasks = rayon::current_num_threads().min(work / PAR_MIN_MACS);
    if tasks < 2 {
        return slab(kernel, p, finish, 0, 0, &mut rows);
    }
    if m >= tasks * 2 * K::MR {
        // Row bands, cut at multiples of MR; every band reads every panel.
        let tiles = m.div_ceil(K::MR);
        let bounds: Vec<usize> = (0..=tasks).map(|t| (tiles * t / tasks * K::MR).min(m)).collect();
        let mut bands: Vec<(usize, &mut [&mut [f32]])> = Vec::with_capacity(tasks);
        let mut rest = &mut rows[..];
        for t in 0..tasks {
            let (band, tail) = rest.split_at_mut(bounds[t + 1] - bounds[t]);
            bands.push((bounds[t], band));
            rest = tail;
        }
        bands.into_par_iter().for_each(|(i0, band)| slab(kernel, p, finish, i0, 0, band));
    } else {
        // Column bands, cut at panel boundaries; each owns its piece of every row of C.
        let tasks = tasks.min(panels);
        let bounds: Vec<usize> = (0..=tasks).map(|t| (panels * t / tasks * K::NR).min(n)).collect();
        let mut parts: Vec<Vec<&mut [f32]>> = (0..tasks).map(|_| Vec::with_capacity(m)).collect();
        for row in rows {
            let mut rest = row;
            for (t, part) in parts.iter_mut().enumerate() {
                let (piece, tail) = rest.split_at_mut(bounds[t + 1] - bounds[t]);
                part.push(piece);
                rest = tail;
            }
        }
        parts.into_par_iter().enumerate().for_each(|(t, mut band)| slab(kernel, p, finish, 0, bounds[t], &mut band));
    }
}

/// Rows `i0..i0 + c.len()` and columns `j0..j0 + c[0].len()` of C (`i0` a multiple of MR or
/// 0, `j0` a multiple of NR): loops 2 to 5 of the module docs.
fn slab<K: LowpTile, F: Finish<K>>(
    kernel: K,
    p: &Problem<K::A, K::B>,
    finish: &F,
    i0: usize,
    j0: usize,
    c: &mut [&mut [f32]],
) {
    let (height, width) = (c.len(), c.first().map_or(0, |r| r.len()));
    let BlockSizes { mc, kc, .. } = block_sizes::<K>();
    // KC is a multiple of 16 k values, so every depth block but the last is whole groups
    // (int8: 4 k) and pairs (bf16), and the last ends where the padded depth does.
    let (mc, kc) = (mc.max(K::MR) / K::MR * K::MR, kc.max(16));
    let tile_len = K::MR * K::NR;
    let mut acc = vec![K::Acc::default(); mc.min(height.next_multiple_of(K::MR)) / K::MR * tile_len];
    // With no depth at all (k = 0) there is no last block: the stored-tile path writes C.
    let in_registers = F::IN_REGISTERS && p.kp > 0;
    for b0 in (0..height).step_by(mc) {
        let b_end = (b0 + mc).min(height);
        for jc in (0..width).step_by(K::NR) {
            let col = j0 + jc;
            let nr = K::NR.min(width - jc);
            let panel = &p.panels[col / K::NR * p.panel_len..][..p.panel_len];
            for pc in (0..p.kp).step_by(kc) {
                let depth = kc.min(p.kp - pc);
                let piece = &panel[pc * K::NR..];
                for (t, r0) in (b0..b_end).step_by(K::MR).enumerate() {
                    let h = K::MR.min(b_end - r0);
                    let a_at = if K::PACKED_A { pc * K::MR } else { pc } / K::K_PER_A;
                    let a = &p.a[(i0 + r0) * p.lda + a_at..];
                    let acc = &mut acc[t * tile_len..];
                    if in_registers && pc + depth == p.kp {
                        let (load, i) = (pc > 0, i0 + r0);
                        let tile = LastBlock { kernel: &kernel, depth, h, a, b: piece, acc, load, i, col, nr };
                        finish.last_block(tile, &mut c[r0..r0 + h], jc);
                    } else {
                        kernel.tile(depth, h, a, p.lda, piece, acc, pc > 0);
                    }
                }
            }
            if in_registers {
                continue;
            }
            for (t, r0) in (b0..b_end).step_by(K::MR).enumerate() {
                let h = K::MR.min(b_end - r0);
                for r in 0..h {
                    let row = &acc[t * tile_len + r * K::NR..][..nr];
                    finish.row(i0 + r0 + r, col, row, &mut c[r0 + r][jc..jc + nr]);
                }
            }
        }
    }
}
