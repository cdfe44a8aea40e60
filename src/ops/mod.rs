//! # Ops: free functions on tensors
//!
//! Every op here has a fast path and, beside it, a slow obvious reference implementation
//! that a property test ties to it.

pub mod conv;
pub mod matmul;
pub mod rnn;
