//! The course notebooks that use the instruments (`nanobert_bench`), compiled and run as doctests
//! (the others are in the library's `src/notebooks.rs`).

#[cfg(doctest)]
#[doc = include_str!("../../../notebooks-md/matmul.md")]
pub struct Notebook02Matmul;

#[cfg(doctest)]
#[doc = include_str!("../../../notebooks-md/fusion.md")]
pub struct NotebookFusion;

#[cfg(doctest)]
#[doc = include_str!("../../../notebooks-md/honest-benchmarks.md")]
pub struct NotebookHonestBenchmarks;

#[cfg(doctest)]
#[doc = include_str!("../../../notebooks-md/batching.md")]
pub struct NotebookBatching;
