//! # nn: modules, the building blocks PyTorch users know
//!
//! A module holds parameters and knows how to print itself like PyTorch does. The math
//! is in [`crate::ops`] (and the lower-precision formats in [`crate::quant`]); a module only
//! wires parameters to ops. `convert.rs` and `calibrate.rs` work on whole module trees:
//! converting every Linear to a precision, and measuring what each Linear sees.

pub mod calibrate;
pub mod conv;
pub mod convert;
pub mod layers;
pub mod linear;
pub mod module;
pub mod rnn;

pub use calibrate::calibrate;
pub use convert::{ToPrecision, bytes_by_precision, linears, linears_mut, to_precision, weight_bytes};
pub use layers::{Activation, Dropout, Embedding, LayerNorm};
pub use linear::Linear;
pub use module::{Module, ModuleList, count_parameters};
