//! Tests of the mean-pooling exercise (`src/pooling.rs`); the checks are in `checks/pooling.rs`.

mod checks;
mod common;
use checks::pooling as check;
use nanobert_exercises::pooling::mean_pool;

#[test]
fn matches_sentence_transformers_on_a_padded_batch() {
    check::matches_sentence_transformers_on_a_padded_batch(mean_pool);
}

#[test]
fn does_not_average_the_padding() {
    check::does_not_average_the_padding(mean_pool);
}

#[test]
fn a_sequence_without_real_tokens_gives_zeros() {
    check::a_sequence_without_real_tokens_gives_zeros(mean_pool);
}
