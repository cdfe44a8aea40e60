//! The checks behind every exercise test, written as functions of the learner's function so that
//! `tests/wrong_answers.rs` can run the very same checks against deliberately wrong
//! implementations and prove that each one fails.
#![allow(dead_code)]

pub mod bucketing;
pub mod epilogue;
pub mod flops;
pub mod gelu_pattern;
pub mod graph;
pub mod im2col;
pub mod layer_norm;
pub mod matmul;
pub mod percentile;
pub mod pooling;
pub mod quantize;
pub mod scale_fold;
pub mod softmax;
pub mod split;
pub mod stats;
