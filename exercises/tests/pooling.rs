//! Tests of the mean-pooling exercise (`src/pooling.rs`), against sentence-transformers'
//! all-MiniLM-L6-v2 on a padded batch of six sentences (`tests/fixtures/minilm/`).

mod common;
use common::{assert_close, fixture};
use nanobert::io::Weights;
use nanobert_exercises::pooling::mean_pool;

struct Batch {
    hidden: Vec<f32>,
    mask: Vec<u32>,
    want: Vec<f32>,
    batch: usize,
    seq: usize,
    dim: usize,
}

fn minilm_batch() -> Batch {
    let w = Weights::open(&fixture("minilm/minilm-hidden.safetensors")).unwrap();
    let hidden = w.get("last_hidden_state").unwrap();
    let (batch, seq, dim) = (hidden.shape()[0], hidden.shape()[1], hidden.shape()[2]);
    let (mask, _) = w.get_i64("attention_mask").unwrap();
    let want = w.get("mean_pooled").unwrap().to_vec();
    Batch { hidden: hidden.to_vec(), mask: mask.iter().map(|&m| m as u32).collect(), want, batch, seq, dim }
}

#[test]
fn matches_sentence_transformers_on_a_padded_batch() {
    let b = minilm_batch();
    assert!(b.mask.contains(&0), "the fixture batch must contain padding");
    let got = mean_pool(&b.hidden, &b.mask, b.batch, b.seq, b.dim);
    assert_close("mean_pooled", &got, &b.want, 1e-5);
}

#[test]
fn averaging_the_padding_too_would_be_visibly_wrong() {
    // What the bug gives: the mean over all `seq` positions. Not part of the exercise; it shows
    // that the first test cannot pass by accident when the padding is counted.
    let b = minilm_batch();
    let mut forgetful = vec![0.0f32; b.batch * b.dim];
    for i in 0..b.batch {
        for t in 0..b.seq {
            for d in 0..b.dim {
                forgetful[i * b.dim + d] += b.hidden[(i * b.seq + t) * b.dim + d] / b.seq as f32;
            }
        }
    }
    let worst = nanobert::tensor::max_abs_diff(&forgetful, &b.want).unwrap(); // fails on NaN/inf
    assert!(worst > 0.1, "padding-blind mean is only {worst} off");
}

#[test]
fn a_sequence_without_real_tokens_gives_zeros() {
    let got = mean_pool(&[1.0, 2.0, 3.0, 4.0], &[0, 0], 1, 2, 2);
    assert_eq!(got, vec![0.0, 0.0]);
}
