//! # BertModel: embeddings, then the encoder's layers, then (optionally) the pooler
//!
//! Hugging Face: `BertPooler`, `BertModel` in
//! <https://github.com/huggingface/transformers/blob/main/src/transformers/models/bert/modeling_bert.py>.

use super::ParamSource;
use super::config::BertConfig;
use super::embeddings::BertEmbeddings;
use super::layer::BertEncoder;
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
        })
    }

    /// Runs the model. Padding positions (mask 0) are computed too, but no real token
    /// attends to them.
    pub fn forward(&self, input: &BertInput, output_hidden_states: bool) -> Result<BertModelOutput> {
        let _s = crate::profile::span("BertModel");
        let mask = input.additive_mask();
        let mut x = self.embeddings.forward(input)?;
        let mut hidden_states = Vec::new();
        for layer in &self.encoder.layer.0 {
            if output_hidden_states {
                hidden_states.push(x.clone());
            }
            x = layer.forward(&x, &mask)?;
        }
        if output_hidden_states {
            hidden_states.push(x.clone());
        }
        let pooler_output = match &self.pooler {
            Some(p) => Some(p.forward(&x)?),
            None => None,
        };
        Ok(BertModelOutput { last_hidden_state: x, pooler_output, hidden_states })
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
