//! Exercise: two passes of an ML compiler (chapter "ML compilers: a graph and its passes").
//!
//! A [`Graph`] is a list of nodes in execution order; each reads earlier nodes by index, and
//! the outputs say which values the caller wants. A *pass* rewrites the list and says how
//! many rewrites it made — the same shape as `nanobert::graph`'s passes and torch.fx's.
//!
//! Run: `cargo test --release -p nanobert-exercises --test graph`
#![allow(unused_variables)] // the stubs do not use their arguments yet

pub use crate::{Graph, Node};

/// Dead-code elimination: removes every node that no output depends on, directly or through
/// other nodes, except the `placeholder`s (the graph's inputs stay, used or not). The nodes
/// that stay keep their order; every index (in `args` and in `outputs`) is renumbered to the
/// node's new place. Returns how many nodes were removed.
///
/// Hint: walk the nodes from the last to the first, marking a node live when an output or a
/// live node reads it.
pub fn dce(g: &mut Graph) -> usize {
    todo!("exercise: mark what the outputs need, keep it, renumber")
}

/// The epilogue fusion: `m = matmul(x)`, `b = add_bias(m)`, `y = gelu(b)` becomes one node
/// `y = linear_bias_gelu(x)`, and a `matmul` → `add_bias` with no `gelu` after it becomes
/// `b = linear_bias(x)`. The fused node takes the place and the name of the pattern's *last*
/// node (so whoever read `y` or `b` reads the fused node), with the matmul's arguments.
///
/// Fuse only when no one else needs the values inside the pattern: a `matmul` or `add_bias`
/// (when a `gelu` follows) read by anything else, or wanted as an output, must still be
/// computed, so that pattern is left alone (the `gelu` is then not fused, but the
/// `matmul` → `add_bias` part still is when the `matmul` has the bias as its only user). The
/// nodes the fusion leaves unread are removed (your [`dce`] does that). Returns how many
/// patterns were fused.
pub fn fuse_epilogue(g: &mut Graph) -> usize {
    todo!("exercise: find matmul -> add_bias (-> gelu) with single users, rewrite the last node")
}
