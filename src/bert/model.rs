//! # BertModel: embeddings, then the encoder's layers, then (optionally) the pooler
//!
//! Hugging Face: `BertPooler`, `BertModel` in
//! <https://github.com/huggingface/transformers/blob/main/src/transformers/models/bert/modeling_bert.py>.

use super::ParamSource;
use super::attention::scratch_floats;
use super::config::BertConfig;
use super::embeddings::BertEmbeddings;
use super::fusion::Fusion;
use super::layer::BertEncoder;
use super::workspace::{Workspace, WorkspacePool};
use super::{BertInput, load_linear};
use crate::nn::{Activation, Linear, Module};
use crate::{Result, Tensor};

/// `tanh(dense(hidden[:, 0]))`: the `[CLS]` token's vector, squashed (used by NSP heads).
pub struct BertPooler {
    /// `hidden → hidden`.
    pub dense: Linear,
    /// `Tanh`.
    pub activation: Activation,
}

impl BertPooler {
    /// `[batch, seq, hidden] -> [batch, hidden]`.
    pub fn forward(&self, hidden: &Tensor) -> Result<Tensor> {
        let _s = crate::profile::span("BertPooler");
        let cls = hidden.select(1, 0)?; // [batch, hidden], the first token of each sequence
        Ok(self.activation.forward(&self.dense.forward(&cls)?))
    }
}

impl Module for BertPooler {
    fn name(&self) -> String {
        "BertPooler".into()
    }
    fn children(&self) -> Vec<(String, &dyn Module)> {
        vec![("dense".into(), &self.dense), ("activation".into(), &self.activation)]
    }
}

/// What a forward pass returns.
pub struct BertModelOutput {
    /// The last layer's output, `[batch, seq, hidden]`.
    pub last_hidden_state: Tensor,
    /// The pooler's output `[batch, hidden]`, when the model has a pooler.
    pub pooler_output: Option<Tensor>,
    /// When asked for: the embedding output, then every layer's output (`num_layers + 1`
    /// tensors, like Hugging Face's `output_hidden_states=True`).
    pub hidden_states: Vec<Tensor>,
}

/// `BertModel`: token ids `[batch, seq]` → hidden states `[batch, seq, hidden]` (and the pooled
/// `[CLS]` vector when the checkpoint has a pooler). The encoder every pipeline runs.
pub struct BertModel {
    /// The `config.json` it was built from.
    pub config: BertConfig,
    /// Ids → vectors.
    pub embeddings: BertEmbeddings,
    /// The `num_hidden_layers` layers.
    pub encoder: BertEncoder,
    /// Present when loaded `with_pooler` and the checkpoint has `pooler.dense.*`.
    pub pooler: Option<BertPooler>,
    /// The fusions [`BertModel::forward`] uses (all on by default; a plain value, no global).
    pub fusion: Fusion,
    /// Workspaces reused by [`BertModel::forward`] across calls.
    workspaces: WorkspacePool,
}

impl BertModel {
    /// Loads the encoder from names `{prefix}embeddings...`, `{prefix}encoder...`
    /// (`prefix` is `"bert."`; [`crate::io::WeightMap`] also finds checkpoints saved without it).
    /// The pooler is loaded when `with_pooler` and its weights are present.
    pub fn load(w: &dyn ParamSource, prefix: &str, cfg: &BertConfig, with_pooler: bool) -> Result<Self> {
        let pooler_name = format!("{prefix}pooler.dense");
        let pooler = if with_pooler && w.contains(&format!("{pooler_name}.weight")) {
            let h = cfg.hidden_size;
            Some(BertPooler { dense: load_linear(w, &pooler_name, h, h)?, activation: Activation::Tanh })
        } else {
            None
        };
        Ok(BertModel {
            config: cfg.clone(),
            embeddings: BertEmbeddings::load(w, &format!("{prefix}embeddings."), cfg)?,
            encoder: BertEncoder::load(w, &format!("{prefix}encoder."), cfg)?,
            pooler,
            fusion: Fusion::default(),
            workspaces: WorkspacePool::default(),
        })
    }

    /// Runs the model with `self.fusion`. Padding positions (mask 0) are computed too, but
    /// no real token attends to them. Reuses a workspace kept by the model across calls; the
    /// outputs are fresh tensors.
    pub fn forward(&self, input: &BertInput, output_hidden_states: bool) -> Result<BertModelOutput> {
        let _s = crate::profile::span("BertModel");
        let (b, s, h) = (input.batch, input.seq_len, self.config.hidden_size);
        self.workspaces.with(|ws| {
            let mut hidden_states = Vec::new();
            let fusion = self.fusion;
            self.forward_layers(input, ws, &fusion, |x| {
                if output_hidden_states {
                    hidden_states.push(Tensor::from_vec(x.to_vec(), &[b, s, h])?);
                }
                Ok(())
            })?;
            let x = Tensor::from_vec(ws.last_hidden_state().to_vec(), &[b, s, h])?;
            let pooler_output = match &self.pooler {
                Some(p) => Some(p.forward(&x)?),
                None => None,
            };
            Ok(BertModelOutput { last_hidden_state: x, pooler_output, hidden_states })
        })
    }

    /// The encoder on a caller-owned workspace: embeddings, then every layer, in place in
    /// `ws`; the result is `ws.last_hidden_state()` (`[batch, seq, hidden]`). The pooler is
    /// not run. Once `ws` has served a batch × seq at least this large, this allocates
    /// nothing (tests/no_alloc.rs).
    pub fn forward_with(&self, input: &BertInput, ws: &mut Workspace, fusion: &Fusion) -> Result<()> {
        let _s = crate::profile::span("BertModel");
        self.forward_layers(input, ws, fusion, |_| Ok(()))
    }

    /// Embeddings and layers, calling `each` with the embedding output and every layer's output.
    fn forward_layers(
        &self,
        input: &BertInput,
        ws: &mut Workspace,
        fusion: &Fusion,
        mut each: impl FnMut(&[f32]) -> Result<()>,
    ) -> Result<()> {
        let (b, s) = (input.batch, input.seq_len);
        let cfg = &self.config;
        let d = cfg.hidden_size / cfg.num_attention_heads.max(1);
        ws.prepare(b, s, cfg.hidden_size, cfg.intermediate_size, scratch_floats(s, d, fusion.use_flash(s)));
        let rows = b * s;
        match input.attention_mask {
            Some(m) => ws.mask[..rows].iter_mut().zip(m).for_each(|(o, &v)| *o = if v == 0 { f32::MIN } else { 0.0 }),
            None => ws.mask[..rows].fill(0.0),
        }
        self.embeddings.forward_into(input, &mut ws.hidden)?;
        each(ws.last_hidden_state())?;
        for layer in &self.encoder.layer.0 {
            layer.forward_ws(ws, b, s, fusion)?;
            each(ws.last_hidden_state())?;
        }
        Ok(())
    }
}

impl Module for BertModel {
    fn name(&self) -> String {
        "BertModel".into()
    }
    fn children(&self) -> Vec<(String, &dyn Module)> {
        let mut c: Vec<(String, &dyn Module)> =
            vec![("embeddings".into(), &self.embeddings), ("encoder".into(), &self.encoder)];
        if let Some(p) = &self.pooler {
            c.push(("pooler".into(), p));
        }
        c
    }
}

impl std::fmt::Display for BertModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.repr())
    }
}
