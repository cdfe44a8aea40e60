//! # `tokenizer_config.json`: the settings a BERT tokenizer is built from
//!
//! A checkpoint carries its vocabulary (`vocab.txt`, or the `model.vocab` of `tokenizer.json`)
//! and, beside it, `tokenizer_config.json` with the settings `transformers.BertTokenizer`
//! is constructed with. This module reads that file and nothing else; `pipeline/tokenizer_files.rs`
//! turns it into the settings `text/wordpiece.rs` builds the tokenizer from.
//!
//! What transformers 5 (`AutoTokenizer`, the version pinned in scripts/requirements.txt)
//! does with a BERT directory, checked by `tests/checkpoints.rs` against its output:
//!
//! | setting | default | effect |
//! |---|---|---|
//! | `tokenizer_class` | `BertTokenizer` | `BertTokenizer`/`BertTokenizerFast`/`DistilBertTokenizer(Fast)`: the pipeline below; `PreTrainedTokenizerFast`/`TokenizersBackend`: `tokenizer.json` as it is; anything else is refused |
//! | `do_lower_case` | `true` | lowercase before WordPiece |
//! | `strip_accents` | `null` = follow `do_lower_case` | remove combining marks after NFD (`Café` -> `Cafe`) |
//! | `tokenize_chinese_chars` | `true` | put spaces around CJK characters, so each is a word |
//! | `never_split` | none | **ignored by transformers 5** (only the legacy Python tokenizer used it), so ignored here too |
//! | `model_max_length` | unbounded | truncation length (capped by the model's `max_position_embeddings`) |
//! | `truncation_side` | `right` | `left` keeps the end of long texts |
//! | `padding_side` | `right` | `left` is refused (positions would shift) |
//! | `unk_token`, `cls_token`, `sep_token`, `pad_token`, `mask_token` | `[UNK]` ... | the special tokens, each kept whole when typed in text |
//! | `added_tokens_decoder` | none | extra tokens with fixed ids (kept whole, never split) |
//! | `additional_special_tokens` / `extra_special_tokens` | none | more special tokens, kept whole (appended to the vocabulary when missing) |
//!
//! Legacy files, read only when `tokenizer_config.json` has no `added_tokens_decoder` (or does
//! not exist), as transformers 5 does: `special_tokens_map.json` overrides the special tokens
//! above; `added_tokens.json` (`{"<ent>": 30522}`) and the `added_tokens` of `tokenizer.json`
//! become added tokens (special when they are one of the special tokens).
//!
//! The trap: when a directory has **both** `tokenizer.json` and `tokenizer_config.json` (and the
//! class is `BertTokenizer`), transformers 5 takes only the *vocabulary* from `tokenizer.json`
//! and rebuilds the normalizer, pre-tokenizer, WordPiece model and `[CLS]`/`[SEP]` template from
//! `tokenizer_config.json`. A `tokenizer.json` that lowercases next to a config saying
//! `"do_lower_case": false` therefore gives a *cased* tokenizer — and a directory with a
//! `tokenizer.json` but no `tokenizer_config.json` gets BertTokenizer's default, lowercasing.
//! (transformers 4 did the opposite: `tokenizer.json` won.)

use std::path::Path;

use serde_json::Value;

use crate::{Error, Result};

/// One entry of `added_tokens_decoder`: a token with a fixed id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddedTokenSpec {
    /// The id the token must get.
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

/// Which end of a too-long text truncation removes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TruncationSide {
    /// Keep the beginning (the default).
    Right,
    /// Keep the end.
    Left,
}

/// How to build the tokenizer, decided from `tokenizer_class`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenizerKind {
    /// `BertTokenizer` (and its aliases): vocabulary + the settings of this file.
    Bert,
    /// `PreTrainedTokenizerFast` / `TokenizersBackend`: `tokenizer.json` used as it is.
    TokenizerJson,
}

/// `tokenizer_config.json`, with transformers' defaults for what it does not say.
#[derive(Clone, Debug, PartialEq)]
pub struct TokenizerConfig {
    /// `tokenizer_class`, if given.
    pub tokenizer_class: Option<String>,
    /// Lowercase the text (default true).
    pub do_lower_case: bool,
    /// Strip accents; `None` means "as `do_lower_case`".
    pub strip_accents: Option<bool>,
    /// Split CJK characters into single-character words (default true).
    pub tokenize_chinese_chars: bool,
    /// Words the legacy tokenizer kept whole; recorded but, as in transformers 5, not used.
    pub never_split: Vec<String>,
    /// Truncation length in tokens, special tokens included; `None` when unbounded.
    pub model_max_length: Option<usize>,
    /// Which end truncation cuts.
    pub truncation_side: TruncationSide,
    /// The unknown-word token (default `[UNK]`).
    pub unk_token: String,
    /// The separator (default `[SEP]`).
    pub sep_token: String,
    /// The padding token (default `[PAD]`).
    pub pad_token: String,
    /// The classification token put first (default `[CLS]`).
    pub cls_token: String,
    /// The mask token of fill-mask (default `[MASK]`).
    pub mask_token: String,
    /// `added_tokens_decoder`, sorted by id.
    pub added_tokens: Vec<AddedTokenSpec>,
    /// `additional_special_tokens` / `extra_special_tokens`: more tokens kept whole.
    pub extra_special_tokens: Vec<String>,
}

impl Default for TokenizerConfig {
    fn default() -> Self {
        TokenizerConfig {
            tokenizer_class: None,
            do_lower_case: true,
            strip_accents: None,
            tokenize_chinese_chars: true,
            never_split: Vec::new(),
            model_max_length: None,
            truncation_side: TruncationSide::Right,
            unk_token: "[UNK]".into(),
            sep_token: "[SEP]".into(),
            pad_token: "[PAD]".into(),
            cls_token: "[CLS]".into(),
            mask_token: "[MASK]".into(),
            added_tokens: Vec::new(),
            extra_special_tokens: Vec::new(),
        }
    }
}

/// transformers writes `model_max_length` = 1e30 ("VERY_LARGE_INTEGER") for "no limit".
const UNBOUNDED: f64 = 1e12;

impl TokenizerConfig {
    /// Reads `dir/tokenizer_config.json`; the defaults when the file does not exist.
    pub fn read(dir: &Path) -> Result<TokenizerConfig> {
        Self::read_with(dir, &serde_json::Map::new())
    }

    /// Reads `dir/tokenizer_config.json` with `overrides` replacing its keys, as keyword
    /// arguments of `AutoTokenizer.from_pretrained(dir, **overrides)` do (sentence-transformers
    /// passes `tokenizer_args` this way). Errors name the file, or `tokenizer_args` when an
    /// override is at fault.
    pub fn read_with(dir: &Path, overrides: &serde_json::Map<String, Value>) -> Result<TokenizerConfig> {
        let path = dir.join("tokenizer_config.json");
        let mut value =
            if path.is_file() { super::checkpoint::read_json(&path)? } else { Value::Object(Default::default()) };
        match value.as_object_mut() {
            Some(obj) => {
                if !obj.contains_key("added_tokens_decoder") {
                    merge_legacy_files(dir, obj)?;
                }
                obj.extend(overrides.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
            None => return Err(Error::file(&path, "expected a JSON object")),
        }
        Self::from_json(&value).map_err(|e| match e {
            Error::Input(msg) if overrides.is_empty() => Error::file(&path, msg),
            Error::Input(msg) => Error::file(
                &path,
                format!("{msg} (with sentence_bert_config.json tokenizer_args {})", Value::Object(overrides.clone())),
            ),
            other => other,
        })
    }

    /// Interprets the JSON of a `tokenizer_config.json`. Errors (as [`Error::Input`]) name the
    /// setting that is malformed or that would change tokenization in a way not supported.
    pub fn from_json(value: &Value) -> Result<TokenizerConfig> {
        let obj = value.as_object().ok_or_else(|| Error::Input("expected a JSON object".into()))?;
        let mut c = TokenizerConfig::default();
        let bad = |key: &str, what: &str| Error::Input(format!("`{key}` must be {what}, got {}", obj[key]));
        let get_bool = |key: &str, default: bool| -> Result<bool> {
            match obj.get(key) {
                None | Some(Value::Null) => Ok(default),
                Some(Value::Bool(b)) => Ok(*b),
                Some(_) => Err(bad(key, "true or false")),
            }
        };
        c.do_lower_case = get_bool("do_lower_case", true)?;
        c.tokenize_chinese_chars = get_bool("tokenize_chinese_chars", true)?;
        c.strip_accents = match obj.get("strip_accents") {
            None | Some(Value::Null) => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => return Err(bad("strip_accents", "true, false or null")),
        };
        c.tokenizer_class = match obj.get("tokenizer_class") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err(bad("tokenizer_class", "a string")),
        };
        c.never_split = match obj.get("never_split") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => a
                .iter()
                .map(|v| v.as_str().map(String::from).ok_or_else(|| bad("never_split", "a list of strings")))
                .collect::<Result<_>>()?,
            Some(_) => return Err(bad("never_split", "a list of strings")),
        };
        c.model_max_length = match obj.get("model_max_length") {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => match n.as_f64() {
                Some(x) if x >= UNBOUNDED => None,
                Some(x) if x >= 1.0 && x.fract() == 0.0 => Some(x as usize),
                _ => return Err(bad("model_max_length", "a positive integer")),
            },
            Some(_) => return Err(bad("model_max_length", "a positive integer")),
        };
        for (key, slot) in [
            ("unk_token", &mut c.unk_token),
            ("sep_token", &mut c.sep_token),
            ("pad_token", &mut c.pad_token),
            ("cls_token", &mut c.cls_token),
            ("mask_token", &mut c.mask_token),
        ] {
            match obj.get(key) {
                None | Some(Value::Null) => {}
                Some(v) => *slot = token_content(v).ok_or_else(|| bad(key, "a string or {\"content\": ...}"))?,
            }
        }
        match obj.get("truncation_side").and_then(Value::as_str) {
            None | Some("right") => {}
            Some("left") => c.truncation_side = TruncationSide::Left,
            Some(other) => return Err(Error::Input(format!("`truncation_side` \"{other}\" is not right or left"))),
        }
        match obj.get("padding_side").and_then(Value::as_str) {
            None | Some("right") => {}
            Some(other) => {
                return Err(Error::Input(format!(
                    "`padding_side` \"{other}\" is not supported: nanobert pads on the right (BERT's absolute \
                     positions make left padding change the outputs)"
                )));
            }
        }
        if get_bool("split_special_tokens", false)? {
            return Err(Error::Input(
                "`split_special_tokens: true` is not supported (special tokens typed in text are kept whole)".into(),
            ));
        }
        if let Some(v) = obj.get("added_tokens_decoder").filter(|v| !v.is_null()) {
            let map = v.as_object().ok_or_else(|| bad("added_tokens_decoder", "an object {id: token}"))?;
            for (id, tok) in map {
                let id: u32 = id.parse().map_err(|_| bad("added_tokens_decoder", "keyed by integer ids"))?;
                let content = token_content(tok).ok_or_else(|| bad("added_tokens_decoder", "tokens with a content"))?;
                let flag = |k: &str, d: bool| tok.get(k).and_then(Value::as_bool).unwrap_or(d);
                let special = flag("special", false);
                c.added_tokens.push(AddedTokenSpec {
                    id,
                    content,
                    special,
                    normalized: flag("normalized", !special),
                    single_word: flag("single_word", false),
                    lstrip: flag("lstrip", false),
                    rstrip: flag("rstrip", false),
                });
            }
            c.added_tokens.sort_by_key(|t| t.id);
        }
        for key in ["additional_special_tokens", "extra_special_tokens"] {
            let list: Vec<&Value> = match obj.get(key) {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(a)) => a.iter().collect(),
                // transformers 5's model-specific form: {"name": token}.
                Some(Value::Object(m)) => m.values().collect(),
                Some(_) => return Err(bad(key, "a list of tokens")),
            };
            for t in list {
                let t = token_content(t).ok_or_else(|| bad(key, "a list of tokens"))?;
                if !c.extra_special_tokens.contains(&t) {
                    c.extra_special_tokens.push(t);
                }
            }
        }
        Ok(c)
    }

    /// Which construction `tokenizer_class` asks for; an error names a class that is not a
    /// BERT WordPiece tokenizer.
    pub fn kind(&self) -> Result<TokenizerKind> {
        match self.tokenizer_class.as_deref() {
            None | Some("BertTokenizer" | "BertTokenizerFast" | "DistilBertTokenizer" | "DistilBertTokenizerFast") => {
                Ok(TokenizerKind::Bert)
            }
            Some("PreTrainedTokenizerFast" | "TokenizersBackend") => Ok(TokenizerKind::TokenizerJson),
            Some(other) => Err(Error::Input(format!(
                "tokenizer_class `{other}` is not supported (BertTokenizer, BertTokenizerFast, DistilBertTokenizer, \
                 PreTrainedTokenizerFast)"
            ))),
        }
    }

    /// Whether accents are stripped: `strip_accents`, or else `do_lower_case` (as BERT did).
    pub fn strips_accents(&self) -> bool {
        self.strip_accents.unwrap_or(self.do_lower_case)
    }
}

/// transformers 5's legacy path, for a `tokenizer_config.json` without `added_tokens_decoder`:
/// `special_tokens_map.json` overrides the special tokens of `obj`; `added_tokens.json` and the
/// `added_tokens` of `tokenizer.json` become its `added_tokens_decoder`.
fn merge_legacy_files(dir: &Path, obj: &mut serde_json::Map<String, Value>) -> Result<()> {
    let map_path = dir.join("special_tokens_map.json");
    if map_path.is_file() {
        let map = super::checkpoint::read_json(&map_path)?;
        let map = map.as_object().ok_or_else(|| Error::file(&map_path, "expected a JSON object"))?;
        for (k, v) in map {
            obj.insert(k.clone(), v.clone());
        }
    }
    // Which strings are special: the named special tokens and the extra ones.
    let mut special: Vec<String> = ["unk_token", "sep_token", "pad_token", "cls_token", "mask_token"]
        .iter()
        .map(|k| obj.get(*k).and_then(token_content).unwrap_or_else(|| default_special(k)))
        .collect();
    for key in ["additional_special_tokens", "extra_special_tokens"] {
        if let Some(Value::Array(a)) = obj.get(key) {
            special.extend(a.iter().filter_map(token_content));
        }
    }
    let mut decoder = serde_json::Map::new();
    let added_path = dir.join("added_tokens.json");
    if added_path.is_file() {
        let added = super::checkpoint::read_json(&added_path)?;
        let added = added.as_object().ok_or_else(|| Error::file(&added_path, "expected {token: id}"))?;
        for (token, id) in added {
            let id =
                id.as_u64().ok_or_else(|| Error::file(&added_path, format!("id of `{token}` is not an integer")))?;
            let is_special = special.contains(token);
            decoder.insert(
                id.to_string(),
                serde_json::json!({"content": token, "special": is_special, "normalized": !is_special,
                                   "lstrip": false, "rstrip": false, "single_word": false}),
            );
        }
    }
    let json_path = dir.join("tokenizer.json");
    if json_path.is_file() {
        let json = super::checkpoint::read_json(&json_path)?;
        for t in json.get("added_tokens").and_then(Value::as_array).into_iter().flatten() {
            if let Some(id) = t.get("id").and_then(Value::as_u64) {
                decoder.insert(id.to_string(), t.clone());
            }
        }
    }
    if !decoder.is_empty() {
        obj.insert("added_tokens_decoder".into(), Value::Object(decoder));
    }
    Ok(())
}

/// BertTokenizer's default for a special token key (`cls_token` -> `[CLS]`).
fn default_special(key: &str) -> String {
    let d = TokenizerConfig::default();
    match key {
        "unk_token" => d.unk_token,
        "sep_token" => d.sep_token,
        "pad_token" => d.pad_token,
        "cls_token" => d.cls_token,
        _ => d.mask_token,
    }
}

/// A special token written as `"[CLS]"` or as `{"content": "[CLS]", ...}` (older files).
fn token_content(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o.get("content").and_then(Value::as_str).map(String::from),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_refusals() {
        let c = TokenizerConfig::from_json(&serde_json::json!({})).unwrap();
        assert_eq!(c, TokenizerConfig::default());
        assert!(c.strips_accents());
        let c = TokenizerConfig::from_json(&serde_json::json!({"do_lower_case": true, "strip_accents": false,
            "model_max_length": 1e30, "cls_token": {"content": "<s>"}}))
        .unwrap();
        assert!(!c.strips_accents());
        assert_eq!(c.model_max_length, None);
        assert_eq!(c.cls_token, "<s>");
        let e = TokenizerConfig::from_json(&serde_json::json!({"padding_side": "left"})).unwrap_err();
        assert!(e.to_string().contains("padding_side"), "{e}");
        let e = TokenizerConfig::from_json(&serde_json::json!({"do_lower_case": "yes"})).unwrap_err();
        assert!(e.to_string().contains("do_lower_case"), "{e}");
        let c = TokenizerConfig::from_json(&serde_json::json!({"tokenizer_class": "RobertaTokenizer"})).unwrap();
        assert!(c.kind().unwrap_err().to_string().contains("RobertaTokenizer"));
    }
}
