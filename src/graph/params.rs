//! What a graph reads when it runs: the values of its placeholders ([`Feed`]) and the
//! parameters of the model it was traced from ([`Params`]).
//!
//! The graph knows ops, not models. A node names its parameter ([`Weight`], [`Norm`]) and the
//! model that was traced hands it over: `bert/trace.rs` implements [`Params`] for `BertModel`,
//! so the interpreter, the passes and the memory plan never look inside a BERT struct.

use super::{Norm, Weight};
use crate::nn::{LayerNorm, Linear};
use crate::{Error, Result};

/// The values of a graph's placeholders for one run: `[batch, seq_len]` token ids, the
/// attention mask (1 for a real token, 0 for padding; `None`: all ones) and the segment ids
/// (`None`: all zeros).
#[derive(Clone, Copy, Debug)]
pub struct Feed<'a> {
    /// Vocabulary ids, `batch * seq_len` of them.
    pub input_ids: &'a [u32],
    /// 1 for real tokens, 0 for padding; `None` means all ones.
    pub attention_mask: Option<&'a [u32]>,
    /// Segment ids; `None` means all zeros.
    pub token_type_ids: Option<&'a [u32]>,
    /// Number of sequences.
    pub batch: usize,
    /// Tokens per sequence (padding included).
    pub seq_len: usize,
}

impl Feed<'_> {
    /// Checks that every slice holds `batch * seq_len` entries and the batch is not empty.
    ///
    /// Errors: the first slice of another length, or an empty batch, named.
    pub fn check(&self) -> Result<()> {
        let (batch, seq_len) = (self.batch, self.seq_len);
        let n = batch * seq_len;
        for (name, len) in [
            ("input_ids", Some(self.input_ids.len())),
            ("attention_mask", self.attention_mask.map(|m| m.len())),
            ("token_type_ids", self.token_type_ids.map(|t| t.len())),
        ] {
            if let Some(len) = len
                && len != n
            {
                return Err(Error::Input(format!("{name} has {len} entries, expected batch {batch} x seq {seq_len}")));
            }
        }
        if n == 0 {
            return Err(Error::Input("empty batch: nothing to run the model on".into()));
        }
        Ok(())
    }
}

/// The parameters and lookups of the model a graph was traced from.
pub trait Params: Sync {
    /// The Linear layer `w` (for [`Weight::Qkv`], the three projections stacked, built once).
    ///
    /// Errors: a layer the model does not have, named.
    fn linear(&self, w: Weight) -> Result<&Linear>;

    /// The LayerNorm `n`.
    ///
    /// Errors: a layer the model does not have, named.
    fn layer_norm(&self, n: Norm) -> Result<&LayerNorm>;

    /// The `embeddings` node: ids of `feed` to vectors, `[batch · seq_len, hidden]` into `out`.
    ///
    /// Errors: ids out of the vocabulary, a sequence longer than the position table, named.
    fn embeddings_into(&self, feed: &Feed, out: &mut [f32]) -> Result<()>;

    /// The profile span a whole run opens (the traced model's class name). `graph` by default.
    fn root_span(&self) -> &'static str {
        "graph"
    }

    /// The profile spans a node of `module` (its `Node::module`, e.g.
    /// `encoder.layer.3.intermediate`) runs inside, outermost first, as (name, index) pairs
    /// with the count used, so a profile of the graph reads like one of the eager modules.
    /// None by default.
    fn spans(&self, module: &str) -> ([(&'static str, usize); 3], usize) {
        let _ = module;
        ([("", 0); 3], 0)
    }
}
