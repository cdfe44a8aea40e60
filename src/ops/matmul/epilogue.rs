//! # Epilogues: finish each tile of C before it leaves the core
//!
//! A Linear layer is `y = x·Wᵀ + b`, and in BERT's feed-forward block it is followed by GELU.
//! Done as separate passes, the bias and the GELU each read and write all of C again: for a
//! 128 x 3072 output, two extra round trips of 1.5 MB through the caches. An *epilogue* is
//! that last elementwise step applied by the GEMM itself, at the moment a tile of C is
//! complete (after the last KC block of k) and still in registers or L1, just before it is
//! stored ([`crate::ops::matmul`]'s microkernels call [`Epilogue::finish`] on each finished
//! row segment).
//!
//! [`Epilogue::apply`] is the reference: the same step as a separate pass over C.

use super::view::MatMut;
use crate::ops::activation::erf;
use crate::{Error, Result};

/// What to do to C once the product is complete: `C[i][j] = f(C[i][j], j)`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum Epilogue<'a> {
    /// C = A·B.
    #[default]
    None,
    /// C = A·B + bias, `bias[j]` added to column `j` (`bias.len() == n`).
    Bias(&'a [f32]),
    /// C = GELU(A·B + bias), exact erf GELU as [`crate::ops::activation::gelu`] computes it.
    BiasGelu(&'a [f32]),
}

impl<'a> Epilogue<'a> {
    /// Checks that a bias has one value per column of C (`n`).
    pub fn check(&self, op: &'static str, n: usize) -> Result<()> {
        match self {
            Epilogue::None => Ok(()),
            Epilogue::Bias(b) | Epilogue::BiasGelu(b) if b.len() == n => Ok(()),
            Epilogue::Bias(b) | Epilogue::BiasGelu(b) => {
                Err(Error::invalid(op, format!("the epilogue's bias has {} values but C has {n} columns", b.len())))
            }
        }
    }

    /// The bias, if the epilogue has one.
    pub fn bias(&self) -> Option<&'a [f32]> {
        match *self {
            Epilogue::None => None,
            Epilogue::Bias(b) | Epilogue::BiasGelu(b) => Some(b),
        }
    }

    /// True for [`Epilogue::None`].
    pub fn is_none(&self) -> bool {
        matches!(self, Epilogue::None)
    }

    /// The reference: applies the epilogue to every element of C in a separate pass.
    ///
    /// Errors if the bias length differs from C's columns or C's slice is too short.
    pub fn apply(&self, c: MatMut) -> Result<()> {
        c.check("Epilogue::apply", "C")?;
        self.check("Epilogue::apply", c.cols)?;
        for row in c.into_rows() {
            self.finish(row, 0);
        }
        Ok(())
    }

    /// The epilogue of columns `j0..` (what a thread owning those columns applies).
    pub(crate) fn columns_from(self, j0: usize) -> Epilogue<'a> {
        let tail = |b: &'a [f32]| b.get(j0..).unwrap_or(&[]);
        match self {
            Epilogue::None => Epilogue::None,
            Epilogue::Bias(b) => Epilogue::Bias(tail(b)),
            Epilogue::BiasGelu(b) => Epilogue::BiasGelu(tail(b)),
        }
    }

    /// Applies the epilogue to `row`, the finished values of columns `col..col + row.len()`.
    /// `#[inline(always)]`, so inside a SIMD kernel it is compiled with the kernel's vector
    /// instructions.
    #[inline(always)]
    pub(crate) fn finish(&self, row: &mut [f32], col: usize) {
        match *self {
            Epilogue::None => {}
            Epilogue::Bias(b) => row.iter_mut().zip(&b[col..]).for_each(|(v, &x)| *v += x),
            Epilogue::BiasGelu(b) => row.iter_mut().zip(&b[col..]).for_each(|(v, &x)| *v = gelu(*v + x)),
        }
    }
}

/// GELU, exact erf form, the formula and erf of [`crate::ops::activation::gelu`] (a test ties
/// the two bit for bit).
#[inline(always)]
pub(crate) fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}
