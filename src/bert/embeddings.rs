//! # BertEmbeddings: three lookup tables, summed, then normalized
//!
//! A network cannot read a word, a position or a segment: it reads numbers. An embedding
//! turns each of these *keys* into a learned vector (a row of a table):
//!
//! ```text
//! x[b, s] = word_embeddings[input_ids[b, s]]
//!         + position_embeddings[s]
//!         + token_type_embeddings[token_type_ids[b, s]]      then LayerNorm (and dropout)
//! ```
//!
//! Hugging Face: `BertEmbeddings` in
//! <https://github.com/huggingface/transformers/blob/main/src/transformers/models/bert/modeling_bert.py>.

use super::ParamSource;
use super::config::BertConfig;
use super::{BertInput, load_layer_norm};
use crate::nn::{Dropout, Embedding, LayerNorm, Module};
use crate::{Error, Result, Tensor, ops};

/// `BertEmbeddings`: ids `[batch, seq]` → `[batch, seq, hidden]` vectors, the sum of three lookups,
/// normalized. Field names are the checkpoint's (`bert.embeddings.word_embeddings.weight`, ...).
#[allow(non_snake_case)] // field names match the checkpoint keys
pub struct BertEmbeddings {
    /// `[vocab_size, hidden]`: one row per word piece.
    pub word_embeddings: Embedding,
    /// `[max_position_embeddings, hidden]`: one row per position 0, 1, 2, ...
    pub position_embeddings: Embedding,
    /// `[type_vocab_size, hidden]`: one row per segment (0 = first text, 1 = second).
    pub token_type_embeddings: Embedding,
    /// Applied to the sum of the three rows.
    pub LayerNorm: LayerNorm,
    /// Identity at inference; printed like PyTorch.
    pub dropout: Dropout,
}

impl BertEmbeddings {
    /// Loads the three tables and the LayerNorm from `{prefix}word_embeddings.weight`, ...
    /// (`prefix` ends with `embeddings.`), checking each shape against `cfg`.
    ///
    /// Errors: a missing tensor or a wrong shape, named with the file.
    pub fn load(w: &dyn ParamSource, prefix: &str, cfg: &BertConfig) -> Result<Self> {
        let h = cfg.hidden_size;
        let table = |name: &str, rows: usize, pad: Option<usize>| -> Result<Embedding> {
            Embedding::new(w.get_shaped(&format!("{prefix}{name}.weight"), &[rows, h])?, pad)
        };
        Ok(BertEmbeddings {
            word_embeddings: table("word_embeddings", cfg.vocab_size, Some(cfg.pad_token_id.unwrap_or(0)))?,
            position_embeddings: table("position_embeddings", cfg.max_position_embeddings, None)?,
            token_type_embeddings: table("token_type_embeddings", cfg.type_vocab_size, None)?,
            LayerNorm: load_layer_norm(w, &format!("{prefix}LayerNorm"), h, cfg.layer_norm_eps)?,
            dropout: Dropout { p: cfg.hidden_dropout_prob },
        })
    }

    /// `input -> [batch, seq, hidden]`.
    pub fn forward(&self, input: &BertInput) -> Result<Tensor> {
        let _s = crate::profile::span("BertEmbeddings");
        let (b, s) = (input.batch, input.seq_len);
        let max_pos = self.position_embeddings.weight.shape()[0];
        if s > max_pos {
            return Err(Error::Input(format!(
                "sequence of {s} tokens is longer than the model's max_position_embeddings = {max_pos}"
            )));
        }
        let words = self.word_embeddings.forward(input.input_ids, &[b, s])?;
        // Absolute positions 0..s, the same for every sequence of the batch.
        let positions: Vec<u32> = (0..s as u32).collect();
        let pos = self.position_embeddings.forward(&positions, &[1, s])?;
        let zeros;
        let types = match input.token_type_ids {
            Some(t) => t,
            None => {
                zeros = vec![0u32; b * s];
                &zeros
            }
        };
        let typ = self.token_type_embeddings.forward(types, &[b, s])?;
        let x = ops::add(&ops::add(&words, &typ)?, &pos)?;
        // Dropout would go here; it is the identity at inference.
        self.LayerNorm.forward(&x)
    }
}

impl BertEmbeddings {
    /// [`BertEmbeddings::forward`] into `out: [batch·seq, hidden]` (overwritten), allocating
    /// nothing: each row is the word row, plus the token-type row, plus the position row (in
    /// that order, as the tensor path adds them), then LayerNorm.
    pub fn forward_into(&self, input: &BertInput, out: &mut [f32]) -> Result<()> {
        let _s = crate::profile::span("BertEmbeddings");
        use crate::ops::norm::add_layer_norm_rows;
        use crate::ops::simd::{Isa, add_assign};
        let (b, s) = (input.batch, input.seq_len);
        fn table(e: &Embedding) -> &[f32] {
            e.weight.as_slice().unwrap_or(&[])
        }
        let (words, positions, types) =
            (table(&self.word_embeddings), table(&self.position_embeddings), table(&self.token_type_embeddings));
        let h = self.word_embeddings.weight.shape()[1];
        let max_pos = self.position_embeddings.weight.shape()[0];
        if s > max_pos {
            return Err(Error::Input(format!(
                "sequence of {s} tokens is longer than the model's max_position_embeddings = {max_pos}"
            )));
        }
        if out.len() < b * s * h {
            return Err(Error::invalid(
                "BertEmbeddings",
                format!("output of {} values for {b} x {s} x {h}", out.len()),
            ));
        }
        let row_of = |t: &'_ [f32], name: &str, id: usize, pos: usize| -> Result<std::ops::Range<usize>> {
            let rows = t.len() / h.max(1);
            if id >= rows {
                return Err(Error::invalid(
                    "embedding",
                    format!(
                        "{name} id {id} (at position {pos}) is out of range for a table of {rows} rows (V = {rows})"
                    ),
                ));
            }
            Ok(id * h..(id + 1) * h)
        };
        let isa = Isa::best();
        for (r, row) in out[..b * s * h].chunks_exact_mut(h).enumerate() {
            row.copy_from_slice(&words[row_of(words, "input", input.input_ids[r] as usize, r)?]);
            let t = input.token_type_ids.map_or(0, |t| t[r] as usize);
            add_assign(isa, row, &types[row_of(types, "token type", t, r)?]);
            add_assign(isa, row, &positions[(r % s) * h..(r % s + 1) * h]);
        }
        let ln = &self.LayerNorm;
        let (w, bias) = (ln.weight.as_slice().unwrap_or(&[]), ln.bias.as_slice().unwrap_or(&[]));
        crate::ops::par_rows(&mut out[..b * s * h], h, |_, x| {
            add_layer_norm_rows(isa, x, &[], h, w, bias, ln.eps as f32)
        });
        Ok(())
    }
}

impl Module for BertEmbeddings {
    fn name(&self) -> String {
        "BertEmbeddings".into()
    }
    fn children(&self) -> Vec<(String, &dyn Module)> {
        vec![
            ("word_embeddings".into(), &self.word_embeddings),
            ("position_embeddings".into(), &self.position_embeddings),
            ("token_type_embeddings".into(), &self.token_type_embeddings),
            ("LayerNorm".into(), &self.LayerNorm),
            ("dropout".into(), &self.dropout),
        ]
    }
}
