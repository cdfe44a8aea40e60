//! # A checkpoint's tokenizer: which files, which settings
//!
//! `text` builds tokenizers from strings and vocabularies; `io` reads what a model directory
//! says about its tokenizer (`tokenizer_config.json`, with transformers' legacy files and
//! sentence-transformers' `tokenizer_args`). Here the two meet: the constructors of
//! [`Tokenizer`] that take a directory or a [`Checkpoint`], deciding as transformers'
//! `AutoTokenizer` does which file to build from (see `io/tokenizer_config.rs`).

use std::path::Path;

use crate::io::Checkpoint;
use crate::io::tokenizer_config::{TokenizerConfig, TokenizerKind, TruncationSide};
use crate::text::wordpiece::{read_json_vocab, read_vocab_txt};
use crate::text::{AddedTokenSpec, BertSettings, Tokenizer};
use crate::{Error, Result};

/// The settings of BERT's WordPiece pipeline a `tokenizer_config.json` asks for
/// (`model_max_length` is not among them: callers fold it into their `max_len`).
pub fn bert_settings(cfg: &TokenizerConfig) -> BertSettings {
    BertSettings {
        lowercase: cfg.do_lower_case,
        strip_accents: cfg.strips_accents(),
        split_chinese: cfg.tokenize_chinese_chars,
        unk_token: cfg.unk_token.clone(),
        sep_token: cfg.sep_token.clone(),
        pad_token: cfg.pad_token.clone(),
        cls_token: cfg.cls_token.clone(),
        mask_token: cfg.mask_token.clone(),
        added_tokens: cfg
            .added_tokens
            .iter()
            .map(|t| AddedTokenSpec {
                id: t.id,
                content: t.content.clone(),
                special: t.special,
                normalized: t.normalized,
                single_word: t.single_word,
                lstrip: t.lstrip,
                rstrip: t.rstrip,
            })
            .collect(),
        extra_special_tokens: cfg.extra_special_tokens.clone(),
        truncate_left: cfg.truncation_side == TruncationSide::Left,
    }
}

impl Tokenizer {
    /// The tokenizer of a model directory, decided as transformers' `AutoTokenizer` does (see
    /// `io/tokenizer_config.rs`): for `BertTokenizer` (the default class) the vocabulary comes
    /// from `tokenizer.json` when present, else `vocab.txt`, and everything else from
    /// `tokenizer_config.json`; for `PreTrainedTokenizerFast` `tokenizer.json` is used as is.
    pub fn from_files(
        dir: &Path,
        tokenizer_json: Option<&Path>,
        vocab_txt: Option<&Path>,
        cfg: &TokenizerConfig,
        max_len: usize,
    ) -> Result<Tokenizer> {
        let kind = cfg.kind().map_err(|e| Error::file(dir.join("tokenizer_config.json"), e))?;
        match (kind, tokenizer_json, vocab_txt) {
            (TokenizerKind::TokenizerJson, Some(path), _) => Self::from_file(path, max_len),
            (TokenizerKind::TokenizerJson, None, _) => Err(Error::file(
                dir,
                format!("tokenizer_class {:?} needs a tokenizer.json", cfg.tokenizer_class.as_deref().unwrap_or("")),
            )),
            (TokenizerKind::Bert, Some(path), _) => {
                Self::from_bert_config(read_json_vocab(path)?, &bert_settings(cfg), path, max_len)
            }
            (TokenizerKind::Bert, None, Some(path)) => {
                Self::from_bert_config(read_vocab_txt(path)?, &bert_settings(cfg), path, max_len)
            }
            (TokenizerKind::Bert, None, None) => {
                Err(Error::file(dir, "no tokenizer.json or vocab.txt in this model directory"))
            }
        }
    }

    /// The tokenizer of a directory holding only tokenizer files (`tokenizer.json` and/or
    /// `vocab.txt`, `tokenizer_config.json`); truncation at `model_max_length` when the config
    /// gives one (and it is below `max_len`).
    pub fn from_dir(dir: &Path, max_len: usize) -> Result<Tokenizer> {
        let cfg = TokenizerConfig::read(dir)?;
        let file = |name: &str| Some(dir.join(name)).filter(|p| p.is_file());
        let max_len = cfg.model_max_length.map_or(max_len, |m| m.min(max_len));
        Self::from_files(dir, file("tokenizer.json").as_deref(), file("vocab.txt").as_deref(), &cfg, max_len)
    }

    /// The checkpoint's tokenizer (see [`Tokenizer::from_files`]), truncating at `max_len`.
    pub fn from_checkpoint(ckpt: &Checkpoint, max_len: usize) -> Result<Tokenizer> {
        Self::from_files(
            &ckpt.dir,
            ckpt.tokenizer_json.as_deref(),
            ckpt.vocab_txt.as_deref(),
            &ckpt.tokenizer_config,
            max_len,
        )
    }
}
