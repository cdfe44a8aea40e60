//! # Matrix multiplication: from three loops to the machine's peak
//!
//! Every matmul in nanobert (Linear layers, attention scores, attention-weighted values)
//! goes through [`sgemm`]: `C = A·B` or `C = A·Bᵀ` on row-major f32 matrices. This module is
//! a ladder, one file per rung, each rung kept in the code and measured by
//! `cargo bench --bench matmul` (see docs/02-matmul.md for the numbers):
//!
//! | rung | file              | adds                                             |
//! |------|-------------------|--------------------------------------------------|
//! | 0    | `naive.rs`        | the definition: i-j-k triple loop                |
//! | 1    | `reordered.rs`    | i-k-j order: contiguous inner loop, vectorized   |
//! | 2    | `blocked.rs`      | cache blocking + packing (the five BLIS loops)   |
//! | 3    | `kernels/*.rs`    | register-tiled SIMD microkernels (AVX2, AVX-512) |
//! | 4    | `parallel.rs`     | all cores, via rayon                             |
//!
//! `pack.rs` holds the packing routines rungs 2-4 share; `prepacked.rs` packs a constant B
//! (a Linear weight) once, for [`sgemm_prepacked`] to skip packing it on every call;
//! `batched.rs` runs many products (attention heads) at once; `backend.rs` lets the `matrixmultiply` crate stand in for
//! ours, for comparison. Benchmarks live outside the kernels, in `src/bench/`.
//!
//! What each rung gained on this project's 2-core AVX-512 machine, one core unless said
//! (GFLOP/s on BERT's shapes; the FMA peak measured in the same run was 176 per core;
//! tables and command in docs/02-matmul.md): naive 0.3-3.3, reordered 9-16, blocked 17-21,
//! AVX2 kernel 65-72, AVX-512 kernel 122-148, both cores 1.8-2.0x that.
//!
//! Row-major with leading dimensions: element `(i, j)` of A is `a[i * lda + j]`, so a matrix
//! can be a window into a bigger buffer (a head of a [seq, 12 x 64] tensor is `lda = 768`).

mod backend;
mod batched;
mod blocked;
pub mod kernels;
mod naive;
pub mod pack;
mod parallel;
mod prepacked;
mod reordered;

use crate::tensor::{Tensor, contiguous_strides, numel};
use crate::{Error, Result};
pub use backend::{Backend, backend, set_backend};
// For the benchmarks (src/bench/), which time the drivers with an explicit backend.
pub(crate) use backend::sgemm_matrixmultiply;
pub(crate) use batched::gemm_batch;
pub use blocked::{KC, MC, NC};
pub use kernels::Kernel;
pub use naive::sgemm_naive;
use pack::MatRef;
pub use parallel::PAR_MIN_MACS;
pub use prepacked::{PackedB, sgemm_prepacked};
pub use reordered::sgemm_reordered;

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
}

/// C = A·B (or A·Bᵀ when `transpose_b`), row-major, f32; C is overwritten.
///
/// - `a`: m×k, row i starts at `i * lda`;
/// - `b`: k×n (row p at `p * ldb`), or, with `transpose_b`, n×k (row j at `j * ldb`): a
///   Linear weight stored `[out, in]` is used as is, never transposed in memory;
/// - `c`: m×n, row i at `i * ldc`.
///
/// Runs the best rung for this CPU (rung 4: SIMD microkernel on all threads of the current
/// rayon pool) or the `matrixmultiply` crate if [`set_backend`] selected it.
///
/// # Panics
/// If a slice is too short for its matrix or a leading dimension is smaller than a row
/// (a programming error, like an out-of-bounds index). [`try_sgemm`] returns an error instead.
#[allow(clippy::too_many_arguments)]
pub fn sgemm(
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    lda: usize,
    b: &[f32],
    ldb: usize,
    c: &mut [f32],
    ldc: usize,
    transpose_b: bool,
) {
    if let Err(e) = try_sgemm(m, k, n, a, lda, b, ldb, c, ldc, transpose_b) {
        panic!("{e}");
    }
}

/// [`sgemm`] returning an error (naming the bad matrix) instead of panicking.
#[allow(clippy::too_many_arguments)]
pub fn try_sgemm(
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    lda: usize,
    b: &[f32],
    ldb: usize,
    c: &mut [f32],
    ldc: usize,
    transpose_b: bool,
) -> Result<()> {
    check_args(m, k, n, a.len(), lda, b.len(), ldb, c.len(), ldc, transpose_b)?;
    match backend() {
        Backend::Nanobert => run_rung(Rung::best(), m, k, n, a, lda, b, ldb, c, ldc, transpose_b),
        Backend::MatrixMultiply => {
            backend::sgemm_matrixmultiply(m, k, n, a, lda, b, ldb, c, ldc, transpose_b, true);
            Ok(())
        }
    }
}

/// [`sgemm`] with an explicit rung of the ladder (ignores the backend switch).
///
/// Errors if the CPU does not support the rung or the arguments do not describe valid
/// matrices.
#[allow(clippy::too_many_arguments)]
pub fn sgemm_rung(
    rung: Rung,
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    lda: usize,
    b: &[f32],
    ldb: usize,
    c: &mut [f32],
    ldc: usize,
    transpose_b: bool,
) -> Result<()> {
    check_args(m, k, n, a.len(), lda, b.len(), ldb, c.len(), ldc, transpose_b)?;
    run_rung(rung, m, k, n, a, lda, b, ldb, c, ldc, transpose_b)
}

/// Dispatch to a rung; arguments already checked.
#[allow(clippy::too_many_arguments)]
fn run_rung(
    rung: Rung,
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    lda: usize,
    b: &[f32],
    ldb: usize,
    c: &mut [f32],
    ldc: usize,
    transpose_b: bool,
) -> Result<()> {
    if m == 0 || n == 0 {
        return Ok(()); // C is empty: nothing to write (and the slices may be empty too)
    }
    let kernel = match rung {
        Rung::Naive => {
            sgemm_naive(m, k, n, a, lda, b, ldb, c, ldc, transpose_b);
            return Ok(());
        }
        Rung::Reordered => {
            sgemm_reordered(m, k, n, a, lda, b, ldb, c, ldc, transpose_b);
            return Ok(());
        }
        Rung::Blocked => Kernel::Portable,
        Rung::Simd(k) | Rung::Parallel(k) => k,
    };
    let a = MatRef { data: a, ld: lda, trans: false };
    let b = MatRef { data: b, ld: ldb, trans: transpose_b };
    let mut rows: Vec<&mut [f32]> = c.chunks_mut(ldc.max(n)).take(m).map(|row| &mut row[..n]).collect();
    let parallel = matches!(rung, Rung::Parallel(_));
    let run = batched::Run { parallel, m, k, n, a, b: blocked::BSource::Matrix(b), rows: &mut rows };
    kernels::with_kernel(kernel, run)
        .ok_or_else(|| Error::invalid("sgemm", format!("this CPU does not support the {} kernel", kernel.name())))
}

/// Checks that the slices hold the matrices their dimensions describe.
#[allow(clippy::too_many_arguments)]
fn check_args(
    m: usize,
    k: usize,
    n: usize,
    a_len: usize,
    lda: usize,
    b_len: usize,
    ldb: usize,
    c_len: usize,
    ldc: usize,
    transpose_b: bool,
) -> Result<()> {
    let (b_rows, b_cols) = if transpose_b { (n, k) } else { (k, n) };
    check_matrix("A", m, k, lda, a_len)?;
    check_matrix(if transpose_b { "B (transposed, n x k)" } else { "B" }, b_rows, b_cols, ldb, b_len)?;
    check_matrix("C", m, n, ldc, c_len)
}

fn check_matrix(name: &str, rows: usize, cols: usize, ld: usize, len: usize) -> Result<()> {
    if rows == 0 || cols == 0 {
        return Ok(());
    }
    if rows > 1 && ld < cols {
        return Err(Error::invalid(
            "sgemm",
            format!("{name} is {rows} x {cols} but its leading dimension is {ld} (< {cols} columns)"),
        ));
    }
    let need = (rows - 1).checked_mul(ld).and_then(|x| x.checked_add(cols));
    match need {
        Some(need) if need <= len => Ok(()),
        _ => Err(Error::invalid(
            "sgemm",
            format!("{name} is {rows} x {cols} with leading dimension {ld}: needs {need:?} values, slice has {len}"),
        )),
    }
}

/// A batch of independent products: for `t < batch`,
/// `C_t = A_t·B_t` (or `A_t·B_tᵀ`), where `A_t` starts at `a[t * stride_a]`, `B_t` at
/// `b[t * stride_b]`, `C_t` at `c[t * stride_c]` (a stride may be 0 to share one A or B).
///
/// Attention uses it for its 12 heads, which may be interleaved in one buffer (head h of a
/// `[seq, 768]` activation: offset `64 h`, leading dimension 768). When each product is small
/// the batch is spread over the rayon pool, one product per task; otherwise products run
/// one after another, each on all threads (see `batched.rs`).
///
/// # Panics
/// As [`sgemm`], for the last matrix of the batch; also if two C matrices overlap.
#[allow(clippy::too_many_arguments)]
pub fn sgemm_batched(
    batch: usize,
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    stride_a: usize,
    lda: usize,
    b: &[f32],
    stride_b: usize,
    ldb: usize,
    c: &mut [f32],
    stride_c: usize,
    ldc: usize,
    transpose_b: bool,
) {
    if batch == 0 {
        return;
    }
    let offsets = |stride: usize| (0..batch).map(|t| t * stride).collect::<Vec<usize>>();
    let (a_offs, b_offs, c_offs) = (offsets(stride_a), offsets(stride_b), offsets(stride_c));
    let last = batch - 1;
    let tail = |x: &[f32], off: usize| x.len().saturating_sub(off);
    let (a_len, b_len, c_len) = (tail(a, a_offs[last]), tail(b, b_offs[last]), tail(c, c_offs[last]));
    if let Err(e) = check_args(m, k, n, a_len, lda, b_len, ldb, c_len, ldc, transpose_b) {
        panic!("sgemm_batched (matrix {last} of {batch}): {e}");
    }
    let done = batched::gemm_batch(backend(), m, k, n, a, &a_offs, lda, b, &b_offs, ldb, transpose_b, c, &c_offs, ldc);
    if done.is_none() {
        panic!("sgemm_batched: the {batch} C matrices ({m} x {n}, ldc {ldc}, stride {stride_c}) overlap");
    }
}

/// Matrix product of tensors, like `torch.matmul` for ranks >= 2:
/// `[..., m, k] x [..., k, n] -> [..., m, n]`, batch dimensions broadcast.
///
/// Strides are used rather than copied where `sgemm` can read them directly: a matrix whose
/// rows are contiguous is passed with its row stride as leading dimension, and a B that is
/// a transposed view (`w.t()`, `k.transpose(-2, -1)`) becomes `transpose_b` instead of a
/// copy. A B shared by the whole batch (a weight) folds the batch into the rows of one
/// product. Only a matrix with neither layout (e.g. a transposed A) is copied.
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
    let a = Operand::new(a, false);
    let b = Operand::new(b, true);
    let (a_offs, b_offs) = (a.batch_offsets(&batch), b.batch_offsets(&batch));
    let (a_data, b_data) = (a.tensor.storage().as_slice(), b.tensor.storage().as_slice());
    let mut out = vec![0.0f32; nb * m * n];
    // A weight shared by the batch, and A rows evenly spaced across the batch: one product
    // with nb * m rows (better for the kernel than nb small ones).
    let fold = nb > 1 && b_offs.iter().all(|&o| o == b_offs[0]) && a_offs.windows(2).all(|w| w[1] == w[0] + m * a.ld);
    if fold {
        sgemm(nb * m, k, n, &a_data[a_offs[0]..], a.ld, &b_data[b_offs[0]..], b.ld, &mut out, n, b.trans);
    } else {
        let c_offs: Vec<usize> = (0..nb).map(|t| t * m * n).collect();
        let (a_ld, b_ld) = (a.ld, b.ld);
        batched::gemm_batch(
            backend(),
            m,
            k,
            n,
            a_data,
            &a_offs,
            a_ld,
            b_data,
            &b_offs,
            b_ld,
            b.trans,
            &mut out,
            &c_offs,
            n,
        )
        .ok_or_else(|| Error::invalid("matmul", "internal error: output rows overlap"))?;
    }
    Tensor::from_vec(out, &shape)
}

/// One operand of [`matmul`]: a tensor whose last two dimensions sgemm can read directly.
struct Operand {
    tensor: Tensor,
    /// Leading dimension of each matrix (stride between rows, or columns if `trans`).
    ld: usize,
    /// The stored matrix is the transpose of the logical one (only used for B).
    trans: bool,
}

impl Operand {
    fn new(t: &Tensor, allow_trans: bool) -> Operand {
        let d = t.ndim();
        let (rows, cols) = (t.shape()[d - 2], t.shape()[d - 1]);
        let (rs, cs) = (t.strides()[d - 2], t.strides()[d - 1]);
        if (cs == 1 || cols == 1) && (rs >= cols || rows == 1) {
            return Operand { tensor: t.clone(), ld: rs.max(cols), trans: false };
        }
        if allow_trans && (rs == 1 || rows == 1) && (cs >= rows || cols == 1) {
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
