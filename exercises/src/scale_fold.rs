//! Exercise: the scale-folding pass (chapter "ML compilers: a graph and its passes").
//!
//! Attention scales its scores: `softmax(c · q·kᵀ)` with `c = 1/√d`. Since `q = x·W_qᵀ + b_q`,
//! `c · q·kᵀ = (x·(c·W_q)ᵀ + c·b_q)·kᵀ`: multiply the query's weight *and* bias by `c` once,
//! when the model is compiled, and the `scale` node, a pass over every `[S, S]` score matrix of
//! every call, is gone. The graph is a [`Net`]: a [`crate::Graph`] whose `linear` nodes have
//! their parameters in [`Net::linears`] and whose `scale` nodes have their constant in
//! [`Net::consts`], both by node name.
//!
//! **Not bit-exact.** `fl(x·fl(c·W))` is not `fl(c·fl(x·W))`: each product and sum rounds at a
//! different place, so the folded graph's numbers differ from the original's in the last bits
//! (unless `c` is a power of two, as `1/√64 = 1/8` is, when every step scales exactly). The
//! tests therefore bound the difference (relative to the largest output, 1e-5) instead of
//! asking for equality, and check bit-exactness only for `d = 64`.
//!
//! Run: `cargo test --release -p nanobert-exercises --test scale_fold`
#![allow(unused_variables)] // the stub does not use its argument yet

pub use crate::net::{Linear, Net};

/// Folds every `z = scale(s)` whose argument is `s = scores(q, k)` into the query: `q`'s
/// weight and bias (in `net.linears`, under `q`'s name) are multiplied by `z`'s constant, and
/// every reader of `z` (and the outputs) reads `s` instead; the `scale` node, now unread, is
/// removed (it is the only node that goes: later nodes move up one place, indices renumbered).
///
/// Fold only when nothing else sees the change: `q` must be a `linear` read by this `scores`
/// alone, `s` must be read by this `scale` alone, and neither may be an output; otherwise
/// leave the pattern as it is. `k` is never touched. Run twice, the pass folds nothing the
/// second time (the `scale` is gone). Returns how many `scale` nodes it folded.
pub fn fold_scale(net: &mut Net) -> usize {
    todo!("exercise: find scale(scores(q, k)), scale q's weight and bias, bypass and remove the scale")
}
