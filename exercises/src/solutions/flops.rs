//! Reference solution: the FLOPs of one BERT layer. Read it after you have tried `src/flops.rs`.

pub use crate::LayerFlops;

/// FLOPs (2 per multiply-add) of one BERT layer's matmuls on `batch` sequences of `seq` tokens.
pub fn bert_layer_flops(batch: u64, seq: u64, hidden: u64, heads: u64, intermediate: u64) -> LayerFlops {
    let tokens = batch * seq;
    // Q, K, V, output: four h x h; feed-forward: h x i and i x h.
    let linears = 2 * tokens * (4 * hidden * hidden + 2 * hidden * intermediate);
    // Per sequence and head: [seq, d]·[d, seq] and [seq, seq]·[seq, d], d = hidden / heads.
    let d = hidden / heads;
    let attention = batch * heads * 2 * (2 * seq * seq * d);
    LayerFlops { linears, attention }
}
