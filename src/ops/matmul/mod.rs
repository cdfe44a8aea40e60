//! # Matrix multiplication: from three loops to the machine's peak
//!
//! Every matmul in nanobert (Linear layers, attention scores, attention-weighted values)
//! goes through [`sgemm`]: `C = A·B` or `C = A·Bᵀ` on row-major f32 matrices. This module is
//! a ladder, one file per rung, each rung kept in the code and measured by
//! `cargo bench --bench matmul` (see docs/matmul.md for the numbers):
//!
//! | rung | file              | adds                                             |
//! |------|-------------------|--------------------------------------------------|
//! | 0    | `naive.rs`        | the definition: i-j-k triple loop                |
//! | 1    | `reordered.rs`    | i-k-j order: contiguous inner loop, vectorized   |
//! | 2    | `blocked.rs`      | cache blocking + packing (the five BLIS loops)   |
//! | 3    | `kernels/*.rs`    | register-tiled SIMD microkernels (AVX2, AVX-512) |
//! | 4    | `parallel.rs`     | all cores, via rayon                             |
//!
//! `columns.rs` is rung 4 at small M (threads split the columns and share one packed A);
//! `pack.rs` holds the packing routines rungs 2-4 share; `prepacked.rs` packs a constant B
//! (a Linear weight) once, for [`sgemm_prepacked`] to skip packing it on every call;
//! `batched.rs` runs many products (attention heads) at once; `epilogue.rs` finishes tiles of
//! C (bias, GELU) before they are stored; `view.rs` holds the matrix views every entry point
//! takes; `gemm.rs` the [`Gemm`] value that chooses the implementation and threading;
//! `backend.rs` runs the `matrixmultiply` crate for comparison. Benchmarks live outside the
//! kernels, in `crates/nanobert-bench/src/`.
//!
//! What each rung gained on a 2-core AMD EPYC Zen 4 (AVX-512), one core unless said
//! (GFLOP/s on BERT's shapes; the FMA peak measured in the same run was 117 per core, 234 on
//! two; tables and command in docs/matmul.md): naive 0.6-3.1, reordered 15-24, blocked
//! 26-31, AVX2 kernel 80-102, AVX-512 kernel 87-106, both cores 1.9-2.0x that.
//!
//! Every matrix is a view ([`MatRef`], [`MatMut`]): a slice, its rows and columns, and a
//! leading dimension, so a matrix can be a window into a bigger buffer (a head of a
//! `[seq, 12 x 64]` tensor has `ld = 768`), and a transposed operand is read in place.
//!
//! ```
//! use nanobert::ops::matmul::{MatMut, MatRef, sgemm};
//! // x: 2 x 3, w: a Linear weight [out = 2, in = 3]; y = x · wᵀ (w never transposed in memory)
//! let x = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
//! let w = [1.0, 0.0, 0.0, 0.0, 1.0, 1.0];
//! let mut y = [0.0; 4];
//! sgemm(MatRef::new(&x, 2, 3), MatRef::new(&w, 2, 3).t(), MatMut::new(&mut y, 2, 2))?;
//! assert_eq!(y, [1.0, 5.0, 4.0, 11.0]);
//! # Ok::<(), nanobert::Error>(())
//! ```

mod backend;
mod batched;
mod blocked;
mod columns;
mod epilogue;
mod gemm;
pub mod kernels;
mod naive;
pub mod pack;
mod parallel;
mod prepacked;
mod reordered;
mod streamed;
mod view;

use crate::tensor::{Tensor, contiguous_strides, numel};
use crate::{Error, Result};
pub use blocked::BlockSizes;
pub use epilogue::Epilogue;
pub use gemm::{Backend, Gemm};
pub use kernels::Kernel;
pub use naive::sgemm_naive;
pub use parallel::PAR_MIN_MACS;
pub use prepacked::{PackedB, sgemm_prepacked};
pub use reordered::sgemm_reordered;
pub use view::{BatchStrides, MatMut, MatRef, check_gemm};

/// One rung of the ladder, to call explicitly (benchmarks, tests).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Rung {
    /// 0: i-j-k triple loop.
    Naive,
    /// 1: i-k-j loop order.
    Reordered,
    /// 2: BLIS blocking and packing with the portable microkernel.
    Blocked,
    /// 3: rung 2 with a SIMD microkernel, one thread.
    Simd(Kernel),
    /// 4: rung 3 on every thread of the current rayon pool.
    Parallel(Kernel),
}

impl Rung {
    /// The fastest rung this CPU supports: what [`sgemm`] runs.
    pub fn best() -> Rung {
        Rung::Parallel(Kernel::best())
    }

    /// The ladder bottom to top, keeping the rungs this CPU supports.
    pub fn ladder() -> Vec<Rung> {
        let mut rungs = vec![Rung::Naive, Rung::Reordered, Rung::Blocked];
        rungs.extend([Kernel::Avx2, Kernel::Avx512].into_iter().filter(|k| k.is_supported()).map(Rung::Simd));
        rungs.push(Rung::best());
        rungs
    }

    /// True if this CPU can run the rung.
    pub fn is_supported(self) -> bool {
        match self {
            Rung::Simd(k) | Rung::Parallel(k) => k.is_supported(),
            _ => true,
        }
    }

    /// Name for tables: "naive", "reordered", "blocked", "simd-avx512", "parallel-avx512".
    pub fn name(self) -> String {
        match self {
            Rung::Naive => "naive".into(),
            Rung::Reordered => "reordered".into(),
            Rung::Blocked => "blocked".into(),
            Rung::Simd(k) => format!("simd-{}", k.name()),
            Rung::Parallel(k) => format!("parallel-{}", k.name()),
        }
    }

    /// The [`Gemm`] this rung is, if it is one of the blocked rungs (2-4).
    pub fn gemm(self) -> Option<Result<Gemm>> {
        match self {
            Rung::Naive | Rung::Reordered => None,
            Rung::Blocked => Some(Gemm::default().with_kernel(Kernel::Portable).map(|g| g.parallel(false))),
            Rung::Simd(k) => Some(Gemm::default().with_kernel(k).map(|g| g.parallel(false))),
            Rung::Parallel(k) => Some(Gemm::default().with_kernel(k)),
        }
    }
}

/// C = A·B, f32, C overwritten: A is `m x k`, B `k x n`, C `m x n`, each a view (row-major
/// with a leading dimension, or transposed: a Linear weight stored `[out, in]` is passed as
/// `MatRef::new(w, out, inp).t()` and read in place).
///
/// Runs the best rung for this CPU (rung 4: SIMD microkernel on all threads of the current
/// rayon pool). [`Gemm`] chooses explicitly (another backend, kernel, one thread, an
/// [`Epilogue`]).
///
/// Errors (naming the matrix and its shape) if a slice is too short for its view or the
/// shapes do not agree.
pub fn sgemm(a: MatRef, b: MatRef, c: MatMut) -> Result<()> {
    Gemm::default().sgemm(a, b, c, Epilogue::None)
}

/// [`sgemm`] with an explicit rung of the ladder (benchmarks, tests).
///
/// Errors if the CPU does not support the rung or the views do not describe a product.
pub fn sgemm_rung(rung: Rung, a: MatRef, b: MatRef, c: MatMut) -> Result<()> {
    check_gemm("sgemm_rung", &a, &b, &c)?;
    match rung.gemm() {
        None if rung == Rung::Naive => {
            naive::gemm(a, b, c);
            Ok(())
        }
        None => {
            reordered::gemm(a, b, c);
            Ok(())
        }
        Some(gemm) => gemm?.run(a, b, c, Epilogue::None),
    }
}

/// A batch of independent products, `C_t = A_t·B_t` for `t < count`: matrix `t` of each
/// operand starts `t * stride` floats after its view's start ([`BatchStrides`]; a stride may
/// be 0 to share one A or B). See [`Gemm::sgemm_batched`].
///
/// Attention uses it for its 12 heads, which may be interleaved in one buffer (head h of a
/// `[seq, 768]` activation: offset `64 h`, leading dimension 768).
pub fn sgemm_batched(count: usize, strides: BatchStrides, a: MatRef, b: MatRef, c: MatMut) -> Result<()> {
    Gemm::default().sgemm_batched(count, strides, a, b, c)
}

/// Matrix product of tensors, like `torch.matmul` for ranks >= 2:
/// `[..., m, k] x [..., k, n] -> [..., m, n]`, batch dimensions broadcast.
///
/// Strides are used rather than copied where `sgemm` can read them directly: a matrix whose
/// rows are contiguous is passed with its row stride as leading dimension, and a B that is
/// a transposed view (`w.t()`, `k.transpose(-2, -1)`) becomes a transposed [`MatRef`]
/// instead of a copy. A B shared by the whole batch (a weight) folds the batch into the rows
/// of one product. Only a matrix with neither layout is copied.
pub fn matmul(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    if a.ndim() < 2 || b.ndim() < 2 {
        return Err(Error::invalid(
            "matmul",
            format!("expects tensors of rank >= 2, got shapes {:?} and {:?}", a.shape(), b.shape()),
        ));
    }
    let (m, k) = (a.shape()[a.ndim() - 2], a.shape()[a.ndim() - 1]);
    let (k2, n) = (b.shape()[b.ndim() - 2], b.shape()[b.ndim() - 1]);
    if k != k2 {
        return Err(Error::ShapeMismatch {
            op: "matmul",
            lhs: a.shape().to_vec(),
            rhs: b.shape().to_vec(),
            detail: format!(": inner dimensions {k} and {k2} differ"),
        });
    }
    let batch_a = &a.shape()[..a.ndim() - 2];
    let batch_b = &b.shape()[..b.ndim() - 2];
    let batch =
        broadcast_batch(batch_a, batch_b).ok_or_else(|| Error::shape_mismatch("matmul", a.shape(), b.shape()))?;
    let nb = numel(&batch);
    let _o = crate::profile::op("gemm", 2 * (nb * m * k * n) as u64, 4 * (nb * (m * k + k * n + m * n)) as u64);
    let mut shape = batch.clone();
    shape.extend([m, n]);
    if nb == 0 || m == 0 || n == 0 || k == 0 {
        return Ok(Tensor::zeros(&shape));
    }
    // Bring both operands to a layout sgemm reads (copying only if necessary).
    let a = Operand::new(a);
    let b = Operand::new(b);
    let (a_offs, b_offs) = (a.batch_offsets(&batch), b.batch_offsets(&batch));
    let (a_data, b_data) = (a.tensor.storage().as_slice(), b.tensor.storage().as_slice());
    let mut out = vec![0.0f32; nb * m * n];
    // A weight shared by the batch, and A rows evenly spaced across the batch: one product
    // with nb * m rows (better for the kernel than nb small ones).
    let fold = nb > 1
        && !a.trans
        && b_offs.iter().all(|&o| o == b_offs[0])
        && a_offs.windows(2).all(|w| w[1] == w[0] + m * a.ld);
    let a_view = MatRef { data: a_data, rows: m, cols: k, ld: a.ld, trans: a.trans };
    let b_view = MatRef { data: b_data, rows: k, cols: n, ld: b.ld, trans: b.trans };
    if fold && !a.trans {
        let a_all = MatRef { data: &a_data[a_offs[0]..], rows: nb * m, ..a_view };
        let b_one = MatRef { data: &b_data[b_offs[0]..], ..b_view };
        sgemm(a_all, b_one, MatMut::new(&mut out, nb * m, n))?;
    } else {
        let c_offs: Vec<usize> = (0..nb).map(|t| t * m * n).collect();
        batched::gemm_batch(Gemm::default(), a_view, &a_offs, b_view, &b_offs, &mut out, &c_offs, n)
            .ok_or_else(|| Error::invalid("matmul", "internal error: output rows overlap"))?;
    }
    Tensor::from_vec(out, &shape)
}

/// One operand of [`matmul`]: a tensor whose last two dimensions sgemm can read directly.
struct Operand {
    tensor: Tensor,
    /// Leading dimension of each matrix (stride between rows, or columns if `trans`).
    ld: usize,
    /// The stored matrix is the transpose of the logical one.
    trans: bool,
}

impl Operand {
    fn new(t: &Tensor) -> Operand {
        let d = t.ndim();
        let (rows, cols) = (t.shape()[d - 2], t.shape()[d - 1]);
        let (rs, cs) = (t.strides()[d - 2], t.strides()[d - 1]);
        if (cs == 1 || cols == 1) && (rs >= cols || rows == 1) {
            return Operand { tensor: t.clone(), ld: rs.max(cols), trans: false };
        }
        if (rs == 1 || rows == 1) && (cs >= rows || cols == 1) {
            return Operand { tensor: t.clone(), ld: cs.max(rows), trans: true };
        }
        Operand { tensor: t.contiguous(), ld: cols, trans: false }
    }

    /// Storage offset of matrix `t` for every index `t` of the (broadcast) batch shape.
    fn batch_offsets(&self, batch: &[usize]) -> Vec<usize> {
        let t = &self.tensor;
        let own = &t.shape()[..t.ndim() - 2];
        let lead = batch.len() - own.len();
        // Broadcast strides: 0 for a missing or size-1 dimension.
        let strides: Vec<usize> =
            (0..batch.len()).map(|d| if d < lead || own[d - lead] == 1 { 0 } else { t.strides()[d - lead] }).collect();
        let steps = contiguous_strides(batch);
        (0..numel(batch))
            .map(|flat| {
                let index = steps.iter().zip(batch).map(|(s, n)| flat / s % n);
                t.offset() + index.zip(&strides).map(|(i, s)| i * s).sum::<usize>()
            })
            .collect()
    }
}

fn broadcast_batch(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let n = a.len().max(b.len());
    let mut out = vec![0; n];
    for i in 0..n {
        let x = if i + a.len() >= n { a[i + a.len() - n] } else { 1 };
        let y = if i + b.len() >= n { b[i + b.len() - n] } else { 1 };
        out[i] = if x == y || y == 1 {
            x
        } else if x == 1 {
            y
        } else {
            return None;
        };
    }
    Some(out)
}
