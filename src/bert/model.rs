//! # BertModel: embeddings, then the encoder's layers, then (optionally) the pooler
//!
//! Hugging Face: `BertPooler`, `BertModel` in
//! <https://github.com/huggingface/transformers/blob/main/src/transformers/models/bert/modeling_bert.py>.

use std::sync::{Arc, Mutex};

use super::ParamSource;
use super::config::BertConfig;
use super::embeddings::BertEmbeddings;
use super::fusion::Fusion;
use super::layer::BertEncoder;
use super::trace::{Want, compile};
use super::workspace::{Workspace, WorkspacePool};
use super::{BertInput, load_linear};
use crate::graph::Compiled;
use crate::nn::{Activation, Linear, Module};
use crate::{Error, Result, Tensor};

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

    /// [`BertPooler::forward`] with the naive matmul.
    pub fn forward_ref(&self, hidden: &Tensor) -> Result<Tensor> {
        Ok(self.activation.forward(&self.dense.forward_ref(&hidden.select(1, 0)?.contiguous())?))
    }
}

impl Module for BertPooler {
    fn name(&self) -> String {
        "BertPooler".into()
    }
    fn children(&self) -> Vec<(String, &dyn Module)> {
        vec![("dense".into(), &self.dense), ("activation".into(), &self.activation)]
    }
    fn children_mut(&mut self) -> Vec<(String, &mut dyn Module)> {
        vec![("dense".into(), &mut self.dense), ("activation".into(), &mut self.activation)]
    }
}

/// A compiled forward and what it was compiled for: the fusions, the outputs, the signature of
/// the model's layers (`BertModel::graph_signature`).
type CompiledFor = (Fusion, Want, u64, Arc<Compiled>);

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
    /// The fusions [`BertModel::forward`] uses (all on by default; a plain value, no global):
    /// each is a pass of the compiled graph, and a fusion off is that pass not run
    /// ([`Fusion::passes`]).
    pub fusion: Fusion,
    /// Workspaces reused by [`BertModel::forward`] across calls.
    workspaces: WorkspacePool,
    /// The compiled forwards, one per (fusion, outputs wanted, model signature), each built
    /// on first use ([`BertModel::compiled`]).
    compiled: Mutex<Vec<CompiledFor>>,
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
            compiled: Mutex::new(Vec::new()),
        })
    }

    /// The forward graph compiled with the passes `fusion` picks ([`Fusion::passes`]) and
    /// the outputs `want` asks for: traced, rewritten and planned on the first call, then kept
    /// (one graph serves every batch size and sequence length; a layer changed since — its
    /// activation, its precision — makes a new one).
    ///
    /// Errors: a pass that leaves an ill-formed graph (a bug, named by the lint).
    pub fn compiled(&self, fusion: &Fusion, want: Want) -> Result<Arc<Compiled>> {
        let sig = self.graph_signature();
        let mut cache = self.compiled.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((.., c)) = cache.iter().find(|(f, w, p, _)| f == fusion && *w == want && *p == sig) {
            return Ok(c.clone());
        }
        let mut c = compile(self, &fusion.passes(), want)?;
        c.set_flash_min_seq(fusion.flash_min_seq);
        let c = Arc::new(c);
        cache.push((*fusion, want, sig, c.clone()));
        Ok(c)
    }

    /// A hash of what the traced graph and the passes read from the model and a caller may
    /// change after loading (the pub fields): the layers, their activation, heads and sizes,
    /// the Q/K/V precisions (the `qkv` pass depends on them), the pooler. A change compiles a
    /// new graph instead of running a stale one. Allocates nothing.
    fn graph_signature(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::hash::DefaultHasher::new();
        (self.encoder.layer.0.len(), self.pooler.is_some(), self.config.hidden_size).hash(&mut h);
        for l in &self.encoder.layer.0 {
            let sa = &l.attention.self_;
            (sa.num_heads, sa.query.out_features(), l.intermediate.dense.out_features()).hash(&mut h);
            [sa.query.precision(), sa.key.precision(), sa.value.precision()].hash(&mut h);
            (l.intermediate.intermediate_act_fn as u8).hash(&mut h);
        }
        h.finish()
    }

    /// Runs the model: the graph compiled with `self.fusion` ([`BertModel::compiled`]) on a
    /// workspace kept by the model across calls; the outputs are fresh tensors. Padding
    /// positions (mask 0) are computed too, but no real token attends to them.
    ///
    /// Errors: a batch the model cannot take (slices of the wrong length, ids out of the
    /// vocabulary, a sequence longer than the position table), named.
    pub fn forward(&self, input: &BertInput, output_hidden_states: bool) -> Result<BertModelOutput> {
        let want = Want { pooler_output: self.pooler.is_some(), hidden_states: output_hidden_states };
        let c = self.compiled(&self.fusion, want)?;
        let (b, s, h) = (input.batch, input.seq_len, self.config.hidden_size);
        self.workspaces.with(|ws| {
            c.run(self, input, &mut ws.state)?;
            let take = |name: &str, shape: &[usize]| -> Result<Tensor> {
                let v =
                    c.output(&ws.state, name).ok_or_else(|| Error::invalid("graph", format!("no output {name}")))?;
                Tensor::from_vec(v.to_vec(), shape)
            };
            let hidden_states = match output_hidden_states {
                true => (0..=self.config.num_hidden_layers)
                    .map(|i| take(&format!("hidden_states.{i}"), &[b, s, h]))
                    .collect::<Result<Vec<_>>>()?,
                false => Vec::new(),
            };
            Ok(BertModelOutput {
                last_hidden_state: take("last_hidden_state", &[b, s, h])?,
                pooler_output: match self.pooler {
                    Some(_) => Some(take("pooler_output", &[b, h])?),
                    None => None,
                },
                hidden_states,
            })
        })
    }

    /// The encoder on a caller-owned workspace, with the passes `fusion` picks: the result is
    /// `ws.last_hidden_state()` (`[batch, seq, hidden]`). The pooler is not run. Once `ws` has
    /// served a batch × seq at least this large, this allocates nothing (tests/no_alloc.rs).
    ///
    /// Errors: as [`BertModel::forward`].
    pub fn forward_with(&self, input: &BertInput, ws: &mut Workspace, fusion: &Fusion) -> Result<()> {
        let c = self.compiled(fusion, Want::default())?;
        c.run(self, input, &mut ws.state)?;
        ws.compiled = Some(c);
        Ok(())
    }

    /// The reference forward: embeddings, every layer's [`super::layer::BertLayer::forward_ref`]
    /// (naive matmuls, attention with tensor ops), the pooler; no graph, no fused kernel, one
    /// tensor per step. Slow and obvious: what the compiled forward is tested against.
    ///
    /// Errors: as [`BertModel::forward`].
    pub fn forward_ref(&self, input: &BertInput, output_hidden_states: bool) -> Result<BertModelOutput> {
        let input =
            BertInput::new(input.input_ids, input.attention_mask, input.token_type_ids, input.batch, input.seq_len)?;
        let mask = input.additive_mask();
        let mut x = self.embeddings.forward(&input)?;
        let mut hidden_states = Vec::new();
        for layer in &self.encoder.layer.0 {
            if output_hidden_states {
                hidden_states.push(x.clone());
            }
            x = layer.forward_ref(&x, &mask)?;
        }
        if output_hidden_states {
            hidden_states.push(x.clone());
        }
        let pooler_output = match &self.pooler {
            Some(p) => Some(p.forward_ref(&x)?),
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
    fn children_mut(&mut self) -> Vec<(String, &mut dyn Module)> {
        let mut c: Vec<(String, &mut dyn Module)> =
            vec![("embeddings".into(), &mut self.embeddings), ("encoder".into(), &mut self.encoder)];
        if let Some(p) = &mut self.pooler {
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
