//! # Matrix views: what a GEMM reads and writes
//!
//! A BLAS call describes each matrix with four loose arguments (pointer, rows, columns,
//! leading dimension) and one flag for a transposed operand: ten positional arguments in a
//! row, easy to swap by mistake. Here each matrix is one small value instead:
//!
//! - [`MatRef`]: a read-only `rows x cols` window into a slice of f32, row `i` starting at
//!   `i * ld`; or, with `trans`, the transpose of the stored `cols x rows` matrix (element
//!   `(i, j)` at `j * ld + i`), so a Linear weight stored `[out, in]` is used as `Wᵀ` without
//!   copying it: `MatRef::new(w, out, inp).t()`;
//! - [`MatMut`]: the output window, always row-major (`(i, j)` at `i * ld + j`).
//!
//! A window may be part of a bigger buffer: head h of a `[seq, 12 x 64]` activation is
//! `MatRef::strided(&q[64 * h..], seq, 64, 768)`.
//!
//! Every entry point checks its views once, up front ([`check_gemm`]): the slices must hold
//! the matrices they describe and the shapes must agree, or the call returns an error that
//! names the matrix and its shape. The loops behind it then index without surprises.

use crate::{Error, Result};

/// A read-only f32 matrix view: logical `rows x cols`.
///
/// Element `(i, j)` is `data[i * ld + j]`, or `data[j * ld + i]` when `trans` (the stored
/// matrix is then `cols x rows`, its rows `ld` apart).
#[derive(Clone, Copy, Debug)]
pub struct MatRef<'a> {
    /// The values, starting at element `(0, 0)`.
    pub data: &'a [f32],
    /// Logical rows.
    pub rows: usize,
    /// Logical columns.
    pub cols: usize,
    /// Leading dimension: floats between consecutive stored rows (>= the stored row length).
    pub ld: usize,
    /// The stored matrix is the transpose of the logical one.
    pub trans: bool,
}

impl<'a> MatRef<'a> {
    /// A contiguous row-major `rows x cols` matrix (`ld = cols`).
    pub fn new(data: &'a [f32], rows: usize, cols: usize) -> MatRef<'a> {
        MatRef { data, rows, cols, ld: cols, trans: false }
    }

    /// A row-major `rows x cols` window whose rows are `ld` floats apart.
    pub fn strided(data: &'a [f32], rows: usize, cols: usize, ld: usize) -> MatRef<'a> {
        MatRef { data, rows, cols, ld, trans: false }
    }

    /// The transpose, as a view of the same memory (nothing is copied).
    pub fn t(self) -> MatRef<'a> {
        MatRef { rows: self.cols, cols: self.rows, trans: !self.trans, ..self }
    }

    /// Element `(i, j)`. Panics if it is outside the slice (for reference code and tests).
    pub fn at(&self, i: usize, j: usize) -> f32 {
        if self.trans { self.data[j * self.ld + i] } else { self.data[i * self.ld + j] }
    }

    /// (rows, cols) of the matrix as stored in memory.
    pub fn stored_shape(&self) -> (usize, usize) {
        if self.trans { (self.cols, self.rows) } else { (self.rows, self.cols) }
    }

    /// Checks that the slice holds the matrix; `name` ("A", "B") goes into the error.
    pub fn check(&self, op: &'static str, name: &str) -> Result<()> {
        let (rows, cols) = self.stored_shape();
        let name = || {
            if self.trans {
                format!("{name} ({} x {}, stored transposed as {rows} x {cols})", self.rows, self.cols)
            } else {
                format!("{name} ({rows} x {cols})")
            }
        };
        check_matrix(op, rows, cols, self.ld, self.data.len(), name)
    }

    /// The window from logical `(i, j)` on (same `ld`); empty if that is past the end.
    pub(crate) fn offset(&self, i: usize, j: usize) -> MatRef<'a> {
        let start = if self.trans { j * self.ld + i } else { i * self.ld + j };
        MatRef {
            data: self.data.get(start..).unwrap_or(&[]),
            rows: self.rows.saturating_sub(i),
            cols: self.cols.saturating_sub(j),
            ..*self
        }
    }
}

/// A mutable row-major f32 matrix view, `rows x cols`: element `(i, j)` is `data[i * ld + j]`.
#[derive(Debug)]
pub struct MatMut<'a> {
    /// The values, starting at element `(0, 0)`.
    pub data: &'a mut [f32],
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
    /// Leading dimension: floats between consecutive rows (>= `cols`).
    pub ld: usize,
}

impl<'a> MatMut<'a> {
    /// A contiguous row-major `rows x cols` matrix (`ld = cols`).
    pub fn new(data: &'a mut [f32], rows: usize, cols: usize) -> MatMut<'a> {
        MatMut { data, rows, cols, ld: cols }
    }

    /// A `rows x cols` window whose rows are `ld` floats apart.
    pub fn strided(data: &'a mut [f32], rows: usize, cols: usize, ld: usize) -> MatMut<'a> {
        MatMut { data, rows, cols, ld }
    }

    /// A shorter-lived view of the same window (to pass it on and keep this one).
    pub fn rb(&mut self) -> MatMut<'_> {
        MatMut { data: self.data, rows: self.rows, cols: self.cols, ld: self.ld }
    }

    /// Checks that the slice holds the matrix; `name` ("C") goes into the error.
    pub fn check(&self, op: &'static str, name: &str) -> Result<()> {
        let full = || format!("{name} ({} x {})", self.rows, self.cols);
        check_matrix(op, self.rows, self.cols, self.ld, self.data.len(), full)
    }

    /// The rows of the window, each `cols` long (after [`MatMut::check`] succeeded).
    pub(crate) fn into_rows(self) -> Vec<&'a mut [f32]> {
        let (rows, cols) = (self.rows, self.cols);
        if rows == 0 || cols == 0 {
            return Vec::new();
        }
        self.data.chunks_mut(self.ld.max(cols)).take(rows).map(|row| &mut row[..cols]).collect()
    }
}

/// Checks a GEMM's three views: each slice holds its matrix, and `A (m x k) · B (k x n)`
/// fits `C (m x n)`. Returns `(m, k, n)`; the error names `op` and the shapes.
pub fn check_gemm(op: &'static str, a: &MatRef, b: &MatRef, c: &MatMut) -> Result<(usize, usize, usize)> {
    a.check(op, "A")?;
    b.check(op, "B")?;
    c.check(op, "C")?;
    let (m, k, n) = (a.rows, a.cols, b.cols);
    if b.rows != k {
        return Err(Error::invalid(
            op,
            format!("A is {m} x {k} and B is {} x {n}: inner dimensions {k} and {} differ", b.rows, b.rows),
        ));
    }
    if c.rows != m || c.cols != n {
        return Err(Error::invalid(
            op,
            format!("A ({m} x {k}) times B ({k} x {n}) is {m} x {n}, but C is {} x {}", c.rows, c.cols),
        ));
    }
    Ok((m, k, n))
}

/// Checks that `len` floats hold a stored `rows x cols` matrix with leading dimension `ld`;
/// `name` is called only on error (so a successful check allocates nothing).
pub(crate) fn check_matrix(
    op: &'static str,
    rows: usize,
    cols: usize,
    ld: usize,
    len: usize,
    name: impl FnOnce() -> String,
) -> Result<()> {
    if rows == 0 || cols == 0 {
        return Ok(());
    }
    if rows > 1 && ld < cols {
        return Err(Error::invalid(
            op,
            format!("{}: leading dimension {ld} is smaller than a stored row ({cols} floats)", name()),
        ));
    }
    let need = (rows - 1).checked_mul(ld).and_then(|x| x.checked_add(cols));
    match need {
        Some(need) if need <= len => Ok(()),
        Some(need) => Err(Error::invalid(
            op,
            format!("{} with leading dimension {ld} needs {need} values, the slice has {len}", name()),
        )),
        None => Err(Error::invalid(op, format!("{} with leading dimension {ld} overflows usize", name()))),
    }
}

/// Where the matrices of a batched product start: matrix `t` of A at `data[t * a]` of A's
/// view, and likewise for B and C. A stride of 0 shares one matrix with the whole batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchStrides {
    /// Floats between consecutive A matrices.
    pub a: usize,
    /// Floats between consecutive B matrices.
    pub b: usize,
    /// Floats between consecutive C matrices.
    pub c: usize,
}
