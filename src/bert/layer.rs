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
use super::attention::{AttentionShape, BertAttention, attention_into};
use super::config::BertConfig;
use super::fusion::Fusion;
use super::workspace::Workspace;
use super::{load_layer_norm, load_linear};
use crate::nn::{Activation, Dropout, LayerNorm, Linear, Module, ModuleList};
use crate::ops::matmul::Gemm;
use crate::ops::norm::add_layer_norm_rows;
use crate::ops::par_rows;
use crate::ops::simd::{Isa, add_assign};
use crate::{Result, Tensor, ops};

/// `x = LayerNorm(x + residual)` on `[rows, hidden]` slices: in one pass with the
/// `add-norm` fusion, else the add written out first and LayerNorm after.
pub(crate) fn add_norm(x: &mut [f32], residual: &[f32], ln: &LayerNorm, fusion: &Fusion) {
    let _o = crate::profile::op("add + layer_norm", 0, (4 * 3 * x.len()) as u64);
    let isa = Isa::best();
    let (w, b) = (ln.weight.as_slice().unwrap_or(&[]), ln.bias.as_slice().unwrap_or(&[]));
    let h = w.len();
    let eps = ln.eps as f32;
    let res = |r0: usize, n: usize| &residual[r0 * h..r0 * h + n];
    if fusion.add_norm {
        par_rows(x, h, |r0, x| add_layer_norm_rows(isa, x, res(r0, x.len()), h, w, b, eps));
    } else {
        par_rows(x, h, |r0, x| add_assign(isa, x, res(r0, x.len())));
        par_rows(x, h, |_, x| add_layer_norm_rows(isa, x, &[], h, w, b, eps));
    }
}

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
}

impl Module for BertIntermediate {
    fn name(&self) -> String {
        "BertIntermediate".into()
    }
    fn children(&self) -> Vec<(String, &dyn Module)> {
        vec![("dense".into(), &self.dense), ("intermediate_act_fn".into(), &self.intermediate_act_fn)]
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
}

impl Module for BertOutput {
    fn name(&self) -> String {
        "BertOutput".into()
    }
    fn children(&self) -> Vec<(String, &dyn Module)> {
        vec![("dense".into(), &self.dense), ("LayerNorm".into(), &self.LayerNorm), ("dropout".into(), &self.dropout)]
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

    /// `x: [batch, seq, hidden]`, additive `mask: [batch, seq]` `-> [batch, seq, hidden]`
    /// (the workspace forward [`BertLayer::forward_ws`] on a fresh workspace, every fusion on).
    pub fn forward(&self, x: &Tensor, mask: &[f32]) -> Result<Tensor> {
        let (b, s, h) = (x.shape()[0], x.shape()[1], x.shape()[2]);
        let mut ws = Workspace::new();
        let d = h / self.attention.self_.num_heads.max(1);
        ws.prepare(b, s, h, self.intermediate.dense.out_features(), super::attention::scratch_floats(s, d, false));
        ws.hidden[..b * s * h].copy_from_slice(x.contiguous().as_slice().unwrap_or(&[]));
        ws.mask[..b * s].copy_from_slice(&mask[..b * s]);
        self.forward_ws(&mut ws, b, s, &Fusion::default())?;
        Tensor::from_vec(ws.last_hidden_state().to_vec(), &[b, s, h])
    }

    /// One layer on the workspace: reads `ws.hidden` `[batch·seq, hidden]` and `ws.mask`,
    /// writes the output back into `ws.hidden`; allocates nothing once the workspace and the
    /// threads' scratch are warm.
    ///
    /// ```text
    /// qkv   = x·[Wq;Wk;Wv]ᵀ + b                    (1 GEMM, or 3 without `qkv`)
    /// ctx   = attention(qkv, mask)                  (per block of 32 queries, all heads)
    /// attn  = LayerNorm(ctx·Woᵀ + bo + x)           (`add-norm`: one pass)
    /// inter = GELU(attn·W1ᵀ + b1)                   (`epilogue`: bias + GELU with the GEMM)
    /// x     = LayerNorm(inter·W2ᵀ + b2 + attn)
    /// ```
    pub fn forward_ws(&self, ws: &mut Workspace, batch: usize, seq: usize, fusion: &Fusion) -> Result<()> {
        let _s = crate::profile::span("BertLayer");
        let sa = &self.attention.self_;
        let h = sa.query.out_features();
        let rows = batch * seq;
        let Workspace { hidden, qkv, ctx, attn, inter, mask, scratch, .. } = ws;
        let (x, ctx, attn) = (&mut hidden[..rows * h], &mut ctx[..rows * h], &mut attn[..rows * h]);
        let attention_span = crate::profile::span("BertAttention");
        {
            let _a = crate::profile::span("BertSelfAttention");
            let (q, k, v, ld) = sa.project_qkv(x, rows, qkv, fusion)?;
            let shape = AttentionShape { batch, seq, heads: sa.num_heads, head_dim: h / sa.num_heads };
            attention_into(shape, q, k, v, ld, &mask[..rows], ctx, scratch, fusion)?;
        }
        let so = &self.attention.output;
        {
            let _o = crate::profile::span("BertSelfOutput");
            so.dense.forward_into(&Gemm::default(), ctx, rows, attn, false, fusion.epilogue)?;
            add_norm(attn, x, &so.LayerNorm, fusion);
        }
        drop(attention_span);
        let _i = crate::profile::span("BertIntermediate");
        let inter_f = self.intermediate.dense.out_features();
        let inter = &mut inter[..rows * inter_f];
        let act = self.intermediate.intermediate_act_fn;
        self.intermediate.dense.forward_into(
            &Gemm::default(),
            attn,
            rows,
            inter,
            act == Activation::Gelu,
            fusion.epilogue,
        )?;
        match act {
            Activation::Gelu => {}
            Activation::GeluTanh => ops::gelu_tanh_in_place(inter),
            Activation::Relu => ops::relu_in_place(inter),
            Activation::Tanh => ops::tanh_in_place(inter),
        }
        drop(_i);
        let _o = crate::profile::span("BertOutput");
        self.output.dense.forward_into(&Gemm::default(), inter, rows, x, false, fusion.epilogue)?;
        add_norm(x, attn, &self.output.LayerNorm, fusion);
        Ok(())
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
}
