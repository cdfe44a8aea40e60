//! Exercise: im2col (chapter "Convolutions and RNNs are matrix multiplications too").
//!
//! A convolution is one matrix product once every patch of the image is copied into a column:
//! `output[C_out, OH·OW] = weight[C_out, C·KH·KW] · cols[C·KH·KW, OH·OW]`. This exercise is the
//! copy. Everything that makes a convolution a convolution (stride, padding, dilation) lives here;
//! the tests compare with PyTorch's `F.unfold`.
//!
//! Run: `cargo test --release -p nanobert-exercises --test im2col`
#![allow(unused_variables)] // the stubs do not use their arguments yet

pub use crate::Conv2d;

/// The im2col matrix of one image `[c, h, w]` (row-major): shape `[c·KH·KW, OH·OW]`.
///
/// Row `(ci·KH + ky)·KW + kx` holds tap `(ky, kx)` of channel `ci`; column `oy·OW + ox` is the patch
/// under output pixel `(oy, ox)`, whose tap reads input pixel
/// `(oy·stride[0] + ky·dilation[0] - padding[0], ox·stride[1] + kx·dilation[1] - padding[1])`,
/// or 0 when that falls outside the image.
pub fn im2col(image: &[f32], c: usize, h: usize, w: usize, conv: &Conv2d) -> Vec<f32> {
    todo!("exercise: one column per output pixel, one row per (channel, tap)")
}
