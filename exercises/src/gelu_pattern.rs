//! Exercise: find the pattern a pass misses (chapter "ML compilers: a graph and its passes").
//!
//! The epilogue fusion turns `linear` → `gelu` into one `linear_gelu` node
//! ([`Net::fuse_linear_gelu`], given). But a model written by hand may spell GELU out as its
//! formula, `0.5·(h·(1 + erf(h·(1/√2))))`, five nodes:
//!
//! ```text
//! t = scale(h)       # constant 1/√2 (std::f32::consts::FRAC_1_SQRT_2)
//! e = erf(t)
//! u = add_const(e)   # constant 1
//! v = mul(h, u)      # or mul(u, h)
//! y = scale(v)       # constant 0.5
//! ```
//!
//! and the pass, which looks for a node whose op is `gelu`, does not fire: the model runs
//! six ops where one would do. A compiler learns such patterns one by one; here you teach the
//! epilogue's matcher this one. The interpreter's `gelu` is that very formula ([`crate::net::gelu`]),
//! so the fused graph gives the same numbers bit for bit, and the tests ask for exactly that.
//!
//! Run: `cargo test --release -p nanobert-exercises --test gelu_pattern`
#![allow(unused_variables)] // the stub does not use its arguments yet

pub use crate::net::Net;

/// The epilogue's matcher: GELU of node `h`'s value, or `None`. Returns `Some(y)` when
///
/// - `h`'s only reader is a `gelu` node `y` (what the pass matched before), or
/// - `h` is read by exactly two nodes, the `t = scale(h)` and `v = mul` of the formula above,
///   and `t`, `e`, `u`, `v`, `y` follow it with those ops, those constants (compare them
///   exactly, [`Net::constant`]), `v` multiplying `h` by `u` in either order, and each of
///   `t`, `e`, `u`, `v` read only by the next node of the pattern; `y` is then the result.
///
/// A value inside the pattern that someone else reads, or that is an output (the
/// [`crate::Graph::users`] count includes the outputs), must still be computed: then `None`.
/// So must `h` itself, which is why it must have no third reader.
pub fn gelu_at(net: &Net, h: usize) -> Option<usize> {
    todo!("exercise: follow h's readers through scale, erf, add_const, mul, scale; check ops, constants, users")
}
