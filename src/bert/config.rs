//! # BertConfig: the handful of numbers that define a BERT
//!
//! Read from a checkpoint's `config.json` (the same file Hugging Face writes). Only the
//! fields the forward pass needs are kept; unknown fields are ignored.
//! Mirrors `transformers.BertConfig`
//! (<https://github.com/huggingface/transformers/blob/main/src/transformers/models/bert/configuration_bert.py>).

use serde::Deserialize;

use crate::{Error, Result};

fn default_act() -> String {
    "gelu".into()
}
fn default_dropout() -> f64 {
    0.1
}
fn default_eps() -> f64 {
    1e-12
}
fn default_type_vocab() -> usize {
    2
}
fn default_position_type() -> String {
    "absolute".into()
}

/// The hyper-parameters of a BERT model (`config.json`).
#[derive(Clone, Debug, Deserialize)]
pub struct BertConfig {
    /// Rows of the word-embedding table (30522 for the uncased English vocabulary).
    pub vocab_size: usize,
    /// Width H of every hidden vector (768 in bert-base, 384 in all-MiniLM-L6-v2).
    pub hidden_size: usize,
    /// Number of `BertLayer`s in the encoder.
    pub num_hidden_layers: usize,
    /// Attention heads per layer; `hidden_size` must be a multiple of it.
    pub num_attention_heads: usize,
    /// Width of the feed-forward block (usually 4·H).
    pub intermediate_size: usize,
    /// The feed-forward activation by its Hugging Face name (`"gelu"`, `"gelu_new"`, ...).
    #[serde(default = "default_act")]
    pub hidden_act: String,
    /// Dropout after the embeddings and each sub-layer while training (only printed here).
    #[serde(default = "default_dropout")]
    pub hidden_dropout_prob: f64,
    /// Dropout on the attention probabilities while training (only printed here).
    #[serde(default = "default_dropout")]
    pub attention_probs_dropout_prob: f64,
    /// Rows of the position table: the longest input, in tokens (512 in bert-base).
    pub max_position_embeddings: usize,
    /// Rows of the token-type (segment) table, 2 in BERT.
    #[serde(default = "default_type_vocab")]
    pub type_vocab_size: usize,
    /// The `eps` of every LayerNorm (1e-12 in BERT).
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
    /// Id of `[PAD]`, printed as the word embedding's `padding_idx`.
    #[serde(default)]
    pub pad_token_id: Option<usize>,
    /// Only `"absolute"` (learned position rows) is supported; anything else is refused.
    #[serde(default = "default_position_type")]
    pub position_embedding_type: String,
}

impl BertConfig {
    /// Parses and checks a config from `config.json`'s JSON value.
    pub fn from_json(value: &serde_json::Value) -> Result<BertConfig> {
        let cfg: BertConfig = serde_json::from_value(value.clone())
            .map_err(|e| Error::invalid("config.json", format!("not a BERT config: {e}")))?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Rejects configs this implementation cannot run, with a reason.
    pub fn validate(&self) -> Result<()> {
        if self.num_attention_heads == 0 || !self.hidden_size.is_multiple_of(self.num_attention_heads) {
            return Err(Error::invalid(
                "config.json",
                format!(
                    "hidden_size {} is not a multiple of num_attention_heads {}",
                    self.hidden_size, self.num_attention_heads
                ),
            ));
        }
        // Found by tests/fuzz.rs: a negative or infinite eps made LayerNorm take the square root
        // of a negative number, and every output NaN.
        if !(self.layer_norm_eps > 0.0 && (self.layer_norm_eps as f32).is_finite()) {
            return Err(Error::invalid(
                "config.json",
                format!("layer_norm_eps {} must be a positive finite number", self.layer_norm_eps),
            ));
        }
        if self.position_embedding_type != "absolute" {
            return Err(Error::invalid(
                "config.json",
                format!("position_embedding_type `{}` is not supported (only absolute)", self.position_embedding_type),
            ));
        }
        crate::nn::Activation::from_config(&self.hidden_act)?;
        Ok(())
    }

    /// Size of one attention head.
    pub fn head_dim(&self) -> usize {
        self.hidden_size / self.num_attention_heads
    }
}

impl BertConfig {
    /// bert-base-uncased's configuration (what `transformers.BertConfig()` defaults to).
    pub fn bert_base_uncased() -> BertConfig {
        BertConfig {
            vocab_size: 30522,
            hidden_size: 768,
            num_hidden_layers: 12,
            num_attention_heads: 12,
            intermediate_size: 3072,
            hidden_act: default_act(),
            hidden_dropout_prob: 0.1,
            attention_probs_dropout_prob: 0.1,
            max_position_embeddings: 512,
            type_vocab_size: 2,
            layer_norm_eps: 1e-12,
            pad_token_id: Some(0),
            position_embedding_type: default_position_type(),
        }
    }
}
