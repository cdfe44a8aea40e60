//! # BertLayer: attention, then a two-layer MLP, each wrapped in residual + LayerNorm
//!
//! ```text
//! a = BertAttention(x)                                   = LayerNorm(x + attn(x))
//! y = BertOutput(GELU(BertIntermediate.dense(a)), a)    = LayerNorm(a + W2·gelu(W1·a))
//! ```
//! The MLP widens each token to `intermediate_size` (4x hidden) and back: two Linears,
//! i.e. two matmuls, which is where most of BERT's time goes.
//!
//! Hugging Face: `BertIntermediate`, `BertOutput`, `BertLayer`, `BertEncoder` in
//! <https://github.com/huggingface/transformers/blob/main/src/transformers/models/bert/modeling_bert.py>.

use super::ParamSource;
use super::attention::{BertAttention, check_hidden};
use super::config::BertConfig;
use super::{load_layer_norm, load_linear};
use crate::nn::{Activation, Dropout, LayerNorm, Linear, Module, ModuleList};
use crate::{Result, Tensor, ops};

/// `BertIntermediate`: the first half of the feed-forward block, `act(dense(x))`,
/// `[..., hidden] → [..., intermediate]`.
pub struct BertIntermediate {
    /// `hidden → intermediate_size` (768 → 3072 in bert-base).
    pub dense: Linear,
    /// The config's `hidden_act`, GELU in BERT.
    pub intermediate_act_fn: Activation,
}

impl BertIntermediate {
    /// `[batch, seq, hidden] -> [batch, seq, intermediate]`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let _s = crate::profile::span("BertIntermediate");
        Ok(self.intermediate_act_fn.forward(&self.dense.forward(x)?))
    }

    /// [`BertIntermediate::forward`] with the naive matmul ([`Linear::forward_ref`]).
    pub fn forward_ref(&self, x: &Tensor) -> Result<Tensor> {
        Ok(self.intermediate_act_fn.forward(&self.dense.forward_ref(x)?))
    }
}

impl Module for BertIntermediate {
    fn name(&self) -> String {
        "BertIntermediate".into()
    }
    fn children(&self) -> Vec<(String, &dyn Module)> {
        vec![("dense".into(), &self.dense), ("intermediate_act_fn".into(), &self.intermediate_act_fn)]
    }
    fn children_mut(&mut self) -> Vec<(String, &mut dyn Module)> {
        vec![("dense".into(), &mut self.dense), ("intermediate_act_fn".into(), &mut self.intermediate_act_fn)]
    }
}

/// `BertOutput`: the second half of the feed-forward block and its residual,
/// `LayerNorm(dense(h) + residual)`, `[..., intermediate] → [..., hidden]`.
#[allow(non_snake_case)] // field names match the checkpoint keys
pub struct BertOutput {
    /// `intermediate_size → hidden`.
    pub dense: Linear,
    /// Applied to `dense(h) + residual`.
    pub LayerNorm: LayerNorm,
    /// After `dense` while training; identity here.
    pub dropout: Dropout,
}

impl BertOutput {
    /// `h: [batch, seq, intermediate]`, `residual: [batch, seq, hidden] -> [batch, seq, hidden]`.
    pub fn forward(&self, h: &Tensor, residual: &Tensor) -> Result<Tensor> {
        let _s = crate::profile::span("BertOutput");
        self.LayerNorm.forward(&ops::add(&self.dense.forward(h)?, residual)?)
    }

    /// [`BertOutput::forward`] with the naive matmul ([`Linear::forward_ref`]).
    pub fn forward_ref(&self, h: &Tensor, residual: &Tensor) -> Result<Tensor> {
        self.LayerNorm.forward(&ops::add(&self.dense.forward_ref(h)?, residual)?)
    }
}

impl Module for BertOutput {
    fn name(&self) -> String {
        "BertOutput".into()
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

/// `BertLayer`: attention, then the feed-forward block, each with a residual and a LayerNorm;
/// `[batch, seq, hidden]` in and out.
pub struct BertLayer {
    /// Self-attention and its output projection.
    pub attention: BertAttention,
    /// `hidden → intermediate`, GELU.
    pub intermediate: BertIntermediate,
    /// `intermediate → hidden`, residual, LayerNorm.
    pub output: BertOutput,
}

impl BertLayer {
    /// Loads `{prefix}attention.*`, `{prefix}intermediate.*` and `{prefix}output.*` (`prefix` is
    /// `...encoder.layer.{i}.`).
    ///
    /// Errors: a missing tensor or a wrong shape, named.
    pub fn load(w: &dyn ParamSource, prefix: &str, cfg: &BertConfig) -> Result<Self> {
        let (h, i) = (cfg.hidden_size, cfg.intermediate_size);
        Ok(BertLayer {
            attention: BertAttention::load(w, &format!("{prefix}attention."), cfg)?,
            intermediate: BertIntermediate {
                dense: load_linear(w, &format!("{prefix}intermediate.dense"), h, i)?,
                intermediate_act_fn: Activation::from_config(&cfg.hidden_act)?,
            },
            output: BertOutput {
                dense: load_linear(w, &format!("{prefix}output.dense"), i, h)?,
                LayerNorm: load_layer_norm(w, &format!("{prefix}output.LayerNorm"), h, cfg.layer_norm_eps)?,
                dropout: Dropout { p: cfg.hidden_dropout_prob },
            },
        })
    }

    /// `x: [batch, seq, hidden]`, additive `mask: [batch · seq]` (0 or `f32::MIN`)
    /// `-> [batch, seq, hidden]`: the composition of its parts, as in `modeling_bert.py`.
    ///
    /// ```text
    /// a = attention(x, mask)        = LayerNorm(x + dense(self-attention(x)))
    /// i = intermediate(a)           = GELU(a·W1ᵀ + b1)
    /// y = output(i, a)              = LayerNorm(a + i·W2ᵀ + b2)
    /// ```
    ///
    /// This is the readable forward the graph's tracer mirrors; the model runs the compiled
    /// graph instead ([`super::BertModel::forward`]), whose passes fuse these steps.
    ///
    /// Errors: `x` not `[batch, seq, hidden]` with this layer's hidden size, or a mask of
    /// another length, named.
    pub fn forward(&self, x: &Tensor, mask: &[f32]) -> Result<Tensor> {
        let _s = crate::profile::span("BertLayer");
        check_hidden("BertLayer", x, self.attention.self_.query.in_features(), mask)?;
        let a = self.attention.forward(x, mask)?;
        self.output.forward(&self.intermediate.forward(&a)?, &a)
    }

    /// [`BertLayer::forward`] from the reference parts (naive matmuls, attention with tensor
    /// views and ops): the slow, obvious forward the fast paths are tested against.
    pub fn forward_ref(&self, x: &Tensor, mask: &[f32]) -> Result<Tensor> {
        check_hidden("BertLayer", x, self.attention.self_.query.in_features(), mask)?;
        let a = self.attention.forward_ref(x, mask)?;
        self.output.forward_ref(&self.intermediate.forward_ref(&a)?, &a)
    }
}

impl Module for BertLayer {
    fn name(&self) -> String {
        "BertLayer".into()
    }
    fn children(&self) -> Vec<(String, &dyn Module)> {
        vec![
            ("attention".into(), &self.attention),
            ("intermediate".into(), &self.intermediate),
            ("output".into(), &self.output),
        ]
    }
    fn children_mut(&mut self) -> Vec<(String, &mut dyn Module)> {
        vec![
            ("attention".into(), &mut self.attention),
            ("intermediate".into(), &mut self.intermediate),
            ("output".into(), &mut self.output),
        ]
    }
}

/// The stack of layers.
pub struct BertEncoder {
    /// The `num_hidden_layers` layers, in order (`encoder.layer.0`, `.1`, ...).
    pub layer: ModuleList<BertLayer>,
}

impl BertEncoder {
    /// Loads `{prefix}layer.0.*` ... `{prefix}layer.{num_hidden_layers - 1}.*`.
    ///
    /// Errors: a missing tensor or a wrong shape, named.
    pub fn load(w: &dyn ParamSource, prefix: &str, cfg: &BertConfig) -> Result<Self> {
        let layers = (0..cfg.num_hidden_layers)
            .map(|i| BertLayer::load(w, &format!("{prefix}layer.{i}."), cfg))
            .collect::<Result<Vec<_>>>()?;
        Ok(BertEncoder { layer: ModuleList(layers) })
    }
}

impl Module for BertEncoder {
    fn name(&self) -> String {
        "BertEncoder".into()
    }
    fn children(&self) -> Vec<(String, &dyn Module)> {
        vec![("layer".into(), &self.layer)]
    }
    fn children_mut(&mut self) -> Vec<(String, &mut dyn Module)> {
        vec![("layer".into(), &mut self.layer)]
    }
}
