//! Exercise: mean pooling that skips the padding (chapter "Fill-mask and sentence similarity").
//!
//! A batch of texts is padded to the longest, so the model also returns vectors for `[PAD]`
//! positions. A sentence embedding is the mean of the vectors of the *real* tokens only:
//! `Σ_t mask[t]·h[t] / Σ_t mask[t]`. Averaging every position looks harmless on equal-length
//! inputs and is wrong for every shorter text of a padded batch; the tests compare with what
//! sentence-transformers computed for all-MiniLM-L6-v2 on a padded batch of six sentences.
//!
//! Run: `cargo test --release -p nanobert-exercises --test pooling`
#![allow(unused_variables)] // the stubs do not use their arguments yet

/// Mean of the hidden vectors of the real tokens of each sequence.
///
/// `hidden` is `[batch, seq, dim]` row-major, `mask` is `[batch, seq]` with 1 for a real token and
/// 0 for padding. Returns `[batch, dim]`. A sequence with no real token gives zeros (PyTorch's
/// sentence-transformers clamps the count to at least 1e-9, which gives zeros as well).
pub fn mean_pool(hidden: &[f32], mask: &[u32], batch: usize, seq: usize, dim: usize) -> Vec<f32> {
    todo!("exercise: sum the vectors where mask is 1, divide by the number of real tokens")
}
