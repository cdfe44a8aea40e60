//! # From text to token ids
//!
//! - [`tokenizer`]: a thin layer over the `tokenizers` crate that loads `tokenizer.json` or
//!   builds BERT's WordPiece pipeline from a bare `vocab.txt`, and returns padded batches as
//!   the flat `[batch, seq_len]` arrays the model eats.

pub mod tokenizer;

pub use tokenizer::{Batch, Encoded, Tokenizer};
