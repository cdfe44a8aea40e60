//! # Comparing with a reference, honestly
//!
//! Every check "ours matches PyTorch" comes down to one number, the largest `|ours - theirs|`.
//! The obvious one-liner `fold(0.0, f32::max)` has a trap: `f32::max(0.0, NaN)` is `0.0`, so
//! an output that is entirely NaN "matches" with difference 0. Here a non-finite value on
//! either side is an error (naming where it is), never a small difference.

use super::Tensor;
use crate::{Error, Result};

/// Index and value of the first NaN or infinity in `values`, if any.
pub fn first_non_finite(values: &[f32]) -> Option<(usize, f32)> {
    values.iter().position(|v| !v.is_finite()).map(|i| (i, values[i]))
}

/// Largest `|ours[i] - theirs[i]|` over two equally long slices.
///
/// # Errors
/// If the lengths differ, or any value on either side is NaN or infinite (a NaN or inf can
/// never be "close"), naming the first such index.
pub fn max_abs_diff(ours: &[f32], theirs: &[f32]) -> Result<f32> {
    if ours.len() != theirs.len() {
        return Err(Error::invalid(
            "max_abs_diff",
            format!("{} values vs {} in the reference", ours.len(), theirs.len()),
        ));
    }
    let mut max = 0.0f32;
    for (i, (&a, &b)) in ours.iter().zip(theirs).enumerate() {
        if !a.is_finite() || !b.is_finite() {
            let (side, v) = if !a.is_finite() { ("ours", a) } else { ("reference", b) };
            return Err(Error::invalid(
                "max_abs_diff",
                format!("{side}[{i}] = {v} is not finite (ours {a}, reference {b}); a non-finite value never matches"),
            ));
        }
        let d = (a - b).abs();
        if d > max {
            max = d;
        }
    }
    Ok(max)
}

impl Tensor {
    /// Largest `|self - theirs|` over all entries, for comparing with a reference.
    ///
    /// Shapes must be equal (no broadcasting). Any NaN or infinity on either side is an error,
    /// so an all-NaN output can never pass as "difference 0".
    pub fn max_abs_diff(&self, theirs: &Tensor) -> Result<f32> {
        if self.shape() != theirs.shape() {
            return Err(Error::shape_mismatch("max_abs_diff", self.shape(), theirs.shape()));
        }
        max_abs_diff(&self.to_vec(), &theirs.to_vec())
    }
}
