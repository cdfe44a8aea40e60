//! # A Linear's weight as its GEMM reads it: one type per [`Precision`]
//!
//! `nn::Linear` keeps its weight `[out, in]` in f32, as the checkpoint stores it (usually
//! borrowed from the mmapped file): that copy is what printing, parameter counts and the
//! references read. The GEMM reads a second copy, laid out for its microkernel, in one of
//! four formats. [`Storage`] is that copy:
//!
//! | variant | built | what [`Storage::gemm`] runs |
//! |---------|-------|-----------------------------|
//! | [`Storage::F32`] | on the first product (panels of `ops::matmul::prepacked`) | `sgemm_prepacked` |
//! | [`Storage::Half`] | by [`Storage::new`] (f16 or bf16 panels, `half.rs`) | `gemm_half` |
//! | [`Storage::Int8`] | by [`Storage::new`] (int8 panels, a scale per output channel, `int8.rs`) | `gemm_i8` |
//!
//! Packing the f32 weight on first use rather than at construction means a model that is only
//! printed, or a layer that never runs, costs nothing; the packed copy is owned (as many bytes
//! as the weight, plus a fraction of a percent of padding). For BERT-base that is about 340 MB
//! of packed weights next to the 440 MB file. The f16, bf16 and int8 copies are built when a
//! model is converted (`nn::to_precision`, which takes the model by `&mut`: a storage never
//! changes under a shared reference; the f32 panels are filled in once, with the same numbers
//! whoever fills them).
//!
//! Every variant computes the same `y = epilogue(x·Wᵀ)` with the same [`Epilogue`] (none, the
//! bias, or the bias then GELU) applied by its GEMM, so fusion works at every precision.

use std::sync::OnceLock;

use super::Precision;
use super::half::{self, HalfKernel, PackedHalf};
use super::int8::{I8Kernel, PackedI8};
use crate::ops::matmul::{Backend, Epilogue, Gemm, MatMut, MatRef, PackedB};
use crate::{Error, Result};

/// The fast copy of a Linear weight the GEMM reads, in one of the [`Precision`]s.
#[derive(Debug)]
pub enum Storage {
    /// f32, packed into the f32 microkernel's panels on the first product.
    F32(OnceLock<PackedB>),
    /// f16 or bf16 panels (see `half.rs`).
    Half(PackedHalf),
    /// int8 panels with per-output-channel scales (see `int8.rs`).
    Int8(PackedI8),
}

impl Default for Storage {
    fn default() -> Self {
        Storage::F32(OnceLock::new())
    }
}

impl Storage {
    /// The weight `w: [n, k]` (row-major f32) in precision `p`, with this CPU's best kernel
    /// for it. `smooth` (int8 only, `[k]`, > 0): SmoothQuant factors folded into the weight
    /// (see [`PackedI8::with_kernel`]). Errors on a non-finite weight or bad factors.
    pub fn new(p: Precision, w: &[f32], n: usize, k: usize, smooth: Option<&[f32]>) -> Result<Storage> {
        Storage::with_kernels(p, w, n, k, smooth, None, None)
    }

    /// [`Storage::new`] with a forced int8 or f16/bf16 kernel (`None`: the best this CPU has;
    /// a half kernel that cannot run `p` is ignored).
    pub fn with_kernels(
        p: Precision,
        w: &[f32],
        n: usize,
        k: usize,
        smooth: Option<&[f32]>,
        int8: Option<I8Kernel>,
        half: Option<HalfKernel>,
    ) -> Result<Storage> {
        Ok(match p {
            Precision::F32 => Storage::default(),
            Precision::F16 | Precision::Bf16 => {
                let kernel = half.filter(|h| h.handles(p)).unwrap_or_else(|| HalfKernel::best(p));
                Storage::Half(PackedHalf::with_kernel(kernel, p, w, n, k)?)
            }
            Precision::Int8 => {
                Storage::Int8(PackedI8::with_kernel(int8.unwrap_or_else(I8Kernel::best), w, n, k, smooth)?)
            }
        })
    }

    /// The precision of this storage.
    pub fn precision(&self) -> Precision {
        match self {
            Storage::F32(_) => Precision::F32,
            Storage::Half(h) => h.precision(),
            Storage::Int8(_) => Precision::Int8,
        }
    }

    /// `(n, k)` of the weight this storage was built from (`None` for f32, packed lazily from
    /// whatever weight it is given).
    pub fn shape(&self) -> Option<(usize, usize)> {
        match self {
            Storage::F32(_) => None,
            Storage::Half(h) => Some((h.n(), h.k())),
            Storage::Int8(q) => Some((q.n(), q.k())),
        }
    }

    /// Bytes of weight this storage keeps for the fast path, for an `[out, in]` weight:
    /// the packed copy when it exists (panels, scales, padding), else what it will take.
    pub fn bytes(&self, out_features: usize, in_features: usize) -> usize {
        match self {
            Storage::F32(p) => p.get().map(|p| p.bytes()).unwrap_or(out_features * in_features * 4),
            Storage::Half(h) => h.bytes(),
            Storage::Int8(q) => q.bytes(),
        }
    }

    /// Bytes an `[n, k]` weight would take in precision `p` with this CPU's best kernel
    /// (panels with padding; int8 scales and column sums), from the packing formulas, without
    /// packing anything. f32 counts `4 n k` (its panels add well under 1% of padding).
    pub fn bytes_for(p: Precision, n: usize, k: usize) -> usize {
        match p {
            Precision::F32 => 4 * n * k,
            Precision::F16 | Precision::Bf16 => {
                let (_, nr) = HalfKernel::best(p).tile_shape();
                2 * n.div_ceil(nr) * nr * k.div_ceil(half::pair(p)) * half::pair(p)
            }
            Precision::Int8 => {
                let (_, nr) = I8Kernel::best().tile_shape();
                n.div_ceil(nr) * nr * k.div_ceil(4) * 4 + 8 * n
            }
        }
    }

    /// `y = epilogue(x·Wᵀ)` for `x: [rows, k]`, `y: [rows, n]` (row-major, overwritten), `w`
    /// the f32 weight `[n, k]` this storage stands for (packed here on the first product for
    /// [`Storage::F32`], and read as stored by the `matrixmultiply` comparison backend).
    /// Errors if a slice is too short for its matrix or the storage was built for another shape.
    #[allow(clippy::too_many_arguments)]
    pub fn gemm(
        &self,
        gemm: &Gemm,
        w: &[f32],
        x: &[f32],
        rows: usize,
        y: &mut [f32],
        (n, k): (usize, usize),
        epilogue: Epilogue<'_>,
    ) -> Result<()> {
        if x.len() < rows * k || y.len() < rows * n || w.len() < n * k || self.shape().is_some_and(|s| s != (n, k)) {
            return Err(Error::invalid(
                "Storage::gemm",
                format!(
                    "{} values of x, {} of y, {} of weight for {rows} rows of {k} -> {n} with a {} storage of {:?}",
                    x.len(),
                    y.len(),
                    w.len(),
                    self.precision(),
                    self.shape()
                ),
            ));
        }
        let (x, y) = (&x[..rows * k], &mut y[..rows * n]);
        let flops = (2 * rows * k * n) as u64;
        let io_bytes = 4 * (rows * k + rows * n);
        let op = |bytes: usize| crate::profile::op("gemm", flops, (io_bytes + bytes) as u64);
        match self {
            Storage::F32(packed) => {
                let (x, w_t, y) =
                    (MatRef::new(x, rows, k), MatRef::new(&w[..n * k], n, k).t(), MatMut::new(y, rows, n));
                if gemm.backend() == Backend::MatrixMultiply {
                    // The comparison backend cannot read our panels: give it the weight as stored.
                    let _o = op(4 * n * k);
                    return gemm.sgemm(x, w_t, y, epilogue);
                }
                let packed = match packed.get() {
                    Some(p) => p,
                    None => {
                        let _o = crate::profile::op("pack weights (once)", 0, 8 * (n * k) as u64);
                        let p = PackedB::new(w_t)?;
                        packed.get_or_init(|| p)
                    }
                };
                let _o = op(4 * n * k);
                gemm.sgemm_prepacked(x, packed, y, epilogue)
            }
            Storage::Half(h) => {
                let _o = op(h.bytes());
                half::gemm_half(rows, x, k, h, y, n, epilogue)
            }
            Storage::Int8(q) => {
                let _o = op(q.bytes());
                super::int8::gemm_i8(rows, x, k, q, y, n, epilogue)
            }
        }
    }
}
