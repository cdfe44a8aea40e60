//! # BERT's WordPiece tokenizer, built from a vocabulary and its settings
//!
//! Most BERT checkpoints ship a vocabulary (`vocab.txt`, or the `model.vocab` of a
//! `tokenizer.json`) and, beside it, the handful of settings `transformers.BertTokenizer` is
//! constructed with: lowercase or not, strip accents or not, the special tokens, tokens added
//! with fixed ids. [`BertSettings`] holds those settings — strings and flags, no file format —
//! and [`Tokenizer::from_bert_config`] builds the four-step pipeline from them.
//!
//! Which settings a model directory asks for (`tokenizer_config.json`, with transformers'
//! legacy files and sentence-transformers' overrides) is read by `io/tokenizer_config.rs`, and
//! `pipeline/tokenizer_files.rs` turns it into [`BertSettings`]: this layer knows only text.

use std::collections::HashMap;
use std::path::Path;

use tokenizers::decoders::wordpiece::WordPiece as WordPieceDecoder;
use tokenizers::models::wordpiece::WordPiece;
use tokenizers::normalizers::bert::BertNormalizer;
use tokenizers::pre_tokenizers::bert::BertPreTokenizer;
use tokenizers::processors::bert::BertProcessing;
use tokenizers::{AddedToken, TruncationDirection};

use super::tokenizer::{Tokenizer, check_max_len};
use crate::{Error, Result};

/// A token with a fixed id, kept whole (never split into pieces).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddedTokenSpec {
    /// The id the token must get (the vocabulary's ids continue without gaps).
    pub id: u32,
    /// Its text, e.g. `<ent>`.
    pub content: String,
    /// Special tokens are skipped when decoding.
    pub special: bool,
    /// Matched on normalized (e.g. lowercased) text rather than raw text.
    pub normalized: bool,
    /// Only matches a whole word.
    pub single_word: bool,
    /// Swallows whitespace on its left.
    pub lstrip: bool,
    /// Swallows whitespace on its right.
    pub rstrip: bool,
}

/// What BERT's WordPiece pipeline is built from besides its vocabulary; the defaults are
/// `BertTokenizer`'s (uncased, `[CLS]`, `[SEP]`, ...).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BertSettings {
    /// Lowercase the text before WordPiece.
    pub lowercase: bool,
    /// Remove combining marks after NFD (`Café` -> `Cafe`).
    pub strip_accents: bool,
    /// Put spaces around CJK characters, so each is a word.
    pub split_chinese: bool,
    /// The unknown-word token.
    pub unk_token: String,
    /// The separator.
    pub sep_token: String,
    /// The padding token.
    pub pad_token: String,
    /// The classification token put first.
    pub cls_token: String,
    /// The mask token of fill-mask.
    pub mask_token: String,
    /// Tokens with fixed ids, sorted by id.
    pub added_tokens: Vec<AddedTokenSpec>,
    /// More special tokens kept whole (appended to the vocabulary when missing).
    pub extra_special_tokens: Vec<String>,
    /// Truncation cuts the beginning of long texts (keeps the end) instead of their end.
    pub truncate_left: bool,
}

impl Default for BertSettings {
    fn default() -> Self {
        BertSettings {
            lowercase: true,
            strip_accents: true,
            split_chinese: true,
            unk_token: "[UNK]".into(),
            sep_token: "[SEP]".into(),
            pad_token: "[PAD]".into(),
            cls_token: "[CLS]".into(),
            mask_token: "[MASK]".into(),
            added_tokens: Vec::new(),
            extra_special_tokens: Vec::new(),
            truncate_left: false,
        }
    }
}

impl Tokenizer {
    /// Build BERT's WordPiece tokenizer from a `vocab.txt` (one token per line, id = line
    /// number), as `BertTokenizer` does for checkpoints without `tokenizer.json`, with
    /// BertTokenizer's default settings except `lowercase` (which also decides accent stripping).
    pub fn from_vocab_txt(vocab: &Path, lowercase: bool, max_len: usize) -> Result<Tokenizer> {
        let settings = BertSettings { lowercase, strip_accents: lowercase, ..BertSettings::default() };
        Self::from_bert_config(read_vocab_txt(vocab)?, &settings, vocab, max_len)
    }

    /// BERT's tokenizer as transformers' `BertTokenizer` builds it: WordPiece over `vocab`
    /// (token -> id), `BertNormalizer` from `cfg` (lowercase, strip accents, CJK splitting),
    /// `BertPreTokenizer`, `cls_token A sep_token [B sep_token]`, the special tokens and the
    /// added tokens kept whole. `source` names the vocabulary file in errors. The caller folds
    /// any length limit of its own into `max_len`.
    pub fn from_bert_config(
        vocab: HashMap<String, u32>,
        cfg: &BertSettings,
        source: &Path,
        max_len: usize,
    ) -> Result<Tokenizer> {
        check_max_len(max_len)?;
        let id = |t: &str| {
            vocab.get(t).copied().ok_or_else(|| {
                Error::file(
                    source,
                    format!("vocabulary has no `{t}` token (named in tokenizer_config.json or BERT's default)"),
                )
            })
        };
        let (cls, sep) = (id(&cfg.cls_token)?, id(&cfg.sep_token)?);
        id(&cfg.unk_token)?;
        let mut specials: Vec<&str> = [&cfg.pad_token, &cfg.unk_token, &cfg.cls_token, &cfg.sep_token, &cfg.mask_token]
            .map(String::as_str)
            .to_vec();
        specials.retain(|t| vocab.contains_key(*t));
        let specials: Vec<AddedToken> = specials.into_iter().map(|t| AddedToken::from(t, true)).collect();
        // Through serde: the builder wants the `ahash` map type of the tokenizers crate.
        let spec = serde_json::json!({
            "type": "WordPiece",
            "unk_token": cfg.unk_token,
            "continuing_subword_prefix": "##",
            "max_input_chars_per_word": 100,
            "vocab": vocab,
        });
        let model: WordPiece = serde_json::from_str(&spec.to_string())
            .map_err(|e| Error::file(source, format!("cannot build WordPiece: {e}")))?;
        let mut inner = tokenizers::Tokenizer::new(model);
        inner
            .with_normalizer(Some(BertNormalizer::new(true, cfg.split_chinese, Some(cfg.strip_accents), cfg.lowercase)))
            .with_pre_tokenizer(Some(BertPreTokenizer))
            .with_post_processor(Some(BertProcessing::new((cfg.sep_token.clone(), sep), (cfg.cls_token.clone(), cls))))
            .with_decoder(Some(WordPieceDecoder::default()));
        inner.add_special_tokens(&specials);
        for t in &cfg.added_tokens {
            let tok = AddedToken::from(t.content.clone(), t.special)
                .normalized(t.normalized)
                .single_word(t.single_word)
                .lstrip(t.lstrip)
                .rstrip(t.rstrip);
            if t.special {
                inner.add_special_tokens(&[tok]);
            } else {
                inner.add_tokens(&[tok]);
            }
            let got = inner.token_to_id(&t.content);
            if got != Some(t.id) {
                return Err(Error::file(
                    source,
                    format!(
                        "added token `{}` should have id {} (tokenizer_config.json added_tokens_decoder) but gets {:?}: \
                         ids must follow the vocabulary without gaps",
                        t.content, t.id, got
                    ),
                ));
            }
        }
        // Extra special tokens: their vocabulary id, or appended after it (as transformers does).
        let extra: Vec<AddedToken> =
            cfg.extra_special_tokens.iter().map(|t| AddedToken::from(t.clone(), true).normalized(false)).collect();
        inner.add_special_tokens(&extra);
        let mut tok = Self::configure(inner, max_len)?;
        if cfg.truncate_left {
            tok.set_truncation_direction(TruncationDirection::Left)?;
        }
        Ok(tok)
    }
}

/// `vocab.txt`: one token per line, id = line number; a later duplicate wins (as in
/// transformers' `load_vocab`).
pub fn read_vocab_txt(vocab: &Path) -> Result<HashMap<String, u32>> {
    let text =
        std::fs::read_to_string(vocab).map_err(|e| Error::file(vocab, format!("cannot read vocabulary: {e}")))?;
    let mut ids: HashMap<String, u32> = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        ids.insert(line.trim_end_matches('\r').to_string(), i as u32);
    }
    if ids.is_empty() {
        return Err(Error::file(vocab, "the vocabulary is empty"));
    }
    Ok(ids)
}

/// The `model.vocab` map of a WordPiece `tokenizer.json` (what transformers 5 keeps of it for
/// `BertTokenizer`).
pub fn read_json_vocab(path: &Path) -> Result<HashMap<String, u32>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::file(path, format!("cannot read: {e}")))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| Error::file(path, format!("invalid JSON: {e}")))?;
    let model = v.get("model").ok_or_else(|| {
        let found = match v.as_object() {
            Some(o) => format!("keys {:?}", o.keys().collect::<Vec<_>>()),
            None => "not a JSON object".into(),
        };
        Error::file(
            path,
            format!(
                "valid JSON but not a tokenizer: a Hugging Face tokenizer.json has a \"model\" section (found {found})"
            ),
        )
    })?;
    if let Some(kind) = model.get("type").and_then(|t| t.as_str())
        && kind != "WordPiece"
    {
        return Err(Error::file(path, format!("model type `{kind}` is not WordPiece: not a BERT tokenizer")));
    }
    let vocab = model
        .get("vocab")
        .and_then(|v| v.as_object())
        .ok_or_else(|| Error::file(path, "model.vocab is not a {token: id} object"))?;
    vocab
        .iter()
        .map(|(t, id)| {
            let id = id.as_u64().ok_or_else(|| Error::file(path, format!("vocab id of `{t}` is not an integer")))?;
            Ok((t.clone(), id as u32))
        })
        .collect()
}
