//! # Fill-mask: which words fit where `[MASK]` stands
//!
//! [`FillMask`] runs the encoder and the masked-language-model head at the `[MASK]`
//! positions only, then keeps the `top_k` most probable word pieces of each.

use super::{BATCH_SIZE, check_texts_numbered, input, max_len, quote};
use crate::bert::{BertConfig, BertForMaskedLM};
use crate::io::Checkpoint;
use crate::text::Tokenizer;
use crate::{Error, Result, Tensor};

/// One candidate for a masked position.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Candidate {
    /// The word piece, as the vocabulary spells it (`##` marks a continuation).
    pub token: String,
    /// Its vocabulary id.
    pub id: u32,
    /// Softmax probability over the vocabulary.
    pub score: f32,
}

/// The candidates for one `[MASK]`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct MaskPrediction {
    /// Index of the `[MASK]` token in the encoded sequence (`[CLS]` is 0).
    pub position: usize,
    /// The `top_k` candidates, most probable first.
    pub top: Vec<Candidate>,
}

/// Fill-mask results for one text.
#[derive(Clone, Debug, serde::Serialize)]
pub struct FillMaskResult {
    /// The input text.
    pub text: String,
    /// One entry per `[MASK]`, in order.
    pub masks: Vec<MaskPrediction>,
}

/// Fill-mask: which words fit where `[MASK]` stands.
pub struct FillMask {
    /// Encoder and masked-language-model head.
    pub model: BertForMaskedLM,
    /// Text → ids; must know `[MASK]`.
    pub tokenizer: Tokenizer,
}

impl FillMask {
    /// Needs a checkpoint with a masked-language-model head (`cls.predictions.*`).
    pub fn from_checkpoint(ckpt: &Checkpoint) -> Result<FillMask> {
        if !ckpt.weights.contains("cls.predictions.transform.dense.weight") {
            return Err(Error::Input(format!(
                "{} has no masked-language-model head (cls.predictions.*): fill-mask needs a BertForMaskedLM \
                 checkpoint such as bert-base-uncased",
                ckpt.dir.display()
            )));
        }
        let cfg = BertConfig::from_json(&ckpt.config_json)?;
        let model = BertForMaskedLM::load(&ckpt.weights, &cfg)?;
        let tokenizer = Tokenizer::from_checkpoint(ckpt, max_len(ckpt, &cfg))?;
        Ok(FillMask { model, tokenizer })
    }

    /// Top-`k` candidates for every `[MASK]` of every text.
    pub fn predict(&self, texts: &[&str], top_k: usize) -> Result<Vec<FillMaskResult>> {
        self.predict_numbered(texts, top_k, 1)
    }

    /// [`FillMask::predict`], numbering texts from `first` in error messages (for callers that
    /// stream many texts in slices).
    pub fn predict_numbered(&self, texts: &[&str], top_k: usize, first: usize) -> Result<Vec<FillMaskResult>> {
        if top_k == 0 {
            return Err(Error::Input("top_k must be at least 1".into()));
        }
        check_texts_numbered(&self.tokenizer, texts, first)?;
        let mask_id =
            self.tokenizer.mask_token_id().ok_or_else(|| Error::Input("this tokenizer has no [MASK] token".into()))?;
        let mut results = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(BATCH_SIZE) {
            let batch = self.tokenizer.encode_batch(chunk)?;
            let s = batch.seq_len;
            let positions: Vec<(usize, usize)> =
                (0..batch.batch * s).filter(|&i| batch.input_ids[i] == mask_id).map(|i| (i / s, i % s)).collect();
            for (bi, text) in chunk.iter().enumerate() {
                if !positions.iter().any(|&(b, _)| b == bi) {
                    let number = first + results.len() + bi;
                    let n = self.tokenizer.count_tokens(text)? + 2;
                    return Err(Error::Input(if n > self.tokenizer.max_len() && text.contains("[MASK]") {
                        format!(
                            "text #{number}: its [MASK] was lost to truncation (the text is {n} tokens, the model \
                             keeps the first {}): {}",
                            self.tokenizer.max_len(),
                            quote(text)
                        )
                    } else {
                        format!("no [MASK] token in text #{number}: {}", quote(text))
                    }));
                }
            }
            let hidden = self.model.bert.forward(&input(&batch)?, false)?.last_hidden_state;
            let mut per_text: Vec<Vec<MaskPrediction>> = (0..chunk.len()).map(|_| Vec::new()).collect();
            for (&(b, _), p) in positions.iter().zip(self.predictions_at(&hidden, &positions, |_| top_k)?) {
                per_text[b].push(p);
            }
            for (text, masks) in chunk.iter().zip(per_text) {
                results.push(FillMaskResult { text: text.to_string(), masks });
            }
        }
        Ok(results)
    }
}

impl FillMask {
    /// The candidates at `positions` (`(row, position)` pairs of `hidden`, the encoder's
    /// `[batch, seq, hidden]` output), one [`MaskPrediction`] per position in order: the MLM
    /// head on those rows only, softmax over the vocabulary, the `top_k(i)` most probable for
    /// position `i`. [`FillMask::predict`] and the server's `/fill-mask` both end here.
    pub fn predictions_at(
        &self,
        hidden: &Tensor,
        positions: &[(usize, usize)],
        top_k: impl Fn(usize) -> usize,
    ) -> Result<Vec<MaskPrediction>> {
        if positions.is_empty() {
            return Ok(Vec::new());
        }
        let logits = self.model.logits_at(hidden, positions)?;
        let probs = crate::ops::softmax(&logits, None)?;
        let probs = probs.as_slice().unwrap_or(&[]);
        let vocab = logits.shape()[1];
        Ok(positions
            .iter()
            .enumerate()
            .map(|(row, &(_, position))| MaskPrediction {
                position,
                top: top_candidates(&self.tokenizer, &probs[row * vocab..(row + 1) * vocab], top_k(row)),
            })
            .collect())
    }
}

/// The `top_k` most probable tokens of one `[MASK]`'s probabilities over the vocabulary
/// (`probs[id]`), most probable first, each with its word piece (`[id]` if the vocabulary has
/// none). Shared by [`FillMask`] and the server's `/fill-mask`.
pub fn top_candidates(tokenizer: &Tokenizer, probs: &[f32], top_k: usize) -> Vec<Candidate> {
    top_k_indices(probs, top_k)
        .into_iter()
        .map(|id| Candidate {
            token: tokenizer.id_to_token(id as u32).unwrap_or_else(|| format!("[{id}]")),
            id: id as u32,
            score: probs[id],
        })
        .collect()
}

/// Indices of the `k` largest values, largest first (ties: lower index first).
pub fn top_k_indices(values: &[f32], k: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..values.len()).collect();
    let k = k.min(values.len());
    if k == 0 {
        return Vec::new();
    }
    let cmp = |a: &usize, b: &usize| values[*b].total_cmp(&values[*a]).then(a.cmp(b));
    idx.select_nth_unstable_by(k - 1, cmp);
    idx.truncate(k);
    idx.sort_by(cmp);
    idx
}
