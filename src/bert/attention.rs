//! # Self-attention: every token looks at every other token, with two matmuls
//!
//! For each head `h` (a slice of `head_dim` columns of the hidden size):
//!
//! ```text
//! Q = x·Wqᵀ + bq,  K = x·Wkᵀ + bk,  V = x·Wvᵀ + bv          [batch, seq, hidden]
//! scores[b, h] = Q[b, :, h] · K[b, :, h]ᵀ / √head_dim        [seq, seq]   (matmul #1)
//! probs = softmax(scores + mask)                             each row sums to 1
//! context[b, :, h] = probs · V[b, :, h]                      [seq, head_dim] (matmul #2)
//! ```
//!
//! The mask adds a huge negative number to the scores of padding tokens, so after the
//! softmax no real token attends to padding.
//!
//! The fast path never copies heads into `[batch, heads, seq, head_dim]` tensors: a head
//! is a column block of Q, K, V with row stride `hidden`, and `sgemm` takes that stride
//! directly. `forward_ref` is the same computation written with tensor views and ops,
//! the way you would write it in PyTorch. The kernel itself (blocks of queries, the plain and
//! the online softmax) is [`crate::ops::attention`]: it knows heads and sequences, not BERT.
//!
//! Hugging Face: `BertSelfAttention`, `BertSelfOutput`, `BertAttention` in
//! <https://github.com/huggingface/transformers/blob/main/src/transformers/models/bert/modeling_bert.py>.

use std::sync::OnceLock;

use super::ParamSource;
use super::config::BertConfig;
use super::fusion::Fusion;
use super::{load_layer_norm, load_linear};
use crate::nn::{Dropout, LayerNorm, Linear, Module};
pub use crate::ops::attention::{
    AttentionKernel, AttentionScratch, AttentionShape, KEY_BLOCK, QUERY_BLOCK, attention_into, scratch_floats,
};
use crate::{Result, Tensor, ops};

/// `(batch, seq, hidden)` of `x`, checked: `[batch, seq, hidden]` with the module's `hidden`
/// size, and an additive `mask` of `batch · seq` values (none checked when `mask` is `None`).
pub(crate) fn check_hidden(module: &'static str, x: &Tensor, hidden: usize, mask: &[f32]) -> Result<[usize; 3]> {
    let bad = |what: String| Err(crate::Error::invalid(module, what));
    match *x.shape() {
        [b, s, h] if h == hidden && mask.len() == b * s => Ok([b, s, h]),
        [b, s, h] if h == hidden => bad(format!("mask of {} values for batch {b} x seq {s}", mask.len())),
        _ => bad(format!("input of shape {:?}, expected [batch, seq, {hidden}]", x.shape())),
    }
}

/// `BertSelfAttention`: `softmax(Q·Kᵀ/√d + mask)·V` for every head, with Q, K, V three Linears of
/// `[hidden] → [hidden]`; `[batch, seq, hidden]` in and out. Field names are the checkpoint's
/// (`...attention.self.query.weight`, ...).
pub struct BertSelfAttention {
    /// Queries: `hidden → hidden`, `num_heads` column blocks of `head_dim`.
    pub query: Linear,
    /// Keys: `hidden → hidden`.
    pub key: Linear,
    /// Values: `hidden → hidden`.
    pub value: Linear,
    /// On the attention probabilities while training; identity here (printed like PyTorch).
    pub dropout: Dropout,
    /// Heads; each sees `hidden / num_heads` columns of Q, K and V.
    pub num_heads: usize,
    /// `query`, `key` and `value` stacked into one `[3 hidden, hidden]` Linear (built and
    /// packed by the first forward with the `qkv` fusion; not a parameter of its own).
    qkv: OnceLock<Linear>,
}

impl BertSelfAttention {
    /// Loads `{prefix}query`, `{prefix}key`, `{prefix}value` (weights `[hidden, hidden]`, biases
    /// `[hidden]`), checking the shapes against `cfg`.
    ///
    /// Errors: a missing tensor or a wrong shape, named.
    pub fn load(w: &dyn ParamSource, prefix: &str, cfg: &BertConfig) -> Result<Self> {
        let h = cfg.hidden_size;
        Ok(BertSelfAttention {
            query: load_linear(w, &format!("{prefix}query"), h, h)?,
            key: load_linear(w, &format!("{prefix}key"), h, h)?,
            value: load_linear(w, &format!("{prefix}value"), h, h)?,
            dropout: Dropout { p: cfg.attention_probs_dropout_prob },
            num_heads: cfg.num_attention_heads,
            qkv: OnceLock::new(),
        })
    }

    /// `query`, `key` and `value` stacked into one `[3 hidden, hidden]` Linear, built on first
    /// use and kept: the parameter-only expression the graph's `qkv` pass multiplies by (its
    /// `fold` pass builds and packs it at compile time).
    pub(crate) fn stacked_qkv(&self) -> Result<&Linear> {
        match self.qkv.get() {
            Some(l) => Ok(l),
            None => {
                let l = Linear::concat(&[&self.query, &self.key, &self.value])?;
                Ok(self.qkv.get_or_init(|| l))
            }
        }
    }

    /// `x: [batch, seq, hidden]`, `mask: [batch, seq]` additive (0 or a large negative)
    /// `-> context [batch, seq, hidden]`, with every fusion on ([`attention_into`]).
    ///
    /// Errors: `x` not `[batch, seq, hidden]` with this layer's hidden size, or a mask of
    /// another length, named.
    pub fn forward(&self, x: &Tensor, mask: &[f32]) -> Result<Tensor> {
        self.forward_with(x, mask, &Fusion::default())
    }

    /// [`BertSelfAttention::forward`] with the given attention kernel settings (`softmax`,
    /// `heads`, `flash` of `fusion`): the three projections, then [`attention_into`].
    pub fn forward_with(&self, x: &Tensor, mask: &[f32], fusion: &Fusion) -> Result<Tensor> {
        let _s = crate::profile::span("BertSelfAttention");
        let [b, s, hidden] = check_hidden("BertSelfAttention", x, self.query.in_features(), mask)?;
        let project = |l: &Linear| l.forward(x).map(|t| t.contiguous());
        let (q, k, v) = (project(&self.query)?, project(&self.key)?, project(&self.value)?);
        let (q, k, v) = (q.as_slice().unwrap_or(&[]), k.as_slice().unwrap_or(&[]), v.as_slice().unwrap_or(&[]));
        let mut out = vec![0.0f32; b * s * hidden];
        let shape = AttentionShape { batch: b, seq: s, heads: self.num_heads, head_dim: hidden / self.num_heads };
        attention_into(
            shape,
            q,
            k,
            v,
            hidden,
            mask,
            &mut out,
            &AttentionScratch::default(),
            fusion.attention_kernel(),
        )?;
        Tensor::from_vec(out, &[b, s, hidden])
    }

    /// The attention probabilities `[batch, heads, seq, seq]`, computed with tensor ops the
    /// obvious way (reshape into heads, permute, matmul, softmax). Used as the reference.
    pub fn probs_ref(&self, x: &Tensor, mask: &[f32]) -> Result<Tensor> {
        let [b, s, hidden] = check_hidden("BertSelfAttention", x, self.query.in_features(), mask)?;
        let (nh, d) = (self.num_heads, hidden / self.num_heads);
        let heads = |t: Tensor| t.reshape(&[b, s, nh, d])?.permute(&[0, 2, 1, 3]); // [b, nh, s, d]
        let q = heads(self.query.forward_ref(x)?)?;
        let k = heads(self.key.forward_ref(x)?)?;
        let scores = ops::mul_scalar(&ops::matmul::matmul(&q, &k.transpose(-1, -2)?)?, 1.0 / (d as f32).sqrt());
        let mask = Tensor::from_vec(mask.to_vec(), &[b, 1, 1, s])?;
        ops::softmax(&scores, Some(&mask))
    }

    /// Reference context `[batch, seq, hidden]` from `probs_ref`.
    pub fn forward_ref(&self, x: &Tensor, mask: &[f32]) -> Result<Tensor> {
        let [b, s, hidden] = check_hidden("BertSelfAttention", x, self.query.in_features(), mask)?;
        let (nh, d) = (self.num_heads, hidden / self.num_heads);
        let probs = self.probs_ref(x, mask)?;
        let v = self.value.forward_ref(x)?.reshape(&[b, s, nh, d])?.permute(&[0, 2, 1, 3])?;
        let ctx = ops::matmul::matmul(&probs, &v)?; // [b, nh, s, d]
        ctx.permute(&[0, 2, 1, 3])?.contiguous().reshape(&[b, s, hidden])
    }
}

impl Module for BertSelfAttention {
    fn name(&self) -> String {
        "BertSelfAttention".into()
    }
    fn children(&self) -> Vec<(String, &dyn Module)> {
        vec![
            ("query".into(), &self.query),
            ("key".into(), &self.key),
            ("value".into(), &self.value),
            ("dropout".into(), &self.dropout),
        ]
    }
    fn children_mut(&mut self) -> Vec<(String, &mut dyn Module)> {
        vec![
            ("query".into(), &mut self.query),
            ("key".into(), &mut self.key),
            ("value".into(), &mut self.value),
            ("dropout".into(), &mut self.dropout),
        ]
    }
}

/// Projects the attention context back and adds the residual: `LayerNorm(dense(ctx) + x)`.
#[allow(non_snake_case)] // field names match the checkpoint keys
pub struct BertSelfOutput {
    /// `hidden → hidden` projection of the heads' context.
    pub dense: Linear,
    /// Applied to `dense(ctx) + residual`.
    pub LayerNorm: LayerNorm,
    /// After `dense` while training; identity here.
    pub dropout: Dropout,
}

impl BertSelfOutput {
    /// Loads `{prefix}dense` and `{prefix}LayerNorm`.
    ///
    /// Errors: a missing tensor or a wrong shape, named.
    pub fn load(w: &dyn ParamSource, prefix: &str, cfg: &BertConfig) -> Result<Self> {
        let h = cfg.hidden_size;
        Ok(BertSelfOutput {
            dense: load_linear(w, &format!("{prefix}dense"), h, h)?,
            LayerNorm: load_layer_norm(w, &format!("{prefix}LayerNorm"), h, cfg.layer_norm_eps)?,
            dropout: Dropout { p: cfg.hidden_dropout_prob },
        })
    }

    /// `ctx, residual: [batch, seq, hidden] -> [batch, seq, hidden]`.
    pub fn forward(&self, ctx: &Tensor, residual: &Tensor) -> Result<Tensor> {
        let _s = crate::profile::span("BertSelfOutput");
        self.LayerNorm.forward(&ops::add(&self.dense.forward(ctx)?, residual)?)
    }

    /// [`BertSelfOutput::forward`] with the naive matmul ([`Linear::forward_ref`]).
    pub fn forward_ref(&self, ctx: &Tensor, residual: &Tensor) -> Result<Tensor> {
        self.LayerNorm.forward(&ops::add(&self.dense.forward_ref(ctx)?, residual)?)
    }
}

impl Module for BertSelfOutput {
    fn name(&self) -> String {
        "BertSelfOutput".into()
    }
    fn children(&self) -> Vec<(String, &dyn Module)> {
        vec![("dense".into(), &self.dense), ("LayerNorm".into(), &self.LayerNorm), ("dropout".into(), &self.dropout)]
    }
    fn children_mut(&mut self) -> Vec<(String, &mut dyn Module)> {
        vec![
            ("dense".into(), &mut self.dense),
            ("LayerNorm".into(), &mut self.LayerNorm),
            ("dropout".into(), &mut self.dropout),
        ]
    }
}

/// Self-attention followed by its output projection.
pub struct BertAttention {
    /// The heads (`self` in the checkpoint; `self` is a Rust keyword).
    pub self_: BertSelfAttention,
    /// Output projection, residual and LayerNorm.
    pub output: BertSelfOutput,
}

impl BertAttention {
    /// Loads `{prefix}self.*` and `{prefix}output.*`.
    ///
    /// Errors: a missing tensor or a wrong shape, named.
    pub fn load(w: &dyn ParamSource, prefix: &str, cfg: &BertConfig) -> Result<Self> {
        Ok(BertAttention {
            self_: BertSelfAttention::load(w, &format!("{prefix}self."), cfg)?,
            output: BertSelfOutput::load(w, &format!("{prefix}output."), cfg)?,
        })
    }

    /// `x: [batch, seq, hidden]`, `mask`: the additive mask (`[batch * seq]`, 0 or `f32::MIN`)
    /// → `LayerNorm(x + dense(attention(x)))`, `[batch, seq, hidden]`.
    ///
    /// Errors: when `x` does not have the layer's hidden size.
    pub fn forward(&self, x: &Tensor, mask: &[f32]) -> Result<Tensor> {
        let _s = crate::profile::span("BertAttention");
        self.output.forward(&self.self_.forward(x, mask)?, x)
    }

    /// The same from the reference parts ([`BertSelfAttention::forward_ref`],
    /// [`BertSelfOutput::forward_ref`]).
    pub fn forward_ref(&self, x: &Tensor, mask: &[f32]) -> Result<Tensor> {
        self.output.forward_ref(&self.self_.forward_ref(x, mask)?, x)
    }
}

impl Module for BertAttention {
    fn name(&self) -> String {
        "BertAttention".into()
    }
    fn children(&self) -> Vec<(String, &dyn Module)> {
        vec![("self".into(), &self.self_), ("output".into(), &self.output)]
    }
    fn children_mut(&mut self) -> Vec<(String, &mut dyn Module)> {
        vec![("self".into(), &mut self.self_), ("output".into(), &mut self.output)]
    }
}
