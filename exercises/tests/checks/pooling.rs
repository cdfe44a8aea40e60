//! Checks of the mean-pooling exercise (`src/pooling.rs`), against sentence-transformers'
//! all-MiniLM-L6-v2 on a padded batch of six sentences (`tests/fixtures/minilm/`).

use crate::common::{assert_close, fixture};
use nanobert::io::Weights;

/// The learner's `mean_pool(hidden, mask, batch, seq, dim)`.
pub type MeanPool = fn(&[f32], &[u32], usize, usize, usize) -> Vec<f32>;

pub struct Batch {
    pub hidden: Vec<f32>,
    pub mask: Vec<u32>,
    pub want: Vec<f32>,
    pub batch: usize,
    pub seq: usize,
    pub dim: usize,
}

pub fn minilm_batch() -> Batch {
    let w = Weights::open(&fixture("minilm/minilm-hidden.safetensors")).unwrap();
    let hidden = w.get("last_hidden_state").unwrap();
    let (batch, seq, dim) = (hidden.shape()[0], hidden.shape()[1], hidden.shape()[2]);
    let (mask, _) = w.get_i64("attention_mask").unwrap();
    let want = w.get("mean_pooled").unwrap().to_vec();
    Batch { hidden: hidden.to_vec(), mask: mask.iter().map(|&m| m as u32).collect(), want, batch, seq, dim }
}

pub fn matches_sentence_transformers_on_a_padded_batch(f: MeanPool) {
    let b = minilm_batch();
    assert!(b.mask.contains(&0), "the fixture batch must contain padding");
    let got = f(&b.hidden, &b.mask, b.batch, b.seq, b.dim);
    assert_close("mean_pooled", &got, &b.want, 1e-5);
}

/// The padding-blind mean (over all `seq` positions) is far from sentence-transformers' answer on
/// this batch, and the learner's function must not give it.
pub fn does_not_average_the_padding(f: MeanPool) {
    let b = minilm_batch();
    let mut forgetful = vec![0.0f32; b.batch * b.dim];
    for i in 0..b.batch {
        for t in 0..b.seq {
            for d in 0..b.dim {
                forgetful[i * b.dim + d] += b.hidden[(i * b.seq + t) * b.dim + d] / b.seq as f32;
            }
        }
    }
    let fixture_gap = nanobert::tensor::max_abs_diff(&forgetful, &b.want).unwrap(); // fails on NaN/inf
    assert!(fixture_gap > 0.1, "the padding-blind mean is only {fixture_gap} off: the fixture cannot tell");
    let got = f(&b.hidden, &b.mask, b.batch, b.seq, b.dim);
    let gap = nanobert::tensor::max_abs_diff(&got, &forgetful).unwrap(); // fails on NaN/inf
    assert!(gap > 0.1, "mean_pool is within {gap} of the mean over every position, padding included");
}

pub fn a_sequence_without_real_tokens_gives_zeros(f: MeanPool) {
    let got = f(&[1.0, 2.0, 3.0, 4.0], &[0, 0], 1, 2, 2);
    assert_eq!(got, vec![0.0, 0.0]);
}
