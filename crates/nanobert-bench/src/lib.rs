//! # Instruments: benchmarks, machine limits and their reports
//!
//! This module sits on top of the library, beside the CLI: it times the kernels and the model
//! through their public APIs, reads `/proc`, prints tables and writes CSV, Markdown and SVG
//! under `target/nanobert-bench/`. Nothing below it (tensor, ops, nn, bert) knows it exists.
//!
//! - [`machine`]: the CPU (model, SIMD features), the load and host steal during a run, and
//!   the measured limits a roofline needs (FP32 FMA peak, memory bandwidth).
//! - [`peak`]: the FMA peak microbenchmark (independent FMA chains on registers), and
//!   [`dot_peaks`]: the same for the int8 and bf16 dot-product instructions.
//! - [`precision`]: what each lower precision costs in accuracy against f32
//!   (`nanobert bench precision`).
//! - [`profiling`]: the `--profile` report (tables against the limits, Chrome trace).
//! - [`models`]: the benchmark models and inputs (bert-base with seeded random weights,
//!   written once as a checkpoint; random ids; a corpus of mixed-length sentences).
//! - [`forward`]: the forward pass as users run it (`nanobert bench forward`): latency,
//!   the batch-size sweep, a corpus end to end, cold start, peak RSS.
//! - [`batching`]: one sentence at a time vs padded batches vs length-bucketed batches on
//!   the mixed-length corpus: padding and sentences/s (`nanobert bench batching`).
//! - [`fusion`]: each fusion of the forward off against all on, interleaved, with the
//!   bytes it keeps off the memory bus (`nanobert bench fusion`).
//! - [`threads`]: 1..N threads at batch 1 and 32, and two processes at once.
//! - [`compare`]: PyTorch, ONNX Runtime and sentence-transformers timed beside nanobert,
//!   interleaved, after checking their outputs equal ours (`scripts/bench_compare.py`).
//! - [`commands`]: the `nanobert bench` commands, for `main.rs` to dispatch to.
//! - [`timing`]: warm-up, repetitions, median/min/max.
//! - [`matmul`]: every rung of the GEMM ladder and `matrixmultiply` on BERT's shapes
//!   (`nanobert bench matmul`, `cargo bench --bench matmul`).
//!
//! How to measure on a shared machine (and why): docs/honest-benchmarks.md.

pub mod batching;
pub mod commands;
pub mod compare;
pub mod dot_peaks;
pub mod forward;
mod forward_plot;
pub mod fusion;
pub mod graph;
pub mod machine;
pub mod matmul;
pub mod matmul_lowp;
mod matmul_report;
pub mod models;
mod notebooks;
pub mod peak;
pub mod precision;
pub mod profiling;
pub mod threads;
pub mod timing;
