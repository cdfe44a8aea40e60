//! # Instruments: benchmarks, machine limits and their reports
//!
//! This module sits on top of the library, beside the CLI: it times the kernels and the model
//! through their public APIs, reads `/proc`, prints tables and writes CSV, Markdown and SVG
//! under `target/nanobert-bench/`. Nothing below it (tensor, ops, nn, bert) knows it exists.
//!
//! - [`machine`]: the CPU (model, SIMD features), the load and host steal during a run, and
//!   the measured limits a roofline needs (FP32 FMA peak, memory bandwidth).
//! - [`peak`]: the FMA peak microbenchmark (independent FMA chains on registers).
//! - [`profiling`]: the `--profile` report (tables against the limits, Chrome trace).
//! - [`models`]: the benchmark models and inputs (bert-base with seeded random weights,
//!   written once as a checkpoint; random ids; a corpus of mixed-length sentences).
//! - [`matmul`]: every rung of the GEMM ladder and `matrixmultiply` on BERT's shapes
//!   (`nanobert bench matmul`, `cargo bench --bench matmul`).
//!
//! How to measure on a shared machine (and why): docs/honest-benchmarks.md.

pub mod machine;
pub mod matmul;
mod matmul_report;
pub mod models;
pub mod peak;
pub mod profiling;
