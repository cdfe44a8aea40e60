//! Tests of the graph passes exercise (`src/graph.rs`); the checks are in `checks/graph.rs`.

mod checks;
mod common;
use checks::graph as check;
use nanobert_exercises::graph::{dce, fuse_epilogue};

#[test]
fn dce_keeps_what_the_outputs_need() {
    check::dce_keeps_what_the_outputs_need(dce);
}

#[test]
fn fusion_rewrites_the_pattern() {
    check::fusion_rewrites_the_pattern(fuse_epilogue);
}

#[test]
fn fusion_leaves_values_others_need() {
    check::fusion_leaves_values_others_need(fuse_epilogue);
}
