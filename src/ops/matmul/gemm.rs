//! # `Gemm`: which implementation runs a product, and on how many threads
//!
//! There is no process-wide switch. A [`Gemm`] value says which implementation to run
//! (nanobert's kernels or the `matrixmultiply` crate, the yardstick), which microkernel,
//! and whether to spread the product over the threads of the current rayon pool; code that
//! wants a choice takes a `Gemm` and passes it down. [`Gemm::default`] is the fastest
//! choice for this CPU, what the free functions ([`super::sgemm`], ...) use.
//!
//! Threads: "parallel" means all threads of the rayon pool the call runs in; choose the
//! count with `rayon::ThreadPool::install` around the call.

use super::backend;
use super::batched::{self, Run};
use super::blocked::{BSource, BlockSizes};
use super::epilogue::Epilogue;
use super::kernels::{self, Kernel};
use super::prepacked::PackedB;
use super::view::{BatchStrides, MatMut, MatRef, check_gemm};
use crate::{Error, Result};

/// Which implementation runs the product.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Backend {
    /// nanobert's own blocked loops and microkernels.
    Nanobert,
    /// The `matrixmultiply` crate (for comparison; epilogues run as a second pass).
    MatrixMultiply,
}

impl Backend {
    /// Short name for tables.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Nanobert => "nanobert",
            Backend::MatrixMultiply => "matrixmultiply",
        }
    }
}

/// How to run a GEMM: backend, microkernel and threading, chosen explicitly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Gemm {
    backend: Backend,
    kernel: Kernel,
    parallel: bool,
    /// Block sizes chosen explicitly (`None`: from this CPU's caches, for the kernel).
    blocks: Option<BlockSizes>,
}

impl Default for Gemm {
    /// nanobert's best kernel for this CPU, on all threads of the current rayon pool.
    fn default() -> Gemm {
        Gemm { backend: Backend::Nanobert, kernel: Kernel::best(), parallel: true, blocks: None }
    }
}

impl Gemm {
    /// The `matrixmultiply` crate, split by rows over the current rayon pool when large.
    pub fn matrixmultiply() -> Gemm {
        Gemm { backend: Backend::MatrixMultiply, ..Gemm::default() }
    }

    /// This choice with a given microkernel; errors if the CPU cannot run it.
    pub fn with_kernel(self, kernel: Kernel) -> Result<Gemm> {
        if !kernel.is_supported() {
            return Err(Error::invalid("Gemm", format!("this CPU does not support the {} kernel", kernel.name())));
        }
        Ok(Gemm { kernel, ..self })
    }

    /// This choice on all threads of the current rayon pool (`true`) or on the calling thread.
    pub fn parallel(self, parallel: bool) -> Gemm {
        Gemm { parallel, ..self }
    }

    /// This choice with explicit block sizes (MC and NC are rounded up to the kernel's tile)
    /// instead of those derived from the caches ([`BlockSizes::for_tile`]); for
    /// measurements. A pre-packed B keeps the depth KC it was packed with.
    ///
    /// Errors if a size is 0.
    pub fn with_blocks(self, blocks: BlockSizes) -> Result<Gemm> {
        if blocks.mc == 0 || blocks.kc == 0 || blocks.nc == 0 {
            return Err(Error::invalid("Gemm", format!("block sizes must be positive, got {blocks:?}")));
        }
        Ok(Gemm { blocks: Some(blocks), ..self })
    }

    /// The block sizes chosen with [`Gemm::with_blocks`], if any.
    pub fn blocks(&self) -> Option<BlockSizes> {
        self.blocks
    }

    /// The backend.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The microkernel (nanobert's backend only).
    pub fn kernel(&self) -> Kernel {
        self.kernel
    }

    /// True if products are spread over the current rayon pool.
    pub fn is_parallel(&self) -> bool {
        self.parallel
    }

    /// `C = epilogue(A·B)`; C is overwritten. Shapes: A `m x k`, B `k x n`, C `m x n`
    /// (any of the views may be transposed or strided, see [`MatRef`]).
    ///
    /// Errors (naming the matrix and its shape) if a slice is too short for its view, the
    /// shapes do not agree, or the bias length is not `n`.
    pub fn sgemm(&self, a: MatRef, b: MatRef, c: MatMut, epilogue: Epilogue) -> Result<()> {
        let (_, _, n) = check_gemm("sgemm", &a, &b, &c)?;
        epilogue.check("sgemm", n)?;
        self.run(a, b, c, epilogue)
    }

    /// [`Gemm::sgemm`] with B packed ahead of time ([`PackedB`]). Only nanobert's backend can
    /// read packed panels (an error otherwise); the kernel is the one `b` was packed for.
    pub fn sgemm_prepacked(&self, a: MatRef, b: &PackedB, c: MatMut, epilogue: Epilogue) -> Result<()> {
        const OP: &str = "sgemm_prepacked";
        if self.backend != Backend::Nanobert {
            return Err(Error::invalid(
                OP,
                "packed panels are nanobert's layout: the matrixmultiply backend cannot read them",
            ));
        }
        let (k, n) = (b.k(), b.n());
        a.check(OP, "A")?;
        c.check(OP, "C")?;
        epilogue.check(OP, n)?;
        if a.cols != k || c.rows != a.rows || c.cols != n {
            return Err(Error::invalid(
                OP,
                format!(
                    "A ({} x {}) times packed B ({k} x {n}) does not fit C ({} x {})",
                    a.rows, a.cols, c.rows, c.cols
                ),
            ));
        }
        let m = a.rows;
        if m == 0 || n == 0 {
            return Ok(());
        }
        let run = Run { parallel: self.parallel, blocks: self.blocks, a, b: BSource::Packed(b.panels()), c, epilogue };
        kernels::with_kernel(b.kernel(), run)
            .ok_or_else(|| Error::invalid(OP, format!("this CPU does not support the {} kernel", b.kernel().name())))
    }

    /// A batch of independent products `C_t = A_t·B_t` for `t < count`, where matrix `t` of
    /// each operand starts `t * stride` floats after the view's start (see [`BatchStrides`];
    /// the views give the shape of every matrix). Small products are spread over threads one
    /// product per task; large ones run one after another, each on all threads.
    ///
    /// Errors as [`Gemm::sgemm`] (for the last matrix of the batch, whose slice is the
    /// shortest), and if two C matrices overlap.
    pub fn sgemm_batched(&self, count: usize, strides: BatchStrides, a: MatRef, b: MatRef, c: MatMut) -> Result<()> {
        const OP: &str = "sgemm_batched";
        if count == 0 {
            return Ok(());
        }
        let offsets = |stride: usize| (0..count).map(|t| t * stride).collect::<Vec<usize>>();
        let (a_offs, b_offs, c_offs) = (offsets(strides.a), offsets(strides.b), offsets(strides.c));
        let last = count - 1;
        let a_last = MatRef { data: a.data.get(a_offs[last]..).unwrap_or(&[]), ..a };
        let b_last = MatRef { data: b.data.get(b_offs[last]..).unwrap_or(&[]), ..b };
        let within = |e: Error| Error::invalid(OP, format!("matrix {last} of {count}: {e}"));
        {
            let c_last = MatMut::strided(c.data.get_mut(c_offs[last]..).unwrap_or(&mut []), c.rows, c.cols, c.ld);
            check_gemm(OP, &a_last, &b_last, &c_last).map_err(within)?;
        }
        let (ldc, c_data) = (c.ld, c.data);
        batched::gemm_batch(*self, a, &a_offs, b, &b_offs, c_data, &c_offs, ldc).ok_or_else(|| {
            Error::invalid(
                OP,
                format!("the {count} C matrices ({} x {}, ld {ldc}, stride {}) overlap", a.rows, b.cols, strides.c),
            )
        })
    }

    /// Runs checked views.
    pub(crate) fn run(&self, a: MatRef, b: MatRef, mut c: MatMut, epilogue: Epilogue) -> Result<()> {
        let (m, n) = (a.rows, b.cols);
        if m == 0 || n == 0 {
            return Ok(()); // C is empty: nothing to write (and the slices may be empty too)
        }
        match self.backend {
            Backend::Nanobert => {
                let run = Run { parallel: self.parallel, blocks: self.blocks, a, b: BSource::Matrix(b), c, epilogue };
                kernels::with_kernel(self.kernel, run).ok_or_else(|| {
                    Error::invalid("sgemm", format!("this CPU does not support the {} kernel", self.kernel.name()))
                })
            }
            Backend::MatrixMultiply => {
                backend::sgemm_matrixmultiply(a, b, c.rb(), self.parallel);
                if !epilogue.is_none() {
                    for row in c.data.chunks_mut(c.ld.max(n)).take(m) {
                        epilogue.finish(&mut row[..n], 0);
                    }
                }
                Ok(())
            }
        }
    }
}
