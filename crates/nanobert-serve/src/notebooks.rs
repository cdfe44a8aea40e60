//! The course notebooks that use the server (`nanobert_serve`), compiled and run as doctests
//! (the others are in the library's `src/notebooks.rs`).

#[cfg(doctest)]
#[doc = include_str!("../../../notebooks-md/deploying.md")]
pub struct NotebookDeploying;
