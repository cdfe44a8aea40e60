//! Exercise: the FLOPs of one BERT layer (chapter "Where the time goes: profiling").
//!
//! A profile places each op under a roof by its FLOPs, so the count must be right. A matmul
//! `[m, k]·[k, n]` is `m·k·n` multiply-adds, `2·m·k·n` FLOPs. One BERT encoder layer on
//! `batch` sequences of `seq` tokens, hidden size `h`, `heads` heads of `h / heads`, feed-forward
//! width `i`, does these matmuls:
//!
//! - the Linears, on all `batch·seq` tokens: Q, K, V and the attention output (`h → h` each),
//!   the feed-forward up (`h → i`) and down (`i → h`);
//! - the attention, per sequence and per head: `Q·Kᵀ` (`[seq, d]·[d, seq]`) and `probs·V`
//!   (`[seq, seq]·[seq, d]`). A token attends only within its own sequence.
//!
//! The tests compare with what PyTorch's `torch.utils.flop_counter.FlopCounterMode` counts for a
//! transformers `BertLayer` (`aten.addmm` for the Linears, `aten.bmm` for the attention).
//!
//! Run: `cargo test --release -p nanobert-exercises --test flops`
#![allow(unused_variables)] // the stubs do not use their arguments yet

pub use crate::LayerFlops;

/// FLOPs (2 per multiply-add) of one BERT layer's matmuls on `batch` sequences of `seq` tokens.
/// `hidden` is a multiple of `heads`.
pub fn bert_layer_flops(batch: u64, seq: u64, hidden: u64, heads: u64, intermediate: u64) -> LayerFlops {
    todo!("exercise: count the six Linears and the two attention matmuls")
}
