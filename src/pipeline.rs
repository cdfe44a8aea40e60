//! # Pipelines: text in, answers out
//!
//! The top of the stack and the one place the layers meet: a checkpoint directory
//! ([`crate::io`]), a tokenizer ([`crate::text`]) and a model ([`crate::bert`]) put together for
//! the jobs people run BERT for on a CPU. One file per job:
//!
//! - this file: what every pipeline shares (batch size, the input rule, truncation counts,
//!   how texts are quoted in messages);
//! - `embed.rs`: sentence embeddings ([`Embedder`]) and the batching plan;
//! - `fill_mask.rs`: which words fit where `[MASK]` stands ([`FillMask`]);
//! - `tasks.rs` and `qa.rs`: the task heads (classification, reranking, entities, question
//!   answering);
//! - `forward.rs`: the whole model on one batch (`nanobert forward`), describing a checkpoint, and
//!   the precision plan;
//! - `tokenizer_files.rs`: a checkpoint's tokenizer (the constructors of [`Tokenizer`] that
//!   read a model directory);
//! - `builder.rs`: one builder for all of them, with precision, fusion and threads.

use crate::bert::{BertConfig, BertInput};
use crate::io::Checkpoint;
use crate::text::{Batch, Tokenizer};
use crate::{Error, Result};

mod builder;
mod embed;
mod fill_mask;
mod forward;
mod qa;
mod tasks;
mod tokenizer_files;
pub use builder::{Builder, Pipeline, Threaded, max_threads, thread_pool};
pub use embed::{Batching, CALL_COST_TOKENS, Embedder, batch_plan, bucket_order, sub_batch, token_budget_plan};
pub use fill_mask::{Candidate, FillMask, FillMaskResult, MaskPrediction, top_candidates, top_k_indices};
pub use forward::{ForwardOutputs, describe, forward, forward_at, precision_plan, weight_bytes_line};
pub use qa::{Answer, QaOptions, QuestionAnswerer};
pub use tasks::{
    Classification, Classifier, Entity, LabelScore, Ranked, Reranker, ScoreFunction, TokenClassifier, TokenPrediction,
    cross_encoder_activation,
};
pub use tokenizer_files::bert_settings;

/// How many texts go through the model at once (bounds memory on long inputs).
pub const BATCH_SIZE: usize = 32;

/// The longest input the checkpoint accepts, in tokens: sentence-transformers'
/// `max_seq_length` when present (it overrides the tokenizer's limit, as in
/// sentence-transformers), else `tokenizer_config.json`'s `model_max_length`; never more than
/// `max_position_embeddings`.
pub fn max_len(ckpt: &Checkpoint, cfg: &BertConfig) -> usize {
    let st = ckpt.sentence_transformers.as_ref().and_then(|s| s.max_seq_length);
    st.or(ckpt.tokenizer_config.model_max_length)
        .unwrap_or(cfg.max_position_embeddings)
        .min(cfg.max_position_embeddings)
}

/// The model input of a tokenized batch (ids, attention mask, token type ids).
pub fn input(batch: &Batch) -> Result<BertInput<'_>> {
    BertInput::new(
        &batch.input_ids,
        Some(&batch.attention_mask),
        Some(&batch.token_type_ids),
        batch.batch,
        batch.seq_len,
    )
}

/// At most this many characters of a text are quoted in an error message.
pub const QUOTE_CHARS: usize = 40;

/// A text as quoted in messages: on one line, at most [`QUOTE_CHARS`] characters, with the
/// full length when cut (`"The capital of France is the ci…" (1234 chars)`).
pub fn quote(text: &str) -> String {
    let n = text.chars().count();
    let head: String = one_line(&text.chars().take(QUOTE_CHARS).collect::<String>());
    if n > QUOTE_CHARS { format!("\"{head}…\" ({n} chars)") } else { format!("\"{head}\"") }
}

/// A text on one line for text output: newlines, carriage returns and tabs shown as `\n`, `\r`,
/// `\t`, so every result stays one line.
pub fn one_line(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\n', "\\n").replace('\r', "\\r").replace('\t', "\\t")
}

/// What truncation did to a list of texts: how many were longer than the model's limit and how
/// many tokens were dropped in total.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Truncation {
    /// Texts longer than the limit.
    pub texts: usize,
    /// Tokens dropped, summed over those texts.
    pub tokens: usize,
    /// The limit in tokens, `[CLS]` and `[SEP]` included.
    pub max_len: usize,
}

impl Truncation {
    /// Adds another batch's counts.
    pub fn add(&mut self, other: Truncation) {
        self.texts += other.texts;
        self.tokens += other.tokens;
        self.max_len = other.max_len;
    }

    /// The one warning line, or `None` when nothing was truncated.
    pub fn warning(&self) -> Option<String> {
        (self.texts > 0).then(|| {
            format!(
                "warning: {} text{} longer than the model's limit of {} tokens: truncated, {} token{} dropped",
                self.texts,
                if self.texts == 1 { " was" } else { "s were" },
                self.max_len,
                self.tokens,
                if self.tokens == 1 { "" } else { "s" }
            )
        })
    }
}

/// The one rule for input texts, used by every pipeline: at least one text, and no text *empty*
/// — a text is empty when it yields no tokens after normalization (`""`, spaces, control or
/// zero-width characters). Errors number texts from 1 (`first` is the number of `texts[0]`)
/// and quote at most a short prefix. Returns what truncation will drop.
pub fn check_texts_numbered(tokenizer: &Tokenizer, texts: &[&str], first: usize) -> Result<Truncation> {
    if texts.is_empty() {
        return Err(Error::Input("no text given".into()));
    }
    let room = tokenizer.max_len().saturating_sub(2); // [CLS] ... [SEP]
    let mut t = Truncation { max_len: tokenizer.max_len(), ..Truncation::default() };
    for (i, text) in texts.iter().enumerate() {
        let n = tokenizer.count_tokens(text)?;
        if n == 0 {
            return Err(Error::Input(format!(
                "text #{} is empty (no tokens after normalization): {}",
                first + i,
                quote(text)
            )));
        }
        if n > room {
            t.texts += 1;
            t.tokens += n - room;
        }
    }
    Ok(t)
}

fn check_texts(tokenizer: &Tokenizer, texts: &[&str]) -> Result<Truncation> {
    check_texts_numbered(tokenizer, texts, 1)
}
