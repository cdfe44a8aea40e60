//! # BERT tokenization: text -> WordPiece ids, padded into a batch
//!
//! BERT reads integers, not text. Its tokenizer is a pipeline of four small steps:
//!
//! 1. **normalize** (`BertNormalizer`): clean control characters, put spaces around CJK
//!    characters, lowercase and strip accents for "uncased" models;
//! 2. **pre-tokenize** (`BertPreTokenizer`): split on whitespace and punctuation;
//! 3. **WordPiece**: split each word greedily into the longest pieces found in the vocabulary,
//!    pieces after the first spelled with a `##` prefix (`"tokenization"` ->
//!    `token ##ization`); a word with no split becomes `[UNK]`;
//! 4. **post-process**: wrap as `[CLS] A [SEP]` or `[CLS] A [SEP] B [SEP]`, with token type
//!    ids 0 for the first segment and 1 for the second.
//!
//! A batch of texts has different lengths, so the short ones are padded with `[PAD]` up to
//! the longest, and the `attention_mask` (1 = real token, 0 = padding) tells the model which
//! positions to ignore. Too-long inputs are truncated to `max_len` tokens.
//!
//! We use the `tokenizers` crate for the pipeline (reimplementing Unicode normalization is not
//! what this course is about) but build the WordPiece pipeline ourselves from a vocabulary
//! and its settings when a checkpoint asks for `BertTokenizer` (`wordpiece.rs`), and we always
//! impose our own padding and truncation: files in the wild often carry settings such as "pad
//! everything to 128" that would waste compute.

use std::path::Path;

use tokenizers::normalizers::{Lowercase, NormalizerWrapper, Sequence as NormalizerSequence};
use tokenizers::{
    EncodeInput, Encoding, PaddingDirection, PaddingParams, PaddingStrategy, TruncationDirection, TruncationParams,
    TruncationStrategy,
};

use crate::{Error, Result};

/// A tokenizer that pads to the longest text of each batch and truncates to `max_len`.
#[derive(Clone)]
pub struct Tokenizer {
    inner: tokenizers::Tokenizer,
    /// The same pipeline without truncation or padding, to count what truncation drops.
    counter: tokenizers::Tokenizer,
    max_len: usize,
}

/// Token ids of a batch, row-major `[batch, seq_len]`, padded on the right.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Batch {
    /// Vocabulary ids.
    pub input_ids: Vec<u32>,
    /// 1 for real tokens (including `[CLS]`/`[SEP]`), 0 for padding.
    pub attention_mask: Vec<u32>,
    /// Segment ids: 0 for the first text, 1 for the second of a pair, 0 for padding.
    pub token_type_ids: Vec<u32>,
    /// Number of rows.
    pub batch: usize,
    /// Tokens per row (the longest text, after truncation).
    pub seq_len: usize,
    /// The token strings of each row, padding included (`[PAD]`).
    pub tokens: Vec<Vec<String>>,
}

/// One encoded text (or pair) with offsets: see [`Tokenizer::encode_with_offsets`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Encoded {
    /// Vocabulary ids, `[CLS]` and `[SEP]` included.
    pub ids: Vec<u32>,
    /// Segment ids (0 first text, 1 second).
    pub type_ids: Vec<u32>,
    /// Token strings.
    pub tokens: Vec<String>,
    /// `(start, end)` character offsets of each token in the text it came from (`(0, 0)` for
    /// special tokens).
    pub offsets: Vec<(usize, usize)>,
    /// Which input each token came from: `Some(0)`, `Some(1)`, or `None` for special tokens.
    pub sequence_ids: Vec<Option<usize>>,
    /// True for `[CLS]`, `[SEP]` and other special tokens.
    pub special: Vec<bool>,
    /// The word each token belongs to, numbered within its input (`None` for special tokens).
    pub words: Vec<Option<u32>>,
}

impl Encoded {
    fn from_encoding(e: &Encoding) -> Encoded {
        Encoded {
            ids: e.get_ids().to_vec(),
            type_ids: e.get_type_ids().to_vec(),
            tokens: e.get_tokens().to_vec(),
            offsets: e.get_offsets().to_vec(),
            sequence_ids: e.get_sequence_ids(),
            special: e.get_special_tokens_mask().iter().map(|&m| m != 0).collect(),
            words: e.get_word_ids().to_vec(),
        }
    }

    /// The character span of word `word` of input `sequence` *within this encoding*: from the
    /// start of its first token here to the end of its last (a word cut by a window edge gives
    /// only its part inside the window), as the `tokenizers` library's `word_to_chars`.
    pub fn word_to_chars(&self, word: u32, sequence: usize) -> Option<(usize, usize)> {
        let mut span: Option<(usize, usize)> = None;
        for (i, (&w, &sq)) in self.words.iter().zip(&self.sequence_ids).enumerate() {
            if w == Some(word) && sq == Some(sequence) {
                let (s, e) = self.offsets[i];
                span = Some(span.map_or((s, e), |(s0, _)| (s0, e)));
            }
        }
        span
    }
}

impl Batch {
    /// Number of real (unpadded) tokens in each row.
    pub fn lengths(&self) -> Vec<usize> {
        self.attention_mask.chunks(self.seq_len.max(1)).map(|r| r.iter().filter(|&&m| m != 0).count()).collect()
    }

    /// The ids of row `i` (padding included).
    pub fn row_ids(&self, i: usize) -> &[u32] {
        &self.input_ids[i * self.seq_len..(i + 1) * self.seq_len]
    }
}

pub(super) fn tok_err(context: &str, e: impl std::fmt::Display) -> Error {
    Error::Tokenizer(format!("{context}: {e}"))
}

impl Tokenizer {
    /// Load a `tokenizer.json`, replacing its padding and truncation settings with ours.
    pub fn from_file(tokenizer_json: &Path, max_len: usize) -> Result<Tokenizer> {
        check_max_len(max_len)?;
        if !tokenizer_json.is_file() {
            return Err(Error::file(tokenizer_json, "tokenizer file not found"));
        }
        let text = std::fs::read_to_string(tokenizer_json)
            .map_err(|e| Error::file(tokenizer_json, format!("cannot read tokenizer file: {e}")))?;
        let json: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| Error::file(tokenizer_json, format!("tokenizer file is not valid JSON: {e}")))?;
        let keys: Vec<&str> = json.as_object().map(|o| o.keys().map(String::as_str).collect()).unwrap_or_default();
        if !keys.contains(&"model") {
            let found = if json.is_object() { format!("keys {keys:?}") } else { "not a JSON object".into() };
            return Err(Error::file(
                tokenizer_json,
                format!(
                    "valid JSON but not a tokenizer: a Hugging Face tokenizer.json has a \"model\" section \
                     (found {found})"
                ),
            ));
        }
        let inner = text
            .parse::<tokenizers::Tokenizer>()
            .map_err(|e| Error::file(tokenizer_json, format!("cannot load tokenizer: {e}")))?;
        Self::configure(inner, max_len)
    }

    /// Lowercases text before the tokenizer's own normalizer, as sentence-transformers does for
    /// `"do_lower_case": true` in `sentence_bert_config.json` (it prepends a `Lowercase`
    /// normalizer unless one is already there). Special tokens typed in text stay whole.
    pub fn prepend_lowercase(&mut self) {
        let current = self.inner.get_normalizer().cloned();
        let mut parts: Vec<NormalizerWrapper> = vec![Lowercase.into()];
        match current {
            Some(NormalizerWrapper::Lowercase(_)) => return,
            Some(NormalizerWrapper::Sequence(seq)) => {
                let v = serde_json::to_value(&seq).ok();
                let has = v
                    .as_ref()
                    .and_then(|v| v.get("normalizers"))
                    .and_then(|n| n.as_array())
                    .is_some_and(|a| a.iter().any(|n| n.get("type").and_then(|t| t.as_str()) == Some("Lowercase")));
                if has {
                    return;
                }
                parts.push(NormalizerWrapper::Sequence(seq));
            }
            Some(n) => parts.push(n),
            None => {}
        }
        self.inner.with_normalizer(Some(NormalizerWrapper::Sequence(NormalizerSequence::new(parts))));
    }

    pub(super) fn set_truncation_direction(&mut self, direction: TruncationDirection) -> Result<()> {
        let mut t = self.inner.get_truncation().cloned().unwrap_or_default();
        t.direction = direction;
        self.inner.with_truncation(Some(t)).map_err(|e| tok_err("truncation", e))?;
        Ok(())
    }

    /// Impose batch-longest padding with the file's `[PAD]` and longest-first truncation.
    pub(super) fn configure(mut inner: tokenizers::Tokenizer, max_len: usize) -> Result<Tokenizer> {
        let mut counter = inner.clone();
        counter.with_padding(None);
        counter.with_truncation(None).map_err(|e| tok_err("truncation", e))?;
        let (pad_id, pad_token) = match inner.token_to_id("[PAD]") {
            Some(id) => (id, "[PAD]".to_string()),
            None => match inner.get_padding() {
                Some(p) => (p.pad_id, p.pad_token.clone()),
                None => (0, "[PAD]".to_string()),
            },
        };
        inner.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            direction: PaddingDirection::Right,
            pad_to_multiple_of: None,
            pad_id,
            pad_type_id: 0,
            pad_token,
        }));
        inner
            .with_truncation(Some(TruncationParams {
                direction: TruncationDirection::Right,
                max_length: max_len,
                strategy: TruncationStrategy::LongestFirst,
                stride: 0,
            }))
            .map_err(|e| tok_err("truncation", e))?;
        Ok(Tokenizer { inner, counter, max_len })
    }

    /// Encode single texts: `[CLS] text [SEP]`, padded to the longest.
    pub fn encode_batch(&self, texts: &[&str]) -> Result<Batch> {
        if texts.is_empty() {
            return Err(Error::Input("encode_batch: no texts to encode (empty batch)".into()));
        }
        let inputs: Vec<EncodeInput> = texts.iter().map(|&t| t.into()).collect();
        let encodings = self.inner.encode_batch(inputs, true).map_err(|e| tok_err("encode_batch", e))?;
        Self::collect(encodings)
    }

    /// Encode text pairs: `[CLS] a [SEP] b [SEP]` with token types 0 then 1.
    pub fn encode_pairs(&self, pairs: &[(&str, &str)]) -> Result<Batch> {
        if pairs.is_empty() {
            return Err(Error::Input("encode_pairs: no text pairs to encode (empty batch)".into()));
        }
        let inputs: Vec<EncodeInput> = pairs.iter().map(|&(a, b)| (a, b).into()).collect();
        let encodings = self.inner.encode_batch(inputs, true).map_err(|e| tok_err("encode_pairs", e))?;
        Self::collect(encodings)
    }

    /// Encode a batch mixing single texts (`None`) and pairs (`Some(second)`).
    pub fn encode_mixed(&self, inputs: &[(&str, Option<&str>)]) -> Result<Batch> {
        if inputs.is_empty() {
            return Err(Error::Input("encode_mixed: no texts to encode (empty batch)".into()));
        }
        let inputs: Vec<EncodeInput> =
            inputs.iter().map(|&(a, b)| if let Some(b) = b { (a, b).into() } else { a.into() }).collect();
        let encodings = self.inner.encode_batch(inputs, true).map_err(|e| tok_err("encode_mixed", e))?;
        Self::collect(encodings)
    }

    /// One text, or a pair, encoded with the character offsets of each token, for answers
    /// that point back into the text (question answering, entities). No padding.
    pub fn encode_with_offsets(&self, text: &str, pair: Option<&str>) -> Result<Encoded> {
        let input: EncodeInput = match pair {
            Some(b) => (text, b).into(),
            None => text.into(),
        };
        let e = self.inner.encode_char_offsets(input, true).map_err(|e| tok_err("encode", e))?;
        Ok(Encoded::from_encoding(&e))
    }

    /// A question and a context cut into overlapping windows of at most `max_len` tokens, as
    /// transformers' question-answering pipeline cuts them: `[CLS] question [SEP] part of the
    /// context [SEP]`, only the context truncated, consecutive windows sharing `stride` context
    /// tokens (the `tokenizers` library's overflowing encodings). Character offsets, no padding.
    /// An error when the question leaves no room for the context.
    pub fn encode_windows(&self, question: &str, context: &str, max_len: usize, stride: usize) -> Result<Vec<Encoded>> {
        let mut t = self.inner.clone();
        t.with_padding(None);
        let direction = self.inner.get_truncation().map_or(TruncationDirection::Right, |t| t.direction);
        t.with_truncation(Some(TruncationParams {
            direction,
            max_length: max_len,
            strategy: TruncationStrategy::OnlySecond,
            stride,
        }))
        .map_err(|e| tok_err("truncation", e))?;
        let e = t.encode_char_offsets((question, context), true).map_err(|e| {
            tok_err(&format!("windows of {max_len} tokens with a stride of {stride} (is the question too long?)"), e)
        })?;
        let mut windows = vec![Encoded::from_encoding(&e)];
        windows.extend(e.get_overflowing().iter().map(Encoded::from_encoding));
        Ok(windows)
    }

    /// Tokens back to text with the decoder (`##` pieces joined, spaces before punctuation
    /// cleaned), as transformers' `convert_tokens_to_string`.
    pub fn decode_tokens(&self, tokens: &[String]) -> Result<String> {
        match self.inner.get_decoder() {
            Some(d) => {
                use tokenizers::Decoder;
                d.decode(tokens.to_vec()).map_err(|e| tok_err("decode", e))
            }
            None => Ok(tokens.join(" ")),
        }
    }

    /// Flatten padded encodings into a [`Batch`].
    fn collect(encodings: Vec<Encoding>) -> Result<Batch> {
        let seq_len = encodings.first().map_or(0, |e| e.len());
        let mut b = Batch {
            input_ids: Vec::with_capacity(encodings.len() * seq_len),
            attention_mask: Vec::with_capacity(encodings.len() * seq_len),
            token_type_ids: Vec::with_capacity(encodings.len() * seq_len),
            batch: encodings.len(),
            seq_len,
            tokens: Vec::with_capacity(encodings.len()),
        };
        for e in &encodings {
            if e.len() != seq_len {
                return Err(Error::Tokenizer(format!("padding failed: rows of {} and {seq_len} tokens", e.len())));
            }
            b.input_ids.extend_from_slice(e.get_ids());
            b.attention_mask.extend_from_slice(e.get_attention_mask());
            b.token_type_ids.extend_from_slice(e.get_type_ids());
            b.tokens.push(e.get_tokens().to_vec());
        }
        Ok(b)
    }

    /// How many tokens `text` yields after normalization, without `[CLS]`/`[SEP]` and before
    /// truncation. 0 is the one definition of an *empty* text (see `pipeline::check_texts`).
    pub fn count_tokens(&self, text: &str) -> Result<usize> {
        Ok(self.counter.encode(text, false).map_err(|e| tok_err("count_tokens", e))?.len())
    }

    /// How many tokens truncation to [`max_len`](Self::max_len) cuts from a text or a pair:
    /// its full length, special tokens included, minus the limit (0 when it fits).
    pub fn dropped_tokens(&self, text: &str, pair: Option<&str>) -> Result<usize> {
        let input: EncodeInput = match pair {
            Some(b) => (text, b).into(),
            None => text.into(),
        };
        let n = self.counter.encode(input, true).map_err(|e| tok_err("count_tokens", e))?.len();
        Ok(n.saturating_sub(self.max_len))
    }

    /// The longest sequence (in tokens, specials included) this tokenizer produces.
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// The token string of an id.
    pub fn id_to_token(&self, id: u32) -> Option<String> {
        self.inner.id_to_token(id)
    }

    /// The id of a token string.
    pub fn token_to_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    /// The id of `[MASK]`, for fill-mask.
    pub fn mask_token_id(&self) -> Option<u32> {
        self.token_to_id("[MASK]")
    }

    /// The id used for padding.
    pub fn pad_token_id(&self) -> u32 {
        self.inner.get_padding().map_or(0, |p| p.pad_id)
    }

    /// Vocabulary size, special tokens included (the number of rows the embedding needs).
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// Ids back to text, skipping special tokens and joining `##` pieces.
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        self.inner.decode(ids, true).map_err(|e| tok_err("decode", e))
    }
}

pub(super) fn check_max_len(max_len: usize) -> Result<()> {
    if max_len < 4 {
        return Err(Error::Input(format!(
            "tokenizer: max_len {max_len} is too small (need at least 4: [CLS], [SEP] and some text)"
        )));
    }
    Ok(())
}

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tokenizer(vocab {}, max_len {})", self.vocab_size(), self.max_len)
    }
}
