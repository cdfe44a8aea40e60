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
//! what this course is about) but build the WordPiece pipeline ourselves from `vocab.txt`
//! when a checkpoint has no `tokenizer.json`, and we always impose our own padding and
//! truncation: files in the wild often carry settings such as "pad everything to 128" that
//! would waste compute.

use std::collections::HashMap;
use std::path::Path;

use tokenizers::decoders::wordpiece::WordPiece as WordPieceDecoder;
use tokenizers::models::wordpiece::WordPiece;
use tokenizers::normalizers::bert::BertNormalizer;
use tokenizers::pre_tokenizers::bert::BertPreTokenizer;
use tokenizers::processors::bert::BertProcessing;
use tokenizers::{
    AddedToken, EncodeInput, Encoding, PaddingDirection, PaddingParams, PaddingStrategy, TruncationDirection,
    TruncationParams, TruncationStrategy,
};

use crate::io::Checkpoint;
use crate::{Error, Result};

/// BERT's special tokens, registered so that e.g. `[MASK]` typed in a sentence stays whole.
const SPECIAL_TOKENS: [&str; 5] = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];

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

fn tok_err(context: &str, e: impl std::fmt::Display) -> Error {
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

    /// Build BERT's WordPiece tokenizer from a `vocab.txt` (one token per line, id = line
    /// number), as `BertTokenizer` does for checkpoints without `tokenizer.json`.
    pub fn from_vocab_txt(vocab: &Path, lowercase: bool, max_len: usize) -> Result<Tokenizer> {
        check_max_len(max_len)?;
        let text =
            std::fs::read_to_string(vocab).map_err(|e| Error::file(vocab, format!("cannot read vocabulary: {e}")))?;
        let mut ids: HashMap<String, u32> = HashMap::new();
        for (i, line) in text.lines().enumerate() {
            // The same rule as the `tokenizers` crate's reader below (later duplicates win).
            ids.insert(line.trim_end().to_string(), i as u32);
        }
        let id = |t: &str| {
            ids.get(t)
                .copied()
                .ok_or_else(|| Error::file(vocab, format!("vocabulary has no `{t}` token (not a BERT vocab.txt?)")))
        };
        let (cls, sep) = (id("[CLS]")?, id("[SEP]")?);
        id("[UNK]")?;
        let specials: Vec<AddedToken> =
            SPECIAL_TOKENS.iter().filter(|t| ids.contains_key(**t)).map(|t| AddedToken::from(*t, true)).collect();

        let vocab_str = vocab.to_str().ok_or_else(|| Error::file(vocab, "path is not valid UTF-8"))?;
        let model = WordPiece::from_file(vocab_str)
            .unk_token("[UNK]".into())
            .continuing_subword_prefix("##".into())
            .max_input_chars_per_word(100)
            .build()
            .map_err(|e| Error::file(vocab, format!("cannot build WordPiece: {e}")))?;
        let mut inner = tokenizers::Tokenizer::new(model);
        inner
            .with_normalizer(Some(BertNormalizer::new(true, true, None, lowercase)))
            .with_pre_tokenizer(Some(BertPreTokenizer))
            .with_post_processor(Some(BertProcessing::new(("[SEP]".into(), sep), ("[CLS]".into(), cls))))
            .with_decoder(Some(WordPieceDecoder::default()));
        inner.add_special_tokens(&specials);
        Self::configure(inner, max_len)
    }

    /// The checkpoint's `tokenizer.json`, else its `vocab.txt` (lowercasing as its
    /// `tokenizer_config.json` says, by default yes).
    pub fn from_checkpoint(ckpt: &Checkpoint, max_len: usize) -> Result<Tokenizer> {
        if let Some(path) = &ckpt.tokenizer_json {
            return Self::from_file(path, max_len);
        }
        if let Some(path) = &ckpt.vocab_txt {
            return Self::from_vocab_txt(path, ckpt.tokenizer_lowercase().unwrap_or(true), max_len);
        }
        Err(Error::file(&ckpt.dir, "no tokenizer.json or vocab.txt in this model directory"))
    }

    /// Impose batch-longest padding with the file's `[PAD]` and longest-first truncation.
    fn configure(mut inner: tokenizers::Tokenizer, max_len: usize) -> Result<Tokenizer> {
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

fn check_max_len(max_len: usize) -> Result<()> {
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
