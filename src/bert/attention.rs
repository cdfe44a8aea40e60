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
//! the way you would write it in PyTorch.
//!
//! Hugging Face: `BertSelfAttention`, `BertSelfOutput`, `BertAttention` in
//! <https://github.com/huggingface/transformers/blob/main/src/transformers/models/bert/modeling_bert.py>.

use rayon::prelude::*;

use super::ParamSource;
use super::config::BertConfig;
use super::{load_layer_norm, load_linear};
use crate::nn::{Dropout, LayerNorm, Linear, Module};
use crate::ops::matmul::{MatMut, MatRef, sgemm};
use crate::{Result, Tensor, ops};

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
        })
    }

    /// `x: [batch, seq, hidden]`, `mask: [batch, seq]` additive (0 or a large negative)
    /// `-> context [batch, seq, hidden]`.
    pub fn forward(&self, x: &Tensor, mask: &[f32]) -> Result<Tensor> {
        let _s = crate::profile::span("BertSelfAttention");
        let (b, s, hidden) = (x.shape()[0], x.shape()[1], x.shape()[2]);
        let (nh, d) = (self.num_heads, hidden / self.num_heads);
        let (q, k, v) = (self.query.forward(x)?, self.key.forward(x)?, self.value.forward(x)?);
        let (q, k, v) = (q.as_slice().unwrap_or(&[]), k.as_slice().unwrap_or(&[]), v.as_slice().unwrap_or(&[]));
        let scale = 1.0 / (d as f32).sqrt();
        // One independent problem per (sequence, head); each returns its [seq, head_dim] block.
        // For the profile, one op: both products of every head (QKᵀ, PV), the mask, the softmax.
        let (flops, bytes) = (4 * b * nh * s * s * d, 4 * (4 * b * s * hidden + b * s));
        let heads = crate::profile::op("attention heads", flops as u64, bytes as u64);
        let blocks: Vec<Vec<f32>> = (0..b * nh)
            .into_par_iter()
            .map(|bh| -> Result<Vec<f32>> {
                let (bi, hi) = (bh / nh, bh % nh);
                let base = bi * s * hidden + hi * d; // column block of head hi in sequence bi
                let mut scores = vec![0.0f32; s * s];
                // Q_h [s, d] · K_hᵀ [d, s]: both read in place, rows `hidden` apart.
                let (q_h, k_h) = (MatRef::strided(&q[base..], s, d, hidden), MatRef::strided(&k[base..], s, d, hidden));
                sgemm(q_h, k_h.t(), MatMut::new(&mut scores, s, s))?;
                let m = &mask[bi * s..(bi + 1) * s];
                for row in scores.chunks_exact_mut(s) {
                    row.iter_mut().zip(m).for_each(|(x, mi)| *x = *x * scale + mi);
                }
                ops::softmax_rows_in_place(&mut scores, s);
                let mut ctx = vec![0.0f32; s * d];
                sgemm(
                    MatRef::new(&scores, s, s),
                    MatRef::strided(&v[base..], s, d, hidden),
                    MatMut::new(&mut ctx, s, d),
                )?;
                Ok(ctx)
            })
            .collect::<Result<_>>()?;
        drop(heads);
        // Scatter the heads back to [batch, seq, hidden].
        let _o = crate::profile::op("copy", 0, 8 * (b * s * hidden) as u64);
        let mut out = vec![0.0f32; b * s * hidden];
        for (bh, ctx) in blocks.iter().enumerate() {
            let (bi, hi) = (bh / nh, bh % nh);
            for (si, row) in ctx.chunks_exact(d).enumerate() {
                let o = bi * s * hidden + si * hidden + hi * d;
                out[o..o + d].copy_from_slice(row);
            }
        }
        Tensor::from_vec(out, &[b, s, hidden])
    }

    /// The attention probabilities `[batch, heads, seq, seq]`, computed with tensor ops the
    /// obvious way (reshape into heads, permute, matmul, softmax). Used as the reference.
    pub fn probs_ref(&self, x: &Tensor, mask: &[f32]) -> Result<Tensor> {
        let (b, s, hidden) = (x.shape()[0], x.shape()[1], x.shape()[2]);
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
        let (b, s, hidden) = (x.shape()[0], x.shape()[1], x.shape()[2]);
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
}

impl Module for BertSelfOutput {
    fn name(&self) -> String {
        "BertSelfOutput".into()
    }
    fn children(&self) -> Vec<(String, &dyn Module)> {
        vec![("dense".into(), &self.dense), ("LayerNorm".into(), &self.LayerNorm), ("dropout".into(), &self.dropout)]
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
}

impl Module for BertAttention {
    fn name(&self) -> String {
        "BertAttention".into()
    }
    fn children(&self) -> Vec<(String, &dyn Module)> {
        vec![("self".into(), &self.self_), ("output".into(), &self.output)]
    }
}
