//! # From text to token ids
//!
//! Strings in, ids out: this layer knows no tensors, no models and no checkpoint directory.
//!
//! - [`tokenizer`]: a thin layer over the `tokenizers` crate that loads a `tokenizer.json` and
//!   returns padded batches as the flat `[batch, seq_len]` arrays the model eats.
//! - [`wordpiece`]: BERT's WordPiece pipeline built from a vocabulary (`vocab.txt`, or the
//!   vocabulary of a `tokenizer.json`) and [`BertSettings`] (lowercasing, special tokens, added
//!   tokens).
//!
//! The constructors that read a model directory — `Tokenizer::from_checkpoint` and
//! `Tokenizer::from_dir`, which decide from `tokenizer_config.json` which files and settings
//! apply — are in `pipeline/tokenizer_files.rs`, the one place checkpoints ([`crate::io`]) and
//! tokenizers meet.

pub mod tokenizer;
pub mod wordpiece;

pub use tokenizer::{Batch, Encoded, Tokenizer};
pub use wordpiece::{AddedTokenSpec, BertSettings};
