//! The course notebooks (`notebooks-md/*.md`), compiled and run as doctests.
//!
//! Each notebook is markdown whose ```` ```rust ```` cells assert the output they show, so
//! `cargo test --release --doc` checks every printed line of the course. Nothing here
//! exists in a normal build.

#[cfg(doctest)]
#[doc = include_str!("../notebooks-md/02-matmul.md")]
pub struct Notebook02Matmul;
