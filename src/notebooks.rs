//! The course notebooks (`notebooks-md/*.md`) that use the library alone, compiled and run as doctests.
//!
//! Each notebook is markdown whose ```` ```rust ```` cells assert the output they show, so
//! `cargo test --release --doc` checks every printed line of the course. Nothing here
//! exists in a normal build.

#[cfg(doctest)]
#[doc = include_str!("../notebooks-md/tensors.md")]
pub struct Notebook01Tensors;

#[cfg(doctest)]
#[doc = include_str!("../notebooks-md/conv-rnn.md")]
pub struct Notebook07ConvRnn;

#[cfg(doctest)]
#[doc = include_str!("../notebooks-md/embeddings.md")]
pub struct Notebook03Embeddings;

#[cfg(doctest)]
#[doc = include_str!("../notebooks-md/layers.md")]
pub struct Notebook04Layers;

#[cfg(doctest)]
#[doc = include_str!("../notebooks-md/attention.md")]
pub struct Notebook05Attention;

#[cfg(doctest)]
#[doc = include_str!("../notebooks-md/bert-layer-by-layer.md")]
pub struct Notebook06BertLayerByLayer;

#[cfg(doctest)]
#[doc = include_str!("../docs/rust-primer.md")]
pub struct BookRustPrimer;

#[cfg(doctest)]
#[doc = include_str!("../notebooks-md/ml-compilers.md")]
pub struct NotebookMlCompilers;

#[cfg(doctest)]
#[doc = include_str!("../notebooks-md/lower-precision.md")]
pub struct NotebookLowerPrecision;

#[cfg(doctest)]
#[doc = include_str!("../notebooks-md/profiling.md")]
pub struct NotebookProfiling;

#[cfg(doctest)]
#[doc = include_str!("../notebooks-md/checkpoints.md")]
pub struct NotebookCheckpoints;

#[cfg(doctest)]
#[doc = include_str!("../notebooks-md/threads.md")]
pub struct NotebookThreads;

// The notebooks that time things or serve (matmul, fusion, honest-benchmarks, batching,
// deploying) are doctested by the crates they use: crates/nanobert-bench/src/notebooks.rs and
// crates/nanobert-serve/src/notebooks.rs.
