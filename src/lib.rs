//! # nanobert: matrix multiplication is all you need
//!
//! A from-scratch tensor library and BERT implementation for the CPU, written to be read.
//! The layers, bottom to top (each only knows the ones below it):
//!
//! - [`tensor`]: a flat buffer plus shape, strides and offset; views; printing.
//! - [`ops`]: free functions on tensors (elementwise, reductions, softmax, layer norm, GELU,
//!   embedding lookup, dropout, matmul...), each beside a slow obvious reference.
//! - [`nn`]: modules with PyTorch-style `Display`: Linear, LayerNorm, Embedding, Dropout.
//! - [`quant`]: lower-precision weights (f16, bf16, int8) and their GEMM kernels, for `nn`'s Linear.
//! - [`bert`]: one struct per Hugging Face BERT module.
//! - [`io`] and [`text`]: checkpoint files and tokenization, beside the model.
//! - [`profile`]: per-thread timing spans in the modules and ops (free when off).
//! - [`bench`]: the instruments on top (benchmarks, machine limits, reports).

pub mod bench;
pub mod bert;
pub mod error;
pub mod io;
pub mod nn;
mod notebooks;
pub mod ops;
pub mod pipeline;
pub mod profile;
pub mod quant;
pub mod tensor;
pub mod text;

pub use error::{Error, Result};
pub use tensor::Tensor;
