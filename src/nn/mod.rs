//! # nn: layers that hold weights, printed like PyTorch
//!
//! Each module owns its weight tensors, checks their shapes when built, and has a `forward`
//! that calls the ops below it. `Display` matches PyTorch's `repr` character for character.

pub mod conv;
pub mod rnn;
