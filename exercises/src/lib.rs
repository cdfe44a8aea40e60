//! # The course's exercises
//!
//! Each module is one exercise, a file of `todo!()` stubs with the task written above each
//! function. Replace the `todo!()` with your code and run the exercise's tests:
//!
//! ```text
//! cargo test --release -p nanobert-exercises --test softmax
//! ```
//!
//! The tests fail until the code is right: they compare with outputs PyTorch computed
//! (`tests/fixtures/`) or with the definition, on edge cases chosen to catch the usual mistakes.
//! Reference solutions live in `src/solutions/`; `--features solutions` builds them in place of
//! the stubs (that is how CI checks the exercises). Read them after you have tried.
//!
//! | exercise | chapter | what you write |
//! |---|---|---|
//! | [`matmul`] | Matrix multiplication | the reordered GEMM rung (loop order i, p, j) |
//! | [`softmax`] | Layers | softmax with and without the max subtraction; see the first overflow |
//! | [`layer_norm`] | Layers | LayerNorm over rows, with a two-pass variance |
//! | [`pooling`] | Fill-mask and sentence similarity | mean pooling that skips the padding |
//! | [`im2col`] | Convolutions and RNNs | the patch-to-column copy behind every convolution |

#![deny(missing_docs)]

/// The settings of one 2-D convolution, `[rows, columns]` each, as PyTorch's `Conv2d` takes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2d {
    /// Filter size `[KH, KW]`.
    pub kernel: [usize; 2],
    /// Step between two patches.
    pub stride: [usize; 2],
    /// Zeros added on each side of the image.
    pub padding: [usize; 2],
    /// Distance between two taps of a patch (1 = adjacent).
    pub dilation: [usize; 2],
}

impl Conv2d {
    /// Output size along one axis (`axis` 0 = rows, 1 = columns) for an input of `len` pixels:
    /// `(len + 2·padding - dilation·(kernel - 1) - 1) / stride + 1`, or 0 when the filter does
    /// not fit. (Given, not part of the exercise.)
    pub fn out_len(&self, len: usize, axis: usize) -> usize {
        let span = self.dilation[axis] * (self.kernel[axis] - 1) + 1;
        let padded = len + 2 * self.padding[axis];
        if padded < span { 0 } else { (padded - span) / self.stride[axis] + 1 }
    }
}

#[cfg_attr(feature = "solutions", path = "solutions/matmul.rs")]
pub mod matmul;

#[cfg_attr(feature = "solutions", path = "solutions/softmax.rs")]
pub mod softmax;

#[cfg_attr(feature = "solutions", path = "solutions/layer_norm.rs")]
pub mod layer_norm;

#[cfg_attr(feature = "solutions", path = "solutions/pooling.rs")]
pub mod pooling;

#[cfg_attr(feature = "solutions", path = "solutions/im2col.rs")]
pub mod im2col;

/// The learner's stubs, compiled beside the solutions so that CI checks they still build and still
/// start as `todo!()` (see `tests/stubs.rs`).
#[cfg(feature = "solutions")]
pub mod stubs {
    pub use super::{
        stub_im2col as im2col, stub_layer_norm as layer_norm, stub_matmul as matmul, stub_pooling as pooling,
        stub_softmax as softmax,
    };
}

#[cfg(feature = "solutions")]
#[doc(hidden)]
#[path = "im2col.rs"]
pub mod stub_im2col;
#[cfg(feature = "solutions")]
#[doc(hidden)]
#[path = "layer_norm.rs"]
pub mod stub_layer_norm;
#[cfg(feature = "solutions")]
#[doc(hidden)]
#[path = "matmul.rs"]
pub mod stub_matmul;
#[cfg(feature = "solutions")]
#[doc(hidden)]
#[path = "pooling.rs"]
pub mod stub_pooling;
#[cfg(feature = "solutions")]
#[doc(hidden)]
#[path = "softmax.rs"]
pub mod stub_softmax;
