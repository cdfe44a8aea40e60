//! # nanobert: matrix multiplication is all you need
//!
//! A from-scratch tensor library and BERT implementation for the CPU, written to be read, and the
//! library behind the course in `docs/` (an mdBook: `mdbook build docs`).
//!
//! ## Quick start: a checkpoint in, sentence embeddings out
//!
//! ```
//! use nanobert::{io::{Checkpoint, fetch}, pipeline::Embedder};
//!
//! let dir = fetch::ensure_minilm(true)?; // all-MiniLM-L6-v2 into ~/.cache/nanobert, once (90 MB)
//! let embedder = Embedder::from_checkpoint(&Checkpoint::open(&dir)?)?;
//! let v = embedder.embed(&["The cat sits on the mat.", "A dog."])?; // 2 vectors of 384 f32
//! let cosine: f32 = v[0].iter().zip(&v[1]).map(|(a, b)| a * b).sum(); // unit length: dot = cosine
//! # assert_eq!((v.len(), v[0].len()), (2, 384));
//! # assert!((cosine - 0.2665).abs() < 1e-3, "sentence-transformers gives 0.2665, we got {cosine}");
//! # Ok::<(), nanobert::Error>(())
//! ```
//!
//! Any BERT checkpoint directory works in place of `dir` (`config.json`, `model.safetensors`,
//! `tokenizer.json` or `vocab.txt`); errors name the file, tensor or shape at fault.
//!
//! ## The map
//!
//! This crate is the library alone (no CLI, HTTP, zip or plotting crate; `io::fetch` is the opt-in
//! `fetch` feature). The workspace's other crates sit on top of its public API: `nanobert-cli`
//! (the `nanobert` binary), `nanobert-bench` (benchmarks, machine limits, reports) and
//! `nanobert-serve` (the HTTP server).
//!
//! The layers, bottom to top; each knows only the ones above it in this list
//! (`docs/architecture.md`):
//!
//! | module | what it is for | read first |
//! |---|---|---|
//! | [`tensor`] | a flat `f32` buffer plus shape, strides and offset; views; printing like PyTorch | [`Tensor`] |
//! | [`ops`] | free functions on tensors (elementwise, reductions, softmax, LayerNorm, GELU, embedding, conv, RNN), each beside a slow reference | [`mod@ops::matmul`], the GEMM ladder |
//! | [`quant`] | lower precision: f16/bf16/int8 weight formats ([`quant::Storage`]) and their GEMM kernels (VNNI, AVX512_BF16, AVX2), SmoothQuant's factors | [`quant::Precision`] |
//! | [`nn`] | modules that hold parameters and print like PyTorch: Linear, LayerNorm, Embedding, Dropout, Conv, RNN/LSTM; converting a model's Linears to a precision | [`nn::Linear`], [`nn::ToPrecision`] |
//! | [`bert`] | one struct per Hugging Face BERT module, named like the checkpoint keys | [`bert::BertModel`], [`bert::BertForMaskedLM`] |
//! | [`io`], [`text`] | checkpoint directories (safetensors via mmap, names in the wild, fetching MiniLM) and tokenization | [`io::Checkpoint`], [`text::tokenizer::Tokenizer`] |
//! | [`pipeline`] | text in, answers out: embeddings, similarity, fill-mask | [`pipeline::Embedder`], [`pipeline::FillMask`] |
//! | [`finite`] | NaN/inf checks of weights and results: the CLI never prints NaN as an answer | [`finite::check_weights`] |
//! | [`stream`] | many texts in (file or stdin, lines or JSONL), JSON lines out as they go | [`stream::embed_jsonl`] |
//! | [`profile`] | a scoped, per-thread profiler: spans in the modules and ops, free when off | [`profile::record`] |
//! | [`error`] | one error type; every input-facing function returns [`Result`] | [`Error`] |

// Every public item says what it is for, with shapes, units and errors where they apply; CI turns
// this warning into an error (clippy -D warnings, and cargo doc with RUSTDOCFLAGS=-D warnings).
#![warn(missing_docs)]

pub mod bert;
pub mod error;
pub mod finite;
pub mod graph;
pub mod io;
pub mod nn;
mod notebooks;
pub mod ops;
pub mod pipeline;
pub mod profile;
pub mod quant;
pub mod stream;
pub mod tensor;
pub mod text;
pub mod threads;

pub use error::{Error, Result};
pub use tensor::Tensor;
