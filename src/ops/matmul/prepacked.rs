//! # Pre-packed weights: pack B once, multiply many times
//!
//! The blocked loops (`blocked.rs`) copy every block of B into the microkernel's panel
//! layout (`pack.rs`) on every call. For a product with many rows that copy is cheap next to
//! the arithmetic: each packed float of B is used by all `m` rows of A. For a Linear layer at
//! 128 tokens it is not: the whole weight (768 x 3072 floats, 9.4 MB) is read from memory,
//! copied and written back to the packing buffer for only 128 rows of A, and that costs a
//! large share of the call (perf put most of the gap to the FMA peak there).
//!
//! But a weight does not change between calls. Inference libraries (oneDNN, XNNPACK, ...)
//! therefore pack it *once*, when the model is loaded, into exactly the layout the blocked
//! loops would have produced, and then run GEMMs that only pack A. That is [`PackedB`] and
//! [`sgemm_prepacked`]: the same five loops, the same microkernel, the same rayon split;
//! loop 4 just looks the B~ block up instead of building it.
//!
//! ```text
//! PackedB, for each KC-deep block of k (kb = 0, 1, ...):
//!   panel 0 | pad | panel 1 | pad | ... | panel n/NR - 1 | pad
//!   (a panel: kc steps of NR columns, zero-padded at the right edge; pad: PANEL_PAD floats)
//! loop 4 of blocked.rs, slab jc..jc+NC, block kb  ==>  panels jc/NR .. (jc+NC)/NR of block kb
//! ```
//!
//! The price: the packed copy is owned memory (the weight size, plus a fraction of a percent
//! of padding) next to the original, and packing ties the copy to one microkernel (its NR)
//! and to the block depth KC (from the caches of the CPU that packed it), both recorded in
//! the [`PackedB`].
//!
//! One detail made it pay: pre-packed panels come from L3 or memory, not from a buffer the
//! core has just written, so loop 2 prefetches the next B~ panel into L2 while the kernel
//! works on the current one (`MicroKernel::prefetch`, first pass over each block only).
//!
//! Gained, one core (docs/matmul.md, "Pre-packing the weights", Zen 4): 2-13% on the M = 128
//! Linear shapes, 86-92% of the FMA peak instead of 77-90% in the same run; 0-2% at M = 1024,
//! where each packed panel already serves 1024 rows. Packing a weight once costs a fifth to a
//! third of one call at M = 128 (0.3-1.6 ms for BERT's weights).

use rayon::prelude::*;

use super::blocked::{self, BlockSizes, PANEL_PAD};
use super::epilogue::Epilogue;
use super::gemm::Gemm;
use super::kernels::{self, Kernel, KernelFn, MicroKernel};
use super::view::{MatMut, MatRef};
use crate::{Error, Result};

/// A k x n matrix B packed once into the panels of one microkernel (see the module docs).
#[derive(Clone, Debug)]
pub struct PackedB {
    k: usize,
    n: usize,
    kernel: Kernel,
    /// Panel width (the kernel's NR) and block depth (`KC`) the panels were cut with.
    nr: usize,
    kc: usize,
    /// Panels, starting at `data[start]` (64-byte aligned, like the packing buffers).
    data: Vec<f32>,
    start: usize,
}

impl PackedB {
    /// Packs B (`k x n`, any [`MatRef`]) for the best microkernel of this CPU. A Linear
    /// weight stored `[out, in]` is packed as `MatRef::new(w, out, inp).t()` (k = in, n = out),
    /// never transposed in memory.
    ///
    /// Errors if the slice is too short for the view.
    pub fn new(b: MatRef) -> Result<PackedB> {
        PackedB::with_kernel(Kernel::best(), b)
    }

    /// [`PackedB::new`] for a given microkernel (errors if this CPU does not support it).
    pub fn with_kernel(kernel: Kernel, b: MatRef) -> Result<PackedB> {
        b.check("PackedB::new", "B")?;
        let (k, n) = (b.rows, b.cols);
        kernels::with_kernel(kernel, Pack { k, n, b })
            .map(|(nr, kc, data, start)| PackedB { k, n, kernel, nr, kc, data, start })
            .ok_or_else(|| {
                Error::invalid("PackedB::new", format!("this CPU does not support the {} kernel", kernel.name()))
            })
    }

    /// Rows of B (the inner dimension of the product).
    pub fn k(&self) -> usize {
        self.k
    }

    /// Columns of B (and of C).
    pub fn n(&self) -> usize {
        self.n
    }

    /// The microkernel the panels were packed for.
    pub fn kernel(&self) -> Kernel {
        self.kernel
    }

    /// (panel width NR, block depth KC) the panels were cut with.
    pub fn block_sizes(&self) -> (usize, usize) {
        (self.nr, self.kc)
    }

    /// Memory owned by the packed copy, in bytes.
    pub fn bytes(&self) -> usize {
        self.data.capacity() * std::mem::size_of::<f32>()
    }

    pub(crate) fn panels(&self) -> PackedPanels<'_> {
        PackedPanels {
            data: &self.data[self.start..],
            panels: self.n.div_ceil(self.nr),
            nr: self.nr,
            kc: self.kc,
            first: 0,
        }
    }
}

/// Packs every KC-deep block of B (KC from the kernel's [`BlockSizes`] on this CPU), all n
/// columns, one block per rayon task: returns (NR, KC, the buffer, where the panels start).
struct Pack<'b> {
    k: usize,
    n: usize,
    b: MatRef<'b>,
}

impl KernelFn<(usize, usize, Vec<f32>, usize)> for Pack<'_> {
    fn call<K: MicroKernel>(self, kernel: K) -> (usize, usize, Vec<f32>, usize) {
        let (k, n, nr, kc_max) = (self.k, self.n, K::NR, BlockSizes::for_kernel::<K>().kc);
        let panels = n.div_ceil(nr);
        let block_len = |kc: usize| panels * (nr * kc + PANEL_PAD);
        let len: usize = (0..k).step_by(kc_max).map(|pc| block_len(kc_max.min(k - pc))).sum();
        let mut data = Vec::new();
        let start = {
            let packed = blocked::aligned(&mut data, len);
            // Cut the buffer into its k blocks (all KC deep but the last) and fill them in parallel.
            let mut blocks = Vec::new();
            let mut rest = packed;
            for pc in (0..k).step_by(kc_max) {
                let kc = kc_max.min(k - pc);
                let (block, tail) = rest.split_at_mut(block_len(kc));
                blocks.push((pc, kc, block));
                rest = tail;
            }
            let b = self.b;
            blocks.into_par_iter().for_each(|(pc, kc, block)| blocked::pack_b_panels(kernel, b, pc, kc, 0, n, block));
            packed_start(&data)
        };
        (nr, kc_max, data, start)
    }
}

/// Where [`blocked::aligned`] put the packed panels in `data` (its first 64-byte boundary).
fn packed_start(data: &[f32]) -> usize {
    data.as_ptr().align_offset(64).min(16)
}

/// A view of packed panels for the blocked loops: columns from panel `first` on.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PackedPanels<'a> {
    data: &'a [f32],
    /// Panels per k block (all n columns).
    panels: usize,
    nr: usize,
    /// Depth of every block but the last.
    pub(crate) kc: usize,
    first: usize,
}

impl<'a> PackedPanels<'a> {
    /// The B~ block loop 4 of `blocked.rs` would have packed for rows `pc..pc + kc` and columns
    /// `jc..jc + nc` (relative to this view; `jc` a multiple of NR): its panels, `nr * kc +
    /// PANEL_PAD` floats apart.
    pub(crate) fn block(&self, pc: usize, kc: usize, jc: usize, nc: usize) -> &'a [f32] {
        assert!(pc.is_multiple_of(self.kc) && jc.is_multiple_of(self.nr), "packed block at ({pc}, {jc}) off the grid");
        let base = pc / self.kc * self.panels * (self.nr * self.kc + PANEL_PAD);
        let stride = self.nr * kc + PANEL_PAD;
        let p0 = self.first + jc / self.nr;
        &self.data[base + p0 * stride..base + (p0 + nc.div_ceil(self.nr)) * stride]
    }

    /// The columns from `j0` on (`j0` a multiple of NR: `parallel.rs` splits there).
    pub(crate) fn columns_from(self, j0: usize) -> PackedPanels<'a> {
        assert!(j0.is_multiple_of(self.nr), "column split at {j0}, not a multiple of NR = {}", self.nr);
        PackedPanels { first: self.first + j0 / self.nr, ..self }
    }
}

/// C = epilogue(A·B) with B packed ahead of time; f32, C overwritten.
///
/// - `a`: m×k (`k = b.k()`), any [`MatRef`];
/// - `b`: B, packed by [`PackedB::new`];
/// - `c`: m×n (`n = b.n()`);
/// - `epilogue`: bias (length n) and GELU applied to each tile of C as it is finished.
///
/// The best rung (rung 4: all threads of the current rayon pool) with loop 4 reading the
/// packed panels; only A is packed per call. [`Gemm::sgemm_prepacked`] chooses threading.
///
/// Errors (naming the matrix and its shape) if a slice is too short for its view, the shapes
/// do not fit, or the bias length is not n.
pub fn sgemm_prepacked(a: MatRef, b: &PackedB, c: MatMut, epilogue: Epilogue) -> Result<()> {
    Gemm::default().sgemm_prepacked(a, b, c, epilogue)
}
