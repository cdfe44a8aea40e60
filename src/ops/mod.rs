//! # Ops: free functions on tensors
//!
//! Every op here has a fast path and, beside it, a slow obvious reference implementation
//! that a property test ties to it. Read them in this order:
//!
//! - [`elementwise`](mod@elementwise): `add`, `mul`, ... and *broadcasting*, the rule that lets a `[H]` bias
//!   be added to every row of an `[N, H]` matrix;
//! - [`reduce`](mod@reduce): `sum`, `mean`, `max` along one dimension;
//! - [`activation`](mod@activation): GELU (and the `erf` it needs), tanh, ReLU, sigmoid;
//! - [`softmax`](mod@softmax): turning scores into probabilities, with an additive mask;
//! - [`norm`](mod@norm): layer normalization;
//! - [`embedding`](mod@embedding): a lookup table, i.e. a matrix row per token id;
//! - [`dropout`](mod@dropout): randomly zeroing activations while training;
//! - [`matmul`](mod@matmul): the matrix product that does nearly all the work;
//! - [`attention`](mod@attention): multi-head attention, two small matmuls per block of queries;
//! - [`conv`](mod@conv) and [`rnn`](mod@rnn): convolutions and recurrent networks, rewritten as matmuls;
//! - [`cpu`](mod@cpu): the cache sizes the CPU reports, from which the GEMMs size their blocks.
//!
//! Ops take `&Tensor` (any layout: views, transposes, broadcasts) and return a new
//! contiguous tensor. Large contiguous inputs are split over threads with rayon; small ones
//! stay on one thread, where the cost of waking other threads would dominate.

pub mod activation;
pub mod attention;
pub mod conv;
pub mod cpu;
pub mod dropout;
pub mod elementwise;
pub mod embedding;
pub mod matmul;
pub mod norm;
pub mod reduce;
pub mod rnn;
pub mod simd;
pub mod softmax;

pub use activation::{
    erf, erf_ref, gelu, gelu_in_place, gelu_ref, gelu_tanh, gelu_tanh_in_place, relu, relu_in_place, sigmoid,
    sigmoid_in_place, tanh, tanh_in_place,
};
pub use dropout::dropout;
pub use elementwise::{
    add, add_ref, add_scalar, broadcast_shape, div, div_ref, map, mul, mul_ref, mul_scalar, sub, sub_ref,
};
pub use embedding::{embedding, embedding_ref};
pub use matmul::matmul;
pub use norm::{layer_norm, layer_norm_ref, layer_norm_rows_in_place};
pub use reduce::{max, max_ref, mean, mean_ref, sum, sum_ref};
pub use softmax::{softmax, softmax_ref, softmax_rows_in_place};

/// Below this many elements an op runs on the calling thread only.
///
/// Handing work to rayon costs a few microseconds; 32k f32 additions cost about as much.
pub(crate) const PARALLEL_THRESHOLD: usize = 1 << 15;

/// Applies `f` to every element of `data`, in parallel when `data` is large.
pub(crate) fn map_in_place(data: &mut [f32], f: impl Fn(f32) -> f32 + Sync) {
    chunks_in_place(data, |chunk| chunk.iter_mut().for_each(|v| *v = f(*v)));
}

/// Applies `f` to consecutive pieces of `data` that together cover it, in parallel when
/// `data` is large. For elementwise work `f` wants a whole slice (e.g. to pick a SIMD copy of
/// its loop once per piece rather than once per element).
pub(crate) fn chunks_in_place(data: &mut [f32], f: impl Fn(&mut [f32]) + Sync) {
    use rayon::prelude::*;
    if data.len() >= PARALLEL_THRESHOLD {
        data.par_chunks_mut(PARALLEL_THRESHOLD / 4).for_each(&f);
    } else {
        f(data);
    }
}

/// Applies `f` to pieces of `data` made of whole `row_len`-long rows, in parallel (about
/// `PARALLEL_THRESHOLD / 4` values per task) when `data` has at least `PARALLEL_THRESHOLD`
/// values; `f` also gets the index of the piece's first row. For row-wise kernels
/// (bias + GELU, LayerNorm) on activation buffers.
pub(crate) fn par_rows(data: &mut [f32], row_len: usize, f: impl Fn(usize, &mut [f32]) + Sync) {
    use rayon::prelude::*;
    let row_len = row_len.max(1);
    if data.len() >= PARALLEL_THRESHOLD {
        let rows = (PARALLEL_THRESHOLD / 4).div_ceil(row_len);
        data.par_chunks_mut(rows * row_len).enumerate().for_each(|(i, c)| f(i * rows, c));
    } else {
        f(0, data);
    }
}
