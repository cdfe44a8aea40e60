//! # nn: modules, the building blocks PyTorch users know
//!
//! A module holds parameters and knows how to print itself like PyTorch does. The math
//! is in [`crate::ops`]; a module only wires parameters to ops.

pub mod conv;
pub mod layers;
pub mod linear;
pub mod module;
pub mod rnn;

pub use layers::{Activation, Dropout, Embedding, LayerNorm};
pub use linear::Linear;
pub use module::{Module, ModuleList, count_parameters};
