//! # Extractive question answering, as transformers' question-answering pipeline answers
//!
//! The model gives every token two logits, "the answer starts here" and "ends here". The
//! pipeline (transformers 4's `QuestionAnsweringPipeline`, removed in transformers 5; the
//! fixtures come from its last release) turns them into answers in five steps, and each is a
//! place where a re-implementation usually differs:
//!
//! 1. **Windows.** A context longer than `max_seq_len` (384 by default, never more than the
//!    model's limit) is cut into overlapping windows `[CLS] question [SEP] part [SEP]` that share
//!    `doc_stride` tokens (128 by default, at most half a window), and every window is read:
//!    no part of the context is dropped.
//! 2. **Softmax.** Per window, question tokens, `[SEP]` and padding get logit -10000 and the
//!    rest a softmax — `[CLS]` *included* in the normalization, then its probability set to 0.
//! 3. **Spans.** `score = p_start · p_end` for `start <= end < start + max_answer_len`; the best
//!    `top_k` (with word alignment `2 top_k + 10`, since alignment merges some) over the whole
//!    `[n, n]` grid, then those that start or end outside the context dropped.
//! 4. **Whole words.** A span that starts or ends inside a word is widened to the whole word
//!    (`align_to_words`, on by default): the model never answers "Par" for "Paris". (Within a
//!    window only: a word cut by the window's edge keeps its part inside the window.)
//! 5. **Duplicates merged.** Spans with the same text (ignoring case) — the same words from two
//!    overlapping windows, or two token spans widened to the same words — become one answer
//!    whose score is the *sum* of theirs. Answers are then sorted by score and cut to `top_k`;
//!    `handle_impossible_answer` adds the empty answer with the smallest `p_start[CLS] ·
//!    p_end[CLS]` of the windows.

use serde::Serialize;

use super::check_texts;
use crate::bert::BertInput;
use crate::bert::heads::{BertForQuestionAnswering, HeadConfig};
use crate::io::Checkpoint;
use crate::text::{Encoded, Tokenizer};
use crate::{Error, Result};

/// One answer: a span of the context and its score.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Answer {
    /// The answer text (a slice of the context; empty for "no answer").
    pub answer: String,
    /// The pipeline's score: `p_start · p_end`, summed over the spans merged into this answer.
    pub score: f32,
    /// Character offset of the answer in the context.
    pub start: usize,
    /// Character offset past its end.
    pub end: usize,
}

/// The settings of transformers' question-answering pipeline, with its defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QaOptions {
    /// How many answers (1).
    pub top_k: usize,
    /// Tokens shared by consecutive windows (`None`: `min(max_seq_len / 2, 128)`).
    pub doc_stride: Option<usize>,
    /// Tokens per window (`None`: `min(384, the model's limit)`).
    pub max_seq_len: Option<usize>,
    /// The longest answer, in tokens (15).
    pub max_answer_len: usize,
    /// Widen spans to whole words (true).
    pub align_to_words: bool,
    /// Add the empty answer, scored by `[CLS]` (false).
    pub handle_impossible_answer: bool,
}

impl Default for QaOptions {
    fn default() -> Self {
        QaOptions {
            top_k: 1,
            doc_stride: None,
            max_seq_len: None,
            max_answer_len: 15,
            align_to_words: true,
            handle_impossible_answer: false,
        }
    }
}

/// Extractive question answering with a `BertForQuestionAnswering` checkpoint.
pub struct QuestionAnswerer {
    /// The model.
    pub model: BertForQuestionAnswering,
    /// The checkpoint's tokenizer.
    pub tokenizer: Tokenizer,
    /// The longest answer, in tokens, for [`QuestionAnswerer::answer`] (transformers' default 15).
    pub max_answer_len: usize,
}

/// `exp(x - max) / Σ`, in f32 as the pipeline's NumPy code computes it.
fn softmax_f32(v: &[f32]) -> Vec<f32> {
    let max = v.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let e: Vec<f32> = v.iter().map(|x| (x - max).exp()).collect();
    let sum: f32 = e.iter().sum();
    e.iter().map(|x| x / sum).collect()
}

impl QuestionAnswerer {
    /// Opens a `BertForQuestionAnswering` checkpoint.
    pub fn from_checkpoint(ckpt: &Checkpoint) -> Result<QuestionAnswerer> {
        let (cfg, head, tokenizer) = super::tasks::open_head(ckpt, "BertForQuestionAnswering", "qa")?;
        let head: HeadConfig = head;
        Ok(QuestionAnswerer {
            model: BertForQuestionAnswering::load(&ckpt.weights, &cfg, &head)?,
            tokenizer,
            max_answer_len: 15,
        })
    }

    /// The best answer with the pipeline's defaults (and this answerer's `max_answer_len`).
    pub fn answer(&self, question: &str, context: &str) -> Result<Answer> {
        let opts = QaOptions { max_answer_len: self.max_answer_len, ..QaOptions::default() };
        self.answers(question, context, &opts)?
            .into_iter()
            .next()
            .ok_or_else(|| Error::Input("no answer span in the context".into()))
    }

    /// The windows a context is read in, with these options (see the module documentation).
    pub fn windows(&self, question: &str, context: &str, opts: &QaOptions) -> Result<Vec<Encoded>> {
        check_texts(&self.tokenizer, &[question, context])?;
        let max_seq_len = opts.max_seq_len.unwrap_or(384).min(self.tokenizer.max_len());
        let stride = opts.doc_stride.unwrap_or((max_seq_len / 2).min(128));
        if stride > max_seq_len {
            return Err(Error::Input(format!("doc_stride ({stride}) is larger than max_seq_len ({max_seq_len})")));
        }
        self.tokenizer.encode_windows(question, context, max_seq_len, stride)
    }

    /// Up to `opts.top_k` answers, best first, as transformers' question-answering pipeline
    /// returns them (see the module documentation for the rules).
    pub fn answers(&self, question: &str, context: &str, opts: &QaOptions) -> Result<Vec<Answer>> {
        if opts.top_k == 0 || opts.max_answer_len == 0 {
            return Err(Error::Input("top_k and max_answer_len must be at least 1".into()));
        }
        let windows = self.windows(question, context, opts)?;
        let chars: Vec<char> = context.chars().collect();
        let slice = |s: usize, e: usize| -> String {
            chars[s.min(chars.len())..e.min(chars.len()).max(s.min(chars.len()))].iter().collect()
        };
        let pre_topk = if opts.align_to_words { opts.top_k * 2 + 10 } else { opts.top_k };
        let mut answers: Vec<(f64, usize, usize, String)> = Vec::new();
        let mut min_null = 1_000_000f32;
        for w in &windows {
            let n = w.ids.len();
            let mask = vec![1u32; n];
            let span = self.model.forward(&BertInput::new(&w.ids, Some(&mask), Some(&w.type_ids), 1, n)?)?;
            let (s_logits, e_logits) = (span.start_logits.to_vec(), span.end_logits.to_vec());
            // Answerable: context tokens, and [CLS] (unmasked for the empty answer).
            let cls = w.special.first().copied().unwrap_or(false).then(|| w.ids[0]);
            let desired: Vec<bool> =
                (0..n).map(|i| w.sequence_ids[i] == Some(1) || (w.special[i] && Some(w.ids[i]) == cls)).collect();
            let masked = |v: &[f32]| -> Vec<f32> { (0..n).map(|i| if desired[i] { v[i] } else { -10000.0 }).collect() };
            let (mut ps, mut pe) = (softmax_f32(&masked(&s_logits)), softmax_f32(&masked(&e_logits)));
            if opts.handle_impossible_answer {
                min_null = min_null.min(ps[0] * pe[0]);
            }
            ps[0] = 0.0;
            pe[0] = 0.0;
            // Every (start, end) of the grid, ranked by score (stable: ties keep row-major order).
            let mut grid: Vec<(f32, usize, usize)> = Vec::with_capacity(n * n);
            for (i, &p_start) in ps.iter().enumerate() {
                for (j, &p_end) in pe.iter().enumerate() {
                    let ok = j >= i && j < i + opts.max_answer_len;
                    grid.push((if ok { p_start * p_end } else { 0.0 }, i, j));
                }
            }
            grid.sort_by(|a, b| b.0.total_cmp(&a.0));
            for &(score, s, e) in grid.iter().take(pre_topk) {
                if !(desired[s] && desired[e]) {
                    continue;
                }
                let (start, end) = match (opts.align_to_words, w.words[s], w.words[e]) {
                    (true, Some(ws), Some(we)) => match (w.word_to_chars(ws, 1), w.word_to_chars(we, 1)) {
                        (Some(a), Some(b)) => (a.0, b.1),
                        _ => (w.offsets[s].0, w.offsets[e].1),
                    },
                    _ => (w.offsets[s].0, w.offsets[e].1),
                };
                let text = slice(start, end);
                match answers.iter_mut().find(|a| a.3.to_lowercase() == text.to_lowercase()) {
                    Some(a) => a.0 += score as f64,
                    None => answers.push((score as f64, start, end, text)),
                }
            }
        }
        if opts.handle_impossible_answer {
            answers.push((min_null as f64, 0, 0, String::new()));
        }
        answers.sort_by(|a, b| b.0.total_cmp(&a.0));
        answers.truncate(opts.top_k);
        Ok(answers
            .into_iter()
            .map(|(score, start, end, answer)| Answer { answer, score: score as f32, start, end })
            .collect())
    }
}
