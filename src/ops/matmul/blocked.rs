//! # Rung 2: cache blocking with packed panels (the five loops of BLIS)
//!
//! Rung 1 streams all of B through the core for every row of A. The cure is to cut the
//! problem into blocks sized for each level of the memory hierarchy, so that every float
//! brought into a cache is used many times before it is evicted. This is the loop nest of
//! GotoBLAS / BLIS (Goto & van de Geijn 2008; Van Zee & van de Geijn 2015), five loops
//! around a microkernel:
//!
//! ```text
//! loop 5  jc: columns of C and B in steps of NC    B~ (KC x NC) is sized for L3
//! loop 4  pc: k in steps of KC  ── pack B~ ──       (a KC-row slab of B, NR-wide panels)
//! loop 3  ic: rows of C and A in steps of MC ── pack A~ ── A~ (MC x KC) is sized for L2
//! loop 2  jr: one NR-wide panel of B~               B~ panel (KC x NR) stays in L1
//! loop 1  ir: one MR-tall panel of A~               A~ panel streams from L2
//!         microkernel: C[ir.., jr..] (+)= A~ panel · B~ panel   (tile in registers)
//! ```
//!
//! Every C tile gets `k / KC` visits (overwrite on the first, add on the next), each of which
//! performs `2 · MR · NR · KC` flops on data already sitting in L1 and L2. Packing (see
//! `pack.rs`) puts each block in the order the kernel reads it.
//!
//! This file is generic over the microkernel: rung 2 runs it with the portable kernel, rung 3
//! with the AVX2 or AVX-512 kernels (`kernels/`), rung 4 runs it on each core (`parallel.rs`).
//!
//! ## Block sizes (derived from the caches, then checked by measurement)
//!
//! Caches of the machines we target: L1d 32-48 KiB, L2 1-2 MiB per core, L3 many MiB shared.

use std::cell::RefCell;

use super::kernels::MicroKernel;
use super::pack::{self, MatRef};

/// Depth of a block (loop 4). One B~ panel, `KC x NR` floats (32 KiB for NR = 32), is reused
/// by every A~ panel of the block and must stay in L1 beside the A~ panel streaming through
/// (`KC x MR`, 14 KiB): 256 fills a 48 KiB L1 without evicting the B~ panel. Larger KC also
/// means fewer passes over C (each pass loads and stores the whole C tile).
pub const KC: usize = 256;

/// Rows of an A~ block (loop 3), rounded down to a multiple of MR. `MC x KC` floats must stay
/// in L2 while every B~ panel of the slab passes over it: 192 x 256 x 4 B = 192 KiB, well
/// inside a 1-2 MiB L2, which leaves room for the B~ panels and C tiles streaming through.
pub const MC: usize = 192;

/// Columns of a B~ slab (loop 5). `KC x NC` floats (3 MiB at NC = 3072) live in L3 (or the
/// L2 of a big-L2 core); 3072 also covers BERT's widest layer in one slab, so B is packed
/// exactly once per KC slab.
pub const NC: usize = 3072;

thread_local! {
    /// Packing buffers (A~, B~), reused across calls on each thread: allocating and
    /// page-faulting megabytes per call would cost more than the packing itself.
    static BUFFERS: RefCell<(Vec<f32>, Vec<f32>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

/// C (`m` rows, given as row slices, columns `0..n`) = A·B, A `m x k`, B `k x n`.
///
/// `c[i]` is row i of C (at least `n` long); rows rather than a pointer and a stride, so that
/// `parallel.rs` can hand disjoint column ranges of the same rows to different threads.
pub(crate) fn gemm<K: MicroKernel>(
    kernel: K,
    m: usize,
    k: usize,
    n: usize,
    a: MatRef,
    b: MatRef,
    c: &mut [&mut [f32]],
) {
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        c.iter_mut().take(m).for_each(|row| row[..n].fill(0.0));
        return;
    }
    let (mr, nr) = (K::MR, K::NR);
    let mc_max = (MC / mr * mr).max(mr);
    with_buffers(|a_buf, b_buf| {
        // Loop 5: a slab of NC columns of B and C.
        for jc in (0..n).step_by(NC) {
            let nc = NC.min(n - jc);
            // Loop 4: KC of the k dimension; pack B[pc.., jc..] into NR-wide panels.
            for pc in (0..k).step_by(KC) {
                let kc = KC.min(k - pc);
                let b_pack = aligned(b_buf, nc.div_ceil(nr) * nr * kc);
                for (jp, panel) in b_pack.chunks_exact_mut(nr * kc).enumerate() {
                    let j0 = jc + jp * nr;
                    kernel.pack_b_panel(b, pc, kc, j0, nr.min(n - j0), panel);
                }
                // Loop 3: MC rows of A and C; pack A[ic.., pc..] into MR-tall panels.
                for ic in (0..m).step_by(mc_max) {
                    let mc = mc_max.min(m - ic);
                    let a_pack = aligned(a_buf, mc * kc);
                    let panels: Vec<(usize, usize)> = pack::row_panels(mc, mr).collect();
                    for &(ir, h) in &panels {
                        kernel.pack_a_panel(a, ic + ir, h, pc, kc, &mut a_pack[ir * kc..(ir + h) * kc]);
                    }
                    let c_block = &mut c[ic..ic + mc];
                    // Loop 2: one B~ panel (stays in L1 for all of loop 1).
                    for (jp, b_panel) in b_pack.chunks_exact(nr * kc).enumerate() {
                        let jr = jp * nr;
                        let nr_eff = nr.min(nc - jr);
                        // Loop 1: one A~ panel; the microkernel updates one tile of C.
                        for &(ir, h) in &panels {
                            let a_panel = &a_pack[ir * kc..(ir + h) * kc];
                            let c_tile = &mut c_block[ir..ir + h];
                            kernel.tile(kc, h, nr_eff, a_panel, b_panel, c_tile, jc + jr, pc > 0);
                        }
                    }
                }
            }
        }
    });
}

/// Runs `f` with this thread's packing buffers (taken out while in use, so a nested call
/// would just allocate its own rather than fail).
fn with_buffers<R>(f: impl FnOnce(&mut Vec<f32>, &mut Vec<f32>) -> R) -> R {
    let (mut a, mut b) = BUFFERS.with(|cell| std::mem::take(&mut *cell.borrow_mut()));
    let result = f(&mut a, &mut b);
    BUFFERS.with(|cell| *cell.borrow_mut() = (a, b));
    result
}

/// A `len`-float slice of `buf` starting on a 64-byte (cache line) boundary, so every
/// vector load of a packed panel is aligned and never splits a cache line.
fn aligned(buf: &mut Vec<f32>, len: usize) -> &mut [f32] {
    const PAD: usize = 16;
    if buf.len() < len + PAD {
        buf.resize(len + PAD, 0.0);
    }
    let skip = buf.as_ptr().align_offset(64).min(PAD);
    &mut buf[skip..skip + len]
}
