//! # The masked-language-model head: from a hidden vector to a score per vocabulary word
//!
//! `logits = decoder(LayerNorm(gelu(dense(h))))`, where the decoder's weight *is* the word
//! embedding table (`[vocab, hidden]`): the same matrix that turned ids into vectors turns
//! vectors back into scores over ids. Checkpoints often omit
//! `cls.predictions.decoder.weight` for that reason; we then tie it to the embeddings
//! (sharing the storage, so it is counted once).
//!
//! Hugging Face: `BertPredictionHeadTransform`, `BertLMPredictionHead`,
//! `BertOnlyMLMHead`, `BertForMaskedLM` in
//! <https://github.com/huggingface/transformers/blob/main/src/transformers/models/bert/modeling_bert.py>.

use super::ParamSource;
use super::config::BertConfig;
use super::model::BertModel;
use super::{BertInput, load_layer_norm, load_linear};
use crate::nn::{Activation, LayerNorm, Linear, Module};
use crate::{Error, Result, Tensor};

/// `BertPredictionHeadTransform`: `LayerNorm(act(dense(h)))`, `[..., hidden]` → `[..., hidden]`.
#[allow(non_snake_case)] // field names match the checkpoint keys
pub struct BertPredictionHeadTransform {
    /// `hidden → hidden`.
    pub dense: Linear,
    /// The config's `hidden_act`.
    pub transform_act_fn: Activation,
    /// `[hidden]` scale and shift.
    pub LayerNorm: LayerNorm,
}

impl Module for BertPredictionHeadTransform {
    fn name(&self) -> String {
        "BertPredictionHeadTransform".into()
    }
    fn children(&self) -> Vec<(String, &dyn Module)> {
        vec![
            ("dense".into(), &self.dense),
            ("transform_act_fn".into(), &self.transform_act_fn),
            ("LayerNorm".into(), &self.LayerNorm),
        ]
    }
    fn children_mut(&mut self) -> Vec<(String, &mut dyn Module)> {
        vec![
            ("dense".into(), &mut self.dense),
            ("transform_act_fn".into(), &mut self.transform_act_fn),
            ("LayerNorm".into(), &mut self.LayerNorm),
        ]
    }
}

/// `BertLMPredictionHead`: the transform, then one score per vocabulary word.
pub struct BertLMPredictionHead {
    /// Dense, activation and LayerNorm before the decoder.
    pub transform: BertPredictionHeadTransform,
    /// `[vocab, hidden]` weight (often tied to the word embeddings) and `[vocab]` bias.
    pub decoder: Linear,
}

impl BertLMPredictionHead {
    /// `[..., hidden] -> [..., vocab]`.
    pub fn forward(&self, h: &Tensor) -> Result<Tensor> {
        let _s = crate::profile::span("BertLMPredictionHead");
        let t = &self.transform;
        let x = t.LayerNorm.forward(&t.transform_act_fn.forward(&t.dense.forward(h)?))?;
        self.decoder.forward(&x)
    }
}

impl Module for BertLMPredictionHead {
    fn name(&self) -> String {
        "BertLMPredictionHead".into()
    }
    fn children(&self) -> Vec<(String, &dyn Module)> {
        vec![("transform".into(), &self.transform), ("decoder".into(), &self.decoder)]
    }
    fn children_mut(&mut self) -> Vec<(String, &mut dyn Module)> {
        vec![("transform".into(), &mut self.transform), ("decoder".into(), &mut self.decoder)]
    }
}

/// `BertOnlyMLMHead` (the checkpoint's `cls.`): a wrapper that only exists to match the names.
pub struct BertOnlyMLMHead {
    /// `cls.predictions.*`.
    pub predictions: BertLMPredictionHead,
}

impl Module for BertOnlyMLMHead {
    fn name(&self) -> String {
        "BertOnlyMLMHead".into()
    }
    fn children(&self) -> Vec<(String, &dyn Module)> {
        vec![("predictions".into(), &self.predictions)]
    }
    fn children_mut(&mut self) -> Vec<(String, &mut dyn Module)> {
        vec![("predictions".into(), &mut self.predictions)]
    }
}

/// `BertForMaskedLM`: the encoder (without pooler) and the masked-language-model head, the model
/// fill-mask runs. Loads `bert-base-uncased`-style checkpoints (`bert.*` and `cls.predictions.*`).
pub struct BertForMaskedLM {
    /// The encoder (`bert.*`).
    pub bert: BertModel,
    /// The head (`cls.*`).
    pub cls: BertOnlyMLMHead,
}

impl BertForMaskedLM {
    /// Loads the encoder and the head; a missing `cls.predictions.decoder.weight` is tied to the
    /// word embeddings (no copy), a missing decoder bias falls back to `cls.predictions.bias`.
    ///
    /// Errors: a missing or misshaped tensor, named.
    pub fn load(w: &dyn ParamSource, cfg: &BertConfig) -> Result<Self> {
        // Hugging Face builds BertForMaskedLM's BertModel without a pooler.
        let bert = BertModel::load(w, "bert.", cfg, false)?;
        let (h, v) = (cfg.hidden_size, cfg.vocab_size);
        let p = "cls.predictions.";
        let decoder_weight = if w.contains(&format!("{p}decoder.weight")) {
            w.get_shaped(&format!("{p}decoder.weight"), &[v, h])?
        } else {
            bert.embeddings.word_embeddings.weight.clone() // tied: same storage
        };
        let bias_name = [format!("{p}decoder.bias"), format!("{p}bias")].into_iter().find(|n| w.contains(n));
        let bias = match bias_name {
            Some(n) => w.get_shaped(&n, &[v])?,
            None => {
                return Err(Error::Tensor {
                    name: format!("{p}bias"),
                    msg: "missing from the checkpoint (nor is cls.predictions.decoder.bias there)".into(),
                });
            }
        };
        let transform = BertPredictionHeadTransform {
            dense: load_linear(w, &format!("{p}transform.dense"), h, h)?,
            transform_act_fn: Activation::from_config(&cfg.hidden_act)?,
            LayerNorm: load_layer_norm(w, &format!("{p}transform.LayerNorm"), h, cfg.layer_norm_eps)?,
        };
        let decoder = Linear::new(decoder_weight, Some(bias))?;
        Ok(BertForMaskedLM { bert, cls: BertOnlyMLMHead { predictions: BertLMPredictionHead { transform, decoder } } })
    }

    /// Full logits `[batch, seq, vocab]`.
    pub fn forward(&self, input: &BertInput) -> Result<Tensor> {
        let out = self.bert.forward(input, false)?;
        self.cls.predictions.forward(&out.last_hidden_state)
    }

    /// Logits `[positions.len(), vocab]` only at the given `(batch, seq)` positions: the head
    /// is a `[hidden] x [vocab]` matmul per token, so fill-mask skips all the others.
    pub fn logits_at(&self, hidden: &Tensor, positions: &[(usize, usize)]) -> Result<Tensor> {
        let h = hidden.shape()[2];
        let mut rows = Vec::with_capacity(positions.len() * h);
        for &(b, s) in positions {
            rows.extend(hidden.select(0, b)?.select(0, s)?.to_vec());
        }
        self.cls.predictions.forward(&Tensor::from_vec(rows, &[positions.len(), h])?)
    }
}

impl Module for BertForMaskedLM {
    fn name(&self) -> String {
        "BertForMaskedLM".into()
    }
    fn children(&self) -> Vec<(String, &dyn Module)> {
        vec![("bert".into(), &self.bert), ("cls".into(), &self.cls)]
    }
    fn children_mut(&mut self) -> Vec<(String, &mut dyn Module)> {
        vec![("bert".into(), &mut self.bert), ("cls".into(), &mut self.cls)]
    }
}

impl std::fmt::Display for BertForMaskedLM {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.repr())
    }
}
