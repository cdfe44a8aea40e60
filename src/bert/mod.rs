//! # BERT, one struct per Hugging Face module
//!
//! Every struct here is named after the PyTorch class in transformers' `modeling_bert.py`
//! and every field after the attribute, so the names in a checkpoint
//! (`bert.encoder.layer.3.attention.self.query.weight`) read as a path through these
//! structs: `BertForMaskedLM.bert.encoder.layer[3].attention.self_.query.weight`.
//!
//! Read in this order: `config.rs`, `embeddings.rs`, `attention.rs`, `layer.rs`,
//! `model.rs`, `mlm.rs`, `pooling.rs`; `trace.rs` records the forward as a graph
//! ([`crate::graph`]), the graph that [`BertModel::forward`] runs.

pub mod attention;
pub mod config;
pub mod embeddings;
pub mod fusion;
pub mod heads;
pub mod layer;
pub mod mlm;
pub mod model;
pub mod pooling;
pub mod sentence;
pub mod trace;
pub mod workspace;

pub use config::BertConfig;
pub use fusion::Fusion;
pub use mlm::BertForMaskedLM;
pub use model::{BertModel, BertModelOutput};
pub use trace::{Want, compile, trace};
pub use workspace::Workspace;

use crate::io::WeightMap;
use crate::nn::{LayerNorm, Linear};
use crate::{Result, Tensor};

/// Where a model's parameters come from: a checkpoint ([`WeightMap`]) or a fresh
/// initialization ([`Init`], for printing or timing a model whose weights we don't have).
pub trait ParamSource {
    /// The tensor called `name` (canonical Hugging Face name), which must have `shape`.
    fn get_shaped(&self, name: &str, shape: &[usize]) -> Result<Tensor>;
    /// Whether a tensor called `name` exists.
    fn contains(&self, name: &str) -> bool;
}

impl ParamSource for WeightMap {
    fn get_shaped(&self, name: &str, shape: &[usize]) -> Result<Tensor> {
        WeightMap::get_shaped(self, name, shape)
    }
    fn contains(&self, name: &str) -> bool {
        WeightMap::contains(self, name)
    }
}

/// Freshly initialized parameters: N(0, std²) matrices from a seed, ones for LayerNorm
/// weights, zeros for biases (as Hugging Face initializes BERT). `std = 0` gives zero
/// matrices, which is enough to print a model. The MLM decoder is reported absent so it is
/// tied to the word embeddings, as in a real checkpoint.
pub struct Init {
    /// Standard deviation of the random matrices (Hugging Face uses 0.02); 0 gives zeros.
    pub std: f32,
    /// Seed of the random streams (one stream per tensor name).
    pub seed: u64,
}

impl ParamSource for Init {
    fn get_shaped(&self, name: &str, shape: &[usize]) -> Result<Tensor> {
        let is_ln_weight = name.contains("LayerNorm") && name.ends_with(".weight");
        Ok(if is_ln_weight {
            Tensor::ones(shape)
        } else if shape.len() == 1 || self.std == 0.0 {
            Tensor::zeros(shape)
        } else {
            // A different stream per tensor, so equal shapes don't get equal weights.
            let h = name
                .bytes()
                .fold(self.seed ^ 0xcbf2_9ce4_8422_2325, |h, b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3));
            crate::ops::mul_scalar(&Tensor::randn(shape, h), self.std)
        })
    }
    fn contains(&self, name: &str) -> bool {
        !name.starts_with("cls.predictions.decoder.")
    }
}

/// A batch of token ids, row-major `[batch, seq_len]`, ready for the model.
#[derive(Clone, Copy, Debug)]
pub struct BertInput<'a> {
    /// Vocabulary ids, `batch * seq_len` of them.
    pub input_ids: &'a [u32],
    /// 1 for real tokens, 0 for padding; `None` means all ones.
    pub attention_mask: Option<&'a [u32]>,
    /// Segment ids (0 or 1); `None` means all zeros.
    pub token_type_ids: Option<&'a [u32]>,
    /// Number of sequences.
    pub batch: usize,
    /// Tokens per sequence (padding included).
    pub seq_len: usize,
}

impl<'a> BertInput<'a> {
    /// Checks that every slice holds `batch * seq_len` entries.
    pub fn new(
        input_ids: &'a [u32],
        attention_mask: Option<&'a [u32]>,
        token_type_ids: Option<&'a [u32]>,
        batch: usize,
        seq_len: usize,
    ) -> Result<Self> {
        let input = BertInput { input_ids, attention_mask, token_type_ids, batch, seq_len };
        crate::graph::Feed::from(&input).check()?;
        Ok(input)
    }

    /// The mask as attention adds it to the scores: 0 where attended, the most negative
    /// f32 where masked (what Hugging Face uses), `[batch, seq_len]`.
    pub fn additive_mask(&self) -> Vec<f32> {
        match self.attention_mask {
            Some(m) => m.iter().map(|&v| if v == 0 { f32::MIN } else { 0.0 }).collect(),
            None => vec![0.0; self.batch * self.seq_len],
        }
    }
}

/// Loads `{name}.weight` `[out, in]` and `{name}.bias` `[out]` as a [`Linear`].
pub(crate) fn load_linear(w: &dyn ParamSource, name: &str, in_f: usize, out_f: usize) -> Result<Linear> {
    Linear::new(
        w.get_shaped(&format!("{name}.weight"), &[out_f, in_f])?,
        Some(w.get_shaped(&format!("{name}.bias"), &[out_f])?),
    )
}

/// Loads `{name}.weight` and `{name}.bias` `[hidden]` (or `gamma`/`beta`) as a [`LayerNorm`].
pub(crate) fn load_layer_norm(w: &dyn ParamSource, name: &str, hidden: usize, eps: f64) -> Result<LayerNorm> {
    LayerNorm::new(
        w.get_shaped(&format!("{name}.weight"), &[hidden])?,
        w.get_shaped(&format!("{name}.bias"), &[hidden])?,
        eps,
    )
}
